"""``dynamic_slice`` / ``dynamic_update_slice``: read or write one block whose start is
known only at run time, with their shape, derivative and batching rules."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from functorch_lite.core import dtypes
from functorch_lite.core.avals import ShapedArray, get_aval
from functorch_lite.core.primitive import Primitive
from functorch_lite.interpreters import ad, batching
from functorch_lite.interpreters.transpose import is_undefined
from functorch_lite.lax import elementwise as ew
from functorch_lite.lax import shapes
from functorch_lite.lax._common import (as_operand, canonical_shape, is_python_scalar,
                                        normalize_axis, operands, scalar_like, shape_str)
from functorch_lite.lax.indexing._params import (GatherDimensionNumbers, GatherScatterMode,
                                                 ScatterDimensionNumbers, _aval_of,
                                                 _check_index_dtype, _has_tangent,
                                                 _zero_tangent, _zeros)
from functorch_lite.lax.indexing.gather import _gather_batch
from functorch_lite.lax.indexing.scatter import _scatter_batch, scatter_p


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
# Derivative rules

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


# ---------------------------------------------------------------------------------------
# Batching rules: with batched start indices, a gather/scatter.

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
