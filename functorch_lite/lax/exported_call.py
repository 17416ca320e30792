"""``call_exported``: the primitive that calls an exported program (``fl.export``).

Its one param, ``exported``, is an ``Exported``: a StableHLO module with the types of its
flat inputs and outputs (``in_avals``, ``out_avals``) and the pytree of ``(args, kwargs)``
it was exported for (``in_tree``, used here only to name an argument in an error). The
lowering (``xla_bridge/lowering/exported_call.py``) pastes the module's functions into the
calling module and calls its ``main``.

The module is opaque to the transformations: reverse mode goes through the VJP exported
with it (``Exported.call`` wraps this primitive in ``custom_vjp``), forward mode is not
available (as in JAX), and ``vmap`` runs it once per element in a loop (JAX has no rule).
"""
from __future__ import annotations

from typing import Any, Sequence

from functorch_lite.core import pytree
from functorch_lite.core.avals import ShapedArray
from functorch_lite.core.primitive import Primitive
from functorch_lite.interpreters import batching
from functorch_lite.lax.control_flow import scan

call_exported_p = Primitive("call_exported", multiple_results=True)


def argument_label(in_tree, index: int) -> str:
    """``args[0]['w']`` / ``kwargs['y']``: where flat input ``index`` sits in the
    ``(args, kwargs)`` tree of an exported function (JAX's spelling in its errors)."""
    paths = pytree.tree_flatten_with_path(
        pytree.tree_unflatten(in_tree, [0] * in_tree.num_leaves))[0]
    path = paths[index][0]
    head = "args" if path and getattr(path[0], "idx", 0) == 0 else "kwargs"
    return head + pytree.keystr(path[1:])


def check_call_avals(exported: Any, avals: Sequence[ShapedArray]) -> None:
    """A ValueError naming the argument whose rank, dtype or shape differs from what
    ``exported`` was exported for."""
    if len(avals) != len(exported.in_avals):
        raise ValueError(f"Function {exported.fun_name!r} was exported for "
                         f"{len(exported.in_avals)} arrays and is called with {len(avals)}")
    for i, (want, got) in enumerate(zip(exported.in_avals, avals)):
        if len(want.shape) != len(got.shape):
            raise ValueError(f"Rank mismatch for {argument_label(exported.in_tree, i)}: "
                             f"expected {want.shape} and called with {got.shape}")
        if want.dtype != got.dtype:
            raise ValueError(f"Dtype mismatch for {argument_label(exported.in_tree, i)}: "
                             f"expected {want.dtype} and called with {got.dtype}")
        for d, (w, g) in enumerate(zip(want.shape, got.shape)):
            if w != g:
                raise ValueError(
                    f"Shape mismatch for {argument_label(exported.in_tree, i)}.shape[{d}] "
                    f"(expected same constant): expected {want.shape} and called with "
                    f"{got.shape}")


@call_exported_p.def_shape
def _call_exported_shape(*avals, exported):
    check_call_avals(exported, avals)
    return list(exported.out_avals)


@call_exported_p.def_jvp
def _call_exported_jvp(primals, tangents, *, exported):
    # Exported.call differentiates through custom_vjp, whose forward-mode error comes first;
    # this is reached only by binding the primitive directly.
    raise TypeError(f"can't apply forward-mode autodiff (jvp) to the exported function "
                    f"{exported.fun_name!r}: only reverse mode (grad, vjp) is available, "
                    "through the VJP serialized with it")


@call_exported_p.def_batch
def _call_exported_batch(axis, args, dims, *, exported):
    # The module has fixed shapes: run it once per element.
    size = axis.size
    batched = [d is not None for d in dims]
    moved = [batching.bdim_at_front(a, d, size) for a, d in zip(args, dims) if d is not None]

    def one(carry, elements):
        it = iter(elements)
        full = [next(it) if b else a for a, b in zip(args, batched)]
        return carry, call_exported_p.bind(*full, exported=exported)
    _, outs = scan(one, None, moved)
    return list(outs), [0] * len(exported.out_avals)
