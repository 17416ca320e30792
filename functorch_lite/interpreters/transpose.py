"""Transposition: run a linear program backwards, from output cotangents to input
cotangents. Together with linearization this is reverse-mode differentiation.

Each linear primitive has ``transpose_rule(ct, *args, **params)`` returning one cotangent
per argument; arguments the program is linear in arrive as ``UndefinedPrimal`` (only their
type is known), the others (residuals) as values. Cotangents that are zero stay symbolic:
an equation none of whose outputs receives a cotangent is skipped.
"""
from __future__ import annotations

import functools
from typing import Any, Sequence

from functorch_lite.core.avals import ShapedArray
from functorch_lite.core.ir import ClosedProgram, Literal, Program, Var
from functorch_lite.core.primitive import missing_rule
from functorch_lite.interpreters.ad import Zero, add_tangents, instantiate
from functorch_lite.interpreters.staging import trace_to_program


class UndefinedPrimal:
    """Stands for an argument a linear primitive is linear in, during transposition."""

    __slots__ = ("aval",)

    def __init__(self, aval: ShapedArray):
        self.aval = aval

    def __repr__(self) -> str:
        return f"UndefinedPrimal({self.aval.str_short()})"


def is_undefined(x: Any) -> bool:
    return type(x) is UndefinedPrimal


def backward_pass(program: Program, consts: Sequence[Any], args: Sequence[Any],
                  cts_out: Sequence[Any]) -> list:
    """Cotangents for the ``UndefinedPrimal`` entries of ``args`` (``Zero`` where nothing
    flows; None for defined args). Equations that do not depend on a linear input are
    evaluated forward first."""
    primal_env: dict[Var, Any] = {}
    linear: set[Var] = set()
    for v, c in zip(program.constvars, consts):
        primal_env[v] = c
    for v, a in zip(program.invars, args):
        if is_undefined(a):
            linear.add(v)
        else:
            primal_env[v] = a

    def read(a):
        return a.val if type(a) is Literal else primal_env[a]

    linear_eqns = []
    for eqn in program.eqns:
        if any(isinstance(a, Var) and a in linear for a in eqn.inputs):
            linear.update(eqn.outputs)
            linear_eqns.append(eqn)
        else:
            outs = eqn.primitive.bind(*[read(a) for a in eqn.inputs], **eqn.params)
            if not eqn.primitive.multiple_results:
                outs = [outs]
            primal_env.update(zip(eqn.outputs, outs))

    ct_env: dict[Var, Any] = {}

    def write_ct(v, ct):
        if isinstance(v, Var) and v in linear and ct is not None and type(ct) is not Zero:
            ct_env[v] = add_tangents(ct_env[v], ct) if v in ct_env else ct

    for v, ct in zip(program.outvars, cts_out):
        write_ct(v, ct)

    for eqn in reversed(linear_eqns):
        cts = [ct_env.pop(v, None) for v in eqn.outputs]
        if all(c is None for c in cts):
            continue
        rule = eqn.primitive.transpose_rule
        if rule is None:
            raise missing_rule(eqn.primitive, "transpose (reverse-mode differentiation)")
        invals = [UndefinedPrimal(a.aval) if isinstance(a, Var) and a in linear else read(a)
                  for a in eqn.inputs]
        if eqn.primitive.multiple_results:
            ct_arg: Any = [Zero(v.aval) if c is None else c for v, c in zip(eqn.outputs, cts)]
        else:
            ct_arg = cts[0]
        cts_in = rule(ct_arg, *invals, **eqn.params)
        for a, ct in zip(eqn.inputs, cts_in):
            write_ct(a, ct)

    return [ct_env.get(v, Zero(v.aval)) if is_undefined(a) else None
            for v, a in zip(program.invars, args)]


@functools.lru_cache(maxsize=4096)  # programs are immutable; reuse keeps compiled forms
def transpose_program(program: Program, linear_in: tuple[bool, ...]) -> tuple[Program, list]:
    """The transpose of ``program`` (linear in the inputs marked ``linear_in``), as a
    program: it takes the non-linear inputs, then one cotangent per output, and returns
    the cotangents of the linear inputs (zeros materialized).

    Returns ``(transposed, consts)``; ``transposed`` takes ``consts`` as leading inputs.
    Every primitive that carries a program (the jit call, checkpoint, cond, scan, custom
    derivatives) transposes it with this function."""
    nonlin_avals = [v.aval for v, lin in zip(program.invars, linear_in) if not lin]
    ct_avals = [v.aval for v in program.outvars]

    def fun(*xs):
        nonlin, cts = xs[:len(nonlin_avals)], xs[len(nonlin_avals):]
        it = iter(nonlin)
        args = [UndefinedPrimal(v.aval) if lin else next(it)
                for v, lin in zip(program.invars, linear_in)]
        out = backward_pass(program, [], args, list(cts))
        return [instantiate(c) for c, lin in zip(out, linear_in) if lin]

    closed = trace_to_program(fun, nonlin_avals + ct_avals, description="transpose")
    return closed.consts_as_inputs()


def vjp_of_linear(linear: ClosedProgram):
    """The cotangent function of a linearized program: ``cts_out -> cts_in``."""
    program = linear.program

    def vjp_fn(cts_out: Sequence[Any]) -> list:
        args = [UndefinedPrimal(v.aval) for v in program.invars]
        return backward_pass(program, linear.consts, args, cts_out)
    return vjp_fn
