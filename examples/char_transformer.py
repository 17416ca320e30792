"""A character-level decoder-only transformer (a tiny GPT) trained on the Python reference
text that ships with CPython (``pydoc_data.topics``: the pages ``help("if")`` shows), then
sampling text from a prompt.

    python examples/char_transformer.py [--steps N] [--seed S] [--save-pretrained DIR]

The text is split 90/10 into training and validation. A hand-written ``fl.jit`` step draws
a batch of random windows of the training text on the device, and
``nn.optim.chain(clip_by_global_norm, adamw)`` with a warmup-cosine schedule updates the
parameters. The validation loss (nats per character, averaged over every position of
consecutive windows) is compared with the unigram baseline: the cross-entropy of the
training text's character frequencies, evaluated on the validation text.
"""
import argparse
import math
import os
import time

import numpy as np

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite import nn, random

# --------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------

# Typographic characters of the text written as the ASCII a programmer would type.
_ASCII = {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-",
          "\u2014": "--", "\u2026": "...", "\u00b0": " degrees"}
UNKNOWN = "\u00bf"       # "¿": every other character (only "ß" in this text) maps to it
VOCAB = "\n" + "".join(chr(c) for c in range(32, 127)) + UNKNOWN     # 97 characters


def load_text() -> str:
    """CPython's reference text (about 465k characters), its pages joined in sorted-key
    order, typographic quotes and dashes made ASCII."""
    from pydoc_data.topics import topics
    text = "".join(topics[k] for k in sorted(topics))
    return "".join(_ASCII.get(ch, ch) for ch in text)


def encode(text: str, vocab: str = VOCAB) -> np.ndarray:
    index = {ch: i for i, ch in enumerate(vocab)}
    unknown = index[vocab[-1]]
    return np.array([index.get(ch, unknown) for ch in text], dtype=np.int32)


def decode(ids, vocab: str = VOCAB) -> str:
    return "".join(vocab[int(i)] for i in np.asarray(ids).reshape(-1))


def split(ids: np.ndarray, train_fraction: float = 0.9):
    n = int(len(ids) * train_fraction)
    return ids[:n], ids[n:]


def unigram_baseline(train_ids: np.ndarray, val_ids: np.ndarray, vocab_size: int) -> float:
    """Cross-entropy (nats/char) on the validation text of the training text's character
    frequencies (add-one smoothed, so no validation character has probability zero)."""
    counts = np.bincount(train_ids, minlength=vocab_size).astype(np.float64) + 1.0
    logp = np.log(counts / counts.sum())
    return float(-np.mean(logp[val_ids]))


# --------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------

class Block(nn.Module):
    """Pre-LayerNorm transformer block: x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, d_model: int, num_heads: int, mlp_ratio: int = 4):
        self.ln1 = nn.LayerNorm()
        self.attn = nn.MultiHeadAttention(num_heads)
        self.ln2 = nn.LayerNorm()
        self.fc = nn.Dense(mlp_ratio * d_model)
        self.proj = nn.Dense(d_model)

    def __call__(self, x, mask):
        x = x + self.attn(self.ln1(x), mask=mask)
        return x + self.proj(nn.gelu(self.fc(self.ln2(x))))


class CharTransformer(nn.Module):
    """Token embedding + learned positions -> blocks -> LayerNorm -> tied output logits
    (``Embedding.attend``). Input ``(batch, length)`` int ids, ``length <= context``;
    output ``(batch, length, vocab_size)`` logits for the next character."""

    def __init__(self, vocab_size: int, d_model: int = 128, num_heads: int = 4,
                 num_layers: int = 2, context: int = 128, mlp_ratio: int = 4):
        self.context, self.d_model = context, d_model
        self.embed = nn.Embedding(vocab_size, d_model)
        self.blocks = [Block(d_model, num_heads, mlp_ratio) for _ in range(num_layers)]
        self.ln_f = nn.LayerNorm()

    def __call__(self, ids):
        length = ids.shape[-1]
        if length > self.context:
            raise ValueError(f"sequence of length {length} exceeds the context "
                             f"{self.context}")
        pos = self.param("pos_embedding", nn.initializers.normal(0.02),
                         (self.context, self.d_model))
        x = self.embed(ids) + pos[:length]
        mask = nn.make_causal_mask(ids)
        for block in self.blocks:
            x = block(x, mask)
        return self.embed.attend(self.ln_f(x))


DEFAULT_CONFIG = dict(d_model=128, num_heads=4, num_layers=2, context=128, mlp_ratio=4)


def make_model(config: dict, vocab_size: int = len(VOCAB)) -> CharTransformer:
    return CharTransformer(vocab_size, **config)


def init_params(model: CharTransformer, key=None):
    key = random.PRNGKey(0) if key is None else key
    params, _ = model.init(key, fnp.zeros((1, model.context), fnp.int32))
    return params


# --------------------------------------------------------------------------------------
# Loss, evaluation, sampling
# --------------------------------------------------------------------------------------

def sequence_loss(model, params, x, y):
    """Mean next-character cross-entropy over every position of every window."""
    logits, _ = model.apply(params, x)
    return fnp.mean(nn.losses.softmax_cross_entropy_with_integer_labels(logits, y))


def eval_windows(ids: np.ndarray, context: int, max_windows: int | None = None):
    """Consecutive non-overlapping windows covering ``ids``: inputs and next-char targets."""
    n = (len(ids) - 1) // context
    if max_windows is not None:
        n = min(n, max_windows)
    x = ids[:n * context].reshape(n, context)
    y = ids[1:n * context + 1].reshape(n, context)
    return x, y


def make_evaluate(model, batch_size: int = 64):
    @fl.jit
    def batch_loss(params, x, y, weight):
        logits, _ = model.apply(params, x)
        losses = nn.losses.softmax_cross_entropy_with_integer_labels(logits, y)
        return fnp.sum(losses * weight[:, None])

    def evaluate(params, x, y) -> float:
        """Mean loss (nats/char) over every position of the windows ``x``/``y``, in
        batches of one shape (the last one padded with weight-0 windows)."""
        total = 0.0
        for i in range(0, len(x), batch_size):
            xb, yb = x[i:i + batch_size], y[i:i + batch_size]
            k = len(xb)
            weight = np.zeros(batch_size, np.float32)
            weight[:k] = 1.0
            if k < batch_size:
                xb = np.concatenate([xb, np.zeros((batch_size - k, x.shape[1]), x.dtype)])
                yb = np.concatenate([yb, np.zeros((batch_size - k, y.shape[1]), y.dtype)])
            total += float(batch_loss(params, xb, yb, weight))
        return total / (len(x) * x.shape[1])

    return evaluate


def make_sampler(model):
    """``sample(params, key, prompt_ids, n, temperature)``: ``n`` characters after the
    prompt, one at a time. The window is a fixed ``(1, context)`` buffer (one compiled
    step whatever the position): the last ``context`` characters, left-aligned, and the
    logits read at the last filled position."""
    context = model.context

    @fl.jit
    def next_id(params, window, pos, key, temperature):
        logits, _ = model.apply(params, window[None])
        last = fnp.take(logits[0], pos, axis=0)
        return random.categorical(key, last / temperature)

    def sample(params, key, prompt_ids, n: int = 300, temperature: float = 0.8):
        ids = list(np.asarray(prompt_ids, dtype=np.int32))
        for _ in range(n):
            recent = ids[-context:]
            window = np.zeros(context, np.int32)
            window[:len(recent)] = recent
            key, sub = random.split(key)
            ids.append(int(next_id(params, window, len(recent) - 1, sub,
                                   np.float32(temperature))))
        return np.array(ids[len(prompt_ids):], dtype=np.int32)

    return sample


# --------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------

def main(steps: int = 600, batch_size: int = 32, learning_rate: float = 3e-3,
         weight_decay: float = 0.1, seed: int = 0, config: dict | None = None,
         eval_windows_max: int | None = None, log_every: int = 100,
         prompt: str = "The with statement", sample_chars: int = 300,
         temperature: float = 0.8, save_pretrained: str | None = None) -> dict:
    config = dict(DEFAULT_CONFIG, **(config or {}))
    ids = encode(load_text())
    train_ids, val_ids = split(ids)
    baseline = unigram_baseline(train_ids, val_ids, len(VOCAB))
    context = config["context"]
    x_val, y_val = eval_windows(val_ids, context, eval_windows_max)

    model = make_model(config)
    key = random.PRNGKey(seed)
    init_key, key = random.split(key)
    params = init_params(model, init_key)
    print(f"functorch_lite on {fl.default_backend()}: char transformer "
          f"({nn.count_params(params)} parameters, {config}) on {len(train_ids)} training / "
          f"{len(val_ids)} validation characters, vocabulary {len(VOCAB)}")

    schedule = nn.schedules.warmup_cosine_decay_schedule(
        init_value=0.0, peak_value=learning_rate, warmup_steps=max(steps // 10, 1),
        decay_steps=steps, end_value=learning_rate / 20)
    optimizer = nn.optim.chain(nn.optim.clip_by_global_norm(1.0),
                               nn.optim.adamw(schedule, b2=0.99, weight_decay=weight_decay))
    opt_state = optimizer.init(params)

    train_dev = fnp.asarray(train_ids)
    offsets = fnp.arange(context + 1, dtype=fnp.int32)
    high = len(train_ids) - context - 1

    @fl.jit
    def train_step(params, opt_state, data, key):
        starts = random.randint(key, (batch_size, 1), 0, high)
        chunk = data[starts + offsets]                       # (batch, context + 1)
        x, y = chunk[:, :-1], chunk[:, 1:]
        loss, grads = fl.value_and_grad(lambda p: sequence_loss(model, p, x, y))(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return nn.optim.apply_updates(params, updates), opt_state, loss

    evaluate = make_evaluate(model)
    print(f"unigram baseline (validation): {baseline:.4f} nats/char")
    start = time.perf_counter()
    recent, history = [], []
    for step in range(1, steps + 1):
        key, sub = random.split(key)
        params, opt_state, loss = train_step(params, opt_state, train_dev, sub)
        recent.append(loss)
        if step % log_every == 0 or step == steps:
            mean = float(np.mean([float(l) for l in recent]))
            recent = []
            history.append((step, mean))
            print(f"step {step:5d}  train loss {mean:.4f}  "
                  f"({time.perf_counter() - start:.0f}s)", flush=True)
    seconds = time.perf_counter() - start

    val_loss = evaluate(params, x_val, y_val)
    print(f"trained {steps} steps in {seconds:.1f}s")
    print(f"validation loss {val_loss:.4f} nats/char  (unigram baseline {baseline:.4f}; "
          f"{val_loss / math.log(2):.3f} bits/char)")

    sample_key = random.fold_in(random.PRNGKey(seed), 1)
    text = decode(make_sampler(model)(params, sample_key, encode(prompt), sample_chars,
                                      temperature))
    print(f"--- sample (temperature {temperature}) ---\n{prompt}{text}\n---")

    result = {"baseline": baseline, "val_loss": val_loss, "sample": prompt + text,
              "seconds": seconds, "steps": steps, "train_loss_history": history,
              "params": params, "config": config}
    if save_pretrained:
        # Stored in bfloat16 (half the bytes); the loss of the rounded weights is recorded.
        stored = to_dtype(params, PRETRAINED_DTYPE)
        stored_loss = evaluate(to_dtype(stored, fnp.float32), x_val, y_val)
        slice_loss = evaluate(to_dtype(stored, fnp.float32), *eval_windows(val_ids, context,
                                                                             SLICE_WINDOWS))
        nn.checkpoints.save(save_pretrained, stored, metadata={
            "vocab": VOCAB, "config": config, "val_loss": stored_loss,
            "val_loss_float32": val_loss, f"val_loss_first_{SLICE_WINDOWS}_windows": slice_loss,
            "baseline": baseline, "dtype": PRETRAINED_DTYPE, "steps": steps, "seed": seed,
            "batch_size": batch_size, "learning_rate": learning_rate,
            "train_fraction": 0.9, "prompt": prompt, "sample": prompt + text})
        print(f"saved the parameters ({PRETRAINED_DTYPE}) to "
              f"{os.path.normpath(save_pretrained)}: validation loss {stored_loss:.4f} after "
              f"rounding (float32: {val_loss:.4f})")
        result["stored_val_loss"] = stored_loss
    return result


PRETRAINED_DTYPE = "bfloat16"
SLICE_WINDOWS = 64       # the test checks the loss on the first 64 validation windows


def to_dtype(tree, dtype):
    return fl.tree.map(lambda a: fnp.asarray(a).astype(dtype), tree)


def load_pretrained(directory):
    """``(model, float32 params, metadata)`` from a ``--save-pretrained`` checkpoint."""
    meta = nn.checkpoints.metadata(directory)
    if meta["vocab"] != VOCAB:
        raise ValueError(f"{directory}: the checkpoint's vocabulary differs from VOCAB")
    model = make_model(meta["config"], len(meta["vocab"]))
    like = to_dtype(init_params(model), meta["dtype"])
    params = to_dtype(nn.checkpoints.restore(directory, like=like), fnp.float32)
    return model, params, meta


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save-pretrained", metavar="DIR", default=None,
                        help="write the trained parameters (bfloat16) and metadata here")
    args = parser.parse_args()
    main(steps=args.steps, seed=args.seed, save_pretrained=args.save_pretrained)
