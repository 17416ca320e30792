"""Several processes as one: ``initialize`` joins this process to the others of a run (one
per host, or several on one machine over loopback), after which ``fl.devices()`` lists every
process's devices, a ``Mesh`` may span them, and a jitted program over that mesh runs in all
the processes at once, its collectives crossing between them. PJRT's distributed runtime
does the work: process 0 hosts a coordination service the others connect to, and every
process sends it heartbeats, so when one dies the others fail within
``heartbeat_timeout_s`` instead of waiting forever.

Each process runs the same script with its own ``process_id``::

    fl.distributed.initialize("localhost:12345", num_processes=2, process_id=i)
    mesh = fl.make_mesh((fl.device_count(),), ("data",))       # every process's devices
    x = fl.make_array_from_process_local_data(NamedSharding(mesh, P("data")), my_rows)
    total = fl.jit(fnp.sum)(x)                                  # an all-reduce across processes
    fl.distributed.shutdown()

Call ``initialize`` first, before anything computes or lists devices: the runtime client
is made once and reads the distributed setup when it is made.
"""
from __future__ import annotations

import numbers
from typing import Sequence

from xla_bridge import runtime


def initialize(coordinator_address: str | None = None, num_processes: int | None = None,
               process_id: int | None = None,
               local_device_ids: int | Sequence[int] | None = None, *,
               heartbeat_timeout_s: int = 100, initialization_timeout_s: int = 300,
               shutdown_timeout_s: int = 300) -> None:
    """Join this process to a run of ``num_processes`` processes; process 0 serves the
    coordinator at ``coordinator_address`` ("host:port", the same in every process).
    Arguments left None come from the environment (``JAX_COORDINATOR_ADDRESS``, a SLURM or
    MPI launch), as in JAX.

    ``heartbeat_timeout_s``: how long a process may be silent before the others fail (a
    process that died makes the rest exit with an error within about this time);
    ``initialization_timeout_s``: how long to wait for all processes to connect;
    ``shutdown_timeout_s``: how long ``shutdown`` waits for the others to reach it.

    >>> fl.distributed.initialize("localhost:12345", num_processes=2, process_id=0)
    """
    if coordinator_address is not None:
        _check_address(coordinator_address)
    if num_processes is not None:
        _check_int("num_processes", num_processes, low=1)
    if process_id is not None:
        _check_int("process_id", process_id, low=0)
        if num_processes is not None and process_id >= num_processes:
            raise ValueError(f"distributed.initialize: process_id={process_id} must be less "
                             f"than num_processes={num_processes} (ids are 0 .. "
                             f"{num_processes - 1})")
    if local_device_ids is not None:
        ids = [local_device_ids] if isinstance(local_device_ids, numbers.Integral) else \
            list(local_device_ids)
        for i in ids:
            _check_int("local_device_ids", i, low=0)
        local_device_ids = [int(i) for i in ids]
    for name, value in (("heartbeat_timeout_s", heartbeat_timeout_s),
                        ("initialization_timeout_s", initialization_timeout_s),
                        ("shutdown_timeout_s", shutdown_timeout_s)):
        _check_int(name, value, low=1)
    if runtime.distributed_is_initialized():
        raise RuntimeError("distributed.initialize was already called in this process; "
                           "call distributed.shutdown() first to leave that run")
    runtime.distributed_initialize(
        coordinator_address, num_processes, process_id, local_device_ids,
        heartbeat_timeout_s=heartbeat_timeout_s,
        initialization_timeout_s=initialization_timeout_s,
        shutdown_timeout_s=shutdown_timeout_s)


def shutdown() -> None:
    """Leave the run (waits for the other processes to reach their ``shutdown``); does
    nothing when ``initialize`` was not called. Also done at interpreter exit."""
    runtime.distributed_shutdown()


def is_initialized() -> bool:
    """Whether ``initialize`` joined this process to a run (and ``shutdown`` has not)."""
    return runtime.distributed_is_initialized()


def _check_int(name: str, value, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"distributed.initialize: {name} must be an int, got "
                        f"{type(value).__name__} {value!r}")
    if value < low:
        raise ValueError(f"distributed.initialize: {name} must be >= {low}, got {value}")


def _check_address(address) -> None:
    if not isinstance(address, str):
        raise TypeError(f"distributed.initialize: coordinator_address must be a 'host:port' "
                        f"string, got {type(address).__name__} {address!r}")
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"distributed.initialize: coordinator_address must be 'host:port' "
                         f"with a port in 1..65535 (e.g. 'localhost:12345'), got "
                         f"{address!r}")
