"""The multivariate normal distribution (``mean`` over the last axis)."""
from __future__ import annotations

import numpy as np

import functorch_lite.numpy as fnp
from functorch_lite.scipy import linalg as _sla
from functorch_lite.scipy.stats._common import promote_dtypes

_LOG_2PI = float(np.log(2 * np.pi))


def logpdf(x, mean, cov, allow_singular=None):
    if allow_singular is not None:
        raise NotImplementedError("allow_singular argument of multivariate_normal.logpdf")
    x, mean, cov = promote_dtypes("multivariate_normal.logpdf", x, mean, cov)
    if not mean.shape:
        # One dimension: ``cov`` is the variance.
        return -0.5 * fnp.square(x - mean) / cov - 0.5 * (_LOG_2PI + fnp.log(cov))
    n = mean.shape[-1]
    d = x - mean
    if not np.shape(cov):
        # Isotropic: cov * identity.
        return (-0.5 * fnp.sum(d * d, axis=-1) / cov
                - (n / 2) * (_LOG_2PI + fnp.log(cov)))
    if cov.ndim < 2 or cov.shape[-2:] != (n, n):
        raise ValueError("multivariate_normal.logpdf got incompatible shapes")
    chol = fnp.linalg.cholesky(cov)
    # With cov = L L^T, the Mahalanobis term is |L^-1 d|^2 and log det cov = 2 sum log L_ii.
    batch = np.broadcast_shapes(chol.shape[:-2], d.shape[:-1])
    chol_b = fnp.broadcast_to(chol, batch + (n, n))
    d_b = fnp.broadcast_to(d, batch + (n,))
    z = _sla.solve_triangular(chol_b, d_b[..., None], lower=True)[..., 0]
    log_diag = fnp.log(fnp.diagonal(chol, axis1=-2, axis2=-1))
    return (-0.5 * fnp.sum(z * z, axis=-1) - (n / 2) * _LOG_2PI
            - fnp.sum(log_diag, axis=-1))


def pdf(x, mean, cov):
    return fnp.exp(logpdf(x, mean, cov))
