"""Eager execution: a primitive applied to concrete arrays runs as a one-equation program,
compiled once per (primitive, params, input types, device) and cached
(``caches.eager_executables``); it is called like any other program, through
``dispatch.Compiled``."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from functorch_lite.core import dtypes
from functorch_lite.core.avals import ShapedArray, TypedScalar
from functorch_lite.core.ir import Eqn, Program, Var
from functorch_lite.core.sharding import NamedSharding, PartitionSpec, Sharding
from xla_bridge import _jaxlib
from xla_bridge.array import Array, from_numpy, guard
from xla_bridge.caches import eager_executables
from xla_bridge.dispatch import compile_for_call
from xla_bridge.operands import choose_device, to_array
from xla_bridge.sharding import hlo_sharding, mesh_of
from xla_bridge.spmd import compile_spmd

# The name tests use for the cache of eager executables (caches.py).
_cache = eager_executables


def _single_eqn_program(primitive, in_avals: Sequence[ShapedArray], params: dict) -> Program:
    invars = [Var(a) for a in in_avals]
    out_avals = primitive.abstract_eval(*in_avals, **params)
    outvars = [Var(a) for a in out_avals]
    return Program([], invars, [Eqn(primitive, invars, outvars, params)], outvars)


def apply_primitive(primitive, args: Sequence[Any], params: dict) -> list:
    if any(type(x) is Array and x._sharding is not None for x in args):
        return _apply_spmd(primitive, args, params)
    device = choose_device(args, primitive.name)
    arrays = [to_array(x, device) for x in args]
    avals = tuple(a.aval for a in arrays)
    key = (primitive, avals, tuple(params.items()), device)
    try:
        compiled = eager_executables.get(key)
    except TypeError:  # unhashable params (an array, say): compiled for this call only
        key = compiled = None
    if compiled is None:
        name = params.get("name") or primitive.name
        compiled = compile_for_call(_single_eqn_program(primitive, avals, params), name,
                                    device, params.get("donated") or (), label=name)
        if key is not None:
            eager_executables[key] = compiled
    return compiled(*arrays)


def device_put(value: Any, device=None, weak_type: bool = False) -> Array:
    """Place ``value`` (an Array, NumPy array or scalar) on ``device`` (default device)."""
    if type(value) is Array:
        if device is None or value.device == device:
            return value
        guard("device_to_device",
              lambda: f"{value.aval.str_short()} from {value.device} to {device}")
        return Array(_jaxlib.copy_to_device(value.buffer, device), value.aval, device)
    if type(value) is TypedScalar:
        return from_numpy(value.value, device, weak_type=value.aval.weak_type)
    return from_numpy(np.asarray(value), device, weak_type=weak_type)


def _apply_spmd(primitive, args: Sequence[Any], params: dict) -> list:
    """A primitive on arrays laid out over a mesh: one SPMD program over that mesh (the
    other operands replicated on it), never a gather to one device."""
    shardings = [x._sharding if type(x) is Array else None for x in args]
    mesh = mesh_of(shardings, primitive.name)
    arrays = [x if type(x) is Array else to_array(x, mesh.flat_devices[0]) for x in args]
    avals = tuple(a.aval for a in arrays)
    shardings = tuple(s if s is not None else NamedSharding(mesh, PartitionSpec())
                      for s in shardings)
    key = ("spmd", primitive, avals, tuple(params.items()), shardings)
    try:
        compiled = eager_executables.get(key)
    except TypeError:  # unhashable params: compiled for this call only
        key = compiled = None
    if compiled is None:
        program = _single_eqn_program(primitive, avals, params)
        compiled = compile_spmd(program, params.get("name") or primitive.name, shardings,
                                [None] * len(program.outvars))
        if key is not None:
            eager_executables[key] = compiled
    return compiled(*arrays)


def device_put_sharded(value: Any, sharding: Sharding) -> Array:
    """``value`` (an Array, NumPy array or scalar) laid out as ``sharding`` says."""
    if not isinstance(sharding, NamedSharding):
        return device_put(value, next(iter(sharding.device_set)))
    if type(value) is Array:
        if value._sharding == sharding:
            return value
        buf, aval = value.buffer, value.aval
        guard("device_to_device", lambda: f"{aval.str_short()} to {sharding}")
    else:
        buf = _canonical_host(value.value if type(value) is TypedScalar else value)
        aval = ShapedArray(buf.shape, buf.dtype, False)
        guard("host_to_device", lambda: f"{aval.str_short()} to {sharding}")
    sharding.check_shape(aval.shape, f"device_put of a {aval.dtype.name} array")
    buf = _jaxlib.to_devices(buf, hlo_sharding(sharding, aval.ndim), sharding.mesh.flat_devices)
    return Array(buf, aval, sharding=sharding)


def _canonical_host(value: Any) -> np.ndarray:
    """``value`` as a NumPy array of its canonical dtype (float64 -> float32 without x64),
    as ``from_numpy`` converts values for one device."""
    host = np.asarray(value)
    return host.astype(dtypes.canonicalize_dtype(host.dtype), copy=False)


def make_array_from_process_local_data(sharding, local_data, global_shape=None):
    """The global Array laid out as ``sharding`` (a NamedSharding) says, built from the
    piece each process holds (its devices' rows); see ``fl.make_array_from_process_local_data``."""
    if not isinstance(sharding, NamedSharding):
        raise TypeError("make_array_from_process_local_data: sharding must be a "
                        f"NamedSharding over a mesh, got {type(sharding).__name__}")
    host = _canonical_host(local_data)
    if global_shape is None and sharding.is_fully_addressable:
        global_shape = host.shape  # one process holds it all (else the runtime infers it)
    if global_shape is not None:
        global_shape = tuple(int(n) for n in global_shape)
        if len(global_shape) != host.ndim:
            raise ValueError(f"make_array_from_process_local_data: global_shape "
                             f"{global_shape} has {len(global_shape)} dimensions but the "
                             f"local data has shape {host.shape}")
        sharding.check_shape(global_shape, "make_array_from_process_local_data: the array")
    buf = _jaxlib.from_process_local_data(hlo_sharding(sharding, host.ndim),
                                          sharding.mesh.flat_devices, host, global_shape)
    return Array(buf, ShapedArray(tuple(buf.shape), host.dtype, False), sharding=sharding)
