"""Matrix decompositions and triangular solves, JAX's ``lax.linalg``: ``cholesky``,
``triangular_solve``, ``qr`` (from ``geqrf`` and ``householder_product``) and ``eigh``.

Each acts on the two innermost dimensions; leading dimensions are a batch. XLA computes
them: StableHLO's ``cholesky`` and ``triangular_solve`` ops, and the ``Qr``,
``ProductOfElementaryHouseholderReflectors`` and ``Eigh`` calls its compiler expands
(Householder QR, a Jacobi eigensolver) on every platform. Their derivatives are the
textbook ones, written with these same operations.
"""
from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from functorch_lite.core import dtypes
from functorch_lite.core.avals import ShapedArray, get_aval
from functorch_lite.core.primitive import Primitive
from functorch_lite.interpreters import ad, batching
from functorch_lite.interpreters.transpose import is_undefined
from functorch_lite.lax import elementwise as ew
from functorch_lite.lax._common import as_operand
from functorch_lite.lax.custom_derivatives import custom_jvp
from functorch_lite.lax.linalg import dot_general
from functorch_lite.lax.reductions import reduce_and, reduce_sum
from functorch_lite.lax.shapes import (broadcast_in_dim, broadcasted_iota, full_like, pad,
                                       slice as slice_, transpose)

__all__ = ["cholesky", "triangular_solve", "qr", "geqrf", "householder_product", "eigh"]


# ---------------------------------------------------------------------------------------
# helpers on stacks of matrices (the two innermost dimensions)

def check_matrix(name: str, aval: ShapedArray, square: bool = True) -> None:
    if aval.ndim < 2:
        raise ValueError(f"{name}: expected an array of matrices (rank >= 2), got shape "
                         f"{aval.shape}")
    if square and aval.shape[-1] != aval.shape[-2]:
        raise ValueError(f"{name}: expected square matrices, got shape {aval.shape}")
    if aval.dtype not in (np.float32, np.float64, np.complex64, np.complex128):
        raise TypeError(f"{name}: expected float32, float64, complex64 or complex128 "
                        f"matrices, got {aval.dtype}")


def matmul(a, b):
    """``a @ b`` over stacks of matrices with the same leading dimensions."""
    nd = get_aval(a).ndim
    batch = tuple(range(nd - 2))
    return dot_general(a, b, (((nd - 1,), (nd - 2,)), (batch, batch)))


def mT(x):
    """Each matrix transposed."""
    nd = get_aval(x).ndim
    return transpose(x, tuple(range(nd - 2)) + (nd - 1, nd - 2))


def mH(x):
    """Each matrix's conjugate transpose."""
    x = mT(x)
    return ew.conj(x) if dtypes.is_complex(get_aval(x).dtype) else x


def _rows_cols(x):
    aval = get_aval(x)
    return (broadcasted_iota(np.int32, aval.shape, aval.ndim - 2),
            broadcasted_iota(np.int32, aval.shape, aval.ndim - 1))


def triangle(x, lower: bool, k: int = 0):
    """The lower (``j <= i + k``) or upper (``j >= i + k``) triangle of each matrix, zeros
    elsewhere (``k = -1``: the lower triangle without the diagonal)."""
    rows, cols = _rows_cols(x)
    keep = ew.le(cols, ew.add(rows, np.int32(k))) if lower else \
        ew.ge(cols, ew.add(rows, np.int32(k)))
    return ew.select(keep, x, full_like(x, 0))


def eye_like(x):
    """Identity matrices of ``x``'s shape and dtype."""
    rows, cols = _rows_cols(x)
    return ew.convert_element_type(ew.eq(rows, cols), get_aval(x).dtype)


def _batch_front(args, dims, size):
    return [batching.bdim_at_front(a, d, size) for a, d in zip(args, dims)]


def _scalar(value, like):
    return np.asarray(value, get_aval(like).dtype)


# ---------------------------------------------------------------------------------------
# triangular_solve

triangular_solve_p = Primitive("triangular_solve")


@triangular_solve_p.def_shape
def _triangular_solve_shape(a, b, *, left_side, lower, transpose_a, conjugate_a,
                            unit_diagonal):
    check_matrix("triangular_solve", a)
    if b.ndim != a.ndim or b.shape[:-2] != a.shape[:-2]:
        raise ValueError(f"triangular_solve: a {a.shape} and b {b.shape} must have the "
                         "same rank and batch dimensions")
    if a.dtype != b.dtype:
        raise TypeError(f"triangular_solve: a and b must have the same dtype, got "
                        f"{a.dtype} and {b.dtype}")
    m = a.shape[-1]
    if (b.shape[-2] if left_side else b.shape[-1]) != m:
        side = "rows" if left_side else "columns"
        raise ValueError(f"triangular_solve: b {b.shape} must have {m} {side} to match a "
                         f"{a.shape} (left_side={left_side})")
    return b.update(weak_type=False)


def triangular_solve(a: Any, b: Any, left_side: bool = False, lower: bool = False,
                     transpose_a: bool = False, conjugate_a: bool = False,
                     unit_diagonal: bool = False):
    """``x`` with ``op(a) @ x == b`` (``left_side``) or ``x @ op(a) == b``, for ``a``
    triangular (only its ``lower`` or upper triangle is read; ``unit_diagonal``: its
    diagonal is taken as ones); ``op`` transposes and/or conjugates as asked."""
    a, b = as_operand(a), as_operand(b)
    if not dtypes.is_complex(get_aval(a).dtype):
        conjugate_a = False  # nothing to conjugate
    elif conjugate_a and not transpose_a:  # XLA conjugates only together with a transpose
        a, conjugate_a = ew.conj(a), False
    return triangular_solve_p.bind(a, b, left_side=bool(left_side), lower=bool(lower),
                                   transpose_a=bool(transpose_a),
                                   conjugate_a=bool(conjugate_a),
                                   unit_diagonal=bool(unit_diagonal))


def _op(a, transpose_a, conjugate_a):
    if transpose_a:
        a = mT(a)
    return ew.conj(a) if conjugate_a and dtypes.is_complex(get_aval(a).dtype) else a


def _triangular_solve_jvp(primals, tangents, **params):
    a, b = primals
    da, db = tangents
    x = triangular_solve_p.bind(a, b, **params)
    dx = ad.Zero(get_aval(x))
    if type(db) is not ad.Zero:
        dx = triangular_solve_p.bind(a, db, **params)
    if type(da) is not ad.Zero:
        # x = A^-1 b: dx = -A^-1 dA x (left), -x dA A^-1 (right), with dA the part of the
        # tangent that a's solve reads.
        k = (-1 if params["lower"] else 1) if params["unit_diagonal"] else 0
        da = triangle(da, params["lower"], k)
        op_da = _op(da, params["transpose_a"], params["conjugate_a"])
        rhs = matmul(op_da, x) if params["left_side"] else matmul(x, op_da)
        dx = ad.add_tangents(dx, ew.neg(triangular_solve_p.bind(a, rhs, **params)))
    return x, dx


triangular_solve_p.def_jvp(_triangular_solve_jvp)


def _triangular_solve_transpose(ct, a, b, *, left_side, lower, transpose_a, conjugate_a,
                                unit_diagonal):
    if is_undefined(a):
        raise ValueError("triangular_solve is linear only in b")
    if type(ct) is ad.Zero:
        return [None, None]
    # b -> M^-1 b has transpose c -> M^-T c (and b -> b M^-1: c -> c M^-T), M = op(a).
    if conjugate_a:  # M = a^H: M^T = conj(a)
        ct_b = triangular_solve_p.bind(ew.conj(a), ct, left_side=left_side, lower=lower,
                                       transpose_a=False, conjugate_a=False,
                                       unit_diagonal=unit_diagonal)
    else:
        ct_b = triangular_solve_p.bind(a, ct, left_side=left_side, lower=lower,
                                       transpose_a=not transpose_a, conjugate_a=False,
                                       unit_diagonal=unit_diagonal)
    return [None, ct_b]


triangular_solve_p.def_transpose(_triangular_solve_transpose)


@triangular_solve_p.def_batch
def _triangular_solve_batch(axis, args, dims, **params):
    a, b = _batch_front(args, dims, axis.size)
    return triangular_solve_p.bind(a, b, **params), 0


# ---------------------------------------------------------------------------------------
# cholesky

cholesky_p = Primitive("cholesky")


@cholesky_p.def_shape
def _cholesky_shape(x):
    check_matrix("cholesky", x)
    return x.update(weak_type=False)


def cholesky(x: Any, *, symmetrize_input: bool = True):
    """The lower-triangular ``L`` with ``L @ L^H == x`` for each Hermitian positive
    definite matrix of ``x``; a matrix that is not positive definite gives NaNs (as JAX).
    ``symmetrize_input`` factors ``(x + x^H) / 2``; otherwise only the lower triangle of
    ``x`` is read."""
    x = as_operand(x)
    check_matrix("cholesky", get_aval(x))
    if symmetrize_input:
        x = ew.mul(ew.add(x, mH(x)), _scalar(0.5, x))
    factor = cholesky_p.bind(x)
    # XLA leaves NaNs only from the first failed pivot on; a failure is the whole
    # matrix's (NaNs in the lower triangle, as LAPACK-backed JAX reports it).
    ok = all_finite(factor)
    nans = triangle(full_like(factor, np.nan), lower=True)
    shape = get_aval(factor).shape
    return ew.select(broadcast_in_dim(ok, shape, tuple(range(len(shape) - 2))), factor, nans)


def _cholesky_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    factor = cholesky_p.bind(x)
    if type(dx) is ad.Zero:
        return factor, ad.Zero(get_aval(factor))
    # A = L L^H: dL = L phi(L^-1 dA L^-H), phi = the lower triangle with half the diagonal.
    left = triangular_solve(factor, dx, left_side=True, lower=True)
    inner = triangular_solve(factor, left, left_side=False, lower=True, transpose_a=True,
                             conjugate_a=True)
    half_diagonal = ew.mul(ew.mul(inner, eye_like(inner)), _scalar(0.5, inner))
    phi = ew.sub(triangle(inner, lower=True), half_diagonal)
    return factor, matmul(factor, phi)


cholesky_p.def_jvp(_cholesky_jvp)


@cholesky_p.def_batch
def _cholesky_batch(axis, args, dims):
    (x,) = _batch_front(args, dims, axis.size)
    return cholesky_p.bind(x), 0


# ---------------------------------------------------------------------------------------
# QR: geqrf (Householder vectors and scales) and householder_product (Q from them)

geqrf_p = Primitive("geqrf", multiple_results=True)


@geqrf_p.def_shape
def _geqrf_shape(x):
    check_matrix("geqrf", x, square=False)
    m, n = x.shape[-2:]
    return [x.update(weak_type=False),
            ShapedArray(x.shape[:-2] + (min(m, n),), x.dtype, False)]


def geqrf(x: Any):
    """LAPACK's QR storage: R in the upper triangle of the first result, the Householder
    vectors below it (unit first entry implied), and their scales ``taus``."""
    return tuple(geqrf_p.bind(as_operand(x)))


def _not_differentiable(name: str, instead: str):
    def rule(primals, tangents, **params):
        raise NotImplementedError(f"{name} has no derivative rule; differentiate "
                                  f"{instead} instead")
    return rule


geqrf_p.def_jvp(_not_differentiable("geqrf", "qr"))


@geqrf_p.def_batch
def _geqrf_batch(axis, args, dims):
    (x,) = _batch_front(args, dims, axis.size)
    return geqrf_p.bind(x), [0, 0]


householder_product_p = Primitive("householder_product")


@householder_product_p.def_shape
def _householder_product_shape(a, taus):
    check_matrix("householder_product", a, square=False)
    m, n = a.shape[-2:]
    if m < n or taus.shape != a.shape[:-2] + (taus.shape[-1],) or taus.shape[-1] > n \
            or taus.dtype != a.dtype:
        raise ValueError(f"householder_product: expected a of shape (..., m, n), m >= n, and "
                         f"taus of shape (..., k), k <= n, of its dtype; got {a.shape} "
                         f"{a.dtype} and {taus.shape} {taus.dtype}")
    return a.update(weak_type=False)


def householder_product(a: Any, taus: Any):
    """The first ``n`` columns of the product of the Householder reflections that
    ``geqrf`` stores in ``a`` (m x n, m >= n) and ``taus``."""
    return householder_product_p.bind(as_operand(a), as_operand(taus))


householder_product_p.def_jvp(_not_differentiable("householder_product", "qr"))


@householder_product_p.def_batch
def _householder_product_batch(axis, args, dims):
    a, taus = _batch_front(args, dims, axis.size)
    return householder_product_p.bind(a, taus), 0


def qr_factors(x, full_matrices: bool):
    """``(q, r)`` of ``x`` from ``geqrf`` and ``householder_product``, with no derivative
    rule of its own (``qr`` adds one; solvers that bring their own use this)."""
    aval = get_aval(x)
    m, n = aval.shape[-2:]
    k = min(m, n)
    stored, taus = geqrf(x)
    batch = aval.shape[:-2]
    zeros = (0,) * len(batch)
    if full_matrices and m > n:  # Q is m x m: continue the stored vectors with zeros
        config = [(0, 0, 0)] * len(batch) + [(0, 0, 0), (0, m - n, 0)]
        q = householder_product(pad(stored, _scalar(0, stored), config), taus)
    else:
        q = householder_product(slice_(stored, zeros + (0, 0), batch + (m, k)), taus)
    rows = m if full_matrices else k
    r = triangle(slice_(stored, zeros + (0, 0), batch + (rows, n)), lower=False)
    return q, r


class QRResult(NamedTuple):
    Q: Any
    R: Any


def qr(x: Any, *, full_matrices: bool = True):
    """``(q, r)`` with ``x == q @ r``, ``q`` with orthonormal columns (m x m with
    ``full_matrices``, else m x min(m, n)) and ``r`` upper triangular."""
    x = as_operand(x)
    check_matrix("qr", get_aval(x), square=False)
    return QRResult(*_qr_fn(bool(full_matrices))(x))


_qr_fns: dict = {}


def _qr_fn(full_matrices: bool):
    """``qr`` with its derivative (one custom_jvp per ``full_matrices``)."""
    fn = _qr_fns.get(full_matrices)
    if fn is None:
        fn = _qr_fns[full_matrices] = custom_jvp(lambda x: qr_factors(x, full_matrices))
        fn.defjvp(lambda primals, tangents: _qr_jvp(primals, tangents, full_matrices))
    return fn


def _qr_jvp(primals, tangents, full_matrices):
    (x,), (dx,) = primals, tangents
    q, r = qr_factors(x, full_matrices)
    m, n = get_aval(x).shape[-2:]
    if m < n or (full_matrices and m > n):
        raise NotImplementedError("the derivative of qr is implemented for m >= n with "
                                  "full_matrices=False (or square matrices) only, as in JAX")
    # x = q r: with c = q^H dx r^-1, dr = (c - w) r and dq = q (w - c) + dx r^-1, where w
    # is the skew-Hermitian part of c built from its strictly lower triangle (plus the
    # imaginary part of its diagonal for complex inputs).
    dx_rinv = triangular_solve(r, dx)  # x r^-1 (right side, upper)
    c = matmul(mH(q), dx_rinv)
    low = triangle(c, lower=True, k=-1)
    w = ew.sub(low, mH(low))
    if dtypes.is_complex(get_aval(c).dtype):
        diag = ew.mul(c, eye_like(c))
        real_diag = ew.convert_element_type(ew.real(diag), get_aval(c).dtype)
        w = ew.add(w, ew.sub(diag, real_diag))
    dq = ew.add(matmul(q, ew.sub(w, c)), dx_rinv)
    dr = matmul(ew.sub(c, w), r)
    return (q, r), (dq, dr)


# ---------------------------------------------------------------------------------------
# eigh

eigh_p = Primitive("eigh", multiple_results=True)


@eigh_p.def_shape
def _eigh_shape(x, *, lower, sort_eigenvalues):
    check_matrix("eigh", x)
    real = np.dtype(np.float64 if x.dtype in (np.float64, np.complex128) else np.float32)
    return [x.update(weak_type=False), ShapedArray(x.shape[:-1], real, False)]


def eigh(x: Any, *, lower: bool = True, symmetrize_input: bool = True,
         sort_eigenvalues: bool = True):
    """``(v, w)``: eigenvectors (columns of ``v``) and eigenvalues (ascending with
    ``sort_eigenvalues``) of each Hermitian matrix of ``x``, so ``x @ v == v * w``.
    ``symmetrize_input`` uses ``(x + x^H) / 2``; otherwise the ``lower`` (or upper)
    triangle is read."""
    x = as_operand(x)
    check_matrix("eigh", get_aval(x))
    if symmetrize_input:
        x = ew.mul(ew.add(x, mH(x)), _scalar(0.5, x))
    lower, sort_eigenvalues = bool(lower), bool(sort_eigenvalues)
    if get_aval(x).dtype in (np.float64, np.complex128):
        v, w = _refined_eigh_fn(lower, sort_eigenvalues)(x)
    else:
        v, w = eigh_p.bind(x, lower=lower, sort_eigenvalues=sort_eigenvalues)
    return v, w


def _eigh_tangents(v, w, dx):
    """``(dv, dw)`` of the eigendecomposition ``(v, w)`` along ``dx``."""
    # dw = diag(v^H dA v); dv = v (F * v^H dA v), F_ij = 1 / (w_j - w_i) off the diagonal.
    vdv = matmul(matmul(mH(v), dx), v)                 # v^H dA v
    wc = ew.convert_element_type(w, get_aval(v).dtype)
    gaps = ew.sub(broadcast_in_dim(wc, get_aval(v).shape, _dims_but(get_aval(v).ndim, -2)),
                  broadcast_in_dim(wc, get_aval(v).shape, _dims_but(get_aval(v).ndim, -1)))
    off = ew.sub(full_like(gaps, 1), eye_like(gaps))
    inv_gaps = ew.div(off, ew.add(gaps, eye_like(gaps)))
    dv = matmul(v, ew.mul(inv_gaps, vdv))
    dw = ew.real(diagonal(vdv)) if dtypes.is_complex(get_aval(vdv).dtype) else diagonal(vdv)
    return dv, dw


def _eigh_jvp(primals, tangents, *, lower, sort_eigenvalues):
    (x,), (dx,) = primals, tangents
    v, w = eigh_p.bind(x, lower=lower, sort_eigenvalues=sort_eigenvalues)
    if type(dx) is ad.Zero:
        return [v, w], [ad.Zero(get_aval(v)), ad.Zero(get_aval(w))]
    return [v, w], list(_eigh_tangents(v, w, dx))


# -- 64-bit refinement ----------------------------------------------------------------------
# XLA's Jacobi solver measures the off-diagonal norm as sqrt(|A|_F^2 - |diag A|_F^2), which
# cancels below sqrt(eps) |A|, so in float64 it can stop with eigenvectors good to only
# ~1e-8. Ogita and Aishima's refinement (products only) squares that error per step. For a
# Hermitian A and nearly orthonormal X: R = I - X^H X, S = X^H A X (symmetrized),
# w_i = S_ii / (1 - R_ii), and X' = X (I + E) with E_ij = (S_ij + w_j R_ij) / (w_j - w_i)
# for a pair whose gap exceeds delta = 2 (|S - diag w|_F + |A|_F |R|_F), else R_ij / 2
# (which only re-orthonormalizes). Left as it is: a cluster of eigenvalues narrower than
# about 1e-8 |A| that Jacobi never entered (A within 1e-8 of a multiple of I): its
# residual stays of the order of that width.
_REFINE_STEPS = 3              # each squares the error: 1e-2 -> 1e-4 -> 1e-8 -> 1e-16
_REFINE_MAX_ROTATION = 1e-2


def _hermitian_from(x, lower: bool):
    """The Hermitian matrix whose ``lower`` (or upper) triangle ``x`` holds."""
    t = triangle(x, lower)
    strict = triangle(x, lower, -1) if lower else triangle(x, False, 1)
    full = ew.add(t, mH(strict))
    if dtypes.is_complex(get_aval(x).dtype):  # the diagonal's imaginary part is ignored
        real = ew.convert_element_type(ew.real(full), get_aval(x).dtype)
        eye = eye_like(x)
        full = ew.add(ew.mul(full, ew.sub(full_like(eye, 1), eye)), ew.mul(real, eye))
    return full


def _frobenius_sq(x):
    nd = get_aval(x).ndim
    mag = ew.abs(x)
    return reduce_sum(ew.mul(mag, mag), (nd - 2, nd - 1))


def _refine_eigh(a, v):
    dtype = get_aval(v).dtype
    aval = get_aval(v)
    nd = aval.ndim
    eye = eye_like(v)
    r = ew.sub(eye, matmul(mH(v), v))
    s = matmul(matmul(mH(v), a), v)
    # Symmetrized, so that E + E^H = R and the step keeps X orthonormal: rounding makes the
    # two halves of S differ by ~eps |A|, which 1 / gap would turn into a skew error.
    s = ew.mul(ew.add(s, mH(s)), _scalar(0.5, s))
    s_diag = ew.real(diagonal(s)) if dtypes.is_complex(dtype) else diagonal(s)
    r_diag = ew.real(diagonal(r)) if dtypes.is_complex(dtype) else diagonal(r)
    w_new = ew.div(s_diag, ew.sub(full_like(r_diag, 1), r_diag))
    wc = ew.convert_element_type(w_new, dtype)
    w_col = broadcast_in_dim(wc, aval.shape, _dims_but(nd, -2))   # [i, j] = w_j
    w_row = broadcast_in_dim(wc, aval.shape, _dims_but(nd, -1))   # [i, j] = w_i
    off_s = ew.sub(s, ew.mul(w_col, eye))
    delta = ew.mul(ew.add(ew.sqrt(_frobenius_sq(off_s)),
                          ew.sqrt(ew.mul(_frobenius_sq(a), _frobenius_sq(r)))),
                   _scalar(2, w_new))
    delta = broadcast_in_dim(delta, aval.shape, tuple(range(nd - 2)))
    gap = ew.sub(w_col, w_row)
    separated = ew.gt(ew.abs(gap), ew.convert_element_type(delta, get_aval(w_new).dtype))
    safe_gap = ew.select(separated, gap, full_like(gap, 1))
    coupling = ew.add(s, ew.mul(w_col, r))
    rotate = ew.div(coupling, safe_gap)
    # Rotate a pair only where its coupling is above rounding noise (eps |A|_F: a noise
    # rotation over a tiny gap is no better than none, and its square costs orthogonality)
    # and the rotation is small enough for the first-order step.
    real = get_aval(w_new).dtype
    noise = ew.mul(ew.sqrt(_frobenius_sq(a)),
                   np.asarray(np.finfo(real).eps, real))
    noise = broadcast_in_dim(noise, aval.shape, tuple(range(nd - 2)))
    apply = ew.bitwise_and(ew.bitwise_and(separated, ew.gt(ew.abs(coupling), noise)),
                           ew.lt(ew.abs(rotate), full_like(ew.abs(rotate),
                                                           _REFINE_MAX_ROTATION)))
    e = ew.select(apply, rotate, ew.mul(r, _scalar(0.5, r)))
    return ew.add(v, matmul(v, e)), w_new


_refined_eigh_fns: dict = {}


def _refined_eigh_fn(lower: bool, sort_eigenvalues: bool):
    """``eigh_p`` plus one refinement step, differentiated as a whole (one custom_jvp per
    flag pair), for 64-bit inputs."""
    key = (lower, sort_eigenvalues)
    fn = _refined_eigh_fns.get(key)
    if fn is None:
        def solve(x):
            v, w = eigh_p.bind(x, lower=lower, sort_eigenvalues=sort_eigenvalues)
            a = _hermitian_from(x, lower)
            for _ in range(_REFINE_STEPS):
                v, w = _refine_eigh(a, v)
            return v, w

        def jvp(primals, tangents):
            (x,), (dx,) = primals, tangents
            v, w = fn(x)   # differentiable itself, for higher orders
            return (v, w), _eigh_tangents(v, w, _hermitian_from(dx, lower))
        fn = _refined_eigh_fns[key] = custom_jvp(solve)
        fn.defjvp(jvp)
    return fn


def _dims_but(ndim: int, skip: int) -> tuple:
    """The broadcast dimensions that put a (..., n) vector along every axis but ``skip``."""
    skip %= ndim
    return tuple(d for d in range(ndim) if d != skip)


def diagonal(x):
    """The diagonal of each matrix, as a (..., n) array."""
    return reduce_sum(ew.mul(x, eye_like(x)), (get_aval(x).ndim - 1,))


eigh_p.def_jvp(_eigh_jvp)


@eigh_p.def_batch
def _eigh_batch(axis, args, dims, **params):
    (x,) = _batch_front(args, dims, axis.size)
    return eigh_p.bind(x, **params), [0, 0]


def all_finite(x):
    """Per matrix: whether every entry is finite."""
    nd = get_aval(x).ndim
    finite = ew.is_finite(ew.real(x) if dtypes.is_complex(get_aval(x).dtype) else x)
    return reduce_and(finite, (nd - 2, nd - 1))
