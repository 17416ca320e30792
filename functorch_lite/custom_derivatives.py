"""``functorch_lite.custom_derivatives``, as ``jax.custom_derivatives``: the custom-rule
decorators and the values their rules may meet with ``symbolic_zeros=True``."""
from functorch_lite.lax.custom_derivatives import custom_gradient, custom_jvp, custom_vjp
from functorch_lite.lax.custom_derivatives._common import (CustomVJPPrimal, SymbolicZero,
                                                           custom_vjp_primal_tree_values)

__all__ = ["custom_jvp", "custom_vjp", "custom_gradient", "SymbolicZero", "CustomVJPPrimal",
           "custom_vjp_primal_tree_values"]
