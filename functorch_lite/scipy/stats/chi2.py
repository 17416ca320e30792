"""The chi-squared distribution with ``df`` degrees of freedom."""
from __future__ import annotations

import numpy as np

import functorch_lite.numpy as fnp
from functorch_lite.scipy import special as sp
from functorch_lite.scipy.stats._common import inf, promote

_LOG2 = float(np.log(2.0))


def logpdf(x, df, loc=0, scale=1):
    x, df, loc, scale = promote("chi2.logpdf", x, df, loc, scale)
    y = (x - loc) / scale
    half_df = df / 2
    log_kernel = sp.xlogy(half_df - 1, y) - y / 2
    log_norm = sp.gammaln(half_df) + half_df * _LOG2
    return fnp.where(x < loc, -inf, log_kernel - log_norm - fnp.log(scale))


def pdf(x, df, loc=0, scale=1):
    return fnp.exp(logpdf(x, df, loc, scale))


def _half_y(name, x, df, loc, scale):
    x, df, loc, scale = promote(name, x, df, loc, scale)
    # chi2(df) is gamma(df / 2) with scale 2.
    return df / 2, fnp.clip((x - loc) / (2 * scale), 0, inf)


def cdf(x, df, loc=0, scale=1):
    a, y = _half_y("chi2.cdf", x, df, loc, scale)
    return sp.gammainc(a, y)


def logcdf(x, df, loc=0, scale=1):
    return fnp.log(cdf(x, df, loc, scale))


def sf(x, df, loc=0, scale=1):
    a, y = _half_y("chi2.sf", x, df, loc, scale)
    return sp.gammaincc(a, y)


def logsf(x, df, loc=0, scale=1):
    return fnp.log(sf(x, df, loc, scale))
