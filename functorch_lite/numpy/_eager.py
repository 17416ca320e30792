"""Eager NumPy calls compiled whole.

Called eagerly, ``fnp.multiply(x, 2.0)`` would run promotion and then each primitive through
its own dispatch. Wrapped with ``compiled_when_eager`` it runs as one cached executable per
argument signature instead (what ``jax.numpy`` does), through ``jit``'s cached-call path.
The executable holds exactly the primitives the function would have run one at a time, and
Python scalars enter it as arguments, never as constants XLA could fold, so the numbers are
the same. Under a transformation, or with arguments that are not device arrays and Python
scalars, the function runs as written."""
from __future__ import annotations

import functools
from typing import Callable

from functorch_lite.core import trace as _trace
from functorch_lite.api import MISS as _MISS
from functorch_lite.api import jit
from functorch_lite.core.backend import backend

_SCALARS = (bool, int, float, complex)


def compiled_when_eager(fn: Callable) -> Callable:
    """``fn`` (whose positional arguments are arrays) as described above; calls with keyword
    arguments run as written."""
    jitted = None

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        nonlocal jitted
        if len(_trace._stack) == 1 and not kwargs:
            if jitted is None:
                jitted = jit(fn)
            out = jitted.call_cached(args)
            if out is not _MISS:
                return out
            array_type = backend.array_type
            if any(type(a) is array_type for a in args) and all(
                    type(a) is array_type or type(a) in _SCALARS for a in args):
                return jitted(*args)
        return fn(*args, **kwargs)
    return wrapper
