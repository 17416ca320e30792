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
from jax._src import xla_bridge as _jax_xla_bridge  # (backends_are_initialized)
from jax import dlpack as _jax_dlpack
from jax.extend import backend as _jex_backend
from jaxlib import _jax
from jaxlib import xla_client as _xc
from jaxlib.mlir import ir as _ir
from jaxlib.mlir._mlir_libs import _jax_mlir_ext
from jaxlib.mlir.dialects import chlo as _chlo, sdy as _sdy, stablehlo as _stablehlo

Device = _xc.Device
# What a failing execution (or compile) raises: users catch it as functorch_lite.errors'.
JaxRuntimeError = _jax.JaxRuntimeError


def jaxlib_version() -> str:
    return jaxlib.__version__


@functools.lru_cache(maxsize=None)
def client(platform: str | None = None):
    """The PJRT client for ``platform`` ('cpu', 'gpu', 'tpu'), or the best available."""
    try:
        return _jex_backend.get_backend(platform)
    except AssertionError:  # how JAX's runtime fails when no platform it was asked for started
        raise RuntimeError(f"no platform started (jax_platforms="
                           f"{jax.config.jax_platforms!r})") from None


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


def global_devices(c) -> list:
    """Every process's devices (the same as ``local_devices`` in a single process)."""
    return list(c.devices())


def process_index(c) -> int:
    return c.process_index()


def _compile_options(devices: Sequence[Any], overrides: Sequence[tuple] = ()):
    """Options placing replica i of a one-partition program on ``devices[i]``, with XLA's
    options ``overrides`` ((name, value) pairs, as jit's ``compiler_options``)."""
    options = _xc.CompileOptions()
    options.device_assignment = _xc.DeviceAssignment.create(
        np.array([[d.id] for d in devices], dtype=int))
    if overrides:
        options.env_option_overrides = list(overrides)
    return options


def compile(c, module_text: str, devices: Sequence[Any], overrides: Sequence[tuple] = ()):
    """Compile StableHLO text into a loaded executable on ``devices``."""
    return c.compile_and_load(module_text, _xc.DeviceList(tuple(devices)),
                              _compile_options(devices, overrides))


@functools.lru_cache(maxsize=1)
def _mlir_context():
    """An MLIR context with every dialect our modules use (built once: loading them is
    slow), for compiles that must hand XLA a parsed module rather than text."""
    registry = _ir.DialectRegistry()
    _jax_mlir_ext.register_dialects(registry)     # func and the other upstream dialects
    context = _ir.Context()
    context.append_dialect_registry(registry)
    context.load_all_available_dialects()
    for dialect in (_stablehlo, _chlo, _sdy):
        dialect.register_dialect(context)
    return context


def compile_with_host_callbacks(c, module_text: str, devices: Sequence[Any],
                                host_callbacks: Sequence[Any], overrides: Sequence[tuple] = ()):
    """``compile`` for a module whose custom calls call back into Python: the client takes
    the callbacks (indexed by the calls' ``index`` attribute) only with a parsed module.
    The executable keeps them alive."""
    with _mlir_context():
        module = _ir.Module.parse(module_text)
        return c.compile_and_load(module, _xc.DeviceList(tuple(devices)),
                                  _compile_options(devices, overrides),
                                  list(host_callbacks))


def portable_artifact(module_text: str) -> bytes:
    """``module_text`` as a StableHLO portable artifact (versioned VHLO bytecode) that
    runtimes built up to twelve weeks older than this one can still load."""
    target = _stablehlo.get_version_from_compatibility_requirement(
        _stablehlo.StablehloCompatibilityRequirement.WEEK_12)
    return _stablehlo.serialize_portable_artifact_str(module_text, target)


def artifact_text(artifact: bytes) -> str:
    """The StableHLO module in a portable artifact, as text (a ValueError if ``artifact``
    is not one this runtime can read)."""
    with _mlir_context():
        return str(_artifact_module(artifact))


def _artifact_module(artifact: bytes):
    try:
        bytecode = _stablehlo.deserialize_portable_artifact_str(bytes(artifact))
        return _ir.Module.parse(bytecode)
    except Exception as e:  # the bindings raise plain Exceptions with MLIR's diagnostics
        raise ValueError(f"not a StableHLO portable artifact this runtime can read: "
                         f"{e}") from None


def artifact_functions(artifact: bytes, prefix: str) -> list[str]:
    """The functions of the module in ``artifact`` as text, each renamed ``prefix + name``
    (calls inside follow) and private, to be pasted into another module: its ``main``
    becomes ``prefix + "main"``."""
    with _mlir_context():
        module = _artifact_module(artifact)
        funcs = list(module.body.operations)
        for op in funcs:
            if op.operation.name != "func.func":
                raise ValueError(f"cannot inline a module holding {op.operation.name}: "
                                 "only modules of functions can be called")
            old = _ir.StringAttr(op.attributes["sym_name"]).value
            _ir.SymbolTable.replace_all_symbol_uses(old, prefix + old, module.operation)
            op.attributes["sym_name"] = _ir.StringAttr.get(prefix + old)
            op.attributes["sym_visibility"] = _ir.StringAttr.get("private")
        return [op.operation.get_asm() for op in funcs]


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


def execute_and_wait(exe, buffers: list, handlers: list) -> list:
    """``execute`` that returns once the run has finished, so every host callback in it
    has been called (a debug print shows before the call returns, as in JAX)."""
    results = exe.execute_sharded(buffers, with_tokens=True)
    token = results.consume_token()
    outs = results.consume_with_handlers(handlers)
    token.block_until_ready()
    return outs


def from_dlpack(external: Any, device=None, copy: bool | None = None) -> Any:
    """A device buffer holding ``external`` (an object with ``__dlpack__``: a NumPy array,
    a torch tensor, ...), sharing its memory when the runtime can; dtypes are canonicalized
    as for any input (int64 to int32 without x64)."""
    return _jax_dlpack.from_dlpack(external, device=device, copy=copy)


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


def runtime_started() -> bool:
    """Whether a client exists (ours or JAX's): from then on the platform list and the
    distributed runtime are fixed for this process."""
    return bool(client.cache_info().currsize) or _jax_xla_bridge.backends_are_initialized()


def set_platforms(value: str | None) -> bool:
    """Ask the runtime for these platforms (JAX's backend list, which the client factory
    reads when it first makes clients). False when the runtime has started already, so the
    value can no longer take effect in this process."""
    if (jax.config.jax_platforms or None) == (value or None):
        return True
    if runtime_started():
        return False
    jax.config.update("jax_platforms", value)
    return True


def set_x64(enabled: bool) -> None:
    """Keep the runtime's 64-bit flag equal to ours, so transfers never narrow dtypes."""
    jax.config.update("jax_enable_x64", bool(enabled))


# ---------------------------------------------------------------------------------------
# Many devices: shardings, SPMD programs, sharded buffers. A sharded buffer is jaxlib's
# array spanning the devices; its layout is given to jaxlib as XLA's sharding text over
# an ordered device list (partition i on devices[i]).

def same_sharding(a: str, b: str) -> bool:
    """Whether two XLA sharding texts mean the same layout (an explicit device list and
    XLA's compact ``<=[8]`` form of it are the same)."""
    return _xc.HloSharding.from_string(a) == _xc.HloSharding.from_string(b)


def sharding_tile_dims(text: str, ndim: int) -> tuple[int, ...] | None:
    """How many pieces each of the ``ndim`` dimensions is split into (None: not tiled)."""
    proto = _xc.HloSharding.from_string(text).to_proto()
    dims = list(proto.tile_assignment_dimensions)
    if len(dims) < ndim or proto.type != _xc.OpSharding.Type.OTHER:
        return None
    return tuple(dims[:ndim])


def _runtime_sharding(text: str, devices: Sequence[Any]):
    return _xc.GSPMDSharding(list(devices), _xc.HloSharding.from_string(text).to_proto())


def hlo_sharding_indices(text: str, devices: Sequence[Any], shape: Sequence[int]) -> dict:
    return dict(_runtime_sharding(text, devices).devices_indices_map(tuple(shape)))


def to_devices(value: Any, text: str, devices: Sequence[Any]) -> Any:
    """A host value or buffer laid out over ``devices`` as the sharding ``text`` says (a
    copy only where the layout changes)."""
    return jax.device_put(value, _runtime_sharding(text, devices))


def shards(buffer) -> list:
    """``(single-device buffer, index, device)`` for each piece of ``buffer`` this process
    holds."""
    return [(s.data, s.index, s.device) for s in buffer.addressable_shards]


def compile_spmd(c, module_text: str, devices: Sequence[Any], num_outputs: int,
                 propagate_outputs: Sequence[bool], overrides: Sequence[tuple] = ()):
    """Compile a module over ``devices`` (one partition each, SPMD-partitioned by XLA);
    ``propagate_outputs`` marks the outputs whose sharding XLA chooses."""
    options = _xc.CompileOptions()
    options.num_replicas = 1
    options.num_partitions = len(devices)
    options.device_assignment = _xc.DeviceAssignment.create(
        np.array([[d.id for d in devices]], dtype=int))
    build = options.executable_build_options
    build.use_spmd_partitioning = True
    build.use_shardy_partitioner = True  # the module carries sdy.sharding attributes
    build.allow_spmd_sharding_propagation_to_output = list(propagate_outputs) or [False]
    if overrides:
        options.env_option_overrides = list(overrides)
    return c.compile_and_load(module_text, _xc.DeviceList(tuple(devices)), options)


def output_sharding_texts(exe, num_outputs: int) -> list[str]:
    """The shardings XLA gave the outputs (a one-partition program reports none: all
    replicated)."""
    protos = exe.get_output_shardings()
    if protos is None:
        return ["{replicated}"] * num_outputs
    return [str(_xc.HloSharding.from_proto(p)) for p in protos]


def sharded_result_handlers(avals: Sequence[Any], texts: Sequence[str],
                            devices: Sequence[Any]) -> list:
    return [_jax.array_result_handler(
        jax.core.ShapedArray(a.shape, a.dtype, weak_type=a.weak_type),
        _runtime_sharding(t, devices), True, True) for a, t in zip(avals, texts)]


def partitioned_hlo_text(exe) -> str:
    """The optimized, partitioned HLO of a compiled program."""
    return "\n\n".join(m.to_string() for m in exe.hlo_modules())


# ---------------------------------------------------------------------------------------
# Many processes: PJRT's distributed runtime (a coordination service in process 0, a client
# in each process) joins the processes' devices into one global device list, and the CPU
# client's cross-process collectives (gloo over TCP) carry the all-reduces.

def distributed_initialize(coordinator_address: str | None, num_processes: int | None,
                           process_id: int | None, local_device_ids: Sequence[int] | None,
                           heartbeat_timeout_s: int, initialization_timeout_s: int,
                           shutdown_timeout_s: int) -> None:
    """Connect this process to the others. The PJRT client reads the distributed client
    when it is created, so this must run first: RuntimeError once a client exists."""
    if runtime_started():
        raise RuntimeError(
            "distributed.initialize must be called before anything creates the runtime "
            "client: before the first computation, array transfer or fl.devices() call "
            "(importing functorch_lite alone is fine)")
    # gloo: the CPU client's collectives across processes (without it a cross-process
    # all-reduce on CPU has no transport).
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    # Every argument given: no cluster auto-detection (SLURM, MPI, cloud TPU environments)
    # may override them; some left out: JAX's auto-detection fills them or says which.
    given = None not in (coordinator_address, num_processes, process_id)
    jax.distributed.initialize(
        coordinator_address=coordinator_address, num_processes=num_processes,
        process_id=process_id, local_device_ids=local_device_ids,
        cluster_detection_method="deactivate" if given else None,
        initialization_timeout=int(initialization_timeout_s),
        heartbeat_timeout_seconds=int(heartbeat_timeout_s),
        shutdown_timeout_seconds=int(shutdown_timeout_s))


def distributed_shutdown() -> None:
    jax.distributed.shutdown()


def distributed_is_initialized() -> bool:
    return jax.distributed.is_initialized()


def process_count(c) -> int:
    return len({d.process_index for d in c.devices()})


def from_process_local_data(text: str, devices: Sequence[Any], local_data: np.ndarray,
                            global_shape: Sequence[int] | None) -> Any:
    """A buffer laid out over ``devices`` (of every process) as ``text`` says, each process
    giving the rows of the global array its own devices hold (``global_shape`` None: the
    local shape times the number of processes along each split dimension)."""
    return jax.make_array_from_process_local_data(
        _runtime_sharding(text, devices), local_data,
        None if global_shape is None else tuple(global_shape))
