"""The Pareto distribution with shape ``b`` on [loc + scale, inf)."""
from __future__ import annotations

import functorch_lite.numpy as fnp
from functorch_lite.scipy.stats._common import inf, nan, promote


def logpdf(x, b, loc=0, scale=1):
    x, b, loc, scale = promote("pareto.logpdf", x, b, loc, scale)
    z = (x - loc) / scale
    log_probs = fnp.log(b / scale) - (b + 1) * fnp.log(z)
    return fnp.where(x < loc + scale, -inf, log_probs)


def pdf(x, b, loc=0, scale=1):
    return fnp.exp(logpdf(x, b, loc, scale))


def cdf(x, b, loc=0, scale=1):
    x, b, loc, scale = promote("pareto.cdf", x, b, loc, scale)
    z = (x - loc) / scale
    return fnp.where(x < loc + scale, fnp.zeros_like(x), 1 - fnp.power(z, -b))


def logcdf(x, b, loc=0, scale=1):
    x, b, loc, scale = promote("pareto.logcdf", x, b, loc, scale)
    z = (x - loc) / scale
    return fnp.where(x < loc + scale, -inf, fnp.log1p(-fnp.power(z, -b)))


def logsf(x, b, loc=0, scale=1):
    x, b, loc, scale = promote("pareto.logsf", x, b, loc, scale)
    z = (x - loc) / scale
    return fnp.where(x < loc + scale, fnp.zeros_like(x), -b * fnp.log(z))


def sf(x, b, loc=0, scale=1):
    return fnp.exp(logsf(x, b, loc, scale))


def ppf(q, b, loc=0, scale=1):
    q, b, loc, scale = promote("pareto.ppf", q, b, loc, scale)
    value = loc + scale * fnp.power(1 - q, -1 / b)
    return fnp.where(fnp.isnan(q) | (q < 0) | (q > 1), nan, value)
