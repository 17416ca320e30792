"""The interface through which the core reaches an executor. ``xla_bridge`` registers
itself here at import; a test double or another backend could register instead.

    apply_primitive(primitive, args, params) -> list of arrays     (eager evaluation)
    device_put(value, device, weak_type) -> array                  (host -> device)
    lower(program, name) -> str                                    (the module text)
    compile(program, name, device=None, donated=(), compiler_options=())
                              -> compiled object for one device
                              (None: the default; ``donated`` flags the operands whose
                              buffers it may consume; ``compiler_options``: XLA's options
                              as sorted (name, value) pairs): __call__(*arrays) -> list of
                              arrays (arrays elsewhere are copied to its device),
                              cost_analysis() -> dict,
                              memory_analysis(), as_text(); optionally
                              fast_caller(consts) -> None or call(tuple of arrays) -> list
                              of arrays, or None to send the caller down its general path
    array_type                                                     (the concrete array class;
                              its instances have .aval and .device)
    clear_caches() -> None                                         (forget every executable
                              and buffer the backend keeps in memory)
    devices() -> list of devices                                   (every device of every
                              process, in order: what meshes are built from)
    process_index() -> int                                         (this process's index)
    device_put_sharded(value, sharding) -> array                   (host or device value ->
                              an array laid out as ``sharding`` says)
    choose_device(arrays, what) -> device                          (where a computation on
                              these runs; ValueError naming both devices when two
                              arguments were put on different devices)
    compile_spmd(program, name, in_shardings, out_shardings, donated=(), mesh=None,
                 compiler_options=()) -> compiled object
                              running over a mesh (shardings: one per operand / output,
                              None where XLA may choose)
    export_module(program, consts, name, platform) -> bytes        (a serialized module
                              whose main takes the invars, ``consts`` written in: what
                              the ``call_exported`` primitive's lowering calls)
    exported_text(bytes) -> str                                    (that module, as text)
"""
from __future__ import annotations

from typing import Any, Callable


class _Backend:
    apply_primitive: Callable | None = None
    device_put: Callable | None = None
    lower: Callable | None = None
    compile: Callable | None = None
    array_type: type | None = None
    clear_caches: Callable | None = None
    devices: Callable | None = None
    process_index: Callable | None = None
    device_put_sharded: Callable | None = None
    compile_spmd: Callable | None = None
    choose_device: Callable | None = None
    export_module: Callable | None = None
    exported_text: Callable | None = None

    def __getattribute__(self, name: str) -> Any:
        value = object.__getattribute__(self, name)
        if value is None:
            raise RuntimeError(f"no backend provides {name!r}: import functorch_lite (which "
                               "registers xla_bridge) first")
        return value


backend = _Backend()


def register(**hooks: Callable) -> None:
    for name, fn in hooks.items():
        if not hasattr(_Backend, name):
            raise TypeError(f"unknown backend hook {name!r}")
        setattr(backend, name, fn)
