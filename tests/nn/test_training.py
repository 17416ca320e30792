"""nn.fit: resume gives the uninterrupted run's params, early stopping, Ctrl-C, TensorBoard
files read back by TensorBoard's own reader, the history plot, and errors at the start."""
import os
import signal

import numpy as np
import pytest

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite import nn, random
from functorch_lite.nn import callbacks, checkpoints, losses, optim

xent = losses.softmax_cross_entropy_with_integer_labels


def data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int32)
    return x, y


def model_and_params():
    model = nn.Sequential([nn.Dense(8), nn.relu, nn.Dense(2)])
    params, state = model.init(random.PRNGKey(0), fnp.ones((1, 5)))
    return model, params, state


def run_fit(epochs=3, callbacks_=(), **kw):
    model, params, state = model_and_params()
    kw.setdefault("validation_data", data(32, seed=1))
    return nn.fit(model, params, state, optim.adam(1e-2), data(), loss=xent, epochs=epochs,
                  batch_size=16, key=random.PRNGKey(3), callbacks=callbacks_, progress=False,
                  **kw)


def assert_same(a, b):
    fl.tree.map(lambda u, v: np.testing.assert_array_equal(np.asarray(u), np.asarray(v)), a, b)


class StopAt(callbacks.Callback):
    def __init__(self, step):
        self.step = step

    def on_step_end(self, run, logs):
        if run.step == self.step:
            run.stop = True


def test_fit_trains_and_records_history():
    result = run_fit(epochs=4)
    h = result.history
    assert set(h) == {"loss", "accuracy", "val_loss", "val_accuracy", "lr"}
    assert all(len(v) == 4 for v in h.values())
    assert h["loss"][-1] < h["loss"][0]
    assert h["lr"] == [pytest.approx(1e-2)] * 4
    assert int(optim.step_count(result.opt_state)) == 4 * 4


def test_resumed_run_ends_with_the_uninterrupted_params(tmp_path):
    full = run_fit(epochs=3)
    ckpt = tmp_path / "ckpt"
    first = run_fit(epochs=3, callbacks_=[StopAt(6), callbacks.Checkpoint(ckpt, every_steps=4)])
    assert checkpoints.latest_step(ckpt) == 6                 # saved when the run stopped
    assert len(first.history["loss"]) == 1                    # one whole epoch (4 steps)
    resume = callbacks.Checkpoint(ckpt, every_steps=4)
    second = run_fit(epochs=3, callbacks_=[resume])
    assert resume.resumed_from == 6
    assert_same(second.params, full.params)
    assert_same(second.opt_state, full.opt_state)
    assert len(second.history["loss"]) == 3
    assert checkpoints.latest_step(ckpt) == 12


def test_early_stopping_stops_and_checks_its_metric_first():
    model, params, state = model_and_params()
    frozen = nn.fit(model, params, state, optim.sgd(0.0), data(), loss=xent, epochs=10,
                    batch_size=16, key=random.PRNGKey(0), progress=False,
                    validation_data=data(32, 1),
                    callbacks=[callbacks.EarlyStopping("val_loss", patience=1)])
    assert len(frozen.history["val_loss"]) == 3
    stepped = []

    class Count(callbacks.Callback):
        def on_step_end(self, run, logs):
            stepped.append(run.step)

    with pytest.raises(ValueError, match="'val_acc'.*records"):
        run_fit(callbacks_=[Count(), callbacks.EarlyStopping("val_acc")])
    with pytest.raises(ValueError, match="val_\\* needs validation_data"):
        run_fit(callbacks_=[callbacks.EarlyStopping("val_loss")], validation_data=None)
    assert stepped == []


def test_ctrl_c_stops_after_the_current_step_and_keeps_the_checkpoint(tmp_path):
    class Interrupt(callbacks.Callback):
        def on_step_end(self, run, logs):
            if run.step == 5:
                os.kill(os.getpid(), signal.SIGINT)

    result = run_fit(epochs=5, callbacks_=[Interrupt(), callbacks.Checkpoint(tmp_path, 100)])
    assert int(optim.step_count(result.opt_state)) == 5
    assert checkpoints.latest_step(tmp_path) == 5
    restored = checkpoints.restore(tmp_path)
    assert_same(restored["params"], result.params)


def test_tensorboard_events_read_back_and_plot_written(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    run_fit(epochs=2, callbacks_=[callbacks.TensorBoard(tmp_path / "tb", every_steps=2),
                                  callbacks.PlotHistory(tmp_path / "history.png")])
    acc = EventAccumulator(str(tmp_path / "tb"), size_guidance={"histograms": 0})
    acc.Reload()
    tags = acc.Tags()
    assert {"epoch/loss", "epoch/accuracy", "val/loss", "val/accuracy", "train/lr",
            "train/step_loss"} <= set(tags["scalars"])
    assert [e.step for e in acc.Scalars("epoch/loss")] == [1, 2]
    assert acc.Scalars("train/lr")[0].value == pytest.approx(1e-2)
    assert "params/0/kernel" in tags["histograms"]
    png = (tmp_path / "history.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 5000


def test_iterable_batches_and_a_function_as_model():
    model, params, state = model_and_params()
    x, y = data()
    batches = [(x[i:i + 16], y[i:i + 16]) for i in range(0, 64, 16)]
    result = nn.fit(model.apply, params, state, optim.sgd(0.1), batches, loss=xent,
                    epochs=2, key=random.PRNGKey(0), progress=False, metrics=())
    assert set(result.history) == {"loss", "lr"} and len(result.history["loss"]) == 2


def test_bad_data_is_refused_before_training():
    model, params, state = model_and_params()
    x, y = data()
    with pytest.raises(ValueError, match="disagree on the batch dimension"):
        nn.fit(model, params, state, optim.sgd(0.1), (x, y[:10]), loss=xent, epochs=1,
               batch_size=16, key=random.PRNGKey(0), progress=False)
    with pytest.raises(ValueError, match="unknown metric"):
        nn.fit(model, params, state, optim.sgd(0.1), (x, y), loss=xent, epochs=1,
               batch_size=16, key=random.PRNGKey(0), metrics=("f1_score",))
    with pytest.raises(ValueError, match="fewer than one batch"):
        nn.fit(model, params, state, optim.sgd(0.1), (x, y), loss=xent, epochs=1,
               batch_size=100, key=random.PRNGKey(0))


def test_the_callers_params_stay_usable():
    model, params, state = model_and_params()
    nn.fit(model, params, state, optim.sgd(0.1), data(), loss=xent, epochs=1, batch_size=16,
           key=random.PRNGKey(0), progress=False)
    out, _ = model.apply(params, fnp.ones((1, 5)))   # not donated away
    assert out.shape == (1, 2)
