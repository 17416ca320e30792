"""lax.linalg.lu and lu_pivots_to_permutation (functorch_lite/lax/lu.py) and
fl.scipy.linalg.lu/lu_factor/lu_solve: factors, pivots and permutations equal JAX's
(LAPACK's getrf on CPU), derivatives against finite differences and jax.jvp, batching
against a loop, solves against NumPy."""
import jax
import jax.scipy.linalg as jsl
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import functorch_lite as fl
from functorch_lite import lax
from rule_checks import check_batching, check_grads, x64


def _matrix(shape, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        a = a + 1j * rng.standard_normal(shape)
    return a.astype(dtype)


def _same_as_jax(a, tol=1e-5):
    got = [np.asarray(t) for t in lax.linalg.lu(a)]
    want = [np.asarray(t) for t in jax.lax.linalg.lu(a)]
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype, (g.shape, w.shape, g.dtype, w.dtype)
    np.testing.assert_array_equal(got[1], want[1])
    np.testing.assert_array_equal(got[2], want[2])
    np.testing.assert_allclose(got[0], want[0], rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.float32, np.complex64])
@pytest.mark.parametrize("shape", [(4, 4), (6, 3), (3, 6), (2, 3, 5, 5), (1, 1), (1, 4)])
def test_lu_matches_lapack(shape, dtype):
    _same_as_jax(_matrix(shape, dtype))


def test_lu_float64_and_reconstruction():
    with x64():
        a = _matrix((7, 5), np.float64)
        _same_as_jax(a, tol=1e-12)
        packed, _, perm = (np.asarray(t) for t in lax.linalg.lu(a))
        lower = np.tril(packed, -1) + np.eye(7, 5)
        np.testing.assert_allclose(lower @ np.triu(packed[:5]), a[perm], atol=1e-13)


@settings(max_examples=8, deadline=None)
@given(m=st.integers(1, 7), n=st.integers(1, 7), seed=st.integers(0, 1000))
def test_lu_hypothesis(m, n, seed):
    _same_as_jax(_matrix((m, n), np.float32, seed), tol=1e-4)


def test_lu_singular_and_ties():
    # A zero column (no pivot) and equal candidates (the first is chosen), as LAPACK.
    for a in (np.array([[0.0, 1.0], [0.0, 2.0]], np.float32),
              np.array([[1.0, 2.0, 3.0], [-1.0, 0.0, 1.0], [1.0, 5.0, 2.0]], np.float32),
              np.zeros((3, 3), np.float32)):
        got = [np.asarray(t) for t in lax.linalg.lu(a)]
        want = [np.asarray(t) for t in jax.lax.linalg.lu(a)]
        np.testing.assert_array_equal(got[1], want[1])
        np.testing.assert_array_equal(got[2], want[2])
        np.testing.assert_allclose(got[0], want[0], atol=1e-6)


@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5)])
def test_lu_grads(shape):
    with x64():
        a = _matrix(shape, np.float64, seed=2)
        check_grads(lambda x: lax.linalg.lu(x)[0], (a,), order=2, rtol=1e-4, atol=1e-4)
    a = _matrix(shape, np.float32, seed=3)
    t = _matrix(shape, np.float32, seed=4)
    want = jax.jvp(lambda x: jax.lax.linalg.lu(x)[0], (a,), (t,))[1]
    got = fl.jvp(lambda x: lax.linalg.lu(x)[0], (a,), (t,))[1]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_lu_batching_and_jit():
    a = _matrix((3, 4, 4))
    check_batching(lambda x: lax.linalg.lu(x), (a,), (0,), rtol=1e-6, atol=1e-6)
    check_batching(lambda x: lax.linalg.lu(x), (np.moveaxis(a, 0, 2),), (2,), rtol=1e-6,
                   atol=1e-6)
    for got, want in zip(fl.jit(lax.linalg.lu)(a), lax.linalg.lu(a)):
        np.testing.assert_array_equal(got, want)


def test_pivots_to_permutation():
    pivots = np.array([[2, 2, 3], [0, 4, 4]], np.int32)
    np.testing.assert_array_equal(lax.linalg.lu_pivots_to_permutation(pivots, 5),
                                  jax.lax.linalg.lu_pivots_to_permutation(pivots, 5))
    with pytest.raises(ValueError, match="pivots"):
        lax.linalg.lu_pivots_to_permutation(pivots, 2)


def test_scipy_lu_functions_match_jax():
    a = _matrix((4, 4), seed=5)
    rect = _matrix((5, 3), seed=6)
    b = _matrix((4, 2), seed=7)
    for x in (a, rect, rect.T):
        for got, want in zip(fl.scipy.linalg.lu(x), jsl.lu(x)):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
        for got, want in zip(fl.scipy.linalg.lu(x, permute_l=True), jsl.lu(x, permute_l=True)):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    factors = fl.scipy.linalg.lu_factor(a)
    for got, want in zip(factors, jsl.lu_factor(a)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    for trans, op in ((0, a), (1, a.T), (2, a.T)):
        x = np.asarray(fl.scipy.linalg.lu_solve(factors, b, trans=trans))
        np.testing.assert_allclose(op @ x, b, rtol=1e-4, atol=1e-4)
        v = np.asarray(fl.scipy.linalg.lu_solve(factors, b[:, 0], trans=trans))
        np.testing.assert_allclose(op @ v, b[:, 0], rtol=1e-4, atol=1e-4)
    ac = _matrix((3, 3), np.complex64, seed=8)
    bc = _matrix((3,), np.complex64, seed=9)
    x = np.asarray(fl.scipy.linalg.lu_solve(fl.scipy.linalg.lu_factor(ac), bc, trans=2))
    np.testing.assert_allclose(ac.conj().T @ x, bc, rtol=1e-4, atol=1e-4)
    # Differentiable end to end, as JAX's.
    f = lambda m, x: (m.lu_solve(m.lu_factor(x), b) ** 2).sum()   # noqa: E731
    np.testing.assert_allclose(fl.grad(lambda x: f(fl.scipy.linalg, x))(a),
                               jax.grad(lambda x: f(jsl, x))(a), rtol=1e-3, atol=1e-4)


def test_errors():
    with pytest.raises(ValueError, match="rank >= 2"):
        lax.linalg.lu(np.ones(3, np.float32))
    with pytest.raises(TypeError):
        lax.linalg.lu(np.ones((2, 2), np.int32))
    factors = fl.scipy.linalg.lu_factor(np.eye(3, dtype=np.float32))
    with pytest.raises(ValueError, match="trans"):
        fl.scipy.linalg.lu_solve(factors, np.ones(3, np.float32), trans=3)
