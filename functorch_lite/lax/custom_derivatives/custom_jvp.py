"""``custom_jvp``: a function with a user-defined forward-mode rule (reverse mode follows
from it by linearization and transposition).

A call is handed to the active transformations innermost first
(``interpreters.custom_calls``): differentiation calls only the rule; staging binds
``custom_jvp_call``, which carries the function as a program and the rule as a param, so
the rule survives ``jit`` and is used by whichever differentiation comes later.
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
from functorch_lite.lax.custom_derivatives._common import (CustomRule, batched_jvp_rule,
                                                           check_no_const_tangents,
                                                           from_user_zeros, record_out_tree,
                                                           to_user_zeros)

custom_jvp_call_p = Primitive("custom_jvp_call", multiple_results=True)


@custom_jvp_call_p.def_shape
def _custom_jvp_shape(*avals, call: Program, jvp: Callable, num_consts: int):
    return call.out_avals


@custom_jvp_call_p.def_impl
def _custom_jvp_impl(*args, call, jvp, num_consts):
    return eval_program(call, [], args)


def _custom_jvp_rule(primals, tangents, *, call, jvp, num_consts):
    check_no_const_tangents("custom_jvp", tangents, num_consts)
    primals = primals[num_consts:]
    # Zero tangents stay symbolic here: the rule decides (see ``symbolic_zeros``).
    outs, out_tangents = jvp(list(primals), list(tangents[num_consts:]))
    return list(outs), list(out_tangents)


custom_jvp_call_p.def_jvp(_custom_jvp_rule)


def _custom_jvp_batch(axis, args, dims, *, call, jvp, num_consts):
    prog, consts, out_dims = batching.batch_program(call, tuple(dims), axis.size, axis.name,
                                                    all_batched=True)
    outs = custom_jvp_call_p.bind(*consts, *args, call=prog,
                                  jvp=batched_jvp_rule(jvp, axis, dims[num_consts:]),
                                  num_consts=len(consts) + num_consts)
    return outs, list(out_dims)


custom_jvp_call_p.def_batch(_custom_jvp_batch)


class _JVPCall:
    """A custom_jvp function applied to flat arguments: ``fun(*leaves) -> out leaves`` and
    ``rule(primals, tangents) -> (outs, tangents_out)``, all flat lists."""

    kind = "custom_jvp"

    def __init__(self, name: str, fun: Callable, rule: Callable):
        self.name, self.fun, self.rule = name, fun, rule

    def differentiate(self, primals, tangents):
        return _custom_jvp_rule(primals, tangents, call=None, jvp=self.rule, num_consts=0)

    def stage(self, args) -> list:
        program, consts = trace_flat(self.fun, [get_aval(a) for a in args],
                                     f"custom_jvp({self.name})")
        return custom_jvp_call_p.bind(*consts, *args, call=program, jvp=self.rule,
                                      num_consts=len(consts))


class custom_jvp(CustomRule):
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
        self.symbolic_zeros = False

    def defjvp(self, jvp: Callable, symbolic_zeros: bool = False) -> Callable:
        """``jvp(primals, tangents) -> (primal_out, tangent_out)`` (tuples of arguments).
        With ``symbolic_zeros=True`` the tangent of an argument that is not perturbed
        arrives as a ``SymbolicZero`` instead of an array of zeros, and the rule may return
        ``SymbolicZero`` for an output tangent."""
        self.jvp = jvp
        self.symbolic_zeros = bool(symbolic_zeros)
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
        user_jvp, name, symbolic = self.jvp, self.__name__, self.symbolic_zeros
        nondiff_vals = [nondiff[i] for i in sorted(nondiff)]

        def flat_jvp(primal_leaves, tangent_leaves):
            primals = pytree.tree_unflatten(in_tree, primal_leaves)
            tangents = pytree.tree_unflatten(in_tree, to_user_zeros(tangent_leaves, symbolic))
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
            record_out_tree(out_tree, o_tree, name, "custom_jvp rule")
            tout_l = from_user_zeros(tout_l)
            for i, (o, t) in enumerate(zip(out_l, tout_l)):
                expect = ad.tangent_aval(get_aval(o))
                got = t.aval if type(t) is ad.Zero else get_aval(t)
                if got.shape != expect.shape or (
                        got.dtype != expect.dtype and expect.dtype != dtypes.float0):
                    raise TypeError(f"custom_jvp rule of {name} must produce primal "
                                    f"and tangent outputs of corresponding shapes and dtypes; "
                                    f"output {i} is {get_aval(o).str_short()} but its "
                                    f"tangent is {got.str_short()} (expected "
                                    f"{expect.str_short()})")
            # An integer or bool output has no derivative: whatever zeros the rule gave,
            # its tangent is the symbolic zero (as JAX's), so no float0 array flows on.
            tout_l = [ad.Zero(ad.tangent_aval(get_aval(o)))
                      if ad.tangent_aval(get_aval(o)).dtype == dtypes.float0 else t
                      for o, t in zip(out_l, tout_l)]
            return out_l, tout_l

        outs = apply_custom_call(_JVPCall(name, flat_fun, flat_jvp), leaves)
        return pytree.tree_unflatten(out_tree[0], outs)
