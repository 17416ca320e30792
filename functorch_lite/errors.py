"""``functorch_lite.errors``, as ``jax.errors``: the exceptions users may catch.

Concretization errors say which Python operation needed a concrete value and what to use
instead; ``JaxRuntimeError`` is what XLA raises when compiling or running a program fails."""
from functorch_lite.core.errors import (ConcretizationTypeError,  # noqa: F401
                                        TracerArrayConversionError, TracerBoolConversionError,
                                        TracerIntegerConversionError, UnexpectedTracerError)
from functorch_lite.numpy.indexing import NonConcreteBooleanIndexError  # noqa: F401
from xla_bridge.runtime import JaxRuntimeError  # noqa: F401

__all__ = ["ConcretizationTypeError", "JaxRuntimeError", "NonConcreteBooleanIndexError",
           "TracerArrayConversionError", "TracerBoolConversionError",
           "TracerIntegerConversionError", "UnexpectedTracerError"]
