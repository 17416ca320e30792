"""Dense (fully connected) layers and Flatten."""
from __future__ import annotations

from typing import Callable

import functorch_lite.numpy as fnp
from functorch_lite import lax

from . import initializers
from .module import Module, promote_dtype

__all__ = ["Dense", "Flatten"]


class Dense(Module):
    """``y = x @ kernel + bias`` over the last axis of ``x``; kernel ``(in, features)``.

    >>> params, _ = Dense(10).init(key, fnp.ones((32, 64)))   # kernel (64, 10), bias (10,)
    """

    def __init__(self, features: int, use_bias: bool = True, dtype=None,
                 param_dtype=fnp.float32, precision=None,
                 kernel_init: Callable = initializers.lecun_normal(),
                 bias_init: Callable = initializers.zeros):
        if int(features) <= 0:
            raise ValueError(f"Dense: features must be a positive int, got {features!r}")
        self.features, self.use_bias = int(features), use_bias
        self.dtype, self.param_dtype, self.precision = dtype, param_dtype, precision
        self.kernel_init, self.bias_init = kernel_init, bias_init

    def __call__(self, x):
        x = fnp.asarray(x)
        if x.ndim == 0:
            raise ValueError("expected an input with a feature axis, got a scalar")
        old = self.existing_param("kernel")
        if old is not None and old.shape[-1] == self.features and old.shape[0] != x.shape[-1]:
            raise ValueError(f"expected input feature size {old.shape[0]}, got "
                             f"{x.shape[-1]}; input shape {tuple(x.shape)}")
        kernel = self.param("kernel", self.kernel_init, (x.shape[-1], self.features),
                            self.param_dtype)
        bias = (self.param("bias", self.bias_init, (self.features,), self.param_dtype)
                if self.use_bias else None)
        x, kernel, bias = promote_dtype(x, kernel, bias, dtype=self.dtype)
        y = lax.dot_general(x, kernel, (((x.ndim - 1,), (0,)), ((), ())),
                            precision=self.precision)
        return y if bias is None else y + bias


class Flatten(Module):
    """Collapse every axis after the first (the batch) into one: ``(N, ...) -> (N, -1)``."""

    def __call__(self, x):
        x = fnp.asarray(x)
        if x.ndim < 1:
            raise ValueError("expected a batched input, got a scalar")
        return fnp.reshape(x, (x.shape[0], -1))
