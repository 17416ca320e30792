"""Reductions over axes (sum, product, max, min, and, or), argmax/argmin, and the cumulative
ops (cumsum, cumprod, cummax, cummin).

Every reduction removes the axes it reduces. Reducing an empty axis gives the reduction's
identity (0 for a sum, -inf or the smallest integer for a max, ...), as in ``jax.lax``.
Axes are normalized by the public functions (negative axes made positive, sorted, as a
tuple), so equal calls share one compiled program.
"""
from __future__ import annotations

from functools import partial
from typing import Any, Sequence

import numpy as np

from functorch_lite.core import dtypes
from functorch_lite.core.avals import ShapedArray, get_aval
from functorch_lite.core.primitive import Primitive
from functorch_lite.interpreters import ad
from functorch_lite.lax import elementwise as _ew
from functorch_lite.lax import shapes as _shapes
from functorch_lite.lax._common import as_operand, check_dtype, normalize_axes, scalar_like

__all__ = [
    "reduce_sum", "reduce_prod", "reduce_max", "reduce_min", "reduce_and", "reduce_or",
    "argmax", "argmin", "cumsum", "cumprod", "cummax", "cummin",
]

# dtype categories (see _common.check_dtype)
_NUM = "iufc"
_REAL = "biuf"
_LOGICAL = "biu"


def _check_axis_range(name: str, axes: Sequence[int], ndim: int) -> None:
    """Unlike ``normalize_axis``, a rank-0 array has no axis at all to reduce."""
    for a in axes:
        if isinstance(a, (int, np.integer)) and not isinstance(a, bool) \
                and not -ndim <= a < ndim:
            raise ValueError(f"{name}: axis {a} is out of bounds for an array of rank {ndim}")


def _normalize_axes(name: str, axes: Any, ndim: int) -> tuple[int, ...]:
    if isinstance(axes, (int, np.integer)) and not isinstance(axes, bool):
        axes = (axes,)
    try:
        axes = tuple(axes)
    except TypeError:
        raise TypeError(f"{name}: axes must be a sequence of integers, got {axes!r}") from None
    _check_axis_range(name, axes, ndim)
    return tuple(sorted(normalize_axes(name, axes, ndim)))


def _check_axes_param(name: str, aval: ShapedArray, axes: Any) -> None:
    """The shape rules re-check what the public functions normalized, for direct binds."""
    if not isinstance(axes, tuple) or not all(
            isinstance(a, int) and not isinstance(a, bool) for a in axes):
        raise TypeError(f"{name}: axes must be a tuple of integers, got {axes!r}")
    if len(set(axes)) != len(axes):
        raise ValueError(f"{name}: repeated axis in {axes}")
    for a in axes:
        if not 0 <= a < aval.ndim:
            raise ValueError(f"{name}: axis {a} is out of bounds for an array of rank "
                             f"{aval.ndim} (shape {aval.shape})")


def _drop_axes(shape: Sequence[int], axes: Sequence[int]) -> tuple[int, ...]:
    return tuple(d for i, d in enumerate(shape) if i not in axes)


# ---------------------------------------------------------------------------------------
# reduce_sum, reduce_prod, reduce_max, reduce_min, reduce_and, reduce_or

def _reduce_shape(name, kinds, keep_weak, operand, *, axes):
    check_dtype(name, operand, kinds)
    _check_axes_param(name, operand, axes)
    return ShapedArray(_drop_axes(operand.shape, axes), operand.dtype,
                       operand.weak_type and keep_weak)


def _reduction(name: str, kinds: str, keep_weak: bool = True) -> Primitive:
    p = Primitive(name)
    p.def_shape(partial(_reduce_shape, name, kinds, keep_weak))
    return p


reduce_sum_p = _reduction("reduce_sum", _NUM)
reduce_prod_p = _reduction("reduce_prod", _NUM)
reduce_max_p = _reduction("reduce_max", _REAL)
reduce_min_p = _reduction("reduce_min", _REAL)
# As in JAX, the logical reductions give a strongly typed result.
reduce_and_p = _reduction("reduce_and", _LOGICAL, keep_weak=False)
reduce_or_p = _reduction("reduce_or", _LOGICAL, keep_weak=False)


def _reduce_fn(p: Primitive, doc: str):
    def fn(operand: Any, axes: Sequence[int]):
        operand = as_operand(operand)
        return p.bind(operand, axes=_normalize_axes(p.name, axes, get_aval(operand).ndim))
    fn.__name__ = p.name
    fn.__qualname__ = p.name
    fn.__doc__ = doc
    return fn


reduce_sum = _reduce_fn(reduce_sum_p, """Sum of ``operand`` over ``axes``.

    The reduced axes are removed; an empty ``axes`` returns the operand unchanged and an
    empty axis sums to 0. Accepts numeric (not bool) dtypes and keeps the operand's dtype.
    Example: ``reduce_sum(x, (0, 2))`` with ``x: f32[2, 3, 4]`` gives ``f32[3]``.
    """)
reduce_prod = _reduce_fn(reduce_prod_p, """Product of ``operand`` over ``axes``.

    An empty axis gives 1. Accepts numeric (not bool) dtypes and keeps the operand's
    dtype. Example: ``reduce_prod(x, (-1,))`` with ``x: i32[4, 5]`` gives ``i32[4]``.
    """)
reduce_max = _reduce_fn(reduce_max_p, """Maximum of ``operand`` over ``axes``.

    NaN propagates; an empty axis gives -inf (floats), the smallest value (integers) or
    False (bool, where max is logical or). Example: ``reduce_max(x, (1,))`` with
    ``x: f32[2, 3]`` gives ``f32[2]``.
    """)
reduce_min = _reduce_fn(reduce_min_p, """Minimum of ``operand`` over ``axes``.

    NaN propagates; an empty axis gives +inf (floats), the largest value (integers) or
    True (bool, where min is logical and). Example: ``reduce_min(x, (0,))`` with
    ``x: i32[2, 3]`` gives ``i32[3]``.
    """)
reduce_and = _reduce_fn(reduce_and_p, """Logical (bool) or bitwise (integer) AND over ``axes``.

    An empty axis gives True (all bits set for integers). The result is strongly typed.
    Example: ``reduce_and(m, (0,))`` with ``m: bool[5, 2]`` gives ``bool[2]``.
    """)
reduce_or = _reduce_fn(reduce_or_p, """Logical (bool) or bitwise (integer) OR over ``axes``.

    An empty axis gives False (0 for integers). The result is strongly typed.
    Example: ``reduce_or(m, (0, 1))`` with ``m: bool[5, 2]`` gives ``bool[]``.
    """)


# ---------------------------------------------------------------------------------------
# argmax, argmin

def _argminmax_shape(name, operand, *, axes, index_dtype):
    check_dtype(name, operand, _REAL)
    if not isinstance(axes, tuple) or len(axes) != 1:
        raise TypeError(f"{name}: axes must be a tuple of one axis, got {axes!r}")
    _check_axes_param(name, operand, axes)
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
    return ShapedArray(_drop_axes(operand.shape, axes), index_dtype, False)


argmax_p = Primitive("argmax")
argmax_p.def_shape(partial(_argminmax_shape, "argmax"))
argmin_p = Primitive("argmin")
argmin_p.def_shape(partial(_argminmax_shape, "argmin"))
argmax_p.non_differentiable = True
argmin_p.non_differentiable = True


def _argminmax(p: Primitive, operand: Any, axis: int, index_dtype: Any):
    operand = as_operand(operand)
    ndim = get_aval(operand).ndim
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{p.name}: axis must be an integer, got {axis!r}")
    axes = _normalize_axes(p.name, (axis,), ndim)
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


# ---------------------------------------------------------------------------------------
# cumsum, cumprod, cummax, cummin

def _cumulative_shape(name, kinds, operand, *, axis, reverse):
    check_dtype(name, operand, kinds)
    if isinstance(axis, bool) or not isinstance(axis, int):
        raise TypeError(f"{name}: axis must be an integer, got {axis!r}")
    if not 0 <= axis < operand.ndim:
        raise ValueError(f"{name}: axis {axis} is out of bounds for an array of rank "
                         f"{operand.ndim} (shape {operand.shape})")
    if not isinstance(reverse, bool):
        raise TypeError(f"{name}: reverse must be a bool, got {reverse!r}")
    return operand


def _cumulative(name: str, kinds: str) -> Primitive:
    p = Primitive(name)
    p.def_shape(partial(_cumulative_shape, name, kinds))
    return p


cumsum_p = _cumulative("cumsum", _NUM)
cumprod_p = _cumulative("cumprod", _NUM)
cummax_p = _cumulative("cummax", "iuf")
cummin_p = _cumulative("cummin", "iuf")


def _cumulative_fn(p: Primitive, doc: str):
    def fn(operand: Any, axis: int = 0, reverse: bool = False):
        operand = as_operand(operand)
        ndim = get_aval(operand).ndim
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise TypeError(f"{p.name}: axis must be an integer, got {axis!r}")
        axis, = _normalize_axes(p.name, (axis,), ndim)
        return p.bind(operand, axis=axis, reverse=bool(reverse))
    fn.__name__ = p.name
    fn.__qualname__ = p.name
    fn.__doc__ = doc
    return fn


cumsum = _cumulative_fn(cumsum_p, """Running sum along ``axis``.

    Element ``i`` is the sum of elements ``0..i`` (``i..n-1`` with ``reverse=True``). Same
    shape, dtype and weak type as ``operand``; numeric dtypes only. Example:
    ``cumsum(x, axis=1)`` with ``x: f32[2, 3]`` gives ``f32[2, 3]``.
    """)
cumprod = _cumulative_fn(cumprod_p, """Running product along ``axis``.

    Element ``i`` is the product of elements ``0..i`` (``i..n-1`` with ``reverse=True``).
    Example: ``cumprod(x)`` with ``x: i32[4]`` gives ``i32[4]``.
    """)
cummax = _cumulative_fn(cummax_p, """Running maximum along ``axis`` (NaN propagates forward).

    Real (not bool) dtypes. Example: ``cummax(x, axis=-1, reverse=True)`` with
    ``x: f32[2, 3]`` gives ``f32[2, 3]``, element ``[i, j]`` the max of ``x[i, j:]``.
    """)
cummin = _cumulative_fn(cummin_p, """Running minimum along ``axis`` (NaN propagates forward).

    Real (not bool) dtypes. Example: ``cummin(x)`` with ``x: i32[5]`` gives ``i32[5]``.
    """)


# ---------------------------------------------------------------------------------------
# Derivative rules
#
# reduce_sum and cumsum are linear. reduce_max/min pass on the tangent averaged over the
# positions that attain the extremum. cumprod, cummax and cummin differentiate an inclusive
# scan over (value, tangent) pairs (``_pair_scan``), which is exact at zeros and ties of the
# primal; reduce_prod multiplies each tangent by the product of all the other elements,
# built from exclusive running products (no division, so zeros are handled exactly).
# argmax/argmin and the logical reductions have no derivative.


def _kept_dims(ndim: int, axes: Sequence[int]) -> tuple[int, ...]:
    return tuple(d for d in range(ndim) if d not in axes)


def _expand_back(y: Any, shape: Sequence[int], axes: Sequence[int]):
    """Broadcast a reduced array back over the reduced ``axes`` of ``shape``."""
    return _shapes.broadcast_in_dim(y, tuple(shape), _kept_dims(len(shape), axes))


def _reduce_sum_transpose(ct, x, *, axes):
    if type(ct) is ad.Zero:
        return [None]
    return [_expand_back(ct, x.aval.shape, axes)]


ad.deflinear(reduce_sum_p, _reduce_sum_transpose)


def _shift_along(x: Any, axis: int, offset: int, fill: Any):
    """``out[..., i, ...] = x[..., i - offset, ...]`` along ``axis``; ``fill`` where
    ``i - offset`` falls outside (a pad with a negative edge on the other side)."""
    config = [(0, 0, 0)] * get_aval(x).ndim
    config[axis] = (offset, -offset, 0)
    return _shapes.pad(x, scalar_like(fill, get_aval(x).dtype), config)


def _pair_scan(kind: str, x: Any, g: Any, axis: int, reverse: bool):
    """Tangent of the inclusive scan ``kind`` ("prod", "max" or "min") of ``x`` along
    ``axis``, given the tangent ``g`` of ``x``: a scan over (value, tangent) pairs.

    Hillis-Steele: after the round with shift ``d``, position ``i`` holds the pair for the
    ``2d`` elements ending at ``i`` (in scan order), combined from its own pair and the
    pair ``d`` places earlier; ``ceil(log2 n)`` rounds cover the whole axis. The combine of
    an earlier pair ``(a0, b0)`` with a later ``(a1, b1)`` is ``(a0 a1, b0 a1 + a0 b1)``
    for products; for max/min it keeps the tangent of the winner, the earlier one on ties
    (the first position reaching the running extremum)."""
    shape = get_aval(x).shape
    n = shape[axis]
    sign = -1 if reverse else 1
    a, b = x, g
    d = 1
    while d < n:
        last = 2 * d >= n
        if kind == "prod":
            a_prev = _shift_along(a, axis, sign * d, 1)  # (1, 0) is the identity pair
            b_prev = _shift_along(b, axis, sign * d, 0)
            b = _ew.add(_ew.mul(b_prev, a), _ew.mul(a_prev, b))
            a = None if last else _ew.mul(a_prev, a)
        else:
            is_max = kind == "max"
            a_prev = _shift_along(a, axis, sign * d, -np.inf if is_max else np.inf)
            b_prev = _shift_along(b, axis, sign * d, 0)
            index = _shapes.broadcasted_iota(np.int32, shape, axis)
            has_prev = (_ew.lt(index, scalar_like(n - d, np.int32)) if reverse
                        else _ew.ge(index, scalar_like(d, np.int32)))
            prev_wins = _ew.ge(a_prev, a) if is_max else _ew.le(a_prev, a)
            b = _ew.select(_ew.bitwise_and(has_prev, prev_wins), b_prev, b)
            a = None if last else (_ew.max(a_prev, a) if is_max else _ew.min(a_prev, a))
        d *= 2
    return b


def _cumulative_jvp(p: Primitive, kind: str):
    def rule(primals, tangents, *, axis, reverse):
        (x,), (g,) = primals, tangents
        out = p.bind(x, axis=axis, reverse=reverse)
        return out, _pair_scan(kind, x, ad.instantiate(g), axis, reverse)
    return rule


def _cumsum_transpose(ct, x, *, axis, reverse):
    if type(ct) is ad.Zero:
        return [None]
    return [cumsum_p.bind(ct, axis=axis, reverse=not reverse)]


ad.deflinear(cumsum_p, _cumsum_transpose)
cumprod_p.def_jvp(_cumulative_jvp(cumprod_p, "prod"))
cummax_p.def_jvp(_cumulative_jvp(cummax_p, "max"))
cummin_p.def_jvp(_cumulative_jvp(cummin_p, "min"))


def _prod_tangent_along(x: Any, g: Any, axis: int):
    """Tangent of ``reduce_prod(x, (axis,))``: ``sum_k g_k * prod_{j != k} x_j``, the
    products of all-but-one being (exclusive running product from the left) * (from the
    right)."""
    if get_aval(x).shape[axis] == 0:
        return reduce_sum_p.bind(g, axes=(axis,))  # zeros of the reduced shape
    left = _shift_along(cumprod_p.bind(x, axis=axis, reverse=False), axis, 1, 1)
    right = _shift_along(cumprod_p.bind(x, axis=axis, reverse=True), axis, -1, 1)
    return reduce_sum_p.bind(_ew.mul(g, _ew.mul(left, right)), axes=(axis,))


def _reduce_prod_jvp(primals, tangents, *, axes):
    (x,), (g,) = primals, tangents
    out = reduce_prod_p.bind(x, axes=axes)
    # A product over several axes is a product over one axis at a time; reducing the
    # highest axis first keeps the lower axis numbers valid.
    part, t = x, ad.instantiate(g)
    for i, a in enumerate(reversed(axes)):
        t = _prod_tangent_along(part, t, a)
        if i + 1 < len(axes):
            part = reduce_prod_p.bind(part, axes=(a,))
    return out, t


reduce_prod_p.def_jvp(_reduce_prod_jvp)


def _reduce_chooser_jvp(p: Primitive):
    """reduce_max/min: the tangents at the positions equal to the result, averaged."""
    def rule(primals, tangents, *, axes):
        (x,), (g,) = primals, tangents
        out = p.bind(x, axes=axes)
        g = ad.instantiate(g)
        shape = get_aval(x).shape
        dt = get_aval(g).dtype
        at_extremum = _ew.convert_element_type(
            _ew.eq(x, _expand_back(out, shape, axes)), dt)
        picked = reduce_sum_p.bind(_ew.mul(g, at_extremum), axes=axes)
        if any(shape[a] == 0 for a in axes):
            return out, picked  # nothing reduced: zeros
        return out, _ew.div(picked, reduce_sum_p.bind(at_extremum, axes=axes))
    return rule


reduce_max_p.def_jvp(_reduce_chooser_jvp(reduce_max_p))
reduce_min_p.def_jvp(_reduce_chooser_jvp(reduce_min_p))
ad.zero_jvp(reduce_and_p)
ad.zero_jvp(reduce_or_p)
# argmax_p, argmin_p: marked non-differentiable beside their declarations.


# ---------------------------------------------------------------------------------------
# Batching rules: the batch axis stays where it is; the reduced / scanned axes are
# renumbered around it.

def _axes_around(axes: Sequence[int], bdim: int) -> tuple[int, ...]:
    """Operand axes renumbered for an array with a batch axis at ``bdim``."""
    return tuple(a + (a >= bdim) for a in axes)


def _reduction_batch(p: Primitive):
    def rule(axis, args, dims, *, axes, **params):
        (x,), (d,) = args, dims
        out_d = d - sum(1 for a in axes if a < d)
        return p.bind(x, axes=_axes_around(axes, d), **params), out_d
    return rule


def _cumulative_batch(p: Primitive):
    # The first argument is the batch axis data; ``axis`` is the primitive's parameter.
    def rule(batch_axis, args, dims, *, axis, reverse):
        (x,), (d,) = args, dims
        return p.bind(x, axis=axis + (axis >= d), reverse=reverse), d
    return rule


for _p in (reduce_sum_p, reduce_prod_p, reduce_max_p, reduce_min_p, reduce_and_p,
           reduce_or_p, argmax_p, argmin_p):
    _p.def_batch(_reduction_batch(_p))
for _p in (cumsum_p, cumprod_p, cummax_p, cummin_p):
    _p.def_batch(_cumulative_batch(_p))
