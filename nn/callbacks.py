"""Callbacks for ``nn.fit``, Keras-style: each may act when training begins, after every
step, after every epoch and when training ends, through the ``TrainingRun`` it is given
(``run.params``, ``run.state``, ``run.opt_state``, ``run.step``, ``run.epoch``,
``run.history``, ``run.stop``).

>>> nn.fit(..., callbacks=[nn.callbacks.EarlyStopping(patience=3),
...                        nn.callbacks.Checkpoint("ckpt", every_steps=100, keep=3),
...                        nn.callbacks.TensorBoard("logs"),
...                        nn.callbacks.PlotHistory("history.png")])
"""
from __future__ import annotations

import math
import os

import numpy as np

import functorch_lite as fl

from . import checkpoints

__all__ = ["Callback", "EarlyStopping", "Checkpoint", "TensorBoard", "PlotHistory"]


class Callback:
    """Base class: override the hooks you need."""

    def on_train_begin(self, run) -> None:
        pass

    def on_step_end(self, run, logs: dict) -> None:
        pass

    def on_epoch_end(self, run, logs: dict) -> None:
        pass

    def on_train_end(self, run) -> None:
        pass


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience``
    epochs. ``mode`` "min", "max" or "auto" (max for names containing "acc")."""

    def __init__(self, monitor: str = "val_loss", patience: int = 0, mode: str = "auto",
                 min_delta: float = 0.0):
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'auto', 'min' or 'max', got {mode!r}")
        if patience < 0:
            raise ValueError(f"EarlyStopping: patience must be >= 0, got {patience}")
        self.monitor, self.patience, self.min_delta = monitor, patience, abs(min_delta)
        self.mode = ("max" if "acc" in monitor else "min") if mode == "auto" else mode
        self.best, self.wait, self.stopped_epoch = None, 0, None

    def on_train_begin(self, run) -> None:
        if self.monitor not in run.history_keys:
            raise ValueError(f"EarlyStopping: monitor {self.monitor!r} is not a metric this "
                             f"run records; it records {run.history_keys}"
                             + (" (val_* needs validation_data)"
                                if self.monitor.startswith("val_") else ""))
        self.best, self.wait = None, 0

    def on_epoch_end(self, run, logs: dict) -> None:
        value = logs[self.monitor]
        better = (self.best is None or
                  (value < self.best - self.min_delta if self.mode == "min"
                   else value > self.best + self.min_delta))
        if better:
            self.best, self.wait = value, 0
            return
        self.wait += 1
        if self.wait > self.patience:
            run.stop = True
            self.stopped_epoch = run.epoch
            print(f"early stopping: {self.monitor} has not improved for {self.wait} epochs "
                  f"(best {self.best:.4f})", flush=True)


class Checkpoint(Callback):
    """Save params, state, optimizer state and history every ``every_steps`` steps (and at
    the end) into ``directory/step_<N>``, keeping the newest ``keep``; when the directory
    already holds a checkpoint, training resumes from its latest step."""

    def __init__(self, directory: str | os.PathLike, every_steps: int = 1000,
                 keep: int | None = 3):
        if every_steps <= 0:
            raise ValueError(f"Checkpoint: every_steps must be positive, got {every_steps}")
        self.directory, self.every_steps, self.keep = os.fspath(directory), every_steps, keep
        self.resumed_from: int | None = None
        self._last_saved: int | None = None

    def _tree(self, run):
        return {"params": run.params, "state": run.state, "opt_state": run.opt_state}

    def on_train_begin(self, run) -> None:
        step = checkpoints.latest_step(self.directory)
        if step is None:
            return
        restored = checkpoints.restore(self.directory, like=self._tree(run), step=step)
        meta = checkpoints.metadata(self.directory, step=step)
        run.params, run.state, run.opt_state = (restored["params"], restored["state"],
                                                restored["opt_state"])
        run.step, run.epoch = step, meta.get("epoch", 0)
        for k, values in meta.get("history", {}).items():
            if k in run.history:
                run.history[k][:] = values
        self.resumed_from = self._last_saved = step
        print(f"resuming from {self.directory} at step {step}", flush=True)

    def _save(self, run) -> None:
        checkpoints.save(self.directory, self._tree(run), step=run.step, keep=self.keep,
                         metadata={"epoch": run.epoch, "history": run.history})
        self._last_saved = run.step

    def on_step_end(self, run, logs: dict) -> None:
        if run.step % self.every_steps == 0:
            # The epoch a mid-epoch checkpoint resumes in is recomputed from the step.
            self._save(run)

    def on_train_end(self, run) -> None:
        if self._last_saved != run.step:
            self._save(run)


class TensorBoard(Callback):
    """Write TensorBoard event files to ``logdir`` (through tensorboardX): the loss and
    learning rate every ``every_steps`` steps, every epoch metric, and histograms of the
    parameters each epoch."""

    def __init__(self, logdir: str | os.PathLike, every_steps: int = 10,
                 histograms: bool = True):
        self.logdir, self.every_steps, self.histograms = os.fspath(logdir), every_steps, histograms
        self.writer = None

    def on_train_begin(self, run) -> None:
        from tensorboardX import SummaryWriter  # late: heavy, and only this callback needs it
        self.writer = SummaryWriter(self.logdir)

    def on_step_end(self, run, logs: dict) -> None:
        if run.step % self.every_steps == 0:
            self.writer.add_scalar("train/step_loss", float(logs["loss"]), run.step)
            self.writer.add_scalar("train/lr", run.lr, run.step)

    def on_epoch_end(self, run, logs: dict) -> None:
        for k, v in logs.items():
            tag = f"val/{k[4:]}" if k.startswith("val_") else f"epoch/{k}"
            self.writer.add_scalar(tag, float(v), run.epoch)
        if self.histograms:
            for path, leaf in fl.tree.flatten_with_path(run.params)[0]:
                name = "/".join(str(getattr(p, "key", getattr(p, "idx", p))) for p in path)
                values = np.asarray(leaf, np.float32)
                if values.size:
                    self.writer.add_histogram(f"params/{name}", values, run.epoch)
        self.writer.flush()

    def on_train_end(self, run) -> None:
        if self.writer is not None:
            self.writer.close()


class PlotHistory(Callback):
    """Write a PNG of the history at the end: the loss (train and validation) on the left,
    each metric on its own panel."""

    def __init__(self, path: str | os.PathLike, title: str | None = None):
        self.path, self.title = os.fspath(path), title

    def on_train_end(self, run) -> None:
        plot_history(run.history, self.path, self.title)


def plot_history(history: dict, path: str, title: str | None = None) -> str:
    """Plot a ``fit`` history (dict of per-epoch lists) into the PNG ``path``."""
    import matplotlib  # late: heavy (~0.5 s), only for plots; Agg before pyplot loads
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [k for k in history if not k.startswith("val_") and k != "lr" and history[k]]
    if not names:
        return path
    fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 3.8), squeeze=False)
    for ax, name in zip(axes[0], names):
        epochs = np.arange(1, len(history[name]) + 1)
        ax.plot(epochs, history[name], marker="o", ms=3, label=f"train {name}")
        val = history.get(f"val_{name}")
        if val and not all(math.isnan(v) for v in val):
            ax.plot(np.arange(1, len(val) + 1), val, marker="o", ms=3, label=f"validation {name}")
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        if name == "loss" and min(history[name]) > 0:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
