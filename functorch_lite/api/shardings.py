"""``jit`` over many devices: which calls run as one program partitioned over a mesh, and
the per-leaf shardings of their inputs and outputs.

A call goes this way when ``jit`` was given ``in_shardings``/``out_shardings``, when an
argument is laid out over a mesh (``device_put(x, NamedSharding(...))``), or when the
program pins a layout (``with_sharding_constraint``). Every input then has a sharding over
that one mesh: the one ``in_shardings`` gives, else the argument's own, else replicated;
an output has the one ``out_shardings`` gives, else the one XLA's partitioner chose.
"""
from __future__ import annotations

from typing import Any, Sequence

from functorch_lite.core import pytree
from functorch_lite.core.avals import get_aval
from functorch_lite.core.ir import Program, programs_in
from functorch_lite.core.sharding import (Mesh, NamedSharding, PartitionSpec, Sharding,
                                          SingleDeviceSharding)
from functorch_lite.lax.sharding import sharding_constraint_p


def _is_sharding_leaf(x: Any) -> bool:
    return x is None or isinstance(x, (Sharding, PartitionSpec))


def check_sharding_option(name: str, value: Any) -> None:
    """TypeError unless ``value`` (``in_shardings``/``out_shardings``) is a pytree of
    shardings (or None)."""
    for leaf in pytree.tree_leaves(value, is_leaf=_is_sharding_leaf):
        if leaf is not None and not isinstance(leaf, Sharding):
            raise TypeError(f"jit: {name} must hold Sharding objects (NamedSharding(mesh, "
                            f"spec)) or None, got {type(leaf).__name__}: {leaf!r}")


class _Described:
    """A leaf shown by its type in error messages (not by its values)."""

    def __init__(self, x: Any):
        try:
            self.text = get_aval(x).str_short()
        except TypeError:
            self.text = type(x).__name__

    def __repr__(self) -> str:
        return self.text


def _per_leaf(option: Any, tree_like: Any, what: str, fun_name: str) -> list:
    if isinstance(option, Sharding):
        return [option] * len(pytree.tree_leaves(tree_like))
    described = pytree.tree_map(_Described, tree_like)
    try:
        return pytree.broadcast_prefix(option, described, is_leaf=_is_sharding_leaf)
    except ValueError as e:
        raise ValueError(f"jit({fun_name}): {what} does not match the structure of the "
                         f"{'arguments' if what == 'in_shardings' else 'outputs'}: "
                         f"{e}") from None


def in_shardings_per_leaf(fun_name: str, in_shardings: Any, dyn_args: tuple,
                          dyn_kwargs: dict, leaves: Sequence[Any],
                          labels: Sequence[str]) -> list:
    """One sharding (or None) per argument leaf; ``in_shardings`` covers the positional
    arguments (a single sharding: all of them), keyword arguments take their own."""
    given = [None] * len(leaves)
    if in_shardings is not None:
        positional = _per_leaf(in_shardings, tuple(dyn_args), "in_shardings", fun_name)
        given[:len(positional)] = positional
    out, first = [], None
    for s, x, label in zip(given, leaves, labels):
        if s is None and is_sharded(x):
            s = x.sharding
        if isinstance(s, NamedSharding):
            s.check_shape(getattr(x, "shape", ()), f"jit({fun_name}) argument {label}")
        mesh = getattr(s, "mesh", None)
        if mesh is not None:
            if first is None:
                first = (label, x, mesh)
            elif mesh != first[2]:
                raise ValueError(
                    f"jit({fun_name}): incompatible devices: argument {first[0]} "
                    f"({_Described(first[1])!r}) is laid out over {first[2]} with device "
                    f"ids {first[2].device_ids.ravel().tolist()} and argument {label} "
                    f"({_Described(x)!r}) over {mesh} with device ids "
                    f"{mesh.device_ids.ravel().tolist()}; device_put them onto one mesh")
        out.append(s)
    return out


def out_shardings_per_leaf(fun_name: str, out_shardings: Any, out_tree,
                           out_avals: Sequence[Any]) -> list:
    if out_shardings is None:
        return [None] * out_tree.num_leaves
    outs = pytree.tree_unflatten(out_tree, list(range(out_tree.num_leaves)))
    per = _per_leaf(out_shardings, outs, "out_shardings", fun_name)
    for i, (s, a) in enumerate(zip(per, out_avals)):
        if isinstance(s, NamedSharding):
            s.check_shape(a.shape, f"jit({fun_name}) output {i}")
    return per


def program_mesh(program: Program) -> Mesh | None:
    """The mesh a ``with_sharding_constraint`` or a ``shard_map`` inside ``program`` (at
    any depth) names."""
    for eqn in program.eqns:
        if eqn.primitive is sharding_constraint_p:
            s = eqn.params["sharding"]
            if isinstance(s, NamedSharding):
                return s.mesh
        if isinstance(eqn.params.get("mesh"), Mesh):
            return eqn.params["mesh"]
        for sub in programs_in(eqn.params):
            mesh = program_mesh(sub)
            if mesh is not None:
                return mesh
    return None


def is_sharded(x: Any) -> bool:
    """Whether ``x`` is an array laid out over a mesh."""
    s = getattr(x, "sharding", None)
    return isinstance(s, Sharding) and not isinstance(s, SingleDeviceSharding)
