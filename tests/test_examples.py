"""The README's main job trains a real network: keep it working."""
import importlib.util
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _load(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_demo_trains_digits_mlp():
    demo = _load("demo")
    accuracy = demo.main(epochs=30)
    assert accuracy >= 0.95
