"""``stop_gradient``: the identity whose derivative is zero; ``name``: the identity that
labels a value for checkpoint policies; ``optimization_barrier``: the identity that XLA may
not see through."""
from __future__ import annotations

from typing import Any

from functorch_lite.core import pytree
from functorch_lite.core.primitive import Primitive
from functorch_lite.interpreters import ad
from functorch_lite.lax._common import as_operand

__all__ = ["stop_gradient", "optimization_barrier"]

stop_gradient_p = Primitive("stop_gradient")
stop_gradient_p.non_differentiable = True


@stop_gradient_p.def_shape
def _stop_gradient_shape(x):
    return x


def stop_gradient(x: Any):
    """Return ``x`` unchanged, but treat it as a constant under differentiation.

    Applies to every array leaf of a pytree ``x``."""
    leaves, tree = pytree.tree_flatten(x)
    return pytree.tree_unflatten(tree, [stop_gradient_p.bind(as_operand(l)) for l in leaves])


# ---------------------------------------------------------------------------------------
# Derivative and batching rules: the derivative is zero by definition; batching passes the
# batch axis through.

ad.zero_jvp(stop_gradient_p)


@stop_gradient_p.def_batch
def _stop_gradient_batch(axis, args, dims):
    (x,), (d,) = args, dims
    return stop_gradient_p.bind(x), d


# ---------------------------------------------------------------------------------------
# ``name``: the identity, carrying a label that checkpoint policies can see
# (``ad_checkpoint.checkpoint_name``; ``save_only_these_names`` saves exactly the values so
# labelled). It stays in staged programs so the policy meets it; XLA sees nothing.

name_p = Primitive("name")


@name_p.def_shape
def _name_shape(x, *, name: str):
    return x


@name_p.def_impl
def _name_impl(x, *, name: str):
    return x


@name_p.def_jvp
def _name_jvp(primals, tangents, *, name: str):
    # Only the primal is labelled: a policy decides about values the forward pass computes,
    # and a tangent is never one of those.
    (x,), (t,) = primals, tangents
    return name_p.bind(x, name=name), t


# The identity is its own transpose; a labelled tangent (only built by hand) keeps working.
name_p.def_transpose(lambda ct, x, *, name: [ct])


@name_p.def_batch
def _name_batch(axis, args, dims, *, name: str):
    (x,), (d,) = args, dims
    return name_p.bind(x, name=name), d


# ---------------------------------------------------------------------------------------
# ``optimization_barrier``: the identity on a group of values, which XLA must treat as
# opaque. Nothing computed from the outputs can be moved before the barrier, nor anything
# the inputs need after it, and no value is merged across it (JAX's
# ``lax.optimization_barrier``; StableHLO's op of that name).

optimization_barrier_p = Primitive("optimization_barrier", multiple_results=True)


@optimization_barrier_p.def_shape
def _optimization_barrier_shape(*avals):
    return list(avals)


def optimization_barrier(operand: Any):
    """Return ``operand`` (a pytree of arrays) unchanged, as one group that XLA's
    optimizations cannot look through: for example, work that depends on the outputs is
    not scheduled before all of the inputs are ready, and a recomputation placed after the
    barrier is not merged with an earlier copy of it. Differentiable (the tangents and
    cotangents pass through barriers of their own) and batchable.

    >>> a, b = lax.optimization_barrier((x * 2, y + 1))
    """
    leaves, tree = pytree.tree_flatten(operand)
    if not leaves:
        return operand
    outs = optimization_barrier_p.bind(*[as_operand(leaf) for leaf in leaves])
    return pytree.tree_unflatten(tree, outs)


def _barrier_nonzero(values):
    """A barrier over the values that are not symbolic zeros (those pass as they are)."""
    live = [i for i, v in enumerate(values) if type(v) is not ad.Zero]
    out = list(values)
    if live:
        for i, v in zip(live, optimization_barrier_p.bind(*[values[i] for i in live])):
            out[i] = v
    return out


@optimization_barrier_p.def_jvp
def _optimization_barrier_jvp(primals, tangents):
    # Two barriers, not one over both: linearization then keeps the primal barrier in the
    # forward pass and the tangent barrier (linear) in the backward pass.
    return optimization_barrier_p.bind(*primals), _barrier_nonzero(list(tangents))


def _optimization_barrier_transpose(cts, *args):
    return _barrier_nonzero(list(cts))


optimization_barrier_p.def_transpose(_optimization_barrier_transpose)


@optimization_barrier_p.def_batch
def _optimization_barrier_batch(axis, args, dims):
    return optimization_barrier_p.bind(*args), list(dims)
