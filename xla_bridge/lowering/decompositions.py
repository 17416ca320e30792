"""StableHLO lowering of the decompositions (functorch_lite/lax/decompositions.py):
StableHLO's cholesky and triangular_solve ops, and the custom calls XLA's compiler expands
itself (``Qr``, ``ProductOfElementaryHouseholderReflectors``, ``Eigh``)."""
from __future__ import annotations

import numpy as np

from functorch_lite.lax import decompositions as dec
from xla_bridge.lowering.core import register
from xla_bridge.lowering.elementwise import compare


def _expanded_call(ctx, target: str, args, avals_in, avals_out, backend_config=None):
    attrs = {"call_target_name": f'"{target}"', "api_version": "1 : i32"}
    if backend_config is not None:
        attrs["backend_config"] = f'"{backend_config}"'
    return ctx.op("stablehlo.custom_call", list(args), avals_in, avals_out, attrs)


@register(dec.triangular_solve_p)
def _triangular_solve(ctx, avals_in, aval_out, a, b, *, left_side, lower, transpose_a,
                      conjugate_a, unit_diagonal):
    mode = ("ADJOINT" if conjugate_a else "TRANSPOSE") if transpose_a else "NO_TRANSPOSE"
    flag = {True: "true", False: "false"}
    return ctx.op("stablehlo.triangular_solve", [a, b], avals_in, aval_out,
                  {"left_side": flag[left_side], "lower": flag[lower],
                   "unit_diagonal": flag[unit_diagonal],
                   "transpose_a": f"#stablehlo<transpose {mode}>"})


@register(dec.cholesky_p)
def _cholesky(ctx, avals_in, aval_out, x):
    factor = ctx.op("stablehlo.cholesky", [x], avals_in, aval_out, {"lower": "true"})
    # The op leaves the upper triangle unspecified: zero it.
    index = aval_out.update(dtype=np.int32)
    rows = ctx.op("stablehlo.iota", [], [], index,
                  {"iota_dimension": f"{aval_out.ndim - 2} : i64"})
    cols = ctx.op("stablehlo.iota", [], [], index,
                  {"iota_dimension": f"{aval_out.ndim - 1} : i64"})
    keep = compare(ctx, cols, rows, index, "LE")
    return ctx.op("stablehlo.select", [keep, factor, ctx.full(0, aval_out)],
                  [index.update(dtype=np.bool_), aval_out, aval_out], aval_out)


@register(dec.geqrf_p)
def _geqrf(ctx, avals_in, avals_out, x):
    return _expanded_call(ctx, "Qr", [x], avals_in, list(avals_out))


@register(dec.householder_product_p)
def _householder_product(ctx, avals_in, aval_out, a, taus):
    return _expanded_call(ctx, "ProductOfElementaryHouseholderReflectors", [a, taus],
                          avals_in, [aval_out])[0]


@register(dec.eigh_p)
def _eigh(ctx, avals_in, avals_out, x, *, lower, sort_eigenvalues):
    # XLA's Jacobi eigensolver: lower, sort, at most 100 sweeps, and a tolerance on the
    # off-diagonal norm relative to the whole: 1e-6 for 32-bit inputs (what JAX asks of it);
    # for 64-bit ones as low as XLA can measure (it stops when its estimate, which cancels
    # near sqrt(eps), says so), before lax.decompositions refines the result.
    tol = "1e-15" if avals_in[0].dtype in (np.float64, np.complex128) else "1e-6"
    return _expanded_call(ctx, "Eigh", [x], avals_in, list(avals_out),
                          f"{int(lower)},{int(sort_eigenvalues)},100,{tol}")
