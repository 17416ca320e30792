"""Vectorization (vmap): run a function once on a batch of inputs.

A ``BatchTracer`` holds a value with an extra *batch dimension* (or ``not_mapped`` when the
value is the same for every batch member). Each primitive's ``batch_rule(axis, args, dims,
**params) -> (out, out_dim)`` computes the batched result in one call, moving batch
dimensions only when it must. ``axis`` carries the batch size and the axis name (for the
collectives ``psum`` & co.).
"""
from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

from functorch_lite.core import pytree
from functorch_lite.core import trace as trace_mod
from functorch_lite.core.avals import ShapedArray, get_aval
from functorch_lite.core.ir import Program, eval_program, programs_in
from functorch_lite.core.primitive import Primitive, missing_rule
from functorch_lite.interpreters import array_ops
from functorch_lite.interpreters.staging import trace_to_program

not_mapped = None


class AxisData:
    __slots__ = ("size", "name")

    def __init__(self, size: int, name: Any = None):
        self.size = size
        self.name = name


class BatchTracer(trace_mod.Tracer):
    __slots__ = ("val", "batch_dim")

    def __init__(self, trace: "BatchTrace", val: Any, batch_dim: int | None):
        self._trace = trace
        self.val = val
        self.batch_dim = batch_dim

    @property
    def aval(self) -> ShapedArray:
        aval = get_aval(self.val)
        if self.batch_dim is None:
            return aval
        shape = list(aval.shape)
        del shape[self.batch_dim]
        return aval.update(shape=tuple(shape))

    def full_lower(self):
        if self.batch_dim is None:
            return trace_mod.full_lower(self.val)
        return self


class BatchTrace(trace_mod.Trace):
    transformation_name = "vmap"

    @property
    def axis(self) -> AxisData:
        return self.main.global_data

    def pure(self, val: Any) -> BatchTracer:
        return BatchTracer(self, val, not_mapped)

    lift = pure

    def process_primitive(self, primitive: Primitive, tracers: Sequence[BatchTracer], params):
        vals = [t.val for t in tracers]
        dims = [t.batch_dim for t in tracers]
        if all(d is None for d in dims) and not _uses_axis(params, self.axis.name):
            return primitive.bind(*vals, **params)
        rule = primitive.batch_rule
        if rule is None:
            raise missing_rule(primitive, "batching (vmap)")
        out, out_dim = rule(self.axis, vals, dims, **params)
        if primitive.multiple_results:
            return [BatchTracer(self, o, d) for o, d in zip(out, out_dim)]
        return BatchTracer(self, out, out_dim)


def _names_axis(axis_name: Any, name: Any) -> bool:
    if axis_name is None or name is None:
        return False
    names = axis_name if isinstance(axis_name, tuple) else (axis_name,)
    return name in names


def _uses_axis(params: dict, name: Any) -> bool:
    """Whether a primitive with ``params`` is a collective over the axis ``name``, or
    carries a program (jit, cond, while, scan, ...) with one inside. Such a primitive must
    reach its batching rule even when no operand is batched: a collective of an unbatched
    value still combines the axis' members."""
    if name is None:
        return False
    if _names_axis(params.get("axis_name"), name):
        return True
    return any(_program_uses_axis(p, name) for p in programs_in(params))


@functools.lru_cache(maxsize=4096)  # programs are immutable
def _program_uses_axis(program, name) -> bool:
    return any(_uses_axis(e.params, name) for e in program.eqns)


def batch_flat(fun: Callable, axis: AxisData, args: Sequence[Any],
               dims: Sequence[int | None]) -> tuple[list, list]:
    """Run flat ``fun`` with ``args`` batched along ``dims``; returns (outs, out_dims)."""
    with trace_mod.new_main(BatchTrace, axis, description="vmap") as main:
        trace = main.with_trace()
        in_tracers = [BatchTracer(trace, a, d) if d is not None else a
                      for a, d in zip(args, dims)]
        outs = fun(*in_tracers)
        vals, out_dims = [], []
        for o in outs:
            o = trace.full_raise(o)
            vals.append(o.val)
            out_dims.append(o.batch_dim)
    return vals, out_dims


def batch_pytree(fun: Callable, axis: AxisData, args: tuple, in_dims) -> Any:
    """``fun(*args)`` on pytrees, batched: ``in_dims`` holds one batch dim (or None) per
    leaf of ``args``, in the same structure; every output leaf comes back batched at 0."""
    leaves, in_tree = pytree.tree_flatten(args)
    dims = pytree.tree_leaves(in_dims, is_leaf=lambda x: x is None)
    flat, out_tree = pytree.flatten_fun(fun, in_tree)
    outs, out_dims = batch_flat(flat, axis, leaves, dims)
    return pytree.tree_unflatten(out_tree(), [move_dim(o, d, 0, axis.size)
                                              for o, d in zip(outs, out_dims)])


@functools.lru_cache(maxsize=4096)  # programs are immutable; reuse keeps compiled forms
def batch_program(program: Program, dims: tuple, size: int, axis_name,
                  all_batched: bool = False) -> tuple[Program, list, tuple]:
    """``program`` vectorized over inputs batched along ``dims`` (None: unbatched), as a
    program. Outputs are batched at 0, except (unless ``all_batched``) those that do not
    depend on the batch, which stay unbatched.

    Returns ``(batched, consts, out_dims)``; ``batched`` takes ``consts`` as leading
    inputs. Every primitive that carries a program (the jit call, checkpoint, cond, while,
    scan, custom derivatives) vectorizes it with this function."""
    in_avals = []
    for v, d in zip(program.invars, dims):
        shape = list(v.aval.shape)
        if d is not None:
            shape.insert(d, size)
        in_avals.append(v.aval.update(shape=tuple(shape)))
    box = []

    def fun(*xs):
        outs, out_dims = batch_flat(lambda *a: eval_program(program, [], a),
                                    AxisData(size, axis_name), xs, dims)
        keep = [d is None and not all_batched for d in out_dims]
        box.append(tuple(None if k else 0 for k in keep))
        return [o if k else move_dim(o, d, 0, size) for o, d, k in zip(outs, out_dims, keep)]

    closed = trace_to_program(fun, in_avals, description="vmap of a program")
    return (*closed.consts_as_inputs(), box[0])


# ---------------------------------------------------------------------------------------
# Helpers for batching rules

def move_dim(x: Any, src: int | None, dst: int, size: int):
    """Put ``x``'s batch dimension at ``dst``, broadcasting an unbatched ``x``."""
    aval = get_aval(x)
    if src is None:
        shape = list(aval.shape)
        shape.insert(dst, size)
        dims = tuple(i if i < dst else i + 1 for i in range(aval.ndim))
        return array_ops.broadcast_in_dim(x, tuple(shape), dims)
    if src == dst:
        return x
    perm = [i for i in range(aval.ndim) if i != src]
    perm.insert(dst, src)
    return array_ops.transpose(x, tuple(perm))


def bdim_at_front(x: Any, bdim: int | None, size: int):
    return move_dim(x, bdim, 0, size)


def elementwise_batch_rule(primitive: Primitive,
                           full_shape: Callable[[int], Sequence[int]] = lambda n: ()
                           ) -> Callable:
    """Batching for elementwise primitives whose operands share one shape, except rank-0
    operands, which broadcast. ``full_shape(n)`` names the operands (of ``n``) that may not
    be rank 0 when the others are not (select_n's cases, clamp's operand): an unbatched
    rank-0 one is given the batch dimension like any other operand."""
    def rule(axis, args, dims, **params):
        args, dims = list(args), list(dims)
        avals = [get_aval(a) for a in args]
        full = set(full_shape(len(args)))
        for i in full:
            if dims[i] is None and avals[i].ndim == 0:
                args[i], dims[i] = move_dim(args[i], None, 0, axis.size), 0
                avals[i] = get_aval(args[i])
        # When the batched operands agree on rank and batch dimension and the unbatched
        # ones are rank 0 (so broadcast), the primitive applies as is.
        bdims = {d for d in dims if d is not None}
        ranks = {a.ndim for a, d in zip(avals, dims) if d is not None}
        if len(bdims) == 1 and len(ranks) == 1 and all(
                d is not None or a.ndim == 0 for a, d in zip(avals, dims)):
            out, bdim = primitive.bind(*args, **params), bdims.pop()
            return (out, [bdim] * len(out)) if primitive.multiple_results else (out, bdim)
        # Otherwise put every batch dimension in front, broadcasting what must be.
        example_shape = ()
        for a, d in zip(avals, dims):
            s = list(a.shape)
            if d is not None:
                del s[d]
            if s:
                example_shape = tuple(s)
        out_args = []
        for a, aval, d in zip(args, avals, dims):
            if d is None:
                out_args.append(a if aval.ndim == 0 else move_dim(a, None, 0, axis.size))
                continue
            a = move_dim(a, d, 0, axis.size)
            if aval.ndim == 1 and example_shape:  # a batched scalar meets arrays
                a = array_ops.broadcast_in_dim(a, (axis.size, *example_shape), (0,))
            out_args.append(a)
        out = primitive.bind(*out_args, **params)
        return (out, [0] * len(out)) if primitive.multiple_results else (out, 0)
    return rule
