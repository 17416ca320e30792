"""The regularized incomplete gamma functions and their derivatives, with JAX's names:
``igamma(a, x) = P(a, x)``, ``igammac(a, x) = Q(a, x) = 1 - P(a, x)``,
``igamma_grad_a(a, x) = dP/da`` and ``random_gamma_grad(a, x) = -(dP/da) / (dP/dx)``, the
derivative of a Gamma(a, 1) sample ``x`` with respect to ``a`` at fixed ``P`` (implicit
reparameterization). They are compositions of ``lax`` operations, not primitives:

* for ``x < 1`` or ``x <= a``, ``P`` comes from its power series
  ``P = x^a e^-x / Gamma(a+1) * sum_k x^k / ((a+1)...(a+k))``;
* otherwise ``Q`` comes from its continued fraction (evaluated by the forward recurrence
  of numerators ``p_k`` and denominators ``q_k``, rescaled when they grow large).

Each runs in a ``while_loop`` until every element has converged (an element that has
converged keeps its state, so an element's result does not depend on its neighbours). The
derivative with respect to ``a`` is carried through the same iterations (forward-mode by
hand). The algorithms are those of XLA's ``math.cc`` (which JAX's ``lax.igamma`` lowers
to), so the results agree with JAX's to rounding.

``igamma``/``igammac`` differentiate in both arguments (``d/dx P = x^(a-1) e^-x /
Gamma(a)``, ``d/da P = igamma_grad_a``) through a ``custom_jvp``.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from functorch_lite.core import dtypes
from functorch_lite.core.avals import get_aval
from functorch_lite.lax import elementwise as ew
from functorch_lite.lax._common import as_operand
from functorch_lite.lax.control_flow import while_loop
from functorch_lite.lax.custom_derivatives import custom_jvp
from functorch_lite.lax.reductions import reduce_or
from functorch_lite.lax.shapes import broadcast_in_dim, full_like

__all__ = ["igamma", "igammac", "igamma_grad_a", "random_gamma_grad"]

# What the shared series / continued fraction return.
_VALUE, _DERIVATIVE, _SAMPLE_DERIVATIVE = "value", "derivative", "sample_derivative"
_MAX_FRACTION_TERMS = 2000


def _c(x: Any, value: float) -> np.generic:
    return np.dtype(get_aval(x).dtype).type(value)


def _any(pred: Any):
    return reduce_or(pred, tuple(range(get_aval(pred).ndim)))


def _series(ax, x, a, enabled, mode):
    """``sum_k x^k / ((a+1)...(a+k))`` and its a-derivative, combined per ``mode``."""
    eps = _c(x, dtypes.finfo(get_aval(x).dtype).eps)
    one = _c(a, 1)

    def body(state):
        on, r, c, total, dc_da, dtotal_da = state
        r_new = ew.add(r, one)
        x_over_r = ew.div(x, r_new)
        dc_new = ew.sub(ew.mul(dc_da, x_over_r),
                        ew.div(ew.mul(c, x), ew.mul(r_new, r_new)))
        dtotal_new = ew.add(dtotal_da, dc_new)
        c_new = ew.mul(c, x_over_r)
        total_new = ew.add(total, c_new)
        if mode == _VALUE:
            going = ew.gt(ew.div(c_new, total_new), eps)
        else:
            going = ew.gt(ew.abs(ew.div(dc_new, dtotal_new)), eps)
        keep = [ew.select(on, new, old) for new, old in
                zip((r_new, c_new, total_new, dc_new, dtotal_new),
                    (r, c, total, dc_da, dtotal_da))]
        return (ew.bitwise_and(on, going), *keep)

    init = (enabled, a, full_like(a, 1), full_like(a, 1), full_like(a, 0), full_like(a, 0))
    _, _, _, total, _, dtotal_da = while_loop(lambda s: _any(s[0]), body, init)
    if mode == _VALUE:
        return ew.div(ew.mul(total, ax), a)
    dlogax_da = ew.sub(ew.log(x), ew.digamma(ew.add(a, one)))
    if mode == _DERIVATIVE:
        return ew.div(ew.mul(ax, ew.add(ew.mul(total, dlogax_da), dtotal_da)), a)
    return ew.div(ew.mul(ew.neg(ew.add(dtotal_da, ew.mul(total, dlogax_da))), x), a)


def _continued_fraction(ax, x, a, enabled, mode):
    """Q's continued fraction ``p_k / q_k`` and its a-derivative, combined per ``mode``."""
    eps = _c(x, dtypes.finfo(get_aval(x).dtype).eps)
    one, two = _c(x, 1), _c(x, 2)

    def body(state):
        (on, ans, t, y, z, k, pkm1, qkm1, pkm2, qkm2,
         dpkm2, dqkm2, dpkm1, dqkm1, dans) = state
        k_new = ew.add(k, one)
        y_new = ew.add(y, one)
        z_new = ew.add(z, two)
        yk = ew.mul(y_new, k_new)
        pk = ew.sub(ew.mul(pkm1, z_new), ew.mul(pkm2, yk))
        qk = ew.sub(ew.mul(qkm1, z_new), ew.mul(qkm2, yk))
        q_ok = ew.ne(qk, _c(qk, 0))
        r = ew.div(pk, qk)
        t_new = ew.select(q_ok, ew.abs(ew.div(ew.sub(ans, r), r)), full_like(r, 1))
        ans_new = ew.select(q_ok, r, ans)
        dpk = ew.add(ew.sub(ew.sub(ew.mul(dpkm1, z_new), pkm1), ew.mul(dpkm2, yk)),
                     ew.mul(pkm2, k_new))
        dqk = ew.add(ew.sub(ew.sub(ew.mul(dqkm1, z_new), qkm1), ew.mul(dqkm2, yk)),
                     ew.mul(qkm2, k_new))
        dans_new = ew.select(q_ok, ew.div(ew.sub(dpk, ew.mul(ans_new, dqk)), qk), dans)
        dchange = ew.select(q_ok, ew.abs(ew.sub(dans_new, dans)), full_like(dans, 1))
        # shift the recurrence by one, scaling all four terms down when they grow large
        big = ew.gt(ew.abs(pk), ew.reciprocal(eps))
        shifted = [pkm1, pk, qkm1, qk, dpkm1, dqkm1, dpk, dqk]   # the new k-2, k-1 terms
        shifted = [ew.select(big, ew.mul(v, eps), v) for v in shifted]
        npkm2, npkm1, nqkm2, nqkm1, ndpkm2, ndqkm2, ndpkm1, ndqkm1 = shifted
        going = ew.gt(t_new, eps) if mode == _VALUE else ew.gt(dchange, eps)
        new = (ans_new, t_new, y_new, z_new, k_new, npkm1, nqkm1, npkm2, nqkm2,
               ndpkm2, ndqkm2, ndpkm1, ndqkm1, dans_new)
        old = (ans, t, y, z, k, pkm1, qkm1, pkm2, qkm2, dpkm2, dqkm2, dpkm1, dqkm1, dans)
        # (the term counter ``k`` advances for every element, as in XLA: it bounds the loop)
        kept = [n if i == 4 else ew.select(on, n, o) for i, (n, o) in enumerate(zip(new, old))]
        return (ew.bitwise_and(on, going), *kept)

    def cond(state):
        return ew.bitwise_and(_any(state[0]),
                              _any(ew.lt(state[5], _c(x, _MAX_FRACTION_TERMS))))

    y = ew.sub(one, a)
    z = ew.add(ew.add(x, y), one)
    pkm2, qkm2 = full_like(x, 1), x
    pkm1, qkm1 = ew.add(x, one), ew.mul(z, x)
    ans = ew.div(pkm1, qkm1)
    zero = full_like(x, 0)
    dqkm1 = ew.neg(x)
    dans = ew.div(ew.sub(zero, ew.mul(ans, dqkm1)), qkm1)
    init = (enabled, ans, full_like(x, 1), y, z, zero, pkm1, qkm1, pkm2, qkm2,
            zero, zero, zero, dqkm1, dans)
    out = while_loop(cond, body, init)
    ans, dans = out[1], out[14]
    if mode == _VALUE:
        return ew.mul(ans, ax)
    dlogax_da = ew.sub(ew.log(x), ew.digamma(a))
    if mode == _DERIVATIVE:
        return ew.mul(ax, ew.add(ew.mul(ans, dlogax_da), dans))
    return ew.neg(ew.mul(ew.add(dans, ew.mul(ans, dlogax_da)), x))


def _prepare(name: str, a: Any, x: Any):
    """Both arguments as arrays of their broadcast shape and one float dtype; half
    precision runs in float32 (the result is cast back)."""
    a, x = as_operand(a), as_operand(x)
    da, dx = get_aval(a).dtype, get_aval(x).dtype
    if not (dtypes.is_float(da) and dtypes.is_float(dx)):
        raise TypeError(f"{name} requires floating-point arguments, got {da} and {dx}")
    if da != dx:
        raise TypeError(f"{name} requires arguments of the same dtype, got {da} and {dx}")
    shape = tuple(np.broadcast_shapes(get_aval(a).shape, get_aval(x).shape))

    def bcast(v):
        vs = get_aval(v).shape
        if vs == shape:
            return v
        return broadcast_in_dim(v, shape, tuple(range(len(shape) - len(vs), len(shape))))

    a, x = bcast(a), bcast(x)
    if np.dtype(da).itemsize < 4:
        a, x = ew.convert_element_type(a, np.float32), ew.convert_element_type(x, np.float32)
    return a, x, np.dtype(da)


def _log_prefactor(a, x):
    """``a log x - x - lgamma(a)`` (the log of ``x^a e^-x / Gamma(a)``), whether it
    underflows, and its exp."""
    log_ax = ew.sub(ew.sub(ew.mul(a, ew.log(x)), x), ew.lgamma(a))
    underflow = ew.lt(log_ax, _c(a, -np.log(dtypes.finfo(get_aval(a).dtype).max)))
    return underflow, ew.exp(log_ax)


def _nan_like(a):
    return full_like(a, np.nan)


def _igamma_value(a, x):
    is_nan = ew.bitwise_or(ew.ne(a, a), ew.ne(x, x))
    x_inf = ew.eq(x, _c(x, np.inf))
    x_zero = ew.eq(x, _c(x, 0))
    bad = ew.bitwise_or(ew.bitwise_or(ew.lt(x, _c(x, 0)), ew.lt(a, _c(a, 0))),
                        ew.bitwise_or(ew.bitwise_and(ew.eq(a, _c(a, 0)), x_zero), is_nan))
    use_fraction = ew.bitwise_and(ew.ge(x, _c(x, 1)), ew.gt(x, a))
    underflow, ax = _log_prefactor(a, x)
    enabled = ew.bitwise_not(ew.bitwise_or(ew.bitwise_or(x_zero, bad),
                                           ew.bitwise_or(underflow, x_inf)))
    from_fraction = ew.sub(_c(a, 1), _continued_fraction(
        ax, x, a, ew.bitwise_and(enabled, use_fraction), _VALUE))
    from_series = _series(ax, x, a, ew.bitwise_and(enabled, ew.bitwise_not(use_fraction)),
                          _VALUE)
    out = ew.select(use_fraction, from_fraction, from_series)
    out = ew.select(x_zero, full_like(a, 0), out)
    out = ew.select(x_inf, full_like(a, 1), out)
    return ew.select(bad, _nan_like(a), out)


def _igammac_value(a, x):
    is_nan = ew.bitwise_or(ew.ne(a, a), ew.ne(x, x))
    a_zero = ew.eq(a, _c(a, 0))
    x_zero = ew.eq(x, _c(x, 0))
    x_inf = ew.eq(x, _c(x, np.inf))
    bad = ew.bitwise_or(ew.bitwise_or(ew.lt(x, _c(x, 0)), ew.lt(a, _c(a, 0))),
                        ew.bitwise_or(ew.bitwise_and(a_zero, x_zero), is_nan))
    use_series = ew.bitwise_or(ew.lt(x, _c(x, 1)), ew.lt(x, a))
    underflow, ax = _log_prefactor(a, x)
    enabled = ew.bitwise_not(ew.bitwise_or(ew.bitwise_or(bad, underflow),
                                           ew.bitwise_or(x_inf, a_zero)))
    from_series = ew.sub(_c(a, 1), _series(ax, x, a, ew.bitwise_and(enabled, use_series),
                                           _VALUE))
    from_fraction = _continued_fraction(
        ax, x, a, ew.bitwise_and(enabled, ew.bitwise_not(use_series)), _VALUE)
    out = ew.select(use_series, from_series, from_fraction)
    out = ew.select(ew.bitwise_or(x_inf, a_zero), full_like(out, 0), out)
    return ew.select(bad, _nan_like(a), out)


def _a_derivative(a, x, mode):
    """dP/da (``mode`` _DERIVATIVE) or the sample derivative (_SAMPLE_DERIVATIVE)."""
    is_nan = ew.bitwise_or(ew.ne(a, a), ew.ne(x, x))
    x_zero = ew.eq(x, _c(x, 0))
    bad = ew.bitwise_or(ew.lt(x, _c(x, 0)), ew.le(a, _c(a, 0)))
    use_fraction = ew.bitwise_and(ew.gt(x, _c(x, 1)), ew.gt(x, a))
    underflow, ax = _log_prefactor(a, x)
    enabled = ew.bitwise_not(ew.bitwise_or(ew.bitwise_or(x_zero, bad),
                                           ew.bitwise_or(underflow, is_nan)))
    from_fraction = ew.neg(_continued_fraction(
        ax, x, a, ew.bitwise_and(enabled, use_fraction), mode))
    from_series = _series(ax, x, a, ew.bitwise_and(enabled, ew.bitwise_not(use_fraction)),
                          mode)
    out = ew.select(use_fraction, from_fraction, from_series)
    out = ew.select(x_zero, full_like(out, 0), out)
    return ew.select(ew.bitwise_or(bad, is_nan), _nan_like(a), out)


def _dp_dx(a, x):
    """``x^(a-1) e^-x / Gamma(a)``, the density of Gamma(a, 1)."""
    return ew.exp(ew.sub(ew.add(ew.neg(x), ew.mul(ew.sub(a, _c(a, 1)), ew.log(x))),
                         ew.lgamma(a)))


@custom_jvp
def _igamma(a, x):
    return _igamma_value(a, x)


@_igamma.defjvp
def _igamma_jvp(primals, tangents):
    a, x = primals
    ta, tx = tangents
    return _igamma(a, x), ew.add(ew.mul(ta, _igamma_grad_a(a, x)), ew.mul(tx, _dp_dx(a, x)))


@custom_jvp
def _igammac(a, x):
    return _igammac_value(a, x)


@_igammac.defjvp
def _igammac_jvp(primals, tangents):
    a, x = primals
    ta, tx = tangents
    dp = ew.add(ew.mul(ta, _igamma_grad_a(a, x)), ew.mul(tx, _dp_dx(a, x)))
    return _igammac(a, x), ew.neg(dp)


def _igamma_grad_a(a, x):
    return _a_derivative(a, x, _DERIVATIVE)


def _finish(out, dtype):
    return out if get_aval(out).dtype == dtype else ew.convert_element_type(out, dtype)


def igamma(a: Any, x: Any):
    """The regularized lower incomplete gamma function ``P(a, x)`` (elementwise; ``a`` and
    ``x`` broadcast and share a float dtype). NaN outside ``a >= 0, x >= 0``.
    Example: ``igamma(np.float32(2.), np.array([0.5, 3.], np.float32))`` is ``float32[2]``
    (``scipy.special.gammainc``)."""
    a, x, dtype = _prepare("igamma", a, x)
    return _finish(_igamma(a, x), dtype)


def igammac(a: Any, x: Any):
    """The regularized upper incomplete gamma function ``Q(a, x) = 1 - P(a, x)``
    (``scipy.special.gammaincc``), computed directly where it is small."""
    a, x, dtype = _prepare("igammac", a, x)
    return _finish(_igammac(a, x), dtype)


def igamma_grad_a(a: Any, x: Any):
    """``dP(a, x)/da``, the derivative of :func:`igamma` in its first argument."""
    a, x, dtype = _prepare("igamma_grad_a", a, x)
    return _finish(_igamma_grad_a(a, x), dtype)


def random_gamma_grad(a: Any, x: Any):
    """The derivative of a Gamma(``a``, 1) sample ``x`` with respect to ``a`` with the
    sample's CDF held fixed: ``-(dP/da) / (dP/dx)`` (what ``gamma`` samples differentiate
    by). Example: ``random_gamma_grad(np.float32(2.), np.float32(1.5))`` is a float32
    scalar."""
    a, x, dtype = _prepare("random_gamma_grad", a, x)
    return _finish(_a_derivative(a, x, _SAMPLE_DERIVATIVE), dtype)
