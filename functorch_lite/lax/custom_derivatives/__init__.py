"""User-defined derivative rules: ``custom_jvp``, ``custom_vjp`` and ``custom_gradient``,
each a primitive (``custom_jvp_call``, ``custom_vjp_call`` with ``custom_lin``) with its
rules beside it."""
from functorch_lite.lax.custom_derivatives.custom_gradient import custom_gradient
from functorch_lite.lax.custom_derivatives.custom_jvp import custom_jvp, custom_jvp_call_p
from functorch_lite.lax.custom_derivatives.custom_vjp import (custom_lin_p, custom_vjp,
                                                              custom_vjp_call_p)

__all__ = ["custom_jvp", "custom_vjp", "custom_gradient", "custom_jvp_call_p",
           "custom_vjp_call_p", "custom_lin_p"]
