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

from functorch_lite.core import pytree
from functorch_lite.core.avals import get_aval
from functorch_lite.core.ir import Eqn, Program, Var, eval_program
from functorch_lite.core.primitive import Primitive
from functorch_lite.interpreters import ad, transpose
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
    """(known, unknown, unknown_out, num_res): ``known`` computes the known outputs and the
    residuals the policy allows to save; ``unknown`` takes (saved residuals, known inputs,
    unknown inputs) and recomputes the rest."""
    unknown_vars = {v for v, u in zip(program.invars, unknown_in) if u}
    for eqn in program.eqns:
        if any(isinstance(a, Var) and a in unknown_vars for a in eqn.inputs):
            unknown_vars.update(eqn.outputs)
    unknown_out = [isinstance(v, Var) and v in unknown_vars for v in program.outvars]
    known_in = [v for v, u in zip(program.invars, unknown_in) if not u]
    saved: list[Var] = []
    known_eqns = []
    for eqn in program.eqns:
        if not any(isinstance(a, Var) and a in unknown_vars for a in eqn.inputs):
            known_eqns.append(eqn)
            if policy is not None and policy(eqn):
                saved.extend(eqn.outputs)
    known_outs = [v for v, u in zip(program.outvars, unknown_out) if not u]
    known = Program([], known_in, known_eqns, known_outs + saved)
    # The unknown side recomputes every known equation except the saved ones.
    rename = {v: Var(v.aval) for v in saved + known_in}

    def rn(a):
        return rename.get(a, a) if isinstance(a, Var) else a

    saved_set = set(saved)
    eqns = []
    for eqn in program.eqns:
        if all(o in saved_set for o in eqn.outputs) and eqn in known_eqns:
            continue
        eqns.append(Eqn(eqn.primitive, [rn(a) for a in eqn.inputs],
                        [rn(o) for o in eqn.outputs], eqn.params))
    unknown_in_vars = [v for v, u in zip(program.invars, unknown_in) if u]
    unknown = Program([], [rename[v] for v in saved] + [rename[v] for v in known_in]
                      + unknown_in_vars, eqns,
                      [rn(v) for v, u in zip(program.outvars, unknown_out) if u])
    return known, unknown, unknown_out, len(saved)


def _checkpoint_partial_eval(trace, tracers, knowns, unknown_in, *, program, policy,
                             prevent_cse=True):
    known_p, unknown_p, unknown_out, num_saved = _remat_split(program, tuple(unknown_in), policy)
    known_vals = [k for k, u in zip(knowns, unknown_in) if not u]
    outs = checkpoint_p.bind(*known_vals, program=known_p, policy=None, prevent_cse=prevent_cse)
    n_known = len(outs) - num_saved
    known_outs, saved = outs[:n_known], outs[n_known:]
    res = [trace.pure(r) for r in saved] + [trace.pure(k) for k in known_vals]
    unknown_tracers = [t for t, u in zip(tracers, unknown_in) if u]
    staged = trace.stage(checkpoint_p, res + unknown_tracers,
                         dict(program=unknown_p, policy=None, prevent_cse=prevent_cse))
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
    nothing_saveable = staticmethod(save_nothing)
    dots_saveable = staticmethod(save_dots)

