"""What ``custom_jvp`` and ``custom_vjp`` share: the wrapper class (non-differentiable
arguments, keyword resolution, flattening a call), and running the user's rules batched
when a staged call meets ``vmap`` (they run later, under a fresh vmap of the same axis)."""
from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, Sequence

from functorch_lite.core import pytree
from functorch_lite.core.avals import get_aval
from functorch_lite.interpreters import ad, batching
from functorch_lite.interpreters.custom_calls import closure_error
from functorch_lite.lax.reductions import reduce_sum


class SymbolicZero:
    """A zero tangent or cotangent that is known to be zero, handed to the rules of a
    ``custom_jvp``/``custom_vjp`` defined with ``symbolic_zeros=True`` (JAX's
    ``jax.custom_derivatives.SymbolicZero``) in place of an array of zeros, so a rule can
    skip work for inputs that are not perturbed. A rule may return one too.
    It has the shape and dtype of the array it stands for (``aval``, ``shape``, ``dtype``,
    ``ndim``, ``size``) and ``instantiate()`` makes that array."""

    __slots__ = ("aval",)

    def __init__(self, aval):
        self.aval = aval

    shape = property(lambda self: self.aval.shape)
    dtype = property(lambda self: self.aval.dtype)
    ndim = property(lambda self: self.aval.ndim)
    size = property(lambda self: self.aval.size)

    @staticmethod
    def from_primal_value(x: Any) -> "SymbolicZero":
        """The symbolic zero tangent of the value ``x``."""
        return SymbolicZero(ad.tangent_aval(get_aval(x)))

    def instantiate(self):
        return ad.zeros_like_aval(self.aval)

    def __repr__(self) -> str:
        return f"SymbolicZero({self.aval.str_short()})"


class CustomVJPPrimal:
    """An argument of a ``custom_vjp`` forward rule defined with ``symbolic_zeros=True``:
    the primal ``value`` and whether it is ``perturbed`` (has a nonzero tangent), as JAX's
    ``jax.custom_derivatives.CustomVJPPrimal``."""

    __slots__ = ("value", "perturbed")

    def __init__(self, value: Any, perturbed: bool):
        self.value, self.perturbed = value, perturbed

    def __repr__(self) -> str:
        return f"CustomVJPPrimal(value={self.value!r}, perturbed={self.perturbed})"


def custom_vjp_primal_tree_values(tree: Any) -> Any:
    """``tree`` with each ``CustomVJPPrimal`` leaf replaced by its value."""
    def value(leaf):
        if type(leaf) is not CustomVJPPrimal:
            raise TypeError(f"custom_vjp_primal_tree_values: expected CustomVJPPrimal leaves, "
                            f"got {type(leaf).__name__}")
        return leaf.value
    return pytree.tree_map(value, tree)


def to_user_zeros(xs: Sequence[Any], symbolic: bool) -> list:
    """Internal zeros (``ad.Zero``) as a rule sees them: ``SymbolicZero`` with
    ``symbolic_zeros=True``, else arrays of zeros."""
    if symbolic:
        return [SymbolicZero(x.aval) if type(x) is ad.Zero else x for x in xs]
    return [ad.instantiate(x) for x in xs]


def from_user_zeros(xs: Sequence[Any]) -> list:
    """A rule's ``SymbolicZero`` outputs as internal zeros."""
    return [ad.Zero(x.aval) if type(x) is SymbolicZero else x for x in xs]


def resolve_nondiff(args, nondiff_argnums):
    """Split ``args`` into the static (nondiff) ones and the differentiable ones."""
    nondiff = {i: args[i] for i in nondiff_argnums}
    diff = [a for i, a in enumerate(args) if i not in nondiff]
    return nondiff, diff


def merge_nondiff(nondiff: dict, diff: Sequence[Any]) -> list:
    it = iter(diff)
    n = len(nondiff) + len(diff)
    return [nondiff[i] if i in nondiff else next(it) for i in range(n)]


def record_out_tree(box: list, tree, name: str, who: str) -> None:
    """The first of the function and its rules to run fixes the output structure; the
    others must agree with it."""
    if not box:
        box.append(tree)
    elif box[0] != tree:
        raise TypeError(f"{who} of {name} returned output structure {tree}, but the function "
                        f"returns {box[0]}; the function and its rules must return the same "
                        f"structure")


def check_no_const_tangents(kind, tangents, num_consts):
    if any(type(t) is not ad.Zero for t in tangents[:num_consts]):
        raise closure_error(kind)


class CustomRule:
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
        nondiff, diff = resolve_nondiff(args, self.nondiff_argnums)
        leaves, in_tree = pytree.tree_flatten(tuple(diff))
        box: list = []
        fun, name = self.fun, self.__name__

        def flat_fun(*xs):
            out = fun(*merge_nondiff(nondiff, pytree.tree_unflatten(in_tree, xs)))
            out_leaves, out_tree = pytree.tree_flatten(out)
            record_out_tree(box, out_tree, name, "the function")
            return out_leaves
        return nondiff, diff, leaves, in_tree, flat_fun, box


def batched_jvp_rule(jvp, axis, p_dims):
    """A flat jvp rule run batched; a tangent has its primal's layout, so its batch dim."""
    p_dims = list(p_dims)

    def batched_jvp(primals, tangents):
        def one(p, t):
            out, tout = jvp(list(p), list(t))
            return list(out), [ad.instantiate(t) for t in tout]
        tangents = [ad.instantiate(t) for t in tangents]  # (symbolic zeros end at a vmap)
        return batching.batch_pytree(one, axis, (list(primals), list(tangents)),
                                     (p_dims, p_dims))
    return batched_jvp


def batched_vjp_rules(fwd, bwd, axis, p_dims):
    """Flat fwd and bwd run batched: residuals and output cotangents at dim 0, input
    cotangents at their inputs' batch dims (summed over the batch for unbatched inputs)."""
    p_dims = list(p_dims)

    def batched_fwd(primals, perturbed):
        return batching.batch_pytree(lambda p: tuple(fwd(list(p), perturbed)), axis,
                                     (list(primals),), (p_dims,))

    def batched_bwd(residuals, cts):
        cts_in = vmap_bwd(bwd, axis, residuals, cts, [0] * len(residuals), [0] * len(cts))
        out = []
        for ct, d in zip(cts_in, p_dims):
            if type(ct) is ad.Zero:
                out.append(ct if d is None else batched_zero(ct, d, axis.size))
            elif d is None:
                out.append(reduce_sum(ct, (0,)))
            else:
                out.append(batching.move_dim(ct, 0, d, axis.size))
        return out
    return batched_fwd, batched_bwd


def vmap_bwd(bwd, axis, residuals, cts, res_dims, ct_dims) -> list:
    """vmap of a flat user ``bwd`` over (residuals, cts): each input's cotangent batched at
    dim 0, or the (per-example) ``Zero`` the rule returned, kept symbolic."""
    cts = [ad.instantiate(c) for c in cts]  # (symbolic zeros end at a vmap)
    zeros: list = []

    def one(r, c):
        outs = list(bwd(list(r), list(c)))
        zeros[:] = [o if type(o) is ad.Zero else None for o in outs]
        return [o for o in outs if type(o) is not ad.Zero]

    nonzero = iter(batching.batch_pytree(one, axis, (list(residuals), list(cts)),
                                         (list(res_dims), list(ct_dims))))
    return [next(nonzero) if z is None else z for z in zeros]


def batched_zero(z, dim: int, size: int):
    shape = list(z.aval.shape)
    shape.insert(dim, size)
    return ad.Zero(z.aval.update(shape=tuple(shape)))
