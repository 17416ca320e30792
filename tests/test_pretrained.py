"""The pretrained weights shipped in examples/pretrained/ reproduce their recorded numbers,
examples/use_pretrained.py runs on them, and the char transformer and LSTM examples learn
(tiny runs)."""
import importlib
import math
import pathlib
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
PRETRAINED = EXAMPLES / "pretrained"

# The digits CNN's test accuracy as the README states it (447 of 450 test images).
README_DIGITS_ACCURACY = 0.9933


def _example(name):
    # use_pretrained and make_pretrained import demo and char_transformer as top-level
    # modules (they put examples/ on sys.path); import them all the same way.
    if str(EXAMPLES) not in sys.path:
        sys.path.insert(0, str(EXAMPLES))
    return importlib.import_module(name)


def test_pretrained_folders_are_small():
    sizes = {d.name: sum(f.stat().st_size for f in d.iterdir()) for d in PRETRAINED.iterdir()
             if d.is_dir()}
    assert set(sizes) == {"digits_cnn", "char_transformer"}, sizes
    assert sum(sizes.values()) < 1.6e6, sizes


def test_pretrained_digits_cnn_reproduces_its_test_accuracy():
    use = _example("use_pretrained")
    acc, meta = use.digits_accuracy()
    assert acc == meta["test_accuracy"], (acc, meta)           # exactly the recorded figure
    assert round(acc, 4) == README_DIGITS_ACCURACY, acc
    assert meta["epochs"] == 30


def test_pretrained_char_transformer_validation_loss():
    ct = _example("char_transformer")
    directory = PRETRAINED / "char_transformer"
    model, params, meta = ct.load_pretrained(directory)
    assert meta["dtype"] == "bfloat16" and meta["vocab"] == ct.VOCAB
    _, val_ids = ct.split(ct.encode(ct.load_text()), meta["train_fraction"])
    evaluate = ct.make_evaluate(model)
    context = meta["config"]["context"]
    # A fixed slice: the first 64 windows of the validation text.
    loss = evaluate(params, *ct.eval_windows(val_ids, context, ct.SLICE_WINDOWS))
    assert abs(loss - meta[f"val_loss_first_{ct.SLICE_WINDOWS}_windows"]) < 2e-3, (loss, meta)
    assert loss < meta["baseline"] - 1.0, (loss, meta["baseline"])
    # The recorded loss is the whole validation text's (bfloat16 weights, as stored).
    assert meta["val_loss"] < 1.5 and meta["baseline"] > 3.0, meta
    assert abs(meta["val_loss"] - meta["val_loss_float32"]) < 0.01, meta
    train_ids, val_ids = ct.split(ct.encode(ct.load_text()))
    assert math.isclose(ct.unigram_baseline(train_ids, val_ids, len(ct.VOCAB)),
                        meta["baseline"], rel_tol=1e-12)


def test_use_pretrained_main_classifies_and_samples():
    out = _example("use_pretrained").main(prompt="The for statement", chars=40)
    assert round(out["digits_accuracy"], 4) == README_DIGITS_ACCURACY
    assert out["sample"].startswith("The for statement") and len(out["sample"]) == 17 + 40


def test_char_transformer_tiny_run_learns():
    ct = _example("char_transformer")
    out = ct.main(steps=80, batch_size=16, log_every=20, eval_windows_max=64,
                  sample_chars=20, config=dict(d_model=64, num_heads=2, num_layers=1,
                                               context=32))
    history = [loss for _, loss in out["train_loss_history"]]
    assert history[-1] < history[0] - 0.5, history
    assert out["val_loss"] < out["baseline"] - 0.2, out
    assert 3.0 < out["baseline"] < 3.5, out
    assert out["sample"].startswith("The with statement") and len(out["sample"]) == 18 + 20


def test_char_transformer_save_pretrained_round_trip(tmp_path):
    ct = _example("char_transformer")
    out = ct.main(steps=3, batch_size=4, log_every=3, eval_windows_max=4, sample_chars=5,
                  config=dict(d_model=32, num_heads=2, num_layers=1, context=16),
                  save_pretrained=str(tmp_path))
    model, params, meta = ct.load_pretrained(tmp_path)
    assert meta["config"]["d_model"] == 32 and meta["steps"] == 3
    _, val_ids = ct.split(ct.encode(ct.load_text()))
    loss = ct.make_evaluate(model)(params, *ct.eval_windows(val_ids, 16, 4))
    assert loss == pytest.approx(out["stored_val_loss"], abs=1e-5)


def test_lstm_adding_problem_beats_the_baseline():
    ls = _example("lstm_sequence")
    out = ls.main(steps=300, length=10, hidden=16, batch_size=32, test_size=256,
                  log_every=100)
    assert out["test_mse"] < 0.1 * out["baseline_mse"], out
    history = [mse for _, mse in out["train_mse_history"]]
    assert history[-1] < history[0], history


def test_lstm_adding_batch_targets():
    ls = _example("lstm_sequence")
    from functorch_lite import random
    x, y = ls.adding_batch(random.PRNGKey(3), 8, 12)
    x, y = np.asarray(x), np.asarray(y)
    assert x.shape == (8, 12, 2) and y.shape == (8,)
    markers = x[..., 1]
    assert (markers.sum(1) == 2).all()
    assert (markers[:, :6].sum(1) == 1).all() and (markers[:, 6:].sum(1) == 1).all()
    np.testing.assert_allclose(y, (x[..., 0] * markers).sum(1), rtol=1e-6)
