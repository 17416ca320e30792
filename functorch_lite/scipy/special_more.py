"""More ``jax.scipy.special`` names, built from ``lax`` and ``functorch_lite.numpy``.

Gamma family: ``gamma``, ``gammasgn``, ``loggamma`` (real arguments), ``beta``, ``betaln``,
``factorial``, ``comb``, ``poch``, ``multigammaln``; incomplete gamma ``gammainc`` and
``gammaincc`` (``lax.igamma``/``lax.igammac``). Information measures: ``entr``,
``rel_entr``, ``kl_div``. Transforms: ``boxcox``, ``boxcox1p``. The normal distribution:
``ndtr``, ``log_ndtr`` (an asymptotic series far in the lower tail, as JAX), ``ndtri``.
Normalisers: ``softmax``, ``log_softmax``. Bessel: ``i0``, ``i0e``, ``i1``, ``i1e``.
Series: ``bernoulli`` (exact ratios), Hurwitz ``zeta`` (Euler-Maclaurin), ``polygamma``.
``erfcx``, the scaled complementary error function.

Everything promotes like JAX (integers and bools to the default float dtype) and is
differentiable: through the ``lax`` operations, or through a ``custom_jvp`` carrying the
closed-form derivative where the composed one is inaccurate or undefined.
"""
from __future__ import annotations

import functools
import inspect
import math
import operator
from fractions import Fraction

import numpy as np

from functorch_lite import lax
from functorch_lite.api import jvp
from functorch_lite.core import dtypes
from functorch_lite.core.avals import TypedScalar
from functorch_lite.core.trace import is_traced
from functorch_lite.lax.custom_derivatives import custom_jvp
from functorch_lite.numpy import _util
from functorch_lite.numpy import mathfuncs as _mf
from functorch_lite.numpy import reductions as _red
from functorch_lite.numpy import shapes as _shapes
from functorch_lite.numpy import ufuncs as _uf
from functorch_lite.numpy._eager import compiled_when_eager
from functorch_lite.numpy.creation import arange, asarray

__all__ = ["softmax", "log_softmax", "gamma", "gammasgn", "loggamma", "beta", "betaln",
           "factorial", "comb", "poch", "multigammaln", "entr", "rel_entr", "kl_div",
           "boxcox", "boxcox1p", "ndtr", "log_ndtr", "ndtri", "gammainc", "gammaincc",
           "i0", "i0e", "i1", "i1e", "bernoulli", "zeta", "polygamma",
           "erfcx"]

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


def _real(name, *args):
    """``args`` promoted to one inexact dtype and broadcast; complex is refused."""
    out = [lax.convert_element_type(a, a.dtype) if isinstance(a, TypedScalar) else asarray(a)
           for a in _util.promote_args_inexact(name, *args)]
    if dtypes.is_complex(out[0].dtype):
        raise ValueError(f"{name} does not support complex-valued inputs.")
    return out


def _arrays(fn):
    """``fn`` with its positional arguments made arrays: a custom rule can hand the
    function the Python scalars that were differentiated."""
    @functools.wraps(fn)
    def wrapper(*args):
        return fn(*[a if hasattr(a, "dtype") and hasattr(a, "shape") else asarray(a)
                    for a in args])
    return wrapper


def _elementwise(name):
    """The public function ``name``: its arguments promoted by ``_real``, then ``body``
    run (one compiled executable per signature when called eagerly)."""
    def deco(body):
        compiled = compiled_when_eager(body)
        sig = inspect.signature(body)

        @functools.wraps(body)
        def public(*args, **kwargs):
            return compiled(*_real(name, *sig.bind(*args, **kwargs).args))
        return public
    return deco


def _is_f64(x):
    return _util.dtype_of(x) == np.float64


# ---------------------------------------------------------------- softmax, log_softmax

def _max_shift(x, axis):
    """The (gradient-free) maximum along ``axis``, 0 where it is not finite."""
    m = _red.max(x, axis=axis, keepdims=True)
    return lax.stop_gradient(_uf.where(_uf.isfinite(m), m, 0.0))


@functools.partial(custom_jvp, nondiff_argnums=(1,))
def shifted_softmax(x, axis):
    """``exp(x - max) / sum(exp(x - max))`` along ``axis`` (an int or a tuple), with the
    derivative written in terms of the output. ``nn.softmax`` uses it too (one copy)."""
    e = _uf.exp(x - lax.stop_gradient(_red.max(x, axis=axis, keepdims=True)))
    return e / _red.sum(e, axis=axis, keepdims=True)


@shifted_softmax.defjvp
def _softmax_jvp(axis, primals, tangents):
    # In terms of the output y: dy = y * (dx - <y, dx>). Differentiating the division
    # instead takes more operations (and time: attention's backward pass).
    (x,), (t,) = primals, tangents
    y = shifted_softmax(x, axis)
    return y, y * (t - _red.sum(y * t, axis=axis, keepdims=True))


def _axis(name, x, axis):
    return _util.canonical_axis(name, axis, x.ndim)


def softmax(x, /, *, axis=None):
    """``exp(x) / sum(exp(x))`` over ``axis`` (all axes when None), as
    ``jax.scipy.special.softmax``. A ``+inf`` entry makes the result NaN."""
    (x,) = _real("softmax", x)
    return _softmax_compiled(x, _axis("softmax", x, axis))


@compiled_when_eager(arrays=1)
def _softmax_compiled(x, axes):
    return shifted_softmax(x, axes)


def log_softmax(x, /, *, axis=None):
    """``x - logsumexp(x)`` over ``axis`` (all axes when None)."""
    (x,) = _real("log_softmax", x)
    return _log_softmax(x, _axis("log_softmax", x, axis))


@compiled_when_eager(arrays=1)
def _log_softmax(x, axes):
    shifted = x - _max_shift(x, axes)
    return shifted - _uf.log(_red.sum(_uf.exp(shifted), axis=axes, keepdims=True))


# ---------------------------------------------------------------------- gamma family

@compiled_when_eager
@_arrays
def _gammasgn(x):
    fl = lax.floor(x)
    neg = x < 0
    pole = (neg & (x == fl)) | _uf.isnan(x)
    # Gamma is negative on (-2k-1, -2k): there floor(x) is odd
    odd = _uf.remainder(fl, 2.0) != 0
    minus = (neg & odd) | ((x == 0) & _uf.signbit(x))
    return _uf.where(pole, np.nan, _uf.where(minus, -1.0, 1.0)).astype(_util.dtype_of(x))


def gammasgn(x):
    """The sign of the gamma function: NaN at poles (non-positive integers, -inf) and
    NaN, -1 at -0."""
    (x,) = _real("gammasgn", x)
    return _gammasgn(x)


@compiled_when_eager
@_arrays
def _gamma(x):
    return _gammasgn(x) * lax.exp(lax.lgamma(x))


def gamma(x):
    """The gamma function for real ``x``: ``gammasgn(x) * exp(gammaln(x))`` (+-inf at +-0,
    NaN at negative integers and -inf)."""
    (x,) = _real("gamma", x)
    return _gamma(x)


@_elementwise("loggamma")
def loggamma(x):
    """log(Gamma(x)) on its principal branch; for real ``x`` that is gammaln where
    ``x > 0`` and NaN elsewhere (complex arguments are not supported here)."""
    return _uf.where(x > 0, lax.lgamma(x), np.nan)


@_elementwise("betaln")
def betaln(a, b):
    """log|B(a, b)| = gammaln(a) + gammaln(b) - gammaln(a + b)."""
    return lax.lgamma(a) + lax.lgamma(b) - lax.lgamma(a + b)


@_elementwise("beta")
def beta(a, b):
    """The beta function Gamma(a) Gamma(b) / Gamma(a + b)."""
    sign = _gammasgn(a) * _gammasgn(b) * _gammasgn(a + b)
    return sign * lax.exp(lax.lgamma(a) + lax.lgamma(b) - lax.lgamma(a + b))


def factorial(n, exact: bool = False):
    """``n!`` as a float, ``Gamma(n + 1)``; 0 for negative ``n``. Only ``exact=False``."""
    if exact:
        raise NotImplementedError("factorial with exact=True")
    return _factorial(*_real("factorial", n))


@compiled_when_eager
def _factorial(n):
    return _uf.where(n < 0, 0.0, lax.exp(lax.lgamma(n + 1.0)))


def comb(N, k, *, repetition: bool = False):
    """"N choose k" as a float through gammaln; 0 when N < 0, k < 0 or k > N. With
    ``repetition``, the multiset coefficient comb(N + k - 1, k) (1 when k == 0 <= N)."""
    return _comb(*_real("comb", N, k), bool(repetition))


@compiled_when_eager(arrays=2)
def _comb(N, k, repetition):
    if repetition:
        return _uf.where((k == 0) & (N >= 0), 1.0, _comb(N + k - 1.0, k, False))
    ok = (k <= N) & (N >= 0) & (k >= 0)
    n_ = _uf.where(ok, N, 0.0)
    k_ = _uf.where(ok, k, 0.0)
    out = lax.exp(lax.lgamma(n_ + 1.0) - lax.lgamma(k_ + 1.0) - lax.lgamma(n_ - k_ + 1.0))
    return _uf.where(ok, out, 0.0)


@custom_jvp
@_arrays
def _poch(z, m):
    return _uf.where(m == 0, 1.0, _gamma(z + m) / _gamma(z)).astype(_util.dtype_of(z))


@_poch.defjvp
def _poch_jvp(primals, tangents):
    # d/dz (z)_m = (psi(z + m) - psi(z)) (z)_m ;  d/dm (z)_m = psi(z + m) (z)_m
    (z, m), (tz, tm) = primals, tangents
    out = _poch(z, m)
    pzm = lax.digamma(z + m)
    return out, out * ((pzm - lax.digamma(z)) * tz + pzm * tm)


@_elementwise("poch")
def poch(z, m):
    """The Pochhammer symbol (z)_m = Gamma(z + m) / Gamma(z) (1 where m == 0)."""
    return _poch(z, m)


def multigammaln(a, d):
    """log of the multivariate gamma function of dimension ``d`` (a concrete int):
    ``d(d-1)/4 log(pi) + sum_{j<d} gammaln(a - j/2)``."""
    if is_traced(d):
        raise TypeError("multigammaln: d must be concrete (a Python int), not traced")
    d = operator.index(int(np.asarray(d))) if not isinstance(d, int) else d
    (a,) = _real("multigammaln", a)
    return _multigammaln(a, d)


@compiled_when_eager(arrays=1)
def _multigammaln(a, d):
    dtype = a.dtype
    const = np.asarray(0.25 * d * (d - 1) * math.log(math.pi), dtype)
    halves = arange(d, dtype=dtype) / 2.0
    terms = lax.lgamma(_shapes.expand_dims(a, -1) - halves)
    return _red.sum(terms, axis=-1) + const


# ----------------------------------------------------------------- information measures

@custom_jvp
@_arrays
def _xlogx(x):
    safe = _uf.where(x == 0, 1.0, x)
    return _uf.where(x == 0, 0.0, x * lax.log(safe))


@_xlogx.defjvp
def _xlogx_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return _xlogx(x), t * (lax.log(x) + 1.0)


@_elementwise("entr")
def entr(x):
    """-x log(x) for x > 0, 0 at 0, -inf for x < 0."""
    return _uf.where(x < 0, -np.inf, -_xlogx(x))


@_elementwise("rel_entr")
def rel_entr(p, q):
    """p log(p / q) for p, q > 0; 0 where p == 0 <= q; +inf otherwise."""
    both = (p > 0) & (q > 0)
    zero = (p == 0) & (q >= 0)
    sp = _uf.where(both, p, 1.0)
    sq = _uf.where(both, q, 1.0)
    val = _xlogx(sp) - sp * lax.log(sq)
    return _uf.where(both, val, _uf.where(zero, 0.0, np.inf))


@_elementwise("kl_div")
def kl_div(p, q):
    """p log(p / q) - p + q for p, q > 0; q where p == 0 <= q; +inf otherwise."""
    return rel_entr(p, q) - p + q


# --------------------------------------------------------------------------- Box-Cox

def _boxcox_of_log(logx, lmbda):
    is0 = lmbda == 0
    lm = _uf.where(is0, 1.0, lmbda)
    return _uf.where(is0, logx, lax.expm1(lm * logx) / lm)


@_elementwise("boxcox")
def boxcox(x, lmbda):
    """(x**lmbda - 1) / lmbda, or log(x) when lmbda == 0 (NaN for x < 0)."""
    return _boxcox_of_log(lax.log(x), lmbda)


@_elementwise("boxcox1p")
def boxcox1p(x, lmbda):
    """boxcox(1 + x, lmbda), accurate for small x."""
    return _boxcox_of_log(lax.log1p(x), lmbda)


# ------------------------------------------------------------------ normal distribution

@compiled_when_eager
@_arrays
def _ndtr(x):
    # 0.5 erfc(-x/sqrt2) keeps full relative precision in the lower tail and rounds to 1
    # above it, with no cancellation anywhere
    return 0.5 * lax.erfc(x * -math.sqrt(0.5))


def ndtr(x):
    """The standard normal CDF, Phi(x)."""
    (x,) = _real("ndtr", x)
    return _ndtr(_f32_or_f64("ndtr", x))


def _f32_or_f64(name, x):
    """As JAX, the normal-distribution functions take float32 and float64 only."""
    if x.dtype not in (np.float32, np.float64):
        raise TypeError(f"{name}: x.dtype={x.dtype} is not supported (float32 or float64).")
    return x


def _norm_logpdf(x):
    return -0.5 * x * x - _LOG_SQRT_2PI


def _log_ndtr_value(x, series_order):
    lower, upper = (-20.0, 8.0) if _is_f64(x) else (-10.0, 5.0)
    # middle: log Phi directly below 0, log1p(-Phi(-x)) above (no rounding of Phi to 1);
    # the clamps keep every branch's inputs in its own range
    xm = lax.clamp(np.asarray(lower, x.dtype), x, np.asarray(upper, x.dtype))
    mid = _uf.where(xm > 0, lax.log1p(-_ndtr(-xm)), lax.log(_ndtr(xm)))
    # upper tail: log(1 - Phi(-x)) ~ -Phi(-x)
    hi = -_ndtr(-_uf.maximum(x, upper))
    # lower tail: log phi(x) - log(-x) + log(1 + sum_k (-1)^k (2k-1)!! / x^(2k))
    xl = _uf.minimum(x, lower)
    inv2 = 1.0 / (xl * xl)
    series, power, dfact = 1.0, 1.0, 1
    for k in range(1, series_order + 1):
        dfact *= 2 * k - 1
        power = power * inv2
        series = series + (-1.0) ** k * dfact * power
    lo = _norm_logpdf(xl) - lax.log(-xl) + lax.log(series)
    return _uf.where(x > upper, hi, _uf.where(x > lower, mid, lo))


@functools.partial(custom_jvp, nondiff_argnums=(1,))
def _log_ndtr(x, series_order):
    x = asarray(x) if not hasattr(x, 'shape') else x
    return _log_ndtr_value(x, series_order)


@_log_ndtr.defjvp
def _log_ndtr_jvp(series_order, primals, tangents):
    # d/dx log Phi(x) = phi(x) / Phi(x); as exp(log phi - log Phi) it stays finite in the
    # lower tail where both underflow (there it tends to -x)
    (x,), (t,) = primals, tangents
    out = _log_ndtr(x, series_order)
    return out, t * lax.exp(_norm_logpdf(x) - out)


def log_ndtr(x, series_order: int = 3):
    """log of the standard normal CDF, accurate in both tails: ``-ndtr(-x)`` above 8 (5 in
    float32), an asymptotic series of ``series_order`` terms below -20 (-10 in float32).
    """
    series_order = operator.index(series_order)
    if series_order < 0:
        raise ValueError("series_order must be non-negative.")
    if series_order > 30:
        raise ValueError("series_order must be <= 30.")
    (x,) = _real("log_ndtr", x)
    return _log_ndtr_compiled(_f32_or_f64("log_ndtr", x), series_order)


@compiled_when_eager(arrays=1)
def _log_ndtr_compiled(x, series_order):
    return _log_ndtr(x, series_order)


def _ndtri_value(p):
    # Work with the lower tail q = min(p, 1 - p) and reflect. Start from the rational
    # approximation of Abramowitz & Stegun 26.2.23 (|error| < 4.5e-4) and polish with
    # Newton steps on log Phi(x) = log q, which converge quadratically and keep full
    # relative precision however small q is.
    upper = p > 0.5
    q = _uf.where(upper, 1.0 - p, p)
    q_ok = _uf.where((q > 0) & (q <= 0.5), q, 0.25)
    t = lax.sqrt(-2.0 * lax.log(q_ok))
    x = -(t - (2.515517 + t * (0.802853 + t * 0.010328))
          / (1.0 + t * (1.432788 + t * (0.189269 + t * 0.001308))))
    logq = lax.log(q_ok)
    for _ in range(4 if _is_f64(p) else 3):
        lp = _log_ndtr_value(x, 12)  # (more series terms than log_ndtr's default)
        x = x - (lp - logq) * lax.exp(lp - _norm_logpdf(x))
    x = _uf.where(upper, -x, x)
    x = _uf.where(q == 0, _uf.where(upper, np.inf, -np.inf), x)
    x = _uf.where(p == 0.5, 0.0, x)
    return _uf.where((p < 0) | (p > 1) | _uf.isnan(p), np.nan, x).astype(_util.dtype_of(p))


@custom_jvp
@_arrays
def _ndtri(p):
    return _ndtri_value(p)


@_ndtri.defjvp
def _ndtri_jvp(primals, tangents):
    # d/dp Phi^-1(p) = 1 / phi(Phi^-1(p))
    (p,), (t,) = primals, tangents
    x = _ndtri(p)
    return x, t * lax.exp(-_norm_logpdf(x))


def ndtri(p):
    """The inverse of ``ndtr``: x with Phi(x) = p (+-inf at 1 and 0, NaN outside [0, 1])."""
    (p,) = _real("ndtri", p)
    return _ndtri_compiled(_f32_or_f64("ndtri", p))


@compiled_when_eager
def _ndtri_compiled(p):
    return _ndtri(p)


# ------------------------------------------------------------------ incomplete gamma

@_elementwise("gammainc")
def gammainc(a, x):
    """The regularized lower incomplete gamma function P(a, x) (``lax.igamma``)."""
    return lax.igamma(a, x)


@_elementwise("gammaincc")
def gammaincc(a, x):
    """The regularized upper incomplete gamma function Q(a, x) (``lax.igammac``)."""
    return lax.igammac(a, x)


# --------------------------------------------------------------------------- Bessel

def i0(x):
    """The modified Bessel function of the first kind of order 0 (``numpy.i0``)."""
    return _mf.i0(x)


def _i0_series(xs):
    """The Taylor series of I0 in (x/2)**2 (all terms positive; used for |x| <= 8)."""
    y = xs * xs * 0.25
    out = 0.0
    for c in reversed(_mf._I0_TAYLOR):
        out = out * y + c
    return out


def _i0e_far(ax):
    """exp(-x) I0(x) for x >= 8 from Cephes' Chebyshev expansion in 32/x - 2."""
    return _mf._chebyshev(32.0 / ax - 2.0, _mf._I0_LARGE) / lax.sqrt(ax)


def _bessel_split(x):
    ax = lax.abs(x)
    small = ax <= 8.0
    # each branch only sees arguments in its own range, so where() drops finite values
    return small, _uf.where(small, x, 0.0), _uf.where(small, 8.0, ax)


def _i0e_value(x):
    small, xs, xl = _bessel_split(x)
    return _uf.where(small, _i0_series(xs) * lax.exp(-lax.abs(xs)), _i0e_far(xl))


def _i1e_value(x):
    # I1 = I0': below 8 the derivative of the series is exactly the I1 series; above,
    # with f(x) = exp(-x) I0(x), exp(-x) I1(x) = f'(x) + f(x) (odd in x)
    small, xs, xl = _bessel_split(x)
    one = lax.full_like(xs, 1.0)
    _, d_near = jvp(_i0_series, (xs,), (one,))
    f, d_far = jvp(_i0e_far, (xl,), (one,))
    return _uf.where(small, d_near * lax.exp(-lax.abs(xs)), lax.sign(x) * (d_far + f))


@custom_jvp
@_arrays
def _i0e(x):
    return _i0e_value(x)


@_i0e.defjvp
def _i0e_jvp(primals, tangents):
    # (e^-|x| I0)' = e^-|x| (I1 - sign(x) I0) = i1e(x) - sign(x) i0e(x)
    (x,), (t,) = primals, tangents
    y = _i0e(x)
    return y, t * (_i1e(x) - lax.sign(x) * y)


@custom_jvp
@_arrays
def _i1e(x):
    return _i1e_value(x)


@_i1e.defjvp
def _i1e_jvp(primals, tangents):
    # I1' = I0 - I1 / x, so (e^-|x| I1)' = i0e - i1e / x - sign(x) i1e (1/2 at 0)
    (x,), (t,) = primals, tangents
    y = _i1e(x)
    at0 = x == 0
    sx = _uf.where(at0, 1.0, x)
    d = _i0e(x) - y / sx - lax.sign(x) * y
    return y, t * _uf.where(at0, 0.5, d)


def _float_arg(name, x):
    (x,) = _real(name, x)
    if not dtypes.is_float(x.dtype):
        raise ValueError(f"Unsupported input type to {name}: {x.dtype}")
    return x


def _in_f32(fn, x):
    """``fn(x)``, computed in float32 for half-precision ``x``."""
    if x.dtype.itemsize < 4:
        return lax.convert_element_type(fn(lax.convert_element_type(x, np.float32)), x.dtype)
    return fn(x)


@compiled_when_eager
def _i0e_compiled(x):
    return _i0e(x)


@compiled_when_eager
def _i1e_compiled(x):
    return _i1e(x)


@compiled_when_eager
def _i1_compiled(x):
    # exp(|x|) in two halves so that I1 stays finite as long as it is representable
    half = lax.exp(0.5 * lax.abs(x))
    return half * _i1e(x) * half


def i0e(x):
    """The exponentially scaled modified Bessel function exp(-|x|) I0(x)."""
    return _in_f32(_i0e_compiled, _float_arg("i0e", x))


def i1e(x):
    """The exponentially scaled modified Bessel function exp(-|x|) I1(x)."""
    return _in_f32(_i1e_compiled, _float_arg("i1e", x))


def i1(x):
    """The modified Bessel function of the first kind of order 1."""
    return _in_f32(_i1_compiled, _float_arg("i1", x))


# ------------------------------------------------------ Bernoulli numbers, zeta, polygamma

@functools.lru_cache(maxsize=None)
def _bernoulli_exact(n: int) -> tuple:
    """B_0 .. B_n as exact fractions (B_1 = -1/2), from the recurrence
    sum_{k<=m} C(m+1, k) B_k = 0."""
    b = [Fraction(1)]
    for m in range(1, n + 1):
        b.append(-sum(math.comb(m + 1, k) * b[k] for k in range(m)) / (m + 1))
    return tuple(b)


def bernoulli(n: int):
    """The Bernoulli numbers B_0 .. B_n (``n`` a concrete int; B_1 = -1/2, as scipy)."""
    n = operator.index(n)
    if n < 0:
        raise ValueError("n must be a non-negative integer.")
    values = [float(b) for b in _bernoulli_exact(n)]
    return asarray(np.array(values), dtype=dtypes.default_float_dtype())


_ZETA_N = 10  # terms summed directly before the Euler-Maclaurin tail
# B_2j / (2j)! for the Euler-Maclaurin correction terms
_ZETA_TAIL = tuple(float(_bernoulli_exact(2 * j)[2 * j] / math.factorial(2 * j))
                   for j in range(1, 14))


@compiled_when_eager
def _zeta(x, q):
    # Euler-Maclaurin: sum_{k<N} (q+k)^-x + a^(1-x)/(x-1) + a^-x/2
    #   + sum_j B_2j/(2j)! x(x+1)...(x+2j-2) a^(-x-2j+1),   a = q + N
    total = 0.0
    for k in range(_ZETA_N):
        total = total + lax.pow(q + float(k), -x)
    a = q + float(_ZETA_N)
    a_x = lax.pow(a, -x)
    total = total + a * a_x / (x - 1.0) + 0.5 * a_x
    term = x * a_x / a
    inv_a2 = 1.0 / (a * a)
    for j, c in enumerate(_ZETA_TAIL, start=1):
        total = total + c * term
        term = term * (x + (2 * j - 1)) * (x + 2 * j) * inv_a2
    q_pole = (q <= 0) & (q == lax.floor(q))
    out = _uf.where(x == 1, np.inf, total)
    out = _uf.where(q_pole & (x > 1), np.inf, out)
    return _uf.where((x < 1) | _uf.isinf(x) | _uf.isnan(q), np.nan, out)


def zeta(x, q=None):
    """The Hurwitz zeta function sum_k (k + q)^-x (x > 1; inf at x == 1 and at poles
    q = 0, -1, ...). ``q`` is required, as in JAX."""
    if q is None:
        raise NotImplementedError("Riemann zeta function not implemented; pass q=1.")
    return _zeta(*_real("zeta", x, q))


def polygamma(n, x):
    """The n-th derivative of digamma: digamma for n == 0, else (-1)^(n+1) n! zeta(n+1, x).
    ``n`` must have an integer dtype (as JAX); negative n gives NaN."""
    n_arr = asarray(n)
    if not np.issubdtype(n_arr.dtype, np.integer):
        raise ValueError(f"Argument `n` to polygamma must be of integer type. "
                         f"Got dtype {n_arr.dtype}.")
    n_f, x = _real("polygamma", n_arr, x)
    return _polygamma(n_f, x)


@compiled_when_eager
def _polygamma(n, x):
    n_safe = _uf.where(n > 0, n, 1.0)
    sign = 1.0 - 2.0 * _uf.remainder(n_safe + 1.0, 2.0)  # (-1)^(n+1)
    nfact = lax.exp(lax.lgamma(n_safe + 1.0))
    higher = sign * nfact * _zeta(n_safe + 1.0, x)
    out = _uf.where(n == 0, lax.digamma(x), higher)
    return _uf.where(n < 0, np.nan, out)


# --------------------------------------------------------------------------- erfcx

def _erfcx_value(x):
    # exp(x^2) erfc(x) directly while exp(x^2) is exact enough (x^2 carries relative error
    # x^2 eps into the result); beyond, the continued fraction
    #   erfcx(x) = (1/sqrt(pi)) / (x + (1/2) / (x + 1 / (x + (3/2) / (x + 2 / (x + ...)))))
    # evaluated from a fixed depth back to its head.
    cut, depth = (10.0, 40) if _is_f64(x) else (3.0, 40)
    big = x > cut
    xs = _uf.where(big, 0.0, x)
    xb = _uf.where(big, x, cut + 1.0)
    direct = lax.exp(xs * xs) * lax.erfc(xs)
    tail = xb
    for k in range(depth, 0, -1):
        tail = xb + (0.5 * k) / tail
    return _uf.where(big, (1.0 / math.sqrt(math.pi)) / tail, direct)


@custom_jvp
@_arrays
def _erfcx(x):
    return _erfcx_value(x)


@_erfcx.defjvp
def _erfcx_jvp(primals, tangents):
    # erfcx'(x) = 2 x erfcx(x) - 2 / sqrt(pi)
    (x,), (t,) = primals, tangents
    y = _erfcx(x)
    return y, t * (2.0 * x * y - 2.0 / math.sqrt(math.pi))


@_elementwise("erfcx")
def erfcx(x):
    """The scaled complementary error function exp(x**2) erfc(x), finite for large x."""
    return _erfcx(x)
