"""Elementwise functions with NumPy's names, broadcasting and JAX's dtype promotion."""
from __future__ import annotations

from typing import Any

import numpy as np

from functorch_lite import lax
from functorch_lite.core import dtypes
from functorch_lite.core.avals import get_aval
from functorch_lite.numpy._util import (check_arraylike, promote_args, promote_args_inexact,
                                        promote_dtypes, promote_dtypes_inexact, shape_of)


def _dtype(x):
    return get_aval(x).dtype


def _unary_inexact(lax_fn, name: str, doc: str):
    def fn(x: Any, /):
        (x,) = promote_dtypes_inexact(name, x)
        return lax_fn(x)
    fn.__name__ = name
    fn.__doc__ = doc
    return fn


def _binary(lax_fn, name: str, doc: str, inexact: bool = False):
    promote = promote_args_inexact if inexact else promote_args

    def fn(x: Any, y: Any, /):
        x, y = promote(name, x, y)
        return lax_fn(x, y)
    fn.__name__ = name
    fn.__doc__ = doc
    return fn


exp = _unary_inexact(lax.exp, "exp", "e**x elementwise; ints promote to float.")
exp2 = _unary_inexact(lax.exp2, "exp2", "2**x elementwise.")
log = _unary_inexact(lax.log, "log", "Natural logarithm elementwise.")
log1p = _unary_inexact(lax.log1p, "log1p", "log(1 + x) elementwise.")
expm1 = _unary_inexact(lax.expm1, "expm1", "exp(x) - 1 elementwise.")
sqrt = _unary_inexact(lax.sqrt, "sqrt", "Square root elementwise.")
cbrt = _unary_inexact(lax.cbrt, "cbrt", "Cube root elementwise.")
sin = _unary_inexact(lax.sin, "sin", "Sine elementwise.")
cos = _unary_inexact(lax.cos, "cos", "Cosine elementwise.")
tan = _unary_inexact(lax.tan, "tan", "Tangent elementwise.")
arcsin = _unary_inexact(lax.asin, "arcsin", "Inverse sine elementwise.")
arccos = _unary_inexact(lax.acos, "arccos", "Inverse cosine elementwise.")
arctan = _unary_inexact(lax.atan, "arctan", "Inverse tangent elementwise.")
sinh = _unary_inexact(lax.sinh, "sinh", "Hyperbolic sine elementwise.")
cosh = _unary_inexact(lax.cosh, "cosh", "Hyperbolic cosine elementwise.")
tanh = _unary_inexact(lax.tanh, "tanh", "Hyperbolic tangent elementwise.")
arcsinh = _unary_inexact(lax.asinh, "arcsinh", "Inverse hyperbolic sine elementwise.")
arccosh = _unary_inexact(lax.acosh, "arccosh", "Inverse hyperbolic cosine elementwise.")
arctanh = _unary_inexact(lax.atanh, "arctanh", "Inverse hyperbolic tangent elementwise.")
asin, acos, atan = arcsin, arccos, arctan
asinh, acosh, atanh = arcsinh, arccosh, arctanh

true_divide = _binary(lax.div, "true_divide", "x / y; ints promote to float.", inexact=True)
divide = true_divide
arctan2 = _binary(lax.atan2, "arctan2", "Elementwise arctangent of x1/x2 using both signs.",
                  inexact=True)
atan2 = arctan2
nextafter = _binary(lax.nextafter, "nextafter", "Next float after x toward y.", inexact=True)
equal = _binary(lax.eq, "equal", "x == y elementwise.")
not_equal = _binary(lax.ne, "not_equal", "x != y elementwise.")
less = _binary(lax.lt, "less", "x < y elementwise.")
less_equal = _binary(lax.le, "less_equal", "x <= y elementwise.")
greater = _binary(lax.gt, "greater", "x > y elementwise.")
greater_equal = _binary(lax.ge, "greater_equal", "x >= y elementwise.")
bitwise_and = _binary(lax.bitwise_and, "bitwise_and", "Bitwise (or logical for bool) AND.")
bitwise_or = _binary(lax.bitwise_or, "bitwise_or", "Bitwise (or logical for bool) OR.")
bitwise_xor = _binary(lax.bitwise_xor, "bitwise_xor", "Bitwise (or logical for bool) XOR.")
left_shift = _binary(lax.shift_left, "left_shift", "x << y.")


def add(x, y, /):
    """x + y with broadcasting (bool: logical or)."""
    x, y = promote_args("add", x, y)
    return lax.bitwise_or(x, y) if _dtype(x) == np.bool_ else lax.add(x, y)


def multiply(x, y, /):
    """x * y with broadcasting (bool: logical and)."""
    x, y = promote_args("multiply", x, y)
    return lax.bitwise_and(x, y) if _dtype(x) == np.bool_ else lax.mul(x, y)


def subtract(x, y, /):
    """x - y with broadcasting."""
    x, y = promote_args("subtract", x, y)
    if _dtype(x) == np.bool_:
        raise TypeError("subtract: boolean subtract is not supported, use bitwise_xor or "
                        "logical_xor instead")
    return lax.sub(x, y)


def right_shift(x, y, /):
    """x >> y (arithmetic for signed, logical for unsigned integers)."""
    x, y = promote_args("right_shift", x, y)
    if dtypes.is_unsigned(_dtype(x)):
        return lax.shift_right_logical(x, y)
    return lax.shift_right_arithmetic(x, y)


def invert(x, /):
    """Bitwise NOT (logical NOT for bool)."""
    (x,) = promote_dtypes("invert", x)
    return lax.bitwise_not(x)


bitwise_not = bitwise_invert = invert


def logical_not(x, /):
    return lax.bitwise_not(_as_bool(x))


def _as_bool(x):
    check_arraylike("logical op", x)
    if type(x) is bool:
        return x
    return lax.convert_element_type(x, np.bool_) if _dtype(x) != np.bool_ else x


def _logical(name, lax_fn):
    def fn(x, y, /):
        x, y = promote_args(name, _as_bool(x), _as_bool(y))
        return lax_fn(x, y)
    fn.__name__ = name
    fn.__doc__ = f"Elementwise {name.split('_')[1].upper()} of the truth values of x and y."
    return fn


logical_and = _logical("logical_and", lax.bitwise_and)
logical_or = _logical("logical_or", lax.bitwise_or)
logical_xor = _logical("logical_xor", lax.bitwise_xor)


def negative(x, /):
    """-x elementwise."""
    (x,) = promote_dtypes("negative", x)
    if _dtype(x) == np.bool_:
        raise TypeError("negative: the numpy boolean negative is not supported; use "
                        "logical_not")
    return lax.neg(x)


def positive(x, /):
    (x,) = promote_dtypes("positive", x)
    return x


def absolute(x, /):
    """|x| elementwise (a no-op for bool and unsigned ints)."""
    (x,) = promote_dtypes("absolute", x)
    dt = _dtype(x)
    if dt == np.bool_ or dtypes.is_unsigned(dt):
        return x
    return lax.abs(x)


abs = absolute


def fabs(x, /):
    (x,) = promote_dtypes_inexact("fabs", x)
    return lax.abs(x)


def sign(x, /):
    """-1, 0 or 1 elementwise."""
    (x,) = promote_dtypes("sign", x)
    dt = _dtype(x)
    if dt == np.bool_:
        return x
    if dtypes.is_unsigned(dt):
        return lax.convert_element_type(lax.ne(x, 0), dt)
    return lax.sign(x)


def _rounding(name, lax_fn):
    def fn(x, /):
        (x,) = promote_dtypes(name, x)
        if not dtypes.is_inexact(_dtype(x)):
            return x
        return lax_fn(x)
    fn.__name__ = name
    return fn


floor = _rounding("floor", lax.floor)
ceil = _rounding("ceil", lax.ceil)
trunc = _rounding("trunc", lambda x: lax.select(lax.lt(x, 0), lax.ceil(x), lax.floor(x)))
rint = _rounding("rint", lambda x: lax.round(x, lax.RoundingMethod.TO_NEAREST_EVEN))
fix = trunc


def round(a, decimals: int = 0, out=None):
    """Round to ``decimals`` decimal places, ties to even (as NumPy)."""
    if out is not None:
        raise NotImplementedError("round: the `out` argument is not supported (arrays are "
                                  "immutable)")
    (a,) = promote_dtypes("round", a)
    dt = _dtype(a)
    if not dtypes.is_inexact(dt):
        if decimals >= 0:
            return a
        factor = 10 ** (-decimals)
        return lax.mul(floor_divide(lax.add(a, factor // 2), factor), factor)
    if decimals == 0:
        return lax.round(a, lax.RoundingMethod.TO_NEAREST_EVEN)
    factor = 10.0 ** decimals
    return lax.div(lax.round(lax.mul(a, factor), lax.RoundingMethod.TO_NEAREST_EVEN), factor)


around = round


def square(x, /):
    (x,) = promote_dtypes("square", x)
    return lax.integer_pow(x, 2)


def reciprocal(x, /):
    (x,) = promote_dtypes_inexact("reciprocal", x)
    return lax.integer_pow(x, -1)


def floor_divide(x, y, /):
    """x // y, rounding toward negative infinity (Python/NumPy semantics)."""
    x, y = promote_args("floor_divide", x, y)
    dt = _dtype(x)
    if dtypes.is_int(dt):
        q = lax.div(x, y)
        # C division truncates; step down when the signs differ and it was not exact.
        if not dtypes.is_unsigned(dt):
            fix_ = lax.bitwise_and(lax.ne(lax.rem(x, y), 0),
                                   lax.ne(lax.lt(x, 0), lax.lt(y, 0)))
            q = lax.select(fix_, lax.sub(q, 1), q)
        return q
    if dt == np.bool_:
        raise TypeError("floor_divide does not support bool arrays")
    return lax.floor(lax.div(x, y))


def remainder(x, y, /):
    """x % y with the sign of y (Python/NumPy semantics)."""
    x, y = promote_args("remainder", x, y)
    dt = _dtype(x)
    if dt == np.bool_:
        raise TypeError("remainder does not support bool arrays")
    r = lax.rem(x, y)
    if dtypes.is_unsigned(dt):
        return r
    fix_ = lax.bitwise_and(lax.ne(r, 0), lax.ne(lax.lt(r, 0), lax.lt(y, 0)))
    return lax.select(fix_, lax.add(r, y), r)


mod = remainder


def fmod(x, y, /):
    """C-style remainder with the sign of x."""
    x, y = promote_args("fmod", x, y)
    return lax.rem(x, y)


def divmod(x, y, /):
    return floor_divide(x, y), remainder(x, y)


def power(x, y, /):
    """x ** y with broadcasting; integer powers of integers stay integer."""
    if type(y) is int and not isinstance(y, bool) and type(x) is not int:
        (x,) = promote_dtypes("power", x)
        if dtypes.is_int(_dtype(x)) and y < 0:
            raise ValueError("Integers to negative integer powers are not allowed.")
        return lax.integer_pow(x, y)
    x, y = promote_args("power", x, y)
    dt = _dtype(x)
    if dtypes.is_inexact(dt):
        return lax.pow(x, y)
    if dt == np.bool_:
        raise TypeError("power does not support bool arrays")
    return _integer_power(x, y)


pow = power


def _integer_power(x, y):
    # Square-and-multiply over the bits of a traced integer exponent (32 rounds).
    acc = lax.full_like(x, 1)
    base = x
    e = y
    nbits = _dtype(x).itemsize * 8
    for _ in range(nbits):
        acc = lax.select(lax.ne(lax.bitwise_and(e, 1), 0), lax.mul(acc, base), acc)
        base = lax.mul(base, base)
        e = lax.shift_right_logical(e, 1)
    if not dtypes.is_unsigned(_dtype(x)):
        acc = lax.select(lax.lt(y, 0), lax.full_like(acc, 0), acc)
    return acc


def float_power(x, y, /):
    x, y = promote_args_inexact("float_power", x, y)
    return lax.pow(x, y)


def maximum(x, y, /):
    """Elementwise maximum; NaN propagates."""
    x, y = promote_args("maximum", x, y)
    return lax.max(x, y)


def minimum(x, y, /):
    """Elementwise minimum; NaN propagates."""
    x, y = promote_args("minimum", x, y)
    return lax.min(x, y)


def fmax(x, y, /):
    """Elementwise maximum ignoring NaNs."""
    x, y = promote_args("fmax", x, y)
    return where(isnan(x), y, where(isnan(y), x, lax.max(x, y)))


def fmin(x, y, /):
    x, y = promote_args("fmin", x, y)
    return where(isnan(x), y, where(isnan(y), x, lax.min(x, y)))


def isfinite(x, /):
    (x,) = promote_dtypes("isfinite", x)
    dt = _dtype(x)
    if dtypes.is_complex(dt):
        return logical_and(isfinite(lax.real(x)), isfinite(lax.imag(x)))
    if not dtypes.is_float(dt):
        return lax.full(shape_of(x), True, np.bool_)
    return lax.is_finite(x)


def isinf(x, /):
    (x,) = promote_dtypes("isinf", x)
    dt = _dtype(x)
    if dtypes.is_complex(dt):
        return logical_or(isinf(lax.real(x)), isinf(lax.imag(x)))
    if not dtypes.is_float(dt):
        return lax.full(shape_of(x), False, np.bool_)
    return lax.eq(lax.abs(x), float("inf"))


def isposinf(x, /):
    (x,) = promote_dtypes("isposinf", x)
    return lax.eq(x, float("inf")) if dtypes.is_float(_dtype(x)) else \
        lax.full(shape_of(x), False, np.bool_)


def isneginf(x, /):
    (x,) = promote_dtypes("isneginf", x)
    return lax.eq(x, float("-inf")) if dtypes.is_float(_dtype(x)) else \
        lax.full(shape_of(x), False, np.bool_)


def isnan(x, /):
    (x,) = promote_dtypes("isnan", x)
    if not dtypes.is_inexact(_dtype(x)):
        return lax.full(shape_of(x), False, np.bool_)
    return lax.ne(x, x)


def signbit(x, /):
    (x,) = promote_dtypes("signbit", x)
    dt = _dtype(x)
    if dtypes.is_unsigned(dt) or dt == np.bool_:
        return lax.full(shape_of(x), False, np.bool_)
    if dtypes.is_int(dt):
        return lax.lt(x, 0)
    bits = {2: np.int16, 4: np.int32, 8: np.int64}[dt.itemsize]
    return lax.lt(lax.bitcast_convert_type(x, bits), 0)


def copysign(x, y, /):
    x, y = promote_args_inexact("copysign", x, y)
    return where(signbit(y), lax.neg(lax.abs(x)), lax.abs(x))


def logaddexp(x, y, /):
    """log(exp(x) + exp(y)) without overflow."""
    x, y = promote_args_inexact("logaddexp", x, y)
    amax = lax.max(x, y)
    delta = lax.sub(x, y)
    safe = where(isnan(delta), lax.add(x, y),
                 lax.add(amax, lax.log1p(lax.exp(lax.neg(lax.abs(delta))))))
    return safe


def logaddexp2(x, y, /):
    x, y = promote_args_inexact("logaddexp2", x, y)
    ln2 = float(np.log(2))
    return lax.div(logaddexp(lax.mul(x, ln2), lax.mul(y, ln2)), ln2)


def log2(x, /):
    (x,) = promote_dtypes_inexact("log2", x)
    return lax.div(lax.log(x), float(np.log(2)))


def log10(x, /):
    (x,) = promote_dtypes_inexact("log10", x)
    return lax.div(lax.log(x), float(np.log(10)))


def hypot(x, y, /):
    x, y = promote_args_inexact("hypot", x, y)
    x, y = lax.abs(x), lax.abs(y)
    big, small = lax.max(x, y), lax.min(x, y)
    ratio = lax.div(small, where(lax.eq(big, 0), lax.full_like(big, 1), big))
    return where(lax.eq(big, 0), big, lax.mul(big, lax.sqrt(lax.add(1, lax.mul(ratio, ratio)))))


def deg2rad(x, /):
    (x,) = promote_dtypes_inexact("deg2rad", x)
    return lax.mul(x, float(np.pi / 180))


def rad2deg(x, /):
    (x,) = promote_dtypes_inexact("rad2deg", x)
    return lax.mul(x, float(180 / np.pi))


radians, degrees = deg2rad, rad2deg


def sinc(x, /):
    (x,) = promote_dtypes_inexact("sinc", x)
    pix = lax.mul(x, float(np.pi))
    safe = where(lax.eq(x, 0), lax.full_like(x, 1), pix)
    return where(lax.eq(x, 0), lax.full_like(x, 1), lax.div(lax.sin(safe), safe))


def heaviside(x1, x2, /):
    x1, x2 = promote_args_inexact("heaviside", x1, x2)
    zero = lax.full_like(x1, 0)
    return where(lax.lt(x1, 0), zero, where(lax.gt(x1, 0), lax.full_like(x1, 1), x2))


def real(x, /):
    (x,) = promote_dtypes("real", x)
    return lax.real(x) if dtypes.is_complex(_dtype(x)) else x


def imag(x, /):
    (x,) = promote_dtypes("imag", x)
    return lax.imag(x) if dtypes.is_complex(_dtype(x)) else lax.full_like(x, 0)


def conjugate(x, /):
    (x,) = promote_dtypes("conjugate", x)
    return lax.conj(x) if dtypes.is_complex(_dtype(x)) else x


conj = conjugate


def where(condition, x=None, y=None, /):
    """``x`` where ``condition`` else ``y``, broadcasting all three. The one-argument form
    (``nonzero``) needs a data-dependent shape and is not supported."""
    if x is None or y is None:
        raise ValueError("where: the one-argument form (nonzero) has a data-dependent shape; "
                         "pass both x and y (or use nonzero with size=...)")
    check_arraylike("where", condition, x, y)
    cond = _as_bool(condition)
    x, y = promote_dtypes("where", x, y)
    from functorch_lite.numpy._util import broadcast_shapes, broadcast_to_shape
    shape = broadcast_shapes(shape_of(cond), shape_of(x), shape_of(y), name="where")
    x = broadcast_to_shape(x, shape, "where")
    y = broadcast_to_shape(y, shape, "where")
    if shape_of(cond) != shape:
        cond = broadcast_to_shape(cond, shape, "where")
    return lax.select(cond, x, y)


def clip(a, a_min=None, a_max=None, /, *, min=None, max=None):
    """Limit values to [min, max] (either bound may be None)."""
    lo = min if min is not None else a_min
    hi = max if max is not None else a_max
    if lo is not None:
        a = maximum(a, lo)
    if hi is not None:
        a = minimum(a, hi)
    return a
