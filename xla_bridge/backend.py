"""Registers xla_bridge as functorch_lite's backend (idempotent)."""
from __future__ import annotations

_installed = False


def install() -> None:
    global _installed
    if _installed:
        return
    from functorch_lite.core import backend
    from functorch_lite.core.config import config
    from functorch_lite.numpy import array_methods
    from xla_bridge import _jaxlib, lowering  # noqa: F401  (lowering registers its rules)
    from xla_bridge.array import Array
    from xla_bridge.compile import compile_for_call, lower
    from xla_bridge.eager import apply_primitive, device_put

    backend.register(apply_primitive=apply_primitive, device_put=device_put, lower=lower,
                     compile=compile_for_call, array_type=Array)
    _jaxlib.set_x64(config.enable_x64)
    config.on_change("enable_x64", _jaxlib.set_x64)
    array_methods.attach(Array)
    _installed = True
