"""BatchNorm, LayerNorm, RMSNorm and GroupNorm against flax.linen (same numerics: float32
statistics, E[x^2] - E[x]^2; default epsilons on both sides) and torch.nn (independent code):
outputs, running statistics, grads wrt inputs and params, float32 and bfloat16; jit, vmap
with a named batch axis; errors. Per-example grads of a model with BatchNorm and Dropout
are in test_dropout.py."""
import functools

import flax.linen as flax_nn
import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest
import torch

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite import nn, random
from functorch_lite.nn.normalization import BatchNorm, GroupNorm, LayerNorm, RMSNorm

from helpers import rand

KEY = random.PRNGKey(0)
BF16 = np.dtype(ml_dtypes.bfloat16)
SHAPE = (4, 6, 8)
CASES = {   # (ours, flax's) with the same configuration, on inputs of SHAPE
    "layernorm": (LayerNorm(), flax_nn.LayerNorm()),
    "layernorm_2d": (LayerNorm(reduction_axes=(1, 2), use_bias=False),
                     flax_nn.LayerNorm(reduction_axes=(1, 2), use_bias=False)),
    "layernorm_2d_features": (LayerNorm(reduction_axes=(1, 2), feature_axes=(1, 2)),
                              flax_nn.LayerNorm(reduction_axes=(1, 2), feature_axes=(1, 2))),
    "rmsnorm": (RMSNorm(), flax_nn.RMSNorm()),
    "groupnorm": (GroupNorm(4), flax_nn.GroupNorm(4)),
    "groupnorm_size": (GroupNorm(num_groups=None, group_size=2, use_scale=False),
                       flax_nn.GroupNorm(num_groups=None, group_size=2, use_scale=False)),
    "groupnorm_axes": (GroupNorm(2, reduction_axes=-1), flax_nn.GroupNorm(2, reduction_axes=-1)),
}


def shapes(tree):
    return jax.tree_util.tree_map(lambda a: tuple(a.shape), tree)


def f32(a):
    return np.asarray(a).astype(np.float32)


def randomized(params, seed):
    """The same tree with random values (so scale and bias matter in the checks)."""
    leaves, treedef = jax.tree_util.tree_flatten(params)
    return jax.tree_util.tree_unflatten(
        treedef, [1.0 + rand(seed + i, *np.shape(l), scale=0.3) for i, l in enumerate(leaves)])


def close(got, want, dtype):
    """Tight for float32; bfloat16 within a few roundings of the largest value."""
    got, want = f32(got), f32(want)
    assert got.shape == want.shape
    atol = 2e-5 if dtype == np.float32 else 4e-2 * max(1.0, np.abs(want).max())
    np.testing.assert_allclose(got, want, rtol=2e-5 if dtype == np.float32 else 0, atol=atol)


def ours_loss(model, params, x, w, **kw):
    y, _ = model.apply(params, x, **kw)
    return fnp.sum(y.astype(fnp.float32) * w)


@pytest.mark.parametrize("name,dtype", [(n, np.float32) for n in CASES] + [
    (n, BF16) for n in ("layernorm", "layernorm_2d_features", "rmsnorm", "groupnorm")])
def test_forward_and_grads_match_flax(name, dtype):
    ours, theirs = CASES[name]
    if dtype != np.float32:
        ours = type(ours)(**{**vars(ours), "dtype": fnp.bfloat16})
        theirs = theirs.clone(dtype=jnp.bfloat16)
    x, w = (rand(1, *SHAPE) * 2 + 0.5).astype(dtype), rand(2, *SHAPE)
    params, state = ours.init(KEY, x)
    assert state == {}
    assert shapes(params) == shapes(jax.eval_shape(theirs.init, jax.random.PRNGKey(0),
                                                   x)["params"])
    params = randomized(params, 10)

    def flax_loss(p, x):
        y = theirs.apply({"params": p}, x)
        return jnp.sum(y.astype(jnp.float32) * w), y
    # one compiled program per side (the torch tests run our layers eagerly)
    ours_fn = fl.value_and_grad(lambda p, x: (ours_loss(ours, p, x, w), ours.apply(p, x)[0]),
                                (0, 1), has_aux=True)
    (_, y), (g_params, g_x) = fl.jit(ours_fn)(params, x)
    (_, want), (w_params, w_x) = jax.jit(jax.value_and_grad(flax_loss, (0, 1), has_aux=True))(
        params, x)
    assert np.dtype(y.dtype) == np.dtype(want.dtype) == np.dtype(g_x.dtype) == np.dtype(dtype)
    close(y, want, dtype)
    close(g_x, w_x, dtype)
    for k in w_params:
        close(g_params[k], w_params[k], dtype)


TORCH_CASES = {   # our layer, torch's, whether torch wants channels first, param names
    "layernorm": (LayerNorm, lambda: torch.nn.LayerNorm(8, eps=1e-6), False,
                  {"scale": "weight", "bias": "bias"}),
    "rmsnorm": (RMSNorm, lambda: torch.nn.RMSNorm(8, eps=1e-6), False, {"scale": "weight"}),
    "groupnorm": (functools.partial(GroupNorm, 4), lambda: torch.nn.GroupNorm(4, 8, eps=1e-6),
                  True, {"scale": "weight", "bias": "bias"}),
}


@pytest.mark.parametrize("dtype", [np.float32, BF16], ids=["f32", "bf16"])
@pytest.mark.parametrize("name", list(TORCH_CASES))
def test_eager_forward_and_grads_match_torch(name, dtype):
    """Against torch's float32 autograd on the same (rounded) input of shape (N, H, W, C)."""
    make, make_torch, channels_first, names = TORCH_CASES[name]
    ours, module = make(**({} if dtype == np.float32 else {"dtype": fnp.bfloat16})), make_torch()
    x, w = (rand(4, 2, 5, 3, 8) * 2 + 1).astype(dtype), rand(3, 2, 5, 3, 8)
    params = randomized(ours.init(KEY, x)[0], 20)
    y, _ = ours.apply(params, x)
    g_params, g_x = fl.grad(lambda p, x: ours_loss(ours, p, x, w), argnums=(0, 1))(params, x)

    to_torch = (lambda t: t.permute(0, 3, 1, 2)) if channels_first else (lambda t: t)
    from_torch = (lambda t: t.permute(0, 2, 3, 1)) if channels_first else (lambda t: t)
    for ours_name, torch_name in names.items():
        getattr(module, torch_name).data = torch.tensor(np.asarray(params[ours_name]))
    xt = to_torch(torch.tensor(f32(x))).requires_grad_(True)
    yt = from_torch(module(xt))
    (yt * torch.tensor(w)).sum().backward()
    close(y, yt.detach().numpy(), dtype)
    close(g_x, from_torch(xt.grad).numpy(), dtype)
    for ours_name, torch_name in names.items():
        close(g_params[ours_name], getattr(module, torch_name).grad.numpy(), dtype)


def test_batchnorm_train_outputs_and_grads_match_torch():
    """Channels first via axis=1. Torch keeps its running statistics differently (unbiased
    variance, momentum 1 - ours), so only outputs and gradients are compared."""
    bn, module = BatchNorm(axis=1), torch.nn.BatchNorm2d(6, eps=1e-5).train()
    x0, w = rand(6, 8, 6, 4, 4), rand(7, 8, 6, 4, 4)
    params, state = bn.init(KEY, x0)
    params = randomized(params, 30)
    module.weight.data = torch.tensor(np.asarray(params["scale"]))
    module.bias.data = torch.tensor(np.asarray(params["bias"]))
    for step in range(2):
        x = rand(40 + step, *x0.shape) * (step + 1) + step
        g_params, g_x = fl.grad(lambda p, x: ours_loss(bn, p, x, w, state=state, train=True),
                                argnums=(0, 1))(params, x)
        y, state = bn.apply(params, x, state=state, train=True)
        module.zero_grad()
        xt = torch.tensor(x, requires_grad=True)
        yt = module(xt)
        (yt * torch.tensor(w)).sum().backward()
        close(y, yt.detach().numpy(), np.float32)
        for got, want in [(g_x, xt.grad), (g_params["scale"], module.weight.grad),
                          (g_params["bias"], module.bias.grad)]:
            np.testing.assert_allclose(f32(got), want.numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("kw,dtype", [({}, np.float32), ({"axis": 1, "use_scale": False},
                                                          np.float32), ({}, BF16)],
                         ids=["default", "channels_first_no_scale", "bf16"])
def test_batchnorm_training_steps_then_eval_match_flax(kw, dtype):
    kw = {"dtype": jnp.bfloat16} if dtype != np.float32 else kw
    ours, theirs = BatchNorm(**kw), flax_nn.BatchNorm(momentum=0.9, **kw)
    shape, w = (16, 6, 3, 3), rand(8, 16, 6, 3, 3)
    params, state = ours.init(KEY, np.zeros(shape, dtype))
    want_vars = jax.jit(functools.partial(theirs.init, use_running_average=True))(
        jax.random.PRNGKey(0), np.zeros(shape, dtype))
    assert shapes((params, state)) == shapes((want_vars["params"], want_vars["batch_stats"]))
    params, stats = randomized(params, 50), want_vars["batch_stats"]
    flax_train = jax.jit(functools.partial(theirs.apply, use_running_average=False,
                                           mutable=["batch_stats"]))
    for step in range(3):
        x = (rand(60 + step, *shape) * (1 + step) + 2 * step).astype(dtype)
        y, state = ours.apply(params, x, state=state, train=True)
        want, stats = flax_train({"params": params, "batch_stats": stats}, x)
        stats = stats["batch_stats"]
        assert np.dtype(y.dtype) == np.dtype(dtype)
        close(y, want, dtype)
        for k in ("mean", "var"):
            assert state[k].dtype == fnp.float32
            np.testing.assert_allclose(f32(state[k]), f32(stats[k]), rtol=1e-5, atol=1e-5)

    g_params, g_x = fl.grad(lambda p, x: ours_loss(ours, p, x, w, state=state, train=True),
                            argnums=(0, 1))(params, x)
    w_params, w_x = jax.jit(jax.grad(lambda p, x: jnp.sum(flax_train(
        {"params": p, "batch_stats": stats}, x)[0].astype(jnp.float32) * w),
        argnums=(0, 1)))(params, x)
    for got, want in [(g_x, w_x)] + [(g_params[k], w_params[k]) for k in w_params]:
        close(got, want, dtype)

    x = (rand(70, *shape) * 2 + 1).astype(dtype)
    y, after = ours.apply(params, x, state=state)                     # eval
    close(y, jax.jit(functools.partial(theirs.apply, use_running_average=True))(
        {"params": params, "batch_stats": stats}, x), dtype)
    assert all(np.array_equal(after[k], state[k]) for k in state)


def test_batchnorm_state_rules():
    bn, x = BatchNorm(), rand(9, 10, 3) * 4 + 2
    params, state = bn.init(KEY, x, train=True)          # init leaves the statistics alone
    np.testing.assert_array_equal(np.stack([state["mean"], state["var"]]), [[0] * 3, [1] * 3])
    y1, s1 = bn.apply(params, x, state=state, train=True)
    np.testing.assert_allclose(s1["mean"], 0.1 * x.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(s1["var"], 0.9 + 0.1 * x.var(0), rtol=1e-5)
    np.testing.assert_allclose(y1, (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5), atol=1e-4)
    # the call's use_running_average (Flax's argument) overrides train=
    y2, s2 = bn.apply(params, x, state=s1, train=True, use_running_average=True)
    np.testing.assert_array_equal(s2["mean"], s1["mean"])
    np.testing.assert_allclose(y2, (x - s1["mean"]) / np.sqrt(s1["var"] + 1e-5), atol=1e-5)


def test_batchnorm_bfloat16_statistics_are_float32():
    """Summing 4096 values near 100 in bfloat16 would be off by far more than 0.5%."""
    x, bn = (100 + rand(11, 4096, 2)).astype(BF16), BatchNorm(momentum=0.0)
    params, state = bn.init(KEY, x)
    y, state = bn.apply(params, x, state=state, train=True)
    assert y.dtype == fnp.float32                    # bf16 input, f32 params, dtype=None
    np.testing.assert_allclose(f32(state["mean"]), f32(x).mean(0), rtol=1e-5)
    np.testing.assert_allclose(f32(state["var"]), f32(x).var(0), rtol=5e-3)


def test_batchnorm_under_jit_threads_state():
    model = nn.Sequential([nn.Dense(4), BatchNorm(), nn.relu])
    params, state0 = model.init(KEY, rand(12, 8, 3))
    step = fl.jit(lambda p, s, x: model.apply(p, x, state=s, train=True))
    state = eager_state = state0
    for i in range(3):
        x = rand(80 + i, 8, 3) + i
        y, state = step(params, state, x)
        y_eager, eager_state = model.apply(params, x, state=eager_state, train=True)
        for got, want in zip(fl.tree.leaves((y, state)), fl.tree.leaves((y_eager, eager_state))):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert not np.allclose(state["1"]["mean"], state0["1"]["mean"])
    y, _ = fl.jit(lambda p, s, x: model.apply(p, x, state=s))(params, state, x)
    np.testing.assert_allclose(y, model.apply(params, x, state=state)[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("chunk", [1, 4])
def test_batchnorm_axis_name_under_vmap_matches_full_batch(chunk):
    """Per-example (chunk=1) or per-shard (chunk=4) code with axis_name normalizes with the
    whole batch's statistics, and every copy of the new state is the full batch's."""
    x = rand(13, 16, 5) * 3 + 1
    params, state = BatchNorm().init(KEY, x)
    params = randomized(params, 90)
    want, want_state = BatchNorm().apply(params, x, state=state, train=True)
    bn = BatchNorm(axis_name="batch")
    run = fl.vmap(lambda xb: bn.apply(params, xb, state=state, train=True), axis_name="batch")
    y, new_state = run(x.reshape(16 // chunk, chunk, 5))
    np.testing.assert_allclose(f32(y).reshape(16, 5), want, rtol=1e-4, atol=1e-5)
    for k in ("mean", "var"):
        np.testing.assert_allclose(new_state[k], np.broadcast_to(want_state[k], (16 // chunk, 5)),
                                   rtol=1e-5, atol=1e-6)
    # in eval no collective runs and the running statistics are used
    y, _ = fl.vmap(lambda xb: bn.apply(params, xb, state=state), axis_name="batch")(x)
    np.testing.assert_allclose(y, BatchNorm().apply(params, x, state=state)[0], rtol=1e-5)


def _apply_with(layer, made_for, shape):
    """``layer`` applied to an input of ``shape`` with the params and state it made for
    inputs of ``made_for`` (as if they came from another model)."""
    params, state = layer.init(KEY, rand(16, *made_for))
    return layer.apply(params, rand(16, *shape), state=state)


ERRORS = [
    (lambda: nn.Sequential([nn.Dense(8), LayerNorm()]).apply(
        {"0": nn.Dense(8).init(KEY, rand(16, 2, 3))[0],
         "1": LayerNorm().init(KEY, rand(16, 2, 5))[0]}, rand(16, 2, 3)),
     r"Sequential\[1\] \(LayerNorm\): expected feature size 5 on axis 1, got 8; input shape "
     r"\(2, 8\)"),
    (lambda: _apply_with(BatchNorm(use_scale=False, use_bias=False), (2, 4), (2, 3)),
     r"BatchNorm: expected feature size 4 on axis 1, got 3; input shape \(2, 3\)"),
    (lambda: _apply_with(GroupNorm(2), (2, 3, 4), (2, 3, 6)),
     r"GroupNorm: expected feature size 4 on axis 2, got 6; input shape \(2, 3, 6\)"),
    (lambda: _apply_with(LayerNorm(feature_axes=(1, 2), reduction_axes=(1, 2)), (2, 3, 4),
                         (2, 5, 4)),
     r"expected feature sizes \(3, 4\) on axes \(1, 2\), got \(5, 4\); input shape"),
    (lambda: BatchNorm().apply(BatchNorm().init(KEY, rand(16, 2, 3))[0], rand(16, 2, 3)),
     r"BatchNorm: .*'mean'.*pass state="),
    (lambda: GroupNorm(4).init(KEY, rand(17, 2, 6)),
     r"GroupNorm: num_groups=4 does not divide the number of channels 6; input shape \(2, 6\)"),
    (lambda: GroupNorm(None, group_size=4).init(KEY, rand(17, 2, 6)),
     "group_size=4 does not divide"),
    (lambda: GroupNorm(4, group_size=2), "exactly one of num_groups and group_size"),
    (lambda: GroupNorm(0), "num_groups must be a positive int"),
    (lambda: GroupNorm(2, reduction_axes=(1,)).init(KEY, rand(17, 2, 3, 4)),
     "must include the last axis"),
    (lambda: BatchNorm(momentum=1.5), r"BatchNorm: momentum must be in \[0, 1\]"),
    (lambda: LayerNorm(epsilon=-1.0), "LayerNorm: epsilon must be >= 0"),
    (lambda: LayerNorm(reduction_axes=3).init(KEY, rand(17, 2, 6)),
     r"LayerNorm: axis 3 is out of range for an input of rank 2; input shape \(2, 6\)"),
]


@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_errors_are_clear(i):
    make, message = ERRORS[i]
    with pytest.raises(ValueError, match=message):
        make()
