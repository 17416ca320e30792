"""Learning-rate schedules with optax's names, arguments and numbers.

A schedule is a pure function ``step -> value``; ``step`` is a Python int or an int32
array (traced inside ``fl.jit``), so a schedule runs inside the jitted training step.
Pass one wherever a learning rate goes (``nn.optim.adamw(schedule)``): the optimizer
calls it with its own step count. Schedules compose with :func:`join_schedules`, which is
how :func:`warmup_cosine_decay_schedule` is built from a linear and a cosine piece.
Arguments that make no schedule (no steps to decay over, a negative scale) raise
ValueError here, where optax would log and fall back to a constant.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import functorch_lite.numpy as fnp

Schedule = Callable[..., object]

__all__ = ["constant_schedule", "exponential_decay", "cosine_decay_schedule",
           "warmup_cosine_decay_schedule", "piecewise_constant_schedule",
           "linear_schedule", "join_schedules"]


def _named(fn, name: str, **args):
    # A readable name, so errors (e.g. nn.optim's step-0 check) can say which schedule.
    fn.__name__ = fn.__qualname__ = f"{name}({', '.join(f'{k}={v!r}' for k, v in args.items())})"
    return fn


def _require(ok: bool, fn: str, message: str) -> None:
    if not ok:
        raise ValueError(f"{fn}: {message}")


def constant_schedule(value) -> Schedule:
    """``value`` at every step."""
    return _named(lambda count: value, "constant_schedule", value=value)


def linear_schedule(init_value, end_value, transition_steps: int,
                    transition_begin: int = 0) -> Schedule:
    """Hold ``init_value`` for ``transition_begin`` steps, move linearly to ``end_value``
    over ``transition_steps`` steps, then hold ``end_value``."""
    _require(transition_steps > 0, "linear_schedule",
             f"transition_steps must be > 0, got {transition_steps}.")
    _require(transition_begin >= 0, "linear_schedule",
             f"transition_begin must be >= 0, got {transition_begin}.")

    def schedule(count):
        done = fnp.clip(count - transition_begin, 0, transition_steps)
        # Under jit XLA divides by multiplying with the reciprocal, so 1 - done/steps can
        # come out as -1.5e-8 at the end; a rate must not turn negative.
        remaining = fnp.maximum(1 - done / transition_steps, 0.0)
        return (init_value - end_value) * remaining + end_value
    return _named(schedule, "linear_schedule", init_value=init_value, end_value=end_value,
                  transition_steps=transition_steps, transition_begin=transition_begin)


def piecewise_constant_schedule(init_value, boundaries_and_scales: dict | None = None
                                ) -> Schedule:
    """``init_value`` times the product of every ``scale`` whose boundary step has been
    reached: ``{100: 0.1, 200: 0.1}`` divides by 10 at step 100 and again at 200."""
    scales = sorted((boundaries_and_scales or {}).items())
    bad = [s for _, s in scales if not s >= 0]
    _require(not bad, "piecewise_constant_schedule", f"scales must be >= 0, got {bad}.")

    def schedule(count):
        value = init_value
        for boundary, scale in scales:
            value = fnp.where(count < boundary, value, value * scale)
        return value
    return _named(schedule, "piecewise_constant_schedule", init_value=init_value,
                  boundaries_and_scales=boundaries_and_scales)


def exponential_decay(init_value, transition_steps: int, decay_rate: float,
                      transition_begin: int = 0, staircase: bool = False,
                      end_value=None) -> Schedule:
    """``init_value * decay_rate ** ((step - transition_begin) / transition_steps)`` after
    ``transition_begin`` (the exponent floored with ``staircase``), bounded by
    ``end_value`` (below if ``decay_rate < 1``, above otherwise)."""
    _require(transition_steps > 0, "exponential_decay",
             f"transition_steps must be > 0, got {transition_steps}.")
    _require(decay_rate > 0, "exponential_decay", f"decay_rate must be > 0, got {decay_rate}.")
    _require(transition_begin >= 0, "exponential_decay",
             f"transition_begin must be >= 0, got {transition_begin}.")
    bound = fnp.maximum if decay_rate < 1.0 else fnp.minimum

    def schedule(count):
        since = count - transition_begin
        exponent = since / transition_steps
        if staircase:
            exponent = fnp.floor(exponent)
        value = fnp.where(since <= 0, init_value, init_value * fnp.power(decay_rate, exponent))
        return value if end_value is None else bound(value, end_value)
    return _named(schedule, "exponential_decay", init_value=init_value,
                  transition_steps=transition_steps, decay_rate=decay_rate,
                  transition_begin=transition_begin, staircase=staircase,
                  end_value=end_value)


def cosine_decay_schedule(init_value, decay_steps: int, alpha=0.0, exponent=1.0) -> Schedule:
    """Cosine decay from ``init_value`` to ``alpha * init_value`` over ``decay_steps``:
    ``init_value * ((1 - alpha) * (0.5 * (1 + cos(pi * t / T))) ** exponent + alpha)``."""
    _require(decay_steps > 0, "cosine_decay_schedule",
             f"decay_steps must be > 0, got {decay_steps}.")

    def schedule(count):
        if isinstance(count, int):  # a Python int could overflow int32; optax goes via float
            count = float(count)
        count = fnp.minimum(count, float(decay_steps))
        cosine = 0.5 * (1 + fnp.cos(math.pi * count / float(decay_steps)))
        return init_value * ((1 - alpha) * cosine ** exponent + alpha)
    return _named(schedule, "cosine_decay_schedule", init_value=init_value,
                  decay_steps=decay_steps, alpha=alpha, exponent=exponent)


def join_schedules(schedules: Sequence[Schedule], boundaries: Sequence[int]) -> Schedule:
    """Run ``schedules[i]`` from ``boundaries[i - 1]`` on, each seeing the steps since its
    own start."""
    _require(len(schedules) == len(boundaries) + 1, "join_schedules",
             f"needs one boundary fewer than schedules, got {len(schedules)} schedules and "
             f"{len(boundaries)} boundaries.")

    def schedule(count):
        value = schedules[0](count)
        for boundary, later in zip(boundaries, schedules[1:]):
            value = fnp.where(count < boundary, value, later(count - boundary))
        return value
    return _named(schedule, "join_schedules", schedules=[s.__qualname__ if hasattr(
        s, "__qualname__") else s for s in schedules], boundaries=list(boundaries))


def warmup_cosine_decay_schedule(init_value, peak_value, warmup_steps: int, decay_steps: int,
                                 end_value=0.0, exponent=1.0) -> Schedule:
    """Linear warmup from ``init_value`` to ``peak_value`` over ``warmup_steps``, then
    cosine decay to ``end_value``; ``decay_steps`` is the total length, warmup included."""
    fn = "warmup_cosine_decay_schedule"
    _require(warmup_steps >= 0, fn, f"warmup_steps must be >= 0, got {warmup_steps}.")
    _require(decay_steps > warmup_steps, fn,
             f"decay_steps (the total length, warmup included) must exceed warmup_steps, "
             f"got decay_steps={decay_steps}, warmup_steps={warmup_steps}.")
    alpha = 0.0 if peak_value == 0.0 else end_value / peak_value
    decay = cosine_decay_schedule(peak_value, decay_steps - warmup_steps, alpha, exponent)
    if warmup_steps == 0:  # optax's zero-step warmup is skipped entirely, so is this
        joined = decay
    else:
        warmup = linear_schedule(init_value, peak_value, warmup_steps)
        joined = join_schedules([warmup, decay], [warmup_steps])
    return _named(lambda count: joined(count), fn, init_value=init_value,
                  peak_value=peak_value, warmup_steps=warmup_steps, decay_steps=decay_steps,
                  end_value=end_value, exponent=exponent)
