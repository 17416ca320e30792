"""Conv and ConvTranspose against torch.nn.Conv{1,2,3}d / ConvTranspose2d and
flax.linen.Conv / ConvTranspose (parameters copied across): forward, gradients with
respect to inputs and parameters, bfloat16 compute, jit/vmap/grad and the errors."""
import flax.linen as flax_nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite import nn, random
from functorch_lite.nn.conv import Conv, ConvTranspose

from helpers import rand

KEY = random.PRNGKey(0)


def shapes(tree):
    return fl.tree.map(lambda a: tuple(a.shape), tree)


def close(got, want, tol=1e-4):
    np.testing.assert_allclose(np.asarray(got, np.float32), np.asarray(want, np.float32),
                               rtol=tol, atol=tol)


def ours_and_grads(layer, params, x):
    """Output and the gradients of sum(y * weights) with respect to params and x."""
    y = layer.apply(params, x)[0]
    w = rand(99, *y.shape)
    loss = lambda p, x: fnp.sum(layer.apply(p, x)[0].astype(fnp.float32) * w)
    gp, gx = fl.grad(loss, argnums=(0, 1))(params, x)
    return y, gp, gx, w


def flax_and_grads(module, params, x, w):
    """The same for a flax.linen module with our parameters."""
    jp = jax.tree_util.tree_map(jnp.asarray, fl.tree.map(np.asarray, params))
    loss = lambda p, x: jnp.sum(module.apply({"params": p}, x).astype(jnp.float32) * w)
    gp, gx = jax.grad(loss, argnums=(0, 1))(jp, jnp.asarray(x))
    return module.apply({"params": jp}, x), gp, gx


def param_shapes(layer, x):
    """The parameter shapes ``layer.init`` makes, traced only (compiling every init's
    random draws would dominate this file's run time)."""
    box = {}

    def run(key, x):
        params, _ = layer.init(key, x)
        box["shapes"] = shapes(params)
        return params

    fl.make_ir(run)(KEY, x)
    return box["shapes"]


def random_params(layer, x):
    return {name: rand(10 + i, *shape, scale=0.3)
            for i, (name, shape) in enumerate(sorted(param_shapes(layer, x).items()))}


def check_against_flax(ours, theirs, x, tol=1e-4):
    want = jax.eval_shape(theirs.init, jax.random.PRNGKey(0), x)["params"]
    params = random_params(ours, x)
    assert shapes(params) == jax.tree_util.tree_map(lambda a: a.shape, want)
    y, gp, gx, w = ours_and_grads(ours, params, x)
    y_ref, gp_ref, gx_ref = flax_and_grads(theirs, params, x, w)
    assert y.shape == y_ref.shape and y.dtype == y_ref.dtype
    close(y, y_ref, tol)
    close(gx, gx_ref, tol)
    for name in gp_ref:
        close(gp[name], gp_ref[name], tol)


# -- Conv against torch ---------------------------------------------------------------------

def torch_conv(n, x, params, w, stride, padding, dilation, groups):
    """torch.nn.Conv{n}d on channels-first copies; returns y and the gradients of
    sum(y * w), all converted back to channels last / our kernel layout."""
    kernel = np.asarray(params["kernel"])
    to_first = lambda a: np.moveaxis(a, -1, 1)
    conv = getattr(torch.nn, f"Conv{n}d")(
        kernel.shape[-2] * groups, kernel.shape[-1], kernel.shape[:n], stride=stride,
        padding=padding, dilation=dilation, groups=groups, bias="bias" in params)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor(np.transpose(kernel, (n + 1, n) + tuple(range(n)))))
        if "bias" in params:
            conv.bias.copy_(torch.tensor(np.asarray(params["bias"])))
    xt = torch.tensor(to_first(x), requires_grad=True)
    y = conv(xt)
    (y * torch.tensor(to_first(w))).sum().backward()
    back = tuple(range(2, n + 2)) + (1, 0)
    grads = {"kernel": np.transpose(conv.weight.grad.numpy(), back)}
    if "bias" in params:
        grads["bias"] = conv.bias.grad.numpy()
    return np.moveaxis(y.detach().numpy(), 1, -1), grads, np.moveaxis(xt.grad.numpy(), 1, -1)


CONV_CASES = [  # x shape, layer kwargs, torch stride/padding/dilation/groups
    ((2, 11, 3), dict(features=5, kernel_size=(3,), dilation=2), (1, "same", 2, 1)),
    ((2, 9, 8, 3), dict(features=4, kernel_size=(3, 3), strides=2, padding=1), (2, 1, 1, 1)),
    ((1, 7, 9, 4), dict(features=6, kernel_size=(3, 2), strides=(1, 2), padding=[(1, 1), 0],
                        groups=2, use_bias=False), ((1, 2), (1, 0), 1, 2)),
    ((2, 10, 10, 4), dict(features=8, kernel_size=(3, 3), padding="VALID", groups=4,
                          dilation=(2, 1)), (1, 0, (2, 1), 4)),         # depthwise x2
    ((1, 4, 6, 5, 2), dict(features=3, kernel_size=(2, 3, 3)), (1, "same", 1, 1)),
]


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("shape,kwargs,ref", CONV_CASES)
def test_conv_matches_torch_forward_and_gradients(shape, kwargs, ref):
    x = rand(1, *shape)
    layer = Conv(**kwargs)
    params = random_params(layer, x)
    y, gp, gx, w = ours_and_grads(layer, params, x)
    y_ref, gp_ref, gx_ref = torch_conv(len(kwargs["kernel_size"]), x, params, w, *ref)
    close(y, y_ref)
    close(gx, gx_ref)
    assert set(gp) == set(gp_ref)
    for name in gp:
        close(gp[name], gp_ref[name])


# -- Conv against flax ----------------------------------------------------------------------

@pytest.mark.parametrize("shape,kwargs", [
    ((2, 9, 10, 3), dict(features=4, kernel_size=(3, 3), strides=2)),        # SAME, stride
    ((2, 8, 7, 3), dict(features=4, kernel_size=(4, 2), strides=(3, 2), kernel_dilation=2)),
    ((2, 6, 6, 2), dict(features=3, kernel_size=(3, 3), padding="CIRCULAR")),
    ((2, 6, 6, 2), dict(features=3, kernel_size=(2, 3), padding="REFLECT")),
    ((2, 9, 2), dict(features=3, kernel_size=3, padding="CAUSAL", kernel_dilation=2)),
    ((2, 5, 3), dict(features=2, kernel_size=(3,), padding=[(2, 1)], input_dilation=2)),
    ((7, 6, 3), dict(features=6, kernel_size=(3, 3), feature_group_count=3, use_bias=False)),
])
def test_conv_matches_flax(shape, kwargs):
    check_against_flax(Conv(**kwargs), flax_nn.Conv(**kwargs), rand(2, *shape))


def test_conv_bfloat16_compute_and_param_dtype():
    x = rand(3, 2, 8, 8, 3)
    check_against_flax(Conv(4, (3, 3), strides=2, dtype=fnp.bfloat16),
                       flax_nn.Conv(4, (3, 3), strides=2, dtype=jnp.bfloat16), x, tol=5e-2)
    params, _ = Conv(4, (3, 3), param_dtype=fnp.bfloat16).init(KEY, x)
    assert params["kernel"].dtype == fnp.bfloat16 and params["bias"].dtype == fnp.bfloat16
    # bfloat16 params meet a float32 input: the computation promotes, as in flax
    assert Conv(4, (3, 3), param_dtype=fnp.bfloat16).apply(params, x)[0].dtype == np.float32
    assert Conv(4, (3, 3), param_dtype=fnp.bfloat16).apply(
        params, x.astype(fnp.bfloat16))[0].dtype == fnp.bfloat16


def test_conv_aliases_and_default_initializers():
    x = rand(4, 2, 12, 12, 6)
    a = Conv(6, (3, 3), dilation=2, groups=3)
    b = Conv(6, (3, 3), kernel_dilation=2, feature_group_count=3)
    params = random_params(a, x)
    assert shapes(params) == {"kernel": (3, 3, 2, 6), "bias": (6,)}
    close(a.apply(params, x)[0], b.apply(params, x)[0], 1e-6)
    with pytest.raises(TypeError, match="dilation"):
        Conv(6, (3, 3), dilation=2, kernel_dilation=2)
    with pytest.raises(TypeError, match="groups"):
        Conv(6, (3, 3), groups=2, feature_group_count=2)
    # lecun_normal kernel (std 1/sqrt(fan_in)), zero bias, as flax
    big, _ = Conv(64, (3, 3)).init(KEY, fnp.ones((1, 4, 4, 32)))
    assert abs(float(np.std(np.asarray(big["kernel"]))) * np.sqrt(9 * 32) - 1) < 0.05
    assert not np.asarray(big["bias"]).any()


def test_conv_under_jit_vmap_and_grad():
    layer = Conv(4, (3, 3), strides=2)
    x = rand(5, 3, 8, 8, 2)
    params = random_params(layer, x)
    want = layer.apply(params, x)[0]
    close(fl.jit(lambda p, x: layer.apply(p, x)[0])(params, x), want, 1e-5)
    # per example: vmap hands the layer unbatched (H, W, C) inputs
    per = fl.vmap(lambda x: layer.apply(params, x)[0])(x)
    close(per, want, 1e-5)
    loss = lambda p, x: fnp.sum(layer.apply(p, x)[0] ** 2)
    g = fl.jit(fl.grad(loss))(params, x)
    g_per = fl.vmap(fl.grad(loss), in_axes=(None, 0))(params, x)
    fl.tree.map(lambda a, b: close(np.asarray(a).sum(0), b), g_per, g)
    # init under vmap gives an ensemble
    ens, _ = fl.vmap(layer.init, in_axes=(0, None))(random.split(KEY, 2), x)
    assert shapes(ens)["kernel"] == (2, 3, 3, 2, 4)


def test_conv_errors_name_the_layer_and_the_shapes():
    model = nn.Sequential([Conv(4, (3, 3)), nn.relu, Conv(6, (3, 3), groups=2)])
    params = {"0": random_params(Conv(4, (3, 3)), fnp.ones((1, 8, 8, 3)))}
    with pytest.raises(ValueError, match=r"Sequential\[0\] \(Conv\): expected input with 3 "
                                         r"channels .*got 5.*\(1, 8, 8, 5\).*\(3, 3, 3, 4\)"):
        model.apply(params, fnp.ones((1, 8, 8, 5)))
    with pytest.raises(ValueError, match=r"Sequential\[0\] \(Conv\): a 2-D kernel_size "
                                         r"\(3, 3\) expects input \(batch, height, width, "
                                         r"channels\).*\(8, 8\)"):
        model.apply(params, fnp.ones((8, 8)))
    with pytest.raises(ValueError, match=r"^Conv: input channels 5 are not divisible by "
                                         r"feature_group_count 2; input shape \(1, 4, 4, 5\)"):
        Conv(4, (3, 3), groups=2).apply({}, fnp.ones((1, 4, 4, 5)))
    with pytest.raises(ValueError, match=r"input shape \(1, 2, 2, 1\) is too small for "
                                         r"the window \(3, 3\)"):
        Conv(4, (3, 3), padding="VALID").apply(
            {"kernel": fnp.ones((3, 3, 1, 4)), "bias": fnp.ones(4)}, fnp.ones((1, 2, 2, 1)))
    with pytest.raises(ValueError, match="features 5 must be divisible by "
                                         "feature_group_count 2"):
        Conv(5, (3, 3), groups=2)
    with pytest.raises(ValueError, match="strides .* one entry per spatial axis"):
        Conv(5, (3, 3), strides=(1, 2, 3))
    with pytest.raises(ValueError, match="invalid padding"):
        Conv(5, (3, 3), padding=[(1, 1)])
    with pytest.raises(ValueError, match="unknown padding 'full'"):
        Conv(5, (3, 3), padding="full")


# -- ConvTranspose --------------------------------------------------------------------------

@pytest.mark.parametrize("shape,kwargs", [
    ((2, 8, 3), dict(features=4, kernel_size=(3,), padding="VALID")),
    ((2, 5, 6, 3), dict(features=4, kernel_size=(4, 4), strides=2)),
    ((2, 5, 6, 3), dict(features=2, kernel_size=(2, 3), strides=(3, 2), use_bias=False)),
    ((2, 5, 5, 3), dict(features=2, kernel_size=(3, 3), strides=2, padding=[(1, 2), (0, 1)],
                        kernel_dilation=(2, 1))),
    ((2, 5, 5, 3), dict(features=4, kernel_size=(3, 3), strides=2, transpose_kernel=True)),
    ((2, 5, 4, 3), dict(features=2, kernel_size=(4, 3), strides=2, padding="CIRCULAR")),
    ((5, 4, 3), dict(features=2, kernel_size=(6, 6), strides=2, padding="CIRCULAR",
                     transpose_kernel=True)),
    ((1, 3, 3, 4, 2), dict(features=3, kernel_size=(2, 2, 3), strides=(1, 2, 1))),
])
def test_conv_transpose_matches_flax(shape, kwargs):
    check_against_flax(ConvTranspose(**kwargs), flax_nn.ConvTranspose(**kwargs),
                       rand(3, *shape))


def test_conv_transpose_bfloat16():
    check_against_flax(ConvTranspose(3, (3, 3), strides=2, dtype=fnp.bfloat16),
                       flax_nn.ConvTranspose(3, (3, 3), strides=2, dtype=jnp.bfloat16),
                       rand(4, 2, 5, 5, 4), tol=5e-2)


def test_conv_transpose_matches_torch_with_transposed_kernel():
    # With transpose_kernel=True our kernel (kh, kw, out, in) is torch's (in, out, kh, kw)
    # weight permuted, and torch's padding p is (k - 1 - p) on each side of the spread-out
    # input (output_padding adds to the high side).
    k, s, p, op = 3, 2, 1, 1
    x = rand(5, 2, 4, 5, 3)
    layer = ConvTranspose(6, (k, k), strides=s, padding=[(k - 1 - p, k - 1 - p + op)] * 2,
                          transpose_kernel=True)
    params = random_params(layer, x)
    y, gp, gx, w = ours_and_grads(layer, params, x)
    ref = torch.nn.ConvTranspose2d(3, 6, k, stride=s, padding=p, output_padding=op)
    with torch.no_grad():
        ref.weight.copy_(torch.tensor(np.transpose(np.asarray(params["kernel"]), (3, 2, 0, 1))))
        ref.bias.copy_(torch.tensor(np.asarray(params["bias"])))
    xt = torch.tensor(np.moveaxis(x, -1, 1), requires_grad=True)
    yt = ref(xt)
    (yt * torch.tensor(np.moveaxis(w, -1, 1))).sum().backward()
    close(y, np.moveaxis(yt.detach().numpy(), 1, -1))
    close(gx, np.moveaxis(xt.grad.numpy(), 1, -1))
    close(gp["kernel"], np.transpose(ref.weight.grad.numpy(), (2, 3, 1, 0)))
    close(gp["bias"], ref.bias.grad.numpy())


def test_conv_transpose_under_vmap_and_errors():
    layer = ConvTranspose(2, (3, 3), strides=2, dilation=1)
    x = rand(6, 3, 4, 4, 5)
    params = random_params(layer, x)
    close(fl.vmap(lambda x: layer.apply(params, x)[0])(x), layer.apply(params, x)[0], 1e-5)
    with pytest.raises(ValueError, match=r"ConvTranspose: expected input with 5 channels.*"
                                         r"got 2; input shape \(3, 4, 4, 2\).*\(3, 3, 5, 2\)"):
        layer.apply(params, fnp.ones((3, 4, 4, 2)))
    with pytest.raises(ValueError, match="unknown padding 'REFLECT'"):
        ConvTranspose(2, (3, 3), padding="REFLECT")
