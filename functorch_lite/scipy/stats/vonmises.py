"""The von Mises distribution (a normal-like law on the circle) with concentration kappa."""
from __future__ import annotations

import numpy as np

import functorch_lite.numpy as fnp
from functorch_lite.scipy import special as sp
from functorch_lite.scipy.stats._common import nan, promote


def logpdf(x, kappa):
    x, kappa = promote("vonmises.logpdf", x, kappa)
    # pdf = exp(kappa cos x) / (2 pi I0(kappa)); with I0e(k) = exp(-k) I0(k) nothing overflows.
    value = kappa * (fnp.cos(x) - 1) - fnp.log(2 * np.pi * sp.i0e(kappa))
    return fnp.where(kappa > 0, value, nan)


def pdf(x, kappa):
    return fnp.exp(logpdf(x, kappa))
