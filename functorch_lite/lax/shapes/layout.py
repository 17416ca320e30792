"""The primitives that change how elements are laid out, not which elements there are:
reshape, broadcast_in_dim (with broadcast and expand_dims), transpose and squeeze (with
collapse); each with its shape, derivative and batching rules. All four are linear."""
from __future__ import annotations

import builtins
from typing import Any, Sequence

import numpy as np

from functorch_lite.core.avals import Array, ShapedArray, get_aval
from functorch_lite.core.primitive import Primitive
from functorch_lite.interpreters import ad, batching
from functorch_lite.lax._common import as_operand, canonical_shape, shape_str
from functorch_lite.lax.shapes._util import (_axes, _axis, _int, _ints, _inverse_perm,
                                             _shift, _sum)


# ---------------------------------------------------------------------------------------
# reshape

reshape_p = Primitive("reshape")


@reshape_p.def_shape
def _reshape_shape(x, *, new_sizes, dimensions):
    if any(d < 0 for d in new_sizes):
        raise ValueError(f"reshape: new_sizes {new_sizes} has a negative dimension")
    if dimensions is not None and sorted(dimensions) != list(range(x.ndim)):
        raise ValueError(f"reshape: dimensions {dimensions} is not a permutation of the axes "
                         f"of an array of rank {x.ndim} (shape {shape_str(x.shape)})")
    size = int(np.prod(new_sizes, dtype=np.int64))
    if size != x.size:
        raise TypeError(f"reshape: cannot reshape array of shape {shape_str(x.shape)} "
                        f"(size {x.size}) into shape {shape_str(new_sizes)} (size {size})")
    return ShapedArray(new_sizes, x.dtype, x.weak_type)


def reshape(operand: Any, new_sizes: Sequence[int], dimensions: Sequence[int] | None = None):
    """Reshape ``operand`` to ``new_sizes`` (same number of elements), reading its elements
    in row-major order; with ``dimensions``, the operand is first transposed by that
    permutation (``reshape(x, s, dims) == reshape(transpose(x, dims), s)``). No ``-1``
    placeholder here (``functorch_lite.numpy.reshape`` has it). Example: ``reshape(x, (3, 2),
    (1, 0))`` with ``x`` of shape ``(2, 3)`` gives ``x.T`` as a ``(3, 2)`` array."""
    operand = as_operand(operand)
    new_sizes = canonical_shape("reshape", new_sizes)
    aval = get_aval(operand)
    dims = None
    if dimensions is not None:
        dims = _ints("reshape", "dimensions", dimensions)
        if dims == tuple(range(aval.ndim)):
            dims = None
    if dims is None and new_sizes == aval.shape and isinstance(operand, Array):
        return operand
    return reshape_p.bind(operand, new_sizes=new_sizes, dimensions=dims)


def _reshape_transpose(ct, x, *, new_sizes, dimensions):
    if type(ct) is ad.Zero:
        return [None]
    shape = x.aval.shape
    if dimensions is None:
        return [reshape(ct, shape)]
    # forward: transpose by ``dimensions``, then reshape; backward: the reverse
    permuted = reshape(ct, tuple(shape[d] for d in dimensions))
    return [transpose(permuted, _inverse_perm(dimensions))]


ad.deflinear(reshape_p, _reshape_transpose)


@reshape_p.def_batch
def _reshape_batch(axis, args, dims, *, new_sizes, dimensions):
    (x,), (d,) = args, dims
    x = batching.bdim_at_front(x, d, axis.size)
    if dimensions is not None:
        x = transpose(x, (0,) + tuple(p + 1 for p in dimensions))
    return reshape(x, (axis.size,) + tuple(new_sizes)), 0


# ---------------------------------------------------------------------------------------
# broadcast_in_dim

broadcast_in_dim_p = Primitive("broadcast_in_dim")


@broadcast_in_dim_p.def_shape
def _broadcast_in_dim_shape(x, *, shape, broadcast_dimensions):
    bdims = broadcast_dimensions
    where = (f"operand shape {shape_str(x.shape)}, target shape {shape_str(shape)}, "
             f"broadcast_dimensions {bdims}")
    if any(d < 0 for d in shape):
        raise ValueError(f"broadcast_in_dim: negative dimension in target shape {shape}")
    if len(bdims) != x.ndim:
        raise TypeError(f"broadcast_in_dim: broadcast_dimensions must have one entry per "
                        f"operand axis ({x.ndim}); got {where}")
    if len(shape) < x.ndim:
        raise TypeError(f"broadcast_in_dim: the target shape must have at least the operand's "
                        f"rank; got {where}")
    if any(not 0 <= d < len(shape) for d in bdims):
        raise ValueError(f"broadcast_in_dim: broadcast_dimensions must lie in [0, "
                         f"{len(shape)}); got {where}")
    if any(a >= b for a, b in zip(bdims, bdims[1:])):
        raise ValueError(f"broadcast_in_dim: broadcast_dimensions must be strictly "
                         f"increasing; got {where}")
    for i, d in enumerate(bdims):
        if x.shape[i] != 1 and x.shape[i] != shape[d]:
            raise TypeError(f"broadcast_in_dim: operand dimension {i} has size {x.shape[i]}, "
                            f"which must be 1 or the target size {shape[d]} of dimension "
                            f"{d}; got {where}")
    return ShapedArray(shape, x.dtype, x.weak_type)


def broadcast_in_dim(operand: Any, shape: Sequence[int], broadcast_dimensions: Sequence[int]):
    """Broadcast ``operand`` to ``shape``: operand axis ``i`` becomes output axis
    ``broadcast_dimensions[i]`` (strictly increasing) and must have size 1 or that axis's
    size; the other output axes are new. Example: ``broadcast_in_dim(x, (2, 3, 4), (1,))``
    with ``x`` of shape ``(3,)`` gives shape ``(2, 3, 4)`` with ``out[i, j, k] == x[j]``."""
    operand = as_operand(operand)
    shape = canonical_shape("broadcast_in_dim", shape)
    bdims = _ints("broadcast_in_dim", "broadcast_dimensions", broadcast_dimensions)
    aval = get_aval(operand)
    if shape == aval.shape and bdims == tuple(range(aval.ndim)) and isinstance(operand, Array):
        return operand
    return broadcast_in_dim_p.bind(operand, shape=shape, broadcast_dimensions=bdims)


def broadcast(operand: Any, sizes: Sequence[int]):
    """Add leading axes of the given ``sizes``: the result has shape
    ``(*sizes, *operand.shape)``. Example: ``broadcast(x, (2, 3))`` with ``x`` of shape
    ``(4, 5)`` gives shape ``(2, 3, 4, 5)``."""
    operand = as_operand(operand)
    sizes = canonical_shape("broadcast", sizes)
    aval = get_aval(operand)
    dims = tuple(range(len(sizes), len(sizes) + aval.ndim))
    return broadcast_in_dim(operand, sizes + aval.shape, dims)


def expand_dims(array: Any, dimensions: Sequence[int]):
    """Insert axes of size 1 at ``dimensions``, positions in the *result* (negative ones
    count from the result's end). Example: ``expand_dims(x, (0, -1))`` with ``x`` of shape
    ``(3,)`` gives shape ``(1, 3, 1)``."""
    array = as_operand(array)
    aval = get_aval(array)
    dims = _ints("expand_dims", "dimensions", dimensions)
    ndim_out = aval.ndim + len(dims)
    dims = _axes("expand_dims", dims, ndim_out, "dimension")
    shape = list(aval.shape)
    for d in sorted(dims):
        shape.insert(d, 1)
    kept = tuple(i for i in range(ndim_out) if i not in dims)
    return broadcast_in_dim(array, tuple(shape), kept)


def _broadcast_in_dim_transpose(ct, x, *, shape, broadcast_dimensions):
    if type(ct) is ad.Zero:
        return [None]
    in_shape = x.aval.shape
    # Sum over the new axes and the size-1 axes that were expanded; axes of size 1 in the
    # output need no sum (the reshape drops or keeps them).
    kept = set(broadcast_dimensions)
    new_axes = [d for d in range(len(shape)) if d not in kept and shape[d] != 1]
    expanded = [d for i, d in enumerate(broadcast_dimensions)
                if in_shape[i] == 1 and shape[d] != 1]
    summed = _sum(ct, sorted(new_axes + expanded))
    return [reshape(summed, in_shape)]


ad.deflinear(broadcast_in_dim_p, _broadcast_in_dim_transpose)


@broadcast_in_dim_p.def_batch
def _broadcast_in_dim_batch(axis, args, dims, *, shape, broadcast_dimensions):
    # Operand axis d (the batch axis) goes right after the output axis of operand axis
    # d - 1, which keeps broadcast_dimensions increasing without moving anything.
    (x,), (d,) = args, dims
    bdims = broadcast_dimensions
    out_d = bdims[d - 1] + 1 if d > 0 else 0
    out_shape = tuple(shape[:out_d]) + (axis.size,) + tuple(shape[out_d:])
    new_bdims = tuple(bdims[:d]) + (out_d,) + tuple(b + 1 for b in bdims[d:])
    return broadcast_in_dim(x, out_shape, new_bdims), out_d


# ---------------------------------------------------------------------------------------
# transpose

transpose_p = Primitive("transpose")


@transpose_p.def_shape
def _transpose_shape(x, *, permutation):
    if sorted(permutation) != list(range(x.ndim)):
        raise ValueError(f"transpose: permutation {permutation} is not a permutation of the "
                         f"axes of an array of shape {shape_str(x.shape)} (rank {x.ndim})")
    return ShapedArray(tuple(x.shape[p] for p in permutation), x.dtype, x.weak_type)


def transpose(operand: Any, permutation: Sequence[int]):
    """Permute the axes: output axis ``i`` is operand axis ``permutation[i]`` (negative
    entries count from the end). Example: ``transpose(x, (2, 0, 1))`` with ``x`` of shape
    ``(2, 3, 4)`` gives shape ``(4, 2, 3)``."""
    operand = as_operand(operand)
    aval = get_aval(operand)
    perm = _ints("transpose", "permutation", permutation)
    if len(perm) != aval.ndim:
        raise ValueError(f"transpose: permutation {perm} has {len(perm)} entries but the "
                         f"operand has shape {shape_str(aval.shape)} (rank {aval.ndim})")
    perm = tuple(_axis("transpose", p, aval.ndim, "permutation entry") for p in perm)
    if perm == tuple(range(aval.ndim)) and isinstance(operand, Array):
        return operand
    return transpose_p.bind(operand, permutation=perm)


def _transpose_transpose(ct, x, *, permutation):
    if type(ct) is ad.Zero:
        return [None]
    return [transpose(ct, _inverse_perm(permutation))]


ad.deflinear(transpose_p, _transpose_transpose)


@transpose_p.def_batch
def _transpose_batch(axis, args, dims, *, permutation):
    (x,), (d,) = args, dims
    return transpose(x, (d,) + _shift(permutation, d)), 0


# ---------------------------------------------------------------------------------------
# squeeze

squeeze_p = Primitive("squeeze")


@squeeze_p.def_shape
def _squeeze_shape(x, *, dimensions):
    if len(set(dimensions)) != len(dimensions):
        raise ValueError(f"squeeze: repeated dimension in {dimensions}")
    for d in dimensions:
        if not 0 <= d < x.ndim:
            raise ValueError(f"squeeze: dimension {d} is out of bounds for an array of rank "
                             f"{x.ndim}")
        if x.shape[d] != 1:
            raise ValueError(f"squeeze: cannot remove dimension {d} of size {x.shape[d]} "
                             f"(only size-1 dimensions) from shape {shape_str(x.shape)}")
    shape = tuple(s for i, s in enumerate(x.shape) if i not in dimensions)
    return ShapedArray(shape, x.dtype, x.weak_type)


def squeeze(array: Any, dimensions: Sequence[int]):
    """Remove the axes ``dimensions`` (each must have size 1; negative ones count from the
    end). Example: ``squeeze(x, (0, 2))`` with ``x`` of shape ``(1, 3, 1)`` gives ``(3,)``."""
    array = as_operand(array)
    aval = get_aval(array)
    dims = tuple(sorted(_axes("squeeze", dimensions, aval.ndim, "dimension")))
    if not dims and isinstance(array, Array):
        return array
    return squeeze_p.bind(array, dimensions=dims)


def _squeeze_transpose(ct, x, *, dimensions):
    if type(ct) is ad.Zero:
        return [None]
    return [reshape(ct, x.aval.shape)]


ad.deflinear(squeeze_p, _squeeze_transpose)


@squeeze_p.def_batch
def _squeeze_batch(axis, args, dims, *, dimensions):
    (x,), (d,) = args, dims
    out_d = d - builtins.sum(1 for a in dimensions if a < d)
    return squeeze(x, _shift(dimensions, d)), out_d


# ---------------------------------------------------------------------------------------
# collapse

def collapse(operand: Any, start_dimension: int, stop_dimension: int | None = None):
    """Merge the axes ``start_dimension:stop_dimension`` (Python slice rules; ``None`` means
    to the end) into one axis of their product size. Example: ``collapse(x, 1)`` with ``x``
    of shape ``(2, 3, 4)`` gives shape ``(2, 12)``."""
    operand = as_operand(operand)
    shape = get_aval(operand).shape
    start = _int("collapse", "start_dimension", start_dimension)
    stop = None if stop_dimension is None else _int("collapse", "stop_dimension",
                                                    stop_dimension)
    lo, hi, _ = builtins.slice(start, stop).indices(len(shape))
    if hi < lo:
        raise ValueError(f"collapse: empty dimension range [{start_dimension}:{stop_dimension}] "
                         f"for shape {shape_str(shape)}")
    size = int(np.prod(shape[lo:hi], dtype=np.int64))
    return reshape(operand, shape[:lo] + (size,) + shape[hi:])
