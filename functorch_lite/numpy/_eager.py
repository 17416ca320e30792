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
from functorch_lite.lax._common import PY_SCALARS



def compiled_when_eager(fn: Callable | None = None, *, arrays: int | None = None):
    """``fn`` as described above. With ``arrays=k`` only the first ``k`` positional
    arguments are arrays; the rest, and the keyword arguments, are options (axis, dtype,
    keepdims, ...) compiled in as constants, one executable per set of options. Calls whose
    options are unhashable (an array ``where=`` mask, say) run as written, as do calls with
    keyword arguments when ``arrays`` is None."""
    if fn is None:
        return functools.partial(compiled_when_eager, arrays=arrays)
    jitted = None
    by_options: dict = {}

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        nonlocal jitted
        if _trace.no_transformations():
            if arrays is None:
                if kwargs:
                    return fn(*args, **kwargs)
                if jitted is None:
                    jitted = jit(fn)
                compiled, operands = jitted, args
            else:
                operands, options = args[:arrays], args[arrays:]
                try:  # types too: 1 and 1.0 are equal keys but not the same option
                    key = (tuple((type(o), o) for o in options),
                           tuple(sorted((k, type(v), v) for k, v in kwargs.items())))
                    compiled = by_options.get(key)
                except TypeError:
                    return fn(*args, **kwargs)
                if compiled is None:
                    if len(by_options) > 512:
                        by_options.clear()
                    compiled = by_options[key] = jit(_with_options(fn, options, kwargs))
            out = compiled.call_cached(operands)
            if out is not _MISS:
                return out
            array_type = backend.array_type
            if any(type(a) is array_type for a in operands) and all(
                    type(a) is array_type or type(a) in PY_SCALARS for a in operands):
                return compiled(*operands)
        return fn(*args, **kwargs)
    return wrapper


def _with_options(fn: Callable, options: tuple, kwargs: dict) -> Callable:
    def call(*operands):
        return fn(*operands, *options, **kwargs)
    call.__name__ = call.__qualname__ = getattr(fn, "__name__", "fn")
    return call
