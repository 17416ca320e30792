"""fl.scipy.linalg's special matrices, expm and expm_frechet
(functorch_lite/scipy/linalg_matrices.py) against jax.scipy.linalg (values, shapes,
dtypes), SciPy, and jax.grad."""
import jax
import jax.scipy.linalg as jsl
import numpy as np
import pytest

import functorch_lite as fl
from helpers import assert_same
from rule_checks import x64

scipy_linalg = pytest.importorskip("scipy.linalg")
L = fl.scipy.linalg

RNG = np.random.default_rng(0)
V3 = np.array([1.0, 2.0, 3.0], np.float32)
V4 = RNG.standard_normal(4).astype(np.float32)
I3 = np.array([1, 2, 3], np.int32)
B23 = RNG.standard_normal((2, 3)).astype(np.float32)
B24 = RNG.standard_normal((2, 4)).astype(np.float32)
C3 = (V3 + 1j * RNG.standard_normal(3)).astype(np.complex64)
POLY = np.array([2.0, -3.0, 0.5, 4.0, 1.5, -1.0], np.float32)
SQ = (RNG.standard_normal((4, 4)) / 2).astype(np.float32)
BIG = (RNG.standard_normal((4, 4)) * 3).astype(np.float32)       # needs squarings
STACK = (RNG.standard_normal((2, 1, 3, 3))).astype(np.float32)


def _same(ours, theirs, tol=1e-5):
    assert_same(tuple(jax.tree_util.tree_leaves(ours)), tuple(jax.tree_util.tree_leaves(theirs)),
                tol)


CASES = {
    "block_diag": lambda m: m.block_diag(np.ones((1, 1), np.float32), B23, I3, 5),
    "block_diag_int": lambda m: m.block_diag(I3, np.int32(2)),
    "block_diag_empty": lambda m: m.block_diag(),
    "block_diag_zero_width": lambda m: m.block_diag(np.zeros((2, 0), np.float32), B23),
    "toeplitz": lambda m: m.toeplitz(I3),
    "toeplitz_cr": lambda m: m.toeplitz(V3, V4),
    "toeplitz_complex": lambda m: m.toeplitz(C3),
    "toeplitz_mixed": lambda m: m.toeplitz(I3, V4),
    "toeplitz_batch": lambda m: m.toeplitz(B23, B24),
    "toeplitz_broadcast": lambda m: m.toeplitz(V3, B24),
    "toeplitz_scalar": lambda m: m.toeplitz(np.float32(2.0)),
    "toeplitz_empty": lambda m: m.toeplitz(np.zeros(0, np.float32), V3),
    "hankel": lambda m: m.hankel(I3),
    "hankel_cr": lambda m: m.hankel(V3, V4),
    "hankel_batch": lambda m: m.hankel(B23, V4),
    "circulant": lambda m: m.circulant(I3),
    "circulant_batch": lambda m: m.circulant(B24),
    "leslie": lambda m: m.leslie(V4, V3),
    "leslie_int": lambda m: m.leslie(np.array([1, 2], np.int32), np.array([3], np.int32)),
    "leslie_batch": lambda m: m.leslie(B24, B23),
    "companion": lambda m: m.companion(POLY),
    "companion_int": lambda m: m.companion(I3),
    "companion_batch": lambda m: m.companion(B24),
    "companion_2": lambda m: m.companion(V3[:2]),
    "fiedler": lambda m: m.fiedler(np.array([1, 4, 12, 45, 77], np.int32)),
    "fiedler_batch": lambda m: m.fiedler(B23),
    "fiedler_companion_1": lambda m: m.fiedler_companion(V3[:1]),
    "fiedler_companion_2": lambda m: m.fiedler_companion(V3[:2]),
    "fiedler_companion_batch": lambda m: m.fiedler_companion(np.stack([POLY, POLY[::-1]])),
    "fiedler_companion_int": lambda m: m.fiedler_companion(np.arange(1, 8, dtype=np.int32)),
    "hilbert": lambda m: m.hilbert(5),
    "invhilbert": lambda m: m.invhilbert(4),
    "pascal": lambda m: m.pascal(6),
    "pascal_lower": lambda m: m.pascal(5, kind="lower"),
    "pascal_upper": lambda m: m.pascal(5, kind="upper"),
    "invpascal": lambda m: m.invpascal(5),
    "invpascal_lower": lambda m: m.invpascal(4, kind="lower"),
    "invpascal_upper": lambda m: m.invpascal(4, kind="upper"),
    "helmert": lambda m: m.helmert(5),
    "helmert_full": lambda m: m.helmert(4, full=True),
    "helmert_1": lambda m: m.helmert(1),
    "hadamard": lambda m: m.hadamard(8),
    "hadamard_float": lambda m: m.hadamard(4, dtype=np.float32),
    "dft": lambda m: m.dft(5),
    "dft_sqrtn": lambda m: m.dft(4, scale="sqrtn"),
    "dft_n": lambda m: m.dft(6, "n"),
    "expm": lambda m: m.expm(SQ),
    "expm_big": lambda m: m.expm(BIG),
    "expm_stack": lambda m: m.expm(STACK),
    "expm_upper": lambda m: m.expm(np.triu(SQ), upper_triangular=True),
    "expm_complex": lambda m: m.expm((SQ + 1j * SQ.T).astype(np.complex64)),
    "expm_frechet": lambda m: m.expm_frechet(SQ, SQ.T),
}
for _n in (4, 6, 9):
    for _mode in ("full", "same", "valid"):
        CASES[f"convolution_matrix_{_n}_{_mode}"] = (
            lambda m, n=_n, mode=_mode: m.convolution_matrix(np.arange(1, 7, dtype=np.int32),
                                                             n, mode))
CASES["convolution_matrix_batch"] = lambda m: m.convolution_matrix(B23, 4, "same")


@pytest.mark.parametrize("name", sorted(CASES))
def test_against_jax(name):
    tol = 2e-4 if name.startswith(("expm", "invhilbert", "invpascal")) else 1e-5
    _same(CASES[name](L), CASES[name](jsl), tol)


X64_CASES = {
    "invpascal": lambda m: m.invpascal(5),
    "invhilbert": lambda m: m.invhilbert(4),
    "hilbert": lambda m: m.hilbert(5),
    "dft": lambda m: m.dft(5, "sqrtn"),
    "helmert_full": lambda m: m.helmert(4, full=True),
    "hadamard": lambda m: m.hadamard(4),
    "toeplitz": lambda m: m.toeplitz(V3.astype(np.float64), I3),
    "expm_complex": lambda m: m.expm((SQ + 1j * BIG).astype(np.complex128)),
    "expm_frechet": lambda m: m.expm_frechet(BIG.astype(np.float64), SQ.astype(np.float64)),
}


@pytest.mark.parametrize("name", sorted(X64_CASES))
def test_against_jax_x64(name):
    with x64():
        jax.config.update("jax_enable_x64", True)
        _same(X64_CASES[name](L), X64_CASES[name](jsl), 1e-10)


def test_against_scipy():
    """Where JAX is only approximate (lgamma binomials) or lacks an option, SciPy."""
    for n in (1, 5, 12):
        for kind in ("symmetric", "lower", "upper"):
            np.testing.assert_array_equal(L.pascal(n, kind), scipy_linalg.pascal(n, kind))
            np.testing.assert_array_equal(L.pascal(n, kind, exact=True),
                                          scipy_linalg.pascal(n, kind, exact=True))
            np.testing.assert_array_equal(L.invpascal(n, kind, exact=True),
                                          scipy_linalg.invpascal(n, kind, exact=True))
            np.testing.assert_allclose(L.invpascal(n, kind),
                                       scipy_linalg.invpascal(n, kind), rtol=1e-7)
    assert L.pascal(3, exact=True).dtype == np.int32
    np.testing.assert_allclose(L.invhilbert(8), scipy_linalg.invhilbert(8), rtol=1e-7)
    np.testing.assert_allclose(L.expm(BIG), scipy_linalg.expm(BIG.astype(np.float64)),
                               rtol=2e-4)
    np.testing.assert_allclose(L.expm(STACK), scipy_linalg.expm(STACK.astype(np.float64)),
                               rtol=1e-4, atol=1e-5)
    v = np.arange(1, 6, dtype=np.float64)
    for n in (3, 7):
        for mode in ("full", "same", "valid"):
            a = np.asarray(L.convolution_matrix(v, n, mode))
            x = np.linspace(-1.0, 1.0, n)
            np.testing.assert_allclose(a @ x, np.convolve(v, x, mode), rtol=1e-6)
    with x64():
        # every expm branch (Pade 3, 5, 7, 9, 13 and scaling) in double precision
        for scale in (1e-3, 0.1, 0.5, 1.5, 4.0, 40.0):
            a = RNG.standard_normal((5, 5)) * scale / 5
            np.testing.assert_allclose(L.expm(a), scipy_linalg.expm(a), rtol=1e-11,
                                       atol=1e-13)
        with pytest.raises(ValueError, match="do not fit"):
            L.pascal(80, exact=True)


def _expm_loss(m):
    def loss(a):
        e = m.expm(a)
        return (e * e).sum() + (e[..., 0, 1] * 3.0).sum()
    return loss


def test_expm_grad_against_jax():
    for a in (BIG, np.zeros_like(BIG)):     # (zeros: no NaN from the norm's kinks)
        ours = fl.grad(_expm_loss(L))(a)
        theirs = jax.grad(_expm_loss(jsl))(a)
        np.testing.assert_allclose(ours, theirs, rtol=2e-3, atol=2e-3 * np.abs(theirs).max())


def test_expm_jit_vmap_and_frechet_consistency():
    jitted = fl.jit(lambda a: L.expm(a))(SQ)
    _same(jitted, jsl.expm(SQ), 2e-4)
    # Integer input computes in the default float dtype (JAX's promotion); too few
    # squarings allowed gives NaN (as JAX), not a wrong answer.
    _same(L.expm(np.round(SQ * 4).astype(np.int32)), L.expm(np.round(SQ * 4)))
    rotation = (BIG - BIG.T) * 5            # skew: expm is orthogonal, needs ~7 squarings
    assert np.isnan(np.asarray(L.expm(rotation, max_squarings=2))).all()
    q = np.asarray(L.expm(rotation))
    np.testing.assert_allclose(q @ q.T, np.eye(4), atol=1e-3)
    mapped = fl.vmap(L.expm)(STACK[0])
    _same(mapped, jsl.expm(STACK[0]), 2e-4)
    # expm_frechet is the directional derivative: compare with the block method.
    a, e = SQ.astype(np.float64), BIG.astype(np.float64)
    block = scipy_linalg.expm(np.block([[a, e], [np.zeros_like(a), a]]))
    np.testing.assert_allclose(L.expm_frechet(SQ, BIG, compute_expm=False), block[:4, 4:],
                               rtol=1e-3, atol=1e-3)
    stack = STACK.reshape(2, 3, 3)
    out, frechet = L.expm_frechet(stack, stack[::-1])
    for k in range(2):
        a, e = stack[k].astype(np.float64), stack[1 - k].astype(np.float64)
        block = scipy_linalg.expm(np.block([[a, e], [np.zeros_like(a), a]]))
        np.testing.assert_allclose(out[k], block[:3, :3], rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(frechet[k], block[:3, 3:], rtol=1e-4, atol=1e-5)


def test_constructors_jit_and_grad():
    _same(fl.jit(L.toeplitz)(V3, V4), jsl.toeplitz(V3, V4))
    _same(fl.jit(L.convolution_matrix, static_argnums=(1, 2))(V3, 4, "valid"),
          jsl.convolution_matrix(V3, 4, "valid"))
    _same(fl.jit(L.companion)(POLY), jsl.companion(POLY))

    def f(m):
        return lambda c, r: ((m.toeplitz(c, r) ** 2).sum()
                             + (m.hankel(c, r) * m.circulant(c[:3])[0, 0]).sum())
    _same(fl.grad(f(L), argnums=(0, 1))(V4, V3), jax.grad(f(jsl), argnums=(0, 1))(V4, V3))


def test_errors_match_jax():
    cases = [
        (TypeError, lambda m: m.toeplitz([1, 2])),
        (ValueError, lambda m: m.block_diag(np.ones((2, 2, 2)))),
        (ValueError, lambda m: m.hankel(np.float32(1))),
        (ValueError, lambda m: m.leslie(V3[:1], V3[:0])),
        (ValueError, lambda m: m.leslie(V3, V3)),
        (ValueError, lambda m: m.companion(V3[:1])),
        (ValueError, lambda m: m.fiedler_companion(V3[:0])),
        (ValueError, lambda m: m.convolution_matrix(V3, 0)),
        (ValueError, lambda m: m.convolution_matrix(V3, 2, "wrong")),
        (ValueError, lambda m: m.convolution_matrix(np.float32(1), 2)),
        (ValueError, lambda m: m.pascal(3, kind="diagonal")),
        (ValueError, lambda m: m.invpascal(3, kind="diagonal")),
        (ValueError, lambda m: m.helmert(0)),
        (ValueError, lambda m: m.hadamard(6)),
        (ValueError, lambda m: m.dft(3, scale="bad")),
        (ValueError, lambda m: m.dft(3, dtype=np.float32)),
        (ValueError, lambda m: m.expm(V3)),
        (ValueError, lambda m: m.expm(B23)),
        (TypeError, lambda m: m.expm(SQ.astype(np.float16))),
        (ValueError, lambda m: m.expm_frechet(SQ, SQ[:3, :3])),
        (ValueError, lambda m: m.expm_frechet(B23, B23)),
    ]
    for exc, call in cases:
        with pytest.raises(exc):
            call(jsl)
        with pytest.raises(exc):
            call(L)
