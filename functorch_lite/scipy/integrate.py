"""``functorch_lite.scipy.integrate``, as ``jax.scipy.integrate``: quadrature of sampled
data."""
from __future__ import annotations

from typing import Any

import functorch_lite.numpy as fnp

__all__ = ["trapezoid"]


def trapezoid(y: Any, x: Any = None, dx: Any = 1.0, axis: int = -1) -> Any:
    """The integral of ``y`` along ``axis`` by the composite trapezoidal rule, with sample
    points ``x`` (1-D, of the length of that axis, or shaped like ``y``) or a constant
    spacing ``dx``. The result has ``y``'s shape without ``axis``, in an inexact dtype.

    >>> trapezoid(fnp.array([1.0, 2.0, 3.0]), dx=0.5)  # 2.0
    """
    # One definition: SciPy's and NumPy's trapezoid are the same rule.
    return fnp.trapezoid(y, x, dx, axis)
