"""``jit_call``: the primitive that applies a staged program.

``jit(f)`` traces ``f`` once per input signature into a Program and binds ``jit_call``
with that program as a param. Eagerly the backend compiles the whole program as one
executable; the other transformations' rules transform the inner program with the
interpreters' program transforms (memoized per program, so repeated calls reuse the same
transformed program and hence the same compiled executable), so the result stays one
compiled call.
"""
from __future__ import annotations

from functorch_lite.core.ir import Program
from functorch_lite.core.primitive import Primitive
from functorch_lite.interpreters import ad, batching, partial_eval, transpose

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


def _jit_call_jvp(primals, tangents, *, program, name, donated=()):
    nonzero = tuple(type(t) is not ad.Zero for t in tangents)
    jprog, consts, _ = ad.jvp_program(program, nonzero)
    tangents_nz = [t for t in tangents if type(t) is not ad.Zero]
    outs = jit_call_p.bind(*consts, *primals, *tangents_nz, program=jprog, name=f"jvp_{name}",
                           donated=())
    k = len(program.outvars)
    return outs[:k], outs[k:]


jit_call_p.def_jvp(_jit_call_jvp)


def _jit_call_partial_eval(trace, tracers, knowns, unknown_in, *, program, name, donated=()):
    known_p, known_consts, unknown_p, unknown_out, num_res = partial_eval.split_program(
        program, tuple(unknown_in))
    known_vals = [k for k, u in zip(knowns, unknown_in) if not u]
    outs = jit_call_p.bind(*known_consts, *known_vals, program=known_p, name=f"{name}_known",
                           donated=())
    n_known = len(outs) - num_res
    known_outs, residuals = outs[:n_known], outs[n_known:]
    res_tracers = [trace.pure(r) for r in residuals]
    unknown_tracers = [t for t, u in zip(tracers, unknown_in) if u]
    staged = trace.stage(jit_call_p, res_tracers + unknown_tracers,
                         dict(program=unknown_p, name=f"{name}_unknown", donated=()))
    known_it, staged_it = iter(known_outs), iter(staged)
    return [next(staged_it) if u else trace.pure(next(known_it)) for u in unknown_out]


jit_call_p.def_partial_eval(_jit_call_partial_eval)


def _jit_call_transpose(cts, *args, program, name, donated=()):
    linear_in = tuple(transpose.is_undefined(a) for a in args)
    tprog, consts = transpose.transpose_program(program, linear_in)
    nonlin = [a for a in args if not transpose.is_undefined(a)]
    cts = [ad.instantiate(c) for c in cts]
    outs = iter(jit_call_p.bind(*consts, *nonlin, *cts, program=tprog,
                                name=f"transpose_{name}", donated=()))
    return [next(outs) if lin else None for lin in linear_in]


jit_call_p.def_transpose(_jit_call_transpose)


def _jit_call_batch(axis, args, dims, *, program, name, donated=()):
    prog, consts, out_dims = batching.batch_program(program, tuple(dims), axis.size, axis.name)
    outs = jit_call_p.bind(*consts, *args, program=prog, name=f"vmap_{name}", donated=())
    return outs, list(out_dims)


jit_call_p.def_batch(_jit_call_batch)
