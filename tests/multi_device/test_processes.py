"""Several processes as one run, over loopback: each test starts two interpreters running
this file as a script (``python test_processes.py <process id> <port> <mode>``), each with
2 forced host devices, so the run has 4 devices. They must join, all-reduce across the
process boundary and exit cleanly; and when one dies, the other must fail with a clear
error within the heartbeat timeout, never hang. Every child has a timeout and is killed in
a ``finally``.
"""
from __future__ import annotations

import os
import pathlib
import socket
import subprocess
import sys
import time

import pytest

HERE = pathlib.Path(__file__).resolve()
REPO = HERE.parents[2]
HEARTBEAT_S = 5
CHILD_TIMEOUT_S = 120  # far above a healthy run (~3 s) or a detected death (~10 s)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def run_processes(mode: str, tmp_path: pathlib.Path, n: int = 2) -> list[dict]:
    """Start ``n`` workers in ``mode``; wait for all (each bounded by CHILD_TIMEOUT_S);
    return per process ``rc``, ``out``, ``err`` and ``seconds`` (its wall time)."""
    env = dict(os.environ)
    flags = [f for f in env.get("XLA_FLAGS", "").split()
             if not f.startswith("--xla_force_host_platform_device_count")]
    env["XLA_FLAGS"] = " ".join(flags + ["--xla_force_host_platform_device_count=2"])
    env["JAX_PLATFORMS"] = "cpu"
    env["PYTHONUNBUFFERED"] = "1"
    port, procs, files = free_port(), [], []
    start = time.monotonic()
    try:
        for i in range(n):
            out, err = open(tmp_path / f"out{i}", "w+"), open(tmp_path / f"err{i}", "w+")
            files += [out, err]
            procs.append(subprocess.Popen(
                [sys.executable, str(HERE), str(i), str(port), mode],
                cwd=REPO, env=env, stdout=out, stderr=err))
        results = []
        for i, p in enumerate(procs):
            left = max(1.0, CHILD_TIMEOUT_S - (time.monotonic() - start))
            try:
                rc = p.wait(timeout=left)
            except subprocess.TimeoutExpired:
                rc = None  # hung: reported as such by the caller's assertion
            results.append({"rc": rc, "seconds": time.monotonic() - start,
                            "out": (tmp_path / f"out{i}").read_text(),
                            "err": (tmp_path / f"err{i}").read_text()})
        return results
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=30)
        for f in files:
            f.close()


def _report(results: list[dict]) -> str:
    return "\n".join(f"--- process {i}: rc={r['rc']} after {r['seconds']:.1f}s\n"
                     f"{r['out'][-3000:]}\n{r['err'][-3000:]}" for i, r in enumerate(results))


def test_two_processes_all_reduce_and_exit_cleanly(tmp_path):
    results = run_processes("all_reduce", tmp_path)
    assert all(r["rc"] == 0 for r in results), _report(results)
    for i, r in enumerate(results):
        assert f"process {i} done" in r["out"], _report(results)


@pytest.mark.parametrize("dies", [1, 0], ids=["worker_dies", "coordinator_dies"])
def test_a_dead_process_makes_the_other_fail_within_the_heartbeat_timeout(tmp_path, dies):
    results = run_processes(f"die{dies}", tmp_path)
    dead, survivor = results[dies], results[1 - dies]
    assert dead["rc"] == 3, _report(results)
    assert survivor["rc"] is not None, "the surviving process hung:\n" + _report(results)
    assert survivor["rc"] != 0, _report(results)
    assert "done" not in survivor["out"], _report(results)
    # PJRT's coordination service reports why: the other task stopped sending heartbeats
    # (the coordinator noticed) or the coordinator is gone (a worker noticed).
    assert "another task died" in survivor["err"] or "unhealthy" in survivor["err"], \
        _report(results)
    # Startup (a few seconds) plus the heartbeat timeout, with room for a loaded machine.
    assert survivor["seconds"] < 60, _report(results)


def test_initialize_checks_its_arguments_and_comes_first():
    import functorch_lite as fl
    # The runtime client exists from here on, so no call below can start joining a run
    # (and wait for peers): arguments are checked first, then the client.
    fl.devices()
    bad = [({"coordinator_address": "localhost"}, ValueError, "coordinator_address"),
           ({"coordinator_address": 1234}, TypeError, "coordinator_address"),
           ({"num_processes": 0}, ValueError, "num_processes"),
           ({"num_processes": 2.0}, TypeError, "num_processes"),
           ({"num_processes": 2, "process_id": 2}, ValueError, "process_id"),
           ({"process_id": -1}, ValueError, "process_id"),
           ({"heartbeat_timeout_s": 0}, ValueError, "heartbeat_timeout_s"),
           ({"local_device_ids": ["0"]}, TypeError, "local_device_ids")]
    for kwargs, error, name in bad:
        args = {"coordinator_address": "localhost:1234", "num_processes": 2,
                "process_id": 0, **kwargs}
        with pytest.raises(error, match=name):
            fl.distributed.initialize(**args)
    with pytest.raises(RuntimeError, match="before anything creates the runtime client"):
        fl.distributed.initialize("localhost:1234", num_processes=2, process_id=0)
    assert not fl.distributed.is_initialized()
    assert (fl.process_index(), fl.process_count()) == (0, 1)


# -- the worker: run as a script by the tests above -------------------------------------------

def worker(process_id: int, port: int, mode: str) -> None:
    import numpy as np

    import functorch_lite as fl
    import functorch_lite.numpy as fnp
    from functorch_lite.sharding import NamedSharding, P
    from xla_bridge import _jaxlib

    # Importing the library must leave the runtime client unmade, or initialize is too late.
    assert _jaxlib.client.cache_info().currsize == 0
    fl.distributed.initialize(f"localhost:{port}", num_processes=2, process_id=process_id,
                              heartbeat_timeout_s=HEARTBEAT_S, initialization_timeout_s=60)
    assert fl.distributed.is_initialized()
    assert (fl.process_index(), fl.process_count()) == (process_id, 2)
    assert len(fl.devices()) == 4 and len(fl.local_devices()) == 2
    assert {d.process_index for d in fl.local_devices()} == {process_id}
    if mode == f"die{process_id}":
        os._exit(3)  # mid-run: the run has formed, the collective is next
    mesh = fl.make_mesh((4,), ("data",))  # both processes' devices, process 0's first
    data = np.arange(8 * 3, dtype=np.float32).reshape(8, 3)
    rows = data[4 * process_id:4 * process_id + 4]  # the rows this process's devices hold
    x = fl.make_array_from_process_local_data(NamedSharding(mesh, P("data")), rows)
    assert x.shape == (8, 3) and not x.is_fully_addressable
    for shard in x.addressable_shards:
        np.testing.assert_array_equal(np.asarray(shard.data), data[shard.index])
    step = fl.jit(lambda a: fnp.sum(a * a, axis=0), out_shardings=NamedSharding(mesh, P()))
    total = step(x)  # rows live in both processes: an all-reduce across them
    assert "all-reduce" in step.lower(x).compile().as_text()
    np.testing.assert_allclose(np.asarray(total), (data * data).sum(0), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(fnp.sum(x)), data.sum(), rtol=1e-6)  # eager too
    fl.distributed.shutdown()
    assert not fl.distributed.is_initialized()
    print(f"process {process_id} done", flush=True)


if __name__ == "__main__":
    worker(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
