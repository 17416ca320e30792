"""MAML (Finn, Abbeel & Levine, 2017) on sine-wave regression: meta-learn an initialisation
from which ONE gradient step on K=10 points fits a new sine wave.

    python examples/maml_sine.py [--steps N] [--seed S]

A task is ``y = A sin(x - phase)`` with ``A ~ U[0.1, 5]``, ``phase ~ U[0, pi]`` and inputs
``x ~ U[-5, 5]``; each task gives K support points (to adapt on) and K query points (to
judge the adapted model on). For meta-parameters ``theta`` and step size ``alpha``:

    inner:  theta_i' = theta - alpha * grad(L_support_i)(theta)
    outer:  meta_loss(theta) = mean_i L_query_i(theta_i')

``fl.grad(meta_loss)`` differentiates THROUGH the inner ``fl.grad`` (second order: the
Hessian-vector products of the inner loss appear in the meta-gradient), and the mean over
tasks is a ``fl.vmap`` over a meta-batch. The outer optimizer is Adam.
"""
import argparse
import math
import time

import numpy as np

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite import nn, random, tree

AMPLITUDE = (0.1, 5.0)
PHASE = (0.0, math.pi)
X_RANGE = (-5.0, 5.0)


def make_model():
    """The paper's regressor: 1 -> 40 -> 40 -> 1 with ReLUs."""
    return nn.Sequential([nn.Dense(40), nn.relu, nn.Dense(40), nn.relu, nn.Dense(1)])


def sample_tasks(key, num_tasks: int, k_support: int, k_query: int):
    """``num_tasks`` sine tasks: support ``(x, y)`` of shape ``(num_tasks, k_support, 1)``
    and query ``(x, y)`` of shape ``(num_tasks, k_query, 1)``, plus the amplitudes and
    phases."""
    k_amp, k_phase, k_x = random.split(key, 3)
    amp = random.uniform(k_amp, (num_tasks, 1, 1), minval=AMPLITUDE[0], maxval=AMPLITUDE[1])
    phase = random.uniform(k_phase, (num_tasks, 1, 1), minval=PHASE[0], maxval=PHASE[1])
    x = random.uniform(k_x, (num_tasks, k_support + k_query, 1),
                       minval=X_RANGE[0], maxval=X_RANGE[1])
    y = amp * fnp.sin(x - phase)
    support = (x[:, :k_support], y[:, :k_support])
    query = (x[:, k_support:], y[:, k_support:])
    return support, query


def main(meta_steps: int = 10000, meta_batch: int = 25, k_shot: int = 10,
         inner_lr: float = 0.01, outer_lr: float = 1e-3, eval_tasks: int = 200,
         eval_query: int = 100, seed: int = 0, log_every: int = 1000) -> dict:
    model = make_model()
    key = random.PRNGKey(seed)
    init_key, train_key, eval_key = random.split(key, 3)
    meta_params, _ = model.init(init_key, fnp.zeros((k_shot, 1)))
    optimizer = nn.optim.adam(outer_lr)
    opt_state = optimizer.init(meta_params)

    def mse(params, x, y):
        pred, _ = model.apply(params, x)
        return fnp.mean((pred - y) ** 2)

    def inner_update(params, x, y):
        """One SGD step on a task's support set; kept differentiable in ``params``."""
        grads = fl.grad(mse)(params, x, y)
        return tree.map(lambda p, g: p - inner_lr * g, params, grads)

    def task_meta_loss(params, support, query):
        adapted = inner_update(params, *support)
        return mse(adapted, *query)

    def meta_loss(params, support, query):
        losses = fl.vmap(task_meta_loss, in_axes=(None, 0, 0))(params, support, query)
        return fnp.mean(losses)

    @fl.jit
    def meta_step(params, opt_state, key):
        support, query = sample_tasks(key, meta_batch, k_shot, k_shot)
        loss, grads = fl.value_and_grad(meta_loss)(params, support, query)  # 2nd order
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return nn.optim.apply_updates(params, updates), opt_state, loss

    # Held-out tasks, the same for every evaluation: K support points to adapt on and
    # ``eval_query`` query points to measure the fit.
    eval_support, eval_query_set = sample_tasks(eval_key, eval_tasks, k_shot, eval_query)

    @fl.jit
    def evaluate(params):
        """Mean query MSE over the held-out tasks after 0, 1, ..., 10 inner steps."""
        def per_task(support, query):
            losses, p = [], params
            for _ in range(11):
                losses.append(mse(p, *query))
                p = inner_update(p, *support)
            return fnp.stack(losses)
        return fnp.mean(fl.vmap(per_task)(eval_support, eval_query_set), axis=0)

    print(f"MAML on sine waves: meta-batch {meta_batch} tasks, K = {k_shot}, inner lr "
          f"{inner_lr}, outer Adam {outer_lr}, {meta_steps} meta-steps; "
          f"{nn.count_params(meta_params)} parameters")
    start = time.perf_counter()
    recent = []
    for step in range(1, meta_steps + 1):
        train_key, step_key = random.split(train_key)
        meta_params, opt_state, loss = meta_step(meta_params, opt_state, step_key)
        recent.append(loss)
        if step % log_every == 0 or step == meta_steps:
            print(f"meta-step {step:5d}  mean post-adaptation query loss (last "
                  f"{len(recent)} steps) {np.mean([float(l) for l in recent]):.4f}")
            recent = []
    seconds = time.perf_counter() - start

    curve = np.asarray(evaluate(meta_params))
    metrics = {"pre_adaptation_loss": float(curve[0]), "post_1_step_loss": float(curve[1]),
               "post_5_steps_loss": float(curve[5]), "post_10_steps_loss": float(curve[10]),
               "meta_steps": meta_steps, "seconds": seconds}
    print(f"trained {meta_steps} meta-steps in {seconds:.1f}s")
    print(f"held-out tasks ({eval_tasks}, K = {k_shot} support, {eval_query} query points each), "
          f"mean query MSE:")
    print(f"  before adaptation:  {metrics['pre_adaptation_loss']:.4f}")
    print(f"  after 1 inner step: {metrics['post_1_step_loss']:.4f}")
    print(f"  after 5 steps:      {metrics['post_5_steps_loss']:.4f}")
    print(f"  after 10 steps:     {metrics['post_10_steps_loss']:.4f}")
    return metrics


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    main(meta_steps=args.steps, seed=args.seed)
