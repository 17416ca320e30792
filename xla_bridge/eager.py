"""Eager execution: a primitive applied to concrete arrays runs as a one-equation program,
compiled once per (primitive, params, input types, device) and cached
(``caches.eager_executables``); it is called like any other program, through
``dispatch.Compiled``."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from functorch_lite.core.avals import ShapedArray, TypedScalar
from functorch_lite.core.ir import Eqn, Program, Var
from xla_bridge import _jaxlib, runtime
from xla_bridge.array import Array, from_numpy
from xla_bridge.caches import eager_executables
from xla_bridge.dispatch import compile_for_call
from xla_bridge.operands import to_array

# The name tests use for the cache of eager executables (caches.py).
_cache = eager_executables


def _single_eqn_program(primitive, in_avals: Sequence[ShapedArray], params: dict) -> Program:
    invars = [Var(a) for a in in_avals]
    out_avals = primitive.abstract_eval(*in_avals, **params)
    outvars = [Var(a) for a in out_avals]
    return Program([], invars, [Eqn(primitive, invars, outvars, params)], outvars)


def _device_of(args: Sequence[Any]):
    for x in args:
        if type(x) is Array:
            return x.device
    return runtime.default_device()


def apply_primitive(primitive, args: Sequence[Any], params: dict) -> list:
    device = _device_of(args)
    arrays = [to_array(x, device) for x in args]
    avals = tuple(a.aval for a in arrays)
    key = (primitive, avals, tuple(params.items()), device)
    try:
        compiled = eager_executables.get(key)
    except TypeError:  # unhashable params (an array, say): compiled for this call only
        key = compiled = None
    if compiled is None:
        name = params.get("name") or primitive.name
        compiled = compile_for_call(_single_eqn_program(primitive, avals, params), name,
                                    device, params.get("donated") or (), label=name)
        if key is not None:
            eager_executables[key] = compiled
    return compiled(*arrays)


def device_put(value: Any, device=None, weak_type: bool = False) -> Array:
    """Place ``value`` (an Array, NumPy array or scalar) on ``device`` (default device)."""
    if type(value) is Array:
        if device is None or value.device == device:
            return value
        return Array(_jaxlib.copy_to_device(value.buffer, device), value.aval, device)
    if type(value) is TypedScalar:
        return from_numpy(value.value, device, weak_type=value.aval.weak_type)
    return from_numpy(np.asarray(value), device, weak_type=weak_type)
