"""``functorch_lite.nn``: a thin stateless-module layer. Modules are configuration; their
parameters and state are plain nested dicts the user holds (see ``nn/module.py`` for how
``init`` and ``apply`` are derived from one ``__call__``).

    from functorch_lite import nn
    model = nn.Sequential([nn.Dense(64), nn.relu, nn.Dense(10)])
    params, state = model.init(key, x)
    y, state = model.apply(params, x)
"""
from . import (callbacks, checkpoints, initializers, losses, metrics, optim,  # noqa: F401
               schedules)
from .activations import (celu, elu, gelu, glu, hard_sigmoid, hard_silu,  # noqa: F401
                          hard_swish, hard_tanh, identity, leaky_relu, log1mexp,
                          log_sigmoid, log_softmax, logmeanexp, logsumexp, mish, one_hot,
                          relu, relu6, selu, sigmoid, silu, soft_sign, softmax, softplus,
                          sparse_plus, sparse_sigmoid, squareplus, standardize, swish, tanh)
from .attention import (MultiHeadAttention, combine_masks,  # noqa: F401
                        dot_product_attention, make_attention_mask, make_causal_mask)
from .conv import Conv, ConvTranspose  # noqa: F401
from .dropout import Dropout  # noqa: F401
from .embedding import Embedding  # noqa: F401
from .linear import Dense, Flatten  # noqa: F401
from .module import Module, StateVariable, method, promote_dtype  # noqa: F401
from .normalization import BatchNorm, GroupNorm, LayerNorm, RMSNorm  # noqa: F401
from .pooling import (AvgPool, GlobalAvgPool, GlobalMaxPool, MaxPool, avg_pool,  # noqa: F401
                      max_pool, min_pool)
from .recurrent import RNN, Bidirectional, GRUCell, LSTMCell  # noqa: F401
from .sequential import Sequential  # noqa: F401
from .summary import count_params, summary  # noqa: F401
from .training import FitResult, TrainingRun, fit  # noqa: F401
