"""NumPy indexing with jax.numpy's semantics, written on lax.

* ``x[idx]`` (:func:`getitem`). Basic indices (integers, slices with any step, ``None``,
  ``...``) become static ``lax.slice`` / ``rev`` / ``squeeze`` / ``expand_dims``; scalar
  integer arrays (possibly traced) add one ``lax.dynamic_slice``. Integer arrays and
  concrete boolean masks (*advanced* indices) become one ``lax.gather``.
* ``x.at[idx].set(v)``, ``.add``, ``.subtract``, ``.multiply``, ``.divide``, ``.power``,
  ``.min``, ``.max``, ``.get`` (:class:`AtIndexer`): one ``lax.scatter*`` (or gather) built
  from the same analysis of ``idx`` as ``x[idx]``.
* :func:`take` and :func:`take_along_axis`: one gather each.

Out-of-bounds behavior follows JAX, not NumPy: indices (Python integers included) are
never checked against the shape. By default ``x[idx]`` and ``x.at[idx].get()`` clamp them
(``arange(10)[11]`` is 9, ``[-11]`` is 0), updates (``.set``, ``.add``, ...) drop them, and
``take`` / ``take_along_axis`` return a fill value (NaN for floats). The ``mode=`` keyword
(``'promise_in_bounds'``, ``'clip'``, ``'drop'``, ``'fill'``) chooses otherwise. Negative
indices count from the end, unless ``wrap_negative_indices=False``. The only static index
errors: a scalar index into an axis of length 0 (``IndexError``) and a Python int that does
not fit the default integer type (``OverflowError``).

Advanced indices follow NumPy: all integer-array (and, with them, integer) indices broadcast
together to one block of dimensions; it replaces the indexed axes in place when those
indices are adjacent in ``idx``, and goes to the front of the result when they are separated
by a slice, ``None`` or ``...``.
"""
from __future__ import annotations

import collections.abc
import math
import operator
from typing import Any, NamedTuple

import numpy as np

from functorch_lite import lax
from functorch_lite.core import dtypes
from functorch_lite.core.avals import Array, get_aval
from functorch_lite.core.errors import ConcretizationTypeError
from functorch_lite.core.trace import is_traced
from functorch_lite.lax import GatherDimensionNumbers, GatherScatterMode, ScatterDimensionNumbers
from functorch_lite.numpy import ufuncs
from functorch_lite.numpy._shape_core import ravel_array
from functorch_lite.numpy._util import (broadcast_shapes, broadcast_to_shape, check_arraylike,
                                        normalize_axis, promote_dtypes, shape_of)
from functorch_lite.numpy.creation import asarray, ones_like

__all__ = ["NonConcreteBooleanIndexError", "take", "take_along_axis"]


class NonConcreteBooleanIndexError(ConcretizationTypeError):
    """A boolean mask index was traced: the result's shape would depend on its values."""


# ---------------------------------------------------------------------------------------
# Small helpers

def _is_host(x: Any) -> bool:
    return isinstance(x, (int, np.ndarray, np.integer))


def _dtype(x: Any) -> np.dtype:
    return np.asarray(x).dtype if _is_host(x) else get_aval(x).dtype


def _index_dtype(shape) -> np.dtype:
    """int32, unless an axis is too long for it."""
    if any(d > np.iinfo(np.int32).max for d in shape):
        return dtypes.default_int_dtype()
    return np.dtype(np.int32)


def _normalize_index(i: Any, dim: int, wrap: bool, idx_dtype: np.dtype) -> Any:
    """``i`` (host or device integer index) in ``idx_dtype``, negative values counted from
    the end of an axis of length ``dim`` when ``wrap``. Host values stay on the host."""
    unsigned = dtypes.is_unsigned(_dtype(i))
    if _is_host(i):
        a = np.asarray(i)
        if wrap and not unsigned:
            a = np.where(a < 0, a + dim, a)
        info = np.iinfo(idx_dtype)  # out of range stays out of range after clipping
        return np.clip(a, info.min, info.max).astype(idx_dtype)
    if get_aval(i).dtype != idx_dtype:
        i = lax.convert_element_type(i, idx_dtype)
    if wrap and not unsigned:
        # lax needs operands of i's dtype (it does not promote Python ints)
        zero, size = np.zeros((), idx_dtype)[()], np.asarray(dim, idx_dtype)[()]
        i = lax.select(lax.lt(i, zero), lax.add(i, size), i)
    return i


def _stack_indices(components, batch_shape, idx_dtype):
    """Broadcast each ``(index, first_batch_dim)`` into ``batch_shape`` (the index's axes
    occupying the batch dims from ``first_batch_dim``) and stack them on a new last axis:
    the start indices of a gather/scatter."""
    batch_shape = tuple(batch_shape)
    if not components:
        return np.zeros(batch_shape + (0,), idx_dtype)
    if all(_is_host(v) for v, _ in components):
        cols = []
        for v, start in components:
            v = np.asarray(v)
            v = v.reshape((1,) * start + v.shape + (1,) * (len(batch_shape) - start - v.ndim))
            cols.append(np.broadcast_to(v, batch_shape))
        return np.stack(cols, axis=-1).astype(idx_dtype)
    full = batch_shape + (1,)
    cols = []
    for v, start in components:
        nd = len(shape_of(v)) if not _is_host(v) else np.ndim(v)
        if _is_host(v):
            v = np.asarray(v, idx_dtype)
        cols.append(lax.broadcast_in_dim(v, full, tuple(range(start, start + nd))))
    return cols[0] if len(cols) == 1 else lax.concatenate(cols, len(batch_shape))


def _parse_mode(name: str, mode: Any):
    if mode is None:
        return None
    try:
        return GatherScatterMode.from_any(mode)
    except ValueError:
        raise ValueError(f"{name}: unknown mode {mode!r}; expected 'promise_in_bounds', "
                         "'clip', 'drop' or 'fill'") from None


# ---------------------------------------------------------------------------------------
# Parsing an index against a shape

class _Entry(NamedTuple):
    kind: str      # "none", "slice", "int" (static), "array" (integer array, any rank)
    value: Any     # None, a slice, a Python int, or a host/device/traced integer array
    axis: Any      # the operand axis the entry consumes (None for "none")
    adv_pos: int   # position in the index (after mask expansion), for adjacency


class _Index(NamedTuple):
    entries: list          # one per operand axis (plus the "none" entries), in order
    shape: tuple           # the operand shape, with a size-1 axis per scalar boolean
    bool_axes: tuple       # where those size-1 axes were inserted
    advanced: bool         # whether some array entry has rank >= 1


_INDEX_HELP = ("only integers, slices (`:`), ellipsis (`...`), newaxis (`None`) and integer "
               "or boolean arrays are valid indices")


def _has_array(obj: Any) -> bool:
    if isinstance(obj, Array):
        return True
    return isinstance(obj, (list, tuple)) and any(_has_array(o) for o in obj)


def _classify(i: Any, position: int):
    """``(kind, value)`` for one element of an index tuple."""
    if i is None:
        return "none", None
    if i is Ellipsis:
        return "ellipsis", None
    if isinstance(i, slice):
        return "slice", _static_slice(i, position)
    if isinstance(i, (bool, np.bool_)):
        return "bool_scalar", bool(i)
    if isinstance(i, (int, np.integer)):
        return "int", operator.index(i)
    if isinstance(i, str):
        raise TypeError(f"string indices are not supported; got {i!r}")
    if isinstance(i, (float, complex, np.generic)):
        raise TypeError(f"Indexer must have integer or boolean type, got indexer with type "
                        f"{np.dtype(type(i)).name} ({i!r} at position {position})")
    if isinstance(i, (list, tuple)):
        if _has_array(i):
            i = asarray(i)
        else:
            i = np.asarray(i) if len(i) else np.zeros((0,), np.int32)
    if isinstance(i, np.ndarray) or isinstance(i, Array):
        dt = _dtype(i)
        if dtypes.is_bool(dt):
            if len(shape_of(i)) == 0:
                return "bool_scalar", _concrete_mask(i)
            return "bool_array", i
        if dtypes.is_int(dt):
            return "array", i
        raise TypeError(f"Indexer must have integer or boolean type, got indexer with type "
                        f"{np.dtype(dt).name} (at position {position})")
    raise IndexError(f"{_INDEX_HELP}. Got {i!r}")


def _static_slice(s: slice, position: int) -> slice:
    vals = []
    for v in (s.start, s.stop, s.step):
        if v is None:
            vals.append(None)
            continue
        if is_traced(v):
            raise IndexError(f"Slice entries must be static integers. Got {s} at position "
                             f"{position}; for a traced start use lax.dynamic_slice or "
                             "lax.dynamic_slice_in_dim")
        try:
            vals.append(operator.index(v))
        except TypeError:
            raise TypeError(f"slice indices must be integers or None, got {s} at position "
                            f"{position}") from None
    if vals[2] == 0:
        raise ValueError("slice step cannot be zero")
    return slice(*vals)


def _concrete_mask(mask: Any):
    if is_traced(mask):
        raise NonConcreteBooleanIndexError(
            f"Array boolean indices must be concrete; got a traced {mask.aval.str_short()}. "
            "The result's shape would depend on the mask's values, which are not known while "
            "tracing. Use fnp.where(mask, x, fill_value) to select elementwise, or build "
            "fixed-size integer indices instead (as nonzero(mask, size=n) does in JAX).")
    return np.asarray(mask)


def _parse(idx: Any, shape: tuple) -> _Index:
    if not isinstance(idx, tuple):
        if isinstance(idx, collections.abc.Sequence) and not isinstance(idx, str):
            advice = ("`arr[tuple(seq)]`" if any(
                isinstance(e, (slice, list, tuple, np.ndarray)) or e is None or e is Ellipsis
                for e in idx) else "`arr[array(seq)]`")
            raise TypeError("Using a non-tuple sequence for multidimensional indexing is not "
                            f"allowed; use {advice} instead of `arr[seq]`")
        idx = (idx,)
    raw = [_classify(i, p) for p, i in enumerate(idx)]
    consumed = [len(shape_of(v)) if k == "bool_array" else 1 if k in ("slice", "int", "array")
                else 0 for k, v in raw]
    if sum(k == "ellipsis" for k, _ in raw) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    total = sum(consumed)
    if total > len(shape):
        raise IndexError(f"Too many indices: array is {len(shape)}-dimensional, but {total} "
                         "were indexed")
    entries: list[_Entry] = []
    new_shape = list(shape)
    bool_axes = []
    axis = 0
    pos = 0
    for p, (kind, v) in enumerate(raw):
        if kind == "ellipsis":
            for _ in range(len(shape) - total):
                entries.append(_Entry("slice", slice(None), axis, -1))
                axis += 1
            pos += 1
        elif kind == "none":
            entries.append(_Entry("none", None, None, pos))
            pos += 1
        elif kind == "bool_scalar":
            # A scalar boolean adds an axis of length 1 (True) or 0 (False): index a new
            # size-1 operand axis with arange(1) or arange(0).
            new_shape.insert(axis, 1)
            bool_axes.append(axis)
            entries.append(_Entry("array", np.arange(int(v), dtype=np.int32), axis, pos))
            axis += 1
            pos += 1
        elif kind == "bool_array":
            mask = _concrete_mask(v)
            expected = tuple(new_shape[axis:axis + mask.ndim])
            if not all(m in (0, e) for m, e in zip(mask.shape, expected)):
                raise IndexError(f"boolean index did not match shape of indexed array in index "
                                 f"{p}: got {mask.shape}, expected {expected}")
            for nz in np.nonzero(mask):
                entries.append(_Entry("array", nz, axis, pos))
                axis += 1
                pos += 1
        else:
            entries.append(_Entry(kind, v, axis, pos))
            axis += 1
            pos += 1
    while axis < len(new_shape):
        entries.append(_Entry("slice", slice(None), axis, -1))
        axis += 1
    advanced = any(e.kind == "array" and len(shape_of(e.value)) > 0 for e in entries)
    return _Index(entries, tuple(new_shape), tuple(bool_axes), advanced)


def _check_int(e: _Entry, dim: int, wrap: bool) -> int:
    """A static integer index as a position in ``[0, dim)``: counted from the end when
    negative (if ``wrap``), then clamped, as JAX does (``x[11]`` of a length-10 ``x`` is
    ``x[9]``; NumPy would raise). It still has to fit the default integer type, since JAX
    converts it to an index array (OverflowError otherwise), and an axis of length 0 has
    nothing to clamp to (IndexError)."""
    lo, hi = (np.iinfo(dtypes.default_int_dtype()).min, np.iinfo(dtypes.default_int_dtype()).max)
    if type(e.value) is int and not lo <= e.value <= hi:
        raise OverflowError(f"Python int {e.value} too large to convert to "
                            f"{dtypes.default_int_dtype()}")
    if dim == 0:
        raise IndexError(f"index {e.value} is out of bounds for axis {e.axis} with size 0")
    i = e.value + dim if wrap and e.value < 0 else e.value
    return min(max(i, 0), dim - 1)


# ---------------------------------------------------------------------------------------
# Basic indexing: static slices, plus a dynamic_slice for scalar array indices

def _basic(x: Any, ix: _Index, wrap: bool):
    shape = ix.shape
    start, limit, strides = [0] * len(shape), list(shape), [1] * len(shape)
    rev_axes, drop_axes, newaxis = [], [], []
    dyn = {}  # axis -> scalar array index
    n_out = 0
    for e in ix.entries:
        if e.kind == "none":
            newaxis.append(n_out)
            n_out += 1
        elif e.kind == "int":
            i = _check_int(e, shape[e.axis], wrap)
            start[e.axis], limit[e.axis] = i, i + 1
            drop_axes.append(e.axis)
        elif e.kind == "array":  # a scalar: sliced dynamically below
            if shape[e.axis] == 0:
                raise IndexError(f"index is out of bounds for axis {e.axis} with size 0")
            dyn[e.axis] = e.value
            drop_axes.append(e.axis)
        else:
            lo, hi, step = e.value.indices(shape[e.axis])
            size = len(range(lo, hi, step))
            if step > 0:
                start[e.axis], limit[e.axis], strides[e.axis] = lo, max(lo, hi), step
            elif size == 0:
                start[e.axis], limit[e.axis] = 0, 0
            else:  # read the same elements forwards, then reverse them
                last = lo + step * (size - 1)
                start[e.axis], limit[e.axis], strides[e.axis] = last, lo + 1, -step
                rev_axes.append(e.axis)
            n_out += 1
    if len(ix.bool_axes):
        x = lax.expand_dims(x, ix.bool_axes)
    if start != [0] * len(shape) or limit != list(shape) or strides != [1] * len(shape):
        x = lax.slice(x, start, limit, strides)
    if dyn:
        idx_dtype = _index_dtype(shape)
        sliced = get_aval(x).shape
        starts = [_normalize_index(dyn[a], sliced[a], False, idx_dtype) if a in dyn else 0
                  for a in range(len(shape))]
        sizes = [1 if a in dyn else d for a, d in enumerate(sliced)]
        x = lax.dynamic_slice(x, starts, sizes)  # wraps negative starts, then clamps
    if rev_axes:
        x = lax.rev(x, rev_axes)
    if drop_axes:
        x = lax.squeeze(x, tuple(sorted(drop_axes)))
    if newaxis:
        x = lax.expand_dims(x, newaxis)
    return x


# ---------------------------------------------------------------------------------------
# General indexing: one gather (or scatter)

class _Plan(NamedTuple):
    indices: Any           # start indices, shape batch_shape + (len(start_index_map),)
    offset_dims: tuple
    collapsed: tuple
    start_index_map: tuple
    slice_sizes: tuple
    gather_shape: tuple    # the gather's result shape
    out_shape: tuple       # the indexing result's shape (gather_shape plus None axes)
    newaxis: tuple         # positions of the None axes in out_shape
    sorted_unique: bool    # whether the index vectors are known sorted and unique


def _plan(ix: _Index, wrap: bool) -> _Plan:
    shape = ix.shape
    idx_dtype = _index_dtype(shape)
    advanced = [e for e in ix.entries if e.kind in ("array", "int")] if ix.advanced else []
    adv_positions = [e.adv_pos for e in advanced]
    adjacent = all(b - a == 1 for a, b in zip(adv_positions, adv_positions[1:]))
    insert_at = -1
    if advanced:
        insert_at = next(k for k, e in enumerate(ix.entries) if e is advanced[0]) if adjacent else 0

    batch_shape: list[int] = []
    components: list = []          # (index, first batch dim)
    start_index_map, collapsed, offset_dims = [], [], []
    slice_sizes = list(shape)
    out_shape, newaxis = [], []
    n_gather = 0                   # result axes of the gather so far
    sorted_unique = not advanced
    for pos, e in enumerate(ix.entries):
        if pos == insert_at:
            bshape = broadcast_shapes(*[shape_of(a.value) if a.kind == "array" else ()
                                        for a in advanced], name="indexing")
            first = len(batch_shape)
            batch_shape += bshape
            for a in advanced:
                v = _normalize_index(a.value, shape[a.axis], wrap, idx_dtype)
                components.append((v, first + len(bshape) - len(shape_of(v))))
                start_index_map.append(a.axis)
                collapsed.append(a.axis)
                slice_sizes[a.axis] = 1
            out_shape += bshape
            n_gather += len(bshape)
        if e.kind in ("array", "int") and advanced:
            continue
        if e.kind == "none":
            newaxis.append(len(out_shape))
            out_shape.append(1)
        elif e.kind in ("array", "int"):  # a scalar index, no advanced indexing
            if shape[e.axis] == 0:  # XLA cannot gather a size-1 slice of it (JAX raises too)
                raise IndexError(f"index is out of bounds for axis {e.axis} with size 0")
            if e.kind == "int":
                _check_int(e, shape[e.axis], wrap)  # the same OverflowError as x[i]
            v = _normalize_index(e.value, shape[e.axis], wrap, idx_dtype)
            components.append((v, len(batch_shape)))
            start_index_map.append(e.axis)
            collapsed.append(e.axis)
            slice_sizes[e.axis] = 1
        else:
            dim = shape[e.axis]
            lo, hi, step = e.value.indices(dim)
            size = len(range(lo, hi, step))
            if step == 1:  # a window of the operand
                slice_sizes[e.axis] = size
                offset_dims.append(n_gather)
                if size != dim:
                    components.append((np.asarray(lo, idx_dtype), len(batch_shape)))
                    start_index_map.append(e.axis)
            else:  # one index per element read
                components.append((np.arange(lo, hi, step).astype(idx_dtype),
                                   len(batch_shape)))
                batch_shape.append(size)
                start_index_map.append(e.axis)
                collapsed.append(e.axis)
                slice_sizes[e.axis] = 1
                sorted_unique = sorted_unique and step > 0
            out_shape.append(size)
            n_gather += 1
    gather_shape = tuple(d for i, d in enumerate(out_shape) if i not in newaxis)
    return _Plan(_stack_indices(components, batch_shape, idx_dtype), tuple(offset_dims),
                 tuple(sorted(collapsed)), tuple(start_index_map), tuple(slice_sizes),
                 gather_shape, tuple(out_shape), tuple(newaxis), sorted_unique)


def _gather(x, ix: _Index, *, wrap, mode, fill_value, indices_are_sorted, unique_indices):
    p = _plan(ix, wrap)
    if math.prod(p.out_shape) == 0:
        return lax.full_like(x, 0, shape=p.out_shape)
    if ix.bool_axes:
        x = lax.expand_dims(x, ix.bool_axes)
    if fill_value is not None and np.ndim(fill_value) != 0:
        raise ValueError("fill_value argument to indexed get() must be a scalar")
    dnums = GatherDimensionNumbers(p.offset_dims, p.collapsed, p.start_index_map)
    y = lax.gather(x, p.indices, dnums, p.slice_sizes,
                   indices_are_sorted=bool(indices_are_sorted) or p.sorted_unique,
                   unique_indices=bool(unique_indices) or p.sorted_unique,
                   mode=mode, fill_value=fill_value)
    return lax.expand_dims(y, p.newaxis) if p.newaxis else y


def _rewriting_take(x, idx, *, mode=None, fill_value=None, wrap=True,
                    indices_are_sorted=False, unique_indices=False):
    ix = _parse(idx, get_aval(x).shape)
    parsed = _parse_mode("indexing", mode)
    slicing_ok = parsed in (None, GatherScatterMode.PROMISE_IN_BOUNDS, GatherScatterMode.CLIP)
    has_array = any(e.kind == "array" for e in ix.entries)
    if slicing_ok and not ix.advanced and (wrap or not has_array):
        return _basic(x, ix, wrap)
    return _gather(x, ix, wrap=wrap, mode=mode, fill_value=fill_value,
                   indices_are_sorted=indices_are_sorted, unique_indices=unique_indices)


def getitem(a, idx):
    """``a[idx]`` with NumPy's indexing rules and jax.numpy's out-of-bounds behavior (see
    the module docstring). ``x[1:, ::-1]``, ``x[None, ..., 0]`` and ``x[i]`` for a traced
    scalar ``i`` need no gather; ``x[[0, 2], 1:]`` (as ``x[np.array([0, 2]), 1:]``) and
    ``x[mask]`` are one gather. For ``x`` of shape ``(4, 5)``: ``x[np.array([[0], [3]]),
    ::2]`` has shape ``(2, 1, 3)``."""
    return _rewriting_take(a, idx)


def setitem_error(a, idx, value):
    raise TypeError(f"{type(a).__name__} objects are immutable: `x[idx] = y` is not "
                    "supported; use `x = x.at[idx].set(y)` instead")


# ---------------------------------------------------------------------------------------
# Indexed updates

def _as_value(name: str, v: Any, x_dtype) -> Any:
    if isinstance(v, (list, tuple)):
        v = asarray(v)
    check_arraylike(name, v)
    if (type(v) is int and dtypes.is_int(x_dtype)
            and dtypes.iinfo(x_dtype).min <= v <= dtypes.iinfo(x_dtype).max):
        return np.asarray(v, x_dtype)  # a Python int that fits keeps x's integer dtype
    return v


def _scatter(x, idx, values, op, name, *, mode, wrap, indices_are_sorted, unique_indices):
    """``x`` with ``x[idx]`` combined with ``values`` by the scatter ``op``; the result has
    ``x``'s dtype and weak type (values are promoted with ``x``, then cast back)."""
    x_aval = get_aval(x)
    ix = _parse(idx, x_aval.shape)
    _parse_mode(name, mode)
    p = _plan(ix, wrap)
    if math.prod(p.out_shape) == 0:
        return x
    values = _as_value(name, values, x_aval.dtype)
    xp, y = promote_dtypes(name, x, values)
    y = broadcast_to_shape(y, p.out_shape, name)
    if p.newaxis:
        y = lax.reshape(y, p.gather_shape)
    if ix.bool_axes:
        xp = lax.expand_dims(xp, ix.bool_axes)
    dnums = ScatterDimensionNumbers(p.offset_dims, p.collapsed, p.start_index_map)
    out = op(xp, p.indices, y, dnums,
             indices_are_sorted=bool(indices_are_sorted) or p.sorted_unique,
             unique_indices=bool(unique_indices) or p.sorted_unique, mode=mode)
    if ix.bool_axes:
        out = lax.squeeze(out, ix.bool_axes)
    out_aval = get_aval(out)
    if out_aval.dtype != x_aval.dtype or out_aval.weak_type != x_aval.weak_type:
        out = lax.convert_element_type(out, x_aval.dtype, weak_type=x_aval.weak_type)
    return out


def _subtract_op(x, indices, y, dnums, **kw):
    return lax.scatter_add(x, indices, lax.neg(y), dnums, **kw)


class _IndexUpdateRef:
    """``x.at[idx]``: the methods return updated copies of ``x`` (``x`` itself is never
    modified). Keywords, as in JAX: ``mode`` ('promise_in_bounds', 'clip', 'drop', 'fill';
    updates drop out-of-bounds indices by default, ``get`` clamps them),
    ``wrap_negative_indices`` (default True), ``indices_are_sorted``, ``unique_indices``
    (promises that allow faster code), and for ``get`` a ``fill_value``."""

    __slots__ = ("array", "index")

    def __init__(self, array, index):
        self.array = array
        self.index = index

    def __repr__(self) -> str:
        return f"_IndexUpdateRef({self.array!r}, {self.index!r})"

    def get(self, *, indices_are_sorted=False, unique_indices=False, mode=None,
            fill_value=None, wrap_negative_indices=True):
        """``x[idx]``, with the keywords above: ``x.at[5].get(mode='fill')`` is NaN for
        a float ``x`` of length 3."""
        return _rewriting_take(self.array, self.index, mode=mode, fill_value=fill_value,
                               wrap=wrap_negative_indices,
                               indices_are_sorted=indices_are_sorted,
                               unique_indices=unique_indices)

    def _update(self, values, op, name, indices_are_sorted, unique_indices, mode,
                wrap_negative_indices):
        return _scatter(self.array, self.index, values, op, name, mode=mode,
                        wrap=wrap_negative_indices, indices_are_sorted=indices_are_sorted,
                        unique_indices=unique_indices)

    def set(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None,
            wrap_negative_indices=True):
        """``x[idx] = values``; with repeated indices one of the writes wins."""
        return self._update(values, lax.scatter, "at[].set", indices_are_sorted,
                            unique_indices, mode, wrap_negative_indices)

    def add(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None,
            wrap_negative_indices=True):
        """``x[idx] += values``; repeated indices all add."""
        return self._update(values, lax.scatter_add, "at[].add", indices_are_sorted,
                            unique_indices, mode, wrap_negative_indices)

    def subtract(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None,
                 wrap_negative_indices=True):
        """``x[idx] -= values``; repeated indices all subtract."""
        return self._update(values, _subtract_op, "at[].subtract", indices_are_sorted,
                            unique_indices, mode, wrap_negative_indices)

    def multiply(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None,
                 wrap_negative_indices=True):
        """``x[idx] *= values``; repeated indices all multiply."""
        return self._update(values, lax.scatter_mul, "at[].multiply", indices_are_sorted,
                            unique_indices, mode, wrap_negative_indices)

    mul = multiply

    def divide(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None,
               wrap_negative_indices=True):
        """``x[idx] /= values`` (true division: integer ``x`` gives a float result)."""
        factors = _scatter(ones_like(self.array), self.index, values, lax.scatter_mul,
                           "at[].divide", mode=mode, wrap=wrap_negative_indices,
                           indices_are_sorted=indices_are_sorted,
                           unique_indices=unique_indices)
        return ufuncs.true_divide(self.array, factors)

    def power(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None,
              wrap_negative_indices=True):
        """``x[idx] **= values``."""
        exponents = _scatter(ones_like(self.array), self.index, values, lax.scatter_mul,
                             "at[].power", mode=mode, wrap=wrap_negative_indices,
                             indices_are_sorted=indices_are_sorted,
                             unique_indices=unique_indices)
        return ufuncs.power(self.array, exponents)

    def min(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None,
            wrap_negative_indices=True):
        """``x[idx] = minimum(x[idx], values)``."""
        return self._update(values, lax.scatter_min, "at[].min", indices_are_sorted,
                            unique_indices, mode, wrap_negative_indices)

    def max(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None,
            wrap_negative_indices=True):
        """``x[idx] = maximum(x[idx], values)``."""
        return self._update(values, lax.scatter_max, "at[].max", indices_are_sorted,
                            unique_indices, mode, wrap_negative_indices)

    def apply(self, func, **kwargs):
        raise NotImplementedError("x.at[idx].apply is not supported; use "
                                  "x.at[idx].set(func(x[idx])) when idx has no repeats")


class AtIndexer:
    """What ``x.at`` returns: ``x.at[idx]`` gives an object whose ``set``, ``add``,
    ``subtract``, ``multiply``/``mul``, ``divide``, ``power``, ``min``, ``max`` and ``get``
    methods compute updated copies of ``x`` (JAX's functional ``x[idx] op= v``).
    ``fnp.zeros(3).at[1].set(5.)`` is ``[0., 5., 0.]``; ``fnp.zeros(3).at[np.array([0, 0])]
    .add(1.)`` is ``[2., 0., 0.]``."""

    __slots__ = ("array",)

    def __init__(self, array):
        self.array = array

    def __getitem__(self, index) -> _IndexUpdateRef:
        return _IndexUpdateRef(self.array, index)

    def __repr__(self) -> str:
        return f"AtIndexer({self.array!r})"


# ---------------------------------------------------------------------------------------
# take / take_along_axis

def _check_int_indices(name: str, indices: Any) -> None:
    dt = _dtype(indices)
    if not dtypes.is_int(dt):
        raise TypeError(f"{name}: indices must have an integer dtype, got {np.dtype(dt).name}")


def _host_or_array(x: Any) -> Any:
    """Python scalars and NumPy scalars as NumPy arrays; arrays as they are."""
    return np.asarray(x) if not isinstance(x, Array) else x


def _raveled(a: Any):
    """``ravel(a)`` of an operand from ``_host_or_array`` (a host array is converted)."""
    return ravel_array(a if isinstance(a, Array) else asarray(a))


def take(a, indices, axis=None, mode=None, fill_value=None, *, out=None,
         unique_indices=False, indices_are_sorted=False):
    """Elements of ``a`` at ``indices`` along ``axis`` (of the flattened ``a`` when None):
    the result's shape is ``a.shape[:axis] + indices.shape + a.shape[axis + 1:]``. Negative
    indices count from the end. Out-of-bounds indices give ``fill_value`` (default NaN for
    floats, the most negative integer, True) with ``mode=None``/``'fill'``; ``'clip'`` clamps
    (negative indices to 0), ``'wrap'`` takes them modulo the axis length. ``take(x_f32[2,
    3], np.array([2, 0]), axis=1)`` has shape ``(2, 2)``."""
    if out is not None:
        raise NotImplementedError("take: the 'out' argument is not supported")
    check_arraylike("take", a, indices)
    _check_int_indices("take", indices)
    a = _host_or_array(a)
    indices = _host_or_array(indices)
    if axis is None:
        a = _raveled(a)
        ax = 0
    else:
        ax = normalize_axis("take", axis, len(shape_of(a)))
    a_shape = shape_of(a)
    idx_shape = shape_of(indices)
    n = a_shape[ax]
    out_shape = a_shape[:ax] + idx_shape + a_shape[ax + 1:]
    if n == 0 and math.prod(idx_shape) != 0:
        raise IndexError("take: cannot take a non-empty selection from an empty axis "
                         f"(axis {ax} of shape {a_shape})")
    if math.prod(out_shape) == 0:
        return lax.full_like(a, 0, shape=out_shape)
    idx_dtype = _index_dtype(a_shape)
    if mode is None or mode == "fill":
        gmode = GatherScatterMode.FILL_OR_DROP
        indices = _normalize_index(indices, n, True, idx_dtype)
    elif mode == "clip":
        gmode = GatherScatterMode.CLIP
        indices = _normalize_index(indices, n, False, idx_dtype)
    elif mode == "wrap":
        gmode = GatherScatterMode.PROMISE_IN_BOUNDS
        if _is_host(indices):
            indices = np.mod(np.asarray(indices), n).astype(idx_dtype)
        else:
            indices = _normalize_index(ufuncs.remainder(indices, n), n, False, idx_dtype)
    elif mode == "raise":
        raise NotImplementedError("take: mode='raise' is not supported (out-of-bounds "
                                  "indices cannot be reported from compiled code)")
    else:
        raise ValueError(f"take: invalid mode {mode!r}; expected 'fill', 'clip' or 'wrap'")
    nd = len(idx_shape)
    slice_sizes = list(a_shape)
    slice_sizes[ax] = 1
    dnums = GatherDimensionNumbers(
        offset_dims=tuple(range(ax)) + tuple(range(ax + nd, len(a_shape) + nd - 1)),
        collapsed_slice_dims=(ax,), start_index_map=(ax,))
    idx = (indices.reshape(idx_shape + (1,)) if _is_host(indices)
           else lax.reshape(indices, idx_shape + (1,)))
    return lax.gather(a, idx, dnums, tuple(slice_sizes), indices_are_sorted=indices_are_sorted,
                      unique_indices=unique_indices, mode=gmode, fill_value=fill_value)


def take_along_axis(arr, indices, axis=-1, mode=None, fill_value=None, *,
                    wrap_negative_indices=None):
    """``arr`` read along ``axis`` at ``indices``, which has ``arr``'s rank; the other axes
    pair up (broadcasting). Typical use: ``take_along_axis(x, argsort(x, axis=1), axis=1)``
    sorts each row. Out-of-bounds indices give ``fill_value`` (NaN for floats) unless
    ``mode='clip'``; negative ones count from the end (except with
    ``mode='promise_in_bounds'``, as in JAX). With ``x`` of shape ``(2, 3)`` and ``indices``
    of shape ``(2, 5)``, ``take_along_axis(x, indices, 1)`` has shape ``(2, 5)``."""
    check_arraylike("take_along_axis", arr, indices)
    _check_int_indices("take_along_axis", indices)
    a = _host_or_array(arr)
    indices = _host_or_array(indices)
    idx_shape = shape_of(indices)
    if axis is None:
        if len(idx_shape) != 1:
            raise ValueError(f"take_along_axis: indices must be 1-D when axis=None, got shape "
                             f"{idx_shape}")
        a = _raveled(a)
        axis = 0
    a_shape = shape_of(a)
    rank = len(a_shape)
    if len(idx_shape) != rank:
        raise ValueError(f"take_along_axis: indices and arr must have the same number of "
                         f"dimensions; got indices of shape {idx_shape} and arr of shape "
                         f"{a_shape}")
    ax = normalize_axis("take_along_axis", axis, rank)
    arr_shape = a_shape[:ax] + (1,) + a_shape[ax + 1:]
    out_shape = broadcast_shapes(idx_shape, arr_shape, name="take_along_axis")
    if math.prod(out_shape) == 0 or a_shape[ax] == 0:
        return lax.full(out_shape, 0, _dtype(a))
    parsed = _parse_mode("take_along_axis", mode)
    wrap = (parsed is not GatherScatterMode.PROMISE_IN_BOUNDS if wrap_negative_indices is None
            else bool(wrap_negative_indices))
    indices = _normalize_index(indices, a_shape[ax], wrap, _index_dtype(a_shape))

    # Per axis i: the gather axis itself (an index component); an axis where indices has
    # size 1 (the whole of arr's axis is read, an offset axis); an axis where arr has size 1
    # (squeezed from arr; indices keep it as a batch axis); or an axis both have (paired as
    # batching axes: element b of indices reads slab b of arr).
    index_dims, squeeze, offset_dims, slice_sizes = [], [], [], []
    operand_batching, indices_batching = [], []
    start_index_map = collapsed = None
    new_i = 0
    for i in range(rank):
        if i == ax:
            start_index_map = collapsed = (new_i,)
            slice_sizes.append(1)
            index_dims.append(i)
            new_i += 1
        elif idx_shape[i] == 1:
            offset_dims.append(i)
            slice_sizes.append(a_shape[i])
            new_i += 1
        elif a_shape[i] == 1:
            squeeze.append(i)
            index_dims.append(i)
        else:
            operand_batching.append(new_i)
            indices_batching.append(len(index_dims))
            slice_sizes.append(1)
            index_dims.append(i)
            new_i += 1
    gather_idx_shape = tuple(out_shape[i] for i in index_dims) + (1,)
    indices = (indices.reshape(gather_idx_shape) if _is_host(indices)
               else lax.reshape(indices, gather_idx_shape))
    if squeeze:
        a = lax.squeeze(a, tuple(squeeze))
    dnums = GatherDimensionNumbers(tuple(offset_dims), collapsed, start_index_map,
                                   tuple(operand_batching), tuple(indices_batching))
    return lax.gather(a, indices, dnums, tuple(slice_sizes),
                      mode="fill" if mode is None else mode, fill_value=fill_value)
