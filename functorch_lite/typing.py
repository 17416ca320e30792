"""``functorch_lite.typing``, as ``jax.typing``: annotations for array-taking APIs.

``ArrayLike`` is what array functions accept (our arrays and tracers, NumPy arrays and
scalars, Python scalars); ``DTypeLike`` is what ``dtype=`` accepts. Both are for type
checkers only, as in JAX: use ``isinstance(x, functorch_lite.Array)`` at run time."""
from __future__ import annotations

from typing import Any, Union

import numpy as np

from functorch_lite.core.avals import Array

__all__ = ["ArrayLike", "DTypeLike"]

ArrayLike = Union[Array, np.ndarray, np.bool_, np.number, bool, int, float, complex]
DTypeLike = Union[str, type, np.dtype, Any]
