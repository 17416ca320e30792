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
