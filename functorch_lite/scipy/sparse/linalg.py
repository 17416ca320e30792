"""Krylov solvers for ``A x = b`` of ``functorch_lite.scipy.sparse.linalg`` (as
``jax.scipy.sparse.linalg``): ``cg``, ``bicgstab`` and ``gmres``.

``A`` (and the preconditioner ``M``) is a square matrix, an object with ``@``, or a
function computing the matrix-vector product; ``b`` and the solution may be any pytree of
arrays (a vector "is" the tuple of its leaves, and inner products sum over the leaves).
Each solver is a ``lax.while_loop``, so it runs under ``jit`` and ``vmap`` with a
data-dependent number of iterations.

Derivatives are implicit, as JAX's: each solve is a ``lax.custom_linear_solve``, so the
derivative of ``x`` comes from ``A x = b`` (one more solve by the same method, with ``A``
transposed unless it is a real ``cg`` operator), never from the iterations. Forward and
reverse mode both work, with respect to ``b`` and to whatever ``A`` is built from (a
matrix, the arguments of a ``Partial``, or values a plain function closes over). ``x0``,
``M`` and the tolerances get zero derivatives, as in JAX.
"""
from __future__ import annotations

import functools
import operator
from typing import Any, Callable

import numpy as np

from functorch_lite import lax
from functorch_lite.core import dtypes, pytree
from functorch_lite.core.avals import Array, get_aval
from functorch_lite.scipy import linalg as _sla
import functorch_lite.numpy as fnp

__all__ = ["cg", "bicgstab", "gmres"]

_HIGHEST = lax.Precision.HIGHEST


# ---------------------------------------------------------------------------------------
# Vectors as pytrees
# ---------------------------------------------------------------------------------------

def _tmap(f: Callable, *trees):
    return pytree.tree_map(f, *trees)


def _add(x, y):
    return _tmap(operator.add, x, y)


def _sub(x, y):
    return _tmap(operator.sub, x, y)


def _scale(c, x):
    return _tmap(lambda v: c * v, x)


def _select(pred, x, y):
    return _tmap(lambda u, v: fnp.where(pred, u, v), x, y)


def _sum_leaves(values: list):
    return functools.reduce(operator.add, values)


def _hermitian_form(x, y):
    """``Re <x, y>`` without the imaginary cross terms: the value of ``x^H P x``-type
    products that are real for Hermitian ``P``, kept real so it compares with tolerances."""
    def one(u, v):
        out = fnp.vdot(fnp.real(u), fnp.real(v), precision=_HIGHEST)
        if fnp.iscomplexobj(u) or fnp.iscomplexobj(v):
            out = out + fnp.vdot(fnp.imag(u), fnp.imag(v), precision=_HIGHEST)
        return out
    return _sum_leaves(pytree.tree_leaves(_tmap(one, x, y)))


def _inner(x, y):
    """``<x, y> = sum conj(x) * y`` over all leaves."""
    return _sum_leaves(pytree.tree_leaves(
        _tmap(lambda u, v: fnp.vdot(u, v, precision=_HIGHEST), x, y)))


def _norm(x):
    return fnp.sqrt(_hermitian_form(x, x))


def _tree_dtype(x) -> np.dtype:
    return dtypes.result_type(*pytree.tree_leaves(x))


def _tree_size(x) -> int:
    return sum(int(np.prod(get_aval(v).shape)) for v in pytree.tree_leaves(x))


# ---------------------------------------------------------------------------------------
# Linear operators
# ---------------------------------------------------------------------------------------

def _is_array(x: Any) -> bool:
    return isinstance(x, (Array, np.ndarray, np.generic))


def _check_operator(name: str, what: str, op: Any) -> None:
    """JAX's rules for what may stand for a linear map: a function, a square 2-D array,
    or a square object with ``@``."""
    if callable(op):
        return
    if _is_array(op) or hasattr(op, "__matmul__"):
        if _is_array(op) or hasattr(op, "shape"):
            shape = tuple(np.shape(op))
            if len(shape) != 2 or shape[0] != shape[1]:
                raise ValueError(f"{name}: linear operator {what} must be a square matrix, "
                                 f"but has shape {shape}")
        return
    raise TypeError(f"{name}: linear operator {what} must be a function, a square 2-D "
                    f"array or an object with @ (matmul), got {type(op).__name__}")


def _as_linear_map(name: str, what: str, op: Any) -> Callable:
    """The function ``x -> op x`` for a function, a matrix or an object with ``@``."""
    _check_operator(name, what, op)
    if callable(op):
        return op
    if _is_array(op):
        return functools.partial(_matrix_apply, fnp.asarray(op))
    return functools.partial(operator.matmul, op)


def _matrix_apply(matrix, x):
    return fnp.dot(matrix, x, precision=_HIGHEST)


def _identity(x):
    return x


# ---------------------------------------------------------------------------------------
# The solve with implicit derivatives
# ---------------------------------------------------------------------------------------

def _solve(method: Callable, A: Callable, M: Callable, b, x0, settings, symmetric: bool):
    """``method(A, M, b, x0, settings)`` as a ``custom_linear_solve``: derivatives come
    from ``A x = b`` (one more solve by the same method, with ``A`` transposed unless it
    is ``symmetric``), never from the iterations."""
    def run(matvec, rhs):
        return method(matvec, M, rhs, x0, settings)
    return lax.custom_linear_solve(A, b, run, transpose_solve=run, symmetric=symmetric)


def _prepare(name: str, A, b, x0, M):
    """Validated operators and starting point: ``(A, M, b, x0)``, the operators as
    functions (``M`` the identity when not given), ``x0`` zeros like ``b`` when not
    given."""
    A = _as_linear_map(name, "A", A)
    M = _identity if M is None else _as_linear_map(name, "M", M)
    b = _tmap(fnp.asarray, b)
    if not pytree.tree_leaves(b):
        raise ValueError(f"{name}: b must hold at least one array, got {b!r}")
    for v in pytree.tree_leaves(b):
        if not dtypes.is_inexact(get_aval(v).dtype):
            raise TypeError(f"{name}: b must be floating point or complex, got "
                            f"{get_aval(v).str_short()}; convert it with .astype(float)")
    if x0 is None:
        x0 = _tmap(fnp.zeros_like, b)
    else:
        x0 = _tmap(fnp.asarray, x0)
    if pytree.tree_structure(x0) != pytree.tree_structure(b):
        raise ValueError(f"{name}: x0 and b must have matching tree structure: "
                         f"{pytree.tree_structure(x0)} vs {pytree.tree_structure(b)}")
    x_shapes = [get_aval(v).shape for v in pytree.tree_leaves(x0)]
    b_shapes = [get_aval(v).shape for v in pytree.tree_leaves(b)]
    if x_shapes != b_shapes:
        raise ValueError(f"{name}: arrays in x0 and b must have matching shapes: "
                         f"{x_shapes} vs {b_shapes}")
    return A, M, b, x0


def _default_maxiter(maxiter, b):
    # SciPy's default: ten sweeps of the problem size.
    return 10 * _tree_size(b) if maxiter is None else maxiter


def _all_real(b) -> bool:
    return not any(dtypes.is_complex(get_aval(v).dtype) for v in pytree.tree_leaves(b))


# ---------------------------------------------------------------------------------------
# Conjugate gradients
# ---------------------------------------------------------------------------------------

def _cg_method(A: Callable, M: Callable, b, x0, settings):
    tol, atol, maxiter = settings
    preconditioned = M is not _identity
    # Stop at ||r|| <= max(tol ||b||, atol), SciPy's non-legacy criterion, in squares.
    stop2 = fnp.maximum(fnp.square(tol) * _hermitian_form(b, b), fnp.square(atol))
    r0 = _sub(b, A(x0))
    z0 = M(r0)
    dtype = _tree_dtype(z0)
    gamma0 = _hermitian_form(r0, z0).astype(dtype)

    def keep_going(state):
        _, r, gamma, _, k = state
        # Without a preconditioner gamma already is ||r||^2.
        rr = _hermitian_form(r, r) if preconditioned else fnp.real(gamma)
        return (rr > stop2) & (k < maxiter)

    def step(state):
        x, r, gamma, p, k = state
        Ap = A(p)
        alpha = gamma / _hermitian_form(p, Ap).astype(dtype)
        x = _add(x, _scale(alpha, p))
        r = _sub(r, _scale(alpha, Ap))
        z = M(r)
        gamma_new = _hermitian_form(r, z).astype(dtype)
        p = _add(z, _scale(gamma_new / gamma, p))
        return x, r, gamma_new, p, k + 1

    x, *_ = lax.while_loop(keep_going, step, (x0, r0, gamma0, z0, 0))
    return x


def cg(A: Any, b: Any, x0: Any = None, *, tol: Any = 1e-5, atol: Any = 0.0,
       maxiter: Any = None, M: Any = None) -> tuple[Any, None]:
    """Solve ``A x = b`` for Hermitian positive definite ``A`` by (preconditioned)
    conjugate gradients, stopping when ``||b - A x|| <= max(tol * ||b||, atol)`` or after
    ``maxiter`` iterations (default ``10 * size(b)``).

    ``A``: an ``(n, n)`` array, an object with ``@``, or a function ``x -> A x`` on pytrees
    shaped like ``b``; ``b``, ``x0``: arrays or pytrees of arrays (``x0`` defaults to
    zeros); ``M``: a preconditioner approximating ``A^{-1}``, given like ``A``. Returns
    ``(x, None)``, with ``x`` shaped like ``b`` (JAX reports no convergence info).
    Gradients are implicit (another ``cg`` solve).

    >>> x, _ = cg(fnp.array([[4.0, 1.0], [1.0, 3.0]]), fnp.array([1.0, 2.0]))
    """
    A, M, b, x0 = _prepare("cg", A, b, x0, M)
    settings = (tol, atol, _default_maxiter(maxiter, b))
    # A real SPD operator equals its transpose, so the backward solve reuses it.
    x = _solve(_cg_method, A, M, b, x0, settings, symmetric=_all_real(b))
    return x, None


# ---------------------------------------------------------------------------------------
# BiCGSTAB
# ---------------------------------------------------------------------------------------

# Breakdown codes kept in the iteration counter (negative stops the loop).
_RHO_BREAKDOWN = -10
_ALPHA_OMEGA_BREAKDOWN = -11


def _bicgstab_method(A: Callable, M: Callable, b, x0, settings):
    tol, atol, maxiter = settings
    stop2 = fnp.maximum(fnp.square(tol) * _hermitian_form(b, b), fnp.square(atol))
    r0 = _sub(b, A(x0))
    one = fnp.asarray(1, dtype=_tree_dtype(b))

    def keep_going(state):
        r, k = state[1], state[-1]
        return (_hermitian_form(r, r) > stop2) & (k < maxiter) & (k >= 0)

    def step(state):
        x, r, r_shadow, alpha, omega, rho, p, v, k = state
        rho_new = _inner(r_shadow, r)
        beta = (rho_new / rho) * (alpha / omega)
        p = _add(r, _scale(beta, _sub(p, _scale(omega, v))))
        p_hat = M(p)
        v = A(p_hat)
        alpha = rho_new / _inner(r_shadow, v)
        s = _sub(r, _scale(alpha, v))
        # Half a step may already be enough; then the stabilising half is skipped.
        done_early = _hermitian_form(s, s) < stop2
        s_hat = M(s)
        t = A(s_hat)
        omega = _inner(t, s) / _inner(t, t)
        x_half = _add(x, _scale(alpha, p_hat))
        x = _select(done_early, x_half, _add(x_half, _scale(omega, s_hat)))
        r = _select(done_early, s, _sub(s, _scale(omega, t)))
        k = fnp.where((omega == 0) | (alpha == 0), _ALPHA_OMEGA_BREAKDOWN, k + 1)
        k = fnp.where(rho_new == 0, _RHO_BREAKDOWN, k)
        return x, r, r_shadow, alpha, omega, rho_new, p, v, k

    init = (x0, r0, r0, one, one, one, r0, r0, 0)
    x, *_ = lax.while_loop(keep_going, step, init)
    return x


def bicgstab(A: Any, b: Any, x0: Any = None, *, tol: Any = 1e-5, atol: Any = 0.0,
             maxiter: Any = None, M: Any = None) -> tuple[Any, None]:
    """Solve ``A x = b`` for a general square ``A`` by the (preconditioned) stabilised
    bi-conjugate gradient method, stopping when ``||b - A x|| <= max(tol * ||b||, atol)``,
    after ``maxiter`` iterations (default ``10 * size(b)``), or on breakdown.

    ``A``: an ``(n, n)`` array, an object with ``@``, or a function ``x -> A x`` on pytrees
    shaped like ``b``; ``b``, ``x0``: arrays or pytrees of arrays (``x0`` defaults to
    zeros); ``M``: a preconditioner approximating ``A^{-1}``, given like ``A``. Returns
    ``(x, None)``, with ``x`` shaped like ``b``. Gradients are implicit (a ``bicgstab``
    solve with ``A`` transposed).

    >>> x, _ = bicgstab(fnp.array([[4.0, 1.0], [-2.0, 3.0]]), fnp.array([1.0, 2.0]))
    """
    A, M, b, x0 = _prepare("bicgstab", A, b, x0, M)
    settings = (tol, atol, _default_maxiter(maxiter, b))
    x = _solve(_bicgstab_method, A, M, b, x0, settings, symmetric=False)
    return x, None


# ---------------------------------------------------------------------------------------
# GMRES
# ---------------------------------------------------------------------------------------

def _normalize(x, threshold=None):
    """``(x / ||x||, ||x||)``, or zeros and 0 when ``||x||`` is at most ``threshold``
    (machine epsilon by default): a vanishing vector means the Krylov space is exhausted,
    and dividing by its norm would only amplify rounding."""
    norm = _norm(x)
    dtype = _tree_dtype(x)
    if threshold is None:
        threshold = fnp.finfo(norm.dtype).eps
    threshold = fnp.real(fnp.asarray(threshold).astype(dtype))
    usable = norm > threshold
    divisor = norm.astype(dtype)
    unit = _tmap(lambda v: fnp.where(usable, v / divisor, fnp.zeros_like(v)), x)
    return unit, fnp.where(usable, norm, fnp.zeros_like(norm))


def _basis_column(V, k):
    return _tmap(lambda X: X[..., k], V)


def _basis_combination(V, y):
    """``V[..., :-1] @ y``: a combination of the first ``len(y)`` basis vectors."""
    return _tmap(lambda X: fnp.dot(X[..., :-1], y, precision=_HIGHEST), V)


def _orthogonalize(V, v):
    """``v`` minus its projection on the columns of ``V`` (orthonormal or zero), and the
    coefficients of that projection. Classical Gram-Schmidt done twice: one pass loses
    orthogonality in proportion to the conditioning of the basis, a second restores it."""
    def project(w):
        return _sum_leaves(pytree.tree_leaves(_tmap(
            lambda X, u: fnp.einsum("...n,...->n", fnp.conj(X), u, precision=_HIGHEST),
            V, w)))

    h = None
    for _ in range(2):
        c = project(v)
        v = _sub(v, _tmap(lambda X: fnp.dot(X, c, precision=_HIGHEST), V))
        h = c if h is None else h + c
    return v, h


def _arnoldi_step(k, A: Callable, M: Callable, V, H):
    """Extend the orthonormal Krylov basis ``V`` by the column ``k + 1`` (from
    ``M A V[:, k]``) and store its coefficients in row ``k`` of ``H`` (the transposed
    Hessenberg matrix). Also says whether the new vector vanished (an invariant
    subspace: the solution is in the span already)."""
    dtype = _tree_dtype(V)
    w = M(A(_basis_column(V, k)))
    _, w_norm = _normalize(w)
    w, h = _orthogonalize(V, w)
    # What is left after projection is noise when it is at rounding level of w.
    unit, rest = _normalize(w, threshold=fnp.finfo(dtype).eps * w_norm)
    V = _tmap(lambda X, u: X.at[..., k + 1].set(u), V, unit)
    H = H.at[k, :].set(h.at[k + 1].set(rest.astype(dtype)))
    return V, H, rest == 0


def _rotate(v, i, c, s):
    """Apply the plane rotation ``(c, s)`` to entries ``i`` and ``i + 1`` of ``v``."""
    a, b = v[i], v[i + 1]
    v = v.at[i].set(fnp.conj(c) * a - fnp.conj(s) * b)
    return v.at[i + 1].set(s * a + c * b)


def _rotation_zeroing(a, b):
    """The rotation ``(c, s)`` that makes ``_rotate`` zero the second entry of
    ``(a, b)``; computed from the ratio of the smaller to the larger to avoid overflow."""
    b_is_zero = fnp.abs(b) == 0
    b_larger = fnp.abs(a) < fnp.abs(b)
    t = -fnp.where(b_larger, a, b) / fnp.where(b_larger, b, a)
    r = lax.rsqrt(1 + fnp.abs(t) ** 2).astype(t.dtype)
    c = fnp.where(b_is_zero, 1, fnp.where(b_larger, r * t, r))
    s = fnp.where(b_is_zero, 0, fnp.where(b_larger, r, r * t))
    return c, s


def _shifted_identity(restart: int, dtype):
    """``(restart, restart + 1)`` with ones on the diagonal: stands in for the rows of
    Krylov steps never taken, keeping the small triangular/least-squares systems
    invertible."""
    rows = fnp.arange(restart)[:, None]
    return (rows == fnp.arange(restart + 1)[None, :]).astype(dtype)


def _krylov_start(r_unit, restart: int):
    """The basis array: the unit residual in column 0 and ``restart`` zero columns."""
    return _tmap(lambda v: fnp.pad(v[..., None], ((0, 0),) * v.ndim + ((0, restart),)),
                 r_unit)


def _finish_cycle(A, M, b, x, dx):
    x = _add(x, dx)
    return (x, *_normalize(M(_sub(b, A(x)))))


def _gmres_cycle_incremental(A, M, b, x, r_unit, r_norm, ptol, restart: int):
    """One restart cycle that triangularises the Hessenberg matrix with Givens rotations
    as the basis grows: the residual estimate comes for free, so the cycle can stop as
    soon as it is below ``ptol``."""
    dtype = _tree_dtype(b)
    V = _krylov_start(r_unit, restart)
    R = _shifted_identity(restart, dtype)
    rotations = fnp.zeros((restart, 2), dtype=dtype)
    g = fnp.zeros(restart + 1, dtype=dtype).at[0].set(r_norm.astype(dtype))

    def keep_going(state):
        k, err = state[0], state[1]
        return (k < restart) & (err > ptol)

    def step(state):
        k, _, V, R, g, rotations = state
        V, H, _ = _arnoldi_step(k, A, M, V, R)
        # Bring the new column up to date with the earlier rotations, then zero its last
        # entry with a new one.
        row = lax.fori_loop(0, k, lambda i, v: _rotate(v, i, rotations[i, 0], rotations[i, 1]),
                            H[k, :])
        c, s = _rotation_zeroing(row[k], row[k + 1])
        rotations = rotations.at[k, :].set(fnp.stack([c, s]))
        R = R.at[k, :].set(_rotate(row, k, c, s))
        g = _rotate(g, k, c, s)
        return k + 1, fnp.abs(g[k + 1]), V, R, g, rotations

    k, _, V, R, g, _ = lax.while_loop(keep_going, step, (0, r_norm, V, R, g, rotations))
    # Only the k steps taken enter the solution (g[k] is the residual estimate).
    g = fnp.where(fnp.arange(restart + 1) < k, g, fnp.zeros_like(g))
    y = _sla.solve_triangular(fnp.transpose(R[:, :-1]), g[:-1])
    return _finish_cycle(A, M, b, x, _basis_combination(V, y))


def _gmres_cycle_batched(A, M, b, x, r_unit, r_norm, ptol, restart: int):
    """One restart cycle that builds the whole basis first (stopping only on breakdown)
    and then solves the small least-squares problem once: less work per step on
    accelerators."""
    del ptol  # no residual estimate inside the cycle
    dtype = _tree_dtype(b)
    V = _krylov_start(r_unit, restart)
    H = _shifted_identity(restart, dtype)

    def keep_going(state):
        _, _, broke_down, k = state
        return (k < restart) & fnp.logical_not(broke_down)

    def step(state):
        V, H, _, k = state
        V, H, broke_down = _arnoldi_step(k, A, M, V, H)
        return V, H, broke_down, k + 1

    V, H, _, _ = lax.while_loop(keep_going, step, (V, H, False, 0))
    g = fnp.zeros(restart + 1, dtype=dtype).at[0].set(r_norm.astype(dtype))
    # min ||H^T y - g||: QR of the (restart + 1, restart) Hessenberg matrix.
    q, r = fnp.linalg.qr(fnp.transpose(H))
    y = _sla.solve_triangular(r, fnp.dot(fnp.conj(fnp.transpose(q)), g, precision=_HIGHEST))
    return _finish_cycle(A, M, b, x, _basis_combination(V, y))


_GMRES_CYCLES = {"incremental": _gmres_cycle_incremental, "batched": _gmres_cycle_batched}


def _gmres_method(cycle: Callable, restart: int, A: Callable, M: Callable, b, x0, settings):
    atol, ptol, maxiter = settings
    r_unit, r_norm = _normalize(M(_sub(b, A(x0))))

    def keep_going(state):
        _, k, _, r_norm = state
        return (k < maxiter) & (r_norm > atol)

    def step(state):
        x, k, r_unit, r_norm = state
        x, r_unit, r_norm = cycle(A, M, b, x, r_unit, r_norm, ptol, restart)
        return x, k + 1, r_unit, r_norm

    x, *_ = lax.while_loop(keep_going, step, (x0, 0, r_unit, r_norm))
    return x


def gmres(A: Any, b: Any, x0: Any = None, *, tol: Any = 1e-5, atol: Any = 0.0,
          restart: int = 20, maxiter: Any = None, M: Any = None,
          solve_method: str = "batched") -> tuple[Any, Any]:
    """Solve ``A x = b`` for a general square ``A`` by restarted GMRES: each cycle finds
    the best ``x`` in a Krylov space of dimension ``restart``, up to ``maxiter`` cycles
    (default ``10 * size(b)``), until ``||M (b - A x)|| <= max(tol * ||b||, atol)``.

    ``A``: an ``(n, n)`` array, an object with ``@``, or a function ``x -> A x`` on pytrees
    shaped like ``b``; ``b``, ``x0``: arrays or pytrees of arrays (``x0`` defaults to
    zeros); ``M``: a preconditioner approximating ``A^{-1}``, given like ``A``;
    ``solve_method``: ``'batched'`` (build the whole basis, then one least-squares solve)
    or ``'incremental'`` (Givens rotations as it goes, stopping a cycle early). Returns
    ``(x, info)``: ``x`` shaped like ``b``, ``info`` an int32 scalar, ``-1`` when ``x``
    holds NaNs, else ``0``. Gradients are implicit (a ``gmres`` solve with ``A``
    transposed).

    >>> x, info = gmres(fnp.array([[4.0, 1.0], [-2.0, 3.0]]), fnp.array([1.0, 2.0]))
    """
    if solve_method not in _GMRES_CYCLES:
        raise ValueError(f"gmres: invalid solve_method {solve_method!r}, must be either "
                         "'incremental' or 'batched'")
    A, M, b, x0 = _prepare("gmres", A, b, x0, M)
    size = _tree_size(b)
    restart = min(int(restart), size)  # a basis cannot outgrow the space
    if restart < 1:
        raise ValueError(f"gmres: restart must be a positive integer, got {restart}")
    # Tolerances fixed by the right-hand side: the outer loop tests the (preconditioned)
    # residual against atol, a cycle its estimate against the matching relative ptol.
    b_norm = _norm(b)
    atol = fnp.maximum(tol * b_norm, atol)
    ptol = _norm(M(b)) * fnp.minimum(1.0, atol / b_norm)
    method = functools.partial(_gmres_method, _GMRES_CYCLES[solve_method], restart)
    settings = (atol, ptol, _default_maxiter(maxiter, b))
    x = _solve(method, A, M, b, x0, settings, symmetric=False)
    info = fnp.where(fnp.isnan(_norm(x)), -1, 0)
    return x, info
