"""The multinomial distribution: counts ``x`` (last axis) of ``n`` draws with probabilities
``p``."""
from __future__ import annotations

import numpy as np

import functorch_lite.numpy as fnp
from functorch_lite.numpy import _util
from functorch_lite.scipy import special as sp
from functorch_lite.scipy.stats._common import arrays, inf, promote


def logpmf(x, n, p):
    (p,) = promote("multinomial.logpmf", p)
    x, n = arrays(_util.promote_args_numeric("multinomial.logpmf", x, n))
    if not np.issubdtype(x.dtype, np.integer):
        raise ValueError(f"x and n must be of integer type; got x.dtype={x.dtype}, "
                         f"n.dtype={n.dtype}")
    x, n = x.astype(p.dtype), n.astype(p.dtype)
    gammaln = sp.gammaln
    log_probs = gammaln(n + 1) + fnp.sum(sp.xlogy(x, p) - gammaln(x + 1), axis=-1)
    # Like JAX, the counts must add up to n (summed over all of x).
    return fnp.where(fnp.sum(x) == n, log_probs, -inf)


def pmf(x, n, p):
    return fnp.exp(logpmf(x, n, p))
