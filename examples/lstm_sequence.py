"""An LSTM learns the "adding problem" (Hochreiter & Schmidhuber, 1997): each time step
carries a random number in [0, 1) and a marker bit; exactly two steps are marked, one in
each half of the sequence, and the target is the sum of the two marked numbers. The model
has to remember the first number across the sequence while ignoring everything else.

    python examples/lstm_sequence.py [--steps N] [--length T] [--seed S]

Predicting the mean (1.0) whatever the input scores a mean squared error of
Var(U + U') = 1/6 ~ 0.167: the baseline to beat. The model is ``nn.RNN(nn.LSTMCell(...))``
(a ``lax.scan`` over time) and a ``Dense(1)`` on the last output; every training step
draws a fresh batch on the device inside the jitted step, and a fixed held-out set
measures the result.
"""
import argparse
import time

import numpy as np

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite import nn, random

BASELINE_MSE = 1.0 / 6.0        # Var(U(0,1) + U(0,1)), the error of always predicting 1.0


def adding_batch(key, batch: int, length: int):
    """Inputs ``(batch, length, 2)``: [value, marker]; targets ``(batch,)``: the sum of the
    two marked values (one marked step in each half of the sequence)."""
    k_val, k_first, k_second = random.split(key, 3)
    values = random.uniform(k_val, (batch, length))
    half = length // 2
    first = random.randint(k_first, (batch, 1), 0, half)
    second = random.randint(k_second, (batch, 1), half, length)
    t = fnp.arange(length)[None, :]
    markers = ((t == first) | (t == second)).astype(fnp.float32)
    targets = fnp.sum(values * markers, axis=1)
    return fnp.stack([values, markers], axis=-1), targets


class AddingLSTM(nn.Module):
    """LSTM over the sequence, then a linear read-out of the last hidden state."""

    def __init__(self, hidden: int = 64):
        self.rnn = nn.RNN(nn.LSTMCell(hidden))
        self.head = nn.Dense(1)

    def __call__(self, x):
        h = self.rnn(x)                     # (batch, time, hidden)
        return self.head(h[:, -1])[:, 0]    # (batch,)


def main(steps: int = 2000, length: int = 100, hidden: int = 64, batch_size: int = 64,
         learning_rate: float = 1e-2, seed: int = 0, test_size: int = 2000,
         log_every: int = 250) -> dict:
    model = AddingLSTM(hidden)
    key = random.PRNGKey(seed)
    init_key, test_key, key = random.split(key, 3)
    x_test, y_test = adding_batch(test_key, test_size, length)
    params, _ = model.init(init_key, x_test[:1])
    print(f"functorch_lite on {fl.default_backend()}: LSTM({hidden}) "
          f"({nn.count_params(params)} parameters) on the adding problem, length {length}")

    schedule = nn.schedules.warmup_cosine_decay_schedule(
        init_value=0.0, peak_value=learning_rate, warmup_steps=max(steps // 20, 1),
        decay_steps=steps, end_value=learning_rate / 100)
    optimizer = nn.optim.chain(nn.optim.clip_by_global_norm(1.0), nn.optim.adam(schedule))
    opt_state = optimizer.init(params)

    def mse(params, x, y):
        pred, _ = model.apply(params, x)
        return fnp.mean((pred - y) ** 2)

    @fl.jit
    def train_step(params, opt_state, key):
        x, y = adding_batch(key, batch_size, length)
        loss, grads = fl.value_and_grad(mse)(params, x, y)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return nn.optim.apply_updates(params, updates), opt_state, loss

    evaluate = fl.jit(mse)
    test_mse0 = float(evaluate(params, x_test, y_test))
    print(f"baseline (predict 1.0): MSE {BASELINE_MSE:.4f}; untrained model: "
          f"{test_mse0:.4f}")
    start = time.perf_counter()
    recent, history = [], []
    for step in range(1, steps + 1):
        key, sub = random.split(key)
        params, opt_state, loss = train_step(params, opt_state, sub)
        recent.append(loss)
        if step % log_every == 0 or step == steps:
            train = float(np.mean([float(l) for l in recent]))
            recent = []
            history.append((step, train))
            print(f"step {step:5d}  train MSE {train:.4f}  test MSE "
                  f"{float(evaluate(params, x_test, y_test)):.4f}  "
                  f"({time.perf_counter() - start:.0f}s)", flush=True)
    seconds = time.perf_counter() - start
    test_mse = float(evaluate(params, x_test, y_test))
    print(f"trained {steps} steps in {seconds:.1f}s")
    print(f"test MSE {test_mse:.4f} vs baseline {BASELINE_MSE:.4f} "
          f"({BASELINE_MSE / test_mse:.0f}x lower)")
    return {"test_mse": test_mse, "baseline_mse": BASELINE_MSE,
            "untrained_mse": test_mse0, "steps": steps, "seconds": seconds,
            "train_mse_history": history}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--length", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    main(steps=args.steps, length=args.length, seed=args.seed)
