"""User-defined derivative rules: ``custom_jvp`` and ``custom_vjp``.

Both stage the decorated function into a program and apply it with a primitive that also
carries the user's rule, so the rule survives ``jit`` and ``vmap`` and is used by whichever
differentiation happens later:

* ``custom_jvp_call``: forward mode calls the user's jvp function; reverse mode comes from
  linearizing that jvp like any other code.
* ``custom_vjp_call``: forward mode runs the user's ``fwd`` to get residuals and emits
  ``custom_lin``, a linear primitive whose transpose is the user's ``bwd``. Evaluating
  ``custom_lin`` (pure forward mode, not followed by a transpose) is an error, as in JAX.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

from functorch_lite.core import dtypes, pytree
from functorch_lite.core import trace as trace_mod
from functorch_lite.core.avals import get_aval
from functorch_lite.core.ir import Program, eval_program
from functorch_lite.core.primitive import Primitive
from functorch_lite.interpreters import ad, batching
from functorch_lite.interpreters.jit_call import batch_program, close_over_consts
from functorch_lite.interpreters.staging import trace_to_program


def _eager(args: Sequence[Any]) -> bool:
    """True when no transformation is active at all (just call the Python function).
    Checking only ``args`` is not enough: the function may close over a value being
    transformed, and calling it directly would silently bypass the custom rule."""
    return trace_mod.no_transformations() and \
        isinstance(trace_mod.find_top_trace(args), trace_mod.EvalTrace)


def _stage(fun: Callable, leaves, in_tree, name: str):
    out_tree_box = []

    def flat(*xs):
        out = fun(*pytree.tree_unflatten(in_tree, xs))
        out_leaves, out_tree = pytree.tree_flatten(out)
        out_tree_box.append(out_tree)
        return out_leaves

    closed = trace_to_program(flat, [get_aval(x) for x in leaves], description=name)
    program, consts = close_over_consts(closed)
    return program, consts, out_tree_box[0]


def _resolve_nondiff(args, nondiff_argnums):
    """Split ``args`` into the static (nondiff) ones and the differentiable ones."""
    nondiff = {i: args[i] for i in nondiff_argnums}
    diff = [a for i, a in enumerate(args) if i not in nondiff]
    return nondiff, diff


def _merge(nondiff: dict, diff: Sequence[Any]) -> list:
    it = iter(diff)
    n = len(nondiff) + len(diff)
    return [nondiff[i] if i in nondiff else next(it) for i in range(n)]


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
        raise TypeError(f"a {kind}-decorated function closed over a value that is being "
                        "differentiated; pass it as an explicit argument instead")


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
    p_dims = list(dims[num_consts:])

    def batched_jvp(primals, tangents):
        # A tangent has the same layout as its primal, so both use the primal's batch dim.
        def one(p, t):
            out, tout = jvp(list(p), list(t))
            return list(out), list(tout)
        return _vmap_call(one, axis, (list(primals), list(tangents)), (p_dims, p_dims))

    outs = custom_jvp_call_p.bind(*consts, *args, call=prog, jvp=batched_jvp,
                                  num_consts=len(consts) + num_consts)
    return outs, list(out_dims)


def _vmap_call(fn, axis, args, in_dims):
    """Apply ``fn`` under a fresh batch trace with the given dims; outputs at dim 0."""
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


custom_jvp_call_p.def_batch(_custom_jvp_batch)


class _CustomRule:
    """What custom_jvp and custom_vjp share: the wrapped function, its non-differentiable
    arguments, method binding, and staging the function for a transformation."""

    def __init__(self, fun: Callable, nondiff_argnums: Sequence[int] = ()):
        self.fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)
        functools.update_wrapper(self, fun, updated=())

    def __get__(self, obj, objtype=None):
        return self if obj is None else functools.partial(self, obj)

    def _stage_call(self, args: tuple, kind: str):
        """None when no transformation is active (call ``fun`` directly); else
        ``(nondiff, diff, leaves, in_tree, program, consts, out_tree)``: the
        non-differentiable arguments by position, the differentiable ones (also
        flattened), and ``fun`` staged on them."""
        nondiff, diff = _resolve_nondiff(args, self.nondiff_argnums)
        leaves, in_tree = pytree.tree_flatten(tuple(diff))
        if _eager(leaves):
            return None

        def f_diff(*d):
            return self.fun(*_merge(nondiff, d))

        program, consts, out_tree = _stage(f_diff, leaves, in_tree,
                                           f"{kind}({self.__name__})")
        return nondiff, diff, leaves, in_tree, program, consts, out_tree


class custom_jvp(_CustomRule):
    """Give ``fun`` a custom forward-mode derivative rule (reverse mode follows from it).

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

    def __call__(self, *args):
        if self.jvp is None:
            raise AttributeError(f"No JVP defined for custom_jvp function "
                                 f"{getattr(self.fun, '__name__', self.fun)} using defjvp.")
        staged = self._stage_call(args, "custom_jvp")
        if staged is None:
            return self.fun(*args)
        nondiff, diff, leaves, in_tree, program, consts, out_tree = staged
        user_jvp = self.jvp
        nondiff_vals = [nondiff[i] for i in sorted(nondiff)]

        def flat_jvp(primal_leaves, tangent_leaves):
            primals = pytree.tree_unflatten(in_tree, primal_leaves)
            tangents = pytree.tree_unflatten(in_tree, tangent_leaves)
            # As in JAX: ``jvp(*nondiff_args, primals, tangents)``, where primals and
            # tangents hold only the differentiable arguments.
            res = user_jvp(*nondiff_vals, tuple(primals), tuple(tangents))
            if not (isinstance(res, (tuple, list)) and len(res) == 2):
                raise TypeError(f"custom_jvp rule of {self.__name__} must return a pair "
                                f"(primal_out, tangent_out), got {type(res).__name__}")
            out, tout = res
            out_l, o_tree = pytree.tree_flatten(out)
            tout_l, t_tree = pytree.tree_flatten(tout)
            if o_tree != out_tree or t_tree != out_tree:
                raise TypeError(f"custom_jvp rule of {self.__name__} must return (primal_out, "
                                f"tangent_out) with the function's output structure "
                                f"{out_tree}; got {o_tree} and {t_tree}")
            for i, (o, t) in enumerate(zip(out_l, tout_l)):
                expect = ad.tangent_aval(get_aval(o))
                got = get_aval(t)
                if got.shape != expect.shape or (
                        got.dtype != expect.dtype and expect.dtype != dtypes.float0):
                    raise TypeError(f"custom_jvp rule of {self.__name__} must produce primal "
                                    f"and tangent outputs of corresponding shapes and dtypes; "
                                    f"output {i} is {get_aval(o).str_short()} but its "
                                    f"tangent is {got.str_short()} (expected "
                                    f"{expect.str_short()})")
            return out_l, tout_l

        outs = custom_jvp_call_p.bind(*consts, *leaves, call=program, jvp=flat_jvp,
                                      num_consts=len(consts))
        return pytree.tree_unflatten(out_tree, outs)


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


def _custom_vjp_batch(axis, args, dims, *, call, fwd, bwd, num_consts):
    prog, consts, out_dims = batch_program(call, tuple(dims), axis.size, axis.name,
                                           all_batched=True)
    p_dims = list(dims[num_consts:])

    def batched_fwd(primals):
        return _vmap_call(lambda p: tuple(fwd(list(p))), axis, (primals,), (p_dims,))

    def batched_bwd(residuals, cts):
        cts_in = _vmap_bwd(bwd, axis, residuals, cts, [0] * len(residuals), [0] * len(cts))
        # Inputs that were not batched get the sum over the batch of their cotangents.
        from functorch_lite import lax
        out = []
        for ct, d in zip(cts_in, p_dims):
            if type(ct) is ad.Zero:
                out.append(ct if d is None else _batched_zero(ct, d, axis.size))
            elif d is None:
                out.append(lax.reduce_sum(ct, (0,)))
            else:
                out.append(batching.move_dim(ct, 0, d, axis.size))
        return out

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

    def __call__(self, *args):
        if self.fwd is None:
            raise AttributeError(f"No VJP defined for custom_vjp function "
                                 f"{getattr(self.fun, '__name__', self.fun)} using defvjp.")
        staged = self._stage_call(args, "custom_vjp")
        if staged is None:
            return self.fun(*args)
        nondiff, diff, leaves, in_tree, program, consts, out_tree = staged
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
            if o_tree != out_tree:
                raise TypeError(f"custom_vjp fwd of {name} returned output structure "
                                f"{o_tree}, but the function returns {out_tree}")
            res_l, res_tree = pytree.tree_flatten(residuals)
            res_tree_box[:] = [res_tree]
            return out_l, res_l

        def flat_bwd(res_leaves, ct_leaves):
            residuals = pytree.tree_unflatten(res_tree_box[0], res_leaves)
            cts = pytree.tree_unflatten(out_tree, ct_leaves)
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

        outs = custom_vjp_call_p.bind(*consts, *leaves, call=program, fwd=flat_fwd,
                                      bwd=flat_bwd, num_consts=len(consts))
        return pytree.tree_unflatten(out_tree, outs)




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
