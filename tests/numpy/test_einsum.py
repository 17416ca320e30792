"""einsum / einsum_path against np.einsum and jnp.einsum."""
from __future__ import annotations

import re

import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, strategies as st

import functorch_lite  # noqa: F401  (registers the XLA backend)
import xla_bridge
from functorch_lite.core.avals import ShapedArray, get_aval
from functorch_lite.core.ir import typecheck
from functorch_lite.interpreters.staging import trace_to_program
from functorch_lite.numpy.einsum import einsum, einsum_path

F32 = np.dtype(np.float32)


def _rand(rng, shape, dtype=np.float32):
    dtype = np.dtype(dtype)
    if dtype.kind in "iu":
        return rng.integers(-3, 4, shape).astype(dtype)
    if dtype.kind == "c":
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


# (subscripts, operand shapes)
CASES = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("ij,jk", [(2, 3), (3, 4)]),
    ("ij->ji", [(2, 3)]),
    ("ji", [(2, 3)]),
    ("ij", [(2, 3)]),
    ("ij->", [(2, 3)]),
    ("ij->j", [(2, 3)]),
    ("ijk->kji", [(2, 3, 4)]),
    ("ijk->", [(2, 3, 4)]),
    ("ii", [(3, 3)]),
    ("ii->i", [(3, 3)]),
    ("iii->i", [(2, 2, 2)]),
    ("iij->j", [(3, 3, 2)]),
    ("iji->j", [(3, 2, 3)]),
    ("jii->ij", [(2, 3, 3)]),
    ("ii,ij->j", [(3, 3), (3, 2)]),
    ("i,i", [(4,), (4,)]),
    ("i,i->", [(4,), (4,)]),
    ("i,i->i", [(4,), (4,)]),
    ("i,j->ij", [(3,), (4,)]),
    ("i,j", [(3,), (4,)]),
    ("i->", [(5,)]),
    ("i", [(5,)]),
    ("ij,kl->ijkl", [(2, 3), (2, 2)]),
    ("ij,kl->", [(2, 3), (2, 2)]),
    ("ij,jk->", [(2, 3), (3, 4)]),
    ("bij,bjk->bik", [(4, 2, 3), (4, 3, 5)]),
    ("bij,bjk->bki", [(4, 2, 3), (4, 3, 5)]),
    ("bij,bkj->bik", [(4, 2, 3), (4, 5, 3)]),
    ("...ij,...jk->...ik", [(5, 2, 3), (3, 4)]),
    ("...ij,...jk->...ik", [(2, 1, 2, 3), (4, 3, 5)]),
    ("...ij,...jk", [(5, 2, 3), (5, 3, 4)]),
    ("...ii->...i", [(2, 3, 3)]),
    ("i...->...", [(3, 2, 4)]),
    ("...", [(2, 3)]),
    ("...i,...i->...", [(2, 3, 4), (3, 4)]),
    ("ij...,jk...->ik...", [(2, 3, 4), (3, 2, 4)]),
    ("ij,ij->ij", [(3, 1), (3, 4)]),
    ("ij,j->i", [(2, 3), (1,)]),
    ("ijk,jkl,lm->im", [(2, 3, 4), (3, 4, 2), (2, 3)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    ("ij,jk,ki->", [(2, 3), (3, 4), (4, 2)]),
    ("i,i,i->i", [(3,), (3,), (3,)]),
    ("ab,bc,cd,de->ae", [(2, 3), (3, 4), (4, 2), (2, 3)]),
    ("ab,bc,cd,de,ef->af", [(2, 3), (3, 4), (4, 2), (2, 3), (3, 2)]),
    ("ab,ac,ad,ae,af->bcdef", [(2, 2), (2, 1), (2, 3), (2, 2), (2, 2)]),
    ("Ab,bC", [(2, 3), (3, 4)]),
    ("ba,ac", [(2, 3), (3, 4)]),
    (",->", [(), ()]),
    (",i->i", [(), (3,)]),
    ("ij,jk->ik", [(2, 0), (0, 3)]),
    ("ij,jk->ik", [(0, 3), (3, 2)]),
    ("i->i", [(0,)]),
    ("ij->ij", [(1, 1)]),
    ("i j , j k -> i k", [(2, 3), (3, 4)]),
]


@pytest.mark.parametrize("subscripts,shapes", CASES,
                         ids=[f"{s}|{'x'.join(map(str, sh))}" for s, sh in CASES])
def test_einsum_matches_numpy(subscripts, shapes):
    rng = np.random.default_rng(0)
    ops = [_rand(rng, s) for s in shapes]
    got = einsum(subscripts, *ops)
    want = np.einsum(subscripts, *[o.astype(np.float64) for o in ops])
    assert np.asarray(got).shape == want.shape
    assert get_aval(got).dtype == F32
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("subscripts,shapes", [
    ("...ij->ij", [(2, 3, 4)]),  # NumPy refuses; JAX sums the broadcast dims
    ("ij,ij->ij", [(3, 1), (1, 4)]),
])
def test_einsum_matches_jax(subscripts, shapes):
    rng = np.random.default_rng(1)
    ops = [_rand(rng, s) for s in shapes]
    got = einsum(subscripts, *ops)
    want = jnp.einsum(subscripts, *ops)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-5)


def test_interleaved_form():
    rng = np.random.default_rng(2)
    a, b = _rand(rng, (2, 3)), _rand(rng, (3, 4))
    np.testing.assert_allclose(np.asarray(einsum(a, [0, 1], b, [1, 2], [0, 2])), a @ b,
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(einsum(a, [Ellipsis, 1], b, [1, 2])), a @ b,
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("optimize", ["optimal", "greedy", True, False, None])
def test_optimize_modes_agree(optimize):
    rng = np.random.default_rng(3)
    shapes = [(2, 3), (3, 4), (4, 2), (2, 3), (3, 2)]
    ops = [_rand(rng, s) for s in shapes]
    got = einsum("ab,bc,cd,de,ef->af", *ops, optimize=optimize)
    want = np.linalg.multi_dot([o.astype(np.float64) for o in ops])
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-4, atol=1e-4)


def test_explicit_path_roundtrip():
    rng = np.random.default_rng(4)
    ops = [_rand(rng, s) for s in [(2, 3), (3, 4), (4, 5)]]
    path, report = einsum_path("ij,jk,kl->il", *ops)
    assert isinstance(report, str) and "ij,jk,kl->il" in report
    want = ops[0] @ ops[1] @ ops[2]
    for p in (path, ["einsum_path"] + path, [(1, 2), (0, 1)], [(0, 1, 2)]):
        np.testing.assert_allclose(np.asarray(einsum("ij,jk,kl->il", *ops, optimize=p)),
                                   want, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="path"):
        einsum("ij,jk,kl->il", *ops, optimize=[(0, 1)])
    with pytest.raises(ValueError, match="invalid contraction"):
        einsum("ij,jk,kl->il", *ops, optimize=[(0, 3), (0, 1)])


def test_path_avoids_large_intermediate():
    shapes = [(2, 1000), (1000, 2), (2, 1000)]
    ops = [np.ones(s, np.float32) for s in shapes]
    for optimize in ("greedy", "optimal"):
        path, report = einsum_path("ij,jk,kl->il", *ops, optimize=optimize)
        assert path == [(0, 1), (0, 1)]
        peak = int(re.search(r"Largest result:\s+([\d,]+)", report).group(1).replace(",", ""))
        assert peak == 2000
    # The staged program never holds a 1000x1000 array.
    prog = trace_to_program(lambda a, b, c: [einsum("ij,jk,kl->il", a, b, c)],
                            [ShapedArray(s, F32) for s in shapes])
    typecheck(prog.program)
    text = str(prog)
    assert "dot_general" in text and "1000,1000" not in text
    assert "transpose" not in text
    np.testing.assert_allclose(np.asarray(einsum("ij,jk,kl->il", *ops)),
                               np.full((2, 1000), 2000.0), rtol=1e-6)


def _cost(report):
    return int(re.search(r"Optimized cost:\s+([\d,]+)", report).group(1).replace(",", ""))


@pytest.mark.parametrize("subscripts,shapes", [
    ("ab,bc,cd,de->ae", [(8, 2), (2, 8), (8, 2), (2, 8)]),
    ("ij,jk,kl,lm->im", [(10, 2), (2, 10), (10, 1), (1, 10)]),
    ("abc,cd,db->a", [(3, 4, 5), (5, 6), (6, 4)]),
])
def test_optimal_no_worse_than_greedy(subscripts, shapes):
    ops = [np.ones(s) for s in shapes]
    _, greedy = einsum_path(subscripts, *ops, optimize="greedy")
    _, optimal = einsum_path(subscripts, *ops, optimize="optimal")
    assert _cost(optimal) <= _cost(greedy)


def test_diagonal_staging_has_no_mask():
    prog = trace_to_program(lambda a: [einsum("iij->j", a)], [ShapedArray((3, 3, 2), F32)])
    typecheck(prog.program)
    text = str(prog)
    assert "slice" in text and "reduce_sum" in text and "transpose" not in text


@given(st.lists(st.integers(1, 4), min_size=2, max_size=5))
def test_matrix_chain_hypothesis(dims):
    rng = np.random.default_rng(len(dims))
    mats = [_rand(rng, (dims[i], dims[i + 1])) for i in range(len(dims) - 1)]
    letters = "abcdefgh"
    subs = ",".join(letters[i] + letters[i + 1] for i in range(len(mats)))
    spec = f"{subs}->{letters[0]}{letters[len(mats)]}"
    want = mats[0].astype(np.float64)
    for m in mats[1:]:
        want = want @ m
    np.testing.assert_allclose(np.asarray(einsum(spec, *mats)), want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("dtype", [np.int32, np.float16, ml_dtypes.bfloat16, np.complex64])
def test_dtypes(dtype):
    rng = np.random.default_rng(5)
    a, b = _rand(rng, (2, 3), dtype), _rand(rng, (3, 4), dtype)
    got = einsum("ij,jk->ik", xla_bridge.from_numpy(a), xla_bridge.from_numpy(b))
    want = jnp.einsum("ij,jk->ik", a, b)
    assert get_aval(got).dtype == want.dtype
    tol = 5e-2 if np.dtype(dtype).itemsize == 2 else 1e-5
    np.testing.assert_allclose(np.asarray(got).astype(np.complex128),
                               np.asarray(want).astype(np.complex128), rtol=tol, atol=tol)


def test_mixed_dtype_promotion_and_weak_scalars():
    rng = np.random.default_rng(6)
    a = _rand(rng, (2, 3), np.int32)
    b = _rand(rng, (3,), np.float32)
    got = einsum("ij,j->i", a, b)
    assert get_aval(got).dtype == np.float32
    np.testing.assert_allclose(np.asarray(got), a @ b, rtol=1e-5)
    got = einsum(",ij->ij", 2.0, b.reshape(1, 3))
    assert get_aval(got).dtype == np.float32 and not get_aval(got).weak_type
    np.testing.assert_allclose(np.asarray(got), 2 * b.reshape(1, 3))


def test_preferred_element_type():
    a = np.ones((2, 3), np.int8)
    got = einsum("ij,jk->ik", a, a.T, preferred_element_type=np.int32)
    assert get_aval(got).dtype == np.int32
    np.testing.assert_array_equal(np.asarray(got), np.full((2, 2), 3))
    got = einsum("ij->", a, preferred_element_type=np.int32)
    assert get_aval(got).dtype == np.int32 and int(np.asarray(got)) == 6
    b = np.ones((3, 4, 5), ml_dtypes.bfloat16)
    a, b = xla_bridge.from_numpy(a.astype(ml_dtypes.bfloat16)), b.astype(np.float32)
    got = einsum("ij,jk,kl->il", a, xla_bridge.from_numpy(b[:, :, 0].astype(ml_dtypes.bfloat16)),
                 xla_bridge.from_numpy(b[0].astype(ml_dtypes.bfloat16)),
                 preferred_element_type=np.float32)
    assert get_aval(got).dtype == np.float32
    np.testing.assert_allclose(np.asarray(got), np.full((2, 5), 12.0))


def test_errors():
    a, b = np.ones((2, 3), np.float32), np.ones((4, 5), np.float32)
    with pytest.raises(ValueError, match="name 2 operands but 3 were given"):
        einsum("ij,jk", a, a, a)
    with pytest.raises(ValueError, match=r"index 'j' has size 3 in operand 0.*size 4 in "
                                         r"operand 1"):
        einsum("ij,jk", a, b)
    with pytest.raises(ValueError, match="output index 'k' does not appear"):
        einsum("ij->ik", a)
    with pytest.raises(ValueError, match="output index 'i' is repeated"):
        einsum("ij->ii", a)
    with pytest.raises(ValueError, match="invalid character '1'"):
        einsum("i1", a)
    with pytest.raises(ValueError, match=r"rank 2\) but its subscripts 'ijk' name 3"):
        einsum("ijk", a)
    with pytest.raises(ValueError, match="more than one '->'"):
        einsum("ij->j->i", a)
    with pytest.raises(ValueError, match="more than one ellipsis"):
        einsum("...i...", a)
    with pytest.raises(ValueError, match="repeated in operand 0"):
        einsum("ii", a)
    with pytest.raises(ValueError, match="broadcast"):
        einsum("...,...", np.ones(3), np.ones(4))
    with pytest.raises(TypeError, match="boolean"):
        einsum("ij,jk", a > 0, a.T > 0)
    with pytest.raises(TypeError, match="ndarray or scalar"):
        einsum("ij", [[1.0]])
    with pytest.raises(ValueError, match="optimize"):
        einsum("ij", a, optimize="fast")
