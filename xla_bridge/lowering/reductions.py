"""StableHLO lowering of the reductions (functorch_lite/lax/reductions/).

* ``reduce_*``: one ``stablehlo.reduce`` whose region applies the binary op, starting from
  the op's identity (so an empty axis gives the identity).
* ``argmax``/``argmin``: a two-operand ``stablehlo.reduce`` over (values, indices) whose
  region keeps the winning (value, index) pair.
* ``cum*``: a ``stablehlo.reduce_window`` whose window spans the whole axis, padded so that
  output ``i`` sees elements ``0..i`` (or ``i..n-1`` reversed).
"""
from __future__ import annotations


import numpy as np

from functorch_lite.core import dtypes
from functorch_lite.core.avals import ShapedArray
from functorch_lite.lax import reductions as red
from xla_bridge.lowering.core import i64_array, register
from xla_bridge.lowering.elementwise import compare


# ---------------------------------------------------------------------------------------
# the binary op and identity of each reduction

def _identity(kind: str, dtype) -> object:
    """The value that ``kind`` leaves unchanged: what reducing an empty axis gives."""
    dt = np.dtype(dtype)
    if kind == "sum":
        return 0
    if kind == "prod":
        return 1
    if kind in ("max", "min"):
        if dtypes.is_bool(dt):
            return kind == "min"
        if dtypes.is_float(dt):
            return -np.inf if kind == "max" else np.inf
        info = dtypes.iinfo(dt)
        return info.min if kind == "max" else info.max
    if kind == "and":
        return True if dtypes.is_bool(dt) else dtypes.iinfo(dt).max if \
            dtypes.is_unsigned(dt) else -1
    if kind == "or":
        return False if dtypes.is_bool(dt) else 0
    raise ValueError(kind)


def _binary_op(kind: str, dtype) -> str:
    if dtypes.is_bool(dtype) and kind in ("max", "min"):
        kind = "or" if kind == "max" else "and"  # on booleans max is or, min is and
    return {"sum": "stablehlo.add", "prod": "stablehlo.multiply",
            "max": "stablehlo.maximum", "min": "stablehlo.minimum",
            "and": "stablehlo.and", "or": "stablehlo.or"}[kind]


def region(ctx, arg_avals, body) -> str:
    """A one-block region (``LoweringContext.region``)."""
    return ctx.region(arg_avals, body)


def _reducer_region(ctx, kind: str, scalar: ShapedArray) -> str:
    op = _binary_op(kind, scalar.dtype)

    def body(a, b):
        return [ctx.op(op, [a, b], [scalar, scalar], scalar)], [scalar]
    return region(ctx, [scalar, scalar], body)


def _scalar(aval: ShapedArray) -> ShapedArray:
    return ShapedArray((), aval.dtype)


# ---------------------------------------------------------------------------------------
# reduce_*

def _reduce_rule(kind: str):
    def rule(ctx, avals_in, aval_out, x, *, axes):
        aval = avals_in[0]
        if not axes:
            return x
        scalar = _scalar(aval)
        init = ctx.constant(_identity(kind, aval.dtype), scalar)
        return ctx.op("stablehlo.reduce", [x, init], [aval, scalar], aval_out,
                      {"dimensions": i64_array(axes)}, [_reducer_region(ctx, kind, scalar)])
    return rule


for _p, _kind in ((red.reduce_sum_p, "sum"), (red.reduce_prod_p, "prod"),
                  (red.reduce_max_p, "max"), (red.reduce_min_p, "min"),
                  (red.reduce_and_p, "and"), (red.reduce_or_p, "or")):
    register(_p)(_reduce_rule(_kind))


# ---------------------------------------------------------------------------------------
# argmax, argmin

def _argminmax_rule(direction: str):
    """``direction`` is "GT" for argmax, "LT" for argmin."""
    def rule(ctx, avals_in, aval_out, x, *, axes, index_dtype):
        aval = avals_in[0]
        axis, = axes
        val = _scalar(aval)
        idx = ShapedArray((), index_dtype)
        pred = ShapedArray((), np.bool_)
        is_float = dtypes.is_float(aval.dtype)

        def both(op, a, b):
            return ctx.op(op, [a, b], [pred, pred], pred)

        def body(va, ia, vb, ib):
            # (va, ia) wins over (vb, ib) when va is strictly better, where a NaN is better
            # than any number (for argmin too), or when the values tie (two NaNs tie) and
            # ia is the lower index. That is a total order, so the result does not depend
            # on the order XLA combines elements in.
            better = compare(ctx, va, vb, val, direction)
            same = compare(ctx, va, vb, val, "EQ")
            if is_float:
                a_nan = compare(ctx, va, va, val, "NE")
                b_nan = compare(ctx, vb, vb, val, "NE")
                b_num = ctx.op("stablehlo.not", [b_nan], [pred], pred)
                better = both("stablehlo.or", better, both("stablehlo.and", a_nan, b_num))
                same = both("stablehlo.or", same, both("stablehlo.and", a_nan, b_nan))
            first = compare(ctx, ia, ib, idx, "LT")
            a_wins = both("stablehlo.or", better, both("stablehlo.and", same, first))
            v = ctx.op("stablehlo.select", [a_wins, va, vb], [pred, val, val], val)
            i = ctx.op("stablehlo.select", [a_wins, ia, ib], [pred, idx, idx], idx)
            return [v, i], [val, idx]

        index_aval = aval.update(dtype=index_dtype, weak_type=False)
        iota = ctx.op("stablehlo.iota", [], [], index_aval,
                      {"iota_dimension": f"{axis} : i64"})
        # The initial pair never wins against a real element (its index is the largest
        # possible), so it only matters for empty axes, which the shape rule rejects.
        init_v = ctx.constant(_identity("max" if direction == "GT" else "min", aval.dtype),
                              val)
        init_i = ctx.constant(dtypes.iinfo(index_dtype).max, idx)
        val_out = aval_out.update(dtype=aval.dtype)
        _, index = ctx.op("stablehlo.reduce", [x, iota, init_v, init_i],
                          [aval, index_aval, val, idx], [val_out, aval_out],
                          {"dimensions": i64_array(axes)},
                          [region(ctx, [val, idx, val, idx], body)])
        return index
    return rule


register(red.argmax_p)(_argminmax_rule("GT"))
register(red.argmin_p)(_argminmax_rule("LT"))


# ---------------------------------------------------------------------------------------
# cumsum, cumprod, cummax, cummin

def _cumulative_rule(kind: str):
    def rule(ctx, avals_in, aval_out, x, *, axis, reverse):
        # Each output element reduces a window as long as the whole axis, padded with the
        # identity on the low side (high side when reversed): O(n^2) work along the axis.
        # Fine for the small arrays this library targets; an associative scan (log-depth
        # passes of shifted adds) could replace it for long axes.
        aval = avals_in[0]
        n = aval.shape[axis]
        if aval.size == 0 or n == 1:
            return x
        scalar = _scalar(aval)
        init = ctx.constant(_identity(kind, aval.dtype), scalar)
        window = [n if d == axis else 1 for d in range(aval.ndim)]
        pad_axis = [0, n - 1] if reverse else [n - 1, 0]
        pads = [pad_axis if d == axis else [0, 0] for d in range(aval.ndim)]
        padding = (f"dense<{pads}> : tensor<{aval.ndim}x2xi64>")
        return ctx.op("stablehlo.reduce_window", [x, init], [aval, scalar],
                      aval_out,
                      {"window_dimensions": i64_array(window),
                       "window_strides": i64_array([1] * aval.ndim),
                       "padding": padding},
                      [_reducer_region(ctx, kind, scalar)])
    return rule


for _p, _kind in ((red.cumsum_p, "sum"), (red.cumprod_p, "prod"),
                  (red.cummax_p, "max"), (red.cummin_p, "min")):
    register(_p)(_cumulative_rule(_kind))
