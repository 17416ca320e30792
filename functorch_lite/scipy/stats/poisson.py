"""The Poisson distribution with rate ``mu``."""
from __future__ import annotations

import functorch_lite.numpy as fnp
from functorch_lite.scipy import special as sp
from functorch_lite.scipy.stats._common import inf, promote


def logpmf(k, mu, loc=0):
    k, mu, loc = promote("poisson.logpmf", k, mu, loc)
    y = k - loc
    log_probs = sp.xlogy(y, mu) - sp.gammaln(y + 1) - mu
    # Zero mass below loc and at non-integer k.
    return fnp.where((y < 0) | (fnp.round(k) != k), -inf, log_probs)


def pmf(k, mu, loc=0):
    return fnp.exp(logpmf(k, mu, loc))


def cdf(k, mu, loc=0):
    k, mu, loc = promote("poisson.cdf", k, mu, loc)
    y = k - loc
    # P(Y <= y) = Q(floor(y) + 1, mu), the regularized upper incomplete gamma function.
    value = sp.gammaincc(fnp.floor(y + 1), mu)
    return fnp.where(y < 0, fnp.zeros_like(value), value)
