"""Programs over several devices: one program, partitioned by XLA's SPMD partitioner into a
piece per device of a mesh, run on arrays laid out over that mesh.

``compile_spmd(program, name, in_shardings, out_shardings)`` lowers the program with
Shardy's annotations (the mesh declared once, an ``sdy.sharding`` on every argument and on
the results given one; XLA chooses the others), compiles it with one partition per mesh
device and returns a ``CompiledSpmd``;
calling that lays each argument out as its sharding says (a copy only where the layout
differs) and returns Arrays carrying the shardings of the outputs. Eager operations on
sharded arrays and ``jit`` with shardings both come here.
"""
from __future__ import annotations

import logging
from typing import Any, Sequence

import numpy as np

from functorch_lite.core import dtypes
from functorch_lite.core.config import config
from functorch_lite.core.ir import Program
from functorch_lite.core.sharding import Mesh, NamedSharding, PartitionSpec, Sharding
from xla_bridge import _jaxlib, runtime
from xla_bridge.array import Array, guard
from xla_bridge.caches import spmd_executables
from xla_bridge.dispatch import check_values
from xla_bridge.lowering.core import lower_program
from xla_bridge.sharding import (HloSharding, hlo_sharding, mesh_of, named_from_hlo, sdy_mesh,
                                 sdy_sharding)
from xla_bridge.xla_options import with_defaults

logger = logging.getLogger("functorch_lite")


class CompiledSpmd:
    """A program over a mesh: lowered at once, compiled on first use. Calling it with
    arrays (or scalars, NumPy arrays) returns the output Arrays, laid out over the mesh."""

    def __init__(self, program: Program, name: str, in_shardings: Sequence[Sharding | None],
                 out_shardings: Sequence[Sharding | None], donated: Sequence[bool] = (),
                 mesh: Mesh | None = None, compiler_options: tuple = ()):
        self.compiler_options = compiler_options
        mesh = mesh_of([*in_shardings, *out_shardings], f"jit({name})") or mesh
        if mesh is None:
            raise ValueError(f"jit({name}): no mesh to run over: give in_shardings or "
                             "out_shardings, or pass arrays laid out over a mesh")
        self.mesh, self.name = mesh, name
        self.devices = mesh.flat_devices
        in_avals = [v.aval for v in [*program.constvars, *program.invars]]
        self.out_avals = list(program.out_avals)
        self.in_shardings = [s if isinstance(s, (NamedSharding, HloSharding)) else
                             NamedSharding(mesh, PartitionSpec()) for s in in_shardings]
        self._given_out = list(out_shardings)
        for i, (s, a) in enumerate(zip([*self.in_shardings, *out_shardings],
                                       [*in_avals, *self.out_avals])):
            if isinstance(s, NamedSharding):
                s.check_shape(a.shape, f"jit({name}) operand {i}")
        self.in_texts = [hlo_sharding(s, a.ndim) for s, a in zip(self.in_shardings, in_avals)]
        arg_attrs = [f"sdy.sharding = {sdy_sharding(s, a.ndim)}"
                     for s, a in zip(self.in_shardings, in_avals)]
        result_attrs = [None if s is None else f"sdy.sharding = {sdy_sharding(s, a.ndim)}"
                        for s, a in zip(out_shardings, self.out_avals)]
        callbacks: list = []
        self.text = lower_program(program, name, donated, arg_attrs, result_attrs,
                                  num_partitions=len(self.devices),
                                  module_ops=[sdy_mesh(mesh)], host_callbacks=callbacks)
        if callbacks:
            raise NotImplementedError(
                f"jit({name}): host callbacks (pure_callback, debug.print, debug.callback) "
                f"in a program with shardings are not supported yet")
        self._exe = None
        self._cpu_collectives = len(self.devices) > 1 and self.devices[0].platform == "cpu"

    def _compiled(self):
        if self._exe is not None:
            return self._exe
        options = with_defaults(self.text, runtime.device_platform(self.devices[0]),
                                self.compiler_options)
        key = (self.text, tuple(d.id for d in self.devices), options)
        exe = spmd_executables.get(key)
        if exe is None:
            if config.log_compiles:
                logger.warning("XLA compile of %s (SPMD over %s)", self.name, self.mesh)
            exe = _jaxlib.compile_spmd(self.devices[0].client, self.text, self.devices,
                                       len(self.out_avals), [s is None for s in self._given_out],
                                       options)
            spmd_executables[key] = exe
        chosen = _jaxlib.output_sharding_texts(exe, len(self.out_avals))
        given = self._given_out
        self.out_shardings = [s if s is not None else named_from_hlo(t, self.mesh, a.ndim)
                              for s, t, a in zip(given, chosen, self.out_avals)]
        out_texts = [t if s is None else hlo_sharding(s, a.ndim)
                     for s, t, a in zip(given, chosen, self.out_avals)]
        self.handlers = _jaxlib.sharded_result_handlers(
            [a.update(dtype=np.bool_) if a.dtype == dtypes.float0 else a
             for a in self.out_avals], out_texts, self.devices)
        self._exe = exe
        return exe

    def __call__(self, *arrays) -> list:
        exe = self._compiled()
        bufs = [self._laid_out(a, s, t)
                for a, s, t in zip(arrays, self.in_shardings, self.in_texts)]
        outs = _jaxlib.execute(exe, bufs, self.handlers)
        if self._cpu_collectives:
            # One partitioned run in flight at a time: on a CPU host the devices share a
            # small thread pool, and the partitions of a second run queued behind a first
            # one's collective can starve it (XLA aborts the rendezvous after 40 s).
            for b in outs:
                _jaxlib.block_until_ready(b)
        result = [np.zeros(a.shape, dtypes.float0) if a.dtype == dtypes.float0
                  else Array(b, a, sharding=s)
                  for b, a, s in zip(outs, self.out_avals, self.out_shardings)]
        if config.debug_nans or config.debug_infs:
            check_values(result, f"jit({self.name})")
        return result

    def _laid_out(self, x: Any, sharding: Sharding, text: str):
        if type(x) is Array:
            if x._sharding == sharding:
                return x.buffer
            guard("device_to_device", lambda: f"{x.aval.str_short()} to {sharding}")
            return _jaxlib.to_devices(x.buffer, text, self.devices)
        guard("host_to_device", lambda: f"{np.shape(x)} to {sharding}")
        return _jaxlib.to_devices(np.asarray(x), text, self.devices)

    def as_text(self) -> str:
        """The partitioned, optimized HLO (one device's program)."""
        return _jaxlib.partitioned_hlo_text(self._compiled())

    def cost_analysis(self) -> dict:
        return _jaxlib.cost_analysis(self._compiled())

    def memory_analysis(self):
        return _jaxlib.memory_stats(self._compiled())


def compile_spmd(program: Program, name: str, in_shardings: Sequence[Sharding | None],
                 out_shardings: Sequence[Sharding | None], donated: Sequence[bool] = (),
                 mesh: Mesh | None = None, compiler_options: tuple = ()) -> CompiledSpmd:
    """``program`` over a mesh (the one its shardings name, else ``mesh``): one sharding
    per operand (constants first; None: replicated) and per output (None: XLA chooses);
    ``compiler_options`` as for ``dispatch.compile_for_call``."""
    return CompiledSpmd(program, name, in_shardings, out_shardings, donated, mesh,
                        compiler_options)
