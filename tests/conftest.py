import importlib.util
import os
import pathlib
import sys

from hypothesis import settings

# The oracles every rule test uses (tests/rule_checks.py) import as a top-level module.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

settings.register_profile("ci", max_examples=20, deadline=None, derandomize=True)
settings.register_profile("dev", max_examples=50, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# On a GPU or TPU, float32 products and convolutions default to fewer bits (TF32 on recent
# GPUs, bfloat16 passes on TPU), in JAX and here alike, while the tests compare against
# float32 oracles (NumPy, finite differences, JAX on a CPU): there, ask both for full float32
# unless the environment chose. Decided from the installed plugins, so that a CPU-only run
# starts no backend here; on a CPU the setting would change nothing but the lowered text.
_ACCELERATOR_PLUGINS = ("jax_cuda13_plugin", "jax_cuda12_plugin", "jax_rocm7_plugin",
                        "jax_rocm60_plugin", "libtpu")
if "JAX_DEFAULT_MATMUL_PRECISION" not in os.environ and any(
        importlib.util.find_spec(name) for name in _ACCELERATOR_PLUGINS):
    os.environ["JAX_DEFAULT_MATMUL_PRECISION"] = "float32"   # read by jax and by us at import
