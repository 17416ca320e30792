"""``nn.fit``: a Keras-style training loop built only on the public pure functions.

One epoch is ``steps_per_epoch`` calls of one jitted train step (forward, loss, gradient,
optimizer update; params, state and optimizer state donated), then an evaluation pass. The
order of the data is a pure function of ``key`` and the epoch, and each step's dropout key
a pure function of ``key`` and the global step, so a run resumed from a checkpoint at step
``s`` sees exactly the batches and keys the uninterrupted run saw after ``s``.

Callbacks (``nn.callbacks``) see a ``TrainingRun`` with the current params, state,
optimizer state, step, epoch and history, and may stop the run (``run.stop = True``) or
replace its arrays (a checkpoint restoring itself at the start).

A hand-written loop needs none of this: ``jit`` + ``value_and_grad`` + ``optimizer.update``
(README shows both).
"""
from __future__ import annotations

import signal
import threading
import time
from collections import OrderedDict
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite import lax, random

from . import metrics as metrics_mod
from . import optim
from .module import Module

__all__ = ["fit", "FitResult", "TrainingRun"]


class FitResult(NamedTuple):
    params: Any
    state: Any
    opt_state: Any
    history: dict


class TrainingRun:
    """What callbacks see and may change while ``fit`` runs."""

    def __init__(self, params, state, opt_state, history: dict, steps_per_epoch: int,
                 epochs: int, history_keys: list[str]):
        self.params, self.state, self.opt_state = params, state, opt_state
        self.history = history
        self.steps_per_epoch, self.epochs = steps_per_epoch, epochs
        self.history_keys = history_keys   # the names history will hold (for callbacks' checks)
        self.step = 0                      # updates done so far
        self.epoch = 0                     # epochs done so far
        self.stop = False                  # set by a callback to end after the current step
        self.interrupted = False           # Ctrl-C arrived

    @property
    def lr(self) -> float:
        return float(optim.current_lr(self.opt_state))


def _metric_fns(metrics: Sequence) -> dict[str, Callable]:
    out = {}
    for m in metrics:
        if isinstance(m, str):
            fn = getattr(metrics_mod, m, None)
            if fn is None or not callable(fn):
                raise ValueError(f"fit: unknown metric {m!r}; give a function "
                                 f"(outputs, labels) -> scalar, or one of nn.metrics'")
            out[m] = fn
        elif callable(m):
            out[getattr(m, "__name__", f"metric_{len(out)}")] = m
        else:
            raise TypeError(f"fit: a metric is a name or a function, got {m!r}")
    return out


def _batch_size_of(name: str, data) -> int:
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise TypeError(f"fit: {name} must be an (inputs, labels) pair of arrays or an "
                        f"iterable of such batches")
    sizes = {np.shape(leaf)[0] if np.ndim(leaf) else None for leaf in fl.tree.leaves(data)}
    if None in sizes:
        raise ValueError(f"fit: {name} holds a scalar; every input and label needs a batch "
                         f"dimension")
    if len(sizes) != 1:
        shapes = [tuple(np.shape(x)) for x in fl.tree.leaves(data)]
        raise ValueError(f"fit: the inputs and labels of {name} disagree on the batch "
                         f"dimension: shapes {shapes}")
    return sizes.pop()


def _is_arrays(data) -> bool:
    return (isinstance(data, (tuple, list)) and len(data) == 2
            and all(hasattr(x, "shape") for x in fl.tree.leaves(data)))


def _apply_fn(model) -> Callable:
    if isinstance(model, Module):
        return model.apply
    if callable(model):
        return model
    raise TypeError(f"fit: model must be an nn.Module or a function with Module.apply's "
                    f"signature, got {type(model).__name__}")


# A jitted identity returns new device buffers (nothing is donated to it): copies a whole
# tree of arrays in one call.
_copy_arrays = fl.jit(lambda arrays: arrays)


def _fresh_copy(tree):
    """``tree`` with each array leaf in a new device buffer, other leaves as they are."""
    leaves, treedef = fl.tree.flatten(tree)
    where = [i for i, a in enumerate(leaves) if hasattr(a, "shape")]
    for i, a in zip(where, _copy_arrays([leaves[i] for i in where])):
        leaves[i] = a
    return fl.tree.unflatten(treedef, leaves)


_STEPS: "OrderedDict[tuple, tuple]" = OrderedDict()   # the last few fits' compiled steps
_STEPS_KEPT = 8


def _steps_for(apply, loss: Callable, optimizer, metric_fns: dict):
    """The jitted train steps (on a batch, and on a batch of an epoch's arrays) and eval
    step for this model, loss, optimizer and metrics, reused across ``fit`` calls (a new jit of a new closure would be traced again each call)."""
    key = (apply, loss, optimizer, tuple(metric_fns.items()))
    try:
        steps = _STEPS.pop(key)
    except TypeError:                      # something unhashable: build afresh
        return _make_steps(apply, loss, optimizer, metric_fns)
    except KeyError:
        steps = _make_steps(apply, loss, optimizer, metric_fns)
    _STEPS[key] = steps
    while len(_STEPS) > _STEPS_KEPT:
        _STEPS.popitem(last=False)
    return steps


def _make_steps(apply, loss: Callable, optimizer, metric_fns: dict):
    def objective(params, state, x, y, rng):
        out, new_state = apply(params, x, state=state, rng=rng, train=True)
        per_example = loss(out, y)
        return fnp.mean(per_example), (out, new_state)

    def train_step(params, state, opt_state, x, y, rng):
        (value, (out, state)), grads = fl.value_and_grad(objective, has_aux=True)(
            params, state, x, y, rng)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        params = optim.apply_updates(params, updates)
        logs = {"loss": value, **{k: fn(out, y) for k, fn in metric_fns.items()}}
        return params, state, opt_state, logs

    def keyed_train_step(params, state, opt_state, x, y, step_key, step):
        # Each step's key comes from fit's key and the global step: a resumed run draws
        # the same dropout masks as an uninterrupted one.
        return train_step(params, state, opt_state, x, y, random.fold_in(step_key, step))

    def sliced_train_step(params, state, opt_state, data, index, step_key, step):
        # Batch ``index`` of an epoch's arrays (shaped (steps, batch, ...)), taken inside
        # the step: one dispatch per step (taking it outside would add one per array).
        x, y = fl.tree.map(lambda a: lax.dynamic_index_in_dim(a, index, keepdims=False),
                           data)
        return keyed_train_step(params, state, opt_state, x, y, step_key, step)

    def eval_step(params, state, x, y):
        out, _ = apply(params, x, state=state, rng=None, train=False)
        n = fnp.asarray(y.shape[0], fnp.float32)
        sums = {"loss": fnp.sum(loss(out, y)),
                **{k: fn(out, y) * n for k, fn in metric_fns.items()}}
        return sums

    return (fl.jit(keyed_train_step, donate_argnums=(0, 1, 2)),
            fl.jit(sliced_train_step, donate_argnums=(0, 1, 2)),
            fl.jit(eval_step))


class _EpochBatch(NamedTuple):
    """Batch ``index`` (of ``size`` examples) of an epoch's training arrays ``data``, each
    shaped ``(steps, size, ...)``: the train step takes it out itself."""
    data: Any
    index: int
    size: int


class _Batches:
    """The training batches of one epoch, from arrays (shuffled by ``key`` and the epoch,
    the last incomplete batch dropped so every step has one shape) or from an iterable."""

    def __init__(self, data, batch_size: int | None, key, shuffle: bool):
        self.arrays = _is_arrays(data)
        self.data, self.key, self.shuffle = data, key, shuffle
        if self.arrays:
            n = _batch_size_of("train_data", data)
            if not batch_size or batch_size <= 0:
                raise ValueError(f"fit: batch_size must be a positive int, got {batch_size!r}")
            if n < batch_size:
                raise ValueError(f"fit: {n} training examples are fewer than one batch of "
                                 f"{batch_size}")
            self.n, self.batch_size = n, batch_size
            self.data = fl.tree.map(fnp.asarray, data)
            self.steps = n // batch_size
        else:
            self.steps = len(data) if hasattr(data, "__len__") else None

    def epoch(self, epoch: int, skip: int):
        if not self.arrays:
            it = iter(self.data)
            for i, batch in enumerate(it):
                if i >= skip:
                    yield batch
            return
        x, y = self.data
        if self.shuffle:
            order = random.permutation(random.fold_in(self.key, epoch), self.n)
            x, y = fl.tree.map(lambda a: a[order], (x, y))
        steps, b = self.steps, self.batch_size
        data = fl.tree.map(lambda a: fnp.reshape(a[:steps * b], (steps, b) + a.shape[1:]),
                           (x, y))
        for i in range(skip, steps):
            yield _EpochBatch(data, i, b)


def _eval_batches(data, batch_size: int):
    if _is_arrays(data):
        _batch_size_of("validation_data", data)
        x, y = fl.tree.map(fnp.asarray, data)
        n = fl.tree.leaves(y)[0].shape[0]
        for i in range(0, n, batch_size):
            yield fl.tree.map(lambda a: a[i:i + batch_size], (x, y))
    else:
        yield from data


class _StopOnInterrupt:
    """Ctrl-C sets a flag the loop checks after each step (instead of raising in the middle
    of one, where donated buffers may already be gone); a second Ctrl-C raises as usual."""

    def __init__(self, run: TrainingRun):
        self.run, self.previous = run, None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.run.interrupted:
            raise KeyboardInterrupt
        self.run.interrupted = True
        print("\ninterrupted: stopping after this step (Ctrl-C again to abort)", flush=True)

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


def fit(model, params, state, optimizer, train_data, *, loss: Callable, epochs: int,
        batch_size: int | None = None, key, validation_data=None,
        metrics: Sequence = ("accuracy",), callbacks: Sequence = (), progress: bool = True,
        opt_state=None, shuffle: bool = True) -> FitResult:
    """Train ``model`` (an ``nn.Module``, or a function with ``Module.apply``'s signature)
    for ``epochs`` epochs and return ``FitResult(params, state, opt_state, history)``.

    ``train_data``/``validation_data``: an ``(inputs, labels)`` pair of arrays (shuffled each
    epoch with ``key``; the last incomplete batch is dropped) or an iterable of such batches.
    ``loss(outputs, labels)`` is per-example and averaged. ``history`` maps "loss", each
    metric, "val_loss", "val_<metric>" and "lr" to per-epoch lists.

    >>> result = nn.fit(model, params, state, nn.optim.adam(1e-3), (x, y), epochs=5,
    ...                 batch_size=64, key=random.PRNGKey(0),
    ...                 loss=nn.losses.softmax_cross_entropy_with_integer_labels)
    """
    if not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"fit: epochs must be a non-negative int, got {epochs!r}")
    apply = _apply_fn(model)
    metric_fns = _metric_fns(metrics)
    batches = _Batches(train_data, batch_size, random.fold_in(key, 0), shuffle)
    if validation_data is not None and _is_arrays(validation_data):
        _batch_size_of("validation_data", validation_data)
    eval_batch = batch_size or 256
    step_key = random.fold_in(key, 1)
    train_step, sliced_train_step, eval_step = _steps_for(apply, loss, optimizer, metric_fns)

    def step_fn(params, state, opt_state, batch, step):
        if isinstance(batch, _EpochBatch):
            return sliced_train_step(params, state, opt_state, batch.data, batch.index,
                                     step_key, step)
        x, y = batch
        return train_step(params, state, opt_state, x, y, step_key, step)

    state = {} if state is None else state
    if opt_state is None:
        opt_state = optimizer.init(params)
    keys = ["loss", *metric_fns]
    if validation_data is not None:
        keys += [f"val_{k}" for k in ["loss", *metric_fns]]
    keys.append("lr")
    run = TrainingRun(params, state, opt_state, {k: [] for k in keys},
                      batches.steps or 0, epochs, keys)
    for cb in callbacks:
        cb.on_train_begin(run)
    # A checkpoint restored at the start decides where this run resumes.
    if batches.steps:
        start_epoch, skip = divmod(run.step, batches.steps)
    else:
        start_epoch, skip = run.epoch, 0
    run.epoch = start_epoch
    # The step donates the arrays fit owns: copy the caller's so theirs stay valid.
    run.params, run.state, run.opt_state = _fresh_copy((run.params, run.state, run.opt_state))
    with _StopOnInterrupt(run):
        for epoch in range(start_epoch, epochs):
            bar = _Progress(progress, epoch, epochs, batches.steps, skip)
            try:
                logs = _train_epoch(run, batches, step_fn, epoch, skip, callbacks, bar)
                skip = 0
                if logs is None:                       # stopped before a full epoch
                    break
                if validation_data is not None:
                    logs.update({f"val_{k}": v for k, v in _evaluate(
                        eval_step, run, validation_data, eval_batch).items()})
                logs["lr"] = run.lr
            finally:
                bar.finish(logs if "logs" in locals() else None)
            for k in keys:
                run.history[k].append(logs.get(k, float("nan")))
            run.epoch = epoch + 1
            for cb in callbacks:
                cb.on_epoch_end(run, logs)
            if run.stop or run.interrupted:
                break
    for cb in callbacks:
        cb.on_train_end(run)
    return FitResult(run.params, run.state, run.opt_state, run.history)


def _fmt(logs: dict) -> dict:
    return {k: f"{float(v):.3g}" if k == "lr" else f"{float(v):.4f}" for k, v in logs.items()}


class _Progress:
    """One tqdm bar per epoch that stays on screen ending with the epoch's numbers (as
    Keras prints them); examples/second counts the training steps only."""

    def __init__(self, enabled: bool, epoch: int, epochs: int, total: int | None,
                 initial: int):
        self.bar = None
        if enabled:
            from tqdm.auto import tqdm  # late: only runs that show a progress bar pay for it
            self.bar = tqdm(total=total, initial=initial, desc=f"epoch {epoch + 1}/{epochs}",
                            unit="step", dynamic_ncols=True)
        self.start = self.shown = time.perf_counter()
        self.seen, self.rate = 0, 0.0

    def step(self, examples: int, logs: dict) -> None:
        self.seen += examples
        if self.bar is None:
            return
        self.bar.update(1)
        now = time.perf_counter()
        self.rate = self.seen / max(now - self.start, 1e-9)
        if now - self.shown > 0.2:                 # reading a value waits for the device
            self.shown = now
            self.bar.set_postfix(_fmt(logs) | {"ex/s": f"{self.rate:.0f}"})

    def finish(self, logs: dict | None) -> None:
        if self.bar is None:
            return
        if logs:
            self.bar.set_postfix(_fmt(logs) | {"ex/s": f"{self.rate:.0f}"}, refresh=False)
        self.bar.close()


def _train_epoch(run: TrainingRun, batches: _Batches, step_fn, epoch: int, skip: int,
                 callbacks, bar: _Progress) -> dict | None:
    total = batches.steps
    step_logs = []
    for batch in batches.epoch(epoch, skip):
        run.params, run.state, run.opt_state, logs = step_fn(
            run.params, run.state, run.opt_state, batch, run.step)
        run.step += 1
        step_logs.append(logs)
        for cb in callbacks:
            cb.on_step_end(run, logs)
        size = (batch.size if isinstance(batch, _EpochBatch)
                else int(np.shape(fl.tree.leaves(batch[1])[0])[0]))
        bar.step(size, logs)
        if run.stop or run.interrupted:
            break
    if not step_logs or (run.interrupted and len(step_logs) + skip < (total or 0)):
        return None
    if run.stop and total and len(step_logs) + skip < total:
        return None
    stacked = {k: np.asarray([float(s[k]) for s in step_logs]) for k in step_logs[0]}
    return {k: float(v.mean()) for k, v in stacked.items()}


def _evaluate(eval_step, run: TrainingRun, data, batch_size: int) -> dict:
    sums: dict[str, float] = {}
    count = 0
    for x, y in _eval_batches(data, batch_size):
        out = eval_step(run.params, run.state, x, y)
        for k, v in out.items():
            sums[k] = sums.get(k, 0.0) + float(v)
        count += int(np.shape(fl.tree.leaves(y)[0])[0])
    if not count:
        raise ValueError("fit: validation_data holds no examples")
    return {k: v / count for k, v in sums.items()}
