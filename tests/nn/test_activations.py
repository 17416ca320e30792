"""Activations against jax.nn: values and derivatives, including at the kinks."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite import nn

POINTS = np.array([-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0], np.float32)
NAMES = ["relu", "relu6", "sigmoid", "log_sigmoid", "softplus", "silu", "gelu", "elu",
         "celu", "selu", "leaky_relu", "hard_tanh", "hard_sigmoid", "identity", "tanh",
         "hard_silu", "hard_swish", "mish", "soft_sign", "squareplus", "sparse_plus",
         "sparse_sigmoid"]


@pytest.mark.parametrize("name", NAMES)
def test_activation_values_and_derivatives_equal_jax(name):
    ours, theirs = getattr(nn, name), getattr(jax.nn, name)
    np.testing.assert_allclose(np.asarray(ours(fnp.asarray(POINTS))),
                               np.asarray(theirs(jnp.asarray(POINTS))), rtol=1e-6, atol=1e-6)
    g = fl.jit(fl.vmap(fl.grad(ours)))(POINTS)
    want = jax.vmap(jax.grad(theirs))(jnp.asarray(POINTS))
    np.testing.assert_allclose(np.asarray(g), np.asarray(want), rtol=1e-5, atol=1e-6)


def test_logaddexp_derivative_at_a_tie_is_one_half():
    for f, jf in [(fnp.logaddexp, jnp.logaddexp), (fnp.logaddexp2, jnp.logaddexp2)]:
        for a, b in [(0.0, 0.0), (2.0, 2.0), (1.0, -2.0), (-3.0, 5.0)]:
            got = fl.grad(f, argnums=(0, 1))(a, b)
            want = jax.grad(jf, argnums=(0, 1))(a, b)
            np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5)
    assert float(fnp.logaddexp(-np.inf, -np.inf)) == -np.inf


@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_softmax_with_where_ignores_large_masked_entries(fn):
    x = np.array([[-1e4, -1e4, 5.0], [1.0, 2.0, 3.0]], np.float32)
    where = np.array([[True, True, False], [True, False, True]])
    got = getattr(nn, fn)(fnp.asarray(x), where=fnp.asarray(where))
    want = getattr(jax.nn, fn)(jnp.asarray(x), where=jnp.asarray(where))
    np.testing.assert_allclose(np.asarray(got)[where], np.asarray(want)[where], rtol=1e-6)


def test_log1mexp_both_regimes_and_derivative():
    x = np.array([1e-6, 1e-3, 0.5, np.log(2.0), 1.0, 10.0, 40.0], np.float32)
    np.testing.assert_allclose(nn.log1mexp(x), jax.nn.log1mexp(x), rtol=1e-6)
    np.testing.assert_allclose(fl.vmap(fl.grad(nn.log1mexp))(x),
                               jax.vmap(jax.grad(jax.nn.log1mexp))(x), rtol=1e-5)


@pytest.mark.parametrize("kwargs", [{}, {"axis": 1}, {"axis": 0, "keepdims": True},
                                    {"axis": 1, "where": "positive"}])
def test_logmeanexp_equals_jax(kwargs):
    x = np.random.default_rng(0).standard_normal((3, 5)).astype(np.float32)
    kwargs = dict(kwargs, where=x > 0) if kwargs.get("where") else kwargs
    np.testing.assert_allclose(nn.logmeanexp(x, **kwargs), jax.nn.logmeanexp(x, **kwargs),
                               rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(fl.grad(lambda v: nn.logmeanexp(v, **kwargs).sum())(x),
                               jax.grad(lambda v: jax.nn.logmeanexp(v, **kwargs).sum())(x),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kwargs", [{}, {"axis": 0}, {"algorithm": "stable"},
                                    {"mean": 0.5, "variance": 2.0, "epsilon": 0.1}])
def test_standardize_equals_jax(kwargs):
    x = np.random.default_rng(1).standard_normal((4, 6)).astype(np.float32)
    np.testing.assert_allclose(nn.standardize(x, **kwargs), jax.nn.standardize(x, **kwargs),
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(fl.grad(lambda v: (nn.standardize(v, **kwargs) ** 3).sum())(x),
                               jax.grad(lambda v: (jax.nn.standardize(v, **kwargs) ** 3).sum())(
                                   x), rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="algorithm"):
        nn.standardize(x, algorithm="exact")
