"""StableHLO lowering of the windowed reductions (functorch_lite/lax/windowed.py)."""
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
