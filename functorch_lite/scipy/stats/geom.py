"""The geometric distribution: trials up to and including the first success."""
from __future__ import annotations

import functorch_lite.numpy as fnp
from functorch_lite.scipy import special as sp
from functorch_lite.scipy.stats._common import inf, promote


def logpmf(k, p, loc=0):
    k, p, loc = promote("geom.logpmf", k, p, loc)
    y = k - loc
    log_probs = sp.xlog1py(y - 1, -p) + fnp.log(p)
    return fnp.where(y <= 0, -inf, log_probs)


def pmf(k, p, loc=0):
    return fnp.exp(logpmf(k, p, loc))
