"""Sequential: layers applied one after another."""
from __future__ import annotations

from typing import Callable, Sequence

from .module import Module

__all__ = ["Sequential"]


class Sequential(Module):
    """Apply ``layers`` in order; entries are modules or plain functions (activations).
    Parameters live under ``"0"``, ``"1"``, ... by position.

    >>> model = Sequential([Dense(64), relu, Dense(10)])   # params["0"], params["2"]
    """

    def __init__(self, layers: Sequence[Module | Callable]):
        layers = list(layers)
        for i, layer in enumerate(layers):
            if not callable(layer):
                raise TypeError(f"Sequential: entry {i} is {layer!r}, which is neither a "
                                f"module nor a function")
        self.layers = layers

    def _named_children(self):
        return ((str(i), layer) for i, layer in enumerate(self.layers)
                if isinstance(layer, Module))

    def __call__(self, x, *args, **kwargs):
        """``args``/``kwargs`` go to the first layer only (as Flax's Sequential)."""
        for i, layer in enumerate(self.layers):
            x = layer(x, *args, **kwargs) if i == 0 else layer(x)
        return x

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, i):
        return self.layers[i]

    def __repr__(self) -> str:
        inner = ",\n  ".join(repr(l) if isinstance(l, Module) else getattr(l, "__name__",
                                                                           repr(l))
                             for l in self.layers)
        return f"Sequential([\n  {inner}\n])"
