"""Helper primitives for differentiating max/min pooling, each with its shape, derivative
and batching rules.

``reduce_window_select(operand, tangent, kind=...)`` slides the windows over both arrays
at once and, in each window, returns the tangent found where ``operand`` is largest
(``kind='max'``) or smallest (``'min'``): the jvp of ``reduce_window_max/min``. It is
linear in ``tangent``. Its transpose, ``select_and_scatter_add(source, operand,
kind=...)``, adds each ``source`` element (one per window) into ``operand``'s shape at
that window's max/min position. Each is the other's transpose, so derivatives of any
order close over these two. (``select_and_scatter_add`` has no window dilation: XLA's
select-and-scatter has none, so max pooling with window dilation has a jvp but no
reverse-mode derivative.)
"""
from __future__ import annotations

from typing import Any

from functorch_lite.core.avals import ShapedArray, get_aval
from functorch_lite.core.primitive import Primitive
from functorch_lite.interpreters import ad, batching
from functorch_lite.interpreters.transpose import is_undefined
from functorch_lite.lax._common import check_dtype
from functorch_lite.lax.windowed._params import _insert_window_dim, _shape_rule


def _check_kind(name: str, kind: Any) -> None:
    if kind not in ("max", "min"):
        raise ValueError(f"{name}: kind must be 'max' or 'min', got {kind!r}")


def _aligned_batch(prim: Primitive):
    """Both operands have the operand's shape (or the windows' shape): put their batch
    dims at the same place (that of the first batched one)."""
    def rule(axis, args, dims, **params):
        d = next(b for b in dims if b is not None)
        args = [batching.move_dim(a, b, d, axis.size) for a, b in zip(args, dims)]
        return prim.bind(*args, **_insert_window_dim(params, d)), d
    return rule


# ---------------------------------------------------------------------------------------
# reduce_window_select

reduce_window_select_p = Primitive("reduce_window_select")


@reduce_window_select_p.def_shape
def _reduce_window_select_shape(operand, tangent, *, kind, window_dimensions,
                                window_strides, padding, base_dilation, window_dilation):
    name = "reduce_window_select"
    _check_kind(name, kind)
    if tangent.shape != operand.shape:
        raise TypeError(f"{name}: operand and tangent must have the same shape, got "
                        f"{operand.shape} and {tangent.shape}")
    check_dtype(name, operand, "iufc")
    out = _shape_rule(kind, operand, window_dimensions=window_dimensions,
                      window_strides=window_strides, padding=padding,
                      base_dilation=base_dilation, window_dilation=window_dilation)
    return ShapedArray(out.shape, tangent.dtype, tangent.weak_type)


def _reduce_window_select_jvp(primals, tangents, **params):
    # The selection is piecewise constant in the operand: only the tangent's tangent flows.
    (x, t), (_, gt) = primals, tangents
    out = reduce_window_select_p.bind(x, t, **params)
    if type(gt) is ad.Zero:
        return out, ad.Zero(ad.tangent_aval(get_aval(out)))
    return out, reduce_window_select_p.bind(x, gt, **params)


def _reduce_window_select_transpose(ct, operand, tangent, *, kind, window_dimensions,
                                    window_strides, padding, base_dilation,
                                    window_dilation):
    if is_undefined(operand):
        raise ValueError("reduce_window_select is linear in its tangent only")
    if type(ct) is ad.Zero:
        return [None, None]
    if any(d != 1 for d in window_dilation):
        raise NotImplementedError(
            f"primitive 'reduce_window_select' (the jvp of reduce_window_{kind}) has no "
            f"transpose rule with window_dilation {tuple(window_dilation)}: reverse-mode "
            "differentiation of max/min pooling with a dilated window is not supported")
    return [None, select_and_scatter_add_p.bind(
        ct, operand, kind=kind, window_dimensions=window_dimensions,
        window_strides=window_strides, padding=padding, base_dilation=base_dilation)]


reduce_window_select_p.def_jvp(_reduce_window_select_jvp)
reduce_window_select_p.def_transpose(_reduce_window_select_transpose)
reduce_window_select_p.def_batch(_aligned_batch(reduce_window_select_p))


# ---------------------------------------------------------------------------------------
# select_and_scatter_add

select_and_scatter_add_p = Primitive("select_and_scatter_add")


@select_and_scatter_add_p.def_shape
def _select_and_scatter_add_shape(source, operand, *, kind, window_dimensions,
                                  window_strides, padding, base_dilation):
    name = "select_and_scatter_add"
    _check_kind(name, kind)
    check_dtype(name, operand, "iufc")
    windows = _shape_rule(kind, operand, window_dimensions=window_dimensions,
                          window_strides=window_strides, padding=padding,
                          base_dilation=base_dilation,
                          window_dilation=(1,) * len(window_dimensions))
    if source.shape != windows.shape:
        raise TypeError(f"{name}: source must have one element per window, shape "
                        f"{windows.shape}, got {source.shape}")
    return ShapedArray(operand.shape, source.dtype, source.weak_type)


def _select_and_scatter_add_jvp(primals, tangents, **params):
    (source, x), (gs, _) = primals, tangents
    out = select_and_scatter_add_p.bind(source, x, **params)
    if type(gs) is ad.Zero:
        return out, ad.Zero(ad.tangent_aval(get_aval(out)))
    return out, select_and_scatter_add_p.bind(gs, x, **params)


def _select_and_scatter_add_transpose(ct, source, operand, *, kind, window_dimensions,
                                      window_strides, padding, base_dilation):
    if is_undefined(operand):
        raise ValueError("select_and_scatter_add is linear in its source only")
    if type(ct) is ad.Zero:
        return [None, None]
    return [reduce_window_select_p.bind(
        operand, ct, kind=kind, window_dimensions=window_dimensions,
        window_strides=window_strides, padding=padding, base_dilation=base_dilation,
        window_dilation=(1,) * len(window_dimensions)), None]


select_and_scatter_add_p.def_jvp(_select_and_scatter_add_jvp)
select_and_scatter_add_p.def_transpose(_select_and_scatter_add_transpose)
select_and_scatter_add_p.def_batch(_aligned_batch(select_and_scatter_add_p))
