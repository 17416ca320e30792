"""Compiling programs into executables, with an in-memory cache keyed by the module text."""
from __future__ import annotations

from typing import Any, Sequence

from functorch_lite.core.avals import ShapedArray
from functorch_lite.core.ir import Program
from xla_bridge import _jaxlib, runtime
from xla_bridge.lowering.core import lower_program


class Executable:
    """A compiled program: runs on device buffers, returns output buffers."""

    __slots__ = ("exe", "out_avals", "device", "text", "name")

    def __init__(self, exe, out_avals: Sequence[ShapedArray], device, text: str, name: str):
        self.exe = exe
        self.out_avals = list(out_avals)
        self.device = device
        self.text = text
        self.name = name

    def execute(self, buffers: Sequence[Any]) -> list:
        return _jaxlib.execute(self.exe, buffers)

    def cost_analysis(self) -> dict:
        return _jaxlib.cost_analysis(self.exe)

    def memory_analysis(self):
        return _jaxlib.memory_stats(self.exe)


_text_cache: dict[tuple, Any] = {}


def compile_text(text: str, device) -> Any:
    key = (text, device)
    exe = _text_cache.get(key)
    if exe is None:
        exe = _jaxlib.compile(device.client, text, [device])
        _text_cache[key] = exe
    return exe


def compile_program(program: Program, device=None, name: str = "main") -> Executable:
    device = device or runtime.default_device()
    text = lower_program(program, name=name, platform=runtime.default_backend())
    exe = compile_text(text, device)
    return Executable(exe, program.out_avals, device, text, name)


def lower(program: Program, name: str = "main") -> str:
    return lower_program(program, name=name, platform=runtime.default_backend())


class Compiled:
    """An ahead-of-time compiled program (``jit(f).lower(...).compile()``)."""

    def __init__(self, executable: Executable):
        self.executable = executable

    def __call__(self, *arrays):
        from xla_bridge.array import Array
        from xla_bridge.eager import _to_array
        device = self.executable.device
        bufs = [_to_array(a, device).buffer for a in arrays]
        outs = self.executable.execute(bufs)
        return [Array(b, aval) for b, aval in zip(outs, self.executable.out_avals)]

    def as_text(self) -> str:
        return self.executable.text

    def cost_analysis(self) -> dict:
        return self.executable.cost_analysis()

    def memory_analysis(self):
        return self.executable.memory_analysis()


def compile_for_call(program: Program, name: str = "main", device=None) -> Compiled:
    return Compiled(compile_program(program, device, name))
