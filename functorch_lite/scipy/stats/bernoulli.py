"""The Bernoulli distribution on {loc, loc + 1}."""
from __future__ import annotations

import functorch_lite.numpy as fnp
from functorch_lite.scipy import special as sp
from functorch_lite.scipy.stats._common import inf, nan, promote


def logpmf(k, p, loc=0):
    k, p, loc = promote("bernoulli.logpmf", k, p, loc)
    y = k - loc
    # y log p + (1 - y) log(1 - p), with 0 log 0 = 0 at p in {0, 1}.
    log_probs = sp.xlogy(y, p) + sp.xlog1py(1 - y, -p)
    return fnp.where((y < 0) | (y > 1), -inf, log_probs)


def pmf(k, p, loc=0):
    return fnp.exp(logpmf(k, p, loc))


def cdf(k, p):
    k, p = promote("bernoulli.cdf", k, p)
    bad = fnp.isnan(k) | fnp.isnan(p) | (p < 0) | (p > 1)
    value = fnp.where(k < 0, fnp.zeros_like(k), fnp.where(k < 1, 1 - p, fnp.ones_like(k)))
    return fnp.where(bad, nan, value)


def ppf(q, p):
    q, p = promote("bernoulli.ppf", q, p)
    bad = fnp.isnan(q) | fnp.isnan(p) | (p < 0) | (p > 1) | (q < 0) | (q > 1)
    return fnp.where(bad, nan, fnp.where(q <= 1 - p, fnp.zeros_like(q), fnp.ones_like(q)))
