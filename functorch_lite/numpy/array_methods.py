"""Operators and NumPy-style methods, attached to ``Array`` (so to device arrays and tracers
alike) so that user code behaves the same eagerly and under every transformation."""
from __future__ import annotations

from typing import Any

import numpy as np

from functorch_lite import lax
from functorch_lite.core import dtypes
from functorch_lite.core.avals import Array, ShapedArray, TypedScalar
from functorch_lite.lax._common import PY_SCALARS
from functorch_lite.numpy import (creation, indexing, linalg_ops, reductions, shapes, sorting,
                                  ufuncs)


def _operand_ok(x: Any) -> bool:
    return (isinstance(x, (Array, np.ndarray, np.generic, TypedScalar)) or type(x) in PY_SCALARS
            or isinstance(getattr(x, "aval", None), ShapedArray))


def _binop(fn, reflected=False):
    def op(self, other):
        if not _operand_ok(other):
            return NotImplemented
        return fn(other, self) if reflected else fn(self, other)
    return op


def _reshape(self, *shape, order="C"):
    if len(shape) == 1 and not isinstance(shape[0], int):
        shape = shape[0]
    return shapes.reshape(self, shape, order)


def _transpose(self, *axes):
    if len(axes) == 1 and (axes[0] is None or not isinstance(axes[0], int)):
        axes = axes[0]
    return shapes.transpose(self, axes or None)


def _astype(self, dtype, copy=False):
    dt = (dtypes.default_float_dtype() if dtype is None  # as jnp.astype
          else dtypes.check_user_dtype(dtype, "astype"))
    if dt != self.dtype or self.weak_type:
        return lax.convert_element_type(self, dt)
    return creation.array(self, copy=True) if copy else self


def _round_method(self, ndigits=None):
    """``round(x)`` rounds half to even and gives an int array; ``round(x, n)`` keeps the
    dtype (as ``jnp.round``)."""
    if ndigits is None:
        return lax.convert_element_type(ufuncs.round(self), dtypes.default_int_dtype())
    return ufuncs.round(self, ndigits)


def _copy(self):
    # Values are immutable, but a buffer can still be donated or deleted: JAX's copy is
    # a new buffer, and so is ours.
    return creation.array(self, copy=True)


def _divmod(self, other):
    return ufuncs.divmod(self, other)


def _rdivmod(self, other):
    return ufuncs.divmod(other, self)


METHODS = {
    "__add__": _binop(ufuncs.add), "__radd__": _binop(ufuncs.add, True),
    "__sub__": _binop(ufuncs.subtract), "__rsub__": _binop(ufuncs.subtract, True),
    "__mul__": _binop(ufuncs.multiply), "__rmul__": _binop(ufuncs.multiply, True),
    "__truediv__": _binop(ufuncs.true_divide), "__rtruediv__": _binop(ufuncs.true_divide, True),
    "__floordiv__": _binop(ufuncs.floor_divide),
    "__rfloordiv__": _binop(ufuncs.floor_divide, True),
    "__mod__": _binop(ufuncs.remainder), "__rmod__": _binop(ufuncs.remainder, True),
    "__divmod__": _divmod, "__rdivmod__": _rdivmod,
    "__pow__": _binop(ufuncs.power), "__rpow__": _binop(ufuncs.power, True),
    "__matmul__": _binop(linalg_ops.matmul), "__rmatmul__": _binop(linalg_ops.matmul, True),
    "__and__": _binop(ufuncs.bitwise_and), "__rand__": _binop(ufuncs.bitwise_and, True),
    "__or__": _binop(ufuncs.bitwise_or), "__ror__": _binop(ufuncs.bitwise_or, True),
    "__xor__": _binop(ufuncs.bitwise_xor), "__rxor__": _binop(ufuncs.bitwise_xor, True),
    "__lshift__": _binop(ufuncs.left_shift), "__rlshift__": _binop(ufuncs.left_shift, True),
    "__rshift__": _binop(ufuncs.right_shift), "__rrshift__": _binop(ufuncs.right_shift, True),
    "__eq__": _binop(ufuncs.equal), "__ne__": _binop(ufuncs.not_equal),
    "__lt__": _binop(ufuncs.less), "__le__": _binop(ufuncs.less_equal),
    "__gt__": _binop(ufuncs.greater), "__ge__": _binop(ufuncs.greater_equal),
    "__neg__": ufuncs.negative, "__pos__": ufuncs.positive, "__abs__": ufuncs.absolute,
    "__invert__": ufuncs.invert,
    "__round__": _round_method,
    "__getitem__": indexing.getitem,
    "__setitem__": indexing.setitem_error,
    "sum": reductions.sum, "mean": reductions.mean, "max": reductions.max,
    "min": reductions.min, "prod": reductions.prod, "std": reductions.std,
    "var": reductions.var, "argmax": reductions.argmax, "argmin": reductions.argmin,
    "any": reductions.any, "all": reductions.all, "cumsum": reductions.cumsum,
    "cumprod": reductions.cumprod, "ptp": reductions.ptp,
    "reshape": _reshape, "ravel": shapes.ravel, "flatten": shapes.ravel,
    "transpose": _transpose, "squeeze": shapes.squeeze, "swapaxes": shapes.swapaxes,
    "repeat": shapes.repeat, "diagonal": shapes.diagonal, "trace": shapes.trace,
    "astype": _astype, "clip": ufuncs.clip, "round": ufuncs.round, "conj": ufuncs.conjugate,
    "conjugate": ufuncs.conjugate, "dot": linalg_ops.dot, "take": indexing.take,
    "sort": sorting.sort, "argsort": sorting.argsort, "copy": _copy,
}

PROPERTIES = {
    "T": lambda self: shapes.transpose(self),
    "mT": lambda self: shapes.matrix_transpose(self),
    "real": lambda self: ufuncs.real(self),
    "imag": lambda self: ufuncs.imag(self),
    "at": lambda self: indexing.AtIndexer(self),
    "flat": lambda self: shapes.ravel(self),
}


def attach(cls: type) -> None:
    for name, fn in METHODS.items():
        setattr(cls, name, fn)
    for name, fn in PROPERTIES.items():
        setattr(cls, name, property(fn))
    # __eq__ is overridden, so restate that arrays are unhashable.
    cls.__hash__ = _unhashable


def _unhashable(self):
    raise TypeError(f"unhashable type: '{type(self).__name__}' (arrays are mutable-looking "
                    "values; use a tuple of Python numbers as a key instead)")
