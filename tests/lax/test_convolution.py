"""conv_general_dilated (and conv, conv_with_general_padding) against jax.lax."""
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


def _rand(rng, shape, dtype=np.float32):
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return rng.random(shape) < 0.5
    if dtype.kind in "iu":
        return rng.integers(-3, 4, shape).astype(dtype)
    if dtype.kind == "c":
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def _check(got, want, k):
    tol = 1e-5 * max(k, 1)
    assert got.shape == want.shape, (got.shape, want.shape)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=tol, atol=tol)


def _layout(n, rng, kind):
    """A random layout string with n spatial letters (shared across the three strings)."""
    spatial = "HWD"[:n]
    letters = list(("NC" if kind != "rhs" else "OI") + spatial)
    rng.shuffle(letters)
    return "".join(letters)


@st.composite
def conv_problems(draw):
    n = draw(st.integers(1, 2))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    groups = draw(st.sampled_from([(1, 1), (2, 1), (1, 2)]))
    fgc, bgc = groups
    batch = bgc * draw(st.integers(1, 2))
    cin = fgc * draw(st.integers(1, 2))
    cout = fgc * bgc * draw(st.integers(1, 2))
    in_spatial = [draw(st.integers(1, 6)) for _ in range(n)]
    kernel = [draw(st.integers(1, 3)) for _ in range(n)]
    strides = tuple(draw(st.integers(1, 2)) for _ in range(n))
    rhs_dil = tuple(draw(st.integers(1, 2)) for _ in range(n))
    mode = draw(st.sampled_from(["SAME", "VALID", "SAME_LOWER", "explicit"]))
    if mode == "explicit":
        lhs_dil = tuple(draw(st.integers(1, 2)) for _ in range(n))
        padding = []
        for d, ld in zip(in_spatial, lhs_dil):
            lo, hi = draw(st.integers(-1, 2)), draw(st.integers(-1, 2))
            if 1 + ld * (d - 1) + lo + hi < 0:
                lo = hi = 0
            padding.append((lo, hi))
    else:
        lhs_dil, padding = None, mode
    use_layout = draw(st.booleans())
    if use_layout:
        dn = (_layout(n, rng, "lhs"), _layout(n, rng, "rhs"), _layout(n, rng, "out"))
    else:
        dn = None
    # shapes in canonical (N, C, spatial) / (O, I, spatial) order, then permuted
    lhs_canon = [batch, cin] + in_spatial
    rhs_canon = [cout, cin // fgc] + kernel
    dnums = lax.conv_dimension_numbers((0,) * (n + 2), (0,) * (n + 2), dn)
    lhs_shape, rhs_shape = [0] * (n + 2), [0] * (n + 2)
    for i, d in enumerate(dnums.lhs_spec):
        lhs_shape[d] = lhs_canon[i]
    for i, d in enumerate(dnums.rhs_spec):
        rhs_shape[d] = rhs_canon[i]
    kwargs = dict(window_strides=strides, padding=padding, lhs_dilation=lhs_dil,
                  rhs_dilation=rhs_dil, dimension_numbers=dn, feature_group_count=fgc,
                  batch_group_count=bgc)
    k = (cin // fgc) * int(np.prod(kernel))
    return _rand(rng, lhs_shape), _rand(rng, rhs_shape), kwargs, k


@given(conv_problems())
def test_conv_general_dilated_matches_jax(problem):
    x, w, kwargs, k = problem
    got = lax.conv_general_dilated(x, w, **kwargs)
    want = jlax.conv_general_dilated(x, w, precision="highest", **kwargs)
    _check(got, want, k)
    assert not got.aval.weak_type


@pytest.mark.parametrize("padding", ["SAME", "VALID", "SAME_LOWER", [(1, 0), (0, 2)],
                                     [(-1, 1), (2, -1)]])
@pytest.mark.parametrize("layout", [None, ("NHWC", "HWIO", "NHWC"), ("NCHW", "OIHW", "NHWC")])
def test_conv_2d_layouts_and_padding(padding, layout):
    rng = np.random.default_rng(0)
    x_nchw, w_oihw = _rand(rng, (2, 3, 6, 5)), _rand(rng, (4, 3, 3, 2))
    x = x_nchw if layout is None else np.transpose(x_nchw, [0, 2, 3, 1] if
                                                   layout[0] == "NHWC" else [0, 1, 2, 3])
    w = w_oihw if layout is None or layout[1] == "OIHW" else np.transpose(w_oihw, [2, 3, 1, 0])
    got = lax.conv_general_dilated(x, w, (2, 1), padding, dimension_numbers=layout)
    want = jlax.conv_general_dilated(x, w, (2, 1), padding, dimension_numbers=layout)
    _check(got, want, 18)


def test_conv_1d_and_3d():
    rng = np.random.default_rng(1)
    x, w = _rand(rng, (2, 7, 3)), _rand(rng, (3, 3, 5))
    dn = ("NWC", "WIO", "NWC")
    _check(lax.conv_general_dilated(x, w, (2,), "SAME", dimension_numbers=dn),
           jlax.conv_general_dilated(x, w, (2,), "SAME", dimension_numbers=dn), 9)
    x3, w3 = _rand(rng, (1, 2, 4, 3, 5)), _rand(rng, (3, 2, 2, 2, 3))
    _check(lax.conv(x3, w3, (1, 2, 1), "SAME"), jlax.conv(x3, w3, (1, 2, 1), "SAME"), 24)


def test_conv_no_spatial_dims():
    rng = np.random.default_rng(2)
    x, w = _rand(rng, (3, 4)), _rand(rng, (5, 4))
    _check(lax.conv_general_dilated(x, w, (), []), jlax.conv_general_dilated(x, w, (), []), 4)
    _check(lax.conv_general_dilated(x, w, (), "SAME"), x @ w.T, 4)


def test_depthwise_and_batch_grouped():
    rng = np.random.default_rng(3)
    x = _rand(rng, (2, 6, 5, 5))
    w = _rand(rng, (12, 1, 3, 3))  # channel multiplier 2
    _check(lax.conv_general_dilated(x, w, (1, 1), "SAME", feature_group_count=6),
           jlax.conv_general_dilated(x, w, (1, 1), "SAME", feature_group_count=6), 9)
    xb = _rand(rng, (4, 3, 5, 5))
    wb = _rand(rng, (4, 3, 2, 2))
    got = lax.conv_general_dilated(xb, wb, (1, 1), "VALID", batch_group_count=2)
    assert got.shape == (2, 4, 4, 4)
    _check(got, jlax.conv_general_dilated(xb, wb, (1, 1), "VALID", batch_group_count=2), 24)


def test_wrappers():
    rng = np.random.default_rng(4)
    x, w = _rand(rng, (1, 2, 5, 5)), _rand(rng, (3, 2, 3, 3))
    _check(lax.conv(x, w, (2, 2), "VALID"), jlax.conv(x, w, (2, 2), "VALID"), 18)
    args = ((1, 1), [(1, 1), (2, 0)], (2, 2), (1, 2))
    _check(lax.conv_with_general_padding(x, w, *args),
           jlax.conv_with_general_padding(x, w, *args), 18)


@pytest.mark.parametrize("dtype", ["int32", "bool", "complex64", "float16"])
def test_dtypes(dtype):
    rng = np.random.default_rng(5)
    x, w = _rand(rng, (2, 2, 5, 4), dtype), _rand(rng, (3, 2, 2, 2), dtype)
    got = lax.conv_general_dilated(x, w, (1, 1), [(1, 0), (0, 1)], rhs_dilation=(1, 2))
    want = jlax.conv_general_dilated(x, w, (1, 1), [(1, 0), (0, 1)], rhs_dilation=(1, 2))
    assert got.dtype == want.dtype == np.dtype(dtype)
    tol = 1e-2 if dtype == "float16" else 1e-5
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=tol, atol=tol)


def test_bfloat16_with_float32_accumulation():
    rng = np.random.default_rng(6)
    x, w = _rand(rng, (1, 4, 6, 6), BF16), _rand(rng, (2, 4, 3, 3), BF16)
    got = lax.conv(x, w, (1, 1), "SAME", preferred_element_type=np.float32)
    want = jlax.conv(x, w, (1, 1), "SAME", preferred_element_type=np.float32)
    _check(got, want, 36)
    ref = jlax.conv(x.astype(np.float32), w.astype(np.float32), (1, 1), "SAME",
                    precision="highest")
    _check(got, ref, 36)
    got_i = lax.conv(x.astype(np.int8), w.astype(np.int8), (1, 1), "SAME",
                     preferred_element_type=np.int32)
    assert got_i.dtype == np.int32


def test_weak_type():
    x = np.ones((1, 1, 3), np.float32)
    prog = trace_to_program(lambda a, b: [lax.conv(a, b, (1,), "VALID")],
                            [ShapedArray((1, 1, 3), np.float32, weak_type=True),
                             ShapedArray((1, 1, 2), np.float32, weak_type=True)])
    assert prog.out_avals[0].weak_type
    assert not lax.conv(x, x, (1,), "VALID").aval.weak_type


@pytest.mark.parametrize("dn", [("NCHW", "OIHW", "NCHW"), ("NHWC", "HWIO", "NHWC"),
                                ("NWHC", "OHWI", "CHWN"), ("HNCW", "WOIH", "NWCH")])
def test_conv_dimension_numbers_match_jax(dn):
    ours = lax.conv_dimension_numbers((1,) * 4, (1,) * 4, dn)
    theirs = jlax.conv_dimension_numbers((1,) * 4, (1,) * 4, dn)
    assert tuple(map(tuple, ours)) == tuple(map(tuple, theirs))
    assert isinstance(ours, lax.ConvDimensionNumbers)
    hash(ours)
    assert lax.conv_dimension_numbers((1,) * 4, (1,) * 4, None) == \
        lax.ConvDimensionNumbers((0, 1, 2, 3), (0, 1, 2, 3), (0, 1, 2, 3))


@pytest.mark.parametrize("padding", ["SAME", "VALID", "SAME_LOWER", "same"])
def test_padtype_to_pads_matches_jax(padding):
    for in_shape, win, strides in [((5, 6), (3, 2), (1, 2)), ((4, 0), (2, 3), (3, 1)),
                                   ((7,), (4,), (3,))]:
        ours = lax.padtype_to_pads(in_shape, win, strides, padding)
        theirs = jlax.padtype_to_pads(in_shape, win, strides, padding)
        assert [tuple(map(int, p)) for p in ours] == [tuple(map(int, p)) for p in theirs]


def test_staging():
    avals = [ShapedArray((2, 5, 5, 3), np.float32), ShapedArray((3, 3, 3, 8), np.float32)]
    fn = lambda x, w: [lax.conv_general_dilated(  # noqa: E731
        x, w, [1, 1], "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))]
    prog = trace_to_program(fn, avals)
    typecheck(prog.program)
    assert "conv_general_dilated" in str(prog)
    assert prog.out_avals == [ShapedArray((2, 5, 5, 8), np.float32)]
    params = prog.eqns[0].params
    hash(tuple(params.items()))
    assert params["padding"] == ((1, 1), (1, 1)) and params["window_strides"] == (1, 1)
    # equal calls written differently stage to equal params
    prog2 = trace_to_program(lambda x, w: [lax.conv_general_dilated(
        x, w, (1, 1), [[1, 1], [1, 1]], (1, 1), [1, 1],
        lax.ConvDimensionNumbers((0, 3, 1, 2), (3, 2, 0, 1), (0, 3, 1, 2)))], avals)
    assert prog2.eqns[0].params == params


def test_errors():
    x, w = np.ones((2, 4, 5, 5), np.float32), np.ones((6, 2, 3, 3), np.float32)
    conv = lax.conv_general_dilated
    with pytest.raises(TypeError, match=r"same rank.*\(2, 4, 5, 5\).*\(6, 2, 3\)"):
        conv(x, w[..., 0], (1, 1), "SAME")
    with pytest.raises(TypeError, match="rank >= 2"):
        conv(np.ones(3, np.float32), np.ones(3, np.float32), (), [])
    with pytest.raises(ValueError, match=r"4 // 1 = 4\) must equal the kernel's input feature "
                                         r"size 2"):
        conv(x, w, (1, 1), "SAME")
    with pytest.raises(ValueError, match="feature_group_count 3 must divide the lhs feature"):
        conv(x, w, (1, 1), "SAME", feature_group_count=3)
    with pytest.raises(ValueError, match="output feature size 6 must be a multiple of "
                                         "feature_group_count 4"):
        conv(x, np.ones((6, 1, 3, 3), np.float32), (1, 1), "SAME", feature_group_count=4)
    with pytest.raises(ValueError, match="at most one of feature_group_count"):
        conv(x, w, (1, 1), "SAME", feature_group_count=2, batch_group_count=2)
    with pytest.raises(ValueError, match="batch_group_count 3 must divide the lhs batch size 2"):
        conv(x, np.ones((6, 4, 3, 3), np.float32), (1, 1), "SAME", batch_group_count=3)
    with pytest.raises(ValueError, match="feature_group_count must be a positive"):
        conv(x, w, (1, 1), "SAME", feature_group_count=0)
    with pytest.raises(ValueError, match=r"window_strides has 1 entries.*2 spatial"):
        conv(x, w, (1,), [(0, 0), (0, 0)], feature_group_count=2)
    with pytest.raises(ValueError, match="window_strides must be positive"):
        conv(x, w, (0, 1), [(0, 0), (0, 0)], feature_group_count=2)
    with pytest.raises(ValueError, match="rhs_dilation must be positive"):
        conv(x, w, (1, 1), [(0, 0), (0, 0)], rhs_dilation=(1, 0), feature_group_count=2)
    with pytest.raises(ValueError, match="string padding 'SAME' is not supported with "
                                         "lhs_dilation"):
        conv(x, w, (1, 1), "SAME", lhs_dilation=(2, 1), feature_group_count=2)
    with pytest.raises(ValueError, match=r"negative padding \(-4, -2\) removes more than the 5"):
        conv(x, w, (1, 1), [(-4, -2), (0, 0)], feature_group_count=2)
    with pytest.raises(ValueError, match="kernel spatial dimensions must be non-empty"):
        conv(x, np.ones((6, 2, 0, 3), np.float32), (1, 1), "VALID", feature_group_count=2)
    with pytest.raises(TypeError, match="same dtype, got f32 and i32"):
        conv(x, w.astype(np.int32), (1, 1), "SAME", feature_group_count=2)
    with pytest.raises(TypeError, match="padding must be a string"):
        conv(x, w, (1, 1), [1, 2], feature_group_count=2)
    with pytest.raises(ValueError, match="unknown padding 'FULL'"):
        conv(x, w, (1, 1), "FULL", feature_group_count=2)
    with pytest.raises(TypeError, match="must contain each of 'N' and 'C' exactly once"):
        conv(x, w, (1, 1), "SAME", dimension_numbers=("NHWX", "OIHW", "NCHW"))
    with pytest.raises(TypeError, match="has 3 letters but the operands have rank 4"):
        conv(x, w, (1, 1), "SAME", dimension_numbers=("NCH", "OIHW", "NCHW"))
    with pytest.raises(TypeError, match="same spatial dimensions"):
        conv(x, w, (1, 1), "SAME", dimension_numbers=("NCHW", "OIHX", "NCHW"))
    with pytest.raises(ValueError, match="must be a permutation"):
        conv(x, w, (1, 1), "VALID", feature_group_count=2,
             dimension_numbers=lax.ConvDimensionNumbers((0, 1, 2, 2), (0, 1, 2, 3),
                                                        (0, 1, 2, 3)))
    with pytest.raises(TypeError, match="preferred_element_type i16 is incompatible with f32"):
        conv(x, w, (1, 1), "SAME", feature_group_count=2, preferred_element_type=np.int16)
    with pytest.raises(TypeError, match="must not be narrower"):
        conv(x, w, (1, 1), "SAME", feature_group_count=2, preferred_element_type=np.float16)
    with pytest.raises(ValueError, match="precision"):
        conv(x, w, (1, 1), "SAME", feature_group_count=2, precision="bogus")
