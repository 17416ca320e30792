"""``gather``: read one block per index vector of ``start_indices`` (see the package
docstring for its dimension numbers), with its shape, derivative and batching rules."""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from functorch_lite.core import dtypes
from functorch_lite.core.avals import ShapedArray, TypedScalar, get_aval
from functorch_lite.core.primitive import Primitive
from functorch_lite.interpreters import ad, batching
from functorch_lite.interpreters.transpose import is_undefined
from functorch_lite.lax._common import as_operand, is_python_scalar, shape_str
from functorch_lite.lax.indexing._params import (GatherDimensionNumbers, GatherScatterMode,
                                                 ScatterDimensionNumbers, _canonical_dnums,
                                                 _check_batching_dims, _check_dims,
                                                 _check_flag, _check_in_range,
                                                 _check_index_dtype, _check_unique,
                                                 _has_tangent, _int_tuple, _plus1,
                                                 _zero_tangent, _zeros)
from functorch_lite.lax.reductions import reduce_sum


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
# Derivative rules

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
        return [reduce_sum(ct, tuple(range(get_aval(ct).ndim))), None]
    # late: scatter imports this module (gather and scatter_add transpose each other)
    from functorch_lite.lax.indexing.scatter import scatter_add_p
    ct_operand = scatter_add_p.bind(
        _zeros(operand), indices, ct, dimension_numbers=_scatter_dnums_of(dimension_numbers),
        indices_are_sorted=indices_are_sorted, unique_indices=unique_indices, mode=mode)
    return [ct_operand, None]


gather_p.def_jvp(_gather_jvp)
gather_p.def_transpose(_gather_transpose)


# ---------------------------------------------------------------------------------------
# Batching rule: see the package docstring.

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


gather_p.def_batch(_gather_batch)
