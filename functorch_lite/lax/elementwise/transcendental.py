"""The transcendental primitives (exponentials and logarithms, powers and roots,
trigonometric and hyperbolic functions, logistic, erf, lgamma and digamma), each declared
with its public function and derivative rule; ``unary``/``binary`` give each its shape
rule and its elementwise batching rule."""
from __future__ import annotations

from typing import Any

import numpy as np

from functorch_lite.core import dtypes
from functorch_lite.core.avals import get_aval
from functorch_lite.interpreters import ad
from functorch_lite.lax.elementwise._helpers import (FLOAT, REAL_FLOAT, _binary_fn, _c, _full,
                                                     _operands, _unary_fn, binary, full_zero,
                                                     unary)
from functorch_lite.lax.elementwise.arithmetic import (add, convert_element_type, div,
                                                       eq, integer_pow, lt, mul, neg, select,
                                                       sub)


exp_p = unary("exp", FLOAT)
exp = _unary_fn(exp_p, "Elementwise e**x.")
ad.defjvp_with_output(exp_p, lambda g, out, x: mul(g, out))

exp2_p = unary("exp2", FLOAT)
exp2 = _unary_fn(exp2_p, "Elementwise 2**x.")
ad.defjvp_with_output(exp2_p, lambda g, out, x: mul(g, mul(out, _c(np.log(2.0), out))))

log_p = unary("log", FLOAT)
log = _unary_fn(log_p, "Elementwise natural logarithm.")
ad.defjvp(log_p, lambda g, x: div(g, x))

log1p_p = unary("log1p", FLOAT)
log1p = _unary_fn(log1p_p, "Elementwise log(1 + x), accurate near 0.")
ad.defjvp(log1p_p, lambda g, x: div(g, add(x, _c(1, x))))

expm1_p = unary("expm1", FLOAT)
expm1 = _unary_fn(expm1_p, "Elementwise exp(x) - 1, accurate near 0.")
ad.defjvp_with_output(expm1_p, lambda g, out, x: mul(g, add(out, _c(1, out))))

sqrt_p = unary("sqrt", FLOAT)
sqrt = _unary_fn(sqrt_p, "Elementwise square root.")
ad.defjvp_with_output(sqrt_p, lambda g, out, x: div(mul(g, _c(0.5, out)), out))

rsqrt_p = unary("rsqrt", FLOAT)
rsqrt = _unary_fn(rsqrt_p, "Elementwise 1/sqrt(x).")
ad.defjvp_with_output(rsqrt_p, lambda g, out, x: mul(g, mul(_c(-0.5, out), div(out, x))))

cbrt_p = unary("cbrt", REAL_FLOAT)
cbrt = _unary_fn(cbrt_p, "Elementwise cube root.")
ad.defjvp_with_output(cbrt_p, lambda g, out, x: mul(g, mul(_c(1 / 3, out),
                                                            integer_pow(out, -2))))

sin_p = unary("sin", FLOAT)
sin = _unary_fn(sin_p, "Elementwise sine.")
ad.defjvp(sin_p, lambda g, x: mul(g, cos(x)))

cos_p = unary("cos", FLOAT)
cos = _unary_fn(cos_p, "Elementwise cosine.")
ad.defjvp(cos_p, lambda g, x: neg(mul(g, sin(x))))

tan_p = unary("tan", FLOAT)
tan = _unary_fn(tan_p, "Elementwise tangent.")
ad.defjvp_with_output(tan_p, lambda g, out, x: mul(g, add(_c(1, out), mul(out, out))))

asin_p = unary("asin", FLOAT)
asin = _unary_fn(asin_p, "Elementwise arcsine.")
ad.defjvp(asin_p, lambda g, x: mul(g, rsqrt(sub(_c(1, x), mul(x, x)))))

acos_p = unary("acos", FLOAT)
acos = _unary_fn(acos_p, "Elementwise arccosine.")
ad.defjvp(acos_p, lambda g, x: neg(mul(g, rsqrt(sub(_c(1, x), mul(x, x))))))

atan_p = unary("atan", FLOAT)
atan = _unary_fn(atan_p, "Elementwise arctangent.")
ad.defjvp(atan_p, lambda g, x: div(g, add(_c(1, x), mul(x, x))))

sinh_p = unary("sinh", FLOAT)
sinh = _unary_fn(sinh_p, "Elementwise hyperbolic sine.")
ad.defjvp(sinh_p, lambda g, x: mul(g, cosh(x)))

cosh_p = unary("cosh", FLOAT)
cosh = _unary_fn(cosh_p, "Elementwise hyperbolic cosine.")
ad.defjvp(cosh_p, lambda g, x: mul(g, sinh(x)))

tanh_p = unary("tanh", FLOAT)
tanh = _unary_fn(tanh_p, "Elementwise hyperbolic tangent.")
ad.defjvp_with_output(tanh_p, lambda g, out, x: mul(g, sub(_c(1, out), mul(out, out))))

asinh_p = unary("asinh", FLOAT)
asinh = _unary_fn(asinh_p, "Elementwise inverse hyperbolic sine.")
ad.defjvp(asinh_p, lambda g, x: mul(g, rsqrt(add(mul(x, x), _c(1, x)))))

acosh_p = unary("acosh", FLOAT)
acosh = _unary_fn(acosh_p, "Elementwise inverse hyperbolic cosine.")
# 1/(sqrt(x-1) sqrt(x+1)) rather than 1/sqrt(x^2-1): equal for real x > 1, and only the
# former is acosh's derivative on the principal branch for complex x with Re(x) < 0.
ad.defjvp(acosh_p, lambda g, x: mul(g, mul(rsqrt(sub(x, _c(1, x))), rsqrt(add(x, _c(1, x))))))

atanh_p = unary("atanh", FLOAT)
atanh = _unary_fn(atanh_p, "Elementwise inverse hyperbolic tangent.")
ad.defjvp(atanh_p, lambda g, x: div(g, sub(_c(1, x), mul(x, x))))

logistic_p = unary("logistic", FLOAT)
logistic = _unary_fn(logistic_p, "Elementwise logistic sigmoid 1/(1+exp(-x)).")
ad.defjvp_with_output(logistic_p, lambda g, out, x: mul(g, mul(out, sub(_c(1, out), out))))

erf_p = unary("erf", REAL_FLOAT)
erf = _unary_fn(erf_p, "Elementwise error function.")
ad.defjvp(erf_p, lambda g, x: mul(g, mul(_c(2 / np.sqrt(np.pi), x), exp(neg(mul(x, x))))))

erfc_p = unary("erfc", REAL_FLOAT)
erfc = _unary_fn(erfc_p, "Elementwise complementary error function 1 - erf(x).")
ad.defjvp(erfc_p, lambda g, x: mul(g, mul(_c(-2 / np.sqrt(np.pi), x), exp(neg(mul(x, x))))))

erf_inv_p = unary("erf_inv", REAL_FLOAT)
erf_inv = _unary_fn(erf_inv_p, "Elementwise inverse error function.")
ad.defjvp_with_output(erf_inv_p, lambda g, out, x: mul(g, mul(_c(np.sqrt(np.pi) / 2, out),
                                                                exp(mul(out, out)))))

lgamma_p = unary("lgamma", REAL_FLOAT)
lgamma = _unary_fn(lgamma_p, "Elementwise log|Gamma(x)|.")
ad.defjvp(lgamma_p, lambda g, x: mul(g, digamma(x)))

digamma_p = unary("digamma", REAL_FLOAT)
digamma = _unary_fn(digamma_p, "Elementwise digamma (derivative of lgamma).")


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


# ---------------------------------------------------------------------------------------
# pow and atan2

pow_p = binary("pow", FLOAT)
atan2_p = binary("atan2", REAL_FLOAT)


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


atan2 = _binary_fn(atan2_p, "Elementwise arctangent of x/y using both signs.")
ad.defjvp(atan2_p, lambda g, x, y: mul(g, div(y, add(mul(x, x), mul(y, y)))),
          lambda g, x, y: mul(g, div(neg(x), add(mul(x, x), mul(y, y)))))
