"""``scipy.stats.mode`` (as ``jax.scipy.stats.mode``): the most frequent value along an axis
and how often it occurs, computed by sorting and measuring runs of equal values."""
from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

import functorch_lite.numpy as fnp
from functorch_lite import lax
from functorch_lite.api import jit
from functorch_lite.core import dtypes
from functorch_lite.numpy import _util

_NAN_POLICIES = ("propagate", "omit", "raise")


class ModeResult(NamedTuple):
    """``(mode, count)``: the modal values and the number of times each occurs."""
    mode: Any
    count: Any


@jit
def _mode_last_axis(x: Any) -> tuple[Any, Any]:
    """Mode and count along the last axis of ``x``."""
    s = fnp.sort(x, axis=-1)
    n = s.shape[-1]
    same = s[..., 1:] == s[..., :-1]
    if dtypes.is_inexact(s.dtype):
        # NaNs sort to the end and count as one value, as jnp.unique(equal_nan=True) does.
        same = same | (fnp.isnan(s[..., 1:]) & fnp.isnan(s[..., :-1]))
    starts = fnp.concatenate([fnp.ones(s.shape[:-1] + (1,), bool), ~same], axis=-1)
    position = fnp.broadcast_to(fnp.arange(n, dtype=dtypes.default_int_dtype()), s.shape)
    run_start = lax.cummax(fnp.where(starts, position, 0), axis=s.ndim - 1)
    # How many equal values precede each element in its run, itself included: its maximum
    # is the count, and the first place that maximum is reached ends the first (i.e. the
    # smallest) of the longest runs, so ties go to the smallest value.
    seen = position - run_start + 1
    count = fnp.max(seen, axis=-1)
    first = fnp.argmax(seen, axis=-1) - count + 1
    # The run's first element is the value reported (it decides between 0.0 and -0.0, and
    # receives the gradient).
    value = fnp.take_along_axis(s, first[..., None].astype(position.dtype), axis=-1)[..., 0]
    return value, count


def mode(a: Any, axis: int | None = 0, nan_policy: str = "propagate",
         keepdims: bool = False) -> ModeResult:
    """The most common value of ``a`` along ``axis`` (the flattened array when ``axis`` is
    None) and its number of occurrences; ties go to the smallest value and all NaNs count
    as one value. Both results have ``a``'s shape without ``axis`` (kept with size 1 when
    ``keepdims``). ``mode`` has ``a``'s dtype and ``count`` the default integer dtype,
    except over an empty axis, where JAX gives NaN and a count of 0 in the default float
    dtype. Only ``nan_policy="propagate"`` is supported, as in JAX.

    >>> mode(fnp.array([2, 4, 1, 1, 3, 4, 4]))
    ModeResult(mode=Array(4, dtype=int32), count=Array(3, dtype=int32))
    """
    _util.check_arraylike("mode", a)
    if nan_policy not in _NAN_POLICIES:
        raise ValueError(f"Illegal nan_policy value {nan_policy!r}; expected one of "
                         "{'propagate', 'omit', 'raise'}")
    if nan_policy == "omit":
        raise NotImplementedError("mode: nan_policy='omit' is not implemented; remove the "
                                  "NaNs first or use nan_policy='propagate'")
    if nan_policy == "raise":
        raise NotImplementedError("mode: nan_policy='raise' would need to inspect the values "
                                  "at trace time; check for NaNs (fnp.isnan(a).any()) before "
                                  "calling mode and use nan_policy='propagate'")
    x = fnp.atleast_1d(fnp.asarray(a))
    if axis is None:
        out_shape = (1,) * x.ndim if keepdims else ()
        x = fnp.ravel(x)
        axis = 0
    else:
        axis = _util.normalize_axis("mode", axis, x.ndim)
        out_shape = tuple(1 if i == axis else s for i, s in enumerate(x.shape) if keepdims
                          or i != axis)
    if x.shape[axis] == 0:
        # Nothing to count: JAX reports NaN with a (float) count of zero.
        float_dtype = dtypes.default_float_dtype()
        return ModeResult(fnp.full(out_shape, np.nan, float_dtype),
                          fnp.zeros(out_shape, float_dtype))
    value, count = _mode_last_axis(fnp.moveaxis(x, axis, -1))
    return ModeResult(fnp.reshape(value, out_shape), fnp.reshape(count, out_shape))
