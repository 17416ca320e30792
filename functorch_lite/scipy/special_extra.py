"""Further ``jax.scipy.special`` names: the incomplete beta function ``betainc``; the
exponential integrals ``exp1``, ``expi``, ``expn``; the dilogarithm ``spence``; Dawson's
integral ``dawsn``; the sine/cosine integrals ``sici``; the Fresnel integrals ``fresnel``;
Owen's T function ``owens_t``.

The algorithms are textbook ones written afresh from their defining series, continued
fractions and asymptotic expansions (DLMF chapters 5-8), not minimax tables:

* power series where their terms do not cancel much (small arguments);
* continued fractions, evaluated by the modified Lentz method in a ``while_loop`` that
  freezes each element once it has converged (so an element's value never depends on its
  neighbours, and ``vmap`` agrees with a Python loop);
* asymptotic expansions, cut at a fixed depth chosen so that every term still shrinks, where
  the argument is large;
* Gauss-Legendre quadrature (nodes computed by NumPy at trace time) for Owen's T.

Every function promotes like JAX (integers to the default float dtype), broadcasts, works in
float32 and float64 and is differentiable through a ``custom_jvp`` carrying the closed-form
derivative (differentiating the iterations would be slow and inaccurate).

Where JAX returns NaN or a wrong value, these follow SciPy (or the limit): ``exp1(inf)`` and
``expn(n, inf)`` are 0; ``expn(n, 0)`` is ``1/(n-1)`` for ``n >= 2``; ``expi(0)`` is
-inf, ``expi(inf)`` inf and ``expi(-inf)`` -0; ``owens_t(0, +-inf)`` is +-1/4;
``spence``'s derivative is ``log(x)/(1-x)`` everywhere (-1 at 1). As JAX: ``betainc``
is differentiable in ``x`` only (ValueError for ``a``/``b``), ``expn`` of a non-integer
order is NaN, ``spence`` takes float32/float64 only.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from functorch_lite import lax
from functorch_lite.core import dtypes
from functorch_lite.core.avals import TypedScalar
from functorch_lite.lax.custom_derivatives import custom_jvp
from functorch_lite.lax.custom_derivatives._common import SymbolicZero
from functorch_lite.numpy import reductions as _red
from functorch_lite.numpy import shapes as _shapes
from functorch_lite.numpy import ufuncs as _uf
from functorch_lite.numpy._eager import compiled_when_eager
from functorch_lite.numpy.creation import asarray
from functorch_lite.scipy.special_more import _arrays, _bernoulli_exact, _real

__all__ = ["betainc", "exp1", "expi", "expn", "spence", "dawsn", "sici", "fresnel",
           "owens_t"]

_EULER = 0.57721566490153286061
_PI = math.pi
_SQRT_PI = math.sqrt(math.pi)
_EXACT_ORDERS = 16


# ---------------------------------------------------------------------------- helpers

def _eps(x) -> float:
    return float(dtypes.finfo(x.dtype).eps)


def _tiny(x) -> float:
    return float(dtypes.finfo(x.dtype).tiny)


def _is_f64(x) -> bool:
    return np.dtype(x.dtype) == np.float64


def _broadcast(*args):
    return _shapes.broadcast_arrays(*args)


def _iterate(step, state, active, max_iter: int):
    """Run ``step(k, state) -> (new_state, done)`` for k = 0, 1, ... while some element of
    ``active`` is still going and ``k < max_iter``. An element stops updating once ``done``
    is true for it (or if it never was active), so its result is that of its own
    iteration."""
    def cond(carry):
        k, on, _ = carry
        return (k < max_iter) & _red.any(on)

    def body(carry):
        k, on, st = carry
        new, done = step(k, st)
        st = tuple(_uf.where(on, n, o) for n, o in zip(new, st))
        return k + 1, on & ~done, st

    _, _, out = lax.while_loop(cond, body, (asarray(np.int32(0)), active, tuple(state)))
    return out


def _guard(v, tiny):
    """``v``, moved away from zero to ``tiny`` (Lentz's remedy for a vanishing
    denominator)."""
    return _uf.where(lax.abs(v) < tiny, tiny, v)


def _cmul(ar, ai, br, bi):
    return ar * br - ai * bi, ar * bi + ai * br


def _crecip(ar, ai):
    # scaled by the larger component, so that neither overflows nor underflows
    swap = lax.abs(ar) < lax.abs(ai)
    p = _uf.where(swap, ai, ar)
    q = _uf.where(swap, ar, ai)
    r = q / p
    den = p + q * r
    re, im = 1.0 / den, -r / den
    return _uf.where(swap, -im, re), _uf.where(swap, -re, im)


def _complex_lentz(b0r, b0i, num, bre, bim, active, max_iter):
    """The complex continued fraction ``b0 + a1/(b1 + a2/(b2 + ...))`` with real partial
    numerators ``num(j)`` and denominators ``b_j = bre(j) + i bim``, by modified Lentz."""
    zero = lax.full_like(b0r, 0.0)

    def step(k, st):
        fr, fi, cr, ci, dr, di = st
        j = (k + 1).astype(b0r.dtype)
        a, br = num(j), bre(j)
        # D <- 1 / (b + a D);  C <- b + a / C;  f <- f C D
        dr, di = _crecip(br + a * dr, bim + a * di)
        icr, ici = _crecip(cr, ci)
        cr, ci = br + a * icr, bim + a * ici
        delr, deli = _cmul(cr, ci, dr, di)
        fr, fi = _cmul(fr, fi, delr, deli)
        done = lax.abs(delr - 1.0) + lax.abs(deli) <= _eps(b0r)
        return (fr, fi, cr, ci, dr, di), done

    fr, fi, *_ = _iterate(step, (b0r, b0i, b0r, b0i, zero, zero), active, max_iter)
    return fr, fi


def _in_f32(fn, *args):
    """``fn(*args)``, computed in float32 for half-precision arguments."""
    dtype = args[0].dtype
    if np.dtype(dtype).itemsize < 4:
        out = fn(*[lax.convert_element_type(a, np.float32) for a in args])
        if isinstance(out, tuple):
            return tuple(lax.convert_element_type(o, dtype) for o in out)
        return lax.convert_element_type(out, dtype)
    return fn(*args)


def _float_args(name, *args):
    """``args`` promoted as JAX promotes them, broadcast to one shape; real floats only."""
    out = _real(name, *args)
    if not dtypes.is_float(out[0].dtype):
        raise ValueError(f"{name} supports real floating-point inputs, got {out[0].dtype}")
    # (a Python scalar stays a weak scalar under a transformation: made an array here so
    # that the custom rules see arrays only)
    out = [lax.full((), o, o.dtype) if isinstance(o, TypedScalar) else o for o in out]
    return _broadcast(*out) if len(out) > 1 else out


# ---------------------------------------------------------------------------- betainc

def _betainc_value(a, b, x):
    valid = (a > 0) & (b > 0) & (x > 0) & (x < 1) & _uf.isfinite(a) & _uf.isfinite(b)
    a_ = _uf.where(valid, a, 1.0)
    b_ = _uf.where(valid, b, 1.0)
    x_ = _uf.where(valid, x, 0.5)
    # The continued fraction (DLMF 8.17.22) converges fast for x < (a+1)/(a+b+2); beyond,
    # use I_x(a, b) = 1 - I_{1-x}(b, a).
    swap = x_ > (a_ + 1.0) / (a_ + b_ + 2.0)
    p = _uf.where(swap, b_, a_)
    q = _uf.where(swap, a_, b_)
    y = _uf.where(swap, 1.0 - x_, x_)
    tiny, eps = _tiny(x), _eps(x)

    def step(k, st):
        f, c, d = st
        j = (k + 1).astype(x.dtype)
        m = lax.floor(j * 0.5)
        odd = (j - 2.0 * m) == 1.0
        d_odd = -(p + m) * (p + q + m) * y / ((p + 2.0 * m) * (p + 2.0 * m + 1.0))
        d_even = m * (q - m) * y / ((p + 2.0 * m - 1.0) * (p + 2.0 * m))
        dj = _uf.where(odd, d_odd, d_even)
        d = 1.0 / _guard(1.0 + dj * d, tiny)
        c = _guard(1.0 + dj / c, tiny)
        delta = c * d
        return (f * delta, c, d), lax.abs(delta - 1.0) <= eps

    one = lax.full_like(x_, 1.0)
    f, _, _ = _iterate(step, (one, one, lax.full_like(x_, 0.0)), valid,
                       600 if _is_f64(x) else 200)
    # x^a (1-x)^b / (p B(a, b)), with p B(a, b) = Gamma(p+1) Gamma(q) / Gamma(a+b) so that
    # a tiny p needs no division
    log_front = (a_ * lax.log(x_) + b_ * lax.log1p(-x_)
                 - (lax.lgamma(p + 1.0) + lax.lgamma(q) - lax.lgamma(a_ + b_)))
    part = lax.exp(log_front) / f
    out = _uf.where(swap, 1.0 - part, part)
    # the limits, as JAX: a == 0 (or b == inf) puts all mass at 0, b == 0 (or a == inf) at 1
    a_zero = (a == 0) | (b == np.inf)
    b_zero = (b == 0) | (a == np.inf)
    out = _uf.where((b_zero & (x != 1)) | (a_zero & (x == 0)) | (x == 0), 0.0, out)
    out = _uf.where((a_zero & (x != 0)) | (b_zero & (x == 1)) | (x == 1), 1.0, out)
    bad = ((a < 0) | (b < 0) | (x < 0) | (x > 1) | (a_zero & b_zero)
           | _uf.isnan(a) | _uf.isnan(b) | _uf.isnan(x))
    return _uf.where(bad, np.nan, out)


@custom_jvp
@_arrays
def _betainc(a, b, x):
    return _betainc_value(a, b, x)


def _betainc_jvp(primals, tangents):
    (a, b, x), (ta, tb, tx) = primals, tangents
    if type(ta) is not SymbolicZero or type(tb) is not SymbolicZero:
        raise ValueError("betainc is differentiable in x only (as in JAX): its gradient "
                         "with respect to a and b is not supported; wrap a and b in "
                         "lax.stop_gradient or differentiate with respect to x.")
    out = _betainc(a, b, x)
    if type(tx) is SymbolicZero:
        return out, lax.full_like(out, 0.0)
    # the integrand x^(a-1) (1-x)^(b-1) / B(a, b)
    log_beta = lax.lgamma(a) + lax.lgamma(b) - lax.lgamma(a + b)
    dx = lax.exp((a - 1.0) * lax.log(x) + (b - 1.0) * lax.log1p(-x) - log_beta)
    return out, dx * tx


_betainc.defjvp(_betainc_jvp, symbolic_zeros=True)


@compiled_when_eager
def _betainc_compiled(a, b, x):
    return _in_f32(_betainc, a, b, x)


def betainc(a: Any, b: Any, x: Any):
    """The regularized incomplete beta function
    ``I_x(a, b) = (1 / B(a, b)) * integral_0^x t^(a-1) (1-t)^(b-1) dt``, elementwise over
    the broadcast shape of ``a``, ``b`` and ``x`` (NaN outside ``a, b >= 0``,
    ``0 <= x <= 1``). Differentiable in ``x`` only, as JAX's.

    >>> betainc(2.0, 3.0, 0.5)  # 0.6875
    """
    return _betainc_compiled(*_float_args("betainc", a, b, x))


# ------------------------------------------------------------------ exponential integrals

def _expn_series(n, x, active):
    """E_n(x) for 0 < x <= 1 from its power series (DLMF 8.19.8):
    (-x)^(n-1)/(n-1)! (psi(n) - ln x) - sum_{k != n-1} (-x)^k / ((k - n + 1) k!)."""
    eps = _eps(x)

    def step(k, st):
        total, t = st
        kf = k.astype(x.dtype)
        skip = kf == n - 1.0
        term = _uf.where(skip, 0.0, t / _uf.where(skip, 1.0, kf - n + 1.0))
        total = total + term
        done = ~skip & (lax.abs(term) <= eps * lax.abs(total))
        return (total, t * -x / (kf + 1.0)), done

    total, _ = _iterate(step, (lax.full_like(x, 0.0), lax.full_like(x, 1.0)), active, 400)
    logx = lax.log(x)
    # psi(n) = -gamma + H_(n-1) and (n-1)! summed exactly for small n (where this leading
    # term matters most, and where lax's digamma and lgamma are a few ulp off in float32)
    harmonic, factorial = lax.full_like(x, -_EULER), lax.full_like(x, 1.0)
    for k in range(1, _EXACT_ORDERS):
        harmonic = harmonic + _uf.where(k < n, 1.0 / k, 0.0)
        factorial = factorial * _uf.where(k < n, float(k), 1.0)
    exact = n <= _EXACT_ORDERS
    n_big = _uf.where(exact, _EXACT_ORDERS + 1.0, n)
    psi = _uf.where(exact, harmonic, lax.digamma(n_big))
    log_fact = _uf.where(exact, lax.log(factorial), lax.lgamma(n_big))
    # (-x)^(n-1)/(n-1)!, its sign from the parity of n - 1
    sign = 1.0 - 2.0 * _uf.remainder(n - 1.0, 2.0)
    lead = sign * lax.exp((n - 1.0) * logx - log_fact) * (psi - logx)
    return lead - total


def _expn_fraction(n, x, active):
    """E_n(x) for x > 1 from its continued fraction (DLMF 8.19.17, even part):
    e^-x / (x+n - 1 n/(x+n+2 - 2 (n+1)/(x+n+4 - ...)))."""
    tiny, eps = _tiny(x), _eps(x)
    b0 = x + n

    def step(k, st):
        f, c, d = st
        j = (k + 1).astype(x.dtype)
        a, b = -j * (n + j - 1.0), b0 + 2.0 * j
        d = 1.0 / _guard(b + a * d, tiny)
        c = _guard(b + a / c, tiny)
        delta = c * d
        return (f * delta, c, d), lax.abs(delta - 1.0) <= eps

    f, _, _ = _iterate(step, (b0, b0, lax.full_like(x, 0.0)), active, 1000)
    return lax.exp(-x) / f


def _expn_value(n, x):
    integer = (n >= 0) & (n == lax.floor(n))
    ok = integer & (x > 0) & (x < np.inf)
    small = x <= 1.0
    n_ = _uf.where(ok & (n > 0), n, 1.0)
    xs = _uf.where(ok & small, x, 0.5)
    xl = _uf.where(ok & ~small, x, 2.0)
    out = _uf.where(small, _expn_series(n_, xs, ok & small),
                    _expn_fraction(n_, xl, ok & ~small))
    x0 = _uf.where(x == 0, 1.0, x)
    out = _uf.where(n == 0, lax.exp(-x0) / x0, out)
    # E_n(0) = 1/(n-1) for n >= 2 (diverges for n <= 1); E_n(inf) = 0
    out = _uf.where(x == 0, _uf.where(n <= 1, np.inf, 1.0 / _uf.where(n <= 1, 2.0, n - 1.0)),
                    out)
    out = _uf.where(x == np.inf, 0.0, out)
    return _uf.where(~integer | (x < 0) | _uf.isnan(x), np.nan, out)


@custom_jvp
@_arrays
def _expn(n, x):
    return _expn_value(n, x)


def _expn_jvp(primals, tangents):
    # d/dx E_n(x) = -E_{n-1}(x); the order is not differentiable
    (n, x), (_, tx) = primals, tangents
    out = _expn(n, x)
    if type(tx) is SymbolicZero:
        return out, lax.full_like(out, 0.0)
    return out, -_expn(n - 1.0, x) * tx


_expn.defjvp(_expn_jvp, symbolic_zeros=True)


@compiled_when_eager
def _expn_compiled(n, x):
    return _in_f32(_expn, n, x)


def expn(n: Any, x: Any):
    """The generalized exponential integral ``E_n(x) = integral_1^inf e^(-x t) / t^n dt``
    for integer orders ``n >= 0`` and ``x >= 0`` (NaN elsewhere, including non-integer
    ``n``), elementwise over the broadcast shape. Differentiable in ``x``.

    >>> expn(2, 1.0)  # 0.14849551
    """
    n, x = _float_args("expn", n, x)
    return _expn_compiled(n, x)


@compiled_when_eager
def _exp1_compiled(x):
    return _in_f32(_expn, lax.full_like(x, 1.0), x)


def exp1(x: Any):
    """The exponential integral ``E_1(x) = integral_x^inf e^-t / t dt`` for ``x >= 0``
    (inf at 0, NaN for negative ``x``), elementwise.

    >>> exp1(1.0)  # 0.21938393
    """
    (x,) = _float_args("exp1", x)
    return _exp1_compiled(x)


def _expi_positive(x, active):
    """Ei(x) for x > 0: the series gamma + ln x + sum x^k / (k k!) (all terms positive)
    up to a cut, the asymptotic series e^x / x sum_k k! / x^k beyond it."""
    eps = _eps(x)
    cut, depth = (40.0, 40) if _is_f64(x) else (24.0, 24)
    near = x <= cut
    xs = _uf.where(near, x, 1.0)
    xl = _uf.where(near, cut + 1.0, x)

    def step(k, st):
        total, t = st
        kf = (k + 1).astype(x.dtype)
        t = t * xs / kf
        total = total + t / kf
        return (total, t), t <= eps * kf * total

    total, _ = _iterate(step, (lax.full_like(x, 0.0), lax.full_like(x, 1.0)),
                        active & near, 1000)
    series = _EULER + lax.log(xs) + total
    # (every term of the asymptotic sum still shrinks at ``depth`` since xl > depth)
    tail = lax.full_like(xl, 1.0)
    for k in range(depth, 0, -1):
        tail = 1.0 + (k / xl) * tail
    half = lax.exp(0.5 * xl)  # e^x in two halves: finite while Ei(x) is
    return _uf.where(near, series, half * (half / xl) * tail)


def _expi_value(x):
    pos = x > 0
    xp = _uf.where(pos & (x < np.inf), x, 1.0)
    xn = _uf.where(x < 0, -x, 1.0)
    out = _uf.where(pos, _expi_positive(xp, pos & (x < np.inf)),
                    -_expn(lax.full_like(x, 1.0), xn))
    out = _uf.where(x == np.inf, np.inf, out)
    out = _uf.where(x == -np.inf, -0.0, out)
    return _uf.where(x == 0, -np.inf, _uf.where(_uf.isnan(x), np.nan, out))


@custom_jvp
@_arrays
def _expi(x):
    return _expi_value(x)


@_expi.defjvp
def _expi_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return _expi(x), lax.exp(x) / x * t


@compiled_when_eager
def _expi_compiled(x):
    return _in_f32(_expi, x)


def expi(x: Any):
    """The exponential integral ``Ei(x) = PV integral_-inf^x e^t / t dt`` for real ``x``
    (``-E_1(-x)`` for negative ``x``; -inf at 0), elementwise.

    >>> expi(1.0)  # 1.8951178
    """
    (x,) = _float_args("expi", x)
    return _expi_compiled(x)


# ---------------------------------------------------------------------------- spence

# Li2(z) = sum_n B_n u^(n+1) / (n+1)!, u = -ln(1 - z): the coefficients B_n / (n+1)!
_LI2_COEFFS = tuple(float(b / math.factorial(n + 1))
                    for n, b in enumerate(_bernoulli_exact(24)))


def _li2_near(u):
    """Li2(z) from u = -ln(1 - z), for |u| <= ln 2 (its terms shrink like (u / 2 pi)^n)."""
    total = lax.full_like(u, 0.0)
    for c in reversed(_LI2_COEFFS):
        total = (total + c) * u
    return total


def _spence_value(x):
    # spence(x) = Li2(1 - x). Three ranges, each brought to |u| <= ln 2:
    #   0.5 <= x <= 2:  Li2(1 - x) directly, u = -ln x;
    #   x < 0.5:        pi^2/6 - ln x ln(1 - x) - Li2(x)          (u = -ln(1 - x));
    #   x > 2:          -pi^2/6 - ln(x - 1)^2 / 2 - Li2(1/(1 - x)) (u = ln(1 - 1/x)).
    low, high = x < 0.5, x > 2.0
    xm = _uf.where(low | high | ~(x > 0), 1.0, x)
    xlo = _uf.where(low & (x > 0), x, 0.25)
    xhi = _uf.where(high & (x < np.inf), x, 4.0)
    mid = _li2_near(-lax.log(xm))
    lo = (_PI ** 2 / 6.0 - lax.log(xlo) * lax.log1p(-xlo) - _li2_near(-lax.log1p(-xlo)))
    lhm = lax.log(xhi - 1.0)
    hi = -_PI ** 2 / 6.0 - 0.5 * lhm * lhm - _li2_near(lax.log1p(-1.0 / xhi))
    out = _uf.where(low, lo, _uf.where(high, hi, mid))
    out = _uf.where(x == 0, _PI ** 2 / 6.0, out)
    # (as JAX and scipy, NaN at +inf, though the function tends to -inf there)
    return _uf.where((x < 0) | (x == np.inf) | _uf.isnan(x), np.nan, out)


@custom_jvp
@_arrays
def _spence(x):
    return _spence_value(x)


@_spence.defjvp
def _spence_jvp(primals, tangents):
    # spence'(x) = ln x / (1 - x), -1 at x = 1
    (x,), (t,) = primals, tangents
    one = x == 1.0
    d = lax.log(x) / _uf.where(one, 1.0, 1.0 - x)
    return _spence(x), _uf.where(one, -1.0, d) * t


@compiled_when_eager
def _spence_compiled(x):
    return _spence(x)


def spence(x: Any):
    """Spence's function ``integral_1^x ln t / (1 - t) dt`` (the dilogarithm
    ``Li2(1 - x)``) for real ``x >= 0``; NaN for negative ``x`` and at +inf. As JAX's, it
    takes float32 and float64 arrays only (a ``TypeError`` otherwise).

    >>> spence(np.float32(2.0))  # -0.82246703
    """
    x = asarray(x)
    if np.dtype(x.dtype) not in (np.float32, np.float64):
        raise TypeError(f"spence: x.dtype={x.dtype} is not supported; pass float32 or "
                        f"float64 values (e.g. x.astype(float)).")
    return _spence_compiled(x)


# ---------------------------------------------------------------------------- dawsn

def _dawsn_value(x):
    # Near 0: F(x) = e^(-x^2) sum_k x^(2k+1) / (k! (2k+1)), every term positive. e^(-x^2)
    # is taken as e^(-h^2) e^(-(2h l + l^2)) with x = h + l, h a multiple of 1/64 (h^2 is
    # then exact), so x^2's rounding does not reach the result. Far out: the asymptotic
    # series F(x) ~ 1/(2x) sum_k (2k-1)!! / (2x^2)^k, cut at ``depth`` <= cut^2 terms.
    cut, depth = (6.5, 42) if _is_f64(x) else (4.5, 20)
    ax = lax.abs(x)
    near = ax <= cut
    xs = _uf.where(near, ax, 1.0)
    xl = _uf.where(near | (ax == np.inf), cut + 1.0, ax)
    eps = _eps(x)
    x2 = xs * xs

    def step(k, st):
        total, t = st
        kf = (k + 1).astype(x.dtype)
        t = t * x2 / kf
        term = t / (2.0 * kf + 1.0)
        return (total + term, t), term <= eps * total

    total, _ = _iterate(step, (lax.full_like(xs, 1.0), lax.full_like(xs, 1.0)),
                        near & (ax > 0), 500)
    h = lax.round(xs * 64.0) / 64.0
    lo = xs - h
    series = xs * total * lax.exp(-(h * h)) * lax.exp(-(lo * (2.0 * h + lo)))
    inv = 1.0 / (2.0 * xl * xl)
    tail = lax.full_like(xl, 1.0)
    for k in range(depth, 0, -1):
        tail = 1.0 + ((2 * k - 1) * inv) * tail
    far = tail / (2.0 * xl)
    out = _uf.where(near, series, _uf.where(ax == np.inf, 0.0, far))
    return _uf.where(x < 0, -out, _uf.where(x == 0, x, out))


@custom_jvp
@_arrays
def _dawsn(x):
    return _dawsn_value(x)


@_dawsn.defjvp
def _dawsn_jvp(primals, tangents):
    # F'(x) = 1 - 2 x F(x)
    (x,), (t,) = primals, tangents
    y = _dawsn(x)
    return y, (1.0 - 2.0 * x * y) * t


@compiled_when_eager
def _dawsn_compiled(x):
    return _in_f32(_dawsn, x)


def dawsn(x: Any):
    """Dawson's integral ``F(x) = e^(-x^2) integral_0^x e^(t^2) dt``, elementwise (odd in
    ``x``; 0 at +-inf).

    >>> dawsn(1.0)  # 0.5380795
    """
    (x,) = _float_args("dawsn", x)
    return _dawsn_compiled(x)


# ---------------------------------------------------------------------------- sici

def _sici_series(x):
    """Si and Ci - gamma - ln x from their power series (|x| <= 4: 20 pairs of terms)."""
    x2 = x * x
    si, t = x, x          # t = (-1)^k x^(2k+1) / (2k+1)!
    cin, u = lax.full_like(x, 0.0), lax.full_like(x, 1.0)  # u = (-1)^k x^(2k) / (2k)!
    for k in range(1, 21):
        u = u * -x2 / ((2 * k - 1) * (2 * k))
        cin = cin + u / (2 * k)
        t = t * -x2 / ((2 * k) * (2 * k + 1))
        si = si + t / (2 * k + 1)
    return si, cin


def _sici_value(x):
    ax = lax.abs(x)
    near = ax <= 4.0
    xs = _uf.where(near, ax, 1.0)
    xl = _uf.where(near | (ax == np.inf) | _uf.isnan(ax), 5.0, ax)
    si_n, cin = _sici_series(xs)
    ci_n = _EULER + lax.log(xs) + cin
    # E1(i x) = e^(-i x) / (1 + i x - 1/(3 + i x - 4/(5 + i x - ...))) = -Ci(x) + i (Si(x)
    # - pi/2) (DLMF 6.5.5 and the continued fraction of E1)
    fr, fi = _complex_lentz(lax.full_like(xl, 1.0), xl, lambda j: -j * j,
                            lambda j: 2.0 * j + 1.0, xl, ~near,
                            1000 if _is_f64(x) else 300)
    gr, gi = _crecip(fr, fi)
    er, ei = _cmul(lax.cos(xl), -lax.sin(xl), gr, gi)
    si = _uf.where(near, si_n, _PI / 2.0 + ei)
    ci = _uf.where(near, ci_n, -er)
    si = _uf.where(ax == np.inf, _PI / 2.0, si)
    ci = _uf.where(ax == np.inf, 0.0, ci)
    si = _uf.where(x < 0, -si, _uf.where(x == 0, x, si))
    ci = _uf.where(x == -np.inf, np.nan, ci)
    nan = _uf.isnan(x)
    return _uf.where(nan, np.nan, si), _uf.where(nan, np.nan, ci)


@custom_jvp
@_arrays
def _sici(x):
    return _sici_value(x)


@_sici.defjvp
def _sici_jvp(primals, tangents):
    # Si'(x) = sin(x) / x (1 at 0), Ci'(x) = cos(x) / x
    (x,), (t,) = primals, tangents
    x0 = _uf.where(x == 0, 1.0, x)
    dsi = _uf.where(x == 0, 1.0, lax.sin(x0) / x0)
    return _sici(x), (dsi * t, lax.cos(x) / x * t)


@compiled_when_eager
def _sici_compiled(x):
    return _in_f32(_sici, x)


def sici(x: Any):
    """The sine and cosine integrals ``(Si(x), Ci(x))``: ``Si(x) = integral_0^x sin t / t
    dt`` and ``Ci(x) = gamma + ln|x| + integral_0^x (cos t - 1) / t dt``, two arrays of
    ``x``'s shape (as JAX, Ci of a negative ``x`` is Ci(|x|), NaN at -inf).

    >>> si, ci = sici(1.0)  # 0.94608307, 0.33740392
    """
    (x,) = _float_args("sici", x)
    return _sici_compiled(x)


# ---------------------------------------------------------------------------- fresnel

def _half_square_phase(x):
    """(x^2 / 2) mod 2 for x >= 0, with the rounding of x^2 kept out: x = m + l1 + l2
    (m an integer, l1 a multiple of 2^-12), and each part of m^2/2 + m (l1 + l2) + l^2/2
    reduced on its own."""
    m = lax.floor(x)
    frac = x - m
    l1 = lax.floor(frac * 4096.0) / 4096.0
    l2 = frac - l1
    r = (0.5 * _uf.fmod(m, 2.0) + _uf.fmod(m * l1, 2.0) + _uf.fmod(m * l2, 2.0)
         + 0.5 * frac * frac)
    return _uf.fmod(r, 2.0)


def _fresnel_value(x):
    ax = lax.abs(x)
    near = ax < 1.5
    xs = _uf.where(near, ax, 1.0)
    xl = _uf.where(near | (ax == np.inf) | _uf.isnan(ax), 2.0, ax)
    # near 0: with v = pi x^2 / 2 and p_n = v^n / n!,
    #   C = x sum_k (-1)^k p_2k / (4k + 1),  S = x sum_k (-1)^k p_(2k+1) / (4k + 3)
    v = (0.5 * _PI) * xs * xs
    c_sum, s_sum, p = lax.full_like(xs, 1.0), lax.full_like(xs, 0.0), lax.full_like(xs, 1.0)
    for n in range(1, 33 if _is_f64(x) else 20):
        p = p * v / n
        term = (p if (n // 2) % 2 == 0 else -p) / (2 * n + 1)
        if n % 2:
            s_sum = s_sum + term
        else:
            c_sum = c_sum + term
    # far: C + i S = (1 + i)/2 (1 - erfc(z)), z = sqrt(pi)/2 (1 - i) x, with
    #   erfc(z) = e^(-z^2) / (sqrt(pi) (z + (1/2)/(z + 1/(z + (3/2)/(z + ...)))))
    # and e^(-z^2) = e^(i pi x^2 / 2)
    zr = (0.5 * _SQRT_PI) * xl
    fr, fi = _complex_lentz(zr, -zr, lambda j: 0.5 * j, lambda j: zr, -zr, ~near,
                            1000 if _is_f64(x) else 300)
    phase = _PI * _half_square_phase(xl)
    gr, gi = _crecip(fr, fi)
    wr, wi = _cmul(lax.cos(phase), lax.sin(phase), gr, gi)
    wr, wi = wr / _SQRT_PI, wi / _SQRT_PI
    c = _uf.where(near, xs * c_sum, 0.5 - 0.5 * (wr - wi))
    s = _uf.where(near, xs * s_sum, 0.5 - 0.5 * (wr + wi))
    c = _uf.where(ax == np.inf, 0.5, c)
    s = _uf.where(ax == np.inf, 0.5, s)
    neg = x < 0
    c, s = _uf.where(neg, -c, c), _uf.where(neg, -s, s)
    nan = _uf.isnan(x)
    return _uf.where(nan, np.nan, s), _uf.where(nan, np.nan, c)


@custom_jvp
@_arrays
def _fresnel(x):
    return _fresnel_value(x)


@_fresnel.defjvp
def _fresnel_jvp(primals, tangents):
    # S'(x) = sin(pi x^2 / 2), C'(x) = cos(pi x^2 / 2)
    (x,), (t,) = primals, tangents
    phase = _PI * _half_square_phase(lax.abs(x))
    return _fresnel(x), (lax.sin(phase) * t, lax.cos(phase) * t)


@compiled_when_eager
def _fresnel_compiled(x):
    return _in_f32(_fresnel, x)


def fresnel(x: Any):
    """The Fresnel integrals ``(S(x), C(x))``: ``S(x) = integral_0^x sin(pi t^2 / 2) dt``
    and ``C(x) = integral_0^x cos(pi t^2 / 2) dt``, two arrays of ``x``'s shape (odd in
    ``x``, +-1/2 at +-inf).

    >>> s, c = fresnel(1.0)  # 0.43825915, 0.7798934
    """
    (x,) = _float_args("fresnel", x)
    return _fresnel_compiled(x)


# ---------------------------------------------------------------------------- owens_t

def _owens_t_quadrature(h, a):
    """T(h, a) for h >= 0, 0 <= a <= 1 by Gauss-Legendre quadrature of
    (1/2pi) integral_0^a e^(-h^2 (1+t^2)/2) / (1+t^2) dt, over [0, min(a, c/h)]: beyond
    t = c/h the Gaussian factor is below the dtype's precision."""
    n, c = (32, 9.0) if _is_f64(h) else (20, 6.5)
    nodes, weights = np.polynomial.legendre.leggauss(n)
    upper = _uf.minimum(a, c / h)
    t = _shapes.expand_dims(upper, -1) * asarray(((nodes + 1.0) * 0.5).astype(h.dtype))
    h2 = _shapes.expand_dims(h * h, -1)
    one_t2 = 1.0 + t * t
    f = lax.exp(-0.5 * h2 * one_t2) / one_t2
    total = _red.sum(f * asarray((weights * 0.5).astype(h.dtype)), axis=-1)
    return total * upper / (2.0 * _PI)


def _upper_normal(x):
    return 0.5 * lax.erfc(x * math.sqrt(0.5))


def _owens_t_value(h, a):
    ah, aa = lax.abs(h), lax.abs(a)
    finite_h = _uf.where(ah == np.inf, 0.0, ah)
    big = aa > 1.0
    # |a| > 1: T(h, a) = (Phi(h) Q(ah) + Phi(ah) Q(h)) / 2 - T(ah, 1/a), from Owen's
    # T(h, a) + T(ah, 1/a) = (Phi(h) + Phi(ah))/2 - Phi(h) Phi(ah), written without
    # cancellation (Q = 1 - Phi)
    hh = _uf.where(big, _uf.where(ah == 0, 0.0, aa * finite_h), finite_h)
    qa = _uf.where(big, 1.0 / aa, aa)
    qa = _uf.where(_uf.isnan(qa), 0.0, qa)
    quad = _owens_t_quadrature(hh, qa)
    qh, qah = _upper_normal(finite_h), _upper_normal(hh)
    reflected = 0.5 * ((1.0 - qh) * qah + (1.0 - qah) * qh) - quad
    out = _uf.where(big, reflected, quad)
    out = _uf.where(ah == np.inf, 0.0, out)
    out = _uf.where(a < 0, -out, out)
    return _uf.where(_uf.isnan(h) | _uf.isnan(a), np.nan, out)


@custom_jvp
@_arrays
def _owens_t(h, a):
    return _owens_t_value(h, a)


@_owens_t.defjvp
def _owens_t_jvp(primals, tangents):
    # dT/dh = -phi(h) erf(a h / sqrt2) / 2,  dT/da = e^(-(1+a^2) h^2 / 2) / (2 pi (1+a^2))
    (h, a), (th, ta) = primals, tangents
    dh = -lax.exp(-0.5 * h * h) * lax.erf(a * h * math.sqrt(0.5)) / (2.0 * math.sqrt(2 * _PI))
    one_a2 = 1.0 + a * a
    da = lax.exp(-0.5 * one_a2 * h * h) / (2.0 * _PI * one_a2)
    return _owens_t(h, a), dh * th + da * ta


@compiled_when_eager
def _owens_t_compiled(h, a):
    return _in_f32(_owens_t, h, a)


def owens_t(h: Any, a: Any):
    """Owen's T function ``T(h, a) = (1/2pi) integral_0^a e^(-h^2 (1+t^2)/2) / (1+t^2) dt``
    elementwise over the broadcast shape of ``h`` and ``a`` (even in ``h``, odd in ``a``).

    >>> owens_t(0.5, 2.0)  # 0.1415806
    """
    return _owens_t_compiled(*_float_args("owens_t", h, a))
