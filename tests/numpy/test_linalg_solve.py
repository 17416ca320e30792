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


# -- built on the solvers and products ---------------------------------------------------------
@pytest.mark.parametrize("n", [0, 1, 2, 3, 6, -1, -4])
def test_matrix_power_matches_jax(n):
    a = _mat((2, 3, 3), seed=15) / 3
    _close(fnp.linalg.matrix_power(a, n), jnp.linalg.matrix_power(a, n), tol=2e-4)
    ints = np.array([[1, 1], [1, 0]], np.int32)
    if n >= 0:
        out = fnp.linalg.matrix_power(ints, n)
        assert out.dtype == np.int32
        np.testing.assert_array_equal(out, np.linalg.matrix_power(ints, n))
    g = fl.grad(lambda a: fnp.sum(fnp.linalg.matrix_power(a, n)))(a[0])
    _close(g, jax.grad(lambda a: jnp.sum(jnp.linalg.matrix_power(a, n)))(a[0]), tol=5e-4)


def test_matrix_power_errors():
    with pytest.raises(TypeError, match="integer"):
        fnp.linalg.matrix_power(np.eye(2), 1.5)
    with pytest.raises(ValueError, match="square"):
        fnp.linalg.matrix_power(np.ones((2, 3)), 2)


@pytest.mark.parametrize("shapes", [[(4, 10), (10, 2), (2, 7)], [(4,), (4, 10), (10, 3)],
                                    [(5, 2), (2, 6), (6,)], [(3,), (3, 4), (4, 2), (2,)]])
def test_multi_dot_matches_numpy(shapes):
    arrays = [_mat(s, seed=i) for i, s in enumerate(shapes)]
    _close(fnp.linalg.multi_dot(arrays), np.linalg.multi_dot(arrays))
    with pytest.raises(ValueError):
        fnp.linalg.multi_dot(arrays[:1])


def test_tensorinv_and_tensorsolve_match_numpy():
    a = _mat((2, 3, 6), seed=16)
    _close(fnp.linalg.tensorinv(a, ind=2), np.linalg.tensorinv(a, ind=2), tol=5e-4)
    b = _mat((2, 3), seed=17)
    _close(fnp.linalg.tensorsolve(a, b), np.linalg.tensorsolve(a, b), tol=5e-4)
    moved = np.moveaxis(a, 0, 2)
    rhs = _mat((3, 2), seed=18)  # moved (3, 6, 2) with its axis 1 last: (3, 2, 6)
    _close(fnp.linalg.tensorsolve(moved, rhs, axes=(1,)),
           np.linalg.tensorsolve(moved, rhs, axes=(1,)), tol=5e-4)
    with pytest.raises(ValueError):
        fnp.linalg.tensorinv(_mat((2, 3, 4)), ind=2)


@pytest.mark.filterwarnings("ignore:Arrays of 2-dimensional vectors")  # NumPy's, the oracle
@pytest.mark.parametrize("sa,sb", [(3, 3), (2, 3), (3, 2), (2, 2)])
def test_cross_matches_numpy(sa, sb):
    u = _mat((4, sa), seed=19)
    v = _mat((1, sb), seed=20)
    _close(fnp.cross(u, v), np.cross(u, v))
    if sa == sb == 3:
        _close(fnp.cross(u.T, v.T, axisa=0, axisb=0, axisc=0),
               np.cross(u.T, v.T, axisa=0, axisb=0, axisc=0))
        _close(fnp.linalg.cross(u, v), jnp.linalg.cross(u, v))
    else:
        with pytest.raises(ValueError):
            fnp.linalg.cross(u, v)
    with pytest.raises(ValueError, match="2 or 3"):
        fnp.cross(_mat((4,)), _mat((4,)))
