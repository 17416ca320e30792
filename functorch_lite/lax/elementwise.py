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
from functorch_lite.lax._common import check_same_dtypes as _check_same_dtypes
from functorch_lite.lax._common import operands as _operands

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
    # as JAX: each operand's dtype category first, then the two dtypes must be equal
    check_dtype(name, x, kinds)
    check_dtype(name, y, kinds)
    _check_same_dtypes(name, (x, y))
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
        # no promotion: the shape rule rejects mixed dtypes, as JAX's lax does
        return p.bind(*_operands((x, y)))
    fn.__name__ = p.name
    fn.__doc__ = doc
    return fn


add = _binary_fn(add_p, "Elementwise x + y (same dtypes; rank-0 operands broadcast).")
sub = _binary_fn(sub_p, "Elementwise x - y.")
mul = _binary_fn(mul_p, "Elementwise x * y.")
div = _binary_fn(div_p, "Elementwise x / y; integer division rounds toward zero (as C).")
rem = _binary_fn(rem_p, "Elementwise remainder with the sign of x (as C's fmod).")


def pow(x: Any, y: Any):
    """Elementwise ``x ** y`` for a floating or complex ``x``; ``y`` has ``x``'s dtype or
    any integer dtype (JAX's rule: ``pow(x_f32, 2)`` works, ``pow(x_f16, 2.0)`` does not)."""
    x, y = _operands((x, y))
    xa, ya = get_aval(x), get_aval(y)
    if dtypes.is_inexact(xa.dtype) and dtypes.is_int(ya.dtype):
        # pow_p takes equal dtypes: an integer exponent is exact in x's dtype for the
        # sizes that matter, and it has no derivative of its own
        y = convert_element_type(y, xa.dtype, ya.weak_type)
    return pow_p.bind(x, y)


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
    if not cases:
        raise TypeError("select_n needs at least one case")
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
    return x.update(weak_type=lo.weak_type and x.weak_type and hi.weak_type)


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


# ---------------------------------------------------------------------------------------
# Derivative rules (jvp, and transpose for the linear primitives)

from functorch_lite.interpreters import ad  # noqa: E402
from functorch_lite.interpreters.transpose import is_undefined  # noqa: E402


def _aval(x):
    return x.aval if is_undefined(x) else get_aval(x)


def _unbroadcast(aval: ShapedArray, ct):
    """Sum a cotangent down to a rank-0 operand's shape (lax broadcasts rank-0 operands)."""
    if ct is None or type(ct) is ad.Zero:
        return ct
    ct_shape = get_aval(ct).shape
    if aval.shape == ct_shape:
        return ct
    from functorch_lite.lax.reductions import reduce_sum
    return reduce_sum(ct, tuple(range(len(ct_shape))))


def _c(value, like):
    """A scalar constant with ``like``'s dtype (weak, so it never promotes)."""
    from functorch_lite.lax._common import scalar_like
    return scalar_like(value, get_aval(like).dtype)


for _p in (sign_p, floor_p, ceil_p, round_p, is_finite_p, not_p, population_count_p,
           nextafter_p, and_p, or_p, xor_p, shift_left_p, shift_right_arithmetic_p,
           shift_right_logical_p):
    ad.zero_jvp(_p)


def _full(like, value):
    from functorch_lite.lax.shapes import full_like
    return full_like(like, value)


def _abs_jvp(g, out, x):
    if dtypes.is_complex(get_aval(x).dtype):
        # d|x| = Re(conj(x) g) / |x|, taken as 0 at x == 0 (as JAX)
        safe = select(eq(out, _c(0, out)), _full(out, 1), out)
        return div(real(mul(conj(x), g)), safe)
    # slope +1 at x == 0, as JAX (not sign(0) == 0)
    return select(ge(x, _c(0, x)), g, neg(g))


ad.defjvp_with_output(abs_p, _abs_jvp)
ad.defjvp_with_output(exp_p, lambda g, out, x: mul(g, out))
ad.defjvp_with_output(exp2_p, lambda g, out, x: mul(g, mul(out, _c(np.log(2.0), out))))
ad.defjvp(log_p, lambda g, x: div(g, x))
ad.defjvp(log1p_p, lambda g, x: div(g, add(x, _c(1, x))))
ad.defjvp_with_output(expm1_p, lambda g, out, x: mul(g, add(out, _c(1, out))))
ad.defjvp_with_output(sqrt_p, lambda g, out, x: div(mul(g, _c(0.5, out)), out))
ad.defjvp_with_output(rsqrt_p, lambda g, out, x: mul(g, mul(_c(-0.5, out), div(out, x))))
ad.defjvp_with_output(cbrt_p, lambda g, out, x: mul(g, mul(_c(1 / 3, out),
                                                            integer_pow(out, -2))))
ad.defjvp(sin_p, lambda g, x: mul(g, cos(x)))
ad.defjvp(cos_p, lambda g, x: neg(mul(g, sin(x))))
ad.defjvp_with_output(tan_p, lambda g, out, x: mul(g, add(_c(1, out), mul(out, out))))
ad.defjvp(asin_p, lambda g, x: mul(g, rsqrt(sub(_c(1, x), mul(x, x)))))
ad.defjvp(acos_p, lambda g, x: neg(mul(g, rsqrt(sub(_c(1, x), mul(x, x))))))
ad.defjvp(atan_p, lambda g, x: div(g, add(_c(1, x), mul(x, x))))
ad.defjvp(sinh_p, lambda g, x: mul(g, cosh(x)))
ad.defjvp(cosh_p, lambda g, x: mul(g, sinh(x)))
ad.defjvp_with_output(tanh_p, lambda g, out, x: mul(g, sub(_c(1, out), mul(out, out))))
ad.defjvp(asinh_p, lambda g, x: mul(g, rsqrt(add(mul(x, x), _c(1, x)))))
# 1/(sqrt(x-1) sqrt(x+1)) rather than 1/sqrt(x^2-1): equal for real x > 1, and only the
# former is acosh's derivative on the principal branch for complex x with Re(x) < 0.
ad.defjvp(acosh_p, lambda g, x: mul(g, mul(rsqrt(sub(x, _c(1, x))), rsqrt(add(x, _c(1, x))))))
ad.defjvp(atanh_p, lambda g, x: div(g, sub(_c(1, x), mul(x, x))))
ad.defjvp_with_output(logistic_p, lambda g, out, x: mul(g, mul(out, sub(_c(1, out), out))))
ad.defjvp(erf_p, lambda g, x: mul(g, mul(_c(2 / np.sqrt(np.pi), x), exp(neg(mul(x, x))))))
ad.defjvp(erfc_p, lambda g, x: mul(g, mul(_c(-2 / np.sqrt(np.pi), x), exp(neg(mul(x, x))))))
ad.defjvp_with_output(erf_inv_p, lambda g, out, x: mul(g, mul(_c(np.sqrt(np.pi) / 2, out),
                                                                exp(mul(out, out)))))
ad.defjvp(lgamma_p, lambda g, x: mul(g, digamma(x)))


def _trigamma(x):
    """psi'(x) (the derivative of digamma) for real x off the poles 0, -1, -2, ...

    For x < 1/2 the reflection psi'(x) = pi^2 / sin(pi x)^2 - psi'(1 - x) brings the
    argument to r >= 1/2; then the recurrence psi'(r) = psi'(r + 1) + 1/r^2 shifts it to
    z = r + 6 where the asymptotic series is accurate to about 1e-11."""
    reflect = lt(x, _c(0.5, x))
    r = select(reflect, sub(_c(1, x), x), x)
    acc = None
    for k in range(6):
        term = integer_pow(add(r, _c(float(k), r)), -2)
        acc = term if acc is None else add(acc, term)
    z = add(r, _c(6.0, r))
    iz = integer_pow(z, -1)
    iz2 = mul(iz, iz)
    # 1/z + 1/(2z^2) + 1/(6z^3) - 1/(30z^5) + 1/(42z^7) - 1/(30z^9) + 5/(66z^11)
    series = _c(5 / 66, z)
    for coef in (-1 / 30, 1 / 42, -1 / 30, 1 / 6):
        series = add(_c(coef, z), mul(iz2, series))
    tail = add(iz, add(mul(_c(0.5, z), iz2), mul(iz, mul(iz2, series))))
    psi1_r = add(acc, tail)
    # the reflected branch only where it is used, so its poles never reach derivatives
    xs = select(reflect, x, _full(x, 0.25))
    s = sin(mul(_c(np.pi, xs), xs))
    reflected = sub(div(_c(np.pi ** 2, s), mul(s, s)), psi1_r)
    return select(reflect, reflected, psi1_r)


ad.defjvp(digamma_p, lambda g, x: mul(g, _trigamma(x)))


def _linear_t(fn):
    """A transpose rule that answers None for every operand when ``ct`` is a symbolic zero."""
    def rule(ct, *args, **params):
        if type(ct) is ad.Zero:
            return [None] * len(args)
        return fn(ct, *args, **params)
    return rule


# Complex cotangents follow JAX's convention: the transpose of a map is taken with the real
# bilinear pairing Re(sum(u * v)) (not conjugated), so imag's transpose is ct -> -i ct.
ad.deflinear(neg_p, _linear_t(lambda ct, x: [neg(ct)]))
ad.deflinear(real_p, _linear_t(lambda ct, x: [complex(ct, full_zero(ct))]))
ad.deflinear(imag_p, _linear_t(lambda ct, x: [complex(full_zero(ct), neg(ct))]))
ad.deflinear(conj_p, _linear_t(lambda ct, x: [conj(ct)]))
ad.deflinear(complex_p, _linear_t(lambda ct, x, y: [
    _unbroadcast(_aval(x), real(ct)) if is_undefined(x) else None,
    _unbroadcast(_aval(y), neg(imag(ct))) if is_undefined(y) else None]))


def full_zero(like):
    from functorch_lite.lax.shapes import full_like
    return full_like(like, 0)


@_linear_t
def _add_transpose(ct, x, y):
    return [_unbroadcast(x.aval, ct) if is_undefined(x) else None,
            _unbroadcast(y.aval, ct) if is_undefined(y) else None]


@_linear_t
def _sub_transpose(ct, x, y):
    return [_unbroadcast(x.aval, ct) if is_undefined(x) else None,
            _unbroadcast(y.aval, neg(ct)) if is_undefined(y) else None]


ad.deflinear(add_p, _add_transpose)
ad.deflinear(sub_p, _sub_transpose)


def _additive_jvp(p):
    """add/sub: with one tangent a symbolic zero the output tangent is the other one
    (negated for sub's right operand, broadcast when it came from a rank-0 operand),
    instead of a sum with materialized zeros."""
    def rule(primals, tangents):
        out = p.bind(*primals)
        tx, ty = tangents
        out_aval = ad.tangent_aval(get_aval(out))
        if type(tx) is ad.Zero and type(ty) is ad.Zero:
            return out, ad.Zero(out_aval)
        if type(tx) is not ad.Zero and type(ty) is not ad.Zero:
            return out, p.bind(tx, ty)
        t = tx if type(ty) is ad.Zero else (ty if p is add_p else neg(ty))
        t_aval = get_aval(t)
        if t_aval.weak_type != out_aval.weak_type:  # e.g. a Python scalar's tangent
            t = convert_element_type(t, out_aval.dtype, weak_type=out_aval.weak_type)
        if t_aval.shape != out_aval.shape:
            from functorch_lite.lax.shapes import broadcast_in_dim
            t = broadcast_in_dim(t, out_aval.shape, ())
        return out, t
    return rule


add_p.def_jvp(_additive_jvp(add_p))
sub_p.def_jvp(_additive_jvp(sub_p))


@_linear_t
def _mul_transpose(ct, x, y):
    if is_undefined(x) and is_undefined(y):
        raise ValueError("mul is linear in one operand at a time; both were undefined")
    if is_undefined(x):
        return [_unbroadcast(x.aval, mul(ct, y)), None]
    return [None, _unbroadcast(y.aval, mul(x, ct))]


ad.defjvp(mul_p, lambda g, x, y: mul(g, y), lambda g, x, y: mul(x, g))
mul_p.def_transpose(_mul_transpose)


@_linear_t
def _div_transpose(ct, x, y):
    if is_undefined(y):
        raise ValueError("div is linear only in its numerator")
    return [_unbroadcast(x.aval, div(ct, y)), None]


ad.defjvp_with_output(div_p, lambda g, out, x, y: div(g, y),
                      lambda g, out, x, y: neg(mul(g, div(out, y))))
div_p.def_transpose(_div_transpose)
ad.defjvp(rem_p, lambda g, x, y: g,
          lambda g, x, y: mul(neg(g), mul(sign(div(x, y)), floor(abs(div(x, y))))))


def _pow_jvp_x(g, x, y):
    # y * x^(y-1), with 0 where y == 0 so that 0^0 has slope 0. This is JAX's choice for an
    # integer exponent (numpy.power sends integer exponent arrays here, converted to
    # floats); JAX's float-exponent rule would give 0 * inf = nan at x == y == 0.
    jac = mul(y, pow(x, sub(y, _c(1, y))))
    return mul(g, select(eq(y, _c(0, y)), full_zero(jac), jac))


def _pow_jvp_y(g, out, x, y):
    # log(x) * x^y, taken as 0 where x == 0 (log(1) = 0 there)
    safe_x = select(eq(x, _c(0, x)), add(full_zero(x), _c(1, x)), x)
    return mul(g, mul(log(safe_x), out))


def _pow_jvp(primals, tangents):
    x, y = primals
    gx, gy = tangents
    out = pow(x, y)
    out_aval = get_aval(out)
    acc = ad.Zero(ad.tangent_aval(out_aval))
    if type(gx) is not ad.Zero:
        acc = ad.add_tangents(acc, ad.match_shape(_pow_jvp_x(gx, x, y), out_aval))
    if type(gy) is not ad.Zero:
        acc = ad.add_tangents(acc, ad.match_shape(_pow_jvp_y(gy, out, x, y), out_aval))
    return out, acc


pow_p.def_jvp(_pow_jvp)


def _minmax_jvp(pick):
    # The gradient is split evenly between equal operands (as JAX does).
    def contrib(g, x, y):
        chosen = convert_element_type(pick(x, y), get_aval(x).dtype)
        tie = convert_element_type(eq(x, y), get_aval(x).dtype)
        return mul(g, add(chosen, mul(tie, _c(0.5, x))))
    return contrib


ad.defjvp(max_p, _minmax_jvp(gt), lambda g, x, y: _minmax_jvp(gt)(g, y, x))
ad.defjvp(min_p, _minmax_jvp(lt), lambda g, x, y: _minmax_jvp(lt)(g, y, x))
ad.defjvp(atan2_p, lambda g, x, y: mul(g, div(y, add(mul(x, x), mul(y, y)))),
          lambda g, x, y: mul(g, div(neg(x), add(mul(x, x), mul(y, y)))))


def _integer_pow_jvp(g, x, *, y):
    if y == 0:
        return full_zero(g)
    if y == 1:
        return g
    return mul(g, mul(_c(y, x), x if y == 2 else integer_pow(x, y - 1)))


ad.defjvp(integer_pow_p, _integer_pow_jvp)


def _select_n_jvp(primals, tangents):
    which, *cases = primals
    out = select_n(which, *cases)
    case_tangents = tangents[1:]
    if all(type(t) is ad.Zero for t in case_tangents):
        return out, ad.Zero(ad.tangent_aval(get_aval(out)))
    return out, select_n(which, *[ad.instantiate(t) for t in case_tangents])


def _select_n_transpose(ct, which, *cases):
    if is_undefined(which):
        raise ValueError("select_n is not linear in its predicate")
    zeros = full_zero(ct) if type(ct) is not ad.Zero else None
    out = [None]
    for i, c in enumerate(cases):
        if not is_undefined(c) or type(ct) is ad.Zero:
            out.append(None)
            continue
        branches = [zeros] * len(cases)
        branches[i] = ct
        out.append(select_n(which, *branches))
    return out


select_n_p.def_jvp(_select_n_jvp)
select_n_p.def_transpose(_select_n_transpose)


def _clamp_jvp(primals, tangents):
    lo, x, hi = primals
    out = clamp(lo, x, hi)
    out_aval = get_aval(out)
    g_lo, g_x, g_hi = tangents
    acc = ad.Zero(ad.tangent_aval(out_aval))
    zero = full_zero(out)
    # As JAX: at a tie (x == lo or x == hi) neither x nor the bound gets the tangent, and
    # lo only counts when lo < hi (otherwise the result is hi).
    if type(g_x) is not ad.Zero:
        inside = bitwise_and(gt(x, lo), lt(x, hi))
        acc = ad.add_tangents(acc, select(inside, g_x, zero))
    if type(g_lo) is not ad.Zero:
        below = bitwise_and(gt(lo, x), lt(lo, hi))
        acc = ad.add_tangents(acc, select(below, ad.match_shape(g_lo, out_aval), zero))
    if type(g_hi) is not ad.Zero:
        acc = ad.add_tangents(acc, select(lt(hi, x), ad.match_shape(g_hi, out_aval), zero))
    return out, acc


clamp_p.def_jvp(_clamp_jvp)


def _convert_jvp(primals, tangents, *, new_dtype, weak_type):
    (x,), (g,) = primals, tangents
    out = convert_element_type_p.bind(x, new_dtype=new_dtype, weak_type=weak_type)
    out_aval = get_aval(out)
    if type(g) is ad.Zero or not dtypes.is_inexact(new_dtype):
        return out, ad.Zero(ad.tangent_aval(out_aval))
    return out, convert_element_type_p.bind(g, new_dtype=new_dtype, weak_type=weak_type)


def _convert_transpose(ct, x, *, new_dtype, weak_type):
    aval = x.aval
    if type(ct) is ad.Zero or not dtypes.is_inexact(aval.dtype):
        return [None]
    return [convert_element_type_p.bind(ct, new_dtype=aval.dtype, weak_type=aval.weak_type)]


convert_element_type_p.def_jvp(_convert_jvp)
convert_element_type_p.def_transpose(_convert_transpose)


# ---------------------------------------------------------------------------------------
# Batching rules: every elementwise primitive batches by aligning its operands.

from functorch_lite.interpreters import batching  # noqa: E402


# Operands that may not be rank 0 when the others are not: select_n's cases (only `which`
# may be rank 0) and clamp's operand (only the bounds may).
_FULL_SHAPE_OPERANDS = {select_n_p: lambda n: range(1, n), clamp_p: lambda n: (1,)}


_PRIMITIVES = [p for name, p in list(globals().items())
               if isinstance(p, Primitive) and not name.startswith("_")]
for _p in _PRIMITIVES:
    if _p in _FULL_SHAPE_OPERANDS:
        _p.def_batch(batching.elementwise_batch_rule(_p, _FULL_SHAPE_OPERANDS[_p]))
    else:
        _p.def_batch(batching.elementwise_batch_rule(_p))
