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


# ---------------------------------------------------------------------------------------
# Rules. Each transforms the inner program (memoized per program, so repeated calls reuse
# the same transformed program and hence the same compiled executable).

import functools  # noqa: E402

from functorch_lite.core.ir import eval_program  # noqa: E402
from functorch_lite.interpreters import ad, partial_eval, transpose  # noqa: E402
from functorch_lite.interpreters.staging import trace_to_program  # noqa: E402


@functools.lru_cache(maxsize=4096)
def jvp_program(program: Program, nonzero: tuple[bool, ...]) -> tuple[Program, list]:
    """Program for (primals, nonzero tangents) -> (primals_out, tangents_out)."""
    n = len(program.invars)
    tangent_avals = [ad.tangent_aval(v.aval) for v, nz in zip(program.invars, nonzero) if nz]

    def fun(*xs):
        primals, tangents_nz = xs[:n], iter(xs[n:])
        tangents = [next(tangents_nz) if nz else ad.Zero(ad.tangent_aval(v.aval))
                    for v, nz in zip(program.invars, nonzero)]
        outs, touts = ad.jvp_flat(lambda *a: eval_program(program, [], a), primals, tangents)
        return [*outs, *[ad.instantiate(t) for t in touts]]

    closed = trace_to_program(fun, [v.aval for v in program.invars] + tangent_avals,
                              description="jvp of jit")
    return close_over_consts(closed)


def _jit_call_jvp(primals, tangents, *, program, name, donated=()):
    nonzero = tuple(type(t) is not ad.Zero for t in tangents)
    jprog, consts = jvp_program(program, nonzero)
    tangents_nz = [t for t in tangents if type(t) is not ad.Zero]
    outs = jit_call_p.bind(*consts, *primals, *tangents_nz, program=jprog, name=f"jvp_{name}",
                           donated=())
    k = len(program.outvars)
    return outs[:k], outs[k:]


jit_call_p.def_jvp(_jit_call_jvp)


@functools.lru_cache(maxsize=4096)
def _split(program: Program, unknown_in: tuple[bool, ...]):
    return partial_eval.split_program(program, unknown_in)


def _jit_call_partial_eval(trace, tracers, knowns, unknown_in, *, program, name, donated=()):
    known_p, known_consts, unknown_p, unknown_out, num_res = _split(program, tuple(unknown_in))
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


@functools.lru_cache(maxsize=4096)
def _transposed(program: Program, linear_in: tuple[bool, ...]):
    return close_over_consts(transpose.transpose_program(program, linear_in))


def _jit_call_transpose(cts, *args, program, name, donated=()):
    linear_in = tuple(transpose.is_undefined(a) for a in args)
    tprog, consts = _transposed(program, linear_in)
    nonlin = [a for a in args if not transpose.is_undefined(a)]
    cts = [ad.instantiate(c) for c in cts]
    outs = iter(jit_call_p.bind(*consts, *nonlin, *cts, program=tprog,
                                name=f"transpose_{name}", donated=()))
    return [next(outs) if lin else None for lin in linear_in]


jit_call_p.def_transpose(_jit_call_transpose)


from functorch_lite.interpreters import batching  # noqa: E402


@functools.lru_cache(maxsize=4096)
def batch_program(program: Program, dims: tuple, size: int, axis_name,
                  all_batched: bool = False) -> tuple:
    """Program for batched inputs (batch dims ``dims``); outputs batched at 0, or unbatched
    when they do not depend on the batch (unless ``all_batched``).
    Returns (program, consts, out_dims)."""
    in_avals = []
    for v, d in zip(program.invars, dims):
        shape = list(v.aval.shape)
        if d is not None:
            shape.insert(d, size)
        in_avals.append(v.aval.update(shape=tuple(shape)))
    out_dims_box = []

    def fun(*xs):
        outs, out_dims = batching.batch_flat(lambda *a: eval_program(program, [], a),
                                             batching.AxisData(size, axis_name), xs, dims)
        out_dims_box.append([None if d is None and not all_batched else 0 for d in out_dims])
        return [o if d is None and not all_batched else batching.move_dim(o, d, 0, size)
                for o, d in zip(outs, out_dims)]

    closed = trace_to_program(fun, in_avals, description="vmap of jit")
    prog, consts = close_over_consts(closed)
    return prog, consts, tuple(out_dims_box[0])


def _jit_call_batch(axis, args, dims, *, program, name, donated=()):
    prog, consts, out_dims = batch_program(program, tuple(dims), axis.size, axis.name)
    outs = jit_call_p.bind(*consts, *args, program=prog, name=f"vmap_{name}", donated=())
    return outs, list(out_dims)


jit_call_p.def_batch(_jit_call_batch)
