"""Elementwise functions with NumPy's names, broadcasting and JAX's dtype promotion.

Promotion follows ``jax.numpy``: most functions promote their arguments on the type
lattice (``promote_args``); float-valued ones (``exp``, ``true_divide``, ...) then make the
dtype inexact; integer-valued ones that reject bool in ``lax`` (``floor_divide``,
``remainder``, shifts, ``power``, ``square``) compute bools as int32. Python scalars are
weakly typed and wrap into narrow integer dtypes (``uint8_array + 300`` adds 44)."""
from __future__ import annotations

import operator
from typing import Any

import numpy as np

from functorch_lite import lax
from functorch_lite.core import dtypes
from functorch_lite.core.avals import Array, TypedScalar, get_aval
from functorch_lite.core.trace import is_traced
from functorch_lite.numpy._eager import compiled_when_eager
from functorch_lite.numpy._util import (broadcast_shapes, broadcast_to_shape,
                                        check_arraylike, promote_args,
                                        promote_args_inexact, promote_args_numeric,
                                        promote_dtypes, promote_dtypes_inexact,
                                        promote_dtypes_numeric, promote_shapes, shape_of)
from functorch_lite.numpy.creation import asarray


def _dtype(x):
    return get_aval(x).dtype


def _as_array(x: Any) -> Any:
    """``x`` as a library array (a no-op for arrays and tracers): numpy functions return
    arrays even when their computation is the identity."""
    if isinstance(x, Array) or (hasattr(x, "aval") and type(x) is not TypedScalar):
        return x
    if type(x) is TypedScalar:
        return lax.device_put(x)
    return asarray(x)


def _const(like, value, weak=None):
    """A scalar constant of ``like``'s dtype. By default it is weak only when ``like`` is a
    weak rank-0 value, which reproduces the result weak types of ``jnp`` functions that
    mix their input with a constant (e.g. ``hypot``, ``heaviside``)."""
    aval = get_aval(like)
    if weak is None:
        weak = aval.weak_type and aval.ndim == 0
    return TypedScalar(value, aval.dtype, weak)


def _unary_inexact(lax_fn, name: str, doc: str):
    def fn(x: Any, /):
        (x,) = promote_dtypes_inexact(name, x)
        return lax_fn(x)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return compiled_when_eager(fn)


def _binary(lax_fn, name: str, doc: str, promote=promote_args):
    def fn(x: Any, y: Any, /):
        x, y = promote(name, x, y)
        return lax_fn(x, y)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return compiled_when_eager(fn)


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

true_divide = _binary(lax.div, "true_divide", "x / y; ints promote to float.",
                      promote_args_inexact)
divide = true_divide
arctan2 = _binary(lax.atan2, "arctan2", "Elementwise arctangent of x1/x2 using both signs.",
                  promote_args_inexact)
atan2 = arctan2
nextafter = _binary(lax.nextafter, "nextafter", "Next float after x toward y.",
                    promote_args_inexact)
float_power = _binary(lax.pow, "float_power", "x ** y computed in floating point.",
                      promote_args_inexact)
equal = _binary(lax.eq, "equal", "x == y elementwise.")
not_equal = _binary(lax.ne, "not_equal", "x != y elementwise.")
less = _binary(lax.lt, "less", "x < y elementwise.")
less_equal = _binary(lax.le, "less_equal", "x <= y elementwise.")
greater = _binary(lax.gt, "greater", "x > y elementwise.")
greater_equal = _binary(lax.ge, "greater_equal", "x >= y elementwise.")
bitwise_and = _binary(lax.bitwise_and, "bitwise_and", "Bitwise (or logical for bool) AND.")
bitwise_or = _binary(lax.bitwise_or, "bitwise_or", "Bitwise (or logical for bool) OR.")
bitwise_xor = _binary(lax.bitwise_xor, "bitwise_xor", "Bitwise (or logical for bool) XOR.")
left_shift = _binary(lax.shift_left, "left_shift", "x << y (bools shift as int32).",
                     promote_args_numeric)
maximum = _binary(lax.max, "maximum", "Elementwise maximum; NaN propagates.")
minimum = _binary(lax.min, "minimum", "Elementwise minimum; NaN propagates.")


@compiled_when_eager
def add(x, y, /):
    """x + y with broadcasting (bool: logical or)."""
    x, y = promote_args("add", x, y)
    return lax.bitwise_or(x, y) if _dtype(x) == np.bool_ else lax.add(x, y)


@compiled_when_eager
def multiply(x, y, /):
    """x * y with broadcasting (bool: logical and)."""
    x, y = promote_args("multiply", x, y)
    return lax.bitwise_and(x, y) if _dtype(x) == np.bool_ else lax.mul(x, y)


@compiled_when_eager
def subtract(x, y, /):
    """x - y with broadcasting (not defined for bool)."""
    x, y = promote_args("subtract", x, y)
    if _dtype(x) == np.bool_:
        raise TypeError("subtract: boolean subtract is not supported, use bitwise_xor or "
                        "logical_xor instead")
    return lax.sub(x, y)


def right_shift(x, y, /):
    """x >> y (arithmetic for signed, logical for unsigned integers; bools as int32)."""
    x, y = promote_args_numeric("right_shift", x, y)
    if dtypes.is_unsigned(_dtype(x)):
        return lax.shift_right_logical(x, y)
    return lax.shift_right_arithmetic(x, y)


def invert(x, /):
    """Bitwise NOT (logical NOT for bool)."""
    (x,) = promote_dtypes("invert", x)
    return lax.bitwise_not(x)


bitwise_not = bitwise_invert = invert


def _to_bool(x):
    return x if _dtype(x) == np.bool_ else lax.ne(x, _const(x, 0))


def logical_not(x, /):
    """Elementwise NOT of the truth value of x."""
    (x,) = promote_dtypes("logical_not", x)
    return lax.bitwise_not(_to_bool(x))


def _logical(name, lax_fn):
    def fn(x, y, /):
        x, y = promote_args(name, x, y)
        return lax_fn(_to_bool(x), _to_bool(y))
    fn.__name__ = name
    fn.__doc__ = f"Elementwise {name.split('_')[1].upper()} of the truth values of x and y."
    return fn


logical_and = _logical("logical_and", lax.bitwise_and)
logical_or = _logical("logical_or", lax.bitwise_or)
logical_xor = _logical("logical_xor", lax.bitwise_xor)


def negative(x, /):
    """-x elementwise (not defined for bool)."""
    (x,) = promote_dtypes("negative", x)
    if _dtype(x) == np.bool_:
        raise TypeError("negative: the numpy boolean negative is not supported; use "
                        "logical_not")
    return lax.neg(x)


def positive(x, /):
    """+x: ``x`` as an array."""
    (x,) = promote_dtypes("positive", x)
    return _as_array(x)


def absolute(x, /):
    """|x| elementwise (a no-op for bool and unsigned ints)."""
    (x,) = promote_dtypes("absolute", x)
    dt = _dtype(x)
    if dt == np.bool_ or dtypes.is_unsigned(dt):
        return _as_array(x)
    return lax.abs(x)


abs = absolute


def fabs(x, /):
    """|x| as a float (not defined for complex)."""
    check_arraylike("fabs", x)
    if dtypes.is_complex(get_aval(x).dtype):
        raise TypeError("fabs does not support complex dtypes")
    (x,) = promote_dtypes_inexact("fabs", x)
    return lax.abs(x)


def sign(x, /):
    """-1, 0 or 1 elementwise (not defined for bool)."""
    (x,) = promote_dtypes("sign", x)
    dt = _dtype(x)
    if dt == np.bool_:
        raise TypeError("sign does not accept dtype bool")
    if dtypes.is_unsigned(dt):
        return lax.convert_element_type(lax.ne(x, _const(x, 0, False)), dt,
                                        weak_type=get_aval(x).weak_type)
    return lax.sign(x)


def floor(x, /):
    """Largest integer <= x (ints and bools are returned unchanged)."""
    (x,) = promote_dtypes("floor", x)
    return lax.floor(x) if dtypes.is_inexact(_dtype(x)) else _as_array(x)


def ceil(x, /):
    """Smallest integer >= x (ints and bools are returned unchanged)."""
    (x,) = promote_dtypes("ceil", x)
    return lax.ceil(x) if dtypes.is_inexact(_dtype(x)) else _as_array(x)


def trunc(x, /):
    """Round toward zero (ints and bools are returned unchanged)."""
    (x,) = promote_dtypes("trunc", x)
    if not dtypes.is_inexact(_dtype(x)):
        return _as_array(x)
    return lax.select(lax.lt(x, _const(x, 0)), lax.ceil(x), lax.floor(x))


fix = trunc


def rint(x, /):
    """Round to the nearest integer, ties to even; ints and bools become float."""
    (x,) = promote_dtypes("rint", x)
    dt = _dtype(x)
    if not dtypes.is_inexact(dt):
        return lax.convert_element_type(x, dtypes.default_float_dtype())
    if dtypes.is_complex(dt):
        return lax.complex(rint(lax.real(x)), rint(lax.imag(x)))
    return lax.round(x, lax.RoundingMethod.TO_NEAREST_EVEN)


def round(a, decimals: int = 0, out=None):
    """Round to ``decimals`` decimal places, ties to even (as NumPy). Integer arrays are
    returned unchanged (negative ``decimals`` are not supported for them, as in JAX)."""
    if out is not None:
        raise NotImplementedError("round: the `out` argument is not supported (arrays are "
                                  "immutable)")
    decimals = _static_int("round", "decimals", decimals)
    (a,) = promote_dtypes("round", a)
    dt = _dtype(a)
    if dt == np.bool_:
        raise TypeError("round: bool arrays are not supported")
    if dtypes.is_int(dt):
        if decimals < 0:
            raise NotImplementedError("round: integer round with decimals < 0 is not "
                                      "supported")
        return _as_array(a)
    if decimals > np.log10(float(dtypes.finfo(dt).max)):
        return _as_array(a)  # more digits than the type holds

    def round_real(x):
        if decimals == 0:
            return lax.round(x, lax.RoundingMethod.TO_NEAREST_EVEN)
        xd = _dtype(x)
        if xd == np.float16:  # scale in float32, as the scaled value may overflow
            x = lax.convert_element_type(x, np.float32)
        factor = _const(x, 10.0 ** decimals)
        r = lax.div(lax.round(lax.mul(x, factor), lax.RoundingMethod.TO_NEAREST_EVEN), factor)
        return lax.convert_element_type(r, xd) if xd == np.float16 else r

    if dtypes.is_complex(dt):
        return lax.complex(round_real(lax.real(a)), round_real(lax.imag(a)))
    return round_real(a)


around = round


def _static_int(fn: str, what: str, value) -> int:
    if is_traced(value):
        raise TypeError(f"{fn}: `{what}` must be a concrete integer, got a traced value")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{fn}: `{what}` must be an integer, got {value!r}") from None


def square(x, /):
    """x * x elementwise (bools square as int32)."""
    (x,) = promote_dtypes_numeric("square", x)
    return lax.integer_pow(x, 2)


def reciprocal(x, /):
    """1 / x elementwise, in floating point."""
    (x,) = promote_dtypes_inexact("reciprocal", x)
    return lax.integer_pow(x, -1)


def _int_divisor(y):
    """Integer divisors of 0 replaced by 1 (so x % 0 is 0, as in JAX)."""
    if type(y) is TypedScalar:
        return y if y.value != 0 else TypedScalar(1, y.dtype, y.weak_type)
    return lax.select(lax.eq(y, _const(y, 0, False)), lax.full_like(y, 1), y)


def floor_divide(x, y, /):
    """x // y, rounding toward negative infinity (Python/NumPy semantics)."""
    x, y = promote_args_numeric("floor_divide", x, y)
    dt = _dtype(x)
    if dtypes.is_complex(dt):
        raise TypeError("floor_divide does not support complex inputs")
    if dtypes.is_unsigned(dt):
        return lax.div(x, y)
    if dtypes.is_int(dt):
        # C division truncates; step down where the signs differ and it was not exact.
        q = lax.div(x, y)
        fix_ = lax.bitwise_and(lax.ne(lax.sign(x), lax.sign(y)),
                               lax.ne(lax.rem(x, y), _const(x, 0, False)))
        q, q1 = _same_shape(q, lax.sub(q, _const(q, 1, True)))
        return lax.select(_bcast_to(fix_, q), q1, q)
    return _float_divmod(x, y)[0]


def _same_shape(*xs):
    shape = broadcast_shapes(*[shape_of(x) for x in xs])
    return [broadcast_to_shape(x, shape) for x in xs]


def _bcast_to(x, like):
    return broadcast_to_shape(x, shape_of(like)) if shape_of(x) != shape_of(like) else x


def _float_divmod(x, y):
    # Python's float divmod: the quotient is exact-rounded from (x - mod) / y.
    mod = lax.rem(x, y)
    x, y, mod = _same_shape(x, y, mod)
    x_corr = lax.select(lax.eq(y, _const(y, 0, False)), x, lax.sub(x, mod))
    div = lax.div(x_corr, y)
    ind = lax.bitwise_and(lax.ne(mod, _const(mod, 0, False)),
                          lax.ne(lax.sign(y), lax.sign(mod)))
    mod = lax.select(ind, lax.add(mod, y), mod)
    div = lax.select(ind, lax.sub(div, _const(div, 1.0, True)), div)
    return lax.round(div, lax.RoundingMethod.AWAY_FROM_ZERO), mod


def remainder(x, y, /):
    """x % y with the sign of y (Python/NumPy semantics); integer x % 0 is 0."""
    x, y = promote_args_numeric("remainder", x, y)
    if dtypes.is_int(_dtype(y)):
        y = _int_divisor(y)
    r = lax.rem(x, y)
    zero = _const(r, 0, False)
    do_plus = lax.bitwise_and(lax.ne(lax.lt(r, zero), lax.lt(y, zero)), lax.ne(r, zero))
    r, ry = _same_shape(r, lax.add(r, y))
    return lax.select(_bcast_to(do_plus, r), ry, r)


mod = remainder


def fmod(x, y, /):
    """C-style remainder with the sign of x; integer x % 0 is 0."""
    int_args = dtypes.is_int(dtypes.result_type(x, y))  # (bools are not, as in JAX)
    x, y = promote_args_numeric("fmod", x, y)
    if int_args:
        y = _int_divisor(y)
    return lax.rem(x, y)


def divmod(x, y, /):
    """``(floor_divide(x, y), remainder(x, y))``."""
    x, y = promote_args_numeric("divmod", x, y)
    if dtypes.is_int(_dtype(x)):
        return floor_divide(x, y), remainder(x, y)
    return _float_divmod(x, y)


def _concrete_int_exponent(y):
    """The value of a concrete integer scalar exponent (Python int or bool, NumPy integer,
    0-d integer array that is not traced), else None."""
    if type(y) in (int, bool):
        return int(y)
    if isinstance(y, np.integer):
        return int(y)
    if is_traced(y) or type(y) is TypedScalar:
        return None
    if (isinstance(y, np.ndarray) or hasattr(y, "aval")) and get_aval(y).ndim == 0 \
            and dtypes.is_int(get_aval(y).dtype):
        return int(np.asarray(y))
    return None


def power(x, y, /):
    """x ** y with broadcasting. A concrete integer exponent uses repeated multiplication
    in x's own dtype; integer powers of integers stay integer; a floating base with an
    integer array exponent keeps the base's dtype."""
    check_arraylike("power", x, y)
    n = _concrete_int_exponent(y)
    if n is not None:
        (x,) = promote_dtypes_numeric("power", x)
        return lax.integer_pow(x, n)
    xs, ys = promote_shapes("power", x, y)
    xn, yn = promote_dtypes_numeric("power", xs, ys)
    if dtypes.is_int(_dtype(xn)):
        return _pow_int_int(xn, yn)
    d1, d2 = get_aval(x).dtype, get_aval(y).dtype
    if dtypes.is_inexact(d1) and dtypes.is_int(d2):
        # Base dtype is kept (no promotion with the exponent), as jnp does.
        (xs,) = promote_dtypes("power", xs)
        work = np.dtype(np.float32) if d1.itemsize == 2 else d1
        xw = lax.convert_element_type(xs, work, weak_type=get_aval(xs).weak_type)
        yw = lax.convert_element_type(ys, work, weak_type=get_aval(ys).weak_type)
        out = lax.pow(xw, yw)
        return lax.convert_element_type(out, d1, weak_type=get_aval(out).weak_type) \
            if work != d1 else out
    return lax.pow(xn, yn)


pow = power


def _pow_int_int(x, y):
    # Square-and-multiply over the low 6 bits of the exponent, as JAX does (larger
    # exponents overflow every base except -1, 0 and 1, which this handles). The result
    # is strongly typed, as in JAX.
    x, y = _same_shape(x, y)
    dt, shape = _dtype(x), shape_of(x)
    zero, one = _const(x, 0, False), _const(x, 1, False)
    acc = lax.select(lax.bitwise_and(lax.eq(x, zero), lax.ne(y, zero)),
                     lax.full(shape, 0, dt), lax.full(shape, 1, dt))
    for _ in range(6):
        acc = lax.select(lax.ne(lax.bitwise_and(y, one), zero), lax.mul(acc, x), acc)
        x = lax.mul(x, x)
        y = lax.shift_right_logical(y, one)
    return acc


def fmax(x, y, /):
    """Elementwise maximum ignoring NaNs."""
    return where(logical_or(greater(x, y), isnan(y)), x, y)


def fmin(x, y, /):
    """Elementwise minimum ignoring NaNs."""
    return where(logical_or(less(x, y), isnan(y)), x, y)


def isfinite(x, /):
    """Neither infinite nor NaN (always true for ints and bools)."""
    (x,) = promote_dtypes("isfinite", x)
    dt = _dtype(x)
    if dtypes.is_complex(dt):
        return lax.bitwise_and(lax.is_finite(lax.real(x)), lax.is_finite(lax.imag(x)))
    if not dtypes.is_float(dt):
        return lax.full(shape_of(x), True, np.bool_)
    return lax.is_finite(x)


def isinf(x, /):
    """Positive or negative infinity (always false for ints and bools)."""
    (x,) = promote_dtypes("isinf", x)
    dt = _dtype(x)
    if dtypes.is_complex(dt):
        return logical_or(isinf(lax.real(x)), isinf(lax.imag(x)))
    if not dtypes.is_float(dt):
        return lax.full(shape_of(x), False, np.bool_)
    return lax.eq(lax.abs(x), _const(x, float("inf")))


def _isposneginf(name, x, value):
    (x,) = promote_dtypes(name, x)
    dt = _dtype(x)
    if dtypes.is_complex(dt):
        raise ValueError(f"{name} is not well defined for complex types")
    if dtypes.is_float(dt):
        return lax.eq(x, _const(x, value))
    return lax.full(shape_of(x), False, np.bool_)


def isposinf(x, /):
    """Equal to +inf."""
    return _isposneginf("isposinf", x, float("inf"))


def isneginf(x, /):
    """Equal to -inf."""
    return _isposneginf("isneginf", x, float("-inf"))


def isnan(x, /):
    """Not a number (always false for ints and bools)."""
    (x,) = promote_dtypes("isnan", x)
    if not dtypes.is_inexact(_dtype(x)):
        return lax.full(shape_of(x), False, np.bool_)
    return lax.ne(x, x)


def signbit(x, /):
    """Whether the sign bit is set (so -0.0 and -nan count as negative)."""
    (x,) = promote_dtypes("signbit", x)
    dt = _dtype(x)
    if dtypes.is_unsigned(dt) or dt == np.bool_:
        return lax.full(shape_of(x), False, np.bool_)
    if dtypes.is_int(dt):
        return lax.lt(x, _const(x, 0))
    if dtypes.is_complex(dt):
        raise ValueError("signbit is not well defined for complex types")
    bits = {2: np.int16, 4: np.int32, 8: np.int64}[dt.itemsize]
    return lax.lt(lax.bitcast_convert_type(x, bits), TypedScalar(0, bits, False))


def copysign(x, y, /):
    """|x| with the sign of y."""
    x, y = promote_args_inexact("copysign", x, y)
    if dtypes.is_complex(_dtype(x)):
        raise TypeError("copysign does not support complex-valued inputs")
    return where(signbit(y), lax.neg(lax.abs(x)), lax.abs(x))


def logaddexp(x, y, /):
    """log(exp(x) + exp(y)) without overflow."""
    x, y = promote_args_inexact("logaddexp", x, y)
    if not dtypes.is_float(_dtype(x)):
        raise NotImplementedError("logaddexp of complex inputs is not supported")
    amax = lax.max(x, y)
    delta = lax.sub(x, y)
    # min - max rather than -|x - y|: at a tie max and min each pass half of the tangent
    # to either input, which gives the true derivative 1/2 (abs's 1 at 0 would not).
    out = lax.add(amax, lax.log1p(lax.exp(lax.sub(lax.min(x, y), amax))))
    nan_case, out = _same_shape(lax.add(x, y), out)
    return lax.select(_bcast_to(lax.ne(delta, delta), out), nan_case, out)


def logaddexp2(x, y, /):
    """log2(2**x + 2**y) without overflow."""
    x, y = promote_args_inexact("logaddexp2", x, y)
    if not dtypes.is_float(_dtype(x)):
        raise NotImplementedError("logaddexp2 of complex inputs is not supported")
    amax = lax.max(x, y)
    delta = lax.sub(x, y)
    inv_ln2 = _const(amax, 1 / np.log(2))
    out = lax.add(amax, lax.mul(inv_ln2, lax.log1p(lax.exp2(lax.sub(lax.min(x, y), amax)))))
    nan_case, out = _same_shape(lax.add(x, y), out)
    return lax.select(_bcast_to(lax.ne(delta, delta), out), nan_case, out)


def log2(x, /):
    """Base-2 logarithm."""
    (x,) = promote_dtypes_inexact("log2", x)
    return lax.div(lax.log(x), lax.log(_const(x, 2, False)))


def log10(x, /):
    """Base-10 logarithm."""
    (x,) = promote_dtypes_inexact("log10", x)
    return lax.mul(lax.log(x), _const(x, 0.4342944819032518, False))


def hypot(x, y, /):
    """sqrt(x**2 + y**2) without intermediate overflow; inf if either is infinite."""
    x, y = promote_args_inexact("hypot", x, y)
    if dtypes.is_complex(_dtype(x)):
        raise ValueError("hypot is not defined for complex inputs; pass abs(x) instead")
    x, y = _same_shape(lax.abs(x), lax.abs(y))
    is_inf = lax.bitwise_or(isposinf(x), isposinf(y))
    big, small = lax.max(x, y), lax.min(x, y)
    zero = lax.eq(big, _const(big, 0, False))
    ratio = lax.div(small, lax.select(zero, lax.full_like(big, 1), big))
    out = where(zero, big, lax.mul(big, lax.sqrt(lax.add(_const(big, 1, True),
                                                         lax.integer_pow(ratio, 2)))))
    return where(is_inf, _const(out, np.inf), out)


def deg2rad(x, /):
    """Degrees to radians."""
    (x,) = promote_dtypes_inexact("deg2rad", x)
    return lax.mul(x, _const(x, np.pi / 180))


def rad2deg(x, /):
    """Radians to degrees."""
    (x,) = promote_dtypes_inexact("rad2deg", x)
    return lax.mul(x, _const(x, 180 / np.pi))


radians, degrees = deg2rad, rad2deg


def sinc(x, /):
    """sin(pi x) / (pi x), with sinc(0) = 1."""
    (x,) = promote_dtypes_inexact("sinc", x)
    is_zero = lax.eq(x, _const(x, 0, False))
    pix = lax.mul(_const(x, np.pi), x)
    safe = where(is_zero, _const(x, 1), pix)
    one = lax.add(lax.mul(pix, _const(x, 0, True)), _const(x, 1))
    return where(is_zero, one, lax.div(lax.sin(safe), safe))


def heaviside(x1, x2, /):
    """0 where x1 < 0, x2 where x1 == 0, 1 where x1 > 0 (NaN where x1 is NaN)."""
    x1, x2 = promote_dtypes_inexact("heaviside", x1, x2)
    zero = _const(x1, 0)
    return where(lax.lt(x1, zero), zero,
                 where(lax.gt(x1, zero), _const(x1, 1), where(lax.ne(x1, x1), x1, x2)))


def real(x, /):
    """Real part (the input itself for real dtypes)."""
    (x,) = promote_dtypes("real", x)
    return lax.real(x) if dtypes.is_complex(_dtype(x)) else _as_array(x)


def imag(x, /):
    """Imaginary part (zeros for real dtypes)."""
    (x,) = promote_dtypes("imag", x)
    return lax.imag(x) if dtypes.is_complex(_dtype(x)) else lax.full_like(x, 0)


def conjugate(x, /):
    """Complex conjugate (the input itself for real dtypes)."""
    (x,) = promote_dtypes("conjugate", x)
    return lax.conj(x) if dtypes.is_complex(_dtype(x)) else _as_array(x)


conj = conjugate


def where(condition, x=None, y=None, /, *, size=None, fill_value=None):
    """``x`` where ``condition`` else ``y``, broadcasting all three (a non-bool condition
    counts as ``condition != 0``). With ``condition`` alone it is ``nonzero(condition,
    size=size, fill_value=fill_value)``."""
    if x is None and y is None:
        # (imported here: sequences builds on this module)
        from functorch_lite.numpy.sequences import nonzero
        return nonzero(condition, size=size, fill_value=fill_value)
    if x is None or y is None:
        raise ValueError("Either both or neither of the x and y arguments should be "
                         "provided to where.")
    check_arraylike("where", condition, x, y)
    (condition,) = promote_dtypes("where", condition)
    condition = _to_bool(condition)
    x, y = promote_dtypes("where", x, y)
    cshape = shape_of(condition)
    shape = broadcast_shapes(cshape, shape_of(x), shape_of(y), name="where")
    x = broadcast_to_shape(x, shape, "where")
    y = broadcast_to_shape(y, shape, "where")
    if cshape and cshape != shape:
        condition = broadcast_to_shape(condition, shape, "where")
    return lax.select(condition, x, y)


def clip(a, a_min=None, a_max=None, /, *, min=None, max=None):
    """Limit values to [min, max] (either bound may be None; bounds broadcast)."""
    lo = min if min is not None else a_min
    hi = max if max is not None else a_max
    check_arraylike("clip", a)
    for v in (a, lo, hi):
        if v is not None and dtypes.is_complex(get_aval(v).dtype):
            raise ValueError("clip: complex values have no ordering and cannot be clipped")
    if lo is not None:
        a = maximum(lo, a)
    if hi is not None:
        a = minimum(hi, a)
    return _as_array(a)


# The public names are the functions defined here (helpers imported from elsewhere stay out
# of ``functorch_lite.numpy``'s namespace).
__all__ = [_n for _n, _v in list(globals().items()) if not _n.startswith("_")
           and callable(_v) and getattr(_v, "__module__", None) == __name__]
