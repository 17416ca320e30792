"""``stop_gradient``: the identity whose derivative is zero."""
from __future__ import annotations

from typing import Any

from functorch_lite.core.primitive import Primitive
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
    from functorch_lite.core import pytree
    leaves, tree = pytree.tree_flatten(x)
    return pytree.tree_unflatten(tree, [stop_gradient_p.bind(as_operand(l)) for l in leaves])


# ---------------------------------------------------------------------------------------
# Derivative and batching rules: the derivative is zero by definition; batching passes the
# batch axis through.

from functorch_lite.interpreters import ad  # noqa: E402

ad.zero_jvp(stop_gradient_p)


@stop_gradient_p.def_batch
def _stop_gradient_batch(axis, args, dims):
    (x,), (d,) = args, dims
    return stop_gradient_p.bind(x), d
