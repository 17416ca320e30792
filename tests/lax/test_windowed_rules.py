"""jvp, transpose and batching rules of the windowed reductions
(functorch_lite/lax/windowed/) and of the two helper primitives of max/min pooling
derivatives (reduce_window_select, select_and_scatter_add), checked against finite
differences, the transpose identity, jax and a Python loop over the batch."""

import jax
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import functorch_lite as fl
from functorch_lite import lax
from functorch_lite.core.avals import ShapedArray
from functorch_lite.interpreters import ad
from functorch_lite.interpreters.transpose import UndefinedPrimal
from functorch_lite.lax import windowed
from rule_checks import check_batching, check_grads, x64

SMALL = settings(max_examples=6, deadline=None)
select_p = windowed.reduce_window_select_p
scatter_p = windowed.select_and_scatter_add_p

OURS = {"sum": lax.reduce_window_sum, "max": lax.reduce_window_max,
        "min": lax.reduce_window_min}
JAX = {"sum": (jax.lax.add, 0.0), "max": (jax.lax.max, -np.inf),
       "min": (jax.lax.min, np.inf)}


def _distinct(shape, seed=0, dtype=np.float64):
    """Values without ties (at least 0.1 apart), so max/min positions are unambiguous and
    finite differences do not cross a switch of the selected element."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    vals = rng.permutation(n) * 0.1 + rng.uniform(0, 0.02, n) - 0.05 * n
    return vals.reshape(shape).astype(dtype)


def _rand(shape, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).normal(size=shape).astype(dtype)


# (shape, window, strides, padding, base_dilation, window_dilation). No window of the
# max/min cases is all padding or holes (its -inf output would make finite differences
# nan).
CASES = {
    "1d_valid": ((6,), (3,), (2,), "VALID", None, None),
    "1d_padded": ((7,), (3,), (2,), [(1, 2)], None, None),
    "1d_negative_padding_base_dilation": ((7,), (2,), (3,), [(-1, 1)], (2,), None),
    "2d_same": ((4, 5), (2, 3), (1, 2), "SAME", None, None),
    "2d_base_dilation": ((3, 4), (2, 2), (2, 1), [(1, 0), (0, 1)], (2, 1), None),
    "3d_same_lower": ((2, 4, 3), (1, 2, 2), (1, 2, 1), "SAME_LOWER", None, None),
}
DILATED_WINDOW = ((3, 4), (2, 2), (2, 1), [(1, 0), (0, -1)], (2, 1), (1, 2))
NAMES = list(CASES)
# the cases jax.grad of max pooling handles (it rejects negative padding)
JAX_OK = [n for n in NAMES if "negative" not in n]


def _f(kind, case):
    shape, window, strides, padding, base, wdil = case
    return lambda x: OURS[kind](x, window, strides, padding, base, wdil)  # noqa: E731


def _jf(kind, case):
    shape, window, strides, padding, base, wdil = case
    op, init = JAX[kind]
    return lambda x: jax.lax.reduce_window(x, init, op, window, strides, padding,  # noqa
                                           base, wdil)


def test_rules_are_declared():
    for p in (lax.reduce_window_sum_p, lax.reduce_window_max_p, lax.reduce_window_min_p,
              select_p, scatter_p):
        assert p.jvp_rule and p.batch_rule, p
    for p in (lax.reduce_window_sum_p, select_p, scatter_p):
        assert p.transpose_rule, p


# ---------------------------------------------------------------------------------------
# reduce_window_sum (linear)

@pytest.mark.parametrize("name", NAMES + ["dilated_window"])
def test_reduce_window_sum_grads(name):
    case = CASES.get(name, DILATED_WINDOW)
    with x64():
        check_grads(_f("sum", case), (_rand(case[0], 1),), order=2)


@pytest.mark.parametrize("name", JAX_OK + ["dilated_window"])
def test_reduce_window_sum_vjp_matches_jax(name):
    case = CASES.get(name, DILATED_WINDOW)
    x = _rand(case[0], 1, np.float32)
    out, vjp = fl.vjp(_f("sum", case), x)
    ct = _rand(out.shape, 2, np.float32)
    (got,), (want,) = vjp(ct), jax.vjp(_jf("sum", case), x)[1](ct)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------------------
# max / min pooling

@pytest.mark.parametrize("kind", ["max", "min"])
@pytest.mark.parametrize("name", NAMES)
def test_pooling_grads(kind, name):
    case = CASES[name]
    with x64():
        check_grads(_f(kind, case), (_distinct(case[0], 1),), order=2)


@pytest.mark.parametrize("kind", ["max", "min"])
@pytest.mark.parametrize("name", JAX_OK)
def test_pooling_jvp_and_vjp_match_jax(kind, name):
    case = CASES[name]
    x, t = _distinct(case[0], 1, np.float32), _rand(case[0], 2, np.float32)
    _, got = fl.jvp(_f(kind, case), (x,), (t,))
    _, want = jax.jvp(_jf(kind, case), (x,), (t,))
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-6, atol=1e-6)
    out, vjp = fl.vjp(_f(kind, case), x)
    ct = _rand(out.shape, 3, np.float32)
    (got,), (want,) = vjp(ct), jax.vjp(_jf(kind, case), x)[1](ct)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("kind", ["max", "min"])
def test_pooling_with_window_dilation_has_jvp_but_no_vjp(kind):
    x, t = _distinct(DILATED_WINDOW[0], 1, np.float32), _rand(DILATED_WINDOW[0], 2, np.float32)
    _, got = fl.jvp(_f(kind, DILATED_WINDOW), (x,), (t,))
    _, want = jax.jvp(_jf(kind, DILATED_WINDOW), (x,), (t,))
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-6, atol=1e-6)
    with pytest.raises(NotImplementedError, match="reduce_window_select"):
        fl.grad(lambda x: lax.reduce_sum(_f(kind, DILATED_WINDOW)(x), (0, 1)))(x)


def test_pooling_ties_pick_one_element():
    # all-equal windows: the whole cotangent goes to one element of each window
    x = np.ones((6,), np.float32)
    (g,) = fl.vjp(lambda x: lax.reduce_window_max(x, (2,), (2,)), x)[1](
        np.array([1.0, 2.0, 3.0], np.float32))
    assert sorted(np.asarray(g).tolist()) == [0, 0, 0, 1, 2, 3]
    np.testing.assert_array_equal(np.asarray(g).reshape(3, 2).sum(1), [1, 2, 3])


def test_complex_max_pooling_jvp_selects_lexicographic_max():
    x = np.array([1 + 2j, 1 + 3j, 2 - 1j, 0j, -1 + 5j], np.complex64)
    t = np.array([10, 20, 30, 40, 50], np.complex64) * (1 + 1j)
    _, got = fl.jvp(lambda x: lax.reduce_window_max(x, (2,), (1,)), (x,), (t,))
    np.testing.assert_array_equal(np.asarray(got), np.array([20, 30, 30, 40]) * (1 + 1j))


def test_integer_pooling_has_zero_derivative():
    x = np.arange(6, dtype=np.int32)
    out, t = fl.jvp(lambda x: lax.reduce_window_max(x, (2,), (2,)), (x,),
                    (np.zeros((6,), np.dtype([("float0", np.void, 0)])),))
    np.testing.assert_array_equal(np.asarray(out), [1, 3, 5])
    assert t.shape == (3,) and t.dtype == np.dtype([("float0", np.void, 0)])


@pytest.mark.parametrize("kind", ["max", "min"])
def test_pooling_hessian_vector_product_matches_jax(kind):
    case = CASES["2d_same"]

    def f(x):
        return lax.reduce_sum(lax.sin(_f(kind, case)(x)) * _f(kind, case)(x), (0, 1))

    def jf(x):
        return jax.numpy.sum(jax.numpy.sin(_jf(kind, case)(x)) * _jf(kind, case)(x))

    x, v = _distinct(case[0], 1, np.float32), _rand(case[0], 2, np.float32)
    _, got = fl.jvp(fl.grad(f), (x,), (v,))
    _, want = jax.jvp(jax.grad(jf), (x,), (v,))
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-5)
    # and reverse-over-reverse: the gradient of a function of the gradient
    got = fl.grad(lambda x: lax.reduce_sum(lax.sin(fl.grad(f)(x)), (0, 1)))(x)
    want = jax.grad(lambda x: jax.numpy.sum(jax.numpy.sin(jax.grad(jf)(x))))(x)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-5)


def test_jit_vmap_grad_of_max_pooling_matches_jax():
    def loss(x):
        y = lax.reduce_window_max(x, (2, 2, 1), (2, 2, 1), "SAME")
        return lax.reduce_sum(y * y, (0, 1, 2))

    def jloss(x):
        y = jax.lax.reduce_window(x, -np.inf, jax.lax.max, (2, 2, 1), (2, 2, 1), "SAME")
        return jax.numpy.sum(y * y)

    xs = _distinct((3, 5, 4, 2), 1, np.float32)  # a batch of HWC images, batched on axis 0
    got = fl.jit(fl.vmap(fl.grad(loss)))(xs)
    want = jax.vmap(jax.grad(jloss))(xs)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-6, atol=1e-6)
    xs = np.moveaxis(xs, 0, 2)  # batched in the middle
    got = fl.jit(fl.vmap(fl.grad(loss), in_axes=2, out_axes=2))(xs)
    want = jax.vmap(jax.grad(jloss), in_axes=2, out_axes=2)(xs)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-6, atol=1e-6)


# ---------------------------------------------------------------------------------------
# the helper primitives directly

def _params(case, kind, window_dilation=True):
    shape, window, strides, padding, base, wdil = case
    n = len(shape)
    if isinstance(padding, str):
        padding = lax.padtype_to_pads(shape, window, strides, padding)
    p = dict(kind=kind, window_dimensions=tuple(window), window_strides=tuple(strides),
             padding=tuple(tuple(q) for q in padding), base_dilation=tuple(base or (1,) * n))
    if window_dilation:
        p["window_dilation"] = tuple(wdil or (1,) * n)
    return p


def _windows_shape(case):
    return _f("max", case)(np.zeros(case[0], np.float32)).shape


@pytest.mark.parametrize("kind", ["max", "min"])
@pytest.mark.parametrize("name", ["1d_padded", "2d_base_dilation"])
def test_helper_primitives_grads(kind, name):
    case = CASES[name]
    x = _distinct(case[0], 1)
    with x64():
        # linear in the tangent / source; the selecting operand is held fixed
        check_grads(lambda t: select_p.bind(x, t, **_params(case, kind)),
                    (_rand(case[0], 2),), order=2)
        check_grads(lambda s: scatter_p.bind(s, x, **_params(case, kind, False)),
                    (_rand(_windows_shape(case), 3),), order=2)
        # derivative in the selecting operand is zero (away from ties)
        check_grads(lambda x: select_p.bind(x, _rand(case[0], 2), **_params(case, kind)),
                    (x,), order=1)


def test_helper_transposes_of_zero_cotangent():
    case = CASES["1d_valid"]
    x = _distinct(case[0], 1, np.float32)
    ct = ad.Zero(ShapedArray((2,), np.float32))
    t = UndefinedPrimal(ShapedArray((6,), np.float32))
    assert select_p.transpose_rule(ct, x, t, **_params(case, "max")) == [None, None]
    s = UndefinedPrimal(ShapedArray((2,), np.float32))
    ct = ad.Zero(ShapedArray((6,), np.float32))
    assert scatter_p.transpose_rule(ct, s, x, **_params(case, "max", False)) == [None, None]
    rule = lax.reduce_window_sum_p.transpose_rule
    params = _params(case, "max")
    del params["kind"]
    assert rule(ad.Zero(ShapedArray((2,), np.float32)), t, **params) == [None]


def _batched(x, axis, n=3, seed=0):
    if axis is None:
        return x
    return np.stack([x + 0.001 * i * _rand(x.shape, seed + i, x.dtype) for i in range(n)],
                    axis)


@pytest.mark.parametrize("kind", ["sum", "max", "min"])
@pytest.mark.parametrize("name", ["1d_padded", "2d_base_dilation", "3d_same_lower"])
def test_reduce_window_batching(kind, name):
    case = CASES[name]
    x = _distinct(case[0], 1, np.float32)
    for axis in range(len(case[0]) + 1):
        check_batching(_f(kind, case), (_batched(x, axis),), (axis,))


@pytest.mark.parametrize("name", ["1d_padded", "2d_base_dilation", "3d_same_lower"])
def test_helper_primitives_batching(name):
    case = CASES[name]
    nd = len(case[0])
    x = _distinct(case[0], 1, np.float32)
    t = _rand(case[0], 2, np.float32)
    s = _rand(_windows_shape(case), 3, np.float32)
    sel = lambda x, t: select_p.bind(x, t, **_params(case, "max"))  # noqa: E731
    sca = lambda s, x: scatter_p.bind(s, x, **_params(case, "min", False))  # noqa: E731
    for axes in [(0, None), (None, nd), (nd, 0), (1, 1)]:
        check_batching(sel, (_batched(x, axes[0]), _batched(t, axes[1], seed=5)), axes)
        check_batching(sca, (_batched(s, axes[0], seed=5), _batched(x, axes[1])), axes)


@st.composite
def pooling_problems(draw):
    """Random 2-D pooling: windows, strides, padding (no all-padding window), base
    dilation and a batch axis."""
    shape = tuple(draw(st.integers(2, 4)) for _ in range(2))
    window = tuple(draw(st.integers(1, 3)) for _ in range(2))
    strides = tuple(draw(st.integers(1, 2)) for _ in range(2))
    base = tuple(draw(st.integers(1, 2)) for _ in range(2))
    window = tuple(max(w, b) for w, b in zip(window, base))  # every window meets an element
    padding = tuple((draw(st.integers(0, w - 1)), draw(st.integers(-1, w - 1)))
                    for w in window)
    kind = draw(st.sampled_from(["sum", "max", "min"]))
    axis = draw(st.integers(0, 2))
    return kind, (shape, window, strides, padding, base, None), axis


@SMALL
@given(pooling_problems())
def test_pooling_random_problems(problem):
    kind, case, axis = problem
    x = _distinct(case[0], 4, np.float32)
    if 0 in _windows_shape(case):
        return
    out, vjp = fl.vjp(_f(kind, case), x)
    t = _rand(case[0], 5, np.float32)
    ct = _rand(out.shape, 6, np.float32)
    _, jt = fl.jvp(_f(kind, case), (x,), (t,))
    (g,) = vjp(ct)
    np.testing.assert_allclose(np.vdot(ct, jt), np.vdot(g, t), rtol=1e-4, atol=1e-4)
    if all(hi >= 0 for _, hi in case[3]):
        _, want = jax.jvp(_jf(kind, case), (x,), (t,))
        np.testing.assert_allclose(np.asarray(jt), np.asarray(want), rtol=1e-5, atol=1e-5)
        (want,) = jax.vjp(_jf(kind, case), x)[1](ct)
        np.testing.assert_allclose(np.asarray(g), np.asarray(want), rtol=1e-5, atol=1e-5)
    check_batching(_f(kind, case), (_batched(x, axis),), (axis,))
