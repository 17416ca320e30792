"""Platform choice and devices.

The platform is the best one whose PJRT plugin is installed (a GPU or TPU when present,
else the CPU), unless ``FUNCTORCH_LITE_PLATFORM`` or ``config.update("platform_name", ...)``
names one. ``jax_platforms`` (``JAX_PLATFORMS``), as in JAX, chooses which platforms start
at all, in order of preference."""
from __future__ import annotations

import functools
import warnings

from functorch_lite.core.config import config
from xla_bridge import _jaxlib
from xla_bridge._jaxlib import JaxRuntimeError  # noqa: F401  (functorch_lite.errors)

_PLATFORM_ALIASES = {"cuda": "gpu", "rocm": "gpu", "gpu": "gpu", "cpu": "cpu", "tpu": "tpu"}


@functools.lru_cache(maxsize=None)
def _client_for(name: str | None):
    if name is None:
        return _default_client()
    key = _PLATFORM_ALIASES.get(name.lower())
    if key is None:
        raise ValueError(f"unknown platform {name!r}; expected one of cpu, cuda, rocm, tpu")
    return _jaxlib.client(key)


def _default_client():
    """The best client, once every platform ``jax_platforms`` lists has started, as JAX's
    documentation promises (its runtime skips a listed 'cuda' without a CUDA plugin)."""
    listed = config.platforms or ""
    for name in (p.strip() for p in listed.split(",") if p.strip()):
        try:
            _client_for(name)
        except (RuntimeError, ValueError) as e:
            raise RuntimeError(f"Unable to initialize backend {name!r}, which jax_platforms="
                               f"{listed!r} lists: {e} (set JAX_PLATFORMS='' to use the "
                               f"platforms that are installed)") from None
    return _jaxlib.client(None)


def _platforms_changed(value: str | None) -> None:
    if not _jaxlib.set_platforms(value):
        # JAX ignores the change silently; say so, since the program will not run where asked.
        warnings.warn(f"jax_platforms={value!r} was set after the runtime started, so it "
                      f"does not apply in this process: set it (or JAX_PLATFORMS) before the "
                      f"first computation, transfer or devices() call", stacklevel=3)


config.on_change("platforms", _platforms_changed)


def client(platform: str | None = None):
    return _client_for(platform or config.platform_name)


def default_backend() -> str:
    """The platform arrays and computations go to by default: 'cpu', 'cuda', 'rocm' or 'tpu'."""
    return _jaxlib.client_platform(client())


def devices(backend: str | None = None) -> list:
    """The devices of ``backend`` (default: the default platform), of every process."""
    return _jaxlib.global_devices(client(backend))


def local_devices(backend: str | None = None) -> list:
    """The devices this process drives."""
    return _jaxlib.local_devices(client(backend))


def process_index(backend: str | None = None) -> int:
    """This process's index among the processes of a multi-process run (0 alone)."""
    return _jaxlib.process_index(client(backend))


def device_count(backend: str | None = None) -> int:
    return len(devices(backend))


def default_device():
    return local_devices()[0]


def device_platform(device) -> str:
    """``device``'s platform in our vocabulary: 'cpu', 'cuda', 'rocm' or 'tpu'."""
    return _jaxlib.client_platform(device.client)


def process_count(backend: str | None = None) -> int:
    """How many processes share the devices (1 alone)."""
    return _jaxlib.process_count(client(backend))


# -- many processes --------------------------------------------------------------------------

def distributed_initialize(coordinator_address: str | None, num_processes: int | None,
                           process_id: int | None, local_device_ids, *,
                           heartbeat_timeout_s: int, initialization_timeout_s: int,
                           shutdown_timeout_s: int) -> None:
    """Join the other processes (arguments checked by ``functorch_lite.distributed``)."""
    if _client_for.cache_info().currsize:
        raise RuntimeError(
            "distributed.initialize must be called before anything creates the runtime "
            "client: before the first computation, array transfer or fl.devices() call "
            "(importing functorch_lite alone is fine)")
    _jaxlib.distributed_initialize(coordinator_address, num_processes, process_id,
                                   local_device_ids, heartbeat_timeout_s,
                                   initialization_timeout_s, shutdown_timeout_s)


def distributed_shutdown() -> None:
    _jaxlib.distributed_shutdown()


def distributed_is_initialized() -> bool:
    return _jaxlib.distributed_is_initialized()
