"""Lowering rules, one module per family of primitives (mirroring functorch_lite/lax)."""
from xla_bridge.lowering import (convolution, elementwise, indexing, linalg,  # noqa: F401
                                 reductions, shapes, sorting, windowed)
from xla_bridge.lowering.core import (LoweringContext, LoweringError, lower_program,  # noqa
                                      register)
