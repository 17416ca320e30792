"""Arithmetic, comparison, bitwise and complex-part primitives, select_n, clamp,
integer_pow and convert_element_type, each declared with its public function and its
shape, derivative and batching rules (the transcendental functions are in
``transcendental``). The ``unary``/``binary`` declarations bring the shape and
elementwise batching rules; the primitives declared by hand add theirs beside them."""
from __future__ import annotations

from typing import Any

import numpy as np

from functorch_lite.core import dtypes
from functorch_lite.core.avals import ShapedArray, get_aval
from functorch_lite.core.primitive import Primitive
from functorch_lite.interpreters import ad, batching
from functorch_lite.interpreters.transpose import is_undefined
from functorch_lite.lax._common import as_operand, check_dtype, is_python_scalar, match_scalars
from functorch_lite.lax.elementwise._helpers import (ANY, INT, INT_BOOL, NUM, REAL_FLOAT,
                                                     REAL_NUM, _aval, _binary_fn,
                                                     _broadcast_shapes, _c, _full, _linear_t,
                                                     _real_dtype, _unary_fn, _unbroadcast,
                                                     binary, full_zero, unary)


# ---------------------------------------------------------------------------------------
# neg, and the complex parts real, imag, conj: linear.
#
# Complex cotangents follow JAX's convention: the transpose of a map is taken with the real
# bilinear pairing Re(sum(u * v)) (not conjugated), so imag's transpose is ct -> -i ct.

neg_p = unary("neg", NUM)
neg = _unary_fn(neg_p, "Elementwise negation: ``-x``.")
ad.deflinear(neg_p, _linear_t(lambda ct, x: [neg(ct)]))

real_p = unary("real", "c", out_dtype=_real_dtype)
real = _unary_fn(real_p, "Real part of a complex array.")
ad.deflinear(real_p, _linear_t(lambda ct, x: [complex(ct, full_zero(ct))]))

imag_p = unary("imag", "c", out_dtype=_real_dtype)
imag = _unary_fn(imag_p, "Imaginary part of a complex array.")
ad.deflinear(imag_p, _linear_t(lambda ct, x: [complex(full_zero(ct), neg(ct))]))

conj_p = unary("conj", "c")
conj = _unary_fn(conj_p, "Complex conjugate.")
ad.deflinear(conj_p, _linear_t(lambda ct, x: [conj(ct)]))


# ---------------------------------------------------------------------------------------
# abs

abs_p = unary("abs", NUM, out_dtype=_real_dtype)
abs = _unary_fn(abs_p, "Elementwise absolute value (complex input gives its real magnitude).")


def _abs_jvp(g, out, x):
    if dtypes.is_complex(get_aval(x).dtype):
        # d|x| = Re(conj(x) g) / |x|, taken as 0 at x == 0 (as JAX)
        safe = select(eq(out, _c(0, out)), _full(out, 1), out)
        return div(real(mul(conj(x), g)), safe)
    # slope +1 at x == 0, as JAX (not sign(0) == 0)
    return select(ge(x, _c(0, x)), g, neg(g))


ad.defjvp_with_output(abs_p, _abs_jvp)


# ---------------------------------------------------------------------------------------
# Piecewise-constant unary primitives: sign, floor, ceil, round, is_finite, and the integer
# ones not and population_count. Their derivative is zero wherever it exists.

sign_p = unary("sign", NUM)
floor_p = unary("floor", REAL_FLOAT)
ceil_p = unary("ceil", REAL_FLOAT)
round_p = unary("round", REAL_FLOAT)  # params: rounding_method (0 away from zero, 1 to even)
is_finite_p = unary("is_finite", REAL_FLOAT, out_dtype=lambda dt: np.dtype(np.bool_))
not_p = unary("not", INT_BOOL)
population_count_p = unary("population_count", INT)
for _p in (sign_p, floor_p, ceil_p, round_p, is_finite_p, not_p, population_count_p):
    ad.zero_jvp(_p)

sign = _unary_fn(sign_p, "Elementwise sign: -1, 0 or 1 (``x/|x|`` for complex).")
floor = _unary_fn(floor_p, "Elementwise floor of a floating-point array.")
ceil = _unary_fn(ceil_p, "Elementwise ceiling of a floating-point array.")
is_finite = _unary_fn(is_finite_p, "True where ``x`` is neither infinite nor NaN.")
bitwise_not = _unary_fn(not_p, "Elementwise logical (bool) or bitwise (integer) NOT.")
population_count = _unary_fn(population_count_p, "Number of set bits of each integer.")


class RoundingMethod:
    AWAY_FROM_ZERO = 0
    TO_NEAREST_EVEN = 1


def round(x: Any, rounding_method: int = RoundingMethod.AWAY_FROM_ZERO):
    """Round to the nearest integer; ties away from zero (default) or to even."""
    return round_p.bind(as_operand(x), rounding_method=int(rounding_method))


# ---------------------------------------------------------------------------------------
# add, sub: linear

add_p = binary("add", NUM)
add = _binary_fn(add_p, "Elementwise x + y (same dtypes; rank-0 operands broadcast).")
sub_p = binary("sub", NUM)
sub = _binary_fn(sub_p, "Elementwise x - y.")


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
        if get_aval(t).weak_type != out_aval.weak_type:  # e.g. a Python scalar's tangent
            t = convert_element_type(t, out_aval.dtype, weak_type=out_aval.weak_type)
        return out, ad.match_shape(t, out_aval)
    return rule


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
add_p.def_jvp(_additive_jvp(add_p))
sub_p.def_jvp(_additive_jvp(sub_p))


# ---------------------------------------------------------------------------------------
# mul, div: linear in one operand (div in its numerator); rem

mul_p = binary("mul", NUM)
mul = _binary_fn(mul_p, "Elementwise x * y.")


@_linear_t
def _mul_transpose(ct, x, y):
    if is_undefined(x) and is_undefined(y):
        raise ValueError("mul is linear in one operand at a time; both were undefined")
    if is_undefined(x):
        return [_unbroadcast(x.aval, mul(ct, y)), None]
    return [None, _unbroadcast(y.aval, mul(x, ct))]


ad.defjvp(mul_p, lambda g, x, y: mul(g, y), lambda g, x, y: mul(x, g))
mul_p.def_transpose(_mul_transpose)

div_p = binary("div", NUM)
div = _binary_fn(div_p, "Elementwise x / y; integer division rounds toward zero (as C).")


@_linear_t
def _div_transpose(ct, x, y):
    if is_undefined(y):
        raise ValueError("div is linear only in its numerator")
    return [_unbroadcast(x.aval, div(ct, y)), None]


ad.defjvp_with_output(div_p, lambda g, out, x, y: div(g, y),
                      lambda g, out, x, y: neg(mul(g, div(out, y))))
div_p.def_transpose(_div_transpose)

rem_p = binary("rem", REAL_NUM)
rem = _binary_fn(rem_p, "Elementwise remainder with the sign of x (as C's fmod).")
ad.defjvp(rem_p, lambda g, x, y: g,
          lambda g, x, y: mul(neg(g), mul(sign(div(x, y)), floor(abs(div(x, y))))))


# ---------------------------------------------------------------------------------------
# Comparisons: a bool result, so no derivative.

eq_p = binary("eq", ANY, out_bool=True)
ne_p = binary("ne", ANY, out_bool=True)
lt_p = binary("lt", "biuf", out_bool=True)
le_p = binary("le", "biuf", out_bool=True)
gt_p = binary("gt", "biuf", out_bool=True)
ge_p = binary("ge", "biuf", out_bool=True)
for _p in (eq_p, ne_p, lt_p, le_p, gt_p, ge_p):
    _p.non_differentiable = True

eq = _binary_fn(eq_p, "Elementwise x == y (bool result).")
ne = _binary_fn(ne_p, "Elementwise x != y.")
lt = _binary_fn(lt_p, "Elementwise x < y.")
le = _binary_fn(le_p, "Elementwise x <= y.")
gt = _binary_fn(gt_p, "Elementwise x > y.")
ge = _binary_fn(ge_p, "Elementwise x >= y.")


# ---------------------------------------------------------------------------------------
# max, min

def _minmax_jvp(pick):
    # The gradient is split evenly between equal operands (as JAX does).
    def contrib(g, x, y):
        chosen = convert_element_type(pick(x, y), get_aval(x).dtype)
        tie = convert_element_type(eq(x, y), get_aval(x).dtype)
        return mul(g, add(chosen, mul(tie, _c(0.5, x))))
    return contrib


max_p = binary("max", ANY)
max = _binary_fn(max_p, "Elementwise maximum (NaN-propagating for floats).")
ad.defjvp(max_p, _minmax_jvp(gt), lambda g, x, y: _minmax_jvp(gt)(g, y, x))

min_p = binary("min", ANY)
min = _binary_fn(min_p, "Elementwise minimum (NaN-propagating for floats).")
ad.defjvp(min_p, _minmax_jvp(lt), lambda g, x, y: _minmax_jvp(lt)(g, y, x))


# ---------------------------------------------------------------------------------------
# Piecewise-constant binary primitives: nextafter, the bitwise operations and the shifts.
# Their derivative is zero wherever it exists.

nextafter_p = binary("nextafter", REAL_FLOAT)
and_p = binary("and", INT_BOOL)
or_p = binary("or", INT_BOOL)
xor_p = binary("xor", INT_BOOL)
shift_left_p = binary("shift_left", INT)
shift_right_arithmetic_p = binary("shift_right_arithmetic", INT)
shift_right_logical_p = binary("shift_right_logical", INT)
for _p in (nextafter_p, and_p, or_p, xor_p, shift_left_p, shift_right_arithmetic_p,
           shift_right_logical_p):
    ad.zero_jvp(_p)

nextafter = _binary_fn(nextafter_p, "The next representable value after x toward y.")
bitwise_and = _binary_fn(and_p, "Elementwise AND (logical for bool, bitwise for integers).")
bitwise_or = _binary_fn(or_p, "Elementwise OR.")
bitwise_xor = _binary_fn(xor_p, "Elementwise XOR.")
shift_left = _binary_fn(shift_left_p, "x << y.")
shift_right_arithmetic = _binary_fn(shift_right_arithmetic_p, "x >> y, sign-extending.")
shift_right_logical = _binary_fn(shift_right_logical_p, "x >> y, zero-filling.")


# ---------------------------------------------------------------------------------------
# complex: linear

complex_p = Primitive("complex")


@complex_p.def_shape
def _complex_shape(x, y):
    if x.dtype != y.dtype or x.dtype not in (np.float32, np.float64):
        raise TypeError(f"complex requires two float32 or two float64 arrays, got "
                        f"{x.dtype} and {y.dtype}")
    return ShapedArray(_broadcast_shapes("complex", x, y),
                       np.complex64 if x.dtype == np.float32 else np.complex128,
                       x.weak_type and y.weak_type)


def complex(x: Any, y: Any):
    """``x + i*y`` from two real arrays."""
    x, y = match_scalars("complex", (x, y))
    return complex_p.bind(x, y)


ad.deflinear(complex_p, _linear_t(lambda ct, x, y: [
    _unbroadcast(_aval(x), real(ct)) if is_undefined(x) else None,
    _unbroadcast(_aval(y), neg(imag(ct))) if is_undefined(y) else None]))
complex_p.def_batch(batching.elementwise_batch_rule(complex_p))


# ---------------------------------------------------------------------------------------
# integer_pow (with square and reciprocal)

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


def _integer_pow_jvp(g, x, *, y):
    if y == 0:
        return full_zero(g)
    if y == 1:
        return g
    return mul(g, mul(_c(y, x), x if y == 2 else integer_pow(x, y - 1)))


ad.defjvp(integer_pow_p, _integer_pow_jvp)
integer_pow_p.def_batch(batching.elementwise_batch_rule(integer_pow_p))


# ---------------------------------------------------------------------------------------
# select_n (with select): linear in its cases

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
# Only `which` may be rank 0 while the cases are not.
select_n_p.def_batch(batching.elementwise_batch_rule(select_n_p, lambda n: range(1, n)))


# ---------------------------------------------------------------------------------------
# clamp

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
# Only the bounds may be rank 0 while the operand is not.
clamp_p.def_batch(batching.elementwise_batch_rule(clamp_p, lambda n: (1,)))


# ---------------------------------------------------------------------------------------
# convert_element_type: linear between inexact dtypes

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
convert_element_type_p.def_batch(batching.elementwise_batch_rule(convert_element_type_p))
