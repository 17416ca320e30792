"""dot_general / dot against NumPy and jax.lax."""
from __future__ import annotations

import jax
import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, strategies as st
from jax import lax as jlax

from functorch_lite import lax  # importing functorch_lite registers the XLA backend
import xla_bridge  # noqa: F401,I001
from functorch_lite.core.avals import ShapedArray
from functorch_lite.core.ir import typecheck
from functorch_lite.interpreters.staging import trace_to_program

BF16 = np.dtype(ml_dtypes.bfloat16)


def _rand(rng, shape, dtype):
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return rng.random(shape) < 0.5
    if dtype.kind in "iu":
        return rng.integers(-3 if dtype.kind == "i" else 0, 4, shape).astype(dtype)
    if dtype.kind == "c":
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def _check_close(got, want, k):
    """float32 tolerance scaled by the number of summed products ``k``."""
    tol = 1e-5 * max(k, 1)
    np.testing.assert_allclose(np.asarray(got, np.float64), np.asarray(want, np.float64),
                               rtol=tol, atol=tol)


@st.composite
def dot_problems(draw):
    """Random shapes and dimension numbers: batch, contracting and free dims in random
    positions of each operand (sizes 0..3, total rank <= 4 per operand)."""
    nb = draw(st.integers(0, 2))
    nc = draw(st.integers(0, 2))
    nfl = draw(st.integers(0, 4 - nb - nc if nb + nc <= 4 else 0))
    nfr = draw(st.integers(0, 4 - nb - nc if nb + nc <= 4 else 0))
    size = st.integers(0, 3)
    b = [draw(size) for _ in range(nb)]
    c = [draw(size) for _ in range(nc)]
    fl = [draw(size) for _ in range(nfl)]
    fr = [draw(size) for _ in range(nfr)]
    lperm = draw(st.permutations(range(nb + nc + nfl)))  # position of each logical dim
    rperm = draw(st.permutations(range(nb + nc + nfr)))
    lshape = [0] * len(lperm)
    for logical, size_ in enumerate(b + c + fl):
        lshape[lperm[logical]] = size_
    rshape = [0] * len(rperm)
    for logical, size_ in enumerate(b + c + fr):
        rshape[rperm[logical]] = size_
    lb, lc = [lperm[i] for i in range(nb)], [lperm[nb + i] for i in range(nc)]
    rb, rc = [rperm[i] for i in range(nb)], [rperm[nb + i] for i in range(nc)]
    negative = draw(st.booleans())
    return tuple(lshape), tuple(rshape), ((lc, rc), (lb, rb)), negative


def _negate(dims, ndim):
    return [d - ndim for d in dims]


@given(dot_problems(), st.sampled_from(["float32", "int32"]), st.integers(0, 2**31 - 1))
def test_dot_general_matches_einsum_and_jax(problem, dtype, seed):
    lshape, rshape, ((lc, rc), (lb, rb)), negative = problem
    rng = np.random.default_rng(seed)
    x, y = _rand(rng, lshape, dtype), _rand(rng, rshape, dtype)
    dn = ((lc, rc), (lb, rb))
    if negative:  # negative dimension numbers count from the end
        dn = ((_negate(lc, len(lshape)), _negate(rc, len(rshape))),
              (_negate(lb, len(lshape)), _negate(rb, len(rshape))))
    out = lax.dot_general(x, y, dn)
    want = jlax.dot_general(x, y, ((lc, rc), (lb, rb)))
    assert out.shape == want.shape
    assert out.dtype == want.dtype == np.dtype(dtype)
    assert not out.aval.weak_type
    # einsum: batch letters, then lhs free, then rhs free, like dot_general's result
    letters = iter("abcdefghijklmnop")
    lsub, rsub = [None] * len(lshape), [None] * len(rshape)
    for l_, r_ in zip(lb + lc, rb + rc):
        lsub[l_] = rsub[r_] = next(letters)
    for i in range(len(lshape)):
        lsub[i] = lsub[i] or next(letters)
    for i in range(len(rshape)):
        rsub[i] = rsub[i] or next(letters)
    out_sub = [lsub[i] for i in lb] + [s for i, s in enumerate(lsub) if i not in lb + lc] + \
        [s for i, s in enumerate(rsub) if i not in rb + rc]
    ref = np.einsum(f"{''.join(lsub)},{''.join(rsub)}->{''.join(out_sub)}",
                    x.astype(np.float64), y.astype(np.float64))
    k = int(np.prod([lshape[i] for i in lc], dtype=np.int64))
    if dtype == "int32":
        np.testing.assert_array_equal(np.asarray(out), ref.astype(np.int64))
    else:
        _check_close(out, ref, k)
        _check_close(out, want, k)


@pytest.mark.parametrize("lshape,rshape", [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)),
                                           ((2, 3), (3, 4)), ((0, 3), (3, 2)), ((2, 0), (0, 4))])
def test_dot_vector_matrix_cases(lshape, rshape):
    rng = np.random.default_rng(0)
    x, y = _rand(rng, lshape, np.float32), _rand(rng, rshape, np.float32)
    out = lax.dot(x, y)
    assert out.shape == np.matmul(x, y).shape == jlax.dot(x, y).shape
    _check_close(out, np.matmul(x.astype(np.float64), y), lshape[-1])
    _check_close(out, jlax.dot(x, y), lshape[-1])


def test_bfloat16_with_float32_accumulation():
    rng = np.random.default_rng(1)
    x, y = _rand(rng, (4, 16), BF16), _rand(rng, (16, 3), BF16)
    out = lax.dot(x, y, preferred_element_type=np.float32)
    want = jlax.dot(x, y, preferred_element_type=np.float32)
    assert out.dtype == want.dtype == np.float32
    ref = x.astype(np.float64) @ y.astype(np.float64)  # products of bf16 are exact in f32
    _check_close(out, ref, 16)
    _check_close(out, want, 16)
    plain = lax.dot(x, y)
    assert plain.dtype == BF16
    np.testing.assert_allclose(np.asarray(plain, np.float32), ref, rtol=2e-2, atol=0.1)


def test_batched_dot_general_staged_vs_jax():
    rng = np.random.default_rng(2)
    x, y = _rand(rng, (2, 3, 4, 5), np.float32), _rand(rng, (2, 5, 4, 6), np.float32)
    dn = (((2, 3), (2, 1)), ((0,), (0,)))
    out = lax.dot_general(x, y, dn, precision="highest")
    want = jlax.dot_general(x, y, dn, precision="highest")
    assert out.shape == (2, 3, 6)
    _check_close(out, want, 20)


@pytest.mark.parametrize("ldt,rdt", [("int8", "float32"), ("float16", "bfloat16"),
                                     ("int32", "int8"), ("uint8", "int8"),
                                     ("float32", "complex64"), ("bool", "int32")])
def test_mixed_dtypes_follow_jax(ldt, rdt):
    rng = np.random.default_rng(3)
    ldt, rdt = np.dtype(BF16 if ldt == "bfloat16" else ldt), \
        np.dtype(BF16 if rdt == "bfloat16" else rdt)
    x, y = _rand(rng, (2, 3), ldt), _rand(rng, (3, 2), rdt)
    out = lax.dot(x, y)
    want = jlax.dot(x, y)
    assert out.dtype == want.dtype
    np.testing.assert_allclose(np.asarray(out).astype(np.complex128),
                               np.asarray(want).astype(np.complex128), rtol=1e-2, atol=1e-2)


@pytest.mark.parametrize("dt,pref", [("int8", "int32"), ("int8", "float32"),
                                     ("bool", "int32"), ("float32", "float16"),
                                     ("int32", "uint32"), ("float16", "float32")])
def test_preferred_element_type_follows_jax(dt, pref):
    rng = np.random.default_rng(4)
    x, y = _rand(rng, (3, 4), dt), _rand(rng, (4, 2), dt)
    out = lax.dot(x, y, preferred_element_type=pref)
    want = jlax.dot(x, y, preferred_element_type=pref)
    assert out.dtype == want.dtype == np.dtype(pref)
    np.testing.assert_allclose(np.asarray(out, np.float64), np.asarray(want, np.float64),
                               rtol=1e-3, atol=1e-3)


def test_bool_dot_is_or_of_ands():
    rng = np.random.default_rng(5)
    x, y = rng.random((3, 4)) < 0.3, rng.random((4, 5)) < 0.3
    out = lax.dot(x, y)
    assert out.dtype == np.bool_
    np.testing.assert_array_equal(np.asarray(out), (x.astype(int) @ y.astype(int)) > 0)
    np.testing.assert_array_equal(np.asarray(out), np.asarray(jlax.dot(x, y)))


def test_complex_dot():
    rng = np.random.default_rng(6)
    x, y = _rand(rng, (3, 4), np.complex64), _rand(rng, (4, 2), np.complex64)
    out = lax.dot(x, y)
    assert out.dtype == np.complex64
    np.testing.assert_allclose(np.asarray(out), x.astype(np.complex128) @ y, rtol=1e-5,
                               atol=4e-5)


def test_weak_types_and_scalars():
    out = lax.dot_general(2.0, 3.0, (((), ()), ((), ())))
    assert out.aval.weak_type and out.dtype == np.float32 and float(out) == 6.0
    x = np.arange(3, dtype=np.float32)
    out = lax.dot_general(x, 2.0, (((), ()), ((), ())))
    assert not out.aval.weak_type
    np.testing.assert_array_equal(np.asarray(out), 2 * x)
    x16 = np.ones(3, np.float16)  # a Python float is float32; mixed inputs promote, as JAX
    for a in (x16, np.ones(3, np.int32)):
        ours = lax.dot_general(a, 2.0, (((), ()), ((), ())))
        ref = jlax.dot_general(a, 2.0, (((), ()), ((), ())))
        assert (ours.dtype, ours.aval.weak_type) == (ref.dtype, ref.weak_type)


@pytest.mark.parametrize("precision", [None, "highest", "default", "fastest", "float32",
                                       "tensorfloat32", lax.Precision.HIGH,
                                       jlax.Precision.HIGHEST, ("high", "highest"),
                                       (lax.Precision.DEFAULT, jlax.Precision.HIGH)])
def test_precision_forms(precision):
    rng = np.random.default_rng(7)
    x, y = _rand(rng, (2, 3), np.float32), _rand(rng, (3, 2), np.float32)
    _check_close(lax.dot(x, y, precision=precision), x.astype(np.float64) @ y, 3)
    prog = trace_to_program(lambda a, b: [lax.dot(a, b, precision=precision)],
                            [ShapedArray((2, 3), np.float32), ShapedArray((3, 2), np.float32)])
    params = prog.eqns[0].params
    assert params["precision"] is None or all(isinstance(p, lax.Precision)
                                              for p in params["precision"])
    hash(tuple(params.items()))


def test_bad_precision():
    x = np.ones((2, 2), np.float32)
    with pytest.raises(ValueError, match="precision"):
        lax.dot(x, x, precision="ultra")
    with pytest.raises(ValueError, match="precision"):
        lax.dot(x, x, precision=("high", "high", "high"))


def test_staging_typechecks_and_normalizes_params():
    avals = [ShapedArray((2, 3, 4), np.float32), ShapedArray((2, 4, 5), np.float32)]
    p1 = trace_to_program(lambda x, y: [lax.dot_general(x, y, (([2], [1]), ([0], [0])))], avals)
    p2 = trace_to_program(lambda x, y: [lax.dot_general(x, y, ((-1, -2), (-3, 0)))], avals)
    typecheck(p1.program)
    assert "dot_general" in str(p1)
    assert p1.eqns[0].params == p2.eqns[0].params
    assert p1.eqns[0].params["dimension_numbers"] == (((2,), (1,)), ((0,), (0,)))
    assert p1.out_avals == [ShapedArray((2, 3, 5), np.float32)]
    hash(tuple(p1.eqns[0].params.items()))
    # a staged program runs like the eager op
    prog = trace_to_program(lambda x, y: [lax.dot(x, y, preferred_element_type=np.float32)],
                            [ShapedArray((2, 3), BF16), ShapedArray((3,), BF16)])
    typecheck(prog.program)
    assert prog.out_avals[0].dtype == np.float32
    assert "preferred_element_type=f32" in str(prog)


def test_errors():
    x, y = np.ones((2, 3), np.float32), np.ones((4, 5), np.float32)
    with pytest.raises(ValueError, match=r"dot: incompatible shapes.*\(2, 3\).*\(4, 5\)"):
        lax.dot(x, y)  # a ValueError in jax.lax.dot too
    with pytest.raises(ValueError, match="vectors or matrices"):
        lax.dot(np.ones((2, 2, 2), np.float32), np.ones((2, 2), np.float32))
    with pytest.raises(TypeError, match=r"contracting dimensions must have equal sizes.*\(3,\)"
                                        r".*\(4,\)"):
        lax.dot_general(x, y, (((1,), (0,)), ((), ())))
    with pytest.raises(ValueError, match="lhs dimension 2 is out of range.*rank 2"):
        lax.dot_general(x, y, (((2,), (0,)), ((), ())))
    with pytest.raises(ValueError, match="rhs dimension -3 is out of range.*rank 2"):
        lax.dot_general(x, y, (((1,), (-3,)), ((), ())))
    with pytest.raises(TypeError, match="batch dimensions must have equal sizes"):
        lax.dot_general(x, y, (((), ()), ((0,), (0,))))
    with pytest.raises(TypeError, match="same number of batch dimensions"):
        lax.dot_general(x, y, (((), ()), ((0,), ())))
    with pytest.raises(TypeError, match="same number of contracting dimensions"):
        lax.dot_general(x, y, (((0, 1), (0,)), ((), ())))
    with pytest.raises(TypeError, match=r"lhs dimension\(s\) \[0\] are both batch"):
        lax.dot_general(x, x, (((0,), (0,)), ((0,), (1,))))
    with pytest.raises(TypeError, match="repeated rhs contracting dimension"):
        lax.dot_general(x, x, (((1, 0), (1, -1)), ((), ())))
    with pytest.raises(TypeError, match="repeated lhs batch dimension"):
        lax.dot_general(x, x, (((), ()), ((0, 0), (0, 1))))
    with pytest.raises(TypeError, match="dimension_numbers must be"):
        lax.dot_general(x, x, ((1,), (0,)))
    with pytest.raises(TypeError, match="lhs_contracting must be a sequence of ints"):
        lax.dot_general(x, x, ((("a",), (0,)), ((), ())))
    with pytest.raises(TypeError, match="must not be narrower"):
        lax.dot(np.ones((2, 2), np.int32), np.ones((2, 2), np.int32),
                preferred_element_type=np.int8)
    with pytest.raises(TypeError, match="preferred_element_type"):
        lax.dot(x, x.T, preferred_element_type="not-a-dtype")
    # JAX's dot_general promotes its operands (unlike lax's elementwise ops): int32 with a
    # Python float gives float32
    ours = lax.dot_general(np.ones(2, np.int32), 1.5, (((), ()), ((), ())))
    ref = jlax.dot_general(np.ones(2, np.int32), 1.5, (((), ()), ((), ())))
    assert ours.dtype == ref.dtype
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(ref))


def test_compile_cache_reuse_for_equal_calls():
    # equal params (lists vs tuples, negative vs positive) give one cache entry
    from xla_bridge import eager
    x, y = np.ones((2, 7), np.float32), np.ones((7, 3), np.float32)
    lax.dot_general(x, y, (([1], [0]), ([], [])))
    n = len(eager._cache)
    lax.dot_general(x, y, (((-1,), (-2,)), ((), ())))
    lax.dot(x, y)
    assert len(eager._cache) == n


def test_jax_agrees_on_zero_size_and_rank0():
    x = np.zeros((0, 2), np.float32)
    out = lax.dot_general(x, x, (((0,), (0,)), ((), ())))
    np.testing.assert_array_equal(np.asarray(out), np.zeros((2, 2)))
    assert out.shape == jax.eval_shape(lambda a: jlax.dot_general(a, a, (((0,), (0,)),
                                                                        ((), ()))), x).shape
