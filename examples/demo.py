"""Train a small MLP on scikit-learn's bundled 8x8 digits with a hand-written, jitted
training step: value_and_grad + jit + plain SGD over a params pytree.

    make demo
"""
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite import random


def init_params(key, sizes):
    """One (weights, bias) pair per layer, scaled for tanh (Glorot-style)."""
    params = []
    for k, (n_in, n_out) in zip(random.split(key, len(sizes) - 1), zip(sizes[:-1], sizes[1:])):
        w = random.normal(k, (n_in, n_out)) * np.sqrt(2.0 / (n_in + n_out))
        params.append((w, fnp.zeros(n_out)))
    return params


def predict(params, x):
    for w, b in params[:-1]:
        x = fnp.tanh(x @ w + b)
    w, b = params[-1]
    return x @ w + b                                   # logits


def loss_fn(params, x, y):
    logits = predict(params, x)
    log_probs = logits - fl.nn.logsumexp(logits, axis=1, keepdims=True)
    return -fnp.mean(fnp.take_along_axis(log_probs, y[:, None], axis=1))


@fl.jit
def train_step(params, x, y, lr):
    loss, grads = fl.value_and_grad(loss_fn)(params, x, y)
    params = fl.tree.map(lambda p, g: p - lr * g, params, grads)
    return params, loss


@fl.jit
def accuracy(params, x, y):
    return fnp.mean(fnp.argmax(predict(params, x), axis=1) == y)


def main(epochs=30, batch_size=64, lr=0.1):
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int32)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=0)
    print(f"functorch_lite on {fl.default_backend()}: {len(x_train)} training and "
          f"{len(x_test)} test images of 8x8 digits")

    key = random.PRNGKey(0)
    key, init_key = random.split(key)
    params = init_params(init_key, [64, 128, 64, 10])
    x_train_d, y_train_d = fnp.asarray(x_train), fnp.asarray(y_train)
    steps = len(x_train) // batch_size
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        key, shuffle_key = random.split(key)
        order = np.asarray(random.permutation(shuffle_key, len(x_train)))
        total = 0.0
        for i in range(steps):
            idx = order[i * batch_size:(i + 1) * batch_size]
            params, loss = train_step(params, x_train_d[idx], y_train_d[idx], lr)
            total += float(loss)
        if epoch == 1 or epoch % 5 == 0:
            acc = float(accuracy(params, fnp.asarray(x_test), fnp.asarray(y_test)))
            print(f"epoch {epoch:3d}  loss {total / steps:.4f}  test accuracy {acc:.3f}  "
                  f"({time.perf_counter() - start:.1f}s)")
    acc = float(accuracy(params, fnp.asarray(x_test), fnp.asarray(y_test)))
    print(f"final test accuracy: {acc:.3f}")
    return acc


if __name__ == "__main__":
    main()
