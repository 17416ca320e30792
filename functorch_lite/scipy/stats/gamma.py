"""The gamma distribution with shape ``a``."""
from __future__ import annotations

import functorch_lite.numpy as fnp
from functorch_lite.scipy import special as sp
from functorch_lite.scipy.stats._common import inf, promote


def logpdf(x, a, loc=0, scale=1):
    x, a, loc, scale = promote("gamma.logpdf", x, a, loc, scale)
    inside = x >= loc
    # Evaluate at a harmless point outside the support so no NaN reaches the gradient.
    y = fnp.where(inside, (x - loc) / scale, fnp.ones_like(x))
    log_probs = sp.xlogy(a - 1, y) - y - (sp.gammaln(a) + fnp.log(scale))
    return fnp.where(inside, log_probs, -inf)


def pdf(x, a, loc=0, scale=1):
    return fnp.exp(logpdf(x, a, loc, scale))


def cdf(x, a, loc=0, scale=1):
    x, a, loc, scale = promote("gamma.cdf", x, a, loc, scale)
    y = fnp.clip((x - loc) / scale, 0, inf)
    return sp.gammainc(a, y)


def logcdf(x, a, loc=0, scale=1):
    return fnp.log(cdf(x, a, loc, scale))


def sf(x, a, loc=0, scale=1):
    x, a, loc, scale = promote("gamma.sf", x, a, loc, scale)
    y = (x - loc) / scale
    return fnp.where(y < 0, fnp.ones_like(y), sp.gammaincc(a, y))


def logsf(x, a, loc=0, scale=1):
    return fnp.log(sf(x, a, loc, scale))
