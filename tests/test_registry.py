"""Every primitive has every rule: a shape rule, a StableHLO lowering, a jvp rule (or is
marked non-differentiable), a batching rule, and the linear ones a transpose rule. This
test walks the registry, so a new primitive cannot land without its rules."""
import pytest

import functorch_lite  # noqa: F401  (declares every primitive, registers the backend)
from functorch_lite.core.primitive import Primitive
from xla_bridge.lowering.core import has_rule

# Primitives that are linear in (some of) their operands, so reverse mode needs them.
LINEAR = {
    "neg", "add", "sub", "mul", "div", "real", "imag", "conj", "complex", "select_n",
    "convert_element_type", "reshape", "broadcast_in_dim", "transpose", "squeeze",
    "concatenate", "pad", "slice", "rev", "reduce_sum", "cumsum", "dot_general",
    "conv_general_dilated", "reduce_window_sum", "dynamic_slice", "dynamic_update_slice",
    "gather", "scatter_add", "device_put", "jit_call", "cond", "scan", "checkpoint", "fft",
    "triangular_solve", "custom_linear_solve",
    "custom_lin", "psum", "all_gather", "reduce_window_select", "select_and_scatter_add",
}
# Primitives whose batching is handled by the trace itself or that take no batched operands.
NO_BATCH_RULE: set = set()
# Primitives that never reach XLA by design (they raise a clear error if they do).
NO_LOWERING: set = set()

ALL = sorted(Primitive.registry)


@pytest.mark.parametrize("name", ALL)
def test_has_shape_rule(name):
    assert Primitive.registry[name].shape_rule is not None, f"{name} has no shape rule"


@pytest.mark.parametrize("name", ALL)
def test_has_lowering(name):
    if name in NO_LOWERING:
        pytest.skip("never lowered")
    assert has_rule(Primitive.registry[name]), f"{name} has no StableHLO lowering"


@pytest.mark.parametrize("name", ALL)
def test_has_jvp_rule(name):
    p = Primitive.registry[name]
    assert p.jvp_rule is not None or p.non_differentiable, f"{name} has no jvp rule"


@pytest.mark.parametrize("name", ALL)
def test_has_batch_rule(name):
    if name in NO_BATCH_RULE:
        pytest.skip("batched through its own construction")
    assert Primitive.registry[name].batch_rule is not None, f"{name} has no batching rule"


@pytest.mark.parametrize("name", sorted(LINEAR))
def test_linear_primitives_have_transpose(name):
    p = Primitive.registry.get(name)
    assert p is not None, f"{name} is listed as linear but no such primitive exists"
    assert p.transpose_rule is not None, f"{name} is linear but has no transpose rule"
