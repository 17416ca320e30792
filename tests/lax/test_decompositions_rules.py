"""Rules of the decompositions (functorch_lite/lax/decompositions.py): values against NumPy,
jvps against finite differences, transposes against the vjp identity and jax.vjp,
batching against a Python loop, and the compiled program against eager."""
import contextlib

import jax
import numpy as np
import pytest

import functorch_lite as fl
from functorch_lite import lax
from rule_checks import check_batching, check_grads, x64

RNG = np.random.default_rng(0)


def _spd(n, batch=(), dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(batch + (n, n))
    if np.dtype(dtype).kind == "c":
        a = a + 1j * rng.standard_normal(batch + (n, n))
    return (a @ np.conj(np.swapaxes(a, -1, -2)) + n * np.eye(n)).astype(dtype)


def _triangular(n, lower, batch=(), dtype=np.float64, seed=1):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(batch + (n, n)) + n * np.eye(n)
    if np.dtype(dtype).kind == "c":
        a = a + 1j * rng.standard_normal(batch + (n, n))
    return (np.tril(a) if lower else np.triu(a)).astype(dtype)


# -- triangular_solve ------------------------------------------------------------------------
FLAGS = [dict(left_side=ls, lower=lo, transpose_a=t, conjugate_a=c, unit_diagonal=u)
         for ls in (True, False) for lo in (True, False) for t, c in
         ((False, False), (True, False), (True, True), (False, True)) for u in (False, True)]


def _op(a, p):
    a = np.array(a)
    if p["unit_diagonal"]:
        idx = np.arange(a.shape[-1])
        a[..., idx, idx] = 1
    if p["transpose_a"]:
        a = np.swapaxes(a, -1, -2)
    if p["conjugate_a"]:
        a = np.conj(a)
    return a


@pytest.mark.parametrize("p", FLAGS, ids=lambda p: "-".join(k for k, v in p.items() if v))
def test_triangular_solve_values_and_jax(p):
    a = _triangular(4, p["lower"], (2,), np.complex64)
    b = (RNG.standard_normal((2, 4, 3)) + 1j * RNG.standard_normal((2, 4, 3))).astype(
        np.complex64)
    if not p["left_side"]:
        b = np.swapaxes(b, -1, -2)
    x = np.asarray(lax.linalg.triangular_solve(a, b, **p))
    op = _op(a, p)
    np.testing.assert_allclose(op @ x if p["left_side"] else x @ op, b, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(x, jax.lax.linalg.triangular_solve(a, b, **p), rtol=1e-4,
                               atol=1e-5)


@pytest.mark.parametrize("p", [f for f in FLAGS if not f["conjugate_a"] or f["transpose_a"]],
                         ids=lambda p: "-".join(k for k, v in p.items() if v))
def test_triangular_solve_grads(p):
    with x64():
        a = _triangular(3, p["lower"])
        b = RNG.standard_normal((3, 2) if p["left_side"] else (2, 3))
        check_grads(lambda a, b: lax.linalg.triangular_solve(a, b, **p), (a, b), order=2)


def test_triangular_solve_complex_grads_and_vjp_against_jax():
    p = dict(left_side=True, lower=True, transpose_a=True, conjugate_a=True)
    with x64():
        a = _triangular(3, True, dtype=np.complex128)
        b = (RNG.standard_normal((3, 2)) + 1j * RNG.standard_normal((3, 2)))
        check_grads(lambda a, b: lax.linalg.triangular_solve(a, b, **p), (a, b), order=1)
        ct = RNG.standard_normal((3, 2)) + 1j * RNG.standard_normal((3, 2))
        ours = fl.vjp(lambda a, b: lax.linalg.triangular_solve(a, b, **p), a, b)[1](ct)
        theirs = jax.vjp(lambda a, b: jax.lax.linalg.triangular_solve(a, b, **p), a, b)[1](ct)
        for o, t in zip(ours, theirs):
            np.testing.assert_allclose(o, t, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("in_axes", [(0, 0), (None, 1), (2, None)])
def test_triangular_solve_batching(in_axes):
    a = _triangular(3, True, dtype=np.float32)
    b = RNG.standard_normal((3, 2)).astype(np.float32)
    args = [np.stack([a + i for i in range(4)], ax) if ax is not None else x
            for x, ax in zip((a, b), in_axes)]
    args[1] = np.stack([b * (i + 1) for i in range(4)], in_axes[1]) \
        if in_axes[1] is not None else b

    def solve(a, b):
        return lax.linalg.triangular_solve(a, b, left_side=True, lower=True)
    check_batching(solve, args, in_axes, rtol=1e-5, atol=1e-5)


# -- cholesky --------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64])
def test_cholesky_values_and_failure_like_jax(dtype):
    with x64() if np.dtype(dtype) == np.float64 else contextlib.nullcontext():
        a = _spd(4, (3,), dtype)
        factor = np.asarray(lax.linalg.cholesky(a))
        np.testing.assert_allclose(factor, np.linalg.cholesky(a), rtol=1e-4, atol=1e-4)
        assert factor.dtype == np.dtype(dtype)
    bad = np.array([[4.0, 2.0], [2.0, -3.0]], np.float32)
    np.testing.assert_array_equal(np.asarray(lax.linalg.cholesky(bad)),
                                  np.asarray(jax.lax.linalg.cholesky(bad)))


def test_cholesky_grads_and_vjp_against_jax():
    with x64():
        a = _spd(3)
        check_grads(lambda a: lax.linalg.cholesky(a), (a,), order=2)
        ct = RNG.standard_normal((3, 3))
        ours = fl.vjp(lambda a: lax.linalg.cholesky(a), a)[1](ct)[0]
        theirs = jax.vjp(lambda a: jax.lax.linalg.cholesky(a), a)[1](ct)[0]
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-10)
        # reading only the lower triangle, as JAX
        ours = fl.grad(lambda a: lax.linalg.cholesky(a, symmetrize_input=False).sum())(a)
        theirs = jax.grad(lambda a: jax.lax.linalg.cholesky(a, symmetrize_input=False).sum())(a)
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-10)


def test_cholesky_batching_and_jit():
    a = _spd(3, (4,), np.float32)
    check_batching(lambda a: lax.linalg.cholesky(a), (a,), (0,), rtol=1e-5, atol=1e-5)
    check_batching(lambda a: lax.linalg.cholesky(a), (np.moveaxis(a, 0, 2),), (2,),
                   rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(np.asarray(fl.jit(lax.linalg.cholesky)(a)),
                                  np.asarray(lax.linalg.cholesky(a)))


# -- qr --------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5), (2, 5, 2)])
@pytest.mark.parametrize("full", [True, False])
def test_qr_values(shape, full):
    a = RNG.standard_normal(shape).astype(np.float32)
    q, r = lax.linalg.qr(a, full_matrices=full)
    jq, jr = jax.lax.linalg.qr(a, full_matrices=full)
    assert q.shape == jq.shape and r.shape == jr.shape
    np.testing.assert_allclose(np.asarray(q) @ np.asarray(r), a, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.abs(np.asarray(r)), np.abs(np.asarray(jr)), rtol=1e-4,
                               atol=1e-5)
    np.testing.assert_allclose(np.triu(np.asarray(r)), np.asarray(r))


@pytest.mark.parametrize("shape", [(3, 3), (4, 2)])
@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_qr_grads(shape, dtype):
    with x64():
        a = RNG.standard_normal(shape)
        if np.dtype(dtype).kind == "c":
            a = a + 1j * RNG.standard_normal(shape)
        check_grads(lambda a: lax.linalg.qr(a, full_matrices=False), (a,), order=1)
    wide = np.ones((2, 4), np.float32)
    with pytest.raises(NotImplementedError, match="m >= n"):
        fl.jvp(lambda a: lax.linalg.qr(a, full_matrices=False), (wide,), (wide,))


def test_qr_batching():
    a = RNG.standard_normal((3, 4, 2)).astype(np.float32)
    check_batching(lambda a: lax.linalg.qr(a, full_matrices=False), (a,), (0,), rtol=1e-5,
                   atol=1e-5)
    check_batching(lax.linalg.geqrf, (np.moveaxis(a, 0, 1),), (1,), rtol=1e-5, atol=1e-5)


def test_geqrf_and_householder_product_are_not_differentiated_directly():
    a = RNG.standard_normal((3, 3)).astype(np.float32)
    with pytest.raises(NotImplementedError, match="differentiate qr"):
        fl.jvp(lambda a: lax.linalg.geqrf(a)[0], (a,), (a,))


# -- eigh ------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.complex64, np.float64])
def test_eigh_values(dtype):
    with x64() if np.dtype(dtype) == np.float64 else contextlib.nullcontext():
        a = _spd(5, (2,), dtype)
        v, w = lax.linalg.eigh(a)
        assert v.dtype == np.dtype(dtype)
        tol = 1e-4 if np.dtype(dtype).itemsize <= 8 else 1e-9
        np.testing.assert_allclose(w, np.linalg.eigvalsh(a), rtol=tol * 10, atol=tol * 10)
        v = np.asarray(v)
        np.testing.assert_allclose(a @ v, v * np.asarray(w)[..., None, :], rtol=tol * 10,
                                   atol=tol * 100)


def test_eigh_grads_against_jax():
    with x64():
        a = _spd(4, seed=3)

        def f(a):  # invariant to each eigenvector's sign: eigenvalues and v * v
            v, w = lax.linalg.eigh(a)
            return w, v * v

        check_grads(f, (a,), order=1, rtol=1e-5, atol=1e-5)
        ct = RNG.standard_normal(4)
        ours = fl.vjp(lambda a: lax.linalg.eigh(a)[1], a)[1](ct)[0]
        theirs = jax.vjp(lambda a: jax.lax.linalg.eigh(a)[1], a)[1](ct)[0]
        np.testing.assert_allclose(ours, theirs, rtol=1e-7, atol=1e-7)


def test_eigh_batching():
    a = _spd(3, (4,), np.float32)
    check_batching(lambda a: lax.linalg.eigh(a)[1], (a,), (0,), rtol=1e-4, atol=1e-4)


def test_errors():
    with pytest.raises(ValueError, match="square"):
        lax.linalg.cholesky(np.ones((2, 3), np.float32))
    with pytest.raises(ValueError, match="rank >= 2"):
        lax.linalg.eigh(np.ones(3, np.float32))
    with pytest.raises(TypeError, match="float32, float64"):
        lax.linalg.cholesky(np.eye(2, dtype=np.int32))
    with pytest.raises(ValueError, match="must have 3 rows"):
        lax.linalg.triangular_solve(np.eye(3, dtype=np.float32), np.ones((2, 2), np.float32),
                                    left_side=True)
