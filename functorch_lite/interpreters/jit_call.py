"""``jit_call``: the primitive that applies a staged program.

``jit(f)`` traces ``f`` once per input signature into a Program and binds ``jit_call``
with that program as a param. Eagerly the backend compiles the whole program as one
executable; other transformations (jvp, vmap, transpose) get rules here that transform
the inner program, so the result stays one compiled call.
"""
from __future__ import annotations

from functorch_lite.core.ir import Program
from functorch_lite.core.primitive import Primitive

jit_call_p = Primitive("jit_call", multiple_results=True)


@jit_call_p.def_shape
def _jit_call_shape(*avals, program: Program, name: str, donated: tuple = ()):
    expected = program.in_avals
    if len(avals) != len(expected):
        raise TypeError(f"jit_call of {name}: program takes {len(expected)} inputs, got "
                        f"{len(avals)}")
    for i, (a, e) in enumerate(zip(avals, expected)):
        if not a.same_type(e):
            raise TypeError(f"jit_call of {name}: input {i} has type {a.str_short()}, the "
                            f"program expects {e.str_short()}")
    return program.out_avals


def close_over_consts(closed) -> tuple[Program, list]:
    """Turn a ClosedProgram's constvars into leading invars: (program, consts)."""
    p = closed.program
    return Program([], list(p.constvars) + list(p.invars), p.eqns, p.outvars), list(closed.consts)
