"""The primitives that select, join or pad elements: concatenate, pad, slice (with
slice_in_dim and index_in_dim) and rev; each with its shape, derivative and batching
rules. All four are linear."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from functorch_lite.core.avals import Array, ShapedArray, get_aval
from functorch_lite.core.primitive import Primitive
from functorch_lite.interpreters import ad, batching
from functorch_lite.interpreters.transpose import is_undefined
from functorch_lite.lax._common import as_operand, operands, scalar_like, shape_str
from functorch_lite.lax.elementwise import mul, select
from functorch_lite.lax.shapes._util import (_axes, _axis, _dtype_name, _int, _ints,
                                             _shift, _sum)
from functorch_lite.lax.shapes.creation import full
from functorch_lite.lax.shapes.layout import broadcast_in_dim, squeeze


# ---------------------------------------------------------------------------------------
# concatenate

concatenate_p = Primitive("concatenate")


@concatenate_p.def_shape
def _concatenate_shape(*xs, dimension):
    if not xs:
        raise TypeError("concatenate: expected at least one operand, got 0")
    shapes = ", ".join(shape_str(x.shape) for x in xs)
    if len({x.dtype for x in xs}) != 1:
        raise TypeError("concatenate: operands must have the same dtype, got "
                        + ", ".join(_dtype_name(x.dtype) for x in xs))
    if len({x.ndim for x in xs}) != 1:
        raise TypeError(f"concatenate: operands must have the same rank, got shapes {shapes}")
    ndim = xs[0].ndim
    if ndim == 0:
        raise TypeError("concatenate: cannot concatenate rank-0 arrays (add an axis with "
                        "expand_dims or broadcast first)")
    if not 0 <= dimension < ndim:
        raise ValueError(f"concatenate: dimension {dimension} is out of bounds for arrays of "
                         f"rank {ndim}")
    rest = {x.shape[:dimension] + x.shape[dimension + 1:] for x in xs}
    if len(rest) != 1:
        raise TypeError(f"concatenate: operand shapes must agree except in dimension "
                        f"{dimension}, got shapes {shapes}")
    out = list(xs[0].shape)
    out[dimension] = sum(x.shape[dimension] for x in xs)
    return ShapedArray(out, xs[0].dtype, all(x.weak_type for x in xs))


def concatenate(operands: Sequence[Any], dimension: int):
    """Join arrays of one dtype and rank along ``dimension`` (negative counts from the end);
    every other axis must agree. Example: ``concatenate([x, y], 1)`` with shapes ``(2, 3)``
    and ``(2, 5)`` gives shape ``(2, 8)``."""
    if isinstance(operands, (np.ndarray, str)) or not hasattr(operands, "__iter__") \
            or isinstance(operands, Array):
        raise TypeError(f"concatenate: operands must be a sequence of arrays, got "
                        f"{type(operands).__name__}")
    operands = [as_operand(x) for x in operands]
    if not operands:
        raise ValueError("concatenate: expected at least one operand, got 0")
    ndim = get_aval(operands[0]).ndim
    if ndim == 0:
        raise TypeError("concatenate: cannot concatenate rank-0 arrays (add an axis with "
                        "expand_dims or broadcast first)")
    dimension = _axis("concatenate", dimension, ndim, "dimension")
    if len(operands) == 1 and isinstance(operands[0], Array):
        return operands[0]
    return concatenate_p.bind(*operands, dimension=dimension)


def _concatenate_transpose(ct, *xs, dimension):
    if type(ct) is ad.Zero:
        return [None] * len(xs)
    out, offset = [], 0
    for x in xs:
        size = (x.aval if is_undefined(x) else get_aval(x)).shape[dimension]
        out.append(slice_in_dim(ct, offset, offset + size, 1, dimension)
                   if is_undefined(x) else None)
        offset += size
    return out


ad.deflinear(concatenate_p, _concatenate_transpose)


@concatenate_p.def_batch
def _concatenate_batch(axis, args, dims, *, dimension):
    # Align every operand on the first batched operand's batch axis (broadcasting the
    # unbatched ones) and join along the shifted dimension.
    target = next(d for d in dims if d is not None)
    xs = [batching.move_dim(x, d, target, axis.size) for x, d in zip(args, dims)]
    return concatenate(xs, dimension + (dimension >= target)), target


# ---------------------------------------------------------------------------------------
# pad

pad_p = Primitive("pad")


@pad_p.def_shape
def _pad_shape(x, padding_value, *, padding_config):
    if padding_value.ndim != 0:
        raise TypeError(f"pad: padding_value must be a scalar, got shape "
                        f"{shape_str(padding_value.shape)}")
    if padding_value.dtype != x.dtype:
        raise TypeError(f"pad: padding_value must have the operand's dtype "
                        f"{_dtype_name(x.dtype)}, got {_dtype_name(padding_value.dtype)}")
    if len(padding_config) != x.ndim:
        raise ValueError(f"pad: padding_config needs one (low, high, interior) triple per "
                         f"axis of the operand of shape {shape_str(x.shape)}, got "
                         f"{padding_config}")
    if any(len(c) != 3 for c in padding_config):
        raise ValueError(f"pad: each padding_config entry must be (low, high, interior), "
                         f"got {padding_config}")
    if any(i < 0 for _, _, i in padding_config):
        raise ValueError(f"pad: interior padding must be non-negative, got {padding_config}")
    out = tuple(lo + hi + (d + (d - 1) * i if d else 0)
                for (lo, hi, i), d in zip(padding_config, x.shape))
    if any(d < 0 for d in out):
        raise ValueError(f"pad: padding_config {padding_config} crops the operand of shape "
                         f"{shape_str(x.shape)} to a negative size {out}")
    return ShapedArray(out, x.dtype, x.weak_type and padding_value.weak_type)


def pad(operand: Any, padding_value: Any, padding_config: Sequence[tuple[int, int, int]]):
    """Pad with the scalar ``padding_value``: for each axis, ``(low, high, interior)`` adds
    ``low`` elements before, ``high`` after and ``interior`` between neighbouring elements.
    Negative ``low``/``high`` remove elements from that edge. Example: ``pad(x, 0., [(1, 2,
    1)])`` with ``x = [1., 2.]`` gives ``[0., 1., 0., 2., 0., 0.]``."""
    # no promotion (a Python scalar is its default dtype): the shape rule checks dtypes
    operand, padding_value = operands((operand, padding_value))
    try:
        config = tuple(_ints("pad", "padding_config", c) for c in padding_config)
    except TypeError:
        raise TypeError(f"pad: padding_config must be a sequence of (low, high, interior) "
                        f"integer triples, got {padding_config!r}") from None
    return pad_p.bind(operand, padding_value, padding_config=config)


def _pad_transpose(ct, x, padding_value, *, padding_config):
    if type(ct) is ad.Zero:
        return [None, None]
    ct_x = ct_pv = None
    if is_undefined(x):
        # Undo the edge padding (a negative edge pads back zeros for cropped elements),
        # then keep every (interior + 1)-th element.
        zero = scalar_like(0, get_aval(ct).dtype)
        unpadded = pad(ct, zero, [(-lo, -hi, 0) for lo, hi, _ in padding_config])
        n = len(padding_config)
        steps = tuple(i + 1 for _, _, i in padding_config)
        ct_x = slice(unpadded, (0,) * n, get_aval(unpadded).shape, steps)
    if is_undefined(padding_value):
        # Sum of ct over the padded positions: mask them with a padded 0/1 array.
        aval = x.aval if is_undefined(x) else get_aval(x)
        dt = get_aval(ct).dtype
        mask = pad(full(aval.shape, 0, dt), scalar_like(1, dt), padding_config)
        ct_pv = _sum(mul(ct, mask), range(len(padding_config)))
    return [ct_x, ct_pv]


ad.deflinear(pad_p, _pad_transpose)


@pad_p.def_batch
def _pad_batch(axis, args, dims, *, padding_config):
    (x, pv), (dx, dpv) = args, dims
    if dpv is None:
        config = list(padding_config)
        config.insert(dx, (0, 0, 0))
        return pad(x, pv, config), dx
    # A per-member padding value: pad with zeros, then overwrite the padded positions.
    x_aval = get_aval(x)
    if dx is not None:
        x_shape = x_aval.shape[:dx] + x_aval.shape[dx + 1:]
    else:
        x_shape = x_aval.shape
    x = batching.bdim_at_front(x, dx, axis.size)
    pv = batching.bdim_at_front(pv, dpv, axis.size)
    zero = scalar_like(0, x_aval.dtype)
    padded = pad(x, zero, ((0, 0, 0),) + tuple(padding_config))
    out_shape = get_aval(padded).shape
    mask = pad(full(x_shape, False), True, padding_config)
    mask = broadcast_in_dim(mask, out_shape, tuple(range(1, len(out_shape))))
    pv = broadcast_in_dim(pv, out_shape, (0,))
    return select(mask, pv, padded), 0


# ---------------------------------------------------------------------------------------
# slice

slice_p = Primitive("slice")


@slice_p.def_shape
def _slice_shape(x, *, start_indices, limit_indices, strides):
    where = (f"operand shape {shape_str(x.shape)}, start_indices {start_indices}, "
             f"limit_indices {limit_indices}" + (f", strides {strides}" if strides else ""))
    if len(start_indices) != x.ndim or len(limit_indices) != x.ndim:
        raise TypeError(f"slice: start_indices and limit_indices need one entry per axis; "
                        f"got {where}")
    if strides is not None:
        if len(strides) != x.ndim:
            raise TypeError(f"slice: strides need one entry per axis; got {where}")
        if any(s <= 0 for s in strides):
            raise ValueError(f"slice: strides must be positive; got {where}")
    for i, (lo, hi, d) in enumerate(zip(start_indices, limit_indices, x.shape)):
        if not 0 <= lo <= hi <= d:
            raise ValueError(f"slice: axis {i} needs 0 <= start <= limit <= {d}, got start "
                             f"{lo} and limit {hi}; {where}")
    steps = strides or (1,) * x.ndim
    out = tuple(-(-(hi - lo) // s) for lo, hi, s in zip(start_indices, limit_indices, steps))
    return ShapedArray(out, x.dtype, x.weak_type)


def slice(operand: Any, start_indices: Sequence[int], limit_indices: Sequence[int],
          strides: Sequence[int] | None = None):
    """The static slice ``operand[start:limit:stride]`` along every axis (indices must lie in
    ``0 <= start <= limit <= size``; strides positive). Example: ``slice(x, (0, 1), (4, 3),
    (2, 1))`` with ``x`` of shape ``(4, 3)`` gives ``x[0:4:2, 1:3]`` of shape ``(2, 2)``."""
    operand = as_operand(operand)
    start = _ints("slice", "start_indices", start_indices)
    limit = _ints("slice", "limit_indices", limit_indices)
    steps = None if strides is None else _ints("slice", "strides", strides)
    if steps is not None and all(s == 1 for s in steps):
        steps = None
    return slice_p.bind(operand, start_indices=start, limit_indices=limit, strides=steps)


def slice_in_dim(operand: Any, start_index: int | None, limit_index: int | None,
                 stride: int = 1, axis: int = 0):
    """``lax.slice`` along one ``axis``: ``operand[..., start_index:limit_index:stride]``
    there, the other axes whole. ``None`` means the start or the end; negative indices count
    from the end. Example: ``slice_in_dim(x, 1, -1, axis=1)`` with ``x`` of shape ``(2, 5)``
    gives shape ``(2, 3)``."""
    operand = as_operand(operand)
    shape = get_aval(operand).shape
    axis = _axis("slice_in_dim", axis, len(shape))
    size = shape[axis]
    lo = 0 if start_index is None else _int("slice_in_dim", "start_index", start_index)
    hi = size if limit_index is None else _int("slice_in_dim", "limit_index", limit_index)
    lo = lo + size if lo < 0 else lo
    hi = hi + size if hi < 0 else hi
    start = [0] * len(shape)
    limit = list(shape)
    strides = [1] * len(shape)
    start[axis], limit[axis] = lo, hi
    strides[axis] = _int("slice_in_dim", "stride", stride)
    return slice(operand, start, limit, strides)


def index_in_dim(operand: Any, index: int, axis: int = 0, keepdims: bool = True):
    """Element ``index`` (negative counts from the end) along ``axis``, keeping that axis
    with size 1 unless ``keepdims=False``. Example: ``index_in_dim(x, -1, axis=1,
    keepdims=False)`` with ``x`` of shape ``(2, 5)`` gives ``x[:, 4]`` of shape ``(2,)``."""
    operand = as_operand(operand)
    shape = get_aval(operand).shape
    axis = _axis("index_in_dim", axis, len(shape))
    index = _int("index_in_dim", "index", index)
    wrapped = index + shape[axis] if index < 0 else index
    if not 0 <= wrapped < shape[axis]:
        raise IndexError(f"index_in_dim: index {index} is out of bounds for axis {axis} with "
                         f"size {shape[axis]}")
    out = slice_in_dim(operand, wrapped, wrapped + 1, 1, axis)
    return out if keepdims else squeeze(out, (axis,))


def _slice_transpose(ct, x, *, start_indices, limit_indices, strides):
    if type(ct) is ad.Zero:
        return [None]
    shape = x.aval.shape
    steps = strides or (1,) * len(shape)
    out_shape = get_aval(ct).shape
    config = []
    for lo, d, n, s in zip(start_indices, shape, out_shape, steps):
        extent = lo + (n - 1) * s + 1 if n else lo
        config.append((lo, d - extent, s - 1))
    return [pad(ct, scalar_like(0, get_aval(ct).dtype), config)]


ad.deflinear(slice_p, _slice_transpose)


@slice_p.def_batch
def _slice_batch(axis, args, dims, *, start_indices, limit_indices, strides):
    (x,), (d,) = args, dims
    start = list(start_indices)
    limit = list(limit_indices)
    start.insert(d, 0)
    limit.insert(d, axis.size)
    steps = None
    if strides is not None:
        steps = list(strides)
        steps.insert(d, 1)
    return slice(x, start, limit, steps), d


# ---------------------------------------------------------------------------------------
# rev

rev_p = Primitive("rev")


@rev_p.def_shape
def _rev_shape(x, *, dimensions):
    if len(set(dimensions)) != len(dimensions):
        raise ValueError(f"rev: repeated dimension in {dimensions}")
    if any(not 0 <= d < x.ndim for d in dimensions):
        raise ValueError(f"rev: dimensions {dimensions} out of bounds for an array of rank "
                         f"{x.ndim}")
    return x


def rev(operand: Any, dimensions: Sequence[int]):
    """Reverse the order of elements along each axis in ``dimensions`` (negative counts from
    the end). Example: ``rev(x, (0,))`` with ``x = [1, 2, 3]`` gives ``[3, 2, 1]``."""
    operand = as_operand(operand)
    aval = get_aval(operand)
    dims = tuple(sorted(_axes("rev", dimensions, aval.ndim, "dimension")))
    if not dims and isinstance(operand, Array):
        return operand
    return rev_p.bind(operand, dimensions=dims)


def _rev_transpose(ct, x, *, dimensions):
    if type(ct) is ad.Zero:
        return [None]
    return [rev(ct, dimensions)]


ad.deflinear(rev_p, _rev_transpose)


@rev_p.def_batch
def _rev_batch(axis, args, dims, *, dimensions):
    (x,), (d,) = args, dims
    return rev(x, _shift(dimensions, d)), d
