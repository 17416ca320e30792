"""Argument checks shared by the shape primitives, and small helpers of their rules."""
from __future__ import annotations

import operator
from typing import Any, Sequence

import numpy as np

from functorch_lite.core import dtypes


# ---------------------------------------------------------------------------------------
# argument helpers

def _int(name: str, what: str, x: Any) -> int:
    """A static Python integer (NumPy integers accepted; bools, floats and arrays not)."""
    if isinstance(x, (bool, np.bool_)):
        raise TypeError(f"{name}: {what} must be an integer, got {x!r}")
    try:
        return operator.index(x)
    except TypeError:
        raise TypeError(f"{name}: {what} must be an integer, got {x!r}") from None


def _ints(name: str, what: str, xs: Any) -> tuple[int, ...]:
    if isinstance(xs, (int, np.integer)) and not isinstance(xs, (bool, np.bool_)):
        xs = (xs,)
    try:
        items = list(xs)
    except TypeError:
        raise TypeError(f"{name}: {what} must be a sequence of integers, got {xs!r}") from None
    return tuple(_int(name, what, x) for x in items)


def _axis(name: str, axis: Any, ndim: int, what: str = "axis") -> int:
    """Normalize one axis into ``[0, ndim)``; negative axes count from the end."""
    axis = _int(name, what, axis)
    if not -ndim <= axis < ndim:
        raise ValueError(f"{name}: {what} {axis} is out of bounds for an array of rank {ndim}")
    return axis % ndim


def _axes(name: str, axes: Any, ndim: int, what: str = "axis") -> tuple[int, ...]:
    out = tuple(_axis(name, a, ndim, what) for a in _ints(name, what, axes))
    if len(set(out)) != len(out):
        raise ValueError(f"{name}: repeated {what} in {tuple(axes)} for an array of rank {ndim}")
    return out


def _dtype_name(dt) -> str:
    return dtypes.to_numpy_dtype_name(dt)


# ---------------------------------------------------------------------------------------
# rule helpers

def _inverse_perm(perm: Sequence[int]) -> tuple[int, ...]:
    inv = [0] * len(perm)
    for i, p in enumerate(perm):
        inv[p] = i
    return tuple(inv)


def _sum(x: Any, axes: Sequence[int]):
    """``reduce_sum`` over ``axes`` (``x`` itself when there are none): the transpose of a
    broadcast, as broadcast_in_dim is reduce_sum's transpose."""
    # late: reductions imports shapes (reduce_sum and broadcast_in_dim transpose each other)
    from functorch_lite.lax.reductions import reduce_sum
    return reduce_sum(x, tuple(axes)) if axes else x


def _shift(axes: Sequence[int], bdim: int) -> tuple[int, ...]:
    """Operand axes renumbered for an array with a batch axis inserted at ``bdim``."""
    return tuple(a + (a >= bdim) for a in axes)
