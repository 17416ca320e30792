"""jvp, transpose and batching rules of conv_general_dilated
(functorch_lite/lax/convolution.py), checked against finite differences, the transpose
identity, jax.vjp / jax.vmap and a Python loop over the batch."""

import jax
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import functorch_lite as fl
from functorch_lite import lax
from functorch_lite.core.avals import ShapedArray
from functorch_lite.interpreters import ad
from functorch_lite.interpreters.transpose import UndefinedPrimal
from rule_checks import check_batching, check_grads, x64

SMALL = settings(max_examples=6, deadline=None)


def _rand(shape, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).normal(size=shape).astype(dtype)


def _case(lhs, rhs, strides, padding, lhs_dil=None, rhs_dil=None, dn=None, fgc=1, bgc=1):
    return dict(lhs=lhs, rhs=rhs, params=dict(
        window_strides=strides, padding=padding, lhs_dilation=lhs_dil, rhs_dilation=rhs_dil,
        dimension_numbers=dn, feature_group_count=fgc, batch_group_count=bgc))


CASES = {
    "1d_valid": _case((2, 3, 6), (4, 3, 3), (1,), "VALID"),
    "1d_strided_explicit": _case((1, 2, 7), (3, 2, 2), (2,), [(1, 2)]),
    "1d_negative_padding_rhs_dil": _case((2, 2, 7), (2, 2, 2), (3,), [(-1, 2)], None, (2,)),
    "1d_lhs_dilation": _case((1, 2, 4), (2, 2, 3), (1,), [(2, 1)], (2,), None),
    "2d_same_nchw": _case((1, 2, 5, 4), (3, 2, 3, 2), (2, 1), "SAME"),
    "2d_nhwc_hwio": _case((2, 5, 4, 2), (3, 2, 2, 3), (1, 2), "SAME_LOWER", None, (1, 2),
                          ("NHWC", "HWIO", "NHWC")),
    "2d_dilations_padding": _case((1, 2, 3, 4), (2, 2, 2, 2), (2, 1), [(1, 0), (0, 2)],
                                  (2, 1), (1, 2)),
    "1d_feature_groups": _case((2, 4, 6), (6, 2, 3), (2,), [(1, 0)], None, None, None, 2),
    "2d_depthwise_nhwc": _case((1, 4, 4, 3), (2, 2, 1, 3), (1, 1), "VALID", None, None,
                               ("NHWC", "HWIO", "NHWC"), 3),
    "1d_batch_groups": _case((4, 3, 6), (4, 3, 3), (2,), [(1, 0)], None, (2,), None, 1, 2),
    "2d_batch_groups_cnhw": _case((2, 6, 4, 3), (6, 2, 2, 2), (1, 1), [(0, 1), (1, 0)],
                                  (1, 2), None, ("CNHW", "OIHW", "NCHW"), 1, 3),
}
NAMES = list(CASES)


def _conv(params):
    return lambda x, w: lax.conv_general_dilated(x, w, **params)  # noqa: E731


def _jconv(params):
    return lambda x, w: jax.lax.conv_general_dilated(x, w, **params)  # noqa: E731


def test_rules_are_declared():
    p = lax.conv_general_dilated_p
    assert p.jvp_rule and p.transpose_rule and p.batch_rule


@pytest.mark.parametrize("name", NAMES)
def test_conv_vjp_matches_jax(name):
    case = CASES[name]
    x, w = _rand(case["lhs"], 1, np.float32), _rand(case["rhs"], 2, np.float32)
    out, vjp = fl.vjp(_conv(case["params"]), x, w)
    jout, jvjp = jax.vjp(_jconv(case["params"]), x, w)
    np.testing.assert_allclose(np.asarray(out), np.asarray(jout), rtol=1e-5, atol=1e-5)
    ct = _rand(out.shape, 3, np.float32)
    for got, want in zip(vjp(ct), jvjp(ct)):
        assert got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", NAMES)
def test_conv_grads(name):
    case = CASES[name]
    with x64():
        check_grads(_conv(case["params"]), (_rand(case["lhs"], 1), _rand(case["rhs"], 2)),
                    order=2)


def _batched(shape, axis, seed, n=2):
    if axis is None:
        return _rand(shape, seed, np.float32)
    s = list(shape)
    s.insert(axis, n)
    return _rand(tuple(s), seed, np.float32)


@pytest.mark.parametrize("name", NAMES)
def test_conv_batching(name):
    case = CASES[name]
    f = _conv(case["params"])
    nd = len(case["lhs"])
    for k, axes in enumerate([(0, None), (None, nd), (nd, 1), (1, 0)]):
        args = (_batched(case["lhs"], axes[0], k), _batched(case["rhs"], axes[1], k + 10))
        check_batching(f, args, axes, rtol=1e-4, atol=1e-4)


def test_conv_transpose_of_zero_cotangent():
    case = CASES["1d_valid"]
    dn = lax.conv_dimension_numbers((2, 3, 6), (4, 3, 3), None)
    rule = lax.conv_general_dilated_p.transpose_rule
    ct = ad.Zero(ShapedArray((2, 4, 4), np.float32))
    x = UndefinedPrimal(ShapedArray(case["lhs"], np.float32))
    out = rule(ct, x, np.ones(case["rhs"], np.float32), window_strides=(1,),
               padding=((0, 0),), lhs_dilation=(1,), rhs_dilation=(1,), dimension_numbers=dn,
               feature_group_count=1, batch_group_count=1, precision=None,
               preferred_element_type=None)
    assert out == [None, None]


@st.composite
def conv_problems(draw):
    """Random 1-D convolutions: strides, padding, dilations, groups and batch axes."""
    groups = draw(st.sampled_from([(1, 1), (2, 1), (1, 2)]))
    fgc, bgc = groups
    n = draw(st.integers(1, 2)) * bgc
    cin = draw(st.integers(1, 2)) * fgc
    cout = draw(st.integers(1, 2)) * fgc * bgc
    k = draw(st.integers(1, 3))
    width = draw(st.integers(k, 6))
    stride, ld, rd = (draw(st.integers(1, 2)) for _ in range(3))
    padding = [(draw(st.integers(-1, 2)), draw(st.integers(0, 2)))]
    axes = draw(st.sampled_from([(0, None), (None, 3), (2, 0), (3, 2)]))
    return dict(lhs=(n, cin, width), rhs=(cout, cin // fgc, k), axes=axes, params=dict(
        window_strides=(stride,), padding=padding, lhs_dilation=(ld,), rhs_dilation=(rd,),
        feature_group_count=fgc, batch_group_count=bgc))


@SMALL
@given(conv_problems())
def test_conv_random_problems(problem):
    f, jf = _conv(problem["params"]), _jconv(problem["params"])
    x, w = _rand(problem["lhs"], 1, np.float32), _rand(problem["rhs"], 2, np.float32)
    out, vjp = fl.vjp(f, x, w)
    ct = _rand(out.shape, 3, np.float32)
    for got, want in zip(vjp(ct), jax.vjp(jf, x, w)[1](ct)):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-4, atol=1e-4)
    axes = problem["axes"]
    args = (_batched(problem["lhs"], axes[0], 4), _batched(problem["rhs"], axes[1], 5))
    check_batching(f, args, axes, rtol=1e-4, atol=1e-4)


def test_jit_vmap_grad_of_a_conv_loss():
    params = dict(window_strides=(2, 1), padding="SAME",
                  dimension_numbers=("NHWC", "HWIO", "NHWC"), feature_group_count=2)

    def loss(w, x):
        return lax.reduce_sum(lax.tanh(lax.conv_general_dilated(x, w, **params)),
                              (0, 1, 2, 3))

    def jloss(w, x):
        return jax.numpy.sum(jax.numpy.tanh(jax.lax.conv_general_dilated(x, w, **params)))

    w = _rand((3, 2, 2, 4), 1, np.float32)
    xs = _rand((3, 1, 5, 4, 4), 2, np.float32)  # a batch of 3 single-image inputs
    got = fl.jit(fl.vmap(fl.grad(loss), in_axes=(None, 0)))(w, xs)
    want = jax.vmap(jax.grad(jloss), in_axes=(None, 0))(w, xs)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-4, atol=1e-4)
    # per-kernel input gradients: a batch of kernels, one input
    ws = _rand((2, 3, 2, 2, 4), 3, np.float32)
    got = fl.jit(fl.vmap(fl.grad(loss, argnums=1), in_axes=(0, None)))(ws, xs[0])
    want = jax.vmap(jax.grad(jloss, argnums=1), in_axes=(0, None))(ws, xs[0])
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-4, atol=1e-4)


def test_second_order_conv_hvp_matches_jax():
    params = dict(window_strides=(1,), padding=[(1, 1)], rhs_dilation=(2,))

    def f(x, w):
        return lax.reduce_sum(lax.sin(lax.conv_general_dilated(x, w, **params)), (0, 1, 2))

    def jf(x, w):
        return jax.numpy.sum(jax.numpy.sin(jax.lax.conv_general_dilated(x, w, **params)))

    x, w = _rand((2, 2, 5), 1, np.float32), _rand((3, 2, 2), 2, np.float32)
    v = _rand((3, 2, 2), 3, np.float32)
    _, got = fl.jvp(lambda w: fl.grad(f, argnums=1)(x, w), (w,), (v,))
    _, want = jax.jvp(lambda w: jax.grad(jf, argnums=1)(x, w), (w,), (v,))
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-4, atol=1e-4)


def test_conv_preferred_element_type_cotangent_dtype():
    import ml_dtypes
    bf16 = np.dtype(ml_dtypes.bfloat16)
    params = dict(window_strides=(1,), padding="SAME", preferred_element_type=np.float32)
    x, w = _rand((2, 3, 6), 1, bf16), _rand((4, 3, 3), 2, bf16)
    out, vjp = fl.vjp(_conv(params), x, w)
    assert out.dtype == np.float32
    ct = _rand(out.shape, 3, np.float32)
    for got, want in zip(vjp(ct), jax.vjp(_jconv(params), x, w)[1](ct)):
        assert got.dtype == bf16
        np.testing.assert_allclose(np.asarray(got, np.float32), np.asarray(want, np.float32),
                                   rtol=2e-2, atol=2e-2)
