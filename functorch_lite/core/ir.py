"""The IR: a typed, first-order program of primitive applications (like a jaxpr).

    { lambda a:f32[3]; b:f32[3] c:f32[]. let
        d:f32[3] = mul b c
        e:f32[3] = add a d
      in (e,) }

``constvars`` (before the ``;``) are inputs bound to captured constants; ``invars`` are the
function's arguments. Each equation applies one primitive with static params to variables
or literals and defines new variables. Programs are immutable once built.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from functorch_lite.core import pretty as pp
from functorch_lite.core.avals import ShapedArray, get_aval
from functorch_lite.core.dtypes import to_numpy_dtype_name
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

    # JAX's names, for code written against jaxprs (``make_jaxpr(f)(x).jaxpr.eqns``).
    invars = property(lambda self: self.inputs)
    outvars = property(lambda self: self.outputs)

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

    @property
    def jaxpr(self) -> Program:
        """The program (JAX's name: ``ClosedJaxpr.jaxpr``)."""
        return self.program

    def __call__(self, *args):
        return eval_program(self.program, self.consts, args)

    def consts_as_inputs(self) -> tuple[Program, list]:
        """``(program, consts)``: the program with its constants turned into leading inputs.
        Higher-order primitives carry programs in this form (a param must be hashable and
        a constant may be a tracer, so constants travel as operands)."""
        p = self.program
        return Program([], [*p.constvars, *p.invars], p.eqns, p.outvars), list(self.consts)

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
# Pretty printer: the layout of jaxprs. A program that fits in the width prints on one line,
# a longer one one equation a line; programs held in params (branches, loop bodies, jit
# calls) print inline where they are used, indented, and share one variable naming with the
# outer program so no name means two things. A program used more than once, or a large one
# nested inside another, is printed once before the outer program (``let name = { ... } in``)
# and referred to by name.

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
        return to_numpy_dtype_name(v)
    if isinstance(v, (Program, ClosedProgram)):
        return "{ program }"
    if isinstance(v, tuple):
        return "(" + ",".join(_format_param(x) for x in v) + ("," if len(v) == 1 else "") + ")"
    if callable(v) and hasattr(v, "__name__"):
        return v.__name__
    return str(v)


def _as_program(v: Any) -> Program | None:
    return v.program if isinstance(v, ClosedProgram) else v if isinstance(v, Program) else None


def programs_in(params: dict) -> list[Program]:
    """The programs an equation's params carry (a jit call's, cond's branches, ...), at
    any depth of tuples and lists."""
    found: list[Program] = []

    def visit(v):
        p = _as_program(v)
        if p is not None:
            found.append(p)
        elif isinstance(v, (tuple, list)):
            for x in v:
                visit(x)
    for v in params.values():
        visit(v)
    return found


# A nested program with more equations than this is printed before the outer one (as JAX).
_SHARE_ABOVE_EQNS = 10


class _Printer:
    def __init__(self, top: Program):
        self.shared: dict[Program, str] = {}
        self.names: dict[Var, str] = {}
        self._find_shared(top)
        taken = set(self.shared.values())
        self._fresh = (n for n in _var_names() if n not in taken)

    def _find_shared(self, top: Program) -> None:
        """Name the programs printed once up front: those used twice or more, and large
        ones below the top. A program is named after the ``name`` param of the equation
        that holds it (a jit call's function name), else ``jaxpr``."""
        uses: dict[Program, int] = {}
        label: dict[Program, str] = {}
        order = [top]
        for p in order:  # breadth first; order grows as new programs are found
            for eqn in p.eqns:
                name = eqn.params.get("name")
                for sub in programs_in(eqn.params):
                    if sub not in uses:
                        uses[sub] = 2 if len(sub.eqns) > _SHARE_ABOVE_EQNS else 1
                        order.append(sub)
                    else:
                        uses[sub] += 1
                    if isinstance(name, str):
                        label.setdefault(sub, name.strip("<>") or "jaxpr")
        used: set[str] = set()
        for p in order[1:]:
            if uses[p] < 2:
                continue
            base = name = label.get(p, "jaxpr")
            n = 0
            while name in used:  # a second "body" is "body1"
                n += 1
                name = f"{base}{n}"
            used.add(name)
            self.shared[p] = name

    def name(self, a: Atom) -> str:
        if type(a) is Literal:
            v = a.val
            return f"{np.asarray(v).item()!r}:{a.aval.str_short()}" if np.ndim(v) == 0 else "<lit>"
        n = self.names.get(a)
        if n is None:
            n = self.names[a] = next(self._fresh)
        return n

    def atoms(self, atoms: Sequence[Atom], sep: str = "", types: bool = False) -> pp.Doc:
        docs = [pp.text(f"{self.name(a)}:{a.aval.str_short()}" if types else self.name(a))
                for a in atoms]
        return pp.nest(2, pp.group(pp.join(pp.cat(pp.text(sep), pp.group(pp.brk())), docs)))

    def param(self, v: Any) -> pp.Doc:
        p = _as_program(v)
        if p is not None:
            return self.program(p)
        if isinstance(v, tuple) and v and any(_as_program(x) is not None for x in v):
            return pp.group(pp.cat(
                pp.nest(2, pp.cat(pp.text("("), pp.brk(""),
                                  pp.join(pp.brk(), [self.param(x) for x in v]))),
                pp.brk(""), pp.text(")")))
        return pp.text(_format_param(v))

    def eqn(self, eqn: Eqn) -> pp.Doc:
        lhs = self.atoms(eqn.outputs, types=True)
        params = pp.NIL
        if eqn.params:
            pairs = [pp.cat(pp.text(f"{k}="), self.param(v))
                     for k, v in sorted(eqn.params.items())]
            params = pp.group(pp.cat(
                pp.nest(2, pp.cat(pp.text("["), pp.brk(""), pp.join(pp.brk(), pairs))),
                pp.brk(""), pp.text("]")))
        rhs = pp.cat(pp.text(eqn.primitive.name), params, pp.text(" "),
                     self.atoms(eqn.inputs))
        return pp.cat(lhs, pp.text(" = "), rhs) if eqn.outputs else rhs

    def program(self, p: Program, hoisting: bool = False) -> pp.Doc:
        if not hoisting and p in self.shared:
            return pp.text(self.shared[p])
        consts = self.atoms(p.constvars, types=True)
        args = self.atoms(p.invars, types=True)
        eqns = pp.join(pp.brk("; "), [self.eqn(e) for e in p.eqns])
        outs = pp.cat(pp.text("("), self.atoms(p.outvars, sep=","),
                      pp.text(",)" if len(p.outvars) == 1 else ")"))
        return pp.cat(pp.group(pp.nest(2, pp.cat(
            pp.text("{ lambda "), consts, pp.text("; "), args, pp.text(". let"),
            pp.nest(2, pp.cat(pp.brk(), eqns)), pp.brk(), pp.text("in "), outs))),
            pp.text(" }"))

    def document(self, top: Program) -> pp.Doc:
        docs = [pp.cat(pp.text(f"let {name} = "), self.program(p, hoisting=True),
                       pp.text(" in"), pp.brk())
                for p, name in self.shared.items()]
        return pp.cat(*docs, self.program(top))


def pretty_print(program: Program, width: int = 80) -> str:
    """The program as text, laid out like a jaxpr in ``width`` columns."""
    return pp.render(_Printer(program).document(program), width)


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
                raise IRTypeError(f"{where}: literal {a.val!r} does not have type "
                                  f"{a.aval.str_short()}")
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

