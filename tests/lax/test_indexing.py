"""dynamic_slice / dynamic_update_slice, gather and scatter against NumPy and jax.lax."""
import jax
import jax.numpy as jnp
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
from functorch_lite.lax import indexing as ix
from functorch_lite.lax.indexing import (GatherDimensionNumbers as GDN, GatherScatterMode,
                                         ScatterDimensionNumbers as SDN)
from xla_bridge.compile import compile_program

BF16 = np.dtype(ml_dtypes.bfloat16)
F16, F32, I32, U8, BOOL = (np.dtype(t) for t in (np.float16, np.float32, np.int32, np.uint8,
                                                 np.bool_))
RNG = np.random.default_rng(0)


def values(shape, dtype):
    """Small exact values of ``dtype`` (sums and products stay exact)."""
    dtype = np.dtype(dtype)
    if dtype == BOOL:
        return RNG.integers(0, 2, shape).astype(bool)
    if dtype.kind == "u":
        return RNG.integers(0, 5, shape).astype(dtype)
    return RNG.integers(-4, 5, shape).astype(np.float64 if dtype == BF16 else dtype).astype(dtype)


def jax_gdn(dn):
    return jax.lax.GatherDimensionNumbers(*dn)


def jax_sdn(dn):
    return jax.lax.ScatterDimensionNumbers(*dn)


def assert_same(ours, expected):
    ours_np = np.asarray(ours)
    expected = np.asarray(expected)
    assert ours_np.dtype == expected.dtype, (ours_np.dtype, expected.dtype)
    assert ours_np.shape == expected.shape, (ours_np.shape, expected.shape)
    if expected.dtype.kind == "f" or expected.dtype == BF16:
        np.testing.assert_array_equal(ours_np.astype(np.float32), expected.astype(np.float32))
    else:
        np.testing.assert_array_equal(ours_np, expected)


# ---------------------------------------------------------------------------------------
# dynamic_slice / dynamic_update_slice

def _np_start(start, dim, size):
    """JAX's rule: a negative start counts from the end, then it is clamped to fit."""
    if start < 0:
        start += dim
    return min(max(start, 0), dim - size)


@st.composite
def slice_cases(draw):
    shape = tuple(draw(st.lists(st.integers(0, 4), min_size=0, max_size=3)))
    sizes = tuple(draw(st.integers(0, d)) for d in shape)
    starts = tuple(draw(st.integers(-d - 2, d + 2)) for d in shape)
    dtype = draw(st.sampled_from([F32, I32, BOOL, BF16]))
    return values(shape, dtype), starts, sizes


@settings(max_examples=15)
@given(slice_cases(), st.booleans())
def test_dynamic_slice_matches_numpy_with_clamping(case, as_arrays):
    x, starts, sizes = case
    idx = [np.int32(s) for s in starts] if as_arrays else list(starts)
    out = lax.dynamic_slice(x, idx, sizes)
    begin = [_np_start(s, d, n) for s, d, n in zip(starts, x.shape, sizes)]
    expected = x[tuple(slice(b, b + n) for b, n in zip(begin, sizes))]
    assert_same(out, expected)
    assert_same(out, jax.lax.dynamic_slice(x, starts, sizes))
    assert isinstance(out, xla_bridge.Array) and not out.aval.weak_type


@settings(max_examples=15)
@given(slice_cases())
def test_dynamic_update_slice_matches_numpy_with_clamping(case):
    x, starts, sizes = case
    update = values(sizes, x.dtype)
    out = lax.dynamic_update_slice(x, update, starts)
    begin = [_np_start(s, d, n) for s, d, n in zip(starts, x.shape, sizes)]
    expected = x.copy()
    expected[tuple(slice(b, b + n) for b, n in zip(begin, sizes))] = update
    assert_same(out, expected)
    assert_same(out, jax.lax.dynamic_update_slice(x, update, starts))


def test_dynamic_slice_device_indices_and_array_start_indices():
    x = values((5, 4), F32)
    i = xla_bridge.from_numpy(np.array(-2, np.int32))
    j = xla_bridge.from_numpy(np.array(7, np.int32))
    assert_same(lax.dynamic_slice(x, (i, j), (2, 2)), x[3:5, 2:4])
    starts = xla_bridge.from_numpy(np.array([1, -1], np.int32))
    assert_same(lax.dynamic_slice(x, starts, (2, 2)), x[1:3, 2:4])
    assert_same(lax.dynamic_slice(x, np.array([1, 1], np.int32), (2, 2)), x[1:3, 1:3])
    u8 = xla_bridge.from_numpy(np.array(250, np.uint8))  # unsigned: never wrapped
    assert_same(lax.dynamic_slice(x, (u8, 0), (1, 4)), x[4:5])


def test_dynamic_slice_allow_negative_indices_false():
    x = values((5,), I32)
    with pytest.raises(ValueError, match="negative"):
        lax.dynamic_slice(x, (-1,), (2,), allow_negative_indices=False)
    i = xla_bridge.from_numpy(np.array(-1, np.int32))
    assert_same(lax.dynamic_slice(x, (i,), (2,), allow_negative_indices=False), x[0:2])
    assert_same(lax.dynamic_slice(x, (i,), (2,)), x[3:5])


def test_dynamic_in_dim_helpers():
    x = values((5, 3, 2), F32)
    assert_same(lax.dynamic_slice_in_dim(x, 1, 2, axis=1), x[:, 1:3])
    assert_same(lax.dynamic_slice_in_dim(x, -1, 2, axis=0), x[3:5])
    assert_same(lax.dynamic_index_in_dim(x, 2, axis=-2), x[:, 2:3])
    assert_same(lax.dynamic_index_in_dim(x, 9, axis=0, keepdims=False), x[4])
    u = values((5, 2, 2), F32)
    exp = x.copy()
    exp[:, 1:3] = u
    assert_same(lax.dynamic_update_slice_in_dim(x, u, 1, axis=1), exp)
    exp = x.copy()
    row = values((5, 3), F32)
    exp[:, :, 1] = row
    assert_same(lax.dynamic_update_index_in_dim(x, row, 1, axis=2), exp)
    exp = x.copy()
    exp[-1] = row[:3, :2]
    assert_same(lax.dynamic_update_index_in_dim(x, row[None, :3, :2], -1, axis=0), exp)
    for fn, args in [(jax.lax.dynamic_slice_in_dim, (x, 1, 2, 1)),
                     (jax.lax.dynamic_index_in_dim, (x, -1, 0, False))]:
        ours = getattr(lax, fn.__name__)(*args)
        assert_same(ours, fn(*args))


def test_dynamic_slice_rank0_and_empty():
    assert_same(lax.dynamic_slice(np.float32(3.0), (), ()), np.float32(3.0))
    x = np.zeros((0, 3), np.float32)
    assert_same(lax.dynamic_slice(x, (0, 2), (0, 2)), np.zeros((0, 2), np.float32))
    assert_same(lax.dynamic_update_slice(np.float32(1.0), np.float32(2.0), ()),
                np.float32(2.0))


def test_dynamic_slice_weak_types():
    w = ShapedArray((4,), F32, weak_type=True)
    i = ShapedArray((), I32)
    out, = ix.dynamic_slice_p.abstract_eval(w, i, slice_sizes=(2,))
    assert out.weak_type and out.shape == (2,)
    out, = ix.dynamic_update_slice_p.abstract_eval(w, w.update(shape=(2,)), i)
    assert not out.weak_type  # strong index: like JAX, weak only if every input is weak
    out, = ix.dynamic_update_slice_p.abstract_eval(w, w.update(shape=(2,)), i.update(
        weak_type=True))
    assert out.weak_type


def test_dynamic_slice_errors():
    x = np.zeros((3, 4), np.float32)
    with pytest.raises(TypeError, match=r"dynamic_slice: got 1 start indices .*\(3, 4\)"):
        lax.dynamic_slice(x, (0,), (1, 1))
    with pytest.raises(TypeError, match=r"slice size 5 on axis 1 must be in \[0, 4\]"):
        lax.dynamic_slice(x, (0, 0), (1, 5))
    with pytest.raises(TypeError, match="start indices must be integers"):
        lax.dynamic_slice(x, (0, 1.0), (1, 1))
    with pytest.raises(TypeError, match="integer dtype"):
        lax.dynamic_slice(x, (0, np.float32(1)), (1, 1))
    with pytest.raises(TypeError, match="same dtype"):
        lax.dynamic_slice(x, (np.int32(0), np.uint8(1)), (1, 1))
    with pytest.raises(ValueError, match="negative"):
        lax.dynamic_slice(x, (0, 0), (1, -1))
    with pytest.raises(TypeError, match="1-D"):
        lax.dynamic_slice(x, np.zeros((2, 1), np.int32), (1, 1))
    with pytest.raises(TypeError, match="same dtype, got f32 and i32"):
        lax.dynamic_update_slice(x, np.zeros((1, 1), np.int32), (0, 0))
    with pytest.raises(TypeError, match=r"update of shape \(4, 1\) does not fit"):
        lax.dynamic_update_slice(x, np.zeros((4, 1), np.float32), (0, 0))
    with pytest.raises(TypeError, match="rank"):
        lax.dynamic_update_slice(x, np.zeros((1,), np.float32), (0, 0))
    with pytest.raises(ValueError, match="axis 2 is out of bounds .* rank 2"):
        lax.dynamic_slice_in_dim(x, 0, 1, axis=2)


# ---------------------------------------------------------------------------------------
# gather: a table of the configurations NumPy-style indexing produces

# name -> (operand shape, index batch shape + (k,), index bound axis sizes, dnums, slice_sizes)
GATHER_CASES = {
    # x[idx] on axis 0
    "axis0": ((5, 3), (4, 1), GDN((1,), (0,), (0,)), (1, 3)),
    # x[:, idx] on axis 1
    "axis1": ((3, 5), (4, 1), GDN((0,), (1,), (1,)), (3, 1)),
    # x[i, j] with two index arrays
    "multi_axis": ((4, 5, 2), (3, 2), GDN((1,), (0, 1), (0, 1)), (1, 1, 2)),
    # x[idx] with a 2-D index array
    "batched": ((5, 3), (2, 3, 1), GDN((2,), (0,), (0,)), (1, 3)),
    # take_along_axis(x, idx, axis=1): batching axes pair rows of x and of idx
    "take_along_axis": ((3, 4), (3, 2, 1), GDN((), (1,), (1,), (0,), (0,)), (1, 1)),
    # blocks larger than one element, no collapsed axes
    "windows": ((6, 5), (2, 2), GDN((1, 2), (), (0, 1)), (2, 3)),
    # index vector components in a different order than the operand axes
    "permuted_map": ((4, 5), (3, 2), GDN((), (0, 1), (1, 0)), (1, 1)),
    # offset axis before the batch axis
    "offset_first": ((5, 3), (4, 1), GDN((0,), (0,), (0,)), (1, 3)),
    # empty index vectors: every block starts at 0
    "empty_vector": ((4,), (3, 0), GDN((1,), (), ()), (2,)),
    # rank-0 operand
    "scalar_operand": ((), (2, 0), GDN((), (), ()), ()),
}


def _indices(op_shape, idx_shape, dmap, slice_sizes, in_bounds, dtype=np.int32):
    idx = np.zeros(idx_shape, np.int64)
    for c, d in enumerate(dmap):
        hi = op_shape[d] - slice_sizes[d]
        if in_bounds:
            idx[..., c] = RNG.integers(0, hi + 1, idx_shape[:-1])
        else:
            idx[..., c] = RNG.integers(-3, hi + 4, idx_shape[:-1])
    if not in_bounds and idx.size:  # make sure something is out of bounds
        idx.reshape(-1)[0] = -1
    return idx.astype(dtype)


@pytest.mark.parametrize("case", sorted(GATHER_CASES))
@pytest.mark.parametrize("mode", [None, "clip", "fill", "promise_in_bounds"])
def test_gather_table_against_jax(case, mode):
    op_shape, idx_shape, dn, sizes = GATHER_CASES[case]
    x = values(op_shape, F32)
    for in_bounds in (True, False):
        if not in_bounds and mode in (None, "promise_in_bounds"):
            continue  # out-of-bounds behaviour is only promised for clip and fill
        idx = _indices(op_shape, idx_shape, dn.start_index_map, sizes, in_bounds)
        ours = lax.gather(x, idx, dn, sizes, mode=mode)
        ref = jax.lax.gather(x, idx, jax_gdn(dn), sizes, mode=mode)
        assert_same(ours, ref)


def test_gather_in_bounds_matches_numpy_indexing():
    x = values((5, 3), F32)
    idx = np.array([[4, 0], [2, 2]], np.int32)
    assert_same(lax.gather(x, idx[..., None], GDN((2,), (0,), (0,)), (1, 3)), x[idx])
    assert_same(lax.gather(x.T, idx[..., None], GDN((0,), (1,), (1,)), (3, 1)), x.T[:, idx])
    ii, jj = np.array([0, 4, 2], np.int32), np.array([2, 0, 1], np.int32)
    assert_same(lax.gather(x, np.stack([ii, jj], -1), GDN((), (0, 1), (0, 1)), (1, 1)),
                x[ii, jj])
    along = np.array([[0, 2], [1, 1], [2, 0], [0, 0], [1, 2]], np.int32)
    assert_same(lax.gather(x, along[..., None], GDN((), (1,), (1,), (0,), (0,)), (1, 1)),
                np.take_along_axis(x, along, axis=1))


@pytest.mark.parametrize("dtype", [F32, F16, BF16, I32, U8, BOOL, np.dtype(np.int8)])
def test_gather_fill_default_and_custom(dtype):
    x = values((4, 2), dtype)
    idx = np.array([[3], [4], [-1], [1]], np.int32)
    dn = GDN((1,), (0,), (0,))
    ours = lax.gather(x, idx, dn, (1, 2), mode="fill")
    assert_same(ours, jax.lax.gather(x, idx, jax_gdn(dn), (1, 2), mode="fill"))
    fill = True if dtype == BOOL else 2
    ours = lax.gather(x, idx, dn, (1, 2), mode=GatherScatterMode.FILL_OR_DROP,
                      fill_value=fill)
    assert_same(ours, jax.lax.gather(x, idx, jax_gdn(dn), (1, 2), mode="fill",
                                     fill_value=fill))


@pytest.mark.parametrize("idx_dtype", [np.int8, np.uint8, np.int16, np.uint32])
def test_gather_index_dtypes(idx_dtype):
    x = values((6, 2), F32)
    idx = np.array([[0], [5], [7], [200]]).astype(idx_dtype)
    dn = GDN((1,), (0,), (0,))
    for mode in ("clip", "fill"):
        assert_same(lax.gather(x, idx, dn, (1, 2), mode=mode),
                    jax.lax.gather(x, idx, jax_gdn(dn), (1, 2), mode=mode))


def test_gather_block_partly_out_of_bounds_is_filled_whole():
    x = np.arange(6, dtype=np.float32)
    idx = np.array([[0], [3], [4], [5]], np.int32)
    dn = GDN((1,), (), (0,))
    out = np.asarray(lax.gather(x, idx, dn, (3,), mode="fill"))
    np.testing.assert_array_equal(out[:2], [[0, 1, 2], [3, 4, 5]])
    assert np.isnan(out[2:]).all()
    np.testing.assert_array_equal(np.asarray(lax.gather(x, idx, dn, (3,), mode="clip")),
                                  [[0, 1, 2], [3, 4, 5], [3, 4, 5], [3, 4, 5]])


def test_gather_empty():
    x = values((5, 3), F32)
    dn = GDN((1,), (0,), (0,))
    for mode in (None, "fill"):
        out = lax.gather(x, np.zeros((0, 1), np.int32), dn, (1, 3), mode=mode)
        assert_same(out, np.zeros((0, 3), np.float32))
    out = lax.gather(x, np.zeros((2, 1), np.int32), GDN((1,), (0,), (0,)), (1, 0))
    assert_same(out, np.zeros((2, 0), np.float32))
    # with no blocks, slice sizes may exceed the (empty) operand
    out = lax.gather(np.zeros((0, 3), np.float32), np.zeros((0, 1), np.int32), dn, (1, 3))
    assert_same(out, np.zeros((0, 3), np.float32))


@st.composite
def take_cases(draw):
    """``x[idx]`` on axis 0: operand (n, *rest), indices (*batch, 1)."""
    n = draw(st.integers(1, 5))
    rest = tuple(draw(st.lists(st.integers(0, 3), max_size=2)))
    batch = tuple(draw(st.lists(st.integers(0, 3), max_size=2)))
    in_bounds = draw(st.booleans())
    lo, hi = (0, n - 1) if in_bounds else (-n - 2, n + 2)
    idx = np.array(draw(st.lists(st.integers(lo, hi), min_size=int(np.prod(batch)),
                                 max_size=int(np.prod(batch)))), np.int32).reshape(batch + (1,))
    mode = draw(st.sampled_from(["clip", "fill"] + ([None] if in_bounds else [])))
    dtype = draw(st.sampled_from([F32, I32, BOOL]))
    return values((n,) + rest, dtype), idx, mode, in_bounds


@settings(max_examples=15)
@given(take_cases())
def test_gather_take_hypothesis(case):
    x, idx, mode, in_bounds = case
    rest = x.shape[1:]
    dn = GDN(tuple(range(idx.ndim - 1, idx.ndim - 1 + len(rest))), (0,), (0,))
    sizes = (1,) + rest
    ours = lax.gather(x, idx, dn, sizes, mode=mode)
    assert_same(ours, jax.lax.gather(x, idx, jax_gdn(dn), sizes, mode=mode))
    if in_bounds:
        assert_same(ours, x[idx[..., 0]])


def test_gather_weak_type_and_params():
    w = ShapedArray((5, 3), F32, weak_type=True)
    i = ShapedArray((4, 1), I32)
    params = dict(dimension_numbers=GDN((1,), (0,), (0,)), slice_sizes=(1, 3),
                  indices_are_sorted=False, unique_indices=False,
                  mode=GatherScatterMode.CLIP, fill_value=None)
    out, = ix.gather_p.abstract_eval(w, i, **params)
    assert out == ShapedArray((4, 3), F32, weak_type=True)
    out, = ix.gather_p.abstract_eval(w.strip_weak_type(), i, **params)
    assert not out.weak_type
    hash(tuple(params.items()))


def test_gather_params_are_normalized():
    seen = []

    def f(x, i):
        seen.append(lax.gather(x, i, GDN([1], [0], [0]), [1, 3], mode="fill"))
        seen.append(lax.gather(x, i, GDN((1,), (0,), (0,)), (1, 3),
                               mode=GatherScatterMode.FILL_OR_DROP, fill_value=float("nan")))
        return seen

    prog = trace_to_program(f, [ShapedArray((5, 3), F32), ShapedArray((4, 1), I32)])
    p0, p1 = (e.params for e in prog.eqns)
    assert tuple(p0.items()) == tuple(p1.items())  # one compile-cache entry
    assert p0["dimension_numbers"] == GDN((1,), (0,), (0,))
    assert type(p0["dimension_numbers"].offset_dims) is tuple


def test_gather_errors():
    x = np.zeros((5, 3), np.float32)
    i = np.zeros((4, 1), np.int32)
    with pytest.raises(TypeError, match="offset_dims must be sorted"):
        lax.gather(x, np.zeros((4, 2), np.int32), GDN((1, 0), (), (0, 1)), (1, 1))
    with pytest.raises(TypeError, match=r"offset_dims \(2,\) names axis 2, out of range .* "
                                        "output of rank 2"):
        lax.gather(x, i, GDN((2,), (0,), (0,)), (1, 3))
    with pytest.raises(TypeError, match="start_index_map .* has 2 entries .* have 1"):
        lax.gather(x, i, GDN((1,), (0,), (0, 1)), (1, 3))
    with pytest.raises(TypeError, match="collapsed axis 0 must have slice size 1"):
        lax.gather(x, i, GDN((1,), (0,), (0,)), (2, 3))
    with pytest.raises(TypeError, match=r"slice size 4 on axis 1 must be in \[0, 3\]"):
        lax.gather(x, i, GDN((1,), (0,), (0,)), (1, 4))
    with pytest.raises(TypeError, match="slice_sizes .* one entry per axis"):
        lax.gather(x, i, GDN((1,), (0,), (0,)), (1,))
    with pytest.raises(TypeError, match="exactly one of an offset axis"):
        lax.gather(x, i, GDN((1,), (), (0,)), (1, 3))
    with pytest.raises(TypeError, match="start_indices must have an integer dtype, got f32"):
        lax.gather(x, i.astype(np.float32), GDN((1,), (0,), (0,)), (1, 3))
    with pytest.raises(TypeError, match="rank >= 1"):
        lax.gather(x, np.int32(0), GDN((1,), (0,), (0,)), (1, 3))
    with pytest.raises(TypeError, match="rank >= 1"):
        lax.gather(x, 0, GDN((1,), (0,), (0,)), (1, 3))
    with pytest.raises(TypeError, match="collapsed_slice_dims .* and operand_batching_dims"):
        lax.gather(x, np.zeros((5, 1), np.int32), GDN((), (0, 1), (1,), (0,), (0,)), (1, 1))
    with pytest.raises(TypeError, match=r"operand batching axes have sizes \(5,\) but .* "
                                        r"\(4,\)"):
        lax.gather(x, i, GDN((), (1,), (1,), (0,), (0,)), (1, 1))
    with pytest.raises(TypeError, match="must not repeat"):
        lax.gather(x, np.zeros((4, 2), np.int32), GDN((), (0, 1), (0, 0)), (1, 1))
    with pytest.raises(TypeError, match="dimension_numbers must be a GatherDimensionNumbers"):
        lax.gather(x, i, ((1,), (0,), (0,)), (1, 3))
    with pytest.raises(ValueError, match="unknown gather/scatter mode 'wrap'"):
        lax.gather(x, i, GDN((1,), (0,), (0,)), (1, 3), mode="wrap")
    with pytest.raises(TypeError, match="fill_value"):
        lax.gather(x, i, GDN((1,), (0,), (0,)), (1, 3), mode="fill", fill_value="a")


# ---------------------------------------------------------------------------------------
# scatter

# name -> (operand shape, indices shape, updates shape, dnums)
SCATTER_CASES = {
    "axis0": ((5, 3), (4, 1), (4, 3), SDN((1,), (0,), (0,))),
    "axis1": ((3, 5), (4, 1), (3, 4), SDN((0,), (1,), (1,))),
    "multi_axis": ((4, 5, 2), (3, 2), (3, 2), SDN((1,), (0, 1), (0, 1))),
    "batched": ((5, 3), (2, 3, 1), (2, 3, 3), SDN((2,), (0,), (0,))),
    "put_along_axis": ((3, 4), (3, 2, 1), (3, 2), SDN((), (1,), (1,), (0,), (0,))),
    "windows": ((6, 5), (2, 2), (2, 2, 3), SDN((1, 2), (), (0, 1))),
    "scalar_updates": ((6,), (5, 1), (5,), SDN((), (0,), (0,))),
}

_SCATTERS = {"scatter": jax.lax.scatter, "scatter_add": jax.lax.scatter_add,
             "scatter_mul": jax.lax.scatter_mul, "scatter_min": jax.lax.scatter_min,
             "scatter_max": jax.lax.scatter_max}


def _scatter_window(op_shape, upd_shape, dn):
    window = iter(dn.update_window_dims)
    return [1 if d in dn.inserted_window_dims or d in dn.operand_batching_dims
            else upd_shape[next(window)] for d in range(len(op_shape))]


def _unique_rows(idx):
    """Distinct index vectors (plain scatter with repeats has no defined winner)."""
    flat = idx.reshape(-1, idx.shape[-1])
    _, first = np.unique(flat, axis=0, return_index=True)
    return len(first) == len(flat)


# every configuration for scatter and scatter_add; the other combiners share their lowering
_SCATTER_TABLE = ([(c, op) for c in sorted(SCATTER_CASES) for op in ("scatter", "scatter_add")]
                  + [(c, op) for c in ("axis0", "put_along_axis")
                     for op in ("scatter_mul", "scatter_min", "scatter_max")])


@pytest.mark.parametrize("case,op", _SCATTER_TABLE)
def test_scatter_table_against_jax(case, op):
    op_shape, idx_shape, upd_shape, dn = SCATTER_CASES[case]
    window = _scatter_window(op_shape, upd_shape, dn)
    x = values(op_shape, I32 if op == "scatter_mul" else F32)
    u = values(upd_shape, x.dtype)
    # PROMISE_IN_BOUNDS lowers exactly as FILL_OR_DROP; one case checks it
    modes = ("drop", "clip") + (("promise_in_bounds",) if case == "axis0" else ())
    for mode in modes:
        for in_bounds in (True, False):
            if not in_bounds and mode == "promise_in_bounds":
                continue
            for _ in range(20):
                idx = _indices(op_shape, idx_shape, dn.scatter_dims_to_operand_dims, window,
                               in_bounds)
                if dn.operand_batching_dims:  # a row of the batch never repeats
                    break
                clipped = idx if mode != "clip" else np.clip(
                    idx, 0, [op_shape[d] - window[d] for d in dn.scatter_dims_to_operand_dims])
                if op != "scatter" or _unique_rows(clipped):
                    break
            else:
                continue
            ours = getattr(lax, op)(x, idx, u, dn, mode=mode)
            ref = _SCATTERS[op](x, idx, u, jax_sdn(dn), mode=mode)
            assert_same(ours, ref)


def test_scatter_drops_whole_out_of_bounds_windows():
    x = np.zeros(6, np.float32)
    dn = SDN((1,), (), (0,))
    idx = np.array([[0], [4], [-1]], np.int32)
    u = np.ones((3, 3), np.float32)
    np.testing.assert_array_equal(np.asarray(lax.scatter_add(x, idx, u, dn)),
                                  [1, 1, 1, 0, 0, 0])
    np.testing.assert_array_equal(np.asarray(lax.scatter_add(x, idx, u, dn, mode="clip")),
                                  [2, 2, 2, 1, 1, 1])


def test_scatter_matches_numpy_at():
    x = values((5, 3), F32)
    idx = np.array([3, 0, 3, 1], np.int32)
    u = values((4, 3), F32)
    dn = SDN((1,), (0,), (0,))
    for op, ufunc in (("scatter_add", np.add), ("scatter_mul", np.multiply),
                      ("scatter_min", np.minimum), ("scatter_max", np.maximum)):
        expected = x.copy()
        ufunc.at(expected, idx, u)
        assert_same(getattr(lax, op)(x, idx[:, None], u, dn), expected)
    expected = x.copy()
    expected[idx[:2]] = u[:2]
    assert_same(lax.scatter(x, idx[:2, None], u[:2], dn), expected)


@pytest.mark.parametrize("dtype,op", [(BF16, "scatter_add"), (BF16, "scatter_max"),
                                      (F16, "scatter_mul"), (U8, "scatter_add"),
                                      (U8, "scatter_min"), (BOOL, "scatter"),
                                      (BOOL, "scatter_min"), (BOOL, "scatter_max")])
def test_scatter_dtypes(dtype, op):
    x = values((5, 2), dtype)
    u = values((3, 2), dtype)
    idx = np.array([[4], [0], [9]], np.int32)
    dn = SDN((1,), (0,), (0,))
    assert_same(getattr(lax, op)(x, idx, u, dn), _SCATTERS[op](x, idx, u, jax_sdn(dn)))


@st.composite
def put_cases(draw):
    """``x.at[idx].add(u)`` on axis 0."""
    n = draw(st.integers(1, 5))
    rest = tuple(draw(st.lists(st.integers(0, 3), max_size=2)))
    batch = tuple(draw(st.lists(st.integers(0, 3), max_size=2)))
    size = int(np.prod(batch))
    idx = np.array(draw(st.lists(st.integers(-n - 2, n + 2), min_size=size, max_size=size)),
                   np.int32).reshape(batch + (1,))
    mode = draw(st.sampled_from([None, "clip"]))
    dtype = draw(st.sampled_from([F32, I32]))
    return values((n,) + rest, dtype), idx, values(batch + rest, dtype), mode


@settings(max_examples=15)
@given(put_cases())
def test_scatter_add_hypothesis(case):
    x, idx, u, mode = case
    nb = idx.ndim - 1
    dn = SDN(tuple(range(nb, u.ndim)), (0,), (0,))
    ours = lax.scatter_add(x, idx, u, dn, mode=mode)
    assert_same(ours, jax.lax.scatter_add(x, idx, u, jax_sdn(dn), mode=mode))
    expected = x.copy()
    flat = idx.reshape(-1)
    keep = (flat >= 0) & (flat < x.shape[0]) if mode is None else np.ones_like(flat, bool)
    np.add.at(expected, np.clip(flat, 0, x.shape[0] - 1)[keep],
              u.reshape((flat.size,) + x.shape[1:])[keep])
    assert_same(ours, expected)


def test_scatter_empty_and_scalar_updates():
    x = values((5, 3), F32)
    dn = SDN((1,), (0,), (0,))
    assert_same(lax.scatter_add(x, np.zeros((0, 1), np.int32), np.zeros((0, 3), np.float32),
                                dn), x)
    y = values((5,), F32)
    out = lax.scatter(y, np.array([2], np.int32), 7.0, SDN((), (0,), (0,)))
    expected = y.copy()
    expected[2] = 7
    assert_same(out, expected)


def test_scatter_weak_type():
    w = ShapedArray((5, 3), F32, weak_type=True)
    params = dict(dimension_numbers=SDN((1,), (0,), (0,)), indices_are_sorted=False,
                  unique_indices=False, mode=GatherScatterMode.FILL_OR_DROP)
    for p in (ix.scatter_p, ix.scatter_add_p, ix.scatter_max_p):
        out, = p.abstract_eval(w, ShapedArray((4, 1), I32), w.update(shape=(4, 3),
                                                                    weak_type=False), **params)
        assert out == w


def test_scatter_errors():
    x = np.zeros((5, 3), np.float32)
    i = np.zeros((4, 1), np.int32)
    u = np.zeros((4, 3), np.float32)
    dn = SDN((1,), (0,), (0,))
    with pytest.raises(TypeError, match=r"updates of shape \(4,\) must have rank 2"):
        lax.scatter(x, i, u[:, 0], dn)
    with pytest.raises(TypeError, match="updates window axis 1 has size 4, larger than "
                                        "operand axis 1 of size 3"):
        lax.scatter(x, i, np.zeros((4, 4), np.float32), dn)
    with pytest.raises(TypeError, match=r"non-window axes \(0,\) .* sizes \(2,\)"):
        lax.scatter(x, i, u[:2], dn)
    with pytest.raises(TypeError, match="scatter_add requires operand and updates of the same "
                                        "dtype, got f32 and i32"):
        lax.scatter_add(x, i, u.astype(np.int32), dn)
    with pytest.raises(TypeError, match="scatter_add does not accept dtype bool"):
        lax.scatter_add(x > 0, i, u > 0, dn)
    with pytest.raises(TypeError, match="scatter_indices must have an integer dtype"):
        lax.scatter(x, i.astype(np.float32), u, dn)
    with pytest.raises(TypeError, match="scatter_dims_to_operand_dims .* has 2 entries"):
        lax.scatter(x, i, u, SDN((1,), (0,), (0, 1)))
    with pytest.raises(TypeError, match="inserted_window_dims must be sorted"):
        lax.scatter(x, np.zeros((4, 2), np.int32), np.zeros((4,), np.float32),
                    SDN((), (1, 0), (0, 1)))
    with pytest.raises(TypeError, match="exactly one of a window axis"):
        lax.scatter(x, i, u, SDN((1,), (), (0,)))
    with pytest.raises(TypeError, match=r"scatter_dims_to_operand_dims \(2,\) names axis 2"):
        lax.scatter(x, i, u, SDN((1,), (0,), (2,)))
    with pytest.raises(TypeError, match="unique_indices must be a bool"):
        lax.scatter(x, i, u, dn, unique_indices=None)


# ---------------------------------------------------------------------------------------
# staging

def _stage(fn, avals):
    prog = trace_to_program(fn, avals)
    typecheck(prog.program)
    return prog


def test_staging_each_primitive():
    f32_53, i32_41 = ShapedArray((5, 3), F32), ShapedArray((4, 1), I32)
    i32 = ShapedArray((), I32)
    gdn, sdn = GDN((1,), (0,), (0,)), SDN((1,), (0,), (0,))
    prog = _stage(lambda x, i: [lax.dynamic_slice(x, (i, 1), (2, 2))], [f32_53, i32])
    text = str(prog)
    assert "dynamic_slice[slice_sizes=(2,2)]" in text and "1:i32[]" in text
    assert "select_n" in text  # a traced index is wrapped when negative
    prog = _stage(lambda x, u: [lax.dynamic_update_slice(x, u, (0, 1))],
                  [f32_53, ShapedArray((2, 2), F32)])
    assert "dynamic_update_slice" in str(prog)
    prog = _stage(lambda x, i: [lax.gather(x, i, gdn, (1, 3), mode="fill")], [f32_53, i32_41])
    assert "gather[" in str(prog) and prog.out_avals == [ShapedArray((4, 3), F32)]
    for name in ("scatter", "scatter_add", "scatter_mul", "scatter_min", "scatter_max"):
        prog = _stage(lambda x, i, u: [getattr(lax, name)(x, i, u, sdn)],
                      [f32_53, i32_41, ShapedArray((4, 3), F32)])
        assert f"= {name}[" in str(prog)
    # a staged program runs and matches eager evaluation
    x = values((5, 3), F32)
    idx = np.array([[1], [7], [0], [4]], np.int32)
    prog = _stage(lambda x, i: [lax.gather(x, i, gdn, (1, 3), mode="clip")], [f32_53, i32_41])
    assert_same(prog(x, idx)[0], lax.gather(x, idx, gdn, (1, 3), mode="clip"))


def test_compiled_program_with_regions():
    """Scatter's combiner and the fill mask's reduce are regions: their block arguments
    must not clash with the module's own arguments."""
    gdn, sdn = GDN((1,), (0,), (0,)), SDN((1,), (0,), (0,))

    def f(x, i, u, j):
        g = lax.gather(x, i, gdn, (1, 3), mode="fill")
        s = lax.scatter_add(x, i, u, sdn, mode="clip")
        return [g, s, lax.dynamic_slice(x, (j, 0), (2, 3))]

    avals = [ShapedArray((5, 3), F32), ShapedArray((4, 1), I32), ShapedArray((4, 3), F32),
             ShapedArray((), I32)]
    prog = _stage(f, avals)
    exe = compile_program(prog.program)
    args = [values((5, 3), F32), np.array([[1], [7], [-1], [4]], np.int32),
            values((4, 3), F32), np.array(-1, np.int32)]
    outs = exe.execute([xla_bridge.from_numpy(a).buffer for a in args])
    for buf, aval, expected in zip(outs, exe.out_avals, f(*args)):
        assert_same(xla_bridge.Array(buf, aval), expected)


def test_exports():
    for name in ("GatherDimensionNumbers", "ScatterDimensionNumbers", "GatherScatterMode",
                 "dynamic_slice", "dynamic_update_slice", "dynamic_slice_in_dim",
                 "dynamic_index_in_dim", "dynamic_update_slice_in_dim",
                 "dynamic_update_index_in_dim", "gather", "scatter", "scatter_add",
                 "scatter_mul", "scatter_min", "scatter_max"):
        assert name in ix.__all__ and hasattr(lax, name)
    assert GatherScatterMode.from_any("drop") is GatherScatterMode.FILL_OR_DROP
    assert GatherScatterMode.from_any(None) is GatherScatterMode.FILL_OR_DROP
    assert GatherScatterMode.from_any("clip") is GatherScatterMode.CLIP
    hash(GDN((1,), (0,), (0,)))
    hash(SDN((1,), (0,), (0,)))
