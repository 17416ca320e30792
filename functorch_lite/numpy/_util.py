"""Argument handling shared by functorch_lite.numpy: conversion, dtype promotion and
NumPy broadcasting, all expressed with lax operations."""
from __future__ import annotations

import warnings
from typing import Any, Sequence

import numpy as np

from functorch_lite import lax
from functorch_lite.core import dtypes
from functorch_lite.core.config import config
from functorch_lite.core.avals import Array, TypedScalar, get_aval
from functorch_lite.lax._common import PY_SCALARS, normalize_axis, normalize_axes  # noqa: F401


def check_arraylike(name: str, *args: Any) -> None:
    for i, a in enumerate(args):
        if isinstance(a, Array) or type(a) in PY_SCALARS or type(a) is TypedScalar:
            continue
        if isinstance(a, (np.ndarray, np.generic)) or hasattr(a, "aval"):
            continue
        raise TypeError(f"{name} requires ndarray or scalar arguments, got {type(a).__name__} "
                        f"at position {i} (convert lists with functorch_lite.numpy.asarray)")


def is_scalar(x: Any) -> bool:
    return type(x) in PY_SCALARS


def shape_of(x: Any) -> tuple:
    return () if is_scalar(x) else get_aval(x).shape


def dtype_of(x: Any) -> np.dtype:
    return get_aval(x).dtype


def broadcast_shapes(*shapes: Sequence[int], name: str = "broadcast_shapes") -> tuple:
    """NumPy's broadcasting of shapes; a ValueError names every shape when they clash."""
    ndim = max((len(s) for s in shapes), default=0)
    out = []
    for i in range(ndim):
        sizes = {s[i - ndim + len(s)] for s in shapes if i - ndim + len(s) >= 0}
        sizes.discard(1)
        if len(sizes) > 1:
            raise ValueError(f"{name}: incompatible shapes for broadcasting: "
                             + ", ".join(str(tuple(s)) for s in shapes))
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


def broadcast_to_shape(x: Any, shape: Sequence[int], name: str = "broadcast_to"):
    """Broadcast ``x`` to ``shape`` following NumPy rules (rank-0 inputs stay rank 0
    when the target is too)."""
    shape = tuple(shape)
    xshape = shape_of(x)
    if xshape == shape:
        return x
    if len(xshape) > len(shape) or broadcast_shapes(xshape, shape, name=name) != shape:
        raise ValueError(f"{name}: cannot broadcast array of shape {xshape} to shape {shape}")
    if is_scalar(x):
        x = TypedScalar(x, *dtypes.lattice_result_type(x))
    lead = len(shape) - len(xshape)
    # Drop size-1 dims that grow, then broadcast_in_dim maps the rest.
    keep = [i for i, d in enumerate(xshape) if d == shape[lead + i]]
    if len(keep) != len(xshape):
        x = lax.reshape(x, tuple(xshape[i] for i in keep))
    return lax.broadcast_in_dim(x, shape, tuple(lead + i for i in keep))


_SCALAR_PAIRS = {
    # type -> ((dtype, weak) with x64 off, with x64 on)
    bool: ((np.dtype(np.bool_), False),) * 2,
    int: ((np.dtype(np.int32), True), (np.dtype(np.int64), True)),
    float: ((np.dtype(np.float32), True), (np.dtype(np.float64), True)),
    complex: ((np.dtype(np.complex64), True), (np.dtype(np.complex128), True)),
}


def _scalar_pair(x: Any) -> tuple:
    return _SCALAR_PAIRS[type(x)][config.enable_x64]


_INT_RANGE = {False: (-2**31, 2**31 - 1), True: (-2**63, 2**63 - 1)}


def scalar_operand(x: Any, dtype: np.dtype, weak_type: bool) -> TypedScalar:
    """A Python scalar as an operand of ``dtype``, converted as ``jnp`` does: a Python int
    must fit the default integer type (int32 unless x64 is on; OverflowError otherwise)
    and then wraps modulo the target width (``uint8_array + 300`` adds 44)."""
    if type(x) is int:
        lo, hi = _INT_RANGE[bool(config.enable_x64)]
        if not lo <= x <= hi:
            raise OverflowError(f"Python int {x} too large to convert to "
                                f"{dtypes.default_int_dtype()}")
    try:
        return TypedScalar(x, dtype, weak_type)
    except OverflowError:  # an int outside the target's range: wrap like a device convert
        return TypedScalar(np.asarray(x).astype(dtype), dtype, weak_type)


def _promote(name: str, args: Sequence[Any], to_kind=None) -> list:
    """Convert ``args`` to their common (lattice) dtype and weak type, as ``jnp`` does.
    ``to_kind`` maps that dtype to the one computed in (inexact, numeric). Python scalars
    become typed scalars of the target dtype, so nothing is transferred for them."""
    check_arraylike(name, *args)
    avals = [None if type(a) in PY_SCALARS else get_aval(a) for a in args]
    pairs = tuple(_scalar_pair(a) if v is None else (v.dtype, v.weak_type)
                  for a, v in zip(args, avals))
    dtype, weak = dtypes.join_pairs(pairs)
    if to_kind is not None:
        dtype = to_kind(dtype)
    out = []
    for a, aval in zip(args, avals):
        if aval is None:
            out.append(scalar_operand(a, dtype, weak))
        elif aval.dtype != dtype or (aval.weak_type and not weak):
            out.append(lax.convert_element_type(a, dtype, weak_type=weak))
        else:
            out.append(a)
    return out


def promote_dtypes(name: str, *args: Any) -> list:
    """Convert ``args`` to their common (lattice) dtype and weak type."""
    return _promote(name, args)


def promote_dtypes_inexact(name: str, *args: Any) -> list:
    """Promote to the common dtype made inexact (ints and bools become float), converting
    each argument once (so ``uint8_array / 300`` divides by 300, not by 44)."""
    return _promote(name, args, dtypes.float_dtype_for)


def _numeric(dtype: np.dtype) -> np.dtype:
    return np.dtype(np.int32) if dtype == np.bool_ else dtype


def promote_dtypes_numeric(name: str, *args: Any) -> list:
    """Promote to the common dtype, with bool replaced by int32 (as ``jnp`` does for
    floor_divide, remainder, shifts, power and square)."""
    return _promote(name, args, _numeric)


def promote_shapes(name: str, *args: Any) -> list:
    """Broadcast array operands to one shape; rank-0 operands are left for lax to broadcast.
    Operands of different ranks (rank 0 aside) are what ``numpy_rank_promotion`` polices:
    'allow' them (the default), 'warn', or 'raise' a ValueError, as in JAX."""
    shapes = [shape_of(a) for a in args]
    if len({s for s in shapes if s}) <= 1:  # equal shapes, or arrays with rank-0 operands
        return list(args)
    if config.numpy_rank_promotion != "allow" and len({len(s) for s in shapes if s}) > 1:
        _rank_promotion(name, shapes)
    try:
        shape = broadcast_shapes(*shapes, name=name)
    except ValueError as e:  # an elementwise op's shape clash is a TypeError in JAX
        raise TypeError(str(e)) from None
    return [a if not shape_of(a) else broadcast_to_shape(a, shape, name) for a in args]


def _rank_promotion(name: str, shapes: list) -> None:
    listed = " and ".join(str(tuple(s)) for s in shapes)
    if config.numpy_rank_promotion == "raise":
        raise ValueError(f"{name}: operands of shapes {listed} have different ranks, and "
                         f"numpy_rank_promotion is 'raise' (expand the smaller one's "
                         f"dimensions explicitly, or set it to 'allow')")
    warnings.warn(f"{name}: broadcasting operands of different ranks, shapes {listed} "
                  f"(numpy_rank_promotion is 'warn'; set it to 'allow' to silence this)",
                  UserWarning, stacklevel=4)


def promote_args(name: str, *args: Any) -> list:
    return promote_shapes(name, *promote_dtypes(name, *args))


def promote_args_inexact(name: str, *args: Any) -> list:
    return promote_shapes(name, *promote_dtypes_inexact(name, *args))


def promote_args_numeric(name: str, *args: Any) -> list:
    return promote_shapes(name, *promote_dtypes_numeric(name, *args))


def canonical_axis(name: str, axis, ndim: int) -> tuple[int, ...]:
    """``axis`` (None, int or tuple) as a sorted tuple of non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (tuple, list)):
        return tuple(sorted(normalize_axes(name, tuple(axis), ndim)))
    return (normalize_axis(name, axis, ndim),)


def canonicalize_dtype_arg(dtype: Any, name: str | None = None) -> np.dtype | None:
    """A user's ``dtype=`` argument, canonicalized (None stays None); a 64-bit request with
    x64 off warns, naming the function ``name``, as JAX does."""
    return None if dtype is None else dtypes.check_user_dtype(dtype, name)
