"""StableHLO lowering of the contractions (functorch_lite/lax/linalg.py)."""
from __future__ import annotations

import math

import numpy as np

from functorch_lite.lax import linalg as la
from xla_bridge.lowering.core import i64_array, register


def precision_config(precision) -> str:
    """``[#stablehlo<precision HIGHEST>, ...]`` for a pair of ``Precision`` values."""
    return "[" + ", ".join(f"#stablehlo<precision {p.name}>" for p in precision) + "]"


def _dims(values) -> str:
    return "[" + ", ".join(str(int(v)) for v in values) + "]"


@register(la.dot_general_p)
def _dot_general(ctx, avals_in, aval_out, lhs, rhs, *, dimension_numbers, precision=None,
                 preferred_element_type=None):
    (lc, rc), (lb, rb) = dimension_numbers
    lhs_aval, rhs_aval = avals_in
    if lhs_aval.dtype != rhs_aval.dtype:
        # Operands of two dtypes: XLA's CPU/GPU code generators want one, so compute in
        # the result dtype (what the shape rule picked).
        lhs = ctx.convert(lhs, lhs_aval, aval_out.dtype)
        rhs = ctx.convert(rhs, rhs_aval, aval_out.dtype)
        lhs_aval = lhs_aval.update(dtype=aval_out.dtype)
        rhs_aval = rhs_aval.update(dtype=aval_out.dtype)
    # The printer leaves out empty lists; the parser accepts that (and `#stablehlo.dot<>`).
    fields = [(name, dims) for name, dims in (
        ("lhs_batching_dimensions", lb), ("rhs_batching_dimensions", rb),
        ("lhs_contracting_dimensions", lc), ("rhs_contracting_dimensions", rc)) if dims]
    attrs = {"dot_dimension_numbers": "#stablehlo.dot<"
             + ", ".join(f"{n} = {_dims(d)}" for n, d in fields) + ">"}
    if precision is not None:
        attrs["precision_config"] = precision_config(precision)
    if _leading_contraction_on_cpu(ctx, lhs_aval, rhs_aval, lc, rc, lb):
        return _leading_contraction(ctx, lhs, rhs, lhs_aval, rhs_aval, aval_out, len(lc),
                                    precision)
    return ctx.op("stablehlo.dot_general", [lhs, rhs], [lhs_aval, rhs_aval], aval_out, attrs)


# ---------------------------------------------------------------------------------------
# Contractions over both operands' leading axes on the CPU
#
# A dense layer's weight gradient, x^T dy, contracts the batch axes that lead both
# operands. XLA:CPU hands row-major products to its fast matrix library (YNNPACK) only when
# the left operand contracts its trailing axes; otherwise it copies the *right* operand
# transposed (the wide activation gradient, often the larger one) and runs a slower
# generic kernel at half the speed or less. Moving one operand's contracted axes to the
# back ourselves, behind an optimization barrier so XLA cannot fold the transpose back into
# the product, gives the fast kernel and, choosing the operand, the smaller copy. When the
# right operand is the one moved, the product comes out transposed and is held by a
# barrier too before it is transposed back. (The gradient rule of dot_general helps by
# writing a weight gradient as x^T dy, in the weight's own order, rather than as
# (dy^T x)^T, whose trailing transpose XLA would fold into the product.) Measured in one
# process against the form before (benchmarks' rows): the small transformer's training
# step about 8% faster, the MLP step 3-10%, the digits CNN 2-3%. Tiny products are left
# alone: the copy would cost more than it saves.

_MIN_CONTRACTION_FLOPS = 1 << 22


def _leading_contraction_on_cpu(ctx, lhs_aval, rhs_aval, lc, rc, lb) -> bool:
    n = len(lc)
    return (ctx.platform == "cpu" and not lb and n > 0
            and tuple(lc) == tuple(range(n)) and tuple(rc) == tuple(range(n))
            and lhs_aval.ndim > n and rhs_aval.ndim > n
            and lhs_aval.dtype == rhs_aval.dtype == np.float32
            and 2 * math.prod(lhs_aval.shape) * math.prod(rhs_aval.shape[n:])
            >= _MIN_CONTRACTION_FLOPS)


def _transposed(ctx, x, aval, perm):
    out = aval.update(shape=tuple(aval.shape[p] for p in perm))
    return ctx.op("stablehlo.transpose", [x], [aval], out, {"permutation": i64_array(perm)}), out


def _leading_contraction(ctx, lhs, rhs, lhs_aval, rhs_aval, aval_out, n, precision):
    """``dot_general`` contracting the first ``n`` axes of both operands, as a product
    whose left operand (transposed and held by a barrier) contracts its last ``n`` axes and
    whose right operand contracts its first ``n``."""
    # Transpose the left operand, or the right one and then the (small) result: whichever
    # copies fewer elements.
    swap = (math.prod(rhs_aval.shape) + math.prod(aval_out.shape)
            < math.prod(lhs_aval.shape))
    first, first_aval, second, second_aval = ((rhs, rhs_aval, lhs, lhs_aval) if swap
                                              else (lhs, lhs_aval, rhs, rhs_aval))
    k = first_aval.ndim - n
    t, t_aval = _transposed(ctx, first, first_aval, list(range(n, first_aval.ndim))
                            + list(range(n)))
    (t,) = ctx.op("stablehlo.optimization_barrier", [t], [t_aval], [t_aval])
    dims = f"lhs_contracting_dimensions = {_dims(range(k, k + n))}, " \
           f"rhs_contracting_dimensions = {_dims(range(n))}"
    attrs = {"dot_dimension_numbers": f"#stablehlo.dot<{dims}>"}
    if precision is not None:   # one per operand, in the order they are passed
        attrs["precision_config"] = precision_config(precision[::-1] if swap else precision)
    # Swapped, the product gives (rhs free axes, lhs free axes), then the result's order.
    m = second_aval.ndim - n
    product_aval = (aval_out.update(shape=tuple(aval_out.shape[m:]) + tuple(aval_out.shape[:m]))
                    if swap else aval_out)
    out = ctx.op("stablehlo.dot_general", [t, second], [t_aval, second_aval], product_aval,
                 attrs)
    if not swap:
        return out
    # Held, or XLA folds the transpose below into the product by swapping its operands
    # back, which is the slow form again.
    (out,) = ctx.op("stablehlo.optimization_barrier", [out], [product_aval], [product_aval])
    return _transposed(ctx, out, product_aval, list(range(k, k + m)) + list(range(k)))[0]
