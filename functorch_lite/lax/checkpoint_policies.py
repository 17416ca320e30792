"""Checkpoint policies: which intermediate values ``checkpoint`` may save for the backward
pass instead of recomputing them (JAX's ``jax.checkpoint_policies``, same names and
behaviour).

A policy is called once per equation of the forward (primal) computation inside the
checkpointed function, the way JAX calls it: ``policy(primitive, *input_avals, **params)``.
It answers ``True``/``Saveable`` (keep the outputs if the backward pass needs them),
``False``/``Recompute`` (recompute them from saved values), or ``Offloadable(src, dst)``.

Offloading to host memory is not implemented: an ``Offloadable`` answer *saves* the value
in device memory (the gradients are the same, only where the residual lives differs), so
JAX programs using ``offload_dot_with_no_batch_dims`` or
``save_and_offload_only_these_names`` run unchanged.

Primitives are recognized by their registry names (``"dot_general"``, ``"name"``, ...),
which are unique, so this module needs nothing from ``functorch_lite.lax``.
"""
from __future__ import annotations

import types
from dataclasses import dataclass
from typing import Any, Callable


class _Decision:
    """``Saveable`` / ``Recompute``: the non-boolean answers a policy may give."""

    def __init__(self, name: str, saves: bool):
        self._name, self.saves = name, saves

    def __repr__(self) -> str:
        return self._name


Saveable = _Decision("Saveable", True)
Recompute = _Decision("Recompute", False)


@dataclass(frozen=True)
class Offloadable:
    """Save the value in memory space ``dst`` (e.g. ``"pinned_host"``) rather than on the
    device. Accepted for compatibility; the value is saved on the device."""
    src: str
    dst: str


def is_saved(decision: Any) -> bool:
    """Whether a policy's answer means "keep this value for the backward pass"."""
    if isinstance(decision, _Decision):
        return decision.saves
    if isinstance(decision, Offloadable):
        return True  # offloading is not implemented: keep the value on the device
    if isinstance(decision, bool):
        return decision
    raise TypeError(f"a checkpoint policy must return a bool, Saveable, Recompute or "
                    f"Offloadable, got {decision!r} of type {type(decision).__name__}")


def _is_dot(prim) -> bool:
    return prim.name == "dot_general"


def _no_batch_dims(params: dict) -> bool:
    (_, _), (lhs_batch, rhs_batch) = params["dimension_numbers"]
    return not lhs_batch and not rhs_batch


def everything_saveable(*_, **__) -> bool:
    """Save every value the backward pass needs: as if ``checkpoint`` were not used."""
    return True


def nothing_saveable(*_, **__) -> bool:
    """Save only the checkpointed function's inputs and recompute the rest (the default
    of ``checkpoint`` without a policy)."""
    return False


@dataclass(frozen=True)
class _DotsSaveable:
    only_if_no_batch_dims: bool

    def __call__(self, prim, *_, **params) -> bool:
        if self.only_if_no_batch_dims:
            return _is_dot(prim) and _no_batch_dims(params)
        return _is_dot(prim) or prim.name == "conv_general_dilated"


#: Save the results of matrix products and convolutions; recompute everything else.
dots_saveable = _DotsSaveable(False)
#: Save the results of matrix products without batch dimensions (``x @ W`` in a layer,
#: not the batched products of attention); recompute everything else.
dots_with_no_batch_dims_saveable = _DotsSaveable(True)


def offload_dot_with_no_batch_dims(offload_src: str, offload_dst: str) -> Callable:
    """``dots_with_no_batch_dims_saveable``, asking for the products to live in memory space
    ``offload_dst``. Offloading is not implemented: the products are saved on the device."""
    def policy(prim, *_, **params):
        if _is_dot(prim) and _no_batch_dims(params):
            return Offloadable(src=offload_src, dst=offload_dst)
        return Recompute
    return policy


def _label(prim, params: dict) -> str | None:
    """The label of a ``checkpoint_name`` equation, else None."""
    return params.get("name") if prim.name == "name" else None


def save_anything_except_these_names(*names_not_to_save: str) -> Callable:
    """JAX 0.10's behaviour, kept for compatibility: the names are accepted but not acted
    on, so this saves everything (as ``everything_saveable``). A named value is the same
    buffer as the unnamed result it labels, which would be saved anyway."""
    return everything_saveable


@dataclass(frozen=True)
class _SaveOnlyTheseNames:
    names: frozenset

    def __call__(self, prim, *_, **params) -> bool:
        label = _label(prim, params)
        return label is not None and label in self.names


@dataclass(frozen=True)
class _SaveAnyNamesButThese:
    names: frozenset

    def __call__(self, prim, *_, **params) -> bool:
        label = _label(prim, params)
        return label is not None and label not in self.names


def save_only_these_names(*names_which_can_be_saved: str) -> Callable:
    """Save only values labelled by ``checkpoint_name`` with one of these names."""
    return _SaveOnlyTheseNames(frozenset(names_which_can_be_saved))


def save_any_names_but_these(*names_not_to_save: str) -> Callable:
    """Save only labelled values (``checkpoint_name``), except those with these names."""
    return _SaveAnyNamesButThese(frozenset(names_not_to_save))


def save_and_offload_only_these_names(*, names_which_can_be_saved, names_which_can_be_offloaded,
                                      offload_src: str, offload_dst: str) -> Callable:
    """``save_only_these_names`` for the first names, plus a request to offload the values
    with the second names to ``offload_dst``. Offloading is not implemented: those values
    are saved on the device too."""
    saved, offloaded = set(names_which_can_be_saved), set(names_which_can_be_offloaded)
    both = saved & offloaded
    if both:
        raise ValueError(f"save_and_offload_only_these_names: the names {sorted(both)} are in "
                         f"both names_which_can_be_saved={sorted(saved)} and "
                         f"names_which_can_be_offloaded={sorted(offloaded)}; a name must be "
                         "in one of them only")

    def policy(prim, *_, **params):
        label = _label(prim, params)
        if label in saved:
            return Saveable
        if label in offloaded:
            return Offloadable(src=offload_src, dst=offload_dst)
        return Recompute
    return policy


def save_from_both_policies(policy_1: Callable, policy_2: Callable) -> Callable:
    """Save a value when either policy would (their logical or). Both must answer with
    booleans, as in JAX; combine policies that answer otherwise in a policy of your own."""
    def policy(prim, *args, **params):
        a, b = policy_1(prim, *args, **params), policy_2(prim, *args, **params)
        if not (isinstance(a, bool) and isinstance(b, bool)):
            raise ValueError(f"save_from_both_policies: both policies must return a bool, got "
                             f"{a!r} and {b!r}; write a policy function of your own to "
                             "combine Saveable/Offloadable answers")
        return a or b
    return policy


checkpoint_policies = types.SimpleNamespace(
    everything_saveable=everything_saveable,
    nothing_saveable=nothing_saveable,
    dots_saveable=dots_saveable,
    checkpoint_dots=dots_saveable,
    dots_with_no_batch_dims_saveable=dots_with_no_batch_dims_saveable,
    checkpoint_dots_with_no_batch_dims=dots_with_no_batch_dims_saveable,
    offload_dot_with_no_batch_dims=offload_dot_with_no_batch_dims,
    save_anything_except_these_names=save_anything_except_these_names,
    save_any_names_but_these=save_any_names_but_these,
    save_only_these_names=save_only_these_names,
    save_from_both_policies=save_from_both_policies,
    save_and_offload_only_these_names=save_and_offload_only_these_names,
    # functorch_lite's earlier names, kept as aliases
    save_dots=dots_saveable,
)
checkpoint_policies.__doc__ = "Policies for ``checkpoint(policy=...)``, as jax.checkpoint_policies."
