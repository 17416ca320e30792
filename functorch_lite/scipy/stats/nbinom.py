"""The negative binomial distribution: failures before the ``n``-th success."""
from __future__ import annotations

import functorch_lite.numpy as fnp
from functorch_lite.scipy import special as sp
from functorch_lite.scipy.stats._common import inf, promote


def logpmf(k, n, p, loc=0):
    k, n, p, loc = promote("nbinom.logpmf", k, n, p, loc)
    gammaln, xlogy = sp.gammaln, sp.xlogy
    y = k - loc
    log_choose = gammaln(y + n) - gammaln(n) - gammaln(y + 1)
    log_probs = log_choose + (xlogy(n, p) + xlogy(y, 1 - p))
    return fnp.where(k < loc, -inf, log_probs)


def pmf(k, n, p, loc=0):
    return fnp.exp(logpmf(k, n, p, loc))
