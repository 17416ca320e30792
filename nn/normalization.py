"""Normalization layers: BatchNorm (batch statistics, running averages kept in ``state``),
and LayerNorm, RMSNorm, GroupNorm (per-example statistics, no state).

Names, shapes, defaults and numerics follow flax.linen: parameters ``scale``/``bias`` with
the shape of the feature axes, BatchNorm state ``mean``/``var``; statistics are computed
in at least float32 whatever the input dtype, the variance as ``E[x^2] - E[x]^2`` clipped
at zero, and the result is cast to ``dtype`` (or, when it is None, to the promoted dtype of
the input and the parameters).
"""
from __future__ import annotations

from typing import Callable, Sequence

import functorch_lite.numpy as fnp
from functorch_lite import lax

from . import initializers
from .module import Module

__all__ = ["BatchNorm", "LayerNorm", "RMSNorm", "GroupNorm"]

Axes = int | Sequence[int]


def _axes(axes: Axes, shape) -> tuple[int, ...]:
    """``axes`` made non-negative, deduplicated and sorted; an axis outside the input's rank
    is an error naming the shape."""
    ndim = len(shape)
    out = set()
    for a in ((axes,) if isinstance(axes, int) else axes):
        if not -ndim <= int(a) < ndim:
            raise ValueError(f"axis {a} is out of range for an input of rank {ndim}; input "
                             f"shape {tuple(shape)}")
        out.add(int(a) % ndim)
    return tuple(sorted(out))


def _check_features(expected, x, feature_axes) -> None:
    """Raise when the input's feature sizes differ from those the parameters (or running
    statistics) were made for; called before ``self.param`` so the message is this one."""
    if expected is None:
        return
    got = tuple(x.shape[a] for a in feature_axes)
    if tuple(expected.shape) != got:
        if len(got) == 1:
            what = f"size {expected.shape[0]} on axis {feature_axes[0]}, got {got[0]}"
        else:
            what = f"sizes {tuple(expected.shape)} on axes {feature_axes}, got {got}"
        raise ValueError(f"expected feature {what}; input shape {tuple(x.shape)}")


def _statistics(x, axes, dtype, axis_name=None, center: bool = True):
    """``(mean, var)`` of ``x`` over ``axes``, in at least float32 (half-precision sums lose
    too much). With ``axis_name`` the moments are also averaged over that named axis (a
    ``vmap``/``shard_map`` batch), in one collective. ``center=False`` gives
    ``(0, mean of squares)``, RMSNorm's statistics."""
    dtype = fnp.promote_types(x.dtype if dtype is None else dtype, fnp.float32)
    x = x.astype(dtype)
    moments = [fnp.mean(fnp.square(x), axis=axes)]
    if center:
        moments.insert(0, fnp.mean(x, axis=axes))
    if axis_name is not None:
        stacked = lax.pmean(fnp.stack(moments), axis_name)
        moments = [stacked[i] for i in range(len(moments))]
    if not center:
        return fnp.zeros_like(moments[0]), moments[0]
    mean, mean_sq = moments
    # E[x^2] - E[x]^2 can round to slightly below zero, and rsqrt of that is NaN.
    return mean, fnp.maximum(mean_sq - fnp.square(mean), 0.0)


def _normalize(module: Module, x, mean, var, reduction_axes, feature_axes, *, epsilon,
               use_scale, use_bias, scale_init, bias_init, param_dtype, dtype):
    """``(x - mean) / sqrt(var + epsilon) * scale + bias`` with ``mean``/``var`` shaped as
    ``x`` without ``reduction_axes`` and the parameters shaped as the feature axes."""
    stat_shape = [1 if i in reduction_axes else n for i, n in enumerate(x.shape)]
    param_shape = [n if i in feature_axes else 1 for i, n in enumerate(x.shape)]
    features = tuple(x.shape[a] for a in feature_axes)
    mul = lax.rsqrt(fnp.reshape(var, stat_shape) + epsilon)
    used = [x]
    if use_scale:
        scale = module.param("scale", scale_init, features, param_dtype)
        mul = mul * fnp.reshape(scale, param_shape)
        used.append(scale)
    # The subtraction promotes a half-precision x to the statistics' float32.
    y = (x - fnp.reshape(mean, stat_shape)) * mul
    if use_bias:
        bias = module.param("bias", bias_init, features, param_dtype)
        y = y + fnp.reshape(bias, param_shape)
        used.append(bias)
    out = fnp.result_type(*used) if dtype is None else dtype
    if not fnp.issubdtype(out, fnp.floating):
        out = fnp.float32
    return y.astype(out)


def _check_epsilon(name: str, epsilon) -> float:
    if not float(epsilon) >= 0:
        raise ValueError(f"{name}: epsilon must be >= 0, got {epsilon!r}")
    return float(epsilon)


class BatchNorm(Module):
    """Normalize each feature (along ``axis``) by statistics over every other axis.

    Training (``apply(..., train=True)``) uses the batch's mean and biased variance and
    updates the running averages in ``state``: ``new = momentum * old + (1 - momentum) *
    batch``; inference (``train=False``) uses the running averages and leaves them alone.
    ``use_running_average`` in the call overrides the train flag (Flax's argument). With
    ``axis_name`` the batch statistics are averaged over that named ``vmap``/``shard_map``
    axis, so per-example code normalizes with the whole batch's statistics.

    >>> bn = BatchNorm()
    >>> params, state = bn.init(key, fnp.ones((32, 8, 8, 16)))  # scale, bias, mean, var: (16,)
    >>> y, state = bn.apply(params, x, state=state, train=True)  # y: (32, 8, 8, 16)
    """

    def __init__(self, momentum: float = 0.9, epsilon: float = 1e-5, axis: Axes = -1,
                 use_bias: bool = True, use_scale: bool = True, axis_name: str | None = None,
                 dtype=None, param_dtype=fnp.float32,
                 bias_init: Callable = initializers.zeros,
                 scale_init: Callable = initializers.ones):
        if not 0.0 <= float(momentum) <= 1.0:
            raise ValueError(f"BatchNorm: momentum must be in [0, 1], got {momentum!r}")
        self.momentum, self.epsilon = float(momentum), _check_epsilon("BatchNorm", epsilon)
        self.axis, self.use_bias, self.use_scale = axis, use_bias, use_scale
        self.axis_name, self.dtype, self.param_dtype = axis_name, dtype, param_dtype
        self.bias_init, self.scale_init = bias_init, scale_init

    def __call__(self, x, use_running_average: bool | None = None):
        x = fnp.asarray(x)
        feature_axes = _axes(self.axis, x.shape)
        reduction_axes = tuple(i for i in range(x.ndim) if i not in feature_axes)
        features = tuple(x.shape[a] for a in feature_axes)
        ra_mean = self.state("mean", fnp.zeros, features, fnp.float32)
        ra_var = self.state("var", fnp.ones, features, fnp.float32)
        _check_features(ra_mean.value, x, feature_axes)
        if use_running_average is None:
            use_running_average = not self.is_training
        if use_running_average:
            mean, var = ra_mean.value, ra_var.value
        else:
            # init may run outside the vmap/shard_map that names axis_name, and leaves the
            # running statistics at their initial values (as Flax).
            initializing = self.is_initializing
            mean, var = _statistics(x, reduction_axes, self.dtype,
                                    None if initializing else self.axis_name)
            if not initializing:
                m = self.momentum
                old_mean, old_var = ra_mean.value, ra_var.value
                ra_mean.value = (m * old_mean + (1 - m) * mean).astype(old_mean.dtype)
                ra_var.value = (m * old_var + (1 - m) * var).astype(old_var.dtype)
        return _normalize(self, x, mean, var, reduction_axes, feature_axes,
                          epsilon=self.epsilon, use_scale=self.use_scale,
                          use_bias=self.use_bias, scale_init=self.scale_init,
                          bias_init=self.bias_init, param_dtype=self.param_dtype,
                          dtype=self.dtype)


class LayerNorm(Module):
    """Normalize each example over ``reduction_axes`` (the last by default), then scale and
    shift per feature of ``feature_axes``.

    >>> params, _ = LayerNorm().init(key, fnp.ones((4, 10, 64)))  # scale, bias: (64,)
    >>> y, _ = LayerNorm().apply(params, x)                       # y: (4, 10, 64)
    """

    def __init__(self, epsilon: float = 1e-6, use_bias: bool = True, use_scale: bool = True,
                 reduction_axes: Axes = -1, feature_axes: Axes = -1, dtype=None,
                 param_dtype=fnp.float32, bias_init: Callable = initializers.zeros,
                 scale_init: Callable = initializers.ones, axis_name: str | None = None):
        self.epsilon = _check_epsilon("LayerNorm", epsilon)
        self.use_bias, self.use_scale = use_bias, use_scale
        self.reduction_axes, self.feature_axes = reduction_axes, feature_axes
        self.dtype, self.param_dtype = dtype, param_dtype
        self.bias_init, self.scale_init, self.axis_name = bias_init, scale_init, axis_name

    def __call__(self, x):
        x = fnp.asarray(x)
        reduction_axes = _axes(self.reduction_axes, x.shape)
        feature_axes = _axes(self.feature_axes, x.shape)
        _check_features(self.existing_param("scale") if self.use_scale
                        else self.existing_param("bias"), x, feature_axes)
        mean, var = _statistics(x, reduction_axes, self.dtype, self.axis_name)
        return _normalize(self, x, mean, var, reduction_axes, feature_axes,
                          epsilon=self.epsilon, use_scale=self.use_scale,
                          use_bias=self.use_bias, scale_init=self.scale_init,
                          bias_init=self.bias_init, param_dtype=self.param_dtype,
                          dtype=self.dtype)


class RMSNorm(Module):
    """Divide each example by its root mean square over ``reduction_axes`` (no centering,
    no bias), then scale per feature.

    >>> params, _ = RMSNorm().init(key, fnp.ones((4, 10, 64)))    # scale: (64,)
    >>> y, _ = RMSNorm().apply(params, x)                         # y: (4, 10, 64)
    """

    def __init__(self, epsilon: float = 1e-6, use_scale: bool = True,
                 reduction_axes: Axes = -1, feature_axes: Axes = -1, dtype=None,
                 param_dtype=fnp.float32, scale_init: Callable = initializers.ones,
                 axis_name: str | None = None):
        self.epsilon = _check_epsilon("RMSNorm", epsilon)
        self.use_scale = use_scale
        self.reduction_axes, self.feature_axes = reduction_axes, feature_axes
        self.dtype, self.param_dtype = dtype, param_dtype
        self.scale_init, self.axis_name = scale_init, axis_name

    def __call__(self, x):
        x = fnp.asarray(x)
        reduction_axes = _axes(self.reduction_axes, x.shape)
        feature_axes = _axes(self.feature_axes, x.shape)
        _check_features(self.existing_param("scale"), x, feature_axes)
        mean, var = _statistics(x, reduction_axes, self.dtype, self.axis_name, center=False)
        return _normalize(self, x, mean, var, reduction_axes, feature_axes,
                          epsilon=self.epsilon, use_scale=self.use_scale, use_bias=False,
                          scale_init=self.scale_init, bias_init=None,
                          param_dtype=self.param_dtype, dtype=self.dtype)


class GroupNorm(Module):
    """Split the channels (last axis) into ``num_groups`` groups (or groups of
    ``group_size``) and normalize each group of each example over its channels and the
    ``reduction_axes`` (by default every axis but the first, the batch); then scale and
    shift per channel. ``num_groups=1`` is LayerNorm over all non-batch axes.

    >>> params, _ = GroupNorm(8).init(key, fnp.ones((2, 16, 16, 64)))  # scale, bias: (64,)
    >>> y, _ = GroupNorm(8).apply(params, x)                           # y: (2, 16, 16, 64)
    """

    def __init__(self, num_groups: int | None = 32, group_size: int | None = None,
                 epsilon: float = 1e-6, use_bias: bool = True, use_scale: bool = True,
                 reduction_axes: Axes | None = None, dtype=None, param_dtype=fnp.float32,
                 bias_init: Callable = initializers.zeros,
                 scale_init: Callable = initializers.ones, axis_name: str | None = None):
        if (num_groups is None) == (group_size is None):
            raise ValueError("GroupNorm: give exactly one of num_groups and group_size (pass "
                             "num_groups=None with group_size=, since num_groups defaults "
                             "to 32)")
        for name, v in (("num_groups", num_groups), ("group_size", group_size)):
            if v is not None and int(v) <= 0:
                raise ValueError(f"GroupNorm: {name} must be a positive int, got {v!r}")
        self.num_groups = None if num_groups is None else int(num_groups)
        self.group_size = None if group_size is None else int(group_size)
        self.epsilon = _check_epsilon("GroupNorm", epsilon)
        self.use_bias, self.use_scale, self.reduction_axes = use_bias, use_scale, \
            reduction_axes
        self.dtype, self.param_dtype = dtype, param_dtype
        self.bias_init, self.scale_init, self.axis_name = bias_init, scale_init, axis_name

    def __call__(self, x):
        x = fnp.asarray(x)
        if x.ndim == 0:
            raise ValueError("expected an input with a channel axis, got a scalar")
        axes = (list(range(1, x.ndim - 1)) + [-1] if self.reduction_axes is None
                else self.reduction_axes)
        axes = _axes(axes, x.shape)
        if axes[-1] != x.ndim - 1:
            raise ValueError(f"reduction_axes {self.reduction_axes} must include the last "
                             f"axis (the channels); input shape {tuple(x.shape)}")
        channels = x.shape[-1]
        groups = self.num_groups if self.group_size is None else channels // self.group_size
        if channels % (self.group_size or groups) or groups == 0:
            what = (f"num_groups={self.num_groups}" if self.group_size is None
                    else f"group_size={self.group_size}")
            raise ValueError(f"{what} does not divide the number of channels {channels}; "
                             f"input shape {tuple(x.shape)}")
        _check_features(self.existing_param("scale") if self.use_scale
                        else self.existing_param("bias"), x, (x.ndim - 1,))
        # Channels -> (groups, size): reduce the size axis and the other reduction axes.
        grouped = fnp.reshape(x, x.shape[:-1] + (groups, channels // groups))
        mean, var = _statistics(grouped, axes[:-1] + (x.ndim,), self.dtype, self.axis_name)
        mean = fnp.repeat(mean, channels // groups, axis=-1)
        var = fnp.repeat(var, channels // groups, axis=-1)
        return _normalize(self, x, mean, var, axes[:-1], (x.ndim - 1,),
                          epsilon=self.epsilon, use_scale=self.use_scale,
                          use_bias=self.use_bias, scale_init=self.scale_init,
                          bias_init=self.bias_init, param_dtype=self.param_dtype,
                          dtype=self.dtype)
