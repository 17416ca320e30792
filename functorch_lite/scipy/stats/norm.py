"""The normal distribution N(loc, scale**2)."""
from __future__ import annotations

import numpy as np

import functorch_lite.numpy as fnp
from functorch_lite.scipy import special as sp
from functorch_lite.scipy.stats._common import promote


def logpdf(x, loc=0, scale=1):
    x, loc, scale = promote("norm.logpdf", x, loc, scale)
    var = fnp.square(scale)
    # -(log(2 pi var) + (x - loc)^2 / var) / 2; var keeps a negative scale's value finite.
    return -0.5 * (fnp.log((2 * np.pi) * var) + fnp.square(x - loc) / var)


def pdf(x, loc=0, scale=1):
    return fnp.exp(logpdf(x, loc, scale))


def cdf(x, loc=0, scale=1):
    x, loc, scale = promote("norm.cdf", x, loc, scale)
    return sp.ndtr((x - loc) / scale)


def logcdf(x, loc=0, scale=1):
    x, loc, scale = promote("norm.logcdf", x, loc, scale)
    return sp.log_ndtr((x - loc) / scale)


def sf(x, loc=0, scale=1):
    x, loc, scale = promote("norm.sf", x, loc, scale)
    # The upper tail is the lower tail of the mirrored variable.
    return cdf(-x, -loc, scale)


def logsf(x, loc=0, scale=1):
    x, loc, scale = promote("norm.logsf", x, loc, scale)
    return logcdf(-x, -loc, scale)


def ppf(q, loc=0, scale=1):
    # Always the default float dtype, as jax.scipy.stats.norm.ppf.
    return fnp.asarray(sp.ndtri(q) * scale + loc, float)


def isf(q, loc=0, scale=1):
    q = fnp.asarray(q)
    return ppf(1 - q, loc, scale)
