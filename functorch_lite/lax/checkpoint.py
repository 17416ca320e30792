"""``checkpoint`` (``remat``): trade compute for memory in reverse mode.

The wrapped function is staged into a program applied by the ``checkpoint`` primitive.
When it is linearized, its partial-evaluation rule keeps only the *inputs* the backward
pass needs as residuals (plus, with a policy, the outputs of the equations the policy
saves, e.g. dot products; see ``checkpoint_policies.py``); the backward pass recomputes
everything else. The lowering puts an optimization barrier on the recomputation's inputs
so XLA cannot merge it back into the forward pass.
"""
from __future__ import annotations

import functools
import inspect
from typing import Callable, Iterable, Sequence

from functorch_lite.core import passes, pytree
from functorch_lite.core.avals import get_aval
from functorch_lite.core.ir import ClosedProgram, Eqn, Literal, Program, Var, eval_program
from functorch_lite.core.primitive import Primitive
from functorch_lite.interpreters import ad, batching, partial_eval, transpose
from functorch_lite.interpreters.staging import trace_flat, trace_to_program
from functorch_lite.lax.checkpoint_policies import is_saved

checkpoint_p = Primitive("checkpoint", multiple_results=True)


@checkpoint_p.def_shape
def _checkpoint_shape(*avals, program: Program, policy, prevent_cse: bool = True):
    return program.out_avals


@checkpoint_p.def_impl
def _checkpoint_impl(*args, program, policy, prevent_cse=True):
    return eval_program(program, [], args)


def _checkpoint_jvp(primals, tangents, *, program, policy, prevent_cse=True):
    nonzero = tuple(type(t) is not ad.Zero for t in tangents)
    jprog, consts, _ = ad.jvp_program(program, nonzero)
    nonzero_tangents = [t for t in tangents if type(t) is not ad.Zero]
    outs = checkpoint_p.bind(*consts, *primals, *nonzero_tangents, program=jprog,
                             policy=policy, prevent_cse=prevent_cse)
    k = len(program.outvars)
    return outs[:k], outs[k:]


checkpoint_p.def_jvp(_checkpoint_jvp)


def _policy_saves(policy, eqn: Eqn) -> bool:
    # JAX's calling convention, so JAX policies (and users' own) work unchanged.
    return is_saved(policy(eqn.primitive, *[a.aval for a in eqn.inputs], **eqn.params))


def _read_vars(program: Program) -> set:
    """The variables ``program``'s equations or outputs read."""
    reads = {a for e in program.eqns for a in e.inputs if isinstance(a, Var)}
    reads.update(a for a in program.outvars if isinstance(a, Var))
    return reads


@functools.lru_cache(maxsize=4096)
def _remat_split(program: Program, unknown_in: tuple[bool, ...], policy):
    """Split ``program`` for reverse mode, recomputing instead of storing.

    Returns ``(known, known_consts, remat, remat_consts, unknown_out, num_saved,
    used_known)``: ``known`` takes ``(known_consts, known inputs)`` and returns the known
    outputs, then the residuals the policy saves; ``remat`` takes ``(remat_consts, saved
    residuals, the known_consts and known inputs that ``used_known`` marks, unknown
    inputs)``, recomputes every other residual and returns the unknown outputs. Known
    inputs the backward pass never reads are not residuals (as in JAX), so they are not
    kept alive for it.

    The split itself is ``split_program`` (partial evaluation by tracing), so equations
    that carry programs, including checkpoints nested inside this one, are split by their
    own rules: a nested checkpoint leaves its primal part on the known side and its
    tangent part on the unknown side, never one equation mixing both."""
    known, known_consts, unknown, unknown_out, num_res = \
        partial_eval.split_program(program, unknown_in)
    n_known_out = len(known.outvars) - num_res
    residuals = known.outvars[n_known_out:]
    # Saved: the outputs of the equations the policy names, among those the recomputation
    # would otherwise have to redo (the ones the residuals depend on). Residuals the
    # unknown side never reads (known outputs of a nested jit or checkpoint that the split
    # hands over anyway) are left out, so no policy saves them.
    live_unknown, _ = passes.dce(unknown)
    unknown_reads = _read_vars(live_unknown)
    live = {r for r, v in zip(residuals, unknown.invars[:num_res])
            if isinstance(r, Var) and v in unknown_reads}
    saved = []
    for eqn in reversed(known.eqns):
        if any(o in live for o in eqn.outputs):
            if policy is not None and _policy_saves(policy, eqn):
                saved.extend(o for o in eqn.outputs if o in live and o not in saved)
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
            outs = outs if eqn.primitive.multiple_results else [outs]
            # (an output that is saved is read from memory, even if its equation reruns)
            env.update((o, v) for o, v in zip(eqn.outputs, outs) if o not in saved_set)
        return eval_program(unknown, [], [*[read(r) for r in residuals], *unknown_vals])

    avals = [v.aval for v in saved] + [v.aval for v in known.invars] + \
        [v.aval for v, u in zip(program.invars, unknown_in) if u]
    closed = trace_to_program(remat, avals, description="checkpoint recomputation")
    prog, consts = passes.dce(closed.program, closed.consts)
    remat_reads = _read_vars(prog)
    n_saved, n_known = len(saved), len(known.invars)
    used_known = tuple(v in remat_reads for v in prog.invars[n_saved:n_saved + n_known])
    invars = prog.invars[:n_saved] + \
        [v for v, u in zip(prog.invars[n_saved:n_saved + n_known], used_known) if u] + \
        prog.invars[n_saved + n_known:]
    remat_p, remat_consts = ClosedProgram(Program(prog.constvars, invars, prog.eqns,
                                                  prog.outvars), consts).consts_as_inputs()
    return fwd, known_consts, remat_p, remat_consts, unknown_out, len(saved), used_known


def _checkpoint_partial_eval(trace, tracers, knowns, unknown_in, *, program, policy,
                             prevent_cse=True):
    known_p, known_consts, remat_p, remat_consts, unknown_out, num_saved, used_known = \
        _remat_split(program, tuple(unknown_in), policy)
    known_vals = [k for k, u in zip(knowns, unknown_in) if not u]
    outs = checkpoint_p.bind(*known_consts, *known_vals, program=known_p, policy=None,
                             prevent_cse=prevent_cse)
    n_known = len(outs) - num_saved
    known_outs, saved = outs[:n_known], outs[n_known:]
    needed = [r for r, u in zip([*known_consts, *known_vals], used_known) if u]
    res = [trace.pure(r) for r in [*remat_consts, *saved, *needed]]
    unknown_tracers = [t for t, u in zip(tracers, unknown_in) if u]
    staged = trace.stage(checkpoint_p, res + unknown_tracers,
                         dict(program=remat_p, policy=None, prevent_cse=prevent_cse))
    # Known outputs are returned as plain values (``bind`` lowers tracers to them anyway):
    # wrapping them with ``trace.pure`` would register them as constants of the staged
    # program, i.e. as residuals the backward pass keeps alive without reading them.
    known_it, staged_it = iter(known_outs), iter(staged)
    return [next(staged_it) if u else next(known_it) for u in unknown_out]


checkpoint_p.def_partial_eval(_checkpoint_partial_eval)


def _checkpoint_transpose(cts, *args, program, policy, prevent_cse=True):
    linear_in = tuple(transpose.is_undefined(a) for a in args)
    tprog, consts = transpose.transpose_program(program, linear_in)
    nonlin = [a for a in args if not transpose.is_undefined(a)]
    cts = [ad.instantiate(c) for c in cts]
    outs = iter(checkpoint_p.bind(*consts, *nonlin, *cts, program=tprog, policy=None,
                                  prevent_cse=prevent_cse))
    return [next(outs) if lin else None for lin in linear_in]


checkpoint_p.def_transpose(_checkpoint_transpose)


def _checkpoint_batch(axis, args, dims, *, program, policy, prevent_cse=True):
    prog, consts, out_dims = batching.batch_program(program, tuple(dims), axis.size,
                                                    axis.name)
    outs = checkpoint_p.bind(*consts, *args, program=prog, policy=policy,
                             prevent_cse=prevent_cse)
    return outs, list(out_dims)


checkpoint_p.def_batch(_checkpoint_batch)


def checkpoint(fun: Callable, *, prevent_cse: bool | Sequence[bool] = True,
               policy: Callable | None = None, static_argnums: int | tuple[int, ...] = (),
               static_argnames: str | Iterable[str] = ()) -> Callable:
    """Make reverse-mode differentiation of ``fun`` recompute its intermediates in the
    backward pass instead of storing them.

    ``policy`` (one of ``checkpoint_policies``, or JAX-style
    ``policy(primitive, *input_avals, **params) -> bool``) names the equations whose
    outputs may be saved anyway::

        layer = checkpoint(lambda w, x: fnp.tanh(x @ w),
                           policy=checkpoint_policies.dots_saveable)  # keeps x @ w

    ``static_argnums``/``static_argnames`` name arguments that are Python values the
    function may branch on. ``prevent_cse`` may also be one bool per argument, as in JAX;
    here any True keeps the recomputation apart from the forward pass for all of them.
    """
    if isinstance(static_argnums, int):
        static_argnums = (static_argnums,)
    static_names = {static_argnames} if isinstance(static_argnames, str) else \
        set(static_argnames)
    if not isinstance(prevent_cse, bool):  # one per argument (a pytree prefix of them)
        prevent_cse = any(bool(p) for p in pytree.tree_leaves(prevent_cse))
    # As in JAX, a static argument may be named either way: find its other spelling.
    try:
        params = [p for p in inspect.signature(fun).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    static_nums = set(static_argnums) | {i for i, p in enumerate(params) if p.name in static_names}
    static_names |= {p.name for i, p in enumerate(params) if i in static_nums}

    @functools.wraps(fun, updated=())
    def wrapped(*args, **kwargs):
        if not all(-len(args) <= i < len(args) for i in static_argnums):
            raise ValueError(f"checkpoint: static_argnums={tuple(static_argnums)} names a "
                             f"position beyond the {len(args)} positional arguments given; "
                             "pass static arguments positionally or name them in "
                             "static_argnames")
        nums = {i % len(args) for i in static_nums if -len(args) <= i < len(args)}
        statics = {i: args[i] for i in nums}
        dyn = [a for i, a in enumerate(args) if i not in statics]
        static_kw = {k: v for k, v in kwargs.items() if k in static_names}
        dyn_kw = {k: v for k, v in kwargs.items() if k not in static_names}
        leaves, in_tree = pytree.tree_flatten((tuple(dyn), dyn_kw))

        def call(dyn_args, kw):
            it = iter(dyn_args)
            full = [statics[i] if i in statics else next(it) for i in range(len(args))]
            return fun(*full, **kw, **static_kw)

        flat, out_tree = pytree.flatten_fun(call, in_tree)
        program, consts = trace_flat(flat, [get_aval(x) for x in leaves],
                                     f"checkpoint({getattr(fun, '__name__', 'fun')})")
        outs = checkpoint_p.bind(*consts, *leaves, program=program, policy=policy,
                                 prevent_cse=prevent_cse)
        return pytree.tree_unflatten(out_tree(), outs)

    return wrapped


remat = checkpoint
