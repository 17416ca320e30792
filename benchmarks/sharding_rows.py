"""The many-device rows of ``run.py``: a data-parallel training step over 8 host devices,
``fl.jit`` with ``in_shardings``/``out_shardings`` against ``jax.jit`` with the same
shardings (a ``NamedSharding`` over the same 8 devices) and the same MLP in ``jax.numpy``.

XLA makes its host devices once, when it starts, and ``run.py``'s process has one; so the
row runs this file in a fresh interpreter with ``--xla_force_host_platform_device_count=8``
and reads back its result (a JSON file)::

    XLA_FLAGS=--xla_force_host_platform_device_count=8 python benchmarks/sharding_rows.py \
        [--quick] --result out.json
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
DEVICES = 8
CHILD_TIMEOUT_S = 600


def bench_data_parallel_step(quick):
    """MLP 784-512-512-10 training step (value_and_grad, SGD), global batch 128 split over
    8 host devices (16 rows each), params replicated: the gradients meet in an all-reduce."""
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    flags = [f for f in env.get("XLA_FLAGS", "").split()
             if not f.startswith("--xla_force_host_platform_device_count")]
    env["XLA_FLAGS"] = " ".join(flags + [f"--xla_force_host_platform_device_count={DEVICES}"])
    with tempfile.TemporaryDirectory() as tmp:
        result = pathlib.Path(tmp) / "result.json"
        cmd = [sys.executable, str(HERE / "sharding_rows.py"), "--result", str(result)]
        r = subprocess.run(cmd + (["--quick"] if quick else []), cwd=HERE.parent, env=env,
                           capture_output=True, text=True, timeout=CHILD_TIMEOUT_S)
        if r.returncode != 0:
            raise RuntimeError(f"sharding_rows.py exited with {r.returncode}: "
                               f"{r.stderr.strip()[-1500:]}")
        return json.loads(result.read_text())


ROWS = [
    ("data-parallel MLP step, 8 host devices, b128", bench_data_parallel_step),
]


# ---------------------------------------------------------------------------------------
# the child: runs with 8 host devices

def data_parallel_fns():
    """Both contestants' jitted steps over the same 8-device mesh, bound to their own
    arrays already laid out (params replicated, batch split along the data axis)."""
    import jax
    import numpy as np

    import functorch_lite as fl
    from functorch_lite.sharding import NamedSharding, P
    from run import FL, JAX, MLP_BATCH, MLP_SIZES, bound, mlp_data, mlp_loss, train_step

    assert len(fl.devices()) == DEVICES == len(jax.devices()), (fl.devices(), jax.devices())
    params, x, y = mlp_data(MLP_SIZES, MLP_BATCH)
    mesh = fl.make_mesh((DEVICES,), ("data",))
    jmesh = jax.sharding.Mesh(np.array(jax.devices()[:DEVICES]), ("data",))
    rep, batch = NamedSharding(mesh, P()), NamedSharding(mesh, P("data"))
    jrep = jax.sharding.NamedSharding(jmesh, jax.sharding.PartitionSpec())
    jbatch = jax.sharding.NamedSharding(jmesh, jax.sharding.PartitionSpec("data"))

    ours = fl.jit(train_step(mlp_loss(FL), fl.value_and_grad),
                  in_shardings=(rep, batch, batch), out_shardings=(rep, rep))
    theirs = jax.jit(train_step(mlp_loss(JAX), jax.value_and_grad),
                     in_shardings=(jrep, jbatch, jbatch), out_shardings=(jrep, jrep))
    our_args = (fl.device_put(params, rep), fl.device_put(x, batch), fl.device_put(y, batch))
    their_args = (jax.device_put(params, jrep), jax.device_put(x, jbatch),
                  jax.device_put(y, jbatch))
    # Both really run partitioned: a gradient all-reduce in each optimized program.
    assert "all-reduce" in ours.lower(*our_args).compile().as_text()
    assert "all-reduce" in theirs.lower(*their_args).compile().as_text()
    return {"ours": bound(ours, *our_args), "jax": bound(theirs, *their_args), "torch": None}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--result", required=True, help="where to write the row (JSON)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(HERE))  # run.py's helpers, as nn_rows.py uses them
    from run import check_and_time, counts

    r = check_and_time(data_parallel_fns(), *counts(args.quick, (7, 5), (21, 20)), tol=1e-4)
    r["note"] = f"{DEVICES} host devices in a child process"
    pathlib.Path(args.result).write_text(json.dumps(r))


if __name__ == "__main__":
    main()
