"""Eager execution: a primitive applied to concrete arrays runs as a one-equation program,
compiled once per (primitive, params, input types, device) and cached."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from functorch_lite.core import dtypes
from functorch_lite.core.config import config
from functorch_lite.core.avals import ShapedArray, TypedScalar, get_aval
from functorch_lite.core.ir import Eqn, Program, Var
from xla_bridge import runtime
from xla_bridge.array import Array, from_numpy
from xla_bridge.compile import Executable, check_nans, compile_program

_cache: dict[tuple, Executable] = {}
_scalar_buffers: dict[tuple, Array] = {}


def _single_eqn_program(primitive, in_avals: Sequence[ShapedArray], params: dict) -> Program:
    invars = [Var(a) for a in in_avals]
    out_avals = primitive.abstract_eval(*in_avals, **params)
    outvars = [Var(a) for a in out_avals]
    return Program([], invars, [Eqn(primitive, invars, outvars, params)], outvars)


def _to_array(x: Any, device) -> Array:
    t = type(x)
    if t is Array:
        return x
    if t in (bool, int, float, complex):
        # The value is the key, except where equal values differ (0.0 and -0.0, complex
        # parts) or a value differs from itself (NaN): there repr is. The cache is emptied
        # when the x64 flag, which picks the dtype, changes.
        key = (t, x, device) if t is int or t is bool or (t is float and x == x != 0) \
            else (t, repr(x), device)
        a = _scalar_buffers.get(key)
        if a is None:
            aval = get_aval(x)
            _check_scalar_range(x, aval)
            a = from_numpy(np.asarray(x, aval.dtype), device, weak_type=True)
            if len(_scalar_buffers) > 4096:
                _scalar_buffers.clear()
            _scalar_buffers[key] = a
        return a
    if type(x) is TypedScalar:
        key = (x.aval, x.value.tobytes(), device)
        a = _scalar_buffers.get(key)
        if a is None:
            a = from_numpy(x.value, device, weak_type=x.aval.weak_type)
            if len(_scalar_buffers) > 4096:
                _scalar_buffers.clear()
            _scalar_buffers[key] = a
        return a
    if isinstance(x, (np.ndarray, np.generic)):
        return from_numpy(x, device)
    if isinstance(x, Array):
        return x
    from functorch_lite.core.trace import Tracer, escaped_tracer_error
    if isinstance(x, Tracer):  # a tracer whose transformation has ended
        raise escaped_tracer_error(x)
    raise TypeError(f"expected an array, got {type(x).__name__}: {x!r}")


def scalar_buffer(x, device):
    """The device buffer of a Python scalar (jit's cached-call path passes scalars
    through this)."""
    return _to_array(x, device)._buf


config.on_change("enable_x64", lambda _: _scalar_buffers.clear())


def _check_scalar_range(x, aval):
    if type(x) is int and dtypes.is_int(aval.dtype):
        info = dtypes.iinfo(aval.dtype)
        if not info.min <= x <= info.max:
            raise OverflowError(f"Python int {x} is too large to convert to {aval.dtype}")


def _device_of(args: Sequence[Any]):
    for x in args:
        if type(x) is Array:
            return x.device
    return runtime.default_device()





def apply_primitive(primitive, args: Sequence[Any], params: dict) -> list:
    device = _device_of(args)
    arrays = [_to_array(x, device) for x in args]
    avals = tuple(a.aval for a in arrays)
    try:
        key = (primitive, avals, tuple(params.items()), device)
        hash(key)
    except TypeError:
        key = None
    exe = _cache.get(key) if key is not None else None
    if exe is None:
        program = _single_eqn_program(primitive, avals, params)
        exe = compile_program(program, device, name=params.get("name") or primitive.name,
                              donated=params.get("donated") or ())
        if key is not None:
            _cache[key] = exe
    bufs = [a.buffer if a.device == device else _move(a, device) for a in arrays]
    outs = exe.wrap(exe.execute(bufs))
    if config.debug_nans:
        check_nans(outs, params.get("name") or primitive.name)
    return outs


def _move(a: Array, device):
    from xla_bridge import _jaxlib
    return _jaxlib.copy_to_device(a.buffer, device)


def device_put(value: Any, device=None, weak_type: bool = False) -> Array:
    """Place ``value`` (an Array, NumPy array or scalar) on ``device`` (default device)."""
    if type(value) is Array:
        if device is None or value.device == device:
            return value
        return Array(_move(value, device), value.aval, device)
    if type(value) is TypedScalar:
        return from_numpy(value.value, device, weak_type=value.aval.weak_type)
    return from_numpy(np.asarray(value), device, weak_type=weak_type)
