"""The decompositions and solvers of ``functorch_lite.numpy.linalg`` and
``functorch_lite.scipy.linalg``: values against NumPy/SciPy's closed forms, dtypes,
gradients and errors against jax.numpy.linalg and jax.scipy.linalg."""
import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import functorch_lite as fl
import functorch_lite.numpy as fnp
import functorch_lite.scipy.linalg as fsl
from rule_checks import x64

RNG = np.random.default_rng(0)


def _mat(shape, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        a = a + 1j * rng.standard_normal(shape)
    n = shape[-1]
    if len(shape) >= 2 and shape[-2] == n:
        a = a + n * np.eye(n)  # well conditioned
    return a.astype(dtype)


def _spd(shape, dtype=np.float32, seed=0):
    a = _mat(shape, dtype, seed)
    return (a @ np.conj(np.swapaxes(a, -1, -2))).astype(dtype)


def _close(ours, want, tol=1e-4):
    ours, want = np.asarray(ours), np.asarray(want)
    assert ours.shape == want.shape, (ours.shape, want.shape)
    np.testing.assert_allclose(ours, want, rtol=tol, atol=tol * max(1.0, np.abs(want).max()))


@settings(max_examples=10, deadline=None)
@given(batch=st.lists(st.integers(1, 3), max_size=2), n=st.integers(1, 5),
       k=st.integers(1, 3), complex_=st.booleans())
def test_solve_inv_det_slogdet_match_numpy(batch, n, k, complex_):
    dtype = np.complex64 if complex_ else np.float32
    a = _mat(tuple(batch) + (n, n), dtype)
    b = _mat(tuple(batch) + (n, k), dtype, seed=1)
    _close(fnp.linalg.solve(a, b), np.linalg.solve(a, b))
    _close(fnp.linalg.inv(a), np.linalg.inv(a))
    _close(fnp.linalg.det(a), np.linalg.det(a), tol=2e-4)
    sign, logdet = fnp.linalg.slogdet(a)
    want_sign, want_logdet = np.linalg.slogdet(a)
    _close(sign, want_sign)
    _close(logdet, want_logdet)
    assert fnp.linalg.solve(a, b).dtype == jnp.linalg.solve(a, b).dtype


def test_solve_vector_and_broadcast_rules_follow_jax():
    a = _mat((2, 3, 3))
    v = _mat((3,), seed=2)
    _close(fnp.linalg.solve(a, v), jnp.linalg.solve(a, v))
    b = _mat((3, 2), seed=3)  # a matrix right-hand side broadcast over a's batch
    _close(fnp.linalg.solve(a, b), jnp.linalg.solve(a, b))
    with pytest.raises(ValueError):
        jnp.linalg.solve(a, _mat((2, 3), seed=4))
    with pytest.raises(ValueError):
        fnp.linalg.solve(a, _mat((2, 3), seed=4))


def test_singular_matrices_like_jax():
    z = np.zeros((2, 2), np.float32)
    assert float(fnp.linalg.det(z)) == 0.0
    sign, logdet = fnp.linalg.slogdet(z)
    assert float(sign) == 0.0 and float(logdet) == -np.inf


@pytest.mark.parametrize("dtype", [np.float32, np.complex64])
def test_cholesky_eigh_qr_match_numpy(dtype):
    s = _spd((2, 4, 4), dtype)
    _close(fnp.linalg.cholesky(s), np.linalg.cholesky(s))
    _close(fnp.linalg.cholesky(s, upper=True), jnp.linalg.cholesky(s, upper=True))
    w, v = fnp.linalg.eigh(s)
    _close(w, np.linalg.eigvalsh(s), tol=1e-4)
    _close(np.asarray(s) @ np.asarray(v), np.asarray(v) * np.asarray(w)[..., None, :],
           tol=1e-4)
    _close(fnp.linalg.eigvalsh(s), np.linalg.eigvalsh(s), tol=1e-4)
    assert type(fnp.linalg.eigh(s)).__name__ == "EighResult"
    a = _mat((2, 5, 3), dtype)
    for mode in ("reduced", "complete"):
        q, r = fnp.linalg.qr(a, mode=mode)
        jq, jr = jnp.linalg.qr(a, mode=mode)
        assert q.shape == jq.shape and r.shape == jr.shape
        _close(np.asarray(q) @ np.asarray(r), a)
    _close(np.abs(fnp.linalg.qr(a, mode="r")), np.abs(jnp.linalg.qr(a, mode="r")))
    h, tau = fnp.linalg.qr(a[0], mode="raw")
    jh, jtau = jnp.linalg.qr(a[0], mode="raw")
    _close(h, jh)
    _close(tau, jtau)


@pytest.mark.parametrize("name", ["solve", "inv", "det", "slogdet", "cholesky", "eigvalsh",
                                  "eigh_vectors", "qr"])
def test_gradients_match_jax(name):
    a = _mat((2, 3, 3), seed=5)
    s = _spd((2, 3, 3), seed=6)
    b = _mat((2, 3, 2), seed=7)

    def loss(lib):
        la = lib.linalg
        f = {
            "solve": lambda a: lib.sum(la.solve(a, b) ** 2),
            "inv": lambda a: lib.sum(la.inv(a) ** 3),
            "det": lambda a: lib.sum(la.det(a)),
            "slogdet": lambda a: lib.sum(la.slogdet(a)[1]),
            "cholesky": lambda a: lib.sum(la.cholesky(a @ lib.swapaxes(a, -1, -2)) ** 2),
            "eigvalsh": lambda a: lib.sum(la.eigvalsh(a + lib.swapaxes(a, -1, -2)) ** 2),
            "eigh_vectors": lambda a: lib.sum(la.eigh(a + lib.swapaxes(a, -1, -2))[1] ** 4),
            "qr": lambda a: lib.sum(la.qr(a)[0] ** 3) + lib.sum(la.qr(a)[1] ** 2),
        }[name]
        return f
    x = s if name in ("eigvalsh", "eigh_vectors") else a
    ours = fl.grad(loss(fnp))(x)
    theirs = jax.grad(loss(jnp))(x)
    _close(ours, theirs, tol=5e-4)
    _close(fl.jit(fl.grad(loss(fnp)))(x), theirs, tol=5e-4)


def test_float64_under_x64():
    with x64():
        a = _mat((3, 3), np.float64)
        x = fnp.linalg.solve(a, np.ones(3))
        assert x.dtype == np.float64
        _close(x, np.linalg.solve(a, np.ones(3)), tol=1e-12)


def test_errors_follow_jax():
    for f in (fnp.linalg.inv, fnp.linalg.det, fnp.linalg.cholesky, fnp.linalg.eigh):
        with pytest.raises(ValueError):
            f(np.ones((2, 3), np.float32))
        with pytest.raises(ValueError):
            f(np.ones(3, np.float32))
    with pytest.raises(ValueError, match="Unsupported QR decomposition mode"):
        fnp.linalg.qr(np.eye(2), mode="economic")
    with pytest.raises(ValueError, match="UPLO"):
        fnp.linalg.eigh(np.eye(2), UPLO="X")
    with pytest.raises(TypeError):
        fnp.linalg.solve([[1.0]], [1.0])
    ints = np.array([[2, 1], [1, 3]], np.int32)
    _close(fnp.linalg.inv(ints), jnp.linalg.inv(ints))


# -- functorch_lite.scipy.linalg ---------------------------------------------------------------
@pytest.mark.parametrize("trans", [0, 1, 2, "N", "T", "C"])
@pytest.mark.parametrize("lower", [True, False])
def test_solve_triangular_matches_jax(trans, lower):
    a = _mat((4, 4), np.complex64, seed=8)
    a = np.tril(a) if lower else np.triu(a)
    b = _mat((4, 2), np.complex64, seed=9)
    for rhs in (b, b[:, 0]):
        _close(fsl.solve_triangular(a, rhs, trans=trans, lower=lower),
               jsl.solve_triangular(a, rhs, trans=trans, lower=lower))
    _close(fsl.solve_triangular(a, b, lower=lower, unit_diagonal=True),
           jsl.solve_triangular(a, b, lower=lower, unit_diagonal=True))


@pytest.mark.parametrize("lower", [True, False])
def test_cholesky_family_matches_jax(lower):
    s = _spd((3, 3), seed=10)
    b = _mat((3, 2), seed=11)
    _close(fsl.cholesky(s, lower=lower), jsl.cholesky(s, lower=lower))
    c, low = fsl.cho_factor(s, lower=lower)
    assert low == lower
    _close(fsl.cho_solve((c, low), b), jsl.cho_solve(jsl.cho_factor(s, lower=lower), b))
    _close(fsl.solve(s, b, assume_a="pos", lower=lower),
           jsl.solve(s, b, assume_a="pos", lower=lower))
    g = fl.grad(lambda s: fnp.sum(fsl.cho_solve(fsl.cho_factor(s, lower), b)))(s)
    jg = jax.grad(lambda s: jnp.sum(jsl.cho_solve(jsl.cho_factor(s, lower), b)))(s)
    _close(g, jg, tol=5e-4)


def test_scipy_solve_inv_det_eigh_qr_match_jax():
    a = _mat((4, 4), seed=12)
    s = _spd((4, 4), seed=13)
    _close(fsl.solve(a, a[:, 0]), jsl.solve(a, a[:, 0]))
    _close(fsl.inv(a), jsl.inv(a))
    _close(fsl.det(a), jsl.det(a))
    w, v = fsl.eigh(s)
    _close(w, jsl.eigh(s)[0])
    _close(fsl.eigh(s, lower=False, eigvals_only=True), jsl.eigh(s, lower=False,
                                                                 eigvals_only=True))
    m = _mat((5, 3), seed=14)
    for mode in ("full", "economic"):
        q, r = fsl.qr(m, mode=mode)
        jq, jr = jsl.qr(m, mode=mode)
        assert q.shape == jq.shape and r.shape == jr.shape
        _close(np.asarray(q) @ np.asarray(r), m)
    (r,) = fsl.qr(m, mode="r")
    assert r.shape == jsl.qr(m, mode="r")[0].shape
    with pytest.raises(NotImplementedError):
        fsl.eigh(s, s)
    with pytest.raises(ValueError, match="trans"):
        fsl.solve_triangular(a, a, trans=3)
