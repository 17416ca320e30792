"""Pooling against torch.nn.{Max,Avg}Pool{1,2,3}d and flax.linen's pooling functions:
forward and input gradients, bfloat16, jit/vmap, the global pools and the errors."""
import flax.linen as flax_nn
from flax.linen import pooling as flax_pooling
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite import nn
from functorch_lite.nn.pooling import (AvgPool, GlobalAvgPool, GlobalMaxPool, MaxPool,
                                       avg_pool, max_pool, min_pool)

from helpers import rand


def close(got, want, tol=1e-5):
    np.testing.assert_allclose(np.asarray(got, np.float32), np.asarray(want, np.float32),
                               rtol=tol, atol=tol)


def ours_and_grad(layer, x):
    y = layer.apply({}, x)[0]
    w = rand(99, *y.shape)
    gx = fl.grad(lambda x: fnp.sum(layer.apply({}, x)[0].astype(fnp.float32) * w))(x)
    return y, gx, w


@pytest.mark.parametrize("layer,ref", [
    (MaxPool((3, 3), strides=2, padding=1), torch.nn.MaxPool2d(3, stride=2, padding=1)),
    (MaxPool((2, 3)), torch.nn.MaxPool2d((2, 3))),                  # stride = window
    (MaxPool((2,)), torch.nn.MaxPool1d(2)),
    (AvgPool((3, 3), strides=2, padding=1), torch.nn.AvgPool2d(3, stride=2, padding=1)),
    (AvgPool((3, 2), strides=(2, 1), padding=(1, 1), count_include_pad=False),
     torch.nn.AvgPool2d((3, 2), stride=(2, 1), padding=1, count_include_pad=False)),
    (AvgPool((2, 2, 2)), torch.nn.AvgPool3d(2)),
])
def test_pool_layers_match_torch(layer, ref):
    n = len(layer.window_shape)
    x = rand(1, 2, *(7, 9, 6)[:n], 3)
    y, gx, w = ours_and_grad(layer, x)
    xt = torch.tensor(np.moveaxis(x, -1, 1), requires_grad=True)
    yt = ref(xt)
    (yt * torch.tensor(np.moveaxis(w, -1, 1))).sum().backward()
    close(y, np.moveaxis(yt.detach().numpy(), 1, -1))
    close(gx, np.moveaxis(xt.grad.numpy(), 1, -1))


@pytest.mark.parametrize("ours,theirs,kwargs,shape", [
    (max_pool, flax_nn.max_pool, dict(window_shape=(3, 3), padding="SAME"), (2, 6, 7, 3)),
    (min_pool, flax_pooling.min_pool, dict(window_shape=(2,), strides=(2,)), (4, 9, 2)),
    (avg_pool, flax_nn.avg_pool, dict(window_shape=(3, 2), strides=(2, 1), padding="SAME",
                                      count_include_pad=False), (2, 7, 5, 3)),
    (avg_pool, flax_nn.avg_pool, dict(window_shape=(2, 2), padding="SAME"),
     (2, 3, 5, 5, 2)),                                  # two batch axes
    (avg_pool, flax_nn.avg_pool, dict(window_shape=(2, 2), padding=((1, 0), (0, 1))),
     (3, 5, 5, 2)),
    (max_pool, flax_nn.max_pool, dict(window_shape=(2, 2)), (5, 5, 2)),     # no batch axis
])
def test_pool_functions_match_flax(ours, theirs, kwargs, shape):
    x = rand(2, *shape)
    y = ours(x, **kwargs)
    w = rand(98, *y.shape)
    close(y, theirs(x, **kwargs))
    gx = fl.grad(lambda x: fnp.sum(ours(x, **kwargs) * w))(x)
    close(gx, jax.grad(lambda x: jnp.sum(theirs(x, **kwargs) * w))(jnp.asarray(x)))


@pytest.mark.parametrize("layer,fn", [(MaxPool((2, 2), strides=1), flax_nn.max_pool),
                                      (AvgPool((2, 2), strides=1), flax_nn.avg_pool)])
def test_pool_bfloat16(layer, fn):
    x = rand(3, 2, 6, 6, 4).astype(jnp.bfloat16)
    y, gx, _ = ours_and_grad(layer, x)
    assert y.dtype == fnp.bfloat16 and gx.dtype == fnp.bfloat16
    close(y, fn(jnp.asarray(x), (2, 2), (1, 1)), 2e-2)


def test_global_pools():
    x = rand(4, 3, 5, 6, 7)
    close(GlobalAvgPool().apply({}, x)[0], x.mean(axis=(1, 2)))
    close(GlobalMaxPool().apply({}, x)[0], x.max(axis=(1, 2)))
    assert GlobalAvgPool(keepdims=True).apply({}, x)[0].shape == (3, 1, 1, 7)
    # per example under vmap: spatial_dims tells the layer which axes are spatial
    per = fl.vmap(lambda x: GlobalAvgPool(spatial_dims=2).apply({}, x)[0])(x)
    close(per, x.mean(axis=(1, 2)))
    g = fl.grad(lambda x: fnp.sum(GlobalMaxPool().apply({}, x)[0]))(x)
    assert np.asarray(g).sum() == 3 * 7
    x1 = rand(5, 2, 9, 4)                               # 1-D signals
    close(GlobalAvgPool().apply({}, x1)[0], x1.mean(axis=1))


def test_pools_in_a_model_under_jit_and_vmap():
    model = nn.Sequential([MaxPool((2, 2)), AvgPool((2, 2), strides=1, padding="SAME"),
                           GlobalAvgPool(spatial_dims=2)])
    x = rand(6, 3, 8, 8, 2)
    want = model.apply({}, x)[0]
    assert want.shape == (3, 2)
    close(fl.jit(lambda x: model.apply({}, x)[0])(x), want)
    close(fl.vmap(lambda x: model.apply({}, x)[0])(x), want)
    close(fl.vmap(fl.grad(lambda x: fnp.sum(model.apply({}, x)[0] ** 2)))(x),
          fl.grad(lambda x: fnp.sum(model.apply({}, x)[0] ** 2))(x))


def test_pool_errors():
    model = nn.Sequential([MaxPool((2, 2)), MaxPool((3, 3))])
    with pytest.raises(ValueError, match=r"Sequential\[1\] \(MaxPool\): input shape "
                                         r"\(1, 2, 2, 3\) is too small for the window "
                                         r"\(3, 3\)"):
        model.apply({}, fnp.ones((1, 4, 4, 3)))
    with pytest.raises(ValueError, match=r"Sequential\[0\] \(MaxPool\): a 2-D window_shape "
                                         r"\(2, 2\) expects input \(batch, height, width, "
                                         r"channels\).*\(4, 4\)"):
        model.apply({}, fnp.ones((4, 4)))
    with pytest.raises(TypeError, match=r"window_shape must be a tuple.*\(2, 2\)"):
        MaxPool(2)
    with pytest.raises(ValueError, match="strides .* one entry per spatial axis"):
        AvgPool((2, 2), strides=(1, 1, 1))
    with pytest.raises(ValueError, match="unknown padding 'CIRCULAR'"):
        AvgPool((2, 2), padding="CIRCULAR")
    with pytest.raises(ValueError, match=r"max_pool: a 2-D window \(2, 2\) needs input"):
        max_pool(fnp.ones((4, 4)), (2, 2))
    with pytest.raises(ValueError, match=r"GlobalAvgPool: expected input \(batch, "
                                         r"\*spatial, channels\), got shape \(4, 4\)"):
        GlobalAvgPool().apply({}, fnp.ones((4, 4)))
