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
