"""The Laplace (double exponential) distribution."""
from __future__ import annotations


import functorch_lite.numpy as fnp
from functorch_lite.scipy.stats._common import promote


def logpdf(x, loc=0, scale=1):
    x, loc, scale = promote("laplace.logpdf", x, loc, scale)
    return -(fnp.abs(x - loc) / scale + fnp.log(2 * scale))


def pdf(x, loc=0, scale=1):
    return fnp.exp(logpdf(x, loc, scale))


def cdf(x, loc=0, scale=1):
    x, loc, scale = promote("laplace.cdf", x, loc, scale)
    z = (x - loc) / scale
    # Each branch only exponentiates a non-positive number.
    return fnp.where(z <= 0, 0.5 * fnp.exp(z), 1 - 0.5 * fnp.exp(-z))
