"""fnp.linalg's SVD family (functorch_lite/numpy/linalg_svd.py, cond and the singular-value
norms in linalg.py) and fl.scipy.linalg's svd and polar, against jax.numpy (values,
shapes, dtypes, gradients) and NumPy."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import functorch_lite as fl
from helpers import assert_same
import functorch_lite.numpy as fnp

RNG = np.random.default_rng(0)
A = RNG.standard_normal((5, 3)).astype(np.float32)
B = RNG.standard_normal((5, 2)).astype(np.float32)
SQ = RNG.standard_normal((4, 4)).astype(np.float32)
HERM = SQ + SQ.T
RANK2 = (RNG.standard_normal((5, 2)) @ RNG.standard_normal((2, 4))).astype(np.float32)
STACK = RNG.standard_normal((2, 3, 4, 3)).astype(np.float32)
AC = (A + 1j * RNG.standard_normal(A.shape)).astype(np.complex64)
SINGULAR = np.array([[1.0, 2.0], [0.0, 0.0]], np.float32)


def _same(ours, theirs, tol=1e-4):
    assert_same(tuple(jax.tree_util.tree_leaves(ours)), tuple(jax.tree_util.tree_leaves(theirs)),
                tol)


CASES = {
    "svdvals": lambda m: m.linalg.svdvals(A),
    "svdvals_stack": lambda m: m.linalg.svdvals(STACK),
    "svdvals_complex": lambda m: m.linalg.svdvals(AC),
    "svd_compute_uv_false": lambda m: m.linalg.svd(A.T, compute_uv=False),
    "svd_hermitian_values": lambda m: m.linalg.svd(HERM, hermitian=True, compute_uv=False),
    "svd_int": lambda m: m.linalg.svd(np.arange(6).reshape(2, 3), compute_uv=False),
    "pinv": lambda m: m.linalg.pinv(A),
    "pinv_wide_stack": lambda m: m.linalg.pinv(np.swapaxes(STACK, -1, -2)),
    "pinv_rank_deficient": lambda m: m.linalg.pinv(RANK2),
    "pinv_hermitian": lambda m: m.linalg.pinv(HERM, hermitian=True),
    "pinv_rtol": lambda m: m.linalg.pinv(RANK2, rtol=0.5),
    "pinv_rtol_per_matrix": lambda m: m.linalg.pinv(STACK[0], rtol=np.array([0.0, 0.3, 0.9])),
    "pinv_complex": lambda m: m.linalg.pinv(AC),
    "pinv_empty": lambda m: m.linalg.pinv(np.zeros((0, 3), np.float32)),
    "lstsq": lambda m: m.linalg.lstsq(A, B),
    "lstsq_vector": lambda m: m.linalg.lstsq(A, B[:, 0]),
    "lstsq_rank_deficient": lambda m: m.linalg.lstsq(RANK2, B),
    "lstsq_wide": lambda m: m.linalg.lstsq(A.T, B[:3]),
    "lstsq_rcond": lambda m: m.linalg.lstsq(A, B, rcond=0.5),
    "lstsq_negative_rcond": lambda m: m.linalg.lstsq(A, B, rcond=-1),
    "matrix_rank": lambda m: m.linalg.matrix_rank(RANK2),
    "matrix_rank_stack": lambda m: m.linalg.matrix_rank(np.stack([RANK2[:4], SQ])),
    "matrix_rank_rtol": lambda m: m.linalg.matrix_rank(SQ, rtol=0.5),
    "matrix_rank_tol": lambda m: m.linalg.matrix_rank(SQ, tol=0.5),
    "matrix_rank_vector": lambda m: m.linalg.matrix_rank(np.array([0.0, 1.0])),
    "matrix_rank_zero_vector": lambda m: m.linalg.matrix_rank(np.zeros(3)),
    "matrix_rank_hermitian": lambda m: m.linalg.matrix_rank(HERM, hermitian=True),
    "cond": lambda m: m.linalg.cond(SQ),
    "cond_minus2": lambda m: m.linalg.cond(SQ, -2),
    "cond_fro": lambda m: m.linalg.cond(SQ, "fro"),
    "cond_1": lambda m: m.linalg.cond(SQ, 1),
    "cond_inf": lambda m: m.linalg.cond(SQ, np.inf),
    "cond_rectangular": lambda m: m.linalg.cond(A),
    "cond_singular_fro": lambda m: m.linalg.cond(SINGULAR, "fro"),
    "cond_stack": lambda m: m.linalg.cond(STACK[:, :, :3]),
    "norm_2": lambda m: m.linalg.norm(A, 2),
    "norm_minus2": lambda m: m.linalg.norm(A, -2),
    "norm_nuc": lambda m: m.linalg.norm(A, "nuc"),
    "norm_2_axes": lambda m: m.linalg.norm(STACK, 2, axis=(3, 1)),
    "norm_nuc_keepdims": lambda m: m.linalg.norm(STACK, "nuc", axis=(0, 2), keepdims=True),
    "matrix_norm_nuc": lambda m: m.linalg.matrix_norm(STACK, ord="nuc"),
    "matrix_norm_2": lambda m: m.linalg.matrix_norm(STACK, ord=2),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_against_jax(name):
    _same(CASES[name](fnp), CASES[name](jnp))


def test_svd_factors_reconstruct_and_match_jax_up_to_sign():
    for x, full in ((A, False), (A, True), (A.T, True), (STACK, False), (AC, False)):
        u, s, vh = fnp.linalg.svd(x, full_matrices=full)
        ju, js, jvh = jnp.linalg.svd(x, full_matrices=full)
        assert (u.shape, s.shape, vh.shape) == (ju.shape, js.shape, jvh.shape)
        assert (u.dtype, s.dtype, vh.dtype) == (ju.dtype, js.dtype, jvh.dtype)
        k = s.shape[-1]
        u, s, vh = np.asarray(u), np.asarray(s), np.asarray(vh)
        np.testing.assert_allclose((u[..., :k] * s[..., None, :]) @ vh[..., :k, :], x,
                                   rtol=1e-4, atol=1e-5)
        # Columns agree up to a phase: |u_i^H ju_i| = 1.
        overlap = np.abs(np.sum(np.conj(u[..., :k]) * np.asarray(ju)[..., :k], axis=-2))
        np.testing.assert_allclose(overlap, 1, atol=1e-4)


def test_svd_hermitian_factors():
    u, s, vh = fnp.linalg.svd(HERM, hermitian=True)
    np.testing.assert_allclose((np.asarray(u) * np.asarray(s)) @ np.asarray(vh), HERM,
                               atol=1e-5)
    assert np.all(np.diff(np.asarray(s)) <= 0)
    result = fnp.linalg.svd(A)
    assert type(result).__name__ == "SVDResult" and result.S.shape == (3,)


GRADS = {
    "svdvals": lambda m, x: m.linalg.svdvals(x).sum(),
    "svdvals_wide": lambda m, x: (m.linalg.svdvals(x.T) ** 2).sum(),
    "norm_nuc": lambda m, x: m.linalg.norm(x, "nuc"),
    "norm_2": lambda m, x: m.linalg.norm(x, 2),
    "pinv": lambda m, x: (m.linalg.pinv(x) ** 2).sum(),
    "pinv_wide": lambda m, x: (m.linalg.pinv(x.T) * np.arange(15).reshape(5, 3)).sum(),
    "lstsq": lambda m, x: (m.linalg.lstsq(x, B)[0] ** 2).sum(),
    "reconstruction": lambda m, x: (((lambda u, s, vh: (u * s[None]) @ vh)(
        *m.linalg.svd(x, full_matrices=False))) ** 3).sum(),
    "projectors": lambda m, x: (lambda u, s, vh: ((u @ u.T) * np.arange(25).reshape(5, 5)).sum()
                                + ((vh.T @ vh) * np.arange(9).reshape(3, 3)).sum())(
        *m.linalg.svd(x, full_matrices=False)),
    "cond": lambda m, x: m.linalg.cond(x[:3]),
}


@pytest.mark.parametrize("name", sorted(GRADS))
def test_grads_against_jax(name):
    f = GRADS[name]
    want = jax.grad(lambda x: f(jnp, x))(A)
    got = fl.grad(lambda x: f(fnp, x))(A)
    _same(got, want, tol=2e-3)
    _same(fl.jit(fl.grad(lambda x: f(fnp, x)))(A), want, tol=2e-3)


def test_pinv_hermitian_grad_and_vmap():
    f = lambda m, x: (m.linalg.pinv(x, hermitian=True) ** 2).sum()   # noqa: E731
    _same(fl.grad(lambda x: f(fnp, x))(HERM), jax.grad(lambda x: f(jnp, x))(HERM), tol=2e-3)
    _same(fl.vmap(fnp.linalg.pinv)(STACK[0]), jax.vmap(jnp.linalg.pinv)(STACK[0]))
    _same(fl.vmap(fnp.linalg.svdvals, in_axes=1)(STACK),
          jax.vmap(jnp.linalg.svdvals, in_axes=1)(STACK))


def test_lstsq_numpy_resid():
    got = fnp.linalg.lstsq(A, B, numpy_resid=True)
    want = np.linalg.lstsq(A, B, rcond=None)
    for o, t in zip(got, want):
        np.testing.assert_allclose(np.asarray(o), t, rtol=1e-4, atol=1e-5)
    assert fnp.linalg.lstsq(RANK2, B, numpy_resid=True)[1].shape == (0,)
    with pytest.raises(TypeError, match="concrete"):
        fl.jit(lambda a, b: fnp.linalg.lstsq(a, b, numpy_resid=True))(A, B)


def test_errors_match_jax():
    for m in (fnp, jnp):
        with pytest.raises(TypeError):
            m.linalg.lstsq(np.ones(3), np.ones(3))
        with pytest.raises(ValueError):
            m.linalg.lstsq(A, np.ones(4))
        with pytest.raises(ValueError):
            m.linalg.cond(np.ones(3))
        with pytest.raises(ValueError):
            m.linalg.cond(A, 1)
        with pytest.raises(ValueError):
            m.linalg.matrix_rank(SQ, rtol=0.1, tol=0.1)
        with pytest.raises(TypeError):
            m.linalg.svd(np.ones(3))


def test_scipy_svd_and_polar():
    scipy_linalg = pytest.importorskip("scipy.linalg")
    import jax.scipy.linalg as jsl
    u, s, vh = fl.scipy.linalg.svd(A, full_matrices=False)
    np.testing.assert_allclose((np.asarray(u) * np.asarray(s)) @ np.asarray(vh), A, atol=1e-5)
    _same(fl.scipy.linalg.svd(A, compute_uv=False), jsl.svd(A, compute_uv=False))
    for side in ("right", "left"):
        for method in ("qdwh", "svd"):
            got = fl.scipy.linalg.polar(SQ, side=side, method=method)
            want = scipy_linalg.polar(SQ, side=side)
            for o, t in zip(got, want):
                np.testing.assert_allclose(np.asarray(o), t, rtol=1e-4, atol=1e-4)
    got = fl.scipy.linalg.polar(A)
    _same(got, jsl.polar(A))
    with pytest.raises(ValueError, match="side"):
        fl.scipy.linalg.polar(SQ, side="up")
    with pytest.raises(ValueError, match="method"):
        fl.scipy.linalg.polar(SQ, method="newton")
