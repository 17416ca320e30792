"""The array-level core of the shape functions that modules below ``shapes`` need.

``shapes`` is built on ``asarray`` (creation), ``take`` (indexing) and ``sum``
(reductions), yet ``creation`` (``array`` of a list holding traced values is a ``stack``,
``linspace`` moves its sample axis) and ``indexing`` (``take`` of the flattened array) need
a few of its operations. Those operations live here, on operands that already are library
values (arrays, tracers or typed scalars: no conversion, so no ``asarray``); the public
functions of ``shapes`` convert their arguments and call these, so each one is written once
and the modules form a DAG: ``_util < _shape_core < creation < ... < shapes``."""
from __future__ import annotations

from typing import Any, Sequence

from functorch_lite import lax
from functorch_lite.core.avals import get_aval
from functorch_lite.numpy._util import normalize_axes, normalize_axis, promote_dtypes, shape_of


def ravel_array(a: Any):
    """``a`` flattened to 1-D (``a`` itself when it already is 1-D)."""
    aval = get_aval(a)
    if aval.shape == (aval.size,):
        return a
    return lax.reshape(a, (aval.size,))


def transpose_array(a: Any, axes: Sequence[int]):
    """``a`` with its axes permuted by ``axes`` (``a`` itself for the identity)."""
    nd = get_aval(a).ndim
    axes = normalize_axes("transpose", tuple(axes), nd)
    if len(axes) != nd:
        raise ValueError(f"transpose: axes {axes} don't match an array of rank {nd}")
    if axes == tuple(range(nd)):
        return a
    return lax.transpose(a, axes)


def moveaxis_array(a: Any, source, destination):
    """``a`` with axes ``source`` moved to positions ``destination`` (ints or sequences of
    them), the other axes keeping their order."""
    nd = get_aval(a).ndim
    src = normalize_axes("moveaxis", (source,) if isinstance(source, int) else tuple(source), nd)
    dst = normalize_axes("moveaxis", (destination,) if isinstance(destination, int)
                         else tuple(destination), nd)
    if len(src) != len(dst):
        raise ValueError("moveaxis: source and destination must have the same number of "
                         "elements")
    order = [i for i in range(nd) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return transpose_array(a, order)


def expand_dims_array(a: Any, axis):
    """``a`` with size-1 axes inserted at positions ``axis`` (an int or a sequence, counted
    in the result)."""
    shape = list(shape_of(a))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    axes = normalize_axes("expand_dims", axes, len(shape) + len(axes))
    for ax in sorted(axes):
        shape.insert(ax, 1)
    return lax.reshape(a, tuple(shape))


def concatenate_arrays(arrays: Sequence[Any], axis: int, dtype=None):
    """A non-empty sequence of arrays joined along the existing ``axis``, promoted to their
    common dtype (or converted to ``dtype``)."""
    arrays = promote_dtypes("concatenate", *arrays)
    if dtype is not None:
        arrays = [lax.convert_element_type(a, dtype) for a in arrays]
    nd = get_aval(arrays[0]).ndim
    if nd == 0:
        raise ValueError("concatenate: zero-dimensional arrays cannot be concatenated")
    ax = normalize_axis("concatenate", axis, nd)
    if len(arrays) == 1:
        return arrays[0]
    return lax.concatenate(arrays, ax)


def stack_arrays(arrays: Sequence[Any], axis: int = 0, dtype=None):
    """A non-empty sequence of same-shaped arrays joined along a new ``axis``."""
    shapes = {shape_of(a) for a in arrays}
    if len(shapes) != 1:
        raise ValueError(f"stack: all input arrays must have the same shape, got "
                         f"{sorted(shapes)}")
    nd = get_aval(arrays[0]).ndim
    ax = normalize_axis("stack", axis, nd + 1)
    return concatenate_arrays([expand_dims_array(a, ax) for a in arrays], ax, dtype)
