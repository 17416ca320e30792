"""nn.optim against optax: the same gradients through ours and optax's optimizer, updates
and params compared at every step; then jit, the learning-rate readout and the errors."""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite import lax

try:
    from functorch_lite.nn import optim, schedules
except ImportError:  # until nn/__init__ re-exports them
    import functorch_lite.nn.optim as optim
    import functorch_lite.nn.schedules as schedules

STEPS = 5

# Shapes of the test pytrees. "dict" has what the default weight-decay mask must tell
# apart: a kernel, a bias, a norm scale, an attention bias of rank 2, an embedding, a scalar.
# Few distinct shapes, so the eager one-op executables are shared (compiling them is most
# of this file's time).
SHAPES = {
    "dict": {"dense": {"kernel": (2, 3), "bias": (3,)}, "norm": {"scale": (3,)},
             "attn": {"bias": (2, 3)}, "embed": {"embedding": (2, 3)}, "temperature": ()},
    "seq": ([(2, 3), (3,)], ((2, 3),)),
    "scalar": (),
}
# adamw's default mask on those trees, written out by hand.
DEFAULT_MASKS = {
    "dict": {"dense": {"kernel": True, "bias": False}, "norm": {"scale": False},
             "attn": {"bias": False}, "embed": {"embedding": True}, "temperature": False},
    "seq": ([True, False], (True,)),
    "scalar": False,
}


def _is_shape(x):
    return isinstance(x, tuple) and all(isinstance(d, int) for d in x)


def _draw(kind, rng, scale=1.0, dtype=np.float32):
    return jax.tree.map(lambda s: (rng.normal(size=s) * scale).astype(dtype), SHAPES[kind],
                        is_leaf=_is_shape)


def _to_fl(t):
    return jax.tree.map(fnp.asarray, t)


def _to_jax(t):
    return jax.tree.map(jnp.asarray, t)


def _assert_close(got, want, rtol=1e-6, atol=1e-7, what=""):
    g_leaves, g_def = jax.tree.flatten(got)
    w_leaves, w_def = jax.tree.flatten(want)
    assert g_def == w_def, (what, g_def, w_def)
    for g, w in zip(g_leaves, w_leaves):
        g, w = np.asarray(g), np.asarray(w)
        assert g.dtype == w.dtype and g.shape == w.shape, (what, g.dtype, w.dtype)
        np.testing.assert_allclose(g.astype(np.float32), w.astype(np.float32), rtol=rtol,
                                   atol=atol, err_msg=what)


def _compare(ours, theirs, kind="dict", dtype=np.float32, rtol=1e-6, atol=1e-7, seed=0,
             update=None):
    """Run STEPS updates through both optimizers from the same params and gradients."""
    rng = np.random.default_rng(seed)
    params = _draw(kind, rng, dtype=dtype)
    grads = [_draw(kind, rng, scale=0.5, dtype=dtype) for _ in range(STEPS)]
    p_ours, p_theirs = _to_fl(params), _to_jax(params)
    s_ours, s_theirs = ours.init(p_ours), theirs.init(p_theirs)
    update = update or ours.update
    for i, g in enumerate(grads):
        u_ours, s_ours = update(_to_fl(g), s_ours, p_ours)
        u_theirs, s_theirs = theirs.update(_to_jax(g), s_theirs, p_theirs)
        _assert_close(u_ours, u_theirs, rtol, atol, f"updates at step {i}")
        p_ours = optim.apply_updates(p_ours, u_ours)
        p_theirs = optax.apply_updates(p_theirs, u_theirs)
        _assert_close(p_ours, p_theirs, rtol, atol, f"params at step {i}")
    return s_ours


# Decay everything but the dense layer: as a tree, and as a callable.
CUSTOM_MASK = {"dense": {"kernel": False, "bias": False}, "norm": {"scale": True},
               "attn": {"bias": True}, "embed": {"embedding": True}, "temperature": True}


def _custom_mask(p):
    return {k: jax.tree.map(lambda _: k != "dense", v) for k, v in p.items()}


CASES = {
    "sgd": (lambda: optim.sgd(0.1), lambda: optax.sgd(0.1)),
    "sgd_momentum": (lambda: optim.sgd(0.1, momentum=0.9),
                     lambda: optax.sgd(0.1, momentum=0.9)),
    "sgd_nesterov": (lambda: optim.sgd(0.05, momentum=0.8, nesterov=True),
                     lambda: optax.sgd(0.05, momentum=0.8, nesterov=True)),
    "adam": (lambda: optim.adam(1e-2), lambda: optax.adam(1e-2)),
    "adam_hyper": (lambda: optim.adam(3e-3, b1=0.8, b2=0.95, eps=1e-6, eps_root=1e-8),
                   lambda: optax.adam(3e-3, b1=0.8, b2=0.95, eps=1e-6, eps_root=1e-8)),
    "nadam": (lambda: optim.adam(1e-2, nesterov=True),
              lambda: optax.adam(1e-2, nesterov=True)),
    "adamw_custom_tree_mask": (
        lambda: optim.adamw(1e-2, weight_decay=0.1, mask=CUSTOM_MASK),
        lambda: optax.adamw(1e-2, weight_decay=0.1, mask=CUSTOM_MASK)),
    "adamw_callable_mask": (lambda: optim.adamw(1e-2, weight_decay=0.1, mask=_custom_mask),
                            lambda: optax.adamw(1e-2, weight_decay=0.1, mask=_custom_mask)),
    "adamw_decay_all": (lambda: optim.adamw(1e-2, weight_decay=0.1, mask=True),
                        lambda: optax.adamw(1e-2, weight_decay=0.1)),
    "rmsprop": (lambda: optim.rmsprop(1e-2), lambda: optax.rmsprop(1e-2)),
    "rmsprop_centered": (lambda: optim.rmsprop(1e-2, centered=True),
                         lambda: optax.rmsprop(1e-2, centered=True)),
    "rmsprop_momentum": (lambda: optim.rmsprop(1e-2, momentum=0.9),
                         lambda: optax.rmsprop(1e-2, momentum=0.9)),
    "rmsprop_all_options": (
        lambda: optim.rmsprop(1e-2, decay=0.8, eps=1e-4, initial_scale=1.0, eps_in_sqrt=False,
                              centered=True, momentum=0.5, nesterov=True, bias_correction=True),
        lambda: optax.rmsprop(1e-2, decay=0.8, eps=1e-4, initial_scale=1.0, eps_in_sqrt=False,
                              centered=True, momentum=0.5, nesterov=True, bias_correction=True)),
    "rmsprop_bias_correction": (lambda: optim.rmsprop(1e-2, bias_correction=True),
                                lambda: optax.rmsprop(1e-2, bias_correction=True)),
    "adagrad": (lambda: optim.adagrad(0.1), lambda: optax.adagrad(0.1)),
    "adagrad_hyper": (lambda: optim.adagrad(0.1, initial_accumulator_value=0.0, eps=1e-4),
                      lambda: optax.adagrad(0.1, initial_accumulator_value=0.0, eps=1e-4)),
    "lion": (lambda: optim.lion(1e-3), lambda: optax.lion(1e-3)),
    "lion_hyper": (lambda: optim.lion(1e-3, b1=0.95, b2=0.9, weight_decay=0.1,
                                      mask=_custom_mask),
                   lambda: optax.lion(1e-3, b1=0.95, b2=0.9, weight_decay=0.1,
                                      mask=_custom_mask)),
    "clip_global_norm_adam": (
        lambda: optim.chain(optim.clip_by_global_norm(1.0), optim.adam(1e-2)),
        lambda: optax.chain(optax.clip_by_global_norm(1.0), optax.adam(1e-2))),
    "clip_global_norm_inactive": (
        lambda: optim.chain(optim.clip_by_global_norm(1e3), optim.sgd(0.1)),
        lambda: optax.chain(optax.clip_by_global_norm(1e3), optax.sgd(0.1))),
    "clip_trace_scale": (
        lambda: optim.chain(optim.clip(0.3), optim.trace(0.5), optim.scale(-0.1)),
        lambda: optax.chain(optax.clip(0.3), optax.trace(0.5), optax.scale(-0.1))),
    "decay_schedule": (
        lambda: optim.chain(optim.add_decayed_weights(schedules.linear_schedule(0.1, 0., 3)),
                            optim.sgd(0.1)),
        lambda: optax.chain(optax.add_decayed_weights(optax.linear_schedule(0.1, 0., 3)),
                            optax.sgd(0.1))),
    "adam_cosine_lr": (lambda: optim.adam(schedules.cosine_decay_schedule(1e-2, 4)),
                       lambda: optax.adam(optax.cosine_decay_schedule(1e-2, 4))),
    "flip_sign_false": (lambda: optim.scale_by_learning_rate(0.1, flip_sign=False),
                        lambda: optax.scale_by_learning_rate(0.1, flip_sign=False)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_optax(name):
    ours, theirs = CASES[name]
    _compare(ours(), theirs())


@pytest.mark.parametrize("kind", ["seq", "scalar"])
@pytest.mark.parametrize("name", ["sgd_momentum", "adam", "rmsprop_centered", "lion"])
def test_other_pytrees(name, kind):
    ours, theirs = CASES[name]
    _compare(ours(), theirs(), kind=kind)


@pytest.mark.parametrize("kind", sorted(SHAPES))
def test_default_weight_decay_mask(kind):
    params = _to_fl(_draw(kind, np.random.default_rng(0)))
    assert optim.default_weight_decay_mask(params) == DEFAULT_MASKS[kind]


@pytest.mark.parametrize("kind", sorted(SHAPES))
def test_adamw_default_mask_matches_optax_with_that_mask(kind):
    _compare(optim.adamw(1e-2, weight_decay=0.1),
             optax.adamw(1e-2, weight_decay=0.1, mask=DEFAULT_MASKS[kind]), kind=kind)


def test_adamw_mask_none_is_not_optax_none():
    # mask=None leaves the bias alone; optax's None would decay it.
    params = {"bias": fnp.ones((2, 3)), "kernel": fnp.ones((2, 3))}
    zeros = fl.tree.map(fnp.zeros_like, params)
    opt = optim.adamw(1.0, weight_decay=0.5)
    updates, _ = opt.update(zeros, opt.init(params), params)
    np.testing.assert_array_equal(np.asarray(updates["bias"]), 0.0)
    np.testing.assert_allclose(np.asarray(updates["kernel"]), -0.5)
    updates, _ = optim.adamw(1.0, weight_decay=0.5, mask=True).update(
        zeros, opt.init(params), params)
    np.testing.assert_allclose(np.asarray(updates["bias"]), -0.5)


def test_jit_with_schedule_tracks_lr_and_count():
    sched = schedules.warmup_cosine_decay_schedule(0.0, 1e-2, 2, 6, end_value=1e-4)
    opt = optim.adamw(sched, weight_decay=0.1)
    jit_update = fl.jit(opt.update)
    state = _compare(opt, optax.adamw(optax.warmup_cosine_decay_schedule(0.0, 1e-2, 2, 6, 1e-4),
                                      weight_decay=0.1, mask=DEFAULT_MASKS["dict"]),
                     update=jit_update)
    assert int(optim.step_count(state)) == STEPS
    np.testing.assert_allclose(float(optim.current_lr(state)), float(sched(STEPS)), rtol=1e-6)
    # Step by step: before update k the rate shown is the schedule at k.
    params = _to_fl(_draw("dict", np.random.default_rng(1)))
    state = opt.init(params)
    for k in range(STEPS):
        assert int(optim.step_count(state)) == k
        np.testing.assert_allclose(float(optim.current_lr(state)), float(sched(k)), rtol=1e-6,
                                   atol=1e-12)
        _, state = jit_update(params, state, params)


def test_float_lr_readout():
    params = _to_fl(_draw("seq", np.random.default_rng(0)))
    opt = optim.sgd(0.25, momentum=0.9)
    state = opt.init(params)
    for k in range(3):
        assert float(optim.current_lr(state)) == 0.25 and int(optim.step_count(state)) == k
        _, state = opt.update(params, state, params)
    assert int(optim.step_count(state)) == 3


def test_scan_over_steps_matches_eager():
    # The state must be a stable carry: same structure, shapes and dtypes after update.
    opt = optim.adamw(schedules.exponential_decay(1e-2, 2, 0.5), weight_decay=0.1)
    rng = np.random.default_rng(0)
    params = _to_fl(_draw("dict", rng))
    grads = [_to_fl(_draw("dict", rng)) for _ in range(3)]
    stacked = fl.tree.map(lambda *xs: fnp.stack(xs), *grads)

    def body(carry, g):
        p, s = carry
        u, s = opt.update(g, s, p)
        return (optim.apply_updates(p, u), s), None

    (p_scan, s_scan), _ = lax.scan(body, (params, opt.init(params)), stacked)
    p, s = params, opt.init(params)
    for g in grads:
        u, s = opt.update(g, s, p)
        p = optim.apply_updates(p, u)
    _assert_close(p_scan, p, rtol=1e-6, atol=1e-7)
    assert int(optim.step_count(s_scan)) == 3
    np.testing.assert_allclose(float(optim.current_lr(s_scan)), float(optim.current_lr(s)))


def test_states_are_namedtuples_and_round_trip():
    params = _to_fl(_draw("dict", np.random.default_rng(0)))
    grads = _to_fl(_draw("dict", np.random.default_rng(1)))
    opt = optim.chain(optim.clip_by_global_norm(1.0),
                      optim.adamw(schedules.linear_schedule(1e-2, 1e-3, 3)))
    state = opt.init(params)
    _, state = opt.update(grads, state, params)

    def walk(s):
        if isinstance(s, tuple) and not hasattr(s, "_fields"):
            for child in s:
                walk(child)
        else:
            assert hasattr(s, "_fields"), type(s)
    walk(state)
    leaves, treedef = fl.tree.flatten(state)
    rebuilt = fl.tree.unflatten(treedef, leaves)
    assert fl.tree.structure(rebuilt) == treedef
    u1, s1 = opt.update(grads, state, params)
    u2, s2 = opt.update(grads, rebuilt, params)
    _assert_close(u1, u2, rtol=0, atol=0)
    _assert_close(fl.tree.leaves(s1), fl.tree.leaves(s2), rtol=0, atol=0)


def test_dtypes_follow_params_and_mu_dtype():
    # Low-precision params (a scalar tree: a new dtype means new executables to compile).
    _compare(optim.adam(1e-2), optax.adam(1e-2), "scalar", jnp.bfloat16, rtol=1e-2, atol=1e-3)
    _compare(optim.sgd(1e-1, momentum=0.9), optax.sgd(1e-1, momentum=0.9), "scalar",
             np.float16, rtol=1e-3, atol=1e-4)
    state = _compare(optim.adam(1e-2, mu_dtype=jnp.bfloat16),
                     optax.adam(1e-2, mu_dtype=jnp.bfloat16))
    assert {leaf.dtype for leaf in fl.tree.leaves(state[0].mu)} == {np.dtype(jnp.bfloat16)}
    assert {leaf.dtype for leaf in fl.tree.leaves(state[0].nu)} == {np.dtype(np.float32)}


def test_global_norm():
    tree = _to_fl(_draw("dict", np.random.default_rng(0)))
    np.testing.assert_allclose(float(optim.global_norm(tree)),
                               float(optax.tree.norm(_to_jax(tree))), rtol=1e-6)


# ----------------------------------------------------------------------------- errors

@pytest.mark.parametrize("make", [lambda: optim.sgd(-0.1), lambda: optim.adamw(-1e-3),
                                  lambda: optim.rmsprop(float("nan"))])
def test_negative_learning_rate(make):
    with pytest.raises(ValueError, match="learning_rate must be >= 0"):
        make()


def test_learning_rate_forms():
    optim.sgd(fnp.asarray(0.1))  # a 0-d array is a rate
    with pytest.raises(ValueError, match="scalar or a schedule"):
        optim.sgd(fnp.asarray([0.1, 0.2]))
    with pytest.raises(ValueError, match="weight_decay must be >= 0"):
        optim.adamw(1e-3, weight_decay=-0.1)


def test_bad_schedules_named_at_construction():
    def vector_lr(count):
        return fnp.ones((2,)) * 0.1

    def negative_lr(count):
        return -0.1 + 0 * count

    with pytest.raises(ValueError, match="vector_lr.*scalar"):
        optim.adam(vector_lr)
    with pytest.raises(ValueError, match="negative_lr.*-0.1"):
        optim.sgd(negative_lr)
    with pytest.raises(ValueError, match=r"linear_schedule\(init_value=-1"):
        optim.adam(schedules.linear_schedule(-1.0, 0.0, 10))


def test_mismatched_trees_name_the_paths():
    params = _to_fl(_draw("dict", np.random.default_rng(0)))
    opt = optim.adam(1e-3)
    state = opt.init(params)
    grads = dict(params, extra=fnp.ones(3))
    del grads["temperature"]
    with pytest.raises(ValueError) as err:
        opt.update(grads, state, params)
    assert "['extra']" in str(err.value) and "['temperature']" in str(err.value)
    # Same leaf paths but a list where a tuple was: the containers are shown.
    seq = _to_fl(_draw("seq", np.random.default_rng(0)))
    wrong = (seq[0], list(seq[1]))
    with pytest.raises(ValueError, match="different tree structures"):
        optim.sgd(0.1).update(wrong, optim.sgd(0.1).init(seq), seq)


def test_other_errors():
    with pytest.raises(ValueError, match="needs the params"):
        opt = optim.adamw(1e-3)
        params = {"w": fnp.ones((2, 2))}
        opt.update(params, opt.init(params))
    with pytest.raises(ValueError, match="nesterov"):
        optim.sgd(0.1, nesterov=True)
    with pytest.raises(ValueError, match="no learning rate"):
        optim.current_lr(optim.scale_by_adam().init({"w": fnp.ones(2)}))
