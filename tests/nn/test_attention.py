"""nn.MultiHeadAttention and the attention helpers against flax.linen (parameters copied
across), torch's scaled_dot_product_attention, and NumPy loops for the masks."""
import jax
import jax.numpy as jnp
import flax.linen as fnn
import numpy as np
import pytest
import torch

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite import nn, random
from functorch_lite.nn.attention import (MultiHeadAttention, combine_masks,
                                         dot_product_attention, make_attention_mask,
                                         make_causal_mask)
from flax_compare import close, shapes, to_jax

KEY = random.PRNGKey(0)
B, LQ, LK, F, FK = 2, 5, 7, 8, 6


def _close(got, want, rtol=1e-5, atol=1e-5):
    close(got, want, rtol, atol)


def _normal(seed, shape):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


# Padding: the first query sequence has 3 real tokens, the second key sequence 4.
PAD_Q = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
PAD_K = np.array([[1] * 7, [1] * 4 + [0] * 3], bool)


def _mask(kind, cross):
    if kind is None:
        return None
    pad = make_attention_mask(PAD_Q, PAD_K if cross else PAD_Q)
    causal = make_causal_mask(PAD_Q)
    return {"padding": lambda: pad, "causal": lambda: causal,
            "both": lambda: combine_masks(pad, causal)}[kind]()


CASES = [  # (cross, mask, options)
    (False, "padding", {"qkv_features": 12}),
    (False, "causal", {"num_heads": 4, "out_features": 3}),
    (False, "both", {"use_bias": False}),
    (True, None, {"out_features": 5}),
    (True, "padding", {"qkv_features": 12, "normalize_qk": True}),
]


def _pair(options):
    options = dict({"num_heads": 2}, **options)
    return MultiHeadAttention(**options), fnn.MultiHeadDotProductAttention(**options)


@pytest.mark.parametrize("cross,mask_kind,options", CASES)
def test_forward_and_grads_match_flax(cross, mask_kind, options):
    ours, theirs = _pair(options)
    x, kv = _normal(0, (B, LQ, F)), (_normal(1, (B, LK, FK)) if cross else None)
    mask = _mask(mask_kind, cross)
    args = (x,) if kv is None else (x, kv)
    params, state = ours.init(KEY, *args)
    # Shapes only: eval_shape traces Flax's init without running it.
    flax_params = jax.eval_shape(theirs.init, jax.random.PRNGKey(0), *args)["params"]
    assert state == {} and shapes(params) == shapes(flax_params)
    jmask = None if mask is None else np.asarray(mask)

    # The output and the gradients with respect to every input and every parameter, each
    # side under one jit (one compile per case keeps the file fast; eager apply is checked
    # in test_jit_and_per_example_vmap).
    w = _normal(2, (B, LQ, options.get("out_features", F)))

    def loss(p, *a):
        y = ours.apply(p, *a, mask=mask)[0]
        return fnp.sum(y * w), y

    def flax_loss(p, *a):
        y = theirs.apply({"params": p}, *a, mask=jmask)
        return jnp.sum(y * w), y

    argnums = tuple(range(len(args) + 1))
    (_, y), got = fl.jit(fl.value_and_grad(loss, argnums, has_aux=True))(params, *args)
    (_, want), ref = jax.jit(jax.value_and_grad(flax_loss, argnums, has_aux=True))(
        to_jax(params), *args)
    _close(y, want, 1e-5, 1e-5)
    got_leaves = jax.tree_util.tree_leaves(to_jax(got))
    ref_leaves = jax.tree_util.tree_leaves(ref)
    assert len(got_leaves) == len(ref_leaves) == len(args) + len(fl.tree.leaves(params))
    for a, b in zip(got_leaves, ref_leaves):
        _close(a, b, 1e-4, 1e-5)


def test_bfloat16_compute_matches_flax_loosely():
    ours, theirs = _pair({"dtype": fnp.bfloat16})[0], _pair({"dtype": jnp.bfloat16})[1]
    x, mask = _normal(3, (B, LQ, F)), _mask("both", False)
    params, _ = ours.init(KEY, x)
    assert all(np.dtype(p.dtype) == np.float32 for p in fl.tree.leaves(params))

    def loss(p):
        y = ours.apply(p, x, mask=mask)[0]
        return fnp.sum(y.astype(fnp.float32)), y

    def flax_loss(p):
        y = theirs.apply({"params": p}, x, mask=np.asarray(mask))
        return jnp.sum(y.astype(jnp.float32)), y

    (_, y), g = fl.jit(fl.value_and_grad(loss, has_aux=True))(params)
    (_, want), w = jax.jit(jax.value_and_grad(flax_loss, has_aux=True))(to_jax(params))
    assert np.dtype(y.dtype) == jnp.bfloat16
    _close(y, want, 5e-2, 5e-2)
    # ...and close to the float32 answer.
    y32, _ = fl.jit(lambda p: _pair({})[0].apply(p, x, mask=mask))(params)
    _close(y, y32, 5e-2, 5e-2)
    for a, b in zip(jax.tree_util.tree_leaves(to_jax(g)), jax.tree_util.tree_leaves(w)):
        assert a.dtype == jnp.float32
        _close(a, b, 0.1, 0.1)


def test_projection_init_uses_flax_fan_in():
    """Flax draws each DenseGeneral kernel as its flattened 2-D matrix: the query kernel
    (in, heads, head_dim) has fan-in `in`, the out kernel (heads, head_dim, out) has fan-in
    heads * head_dim (lecun_normal: std 1/sqrt(fan_in))."""
    params, _ = MultiHeadAttention(4, qkv_features=64).init(KEY, np.zeros((1, 2, 256)))
    assert abs(np.std(np.asarray(params["query"]["kernel"])) * 16 - 1) < 0.05
    assert abs(np.std(np.asarray(params["out"]["kernel"])) * 8 - 1) < 0.05
    assert not np.any(np.asarray(params["value"]["bias"]))


@pytest.mark.parametrize("heads,head_dim", [(1, 8), (3, 4)])
def test_core_matches_torch_sdpa_with_boolean_mask(heads, head_dim):
    q = _normal(4, (B, LQ, heads, head_dim))
    k, v = _normal(5, (B, LK, heads, head_dim)), _normal(6, (B, LK, heads, 3))
    mask = np.random.default_rng(7).random((B, heads, LQ, LK)) < 0.7
    mask[..., 0] = True                       # no fully masked row (torch gives NaN there)
    got = dot_product_attention(q, k, v, mask=mask)
    t = [torch.from_numpy(a).transpose(1, 2) for a in (q, k, v)]    # (batch, heads, len, d)
    want = torch.nn.functional.scaled_dot_product_attention(*t, attn_mask=torch.from_numpy(
        mask)).transpose(1, 2).numpy()
    _close(got, want, 1e-5, 1e-5)
    # Without a mask, and with a mask that broadcasts over heads.
    want = torch.nn.functional.scaled_dot_product_attention(*t).transpose(1, 2).numpy()
    _close(dot_product_attention(q, k, v), want, 1e-5, 1e-5)
    _close(dot_product_attention(q, k, v, mask=mask[:, :1]),
           torch.nn.functional.scaled_dot_product_attention(
               *t, attn_mask=torch.from_numpy(mask[:, :1])).transpose(1, 2).numpy(),
           1e-5, 1e-5)


def test_masks_match_numpy_loops():
    rng = np.random.default_rng(8)
    q_tok, k_tok = rng.integers(0, 3, (2, 4)), rng.integers(0, 3, (2, 6))
    mask = np.asarray(make_attention_mask(q_tok > 0, k_tok > 0))
    ref = np.zeros((2, 1, 4, 6), bool)
    for b in range(2):
        for i in range(4):
            for j in range(6):
                ref[b, 0, i, j] = q_tok[b, i] > 0 and k_tok[b, j] > 0
    assert mask.dtype == np.bool_ and (mask == ref).all()
    # Another pairwise function, extra batch axes and a float dtype.
    eq = np.asarray(make_attention_mask(q_tok, k_tok, fnp.equal, extra_batch_dims=2,
                                        dtype=fnp.float32))
    ref = np.zeros((1, 1, 2, 1, 4, 6), np.float32)
    for b in range(2):
        for i in range(4):
            for j in range(6):
                ref[0, 0, b, 0, i, j] = float(q_tok[b, i] == k_tok[b, j])
    assert eq.dtype == np.float32 and (eq == ref).all()
    causal = np.asarray(make_causal_mask(np.zeros((3, 5)), extra_batch_dims=1))
    ref = np.zeros((1, 3, 1, 5, 5), bool)
    for i in range(5):
        for j in range(5):
            ref[..., i, j] = j <= i
    assert causal.dtype == np.bool_ and (causal == ref).all()
    both = np.asarray(combine_masks(None, make_causal_mask(q_tok), mask[..., :4], None))
    assert (both == (ref[0, :2, :, :4, :4] & mask[..., :4])).all()
    assert combine_masks(None, None) is None
    # Flax agrees (with its float default spelled out).
    _close(make_causal_mask(q_tok), fnn.make_causal_mask(jnp.asarray(q_tok)))
    with pytest.raises(ValueError, match=r"same rank, got shapes \[\(2, 1, 4, 6\), \(4, 6\)"):
        combine_masks(mask, mask[0, 0])


def test_dropout_on_attention_weights():
    mha = MultiHeadAttention(2, dropout=0.5)
    x = _normal(9, (B, LQ, F))
    params, _ = mha.init(KEY, x)
    plain = MultiHeadAttention(2).apply(params, x)[0]
    _close(mha.apply(params, x)[0], plain, 0, 0)                        # eval: identity
    _close(mha.apply(params, x, rng=KEY, train=True, deterministic=True)[0], plain, 0, 0)
    a = mha.apply(params, x, rng=KEY, train=True)[0]
    b = mha.apply(params, x, rng=KEY, train=True)[0]
    c = mha.apply(params, x, rng=random.PRNGKey(1), train=True)[0]
    _close(a, b, 0, 0)
    assert np.abs(np.asarray(a) - np.asarray(plain)).max() > 1e-3
    assert np.abs(np.asarray(a) - np.asarray(c)).max() > 1e-3
    _close(mha.apply(params, x, rng=KEY, deterministic=False)[0], a, 0, 0)
    with pytest.raises(ValueError, match=r"MultiHeadAttention: .*pass rng="):
        mha.apply(params, x, train=True)
    with pytest.raises(ValueError, match="rng="):
        mha.apply(params, x, deterministic=False)
    assert MultiHeadAttention(2, dropout_rate=0.25).dropout == 0.25
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        MultiHeadAttention(2, dropout=1.0)


@pytest.mark.parametrize("broadcast", [True, False])
def test_core_dropout_matches_flax_bit_for_bit(broadcast):
    q = _normal(10, (B, LQ, 2, 4))
    k, v = _normal(11, (B, LK, 2, 4)), _normal(12, (B, LK, 2, 4))
    mask = np.asarray(make_attention_mask(PAD_Q, PAD_K))
    kw = dict(mask=mask, dropout_rate=0.3, broadcast_dropout=broadcast)
    got = fl.jit(lambda *a: dot_product_attention(*a, dropout_rng=random.PRNGKey(3), **kw))(
        q, k, v)
    want = jax.jit(lambda *a: fnn.dot_product_attention(
        *a, dropout_rng=jax.random.PRNGKey(3), **kw))(q, k, v)
    _close(got, want, 1e-5, 1e-5)
    with pytest.raises(ValueError, match="dropout_rng="):
        dot_product_attention(q, k, v, dropout_rate=0.3)


def test_jit_and_per_example_vmap():
    mha = MultiHeadAttention(2, qkv_features=12)
    x, kv = _normal(13, (B, LQ, F)), _normal(14, (B, LK, FK))
    mask = make_attention_mask(PAD_Q, PAD_K)
    params, _ = mha.init(KEY, x, kv)
    want = mha.apply(params, x, kv, mask)[0]
    _close(fl.jit(lambda p, a, b, m: mha.apply(p, a, b, m)[0])(params, x, kv, mask), want)
    # Per example: (length, features) inputs and a (1, q_len, kv_len) mask.
    per = fl.vmap(lambda a, b, m: mha.apply(params, a, b, m)[0])(x, kv, mask)
    _close(per, want)
    params, _ = mha.init(KEY, x)
    causal = fl.vmap(lambda a: mha.apply(params, a, mask=make_causal_mask(a[:, 0]))[0])(x)
    _close(causal, mha.apply(params, x, mask=make_causal_mask(x[..., 0]))[0])


def test_bad_inputs_raise_clear_errors():
    x = _normal(15, (B, LQ, F))
    with pytest.raises(ValueError, match=r"MultiHeadAttention: qkv_features \(9\) must be "
                                         r"divisible by num_heads \(2\)"):
        MultiHeadAttention(2, qkv_features=9).init(KEY, x)
    with pytest.raises(ValueError, match=r"qkv_features \(8\) .* num_heads \(3\)"):
        MultiHeadAttention(3).init(KEY, x)
    mha = MultiHeadAttention(2)
    params, _ = mha.init(KEY, x)
    with pytest.raises(ValueError, match=r"MultiHeadAttention\.query \(DenseGeneral\): "
                                         r"expected input feature size 8, got 6; input "
                                         r"shape \(2, 5, 6\)"):
        mha.apply(params, x[..., :6])
    with pytest.raises(ValueError, match=r"MultiHeadAttention\.key .* expected input feature"
                                         r" size 8, got 6; input shape \(2, 7, 6\)"):
        mha.apply(params, x, _normal(16, (B, LK, 6)))
    with pytest.raises(ValueError, match=r"batch axes, got shapes \(2, 5, 8\) and "
                                         r"\(3, 7, 8\)"):
        mha.apply(params, x, _normal(16, (3, LK, F)))
    with pytest.raises(ValueError, match=r"mask of shape \(2, 1, 5, 4\) does not broadcast "
                                         r"to .* \(2, 2, 5, 5\)"):
        mha.apply(params, x, mask=np.ones((2, 1, 5, 4), bool))
    model = nn.Sequential([nn.Dense(F), MultiHeadAttention(2, qkv_features=5)])
    with pytest.raises(ValueError, match=r"Sequential\[1\] \(MultiHeadAttention\): "
                                         r"qkv_features \(5\)"):
        model.init(KEY, x)
