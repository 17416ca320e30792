"""``scipy.special`` names: logsumexp, expit, logit, erf, erfc, erfinv, gammaln, digamma,
xlogy, xlog1py, log_ndtr-free basics."""
from __future__ import annotations

from functorch_lite import lax
from functorch_lite.numpy import _util
from functorch_lite.numpy.reductions import logsumexp  # noqa: F401
from functorch_lite.numpy.ufuncs import where


def _inexact(name, *args):
    return _util.promote_args_inexact(name, *args)


def _like(x, value):
    """``value`` as a weakly typed scalar of ``x``'s dtype (lax never promotes)."""
    return _util.scalar_operand(value, _util.dtype_of(x), True)


def expit(x):
    """The logistic sigmoid 1 / (1 + exp(-x))."""
    (x,) = _inexact("expit", x)
    return lax.logistic(x)


def logit(x):
    """log(x / (1 - x))."""
    (x,) = _inexact("logit", x)
    return lax.log(lax.div(x, lax.sub(_like(x, 1), x)))


def erf(x):
    (x,) = _inexact("erf", x)
    return lax.erf(x)


def erfc(x):
    (x,) = _inexact("erfc", x)
    return lax.erfc(x)


def erfinv(x):
    (x,) = _inexact("erfinv", x)
    return lax.erf_inv(x)


def gammaln(x):
    (x,) = _inexact("gammaln", x)
    return lax.lgamma(x)


def digamma(x):
    (x,) = _inexact("digamma", x)
    return lax.digamma(x)


def xlogy(x, y):
    """x * log(y), defined as 0 where x == 0."""
    x, y = _inexact("xlogy", x, y)
    safe_y = where(lax.eq(x, _like(x, 0)), lax.full_like(y, 1), y)
    return where(lax.eq(x, _like(x, 0)), lax.full_like(x, 0), lax.mul(x, lax.log(safe_y)))


def xlog1py(x, y):
    """x * log1p(y), defined as 0 where x == 0."""
    x, y = _inexact("xlog1py", x, y)
    safe_y = where(lax.eq(x, _like(x, 0)), lax.full_like(y, 0), y)
    return where(lax.eq(x, _like(x, 0)), lax.full_like(x, 0), lax.mul(x, lax.log1p(safe_y)))


from functorch_lite.scipy.special_more import (softmax, log_softmax, gamma, gammasgn, loggamma,
                                                beta, betaln, factorial, comb, poch, multigammaln,
                                                entr, rel_entr, kl_div, boxcox, boxcox1p, ndtr,
                                                log_ndtr, ndtri, gammainc, gammaincc, i0, i0e, i1,
                                                i1e, bernoulli, zeta, polygamma, erfcx)  # noqa: E402
from functorch_lite.scipy.special_extra import (betainc, exp1, expi, expn, spence, dawsn, sici,
                                                 fresnel, owens_t)  # noqa: E402
from functorch_lite.scipy.special_hyp import (hyp1f1, hyp2f1, wofz, bessel_jn,  # noqa: E402
                                               sph_harm_y)

__all__ = ["logsumexp", "expit", "logit", "erf", "erfc", "erfinv", "gammaln", "digamma", "xlogy",
           "xlog1py", "softmax", "log_softmax", "gamma", "gammasgn", "loggamma", "beta", "betaln",
           "factorial", "comb", "poch", "multigammaln", "entr", "rel_entr", "kl_div", "boxcox",
           "boxcox1p", "ndtr", "log_ndtr", "ndtri", "gammainc", "gammaincc", "i0", "i0e", "i1",
           "i1e", "bernoulli", "zeta", "polygamma", "erfcx", "betainc", "exp1", "expi", "expn",
           "spence", "dawsn", "sici", "fresnel", "owens_t", "hyp1f1", "hyp2f1", "wofz",
           "bessel_jn", "sph_harm_y"]
