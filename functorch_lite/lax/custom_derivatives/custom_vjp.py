"""``custom_vjp``: a function with user-defined ``fwd``/``bwd`` rules for reverse mode.

Differentiation runs ``fwd`` for the outputs and residuals and emits ``custom_lin``, a
linear primitive whose transpose is ``bwd``. Evaluating ``custom_lin`` without
transposing it (pure forward mode) is an error, as in JAX. Staging binds
``custom_vjp_call``, which carries the function as a program and the rules as params.
"""
from __future__ import annotations

from typing import Callable, Sequence

from functorch_lite.core import dtypes, pytree
from functorch_lite.core.avals import get_aval
from functorch_lite.core.ir import Program, eval_program
from functorch_lite.core.primitive import Primitive
from functorch_lite.interpreters import ad, batching
from functorch_lite.interpreters.custom_calls import apply_custom_call
from functorch_lite.interpreters.staging import trace_flat
from functorch_lite.lax.custom_derivatives._common import (CustomRule, CustomVJPPrimal,
                                                           SymbolicZero, batched_vjp_rules,
                                                           batched_zero, check_no_const_tangents,
                                                           merge_nondiff, record_out_tree,
                                                           to_user_zeros, vmap_bwd)

custom_vjp_call_p = Primitive("custom_vjp_call", multiple_results=True)


@custom_vjp_call_p.def_shape
def _custom_vjp_shape(*avals, call: Program, fwd: Callable, bwd: Callable, num_consts: int):
    return call.out_avals


@custom_vjp_call_p.def_impl
def _custom_vjp_impl(*args, call, fwd, bwd, num_consts):
    return eval_program(call, [], args)


def _custom_vjp_jvp(primals, tangents, *, call, fwd, bwd, num_consts):
    check_no_const_tangents("custom_vjp", tangents, num_consts)
    primals = primals[num_consts:]
    tangents = tangents[num_consts:]
    outs, residuals = fwd(list(primals), [type(t) is not ad.Zero for t in tangents])
    out_avals = tuple(ad.tangent_aval(get_aval(o)) for o in outs)
    tangents = [ad.instantiate(t) for t in tangents]
    tangents_out = custom_lin_p.bind(*residuals, *tangents, num_res=len(residuals),
                                     bwd=bwd, out_avals=out_avals)
    return list(outs), list(tangents_out)


custom_vjp_call_p.def_jvp(_custom_vjp_jvp)


def _custom_vjp_batch(axis, args, dims, *, call, fwd, bwd, num_consts):
    prog, consts, out_dims = batching.batch_program(call, tuple(dims), axis.size, axis.name,
                                                    all_batched=True)
    batched_fwd, batched_bwd = batched_vjp_rules(fwd, bwd, axis, dims[num_consts:])
    outs = custom_vjp_call_p.bind(*consts, *args, call=prog, fwd=batched_fwd, bwd=batched_bwd,
                                  num_consts=len(consts) + num_consts)
    return outs, list(out_dims)


custom_vjp_call_p.def_batch(_custom_vjp_batch)


custom_lin_p = Primitive("custom_lin", multiple_results=True)


@custom_lin_p.def_shape
def _custom_lin_shape(*avals, num_res, bwd, out_avals):
    return list(out_avals)


def _forward_mode_error(*args, **params):
    raise TypeError("can't apply forward-mode autodiff (jvp) to a custom_vjp function.")


custom_lin_p.def_impl(_forward_mode_error)


def _custom_lin_jvp(primals, tangents, *, num_res, bwd, out_avals):
    # Linear in its non-residual operands: the tangent is the same map applied to their
    # tangents (residuals must not carry tangents).
    check_no_const_tangents("custom_vjp", tangents, num_res)
    outs = custom_lin_p.bind(*primals, num_res=num_res, bwd=bwd, out_avals=out_avals)
    touts = custom_lin_p.bind(*primals[:num_res],
                              *[ad.instantiate(t) for t in tangents[num_res:]],
                              num_res=num_res, bwd=bwd, out_avals=out_avals)
    return outs, touts


custom_lin_p.def_jvp(_custom_lin_jvp)


def _custom_lin_transpose(cts, *args, num_res, bwd, out_avals):
    residuals = args[:num_res]
    # Zero cotangents stay symbolic here: the rule decides (see ``symbolic_zeros``).
    cts_in = bwd(list(residuals), list(cts))
    return [None] * num_res + list(cts_in)


custom_lin_p.def_transpose(_custom_lin_transpose)


def _custom_lin_batch(axis, args, dims, *, num_res, bwd, out_avals):
    res_dims = list(dims[:num_res])

    def batched_bwd(residuals, cts):
        # The linear operands are all batched at 0 below, so their cotangents are too.
        cts_in = vmap_bwd(bwd, axis, residuals, cts, res_dims, [0] * len(cts))
        return [batched_zero(c, 0, axis.size) if type(c) is ad.Zero else c for c in cts_in]

    args = list(args)
    for i in range(num_res, len(args)):
        args[i] = batching.move_dim(args[i], dims[i], 0, axis.size)
    batched_avals = tuple(a.update(shape=(axis.size, *a.shape)) for a in out_avals)
    outs = custom_lin_p.bind(*args, num_res=num_res, bwd=batched_bwd, out_avals=batched_avals)
    return outs, [0] * len(outs)


custom_lin_p.def_batch(_custom_lin_batch)


class _VJPCall:
    """A custom_vjp function applied to flat arguments: ``fun``, ``fwd(primals, perturbed)
    -> (outs, residuals)`` and ``bwd(residuals, cts) -> input cotangents``, all flat lists
    (zero cotangents arrive as ``ad.Zero``)."""

    kind = "custom_vjp"

    def __init__(self, name: str, fun: Callable, fwd: Callable, bwd: Callable):
        self.name, self.fun, self.fwd, self.bwd = name, fun, fwd, bwd

    def differentiate(self, primals, tangents):
        return _custom_vjp_jvp(primals, tangents, call=None, fwd=self.fwd, bwd=self.bwd,
                               num_consts=0)

    def stage(self, args) -> list:
        program, consts = trace_flat(self.fun, [get_aval(a) for a in args],
                                     f"custom_vjp({self.name})")
        return custom_vjp_call_p.bind(*consts, *args, call=program, fwd=self.fwd,
                                      bwd=self.bwd, num_consts=len(consts))


def _check_bwd_cotangent(name, k, ct, aval):
    """A user's cotangent for an argument of type ``aval``: ``Zero`` for None (and for
    integer arguments, which have no cotangent); otherwise it must have the argument's
    shape."""
    t_aval = ad.tangent_aval(aval)
    if ct is None or type(ct) in (ad.Zero, SymbolicZero) or t_aval.dtype == dtypes.float0:
        return ad.Zero(t_aval)
    c_aval = get_aval(ct)
    if c_aval.shape != aval.shape:
        raise ValueError(f"custom_vjp bwd of {name} must produce cotangents with the shapes "
                         f"of the primal arguments: cotangent {k} has shape {c_aval.shape}, "
                         f"but its argument is {aval.str_short()}")
    return ct


class custom_vjp(CustomRule):
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
        self.symbolic_zeros = False

    def defvjp(self, fwd: Callable, bwd: Callable, symbolic_zeros: bool = False) -> None:
        """``fwd(*args) -> (output, residuals)``; ``bwd(residuals, output_cotangent) ->``
        one cotangent per differentiable argument (None for zero). With
        ``symbolic_zeros=True``, ``fwd`` gets each array argument as a ``CustomVJPPrimal``
        (its ``value``, and whether it is ``perturbed``), and ``bwd`` gets a
        ``SymbolicZero`` for an output cotangent that is zero."""
        self.fwd = fwd
        self.bwd = bwd
        self.symbolic_zeros = bool(symbolic_zeros)

    def __call__(self, *args, **kwargs):
        if self.fwd is None:
            raise AttributeError(f"No VJP defined for custom_vjp function "
                                 f"{getattr(self.fun, '__name__', self.fun)} using defvjp.")
        nondiff, diff, leaves, in_tree, flat_fun, out_tree = self._flatten_call(args, kwargs)
        name = self.__name__
        user_fwd, user_bwd, symbolic = self.fwd, self.bwd, self.symbolic_zeros
        nondiff_vals = [nondiff[i] for i in sorted(nondiff)]
        res_tree_box = []

        def flat_fwd(primal_leaves, perturbed):
            if symbolic:
                primal_leaves = [CustomVJPPrimal(v, p) for v, p in zip(primal_leaves, perturbed)]
            primals = pytree.tree_unflatten(in_tree, primal_leaves)
            res = user_fwd(*merge_nondiff(nondiff, primals))
            if not (isinstance(res, tuple) and len(res) == 2):
                raise TypeError(f"custom_vjp fwd of {name} must return a pair (output, "
                                f"residuals), got {type(res).__name__}")
            out, residuals = res
            out_l, o_tree = pytree.tree_flatten(out)
            record_out_tree(out_tree, o_tree, name, "custom_vjp fwd")
            res_l, res_tree = pytree.tree_flatten(residuals)
            res_tree_box[:] = [res_tree]
            return out_l, res_l

        def flat_bwd(res_leaves, ct_leaves):
            residuals = pytree.tree_unflatten(res_tree_box[0], res_leaves)
            cts = pytree.tree_unflatten(out_tree[0], to_user_zeros(ct_leaves, symbolic))
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

        outs = apply_custom_call(_VJPCall(name, flat_fun, flat_fwd, flat_bwd), leaves)
        return pytree.tree_unflatten(out_tree[0], outs)
