"""Python values as operands of a computation on one device: an ``Array`` is taken as it
is, a NumPy array is copied to the device, and a Python or typed scalar gets a device
buffer that is cached (``caches.scalar_buffers``), so ``x * 2.0`` transfers ``2.0`` once."""
from __future__ import annotations

from typing import Any

import numpy as np

from functorch_lite.core import dtypes
from functorch_lite.core.avals import TypedScalar, get_aval
from functorch_lite.core.config import config
from functorch_lite.core.trace import escaped_tracer_error, is_traced
from xla_bridge import _jaxlib, runtime
from xla_bridge.array import Array, from_numpy, guard
from xla_bridge.caches import scalar_buffers


def to_array(x: Any, device) -> Array:
    """``x`` as an Array; one made here is placed on ``device``."""
    t = type(x)
    if t is Array:
        return x
    if t in (bool, int, float, complex) or t is TypedScalar:
        # A scalar operand is a transfer for the guard even when its buffer is cached, so
        # that what the guard says does not depend on what ran before. (The flags are read
        # here first: this is jit's cached path for scalar arguments.)
        if config.transfer_guard or config.transfer_guard_host_to_device:
            guard("host_to_device", lambda: f"{get_aval(x).str_short()} to {device}")
        return _scalar_array(x, t, device)
    if isinstance(x, (np.ndarray, np.generic)):
        return from_numpy(x, device)
    if isinstance(x, Array):
        return x
    if is_traced(x):  # eager evaluation never gets a live tracer: this one escaped
        raise escaped_tracer_error(x)
    raise TypeError(f"expected an array, got {type(x).__name__}: {x!r}")


def _scalar_array(x: Any, t: type, device) -> Array:
    """The cached device buffer of a Python scalar or ``TypedScalar`` (made on a miss)."""
    if t is TypedScalar:
        key = (x.aval, x.value.tobytes(), device)
        a = scalar_buffers.get(key)
        if a is None:
            a = scalar_buffers[key] = from_numpy(x.value, device, weak_type=x.aval.weak_type,
                                                 guarded=False)
        return a
    # The value is the key, except where equal values differ (0.0 and -0.0, complex parts)
    # or a value differs from itself (NaN): there repr is. The cache is emptied when the
    # x64 flag, which picks the dtype, changes.
    key = (t, x, device) if t is int or t is bool or (t is float and x == x != 0) \
        else (t, repr(x), device)
    a = scalar_buffers.get(key)
    if a is None:
        aval = get_aval(x)
        _check_scalar_range(x, aval)
        a = scalar_buffers[key] = from_numpy(np.asarray(x, aval.dtype), device,
                                             weak_type=True, guarded=False)
    return a


def choose_device(args, what: str):
    """The device a computation on ``args`` runs on: the one device other than the default
    that an argument lives on (put there on purpose, so its result stays there; arguments
    on the default device are copied over), else the first argument's device, else the
    default. Arguments on two different non-default devices: ValueError naming both, as
    JAX reports arrays committed to different devices."""
    default = runtime.default_device()
    first = chosen = None
    for i, x in enumerate(args):
        if type(x) is not Array:
            continue
        d = x.device
        if first is None:
            first = d
        if d != default:
            if chosen is None:
                chosen = (i, x, d)
            elif d != chosen[2]:
                raise ValueError(
                    f"{what}: incompatible devices: argument {chosen[0]} "
                    f"({chosen[1].aval.str_short()}) is on {chosen[2]} and argument {i} "
                    f"({x.aval.str_short()}) on {d}; move one with device_put")
    if chosen is not None:
        return chosen[2]
    return first if first is not None else default


def scalar_buffer(x, device):
    """The device buffer of a Python scalar (jit's cached-call path passes scalars
    through this)."""
    return to_array(x, device)._buf


def buffer_on(a: Array, device):
    """``a``'s buffer, copied to ``device`` if it lives elsewhere; raises
    ``DeletedArrayError`` if ``a`` was donated or deleted."""
    if a.device == device:
        return a.buffer
    guard("device_to_device", lambda: f"{a.aval.str_short()} from {a.device} to {device}")
    return _jaxlib.copy_to_device(a.buffer, device)


def _check_scalar_range(x, aval) -> None:
    if type(x) is int and dtypes.is_int(aval.dtype):
        info = dtypes.iinfo(aval.dtype)
        if not info.min <= x <= info.max:
            raise OverflowError(f"Python int {x} is too large to convert to {aval.dtype}")


config.on_change("enable_x64", lambda _: scalar_buffers.clear())
