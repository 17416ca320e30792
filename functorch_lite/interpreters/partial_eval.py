"""Partial evaluation: split a computation into what can run now (known) and a program
for the rest (unknown). Linearization is its main use:

    linearize(f, x) = run jvp(f) with known primals and *unknown* tangents.

The primal half runs as usual; every operation touching a tangent is staged into a linear
program whose constants (residuals) are the primal values it needs. Transposing that
program gives reverse mode (see ``transpose.py``).

The unknown tangents are tracers of a staging trace that is *not* the dynamic trace, so
operations on known values never reach it. Primitives carrying programs (``jit_call``,
control flow) get a ``partial_eval_rule`` that splits their inner program with
``split_program`` so the known part still runs compiled.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

from functorch_lite.core import trace as trace_mod
from functorch_lite.core.avals import get_aval
from functorch_lite.core.ir import Program, eval_program
from functorch_lite.interpreters import ad
from functorch_lite.interpreters.staging import (_UNKNOWN, ProgramBuilder, StagingTrace,
                                                 StagingTracer, trace_to_program)


def linearize_flat(fun: Callable, primals: Sequence[Any]):
    """``(primals_out, linear, out_tangent_avals)`` where ``linear`` is a ClosedProgram
    mapping input tangents to output tangents. Integer inputs get float0 tangents."""
    builder = ProgramBuilder(partial_eval=True)
    with trace_mod.new_main(StagingTrace, builder, description="linearize") as main:
        strace = main.with_trace()
        in_tracers, tangents = [], []
        for p in primals:
            aval = ad.tangent_aval(get_aval(p))
            t, v = builder.new_tracer(strace, aval)
            in_tracers.append(t)
            builder.input_vars.append(v)
            tangents.append(t if aval.dtype != ad.dtypes.float0 else ad.Zero(aval))
        primals_out, tangents_out = ad.jvp_flat(fun, primals, tangents,
                                                description="jvp (linearize)")
        outs = [strace.full_raise(ad.instantiate(t)) for t in tangents_out]
        linear = builder.build(in_tracers, outs)
    return primals_out, linear


@functools.lru_cache(maxsize=4096)
def split_program(program: Program, unknown_in: tuple, force_unknown_out: tuple | None = None):
    """Partially evaluate ``program`` given which inputs are unknown, by running it with the
    unknown inputs as tracers of a partial-evaluation staging trace (as ``linearize``
    does), so equations that carry programs themselves (a scan or cond inside a body, a
    jit call) are split by their own rules rather than staged whole.

    Returns ``(known, known_consts, unknown, unknown_out, num_res)``: ``known`` takes
    ``(known_consts, known inputs)`` and returns the known outputs, then the residuals;
    ``unknown`` takes ``(residuals, unknown inputs)`` and returns the unknown outputs;
    ``force_unknown_out`` moves known outputs to ``unknown`` (as residuals)."""
    known_avals = [v.aval for v, u in zip(program.invars, unknown_in) if not u]
    box = []

    def known_fun(*known_vals):
        builder = ProgramBuilder(partial_eval=True)
        with trace_mod.new_main(StagingTrace, builder,
                                description="partial evaluation") as main:
            strace = main.with_trace()
            it, args, in_tracers = iter(known_vals), [], []
            for v, u in zip(program.invars, unknown_in):
                if u:
                    t, var = builder.new_tracer(strace, v.aval)
                    builder.input_vars.append(var)
                    in_tracers.append(t)
                    args.append(t)
                else:
                    args.append(next(it))
            outs = eval_program(program, [], args)

            def ours(o):
                return isinstance(o, StagingTracer) and o._trace.main is main

            # Tracers of this trace holding known values (lifted constants) are known.
            outs = [builder.known_value(o) if ours(o) and builder.known_value(o)
                    is not _UNKNOWN else o for o in outs]
            unknown_out = [ours(o) or bool(force_unknown_out and force_unknown_out[i])
                           for i, o in enumerate(outs)]
            closed = builder.build(in_tracers, [strace.full_raise(o)
                                                for o, u in zip(outs, unknown_out) if u])
        box.append((closed.program, unknown_out))
        return [*[o for o, u in zip(outs, unknown_out) if not u], *closed.consts]

    known, known_consts = trace_to_program(known_fun, known_avals,
                                           description="known part").consts_as_inputs()
    up, unknown_out = box[0]
    unknown = Program([], [*up.constvars, *up.invars], up.eqns, up.outvars)
    return known, known_consts, unknown, unknown_out, len(up.constvars)
