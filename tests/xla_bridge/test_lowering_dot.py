"""The CPU lowering of contractions over both operands' leading axes (a dense layer's
weight gradient): a transposed operand behind an optimization barrier, then a product in
the layout XLA:CPU's fast kernels take, a result that comes out transposed behind a
barrier too (xla_bridge/lowering/linalg.py). Checked against NumPy over shapes and both choices of
operand, in XLA's optimized program, and that other contractions are left as they
were."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import functorch_lite as fl
from functorch_lite import lax
from helpers import optimized_hlo
from rule_checks import x64
from xla_bridge.lowering import linalg as lowering

SMALL = settings(max_examples=12, deadline=None)


@pytest.fixture
def always(monkeypatch):
    """Take the rewrite for every size, so small shapes exercise it."""
    monkeypatch.setattr(lowering, "_MIN_CONTRACTION_FLOPS", 0)


def _contract(a, b, n, precision=None):
    dn = ((tuple(range(n)), tuple(range(n))), ((), ()))
    return fl.jit(lambda x, y: lax.dot_general(x, y, dn, precision=precision))


def _text(a, b, n):
    return _contract(a, b, n).lower(a, b).as_text()


@SMALL
@given(lead=st.lists(st.integers(1, 6), min_size=1, max_size=2),
       free_l=st.lists(st.integers(1, 5), min_size=1, max_size=2),
       free_r=st.lists(st.integers(1, 5), min_size=1, max_size=2),
       seed=st.integers(0, 2**16))
def test_matches_numpy_over_shapes(lead, free_l, free_r, seed):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=lead + free_l).astype(np.float32)
    b = rng.normal(size=lead + free_r).astype(np.float32)
    n = len(lead)
    ref = np.tensordot(a.astype(np.float64), b.astype(np.float64), (range(n), range(n)))
    old = lowering._MIN_CONTRACTION_FLOPS
    lowering._MIN_CONTRACTION_FLOPS = 0       # hypothesis runs outside fixtures' scope
    try:
        out = _contract(a, b, n)(a, b)
    finally:
        lowering._MIN_CONTRACTION_FLOPS = old
    assert out.shape == ref.shape and out.dtype == np.float32
    np.testing.assert_allclose(np.asarray(out), ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("lhs_shape,rhs_shape,swapped", [
    ((64, 8), (64, 32), False),        # the left operand is the cheaper copy
    ((64, 32), (64, 8), True),         # the right one and the small result are
    ((4, 16, 24), (4, 16, 3), True),   # two leading axes
    ((4, 16, 3), (4, 16, 24), False),
])
def test_both_choices_of_operand(always, lhs_shape, rhs_shape, swapped):
    rng = np.random.default_rng(0)
    a = rng.normal(size=lhs_shape).astype(np.float32)
    b = rng.normal(size=rhs_shape).astype(np.float32)
    n = 2 if len(lhs_shape) == 3 else 1
    text = _text(a, b, n)
    # The swapped form transposes the right operand and then the result, which a second
    # barrier keeps XLA from folding into the product.
    assert text.count("stablehlo.optimization_barrier") == (2 if swapped else 1), text
    assert text.count("stablehlo.transpose") == (2 if swapped else 1), text
    ref = np.tensordot(a, b, (range(n), range(n)))
    np.testing.assert_allclose(np.asarray(_contract(a, b, n)(a, b)), ref, rtol=1e-5,
                               atol=1e-5)


def test_other_contractions_are_left_alone(always):
    rng = np.random.default_rng(1)

    def f32(*shape):
        return rng.normal(size=shape).astype(np.float32)
    # The usual product (trailing axis of the left operand), a batched product, float64
    # operands and a contraction over the leading axis of one operand only.
    cases = [(f32(8, 4), f32(4, 5), (((1,), (0,)), ((), ()))),
             (f32(3, 8, 4), f32(3, 8, 5), (((1,), (1,)), ((0,), (0,)))),
             (f32(8, 4), f32(5, 8), (((0,), (1,)), ((), ())))]
    for a, b, dn in cases:
        text = fl.jit(lambda x, y, dn=dn: lax.dot_general(x, y, dn)).lower(a, b).as_text()
        assert "optimization_barrier" not in text, dn
    with x64():
        a, b = np.ones((8, 4)), np.ones((8, 5))
        assert "optimization_barrier" not in _text(a, b, 1)


def test_small_products_keep_xlas_form():
    a, b = np.ones((8, 4), np.float32), np.ones((8, 5), np.float32)
    assert "optimization_barrier" not in _text(a, b, 1)
    a, b = np.ones((1024, 128), np.float32), np.ones((1024, 512), np.float32)
    assert "optimization_barrier" in _text(a, b, 1)


def test_dense_layer_gradient_matches_jax():
    import jax
    import jax.numpy as jnp
    rng = np.random.default_rng(2)
    x = rng.normal(size=(16, 64, 128)).astype(np.float32)
    w = rng.normal(size=(128, 512)).astype(np.float32) / 12
    w2 = rng.normal(size=(512, 128)).astype(np.float32) / 24

    def loss(np_, x, w, w2):
        return np_.sum(np_.tanh(np_.tanh(x @ w) @ w2) ** 2)
    ours = fl.jit(fl.grad(lambda w, w2: loss(fl.numpy, x, w, w2), argnums=(0, 1)))(w, w2)
    theirs = jax.jit(jax.grad(lambda w, w2: loss(jnp, x, w, w2), argnums=(0, 1)))(w, w2)
    text = fl.jit(fl.grad(lambda w, w2: loss(fl.numpy, x, w, w2), argnums=(0, 1))).lower(
        w, w2).as_text()
    # w's gradient moves x (one barrier); w2's moves the smaller dy, then the result (two).
    assert text.count("stablehlo.optimization_barrier") == 3
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(np.asarray(o), np.asarray(t), rtol=2e-4, atol=2e-4)


def test_precision_follows_its_operand(always):
    """The precision pair names the operands in order, so it is swapped with them."""
    a, b = np.ones((64, 32), np.float32), np.ones((64, 8), np.float32)   # swapped form
    pair = (lax.Precision.HIGHEST, lax.Precision.DEFAULT)
    text = _contract(a, b, 1, precision=pair).lower(a, b).as_text()
    assert ("precision_config = [#stablehlo<precision DEFAULT>, "
            "#stablehlo<precision HIGHEST>]") in text, text
    a, b = b, a                                                        # unswapped form
    text = _contract(a, b, 1, precision=pair).lower(a, b).as_text()
    assert ("precision_config = [#stablehlo<precision HIGHEST>, "
            "#stablehlo<precision DEFAULT>]") in text, text


def test_xla_keeps_the_fast_form_of_dense_layer_gradients(tmp_path):
    """What the rewrite is for: after XLA's own passes, no product of the two weight
    gradients of a two-layer MLP contracts its left operand's leading axis (the slow
    kernel). Without the barrier on the product, XLA folds the transpose that follows
    ``(dy^T x)^T`` into it and brings that form back."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(1024, 128)).astype(np.float32)
    w = rng.normal(size=(128, 512)).astype(np.float32) / 12
    w2 = rng.normal(size=(512, 100)).astype(np.float32) / 24

    def loss(w, w2):
        return fl.numpy.sum(fl.numpy.tanh(fl.numpy.tanh(x @ w) @ w2) ** 2)
    hlo = optimized_hlo(fl.grad(loss, argnums=(0, 1)), (w, w2), tmp_path)
    dots = [line for line in hlo.splitlines() if " dot(" in line]
    assert len(dots) >= 4, dots      # two forward products, their gradients
    slow = [d for d in dots if "lhs_contracting_dims={0}" in d]
    assert not slow, slow
