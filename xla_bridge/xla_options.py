"""XLA options we choose for a compile where XLA's own default measured slower, each with
the measurement behind it. A value the user gave (jit's ``compiler_options``, or the same
option in ``XLA_FLAGS``) always wins, and programs the reason does not apply to compile
with XLA's defaults untouched.

``with_defaults`` is applied once per compile, before the caches' keys are made, by both
compile paths: ``compile`` (one device, with or without host callbacks) and ``spmd`` (over
a mesh).
"""
from __future__ import annotations

import os

# XLA:CPU in jaxlib 0.10 runs these kinds of operations through its YNNPACK library
# ("library fusions"): reductions, single matrix products and convolutions. Its own
# (Eigen) convolution is faster on every shape measured (forward and backward, NHWC and
# NCHW, 1x1 to 5x5 kernels, 1 to 128 channels, batch 8 to 128): the YNNPACK path took
# 1.05-2.1x as long, and the digits CNN's training step (benchmarks/nn_rows.py) runs in
# about 0.8x the time without it. So a CPU program holding a convolution gets XLA's other
# default kinds (programs without one are left alone, so their compile is XLA's default).
# tests/xla_bridge/test_xla_options.py checks that these are still XLA's defaults.
YNN_KINDS = "xla_cpu_experimental_ynn_fusion_type"
KINDS_WITHOUT_CONVOLUTION = "LIBRARY_FUSION_TYPE_REDUCE,LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT"


def with_defaults(module_text: str, platform: str, overrides) -> tuple:
    """``overrides`` ((name, value) pairs) with our choices for this module added."""
    overrides = tuple(overrides)
    if (platform == "cpu" and '"stablehlo.convolution"' in module_text
            and all(name != YNN_KINDS for name, _ in overrides)
            and YNN_KINDS not in os.environ.get("XLA_FLAGS", "")):
        overrides += ((YNN_KINDS, KINDS_WITHOUT_CONVOLUTION),)
    return overrides
