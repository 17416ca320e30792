"""What gather and scatter share: their parameter types (dimension numbers, the
out-of-bounds mode), the checks of their shape rules, and small helpers of their
derivative and batching rules."""
from __future__ import annotations

import enum
from typing import Any, NamedTuple, Sequence

import numpy as np

from functorch_lite.core import dtypes
from functorch_lite.core.avals import ShapedArray, get_aval
from functorch_lite.interpreters import ad
from functorch_lite.interpreters.transpose import is_undefined
from functorch_lite.lax import shapes


# ---------------------------------------------------------------------------------------
# Parameter types

class GatherDimensionNumbers(NamedTuple):
    """How the axes of ``gather``'s operand, start indices and output relate (see the package
    docstring). The index vector is always the last axis of ``start_indices``."""
    offset_dims: tuple[int, ...]
    collapsed_slice_dims: tuple[int, ...]
    start_index_map: tuple[int, ...]
    operand_batching_dims: tuple[int, ...] = ()
    start_indices_batching_dims: tuple[int, ...] = ()


class ScatterDimensionNumbers(NamedTuple):
    """How the axes of ``scatter``'s operand, indices and updates relate (see the package
    docstring). The index vector is always the last axis of ``scatter_indices``."""
    update_window_dims: tuple[int, ...]
    inserted_window_dims: tuple[int, ...]
    scatter_dims_to_operand_dims: tuple[int, ...]
    operand_batching_dims: tuple[int, ...] = ()
    scatter_indices_batching_dims: tuple[int, ...] = ()


class GatherScatterMode(enum.Enum):
    """What gather and scatter do with a block that does not lie inside the operand.

    * ``CLIP``: move the start so the block fits (clamp each start index to
      ``[0, dim - block_size]``).
    * ``FILL_OR_DROP``: a gather returns ``fill_value`` for the whole block; a scatter skips
      the whole block.
    * ``PROMISE_IN_BOUNDS``: the caller promises every block fits; nothing is checked (XLA
      then clamps gathers and skips scatters).
    """
    CLIP = 0
    FILL_OR_DROP = 1
    PROMISE_IN_BOUNDS = 2

    def __str__(self) -> str:
        return self.name

    @staticmethod
    def from_any(mode: Any) -> "GatherScatterMode":
        """Accept a mode, ``None`` (FILL_OR_DROP) or one of the strings ``'clip'``,
        ``'fill'``/``'drop'``, ``'promise_in_bounds'``."""
        if isinstance(mode, GatherScatterMode):
            return mode
        if mode is None or mode in ("fill", "drop"):
            return GatherScatterMode.FILL_OR_DROP
        if mode == "clip":
            return GatherScatterMode.CLIP
        if mode == "promise_in_bounds":
            return GatherScatterMode.PROMISE_IN_BOUNDS
        raise ValueError(f"unknown gather/scatter mode {mode!r}: expected 'clip', 'fill', "
                         "'drop', 'promise_in_bounds' or a GatherScatterMode")


def _int_tuple(name: str, field: str, dims: Any) -> tuple[int, ...]:
    try:
        out = tuple(dims)
    except TypeError:
        raise TypeError(f"{name}: {field} must be a sequence of integers, got {dims!r}") from None
    for d in out:
        if not isinstance(d, (int, np.integer)) or isinstance(d, bool):
            raise TypeError(f"{name}: {field} must be a sequence of integers, got {dims!r}")
    return tuple(int(d) for d in out)


def _canonical_dnums(name: str, dnums: Any, cls):
    """Rebuild ``dnums`` as ``cls`` with tuples of ints (hashable, so equal calls share one
    compiled program). Any object with ``cls``'s field names is accepted."""
    if not all(hasattr(dnums, f) for f in cls._fields):
        raise TypeError(f"{name}: dimension_numbers must be a {cls.__name__}, got {dnums!r}")
    return cls(*(_int_tuple(name, f, getattr(dnums, f)) for f in cls._fields))


# ---------------------------------------------------------------------------------------
# Shared checks

def _check_index_dtype(name: str, what: str, aval: ShapedArray) -> None:
    if not dtypes.is_int(aval.dtype):
        raise TypeError(f"{name}: {what} must have an integer dtype, got "
                        f"{dtypes.to_numpy_dtype_name(aval.dtype)}")


def _check_sorted(name: str, field: str, dims: Sequence[int]) -> None:
    if list(dims) != sorted(dims):
        raise TypeError(f"{name}: {field} must be sorted in increasing order, got {dims}")


def _check_unique(name: str, field: str, dims: Sequence[int]) -> None:
    if len(set(dims)) != len(dims):
        raise TypeError(f"{name}: {field} must not repeat an axis, got {dims}")


def _check_in_range(name: str, field: str, dims: Sequence[int], rank: int, of: str) -> None:
    for d in dims:
        if not 0 <= d < rank:
            raise TypeError(f"{name}: {field} {dims} names axis {d}, out of range for the "
                            f"{of} of rank {rank}")


def _check_disjoint(name: str, field1: str, dims1, field2: str, dims2) -> None:
    common = sorted(set(dims1) & set(dims2))
    if common:
        raise TypeError(f"{name}: {field1} {dims1} and {field2} {dims2} must not share an "
                        f"axis, both contain {common[0]}")


def _check_dims(name, what, dims, bound, where) -> None:
    """``dims`` are sorted, distinct axes of something of rank ``bound``."""
    _check_sorted(name, what, dims)
    _check_unique(name, what, dims)
    _check_in_range(name, what, dims, bound, where)


def _check_batching_dims(name, operand, indices, operand_dims, indices_name, indices_dims,
                         window, index_map) -> None:
    """The batching dimensions of gather and scatter: ``operand_dims`` of the operand
    pair up, in order and in size, with ``indices_dims`` of the indices, and are disjoint
    from the operand axes that ``window`` (collapsed/inserted) and ``index_map`` name."""
    _check_dims(name, "operand_batching_dims", operand_dims, operand.ndim, "operand")
    for what, dims in (window, index_map):
        _check_disjoint(name, what, dims, "operand_batching_dims", operand_dims)
    what = f"{indices_name}_batching_dims"
    _check_unique(name, what, indices_dims)
    _check_in_range(name, what, indices_dims, indices.ndim - 1,
                    f"{indices_name} batch axes (all but the last axis)")
    if len(operand_dims) != len(indices_dims):
        raise TypeError(f"{name}: operand_batching_dims {operand_dims} and {what} "
                        f"{indices_dims} must have the same length")
    op_batch = tuple(operand.shape[d] for d in operand_dims)
    idx_batch = tuple(indices.shape[d] for d in indices_dims)
    if op_batch != idx_batch:
        raise TypeError(f"{name}: operand batching axes have sizes {op_batch} but the "
                        f"{indices_name} batching axes have sizes {idx_batch}")


def _check_flag(name: str, flag_name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: {flag_name} must be a bool, got {value!r}")
    return bool(value)


# ---------------------------------------------------------------------------------------
# Derivative-rule helpers
#
# Start and scatter indices are integers: they never carry a derivative. In their array
# data, dynamic_slice, dynamic_update_slice, gather and scatter_add are linear (their jvp
# applies them to the tangents, and they have transpose rules); scatter is linear too when
# its indices are unique. scatter_mul, scatter_min and scatter_max are not linear in their
# updates; their jvps are written with linear primitives only (scatter_mul stays linear in
# its operand, so it has a transpose rule for that argument).


def _aval_of(x: Any) -> ShapedArray:
    return x.aval if is_undefined(x) else get_aval(x)


def _zero_tangent(out: Any) -> "ad.Zero":
    return ad.Zero(ad.tangent_aval(get_aval(out)))


def _has_tangent(out: Any, *tangents: Any) -> bool:
    """Whether a derivative flows: some tangent is non-zero and the output is inexact."""
    return (dtypes.is_inexact(get_aval(out).dtype)
            and any(type(t) is not ad.Zero for t in tangents))


def _zeros(aval_or_x: Any):
    aval = aval_or_x if isinstance(aval_or_x, ShapedArray) else _aval_of(aval_or_x)
    return shapes.full(aval.shape, 0, aval.dtype)


# ---------------------------------------------------------------------------------------
# Batching-rule helpers

def _plus1(dims: Sequence[int]) -> tuple[int, ...]:
    return tuple(d + 1 for d in dims)
