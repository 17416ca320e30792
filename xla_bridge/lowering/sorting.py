"""StableHLO lowering of sort and top_k (functorch_lite/lax/sorting.py).

``stablehlo.sort`` takes a comparator region: for operands ``x0, x1, ...`` it receives the
pairs ``(x0_lhs, x0_rhs, x1_lhs, x1_rhs, ...)`` of rank-0 tensors and returns whether the
lhs element goes first. Ours compares the first ``num_keys`` operands lexicographically.
"""
from __future__ import annotations

import numpy as np

from functorch_lite.core import dtypes
from functorch_lite.core.avals import ShapedArray
from functorch_lite.lax import sorting as srt
from xla_bridge.lowering.core import register
from xla_bridge.lowering.elementwise import compare
from xla_bridge.lowering.reductions import region as _region

_PRED = ShapedArray((), np.bool_)


def _logical(ctx, op, a, b):
    return ctx.op(op, [a, b], [_PRED, _PRED], _PRED)


def _less_and_equal(ctx, a, b, scalar: ShapedArray):
    """``(a < b, a == b)`` in sort order. For floats every NaN is equal to every other NaN
    and greater than any number, and -0.0 equals 0.0 (a plain float comparison does that).
    Complex numbers compare by real part, then by imaginary part."""
    if dtypes.is_complex(scalar.dtype):
        part = ShapedArray((), np.float32 if scalar.dtype == np.complex64 else np.float64)
        re_a, re_b, im_a, im_b = (ctx.op(op, [v], [scalar], part)
                                  for op, v in (("stablehlo.real", a), ("stablehlo.real", b),
                                                ("stablehlo.imag", a), ("stablehlo.imag", b)))
        lt_re, eq_re = _less_and_equal(ctx, re_a, re_b, part)
        lt_im, eq_im = _less_and_equal(ctx, im_a, im_b, part)
        lt = _logical(ctx, "stablehlo.or", lt_re,
                      _logical(ctx, "stablehlo.and", eq_re, lt_im))
        return lt, _logical(ctx, "stablehlo.and", eq_re, eq_im)
    lt = compare(ctx, a, b, scalar, "LT")
    eq = compare(ctx, a, b, scalar, "EQ")
    if dtypes.is_float(scalar.dtype):
        a_nan = compare(ctx, a, a, scalar, "NE")
        b_nan = compare(ctx, b, b, scalar, "NE")
        a_num = ctx.op("stablehlo.not", [a_nan], [_PRED], _PRED)
        lt = _logical(ctx, "stablehlo.or", lt, _logical(ctx, "stablehlo.and", a_num, b_nan))
        eq = _logical(ctx, "stablehlo.or", eq, _logical(ctx, "stablehlo.and", a_nan, b_nan))
    return lt, eq


@register(srt.sort_p)
def _sort(ctx, avals_in, avals_out, *operands, dimension, is_stable, num_keys):
    scalars = [ShapedArray((), a.dtype) for a in avals_in]

    def comparator(*args):
        # Lexicographic: key 0 decides unless equal, then key 1, ...
        result = None
        for i in reversed(range(num_keys)):
            lt, eq = _less_and_equal(ctx, args[2 * i], args[2 * i + 1], scalars[i])
            result = lt if result is None else _logical(
                ctx, "stablehlo.or", lt, _logical(ctx, "stablehlo.and", eq, result))
        return [result], [_PRED]

    region = _region(ctx, [s for s in scalars for _ in range(2)], comparator)
    return ctx.op("stablehlo.sort", list(operands), avals_in, avals_out,
                  {"dimension": f"{dimension} : i64",
                   "is_stable": "true" if is_stable else "false"},
                  [region])


@register(srt.top_k_p)
def _top_k(ctx, avals_in, avals_out, x, *, k):
    # chlo.top_k orders floats by IEEE total order, like jax.lax.top_k.
    return ctx.op("chlo.top_k", [x], avals_in, avals_out, {"k": f"{k} : i64"})
