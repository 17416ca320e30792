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
         "celu", "selu", "leaky_relu", "hard_tanh", "hard_sigmoid"]


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
