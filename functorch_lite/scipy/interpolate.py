"""``functorch_lite.scipy.interpolate`` (as ``jax.scipy.interpolate``):
``RegularGridInterpolator``.

Linear or nearest-neighbour interpolation of values given on a rectilinear grid (one
strictly increasing coordinate vector per axis). Each query point finds its cell with
``searchsorted``; linear interpolation sums the ``2**N`` cell corners weighted by the
products of the normalised distances, so the result is differentiable in the values and
in the query points (and in the grid, through the distances).

As in JAX, ``bounds_error=True`` is refused (a data-dependent error cannot be raised
under ``jit``): points outside the grid get ``fill_value`` (NaN by default), or are
extrapolated from the edge cells when ``fill_value`` is None. The interpolator is a
pytree (grid, values and fill value are its leaves), so it can be passed into ``jit``,
``vmap`` and ``grad``.
"""
from __future__ import annotations

import functools
import itertools
import operator
from typing import Any

import numpy as np

from functorch_lite.api import jit
from functorch_lite.core import dtypes
from functorch_lite.core import pytree
from functorch_lite.numpy import _util
import functorch_lite.numpy as fnp

__all__ = ["RegularGridInterpolator"]

_METHODS = ("linear", "nearest")


def _check_method(method: Any) -> None:
    if method not in _METHODS:
        raise ValueError(f"RegularGridInterpolator: method {method!r} is not defined; use "
                         f"'linear' or 'nearest'")


def _query_points(xi: Any, ndim: int):
    """Query points as one array of shape ``(..., ndim)``: from a tuple of coordinate
    arrays (broadcast together, in the default float dtype), or from an array whose last
    axis holds the coordinates (a 1-D array is a flat list of points)."""
    if isinstance(xi, tuple) and len(xi) == 1:
        xi = xi[0]
    if isinstance(xi, tuple):
        _util.check_arraylike("RegularGridInterpolator", *xi)
        parts = fnp.broadcast_arrays(*xi)
        return fnp.stack([fnp.asarray(p).astype(dtypes.default_float_dtype())
                          for p in parts], axis=-1)
    _util.check_arraylike("RegularGridInterpolator", xi)
    xi = fnp.asarray(xi)
    if xi.ndim == 1:
        if xi.shape[0] % ndim:
            # JAX reports this reshape failure as a TypeError.
            raise TypeError(f"RegularGridInterpolator: a 1-D xi of length {xi.shape[0]} "
                            f"cannot be split into points of dimension {ndim}; pass an "
                            f"array of shape (npoints, {ndim})")
        xi = xi.reshape(-1, ndim)
    if xi.ndim == 0:
        raise ValueError(f"RegularGridInterpolator: xi must hold points of dimension {ndim}, "
                         f"got a scalar; pass an array of shape (npoints, {ndim})")
    return xi


def _cells(grid: tuple, points):
    """Per axis, the index of the lower corner of each point's cell and the point's
    distance from that corner in units of the cell width; and whether each point lies
    outside the grid. ``points`` has shape ``(npoints, ndim)``."""
    lower, distance = [], []
    outside = fnp.zeros(points.shape[:1], dtype=bool)
    for axis, g in enumerate(grid):
        x = points[:, axis]
        # Points beyond either end use the edge cell, which extrapolates linearly.
        i = fnp.clip(fnp.searchsorted(g, x) - 1, 0, g.shape[0] - 2)
        lower.append(i)
        distance.append((x - g[i]) / (g[i + 1] - g[i]))
        outside = outside | (x < g[0]) | (x > g[-1])
    return lower, distance, outside


def _linear(values, lower: list, distance: list):
    # Trailing value axes (beyond the grid's) broadcast against the per-point weights.
    trailing = (slice(None),) + (None,) * (values.ndim - len(lower))
    total = fnp.asarray(0.0)  # weak: the sum takes the dtype of the terms
    for corner in itertools.product((False, True), repeat=len(lower)):
        index = tuple(i + 1 if upper else i for upper, i in zip(corner, lower))
        weight = functools.reduce(operator.mul, [t if upper else 1 - t
                                                 for upper, t in zip(corner, distance)])
        total = total + values[index] * weight[trailing]
    return total


def _nearest(values, lower: list, distance: list):
    # A point halfway between two samples takes the lower one.
    return values[tuple(fnp.where(t <= 0.5, i, i + 1) for i, t in zip(lower, distance))]


@functools.partial(jit, static_argnums=(4,))
def _interpolate(grid: tuple, values, fill_value, points, method: str):
    """Interpolated values at ``points`` (``(npoints, ndim)``), of shape
    ``(npoints,) + values.shape[ndim:]``."""
    lower, distance, outside = _cells(grid, points)
    result = (_linear if method == "linear" else _nearest)(values, lower, distance)
    if fill_value is not None:
        outside = outside.reshape(outside.shape + (1,) * (result.ndim - 1))
        result = fnp.where(outside, fill_value, result)
    return result


class RegularGridInterpolator:
    """Interpolate ``values`` given on a rectilinear grid.

    ``points`` is a sequence of N strictly increasing 1-D arrays, the grid coordinates
    along each axis (at least two each; decreasing axes are not checked and give wrong
    results, as in JAX); ``values`` has shape ``(len(points[0]), ..., len(points[N-1]))``
    followed by any trailing axes, and is promoted to an inexact dtype. ``method`` is
    ``'linear'`` or ``'nearest'``. Points outside the grid get ``fill_value`` (NaN by
    default), or are extrapolated when ``fill_value`` is None. ``bounds_error=True`` is
    not supported (it cannot be checked under ``jit``).

    Calling the interpolator with ``xi`` of shape ``(..., N)`` (or a tuple of N
    broadcastable coordinate arrays) returns shape ``xi.shape[:-1] + values.shape[N:]``.

    >>> RegularGridInterpolator((fnp.array([0.0, 1.0]),), fnp.array([0.0, 10.0]))(
    ...     fnp.array([[0.25]]))
    Array([2.5], dtype=float32)
    """

    def __init__(self, points: Any, values: Any, method: str = "linear",
                 bounds_error: bool = False, fill_value: Any = np.nan):
        _check_method(method)
        self.method = method
        self.bounds_error = bounds_error
        if bounds_error:
            raise NotImplementedError(
                "RegularGridInterpolator: bounds_error=True is not supported, since a "
                "data-dependent error cannot be raised under jit; leave it False and test "
                "for fill_value (NaN by default) in the result instead")
        _util.check_arraylike("RegularGridInterpolator", values)
        if len(points) > fnp.ndim(values):
            raise ValueError(f"RegularGridInterpolator: there are {len(points)} point arrays, "
                             f"but values has only {fnp.ndim(values)} dimensions "
                             f"(shape {fnp.shape(values)})")
        values = fnp.asarray(_util.promote_dtypes_inexact("RegularGridInterpolator",
                                                          values)[0])
        if fill_value is not None:
            _util.check_arraylike("RegularGridInterpolator", fill_value)
            fill_value = fnp.asarray(fill_value)
            if not np.can_cast(fill_value.dtype, values.dtype, casting="same_kind"):
                raise ValueError(f"RegularGridInterpolator: fill_value of dtype "
                                 f"{fill_value.dtype} cannot be used with values of dtype "
                                 f"{values.dtype}; pass None or a value of a compatible "
                                 f"kind")
        self.fill_value = fill_value
        _util.check_arraylike("RegularGridInterpolator", *points)
        self.grid = tuple(fnp.asarray(p) for p in points)
        self.values = values

    def __call__(self, xi: Any, method: str | None = None):
        """Interpolated values at ``xi`` (shape ``(..., N)``, or a tuple of N coordinate
        arrays), with ``method`` overriding the one given at construction."""
        method = self.method if method is None else method
        _check_method(method)
        ndim = len(self.grid)
        points = _query_points(xi, ndim)
        if points.shape[-1] != ndim:
            raise ValueError(f"RegularGridInterpolator: the requested sample points xi have "
                             f"dimension {points.shape[-1]} (shape {points.shape}), but this "
                             f"interpolator has dimension {ndim}")
        lead = points.shape[:-1]
        result = _interpolate(self.grid, self.values, self.fill_value,
                              points.reshape(-1, ndim), method)
        return result.reshape(lead + self.values.shape[ndim:])


def _flatten(interp: RegularGridInterpolator):
    return (interp.grid, interp.values, interp.fill_value), (interp.method, interp.bounds_error)


def _unflatten(aux: tuple, children: tuple) -> RegularGridInterpolator:
    # Rebuilt without __init__: the leaves were validated when the interpolator was made,
    # and under a transformation they are tracers (or placeholders) to keep as they are.
    interp = object.__new__(RegularGridInterpolator)
    interp.method, interp.bounds_error = aux
    interp.grid, interp.values, interp.fill_value = children
    return interp


pytree.register_pytree_node(RegularGridInterpolator, _flatten, _unflatten)
