"""NumPy indexing (x[idx], x.at[idx].op(v), take, take_along_axis) against jax.numpy and
NumPy, plus the shapes.py functions built on take (repeat, pad, diagonal, diag)."""
from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, strategies as st

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite.core.avals import ShapedArray
from functorch_lite.core.ir import typecheck
from functorch_lite.interpreters.staging import trace_to_program
from functorch_lite.numpy.indexing import NonConcreteBooleanIndexError

SHAPE = (2, 3, 4)
XN = (np.arange(24, dtype=np.float32).reshape(SHAPE) - 7.5) / 3
X = fnp.asarray(XN)
XJ = jnp.asarray(XN)
B = np.array([True, False, True])

# (idx, whether it is basic: no gather expected)
GET_CASES = [
    (0, True), (-1, True), ((1, 2), True), ((1, -3, 3), True), ((), True),
    (slice(None), True), (slice(1, None), True), (slice(None, None, -1), True),
    ((slice(None), slice(None, None, 2), slice(3, 0, -2)), True),
    ((slice(None), slice(-1, None, -2)), True), ((slice(5, -9, -1),), True),
    ((slice(None), slice(2, 1)), True), ((Ellipsis, 1), True), ((0, Ellipsis), True),
    ((Ellipsis, None), True), ((None, 0, None, slice(1, 3)), True), (None, True),
    ((1, Ellipsis, None, slice(None, None, 3)), True),
    (np.array([1, 0, 1]), False), (np.array([[1], [0]]), False),
    ((slice(None), np.array([2, -1])), False),
    ((np.array([[0], [1]]), slice(None), np.array([1, 2, 3])), False),
    ((slice(None), np.array([0, 2]), np.array([1, 3])), False),       # adjacent: in place
    ((np.array([0, 1]), slice(None), np.array([1, 3])), False),       # separated: front
    ((0, slice(None), np.array([1, 3])), False),                      # int counts as advanced
    ((slice(None), 1, np.array([[0, 1], [2, 3]])), False),
    ((np.array([0, 1]), None, np.array([0, 1])), False),
    ((None, np.array([0, 1]), slice(None), 0), False),
    ((Ellipsis, np.array([0, 1]), 1), False),
    ((slice(1, None), slice(None, None, -2), np.array([3, 0])), False),
    ((np.array(1), slice(1, None)), True),                            # scalar array: dynamic
    ((slice(None), np.array(-1), slice(None, None, -1)), True),
    ((np.array([], np.int32),), None),
    (np.arange(24).reshape(SHAPE) % 3 == 0, False),
    ((slice(None), B), False), ((1, B, slice(1, 3)), False), ((B[:2], Ellipsis), False),
    ((True,), False), ((False, 0), None), ((Ellipsis, True, np.array([1, 2])), False),
    ((slice(None), [0, 2], [1, 1]), False),
]


def _id(case):
    return repr(case[0]).replace("\n", "").replace(" ", "")[:50]


@pytest.mark.parametrize("idx,basic", GET_CASES, ids=[_id(c) for c in GET_CASES])
def test_getitem_matches_jax(idx, basic):
    out = X[idx]
    expected = np.asarray(XJ[idx])
    assert out.shape == expected.shape
    assert out.dtype == np.float32
    np.testing.assert_array_equal(np.asarray(out), expected)
    if isinstance(idx, tuple) and any(isinstance(i, np.ndarray) and i.dtype == bool
                                      for i in idx):
        return
    if basic is not None:
        prog = str(fl.make_ir(lambda x: x[idx])(X))
        assert ("gather" in prog) == (not basic), prog


# Index expressions for updates; set uses only cases without repeated positions.
UPDATE_CASES = [
    1, (slice(None), -1), (slice(None), slice(None, None, -2), slice(1, 3)), (Ellipsis, None, 2),
    np.array([1, 0]), (slice(None), np.array([[2], [0]]), np.array([1, 3])),
    (np.array([0, 1]), slice(None), np.array([3, 0])), (np.array(1), slice(None, None, 2)),
    np.arange(24).reshape(SHAPE) % 5 == 0, (slice(None), B, slice(None, None, -1)), (True, 0),
]


def _values(shape, seed=0):
    return (np.random.default_rng(seed).standard_normal(shape) + 2).astype(np.float32)


@pytest.mark.parametrize("idx", UPDATE_CASES, ids=[_id((c,)) for c in UPDATE_CASES])
def test_at_set_add_match_jax(idx):
    shape = XJ[idx].shape
    v = _values(shape)
    for op in ("set", "add"):
        out = getattr(X.at[idx], op)(v)
        expected = getattr(XJ.at[idx], op)(v)
        assert out.shape == SHAPE and out.dtype == np.float32
        np.testing.assert_allclose(np.asarray(out), np.asarray(expected), rtol=1e-6)
    if not isinstance(idx, tuple) or len(idx) != 3:
        return
    # a scalar and a broadcasting row
    np.testing.assert_array_equal(np.asarray(X.at[idx].set(2.5)),
                                  np.asarray(XJ.at[idx].set(2.5)))
    if shape:
        row = v.reshape(-1)[:shape[-1]]
        np.testing.assert_allclose(np.asarray(X.at[idx].add(row)),
                                   np.asarray(XJ.at[idx].add(row)), rtol=1e-6)


REPEATED = [(np.array([1, 0, 1]), slice(1, None)), (slice(None), np.array([[2, 2], [0, 2]]), 0)]


@pytest.mark.parametrize("op", ["add", "subtract", "multiply", "mul", "min", "max", "divide",
                                "power", "get"])
@pytest.mark.parametrize("idx", REPEATED, ids=["rows", "grid"])
def test_at_ops_repeated_indices_match_jax(op, idx):
    xn = np.abs(XN) + 0.5
    x, xj = fnp.asarray(xn), jnp.asarray(xn)
    if op == "get":
        np.testing.assert_array_equal(np.asarray(x.at[idx].get()), np.asarray(xj.at[idx].get()))
        return
    v = _values(xj[idx].shape, 1) / 2
    jop = "multiply" if op == "mul" else op
    out = getattr(x.at[idx], op)(v)
    np.testing.assert_allclose(np.asarray(out), np.asarray(getattr(xj.at[idx], jop)(v)),
                               rtol=2e-6)


@pytest.mark.filterwarnings("ignore:scatter inputs have incompatible types")
def test_at_update_dtypes_and_weak_type():
    xi = fnp.arange(5)
    xij = jnp.arange(5)
    # values are promoted with x, combined, then cast back to x's dtype (as JAX does)
    for op, v in [("set", 2.7), ("add", 2.7), ("add", -0.5), ("set", 3), ("max", 9),
                  ("multiply", 2), ("subtract", 1)]:
        out = getattr(xi.at[np.array([1, 3])], op)(v)
        assert out.dtype == np.int32
        np.testing.assert_array_equal(np.asarray(out),
                                      np.asarray(getattr(xij.at[np.array([1, 3])], op)(v)))
    out = xi.at[1].divide(2)
    assert out.dtype == np.float32  # true division
    np.testing.assert_allclose(np.asarray(out), np.asarray(xij.at[1].divide(2)))
    out = xi.at[1:3].power(2)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(np.asarray(out), np.asarray(xij.at[1:3].power(2)))
    xb = fnp.zeros(3, bool)
    out = xb.at[np.array([0, 2])].set(True)
    assert out.dtype == np.bool_
    np.testing.assert_array_equal(np.asarray(out), [True, False, True])
    out = fnp.ones(3, fnp.bfloat16).at[1].add(np.float32(0.5))
    assert out.dtype == fnp.bfloat16
    np.testing.assert_array_equal(np.asarray(out).astype(np.float32), [1, 1.5, 1])
    # weak types are kept: a weak operand stays weak; indexing preserves it too
    w = fnp.asarray(2.0)[None]
    assert w.weak_type
    assert w.at[0].set(np.float32(1)).weak_type
    assert w[np.array([0, 0])].weak_type and not X[0].weak_type
    assert X.at[0].set(1.0).weak_type is False
    # list values become arrays
    np.testing.assert_array_equal(np.asarray(fnp.zeros(3).at[np.array([0, 2])].set([1, 2])),
                                  [1, 0, 2])


V = fnp.asarray(np.array([10., 11., 12.], np.float32))
VJ = jnp.asarray(np.array([10., 11., 12.], np.float32))
OOB = [np.array([5, -1, -4, 1]), 7, (np.array([[3], [-5]]),)]
MODES = [None, "promise_in_bounds", "clip", "drop", "fill"]


@pytest.mark.parametrize("mode", MODES)
def test_out_of_bounds_modes_match_jax(mode):
    for idx in OOB:
        got = V.at[idx].get(mode=mode)
        np.testing.assert_array_equal(np.asarray(got), np.asarray(VJ.at[idx].get(mode=mode)))
        if mode == "fill":
            np.testing.assert_array_equal(
                np.asarray(V.at[idx].get(mode=mode, fill_value=-1)),
                np.asarray(VJ.at[idx].get(mode=mode, fill_value=-1)))
        shape = VJ.at[idx].get(mode=mode).shape
        u = np.arange(1, 1 + int(np.prod(shape)), dtype=np.float32).reshape(shape)
        if mode != "clip":  # clipped duplicates make set's winner unspecified
            np.testing.assert_array_equal(np.asarray(V.at[idx].set(u, mode=mode)),
                                          np.asarray(VJ.at[idx].set(u, mode=mode)))
        np.testing.assert_array_equal(np.asarray(V.at[idx].add(u, mode=mode)),
                                      np.asarray(VJ.at[idx].add(u, mode=mode)))
    # wrap_negative_indices=False: -1 is out of bounds
    np.testing.assert_array_equal(
        np.asarray(V.at[np.array([-1, 1])].get(mode="fill", wrap_negative_indices=False)),
        np.asarray(VJ.at[np.array([-1, 1])].get(mode="fill", wrap_negative_indices=False)))
    np.testing.assert_array_equal(
        np.asarray(V.at[-1].set(0., mode="drop", wrap_negative_indices=False)), [10, 11, 12])


def test_out_of_bounds_getitem_defaults():
    # x[idx] clamps every index, Python integers included (JAX's default, not NumPy's)
    np.testing.assert_array_equal(np.asarray(V[np.array([5, -1, -4])]), [12, 12, 10])
    np.testing.assert_array_equal(np.asarray(V[fnp.asarray(-7)]), 10)
    np.testing.assert_array_equal(np.asarray(V[3]), np.asarray(VJ[3]))
    np.testing.assert_array_equal(np.asarray(X[0, -5]), np.asarray(XJ[0, -5]))
    with pytest.raises(IndexError, match="out of bounds for axis 0 with size 0"):
        fnp.zeros((0, 2))[0]
    assert fnp.zeros((0, 2))[np.array([], np.int32)].shape == (0, 2)


def test_jit_traced_indices():
    f = fl.jit(lambda x, i: x[i, ::-1])
    for i in (0, 1, -1, -2, 5, -9):
        np.testing.assert_array_equal(np.asarray(f(X, fnp.asarray(i))),
                                      np.asarray(XJ[jnp.asarray(i), ::-1]))
    g = fl.jit(lambda x, i, j: x[i, :, j])
    i, j = np.array([[1], [0]]), np.array([3, -1, 0])
    np.testing.assert_array_equal(np.asarray(g(X, fnp.asarray(i), fnp.asarray(j))),
                                  XN[i, :, j])
    h = fl.jit(lambda x, i, v: x.at[i, 1, 2].add(v).at[0, 0, i].max(v))
    i, v = np.array([1, -1, 1]), np.array([1., 2., 3.], np.float32)
    expected = XJ.at[i, 1, 2].add(v).at[0, 0, i].max(v)
    np.testing.assert_allclose(np.asarray(h(X, fnp.asarray(i), fnp.asarray(v))),
                               np.asarray(expected))
    # the traced scalar index becomes a dynamic_slice, not a gather
    prog = str(fl.make_ir(lambda x, i: x[1:, i, ::2])(X, fnp.asarray(1)))
    assert "dynamic_slice" in prog and "gather" not in prog
    prog = str(fl.make_ir(lambda x, i: x.at[i].add(1.0))(X, fnp.asarray(np.array([0, 1]))))
    assert prog.count("scatter_add") == 1


def test_staged_program_typechecks():
    def f(x, i):
        return [x[i, 1:, None], x.at[i, ::-1].set(0.0), x[0, ::-2]]
    prog = trace_to_program(f, [ShapedArray(SHAPE, np.float32), ShapedArray((3,), np.int32)])
    typecheck(prog.program)
    text = str(prog)
    assert "gather" in text and "scatter" in text and "rev" in text


def test_index_errors():
    with pytest.raises(IndexError, match="Too many indices: array is 3-dimensional, but 4"):
        X[0, 0, 0, 0]
    with pytest.raises(IndexError, match="Too many indices"):
        X[np.ones((2, 3, 4, 1), bool)]
    with pytest.raises(TypeError, match="integer or boolean type, got indexer with type "
                                        "float64"):
        X[1.0]
    with pytest.raises(TypeError, match="integer or boolean type.*float32"):
        X[np.array([1.0], np.float32)]
    with pytest.raises(TypeError, match="string indices"):
        X["a"]
    with pytest.raises(IndexError, match="single ellipsis"):
        X[..., 0, ...]
    with pytest.raises(IndexError, match="valid indices"):
        X[object()]
    with pytest.raises(TypeError, match="non-tuple sequence.*arr\\[array\\(seq\\)\\]"):
        X[[0, 1]]
    with pytest.raises(TypeError, match="non-tuple sequence.*arr\\[tuple\\(seq\\)\\]"):
        X[[0, slice(None)]]
    with pytest.raises(IndexError, match="boolean index did not match shape.*got \\(2,\\)"):
        X[:, np.array([True, False])]
    with pytest.raises(IndexError, match="Slice entries must be static integers"):
        fl.jit(lambda x, i: x[i:])(X, fnp.asarray(1))
    with pytest.raises(ValueError, match="slice step cannot be zero"):
        X[::0]
    with pytest.raises(NonConcreteBooleanIndexError, match="must be concrete.*bool\\[3\\].*"
                                                           "where"):
        fl.jit(lambda x, m: x[:, m])(X, fnp.asarray(B))
    assert issubclass(NonConcreteBooleanIndexError, TypeError)
    with pytest.raises(ValueError, match="unknown mode 'bogus'"):
        X.at[0].get(mode="bogus")
    with pytest.raises(ValueError, match="cannot broadcast|incompatible shapes"):
        X.at[0].set(np.ones((2, 2), np.float32))
    with pytest.raises(TypeError, match="immutable.*at\\[idx\\]\\.set"):
        X[0] = 1.0
    with pytest.raises(ValueError, match="must be a scalar"):
        V.at[np.array([7])].get(mode="fill", fill_value=np.ones(2))


def test_concrete_array_indices():
    # device arrays (concrete) work like NumPy ones, boolean masks included
    i = fnp.asarray(np.array([2, 0]))
    np.testing.assert_array_equal(np.asarray(X[:, i]), XN[:, [2, 0]])
    np.testing.assert_array_equal(np.asarray(X[fnp.asarray(B[:2])]), XN[B[:2]])
    np.testing.assert_array_equal(np.asarray(X[fnp.asarray(True)]), XN[None])
    np.testing.assert_array_equal(np.asarray(X[0, (2, 0)]), XN[0, [2, 0]])


# ---------------------------------------------------------------------------------------
# hypothesis: slices and integer arrays over shapes

@st.composite
def _slice_case(draw):
    shape = tuple(draw(st.lists(st.integers(0, 4), min_size=1, max_size=3)))
    idx = []
    for d in shape:
        kind = draw(st.sampled_from(["slice", "int", "none"] if d else ["slice", "none"]))
        if kind == "int":
            idx.append(draw(st.integers(-d, d - 1)))
        elif kind == "none":
            idx.append(None)
            idx.append(slice(None))
        else:
            bound = st.one_of(st.none(), st.integers(-d - 2, d + 2))
            idx.append(slice(draw(bound), draw(bound),
                             draw(st.sampled_from([None, 1, 2, -1, -2, 3]))))
    return shape, tuple(idx)


@given(_slice_case())
def test_hypothesis_basic_slices(case):
    shape, idx = case
    xn = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    out = fnp.asarray(xn)[idx]
    np.testing.assert_array_equal(np.asarray(out), xn[idx])
    assert out.shape == xn[idx].shape


@st.composite
def _array_case(draw):
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    bshape = tuple(draw(st.lists(st.integers(0, 3), max_size=2)))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    idx = []
    for d in shape:
        kind = draw(st.sampled_from(["array", "slice", "int"]))
        if kind == "array":
            sub = bshape[draw(st.integers(0, len(bshape))):]  # broadcastable suffix
            idx.append(rng.integers(-d, d, sub).astype(np.int32))
        elif kind == "int":
            idx.append(int(rng.integers(-d, d)))
        else:
            idx.append(slice(None, None, draw(st.sampled_from([1, -1, 2]))))
    if not any(isinstance(i, np.ndarray) for i in idx):
        idx[0] = rng.integers(-shape[0], shape[0], bshape).astype(np.int32)
    return shape, tuple(idx)


@given(_array_case())
def test_hypothesis_integer_arrays(case):
    shape, idx = case
    xn = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    x = fnp.asarray(xn)
    out = x[idx]
    np.testing.assert_array_equal(np.asarray(out), xn[idx])
    v = np.arange(1, 1 + int(np.prod(xn[idx].shape)), dtype=np.float32).reshape(xn[idx].shape)
    expected = xn.copy()
    np.add.at(expected, idx, v)
    np.testing.assert_array_equal(np.asarray(x.at[idx].add(v)), expected)


# ---------------------------------------------------------------------------------------
# take / take_along_axis

@pytest.mark.parametrize("mode", [None, "fill", "clip", "wrap"])
def test_take_matches_jax(mode):
    i = np.array([[3, -1], [0, -5]])
    for axis in (None, 0, 1, -1):
        out = fnp.take(X, i, axis=axis, mode=mode)
        expected = jnp.take(XJ, i, axis=axis, mode=mode)
        assert out.shape == expected.shape
        np.testing.assert_array_equal(np.asarray(out), np.asarray(expected))
    xi = np.arange(5, dtype=np.int32)
    for idx in (np.array([7, -1, -8, 2]), fnp.asarray(np.array([7, -1, -8, 2])), 6, -2):
        np.testing.assert_array_equal(np.asarray(fnp.take(xi, idx, mode=mode)),
                                      np.asarray(jnp.take(xi, np.asarray(idx), mode=mode)))
    if mode in (None, "fill"):
        np.testing.assert_array_equal(
            np.asarray(fnp.take(X, i, axis=1, mode=mode, fill_value=0.5)),
            np.asarray(jnp.take(XJ, i, axis=1, mode=mode, fill_value=0.5)))


def test_take_edge_cases_and_errors():
    assert X.take(np.zeros((0, 2), np.int32), axis=1).shape == (2, 0, 2, 4)
    assert fnp.take(fnp.zeros((2, 0)), np.zeros((0,), np.int32), axis=1).shape == (2, 0)
    with pytest.raises(IndexError, match="empty axis"):
        fnp.take(fnp.zeros((2, 0)), np.array([0]), axis=1)
    with pytest.raises(TypeError, match="take: indices must have an integer dtype"):
        fnp.take(X, np.array([0.0]))
    with pytest.raises(ValueError, match="invalid mode 'bad'"):
        fnp.take(X, np.array([0]), mode="bad")
    with pytest.raises(NotImplementedError, match="raise"):
        fnp.take(X, np.array([0]), mode="raise")
    with pytest.raises(ValueError, match="axis 3 is out of bounds"):
        fnp.take(X, np.array([0]), axis=3)
    prog = str(fl.make_ir(lambda x, i: fnp.take(x, i, axis=1))(X, fnp.asarray(np.array([0]))))
    assert prog.count("gather") == 1


TAKE_ALONG = [
    ((2, 3, 4), (2, 3, 5), 2), ((2, 3, 4), (2, 1, 4), 1), ((2, 3, 4), (1, 3, 2), -1),
    ((2, 1, 4), (2, 3, 4), 0), ((3,), (5,), 0), ((2, 3), (2, 0), 1), ((3,), (4,), None),
]


@pytest.mark.parametrize("ashape,ishape,axis", TAKE_ALONG)
def test_take_along_axis_matches_jax(ashape, ishape, axis):
    rng = np.random.default_rng(0)
    an = rng.standard_normal(ashape).astype(np.float32)
    n = an.size if axis is None else ashape[axis]
    idx = rng.integers(-n - 1, n + 2, ishape).astype(np.int32)
    for mode in (None, "clip", "promise_in_bounds"):
        out = fnp.take_along_axis(fnp.asarray(an), idx, axis, mode=mode)
        expected = jnp.take_along_axis(jnp.asarray(an), idx, axis, mode=mode)
        assert out.shape == expected.shape
        if mode == "promise_in_bounds":  # out-of-bounds results are unspecified
            ok = (idx >= 0) & (idx < n)
            ok = np.broadcast_to(ok, expected.shape)
            np.testing.assert_array_equal(np.asarray(out)[ok], np.asarray(expected)[ok])
        else:
            np.testing.assert_array_equal(np.asarray(out), np.asarray(expected))


def test_take_along_axis_sorting_and_errors():
    xn = np.array([[5, 3, 4], [2, 7, 6]], np.int32)
    order = fnp.argsort(fnp.asarray(xn), axis=1)
    np.testing.assert_array_equal(np.asarray(fnp.take_along_axis(fnp.asarray(xn), order, 1)),
                                  np.sort(xn, 1))
    traced = fl.jit(lambda x, i: fnp.take_along_axis(x, i, axis=1))(fnp.asarray(xn), order)
    np.testing.assert_array_equal(np.asarray(traced), np.sort(xn, 1))
    with pytest.raises(ValueError, match="same number of dimensions"):
        fnp.take_along_axis(X, np.zeros((2, 3), np.int32), 1)
    with pytest.raises(ValueError, match="must be 1-D when axis=None"):
        fnp.take_along_axis(X, np.zeros((2, 3), np.int32), None)
    with pytest.raises(TypeError, match="integer dtype"):
        fnp.take_along_axis(X, np.zeros((2, 3, 1), np.float32), 1)
    with pytest.raises(ValueError, match="incompatible shapes"):
        fnp.take_along_axis(X, np.zeros((3, 3, 1), np.int32), 2)
    prog = str(fl.make_ir(lambda x, i: fnp.take_along_axis(x, i, 2))(
        X, fnp.asarray(np.zeros((2, 3, 5), np.int32))))
    assert prog.count("gather") == 1


# ---------------------------------------------------------------------------------------
# shapes.py functions that use take

def test_repeat_with_counts():
    reps = np.array([1, 0, 2])
    np.testing.assert_array_equal(np.asarray(fnp.repeat(X, reps, axis=1)),
                                  np.repeat(XN, reps, axis=1))
    np.testing.assert_array_equal(np.asarray(X.repeat(np.array([2, 1]), axis=0)),
                                  np.repeat(XN, [2, 1], axis=0))
    np.testing.assert_array_equal(np.asarray(fnp.repeat(fnp.arange(3), [3, 0, 1])),
                                  np.repeat(np.arange(3), [3, 0, 1]))
    with pytest.raises(ValueError, match="got 2 repeats for an axis of length 3"):
        fnp.repeat(X, np.array([1, 2]), axis=1)


@pytest.mark.parametrize("mode", ["edge", "reflect", "symmetric", "wrap"])
def test_pad_modes(mode):
    for width in (((1, 2), (0, 3), (2, 1)), 2):
        np.testing.assert_array_equal(np.asarray(fnp.pad(X, width, mode=mode)),
                                      np.pad(XN, width, mode=mode))
    np.testing.assert_array_equal(np.asarray(fnp.pad(fnp.arange(1.0, 2.0), (3, 2), mode=mode)),
                                  np.pad(np.arange(1.0, 2.0), (3, 2), mode=mode))


def test_diagonal_diag_trace():
    for off in (-1, 0, 2, 5):
        np.testing.assert_array_equal(np.asarray(fnp.diagonal(X, off, 1, 2)),
                                      np.diagonal(XN, off, 1, 2))
        np.testing.assert_array_equal(np.asarray(fnp.diag(X[0], off)), np.diag(XN[0], off))
        np.testing.assert_array_equal(np.asarray(fnp.diag(X[0, 0], off)),
                                      np.diag(XN[0, 0], off))
    np.testing.assert_array_equal(np.asarray(X.diagonal(0, 2, 0)), np.diagonal(XN, 0, 2, 0))
    np.testing.assert_allclose(np.asarray(fnp.trace(X, 1, 0, 2)), np.trace(XN, 1, 0, 2),
                               rtol=1e-6)
