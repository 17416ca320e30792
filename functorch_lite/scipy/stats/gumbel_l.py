"""The left-skewed Gumbel (minimum extreme value) distribution."""
from __future__ import annotations

import functorch_lite.numpy as fnp
from functorch_lite.scipy import special as sp
from functorch_lite.scipy.stats._common import nan, promote


def logpdf(x, loc=0, scale=1):
    x, loc, scale = promote("gumbel_l.logpdf", x, loc, scale)
    z = (x - loc) / scale
    value = -sp.xlogy(1, scale) + (z - fnp.exp(z))
    return fnp.where(scale > 0, value, nan)


def pdf(x, loc=0, scale=1):
    return fnp.exp(logpdf(x, loc, scale))


def logcdf(x, loc=0, scale=1):
    x, loc, scale = promote("gumbel_l.logcdf", x, loc, scale)
    z = (x - loc) / scale
    return fnp.where(scale > 0, fnp.log(-fnp.expm1(-fnp.exp(z))), nan)


def cdf(x, loc=0, scale=1):
    return fnp.exp(logcdf(x, loc, scale))


def ppf(p, loc=0, scale=1):
    p, loc, scale = promote("gumbel_l.ppf", p, loc, scale)
    value = loc + scale * fnp.log(-fnp.log1p(-p))
    return fnp.where((p > 0) & (p < 1), value, nan)


def logsf(x, loc=0, scale=1):
    x, loc, scale = promote("gumbel_l.logsf", x, loc, scale)
    return fnp.where(scale > 0, -fnp.exp((x - loc) / scale), nan)


def sf(x, loc=0, scale=1):
    return fnp.exp(logsf(x, loc, scale))
