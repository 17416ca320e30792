"""Reductions (sum, mean, var, std, max, min, prod, all, any, argmax, argmin), cumulative
ops and logsumexp, with NumPy's ``axis``/``keepdims``/``where``/``dtype``/``initial``
arguments and ``jax.numpy``'s dtype rules:

* ``sum``/``prod`` of bools and of ints narrower than the default int accumulate in the
  default int (uint32 for unsigned); float16/bfloat16 accumulate in float32 and are
  converted back. ``mean``/``var``/``std`` of ints and bools are float.
* Results are never weakly typed (``sum(2.5)`` is a strong float32).
"""
from __future__ import annotations

import builtins
import math

import numpy as np

from functorch_lite import lax
from functorch_lite.core import dtypes
from functorch_lite.core.avals import TypedScalar, get_aval
from functorch_lite.numpy import ufuncs
from functorch_lite.numpy._eager import compiled_when_eager
from functorch_lite.numpy._util import (broadcast_to_shape, canonical_axis,
                                        canonicalize_dtype_arg, check_arraylike,
                                        normalize_axis, promote_dtypes_inexact, shape_of)
from functorch_lite.numpy.creation import asarray

__all__ = [
    "sum", "prod", "max", "min", "amax", "amin", "all", "any", "mean", "var", "std",
    "argmax", "argmin", "cumsum", "cumprod", "cumulative_sum", "cumulative_prod",
    "logsumexp", "count_nonzero", "average", "ptp", "nansum", "nanprod", "nanmax", "nanmin",
    "nanmean",
]


def _arr(name, a):
    check_arraylike(name, a)
    return a if hasattr(a, "aval") else asarray(a)


def _where_mask(name, where, shape):
    if where is None:
        return None
    check_arraylike(name, where)
    w = _arr(name, where)
    if get_aval(w).dtype != np.bool_:
        w = lax.convert_element_type(w, np.bool_)
    return broadcast_to_shape(w, shape, name)


def _keepdims(x, axes, keepdims):
    if not keepdims:
        return x
    shape = list(shape_of(x))
    for ax in sorted(axes):
        shape.insert(ax, 1)
    return lax.reshape(x, tuple(shape))


def _promote_integer_dtype(dt: np.dtype) -> np.dtype:
    """The accumulation dtype of sum/prod: bools and narrow ints widen to the default."""
    if dt == np.bool_:
        return dtypes.default_int_dtype()
    if dtypes.is_unsigned(dt):
        target = dtypes.default_uint_dtype()
        return target if dt.itemsize < target.itemsize else dt
    if dtypes.is_int(dt):
        target = dtypes.default_int_dtype()
        return target if dt.itemsize < target.itemsize else dt
    return dt


def _upcast_f16(dt: np.dtype) -> np.dtype:
    return np.dtype(np.float32) if dt in (np.float16, dtypes.bfloat16) else dt


def _init_value(dt: np.dtype, value: float):
    """``value`` (0, 1 or +-inf) as an identity element of ``dt``."""
    if dt == np.bool_:
        return TypedScalar(value > 0, dt, False)
    if np.isinf(value) and not dtypes.is_inexact(dt):
        info = dtypes.iinfo(dt)
        value = info.min if value < 0 else info.max
    return TypedScalar(value, dt, False)


def _reduction(name, lax_reduce, bool_reduce, combine, identity, *, has_identity=True,
               numeric=False, upcast_f16=False, promote_integers=False):
    def fn(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
        if out is not None:
            raise NotImplementedError(f"{name}: the `out` argument is not supported")
        a = _arr(name, a)
        aval = get_aval(a)
        if numeric and aval.dtype == np.bool_:
            a = lax.convert_element_type(a, dtypes.default_int_dtype())
            aval = get_aval(a)
        mask = _where_mask(name, where, aval.shape)
        if initial is None and not has_identity and mask is not None:
            raise ValueError(f"{name}: reduction operation {name} does not have an identity, "
                             "so to use a `where` mask one has to specify `initial`")
        axes = canonical_axis(name, axis, aval.ndim)
        empty = builtins.any(aval.shape[ax] == 0 for ax in axes)
        if initial is None and not has_identity and empty:
            raise ValueError(f"{name}: zero-size array to reduction operation {name} which "
                             "has no identity")
        dt = canonicalize_dtype_arg(dtype, name)
        result_dt = dt
        if result_dt is None:
            result_dt = _promote_integer_dtype(aval.dtype) if promote_integers else aval.dtype
        comp = _upcast_f16(result_dt) if upcast_f16 and dt is None else result_dt
        a = lax.convert_element_type(a, comp)
        op = bool_reduce if comp == np.bool_ else lax_reduce
        if mask is not None:
            a = lax.select(mask, a, lax.full_like(a, _init_value(comp, identity)))
        result = op(a, axes)
        if initial is not None:
            init = asarray(initial)
            if get_aval(init).ndim:
                raise ValueError(f"{name}: initial value must be a scalar, got shape "
                                 f"{shape_of(init)}")
            init = lax.convert_element_type(init, comp)
            result = (combine[1] if comp == np.bool_ else combine[0])(init, result)
        return lax.convert_element_type(_keepdims(result, axes, keepdims), result_dt)
    fn.__name__ = fn.__qualname__ = name
    return compiled_when_eager(fn, arrays=1)


sum = _reduction("sum", lax.reduce_sum, lax.reduce_or, (lax.add, lax.bitwise_or), 0,
                 numeric=True, upcast_f16=True, promote_integers=True)
sum.__doc__ = """Sum over ``axis`` (all axes by default).

Bools and ints narrower than int32 accumulate (and return) int32 (uint32 if unsigned);
float16/bfloat16 accumulate in float32. ``sum(ones((2, 3)), axis=0)`` has shape ``(3,)``."""
prod = _reduction("prod", lax.reduce_prod, lax.reduce_and, (lax.mul, lax.bitwise_and), 1,
                  numeric=True, upcast_f16=True, promote_integers=True)
prod.__doc__ = "Product over ``axis`` (same dtype rules as ``sum``)."
max = _reduction("max", lax.reduce_max, lax.reduce_or, (lax.max, lax.bitwise_or), -np.inf,
                 has_identity=False)
max.__doc__ = "Maximum over ``axis``; NaN propagates. Empty axes need ``initial``."
min = _reduction("min", lax.reduce_min, lax.reduce_and, (lax.min, lax.bitwise_and), np.inf,
                 has_identity=False)
min.__doc__ = "Minimum over ``axis``; NaN propagates. Empty axes need ``initial``."
amax, amin = max, min


def _bool_reduction(name, lax_fn, identity):
    def fn(a, axis=None, out=None, keepdims=False, *, where=None):
        if out is not None:
            raise NotImplementedError(f"{name}: the `out` argument is not supported")
        a = _arr(name, a)
        aval = get_aval(a)
        if aval.dtype != np.bool_:
            a = lax.convert_element_type(a, np.bool_)
        mask = _where_mask(name, where, aval.shape)
        if mask is not None:
            a = lax.select(mask, a, lax.full_like(a, identity))
        axes = canonical_axis(name, axis, aval.ndim)
        return _keepdims(lax_fn(a, axes), axes, keepdims)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Whether {'all' if identity else 'any'} elements along ``axis`` are true."
    return compiled_when_eager(fn, arrays=1)


all = _bool_reduction("all", lax.reduce_and, True)
any = _bool_reduction("any", lax.reduce_or, False)


def _count(shape, axes, mask, dt, keepdims):
    """The number of elements reduced (per output element when masked), as ``dt``."""
    if mask is None:
        return TypedScalar(math.prod(shape[ax] for ax in axes), dt, False)
    return sum(mask, axis=axes, dtype=dt, keepdims=keepdims)


@compiled_when_eager(arrays=1)
def mean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=None):
    """Arithmetic mean over ``axis``; ints and bools average in float32, float16 and
    bfloat16 accumulate in float32."""
    if out is not None:
        raise NotImplementedError("mean: the `out` argument is not supported")
    a = _arr("mean", a)
    aval = get_aval(a)
    axes = canonical_axis("mean", axis, aval.ndim)
    dt = canonicalize_dtype_arg(dtype, "mean")
    result_dt = dt if dt is not None else dtypes.float_dtype_for(aval.dtype)
    comp = _upcast_f16(result_dt) if dt is None and dtypes.is_inexact(result_dt) else result_dt
    mask = _where_mask("mean", where, aval.shape)
    total = sum(a, axis=axes, dtype=comp, keepdims=keepdims, where=mask)
    n = _count(aval.shape, axes, mask, comp, keepdims)
    return lax.convert_element_type(lax.div(total, n), result_dt)


def var(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None,
        mean=None, correction=None):
    """Variance over ``axis``; the divisor is ``N - ddof`` (``correction`` is a synonym)
    and the result is NaN where that is not positive."""
    if out is not None:
        raise NotImplementedError("var: the `out` argument is not supported")
    if correction is None:
        correction = ddof
    elif not isinstance(ddof, int) or ddof != 0:
        raise ValueError("var: ddof and correction can't be provided simultaneously")
    a = _arr("var", a)
    aval = get_aval(a)
    axes = canonical_axis("var", axis, aval.ndim)
    dt = canonicalize_dtype_arg(dtype, "var")
    if dt is not None:
        if dtypes.is_complex(aval.dtype) and not dtypes.is_complex(dt):
            raise ValueError("var: a real dtype for the variance of complex values is not "
                             "supported")
        comp = dt
    elif dtypes.is_inexact(aval.dtype):
        comp = aval.dtype
        dt = np.dtype(np.float32) if aval.dtype == np.complex64 else \
            np.dtype(np.float64) if aval.dtype == np.complex128 else aval.dtype
    else:
        comp = dt = dtypes.float_dtype_for(aval.dtype)
    comp = _upcast_f16(comp)
    a = lax.convert_element_type(a, comp)
    mask = _where_mask("var", where, aval.shape)
    if mean is None:
        a_mean = _mean_fn(a, axes, dtype=comp, keepdims=True, where=mask)
    else:
        a_mean = lax.convert_element_type(_arr("var", mean), comp)
    centered = lax.sub(a, broadcast_to_shape(a_mean, aval.shape, "var"))
    if dtypes.is_complex(comp):
        centered = lax.real(lax.mul(centered, lax.conj(centered)))
        comp = get_aval(centered).dtype
    else:
        centered = lax.integer_pow(centered, 2)
    n = _count(aval.shape, axes, mask, comp, keepdims)
    if type(n) is TypedScalar:
        n = TypedScalar(n.value - correction, comp, False)
    else:
        n = lax.sub(n, TypedScalar(correction, comp, False))
    total = sum(centered, axis=axes, dtype=comp, keepdims=keepdims, where=mask)
    result = lax.convert_element_type(lax.div(total, n), dt)
    if type(n) is TypedScalar:
        return result if n.value > 0 else lax.full_like(result, np.nan)
    positive = lax.gt(n, TypedScalar(0, get_aval(n).dtype, False))
    return lax.select(positive, result, lax.full_like(result, np.nan))


_mean_fn = mean


def std(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None,
        mean=None, correction=None):
    """Standard deviation over ``axis`` (the square root of ``var``)."""
    dtype = canonicalize_dtype_arg(dtype, "std")  # var gets it canonical: one warning
    if dtype is not None and not dtypes.is_inexact(dtype):
        raise ValueError(f"std: dtype must be inexact, got {dtype}")
    return lax.sqrt(var(a, axis, dtype, out, ddof, keepdims, where=where, mean=mean,
                        correction=correction))


def _arg_reduction(name, lax_fn):
    def fn(a, axis=None, out=None, keepdims=False):
        if out is not None:
            raise NotImplementedError(f"{name}: the `out` argument is not supported")
        a = _arr(name, a)
        aval = get_aval(a)
        if axis is None:
            dims = tuple(range(aval.ndim))
            a = lax.reshape(a, (aval.size,))
            ax = 0
        else:
            ax = normalize_axis(name, axis, aval.ndim)
            dims = (ax,)
        if shape_of(a)[ax] == 0:
            raise ValueError(f"{name}: attempt to get {name} of an empty sequence")
        return _keepdims(lax_fn(a, ax, dtypes.default_int_dtype()), dims, keepdims)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = (f"Index of the {name[3:]}imum along ``axis`` (of the flattened array when "
                  "None); the first occurrence wins, and NaN counts as the extreme.")
    return compiled_when_eager(fn, arrays=1)


argmax = _arg_reduction("argmax", lax.argmax)
argmin = _arg_reduction("argmin", lax.argmin)


def _cumulative_reduce(name, lax_fn, a, axis, dtype, promote_integers):
    a = _arr(name, a)
    aval = get_aval(a)
    if axis is None or aval.ndim == 0:
        a = lax.reshape(a, (aval.size,))
        axis = 0 if axis is None else axis
    ax = normalize_axis(name, axis, get_aval(a).ndim)
    dt = canonicalize_dtype_arg(dtype, name)
    if dt is None:
        result_dt = _promote_integer_dtype(aval.dtype) \
            if promote_integers or aval.dtype == np.bool_ else aval.dtype
        comp = result_dt
    elif dt == np.bool_:
        # lax accumulates numbers: count the nonzeros, then test the count.
        result_dt = dt
        if aval.dtype != np.bool_:
            a = lax.ne(a, TypedScalar(0, aval.dtype, False))
        comp = _promote_integer_dtype(dt)
    else:
        result_dt = comp = dt
    out_ = lax_fn(lax.convert_element_type(a, comp), axis=ax)
    return lax.convert_element_type(out_, result_dt)


def cumsum(a, axis=None, dtype=None, out=None):
    """Running sum along ``axis`` (of the flattened array when None). Bools count as
    int32; other dtypes are kept (use ``dtype=`` to widen)."""
    if out is not None:
        raise NotImplementedError("cumsum: the `out` argument is not supported")
    return _cumulative_reduce("cumsum", lax.cumsum, a, axis, dtype, False)


def cumprod(a, axis=None, dtype=None, out=None):
    """Running product along ``axis`` (of the flattened array when None)."""
    if out is not None:
        raise NotImplementedError("cumprod: the `out` argument is not supported")
    return _cumulative_reduce("cumprod", lax.cumprod, a, axis, dtype, False)


def _array_api_cumulative(name, lax_fn, identity, promote_integers):
    def fn(x, /, *, axis=None, dtype=None, include_initial=False):
        x = _arr(name, x)
        nd = get_aval(x).ndim
        if nd == 0:
            raise ValueError(f"{name}: the input must be non-scalar")
        if axis is None:
            if nd > 1:
                raise ValueError(f"{name}: the input array has rank {nd}, but `axis` was "
                                 "not given (it is optional only for 1-D arrays)")
            axis = 0
        ax = normalize_axis(name, axis, nd)
        out_ = _cumulative_reduce(name, lax_fn, x, ax, dtype, promote_integers)
        if include_initial:
            shape = list(shape_of(out_))
            shape[ax] = 1
            out_ = lax.concatenate([lax.full(tuple(shape), identity, get_aval(out_).dtype),
                                    out_], ax)
        return out_
    fn.__name__ = name
    fn.__doc__ = (f"Array-API running {'sum' if identity == 0 else 'product'} along "
                  "``axis``; ``include_initial`` prepends the identity.")
    return fn


cumulative_sum = _array_api_cumulative("cumulative_sum", lax.cumsum, 0, True)
cumulative_prod = _array_api_cumulative("cumulative_prod", lax.cumprod, 1, False)


def logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False, where=None):
    """log(sum(b * exp(a))) over ``axis``, computed stably (as scipy.special.logsumexp).
    With ``b``, a negative sum gives NaN unless ``return_sign`` (then ``(log|s|, sign)``)."""
    if where is not None:
        a = ufuncs.where(where, a, 0)
    if b is not None:
        a, b = promote_dtypes_inexact("logsumexp", a, b)
        a, b = _arr("logsumexp", a), _arr("logsumexp", b)
        shape = tuple(np.broadcast_shapes(shape_of(a), shape_of(b)))
        a, b = broadcast_to_shape(a, shape), broadcast_to_shape(b, shape)
        a = lax.select(lax.ne(b, TypedScalar(0, get_aval(b).dtype, False)), a,
                       lax.full_like(a, -np.inf))
    else:
        (a,) = promote_dtypes_inexact("logsumexp", a)
        a = _arr("logsumexp", a)
    aval = get_aval(a)
    if dtypes.is_complex(aval.dtype):
        raise NotImplementedError("logsumexp of complex inputs is not supported")
    axes = canonical_axis("logsumexp", axis, aval.ndim)
    amax = max(a, axis=axes, keepdims=True, where=where, initial=-np.inf)
    amax = lax.stop_gradient(lax.select(lax.is_finite(amax), amax, lax.full_like(amax, 0)))
    exp_a = lax.exp(lax.sub(a, broadcast_to_shape(amax, aval.shape)))
    if b is not None:
        exp_a = lax.mul(exp_a, b)
    sumexp = sum(exp_a, axis=axes, keepdims=True, where=where)
    sign = lax.sign(sumexp)
    out_ = lax.add(lax.log(lax.abs(sumexp)), amax)
    if not keepdims:
        out_ = lax.reshape(out_, tuple(d for i, d in enumerate(aval.shape) if i not in axes))
        sign = lax.reshape(sign, shape_of(out_))
    if return_sign:
        return out_, sign
    if b is not None:
        out_ = lax.select(lax.lt(sign, TypedScalar(0, get_aval(sign).dtype, False)),
                          lax.full_like(out_, np.nan), out_)
    return out_


def count_nonzero(a, axis=None, keepdims=False):
    """Number of nonzero elements along ``axis`` (int32)."""
    a = _arr("count_nonzero", a)
    nz = lax.ne(a, TypedScalar(0, get_aval(a).dtype, False))
    return sum(nz, axis=axis, dtype=dtypes.default_int_dtype(), keepdims=keepdims)


def average(a, axis=None, weights=None, returned=False, keepdims=False):
    """Weighted mean over ``axis``; ``weights`` matches ``a``'s shape or, with an int
    ``axis``, that axis's length. ``returned`` also gives the sum of weights."""
    axes = canonical_axis("average", axis, len(shape_of(_arr("average", a))))
    if weights is None:
        (a,) = promote_dtypes_inexact("average", a)
        avg = mean(a, axis=axis, keepdims=keepdims)
        wsum = lax.full((), math.prod(shape_of(a)[ax] for ax in axes), get_aval(avg).dtype)
    else:
        a, weights = promote_dtypes_inexact("average", a, weights)
        a, weights = _arr("average", a), _arr("average", weights)
        sa, sw = shape_of(a), shape_of(weights)
        if sa != sw:
            if axis is None:
                raise ValueError("average: axis must be specified when shapes of a and "
                                 "weights differ")
            if sw != tuple(sa[ax] for ax in axes):
                raise ValueError("average: shape of weights must be consistent with shape "
                                 "of a along the specified axis")
            weights = lax.broadcast_in_dim(weights, sa, axes)
        wsum = sum(weights, axis=axis, keepdims=keepdims)
        avg = ufuncs.true_divide(sum(ufuncs.multiply(a, weights), axis=axis,
                                     keepdims=keepdims), wsum)
    if returned:
        if shape_of(avg) != shape_of(wsum):
            wsum = broadcast_to_shape(wsum, shape_of(avg))
        return avg, wsum
    return avg


def ptp(a, axis=None, out=None, keepdims=False):
    """Peak to peak (max - min) along ``axis``."""
    if out is not None:
        raise NotImplementedError("ptp: the `out` argument is not supported")
    return lax.sub(max(a, axis=axis, keepdims=keepdims), min(a, axis=axis, keepdims=keepdims))


def _nan_reduction(name, base, identity, nan_if_all_nan):
    def fn(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
        a = _arr(name, a)
        kw = dict(axis=axis, out=out, keepdims=keepdims, initial=initial, where=where)
        if dtype is not None:
            kw["dtype"] = dtype
        if not dtypes.is_inexact(get_aval(a).dtype):
            return base(a, **kw)
        isnan = lax.ne(a, a)
        res = base(lax.select(isnan, lax.full_like(a, _init_value(get_aval(a).dtype,
                                                                   identity)), a), **kw)
        if nan_if_all_nan and initial is None:
            all_nan = all(isnan, axis=axis, keepdims=keepdims)
            res = lax.select(all_nan, lax.full_like(res, np.nan), res)
        return res
    fn.__name__ = name
    fn.__doc__ = f"``{base.__name__}`` ignoring NaNs."
    return fn


nansum = _nan_reduction("nansum", sum, 0, False)
nanprod = _nan_reduction("nanprod", prod, 1, False)
_nanmax = _nan_reduction("nanmax", max, -np.inf, True)
_nanmin = _nan_reduction("nanmin", min, np.inf, True)


def nanmax(a, axis=None, out=None, keepdims=False, initial=None, where=None):
    """Maximum ignoring NaNs (NaN where a slice is all NaN)."""
    return _nanmax(a, axis=axis, out=out, keepdims=keepdims, initial=initial, where=where)


def nanmin(a, axis=None, out=None, keepdims=False, initial=None, where=None):
    """Minimum ignoring NaNs (NaN where a slice is all NaN)."""
    return _nanmin(a, axis=axis, out=out, keepdims=keepdims, initial=initial, where=where)


def nanmean(a, axis=None, dtype=None, out=None, keepdims=False, where=None):
    """Mean ignoring NaNs (NaN where a slice is all NaN)."""
    if out is not None:
        raise NotImplementedError("nanmean: the `out` argument is not supported")
    a = _arr("nanmean", a)
    aval = get_aval(a)
    if not dtypes.is_inexact(aval.dtype):
        return mean(a, axis, dtype, keepdims=keepdims, where=where)
    dt = canonicalize_dtype_arg(dtype, "nanmean") or dtypes.float_dtype_for(aval.dtype)
    not_nan = lax.bitwise_not(lax.ne(a, a))
    n = sum(not_nan, axis=axis, dtype=dt, keepdims=keepdims, where=where)
    return lax.div(nansum(a, axis, dtype=dt, keepdims=keepdims, where=where), n)

