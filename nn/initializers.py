"""Parameter initializers with ``jax.nn.initializers``' names and numbers.

Each public function returns an initializer ``init(key, shape, dtype=float32) -> Array``.
Since ``functorch_lite.random`` is bit-compatible with ``jax.random``, the same key gives
the same parameters as JAX (orthogonal matrices up to float rounding of the QR step).

>>> init = glorot_uniform()
>>> init(random.PRNGKey(0), (64, 32)).shape
(64, 32)
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

import functorch_lite.numpy as fnp
from functorch_lite import lax, random

__all__ = ["zeros", "ones", "constant", "normal", "uniform", "truncated_normal",
           "variance_scaling", "glorot_normal", "glorot_uniform", "xavier_normal",
           "xavier_uniform", "he_normal", "he_uniform", "kaiming_normal", "kaiming_uniform",
           "lecun_normal", "lecun_uniform", "orthogonal"]

_DEFAULT = fnp.float32


def zeros(key, shape, dtype=_DEFAULT):
    """All zeros (``key`` is ignored)."""
    return fnp.zeros(shape, dtype)


def ones(key, shape, dtype=_DEFAULT):
    """All ones (``key`` is ignored)."""
    return fnp.ones(shape, dtype)


def constant(value, dtype=_DEFAULT):
    """Every entry ``value``."""
    def init(key, shape, dtype=dtype):
        return fnp.full(shape, value, dtype)
    return init


def normal(stddev=1e-2, dtype=_DEFAULT):
    """N(0, stddev^2) draws."""
    def init(key, shape, dtype=dtype):
        return random.normal(key, shape, dtype) * fnp.asarray(stddev, dtype)
    return init


def uniform(scale=1e-2, dtype=_DEFAULT):
    """U[0, scale) draws."""
    def init(key, shape, dtype=dtype):
        return random.uniform(key, shape, dtype) * fnp.asarray(scale, dtype)
    return init


def truncated_normal(stddev=1e-2, dtype=_DEFAULT, lower=-2.0, upper=2.0):
    """A standard normal truncated to [lower, upper], times ``stddev``."""
    def init(key, shape, dtype=dtype):
        return random.truncated_normal(key, lower, upper, shape, dtype) * \
            fnp.asarray(stddev, dtype)
    return init


def _axes(axis, ndim) -> tuple[int, ...]:
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return tuple(a % ndim for a in axes)


def _fans(shape: Sequence[int], in_axis, out_axis, batch_axis) -> tuple[float, float]:
    """Effective fan-in and fan-out: the in/out axes times the receptive field (every axis
    that is neither in, out nor batch, e.g. a convolution's window)."""
    if len(shape) < 2 and in_axis == -2:
        raise ValueError(f"cannot compute fan-in and fan-out of a {len(shape)}-D weight "
                         f"{tuple(shape)} with the default in_axis=-2; give in_axis")
    ndim = len(shape)
    ins, outs, batch = (_axes(in_axis, ndim), _axes(out_axis, ndim),
                        _axes(batch_axis, ndim))
    in_size = math.prod(shape[a] for a in ins)
    out_size = math.prod(shape[a] for a in outs)
    batch_size = math.prod(shape[a] for a in batch)
    receptive = math.prod(shape) / max(in_size * out_size * batch_size, 1)
    return in_size * receptive, out_size * receptive


def variance_scaling(scale, mode: str, distribution: str, in_axis=-2, out_axis=-1,
                     batch_axis=(), dtype=_DEFAULT):
    """Draws with variance ``scale / n``, ``n`` the fan-in, fan-out or their average
    (``mode`` "fan_in", "fan_out", "fan_avg", "fan_geo_avg"), from ``distribution``
    "truncated_normal", "normal" or "uniform" (as ``jax.nn.initializers``)."""
    if mode not in ("fan_in", "fan_out", "fan_avg", "fan_geo_avg"):
        raise ValueError(f"variance_scaling: invalid mode {mode!r}; use 'fan_in', "
                         f"'fan_out', 'fan_avg' or 'fan_geo_avg'")
    if distribution not in ("truncated_normal", "normal", "uniform"):
        raise ValueError(f"variance_scaling: invalid distribution {distribution!r}; use "
                         f"'truncated_normal', 'normal' or 'uniform'")

    def init(key, shape, dtype=dtype):
        shape = tuple(shape)
        fan_in, fan_out = _fans(shape, in_axis, out_axis, batch_axis)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2,
             "fan_geo_avg": (fan_in * fan_out) ** 0.5}[mode]
        variance = fnp.asarray(scale / n, dtype)
        if distribution == "truncated_normal":
            # 0.8796... is the standard deviation of a unit normal truncated to (-2, 2).
            stddev = fnp.sqrt(variance) / fnp.asarray(.87962566103423978, dtype)
            return random.truncated_normal(key, -2, 2, shape, dtype) * stddev
        if distribution == "normal":
            return random.normal(key, shape, dtype) * fnp.sqrt(variance)
        return random.uniform(key, shape, dtype, -1) * fnp.sqrt(3 * variance)
    return init


def glorot_uniform(in_axis=-2, out_axis=-1, batch_axis=(), dtype=_DEFAULT):
    return variance_scaling(1.0, "fan_avg", "uniform", in_axis, out_axis, batch_axis, dtype)


def glorot_normal(in_axis=-2, out_axis=-1, batch_axis=(), dtype=_DEFAULT):
    return variance_scaling(1.0, "fan_avg", "truncated_normal", in_axis, out_axis,
                            batch_axis, dtype)


def lecun_uniform(in_axis=-2, out_axis=-1, batch_axis=(), dtype=_DEFAULT):
    return variance_scaling(1.0, "fan_in", "uniform", in_axis, out_axis, batch_axis, dtype)


def lecun_normal(in_axis=-2, out_axis=-1, batch_axis=(), dtype=_DEFAULT):
    return variance_scaling(1.0, "fan_in", "truncated_normal", in_axis, out_axis,
                            batch_axis, dtype)


def he_uniform(in_axis=-2, out_axis=-1, batch_axis=(), dtype=_DEFAULT):
    return variance_scaling(2.0, "fan_in", "uniform", in_axis, out_axis, batch_axis, dtype)


def he_normal(in_axis=-2, out_axis=-1, batch_axis=(), dtype=_DEFAULT):
    return variance_scaling(2.0, "fan_in", "truncated_normal", in_axis, out_axis,
                            batch_axis, dtype)


xavier_uniform, xavier_normal = glorot_uniform, glorot_normal
kaiming_uniform, kaiming_normal = he_uniform, he_normal


def _orthonormal_columns(a):
    """Q of the QR decomposition of the tall matrix ``a`` (m >= n), signs chosen so that
    R's diagonal is positive, by Householder reflections in a ``fori_loop`` (the library
    has no QR primitive yet; this runs once per initialization)."""
    m, n = a.shape
    rows = lax.broadcasted_iota(np.int32, (m,), 0)

    def reflect(i, carry):
        r, q = carry
        col = fnp.where(rows >= i, lax.dynamic_slice(r, (0, i), (m, 1))[:, 0], 0.0)
        head = lax.dynamic_slice(col, (i,), (1,))[0]
        alpha = -fnp.where(head >= 0, 1.0, -1.0) * fnp.sqrt(fnp.sum(col * col))
        v = col - fnp.where(rows == i, alpha, 0.0)
        v = v / fnp.maximum(fnp.sqrt(fnp.sum(v * v)), np.finfo(np.float32).tiny)
        r = r - 2.0 * fnp.outer(v, v @ r)
        q = q - 2.0 * fnp.outer(q @ v, v)
        return r, q

    r, q = lax.fori_loop(0, n, reflect, (a, fnp.eye(m, dtype=a.dtype)))
    diag = fnp.diagonal(r[:n, :n])
    return q[:, :n] * fnp.where(diag >= 0, 1.0, -1.0)


def orthogonal(scale=1.0, column_axis=-1, dtype=_DEFAULT):
    """A (scaled) matrix with orthonormal rows or columns: the Q of a QR decomposition of a
    normal draw, reshaped, with ``column_axis`` holding the columns (as JAX's)."""
    def init(key, shape, dtype=dtype):
        shape = tuple(shape)
        if len(shape) < 2:
            raise ValueError(f"orthogonal initializer needs at least 2 dimensions, got "
                             f"shape {shape}")
        n_cols = shape[column_axis]
        n_rows = math.prod(shape) // n_cols
        wide = n_rows < n_cols
        a = random.normal(key, (n_cols, n_rows) if wide else (n_rows, n_cols), fnp.float32)
        q = _orthonormal_columns(a).T if wide else _orthonormal_columns(a)
        q = fnp.reshape(q, tuple(np.delete(shape, column_axis % len(shape))) + (n_cols,))
        q = fnp.moveaxis(q, -1, column_axis)
        return (q * scale).astype(dtype)
    return init
