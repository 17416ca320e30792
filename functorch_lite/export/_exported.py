"""``Exported``, ``export`` and ``call``: a jitted function lowered once to a StableHLO
module that can be saved, loaded in another process (or by another version of this
library or of JAX's runtime, within StableHLO's compatibility window) and called.

The module's ``main`` takes the flat arguments (the leaves of ``(args, kwargs)``) and
returns the flat results; constants the function closed over are written into it. Reverse
mode differentiates a call through the VJP exported alongside it (``vjp()``; serialized
when ``serialize(vjp_order=n)`` asks for it).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Sequence

import numpy as np

from functorch_lite.api.differentiation import vjp as _vjp
from functorch_lite.api.jit_function import JitFunction, jit
from functorch_lite.api.shardings import program_mesh
from functorch_lite.core import dtypes, pytree
from functorch_lite.core.avals import ShapedArray
from functorch_lite.core.backend import backend
from functorch_lite.core.ir import ClosedProgram, eval_program
from functorch_lite.core.shape_dtype_struct import ShapeDtypeStruct
from functorch_lite.export import _serialization
from functorch_lite.lax.custom_derivatives import custom_vjp
from functorch_lite.lax.exported_call import call_exported_p
from xla_bridge.runtime import default_backend

# Our own numbering (JAX's calling conventions are not ours): 1 is a module whose main
# takes exactly the flat arguments, with no platform index, tokens or dimension arguments.
CALLING_CONVENTION_VERSION = 1
_PLATFORMS = ("cpu", "cuda", "rocm", "tpu")


@dataclasses.dataclass(frozen=True, eq=False)
class Exported:
    """A function lowered to StableHLO, with the types it takes and returns.

    ``in_tree`` is the structure of ``(args, kwargs)``, ``in_avals``/``out_avals`` the
    types of the flat arguments and results, ``platforms`` where it may run,
    ``mlir_module_serialized`` the module (a StableHLO portable artifact). ``call`` runs
    it (inside ``jit``, ``grad`` and ``vmap`` too), ``serialize`` turns it into bytes
    for ``fl.export.deserialize``.

    >>> exp = fl.export.export(fl.jit(fnp.sin))(fl.ShapeDtypeStruct((3,), fnp.float32))
    >>> fl.export.deserialize(exp.serialize()).call(fnp.zeros(3))
    Array([0., 0., 0.], dtype=float32)
    """
    fun_name: str
    in_tree: Any
    in_avals: tuple[ShapedArray, ...]
    out_tree: Any
    out_avals: tuple[ShapedArray, ...]
    platforms: tuple[str, ...]
    mlir_module_serialized: bytes
    nr_devices: int = 1
    calling_convention_version: int = CALLING_CONVENTION_VERSION
    module_kept_var_idx: tuple[int, ...] = ()
    # A single device, no effects, no dimension variables: kept for JAX's field names.
    ordered_effects: tuple = ()
    unordered_effects: tuple = ()
    disabled_safety_checks: tuple = ()
    uses_global_constants: bool = False
    # () -> the exported VJP (None: none available); the result is kept once made.
    _get_vjp: Callable[[], "Exported"] | None = dataclasses.field(default=None, repr=False)
    _vjp_cache: list = dataclasses.field(default_factory=list, repr=False)

    @property
    def in_shardings_hlo(self) -> tuple:
        return (None,) * len(self.in_avals)

    @property
    def out_shardings_hlo(self) -> tuple:
        return (None,) * len(self.out_avals)

    def in_shardings_jax(self, mesh: Any = None) -> tuple:
        """One sharding per flat argument; None everywhere: exported programs run on one
        device (XLA decides placement)."""
        return self.in_shardings_hlo

    def out_shardings_jax(self, mesh: Any = None) -> tuple:
        return self.out_shardings_hlo

    def mlir_module(self) -> str:
        """The StableHLO module, as text."""
        return backend.exported_text(self.mlir_module_serialized)

    def has_vjp(self) -> bool:
        return self._get_vjp is not None

    def vjp(self) -> "Exported":
        """The exported VJP: it takes the flat arguments, then one cotangent per flat result,
        and returns one cotangent per flat argument (float0 for integer ones)."""
        if self._get_vjp is None:
            raise ValueError("No VJP is available")
        if not self._vjp_cache:
            self._vjp_cache.append(self._get_vjp())
        return self._vjp_cache[0]

    def serialize(self, vjp_order: int = 0) -> bytearray:
        """Bytes for ``fl.export.deserialize``; ``vjp_order=n`` includes ``n`` orders of
        VJPs, so the loaded function can be differentiated ``n`` times in reverse mode."""
        return _serialization.serialize(self, vjp_order)

    def call(self, *args, **kwargs):
        """Call the exported function on arguments of the structure and types it was
        exported for (from eager code or inside ``jit``, ``grad``, ``vmap``)."""
        return call(self)(*args, **kwargs)

    def __str__(self) -> str:
        return f"Exported(fun_name={self.fun_name}, ...)"

    __repr__ = __str__


def deserialize(blob: bytes | bytearray) -> Exported:
    """The ``Exported`` that ``Exported.serialize`` wrote into ``blob`` (a ValueError if
    ``blob`` is not one, or is truncated or corrupted)."""
    def make(vjp, **fields):
        return Exported(**fields, _get_vjp=None if vjp is None else (lambda: vjp))
    return _serialization.deserialize(blob, make)


def default_export_platform() -> str:
    """The platform ``export`` lowers for when not told: the default backend's ('cpu',
    'cuda', 'rocm' or 'tpu')."""
    return default_backend()


def _canonical_platform(p: str) -> str:
    p = str(p).lower()
    return "cuda" if p == "gpu" else p


def export(fun_jit: Callable, *, platforms: Sequence[str] | None = None,
           disabled_checks: Sequence[Any] = ()) -> Callable[..., Exported]:
    """``export(jit(f))(*args, **kwargs)`` lowers ``f`` for arguments of the shapes and
    dtypes of ``args`` (arrays or ``fl.ShapeDtypeStruct``) and returns an ``Exported``.
    ``platforms`` (default: the current one) are where the module may be called; the
    module is the same for each. A plain function is jitted first. ``disabled_checks`` is
    JAX's argument, accepted and unused: no check here can be turned off."""
    if isinstance(fun_jit, JitFunction):
        if fun_jit.in_shardings is not None or fun_jit.out_shardings is not None:
            raise NotImplementedError("export of a jit with in_shardings/out_shardings "
                                      "(a program over several devices) is not supported "
                                      "yet")
    elif callable(fun_jit):
        fun_jit = jit(fun_jit)
    else:
        raise ValueError(f"Function to be exported must be the result of `jit` but is: "
                         f"{fun_jit!r}")
    if platforms is None:
        chosen = None
    else:
        if isinstance(platforms, str):
            raise TypeError(f"platforms must be a sequence of platform names, got the "
                            f"string {platforms!r}")
        chosen = tuple(_canonical_platform(p) for p in platforms)
        unknown = [p for p in chosen if p not in _PLATFORMS]
        if unknown or not chosen:
            raise ValueError(f"export: unknown platforms {unknown or list(platforms)}; "
                             f"choose among {list(_PLATFORMS)}")

    def do_export(*args_specs, **kwargs_specs) -> Exported:
        traced = fun_jit.trace(*args_specs, **kwargs_specs)
        # jit keeps the positional arguments in a list; callers pass a tuple (as JAX's).
        args, kwargs = pytree.tree_unflatten(traced.in_tree,
                                             list(range(traced.in_tree.num_leaves)))
        in_tree = pytree.tree_structure((tuple(args), kwargs))
        return _export_traced(traced.jaxpr, in_tree, tuple(traced._in_avals),
                              traced.out_tree, traced.fun_name,
                              chosen or (default_export_platform(),))
    return do_export


def _export_traced(closed: ClosedProgram, in_tree, in_avals: tuple, out_tree,
                   fun_name: str, platforms: tuple) -> Exported:
    if program_mesh(closed.program) is not None:
        raise NotImplementedError("export of a program with sharding constraints (over "
                                  "several devices) is not supported yet")
    artifact = backend.export_module(closed.program, closed.consts, fun_name, platforms[0])
    return Exported(
        fun_name=fun_name, in_tree=in_tree, in_avals=in_avals, out_tree=out_tree,
        out_avals=tuple(closed.out_avals), platforms=platforms,
        mlir_module_serialized=artifact, module_kept_var_idx=tuple(range(len(in_avals))),
        _get_vjp=lambda: _export_vjp(closed, in_avals, fun_name, platforms))


def _export_vjp(closed: ClosedProgram, in_avals: tuple, fun_name: str,
                platforms: tuple) -> Exported:
    """The VJP of the traced program, exported: it takes the flat arguments and one
    cotangent per flat result, and returns one cotangent per flat argument."""
    n = len(in_avals)

    def fun_vjp(*args_and_cts):
        args, cts = args_and_cts[:n], args_and_cts[n:]
        _, pullback = _vjp(lambda *a: eval_program(closed.program, closed.consts, a), *args)
        return list(pullback(list(cts)))
    fun_vjp.__name__ = f"vjp_{fun_name}"
    cts = [_tangent_struct(a) for a in closed.out_avals]
    specs = [ShapeDtypeStruct(a.shape, a.dtype, weak_type=a.weak_type) for a in in_avals]
    return export(jit(fun_vjp), platforms=platforms)(*specs, *cts)


def _tangent_struct(a: ShapedArray) -> ShapeDtypeStruct:
    dtype = a.dtype if dtypes.is_inexact(a.dtype) else dtypes.float0
    return ShapeDtypeStruct(a.shape, dtype)


def call(exported: Exported) -> Callable[..., Any]:
    """``call(exp)(*args, **kwargs)``, the same as ``exp.call(*args, **kwargs)``."""
    if not isinstance(exported, Exported):
        raise ValueError(f"The exported argument must be an export.Exported. Found "
                         f"{exported!r}.")

    @custom_vjp
    def f_flat(*args_flat):
        return call_exported_p.bind(*args_flat, exported=exported)

    def f_fwd(*args_flat):
        return f_flat(*args_flat), args_flat

    def f_bwd(args_flat, cts):
        exp_vjp = exported.vjp()
        # Zero cotangents for integer results come as zeros of their dtype; the VJP
        # takes float0 there.
        cts = [ct if want.dtype != dtypes.float0 else _float0_zeros(want)
               for ct, want in zip(cts, exp_vjp.in_avals[len(args_flat):])]
        return tuple(call(exp_vjp)(*args_flat, *cts))
    f_flat.defvjp(f_fwd, f_bwd)

    def f_imported(*args, **kwargs):
        leaves, in_tree = pytree.tree_flatten((args, kwargs))
        if in_tree != exported.in_tree:
            try:  # where they first differ, as a path into (args, kwargs)
                exported.in_tree.flatten_up_to((args, kwargs))
                where = ""
            except ValueError as e:
                where = f" ({e})"
            raise ValueError(
                "The invocation args and kwargs must have the same pytree structure as "
                f"when the function '{exported.fun_name}' was exported, but they differ: "
                f"called with {in_tree}, exported for {exported.in_tree}{where}")
        here = default_export_platform()
        if here not in exported.platforms:
            raise ValueError(f"Function '{exported.fun_name}' was exported for platforms "
                             f"'{exported.platforms}' but it is used on '{(here,)}'.")
        out = f_flat(*leaves)
        return pytree.tree_unflatten(exported.out_tree, list(out))
    return f_imported


def _float0_zeros(aval: ShapedArray):
    return np.zeros(aval.shape, dtypes.float0)
