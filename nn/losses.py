"""Per-example losses with optax's names, arguments and semantics.

Every loss returns one value per example (or per element); nothing is averaged, so a
training step writes ``losses.softmax_cross_entropy_with_integer_labels(logits, y).mean()``.
Log-probabilities are always ``logits - logsumexp(logits)``, never ``log(softmax(logits))``,
so logits of size 1e4 give finite losses and gradients.
"""
from __future__ import annotations

import math

import numpy as np

import functorch_lite.numpy as fnp

__all__ = [
    "softmax_cross_entropy", "softmax_cross_entropy_with_integer_labels", "smooth_labels",
    "sigmoid_binary_cross_entropy", "sigmoid_focal_loss", "l2_loss", "squared_error",
    "huber_loss", "log_cosh", "cosine_similarity", "cosine_distance",
]


# --------------------------------------------------------------------------- checks

def _floating(fn: str, arg: str, x):
    x = fnp.asarray(x)
    if not fnp.issubdtype(x.dtype, fnp.floating):
        raise TypeError(f"{fn}: {arg} must have a floating dtype, got {x.dtype}{list(x.shape)}; "
                        f"cast it with .astype(fnp.float32)")
    return x


def _axes(fn: str, axis, ndim: int) -> tuple[int, ...]:
    """``axis`` (int, tuple of ints or None = all) as a tuple of non-negative ints."""
    if axis is None:
        return tuple(range(ndim))
    raw = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in raw:
        if not -ndim <= a < ndim:
            raise ValueError(f"{fn}: axis {a} is out of bounds for an input of rank {ndim}")
        out.append(int(a) % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{fn}: repeated axis in {axis}")
    return tuple(out)


def _check_broadcasts_to(fn: str, big_name: str, big, small_name: str, small):
    """``small`` must broadcast to ``big``'s shape without enlarging it: a (batch, 1) against
    (batch,) pair would otherwise silently become a (batch, batch) loss."""
    try:
        ok = tuple(np.broadcast_shapes(big.shape, small.shape)) == tuple(big.shape)
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"{fn}: {big_name} shape {tuple(big.shape)} and {small_name} shape "
                         f"{tuple(small.shape)} do not match; {small_name} must have "
                         f"{big_name}' shape (or one that broadcasts to it)")


def _check_same_shape(fn: str, predictions, targets):
    if tuple(predictions.shape) != tuple(targets.shape):
        raise ValueError(f"{fn}: predictions shape {tuple(predictions.shape)} and targets shape "
                         f"{tuple(targets.shape)} must be equal")


def _where_like(fn: str, where, logits, axes):
    """``where`` as a boolean of ``logits``' shape; like optax, a mask without the class
    axes (one flag per example) gets them inserted."""
    where = fnp.asarray(where)
    if where.ndim != logits.ndim:
        if where.ndim + len(axes) != logits.ndim:
            raise ValueError(f"{fn}: where shape {tuple(where.shape)} must be logits' shape "
                             f"{tuple(logits.shape)} or that shape without the axes {axes}")
        where = fnp.expand_dims(where, axes)
    _check_broadcasts_to(fn, "logits", logits, "where", where)
    return fnp.broadcast_to(where.astype(bool), logits.shape)


def _log_normalizer(logits, axes, where):
    """logsumexp of ``logits`` over ``axes`` (kept as size-1 axes), over ``where`` only.

    Masked entries become -inf, so they add exp(-inf) = 0 and get a zero derivative. A row
    with nothing selected would give log(0) = -inf (and infinities in the backward pass);
    its loss is discarded by the callers, so it is normalised over all of its entries
    instead, which keeps everything finite.
    """
    if where is None:
        return fnp.logsumexp(logits, axis=axes, keepdims=True)
    live = fnp.any(where, axis=axes, keepdims=True)
    selected = fnp.where(where | ~live, logits, -np.inf)
    return fnp.logsumexp(selected, axis=axes, keepdims=True)


def _log_sigmoid(x):
    """log(sigmoid(x)) = -softplus(-x), finite for any finite x, with derivative
    sigmoid(-x) everywhere (0.5 at 0).

    Written as a select between the two one-sided forms rather than through
    ``fnp.logaddexp(-x, 0)``: the |x| kink in logaddexp's stable form makes its derivative
    at x == 0 come out as 0 instead of 0.5. Each branch reads a clamped input so the branch
    that is not selected never overflows (its zero cotangent would turn into NaN).
    """
    positive = x > 0
    x_pos = fnp.where(positive, x, fnp.zeros_like(x))
    x_neg = fnp.where(positive, fnp.zeros_like(x), x)
    # x > 0: -log(1 + exp(-x));  x <= 0: x - log(1 + exp(x)).
    return fnp.where(positive, -fnp.log1p(fnp.exp(-x_pos)), x_neg - fnp.log1p(fnp.exp(x_neg)))


# ------------------------------------------------------------------ classification

def softmax_cross_entropy(logits, labels, axis=-1, where=None):
    """Cross entropy between ``softmax(logits)`` and target distributions ``labels``.

    ``-sum(labels * log_softmax(logits), axis)``. ``logits``: float ``(..., classes)``;
    ``labels``: one-hot or probabilities, of ``logits``' shape (or broadcastable to it);
    ``axis``: the class axis or axes (``None``: all); ``where``: booleans of ``logits``'
    shape, or of the batch shape ``(...)`` to drop whole examples (their loss is 0).
    Returns shape ``(...)``.

    As in optax, a ``-inf`` logit with label 0 gives NaN (0 * -inf); mask such classes
    out with ``where`` instead.

    >>> print(nn.losses.softmax_cross_entropy(fnp.array([[1.2, -0.8, -0.5]]),
    ...                                       fnp.array([[1.0, 0.0, 0.0]])))
    [0.2761...]
    """
    fn = "softmax_cross_entropy"
    logits = _floating(fn, "logits", logits)
    labels = fnp.asarray(labels)
    if fnp.issubdtype(labels.dtype, fnp.integer) and labels.ndim < logits.ndim:
        raise ValueError(f"{fn}: labels of shape {tuple(labels.shape)} ({labels.dtype}) look "
                         f"like class ids for logits of shape {tuple(logits.shape)}; use "
                         f"softmax_cross_entropy_with_integer_labels, or one-hot encode them")
    _check_broadcasts_to(fn, "logits", logits, "labels", labels)
    axes = _axes(fn, axis, logits.ndim)
    if where is not None:
        where = _where_like(fn, where, logits, axes)
    log_probs = logits - _log_normalizer(logits, axes, where)
    return -fnp.sum(labels * log_probs, axis=axes, where=where)


def softmax_cross_entropy_with_integer_labels(logits, labels, axis=-1, where=None):
    """Cross entropy between ``softmax(logits)`` and integer class ids.

    ``logsumexp(logits) - logits[label]``, read with ``take_along_axis`` (no one-hot).
    ``logits``: float ``(..., classes)``; ``labels``: integers ``(...)`` in
    ``[0, classes)``. ``axis`` is the class axis; a tuple of axes makes their product the
    classes and a label a flat (row-major) index into them. ``where``: booleans of
    ``logits``' shape or of ``(...)``; an example with nothing selected has loss 0.
    Returns shape ``(...)``.

    >>> logits = fnp.array([[1.2, -0.8, -0.5], [0.9, -1.2, 1.1]])
    >>> print(nn.losses.softmax_cross_entropy_with_integer_labels(logits, fnp.array([0, 1])))
    [0.2761... 2.9518...]
    """
    fn = "softmax_cross_entropy_with_integer_labels"
    logits = _floating(fn, "logits", logits)
    labels = fnp.asarray(labels)
    if not fnp.issubdtype(labels.dtype, fnp.integer):
        raise TypeError(f"{fn}: labels must be integer class ids, got {labels.dtype} labels of "
                        f"shape {tuple(labels.shape)}; for one-hot or probability labels use "
                        f"softmax_cross_entropy")
    if not isinstance(axis, (int, np.integer, tuple)):
        raise ValueError(f"{fn}: axis must be an int or a tuple of ints, got {axis!r}")
    axes = _axes(fn, axis, logits.ndim)
    batch_axes = tuple(a for a in range(logits.ndim) if a not in axes)
    batch_shape = tuple(logits.shape[a] for a in batch_axes)
    try:
        ok = tuple(np.broadcast_shapes(batch_shape, labels.shape)) == batch_shape
    except ValueError:
        ok = False
    if not ok:
        hint = (" (labels of logits' shape look one-hot: use softmax_cross_entropy)"
                if tuple(labels.shape) == tuple(logits.shape) else "")
        raise ValueError(f"{fn}: logits shape {tuple(logits.shape)} and labels shape "
                         f"{tuple(labels.shape)} do not match; labels must have the batch "
                         f"shape {batch_shape}{hint}")
    labels = fnp.broadcast_to(labels, batch_shape)
    if where is not None:
        where = _where_like(fn, where, logits, axes)
    # The class axes go last and are flattened into one, so one code path serves an int
    # axis and a tuple (this is also what makes a label a flat index into the tuple's axes).
    if axes != (logits.ndim - 1,):
        logits = fnp.transpose(logits, batch_axes + axes).reshape(*batch_shape, -1)
        if where is not None:
            where = fnp.transpose(where, batch_axes + axes).reshape(*batch_shape, -1)
    label_logits = fnp.take_along_axis(logits, fnp.expand_dims(labels, -1), axis=-1)[..., 0]
    out = _log_normalizer(logits, (logits.ndim - 1,), where)[..., 0] - label_logits
    if where is not None:
        out = fnp.where(fnp.any(where, axis=-1), out, fnp.zeros_like(out))
    return out


def smooth_labels(labels, alpha, *, axis=-1, where=None):
    """Label smoothing: ``(1 - alpha) * labels + alpha / num_classes``.

    ``labels``: float one-hot ``(..., classes)``; ``alpha``: the mass spread uniformly
    (``1.0`` gives the uniform distribution); ``axis``: the class axis or axes; with
    ``where``, ``num_classes`` counts only the selected entries. Returns ``labels``' shape.
    """
    labels = _floating("smooth_labels", "labels", labels)
    axes = _axes("smooth_labels", axis, labels.ndim)
    if where is None:
        num_classes = math.prod(labels.shape[a] for a in axes)
    else:
        num_classes = fnp.sum(fnp.asarray(where), axis=axes, keepdims=True)
    return (1.0 - alpha) * labels + alpha / num_classes


def sigmoid_binary_cross_entropy(logits, labels):
    """Elementwise binary cross entropy of independent sigmoids.

    ``-labels * log_sigmoid(logits) - (1 - labels) * log_sigmoid(-logits)``.
    ``logits``: float ``(...)``; ``labels``: 0/1 or probabilities of ``logits``' shape
    (or broadcastable to it: a ``(batch, 1)`` vs ``(batch,)`` pair is an error, not a
    ``(batch, batch)`` loss). Returns ``logits``' shape.
    """
    fn = "sigmoid_binary_cross_entropy"
    logits = _floating(fn, "logits", logits)
    labels = fnp.asarray(labels)
    _check_broadcasts_to(fn, "logits", logits, "labels", labels)
    labels = labels.astype(logits.dtype)
    # log(1 - sigmoid(x)) is log_sigmoid(-x): no cancellation when sigmoid(x) is near 1.
    return -labels * _log_sigmoid(logits) - (1.0 - labels) * _log_sigmoid(-logits)


def sigmoid_focal_loss(logits, labels, alpha=None, gamma=2.0):
    """Focal loss (Lin et al. 2017): binary cross entropy scaled by ``(1 - p_t) ** gamma``.

    ``p_t`` is the probability given to the true outcome; ``alpha`` (optional) weighs
    positives by ``alpha`` and negatives by ``1 - alpha``. Shapes as
    :func:`sigmoid_binary_cross_entropy`; returns ``logits``' shape.
    """
    fn = "sigmoid_focal_loss"
    logits = _floating(fn, "logits", logits)
    labels = fnp.asarray(labels)
    _check_broadcasts_to(fn, "logits", logits, "labels", labels)
    labels = labels.astype(logits.dtype)
    ce = sigmoid_binary_cross_entropy(logits, labels)
    # 1 - p_t = (1 - y) * sigmoid(x) + y * sigmoid(-x), evaluated in log space so that
    # pow(., gamma) keeps its precision (and its gradient) when p_t is close to 1.
    log_p, log_q = _log_sigmoid(logits), _log_sigmoid(-logits)
    weights = fnp.stack(fnp.broadcast_arrays(1.0 - labels, labels), axis=-1)
    log_one_minus_pt = fnp.logsumexp(fnp.stack([log_p, log_q], axis=-1), axis=-1, b=weights)
    loss = ce * fnp.exp(gamma * log_one_minus_pt)
    if alpha is None:
        return loss
    return (alpha * labels + (1.0 - alpha) * (1.0 - labels)) * loss


# ---------------------------------------------------------------------- regression

def squared_error(predictions, targets=None):
    """Elementwise ``(predictions - targets) ** 2``; ``targets`` defaults to zeros.

    ``predictions``: float ``(...)``; ``targets``: the same shape. Returns ``(...)``; the
    mean squared error is ``squared_error(p, t).mean()``.
    """
    return _squared_error("squared_error", predictions, targets)


def _squared_error(fn: str, predictions, targets):
    predictions = _floating(fn, "predictions", predictions)
    if targets is None:
        return predictions ** 2
    targets = fnp.asarray(targets)
    _check_same_shape(fn, predictions, targets)
    return (predictions - targets) ** 2


def l2_loss(predictions, targets=None):
    """``0.5 * squared_error(predictions, targets)`` (the 1/2 cancels the square's 2 in
    the gradient). Shapes as :func:`squared_error`."""
    return 0.5 * _squared_error("l2_loss", predictions, targets)


def huber_loss(predictions, targets=None, delta=1.0):
    """Quadratic for errors up to ``delta``, linear beyond: ``0.5 * min(|e|, delta) ** 2 +
    delta * (|e| - min(|e|, delta))``; its gradient is the l2 gradient clipped to
    ``[-delta, delta]``. ``predictions``: float ``(...)``; ``targets``: broadcastable to it
    (default zeros). Returns ``(...)``.
    """
    predictions = _floating("huber_loss", "predictions", predictions)
    errors = predictions
    if targets is not None:
        targets = fnp.asarray(targets)
        _check_broadcasts_to("huber_loss", "predictions", predictions, "targets", targets)
        errors = predictions - targets
    abs_errors = fnp.abs(errors)
    quadratic = fnp.minimum(abs_errors, delta)
    return 0.5 * quadratic ** 2 + delta * (abs_errors - quadratic)


def log_cosh(predictions, targets=None):
    """Elementwise ``log(cosh(predictions - targets))``: about ``e**2 / 2`` near zero and
    ``|e| - log 2`` far from it, a smooth Huber. Shapes as :func:`huber_loss`."""
    predictions = _floating("log_cosh", "predictions", predictions)
    errors = predictions
    if targets is not None:
        targets = fnp.asarray(targets)
        _check_broadcasts_to("log_cosh", "predictions", predictions, "targets", targets)
        errors = predictions - targets
    # log cosh(e) = |e| + log1p(exp(-2|e|)) - log 2: no overflow, and unlike
    # logaddexp(e, -e) its derivative, tanh(e), comes out right at e == 0 too.
    abs_errors = fnp.abs(errors)
    return abs_errors + fnp.log1p(fnp.exp(-2.0 * abs_errors)) - math.log(2.0)


def cosine_similarity(predictions, targets, *, epsilon=0.0, axis=-1, where=None):
    """Cosine of the angle between ``predictions`` and ``targets`` along ``axis``.

    ``predictions``, ``targets``: float ``(..., dim)``; ``epsilon``: a floor on the squared
    norms (0 gives NaN for a zero vector, as optax); ``where``: entries to include.
    Returns ``(...)``.
    """
    fn = "cosine_similarity"
    a = _floating(fn, "predictions", predictions)
    b = _floating(fn, "targets", targets)
    try:
        np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(f"{fn}: predictions shape {tuple(a.shape)} and targets shape "
                         f"{tuple(b.shape)} do not broadcast") from None
    # Each vector is scaled to unit norm before the dot product (optax's order of
    # operations, so results agree to rounding).
    a_norm = fnp.sqrt(fnp.clip(fnp.sum(a * a, axis=axis, where=where, keepdims=True), epsilon))
    b_norm = fnp.sqrt(fnp.clip(fnp.sum(b * b, axis=axis, where=where, keepdims=True), epsilon))
    return fnp.sum((a / a_norm) * (b / b_norm), axis=axis, where=where)


def cosine_distance(predictions, targets, *, epsilon=0.0, axis=-1, where=None):
    """``1 - cosine_similarity(predictions, targets)``, in ``[0, 2]``. Shapes as
    :func:`cosine_similarity`."""
    return 1.0 - cosine_similarity(predictions, targets, epsilon=epsilon, axis=axis,
                                   where=where)
