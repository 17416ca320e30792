"""The small gradient transformations that ``nn.optim``'s optimizers are chained from.

Each constructor returns a :class:`GradientTransformation`, a pair of pure functions:
``init(params) -> state`` and ``update(updates, state, params=None) -> (updates, state)``.
States are NamedTuples of arrays (pytrees), so they pass through ``fl.jit``, ``lax.scan``
and checkpoints unchanged. The numbers follow optax's transforms of the same names.
"""
from __future__ import annotations

import numbers
from typing import Any, Callable, NamedTuple

import functorch_lite.numpy as fnp
from functorch_lite import lax, tree
from functorch_lite.tree_util import keystr


class GradientTransformation(NamedTuple):
    """``init(params) -> state``; ``update(updates, state, params=None) -> (updates, state)``."""
    init: Callable[[Any], Any]
    update: Callable[..., tuple[Any, Any]]


class EmptyState(NamedTuple):
    """The state of a transformation that keeps none."""


class ScaleByAdamState(NamedTuple):
    count: Any
    mu: Any
    nu: Any


class ScaleByRmsState(NamedTuple):
    count: Any
    nu: Any


class ScaleByStddevState(NamedTuple):
    count: Any
    mu: Any
    nu: Any


class ScaleByRssState(NamedTuple):
    sum_of_squares: Any


class ScaleByLionState(NamedTuple):
    count: Any
    mu: Any


class TraceState(NamedTuple):
    trace: Any


class ScaleByLearningRateState(NamedTuple):
    """``count`` updates done so far; ``learning_rate`` is the rate the next update uses."""
    count: Any
    learning_rate: Any


class AddDecayedWeightsState(NamedTuple):
    count: Any  # only kept when the weight decay is a schedule


class MaskedState(NamedTuple):
    inner_state: Any


class MaskedNode(NamedTuple):
    """Stands in for a masked-out subtree: a pytree node with no leaves, so the inner
    transformation neither sees it nor keeps state for it."""


# ----------------------------------------------------------------------------- helpers

_INT32_MAX = 2**31 - 1


def _increment(count):
    # Saturate instead of wrapping to a negative count after 2**31 - 1 steps.
    return fnp.where(count < _INT32_MAX, count + 1, count)


def _zero_count():
    return fnp.zeros((), fnp.int32)


def _canonical_dtype(dtype):
    # The dtype arrays of `dtype` really get (float64 -> float32 unless x64 is on).
    return None if dtype is None else fnp.zeros((), dtype).dtype


def _cast(t, dtype):
    return t if dtype is None else tree.map(lambda x: x.astype(dtype), t)


def _ema(updates, moments, decay, order):
    return tree.map(lambda g, m: (1 - decay) * g ** order + decay * m, updates, moments)


def _bias_correction(moments, decay, count):
    # Computed in float32 and only then cast: decay**count in bfloat16 rounds to 1.
    correction = 1 - decay ** count
    return tree.map(lambda m: m / correction.astype(m.dtype), moments)


def _abs_sq(x):
    if fnp.iscomplexobj(x):
        return fnp.square(x.real) + fnp.square(x.imag)
    return fnp.square(x)


def check_same_structure(updates, params, where: str) -> None:
    """Raise ValueError naming the differing key paths if the two trees differ."""
    if params is None or tree.structure(updates) == tree.structure(params):
        return
    u_paths = [keystr(p) for p, _ in tree.flatten_with_path(updates)[0]]
    p_paths = [keystr(p) for p, _ in tree.flatten_with_path(params)[0]]
    u_set, p_set = set(u_paths), set(p_paths)
    only_u = [p for p in u_paths if p not in p_set]
    only_p = [p for p in p_paths if p not in u_set]
    lines = [f"{where}: `updates` and `params` have different tree structures."]
    if only_u:
        lines.append("  only in updates: " + ", ".join(only_u))
    if only_p:
        lines.append("  only in params:  " + ", ".join(only_p))
    if not only_u and not only_p:  # same leaf paths, different containers
        lines.append(f"  updates: {tree.structure(updates)}")
        lines.append(f"  params:  {tree.structure(params)}")
    lines.append("Pass gradients of the same params the optimizer state was made from.")
    raise ValueError("\n".join(lines))


def check_rate(value, what: str) -> None:
    """A fixed rate must be a non-negative scalar."""
    if fnp.ndim(value) != 0:
        raise ValueError(f"{what} must be a scalar or a schedule, got shape "
                         f"{fnp.shape(value)}.")
    try:
        number = float(value)
    except TypeError:  # traced (an optimizer built inside jit/vmap): nothing to check yet
        return
    if not number >= 0:
        raise ValueError(f"{what} must be >= 0, got {value!r}.")


def schedule_name(fn) -> str:
    name = getattr(fn, "__qualname__", None) or repr(fn)
    code = getattr(fn, "__code__", None)
    if "<lambda>" in name and code is not None:  # a bare "<lambda>" says nothing
        name += f" (defined at {code.co_filename}:{code.co_firstlineno})"
    return name


def check_schedule(fn, what: str) -> None:
    """Evaluate a schedule at step 0 now, so a bad one fails at construction."""
    value = fn(fnp.zeros((), fnp.int32))
    if fnp.ndim(value) != 0:
        raise ValueError(f"{what} schedule {schedule_name(fn)} must return a scalar, got "
                         f"shape {fnp.shape(value)} at step 0.")
    try:
        number = float(value)
    except TypeError:  # built inside a transformation: the value is abstract
        return
    if not number >= 0:
        raise ValueError(f"{what} schedule {schedule_name(fn)} returned {number!r} "
                         "at step 0; a rate must be >= 0.")


# ------------------------------------------------------------------- the transformations

def identity() -> GradientTransformation:
    """Pass updates through unchanged."""
    return GradientTransformation(lambda params: EmptyState(),
                                  lambda updates, state, params=None: (updates, state))


def _stateless(fn) -> GradientTransformation:
    return GradientTransformation(lambda params: EmptyState(),
                                  lambda updates, state, params=None: (fn(updates), state))


def scale(step_size) -> GradientTransformation:
    """Multiply updates by a fixed ``step_size``."""
    return _stateless(lambda u: tree.map(lambda g: step_size * g, u))


def clip(max_delta) -> GradientTransformation:
    """Clip every element of the updates to ``[-max_delta, max_delta]``."""
    return _stateless(lambda u: tree.map(lambda g: fnp.clip(g, -max_delta, max_delta), u))


def global_norm(updates) -> Any:
    """The L2 norm of all leaves of ``updates`` taken together (a scalar array)."""
    total = 0
    for leaf in tree.leaves(updates):  # summed in leaf order, starting from 0, as optax
        total = total + fnp.sum(_abs_sq(leaf))
    return fnp.sqrt(fnp.asarray(total))


def clip_by_global_norm(max_norm) -> GradientTransformation:
    """Rescale updates so their global norm is at most ``max_norm``."""
    def clip_tree(updates):
        norm = global_norm(updates)
        small = norm < max_norm
        return tree.map(lambda g: fnp.where(small, g, (g / norm.astype(g.dtype)) * max_norm),
                        updates)
    return _stateless(clip_tree)


def trace(decay, nesterov: bool = False, accumulator_dtype=None) -> GradientTransformation:
    """Momentum: ``trace = g + decay * trace``; the update is the trace (or, with
    ``nesterov``, ``g + decay * trace``)."""
    accumulator_dtype = _canonical_dtype(accumulator_dtype)

    def init(params):
        return TraceState(tree.map(lambda p: fnp.zeros_like(p, dtype=accumulator_dtype),
                                   params))

    def update(updates, state, params=None):
        new_trace = tree.map(lambda g, t: g + decay * t, updates, state.trace)
        if nesterov:
            updates = tree.map(lambda g, t: g + decay * t, updates, new_trace)
        else:
            updates = new_trace
        return updates, TraceState(_cast(new_trace, accumulator_dtype))
    return GradientTransformation(init, update)


def scale_by_adam(b1=0.9, b2=0.999, eps=1e-8, eps_root=0.0, mu_dtype=None, *,
                  nesterov: bool = False) -> GradientTransformation:
    """Adam's rescaling: bias-corrected first moment over the root of the second."""
    mu_dtype = _canonical_dtype(mu_dtype)

    def init(params):
        return ScaleByAdamState(_zero_count(),
                                tree.map(lambda p: fnp.zeros_like(p, dtype=mu_dtype), params),
                                tree.map(fnp.zeros_like, params))

    def update(updates, state, params=None):
        mu = _ema(updates, state.mu, b1, 1)
        nu = tree.map(lambda g, v: (1 - b2) * _abs_sq(g) + b2 * v, updates, state.nu)
        count = _increment(state.count)
        if nesterov:  # Dozat's NAdam: look one step ahead with the momentum
            mu_hat = tree.map(lambda m, g: b1 * m + (1 - b1) * g,
                              _bias_correction(mu, b1, _increment(count)),
                              _bias_correction(updates, b1, count))
        else:
            mu_hat = _bias_correction(mu, b1, count)
        nu_hat = _bias_correction(nu, b2, count)
        updates = tree.map(lambda m, v: m / (fnp.sqrt(v + eps_root) + eps), mu_hat, nu_hat)
        nu = tree.map(lambda v, old: v.astype(old.dtype), nu, state.nu)
        return updates, ScaleByAdamState(count, _cast(mu, mu_dtype), nu)
    return GradientTransformation(init, update)


def _scale_by_second_moment(decay, eps, initial_scale, eps_in_sqrt, bias_correction,
                            centered) -> GradientTransformation:
    # RMSProp's rescaling; `centered` divides by the standard deviation instead of the RMS.
    def init(params):
        nu = tree.map(lambda p: fnp.full_like(p, initial_scale), params)
        if centered:
            return ScaleByStddevState(_zero_count(), tree.map(fnp.zeros_like, params), nu)
        return ScaleByRmsState(_zero_count(), nu)

    def update(updates, state, params=None):
        nu = tree.map(lambda g, v: (1 - decay) * _abs_sq(g) + decay * v, updates, state.nu)
        count = _increment(state.count)
        nu_hat = _bias_correction(nu, decay, count) if bias_correction else nu
        if centered:
            mu = _ema(updates, state.mu, decay, 1)
            mu_hat = _bias_correction(mu, decay, count) if bias_correction else mu
            var = tree.map(lambda m, v: v - _abs_sq(m), mu_hat, nu_hat)
        else:
            var = nu_hat
        if eps_in_sqrt:
            scaling = tree.map(lambda v: lax.rsqrt(v + eps), var)
        else:
            scaling = tree.map(lambda v: 1 / (fnp.sqrt(v) + eps), var)
        updates = tree.map(lambda s, g: s * g, scaling, updates)
        if centered:
            return updates, ScaleByStddevState(count, mu, nu)
        return updates, ScaleByRmsState(count, nu)
    return GradientTransformation(init, update)


def scale_by_rms(decay=0.9, eps=1e-8, initial_scale=0.0, eps_in_sqrt: bool = True,
                 bias_correction: bool = False) -> GradientTransformation:
    """Divide by the root of an exponential moving average of squared updates."""
    return _scale_by_second_moment(decay, eps, initial_scale, eps_in_sqrt, bias_correction,
                                   centered=False)


def scale_by_stddev(decay=0.9, eps=1e-8, initial_scale=0.0, eps_in_sqrt: bool = True,
                    bias_correction: bool = False) -> GradientTransformation:
    """Divide by the moving standard deviation of the updates (centered RMSProp)."""
    return _scale_by_second_moment(decay, eps, initial_scale, eps_in_sqrt, bias_correction,
                                   centered=True)


def scale_by_rss(initial_accumulator_value=0.1, eps=1e-7) -> GradientTransformation:
    """Adagrad: divide by the root of the sum of all squared updates so far."""
    def init(params):
        return ScaleByRssState(tree.map(lambda p: fnp.full_like(p, initial_accumulator_value),
                                        params))

    def update(updates, state, params=None):
        sums = tree.map(lambda g, s: _abs_sq(g) + s, updates, state.sum_of_squares)
        updates = tree.map(lambda s, g: fnp.where(s > 0, lax.rsqrt(s + eps), 0.0) * g,
                           sums, updates)
        return updates, ScaleByRssState(sums)
    return GradientTransformation(init, update)


def scale_by_lion(b1=0.9, b2=0.99, mu_dtype=None) -> GradientTransformation:
    """Lion: the sign of a blend of momentum and update; momentum decays with ``b2``."""
    mu_dtype = _canonical_dtype(mu_dtype)

    def init(params):
        return ScaleByLionState(_zero_count(),
                                tree.map(lambda p: fnp.zeros_like(p, dtype=mu_dtype), params))

    def update(updates, state, params=None):
        signs = tree.map(lambda g, m: fnp.sign((1.0 - b1) * g + b1 * m), updates, state.mu)
        mu = _cast(_ema(updates, state.mu, b2, 1), mu_dtype)
        return signs, ScaleByLionState(_increment(state.count), mu)
    return GradientTransformation(init, update)


def _as_rate(value):
    # One dtype, never weakly typed, for init and update alike, so the state is a stable
    # jit/scan carry whatever mix of Python floats and arrays the schedule returns.
    return fnp.asarray(value).astype(fnp.float32)


def scale_by_learning_rate(learning_rate, *, flip_sign: bool = True) -> GradientTransformation:
    """Multiply updates by ``-learning_rate`` (``+`` without ``flip_sign``); the rate is a
    float or a schedule ``step -> rate``. The state keeps the step count and the rate the
    next update uses, which :func:`nn.optim.current_lr` reads."""
    if learning_rate is None:
        return identity()
    if callable(learning_rate):
        check_schedule(learning_rate, "learning_rate")
        schedule = learning_rate
    else:
        check_rate(learning_rate, "learning_rate")
        schedule = lambda count: learning_rate  # noqa: E731
    sign = -1 if flip_sign else 1

    def init(params):
        count = _zero_count()
        return ScaleByLearningRateState(count, _as_rate(schedule(count)))

    def update(updates, state, params=None):
        step = sign * state.learning_rate
        updates = tree.map(lambda g: step.astype(g.dtype) * g, updates)
        count = _increment(state.count)
        return updates, ScaleByLearningRateState(count, _as_rate(schedule(count)))
    return GradientTransformation(init, update)


def masked(inner: GradientTransformation, mask) -> GradientTransformation:
    """Apply ``inner`` only where ``mask`` is True; elsewhere updates pass through.

    ``mask`` is a pytree of bools with the params' structure (or a prefix of it), or a
    callable ``params -> such a tree``. ``inner`` keeps state only for masked-in leaves."""
    def mask_tree(values):
        return mask(values) if callable(mask) else mask

    def keep(m, values):
        return tree.map(lambda on, v: v if on else MaskedNode(), m, values)

    def init(params):
        return MaskedState(inner.init(keep(mask_tree(params), params)))

    def update(updates, state, params=None):
        check_same_structure(updates, params, "masked.update")
        m = mask_tree(updates)
        new, inner_state = inner.update(keep(m, updates), state.inner_state,
                                        None if params is None else keep(m, params))
        merged = tree.map(lambda on, n, old: n if on else old, m, new, updates)
        return merged, MaskedState(inner_state)
    return GradientTransformation(init, update)


def add_decayed_weights(weight_decay=0.0, mask=None) -> GradientTransformation:
    """Add ``weight_decay * params`` to the updates (decoupled weight decay).

    ``weight_decay`` is a float or a schedule; ``mask`` (optional, as in :func:`masked`)
    picks the leaves to decay. Here ``mask=None`` decays every leaf, as in optax."""
    if callable(weight_decay):
        check_schedule(weight_decay, "weight_decay")
    else:
        check_rate(weight_decay, "weight_decay")

    def init(params):
        return AddDecayedWeightsState(_zero_count()) if callable(weight_decay) else EmptyState()

    def update(updates, state, params=None):
        if params is None:
            raise ValueError("add_decayed_weights needs the params: call "
                             "update(updates, state, params).")
        check_same_structure(updates, params, "add_decayed_weights.update")
        if callable(weight_decay):
            rate, state = weight_decay(state.count), AddDecayedWeightsState(
                _increment(state.count))
        elif isinstance(weight_decay, numbers.Real) and weight_decay == 0:
            return updates, state
        else:
            rate = weight_decay
        return tree.map(lambda g, p: g + rate * p, updates, params), state

    transform = GradientTransformation(init, update)
    return transform if mask is None else masked(transform, mask)


def chain(*transforms: GradientTransformation) -> GradientTransformation:
    """Apply ``transforms`` in order; the state is the tuple of their states."""
    def init(params):
        return tuple(t.init(params) for t in transforms)

    def update(updates, state, params=None):
        check_same_structure(updates, params, "update")
        if len(state) != len(transforms):
            raise ValueError(f"update: the state holds {len(state)} transformation states "
                             f"but this optimizer chains {len(transforms)}; was it made by "
                             "this optimizer's init?")
        new_states = []
        for t, s in zip(transforms, state):
            updates, s = t.update(updates, s, params)
            new_states.append(s)
        return updates, tuple(new_states)
    return GradientTransformation(init, update)


def apply_updates(params, updates):
    """``params + updates`` leafwise, each result in its param's dtype."""
    return tree.map(lambda p, u: fnp.asarray(p + u).astype(fnp.asarray(p).dtype),
                    params, updates)
