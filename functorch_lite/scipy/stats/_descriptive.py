"""Sample statistics of ``scipy.stats``: ``sem`` and ``rankdata``."""
from __future__ import annotations

import numpy as np

import functorch_lite.numpy as fnp
from functorch_lite import lax
from functorch_lite.core import dtypes
from functorch_lite.scipy.stats._common import promote_dtypes

_RANK_METHODS = ("average", "min", "max", "dense", "ordinal")


def sem(a, axis=0, ddof=1, nan_policy="propagate", *, keepdims=False):
    """Standard error of the mean: std(a, ddof) / sqrt(n) along ``axis``."""
    (b,) = promote_dtypes("sem", a)
    if nan_policy == "propagate":
        n = b.size if axis is None else b.shape[axis]
        std = fnp.std(b, axis, ddof=ddof, keepdims=keepdims)
        return std / fnp.sqrt(fnp.asarray(n, b.dtype))
    if nan_policy == "omit":
        n = fnp.sum(~fnp.isnan(b), axis, keepdims=keepdims)
        std = fnp.nanstd(b, axis, ddof=ddof, keepdims=keepdims)
        return std / fnp.sqrt(n).astype(b.dtype)
    raise ValueError(f"{nan_policy} is not supported")


def _ranks_last_axis(a, method, out_dtype):
    """Ranks (1-based) along the last axis; a slice holding a NaN ranks as all NaN."""
    n = a.shape[-1]
    order = fnp.argsort(a, axis=-1, stable=True)
    ranked_sorted = fnp.take_along_axis(a, order, axis=-1)
    # ``inverse[i]`` is the sorted position of element i.
    inverse = fnp.argsort(order, axis=-1, stable=True)
    if method == "ordinal":
        ranks = inverse + 1
    else:
        edge = ranked_sorted[..., 1:] != ranked_sorted[..., :-1]
        true = fnp.ones(a.shape[:-1] + (1,), bool)
        starts = fnp.concatenate([true, edge], axis=-1)  # first of a run of equal values
        ends = fnp.concatenate([edge, true], axis=-1)  # last of a run
        position = fnp.broadcast_to(fnp.arange(1, n + 1), a.shape)
        if method == "dense":
            by_sorted = fnp.cumsum(starts, axis=-1)
        else:
            # Each run's first / last 1-based position, spread over the run.
            first = lax.cummax(fnp.where(starts, position, 0), axis=a.ndim - 1)
            last = lax.cummin(fnp.where(ends, position, n + 1), axis=a.ndim - 1, reverse=True)
            if method == "min":
                by_sorted = first
            elif method == "max":
                by_sorted = last
            else:
                by_sorted = 0.5 * (first + last).astype(out_dtype)
        ranks = fnp.take_along_axis(by_sorted, inverse, axis=-1)
    ranks = ranks.astype(out_dtype)
    has_nan = fnp.any(fnp.isnan(a), axis=-1, keepdims=True)
    return fnp.where(has_nan, np.nan, ranks)


def rankdata(a, method="average", *, axis=None, nan_policy="propagate"):
    """Ranks of ``a`` (ties per ``method``), over the flattened array or along ``axis``;
    always of the default float dtype."""
    if nan_policy not in ("propagate", "omit", "raise"):
        raise ValueError(f"Illegal nan_policy value {nan_policy!r}; expected one of "
                         "{'propagate', 'omit', 'raise'}")
    if nan_policy != "propagate":
        raise NotImplementedError(f"rankdata: nan_policy={nan_policy!r} is not implemented")
    if method not in _RANK_METHODS:
        raise ValueError(f"unknown method '{method}'")
    a = fnp.asarray(a)
    out_dtype = dtypes.default_float_dtype()
    if axis is None:
        return _ranks_last_axis(fnp.ravel(a), method, out_dtype)
    moved = fnp.moveaxis(a, axis, -1)
    return fnp.moveaxis(_ranks_last_axis(moved, method, out_dtype), -1, axis)
