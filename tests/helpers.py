"""Small helpers shared by the program-level tests (``conftest.py`` puts this folder on the
import path)."""
import subprocess
import sys

import jax
import numpy as np


def rand(seed, *shape, scale=1.0):
    """float32 normal draws of ``shape`` (times ``scale``) from generator ``seed``."""
    return (np.random.default_rng(seed).normal(size=shape) * scale).astype(np.float32)


def assert_tree_close(got, want, rtol=1e-5, atol=1e-5, check_dtype=True):
    """Same pytree structure, and leaf by leaf the same shape, dtype and (nearly) values;
    ``want`` is usually JAX's result."""
    g_leaves, g_tree = jax.tree_util.tree_flatten(got)
    w_leaves, w_tree = jax.tree_util.tree_flatten(want)
    assert g_tree == w_tree, (g_tree, w_tree)
    for g, w in zip(g_leaves, w_leaves):
        g, w = np.asarray(g), np.asarray(w)
        assert g.shape == w.shape, (g.shape, w.shape)
        if check_dtype:
            assert g.dtype == w.dtype, (g.dtype, w.dtype)
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)


def run_python(code: str, cwd, timeout: int = 300) -> str:
    """Run ``code`` in a fresh interpreter in ``cwd``; its stdout (a failure shows its
    stderr)."""
    out = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True,
                         text=True, timeout=timeout)
    assert out.returncode == 0, out.stderr
    return out.stdout
