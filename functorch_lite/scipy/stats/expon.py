"""The exponential distribution on [loc, inf) with mean loc + scale."""
from __future__ import annotations

import functorch_lite.numpy as fnp
from functorch_lite.scipy.stats._common import inf, nan, promote


def logpdf(x, loc=0, scale=1):
    x, loc, scale = promote("expon.logpdf", x, loc, scale)
    return fnp.where(x < loc, -inf, -(x - loc) / scale - fnp.log(scale))


def pdf(x, loc=0, scale=1):
    return fnp.exp(logpdf(x, loc, scale))


def logsf(x, loc=0, scale=1):
    x, loc, scale = promote("expon.logsf", x, loc, scale)
    return fnp.where(x < loc, fnp.zeros_like(x), (loc - x) / scale)


def sf(x, loc=0, scale=1):
    return fnp.exp(logsf(x, loc, scale))


def cdf(x, loc=0, scale=1):
    x, loc, scale = promote("expon.cdf", x, loc, scale)
    # 1 - exp(-z) without cancellation near loc.
    return fnp.where(x < loc, fnp.zeros_like(x), -fnp.expm1((loc - x) / scale))


def logcdf(x, loc=0, scale=1):
    return fnp.log1p(-sf(x, loc, scale))


def ppf(q, loc=0, scale=1):
    q, loc, scale = promote("expon.ppf", q, loc, scale)
    bad = fnp.isnan(q) | (q < 0) | (q > 1)
    return fnp.where(bad, nan, loc - scale * fnp.log1p(-q))
