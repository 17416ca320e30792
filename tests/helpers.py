"""Small helpers shared by the program-level tests (``conftest.py`` puts this folder on the
import path)."""
import contextlib
import glob
import os
import re
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np

# Options for compiling a JAX oracle quickly (it is run once; its speed does not matter).
FAST_COMPILE = {"xla_backend_optimization_level": 0, "xla_llvm_disable_expensive_passes": True}


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


def python_with_env(code: str, timeout: int = 120, **env) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter with these environment variables (flags read at
    import); on the CPU unless ``JAX_PLATFORMS`` is given (None: unset)."""
    full = dict(os.environ, JAX_PLATFORMS="cpu")
    for name, value in env.items():
        if value is None:
            full.pop(name, None)
        else:
            full[name] = value
    return subprocess.run([sys.executable, "-c", code], env=full, capture_output=True,
                          text=True, timeout=timeout)


@contextlib.contextmanager
def flags_restored(names):
    """Put these ``functorch_lite.config`` flags back as they were on the way out."""
    from functorch_lite import config
    saved = {name: config.read(name) for name in names}
    try:
        yield
    finally:
        for name, value in saved.items():
            config.update(name, value)


def optimized_hlo(f, args, where, **options) -> str:
    """``jit(f)(*args)``'s program as XLA optimized it (dumped through ``compiler_options``
    into the new directory ``where``; more XLA ``options`` may be given), with its
    metadata and module line left out so that two compiles of one program compare equal."""
    import functorch_lite as fl
    fl.jit(f, compiler_options={"xla_dump_to": str(where), "xla_dump_hlo_as_text": True,
                                **options})(*args)
    (path,) = glob.glob(os.path.join(str(where), "*cpu_after_optimizations.txt"))
    with open(path) as fh:
        text = re.sub(r", metadata=\{[^}]*\}", "", fh.read())
    return "\n".join(line for line in text.splitlines() if not line.startswith("HloModule"))


def assert_same(ours, theirs, tol=1e-5, weak_type=False):
    """``ours`` equals ``theirs`` (usually ``jax.numpy``'s result) in shape, dtype and,
    to ``tol``, value (NaNs where theirs are); tuples and lists element by element; with
    ``weak_type`` the weak types agree too."""
    if isinstance(theirs, (tuple, list)):
        assert isinstance(ours, (tuple, list)) and len(ours) == len(theirs), (ours, theirs)
        for o, t in zip(ours, theirs):
            assert_same(o, t, tol, weak_type)
        return
    if weak_type:
        assert getattr(ours, "weak_type", False) == getattr(theirs, "weak_type", False)
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype, \
        (ours.shape, theirs.shape, ours.dtype, theirs.dtype)
    np.testing.assert_allclose(ours, theirs, rtol=tol, atol=tol, equal_nan=True)


def jax_oracle(case):
    """``case(jnp)``, compiled whole where its shapes are static (one quick compilation
    instead of one per jnp operation), else run eagerly."""
    try:
        compiled = jax.jit(lambda: case(jnp)).lower().compile(FAST_COMPILE)
    except Exception:  # a data-dependent shape: eager
        return case(jnp)
    return compiled()
