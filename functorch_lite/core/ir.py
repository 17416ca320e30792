"""The IR: a typed, first-order program of primitive applications (like a jaxpr).

    { lambda a:f32[3]; b:f32[3], c:f32[]. let
        d:f32[3] = mul b c
        e:f32[3] = add a d
      in (e) }

``constvars`` (before the ``;``) are inputs bound to captured constants; ``invars`` are the
function's arguments. Each equation applies one primitive with static params to variables
or literals and defines new variables. Programs are immutable once built.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from functorch_lite.core.avals import ShapedArray, get_aval
from functorch_lite.core.primitive import Primitive


class Var:
    """A variable, typed by its aval. Identity is the variable: two Vars are never equal."""

    __slots__ = ("aval",)

    def __init__(self, aval: ShapedArray):
        self.aval = aval

    def __repr__(self) -> str:
        return f"Var({self.aval.str_short()})"


class Literal:
    """A scalar constant written into the program (a Python scalar or 0-d NumPy value)."""

    __slots__ = ("val", "aval")

    def __init__(self, val: Any, aval: ShapedArray):
        self.val = val
        self.aval = aval

    def __repr__(self) -> str:
        return f"Literal({self.val!r})"


Atom = Var | Literal


class Eqn:
    __slots__ = ("primitive", "inputs", "outputs", "params")

    def __init__(self, primitive: Primitive, inputs: Sequence[Atom], outputs: Sequence[Var],
                 params: dict):
        self.primitive = primitive
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self.params = params

    def __repr__(self) -> str:
        return f"Eqn({self.primitive.name}, {len(self.inputs)} in, {len(self.outputs)} out)"


class Program:
    """``constvars``, ``invars``, equations and outputs. Outputs may be Vars or Literals."""

    __slots__ = ("constvars", "invars", "eqns", "outvars", "__weakref__")

    def __init__(self, constvars: Sequence[Var], invars: Sequence[Var], eqns: Sequence[Eqn],
                 outvars: Sequence[Atom]):
        self.constvars = list(constvars)
        self.invars = list(invars)
        self.eqns = list(eqns)
        self.outvars = list(outvars)

    @property
    def in_avals(self) -> list[ShapedArray]:
        return [v.aval for v in self.invars]

    @property
    def out_avals(self) -> list[ShapedArray]:
        return [v.aval for v in self.outvars]

    def __str__(self) -> str:
        return pretty_print(self)

    __repr__ = __str__


class ClosedProgram:
    """A program together with the values of its constvars."""

    __slots__ = ("program", "consts", "__weakref__")

    def __init__(self, program: Program, consts: Sequence[Any]):
        assert len(program.constvars) == len(consts)
        self.program = program
        self.consts = list(consts)

    @property
    def in_avals(self):
        return self.program.in_avals

    @property
    def out_avals(self):
        return self.program.out_avals

    @property
    def eqns(self):
        return self.program.eqns

    def __call__(self, *args):
        return eval_program(self.program, self.consts, args)

    def __str__(self) -> str:
        return pretty_print(self.program)

    __repr__ = __str__


# ---------------------------------------------------------------------------------------
# Evaluation: interpret a program by binding each equation's primitive. Under an active
# transformation this *is* the transformation of the program.

def eval_program(program: Program, consts: Sequence[Any], args: Sequence[Any]) -> list:
    env: dict[Var, Any] = {}

    def read(a: Atom):
        return a.val if type(a) is Literal else env[a]

    if len(args) != len(program.invars):
        raise TypeError(f"program takes {len(program.invars)} arguments, got {len(args)}")
    for v, x in zip(program.constvars, consts):
        env[v] = x
    for v, x in zip(program.invars, args):
        env[v] = x
    for eqn in program.eqns:
        outs = eqn.primitive.bind(*[read(a) for a in eqn.inputs], **eqn.params)
        if not eqn.primitive.multiple_results:
            outs = (outs,)
        for v, x in zip(eqn.outputs, outs):
            env[v] = x
    return [read(a) for a in program.outvars]


# ---------------------------------------------------------------------------------------
# Pretty printer

def _var_names():
    letters = "abcdefghijklmnopqrstuvwxyz"
    n = 0
    while True:
        q, r = divmod(n, 26)
        yield (letters[r] + (letters[(q - 1) % 26] if q else "")
               + ("" if q <= 26 else str((q - 1) // 26)))
        n += 1


def _format_param(v: Any) -> str:
    if isinstance(v, np.dtype):
        from functorch_lite.core.dtypes import to_numpy_dtype_name
        return to_numpy_dtype_name(v)
    if isinstance(v, (Program, ClosedProgram)):
        return "{ program }"
    if isinstance(v, tuple):
        return "(" + ",".join(_format_param(x) for x in v) + ("," if len(v) == 1 else "") + ")"
    if callable(v) and hasattr(v, "__name__"):
        return v.__name__
    return repr(v) if isinstance(v, str) else str(v)


def pretty_print(program: Program, indent: int = 0) -> str:
    names: dict[Var, str] = {}
    gen = _var_names()

    def name(a: Atom) -> str:
        if type(a) is Literal:
            v = a.val
            return f"{np.asarray(v).item()!r}:{a.aval.str_short()}" if np.ndim(v) == 0 else "<lit>"
        if a not in names:
            names[a] = next(gen)
        return names[a]

    def decl(v: Var) -> str:
        return f"{name(v)}:{v.aval.str_short()}"

    pad = " " * indent
    consts = " ".join(decl(v) for v in program.constvars)
    args = " ".join(decl(v) for v in program.invars)
    lines = [f"{pad}{{ lambda {consts}{'; ' if consts else ''}{args}. let"]
    for eqn in program.eqns:
        outs = " ".join(decl(v) for v in eqn.outputs)
        params = ""
        if eqn.params:
            params = "[" + " ".join(f"{k}={_format_param(v)}"
                                    for k, v in sorted(eqn.params.items())) + "]"
        ins = " ".join(name(a) for a in eqn.inputs)
        lines.append(f"{pad}    {outs} = {eqn.primitive.name}{params} {ins}")
        for v in eqn.params.values():
            inner = v.program if isinstance(v, ClosedProgram) else v
            if isinstance(inner, Program):
                lines.append(pretty_print(inner, indent + 6))
    lines.append(f"{pad}  in ({', '.join(name(a) for a in program.outvars)}) }}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# Type checker

class IRTypeError(TypeError):
    pass


def typecheck(program: Program) -> None:
    """Re-derive every equation's output types from its inputs; raise ``IRTypeError`` on any
    inconsistency (a variable used before definition or defined twice, a wrong output type)."""
    defined: set[Var] = set()

    def define(v: Var, where: str):
        if not isinstance(v, Var):
            raise IRTypeError(f"{where}: expected a Var, got {v!r}")
        if v in defined:
            raise IRTypeError(f"{where}: variable {v} defined twice")
        defined.add(v)

    def use(a: Atom, where: str):
        if type(a) is Literal:
            if get_aval(a.val).shape != a.aval.shape:
                raise IRTypeError(f"{where}: literal {a.val!r} does not have type {a.aval}")
            return
        if a not in defined:
            raise IRTypeError(f"{where}: variable {a} used before it is defined")

    for v in program.constvars:
        define(v, "constvars")
    for v in program.invars:
        define(v, "invars")
    for i, eqn in enumerate(program.eqns):
        where = f"equation {i} ({eqn.primitive.name})"
        for a in eqn.inputs:
            use(a, where)
        try:
            expected = eqn.primitive.abstract_eval(*[a.aval for a in eqn.inputs], **eqn.params)
        except (TypeError, ValueError) as e:
            raise IRTypeError(f"{where}: {e}") from e
        if len(expected) != len(eqn.outputs):
            raise IRTypeError(f"{where}: {len(eqn.outputs)} outputs, rule gives {len(expected)}")
        for v, t in zip(eqn.outputs, expected):
            if not (v.aval.shape == t.shape and v.aval.dtype == t.dtype):
                raise IRTypeError(f"{where}: output declared {v.aval.str_short()} but its "
                                  f"inputs give {t.str_short()}")
            define(v, where)
        for p in eqn.params.values():
            inner = p.program if isinstance(p, ClosedProgram) else p
            if isinstance(inner, Program):
                typecheck(inner)
    for a in program.outvars:
        use(a, "outputs")

