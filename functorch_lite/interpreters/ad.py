"""Forward-mode differentiation (jvp), and the helpers primitives use to declare their
derivative rules.

A ``JVPTracer`` carries a primal value and its tangent. Tangents that are known to be zero
stay symbolic (``Zero``) so no zeros are materialized where nothing flows: a rule sees
``Zero`` for such inputs, and a primitive whose tangent inputs are all ``Zero`` is applied to
the primals alone.

Rules (declared beside each primitive in ``functorch_lite.lax``) have the signature
``jvp_rule(primals, tangents, **params) -> (primal_out, tangent_out)``; the helpers
``defjvp`` (one linear function per differentiable argument) and ``deflinear`` (linear
primitives) cover most primitives.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

import numpy as np

from functorch_lite.core import dtypes
from functorch_lite.core import trace as trace_mod
from functorch_lite.core.avals import ShapedArray, get_aval
from functorch_lite.core.ir import Program, eval_program
from functorch_lite.core.primitive import Primitive, missing_rule
from functorch_lite.interpreters import array_ops
from functorch_lite.interpreters.staging import trace_to_program


class Zero:
    """A symbolic zero tangent/cotangent of type ``aval``."""

    __slots__ = ("aval",)

    def __init__(self, aval: ShapedArray):
        self.aval = aval

    def __repr__(self) -> str:
        return f"Zero({self.aval.str_short()})"


def tangent_aval(aval: ShapedArray) -> ShapedArray:
    """The type of a tangent of a value of type ``aval``: the same for inexact dtypes,
    ``float0`` for integers and bools (they have no derivative)."""
    if dtypes.is_inexact(aval.dtype):
        return aval
    return ShapedArray(aval.shape, dtypes.float0, False)


def zeros_like_aval(aval: ShapedArray):
    if aval.dtype == dtypes.float0:
        return np.zeros(aval.shape, dtypes.float0)
    return array_ops.full(aval.shape, 0, aval.dtype)


def instantiate(t: Any):
    """A concrete array for a tangent that may be symbolic."""
    return zeros_like_aval(t.aval) if type(t) is Zero else t


def add_tangents(x: Any, y: Any):
    if type(x) is Zero:
        return y
    if type(y) is Zero:
        return x
    return array_ops.add(x, y)


class JVPTracer(trace_mod.Tracer):
    __slots__ = ("primal", "tangent")

    def __init__(self, trace: "JVPTrace", primal: Any, tangent: Any):
        self._trace = trace
        self.primal = primal
        self.tangent = tangent

    @property
    def aval(self) -> ShapedArray:
        return get_aval(self.primal)

    def full_lower(self):
        if type(self.tangent) is Zero:
            return trace_mod.full_lower(self.primal)
        return self


class JVPTrace(trace_mod.Trace):
    transformation_name = "jvp"

    def pure(self, val: Any) -> JVPTracer:
        return JVPTracer(self, val, Zero(tangent_aval(get_aval(val))))

    lift = pure

    def process_primitive(self, primitive: Primitive, tracers: Sequence[JVPTracer], params):
        primals = [t.primal for t in tracers]
        tangents = [t.tangent for t in tracers]
        if primitive.non_differentiable or all(type(t) is Zero for t in tangents):
            out = primitive.bind(*primals, **params)
            outs = out if primitive.multiple_results else [out]
            zeros = [JVPTracer(self, o, Zero(tangent_aval(get_aval(o)))) for o in outs]
            return zeros if primitive.multiple_results else zeros[0]
        rule = primitive.jvp_rule
        if rule is None:
            raise missing_rule(primitive, "jvp (differentiation)")
        primal_out, tangent_out = rule(primals, tangents, **params)
        if primitive.multiple_results:
            return [JVPTracer(self, p, t) for p, t in zip(primal_out, tangent_out)]
        return JVPTracer(self, primal_out, tangent_out)


def jvp_flat(fun: Callable, primals: Sequence[Any], tangents: Sequence[Any],
             description: str = "jvp") -> tuple[list, list]:
    """Run flat ``fun(*primals) -> list`` forward-mode; returns (primals_out, tangents_out),
    tangents_out possibly containing ``Zero``."""
    with trace_mod.new_main(JVPTrace, description=description) as main:
        trace = main.with_trace()
        in_tracers = [JVPTracer(trace, p, t) for p, t in zip(primals, tangents)]
        outs = fun(*in_tracers)
        primals_out, tangents_out = [], []
        for o in outs:
            o = trace.full_raise(o)
            primals_out.append(o.primal)
            tangents_out.append(o.tangent)
    return primals_out, tangents_out


@functools.lru_cache(maxsize=4096)  # programs are immutable; reuse keeps compiled forms
def jvp_program(program: Program, nonzero: tuple[bool, ...],
                instantiate: bool | tuple[bool, ...] = True) -> tuple[Program, list, list]:
    """The forward-mode derivative of ``program``, as a program: it takes the primal inputs,
    then the tangents of the inputs marked ``nonzero``, and returns the primal outputs,
    then the tangents of the outputs that are nonzero or marked in ``instantiate`` (True:
    all of them; zeros are then materialized).

    Returns ``(jvp, consts, out_nonzero)``; ``jvp`` takes ``consts`` as leading inputs.
    Every primitive that carries a program (the jit call, checkpoint, cond, while, scan,
    custom derivatives) differentiates it with this function."""
    n = len(program.invars)
    n_out = len(program.outvars)
    inst = (instantiate,) * n_out if isinstance(instantiate, bool) else instantiate
    t_avals = [tangent_aval(v.aval) for v, nz in zip(program.invars, nonzero) if nz]
    box = []

    def fun(*xs):
        primals, it = xs[:n], iter(xs[n:])
        tangents = [next(it) if nz else Zero(tangent_aval(v.aval))
                    for v, nz in zip(program.invars, nonzero)]
        outs, touts = jvp_flat(lambda *a: eval_program(program, [], a), primals, tangents)
        out_nz = [type(t) is not Zero or i for t, i in zip(touts, inst)]
        box.append(out_nz)
        return [*outs, *[zeros_like_aval(t.aval) if type(t) is Zero else t
                         for t, nz in zip(touts, out_nz) if nz]]

    closed = trace_to_program(fun, [v.aval for v in program.invars] + t_avals,
                              description="jvp of a program")
    return (*closed.consts_as_inputs(), box[0])


# ---------------------------------------------------------------------------------------
# Rule helpers used by functorch_lite.lax

def match_shape(t: Any, aval: ShapedArray):
    """Broadcast a rank-0 tangent contribution to the output's shape (lax binary ops
    broadcast rank-0 operands, so their tangents may be rank 0)."""
    if type(t) is Zero or get_aval(t).shape == aval.shape:
        return t
    return array_ops.broadcast_in_dim(t, aval.shape, ())


def defjvp(primitive: Primitive, *fns: Callable | None) -> None:
    """Declare ``primitive``'s jvp as a sum of per-argument linear maps:
    ``fns[i](g_i, *primals, **params)`` is the tangent contribution of argument ``i`` (None
    for a non-differentiable argument)."""
    def rule(primals, tangents, **params):
        out = primitive.bind(*primals, **params)
        out_aval = get_aval(out)
        acc: Any = Zero(tangent_aval(out_aval))
        for fn, g in zip(fns, tangents):
            if fn is None or type(g) is Zero:
                continue
            acc = add_tangents(acc, match_shape(fn(g, *primals, **params), out_aval))
        return out, acc
    primitive.def_jvp(rule)


def defjvp_with_output(primitive: Primitive, *fns: Callable | None) -> None:
    """Like ``defjvp`` but each map also gets the primal output:
    ``fns[i](g_i, out, *primals, **params)`` (exp's derivative is its output)."""
    def rule(primals, tangents, **params):
        out = primitive.bind(*primals, **params)
        out_aval = get_aval(out)
        acc: Any = Zero(tangent_aval(out_aval))
        for fn, g in zip(fns, tangents):
            if fn is None or type(g) is Zero:
                continue
            acc = add_tangents(acc, match_shape(fn(g, out, *primals, **params), out_aval))
        return out, acc
    primitive.def_jvp(rule)


def deflinear(primitive: Primitive, transpose: Callable) -> None:
    """A primitive linear in all its operands: its jvp applies it to the tangents, and
    ``transpose(ct, *args, **params)`` gives the cotangents of the operands."""
    def rule(primals, tangents, **params):
        out = primitive.bind(*primals, **params)
        if all(type(t) is Zero for t in tangents):
            return out, Zero(tangent_aval(get_aval(out)))
        return out, primitive.bind(*[instantiate(t) for t in tangents], **params)
    primitive.def_jvp(rule)
    primitive.def_transpose(transpose)


def zero_jvp(primitive: Primitive) -> None:
    """Mark a primitive whose output does not depend differentiably on its inputs."""
    primitive.non_differentiable = True
