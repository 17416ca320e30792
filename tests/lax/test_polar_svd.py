"""lax.linalg.svd and lax.linalg.qdwh (functorch_lite/lax/polar_svd.py) and the float64
refinement of eigh: values against NumPy's LAPACK (singular values, reconstruction,
orthonormality in units of eps), derivatives against finite differences and jax.vjp on
functions the sign freedom of singular vectors leaves alone, batching against a loop."""
import jax
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import functorch_lite as fl
from functorch_lite import lax
from rule_checks import check_batching, check_grads, x64


def _matrix(shape, dtype, seed=0, singular_values=None):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        a = a + 1j * rng.standard_normal(shape)
    if singular_values is not None:   # a (m, n) matrix with exactly these singular values
        m, n = shape[-2:]
        u, _ = np.linalg.qr(rng.standard_normal((m, m)))
        v, _ = np.linalg.qr(rng.standard_normal((n, n)))
        k = min(m, n)
        a = (u[:, :k] * np.asarray(singular_values)) @ v[:, :k].T
    return a.astype(dtype)


_JITTED = {f: fl.jit(lambda x, f=f: lax.linalg.svd(x, full_matrices=f)) for f in (False, True)}


def _check_svd(a, full_matrices, ulp=60):
    u, s, vh = (np.asarray(t) for t in _JITTED[full_matrices](a))
    eps = np.finfo(a.dtype).eps
    m, n = a.shape[-2:]
    k = min(m, n)
    assert u.shape == a.shape[:-2] + ((m, m) if full_matrices else (m, k))
    assert vh.shape == a.shape[:-2] + ((n, n) if full_matrices else (k, n))
    assert s.shape == a.shape[:-2] + (k,) and s.dtype == np.finfo(a.dtype).dtype
    scale = max(np.abs(a).max(), 1e-30) * max(m, n)
    np.testing.assert_allclose(s, np.linalg.svd(a, compute_uv=False), atol=ulp * eps * scale)
    assert np.all(np.diff(s, axis=-1) <= 0) and np.all(s >= 0)
    recon = (u[..., :, :k] * s[..., None, :]) @ vh[..., :k, :]
    np.testing.assert_allclose(recon, a, atol=ulp * eps * scale)
    mh = lambda x: np.conj(np.swapaxes(x, -1, -2))   # noqa: E731
    np.testing.assert_allclose(mh(u) @ u, np.broadcast_to(np.eye(u.shape[-1]), u.shape[:-2] +
                                                          (u.shape[-1],) * 2),
                               atol=ulp * eps * max(m, n))
    np.testing.assert_allclose(vh @ mh(vh), np.broadcast_to(
        np.eye(vh.shape[-2]), vh.shape[:-2] + (vh.shape[-2],) * 2), atol=ulp * eps * max(m, n))


@pytest.mark.parametrize("dtype", [np.float32, np.complex64, np.float64, np.complex128])
@pytest.mark.parametrize("full_matrices", [False, True])
def test_svd_against_lapack(dtype, full_matrices):
    # Square, tall and wide; a batch where full_matrices=False (the same code otherwise).
    shapes = [(5, 5), (7, 3), (3, 7)] + ([] if full_matrices else [(2, 6, 4)])
    with x64():
        for shape in shapes:
            _check_svd(_matrix(shape, dtype), full_matrices)


def test_svd_tiny_shapes():
    for shape in [(1, 1), (4, 1), (1, 3)]:
        for full in (False, True):
            _check_svd(_matrix(shape, np.float32), full)
    for full in (False, True):   # empty: shapes as JAX's, identities where full
        a = np.zeros((2, 0, 3), np.float32)
        got = [np.asarray(t) for t in lax.linalg.svd(a, full_matrices=full)]
        want = [np.asarray(t) for t in jax.lax.linalg.svd(a, full_matrices=full)]
        for g, w in zip(got, want):
            assert g.shape == w.shape and g.dtype == w.dtype
            np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, sv", [
    ("graded", np.logspace(0, -6, 8)), ("graded_deep", np.logspace(0, -14, 8)),
    ("rank2", [3.0, 1.0, 0, 0, 0, 0, 0, 0]), ("zero", np.zeros(8)),
    ("repeated", [2.0, 2.0, 2.0, 1.0, 1.0, 1.0, 0.5, 0.5])])
def test_svd_hard_spectra(dtype, name, sv):
    """Ill-conditioned, rank-deficient, zero and repeated spectra stay backward stable
    with orthonormal factors (numerically zero singular values get completed vectors)."""
    with x64():
        for shape in ((8, 8), (8, 11)):
            _check_svd(_matrix(shape, dtype, singular_values=sv), False)


@settings(max_examples=6, deadline=None)
@given(m=st.integers(1, 9), n=st.integers(1, 9), batch=st.sampled_from([(), (2,)]),
       seed=st.integers(0, 100))
def test_svd_hypothesis_shapes(m, n, batch, seed):
    _check_svd(_matrix(batch + (m, n), np.float32, seed), bool(seed % 2))


def test_svd_compute_uv_false_subset_and_jit():
    a = _matrix((6, 4), np.float32)
    s = np.asarray(lax.linalg.svd(a, compute_uv=False))
    np.testing.assert_allclose(s, np.linalg.svd(a, compute_uv=False), rtol=1e-5)
    u, s2, vh = lax.linalg.svd(a, full_matrices=False, subset_by_index=(1, 3))
    assert u.shape == (6, 2) and vh.shape == (2, 4)
    np.testing.assert_allclose(s2, s[1:3], rtol=1e-5)
    np.testing.assert_allclose(lax.linalg.svd(a, compute_uv=False, subset_by_index=(0, 1)),
                               s[:1], rtol=1e-5)
    jitted = fl.jit(lambda x: lax.linalg.svd(x, full_matrices=False))(a)
    for got, want in zip(jitted, lax.linalg.svd(a, full_matrices=False)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    for algorithm in lax.linalg.SvdAlgorithm:
        np.testing.assert_allclose(lax.linalg.svd(a, compute_uv=False, algorithm=algorithm),
                                   s, rtol=1e-5)


def test_svd_errors():
    a = np.ones((4, 3), np.float32)
    with pytest.raises(ValueError, match="full_matrices=False"):
        lax.linalg.svd(a, subset_by_index=(0, 2))
    with pytest.raises(ValueError, match="subset_by_index"):
        lax.linalg.svd(a, full_matrices=False, subset_by_index=(2, 5))
    with pytest.raises(TypeError, match="rank at least 2"):
        lax.linalg.svd(np.ones(3, np.float32))
    with pytest.raises(TypeError, match="float32"):
        lax.linalg.svd(np.ones((3, 3), np.int32))
    with pytest.raises(TypeError, match="SvdAlgorithm"):
        lax.linalg.svd(a, algorithm="jacobi")
    with pytest.raises(NotImplementedError, match="full_matrices=False"):
        fl.grad(lambda x: lax.linalg.svd(x)[0].sum())(a)


# -- derivatives: functions invariant to the singular vectors' signs (phases) --------------
def _sign_free(x, full_matrices=False):
    """Singular values, the leading rank-1 term and the reconstruction: all independent of
    the singular vectors' signs and phases."""
    u, s, vh = lax.linalg.svd(x, full_matrices=full_matrices)
    k = s.shape[-1]
    lead = (u[..., :, :1] * s[..., None, :1].astype(u.dtype)) @ vh[..., :1, :]
    recon = (u[..., :, :k] * s[..., None, :].astype(u.dtype)) @ vh[..., :k, :]
    return s, lead, recon ** 2


@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5), (2, 4, 3)])
def test_svd_grads_finite_differences(shape):
    with x64():
        a = _matrix(shape, np.float64, singular_values=None)
        check_grads(_sign_free, (a,), order=2, rtol=1e-4, atol=1e-4)
        check_grads(lambda x: lax.linalg.svd(x, compute_uv=False), (a,), order=2, rtol=1e-4,
                    atol=1e-4)


def test_svd_grads_complex_and_square_full():
    with x64():
        a = _matrix((4, 3), np.complex128)
        check_grads(lambda x: fl.numpy.abs(_sign_free(x)[1]) ** 2, (a,), order=1, rtol=1e-4,
                    atol=1e-4)
        check_grads(lambda x: lax.linalg.svd(x, compute_uv=False), (a,), order=1, rtol=1e-4,
                    atol=1e-4)
        sq = _matrix((4, 4), np.float64)
        check_grads(lambda x: _sign_free(x, full_matrices=True), (sq,), order=1, rtol=1e-4,
                    atol=1e-4)


def test_svd_vjp_matches_jax():
    a = _matrix((5, 3), np.float32)

    def jax_sign_free(x):
        u, s, vh = jax.lax.linalg.svd(x, full_matrices=False)
        lead = (u[:, :1] * s[None, :1]) @ vh[:1, :]
        return s, lead, ((u * s[None, :]) @ vh) ** 2
    cts = [np.random.default_rng(i).standard_normal(o.shape).astype(np.float32)
           for i, o in enumerate(jax_sign_free(a))]
    want = jax.vjp(jax_sign_free, a)[1](tuple(cts))[0]
    got = fl.vjp(_sign_free, a)[1](tuple(cts))[0]
    np.testing.assert_allclose(got, want, rtol=2e-3, atol=2e-3)


def test_svd_batching():
    a = np.stack([_matrix((4, 3), np.float32, seed=i) for i in range(3)])
    check_batching(lambda x: _sign_free(x), (a,), (0,), rtol=1e-4, atol=1e-4)
    check_batching(lambda x: lax.linalg.svd(x, compute_uv=False), (np.moveaxis(a, 0, 2),),
                   (2,), rtol=1e-4, atol=1e-4)


# -- qdwh ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64])
@pytest.mark.parametrize("shape", [(5, 5), (7, 4)])
def test_qdwh_polar(dtype, shape):
    with x64():
        a = _matrix(shape, dtype, seed=4)
        u, h, iters, converged = lax.linalg.qdwh(a)
        u, h = np.asarray(u), np.asarray(h)
        eps = np.finfo(dtype).eps
        assert bool(converged) and int(iters) == (4 if np.finfo(dtype).bits == 32 else 6)
        np.testing.assert_allclose(u @ h, a, atol=100 * eps * np.abs(a).max())
        np.testing.assert_allclose(np.conj(u.T) @ u, np.eye(shape[1]), atol=100 * eps)
        np.testing.assert_allclose(h, np.conj(h.T), atol=100 * eps)
        assert np.linalg.eigvalsh(h).min() > -100 * eps * np.abs(a).max()
        # Against SciPy's polar decomposition.
        scipy_linalg = pytest.importorskip("scipy.linalg")
        want_u, want_h = scipy_linalg.polar(a)
        np.testing.assert_allclose(u, want_u, atol=1e3 * eps)


def test_qdwh_errors():
    with pytest.raises(ValueError, match="at least as many rows"):
        lax.linalg.qdwh(np.ones((3, 5), np.float32))
    with pytest.raises(ValueError, match="max_iterations"):
        lax.linalg.qdwh(np.ones((3, 3), np.float32), max_iterations=2)
    with pytest.raises(NotImplementedError, match="dynamic_shape"):
        lax.linalg.qdwh(np.ones((3, 3), np.float32), dynamic_shape=(2, 2))


# -- eigh in float64: XLA's Jacobi result refined to LAPACK's accuracy ------------------------
@pytest.mark.parametrize("kind", ["random", "graded", "low_rank", "repeated", "complex"])
def test_eigh_float64_accuracy(kind):
    rng = np.random.default_rng(5)
    n = 30
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    a = rng.standard_normal((n, n))
    z = a + 1j * rng.standard_normal((n, n))
    h = {"random": a + a.T, "graded": (q * np.logspace(0, -14, n)) @ q.T,
         "low_rank": a[:, :2] @ a[:, :2].T,
         "repeated": (q * np.r_[np.full(n // 2, 2.0), np.full(n - n // 2, -1.0)]) @ q.T,
         "complex": z @ z.conj().T}[kind]
    with x64():
        v, w = (np.asarray(t) for t in lax.linalg.eigh(h))
    eps = np.finfo(np.float64).eps
    scale = np.abs(h).max() * n
    np.testing.assert_allclose(w, np.linalg.eigvalsh(h), atol=10 * eps * scale)
    np.testing.assert_allclose(h @ v, v * w, atol=10 * eps * scale)
    np.testing.assert_allclose(v.conj().T @ v, np.eye(n), atol=10 * eps * n)


def test_eigh_float64_grads():
    with x64():
        a = _matrix((4, 4), np.float64)
        h = a + a.T
        check_grads(lambda x: lax.linalg.eigh(x)[1], (h,), order=2, rtol=1e-4, atol=1e-4)
        check_grads(lambda x: (lambda v, w: (v[:, :1] @ v[:, :1].T, w))(*lax.linalg.eigh(x)),
                    (h,), order=1, rtol=1e-4, atol=1e-4)
