"""Set operations and histograms (as ``jax.numpy``): the distinct values of an array
(``unique`` and the array-API forms ``unique_values``, ``unique_counts``,
``unique_inverse``, ``unique_all``), operations on two sets (``intersect1d``, ``union1d``,
``setdiff1d``, ``setxor1d``), membership (``isin``) and histograms (``histogram``,
``histogram_bin_edges``, ``histogram2d``, ``histogramdd``).

How many distinct values there are depends on the data, so, as in JAX, the set operations
take ``size=`` (and ``fill_value=``): the result then has exactly ``size`` entries (the
first ``size`` sorted ones, padded with ``fill_value``) and works under ``jit`` and
``vmap``. Without ``size`` the input must be concrete; a traced one raises
``ConcretizationTypeError`` naming ``size``.

Everything is written as sorts, comparisons and gathers/scatters of a fixed shape: the
distinct values are the first element of each run of equal ones in the sorted array, and
a result's entries are gathered from the positions of the ``True`` values of a mask. Each
function's fixed-shape part is a kernel that, called eagerly, runs as one compiled
executable (``compiled_when_eager``); without ``size`` a first, smaller kernel counts the
entries (so the input must be concrete).
"""
from __future__ import annotations

import builtins
import math
import operator
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np

from functorch_lite.core import dtypes
from functorch_lite.core.errors import ConcretizationTypeError
from functorch_lite.numpy import reductions as _red
from functorch_lite.numpy import shapes as _shapes
from functorch_lite.numpy import ufuncs as _uf
from functorch_lite.numpy._eager import compiled_when_eager
from functorch_lite.numpy._util import check_arraylike, normalize_axis, promote_dtypes, \
    promote_dtypes_inexact
from functorch_lite.numpy.creation import arange, asarray, full, linspace, ones, ones_like, \
    zeros
from functorch_lite.numpy.sequences import bincount, ravel_multi_index, searchsorted
from functorch_lite.numpy.sorting import lexsort

__all__ = ["unique", "unique_values", "unique_counts", "unique_inverse", "unique_all",
           "intersect1d", "union1d", "setdiff1d", "setxor1d", "isin", "histogram",
           "histogram_bin_edges", "histogram2d", "histogramdd"]


# -- shared helpers --------------------------------------------------------------------------
def _arr(name: str, *xs):
    check_arraylike(f"functorch_lite.numpy.{name}", *xs)
    return [asarray(x) for x in xs]


def size_argument(name: str, size: Any) -> int | None:
    """``size=`` as a Python int (None stays None); a traced one cannot decide a shape."""
    if size is None:
        return None
    try:
        return operator.index(size)
    except ConcretizationTypeError:
        raise ConcretizationTypeError(f"{name}: the size argument must be a concrete "
                                      f"integer, got a traced value") from None


def run_sized(name: str, kernel: Callable, arrays: Sequence[Any], size: int | None,
              *options: Any):
    """``kernel(*arrays, size, *options)``, which returns ``(result, count)``: a result
    ``size`` entries long and how many entries there really are. Without ``size`` the
    kernel first runs with size None, returning only the count, which needs concrete
    arrays."""
    if size is None:
        _, count = kernel(*arrays, None, *options)
        try:
            size = int(count)
        except ConcretizationTypeError:
            raise ConcretizationTypeError(
                f"The size argument of {name} must be statically specified to use {name} "
                f"within transformations (jit, vmap, grad): the length of its result "
                f"depends on the values of its input. Call {name}(..., size=...) (and "
                f"optionally fill_value=...).") from None
    return kernel(*arrays, size, *options)[0]


def true_positions(mask: Any, size: int):
    """The positions of the 1-D ``mask``'s True entries in order, padded with 0 to
    ``size`` entries, a bool array saying which are real, and their number (int32)."""
    as_int = mask.astype(np.int32)
    count = _red.sum(as_int)
    # The k-th True entry goes to slot k; the others, and those past size, are dropped.
    slot = _uf.where(mask, _red.cumsum(as_int) - 1, size)
    pos = zeros((size,), np.int32).at[slot].set(arange(mask.shape[0], dtype=np.int32),
                                                mode="drop")
    return pos, arange(size, dtype=np.int32) < count, count


def _sorted_rows(rows: Any, equal_nan: bool):
    """Sort the rows of the 2-D ``rows`` (n > 0, m) lexicographically (stable, NaNs last).
    Returns the permutation, the sorted rows and a mask of the rows that start a run of
    equal ones (NaNs equal to each other when ``equal_nan``)."""
    n, m = rows.shape
    if dtypes.is_complex(rows.dtype):
        # A NaN in either part is one value, so that every such number sorts together.
        rows = _uf.where(_uf.isnan(rows), asarray(complex(np.nan, 0), rows.dtype), rows)
    if m == 0:  # rows of no elements are all equal
        return arange(n, dtype=np.int32), rows, arange(n) == 0
    perm = lexsort([rows[:, j] for j in reversed(range(m))])
    aux = rows[perm]
    differs = _uf.not_equal(aux[1:], aux[:-1])
    if equal_nan and dtypes.is_inexact(rows.dtype):
        differs = differs & ~(_uf.isnan(aux[1:]) & _uf.isnan(aux[:-1]))
    starts = _shapes.concatenate([ones((1,), np.bool_), _red.any(differs, axis=1)])
    return perm, aux, starts


def _pad_with_least(values: Any, valid: Any):
    """JAX's default padding of an intersection or symmetric difference: the least value
    found (NaN when a NaN was found; 0 when nothing was)."""
    if values.shape[0] == 0:
        return values
    zero = zeros((), values.dtype)
    values = _uf.where(valid, values, zero)
    values = _uf.where(valid, values, _red.max(values))
    return _uf.where(valid, values, _red.min(values))


def _fill(values: Any, valid: Any, fill_value: Any):
    fill = asarray(fill_value).astype(values.dtype)
    valid = valid.reshape(valid.shape + (1,) * (values.ndim - 1))
    return _uf.where(valid, values, fill)


def _pad(values: Any, valid: Any, fill_value: Any, has_fill: bool):
    return _fill(values, valid, fill_value) if has_fill else _pad_with_least(values, valid)


# -- unique ----------------------------------------------------------------------------------
@compiled_when_eager(arrays=2)
def _unique_kernel(arr, fill_value, size, equal_nan, has_fill, wanted):
    """``unique`` of the slices ``arr[i]`` (``arr`` not empty): the values and the extras
    ``wanted`` (index, inverse, counts), and the number of distinct slices."""
    n, rest = arr.shape[0], arr.shape[1:]
    perm, aux, starts = _sorted_rows(arr.reshape((n, math.prod(rest))), equal_nan)
    if size is None:
        return (), _red.sum(starts, dtype=np.int32)
    pos, valid, count = true_positions(starts, size)
    values = aux[pos].reshape((size,) + rest)
    if has_fill:  # (else the padding repeats the least value: position 0 of the sort)
        values = _fill(values, valid, fill_value)
    group = _red.cumsum(starts.astype(np.int32)) - 1
    want_index, want_inverse, want_counts = wanted
    out = [values]
    if want_index:
        out.append(perm[pos])
    if want_inverse:
        out.append(zeros((n,), np.int32).at[perm].set(group))
    if want_counts:
        out.append(zeros((size,), np.int32).at[group].add(1))
    return tuple(out), count


def unique(ar: Any, return_index: bool = False, return_inverse: bool = False,
           return_counts: bool = False, axis: int | None = None, *, equal_nan: bool = True,
           size: int | None = None, fill_value: Any = None, sorted: bool = True):
    """The sorted distinct values of ``ar`` (flattened, or the distinct slices along
    ``axis``), and optionally where each first occurs (``return_index``), which of them
    each element is (``return_inverse``, shaped like ``ar`` when ``axis`` is None) and how
    often each occurs (``return_counts``). ``equal_nan``: all NaNs count as one value.

    ``size``: return exactly ``size`` values (needed under ``jit``), padded with
    ``fill_value`` (default: the least value; indices pad with its index, counts with 0).
    ``sorted`` is accepted for JAX's signature (the values are always sorted).
    ``unique(array([3, 1, 3]), return_counts=True)`` is ``([1, 3], [1, 2])``."""
    del sorted
    return _unique("unique", ar, return_index, return_inverse, return_counts, axis,
                   equal_nan, size, fill_value)


def _unique(name, ar, return_index, return_inverse, return_counts, axis, equal_nan, size,
            fill_value):
    (arr,) = _arr(name, ar)
    size = size_argument(name, size)
    shape = arr.shape
    if axis is None:
        arr, ax = _shapes.ravel(arr), 0
    else:
        if arr.ndim == 0:
            raise ValueError(f"axis {axis} is out of bounds for array of dimension 0")
        ax = normalize_axis(name, axis, arr.ndim)
        arr = _shapes.moveaxis(arr, ax, 0)
    wanted = (bool(return_index), bool(return_inverse), bool(return_counts))
    if arr.shape[0] == 0:
        if size and fill_value is None:
            raise ValueError(f"{name}: for zero-sized input with nonzero size argument, "
                             "fill_value must be specified")
        values = arr if size is None else full((size,) + arr.shape[1:], fill_value, arr.dtype)
        out = [values] + [zeros((0,), np.int32)] * sum(wanted)
    else:
        fill = 0 if fill_value is None else asarray(fill_value)
        out = list(run_sized(name, _unique_kernel, (arr, fill), size, bool(equal_nan),
                             fill_value is not None, wanted))
    out[0] = _shapes.moveaxis(out[0], 0, ax)
    if return_inverse and axis is None:
        out[1 + wanted[0]] = out[1 + wanted[0]].reshape(shape)
    return out[0] if len(out) == 1 else tuple(out)


class _UniqueAllResult(NamedTuple):
    values: Any
    indices: Any
    inverse_indices: Any
    counts: Any


class _UniqueCountsResult(NamedTuple):
    values: Any
    counts: Any


class _UniqueInverseResult(NamedTuple):
    values: Any
    inverse_indices: Any


def unique_values(x: Any, /, *, size: int | None = None, fill_value: Any = None):
    """The sorted distinct values of ``x`` (every NaN distinct, as the array API)."""
    return unique(x, equal_nan=False, size=size, fill_value=fill_value)


def unique_counts(x: Any, /, *, size: int | None = None, fill_value: Any = None):
    """``(values, counts)`` as a named tuple."""
    return _UniqueCountsResult(*unique(x, return_counts=True, equal_nan=False, size=size,
                                       fill_value=fill_value))


def unique_inverse(x: Any, /, *, size: int | None = None, fill_value: Any = None):
    """``(values, inverse_indices)`` as a named tuple (``inverse_indices`` shaped like
    ``x``)."""
    return _UniqueInverseResult(*unique(x, return_inverse=True, equal_nan=False, size=size,
                                        fill_value=fill_value))


def unique_all(x: Any, /, *, size: int | None = None, fill_value: Any = None):
    """``(values, indices, inverse_indices, counts)`` as a named tuple."""
    return _UniqueAllResult(*unique(x, return_index=True, return_inverse=True,
                                    return_counts=True, equal_nan=False, size=size,
                                    fill_value=fill_value))


# -- two sets --------------------------------------------------------------------------------
def _distinct(a: Any, assume_unique: bool = False):
    """The sorted 1-D ``a`` (not empty), its permutation, and which entries start a run of
    equal values (all of them when ``assume_unique``)."""
    perm, aux, starts = _sorted_rows(a[:, None], equal_nan=True)
    if assume_unique:
        starts = ones(a.shape, np.bool_)
    return perm, aux[:, 0], starts


def _matches(x: Any, y: Any):
    """``x[i] == y[j]`` for all pairs (in their common dtype): shape (len(x), len(y))."""
    x, y = promote_dtypes("isin", x, y)
    return _uf.equal(x[:, None], y[None, :])


@compiled_when_eager(arrays=2)
def _isin_kernel(element, test_elements, invert):
    found = _red.any(_matches(_shapes.ravel(element), _shapes.ravel(test_elements)), axis=1)
    return (~found if invert else found).reshape(element.shape)


def isin(element: Any, test_elements: Any, assume_unique: bool = False,
         invert: bool = False, *, method: str = "auto"):
    """Elementwise: whether each value of ``element`` occurs in ``test_elements`` (or does
    not, with ``invert``); shaped like ``element``. ``method`` is accepted for JAX's
    signature; every method compares all pairs."""
    del assume_unique
    element, test_elements = _arr("isin", element, test_elements)
    if method not in ("auto", "compare_all", "binary_search", "sort"):
        raise ValueError(f"method={method!r} is not implemented; options are "
                         "'compare_all', 'binary_search', 'sort', and 'auto'")
    e, t = promote_dtypes("isin", element, test_elements)
    if e.size == 0 or t.size == 0:
        return full(e.shape, bool(invert), np.bool_)
    return _isin_kernel(e, t, bool(invert))


def union1d(ar1: Any, ar2: Any, *, size: int | None = None, fill_value: Any = None):
    """The sorted distinct values found in either array (both flattened)."""
    ar1, ar2 = _arr("union1d", ar1, ar2)
    joined = _shapes.concatenate([_shapes.ravel(ar1), _shapes.ravel(ar2)])
    return _unique("union1d", joined, False, False, False, None, True, size, fill_value)


@compiled_when_eager(arrays=3)
def _setdiff_kernel(a1, a2, fill_value, size, assume_unique):
    if assume_unique:
        candidates, keep = a1, ones(a1.shape, np.bool_)
    else:
        _, candidates, keep = _distinct(a1)
    if a2.shape[0]:
        keep = keep & ~_red.any(_matches(candidates, a2), axis=1)
    if size is None:
        return (), _red.sum(keep, dtype=np.int32)
    pos, valid, count = true_positions(keep, size)
    return _fill(candidates[pos], valid, fill_value), count


def setdiff1d(ar1: Any, ar2: Any, assume_unique: bool = False, *, size: int | None = None,
              fill_value: Any = None):
    """The sorted distinct values of ``ar1`` not in ``ar2`` (in ``ar1``'s order when
    ``assume_unique``); ``size`` pads with ``fill_value``, 0 by default. The result has
    ``ar1``'s dtype."""
    a1, a2 = _arr("setdiff1d", ar1, ar2)
    a1, a2 = _shapes.ravel(a1), _shapes.ravel(a2)
    size = size_argument("setdiff1d", size)
    fill = 0 if fill_value is None else asarray(fill_value)
    if a1.shape[0] == 0:
        return full((size or 0,), fill, a1.dtype)
    return run_sized("setdiff1d", _setdiff_kernel, (a1, a2, fill), size, bool(assume_unique))


@compiled_when_eager(arrays=3)
def _setxor_kernel(a1, a2, fill_value, size, assume_unique, has_fill):
    parts = [_distinct(a, assume_unique)[1:] for a in (a1, a2) if a.shape[0]]
    values = _shapes.concatenate([p[0] for p in parts])
    present = _shapes.concatenate([p[1] for p in parts])
    # The distinct values of both, sorted, then the unused slots: a value is in exactly
    # one set when it differs from both neighbours.
    order = lexsort([values, ~present])
    values, present = values[order], present[order]
    edge = ones((1,), np.bool_)
    differs = _uf.not_equal(values[1:], values[:-1])
    new_left = _shapes.concatenate([edge, differs])
    new_right = _shapes.concatenate([differs | ~present[1:], edge])
    keep = present & new_left & new_right
    if size is None:
        return (), _red.sum(keep, dtype=np.int32)
    pos, valid, count = true_positions(keep, size)
    return _pad(values[pos], valid, fill_value, has_fill), count


def setxor1d(ar1: Any, ar2: Any, assume_unique: bool = False, *, size: int | None = None,
             fill_value: Any = None):
    """The sorted values found in exactly one of the arrays (both flattened); ``size``
    pads with ``fill_value``, by default the least value found."""
    a1, a2 = _arr("setxor1d", ar1, ar2)
    a1, a2 = promote_dtypes("setxor1d", _shapes.ravel(a1), _shapes.ravel(a2))
    size = size_argument("setxor1d", size)
    if a1.shape[0] + a2.shape[0] == 0:
        return full((size or 0,), 0 if fill_value is None else fill_value, a1.dtype)
    fill = 0 if fill_value is None else asarray(fill_value)
    return run_sized("setxor1d", _setxor_kernel, (a1, a2, fill), size, bool(assume_unique),
                     fill_value is not None)


@compiled_when_eager(arrays=3)
def _intersect_kernel(a1, a2, fill_value, size, assume_unique, return_indices, has_fill):
    perm1, aux1, keep = _distinct(a1, assume_unique)
    hits = _matches(aux1, a2)
    keep = keep & _red.any(hits, axis=1)
    if size is None:
        return (), _red.sum(keep, dtype=np.int32)
    pos, valid, count = true_positions(keep, size)
    values = _pad(aux1[pos], valid, fill_value, has_fill)
    if not return_indices:
        return values, count
    first_in_2 = _red.argmax(hits, axis=1).astype(np.int32)
    return (values, _uf.where(valid, perm1[pos], a1.shape[0]),
            _uf.where(valid, first_in_2[pos], a2.shape[0])), count


def intersect1d(ar1: Any, ar2: Any, assume_unique: bool = False,
                return_indices: bool = False, *, size: int | None = None,
                fill_value: Any = None):
    """The sorted distinct values found in both arrays (flattened). With
    ``return_indices`` also where each first occurs in ``ar1`` and in ``ar2``. ``size``
    pads the values with ``fill_value`` (default: the least value found) and the indices
    with ``ar1.size`` and ``ar2.size``."""
    a1, a2 = _arr("intersect1d", ar1, ar2)
    a1, a2 = promote_dtypes("intersect1d", _shapes.ravel(a1), _shapes.ravel(a2))
    size = size_argument("intersect1d", size)
    n1, n2 = a1.shape[0], a2.shape[0]
    if n1 == 0 or n2 == 0:  # nothing in common
        length = size or 0
        values = full((length,), 0 if fill_value is None else fill_value, a1.dtype)
        if not return_indices:
            return values
        return values, full((length,), n1, np.int32), full((length,), n2, np.int32)
    fill = 0 if fill_value is None else asarray(fill_value)
    return run_sized("intersect1d", _intersect_kernel, (a1, a2, fill), size,
                     bool(assume_unique), bool(return_indices), fill_value is not None)


# -- histograms ------------------------------------------------------------------------------
@compiled_when_eager(arrays=3)
def _even_edges(arr, lo, hi, count, from_data, dtype):
    if from_data:
        lo, hi = _red.min(arr), _red.max(arr)
    lo, hi = asarray(lo).astype(dtype), asarray(hi).astype(dtype)
    flat = lo == hi
    lo = _uf.where(flat, lo - 0.5, lo)
    hi = _uf.where(flat, hi + 0.5, hi)
    return linspace(lo, hi, count + 1, dtype=dtype)


def histogram_bin_edges(a: Any, bins: Any = 10, range: Any = None, weights: Any = None):
    """The edges of a histogram's bins: ``bins`` itself when it is 1-D, else ``bins + 1``
    evenly spaced edges over ``range`` (default: the data's min and max; a range of one
    value is widened by 0.5 either side). ``weights`` is unused (as JAX)."""
    del weights
    if isinstance(bins, str):
        raise NotImplementedError("string values for `bins` not implemented.")
    (arr,) = _arr("histogram_bin_edges", a)
    check_arraylike("histogram_bin_edges", bins)
    dtype = dtypes.float_dtype_for(arr.dtype)
    if np.ndim(bins) == 1:
        return asarray(bins).astype(dtype)
    try:
        count = operator.index(bins)
    except ConcretizationTypeError:
        raise ConcretizationTypeError("histogram_bin_edges: the number of bins must be "
                                      "concrete (it decides the result's shape)") from None
    if range is None:
        return _even_edges(arr, 0, 0, count, True, dtype)
    if not (isinstance(range, (tuple, list)) and all(np.ndim(r) == 0 for r in range)):
        range = asarray(range)
    if ((len(range),) if isinstance(range, (tuple, list)) else range.shape) != (2,):
        raise ValueError(f"`range` must be either None or a sequence of scalars, got "
                         f"{range}")
    return _even_edges(arr, asarray(range[0]), asarray(range[1]), count, False, dtype)


@compiled_when_eager(arrays=3)
def _histogram_kernel(a, weights, edges, has_weights, density):
    if not has_weights:
        weights = ones_like(a)
    n_edges = edges.shape[0]
    slot = searchsorted(edges, a, side="right")
    slot = _uf.where(a == edges[-1], n_edges - 1, slot)  # the last bin is closed
    # slot 0 is below the first edge and slot n_edges above the last: both dropped
    counts = zeros((n_edges,), weights.dtype).at[slot].add(weights)[1:]
    if density:
        counts = counts / _diff(edges) / _red.sum(counts)
    return counts


def histogram(a: Any, bins: Any = 10, range: Any = None, weights: Any = None,
              density: bool | None = None):
    """``(counts, edges)``: the (weighted) number of values of ``a`` in each bin; bins are
    closed on the left, the last also on the right; values outside are not counted.
    ``density``: counts per unit length, summing to 1 over the bins."""
    if weights is None:
        a, _ = _arr("histogram", a, bins)
        (a,) = promote_dtypes_inexact("histogram", a)
    else:
        a, _, weights = _arr("histogram", a, bins, weights)
        if a.shape != weights.shape:
            raise ValueError("weights should have the same shape as a.")
        a, weights = promote_dtypes_inexact("histogram", a, weights)
    edges = histogram_bin_edges(a, bins, range)
    counts = _histogram_kernel(a, 1 if weights is None else weights, edges,
                               weights is not None, bool(density))
    return counts, edges


def _diff(x: Any):
    return x[1:] - x[:-1]


_HISTOGRAMDD_KERNELS: dict = {}


def _histogramdd_kernel(d: int):
    """The counting of ``histogramdd`` in ``d`` dimensions, given the edges: compiled
    whole when run eagerly (one function per ``d``, as its edges are ``d`` arrays)."""
    kernel = _HISTOGRAMDD_KERNELS.get(d)
    if kernel is not None:
        return kernel

    def counts(sample, weights, *edges_and_options):
        all_edges, (has_weights, density) = edges_and_options[:d], edges_and_options[d:]
        slots = []
        for column, edges in zip([sample[:, i] for i in builtins.range(d)], all_edges):
            slot = searchsorted(edges, column, side="right")
            slots.append(_uf.where(column == edges[-1], slot - 1, slot))
        # One extra bin either side of each dimension collects the points outside, then
        # goes.
        grid = tuple(e.shape[0] + 1 for e in all_edges)
        flat = ravel_multi_index(tuple(slots), grid, mode="clip")
        hist = bincount(flat, weights if has_weights else None, length=math.prod(grid))
        hist = hist.reshape(grid)[(slice(1, -1),) * d]
        if density:
            hist = hist.astype(sample.dtype)
            hist = hist / _red.sum(hist)
            for i, e in enumerate(all_edges):
                shape = [1] * d
                shape[i] = e.shape[0] - 1
                hist = hist / _diff(e).reshape(shape)
        return hist
    kernel = _HISTOGRAMDD_KERNELS[d] = compiled_when_eager(counts, arrays=2 + d)
    return kernel


def histogramdd(sample: Any, bins: Any = 10, range: Sequence[Any] | None = None,
                weights: Any = None, density: bool | None = None):
    """``(counts, [edges per dimension])`` of the points ``sample`` (N, D) in a grid of
    bins (``bins``: a count, or one count or array of edges per dimension). Without
    ``weights`` or ``density`` the counts are int32, as JAX."""
    if weights is None:
        (sample,) = _arr("histogramdd", sample)
        (sample,) = promote_dtypes_inexact("histogramdd", sample)
    else:
        sample, weights = _arr("histogramdd", sample, weights)
        if weights.shape != sample.shape[:1]:
            raise ValueError("should have one weight for each sample.")
        sample, weights = promote_dtypes_inexact("histogramdd", sample, weights)
    if sample.ndim != 2:
        raise ValueError(f"histogramdd: sample must have shape (N, D), got {sample.shape}")
    n, d = sample.shape
    if range is not None and (len(range) != d or any(
            r is not None and np.shape(r)[0] != 2 for r in range)):
        raise ValueError(f"For sample.shape={(n, d)}, range must be a sequence of {d} pairs "
                         f"or Nones; got range={range}")
    try:
        per_dim = list(bins)
    except TypeError:
        per_dim = [bins] * d
    else:
        if len(per_dim) != d:
            raise ValueError("should be a bin for each dimension.")
    all_edges = [histogram_bin_edges(sample[:, i], per_dim[i],
                                     None if range is None else range[i])
                 for i in builtins.range(d)]
    hist = _histogramdd_kernel(d)(sample, 0 if weights is None else weights, *all_edges,
                                  weights is not None, bool(density))
    return hist, all_edges


def histogram2d(x: Any, y: Any, bins: Any = 10, range: Sequence[Any] | None = None,
                weights: Any = None, density: bool | None = None):
    """``(counts, x_edges, y_edges)`` of the points ``(x[i], y[i])``; ``bins`` as
    ``histogramdd`` (a pair of counts or edge arrays, or one for both)."""
    x, y = _arr("histogram2d", x, y)
    try:
        n_bins = len(bins)
    except TypeError:
        n_bins = 1
    if n_bins not in (1, 2):  # one array of edges for both dimensions
        bins = [asarray(bins), asarray(bins)]
    x, y = promote_dtypes("histogram2d", x, y)
    sample = _shapes.stack([x, y], axis=1)
    hist, edges = histogramdd(sample, bins, range, weights, density)
    return hist, edges[0], edges[1]
