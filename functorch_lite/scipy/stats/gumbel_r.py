"""The right-skewed Gumbel (maximum extreme value) distribution."""
from __future__ import annotations

import functorch_lite.numpy as fnp
from functorch_lite.scipy import special as sp
from functorch_lite.scipy.stats._common import nan, promote


def _log1mexp(x):
    """log(1 - exp(-x)) for x >= 0, from whichever of log1p / expm1 is accurate."""
    return fnp.where(x > 0.6931471805599453, fnp.log1p(-fnp.exp(-x)), fnp.log(-fnp.expm1(-x)))


def logpdf(x, loc=0, scale=1):
    x, loc, scale = promote("gumbel_r.logpdf", x, loc, scale)
    z = (x - loc) / scale
    value = -sp.xlogy(1, scale) - (z + fnp.exp(-z))
    return fnp.where(scale > 0, value, nan)


def pdf(x, loc=0, scale=1):
    return fnp.exp(logpdf(x, loc, scale))


def logcdf(x, loc=0, scale=1):
    x, loc, scale = promote("gumbel_r.logcdf", x, loc, scale)
    return fnp.where(scale > 0, -fnp.exp((loc - x) / scale), nan)


def cdf(x, loc=0, scale=1):
    return fnp.exp(logcdf(x, loc, scale))


def ppf(p, loc=0, scale=1):
    p, loc, scale = promote("gumbel_r.ppf", p, loc, scale)
    value = loc - scale * fnp.log(-fnp.log(p))
    return fnp.where((p > 0) & (p < 1), value, nan)


def sf(x, loc=0, scale=1):
    x, loc, scale = promote("gumbel_r.sf", x, loc, scale)
    value = 1 - fnp.exp(-fnp.exp((loc - x) / scale))
    return fnp.where(scale > 0, value, nan)


def logsf(x, loc=0, scale=1):
    x, loc, scale = promote("gumbel_r.logsf", x, loc, scale)
    return fnp.where(scale > 0, _log1mexp(fnp.exp((loc - x) / scale)), nan)
