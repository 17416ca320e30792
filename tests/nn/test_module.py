"""The module mechanism (paths, sharing, state, rngs, errors), Dense, Sequential and the
initializers, with Flax, PyTorch and jax.nn.initializers as oracles."""
import pathlib
import tomllib

import flax.linen as flax_nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite import lax, nn, random

from helpers import rand, run_python

ROOT = pathlib.Path(__file__).resolve().parents[2]
KEY = random.PRNGKey(0)


def shapes(tree):
    return fl.tree.map(lambda a: tuple(a.shape), tree)


# -- packaging ------------------------------------------------------------------------------

def test_nn_is_functorch_lite_nn_and_a_user_nn_py_is_left_alone(tmp_path):
    (tmp_path / "nn.py").write_text("WHO = 'user'\n")
    code = ("import nn, functorch_lite.nn as fnn, functorch_lite as fl\n"
            "from functorch_lite.nn import relu, Dense\n"
            "assert nn.WHO == 'user', nn\n"
            "assert fl.nn is fnn and fnn.Dense is Dense\n"
            "print(fnn.__name__)\n")
    assert run_python(code, tmp_path, timeout=120).strip() == "functorch_lite.nn"


def test_installed_packages_are_exactly_the_folders():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert config["package-dir"] == {"functorch_lite.nn": "nn"}
    on_disk = set()
    for top in ("functorch_lite", "xla_bridge", "nn"):
        for init in (ROOT / top).rglob("__init__.py"):
            parts = init.parent.relative_to(ROOT).parts
            name = ".".join(parts)
            on_disk.add("functorch_lite." + name if parts[0] == "nn" else name)
    assert set(config["packages"]) == on_disk
    assert {p.split(".")[0] for p in config["packages"]} == {"functorch_lite", "xla_bridge"}


# -- paths, sharing, state ------------------------------------------------------------------

class Block(nn.Module):
    def __init__(self, width):
        self.dense = nn.Dense(width)
        self.norm_scale = 2.0

    def __call__(self, x):
        return nn.relu(self.dense(x)) * self.norm_scale


class Net(nn.Module):
    def __init__(self):
        self.encoder = Block(6)
        self.heads = [nn.Dense(2), nn.Dense(3)]
        self.shared = nn.Dense(6)

    def __call__(self, x):
        h = self.encoder(x)
        h = self.shared(self.shared(h))          # used twice: one set of parameters
        return [head(h) for head in self.heads] + [nn.Dense(4)(h)]


def test_parameter_paths_follow_attribute_names():
    params, state = Net().init(KEY, fnp.ones((3, 5)))
    assert state == {}
    assert shapes(params) == {
        "encoder": {"dense": {"kernel": (5, 6), "bias": (6,)}},
        "heads_0": {"kernel": (6, 2), "bias": (2,)},
        "heads_1": {"kernel": (6, 3), "bias": (3,)},
        "shared": {"kernel": (6, 6), "bias": (6,)},
        "Dense_0": {"kernel": (6, 4), "bias": (4,)},
    }


def test_apply_equals_hand_written_forward_with_shared_weights():
    x = rand(0, 3, 5)
    params, _ = Net().init(KEY, x)
    outs, state = Net().apply(params, x)
    assert state == {}
    p = fl.tree.map(np.asarray, params)
    dense = lambda q, h: h @ q["kernel"] + q["bias"]  # noqa: E731
    h = np.maximum(dense(p["encoder"]["dense"], x), 0) * 2.0
    h = dense(p["shared"], dense(p["shared"], h))
    want = [dense(p["heads_0"], h), dense(p["heads_1"], h), dense(p["Dense_0"], h)]
    for got, w in zip(outs, want):
        np.testing.assert_allclose(np.asarray(got), w, rtol=1e-5, atol=1e-5)


def test_parameters_do_not_depend_on_call_order_and_keys_differ():
    params, _ = Net().init(KEY, fnp.ones((3, 5)))
    again, _ = Net().init(KEY, fnp.ones((3, 5)))
    other, _ = Net().init(random.PRNGKey(1), fnp.ones((3, 5)))
    k = np.asarray(params["heads_0"]["kernel"])
    np.testing.assert_array_equal(k, np.asarray(again["heads_0"]["kernel"]))
    assert not np.allclose(k, np.asarray(other["heads_0"]["kernel"]))
    assert not np.allclose(np.asarray(params["heads_0"]["kernel"]),
                           np.asarray(params["heads_1"]["kernel"])[:, :2])


class Counter(nn.Module):
    """Counts its calls in training; adds a parameter offset."""

    def __call__(self, x):
        count = self.state("count", lambda: fnp.zeros((), fnp.int32))
        offset = self.param("offset", nn.initializers.ones, (x.shape[-1],))
        if self.is_training and not self.is_initializing:
            count.value = count.value + 1
        return x + offset + count.value


def test_state_is_read_written_and_returned():
    model = nn.Sequential([nn.Dense(4), Counter()])
    x = fnp.ones((2, 3))
    params, state = model.init(KEY, x)
    assert shapes(state) == {"1": {"count": ()}}
    y0, s1 = model.apply(params, x, state=state, train=True)
    assert int(s1["1"]["count"]) == 1 and int(state["1"]["count"]) == 0   # pure
    y1, s2 = model.apply(params, x, state=s1, train=True)
    assert int(s2["1"]["count"]) == 2
    # (y + 2) - (y + 1) rounds to 1 only up to y's last bit (on a GPU it is 1.0000002)
    np.testing.assert_allclose(np.asarray(y1) - np.asarray(y0), 1.0, rtol=1e-6)
    _, s3 = model.apply(params, x, state=s2)                            # eval: no update
    assert int(s3["1"]["count"]) == 2
    with pytest.raises(ValueError, match=r"Sequential\[1\] \(Counter\).*state="):
        model.apply(params, x)


def test_state_threads_through_jit_and_scan():
    model = nn.Sequential([Counter()])
    params, state = model.init(KEY, fnp.ones((3,)))

    @fl.jit
    def run(params, state, xs):
        def body(s, x):
            y, s = model.apply(params, x, state=s, train=True)
            return s, y
        return lax.scan(body, state, xs)

    state, ys = run(params, state, fnp.zeros((5, 3)))
    assert int(state["0"]["count"]) == 5
    np.testing.assert_allclose(np.asarray(ys)[:, 0], [2, 3, 4, 5, 6])


class TrainFlag(nn.Module):
    def __call__(self, x, train=False):
        return x * (2.0 if train else 1.0)


def test_apply_passes_train_and_extra_arguments_to_call():
    model = TrainFlag()
    params, _ = model.init(KEY, fnp.ones(2))
    assert params == {}
    np.testing.assert_allclose(np.asarray(model.apply(params, fnp.ones(2), train=True)[0]), 2)
    np.testing.assert_allclose(np.asarray(model.apply(params, fnp.ones(2))[0]), 1)


class Noisy(nn.Module):
    def __call__(self, x):
        return x + random.normal(self.make_rng(), x.shape) if self.is_training else x


def test_rngs_per_layer_and_the_missing_rng_error():
    model = nn.Sequential([Noisy(), Noisy()])
    params, _ = model.init(KEY, fnp.zeros(3))
    a, _ = model.apply(params, fnp.zeros(3), rng=KEY, train=True)
    b, _ = model.apply(params, fnp.zeros(3), rng=KEY, train=True)
    c, _ = model.apply(params, fnp.zeros(3), rng=random.PRNGKey(7), train=True)
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert not np.allclose(np.asarray(a), np.asarray(c))
    with pytest.raises(ValueError, match=r"Sequential\[0\] \(Noisy\).*rng="):
        model.apply(params, fnp.zeros(3), train=True)


# -- errors ---------------------------------------------------------------------------------

def test_errors_name_the_layer_and_both_shapes():
    model = nn.Sequential([nn.Dense(64), nn.relu, nn.Dense(10)])
    params, _ = model.init(KEY, fnp.ones((32, 64)))
    with pytest.raises(ValueError) as err:
        model.apply(params, fnp.ones((32, 10)))
    assert str(err.value) == ("Sequential[0] (Dense): expected input feature size 64, got "
                              "10; input shape (32, 10)")
    nested, _ = Net().init(KEY, fnp.ones((3, 5)))
    with pytest.raises(ValueError, match=r"Net\.encoder\.dense \(Dense\): expected input "
                                         r"feature size 5, got 7"):
        Net().apply(nested, fnp.ones((3, 7)))


def test_params_of_another_model_list_the_mismatched_paths():
    x = fnp.ones((3, 5))
    params, _ = Net().init(KEY, x)
    other, _ = nn.Sequential([nn.Dense(6), nn.Dense(2)]).init(KEY, x)
    with pytest.raises(ValueError) as err:
        Net().apply(other, x)
    msg = str(err.value)
    assert "encoder/dense/kernel: missing" in msg and "0/kernel: not used" in msg
    bad = fl.tree.map(lambda a: a, params)
    bad["heads_1"]["kernel"] = fnp.ones((6, 9))
    with pytest.raises(ValueError, match=r"heads_1/kernel: the model expects shape \(6, 3\), "
                                         r"params hold \(6, 9\)"):
        Net().apply(bad, x)
    with pytest.raises(TypeError, match="params, state"):
        Net().apply((params, {}), x)


def test_calling_a_module_outside_init_or_apply_says_how():
    with pytest.raises(TypeError, match=r"model.init\(key, x\)"):
        nn.Dense(3)(fnp.ones((2, 2)))
    with pytest.raises(TypeError, match="neither a module nor a function"):
        nn.Sequential([nn.Dense(2), 3])


# -- transformations ------------------------------------------------------------------------

def mlp():
    return nn.Sequential([nn.Dense(8), nn.tanh if hasattr(nn, "tanh") else fnp.tanh,
                          nn.Dense(3)])


def test_jit_grad_vmap_and_make_ir_of_apply():
    model = mlp()
    x, y = rand(1, 6, 4), rand(2, 6, 3)
    params, _ = model.init(KEY, x)

    def loss(p, x, y):
        return fnp.mean((model.apply(p, x)[0] - y) ** 2)

    g = fl.jit(fl.grad(loss))(params, x, y)
    # per-example gradients averaged equal the batch gradient
    per = fl.vmap(fl.grad(loss), in_axes=(None, 0, 0))(params, x[:, None], y[:, None])
    fl.tree.map(lambda a, b: np.testing.assert_allclose(np.asarray(a).mean(0), np.asarray(b),
                                                        rtol=1e-4, atol=1e-6), per, g)
    # against JAX on the same parameters
    jp = jax.tree_util.tree_map(jnp.asarray, fl.tree.map(np.asarray, params))

    def jax_loss(p, x, y):
        h = jnp.tanh(x @ p["0"]["kernel"] + p["0"]["bias"])
        return jnp.mean((h @ p["2"]["kernel"] + p["2"]["bias"] - y) ** 2)

    want = jax.grad(jax_loss)(jp, x, y)
    fl.tree.map(lambda a, b: np.testing.assert_allclose(np.asarray(a), np.asarray(b),
                                                        rtol=1e-5, atol=1e-6), g, want)
    ir = str(fl.make_ir(lambda p, x: model.apply(p, x)[0])(params, x))
    assert ir.count("dot_general") == 2


def test_init_works_under_jit_and_vmap():
    model = mlp()
    x = fnp.ones((2, 4))
    p1, _ = fl.jit(model.init)(KEY, x)
    p2, _ = model.init(KEY, x)
    fl.tree.map(lambda a, b: np.testing.assert_array_equal(np.asarray(a), np.asarray(b)),
                p1, p2)
    ensemble, _ = fl.vmap(model.init, in_axes=(0, None))(random.split(KEY, 3), x)
    assert shapes(ensemble)["0"]["kernel"] == (3, 4, 8)


# -- Dense against PyTorch and Flax ----------------------------------------------------------

@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize("shape", [(5, 7), (2, 3, 7)])
def test_dense_matches_torch_forward_and_gradients(shape, use_bias):
    x = rand(3, *shape)
    layer = nn.Dense(4, use_bias=use_bias)
    params, _ = layer.init(KEY, x)
    ref = torch.nn.Linear(7, 4, bias=use_bias)
    with torch.no_grad():
        ref.weight.copy_(torch.tensor(np.asarray(params["kernel"]).T))
        if use_bias:
            ref.bias.copy_(torch.tensor(np.asarray(params["bias"])))
    xt = torch.tensor(x, requires_grad=True)
    out_t = ref(xt)
    (out_t ** 2).sum().backward()
    out = layer.apply(params, x)[0]
    np.testing.assert_allclose(np.asarray(out), out_t.detach().numpy(), rtol=1e-5, atol=1e-5)
    gp, gx = fl.grad(lambda p, x: fnp.sum(layer.apply(p, x)[0] ** 2), argnums=(0, 1))(params, x)
    np.testing.assert_allclose(np.asarray(gx), xt.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(gp["kernel"]), ref.weight.grad.numpy().T,
                               rtol=1e-4, atol=1e-5)
    if use_bias:
        np.testing.assert_allclose(np.asarray(gp["bias"]), ref.bias.grad.numpy(),
                                   rtol=1e-4, atol=1e-5)


def test_dense_params_and_defaults_match_flax():
    x = rand(4, 3, 5)
    ours, _ = nn.Dense(6).init(KEY, x)
    theirs = flax_nn.Dense(6).init(jax.random.PRNGKey(0), x)["params"]
    assert shapes(ours) == jax.tree_util.tree_map(lambda a: a.shape, theirs)
    out = nn.Dense(6).apply(ours, x)[0]
    want = flax_nn.Dense(6).apply({"params": fl.tree.map(np.asarray, ours)}, x)
    np.testing.assert_allclose(np.asarray(out), np.asarray(want), rtol=1e-5, atol=1e-6)


def test_dense_bfloat16_compute_and_param_dtype():
    x = rand(5, 4, 8)
    layer = nn.Dense(3, dtype=fnp.bfloat16)
    params, _ = layer.init(KEY, x)
    assert params["kernel"].dtype == np.float32
    out = layer.apply(params, x)[0]
    assert out.dtype == fnp.bfloat16
    want = flax_nn.Dense(3, dtype=jnp.bfloat16).apply(
        {"params": fl.tree.map(np.asarray, params)}, x)
    np.testing.assert_allclose(np.asarray(out, np.float32), np.asarray(want, np.float32),
                               rtol=2e-2, atol=2e-2)
    half, _ = nn.Dense(3, param_dtype=fnp.bfloat16).init(KEY, x)
    assert half["kernel"].dtype == fnp.bfloat16
    g = fl.grad(lambda p: fnp.sum(layer.apply(p, x)[0].astype(fnp.float32)))(params)
    assert g["kernel"].dtype == np.float32


# -- initializers against jax.nn.initializers ------------------------------------------------

@pytest.mark.parametrize("name", ["glorot_normal", "glorot_uniform", "he_normal",
                                  "he_uniform", "lecun_normal", "lecun_uniform"])
@pytest.mark.parametrize("shape", [(5, 7), (3, 3, 4, 8)])
def test_variance_scaling_family_equals_jax(name, shape):
    ours = getattr(nn.initializers, name)()(random.PRNGKey(3), shape)
    want = getattr(jax.nn.initializers, name)()(jax.random.PRNGKey(3), shape)
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(want))


@pytest.mark.parametrize("make", [
    lambda m: m.normal(0.3), lambda m: m.uniform(2.0), lambda m: m.truncated_normal(0.5),
    lambda m: m.constant(1.5), lambda m: m.variance_scaling(0.7, "fan_out", "normal",
                                                           in_axis=0, out_axis=1),
    lambda m: m.variance_scaling(2.0, "fan_geo_avg", "uniform")])
def test_other_initializers_equal_jax(make):
    ours = make(nn.initializers)(random.PRNGKey(5), (6, 4))
    want = make(jax.nn.initializers)(jax.random.PRNGKey(5), (6, 4))
    np.testing.assert_allclose(np.asarray(ours), np.asarray(want), rtol=1e-6, atol=1e-7)
    assert np.asarray(nn.initializers.zeros(KEY, (2, 3))).sum() == 0
    assert np.asarray(nn.initializers.ones(KEY, (2, 3))).sum() == 6


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (3, 3, 5), (8, 8)])
def test_orthogonal_equals_jax_and_is_orthogonal(shape):
    ours = np.asarray(nn.initializers.orthogonal(scale=2.0)(random.PRNGKey(2), shape))
    want = np.asarray(jax.nn.initializers.orthogonal(scale=2.0)(jax.random.PRNGKey(2), shape))
    np.testing.assert_allclose(ours, want, atol=2e-6)
    m = ours.reshape(-1, shape[-1]) / 2.0
    gram = m.T @ m if m.shape[0] >= m.shape[1] else m @ m.T
    np.testing.assert_allclose(gram, np.eye(len(gram)), atol=1e-5)


def test_initializer_errors():
    with pytest.raises(ValueError, match="mode"):
        nn.initializers.variance_scaling(1.0, "fan_sideways", "normal")
    with pytest.raises(ValueError, match="in_axis"):
        nn.initializers.lecun_normal()(KEY, (5,))
    with pytest.raises(ValueError, match="2 dimensions"):
        nn.initializers.orthogonal()(KEY, (5,))


# -- summary and counts ---------------------------------------------------------------------

def test_summary_and_count_params_of_an_mlp():
    model = nn.Sequential([nn.Dense(32), nn.relu, nn.Dense(10)])
    x = fnp.ones((4, 64))
    table = nn.summary(model, x)
    params, _ = model.init(KEY, x)
    assert nn.count_params(params) == 64 * 32 + 32 + 32 * 10 + 10 == 2410
    lines = table.splitlines()
    assert lines[0].split() == ["Layer", "Type", "Output", "shape", "Params"]
    assert lines[2].split() == ["0", "Dense", "float32[4,", "32]", "2,080"]
    assert lines[3].split() == ["2", "Dense", "float32[4,", "10]", "330"]
    assert "Total params: 2,410 (9.41 KB)" in table


def test_summary_of_a_small_cnn_against_known_counts():
    model = nn.Sequential([nn.Conv(8, (3, 3)), nn.relu, nn.BatchNorm(), nn.MaxPool((2, 2)),
                           nn.Flatten(), nn.Dropout(0.5), nn.Dense(10)])
    x = fnp.ones((2, 8, 8, 1))
    table = nn.summary(model, x)
    rows = {line.split()[0]: line.split() for line in table.splitlines()[2:9]}
    assert rows["0"][1:] == ["Conv", "float32[2,", "8,", "8,", "8]", "80"]       # 3*3*1*8 + 8
    assert rows["2"][1:] == ["BatchNorm", "float32[2,", "8,", "8,", "8]", "16"]  # scale, bias
    assert rows["3"][1:] == ["MaxPool", "float32[2,", "4,", "4,", "8]", "0"]
    assert rows["4"][1:] == ["Flatten", "float32[2,", "128]", "0"]
    assert rows["6"][1:] == ["Dense", "float32[2,", "10]", "1,290"]             # 128*10 + 10
    assert "Total params: 1,386 (5.41 KB)" in table
    assert "State (not trained): 16 (64 B)" in table                           # mean, var
    params, state = model.init(KEY, x)
    assert nn.count_params(params) == 1386 and nn.count_params(state) == 16
