"""The ``jit`` rows of ``run.py``: patterns of calling ``jit`` that real programs use, beyond
calling one long-lived jitted function (that is run.py's "cached jit dispatch" row).

"inline ``jit(f)(x)``": a new ``jit(f)`` wrapper on every call, as code written
``jax.jit(f)(x)`` inside a loop or a function body does. JAX keys its trace cache on the
function, so only the first call traces and compiles; the row times the steady state:
building the wrapper, finding the cached executable and running it.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

import functorch_lite as fl
import functorch_lite.numpy as fnp

from run import check_and_time, counts


def _affine(a):
    """A tiny function, so the row measures jit's overheads, not the computation."""
    return a * 2.0 + 1.0


def bench_inline_jit(quick):
    """``jit(f)(x)`` with a new wrapper each call, f = a * 2 + 1 on 4 floats."""
    x_fl, x_jax = fnp.ones((4,)), jnp.ones((4,))
    return check_and_time({"ours": lambda: fl.jit(_affine)(x_fl),
                           "jax": lambda: jax.jit(_affine)(x_jax)},
                          *counts(quick, (7, 200), (21, 1000)))


ROWS = [
    ("inline `jit(f)(x)` (new wrapper each call)", bench_inline_jit),
]
