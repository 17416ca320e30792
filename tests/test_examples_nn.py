"""The nn examples (MLP on digits, DP-SGD, MAML) run small and still show their effect."""
import importlib.util
import pathlib

import numpy as np

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite import random

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _load(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_mlp_digits_hand_written_loop():
    metrics = _load("mlp_digits").main(epochs=8)
    assert metrics["test_accuracy"] >= 0.93, metrics


def test_dp_sgd_private_and_non_private():
    metrics = _load("dp_sgd").main(epochs=8)
    assert metrics["private_accuracy"] > 0.6, metrics
    assert metrics["non_private_accuracy"] > 0.9, metrics
    assert 0 < metrics["epsilon"] < 100, metrics


def test_dp_sgd_private_gradient_clips_and_reduces_to_the_mean_gradient():
    dp = _load("dp_sgd")
    model = dp.make_model()
    x = random.uniform(random.PRNGKey(0), (16, 64))
    y = fnp.arange(16, dtype=fnp.int32) % 10
    params, _ = model.init(random.PRNGKey(1), x[:1])

    def example_loss(p, xi, yi):
        logits, _ = model.apply(p, xi[None])
        return dp.nn.losses.softmax_cross_entropy_with_integer_labels(logits, yi[None])[0]

    def mean_loss(p):
        return fnp.mean(fl.vmap(example_loss, in_axes=(None, 0, 0))(p, x, y))

    key = random.PRNGKey(2)
    private = fl.jit(lambda p, c: dp.private_gradient(example_loss, p, x, y, key, c, 0.0))
    # No clipping (huge C) and no noise: the plain mean gradient.
    g, norms = private(params, 1e6)
    want = fl.jit(fl.grad(mean_loss))(params)
    for a, b in zip(fl.tree.leaves(g), fl.tree.leaves(want)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-6)
    # Clipping to C, no noise: every example contributes at most C, so |mean| <= C.
    c = 0.5 * float(np.min(np.asarray(norms)))
    g, _ = private(params, c)
    total = np.sqrt(sum(float(np.sum(np.asarray(v) ** 2)) for v in fl.tree.leaves(g)))
    assert total <= c * (1 + 1e-5)


def test_dp_sgd_epsilon_matches_tensorflow_privacy():
    # TF Privacy's MNIST tutorial: N=60000, batch 256, noise 1.1, 60 epochs, delta 1e-5
    # reports epsilon = 3.01 (its orders are a superset of ours; ours are integer only).
    dp = _load("dp_sgd")
    eps, _ = dp.rdp_epsilon(256 / 60000, 1.1, int(60 * 60000 / 256), 1e-5)
    assert abs(eps - 3.01) < 0.02, eps


def test_maml_adaptation_lowers_the_query_loss():
    metrics = _load("maml_sine").main(meta_steps=800, eval_tasks=50, log_every=400)
    assert metrics["post_1_step_loss"] < 0.9 * metrics["pre_adaptation_loss"], metrics
    assert metrics["post_5_steps_loss"] < metrics["pre_adaptation_loss"], metrics
