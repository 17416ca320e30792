"""Indexing primitives: dynamic slicing, gather and scatter.

* ``dynamic_slice`` / ``dynamic_update_slice`` read or write one rectangular block whose
  start is given by scalar integer arrays (known only at run time). Start indices are
  clamped so the block lies inside the operand, as XLA does.
* ``gather`` reads many blocks at once, one per index vector in ``start_indices``; it is
  the base of NumPy-style advanced indexing (``x[idx]``, ``x[i, j]``, take_along_axis).
* ``scatter`` and its combining variants (``scatter_add``, ``scatter_mul``, ``scatter_min``,
  ``scatter_max``) write many blocks at once; they are the base of ``x.at[idx].set/add/...``.

How ``gather``'s dimension numbers work, with the usual ``x[idx]`` on axis 0 as example
(``x: f32[5, 3]``, ``idx: i32[4, 2, 1]``, result ``f32[4, 2, 3]``):

* The last axis of ``start_indices`` is the *index vector*: one start position per operand
  axis named in ``start_index_map`` (here ``(0,)``). The other axes of ``start_indices`` are
  *batch* axes and appear in the result in order (here ``4, 2``).
* From each start, a block of shape ``slice_sizes`` (here ``(1, 3)``) is read. Its axes in
  ``collapsed_slice_dims`` (size 1, here ``(0,)``) are dropped; the remaining block axes
  appear in the result at the positions ``offset_dims`` (here ``(2,)``).
* ``operand_batching_dims``/``start_indices_batching_dims`` pair operand axes with index batch
  axes (block size 1): batch element ``b`` reads from operand slab ``b`` (used by vmap).

``scatter``'s dimension numbers mirror these: ``update_window_dims`` are the block axes of
``updates`` (like ``offset_dims``), ``inserted_window_dims`` the size-1 operand axes the
block lacks (like ``collapsed_slice_dims``), ``scatter_dims_to_operand_dims`` maps the index
vector onto operand axes (like ``start_index_map``).

Out-of-bounds indices are handled according to ``mode`` (:class:`GatherScatterMode`).
"""
from __future__ import annotations

import enum
import math
from typing import Any, NamedTuple, Sequence

import numpy as np

from functorch_lite.core import dtypes
from functorch_lite.core.avals import ShapedArray, TypedScalar, get_aval
from functorch_lite.core.primitive import Primitive
from functorch_lite.lax import elementwise as ew
from functorch_lite.lax import shapes
from functorch_lite.lax._common import (as_operand, canonical_shape, check_dtype,
                                        is_python_scalar, normalize_axis, operands,
                                        scalar_like, shape_str)

__all__ = [
    "GatherDimensionNumbers", "ScatterDimensionNumbers", "GatherScatterMode",
    "dynamic_slice", "dynamic_slice_in_dim", "dynamic_index_in_dim",
    "dynamic_update_slice", "dynamic_update_slice_in_dim", "dynamic_update_index_in_dim",
    "gather", "scatter", "scatter_add", "scatter_mul", "scatter_min", "scatter_max",
    "dynamic_slice_p", "dynamic_update_slice_p", "gather_p", "scatter_p", "scatter_add_p",
    "scatter_mul_p", "scatter_min_p", "scatter_max_p",
]


# ---------------------------------------------------------------------------------------
# Parameter types

class GatherDimensionNumbers(NamedTuple):
    """How the axes of ``gather``'s operand, start indices and output relate (see the module
    docstring). The index vector is always the last axis of ``start_indices``."""
    offset_dims: tuple[int, ...]
    collapsed_slice_dims: tuple[int, ...]
    start_index_map: tuple[int, ...]
    operand_batching_dims: tuple[int, ...] = ()
    start_indices_batching_dims: tuple[int, ...] = ()


class ScatterDimensionNumbers(NamedTuple):
    """How the axes of ``scatter``'s operand, indices and updates relate (see the module
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


# ---------------------------------------------------------------------------------------
# dynamic_slice / dynamic_update_slice

def _check_start_indices(name: str, operand: ShapedArray, indices: Sequence[ShapedArray]):
    if len(indices) != operand.ndim:
        raise TypeError(f"{name}: got {len(indices)} start indices for an operand of shape "
                        f"{shape_str(operand.shape)} (rank {operand.ndim}); pass one per axis")
    for i, a in enumerate(indices):
        if a.ndim != 0:
            raise TypeError(f"{name}: start index {i} must be a scalar, got an array of shape "
                            f"{shape_str(a.shape)}")
        _check_index_dtype(name, f"start index {i}", a)
    if len({a.dtype for a in indices}) > 1:
        raise TypeError(f"{name}: start indices must all have the same dtype, got "
                        + ", ".join(dtypes.to_numpy_dtype_name(a.dtype) for a in indices))


dynamic_slice_p = Primitive("dynamic_slice")


@dynamic_slice_p.def_shape
def _dynamic_slice_shape(operand, *start_indices, slice_sizes):
    _check_start_indices("dynamic_slice", operand, start_indices)
    if len(slice_sizes) != operand.ndim:
        raise TypeError(f"dynamic_slice: slice_sizes {tuple(slice_sizes)} must have one entry "
                        f"per axis of the operand of shape {shape_str(operand.shape)}")
    for ax, (size, dim) in enumerate(zip(slice_sizes, operand.shape)):
        if not 0 <= size <= dim:
            raise TypeError(f"dynamic_slice: slice size {size} on axis {ax} must be in "
                            f"[0, {dim}] for an operand of shape {shape_str(operand.shape)} "
                            f"(slice_sizes={tuple(slice_sizes)})")
    return ShapedArray(slice_sizes, operand.dtype, operand.weak_type)


dynamic_update_slice_p = Primitive("dynamic_update_slice")


@dynamic_update_slice_p.def_shape
def _dynamic_update_slice_shape(operand, update, *start_indices):
    if operand.dtype != update.dtype:
        raise TypeError(f"dynamic_update_slice requires operand and update of the same "
                        f"dtype, got {dtypes.to_numpy_dtype_name(operand.dtype)} and "
                        f"{dtypes.to_numpy_dtype_name(update.dtype)}")
    if update.ndim != operand.ndim:
        raise TypeError(f"dynamic_update_slice: update of shape {shape_str(update.shape)} must "
                        f"have the rank of the operand of shape {shape_str(operand.shape)}")
    if any(u > d for u, d in zip(update.shape, operand.shape)):
        raise TypeError(f"dynamic_update_slice: update of shape {shape_str(update.shape)} does "
                        f"not fit in the operand of shape {shape_str(operand.shape)}")
    _check_start_indices("dynamic_update_slice", operand, start_indices)
    weak = operand.weak_type and update.weak_type and all(a.weak_type for a in start_indices)
    return ShapedArray(operand.shape, operand.dtype, weak)


def _index_operand(name: str, i: Any) -> Any:
    i = as_operand(i)
    if is_python_scalar(i):
        if type(i) is not int:
            raise TypeError(f"{name}: start indices must be integers, got {i!r}")
        return i
    _check_index_dtype(name, "a start index", get_aval(i))
    return i


def _split_start_indices(name: str, start_indices: Any) -> list:
    """A sequence of scalars, or a 1-D integer array, as a list of scalar operands."""
    if isinstance(start_indices, (np.ndarray, np.generic)):
        if start_indices.ndim != 1:
            raise TypeError(f"{name}: start_indices must be a sequence of scalars or a 1-D "
                            f"array, got an array of shape {start_indices.shape}")
        return list(start_indices)
    if isinstance(start_indices, (list, tuple)):
        return list(start_indices)
    aval = get_aval(start_indices)  # raises a TypeError for non-arrays
    if aval.ndim != 1:
        raise TypeError(f"{name}: start_indices must be a sequence of scalars or a 1-D array, "
                        f"got an array of shape {shape_str(aval.shape)}")
    return [shapes.index_in_dim(start_indices, k, 0, keepdims=False)
            for k in range(aval.shape[0])]


def _start_indices(name: str, operand_shape: Sequence[int], start_indices: Any,
                   allow_negative_indices: Any) -> list:
    """Validate the start indices, give Python ints a dtype, and (where allowed) turn a
    negative index ``i`` into ``i + dim`` the way JAX does; XLA then clamps."""
    indices = [_index_operand(name, i) for i in _split_start_indices(name, start_indices)]
    if len(indices) != len(operand_shape):
        raise TypeError(f"{name}: got {len(indices)} start indices for an operand of shape "
                        f"{shape_str(operand_shape)} (rank {len(operand_shape)}); pass one "
                        "per axis")
    if isinstance(allow_negative_indices, (bool, np.bool_)):
        allow = [bool(allow_negative_indices)] * len(indices)
    else:
        allow = [bool(a) for a in allow_negative_indices]
        if len(allow) != len(indices):
            raise TypeError(f"{name}: allow_negative_indices has {len(allow)} entries for "
                            f"{len(indices)} start indices")
    array_dtypes = [get_aval(i).dtype for i in indices if not is_python_scalar(i)]
    int_dtype = array_dtypes[0] if array_dtypes else dtypes.default_int_dtype()
    out = []
    for i, dim, neg_ok in zip(indices, operand_shape, allow):
        if is_python_scalar(i) or (isinstance(i, (np.ndarray, np.generic)) and np.ndim(i) == 0):
            value = int(i)  # a concrete index: wrap it here rather than in the program
            if value < 0 and neg_ok:
                value += dim
            elif value < 0 and not neg_ok:
                raise ValueError(f"{name}: index {value} is negative but "
                                 "allow_negative_indices is False for its axis")
            dt = int_dtype if is_python_scalar(i) else get_aval(i).dtype
            info = dtypes.iinfo(dt)
            if not info.min <= value <= info.max:
                value = info.max if value > info.max else info.min  # clamped by XLA anyway
            out.append(scalar_like(value, dt, weak_type=False))
        elif neg_ok and not dtypes.is_unsigned(get_aval(i).dtype):
            dt = get_aval(i).dtype
            wrapped = ew.add(i, scalar_like(min(dim, dtypes.iinfo(dt).max), dt, weak_type=False))
            out.append(ew.select(ew.lt(i, scalar_like(0, dt, weak_type=False)), wrapped, i))
        else:
            out.append(i)
    return out


def dynamic_slice(operand: Any, start_indices: Any, slice_sizes: Sequence[int], *,
                  allow_negative_indices: bool | Sequence[bool] = True):
    """Read the block of shape ``slice_sizes`` starting at ``start_indices`` (one scalar
    integer, possibly traced, per axis). A negative start counts from the end of its axis
    (unless ``allow_negative_indices`` is False for it), then starts are clamped so the block
    fits: ``dynamic_slice(x_f32[3, 4], (1, 1), (2, 3))`` is ``x[1:3, 1:4]`` and
    ``dynamic_slice(x, (1, 2), (2, 3))`` is also ``x[1:3, 1:4]`` (start 2 clamped to 1)."""
    operand = as_operand(operand)
    aval = get_aval(operand)
    indices = _start_indices("dynamic_slice", aval.shape, start_indices, allow_negative_indices)
    sizes = canonical_shape("dynamic_slice", slice_sizes)
    return dynamic_slice_p.bind(operand, *indices, slice_sizes=sizes)


def dynamic_update_slice(operand: Any, update: Any, start_indices: Any, *,
                         allow_negative_indices: bool | Sequence[bool] = True):
    """``operand`` with the block starting at ``start_indices`` replaced by ``update`` (same
    rank and dtype). Starts wrap when negative and are clamped so the block fits, as in
    :func:`dynamic_slice`: ``dynamic_update_slice(zeros_f32[6], ones_f32[3], (5,))`` writes
    positions 3..5."""
    operand, update = operands((operand, update))  # the shape rule checks dtypes
    aval = get_aval(operand)
    indices = _start_indices("dynamic_update_slice", aval.shape, start_indices,
                             allow_negative_indices)
    return dynamic_update_slice_p.bind(operand, update, *indices)


def dynamic_slice_in_dim(operand: Any, start_index: Any, slice_size: int, axis: int = 0, *,
                         allow_negative_indices: bool = True):
    """:func:`dynamic_slice` along one axis: ``slice_size`` elements of axis ``axis`` from
    ``start_index`` (clamped), the other axes whole. ``dynamic_slice_in_dim(x_f32[5, 3], 1,
    2)`` is ``x[1:3]`` of shape ``(2, 3)``."""
    operand = as_operand(operand)
    aval = get_aval(operand)
    axis = normalize_axis("dynamic_slice_in_dim", axis, aval.ndim)
    if aval.ndim == 0:
        raise ValueError("dynamic_slice_in_dim: cannot slice a rank-0 array")
    starts = [0] * aval.ndim
    starts[axis] = start_index
    sizes = list(aval.shape)
    sizes[axis] = slice_size
    allow = [False] * aval.ndim
    allow[axis] = allow_negative_indices
    return dynamic_slice(operand, starts, sizes, allow_negative_indices=allow)


def dynamic_index_in_dim(operand: Any, index: Any, axis: int = 0, keepdims: bool = True, *,
                         allow_negative_indices: bool = True):
    """Element ``index`` (clamped, possibly traced) of axis ``axis``; the axis is kept with
    size 1 unless ``keepdims`` is False. ``dynamic_index_in_dim(x_f32[5, 3], 2, 0,
    keepdims=False)`` is ``x[2]`` of shape ``(3,)``."""
    out = dynamic_slice_in_dim(operand, index, 1, axis,
                               allow_negative_indices=allow_negative_indices)
    if keepdims:
        return out
    return shapes.squeeze(out, (normalize_axis("dynamic_index_in_dim", axis, get_aval(out).ndim),))


def dynamic_update_slice_in_dim(operand: Any, update: Any, start_index: Any, axis: int, *,
                                allow_negative_indices: bool = True):
    """:func:`dynamic_update_slice` along one axis: ``update`` (with ``operand``'s extent on
    every other axis) written at ``start_index`` of axis ``axis``.
    ``dynamic_update_slice_in_dim(x_f32[5, 3], u_f32[2, 3], 1, 0)`` writes ``x[1:3]``."""
    operand = as_operand(operand)
    aval = get_aval(operand)
    axis = normalize_axis("dynamic_update_slice_in_dim", axis, aval.ndim)
    if aval.ndim == 0:
        raise ValueError("dynamic_update_slice_in_dim: cannot update a rank-0 array")
    starts = [0] * aval.ndim
    starts[axis] = start_index
    allow = [False] * aval.ndim
    allow[axis] = allow_negative_indices
    return dynamic_update_slice(operand, update, starts, allow_negative_indices=allow)


def dynamic_update_index_in_dim(operand: Any, update: Any, index: Any, axis: int, *,
                                allow_negative_indices: bool = True):
    """Write ``update`` at position ``index`` (clamped) of axis ``axis``. ``update`` has the
    operand's rank with size 1 on ``axis``, or lacks that axis:
    ``dynamic_update_index_in_dim(x_f32[5, 3], u_f32[3], 2, 0)`` sets ``x[2]``."""
    operand, update = operands((operand, update))
    aval, uaval = get_aval(operand), get_aval(update)
    axis = normalize_axis("dynamic_update_index_in_dim", axis, aval.ndim)
    if uaval.ndim == aval.ndim - 1:
        update = shapes.expand_dims(update, (axis,))
    return dynamic_update_slice_in_dim(operand, update, index, axis,
                                       allow_negative_indices=allow_negative_indices)


# ---------------------------------------------------------------------------------------
# gather

def _gather_output_shape(indices: ShapedArray, offset_dims: Sequence[int],
                         block_shape: Sequence[int]) -> tuple[int, ...]:
    """Batch axes of ``indices`` (all but the last) interleaved with the kept block axes,
    which sit at positions ``offset_dims``."""
    batch = iter(indices.shape[:-1])
    block = iter(block_shape)
    rank = len(offset_dims) + indices.ndim - 1
    return tuple(next(block) if d in offset_dims else next(batch) for d in range(rank))


gather_p = Primitive("gather")


@gather_p.def_shape
def _gather_shape(operand, indices, *, dimension_numbers, slice_sizes, indices_are_sorted,
                  unique_indices, mode, fill_value):
    name = "gather"
    dn = dimension_numbers
    _check_index_dtype(name, "start_indices", indices)
    if indices.ndim == 0:
        raise TypeError(f"{name}: start_indices must have rank >= 1 (its last axis holds the "
                        "index vectors), got a scalar")
    n_index = indices.shape[-1]
    out_rank = len(dn.offset_dims) + indices.ndim - 1

    _check_dims(name, "offset_dims", dn.offset_dims, out_rank, "output")

    if len(dn.start_index_map) != n_index:
        raise TypeError(f"{name}: start_index_map {dn.start_index_map} has "
                        f"{len(dn.start_index_map)} entries but the index vectors (last axis "
                        f"of start_indices of shape {shape_str(indices.shape)}) have "
                        f"{n_index}; they must be equal")
    _check_in_range(name, "start_index_map", dn.start_index_map, operand.ndim, "operand")
    _check_unique(name, "start_index_map", dn.start_index_map)

    _check_dims(name, "collapsed_slice_dims", dn.collapsed_slice_dims, operand.ndim,
                "operand")
    _check_batching_dims(name, operand, indices, dn.operand_batching_dims, "start_indices",
                         dn.start_indices_batching_dims,
                         ("collapsed_slice_dims", dn.collapsed_slice_dims),
                         ("start_index_map", dn.start_index_map))

    if len(slice_sizes) != operand.ndim:
        raise TypeError(f"{name}: slice_sizes {tuple(slice_sizes)} must have one entry per "
                        f"axis of the operand of shape {shape_str(operand.shape)}")
    n_dims = len(dn.offset_dims) + len(dn.collapsed_slice_dims) + len(dn.operand_batching_dims)
    if n_dims != operand.ndim:
        raise TypeError(f"{name}: every operand axis must be exactly one of an offset axis, a "
                        f"collapsed axis or a batching axis; the operand has rank "
                        f"{operand.ndim} but offset_dims={dn.offset_dims}, "
                        f"collapsed_slice_dims={dn.collapsed_slice_dims}, "
                        f"operand_batching_dims={dn.operand_batching_dims} account for "
                        f"{n_dims}")
    no_blocks = 0 in indices.shape[:-1]
    for ax, (size, dim) in enumerate(zip(slice_sizes, operand.shape)):
        if size < 0 or (size > dim and not no_blocks):
            raise TypeError(f"{name}: slice size {size} on axis {ax} must be in [0, {dim}] "
                            f"for an operand of shape {shape_str(operand.shape)} "
                            f"(slice_sizes={tuple(slice_sizes)})")
    for d in dn.collapsed_slice_dims:
        if slice_sizes[d] != 1:
            raise TypeError(f"{name}: collapsed axis {d} must have slice size 1, got "
                            f"slice_sizes={tuple(slice_sizes)}")
    for d in dn.operand_batching_dims:
        if slice_sizes[d] > 1:
            raise TypeError(f"{name}: operand batching axis {d} must have slice size 0 or 1, "
                            f"got slice_sizes={tuple(slice_sizes)}")
    skip = set(dn.collapsed_slice_dims) | set(dn.operand_batching_dims)
    block = [s for d, s in enumerate(slice_sizes) if d not in skip]
    shape = _gather_output_shape(indices, dn.offset_dims, block)
    return ShapedArray(shape, operand.dtype, operand.weak_type)


def _default_fill_value(dtype):
    """The value FILL_OR_DROP gathers return out of bounds: NaN for inexact dtypes, the
    smallest signed / largest unsigned integer, True for bool."""
    if dtypes.is_inexact(dtype):
        return math.nan
    if dtypes.is_bool(dtype):
        return True
    info = dtypes.iinfo(dtype)
    return int(info.max) if dtypes.is_unsigned(dtype) else int(info.min)


def _canonical_fill_value(value, dtype):
    """A hashable Python scalar of ``dtype``'s kind; all NaNs become ``math.nan`` so equal
    calls hit one compiled program."""
    try:
        v = np.asarray(value).astype(dtype).item()
    except (TypeError, ValueError, OverflowError) as e:
        raise TypeError(f"gather: fill_value {value!r} cannot be converted to "
                        f"{dtypes.to_numpy_dtype_name(dtype)}: {e}") from None
    if isinstance(v, float) and math.isnan(v):
        return math.nan
    return v


def _check_flag(name: str, flag_name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: {flag_name} must be a bool, got {value!r}")
    return bool(value)


def gather(operand: Any, start_indices: Any, dimension_numbers: GatherDimensionNumbers,
           slice_sizes: Sequence[int], *, indices_are_sorted: bool = False,
           unique_indices: bool = False, mode: Any = None, fill_value: Any = None):
    """Read one block of shape ``slice_sizes`` per index vector (last axis of
    ``start_indices``) and assemble them as ``dimension_numbers`` says (see the module
    docstring). ``mode=None`` promises the indices are in bounds (XLA clamps); ``'clip'``
    clamps; ``'fill'`` returns ``fill_value`` (default NaN / int min / uint max / True) for
    out-of-bounds blocks. ``x[idx]`` for ``x: f32[5, 3]`` and ``idx: i32[4]`` is
    ``gather(x, idx[:, None], GatherDimensionNumbers((1,), (0,), (0,)), (1, 3))``, of
    shape ``(4, 3)``."""
    operand = as_operand(operand)
    start_indices = as_operand(start_indices)
    if is_python_scalar(operand):
        operand = TypedScalar(operand, dtypes.python_scalar_dtype(operand))
    if is_python_scalar(start_indices):
        raise TypeError("gather: start_indices must be an integer array of rank >= 1 (its "
                        f"last axis holds the index vectors), got {start_indices!r}")
    dnums = _canonical_dnums("gather", dimension_numbers, GatherDimensionNumbers)
    sizes = _int_tuple("gather", "slice_sizes", slice_sizes)
    mode = (GatherScatterMode.PROMISE_IN_BOUNDS if mode is None
            else GatherScatterMode.from_any(mode))
    if mode is GatherScatterMode.FILL_OR_DROP:
        dt = get_aval(operand).dtype
        fill_value = _canonical_fill_value(
            _default_fill_value(dt) if fill_value is None else fill_value, dt)
    else:
        fill_value = None
    return gather_p.bind(operand, start_indices, dimension_numbers=dnums, slice_sizes=sizes,
                         indices_are_sorted=_check_flag("gather", "indices_are_sorted",
                                                        indices_are_sorted),
                         unique_indices=_check_flag("gather", "unique_indices",
                                                    unique_indices),
                         mode=mode, fill_value=fill_value)


# ---------------------------------------------------------------------------------------
# scatter

def _scatter_shape(name, kinds, operand, indices, updates, *, dimension_numbers,
                   indices_are_sorted, unique_indices, mode):
    dn = dimension_numbers
    if operand.dtype != updates.dtype:
        raise TypeError(f"{name} requires operand and updates of the same dtype, got "
                        f"{dtypes.to_numpy_dtype_name(operand.dtype)} and "
                        f"{dtypes.to_numpy_dtype_name(updates.dtype)}")
    check_dtype(name, operand, kinds)
    _check_index_dtype(name, "scatter_indices", indices)
    if indices.ndim == 0:
        raise TypeError(f"{name}: scatter_indices must have rank >= 1 (its last axis holds the "
                        "index vectors), got a scalar")
    n_index = indices.shape[-1]
    expected_rank = indices.ndim - 1 + len(dn.update_window_dims)
    if updates.ndim != expected_rank:
        raise TypeError(f"{name}: updates of shape {shape_str(updates.shape)} must have rank "
                        f"{expected_rank} (the {indices.ndim - 1} batch axes of scatter_indices "
                        f"of shape {shape_str(indices.shape)} plus "
                        f"{len(dn.update_window_dims)} update_window_dims)")

    _check_dims(name, "update_window_dims", dn.update_window_dims, updates.ndim, "updates")

    _check_dims(name, "inserted_window_dims", dn.inserted_window_dims, operand.ndim,
                "operand")
    _check_batching_dims(name, operand, indices, dn.operand_batching_dims, "scatter_indices",
                         dn.scatter_indices_batching_dims,
                         ("inserted_window_dims", dn.inserted_window_dims),
                         ("scatter_dims_to_operand_dims", dn.scatter_dims_to_operand_dims))

    n_dims = (len(dn.update_window_dims) + len(dn.inserted_window_dims)
              + len(dn.operand_batching_dims))
    if n_dims != operand.ndim:
        raise TypeError(f"{name}: every operand axis must be exactly one of a window axis, an "
                        f"inserted axis or a batching axis; the operand has rank "
                        f"{operand.ndim} but update_window_dims={dn.update_window_dims}, "
                        f"inserted_window_dims={dn.inserted_window_dims}, "
                        f"operand_batching_dims={dn.operand_batching_dims} account for "
                        f"{n_dims}")

    if len(dn.scatter_dims_to_operand_dims) != n_index:
        raise TypeError(f"{name}: scatter_dims_to_operand_dims "
                        f"{dn.scatter_dims_to_operand_dims} has "
                        f"{len(dn.scatter_dims_to_operand_dims)} entries but the index vectors "
                        f"(last axis of scatter_indices of shape {shape_str(indices.shape)}) "
                        f"have {n_index}; they must be equal")
    _check_in_range(name, "scatter_dims_to_operand_dims", dn.scatter_dims_to_operand_dims,
                    operand.ndim, "operand")
    _check_unique(name, "scatter_dims_to_operand_dims", dn.scatter_dims_to_operand_dims)

    skip = set(dn.inserted_window_dims) | set(dn.operand_batching_dims)
    window_operand_dims = [d for d in range(operand.ndim) if d not in skip]
    for u, d in zip(dn.update_window_dims, window_operand_dims):
        if updates.shape[u] > operand.shape[d]:
            raise TypeError(f"{name}: updates window axis {u} has size {updates.shape[u]}, "
                            f"larger than operand axis {d} of size {operand.shape[d]} "
                            f"(updates {shape_str(updates.shape)}, operand "
                            f"{shape_str(operand.shape)})")
    scatter_axes = [d for d in range(updates.ndim) if d not in dn.update_window_dims]
    got = tuple(updates.shape[d] for d in scatter_axes)
    if got != indices.shape[:-1]:
        raise TypeError(f"{name}: the non-window axes {tuple(scatter_axes)} of updates of shape "
                        f"{shape_str(updates.shape)} have sizes {got}, but must equal the "
                        f"batch axes of scatter_indices of shape {shape_str(indices.shape)}, "
                        f"{shape_str(indices.shape[:-1])}")
    return ShapedArray(operand.shape, operand.dtype, operand.weak_type)


def _scatter_primitive(name: str, kinds: str) -> Primitive:
    p = Primitive(name)

    def rule(operand, indices, updates, **params):
        return _scatter_shape(name, kinds, operand, indices, updates, **params)
    p.def_shape(rule)
    return p


scatter_p = _scatter_primitive("scatter", "biufc")
scatter_add_p = _scatter_primitive("scatter_add", "iufc")
scatter_mul_p = _scatter_primitive("scatter_mul", "iufc")
scatter_min_p = _scatter_primitive("scatter_min", "biuf")
scatter_max_p = _scatter_primitive("scatter_max", "biuf")


def _scatter_bind(p: Primitive, operand, scatter_indices, updates, dimension_numbers,
                  indices_are_sorted, unique_indices, mode):
    name = p.name
    operand, updates = operands((operand, updates))  # the shape rule checks dtypes
    scatter_indices = as_operand(scatter_indices)
    if is_python_scalar(scatter_indices):
        raise TypeError(f"{name}: scatter_indices must be an integer array of rank >= 1 (its "
                        f"last axis holds the index vectors), got {scatter_indices!r}")
    dnums = _canonical_dnums(name, dimension_numbers, ScatterDimensionNumbers)
    return p.bind(operand, scatter_indices, updates, dimension_numbers=dnums,
                  indices_are_sorted=_check_flag(name, "indices_are_sorted",
                                                 indices_are_sorted),
                  unique_indices=_check_flag(name, "unique_indices", unique_indices),
                  mode=GatherScatterMode.from_any(mode))


def scatter(operand: Any, scatter_indices: Any, updates: Any,
            dimension_numbers: ScatterDimensionNumbers, *, indices_are_sorted: bool = False,
            unique_indices: bool = False, mode: Any = None):
    """``operand`` with one block of ``updates`` written per index vector (last axis of
    ``scatter_indices``), placed as ``dimension_numbers`` says (see the module docstring);
    with repeated indices, which write wins is unspecified. ``mode=None``/``'drop'`` skips
    out-of-bounds blocks, ``'clip'`` clamps them in. ``x.at[idx].set(u)`` for ``x: f32[5, 3]``,
    ``idx: i32[4]``, ``u: f32[4, 3]`` is ``scatter(x, idx[:, None], u,
    ScatterDimensionNumbers((1,), (0,), (0,)))``, of shape ``(5, 3)``."""
    return _scatter_bind(scatter_p, operand, scatter_indices, updates, dimension_numbers,
                         indices_are_sorted, unique_indices, mode)


def scatter_add(operand: Any, scatter_indices: Any, updates: Any,
                dimension_numbers: ScatterDimensionNumbers, *, indices_are_sorted: bool = False,
                unique_indices: bool = False, mode: Any = None):
    """Like :func:`scatter`, but each block is added to what is there (repeated indices
    accumulate): ``x.at[idx].add(u)``. ``scatter_add(zeros_f32[3], [[0], [0]], [1., 2.],
    ScatterDimensionNumbers((), (0,), (0,)))`` is ``[3., 0., 0.]``."""
    return _scatter_bind(scatter_add_p, operand, scatter_indices, updates, dimension_numbers,
                         indices_are_sorted, unique_indices, mode)


def scatter_mul(operand: Any, scatter_indices: Any, updates: Any,
                dimension_numbers: ScatterDimensionNumbers, *, indices_are_sorted: bool = False,
                unique_indices: bool = False, mode: Any = None):
    """Like :func:`scatter`, but each block multiplies what is there: ``x.at[idx].multiply(u)``.
    ``scatter_mul(ones_f32[3], [[1], [1]], [2., 3.], ScatterDimensionNumbers((), (0,), (0,)))``
    is ``[1., 6., 1.]``."""
    return _scatter_bind(scatter_mul_p, operand, scatter_indices, updates, dimension_numbers,
                         indices_are_sorted, unique_indices, mode)


def scatter_min(operand: Any, scatter_indices: Any, updates: Any,
                dimension_numbers: ScatterDimensionNumbers, *, indices_are_sorted: bool = False,
                unique_indices: bool = False, mode: Any = None):
    """Like :func:`scatter`, but keeps the minimum of each block and what is there:
    ``x.at[idx].min(u)``. ``scatter_min(f32[3] of 5s, [[2]], [1.], ScatterDimensionNumbers((),
    (0,), (0,)))`` is ``[5., 5., 1.]``."""
    return _scatter_bind(scatter_min_p, operand, scatter_indices, updates, dimension_numbers,
                         indices_are_sorted, unique_indices, mode)


def scatter_max(operand: Any, scatter_indices: Any, updates: Any,
                dimension_numbers: ScatterDimensionNumbers, *, indices_are_sorted: bool = False,
                unique_indices: bool = False, mode: Any = None):
    """Like :func:`scatter`, but keeps the maximum of each block and what is there:
    ``x.at[idx].max(u)``. ``scatter_max(zeros_f32[3], [[0]], [4.], ScatterDimensionNumbers((),
    (0,), (0,)))`` is ``[4., 0., 0.]``."""
    return _scatter_bind(scatter_max_p, operand, scatter_indices, updates, dimension_numbers,
                         indices_are_sorted, unique_indices, mode)


# ---------------------------------------------------------------------------------------
# Derivative rules
#
# Start and scatter indices are integers: they never carry a derivative. In their array
# data, dynamic_slice, dynamic_update_slice, gather and scatter_add are linear (their jvp
# applies them to the tangents, and they have transpose rules); scatter is linear too when
# its indices are unique. scatter_mul, scatter_min and scatter_max are not linear in their
# updates; their jvps are written with linear primitives only (scatter_mul stays linear in
# its operand, so it has a transpose rule for that argument).

from functorch_lite.interpreters import ad  # noqa: E402
from functorch_lite.interpreters.transpose import is_undefined  # noqa: E402


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


def _fill_for(mode: GatherScatterMode, dtype) -> Any:
    """``gather``'s fill_value param for a derivative gather: 0 where blocks are filled."""
    return _canonical_fill_value(0, dtype) if mode is GatherScatterMode.FILL_OR_DROP else None


def _scatter_dnums_of(dn: GatherDimensionNumbers) -> ScatterDimensionNumbers:
    """The scatter writing back the blocks a gather with ``dn`` reads."""
    return ScatterDimensionNumbers(
        update_window_dims=dn.offset_dims, inserted_window_dims=dn.collapsed_slice_dims,
        scatter_dims_to_operand_dims=dn.start_index_map,
        operand_batching_dims=dn.operand_batching_dims,
        scatter_indices_batching_dims=dn.start_indices_batching_dims)


def _gather_back(x: Any, indices: Any, dn: ScatterDimensionNumbers,
                 updates_shape: Sequence[int], mode: GatherScatterMode,
                 indices_are_sorted: bool = False, unique_indices: bool = False):
    """Read from ``x`` (shaped like a scatter's operand) the elements a scatter with ``dn``
    writes, arranged like its updates; blocks the scatter drops read as 0."""
    gdn = GatherDimensionNumbers(
        offset_dims=dn.update_window_dims, collapsed_slice_dims=dn.inserted_window_dims,
        start_index_map=dn.scatter_dims_to_operand_dims,
        operand_batching_dims=dn.operand_batching_dims,
        start_indices_batching_dims=dn.scatter_indices_batching_dims)
    window = iter(dn.update_window_dims)
    skip = set(dn.inserted_window_dims) | set(dn.operand_batching_dims)
    sizes = tuple(1 if d in skip else updates_shape[next(window)]
                  for d in range(get_aval(x).ndim))
    return gather_p.bind(x, indices, dimension_numbers=gdn, slice_sizes=sizes,
                         indices_are_sorted=indices_are_sorted,
                         unique_indices=unique_indices, mode=mode,
                         fill_value=_fill_for(mode, get_aval(x).dtype))


# -- dynamic_slice / dynamic_update_slice -------------------------------------------------

def _dynamic_slice_jvp(primals, tangents, *, slice_sizes):
    operand, *starts = primals
    out = dynamic_slice_p.bind(operand, *starts, slice_sizes=slice_sizes)
    if not _has_tangent(out, tangents[0]):
        return out, _zero_tangent(out)
    return out, dynamic_slice_p.bind(tangents[0], *starts, slice_sizes=slice_sizes)


def _dynamic_slice_transpose(ct, operand, *starts, slice_sizes):
    # The slice's cotangent goes back where the slice came from: the start indices are
    # clamped by dynamic_update_slice exactly as by dynamic_slice.
    if type(ct) is ad.Zero or not is_undefined(operand):
        return [None] * (1 + len(starts))
    return [dynamic_update_slice_p.bind(_zeros(operand), ct, *starts)] + [None] * len(starts)


def _dynamic_update_slice_jvp(primals, tangents):
    operand, update, *starts = primals
    t_operand, t_update = tangents[:2]
    out = dynamic_update_slice_p.bind(operand, update, *starts)
    if not _has_tangent(out, t_operand, t_update):
        return out, _zero_tangent(out)
    return out, dynamic_update_slice_p.bind(ad.instantiate(t_operand),
                                            ad.instantiate(t_update), *starts)


def _dynamic_update_slice_transpose(ct, operand, update, *starts):
    # Linear in (operand, update) jointly: the window's cotangent goes to the update, the
    # rest to the operand.
    out = [None] * (2 + len(starts))
    if type(ct) is ad.Zero:
        return out
    update_aval = _aval_of(update)
    if is_undefined(operand):
        out[0] = dynamic_update_slice_p.bind(ct, _zeros(update_aval), *starts)
    if is_undefined(update):
        out[1] = dynamic_slice_p.bind(ct, *starts, slice_sizes=update_aval.shape)
    return out


dynamic_slice_p.def_jvp(_dynamic_slice_jvp)
dynamic_slice_p.def_transpose(_dynamic_slice_transpose)
dynamic_update_slice_p.def_jvp(_dynamic_update_slice_jvp)
dynamic_update_slice_p.def_transpose(_dynamic_update_slice_transpose)


# -- gather ------------------------------------------------------------------------------

def _gather_jvp(primals, tangents, *, dimension_numbers, slice_sizes, indices_are_sorted,
                unique_indices, mode, fill_value):
    operand, indices = primals
    params = dict(dimension_numbers=dimension_numbers, slice_sizes=slice_sizes,
                  indices_are_sorted=indices_are_sorted, unique_indices=unique_indices,
                  mode=mode)
    out = gather_p.bind(operand, indices, fill_value=fill_value, **params)
    if not _has_tangent(out, tangents[0]):
        return out, _zero_tangent(out)
    # filled blocks are constants: their tangent is 0 (not the primal's fill value)
    return out, gather_p.bind(tangents[0], indices,
                              fill_value=_fill_for(mode, get_aval(out).dtype), **params)


def _gather_transpose(ct, operand, indices, *, dimension_numbers, slice_sizes,
                      indices_are_sorted, unique_indices, mode, fill_value):
    # Every read element's cotangent is added back where it was read from (blocks may
    # overlap, hence scatter_add). A dropped (filled) block gets nothing: scatter drops the
    # same blocks; clamped blocks are clamped the same way.
    if type(ct) is ad.Zero or not is_undefined(operand):
        return [None, None]
    if operand.aval.ndim == 0:
        # Every block is the whole scalar. (XLA rejects scatters into a rank-0 operand.)
        from functorch_lite.lax.reductions import reduce_sum
        return [reduce_sum(ct, tuple(range(get_aval(ct).ndim))), None]
    ct_operand = scatter_add_p.bind(
        _zeros(operand), indices, ct, dimension_numbers=_scatter_dnums_of(dimension_numbers),
        indices_are_sorted=indices_are_sorted, unique_indices=unique_indices, mode=mode)
    return [ct_operand, None]


gather_p.def_jvp(_gather_jvp)
gather_p.def_transpose(_gather_transpose)


# -- scatter_add -------------------------------------------------------------------------

def _scatter_add_jvp(primals, tangents, **params):
    operand, indices, updates = primals
    t_operand, _, t_updates = tangents
    out = scatter_add_p.bind(operand, indices, updates, **params)
    if not _has_tangent(out, t_operand, t_updates):
        return out, _zero_tangent(out)
    return out, scatter_add_p.bind(ad.instantiate(t_operand), indices,
                                   ad.instantiate(t_updates), **params)


def _scatter_add_transpose(ct, operand, indices, updates, *, dimension_numbers,
                           indices_are_sorted, unique_indices, mode):
    if type(ct) is ad.Zero:
        return [None, None, None]
    ct_operand = ct if is_undefined(operand) else None
    ct_updates = None
    if is_undefined(updates):
        ct_updates = _gather_back(ct, indices, dimension_numbers, updates.aval.shape, mode,
                                  indices_are_sorted, unique_indices)
    return [ct_operand, None, ct_updates]


scatter_add_p.def_jvp(_scatter_add_jvp)
scatter_add_p.def_transpose(_scatter_add_transpose)


# -- scatter -----------------------------------------------------------------------------

def _update_ids(updates_shape: Sequence[int], dn: ScatterDimensionNumbers):
    """An int32 array shaped like the updates: 1, 2, ... numbering the update blocks (every
    element of a block has its block's number)."""
    ids_shape = tuple(1 if d in dn.update_window_dims else s
                      for d, s in enumerate(updates_shape))
    i32 = np.dtype(np.int32)
    ids = shapes.reshape(shapes.iota(i32, math.prod(ids_shape)), ids_shape)
    ids = ew.add(ids, scalar_like(1, i32, weak_type=False))
    return shapes.broadcast_in_dim(ids, tuple(updates_shape), tuple(range(len(ids_shape))))


def _scatter_jvp(primals, tangents, *, dimension_numbers, indices_are_sorted,
                 unique_indices, mode):
    operand, indices, updates = primals
    t_operand, _, t_updates = tangents
    dn = dimension_numbers
    params = dict(dimension_numbers=dn, indices_are_sorted=indices_are_sorted,
                  unique_indices=unique_indices, mode=mode)
    if (not dtypes.is_inexact(get_aval(operand).dtype)
            or all(type(t) is ad.Zero for t in (t_operand, t_updates))):
        out = scatter_p.bind(operand, indices, updates, **params)
        return out, _zero_tangent(out)
    t_operand, t_updates = ad.instantiate(t_operand), ad.instantiate(t_updates)
    if unique_indices:  # every element is written at most once: scatter the tangents alike
        return (scatter_p.bind(operand, indices, updates, **params),
                scatter_p.bind(t_operand, indices, t_updates, **params))
    # With repeated indices, which write wins is unspecified, and the tangent must come from
    # the same winner as the value. So find the winners once: scatter the update numbers
    # (1, 2, ...), read back which number landed where each update was going, and keep only
    # the winning updates (and the operand elements nobody wrote). Both value and tangent
    # are then sums of the kept elements (a scatter_add, which also transposes).
    ids = _update_ids(get_aval(updates).shape, dn)
    i32 = np.dtype(np.int32)
    written = scatter_p.bind(shapes.full(get_aval(operand).shape, 0, i32), indices, ids,
                             **params)
    won = ew.eq(ids, _gather_back(written, indices, dn, get_aval(updates).shape, mode,
                                  indices_are_sorted, unique_indices))
    kept = ew.eq(written, scalar_like(0, i32, weak_type=False))

    def combine(x, u):
        return scatter_add_p.bind(ew.select(kept, x, _zeros(get_aval(x))), indices,
                                  ew.select(won, u, _zeros(get_aval(u))), **params)
    return combine(operand, updates), combine(t_operand, t_updates)


def _scatter_transpose(ct, operand, indices, updates, *, dimension_numbers,
                       indices_are_sorted, unique_indices, mode):
    # Linear in (operand, updates) jointly only when no element is written twice (otherwise
    # the cotangent of a written element belongs to an unspecified one of its writers). The
    # jvp above only leaves scatters with unique indices in linear programs.
    if not unique_indices:
        raise NotImplementedError("scatter: transpose (reverse-mode differentiation) is only "
                                  "defined for unique_indices=True")
    if type(ct) is ad.Zero:
        return [None, None, None]
    params = dict(dimension_numbers=dimension_numbers, indices_are_sorted=indices_are_sorted,
                  unique_indices=unique_indices, mode=mode)
    updates_aval = _aval_of(updates)
    ct_operand = ct_updates = None
    if is_undefined(operand):  # overwritten elements do not reach the output
        ct_operand = scatter_p.bind(ct, indices, _zeros(updates_aval), **params)
    if is_undefined(updates):
        ct_updates = _gather_back(ct, indices, dimension_numbers, updates_aval.shape, mode,
                                  indices_are_sorted, unique_indices)
    return [ct_operand, None, ct_updates]


scatter_p.def_jvp(_scatter_jvp)
scatter_p.def_transpose(_scatter_transpose)


# -- scatter_mul -------------------------------------------------------------------------

def _products_without_each(operand_aval: ShapedArray, indices, updates, dn, params):
    """For each update element ``u_k``, the product of the *other* updates written to the
    same operand element (``prod_{j != k} u_j``), computed without dividing by zero: with
    the count ``z`` of zero updates at that element and the product ``p`` of its non-zero
    ones, it is ``p / u_k`` if ``z == 0``, ``p`` if ``u_k`` is the single zero, else 0.

    Its value is exact everywhere, so scatter_mul's first derivative is; its own derivative
    (scatter_mul's second derivative) is exact except at updates that are exactly 0 and
    share their element with another update (the zero branches are constant there)."""
    dt = get_aval(updates).dtype
    is_zero = ew.eq(updates, scalar_like(0, dt, weak_type=False))
    ones = shapes.full(get_aval(updates).shape, 1, dt)
    safe = ew.select(is_zero, ones, updates)
    prod_nonzero = scatter_mul_p.bind(shapes.full(operand_aval.shape, 1, dt), indices, safe,
                                      **params)
    i32 = np.dtype(np.int32)
    n_zero = scatter_add_p.bind(shapes.full(operand_aval.shape, 0, i32), indices,
                                ew.convert_element_type(is_zero, i32), **params)
    shape = get_aval(updates).shape
    mode = params["mode"]
    p = _gather_back(prod_nonzero, indices, dn, shape, mode)
    z = _gather_back(n_zero, indices, dn, shape, mode)
    zero = shapes.full(shape, 0, dt)
    z_is = lambda n: ew.eq(z, scalar_like(n, i32, weak_type=False))  # noqa: E731
    return ew.select(is_zero, ew.select(z_is(1), p, zero),
                     ew.select(z_is(0), ew.div(p, safe), zero))


def _scatter_mul_jvp(primals, tangents, *, dimension_numbers, indices_are_sorted,
                     unique_indices, mode):
    # out = x * prod_k u_k (over the updates written to each element), so
    # d out = dx * prod_k u_k + x * sum_k du_k * prod_{j != k} u_j.
    operand, indices, updates = primals
    t_operand, _, t_updates = tangents
    params = dict(dimension_numbers=dimension_numbers, indices_are_sorted=indices_are_sorted,
                  unique_indices=unique_indices, mode=mode)
    out = scatter_mul_p.bind(operand, indices, updates, **params)
    if not _has_tangent(out, t_operand, t_updates):
        return out, _zero_tangent(out)
    t_out: Any = _zero_tangent(out)
    if type(t_operand) is not ad.Zero:
        t_out = scatter_mul_p.bind(t_operand, indices, updates, **params)
    if type(t_updates) is not ad.Zero:
        if not unique_indices:  # with unique indices, the product of the others is 1
            t_updates = ew.mul(t_updates, _products_without_each(
                get_aval(operand), indices, updates, dimension_numbers, params))
        summed = scatter_add_p.bind(_zeros(get_aval(out)), indices, t_updates, **params)
        t_out = ad.add_tangents(t_out, ew.mul(operand, summed))
    return out, t_out


def _scatter_mul_transpose(ct, operand, indices, updates, *, dimension_numbers,
                           indices_are_sorted, unique_indices, mode):
    # Linear in the operand alone (each element is scaled by its product of updates: a
    # diagonal map, its own transpose).
    if is_undefined(updates):
        raise NotImplementedError("scatter_mul: transpose is only defined with respect to "
                                  "the operand (it is not linear in its updates)")
    if type(ct) is ad.Zero or not is_undefined(operand):
        return [None, None, None]
    return [scatter_mul_p.bind(ct, indices, updates, dimension_numbers=dimension_numbers,
                               indices_are_sorted=indices_are_sorted,
                               unique_indices=unique_indices, mode=mode), None, None]


scatter_mul_p.def_jvp(_scatter_mul_jvp)
scatter_mul_p.def_transpose(_scatter_mul_transpose)


# -- scatter_min / scatter_max -----------------------------------------------------------

def _scatter_extremum_jvp(p: Primitive):
    """The tangent of the value that wins; where several equal values tie (the operand
    and/or updates), their tangents are averaged, as for ``max``/``min``."""
    def rule(primals, tangents, *, dimension_numbers, indices_are_sorted, unique_indices,
             mode):
        operand, indices, updates = primals
        t_operand, _, t_updates = tangents
        dn = dimension_numbers
        params = dict(dimension_numbers=dn, indices_are_sorted=indices_are_sorted,
                      unique_indices=unique_indices, mode=mode)
        out = p.bind(operand, indices, updates, **params)
        if not _has_tangent(out, t_operand, t_updates):
            return out, _zero_tangent(out)
        out_aval = get_aval(out)
        dt = out_aval.dtype
        updates_shape = get_aval(updates).shape
        as_float = lambda b: ew.convert_element_type(b, dt)  # noqa: E731
        update_won = as_float(ew.eq(updates, _gather_back(out, indices, dn, updates_shape,
                                                          mode)))
        n_updates_won = scatter_add_p.bind(_zeros(out_aval), indices, update_won, **params)
        zero = scalar_like(0, dt, weak_type=False)
        # The operand wins where it equals the result, and where no update won at all
        # (no update reached the element, or NaNs compare unequal).
        operand_won = as_float(ew.bitwise_or(ew.eq(operand, out), ew.eq(n_updates_won, zero)))
        count = ew.add(operand_won, n_updates_won)
        t_out: Any = _zero_tangent(out)
        if type(t_operand) is not ad.Zero:
            t_out = ew.mul(t_operand, operand_won)
        if type(t_updates) is not ad.Zero:
            t_out = ad.add_tangents(t_out, scatter_add_p.bind(
                _zeros(out_aval), indices, ew.mul(t_updates, update_won), **params))
        return out, ew.div(t_out, count)
    return rule


scatter_min_p.def_jvp(_scatter_extremum_jvp(scatter_min_p))
scatter_max_p.def_jvp(_scatter_extremum_jvp(scatter_max_p))


# ---------------------------------------------------------------------------------------
# Batching rules
#
# gather and scatter batch through their batching dimension numbers: the batch axis is moved
# to the front of the operand (and updates) and of the indices, and declared as a pair of
# batching axes (or, when the indices are not batched, as one more window axis). A
# dynamic_slice/dynamic_update_slice with batched start indices becomes a gather/scatter.

from functorch_lite.interpreters import batching  # noqa: E402


def _plus1(dims: Sequence[int]) -> tuple[int, ...]:
    return tuple(d + 1 for d in dims)


def _gather_batch(axis, args, dims, *, dimension_numbers, slice_sizes, **params):
    operand, indices = args
    operand_dim, indices_dim = dims
    dn = dimension_numbers
    if indices_dim is None:  # the batch axis is one more axis of every block
        operand = batching.bdim_at_front(operand, operand_dim, axis.size)
        dn = GatherDimensionNumbers(
            offset_dims=(0,) + _plus1(dn.offset_dims),
            collapsed_slice_dims=_plus1(dn.collapsed_slice_dims),
            start_index_map=_plus1(dn.start_index_map),
            operand_batching_dims=_plus1(dn.operand_batching_dims),
            start_indices_batching_dims=dn.start_indices_batching_dims)
        slice_sizes = (axis.size,) + tuple(slice_sizes)
    elif operand_dim is None:  # one more batch axis of the indices
        indices = batching.bdim_at_front(indices, indices_dim, axis.size)
        dn = dn._replace(offset_dims=_plus1(dn.offset_dims),
                         start_indices_batching_dims=_plus1(dn.start_indices_batching_dims))
    else:  # index batch b reads from operand slab b
        operand = batching.bdim_at_front(operand, operand_dim, axis.size)
        indices = batching.bdim_at_front(indices, indices_dim, axis.size)
        dn = GatherDimensionNumbers(
            offset_dims=_plus1(dn.offset_dims),
            collapsed_slice_dims=_plus1(dn.collapsed_slice_dims),
            start_index_map=_plus1(dn.start_index_map),
            operand_batching_dims=(0,) + _plus1(dn.operand_batching_dims),
            start_indices_batching_dims=(0,) + _plus1(dn.start_indices_batching_dims))
        slice_sizes = (1,) + tuple(slice_sizes)
    return gather_p.bind(operand, indices, dimension_numbers=dn, slice_sizes=slice_sizes,
                         **params), 0


def _scatter_batch(p: Primitive):
    def rule(axis, args, dims, *, dimension_numbers, **params):
        operand, indices, updates = args
        operand_dim, indices_dim, updates_dim = dims
        dn = dimension_numbers
        # the result is batched: the operand gets a batch axis even when it has none
        operand = batching.bdim_at_front(operand, operand_dim, axis.size)
        updates = batching.bdim_at_front(updates, updates_dim, axis.size)
        if indices_dim is None:  # the batch axis is one more axis of every block
            dn = ScatterDimensionNumbers(
                update_window_dims=(0,) + _plus1(dn.update_window_dims),
                inserted_window_dims=_plus1(dn.inserted_window_dims),
                scatter_dims_to_operand_dims=_plus1(dn.scatter_dims_to_operand_dims),
                operand_batching_dims=_plus1(dn.operand_batching_dims),
                scatter_indices_batching_dims=dn.scatter_indices_batching_dims)
        else:  # index batch b writes into operand slab b
            indices = batching.bdim_at_front(indices, indices_dim, axis.size)
            dn = ScatterDimensionNumbers(
                update_window_dims=_plus1(dn.update_window_dims),
                inserted_window_dims=_plus1(dn.inserted_window_dims),
                scatter_dims_to_operand_dims=_plus1(dn.scatter_dims_to_operand_dims),
                operand_batching_dims=(0,) + _plus1(dn.operand_batching_dims),
                scatter_indices_batching_dims=(0,) + _plus1(dn.scatter_indices_batching_dims))
        return p.bind(operand, indices, updates, dimension_numbers=dn, **params), 0
    return rule


gather_p.def_batch(_gather_batch)
for _p in (scatter_p, scatter_add_p, scatter_mul_p, scatter_min_p, scatter_max_p):
    _p.def_batch(_scatter_batch(_p))


def _index_vectors(starts: Sequence[Any], dims: Sequence[int | None], size: int):
    """Scalar start indices, some batched, as one ``(size, len(starts))`` index array."""
    columns = [shapes.broadcast_in_dim(s, (size, 1), () if d is None else (0,))
               for s, d in zip(starts, dims)]
    return shapes.concatenate(columns, 1)


def _zero_start(starts: Sequence[Any]):
    dt = get_aval(starts[0]).dtype if starts else np.dtype(np.int32)
    return scalar_like(0, dt, weak_type=False)


@dynamic_slice_p.def_batch
def _dynamic_slice_batch(axis, args, dims, *, slice_sizes):
    operand, *starts = args
    operand_dim, *start_dims = dims
    if all(d is None for d in start_dims):  # slice the whole batch axis where it is
        starts.insert(operand_dim, _zero_start(starts))
        sizes = list(slice_sizes)
        sizes.insert(operand_dim, axis.size)
        return dynamic_slice_p.bind(operand, *starts, slice_sizes=tuple(sizes)), operand_dim
    # One block per batch member: a gather, clamping the starts as dynamic_slice does.
    n = len(starts)
    indices = _index_vectors(starts, start_dims, axis.size)
    dn = GatherDimensionNumbers(offset_dims=tuple(range(n)), collapsed_slice_dims=(),
                                start_index_map=tuple(range(n)))
    return _gather_batch(axis, [operand, indices], [operand_dim, 0], dimension_numbers=dn,
                         slice_sizes=tuple(slice_sizes), indices_are_sorted=False,
                         unique_indices=False, mode=GatherScatterMode.CLIP, fill_value=None)


@dynamic_update_slice_p.def_batch
def _dynamic_update_slice_batch(axis, args, dims):
    operand, update, *starts = args
    operand_dim, update_dim, *start_dims = dims
    if all(d is None for d in start_dims):  # update the whole batch axis
        if operand_dim is not None and operand_dim == update_dim:
            bdim = operand_dim
        else:
            operand = batching.bdim_at_front(operand, operand_dim, axis.size)
            update = batching.bdim_at_front(update, update_dim, axis.size)
            bdim = 0
        starts.insert(bdim, _zero_start(starts))
        return dynamic_update_slice_p.bind(operand, update, *starts), bdim
    # One block per batch member: a scatter, clamping the starts as dynamic_update_slice.
    n = len(starts)
    indices = _index_vectors(starts, start_dims, axis.size)
    dn = ScatterDimensionNumbers(update_window_dims=tuple(range(n)), inserted_window_dims=(),
                                 scatter_dims_to_operand_dims=tuple(range(n)))
    return _scatter_batch(scatter_p)(axis, [operand, indices, update],
                                     [operand_dim, 0, update_dim], dimension_numbers=dn,
                                     indices_are_sorted=True, unique_indices=True,
                                     mode=GatherScatterMode.CLIP)
