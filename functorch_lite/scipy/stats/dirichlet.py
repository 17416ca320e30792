"""The Dirichlet distribution; the simplex coordinates run along the first axis of ``x``."""
from __future__ import annotations

import functorch_lite.numpy as fnp
from functorch_lite.scipy import special as sp
from functorch_lite.scipy.stats._common import inf, promote_dtypes


def logpdf(x, alpha):
    x, alpha = promote_dtypes("dirichlet.logpdf", x, alpha)
    if alpha.ndim != 1:
        raise ValueError(f"`alpha` must be one-dimensional; got alpha.shape={alpha.shape}")
    k = alpha.shape[0]
    if x.shape[0] not in (k, k - 1):
        raise ValueError("`x` must have either the same number of entries as `alpha` or one "
                         f"entry fewer; got x.shape={x.shape}, alpha.shape={alpha.shape}")
    if x.shape[0] == k - 1:
        # The last coordinate is implied by the others.
        x = fnp.concatenate([x, 1 - fnp.sum(x, axis=0, keepdims=True)], axis=0)
    gammaln = sp.gammaln
    log_beta = fnp.sum(gammaln(alpha)) - gammaln(fnp.sum(alpha))
    alpha_b = fnp.reshape(alpha, (k,) + (1,) * (x.ndim - 1))
    log_probs = fnp.sum(sp.xlogy(alpha_b - 1, x), axis=0) - log_beta
    on_simplex = fnp.all(x > 0, axis=0) & (fnp.abs(fnp.sum(x, axis=0) - 1) < 1e-6)
    return fnp.where(on_simplex, log_probs, -inf)


def pdf(x, alpha):
    return fnp.exp(logpdf(x, alpha))
