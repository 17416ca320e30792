"""The beta-binomial distribution: successes in ``n`` trials whose success probability is
itself drawn from Beta(``a``, ``b``)."""
from __future__ import annotations

import functorch_lite.numpy as fnp
from functorch_lite.scipy import special as sp
from functorch_lite.scipy.stats._common import inf, nan, promote


def logpmf(k, n, a, b, loc=0):
    """``log C(n, y) + betaln(y + a, n - y + b) - betaln(a, b)`` with ``y = floor(k) -
    loc``; -inf off the support ``0 <= y <= n``, NaN for ``n < 0`` or ``a, b <= 0``."""
    k, n, a, b, loc = promote("betabinom.logpmf", k, n, a, b, loc)
    y = fnp.floor(k) - loc
    # log C(n, y) through the beta function: 1 / ((n + 1) B(n - y + 1, y + 1)).
    log_choose = -(fnp.log1p(n) + sp.betaln(n - y + 1, y + 1))
    log_probs = log_choose + sp.betaln(y + a, n - y + b) - sp.betaln(a, b)
    # No trials: the one outcome y = 0 is certain (the betaln terms would give NaN or round).
    log_probs = fnp.where((y == 0) & (n == 0), fnp.zeros_like(log_probs), log_probs)
    log_probs = fnp.where((y < 0) | (y > n), -inf, log_probs)
    return fnp.where((n < 0) | (a <= 0) | (b <= 0), nan, log_probs)


def pmf(k, n, a, b, loc=0):
    return fnp.exp(logpmf(k, n, a, b, loc))
