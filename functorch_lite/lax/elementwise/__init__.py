"""Elementwise primitives: unary math, binary arithmetic, comparisons, select_n, clamp,
integer_pow and convert_element_type.

Binary primitives take operands of one dtype and equal shapes, except that a rank-0
operand broadcasts against the other (so ``x + 1.0`` stages as ``add x 1.0``).
Each primitive is declared with its public function and its shape, derivative and
batching rules: ``arithmetic`` (arithmetic, comparisons, bitwise, complex parts, select_n,
clamp, integer_pow, convert_element_type) and ``transcendental``, both built with the
declarations of ``_helpers``.
"""
from functorch_lite.lax.elementwise._helpers import *  # noqa: F401,F403
from functorch_lite.lax.elementwise._helpers import _real_dtype  # noqa: F401
from functorch_lite.lax.elementwise.arithmetic import *  # noqa: F401,F403
from functorch_lite.lax.elementwise.arithmetic import abs, max, min, round  # noqa: F401
from functorch_lite.lax.elementwise.transcendental import *  # noqa: F401,F403
from functorch_lite.lax.elementwise.transcendental import pow  # noqa: F401
