"""User-defined derivative rules: ``custom_jvp``, ``custom_vjp`` and ``custom_gradient``.

A call is handled by the active transformations one at a time, innermost first, as JAX
does, so that only what a transformation needs is ever run:

* differentiation (a jvp whose arguments carry tangents) calls only the user's rule, on the
  primal values of the level below: under eager ``grad`` the rule sees concrete numbers,
  and the undecorated function never runs;
* ``vmap`` wraps the function and the rules to run batched, and hands them down;
* staging (``jit``, ``make_ir``, a ``scan`` body, ...) traces the function into a program and
  applies it with ``custom_jvp_call`` / ``custom_vjp_call``, primitives that also carry the
  rules, so the rule survives staging and is used by whichever differentiation comes later;
* with nothing left, the function is simply called.

For custom_vjp, differentiation runs the user's ``fwd`` to get residuals and emits
``custom_lin``, a linear primitive whose transpose is the user's ``bwd``. Evaluating
``custom_lin`` (pure forward mode, not followed by a transpose) is an error, as in JAX.
"""
from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, Sequence

from functorch_lite.core import dtypes, pytree
from functorch_lite.core import trace as trace_mod
from functorch_lite.core.avals import get_aval
from functorch_lite.core.errors import UnexpectedTracerError
from functorch_lite.core.ir import Program, eval_program
from functorch_lite.core.primitive import Primitive
from functorch_lite.interpreters import ad, batching
from functorch_lite.interpreters.jit_call import batch_program, close_over_consts
from functorch_lite.interpreters.staging import StagingTrace, trace_to_program


def _stage(flat_fun: Callable, avals, name: str) -> tuple[Program, list]:
    """``flat_fun`` traced into a program whose constants are its leading inputs."""
    return close_over_consts(trace_to_program(flat_fun, avals, description=name))


def _resolve_nondiff(args, nondiff_argnums):
    """Split ``args`` into the static (nondiff) ones and the differentiable ones."""
    nondiff = {i: args[i] for i in nondiff_argnums}
    diff = [a for i, a in enumerate(args) if i not in nondiff]
    return nondiff, diff


def _merge(nondiff: dict, diff: Sequence[Any]) -> list:
    it = iter(diff)
    n = len(nondiff) + len(diff)
    return [nondiff[i] if i in nondiff else next(it) for i in range(n)]


def _record_out_tree(box: list, tree, name: str, who: str) -> None:
    """The first of the function and its rules to run fixes the output structure; the
    others must agree with it."""
    if not box:
        box.append(tree)
    elif box[0] != tree:
        raise TypeError(f"{who} of {name} returned output structure {tree}, but the function "
                        f"returns {box[0]}; the function and its rules must return the same "
                        f"structure")


class CustomRuleClosureError(UnexpectedTracerError, TypeError):
    """JAX reports this case as an escaped tracer (``UnexpectedTracerError``); it is also
    a ``TypeError``, which this library raised before."""


def _closure_error(kind: str) -> CustomRuleClosureError:
    return CustomRuleClosureError(
        f"a {kind}-decorated function closed over a value that is being differentiated; "
        "pass it as an explicit argument instead")


# Tracer internals the processing walk reads, in one place.
def _main_of(x):
    return x._trace.main if isinstance(x, trace_mod.Tracer) else None


def _jvp_parts(t: ad.JVPTracer):
    return t.primal, t.tangent


def _batch_parts(t: batching.BatchTracer):
    return t.val, t.batch_dim


def _check_outputs(kind: str, outs, level: int) -> None:
    """Outputs of user code run for transformation ``level`` must live below it: a tracer
    at or above it means the code closed over a value being differentiated there."""
    for o in outs:
        main = _main_of(o)
        if main is None:
            continue
        if not main.alive:
            raise trace_mod.escaped_tracer_error(o)
        if main.level >= level:
            raise _closure_error(kind)


# ---------------------------------------------------------------------------------------
# Batching the rules of a staged call (``custom_jvp_call``/``custom_vjp_call`` under vmap):
# they run later, under a fresh vmap of the same axis.

def _vmap_call(fn, axis, args, in_dims):
    """Apply ``fn`` to the pytree ``args`` batched along ``in_dims``; every output leaf is
    batched at dim 0."""
    leaves, tree = pytree.tree_flatten(args)
    dims = pytree.tree_leaves(in_dims, is_leaf=lambda x: x is None)
    box = []

    def flat(*xs):
        out = fn(*pytree.tree_unflatten(tree, xs))
        out_leaves, out_tree = pytree.tree_flatten(out)
        box.append(out_tree)
        return out_leaves

    outs, out_dims = batching.batch_flat(flat, batching.AxisData(axis.size, axis.name),
                                         leaves, dims)
    outs = [batching.move_dim(o, d, 0, axis.size) for o, d in zip(outs, out_dims)]
    return pytree.tree_unflatten(box[0], outs)


def _batched_jvp_rule(jvp, axis, p_dims):
    """A flat jvp rule run batched; a tangent has its primal's layout, so its batch dim."""
    p_dims = list(p_dims)

    def batched_jvp(primals, tangents):
        def one(p, t):
            out, tout = jvp(list(p), list(t))
            return list(out), list(tout)
        return _vmap_call(one, axis, (list(primals), list(tangents)), (p_dims, p_dims))
    return batched_jvp


def _batched_vjp_rules(fwd, bwd, axis, p_dims):
    """Flat fwd and bwd run batched: residuals and output cotangents at dim 0, input
    cotangents at their inputs' batch dims (summed over the batch for unbatched inputs)."""
    p_dims = list(p_dims)

    def batched_fwd(primals):
        return _vmap_call(lambda p: tuple(fwd(list(p))), axis, (list(primals),), (p_dims,))

    def batched_bwd(residuals, cts):
        from functorch_lite import lax
        cts_in = _vmap_bwd(bwd, axis, residuals, cts, [0] * len(residuals), [0] * len(cts))
        out = []
        for ct, d in zip(cts_in, p_dims):
            if type(ct) is ad.Zero:
                out.append(ct if d is None else _batched_zero(ct, d, axis.size))
            elif d is None:
                out.append(lax.reduce_sum(ct, (0,)))
            else:
                out.append(batching.move_dim(ct, 0, d, axis.size))
        return out
    return batched_fwd, batched_bwd


def _vmap_bwd(bwd, axis, residuals, cts, res_dims, ct_dims) -> list:
    """vmap of a flat user ``bwd`` over (residuals, cts): each input's cotangent batched at
    dim 0, or the (per-example) ``Zero`` the rule returned, kept symbolic."""
    zeros: list = []

    def one(r, c):
        outs = list(bwd(list(r), list(c)))
        zeros[:] = [o if type(o) is ad.Zero else None for o in outs]
        return [o for o in outs if type(o) is not ad.Zero]

    nonzero = iter(_vmap_call(one, axis, (list(residuals), list(cts)),
                              (list(res_dims), list(ct_dims))))
    return [next(nonzero) if z is None else z for z in zeros]


def _batched_zero(z, dim: int, size: int):
    shape = list(z.aval.shape)
    shape.insert(dim, size)
    return ad.Zero(z.aval.update(shape=tuple(shape)))


# ---------------------------------------------------------------------------------------
# Processing a call, innermost transformation first

class _JVPCall:
    """A custom_jvp function applied to flat arguments: ``fun(*leaves) -> out leaves`` and
    ``rule(primals, tangents) -> (outs, tangents_out)``, all flat lists."""

    kind = "custom_jvp"

    def __init__(self, name: str, fun: Callable, rule: Callable):
        self.name, self.fun, self.rule = name, fun, rule

    def differentiate(self, primals, tangents):
        return _custom_jvp_rule(primals, tangents, call=None, jvp=self.rule, num_consts=0)

    def stage(self, args) -> list:
        program, consts = _stage(self.fun, [get_aval(a) for a in args],
                                 f"custom_jvp({self.name})")
        return custom_jvp_call_p.bind(*consts, *args, call=program, jvp=self.rule,
                                      num_consts=len(consts))


class _VJPCall:
    """A custom_vjp function applied to flat arguments: ``fun``, ``fwd(primals) -> (outs,
    residuals)`` and ``bwd(residuals, cts) -> input cotangents``, all flat lists."""

    kind = "custom_vjp"

    def __init__(self, name: str, fun: Callable, fwd: Callable, bwd: Callable):
        self.name, self.fun, self.fwd, self.bwd = name, fun, fwd, bwd

    def differentiate(self, primals, tangents):
        return _custom_vjp_jvp(primals, tangents, call=None, fwd=self.fwd, bwd=self.bwd,
                               num_consts=0)

    def stage(self, args) -> list:
        program, consts = _stage(self.fun, [get_aval(a) for a in args],
                                 f"custom_vjp({self.name})")
        return custom_vjp_call_p.bind(*consts, *args, call=program, fwd=self.fwd,
                                      bwd=self.bwd, num_consts=len(consts))


class _BatchedCall:
    """``base`` applied under the vmap ``main`` (its arguments batched along ``dims``), as
    seen from the level below: it takes and returns that level's values, and records its
    outputs' batch dims (0, or None when unbatched) in ``out_dims``. Each method re-enters
    the vmap, which is still active, so the user's code may close over its batched values
    and use collectives over its axis."""

    def __init__(self, base, main, dims):
        self.base, self.main, self.dims = base, main, list(dims)
        self.kind, self.name = base.kind, base.name
        self.out_dims: list | None = None

    def _enter(self, vals) -> list:
        trace = self.main.with_trace()
        out = []
        for v, d in zip(vals, self.dims):
            if d is None:
                out.append(v)
            elif type(v) is ad.Zero:  # a symbolic zero tangent stays one, per example
                shape = list(v.aval.shape)
                del shape[d]
                out.append(ad.Zero(v.aval.update(shape=tuple(shape))))
            else:
                out.append(batching.BatchTracer(trace, v, d))
        return out

    def _leave(self, outs) -> tuple[list, list]:
        trace, size = self.main.with_trace(), self.main.global_data.size
        vals, dims = [], []
        for o in outs:
            v, d = _batch_parts(trace.full_raise(o))
            vals.append(v if d is None else batching.move_dim(v, d, 0, size))
            dims.append(None if d is None else 0)
        return vals, dims

    def fun(self, *vals) -> list:
        outs, self.out_dims = self._leave(self.base.fun(*self._enter(vals)))
        return outs

    def differentiate(self, primals, tangents):
        # A tangent has its primal's layout, so its batch dim. An output is batched when
        # its primal or its tangent is.
        outs, touts = self.base.differentiate(self._enter(primals), self._enter(tangents))
        outs, o_dims = self._leave(outs)
        touts, t_dims = self._leave(touts)
        size = self.main.global_data.size
        self.out_dims = [None if a is None and b is None else 0 for a, b in zip(o_dims, t_dims)]
        outs = [batching.move_dim(o, None, 0, size) if a is None and d == 0 else o
                for o, a, d in zip(outs, o_dims, self.out_dims)]
        touts = [batching.move_dim(t, None, 0, size) if b is None and d == 0 else t
                 for t, b, d in zip(touts, t_dims, self.out_dims)]
        return outs, touts

    def stage(self, vals) -> list:
        # Bound under the vmap, the staged call meets its own batching rule.
        outs, self.out_dims = self._leave(self.base.stage(self._enter(vals)))
        return outs


def _apply(call, args: list) -> list:
    """Apply a ``_JVPCall``/``_VJPCall`` under the active transformations."""
    for a in args:
        main = _main_of(a)
        if main is not None and not main.alive:
            raise trace_mod.escaped_tracer_error(a)
    return _apply_at(len(trace_mod._stack) - 1, call, list(args))


def _apply_at(level: int, call, args: list) -> list:
    """Handle ``call`` for the transformation at ``level`` (every argument lives at or
    below it), handing it to the level below when this one has nothing to do."""
    main = trace_mod._stack[level]
    if level == 0:  # eager evaluation: just the function
        outs = list(call.fun(*args))
        _check_outputs(call.kind, outs, 0)
        return outs
    trace = main.with_trace()
    mine = any(_main_of(a) is main for a in args)
    if issubclass(main.trace_type, ad.JVPTrace):
        if not mine:
            return _apply_at(level - 1, call, args)
        primals, tangents = zip(*[_jvp_parts(trace.full_raise(a)) for a in args])
        if all(type(t) is ad.Zero for t in tangents):
            return _apply_at(level - 1, call, list(primals))
        # Only the rule runs, on the primals (concrete under an eager grad), as in JAX.
        outs, touts = call.differentiate(list(primals), list(tangents))
        _check_outputs(call.kind, [*outs, *touts], level)
        return [trace_mod.full_lower(ad.JVPTracer(trace, o, t)) for o, t in zip(outs, touts)]
    if issubclass(main.trace_type, batching.BatchTrace):
        # Always handled, even with no batched argument: the function may close over a
        # batched value (or use a collective over this axis).
        vals, dims = zip(*[_batch_parts(trace.full_raise(a)) for a in args]) if args \
            else ((), ())
        batched = _BatchedCall(call, main, dims)
        outs = _apply_at(level - 1, batched, list(vals))
        return [o if d is None else batching.BatchTracer(trace, o, d)
                for o, d in zip(outs, batched.out_dims)]
    if issubclass(main.trace_type, StagingTrace) and not mine and \
            main is not trace_mod.current_dynamic():
        # Partial evaluation with every input known: the call runs on the known side.
        return _apply_at(level - 1, call, args)
    # Staging (jit, make_ir, control-flow bodies, the unknown side of partial evaluation)
    # and any other transformation: the function as a program, the rules as params.
    return call.stage(args)


# ---------------------------------------------------------------------------------------
# custom_jvp

custom_jvp_call_p = Primitive("custom_jvp_call", multiple_results=True)


@custom_jvp_call_p.def_shape
def _custom_jvp_shape(*avals, call: Program, jvp: Callable, num_consts: int):
    return call.out_avals


@custom_jvp_call_p.def_impl
def _custom_jvp_impl(*args, call, jvp, num_consts):
    return eval_program(call, [], args)


def _check_no_const_tangents(kind, tangents, num_consts):
    if any(type(t) is not ad.Zero for t in tangents[:num_consts]):
        raise _closure_error(kind)


def _custom_jvp_rule(primals, tangents, *, call, jvp, num_consts):
    _check_no_const_tangents("custom_jvp", tangents, num_consts)
    primals = primals[num_consts:]
    tangents = [ad.instantiate(t) for t in tangents[num_consts:]]
    outs, out_tangents = jvp(list(primals), tangents)
    return list(outs), list(out_tangents)


custom_jvp_call_p.def_jvp(_custom_jvp_rule)


def _custom_jvp_batch(axis, args, dims, *, call, jvp, num_consts):
    prog, consts, out_dims = batch_program(call, tuple(dims), axis.size, axis.name,
                                           all_batched=True)
    outs = custom_jvp_call_p.bind(*consts, *args, call=prog,
                                  jvp=_batched_jvp_rule(jvp, axis, dims[num_consts:]),
                                  num_consts=len(consts) + num_consts)
    return outs, list(out_dims)


custom_jvp_call_p.def_batch(_custom_jvp_batch)


class _CustomRule:
    """What custom_jvp and custom_vjp share: the wrapped function, its non-differentiable
    arguments, method binding, and flattening a call's arguments."""

    def __init__(self, fun: Callable, nondiff_argnums: Sequence[int] = ()):
        self.fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)
        functools.update_wrapper(self, fun, updated=())
        try:
            self._signature = inspect.signature(fun)
        except (TypeError, ValueError):  # some builtins and C callables have none
            self._signature = None

    def __get__(self, obj, objtype=None):
        return self if obj is None else functools.partial(self, obj)

    def _resolve_kwargs(self, args: tuple, kwargs: dict) -> tuple:
        """Keyword arguments and defaults turned into positions, as JAX does, so the rules
        always get every argument positionally."""
        if self._signature is None:
            if kwargs:
                raise TypeError(f"{self.__name__}: keyword arguments need a function with a "
                                "signature; pass the arguments positionally")
            return args
        try:
            bound = self._signature.bind(*args, **kwargs)
        except TypeError as e:
            raise TypeError(f"{self.__name__}() {e}") from None
        bound.apply_defaults()
        if bound.kwargs:
            raise TypeError(f"{self.__name__}: the keyword arguments {sorted(bound.kwargs)} "
                            "have no position, and custom derivative rules take every "
                            "argument positionally; pass them by position (or close over "
                            "them)")
        return bound.args

    def _flatten_call(self, args: tuple, kwargs: dict):
        """``(nondiff, diff, leaves, in_tree, flat_fun, out_tree_box)``: the
        non-differentiable arguments by position, the differentiable ones (also flattened),
        and the function on the flat differentiable leaves."""
        args = self._resolve_kwargs(args, kwargs)
        nondiff, diff = _resolve_nondiff(args, self.nondiff_argnums)
        leaves, in_tree = pytree.tree_flatten(tuple(diff))
        box: list = []
        fun, name = self.fun, self.__name__

        def flat_fun(*xs):
            out = fun(*_merge(nondiff, pytree.tree_unflatten(in_tree, xs)))
            out_leaves, out_tree = pytree.tree_flatten(out)
            _record_out_tree(box, out_tree, name, "the function")
            return out_leaves
        return nondiff, diff, leaves, in_tree, flat_fun, box


class custom_jvp(_CustomRule):
    """Give ``fun`` a custom forward-mode derivative rule (reverse mode follows from it).
    Under differentiation only the rule runs (on concrete primals under an eager ``grad``);
    ``fun`` runs when the call is not differentiated, or is staged by ``jit``.

    >>> @custom_jvp
    ... def log1pexp(x):
    ...     return fnp.log1p(fnp.exp(x))
    >>> @log1pexp.defjvp
    ... def log1pexp_jvp(primals, tangents):
    ...     (x,), (t,) = primals, tangents
    ...     return log1pexp(x), t * lax.logistic(x)
    """

    def __init__(self, fun: Callable, nondiff_argnums: Sequence[int] = ()):
        super().__init__(fun, nondiff_argnums)
        self.jvp: Callable | None = None

    def defjvp(self, jvp: Callable, symbolic_zeros: bool = False) -> Callable:
        """``jvp(primals, tangents) -> (primal_out, tangent_out)`` (tuples of arguments)."""
        self.jvp = jvp
        return jvp

    def defjvps(self, *jvps: Callable | None) -> None:
        """One function per argument: ``jvps[i](t_i, primal_out, *primals)`` is argument
        i's tangent contribution (None: no dependence)."""
        def jvp(primals, tangents):
            out = self(*primals)
            acc = None
            for fn, t in zip(jvps, tangents):
                if fn is None:
                    continue
                contrib = fn(t, out, *primals)
                acc = contrib if acc is None else pytree.tree_map(
                    lambda a, b: a + b, acc, contrib)
            if acc is None:
                acc = pytree.tree_map(lambda o: o * 0, out)
            return out, acc
        self.defjvp(jvp)

    def __call__(self, *args, **kwargs):
        if self.jvp is None:
            raise AttributeError(f"No JVP defined for custom_jvp function "
                                 f"{getattr(self.fun, '__name__', self.fun)} using defjvp.")
        nondiff, diff, leaves, in_tree, flat_fun, out_tree = self._flatten_call(args, kwargs)
        user_jvp, name = self.jvp, self.__name__
        nondiff_vals = [nondiff[i] for i in sorted(nondiff)]

        def flat_jvp(primal_leaves, tangent_leaves):
            primals = pytree.tree_unflatten(in_tree, primal_leaves)
            tangents = pytree.tree_unflatten(in_tree, tangent_leaves)
            # As in JAX: ``jvp(*nondiff_args, primals, tangents)``, where primals and
            # tangents hold only the differentiable arguments.
            res = user_jvp(*nondiff_vals, tuple(primals), tuple(tangents))
            if not (isinstance(res, (tuple, list)) and len(res) == 2):
                raise TypeError(f"custom_jvp rule of {name} must return a pair "
                                f"(primal_out, tangent_out), got {type(res).__name__}")
            out, tout = res
            out_l, o_tree = pytree.tree_flatten(out)
            tout_l, t_tree = pytree.tree_flatten(tout)
            if o_tree != t_tree:
                raise TypeError(f"custom_jvp rule of {name} must return (primal_out, "
                                f"tangent_out) with one output structure; got {o_tree} and "
                                f"{t_tree}")
            _record_out_tree(out_tree, o_tree, name, "custom_jvp rule")
            for i, (o, t) in enumerate(zip(out_l, tout_l)):
                expect = ad.tangent_aval(get_aval(o))
                got = get_aval(t)
                if got.shape != expect.shape or (
                        got.dtype != expect.dtype and expect.dtype != dtypes.float0):
                    raise TypeError(f"custom_jvp rule of {name} must produce primal "
                                    f"and tangent outputs of corresponding shapes and dtypes; "
                                    f"output {i} is {get_aval(o).str_short()} but its "
                                    f"tangent is {got.str_short()} (expected "
                                    f"{expect.str_short()})")
            return out_l, tout_l

        outs = _apply(_JVPCall(name, flat_fun, flat_jvp), leaves)
        return pytree.tree_unflatten(out_tree[0], outs)


# ---------------------------------------------------------------------------------------
# custom_vjp

custom_vjp_call_p = Primitive("custom_vjp_call", multiple_results=True)
custom_lin_p = Primitive("custom_lin", multiple_results=True)


@custom_vjp_call_p.def_shape
def _custom_vjp_shape(*avals, call: Program, fwd: Callable, bwd: Callable, num_consts: int):
    return call.out_avals


@custom_vjp_call_p.def_impl
def _custom_vjp_impl(*args, call, fwd, bwd, num_consts):
    return eval_program(call, [], args)


def _custom_vjp_jvp(primals, tangents, *, call, fwd, bwd, num_consts):
    _check_no_const_tangents("custom_vjp", tangents, num_consts)
    primals = primals[num_consts:]
    tangents = tangents[num_consts:]
    outs, residuals = fwd(list(primals))
    out_avals = tuple(ad.tangent_aval(get_aval(o)) for o in outs)
    tangents = [ad.instantiate(t) for t in tangents]
    tangents_out = custom_lin_p.bind(*residuals, *tangents, num_res=len(residuals),
                                     bwd=bwd, out_avals=out_avals)
    return list(outs), list(tangents_out)


custom_vjp_call_p.def_jvp(_custom_vjp_jvp)


@custom_lin_p.def_shape
def _custom_lin_shape(*avals, num_res, bwd, out_avals):
    return list(out_avals)


def _forward_mode_error(*args, **params):
    raise TypeError("can't apply forward-mode autodiff (jvp) to a custom_vjp function.")


custom_lin_p.def_impl(_forward_mode_error)


def _custom_lin_transpose(cts, *args, num_res, bwd, out_avals):
    residuals = args[:num_res]
    cts = [ad.instantiate(c) for c in cts]
    cts_in = bwd(list(residuals), cts)
    return [None] * num_res + list(cts_in)


custom_lin_p.def_transpose(_custom_lin_transpose)


def _custom_vjp_batch(axis, args, dims, *, call, fwd, bwd, num_consts):
    prog, consts, out_dims = batch_program(call, tuple(dims), axis.size, axis.name,
                                           all_batched=True)
    batched_fwd, batched_bwd = _batched_vjp_rules(fwd, bwd, axis, dims[num_consts:])
    outs = custom_vjp_call_p.bind(*consts, *args, call=prog, fwd=batched_fwd, bwd=batched_bwd,
                                  num_consts=len(consts) + num_consts)
    return outs, list(out_dims)


custom_vjp_call_p.def_batch(_custom_vjp_batch)


def _check_bwd_cotangent(name, k, ct, aval):
    """A user's cotangent for an argument of type ``aval``: ``Zero`` for None (and for
    integer arguments, which have no cotangent); otherwise it must have the argument's
    shape."""
    t_aval = ad.tangent_aval(aval)
    if ct is None or type(ct) is ad.Zero or t_aval.dtype == dtypes.float0:
        return ad.Zero(t_aval)
    c_aval = get_aval(ct)
    if c_aval.shape != aval.shape:
        raise ValueError(f"custom_vjp bwd of {name} must produce cotangents with the shapes "
                         f"of the primal arguments: cotangent {k} has shape {c_aval.shape}, "
                         f"but its argument is {aval.str_short()}")
    return ct


class custom_vjp(_CustomRule):
    """Give ``fun`` a custom reverse-mode rule: ``fwd(*args) -> (out, residuals)`` and
    ``bwd(residuals, out_cotangent) -> tuple of argument cotangents``.

    >>> @custom_vjp
    ... def clip_gradient(x):
    ...     return x
    >>> clip_gradient.defvjp(lambda x: (x, None),
    ...                      lambda _, g: (fnp.clip(g, -1.0, 1.0),))
    """

    def __init__(self, fun: Callable, nondiff_argnums: Sequence[int] = ()):
        super().__init__(fun, nondiff_argnums)
        self.fwd: Callable | None = None
        self.bwd: Callable | None = None

    def defvjp(self, fwd: Callable, bwd: Callable, symbolic_zeros: bool = False) -> None:
        self.fwd = fwd
        self.bwd = bwd

    def __call__(self, *args, **kwargs):
        if self.fwd is None:
            raise AttributeError(f"No VJP defined for custom_vjp function "
                                 f"{getattr(self.fun, '__name__', self.fun)} using defvjp.")
        nondiff, diff, leaves, in_tree, flat_fun, out_tree = self._flatten_call(args, kwargs)
        name = self.__name__
        user_fwd, user_bwd = self.fwd, self.bwd
        nondiff_vals = [nondiff[i] for i in sorted(nondiff)]
        res_tree_box = []

        def flat_fwd(primal_leaves):
            primals = pytree.tree_unflatten(in_tree, primal_leaves)
            res = user_fwd(*_merge(nondiff, primals))
            if not (isinstance(res, tuple) and len(res) == 2):
                raise TypeError(f"custom_vjp fwd of {name} must return a pair (output, "
                                f"residuals), got {type(res).__name__}")
            out, residuals = res
            out_l, o_tree = pytree.tree_flatten(out)
            _record_out_tree(out_tree, o_tree, name, "custom_vjp fwd")
            res_l, res_tree = pytree.tree_flatten(residuals)
            res_tree_box[:] = [res_tree]
            return out_l, res_l

        def flat_bwd(res_leaves, ct_leaves):
            residuals = pytree.tree_unflatten(res_tree_box[0], res_leaves)
            cts = pytree.tree_unflatten(out_tree[0], ct_leaves)
            args_b = (*nondiff_vals, residuals, cts) if nondiff else (residuals, cts)
            cts_in = user_bwd(*args_b)
            if not isinstance(cts_in, (tuple, list)):
                raise TypeError(f"custom_vjp bwd of {name} must return a tuple with one "
                                f"cotangent per differentiable argument, got "
                                f"{type(cts_in).__name__}")
            if len(cts_in) != len(diff):
                raise TypeError(f"custom_vjp bwd of {name} returned {len(cts_in)} "
                                f"cotangents for {len(diff)} differentiable arguments")
            flat_cts = []
            for k, (ct, arg) in enumerate(zip(cts_in, diff)):
                arg_leaves, arg_tree = pytree.tree_flatten(arg)
                if ct is None:
                    ct_leaves = [None] * len(arg_leaves)
                else:
                    try:
                        ct_leaves = arg_tree.flatten_up_to(ct)
                    except (TypeError, ValueError) as e:
                        raise TypeError(f"custom_vjp bwd of {name}: cotangent {k} does not "
                                        f"match the structure {arg_tree} of its argument: "
                                        f"{e}") from None
                for c, a in zip(ct_leaves, arg_leaves):
                    flat_cts.append(_check_bwd_cotangent(name, k, c, get_aval(a)))
            return flat_cts

        outs = _apply(_VJPCall(name, flat_fun, flat_fwd, flat_bwd), leaves)
        return pytree.tree_unflatten(out_tree[0], outs)


def _custom_lin_jvp(primals, tangents, *, num_res, bwd, out_avals):
    # Linear in its non-residual operands: the tangent is the same map applied to their
    # tangents (residuals must not carry tangents).
    _check_no_const_tangents("custom_vjp", tangents, num_res)
    outs = custom_lin_p.bind(*primals, num_res=num_res, bwd=bwd, out_avals=out_avals)
    touts = custom_lin_p.bind(*primals[:num_res],
                              *[ad.instantiate(t) for t in tangents[num_res:]],
                              num_res=num_res, bwd=bwd, out_avals=out_avals)
    return outs, touts


custom_lin_p.def_jvp(_custom_lin_jvp)


def _custom_lin_batch(axis, args, dims, *, num_res, bwd, out_avals):
    res_dims = list(dims[:num_res])

    def batched_bwd(residuals, cts):
        # The linear operands are all batched at 0 below, so their cotangents are too.
        cts_in = _vmap_bwd(bwd, axis, residuals, cts, res_dims, [0] * len(cts))
        return [_batched_zero(c, 0, axis.size) if type(c) is ad.Zero else c for c in cts_in]

    args = list(args)
    for i in range(num_res, len(args)):
        args[i] = batching.move_dim(args[i], dims[i], 0, axis.size)
    batched_avals = tuple(a.update(shape=(axis.size, *a.shape)) for a in out_avals)
    outs = custom_lin_p.bind(*args, num_res=num_res, bwd=batched_bwd, out_avals=batched_avals)
    return outs, [0] * len(outs)


custom_lin_p.def_batch(_custom_lin_batch)


# ---------------------------------------------------------------------------------------
# custom_gradient: one function returning (output, vjp function), built on custom_vjp

class _GradientResiduals:
    """What ``custom_gradient``'s backward pass needs: the user's vjp function traced into
    a program, and the values it closed over (the residuals proper, as pytree children,
    so they flow through jit, vmap and differentiation like any residual)."""

    def __init__(self, program: Program, consts: list, out_tree, in_tree):
        self.program, self.consts = program, consts
        self.out_tree, self.in_tree = out_tree, in_tree


pytree.register_pytree_node(
    _GradientResiduals,
    lambda r: (list(r.consts), (r.program, r.out_tree, r.in_tree)),
    lambda aux, consts: _GradientResiduals(aux[0], list(consts), aux[1], aux[2]))


def custom_gradient(fun: Callable) -> custom_vjp:
    """Define a function and its reverse-mode rule at once (TensorFlow's style):
    ``fun(*args) -> (output, vjp_fn)``, where ``vjp_fn(output_cotangent)`` returns the
    cotangent of each argument (a tuple; a bare value for a function of one argument).
    ``vjp_fn`` may close over intermediate values of ``fun``: it is traced right after
    ``fun`` runs, so it cannot branch in Python on those values or on its cotangent.

    >>> @custom_gradient
    ... def f(x):
    ...     return x ** 2, lambda g: (g * x,)
    >>> grad(f)(3.0)    # 3.0, the rule's, not 2 * x
    """
    def primal(*args, **kwargs):
        out, _ = fun(*args, **kwargs)
        return out

    functools.update_wrapper(primal, fun)
    # Keep primal's own (*args, **kwargs) signature, as JAX does: arguments reach the rules
    # as passed (defaults are not filled in; keywords cannot be placed).
    del primal.__wrapped__
    wrapped = custom_vjp(primal)

    def fwd(*args, **kwargs):
        res = fun(*args, **kwargs)
        if not (isinstance(res, (tuple, list)) and len(res) == 2 and callable(res[1])):
            raise TypeError(f"custom_gradient function {wrapped.__name__} must return a pair "
                            f"(output, vjp_fn), got {type(res).__name__}")
        out, vjp_fn = res
        out_leaves, out_tree = pytree.tree_flatten((out,))
        box = []

        def flat_vjp(*cts):
            (ct,) = pytree.tree_unflatten(out_tree, cts)
            cts_in_leaves, in_tree = pytree.tree_flatten(vjp_fn(ct))
            box.append(in_tree)
            return cts_in_leaves

        # Traced now, while the values vjp_fn closes over are alive; they become the
        # program's constants and so the residuals.
        program, consts = _stage(flat_vjp,
                                 [ad.tangent_aval(get_aval(o)) for o in out_leaves],
                                 f"custom_gradient({wrapped.__name__}) vjp")
        return out, _GradientResiduals(program, consts, out_tree, box[0])

    def bwd(res: _GradientResiduals, ct):
        ct_leaves, ct_tree = pytree.tree_flatten((ct,))
        if ct_tree != res.out_tree:
            raise TypeError(f"custom_gradient {wrapped.__name__}: output cotangent structure "
                            f"{ct_tree} does not match the output's {res.out_tree}")
        cts_in = pytree.tree_unflatten(
            res.in_tree, eval_program(res.program, [], [*res.consts, *ct_leaves]))
        # As JAX: a function of one argument may return its cotangent bare.
        return (cts_in,) if pytree.treedef_is_leaf(res.in_tree) else cts_in

    wrapped.defvjp(fwd, bwd)
    return wrapped
