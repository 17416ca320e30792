"""Student's t distribution with ``df`` degrees of freedom."""
from __future__ import annotations

import numpy as np

import functorch_lite.numpy as fnp
from functorch_lite.scipy import special as sp
from functorch_lite.scipy.stats._common import promote


def logpdf(x, df, loc=0, scale=1):
    x, df, loc, scale = promote("t.logpdf", x, df, loc, scale)
    gammaln = sp.gammaln
    z = (x - loc) / scale
    half_df = df / 2
    half_df1 = half_df + 0.5
    # log normaliser: lgamma(df/2) + log(pi df scale^2)/2 - lgamma((df+1)/2)
    log_norm = gammaln(half_df) + 0.5 * fnp.log(np.pi * scale * scale * df) - gammaln(half_df1)
    return -(log_norm + half_df1 * fnp.log1p(z * z / df))


def pdf(x, df, loc=0, scale=1):
    return fnp.exp(logpdf(x, df, loc, scale))
