"""Pooling over the spatial axes of channels-last inputs ``(*batch, *spatial, channels)``.

Two spellings, as the libraries users know them:

- the functions ``max_pool``, ``avg_pool``, ``min_pool`` with ``flax.linen``'s arguments and
  defaults (``strides=None`` means stride 1; any number of leading batch axes, none too);
- the modules ``MaxPool``, ``AvgPool`` (``strides=None`` means stride = window, as Keras
  and PyTorch), ``GlobalAvgPool`` and ``GlobalMaxPool``, which stand in ``Sequential``.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

import functorch_lite.numpy as fnp
from functorch_lite import lax

from .conv import _int_tuple, _padding, _with_batch
from .module import Module

__all__ = ["max_pool", "avg_pool", "min_pool", "MaxPool", "AvgPool", "GlobalAvgPool",
           "GlobalMaxPool"]

_PADDINGS = ("SAME", "VALID", "SAME_LOWER")


def _window(name: str, window_shape) -> tuple[int, ...]:
    # An int would be ambiguous (2 -> (2,) or (2, 2)?) and silently pool the wrong axes.
    if not isinstance(window_shape, Sequence):
        raise TypeError(f"{name}: window_shape must be a tuple with one size per spatial "
                        f"axis, e.g. (2, 2) for 2-D pooling; got {window_shape!r}")
    return _int_tuple(name, "window_shape", window_shape)


def _pool(kind: str, name: str, x, window_shape, strides, padding):
    """Reduce windows of the axes just before the last one; the leading axes are batch.
    Errors start with ``name`` (the function's; a layer's location is added by Module)."""
    x = fnp.asarray(x)
    window = _window(name, window_shape)
    n = len(window)
    strides = _int_tuple(name, "strides", strides, n)
    padding = _padding(name, padding, n, _PADDINGS)
    at = f"{name}: " if name else ""
    if x.ndim < n + 1:
        raise ValueError(f"{at}a {n}-D window {window} needs input (*batch, {n} spatial "
                         f"axes, channels), got shape {tuple(x.shape)}")
    lead = x.ndim - n - 1
    pads = padding if isinstance(padding, str) else ((0, 0),) * lead + padding + ((0, 0),)
    dims, steps = (1,) * lead + window + (1,), (1,) * lead + strides + (1,)
    y = None
    if strides == window and padding == "VALID":
        y = _tiled(kind, x, window, lead)
    if y is None:
        reduce = {"max": lax.reduce_window_max, "min": lax.reduce_window_min,
                  "sum": lax.reduce_window_sum}[kind]
        y = reduce(x, dims, steps, pads)
    if any(d == 0 for d in y.shape):
        raise ValueError(f"{at}input shape {tuple(x.shape)} is too small for the window "
                         f"{window} with padding {padding!r}: the output shape would be "
                         f"{tuple(y.shape)}")
    return y, x, window, strides, padding


def _tiled(kind: str, x, window: tuple[int, ...], lead: int):
    """Non-overlapping VALID windows as a reshape and a plain reduction: XLA runs this and
    its gradient about twice as fast as a reduce_window (whose max gradient is a
    select-and-scatter). The numbers are the same; for max/min, tied elements share the
    gradient equally instead of the first one taking it all (both are subgradients)."""
    n = len(window)
    spatial = x.shape[lead:lead + n]
    out = tuple(size // w for size, w in zip(spatial, window))
    if any(o == 0 for o in out):
        return None                                 # let the general path report it
    if any(o * w != size for o, w, size in zip(out, window, spatial)):
        x = x[(slice(None),) * lead + tuple(slice(0, o * w) for o, w in zip(out, window))]
    shape = x.shape[:lead] + sum(((o, w) for o, w in zip(out, window)), ()) + x.shape[-1:]
    axes = tuple(lead + 2 * i + 1 for i in range(n))
    reduce = {"max": fnp.max, "min": fnp.min, "sum": fnp.sum}[kind]
    return reduce(fnp.reshape(x, shape), axis=axes)


def max_pool(inputs, window_shape: Sequence[int], strides=None, padding="VALID"):
    """Maximum over each window (``flax.linen.max_pool``; ``strides`` default 1); padding
    never wins. ``max_pool(x, (2, 2), (2, 2))`` of ``x: (8, 32, 32, 3)`` is
    ``(8, 16, 16, 3)``."""
    return _pool("max", "max_pool", inputs, window_shape, strides, padding)[0]


def min_pool(inputs, window_shape: Sequence[int], strides=None, padding="VALID"):
    """Minimum over each window (``flax.linen.min_pool``; ``strides`` default 1)."""
    return _pool("min", "min_pool", inputs, window_shape, strides, padding)[0]


def avg_pool(inputs, window_shape: Sequence[int], strides=None, padding="VALID",
             count_include_pad: bool = True):
    """Mean over each window (``flax.linen.avg_pool``; ``strides`` default 1). Padding
    counts as zeros in the mean when ``count_include_pad`` (as PyTorch's default), else
    only the input's own elements are averaged. ``avg_pool(x, (3,), padding="SAME")`` of
    ``x: (4, 10, 16)`` is ``(4, 10, 16)``."""
    return _avg("avg_pool", inputs, window_shape, strides, padding, count_include_pad)


def _avg(name, inputs, window_shape, strides, padding, count_include_pad):
    total, x, window, strides, padding = _pool("sum", name, inputs, window_shape, strides,
                                               padding)
    if not fnp.issubdtype(total.dtype, fnp.floating):
        total = total.astype(fnp.float32)       # the mean of integers is not an integer
    if count_include_pad:
        return total / np.asarray(int(np.prod(window)), total.dtype)
    # How many real elements each window covers: a constant of the spatial shape alone.
    spatial = tuple(x.shape[-len(window) - 1:-1])
    count = lax.reduce_window_sum(np.ones(spatial, np.float32), window, strides, padding)
    return total / fnp.asarray(count[..., None], total.dtype)


class _Pool(Module):
    _kind = ""

    def __init__(self, window_shape: Sequence[int], strides=None, padding="VALID"):
        name = type(self).__name__
        self.window_shape = _window(name, window_shape)
        n = len(self.window_shape)
        # Unlike the Flax functions, the layers' default stride is the window (Keras,
        # PyTorch): MaxPool((2, 2)) halves the image.
        self.strides = _int_tuple(name, "strides",
                                  self.window_shape if strides is None else strides, n)
        self.padding = _padding(name, padding, n, _PADDINGS)

    def _check(self, x):
        x = fnp.asarray(x)
        _with_batch(x, len(self.window_shape), type(self).__name__,
                    f"window_shape {self.window_shape}")
        return x


class MaxPool(_Pool):
    """Max pooling layer: ``(N, *spatial, C)`` or ``(*spatial, C)`` in, the same rank out;
    ``strides=None`` means stride = window.

    >>> MaxPool((2, 2)).apply({}, fnp.ones((8, 32, 32, 3)))[0].shape
    (8, 16, 16, 3)
    """

    def __call__(self, x):
        return _pool("max", "", self._check(x), self.window_shape, self.strides,
                     self.padding)[0]


class AvgPool(_Pool):
    """Average pooling layer: ``(N, *spatial, C)`` or ``(*spatial, C)`` in, the same rank
    out; ``strides=None`` means stride = window; ``count_include_pad`` as ``avg_pool``.

    >>> AvgPool((3,), strides=1, padding="SAME").apply({}, fnp.ones((4, 10, 16)))[0].shape
    (4, 10, 16)
    """

    def __init__(self, window_shape: Sequence[int], strides=None, padding="VALID",
                 count_include_pad: bool = True):
        super().__init__(window_shape, strides, padding)
        self.count_include_pad = bool(count_include_pad)

    def __call__(self, x):
        return _avg("", self._check(x), self.window_shape, self.strides, self.padding,
                    self.count_include_pad)


class _GlobalPool(Module):
    def __init__(self, keepdims: bool = False, spatial_dims: int | None = None):
        if spatial_dims is not None and int(spatial_dims) < 1:
            raise ValueError(f"{type(self).__name__}: spatial_dims must be a positive int or "
                             f"None, got {spatial_dims!r}")
        self.keepdims = bool(keepdims)
        self.spatial_dims = None if spatial_dims is None else int(spatial_dims)

    def _axes(self, x) -> tuple[int, ...]:
        # Without spatial_dims the first axis is the batch: under vmap (one example at a
        # time) give spatial_dims so the first spatial axis is not taken for the batch.
        n = x.ndim - 2 if self.spatial_dims is None else self.spatial_dims
        if n < 1 or x.ndim < n + 1:
            need = "(batch, *spatial, channels)" if self.spatial_dims is None else \
                f"({n} spatial axes, channels) with any leading batch axes"
            raise ValueError(f"expected input {need}, got shape {tuple(x.shape)}")
        return tuple(range(x.ndim - 1 - n, x.ndim - 1))


class GlobalAvgPool(_GlobalPool):
    """Mean over every spatial axis: ``(N, *spatial, C) -> (N, C)`` (``keepdims=True``
    keeps them as size 1). ``spatial_dims`` says how many axes before the channels are
    spatial (needed for unbatched input, e.g. under ``vmap``); default: all but the first.

    >>> GlobalAvgPool().apply({}, fnp.ones((8, 7, 7, 512)))[0].shape
    (8, 512)
    """

    def __call__(self, x):
        x = fnp.asarray(x)
        return fnp.mean(x, axis=self._axes(x), keepdims=self.keepdims)


class GlobalMaxPool(_GlobalPool):
    """Maximum over every spatial axis: ``(N, *spatial, C) -> (N, C)``; arguments as
    ``GlobalAvgPool``.

    >>> GlobalMaxPool(spatial_dims=2).apply({}, fnp.ones((7, 7, 512)))[0].shape
    (512,)
    """

    def __call__(self, x):
        x = fnp.asarray(x)
        return fnp.max(x, axis=self._axes(x), keepdims=self.keepdims)
