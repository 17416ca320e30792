"""Reductions, argmax/argmin and cumulative ops against NumPy and jax.lax."""
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
from functorch_lite.lax import reductions as red
from xla_bridge.compile import compile_program

BF16 = np.dtype(ml_dtypes.bfloat16)
F32, I32, BOOL = np.dtype(np.float32), np.dtype(np.int32), np.dtype(np.bool_)

# Floats are drawn from values whose sums and products are exact in every float type
# (small multiples of powers of two), so results can be compared exactly.
_FLOATS = [-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0]
_SPECIALS = [np.nan, np.inf, -np.inf, -0.0]


@st.composite
def arrays(draw, dtypes, min_rank=0, max_rank=3, max_dim=3, specials=False, min_dim=0):
    dtype = np.dtype(draw(st.sampled_from(dtypes)))
    shape = tuple(draw(st.lists(st.integers(min_dim, max_dim), min_size=min_rank,
                                max_size=max_rank)))
    size = int(np.prod(shape))
    if dtype == BOOL:
        vals = draw(st.lists(st.booleans(), min_size=size, max_size=size))
    elif dtype.kind in "iu":
        vals = draw(st.lists(st.integers(-3, 3), min_size=size, max_size=size))
    else:
        pool = _FLOATS + (_SPECIALS if specials else [])
        vals = draw(st.lists(st.sampled_from(pool), min_size=size, max_size=size))
    work = np.float64 if dtype == BF16 else dtype
    return np.array(vals, dtype=work).reshape(shape).astype(dtype)


def _axes(draw, ndim):
    """A random subset of the axes, each given as positive or negative."""
    axes = draw(st.lists(st.integers(0, ndim - 1), unique=True, max_size=ndim)) if ndim else []
    return tuple(a - ndim if draw(st.booleans()) else a for a in axes)


def _np_reduce(kind, x, axes):
    axes = tuple(a % x.ndim for a in axes)
    work = x.astype(np.float32) if x.dtype == BF16 else x
    if kind == "sum":
        out = np.add.reduce(work, axis=axes, dtype=work.dtype)
    elif kind == "prod":
        out = np.multiply.reduce(work, axis=axes, dtype=work.dtype)
    elif kind in ("max", "min"):
        if work.dtype == BOOL:
            ufunc = np.logical_or if kind == "max" else np.logical_and
            out = ufunc.reduce(work, axis=axes)
        else:
            ufunc = np.maximum if kind == "max" else np.minimum
            init = (-np.inf if kind == "max" else np.inf) if work.dtype.kind == "f" else (
                np.iinfo(work.dtype).min if kind == "max" else np.iinfo(work.dtype).max)
            out = ufunc.reduce(work, axis=axes, initial=init)
    elif kind == "and":
        out = (np.logical_and if work.dtype == BOOL else np.bitwise_and).reduce(work, axis=axes)
    else:
        out = (np.logical_or if work.dtype == BOOL else np.bitwise_or).reduce(work, axis=axes)
    return np.asarray(out).astype(x.dtype)


_REDUCE = {"sum": (lax.reduce_sum, [F32, I32, BF16]),
           "prod": (lax.reduce_prod, [F32, I32, BF16]),
           "max": (lax.reduce_max, [F32, I32, BOOL, BF16]),
           "min": (lax.reduce_min, [F32, I32, BOOL, BF16]),
           "and": (lax.reduce_and, [BOOL, I32]),
           "or": (lax.reduce_or, [BOOL, I32])}


@settings(max_examples=60)
@given(st.data())
def test_reduce_matches_numpy(data):
    kind = data.draw(st.sampled_from(sorted(_REDUCE)))
    fn, dts = _REDUCE[kind]
    x = data.draw(arrays(dts, specials=kind in ("max", "min")))
    axes = _axes(data.draw, x.ndim)
    out = fn(x, axes)
    expected = _np_reduce(kind, x, axes)
    assert out.dtype == x.dtype and not out.weak_type
    assert out.shape == expected.shape
    np.testing.assert_array_equal(np.asarray(out).astype(np.float64 if x.dtype == BF16
                                                         else x.dtype),
                                  expected.astype(np.float64 if x.dtype == BF16 else x.dtype))


def test_reduce_empty_axes_give_identity():
    f = np.zeros((2, 0), np.float32)
    i = np.zeros((0, 3), np.int32)
    b = np.zeros((0,), np.bool_)
    np.testing.assert_array_equal(lax.reduce_sum(f, (1,)), [0, 0])
    np.testing.assert_array_equal(lax.reduce_prod(f, (1,)), [1, 1])
    np.testing.assert_array_equal(lax.reduce_max(f, (1,)), [-np.inf, -np.inf])
    np.testing.assert_array_equal(lax.reduce_min(f, (1,)), [np.inf, np.inf])
    np.testing.assert_array_equal(lax.reduce_max(i, (0,)), [np.iinfo(np.int32).min] * 3)
    np.testing.assert_array_equal(lax.reduce_min(i, (0,)), [np.iinfo(np.int32).max] * 3)
    assert not bool(np.asarray(lax.reduce_max(b, (0,))))
    assert bool(np.asarray(lax.reduce_min(b, (0,))))
    assert bool(np.asarray(lax.reduce_and(b, (0,))))
    assert int(np.asarray(lax.reduce_and(np.zeros(0, np.uint8), (0,)))) == 255
    assert int(np.asarray(lax.reduce_and(i, (0, 1)))) == -1
    assert int(np.asarray(lax.reduce_or(i, (0, 1)))) == 0
    # and the same as jax.lax
    np.testing.assert_array_equal(lax.reduce_max(i, (0,)), jax.lax.reduce_max(i, (0,)))


def test_reduce_more_dtypes():
    x = np.array([[1.5, -2.0], [3.0, 0.25]], np.float16)
    np.testing.assert_allclose(np.asarray(lax.reduce_sum(x, (0, 1))), 2.75)
    c = np.array([1 + 2j, 3 - 1j], np.complex64)
    np.testing.assert_allclose(np.asarray(lax.reduce_sum(c, (0,))), 4 + 1j)
    np.testing.assert_allclose(np.asarray(lax.reduce_prod(c, (0,))), (1 + 2j) * (3 - 1j))
    u = np.array([5, 3, 250], np.uint8)
    assert np.asarray(lax.reduce_max(u, (0,))) == 250
    assert np.asarray(lax.reduce_or(u, (0,))) == 5 | 3 | 250
    assert np.asarray(lax.reduce_and(u, (0,))) == 5 & 3 & 250


def test_reduce_weak_types_follow_jax():
    w = xla_bridge.from_numpy(np.arange(3, dtype=np.int32), weak_type=True)
    for fn in (lax.reduce_sum, lax.reduce_prod, lax.reduce_max, lax.reduce_min):
        assert fn(w, (0,)).weak_type
    for fn in (lax.reduce_and, lax.reduce_or):  # jax strips the weak type here
        assert not fn(w, (0,)).weak_type
    assert not lax.argmax(w, 0, np.int32).weak_type
    assert lax.cumsum(w).weak_type and lax.cummax(w).weak_type
    s = lax.reduce_sum(2.5, ())  # a Python scalar is a weak rank-0 array
    assert s.weak_type and s.dtype == F32 and float(np.asarray(s)) == 2.5


@settings(max_examples=40)
@given(st.data())
def test_argminmax_matches_numpy(data):
    x = data.draw(arrays([F32, I32, BOOL, BF16], min_rank=1, min_dim=1, specials=True))
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    ref = x.astype(np.float32) if x.dtype == BF16 else x
    for fn, np_fn in ((lax.argmax, np.argmax), (lax.argmin, np.argmin)):
        out = fn(x, axis, np.int32)
        assert out.dtype == I32 and not out.weak_type
        # NumPy, like jax.lax, returns the first NaN for both argmax and argmin.
        np.testing.assert_array_equal(out, np_fn(ref, axis=axis))


def test_argminmax_nan_and_ties_match_jax():
    x = np.array([[1.0, np.nan, 3.0, np.nan, 3.0],
                  [3.0, 3.0, -np.inf, -np.inf, 0.0],
                  [-0.0, 0.0, 0.0, -0.0, -1.0],
                  [np.inf, np.inf, np.nan, 1.0, -np.inf]], np.float32)
    for ours, theirs in ((lax.argmax, jax.lax.argmax), (lax.argmin, jax.lax.argmin)):
        for axis in (0, 1):
            np.testing.assert_array_equal(ours(x, axis, np.int32),
                                          theirs(x, axis, np.int32))
    i = np.array([[2, 7, 7, -1], [-5, -5, 0, 3]], np.int32)
    np.testing.assert_array_equal(lax.argmax(i, 1, np.int32), [1, 3])
    np.testing.assert_array_equal(lax.argmin(i, -1, np.int32), [3, 0])


def test_argmax_index_dtypes():
    x = np.array([3.0, 9.0, 1.0], np.float32)
    for dt in (np.int8, np.uint8, np.int16, np.int32, np.int64):
        out = lax.argmax(x, 0, dt)
        assert out.dtype == np.dtype(dt if dt is not np.int64 else np.int32)
        assert int(np.asarray(out)) == 1


def _np_cumulative(kind, x, axis, reverse):
    work = x.astype(np.float32) if x.dtype == BF16 else x
    if reverse:
        work = np.flip(work, axis)
    ufunc = {"sum": np.add, "prod": np.multiply, "max": np.maximum, "min": np.minimum}[kind]
    out = ufunc.accumulate(work, axis=axis, dtype=work.dtype)
    if reverse:
        out = np.flip(out, axis)
    return out.astype(x.dtype)


_CUMULATIVE = {"sum": (lax.cumsum, [F32, I32, BF16]), "prod": (lax.cumprod, [F32, I32, BF16]),
               "max": (lax.cummax, [F32, I32, BF16]), "min": (lax.cummin, [F32, I32, BF16])}


@settings(max_examples=50)
@given(st.data())
def test_cumulative_matches_numpy(data):
    kind = data.draw(st.sampled_from(sorted(_CUMULATIVE)))
    fn, dts = _CUMULATIVE[kind]
    x = data.draw(arrays(dts, min_rank=1, max_dim=4, specials=kind in ("max", "min")))
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    reverse = data.draw(st.booleans())
    out = fn(x, axis=axis, reverse=reverse)
    assert out.dtype == x.dtype and out.shape == x.shape and not out.weak_type
    wide = np.float64 if x.dtype == BF16 else x.dtype
    np.testing.assert_array_equal(np.asarray(out).astype(wide),
                                  _np_cumulative(kind, x, axis % x.ndim, reverse).astype(wide))


def test_cumulative_nan_matches_jax():
    x = np.array([[1.0, np.nan, 3.0, -np.inf], [np.inf, 2.0, np.nan, 0.0]], np.float32)
    for ours, theirs in ((lax.cummax, jax.lax.cummax), (lax.cummin, jax.lax.cummin),
                         (lax.cumsum, jax.lax.cumsum), (lax.cumprod, jax.lax.cumprod)):
        for axis in (0, 1):
            for reverse in (False, True):
                np.testing.assert_array_equal(ours(x, axis, reverse),
                                              theirs(x, axis, reverse))


def test_cumulative_defaults_and_scalars():
    x = np.arange(1, 5, dtype=np.int32)
    np.testing.assert_array_equal(lax.cumsum(x), [1, 3, 6, 10])
    np.testing.assert_array_equal(lax.cumprod(x, reverse=True), [24, 24, 12, 4])
    c = np.array([1 + 1j, 2 - 1j], np.complex64)
    np.testing.assert_allclose(np.asarray(lax.cumsum(c)), np.cumsum(c))


# ---------------------------------------------------------------------------------------
# errors

def test_reduction_errors():
    x = np.zeros((2, 3), np.float32)
    with pytest.raises(TypeError, match="reduce_sum does not accept dtype bool"):
        lax.reduce_sum(np.zeros(3, np.bool_), (0,))
    with pytest.raises(TypeError, match="reduce_and does not accept dtype f32"):
        lax.reduce_and(x, (0,))
    with pytest.raises(TypeError, match="reduce_max does not accept dtype c64"):
        lax.reduce_max(np.zeros(2, np.complex64), (0,))
    with pytest.raises(ValueError, match="reduce_sum: axis 2 is out of bounds for an array "
                                         "of rank 2"):
        lax.reduce_sum(x, (2,))
    with pytest.raises(ValueError, match="reduce_min: axis -3 is out of bounds"):
        lax.reduce_min(x, (-3,))
    with pytest.raises(ValueError, match="reduce_max: axis 0 is out of bounds for an array "
                                         "of rank 0"):
        lax.reduce_max(np.float32(1), (0,))
    with pytest.raises(ValueError, match="reduce_sum: repeated axis"):
        lax.reduce_sum(x, (1, -1))
    with pytest.raises(TypeError, match="reduce_prod: axis must be an integer"):
        lax.reduce_prod(x, (0.5,))
    with pytest.raises(TypeError, match="not a valid array"):
        lax.reduce_sum([1, 2], (0,))
    # direct binds with unnormalized params are caught by the shape rule
    with pytest.raises(ValueError, match="reduce_sum: axis -1 is out of bounds"):
        red.reduce_sum_p.bind(x, axes=(-1,))


def test_argminmax_errors():
    x = np.zeros((2, 0), np.float32)
    with pytest.raises(ValueError, match="argmax: cannot take the argmax of an empty axis: "
                                         r"axis 1 of shape \(2, 0\)"):
        lax.argmax(x, 1, np.int32)
    with pytest.raises(ValueError, match="argmin: axis 2 is out of bounds for an array of "
                                         "rank 2"):
        lax.argmin(x, 2, np.int32)
    with pytest.raises(TypeError, match="argmax: index_dtype must be an integer dtype"):
        lax.argmax(np.ones(3, np.float32), 0, np.float32)
    with pytest.raises(TypeError, match="argmax: axis must be an integer"):
        lax.argmax(np.ones(3, np.float32), (0,), np.int32)
    with pytest.raises(TypeError, match="argmin does not accept dtype c64"):
        lax.argmin(np.ones(3, np.complex64), 0, np.int32)
    with pytest.raises(ValueError, match="does not fit in index_dtype int8"):
        lax.argmax(np.ones(300, np.float32), 0, np.int8)


def test_cumulative_errors():
    with pytest.raises(TypeError, match="cumsum does not accept dtype bool"):
        lax.cumsum(np.ones(3, np.bool_))
    with pytest.raises(TypeError, match="cummax does not accept dtype c64"):
        lax.cummax(np.ones(3, np.complex64))
    with pytest.raises(ValueError, match="cumprod: axis 0 is out of bounds for an array of "
                                         "rank 0"):
        lax.cumprod(np.float32(2))
    with pytest.raises(ValueError, match="cummin: axis -3 is out of bounds for an array of "
                                         "rank 2"):
        lax.cummin(np.ones((2, 2), np.float32), axis=-3)


# ---------------------------------------------------------------------------------------
# staging

@pytest.mark.parametrize("name,fn", [
    ("reduce_sum", lambda x, i: lax.reduce_sum(x, (0, -1))),
    ("reduce_prod", lambda x, i: lax.reduce_prod(x, (1,))),
    ("reduce_max", lambda x, i: lax.reduce_max(x, (0,))),
    ("reduce_min", lambda x, i: lax.reduce_min(x, ())),
    ("reduce_and", lambda x, i: lax.reduce_and(i, (1,))),
    ("reduce_or", lambda x, i: lax.reduce_or(i, (0, 1))),
    ("argmax", lambda x, i: lax.argmax(x, -1, np.int32)),
    ("argmin", lambda x, i: lax.argmin(i, 0, np.int32)),
    ("cumsum", lambda x, i: lax.cumsum(x, axis=-1)),
    ("cumprod", lambda x, i: lax.cumprod(i, reverse=True)),
    ("cummax", lambda x, i: lax.cummax(x, 1)),
    ("cummin", lambda x, i: lax.cummin(i)),
])
def test_staged_program(name, fn):
    avals = [ShapedArray((2, 3), np.float32, weak_type=True), ShapedArray((2, 3), np.int32)]
    prog = trace_to_program(lambda x, i: [fn(x, i)], avals)
    typecheck(prog.program)
    text = str(prog)
    assert f"= {name}[" in text
    # Two inputs: the module's arguments and the regions' block arguments must not clash.
    exe = compile_program(prog.program)
    x = xla_bridge.from_numpy(np.arange(6, dtype=np.float32).reshape(2, 3))
    i = xla_bridge.from_numpy(np.arange(6, dtype=np.int32).reshape(2, 3) % 4)
    out = exe.execute([x.buffer, i.buffer])[0]
    eager = fn(x, i)
    np.testing.assert_array_equal(np.asarray(xla_bridge.Array(out, exe.out_avals[0])),
                                  np.asarray(eager))


def test_staged_params_are_normalized():
    aval = ShapedArray((2, 3, 4), np.float32)
    prog = trace_to_program(lambda x: [lax.reduce_sum(x, [-1, 0]), lax.cumsum(x, -2),
                                       lax.argmax(x, -1, np.int64)], [aval])
    eqns = prog.program.eqns
    assert eqns[0].params == {"axes": (0, 2)}
    assert eqns[1].params == {"axis": 1, "reverse": False}
    assert eqns[2].params == {"axes": (2,), "index_dtype": np.dtype(np.int32)}
    assert [v.aval for v in prog.program.outvars] == [
        ShapedArray((3,), np.float32), ShapedArray((2, 3, 4), np.float32),
        ShapedArray((2, 3), np.int32)]
