"""StableHLO lowering of the elementwise primitives (functorch_lite/lax/elementwise.py)."""
from __future__ import annotations

import numpy as np

from functorch_lite.core import dtypes
from functorch_lite.lax import elementwise as ew
from xla_bridge.lowering.core import register


def _bcast(ctx, x, aval, out_aval):
    """Rank-0 operands of binary ops broadcast to the result shape."""
    if aval.shape == out_aval.shape:
        return x
    return ctx.broadcast_in_dim(x, aval, out_aval.shape, ())


def _splat(ctx, value, aval):
    """``value`` broadcast to ``aval``: a rank-0 constant and a broadcast_in_dim (this also
    works for size-0 shapes, where a dense constant of the full shape cannot be written)."""
    scalar = aval.update(shape=())
    return ctx.broadcast_in_dim(ctx.constant(value, scalar), scalar, aval.shape, ())


def _operands(ctx, avals_in, out_shape, args):
    outs, avals = [], []
    for a, x in zip(avals_in, args):
        target = a.update(shape=out_shape)
        outs.append(_bcast(ctx, x, a, target))
        avals.append(target)
    return outs, avals


def _simple(op_name):
    def rule(ctx, avals_in, aval_out, *args, **params):
        args, avals = _operands(ctx, avals_in, aval_out.shape, args)
        return ctx.op(op_name, args, avals, aval_out)
    return rule


_SIMPLE = {
    ew.neg_p: "stablehlo.negate",
    ew.floor_p: "stablehlo.floor", ew.ceil_p: "stablehlo.ceil",
    ew.is_finite_p: "stablehlo.is_finite", ew.exp_p: "stablehlo.exponential",
    ew.log_p: "stablehlo.log", ew.log1p_p: "stablehlo.log_plus_one",
    ew.expm1_p: "stablehlo.exponential_minus_one", ew.sqrt_p: "stablehlo.sqrt",
    ew.rsqrt_p: "stablehlo.rsqrt", ew.cbrt_p: "stablehlo.cbrt", ew.sin_p: "stablehlo.sine",
    ew.cos_p: "stablehlo.cosine", ew.tan_p: "stablehlo.tan", ew.asin_p: "chlo.asin",
    ew.acos_p: "chlo.acos", ew.atan_p: "chlo.atan", ew.sinh_p: "chlo.sinh",
    ew.cosh_p: "chlo.cosh", ew.tanh_p: "stablehlo.tanh", ew.asinh_p: "chlo.asinh",
    ew.acosh_p: "chlo.acosh", ew.atanh_p: "chlo.atanh", ew.logistic_p: "stablehlo.logistic",
    ew.erf_p: "chlo.erf", ew.erfc_p: "chlo.erfc", ew.erf_inv_p: "chlo.erf_inv",
    ew.lgamma_p: "chlo.lgamma", ew.digamma_p: "chlo.digamma", ew.not_p: "stablehlo.not",
    ew.population_count_p: "stablehlo.popcnt", ew.real_p: "stablehlo.real",
    ew.imag_p: "stablehlo.imag",
    ew.add_p: "stablehlo.add", ew.sub_p: "stablehlo.subtract", ew.mul_p: "stablehlo.multiply",
    ew.div_p: "stablehlo.divide", ew.rem_p: "stablehlo.remainder", ew.pow_p: "stablehlo.power",
    ew.atan2_p: "stablehlo.atan2",
    ew.nextafter_p: "chlo.next_after", ew.and_p: "stablehlo.and", ew.or_p: "stablehlo.or",
    ew.xor_p: "stablehlo.xor", ew.shift_left_p: "stablehlo.shift_left",
    ew.shift_right_arithmetic_p: "stablehlo.shift_right_arithmetic",
    ew.shift_right_logical_p: "stablehlo.shift_right_logical",
    ew.complex_p: "stablehlo.complex",
}
for _p, _name in _SIMPLE.items():
    register(_p)(_simple(_name))


# stablehlo.abs and stablehlo.sign reject unsigned integers: |x| is x, sign(x) is (x != 0).
@register(ew.abs_p)
def _abs(ctx, avals_in, aval_out, x):
    if dtypes.is_unsigned(aval_out.dtype):
        return x
    return ctx.op("stablehlo.abs", [x], avals_in, aval_out)


@register(ew.sign_p)
def _sign(ctx, avals_in, aval_out, x):
    aval = avals_in[0]
    if dtypes.is_unsigned(aval.dtype):
        nonzero = compare(ctx, x, _splat(ctx, 0, aval), aval, "NE")
        return ctx.convert(nonzero, aval.update(dtype=np.bool_), aval.dtype)
    return ctx.op("stablehlo.sign", [x], avals_in, aval_out)


@register(ew.round_p)
def _round(ctx, avals_in, aval_out, x, *, rounding_method):
    op = "stablehlo.round_nearest_even" if rounding_method == 1 else "stablehlo.round_nearest_afz"
    return ctx.op(op, [x], avals_in, aval_out)


@register(ew.exp2_p)
def _exp2(ctx, avals_in, aval_out, x):
    ln2 = _splat(ctx, np.log(2.0), aval_out)
    return ctx.op("stablehlo.exponential",
                  [ctx.op("stablehlo.multiply", [x, ln2], [aval_out] * 2, aval_out)],
                  [aval_out], aval_out)


@register(ew.conj_p)
def _conj(ctx, avals_in, aval_out, x):
    real_aval = aval_out.update(dtype=ew._real_dtype(aval_out.dtype))
    re = ctx.op("stablehlo.real", [x], avals_in, real_aval)
    im = ctx.op("stablehlo.imag", [x], avals_in, real_aval)
    neg_im = ctx.op("stablehlo.negate", [im], [real_aval], real_aval)
    return ctx.op("stablehlo.complex", [re, neg_im], [real_aval] * 2, aval_out)


def compare_type(dtype) -> str:
    if dtypes.is_float(dtype) or dtypes.is_complex(dtype):
        return "FLOAT"
    if dtypes.is_unsigned(dtype) or dtypes.is_bool(dtype):
        return "UNSIGNED"
    return "SIGNED"


def compare(ctx, x, y, aval, direction: str) -> str:
    """Emit ``x <direction> y`` for two operands of type ``aval``; returns a bool array."""
    return ctx.op("stablehlo.compare", [x, y], [aval, aval], aval.update(dtype=np.bool_),
                  {"comparison_direction": f"#stablehlo<comparison_direction {direction}>",
                   "compare_type": f"#stablehlo<comparison_type {compare_type(aval.dtype)}>"})


def _compare_rule(direction):
    def rule(ctx, avals_in, aval_out, x, y):
        (x, y), avals = _operands(ctx, avals_in, aval_out.shape, (x, y))
        return compare(ctx, x, y, avals[0], direction)
    return rule


for _p, _d in ((ew.eq_p, "EQ"), (ew.ne_p, "NE"), (ew.lt_p, "LT"), (ew.le_p, "LE"),
               (ew.gt_p, "GT"), (ew.ge_p, "GE")):
    register(_p)(_compare_rule(_d))


def _minmax_rule(op_name, direction):
    def rule(ctx, avals_in, aval_out, x, y):
        (x, y), avals = _operands(ctx, avals_in, aval_out.shape, (x, y))
        if not dtypes.is_complex(aval_out.dtype):
            return ctx.op(op_name, [x, y], avals, aval_out)
        # XLA's maximum/minimum do not order complex numbers lexicographically (real part,
        # then imaginary part) as NumPy and JAX do, so compare the parts explicitly.
        part = aval_out.update(dtype=ew._real_dtype(aval_out.dtype))
        pred_aval = aval_out.update(dtype=np.bool_)
        rx, ry = (ctx.op("stablehlo.real", [v], [aval_out], part) for v in (x, y))
        ix, iy = (ctx.op("stablehlo.imag", [v], [aval_out], part) for v in (x, y))
        pred = ctx.op("stablehlo.select", [compare(ctx, rx, ry, part, "EQ"),
                                           compare(ctx, ix, iy, part, direction),
                                           compare(ctx, rx, ry, part, direction)],
                      [pred_aval] * 3, pred_aval)
        return ctx.op("stablehlo.select", [pred, x, y], [pred_aval, aval_out, aval_out],
                      aval_out)
    return rule


register(ew.max_p)(_minmax_rule("stablehlo.maximum", "GT"))
register(ew.min_p)(_minmax_rule("stablehlo.minimum", "LT"))


@register(ew.integer_pow_p)
def _integer_pow(ctx, avals_in, aval_out, x, *, y):
    # Square-and-multiply: log2(|y|) multiplies, then one reciprocal for negative y.
    aval = avals_in[0]
    n = y if y >= 0 else -y
    acc, base = None, x
    while n:
        if n & 1:
            acc = base if acc is None else ctx.op("stablehlo.multiply", [acc, base],
                                                  [aval, aval], aval)
        n >>= 1
        if n:
            base = ctx.op("stablehlo.multiply", [base, base], [aval, aval], aval)
    if acc is None:
        acc = _splat(ctx, 1, aval)
    if y < 0:
        acc = ctx.op("stablehlo.divide", [_splat(ctx, 1, aval), acc], [aval, aval], aval)
    return acc


@register(ew.select_n_p)
def _select_n(ctx, avals_in, aval_out, which, *cases):
    which_aval = avals_in[0]
    if which_aval.shape != aval_out.shape:
        which = ctx.broadcast_in_dim(which, which_aval, aval_out.shape, ())
        which_aval = which_aval.update(shape=aval_out.shape)
    if which_aval.dtype == np.bool_:
        if len(cases) == 1:
            return cases[0]
        return ctx.op("stablehlo.select", [which, cases[1], cases[0]],
                      [which_aval, aval_out, aval_out], aval_out)
    # int32 `which`: a balanced tree of selects on `which < mid`.
    def pick(lo, hi):
        if hi - lo == 1:
            return cases[lo]
        mid = (lo + hi) // 2
        pred = compare(ctx, which, _splat(ctx, mid, which_aval), which_aval, "LT")
        return ctx.op("stablehlo.select", [pred, pick(lo, mid), pick(mid, hi)],
                      [which_aval.update(dtype=np.bool_), aval_out, aval_out], aval_out)
    return pick(0, len(cases))


@register(ew.clamp_p)
def _clamp(ctx, avals_in, aval_out, lo, x, hi):
    return ctx.op("stablehlo.clamp", [lo, x, hi], avals_in, aval_out)


@register(ew.convert_element_type_p)
def _convert(ctx, avals_in, aval_out, x, *, new_dtype, weak_type):
    aval = avals_in[0]
    if aval.dtype == aval_out.dtype:
        return x
    if aval_out.dtype == np.bool_:  # x != 0, the way NumPy casts to bool
        return compare(ctx, x, _splat(ctx, 0, aval), aval, "NE")
    if dtypes.is_complex(aval.dtype) and not dtypes.is_complex(aval_out.dtype):
        x = ctx.op("stablehlo.real", [x], [aval], aval.update(dtype=ew._real_dtype(aval.dtype)))
        aval = aval.update(dtype=ew._real_dtype(aval.dtype))
    return ctx.convert(x, aval, aval_out.dtype)
