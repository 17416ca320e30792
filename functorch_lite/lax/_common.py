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
    """Check that operands share one dtype, as JAX's ``lax`` does: it never promotes.

    A Python scalar counts as its default dtype (bool, int32, float32 or complex64; the
    64-bit ones under x64), weakly typed: ``lax.add(x_f32, 1.0)`` works, while
    ``lax.add(x_f16, 1.0)``, ``lax.add(x_f32, 1)`` and ``lax.add(1, 1.0)`` raise a
    TypeError naming both dtypes. ``functorch_lite.numpy`` promotes before it calls lax;
    internal callers that need a constant of an operand's dtype pass
    ``scalar_like(value, dtype)``."""
    args = operands(args)
    check_same_dtypes(name, [get_aval(a) for a in args])
    return args


def operands(args: Sequence[Any]) -> list:
    """``as_operand`` of each argument, with Python scalars given their default dtype
    (weakly typed) rather than any operand's: lax's shape rules then check dtypes."""
    return [scalar_like(a, dtypes.python_scalar_dtype(a)) if is_python_scalar(a)
            else as_operand(a) for a in args]


# numpy functions that do what a lax function does but promote dtypes (for error hints)
_NUMPY_EQUIVALENTS = {
    "add": "add", "sub": "subtract", "mul": "multiply", "div": "divide", "rem": "remainder",
    "pow": "power", "max": "maximum", "min": "minimum", "atan2": "arctan2",
    "nextafter": "nextafter", "and": "bitwise_and", "or": "bitwise_or",
    "xor": "bitwise_xor", "shift_left": "left_shift", "shift_right_arithmetic":
    "right_shift", "eq": "equal", "ne": "not_equal", "lt": "less", "le": "less_equal",
    "gt": "greater", "ge": "greater_equal", "select_n": "where", "clamp": "clip",
    "pad": "pad", "concatenate": "concatenate",
}


def check_same_dtypes(name: str, avals: Sequence[ShapedArray]) -> None:
    """Raise JAX's TypeError (``lax.add requires arguments to have the same dtypes, got
    int32, float32``) when the operands' dtypes differ; weak types do not matter here."""
    if len({a.dtype for a in avals}) <= 1:
        return
    got = ", ".join(getattr(a.dtype, "name", str(a.dtype)) for a in avals)
    equiv = _NUMPY_EQUIVALENTS.get(name)
    hint = (f"functorch_lite.numpy.{equiv} promotes dtypes automatically, or " if equiv
            else "")
    raise TypeError(f"lax.{name} requires arguments to have the same dtypes, got {got} "
                    f"({hint}convert an operand with lax.convert_element_type)")


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
