"""Dropout: zero a random fraction ``rate`` of the inputs while training and scale the rest
by ``1 / (1 - rate)`` so the expected output equals the input; identity in inference."""
from __future__ import annotations

from typing import Sequence

import functorch_lite.numpy as fnp
from functorch_lite import lax, random

from .module import Module

__all__ = ["Dropout"]


class Dropout(Module):
    """Drop each element with probability ``rate`` (not the keep probability) when
    ``apply(..., train=True, rng=key)`` runs; ``train=False`` returns the input unchanged.
    ``broadcast_dims`` share one mask along those axes (e.g. ``(1,)`` on a ``(batch, time,
    features)`` input drops a feature at every time step or at none). The call's
    ``deterministic`` argument, as Flax's, overrides the train flag (``True`` = no
    dropout). A parent module may pass the key itself, ``self.drop(x, rng=key)``; otherwise
    it comes from ``apply``'s ``rng`` (folded with the layer's path, so two Dropout layers
    draw different masks).

    >>> drop = Dropout(0.1)
    >>> y, _ = drop.apply({}, x, rng=random.PRNGKey(0), train=True)  # y: x's shape and dtype
    >>> y, _ = drop.apply({}, x)                                     # y is x
    """

    def __init__(self, rate: float, broadcast_dims: Sequence[int] = ()):
        try:
            rate = float(rate)
        except (TypeError, ValueError):
            raise ValueError(f"Dropout: rate must be a number in [0, 1], got {rate!r}") \
                from None
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"Dropout: rate is the probability of dropping an element and "
                             f"must be in [0, 1], got {rate!r}")
        self.rate = rate
        self.broadcast_dims = tuple(int(d) for d in broadcast_dims)

    def __call__(self, x, deterministic: bool | None = None, rng=None):
        x = fnp.asarray(x)
        for d in self.broadcast_dims:
            if not -x.ndim <= d < x.ndim:
                raise ValueError(f"broadcast_dims {self.broadcast_dims} has axis {d}, out "
                                 f"of range for an input of rank {x.ndim}; input shape "
                                 f"{tuple(x.shape)}")
        if deterministic is None:
            deterministic = not self.is_training
        if deterministic or self.rate == 0.0:
            return x
        if self.rate == 1.0:
            # x * 0 would turn inf/nan inputs into nan; every element is dropped anyway.
            return fnp.zeros_like(x)
        keep = 1.0 - self.rate
        if rng is None:
            # make_rng raises a ValueError that says to pass rng= (or train=False); the
            # module machinery puts this layer's location in front of it.
            rng = self.make_rng()
        mask_shape = [1 if (i in self.broadcast_dims or i - x.ndim in self.broadcast_dims)
                      else n for i, n in enumerate(x.shape)]
        mask = fnp.broadcast_to(random.bernoulli(rng, keep, tuple(mask_shape)), x.shape)
        # select rather than multiply: a dropped inf/nan input gives 0, not nan, and the
        # gradient is exactly mask / keep.
        return lax.select(mask, x / keep, fnp.zeros_like(x))
