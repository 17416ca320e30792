"""The few array operations the interpreters perform themselves: adding two tangents,
materializing a zero tangent, and broadcasting or moving a batch dimension.

They are lax operations, and lax sits below the interpreters (its rules are written with
them), so the interpreters cannot import lax. Instead ``functorch_lite.lax`` registers its
implementations here when it is imported: this is the library's one deliberate
registration hook between the two layers. Importing ``functorch_lite`` imports lax, so the
functions are always registered before any transformation runs.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence


def _unregistered(name: str) -> Callable:
    def missing(*args, **kwargs):
        raise RuntimeError(f"functorch_lite.interpreters.array_ops.{name} is not registered: "
                           "import functorch_lite (which imports lax) before transforming")
    return missing


add: Callable[[Any, Any], Any] = _unregistered("add")
full: Callable[[Sequence[int], Any, Any], Any] = _unregistered("full")
broadcast_in_dim: Callable[[Any, Sequence[int], Sequence[int]], Any] = \
    _unregistered("broadcast_in_dim")
transpose: Callable[[Any, Sequence[int]], Any] = _unregistered("transpose")


def register(*, add: Callable, full: Callable, broadcast_in_dim: Callable,
             transpose: Callable) -> None:
    """Called once by ``functorch_lite.lax`` with its functions of these names."""
    globals().update(add=add, full=full, broadcast_in_dim=broadcast_in_dim,
                     transpose=transpose)
