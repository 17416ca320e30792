"""Classification metrics: batch means of per-example hits, as float32 scalars.

Labels are integer class ids of the batch shape, or one-hot (probability) rows of the
logits' shape; the two are told apart by shape, so ``(batch,)`` ids and
``(batch, classes)`` one-hot labels both work with ``(batch, classes)`` logits.
"""
from __future__ import annotations

import functorch_lite.numpy as fnp

__all__ = ["accuracy", "top_k_accuracy"]


def _class_ids(fn: str, logits, labels):
    """``labels`` as integer class ids of ``logits.shape[:-1]``."""
    logits, labels = fnp.asarray(logits), fnp.asarray(labels)
    if logits.ndim < 1:
        raise ValueError(f"{fn}: logits must have a class axis (..., classes), got a scalar")
    if tuple(labels.shape) == tuple(logits.shape):
        # One-hot or probability rows: the class is the row's largest entry.
        return logits, fnp.argmax(labels, axis=-1)
    if tuple(labels.shape) != tuple(logits.shape[:-1]):
        raise ValueError(f"{fn}: logits shape {tuple(logits.shape)} and labels shape "
                         f"{tuple(labels.shape)} do not match; labels must be class ids of "
                         f"shape {tuple(logits.shape[:-1])} or one-hot of shape "
                         f"{tuple(logits.shape)}")
    if not fnp.issubdtype(labels.dtype, fnp.integer):
        # Float ids are refused rather than rounded: 0.9999 would silently miss class 1.
        raise TypeError(f"{fn}: class-id labels must be integers, got {labels.dtype}; cast "
                        f"them with .astype(fnp.int32)")
    return logits, labels


def accuracy(logits, labels):
    """Fraction of examples whose largest logit is the true class.

    ``logits``: ``(..., classes)``; ``labels``: integer ids ``(...)`` or one-hot
    ``(..., classes)``. Returns a float32 scalar (the mean over all of ``(...)``).

    >>> print(nn.metrics.accuracy(fnp.array([[2.0, 1.0], [0.0, 3.0]]), fnp.array([0, 0])))
    0.5
    """
    logits, labels = _class_ids("accuracy", logits, labels)
    hits = fnp.argmax(logits, axis=-1) == labels
    return fnp.mean(hits.astype(fnp.float32))


def top_k_accuracy(logits, labels, k: int = 5):
    """Fraction of examples whose true class is among the ``k`` largest logits.

    A hit is "fewer than ``k`` classes score strictly higher than the true one", so ties
    count in the example's favour (and no sort is needed). Shapes as :func:`accuracy`;
    ``k=1`` is :func:`accuracy` up to ties. Returns a float32 scalar.
    """
    if int(k) != k or k < 1:
        raise ValueError(f"top_k_accuracy: k must be a positive integer, got {k!r}")
    logits, labels = _class_ids("top_k_accuracy", logits, labels)
    true_logit = fnp.take_along_axis(logits, fnp.expand_dims(labels, -1), axis=-1)
    higher = fnp.sum(logits > true_logit, axis=-1)
    return fnp.mean((higher < k).astype(fnp.float32))
