"""Abstract values: what a transformation knows about an array without its contents."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from functorch_lite.core import dtypes


class ShapedArray:
    """An array's type: shape, dtype and whether the dtype is *weak* (came from a Python scalar).

    Weak types let ``x + 1.0`` keep ``x``'s float16 instead of promoting to float32."""

    __slots__ = ("shape", "dtype", "weak_type", "_hash")

    def __init__(self, shape, dtype, weak_type: bool = False):
        self.shape = tuple(int(d) for d in shape)
        self.dtype = np.dtype(dtype)
        self.weak_type = bool(weak_type)
        self._hash = hash((self.shape, self.dtype, self.weak_type))

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def update(self, shape=None, dtype=None, weak_type=None) -> "ShapedArray":
        return ShapedArray(self.shape if shape is None else shape,
                           self.dtype if dtype is None else dtype,
                           self.weak_type if weak_type is None else weak_type)

    def strip_weak_type(self) -> "ShapedArray":
        return self if not self.weak_type else ShapedArray(self.shape, self.dtype, False)

    def __eq__(self, other: Any) -> bool:
        return (type(other) is ShapedArray and self.shape == other.shape
                and self.dtype == other.dtype and self.weak_type == other.weak_type)

    def same_type(self, other: "ShapedArray") -> bool:
        """Equal shape and dtype, ignoring weak types."""
        return self.shape == other.shape and self.dtype == other.dtype

    def __hash__(self) -> int:
        return self._hash

    def str_short(self) -> str:
        return f"{dtypes.to_numpy_dtype_name(self.dtype)}[{','.join(map(str, self.shape))}]"

    def _str_long(self) -> str:
        name = "float0" if self.dtype == dtypes.float0 else self.dtype.name
        return f"{name}[{','.join(map(str, self.shape))}]"

    # As JAX prints its avals (``typeof(x)``): ``float32[3]``, ``~float32[]`` when weak;
    # messages use the short form, ``f32[3]``.
    def __repr__(self) -> str:
        return f"ShapedArray({self._str_long()}{', weak_type=True' if self.weak_type else ''})"

    def __str__(self) -> str:
        return ("~" if self.weak_type else "") + self._str_long()


class Array:
    """The public array type, ``functorch_lite.Array`` (``jax.Array``'s counterpart): what
    every array value is, whether it holds data (the backend's device array) or stands in
    for data while a transformation runs (a tracer). Both subclass it, so
    ``isinstance(x, Array)`` is the one test for "an array of this library" in every layer,
    and the libraries above the core (numpy, random, scipy, nn) never name a tracer type.

    JAX makes its tracers *virtual* subclasses of ``jax.Array``; here they inherit for real,
    because an ABC's ``isinstance`` costs ~10x a plain class's and the test sits on the
    eager hot paths. Every instance has an ``aval``; operators and NumPy-style methods are
    attached to this class by ``functorch_lite.numpy``."""

    __slots__ = ()

    @property
    def shape(self) -> tuple:
        return self.aval.shape

    @property
    def dtype(self) -> np.dtype:
        return self.aval.dtype

    @property
    def ndim(self) -> int:
        return self.aval.ndim

    @property
    def size(self) -> int:
        return self.aval.size

    @property
    def weak_type(self) -> bool:
        return self.aval.weak_type

    @property
    def nbytes(self) -> int:
        return self.aval.size * self.aval.dtype.itemsize


# How to find the abstract value of a concrete (non-tracer) value, by Python type.
# The backend registers its array type here; tracers carry their own ``aval``.
aval_handlers: dict[type, Callable[[Any], ShapedArray]] = {}


def _scalar_aval(x) -> ShapedArray:
    return ShapedArray((), dtypes.dtype_of(x), weak_type=True)


def _numpy_aval(x) -> ShapedArray:
    return ShapedArray(np.shape(x), dtypes.canonicalize_dtype(x.dtype), weak_type=False)


for _t in (bool, int, float, complex):
    aval_handlers[_t] = _scalar_aval
for _t in (np.ndarray, np.generic, np.bool_, *{np.dtype(d).type for d in
           ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
            "float16", "float32", "float64", "complex64", "complex128")}):
    aval_handlers[_t] = _numpy_aval
aval_handlers[np.dtype(dtypes.bfloat16).type] = _numpy_aval


def get_aval(x: Any) -> ShapedArray:
    """The abstract value of a tracer, backend array, NumPy array or Python scalar."""
    handler = aval_handlers.get(type(x))
    if handler is not None:
        return handler(x)
    aval = getattr(x, "aval", None)
    if isinstance(aval, ShapedArray):
        return aval
    if isinstance(x, (bool, int, float, complex)):  # subclasses such as IntEnum
        return _scalar_aval(x)
    if isinstance(x, np.ndarray):
        return _numpy_aval(x)
    raise TypeError(f"value {x!r} of type {type(x).__name__} is not a valid array: expected an "
                    "Array, a NumPy array or a Python scalar")


class TypedScalar:
    """A Python scalar given a definite dtype (and usually a weak type) without touching a
    device: ``fnp.add(x_f16, 1.0)`` turns ``1.0`` into ``TypedScalar(1.0, f16[] weak)``.
    Eager evaluation transfers it; staging writes it as a literal."""

    __slots__ = ("value", "aval")

    def __init__(self, value, dtype, weak_type: bool = True):
        self.aval = ShapedArray((), dtype, weak_type)
        self.value = np.asarray(value, dtype=self.aval.dtype)[()]

    @property
    def dtype(self):
        return self.aval.dtype

    @property
    def shape(self):
        return ()

    @property
    def weak_type(self):
        return self.aval.weak_type

    def __repr__(self) -> str:
        return f"TypedScalar({self.value!r}, {self.aval.str_short()})"


aval_handlers[TypedScalar] = lambda x: x.aval
