"""Helpers shared by the primitive families: argument conversion and shape-rule checks."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from functorch_lite.core import dtypes
from functorch_lite.core.avals import ShapedArray, TypedScalar, get_aval
from functorch_lite.core.trace import Tracer

PY_SCALARS = (bool, int, float, complex)


def is_python_scalar(x: Any) -> bool:
    return type(x) in PY_SCALARS


def as_operand(x: Any) -> Any:
    """Accept arrays, tracers, NumPy values and Python scalars; reject anything else early
    with a clear message (lists, strings, None)."""
    if isinstance(x, Tracer) or type(x) in PY_SCALARS or type(x) is TypedScalar:
        return x
    if isinstance(x, (np.ndarray, np.generic)):
        dt = dtypes.canonicalize_dtype(x.dtype)
        return x if x.dtype == dt else np.asarray(x, dt)
    get_aval(x)  # raises a TypeError naming the type when it is not an array
    return x


def scalar_like(value: Any, dtype, weak_type: bool = True) -> TypedScalar:
    return TypedScalar(value, dtype, weak_type)


def match_scalars(name: str, args: Sequence[Any]) -> list:
    """Give Python scalars the dtype of the array operands (as weak-typed scalars), the way
    ``lax.add(x_f16, 1.0)`` works. Array operands must already agree in dtype."""
    args = [as_operand(a) for a in args]
    arrays = [a for a in args if not is_python_scalar(a)]
    if not arrays:
        dt = dtypes.result_type(*args)
        return [scalar_like(a, dt) for a in args]
    dt = get_aval(arrays[0]).dtype
    out = []
    for a in args:
        if is_python_scalar(a):
            _check_scalar_fits(name, a, dt)
            out.append(scalar_like(a, dt))
        else:
            out.append(a)
    return out


def _check_scalar_fits(name: str, x: Any, dtype) -> None:
    if isinstance(x, complex) and not dtypes.is_complex(dtype):
        raise TypeError(f"{name}: cannot combine a complex Python scalar with {dtype} arrays")
    if isinstance(x, float) and (dtypes.is_int(dtype) or dtypes.is_bool(dtype)):
        raise TypeError(f"{name}: cannot combine the Python float {x} with {dtype} arrays "
                        "(lax requires equal dtypes; functorch_lite.numpy promotes)")


def check_dtype(name: str, aval: ShapedArray, kinds: str) -> None:
    """``kinds`` is a string of categories: b(ool) i(nt, signed) u(nsigned) f(loat) c(omplex)."""
    dt = aval.dtype
    kind = ("b" if dtypes.is_bool(dt) else "u" if dtypes.is_unsigned(dt) else
            "i" if dtypes.is_int(dt) else "c" if dtypes.is_complex(dt) else
            "f" if dtypes.is_float(dt) else "?")
    if kind not in kinds:
        names = {"b": "bool", "i": "signed integer", "u": "unsigned integer",
                 "f": "floating", "c": "complex"}
        accepted = ", ".join(names[k] for k in kinds)
        raise TypeError(f"{name} does not accept dtype {dtypes.to_numpy_dtype_name(dt)} "
                        f"({dt}). Accepted dtypes: {accepted}.")


def normalize_axis(name: str, axis: int, ndim: int) -> int:
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
        raise TypeError(f"{name}: axis must be an integer, got {axis!r}")
    if not -ndim <= axis < max(ndim, 1) or (ndim == 0 and axis not in (0, -1)):
        raise ValueError(f"{name}: axis {axis} is out of bounds for an array of rank {ndim}")
    return int(axis) % ndim if ndim else 0


def normalize_axes(name: str, axes: Sequence[int], ndim: int) -> tuple[int, ...]:
    out = tuple(normalize_axis(name, a, ndim) for a in axes)
    if len(set(out)) != len(out):
        raise ValueError(f"{name}: repeated axis in {tuple(axes)}")
    return out


def shape_str(shape: Sequence[int]) -> str:
    return str(tuple(shape))


def canonical_shape(name: str, shape: Any) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    try:
        out = tuple(int(d) for d in shape)
    except TypeError:
        raise TypeError(f"{name}: shape must be a sequence of integers, got {shape!r}") from None
    if any(d < 0 for d in out):
        raise ValueError(f"{name}: negative dimension in shape {out}")
    return out
