"""Elementwise primitives: unary math, binary arithmetic, comparisons, select_n, clamp,
integer_pow and convert_element_type.

Binary primitives take operands of one dtype and equal shapes, except that a rank-0
operand broadcasts against the other (so ``x + 1.0`` stages as ``add x 1.0``).
The jvp, transpose and batching rules of each primitive are added beside it by the
autodiff and vmap layers' issues; shape rules are here.
"""
from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np

from functorch_lite.core import dtypes
from functorch_lite.core.avals import ShapedArray, get_aval
from functorch_lite.core.primitive import Primitive
from functorch_lite.lax._common import (as_operand, check_dtype, is_python_scalar, match_scalars,
                                        shape_str)

# dtype categories (see _common.check_dtype)
ANY = "biufc"
NUM = "iufc"
INT = "iu"
INT_BOOL = "biu"
FLOAT = "fc"
REAL_FLOAT = "f"
REAL_NUM = "iuf"


# ---------------------------------------------------------------------------------------
# unary

def _unary_shape(name, kinds, out_dtype, aval, **params):
    check_dtype(name, aval, kinds)
    dt = out_dtype(aval.dtype) if out_dtype else aval.dtype
    return ShapedArray(aval.shape, dt, aval.weak_type and dt != np.bool_)  # bool is never weak


def unary(name: str, kinds: str, out_dtype=None) -> Primitive:
    p = Primitive(name)
    p.def_shape(partial(_unary_shape, name, kinds, out_dtype))
    return p


def _real_dtype(dt):
    return np.dtype(np.float32) if dt == np.complex64 else \
        np.dtype(np.float64) if dt == np.complex128 else dt


neg_p = unary("neg", NUM)
abs_p = unary("abs", NUM, out_dtype=_real_dtype)
sign_p = unary("sign", NUM)
floor_p = unary("floor", REAL_FLOAT)
ceil_p = unary("ceil", REAL_FLOAT)
round_p = unary("round", REAL_FLOAT)  # params: rounding_method (0 away from zero, 1 to even)
is_finite_p = unary("is_finite", REAL_FLOAT, out_dtype=lambda dt: np.dtype(np.bool_))
exp_p = unary("exp", FLOAT)
exp2_p = unary("exp2", FLOAT)
log_p = unary("log", FLOAT)
log1p_p = unary("log1p", FLOAT)
expm1_p = unary("expm1", FLOAT)
sqrt_p = unary("sqrt", FLOAT)
rsqrt_p = unary("rsqrt", FLOAT)
cbrt_p = unary("cbrt", REAL_FLOAT)
sin_p = unary("sin", FLOAT)
cos_p = unary("cos", FLOAT)
tan_p = unary("tan", FLOAT)
asin_p = unary("asin", FLOAT)
acos_p = unary("acos", FLOAT)
atan_p = unary("atan", FLOAT)
sinh_p = unary("sinh", FLOAT)
cosh_p = unary("cosh", FLOAT)
tanh_p = unary("tanh", FLOAT)
asinh_p = unary("asinh", FLOAT)
acosh_p = unary("acosh", FLOAT)
atanh_p = unary("atanh", FLOAT)
logistic_p = unary("logistic", FLOAT)
erf_p = unary("erf", REAL_FLOAT)
erfc_p = unary("erfc", REAL_FLOAT)
erf_inv_p = unary("erf_inv", REAL_FLOAT)
lgamma_p = unary("lgamma", REAL_FLOAT)
digamma_p = unary("digamma", REAL_FLOAT)
not_p = unary("not", INT_BOOL)
population_count_p = unary("population_count", INT)
real_p = unary("real", "c", out_dtype=_real_dtype)
imag_p = unary("imag", "c", out_dtype=_real_dtype)
conj_p = unary("conj", "c")


def _unary_fn(p: Primitive, doc: str):
    def fn(x: Any):
        return p.bind(as_operand(x))
    fn.__name__ = p.name
    fn.__doc__ = doc
    return fn


neg = _unary_fn(neg_p, "Elementwise negation: ``-x``.")
abs = _unary_fn(abs_p, "Elementwise absolute value (complex input gives its real magnitude).")
sign = _unary_fn(sign_p, "Elementwise sign: -1, 0 or 1 (``x/|x|`` for complex).")
floor = _unary_fn(floor_p, "Elementwise floor of a floating-point array.")
ceil = _unary_fn(ceil_p, "Elementwise ceiling of a floating-point array.")
is_finite = _unary_fn(is_finite_p, "True where ``x`` is neither infinite nor NaN.")
exp = _unary_fn(exp_p, "Elementwise e**x.")
exp2 = _unary_fn(exp2_p, "Elementwise 2**x.")
log = _unary_fn(log_p, "Elementwise natural logarithm.")
log1p = _unary_fn(log1p_p, "Elementwise log(1 + x), accurate near 0.")
expm1 = _unary_fn(expm1_p, "Elementwise exp(x) - 1, accurate near 0.")
sqrt = _unary_fn(sqrt_p, "Elementwise square root.")
rsqrt = _unary_fn(rsqrt_p, "Elementwise 1/sqrt(x).")
cbrt = _unary_fn(cbrt_p, "Elementwise cube root.")
sin = _unary_fn(sin_p, "Elementwise sine.")
cos = _unary_fn(cos_p, "Elementwise cosine.")
tan = _unary_fn(tan_p, "Elementwise tangent.")
asin = _unary_fn(asin_p, "Elementwise arcsine.")
acos = _unary_fn(acos_p, "Elementwise arccosine.")
atan = _unary_fn(atan_p, "Elementwise arctangent.")
sinh = _unary_fn(sinh_p, "Elementwise hyperbolic sine.")
cosh = _unary_fn(cosh_p, "Elementwise hyperbolic cosine.")
tanh = _unary_fn(tanh_p, "Elementwise hyperbolic tangent.")
asinh = _unary_fn(asinh_p, "Elementwise inverse hyperbolic sine.")
acosh = _unary_fn(acosh_p, "Elementwise inverse hyperbolic cosine.")
atanh = _unary_fn(atanh_p, "Elementwise inverse hyperbolic tangent.")
logistic = _unary_fn(logistic_p, "Elementwise logistic sigmoid 1/(1+exp(-x)).")
erf = _unary_fn(erf_p, "Elementwise error function.")
erfc = _unary_fn(erfc_p, "Elementwise complementary error function 1 - erf(x).")
erf_inv = _unary_fn(erf_inv_p, "Elementwise inverse error function.")
lgamma = _unary_fn(lgamma_p, "Elementwise log|Gamma(x)|.")
digamma = _unary_fn(digamma_p, "Elementwise digamma (derivative of lgamma).")
bitwise_not = _unary_fn(not_p, "Elementwise logical (bool) or bitwise (integer) NOT.")
population_count = _unary_fn(population_count_p, "Number of set bits of each integer.")
real = _unary_fn(real_p, "Real part of a complex array.")
imag = _unary_fn(imag_p, "Imaginary part of a complex array.")
conj = _unary_fn(conj_p, "Complex conjugate.")


class RoundingMethod:
    AWAY_FROM_ZERO = 0
    TO_NEAREST_EVEN = 1


def round(x: Any, rounding_method: int = RoundingMethod.AWAY_FROM_ZERO):
    """Round to the nearest integer; ties away from zero (default) or to even."""
    return round_p.bind(as_operand(x), rounding_method=int(rounding_method))


# ---------------------------------------------------------------------------------------
# binary

def _broadcast_shapes(name: str, *avals: ShapedArray) -> tuple[int, ...]:
    shapes = {a.shape for a in avals if a.ndim}
    if len(shapes) > 1:
        raise TypeError(f"{name} got incompatible shapes "
                        + " and ".join(shape_str(a.shape) for a in avals)
                        + " (lax operations need equal shapes or a rank-0 operand; "
                        "functorch_lite.numpy broadcasts)")
    return shapes.pop() if shapes else ()


def _binary_shape(name, kinds, out_bool, x, y, **params):
    if x.dtype != y.dtype:
        raise TypeError(f"{name} requires arguments of the same dtype, got "
                        f"{dtypes.to_numpy_dtype_name(x.dtype)} and "
                        f"{dtypes.to_numpy_dtype_name(y.dtype)} (functorch_lite.numpy "
                        "promotes dtypes automatically)")
    check_dtype(name, x, kinds)
    shape = _broadcast_shapes(name, x, y)
    if out_bool:
        return ShapedArray(shape, np.bool_, False)
    return ShapedArray(shape, x.dtype, x.weak_type and y.weak_type and x.dtype != np.bool_)


def binary(name: str, kinds: str, out_bool: bool = False) -> Primitive:
    p = Primitive(name)
    p.def_shape(partial(_binary_shape, name, kinds, out_bool))
    return p


add_p = binary("add", NUM)
sub_p = binary("sub", NUM)
mul_p = binary("mul", NUM)
div_p = binary("div", NUM)
rem_p = binary("rem", REAL_NUM)
pow_p = binary("pow", FLOAT)
max_p = binary("max", ANY)
min_p = binary("min", ANY)
atan2_p = binary("atan2", REAL_FLOAT)
nextafter_p = binary("nextafter", REAL_FLOAT)
and_p = binary("and", INT_BOOL)
or_p = binary("or", INT_BOOL)
xor_p = binary("xor", INT_BOOL)
shift_left_p = binary("shift_left", INT)
shift_right_arithmetic_p = binary("shift_right_arithmetic", INT)
shift_right_logical_p = binary("shift_right_logical", INT)
eq_p = binary("eq", ANY, out_bool=True)
ne_p = binary("ne", ANY, out_bool=True)
lt_p = binary("lt", "biuf", out_bool=True)
le_p = binary("le", "biuf", out_bool=True)
gt_p = binary("gt", "biuf", out_bool=True)
ge_p = binary("ge", "biuf", out_bool=True)
complex_p = Primitive("complex")


@complex_p.def_shape
def _complex_shape(x, y):
    if x.dtype != y.dtype or x.dtype not in (np.float32, np.float64):
        raise TypeError(f"complex requires two float32 or two float64 arrays, got "
                        f"{x.dtype} and {y.dtype}")
    return ShapedArray(_broadcast_shapes("complex", x, y),
                       np.complex64 if x.dtype == np.float32 else np.complex128,
                       x.weak_type and y.weak_type)


for _p in (eq_p, ne_p, lt_p, le_p, gt_p, ge_p):
    _p.non_differentiable = True


def _binary_fn(p: Primitive, doc: str):
    def fn(x: Any, y: Any):
        x, y = match_scalars(p.name, (x, y))
        return p.bind(x, y)
    fn.__name__ = p.name
    fn.__doc__ = doc
    return fn


add = _binary_fn(add_p, "Elementwise x + y (same dtypes; rank-0 operands broadcast).")
sub = _binary_fn(sub_p, "Elementwise x - y.")
mul = _binary_fn(mul_p, "Elementwise x * y.")
div = _binary_fn(div_p, "Elementwise x / y; integer division rounds toward zero (as C).")
rem = _binary_fn(rem_p, "Elementwise remainder with the sign of x (as C's fmod).")
pow = _binary_fn(pow_p, "Elementwise x ** y for floating x and y.")
max = _binary_fn(max_p, "Elementwise maximum (NaN-propagating for floats).")
min = _binary_fn(min_p, "Elementwise minimum (NaN-propagating for floats).")
atan2 = _binary_fn(atan2_p, "Elementwise arctangent of x/y using both signs.")
nextafter = _binary_fn(nextafter_p, "The next representable value after x toward y.")
bitwise_and = _binary_fn(and_p, "Elementwise AND (logical for bool, bitwise for integers).")
bitwise_or = _binary_fn(or_p, "Elementwise OR.")
bitwise_xor = _binary_fn(xor_p, "Elementwise XOR.")
shift_left = _binary_fn(shift_left_p, "x << y.")
shift_right_arithmetic = _binary_fn(shift_right_arithmetic_p, "x >> y, sign-extending.")
shift_right_logical = _binary_fn(shift_right_logical_p, "x >> y, zero-filling.")
eq = _binary_fn(eq_p, "Elementwise x == y (bool result).")
ne = _binary_fn(ne_p, "Elementwise x != y.")
lt = _binary_fn(lt_p, "Elementwise x < y.")
le = _binary_fn(le_p, "Elementwise x <= y.")
gt = _binary_fn(gt_p, "Elementwise x > y.")
ge = _binary_fn(ge_p, "Elementwise x >= y.")


def complex(x: Any, y: Any):
    """``x + i*y`` from two real arrays."""
    x, y = match_scalars("complex", (x, y))
    return complex_p.bind(x, y)


# ---------------------------------------------------------------------------------------
# integer_pow, select_n, clamp, convert_element_type

integer_pow_p = Primitive("integer_pow")


@integer_pow_p.def_shape
def _integer_pow_shape(x, *, y):
    check_dtype("integer_pow", x, NUM)
    if y < 0 and dtypes.is_int(x.dtype):
        raise TypeError(f"integer_pow: negative exponent {y} needs a floating-point base, "
                        f"got {x.dtype}")
    return x


def integer_pow(x: Any, y: int):
    """``x ** y`` for a static Python integer exponent ``y`` (lowered as repeated products)."""
    if not isinstance(y, (int, np.integer)) or isinstance(y, bool):
        raise TypeError(f"integer_pow: exponent must be a Python int, got {y!r}")
    return integer_pow_p.bind(as_operand(x), y=int(y))


def square(x: Any):
    return integer_pow(x, 2)


def reciprocal(x: Any):
    return integer_pow(x, -1)


select_n_p = Primitive("select_n")


@select_n_p.def_shape
def _select_n_shape(which, *cases):
    if not cases:
        raise TypeError("select_n needs at least one case")
    first = cases[0]
    for c in cases[1:]:
        if c.shape != first.shape or c.dtype != first.dtype:
            raise TypeError("select_n cases must have equal shapes and dtypes, got "
                            + ", ".join(c.str_short() for c in cases))
    if which.dtype != np.bool_ and which.dtype != np.int32:
        raise TypeError(f"select_n: `which` must be bool or int32, got {which.dtype}")
    if which.dtype == np.bool_ and len(cases) > 2:
        raise TypeError(f"select_n: a bool `which` selects between 2 cases, got {len(cases)}")
    if which.shape and which.shape != first.shape:
        raise TypeError(f"select_n: `which` shape {which.shape} must be () or equal to the "
                        f"cases' shape {first.shape}")
    return ShapedArray(first.shape, first.dtype,
                       all(c.weak_type for c in cases) and first.dtype != np.bool_)


def select_n(which: Any, *cases: Any):
    """``cases[which]`` elementwise: ``which`` is bool (2 cases) or int32 (any number)."""
    cases = match_scalars("select_n", cases)
    return select_n_p.bind(as_operand(which), *cases)


def select(pred: Any, on_true: Any, on_false: Any):
    """``on_true`` where ``pred`` else ``on_false`` (JAX's lax.select)."""
    return select_n(pred, on_false, on_true)


clamp_p = Primitive("clamp")


@clamp_p.def_shape
def _clamp_shape(lo, x, hi):
    for name, a in (("min", lo), ("max", hi)):
        if a.dtype != x.dtype:
            raise TypeError(f"clamp requires {name} and operand of the same dtype, got "
                            f"{a.dtype} and {x.dtype}")
        if a.shape and a.shape != x.shape:
            raise TypeError(f"clamp: {name} shape {a.shape} must be () or the operand's "
                            f"{x.shape}")
    check_dtype("clamp", x, "iuf")
    return x


def clamp(min: Any, x: Any, max: Any):
    """``min(max(x, min), max)`` elementwise."""
    lo, x, hi = match_scalars("clamp", (min, x, max))
    return clamp_p.bind(lo, x, hi)


convert_element_type_p = Primitive("convert_element_type")


@convert_element_type_p.def_shape
def _convert_shape(x, *, new_dtype, weak_type):
    if new_dtype == dtypes.float0 or x.dtype == dtypes.float0:
        raise TypeError(f"convert_element_type cannot convert {x.dtype} to {new_dtype}: "
                        "float0 (the tangent type of integers) holds no values")
    return ShapedArray(x.shape, new_dtype, weak_type and new_dtype != np.bool_)


def convert_element_type(x: Any, new_dtype: Any, weak_type: bool = False):
    """Cast to ``new_dtype`` (float->int truncates toward zero; x->bool is x != 0)."""
    x = as_operand(x)
    new_dtype = dtypes.canonicalize_dtype(new_dtype)
    aval = get_aval(x)
    if aval.dtype == new_dtype and aval.weak_type == weak_type and not is_python_scalar(x):
        return x
    return convert_element_type_p.bind(x, new_dtype=new_dtype, weak_type=bool(weak_type))
