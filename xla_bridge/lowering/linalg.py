"""StableHLO lowering of the contractions (functorch_lite/lax/linalg.py)."""
from __future__ import annotations

from functorch_lite.lax import linalg as la
from xla_bridge.lowering.core import register


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
    return ctx.op("stablehlo.dot_general", [lhs, rhs], [lhs_aval, rhs_aval], aval_out, attrs)
