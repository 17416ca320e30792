"""What the reductions share: their dtype categories, the normalization and checks of
their axis arguments, and the batching rule of every primitive that reduces over an
``axes`` param (the reductions and argmax/argmin)."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from functorch_lite.core.avals import ShapedArray
from functorch_lite.core.primitive import Primitive
from functorch_lite.lax._common import normalize_axes

# dtype categories (see _common.check_dtype)
NUM = "iufc"
REAL = "biuf"
LOGICAL = "biu"


def _check_axis_range(name: str, axes: Sequence[int], ndim: int) -> None:
    """Unlike ``normalize_axis``, a rank-0 array has no axis at all to reduce."""
    for a in axes:
        if isinstance(a, (int, np.integer)) and not isinstance(a, bool) \
                and not -ndim <= a < ndim:
            raise ValueError(f"{name}: axis {a} is out of bounds for an array of rank {ndim}")


def normalize_reduction_axes(name: str, axes: Any, ndim: int) -> tuple[int, ...]:
    """``axes`` (an int or a sequence of them, negative ones counting from the end) as a
    sorted tuple of non-negative axes, so equal calls share one compiled program."""
    if isinstance(axes, (int, np.integer)) and not isinstance(axes, bool):
        axes = (axes,)
    try:
        axes = tuple(axes)
    except TypeError:
        raise TypeError(f"{name}: axes must be a sequence of integers, got {axes!r}") from None
    _check_axis_range(name, axes, ndim)
    return tuple(sorted(normalize_axes(name, axes, ndim)))


def normalize_one_axis(name: str, axis: Any, ndim: int) -> int:
    """A single ``axis`` argument (an integer, not a bool), normalized like ``axes``."""
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{name}: axis must be an integer, got {axis!r}")
    axis, = normalize_reduction_axes(name, (axis,), ndim)
    return axis


def check_axes_param(name: str, aval: ShapedArray, axes: Any) -> None:
    """The shape rules re-check what the public functions normalized, for direct binds."""
    if not isinstance(axes, tuple) or not all(
            isinstance(a, int) and not isinstance(a, bool) for a in axes):
        raise TypeError(f"{name}: axes must be a tuple of integers, got {axes!r}")
    if len(set(axes)) != len(axes):
        raise ValueError(f"{name}: repeated axis in {axes}")
    for a in axes:
        if not 0 <= a < aval.ndim:
            raise ValueError(f"{name}: axis {a} is out of bounds for an array of rank "
                             f"{aval.ndim} (shape {aval.shape})")


def drop_axes(shape: Sequence[int], axes: Sequence[int]) -> tuple[int, ...]:
    """``shape`` without the reduced ``axes``."""
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def kept_dims(ndim: int, axes: Sequence[int]) -> tuple[int, ...]:
    """The axes of a rank-``ndim`` operand that a reduction over ``axes`` keeps."""
    return tuple(d for d in range(ndim) if d not in axes)


def named(p: Primitive, fn: Callable, doc: str) -> Callable:
    """``fn`` as the public function of ``p``: its name and docstring."""
    fn.__name__ = p.name
    fn.__qualname__ = p.name
    fn.__doc__ = doc
    return fn


# ---------------------------------------------------------------------------------------
# Batching: the batch axis stays where it is; the reduced axes are renumbered around it.

def _axes_around(axes: Sequence[int], bdim: int) -> tuple[int, ...]:
    """Operand axes renumbered for an array with a batch axis at ``bdim``."""
    return tuple(a + (a >= bdim) for a in axes)


def reduction_batch_rule(p: Primitive) -> Callable:
    """The batching rule of ``p``, a primitive reducing its one operand over ``axes``."""
    def rule(axis, args, dims, *, axes, **params):
        (x,), (d,) = args, dims
        out_d = d - sum(1 for a in axes if a < d)
        return p.bind(x, axes=_axes_around(axes, d), **params), out_d
    return rule
