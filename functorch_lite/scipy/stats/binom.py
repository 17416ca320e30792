"""The binomial distribution: successes in ``n`` trials of probability ``p``."""
from __future__ import annotations

import functorch_lite.numpy as fnp
from functorch_lite.scipy import special as sp
from functorch_lite.scipy.stats._common import inf, promote


def logpmf(k, n, p, loc=0):
    k, n, p, loc = promote("binom.logpmf", k, n, p, loc)
    gammaln = sp.gammaln
    y = k - loc
    log_choose = gammaln(n + 1) - (gammaln(y + 1) + gammaln(n - y + 1))
    log_powers = sp.xlogy(y, p) + sp.xlog1py(n - y, -p)
    log_probs = log_choose + log_powers
    # Certain outcomes (no trials, or p in {0, 1} at the matching end) have probability
    # exactly one; the gammaln differences would only round near it.
    certain = ((y == 0) & (n == 0)) | (log_powers == 0)
    log_probs = fnp.where(certain, fnp.zeros_like(log_probs), log_probs)
    return fnp.where((k >= loc) & (k < loc + n + 1), log_probs, -inf)


def pmf(k, n, p, loc=0):
    return fnp.exp(logpmf(k, n, p, loc))
