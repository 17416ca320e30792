"""Helpers the layer tests share to compare with Flax: closeness of arrays (shape first,
compared in float32 so bfloat16 results work) and moving parameter trees to JAX."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def close(got, want, rtol: float, atol: float) -> None:
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, (got.shape, want.shape)
    np.testing.assert_allclose(got.astype(np.float32), np.asarray(want, np.float32),
                               rtol=rtol, atol=atol)


def to_jax(tree):
    """Our parameter tree as JAX arrays (for a Flax module's ``apply``)."""
    return jax.tree_util.tree_map(lambda a: jnp.asarray(np.asarray(a)), tree)


def shapes(tree):
    return jax.tree_util.tree_map(lambda a: tuple(a.shape), tree)
