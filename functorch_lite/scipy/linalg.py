"""``functorch_lite.scipy.linalg`` (as ``jax.scipy.linalg``): SciPy's names and conventions
for the decompositions of ``functorch_lite.numpy.linalg`` (Cholesky factors upper by
default, ``qr`` with ``mode="full"``, ``eigh`` returning ``(w, v)``) and triangular and
Cholesky solves. ``overwrite_*`` and ``check_finite`` are accepted and ignored (arrays
are immutable; nothing is checked), as in JAX.
"""
from __future__ import annotations

from typing import Any

from functorch_lite import lax
from functorch_lite.core.avals import get_aval
from functorch_lite.lax import decompositions as dec
from functorch_lite.lax import lu as _lu
from functorch_lite.lax.polar_svd import qdwh
from functorch_lite.numpy import linalg_solve as _np_linalg
from functorch_lite.numpy import linalg_svd as _np_svd
from functorch_lite.numpy.linalg_solve import _matrices
from functorch_lite.scipy.linalg_matrices import (  # noqa: F401
    block_diag, circulant, companion, convolution_matrix, dft, expm, expm_frechet, fiedler,
    fiedler_companion, hadamard, hankel, helmert, hilbert, invhilbert, invpascal, leslie,
    pascal, toeplitz)
from functorch_lite.scipy.linalg_extra import (  # noqa: F401
    eigh_tridiagonal, funm, hessenberg, qr_multiply, rsf2csf, schur, solve_sylvester, sqrtm)

__all__ = ["cholesky", "cho_factor", "cho_solve", "solve_triangular", "solve", "inv", "det",
           "eigh", "qr", "svd", "polar", "lu", "lu_factor", "lu_solve",
           "block_diag", "circulant", "companion", "convolution_matrix", "dft", "expm",
           "expm_frechet", "fiedler", "fiedler_companion", "hadamard", "hankel", "helmert",
           "hilbert", "invhilbert", "invpascal", "leslie", "pascal", "toeplitz",
           "hessenberg", "schur", "rsf2csf", "sqrtm", "funm", "solve_sylvester", "qr_multiply",
           "eigh_tridiagonal"]


def cholesky(a: Any, lower: bool = False, overwrite_a: bool = False,
             check_finite: bool = True):
    """The Cholesky factor of each Hermitian positive-definite matrix: upper ``U`` with
    ``a = U^H U`` by default, lower ``L`` (``a = L L^H``) with ``lower=True``. Only that
    triangle of ``a`` is read (as SciPy and JAX)."""
    (a,) = _matrices("cholesky", a)
    factor = dec.cholesky(a if lower else dec.mH(a), symmetrize_input=False)
    return factor if lower else dec.mH(factor)


def cho_factor(a: Any, lower: bool = False, overwrite_a: bool = False,
               check_finite: bool = True):
    """``(c, lower)`` for ``cho_solve``: the factor and which triangle it is."""
    return cholesky(a, lower=lower), lower


def _as_matrix_rhs(name: str, a, b):
    a, b = _matrices(name, a, b, square=False)
    vector = get_aval(b).ndim == get_aval(a).ndim - 1
    if vector:
        b = lax.expand_dims(b, (get_aval(b).ndim,))
    return a, b, vector


def _done(x, vector: bool):
    return lax.squeeze(x, (get_aval(x).ndim - 1,)) if vector else x


def solve_triangular(a: Any, b: Any, trans: int | str = 0, lower: bool = False,
                     unit_diagonal: bool = False, overwrite_b: bool = False,
                     debug: Any = None, check_finite: bool = True):
    """``x`` with ``op(a) @ x == b`` for triangular ``a`` (its ``lower`` or upper triangle
    is read); ``trans``: 0/'N' (a), 1/'T' (a^T) or 2/'C' (a^H). ``b`` is (..., m) or
    (..., m, n)."""
    modes = {0: (False, False), "N": (False, False), 1: (True, False), "T": (True, False),
             2: (True, True), "C": (True, True)}
    if trans not in modes:
        raise ValueError(f"Invalid 'trans' value {trans!r}; expected 0, 1, 2, 'N', 'T' or "
                         "'C'")
    transpose_a, conjugate_a = modes[trans]
    a, b, vector = _as_matrix_rhs("solve_triangular", a, b)
    x = dec.triangular_solve(a, b, left_side=True, lower=lower, transpose_a=transpose_a,
                             conjugate_a=conjugate_a, unit_diagonal=unit_diagonal)
    return _done(x, vector)


def cho_solve(c_and_lower: tuple, b: Any, overwrite_b: bool = False,
              check_finite: bool = True):
    """``x`` with ``a @ x == b``, given ``(c, lower) = cho_factor(a)``."""
    c, lower = c_and_lower
    c, b, vector = _as_matrix_rhs("cho_solve", c, b)
    # a = L L^H (lower) or U^H U: two triangular solves.
    first = dec.triangular_solve(c, b, left_side=True, lower=lower, transpose_a=not lower,
                                 conjugate_a=not lower)
    x = dec.triangular_solve(c, first, left_side=True, lower=lower, transpose_a=lower,
                             conjugate_a=lower)
    return _done(x, vector)


def solve(a: Any, b: Any, lower: bool = False, overwrite_a: bool = False,
          overwrite_b: bool = False, debug: bool = False, check_finite: bool = True,
          assume_a: str = "gen"):
    """``x`` with ``a @ x == b``; ``assume_a="pos"`` (or "her"/"sym" positive definite)
    solves through a Cholesky factorization reading the ``lower`` or upper triangle."""
    if assume_a not in ("gen", "sym", "her", "pos"):
        raise ValueError(f"Expected assume_a to be one of 'gen', 'sym', 'her', 'pos'; got "
                         f"{assume_a!r}")
    if assume_a != "pos":
        a, b, vector = _as_matrix_rhs("solve", a, b)
        return _done(_np_linalg.solve(a, b), vector)
    (a,) = _matrices("solve", a)
    # The factorization reads a lower triangle: the upper one, given, is its adjoint.
    factor = dec.cholesky(a if lower else dec.mH(a), symmetrize_input=False)
    return cho_solve((factor, True), b)


def inv(a: Any, overwrite_a: bool = False, check_finite: bool = True):
    return _np_linalg.inv(a)


def det(a: Any, overwrite_a: bool = False, check_finite: bool = True):
    return _np_linalg.det(a)


def eigh(a: Any, b: Any = None, lower: bool = True, eigvals_only: bool = False,
         overwrite_a: bool = False, overwrite_b: bool = False, turbo: bool = True,
         eigvals: Any = None, type: int = 1, check_finite: bool = True):
    """``(w, v)`` (or ``w`` with ``eigvals_only``) of each Hermitian matrix, reading its
    ``lower`` or upper triangle. Generalized problems (``b``) are not supported."""
    if b is not None:
        raise NotImplementedError("Only the b=None case of eigh is implemented")
    if type != 1:
        raise NotImplementedError("Only the type=1 case of eigh is implemented.")
    if eigvals is not None:
        raise NotImplementedError("Only the eigvals=None case of eigh is implemented.")
    w, v = _np_linalg.eigh(a, UPLO="L" if lower else "U", symmetrize_input=False)
    return w if eigvals_only else (w, v)


def qr(a: Any, overwrite_a: bool = False, lwork: Any = None, mode: str = "full",
       pivoting: bool = False, check_finite: bool = True):
    """``(q, r)`` with ``mode="full"`` (q m x m) or ``"economic"``; ``(r,)`` with
    ``mode="r"``; ``(h, tau)`` with ``mode="raw"``."""
    if pivoting:
        raise NotImplementedError("qr with pivoting=True is not supported")
    if mode not in ("full", "economic", "r", "raw"):
        raise ValueError(f"Unsupported QR decomposition mode '{mode}'")
    if mode == "raw":
        return tuple(_np_linalg.qr(a, mode="raw"))
    q, r = _np_linalg.qr(a, mode="complete" if mode in ("full", "r") else "reduced")
    return (r,) if mode == "r" else (q, r)


def svd(a: Any, full_matrices: bool = True, compute_uv: bool = True,
        overwrite_a: bool = False, check_finite: bool = True, lapack_driver: str = "gesdd"):
    """``(u, s, vh)`` with ``a = u @ diag(s) @ vh`` (``s`` alone without ``compute_uv``);
    ``lapack_driver`` is accepted and ignored (one algorithm: see ``lax.linalg.svd``)."""
    out = _np_svd.svd(a, full_matrices=full_matrices, compute_uv=compute_uv)
    return tuple(out) if compute_uv else out


def polar(a: Any, side: str = "right", *, method: str = "qdwh", eps: float | None = None,
          max_iterations: int | None = None):
    """``(u, p)``: ``a = u p`` (``side="right"``, ``p`` n x n) or ``a = p u`` (``"left"``,
    ``p`` m x m), ``u`` with orthonormal rows or columns and ``p`` Hermitian positive
    semi-definite. ``method="qdwh"`` (the polar iteration) or ``"svd"``."""
    if side not in ("right", "left"):
        raise ValueError("The argument `side` must be either 'right' or 'left'.")
    if method not in ("qdwh", "svd"):
        raise ValueError(f"Unknown polar decomposition method {method!r}.")
    (a,) = _matrices("polar", a, square=False)
    m, n = get_aval(a).shape[-2:]
    if method == "svd":
        w, s, vh = _np_svd.svd(a, full_matrices=False)
        u = dec.matmul(w, vh)
        basis = dec.mH(vh) if side == "right" else w      # p = basis diag(s) basis^H
    else:
        tall = m >= n
        q, h, _, _ = qdwh(a if tall else dec.mH(a), eps=eps, max_iterations=max_iterations)
        u = q if tall else dec.mH(q)
        if (side == "right") == tall:  # h itself is the factor asked for
            return u, h
        # The other side's factor: q h q^H (a = q h, so q h q^H q = a on that side).
        return u, dec.matmul(dec.matmul(q, h), dec.mH(q))
    s = lax.convert_element_type(s, get_aval(basis).dtype)
    nd = get_aval(basis).ndim
    scaled = lax.mul(basis, lax.broadcast_in_dim(s, get_aval(basis).shape,
                                                 tuple(range(nd - 2)) + (nd - 1,)))
    return u, dec.matmul(scaled, dec.mH(basis))


def lu(a: Any, permute_l: bool = False, overwrite_a: bool = False,
       check_finite: bool = True):
    """``(p, l, u)`` with ``a = p @ l @ u`` (``p`` a permutation matrix, ``l`` unit lower
    m x k, ``u`` upper k x n), or ``(p @ l, u)`` with ``permute_l``."""
    (a,) = _matrices("lu", a, square=False)
    m, n = get_aval(a).shape[-2:]
    k = min(m, n)
    batch = get_aval(a).shape[:-2]
    zeros = (0,) * len(batch)
    packed, _, perm = _lu.lu(a)
    l_part = lax.slice(packed, zeros + (0, 0), batch + (m, k))
    l_mat = lax.add(dec.triangle(l_part, lower=True, k=-1), dec.eye_like(l_part))
    u_mat = dec.triangle(lax.slice(packed, zeros + (0, 0), batch + (k, n)), lower=False)
    # a[perm] = l u, so a = P^T l u with P the matrix that takes rows in perm's order.
    p = dec.mT(_lu._permutation_matrix(perm, get_aval(a).dtype))
    if permute_l:
        return dec.matmul(p, l_mat), u_mat
    return p, l_mat, u_mat


def lu_factor(a: Any, overwrite_a: bool = False, check_finite: bool = True):
    """``(lu, piv)``: the packed factors and LAPACK's pivot indices, for ``lu_solve``."""
    (a,) = _matrices("lu_factor", a, square=False)
    packed, pivots, _ = _lu.lu(a)
    return packed, pivots


def lu_solve(lu_and_piv: tuple, b: Any, trans: int = 0, overwrite_b: bool = False,
             check_finite: bool = True):
    """``x`` with ``a x = b`` (``trans=0``), ``a^T x = b`` (1) or ``a^H x = b`` (2), from
    ``lu_factor(a)``; ``b`` (n,) or (..., n, k)."""
    packed, pivots = lu_and_piv
    packed, b, vector = _as_matrix_rhs("lu_solve", packed, b)
    if trans not in (0, 1, 2):
        raise ValueError(f"'trans' value must be 0, 1, or 2, got {trans}")
    n = get_aval(packed).shape[-1]
    if get_aval(packed).shape[-2] != n:
        raise ValueError(f"lu_solve: the LU factors must be square, got shape "
                         f"{get_aval(packed).shape}")
    perm = _lu.lu_pivots_to_permutation(pivots, n)
    x = _lu.lu_solve(packed, perm, b, trans)
    return _done(x, vector)
