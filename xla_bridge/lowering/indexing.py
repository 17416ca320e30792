"""StableHLO lowering of the indexing primitives (functorch_lite/lax/indexing.py).

``dynamic_slice``/``dynamic_update_slice`` map one-to-one (XLA clamps the starts itself).
``gather`` maps to ``stablehlo.gather``, whose out-of-bounds behaviour is to clamp the
starts: that is CLIP and PROMISE_IN_BOUNDS; FILL_OR_DROP adds a mask computed from the
indices and a select. ``scatter*`` map to ``stablehlo.scatter`` with a combining region;
XLA skips out-of-bounds update blocks, which is FILL_OR_DROP and PROMISE_IN_BOUNDS; CLIP
clamps the indices first. JAX's convention that the index vector is the last axis of the
indices is written out as ``index_vector_dim``.
"""
from __future__ import annotations

import numpy as np

from functorch_lite.core import dtypes
from functorch_lite.core.avals import ShapedArray
from functorch_lite.lax import indexing as ix
from xla_bridge.lowering.core import i64_array, register
from xla_bridge.lowering.elementwise import compare
from xla_bridge.lowering.reductions import region


def _dims(values) -> str:
    return "[" + ", ".join(str(int(v)) for v in values) + "]"


def _struct(kind: str, fields) -> str:
    """``#stablehlo.<kind><a = [..], ...>``; empty lists are left out, as MLIR prints them."""
    parts = [f"{k} = {_dims(v) if isinstance(v, tuple) else v}" for k, v in fields
             if not (isinstance(v, tuple) and not v)]
    return f"#stablehlo.{kind}<{', '.join(parts)}>"


def _bool(b: bool) -> str:
    return "true" if b else "false"


# ---------------------------------------------------------------------------------------
# dynamic_slice / dynamic_update_slice

@register(ix.dynamic_slice_p)
def _dynamic_slice(ctx, avals_in, aval_out, x, *starts, slice_sizes):
    if not starts:  # rank 0: the slice is the operand
        return x
    return ctx.op("stablehlo.dynamic_slice", [x, *starts], avals_in, aval_out,
                  {"slice_sizes": i64_array(slice_sizes)})


@register(ix.dynamic_update_slice_p)
def _dynamic_update_slice(ctx, avals_in, aval_out, x, update, *starts):
    if not starts:  # rank 0: the update replaces the operand
        return update
    return ctx.op("stablehlo.dynamic_update_slice", [x, update, *starts], avals_in, aval_out)


# ---------------------------------------------------------------------------------------
# gather

def _index_compute_dtype(aval: ShapedArray, bound: int) -> np.dtype:
    """A signed dtype that holds every index value and the bounds exactly."""
    dt = aval.dtype
    if dt.itemsize >= 8 or (dtypes.is_unsigned(dt) and dt.itemsize >= 4) or bound >= 2**31 - 1:
        return np.dtype(np.int64)
    return np.dtype(np.int32)


def _reduce_and_last(ctx, x, aval: ShapedArray) -> str:
    """AND of a bool array over its last axis."""
    scalar = ShapedArray((), np.bool_)
    out_aval = aval.update(shape=aval.shape[:-1])
    body = region(ctx, [scalar, scalar], lambda a, b: (
        [ctx.op("stablehlo.and", [a, b], [scalar, scalar], scalar)], [scalar]))
    init = ctx.constant(True, scalar)
    return ctx.op("stablehlo.reduce", [x, init], [aval, scalar], out_aval,
                  {"dimensions": i64_array([aval.ndim - 1])}, regions=[body])


def _in_bounds_mask(ctx, operand_aval, idx_aval, idx, start_index_map, slice_sizes):
    """For each index vector, whether its whole block lies inside the operand: a bool array
    of the indices' batch shape."""
    bounds = [operand_aval.shape[d] - slice_sizes[d] for d in start_index_map]
    dt = _index_compute_dtype(idx_aval, max([0, *operand_aval.shape]))
    wide = idx_aval.update(dtype=dt)
    idx = ctx.convert(idx, idx_aval, dt)
    upper = ctx.constant(np.array(bounds, dt), ShapedArray((len(bounds),), dt))
    upper = ctx.broadcast_in_dim(upper, ShapedArray((len(bounds),), dt), wide.shape,
                                 [wide.ndim - 1])
    zero = ctx.broadcast_in_dim(ctx.constant(0, ShapedArray((), dt)), ShapedArray((), dt),
                                wide.shape, [])
    mask_aval = wide.update(dtype=np.bool_)
    ok = ctx.op("stablehlo.and", [compare(ctx, idx, zero, wide, "GE"),
                                  compare(ctx, idx, upper, wide, "LE")],
                [mask_aval, mask_aval], mask_aval)
    return _reduce_and_last(ctx, ok, mask_aval)


@register(ix.gather_p)
def _gather(ctx, avals_in, aval_out, operand, indices, *, dimension_numbers, slice_sizes,
            indices_are_sorted, unique_indices, mode, fill_value):
    operand_aval, idx_aval = avals_in
    dn = dimension_numbers
    if aval_out.size == 0:  # nothing to read; XLA's verifier may reject the degenerate op
        scalar = ShapedArray((), aval_out.dtype)
        return ctx.broadcast_in_dim(ctx.constant(0, scalar), scalar, aval_out.shape, [])
    attr = _struct("gather", [
        ("offset_dims", dn.offset_dims),
        ("collapsed_slice_dims", dn.collapsed_slice_dims),
        ("operand_batching_dims", dn.operand_batching_dims),
        ("start_indices_batching_dims", dn.start_indices_batching_dims),
        ("start_index_map", dn.start_index_map),
        ("index_vector_dim", idx_aval.ndim - 1),
    ])
    out = ctx.op("stablehlo.gather", [operand, indices], avals_in, aval_out,
                 {"dimension_numbers": attr,
                  "indices_are_sorted": _bool(indices_are_sorted),
                  "slice_sizes": i64_array(slice_sizes)})
    if mode is not ix.GatherScatterMode.FILL_OR_DROP or not dn.start_index_map:
        return out  # (with empty index vectors every block starts at 0 and fits)
    mask = _in_bounds_mask(ctx, operand_aval, idx_aval, indices, dn.start_index_map,
                           slice_sizes)
    batch_axes = [d for d in range(aval_out.ndim) if d not in dn.offset_dims]
    mask_aval = ShapedArray(idx_aval.shape[:-1], np.bool_)
    pred_aval = aval_out.update(dtype=np.bool_)
    mask = ctx.broadcast_in_dim(mask, mask_aval, aval_out.shape, batch_axes)
    scalar = ShapedArray((), aval_out.dtype)
    fill = ctx.broadcast_in_dim(ctx.constant(fill_value, scalar), scalar, aval_out.shape, [])
    return ctx.op("stablehlo.select", [mask, out, fill], [pred_aval, aval_out, aval_out],
                  aval_out)


# ---------------------------------------------------------------------------------------
# scatter

def _clamp_scatter_indices(ctx, operand_aval, idx_aval, upd_aval, idx, dn):
    """Clamp each index vector so its update block lies inside the operand (mode CLIP)."""
    block = []
    window = iter(dn.update_window_dims)
    for d in range(operand_aval.ndim):
        if d in dn.inserted_window_dims or d in dn.operand_batching_dims:
            block.append(1)
        else:
            block.append(upd_aval.shape[next(window)])
    top = int(dtypes.iinfo(idx_aval.dtype).max)
    bounds = [min(operand_aval.shape[d] - block[d], top) for d in dn.scatter_dims_to_operand_dims]
    vec = ShapedArray((len(bounds),), idx_aval.dtype)
    upper = ctx.broadcast_in_dim(ctx.constant(np.array(bounds, idx_aval.dtype), vec), vec,
                                 idx_aval.shape, [idx_aval.ndim - 1])
    zero = ctx.constant(0, ShapedArray((), idx_aval.dtype))
    return ctx.op("stablehlo.clamp", [zero, idx, upper],
                  [ShapedArray((), idx_aval.dtype), idx_aval, idx_aval], idx_aval)


_COMBINE = {
    ix.scatter_add_p: "stablehlo.add",
    ix.scatter_mul_p: "stablehlo.multiply",
    ix.scatter_min_p: "stablehlo.minimum",
    ix.scatter_max_p: "stablehlo.maximum",
}


def _scatter_rule(combine: str | None):
    def rule(ctx, avals_in, aval_out, operand, indices, updates, *, dimension_numbers,
             indices_are_sorted, unique_indices, mode):
        operand_aval, idx_aval, upd_aval = avals_in
        dn = dimension_numbers
        if upd_aval.size == 0 or operand_aval.size == 0:  # nothing is written
            return operand
        if mode is ix.GatherScatterMode.CLIP:
            indices = _clamp_scatter_indices(ctx, operand_aval, idx_aval, upd_aval, indices, dn)
        scalar = ShapedArray((), aval_out.dtype)

        def body(old, new):
            if combine is None:
                return [new], [scalar]
            return [ctx.op(combine, [old, new], [scalar, scalar], scalar)], [scalar]

        combiner = region(ctx, [scalar, scalar], body)
        attr = _struct("scatter", [
            ("update_window_dims", dn.update_window_dims),
            ("inserted_window_dims", dn.inserted_window_dims),
            ("input_batching_dims", dn.operand_batching_dims),
            ("scatter_indices_batching_dims", dn.scatter_indices_batching_dims),
            ("scatter_dims_to_operand_dims", dn.scatter_dims_to_operand_dims),
            ("index_vector_dim", idx_aval.ndim - 1),
        ])
        return ctx.op("stablehlo.scatter", [operand, indices, updates], avals_in, aval_out,
                      {"indices_are_sorted": _bool(indices_are_sorted),
                       "scatter_dimension_numbers": attr,
                       "unique_indices": _bool(unique_indices)},
                      regions=[combiner])
    return rule


register(ix.scatter_p)(_scatter_rule(None))
for _p, _op in _COMBINE.items():
    register(_p)(_scatter_rule(_op))
