"""lax.linalg.eig (functorch_lite/lax/eig.py), fnp.linalg.eig/eigvals, fnp.roots and
fnp.poly of a matrix: eigenvalues against NumPy's LAPACK (matched as sets: the order is
the Schur form's), eigenvector residuals and normalization, derivatives of
order-independent functions against jax.grad and finite differences."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite import lax
from rule_checks import check_grads, x64


def _matrix(shape, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        a = a + 1j * rng.standard_normal(shape)
    return a.astype(dtype)


def _same_set(got, want, tol):
    """Each eigenvalue of ``want`` matched to a distinct nearest one of ``got``."""
    got, want = np.asarray(got).reshape(-1, np.shape(got)[-1]), np.asarray(want).reshape(
        -1, np.shape(want)[-1])
    for g, w in zip(got, want):
        left = list(g)
        for value in w:
            i = int(np.argmin([abs(value - x) for x in left]))
            assert abs(left.pop(i) - value) <= tol * max(1.0, abs(value)), (g, w)


def _check(a, tol):
    w, vl, vr = (np.asarray(t) for t in lax.linalg.eig(a))
    cdt = np.complex128 if a.dtype in (np.float64, np.complex128) else np.complex64
    assert w.dtype == vl.dtype == vr.dtype == cdt
    _same_set(w, np.linalg.eigvals(a), tol)
    scale = max(1.0, np.abs(a).max())
    mh = lambda x: np.conj(np.swapaxes(x, -1, -2))   # noqa: E731
    np.testing.assert_allclose(a @ vr, vr * w[..., None, :], atol=tol * scale)
    np.testing.assert_allclose(mh(vl) @ a, w[..., :, None] * mh(vl), atol=tol * scale)
    for v in (vl, vr):
        np.testing.assert_allclose(np.linalg.norm(v, axis=-2), 1, atol=tol)
        top = np.take_along_axis(v, np.abs(v).argmax(-2)[..., None, :], -2)
        np.testing.assert_allclose(top.imag, 0, atol=tol)
        assert np.all(top.real > 0)


@pytest.mark.parametrize("dtype", [np.float32, np.complex64])
def test_eig_values_and_vectors(dtype):
    for shape in [(4, 4), (2, 5, 5), (1, 1), (12, 12)]:
        _check(_matrix(shape, dtype), 1e-4)


def test_eig_float64_and_special_matrices():
    with x64():
        _check(_matrix((9, 9), np.float64, seed=3), 1e-11)
    for a in (np.eye(3, dtype=np.float32), np.zeros((3, 3), np.float32),
              np.array([[0.0, -1.0], [1.0, 0.0]], np.float32),         # a complex pair
              np.array([[2.0, 1.0], [0.0, 2.0]], np.float32),          # defective
              np.triu(_matrix((5, 5))), np.diag([3.0, -1.0, 2.0]).astype(np.float32)):
        w, vr = (np.asarray(t) for t in lax.linalg.eig(a, compute_left_eigenvectors=False))
        _same_set(w, np.linalg.eigvals(a), 1e-5)
        np.testing.assert_allclose(a @ vr, vr * w, atol=1e-5)


def test_eig_flags_jit_vmap():
    a = _matrix((3, 4, 4), seed=1)
    assert len(lax.linalg.eig(a, compute_left_eigenvectors=False,
                              compute_right_eigenvectors=False)) == 1
    w = np.asarray(lax.linalg.eig(a, compute_left_eigenvectors=False)[0])
    np.testing.assert_allclose(fl.jit(lambda x: lax.linalg.eig(x)[0])(a), w, rtol=1e-6,
                               atol=1e-6)
    np.testing.assert_allclose(fl.vmap(lambda x: lax.linalg.eig(x)[0])(a), w, rtol=1e-6,
                               atol=1e-6)


def _symmetric_functions(module, x):
    """Functions of the eigenvalues (and eigenvectors) that do not depend on their order,
    nor on the eigenvectors' phases."""
    if module is jnp:
        w, vr = jax.lax.linalg.eig(x, compute_left_eigenvectors=False,
                                   enable_eigvec_derivs=True)
    else:
        w, vr = lax.linalg.eig(x, compute_left_eigenvectors=False, enable_eigvec_derivs=True)
    pair = (vr[..., 0, :] * vr[..., 1, :].conj()).real
    return (w ** 2).real.sum() + (w.imag ** 2).sum() + (pair * w.real).sum()


def test_eig_grads_match_jax():
    a = _matrix((4, 4), seed=2)
    want = jax.grad(lambda x: _symmetric_functions(jnp, x))(a)
    got = fl.grad(lambda x: _symmetric_functions(fl.numpy, x))(a)
    np.testing.assert_allclose(got, want, rtol=2e-3, atol=2e-3)
    with x64():
        b = _matrix((3, 3), np.float64, seed=4)
        check_grads(lambda x: (lambda w: (w.real, (w * w).imag))(
            lax.linalg.eig(x, compute_left_eigenvectors=False,
                           compute_right_eigenvectors=False)[0]), (b,), order=1,
                    rtol=1e-4, atol=1e-4)


def test_eigvec_derivs_need_opt_in():
    with pytest.raises(NotImplementedError, match="enable_eigvec_derivs"):
        fl.grad(lambda x: lax.linalg.eig(x)[2].real.sum())(_matrix((3, 3)))


def test_numpy_eig_eigvals_roots_poly():
    a = _matrix((5, 5), seed=5)
    result = fnp.linalg.eig(a)
    assert type(result).__name__ == "EigResult"
    _same_set(result.eigenvalues, jnp.linalg.eigvals(a), 1e-4)
    _same_set(fnp.linalg.eigvals(a), jnp.linalg.eigvals(a), 1e-4)
    assert fnp.linalg.eigvals(np.arange(4).reshape(2, 2)).dtype == np.complex64
    p = np.array([1.0, -6.0, 11.0, -6.0], np.float32)                # (x-1)(x-2)(x-3)
    _same_set(fnp.roots(p), jnp.roots(p), 1e-4)
    lead = np.array([0.0, 0.0, 1.0, 3.0, 2.0], np.float32)
    _same_set(fnp.roots(lead), jnp.roots(lead), 1e-4)
    kept = np.asarray(fl.jit(lambda q: fnp.roots(q, strip_zeros=False))(lead))
    assert kept.shape == (4,) and np.isnan(kept[2:]).all()
    _same_set(kept[:2], np.roots(lead), 1e-4)
    assert fnp.roots(np.array([3.0])).shape == (0,)
    with pytest.raises(fl.ConcretizationTypeError):
        fl.jit(fnp.roots)(p)
    with pytest.raises(ValueError):
        fnp.roots(np.ones((2, 2)))
    m = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    got, want = fnp.poly(m), jnp.poly(m)
    assert got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
