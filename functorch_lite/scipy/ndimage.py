"""``functorch_lite.scipy.ndimage`` (as ``jax.scipy.ndimage``): ``map_coordinates``.

Interpolation of order 0 (nearest sample) or 1 (multilinear) at arbitrary coordinates of
an array of any rank. Each axis contributes one or two (index, weight) pairs; the output is
the sum over their Cartesian product of ``weight product * input[indices]``, one gather per
corner, so the result is differentiable in the input (through the gathers) and, for order
1, in the coordinates (through the weights).

The boundary modes follow JAX, which implements SciPy's *documented* modes rather than
SciPy's historical ones: ``'constant'`` is SciPy's ``'grid-constant'`` (every corner outside
the array reads ``cval``) and ``'wrap'`` is SciPy's ``'grid-wrap'`` (period ``size``).
"""
from __future__ import annotations

import functools
import itertools
import operator
from typing import Any, Callable, Sequence

import numpy as np

from functorch_lite import lax
from functorch_lite.api import jit
from functorch_lite.core import dtypes
import functorch_lite.numpy as fnp

__all__ = ["map_coordinates"]


# ---------------------------------------------------------------------------------------
# Boundary handling: each mode maps an integer sample index (any integer) to one inside
# [0, size). ``size`` is static.
# ---------------------------------------------------------------------------------------

def _mirror_index(index, size: int):
    # A triangle wave of period 2 * (size - 1): the edge samples are not repeated.
    if size == 1:  # the period would be 0; every index folds onto the one sample
        return fnp.zeros_like(index)
    half = size - 1
    return fnp.abs(fnp.remainder(index + half, 2 * half) - half)


def _reflect_index(index, size: int):
    # Reflection that repeats the edge sample is the mirror of the half-sample grid:
    # sample k sits at 2k + 1 on a grid of 2 * size + 1 points.
    return fnp.floor_divide(_mirror_index(2 * index + 1, 2 * size + 1) - 1, 2)


_INDEX_MAPS: dict[str, Callable[[Any, int], Any]] = {
    # 'constant' clamps only so that the gather stays in range; the clamped corners are
    # replaced by cval afterwards.
    "constant": lambda index, size: fnp.clip(index, 0, size - 1),
    "nearest": lambda index, size: fnp.clip(index, 0, size - 1),
    "wrap": lambda index, size: fnp.remainder(index, size),
    "mirror": _mirror_index,
    "reflect": _reflect_index,
}


# ---------------------------------------------------------------------------------------
# Interpolation nodes along one axis: (integer index, weight) pairs.
# ---------------------------------------------------------------------------------------

def _nearest_nodes(coordinate) -> list:
    # lax.round rounds halves away from zero, as JAX does (not NumPy's half-to-even).
    rounded = coordinate if dtypes.is_int(coordinate.dtype) else lax.round(coordinate)
    # A NumPy scalar of the coordinate dtype (not a weak Python 1), so the promotion of
    # the weighted sum is the one JAX gets.
    return [(rounded.astype(np.int32), coordinate.dtype.type(1))]


def _linear_nodes(coordinate) -> list:
    lower = fnp.floor(coordinate)  # integer coordinates stay integers (weights 1 and 0)
    upper_weight = coordinate - lower
    index = lower.astype(np.int32)
    return [(index, 1 - upper_weight), (index + 1, upper_weight)]


def _round_if_integer(result, dtype):
    if dtypes.is_int(dtype) and not dtypes.is_int(result.dtype):
        return lax.round(result)
    return result


@functools.partial(jit, static_argnums=(2, 3))
def _map_coordinates(input, coordinates: tuple, order: int, mode: str, cval):
    input = fnp.asarray(input)
    coordinates = [fnp.asarray(c) for c in coordinates]
    cval = fnp.asarray(cval).astype(input.dtype)
    index_map = _INDEX_MAPS[mode]
    nodes_of = _nearest_nodes if order == 0 else _linear_nodes

    per_axis = []
    for coordinate, size in zip(coordinates, input.shape):
        per_axis.append([(index_map(index, size),
                          (index >= 0) & (index < size) if mode == "constant" else None,
                          weight)
                         for index, weight in nodes_of(coordinate)])

    result = None
    for corner in itertools.product(*per_axis):
        indices, inside, weights = zip(*corner)
        value = input[indices]
        if mode == "constant":
            value = fnp.where(functools.reduce(operator.and_, inside), value, cval)
        # value on the left: a NumPy scalar weight must not take over the product.
        term = value * functools.reduce(operator.mul, weights)
        result = term if result is None else result + term
    return _round_if_integer(result, input.dtype).astype(input.dtype)


def map_coordinates(input: Any, coordinates: Sequence[Any], order: int,
                    mode: str = "constant", cval: Any = 0.0) -> Any:
    """Sample ``input`` at fractional ``coordinates`` by nearest-neighbour (``order=0``)
    or multilinear (``order=1``) interpolation.

    ``input`` has N >= 1 dimensions; ``coordinates`` is a sequence of N arrays (or an
    array whose first axis has length N), the k-th holding positions along axis k in
    units of samples. They broadcast against each other, and the result has their
    broadcast shape and ``input``'s dtype (integer results are rounded half away from
    zero first). ``mode`` says what lies outside the array: ``'constant'`` (``cval``,
    SciPy's ``'grid-constant'``), ``'nearest'`` (the edge sample), ``'wrap'`` (periodic,
    SciPy's ``'grid-wrap'``), ``'mirror'`` (reflected about the edge samples) or
    ``'reflect'`` (reflected about the array's outer edges). Order 0 rounds halves away
    from zero.

    >>> map_coordinates(fnp.arange(12.0).reshape(3, 4), [fnp.array([0.5]), fnp.array([1.5])], 1)
    Array([3.5], dtype=float32)
    """
    coordinates = tuple(coordinates)
    ndim = fnp.ndim(input)
    if len(coordinates) != ndim:
        raise ValueError(f"map_coordinates: got {len(coordinates)} coordinate arrays for an "
                         f"input of {ndim} dimensions (shape {fnp.shape(input)}); pass "
                         f"exactly one coordinate array per input axis")
    if mode not in _INDEX_MAPS:
        raise NotImplementedError(
            f"map_coordinates does not support mode {mode!r}; use one of "
            f"{', '.join(repr(m) for m in _INDEX_MAPS)} ('constant' and 'wrap' behave as "
            f"SciPy's 'grid-constant' and 'grid-wrap')")
    if order not in (0, 1):
        raise NotImplementedError(
            f"map_coordinates supports order 0 (nearest) and 1 (linear) only, got "
            f"order={order!r}; higher-order spline interpolation is not implemented")
    if ndim == 0:
        # Matches the exception type JAX raises for a rank-0 input.
        raise TypeError("map_coordinates needs an input with at least one dimension, got a "
                        "0-d array; there is nothing to interpolate between")
    return _map_coordinates(input, coordinates, int(order), mode, cval)
