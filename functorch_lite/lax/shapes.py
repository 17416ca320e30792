"""Shape-manipulation primitives: reshape, broadcast_in_dim, transpose, squeeze, concatenate,
pad, slice, rev, iota and bitcast_convert_type, plus the helpers JAX builds from them
(expand_dims, broadcast, slice_in_dim, index_in_dim, collapse, full, full_like, ...).

None of these compute anything new from element values: they move, copy or reinterpret
elements. Each output keeps its operand's weak type (so ``x_f16 * reshape(2.0, (1,))``
stays float16), except ``iota`` (always strong) and ``bitcast_convert_type`` (a
reinterpretation gives a definite dtype). Every argument is checked by the shape rules,
so a mistake is reported here, naming the operation, never by XLA.
"""
from __future__ import annotations

import builtins
import operator
from typing import Any, Sequence

import numpy as np

from functorch_lite.core import dtypes
from functorch_lite.core.avals import ShapedArray, TypedScalar, get_aval
from functorch_lite.core.primitive import Primitive
from functorch_lite.core.trace import Tracer
from functorch_lite.lax._common import (as_operand, canonical_shape, is_python_scalar,
                                        operands, scalar_like, shape_str)
from functorch_lite.lax.elementwise import convert_element_type

__all__ = [
    "reshape", "broadcast_in_dim", "broadcast", "transpose", "squeeze", "expand_dims",
    "concatenate", "pad", "slice", "slice_in_dim", "index_in_dim", "rev", "iota",
    "broadcasted_iota", "bitcast_convert_type", "full", "full_like", "zeros_like_array",
    "collapse",
    "reshape_p", "broadcast_in_dim_p", "transpose_p", "squeeze_p", "concatenate_p", "pad_p",
    "slice_p", "rev_p", "iota_p", "bitcast_convert_type_p",
]


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


def _is_array(x: Any) -> bool:
    """A device array or tracer (what a no-op may hand back unchanged); not a Python or
    NumPy scalar, NumPy array or TypedScalar, which must still become a device array."""
    if isinstance(x, Tracer):
        return True
    return (type(x) is not TypedScalar and not is_python_scalar(x)
            and not isinstance(x, (np.ndarray, np.generic))
            and isinstance(getattr(x, "aval", None), ShapedArray))


def _dtype_name(dt) -> str:
    return dtypes.to_numpy_dtype_name(dt)


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
    if dims is None and new_sizes == aval.shape and _is_array(operand):
        return operand
    return reshape_p.bind(operand, new_sizes=new_sizes, dimensions=dims)


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
    if shape == aval.shape and bdims == tuple(range(aval.ndim)) and _is_array(operand):
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
    if perm == tuple(range(aval.ndim)) and _is_array(operand):
        return operand
    return transpose_p.bind(operand, permutation=perm)


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
    if not dims and _is_array(array):
        return array
    return squeeze_p.bind(array, dimensions=dims)


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
            or _is_array(operands):
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
    if len(operands) == 1 and _is_array(operands[0]):
        return operands[0]
    return concatenate_p.bind(*operands, dimension=dimension)


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
    if not dims and _is_array(operand):
        return operand
    return rev_p.bind(operand, dimensions=dims)


# ---------------------------------------------------------------------------------------
# iota

iota_p = Primitive("iota")


@iota_p.def_shape
def _iota_shape(*, dtype, shape, dimension):
    if dtypes.is_bool(dtype) or not (dtypes.is_int(dtype) or dtypes.is_inexact(dtype)):
        raise TypeError(f"iota does not accept dtype {dtype}; it needs an integer, floating "
                        "or complex dtype")
    if any(d < 0 for d in shape):
        raise ValueError(f"iota: negative dimension in shape {shape}")
    if not 0 <= dimension < len(shape):
        raise ValueError(f"iota: dimension {dimension} is out of bounds for shape "
                         f"{shape_str(shape)} (rank {len(shape)})")
    return ShapedArray(shape, dtype, False)


def iota(dtype: Any, size: int):
    """``[0, 1, ..., size - 1]`` as a 1-D array of ``dtype``. Example: ``iota(np.float32,
    3)`` gives ``[0., 1., 2.]`` of shape ``(3,)``."""
    size = _int("iota", "size", size)
    return broadcasted_iota(dtype, (size,), 0)


def broadcasted_iota(dtype: Any, shape: Sequence[int], dimension: int):
    """An array of ``shape`` whose value at each index is its index along ``dimension``
    (negative counts from the end). Example: ``broadcasted_iota(np.int32, (2, 3), 1)`` gives
    ``[[0, 1, 2], [0, 1, 2]]``."""
    dtype = dtypes.canonicalize_dtype(dtype)
    shape = canonical_shape("broadcasted_iota", shape)
    dimension = _axis("broadcasted_iota", dimension, len(shape), "dimension")
    return iota_p.bind(dtype=dtype, shape=shape, dimension=dimension)


# ---------------------------------------------------------------------------------------
# bitcast_convert_type

bitcast_convert_type_p = Primitive("bitcast_convert_type")


@bitcast_convert_type_p.def_shape
def _bitcast_shape(x, *, new_dtype):
    old = x.dtype
    if old != new_dtype and (dtypes.is_bool(old) or dtypes.is_complex(old)
                             or dtypes.is_bool(new_dtype) or dtypes.is_complex(new_dtype)):
        raise TypeError(f"bitcast_convert_type: bool and complex values can only be bitcast "
                        f"to their own dtype, got {_dtype_name(old)} -> "
                        f"{_dtype_name(new_dtype)}")
    old_bits, new_bits = 8 * old.itemsize, 8 * np.dtype(new_dtype).itemsize
    if old_bits == new_bits:
        shape = x.shape
    elif old_bits > new_bits:
        shape = x.shape + (old_bits // new_bits,)
    else:
        last = x.shape[-1] if x.shape else None
        if last is None or last * old_bits != new_bits:
            raise ValueError(f"bitcast_convert_type: converting {_dtype_name(old)} "
                             f"({old_bits} bits) to the wider {_dtype_name(new_dtype)} "
                             f"({new_bits} bits) needs a last axis of size "
                             f"{new_bits // old_bits}, got shape {shape_str(x.shape)}")
        shape = x.shape[:-1]
    return ShapedArray(shape, new_dtype, False)


def bitcast_convert_type(operand: Any, new_dtype: Any):
    """Reinterpret the bits of each element as ``new_dtype``. Equal widths keep the shape;
    a narrower ``new_dtype`` adds a trailing axis of size ``old_bits // new_bits``; a wider
    one consumes a trailing axis of size ``new_bits // old_bits``. Example:
    ``bitcast_convert_type(x, np.uint8)`` with ``x`` float32 of shape ``(3,)`` gives uint8 of
    shape ``(3, 4)`` (little-endian byte order)."""
    operand = as_operand(operand)
    new_dtype = dtypes.canonicalize_dtype(new_dtype)
    return bitcast_convert_type_p.bind(operand, new_dtype=new_dtype)


# ---------------------------------------------------------------------------------------
# helpers built on the primitives

def _scalar_of(name: str, value: Any, dtype, weak_type: bool) -> Any:
    """``value`` (a rank-0 array or Python/NumPy scalar) as a rank-0 operand of ``dtype``."""
    if is_python_scalar(value) or isinstance(value, (np.generic, np.ndarray)) \
            or type(value) is TypedScalar:
        raw = value.value if type(value) is TypedScalar else value
        if isinstance(raw, (complex, np.complexfloating)) and not dtypes.is_complex(dtype):
            raw = np.real(raw)
        try:
            return scalar_like(raw, dtype, weak_type)
        except (OverflowError, ValueError) as e:
            raise type(e)(f"{name}: cannot represent {raw!r} as {dtype}: {e}") from None
    return convert_element_type(value, dtype, weak_type=weak_type)


def full(shape: Sequence[int], fill_value: Any, dtype: Any = None):
    """An array of ``shape`` filled with the scalar ``fill_value``, of ``dtype`` (default:
    ``fill_value``'s dtype, weakly typed when it is a Python scalar). Example:
    ``full((2, 3), 1.5)`` gives a ``(2, 3)`` float32 array of 1.5 (weakly typed)."""
    shape = canonical_shape("full", shape)
    fill_value = as_operand(fill_value)
    aval = get_aval(fill_value)
    if aval.ndim:
        raise TypeError(f"full: fill_value must be a scalar, got an array of shape "
                        f"{shape_str(aval.shape)}")
    if dtype is None:
        # (a Python bool is never weakly typed, though its aval may say so)
        dt, weak = aval.dtype, aval.weak_type and not dtypes.is_bool(aval.dtype)
    else:
        dt, weak = dtypes.canonicalize_dtype(dtype), False
    scalar = _scalar_of("full", fill_value, dt, weak)
    return broadcast_in_dim_p.bind(scalar, shape=shape, broadcast_dimensions=())


def full_like(x: Any, fill_value: Any, dtype: Any = None, shape: Sequence[int] | None = None):
    """An array like ``x`` (its shape and dtype, or the given ``dtype``/``shape``) filled
    with ``fill_value``; weakly typed when ``x`` is and no ``dtype`` is given. Example:
    ``full_like(x, 0)`` with ``x`` float16 of shape ``(2,)`` gives ``[0., 0.]`` float16."""
    x_aval = get_aval(as_operand(x))
    fill_shape = x_aval.shape if shape is None else canonical_shape("full_like", shape)
    weak = dtype is None and x_aval.weak_type and not dtypes.is_bool(x_aval.dtype)
    dt = x_aval.dtype if dtype is None else dtypes.canonicalize_dtype(dtype)
    fill_value = as_operand(fill_value)
    if get_aval(fill_value).ndim:
        raise TypeError(f"full_like: fill_value must be a scalar, got an array of shape "
                        f"{shape_str(get_aval(fill_value).shape)}")
    scalar = _scalar_of("full_like", fill_value, dt, weak)
    return broadcast_in_dim_p.bind(scalar, shape=fill_shape, broadcast_dimensions=())


def zeros_like_array(x: Any):
    """Zeros of ``x``'s shape, dtype and weak type. Example: ``zeros_like_array(x)`` with
    ``x`` int32 of shape ``(2, 2)`` gives a ``(2, 2)`` int32 array of zeros."""
    return full_like(x, 0)


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


# ---------------------------------------------------------------------------------------
# Derivative rules (jvp, and transpose: every primitive here but iota and
# bitcast_convert_type is linear)

from functorch_lite.interpreters import ad  # noqa: E402
from functorch_lite.interpreters.transpose import is_undefined  # noqa: E402


def _inverse_perm(perm: Sequence[int]) -> tuple[int, ...]:
    inv = [0] * len(perm)
    for i, p in enumerate(perm):
        inv[p] = i
    return tuple(inv)


def _sum(x: Any, axes: Sequence[int]):
    from functorch_lite.lax.reductions import reduce_sum
    return reduce_sum(x, tuple(axes)) if axes else x


def _reshape_transpose(ct, x, *, new_sizes, dimensions):
    if type(ct) is ad.Zero:
        return [None]
    shape = x.aval.shape
    if dimensions is None:
        return [reshape(ct, shape)]
    # forward: transpose by ``dimensions``, then reshape; backward: the reverse
    permuted = reshape(ct, tuple(shape[d] for d in dimensions))
    return [transpose(permuted, _inverse_perm(dimensions))]


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


def _transpose_transpose(ct, x, *, permutation):
    if type(ct) is ad.Zero:
        return [None]
    return [transpose(ct, _inverse_perm(permutation))]


def _squeeze_transpose(ct, x, *, dimensions):
    if type(ct) is ad.Zero:
        return [None]
    return [reshape(ct, x.aval.shape)]


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
        from functorch_lite.lax.elementwise import mul
        ct_pv = _sum(mul(ct, mask), range(len(padding_config)))
    return [ct_x, ct_pv]


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


def _rev_transpose(ct, x, *, dimensions):
    if type(ct) is ad.Zero:
        return [None]
    return [rev(ct, dimensions)]


ad.deflinear(reshape_p, _reshape_transpose)
ad.deflinear(broadcast_in_dim_p, _broadcast_in_dim_transpose)
ad.deflinear(transpose_p, _transpose_transpose)
ad.deflinear(squeeze_p, _squeeze_transpose)
ad.deflinear(concatenate_p, _concatenate_transpose)
ad.deflinear(pad_p, _pad_transpose)
ad.deflinear(slice_p, _slice_transpose)
ad.deflinear(rev_p, _rev_transpose)
ad.zero_jvp(iota_p)                  # no operands: nothing to differentiate
ad.zero_jvp(bitcast_convert_type_p)  # a reinterpretation of bits has no derivative


# ---------------------------------------------------------------------------------------
# Batching rules

from functorch_lite.interpreters import batching  # noqa: E402


def _shift(axes: Sequence[int], bdim: int) -> tuple[int, ...]:
    """Operand axes renumbered for an array with a batch axis inserted at ``bdim``."""
    return tuple(a + (a >= bdim) for a in axes)


@reshape_p.def_batch
def _reshape_batch(axis, args, dims, *, new_sizes, dimensions):
    (x,), (d,) = args, dims
    x = batching.bdim_at_front(x, d, axis.size)
    if dimensions is not None:
        x = transpose(x, (0,) + tuple(p + 1 for p in dimensions))
    return reshape(x, (axis.size,) + tuple(new_sizes)), 0


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


@transpose_p.def_batch
def _transpose_batch(axis, args, dims, *, permutation):
    (x,), (d,) = args, dims
    return transpose(x, (d,) + _shift(permutation, d)), 0


@squeeze_p.def_batch
def _squeeze_batch(axis, args, dims, *, dimensions):
    (x,), (d,) = args, dims
    out_d = d - builtins.sum(1 for a in dimensions if a < d)
    return squeeze(x, _shift(dimensions, d)), out_d


@concatenate_p.def_batch
def _concatenate_batch(axis, args, dims, *, dimension):
    # Align every operand on the first batched operand's batch axis (broadcasting the
    # unbatched ones) and join along the shifted dimension.
    target = next(d for d in dims if d is not None)
    xs = [batching.move_dim(x, d, target, axis.size) for x, d in zip(args, dims)]
    return concatenate(xs, dimension + (dimension >= target)), target


@pad_p.def_batch
def _pad_batch(axis, args, dims, *, padding_config):
    (x, pv), (dx, dpv) = args, dims
    if dpv is None:
        config = list(padding_config)
        config.insert(dx, (0, 0, 0))
        return pad(x, pv, config), dx
    # A per-member padding value: pad with zeros, then overwrite the padded positions.
    from functorch_lite.lax.elementwise import select
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


@rev_p.def_batch
def _rev_batch(axis, args, dims, *, dimensions):
    (x,), (d,) = args, dims
    return rev(x, _shift(dimensions, d)), d


@iota_p.def_batch
def _iota_batch(axis, args, dims, *, dtype, shape, dimension):
    # iota has no operands, so vmap never calls this; its output would be unbatched.
    return iota_p.bind(dtype=dtype, shape=shape, dimension=dimension), None


@bitcast_convert_type_p.def_batch
def _bitcast_convert_type_batch(axis, args, dims, *, new_dtype):
    (x,), (d,) = args, dims
    aval = get_aval(x)
    # A wider dtype consumes the last axis, which must then not be the batch axis.
    if np.dtype(new_dtype).itemsize > aval.dtype.itemsize and d == aval.ndim - 1:
        x, d = batching.bdim_at_front(x, d, axis.size), 0
    return bitcast_convert_type_p.bind(x, new_dtype=new_dtype), d
