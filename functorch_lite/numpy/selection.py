"""Choosing, moving and rearranging elements (as ``jax.numpy``): by conditions
(``select``, ``piecewise``), by an index array (``choose``), by a mask (``compress``,
``extract``, ``place``), at indices (``put``, ``put_along_axis``), removing and adding
entries (``delete``, ``insert``, ``resize``, ``trim_zeros``) and partial sorts
(``partition``, ``argpartition``, ``sort_complex``).

Arrays are immutable, so the functions NumPy runs in place (``place``, ``put``,
``put_along_axis``) return an updated copy and, as in JAX, require ``inplace=False`` as a
reminder. A result whose length depends on the data (``compress``, ``extract``) takes
``size=`` (and ``fill_value=``) under ``jit``; ``delete`` needs concrete indices unless
``assume_unique_indices=True``; ``trim_zeros`` needs a concrete array.
"""
from __future__ import annotations

import math
import operator
from typing import Any, Sequence

import numpy as np

from functorch_lite import lax
from functorch_lite.core import dtypes
from functorch_lite.core.avals import Array
from functorch_lite.core.errors import ConcretizationTypeError
from functorch_lite.numpy import reductions as _red
from functorch_lite.numpy import shapes as _shapes
from functorch_lite.numpy import ufuncs as _uf
from functorch_lite.numpy._eager import compiled_when_eager
from functorch_lite.numpy._util import broadcast_shapes, canonical_axis, check_arraylike, \
    normalize_axis, promote_dtypes
from functorch_lite.numpy.creation import arange, asarray, zeros
from functorch_lite.numpy.sequences import indices as _index_grid
from functorch_lite.numpy.sequences import searchsorted, unravel_index
from functorch_lite.numpy.setops import run_sized, size_argument, true_positions
from functorch_lite.numpy.sorting import argsort, sort

__all__ = ["select", "piecewise", "choose", "compress", "extract", "place", "put",
           "put_along_axis", "delete", "insert", "resize", "trim_zeros", "partition",
           "argpartition", "sort_complex"]

_INT = np.int32


def _arr(name: str, *xs):
    check_arraylike(f"functorch_lite.numpy.{name}", *xs)
    return [asarray(x) for x in xs]


def _host(name: str, x: Any, why: str) -> np.ndarray:
    """The value of ``x`` on the host; a traced ``x`` is an error saying ``why``."""
    try:
        return np.asarray(x)
    except ConcretizationTypeError:
        raise ConcretizationTypeError(f"{name}: {why}") from None


def _check_not_inplace(name: str, inplace: bool) -> None:
    if inplace:
        raise ValueError(f"functorch_lite.numpy.{name} cannot modify arrays in-place, because "
                         "arrays are immutable. Pass inplace=False to instead return an "
                         "updated array.")


def _tile_to(v: Any, n: int):
    """The 1-D ``v`` repeated (or cut) to length ``n``."""
    if v.shape[0] < n:
        v = _shapes.tile(v, -(-n // v.shape[0]))
    return v[:n]


# -- by conditions ---------------------------------------------------------------------------
def select(condlist: Sequence[Any], choicelist: Sequence[Any], default: Any = 0):
    """``choicelist[i]`` where ``condlist[i]`` is the first true condition, ``default``
    where none is (all broadcast together).
    ``select([x < 0, x > 5], [-x, 10 * x], 1)`` for ``x = [-2, 3, 9]`` is ``[2, 1, 90]``."""
    if len(condlist) != len(choicelist):
        raise ValueError(f"condlist must have length equal to choicelist ({len(condlist)} vs "
                         f"{len(choicelist)})")
    if not condlist:
        raise ValueError("condlist must be non-empty")
    check_arraylike("select", *condlist, *choicelist, default)
    cases = promote_dtypes("select", asarray(default), *[asarray(c) for c in choicelist])
    which = asarray(0, _INT)
    for i in reversed(range(len(condlist))):  # the first true condition wins
        which = _uf.where(asarray(condlist[i]).astype(np.bool_), asarray(i + 1, _INT), which)
    which, *cases = _shapes.broadcast_arrays(which, *cases)
    return lax.select_n(which, *cases)


def piecewise(x: Any, condlist: Any, funclist: Sequence[Any], *args, **kw):
    """``funclist[i](x)`` (or the constant ``funclist[i]``) where ``condlist[i]`` holds (the
    last true condition wins); elsewhere the extra last function (or 0) when ``funclist``
    is one longer than ``condlist``. The result has ``x``'s dtype. Every function is called
    once on all of ``x`` (it should be elementwise), then the values are selected."""
    (x,) = _arr("piecewise", x)
    n_cond, n_func = len(condlist), len(funclist)
    if n_func == n_cond + 1:
        funcs = [funclist[-1], *funclist[:-1]]
    elif n_func == n_cond:
        funcs = [0, *funclist]
    else:
        raise ValueError(f"with {n_cond} condition(s), either {n_cond} or {n_cond + 1} "
                         f"functions are expected; got {n_func}")
    conds = [asarray(c).astype(np.bool_) for c in condlist]
    which = asarray(0, _INT)
    for i, cond in enumerate(conds):
        which = _uf.where(cond, asarray(i + 1, _INT), which)
    shape = broadcast_shapes(x.shape, which.shape, name="piecewise")
    xb = _shapes.broadcast_to(x, shape)

    def value(f):
        v = f(xb, *args, **kw) if callable(f) else f
        return _shapes.broadcast_to(asarray(v).astype(x.dtype), shape)
    return lax.select_n(_shapes.broadcast_to(which, shape), *[value(f) for f in funcs])


# -- by an index array -----------------------------------------------------------------------
def choose(a: Any, choices: Any, out: None = None, mode: str = "raise"):
    """``choices[a[i]][i]`` for every position ``i`` (``a`` and the choices broadcast
    together). ``mode``: 'raise' checks that ``a`` is in range (so needs a concrete ``a``,
    as JAX: use 'wrap' or 'clip' under ``jit``), 'wrap' takes it modulo the number of
    choices, 'clip' clips it."""
    if out is not None:
        raise NotImplementedError("The 'out' argument to jnp.choose is not supported.")
    if hasattr(choices, "shape"):
        choices = [choices[i] for i in range(choices.shape[0])]
    a, *choices = _arr("choose", a, *choices)
    if not dtypes.is_int(a.dtype):
        raise ValueError("`a` array must be integer typed")
    n = len(choices)
    if mode == "raise":
        host = _host("choose", a, "mode='raise' checks the indices, which must be concrete "
                     "(this one is traced: under jit use mode='wrap' or mode='clip').")
        if np.any((host < 0) | (host >= n)):
            raise ValueError("invalid entry in choice array")
    elif mode == "wrap":
        a = a % n
    elif mode == "clip":
        a = _uf.clip(a, 0, n - 1)
    else:
        raise ValueError(f"mode={mode!r} not understood. Must be 'raise', 'wrap', or 'clip'")
    choices = promote_dtypes("choose", *choices)
    which, *choices = _shapes.broadcast_arrays(a.astype(_INT), *choices)
    return lax.select_n(which, *choices)


# -- by a mask -------------------------------------------------------------------------------
def compress(condition: Any, a: Any, axis: int | None = None, *, size: int | None = None,
             fill_value: Any = 0, out: None = None):
    """The slices of ``a`` along ``axis`` (flattened when None) where the 1-D
    ``condition`` is true (a longer condition must be false past ``a``'s length; a shorter
    one drops ``a``'s tail). ``size``: return exactly that many slices (needed under
    ``jit``; at most the axis length), padded with ``fill_value``."""
    if out is not None:
        raise NotImplementedError("The 'out' argument to jnp.compress is not supported.")
    return _compress("compress", condition, a, axis, size, fill_value)


def _compress(name, condition, a, axis, size, fill_value):
    condition, arr, _ = _arr(name, condition, a, fill_value)
    condition = condition.astype(np.bool_)
    if condition.ndim != 1:
        raise ValueError("condition must be a 1D array")
    if axis is None:
        arr, ax = _shapes.ravel(arr), 0
    else:
        ax = normalize_axis(name, axis, arr.ndim)
        arr = _shapes.moveaxis(arr, ax, 0)
    condition, extra = condition[:arr.shape[0]], condition[arr.shape[0]:]
    arr = arr[:condition.shape[0]]
    size = size_argument(name, size)
    if size is None:
        if extra.shape[0]:
            bad = _host(name, _red.any(extra), "the size argument must be given under "
                        f"transformations (jit, vmap, grad): {name}(..., size=...)")
            if bad:
                raise ValueError("condition contains entries that are out of bounds")
    elif not 0 <= size <= arr.shape[0]:
        raise ValueError("size must be positive and not greater than the size of the array "
                         f"axis; got size={size} for a.shape[axis]={arr.shape[0]}")
    result = run_sized(name, _compress_kernel, (condition, arr, asarray(fill_value)), size,
                       size is not None)
    return _shapes.moveaxis(result, 0, ax)


@compiled_when_eager(arrays=3)
def _compress_kernel(condition, arr, fill_value, size, padded):
    if size is None:  # (run_sized counts first)
        return (), _red.sum(condition, dtype=np.int32)
    pos, valid, count = true_positions(condition, size)
    result = arr[pos]
    if padded:
        valid = valid.reshape(valid.shape + (1,) * (arr.ndim - 1))
        result = _uf.where(valid, result, fill_value.astype(arr.dtype))
    return result, count


def extract(condition: Any, arr: Any, *, size: int | None = None, fill_value: Any = 0):
    """The elements of the flattened ``arr`` where the flattened ``condition`` is true
    (``compress`` of the flattened arrays; ``size`` and ``fill_value`` as there)."""
    condition, arr, _ = _arr("extract", condition, arr, fill_value)
    return _compress("extract", _shapes.ravel(condition), _shapes.ravel(arr), None, size,
                     fill_value)


def place(arr: Any, mask: Any, vals: Any, *, inplace: bool = True):
    """``arr`` with the elements where ``mask`` is true replaced, in order, by the values
    of ``vals`` (repeated as needed). ``inplace`` must be False."""
    data, mask, vals = _arr("place", arr, mask, vals)
    vals = _shapes.ravel(vals)
    _check_not_inplace("place", inplace)
    if data.size != mask.size:
        raise ValueError("place: arr and mask must be the same size")
    if not vals.size:
        raise ValueError("Cannot place values from an empty array")
    if not data.size:
        return data
    return _place_kernel(data, mask, vals)


@compiled_when_eager
def _place_kernel(data, mask, vals):
    n = mask.size
    # The k-th masked element takes vals[k]; the unused slots point past the end (dropped).
    pos, valid, _ = true_positions(_shapes.ravel(mask).astype(np.bool_), n)
    targets = _uf.where(valid, pos, n)
    flat = _shapes.ravel(data).at[targets].set(_tile_to(vals, n), mode="drop")
    return flat.reshape(data.shape)


# -- at indices ------------------------------------------------------------------------------
def put(a: Any, ind: Any, v: Any, mode: str | None = None, *, inplace: bool = True):
    """``a`` with the values ``v`` (repeated as needed) written at the flat indices
    ``ind``. ``mode``: None (indices are clipped to the array; negative ones count from
    the end), 'clip' or 'wrap'; 'raise' is not supported (as JAX). ``inplace`` must be
    False."""
    _check_not_inplace("put", inplace)
    arr, ind, v = _arr("put", a, ind, v)
    ind, v = _shapes.ravel(ind), _shapes.ravel(v)
    if not arr.size or not ind.size or not v.size:
        return arr
    if mode == "raise":
        raise NotImplementedError("The 'raise' mode to jnp.put is not supported.")
    if mode not in (None, "clip", "wrap"):
        raise ValueError(f"mode should be one of 'wrap' or 'clip'; got mode={mode!r}")
    return _put_kernel(arr, ind, v, mode)


@compiled_when_eager(arrays=3)
def _put_kernel(arr, ind, v, mode):
    v = _tile_to(v, ind.shape[0])
    if mode is None:
        scatter_mode = "drop"
    elif mode == "clip":
        ind, scatter_mode = _uf.clip(ind, 0, arr.size - 1), "promise_in_bounds"
    else:
        ind, scatter_mode = ind % arr.size, "promise_in_bounds"
    return arr.at[unravel_index(ind, arr.shape)].set(v, mode=scatter_mode)


def put_along_axis(arr: Any, indices: Any, values: Any, axis: int | None,
                   inplace: bool = True, *, mode: str | None = None):
    """``arr`` with ``values`` written where ``take_along_axis(arr, indices, axis)`` would
    read (``axis`` None: the flattened array). ``inplace`` must be False; ``mode`` as
    ``.at[].set``."""
    _check_not_inplace("put_along_axis", inplace)
    arr, idx, values = _arr("put_along_axis", arr, indices, values)
    shape = arr.shape
    if axis is None:
        arr, ax = _shapes.ravel(arr), 0
    else:
        ax = normalize_axis("put_along_axis", axis, arr.ndim)
    if arr.ndim != idx.ndim:
        raise ValueError("put_along_axis arguments 'arr' and 'indices' must have same ndim. "
                         f"Got arr.ndim={arr.ndim} and indices.ndim={idx.ndim}.")
    try:
        values = _shapes.broadcast_to(values, idx.shape)
    except ValueError:
        raise ValueError("put_along_axis argument 'values' must be broadcastable to "
                         f"'indices'. Got values.shape={values.shape} and "
                         f"indices.shape={idx.shape}.") from None
    where = list(_index_grid(arr.shape, sparse=True))
    where[ax] = idx
    out = arr.at[tuple(where)].set(values, mode=mode)
    return out.reshape(shape) if axis is None else out


# -- removing and adding ---------------------------------------------------------------------
def delete(arr: Any, obj: Any, axis: int | None = None, *,
           assume_unique_indices: bool = False):
    """``arr`` without the entries ``obj`` (an int, a slice, integer indices or a boolean
    mask) along ``axis`` (flattened when None). Index arrays must be concrete, unless
    ``assume_unique_indices`` (then they may be traced, and must not repeat)."""
    (a,) = _arr("delete", arr)
    if axis is None:
        a, axis = _shapes.ravel(a), 0
    ax = normalize_axis("delete", axis, a.ndim)
    n = a.shape[ax]
    lead = (slice(None),) * ax
    try:
        i = operator.index(obj)
    except TypeError:  # (a traced scalar too: it is an index array below)
        pass
    else:
        if not -n <= i < n:
            raise ValueError(f"axis {i} is out of bounds for array of dimension {n}")
        i %= n
        return _shapes.concatenate([a[lead + (slice(0, i),)], a[lead + (slice(i + 1, None),)]],
                                   axis=ax)
    if isinstance(obj, slice):
        keep = np.ones(n, np.bool_)
        keep[obj] = False
        return a[lead + (asarray(np.flatnonzero(keep).astype(_INT)),)]
    check_arraylike("delete", a, obj)
    obj_dtype = obj.dtype if hasattr(obj, "dtype") else np.asarray(obj).dtype
    if dtypes.is_int(obj_dtype) and assume_unique_indices:
        # The j-th kept entry is j plus the number of deleted ones at or before it: with
        # the deleted indices sorted, s[t] - t of them come before any kept entry j >= it.
        gone = _shapes.ravel(asarray(obj))
        gone = sort(_uf.clip(_uf.where(gone < 0, gone + n, gone), 0, n))
        shifted = gone - arange(gone.shape[0], dtype=gone.dtype)
        j = arange(max(n - gone.shape[0], 0), dtype=gone.dtype)
        j = j + _red.sum(j[None, :] >= shifted[:, None], axis=0, dtype=gone.dtype)
        return a[lead + (j,)]
    host = _host("delete", obj, "the indices to delete must be concrete (they decide the "
                 "result's shape); for unique integer indices pass assume_unique_indices=True")
    if dtypes.is_int(host.dtype):
        keep = np.ones(n, np.bool_)
        keep[host] = False
    elif host.dtype == np.bool_:
        if host.shape != (n,):
            raise ValueError("np.delete(arr, obj): for boolean indices, obj must be "
                             "one-dimensional with length matching specified axis.")
        keep = ~host
    else:
        raise ValueError(f"np.delete(arr, obj): got obj.dtype={host.dtype}; must be integer "
                         "or bool.")
    return a[lead + (asarray(np.flatnonzero(keep).astype(_INT)),)]


def insert(arr: Any, obj: Any, values: Any, axis: int | None = None):
    """``arr`` with ``values`` inserted before the indices ``obj`` (an int, a slice or a
    1-D integer array; ``len(arr)`` appends) along ``axis`` (flattened when None).
    ``values`` take ``arr``'s dtype and broadcast to the inserted slices."""
    check_arraylike("insert", arr, 0 if isinstance(obj, slice) else obj, values)
    a, vals = asarray(arr), asarray(values)
    if axis is None:
        a, axis = _shapes.ravel(a), 0
    ax = normalize_axis("insert", axis, a.ndim)
    n = a.shape[ax]
    if isinstance(obj, slice):
        idx = asarray(np.arange(*obj.indices(n), dtype=_INT))
    else:
        idx = asarray(obj)
    if idx.ndim > 1:
        raise ValueError("jnp.insert(): obj must be a slice, a one-dimensional array, or a "
                         f"scalar; got {obj}")
    if not dtypes.is_int(idx.dtype):
        if idx.size == 0 and not isinstance(obj, Array):
            idx = idx.astype(_INT)
        else:
            raise ValueError(f"jnp.insert(): index array must be integer typed; got {obj}")
    vals = vals.astype(a.dtype)
    if vals.ndim < a.ndim:
        vals = vals.reshape((1,) * (a.ndim - vals.ndim) + vals.shape)
    if idx.size == 1:  # one position for all the values
        if idx.ndim == 0:
            vals = _shapes.moveaxis(vals, 0, ax)
        idx = _shapes.broadcast_to(_shapes.ravel(idx)[0], (vals.shape[ax],))
    k = broadcast_shapes(idx.shape, (vals.shape[ax],), name="insert")[0]
    return _insert_kernel(a, _shapes.broadcast_to(idx, (k,)), vals, ax)


@compiled_when_eager(arrays=3)
def _insert_kernel(a, idx, vals, ax):
    n, k = a.shape[ax], idx.shape[0]
    idx = _uf.clip(_uf.where(idx < 0, idx + n, idx), 0, n)
    # Inserted value j (in stable order of position) lands at its position plus the
    # number inserted before it; an original entry i moves up by those at or before i.
    order = argsort(idx)
    new_at = zeros((k,), idx.dtype).at[order].set(idx[order] + arange(k, dtype=idx.dtype))
    old_at = arange(n, dtype=idx.dtype) + searchsorted(idx[order], arange(n, dtype=idx.dtype),
                                                       side="right").astype(idx.dtype)
    out_shape = a.shape[:ax] + (n + k,) + a.shape[ax + 1:]
    vals = _shapes.broadcast_to(vals, a.shape[:ax] + (k,) + a.shape[ax + 1:])
    lead = (slice(None),) * ax
    out = zeros(out_shape, a.dtype).at[lead + (new_at,)].set(vals)
    return out.at[lead + (old_at,)].set(a)


def resize(a: Any, new_shape: Any):
    """An array of ``new_shape`` filled with the flattened ``a``, repeated as needed
    (zeros if either is empty)."""
    (a,) = _arr("resize", a)
    if isinstance(new_shape, (int, np.integer)):
        new_shape = (new_shape,)
    new_shape = tuple(operator.index(d) for d in new_shape)
    if any(d < 0 for d in new_shape):
        raise ValueError("all elements of `new_shape` must be non-negative")
    flat = _shapes.ravel(a)
    total = math.prod(new_shape)
    if flat.size == 0 or total == 0:
        return zeros(new_shape, a.dtype)
    return _tile_to(flat, total).reshape(new_shape)


def trim_zeros(filt: Any, trim: str = "fb", axis: int | Sequence[int] | None = None):
    """``filt`` without its leading ('f' in ``trim``) and trailing ('b') all-zero slices
    along each of ``axis`` (all axes when None). The result's shape depends on the
    values, so ``filt`` must be concrete."""
    (x,) = _arr("trim_zeros", filt)
    host = _host("trim_zeros", x, "the result's shape depends on the values of `filt`, "
                 "which must be concrete (not traced under jit, vmap or grad)")
    axes = set(canonical_axis("trim_zeros", axis, x.ndim))
    front, back = "f" in trim.lower(), "b" in trim.lower()
    if not axes or not (front or back):
        return x
    where = []
    for ax in range(x.ndim):
        if ax not in axes:
            where.append(slice(None))
            continue
        nonzero = np.any(host != 0, axis=tuple(i for i in range(x.ndim) if i != ax))
        if not nonzero.any():
            where.append(slice(0, 0))
            continue
        start = int(nonzero.argmax()) if front else None
        stop = x.shape[ax] - int(nonzero[::-1].argmax()) if back else None
        where.append(slice(start, stop))
    return x[tuple(where)]


# -- partial sorts ---------------------------------------------------------------------------
def _partition_args(name: str, a: Any, kth: Any, axis: int):
    (arr,) = _arr(name, a)
    if dtypes.is_complex(arr.dtype):
        raise NotImplementedError(f"jnp.{name} for complex dtype is not implemented.")
    if arr.ndim == 0:
        raise ValueError(f"axis {axis} is out of bounds for array of dimension 0")
    ax = normalize_axis(name, axis, arr.ndim)
    n = arr.shape[ax]
    k = operator.index(kth)
    if not -n <= k < n:
        raise ValueError(f"axis {k} is out of bounds for array of dimension {n}")
    return arr, ax, k % n


def partition(a: Any, kth: int, axis: int = -1):
    """``a`` rearranged along ``axis`` so that position ``kth`` holds the value it would
    have sorted, with the smaller values before it and the larger after. As JAX: the
    values up to ``kth`` come in ascending order and the rest in descending order (NaNs
    count as largest)."""
    arr, ax, k = _partition_args("partition", a, kth, axis)
    return _partition_kernel(arr, ax, k)


@compiled_when_eager(arrays=1)
def _partition_kernel(arr, ax, k):
    n = arr.shape[ax]
    s = sort(arr, axis=ax)
    low = lax.slice_in_dim(s, 0, k + 1, axis=ax)
    high = lax.rev(lax.slice_in_dim(s, k + 1, n, axis=ax), (ax,))
    return _shapes.concatenate([low, high], axis=ax)


def argpartition(a: Any, kth: int, axis: int = -1):
    """Indices that partition ``a`` along ``axis`` (see ``partition``). As JAX: the first
    ``kth + 1`` are those of the smallest values in ascending (stable) order, the rest in
    increasing index order."""
    arr, ax, k = _partition_args("argpartition", a, kth, axis)
    return _argpartition_kernel(arr, ax, k)


@compiled_when_eager(arrays=1)
def _argpartition_kernel(arr, ax, k):
    n = arr.shape[ax]
    perm = argsort(arr, axis=ax)
    low = lax.slice_in_dim(perm, 0, k + 1, axis=ax)
    in_low = argsort(perm, axis=ax) <= k  # (an index's rank in the sort)
    rest = argsort(in_low.astype(_INT), axis=ax)  # the others first, in index order
    return _shapes.concatenate([low, lax.slice_in_dim(rest, 0, n - k - 1, axis=ax)],
                               axis=ax)


def sort_complex(a: Any):
    """``a`` sorted along its last axis (real part first, then imaginary) as complex."""
    (arr,) = _arr("sort_complex", a)
    out = sort(arr, axis=-1)
    if dtypes.is_complex(out.dtype):
        return out
    real = dtypes.float_dtype_for(out.dtype)
    target = np.complex128 if real == np.float64 else np.complex64
    return lax.convert_element_type(out, target)
