"""What ``functorch_lite.numpy.linalg`` builds on the singular value decomposition (as
``jax.numpy.linalg``): ``svd``, ``svdvals``, ``pinv``, ``lstsq``, ``matrix_rank`` and
``cond``.

The SVD itself is ``lax.linalg.svd`` (QR, then a QDWH polar decomposition and ``eigh``).
``pinv`` has its own derivative (Golub and Pereyra's formula), which stays finite where
the SVD's does not (repeated singular values).
"""
from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from functorch_lite import lax
from functorch_lite.core.avals import get_aval
from functorch_lite.lax import decompositions as dec
from functorch_lite.lax.custom_derivatives import custom_jvp
from functorch_lite.lax.polar_svd import svd as _lax_svd
from functorch_lite.numpy.creation import asarray
from functorch_lite.numpy.indexing import take_along_axis
from functorch_lite.numpy.linalg_solve import _matrices

__all__ = ["svd", "svdvals", "pinv", "lstsq", "matrix_rank", "SVDResult"]


class SVDResult(NamedTuple):
    U: Any
    S: Any
    Vh: Any


def _real_dtype(x) -> np.dtype:
    dt = get_aval(x).dtype
    return np.dtype(np.float64 if dt in (np.float64, np.complex128) else np.float32)


def _scale_columns(x, d):
    nd = get_aval(x).ndim
    return lax.mul(x, lax.broadcast_in_dim(lax.convert_element_type(d, get_aval(x).dtype),
                                           get_aval(x).shape,
                                           tuple(range(nd - 2)) + (nd - 1,)))


def _hermitian_svd(a, compute_uv: bool):
    """The SVD of Hermitian matrices from their eigendecomposition: ``s = |w|``, sorted
    descending; ``u = v`` and ``vh = (v * sign(w))^H``."""
    v, w = dec.eigh(a)
    s = lax.abs(w)
    last = get_aval(s).ndim - 1
    # Sort by |w| descending, carrying each eigenvector's index.
    order = lax.broadcasted_iota(np.int32, get_aval(s).shape, last)
    neg_s, order = lax.sort((lax.neg(s), order), dimension=last, num_keys=1)
    s = lax.neg(neg_s)
    if not compute_uv:
        return s
    idx = lax.broadcast_in_dim(order, get_aval(v).shape[:-2] + (1, get_aval(s).shape[-1]),
                               tuple(range(last)) + (last + 1,))
    u = take_along_axis(v, idx, axis=-1)
    sign = take_along_axis(lax.sign(w), order, axis=-1)
    return SVDResult(u, s, dec.mH(_scale_columns(u, sign)))


def svd(a: Any, full_matrices: bool = True, compute_uv: bool = True,
        hermitian: bool = False, subset_by_index: Any = None):
    """``SVDResult(U, S, Vh)`` with ``a = U @ diag(S) @ Vh``, singular values descending;
    ``S`` alone without ``compute_uv``. ``U`` is (..., m, m) and ``Vh`` (..., n, n) with
    ``full_matrices``, else (..., m, k) and (..., k, n), k = min(m, n). ``hermitian=True``
    uses the eigendecomposition (as JAX: the input is symmetrized)."""
    if get_aval(asarray(a)).ndim < 2:   # JAX's type for this one
        raise TypeError(f"svd: input must have rank at least 2, got shape "
                        f"{get_aval(asarray(a)).shape}")
    (a,) = _matrices("svd", a, square=False)
    if hermitian:
        if subset_by_index is not None:
            raise NotImplementedError("svd: subset_by_index with hermitian=True")
        return _hermitian_svd(a, compute_uv)
    if not compute_uv:
        return _lax_svd(a, full_matrices=full_matrices, compute_uv=False,
                        subset_by_index=subset_by_index)
    u, s, vh = _lax_svd(a, full_matrices=full_matrices, compute_uv=True,
                        subset_by_index=subset_by_index)
    return SVDResult(u, s, vh)


def svdvals(x: Any, /):
    """The singular values of each matrix, descending."""
    return svd(x, compute_uv=False)


def _pinv_impl(a, rtol, hermitian: bool):
    u, s, vh = svd(a, full_matrices=False, hermitian=hermitian)
    last = get_aval(s).ndim - 1
    largest = lax.index_in_dim(s, 0, last, keepdims=False)          # (...)
    if get_aval(rtol).ndim:   # one tolerance per matrix, broadcast against the batch
        rtol = lax.broadcast_in_dim(rtol, get_aval(largest).shape, tuple(
            range(last - get_aval(rtol).ndim, last)))
    cutoff = lax.broadcast_in_dim(lax.mul(rtol, largest), get_aval(s).shape,
                                  tuple(range(last)))
    keep = lax.gt(s, cutoff)
    safe = lax.select(keep, s, lax.full_like(s, 1))
    inv_s = lax.select(keep, lax.div(lax.full_like(s, 1), safe), lax.full_like(s, 0))
    return dec.matmul(_scale_columns(dec.mH(vh), inv_s), dec.mH(u))


_pinv_fns: dict = {}


def _pinv_fn(hermitian: bool):
    """``pinv`` with its derivative (one custom_jvp per ``hermitian``); ``rtol`` is an
    argument whose tangent is ignored."""
    fn = _pinv_fns.get(hermitian)
    if fn is None:
        fn = _pinv_fns[hermitian] = custom_jvp(lambda a, rtol: _pinv_impl(a, rtol, hermitian))
        fn.defjvp(lambda primals, tangents: _pinv_jvp(hermitian, primals, tangents))
    return fn


def _pinv_jvp(hermitian, primals, tangents):
    # Golub and Pereyra: with P = pinv(A),
    # dP = -P dA P + P P^H dA^H (I - A P) + (I - P A) dA^H P^H P.
    (a, rtol), (da, _) = primals, tangents
    if hermitian:
        a = lax.mul(lax.add(a, dec.mH(a)), np.asarray(0.5, get_aval(a).dtype))
        da = lax.mul(lax.add(da, dec.mH(da)), np.asarray(0.5, get_aval(da).dtype))
    p = _pinv_impl(a, rtol, hermitian)
    mm = dec.matmul
    da_h, p_h = dec.mH(da), dec.mH(p)
    s = mm(mm(p, p_h), da_h)                        # P P^H dA^H   (n x m)
    t = mm(mm(da_h, p_h), p)                        # dA^H P^H P   (n x m)
    dp = lax.add(lax.neg(mm(mm(p, da), p)),
                 lax.sub(lax.add(lax.sub(s, mm(mm(s, a), p)), t), mm(mm(p, a), t)))
    return p, dp


def pinv(a: Any, rtol: Any = None, hermitian: bool = False, *, rcond: Any = None):
    """The Moore-Penrose pseudo-inverse of each matrix (..., m, n) -> (..., n, m): singular
    values at or below ``rtol`` times the largest count as zero (default
    ``10 * max(m, n) * eps``). ``rcond`` is NumPy's old name for ``rtol``."""
    if rcond is not None:
        if rtol is not None:
            raise ValueError("pinv: only one of rtol and rcond may be specified")
        rtol = rcond
    (a,) = _matrices("pinv", a, square=False)
    m, n = get_aval(a).shape[-2:]
    if m == 0 or n == 0:
        return lax.full(get_aval(a).shape[:-2] + (n, m), 0, get_aval(a).dtype)
    if rtol is None:
        rtol = 10.0 * max(m, n) * float(np.finfo(_real_dtype(a)).eps)
    return _pinv_fn(bool(hermitian))(a, asarray(rtol, dtype=_real_dtype(a)))


def matrix_rank(M: Any, rtol: Any = None, *, hermitian: bool = False, tol: Any = None):
    """The number of singular values above a threshold: by default ``max(m, n) * eps``
    times the largest; a given ``rtol`` (or its old name ``tol``) is compared with the
    singular values directly, as JAX does. For a vector or scalar: 1 if any entry is
    nonzero."""
    if tol is not None:
        if rtol is not None:
            raise ValueError("matrix_rank: only one of tol or rtol may be specified.")
        rtol = tol
    M = asarray(M)
    if get_aval(M).ndim < 2:
        nonzero = lax.ne(M, lax.full_like(M, 0))
        return lax.convert_element_type(lax.reduce_or(nonzero, tuple(range(get_aval(M).ndim))),
                                        np.int32)
    s = svd(M, compute_uv=False, hermitian=hermitian)
    last = get_aval(s).ndim - 1
    if rtol is None:
        threshold = lax.mul(lax.reduce_max(s, (last,)), np.asarray(
            max(get_aval(M).shape[-2:]) * np.finfo(get_aval(s).dtype).eps, get_aval(s).dtype))
    else:
        threshold = asarray(rtol, dtype=get_aval(s).dtype)
        if get_aval(threshold).ndim:   # one per matrix
            threshold = lax.broadcast_in_dim(threshold, get_aval(s).shape[:-1], tuple(
                range(last - get_aval(threshold).ndim, last)))
    if get_aval(threshold).ndim:
        threshold = lax.broadcast_in_dim(threshold, get_aval(s).shape, tuple(range(last)))
    return lax.reduce_sum(lax.convert_element_type(lax.gt(s, threshold), np.int32), (last,))


def lstsq(a: Any, b: Any, rcond: float | None = None, *, numpy_resid: bool = False):
    """``(x, residuals, rank, s)``: the ``x`` minimizing ``|b - a x|_2`` (the smallest such
    when ``a`` is rank deficient) for a matrix ``a`` (m, n) and ``b`` (m,) or (m, k);
    singular values below ``rcond`` times the largest count as zero (default
    ``max(m, n) * eps``; negative: machine precision). ``residuals`` are the squared
    column norms of ``b - a x``, always computed (NumPy's empty array in some cases with
    ``numpy_resid=True``, outside jit)."""
    a, b = asarray(a), asarray(b)
    if get_aval(a).ndim != 2:
        raise TypeError(f"{get_aval(a).ndim}-dimensional array given. Array must be "
                        "two-dimensional")
    if get_aval(b).ndim not in (1, 2):
        raise TypeError(f"{get_aval(b).ndim}-dimensional array given. Array must be one or "
                        "two-dimensional")
    m, n = get_aval(a).shape
    if get_aval(b).shape[0] != m:
        raise ValueError("Leading dimensions of input arrays must match")
    vector = get_aval(b).ndim == 1
    if vector:
        b = lax.expand_dims(b, (1,))
    a, b = _matrices("lstsq", a, b, square=False)
    real = _real_dtype(a)
    eps = float(np.finfo(real).eps)
    if rcond is None:
        rcond = eps * max(m, n)
    elif not isinstance(rcond, (int, float)):
        rcond = lax.select(lax.lt(asarray(rcond, dtype=real), np.asarray(0, real)),
                           np.asarray(eps, real), asarray(rcond, dtype=real))
    elif rcond < 0:
        rcond = eps
    if m == 0 or n == 0:
        s = lax.full((0,), 0, real)
        rank = np.asarray(0, np.int32)
        x = lax.full((n, get_aval(b).shape[1]), 0, get_aval(a).dtype)
    else:
        u, s, vh = svd(a, full_matrices=False)
        largest = lax.index_in_dim(s, 0, 0, keepdims=False)
        keep = lax.bitwise_and(lax.gt(s, lax.full_like(s, 0)),
                               lax.ge(s, lax.mul(asarray(rcond, dtype=real), largest)))
        rank = lax.reduce_sum(lax.convert_element_type(keep, np.int32), (0,))
        safe = lax.select(keep, s, lax.full_like(s, 1))
        inv_s = lax.select(keep, lax.div(lax.full_like(s, 1), safe), lax.full_like(s, 0))
        utb = dec.matmul(dec.mH(u), b)
        x = dec.matmul(dec.mH(vh), lax.mul(lax.broadcast_in_dim(
            lax.convert_element_type(inv_s, get_aval(a).dtype), get_aval(utb).shape, (0,)),
            utb))
    if numpy_resid and _numpy_says_empty(rank, m, n):
        resid = lax.full((0,), 0, real)
    else:
        diff = lax.sub(b, dec.matmul(a, x)) if m and n else b
        mag = lax.abs(diff)
        resid = lax.reduce_sum(lax.mul(mag, mag), (0,))
    if vector:
        x = lax.squeeze(x, (1,))
    return x, resid, rank, s


def _numpy_says_empty(rank, m: int, n: int) -> bool:
    """NumPy returns no residuals when ``a`` is rank deficient or not tall."""
    if m <= n:
        return True
    try:
        return int(np.asarray(rank)) < n
    except Exception:   # a tracer: the rank is not known until run time
        raise TypeError("lstsq: numpy_resid=True needs a concrete rank; it cannot be used "
                        "inside jit (as in JAX)") from None
