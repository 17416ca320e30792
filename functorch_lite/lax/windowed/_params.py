"""What the windowed reductions share: the identity each monoid starts from and pads with,
the canonical form and checks of the five window params (``window_dimensions``,
``window_strides``, ``padding``, ``base_dilation``, ``window_dilation``), and how a batch
dimension becomes one more window dimension."""
from __future__ import annotations

from typing import Any

import numpy as np

from functorch_lite.core import dtypes
from functorch_lite.core.avals import ShapedArray
from functorch_lite.lax._common import check_dtype
from functorch_lite.lax.convolution import (dilate_dim, int_tuple, pad_pairs, padtype_to_pads,
                                            strided_count)

_WINDOW_PARAMS = ("window_dimensions", "window_strides", "padding", "base_dilation",
                  "window_dilation")


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
    name = "reduce_window" if kind == "generic" else f"reduce_window_{kind}"
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


def _window_params(name: str, aval: ShapedArray, window_dimensions, window_strides, padding,
                   base_dilation, window_dilation) -> dict:
    """The five window params in canonical form (tuples; padding as (lo, hi) pairs)."""
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
    return dict(window_dimensions=window_dimensions, window_strides=window_strides,
                padding=padding, base_dilation=base_dilation, window_dilation=window_dilation)


# Batching: the batch dimension becomes one more window dimension, of size 1 with stride 1
# and no padding or dilation, left where it is.

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
