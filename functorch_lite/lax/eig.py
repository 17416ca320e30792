"""The eigendecomposition of general (non-Hermitian) matrices, JAX's ``lax.linalg.eig``.

XLA expands no general eigensolver, so it is written here, in complex arithmetic:

1. The complex Schur form ``A = Z T Z^H`` (``T`` upper triangular, ``Z`` unitary) by the
   shifted QR iteration: with the active leading block ``T11`` (m x m) and a Wilkinson
   shift ``mu`` (the eigenvalue of ``T11``'s trailing 2 x 2 block nearer its last entry),
   ``T11 - mu I = Q R`` and ``T <- Q^H T Q`` with ``Q`` acting on the active rows only.
   The step is taken on the whole matrix: the QR of ``blockdiag(T11 - mu I, I)`` is
   ``blockdiag(Q1, I) blockdiag(R1, I)``, so no dynamic shapes are needed. When the last
   active row's off-diagonal part is negligible, ``m`` shrinks by one. Every tenth step
   without a deflation uses an exceptional shift, which breaks cycles.
2. The eigenvalues are ``diag(T)``; the eigenvectors of ``T`` come from one batched
   triangular solve per eigenvalue (``(T - t_kk I) y = 0`` with ``y_k = 1``), then
   ``v = Z y``, normalized as LAPACK's ``geev`` does (unit 2-norm, the largest-magnitude
   entry real and positive). Left eigenvectors are the columns of ``(V^-1)^H``,
   normalized the same way.

Each QR step costs O(n^3) (no Hessenberg reduction), so the whole is O(n^4): meant for the
small and medium matrices eig is used on in practice. The eigenvalues come in the Schur
form's order, which is not LAPACK's.

The derivative is nondegenerate perturbation theory (``dw = diag(V^-1 dA V)``, and for the
vectors ``V (F * V^-1 dA V)`` plus the change that keeps the normalization), as JAX's;
like JAX, eigenvector derivatives need ``enable_eigvec_derivs=True``.
"""
from __future__ import annotations

import enum
from typing import Any

import numpy as np

from functorch_lite.core.avals import get_aval
from functorch_lite.lax import elementwise as ew
from functorch_lite.lax._common import as_operand
from functorch_lite.lax.control_flow.loops import while_loop
from functorch_lite.lax.custom_derivatives import custom_jvp
from functorch_lite.lax.decompositions import (check_matrix, diagonal, eye_like, matmul, mH,
                                               mT, qr_factors, triangular_solve)
from functorch_lite.lax.reductions import argmax, reduce_max, reduce_or, reduce_sum
from functorch_lite.lax.shapes import broadcast_in_dim, broadcasted_iota, full_like, reshape

__all__ = ["eig", "EigImplementation"]


class EigImplementation(enum.Enum):
    """JAX's choice of eig backend; every choice runs the one algorithm here."""
    LAPACK = "lapack"
    MAGMA = "magma"
    CUSOLVER = "cusolver"


def _complex_dtype(dtype) -> np.dtype:
    return np.dtype(np.complex128 if np.dtype(dtype) in (np.float64, np.complex128)
                    else np.complex64)


def _pick(x, mask, axes):
    """The entry of ``x`` where ``mask`` holds, summed away over ``axes``."""
    return reduce_sum(ew.select(mask, x, full_like(x, 0)), axes)


def _per_matrix(v, shape):
    """A (...,) value broadcast over matrices of ``shape``."""
    return broadcast_in_dim(v, shape, tuple(range(len(shape) - 2)))


# ---------------------------------------------------------------------------------------
# the complex Schur form

def _schur(a):
    """``(t, z)`` with ``a = z t z^H``: ``t`` upper triangular, ``z`` unitary."""
    shape = get_aval(a).shape
    nd = len(shape)
    n = shape[-1]
    dtype = get_aval(a).dtype
    real = np.dtype(np.float64 if dtype == np.complex128 else np.float32)
    eps = float(np.finfo(real).eps)
    rows = broadcasted_iota(np.int32, shape, nd - 2)
    cols = broadcasted_iota(np.int32, shape, nd - 1)
    eye = eye_like(a)
    batch_axes = tuple(range(nd - 2))
    both = (nd - 2, nd - 1)
    scale = reduce_max(ew.abs(a), both)                      # for the negligible test
    max_steps = 30 * max(n, 1)

    def entry(t, i, j):
        return _pick(t, ew.bitwise_and(ew.eq(rows, i), ew.eq(cols, j)), both)

    def cond(state):
        _, _, active, steps, _ = state
        unfinished = ew.gt(active, np.int32(1))
        if batch_axes:
            unfinished = reduce_or(unfinished, batch_axes)
        return ew.bitwise_and(unfinished, ew.lt(steps, np.int32(max_steps)))

    def body(state):
        t, z, active, steps, stalled = state
        m = _per_matrix(active, shape)
        # Wilkinson shift from the active block's trailing 2 x 2 [[p, q], [r, s]].
        last, prev = ew.sub(active, np.int32(1)), ew.sub(active, np.int32(2))
        last_m, prev_m = _per_matrix(last, shape), _per_matrix(prev, shape)
        p, q = entry(t, prev_m, prev_m), entry(t, prev_m, last_m)
        r, s = entry(t, last_m, prev_m), entry(t, last_m, last_m)
        half = np.asarray(0.5, dtype)
        mean = ew.mul(ew.add(p, s), half)
        disc = ew.sqrt(ew.add(ew.mul(ew.mul(ew.sub(p, s), ew.sub(p, s)), np.asarray(0.25, dtype)),
                              ew.mul(q, r)))
        root1, root2 = ew.add(mean, disc), ew.sub(mean, disc)
        nearer = ew.le(ew.abs(ew.sub(root1, s)), ew.abs(ew.sub(root2, s)))
        shift = ew.select(nearer, root1, root2)
        # Exceptional shift after ten steps without a deflation.
        exceptional = ew.eq(ew.rem(stalled, np.int32(10)), np.int32(9))
        kick = ew.add(s, ew.convert_element_type(ew.mul(ew.abs(r), np.asarray(1.5, real)),
                                                 dtype))
        shift = ew.select(exceptional, kick, shift)
        active_mask = ew.bitwise_and(ew.lt(rows, m), ew.lt(cols, m))
        shifted = ew.select(active_mask, ew.sub(t, ew.mul(_per_matrix(shift, shape), eye)),
                            eye)
        qmat, _ = qr_factors(shifted, False)
        t = matmul(matmul(mH(qmat), t), qmat)
        z = matmul(z, qmat)
        # Deflate when row m-1's entries left of the diagonal (within the block) are tiny.
        off = ew.bitwise_and(ew.eq(rows, last_m), ew.lt(cols, last_m))
        off_norm = reduce_max(ew.abs(ew.select(off, t, full_like(t, 0))), both)
        diag_mag = ew.add(ew.abs(s), ew.abs(p))
        tiny = ew.le(off_norm, ew.mul(np.asarray(eps, real),
                                      ew.max(diag_mag, ew.mul(scale, np.asarray(eps, real)))))
        deflate = ew.bitwise_and(tiny, ew.gt(active, np.int32(1)))
        # Zero what was deflated, so the Schur form is exactly triangular there.
        t = ew.select(ew.bitwise_and(_per_matrix(deflate, shape), off), full_like(t, 0), t)
        active = ew.select(deflate, ew.sub(active, np.int32(1)), active)
        stalled = ew.select(deflate, full_like(stalled, 0), ew.add(stalled, np.int32(1)))
        return t, z, active, ew.add(steps, np.int32(1)), stalled

    counts = ew.convert_element_type(full_like(scale, 0), np.int32)       # (...)
    state = (a, eye, ew.add(counts, np.int32(n)), np.int32(0), counts)
    t, z, active, _, _ = while_loop(cond, body, state)
    # Not converged (more than max_steps): NaNs, as JAX gives for a failed geev.
    failed = _per_matrix(ew.gt(active, np.int32(1)), shape)
    nan = full_like(t, np.nan)
    t = ew.select(ew.bitwise_and(failed, ew.le(rows, cols)), nan, ew.select(
        ew.gt(rows, cols), full_like(t, 0), t))
    return t, ew.select(failed, nan, z)


# ---------------------------------------------------------------------------------------
# eigenvectors

def _normalize(v):
    """Unit 2-norm columns whose largest-magnitude entry is real and positive."""
    shape = get_aval(v).shape
    nd = len(shape)
    mag = ew.abs(v)
    norm = ew.sqrt(reduce_sum(ew.mul(mag, mag), (nd - 2,)))
    k = argmax(mag, nd - 2, np.int32)
    rows = broadcasted_iota(np.int32, shape, nd - 2)
    at_k = ew.eq(rows, broadcast_in_dim(k, shape, tuple(range(nd - 2)) + (nd - 1,)))
    top = _pick(v, at_k, (nd - 2,))
    top_mag = ew.abs(top)
    safe_mag = ew.select(ew.eq(top_mag, full_like(top_mag, 0)), full_like(top_mag, 1), top_mag)
    phase = ew.div(ew.conj(top), ew.convert_element_type(safe_mag, get_aval(v).dtype))
    safe_norm = ew.select(ew.eq(norm, full_like(norm, 0)), full_like(norm, 1), norm)
    factor = ew.div(phase, ew.convert_element_type(safe_norm, get_aval(v).dtype))
    return ew.mul(v, broadcast_in_dim(factor, shape, tuple(range(nd - 2)) + (nd - 1,)))


def _triangular_eigenvectors(t):
    """Columns ``y_k`` with ``t y_k = t_kk y_k``, ``y_k[k] = 1`` and zeros below ``k``."""
    shape = get_aval(t).shape
    nd = len(shape)
    n = shape[-1]
    dtype = get_aval(t).dtype
    real = np.dtype(np.float64 if dtype == np.complex128 else np.float32)
    # One system per k, stacked on a new axis just before the matrix axes:
    # (T - t_kk I) restricted to the leading k x k block (identity elsewhere),
    # right-hand side -T[:k, k].
    big = shape[:-2] + (n, n, n)                         # [..., k, i, j]
    k_ax, i_ax, j_ax = nd - 2, nd - 1, nd
    k_ids = broadcasted_iota(np.int32, big, k_ax)
    i_ids = broadcasted_iota(np.int32, big, i_ax)
    j_ids = broadcasted_iota(np.int32, big, j_ax)
    tb = broadcast_in_dim(t, big, tuple(range(nd - 2)) + (i_ax, j_ax))
    diag = diagonal(t)                                   # (..., n)
    tkk = broadcast_in_dim(diag, big, tuple(range(nd - 2)) + (k_ax,))
    # A tiny pivot (a repeated eigenvalue) is perturbed to eps |T|, as LAPACK's trevc does.
    tiny = ew.max(ew.mul(reduce_max(ew.abs(t), (nd - 2, nd - 1)),
                         np.asarray(np.finfo(real).eps, real)), np.asarray(np.finfo(real).tiny,
                                                                           real))
    tiny = broadcast_in_dim(ew.convert_element_type(tiny, dtype), big, tuple(range(nd - 2)))
    on_diag = ew.eq(i_ids, j_ids)
    shifted = ew.sub(tb, ew.mul(tkk, ew.convert_element_type(on_diag, dtype)))
    small = ew.lt(ew.abs(shifted), ew.abs(tiny))
    shifted = ew.select(ew.bitwise_and(on_diag, small), tiny, shifted)
    inside = ew.bitwise_and(ew.lt(i_ids, k_ids), ew.lt(j_ids, k_ids))
    system = ew.select(inside, shifted, ew.convert_element_type(on_diag, dtype))
    col_k = _pick(tb, ew.eq(j_ids, k_ids), (j_ax,))      # (..., k, i): T[i, k]
    vec_shape = shape[:-2] + (n, n)
    k_v = broadcasted_iota(np.int32, vec_shape, nd - 2)
    i_v = broadcasted_iota(np.int32, vec_shape, nd - 1)
    rhs = ew.select(ew.lt(i_v, k_v), ew.neg(col_k), full_like(col_k, 0))
    y = triangular_solve(system, broadcast_in_dim(rhs, shape[:-2] + (n, n, 1),
                                                  tuple(range(nd))),
                         left_side=True, lower=False)
    y = reshape(y, vec_shape)
    y = ew.select(ew.eq(i_v, k_v), full_like(y, 1),
                  ew.select(ew.lt(i_v, k_v), y, full_like(y, 0)))
    # y[..., k, i] is entry i of eigenvector k: transpose to columns.
    return mT(y)


def _eig_factors(x):
    """``(w, vl, vr)`` of each square matrix, in complex arithmetic."""
    cdtype = _complex_dtype(get_aval(x).dtype)
    a = ew.convert_element_type(x, cdtype)
    t, z = _schur(a)
    w = diagonal(t)
    vr = _normalize(matmul(z, _triangular_eigenvectors(t)))
    return w, vr


# ---------------------------------------------------------------------------------------
# derivative and public function

def _left_from_right(vr):
    """Left eigenvectors (``vl^H A = w vl^H``): the columns of ``(V^-1)^H``, normalized."""
    q, r = qr_factors(vr, False)
    vinv = triangular_solve(r, mH(q), left_side=True, lower=False)     # V^-1 = R^-1 Q^H
    return _normalize(mH(vinv))


def _solve_v(v, b):
    """``V^-1 b`` through V's QR."""
    q, r = qr_factors(v, False)
    return triangular_solve(r, matmul(mH(q), b), left_side=True, lower=False)


def _vector_tangent(w, v, da):
    """``(dw, dv)`` with ``v``'s normalization held (JAX's rule)."""
    shape = get_aval(v).shape
    nd = len(shape)
    eye = eye_like(v)
    w_col = broadcast_in_dim(w, shape, tuple(range(nd - 2)) + (nd - 1,))   # [i, j] = w_j
    w_row = broadcast_in_dim(w, shape, tuple(range(nd - 1)))               # [i, j] = w_i
    f = ew.sub(ew.div(full_like(eye, 1), ew.add(eye, ew.sub(w_col, w_row))), eye)
    p = matmul(_solve_v(v, da), v)
    dw = diagonal(p)
    u = matmul(v, ew.mul(f, p))
    # dv_j = u_j + c_j v_j, c_j fixed by the unit norm and the real largest entry.
    k = argmax(ew.abs(v), nd - 2, np.int32)
    rows = broadcasted_iota(np.int32, shape, nd - 2)
    at_k = ew.eq(rows, broadcast_in_dim(k, shape, tuple(range(nd - 2)) + (nd - 1,)))
    re_part = ew.neg(ew.real(reduce_sum(ew.mul(ew.conj(v), u), (nd - 2,))))
    im_part = ew.neg(ew.div(ew.imag(_pick(u, at_k, (nd - 2,))),
                            ew.real(_pick(v, at_k, (nd - 2,)))))
    c = ew.complex(re_part, im_part)
    dv = ew.add(u, ew.mul(v, broadcast_in_dim(c, shape, tuple(range(nd - 2)) + (nd - 1,))))
    return dw, dv


_eig_fns: dict = {}


def _eig_fn(left: bool, right: bool, vector_derivs: bool):
    key = (left, right, vector_derivs)
    fn = _eig_fns.get(key)
    if fn is not None:
        return fn

    def solve(x):
        w, vr = _eig_factors(x)
        outs = [w]
        if left:
            outs.append(_left_from_right(vr))
        if right:
            outs.append(vr)
        return tuple(outs)

    def jvp(primals, tangents):
        (x,), (dx,) = primals, tangents
        if (left or right) and not vector_derivs:
            raise NotImplementedError(
                "Derivatives of non-symmetric eigenvectors are only valid under assumptions "
                "on the input that cannot be checked (distinct eigenvalues, no tie for the "
                "largest entry); pass enable_eigvec_derivs=True to lax.linalg.eig to opt in, "
                "as in JAX")
        outs = fn(x)
        w, vr = _eig_fn(False, True, True)(x) if not right else (outs[0], outs[-1])
        da = ew.convert_element_type(dx, get_aval(vr).dtype)
        dw, dvr = _vector_tangent(w, vr, da)
        tangents_out = [dw]
        if left:
            _, dvl = _vector_tangent(ew.conj(w), outs[1], mH(da))
            tangents_out.append(dvl)
        if right:
            tangents_out.append(dvr)
        return outs, tuple(tangents_out)

    fn = _eig_fns[key] = custom_jvp(solve)
    fn.defjvp(jvp)
    return fn


def eig(x: Any, *, compute_left_eigenvectors: bool = True,
        compute_right_eigenvectors: bool = True, enable_eigvec_derivs: bool = False,
        implementation: EigImplementation | None = None, use_magma: bool | None = None):
    """``[w, vl, vr]`` for each square matrix (``vl``, ``vr`` only when asked for):
    eigenvalues ``w`` and left/right eigenvectors, ``x vr = vr diag(w)`` and
    ``vl^H x = diag(w) vl^H``, all complex. Eigenvectors have unit 2-norm with their
    largest entry real. ``implementation`` and ``use_magma`` are accepted and unused."""
    del implementation, use_magma
    x = as_operand(x)
    check_matrix("eig", get_aval(x))
    fn = _eig_fn(bool(compute_left_eigenvectors), bool(compute_right_eigenvectors),
                 bool(enable_eigvec_derivs))
    return list(fn(x))
