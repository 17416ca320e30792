"""Scalar types (``fnp.float32``, ``fnp.int32``, ``fnp.bool_``, ...), as ``jax.numpy`` has them.

NumPy's scalar classes build host scalars; ours build arrays: ``fnp.float32(1.0)`` is a 0-d
float32 ``Array`` and ``fnp.float32([1, 2])`` a float32 ``Array`` of shape ``(2,)``. Each one
also stands for its dtype wherever a dtype is accepted, here and in NumPy:
``fnp.zeros(3, fnp.float32)``, ``x.astype(fnp.int8)``, ``np.zeros(3, fnp.float32)``,
``np.dtype(fnp.bfloat16)``; ``fnp.float32.dtype`` is the ``np.dtype``.

They compare and hash like the NumPy class of their dtype (``fnp.float32 == np.float32``,
``x.dtype == fnp.float32``), and ``isinstance(v, fnp.float32)`` asks whether ``v`` is a NumPy
float32 scalar (an ``Array`` is not one, as in JAX).
"""
from __future__ import annotations

from typing import Any

import ml_dtypes
import numpy as np

from functorch_lite.numpy.creation import asarray

__all__ = [
    "bool_", "bool", "int8", "int16", "int32", "int64", "uint8", "uint16",
    "uint32", "uint64", "uint", "bfloat16", "float16", "float32", "float64", "complex64",
    "complex128", "float_", "int_", "complex_", "single", "double", "csingle", "cdouble",
]


class ScalarType(type):
    """The metaclass of the scalar types: each instance is one class per dtype, so that
    ``repr`` shows ``<class 'functorch_lite.numpy.float32'>`` and code testing
    ``isinstance(t, type)`` treats it as NumPy's scalar classes are treated."""

    dtype: np.dtype

    @property
    def __numpy_dtype__(cls) -> np.dtype:
        # NumPy >= 2.4 asks for this when a dtype is built from an object; older NumPy
        # reads the class's ``dtype`` attribute instead. Either way np.dtype(cls) works.
        return cls.dtype

    def __call__(cls, x: Any) -> Any:
        return asarray(x, dtype=cls.dtype)

    def __eq__(cls, other: Any) -> bool:
        return cls is other or cls.dtype.type == other

    def __ne__(cls, other: Any) -> bool:
        return not cls == other

    def __hash__(cls) -> int:
        return hash(cls.dtype.type)

    def __instancecheck__(cls, instance: Any) -> bool:
        return isinstance(instance, cls.dtype.type)


def _scalar_type(np_type: type) -> ScalarType:
    name = np_type.__name__
    return ScalarType(name, (object,), {
        "dtype": np.dtype(np_type),
        "__module__": "functorch_lite.numpy",
        "__doc__": (f"The {name} scalar type: ``{name}(x)`` is ``asarray(x, dtype={name})`` "
                    "(an Array, not a NumPy scalar); it also names its dtype anywhere a "
                    "dtype is accepted."),
    })


bool_ = _scalar_type(np.bool_)
bool = bool_  # noqa: A001  (jnp.bool, NumPy 2's name)
int8, int16, int32, int64 = (_scalar_type(t) for t in (np.int8, np.int16, np.int32, np.int64))
uint8, uint16, uint32, uint64 = (_scalar_type(t) for t in
                                 (np.uint8, np.uint16, np.uint32, np.uint64))
bfloat16 = _scalar_type(ml_dtypes.bfloat16)
float16, float32, float64 = (_scalar_type(t) for t in (np.float16, np.float32, np.float64))
complex64, complex128 = _scalar_type(np.complex64), _scalar_type(np.complex128)

# NumPy's aliases. The defaults are the 64-bit types, as in jax.numpy: with x64 off they
# give 32-bit arrays (and the warning any float64 request gives).
float_, int_, complex_, uint = float64, int64, complex128, uint64
single, double, csingle, cdouble = float32, float64, complex64, complex128
