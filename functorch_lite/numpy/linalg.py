"""``functorch_lite.numpy.linalg``: norms and the products NumPy's ``linalg`` namespace
offers (matmul, outer, tensordot, vecdot, trace, diagonal, matrix_transpose), and the
decompositions and solvers of ``linalg_solve`` (cholesky, qr, eigh, eigvalsh, solve, inv,
det, slogdet), the SVD and what ``linalg_svd`` builds on it (svd, svdvals, pinv, lstsq,
matrix_rank), and ``cond``.

``eig``/``eigvals`` (general matrices) come from ``lax.linalg.eig``'s shifted QR
iteration.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from functorch_lite import lax
from functorch_lite.core import dtypes
from functorch_lite.core.avals import TypedScalar, get_aval
from functorch_lite.numpy import linalg_ops as _ops
from functorch_lite.numpy import shapes as _shapes
from functorch_lite.numpy._util import (broadcast_shapes, broadcast_to_shape, check_arraylike,
                                        normalize_axis, promote_dtypes,
                                        promote_dtypes_inexact, shape_of)
from functorch_lite.numpy.creation import asarray
from functorch_lite.numpy.linalg_solve import (EigResult, EighResult,  # noqa: F401
                                               QRResult, SlogdetResult, cholesky, det, eig,
                                               eigh, eigvals, eigvalsh, inv, matrix_power,
                                               multi_dot, qr, slogdet, solve, tensorinv,
                                               tensorsolve)
from functorch_lite.numpy.linalg_svd import (SVDResult, lstsq, matrix_rank,  # noqa: F401
                                             pinv, svd, svdvals)
from functorch_lite.numpy.reductions import sum as _sum

__all__ = ["cholesky", "qr", "eigh", "eigvalsh", "eig", "eigvals", "solve", "inv", "det",
           "slogdet",
           "matrix_power", "multi_dot", "tensorinv", "tensorsolve", "cross", "svd", "svdvals",
           "pinv", "lstsq", "matrix_rank", "cond",
           "norm", "vector_norm", "matrix_norm", "matmul", "outer", "tensordot", "vecdot",
           "trace", "diagonal", "matrix_transpose"]


# ---------------------------------------------------------------------------------------
# helpers

def _inexact(name: str, x: Any):
    check_arraylike(name, x)
    (x,) = promote_dtypes_inexact(name, asarray(x))
    return x


def _abs(x):
    """|x| as a real array (complex magnitudes become their real dtype)."""
    return lax.abs(x)


def _abs_sq(x):
    """|x|^2 = x * conj(x), real."""
    if dtypes.is_complex(get_aval(x).dtype):
        return lax.real(lax.mul(x, lax.conj(x)))
    return lax.mul(x, x)


def _scalar(value, like):
    aval = get_aval(like)
    return TypedScalar(value, aval.dtype, False)


def _restore_dims(x, axes: tuple, ndim: int, keepdims: bool):
    """After reducing ``axes`` of a rank-``ndim`` array, put them back as size 1."""
    if not keepdims:
        return x
    shape = list(shape_of(x))
    for ax in sorted(axes):
        shape.insert(ax, 1)
    return lax.reshape(x, tuple(shape))


def _axes_tuple(name: str, axis: Any, ndim: int) -> tuple:
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = tuple(normalize_axis(name, int(a), ndim) for a in axes)
    if len(set(out)) != len(out):
        raise ValueError(f"{name}: repeated axis in axis={axis!r}")
    return out


def _is_inf(ord_: Any, sign: int) -> bool:
    return isinstance(ord_, (int, float, np.number)) and not isinstance(ord_, bool) \
        and ord_ == sign * np.inf


# ---------------------------------------------------------------------------------------
# vector and matrix norms on already-promoted inputs

def _vector_norm(name: str, x, ord_: Any, axes: tuple):
    """The ``ord``-norm over ``axes`` (taken together as one vector); axes are removed."""
    if isinstance(ord_, str):
        raise ValueError(f"{name}: invalid norm order {ord_!r} for vectors")
    if ord_ is None or (not isinstance(ord_, bool) and ord_ == 2):
        return lax.sqrt(lax.reduce_sum(_abs_sq(x), axes))
    if _is_inf(ord_, 1):
        return lax.reduce_max(_abs(x), axes)
    if _is_inf(ord_, -1):
        return lax.reduce_min(_abs(x), axes)
    a = _abs(x)
    if ord_ == 0:
        nonzero = lax.ne(a, _scalar(0, a))
        return lax.reduce_sum(lax.convert_element_type(nonzero, get_aval(a).dtype), axes)
    if ord_ == 1:
        return lax.reduce_sum(a, axes)
    try:
        p = float(ord_)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: invalid norm order {ord_!r} for vectors") from None
    s = lax.reduce_sum(lax.pow(a, _scalar(p, a)), axes)
    return lax.pow(s, _scalar(1.0 / p, s))


def _matrix_norm(name: str, x, ord_: Any, row: int, col: int):
    """The ``ord``-norm of the matrices spanned by axes ``row`` and ``col`` (removed)."""
    if ord_ is None or ord_ == "fro":
        return lax.sqrt(lax.reduce_sum(_abs_sq(x), (row, col)))
    if isinstance(ord_, str) and ord_ == "nuc" or (not isinstance(ord_, (str, bool)) and
                                                  ord_ in (2, -2)):
        # Functions of the singular values: of the matrices moved to the last two axes.
        s = svdvals(_shapes.moveaxis(x, (row, col), (-2, -1)))
        last = get_aval(s).ndim - 1
        if ord_ == "nuc":
            return lax.reduce_sum(s, (last,))
        return (lax.reduce_max if ord_ == 2 else lax.reduce_min)(s, (last,))
    if ord_ in (1, -1) and not isinstance(ord_, bool):
        # Largest / smallest column sum: sum over rows, then extremum over columns.
        sums = lax.reduce_sum(_abs(x), (row,))
        reduce = lax.reduce_max if ord_ == 1 else lax.reduce_min
        return reduce(sums, (col - (col > row),))
    if _is_inf(ord_, 1) or _is_inf(ord_, -1):
        # Largest / smallest row sum.
        sums = lax.reduce_sum(_abs(x), (col,))
        reduce = lax.reduce_max if ord_ > 0 else lax.reduce_min
        return reduce(sums, (row - (row > col),))
    raise ValueError(f"{name}: invalid norm order {ord_!r} for matrices (use None, 'fro', "
                     "1, -1, inf or -inf)")


# ---------------------------------------------------------------------------------------
# public norms

def norm(x, ord=None, axis=None, keepdims=False):
    """Vector or matrix norm, NumPy's ``numpy.linalg.norm``.

    With ``axis=None`` a 1-D input gets a vector norm, a 2-D input a matrix norm, and with
    ``ord=None`` any input is flattened and gets the 2-norm. An int ``axis`` asks for
    vector norms along it, a pair of axes for matrix norms over them. Vector orders: None
    or 2 (Euclidean), 1, inf, -inf, 0 (count of nonzeros) and any other p
    (``sum(|x|**p)**(1/p)``). Matrix orders: None/'fro', 1, -1, inf, -inf, 2 and -2 (the
    largest and smallest singular value) and 'nuc' (their sum). The result is a real float
    array.

    >>> norm(ones((3, 4)), axis=1).shape
    (3,)
    """
    x = _inexact("norm", x)
    nd = get_aval(x).ndim
    if axis is None:
        if ord is None:
            axes = tuple(range(nd))
            return _restore_dims(_vector_norm("norm", x, None, axes), axes, nd, keepdims)
        if nd == 1:
            axis = (0,)
        elif nd == 2:
            axis = (0, 1)
        else:
            raise ValueError(f"norm: ord={ord!r} needs a 1-D or 2-D input or an explicit "
                             f"axis, got shape {shape_of(x)}")
    axes = _axes_tuple("norm", axis, nd)
    if len(axes) == 1:
        out = _vector_norm("norm", x, ord, axes)
    elif len(axes) == 2:
        out = _matrix_norm("norm", x, ord, axes[0], axes[1])
    else:
        raise ValueError(f"norm: axis must be an int or a pair of ints, got {axis!r}")
    return _restore_dims(out, axes, nd, keepdims)


def vector_norm(x, /, *, ord=2, axis=None, keepdims=False):
    """Array-API vector norm: the ``ord``-norm of ``x`` over ``axis`` (None: all of it;
    a tuple: those axes taken together as one vector).

    >>> vector_norm(ones((2, 3, 4)), axis=(1, 2)).shape
    (2,)
    """
    x = _inexact("vector_norm", x)
    nd = get_aval(x).ndim
    axes = tuple(range(nd)) if axis is None else _axes_tuple("vector_norm", axis, nd)
    return _restore_dims(_vector_norm("vector_norm", x, ord, axes), axes, nd, keepdims)


def matrix_norm(x, /, *, ord="fro", keepdims=False):
    """Array-API matrix norm over the last two axes (a stack of matrices gives one norm
    per matrix).

    >>> matrix_norm(ones((5, 3, 4)), ord=1).shape
    (5,)
    """
    x = _inexact("matrix_norm", x)
    nd = get_aval(x).ndim
    if nd < 2:
        raise ValueError(f"matrix_norm: input must have at least 2 dimensions, got shape "
                         f"{shape_of(x)}")
    out = _matrix_norm("matrix_norm", x, ord, nd - 2, nd - 1)
    return _restore_dims(out, (nd - 2, nd - 1), nd, keepdims)


# ---------------------------------------------------------------------------------------
# products and views

def matmul(x1, x2, /, *, precision=None, preferred_element_type=None):
    """Matrix product (as ``functorch_lite.numpy.matmul``)."""
    return _ops.matmul(x1, x2, precision=precision,
                       preferred_element_type=preferred_element_type)


def tensordot(x1, x2, /, *, axes=2, precision=None, preferred_element_type=None):
    """Tensor contraction over ``axes`` (as ``functorch_lite.numpy.tensordot``)."""
    return _ops.tensordot(x1, x2, axes, precision=precision,
                          preferred_element_type=preferred_element_type)


def outer(x1, x2, /):
    """Outer product of two 1-D arrays: ``out[i, j] = x1[i] * x2[j]``."""
    check_arraylike("outer", x1, x2)
    for k, v in enumerate((x1, x2)):
        if len(shape_of(asarray(v))) != 1:
            raise ValueError(f"outer: input {k + 1} must be 1-D, got shape "
                             f"{shape_of(asarray(v))}")
    return _ops.outer(x1, x2)


def cross(x1, x2, /, *, axis=-1):
    """The cross product of 3-component vectors along ``axis`` (NumPy's array-API
    ``linalg.cross``; ``functorch_lite.numpy.cross`` also takes 2-vectors)."""
    check_arraylike("functorch_lite.numpy.linalg.cross", x1, x2)
    for x in (x1, x2):
        if shape_of(x)[axis] != 3:
            raise ValueError("Both input arrays must be (arrays of) 3-dimensional vectors, "
                             f"but they have shapes {shape_of(x1)} and {shape_of(x2)}")
    return _ops.cross(x1, x2, axis=axis)


def vecdot(x1, x2, /, *, axis=-1, precision=None, preferred_element_type=None):
    """``sum(conj(x1) * x2, axis)``, with the other axes broadcast: a batch of dot
    products.

    >>> vecdot(ones((5, 3)), ones((3,))).shape
    (5,)
    """
    check_arraylike("vecdot", x1, x2)
    x1, x2 = promote_dtypes("vecdot", asarray(x1), asarray(x2))
    if get_aval(x1).dtype == np.bool_:
        raise TypeError("vecdot: boolean operands are not supported; cast to int or float "
                        "first")
    s1, s2 = shape_of(x1), shape_of(x2)
    if not s1 or not s2:
        raise ValueError(f"vecdot: operands must be at least 1-D, got shapes {s1} and {s2}")
    a1, a2 = normalize_axis("vecdot", axis, len(s1)), normalize_axis("vecdot", axis, len(s2))
    if s1[a1] != s2[a2]:
        raise ValueError(f"vecdot: the reduced axis has size {s1[a1]} in x1 (shape {s1}) "
                         f"but {s2[a2]} in x2 (shape {s2})")
    x1 = _shapes.moveaxis(x1, a1, -1)
    x2 = _shapes.moveaxis(x2, a2, -1)
    s1, s2 = shape_of(x1), shape_of(x2)
    batch = broadcast_shapes(s1[:-1], s2[:-1], name="vecdot")
    x1 = broadcast_to_shape(x1, batch + s1[-1:], "vecdot")
    x2 = broadcast_to_shape(x2, batch + s2[-1:], "vecdot")
    if dtypes.is_complex(get_aval(x1).dtype):
        x1 = lax.conj(x1)
    nb = len(batch)
    bdims = tuple(range(nb))
    return lax.dot_general(x1, x2, (((nb,), (nb,)), (bdims, bdims)), precision=precision,
                           preferred_element_type=preferred_element_type)


def _diagonal_last2(x, offset: int):
    """The ``offset`` diagonal of the last two axes, as a strided slice of those axes
    flattened: element (i, i + offset) of an (n, m) matrix sits at i * (m + 1) + offset."""
    shape = shape_of(x)
    lead, (n, m) = shape[:-2], shape[-2:]
    offset = int(offset)
    start = offset if offset >= 0 else -offset * m
    count = max(0, min(n, m - offset) if offset >= 0 else min(n + offset, m))
    flat = lax.reshape(x, lead + (n * m,))
    if count == 0:
        return lax.slice(flat, (0,) * (len(lead) + 1), lead + (0,))
    limit = start + (count - 1) * (m + 1) + 1
    return lax.slice(flat, (0,) * len(lead) + (start,), lead + (limit,),
                     (1,) * len(lead) + (m + 1,))


def _matrix_stack(name: str, x):
    check_arraylike(name, x)
    x = asarray(x)
    if get_aval(x).ndim < 2:
        raise ValueError(f"{name}: input must have at least 2 dimensions, got shape "
                         f"{shape_of(x)}")
    return x


def trace(x, /, *, offset=0, dtype=None):
    """Sum of the ``offset`` diagonal of the last two axes (one per stacked matrix).

    >>> trace(ones((5, 3, 3))).shape
    (5,)
    """
    x = _matrix_stack("trace", x)
    return _sum(_diagonal_last2(x, offset), axis=-1, dtype=dtype)


def diagonal(x, /, *, offset=0):
    """The ``offset`` diagonal of the last two axes (one per stacked matrix); positive
    offsets are above the main diagonal.

    >>> diagonal(ones((5, 3, 4)), offset=1).shape
    (5, 3)
    """
    return _diagonal_last2(_matrix_stack("diagonal", x), offset)


def matrix_transpose(x, /):
    """Swap the last two axes."""
    return _shapes.matrix_transpose(asarray(x))


# ---------------------------------------------------------------------------------------
# condition number

def cond(x, p=None):
    """The condition number ``norm(x, p) * norm(inv(x), p)`` of each matrix; for ``p``
    None or 2 the ratio of the largest to the smallest singular value (-2: its inverse).
    Infinity where that is NaN (a singular matrix) and ``x`` itself has no NaN, as JAX."""
    check_arraylike("cond", x)
    x = asarray(x)
    aval = get_aval(x)
    if aval.ndim < 2:
        raise ValueError(f"cond: input array must be at least 2D; got shape {aval.shape}")
    if 0 in aval.shape[-2:]:
        raise ValueError(f"cond: input array must not be empty; got shape {aval.shape}")
    if p is None or (not isinstance(p, str) and p in (2, -2)):
        s = svdvals(x)
        first, last = (lax.index_in_dim(s, i, -1, False) for i in (0, -1))
        return lax.div(first, last) if p != -2 else lax.div(last, first)
    if aval.shape[-1] != aval.shape[-2]:
        raise ValueError(f"cond: for p={p!r}, the array must be square; got shape "
                         f"{aval.shape}")
    r = lax.mul(norm(x, ord=p, axis=(-2, -1)), norm(inv(x), ord=p, axis=(-2, -1)))
    x_has_nan = lax.reduce_or(lax.ne(x, x), (aval.ndim - 2, aval.ndim - 1))
    undefined = lax.bitwise_and(lax.ne(r, r), lax.bitwise_not(x_has_nan))
    return lax.select(undefined, lax.full_like(r, np.inf), r)
