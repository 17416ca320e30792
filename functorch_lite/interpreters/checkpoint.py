"""``checkpoint`` (``remat``): trade compute for memory in reverse mode.

The wrapped function is staged into a program applied by the ``checkpoint`` primitive.
When it is linearized, its partial-evaluation rule keeps only the *inputs* as residuals
(plus, with a policy, the outputs of the equations the policy names, e.g. dot products);
the backward pass recomputes everything else. The lowering puts an optimization barrier on
the recomputation's inputs so XLA cannot merge it back into the forward pass.
"""
from __future__ import annotations

import functools
from typing import Callable

from functorch_lite.core import passes, pytree
from functorch_lite.core.avals import get_aval
from functorch_lite.core.ir import ClosedProgram, Eqn, Literal, Program, Var, eval_program
from functorch_lite.core.primitive import Primitive
from functorch_lite.interpreters import ad, partial_eval, transpose
from functorch_lite.interpreters.jit_call import batch_program, close_over_consts, jvp_program
from functorch_lite.interpreters.staging import trace_to_program

checkpoint_p = Primitive("checkpoint", multiple_results=True)


@checkpoint_p.def_shape
def _checkpoint_shape(*avals, program: Program, policy, prevent_cse: bool = True):
    return program.out_avals


@checkpoint_p.def_impl
def _checkpoint_impl(*args, program, policy, prevent_cse=True):
    return eval_program(program, [], args)


def _checkpoint_jvp(primals, tangents, *, program, policy, prevent_cse=True):
    nonzero = tuple(type(t) is not ad.Zero for t in tangents)
    jprog, consts = jvp_program(program, nonzero)
    nonzero_tangents = [t for t in tangents if type(t) is not ad.Zero]
    outs = checkpoint_p.bind(*consts, *primals, *nonzero_tangents, program=jprog,
                             policy=policy, prevent_cse=prevent_cse)
    k = len(program.outvars)
    return outs[:k], outs[k:]


checkpoint_p.def_jvp(_checkpoint_jvp)


def save_dots(eqn: Eqn) -> bool:
    """Policy: keep the outputs of matrix products (dot_general) as residuals."""
    return eqn.primitive.name == "dot_general"


def save_nothing(eqn: Eqn) -> bool:
    return False


@functools.lru_cache(maxsize=4096)
def _remat_split(program: Program, unknown_in: tuple[bool, ...], policy):
    """Split ``program`` for reverse mode, recomputing instead of storing.

    Returns ``(known, known_consts, remat, remat_consts, unknown_out, num_saved)``:
    ``known`` takes ``(known_consts, known inputs)`` and returns the known outputs, then
    the residuals the policy saves; ``remat`` takes ``(remat_consts, saved residuals,
    known_consts, known inputs, unknown inputs)``, recomputes every other residual from
    the known inputs and returns the unknown outputs.

    The split itself is ``split_program`` (partial evaluation by tracing), so equations
    that carry programs, including checkpoints nested inside this one, are split by their
    own rules: a nested checkpoint leaves its primal part on the known side and its
    tangent part on the unknown side, never one equation mixing both."""
    known, known_consts, unknown, unknown_out, num_res = \
        partial_eval.split_program(program, unknown_in)
    n_known_out = len(known.outvars) - num_res
    residuals = known.outvars[n_known_out:]
    # Saved: the outputs of the equations the policy names, among those the recomputation
    # would otherwise have to redo (the ones the residuals depend on).
    live = {r for r in residuals if isinstance(r, Var)}
    saved = []
    for eqn in reversed(known.eqns):
        if any(o in live for o in eqn.outputs):
            if policy is not None and policy(eqn):
                saved.extend(o for o in eqn.outputs if o not in saved)
            else:
                live.update(a for a in eqn.inputs if isinstance(a, Var))
    saved.reverse()
    # The forward side: known outputs and the saved residuals only.
    fwd, _ = passes.dce(Program([], known.invars, known.eqns,
                                known.outvars[:n_known_out] + saved))
    saved_set = set(saved)

    def remat(*xs):
        saved_vals, rest = xs[:len(saved)], xs[len(saved):]
        inputs, unknown_vals = rest[:len(known.invars)], rest[len(known.invars):]
        env = dict(zip(saved, saved_vals))
        env.update(zip(known.invars, inputs))

        def read(a):
            return a.val if isinstance(a, Literal) else env[a]

        for eqn in known.eqns:  # the recomputation (dead code is dropped below)
            if all(o in saved_set for o in eqn.outputs):
                continue
            outs = eqn.primitive.bind(*[read(a) for a in eqn.inputs], **eqn.params)
            env.update(zip(eqn.outputs, outs if eqn.primitive.multiple_results else [outs]))
        return eval_program(unknown, [], [*[read(r) for r in residuals], *unknown_vals])

    avals = [v.aval for v in saved] + [v.aval for v in known.invars] + \
        [v.aval for v, u in zip(program.invars, unknown_in) if u]
    closed = trace_to_program(remat, avals, description="checkpoint recomputation")
    remat_p, remat_consts = close_over_consts(ClosedProgram(*passes.dce(closed.program,
                                                                         closed.consts)))
    return fwd, known_consts, remat_p, remat_consts, unknown_out, len(saved)


def _checkpoint_partial_eval(trace, tracers, knowns, unknown_in, *, program, policy,
                             prevent_cse=True):
    known_p, known_consts, remat_p, remat_consts, unknown_out, num_saved = \
        _remat_split(program, tuple(unknown_in), policy)
    known_vals = [k for k, u in zip(knowns, unknown_in) if not u]
    outs = checkpoint_p.bind(*known_consts, *known_vals, program=known_p, policy=None,
                             prevent_cse=prevent_cse)
    n_known = len(outs) - num_saved
    known_outs, saved = outs[:n_known], outs[n_known:]
    res = [trace.pure(r) for r in [*remat_consts, *saved, *known_consts, *known_vals]]
    unknown_tracers = [t for t, u in zip(tracers, unknown_in) if u]
    staged = trace.stage(checkpoint_p, res + unknown_tracers,
                         dict(program=remat_p, policy=None, prevent_cse=prevent_cse))
    known_it, staged_it = iter(known_outs), iter(staged)
    return [next(staged_it) if u else trace.pure(next(known_it)) for u in unknown_out]


checkpoint_p.def_partial_eval(_checkpoint_partial_eval)


@functools.lru_cache(maxsize=4096)
def _transposed(program: Program, linear_in: tuple[bool, ...]):
    return close_over_consts(transpose.transpose_program(program, linear_in))


def _checkpoint_transpose(cts, *args, program, policy, prevent_cse=True):
    linear_in = tuple(transpose.is_undefined(a) for a in args)
    tprog, consts = _transposed(program, linear_in)
    nonlin = [a for a in args if not transpose.is_undefined(a)]
    cts = [ad.instantiate(c) for c in cts]
    outs = iter(checkpoint_p.bind(*consts, *nonlin, *cts, program=tprog, policy=None,
                                  prevent_cse=prevent_cse))
    return [next(outs) if lin else None for lin in linear_in]


checkpoint_p.def_transpose(_checkpoint_transpose)


def _checkpoint_batch(axis, args, dims, *, program, policy, prevent_cse=True):
    prog, consts, out_dims = batch_program(program, tuple(dims), axis.size, axis.name)
    outs = checkpoint_p.bind(*consts, *args, program=prog, policy=policy,
                             prevent_cse=prevent_cse)
    return outs, list(out_dims)


checkpoint_p.def_batch(_checkpoint_batch)


def checkpoint(fun: Callable, *, prevent_cse: bool = True, policy: Callable | None = None,
               static_argnums: tuple[int, ...] = ()) -> Callable:
    """Make reverse-mode differentiation of ``fun`` recompute its intermediates in the
    backward pass instead of storing them. ``policy(eqn) -> bool`` names equations whose
    outputs may be saved anyway (``checkpoint_policies.save_dots``)."""
    if isinstance(static_argnums, int):
        static_argnums = (static_argnums,)

    @functools.wraps(fun, updated=())
    def wrapped(*args):
        statics = {i: args[i] for i in static_argnums}
        dyn = [a for i, a in enumerate(args) if i not in statics]
        leaves, in_tree = pytree.tree_flatten(tuple(dyn))
        box = []

        def flat(*xs):
            it = iter(pytree.tree_unflatten(in_tree, xs))
            full = [statics[i] if i in statics else next(it) for i in range(len(args))]
            out_leaves, out_tree = pytree.tree_flatten(fun(*full))
            box.append(out_tree)
            return out_leaves

        closed = trace_to_program(flat, [get_aval(x) for x in leaves],
                                  description=f"checkpoint({getattr(fun, '__name__', 'fun')})")
        program, consts = close_over_consts(closed)
        outs = checkpoint_p.bind(*consts, *leaves, program=program, policy=policy,
                                 prevent_cse=prevent_cse)
        return pytree.tree_unflatten(box[0], outs)

    return wrapped


remat = checkpoint


class checkpoint_policies:
    """Policies for ``checkpoint(policy=...)``."""
    save_dots = staticmethod(save_dots)
    dots_saveable = save_dots
    nothing_saveable = staticmethod(save_nothing)

