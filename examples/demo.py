"""A first look at functorch_lite: eager arrays on XLA, the NumPy API, and the IR that
`jit` compiles. (Training a network arrives with grad; see README.)"""
import numpy as np

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite import lax

print(f"platform: {fl.default_backend()}  devices: {fl.devices()}")

# Eager arrays live on the device; every operation runs there.
x = fnp.linspace(0.0, 1.0, 6).reshape(2, 3)
print("x =\n", x)
print("x.sum(axis=1) =", x.sum(axis=1), " x.T.shape =", x.T.shape)
print("softmax rows:", fnp.exp(x) / fnp.exp(x).sum(axis=1, keepdims=True))


def mlp(params, inputs):
    """A two-layer perceptron written with the NumPy API."""
    (w1, b1), (w2, b2) = params
    hidden = fnp.tanh(inputs @ w1 + b1)
    return hidden @ w2 + b2


rng = np.random.default_rng(0)
params = [(fnp.asarray(rng.normal(size=(3, 4)).astype(np.float32)), fnp.zeros(4)),
          (fnp.asarray(rng.normal(size=(4, 2)).astype(np.float32)), fnp.zeros(2))]

# The IR: what a transformation sees, one primitive per line.
print("\nThe program jit compiles for mlp:")
print(fl.make_ir(mlp)(params, x))

fast_mlp = fl.jit(mlp)
out = fast_mlp(params, x)
print("\njit(mlp)(params, x) =\n", out)
print("matches eager:", np.allclose(out, mlp(params, x), atol=1e-6))
print("XLA's cost analysis (flops):", fast_mlp.lower(params, x).compile().cost_analysis()["flops"])
print("lax.cumsum([1, 2, 3, 4]) =", lax.cumsum(fnp.arange(1, 5)))
