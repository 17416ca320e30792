"""nn.losses and nn.metrics against optax (values, and jax.grad for gradients)."""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import functorch_lite as fl
import functorch_lite.numpy as fnp
import functorch_lite.nn.losses as losses
import functorch_lite.nn.metrics as metrics


def _close(got, want, rtol=1e-5, atol=1e-5):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, (got.shape, want.shape)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    np.testing.assert_allclose(got.astype(np.float32), want.astype(np.float32),
                               rtol=rtol, atol=atol)


def _normal(seed, shape, scale=1.0):
    return (np.random.default_rng(seed).normal(size=shape) * scale).astype(np.float32)


def _probs(seed, shape):
    z = np.exp(_normal(seed, shape))
    return (z / z.sum(-1, keepdims=True)).astype(np.float32)


def _ids(seed, shape, classes):
    return np.random.default_rng(seed).integers(0, classes, shape).astype(np.int32)


def _one_hot(ids, classes):
    return np.eye(classes, dtype=np.float32)[ids]


def _check(ours, theirs, *args, argnums=0, rtol=1e-5, atol=1e-5, grad_atol=1e-6):
    """Per-example values, and the gradient of their mean, against optax's; both sides under
    jit (one compile per case keeps the file fast; eager calls are checked separately)."""
    def value_and_grad(loss, mean, value_and_grad_, jit):
        def mean_and_values(*a):
            out = loss(*a)
            return mean(out), out
        return jit(value_and_grad_(mean_and_values, argnums, has_aux=True))
    (_, got), g = value_and_grad(ours, fnp.mean, fl.value_and_grad, fl.jit)(*args)
    (_, want), w = value_and_grad(theirs, jnp.mean, jax.value_and_grad, jax.jit)(*args)
    _close(got, want, rtol, atol)
    assert np.isfinite(np.asarray(g)).all() == np.isfinite(np.asarray(w)).all()
    _close(g, w, rtol, grad_atol)


def _values(ours, theirs, *args, rtol=1e-5, atol=1e-5):
    """``ours(*args)`` under fl.jit against ``theirs(*args)`` under jax.jit; both may
    return a tuple, so several value checks share one compile."""
    got, want = fl.jit(ours)(*args), jax.jit(theirs)(*args)
    got, want = (got, want) if isinstance(want, tuple) else ((got,), (want,))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        _close(g, w, rtol, atol)


SHAPES = [(8, 5), (2, 3, 7), (4,)]


# ------------------------------------------------------------------ cross entropies

@pytest.mark.parametrize("shape", SHAPES)
def test_softmax_cross_entropy_matches_optax(shape):
    logits, labels = _normal(0, shape, 3.0), _probs(1, shape)
    _check(losses.softmax_cross_entropy, optax.softmax_cross_entropy, logits, labels)
    if len(shape) == 2:
        # d/dlabels too (a distillation target that is itself learned).
        _check(losses.softmax_cross_entropy, optax.softmax_cross_entropy, logits, labels,
               argnums=1)
    # One-hot labels give the integer variant's number.
    ids = _ids(2, shape[:-1], shape[-1])
    _values(lambda x, i: losses.softmax_cross_entropy(x, fnp.eye(shape[-1])[i]),
            optax.softmax_cross_entropy_with_integer_labels, logits, ids)


@pytest.mark.parametrize("shape", SHAPES)
def test_integer_labels_match_optax(shape):
    logits, labels = _normal(3, shape, 3.0), _ids(4, shape[:-1], shape[-1])
    ours, theirs = (losses.softmax_cross_entropy_with_integer_labels,
                    optax.softmax_cross_entropy_with_integer_labels)
    _check(ours, theirs, logits, labels)


def test_integer_labels_other_axes():
    ours, theirs = (losses.softmax_cross_entropy_with_integer_labels,
                    optax.softmax_cross_entropy_with_integer_labels)
    logits = _normal(5, (6, 4, 3), 2.0)
    labels = _ids(6, (4, 3), 6)
    _check(lambda x: ours(x, labels, axis=0), lambda x: theirs(x, labels, axis=0), logits)
    # A tuple of axes: a label is a flat index into the (3, 4) slice (row-major).
    x4, l4 = _normal(8, (2, 3, 4, 5), 2.0), _ids(9, (2, 5), 12)
    _check(lambda x: ours(x, l4, axis=(1, 2)), lambda x: theirs(x, l4, axis=(1, 2)), x4)


def test_cross_entropies_bfloat16():
    logits = _normal(10, (16, 10), 3.0).astype(jnp.bfloat16)
    ids = _ids(11, (16,), 10)
    oh = _one_hot(ids, 10)
    tol = dict(rtol=3e-2, atol=3e-2, grad_atol=3e-2)
    _check(losses.softmax_cross_entropy_with_integer_labels,
           optax.softmax_cross_entropy_with_integer_labels, logits, ids, **tol)
    _check(losses.softmax_cross_entropy, optax.softmax_cross_entropy, logits,
           oh.astype(jnp.bfloat16), **tol)
    # float32 labels promote the result to float32, as in optax.
    _values(losses.softmax_cross_entropy, optax.softmax_cross_entropy, logits, oh,
            rtol=3e-2, atol=3e-2)


def test_cross_entropies_extreme_logits():
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4], [-1e4, -1e4, -1e4],
                       [0.0, 0.0, 1e4]], np.float32)
    ids = np.array([0, 2, 1, 0], np.int32)
    oh = _one_hot(ids, 3)
    cases = [
        (losses.softmax_cross_entropy_with_integer_labels,
         optax.softmax_cross_entropy_with_integer_labels, ids),
        (losses.softmax_cross_entropy, optax.softmax_cross_entropy, oh),
        (lambda x, y: losses.softmax_cross_entropy(x, losses.smooth_labels(y, 1.0)),
         lambda x, y: optax.softmax_cross_entropy(x, optax.smooth_labels(y, 1.0)), oh),
        (losses.softmax_cross_entropy, optax.softmax_cross_entropy,
         np.asarray(optax.smooth_labels(oh, 0.9))),
    ]
    for ours, theirs, labels in cases:
        _check(ours, theirs, logits, labels, rtol=1e-6, atol=1e-2)
    # -inf logits on classes that are not the label: optax's integer variant is finite.
    inf_logits = np.array([[2.0, -np.inf, 1.0], [-np.inf, 0.5, -np.inf]], np.float32)
    inf_ids = np.array([0, 1], np.int32)
    _check(losses.softmax_cross_entropy_with_integer_labels,
           optax.softmax_cross_entropy_with_integer_labels, inf_logits, inf_ids)
    # The one-hot variant handles them through `where`.
    w = np.isfinite(inf_logits)
    _values(lambda x, y, w: losses.softmax_cross_entropy(x, y, where=w),
            lambda x, y, w: optax.softmax_cross_entropy(x, y, where=w),
            inf_logits, _one_hot(inf_ids, 3), w)


def test_cross_entropy_where():
    logits, ids = _normal(12, (5, 6), 2.0), _ids(13, (5,), 6)
    oh = _one_hot(ids, 6)
    mask = np.random.default_rng(14).random((5, 6)) > 0.4
    mask[np.arange(5), ids] = True
    mask[3] = False                      # an example with nothing selected: loss 0
    per_example = np.array([True, False, True, True, False])
    for ours, theirs, labels, where in [
            (losses.softmax_cross_entropy, optax.softmax_cross_entropy, oh, mask),
            (losses.softmax_cross_entropy, optax.softmax_cross_entropy, oh, per_example),
            (losses.softmax_cross_entropy_with_integer_labels,
             optax.softmax_cross_entropy_with_integer_labels, ids, mask)]:
        _check(lambda x, y, w: ours(x, y, where=w), lambda x, y, w: theirs(x, y, where=w),
               logits, labels, where)
    # Per-example where for the integer variant; a large masked-out logit must not leak
    # into the normaliser.
    big = logits.copy()
    big[:, 0] = 1e4
    w = np.ones_like(mask)
    w[:, 0] = False

    def both(lib):
        return (lib.softmax_cross_entropy_with_integer_labels(logits, ids, where=per_example),
                lib.softmax_cross_entropy(big, oh, where=w))
    _values(lambda: both(losses), lambda: both(optax), rtol=1e-5, atol=1e-4)


def test_smooth_labels():
    oh = _one_hot(_ids(15, (4, 3), 5), 5)
    where = np.random.default_rng(16).random(oh.shape) > 0.3

    def smoothed(lib):
        return (*(lib.smooth_labels(oh, alpha) for alpha in (0.0, 0.1, 0.9, 1.0)),
                lib.smooth_labels(oh, 0.2, where=where),
                lib.smooth_labels(oh, 0.2, axis=(1, 2)))
    _values(lambda: smoothed(losses), lambda: smoothed(optax))
    # Uniform labels (alpha=1) give log(num_classes) for equal logits.
    out = fl.jit(lambda x, y: losses.softmax_cross_entropy(x, losses.smooth_labels(y, 1.0)))(
        np.zeros((2, 5), np.float32), oh[0, :2])
    np.testing.assert_allclose(np.asarray(out), np.log(5.0), rtol=1e-6)


# -------------------------------------------------------- elementwise losses and friends

def _elementwise_cases():
    rng = np.random.default_rng(20)
    # Hard 0/1 labels and soft ones side by side.
    binary = np.where(rng.random((3, 4, 6)) > 0.5, (rng.random((3, 4, 6)) > 0.5),
                      rng.random((3, 4, 6))).astype(np.float32)
    t = _normal(22, (3, 4, 6), 2.0)
    return [
        ("bce", losses.sigmoid_binary_cross_entropy, optax.sigmoid_binary_cross_entropy,
         binary),
        ("focal", losses.sigmoid_focal_loss, optax.sigmoid_focal_loss, binary),
        ("focal_alpha", lambda x, y: losses.sigmoid_focal_loss(x, y, alpha=0.25, gamma=1.5),
         lambda x, y: optax.sigmoid_focal_loss(x, y, alpha=0.25, gamma=1.5), binary),
        ("l2", losses.l2_loss, optax.l2_loss, t),
        ("huber_delta", lambda x, y: losses.huber_loss(x, y, delta=0.3),
         lambda x, y: optax.huber_loss(x, y, delta=0.3), t),
        ("log_cosh", losses.log_cosh, optax.log_cosh, t),
        ("cosine_distance", lambda x, y: losses.cosine_distance(x, y, epsilon=0.5, axis=(0, 2)),
         lambda x, y: optax.cosine_distance(x, y, epsilon=0.5, axis=(0, 2)), t),
    ]


@pytest.mark.parametrize("case", _elementwise_cases(), ids=lambda c: c[0])
def test_elementwise_losses_match_optax(case):
    name, ours, theirs, labels = case
    x = _normal(23, labels.shape, 3.0)
    x[0, 0, :2] = labels[0, 0, :2]        # zero errors: the kinks of |e| and of log-cosh
    x[0, 1, 0] = 0.0                      # a zero logit: sigmoid's midpoint
    _check(ours, theirs, x, labels)


def test_binary_losses_extreme_logits():
    x = np.array([1e4, -1e4, 1e4, -1e4, 0.0, 50.0, -50.0], np.float32)
    y = np.array([1.0, 0.0, 0.0, 1.0, 1.0, 0.3, 0.7], np.float32)
    for ours, theirs in [(losses.sigmoid_binary_cross_entropy,
                          optax.sigmoid_binary_cross_entropy),
                         (losses.sigmoid_focal_loss, optax.sigmoid_focal_loss)]:
        _check(ours, theirs, x, y)


def test_cosine_and_huber_edge_values():
    zero = np.zeros((2, 4), np.float32)
    where = np.array([[True, True, False, True], [False, True, True, True]])
    a, b = _normal(25, (2, 4)), _normal(26, (2, 4))
    e = np.array([-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0], np.float32)

    def edge_values(lib):
        return (lib.cosine_similarity(zero, zero, epsilon=1e-6),
                lib.cosine_similarity(a, b, where=where),
                lib.cosine_distance(a, b), lib.huber_loss(e), lib.huber_loss(e, delta=2.0),
                lib.l2_loss(e), lib.log_cosh(e),
                lib.squared_error(e, e[::-1].copy()))
    _values(lambda: edge_values(losses), lambda: edge_values(optax))


# ------------------------------------------------------------------- transformations

def test_losses_under_vmap():
    """vmap over the batch (one example per call), composed with grad and jit."""
    logits, ids = _normal(30, (6, 4, 5), 2.0), _ids(31, (6, 4), 5)
    oh = _one_hot(ids, 5)
    t = _normal(32, (6, 4, 5))
    w = np.random.default_rng(33).random((6, 4)) > 0.3
    cases = [
        (losses.softmax_cross_entropy_with_integer_labels,
         optax.softmax_cross_entropy_with_integer_labels, logits, ids),
        (lambda x, y: losses.softmax_cross_entropy(x, losses.smooth_labels(y, 0.1), where=w[0]),
         lambda x, y: optax.softmax_cross_entropy(x, optax.smooth_labels(y, 0.1), where=w[0]),
         logits, oh),
        (losses.sigmoid_binary_cross_entropy, optax.sigmoid_binary_cross_entropy, logits,
         (t > 0).astype(np.float32)),
        (losses.huber_loss, optax.huber_loss, logits, t),
    ]
    for ours, theirs, x, y in cases:
        _check(fl.vmap(ours), jax.vmap(theirs), x, y)
    # A non-leading axis, and a batched where.
    _values(fl.vmap(lambda x, y, w: losses.softmax_cross_entropy_with_integer_labels(
                x, y, where=w), in_axes=1, out_axes=1),
            lambda x, y, w: optax.softmax_cross_entropy_with_integer_labels(x, y, where=w),
            logits, ids, w)
    _close(fl.jit(fl.vmap(metrics.accuracy))(logits, ids),
           (logits.argmax(-1) == ids).mean(-1).astype(np.float32))


def test_eager():
    """The functions called outside jit, on numpy and on the library's own arrays."""
    logits, ids = _normal(34, (8, 5), 2.0), _ids(35, (8,), 5)
    oh = _one_hot(ids, 5)
    for ours, theirs, x, y in [
            (losses.softmax_cross_entropy_with_integer_labels,
             optax.softmax_cross_entropy_with_integer_labels, logits, ids),
            (losses.softmax_cross_entropy, optax.softmax_cross_entropy, logits, oh)]:
        want = jax.jit(theirs)(x, y)
        _close(ours(x, y), want)
        _close(ours(fnp.asarray(x), fnp.asarray(y)), want)
    g = fl.grad(lambda x: fnp.mean(losses.softmax_cross_entropy_with_integer_labels(x, ids)))
    w = jax.jit(jax.grad(
        lambda x: jnp.mean(optax.softmax_cross_entropy_with_integer_labels(x, ids))))
    _close(g(logits), w(logits), 1e-5, 1e-6)
    _close(metrics.accuracy(logits, ids), np.float32((logits.argmax(-1) == ids).mean()))


# --------------------------------------------------------------------------- metrics

def test_accuracy_matches_numpy():
    logits, ids = _normal(40, (32, 7)), _ids(41, (32,), 7)
    want = np.float32((logits.argmax(-1) == ids).mean())
    lead, lead_ids = _normal(42, (3, 4, 7)), _ids(43, (3, 4), 7)
    eye = np.eye(4, dtype=np.float32)
    ks = (1, 3, 7)

    def all_metrics(logits, ids, lead, lead_ids):
        return (metrics.accuracy(logits, ids), metrics.accuracy(logits, fnp.eye(7)[ids]),
                metrics.accuracy(lead, lead_ids), metrics.accuracy(eye, fnp.arange(4)),
                *(metrics.top_k_accuracy(logits, ids, k) for k in ks),
                metrics.top_k_accuracy(logits, fnp.eye(7)[ids], 3))
    got = fl.jit(all_metrics)(logits, ids, lead, lead_ids)
    top = [np.float32((np.argsort(-logits, -1)[:, :k] == ids[:, None]).any(-1).mean())
           for k in ks]
    want = (want, want, np.float32((lead.argmax(-1) == lead_ids).mean()), np.float32(1.0),
            *top, top[1])
    for g, w in zip(got, want, strict=True):
        _close(g, w, 1e-7, 0)


# ---------------------------------------------------------------------------- errors

def test_errors():
    x, ids = _normal(50, (4, 3)), _ids(51, (4,), 3)
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(4, 2\)"):
        losses.softmax_cross_entropy(x, np.zeros((4, 2), np.float32))
    with pytest.raises(ValueError, match="softmax_cross_entropy_with_integer_labels"):
        losses.softmax_cross_entropy(x, ids)
    with pytest.raises(TypeError, match="use softmax_cross_entropy"):
        losses.softmax_cross_entropy_with_integer_labels(x, ids.astype(np.float32))
    with pytest.raises(TypeError, match="use softmax_cross_entropy"):
        losses.softmax_cross_entropy_with_integer_labels(x, _one_hot(ids, 3))
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(5,\)"):
        losses.softmax_cross_entropy_with_integer_labels(x, np.zeros(5, np.int32))
    with pytest.raises(ValueError, match="softmax_cross_entropy\\b"):
        losses.softmax_cross_entropy_with_integer_labels(x, np.zeros((4, 3), np.int32))
    with pytest.raises(TypeError, match="floating"):
        losses.softmax_cross_entropy_with_integer_labels(ids[:, None] * np.ones((1, 3), int), ids)
    with pytest.raises(ValueError, match="axis"):
        losses.softmax_cross_entropy_with_integer_labels(x, ids, axis=None)
    with pytest.raises(ValueError, match=r"\(4, 1\).*\(4,\)"):
        losses.sigmoid_binary_cross_entropy(x[:, :1], ids.astype(np.float32))
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(3, 4\)"):
        losses.squared_error(x, x.T)
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(2, 3\)"):
        losses.huber_loss(x, x[:2])
    with pytest.raises(ValueError, match="where"):
        losses.softmax_cross_entropy(x, x, where=np.ones((2,), bool))
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(4, 2\)"):
        metrics.accuracy(x, np.zeros((4, 2), np.float32))
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(5,\)"):
        metrics.accuracy(x, np.zeros(5, np.int32))
    with pytest.raises(TypeError, match="int"):
        metrics.accuracy(x, ids.astype(np.float32))
    with pytest.raises(ValueError, match="k"):
        metrics.top_k_accuracy(x, ids, 0)
