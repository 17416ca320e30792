"""StableHLO lowering of the convolutions (functorch_lite/lax/convolution.py)."""
from __future__ import annotations

import numpy as np

from functorch_lite.core import dtypes
from functorch_lite.lax import convolution as cv
from xla_bridge.lowering.core import i64_array, register
from xla_bridge.lowering.linalg import precision_config


def _layout(spec, first: str, second: str) -> str:
    """``[b, 0, 1, f]``: the role of each dimension, in dimension order."""
    labels = [""] * len(spec)
    labels[spec[0]], labels[spec[1]] = first, second
    for i, d in enumerate(spec[2:]):
        labels[d] = str(i)
    return "[" + ", ".join(labels) + "]"


def conv_dimension_numbers_attr(dnums: cv.ConvDimensionNumbers) -> str:
    lhs, rhs, out = dnums
    return (f"#stablehlo.conv<{_layout(lhs, 'b', 'f')}x{_layout(rhs, 'o', 'i')}"
            f"->{_layout(out, 'b', 'f')}>")


def padding_attr(padding) -> str:
    """``dense<[[lo, hi], ...]> : tensor<Nx2xi64>`` (N > 0)."""
    rows = ", ".join(f"[{int(lo)}, {int(hi)}]" for lo, hi in padding)
    return f"dense<[{rows}]> : tensor<{len(padding)}x2xi64>"


def _convolution(ctx, lhs, rhs, lhs_aval, rhs_aval, out_aval, *, window_strides, padding,
                 lhs_dilation, rhs_dilation, dimension_numbers, feature_group_count,
                 batch_group_count, precision):
    attrs = {
        "dimension_numbers": conv_dimension_numbers_attr(dimension_numbers),
        "window_strides": i64_array(window_strides),
        "lhs_dilation": i64_array(lhs_dilation),
        "rhs_dilation": i64_array(rhs_dilation),
        "feature_group_count": f"{int(feature_group_count)} : i64",
        "batch_group_count": f"{int(batch_group_count)} : i64",
    }
    if padding:  # the attribute is optional (no padding); a 0x2 dense is awkward to write
        attrs["padding"] = padding_attr(padding)
    if precision is not None:
        attrs["precision_config"] = precision_config(precision)
    return ctx.op("stablehlo.convolution", [lhs, rhs], [lhs_aval, rhs_aval], out_aval, attrs)


@register(cv.conv_general_dilated_p)
def _conv_general_dilated(ctx, avals_in, aval_out, lhs, rhs, *, preferred_element_type=None,
                          **params):
    lhs_aval, rhs_aval = avals_in
    if not dtypes.is_complex(lhs_aval.dtype):
        return _convolution(ctx, lhs, rhs, lhs_aval, rhs_aval, aval_out, **params)
    # XLA's GPU backend has no complex convolution (and the CPU one is slow): write it with
    # four real convolutions, (a + ib)(c + id) = (ac - bd) + i(ad + bc).
    real_dt = np.float32 if lhs_aval.dtype == np.complex64 else np.float64
    out_real_dt = np.float32 if aval_out.dtype == np.complex64 else np.float64
    lr_aval, rr_aval = lhs_aval.update(dtype=real_dt), rhs_aval.update(dtype=real_dt)
    out_real = aval_out.update(dtype=out_real_dt)
    a = ctx.op("stablehlo.real", [lhs], [lhs_aval], lr_aval)
    b = ctx.op("stablehlo.imag", [lhs], [lhs_aval], lr_aval)
    c = ctx.op("stablehlo.real", [rhs], [rhs_aval], rr_aval)
    d = ctx.op("stablehlo.imag", [rhs], [rhs_aval], rr_aval)

    def conv(x, y):
        return _convolution(ctx, x, y, lr_aval, rr_aval, out_real, **params)

    re = ctx.op("stablehlo.subtract", [conv(a, c), conv(b, d)], [out_real] * 2, out_real)
    im = ctx.op("stablehlo.add", [conv(a, d), conv(b, c)], [out_real] * 2, out_real)
    return ctx.op("stablehlo.complex", [re, im], [out_real] * 2, aval_out)
