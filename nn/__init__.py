"""``functorch_lite.nn``: a thin stateless-module layer. For now: activations and the
functions losses are built from (the layers, optimizers and training loop arrive with
their issues)."""
from nn.activations import (celu, elu, gelu, glu, hard_sigmoid, hard_tanh,  # noqa: F401
                            leaky_relu, log_sigmoid, log_softmax, logsumexp, one_hot,
                            relu, relu6, selu, sigmoid, silu, softmax, softplus, swish)
