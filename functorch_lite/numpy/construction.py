"""Building and converting arrays (as ``jax.numpy``): assembling blocks (``block``, the
index-trick objects ``r_``, ``c_``, ``mgrid``, ``ogrid``, ``s_``, ``index_exp``, and
``ix_``), diagonals and masks (``diagflat``, ``fill_diagonal``, ``mask_indices``), taking
arrays apart (``unstack``, ``dsplit``, ``rollaxis``), comparisons and conversions
(``array_equiv``, ``astype``, ``copy``, ``iterable``, ``isdtype``), batched vector
products (``matvec``, ``vecmat``, ``vecdot``), arrays from functions, buffers and strings
(``fromfunction``, ``frombuffer``, ``fromstring``; ``fromiter`` raises as JAX's does),
printing (``array_repr``, ``array_str`` and NumPy's print options, which our arrays print
with), and files (``load``, ``save``, ``savez``).

Files go through NumPy's ``.npy``/``.npz`` formats with ``allow_pickle=False`` always:
object arrays can be neither written nor read. ``load`` returns our arrays (an ``.npz``
file gives a mapping that converts each array as it is read), and restores bfloat16, which
NumPy stores as raw 2-byte records.
"""
from __future__ import annotations

import operator
from collections.abc import Mapping
from typing import Any, Callable

import numpy as np

from functorch_lite import lax
from functorch_lite.api import vmap
from functorch_lite.core import dtypes
from functorch_lite.core.errors import ConcretizationTypeError
from functorch_lite.core.trace import is_traced
from functorch_lite.numpy import shapes as _shapes
from functorch_lite.numpy import ufuncs as _uf
from functorch_lite.numpy._eager import compiled_when_eager
from functorch_lite.numpy._util import (broadcast_shapes, canonicalize_dtype_arg,
                                        check_arraylike, normalize_axis, promote_dtypes)
from functorch_lite.numpy.creation import arange, array, asarray, linspace, meshgrid, ones
from functorch_lite.numpy.linalg import vecdot
from functorch_lite.numpy.linalg_ops import matmul
from functorch_lite.numpy.reductions import all as _all
from functorch_lite.numpy.sequences import diag_indices, nonzero

__all__ = ["block", "r_", "c_", "s_", "index_exp", "mgrid", "ogrid", "ix_", "diagflat",
           "fill_diagonal", "mask_indices", "unstack", "dsplit", "rollaxis", "array_equiv",
           "astype", "copy", "iterable", "isdtype", "matvec", "vecmat", "vecdot",
           "fromfunction", "frombuffer", "fromstring", "fromiter", "array_repr", "array_str",
           "get_printoptions", "set_printoptions", "printoptions", "load", "save", "savez"]


def _arr(name: str, *xs):
    check_arraylike(f"functorch_lite.numpy.{name}", *xs)
    return [asarray(x) for x in xs]


# -- assembling blocks -----------------------------------------------------------------------
def _block(xs):
    """(the assembled array, the nesting depth of ``xs``)."""
    if isinstance(xs, tuple):
        raise ValueError(f"functorch_lite.numpy.block does not allow tuples, got {xs}")
    if not isinstance(xs, list):
        return asarray(xs), 1
    if not xs:
        raise ValueError("functorch_lite.numpy.block does not allow empty list arguments")
    parts, depths = zip(*(_block(x) for x in xs))
    if len(set(depths)) > 1:
        raise ValueError("Mismatched list depths in functorch_lite.numpy.block")
    depth = depths[0]
    rank = max(depth, *(p.ndim for p in parts))
    # the innermost lists join along the last axis, the next ones along the one before...
    parts = [_shapes.reshape(p, (1,) * (rank - p.ndim) + p.shape) for p in parts]
    return _shapes.concatenate(parts, axis=-depth), depth + 1


def block(arrays: Any):
    """An array assembled from nested lists of blocks: the innermost lists are joined
    along the last axis, the lists holding them along the one before, and so on (blocks
    gain leading axes of length 1 as needed).

    >>> fnp.block([[fnp.eye(2), fnp.zeros((2, 1))], [fnp.ones((1, 3))]]).shape
    (3, 3)
    """
    return _block(arrays)[0]


def _grid_axis(s: slice, name: str):
    """A slice as sample points: ``start:stop:step`` as ``arange``, or with an imaginary
    step ``Nj``, ``N`` points from start to stop inclusive (as ``linspace``)."""
    start = 0 if s.start is None else s.start
    step = 1 if s.step is None else s.step
    if any(is_traced(v) for v in (start, s.stop, step)):
        raise ConcretizationTypeError(f"{name}: slice bounds must be concrete (they decide "
                                      "the result's shape), got a traced value")
    if isinstance(step, complex) or np.iscomplexobj(step):
        return linspace(start, s.stop, int(abs(step)))
    return arange(start, s.stop, step)


class _Grid:
    """``mgrid`` (dense) and ``ogrid`` (open: broadcastable axes)."""

    def __init__(self, name: str, sparse: bool):
        self._name, self._sparse = name, sparse

    def __getitem__(self, key):
        if isinstance(key, slice):
            return _grid_axis(key, self._name)
        if not key:
            return [] if self._sparse else arange(0)
        axes = promote_dtypes(self._name, *(_grid_axis(k, self._name) for k in key))
        grids = meshgrid(*axes, indexing="ij", sparse=self._sparse)
        return grids if self._sparse else _shapes.stack(grids, 0)

    def __repr__(self):
        return f"functorch_lite.numpy.{self._name}"


mgrid = _Grid("mgrid", sparse=False)
ogrid = _Grid("ogrid", sparse=True)


class _Concatenator:
    """``r_`` and ``c_``: concatenation by index syntax. Items are arrays, scalars or
    slices (expanded as ``mgrid`` does); a leading string ``"axis,ndmin,trans1d"`` (or
    ``"r"``/``"c"`` for a row or column matrix of a 1-D result) overrides the defaults."""

    def __init__(self, name: str, axis: int, ndmin: int, trans1d: int):
        self._name = name
        self._defaults = (axis, ndmin, trans1d)

    def __getitem__(self, key):
        items = key if isinstance(key, tuple) else (key,)
        (axis, ndmin, trans1d), matrix = self._defaults, None
        if items and isinstance(items[0], str):
            directive, items = items[0], items[1:]
            if directive in ("r", "c"):
                matrix = 0 if directive == "r" else 1
            else:
                given = directive.split(",")[:3]
                try:
                    values = [int(v) for v in given]
                except ValueError:
                    raise ValueError(f"could not understand directive {directive!r}") \
                        from None
                axis, ndmin, trans1d = (values + [axis, ndmin, trans1d][len(values):])
        parts = []
        for item in items:
            if isinstance(item, str):
                raise ValueError("string directive must be placed at the beginning")
            if isinstance(item, slice):
                part, item_ndim = _grid_axis(item, self._name), 0
            else:
                part = array(item, copy=False)
                item_ndim = part.ndim
            part = array(part, copy=False, ndmin=ndmin)
            if trans1d != -1 and ndmin > item_ndim:
                # the item's own axes start at position trans1d among the ndmin axes
                # (counted as JAX does: a rotation of the axes, whatever the item's rank)
                shift = ndmin - abs(ndmin + trans1d + 1) % ndmin
                order = tuple(range(ndmin))
                part = _shapes.transpose(part, order[shift:] + order[:shift])
            parts.append(part)
        out = _shapes.concatenate(parts, axis=axis)
        if matrix is not None and out.ndim == 1:
            out = _shapes.expand_dims(out, matrix)
        return out

    def __len__(self) -> int:
        return 0

    def __repr__(self):
        return f"functorch_lite.numpy.{self._name}"


r_ = _Concatenator("r_", axis=0, ndmin=1, trans1d=-1)
c_ = _Concatenator("c_", axis=-1, ndmin=2, trans1d=0)
s_ = np.s_
index_exp = np.index_exp


def ix_(*args: Any):
    """An open mesh from 1-D index arrays: the ``i``-th result has its values along axis
    ``i`` and length 1 elsewhere, so ``a[ix_(rows, cols)]`` picks a cross product.

    >>> [g.shape for g in fnp.ix_(fnp.arange(2), fnp.arange(3))]
    [(2, 1), (1, 3)]
    """
    args = _arr("ix_", *args)
    out = []
    for i, a in enumerate(args):
        if a.ndim != 1:
            raise ValueError("Arguments to functorch_lite.numpy.ix_ must be 1-dimensional, "
                             f"got shape {a.shape}")
        if a.dtype == np.bool_:
            raise NotImplementedError("Boolean arguments to functorch_lite.numpy.ix_ are "
                                      "not implemented")
        shape = [1] * len(args)
        shape[i] = a.shape[0]
        if a.shape[0] == 0:  # NumPy makes empty index arrays integer
            a = a.astype(dtypes.default_int_dtype())
        out.append(_shapes.reshape(a, tuple(shape)))
    return tuple(out)


# -- diagonals and masks ---------------------------------------------------------------------
def diagflat(v: Any, k: int = 0):
    """A square matrix with the flattened ``v`` on its ``k``-th diagonal."""
    (v,) = _arr("diagflat", v)
    return _diagflat(v, operator.index(k))


@compiled_when_eager(arrays=1)
def _diagflat(v, k: int):
    return _shapes.diag(_shapes.ravel(v), k)


def fill_diagonal(a: Any, val: Any, wrap: bool = False, *, inplace: bool = True):
    """``a`` with its main diagonal (``a[i, i, ..., i]``) set to ``val`` (repeated if it is
    shorter). Arrays are immutable: as in JAX, pass ``inplace=False`` and use the result.
    ``wrap=True`` restarts the diagonal of a tall matrix every ``ncols + 1`` rows, as
    NumPy's does (JAX does not support it)."""
    if inplace:
        raise NotImplementedError("functorch_lite arrays are immutable, must use "
                                  "inplace=False")
    a, val = _arr("fill_diagonal", a, val)
    if a.ndim < 2:
        raise ValueError("array must be at least 2-d")
    if a.ndim > 2 and any(n != a.shape[0] for n in a.shape[1:]):
        raise ValueError("All dimensions of input must be of equal length")
    if wrap and a.ndim == 2:
        ncols = a.shape[1]
        flat = np.arange(0, a.size, ncols + 1)
        idx = (flat // ncols, flat % ncols)
        n = flat.size
    else:
        n = min(a.shape)
        idx = diag_indices(n, a.ndim)
    if val.ndim:
        val = _shapes.ravel(val)
        val = _shapes.tile(val, -(-n // val.shape[0]))[:n] if val.shape[0] else val
    return a.at[idx].set(val)


def mask_indices(n: int, mask_func: Callable, k: int = 0, *, size: int | None = None):
    """The indices where ``mask_func(ones((n, n)), k)`` is non-zero, e.g.
    ``mask_indices(3, triu)`` for the upper triangle (``size`` as ``nonzero``)."""
    i, j = nonzero(mask_func(ones((n, n)), k), size=size)
    return i, j


# -- taking arrays apart ---------------------------------------------------------------------
def unstack(x: Any, /, *, axis: int = 0):
    """The slices of ``x`` along ``axis``, as a tuple."""
    (x,) = _arr("unstack", x)
    if x.ndim == 0:
        raise ValueError("Unstack requires arrays with rank > 0, however a scalar array "
                         "was passed.")
    axis = normalize_axis("unstack", axis, x.ndim)
    return tuple(_shapes.squeeze(lax.slice_in_dim(x, i, i + 1, axis=axis), axis)
                 for i in range(x.shape[axis]))


def dsplit(ary: Any, indices_or_sections: Any):
    """``split`` along the third axis (depth)."""
    (a,) = _arr("dsplit", ary)
    if a.ndim < 3:  # an AxisError is both JAX's IndexError and NumPy's ValueError
        raise np.exceptions.AxisError("dsplit only works on arrays of 3 or more dimensions")
    return _shapes.split(a, indices_or_sections, axis=2)


def rollaxis(a: Any, axis: int, start: int = 0):
    """``a`` with ``axis`` moved to just before position ``start`` (``moveaxis`` is the
    clearer spelling)."""
    (a,) = _arr("rollaxis", a)
    try:
        start = operator.index(start)
    except TypeError:
        raise TypeError(f"rollaxis: start must be a concrete integer, got {start!r}") \
            from None
    axis = normalize_axis("rollaxis", axis, a.ndim)
    if not -a.ndim <= start <= a.ndim:
        raise ValueError(f"start={start} must satisfy {-a.ndim}<=start<={a.ndim}")
    if start < 0:
        start += a.ndim
    return _shapes.moveaxis(a, axis, start - 1 if start > axis else start)


# -- comparisons and conversions -------------------------------------------------------------
def array_equiv(a1: Any, a2: Any):
    """Whether ``a1`` and ``a2`` broadcast together and are equal everywhere (a bool
    scalar; shapes that do not broadcast give False)."""
    a1, a2 = asarray(a1), asarray(a2)
    try:
        broadcast_shapes(a1.shape, a2.shape)
    except ValueError:
        return asarray(False)
    return _all(_uf.equal(a1, a2))


def astype(x: Any, dtype: Any, /, *, copy: bool = False, device: Any = None):
    """``x`` converted to ``dtype`` (``None``: the default float dtype); complex to bool
    tests for non-zero. ``copy=True`` gives a new buffer even when nothing changes."""
    (x,) = _arr("astype", x)
    dt = dtypes.default_float_dtype() if dtype is None else canonicalize_dtype_arg(dtype,
                                                                                   "astype")
    if dtypes.is_complex(x.dtype) and dt == np.bool_:
        out = x != 0
    else:
        out = lax.convert_element_type(x, dt)
    if copy and out is x:
        out = array(x, copy=True)
    if device is not None:
        out = lax.device_put(out, device)
    return out


def copy(a: Any, order: str | None = None):
    """A copy of ``a`` in a new buffer."""
    check_arraylike("functorch_lite.numpy.copy", a)
    return array(a, copy=True, order=order if order is not None else "K")


iterable = np.iterable

_KINDS = {
    "bool": dtypes.is_bool,
    "signed integer": lambda d: dtypes.is_int(d) and not dtypes.is_unsigned(d),
    "unsigned integer": dtypes.is_unsigned,
    "integral": dtypes.is_int,
    "real floating": dtypes.is_float,
    "complex floating": dtypes.is_complex,
    "numeric": lambda d: dtypes.is_int(d) or dtypes.is_inexact(d),
}


def isdtype(dtype: Any, kind: Any) -> bool:
    """Whether ``dtype`` is of ``kind``: a name from the array API (``"bool"``, ``"signed
    integer"``, ``"unsigned integer"``, ``"integral"``, ``"real floating"``, ``"complex
    floating"``, ``"numeric"``), a dtype, or a tuple of those (any of them).

    >>> fnp.isdtype(fnp.bfloat16, "real floating")
    True
    """
    dt = np.dtype(dtype)
    for k in (kind if isinstance(kind, tuple) else (kind,)):
        if isinstance(k, str) and k in _KINDS:
            if _KINDS[k](dt):
                return True
            continue
        try:
            if dt == np.dtype(k):
                return True
        except TypeError:
            raise ValueError(f"Unrecognized kind={k!r} expected one of {list(_KINDS)}, or a "
                             "compatible input for dtype()") from None
    return False


# -- batched vector products -----------------------------------------------------------------
def matvec(x1: Any, x2: Any, /):
    """The matrix-vector products ``x1[..., i, :] @ x2[..., :]`` with broadcast batch
    axes: shapes (..., n, m) and (..., m) give (..., n)."""
    x1, x2 = _arr("matvec", x1, x2)
    if x1.ndim < 2 or x2.ndim < 1 or x1.shape[-1] != x2.shape[-1]:
        raise ValueError(f"matvec: expected shapes (..., n, m) and (..., m), got "
                         f"{x1.shape} and {x2.shape}")
    return matmul(x1, x2[..., None])[..., 0]


def vecmat(x1: Any, x2: Any, /):
    """The vector-matrix products ``conj(x1[..., :]) @ x2[..., :, j]`` with broadcast batch
    axes: shapes (..., n) and (..., n, m) give (..., m)."""
    x1, x2 = _arr("vecmat", x1, x2)
    if x1.ndim < 1 or x2.ndim < 2 or x1.shape[-1] != x2.shape[-2]:
        raise ValueError(f"vecmat: expected shapes (..., n) and (..., n, m), got "
                         f"{x1.shape} and {x2.shape}")
    return matmul(_uf.conj(x1)[..., None, :], x2)[..., 0, :]


# -- arrays from functions, buffers and strings ----------------------------------------------
def fromfunction(function: Callable, shape: Any, *, dtype: Any = float, **kwargs):
    """``function(i0, i1, ...)`` evaluated on the index grid of ``shape`` (one call, mapped
    with ``vmap`` over every axis; the indices have ``dtype``).

    >>> fnp.fromfunction(lambda i, j: i + 10 * j, (2, 3), dtype=int)
    """
    shape = tuple(operator.index(s) for s in (shape if isinstance(shape, (tuple, list))
                                              else (shape,)))
    dtype = canonicalize_dtype_arg(dtype, "fromfunction")
    for i in range(len(shape)):
        # each vmap maps one index argument; the last one applied is the outermost axis
        in_axes = tuple(0 if j == len(shape) - 1 - i else None for j in range(len(shape)))
        function = vmap(function, in_axes=in_axes)
    return function(*(arange(n, dtype=dtype) for n in shape), **kwargs)


def frombuffer(buffer: Any, dtype: Any = float, count: int = -1, offset: int = 0):
    """An array of the values stored in ``buffer`` (read by NumPy)."""
    return asarray(np.frombuffer(buffer=buffer, dtype=dtype, count=count, offset=offset))


def fromstring(string: str, dtype: Any = float, count: int = -1, *, sep: str):
    """An array of the numbers in ``string`` separated by ``sep`` (parsed by NumPy)."""
    return asarray(np.fromstring(string, dtype=dtype, count=count, sep=sep))


def fromiter(*args, **kwargs):
    """Not supported, as in JAX: consuming an iterator is a side effect that transformations
    would repeat or skip. Use ``asarray(np.fromiter(...))`` outside them."""
    raise NotImplementedError(
        "functorch_lite.numpy.fromiter() is not implemented because consuming an iterator "
        "is not pure and so not safe under jit and the other transformations; use "
        "functorch_lite.numpy.asarray(np.fromiter(...)) outside of them instead")


# -- printing --------------------------------------------------------------------------------
def array_repr(arr: Any, max_line_width: int | None = None, precision: int | None = None,
               suppress_small: bool | None = None) -> str:
    """``repr`` of ``arr`` with NumPy's options (printed ``Array(...)`` like our arrays)."""
    text = np.array_repr(np.asarray(arr), max_line_width, precision, suppress_small)
    return "Array(" + text[len("array("):] if text.startswith("array(") else text


def array_str(a: Any, max_line_width: int | None = None, precision: int | None = None,
              suppress_small: bool | None = None) -> str:
    """``str`` of ``a``'s values with NumPy's options."""
    return np.array_str(np.asarray(a), max_line_width, precision, suppress_small)


get_printoptions = np.get_printoptions
set_printoptions = np.set_printoptions
printoptions = np.printoptions


# -- files -----------------------------------------------------------------------------------
def _no_pickle(name: str, allow_pickle: bool) -> None:
    if allow_pickle:
        raise ValueError(f"{name}: pickled objects are refused (leave allow_pickle False): "
                         "functorch_lite reads and writes plain arrays only")


def _from_file(value: np.ndarray):
    if value.dtype == np.dtype("V2"):  # how NumPy stores bfloat16
        value = value.view(dtypes.bfloat16)
    return asarray(value)


class NpzArrays(Mapping):
    """The arrays of an ``.npz`` file by name (as NumPy's ``NpzFile``; each is read and
    converted when accessed). Close it, or use it in a ``with`` block."""

    def __init__(self, npz):
        self._npz = npz
        self.files = list(npz.files)

    def __getitem__(self, key: str):
        return _from_file(self._npz[key])

    def __iter__(self):
        return iter(self.files)

    def __len__(self) -> int:
        return len(self.files)

    def close(self) -> None:
        self._npz.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self):
        return f"NpzArrays({self.files})"


def load(file: Any, mmap_mode: str | None = None, allow_pickle: bool = False, **kwargs):
    """The array saved in an ``.npy`` file, or the arrays of an ``.npz`` file (an
    ``NpzArrays`` mapping), as functorch_lite arrays. Pickled (object) data is refused."""
    _no_pickle("load", allow_pickle)
    out = np.load(file, mmap_mode=mmap_mode, allow_pickle=False, **kwargs)
    if isinstance(out, np.ndarray):
        return _from_file(out)
    return NpzArrays(out)


def save(file: Any, arr: Any, allow_pickle: bool = False, **kwargs) -> None:
    """Write ``arr`` to an ``.npy`` file (NumPy's format, never pickled)."""
    _no_pickle("save", allow_pickle)
    np.save(file, np.asarray(arr), allow_pickle=False, **kwargs)


def savez(file: Any, *args: Any, allow_pickle: bool = False, **kwds: Any) -> None:
    """Write several arrays to an uncompressed ``.npz`` file (positional ones are named
    ``arr_0``, ``arr_1``, ...; keyword ones by their keyword), never pickled."""
    _no_pickle("savez", allow_pickle)
    np.savez(file, *(np.asarray(a) for a in args), allow_pickle=False,
             **{k: np.asarray(v) for k, v in kwds.items()})
