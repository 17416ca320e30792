"""The generalized normal distribution with shape ``beta`` (2 is a scaled normal)."""
from __future__ import annotations

import functorch_lite.numpy as fnp
from functorch_lite import lax
from functorch_lite.scipy import special as sp
from functorch_lite.scipy.stats._common import promote


def logpdf(x, beta):
    x, beta = promote("gennorm.logpdf", x, beta)
    # pdf = beta / (2 Gamma(1 / beta)) exp(-|x|^beta)
    return fnp.log(0.5 * beta) - sp.gammaln(1 / beta) - fnp.power(fnp.abs(x), beta)


def pdf(x, beta):
    return fnp.exp(logpdf(x, beta))


def cdf(x, beta):
    x, beta = promote("gennorm.cdf", x, beta)
    mass = lax.igamma(1 / beta, fnp.power(fnp.abs(x), beta))
    return 0.5 * (1 + fnp.sign(x) * mass)
