"""The beta distribution on [loc, loc + scale]."""
from __future__ import annotations

import functorch_lite.numpy as fnp
from functorch_lite.scipy import special as sp
from functorch_lite.scipy.stats._common import inf, nan, promote


def logpdf(x, a, b, loc=0, scale=1):
    x, a, b, loc, scale = promote("beta.logpdf", x, a, b, loc, scale)
    y = (x - loc) / scale
    log_kernel = sp.xlogy(a - 1, y) + sp.xlog1py(b - 1, -y)
    log_probs = log_kernel - sp.betaln(a, b) - fnp.log(scale)
    log_probs = fnp.where((x < loc) | (x > loc + scale), -inf, log_probs)
    # Shape and scale parameters must be positive.
    return fnp.where((a <= 0) | (b <= 0) | (scale <= 0), nan, log_probs)


def pdf(x, a, b, loc=0, scale=1):
    return fnp.exp(logpdf(x, a, b, loc, scale))


def _unit(x, loc, scale):
    """The standardized point, clipped to the support [0, 1]."""
    return fnp.clip((x - loc) / scale, 0, 1)


def cdf(x, a, b, loc=0, scale=1):
    """P(X <= x): the regularized incomplete beta function at the standardized point."""
    x, a, b, loc, scale = promote("beta.cdf", x, a, b, loc, scale)
    return sp.betainc(a, b, _unit(x, loc, scale))


def sf(x, a, b, loc=0, scale=1):
    """P(X > x), computed as I_{1-y}(b, a) so that it keeps its precision in the upper
    tail (1 - cdf would round to 0 there)."""
    x, a, b, loc, scale = promote("beta.sf", x, a, b, loc, scale)
    return sp.betainc(b, a, 1 - _unit(x, loc, scale))


def logcdf(x, a, b, loc=0, scale=1):
    return fnp.log(cdf(x, a, b, loc, scale))


def logsf(x, a, b, loc=0, scale=1):
    return fnp.log(sf(x, a, b, loc, scale))
