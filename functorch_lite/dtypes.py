"""``functorch_lite.dtypes``, as ``jax.dtypes``: dtype canonicalization, promotion and
categories with JAX's rules (bfloat16 a floating type, 64-bit types only under x64)."""
from __future__ import annotations

from typing import Any

import numpy as np

from functorch_lite.core.dtypes import (TypePromotionError, bfloat16,  # noqa: F401
                                        canonicalize_dtype, finfo, float0, iinfo, issubdtype,
                                        result_type)
from functorch_lite.core.dtypes import dtype_of as _dtype_of

__all__ = ["TypePromotionError", "bfloat16", "canonicalize_dtype", "finfo", "float0", "iinfo",
           "issubdtype", "itemsize_bits", "result_type", "scalar_type_of"]


def scalar_type_of(x: Any) -> type:
    """The Python scalar type (``bool``, ``int``, ``float`` or ``complex``) of the kind of
    ``x``'s dtype: ``scalar_type_of(fnp.ones(2)) is float``."""
    dt = _dtype_of(x, canonicalize=False)
    if dt == np.bool_:
        return bool
    if issubdtype(dt, np.integer):
        return int
    if issubdtype(dt, np.floating):
        return float
    if issubdtype(dt, np.complexfloating):
        return complex
    raise TypeError(f"scalar_type_of: no Python scalar type for dtype {dt}")


def itemsize_bits(dtype: Any) -> int:
    """Bits per element: 16 for bfloat16, 8 for bool (as stored), 4 for int4."""
    dt = np.dtype(dtype)
    if dt == float0:
        return 0
    sub_byte = {"int4": 4, "uint4": 4, "int2": 2, "uint2": 2, "float4_e2m1fn": 4}
    return sub_byte.get(dt.name, 8 * dt.itemsize)
