"""nn.schedules against optax's schedules over every step of a range that crosses each
boundary: eagerly with Python ints, and inside fl.jit with a traced int32 step."""
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import functorch_lite as fl
import functorch_lite.numpy as fnp

try:
    from functorch_lite.nn import schedules
except ImportError:  # until nn/__init__ re-exports it
    import functorch_lite.nn.schedules as schedules

N = 30  # steps 0..N-1; every boundary below lies inside

CASES = {
    "constant": ("constant_schedule", (0.3,), {}),
    "linear": ("linear_schedule", (1.0, 0.1, 10), {}),
    "linear_begin": ("linear_schedule", (0.1, 1.0, 7), {"transition_begin": 5}),
    "piecewise": ("piecewise_constant_schedule", (0.5, {5: 0.5, 12: 0.1, 20: 2.0}), {}),
    "piecewise_none": ("piecewise_constant_schedule", (0.5,), {}),
    "exponential": ("exponential_decay", (1.0, 5, 0.5), {}),
    "exponential_staircase": ("exponential_decay", (1.0, 4, 0.5),
                              {"transition_begin": 3, "staircase": True}),
    "exponential_end": ("exponential_decay", (1.0, 3, 0.5), {"end_value": 0.2}),
    "exponential_growth_end": ("exponential_decay", (0.1, 3, 2.0), {"end_value": 0.5}),
    "cosine": ("cosine_decay_schedule", (0.1, 20), {}),
    "cosine_alpha_exponent": ("cosine_decay_schedule", (0.1, 17), {"alpha": 0.1,
                                                                    "exponent": 2.0}),
    "warmup_cosine": ("warmup_cosine_decay_schedule", (0.0, 1.0, 5, 25), {}),
    "warmup_cosine_end": ("warmup_cosine_decay_schedule", (0.01, 0.5, 4, 20),
                          {"end_value": 1e-3, "exponent": 1.5}),
    "warmup_cosine_no_warmup": ("warmup_cosine_decay_schedule", (0.0, 1.0, 0, 20), {}),
}


def _pair(name):
    fn, args, kwargs = CASES[name]
    return getattr(schedules, fn)(*args, **kwargs), getattr(optax, fn)(*args, **kwargs)


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_optax(name):
    ours, theirs = _pair(name)
    steps = np.arange(N, dtype=np.int32)
    want = np.asarray(theirs(jnp.asarray(steps)), np.float32) * np.ones(N, np.float32)
    # Traced int32 steps inside jit (all steps at once: a schedule is elementwise).
    got = np.asarray(fl.jit(ours)(fnp.asarray(steps))) * np.ones(N, np.float32)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    # One traced scalar step, and Python ints, at the edges and the boundaries.
    jit_ours = fl.jit(ours)
    for step in (0, 4, 5, 12, N - 1):
        np.testing.assert_allclose(float(jit_ours(fnp.asarray(step, fnp.int32))), want[step],
                                   rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(float(ours(step)), float(theirs(step)), rtol=1e-6,
                                   atol=1e-7)


def test_join_schedules():
    ours = schedules.join_schedules(
        [schedules.constant_schedule(1.0), schedules.linear_schedule(1.0, 0.0, 5),
         schedules.constant_schedule(0.25)], [3, 10])
    theirs = optax.join_schedules(
        [optax.constant_schedule(1.0), optax.linear_schedule(1.0, 0.0, 5),
         optax.constant_schedule(0.25)], [3, 10])
    steps = np.arange(N, dtype=np.int32)
    np.testing.assert_allclose(np.asarray(fl.jit(ours)(fnp.asarray(steps))),
                               np.asarray(theirs(jnp.asarray(steps))), rtol=1e-6)


def test_linear_end_is_exact_under_jit():
    # XLA turns the division into a multiply by 1/5, so optax's jitted value is -1.5e-8 here.
    sched = fl.jit(schedules.linear_schedule(1.0, 0.0, 5))
    assert float(sched(fnp.asarray(5, fnp.int32))) == 0.0


def test_schedules_have_readable_names():
    s = schedules.cosine_decay_schedule(0.1, 100)
    assert s.__name__.startswith("cosine_decay_schedule(init_value=0.1, decay_steps=100")


@pytest.mark.parametrize("make, match", [
    (lambda: schedules.linear_schedule(1.0, 0.0, 0), "transition_steps must be > 0"),
    (lambda: schedules.linear_schedule(1.0, 0.0, 5, transition_begin=-1), "transition_begin"),
    (lambda: schedules.exponential_decay(1.0, 0, 0.5), "transition_steps must be > 0"),
    (lambda: schedules.exponential_decay(1.0, 10, 0.0), "decay_rate must be > 0"),
    (lambda: schedules.exponential_decay(1.0, 10, 0.5, transition_begin=-2),
     "transition_begin"),
    (lambda: schedules.cosine_decay_schedule(1.0, 0), "decay_steps must be > 0"),
    (lambda: schedules.warmup_cosine_decay_schedule(0.0, 1.0, 10, 10), "must exceed"),
    (lambda: schedules.warmup_cosine_decay_schedule(0.0, 1.0, -1, 10), "warmup_steps"),
    (lambda: schedules.piecewise_constant_schedule(1.0, {5: -0.1}), "scales must be >= 0"),
    (lambda: schedules.join_schedules([schedules.constant_schedule(1.0)], [3]),
     "one boundary fewer"),
])
def test_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()
