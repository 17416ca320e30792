"""Hypergeometric, Faddeeva, Bessel-J and spherical-harmonic ``jax.scipy.special`` names.

- ``hyp1f1(a, b, x)``: Kummer's function M(a, b, x) for real arguments. The Taylor series
  is summed for x >= 0; negative x goes through Kummer's transformation
  M(a, b, x) = e^x M(b - a, b, -x) first, so the series never cancels. From |x| = 100
  (60 for negative float32 x, where e^x would underflow) the large-argument asymptotic
  expansion takes over, truncated at its smallest term. Derivatives in a, b and x come from
  a ``custom_jvp``: series for the parameter derivatives, a/b M(a+1, b+1, x) for x.
- ``hyp2f1(a, b, c, x)``: Gauss's function for real arguments and x <= 1, on the domain
  JAX supports (it returns inf for x > 1, and JAX's special values at x == 1 and for
  non-positive integer c). x < 0 is mapped into [0, 1) by Pfaff's transformation,
  x in [0, 1/2] is summed directly and x in (1/2, 1) uses the connection formula in 1 - x
  (its logarithmic form where c - a - b is an integer). Differentiable in all four
  arguments (``custom_jvp``).
- ``wofz(z)``: the Faddeeva function w(z) = exp(-z^2) erfc(-iz), complex in and out, from
  Weideman's (1994) rational approximation with 36 terms (coefficients computed here at
  import by his FFT recipe), reflected w(z) = 2 exp(-z^2) - w(-z) into the lower half plane.
- ``bessel_jn(z, v=, n_iter=)``: J_0 .. J_v at once by Miller's backward recurrence from
  order ``n_iter``, normalised with J_0 + 2 sum J_2k = 1; the recurrence is rescaled as it
  runs, so small |z| does not overflow (float32 included), and J(0) is exact.
- ``sph_harm_y(n, m, theta, phi)``: orthonormal spherical harmonics with the Condon-Shortley
  phase (theta the polar angle), from the stable recurrence of the normalised associated
  Legendre functions, run to the static bound ``n_max``.

Arguments promote like JAX (integers to the default float dtype); complex arguments are
refused except by ``wofz``.
"""
from __future__ import annotations

import functools
import math
import operator
from typing import Any

import numpy as np

import functorch_lite.numpy as fnp
from functorch_lite import lax
from functorch_lite.core import dtypes
from functorch_lite.core.avals import TypedScalar
from functorch_lite.core.errors import ConcretizationTypeError
from functorch_lite.core.trace import is_traced
from functorch_lite.lax.custom_derivatives import custom_jvp
from functorch_lite.numpy import _util
from functorch_lite.numpy._eager import compiled_when_eager

__all__ = ["hyp1f1", "hyp2f1", "wofz", "bessel_jn", "sph_harm_y"]

_SQRT_PI = math.sqrt(math.pi)


def _real_args(name: str, *args) -> list:
    """``args`` as arrays of one inexact dtype, broadcast together; complex is refused."""
    out = [_as_array(a) for a in _util.promote_args_inexact(name, *args)]
    if dtypes.is_complex(out[0].dtype):
        raise ValueError(f"{name} does not support complex-valued inputs.")
    return fnp.broadcast_arrays(*out)


def _as_array(a):
    # (a promoted Python scalar arrives as a TypedScalar: make it an array of its dtype)
    return lax.convert_element_type(a, a.dtype) if isinstance(a, TypedScalar) else fnp.asarray(a)


def _eps(x) -> float:
    return float(np.finfo(x.dtype).eps)


def _gamma_sign(x):
    """The sign of Gamma(x) (+1 at its poles, where the callers never use it)."""
    fl = lax.floor(x)
    odd = fnp.remainder(fl, 2.0) != 0
    return fnp.where((x < 0) & odd & (x != fl), -1.0, 1.0).astype(x.dtype)


def _nonpositive_int(x):
    return (x <= 0) & (x == lax.floor(x))


def _unconverged(eps, terms, totals):
    """Whether a series still moves: some term above eps times its running sum. With
    derivative series alongside, a zero value term (a parameter at 0 or 1) must not stop
    the sums of its derivatives."""
    out = False
    for t, s in zip(terms, totals):
        out = out | (lax.abs(t) > eps * lax.abs(s))
    return out


def _size(terms):
    out = 0.0
    for t in terms:
        out = out + lax.abs(t)
    return out


def _arrays(fn):
    """``fn`` with its positional arguments made arrays (a custom rule can hand it the
    Python scalars that were differentiated)."""
    @functools.wraps(fn)
    def wrapper(*args):
        return fn(*[fnp.asarray(a) for a in args])
    return wrapper


# ------------------------------------------------------------------------------ hyp1f1

_SERIES_TERMS = 500


def _m_series(a, b, y, scale, grads):
    """scale * M(a, b, y) by its Taylor series (with d/da and d/db when ``grads``). The
    terms' derivatives follow their own product recurrence, so a = 0 needs no care."""
    eps = _eps(y)
    zero = fnp.zeros_like(y)

    def cond(s):
        k, total, term, da, db, sda, sdb = s
        moving = (_unconverged(eps, (term, da, db), (total, sda, sdb)) if grads
                  else _unconverged(eps, (term,), (total,)))
        return fnp.any((k < _SERIES_TERMS) & moving)

    def body(s):
        k, total, term, da, db, sda, sdb = s
        ratio_x = y / ((b + k) * (k + 1.0))
        ratio = (a + k) * ratio_x
        da_next = da * ratio + term * ratio_x
        db_next = (db - term / (b + k)) * ratio
        term_next = term * ratio
        return (k + 1.0, total + term_next, term_next, da_next, db_next,
                sda + da_next, sdb + db_next)

    init = (fnp.zeros((), y.dtype), scale + zero, scale + zero, zero, zero, zero, zero)
    _, total, _, _, _, sda, sdb = lax.while_loop(cond, body, init)
    return (total, sda, sdb) if grads else (total,)


def _m_asymptotic(a, b, y, shift, grads):
    """exp(shift) * M(a, b, y) for large positive y from
    Gamma(b)/Gamma(a) e^y y^(a-b) sum_k (b-a)_k (1-a)_k / k! y^-k, the sum stopped at its
    smallest term (it diverges past it)."""
    eps = _eps(y)
    zero = fnp.zeros_like(y)
    one = zero + 1.0

    def cond(s):
        return fnp.any(s[7] & (s[0] < _SERIES_TERMS))

    def body(s):
        k, total, term, da, db, sda, sdb, live = s
        denom = (k + 1.0) * y
        ratio = (b - a + k) * (1.0 - a + k) / denom
        term_next = term * ratio
        da_next = da * ratio - term * ((1.0 - a + k) + (b - a + k)) / denom
        db_next = db * ratio + term * (1.0 - a + k) / denom
        # optimal truncation: once the terms grow, stop adding
        parts, parts_next = (term, da, db), (term_next, da_next, db_next)
        if not grads:
            parts, parts_next = parts[:1], parts_next[:1]
        live = (live & (_size(parts_next) < _size(parts))
                & _unconverged(eps, parts, (total, sda, sdb)))

        def pick(new, old):
            return fnp.where(live, new, old)
        return (k + 1.0, pick(total + term_next, total), pick(term_next, term),
                pick(da_next, da), pick(db_next, db), pick(sda + da_next, sda),
                pick(sdb + db_next, sdb), live)

    init = (fnp.zeros((), y.dtype), one, one, zero, zero, zero, zero,
            fnp.ones(y.shape, bool))
    _, total, _, _, _, sda, sdb, _ = lax.while_loop(cond, body, init)
    logy = lax.log(y)
    sign = _gamma_sign(b) * _gamma_sign(a)
    pref = sign * lax.exp(shift + y + lax.lgamma(b) - lax.lgamma(a) + (a - b) * logy)
    value = pref * total
    if not grads:
        return (value,)
    d_a = pref * (sda + total * (logy - lax.digamma(a)))
    d_b = pref * (sdb + total * (lax.digamma(b) - logy))
    return value, d_a, d_b


def _hyp1f1_parts(a, b, x, grads):
    """M(a, b, x) (and its a, b derivatives when ``grads``), without the special cases."""
    neg = x < 0
    a1 = fnp.where(neg, b - a, a)   # Kummer: M(a, b, x) = e^x M(b - a, b, -x)
    y = lax.abs(x)
    shift = fnp.where(neg, x, 0.0)
    cut = 60.0 if y.dtype == np.float32 else 100.0
    far = (fnp.where(neg, y >= cut, y >= 100.0) & ~_nonpositive_int(a1)
           & ~_nonpositive_int(b))
    ys = fnp.where(far, 0.0, y)
    yf = fnp.where(far, y, 100.0)
    a_f = fnp.where(far, a1, 0.5)
    near = _m_series(a1, b, ys, lax.exp(fnp.where(far, 0.0, shift)), grads)
    asym = _m_asymptotic(a_f, b, yf, shift, grads)
    parts = [fnp.where(far, f, n) for n, f in zip(near, asym)]
    if not grads:
        return parts[0]
    value, d1, d2 = parts
    # back from (a1, b) to (a, b): a1 = b - a on the Kummer side
    d_a = fnp.where(neg, -d1, d1)
    d_b = fnp.where(neg, d1 + d2, d2)
    return value, d_a, d_b


def _hyp1f1_special(a, b, x, general):
    out = fnp.where(b == 0, np.inf, general)
    out = fnp.where(a == b, lax.exp(x), out)
    return fnp.where(a == 0, 1.0, out).astype(x.dtype)


@custom_jvp
@_arrays
def _hyp1f1(a, b, x):
    return _hyp1f1_special(a, b, x, _hyp1f1_parts(a, b, x, False))


@_hyp1f1.defjvp
def _hyp1f1_jvp(primals, tangents):
    # dM/dx = (a/b) M(a+1, b+1, x): itself a call of the rule-carrying function, so the
    # derivative can be differentiated again
    (a, b, x), (ta, tb, tx) = primals, tangents
    a, b, x = fnp.asarray(a), fnp.asarray(b), fnp.asarray(x)
    out = _hyp1f1(a, b, x)
    _, d_a, d_b = _hyp1f1_parts(a, b, x, True)
    d_x = a / b * _hyp1f1(a + 1.0, b + 1.0, x)
    return out, d_a * ta + d_b * tb + d_x * tx


@compiled_when_eager
def _hyp1f1_compiled(a, b, x):
    return _hyp1f1(a, b, x)


def hyp1f1(a: Any, b: Any, x: Any):
    """Kummer's confluent hypergeometric function 1F1(a; b; x) = sum_k (a)_k / (b)_k x^k / k!
    for real arrays that broadcast together (JAX's conventions: 1 where a == 0, exp(x)
    where a == b, inf where b == 0). Aimed at positive a and b; very large results lose
    precision, as in JAX.

    >>> hyp1f1(1.0, 2.0, 1.0)   # (e - 1) = 1.7182817
    """
    return _hyp1f1_compiled(*_real_args("hyp1f1", a, b, x))


# ------------------------------------------------------------------------------ hyp2f1

def _f21_series(a, b, c, x, grads):
    """2F1(a, b; c; x) by its Taylor series (stopping early where a or b is a non-positive
    integer), and the derivatives in a, b and c of each partial sum when ``grads``."""
    eps = _eps(x)
    zero = fnp.zeros_like(x)

    def cond(s):
        k, total, term, da, db, dc, sda, sdb, sdc = s
        moving = (_unconverged(eps, (term, da, db, dc), (total, sda, sdb, sdc)) if grads
                  else _unconverged(eps, (term,), (total,)))
        return fnp.any((k < 4000.0) & moving)

    def body(s):
        k, total, term, da, db, dc, sda, sdb, sdc = s
        base = x / ((c + k) * (k + 1.0))
        ratio = (a + k) * (b + k) * base
        da_n = da * ratio + term * (b + k) * base
        db_n = db * ratio + term * (a + k) * base
        dc_n = (dc - term / (c + k)) * ratio
        t_n = term * ratio
        return (k + 1.0, total + t_n, t_n, da_n, db_n, dc_n, sda + da_n, sdb + db_n,
                sdc + dc_n)

    one = zero + 1.0
    init = (fnp.zeros((), x.dtype), one, one, zero, zero, zero, zero, zero, zero)
    out = lax.while_loop(cond, body, init)
    return (out[1], out[6], out[7], out[8]) if grads else (out[1],)


def _rgamma(x):
    """1/Gamma(x), 0 at the poles."""
    return fnp.where(_nonpositive_int(x), 0.0,
                     _gamma_sign(x) * lax.exp(-lax.lgamma(fnp.where(_nonpositive_int(x),
                                                                    1.0, x))))


def _f21_near_one(a, b, c, x):
    """2F1(a, b; c; x) for x in (0.9, 1) from the connection formula in s = 1 - x:
    Gamma(c) [Gamma(d)/(Gamma(c-a)Gamma(c-b)) F(a, b; 1-d; s)
    + s^d Gamma(-d)/(Gamma(a)Gamma(b)) F(c-a, c-b; 1+d; s)], d = c - a - b, and its limit
    (a finite sum plus a logarithmic series) where d is an integer."""
    s = 1.0 - x
    d = c - a - b
    m_round = lax.round(d)
    integer_d = lax.abs(d - m_round) < 50 * _eps(x)
    # non-integer d: two series in s, each well inside their disc
    dg = fnp.where(integer_d, 0.5, d)
    f1 = _f21_series(a, b, 1.0 - dg, s, False)[0]
    f2 = _f21_series(c - a, c - b, 1.0 + dg, s, False)[0]
    t1 = _gamma_ratio((c, dg), (c - a, c - b)) * f1
    t2 = lax.pow(s, dg) * _gamma_ratio((c, -dg), (a, b)) * f2
    general = t1 + t2
    # integer d: Gamma(d) and Gamma(-d) have poles, so the limit form (finite sum + log)
    logcase = _f21_log_case(a, b, c, s, m_round)
    return fnp.where(integer_d, logcase, general)


def _gamma_ratio(nums, dens):
    """prod Gamma(nums) / prod Gamma(dens) in log space (no overflow of the factors);
    0 where a denominator sits on a pole."""
    log_mag, sign, pole = 0.0, 1.0, False
    for v in nums:
        log_mag, sign = log_mag + lax.lgamma(v), sign * _gamma_sign(v)
    for v in dens:
        bad = _nonpositive_int(v)
        pole = pole | bad
        safe = fnp.where(bad, 1.0, v)
        log_mag, sign = log_mag - lax.lgamma(safe), sign * _gamma_sign(safe)
    return fnp.where(pole, 0.0, sign * lax.exp(log_mag))


def _f21_log_case(a, b, c, s, m):
    """2F1(a, b; a + b + m; 1 - s) for an integer m (DLMF 15.8.10 and its m < 0 twin,
    obtained through Euler's transformation F = s^m F(c-a, c-b; c; 1-s))."""
    neg = m < 0
    # Euler: for m < 0 use a' = c - a, b' = c - b (then c - a' - b' = -m > 0)
    a2 = fnp.where(neg, c - a, a)
    b2 = fnp.where(neg, c - b, b)
    mm = lax.abs(m)
    pre = fnp.where(neg, lax.pow(s, m), 1.0)
    # finite part: Gamma(m) Gamma(c) / (Gamma(a+m) Gamma(b+m)) sum_{k<m} (a)_k (b)_k /
    # (k! (1-m)_k) s^k
    dtype = s.dtype
    zero = fnp.zeros_like(s)

    def fin_cond(st):
        return fnp.any(st[0] < mm)

    def fin_body(st):
        k, total, term = st
        on = k < mm
        nxt = term * (a2 + k) * (b2 + k) / ((k + 1.0) * (1.0 - mm + k)) * s
        return k + 1.0, total + fnp.where(on, term, 0.0), fnp.where(on, nxt, term)

    _, fin, _ = lax.while_loop(fin_cond, fin_body, (fnp.zeros((), dtype), zero, zero + 1.0))
    # Gamma(m) Gamma(c) / (Gamma(a+m) Gamma(b+m)) in front
    fin = fin * _gamma_ratio((fnp.maximum(mm, 1.0), c), (a2 + mm, b2 + mm))
    fin = fnp.where(mm == 0, 0.0, fin)
    # log series: (-1)^(m+1) Gamma(c) / (Gamma(a) Gamma(b)) s^m sum_k (a+m)_k (b+m)_k /
    # (k! (k+m)!) s^k [log s - psi(k+1) - psi(k+m+1) + psi(a+k+m) + psi(b+k+m)]
    eps = _eps(s)
    logs = lax.log(s)

    def cond(st):
        k, total, term, part = st
        return fnp.any((k < 4000.0) & ((lax.abs(part) > eps * lax.abs(total))
                                       | (k < 2.0)))

    def body(st):
        k, total, term, _ = st
        psi = (logs - lax.digamma(k + 1.0) - lax.digamma(k + mm + 1.0)
               + lax.digamma(a2 + k + mm) + lax.digamma(b2 + k + mm))
        part = term * psi
        nxt = term * (a2 + mm + k) * (b2 + mm + k) / ((k + 1.0) * (k + mm + 1.0)) * s
        return k + 1.0, total + part, nxt, part

    first = 1.0 / lax.exp(lax.lgamma(mm + 1.0))
    _, logsum, _, _ = lax.while_loop(cond, body, (fnp.zeros((), dtype), zero, zero + first,
                                                  zero + 1.0))
    sign_m = 1.0 - 2.0 * fnp.remainder(mm + 1.0, 2.0)
    log_part = sign_m * lax.pow(s, mm) * logsum * _gamma_ratio((c,), (a2, b2))
    return pre * (fin + log_part)


def _f21_unit(a, b, c, x):
    """2F1 for 0 <= x < 1 (direct series up to 0.9, connection formula beyond: nearer 1/2
    its two terms cancel, and the series still converges fast)."""
    upper = x > 0.9
    xs = fnp.where(upper, 0.0, x)
    xu = fnp.where(upper, x, 0.95)
    terminating = _nonpositive_int(a) | _nonpositive_int(b)
    direct = _f21_series(a, b, c, fnp.where(terminating, x, xs), False)[0]
    near_one = _f21_near_one(a, b, c, xu)
    return fnp.where(upper & ~terminating, near_one, direct)


def _hyp2f1_value(a, b, c, x):
    """2F1 on x < 1: Pfaff's transformation F = (1-x)^-a F(a, c-b; c; x/(x-1)) for x < 0
    (on b instead when b, not a, makes the new series terminate)."""
    neg = x < 0
    use_b = _nonpositive_int(b) & ~_nonpositive_int(a)
    p = fnp.where(use_b, b, a)
    q = fnp.where(use_b, a, b)
    z = fnp.where(neg, x / (x - 1.0), x)
    second = fnp.where(neg, c - q, q)
    pre = fnp.where(neg, lax.pow(1.0 - x, -p), 1.0)
    return pre * _f21_unit(p, second, c, z)


def _hyp2f1_full(a, b, c, x):
    below = x < 1.0
    xb = fnp.where(below, x, 0.0)
    general = _hyp2f1_value(a, b, c, xb)
    d = c - a - b
    # at x == 1 Gauss's sum where it converges (c - a - b > 0), inf otherwise
    gauss = fnp.where(d > 0, _gamma_ratio((c, fnp.where(d > 0, d, 1.0)), (c - a, c - b)),
                      np.inf)
    out = fnp.where(below, general, fnp.where(x == 1.0, gauss, np.inf))
    # JAX's special values: 1 at x == 0 or where a or b is 0 (c != 0); inf where c is a
    # non-positive integer (the series has a zero denominator)
    out = fnp.where(_nonpositive_int(c), np.inf, out)
    out = fnp.where((x == 0) | (((a == 0) | (b == 0)) & (c != 0)), 1.0, out)
    return out.astype(x.dtype)


@custom_jvp
@_arrays
def _hyp2f1(a, b, c, x):
    return _hyp2f1_full(a, b, c, x)


@_hyp2f1.defjvp
def _hyp2f1_jvp(primals, tangents):
    # Parameter derivatives as series: in x for x >= 0; for x < 0 in z = x/(x-1) through
    # Pfaff's F = (1-x)^-a F(a, c-b; c; z), where they converge for every x < 0. The x
    # derivative is (ab/c) F(a+1, b+1; c+1; x), again a rule-carrying call.
    (a, b, c, x), (ta, tb, tc, tx) = primals, tangents
    a, b, c, x = (fnp.asarray(v) for v in (a, b, c, x))
    out = _hyp2f1(a, b, c, x)
    neg = x < 0
    z = fnp.where(neg, x / (x - 1.0), x)
    f, d1, d2, d3 = _f21_series(a, fnp.where(neg, c - b, b), c, fnp.where(z < 1.0, z, 0.0),
                                True)
    pre = fnp.where(neg, lax.pow(1.0 - x, -a), 1.0)
    d_a = fnp.where(neg, pre * (d1 - lax.log1p(-x) * f), d1)
    d_b = fnp.where(neg, -pre * d2, d2)
    d_c = fnp.where(neg, pre * (d2 + d3), d3)
    d_x = a * b / c * _hyp2f1(a + 1.0, b + 1.0, c + 1.0, x)
    return out, d_a * ta + d_b * tb + d_c * tc + d_x * tx


@compiled_when_eager
def _hyp2f1_compiled(a, b, c, x):
    return _hyp2f1(a, b, c, x)


def hyp2f1(a: Any, b: Any, c: Any, x: Any):
    """Gauss's hypergeometric function 2F1(a, b; c; x) = sum_k (a)_k (b)_k / (c)_k x^k / k!
    for real arrays that broadcast together, on x <= 1 (inf for x > 1, as JAX; Gauss's sum
    at x == 1; inf where c is a non-positive integer).

    >>> hyp2f1(1.0, 1.0, 2.0, 0.5)   # -log(1 - x) / x = 1.3862944
    """
    return _hyp2f1_compiled(*_real_args("hyp2f1", a, b, c, x))


# -------------------------------------------------------------------------------- wofz

def _weideman_coefficients(n: int) -> tuple[float, np.ndarray]:
    """Weideman's rational approximation of w(z) with ``n`` terms: the scale L and the
    polynomial coefficients (highest power first), from an FFT of exp(-t^2)(L^2 + t^2)
    sampled at t = L tan(theta / 2)."""
    m = 2 * n
    scale = math.sqrt(n / math.sqrt(2.0))
    theta = np.arange(-m + 1, m) * np.pi / m
    t = scale * np.tan(theta / 2)
    samples = np.concatenate([[0.0], np.exp(-t * t) * (scale * scale + t * t)])
    coef = np.real(np.fft.fft(np.fft.fftshift(samples))) / (2 * m)
    return scale, coef[1:n + 1][::-1].copy()


# 36 terms: ~2e-14 relative error against scipy's Faddeeva package over the plane
_WOFZ_L, _WOFZ_COEF = _weideman_coefficients(36)


def _wofz_upper(z):
    """w(z) for Im z >= 0: 2 p(Z) / (L - iz)^2 + 1 / (sqrt(pi) (L - iz)), Z = (L+iz)/(L-iz)."""
    iz = lax.complex(-lax.imag(z), lax.real(z))
    denom = _WOFZ_L - iz
    big_z = (_WOFZ_L + iz) / denom
    poly = fnp.zeros_like(z)
    for c in _WOFZ_COEF:
        poly = poly * big_z + float(c)
    return 2.0 * poly / (denom * denom) + (1.0 / _SQRT_PI) / denom


@custom_jvp
@_arrays
def _wofz(z):
    upper = lax.imag(z) >= 0
    w_up = _wofz_upper(fnp.where(upper, z, -z))
    # the lower half plane by reflection: w(z) = 2 exp(-z^2) - w(-z)
    return fnp.where(upper, w_up, 2.0 * lax.exp(-(z * z)) - w_up)


@_wofz.defjvp
def _wofz_jvp(primals, tangents):
    # w'(z) = 2i/sqrt(pi) - 2 z w(z) (w is entire)
    (z,), (t,) = primals, tangents
    w = _wofz(z)
    return w, t * (2j / _SQRT_PI - 2.0 * z * w)


@compiled_when_eager
def _wofz_compiled(z):
    return _wofz(z)


def wofz(z: Any):
    """The Faddeeva function w(z) = exp(-z^2) erfc(-iz), elementwise; real input is taken
    as complex (float32 -> complex64, float64 -> complex128).

    >>> wofz(1j)   # erfcx(1) = 0.42758358+0j
    """
    (z,) = _util.promote_args_inexact("wofz", z)
    z = _as_array(z)
    if not dtypes.is_complex(z.dtype):
        z = lax.convert_element_type(z, np.result_type(z.dtype, np.complex64))
    return _wofz_compiled(z)


# --------------------------------------------------------------------------- bessel_jn

def _static_int(name: str, what: str, value) -> int:
    if is_traced(value):
        raise ConcretizationTypeError(
            f"{name}: {what} must be a concrete Python int (it sets the output shape); got "
            "a traced value. Pass it as a static argument.")
    return operator.index(value)


def _jn_miller(z, v: int, n_iter: int):
    """J_0 .. J_v at z (shape (v+1, *z.shape)) by Miller's algorithm."""
    dtype = z.dtype
    special = (z == 0) | ~fnp.isfinite(z)
    zs = fnp.where(special, 1.0, z)
    orders = lax.broadcasted_iota(dtype, (v + 1,) + z.shape, 0)

    def step(carry, k):
        f_next2, f_next, norm, kept = carry
        f = 2.0 * (k + 1.0) * f_next / zs - f_next2
        norm = norm + fnp.where(fnp.remainder(k, 2.0) == 0, 2.0 * f, 0.0)
        kept = fnp.where(orders == k, f, kept)
        # keep the unnormalised values near 1: the final ratio does not depend on the scale
        size = lax.abs(f)
        scale = fnp.where(size > 1.0, 1.0 / size, 1.0)
        return (f_next * scale, f * scale, norm * scale, kept * scale), None

    zero = fnp.zeros_like(zs)
    init = (zero, zero + 1.0, zero, fnp.zeros((v + 1,) + z.shape, dtype))
    ks = lax.iota(dtype, n_iter + 1)
    (_, f0, norm, kept), _ = lax.scan(step, init, ks, reverse=True)
    out = kept / (norm - f0)
    # J_k(0) = [k == 0]; the functions decay to 0 at +-inf; NaN stays NaN
    at_zero = (orders == 0).astype(dtype)
    out = fnp.where(z == 0, at_zero, out)
    out = fnp.where(fnp.isinf(z), 0.0, out)
    return fnp.where(fnp.isnan(z), np.nan, out)


@functools.partial(custom_jvp, nondiff_argnums=(1, 2))
def _bessel_jn(z, v, n_iter):
    return _jn_miller(fnp.asarray(z), v, n_iter)


@_bessel_jn.defjvp
def _bessel_jn_jvp(v, n_iter, primals, tangents):
    # J_0' = -J_1 and J_k' = (J_{k-1} - J_{k+1}) / 2: one order more than asked for
    (z,), (t,) = primals, tangents
    more = _bessel_jn(z, v + 1, max(n_iter, v + 1))
    out = more[:v + 1]
    below = fnp.concatenate([-more[1:2], more[:v]], axis=0)   # J_-1 = -J_1
    deriv = 0.5 * (below - more[1:v + 2])
    return out, deriv * t


@compiled_when_eager(arrays=1)
def _bessel_jn_compiled(z, v, n_iter):
    return _bessel_jn(z, v, n_iter)


def bessel_jn(z: Any, *, v: int, n_iter: int = 50):
    """Bessel functions of the first kind J_0(z) .. J_v(z) of real ``z``, stacked along a
    new leading axis: shape ``(v + 1, *z.shape)``, z's dtype. ``n_iter`` is the order the
    backward recurrence starts from; it must exceed about |z| + 20 for full precision.

    >>> bessel_jn(1.0, v=1)   # [0.7651977, 0.44005057]
    """
    v = _static_int("bessel_jn", "v", v)
    n_iter = _static_int("bessel_jn", "n_iter", n_iter)
    if v < 0:
        raise ValueError(f"bessel_jn: v must be a non-negative order, got {v}.")
    if n_iter < v:
        raise ValueError(f"bessel_jn: n_iter={n_iter} must be at least v={v}; raise n_iter.")
    (z,) = _util.promote_args_inexact("bessel_jn", z)
    z = _as_array(z)
    if dtypes.is_complex(z.dtype):
        raise ValueError("bessel_jn: complex input not supported (z must be real).")
    return _bessel_jn_compiled(z, v, n_iter)


# ------------------------------------------------------------------------- sph_harm_y

def _legendre_normalised(n, am, x, sin_t, n_max: int):
    """The orthonormal associated Legendre function Pbar_n^am(x) (Condon-Shortley phase
    included) for integer arrays n >= 0 and 0 <= am, by the diagonal recurrence
    Pbar_k^k = -sqrt(1 + 1/2k) sin(theta) Pbar_{k-1}^{k-1} and then, upwards in degree,
    Pbar_l^m = d0 x Pbar_{l-1}^m - d1 Pbar_{l-2}^m. Zero where am > n."""
    dtype = x.dtype
    mf = am.astype(dtype)
    nf = n.astype(dtype)

    def body(i, carry):
        p_prev, p_cur = carry
        lf = lax.convert_element_type(i, dtype)
        diag = lf <= mf
        new_diag = -lax.sqrt(1.0 + 0.5 / lf) * sin_t * p_cur
        up = (lf > mf) & (lf <= nf)
        denom = fnp.where(diag, 1.0, lf * lf - mf * mf)
        d0 = lax.sqrt((4.0 * lf * lf - 1.0) / denom)
        d1 = lax.sqrt((2.0 * lf + 1.0) * fnp.maximum((lf - 1.0) ** 2 - mf * mf, 0.0)
                      / ((2.0 * lf - 3.0) * denom))
        new_up = d0 * x * p_cur - d1 * p_prev
        p_next = fnp.where(diag, new_diag, fnp.where(up, new_up, p_cur))
        p_prev = fnp.where(diag, p_prev, fnp.where(up, p_cur, p_prev))
        return p_prev, p_next

    zero = fnp.zeros_like(x)
    init = (zero, zero + 0.5 / _SQRT_PI)
    _, p = lax.fori_loop(1, n_max + 1, body, init) if n_max > 0 else init
    return fnp.where(am > n, 0.0, p)


@compiled_when_eager(arrays=4)
def _sph_harm(n, m, theta, phi, n_max):
    n, m, theta, phi = fnp.broadcast_arrays(n, m, theta, phi)
    # JAX reads its table at (min(|m|, n_max), clip(n, 0, n_max))
    am = fnp.minimum(lax.abs(m), n_max)
    nn = fnp.clip(n, 0, n_max)
    # |sin| (= sqrt(1 - cos^2) on [0, pi]) keeps the derivative finite at the poles
    leg = _legendre_normalised(nn, am, lax.cos(theta), lax.abs(lax.sin(theta)), n_max)
    angle = lax.abs(m).astype(phi.dtype) * phi
    y = lax.complex(leg * lax.cos(angle), leg * lax.sin(angle))
    # Y_n^-m = (-1)^m conj(Y_n^m)
    odd = fnp.remainder(lax.abs(m), 2) == 1
    return fnp.where(m < 0, fnp.where(odd, -1.0, 1.0) * lax.conj(y), y)


def sph_harm_y(n: Any, m: Any, theta: Any, phi: Any, diff_n: int | None = None,
               n_max: int | None = None):
    """The orthonormal spherical harmonic Y_n^m(theta, phi) with the Condon-Shortley phase:
    degree ``n >= 0`` and order ``|m| <= n`` (integer arrays), polar angle ``theta`` in
    [0, pi], azimuth ``phi``; all four broadcast (a scalar ``theta`` counts as shape (1,),
    as in JAX). ``n_max`` (static) bounds the recurrence and clips ``n``; by default it is
    ``max(n)``, which needs a concrete ``n``. Returns complex64 (complex128 for float64
    angles). ``diff_n`` derivatives are not supported (None or 0 only), as in JAX.

    >>> sph_harm_y(fnp.array([1]), fnp.array([0]), 0.0, 0.0)   # [0.48860252+0j]
    """
    if diff_n not in (None, 0):
        raise NotImplementedError(
            "The 'diff_n' argument to sph_harm_y is not supported; leave it as None.")
    n, m = fnp.asarray(n), fnp.asarray(m)
    for name, arr in (("n", n), ("m", m)):
        if not dtypes.is_int(arr.dtype):
            raise TypeError(f"sph_harm_y: {name} must be an integer array (a degree or "
                            f"order), got dtype {arr.dtype}.")
    if n_max is None:
        if is_traced(n):
            raise ConcretizationTypeError(
                "sph_harm_y: n_max must be given (a static int) when n is traced, e.g. "
                "under jit or vmap: it bounds the Legendre recurrence.")
        n_max = int(np.max(np.asarray(n))) if n.size else 0
    n_max = max(_static_int("sph_harm_y", "n_max", n_max), 0)
    theta, phi = (_as_array(a) for a in _util.promote_args_inexact("sph_harm_y", theta, phi))
    if dtypes.is_complex(theta.dtype):
        raise ValueError("sph_harm_y: theta and phi must be real angles.")
    if theta.ndim == 0:
        theta = theta.reshape(1)
    return _sph_harm(n, m, theta, phi, n_max)
