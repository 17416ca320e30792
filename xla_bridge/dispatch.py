"""The one way a program reaches XLA: ``compile_for_call(program, ...)`` gives a
``Compiled``, and calling it runs the program on its arguments.

Every caller goes through here: ``jit`` (its first call and calls with new placements:
``Compiled.__call__``), jit's cached-call path (``Compiled.fast_caller``, a specialization
built once per argument signature that skips the checks the signature already settled),
donating calls (compiled with their donation flags) and eager primitives
(``eager.apply_primitive``, which caches one ``Compiled`` per primitive and input types).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from functorch_lite.core import dtypes
from functorch_lite.core.config import config
from functorch_lite.core.ir import Program
from xla_bridge import _jaxlib
from xla_bridge.array import Array
from xla_bridge.compile import Executable, compile_program
from xla_bridge.operands import buffer_on, scalar_buffer, to_array


def check_values(outs: Sequence[Any], what: str) -> None:
    """``config.debug_nans`` / ``debug_infs``: raise FloatingPointError when an inexact
    output holds a NaN / an infinity, naming the computation (``what``) and the output."""
    for i, a in enumerate(outs):
        aval = getattr(a, "aval", None)
        if aval is None or not dtypes.is_inexact(aval.dtype):
            continue
        values = np.asarray(a)
        for flag, bad, found in (("debug_nans", "nan", np.isnan),
                                 ("debug_infs", "inf", np.isinf)):
            if config.read(flag) and found(values).any():
                raise FloatingPointError(
                    f"invalid value ({bad}) encountered in {what} (output {i} of "
                    f"{len(outs)}, {aval.str_short()}); config.update('{flag}', False) "
                    f"turns this check off")


def _any_deleted(buffers: list) -> bool:
    return any(_jaxlib.is_deleted(b) for b in buffers)


class Compiled:
    """A program compiled for one device. Calling it with arrays (or scalars, NumPy arrays)
    returns the output Arrays; arrays on another device are copied to its device."""

    def __init__(self, executable: Executable, label: str | None = None):
        self.executable = executable
        self.label = label or f"jit({executable.name})"  # names it in debug_nans errors

    def __call__(self, *arrays):
        exe = self.executable
        device = exe.device
        bufs = [a._buf if type(a) is Array and a._device is device
                and not _jaxlib.is_deleted(a._buf)
                else buffer_on(to_array(a, device), device) for a in arrays]
        outs = exe.wrap(exe.execute(bufs))
        if config.debug_nans or config.debug_infs:
            check_values(outs, self.label)
        return outs

    def fast_caller(self, consts: Sequence[Any], scalars: Sequence[bool] = ()):
        """A function of a tuple of arguments that runs this executable with ``consts``
        prepended and returns the output Arrays, or ``None`` when the call needs the
        general path: an argument not (yet known to be) on this executable's device, a
        donated or deleted argument (the general path moves data and reports deleted
        arrays), or ``debug_nans``/``debug_infs``. Any other error propagates. The
        arguments flagged in ``scalars`` are Python scalars, the rest Arrays. This is jit's
        cached-call path, so it does as little as it can. None instead of a function: no
        fast path here."""
        exe = self.executable
        device = exe.device
        if exe.has_float0 or not all(type(c) is Array and c._device is device
                                     for c in consts):
            return None
        const_bufs = [c._buf for c in consts]
        execute, loaded, handlers, wrap = _jaxlib.execute, exe.exe, exe.handlers, exe.wrap
        if exe.host_callbacks:
            execute = _jaxlib.execute_and_wait
        scalars = tuple(scalars)

        if not any(scalars):
            def call(args):
                if config.debug_nans or config.debug_infs:
                    return None  # the general path checks the outputs
                bufs = [a._buf for a in args if a._device is device]
                if len(bufs) != len(args):
                    return None
                if const_bufs:
                    bufs = const_bufs + bufs
                try:
                    return wrap(execute(loaded, bufs, handlers))
                except Exception:
                    if _any_deleted(bufs):
                        return None
                    raise
            return call

        def call_with_scalars(args):
            if len(args) != len(scalars) or config.debug_nans or config.debug_infs:
                return None
            bufs = const_bufs[:]
            for a, s in zip(args, scalars):
                if s:
                    bufs.append(scalar_buffer(a, device))
                elif a._device is device:
                    bufs.append(a._buf)
                else:
                    return None
            try:
                return wrap(execute(loaded, bufs, handlers))
            except Exception:
                if _any_deleted(bufs):
                    return None
                raise
        return call_with_scalars

    def as_text(self) -> str:
        return self.executable.text

    def cost_analysis(self) -> dict:
        return self.executable.cost_analysis()

    def memory_analysis(self):
        return self.executable.memory_analysis()


def compile_for_call(program: Program, name: str = "main", device=None,
                     donated: Sequence[bool] = (), label: str | None = None,
                     compiler_options: tuple = ()) -> Compiled:
    """``program`` compiled for ``device`` (None: the default device), ready to call;
    ``donated`` flags the operands (constants first) whose buffers a call may consume,
    ``label`` names the computation in ``debug_nans`` errors (default ``jit(name)``),
    ``compiler_options`` are XLA's options ((name, value) pairs, sorted)."""
    return Compiled(compile_program(program, device, name, donated, compiler_options), label)
