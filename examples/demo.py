"""Train a small CNN on scikit-learn's bundled 8x8 digits with ``nn.fit``: a progress bar,
validation each epoch, then the test accuracy, a plot of the history and a checkpoint.

    make demo                 # or: python examples/demo.py [--epochs N] [--out DIR]
"""
import argparse
import os
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite import nn, random

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "runs", "digits_cnn")


def digits_cnn():
    """Two 3x3 convolutions, a 2x2 max pool, two dense layers: about 80k parameters."""
    return nn.Sequential([
        nn.Conv(32, (3, 3)), nn.relu,
        nn.Conv(64, (3, 3)), nn.relu,
        nn.MaxPool((2, 2)),
        nn.Flatten(),
        nn.Dense(128), nn.relu,
        nn.Dropout(0.3),
        nn.Dense(10),
    ])


def load_data():
    """Images as (N, 8, 8, 1) float32 in [0, 1]; 25% held out for the test (sklearn's split,
    random_state=0), and 10% of the rest for validation."""
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[..., None]
    y = digits.target.astype(np.int32)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=0)
    x_train, x_val, y_train, y_val = train_test_split(x_train, y_train, test_size=0.1,
                                                      random_state=0)
    return (x_train, y_train), (x_val, y_val), (x_test, y_test)


def test_accuracy(model, params, state, x, y) -> float:
    logits, _ = fl.jit(lambda p, s, x: model.apply(p, x, state=s))(params, state, x)
    return float(nn.metrics.accuracy(logits, y))


def main(epochs: int = 30, out: str = OUT, progress: bool = True, seed: int = 0):
    train, val, (x_test, y_test) = load_data()
    print(f"functorch_lite on {fl.default_backend()}: {len(train[0])} training, "
          f"{len(val[0])} validation and {len(x_test)} test images of 8x8 digits")
    model = digits_cnn()
    key = random.PRNGKey(seed)
    init_key, fit_key = random.split(key)
    params, state = model.init(init_key, fnp.zeros((1, 8, 8, 1)))
    print(nn.summary(model, fnp.zeros((1, 8, 8, 1))))

    batch_size = 32
    steps = epochs * (len(train[0]) // batch_size)
    schedule = nn.schedules.warmup_cosine_decay_schedule(
        init_value=0.0, peak_value=2e-3, warmup_steps=max(steps // 20, 1), decay_steps=steps)
    optimizer = nn.optim.adamw(schedule, weight_decay=1e-4)
    plot_path = os.path.join(out, "history.png")
    start = time.perf_counter()
    result = nn.fit(model, params, state, optimizer, train, epochs=epochs,
                    batch_size=batch_size, key=fit_key, validation_data=val,
                    loss=nn.losses.softmax_cross_entropy_with_integer_labels,
                    callbacks=[nn.callbacks.PlotHistory(plot_path, "digits CNN")],
                    progress=progress)
    seconds = time.perf_counter() - start
    acc = test_accuracy(model, result.params, result.state, x_test, y_test)
    ckpt = os.path.join(out, "checkpoint")
    nn.checkpoints.save(ckpt, {"params": result.params, "state": result.state},
                        metadata={"test_accuracy": acc, "epochs": epochs})
    print(f"trained {epochs} epochs in {seconds:.1f}s")
    print(f"history plot: {os.path.normpath(plot_path)}")
    print(f"checkpoint:   {os.path.normpath(ckpt)}")
    print(f"final test accuracy: {acc:.4f}")
    return acc


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--out", default=OUT)
    args = parser.parse_args()
    main(args.epochs, args.out)
