"""Program clean-up before lowering: dead-code elimination and common-subexpression
elimination. Both return new programs and never change what a program computes: every
primitive is pure except the effectful ones (host callbacks), whose equations both keep."""
from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from functorch_lite.core.ir import ClosedProgram, Eqn, Literal, Program, Var, programs_in


# Program -> whether any of its equations is effectful. Programs carried in params do not
# change once built; entries go with their programs.
_effects_of: "weakref.WeakKeyDictionary[Program, bool]" = weakref.WeakKeyDictionary()


def has_effects(eqn: Eqn) -> bool:
    """Whether ``eqn`` is effectful or carries a program with an effectful equation."""
    if eqn.primitive.effectful:
        return True
    for p in programs_in(eqn.params):
        known = _effects_of.get(p)
        if known is None:
            known = _effects_of[p] = any(has_effects(e) for e in p.eqns)
        if known:
            return True
    return False


def dce(program: Program, consts: list | None = None) -> tuple[Program, list]:
    """Drop equations whose outputs nobody uses (unless effectful), and constvars nobody
    reads."""
    live: set[Var] = {v for v in program.outvars if isinstance(v, Var)}
    kept = []
    for eqn in reversed(program.eqns):
        if any(o in live for o in eqn.outputs) or has_effects(eqn):
            kept.append(eqn)
            live.update(a for a in eqn.inputs if isinstance(a, Var))
    kept.reverse()
    consts = list(consts or [])
    constvars, new_consts = [], []
    for v, c in zip(program.constvars, consts or [None] * len(program.constvars)):
        if v in live:
            constvars.append(v)
            new_consts.append(c)
    return Program(constvars, program.invars, kept, program.outvars), new_consts


def _atom_key(a: Any, rename: dict) -> Any:
    if isinstance(a, Literal):
        v = np.asarray(a.val)
        return ("lit", a.aval, v.tobytes())
    return rename.get(a, a)


def _params_key(params: dict) -> Any:
    try:
        key = tuple(sorted(params.items()))
        hash(key)
        return key
    except TypeError:
        return None


def cse(program: Program) -> Program:
    """Reuse the result of an earlier identical equation (same primitive, inputs, params)."""
    rename: dict[Var, Var] = {}
    seen: dict[Any, list[Var]] = {}
    eqns = []
    for eqn in program.eqns:
        inputs = [rename.get(a, a) if isinstance(a, Var) else a for a in eqn.inputs]
        pkey = None if has_effects(eqn) else _params_key(eqn.params)
        key = None if pkey is None else (eqn.primitive, tuple(_atom_key(a, rename)
                                                              for a in eqn.inputs), pkey)
        if key is not None and key in seen:
            for old, new in zip(eqn.outputs, seen[key]):
                rename[old] = new
            continue
        if key is not None:
            seen[key] = eqn.outputs
        eqns.append(Eqn(eqn.primitive, inputs, eqn.outputs, eqn.params))
    outvars = [rename.get(v, v) if isinstance(v, Var) else v for v in program.outvars]
    return Program(program.constvars, program.invars, eqns, outvars)


def simplify(closed: ClosedProgram) -> ClosedProgram:
    """CSE then DCE."""
    program, consts = dce(cse(closed.program), closed.consts)
    return ClosedProgram(program, consts)
