"""The reductions over axes: ``reduce_sum``, ``reduce_prod``, ``reduce_max``,
``reduce_min``, ``reduce_and`` and ``reduce_or``, declared from one table with their shape,
derivative and batching rules.

reduce_sum is linear (its transpose broadcasts the cotangent back over the reduced axes).
reduce_max/min pass on the tangent averaged over the positions that attain the extremum.
reduce_prod multiplies each tangent by the product of all the other elements, built from
exclusive running products (no division, so zeros are handled exactly). The logical
reductions have no derivative.
"""
from __future__ import annotations

from functools import partial
from typing import Any, Sequence

from functorch_lite.core.avals import ShapedArray, get_aval
from functorch_lite.core.primitive import Primitive
from functorch_lite.interpreters import ad
from functorch_lite.lax import elementwise as ew
from functorch_lite.lax._common import as_operand, check_dtype
from functorch_lite.lax.reductions._axes import (LOGICAL, NUM, REAL, check_axes_param,
                                                 drop_axes, kept_dims, named,
                                                 normalize_reduction_axes,
                                                 reduction_batch_rule)
from functorch_lite.lax.reductions.cumulative import cumprod_p, shift_along
from functorch_lite.lax.shapes import broadcast_in_dim


def _reduce_shape(name, kinds, keep_weak, operand, *, axes):
    check_dtype(name, operand, kinds)
    check_axes_param(name, operand, axes)
    return ShapedArray(drop_axes(operand.shape, axes), operand.dtype,
                       operand.weak_type and keep_weak)


def _reduction(name: str, kinds: str, keep_weak: bool = True) -> Primitive:
    p = Primitive(name)
    p.def_shape(partial(_reduce_shape, name, kinds, keep_weak))
    p.def_batch(reduction_batch_rule(p))
    return p


def _reduce_fn(p: Primitive, doc: str):
    def fn(operand: Any, axes: Sequence[int]):
        operand = as_operand(operand)
        return p.bind(operand, axes=normalize_reduction_axes(p.name, axes,
                                                             get_aval(operand).ndim))
    return named(p, fn, doc)


def _expand_back(y: Any, shape: Sequence[int], axes: Sequence[int]):
    """Broadcast a reduced array back over the reduced ``axes`` of ``shape``."""
    return broadcast_in_dim(y, tuple(shape), kept_dims(len(shape), axes))


# ---------------------------------------------------------------------------------------
# reduce_sum

reduce_sum_p = _reduction("reduce_sum", NUM)
reduce_sum = _reduce_fn(reduce_sum_p, """Sum of ``operand`` over ``axes``.

    The reduced axes are removed; an empty ``axes`` returns the operand unchanged and an
    empty axis sums to 0. Accepts numeric (not bool) dtypes and keeps the operand's dtype.
    Example: ``reduce_sum(x, (0, 2))`` with ``x: f32[2, 3, 4]`` gives ``f32[3]``.
    """)


def _reduce_sum_transpose(ct, x, *, axes):
    if type(ct) is ad.Zero:
        return [None]
    return [_expand_back(ct, x.aval.shape, axes)]


ad.deflinear(reduce_sum_p, _reduce_sum_transpose)


# ---------------------------------------------------------------------------------------
# reduce_prod

reduce_prod_p = _reduction("reduce_prod", NUM)
reduce_prod = _reduce_fn(reduce_prod_p, """Product of ``operand`` over ``axes``.

    An empty axis gives 1. Accepts numeric (not bool) dtypes and keeps the operand's
    dtype. Example: ``reduce_prod(x, (-1,))`` with ``x: i32[4, 5]`` gives ``i32[4]``.
    """)


def _prod_tangent_along(x: Any, g: Any, axis: int):
    """Tangent of ``reduce_prod(x, (axis,))``: ``sum_k g_k * prod_{j != k} x_j``, the
    products of all-but-one being (exclusive running product from the left) * (from the
    right)."""
    if get_aval(x).shape[axis] == 0:
        return reduce_sum_p.bind(g, axes=(axis,))  # zeros of the reduced shape
    left = shift_along(cumprod_p.bind(x, axis=axis, reverse=False), axis, 1, 1)
    right = shift_along(cumprod_p.bind(x, axis=axis, reverse=True), axis, -1, 1)
    return reduce_sum_p.bind(ew.mul(g, ew.mul(left, right)), axes=(axis,))


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


# ---------------------------------------------------------------------------------------
# reduce_max, reduce_min

def _reduce_chooser_jvp(p: Primitive):
    """reduce_max/min: the tangents at the positions equal to the result, averaged."""
    def rule(primals, tangents, *, axes):
        (x,), (g,) = primals, tangents
        out = p.bind(x, axes=axes)
        g = ad.instantiate(g)
        shape = get_aval(x).shape
        dt = get_aval(g).dtype
        at_extremum = ew.convert_element_type(
            ew.eq(x, _expand_back(out, shape, axes)), dt)
        picked = reduce_sum_p.bind(ew.mul(g, at_extremum), axes=axes)
        if any(shape[a] == 0 for a in axes):
            return out, picked  # nothing reduced: zeros
        return out, ew.div(picked, reduce_sum_p.bind(at_extremum, axes=axes))
    return rule


reduce_max_p = _reduction("reduce_max", REAL)
reduce_max = _reduce_fn(reduce_max_p, """Maximum of ``operand`` over ``axes``.

    NaN propagates; an empty axis gives -inf (floats), the smallest value (integers) or
    False (bool, where max is logical or). Example: ``reduce_max(x, (1,))`` with
    ``x: f32[2, 3]`` gives ``f32[2]``.
    """)
reduce_max_p.def_jvp(_reduce_chooser_jvp(reduce_max_p))

reduce_min_p = _reduction("reduce_min", REAL)
reduce_min = _reduce_fn(reduce_min_p, """Minimum of ``operand`` over ``axes``.

    NaN propagates; an empty axis gives +inf (floats), the largest value (integers) or
    True (bool, where min is logical and). Example: ``reduce_min(x, (0,))`` with
    ``x: i32[2, 3]`` gives ``i32[3]``.
    """)
reduce_min_p.def_jvp(_reduce_chooser_jvp(reduce_min_p))


# ---------------------------------------------------------------------------------------
# reduce_and, reduce_or: as in JAX, the logical reductions give a strongly typed result;
# they have no derivative.

reduce_and_p = _reduction("reduce_and", LOGICAL, keep_weak=False)
reduce_and = _reduce_fn(reduce_and_p, """Logical (bool) or bitwise (integer) AND over ``axes``.

    An empty axis gives True (all bits set for integers). The result is strongly typed.
    Example: ``reduce_and(m, (0,))`` with ``m: bool[5, 2]`` gives ``bool[2]``.
    """)
ad.zero_jvp(reduce_and_p)

reduce_or_p = _reduction("reduce_or", LOGICAL, keep_weak=False)
reduce_or = _reduce_fn(reduce_or_p, """Logical (bool) or bitwise (integer) OR over ``axes``.

    An empty axis gives False (0 for integers). The result is strongly typed.
    Example: ``reduce_or(m, (0, 1))`` with ``m: bool[5, 2]`` gives ``bool[]``.
    """)
ad.zero_jvp(reduce_or_p)
