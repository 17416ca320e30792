"""Multi-head dot-product attention and its mask helpers, with Flax's names, parameter
layout and numbers (``flax.linen.MultiHeadDotProductAttention``, ``dot_product_attention``,
``make_attention_mask``, ``make_causal_mask``, ``combine_masks``).

Masks are boolean and broadcast to the attention weights' shape
``(batch..., heads, q_len, kv_len)``: True means "may attend".
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

import functorch_lite.numpy as fnp
from functorch_lite import lax, random

from . import initializers
from .activations import softmax
from .module import Module, promote_dtype

__all__ = ["MultiHeadAttention", "dot_product_attention", "make_attention_mask",
           "make_causal_mask", "combine_masks"]


def make_attention_mask(query_input, key_input, pairwise_fn: Callable = fnp.multiply,
                        extra_batch_dims: int = 0, dtype=fnp.bool_):
    """``pairwise_fn(query_input[..., :, None], key_input[..., None, :])`` with a heads
    axis: ``(batch..., q_len)`` and ``(batch..., kv_len)`` -> ``(batch..., 1, q_len,
    kv_len)``, plus ``extra_batch_dims`` leading axes of size 1. Unlike Flax (float32 by
    default) the mask is boolean unless ``dtype`` says otherwise.

    >>> pad = tokens != 0                              # (batch, length)
    >>> mask = make_attention_mask(pad, pad)           # (batch, 1, length, length)
    """
    mask = pairwise_fn(fnp.expand_dims(query_input, -1), fnp.expand_dims(key_input, -2))
    mask = fnp.expand_dims(mask, -3)
    mask = fnp.reshape(mask, (1,) * extra_batch_dims + tuple(mask.shape))
    return mask.astype(dtype)


def make_causal_mask(x, extra_batch_dims: int = 0, dtype=fnp.bool_):
    """Position ``i`` may attend to ``j <= i``: a ``(batch..., length)`` array (only its
    shape is used) -> ``(batch..., 1, length, length)``, boolean by default (Flax: float).

    >>> make_causal_mask(fnp.zeros((2, 4))).shape
    (2, 1, 4, 4)
    """
    shape = tuple(fnp.shape(x))
    positions = fnp.broadcast_to(fnp.arange(shape[-1], dtype=fnp.int32), shape)
    return make_attention_mask(positions, positions, fnp.greater_equal,
                               extra_batch_dims=extra_batch_dims, dtype=dtype)


def combine_masks(*masks, dtype=fnp.bool_):
    """Logical AND of the masks that are not None (None if all are); they must have the
    same rank. Boolean by default (Flax: float32)."""
    present = [m for m in masks if m is not None]
    if not present:
        return None
    ranks = [fnp.ndim(m) for m in present]
    if len(set(ranks)) != 1:
        raise ValueError(f"combine_masks: masks must have the same rank, got shapes "
                         f"{[tuple(fnp.shape(m)) for m in present]}")
    out = present[0]
    for m in present[1:]:
        out = fnp.logical_and(out, m)
    return fnp.asarray(out).astype(dtype)


def _check_qkv(query, key, value) -> None:
    shapes = f"query {tuple(query.shape)}, key {tuple(key.shape)}, value {tuple(value.shape)}"
    if not query.ndim == key.ndim == value.ndim or query.ndim < 3:
        raise ValueError(f"dot_product_attention: query, key and value must have the same "
                         f"rank >= 3, (batch..., length, heads, head_dim); got {shapes}")
    if not query.shape[:-3] == key.shape[:-3] == value.shape[:-3]:
        raise ValueError(f"dot_product_attention: batch axes differ: {shapes}")
    if not query.shape[-2] == key.shape[-2] == value.shape[-2]:
        raise ValueError(f"dot_product_attention: numbers of heads differ: {shapes}")
    if query.shape[-1] != key.shape[-1] or key.shape[-3] != value.shape[-3]:
        raise ValueError(f"dot_product_attention: query and key need the same head_dim, "
                         f"key and value the same length: {shapes}")


def dot_product_attention(query, key, value, mask=None, *, bias=None,
                          broadcast_dropout: bool = True, dropout_rng=None,
                          dropout_rate: float = 0.0, deterministic: bool = False, dtype=None,
                          precision=None):
    """``softmax(query @ key^T / sqrt(head_dim) + bias, masked) @ value`` per head.

    Shapes (Flax's): query ``(batch..., q_len, heads, head_dim)``, key ``(batch...,
    kv_len, heads, head_dim)``, value ``(batch..., kv_len, heads, v_dim)``; ``mask``
    (True = attend) and ``bias`` broadcast to ``(batch..., heads, q_len, kv_len)``; the
    result is ``(batch..., q_len, heads, v_dim)``. ``bias`` is keyword-only (it comes
    before ``mask`` in Flax's positional order). The softmax runs in float32 even for
    bfloat16 inputs; a fully masked row attends uniformly (as Flax). Dropout on the
    weights when ``dropout_rate > 0`` and not ``deterministic`` (needs ``dropout_rng``);
    ``broadcast_dropout`` shares one mask across batch and heads.

    >>> out = dot_product_attention(q, k, v, mask=make_causal_mask(tokens))
    """
    use_dropout = dropout_rate > 0.0 and not deterministic
    if use_dropout and dropout_rng is None:
        raise ValueError("dot_product_attention: dropout_rate > 0 and not deterministic "
                         "needs dropout_rng= (a random key)")
    query, key, value = promote_dtype(query, key, value, dtype=dtype)
    _check_qkv(query, key, value)
    dtype = query.dtype
    # Scale the query (fewer multiplies than scaling the logits), as Flax does, so the
    # numbers round the same way as Flax's.
    query = query / fnp.asarray(np.sqrt(query.shape[-1]), dtype)
    # Heads in front of positions, then batched matrix products: XLA:CPU runs these
    # faster than the same contraction written as an einsum over the (q, h, d) layout.
    query, key, value = (fnp.swapaxes(a, -2, -3) for a in (query, key, value))
    logits = fnp.matmul(query, fnp.swapaxes(key, -1, -2), precision=precision)
    if bias is not None:
        logits = logits + bias
    # Half-precision softmax loses too much; compute it in (at least) float32.
    soft_dtype = fnp.promote_types(dtype, fnp.float32)
    logits = logits.astype(soft_dtype)
    if mask is not None:
        mask = fnp.asarray(mask)
        try:
            fits = np.broadcast_shapes(tuple(mask.shape), tuple(logits.shape)) == \
                tuple(logits.shape)
        except ValueError:
            fits = False
        if not fits:
            raise ValueError(f"mask of shape {tuple(mask.shape)} does not broadcast to the "
                             f"attention weights' shape (batch..., heads, q_len, kv_len) = "
                             f"{tuple(logits.shape)}")
        if mask.dtype != fnp.bool_:
            mask = mask != 0                  # Flax's rule for float masks: nonzero attends
        logits = fnp.where(mask, logits, fnp.finfo(soft_dtype).min)
    weights = softmax(logits).astype(dtype)
    if use_dropout:
        keep_prob = 1.0 - dropout_rate
        shape = ((1,) * (weights.ndim - 2) + tuple(weights.shape[-2:])
                 if broadcast_dropout else tuple(weights.shape))
        keep = random.bernoulli(dropout_rng, keep_prob, shape)
        weights = weights * (keep.astype(dtype) / fnp.asarray(keep_prob, dtype))
    return fnp.swapaxes(fnp.matmul(weights, value, precision=precision), -2, -3)


class DenseGeneral(Module):
    """Internal projection of the attention layer: contracts the last ``n_in`` axes of
    ``x`` with a kernel ``(*x.shape[-n_in:], *features)``, plus a bias ``features``. The
    initializers see the kernel flattened to 2-D, as Flax's ``DenseGeneral`` does, so
    fan-in and fan-out are those of the equivalent Dense layer."""

    def __init__(self, use_bias, dtype, param_dtype, precision, kernel_init, bias_init):
        self.use_bias, self.dtype, self.param_dtype = use_bias, dtype, param_dtype
        self.precision, self.kernel_init, self.bias_init = precision, kernel_init, bias_init

    def __call__(self, x, features: tuple, n_in: int = 1):
        in_shape = tuple(x.shape[x.ndim - n_in:])
        old = self.existing_param("kernel")
        if old is not None and tuple(old.shape[:n_in]) != in_shape:
            size = lambda s: s[0] if len(s) == 1 else s      # noqa: E731
            raise ValueError(f"expected input feature size {size(tuple(old.shape[:n_in]))},"
                             f" got {size(in_shape)}; input shape {tuple(x.shape)}")

        def drawn_flat(init, flat_shape):
            return lambda key, shape, dtype: fnp.reshape(init(key, flat_shape, dtype), shape)

        kshape, n_out = in_shape + tuple(features), math.prod(features)
        kernel = self.param("kernel", drawn_flat(self.kernel_init,
                                                 (math.prod(in_shape), n_out)),
                            kshape, self.param_dtype)
        bias = (self.param("bias", drawn_flat(self.bias_init, (n_out,)), features,
                           self.param_dtype) if self.use_bias else None)
        x, kernel, bias = promote_dtype(x, kernel, bias, dtype=self.dtype)
        axes = tuple(range(x.ndim - n_in, x.ndim))
        y = lax.dot_general(x, kernel, ((axes, tuple(range(n_in))), ((), ())),
                            precision=self.precision)
        return y if bias is None else y + bias


class QKLayerNorm(Module):
    """LayerNorm over head_dim without a bias (Flax's ``query_ln``/``key_ln``): statistics
    in float32, epsilon 1e-6, param ``scale`` ``(head_dim,)``."""

    def __init__(self, dtype, param_dtype):
        self.dtype, self.param_dtype = dtype, param_dtype

    def __call__(self, x):
        scale = self.param("scale", initializers.ones, (x.shape[-1],), self.param_dtype)
        out_dtype = fnp.result_type(x, scale) if self.dtype is None else self.dtype
        x32 = x.astype(fnp.promote_types(x.dtype, fnp.float32))
        mean = fnp.mean(x32, axis=-1, keepdims=True)
        var = fnp.maximum(fnp.mean(x32 * x32, axis=-1, keepdims=True) - mean * mean, 0.0)
        y = (x32 - mean) * (lax.rsqrt(var + 1e-6) * scale)
        return y.astype(out_dtype)


class MultiHeadAttention(Module):
    """Multi-head dot-product attention (Flax's ``MultiHeadDotProductAttention``).

    Called ``(inputs_q, inputs_kv=None, mask=None, deterministic=None)``: ``inputs_q``
    ``(batch..., q_len, features)``, ``inputs_kv`` ``(batch..., kv_len, kv_features)``
    (None: self-attention), a boolean ``mask`` broadcasting to ``(batch..., num_heads,
    q_len, kv_len)`` (True = attend; see ``make_attention_mask``, ``make_causal_mask``).
    Output ``(batch..., q_len, out_features or features)``. Parameters as Flax's:
    ``query``/``key``/``value`` kernels ``(in, heads, head_dim)`` with biases
    ``(heads, head_dim)``; ``out`` kernel ``(heads, head_dim, out)``, bias ``(out,)``;
    ``head_dim = qkv_features // num_heads`` (``qkv_features`` defaults to the query's
    features). ``dropout`` (alias ``dropout_rate``) drops attention weights when
    training (``apply(..., train=True, rng=key)``) or when called with
    ``deterministic=False``.

    >>> mha = MultiHeadAttention(num_heads=4, qkv_features=64)
    >>> params, _ = mha.init(key, x)                       # x: (batch, length, 32)
    >>> y, _ = mha.apply(params, x, mask=make_causal_mask(x[..., 0]))   # (batch, length, 32)
    """

    def __init__(self, num_heads: int, qkv_features: int | None = None,
                 out_features: int | None = None, dropout: float = 0.0, *,
                 dropout_rate: float | None = None, use_bias: bool = True, dtype=None,
                 param_dtype=fnp.float32, precision=None,
                 kernel_init: Callable = initializers.lecun_normal(),
                 bias_init: Callable = initializers.zeros, broadcast_dropout: bool = True,
                 normalize_qk: bool = False):
        if int(num_heads) <= 0:
            raise ValueError(f"MultiHeadAttention: num_heads must be a positive int, got "
                             f"{num_heads!r}")
        for name, v in (("qkv_features", qkv_features), ("out_features", out_features)):
            if v is not None and int(v) <= 0:
                raise ValueError(f"MultiHeadAttention: {name} must be a positive int or "
                                 f"None, got {v!r}")
        if dropout_rate is not None:
            if dropout not in (0.0, dropout_rate):
                raise ValueError(f"MultiHeadAttention: got dropout={dropout} and "
                                 f"dropout_rate={dropout_rate}; give one of them")
            dropout = dropout_rate
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"MultiHeadAttention: dropout is the probability of dropping "
                             f"a weight and must be in [0, 1), got {dropout!r}")
        self.num_heads = int(num_heads)
        self.qkv_features = None if qkv_features is None else int(qkv_features)
        self.out_features = None if out_features is None else int(out_features)
        self.dropout, self.broadcast_dropout = float(dropout), broadcast_dropout
        self.dtype, self.precision, self.normalize_qk = dtype, precision, normalize_qk
        args = (use_bias, dtype, param_dtype, precision, kernel_init, bias_init)
        self.query, self.key, self.value = (DenseGeneral(*args), DenseGeneral(*args),
                                            DenseGeneral(*args))
        if normalize_qk:
            self.query_ln = QKLayerNorm(dtype, param_dtype)
            self.key_ln = QKLayerNorm(dtype, param_dtype)
        self.out = DenseGeneral(*args)

    @property
    def dropout_rate(self) -> float:
        return self.dropout

    def __call__(self, inputs_q, inputs_kv=None, mask=None, *, deterministic=None):
        inputs_q = fnp.asarray(inputs_q)
        inputs_kv = inputs_q if inputs_kv is None else fnp.asarray(inputs_kv)
        if inputs_q.ndim < 2 or inputs_kv.ndim < 2:
            raise ValueError(f"expected inputs of shape (batch..., length, features), got "
                             f"inputs_q {tuple(inputs_q.shape)} and inputs_kv "
                             f"{tuple(inputs_kv.shape)}")
        if inputs_q.shape[:-2] != inputs_kv.shape[:-2]:
            raise ValueError(f"inputs_q and inputs_kv must share their batch axes, got "
                             f"shapes {tuple(inputs_q.shape)} and {tuple(inputs_kv.shape)}")
        qkv_features = self.qkv_features or inputs_q.shape[-1]
        if qkv_features % self.num_heads:
            raise ValueError(f"qkv_features ({qkv_features}) must be divisible by "
                             f"num_heads ({self.num_heads}); input shape "
                             f"{tuple(inputs_q.shape)}")
        heads = (self.num_heads, qkv_features // self.num_heads)
        query = self.query(inputs_q, heads)
        key = self.key(inputs_kv, heads)
        value = self.value(inputs_kv, heads)
        if self.normalize_qk:
            query, key = self.query_ln(query), self.key_ln(key)
        if deterministic is None:
            deterministic = not self.is_training
        use_dropout = self.dropout > 0.0 and not deterministic
        x = dot_product_attention(query, key, value, mask=mask,
                                  broadcast_dropout=self.broadcast_dropout,
                                  dropout_rng=self.make_rng() if use_dropout else None,
                                  dropout_rate=self.dropout, deterministic=not use_dropout,
                                  dtype=self.dtype, precision=self.precision)
        features = self.out_features or inputs_q.shape[-1]
        return self.out(x, (features,), n_in=2)
