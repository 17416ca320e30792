"""``argmax`` and ``argmin``: the index of the extreme element along one axis, with their
shape and batching rules (they have no derivative: an index is piecewise constant)."""
from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np

from functorch_lite.core import dtypes
from functorch_lite.core.avals import ShapedArray, get_aval
from functorch_lite.core.primitive import Primitive
from functorch_lite.lax._common import as_operand, check_dtype
from functorch_lite.lax.reductions._axes import (REAL, check_axes_param, drop_axes,
                                                 normalize_one_axis, reduction_batch_rule)


def _argminmax_shape(name, operand, *, axes, index_dtype):
    check_dtype(name, operand, REAL)
    if not isinstance(axes, tuple) or len(axes) != 1:
        raise TypeError(f"{name}: axes must be a tuple of one axis, got {axes!r}")
    check_axes_param(name, operand, axes)
    axis, = axes
    if operand.shape[axis] == 0:
        raise ValueError(f"{name}: cannot take the {name} of an empty axis: axis {axis} of "
                         f"shape {operand.shape} has size 0")
    index_dtype = np.dtype(index_dtype)
    if not dtypes.is_int(index_dtype):
        raise TypeError(f"{name}: index_dtype must be an integer dtype, got {index_dtype}")
    if operand.shape[axis] - 1 > dtypes.iinfo(index_dtype).max:
        raise ValueError(f"{name}: axis {axis} of size {operand.shape[axis]} does not fit "
                         f"in index_dtype {index_dtype}")
    return ShapedArray(drop_axes(operand.shape, axes), index_dtype, False)


def _argminmax_primitive(name: str) -> Primitive:
    p = Primitive(name)
    p.def_shape(partial(_argminmax_shape, name))
    p.non_differentiable = True
    p.def_batch(reduction_batch_rule(p))
    return p


argmax_p = _argminmax_primitive("argmax")
argmin_p = _argminmax_primitive("argmin")


def _argminmax(p: Primitive, operand: Any, axis: int, index_dtype: Any):
    operand = as_operand(operand)
    axes = (normalize_one_axis(p.name, axis, get_aval(operand).ndim),)
    try:
        index_dtype = dtypes.canonicalize_dtype(index_dtype)
    except TypeError:
        raise TypeError(f"{p.name}: index_dtype must be an integer dtype, "
                        f"got {index_dtype!r}") from None
    if not dtypes.is_int(index_dtype):
        raise TypeError(f"{p.name}: index_dtype must be an integer dtype, got {index_dtype}")
    return p.bind(operand, axes=axes, index_dtype=index_dtype)


def argmax(operand: Any, axis: int, index_dtype: Any):
    """Index of the largest element of ``operand`` along ``axis``.

    Ties pick the first index, and a NaN counts as larger than everything (the first NaN
    wins). The result has dtype ``index_dtype`` (strongly typed) and ``operand``'s shape
    without ``axis``, which must not be empty. Example: ``argmax(x, 1, np.int32)`` with
    ``x: f32[2, 3]`` gives ``i32[2]``.
    """
    return _argminmax(argmax_p, operand, axis, index_dtype)


def argmin(operand: Any, axis: int, index_dtype: Any):
    """Index of the smallest element of ``operand`` along ``axis``.

    Ties pick the first index; as in ``jax.lax``, a NaN wins here too (the index of the
    first NaN is returned). Example: ``argmin(x, -1, np.int32)`` with ``x: f32[2, 3]``
    gives ``i32[2]``.
    """
    return _argminmax(argmin_p, operand, axis, index_dtype)
