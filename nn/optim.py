"""Optimizers as pure ``init``/``update`` pairs over any pytree, with optax's names,
arguments, defaults and numbers.

An optimizer is a :class:`GradientTransformation`: a chain of small transformations
(rescale by Adam's moments, add decayed weights, multiply by ``-learning_rate``...), each
turning the incoming updates into new ones. Its state is the tuple of the pieces' states,
each a NamedTuple of arrays, so it can be jitted, scanned over and checkpointed::

    opt = nn.optim.adamw(1e-3)                 # or adamw(nn.schedules.cosine_decay_schedule(...))
    opt_state = opt.init(params)
    updates, opt_state = opt.update(grads, opt_state, params)
    params = nn.optim.apply_updates(params, updates)
    nn.optim.current_lr(opt_state)             # the rate the next update will use

Every alias below is a :func:`chain` of the transformations in ``nn._transforms``; the
math of each lives there once.
"""
from __future__ import annotations

from typing import Any

import functorch_lite.numpy as fnp
from functorch_lite import tree
from functorch_lite.tree_util import DictKey, GetAttrKey

from ._transforms import (AddDecayedWeightsState, EmptyState,  # noqa: F401
                          GradientTransformation, MaskedNode, MaskedState,
                          ScaleByAdamState, ScaleByLearningRateState, ScaleByLionState,
                          ScaleByRmsState, ScaleByRssState, ScaleByStddevState, TraceState,
                          add_decayed_weights, apply_updates, chain, clip,
                          clip_by_global_norm, global_norm, identity, masked, scale,
                          scale_by_adam, scale_by_learning_rate, scale_by_lion, scale_by_rms,
                          scale_by_rss, scale_by_stddev, trace)

__all__ = [
    "GradientTransformation", "EmptyState", "MaskedNode", "MaskedState", "TraceState",
    "ScaleByAdamState", "ScaleByRmsState", "ScaleByStddevState", "ScaleByRssState",
    "ScaleByLionState", "ScaleByLearningRateState", "AddDecayedWeightsState",
    "identity", "scale", "clip", "clip_by_global_norm", "global_norm", "trace",
    "scale_by_adam", "scale_by_rms", "scale_by_stddev", "scale_by_rss", "scale_by_lion",
    "scale_by_learning_rate", "add_decayed_weights", "masked", "chain", "apply_updates",
    "sgd", "adam", "adamw", "rmsprop", "adagrad", "lion",
    "default_weight_decay_mask", "current_lr", "step_count",
]

_NOT_DECAYED = ("bias", "scale")


def _key_name(key) -> Any:
    if isinstance(key, DictKey):
        return key.key
    if isinstance(key, GetAttrKey):
        return key.name
    return None


def default_weight_decay_mask(params):
    """``adamw``'s default mask: True for leaves of rank >= 2 whose name (last key) is not
    ``bias`` or ``scale``, so biases, norm scales and ``(heads, head_dim)`` attention biases
    are not decayed."""
    def decayed(path, leaf):
        name = _key_name(path[-1]) if path else None
        return fnp.ndim(leaf) >= 2 and name not in _NOT_DECAYED
    return tree.map_with_path(decayed, params)


def _optimizer(core: GradientTransformation, learning_rate, weight_decay=None,
               mask=None) -> GradientTransformation:
    # The shape every alias shares: rescale, optionally decay, then step by the rate.
    parts = [core]
    if weight_decay is not None:
        parts.append(add_decayed_weights(weight_decay, mask))
    parts.append(scale_by_learning_rate(learning_rate))
    return chain(*parts)


def sgd(learning_rate, momentum=None, nesterov: bool = False,
        accumulator_dtype=None) -> GradientTransformation:
    """Stochastic gradient descent, with optional (Nesterov) momentum.

    ``update = -lr * g``; with ``momentum``: ``m = g + momentum * m``, ``update = -lr * m``
    (``-lr * (g + momentum * m)`` with ``nesterov``)."""
    if momentum is None:
        if nesterov:
            raise ValueError("sgd: nesterov=True needs a momentum, e.g. momentum=0.9.")
        return _optimizer(identity(), learning_rate)
    return _optimizer(trace(momentum, nesterov, accumulator_dtype), learning_rate)


def adam(learning_rate, b1=0.9, b2=0.999, eps=1e-8, eps_root=0.0, mu_dtype=None, *,
         nesterov: bool = False) -> GradientTransformation:
    """Adam (NAdam with ``nesterov=True``); see :func:`scale_by_adam`."""
    return _optimizer(scale_by_adam(b1, b2, eps, eps_root, mu_dtype, nesterov=nesterov),
                      learning_rate)


def adamw(learning_rate, b1=0.9, b2=0.999, eps=1e-8, eps_root=0.0, mu_dtype=None,
          weight_decay=1e-4, mask=None, *, nesterov: bool = False) -> GradientTransformation:
    """Adam with decoupled weight decay: ``update = -lr * (adam(g) + weight_decay * p)``.

    Unlike optax, ``mask=None`` means :func:`default_weight_decay_mask` (no decay of biases,
    norm scales or rank < 2 leaves). Pass a pytree of bools or a callable ``params -> mask``
    to choose, or ``mask=True`` to decay every leaf."""
    if mask is None:
        mask = default_weight_decay_mask
    return _optimizer(scale_by_adam(b1, b2, eps, eps_root, mu_dtype, nesterov=nesterov),
                      learning_rate, weight_decay, mask)


def rmsprop(learning_rate, decay=0.9, eps=1e-8, initial_scale=0.0, eps_in_sqrt: bool = True,
            centered: bool = False, momentum=None, nesterov: bool = False,
            bias_correction: bool = False) -> GradientTransformation:
    """RMSProp: divide by the root of a moving average of squared gradients (of their
    variance with ``centered``), step by the rate, then optional momentum."""
    scaling = scale_by_stddev if centered else scale_by_rms
    parts = [scaling(decay, eps, initial_scale, eps_in_sqrt, bias_correction),
             scale_by_learning_rate(learning_rate)]
    if momentum is not None:  # optax applies momentum after the rate, so it does too
        parts.append(trace(momentum, nesterov))
    elif nesterov:
        raise ValueError("rmsprop: nesterov=True needs a momentum, e.g. momentum=0.9.")
    return chain(*parts)


def adagrad(learning_rate, initial_accumulator_value=0.1, eps=1e-7) -> GradientTransformation:
    """Adagrad: divide by the root of the sum of all squared gradients so far."""
    return _optimizer(scale_by_rss(initial_accumulator_value, eps), learning_rate)


def lion(learning_rate, b1=0.9, b2=0.99, mu_dtype=None, weight_decay=1e-3,
         mask=None) -> GradientTransformation:
    """Lion: ``update = -lr * (sign(b1 * m + (1 - b1) * g) + weight_decay * p)``.
    ``mask=None`` decays every leaf (as optax)."""
    return _optimizer(scale_by_lion(b1, b2, mu_dtype), learning_rate, weight_decay, mask)


def _rate_state(opt_state, fn: str) -> ScaleByLearningRateState:
    found = [s for s in tree.leaves(opt_state,
                                    is_leaf=lambda s: isinstance(s, ScaleByLearningRateState))
             if isinstance(s, ScaleByLearningRateState)]
    if not found:
        raise ValueError(f"{fn}: this optimizer state has no learning rate; build the "
                         "optimizer with one of nn.optim's aliases or scale_by_learning_rate.")
    return found[0]


def current_lr(opt_state):
    """The learning rate the next ``update`` will use (a float32 scalar array)."""
    return _rate_state(opt_state, "current_lr").learning_rate


def step_count(opt_state):
    """The number of updates done so far (an int32 scalar array)."""
    return _rate_state(opt_state, "step_count").count
