"""Order statistics and covariances (as ``jax.numpy``): ``quantile``, ``percentile``,
``median`` and their NaN-ignoring forms, ``nanvar``, ``nanstd``, ``nanargmax``,
``nanargmin``, ``nancumsum``, ``nancumprod``, ``cov`` and ``corrcoef``.

Quantiles sort along the reduced axes (NaNs sort last) and read the sorted values at
``q * (n - 1)``, interpolated as ``method`` says; the NaN-ignoring forms count each slice's
non-NaN values instead of ``n``.
"""
from __future__ import annotations

import operator
from typing import Any

import numpy as np

from functorch_lite import lax
from functorch_lite.core import dtypes
from functorch_lite.numpy import reductions as _red
from functorch_lite.numpy import shapes as _shapes
from functorch_lite.numpy._util import (canonical_axis, check_arraylike,
                                        promote_dtypes_inexact)
from functorch_lite.numpy.creation import asarray
from functorch_lite.numpy.indexing import take_along_axis
from functorch_lite.numpy.sorting import sort
from functorch_lite.numpy.ufuncs import isnan, sqrt, where

__all__ = ["quantile", "percentile", "median", "nanquantile", "nanpercentile", "nanmedian",
           "nanvar", "nanstd", "nanargmax", "nanargmin", "nancumsum", "nancumprod", "cov",
           "corrcoef"]

_METHODS = ("linear", "lower", "higher", "midpoint", "nearest")


def _quantile(name: str, a: Any, q: Any, axis: Any, method: str, keepdims: bool,
              ignore_nan: bool):
    full_name = f"functorch_lite.numpy.{name}"
    check_arraylike(full_name, a, q)
    if method not in _METHODS:
        raise ValueError("method can only be 'linear', 'lower', 'higher', 'midpoint', or "
                         f"'nearest', got {method!r}")
    a, q = promote_dtypes_inexact(full_name, asarray(a), asarray(q))
    if dtypes.is_complex(a.dtype):
        raise ValueError(f"{name} does not support complex input")
    if q.ndim > 1:
        raise ValueError(f"q must be zero- or one-dimensional, got shape {q.shape}")
    ndim = a.ndim
    axes = tuple(range(ndim)) if axis is None else canonical_axis(name, axis, ndim)
    kept = tuple(d for d in range(ndim) if d not in axes)
    # The reduced axes become one last axis.
    a = lax.transpose(a, kept + axes)
    batch = tuple(a.shape[:len(kept)])
    n = int(np.prod([a.shape[len(kept) + i] for i in range(len(axes))]))
    a = lax.reshape(a, batch + (n,))
    values = sort(a, axis=-1)
    if ignore_nan:
        counts = _red.sum(lax.bitwise_not(isnan(a)), axis=-1).astype(a.dtype)
    else:
        counts = lax.full_like(lax.reduce_max(a, (len(batch),)), n)
    # positions: q.shape + batch
    qb = lax.broadcast_in_dim(q, q.shape + batch, tuple(range(q.ndim)))
    cb = lax.broadcast_in_dim(counts, q.shape + batch, tuple(range(q.ndim, q.ndim + len(batch))))
    last = lax.max(lax.sub(cb, np.asarray(1, a.dtype)), np.asarray(0, a.dtype))
    index = lax.mul(qb, last)
    low, high = lax.floor(index), lax.ceil(index)
    full = lax.broadcast_in_dim(values, q.shape + batch + (n,),
                                tuple(range(q.ndim, q.ndim + len(batch) + 1)))

    def at(position):
        idx = lax.convert_element_type(lax.clamp(np.asarray(0, a.dtype), position, last),
                                       np.int32)
        return lax.squeeze(take_along_axis(full, lax.expand_dims(idx, (idx.ndim,)), axis=-1),
                           (idx.ndim,))
    if method == "lower":
        result = at(low)
    elif method == "higher":
        result = at(high)
    elif method == "nearest":  # a tie goes to the lower value (JAX's rule)
        result = lax.select(lax.le(lax.sub(index, low), np.asarray(0.5, a.dtype)), at(low),
                            at(high))
    elif method == "midpoint":
        result = lax.mul(lax.add(at(low), at(high)), np.asarray(0.5, a.dtype))
    else:
        weight = lax.sub(index, low)
        result = lax.add(lax.mul(at(low), lax.sub(np.asarray(1, a.dtype), weight)),
                         lax.mul(at(high), weight))
    if ignore_nan:
        empty = lax.eq(cb, np.asarray(0, a.dtype))
    else:
        empty = lax.broadcast_in_dim(_red.any(isnan(a), axis=-1), q.shape + batch,
                                     tuple(range(q.ndim, q.ndim + len(batch))))
    result = lax.select(empty, lax.full_like(result, np.nan), result)
    if keepdims:
        out_shape = list(q.shape)
        it = iter(batch)
        out_shape += [1 if d in axes else next(it) for d in range(ndim)]
        result = lax.reshape(result, tuple(out_shape))
    return result


def _check_q(q, low: float, high: float, name: str):
    if isinstance(q, (int, float)) and not low <= q <= high:
        raise ValueError(f"{name}: q must be in the range [{low}, {high}], got {q}")


def quantile(a: Any, q: Any, axis: Any = None, out: Any = None,
             overwrite_input: bool = False, method: str = "linear", keepdims: bool = False,
             *, interpolation: Any = None):
    """The ``q``-th quantiles (``q`` in [0, 1], a scalar or 1-D) of ``a`` over ``axis``;
    the result has shape ``q.shape`` + the kept axes. A slice holding a NaN gives NaN."""
    if out is not None:
        raise NotImplementedError("quantile: the `out` argument is not supported")
    _check_q(q, 0, 1, "quantile")
    return _quantile("quantile", a, q, axis, interpolation or method, keepdims, False)


def nanquantile(a: Any, q: Any, axis: Any = None, out: Any = None,
                overwrite_input: bool = False, method: str = "linear",
                keepdims: bool = False, *, interpolation: Any = None):
    """``quantile`` ignoring NaNs (NaN where a slice is all NaN)."""
    if out is not None:
        raise NotImplementedError("nanquantile: the `out` argument is not supported")
    _check_q(q, 0, 1, "nanquantile")
    return _quantile("nanquantile", a, q, axis, interpolation or method, keepdims, True)


def percentile(a: Any, q: Any, axis: Any = None, out: Any = None,
               overwrite_input: bool = False, method: str = "linear", keepdims: bool = False,
               *, interpolation: Any = None):
    """``quantile`` with ``q`` in percent (0 to 100)."""
    _check_q(q, 0, 100, "percentile")
    check_arraylike("functorch_lite.numpy.percentile", a, q)
    return quantile(a, asarray(q) / 100, axis, out, overwrite_input, method, keepdims,
                    interpolation=interpolation)


def nanpercentile(a: Any, q: Any, axis: Any = None, out: Any = None,
                  overwrite_input: bool = False, method: str = "linear",
                  keepdims: bool = False, *, interpolation: Any = None):
    """``percentile`` ignoring NaNs."""
    _check_q(q, 0, 100, "nanpercentile")
    check_arraylike("functorch_lite.numpy.nanpercentile", a, q)
    return nanquantile(a, asarray(q) / 100, axis, out, overwrite_input, method, keepdims,
                       interpolation=interpolation)


def median(a: Any, axis: Any = None, out: Any = None, overwrite_input: bool = False,
           keepdims: bool = False):
    """The median over ``axis`` (the mean of the two middle values for an even count)."""
    return quantile(a, 0.5, axis=axis, out=out, method="midpoint", keepdims=keepdims)


def nanmedian(a: Any, axis: Any = None, out: Any = None, overwrite_input: bool = False,
              keepdims: bool = False):
    """``median`` ignoring NaNs."""
    return nanquantile(a, 0.5, axis=axis, out=out, method="midpoint", keepdims=keepdims)


# -- NaN-ignoring reductions -----------------------------------------------------------------
def nanvar(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: int = 0,
           keepdims: bool = False, where: Any = None):
    """``var`` over the non-NaN values (NaN where fewer than ``ddof + 1`` remain)."""
    check_arraylike("functorch_lite.numpy.nanvar", a)
    a = asarray(a)
    keep = lax.bitwise_not(isnan(a))
    if where is not None:
        keep = lax.bitwise_and(keep, asarray(where, bool))
    return _red.var(a, axis=axis, dtype=dtype, out=out, ddof=ddof, keepdims=keepdims,
                    where=keep)


def nanstd(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: int = 0,
           keepdims: bool = False, where: Any = None):
    """``std`` over the non-NaN values."""
    return sqrt(nanvar(a, axis, dtype, out, ddof, keepdims, where))


def _nan_arg(name: str, base, fill: float):
    def fn(a, axis=None, out=None, keepdims=None):
        if out is not None:
            raise NotImplementedError(f"{name}: the `out` argument is not supported")
        check_arraylike(f"functorch_lite.numpy.{name}", a)
        a = asarray(a)
        if not dtypes.is_inexact(a.dtype):
            return base(a, axis=axis, keepdims=keepdims)
        nan = isnan(a)
        res = base(where(nan, fill, a), axis=axis, keepdims=keepdims)
        # -1 where a slice is all NaN (as JAX).
        return where(_red.all(nan, axis=axis, keepdims=bool(keepdims)), -1, res)
    fn.__name__ = name
    fn.__doc__ = f"``{base.__name__}`` ignoring NaNs (-1 where a slice is all NaN)."
    return fn


nanargmax = _nan_arg("nanargmax", _red.argmax, -np.inf)
nanargmin = _nan_arg("nanargmin", _red.argmin, np.inf)


def nancumsum(a: Any, axis: Any = None, dtype: Any = None, out: Any = None):
    """``cumsum`` with NaNs counted as zero."""
    check_arraylike("functorch_lite.numpy.nancumsum", a)
    a = asarray(a)
    if dtypes.is_inexact(a.dtype):
        a = where(isnan(a), 0, a)
    return _red.cumsum(a, axis=axis, dtype=dtype, out=out)


def nancumprod(a: Any, axis: Any = None, dtype: Any = None, out: Any = None):
    """``cumprod`` with NaNs counted as one."""
    check_arraylike("functorch_lite.numpy.nancumprod", a)
    a = asarray(a)
    if dtypes.is_inexact(a.dtype):
        a = where(isnan(a), 1, a)
    return _red.cumprod(a, axis=axis, dtype=dtype, out=out)


# -- covariance ------------------------------------------------------------------------------
def cov(m: Any, y: Any = None, rowvar: bool = True, bias: bool = False,
        ddof: int | None = None, fweights: Any = None, aweights: Any = None):
    """The covariance matrix of the variables in the rows of ``m`` (columns with
    ``rowvar=False``; ``y`` adds variables); ``fweights``/``aweights`` weight the
    observations (integer frequencies, reliability weights) as NumPy does."""
    check_arraylike("functorch_lite.numpy.cov", m)
    if ddof is not None and operator.index(ddof) != ddof:
        raise ValueError("ddof must be an integer")
    m = asarray(m)
    if m.ndim > 2:
        raise ValueError(f"m has more than 2 dimensions: shape {m.shape}")
    x = _shapes.atleast_2d(m)
    if not rowvar and x.shape[0] != 1:
        x = x.T
    if x.shape[0] == 0:
        return asarray([]).reshape(0, 0)
    if y is not None:
        y = _shapes.atleast_2d(asarray(y))
        if not rowvar and y.shape[0] != 1:
            y = y.T
        x = _shapes.concatenate([x, y], axis=0)
    (x,) = promote_dtypes_inexact("functorch_lite.numpy.cov", x)
    if ddof is None:
        ddof = 0 if bias else 1
    w = None
    if fweights is not None:
        w = asarray(fweights).astype(x.dtype if not dtypes.is_complex(x.dtype) else
                                     np.float32)
    if aweights is not None:
        aw = asarray(aweights).astype(w.dtype if w is not None else
                                      (x.dtype if not dtypes.is_complex(x.dtype)
                                       else np.float32))
        w = aw if w is None else w * aw
    if w is None:
        avg = _red.mean(x, axis=1)
        fact = x.shape[1] - ddof
    else:
        w_sum = _red.sum(w)
        avg = _red.sum(x * w, axis=1) / w_sum
        if ddof == 0:
            fact = w_sum
        elif aweights is None:
            fact = w_sum - ddof
        else:
            fact = w_sum - ddof * _red.sum(w * aw) / w_sum
    centered = x - avg[:, None]
    weighted = centered if w is None else centered * w
    c = lax.dot_general(centered, lax.conj(weighted) if dtypes.is_complex(x.dtype)
                        else weighted, (((1,), (1,)), ((), ())))
    c = c / fact
    return _shapes.squeeze(c)


def corrcoef(x: Any, y: Any = None, rowvar: bool = True):
    """Pearson correlation coefficients: ``cov`` scaled by the standard deviations (real
    parts clipped to [-1, 1])."""
    c = cov(x, y, rowvar)
    if c.ndim == 0:
        return c / c
    d = _shapes.diagonal(c)
    stddev = sqrt(lax.real(d) if dtypes.is_complex(d.dtype) else d)
    c = c / stddev[:, None]
    c = c / stddev[None, :]
    if dtypes.is_complex(c.dtype):
        return lax.complex(lax.clamp(np.asarray(-1, stddev.dtype), lax.real(c),
                                     np.asarray(1, stddev.dtype)), lax.imag(c))
    return lax.clamp(np.asarray(-1, c.dtype), c, np.asarray(1, c.dtype))
