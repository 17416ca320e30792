"""The README's main job trains a real network: keep it working."""
import importlib.util
import pathlib

from functorch_lite.nn import checkpoints

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _load(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_demo_trains_the_digits_cnn_and_writes_its_plot_and_checkpoint(tmp_path):
    demo = _load("demo")
    accuracy = demo.main(epochs=8, out=str(tmp_path), progress=False)
    assert accuracy >= 0.97
    assert (tmp_path / "history.png").read_bytes().startswith(b"\x89PNG")
    saved = checkpoints.restore(tmp_path / "checkpoint")
    assert set(saved) == {"params", "state"}
    assert checkpoints.metadata(tmp_path / "checkpoint")["test_accuracy"] == accuracy
