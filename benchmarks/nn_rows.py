"""The ``nn`` rows of ``run.py``: whole training steps written with ``functorch_lite.nn``
and ``nn.optim`` against the same model in Flax (``flax.linen``) + optax under ``jax.jit``
and in PyTorch (``torch.nn`` + ``torch.optim``, eager), and the loop overhead of ``nn.fit``.

Every contestant starts from the same weights (ours, drawn by ``init``, copied into the
others) and the same batch. Before timing, each takes one step from those weights and
the loss before and after that step must agree with ours (Adam's first update is about
``-lr * sign(grad)``, so a parameter whose gradient is ~0 may move differently in each
framework: the loss, not every parameter, is what is compared).

The ``jax`` column of these rows is Flax + optax under ``jax.jit`` (printed as
flax+optax); like torch, Flax and optax are optional and their column then shows "-".
"""
from __future__ import annotations

import logging
import time

import jax
import jax.numpy as jnp
import numpy as np

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite import nn, random

from run import counts, paired, torch  # torch is None when it is not installed

try:
    import flax.linen as linen
    import optax
except ImportError:  # the flax+optax column then shows "-"
    linen = optax = None

FLAX_LABELS = {"jax": "flax+optax"}
LOSS_TOL = 1e-4     # relative, on the loss before and after one step


def _np_tree(tree):
    return fl.tree.map(np.asarray, tree)


def _check_losses(losses: dict[str, tuple[float, float]], tol: float = LOSS_TOL) -> None:
    """Every contestant's (loss before, loss after one step) agrees with ours."""
    ref = np.asarray(losses["ours"], np.float64)
    assert np.all(np.isfinite(ref)), f"ours: loss {ref}"
    for k, v in losses.items():
        np.testing.assert_allclose(np.asarray(v, np.float64), ref, rtol=tol, atol=tol,
                                   err_msg=f"loss before/after one step: ours vs {k}")


def _check_flax_params(ours, flax_params) -> None:
    """Our parameter tree has Flax's names and shapes (so it can be handed to Flax as is)."""
    a = jax.tree_util.tree_map(np.shape, _np_tree(ours))
    b = jax.tree_util.tree_map(np.shape, jax.tree_util.tree_map(np.asarray, flax_params))
    assert a == b, f"parameter trees differ:\nours {a}\nflax {b}"


def _torch_params(tensors: dict, arrays: dict) -> None:
    """Copy NumPy ``arrays`` into the torch parameters ``tensors`` (same keys, shapes)."""
    with torch.no_grad():
        for name, p in tensors.items():
            a = np.array(arrays[name], np.float32, order="C")   # a writable copy
            assert tuple(p.shape) == a.shape, f"{name}: torch {tuple(p.shape)} vs {a.shape}"
            p.copy_(torch.from_numpy(a))


# ---------------------------------------------------------------------------------------
# train steps, one builder per framework

def ours_step(apply, loss_of, optimizer, **jit_kwargs):
    """``fl.jit`` of (params, opt_state, x, y) -> (params, opt_state, loss): forward, mean
    loss, gradient, optimizer update, apply_updates."""
    def step(params, opt_state, x, y):
        def objective(p):
            out, _ = apply(p, x)
            return fnp.mean(loss_of(out, y))
        loss, grads = fl.value_and_grad(objective)(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return nn.optim.apply_updates(params, updates), opt_state, loss
    return fl.jit(step, **jit_kwargs)


def flax_step(module, tx, **jit_kwargs):
    """The same step for a ``flax.linen`` module and an optax optimizer, ``jax.jit``."""
    def step(params, opt_state, x, y):
        def objective(p):
            logits = module.apply({"params": p}, x)
            return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
        loss, grads = jax.value_and_grad(objective)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss
    return jax.jit(step, **jit_kwargs)


def torch_step(model, opt, x, y, clip=None, forward=None):
    """An eager torch training step on fixed ``x, y`` (in place: model and optimizer carry
    the state); returns the loss before the update. ``forward`` replaces ``model`` for the
    forward pass (a ``torch.compile``d model)."""
    import torch.nn.functional as F
    forward = forward or model
    params = [p for g in opt.param_groups for p in g["params"]]

    def step():
        opt.zero_grad(set_to_none=True)
        logits = forward(x)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        loss.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(params, clip)
        opt.step()
        return loss.detach()
    return step


def training_loop(step, params, opt_state, x, y, copy):
    """A closure that runs ``step`` once per call on its own copy of the state and keeps
    the result, returning the loss: a training loop, which is what the step is for. The
    steps are jitted with the state donated (its buffers are reused, as ``nn.fit`` does),
    and torch's step updates its parameters in place, so each side works as it would in
    real training."""
    carry = [copy(params), copy(opt_state)]

    def run():
        carry[0], carry[1], loss = step(carry[0], carry[1], x, y)
        return loss
    return run


def ours_copy(tree):
    return fl.tree.map(lambda a: fnp.asarray(np.array(a)), tree)


def jax_copy(tree):
    return jax.tree_util.tree_map(lambda a: jnp.asarray(np.array(a)), tree)


def _two_losses(run):
    """The first two losses of a training loop (``training_loop`` or torch's step): the
    agreement check; the timing then carries on from there."""
    return float(run()), float(run())


def flax_decay_mask(params):
    """nn.optim.adamw's default mask spelled for optax (which decays every leaf by
    default): rank >= 2 and not named bias or scale."""
    return jax.tree_util.tree_map_with_path(
        lambda path, leaf: leaf.ndim >= 2 and getattr(path[-1], "key", None)
        not in ("bias", "scale"), params)


def _torch_adamw(named: dict, decayed: set, lr, weight_decay):
    """torch.optim.AdamW with decay only on the parameters ``decayed`` (torch's AdamW is
    decoupled like optax's: p -= lr * wd * p, then the Adam step; eps outside the root)."""
    groups = [{"params": [p for k, p in named.items() if k in decayed],
               "weight_decay": weight_decay},
              {"params": [p for k, p in named.items() if k not in decayed],
               "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.999), eps=1e-8)


def check_adamw_agree(lr=0.1, weight_decay=0.5, steps=3):
    """nn.optim.adamw, optax.adamw (given our default mask) and torch's AdamW (decay in
    one parameter group only) make the same updates. The rows' own check cannot see the
    decay (lr * weight_decay is ~1e-7 of a weight), so it is checked here, with a decay
    large enough to matter, on a kernel (decayed) and a bias (not)."""
    rng = np.random.default_rng(0)
    p0 = {"kernel": rng.normal(size=(4, 3)).astype(np.float32),
          "bias": rng.normal(size=3).astype(np.float32)}
    grads = [{k: rng.normal(size=v.shape).astype(np.float32) for k, v in p0.items()}
             for _ in range(steps)]
    opt = nn.optim.adamw(lr, weight_decay=weight_decay)
    results = {}
    p = fl.tree.map(fnp.asarray, p0)
    s = opt.init(p)
    for g in grads:
        u, s = opt.update(fl.tree.map(fnp.asarray, g), s, p)
        p = nn.optim.apply_updates(p, u)
    results["ours"] = _np_tree(p)
    if optax is not None:
        tx = optax.adamw(lr, weight_decay=weight_decay, mask=flax_decay_mask)
        p = jax.tree_util.tree_map(jnp.asarray, p0)
        s = tx.init(p)
        for g in grads:
            u, s = tx.update(jax.tree_util.tree_map(jnp.asarray, g), s, p)
            p = optax.apply_updates(p, u)
        results["optax"] = jax.tree_util.tree_map(np.asarray, p)
    if torch is not None:
        named = {k: torch.tensor(v, requires_grad=True) for k, v in p0.items()}
        topt = _torch_adamw(named, {"kernel"}, lr, weight_decay)
        for g in grads:
            for k, t in named.items():
                t.grad = torch.from_numpy(g[k])
            topt.step()
        results["torch"] = {k: t.detach().numpy() for k, t in named.items()}
    for name, r in results.items():
        for k in p0:
            np.testing.assert_allclose(r[k], results["ours"][k], rtol=1e-5, atol=1e-5,
                                       err_msg=f"adamw: ours vs {name}, {k}")


def _flat(tree, prefix=()):
    """{"a/b/kernel": leaf} of a nested dict."""
    out = {}
    for k, v in tree.items():
        if isinstance(v, dict):
            out.update(_flat(v, prefix + (k,)))
        else:
            out["/".join(prefix + (k,))] = v
    return out


def _decayed_names(params) -> set:
    mask = _flat(_np_tree(nn.optim.default_weight_decay_mask(params)))
    return {k for k, v in mask.items() if bool(v)}


# ---------------------------------------------------------------------------------------
# row: the digits CNN of examples/demo.py

CNN_BATCH = 32
LR, WEIGHT_DECAY = 1e-3, 1e-4


def digits_cnn():
    """examples/demo.py's ``digits_cnn()`` without its Dropout(0.3) (so every framework
    computes the same numbers): conv 32, conv 64, 2x2 max pool, dense 128, dense 10."""
    return nn.Sequential([
        nn.Conv(32, (3, 3)), nn.relu,
        nn.Conv(64, (3, 3)), nn.relu,
        nn.MaxPool((2, 2)),
        nn.Flatten(),
        nn.Dense(128), nn.relu,
        nn.Dense(10),
    ])


def flax_digits_cnn():
    return linen.Sequential([
        linen.Conv(32, (3, 3)), linen.relu,
        linen.Conv(64, (3, 3)), linen.relu,
        lambda x: linen.max_pool(x, (2, 2), strides=(2, 2)),
        lambda x: x.reshape(x.shape[0], -1),
        linen.Dense(128), linen.relu,
        linen.Dense(10),
    ])


def torch_digits_cnn(params):
    """The same CNN channels-first, with our weights: conv kernels HWIO -> OIHW, dense
    kernels transposed, and the first dense kernel's rows reordered from our NHWC flatten
    order (h, w, c) to torch's NCHW one (c, h, w)."""
    tnn = torch.nn
    model = tnn.Sequential(
        tnn.Conv2d(1, 32, 3, padding=1), tnn.ReLU(),
        tnn.Conv2d(32, 64, 3, padding=1), tnn.ReLU(),
        tnn.MaxPool2d(2), tnn.Flatten(),
        tnn.Linear(64 * 4 * 4, 128), tnn.ReLU(),
        tnn.Linear(128, 10))
    p = _np_tree(params)
    dense = p["6"]["kernel"].reshape(4, 4, 64, 128).transpose(2, 0, 1, 3).reshape(-1, 128)
    _torch_params(dict(model.named_parameters()), {
        "0.weight": p["0"]["kernel"].transpose(3, 2, 0, 1), "0.bias": p["0"]["bias"],
        "2.weight": p["2"]["kernel"].transpose(3, 2, 0, 1), "2.bias": p["2"]["bias"],
        "6.weight": dense.T, "6.bias": p["6"]["bias"],
        "8.weight": p["8"]["kernel"].T, "8.bias": p["8"]["bias"]})
    # Our names for the same tensors, to pick the ones adamw decays.
    names = {"0.weight": "0/kernel", "2.weight": "2/kernel", "6.weight": "6/kernel",
             "8.weight": "8/kernel"}
    return model, names


def cnn_data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, size=(CNN_BATCH, 8, 8, 1)).astype(np.float32)
    y = rng.integers(0, 10, CNN_BATCH).astype(np.int32)
    return x, y


def _cnn_torch_setup(params, x, y, compiled=False):
    model, names = torch_digits_cnn(params)
    named = dict(model.named_parameters())
    decayed = {k for k in named if names.get(k) in _decayed_names(params)}
    opt = _torch_adamw(named, decayed, LR, WEIGHT_DECAY)
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    yt = torch.from_numpy(y.astype(np.int64))
    if not compiled:
        return torch_step(model, opt, xt, yt)
    # torch.compile the forward (with its backward, via AOTAutograd) and the optimizer
    # step; zero_grad/backward stay eager.
    # (Its "Profiler record function ... will be ignored" warning is noise here.)
    logging.getLogger("torch._dynamo.variables.ctx_manager").setLevel(logging.ERROR)
    forward = torch.compile(model)
    opt.step = torch.compile(opt.step)
    return torch_step(model, opt, xt, yt, forward=forward)


def _cnn_setup():
    model = digits_cnn()
    x, y = cnn_data()
    params, _ = model.init(random.PRNGKey(0), fnp.zeros((1, 8, 8, 1)))
    loss_of = nn.losses.softmax_cross_entropy_with_integer_labels
    opt = nn.optim.adamw(LR, weight_decay=WEIGHT_DECAY)
    step = ours_step(model.apply, loss_of, opt, donate_argnums=(0, 1))
    ours = training_loop(step, params, opt.init(params), fnp.asarray(x), fnp.asarray(y),
                         ours_copy)
    losses = {"ours": _two_losses(ours)}
    return params, x, y, ours, losses


def bench_digits_cnn_step(quick):
    """One jitted training step of the digits CNN (batch 32 of 8x8x1, channels last):
    forward, softmax cross-entropy with integer labels, gradient, adamw, apply_updates.
    Flax + optax under jax.jit; torch.nn + torch.optim.AdamW eagerly, channels first.
    Each runs as a training loop (see ``training_loop``)."""
    check_adamw_agree()
    params, x, y, ours, losses = _cnn_setup()
    fns = {"ours": ours, "jax": None, "torch": None}
    if linen is not None:
        fmodel = flax_digits_cnn()
        fparams = fmodel.init(jax.random.PRNGKey(0), jnp.zeros((1, 8, 8, 1)))["params"]
        fparams_ours = {f"layers_{k}": v for k, v in _np_tree(params).items()}
        _check_flax_params(fparams_ours, fparams)
        fparams = jax.tree_util.tree_map(jnp.asarray, fparams_ours)
        tx = optax.adamw(LR, weight_decay=WEIGHT_DECAY, mask=flax_decay_mask)
        fstep = flax_step(fmodel, tx, donate_argnums=(0, 1))
        fns["jax"] = training_loop(fstep, fparams, tx.init(fparams), jnp.asarray(x),
                                   jnp.asarray(y), jax_copy)
        losses["jax"] = _two_losses(fns["jax"])
    if torch is not None:
        # torch's step updates its model in place: the agreement check's two steps are
        # its first two; the timing carries on from there.
        fns["torch"] = _cnn_torch_setup(params, x, y)
        losses["torch"] = _two_losses(fns["torch"])
    _check_losses(losses)
    r = paired(fns, *counts(quick, (7, 20), (21, 100)))
    return {**r, "labels": FLAX_LABELS}


def bench_digits_cnn_compiled(quick):
    """The same step against torch.compile (forward+backward and the optimizer step
    compiled by inductor; zero_grad and backward's launch stay eager). The first calls,
    which compile, are outside the timing; the compile time is reported."""
    if torch is None:
        raise RuntimeError("torch is not installed")
    params, x, y, ours, losses = _cnn_setup()
    t0 = time.perf_counter()
    fns = {"ours": ours, "torch": _cnn_torch_setup(params, x, y, compiled=True)}
    losses["torch"] = _two_losses(fns["torch"])
    compile_s = time.perf_counter() - t0
    _check_losses(losses)
    r = paired(fns, *counts(quick, (7, 20), (21, 100)))
    return {**r, "labels": {"torch": "torch.compile"}, "note": f"first calls (compile) "
            f"{compile_s:.1f} s"}


# ---------------------------------------------------------------------------------------
# row: a small pre-LN transformer decoder

VOCAB, D_MODEL, HEADS, LAYERS, CONTEXT, TF_BATCH = 100, 128, 4, 2, 64, 16
TF_LR, TF_WEIGHT_DECAY, CLIP = 1e-3, 1e-2, 1.0


class Block(nn.Module):
    """x + attn(ln(x)), then x + mlp(ln(x)) with a 4x gelu MLP."""

    def __init__(self, d, heads):
        self.ln1, self.attn = nn.LayerNorm(), nn.MultiHeadAttention(heads)
        self.ln2, self.mlp_in, self.mlp_out = nn.LayerNorm(), nn.Dense(4 * d), nn.Dense(d)

    def __call__(self, x, mask):
        x = x + self.attn(self.ln1(x), mask=mask)
        return x + self.mlp_out(nn.gelu(self.mlp_in(self.ln2(x))))


class Decoder(nn.Module):
    """Token and position embeddings, pre-LN blocks with a causal mask, final LayerNorm,
    output Dense to the vocabulary."""

    def __init__(self, vocab=VOCAB, d=D_MODEL, heads=HEADS, layers=LAYERS, context=CONTEXT):
        self.embed, self.pos = nn.Embedding(vocab, d), nn.Embedding(context, d)
        self.blocks = [Block(d, heads) for _ in range(layers)]
        self.ln_f, self.head = nn.LayerNorm(), nn.Dense(vocab)

    def __call__(self, tokens):
        mask = nn.make_causal_mask(tokens)
        x = self.embed(tokens) + self.pos(fnp.arange(tokens.shape[-1]))
        for block in self.blocks:
            x = block(x, mask)
        return self.head(self.ln_f(x))


def _flax_decoder():
    """The same decoder in flax.linen, with the same attribute (so parameter) names."""
    class FBlock(linen.Module):
        d: int
        heads: int

        def setup(self):
            self.ln1 = linen.LayerNorm()
            self.attn = linen.MultiHeadDotProductAttention(num_heads=self.heads)
            self.ln2, self.mlp_in = linen.LayerNorm(), linen.Dense(4 * self.d)
            self.mlp_out = linen.Dense(self.d)

        def __call__(self, x, mask):
            x = x + self.attn(self.ln1(x), mask=mask)
            return x + self.mlp_out(linen.gelu(self.mlp_in(self.ln2(x))))

    class FDecoder(linen.Module):
        def setup(self):
            self.embed, self.pos = linen.Embed(VOCAB, D_MODEL), linen.Embed(CONTEXT, D_MODEL)
            self.blocks = [FBlock(D_MODEL, HEADS) for _ in range(LAYERS)]
            self.ln_f, self.head = linen.LayerNorm(), linen.Dense(VOCAB)

        def __call__(self, tokens):
            mask = linen.make_causal_mask(tokens)
            x = self.embed(tokens) + self.pos(jnp.arange(tokens.shape[-1]))
            for block in self.blocks:
                x = block(x, mask)
            return self.head(self.ln_f(x))
    return FDecoder()


def _torch_decoder(params):
    """The same decoder in torch with our weights; attention written out with
    F.scaled_dot_product_attention(is_causal=True) (softmax(q k^T / sqrt(head_dim)) v).
    Flax-layout kernels become torch Linear weights: query/key/value (d, heads, head_dim)
    -> (d, d)^T, out (heads, head_dim, d) -> (d, d)^T; LayerNorm epsilon 1e-6 as Flax."""
    tnn, F = torch.nn, torch.nn.functional
    hd = D_MODEL // HEADS

    class TBlock(tnn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.ln2 = tnn.LayerNorm(D_MODEL, eps=1e-6), tnn.LayerNorm(D_MODEL,
                                                                               eps=1e-6)
            self.query, self.key, self.value, self.out = (tnn.Linear(D_MODEL, D_MODEL)
                                                          for _ in range(4))
            self.mlp_in, self.mlp_out = tnn.Linear(D_MODEL, 4 * D_MODEL), tnn.Linear(
                4 * D_MODEL, D_MODEL)

        def forward(self, x):
            b, t, _ = x.shape
            h = self.ln1(x)
            q, k, v = (f(h).view(b, t, HEADS, hd).transpose(1, 2)
                       for f in (self.query, self.key, self.value))
            a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.out(a.transpose(1, 2).reshape(b, t, D_MODEL))
            return x + self.mlp_out(F.gelu(self.mlp_in(self.ln2(x)), approximate="tanh"))

    class TDecoder(tnn.Module):
        def __init__(self):
            super().__init__()
            self.embed, self.pos = tnn.Embedding(VOCAB, D_MODEL), tnn.Embedding(CONTEXT,
                                                                                D_MODEL)
            self.blocks = tnn.ModuleList(TBlock() for _ in range(LAYERS))
            self.ln_f, self.head = tnn.LayerNorm(D_MODEL, eps=1e-6), tnn.Linear(D_MODEL,
                                                                                VOCAB)

        def forward(self, tokens):
            x = self.embed(tokens) + self.pos(torch.arange(tokens.shape[-1], device=tokens.device))
            for block in self.blocks:
                x = block(x)
            return self.head(self.ln_f(x))

    model = TDecoder()
    p = _flat(_np_tree(params))
    ours_of = {}            # torch name -> our "a/b/name"
    arrays = {}

    def put(tname, oname, value):
        ours_of[tname], arrays[tname] = oname, value

    put("embed.weight", "embed/embedding", p["embed/embedding"])
    put("pos.weight", "pos/embedding", p["pos/embedding"])
    for i in range(LAYERS):
        o, t = f"blocks_{i}", f"blocks.{i}"
        for ln in ("ln1", "ln2"):
            put(f"{t}.{ln}.weight", f"{o}/{ln}/scale", p[f"{o}/{ln}/scale"])
            put(f"{t}.{ln}.bias", f"{o}/{ln}/bias", p[f"{o}/{ln}/bias"])
        for name in ("query", "key", "value"):
            k = f"{o}/attn/{name}"
            put(f"{t}.{name}.weight", f"{k}/kernel", p[f"{k}/kernel"].reshape(D_MODEL, -1).T)
            put(f"{t}.{name}.bias", f"{k}/bias", p[f"{k}/bias"].reshape(-1))
        k = f"{o}/attn/out"
        put(f"{t}.out.weight", f"{k}/kernel", p[f"{k}/kernel"].reshape(-1, D_MODEL).T)
        put(f"{t}.out.bias", f"{k}/bias", p[f"{k}/bias"])
        for name in ("mlp_in", "mlp_out"):
            put(f"{t}.{name}.weight", f"{o}/{name}/kernel", p[f"{o}/{name}/kernel"].T)
            put(f"{t}.{name}.bias", f"{o}/{name}/bias", p[f"{o}/{name}/bias"])
    put("ln_f.weight", "ln_f/scale", p["ln_f/scale"])
    put("ln_f.bias", "ln_f/bias", p["ln_f/bias"])
    put("head.weight", "head/kernel", p["head/kernel"].T)
    put("head.bias", "head/bias", p["head/bias"])
    named = dict(model.named_parameters())
    assert set(named) == set(arrays) and len(arrays) == len(p), "unmapped parameters"
    _torch_params(named, arrays)
    return model, ours_of


def _tf_data(seed=0):
    rng = np.random.default_rng(seed)
    tokens = rng.integers(0, VOCAB, size=(TF_BATCH, CONTEXT + 1)).astype(np.int32)
    return tokens[:, :-1], tokens[:, 1:]


def bench_transformer_step(quick):
    """One jitted training step of a 2-layer pre-LN decoder (d_model 128, 4 heads, MLP
    512 with gelu, vocab 100, context 64, batch 16, next-token cross-entropy) with
    clip_by_global_norm(1.0) then adamw (decay on kernels and embeddings only), run as a
    training loop (see ``training_loop``). torch:
    the same model written out (scaled_dot_product_attention), our weights copied,
    clip_grad_norm_ + AdamW, eager."""
    check_adamw_agree()
    model = Decoder()
    x, y = _tf_data()
    params, _ = model.init(random.PRNGKey(0), fnp.zeros((1, CONTEXT), fnp.int32))
    loss_of = nn.losses.softmax_cross_entropy_with_integer_labels
    opt = nn.optim.chain(nn.optim.clip_by_global_norm(CLIP),
                         nn.optim.adamw(TF_LR, weight_decay=TF_WEIGHT_DECAY))
    step = ours_step(model.apply, loss_of, opt, donate_argnums=(0, 1))
    fns = {"ours": training_loop(step, params, opt.init(params), fnp.asarray(x),
                                 fnp.asarray(y), ours_copy), "jax": None, "torch": None}
    losses = {"ours": _two_losses(fns["ours"])}
    if linen is not None:
        fmodel = _flax_decoder()
        fparams = fmodel.init(jax.random.PRNGKey(0), jnp.zeros((1, CONTEXT), jnp.int32))
        _check_flax_params(params, fparams["params"])
        fparams = jax.tree_util.tree_map(jnp.asarray, _np_tree(params))
        tx = optax.chain(optax.clip_by_global_norm(CLIP),
                         optax.adamw(TF_LR, weight_decay=TF_WEIGHT_DECAY,
                                     mask=flax_decay_mask))
        fstep = flax_step(fmodel, tx, donate_argnums=(0, 1))
        fns["jax"] = training_loop(fstep, fparams, tx.init(fparams), jnp.asarray(x),
                                   jnp.asarray(y), jax_copy)
        losses["jax"] = _two_losses(fns["jax"])
    if torch is not None:
        decayed = _decayed_names(params)

        def setup():
            tmodel, ours_of = _torch_decoder(params)
            named = dict(tmodel.named_parameters())
            topt = _torch_adamw(named, {k for k in named if ours_of[k] in decayed},
                                TF_LR, TF_WEIGHT_DECAY)
            return torch_step(tmodel, topt, torch.from_numpy(x.astype(np.int64)),
                              torch.from_numpy(y.astype(np.int64)), clip=CLIP)
        fns["torch"] = setup()
        losses["torch"] = _two_losses(fns["torch"])
    _check_losses(losses)
    r = paired(fns, *counts(quick, (7, 5), (21, 20)))
    return {**r, "labels": FLAX_LABELS}


def _transformer_gemm_shapes():
    """(m, k, n) of every dense-layer matrix product in one step of the decoder above:
    forward y = x W, then dx = dy W^T and dW = x^T dy, for q/k/v/out, the MLP and the
    output head (attention's small batched products are left out)."""
    rows, d, ff = TF_BATCH * CONTEXT, D_MODEL, 4 * D_MODEL
    dense = [(d, d)] * 4 + [(d, ff), (ff, d)]
    per_layer = ([(rows, i, o) for i, o in dense] + [(rows, o, i) for i, o in dense]
                 + [(i, rows, o) for i, o in dense])
    head = [(rows, d, VOCAB), (rows, VOCAB, d), (d, rows, VOCAB)]
    return per_layer * LAYERS + head


def bench_transformer_gemms(quick):
    """The small transformer step's dense matrix products alone, row-major a @ b, in
    sequence (each waits for the one before, as in the step): one jitted program for
    ours and for JAX (both are XLA's kernels), eager torch.mm. It splits the transformer
    row in two: the matrix engine (about half of the step) and everything else."""
    shapes = _transformer_gemm_shapes()
    rng = np.random.default_rng(0)
    pairs = [(rng.standard_normal((m, k)).astype(np.float32),
              rng.standard_normal((k, n)).astype(np.float32)) for m, k, n in shapes]
    flops = sum(2 * m * k * n for m, k, n in shapes)

    def chain(barrier, matmul):
        def run(pairs):
            outs, prev = [], None
            for a, b in pairs:
                if prev is not None:        # order the products without adding work
                    a, _ = barrier((a, prev))
                prev = matmul(a, b)
                outs.append(prev)
            return outs
        return run

    ours = fl.jit(chain(fl.lax.optimization_barrier, fnp.matmul))
    ours_in = [(fnp.asarray(a), fnp.asarray(b)) for a, b in pairs]
    fns = {"ours": lambda: ours(ours_in), "jax": None, "torch": None}
    expect = [a @ b for a, b in pairs[:3]]
    for got, want in zip(ours(ours_in)[:3], expect):
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-3, atol=1e-3)
    jf = jax.jit(chain(jax.lax.optimization_barrier, jnp.matmul))
    jax_in = [(jnp.asarray(a), jnp.asarray(b)) for a, b in pairs]
    fns["jax"] = lambda: jf(jax_in)
    if torch is not None:
        torch_in = [(torch.from_numpy(a), torch.from_numpy(b)) for a, b in pairs]
        fns["torch"] = lambda: [torch.mm(a, b) for a, b in torch_in]
    r = paired(fns, *counts(quick, (7, 5), (21, 20)))
    rates = {k: flops / r[k] / 1e9 for k in ("ours", "jax", "torch") if r[k]}
    return {**r, "labels": {"torch": "torch.mm"},
            "note": f"{len(shapes)} products, GFLOP/s " + ", ".join(
                f"{k} {v:.0f}" for k, v in rates.items())}


# ---------------------------------------------------------------------------------------
# row: nn.fit's loop overhead

FIT_STEPS = 40      # batches per epoch (examples/demo.py's digits split has 37 of 32)


def bench_fit_overhead(quick):
    """Seconds per step of ``nn.fit`` (one epoch of FIT_STEPS batches of 32, arrays in,
    progress=False, no validation, metrics=(), shuffle=False so both see the same
    batches) against the bare jitted step (the same objective and adamw, params and
    optimizer state donated, as fit's) called in a Python loop over the same batches,
    pre-sliced. Whole epochs are timed; the warm-up excludes the first compile. Each
    fit call builds a new jitted step (see the README for what that costs)."""
    model = digits_cnn()
    rng = np.random.default_rng(0)
    n = FIT_STEPS * CNN_BATCH
    x = rng.uniform(0, 1, size=(n, 8, 8, 1)).astype(np.float32)
    y = rng.integers(0, 10, n).astype(np.int32)
    params, state = model.init(random.PRNGKey(0), fnp.zeros((1, 8, 8, 1)))
    loss_of = nn.losses.softmax_cross_entropy_with_integer_labels
    opt = nn.optim.adamw(LR, weight_decay=WEIGHT_DECAY)
    key = random.PRNGKey(1)
    xf, yf = fnp.asarray(x), fnp.asarray(y)

    def fit_epochs(epochs):
        return lambda: nn.fit(model, params, state, opt, (xf, yf), epochs=epochs,
                              batch_size=CNN_BATCH, key=key, loss=loss_of, metrics=(),
                              progress=False, shuffle=False)

    def apply(p, xb):   # what fit calls: training mode, a key (no layer uses it)
        return model.apply(p, xb, state=state, rng=key, train=True)
    step = ours_step(apply, loss_of, opt, donate_argnums=(0, 1))
    batches = [(xf[i * CNN_BATCH:(i + 1) * CNN_BATCH], yf[i * CNN_BATCH:(i + 1) * CNN_BATCH])
               for i in range(FIT_STEPS)]
    carry = [ours_copy(params), opt.init(ours_copy(params))]

    def hand_epoch():
        p, s = carry
        losses = []
        for xb, yb in batches:
            p, s, loss = step(p, s, xb, yb)
            losses.append(loss)
        carry[:] = p, s
        return p, float(np.mean([float(v) for v in losses]))   # fit reads every loss too

    # Agreement: one epoch of each from the same start ends at the same params and loss.
    result = fit_epochs(1)()
    p_hand, loss_hand = hand_epoch()
    np.testing.assert_allclose(result.history["loss"][0], loss_hand, rtol=1e-5)
    for a, b in zip(fl.tree.leaves(result.params), fl.tree.leaves(p_hand)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-5)
    from xla_bridge import compile as fl_compile
    before = fl_compile.stats["compiles"]
    repeats, inner = counts(quick, (5, 1), (15, 2))
    r = paired({"ours": fit_epochs(1), "jax": hand_epoch}, repeats, inner)
    # Split fit's time into a fixed cost per call and a cost per step: fit(1 epoch)
    # against fit(3 epochs), both timed the same way.
    split = paired({"ours": fit_epochs(1), "jax": fit_epochs(3)}, repeats, 1)
    compiles = fl_compile.stats["compiles"] - before
    per_step = (split["jax"] - split["ours"]) / (2 * FIT_STEPS)
    per_call = split["ours"] - FIT_STEPS * per_step
    loop = r["jax"] / FIT_STEPS
    for k in ("ours", "jax"):
        r[k] /= FIT_STEPS
    return {**r, "labels": {"ours": "nn.fit", "jax": "loop"},
            "fit_per_call_s": per_call, "fit_per_step_s": per_step,
            "xla_compiles": compiles,
            "note": f"fit alone: {per_call * 1e3:.1f} ms per call + {per_step * 1e3:.2f} ms "
                    f"per step ({per_step / loop:.2f}x loop); XLA compiles while timing: "
                    f"{compiles}"}


ROWS = [
    ("digits CNN train step b32 8x8x1 (nn + nn.optim)", bench_digits_cnn_step),
    ("digits CNN train step vs torch.compile", bench_digits_cnn_compiled),
    ("small transformer train step (nn + nn.optim)", bench_transformer_step),
    ("small transformer's dense matrix products alone", bench_transformer_gemms),
    ("nn.fit overhead per step (digits CNN, 40 batches)", bench_fit_overhead),
]
