"""``with_sharding_constraint``: ask for a value's layout over the mesh in the middle of a
program (XLA's partitioner propagates layouts from the arguments; a constraint pins one
where it matters, e.g. activations after a model-parallel matmul).

A primitive that is the identity on values: eagerly it lays the array out as asked, under
``jit`` it becomes an annotation of the program, its derivative carries the same
constraint to the tangent and its transpose to the cotangent, and ``vmap`` leaves the new
batch dimension unsplit.
"""
from __future__ import annotations

from typing import Any

from functorch_lite.core import pytree
from functorch_lite.core.avals import get_aval
from functorch_lite.core.backend import backend
from functorch_lite.core.primitive import Primitive
from functorch_lite.core.sharding import (NamedSharding, PartitionSpec, Sharding,
                                          current_mesh)
from functorch_lite.interpreters import ad
from functorch_lite.lax._common import as_operand

__all__ = ["with_sharding_constraint"]

sharding_constraint_p = Primitive("sharding_constraint")


@sharding_constraint_p.def_shape
def _shape(x, *, sharding):
    if isinstance(sharding, NamedSharding):
        sharding.check_shape(x.shape, f"with_sharding_constraint on {x.str_short()}")
    return x


@sharding_constraint_p.def_impl
def _impl(x, *, sharding):
    return backend.device_put_sharded(x, sharding)


def _transpose(ct, x, *, sharding):
    return [None if type(ct) is ad.Zero else sharding_constraint_p.bind(ct, sharding=sharding)]


ad.deflinear(sharding_constraint_p, _transpose)


@sharding_constraint_p.def_batch
def _batch(axis, args, dims, *, sharding):
    (x,), (d,) = args, dims
    if d is None or not isinstance(sharding, NamedSharding):
        return sharding_constraint_p.bind(x, sharding=sharding), d
    spec = list(sharding.spec.normalized(get_aval(x).ndim - 1))
    spec.insert(d, None)  # the batch dimension itself is not split
    return sharding_constraint_p.bind(
        x, sharding=NamedSharding(sharding.mesh, PartitionSpec(*spec))), d


def _as_sharding(s: Any, what: str) -> Sharding:
    if isinstance(s, Sharding):
        return s
    if isinstance(s, PartitionSpec):
        mesh = current_mesh()
        if mesh is None:
            raise ValueError(f"{what}: a bare PartitionSpec {s} needs a mesh: pass "
                             "NamedSharding(mesh, spec), or call inside `with mesh:`")
        return NamedSharding(mesh, s)
    raise TypeError(f"{what}: expected a Sharding or PartitionSpec, got {type(s).__name__}")


def with_sharding_constraint(x: Any, shardings: Any):
    """``x`` (a pytree of arrays) laid out as ``shardings`` (one sharding, or a pytree
    prefix of ``x``; a bare ``PartitionSpec`` uses the mesh of ``with mesh:``) say."""
    leaves, tree = pytree.tree_flatten(x)
    try:
        per_leaf = pytree.broadcast_prefix(shardings, x, is_leaf=lambda s: isinstance(
            s, (Sharding, PartitionSpec)))
    except ValueError as e:
        raise ValueError(f"with_sharding_constraint: the shardings do not match the "
                         f"structure of x: {e}") from None
    outs = [sharding_constraint_p.bind(as_operand(leaf), sharding=_as_sharding(
        s, "with_sharding_constraint")) for leaf, s in zip(leaves, per_leaf)]
    return pytree.tree_unflatten(tree, outs)
