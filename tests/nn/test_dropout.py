"""Dropout: the drop rate (checked statistically), the 1 / (1 - rate) scaling, identity in
inference, masks from the key (jax.random.bernoulli as the oracle), broadcast_dims, the
gradient, jit and vmap, per-example grads of a model with Dropout and BatchNorm, and the
errors for a missing rng and a bad rate."""
import flax.linen as flax_nn
import jax
import ml_dtypes
import numpy as np
import pytest

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite import nn, random
from functorch_lite.nn.dropout import Dropout
from functorch_lite.nn.normalization import BatchNorm

from helpers import rand

KEY = random.PRNGKey(0)
N = 100_000


def drop(rate, x, key=KEY, **kw):
    return Dropout(rate, **kw).apply({}, x, rng=key, train=True)[0]


class WithKey(nn.Module):
    """Hands Dropout its key directly (Flax's ``rng`` argument of the call)."""

    def __init__(self, rate, **kw):
        self.drop = Dropout(rate, **kw)

    def __call__(self, x, key):
        return self.drop(x, rng=key)


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.9])
def test_drop_rate_and_scaling(rate):
    y = np.asarray(drop(rate, fnp.ones(N)))
    dropped = np.mean(y == 0)
    sigma = np.sqrt(rate * (1 - rate) / N)
    assert abs(dropped - rate) < 4 * sigma, (dropped, rate)
    kept = y[y != 0]
    np.testing.assert_allclose(kept, np.float32(1) / np.float32(1 - rate), rtol=1e-6)


def test_mask_is_jax_bernoulli_of_the_key():
    x = rand(0, 8, 50) + 5
    y, _ = WithKey(0.3).apply({}, x, random.PRNGKey(3), train=True)
    mask = np.asarray(jax.random.bernoulli(jax.random.PRNGKey(3), 0.7, (8, 50)))
    np.testing.assert_array_equal(np.asarray(y) != 0, mask)
    np.testing.assert_allclose(np.asarray(y)[mask], x[mask] / np.float32(0.7), rtol=1e-6)


def test_identity_in_inference_and_deterministic_overrides_train():
    x = rand(1, 16, 32)
    for y in (Dropout(0.5).apply({}, x)[0],                       # train=False, no rng needed
              Dropout(0.5).apply({}, x, rng=KEY, train=True, deterministic=True)[0],
              Dropout(0.0).apply({}, x, train=True)[0]):          # rate 0: no rng needed
        np.testing.assert_array_equal(y, x)
    y = Dropout(0.5).apply({}, x, rng=KEY, train=False, deterministic=False)[0]
    assert 0.3 < np.mean(np.asarray(y) == 0) < 0.7


def test_rate_one_gives_zeros_and_zero_grads():
    x = np.array([1.0, np.inf, np.nan, -2.0], np.float32)
    y, _ = Dropout(1.0).apply({}, x, train=True)                  # no key needed either
    np.testing.assert_array_equal(y, np.zeros(4))
    g = fl.grad(lambda x: fnp.sum(Dropout(1.0).apply({}, x, train=True)[0]))(x[[0, 3]])
    np.testing.assert_array_equal(g, np.zeros(2))


def test_keys_decide_the_mask():
    x = fnp.ones((64, 64))
    a, b = drop(0.5, x, random.PRNGKey(1)), drop(0.5, x, random.PRNGKey(1))
    c = drop(0.5, x, random.PRNGKey(2))
    np.testing.assert_array_equal(a, b)
    assert np.mean(np.asarray(a) != np.asarray(c)) > 0.3
    # two Dropout layers of one model draw different masks from the same rng
    model = nn.Sequential([Dropout(0.5), Dropout(0.5)])
    pair, _ = model.apply({}, x, rng=KEY, train=True)
    first = drop(0.5, x)
    assert not np.array_equal(np.asarray(pair) != 0, np.asarray(first) != 0)


@pytest.mark.parametrize("dims", [(1,), (-1,), (0, 2)])
def test_broadcast_dims_share_the_mask(dims):
    x = fnp.ones((20, 30, 40))
    mask = np.asarray(drop(0.4, x, broadcast_dims=dims)) != 0
    for d in dims:
        np.testing.assert_array_equal(mask, np.take(mask, [0], axis=d).repeat(x.shape[d], d))
    assert 0.25 < 1 - mask.mean() < 0.55
    y, _ = WithKey(0.4, broadcast_dims=dims).apply({}, x, random.PRNGKey(4), train=True)
    shape = [1 if i in dims or i - 3 in dims else n for i, n in enumerate(x.shape)]
    want = np.broadcast_to(jax.random.bernoulli(jax.random.PRNGKey(4), 0.6, shape), x.shape)
    np.testing.assert_array_equal(np.asarray(y) != 0, want)


def test_gradient_is_mask_over_keep():
    x, w = rand(2, 32, 16) + 10, rand(3, 32, 16)           # no zeros in x: y == 0 iff dropped
    rate = 0.3

    def loss(x):
        return fnp.sum(Dropout(rate).apply({}, x, rng=KEY, train=True)[0] * w)
    mask = np.asarray(drop(rate, x)) != 0
    want = mask * w / np.float32(1 - rate)
    np.testing.assert_allclose(fl.grad(loss)(x), want, rtol=1e-6)
    np.testing.assert_allclose(fl.jit(fl.grad(loss))(x), want, rtol=1e-6)


def test_jit_vmap_and_bfloat16():
    x = rand(5, 6, 100) + 3
    keys = random.split(KEY, 6)
    layer = Dropout(0.25)
    run = lambda k, x: layer.apply({}, x, rng=k, train=True)[0]  # noqa: E731
    per_example = fl.vmap(run)(keys, x)
    for i in range(6):
        np.testing.assert_array_equal(per_example[i], run(keys[i], x[i]))
    np.testing.assert_array_equal(fl.jit(run)(keys[0], x), run(keys[0], x))
    xb = x.astype(ml_dtypes.bfloat16)
    y = run(keys[0], xb)
    assert y.dtype == fnp.bfloat16
    kept = np.asarray(y) != 0
    np.testing.assert_array_equal(kept, np.asarray(run(keys[0], x)) != 0)
    np.testing.assert_array_equal(np.asarray(y)[kept],
                                  (xb / ml_dtypes.bfloat16(0.75))[kept])


def test_per_example_grads_with_batchnorm_eval_and_dropout_match_jax():
    model = nn.Sequential([nn.Dense(8), BatchNorm(), nn.relu, Dropout(0.5), nn.Dense(1)])
    flax_model = flax_nn.Sequential([
        flax_nn.Dense(8), flax_nn.BatchNorm(use_running_average=True), flax_nn.relu,
        flax_nn.Dropout(0.5, deterministic=True), flax_nn.Dense(1)])
    xs, ys = rand(14, 6, 5), rand(15, 6)
    params, state = model.init(KEY, xs)
    params = jax.tree_util.tree_map(lambda p: np.asarray(p) + rand(16, *p.shape, scale=0.3),
                                    params)
    _, state = model.apply(params, xs * 2 + 1, state=state, rng=KEY, train=True)
    state = jax.tree_util.tree_map(np.asarray, state)

    def loss(p, x, y):
        out, _ = model.apply(p, x[None], state=state)             # eval: train=False
        return (out[0, 0] - y) ** 2
    grads = fl.vmap(fl.grad(loss), in_axes=(None, 0, 0))(params, xs, ys)

    def flax_loss(p, x, y):
        out = flax_model.apply({"params": p, "batch_stats": {"layers_1": state["1"]}}, x[None])
        return (out[0, 0] - y) ** 2
    fp = {f"layers_{k}": v for k, v in params.items()}
    want = jax.jit(jax.vmap(jax.grad(flax_loss), in_axes=(None, 0, 0)))(fp, xs, ys)
    for k in params:
        for name in params[k]:
            assert grads[k][name].shape == (6,) + tuple(params[k][name].shape)
            np.testing.assert_allclose(grads[k][name], want[f"layers_{k}"][name], rtol=1e-4,
                                       atol=1e-5)


def test_missing_rng_names_the_layer_and_the_fix():
    model = nn.Sequential([nn.Dense(4), Dropout(0.5)])
    params, _ = model.init(KEY, fnp.ones((2, 3)))
    with pytest.raises(ValueError, match=r"Sequential\[1\] \(Dropout\): .*pass rng= to "
                                         r"model\.apply.*train=False"):
        model.apply(params, fnp.ones((2, 3)), train=True)
    with pytest.raises(ValueError, match=r"^Dropout: .*rng="):
        Dropout(0.1).apply({}, fnp.ones(3), train=True)


@pytest.mark.parametrize("rate", [-0.1, 1.5, float("nan"), "half", None])
def test_bad_rate_is_a_value_error(rate):
    with pytest.raises(ValueError, match="Dropout: rate"):
        Dropout(rate)


def test_bad_broadcast_dims():
    with pytest.raises(ValueError, match=r"Dropout: broadcast_dims \(3,\) has axis 3, out of "
                                         r"range for an input of rank 2; input shape \(4, 5\)"):
        Dropout(0.5, broadcast_dims=(3,)).apply({}, fnp.ones((4, 5)), rng=KEY, train=True)
