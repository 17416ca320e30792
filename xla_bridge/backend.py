"""Registers xla_bridge as functorch_lite's backend (idempotent).

The imports are inside ``install`` because ``xla_bridge/__init__`` runs it while
``functorch_lite`` is still initializing. Operators and NumPy methods (``x + 1``) reach
the device ``Array`` from its base, ``functorch_lite.Array``, to which
``functorch_lite.numpy`` attaches them: xla_bridge knows no NumPy semantics."""
from __future__ import annotations

_installed = False


def install() -> None:
    global _installed
    if _installed:
        return
    # Function-level imports: functorch_lite imports xla_bridge during its own import.
    from functorch_lite.core import backend
    from functorch_lite.core.config import config
    from xla_bridge import _jaxlib, caches, lowering  # noqa: F401  (lowering registers its rules)
    from xla_bridge.array import Array
    from xla_bridge.compile import lower
    from xla_bridge.dispatch import compile_for_call
    from xla_bridge.eager import apply_primitive, device_put, device_put_sharded
    from xla_bridge.export import export_module, exported_text
    from xla_bridge.operands import choose_device
    from xla_bridge.runtime import devices, process_index
    from xla_bridge.spmd import compile_spmd

    backend.register(apply_primitive=apply_primitive, device_put=device_put, lower=lower,
                     compile=compile_for_call, array_type=Array, clear_caches=caches.clear,
                     devices=devices, process_index=process_index,
                     device_put_sharded=device_put_sharded, compile_spmd=compile_spmd,
                     choose_device=choose_device, export_module=export_module,
                     exported_text=exported_text)
    _jaxlib.set_x64(config.enable_x64)
    config.on_change("enable_x64", _jaxlib.set_x64)
    _installed = True
