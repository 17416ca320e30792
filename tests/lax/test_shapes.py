"""Tests for the shape primitives (functorch_lite/lax/shapes.py), against NumPy and jax.lax."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import xla_bridge  # noqa: F401  (registers the backend)
from functorch_lite import lax
from functorch_lite.core.avals import ShapedArray
from functorch_lite.core.ir import typecheck
from functorch_lite.interpreters.staging import trace_to_program
from functorch_lite.lax import shapes as sh

F32, I32, BOOL = np.dtype(np.float32), np.dtype(np.int32), np.dtype(np.bool_)
BF16, F16 = np.dtype(ml_dtypes.bfloat16), np.dtype(np.float16)
DTYPES = [F32, I32, BOOL]
ALL_DTYPES = DTYPES + [BF16, F16]


def rand(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    if dtype == BOOL:
        return rng.random(shape) < 0.5
    if dtype.kind in "iu":
        return rng.integers(-50 if dtype.kind == "i" else 0, 50, size=shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def check(out, expected, dtype=None, weak_type=False):
    """Exact comparison (shape ops move values, never compute them), plus dtype/weak type."""
    expected = np.asarray(expected)
    assert out.shape == expected.shape, (out.shape, expected.shape)
    assert out.dtype == (np.dtype(dtype) if dtype is not None else expected.dtype)
    assert out.aval.weak_type == weak_type
    np.testing.assert_array_equal(np.asarray(out), expected)


shapes = st.lists(st.integers(0, 3), min_size=0, max_size=3).map(tuple)
nonscalar_shapes = st.lists(st.integers(0, 3), min_size=1, max_size=3).map(tuple)
dtypes_st = st.sampled_from(DTYPES)


def stage(fun, *avals):
    prog = trace_to_program(lambda *xs: [fun(*xs)], list(avals))
    typecheck(prog.program)
    return prog


# ---------------------------------------------------------------------------------------
# reshape

@given(shape=shapes, dtype=dtypes_st, data=st.data())
@settings(max_examples=15)
def test_reshape(shape, dtype, data):
    x = rand(shape, dtype)
    size = x.size
    new = data.draw(st.sampled_from([(size,), (1, size), shape[::-1], (size, 1, 1)]))
    perm = data.draw(st.none() | st.permutations(range(len(shape))).map(tuple))
    expected = np.reshape(x if perm is None else np.transpose(x, perm), new)
    check(lax.reshape(x, list(new), perm), expected)


def test_reshape_errors_and_noop():
    x = rand((3, 4), F32)
    with pytest.raises(TypeError, match=r"reshape: cannot reshape array of shape \(3, 4\) "
                                        r"\(size 12\) into shape \(5,\) \(size 5\)"):
        lax.reshape(x, (5,))
    with pytest.raises(ValueError, match=r"reshape: negative dimension"):
        lax.reshape(x, (-1, 4))
    with pytest.raises(ValueError, match=r"reshape: dimensions \(0, 0\) is not a permutation"):
        lax.reshape(x, (12,), (0, 0))
    with pytest.raises(TypeError, match="reshape: dimensions must be a sequence of integers"):
        lax.reshape(x, (12,), 1.5)
    a = xla_bridge.from_numpy(x)
    assert lax.reshape(a, (3, 4)) is a
    assert lax.reshape(a, (3, 4), (0, 1)) is a


# ---------------------------------------------------------------------------------------
# broadcast_in_dim, broadcast, expand_dims

@given(shape=shapes, dtype=st.sampled_from(ALL_DTYPES), data=st.data())
@settings(max_examples=15)
def test_broadcast_in_dim(shape, dtype, data):
    # operand axes become output axes bdims (increasing); size-1 axes may grow
    n_new = data.draw(st.integers(0, 2))
    out_rank = len(shape) + n_new
    bdims = tuple(sorted(data.draw(st.permutations(range(out_rank)))[:len(shape)]))
    out_shape = [data.draw(st.integers(0, 2)) for _ in range(out_rank)]
    for i, d in enumerate(bdims):
        out_shape[d] = data.draw(st.sampled_from([1, 2])) if shape[i] == 1 else shape[i]
    x = rand(shape, dtype)
    y = x.reshape([shape[bdims.index(d)] if d in bdims else 1 for d in range(out_rank)])
    expected = np.broadcast_to(y, out_shape)
    check(lax.broadcast_in_dim(x, out_shape, bdims), expected)


def test_broadcast_and_expand_dims():
    x = rand((2, 3), I32)
    check(lax.broadcast(x, (4, 1)), np.broadcast_to(x, (4, 1, 2, 3)))
    check(lax.broadcast(np.int32(7), (2,)), np.array([7, 7], np.int32))
    for dims in [(0,), (-1,), (0, 3), (1, -1), (0, 1, 2)]:
        check(lax.expand_dims(x, dims), np.expand_dims(x, dims))
    check(lax.expand_dims(np.float32(1.5), (0,)), np.array([1.5], np.float32))
    with pytest.raises(ValueError, match=r"expand_dims: repeated dimension"):
        lax.expand_dims(x, (0, -4))
    with pytest.raises(ValueError, match="expand_dims: dimension 5 is out of bounds for an "
                                         "array of rank 3"):
        lax.expand_dims(x, (5,))


def test_broadcast_in_dim_errors():
    x = rand((3,), F32)
    with pytest.raises(TypeError, match=r"broadcast_in_dim: operand dimension 0 has size 3, "
                                        r"which must be 1 or the target size 4"):
        lax.broadcast_in_dim(x, (4,), (0,))
    with pytest.raises(ValueError, match="strictly increasing"):
        lax.broadcast_in_dim(np.ones((1, 1), np.float32), (2, 2), (1, 0))
    with pytest.raises(TypeError, match="one entry per operand axis"):
        lax.broadcast_in_dim(x, (2, 3), ())
    with pytest.raises(ValueError, match=r"must lie in \[0, 2\)"):
        lax.broadcast_in_dim(x, (2, 3), (2,))
    with pytest.raises(TypeError, match="at least the operand's rank"):
        lax.broadcast_in_dim(np.ones((2, 3), np.float32), (3,), (0, 1))
    with pytest.raises(ValueError, match="broadcast_in_dim: negative dimension"):
        lax.broadcast_in_dim(x, (-3,), (0,))


# ---------------------------------------------------------------------------------------
# transpose, squeeze, rev

@given(shape=shapes, dtype=st.sampled_from(ALL_DTYPES), data=st.data())
@settings(max_examples=12)
def test_transpose(shape, dtype, data):
    perm = data.draw(st.permutations(range(len(shape))))
    # negative entries are accepted and normalized
    perm_in = [p - len(shape) if data.draw(st.booleans()) else p for p in perm]
    x = rand(shape, dtype)
    check(lax.transpose(x, perm_in), np.transpose(x, perm))


def test_transpose_errors():
    x = rand((2, 3), F32)
    with pytest.raises(ValueError, match=r"transpose: permutation \(0,\) has 1 entries but the "
                                         r"operand has shape \(2, 3\)"):
        lax.transpose(x, (0,))
    with pytest.raises(ValueError, match="not a permutation"):
        lax.transpose(x, (1, -1))
    with pytest.raises(ValueError, match="permutation entry 2 is out of bounds for an array "
                                         "of rank 2"):
        lax.transpose(x, (0, 2))


@given(shape=shapes, dtype=dtypes_st, data=st.data())
@settings(max_examples=12)
def test_squeeze(shape, dtype, data):
    shape = tuple(1 if data.draw(st.booleans()) else d for d in shape)
    ones = [i for i, d in enumerate(shape) if d == 1]
    dims = data.draw(st.lists(st.sampled_from(ones), unique=True) if ones else st.just([]))
    dims_in = [d - len(shape) if data.draw(st.booleans()) else d for d in dims]
    x = rand(shape, dtype)
    check(lax.squeeze(x, dims_in), np.squeeze(x, tuple(dims)) if dims else x)


def test_squeeze_errors():
    x = rand((1, 3), F32)
    with pytest.raises(ValueError, match=r"squeeze: cannot remove dimension 1 of size 3 .* "
                                         r"from shape \(1, 3\)"):
        lax.squeeze(x, (1,))
    with pytest.raises(ValueError, match="squeeze: dimension 2 is out of bounds for an array "
                                         "of rank 2"):
        lax.squeeze(x, (2,))
    with pytest.raises(ValueError, match="squeeze: repeated dimension"):
        lax.squeeze(x, (0, -2))


@given(shape=shapes, dtype=dtypes_st, data=st.data())
@settings(max_examples=12)
def test_rev(shape, dtype, data):
    dims = data.draw(st.lists(st.integers(0, len(shape) - 1), unique=True)
                     if shape else st.just([]))
    dims_in = [d - len(shape) if data.draw(st.booleans()) else d for d in dims]
    x = rand(shape, dtype)
    check(lax.rev(x, dims_in), np.flip(x, tuple(dims)) if dims else x)


def test_rev_errors():
    with pytest.raises(ValueError, match="rev: dimension 1 is out of bounds for an array of "
                                         "rank 1"):
        lax.rev(np.ones(3, np.float32), (1,))
    with pytest.raises(ValueError, match="rev: repeated dimension"):
        lax.rev(np.ones(3, np.float32), (0, -1))


# ---------------------------------------------------------------------------------------
# concatenate

@given(shape=nonscalar_shapes, dtype=st.sampled_from(ALL_DTYPES), data=st.data())
@settings(max_examples=12)
def test_concatenate(shape, dtype, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    n = data.draw(st.integers(1, 3))
    xs = []
    for i in range(n):
        s = list(shape)
        s[axis] = data.draw(st.integers(0, 3))
        xs.append(rand(tuple(s), dtype, seed=i))
    check(lax.concatenate(xs, axis), np.concatenate(xs, axis))


def test_concatenate_errors_and_weak_type():
    a, b = rand((2, 3), F32), rand((2, 4), F32)
    with pytest.raises(TypeError, match=r"concatenate: operand shapes must agree except in "
                                        r"dimension 0, got shapes \(2, 3\), \(2, 4\)"):
        lax.concatenate([a, b], 0)
    with pytest.raises(TypeError, match="concatenate: operands must have the same dtype, got "
                                        "f32, i32"):
        lax.concatenate([a, a.astype(np.int32)], 0)
    with pytest.raises(TypeError, match="same rank"):
        lax.concatenate([a, a[0]], 0)
    with pytest.raises(ValueError, match="concatenate: dimension 2 is out of bounds for an "
                                         "array of rank 2"):
        lax.concatenate([a, a], 2)
    with pytest.raises(TypeError, match="rank-0"):
        lax.concatenate([np.float32(1), np.float32(2)], 0)
    with pytest.raises(ValueError, match="at least one operand"):
        lax.concatenate([], 0)
    w = lax.full((2,), 1.0)
    assert lax.concatenate([w, w], 0).aval.weak_type
    assert not lax.concatenate([w, np.ones(2, np.float32)], 0).aval.weak_type


# ---------------------------------------------------------------------------------------
# pad

def np_pad_reference(x, value, config):
    """lax.pad in NumPy: interior dilation, then low/high edges (negative ones crop)."""
    x = np.asarray(x)
    for axis, (lo, hi, interior) in enumerate(config):
        d = x.shape[axis]
        dilated_len = d + max(d - 1, 0) * interior
        shape = list(x.shape)
        shape[axis] = dilated_len + max(lo, 0) + max(hi, 0)
        out = np.full(shape, value, dtype=x.dtype)
        idx = [np.s_[:]] * x.ndim
        idx[axis] = np.s_[max(lo, 0):max(lo, 0) + dilated_len:interior + 1]
        out[tuple(idx)] = x
        crop = [np.s_[:]] * x.ndim
        crop[axis] = np.s_[max(-lo, 0):shape[axis] - max(-hi, 0)]
        x = out[tuple(crop)]
    return x


@given(shape=shapes, dtype=dtypes_st, data=st.data())
@settings(max_examples=12)
def test_pad_against_numpy_pad(shape, dtype, data):
    config = [(data.draw(st.integers(0, 2)), data.draw(st.integers(0, 2)), 0) for _ in shape]
    x = rand(shape, dtype)
    value = dtype.type(True if dtype == BOOL else 3)
    # (np.pad cannot pad a rank-0 array, where the padding is a no-op)
    expected = np.pad(x, [(lo, hi) for lo, hi, _ in config], constant_values=value) \
        if shape else x
    np.testing.assert_array_equal(np_pad_reference(x, value, config), expected)
    check(lax.pad(x, value, config), expected)


@given(shape=shapes, dtype=st.sampled_from([F32, I32, BF16]), data=st.data())
@settings(max_examples=15)
def test_pad_interior_and_negative(shape, dtype, data):
    config = []
    for d in shape:
        interior = data.draw(st.integers(0, 2))
        size = d + max(d - 1, 0) * interior
        lo = data.draw(st.integers(-size, 2))
        hi = data.draw(st.integers(-(size + lo) if size + lo > 0 else 0, 2))
        config.append((lo, hi, interior))
    x = rand(shape, dtype)
    value = dtype.type(-7)
    expected = np_pad_reference(x, value, config)
    out = lax.pad(x, value, config)
    check(out, expected)
    ref = jax.lax.pad(jnp.asarray(x), jnp.asarray(value), config)
    np.testing.assert_array_equal(np.asarray(out), np.asarray(ref))


def test_pad_scalars_and_weak_type():
    # a Python scalar padding value is its default dtype (int32, float32), as in jax.lax
    x16 = np.array([1, 2], np.float16)
    check(lax.pad(x16, np.float16(0), [(1, 0, 1)]), np.array([0, 1, 0, 2], np.float16))
    for value in (0, 0.0):
        with pytest.raises(TypeError):
            jax.lax.pad(x16, value, [(1, 0, 1)])
        with pytest.raises(TypeError, match="pad: padding_value must have the operand's dtype"):
            lax.pad(x16, value, [(1, 0, 1)])
    check(lax.pad(np.array([1.0], np.float32), 0.0, [(1, 0, 0)]), np.array([0, 1], F32))
    w = lax.full((2,), 1.0)
    assert lax.pad(w, 0.0, [(1, 1, 0)]).aval.weak_type
    assert not lax.pad(w, np.float32(0), [(1, 1, 0)]).aval.weak_type
    # a rank-0 operand with an empty config is a no-op pad
    check(lax.pad(np.int32(4), 0, []), np.int32(4))


def test_pad_errors():
    x = rand((3,), F32)
    with pytest.raises(ValueError, match="pad: interior padding must be non-negative"):
        lax.pad(x, 0.0, [(0, 0, -1)])
    with pytest.raises(ValueError, match=r"pad: padding_config .* crops the operand of shape "
                                         r"\(3,\) to a negative size \(-1,\)"):
        lax.pad(x, 0.0, [(-2, -2, 0)])
    with pytest.raises(ValueError, match=r"one \(low, high, interior\) triple per axis"):
        lax.pad(x, 0.0, [(0, 0, 0), (0, 0, 0)])
    with pytest.raises(ValueError, match=r"each padding_config entry must be"):
        lax.pad(x, 0.0, [(0, 0)])
    with pytest.raises(TypeError, match="pad: padding_value must be a scalar"):
        lax.pad(x, np.zeros(2, np.float32), [(0, 0, 0)])
    with pytest.raises(TypeError, match="pad: padding_value must have the operand's dtype "
                                        "f32, got i32"):
        lax.pad(x, np.int32(0), [(0, 0, 0)])
    with pytest.raises(TypeError, match="padding_value must have the operand's dtype i32, "
                                        "got f32"):  # as JAX: lax never promotes
        lax.pad(np.ones(2, np.int32), 0.5, [(0, 0, 0)])
    with pytest.raises(TypeError, match="integer triples"):
        lax.pad(x, 0.0, [(0.5, 0, 0)])


# ---------------------------------------------------------------------------------------
# slice, slice_in_dim, index_in_dim

@given(shape=shapes, dtype=dtypes_st, data=st.data())
@settings(max_examples=15)
def test_slice(shape, dtype, data):
    starts, limits, strides = [], [], []
    for d in shape:
        lo = data.draw(st.integers(0, d))
        starts.append(lo)
        limits.append(data.draw(st.integers(lo, d)))
        strides.append(data.draw(st.integers(1, 3)))
    use_strides = data.draw(st.booleans())
    x = rand(shape, dtype)
    idx = tuple(np.s_[lo:hi:(s if use_strides else 1)]
                for lo, hi, s in zip(starts, limits, strides))
    check(lax.slice(x, starts, limits, strides if use_strides else None), x[idx])


def test_slice_in_dim_and_index_in_dim():
    x = rand((3, 5), I32)
    check(lax.slice_in_dim(x, 1, -1, axis=1), x[:, 1:-1])
    check(lax.slice_in_dim(x, None, None, 2, axis=-1), x[:, ::2])
    check(lax.slice_in_dim(x, -2, None), x[-2:])
    check(lax.slice_in_dim(x, 0, 3, 2), x[0:3:2])
    check(lax.index_in_dim(x, -1), x[-1:])
    check(lax.index_in_dim(x, 2, axis=1, keepdims=False), x[:, 2])
    check(lax.index_in_dim(x, -5, axis=-1, keepdims=False), x[:, 0])
    with pytest.raises(IndexError, match="index_in_dim: index 3 is out of bounds for axis 0 "
                                         "with size 3"):
        lax.index_in_dim(x, 3)
    with pytest.raises(ValueError, match="slice_in_dim: axis 2 is out of bounds for an array "
                                         "of rank 2"):
        lax.slice_in_dim(x, 0, 1, axis=2)


def test_slice_errors():
    x = rand((3, 4), F32)
    with pytest.raises(ValueError, match=r"slice: axis 1 needs 0 <= start <= limit <= 4, got "
                                         r"start 0 and limit 5"):
        lax.slice(x, (0, 0), (3, 5))
    with pytest.raises(ValueError, match="slice: axis 0 needs"):
        lax.slice(x, (2, 0), (1, 4))
    with pytest.raises(ValueError, match="slice: axis 0 needs"):
        lax.slice(x, (-1, 0), (3, 4))
    with pytest.raises(TypeError, match="slice: start_indices and limit_indices need one entry "
                                        "per axis"):
        lax.slice(x, (0,), (3,))
    with pytest.raises(ValueError, match="slice: strides must be positive"):
        lax.slice(x, (0, 0), (3, 4), (1, 0))
    with pytest.raises(TypeError, match="slice: strides need one entry per axis"):
        lax.slice(x, (0, 0), (3, 4), (2,))
    with pytest.raises(TypeError, match="slice: start_indices must be an integer"):
        lax.slice(x, (0.0, 0), (3, 4))


# ---------------------------------------------------------------------------------------
# iota

@pytest.mark.parametrize("dtype", [F32, I32, BF16, np.dtype(np.uint8), np.dtype(np.complex64)])
def test_iota(dtype):
    check(lax.iota(dtype, 5), np.arange(5).astype(dtype))
    check(lax.iota(dtype, 0), np.arange(0).astype(dtype))


@given(shape=nonscalar_shapes, data=st.data())
@settings(max_examples=10)
def test_broadcasted_iota(shape, data):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    ax = dim % len(shape)
    view = [1] * len(shape)
    view[ax] = shape[ax]
    expected = np.broadcast_to(np.arange(shape[ax], dtype=np.int32).reshape(view), shape)
    check(lax.broadcasted_iota(np.int32, shape, dim), expected)


def test_iota_errors():
    with pytest.raises(TypeError, match="iota does not accept dtype bool"):
        lax.iota(np.bool_, 3)
    with pytest.raises(ValueError, match="broadcasted_iota: dimension 2 is out of bounds for "
                                         "an array of rank 2"):
        lax.broadcasted_iota(np.int32, (2, 3), 2)
    with pytest.raises(ValueError, match="negative dimension"):
        lax.iota(np.int32, -1)
    with pytest.raises(TypeError, match="iota: size must be an integer"):
        lax.iota(np.int32, 2.0)


# ---------------------------------------------------------------------------------------
# bitcast_convert_type

def np_bitcast(x, new_dtype):
    x = np.asarray(x)
    new_dtype = np.dtype(new_dtype)
    if new_dtype.itemsize == x.dtype.itemsize:
        return x.view(new_dtype)
    if new_dtype.itemsize < x.dtype.itemsize:
        return x[..., None].view(new_dtype)
    return x.view(new_dtype)[..., 0]


BITCAST_PAIRS = [
    (F32, I32), (I32, F32), (F32, np.dtype(np.uint32)), (F16, np.dtype(np.int16)),
    (BF16, F16), (F32, np.dtype(np.uint8)), (F32, BF16), (I32, np.dtype(np.int8)),
    (np.dtype(np.uint8), F32), (np.dtype(np.int16), I32), (BF16, F32),
    (np.dtype(np.int8), F16),
]


@pytest.mark.parametrize("old,new", BITCAST_PAIRS, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("outer", [(), (2,)])
def test_bitcast_convert_type(old, new, outer):
    ratio = new.itemsize // old.itemsize
    shape = outer + (ratio,) if ratio > 1 else outer
    x = rand(shape, old)
    out = lax.bitcast_convert_type(x, new)
    expected = np_bitcast(x, new)
    check(out, expected, dtype=new)
    ref = jax.lax.bitcast_convert_type(jnp.asarray(x), new)
    assert ref.shape == out.shape and ref.dtype == out.dtype
    assert np.asarray(out).tobytes() == np.asarray(ref).tobytes()
    assert np.asarray(out).tobytes() == expected.tobytes()


def test_bitcast_convert_type_errors_and_weak_type():
    with pytest.raises(ValueError, match=r"bitcast_convert_type: converting i8 \(8 bits\) to the "
                                         r"wider f32 \(32 bits\) needs a last axis of size 4, "
                                         r"got shape \(2, 3\)"):
        lax.bitcast_convert_type(np.zeros((2, 3), np.int8), np.float32)
    with pytest.raises(ValueError, match="needs a last axis of size 2"):
        lax.bitcast_convert_type(np.int16(0), np.int32)
    with pytest.raises(TypeError, match="bool and complex values can only be bitcast"):
        lax.bitcast_convert_type(np.zeros(2, np.bool_), np.uint8)
    with pytest.raises(TypeError, match="bool and complex values"):
        lax.bitcast_convert_type(np.zeros(2, np.float32), np.complex64)
    check(lax.bitcast_convert_type(np.array([True, False]), np.bool_),
          np.array([True, False]))
    # a reinterpretation is strongly typed even when the operand is weak
    out = lax.bitcast_convert_type(lax.full((2,), 1.0), np.int32)
    check(out, np.full(2, 1.0, np.float32).view(np.int32))


# ---------------------------------------------------------------------------------------
# full, full_like, zeros_like_array, collapse

def test_full():
    check(lax.full((2, 3), 1.5), np.full((2, 3), 1.5, np.float32), weak_type=True)
    check(lax.full((2,), 3), np.full(2, 3, np.int32), weak_type=True)
    check(lax.full((2,), True), np.full(2, True))
    check(lax.full((), 2.5), np.float32(2.5), weak_type=True)
    check(lax.full((0, 2), 1.0, np.float16), np.zeros((0, 2), np.float16))
    check(lax.full([3], 2, dtype=ml_dtypes.bfloat16), np.full(3, 2, BF16))
    check(lax.full((2,), np.float16(1.5)), np.full(2, 1.5, np.float16))
    # a rank-0 device array as fill value, converted to the requested dtype
    check(lax.full((2,), lax.full((), 3.7), np.int32), np.full(2, 3, np.int32))
    with pytest.raises(TypeError, match=r"full: fill_value must be a scalar, got an array of "
                                        r"shape \(2,\)"):
        lax.full((3,), np.ones(2, np.float32))
    with pytest.raises(ValueError, match="full: negative dimension"):
        lax.full((-1,), 0.0)


def test_full_like_and_zeros_like():
    x16 = np.ones((2, 3), np.float16)
    check(lax.full_like(x16, 2), np.full((2, 3), 2, np.float16))
    check(lax.full_like(x16, 2, np.int32), np.full((2, 3), 2, np.int32))
    check(lax.full_like(x16, 1.5, shape=(4,)), np.full(4, 1.5, np.float16))
    check(lax.full_like(np.ones(3, np.int32), 2.7), np.full(3, 2, np.int32))
    w = lax.full((2,), 1.0)
    check(lax.full_like(w, 4.0), np.full(2, 4.0, np.float32), weak_type=True)
    check(lax.full_like(w, 4.0, np.float32), np.full(2, 4.0, np.float32))
    check(lax.full_like(1.0, 0), np.float32(0), weak_type=True)
    check(lax.zeros_like_array(np.ones((2, 2), np.int32)), np.zeros((2, 2), np.int32))
    check(lax.zeros_like_array(np.ones(3, np.bool_)), np.zeros(3, np.bool_))
    check(lax.zeros_like_array(w), np.zeros(2, np.float32), weak_type=True)


def test_collapse():
    x = rand((2, 3, 4), F32)
    check(lax.collapse(x, 1), x.reshape(2, 12))
    check(lax.collapse(x, 0, 2), x.reshape(6, 4))
    check(lax.collapse(x, -2, -1), x)
    check(lax.collapse(x, 1, 1), x.reshape(2, 1, 3, 4))
    with pytest.raises(ValueError, match="collapse: empty dimension range"):
        lax.collapse(x, 2, 1)


# ---------------------------------------------------------------------------------------
# weak types, staging, params

def test_weak_type_preserved_by_shape_ops():
    w = ShapedArray((2, 3), np.float32, weak_type=True)
    s = ShapedArray((), np.float32, weak_type=True)
    cases = [
        (sh.reshape_p, (w,), dict(new_sizes=(6,), dimensions=None)),
        (sh.broadcast_in_dim_p, (w,), dict(shape=(4, 2, 3), broadcast_dimensions=(1, 2))),
        (sh.transpose_p, (w,), dict(permutation=(1, 0))),
        (sh.squeeze_p, (ShapedArray((1, 3), np.float32, True),), dict(dimensions=(0,))),
        (sh.concatenate_p, (w, w), dict(dimension=0)),
        (sh.pad_p, (w, s), dict(padding_config=((1, 0, 0), (0, 0, 1)))),
        (sh.slice_p, (w,), dict(start_indices=(0, 0), limit_indices=(1, 3), strides=None)),
        (sh.rev_p, (w,), dict(dimensions=(0,))),
    ]
    for p, avals, params in cases:
        (out,) = p.abstract_eval(*avals, **params)
        assert out.weak_type, p
        (strong,) = p.abstract_eval(*[a.strip_weak_type() for a in avals], **params)
        assert not strong.weak_type, p
    (out,) = sh.bitcast_convert_type_p.abstract_eval(w, new_dtype=np.dtype(np.int32))
    assert not out.weak_type
    (out,) = sh.iota_p.abstract_eval(dtype=np.dtype(np.float32), shape=(3,), dimension=0)
    assert not out.weak_type


STAGED = [
    ("reshape", lambda x: lax.reshape(x, (3, 2), (1, 0))),
    ("broadcast_in_dim", lambda x: lax.broadcast_in_dim(x, (4, 2, 3), (1, 2))),
    ("broadcast_in_dim", lambda x: lax.expand_dims(x, (-1,))),
    ("transpose", lambda x: lax.transpose(x, (-1, 0))),
    ("squeeze", lambda x: lax.squeeze(lax.reshape(x, (1, 6)), (-2,))),
    ("concatenate", lambda x: lax.concatenate([x, x], -1)),
    ("pad", lambda x: lax.pad(x, 0.0, [(1, -1, 1), (0, 2, 0)])),
    ("slice", lambda x: lax.slice(x, (0, 1), (2, 3), (2, 1))),
    ("rev", lambda x: lax.rev(x, (-1,))),
    ("iota", lambda x: lax.broadcasted_iota(np.int32, (2, 3), -1)),
    ("bitcast_convert_type", lambda x: lax.bitcast_convert_type(x, np.uint8)),
    ("broadcast_in_dim", lambda x: lax.full((2,), 1.5)),
]


@pytest.mark.parametrize("name,fun", STAGED, ids=[f"{n}{i}" for i, (n, _) in enumerate(STAGED)])
def test_staging(name, fun):
    x = rand((2, 3), F32)
    prog = stage(fun, ShapedArray((2, 3), np.float32))
    text = str(prog)
    assert f"= {name}" in text, text
    for eqn in prog.program.eqns:
        hash(tuple(eqn.params.items()))  # params are part of the compile-cache key
    # the staged program lowers, compiles and agrees with eager evaluation
    from xla_bridge.compile import compile_program
    exe = compile_program(prog.program)
    (buf,) = exe.execute([xla_bridge.from_numpy(x).buffer])
    np.testing.assert_array_equal(np.asarray(xla_bridge.Array(buf, exe.out_avals[0])),
                                  np.asarray(fun(x)))


def test_params_are_normalized():
    f32 = ShapedArray((2, 3), np.float32)

    def params_of(fun):
        (eqn,) = stage(fun, f32).program.eqns
        return eqn.params

    assert params_of(lambda x: lax.transpose(x, [-1, 0])) == {"permutation": (1, 0)}
    assert params_of(lambda x: lax.rev(x, [-1, 0])) == {"dimensions": (0, 1)}
    assert params_of(lambda x: lax.reshape(x, [6], (0, 1))) == {"new_sizes": (6,),
                                                                "dimensions": None}
    assert params_of(lambda x: lax.concatenate([x, x], -2)) == {"dimension": 0}
    assert params_of(lambda x: lax.slice(x, [0, 0], [1, 1], [1, 1]))["strides"] is None
    assert params_of(lambda x: lax.pad(x, 0.0, [[0, 0, 0], [1, 1, 1]])) == {
        "padding_config": ((0, 0, 0), (1, 1, 1))}
    p = params_of(lambda x: lax.bitcast_convert_type(x, "int32"))
    assert p == {"new_dtype": np.dtype(np.int32)}
    # identity operations on tracers stage nothing
    prog = stage(lambda x: lax.transpose(lax.reshape(lax.rev(x, ()), (2, 3)), (0, 1)), f32)
    assert prog.program.eqns == []
