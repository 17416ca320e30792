"""Every call into jax/jaxlib's runtime lives here, so a jaxlib upgrade touches one file.

We use jaxlib only as the XLA runtime: the PJRT client (platforms and devices), compiling a
StableHLO module, executing it, and moving buffers between host and device. Device buffers
are jaxlib's array objects; ``xla_bridge.array.Array`` wraps them.
"""
from __future__ import annotations

import functools
from typing import Any, Sequence

import numpy as np

import jax  # noqa: F401  (initializes the runtime and its plugins)
import jaxlib
from jax.extend import backend as _jex_backend
from jaxlib import _jax
from jaxlib import xla_client as _xc

Device = _xc.Device


def jaxlib_version() -> str:
    return jaxlib.__version__


@functools.lru_cache(maxsize=None)
def client(platform: str | None = None):
    """The PJRT client for ``platform`` ('cpu', 'gpu', 'tpu'), or the best available."""
    return _jex_backend.get_backend(platform)


def client_platform(c) -> str:
    """Platform name in our vocabulary: 'cpu', 'cuda', 'rocm' or 'tpu'."""
    name = c.platform
    if name == "gpu":
        version = (c.platform_version or "").lower()
        return "rocm" if "rocm" in version else "cuda"
    return name


def platform_version(c) -> str:
    return f"{c.platform} {c.platform_version}"


def local_devices(c) -> list:
    return list(c.local_devices())


def _compile_options(devices: Sequence[Any]):
    """Options placing replica i of a one-partition program on ``devices[i]``."""
    options = _xc.CompileOptions()
    options.device_assignment = _xc.DeviceAssignment.create(
        np.array([[d.id] for d in devices], dtype=int))
    return options


def compile(c, module_text: str, devices: Sequence[Any]):
    """Compile StableHLO text into a loaded executable on ``devices``."""
    return c.compile_and_load(module_text, _xc.DeviceList(tuple(devices)),
                              _compile_options(devices))


def serialize_executable(c, exe) -> bytes:
    return c.serialize_executable(exe)


def deserialize_executable(c, data: bytes, devices: Sequence[Any]):
    return c.deserialize_executable(data, _xc.DeviceList(tuple(devices)),
                                    _compile_options(devices))


def result_handlers(avals: Sequence[Any], device) -> list:
    """Prebuilt output wrappers for ``execute``: one per output, each making a runtime
    array of a known type on ``device`` without inspecting the buffer again."""
    sharding = jax.sharding.SingleDeviceSharding(device)
    return [_jax.array_result_handler(
        jax.core.ShapedArray(a.shape, a.dtype, weak_type=a.weak_type), sharding, True, True)
        for a in avals]


def execute(exe, buffers: list, handlers: list) -> list:
    """Run ``exe`` on one device; ``handlers`` come from ``result_handlers``. This is the
    runtime's leanest call: about half the cost of ``LoadedExecutable.execute``, which
    rediscovers each output's type and placement."""
    return exe.execute_sharded(buffers).consume_with_handlers(handlers)


def to_device(value: np.ndarray, device) -> Any:
    return jax.device_put(value, device)


def to_host(buffer) -> np.ndarray:
    return np.asarray(buffer)


def copy_to_device(buffer, device) -> Any:
    return jax.device_put(buffer, device)


def buffer_device(buffer):
    return next(iter(buffer.devices()))


def block_until_ready(buffer) -> None:
    buffer.block_until_ready()


def is_deleted(buffer) -> bool:
    return buffer.is_deleted()


def delete(buffer) -> None:
    buffer.delete()


def cost_analysis(exe) -> dict:
    return dict(exe.cost_analysis())


def memory_stats(exe):
    return exe.get_compiled_memory_stats()


def set_x64(enabled: bool) -> None:
    """Keep the runtime's 64-bit flag equal to ours, so transfers never narrow dtypes."""
    jax.config.update("jax_enable_x64", bool(enabled))
