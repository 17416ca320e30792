"""sort, sort_key_val and top_k against NumPy and jax.lax."""
import jax
import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import xla_bridge
from functorch_lite import lax
from functorch_lite.core.avals import ShapedArray
from functorch_lite.core.ir import typecheck
from functorch_lite.interpreters.staging import trace_to_program
from functorch_lite.lax import sorting as srt
from xla_bridge.compile import compile_program

BF16 = np.dtype(ml_dtypes.bfloat16)
F32, I32, BOOL = np.dtype(np.float32), np.dtype(np.int32), np.dtype(np.bool_)
_FLOATS = [-2.0, -1.0, -0.5, -0.0, 0.0, 0.5, 1.0, 2.0, np.inf, -np.inf, np.nan, -np.nan]


@st.composite
def arrays(draw, dtypes, min_rank=1, max_rank=3, max_dim=4, shape=None):
    dtype = np.dtype(draw(st.sampled_from(dtypes)))
    if shape is None:
        shape = tuple(draw(st.lists(st.integers(0, max_dim), min_size=min_rank,
                                    max_size=max_rank)))
    size = int(np.prod(shape))
    if dtype == BOOL:
        vals = draw(st.lists(st.booleans(), min_size=size, max_size=size))
    elif dtype.kind in "iu":
        vals = draw(st.lists(st.integers(-3, 3), min_size=size, max_size=size))
    else:
        vals = draw(st.lists(st.sampled_from(_FLOATS), min_size=size, max_size=size))
    work = np.float64 if dtype == BF16 else dtype
    return np.array(vals, dtype=work).reshape(shape).astype(dtype)


def _np(x):
    """NumPy sorts bfloat16 by its float value only after a cast."""
    return x.astype(np.float32) if x.dtype == BF16 else x


def _iota(shape, axis):
    return np.broadcast_to(
        np.arange(shape[axis], dtype=np.int32).reshape(
            [-1 if d == axis else 1 for d in range(len(shape))]), shape).copy()


@given(st.data())
def test_sort_matches_numpy(data):
    x = data.draw(arrays([F32, I32, BOOL, BF16]))
    dim = data.draw(st.integers(-x.ndim, x.ndim - 1))
    out = lax.sort(x, dimension=dim)
    assert out.dtype == x.dtype and out.shape == x.shape and not out.weak_type
    np.testing.assert_array_equal(_np(np.asarray(out)), np.sort(_np(x), axis=dim))


@given(st.data())
def test_sort_key_val_is_a_stable_argsort(data):
    # NumPy's stable argsort, like jax.lax.sort, treats -0.0 == 0.0 and puts NaNs last.
    x = data.draw(arrays([F32, I32, BOOL, BF16]))
    dim = data.draw(st.integers(-x.ndim, x.ndim - 1))
    keys, perm = lax.sort_key_val(x, _iota(x.shape, dim % x.ndim), dimension=dim)
    assert perm.dtype == I32
    np.testing.assert_array_equal(perm, np.argsort(_np(x), axis=dim, kind="stable"))
    np.testing.assert_array_equal(_np(np.asarray(keys)), np.sort(_np(x), axis=dim))


def test_sort_signed_zeros_and_nans_match_jax():
    x = np.array([-0.0, 0.0, -0.0, np.nan, -np.nan, -np.inf, np.inf, 1.0, 0.0, np.nan],
                 np.float32)
    idx = np.arange(x.size, dtype=np.int32)
    ours = lax.sort_key_val(x, idx)
    theirs = jax.lax.sort_key_val(x, idx)
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    np.testing.assert_array_equal(np.signbit(np.asarray(ours[0])),
                                  np.signbit(np.asarray(theirs[0])))
    np.testing.assert_array_equal(lax.sort(x), jax.lax.sort(x))


@given(st.data())
def test_sort_num_keys_matches_lexsort(data):
    shape = tuple(data.draw(st.lists(st.integers(0, 4), min_size=1, max_size=2)))
    k0 = data.draw(arrays([I32, BOOL], shape=shape))
    k1 = data.draw(arrays([F32, I32], shape=shape))
    k2 = data.draw(arrays([I32], shape=shape))
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    iota = _iota(shape, dim % len(shape))
    num_keys = data.draw(st.integers(1, 3))
    keys = [k0, k1, k2][:num_keys]
    outs = lax.sort((*keys, iota), dimension=dim, num_keys=num_keys)
    assert isinstance(outs, tuple) and len(outs) == num_keys + 1
    # np.lexsort sorts by its *last* key first, and only along the last axis.
    moved = [np.moveaxis(k, dim, -1) for k in keys]
    perm = np.moveaxis(np.lexsort(moved[::-1], axis=-1), -1, dim)
    np.testing.assert_array_equal(outs[-1], perm)
    for out, k in zip(outs, keys):
        np.testing.assert_array_equal(out, np.take_along_axis(k, perm, axis=dim))


def test_sort_complex_matches_numpy():
    x = np.array([1 + 2j, 1 - 1j, -1 + 5j, np.nan, complex(1, np.nan), complex(np.nan, -1),
                  1 + np.inf * 1j, -0.0 + 0j, 0 - 0j], np.complex64)
    keys, perm = lax.sort_key_val(x, np.arange(x.size, dtype=np.int32))
    np.testing.assert_array_equal(perm, np.argsort(x, kind="stable"))
    np.testing.assert_array_equal(keys, np.sort(x))


def test_sort_single_and_multiple_operands():
    x = np.array([[3, 1, 2], [0, -1, 5]], np.int32)
    out = lax.sort(x)
    assert isinstance(out, xla_bridge.Array)
    np.testing.assert_array_equal(out, [[1, 2, 3], [-1, 0, 5]])
    np.testing.assert_array_equal(lax.sort(x, dimension=0), [[0, -1, 2], [3, 1, 5]])
    (one,) = lax.sort([x])
    np.testing.assert_array_equal(one, out)
    v = np.array([[0.5, 1.5, 2.5], [3.5, 4.5, 5.5]], np.float32)
    k, vals = lax.sort((x, v), is_stable=False)
    np.testing.assert_array_equal(k, out)
    np.testing.assert_array_equal(vals, [[1.5, 2.5, 0.5], [4.5, 3.5, 5.5]])
    w = xla_bridge.from_numpy(np.array([2.0, 1.0], np.float32), weak_type=True)
    assert lax.sort(w).weak_type


@given(st.data())
def test_top_k_matches_jax(data):
    x = data.draw(arrays([F32, I32, BOOL, BF16]))
    k = data.draw(st.integers(0, x.shape[-1]))
    values, indices = lax.top_k(x, k)
    ref_values, ref_indices = jax.lax.top_k(x, k)
    assert values.dtype == x.dtype and indices.dtype == I32
    assert values.shape == x.shape[:-1] + (k,) == indices.shape
    np.testing.assert_array_equal(indices, np.asarray(ref_indices))
    np.testing.assert_array_equal(_np(np.asarray(values)), _np(np.asarray(ref_values)))
    if x.dtype.kind == "f":
        np.testing.assert_array_equal(np.signbit(np.asarray(values)),
                                      np.signbit(np.asarray(ref_values)))


@given(st.data())
def test_top_k_matches_numpy(data):
    # Without NaNs or signed zeros top_k is a descending stable sort, truncated.
    x = data.draw(arrays([I32]))
    k = data.draw(st.integers(0, x.shape[-1]))
    values, indices = lax.top_k(x, k)
    order = np.argsort(-x, axis=-1, kind="stable")[..., :k]
    np.testing.assert_array_equal(indices, order)
    np.testing.assert_array_equal(values, np.take_along_axis(x, order, axis=-1))


def test_top_k_weak_type_follows_jax():
    w = xla_bridge.from_numpy(np.array([2.0, 1.0, 3.0], np.float32), weak_type=True)
    values, indices = lax.top_k(w, 2)
    assert values.weak_type and not indices.weak_type
    np.testing.assert_array_equal(values, [3.0, 2.0])
    np.testing.assert_array_equal(indices, [2, 0])


# ---------------------------------------------------------------------------------------
# errors

def test_sort_errors():
    x = np.zeros((2, 3), np.float32)
    with pytest.raises(TypeError, match=r"sort: all operands must have the same shape, got "
                                        r"\(2, 3\), \(3,\)"):
        lax.sort((x, np.zeros(3, np.float32)))
    with pytest.raises(TypeError, match="sort: operands must have rank >= 1"):
        lax.sort(np.float32(1))
    with pytest.raises(ValueError, match="sort: axis 2 is out of bounds for an array of "
                                         "rank 2"):
        lax.sort(x, dimension=2)
    with pytest.raises(ValueError, match=r"sort: num_keys must be between 1 and the number "
                                         r"of operands \(2\), got 3"):
        lax.sort((x, x), num_keys=3)
    with pytest.raises(ValueError, match="num_keys must be between 1"):
        lax.sort(x, num_keys=0)
    with pytest.raises(TypeError, match="sort needs at least one operand"):
        lax.sort(())
    with pytest.raises(TypeError, match="sort: all operands must have the same shape"):
        lax.sort_key_val(x, np.zeros((3, 2), np.int32))
    with pytest.raises(ValueError, match="sort: dimension -1 is out of bounds"):
        srt.sort_p.bind(x, dimension=-1, is_stable=True, num_keys=1)


def test_top_k_errors():
    x = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match=r"top_k: k must be between 0 and the size of the "
                                         r"last axis; got k=4 for shape \(2, 3\)"):
        lax.top_k(x, 4)
    with pytest.raises(ValueError, match="got k=-1"):
        lax.top_k(x, -1)
    with pytest.raises(TypeError, match="top_k: operand must have rank >= 1"):
        lax.top_k(np.float32(1), 0)
    with pytest.raises(TypeError, match="top_k does not accept dtype c64"):
        lax.top_k(np.zeros(3, np.complex64), 1)
    with pytest.raises(TypeError, match="top_k: k must be an integer"):
        lax.top_k(x, 1.0)


# ---------------------------------------------------------------------------------------
# staging

def test_staged_sort_and_top_k():
    avals = [ShapedArray((2, 4), np.float32, weak_type=True), ShapedArray((2, 4), np.int32)]

    def f(x, i):
        k, v = lax.sort((x, i), dimension=0, num_keys=2)
        s = lax.sort(x)
        tv, ti = lax.top_k(x, 3)
        return [k, v, s, tv, ti]

    prog = trace_to_program(f, avals)
    typecheck(prog.program)
    text = str(prog)
    assert "= sort[dimension=0 is_stable=True num_keys=2]" in text
    assert "= sort[dimension=1 is_stable=True num_keys=1]" in text
    assert "= top_k[k=3]" in text
    assert [v.aval for v in prog.program.outvars] == [
        avals[0], avals[1], avals[0], ShapedArray((2, 3), np.float32, weak_type=True),
        ShapedArray((2, 3), np.int32)]
    # The staged program (two inputs, so region and module argument names could clash)
    # compiles and agrees with eager evaluation.
    exe = compile_program(prog.program)
    x = np.array([[3.0, np.nan, 1.0, 1.0], [-0.0, 2.0, 1.0, 0.0]], np.float32)
    i = np.array([[1, 2, 3, 4], [5, 6, 7, 8]], np.int32)
    bufs = [xla_bridge.from_numpy(a).buffer for a in (x, i)]
    outs = [xla_bridge.Array(b, a) for b, a in zip(exe.execute(bufs), exe.out_avals)]
    eager = f(x, i)
    for a, b in zip(outs, eager):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
