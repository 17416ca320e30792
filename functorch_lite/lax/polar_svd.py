"""The singular value decomposition and the polar decomposition it is built on, JAX's
``lax.linalg.svd`` and ``lax.linalg.qdwh``.

XLA has no SVD of its own that every platform expands, so it is composed here from the
decompositions it does have (Householder QR and the Jacobi ``eigh``), the way JAX does it
on TPU:

1. ``x = q r`` reduces a tall matrix to its square ``r`` (a wide one is transposed first).
2. The polar decomposition ``r = u_p h`` (``u_p`` unitary, ``h`` Hermitian positive
   semi-definite) comes from QDWH, a scaled Halley iteration that drives every singular
   value of ``r / ||r||_F`` to 1; each step is one QR of a ``2n x n`` stack.
3. ``h = v diag(w) v^H`` (``eigh``); then ``r = (u_p v) diag(w) v^H`` is an SVD.

QDWH's weights depend only on a lower bound ``l`` of the smallest singular value. We use
``l = eps`` for every matrix, so the weights are numbers computed once in float64 and the
step count is fixed (4 in float32, 6 in float64): no data-dependent loop, and the result
is backward stable like LAPACK's. Singular values below ``eps * ||x||`` (numerically zero)
do not reach 1; their left vectors are made orthonormal again by a last QR.

The derivative is the textbook one (``d s = re diag(U^H dA V)`` and the vectors' rotations
``F * (S dS + dS^H S)``-style terms, with ``F_ij = 1 / (s_j^2 - s_i^2)``), written with
transposable operations only.
"""
from __future__ import annotations

import enum
from typing import Any

import numpy as np

from functorch_lite.core import dtypes
from functorch_lite.core.avals import get_aval
from functorch_lite.lax import elementwise as ew
from functorch_lite.lax._common import as_operand
from functorch_lite.lax.custom_derivatives import custom_jvp
from functorch_lite.lax.decompositions import (check_matrix, diagonal, eigh, eye_like, matmul,
                                               mH, qr_factors)
from functorch_lite.lax.reductions import reduce_and, reduce_sum
from functorch_lite.lax.shapes import (broadcast_in_dim, concatenate, full_like, reshape,
                                       slice as slice_)
from functorch_lite.lax.sorting import sort

__all__ = ["svd", "qdwh", "SvdAlgorithm"]


class SvdAlgorithm(enum.IntEnum):
    """JAX's algorithm hint for ``svd``. Every choice runs the one algorithm here (QR,
    then QDWH and ``eigh``); the hint only matters to JAX's platform kernels."""
    DEFAULT = 0
    QR = 1
    JACOBI = 2
    POLAR = 3


# ---------------------------------------------------------------------------------------
# small helpers on stacks of matrices

def _real_dtype(dtype) -> np.dtype:
    return np.dtype(np.float64 if np.dtype(dtype) in (np.float64, np.complex128)
                    else np.float32)


def _const(value, like):
    return np.asarray(value, get_aval(like).dtype)


def _block(x, rows, cols):
    """``x[..., rows[0]:rows[1], cols[0]:cols[1]]``."""
    aval = get_aval(x)
    batch = aval.shape[:-2]
    return slice_(x, (0,) * len(batch) + (rows[0], cols[0]),
                  batch + (rows[1], cols[1]))


def _scale_columns(x, d):
    """``x * d[..., None, :]``: column ``j`` of each matrix times ``d[..., j]``."""
    aval = get_aval(x)
    nd = aval.ndim
    return ew.mul(x, broadcast_in_dim(d, aval.shape, tuple(range(nd - 2)) + (nd - 1,)))


def _unit_phase(d):
    """``d / |d|`` with 1 where ``d == 0`` (the sign of a real ``d``)."""
    mag = ew.abs(d)
    zero = ew.eq(mag, full_like(mag, 0))
    if dtypes.is_complex(get_aval(d).dtype):
        safe = ew.select(zero, full_like(mag, 1), mag)
        phase = ew.div(d, ew.convert_element_type(safe, get_aval(d).dtype))
        return ew.select(zero, full_like(d, 1), phase)
    return ew.select(ew.lt(d, full_like(d, 0)), full_like(d, -1), full_like(d, 1))


def _frobenius(x):
    """``||x||_F`` of each matrix, as a real (...,) array."""
    nd = get_aval(x).ndim
    mag = ew.abs(x)
    return ew.sqrt(reduce_sum(ew.mul(mag, mag), (nd - 2, nd - 1)))


def _per_matrix(v, like):
    """A (...,) array broadcast over each matrix of ``like``'s shape."""
    aval = get_aval(like)
    v = ew.convert_element_type(v, aval.dtype)
    return broadcast_in_dim(v, aval.shape, tuple(range(aval.ndim - 2)))


# ---------------------------------------------------------------------------------------
# QDWH: the polar decomposition

def _qdwh_weights(dtype) -> list:
    """The ``(a, b, c)`` of each QDWH step for the lower bound ``l = eps`` of the smallest
    singular value, until ``l`` is within ``10 eps`` of 1 (Nakatsukasa, Bai and Gygi's
    dynamically weighted Halley map ``x -> x (a + b x^2) / (1 + c x^2)``, which sends the
    interval [l, 1] into [l', 1])."""
    eps = float(np.finfo(dtype).eps)
    low, steps = eps, []
    while 1 - low > 10 * eps:
        l2 = low * low
        gamma = (4 * (1 - l2) / (l2 * l2)) ** (1 / 3)
        a = np.sqrt(1 + gamma) + 0.5 * np.sqrt(8 - 4 * gamma + 8 * (2 - l2) /
                                               (l2 * np.sqrt(1 + gamma)))
        b = (a - 1) ** 2 / 4
        c = a + b - 1
        low = low * (a + b * l2) / (1 + c * l2)
        steps.append((a, b, c))
    return steps


_WEIGHTS = {np.dtype(np.float32): _qdwh_weights(np.float32),
            np.dtype(np.float64): _qdwh_weights(np.float64)}


def _qdwh_step(x, a, b, c):
    """One QR-based QDWH step: with ``[sqrt(c) x; I] = [q1; q2] r``,
    ``x' = (b / c) x + (a - b / c) / sqrt(c) q1 q2^H``, which equals
    ``x (a I + b x^H x) (I + c x^H x)^-1`` without forming ``x^H x``."""
    m, n = get_aval(x).shape[-2:]
    stacked = concatenate([ew.mul(x, _const(np.sqrt(c), x)),
                           eye_like(_block(x, (0, n), (0, n)))], get_aval(x).ndim - 2)
    q, _ = qr_factors(stacked, False)
    q1, q2 = _block(q, (0, m), (0, n)), _block(q, (m, m + n), (0, n))
    return ew.add(ew.mul(x, _const(b / c, x)),
                  ew.mul(matmul(q1, mH(q2)), _const((a - b / c) / np.sqrt(c), x)))


def _polar_unitary(x):
    """The unitary factor ``u_p`` of ``x = u_p h`` (``m >= n``), and the change of the
    last step (how far the iteration was from its fixed point), relative to ``||u_p||``."""
    norm = _frobenius(x)
    safe = ew.select(ew.eq(norm, full_like(norm, 0)), full_like(norm, 1), norm)
    u = ew.div(x, _per_matrix(safe, x))
    prev = u
    for a, b, c in _WEIGHTS[_real_dtype(get_aval(x).dtype)]:
        prev, u = u, _qdwh_step(u, a, b, c)
    change = ew.div(_frobenius(ew.sub(u, prev)), ew.max(_frobenius(u), full_like(norm, 1)))
    return u, change


def _hermitian_part(x):
    return ew.mul(ew.add(x, mH(x)), _const(0.5, x))


def qdwh(x: Any, *, is_hermitian: bool = False, max_iterations: int | None = None,
         eps: float | None = None, dynamic_shape: Any = None):
    """The polar decomposition ``x = u h`` of each ``m x n`` matrix (``m >= n``): ``u``
    with orthonormal columns and ``h`` Hermitian positive semi-definite. Returns
    ``(u, h, num_iters, is_converged)`` as JAX's. The iteration count is fixed by the
    dtype (4 steps in float32, 6 in float64, enough for any condition number up to
    ``1 / eps``); ``max_iterations`` below it raises, ``eps`` is the convergence test's
    tolerance (default: the dtype's). ``is_hermitian`` is accepted and unused, as JAX's."""
    del is_hermitian
    x = as_operand(x)
    aval = get_aval(x)
    check_matrix("qdwh", aval, square=False)
    if dynamic_shape is not None:
        raise NotImplementedError("qdwh: dynamic_shape (padded inputs) is not supported")
    m, n = aval.shape[-2:]
    if m < n:
        raise ValueError(f"qdwh: the input must have at least as many rows as columns, got "
                         f"shape {aval.shape}")
    steps = len(_WEIGHTS[_real_dtype(aval.dtype)])
    if max_iterations is not None and max_iterations < steps:
        raise ValueError(f"qdwh: max_iterations={max_iterations} is below the {steps} steps "
                         f"a {aval.dtype} input takes here")
    u, change = _polar_unitary(x)
    h = _hermitian_part(matmul(mH(u), x))
    tol = float(np.finfo(_real_dtype(aval.dtype)).eps) if eps is None else float(eps)
    converged = reduce_and(ew.le(change, full_like(change, (4 * tol) ** (1 / 3))),
                           tuple(range(len(aval.shape) - 2)))
    return u, h, np.int32(steps), converged


# ---------------------------------------------------------------------------------------
# SVD

def _square_svd(r, compute_uv: bool):
    """``(u, s, vh)`` of each square matrix ``r``, singular values descending."""
    u_p, _ = _polar_unitary(r)
    h = _hermitian_part(matmul(mH(u_p), r))
    v, w = eigh(h, symmetrize_input=False)
    # Descending |w|. h is semi-definite up to rounding: a slightly negative eigenvalue
    # w_i still gives r v_i = w_i u_p v_i, so s_i = |w_i| with u_i's sign flipped. Sorting
    # every row of v by the same key permutes its columns.
    nd = get_aval(v).ndim
    along_rows = tuple(range(nd - 2)) + (nd - 1,)
    key = broadcast_in_dim(ew.neg(ew.abs(w)), get_aval(v).shape, along_rows)
    phase = broadcast_in_dim(ew.convert_element_type(_unit_phase(w), get_aval(v).dtype),
                             get_aval(v).shape, along_rows)
    key, v, phase = sort((key, v, phase), dimension=nd - 1, num_keys=1)
    s = ew.neg(_block(key, (0, 1), (0, get_aval(v).shape[-1])))
    s = reshape(s, get_aval(s).shape[:-2] + get_aval(s).shape[-1:])
    if not compute_uv:
        return None, s, None
    u = matmul(u_p, ew.mul(v, phase))
    # Columns for numerically zero singular values are not unit length (QDWH did not
    # reach them): a QR keeps the others (to rounding) and completes an orthonormal set.
    q, rr = qr_factors(u, False)
    u = _scale_columns(q, _unit_phase(diagonal(rr)))
    return u, s, mH(v)


def _svd_factors(x, full_matrices: bool, compute_uv: bool):
    """``(u, s, vh)`` (``u``, ``vh`` None without ``compute_uv``), no derivative rule."""
    aval = get_aval(x)
    m, n = aval.shape[-2:]
    if m == 0 or n == 0:   # no singular values; full factors are identities
        s = broadcast_in_dim(np.zeros((), _real_dtype(aval.dtype)), aval.shape[:-2] + (0,), ())
        if not compute_uv:
            return None, s, None

        def eye(rows, cols):
            return eye_like(broadcast_in_dim(np.zeros((), aval.dtype),
                                             aval.shape[:-2] + (rows, cols), ()))
        return eye(m, m if full_matrices else 0), s, eye(n if full_matrices else 0, n)
    if m < n:
        u, s, vh = _svd_factors(mH(x), full_matrices, compute_uv)
        return (mH(vh) if compute_uv else None), s, (mH(u) if compute_uv else None)
    if m == n:
        return _square_svd(x, compute_uv)
    q, r = qr_factors(x, full_matrices and compute_uv)
    u_r, s, vh = _square_svd(_block(r, (0, n), (0, n)), compute_uv)
    if not compute_uv:
        return None, s, None
    u = matmul(_block(q, (0, m), (0, n)), u_r)
    if full_matrices:  # the rest of the complete q spans the orthogonal complement
        u = concatenate([u, _block(q, (0, m), (n, m))], get_aval(u).ndim - 1)
    return u, s, vh


def _svd_jvp(primals, tangents, full_matrices: bool, compute_uv: bool):
    (x,), (dx,) = primals, tangents
    m, n = get_aval(x).shape[-2:]
    if compute_uv and full_matrices and m != n:
        raise NotImplementedError("the derivative of svd with full_matrices=True is defined "
                                  "for square matrices only (as in JAX); use "
                                  "full_matrices=False")
    # Through svd itself, so that this rule can be differentiated again.
    u, s, vh = _svd_fn(False, True)(x)
    v, uh = mH(vh), mH(u)
    ds_mat = matmul(matmul(uh, dx), v)                      # U^H dA V  (k x k)
    ds = diagonal(ds_mat)
    ds = ew.real(ds) if dtypes.is_complex(get_aval(ds).dtype) else ds
    if not compute_uv:
        return s, ds
    dtype = get_aval(x).dtype
    aval = get_aval(ds_mat)
    nd = aval.ndim
    sc = ew.convert_element_type(s, dtype)
    s_col = broadcast_in_dim(sc, aval.shape, tuple(range(nd - 2)) + (nd - 1,))  # s_j
    s_row = broadcast_in_dim(sc, aval.shape, tuple(range(nd - 1)))               # s_i
    eye = eye_like(ds_mat)
    # F_ij = 1 / (s_j^2 - s_i^2) off the diagonal, 0 on it.
    gaps = ew.mul(ew.add(s_col, s_row), ew.sub(s_col, s_row))
    f = ew.sub(ew.div(full_like(gaps, 1), ew.add(gaps, eye)), eye)
    ds_s = ew.mul(ds_mat, s_col)     # dS S   (column j scaled by s_j)
    s_ds = ew.mul(s_row, ds_mat)     # S dS   (row i scaled by s_i)
    du = matmul(u, ew.mul(f, ew.add(ds_s, mH(ds_s))))
    dv = matmul(v, ew.mul(f, ew.add(s_ds, mH(s_ds))))
    if dtypes.is_complex(dtype):
        # Each pair (u_i, v_i) is defined up to a common phase; fix it by putting the
        # imaginary part of diag(U^H dA V) into du: i Im(dS_ii) / s_i (0 where s_i = 0).
        zero = ew.eq(s, full_like(s, 0))
        inv_s = ew.select(zero, full_like(s, 0),
                          ew.div(full_like(s, 1), ew.select(zero, full_like(s, 1), s)))
        skew = ew.mul(ew.sub(ds_mat, mH(ds_mat)), _const(0.5, ds_mat))
        du = ew.add(du, matmul(u, _scale_columns(ew.mul(skew, eye),
                                                 ew.convert_element_type(inv_s, dtype))))
    if m > n:    # the part of dA V outside U's span, column j over s_j
        dav = matmul(dx, v)
        rest = ew.sub(dav, matmul(u, matmul(uh, dav)))
        du = ew.add(du, _scale_columns(rest, ew.div(full_like(sc, 1), sc)))
    elif n > m:  # likewise dA^H U outside V's span
        dahu = matmul(mH(dx), u)
        rest = ew.sub(dahu, matmul(v, matmul(vh, dahu)))
        dv = ew.add(dv, _scale_columns(rest, ew.div(full_like(sc, 1), sc)))
    return (u, s, vh), (du, ds, mH(dv))


_svd_fns: dict = {}


def _svd_fn(full_matrices: bool, compute_uv: bool):
    """``svd`` with its derivative, one custom_jvp per flag pair."""
    key = (full_matrices, compute_uv)
    fn = _svd_fns.get(key)
    if fn is None:
        if compute_uv:
            fn = custom_jvp(lambda x: _svd_factors(x, full_matrices, True))
        else:
            fn = custom_jvp(lambda x: _svd_factors(x, False, False)[1])
        fn.defjvp(lambda p, t: _svd_jvp(p, t, full_matrices, compute_uv))
        _svd_fns[key] = fn
    return fn


def svd(x: Any, *, full_matrices: bool = True, compute_uv: bool = True,
        subset_by_index: tuple | None = None, algorithm: SvdAlgorithm | None = None):
    """``x = u diag(s) vh`` for each ``m x n`` matrix: returns ``(u, s, vh)``, or ``s``
    alone without ``compute_uv``, singular values descending (as JAX's ``lax.linalg.svd``).
    ``u`` is ``m x m`` with ``full_matrices``, else ``m x k`` (``k = min(m, n)``); ``vh``
    likewise ``n x n`` or ``k x n``. ``subset_by_index=(start, end)`` keeps singular values
    ``start..end-1`` (indices into the descending order; needs ``full_matrices=False`` when
    vectors are computed). ``algorithm`` is a hint every choice of which runs the QDWH
    method (see the module docstring)."""
    x = as_operand(x)
    aval = get_aval(x)
    if aval.ndim < 2:   # JAX's type for this one
        raise TypeError(f"svd: input must have rank at least 2, got shape {aval.shape}")
    check_matrix("svd", aval, square=False)
    if algorithm is not None and not isinstance(algorithm, SvdAlgorithm):
        raise TypeError(f"svd: algorithm must be a SvdAlgorithm or None, got {algorithm!r}")
    k = min(aval.shape[-2:])
    if subset_by_index is not None:
        start, end = (int(i) for i in subset_by_index)
        if compute_uv and full_matrices:
            raise ValueError("svd: subset_by_index requires full_matrices=False")
        if not 0 <= start <= end <= k:
            raise ValueError(f"svd: subset_by_index={tuple(subset_by_index)} is not a range "
                             f"within [0, {k}]")
        if (start, end) == (0, k):
            subset_by_index = None
    out = _svd_fn(bool(full_matrices) and compute_uv, bool(compute_uv))(x)
    if subset_by_index is None:
        return tuple(out) if compute_uv else out
    if not compute_uv:
        return _last_slice(out, start, end)
    u, s, vh = out
    return (_block(u, (0, aval.shape[-2]), (start, end)), _last_slice(s, start, end),
            _block(vh, (start, end), (0, aval.shape[-1])))


def _last_slice(v, start, end):
    aval = get_aval(v)
    batch = aval.shape[:-1]
    return slice_(v, (0,) * len(batch) + (start,), batch + (end,))
