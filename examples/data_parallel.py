"""Data-parallel training of the digits MLP (examples/mlp_digits.py) over several devices:
each step's batch is split over a mesh axis, the parameters and optimizer state are
replicated, and XLA's SPMD partitioner turns the one jitted step into a program per device
whose gradients meet in an all-reduce.

    python examples/data_parallel.py                  # 8 forced host devices, one process
    python examples/data_parallel.py --devices 1      # the same on one device
    python examples/data_parallel.py --processes 2    # 2 processes on loopback, 4 devices each

All three print the same loss curve (to float tolerance: only the order of the gradient sum
differs), because everything is fixed: the seed, the batch order, full batches only. With
``--processes 2`` this script launches itself twice (a free local port for the
coordinator); each child feeds the rows of every batch that its own devices hold
(``fl.make_array_from_process_local_data``), and process 0 prints.
"""
import os

# XLA makes its host devices once, when the runtime starts, so the flag must be set before
# functorch_lite is imported (the launcher sets it for each child itself). Host devices only:
# a GPU plugin, if installed, stays out of the way.
if "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                               " --xla_force_host_platform_device_count=8").strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import argparse  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import functorch_lite as fl  # noqa: E402
import functorch_lite.numpy as fnp  # noqa: E402
from functorch_lite import nn, random  # noqa: E402
from functorch_lite.sharding import NamedSharding, P  # noqa: E402
from mlp_digits import load_data, make_mlp  # noqa: E402  (this folder is on sys.path)


def batch_order(n: int, batch_size: int, steps: int, seed: int) -> np.ndarray:
    """``(steps, batch_size)`` row indices: a fresh permutation of the ``n`` rows each epoch
    (NumPy's generator, so every process and mode sees the same), full batches only."""
    rng = np.random.default_rng(seed)
    per_epoch = n // batch_size
    epochs = -(-steps // per_epoch)
    order = [rng.permutation(n)[:per_epoch * batch_size].reshape(per_epoch, batch_size)
             for _ in range(epochs)]
    return np.concatenate(order)[:steps]


def local_rows(sharding: NamedSharding, global_shape: tuple) -> slice:
    """The rows of a batch that this process's devices hold (contiguous: the mesh lists
    each process's devices together)."""
    me = fl.process_index()
    rows = [index[0].indices(global_shape[0])[:2]
            for device, index in sharding.devices_indices_map(global_shape).items()
            if device.process_index == me]
    return slice(min(r[0] for r in rows), max(r[1] for r in rows))


def train(devices: int = 8, steps: int = 200, batch_size: int = 64,
          learning_rate: float = 2e-3, seed: int = 0, log_every: int = 10) -> list[float]:
    """Train for ``steps`` steps over ``devices`` devices (of every process); returns the
    loss of every step (each process gets the same)."""
    (x_train, y_train), (x_test, y_test) = load_data()
    mesh = fl.make_mesh((devices,), ("data",))
    replicated, batched = NamedSharding(mesh, P()), NamedSharding(mesh, P("data"))
    if batch_size % devices:
        raise ValueError(f"--batch-size {batch_size} must be divisible by --devices {devices}")
    mine = local_rows(batched, (batch_size,))

    def put(sharding, host):  # this process's piece of the global array
        return fl.make_array_from_process_local_data(sharding, np.asarray(host))

    model = make_mlp()
    params, _ = model.init(random.PRNGKey(seed), fnp.asarray(x_train[:1]))
    # Every process computed the same params (same seed); each gives its copy.
    params = fl.tree.map(lambda p: put(replicated, p), params)
    optimizer = nn.optim.adamw(learning_rate, weight_decay=1e-4)
    opt_state = fl.jit(optimizer.init, out_shardings=replicated)(params)

    def loss_fn(params, x, y):
        logits, _ = model.apply(params, x)
        return fnp.mean(nn.losses.softmax_cross_entropy_with_integer_labels(logits, y))

    def step(params, opt_state, x, y):
        loss, grads = fl.value_and_grad(loss_fn)(params, x, y)  # grads: an all-reduce
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return nn.optim.apply_updates(params, updates), opt_state, loss

    train_step = fl.jit(step, in_shardings=(replicated, replicated, batched, batched),
                        out_shardings=(replicated, replicated, replicated))
    say = print if fl.process_index() == 0 else (lambda *a, **k: None)
    say(f"MLP 64-256-128-10 on {devices} {fl.default_backend()} device(s), "
        f"{fl.process_count()} process(es); global batch {batch_size}, "
        f"{batch_size // devices} rows per device")
    losses, start = [], time.perf_counter()
    for i, idx in enumerate(batch_order(len(x_train), batch_size, steps, seed)):
        x, y = put(batched, x_train[idx][mine]), put(batched, y_train[idx][mine])
        params, opt_state, loss = train_step(params, opt_state, x, y)
        losses.append(float(loss))
        if (i + 1) % log_every == 0 or i == 0:
            say(f"step {i + 1:4d}  loss {losses[-1]:.6f}", flush=True)
    seconds = time.perf_counter() - start
    logits, _ = fl.jit(model.apply, in_shardings=(replicated, replicated))(params, x_test)
    accuracy = float(np.mean(np.argmax(np.asarray(logits), -1) == y_test))
    say(f"trained {steps} steps in {seconds:.1f}s; test accuracy {accuracy:.4f}")
    return losses


def launch(processes: int, argv: list[str], timeout: float) -> int:
    """Run this script as ``processes`` processes on loopback (a free port for the
    coordinator) and wait for all of them, at most ``timeout`` seconds; if one fails the
    rest are stopped. Returns the exit status (the first failure's)."""
    with socket.socket() as s:  # a port free now; the coordinator binds it right away
        s.bind(("localhost", 0))
        port = s.getsockname()[1]
    devices = _option(argv, "--devices", 8)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    flags = [f for f in env.get("XLA_FLAGS", "").split()
             if not f.startswith("--xla_force_host_platform_device_count")]
    env["XLA_FLAGS"] = " ".join(flags + [f"--xla_force_host_platform_device_count="
                                         f"{devices // processes}"])
    children = [subprocess.Popen([sys.executable, os.path.abspath(__file__), *argv,
                                  "--process-id", str(i), "--coordinator", f"localhost:{port}"],
                                 env=env, stdout=None if i == 0 else subprocess.DEVNULL)
                for i in range(processes)]
    deadline, status = time.monotonic() + timeout, 0
    try:
        while any(c.poll() is None for c in children):
            failed = [c.returncode for c in children if c.returncode not in (None, 0)]
            if failed or time.monotonic() > deadline:
                status = failed[0] if failed else 124
                print(f"data_parallel: {'a process failed' if failed else 'timed out'}; "
                      "stopping the others", file=sys.stderr)
                break
            time.sleep(0.05)
        return status or next((c.returncode for c in children if c.returncode), 0)
    finally:
        for c in children:
            if c.poll() is None:
                c.kill()
                c.wait(timeout=30)


def _option(argv: list[str], name: str, default: int) -> int:
    return int(argv[argv.index(name) + 1]) if name in argv else default


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=8, help="devices in all (default 8)")
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--log-every", type=int, default=10)
    parser.add_argument("--timeout", type=float, default=600, help="seconds, --processes")
    parser.add_argument("--process-id", type=int, help=argparse.SUPPRESS)  # set by launch
    parser.add_argument("--coordinator", help=argparse.SUPPRESS)
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    if args.processes > 1 and args.process_id is None:
        return launch(args.processes, argv, args.timeout)
    if args.process_id is not None:
        # A short heartbeat timeout: if a sibling dies, this one stops within seconds.
        fl.distributed.initialize(args.coordinator, args.processes, args.process_id,
                                  heartbeat_timeout_s=10, initialization_timeout_s=120)
    train(args.devices, args.steps, args.batch_size, seed=args.seed,
          log_every=args.log_every)
    if args.process_id is not None:
        fl.distributed.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
