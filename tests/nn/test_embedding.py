"""nn.Embedding against flax.linen.Embed (parameters copied across): lookups, attend,
gradients with respect to the table and the query, tied use inside a parent, errors."""
import jax
import jax.numpy as jnp
import flax.linen as fnn
import numpy as np
import pytest

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite import nn, random
from functorch_lite.nn.embedding import Embedding, default_embed_init
from flax_compare import close, shapes, to_jax

KEY = random.PRNGKey(0)


def _close(got, want, rtol=1e-6, atol=1e-6):
    close(got, want, rtol, atol)


def _ids(seed, shape, n):
    # Negative ids count from the end in both libraries.
    return np.random.default_rng(seed).integers(-n, n, shape).astype(np.int32)


def test_param_shape_matches_flax_and_init_draws_the_same_numbers():
    ids = _ids(0, (3, 4), 11)
    params, state = Embedding(11, 6).init(KEY, ids)
    theirs = jax.eval_shape(fnn.Embed(11, 6).init, jax.random.PRNGKey(0), ids)["params"]
    assert state == {} and shapes(params) == shapes(theirs) == {"embedding": (11, 6)}
    # The default initializer is Flax's (fl.random is bit-compatible with jax.random).
    ours = default_embed_init(random.PRNGKey(3), (50, 16), fnp.float32)
    _close(ours, fnn.Embed(50, 16).embedding_init(jax.random.PRNGKey(3), (50, 16)),
           rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("shape", [(7,), (2, 3, 4), ()])
@pytest.mark.parametrize("dtype", [None, fnp.bfloat16])
def test_lookup_and_attend_match_flax(shape, dtype):
    n, f = 13, 8
    emb = Embedding(n, f, dtype=dtype)
    jdtype = None if dtype is None else jnp.bfloat16
    theirs = fnn.Embed(n, f, dtype=jdtype)
    ids = _ids(1, shape, n)
    params, _ = emb.init(KEY, ids)
    variables = {"params": to_jax(params)}
    tol = 1e-6 if dtype is None else 1e-2
    y, _ = emb.apply(params, ids)
    want = theirs.apply(variables, ids)
    assert y.shape == shape + (f,) and np.dtype(y.dtype) == want.dtype
    _close(y, want, tol, tol)
    query = np.random.default_rng(2).normal(size=shape + (f,)).astype(np.float32)
    logits = emb.attend(params, query)
    want = theirs.apply(variables, query, method=fnn.Embed.attend)
    assert logits.shape == shape + (n,) and np.dtype(logits.dtype) == want.dtype
    _close(logits, want, 1e-5 if dtype is None else 3e-2, 1e-5 if dtype is None else 3e-2)


def test_single_row_table_broadcasts_like_flax():
    params, _ = Embedding(1, 4).init(KEY, np.zeros((2,), np.int32))
    ids = np.array([[0, 0, 0]], np.int32)
    want = fnn.Embed(1, 4).apply({"params": to_jax(params)}, ids)
    _close(Embedding(1, 4).apply(params, ids)[0], want)


def test_grads_wrt_table_and_query_match_jax():
    n, f = 9, 5
    emb, theirs = Embedding(n, f), fnn.Embed(n, f)
    ids = _ids(3, (4, 6), n)                       # repeated ids: the grads must add up
    params, _ = emb.init(KEY, ids)
    w = np.random.default_rng(4).normal(size=(4, 6, f)).astype(np.float32)
    q = np.random.default_rng(5).normal(size=(3, f)).astype(np.float32)

    def ours(p, q):
        h = emb.apply(p, ids)[0]
        return fnp.sum(fnp.tanh(h) * w) + fnp.sum(emb.attend(p, q) ** 2)

    def flax_loss(p, q):
        h = theirs.apply({"params": p}, ids)
        return (jnp.sum(jnp.tanh(h) * w)
                + jnp.sum(theirs.apply({"params": p}, q, method=fnn.Embed.attend) ** 2))

    (gp, gq) = fl.grad(ours, argnums=(0, 1))(params, q)
    (wp, wq) = jax.grad(flax_loss, argnums=(0, 1))(to_jax(params), q)
    _close(gp["embedding"], wp["embedding"], 1e-5, 1e-5)
    _close(gq, wq, 1e-5, 1e-5)
    # Under jit too.
    gj = fl.jit(fl.grad(ours))(params, q)
    _close(gj["embedding"], wp["embedding"], 1e-5, 1e-5)


class _TiedLM(nn.Module):
    """Input embedding and output logits share one table."""

    def __init__(self, vocab, features):
        self.embed, self.hidden = Embedding(vocab, features), nn.Dense(features)

    def __call__(self, ids):
        return self.embed.attend(nn.relu(self.hidden(self.embed(ids))))


class _FlaxTiedLM(fnn.Module):
    vocab: int
    features: int

    @fnn.compact
    def __call__(self, ids):
        embed = fnn.Embed(self.vocab, self.features, name="embed")
        h = fnn.relu(fnn.Dense(self.features, name="hidden")(embed(ids)))
        return embed.attend(h)


def test_tied_embedding_inside_a_parent_matches_flax():
    ids = _ids(6, (2, 5), 10)
    model = _TiedLM(10, 4)
    params, _ = model.init(KEY, ids)
    theirs = _FlaxTiedLM(10, 4)
    assert shapes(params) == shapes(
        jax.eval_shape(theirs.init, jax.random.PRNGKey(0), ids)["params"])
    logits, _ = model.apply(params, ids)
    assert logits.shape == (2, 5, 10)
    _close(logits, theirs.apply({"params": to_jax(params)}, ids), 1e-5, 1e-5)
    g = fl.grad(lambda p: fnp.sum(model.apply(p, ids)[0] ** 2))(params)
    w = jax.grad(lambda p: jnp.sum(theirs.apply({"params": p}, ids) ** 2))(to_jax(params))
    for a, b in zip(jax.tree_util.tree_leaves(to_jax(g)), jax.tree_util.tree_leaves(w)):
        _close(a, b, 1e-4, 1e-5)


def test_jit_and_vmap():
    emb = Embedding(12, 3)
    ids = _ids(7, (5, 4), 12)
    params, _ = emb.init(KEY, ids)
    want = emb.apply(params, ids)[0]
    _close(fl.jit(lambda p, i: emb.apply(p, i)[0])(params, ids), want)
    _close(fl.vmap(lambda i: emb.apply(params, i)[0])(ids), want)
    _close(fl.vmap(lambda h: emb.attend(params, h))(want), emb.attend(params, want), 1e-6,
           1e-6)


def test_float_ids_and_bad_queries_raise_clear_errors():
    emb = Embedding(5, 3)
    params, _ = emb.init(KEY, np.zeros((2,), np.int32))
    with pytest.raises(TypeError, match=r"Embedding: ids must be integers, got float32 "
                                        r"input of shape \(2, 4\)"):
        emb.apply(params, np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match=r"query shape \(2, 4\) against embedding shape "
                                         r"\(5, 3\)"):
        emb.attend(params, np.zeros((2, 4), np.float32))
    # Inside a model the error names the layer's location.
    model = nn.Sequential([nn.Dense(3), Embedding(5, 3)])
    with pytest.raises(TypeError, match=r"Sequential\[1\] \(Embedding\): ids must be "
                                        r"integers"):
        model.init(KEY, np.zeros((2, 3), np.float32))
    for bad in ((0, 3), (5, -1)):
        with pytest.raises(ValueError, match="Embedding: .* must be a positive int"):
            Embedding(*bad)
