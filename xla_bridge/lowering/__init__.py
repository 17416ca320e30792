"""Lowering rules, one module per family of primitives (mirroring functorch_lite/lax)."""
from xla_bridge.lowering import (callbacks, control, convolution, custom_solve,  # noqa: F401
                                 decompositions, elementwise, exported_call, fft, indexing,
                                 linalg, misc, parallel, reductions, shapes, shard_map,
                                 sharding, sorting, transfer, windowed)
from xla_bridge.lowering.core import (LoweringContext, LoweringError, lower_program,  # noqa
                                      register)
