"""An MLP on scikit-learn's bundled 8x8 digits with a hand-written training loop: one
``fl.jit``-compiled step built from ``fl.value_and_grad`` and ``nn.optim.adamw``, and a
fresh ``random.permutation`` of the training set each epoch.

    python examples/mlp_digits.py [--epochs N] [--seed S]

``nn.fit`` (see ``examples/demo.py``) does all of this for you; this file shows the pieces.
"""
import argparse
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite import nn, random


def load_data():
    """Flat 64-pixel images scaled to [0, 1] (the pixels are 0..16) and integer labels;
    25% held out for the test (sklearn's split with random_state=0)."""
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int32)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=0)
    return (x_train, y_train), (x_test, y_test)


def make_mlp(hidden=(256, 128), classes=10):
    layers = []
    for width in hidden:
        layers += [nn.Dense(width), nn.relu]
    layers.append(nn.Dense(classes))
    return nn.Sequential(layers)


def main(epochs: int = 40, batch_size: int = 64, learning_rate: float = 2e-3,
         weight_decay: float = 1e-4, seed: int = 0, log_every: int = 5) -> dict:
    (x_train, y_train), (x_test, y_test) = load_data()
    # The whole training set lives on the device once; a step gathers its batch there.
    x_train, y_train = fnp.asarray(x_train), fnp.asarray(y_train)
    x_test, y_test = fnp.asarray(x_test), fnp.asarray(y_test)
    n = x_train.shape[0]
    steps_per_epoch = n // batch_size  # the last partial batch is dropped: shapes stay static

    model = make_mlp()
    key = random.PRNGKey(seed)
    init_key, key = random.split(key)
    params, _ = model.init(init_key, x_train[:1])  # an MLP keeps no state: _ == {}
    optimizer = nn.optim.adamw(learning_rate, weight_decay=weight_decay)
    opt_state = optimizer.init(params)
    print(f"MLP 64-256-128-10 ({nn.count_params(params)} parameters) on "
          f"{n} training / {x_test.shape[0]} test digits, {fl.default_backend()}")

    def loss_fn(params, x, y):
        logits, _ = model.apply(params, x)
        return fnp.mean(nn.losses.softmax_cross_entropy_with_integer_labels(logits, y))

    @fl.jit
    def train_step(params, opt_state, x_all, y_all, idx):
        x, y = x_all[idx], y_all[idx]
        loss, grads = fl.value_and_grad(loss_fn)(params, x, y)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return nn.optim.apply_updates(params, updates), opt_state, loss

    @fl.jit
    def evaluate(params, x, y):
        logits, _ = model.apply(params, x)
        loss = fnp.mean(nn.losses.softmax_cross_entropy_with_integer_labels(logits, y))
        return loss, nn.metrics.accuracy(logits, y)

    start = time.perf_counter()
    epoch_loss = float("nan")
    for epoch in range(1, epochs + 1):
        key, perm_key = random.split(key)
        perm = random.permutation(perm_key, n)
        losses = []
        for i in range(steps_per_epoch):
            idx = perm[i * batch_size:(i + 1) * batch_size]
            params, opt_state, loss = train_step(params, opt_state, x_train, y_train, idx)
            losses.append(loss)
        epoch_loss = float(np.mean([float(l) for l in losses]))
        if epoch % log_every == 0 or epoch == 1 or epoch == epochs:
            test_loss, test_acc = evaluate(params, x_test, y_test)
            print(f"epoch {epoch:3d}  train loss {epoch_loss:.4f}  "
                  f"test loss {float(test_loss):.4f}  test acc {float(test_acc):.4f}")
    seconds = time.perf_counter() - start

    train_loss, train_acc = evaluate(params, x_train, y_train)
    test_loss, test_acc = evaluate(params, x_test, y_test)
    metrics = {"train_loss": float(train_loss), "train_accuracy": float(train_acc),
               "test_loss": float(test_loss), "test_accuracy": float(test_acc),
               "epochs": epochs, "seconds": seconds}
    print(f"trained {epochs} epochs ({epochs * steps_per_epoch} steps) in {seconds:.1f}s")
    print(f"final test accuracy: {metrics['test_accuracy']:.4f}")
    return metrics


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    main(epochs=args.epochs, seed=args.seed)
