"""``custom_gradient``: a function and its reverse-mode rule in one (TensorFlow's
style), built on ``custom_vjp``."""
from __future__ import annotations

import functools
from typing import Callable

from functorch_lite.core import pytree
from functorch_lite.core.avals import get_aval
from functorch_lite.core.ir import Program, eval_program
from functorch_lite.interpreters import ad
from functorch_lite.interpreters.staging import trace_flat
from functorch_lite.lax.custom_derivatives.custom_vjp import custom_vjp


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
        program, consts = trace_flat(flat_vjp,
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
