"""The decompositions and solvers of ``functorch_lite.numpy.linalg`` (as ``jax.numpy.linalg``):
``cholesky``, ``qr``, ``eigh``, ``eigvalsh``, ``eig``, ``eigvals``, ``solve``, ``inv``,
``det``, ``slogdet``, and what is built on them and on products: ``matrix_power``,
``multi_dot``, ``tensorinv``, ``tensorsolve``.

They work on stacks of matrices (the two innermost axes). ``solve``, ``inv``, ``det`` and
``slogdet`` go through a Householder QR (as stable as JAX's pivoted LU); their derivatives
are the closed forms (``dx = A^-1 (db - dA x)``, ``d det = det tr(A^-1 dA)``).
"""
from __future__ import annotations

import operator
from typing import Any, NamedTuple

import numpy as np

from functorch_lite import lax
from functorch_lite.core import dtypes
from functorch_lite.core.avals import get_aval
from functorch_lite.lax import decompositions as dec
from functorch_lite.lax.custom_derivatives import custom_jvp
from functorch_lite.lax.eig import eig as eig_lax
from functorch_lite.numpy._util import broadcast_shapes, check_arraylike, promote_dtypes_inexact
from functorch_lite.numpy.creation import asarray
from functorch_lite.numpy.linalg_ops import matmul
from functorch_lite.numpy.shapes import moveaxis

__all__ = ["cholesky", "qr", "eigh", "eigvalsh", "eig", "eigvals", "solve", "inv", "det",
           "slogdet",
           "matrix_power", "multi_dot", "tensorinv", "tensorsolve"]


class QRResult(NamedTuple):
    Q: Any
    R: Any


class EighResult(NamedTuple):
    eigenvalues: Any
    eigenvectors: Any


class EigResult(NamedTuple):
    eigenvalues: Any
    eigenvectors: Any


class SlogdetResult(NamedTuple):
    sign: Any
    logabsdet: Any


def _matrices(name: str, *xs, square: bool = True):
    """The arguments as inexact arrays of one dtype (float32 at least: XLA's
    decompositions take f32, f64, c64 and c128), each a stack of matrices."""
    full_name = f"functorch_lite.numpy.linalg.{name}"
    check_arraylike(full_name, *xs)
    xs = promote_dtypes_inexact(full_name, *[asarray(x) for x in xs])
    out = []
    for x in xs:
        dt = get_aval(x).dtype
        if dt.itemsize < 4 and not dtypes.is_complex(dt):
            x = lax.convert_element_type(x, np.float32)
        out.append(x)
    a = get_aval(out[0])
    if a.ndim < 2:
        raise ValueError(f"{name}: expected a matrix or a stack of matrices, got an array "
                         f"of shape {a.shape}")
    if square and a.shape[-1] != a.shape[-2]:
        raise ValueError(f"{name}: last 2 dimensions of the array must be square, got "
                         f"shape {a.shape}")
    return out


def cholesky(a: Any, *, upper: bool = False, symmetrize_input: bool = True):
    """The Cholesky factor of each Hermitian positive-definite matrix: lower ``L`` with
    ``a = L L^H`` (``upper=True``: ``U = L^H``). NaNs where ``a`` is not positive definite."""
    (a,) = _matrices("cholesky", a)
    factor = dec.cholesky(a, symmetrize_input=symmetrize_input)
    return dec.mH(factor) if upper else factor


def qr(a: Any, mode: str = "reduced"):
    """``QRResult(Q, R)`` with ``a = Q R``: ``mode="reduced"`` (Q m x k, R k x n, k =
    min(m, n)), ``"complete"`` (Q m x m), ``"r"`` (R only) or ``"raw"`` (LAPACK's
    storage ``(h, tau)``, ``h`` transposed as NumPy returns it)."""
    (a,) = _matrices("qr", a, square=False)
    if mode == "raw":
        stored, taus = dec.geqrf(a)
        return QRResult(dec.mT(stored), taus)
    if mode not in ("reduced", "complete", "r"):
        raise ValueError(f"Unsupported QR decomposition mode '{mode}'")
    q, r = dec.qr(a, full_matrices=mode == "complete")
    return r if mode == "r" else QRResult(q, r)


def eigh(a: Any, UPLO: str | None = None, symmetrize_input: bool = True):
    """``EighResult(eigenvalues, eigenvectors)`` of each Hermitian matrix, eigenvalues
    ascending; ``UPLO`` ("L" or "U") is the triangle read when not ``symmetrize_input``."""
    (a,) = _matrices("eigh", a)
    lower = _uplo(UPLO)
    v, w = dec.eigh(a, lower=lower, symmetrize_input=symmetrize_input)
    return EighResult(w, v)


def eigvalsh(a: Any, UPLO: str | None = "L", *, symmetrize_input: bool = True):
    """The eigenvalues of each Hermitian matrix, ascending."""
    return eigh(a, UPLO, symmetrize_input).eigenvalues


def eig(a: Any):
    """``EigResult(eigenvalues, eigenvectors)`` of each square matrix (complex; the
    eigenvectors are columns with unit norm). Their order is the Schur form's, not
    LAPACK's (see ``lax.linalg.eig``)."""
    (a,) = _matrices("eig", a)
    w, v = eig_lax(a, compute_left_eigenvectors=False)
    return EigResult(w, v)


def eigvals(a: Any):
    """The (complex) eigenvalues of each square matrix."""
    (a,) = _matrices("eigvals", a)
    return eig_lax(a, compute_left_eigenvectors=False, compute_right_eigenvectors=False)[0]


def _uplo(UPLO) -> bool:
    if UPLO is None or UPLO == "L":
        return True
    if UPLO == "U":
        return False
    raise ValueError(f"UPLO must be 'L' or 'U', got {UPLO!r}")


# -- solving through a QR factorization ------------------------------------------------------
def _qr_solve(q, r, b):
    """``x`` with ``q r x = b`` (``b`` a stack of matrices)."""
    return dec.triangular_solve(r, dec.matmul(dec.mH(q), b), left_side=True, lower=False)


@custom_jvp
def _solve(a, b):
    q, r = dec.qr_factors(a, False)
    return _qr_solve(q, r, b)


@_solve.defjvp
def _solve_jvp(primals, tangents):
    (a, b), (da, db) = primals, tangents
    q, r = dec.qr_factors(a, False)
    x = _qr_solve(q, r, b)
    # a x = b: a dx = db - da x
    return x, _qr_solve(q, r, lax.sub(db, dec.matmul(da, x)))


def _broadcast_batch(a, b):
    """``a`` (..., n, n) and ``b`` (..., n, k) with their leading dimensions broadcast."""
    sa, sb = get_aval(a).shape, get_aval(b).shape
    batch = broadcast_shapes(sa[:-2], sb[:-2], name="solve")
    a = lax.broadcast_in_dim(a, batch + sa[-2:], tuple(range(len(batch) - len(sa) + 2,
                                                             len(batch) + 2)))
    b = lax.broadcast_in_dim(b, batch + sb[-2:], tuple(range(len(batch) - len(sb) + 2,
                                                             len(batch) + 2)))
    return a, b


def solve(a: Any, b: Any):
    """``x`` with ``a @ x == b``: ``b`` is a vector (n,) or a stack of matrices (..., n, k)
    (NumPy 2's rule), leading dimensions broadcast against ``a``'s."""
    a, b = _matrices("solve", a, b, square=False)
    n = get_aval(a).shape[-1]
    if get_aval(a).shape[-2] != n:
        raise ValueError(f"solve: last 2 dimensions of a must be square, got "
                         f"{get_aval(a).shape}")
    vector = get_aval(b).ndim == 1
    if vector:
        b = lax.expand_dims(b, (1,))
    if get_aval(b).shape[-2] != n:
        raise ValueError(f"solve: b of shape {get_aval(b).shape if not vector else (n,)} "
                         f"does not match a of shape {get_aval(a).shape}")
    a, b = _broadcast_batch(a, b)
    x = _solve(a, b)
    return lax.squeeze(x, (get_aval(x).ndim - 1,)) if vector else x


def inv(a: Any):
    """The inverse of each square matrix (infinities or NaNs for singular ones)."""
    (a,) = _matrices("inv", a)
    return _solve(a, dec.eye_like(a))


def _householder_signs(stored, taus):
    """det(Q) for the Q that ``geqrf``'s reflections make: each reflection
    ``I - tau v v^H`` has determinant ``1 - tau |v|^2`` (v: a one, then the stored
    column below the diagonal)."""
    below = dec.triangle(stored, lower=True, k=-1)
    sq = lax.real(lax.mul(below, lax.conj(below))) if dtypes.is_complex(
        get_aval(below).dtype) else lax.mul(below, below)
    norms = lax.add(lax.reduce_sum(sq, (get_aval(sq).ndim - 2,)), np.asarray(1, sq.dtype))
    norms = lax.convert_element_type(norms, get_aval(taus).dtype)
    return lax.reduce_prod(lax.sub(np.asarray(1, get_aval(taus).dtype),
                                   lax.mul(taus, norms)), (get_aval(taus).ndim - 1,))


def _trace_of_solve(a, da):
    """tr(a^-1 da) per matrix (linear in ``da`` through transposable operations: a
    custom_jvp function such as ``_solve`` would not transpose)."""
    q, r = dec.qr_factors(a, False)
    return lax.reduce_sum(dec.diagonal(_qr_solve(q, r, da)), (get_aval(a).ndim - 2,))


@custom_jvp
def _det(a):
    stored, taus = dec.geqrf(a)
    r_diag = dec.diagonal(stored)
    return lax.mul(_householder_signs(stored, taus),
                   lax.reduce_prod(r_diag, (get_aval(r_diag).ndim - 1,)))


@_det.defjvp
def _det_jvp(primals, tangents):
    (a,), (da,) = primals, tangents
    d = _det(a)
    return d, lax.mul(d, _trace_of_solve(a, da))


def det(a: Any):
    """The determinant of each square matrix."""
    (a,) = _matrices("det", a)
    return _det(a)


@custom_jvp
def _slogdet(a):
    stored, taus = dec.geqrf(a)
    r_diag = dec.diagonal(stored)
    axis = (get_aval(r_diag).ndim - 1,)
    size = lax.abs(r_diag)
    logabsdet = lax.reduce_sum(lax.log(size), axis)
    unit = lax.div(r_diag, lax.convert_element_type(size, get_aval(r_diag).dtype))
    sign = lax.mul(_householder_signs(stored, taus), lax.reduce_prod(unit, axis))
    singular = lax.reduce_or(lax.eq(size, np.asarray(0, get_aval(size).dtype)), axis)
    sign = lax.select(singular, lax.full_like(sign, 0), sign)
    return sign, logabsdet


@_slogdet.defjvp
def _slogdet_jvp(primals, tangents):
    (a,), (da,) = primals, tangents
    sign, logabsdet = _slogdet(a)
    tr = _trace_of_solve(a, da)
    if dtypes.is_complex(get_aval(tr).dtype):
        dsign = lax.mul(sign, lax.complex(lax.full_like(lax.real(tr), 0), lax.imag(tr)))
        return (sign, logabsdet), (dsign, lax.real(tr))
    return (sign, logabsdet), (lax.full_like(sign, 0), tr)


def slogdet(a: Any):
    """``SlogdetResult(sign, logabsdet)``: the determinant is ``sign * exp(logabsdet)``
    (sign 0 and logabsdet -inf for a singular matrix)."""
    (a,) = _matrices("slogdet", a)
    return SlogdetResult(*_slogdet(a))


# -- built on the above and on products ------------------------------------------------------
def matrix_power(a: Any, n: int):
    """``a`` multiplied by itself ``n`` times (an integer; 0: the identity, negative: powers
    of the inverse), by repeated squaring. Integer matrices stay integer for ``n >= 0``."""
    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError(f"exponent must be an integer, got {n!r}") from None
    check_arraylike("functorch_lite.numpy.linalg.matrix_power", a)
    a = asarray(a)
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"matrix_power: last 2 dimensions of the array must be square, got "
                         f"shape {a.shape}")
    if n == 0:
        return dec.eye_like(a)
    if n < 0:
        a, n = inv(a), -n
    result, square = None, a
    while True:  # binary exponentiation: multiply in the squares the bits of n ask for
        if n & 1:
            result = square if result is None else dec.matmul(result, square)
        n >>= 1
        if not n:
            return result
        square = dec.matmul(square, square)


def multi_dot(arrays: Any, *, precision: Any = None):
    """The product of a chain of matrices, multiplied in the cheapest order (the first may
    be a vector, taken as a row, and the last a vector, taken as a column)."""
    arrays = [asarray(x) for x in arrays]
    if len(arrays) < 2:
        raise ValueError(f"multi_dot requires at least two arrays, got {len(arrays)}")
    first_vec, last_vec = arrays[0].ndim == 1, arrays[-1].ndim == 1
    if first_vec:
        arrays[0] = arrays[0][None, :]
    if last_vec:
        arrays[-1] = arrays[-1][:, None]
    for x in arrays:
        if x.ndim != 2:
            raise ValueError(f"multi_dot: arrays must be 2-D (the first and last may be 1-D), "
                             f"got shapes {[tuple(a.shape) for a in arrays]}")
    dims = [arrays[0].shape[0]] + [x.shape[1] for x in arrays]
    order = _chain_order(dims)

    def product(i, j):
        if i == j:
            return arrays[i]
        k = order[i][j]
        return matmul(product(i, k), product(k + 1, j), precision=precision)
    out = product(0, len(arrays) - 1)
    if first_vec:
        out = out[0]
    if last_vec:
        out = out[..., 0]
    return out


def _chain_order(dims: list) -> list:
    """The matrix-chain split points: ``order[i][j]`` is where the cheapest product of
    matrices i..j (matrix k is dims[k] x dims[k + 1]) splits."""
    n = len(dims) - 1
    cost = [[0] * n for _ in range(n)]
    order = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j] = None
            for k in range(i, j):
                c = cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1]
                if cost[i][j] is None or c < cost[i][j]:
                    cost[i][j], order[i][j] = c, k
    return order


def tensorinv(a: Any, ind: int = 2):
    """The inverse of ``a`` seen as a linear map from its first ``ind`` axes' space (as a
    vector) to the rest: ``tensordot(tensorinv(a), a, ind)`` is the identity."""
    a = asarray(a)
    if ind <= 0:
        raise ValueError(f"ind must be a positive integer, got {ind}")
    out_shape, in_shape = a.shape[:ind], a.shape[ind:]
    rows, cols = int(np.prod(out_shape)), int(np.prod(in_shape))
    if rows != cols:
        raise ValueError(f"tensorinv: the first {ind} axes of a {a.shape} must have as many "
                         f"elements as the rest ({rows} != {cols})")
    return lax.reshape(inv(lax.reshape(a, (rows, cols))), in_shape + out_shape)


def tensorsolve(a: Any, b: Any, axes: Any = None):
    """``x`` with ``tensordot(a, x, x.ndim) == b`` (``axes``: axes of ``a`` moved to the end
    first)."""
    a, b = asarray(a), asarray(b)
    if axes is not None:
        axes = (axes,) if isinstance(axes, int) else tuple(axes)
        a = moveaxis(a, axes, tuple(range(a.ndim - len(axes), a.ndim)))
    out_shape = a.shape[b.ndim:]
    rows, cols = int(np.prod(b.shape)), int(np.prod(out_shape))
    if a.shape[:b.ndim] != b.shape or rows != cols:
        raise ValueError(f"tensorsolve: a {a.shape} must start with b's shape {b.shape} and "
                         f"be square once flattened")
    x = solve(lax.reshape(a, (rows, cols)), lax.reshape(b, (rows,)))
    return lax.reshape(x, out_shape)
