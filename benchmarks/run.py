"""Side-by-side benchmarks: functorch_lite against JAX (and torch.func, when torch is
installed) in one process, interleaved (A B C, B C A, ...) so machine drift cancels; outputs
are checked to agree before timing.

    make bench            # or: python benchmarks/run.py [--quick] [--only SUBSTRING]
                          #                              [--json out.json]

Prints the median time of each contestant and the medians of the paired ratios ours / JAX
and ours / torch. Lower is better; 1.0 means parity; "-" means the workload has no
counterpart there (or torch is not installed). torch runs eagerly (no torch.compile), in
float32, on all CPUs, which is how torch.func users run it. The nn rows (nn_rows.py) put
whole training steps against Flax + optax and torch.nn, and one row against torch.compile.
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import itertools
import json
import math
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite import lax

try:
    import torch
    import torch.func
    import torch.nn.functional as torch_F
    torch.set_num_threads(os.cpu_count() or 1)
except ImportError:  # torch is optional: its column then shows "-"
    torch = None

CONTESTANTS = ("ours", "jax", "torch")


# ---------------------------------------------------------------------------------------
# timing and checking

def _block(x):
    for leaf in jax.tree_util.tree_leaves(x):
        if hasattr(leaf, "block_until_ready"):
            leaf.block_until_ready()
    return x


SETTLE_S = 0.02  # idle time before each timed turn, not counted


@contextlib.contextmanager
def gc_paused():
    """Collect once, then keep Python's cyclic GC off (like timeit): a full collection of
    this process's heap (JAX, torch and ours together) takes ~0.1 s and would otherwise land
    on whichever contestant happens to cross the allocation threshold."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def paired(fns: dict[str, Callable | None], repeats: int, inner: int) -> dict:
    """Time each contestant (``None`` ones are left out) in turn, ``inner`` calls per turn,
    ``repeats`` rounds: A B C, B C A, C A B, ... Returns the median seconds per call of each
    and the median over rounds of the paired ratios ours / jax and ours / torch.

    Each turn starts after a short idle pause, and the order rotates each round: torch's
    OpenMP threads (and XLA's pool) keep spinning for a while after a call returns, which
    otherwise slows whoever runs next on a 2-core machine."""
    live = {k: f for k, f in fns.items() if f is not None}
    names = list(live)
    samples: dict[str, list[float]] = {k: [] for k in live}
    for f in live.values():  # warm-up, outside the timing
        _block(f())
    with gc_paused():
        for r in range(repeats):
            shift = r % len(names)
            for k in names[shift:] + names[:shift]:
                f = live[k]
                gc.collect(1)  # young garbage only: cheap, and outside the timing
                time.sleep(SETTLE_S)
                t0 = time.perf_counter()
                for _ in range(inner):
                    _block(f())
                samples[k].append((time.perf_counter() - t0) / inner)
    return _summarize(samples)


def _summarize(samples: dict[str, list[float]]) -> dict:
    out: dict[str, Any] = {"unit": "s"}
    for k in CONTESTANTS:
        out[k] = statistics.median(samples[k]) if k in samples else None
    for k, key in (("jax", "ratio"), ("torch", "ratio_torch")):
        out[key] = (statistics.median(a / b for a, b in zip(samples["ours"], samples[k]))
                    if k in samples else None)
    return out


def agree(x, y, tol=1e-4, what="outputs"):
    xs, ys = jax.tree_util.tree_leaves(x), jax.tree_util.tree_leaves(y)
    assert len(xs) == len(ys), f"{what}: {len(xs)} vs {len(ys)} leaves"
    for u, v in zip(xs, ys):
        np.testing.assert_allclose(np.asarray(u), np.asarray(v), rtol=tol, atol=tol,
                                   err_msg=what)


def bound(f: Callable, *args) -> Callable:
    """``f(*args)`` as a call with no arguments, for timing."""
    return lambda: f(*args)


def check_and_time(fns: dict[str, Callable | None], repeats: int, inner: int,
                   tol: float = 1e-4) -> dict:
    """Call every contestant once, check each agrees with ours, then time them all."""
    outs = {k: f() for k, f in fns.items() if f is not None}
    for k, out in outs.items():
        if k != "ours":
            agree(outs["ours"], out, tol, what=f"ours vs {k}")
    return paired(fns, repeats, inner)


def counts(quick: bool, quick_counts: tuple[int, int], full_counts: tuple[int, int]):
    """(repeats, inner) for this mode."""
    return quick_counts if quick else full_counts


# ---------------------------------------------------------------------------------------
# the few array operations the models need, once per framework, so that every model below
# is written once and runs unchanged on all three

class Ops(NamedTuple):
    tanh: Callable
    relu: Callable
    log_softmax: Callable      # along the last axis
    sum: Callable              # of all elements
    mean: Callable             # mean(x, axes)
    conv3x3: Callable          # conv3x3(x NCHW, w OIHW), stride 1, 'SAME' padding
    scan: Callable | None
    asarray: Callable          # a NumPy array as this framework's array


FL = Ops(tanh=fnp.tanh, relu=fl.nn.relu, log_softmax=fl.nn.log_softmax, sum=fnp.sum,
         mean=lambda x, axes: fnp.mean(x, axis=axes),
         conv3x3=lambda x, w: lax.conv_general_dilated(x, w, (1, 1), "SAME"),
         scan=lax.scan, asarray=fnp.asarray)

JAX = Ops(tanh=jnp.tanh, relu=jax.nn.relu, log_softmax=jax.nn.log_softmax, sum=jnp.sum,
          mean=lambda x, axes: jnp.mean(x, axis=axes),
          conv3x3=lambda x, w: jax.lax.conv_general_dilated(x, w, (1, 1), "SAME"),
          scan=jax.lax.scan, asarray=jnp.asarray)

TORCH = None if torch is None else Ops(
    tanh=torch.tanh, relu=torch.relu, log_softmax=lambda z: torch.log_softmax(z, dim=-1),
    sum=torch.sum, mean=lambda x, axes: x.mean(dim=axes),
    conv3x3=lambda x, w: torch_F.conv2d(x, w, padding=1), scan=None,
    asarray=torch.from_numpy)


def convert(tree, ops: Ops):
    """Every NumPy leaf of nested lists/tuples as ``ops``' arrays (same nesting)."""
    if isinstance(tree, (list, tuple)):
        return type(tree)(convert(t, ops) for t in tree)
    return ops.asarray(tree)


def torch_value_and_grad(f):
    """torch.func's grad_and_value, returning (value, grad) like the other two."""
    g = torch.func.grad_and_value(f)
    return lambda *args: g(*args)[::-1]


# ---------------------------------------------------------------------------------------
# models

def mlp_logits(ops: Ops, params, x):
    for w, b in params[:-1]:
        x = ops.tanh(x @ w + b)
    w, b = params[-1]
    return x @ w + b


def cross_entropy(ops: Ops, logits, y):
    """Mean over examples of -sum(y * log_softmax(logits)); one example or a batch."""
    n = math.prod(logits.shape[:-1])
    return -ops.sum(ops.log_softmax(logits) * y) / n


def mlp_loss(ops: Ops):
    return lambda params, x, y: cross_entropy(ops, mlp_logits(ops, params, x), y)


def sgd(params, grads, lr=0.01):
    return [tuple(p - lr * g for p, g in zip(layer, dlayer))
            for layer, dlayer in zip(params, grads)]


def train_step(loss, value_and_grad):
    def step(params, x, y):
        value, grads = value_and_grad(loss)(params, x, y)
        return sgd(params, grads), value
    return step


def mlp_params(rng, sizes):
    return tuple(((rng.normal(size=(m, n)) * np.sqrt(2.0 / (m + n))).astype(np.float32),
                  np.zeros(n, np.float32)) for m, n in itertools.pairwise(sizes))


def mlp_data(sizes, batch, seed=0):
    """NumPy (params, x, one-hot y) for an MLP with layer ``sizes``."""
    rng = np.random.default_rng(seed)
    params = mlp_params(rng, sizes)
    x = rng.normal(size=(batch, sizes[0])).astype(np.float32)
    y = np.eye(sizes[-1], dtype=np.float32)[rng.integers(0, sizes[-1], batch)]
    return params, x, y


MLP_SIZES = [784, 512, 512, 10]
MLP_BATCH = 128


# ---------------------------------------------------------------------------------------
# rows: dispatch and eager overheads

def bench_dispatch(quick):
    """Overhead of calling an already-compiled jitted tiny function (a + 1 on 4 floats)."""
    x_fl, x_jax = fnp.ones((4,)), jnp.ones((4,))
    f, g = fl.jit(lambda a: a + 1.0), jax.jit(lambda a: a + 1.0)
    return check_and_time({"ours": lambda: f(x_fl), "jax": lambda: g(x_jax)},
                          *counts(quick, (7, 200), (21, 1000)))


def bench_eager_op(quick):
    """Overhead of one un-jitted elementwise op (x * 2 on 4 floats)."""
    x_fl, x_jax = fnp.ones((4,)), jnp.ones((4,))
    x_t = torch.ones(4) if torch else None
    return check_and_time({"ours": lambda: x_fl * 2.0, "jax": lambda: x_jax * 2.0,
                           "torch": (lambda: x_t * 2.0) if torch else None},
                          *counts(quick, (7, 200), (21, 1000)))


def bench_eager_mlp(quick):
    """Un-jitted MLP forward 784-512-512-10, batch 128: op-by-op dispatch plus the
    matmuls, every framework eagerly."""
    params, x, _ = mlp_data(MLP_SIZES, MLP_BATCH)
    fns = {name: bound(mlp_logits, ops, *convert((params, x), ops)) if ops else None
           for name, ops in (("ours", FL), ("jax", JAX), ("torch", TORCH))}
    return check_and_time(fns, *counts(quick, (7, 5), (21, 20)), tol=1e-3)


# ---------------------------------------------------------------------------------------
# rows: compilation and tracing

def bench_first_call(quick):
    """First call of a fresh jitted MLP training step: trace, lower, compile and run."""
    from xla_bridge import compile as fl_compile
    params, x, y = mlp_data(MLP_SIZES, MLP_BATCH)
    samples: dict[str, list[float]] = {"ours": [], "jax": []}
    for _ in range(3 if quick else 7):
        fl_compile._text_cache.clear()  # JAX compiles each fresh jit too
        # A fresh function each time, so tracing, lowering and compiling all happen.
        fresh = {"ours": fl.jit(train_step(mlp_loss(FL), fl.value_and_grad)),
                 "jax": jax.jit(train_step(mlp_loss(JAX), jax.value_and_grad))}
        for k, f in fresh.items():
            with gc_paused():
                t0 = time.perf_counter()
                _block(f(params, x, y))
                samples[k].append(time.perf_counter() - t0)
    return _summarize(samples)


def deep_fn(ops: Ops):
    """A fresh 200-layer function object: x = tanh(x @ w_i + b_i)."""
    def f(x, ws, bs):
        for w, b in zip(ws, bs):
            x = ops.tanh(x @ w + b)
        return x
    return f


def bench_trace(quick):
    """Tracing alone (no lowering, no compiling) of a 200-layer width-64 function:
    make_ir vs make_jaxpr, a fresh function object each call so no cache helps."""
    rng = np.random.default_rng(0)
    depth, width = 200, 64
    ws = [rng.normal(size=(width, width)).astype(np.float32) / np.sqrt(width)
          for _ in range(depth)]
    bs = [np.zeros(width, np.float32) for _ in range(depth)]
    x = rng.normal(size=(8, width)).astype(np.float32)
    # The function itself agrees (evaluated eagerly), then only tracing is timed.
    agree(deep_fn(FL)(FL.asarray(x), convert(ws, FL), convert(bs, FL)),
          deep_fn(JAX)(JAX.asarray(x), convert(ws, JAX), convert(bs, JAX)), 1e-4)
    return paired({"ours": lambda: fl.make_ir(deep_fn(FL))(x, ws, bs),
                   "jax": lambda: jax.make_jaxpr(deep_fn(JAX))(x, ws, bs)},
                  *counts(quick, (5, 3), (21, 5)))


# ---------------------------------------------------------------------------------------
# rows: steady-state compiled workloads

def step_fns(loss, params, x, y):
    """The training step of ``loss(ops)`` for each contestant (jitted for ours and JAX,
    torch.func eagerly), bound to its own copies of ``params, x, y``."""
    ours = fl.jit(train_step(loss(FL), fl.value_and_grad))
    theirs = jax.jit(train_step(loss(JAX), jax.value_and_grad))
    fns = {"ours": bound(ours, *convert((params, x, y), FL)),
           "jax": bound(theirs, *convert((params, x, y), JAX)), "torch": None}
    if torch:
        step = train_step(loss(TORCH), torch_value_and_grad)
        fns["torch"] = bound(step, *convert((params, x, y), TORCH))
    return fns


def mlp_step_fns():
    """The MLP training step of each contestant, bound to its own arrays."""
    return step_fns(mlp_loss, *mlp_data(MLP_SIZES, MLP_BATCH))


def bench_mlp_step(quick):
    """Steady-state MLP training step 784-512-512-10, batch 128: value_and_grad of the
    softmax cross-entropy and an SGD update (jitted for ours and JAX)."""
    return check_and_time(mlp_step_fns(), *counts(quick, (7, 5), (31, 20)))


def bench_per_example_grads(quick):
    """Per-example gradients: jit(vmap(grad(loss), in_axes=(None, 0, 0))) of an MLP
    784-256-10 (tanh, softmax cross-entropy), batch 64."""
    params, x, y = mlp_data([784, 256, 10], 64)

    def build(ops, vmap, grad, jit=lambda f: f, **axes):
        return bound(jit(vmap(grad(mlp_loss(ops)), **axes)), *convert((params, x, y), ops))
    fns = {"ours": build(FL, fl.vmap, fl.grad, fl.jit, in_axes=(None, 0, 0)),
           "jax": build(JAX, jax.vmap, jax.grad, jax.jit, in_axes=(None, 0, 0)),
           "torch": build(TORCH, torch.func.vmap, torch.func.grad, in_dims=(None, 0, 0))
           if torch else None}
    return check_and_time(fns, *counts(quick, (5, 2), (21, 5)), tol=1e-4)


def hessian_fn(ops: Ops, a):
    """f(x) = sum(tanh(A @ x)**2) + 0.5 * x @ x."""
    def f(x):
        t = ops.tanh(a @ x)
        return ops.sum(t * t) + 0.5 * (x @ x)
    return f


def bench_hessian(quick):
    """Dense Hessian (forward over reverse) of a 200-dimensional scalar function."""
    n = 200
    rng = np.random.default_rng(0)
    a = (rng.normal(size=(n, n)) / np.sqrt(n)).astype(np.float32)
    x = rng.normal(size=(n,)).astype(np.float32)
    ours = fl.jit(fl.hessian(hessian_fn(FL, FL.asarray(a))))
    theirs = jax.jit(jax.hessian(hessian_fn(JAX, JAX.asarray(a))))
    fns = {"ours": bound(ours, FL.asarray(x)), "jax": bound(theirs, JAX.asarray(x)),
           "torch": None}
    if torch:
        h = torch.func.hessian(hessian_fn(TORCH, TORCH.asarray(a)))
        fns["torch"] = bound(h, TORCH.asarray(x))
    return check_and_time(fns, *counts(quick, (7, 5), (21, 20)), tol=1e-4)


def rnn_loss(ops: Ops):
    """sum(h_T**2) for h_{t+1} = tanh(h_t @ W + x_t @ U + b), as one scan."""
    def loss(params, xs, h0):
        w, u, b = params

        def cell(h, x):
            return ops.tanh(h @ w + x @ u + b), None
        h, _ = ops.scan(cell, h0, xs)
        return ops.sum(h * h)
    return loss


def bench_scan_rnn(quick):
    """Gradient (w.r.t. W, U, b) of a 100-step scan RNN, hidden 128, input 32, batch 16."""
    steps, hidden, inp, batch = 100, 128, 32, 16
    rng = np.random.default_rng(0)
    params = ((rng.normal(size=(hidden, hidden)) * 0.9 / np.sqrt(hidden)).astype(np.float32),
              (rng.normal(size=(inp, hidden)) / np.sqrt(inp)).astype(np.float32),
              np.zeros(hidden, np.float32))
    xs = rng.normal(size=(steps, batch, inp)).astype(np.float32)
    h0 = np.zeros((batch, hidden), np.float32)
    ours, theirs = fl.jit(fl.grad(rnn_loss(FL))), jax.jit(jax.grad(rnn_loss(JAX)))
    return check_and_time({"ours": bound(ours, *convert((params, xs, h0), FL)),
                           "jax": bound(theirs, *convert((params, xs, h0), JAX))},
                          *counts(quick, (7, 5), (21, 20)), tol=1e-3)


def cnn_loss(ops: Ops):
    """conv3x3(8)+relu, conv3x3(16)+relu, spatial mean, dense 10, softmax cross-entropy."""
    def loss(params, x, y):
        (w1, b1), (w2, b2), (w3, b3) = params
        h = ops.relu(ops.conv3x3(x, w1) + b1)
        h = ops.relu(ops.conv3x3(h, w2) + b2)
        return cross_entropy(ops, ops.mean(h, (2, 3)) @ w3 + b3, y)
    return loss


def bench_cnn_step(quick):
    """Small CNN training step, batch 64 of 1x16x16 images (NCHW): value_and_grad and SGD
    (jitted for ours and JAX; torch.func with conv2d eagerly)."""
    rng = np.random.default_rng(0)

    def he(*shape):
        return (rng.normal(size=shape) * np.sqrt(2.0 / math.prod(shape[1:]))).astype(
            np.float32)
    params = ((he(8, 1, 3, 3), np.zeros((8, 1, 1), np.float32)),
              (he(16, 8, 3, 3), np.zeros((16, 1, 1), np.float32)),
              (he(10, 16).T.copy(), np.zeros(10, np.float32)))
    x = rng.normal(size=(64, 1, 16, 16)).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 64)]
    return check_and_time(step_fns(cnn_loss, params, x, y), *counts(quick, (7, 5), (21, 20)),
                          tol=1e-4)


# ---------------------------------------------------------------------------------------
# rows: how close to the machine

def matmul_gflops(matmul, asarray, n=1024, tries=5):
    """Best-of-``tries`` GFLOP/s of a float32 n x n @ n x n (2 n^3 FLOPs)."""
    rng = np.random.default_rng(0)
    a, b = (asarray(rng.normal(size=(n, n)).astype(np.float32)) for _ in range(2))
    _block(matmul(a, b))
    best = math.inf
    for _ in range(tries):
        t0 = time.perf_counter()
        _block(matmul(a, b))
        best = min(best, time.perf_counter() - t0)
    return 2 * n ** 3 / best / 1e9


def bench_limit(quick):
    """This machine's NumPy float32 matmul GFLOP/s, and the GFLOP/s the MLP training step
    (784-512-512-10, b128) achieves: FLOPs counted analytically, forward 2*B*sum(m*n),
    a training step about 3x that. XLA's own jitted matmul is shown too: on this machine it
    can beat NumPy's BLAS, so it is the tighter ceiling."""
    tries = 5 if quick else 10
    peak = matmul_gflops(np.matmul, np.asarray, tries=tries)
    xla_peak = matmul_gflops(jax.jit(jnp.matmul), jnp.asarray, tries=tries)
    fns = mlp_step_fns()
    fns["torch"] = None  # the limit is about the compiled step
    t = paired(fns, *counts(quick, (7, 5), (21, 20)))
    flops = 3 * 2 * MLP_BATCH * sum(m * n for m, n in itertools.pairwise(MLP_SIZES))
    ours, theirs = flops / t["ours"] / 1e9, flops / t["jax"] / 1e9
    return {"unit": "GFLOP/s", "numpy": peak, "xla_matmul": xla_peak, "ours": ours,
            "jax": theirs, "ours_frac": ours / peak, "jax_frac": theirs / peak,
            "ours_frac_xla": ours / xla_peak, "jax_frac_xla": theirs / xla_peak,
            "ratio": t["ratio"]}


# ---------------------------------------------------------------------------------------
# rows: memory of checkpointing

def _checkpoint_setup():
    depth, width, batch = 32, 256, 64
    rng = np.random.default_rng(0)
    ws = [rng.normal(size=(width, width)).astype(np.float32) / np.sqrt(width)
          for _ in range(depth)]
    x = rng.normal(size=(batch, width)).astype(np.float32)

    def layer(w, h):
        return fnp.tanh(h @ w)

    def loss(ws, h, remat):
        f = fl.checkpoint(layer) if remat else layer
        for w in ws:
            h = f(w, h)
        return fnp.sum(h * h)
    return ws, x, loss


def bench_checkpoint_residuals(quick):
    """Bytes held between the forward and the backward pass of grad (the residuals of the
    linearized program) for a 32-layer tanh MLP, with and without checkpointing each layer.
    The weights themselves are inputs, not counted."""
    from functorch_lite.interpreters import partial_eval
    ws, x, loss = _checkpoint_setup()
    sizes = []
    for remat in (True, False):
        _, linear = partial_eval.linearize_flat(
            lambda *leaves, remat=remat: [loss(list(leaves[:-1]), leaves[-1], remat)],
            [*ws, x])
        ids = {id(w) for w in ws} | {id(x)}
        sizes.append(sum(np.asarray(c).nbytes for c in linear.consts if id(c) not in ids
                         and np.ndim(c) > 0))
    return {"unit": "B", "ours": sizes[0], "jax": sizes[1], "ratio": sizes[0] / sizes[1],
            "labels": ["remat", "plain"]}


def bench_checkpoint_xla_temp(quick):
    """XLA's temp allocation for jit(grad) of the same MLP (XLA schedules the whole step
    and may keep fewer buffers live on its own)."""
    ws, x, loss = _checkpoint_setup()
    plain = fl.jit(fl.grad(lambda ws, h: loss(ws, h, False))).lower(ws, x).compile()
    remat = fl.jit(fl.grad(lambda ws, h: loss(ws, h, True))).lower(ws, x).compile()
    a = plain.memory_analysis().temp_size_in_bytes
    b = remat.memory_analysis().temp_size_in_bytes
    return {"unit": "B", "ours": b, "jax": a, "ratio": b / max(a, 1),
            "labels": ["remat", "plain"]}


# The nn rows (training steps with nn + nn.optim against Flax + optax and torch.nn, and
# nn.fit's overhead) live in nn_rows.py, which imports the helpers above from this module.
sys.modules.setdefault("run", sys.modules[__name__])
import jit_rows  # noqa: E402
import nn_rows  # noqa: E402
import sharding_rows  # noqa: E402  (its row runs in a child with 8 host devices)

ROWS = [
    ("cached jit dispatch (tiny fn)", bench_dispatch),
    ("un-jitted elementwise op", bench_eager_op),
    ("un-jitted MLP forward 784-512-512-10 b128", bench_eager_mlp),
    ("first call MLP step 784-512-512-10", bench_first_call),
    ("trace 200-layer fn (make_ir vs make_jaxpr)", bench_trace),
    ("steady MLP step 784-512-512-10 b128", bench_mlp_step),
    ("per-example grads MLP 784-256-10 b64", bench_per_example_grads),
    ("hessian of 200-d scalar fn", bench_hessian),
    ("scan RNN grad 100 steps h128 b16", bench_scan_rnn),
    ("CNN train step 2 conv b64 1x16x16", bench_cnn_step),
    ("limit: GFLOP/s of MLP step vs NumPy matmul", bench_limit),
    ("checkpoint: residual bytes of grad, remat vs plain", bench_checkpoint_residuals),
    ("checkpoint: XLA temp bytes of jit(grad), remat vs plain", bench_checkpoint_xla_temp),
    *jit_rows.ROWS,
    *nn_rows.ROWS,
    *sharding_rows.ROWS,
]


# ---------------------------------------------------------------------------------------
# printing

def _fmt_time(t):
    if t is None:
        return f"{'-':>10s}"
    if t < 1e-3:
        return f"{t * 1e6:7.1f} us"
    if t < 1:
        return f"{t * 1e3:7.2f} ms"
    return f"{t:7.3f} s "


def _fmt_ratio(r):
    return f"{r:5.2f}" if r is not None else f"{'-':>5s}"


def format_row(name: str, r: dict) -> str:
    if r["unit"] == "s":
        # A row may name its contestants otherwise ("labels": {"jax": "flax+optax"}) and
        # add a remark ("note").
        label = {k: r.get("labels", {}).get(k, k) for k in CONTESTANTS}
        cols = "  ".join(f"{label[k]} {_fmt_time(r[k])}" for k in CONTESTANTS)
        note = f"   ({r['note']})" if "note" in r else ""
        return (f"{name:56s} {cols}   {label['ours']}/{label['jax']} "
                f"{_fmt_ratio(r['ratio'])}  {label['ours']}/{label['torch']} "
                f"{_fmt_ratio(r['ratio_torch'])}{note}")
    if r["unit"] == "B":
        a, b = r["labels"]
        return (f"{name:56s} {a} {r['ours'] / 2**20:8.2f} MiB  {b} {r['jax'] / 2**20:8.2f} "
                f"MiB   ratio {r['ratio']:5.2f}")
    if r["unit"] == "GFLOP/s":
        return (f"{name:56s} numpy matmul {r['numpy']:6.1f} GFLOP/s, XLA matmul "
                f"{r['xla_matmul']:6.1f};  ours {r['ours']:6.1f} ({r['ours_frac']:.2f} of "
                f"numpy, {r['ours_frac_xla']:.2f} of XLA)  jax {r['jax']:6.1f} "
                f"({r['jax_frac']:.2f}, {r['jax_frac_xla']:.2f})   ours/jax {r['ratio']:5.2f}")
    raise ValueError(r["unit"])


def _reason(e: BaseException) -> str:
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    return f"{type(e).__name__}: {' | '.join(lines[:3])}"[:300]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--only", default="", metavar="SUBSTRING",
                        help="run only the rows whose name contains SUBSTRING")
    parser.add_argument("--json", default=os.path.join("bench_results", "latest.json"))
    args = parser.parse_args(argv)
    torch_v = f"torch {torch.__version__} ({torch.get_num_threads()} threads)" if torch \
        else "no torch"
    print(f"functorch_lite {fl.__version__} vs jax {jax.__version__} vs {torch_v} on "
          f"{fl.default_backend()} ({os.cpu_count()} cpus)")
    results = {}
    t_start = time.perf_counter()
    for name, fn in ROWS:
        if args.only not in name:
            continue
        try:
            r = fn(args.quick)
        except Exception as e:  # noqa: BLE001 - one broken row must not hide the others
            r = {"skipped": _reason(e)}
            print(f"{name:56s} skipped: {r['skipped']}")
        else:
            print(format_row(name, r))
        results[name] = r
        sys.stdout.flush()
    print(f"total {time.perf_counter() - t_start:.1f} s")
    os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(results, f, indent=2)
    print(f"saved {args.json}")


if __name__ == "__main__":
    main()
