"""StableHLO lowering of the shape primitives (functorch_lite/lax/shapes.py).

Each is one StableHLO op, except ``reshape`` with ``dimensions`` (a transpose, then the
reshape). The shape rules have already checked every parameter, so the ops here are valid.
"""
from __future__ import annotations

from functorch_lite.lax import shapes as sh
from xla_bridge.lowering.core import i64_array, register


@register(sh.reshape_p)
def _reshape(ctx, avals_in, aval_out, x, *, new_sizes, dimensions):
    aval = avals_in[0]
    if dimensions is not None:
        t_aval = aval.update(shape=tuple(aval.shape[d] for d in dimensions))
        x = ctx.op("stablehlo.transpose", [x], [aval], t_aval,
                   {"permutation": i64_array(dimensions)})
        aval = t_aval
    return ctx.op("stablehlo.reshape", [x], [aval], aval_out)


@register(sh.broadcast_in_dim_p)
def _broadcast_in_dim(ctx, avals_in, aval_out, x, *, shape, broadcast_dimensions):
    # Always emit the op: an identity broadcast still turns a scalar argument into a result.
    return ctx.op("stablehlo.broadcast_in_dim", [x], avals_in, aval_out,
                  {"broadcast_dimensions": i64_array(broadcast_dimensions)})


@register(sh.transpose_p)
def _transpose(ctx, avals_in, aval_out, x, *, permutation):
    return ctx.op("stablehlo.transpose", [x], avals_in, aval_out,
                  {"permutation": i64_array(permutation)})


@register(sh.squeeze_p)
def _squeeze(ctx, avals_in, aval_out, x, *, dimensions):
    return ctx.op("stablehlo.reshape", [x], avals_in, aval_out)


@register(sh.concatenate_p)
def _concatenate(ctx, avals_in, aval_out, *xs, dimension):
    return ctx.op("stablehlo.concatenate", list(xs), avals_in, aval_out,
                  {"dimension": f"{int(dimension)} : i64"})


@register(sh.pad_p)
def _pad(ctx, avals_in, aval_out, x, padding_value, *, padding_config):
    lows, highs, interiors = zip(*padding_config) if padding_config else ((), (), ())
    return ctx.op("stablehlo.pad", [x, padding_value], avals_in, aval_out,
                  {"edge_padding_low": i64_array(lows),
                   "edge_padding_high": i64_array(highs),
                   "interior_padding": i64_array(interiors)})


@register(sh.slice_p)
def _slice(ctx, avals_in, aval_out, x, *, start_indices, limit_indices, strides):
    steps = strides if strides is not None else (1,) * len(start_indices)
    return ctx.op("stablehlo.slice", [x], avals_in, aval_out,
                  {"start_indices": i64_array(start_indices),
                   "limit_indices": i64_array(limit_indices),
                   "strides": i64_array(steps)})


@register(sh.rev_p)
def _rev(ctx, avals_in, aval_out, x, *, dimensions):
    return ctx.op("stablehlo.reverse", [x], avals_in, aval_out,
                  {"dimensions": i64_array(dimensions)})


@register(sh.iota_p)
def _iota(ctx, avals_in, aval_out, *, dtype, shape, dimension):
    return ctx.op("stablehlo.iota", [], [], aval_out,
                  {"iota_dimension": f"{int(dimension)} : i64"})


@register(sh.bitcast_convert_type_p)
def _bitcast_convert_type(ctx, avals_in, aval_out, x, *, new_dtype):
    return ctx.op("stablehlo.bitcast_convert", [x], avals_in, aval_out)
