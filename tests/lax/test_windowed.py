"""reduce_window (sum / max / min) against jax.lax.reduce_window."""
from __future__ import annotations

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
KINDS = {  # ours, jax's, init value for a dtype
    "sum": (lax.add, jlax.add, lambda dt: np.zeros((), dt)),
    "max": (lax.max, jlax.max,
            lambda dt: np.array(np.iinfo(dt).min if np.dtype(dt).kind in "iu" else -np.inf, dt)),
    "min": (lax.min, jlax.min,
            lambda dt: np.array(np.iinfo(dt).max if np.dtype(dt).kind in "iu" else np.inf, dt)),
}


def _rand(rng, shape, dtype):
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return rng.random(shape) < 0.5
    if dtype.kind in "iu":
        return rng.integers(-50, 50, shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def _compare(got, want, window_size, dtype):
    assert got.shape == want.shape and got.dtype == want.dtype
    if np.dtype(dtype).kind in "biu":
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
    else:
        tol = 1e-5 * max(window_size, 1)
        np.testing.assert_allclose(np.asarray(got, np.float64), np.asarray(want, np.float64),
                                   rtol=tol, atol=tol)  # inf == inf for all-padding windows


@st.composite
def window_problems(draw):
    rank = draw(st.integers(1, 3))
    shape = tuple(draw(st.integers(0, 5)) for _ in range(rank))
    window = tuple(draw(st.integers(1, 3)) for _ in range(rank))
    strides = tuple(draw(st.integers(1, 2)) for _ in range(rank))
    mode = draw(st.sampled_from(["SAME", "VALID", "SAME_LOWER", "explicit"]))
    base = wdil = None
    if mode == "explicit":
        padding = tuple((draw(st.integers(-1, 2)), draw(st.integers(-1, 2)))
                        for _ in range(rank))
        base = tuple(draw(st.integers(1, 2)) for _ in range(rank))
    else:
        padding = mode
    if draw(st.booleans()):
        wdil = tuple(draw(st.integers(1, 2)) for _ in range(rank))
    return shape, window, strides, padding, base, wdil


@given(window_problems(), st.sampled_from(["sum", "max", "min"]),
       st.sampled_from(["float32", "int32"]), st.integers(0, 2**31 - 1))
def test_reduce_window_matches_jax(problem, kind, dtype, seed):
    shape, window, strides, padding, base, wdil = problem
    x = _rand(np.random.default_rng(seed), shape, dtype)
    ours, theirs, init = KINDS[kind]
    args = (window, strides, padding, base, wdil)
    got = lax.reduce_window(x, init(dtype), ours, *args)
    want = jlax.reduce_window(x, init(dtype), theirs, *args)
    _compare(got, want, int(np.prod(window)), dtype)
    assert not got.aval.weak_type


@pytest.mark.parametrize("padding", ["SAME", "VALID"])
def test_pooling_nhwc(padding):
    rng = np.random.default_rng(0)
    x = _rand(rng, (2, 7, 6, 3), np.float32)
    win, strides = (1, 3, 3, 1), (1, 2, 2, 1)
    got = lax.reduce_window(x, -np.inf, lax.max, win, strides, padding)
    want = jlax.reduce_window(x, -np.inf, jlax.max, win, strides, padding)
    _compare(got, want, 9, np.float32)
    got = lax.reduce_window_sum(x, win, strides, padding)
    want = jlax.reduce_window(x, 0.0, jlax.add, win, strides, padding)
    _compare(got, want, 9, np.float32)
    if padding == "VALID":  # average pooling written by hand
        ref = np.stack([x[:, i:i + 3, j:j + 3].sum((1, 2))
                        for i in range(0, 5, 2) for j in range(0, 4, 2)], 1).reshape(2, 3, 2, 3)
        _compare(got, ref.astype(np.float32), 9, np.float32)


def test_convenience_functions_match_reduce_window():
    rng = np.random.default_rng(1)
    x = _rand(rng, (5, 6), np.float32)
    for kind, fn in (("sum", lax.reduce_window_sum), ("max", lax.reduce_window_max),
                     ("min", lax.reduce_window_min)):
        ours, theirs, init = KINDS[kind]
        got = fn(x, (2, 3), (1, 2), "SAME", None, (2, 1))
        want = jlax.reduce_window(x, init(np.float32), theirs, (2, 3), (1, 2), "SAME", None,
                                  (2, 1))
        _compare(got, want, 6, np.float32)
        np.testing.assert_array_equal(np.asarray(got), np.asarray(
            lax.reduce_window(x, init(np.float32), ours, (2, 3), (1, 2), "SAME", None, (2, 1))))


def test_padding_is_the_identity():
    x = np.array([-5, -7, -3], np.int8)
    got = lax.reduce_window_max(x, (2,), (1,), [(1, 1)])
    np.testing.assert_array_equal(np.asarray(got), [-5, -5, -3, -3])
    np.testing.assert_array_equal(
        np.asarray(got), np.asarray(jlax.reduce_window(x, np.int8(-128), jlax.max, (2,), (1,),
                                                       [(1, 1)])))
    xf = np.array([-5.0, -7.0], np.float32)
    np.testing.assert_array_equal(np.asarray(lax.reduce_window_max(xf, (3,), (1,), [(2, 2)])),
                                  [-5, -5, -5, -7])
    np.testing.assert_array_equal(np.asarray(lax.reduce_window_min(-xf, (3,), (1,), [(2, 2)])),
                                  [5, 5, 5, 7])
    # a window entirely in padding holds the identity
    np.testing.assert_array_equal(np.asarray(lax.reduce_window_max(xf, (1,), (1,), [(1, 0)])),
                                  [-np.inf, -5, -7])


@pytest.mark.parametrize("dtype,kind", [("bool", "max"), ("bool", "min"), ("uint8", "min"),
                                        ("float16", "max"), ("bfloat16", "sum"),
                                        ("complex64", "max"), ("complex64", "sum")])
def test_other_dtypes(dtype, kind):
    dt = BF16 if dtype == "bfloat16" else np.dtype(dtype)
    rng = np.random.default_rng(2)
    if dt.kind == "c":
        x = (rng.integers(-2, 2, (4, 5)) + 1j * rng.integers(-2, 2, (4, 5))).astype(dt)
        init = {"sum": 0, "max": -np.inf, "min": np.inf}[kind]
    else:
        x = _rand(rng, (4, 5), dt)
        init = KINDS[kind][2](dt if dt != BF16 else np.float32)
        if dt == np.bool_:
            init = kind == "min"
    ours, theirs, _ = KINDS[kind]
    got = lax.reduce_window(x, init, ours, (2, 2), (1, 2), "SAME")
    want = jlax.reduce_window(x, np.asarray(init, dt), theirs, (2, 2), (1, 2), "SAME")
    assert got.dtype == want.dtype == dt
    tol = 2e-2 if dtype in ("float16", "bfloat16") else 0
    np.testing.assert_allclose(np.asarray(got).astype(np.complex128),
                               np.asarray(want).astype(np.complex128), rtol=tol, atol=tol)


@pytest.mark.parametrize("init,kind", [(-np.inf, "max"), (np.inf, "min"), (0.0, "sum")])
def test_float_identity_starts_an_integer_reduction(init, kind):
    """JAX recognizes the monoid by init_value's own identity: a float -inf starts an
    integer max (the result keeps the integer dtype), as does the dtype's minimum."""
    x = np.arange(-6, 14, dtype=np.int32).reshape(4, 5)
    ours, theirs, _ = KINDS[kind]
    got = lax.reduce_window(x, init, ours, (2, 2), (1, 2), "SAME")
    want = jlax.reduce_window(x, init, theirs, (2, 2), (1, 2), "SAME")
    assert got.dtype == want.dtype == np.int32
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


def test_weak_type_and_rank0():
    out = lax.reduce_window_sum(2.5, (), ())
    assert out.aval.weak_type and out.dtype == np.float32 and float(out) == 2.5
    prog = trace_to_program(lambda x: [lax.reduce_window_max(x, (2,), (1,))],
                            [ShapedArray((4,), np.float32, weak_type=True)])
    assert prog.out_avals[0].weak_type


def test_staging():
    for kind in ("sum", "max", "min"):
        ours, _, init = KINDS[kind]
        prog = trace_to_program(
            lambda x: [lax.reduce_window(x, init(np.float32), ours, [2, 2], [1, 1], "SAME")],
            [ShapedArray((3, 4), np.float32)])
        typecheck(prog.program)
        assert f"reduce_window_{kind}" in str(prog)
        assert prog.out_avals == [ShapedArray((3, 4), np.float32)]
        params = prog.eqns[0].params
        hash(tuple(params.items()))
        assert params == dict(window_dimensions=(2, 2), window_strides=(1, 1),
                              padding=((0, 1), (0, 1)), base_dilation=(1, 1),
                              window_dilation=(1, 1))
        staged = prog(np.arange(12, dtype=np.float32).reshape(3, 4))[0]
        eager = lax.reduce_window(np.arange(12, dtype=np.float32).reshape(3, 4),
                                  init(np.float32), ours, (2, 2), (1, 1), "SAME")
        np.testing.assert_array_equal(np.asarray(staged), np.asarray(eager))


def test_general_computations_match_jax():
    # any binary computation JAX accepts works forward, and non-identity init values too
    x = np.arange(1.0, 6.0, dtype=np.float32)
    cases = [(1.0, lax.mul, jlax.mul), (0.0, lambda a, b: a + b, lambda a, b: a + b),
             (1.0, lax.add, jlax.add), (0.0, lax.max, jlax.max)]
    for init, ours, theirs in cases:
        np.testing.assert_allclose(
            np.asarray(lax.reduce_window(x, init, ours, (2,), (1,))),
            np.asarray(jlax.reduce_window(x, init, theirs, (2,), (1,), "VALID")))


def test_general_computation_errors():
    x = np.ones((4,), np.float32)
    with pytest.raises(TypeError, match="init_value must be scalars"):
        lax.reduce_window(x, np.zeros(2, np.float32), lax.add, (2,), (1,))
    with pytest.raises(TypeError, match="inconsistent dtypes.*int32.*float32"):
        lax.reduce_window(np.ones(3, np.int32), 0.5, lax.add, (2,), (1,))
    with pytest.raises(TypeError, match="computation must be callable"):
        lax.reduce_window(x, 0.0, "add", (2,), (1,))


def test_errors():
    x = np.ones((4, 5), np.float32)
    with pytest.raises(ValueError, match=r"window_dimensions \(2,\) must have one entry per "
                                         r"dimension.*\(4, 5\)"):
        lax.reduce_window_sum(x, (2,), (1,), [(0, 0)])
    with pytest.raises(ValueError, match=r"window_dimensions \(2,\), window_strides"):
        lax.reduce_window_sum(x, (2,), (1,), "SAME")
    with pytest.raises(ValueError, match="window_dimensions must be positive"):
        lax.reduce_window_max(x, (0, 1))
    with pytest.raises(ValueError, match="window_strides must be positive"):
        lax.reduce_window_max(x, (1, 1), (1, 0), [(0, 0), (0, 0)])
    with pytest.raises(ValueError, match=r"window_strides \(1, 0\).*must be positive"):
        lax.reduce_window_max(x, (1, 1), (1, 0), "SAME")
    with pytest.raises(ValueError, match="base_dilation must be positive"):
        lax.reduce_window_min(x, (1, 1), None, "VALID", (0, 1))
    with pytest.raises(TypeError, match="reduce_window_sum does not accept dtype bool"):
        lax.reduce_window_sum(x > 0, (1, 1))
    with pytest.raises(TypeError, match="padding must be a string"):
        lax.reduce_window_sum(x, (1, 1), None, [1, 2])
    with pytest.raises(ValueError, match="unknown padding 'FULL'"):
        lax.reduce_window_sum(x, (1, 1), None, "FULL")
    with pytest.raises(TypeError, match="window_dimensions must be a sequence of integers"):
        lax.reduce_window_sum(x, "ab")
