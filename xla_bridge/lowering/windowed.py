"""StableHLO lowering of the windowed reductions (functorch_lite/lax/windowed/)."""
from __future__ import annotations

import numpy as np

from functorch_lite.core import dtypes
from functorch_lite.lax import windowed as wr
from xla_bridge.lowering.convolution import padding_attr
from xla_bridge.lowering.core import i64_array, register
from xla_bridge.lowering.elementwise import compare


def _combine(ctx, kind: str, x: str, y: str, aval) -> str:
    """One reduction step on two scalars of type ``aval``."""
    if kind == "sum":
        return ctx.op("stablehlo.add", [x, y], [aval, aval], aval)
    if not dtypes.is_complex(aval.dtype):
        op = "stablehlo.maximum" if kind == "max" else "stablehlo.minimum"
        return ctx.op(op, [x, y], [aval, aval], aval)
    # complex numbers are ordered lexicographically: by real part, then imaginary part
    real = aval.update(dtype=np.float32 if aval.dtype == np.complex64 else np.float64)
    direction = "GT" if kind == "max" else "LT"
    rx, ry = (ctx.op("stablehlo.real", [v], [aval], real) for v in (x, y))
    ix, iy = (ctx.op("stablehlo.imag", [v], [aval], real) for v in (x, y))
    pred_aval = real.update(dtype=np.bool_)
    same_real = compare(ctx, rx, ry, real, "EQ")
    which = ctx.op("stablehlo.select", [same_real, compare(ctx, ix, iy, real, direction),
                                        compare(ctx, rx, ry, real, direction)],
                   [pred_aval] * 3, pred_aval)
    return ctx.op("stablehlo.select", [which, x, y], [pred_aval, aval, aval], aval)


def _rule(kind: str):
    def rule(ctx, avals_in, aval_out, x, *, window_dimensions, window_strides, padding,
             base_dilation, window_dilation):
        aval = avals_in[0]
        scalar = aval.update(shape=(), weak_type=False)
        init = ctx.constant(wr.reduce_window_identity(kind, aval.dtype), scalar)
        region = ctx.region([scalar, scalar],
                            lambda a, b: ([_combine(ctx, kind, a, b, scalar)], [scalar]))
        attrs = {
            "window_dimensions": i64_array(window_dimensions),
            "window_strides": i64_array(window_strides),
            "base_dilations": i64_array(base_dilation),
            "window_dilations": i64_array(window_dilation),
        }
        if padding:  # optional attribute; absent for rank-0 operands
            attrs["padding"] = padding_attr(padding)
        return ctx.op("stablehlo.reduce_window", [x, init], [aval, scalar], aval_out, attrs,
                      [region])
    return rule


for _kind, _p in (("sum", wr.reduce_window_sum_p), ("max", wr.reduce_window_max_p),
                  ("min", wr.reduce_window_min_p)):
    register(_p)(_rule(_kind))


# ---------------------------------------------------------------------------------------
# max/min pooling derivatives

def _prefer(ctx, kind: str, a: str, b: str, aval) -> str:
    """``a`` is at least as large (``max``) or as small (``min``) as ``b``: a bool scalar.
    Complex numbers compare lexicographically, as the reductions do."""
    if not dtypes.is_complex(aval.dtype):
        return compare(ctx, a, b, aval, "GE" if kind == "max" else "LE")
    real = aval.update(dtype=np.float32 if aval.dtype == np.complex64 else np.float64)
    ra, rb = (ctx.op("stablehlo.real", [v], [aval], real) for v in (a, b))
    ia, ib = (ctx.op("stablehlo.imag", [v], [aval], real) for v in (a, b))
    pred = real.update(dtype=np.bool_)
    same_real = compare(ctx, ra, rb, real, "EQ")
    return ctx.op("stablehlo.select",
                  [same_real, compare(ctx, ia, ib, real, "GE" if kind == "max" else "LE"),
                   compare(ctx, ra, rb, real, "GT" if kind == "max" else "LT")],
                  [pred] * 3, pred)


@register(wr.reduce_window_select_p)
def _reduce_window_select(ctx, avals_in, aval_out, x, t, *, kind, window_dimensions,
                          window_strides, padding, base_dilation, window_dilation):
    # A variadic reduce_window over (operand, tangent) pairs keeping the preferred pair.
    x_aval, t_aval = avals_in
    xs = x_aval.update(shape=(), weak_type=False)
    ts = t_aval.update(shape=(), weak_type=False)
    x_init = ctx.constant(wr.reduce_window_identity(kind, x_aval.dtype), xs)
    t_init = ctx.constant(np.zeros((), t_aval.dtype), ts)

    def body(ax, at, bx, bt):
        keep = _prefer(ctx, kind, ax, bx, xs)
        pred = xs.update(dtype=np.bool_)
        out_x = ctx.op("stablehlo.select", [keep, ax, bx], [pred, xs, xs], xs)
        out_t = ctx.op("stablehlo.select", [keep, at, bt], [pred, ts, ts], ts)
        return [out_x, out_t], [xs, ts]

    region = ctx.region([xs, ts, xs, ts], body)
    attrs = {
        "window_dimensions": i64_array(window_dimensions),
        "window_strides": i64_array(window_strides),
        "base_dilations": i64_array(base_dilation),
        "window_dilations": i64_array(window_dilation),
    }
    if padding:
        attrs["padding"] = padding_attr(padding)
    x_out = aval_out.update(dtype=x_aval.dtype)
    _, t_out = ctx.op("stablehlo.reduce_window", [x, t, x_init, t_init],
                      [x_aval, t_aval, xs, ts], [x_out, aval_out], attrs, [region])
    return t_out


def _pad(ctx, x, aval, value, lows, highs, interiors):
    shape = tuple(lo + hi + (d + (d - 1) * i if d else 0)
                  for d, lo, hi, i in zip(aval.shape, lows, highs, interiors))
    out = aval.update(shape=shape)
    scalar = aval.update(shape=(), weak_type=False)
    return ctx.op("stablehlo.pad", [x, ctx.constant(value, scalar)], [aval, scalar], out,
                  {"edge_padding_low": i64_array(lows), "edge_padding_high": i64_array(highs),
                   "interior_padding": i64_array(interiors)}), out


@register(wr.select_and_scatter_add_p)
def _select_and_scatter_add(ctx, avals_in, aval_out, source, x, *, kind, window_dimensions,
                            window_strides, padding, base_dilation):
    # stablehlo.select_and_scatter has no base dilation and takes no negative padding:
    # dilate (with holes that never win) and crop the operand first, scatter, then undo
    # the crop (zeros) and drop the holes.
    s_aval, x_aval = avals_in
    nd = x_aval.ndim
    crop_lo = [min(lo, 0) for lo, _ in padding]
    crop_hi = [min(hi, 0) for _, hi in padding]
    interior = [b - 1 for b in base_dilation]
    reshaped = any(crop_lo) or any(crop_hi) or any(interior)
    if reshaped:
        x, x_aval = _pad(ctx, x, x_aval, wr.reduce_window_identity(kind, x_aval.dtype),
                         crop_lo, crop_hi, interior)
    xs = x_aval.update(shape=(), weak_type=False)
    ss = s_aval.update(shape=(), weak_type=False)
    pred = xs.update(dtype=np.bool_)
    select = ctx.region([xs, xs], lambda a, b: ([_prefer(ctx, kind, a, b, xs)], [pred]))
    scatter = ctx.region([ss, ss], lambda a, b: (
        [ctx.op("stablehlo.add", [a, b], [ss, ss], ss)], [ss]))
    attrs = {"window_dimensions": i64_array(window_dimensions),
             "window_strides": i64_array(window_strides)}
    if nd:
        attrs["padding"] = padding_attr([(max(lo, 0), max(hi, 0)) for lo, hi in padding])
    out = x_aval.update(dtype=s_aval.dtype, weak_type=aval_out.weak_type)
    init = ctx.constant(np.zeros((), s_aval.dtype), ss)
    result = ctx.op("stablehlo.select_and_scatter", [x, source, init], [x_aval, s_aval, ss],
                    out, attrs, [select, scatter])
    if not reshaped:
        return result
    result, dilated = _pad(ctx, result, out, np.zeros((), s_aval.dtype),
                           [-v for v in crop_lo], [-v for v in crop_hi], [0] * nd)
    if not any(interior):
        return result
    return ctx.op("stablehlo.slice", [result], [dilated], aval_out,
                  {"start_indices": i64_array([0] * nd),
                   "limit_indices": i64_array(dilated.shape),
                   "strides": i64_array(base_dilation)})


# ---------------------------------------------------------------------------------------
# reduce_window with a general computation: its program becomes the reduction's region.

@register(wr.reduce_window_p)
def _reduce_window(ctx, avals_in, avals_out, *args, computation, window_dimensions,
                   window_strides, padding, base_dilation, window_dilation):
    n = len(args) // 2
    scalars = [a.update(weak_type=False) for a in avals_in[n:]]
    region = ctx.region(scalars * 2,
                        lambda *xs: (ctx.inline(computation, [], list(xs)), scalars))
    attrs = {
        "window_dimensions": i64_array(window_dimensions),
        "window_strides": i64_array(window_strides),
        "base_dilations": i64_array(base_dilation),
        "window_dilations": i64_array(window_dilation),
    }
    if padding:
        attrs["padding"] = padding_attr(padding)
    return ctx.op("stablehlo.reduce_window", list(args), list(avals_in), list(avals_out),
                  attrs, [region])
