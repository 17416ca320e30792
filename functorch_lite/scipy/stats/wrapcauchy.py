"""The wrapped Cauchy distribution on [0, 2 pi] with concentration ``c`` in (0, 1)."""
from __future__ import annotations

import numpy as np

import functorch_lite.numpy as fnp
from functorch_lite.scipy.stats._common import inf, nan, promote


def logpdf(x, c):
    x, c = promote("wrapcauchy.logpdf", x, c)
    value = (fnp.log(1 - c * c) - np.log(2 * np.pi)
             - fnp.log(1 + c * c - 2 * c * fnp.cos(x)))
    value = fnp.where((x >= 0) & (x <= 2 * np.pi), value, -inf)
    return fnp.where((c > 0) & (c < 1), value, nan)


def pdf(x, c):
    return fnp.exp(logpdf(x, c))
