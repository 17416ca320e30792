"""Differentially private SGD (Abadi et al., 2016) on scikit-learn's 8x8 digits, next to
the same model trained without privacy on the same budget (same steps, batches, optimizer).

    python examples/dp_sgd.py [--epochs N] [--noise-multiplier S] [--clip C]

One private step:

1. per-example gradients, ``fl.vmap(fl.grad(example_loss), in_axes=(None, 0, 0))``: one
   gradient pytree per example of the batch, each leaf with a leading batch axis;
2. each example's gradient is scaled so that its L2 norm (over all parameters together)
   is at most ``C`` (the clip norm): no one example can move the model by more than ``C``;
3. the clipped gradients are summed and Gaussian noise with standard deviation
   ``noise_multiplier * C`` is added to every coordinate of the sum;
4. the noisy sum is divided by the batch size and handed to the optimizer as the gradient.

What the noise multiplier means: the sum in step 3 changes by at most ``C`` (in L2) when
one example is added or removed, so its *sensitivity* is ``C``, and the noise is
``noise_multiplier`` times that sensitivity. A single step is then the Gaussian mechanism:
the larger the multiplier, the less one step's output can reveal about any one example,
and the more noise the optimizer has to average out. The overall guarantee (epsilon at a
chosen delta) depends on the multiplier, the sampling rate ``q = batch / N`` and the number
of steps; :func:`rdp_epsilon` gives a rough figure.
"""
import argparse
import math
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite import nn, random, tree


def load_data():
    """Flat 64-pixel images in [0, 1], integer labels; 75/25 split with random_state=0."""
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int32)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=0)
    return (x_train, y_train), (x_test, y_test)


def make_model():
    # A small network: with DP-SGD every extra parameter is one more coordinate of noise.
    return nn.Sequential([nn.Dense(64), nn.relu, nn.Dense(10)])


# ---------------------------------------------------------------------------------------
# A rough privacy figure: the Renyi-DP ("moments") accountant of the sampled Gaussian
# mechanism at integer orders (Mironov, Talwar & Zhang 2019, section 3.3; the same formula
# as TensorFlow Privacy's and Opacus's accountants at integer orders). It assumes each
# batch is a Poisson sample with rate q; this example uses shuffled fixed-size batches, as
# most DP-SGD code does, so read the number as indicative, not as a certificate.
# ---------------------------------------------------------------------------------------
def _log_a(q: float, sigma: float, alpha: int) -> float:
    """log E[(p_mix / p_0)^alpha] for the mixture (1-q) N(0, s^2) + q N(1, s^2): the sum
    over k of C(alpha, k) (1-q)^(alpha-k) q^k exp((k^2 - k) / (2 s^2)), in log space."""
    terms = [math.lgamma(alpha + 1) - math.lgamma(k + 1) - math.lgamma(alpha - k + 1)
             + (alpha - k) * math.log1p(-q) + k * math.log(q)
             + (k * k - k) / (2 * sigma ** 2) for k in range(alpha + 1)]
    top = max(terms)
    return top + math.log(sum(math.exp(t - top) for t in terms))


def rdp_epsilon(q: float, noise_multiplier: float, steps: int, delta: float,
                orders=tuple(range(2, 257))) -> tuple[float, int]:
    """(epsilon, best order) for ``steps`` compositions of the sampled Gaussian mechanism,
    via eps = steps * RDP(alpha) + log(1/delta) / (alpha - 1), minimised over alpha."""
    if noise_multiplier == 0:
        return math.inf, 0
    best = (math.inf, 0)
    for alpha in orders:
        rdp = steps * _log_a(q, noise_multiplier, alpha) / (alpha - 1)
        eps = rdp + math.log(1 / delta) / (alpha - 1)
        best = min(best, (eps, alpha))
    return best


# ---------------------------------------------------------------------------------------
# The private gradient
# ---------------------------------------------------------------------------------------
def private_gradient(example_loss, params, x, y, noise_key, clip_norm, noise_multiplier):
    """The DP-SGD gradient of a batch and each example's unclipped gradient norm.

    ``example_loss(params, x_i, y_i)`` is the loss of ONE example. Returns
    ``(sum_i clip(g_i, C) + N(0, (noise_multiplier * C)^2 I)) / batch`` as a pytree like
    ``params``, and the per-example norms ``||g_i||`` (shape ``(batch,)``)."""
    # 1. one gradient per example: every leaf gets a leading axis of size batch.
    grads = fl.vmap(fl.grad(example_loss), in_axes=(None, 0, 0))(params, x, y)
    # 2. each example's global L2 norm over all leaves; scale it down to at most C.
    leaves, treedef = tree.flatten(grads)
    norms = fnp.sqrt(sum(fnp.sum(g.reshape(g.shape[0], -1) ** 2, axis=1) for g in leaves))
    factors = fnp.minimum(1.0, clip_norm / (norms + 1e-12))
    # 3. sum the clipped gradients and add N(0, (noise_multiplier * C)^2) per coordinate.
    keys = random.split(noise_key, len(leaves))
    noisy = []
    for g, k in zip(leaves, keys):
        clipped_sum = fnp.tensordot(factors, g, axes=1)   # sum_i factor_i * g_i
        noise = noise_multiplier * clip_norm * random.normal(k, clipped_sum.shape)
        # 4. average over the (fixed) batch size.
        noisy.append((clipped_sum + noise) / x.shape[0])
    return tree.unflatten(treedef, noisy), norms


# ---------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------
def train(x_train, y_train, *, private: bool, epochs: int, batch_size: int, learning_rate,
          clip_norm: float, noise_multiplier: float, seed: int):
    model = make_model()
    key = random.PRNGKey(seed)
    init_key, key = random.split(key)
    params, _ = model.init(init_key, x_train[:1])
    optimizer = nn.optim.adam(learning_rate)
    opt_state = optimizer.init(params)
    n = x_train.shape[0]

    def example_loss(params, x, y):
        """The loss of ONE example (x: (64,), y: a scalar label)."""
        logits, _ = model.apply(params, x[None])
        return nn.losses.softmax_cross_entropy_with_integer_labels(logits, y[None])[0]

    def batch_loss(params, x, y):
        logits, _ = model.apply(params, x)
        return fnp.mean(nn.losses.softmax_cross_entropy_with_integer_labels(logits, y))

    @fl.jit
    def step(params, opt_state, x_all, y_all, idx, noise_key):
        x, y = x_all[idx], y_all[idx]
        if private:
            grads, norms = private_gradient(example_loss, params, x, y, noise_key,
                                            clip_norm, noise_multiplier)
            grad_norm = fnp.mean(norms)
        else:
            grads = fl.grad(batch_loss)(params, x, y)
            grad_norm = fnp.sqrt(sum(fnp.sum(g ** 2) for g in tree.leaves(grads)))
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return nn.optim.apply_updates(params, updates), opt_state, grad_norm

    steps_per_epoch = n // batch_size
    norms = []
    for _ in range(epochs):
        key, perm_key = random.split(key)
        perm = random.permutation(perm_key, n)
        for i in range(steps_per_epoch):
            key, noise_key = random.split(key)
            idx = perm[i * batch_size:(i + 1) * batch_size]
            params, opt_state, grad_norm = step(params, opt_state, x_train, y_train, idx,
                                                noise_key)
            norms.append(grad_norm)
    return model, params, float(np.mean([float(g) for g in norms[-steps_per_epoch:]]))


def main(epochs: int = 40, batch_size: int = 128, learning_rate: float = 1e-2,
         clip_norm: float = 1.0, noise_multiplier: float = 1.5, delta: float = 1e-5,
         seed: int = 0) -> dict:
    (x_train, y_train), (x_test, y_test) = load_data()
    x_train, y_train = fnp.asarray(x_train), fnp.asarray(y_train)
    x_test, y_test = fnp.asarray(x_test), fnp.asarray(y_test)
    n = x_train.shape[0]
    steps = epochs * (n // batch_size)
    print(f"{n} training / {x_test.shape[0]} test digits; {epochs} epochs of batch "
          f"{batch_size} = {steps} steps; clip norm C = {clip_norm}, "
          f"noise multiplier = {noise_multiplier} (noise std {noise_multiplier * clip_norm})")

    results = {}
    for private in (True, False):
        name = "private" if private else "non_private"
        start = time.perf_counter()
        model, params, mean_norm = train(
            x_train, y_train, private=private, epochs=epochs, batch_size=batch_size,
            learning_rate=learning_rate, clip_norm=clip_norm,
            noise_multiplier=noise_multiplier, seed=seed)
        seconds = time.perf_counter() - start
        logits, _ = fl.jit(model.apply)(params, x_test)
        acc = float(nn.metrics.accuracy(logits, y_test))
        results[f"{name}_accuracy"] = acc
        results[f"{name}_seconds"] = seconds
        what = "mean per-example grad norm" if private else "mean batch grad norm"
        print(f"{name:>11}: test accuracy {acc:.4f}  ({seconds:.1f}s; last epoch's "
              f"{what} {mean_norm:.3f})")

    q = batch_size / n
    eps, order = rdp_epsilon(q, noise_multiplier, steps, delta)
    results.update(epsilon=eps, delta=delta, steps=steps, sampling_rate=q)
    print(f"rough privacy: epsilon = {eps:.2f} at delta = {delta:g} (RDP order {order}, "
          f"q = {q:.4f}, {steps} steps; assumes Poisson sampling)")
    print(f"final test accuracy: private {results['private_accuracy']:.4f}, "
          f"non-private {results['non_private_accuracy']:.4f}")
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--clip", type=float, default=1.0)
    parser.add_argument("--noise-multiplier", type=float, default=1.5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    main(epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.lr, clip_norm=args.clip,
         noise_multiplier=args.noise_multiplier, seed=args.seed)
