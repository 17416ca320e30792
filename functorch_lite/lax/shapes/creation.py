"""The primitives that make arrays from nothing but parameters or reinterpret bits: iota
and bitcast_convert_type, with the helpers built on them and on broadcast_in_dim (full,
full_like, zeros_like_array); each with its shape, derivative and batching rules."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from functorch_lite.core import dtypes
from functorch_lite.core.avals import ShapedArray, TypedScalar, get_aval
from functorch_lite.core.primitive import Primitive
from functorch_lite.interpreters import ad, batching
from functorch_lite.lax._common import (as_operand, canonical_shape, is_python_scalar,
                                        scalar_like, shape_str)
from functorch_lite.lax.elementwise import convert_element_type
from functorch_lite.lax.shapes._util import _axis, _dtype_name, _int
from functorch_lite.lax.shapes.layout import broadcast_in_dim_p


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

ad.zero_jvp(iota_p)                  # no operands: nothing to differentiate


@iota_p.def_batch
def _iota_batch(axis, args, dims, *, dtype, shape, dimension):
    # iota has no operands, so vmap never calls this; its output would be unbatched.
    return iota_p.bind(dtype=dtype, shape=shape, dimension=dimension), None


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

ad.zero_jvp(bitcast_convert_type_p)  # a reinterpretation of bits has no derivative


@bitcast_convert_type_p.def_batch
def _bitcast_convert_type_batch(axis, args, dims, *, new_dtype):
    (x,), (d,) = args, dims
    aval = get_aval(x)
    # A wider dtype consumes the last axis, which must then not be the batch axis.
    if np.dtype(new_dtype).itemsize > aval.dtype.itemsize and d == aval.ndim - 1:
        x, d = batching.bdim_at_front(x, d, axis.size), 0
    return bitcast_convert_type_p.bind(x, new_dtype=new_dtype), d


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
