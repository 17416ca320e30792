"""Shape manipulation with NumPy's names: reshape, transpose, moveaxis, swapaxes, squeeze,
expand_dims, broadcast_to, concatenate, stack, split, tile, repeat, pad, flip, roll, ..."""
from __future__ import annotations

import builtins
import math
from typing import Sequence

import numpy as np

from functorch_lite import lax
from functorch_lite.core.avals import get_aval
from functorch_lite.core.trace import is_traced
from functorch_lite.lax._common import scalar_like
from functorch_lite.numpy._shape_core import (concatenate_arrays, expand_dims_array,
                                              moveaxis_array, ravel_array, stack_arrays,
                                              transpose_array)
from functorch_lite.numpy._util import broadcast_shapes as broadcast_shapes_
from functorch_lite.numpy._util import (broadcast_to_shape, check_arraylike, normalize_axes,
                                        normalize_axis, shape_of)
from functorch_lite.numpy.creation import asarray, eye
from functorch_lite.numpy.indexing import take
from functorch_lite.numpy.reductions import sum as sum_


def _arr(name, a):
    check_arraylike(name, a)
    return asarray(a) if type(a) in (bool, int, float, complex) or isinstance(
        a, (np.ndarray, np.generic)) else a


def _static_shape(name, shape):
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    try:
        return tuple(int(d) for d in shape)
    except TypeError:
        raise TypeError(f"{name}: shape must be a sequence of integers, got {shape!r}") from None


def _c_order_only(order: str) -> None:
    if order != "C":
        raise NotImplementedError("reshape: only order='C' is supported")


def reshape(a, shape=None, order: str = "C", *, newshape=None):
    """Give ``a`` a new shape with the same number of elements; one dim may be -1."""
    if shape is None:
        shape = newshape
    _c_order_only(order)
    a = _arr("reshape", a)
    aval = get_aval(a)
    shape = _static_shape("reshape", shape)
    if shape.count(-1) > 1:
        raise TypeError(f"reshape: can only specify one unknown dimension, got {shape}")
    if -1 in shape:
        known = math.prod(d for d in shape if d != -1)
        if known == 0 or aval.size % known:
            raise TypeError(f"reshape: cannot reshape array of shape {aval.shape} (size "
                             f"{aval.size}) into shape {shape}")
        shape = tuple(aval.size // known if d == -1 else d for d in shape)
    if any(d < 0 for d in shape) or math.prod(shape) != aval.size:
        raise TypeError(f"reshape: cannot reshape array of shape {aval.shape} (size "
                         f"{aval.size}) into shape {shape}")
    if shape == aval.shape:
        return a
    return lax.reshape(a, shape)


def ravel(a, order: str = "C"):
    """Flatten to 1-D."""
    _c_order_only(order)  # ravel is reshape(a, (-1,)), and its errors say so
    return ravel_array(_arr("reshape", a))


def transpose(a, axes: Sequence[int] | None = None):
    """Permute the axes (reverse them by default)."""
    a = _arr("transpose", a)
    if axes is None:
        axes = tuple(range(get_aval(a).ndim))[::-1]
    return transpose_array(a, axes)


def permute_dims(a, axes):
    return transpose(a, axes)


def matrix_transpose(x):
    nd = get_aval(x).ndim
    if nd < 2:
        raise ValueError(f"matrix_transpose needs at least 2 dims, got shape {shape_of(x)}")
    return transpose(x, (*range(nd - 2), nd - 1, nd - 2))


def moveaxis(a, source, destination):
    """Move axes ``source`` to positions ``destination``, keeping the others' order."""
    return moveaxis_array(_arr("moveaxis", a), source, destination)


def swapaxes(a, axis1: int, axis2: int):
    a = _arr("swapaxes", a)
    nd = get_aval(a).ndim
    i, j = normalize_axis("swapaxes", axis1, nd), normalize_axis("swapaxes", axis2, nd)
    perm = list(range(nd))
    perm[i], perm[j] = perm[j], perm[i]
    return transpose(a, perm)


def squeeze(a, axis=None):
    """Remove size-1 axes (all of them, or those named)."""
    a = _arr("squeeze", a)
    shape = shape_of(a)
    if axis is None:
        axes = tuple(i for i, d in enumerate(shape) if d == 1)
    else:
        axes = normalize_axes("squeeze", (axis,) if isinstance(axis, int) else tuple(axis),
                              len(shape))
        for ax in axes:
            if shape[ax] != 1:
                raise ValueError(f"squeeze: cannot select an axis to squeeze out which has "
                                 f"size not equal to one (axis {ax} of shape {shape})")
    if not axes:
        return a
    return lax.squeeze(a, axes)


def expand_dims(a, axis):
    """Insert size-1 axes at positions ``axis`` (of the result)."""
    return expand_dims_array(_arr("expand_dims", a), axis)


def broadcast_to(array, shape):
    """Broadcast to ``shape`` by NumPy's rules."""
    a = _arr("broadcast_to", array)
    return broadcast_to_shape(a, _static_shape("broadcast_to", shape), "broadcast_to")


def broadcast_shapes(*shapes):
    """The shape NumPy broadcasting gives ``shapes`` (a ValueError names them all when they
    clash). ``broadcast_shapes((3, 1), (4,))`` is ``(3, 4)``."""
    return broadcast_shapes_(*[_static_shape("broadcast_shapes", s) for s in shapes],
                             name="broadcast_shapes")


def broadcast_arrays(*args):
    args = [_arr("broadcast_arrays", a) for a in args]
    shape = broadcast_shapes_(*[shape_of(a) for a in args], name="broadcast_arrays")
    return [broadcast_to_shape(a, shape, "broadcast_arrays") for a in args]


def atleast_1d(*arys):
    out = [reshape(a, (1,)) if get_aval(_arr("atleast_1d", a)).ndim == 0 else _arr("", a)
           for a in arys]
    return out[0] if len(out) == 1 else out


def atleast_2d(*arys):
    out = []
    for a in arys:
        a = _arr("atleast_2d", a)
        nd = get_aval(a).ndim
        out.append(reshape(a, (1,) * (2 - nd) + shape_of(a)) if nd < 2 else a)
    return out[0] if len(out) == 1 else out


def atleast_3d(*arys):
    out = []
    for a in arys:
        a = _arr("atleast_3d", a)
        s = shape_of(a)
        if len(s) == 0:
            a = reshape(a, (1, 1, 1))
        elif len(s) == 1:
            a = reshape(a, (1, s[0], 1))
        elif len(s) == 2:
            a = reshape(a, (*s, 1))
        out.append(a)
    return out[0] if len(out) == 1 else out


def concatenate(arrays, axis: int | None = 0, dtype=None):
    """Join arrays along an existing axis (``axis=None`` flattens them first)."""
    if not isinstance(arrays, (list, tuple)):
        arrays = list(arrays)
    if not arrays:
        raise ValueError("concatenate: need at least one array to concatenate")
    arrays = [_arr("concatenate", a) for a in arrays]
    if axis is None:
        arrays = [ravel_array(a) for a in arrays]
        axis = 0
    return concatenate_arrays(arrays, axis, dtype)


concat = concatenate


def stack(arrays, axis: int = 0, dtype=None):
    """Join arrays along a new axis."""
    arrays = [_arr("stack", a) for a in arrays]
    if not arrays:
        raise ValueError("stack: need at least one array to stack")
    return stack_arrays(arrays, axis, dtype)


def vstack(tup, dtype=None):
    return concatenate([atleast_2d(a) for a in tup], 0, dtype)


row_stack = vstack


def hstack(tup, dtype=None):
    arrs = [atleast_1d(a) for a in tup]
    return concatenate(arrs, 0 if get_aval(arrs[0]).ndim == 1 else 1, dtype)


def dstack(tup, dtype=None):
    return concatenate([atleast_3d(a) for a in tup], 2, dtype)


def column_stack(tup):
    arrs = []
    for a in tup:
        a = _arr("column_stack", a)
        arrs.append(reshape(a, (-1, 1)) if get_aval(a).ndim < 2 else a)
    return concatenate(arrs, 1)


def _split_points(name, n, indices_or_sections, even):
    if isinstance(indices_or_sections, (int, np.integer)):
        k = int(indices_or_sections)
        if k <= 0:
            raise ValueError(f"{name}: number of sections must be larger than 0")
        if even and n % k:
            raise ValueError(f"{name}: array split does not result in an equal division "
                             f"({n} into {k} sections)")
        sizes = [n // k + (1 if i < n % k else 0) for i in range(k)]
        return list(np.cumsum([0] + sizes))
    pts = [min(max(int(i) if i >= 0 else int(i) + n, 0), n) for i in indices_or_sections]
    return [0, *pts, n]


def split(ary, indices_or_sections, axis: int = 0):
    """Split into equal sections (an int) or at the given indices."""
    return _split("split", ary, indices_or_sections, axis, even=True)


def array_split(ary, indices_or_sections, axis: int = 0):
    return _split("array_split", ary, indices_or_sections, axis, even=False)


def _split(name, ary, indices_or_sections, axis, even):
    a = _arr(name, ary)
    shape = shape_of(a)
    ax = normalize_axis(name, axis, len(shape))
    pts = _split_points(name, shape[ax], indices_or_sections, even)
    return [lax.slice_in_dim(a, int(s), int(max(s, e)), axis=ax) for s, e in zip(pts[:-1], pts[1:])]


def hsplit(ary, indices_or_sections):
    return split(ary, indices_or_sections, axis=1 if get_aval(_arr("hsplit", ary)).ndim > 1 else 0)


def vsplit(ary, indices_or_sections):
    return split(ary, indices_or_sections, axis=0)


def tile(A, reps):
    """Repeat the whole array ``reps`` times along each axis."""
    a = _arr("tile", A)
    reps = (reps,) if isinstance(reps, int) else tuple(int(r) for r in reps)
    shape = shape_of(a)
    nd = max(len(shape), len(reps))
    shape = (1,) * (nd - len(shape)) + shape
    reps = (1,) * (nd - len(reps)) + reps
    a = reshape(a, shape)
    # Broadcast to (r0, s0, r1, s1, ...) and merge pairs.
    big = tuple(x for r, s in zip(reps, shape) for x in (r, s))
    b = lax.broadcast_in_dim(a, big, tuple(range(1, 2 * nd, 2)))
    return reshape(b, tuple(r * s for r, s in zip(reps, shape)))


def repeat(a, repeats, axis: int | None = None, *, total_repeat_length: int | None = None):
    """Repeat each element ``repeats`` times (an int, or one count per element)."""
    a = _arr("repeat", a)
    if axis is None:
        a = ravel(a)
        axis = 0
    shape = shape_of(a)
    ax = normalize_axis("repeat", axis, len(shape))
    if isinstance(repeats, (int, np.integer)):
        r = int(repeats)
        if r < 0:
            raise ValueError("repeat: repeats may not contain negative values")
        big = shape[:ax + 1] + (r,) + shape[ax + 1:]
        b = lax.broadcast_in_dim(a, big, tuple(i if i <= ax else i + 1 for i in range(len(shape))))
        return reshape(b, shape[:ax] + (shape[ax] * r,) + shape[ax + 1:])
    try:
        reps = np.asarray(repeats)
    except Exception:
        reps = None
    if reps is None or reps.dtype == object:
        raise TypeError("repeat: per-element repeats must be concrete (the output shape "
                        "depends on them); pass total_repeat_length for traced repeats")
    reps = reps.astype(np.int64).reshape(-1)
    if reps.size == 1:
        return repeat(a, int(reps[0]), ax)
    if reps.size != shape[ax]:
        raise ValueError(f"repeat: got {reps.size} repeats for an axis of length {shape[ax]}")
    idx = np.repeat(np.arange(shape[ax]), reps).astype(np.int32)
    return take(a, idx, axis=ax)


def flip(m, axis=None):
    """Reverse the order of elements along ``axis`` (all axes by default)."""
    a = _arr("flip", m)
    nd = get_aval(a).ndim
    axes = tuple(range(nd)) if axis is None else normalize_axes(
        "flip", (axis,) if isinstance(axis, int) else tuple(axis), nd)
    return lax.rev(a, axes) if axes else a


def fliplr(m):
    return flip(m, 1)


def flipud(m):
    return flip(m, 0)


def rot90(m, k: int = 1, axes=(0, 1)):
    """Rotate by 90 degrees ``k`` times in the plane of ``axes`` (from the first axis
    toward the second)."""
    a = _arr("rot90", m)
    nd = get_aval(a).ndim
    axes = tuple(axes)
    if len(axes) != 2:
        raise ValueError(f"rot90: axes must be a pair of axes, got {axes}")
    ax0, ax1 = (normalize_axis("rot90", ax, nd) for ax in axes)
    if ax0 == ax1:
        raise ValueError(f"rot90: axes must be different, got {axes}")
    k = _concrete_int("rot90", "k", k) % 4
    if k == 0:
        return a
    if k == 2:
        return flip(flip(a, ax0), ax1)
    perm = list(range(nd))
    perm[ax0], perm[ax1] = perm[ax1], perm[ax0]
    return transpose(flip(a, ax1), perm) if k == 1 else flip(transpose(a, perm), ax1)


def _concrete_int(name, what, value) -> int:
    if is_traced(value):
        raise TypeError(f"{name}: `{what}` must be a concrete integer (it determines the "
                        "output layout); it is traced here")
    if hasattr(value, "aval") or isinstance(value, (np.ndarray, np.generic)):
        if np.ndim(value) != 0 or not np.issubdtype(np.asarray(value).dtype, np.integer):
            raise TypeError(f"{name}: `{what}` must be an integer, got {value!r}")
        return int(np.asarray(value))
    if not isinstance(value, int):
        raise TypeError(f"{name}: `{what}` must be an integer, got {value!r}")
    return int(value)


def _int_tuple(name, what, value) -> tuple:
    if isinstance(value, (tuple, list)):
        return tuple(_concrete_int(name, what, v) for v in value)
    if (hasattr(value, "aval") or isinstance(value, np.ndarray)) and np.ndim(value) == 1:
        return tuple(_concrete_int(name, what, v) for v in np.asarray(value))
    return (_concrete_int(name, what, value),)


def roll(a, shift, axis=None):
    """Shift elements cyclically along ``axis`` (the flattened array when None); ``shift``
    and ``axis`` may be sequences, which broadcast against each other. Shifts must be
    concrete."""
    a = _arr("roll", a)
    shifts = _int_tuple("roll", "shift", shift)
    if axis is None:
        return reshape(roll(ravel(a), builtins.sum(shifts), 0), shape_of(a))
    axes = _int_tuple("roll", "axis", axis)
    try:
        pairs = np.broadcast(np.asarray(shifts), np.asarray(axes))
    except ValueError:
        raise ValueError(f"roll: shift {shift!r} and axis {axis!r} do not broadcast "
                         "against each other") from None
    shape = shape_of(a)
    total = [0] * len(shape)
    for s, ax in pairs:
        total[normalize_axis("roll", int(ax), len(shape))] += int(s)
    for ax, s in enumerate(total):
        n = shape[ax]
        s = s % n if n else 0
        if s:
            a = lax.concatenate([lax.slice_in_dim(a, n - s, n, axis=ax),
                                 lax.slice_in_dim(a, 0, n - s, axis=ax)], ax)
    return a


def pad(array, pad_width, mode: str = "constant", *, constant_values=0):
    """Pad with a constant (``mode='constant'``) or by ``'edge'``, ``'reflect'``,
    ``'symmetric'``, ``'wrap'``."""
    a = _arr("pad", array)
    shape = shape_of(a)
    nd = len(shape)
    pw = np.asarray(pad_width, dtype=np.int64)
    if pw.ndim == 0:
        pw = np.full((nd, 2), int(pw))
    elif pw.shape == (2,) or pw.shape == (1, 2):
        pw = np.tile(pw.reshape(1, 2), (nd, 1))
    elif pw.shape == (1,):
        pw = np.full((nd, 2), int(pw[0]))
    if pw.shape != (nd, 2):
        raise ValueError(f"pad: pad_width {pad_width!r} does not fit an array of rank {nd}")
    if (pw < 0).any():
        raise ValueError("pad: index can't contain negative values")
    if mode == "constant":
        dt = get_aval(a).dtype
        config = tuple((int(lo), int(hi), 0) for lo, hi in pw)
        if hasattr(constant_values, "aval"):  # a device array or tracer
            if shape_of(constant_values) != ():
                raise NotImplementedError("pad: array-valued constant_values must be concrete")
            return lax.pad(a, lax.convert_element_type(constant_values, dt), config)
        cv = np.broadcast_to(np.asarray(constant_values), (nd, 2))
        if cv.size == 0 or (cv == cv.flat[0]).all():
            return lax.pad(a, scalar_like(cv.flat[0].item() if cv.size else 0, dt, False), config)
        for ax in range(nd):  # different constants per side: one axis at a time
            for side in (0, 1):
                widths = [(0, 0, 0)] * nd
                widths[ax] = (int(pw[ax, 0]), 0, 0) if side == 0 else (0, int(pw[ax, 1]), 0)
                a = lax.pad(a, scalar_like(cv[ax, side].item(), dt, False), tuple(widths))
        return a
    for ax in range(nd):
        lo, hi = int(pw[ax, 0]), int(pw[ax, 1])
        if lo == 0 and hi == 0:
            continue
        a = _pad_axis(a, ax, lo, hi, mode)
    return a


def _pad_axis(a, ax, lo, hi, mode):
    """Pad one axis by gathering source positions computed on the host."""
    n = shape_of(a)[ax]
    if n == 0:
        raise ValueError(f"pad: can't extend an empty axis {ax} using mode {mode!r}")
    i = np.arange(-lo, n + hi)
    if mode == "edge":
        src = np.clip(i, 0, n - 1)
    elif mode == "wrap":
        src = i % n
    elif mode == "reflect":
        period = 2 * (n - 1)
        src = np.zeros_like(i) if n == 1 else i % period
        src = np.where(src >= n, period - src, src)
    elif mode == "symmetric":
        src = i % (2 * n)
        src = np.where(src >= n, 2 * n - 1 - src, src)
    else:
        raise NotImplementedError(f"pad: mode {mode!r} is not supported (constant, edge, "
                                  "reflect, symmetric, wrap are)")
    return take(a, src.astype(np.int32), axis=ax)


def diagonal(a, offset: int = 0, axis1: int = 0, axis2: int = 1):
    """The diagonal of the 2-D slices given by ``axis1``, ``axis2`` (moved to the end)."""
    a = _arr("diagonal", a)
    nd = get_aval(a).ndim
    a1, a2 = normalize_axis("diagonal", axis1, nd), normalize_axis("diagonal", axis2, nd)
    a = moveaxis(a, (a1, a2), (-2, -1))
    n, m = shape_of(a)[-2:]
    rows = np.arange(max(0, -offset), min(n, m - offset)) if m - offset > 0 else np.arange(0)
    rows = rows[rows < n]
    cols = rows + offset
    # Gather pairs via a flattened last-two-dims index.
    flat = reshape(a, shape_of(a)[:-2] + (n * m,))
    return take(flat, (rows * m + cols).astype(np.int32), axis=-1)


def trace(a, offset: int = 0, axis1: int = 0, axis2: int = 1, dtype=None):
    return sum_(diagonal(a, offset, axis1, axis2), axis=-1, dtype=dtype)


def diag(v, k: int = 0):
    """The ``k``-th diagonal of a 2-D array, or a 2-D array with 1-D ``v`` on it."""
    v = _arr("diag", v)
    s = shape_of(v)
    if len(s) == 2:
        return diagonal(v, k)
    if len(s) != 1:
        raise ValueError(f"diag: input must be 1-D or 2-D, got shape {s}")
    n = s[0] + builtins.abs(k)
    vp = pad(v, (0, builtins.abs(k))) if k else v
    full = lax.broadcast_in_dim(vp, (n, n), (0,) if k >= 0 else (1,))
    return lax.select(eye(n, n, k, dtype=np.bool_), full, lax.full_like(full, 0))


# The public names are the functions defined here (helpers imported from elsewhere stay out
# of ``functorch_lite.numpy``'s namespace).
__all__ = [_n for _n, _v in list(globals().items()) if not _n.startswith("_")
           and callable(_v) and getattr(_v, "__module__", None) == __name__]
