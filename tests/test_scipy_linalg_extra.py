"""functorch_lite/scipy/linalg_extra.py (hessenberg, schur, rsf2csf, sqrtm, funm,
solve_sylvester, qr_multiply, eigh_tridiagonal) against jax.scipy.linalg and SciPy:
values where the result is unique, invariants (unitary factors, reconstruction, structure,
eigenvalues) where it is not, dtypes and shapes, errors, jit/vmap and rsf2csf's gradient."""
import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import functorch_lite as fl
import functorch_lite.numpy as fnp
import functorch_lite.scipy.linalg_extra as L
from helpers import assert_same
from rule_checks import x64

scipy_linalg = pytest.importorskip("scipy.linalg")

RNG = np.random.default_rng(0)
A4 = RNG.standard_normal((4, 4)).astype(np.float32)
C4 = (RNG.standard_normal((4, 4)) + 1j * RNG.standard_normal((4, 4))).astype(np.complex64)
STACK = RNG.standard_normal((2, 3, 4, 4)).astype(np.float32)
SYM = ((A4 + A4.T) / 2).astype(np.float32)
TRI = np.triu(A4)
# Nearly a Jordan block, but with well-separated, well-conditioned eigenvalues.
NEAR_JORDAN = np.array([[2, 1, 0, 0], [0, 2.1, 1, 0], [0, 0, 2.2, 1], [0, 0, 0, 1]],
                       np.float32)
# Positive real parts: the principal square root is unique and well defined.
POSITIVE = (A4 @ A4.T + 4 * np.eye(4)).astype(np.float32) + 0.5 * np.triu(A4, 1)
ROT = np.array([[1.0, 2.0, 0.5, 0.0], [-2.0, 1.0, 0.3, 0.1], [0.0, 0.0, 3.0, 0.2],
                [0.0, 0.0, 0.0, -1.0]], np.float32)


def _np(x):
    return np.asarray(x)


def _h(x):
    return np.conj(np.swapaxes(x, -1, -2))


def _eigvals(x):
    return np.linalg.eigvals(np.asarray(x, np.complex128))


def _same_spectrum(got, want, atol):
    """The same multiset of eigenvalues (order free): each wanted one has its own
    nearest partner among those got."""
    got, want = list(np.ravel(got)), np.ravel(want)
    assert len(got) == len(want)
    for w in want:
        k = int(np.argmin([abs(g - w) for g in got]))
        assert abs(got.pop(k) - w) <= atol, (w, got)


def _check_schur(a, t, z, real_form, tol=2e-5):
    a, t, z = np.asarray(a), _np(t), _np(z)
    n = a.shape[-1]
    scale = max(np.abs(a).max(), 1.0)
    np.testing.assert_allclose(_h(z) @ z, np.broadcast_to(np.eye(n), z.shape), atol=tol)
    np.testing.assert_allclose(z @ t @ _h(z), a, atol=tol * scale)
    if not real_form:
        assert np.all(np.tril(t, -1) == 0)
        return
    assert np.all(np.tril(t, -2) == 0)
    for idx in np.ndindex(t.shape[:-2]):
        m = t[idx]
        sub = np.diagonal(m, -1)
        assert not np.any((sub[1:] != 0) & (sub[:-1] != 0)), "2 x 2 blocks overlap"
        for k in np.flatnonzero(sub):   # standardized complex-pair blocks
            assert abs(m[k, k] - m[k + 1, k + 1]) <= tol * scale
            assert m[k, k + 1] * m[k + 1, k] < 0


# ---------------------------------------------------------------------------------------
# hessenberg

@pytest.mark.parametrize("a", [A4, C4, STACK[0]], ids=["real", "complex", "batch"])
def test_hessenberg_matches_jax(a):
    h, q = L.hessenberg(a, calc_q=True)
    hj, qj = jsl.hessenberg(a, calc_q=True)
    # LAPACK's reflector convention makes both factors unique: compare them directly.
    assert_same(h, hj, 2e-5)
    assert_same(q, qj, 2e-5)
    assert_same(L.hessenberg(a), hj, 2e-5)
    h, q = _np(h), _np(q)
    assert np.all(np.tril(h, -2) == 0)
    np.testing.assert_allclose(q @ h @ _h(q), a, atol=2e-5)
    np.testing.assert_allclose(_h(q) @ q, np.broadcast_to(np.eye(4), q.shape), atol=2e-6)


def test_hessenberg_vmap_and_edges():
    h = L.hessenberg(STACK[0])
    assert_same(fl.vmap(lambda x: L.hessenberg(x))(STACK[0]), h)
    empty = np.zeros((0, 0), np.float32)
    assert_same(L.hessenberg(empty), jsl.hessenberg(empty))
    for fn in (L.hessenberg, L.schur, lambda a: L.funm(a, fnp.exp)):
        with pytest.raises(TypeError, match="int32"):   # as JAX: no integer promotion
            fn(np.eye(3, dtype=np.int32))
    with pytest.raises(ValueError, match="square"):
        L.hessenberg(np.ones((2, 3), np.float32))


# ---------------------------------------------------------------------------------------
# schur

@pytest.mark.parametrize("name, a", [("random", A4), ("symmetric", SYM), ("triangular", TRI),
                                     ("near_jordan", NEAR_JORDAN), ("stack", STACK),
                                     ("rotation", ROT)])
def test_schur_real_invariants(name, a):
    t, z = L.schur(a)
    tj, _ = jsl.schur(a)
    assert _np(t).dtype == np.float32 and _np(t).shape == _np(tj).shape
    _check_schur(a, t, z, real_form=True)
    # Eigenvalues agree with JAX's Schur form (the order along the diagonal may not).
    for idx in np.ndindex(np.shape(a)[:-2]):
        _same_spectrum(_eigvals(_np(t)[idx]), _eigvals(_np(tj)[idx]), 2e-5)
    if name == "symmetric":
        assert np.all(np.tril(_np(t), -1) == 0)
    if name == "rotation":   # complex pair: one standardized 2 x 2 block
        assert np.count_nonzero(np.diagonal(_np(t), -1)) == 1


@settings(max_examples=8, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_schur_real_random(seed):
    a = np.random.default_rng(seed).standard_normal((4, 4)).astype(np.float32)
    t, z = L.schur(a)
    _check_schur(a, t, z, real_form=True)
    _same_spectrum(_eigvals(t), _eigvals(a), 5e-5)


@pytest.mark.parametrize("a", [A4, C4], ids=["real", "complex"])
def test_schur_complex_output(a):
    t, z = L.schur(a, output="complex")
    tj, zj = jsl.schur(a, output="complex")
    assert _np(t).dtype == _np(tj).dtype == np.complex64
    _check_schur(a, t, z, real_form=False)
    _same_spectrum(np.diag(_np(t)), np.diag(_np(tj)), 2e-5)
    if a is C4:   # complex input: "real" output is the complex form too, as in JAX
        t2, _ = L.schur(a)
        assert _np(t2).dtype == np.complex64
        assert np.all(np.tril(_np(t2), -1) == 0)


def test_schur_x64():
    with x64():
        _test_schur_x64()


def _test_schur_x64():
    a = np.random.default_rng(3).standard_normal((6, 6))
    t, z = L.schur(a)
    assert _np(t).dtype == _np(jsl.schur(a)[0]).dtype == np.float64
    _check_schur(a, t, z, real_form=True, tol=1e-12)
    _same_spectrum(_eigvals(t), _eigvals(a), 1e-12)


def test_schur_transformations_and_errors():
    t, z = L.schur(STACK[0])
    assert_same(fl.vmap(L.schur)(STACK[0]), (t, z))
    with pytest.raises(ValueError, match="output"):
        L.schur(A4, output="quasi")
    with pytest.raises(ValueError, match="square"):
        L.schur(np.ones((3, 2), np.float32))


# ---------------------------------------------------------------------------------------
# rsf2csf

@pytest.mark.parametrize("a", [ROT, STACK[0]], ids=["rotation", "batch"])
def test_rsf2csf_matches_jax(a):
    t, z = L.schur(a)
    tc, zc = L.rsf2csf(t, z)
    # Same real Schur form in: JAX's conversion must give the same complex one.
    assert_same((tc, zc), jsl.rsf2csf(_np(t), _np(z)), 2e-5)
    _check_schur(a, tc, zc, real_form=False)


def test_rsf2csf_grad_and_errors():
    t = np.triu(A4)
    t[1, 1] = t[2, 2] = 0.5      # one coupled 2 x 2 block (a complex pair)
    t[1, 2], t[2, 1] = 2.0, -1.5
    z = np.eye(4, dtype=np.float32)

    def f(t):
        tc, zc = L.rsf2csf(t, z)
        return fnp.sum(fnp.real(tc) * 1.5 + fnp.imag(tc) + fnp.real(zc) * 0.5)

    def fj(t):
        tc, zc = jsl.rsf2csf(t, z)
        return jnp.sum(jnp.real(tc) * 1.5 + jnp.imag(tc) + jnp.real(zc) * 0.5)

    np.testing.assert_allclose(_np(fl.grad(f)(t)), _np(jax.grad(fj)(t)), atol=1e-4)
    with pytest.raises(ValueError, match="'T' must be square"):
        L.rsf2csf(np.ones((2, 3)), np.eye(3))
    with pytest.raises(ValueError, match="must match"):
        L.rsf2csf(np.eye(2), np.eye(3))


# ---------------------------------------------------------------------------------------
# sqrtm and funm

@pytest.mark.parametrize("name, a", [("positive", POSITIVE), ("triangular", np.triu(POSITIVE)),
                                     ("near_jordan", NEAR_JORDAN), ("complex", C4)])
def test_sqrtm_matches_jax(name, a):
    x = L.sqrtm(a)
    assert_same(x, jsl.sqrtm(a), 5e-4)
    np.testing.assert_allclose(_np(x) @ _np(x), a, atol=5e-5 * np.abs(a).max())


def test_sqrtm_negative_eigenvalue_scipy():
    # A real matrix with a negative eigenvalue has no real root; SciPy (and JAX, when its
    # rounding falls that way) takes +i sqrt(|lambda|) for it.
    x = _np(L.sqrtm(A4))
    np.testing.assert_allclose(x, scipy_linalg.sqrtm(A4.astype(np.float64)), atol=1e-4)
    np.testing.assert_allclose(x @ x, A4, atol=1e-5)


def test_sqrtm_x64_errors():
    with x64():
        _test_sqrtm_x64_errors()


def _test_sqrtm_x64_errors():
    a = POSITIVE.astype(np.float64)
    x = L.sqrtm(a)
    assert_same(x, jsl.sqrtm(a), 1e-10)
    np.testing.assert_allclose(_np(x), scipy_linalg.sqrtm(a), atol=1e-10)
    with pytest.raises(NotImplementedError, match="Blocked"):
        L.sqrtm(a, blocksize=2)
    with pytest.raises(ValueError, match="square"):
        L.sqrtm(np.ones(3))


@pytest.mark.parametrize("fname", ["exp", "sin"])
def test_funm_matches_jax(fname):
    a = A4 / 2
    f = L.funm(a, getattr(fnp, fname))
    assert_same(f, jsl.funm(a, getattr(jnp, fname)), 1e-4)
    if fname == "exp":
        np.testing.assert_allclose(_np(f), scipy_linalg.expm(a), atol=1e-5)
    f2, err = L.funm(a, getattr(fnp, fname), disp=False)
    f2j, errj = jsl.funm(a, getattr(jnp, fname), disp=False)
    assert_same(f2, f2j, 1e-4)
    assert_same(err, errj, 1e-6)


def test_funm_structured_and_errors():
    # Symmetric: f(A) = V f(w) V^T; triangular with distinct diagonal: the recurrence only.
    w, v = np.linalg.eigh(SYM.astype(np.float64))
    got = _np(L.funm(SYM, lambda x: x ** 3 - 2 * x))
    np.testing.assert_allclose(got, (v * (w ** 3 - 2 * w)) @ v.T, atol=1e-4)
    np.testing.assert_allclose(_np(L.funm(TRI, fnp.exp)), scipy_linalg.expm(TRI), atol=1e-4)
    with pytest.raises(ValueError, match="square"):
        L.funm(STACK[0], fnp.exp)


# ---------------------------------------------------------------------------------------
# solve_sylvester

B3 = RNG.standard_normal((3, 3)).astype(np.float32)
C43 = RNG.standard_normal((4, 3)).astype(np.float32)


@pytest.mark.parametrize("method", ["schur", "eigen"])
def test_solve_sylvester_matches_jax(method):
    x = L.solve_sylvester(A4, B3, C43, method=method)
    assert_same(x, jsl.solve_sylvester(A4, B3, C43, method=method), 1e-4)
    np.testing.assert_allclose(A4 @ _np(x) + _np(x) @ B3, C43, atol=1e-4)


def test_solve_sylvester_batch_singular_errors():
    # Batch dimensions broadcast: (2, 4, 4) with (3, 3) and (4, 3).
    a2 = np.stack([A4, TRI])
    xb = _np(L.solve_sylvester(a2, B3, C43))
    assert xb.shape == (2, 4, 3) and xb.dtype == np.float32
    np.testing.assert_allclose(a2 @ xb + xb @ B3, np.broadcast_to(C43, xb.shape), atol=1e-4)
    # Eigenvalues that sum to zero: NaNs, as JAX.
    a_s = np.diag([1.0, 2.0, 3.0, 4.0]).astype(np.float32)
    b_s = np.diag([-1.0, 5.0, 6.0]).astype(np.float32)
    assert_same(L.solve_sylvester(a_s, b_s, C43), jsl.solve_sylvester(a_s, b_s, C43))
    assert np.all(np.isnan(_np(L.solve_sylvester(a_s, b_s, C43))))
    with pytest.raises(ValueError, match="Incompatible shapes"):
        L.solve_sylvester(A4, B3, np.ones((3, 3), np.float32))
    with pytest.raises(ValueError, match="Unrecognized method"):
        L.solve_sylvester(A4, B3, C43, method="qr")


def test_solve_sylvester_x64():
    with x64():
        _test_solve_sylvester_x64()


def _test_solve_sylvester_x64():
    a, b = A4.astype(np.float64), B3.astype(np.float64)
    x = L.solve_sylvester(a, b, C43.astype(np.float64))
    assert_same(x, jsl.solve_sylvester(a, b, C43.astype(np.float64)), 1e-10)
    np.testing.assert_allclose(_np(x), scipy_linalg.solve_sylvester(a, b, C43), atol=1e-10)


# ---------------------------------------------------------------------------------------
# qr_multiply

A43 = RNG.standard_normal((4, 3)).astype(np.float32)
A34 = RNG.standard_normal((3, 4)).astype(np.float32)


@pytest.mark.parametrize("a, c, kw", [
    (A43, RNG.standard_normal((2, 4)).astype(np.float32), {}),
    (A43, RNG.standard_normal((3, 2)).astype(np.float32), {"mode": "left"}),
    (A34, RNG.standard_normal(3).astype(np.float32), {"mode": "left"}),
    (A43, RNG.standard_normal(4).astype(np.float32), {"pivoting": True}),
    (A34, RNG.standard_normal((2, 3)).astype(np.float32), {"pivoting": True}),
    (C4, RNG.standard_normal((4, 4)).astype(np.float32), {"conjugate": True}),
    (C4, RNG.standard_normal((4, 2)).astype(np.float32), {"mode": "left", "conjugate": True}),
    (STACK[0, :, :, :3], RNG.standard_normal((2, 4)).astype(np.float32), {}),
], ids=["right", "left", "left_vec_wide", "pivot_vec", "pivot_wide", "conj", "conj_left",
        "batch"])
def test_qr_multiply_matches_jax(a, c, kw):
    got = L.qr_multiply(a, c, **kw)
    assert_same(got, jsl.qr_multiply(a, c, **kw), 2e-5)
    if kw.get("pivoting"):
        # a[:, P] = Q R: with c = I (right), c @ Q is Q itself.
        q, r, p = L.qr_multiply(a, np.eye(a.shape[0], dtype=np.float32), pivoting=True)
        np.testing.assert_allclose(_np(q) @ _np(r), a[:, _np(p)], atol=2e-5)


def test_qr_multiply_jit_and_errors():
    c = np.ones((2, 4), np.float32)
    assert_same(fl.jit(L.qr_multiply)(A43, c), L.qr_multiply(A43, c))
    with pytest.raises(ValueError, match="mode"):
        L.qr_multiply(A43, c, mode="middle")
    with pytest.raises(ValueError, match="c @ Q"):
        L.qr_multiply(A43, np.ones((2, 3), np.float32))
    with pytest.raises(ValueError, match="Q @ c"):
        L.qr_multiply(A43, np.ones((4, 2), np.float32), mode="left")


# ---------------------------------------------------------------------------------------
# eigh_tridiagonal

D6 = RNG.standard_normal(6).astype(np.float32)
E5 = RNG.standard_normal(5).astype(np.float32)


def _tridiag(d, e):
    return np.diag(d) + np.diag(e, 1) + np.diag(np.conj(e), -1)


@pytest.mark.parametrize("kw", [{}, {"select": "i", "select_range": (1, 3)}, {"tol": 1e-3}],
                         ids=["all", "index_range", "tol"])
def test_eigh_tridiagonal_values(kw):
    w = L.eigh_tridiagonal(D6, E5, eigvals_only=True, **kw)
    assert_same(w, jsl.eigh_tridiagonal(D6, E5, eigvals_only=True, **kw), 1e-5)
    full = np.linalg.eigvalsh(_tridiag(D6, E5).astype(np.float64))
    lo, hi = kw.get("select_range", (0, 5))
    np.testing.assert_allclose(_np(w), full[lo:hi + 1], atol=kw.get("tol", 1e-5))


def test_eigh_tridiagonal_vectors():
    w, v = L.eigh_tridiagonal(D6, E5)
    wj, vj = jsl.eigh_tridiagonal(D6, E5)
    assert_same(w, wj, 1e-5)
    v, vj = _np(v), _np(vj)
    assert v.shape == vj.shape and v.dtype == vj.dtype
    # Unique up to sign: compare |<v, v_jax>| and the residual.
    np.testing.assert_allclose(np.abs(np.sum(v * vj, axis=0)), np.ones(6), atol=1e-4)
    np.testing.assert_allclose(_tridiag(D6, E5) @ v, v * _np(w), atol=1e-5)
    w2, v2 = L.eigh_tridiagonal(D6, E5, select="i", select_range=(2, 3))
    assert _np(v2).shape == (6, 2)
    np.testing.assert_allclose(np.abs(np.sum(_np(v2) * vj[:, 2:4], axis=0)), 1, atol=1e-4)


def test_eigh_tridiagonal_complex_x64():
    with x64():
        _test_eigh_tridiagonal_complex_x64()


def _test_eigh_tridiagonal_complex_x64():
    d = RNG.standard_normal(5) + 0j
    e = RNG.standard_normal(4) + 1j * RNG.standard_normal(4)
    w, v = L.eigh_tridiagonal(d, e)
    assert_same(w, jsl.eigh_tridiagonal(d, e, eigvals_only=True), 1e-12)
    assert _np(v).dtype == np.complex128     # JAX's dtype
    np.testing.assert_allclose(_tridiag(d, e) @ _np(v), _np(v) * _np(w), atol=1e-12)


def test_eigh_tridiagonal_edges_and_errors():
    one = np.array([2.5], np.float32)
    assert_same(L.eigh_tridiagonal(one, np.zeros(0, np.float32), eigvals_only=True),
                jsl.eigh_tridiagonal(one, np.zeros(0, np.float32), eigvals_only=True))
    with pytest.raises(TypeError, match="same dtype"):
        L.eigh_tridiagonal(D6, E5.astype(np.complex64))
    with pytest.raises(TypeError, match="float32 and float64"):
        L.eigh_tridiagonal(np.arange(3), np.arange(2))
    with pytest.raises(NotImplementedError, match="select='v'"):
        L.eigh_tridiagonal(D6, E5, select="v", select_range=(0.0, 1.0))
    with pytest.raises(ValueError, match="select_range"):
        L.eigh_tridiagonal(D6, E5, select="i")
    with pytest.raises(ValueError, match="empty index range"):
        L.eigh_tridiagonal(D6, E5, select="i", select_range=(3, 1))
    with pytest.raises(ValueError, match="select"):
        L.eigh_tridiagonal(D6, E5, select="x")
