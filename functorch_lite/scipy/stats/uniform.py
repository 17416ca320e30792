"""The uniform distribution on [loc, loc + scale]."""
from __future__ import annotations

import functorch_lite.numpy as fnp
from functorch_lite.scipy.stats._common import inf, nan, promote


def logpdf(x, loc=0, scale=1):
    x, loc, scale = promote("uniform.logpdf", x, loc, scale)
    outside = (x < loc) | (x > loc + scale)
    return fnp.where(outside, -inf, -fnp.log(scale))


def pdf(x, loc=0, scale=1):
    return fnp.exp(logpdf(x, loc, scale))


def cdf(x, loc=0, scale=1):
    x, loc, scale = promote("uniform.cdf", x, loc, scale)
    inside = fnp.where(x > loc + scale, fnp.ones_like(x), (x - loc) / scale)
    # NaN anywhere (x, loc or scale) falls through every comparison to 0, as JAX's select.
    inside = fnp.where((x >= loc) & (x <= loc + scale) | (x > loc + scale), inside, 0)
    return inside


def ppf(q, loc=0, scale=1):
    q, loc, scale = promote("uniform.ppf", q, loc, scale)
    bad = fnp.isnan(q) | (q < 0) | (q > 1)
    return fnp.where(bad, nan, loc + scale * q)
