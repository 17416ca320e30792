"""Windowed reductions (pooling): ``reduce_window`` with ``add``, ``max`` or ``min``.

A window of ``window_dimensions`` elements slides over the operand, ``window_strides``
apart; each output element reduces one window. Before sliding, the operand may be dilated
(``base_dilation``: holes between its elements) and padded (``padding``: ``(lo, hi)``
per dimension); the window may be dilated too (``window_dilation``). Holes and padding hold
the reduction's identity (0 for sums, -inf or the dtype's minimum for max, +inf or its
maximum for min), so they never win.

Each reduction is its own primitive (``reduce_window_sum``, ``reduce_window_max``,
``reduce_window_min``) with params ``window_dimensions``, ``window_strides``, ``padding``
(``(lo, hi)`` pairs), ``base_dilation`` and ``window_dilation``, one entry per dimension.
"""
from __future__ import annotations

from functools import partial
from typing import Any, Callable, Sequence

import numpy as np

from functorch_lite.core import dtypes
from functorch_lite.core.avals import ShapedArray, get_aval
from functorch_lite.core.primitive import Primitive
from functorch_lite.core.trace import Tracer
from functorch_lite.lax import elementwise as ew
from functorch_lite.lax._common import as_operand, check_dtype
from functorch_lite.lax.convolution import (dilate_dim, int_tuple, pad_pairs, padtype_to_pads,
                                            strided_count)

__all__ = ["reduce_window", "reduce_window_sum", "reduce_window_max", "reduce_window_min",
           "reduce_window_sum_p", "reduce_window_max_p", "reduce_window_min_p"]


def reduce_window_identity(kind: str, dtype) -> Any:
    """The value a ``kind`` ('sum', 'max', 'min') reduction starts from and pads with."""
    dt = np.dtype(dtype)
    if kind == "sum":
        return np.zeros((), dt)[()]
    big = kind == "min"
    if dtypes.is_bool(dt):
        return np.bool_(big)
    if dtypes.is_int(dt):
        info = dtypes.iinfo(dt)
        return dt.type(info.max if big else info.min)
    return np.asarray(np.inf if big else -np.inf, dt)[()]


def _shape_rule(kind, operand, *, window_dimensions, window_strides, padding, base_dilation,
                window_dilation):
    name = f"reduce_window_{kind}"
    check_dtype(name, operand, "iufc" if kind == "sum" else "biufc")
    nd = operand.ndim
    for what, values in (("window_dimensions", window_dimensions),
                         ("window_strides", window_strides), ("padding", padding),
                         ("base_dilation", base_dilation),
                         ("window_dilation", window_dilation)):
        if len(values) != nd:
            raise ValueError(f"{name}: {what} {tuple(values)} must have one entry per "
                             f"dimension of the operand (shape {operand.shape}, rank {nd})")
    for what, values in (("window_dimensions", window_dimensions),
                         ("window_strides", window_strides), ("base_dilation", base_dilation),
                         ("window_dilation", window_dilation)):
        if any(type(v) is not int or v < 1 for v in values):
            raise ValueError(f"{name}: {what} must be positive integers, got "
                             f"{tuple(values)}")
    if any(len(p) != 2 or any(type(v) is not int for v in p) for p in padding):
        raise ValueError(f"{name}: padding must be (low, high) integer pairs, got {padding}")
    shape = []
    for d, w, s, (lo, hi), bd, wd in zip(operand.shape, window_dimensions, window_strides,
                                         padding, base_dilation, window_dilation):
        shape.append(strided_count(dilate_dim(d, bd) + lo + hi, dilate_dim(w, wd), s))
    return ShapedArray(shape, operand.dtype, operand.weak_type)


def _primitive(kind: str) -> Primitive:
    p = Primitive(f"reduce_window_{kind}")
    p.def_shape(partial(_shape_rule, kind))
    return p


reduce_window_sum_p = _primitive("sum")
reduce_window_max_p = _primitive("max")
reduce_window_min_p = _primitive("min")
_PRIMITIVES = {"sum": reduce_window_sum_p, "max": reduce_window_max_p,
               "min": reduce_window_min_p}


def _reduce_window(kind: str, operand: Any, window_dimensions: Sequence[int],
                   window_strides: Sequence[int] | None, padding: Any,
                   base_dilation: Sequence[int] | None, window_dilation: Sequence[int] | None):
    name = f"reduce_window_{kind}"
    operand = as_operand(operand)
    aval = get_aval(operand)
    window_dimensions = int_tuple(name, "window_dimensions", window_dimensions)
    n = len(window_dimensions)
    window_strides = int_tuple(name, "window_strides", window_strides, n)
    base_dilation = int_tuple(name, "base_dilation", base_dilation, n)
    window_dilation = int_tuple(name, "window_dilation", window_dilation, n)
    if isinstance(padding, str):
        if not len(window_strides) == len(window_dilation) == n == aval.ndim:
            raise ValueError(f"{name}: window_dimensions {window_dimensions}, window_strides "
                             f"{window_strides} and window_dilation {window_dilation} must "
                             f"have one entry per dimension of the operand (shape "
                             f"{aval.shape})")
        if any(v < 1 for v in window_strides + window_dilation):
            raise ValueError(f"{name}: window_strides {window_strides} and window_dilation "
                             f"{window_dilation} must be positive")
        window = [dilate_dim(w, d) for w, d in zip(window_dimensions, window_dilation)]
        padding = tuple(padtype_to_pads(aval.shape, window, window_strides, padding))
    else:
        padding = pad_pairs(name, padding)
    return _PRIMITIVES[kind].bind(operand, window_dimensions=window_dimensions,
                                  window_strides=window_strides, padding=padding,
                                  base_dilation=base_dilation,
                                  window_dilation=window_dilation)


def reduce_window_sum(operand: Any, window_dimensions: Sequence[int],
                      window_strides: Sequence[int] | None = None, padding: Any = "VALID",
                      base_dilation: Sequence[int] | None = None,
                      window_dilation: Sequence[int] | None = None):
    """Sum over sliding windows (sum pooling); padding counts as 0.

    Example: ``x: f32[1, 4, 4, 3]`` (NHWC) with ``window_dimensions=(1, 2, 2, 1)`` and
    ``window_strides=(1, 2, 2, 1)`` gives shape ``(1, 2, 2, 3)``."""
    return _reduce_window("sum", operand, window_dimensions, window_strides, padding,
                          base_dilation, window_dilation)


def reduce_window_max(operand: Any, window_dimensions: Sequence[int],
                      window_strides: Sequence[int] | None = None, padding: Any = "VALID",
                      base_dilation: Sequence[int] | None = None,
                      window_dilation: Sequence[int] | None = None):
    """Maximum over sliding windows (max pooling); padding counts as -inf (the dtype's
    minimum for integers). Example: ``reduce_window_max(x, (2,), (1,))`` of ``x: f32[5]``
    has shape ``(4,)`` with ``out[i] = max(x[i], x[i+1])``."""
    return _reduce_window("max", operand, window_dimensions, window_strides, padding,
                          base_dilation, window_dilation)


def reduce_window_min(operand: Any, window_dimensions: Sequence[int],
                      window_strides: Sequence[int] | None = None, padding: Any = "VALID",
                      base_dilation: Sequence[int] | None = None,
                      window_dilation: Sequence[int] | None = None):
    """Minimum over sliding windows; padding counts as +inf (the dtype's maximum for
    integers). Example: ``reduce_window_min(x, (3,), (3,), 'SAME')`` of ``x: f32[7]`` has
    shape ``(3,)``."""
    return _reduce_window("min", operand, window_dimensions, window_strides, padding,
                          base_dilation, window_dilation)


_COMPUTATIONS: dict[Callable, str] = {ew.add: "sum", ew.max: "max", ew.min: "min"}


def reduce_window(operand: Any, init_value: Any, computation: Callable,
                  window_dimensions: Sequence[int], window_strides: Sequence[int] | None = None,
                  padding: Any = "VALID", base_dilation: Sequence[int] | None = None,
                  window_dilation: Sequence[int] | None = None):
    """Reduce each sliding window of ``operand`` with ``computation``, starting from
    ``init_value``.

    Supported: ``computation`` one of ``lax.add``, ``lax.max``, ``lax.min`` with
    ``init_value`` its identity (0, -inf, +inf; the dtype's min/max for integers).
    ``padding`` is ``'SAME'``, ``'SAME_LOWER'``, ``'VALID'`` or ``(lo, hi)`` pairs.
    Example (2x2 max pooling, stride 2, of ``x: f32[1, 4, 4, 3]`` NHWC):
    ``reduce_window(x, -np.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), 'VALID')`` has shape
    ``(1, 2, 2, 3)``.
    """
    kind = _COMPUTATIONS.get(computation)
    comp_name = getattr(computation, "__name__", repr(computation))
    if kind is None:
        raise NotImplementedError(
            f"reduce_window: computation {comp_name} is not supported; only lax.add, "
            "lax.max and lax.min (with their identity as init_value) are")
    operand = as_operand(operand)
    dtype = get_aval(operand).dtype
    identity = reduce_window_identity(kind, dtype)
    if isinstance(init_value, Tracer):
        raise NotImplementedError(
            f"reduce_window: init_value for {comp_name} must be a concrete value (its "
            f"identity {identity!r}), not a traced value")
    try:
        init = np.asarray(init_value)
    except Exception:
        raise TypeError(f"reduce_window: init_value must be a scalar, got "
                        f"{init_value!r}") from None
    if init.shape != ():
        raise TypeError(f"reduce_window: init_value must be a scalar, got shape {init.shape}")
    if not _equals_identity(init[()], identity):
        raise NotImplementedError(
            f"reduce_window: computation {comp_name} with init_value {init_value!r} is not "
            f"supported; the init_value must be the identity of {comp_name} for "
            f"{dtypes.to_numpy_dtype_name(dtype)} ({identity!r})")
    return _reduce_window(kind, operand, window_dimensions, window_strides, padding,
                          base_dilation, window_dilation)


def _equals_identity(value: Any, identity: Any) -> bool:
    try:
        return bool(value == identity)
    except (TypeError, ValueError, OverflowError):
        return False


# ---------------------------------------------------------------------------------------
# Helper primitives for differentiating max/min pooling.
#
# ``reduce_window_select(operand, tangent, kind=...)`` slides the windows over both arrays
# at once and, in each window, returns the tangent found where ``operand`` is largest
# (``kind='max'``) or smallest (``'min'``): the jvp of ``reduce_window_max/min``. It is
# linear in ``tangent``. Its transpose, ``select_and_scatter_add(source, operand,
# kind=...)``, adds each ``source`` element (one per window) into ``operand``'s shape at
# that window's max/min position. Each is the other's transpose, so derivatives of any
# order close over these two. (``select_and_scatter_add`` has no window dilation: XLA's
# select-and-scatter has none, so max pooling with window dilation has a jvp but no
# reverse-mode derivative.)

_WINDOW_PARAMS = ("window_dimensions", "window_strides", "padding", "base_dilation",
                  "window_dilation")

reduce_window_select_p = Primitive("reduce_window_select")
select_and_scatter_add_p = Primitive("select_and_scatter_add")


def _check_kind(name: str, kind: Any) -> None:
    if kind not in ("max", "min"):
        raise ValueError(f"{name}: kind must be 'max' or 'min', got {kind!r}")


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


# ---------------------------------------------------------------------------------------
# Derivative rules

from functorch_lite.interpreters import ad  # noqa: E402
from functorch_lite.interpreters.transpose import is_undefined  # noqa: E402


def _zero_scalar(dtype):
    from functorch_lite.lax._common import scalar_like
    return scalar_like(0, dtype)


def _zeros(aval: ShapedArray):
    from functorch_lite.lax.shapes import full
    return full(aval.shape, 0, aval.dtype)


def _reduce_window_sum_transpose(ct, operand, *, window_dimensions, window_strides, padding,
                                 base_dilation, window_dilation):
    # out[o] sums the (dilated, padded) operand at o*s + j*wd; element i sits at
    # i*bd + lo. Each operand element therefore receives the sum of the cotangent over
    # the windows covering it: a window sum of the cotangent dilated by the strides,
    # padded by K - 1 - lo in front (K the dilated window's extent) and to exactly one
    # window per operand position at the end, stepped bd apart.
    from functorch_lite.lax.shapes import pad
    if type(ct) is ad.Zero:
        return [None]
    aval = operand.aval
    ct_shape = get_aval(ct).shape
    if 0 in aval.shape:
        return [_zeros(aval)]
    config = []
    for d, w, s, (lo, _), bd, wd, n in zip(aval.shape, window_dimensions, window_strides,
                                           padding, base_dilation, window_dilation,
                                           ct_shape):
        extent = dilate_dim(w, wd)
        config.append((extent - 1 - lo, dilate_dim(d, bd) + lo - dilate_dim(n, s), s - 1))
    padded = pad(ct, _zero_scalar(get_aval(ct).dtype), config)
    nd = aval.ndim
    return [reduce_window_sum_p.bind(padded, window_dimensions=tuple(window_dimensions),
                                     window_strides=tuple(base_dilation),
                                     padding=((0, 0),) * nd, base_dilation=(1,) * nd,
                                     window_dilation=tuple(window_dilation))]


ad.deflinear(reduce_window_sum_p, _reduce_window_sum_transpose)


def _chooser_jvp(kind: str):
    prim = _PRIMITIVES[kind]

    def rule(primals, tangents, **params):
        (x,), (g,) = primals, tangents
        out = prim.bind(x, **params)
        if type(g) is ad.Zero or not dtypes.is_inexact(get_aval(x).dtype):
            return out, ad.Zero(ad.tangent_aval(get_aval(out)))
        return out, reduce_window_select_p.bind(x, g, kind=kind, **params)
    return rule


reduce_window_max_p.def_jvp(_chooser_jvp("max"))
reduce_window_min_p.def_jvp(_chooser_jvp("min"))


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


reduce_window_select_p.def_jvp(_reduce_window_select_jvp)
reduce_window_select_p.def_transpose(_reduce_window_select_transpose)
select_and_scatter_add_p.def_jvp(_select_and_scatter_add_jvp)
select_and_scatter_add_p.def_transpose(_select_and_scatter_add_transpose)


# ---------------------------------------------------------------------------------------
# Batching rules: the batch dimension becomes one more window dimension, of size 1 with
# stride 1 and no padding or dilation, left where it is.

from functorch_lite.interpreters import batching  # noqa: E402


def _insert_window_dim(params: dict, d: int) -> dict:
    trivial = {"window_dimensions": 1, "window_strides": 1, "padding": (0, 0),
               "base_dilation": 1, "window_dilation": 1}
    new = dict(params)
    for key in _WINDOW_PARAMS:
        if key in new:
            values = list(new[key])
            values.insert(d, trivial[key])
            new[key] = tuple(values)
    return new


def _reduce_window_batch(prim: Primitive):
    def rule(axis, args, dims, **params):
        (x,), (d,) = args, dims
        return prim.bind(x, **_insert_window_dim(params, d)), d
    return rule


def _aligned_batch(prim: Primitive):
    """Both operands have the operand's shape (or the windows' shape): put their batch
    dims at the same place (that of the first batched one)."""
    def rule(axis, args, dims, **params):
        d = next(b for b in dims if b is not None)
        args = [batching.move_dim(a, b, d, axis.size) for a, b in zip(args, dims)]
        return prim.bind(*args, **_insert_window_dim(params, d)), d
    return rule


for _p in (reduce_window_sum_p, reduce_window_max_p, reduce_window_min_p):
    _p.def_batch(_reduce_window_batch(_p))
reduce_window_select_p.def_batch(_aligned_batch(reduce_window_select_p))
select_and_scatter_add_p.def_batch(_aligned_batch(select_and_scatter_add_p))
