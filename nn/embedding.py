"""Embedding: a lookup table from integer ids to vectors, with ``attend`` for tied output
logits (Flax's ``nn.Embed``: the same parameter name, shape, initializer and semantics)."""
from __future__ import annotations

from typing import Callable

import numpy as np

import functorch_lite.numpy as fnp
from functorch_lite import lax

from . import initializers
from .module import Module, method, promote_dtype

__all__ = ["Embedding"]

# Flax's default: unit-variance rows (fan-in counted over the features axis, since the
# table is (num_embeddings, features) and out_axis=0 makes num_embeddings the "out" axis).
default_embed_init = initializers.variance_scaling(1.0, "fan_in", "normal", out_axis=0)


class Embedding(Module):
    """Map integer ids in ``[0, num_embeddings)`` to ``features``-dimensional vectors.

    The parameter ``embedding`` has shape ``(num_embeddings, features)``. Calling the layer
    on ids of any shape ``S`` gives ``S + (features,)``; negative ids count from the end and
    ids ``>= num_embeddings`` give NaN rows (as Flax). ``attend(query)`` computes
    ``query @ embedding.T``: ``(..., features) -> (..., num_embeddings)``, the logits of a
    language model whose output layer shares the input embedding.

    >>> emb = Embedding(1000, 64)
    >>> params, _ = emb.init(key, fnp.zeros((8, 16), fnp.int32))   # embedding (1000, 64)
    >>> h, _ = emb.apply(params, ids)                              # (8, 16) -> (8, 16, 64)
    >>> logits = emb.attend(params, h)                             # (8, 16, 1000)

    Inside a parent module, ``self.embed.attend(h)`` uses the same table.
    """

    def __init__(self, num_embeddings: int, features: int, dtype=None,
                 param_dtype=fnp.float32, embedding_init: Callable = default_embed_init):
        if int(num_embeddings) <= 0:
            raise ValueError(f"Embedding: num_embeddings must be a positive int, got "
                             f"{num_embeddings!r}")
        if int(features) <= 0:
            raise ValueError(f"Embedding: features must be a positive int, got "
                             f"{features!r}")
        self.num_embeddings, self.features = int(num_embeddings), int(features)
        self.dtype, self.param_dtype = dtype, param_dtype
        self.embedding_init = embedding_init

    def _table(self):
        return self.param("embedding", self.embedding_init,
                          (self.num_embeddings, self.features), self.param_dtype)

    def __call__(self, inputs):
        inputs = fnp.asarray(inputs)
        if not fnp.issubdtype(inputs.dtype, fnp.integer):
            raise TypeError(f"ids must be integers, got {np.dtype(inputs.dtype)} "
                            f"input of shape {tuple(inputs.shape)}; cast them with "
                            f"x.astype(fnp.int32)")
        table = self._table()
        if self.dtype is not None:
            table = table.astype(self.dtype)
        if self.num_embeddings == 1:
            # Flax broadcasts the single row whatever the id (no NaN for id 1, 2, ...).
            return fnp.broadcast_to(table[0], (*inputs.shape, self.features))
        return fnp.take(table, inputs, axis=0)

    @method
    def attend(self, query):
        """Scores of ``query`` against every embedding: ``(..., features) ->
        (..., num_embeddings)``."""
        query = fnp.asarray(query)
        if query.ndim == 0 or query.shape[-1] != self.features:
            raise ValueError(f"attend expects a query whose last axis has size "
                             f"{self.features} (the embedding features), got query shape "
                             f"{tuple(query.shape)} against embedding shape "
                             f"{(self.num_embeddings, self.features)}")
        table = self._table()
        query, table = promote_dtype(query, table, dtype=self.dtype)
        # Contract the feature axes directly instead of transposing the table first.
        return lax.dot_general(query, table, (((query.ndim - 1,), (1,)), ((), ())))
