"""``stop_gradient``: the identity whose derivative is zero; ``name``: the identity that
labels a value for checkpoint policies."""
from __future__ import annotations

from typing import Any

from functorch_lite.core import pytree
from functorch_lite.core.primitive import Primitive
from functorch_lite.interpreters import ad
from functorch_lite.lax._common import as_operand

__all__ = ["stop_gradient"]

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
