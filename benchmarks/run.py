"""Side-by-side benchmarks: functorch_lite against JAX in one process, interleaved
(A B A B ...) so machine drift cancels; outputs are checked to agree before timing.

    make bench            # or: python benchmarks/run.py [--quick] [--json out.json]

Prints the median time of each side and the median of the paired ratios (ours / JAX).
Lower is better; 1.0 means parity.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite import lax

import jax
import jax.numpy as jnp


def _block(x):
    for leaf in jax.tree_util.tree_leaves(x):
        if hasattr(leaf, "block_until_ready"):
            leaf.block_until_ready()
    return x


def paired(ours, theirs, repeats: int, inner: int):
    """Median seconds per call of each, and the median of paired ratios."""
    a, b, ratios = [], [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(inner):
            _block(ours())
        t1 = time.perf_counter()
        for _ in range(inner):
            _block(theirs())
        t2 = time.perf_counter()
        a.append((t1 - t0) / inner)
        b.append((t2 - t1) / inner)
        ratios.append(a[-1] / b[-1])
    return statistics.median(a), statistics.median(b), statistics.median(ratios)


def agree(x, y, tol=1e-4):
    xs, ys = jax.tree_util.tree_leaves(x), jax.tree_util.tree_leaves(y)
    assert len(xs) == len(ys), (len(xs), len(ys))
    for u, v in zip(xs, ys):
        np.testing.assert_allclose(np.asarray(u), np.asarray(v), rtol=tol, atol=tol)


def mlp_params(rng, sizes):
    return [(rng.normal(size=(m, n)).astype(np.float32) * np.sqrt(2.0 / (m + n)),
             np.zeros(n, np.float32)) for m, n in zip(sizes[:-1], sizes[1:])]


def loss_fl(params, x, y):
    for w, b in params[:-1]:
        x = fnp.tanh(x @ w + b)
    w, b = params[-1]
    logits = x @ w + b
    logp = logits - fl.nn.logsumexp(logits, axis=1, keepdims=True)
    return -fnp.mean(fnp.sum(logp * y, axis=1))


def loss_jax(params, x, y):
    for w, b in params[:-1]:
        x = jnp.tanh(x @ w + b)
    w, b = params[-1]
    logits = x @ w + b
    logp = jax.nn.log_softmax(logits, axis=1)
    return -jnp.mean(jnp.sum(logp * y, axis=1))


def step_fn(loss, grad, tree_map):
    def step(params, x, y):
        l, g = grad(loss)(params, x, y)
        return tree_map(lambda p, d: p - 0.01 * d, params, g), l
    return step


def bench_dispatch(quick):
    x_fl, x_jax = fnp.ones((4,)), jnp.ones((4,))
    f, g = fl.jit(lambda a: a + 1.0), jax.jit(lambda a: a + 1.0)
    agree(f(x_fl), g(x_jax))
    return paired(lambda: f(x_fl), lambda: g(x_jax), 7 if quick else 15, 200 if quick else 1000)


def bench_eager_op(quick):
    x_fl, x_jax = fnp.ones((4,)), jnp.ones((4,))
    agree(x_fl * 2.0 + 1.0, x_jax * 2.0 + 1.0)
    return paired(lambda: x_fl * 2.0, lambda: x_jax * 2.0, 7 if quick else 15,
                  200 if quick else 1000)


def _mlp_setup(sizes, batch):
    rng = np.random.default_rng(0)
    params = mlp_params(rng, sizes)
    x = rng.normal(size=(batch, sizes[0])).astype(np.float32)
    y = np.eye(sizes[-1], dtype=np.float32)[rng.integers(0, sizes[-1], batch)]
    return params, x, y


def bench_first_call(quick):
    from xla_bridge import compile as fl_compile
    params, x, y = _mlp_setup([784, 512, 512, 10], 128)
    times = []
    for _ in range(3 if quick else 5):
        fl_compile._text_cache.clear()  # JAX compiles each fresh jit too
        # A fresh function each time, so tracing, lowering and compiling all happen.
        ours = fl.jit(step_fn(loss_fl, fl.value_and_grad, fl.tree.map))
        theirs = jax.jit(step_fn(loss_jax, jax.value_and_grad, jax.tree_util.tree_map))
        t0 = time.perf_counter()
        _block(ours(params, x, y))
        t1 = time.perf_counter()
        _block(theirs(params, x, y))
        t2 = time.perf_counter()
        times.append((t1 - t0, t2 - t1))
    a = statistics.median(t for t, _ in times)
    b = statistics.median(t for _, t in times)
    return a, b, statistics.median(t / u for t, u in times)


def bench_mlp_step(quick):
    params, x, y = _mlp_setup([784, 512, 512, 10], 128)
    ours = fl.jit(step_fn(loss_fl, fl.value_and_grad, fl.tree.map))
    theirs = jax.jit(step_fn(loss_jax, jax.value_and_grad, jax.tree_util.tree_map))
    p_fl = fl.tree.map(fnp.asarray, params)
    p_jax = jax.tree_util.tree_map(jnp.asarray, params)
    agree(ours(p_fl, x, y)[1], theirs(p_jax, x, y)[1])
    x_fl, y_fl, x_j, y_j = fnp.asarray(x), fnp.asarray(y), jnp.asarray(x), jnp.asarray(y)
    return paired(lambda: ours(p_fl, x_fl, y_fl), lambda: theirs(p_jax, x_j, y_j),
                  5 if quick else 11, 5 if quick else 20)


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
            lambda *leaves: [loss(list(leaves[:-1]), leaves[-1], remat)], [*ws, x])
        ids = {id(w) for w in ws} | {id(x)}
        sizes.append(sum(np.asarray(c).nbytes for c in linear.consts if id(c) not in ids
                         and np.ndim(c) > 0))
    return sizes[0], sizes[1], sizes[0] / sizes[1]


def bench_checkpoint_xla_temp(quick):
    """XLA's temp allocation for jit(grad) of the same MLP (XLA schedules the whole step
    and may keep fewer buffers live on its own)."""
    ws, x, loss = _checkpoint_setup()
    plain = fl.jit(fl.grad(lambda ws, h: loss(ws, h, False))).lower(ws, x).compile()
    remat = fl.jit(fl.grad(lambda ws, h: loss(ws, h, True))).lower(ws, x).compile()
    a = plain.memory_analysis().temp_size_in_bytes
    b = remat.memory_analysis().temp_size_in_bytes
    return b, a, b / max(a, 1)


ROWS = [
    ("cached jit dispatch (tiny fn)", bench_dispatch, "s"),
    ("un-jitted elementwise op", bench_eager_op, "s"),
    ("first call MLP step 784-512-512-10", bench_first_call, "s"),
    ("steady MLP step 784-512-512-10 b128", bench_mlp_step, "s"),
    ("checkpoint: residual bytes of grad, remat vs plain", bench_checkpoint_residuals, "B"),
    ("checkpoint: XLA temp bytes of jit(grad), remat vs plain", bench_checkpoint_xla_temp, "B"),
]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--json", default=os.path.join("bench_results", "latest.json"))
    args = parser.parse_args(argv)
    print(f"functorch_lite {fl.__version__} vs jax {jax.__version__} on "
          f"{fl.default_backend()} ({os.cpu_count()} cpus)")
    results = {}
    for name, fn, unit in ROWS:
        ours, theirs, ratio = fn(args.quick)
        results[name] = {"ours": ours, "jax": theirs, "ratio": ratio, "unit": unit}
        if unit == "s":
            print(f"{name:55s} ours {ours * 1e6:10.1f} us   jax {theirs * 1e6:10.1f} us   "
                  f"ratio {ratio:5.2f}")
        else:
            print(f"{name:55s} remat {ours / 2**20:8.2f} MiB  plain {theirs / 2**20:8.2f} MiB"
                  f"  ratio {ratio:5.2f}")
        sys.stdout.flush()
    os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(results, f, indent=2)
    print(f"saved {args.json}")


if __name__ == "__main__":
    main()
