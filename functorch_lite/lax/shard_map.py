"""``shard_map``: run a function once per device of a mesh, on that device's pieces.

``shard_map(f, mesh=, in_specs=, out_specs=)(*args)`` splits each argument as its spec says
(``P("data")``: rows over the ``data`` axis), calls ``f`` on the pieces of one device
(traced once, with per-device shapes) and assembles the outputs as ``out_specs`` say. Inside
``f`` the mesh axes are named axes: ``psum(x, "data")`` and the other collectives of
``lax.parallel`` combine the devices along them.

It is a primitive carrying the per-device program. Its rules transform that program with
the interpreters' program transforms while the mesh axes stay bound: jvp (tangents split as
their primals), partial evaluation (the residuals each device needs stay on it: they leave
the known half stacked over every mesh axis), transposition, and batching (the new batch
dimension is not split). Lowered, it is one ``sdy.manual_computation``.
"""
from __future__ import annotations

import functools
import math
from typing import Any, Callable

from functorch_lite.core import dtypes, pytree
from functorch_lite.core.avals import ShapedArray, get_aval
from functorch_lite.core.backend import backend
from functorch_lite.core.ir import Eqn, Program, Var, eval_program
from functorch_lite.core.primitive import Primitive
from functorch_lite.core.sharding import Mesh, NamedSharding, PartitionSpec
from functorch_lite.interpreters import ad, batching, partial_eval, transpose
from functorch_lite.interpreters.staging import trace_flat
from functorch_lite.lax._common import as_operand
from functorch_lite.lax.elementwise import convert_element_type, div
from functorch_lite.lax.parallel import mesh_axes, psum
from functorch_lite.lax.shapes import expand_dims, squeeze

__all__ = ["shard_map"]

shard_map_p = Primitive("shard_map", multiple_results=True)


def _local_aval(aval: ShapedArray, mesh: Mesh, spec: PartitionSpec) -> ShapedArray:
    s = NamedSharding(mesh, spec)
    return aval.update(shape=tuple(n // s.tiles(d) for d, n in enumerate(aval.shape)))


def _global_aval(aval: ShapedArray, mesh: Mesh, spec: PartitionSpec) -> ShapedArray:
    s = NamedSharding(mesh, spec)
    return aval.update(shape=tuple(n * s.tiles(d) for d, n in enumerate(aval.shape)))


@shard_map_p.def_shape
def _shard_map_shape(*avals, program, mesh, in_specs, out_specs):
    for i, (a, spec, v) in enumerate(zip(avals, in_specs, program.invars)):
        NamedSharding(mesh, spec).check_shape(a.shape, f"shard_map input {i}")
        if not _local_aval(a, mesh, spec).same_type(v.aval):
            raise TypeError(f"shard_map: input {i} is {a.str_short()}; split as {spec} over "
                            f"{mesh} it does not give the {v.aval.str_short()} the body "
                            "was traced for")
    return [_global_aval(v.aval, mesh, s) for v, s in zip(program.outvars, out_specs)]


@functools.lru_cache(maxsize=256)  # one compiled program per call signature
def _compiled(program: Program, mesh: Mesh, in_specs: tuple, out_specs: tuple,
              in_avals: tuple):
    params = dict(program=program, mesh=mesh, in_specs=in_specs, out_specs=out_specs)
    invars = [Var(a) for a in in_avals]
    outvars = [Var(a) for a in _shard_map_shape(*in_avals, **params)]
    prog = Program([], invars, [Eqn(shard_map_p, invars, outvars, params)], outvars)
    return backend.compile_spmd(prog, "shard_map", [NamedSharding(mesh, s) for s in in_specs],
                                [NamedSharding(mesh, s) for s in out_specs], (), mesh)


@shard_map_p.def_impl
def _shard_map_impl(*args, program, mesh, in_specs, out_specs):
    # Eagerly: the one-equation program, compiled over the mesh.
    avals = tuple(get_aval(a) for a in args)
    return _compiled(program, mesh, in_specs, out_specs, avals)(*args)


def _bind(args, program, mesh, in_specs, out_specs):
    return shard_map_p.bind(*args, program=program, mesh=mesh, in_specs=tuple(in_specs),
                            out_specs=tuple(out_specs))


# ---------------------------------------------------------------------------------------
# jvp: the tangent of an input is split as the input is, an output's as the output is

def _shard_map_jvp(primals, tangents, *, program, mesh, in_specs, out_specs):
    nonzero = tuple(type(t) is not ad.Zero for t in tangents)
    with mesh_axes(mesh.shape):
        jprog, consts, _ = ad.jvp_program(program, nonzero)
    tangents_nz = [t for t in tangents if type(t) is not ad.Zero]
    specs_in = [PartitionSpec()] * len(consts) + list(in_specs) + \
        [s for s, nz in zip(in_specs, nonzero) if nz]
    outs = _bind([*consts, *primals, *tangents_nz], jprog, mesh, specs_in,
                 [*out_specs, *out_specs])
    k = len(program.outvars)
    return outs[:k], outs[k:]


shard_map_p.def_jvp(_shard_map_jvp)


# ---------------------------------------------------------------------------------------
# partial evaluation: each device's residuals leave the known half stacked over all mesh
# axes (a new leading dimension), so the unknown half gets back exactly its own.

def _stacked(mesh: Mesh) -> PartitionSpec:
    return PartitionSpec(tuple(mesh.axis_names))


@functools.lru_cache(maxsize=1024)  # programs are immutable; reuse keeps compiled forms
def _split(program: Program, unknown_in: tuple, mesh: Mesh):
    with mesh_axes(mesh.shape):
        known, known_consts, unknown, unknown_out, num_res = partial_eval.split_program(
            program, unknown_in)
        n_known_out = len(known.outvars) - num_res

        def known_stacked(*xs):
            outs = eval_program(known, [], xs)
            return [*outs[:n_known_out], *[expand_dims(r, (0,)) for r in outs[n_known_out:]]]

        def unknown_unstacked(*xs):
            res = [squeeze(r, (0,)) for r in xs[:num_res]]
            return eval_program(unknown, [], [*res, *xs[num_res:]])

        known_p, c1 = trace_flat(known_stacked, [v.aval for v in known.invars],
                                 "shard_map known half")
        res_avals = [v.aval.update(shape=(1, *v.aval.shape)) for v in unknown.invars[:num_res]]
        unknown_p, c2 = trace_flat(unknown_unstacked,
                                   res_avals + [v.aval for v in unknown.invars[num_res:]],
                                   "shard_map unknown half")
    return known_p, [*c1, *known_consts], unknown_p, c2, unknown_out, num_res


def _shard_map_partial_eval(trace, tracers, knowns, unknown_in, *, program, mesh, in_specs,
                            out_specs):
    known_p, known_consts, unknown_p, unknown_consts, unknown_out, num_res = _split(
        program, tuple(unknown_in), mesh)
    known_vals = [k for k, u in zip(knowns, unknown_in) if not u]
    known_specs = [s for s, u in zip(in_specs, unknown_in) if not u]
    out_known_specs = [s for s, u in zip(out_specs, unknown_out) if not u]
    outs = _bind([*known_consts, *known_vals], known_p, mesh,
                 [PartitionSpec()] * len(known_consts) + known_specs,
                 out_known_specs + [_stacked(mesh)] * num_res)
    n_known = len(outs) - num_res
    known_outs, residuals = outs[:n_known], outs[n_known:]
    unknown_tracers = [t for t, u in zip(tracers, unknown_in) if u]
    specs = ([PartitionSpec()] * len(unknown_consts) + [_stacked(mesh)] * num_res +
             [s for s, u in zip(in_specs, unknown_in) if u])
    staged = trace.stage(shard_map_p,
                         [*[trace.pure(c) for c in unknown_consts],
                          *[trace.pure(r) for r in residuals], *unknown_tracers],
                         dict(program=unknown_p, mesh=mesh, in_specs=tuple(specs),
                              out_specs=tuple(s for s, u in zip(out_specs, unknown_out)
                                              if u)))
    known_it, staged_it = iter(known_outs), iter(staged)
    return [next(staged_it) if u else trace.pure(next(known_it)) for u in unknown_out]


shard_map_p.def_partial_eval(_shard_map_partial_eval)


# ---------------------------------------------------------------------------------------
# transposition: the transposed per-device program; an input not split over some mesh axes
# (replicated across them) gets the sum of the devices' cotangents over those axes.

def _unmentioned(mesh: Mesh, spec: PartitionSpec) -> tuple:
    return NamedSharding(mesh, spec).unsplit_axes


@functools.lru_cache(maxsize=1024)
def _transposed(program: Program, linear_in: tuple, mesh: Mesh, in_specs: tuple,
                out_specs: tuple):
    """The transposed per-device program. An output replicated over some mesh axes holds
    one value on several devices, so each device takes its share of that output's
    cotangent (divided by their number); an input replicated over some axes gets the sum
    over them of the devices' cotangents (JAX does the same without its replication
    checks)."""
    with mesh_axes(mesh.shape):
        tprog, consts = transpose.transpose_program(program, linear_in)
        lin_specs = [s for s, lin in zip(in_specs, linear_in) if lin]
        n_front = len(tprog.invars) - len(out_specs)

        def fun(*xs):
            cts = [c if not dtypes.is_inexact(get_aval(c).dtype) or _copies(mesh, s) == 1
                   else div(c, convert_element_type(_copies(mesh, s), get_aval(c).dtype))
                   for c, s in zip(xs[n_front:], out_specs)]
            outs = eval_program(tprog, [], [*xs[:n_front], *cts])
            return [psum(c, axes) if axes else c
                    for c, axes in ((c, _unmentioned(mesh, s)) for c, s in zip(outs, lin_specs))]

        prog, more = trace_flat(fun, [v.aval for v in tprog.invars], "shard_map transpose")
    return prog, [*more, *consts]


def _copies(mesh: Mesh, spec: PartitionSpec) -> int:
    return math.prod(mesh.shape[n] for n in _unmentioned(mesh, spec))


def _shard_map_transpose(cts, *args, program, mesh, in_specs, out_specs):
    linear_in = tuple(transpose.is_undefined(a) for a in args)
    tprog, consts = _transposed(program, linear_in, mesh, tuple(in_specs), tuple(out_specs))
    nonlin = [a for a in args if not transpose.is_undefined(a)]
    cts = [ad.instantiate(c) for c in cts]
    specs_in = ([PartitionSpec()] * len(consts) +
                [s for s, lin in zip(in_specs, linear_in) if not lin] + list(out_specs))
    specs_out = [s for s, lin in zip(in_specs, linear_in) if lin]
    outs = iter(_bind([*consts, *nonlin, *cts], tprog, mesh, specs_in, specs_out))
    return [next(outs) if lin else None for lin in linear_in]


shard_map_p.def_transpose(_shard_map_transpose)


# ---------------------------------------------------------------------------------------
# batching: the batch dimension (moved to the front) is not split

def _shard_map_batch(axis, args, dims, *, program, mesh, in_specs, out_specs):
    args = [a if d is None else batching.move_dim(a, d, 0, axis.size)
            for a, d in zip(args, dims)]
    dims0 = tuple(None if d is None else 0 for d in dims)
    with mesh_axes(mesh.shape):
        bprog, consts, _ = batching.batch_program(program, dims0, axis.size, axis.name,
                                                  all_batched=True)
    specs_in = [PartitionSpec()] * len(consts) + [
        s if d is None else PartitionSpec(None, *s.normalized(v.aval.ndim))
        for s, d, v in zip(in_specs, dims0, program.invars)]
    specs_out = [PartitionSpec(None, *s.normalized(v.aval.ndim))
                 for s, v in zip(out_specs, program.outvars)]
    outs = _bind([*consts, *args], bprog, mesh, specs_in, specs_out)
    return outs, [0] * len(outs)


shard_map_p.def_batch(_shard_map_batch)


# ---------------------------------------------------------------------------------------
# The user's entry point

def _is_spec(x: Any) -> bool:
    return x is None or isinstance(x, PartitionSpec)


def _specs_for(specs: Any, tree_like: Any, what: str) -> list[PartitionSpec]:
    try:
        flat = pytree.broadcast_prefix(specs, tree_like, is_leaf=_is_spec)
    except ValueError as e:
        raise ValueError(f"shard_map: {what} does not match the structure: {e}") from None
    for s in flat:
        if not isinstance(s, PartitionSpec):
            raise TypeError(f"shard_map: {what} must hold PartitionSpecs (P(...)), got "
                            f"{type(s).__name__}: {s!r}")
    return flat


def shard_map(f: Callable, mesh: Mesh, in_specs: Any, out_specs: Any, *,
              check_rep: bool = True, check_vma: bool | None = None) -> Callable:
    """``f`` run once per device of ``mesh`` on its pieces of the arguments.

    ``in_specs`` (a PartitionSpec per argument, or a pytree prefix of the arguments) say
    how each argument is split; ``out_specs`` how the per-device outputs are assembled
    (``P()``: every device returns the whole value, which must then be the same on all).
    Inside ``f`` the mesh axes are named axes for ``psum``, ``all_gather``, ``ppermute``...

    >>> mesh = make_mesh((8,), ("i",))
    >>> shard_map(lambda x: psum(x.sum(), "i"), mesh=mesh, in_specs=P("i"),
    ...           out_specs=P())(fnp.arange(16.0))
    Array(120., dtype=float32)
    """
    if not isinstance(mesh, Mesh):
        raise TypeError(f"shard_map: mesh must be a Mesh, got {type(mesh).__name__}")
    del check_rep, check_vma  # outputs are taken as the specs say; not verified

    @functools.wraps(f)
    def wrapped(*args):
        leaves, in_tree = pytree.tree_flatten(args)
        leaves = [as_operand(x) for x in leaves]
        specs = _specs_for(in_specs, args, "in_specs")
        local = []
        for i, (x, spec) in enumerate(zip(leaves, specs)):
            aval = get_aval(x)
            NamedSharding(mesh, spec).check_shape(aval.shape,
                                                  f"shard_map({_name(f)}) argument {i}")
            local.append(_local_aval(aval, mesh, spec))
        flat, out_tree = pytree.flatten_fun(f, in_tree)
        with mesh_axes(mesh.shape):
            program, consts = trace_flat(lambda *xs: [as_operand(o) for o in flat(*xs)],
                                         local, f"shard_map({_name(f)})")
        outs_like = pytree.tree_unflatten(out_tree(), [0] * out_tree().num_leaves)
        o_specs = _specs_for(out_specs, outs_like, "out_specs")
        for i, (v, spec) in enumerate(zip(program.outvars, o_specs)):
            NamedSharding(mesh, spec)  # (checks the axis names)
            if len(spec) > v.aval.ndim:
                raise ValueError(f"shard_map({_name(f)}) output {i} ({v.aval.str_short()} "
                                 f"per device): its out_spec {spec} has {len(spec)} entries "
                                 f"for {v.aval.ndim} dimensions")
        outs = _bind([*consts, *leaves], program, mesh,
                     [PartitionSpec()] * len(consts) + specs, o_specs)
        return pytree.tree_unflatten(out_tree(), outs)
    return wrapped


def _name(f) -> str:
    return getattr(f, "__name__", "fun")
