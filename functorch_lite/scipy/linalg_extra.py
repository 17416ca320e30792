"""Schur-based matrix functions and other decompositions of ``jax.scipy.linalg``:
``hessenberg``, ``schur``, ``rsf2csf``, ``sqrtm``, ``funm``, ``solve_sylvester``,
``qr_multiply`` and ``eigh_tridiagonal``.

There is no LAPACK here, so every factorization is written with ``lax`` loops over
static shapes:

* ``hessenberg``: one Householder reflector per column (LAPACK's ``larfg`` convention, so
  the subdiagonal is real and ``H`` agrees with JAX's up to rounding).
* ``schur``: the complex form is ``lax.linalg.eig``'s shifted QR iteration; the real form
  runs the Francis double-shift step explicitly on the Hessenberg form (the QR factors of
  ``(H - s1 I)(H - s2 I)``, a real matrix even for a complex pair of shifts), deflating
  1 x 1 or 2 x 2 blocks from the bottom, then puts each 2 x 2 block in standard form
  (complex pair: equal diagonal entries; real pair: split into two 1 x 1 blocks). Each
  step is O(n^3), meant for the small and medium matrices these are used on.
* ``sqrtm`` and ``funm`` work on the complex Schur form, filling the triangular result one
  superdiagonal at a time (every entry of a superdiagonal depends only on earlier ones, so
  a superdiagonal is one matrix product: O(n^4) in all, no scalar loops).
* ``solve_sylvester`` is Bartels-Stewart: both Schur forms, then one triangular solve per
  column of the transformed right-hand side.
* ``eigh_tridiagonal`` finds eigenvalues by bisection on Sturm counts, all at once.

Of these, JAX differentiates only ``rsf2csf`` (a fixed-length loop of rotations); here it is
differentiable the same way. The iterations that run to convergence (``schur`` and what is
built on it, the bisection) are ``while_loop``s and have no reverse-mode derivative, as in
JAX; ``hessenberg`` differentiates through its fixed loop of reflectors.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from functorch_lite import lax
from functorch_lite.api import jit
from functorch_lite.core import dtypes
from functorch_lite.lax import decompositions as dec
from functorch_lite.lax import eig as _eig
from functorch_lite.numpy import _util
from functorch_lite.numpy import linalg_solve as _np_linalg
import functorch_lite.numpy as fnp

__all__ = ["hessenberg", "schur", "rsf2csf", "sqrtm", "funm", "solve_sylvester",
           "qr_multiply", "eigh_tridiagonal"]


# ---------------------------------------------------------------------------------------
# helpers

def _inexact(name: str, *xs):
    """The arguments as arrays of one inexact dtype, float32 at the least."""
    xs = _util.promote_dtypes_inexact(name, *[fnp.asarray(x) for x in xs])
    return [x.astype(np.float32) if x.dtype.itemsize < 4 and not dtypes.is_complex(x.dtype)
            else x for x in xs]


def _floating(name: str, a):
    """``a`` as an array that must already be floating or complex (JAX's Schur and
    Hessenberg reductions do not promote integers)."""
    a = fnp.asarray(a)
    if not (dtypes.issubdtype(a.dtype, np.floating) or dtypes.is_complex(a.dtype)):
        raise TypeError(f"{name} does not accept dtype {a.dtype}: pass a floating or complex "
                        f"array (convert with .astype(float))")
    return a.astype(np.float32) if a.dtype.itemsize < 4 and not dtypes.is_complex(a.dtype) \
        else a


def _square(name: str, a) -> None:
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"{name}: expected a square matrix or a stack of square matrices "
                         f"(shape (..., n, n)), got shape {a.shape}")


def _complex_of(dtype) -> np.dtype:
    return np.dtype(np.complex128 if np.dtype(dtype) in (np.float64, np.complex128)
                    else np.complex64)


def _real_of(dtype) -> np.dtype:
    return np.dtype(np.float64 if np.dtype(dtype) in (np.float64, np.complex128)
                    else np.float32)


def _eps(dtype) -> float:
    return float(np.finfo(_real_of(dtype)).eps)


def _grid(n: int):
    """Row and column indices of an n x n matrix (static)."""
    return np.arange(n)[:, None], np.arange(n)[None, :]


def _embedded(n: int, k, block):
    """The n x n identity with rows/columns ``k, k+1`` replaced by the 2 x 2 ``block``
    (``k`` may be traced)."""
    rows, cols = _grid(n)
    out = fnp.eye(n, dtype=block.dtype)
    for i in range(2):
        for j in range(2):
            out = fnp.where((rows == k + i) & (cols == k + j), block[i, j], out)
    return out


def _reflector(col, pivot, tail):
    """LAPACK's elementary reflector for ``col`` (a vector): ``(v, tau, beta)`` with
    ``(I - tau v v^H)^H col = beta e_pivot`` on the entries ``pivot`` and ``tail`` (a
    mask), ``beta`` real and ``v[pivot] = 1``. The reflector is the identity (``tau = 0``)
    when there is nothing to annihilate and ``col[pivot]`` is already real."""
    dtype = col.dtype
    alpha = fnp.sum(fnp.where(pivot, col, 0))
    xnorm = fnp.sqrt(fnp.sum(fnp.where(tail, fnp.abs(col) ** 2, 0)))
    real_alpha = fnp.real(alpha)
    beta = -fnp.copysign(fnp.sqrt(fnp.abs(alpha) ** 2 + xnorm ** 2), real_alpha)
    identity = (xnorm == 0) & (fnp.imag(alpha) == 0)
    denom = fnp.where(identity, 1, alpha - beta)
    safe_beta = fnp.where(identity, 1, beta).astype(dtype)
    tau = fnp.where(identity, 0, (beta - alpha) / safe_beta).astype(dtype)
    v = fnp.where(pivot, 1, fnp.where(tail, col / denom, 0)).astype(dtype)
    return v, tau, fnp.where(identity, real_alpha, beta)


def _outer(u, w):
    return u[:, None] * fnp.conj(w)[None, :]


# ---------------------------------------------------------------------------------------
# hessenberg

def _hessenberg_2d(a):
    n = a.shape[-1]
    idx = np.arange(n)
    rows, cols = _grid(n)

    def step(k, hq):
        h, q = hq
        col = h[:, k]
        v, tau, beta = _reflector(col, idx == k + 1, idx > k + 1)
        # h <- P^H h P with P = I - tau v v^H; q <- q P.
        h = h - fnp.conj(tau) * v[:, None] * (fnp.conj(v) @ h)[None, :]
        h = h - tau * (h @ v)[:, None] * fnp.conj(v)[None, :]
        q = q - tau * (q @ v)[:, None] * fnp.conj(v)[None, :]
        # The column below the subdiagonal is zero by construction: store it exactly.
        h = fnp.where((cols == k) & (rows > k + 1), 0, h)
        h = fnp.where((cols == k) & (rows == k + 1), beta.astype(h.dtype), h)
        return h, q

    h, q = lax.fori_loop(0, max(n - 1, 0), step, (a, fnp.eye(n, dtype=a.dtype)))
    return fnp.triu(h, -1), q


_hessenberg_batched = jit(fnp.vectorize(_hessenberg_2d, signature="(n,n)->(n,n),(n,n)"))


def hessenberg(a: Any, *, calc_q: bool = False, overwrite_a: bool = False,
               check_finite: bool = True):
    """The Hessenberg form ``H`` of each square matrix (zero below the first subdiagonal),
    with ``a = Q H Q^H`` for unitary ``Q``; ``(H, Q)`` with ``calc_q=True``. ``a`` is
    (..., n, n); the subdiagonal of ``H`` is real, as LAPACK's.

    >>> H, Q = hessenberg(fnp.ones((4, 4)), calc_q=True)
    """
    a = _floating("hessenberg", a)
    _square("hessenberg", a)
    if a.shape[-1] == 0:
        return (fnp.zeros_like(a), fnp.zeros_like(a)) if calc_q else fnp.zeros_like(a)
    h, q = _hessenberg_batched(a)
    return (h, q) if calc_q else h


# ---------------------------------------------------------------------------------------
# schur

def _standard_block(a, b, c, d):
    """``(cs, sn, real_pair)``: the rotation ``G = [[cs, -sn], [sn, cs]]`` that puts the real 2 x 2
    block ``[[a, b], [c, d]]`` in standard form by ``G^T B G``: upper triangular when its
    eigenvalues are real, equal diagonal entries when they are a complex pair."""
    half = (a - d) / 2
    disc = half * half + b * c
    real_pair = disc >= 0
    # Real pair: the first column of G is an eigenvector. The root away from the mean in
    # the direction of (a - d) keeps the two candidate vectors free of cancellation.
    root = fnp.sqrt(fnp.where(real_pair, disc, 0))
    lam = (a + d) / 2 + fnp.where(half >= 0, root, -root)
    v1x, v1y = b, lam - a
    v2x, v2y = lam - d, c
    first = v1x * v1x + v1y * v1y >= v2x * v2x + v2y * v2y
    vx, vy = fnp.where(first, v1x, v2x), fnp.where(first, v1y, v2y)
    norm = fnp.sqrt(vx * vx + vy * vy)
    safe = fnp.where(norm == 0, 1, norm)
    cs_real = fnp.where(norm == 0, 1, vx / safe)
    sn_real = fnp.where(norm == 0, 0, vy / safe)
    # Complex pair: the rotation angle that equalizes the diagonal.
    theta = fnp.arctan2(d - a, b + c) / 2
    cs = fnp.where(real_pair, cs_real, fnp.cos(theta))
    sn = fnp.where(real_pair, sn_real, fnp.sin(theta))
    return cs, sn, real_pair


def _real_schur_2d(a):
    n = a.shape[-1]
    dtype = a.dtype
    eps = _eps(dtype)
    rows, cols = _grid(n)
    h, z = _hessenberg_2d(a)
    if n <= 2:
        return _standardize(h, z)
    scale = fnp.max(fnp.abs(a))
    max_steps = 30 * n

    def negligible(h, k):
        """Whether h[k, k-1] may be taken as zero (relative to its diagonal neighbours)."""
        diag = fnp.abs(h[k, k]) + fnp.abs(h[k - 1, k - 1])
        return fnp.abs(h[k, k - 1]) <= eps * fnp.maximum(diag, eps * scale)

    def cond(state):
        _, _, active, steps, _ = state
        return (active > 2) & (steps < max_steps)

    def body(state):
        h, z, m, steps, stalled = state
        p, q, r, s = h[m - 2, m - 2], h[m - 2, m - 1], h[m - 1, m - 2], h[m - 1, m - 1]
        trace, det = p + s, p * s - q * r
        # Every tenth step without a deflation, LAPACK-style exceptional shifts break cycles.
        w = fnp.abs(r) + fnp.abs(h[m - 2, m - 3])
        ex = 0.75 * w + s
        exceptional = stalled % 10 == 9
        trace = fnp.where(exceptional, 2 * ex, trace)
        det = fnp.where(exceptional, ex * ex + 0.4375 * w * w, det)
        active = (rows < m) & (cols < m)
        shifted = h @ h - trace * h + det * fnp.eye(n, dtype=dtype)
        qm, _ = dec.qr_factors(fnp.where(active, shifted, fnp.eye(n, dtype=dtype)), False)
        h = fnp.triu(qm.T @ h @ qm, -1)      # rounding below the subdiagonal is dropped
        z = z @ qm
        one = negligible(h, m - 1)
        two = ~one & negligible(h, m - 2)
        h = fnp.where(one & (rows == m - 1) & (cols == m - 2), 0, h)
        h = fnp.where(two & (rows == m - 2) & (cols == m - 3), 0, h)
        m_new = fnp.where(one, m - 1, fnp.where(two, m - 2, m))
        stalled = fnp.where(m_new < m, 0, stalled + 1)
        return h, z, m_new, steps + 1, stalled

    h, z, active, _, _ = lax.while_loop(cond, body, (h, z, np.int32(n), np.int32(0),
                                                     np.int32(0)))
    h, z = _standardize(h, z)
    # Not converged: NaNs, as a failed LAPACK call gives in JAX.
    failed = active > 2
    return fnp.where(failed, np.nan, h), fnp.where(failed, np.nan, z)


def _standardize(h, z):
    """Every 2 x 2 diagonal block of the quasi-triangular ``h`` in standard form."""
    n = h.shape[-1]
    rows, cols = _grid(n)

    def step(k, hz):
        h, z = hz
        coupled = h[k + 1, k] != 0
        cs, sn, real_pair = _standard_block(h[k, k], h[k, k + 1], h[k + 1, k],
                                            h[k + 1, k + 1])
        cs, sn = fnp.where(coupled, cs, 1), fnp.where(coupled, sn, 0)
        g = _embedded(n, k, fnp.stack([fnp.stack([cs, -sn]), fnp.stack([sn, cs])]))
        h = g.T @ h @ g
        z = z @ g
        # A split block is exactly triangular; a complex pair keeps its subdiagonal.
        h = fnp.where(real_pair & (rows == k + 1) & (cols == k), 0, h)
        return fnp.where(rows > cols + 1, 0, h), z

    return lax.fori_loop(0, n - 1, step, (h, z))


_real_schur_batched = jit(fnp.vectorize(_real_schur_2d, signature="(n,n)->(n,n),(n,n)"))
_complex_schur = jit(_eig._schur)


def schur(a: Any, output: str = "real") -> tuple:
    """``(T, Z)`` with ``a = Z T Z^H``, ``Z`` unitary, for each square matrix (..., n, n).
    ``output="complex"``: ``T`` upper triangular (complex). ``output="real"`` (the
    default) for real ``a``: ``T`` real and quasi upper triangular, with a standardized
    2 x 2 block (equal diagonal entries) for each complex-conjugate pair of eigenvalues;
    complex ``a`` always gets the triangular form. Eigenvalues along the diagonal come in
    the order the iteration finds them, which need not be LAPACK's.

    >>> T, Z = schur(fnp.array([[1., 2.], [-2., 1.]]))
    """
    if output not in ("real", "complex"):
        raise ValueError(f"Expected 'output' to be either 'real' or 'complex', got "
                         f"output={output!r}.")
    a = _floating("schur", a)
    _square("schur", a)
    if a.shape[-1] == 0:
        return a, a
    if output == "complex" or dtypes.is_complex(a.dtype):
        return _complex_schur(a.astype(_complex_of(a.dtype)))
    return _real_schur_batched(a)


# ---------------------------------------------------------------------------------------
# rsf2csf

def _rsf2csf_2d(t, z):
    n = t.shape[-1]
    eps = _eps(t.dtype)
    rows, cols = _grid(n)

    def step(i, tz):
        t, z = tz
        m = n - i
        a, b, c, d = t[m - 1, m - 1], t[m - 1, m], t[m, m - 1], t[m, m]
        # The block's first eigenvalue (principal root: for a standardized real block, the
        # one with positive imaginary part, as LAPACK orders a conjugate pair), less d.
        coupled = fnp.abs(c) > eps * (fnp.abs(a) + fnp.abs(d))
        # Uncoupled blocks are left alone; their square roots and norms (which may be of
        # zero, where the derivative is infinite) are replaced before they are taken.
        disc = ((a - d) / 2) ** 2 + b * c
        mu = (a - d) / 2 + fnp.sqrt(fnp.where(coupled, disc, 1))
        r2 = fnp.real(mu * fnp.conj(mu) + c * fnp.conj(c))
        safe_r = fnp.sqrt(fnp.where(coupled, r2, 1)).astype(t.dtype)
        cs = fnp.where(coupled, mu / safe_r, 1)
        sn = fnp.where(coupled, c / safe_r, 0)
        g = _embedded(n, m - 1, fnp.stack([fnp.stack([fnp.conj(cs), sn]),
                                           fnp.stack([-sn, cs])]))
        pair_rows = (rows == m - 1) | (rows == m)
        pair_cols = (cols == m - 1) | (cols == m)
        # Left of column m-1 the two rows hold zeros in a real Schur form; the masks keep
        # whatever is there, as JAX does.
        t = fnp.where(pair_rows & (cols >= m - 1), g @ t, t)
        gh = fnp.conj(g).T
        t = fnp.where(pair_cols & (rows < m + 1), t @ gh, t)
        z = fnp.where(pair_cols, z @ gh, z)
        return fnp.where((rows == m) & (cols == m - 1), 0, t), z

    return lax.fori_loop(1, n, step, (t, z))


_rsf2csf_batched = jit(fnp.vectorize(_rsf2csf_2d, signature="(n,n),(n,n)->(n,n),(n,n)"))


def rsf2csf(T: Any, Z: Any, check_finite: bool = True) -> tuple:
    """The complex Schur form ``(T, Z)`` from a real one (``schur(a)``'s output): each
    2 x 2 block of ``T`` is triangularized by a unitary rotation, applied to ``Z`` too, so
    ``Z T Z^H`` is unchanged. ``T``, ``Z``: (..., n, n), batch dimensions broadcast.

    >>> Tc, Zc = rsf2csf(*schur(fnp.array([[1., 2.], [-2., 1.]])))
    """
    T, Z = fnp.asarray(T), fnp.asarray(Z)
    if T.ndim < 2 or T.shape[-1] != T.shape[-2]:
        raise ValueError("Input 'T' must be square.")
    if Z.ndim < 2 or Z.shape[-1] != Z.shape[-2]:
        raise ValueError("Input 'Z' must be square.")
    if T.shape[-1] != Z.shape[-1]:
        raise ValueError(f"Input array shapes must match: Z: {Z.shape} vs. T: {T.shape}")
    T, Z = _inexact("rsf2csf", T, Z)
    cdtype = _complex_of(T.dtype)
    T, Z = T.astype(cdtype), Z.astype(cdtype)
    if T.shape[-1] <= 1:
        batch = _util.broadcast_shapes(T.shape[:-2], Z.shape[:-2], name="rsf2csf")
        return (fnp.broadcast_to(T, batch + T.shape[-2:]),
                fnp.broadcast_to(Z, batch + Z.shape[-2:]))
    return _rsf2csf_batched(T, Z)


# ---------------------------------------------------------------------------------------
# sqrtm and funm: functions of the triangular Schur factor

def _by_superdiagonal(start, update):
    """Fill the strict upper triangle of ``start`` (its diagonal set) one superdiagonal at
    a time: ``update(f)`` gives candidate values for every entry, from which those on the
    next superdiagonal are kept."""
    n = start.shape[-1]
    rows, cols = _grid(n)

    def step(s, f):
        return fnp.where(cols - rows == s, update(f), f)

    return lax.fori_loop(1, n, step, start)


def _sqrtm_triangular(t, real_input: bool):
    n = t.shape[-1]
    diag = fnp.diagonal(t, axis1=-2, axis2=-1)
    if real_input:
        # A real eigenvalue of a real matrix comes out of the complex iteration with an
        # imaginary part of either sign at rounding level; on the negative axis that sign
        # picks the branch of the root. Snapping it to +0 picks +i sqrt(|lambda|), SciPy's.
        scale = fnp.max(fnp.abs(t), axis=(-2, -1), keepdims=True)[..., 0]
        tiny = fnp.abs(fnp.imag(diag)) <= 8 * n * _eps(t.dtype) * scale
        diag = fnp.where(tiny, fnp.real(diag).astype(t.dtype), diag)
    root = fnp.sqrt(diag)
    start = root[..., :, None] * fnp.eye(n, dtype=t.dtype)
    denom = root[..., :, None] + root[..., None, :]

    # On the next superdiagonal, (U U)[i, j] is exactly the sum over i < k < j that the
    # recurrence subtracts: U[i, j] is still zero there.
    def update(u):
        partial = u @ u
        safe = fnp.where(denom == 0, 1, denom)
        return fnp.where(t == partial, 0, (t - partial) / safe)

    return _by_superdiagonal(start, update)


@jit
def _sqrtm(a):
    t, z = _eig._schur(a.astype(_complex_of(a.dtype)))
    root = _sqrtm_triangular(t, not dtypes.is_complex(a.dtype))
    return z @ root @ fnp.conj(fnp.swapaxes(z, -1, -2))


def sqrtm(A: Any, blocksize: int = 1):
    """The principal square root ``X`` (``X @ X == A``) of each square matrix (..., n, n),
    by the Schur method of Bjorck and Hammarling; the result is complex (complex64 for
    float32 input), as JAX's.

    >>> X = sqrtm(fnp.array([[4., 1.], [0., 9.]]))
    """
    if blocksize > 1:
        raise NotImplementedError("Blocked version is not implemented yet.")
    (A,) = _inexact("sqrtm", A)
    _square("sqrtm", A)
    if A.shape[-1] == 0:
        return A.astype(_complex_of(A.dtype))
    return _sqrtm(A)


def _parlett(t, fdiag):
    """``f(T)`` for upper triangular ``T`` from ``f`` on its diagonal, and the smallest
    eigenvalue separation (the recurrence divides by it)."""
    n = t.shape[-1]
    diag = fnp.diagonal(t)
    gap = diag[None, :] - diag[:, None]          # [i, j] = t_jj - t_ii
    rows, cols = _grid(n)

    # On the next superdiagonal, (T F - F T)[i, j] is the whole numerator of Parlett's
    # recurrence: F[i, j] is still zero, so only the terms with i < k < j and the two
    # endpoint terms t_ij (f_jj - f_ii) remain.
    def update(f):
        num = t @ f - f @ t
        return fnp.where(gap != 0, num / fnp.where(gap == 0, 1, gap), num)

    f = _by_superdiagonal(fdiag[:, None] * fnp.eye(n, dtype=t.dtype), update)
    minden = fnp.min(fnp.where(cols > rows, fnp.abs(gap), fnp.abs(t[0, 0])))
    return f, minden


def funm(A: Any, func: Callable, disp: bool = True):
    """``func`` applied to the square matrix ``A`` (n, n) as a matrix function, by the
    Schur-Parlett method: ``func`` maps an array of eigenvalues (complex) to its values
    elementwise. The result is complex. With ``disp=False``, ``(F, err)`` where ``err``
    estimates the relative error (large when eigenvalues are close; not printed).

    >>> F = funm(fnp.array([[1., 2.], [0., 3.]]), fnp.exp)
    """
    A = _floating("funm", A)
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError(f"funm: expected a square matrix (shape (n, n)), got shape "
                         f"{A.shape}")
    cdtype = _complex_of(A.dtype)
    if A.shape[0] == 0:
        f = A.astype(cdtype)
        return f if disp else (f, fnp.zeros((), _real_of(cdtype)))
    t, z = _complex_schur(A.astype(cdtype))
    fdiag = fnp.asarray(func(fnp.diagonal(t))).astype(cdtype)
    f, minden = _parlett(t, fdiag)
    f = z @ f @ fnp.conj(z).T
    if disp:
        return f
    tol = _eps(cdtype)
    minden = fnp.where(minden == 0, tol, minden)
    bound = tol / minden * fnp.max(fnp.sum(fnp.abs(fnp.triu(t, 1)), axis=0))
    err = fnp.where(fnp.any(fnp.isinf(f)), np.inf, fnp.minimum(1, fnp.maximum(tol, bound)))
    return f, err.astype(_real_of(cdtype))


# ---------------------------------------------------------------------------------------
# solve_sylvester

def _upper_lower_sylvester(r, lower, f):
    """``Y`` with ``R Y + Y L = F`` for upper triangular ``R`` and lower triangular ``L``:
    column j needs only the later columns, so one triangular solve per column, last first."""
    n = f.shape[-1]
    eye_m = fnp.eye(r.shape[-1], dtype=r.dtype)

    def step(i, y):
        j = n - 1 - i
        onehot = (fnp.arange(n) == j).astype(f.dtype)
        l_col = lower @ onehot
        # Columns <= j of y are still zero, so y @ l_col sums over the later columns only.
        rhs = f @ onehot - y @ l_col
        l_jj = fnp.sum(l_col * onehot)
        col = dec.triangular_solve(r + l_jj * eye_m, rhs[:, None], left_side=True,
                                   lower=False)
        return y + col * onehot[None, :]

    return lax.fori_loop(0, n, step, fnp.zeros_like(f))


def _sylvester_2d(a, b, c, *, method: str, tol: float):
    cdtype = _complex_of(a.dtype)
    if method == "schur":
        r, u = _eig._schur(a.astype(cdtype))
        s, v = _eig._schur(fnp.conj(b).T.astype(cdtype))     # b = V S^H V^H
        f = fnp.conj(u).T @ c.astype(cdtype) @ v
        y = _upper_lower_sylvester(r, fnp.conj(s).T, f)
        x = u @ y @ fnp.conj(v).T
        eig_a, eig_b = fnp.diagonal(r), fnp.conj(fnp.diagonal(s))
    else:
        eig_a, ua = _np_linalg.eig(a)
        eig_b, ub = _np_linalg.eig(b)
        f = _np_linalg.solve(ua, c.astype(cdtype) @ ub)
        x = ua @ (f / (eig_a[:, None] + eig_b[None, :])) @ _np_linalg.inv(ub)
    if not dtypes.is_complex(c.dtype):
        x = fnp.real(x)
    singular = fnp.any(fnp.abs(eig_a[:, None] + eig_b[None, :]) < tol)
    return fnp.where(singular, np.nan, x)


_sylvester_fns: dict = {}


def solve_sylvester(A: Any, B: Any, C: Any, *, method: str = "schur", tol: float = 1e-8):
    """``X`` with ``A X + X B = C``; ``A`` (..., m, m), ``B`` (..., n, n), ``C``
    (..., m, n), batch dimensions broadcast. ``method="schur"`` (Bartels-Stewart, the
    default) or ``"eigen"`` (eigendecompositions: faster, less accurate for
    non-normal matrices). When some eigenvalue sum ``lambda_A + lambda_B`` is within
    ``tol`` of zero the equation is (nearly) singular and the result is all NaN. The
    result is complex only when an input is.

    >>> X = solve_sylvester(fnp.eye(2), 2 * fnp.eye(2), fnp.ones((2, 2)))
    """
    A, B, C = _inexact("solve_sylvester", A, B, C)
    if A.ndim < 2 or B.ndim < 2 or C.ndim < 2:
        raise ValueError(f"Incompatible shapes for Sylvester equation:\nA: {A.shape}\n"
                         f"B: {B.shape}\nC: {C.shape}")
    m, n = C.shape[-2:]
    if A.shape[-2:] != (m, m) or B.shape[-2:] != (n, n):
        raise ValueError(f"Incompatible shapes for Sylvester equation:\nA: {A.shape}\n"
                         f"B: {B.shape}\nC: {C.shape}")
    if method not in ("schur", "eigen"):
        raise ValueError(f"Unrecognized method {method}. The two valid methods are either "
                         "\"schur\" or \"eigen\".")
    key = (method, float(tol))
    fn = _sylvester_fns.get(key)
    if fn is None:
        def solve2d(a, b, c):
            return _sylvester_2d(a, b, c, method=method, tol=float(tol))
        fn = _sylvester_fns[key] = jit(fnp.vectorize(
            solve2d, signature="(m,m),(n,n),(m,n)->(m,n)"))
    return fn(A, B, C)


# ---------------------------------------------------------------------------------------
# qr_multiply

def _pivoted_qr_2d(a):
    """``(q, r, perm)``: Householder QR with column pivoting (LAPACK's ``geqp3``
    choice: at each step the remaining column of largest norm), ``a[:, perm] = q r``;
    ``q`` m x m, ``r`` m x n."""
    m, n = a.shape
    idx = np.arange(m)
    colidx = np.arange(n)

    def step(j, state):
        r, q, perm = state
        norms = fnp.sum(fnp.where(idx[:, None] >= j, fnp.abs(r) ** 2, 0), axis=0)
        p = fnp.argmax(fnp.where(colidx >= j, norms, -1)).astype(np.int32)
        # Swap columns j and p (of r and of the permutation).
        swap = fnp.where(colidx == j, p, fnp.where(colidx == p, j, colidx))
        r, perm = r[:, swap], perm[swap]
        v, tau, beta = _reflector(r[:, j], idx == j, idx > j)
        r = r - fnp.conj(tau) * v[:, None] * (fnp.conj(v) @ r)[None, :]
        q = q - tau * (q @ v)[:, None] * fnp.conj(v)[None, :]
        r = fnp.where((colidx[None, :] == j) & (idx[:, None] > j), 0, r)
        r = fnp.where((colidx[None, :] == j) & (idx[:, None] == j), beta.astype(r.dtype), r)
        return r, q, perm

    init = (a, fnp.eye(m, dtype=a.dtype), fnp.arange(n, dtype=np.int32))
    r, q, perm = lax.fori_loop(0, min(m, n), step, init)
    return q, fnp.triu(r), perm


_pivoted_qr_batched = jit(fnp.vectorize(_pivoted_qr_2d, signature="(m,n)->(m,m),(m,n),(n)"))


def qr_multiply(a: Any, c: Any, mode: str = "right", pivoting: bool = False,
                conjugate: bool = False, overwrite_a: bool = False,
                overwrite_c: bool = False) -> tuple:
    """The QR factorization ``a = Q R`` of ``a`` (..., m, n), ``k = min(m, n)``, with ``Q``
    applied to ``c``: ``mode="left"``: ``(Q @ c, R)`` for ``c`` (..., k, p) (or a length-k
    vector); ``mode="right"``: ``(c @ Q, R)`` for ``c`` (..., p, m) (or a length-m vector),
    the result (..., p, k). ``R`` is (..., k, n); ``conjugate`` uses ``conj(Q)``;
    ``pivoting`` adds the column permutation ``P`` (``a[..., P] = Q R``) as a third output.

    >>> cq, r = qr_multiply(fnp.ones((3, 2)), fnp.ones((1, 3)))
    """
    a, c = _inexact("qr_multiply", a, c)
    if mode not in ("right", "left"):
        raise ValueError(f"mode must be 'right' or 'left', got {mode!r}")
    if a.ndim < 2:
        raise ValueError(f"qr_multiply: a must be a matrix or a stack of matrices, got shape "
                         f"{a.shape}")
    onedim = c.ndim == 1
    if onedim:
        c = c[:, None] if mode == "left" else c[None, :]
    if c.ndim < 2:
        raise ValueError(f"qr_multiply: c must be a vector or a matrix, got shape {c.shape}")
    m, n = a.shape[-2:]
    k = min(m, n)
    if mode == "left" and c.shape[-2] != k:
        raise ValueError(f"Array shapes are not compatible for Q @ c operation: a has shape "
                         f"{a.shape} so Q has {k} columns, but c has {c.shape[-2]} rows "
                         f"(expected {k}).")
    if mode == "right" and c.shape[-1] != m:
        raise ValueError(f"Array shapes are not compatible for c @ Q operation: a has shape "
                         f"{a.shape} so Q has {m} rows, but c has {c.shape[-1]} columns "
                         f"(expected {m}).")
    batch = _util.broadcast_shapes(a.shape[:-2], c.shape[:-2], name="qr_multiply")
    a = fnp.broadcast_to(a, batch + a.shape[-2:])
    c = fnp.broadcast_to(c, batch + c.shape[-2:])
    if pivoting:
        q, r, perm = _pivoted_qr_batched(a)
        q, r = q[..., :, :k], r[..., :k, :]
    else:
        q, r = dec.qr_factors(a, False)
    if conjugate:
        q = fnp.conj(q)
    out = q @ c if mode == "left" else c @ q
    if onedim:
        out = out.ravel()
    return (out, r, perm) if pivoting else (out, r)


# ---------------------------------------------------------------------------------------
# eigh_tridiagonal

def _sturm_counts(alpha, beta_sq, pivmin, first_perturbation, x):
    """For each point ``x``: how many eigenvalues of the tridiagonal matrix lie below it
    (the negative pivots of the LDL^T factorization of ``T - x I``)."""
    n = alpha.shape[0]
    q = alpha[0] - x
    count = (q < 0).astype(np.int32)
    q = fnp.where(alpha[0] == x, first_perturbation, q)

    def step(i, qc):
        q, count = qc
        q = alpha[i] - beta_sq[i - 1] / q - x
        small = q <= pivmin
        # A tiny pivot is replaced by -pivmin: it counts as negative and cannot overflow.
        return fnp.where(small, fnp.minimum(q, -pivmin), q), count + small.astype(np.int32)

    _, count = lax.fori_loop(1, n, step, (q, count))
    return count


@jit
def _bisect(alpha, beta_abs, beta_sq, targets, tol_arg):
    dtype = alpha.dtype
    info = np.finfo(dtype)
    n = alpha.shape[0]
    # Gershgorin bounds on the spectrum.
    row_sums = fnp.concatenate([beta_abs[:1], beta_abs[:-1] + beta_abs[1:], beta_abs[-1:]])
    low_est = fnp.min(alpha - row_sums)
    high_est = fnp.max(alpha + row_sums)
    t_norm = fnp.maximum(fnp.abs(low_est), fnp.abs(high_est))
    one = np.ones((), dtype)
    safemin = np.maximum(one / info.max, (one + info.eps) * info.tiny)
    pivmin = safemin * fnp.maximum(1, fnp.max(beta_sq))
    first_perturbation = (info.eps * beta_abs[0]) ** 2
    abs_tol = fnp.maximum(tol_arg, info.eps * t_norm)
    # Widened a little so that eigenvalues at the Gershgorin bounds stay inside.
    slack = np.asarray(n * 2.1 * info.eps, dtype) * t_norm
    lower = fnp.broadcast_to(low_est - slack - 2 * 2.1 * pivmin, targets.shape)
    upper = fnp.broadcast_to(high_est + slack + 2.1 * pivmin, targets.shape)
    mid = (lower + upper) / 2
    max_steps = info.nmant + 1

    def cond(state):
        i, lower, _, upper = state
        return (i < max_steps) & (fnp.max(upper - lower) > abs_tol)

    def body(state):
        i, lower, mid, upper = state
        counts = _sturm_counts(alpha, beta_sq, pivmin, first_perturbation, mid)
        below = counts <= targets
        lower = fnp.where(below, mid, lower)
        upper = fnp.where(below, upper, mid)
        return i + 1, lower, (lower + upper) / 2, upper

    _, _, mid, _ = lax.while_loop(cond, body, (np.int32(0), lower, mid, upper))
    return mid


def eigh_tridiagonal(d: Any, e: Any, *, eigvals_only: bool = False, select: str = "a",
                     select_range: tuple | None = None, tol: float | None = None,
                     key: Any = None):
    """Eigenvalues (ascending) of the Hermitian tridiagonal matrix with diagonal ``d``
    (n,) and off-diagonal ``e`` (n - 1,), by bisection; with ``eigvals_only=False`` also
    the orthonormal eigenvectors as the columns of an (n, k) array. ``select="a"``: all;
    ``"i"``: those with indices ``select_range[0] <= i <= select_range[1]``. ``tol`` is a
    floor on the absolute accuracy. ``key`` is accepted for JAX's signature; the
    eigenvectors are computed deterministically.

    >>> w = eigh_tridiagonal(fnp.array([1., 2., 3.]), fnp.array([1., 1.]), eigvals_only=True)
    """
    del key  # the eigenvectors need no random start here (see _eigenvectors)
    alpha, beta = fnp.asarray(d), fnp.asarray(e)
    if alpha.dtype != beta.dtype:
        raise TypeError("diagonal and off-diagonal values must have same dtype, got "
                        f"{alpha.dtype} and {beta.dtype}")
    if alpha.dtype not in (np.float32, np.float64, np.complex64, np.complex128):
        raise TypeError("Only float32 and float64 inputs are supported as inputs to "
                        f"eigh_tridiagonal, got {alpha.dtype} and {beta.dtype}")
    if alpha.ndim != 1 or beta.ndim != 1 or beta.shape[0] != max(alpha.shape[0] - 1, 0):
        raise ValueError(f"eigh_tridiagonal: expected d of shape (n,) and e of shape "
                         f"(n - 1,), got {alpha.shape} and {beta.shape}")
    n = alpha.shape[0]
    if select == "a":
        targets = np.arange(n, dtype=np.int32)
    elif select == "i":
        if select_range is None:
            raise ValueError("for select='i', select_range must be specified.")
        if select_range[0] > select_range[1]:
            raise ValueError("Got empty index range in select_range.")
        targets = np.arange(select_range[0], select_range[1] + 1, dtype=np.int32)
    elif select == "v":
        raise NotImplementedError("eigh_tridiagonal(..., select='v') is not implemented: "
                                  "the number of eigenvalues in a value range is not static; "
                                  "use select='i' with an index range")
    else:
        raise ValueError("'select must have a value in {'a', 'i', 'v'}.")
    real = fnp.real(alpha)
    if n <= 1:
        return real if eigvals_only else (real, fnp.eye(n, dtype=alpha.dtype))
    beta_sq = fnp.real(beta * fnp.conj(beta))
    tol_arg = fnp.asarray(0 if tol is None else tol, real.dtype)
    w = _bisect(real, fnp.sqrt(beta_sq), beta_sq, fnp.asarray(targets), tol_arg)
    if eigvals_only:
        return w
    return w, _eigenvectors(alpha, beta, targets)


def _eigenvectors(alpha, beta, targets):
    """The eigenvectors for eigenvalue indices ``targets`` (static), from the dense
    Hermitian eigensolver: orthonormal even within clusters of close eigenvalues, which
    inverse iteration has to re-orthogonalize."""
    dtype = dtypes.result_type(fnp.real(alpha).dtype, beta.dtype)
    n = alpha.shape[0]
    t = (fnp.diag(fnp.real(alpha).astype(dtype)) + fnp.diag(beta.astype(dtype), 1)
         + fnp.diag(fnp.conj(beta).astype(dtype), -1))
    _, v = _np_linalg.eigh(t)
    return v[:, targets] if len(targets) != n else v
