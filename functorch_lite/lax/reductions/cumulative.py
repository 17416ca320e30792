"""The cumulative reductions ``cumsum``, ``cumprod``, ``cummax`` and ``cummin`` (running
reductions along one axis), with their shape, derivative and batching rules.

cumsum is linear (its transpose is the cumsum running the other way). cumprod, cummax and
cummin differentiate an inclusive scan over (value, tangent) pairs (``_pair_scan``), which
is exact at zeros and ties of the primal.
"""
from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np

from functorch_lite.core.avals import get_aval
from functorch_lite.core.primitive import Primitive
from functorch_lite.interpreters import ad
from functorch_lite.lax import elementwise as ew
from functorch_lite.lax._common import as_operand, check_dtype, scalar_like
from functorch_lite.lax.reductions._axes import NUM, named, normalize_one_axis
from functorch_lite.lax.shapes import broadcasted_iota, pad


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


def _cumulative_batch(p: Primitive):
    # The first argument is the batch axis data; ``axis`` is the primitive's parameter.
    # The batch axis stays where it is; the scanned axis is renumbered around it.
    def rule(batch_axis, args, dims, *, axis, reverse):
        (x,), (d,) = args, dims
        return p.bind(x, axis=axis + (axis >= d), reverse=reverse), d
    return rule


def _cumulative(name: str, kinds: str) -> Primitive:
    p = Primitive(name)
    p.def_shape(partial(_cumulative_shape, name, kinds))
    p.def_batch(_cumulative_batch(p))
    return p


def _cumulative_fn(p: Primitive, doc: str):
    def fn(operand: Any, axis: int = 0, reverse: bool = False):
        operand = as_operand(operand)
        axis = normalize_one_axis(p.name, axis, get_aval(operand).ndim)
        return p.bind(operand, axis=axis, reverse=bool(reverse))
    return named(p, fn, doc)


# ---------------------------------------------------------------------------------------
# Derivative helpers

def shift_along(x: Any, axis: int, offset: int, fill: Any):
    """``out[..., i, ...] = x[..., i - offset, ...]`` along ``axis``; ``fill`` where
    ``i - offset`` falls outside (a pad with a negative edge on the other side)."""
    config = [(0, 0, 0)] * get_aval(x).ndim
    config[axis] = (offset, -offset, 0)
    return pad(x, scalar_like(fill, get_aval(x).dtype), config)


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
            a_prev = shift_along(a, axis, sign * d, 1)  # (1, 0) is the identity pair
            b_prev = shift_along(b, axis, sign * d, 0)
            b = ew.add(ew.mul(b_prev, a), ew.mul(a_prev, b))
            a = None if last else ew.mul(a_prev, a)
        else:
            is_max = kind == "max"
            a_prev = shift_along(a, axis, sign * d, -np.inf if is_max else np.inf)
            b_prev = shift_along(b, axis, sign * d, 0)
            index = broadcasted_iota(np.int32, shape, axis)
            has_prev = (ew.lt(index, scalar_like(n - d, np.int32)) if reverse
                        else ew.ge(index, scalar_like(d, np.int32)))
            prev_wins = ew.ge(a_prev, a) if is_max else ew.le(a_prev, a)
            b = ew.select(ew.bitwise_and(has_prev, prev_wins), b_prev, b)
            a = None if last else (ew.max(a_prev, a) if is_max else ew.min(a_prev, a))
        d *= 2
    return b


def _cumulative_jvp(p: Primitive, kind: str):
    def rule(primals, tangents, *, axis, reverse):
        (x,), (g,) = primals, tangents
        out = p.bind(x, axis=axis, reverse=reverse)
        return out, _pair_scan(kind, x, ad.instantiate(g), axis, reverse)
    return rule


# ---------------------------------------------------------------------------------------
# cumsum

cumsum_p = _cumulative("cumsum", NUM)
cumsum = _cumulative_fn(cumsum_p, """Running sum along ``axis``.

    Element ``i`` is the sum of elements ``0..i`` (``i..n-1`` with ``reverse=True``). Same
    shape, dtype and weak type as ``operand``; numeric dtypes only. Example:
    ``cumsum(x, axis=1)`` with ``x: f32[2, 3]`` gives ``f32[2, 3]``.
    """)


def _cumsum_transpose(ct, x, *, axis, reverse):
    if type(ct) is ad.Zero:
        return [None]
    return [cumsum_p.bind(ct, axis=axis, reverse=not reverse)]


ad.deflinear(cumsum_p, _cumsum_transpose)


# ---------------------------------------------------------------------------------------
# cumprod, cummax, cummin

cumprod_p = _cumulative("cumprod", NUM)
cumprod = _cumulative_fn(cumprod_p, """Running product along ``axis``.

    Element ``i`` is the product of elements ``0..i`` (``i..n-1`` with ``reverse=True``).
    Example: ``cumprod(x)`` with ``x: i32[4]`` gives ``i32[4]``.
    """)
cumprod_p.def_jvp(_cumulative_jvp(cumprod_p, "prod"))

cummax_p = _cumulative("cummax", "iuf")
cummax = _cumulative_fn(cummax_p, """Running maximum along ``axis`` (NaN propagates forward).

    Real (not bool) dtypes. Example: ``cummax(x, axis=-1, reverse=True)`` with
    ``x: f32[2, 3]`` gives ``f32[2, 3]``, element ``[i, j]`` the max of ``x[i, j:]``.
    """)
cummax_p.def_jvp(_cumulative_jvp(cummax_p, "max"))

cummin_p = _cumulative("cummin", "iuf")
cummin = _cumulative_fn(cummin_p, """Running minimum along ``axis`` (NaN propagates forward).

    Real (not bool) dtypes. Example: ``cummin(x)`` with ``x: i32[5]`` gives ``i32[5]``.
    """)
cummin_p.def_jvp(_cumulative_jvp(cummin_p, "min"))
