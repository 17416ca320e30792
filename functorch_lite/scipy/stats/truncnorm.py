"""The normal distribution truncated to standardized bounds [a, b]."""
from __future__ import annotations

import functorch_lite.numpy as fnp
from functorch_lite.scipy.stats import norm
from functorch_lite.scipy import special as sp
from functorch_lite.scipy.stats._common import inf, nan, promote

_LN2 = 0.6931471805599453


def _log_sub_exp(hi, lo):
    """log(exp(hi) - exp(lo)) for hi >= lo; -inf when both are -inf."""
    gap = fnp.where(hi == -inf, fnp.zeros_like(hi), lo - hi)
    log1mexp = fnp.where(gap > -_LN2, fnp.log(-fnp.expm1(gap)), fnp.log1p(-fnp.exp(gap)))
    return fnp.where(hi == -inf, -inf, hi + log1mexp)


def _log_mass(a, b):
    """log P(a < Z < b) for a standard normal Z, accurate in either tail."""
    a, b = fnp.broadcast_arrays(fnp.asarray(a), fnp.asarray(b))
    log_ndtr, ndtr = sp.log_ndtr, sp.ndtr
    right = a > 0
    central = ~((b <= 0) | right)
    # A right-tail interval is mirrored into the left tail, where log_ndtr is accurate.
    lo = fnp.where(right, -b, a)
    hi = fnp.where(right, -a, b)
    tail = _log_sub_exp(log_ndtr(hi), log_ndtr(lo))
    middle = fnp.log1p(-ndtr(a) - ndtr(-b))
    return fnp.where(central, middle, tail)


def logpdf(x, a, b, loc=0, scale=1):
    x, a, b, loc, scale = promote("truncnorm.logpdf", x, a, b, loc, scale)
    value = norm.logpdf(x, loc, scale) - _log_mass(a, b)
    z = (x - loc) / scale
    value = fnp.where((z < a) | (z > b), -inf, value)
    return fnp.where(a >= b, nan, value)


def pdf(x, a, b, loc=0, scale=1):
    return fnp.exp(logpdf(x, a, b, loc, scale))


def logcdf(x, a, b, loc=0, scale=1):
    x, a, b, loc, scale = promote("truncnorm.logcdf", x, a, b, loc, scale)
    z = (x - loc) / scale
    total = _log_mass(a, b)
    below = _log_mass(a, z) - total
    above = _log_mass(z, b) - total
    # Near 1 the complement of the upper mass is the accurate form.
    value = fnp.where(z > a, below, nan)
    value = fnp.where(below > -0.1, fnp.log1p(-fnp.exp(above)), value)
    value = fnp.where(z <= a, -inf, value)
    value = fnp.where(z >= b, fnp.zeros_like(value), value)
    return fnp.where(a >= b, nan, value)


def cdf(x, a, b, loc=0, scale=1):
    return fnp.exp(logcdf(x, a, b, loc, scale))


def logsf(x, a, b, loc=0, scale=1):
    x, a, b, loc, scale = promote("truncnorm.logsf", x, a, b, loc, scale)
    return logcdf(-x, -b, -a, -loc, scale)


def sf(x, a, b, loc=0, scale=1):
    return fnp.exp(logsf(x, a, b, loc, scale))
