"""Reductions (sum, mean, var, std, max, min, prod, all, any, argmax, argmin), cumulative
ops and logsumexp, with NumPy's ``axis``/``keepdims``/``where``/``dtype`` arguments."""
from __future__ import annotations

from typing import Any

import numpy as np

from functorch_lite import lax
from functorch_lite.core import dtypes
from functorch_lite.core.avals import TypedScalar, get_aval
from functorch_lite.numpy._util import (broadcast_to_shape, canonical_axis,
                                        canonicalize_dtype_arg, check_arraylike,
                                        normalize_axis, promote_dtypes, shape_of)
from functorch_lite.numpy.creation import asarray


def _prep(name, a, where):
    check_arraylike(name, a)
    if type(a) in (bool, int, float, complex):
        a = asarray(a)
    (a,) = promote_dtypes(name, a)
    if where is not None:
        where = broadcast_to_shape(asarray(where, np.bool_), shape_of(a), name)
    return a, where


def _keepdims(x, axes, ndim, keepdims):
    if not keepdims:
        return x
    shape = list(shape_of(x))
    for ax in sorted(axes):
        shape.insert(ax, 1)
    return lax.reshape(x, tuple(shape))


def _reduction(name, reduce_fn, identity, *, upcast_bool=False, bool_op=None,
               upcast_small_int=False):
    def fn(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
        if out is not None:
            raise NotImplementedError(f"{name}: the `out` argument is not supported")
        a, where = _prep(name, a, where)
        aval = get_aval(a)
        axes = canonical_axis(name, axis, aval.ndim)
        dt = canonicalize_dtype_arg(dtype)
        if dt is None:
            dt = aval.dtype
            if upcast_bool and dt == np.bool_:
                dt = dtypes.default_int_dtype()
            elif upcast_small_int and dtypes.is_int(dt) and dt.itemsize < 4:
                dt = dtypes.default_uint_dtype() if dtypes.is_unsigned(dt) else \
                    dtypes.default_int_dtype()
        if dt != aval.dtype:
            a = lax.convert_element_type(a, dt, weak_type=aval.weak_type)
        if where is not None:
            if identity is None:
                if initial is None:
                    raise ValueError(f"{name}: reduction with `where` needs `initial`")
                fill = initial
            else:
                fill = identity(dt)
            a = lax.select(where, a, lax.full_like(a, fill))
        if identity is None and initial is None and 0 in [aval.shape[ax] for ax in axes]:
            raise ValueError(f"zero-size array to reduction operation {name} which has no "
                             "identity")
        op = bool_op if (bool_op is not None and dt == np.bool_) else reduce_fn
        result = op(a, axes)
        if initial is not None:
            combine = {"sum": lax.add, "prod": lax.mul, "max": lax.max,
                       "min": lax.min}[name]
            result = combine(result, TypedScalar(initial, dt, False))
        return _keepdims(result, axes, aval.ndim, keepdims)
    fn.__name__ = name
    return fn


def _min_identity(dt):
    return -np.inf if dtypes.is_inexact(dt) else (False if dt == np.bool_ else
                                                   dtypes.iinfo(dt).min)


def _max_identity(dt):
    return np.inf if dtypes.is_inexact(dt) else (True if dt == np.bool_ else
                                                  dtypes.iinfo(dt).max)


sum = _reduction("sum", lax.reduce_sum, lambda dt: 0, upcast_bool=True,
                 upcast_small_int=True)
sum.__doc__ = "Sum over ``axis`` (all axes by default). Bools and small ints sum as int32."
prod = _reduction("prod", lax.reduce_prod, lambda dt: 1, upcast_bool=True,
                  upcast_small_int=True)
prod.__doc__ = "Product over ``axis``."
max = _reduction("max", lax.reduce_max, None, bool_op=lax.reduce_or)
max.__doc__ = "Maximum over ``axis``; NaN propagates."
min = _reduction("min", lax.reduce_min, None, bool_op=lax.reduce_and)
min.__doc__ = "Minimum over ``axis``; NaN propagates."
amax, amin = max, min


def _bool_reduction(name, lax_fn, identity):
    def fn(a, axis=None, out=None, keepdims=False, *, where=None):
        if out is not None:
            raise NotImplementedError(f"{name}: the `out` argument is not supported")
        a, where = _prep(name, a, where)
        aval = get_aval(a)
        if aval.dtype != np.bool_:
            a = lax.ne(a, TypedScalar(0, aval.dtype, False))
        if where is not None:
            a = lax.select(where, a, lax.full_like(a, identity))
        axes = canonical_axis(name, axis, aval.ndim)
        return _keepdims(lax_fn(a, axes), axes, aval.ndim, keepdims)
    fn.__name__ = name
    fn.__doc__ = f"Whether {'all' if identity else 'any'} elements along ``axis`` are true."
    return fn


all = _bool_reduction("all", lax.reduce_and, True)
any = _bool_reduction("any", lax.reduce_or, False)


def _count(a_shape, axes, where, dt):
    if where is None:
        n = 1
        for ax in axes:
            n *= a_shape[ax]
        return TypedScalar(n, dt, False)
    return lax.convert_element_type(lax.reduce_sum(lax.convert_element_type(where, np.int32),
                                                   axes), dt)


def mean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=None):
    """Arithmetic mean over ``axis``; ints and bools average in float."""
    a, where_b = _prep("mean", a, where)
    aval = get_aval(a)
    axes = canonical_axis("mean", axis, aval.ndim)
    dt = canonicalize_dtype_arg(dtype) or dtypes.float_dtype_for(aval.dtype)
    total = sum(a, axis=axes, dtype=dt, where=where_b)
    n = _count(aval.shape, axes, where_b, dt)
    return _keepdims(lax.div(total, n), axes, aval.ndim, keepdims)


def var(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None,
        correction=None):
    """Variance over ``axis`` (``ddof``/``correction`` subtracts from the count)."""
    if correction is not None:
        ddof = correction
    a, where_b = _prep("var", a, where)
    aval = get_aval(a)
    axes = canonical_axis("var", axis, aval.ndim)
    comp = dtypes.float_dtype_for(aval.dtype)
    if dtypes.is_complex(comp):
        raise NotImplementedError("var of complex arrays is not supported yet")
    a = lax.convert_element_type(a, comp) if aval.dtype != comp else a
    centered = lax.sub(a, mean(a, axis=axes, keepdims=True, where=where_b))
    sq = lax.mul(centered, centered)
    total = sum(sq, axis=axes, where=where_b)
    n = _count(aval.shape, axes, where_b, comp)
    n = lax.sub(n, TypedScalar(ddof, comp, False)) if type(n) is not TypedScalar else \
        TypedScalar(n.value - ddof, comp, False)
    out_ = lax.div(total, n)
    dt = canonicalize_dtype_arg(dtype)
    if dt is not None:
        out_ = lax.convert_element_type(out_, dt)
    return _keepdims(out_, axes, aval.ndim, keepdims)


def std(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None,
        correction=None):
    """Standard deviation over ``axis``."""
    return lax.sqrt(var(a, axis, dtype, out, ddof, keepdims, where=where,
                        correction=correction))


def _arg_reduction(name, lax_fn):
    def fn(a, axis=None, out=None, keepdims=False):
        a, _ = _prep(name, a, None)
        aval = get_aval(a)
        if axis is None:
            if aval.size == 0:
                raise ValueError(f"attempt to get {name} of an empty sequence")
            flat = lax.reshape(a, (aval.size,))
            res = lax_fn(flat, 0, np.int32)
            return lax.reshape(res, (1,) * aval.ndim) if keepdims else res
        ax = normalize_axis(name, axis, aval.ndim)
        if aval.shape[ax] == 0:
            raise ValueError(f"attempt to get {name} of an empty sequence")
        return _keepdims(lax_fn(a, ax, np.int32), (ax,), aval.ndim, keepdims)
    fn.__name__ = name
    fn.__doc__ = f"Index of the {name[3:]}imum along ``axis`` (first occurrence; NaN wins)."
    return fn


argmax = _arg_reduction("argmax", lax.argmax)
argmin = _arg_reduction("argmin", lax.argmin)


def _cumulative(name, lax_fn, upcast):
    def fn(a, axis=None, dtype=None, out=None):
        a, _ = _prep(name, a, None)
        aval = get_aval(a)
        if axis is None:
            a = lax.reshape(a, (aval.size,))
            axis = 0
        ax = normalize_axis(name, axis, get_aval(a).ndim)
        dt = canonicalize_dtype_arg(dtype)
        if dt is None and upcast and (aval.dtype == np.bool_ or
                                      (dtypes.is_int(aval.dtype) and aval.dtype.itemsize < 4)):
            dt = dtypes.default_uint_dtype() if dtypes.is_unsigned(aval.dtype) else \
                dtypes.default_int_dtype()
        if dt is not None and dt != aval.dtype:
            a = lax.convert_element_type(a, dt)
        return lax_fn(a, axis=ax)
    fn.__name__ = name
    return fn


cumsum = _cumulative("cumsum", lax.cumsum, True)
cumprod = _cumulative("cumprod", lax.cumprod, True)
cumulative_sum, cumulative_prod = cumsum, cumprod


def logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False, where=None):
    """log(sum(exp(a))) over ``axis``, computed stably (as scipy.special.logsumexp)."""
    a, where_b = _prep("logsumexp", a, where)
    (a,) = promote_dtypes("logsumexp", a)
    aval = get_aval(a)
    comp = dtypes.float_dtype_for(aval.dtype)
    if aval.dtype != comp:
        a = lax.convert_element_type(a, comp)
    axes = canonical_axis("logsumexp", axis, aval.ndim)
    if where_b is not None:
        a = lax.select(where_b, a, lax.full_like(a, -np.inf))
    amax = lax.reduce_max(a, axes) if aval.size else lax.full(
        tuple(d for i, d in enumerate(aval.shape) if i not in axes), -np.inf, comp)
    amax = lax.select(lax.is_finite(amax), amax, lax.full_like(amax, 0))
    amax = lax.stop_gradient(amax)
    amax_k = _keepdims(amax, axes, aval.ndim, True)
    shifted = lax.exp(lax.sub(a, broadcast_to_shape(amax_k, aval.shape)))
    if b is not None:
        (b,) = promote_dtypes("logsumexp", b)
        shifted = lax.mul(shifted, broadcast_to_shape(
            lax.convert_element_type(b, comp) if get_aval(b).dtype != comp else b,
            aval.shape))
    s = lax.reduce_sum(shifted, axes)
    if return_sign:
        sign = lax.sign(s)
        out_ = lax.add(lax.log(lax.abs(s)), amax)
        return (_keepdims(out_, axes, aval.ndim, keepdims),
                _keepdims(sign, axes, aval.ndim, keepdims))
    out_ = lax.add(lax.log(s), amax)
    return _keepdims(out_, axes, aval.ndim, keepdims)


def count_nonzero(a, axis=None, keepdims=False):
    a, _ = _prep("count_nonzero", a, None)
    return sum(lax.ne(a, lax.full_like(a, 0)), axis=axis, keepdims=keepdims)


def average(a, axis=None, weights=None, returned=False, keepdims=False):
    if weights is None:
        avg = mean(a, axis=axis, keepdims=keepdims)
        if returned:
            n = get_aval(asarray(a)).size // (get_aval(avg).size or 1)
            return avg, lax.full_like(avg, n)
        return avg
    from functorch_lite.numpy.ufuncs import multiply, true_divide
    wsum = sum(broadcast_to_shape(asarray(weights), shape_of(asarray(a))), axis=axis,
               keepdims=keepdims)
    avg = true_divide(sum(multiply(a, weights), axis=axis, keepdims=keepdims), wsum)
    return (avg, wsum) if returned else avg


def ptp(a, axis=None, keepdims=False):
    from functorch_lite.numpy.ufuncs import subtract
    return subtract(max(a, axis=axis, keepdims=keepdims), min(a, axis=axis, keepdims=keepdims))


def _nan_reduction(name, base, fill):
    def fn(a, axis=None, keepdims=False, **kw):
        from functorch_lite.numpy.ufuncs import isnan, where as where_
        a = asarray(a)
        return base(where_(isnan(a), fill, a), axis=axis, keepdims=keepdims, **kw)
    fn.__name__ = name
    return fn


nansum = _nan_reduction("nansum", sum, 0)
nanprod = _nan_reduction("nanprod", prod, 1)
nanmax = _nan_reduction("nanmax", max, -np.inf)
nanmin = _nan_reduction("nanmin", min, np.inf)


def nanmean(a, axis=None, keepdims=False):
    from functorch_lite.numpy.ufuncs import isnan, logical_not
    a = asarray(a)
    return mean(a, axis=axis, keepdims=keepdims, where=logical_not(isnan(a)))
