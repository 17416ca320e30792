"""Convolution layers, channels last, over any number of spatial axes (1, 2, 3, ... given by
``len(kernel_size)``): ``Conv`` and ``ConvTranspose``, with Flax's parameter names, shapes,
defaults and padding rules.

An input is ``(batch, *spatial, channels)``, or one example ``(*spatial, channels)`` (what a
layer sees under ``fl.vmap``); the kernel is ``(*window, in_channels, features)``.
"""
from __future__ import annotations

import operator
from typing import Callable, Sequence

import numpy as np

import functorch_lite.numpy as fnp
from functorch_lite import lax

from . import initializers
from .module import Module, promote_dtype

__all__ = ["Conv", "ConvTranspose"]

_SPATIAL_NAMES = {1: "length", 2: "height, width", 3: "depth, height, width"}


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _int_tuple(layer: str, what: str, value, n: int | None = None) -> tuple[int, ...]:
    """``value`` (an int, repeated ``n`` times, or a sequence) as a tuple of positive ints,
    with ``n`` entries when ``n`` is given."""
    if value is None:
        value = 1
    if _is_int(value):
        value = (value,) * (n or 1)
    try:
        out = tuple(operator.index(v) for v in value)
    except TypeError:
        raise TypeError(f"{layer}: {what} must be an int or a sequence of ints, got "
                        f"{value!r}") from None
    if n is not None and len(out) != n:
        raise ValueError(f"{layer}: {what} {out} must have one entry per spatial axis of "
                         f"the window ({n})")
    if not out or any(v < 1 for v in out):
        raise ValueError(f"{layer}: {what} must be positive, got {out}")
    return out


def _padding(layer: str, padding, n: int, names: Sequence[str]):
    """A padding name (upper-cased) or ``n`` ``(low, high)`` pairs; an int ``p`` means
    ``(p, p)`` on every axis and an int entry means the same on both sides (as Flax)."""
    if isinstance(padding, str):
        if padding.upper() not in names:
            raise ValueError(f"{layer}: unknown padding {padding!r}; use one of "
                             f"{', '.join(map(repr, names))}, an int or {n} (low, high) "
                             f"pairs")
        return padding.upper()
    if _is_int(padding):
        return ((int(padding),) * 2,) * n
    try:
        pairs = tuple((p, p) if _is_int(p) else tuple(p) for p in padding)
        if len(pairs) == n and all(len(p) == 2 for p in pairs):
            return tuple((operator.index(lo), operator.index(hi)) for lo, hi in pairs)
    except TypeError:
        pass
    raise ValueError(f"{layer}: invalid padding {padding!r}; expected a string, an int or "
                     f"{n} entries, each an int or a (low, high) pair")


def _with_batch(x, n: int, layer: str, what: str):
    """``(x, False)`` for a batched input of rank ``n + 2``, ``(x[None], True)`` for one
    example of rank ``n + 1``; anything else is an error naming the expected layout."""
    if x.ndim == n + 2:
        return x, False
    if x.ndim == n + 1:
        return x[None], True
    spatial = _SPATIAL_NAMES.get(n, f"{n} spatial axes")
    hint = ""
    if x.ndim > n + 2:
        hint = (f"; for a {x.ndim - 2}-D {layer} give {x.ndim - 2} window sizes, or merge "
                f"the extra leading axes into the batch")
    raise ValueError(f"a {n}-D {what} expects input (batch, {spatial}, channels) or one "
                     f"example ({spatial}, channels), got shape {tuple(x.shape)}{hint}")


def _dimension_numbers(n: int):
    """Channels-last input/output and a ``(*window, in, out)`` kernel."""
    io = (0, n + 1) + tuple(range(1, n + 1))
    return lax.ConvDimensionNumbers(io, (n + 1, n) + tuple(range(n)), io)


def _dilated(sizes, dilations):
    return tuple((k - 1) * d + 1 for k, d in zip(sizes, dilations))


def _check_not_empty(y, x, window, padding) -> None:
    # XLA happily returns a zero-sized output; that is never what a network wants.
    if any(d == 0 for d in y.shape[1:-1]):
        raise ValueError(f"input shape {tuple(x.shape)} is too small for the window "
                         f"{window} with padding {padding!r}: the output shape would be "
                         f"{tuple(y.shape)}")


def _aliased(layer: str, value, alias, name: str, alias_name: str):
    if value is not None and alias is not None:
        raise TypeError(f"{layer}: give {name} or its alias {alias_name}, not both")
    return alias if value is None else value


class Conv(Module):
    """N-D convolution (``lax.conv_general_dilated``) as ``flax.linen.Conv``: input
    ``(N, *spatial, C)`` or ``(*spatial, C)``, kernel ``(*kernel_size, C // groups,
    features)``, bias ``(features,)``. ``dilation`` and ``groups`` are aliases of
    ``kernel_dilation`` and ``feature_group_count``; ``groups=C`` is a depthwise
    convolution. ``padding``: ``"SAME"``, ``"VALID"``, ``"CIRCULAR"``, ``"REFLECT"``,
    ``"CAUSAL"`` (1-D), an int or ``(low, high)`` pairs.

    >>> conv = Conv(16, (3, 3), strides=2)
    >>> params, _ = conv.init(key, fnp.ones((8, 32, 32, 3)))  # kernel (3, 3, 3, 16)
    >>> conv.apply(params, fnp.ones((8, 32, 32, 3)))[0].shape
    (8, 16, 16, 16)
    """

    def __init__(self, features: int, kernel_size: int | Sequence[int], strides=1,
                 padding="SAME", input_dilation=1, kernel_dilation=None,
                 feature_group_count: int | None = None, use_bias: bool = True, dtype=None,
                 param_dtype=fnp.float32, precision=None,
                 kernel_init: Callable = initializers.lecun_normal(),
                 bias_init: Callable = initializers.zeros, *, dilation=None,
                 groups: int | None = None):
        name = type(self).__name__
        self.features = _int_tuple(name, "features", features)[0]
        # An int kernel_size is a 1-D window, as in Flax.
        self.kernel_size = _int_tuple(name, "kernel_size", kernel_size)
        n = len(self.kernel_size)
        self.strides = _int_tuple(name, "strides", strides, n)
        self.padding = _padding(name, padding, n, ("SAME", "VALID", "SAME_LOWER", "CIRCULAR",
                                                   "REFLECT", "CAUSAL"))
        if self.padding == "CAUSAL" and n != 1:
            raise ValueError(f"{name}: padding 'CAUSAL' is for 1-D convolutions only, got "
                             f"kernel_size {self.kernel_size}")
        self.input_dilation = _int_tuple(name, "input_dilation", input_dilation, n)
        if isinstance(self.padding, str) and self.padding != "VALID" and \
                self.input_dilation != (1,) * n:
            raise ValueError(f"{name}: padding {self.padding!r} with input_dilation "
                             f"{self.input_dilation} is not supported; give explicit "
                             f"(low, high) pairs or use ConvTranspose")
        self.kernel_dilation = _int_tuple(name, "kernel_dilation", _aliased(
            name, kernel_dilation, dilation, "kernel_dilation", "dilation"), n)
        self.feature_group_count = _int_tuple(name, "feature_group_count", _aliased(
            name, feature_group_count, groups, "feature_group_count", "groups"))[0]
        if self.features % self.feature_group_count:
            raise ValueError(f"{name}: features {self.features} must be divisible by "
                             f"feature_group_count {self.feature_group_count}")
        self.use_bias, self.dtype, self.param_dtype = use_bias, dtype, param_dtype
        self.precision, self.kernel_init, self.bias_init = precision, kernel_init, bias_init

    def __call__(self, x):
        x = fnp.asarray(x)
        n, groups = len(self.kernel_size), self.feature_group_count
        xb, unbatched = _with_batch(x, n, "Conv", f"kernel_size {self.kernel_size}")
        channels = x.shape[-1]
        old = self.existing_param("kernel")
        if old is not None and old.ndim == n + 2 and old.shape[-2] * groups != channels:
            raise ValueError(f"expected input with {old.shape[-2] * groups} channels (last "
                             f"axis), got {channels}; input shape {tuple(x.shape)}, kernel "
                             f"shape {tuple(old.shape)}")
        if channels % groups:
            raise ValueError(f"input channels {channels} are not divisible by "
                             f"feature_group_count {groups}; input shape {tuple(x.shape)}")
        padding = self.padding
        if padding in ("CIRCULAR", "REFLECT", "CAUSAL"):
            # Pad the input ourselves (wrapped, mirrored or zeros on the left only) so the
            # convolution itself is VALID and the output keeps the input's size.
            window = _dilated(self.kernel_size, self.kernel_dilation)
            pads = [(w - 1, 0) if padding == "CAUSAL" else ((w - 1) // 2, w // 2)
                    for w in window]
            mode = {"CIRCULAR": "wrap", "REFLECT": "reflect", "CAUSAL": "constant"}[padding]
            xb = fnp.pad(xb, [(0, 0)] + pads + [(0, 0)], mode=mode)
            padding = "VALID"
        if padding == "VALID":        # lax takes no padding name with input_dilation
            padding = ((0, 0),) * n
        kernel = self.param("kernel", self.kernel_init,
                            self.kernel_size + (channels // groups, self.features),
                            self.param_dtype)
        bias = (self.param("bias", self.bias_init, (self.features,), self.param_dtype)
                if self.use_bias else None)
        xb, kernel, bias = promote_dtype(xb, kernel, bias, dtype=self.dtype)
        y = lax.conv_general_dilated(
            xb, kernel, self.strides, padding, lhs_dilation=self.input_dilation,
            rhs_dilation=self.kernel_dilation, dimension_numbers=_dimension_numbers(n),
            feature_group_count=groups, precision=self.precision)
        _check_not_empty(y, x, _dilated(self.kernel_size, self.kernel_dilation),
                         self.padding)
        if bias is not None:
            y = y + bias
        return y[0] if unbatched else y


def _transpose_pads(window: int, stride: int, kind: str) -> tuple[int, int]:
    """The padding of the stride-dilated input that ``jax.lax.conv_transpose`` uses:
    'SAME' gives ``input * stride`` outputs, 'VALID' ``(input - 1) * stride + window`` (plus
    ``stride - window`` when the stride exceeds the window)."""
    if kind == "SAME":
        total = window + stride - 2
        lo = window - 1 if stride > window - 1 else -(-total // 2)
    else:
        total = window + stride - 2 + max(window - stride, 0)
        lo = window - 1
    return lo, total - lo


class ConvTranspose(Module):
    """Transposed ("fractionally strided") convolution as ``flax.linen.ConvTranspose``
    (``jax.lax.conv_transpose``): the input is spread out by ``strides`` and convolved
    with the kernel ``(*kernel_size, C, features)`` (``(*kernel_size, features, C)``,
    flipped, with ``transpose_kernel=True``: then it is exactly the gradient of a ``Conv``
    with that kernel). Explicit padding pads the spread-out input.

    >>> up = ConvTranspose(8, (4, 4), strides=2)
    >>> params, _ = up.init(key, fnp.ones((1, 16, 16, 32)))   # kernel (4, 4, 32, 8)
    >>> up.apply(params, fnp.ones((1, 16, 16, 32)))[0].shape
    (1, 32, 32, 8)
    """

    def __init__(self, features: int, kernel_size: int | Sequence[int], strides=1,
                 padding="SAME", kernel_dilation=None, use_bias: bool = True, dtype=None,
                 param_dtype=fnp.float32, precision=None,
                 kernel_init: Callable = initializers.lecun_normal(),
                 bias_init: Callable = initializers.zeros, transpose_kernel: bool = False,
                 *, dilation=None):
        name = type(self).__name__
        self.features = _int_tuple(name, "features", features)[0]
        self.kernel_size = _int_tuple(name, "kernel_size", kernel_size)
        n = len(self.kernel_size)
        self.strides = _int_tuple(name, "strides", strides, n)
        self.padding = _padding(name, padding, n, ("SAME", "VALID", "CIRCULAR"))
        self.kernel_dilation = _int_tuple(name, "kernel_dilation", _aliased(
            name, kernel_dilation, dilation, "kernel_dilation", "dilation"), n)
        self.use_bias, self.transpose_kernel = use_bias, bool(transpose_kernel)
        self.dtype, self.param_dtype, self.precision = dtype, param_dtype, precision
        self.kernel_init, self.bias_init = kernel_init, bias_init

    def __call__(self, x):
        x = fnp.asarray(x)
        n = len(self.kernel_size)
        xb, unbatched = _with_batch(x, n, "ConvTranspose", f"kernel_size {self.kernel_size}")
        channels = x.shape[-1]
        in_axis = -1 if self.transpose_kernel else -2
        old = self.existing_param("kernel")
        if old is not None and old.ndim == n + 2 and old.shape[in_axis] != channels:
            raise ValueError(f"expected input with {old.shape[in_axis]} channels (last "
                             f"axis), got {channels}; input shape {tuple(x.shape)}, kernel "
                             f"shape {tuple(old.shape)}")
        io = (self.features, channels) if self.transpose_kernel else (channels, self.features)
        kernel = self.param("kernel", self.kernel_init, self.kernel_size + io,
                            self.param_dtype)
        bias = (self.param("bias", self.bias_init, (self.features,), self.param_dtype)
                if self.use_bias else None)
        xb, kernel, bias = promote_dtype(xb, kernel, bias, dtype=self.dtype)
        if self.transpose_kernel:
            kernel = fnp.swapaxes(fnp.flip(kernel, axis=tuple(range(n))), -1, -2)
        window = _dilated(self.kernel_size, self.kernel_dilation)
        if isinstance(self.padding, str):
            kind = "VALID" if self.padding == "CIRCULAR" else self.padding
            pads = [_transpose_pads(w, s, kind) for w, s in zip(window, self.strides)]
        else:
            pads = self.padding
        y = lax.conv_general_dilated(
            xb, kernel, (1,) * n, pads, lhs_dilation=self.strides,
            rhs_dilation=self.kernel_dilation, dimension_numbers=_dimension_numbers(n),
            precision=self.precision)
        _check_not_empty(y, x, window, self.padding)
        if self.padding == "CIRCULAR":
            y = self._wrap(y, [d * s for d, s in zip(xb.shape[1:-1], self.strides)])
        if bias is not None:
            y = y + bias
        return y[0] if unbatched else y

    def _wrap(self, y, periods):
        """Fold each spatial axis of the VALID result onto one period (input size times
        stride) by summing, as Flax's 'CIRCULAR': the axis is first padded to an odd number
        of periods so that the input's start lands on a period boundary."""
        for axis, period in enumerate(periods, start=1):
            extra = -(y.shape[axis] - period) % (2 * period)
            lo = extra // 2 if self.transpose_kernel else (extra + 1) // 2
            widths = [(0, 0)] * y.ndim
            widths[axis] = (lo, extra - lo)
            y = fnp.pad(y, widths)
            y = fnp.reshape(y, y.shape[:axis] + (-1, period) + y.shape[axis + 1:])
            y = fnp.sum(y, axis=axis)
        return y
