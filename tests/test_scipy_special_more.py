"""functorch_lite.scipy.special's additions (special_more.py) against scipy.special and
jax.scipy.special: values, shapes and dtypes over grids with edge cases, float32 and float64
(x64), gradients against jax.grad, and jit against eager."""
import jax
import jax.scipy.special as jss
import numpy as np
import pytest
import scipy.special as ss

import functorch_lite as fl
import functorch_lite.scipy.special as fs
from rule_checks import x64

INF, NAN = np.inf, np.nan
X = np.array([-np.inf, -30.5, -3.5, -2.0, -1.0, -0.5, -0.0, 0.0, 1e-6, 0.3, 1.0, 2.5, 7.9,
              8.1, 15.0, 40.0, 170.5, np.inf, np.nan])
P = np.array([0.0, 1e-300, 1e-30, 1e-8, 0.01, 0.3, 0.5, 0.7, 0.99, 1 - 1e-7, 1.0, -0.1, 1.5,
              np.nan])
A = np.array([0.5, 1.0, 2.5, 3.0, 10.0, 0.0, -1.5, -2.0, np.inf, np.nan])
B = np.array([1.5, 0.5, 2.0, 7.0, 3.5, 2.0, 2.0, 0.5, 1.0, 1.0])

# name: (args, scipy equivalent or None, float64 rtol against scipy)
UNARY = {
    "gamma": (X, ss.gamma, 1e-12),
    "gammasgn": (X, ss.gammasgn, 0),
    "loggamma": (X[X > 0], ss.loggamma, 1e-12),
    "factorial": (X, None, 0),
    "entr": (X, ss.entr, 1e-14),
    "ndtr": (np.concatenate([X, [-9.0, -12.0, -25.0, -38.0, 6.0]]), ss.ndtr, 1e-13),
    # (below -20 JAX's three-term asymptotic series is good to ~1e-11)
    "log_ndtr": (np.concatenate([X, [-9.0, -12.0, -19.9, -20.1, -25.0, -38.0, -1e3, 4.9, 5.1,
                                     7.9, 8.1, 12.0]]), ss.log_ndtr, 5e-11),
    "ndtri": (P, ss.ndtri, 1e-12),
    "erfcx": (np.concatenate([X, [-5.0, 2.9, 3.1, 5.0, 9.9, 10.1, 1e4, 1e20]]), ss.erfcx,
              1e-14),
    "i0": (X, ss.i0, 1e-13),
    "i0e": (X, ss.i0e, 1e-13),
    "i1": (X, ss.i1, 1e-13),
    "i1e": (X, ss.i1e, 1e-13),
}
BINARY = {
    "beta": ((A, B), ss.beta, 1e-12),
    "betaln": ((np.abs(A) + 0.25, B), ss.betaln, 1e-12),
    "comb": ((np.array([5.0, 5.0, 10.0, 3.0, -1.0, 4.0, 4.5, 30.0]),
              np.array([2.0, 0.0, 3.0, 4.0, 1.0, -1.0, 2.0, 12.0])), None, 0),
    "poch": ((A, B), ss.poch, 1e-12),
    "rel_entr": ((np.array([0.0, 0.0, 0.5, 2.0, -1.0, 1.0, 3.0, np.inf, np.nan]),
                  np.array([0.0, 1.0, 0.25, 2.0, 1.0, -1.0, 0.0, 1.0, 1.0])), ss.rel_entr, 1e-14),
    "kl_div": ((np.array([0.0, 0.0, 0.5, 2.0, -1.0, 1.0, 3.0, np.nan]),
                np.array([0.0, 1.0, 0.25, 2.0, 1.0, -1.0, 0.0, 1.0])), ss.kl_div, 1e-14),
    "boxcox": ((np.array([0.5, 1.0, 2.0, 3.0, 0.0, -1.0, 1e-3, 10.0]),
                np.array([0.0, 0.5, 1e-8, -2.0, 1.0, 2.0, 0.0, 3.0])), ss.boxcox, 1e-12),
    "boxcox1p": ((np.array([0.5, 1e-9, 2.0, 3.0, -0.5, -1.5, 0.0, -1.0]),
                  np.array([0.0, 0.5, 1e-8, -2.0, 1.0, 2.0, 0.0, 3.0])), ss.boxcox1p, 1e-12),
    "zeta": ((np.array([1.0, 0.5, 2.0, 2.0, 2.0, 3.0, 2.5, 2.0, 30.0, 1.5, 5.5, 2.0, 4.0, 1.01]),
              np.array([1.0, 1.0, 0.0, -1.0, -1.5, 1e-3, 100.0, np.nan, 0.5, 3.0, 0.3, 1e6, 2.0,
                        1.0])), ss.zeta, 1e-12),
    "gammainc": ((A[:5], B[:5]), ss.gammainc, 1e-10),
    "gammaincc": ((A[:5], B[:5]), ss.gammaincc, 1e-10),
}
JAX_RTOL64 = {"beta": 1e-6, "betaln": 1e-6}
RTOL32 = {"zeta": 1e-5, "erfcx": 5e-7,
          "gamma": 5e-5, "factorial": 5e-5, "beta": 5e-5, "betaln": 2e-5, "comb": 5e-5,
          "poch": 5e-5, "ndtri": 1e-5, "log_ndtr": 2e-6, "i1": 3e-6, "i1e": 3e-6}


def _fns(name):
    return getattr(fs, name), getattr(jss, name)


def _check(ours, theirs, rtol, atol=0.0):
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    assert ours.shape == theirs.shape
    assert ours.dtype == theirs.dtype, (ours.dtype, theirs.dtype)
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol, equal_nan=True)


def _args(name):
    if name in UNARY:
        return (UNARY[name][0],)
    return BINARY[name][0]


ALL = sorted(UNARY) + sorted(BINARY)


@pytest.mark.parametrize("name", ALL)
def test_float32_matches_jax(name):
    ours_f, jax_f = _fns(name)
    args = [a.astype(np.float32) for a in _args(name)]
    rtol = RTOL32.get(name, 2e-6)
    ours, theirs = ours_f(*args), jax_f(*args)
    _check(ours, theirs, rtol, atol=1e-7 if name == "log_ndtr" else 1e-30)
    _check(fl.jit(ours_f)(*args), ours, 1e-6 if name.startswith("gammainc") else 0)


@pytest.mark.parametrize("name", ALL)
def test_float64_matches_scipy_and_jax(name):
    ours_f, jax_f = _fns(name)
    table = UNARY if name in UNARY else BINARY
    _, scipy_f, rtol = table[name]
    args = _args(name)
    with x64():
        jax.config.update("jax_enable_x64", True)
        ours = ours_f(*args)
        assert np.asarray(ours).dtype == np.float64
        theirs = jax_f(*args)
        # JAX's betaln (and beta through it) is good to ~1e-7 for large arguments;
        # JAX's log_ndtr rounds Phi to 1 before the log just below its upper threshold
        _check(ours, theirs, JAX_RTOL64.get(name, max(rtol, 1e-12)),
               atol=1e-15 if name == "log_ndtr" else 1e-300)
        if scipy_f is not None:
            with np.errstate(all="ignore"):
                expect = scipy_f(*args)
            # at poles and infinities JAX (and we) differ from scipy here and there (beta at
            # negative integers, poch at inf...): compare where both are finite
            both = np.isfinite(expect) & np.isfinite(np.asarray(theirs))
            np.testing.assert_allclose(np.asarray(ours)[both], expect[both], rtol=rtol)


def test_integer_and_scalar_promotion():
    for name in ["gamma", "ndtr", "i1e", "entr", "ndtri"]:
        f = getattr(fs, name)
        out = f(np.array([0, 1, 2], np.int32))
        assert out.dtype == np.float32 and out.shape == (3,)
        assert f(1).dtype == np.float32 and f(1).shape == ()
    assert fs.beta(2, 3).dtype == np.float32
    assert fs.poch(np.arange(3), 2).shape == (3,)
    with pytest.raises(NotImplementedError):
        fs.factorial(3, exact=True)
    for name in ["ndtr", "log_ndtr", "ndtri"]:  # as JAX: float32 and float64 only
        with pytest.raises(TypeError):
            getattr(fs, name)(np.array([0.5], np.float16))
    h = np.array([0.5, 3.0], np.float16)
    for name in ["gamma", "i0e", "i1e", "entr"]:
        _check(getattr(fs, name)(h), getattr(jss, name)(h), 2e-3)


def test_comb_repetition_and_multigammaln():
    n = np.array([5.0, 5.0, 3.0, 0.0, -1.0, 4.0])
    k = np.array([2.0, 0.0, 4.0, 0.0, 0.0, 1.5])
    _check(fs.comb(n, k, repetition=True), jss.comb(n, k, repetition=True), 5e-5)
    a = np.array([[3.0, 5.5], [10.0, 2.1]], np.float32)
    for d in (1, 2, 3):
        _check(fs.multigammaln(a, d), jss.multigammaln(a, d), 2e-6)
        np.testing.assert_allclose(np.asarray(fs.multigammaln(a, d)),
                                   ss.multigammaln(a.astype(np.float64), d), rtol=2e-5)
    with x64():
        jax.config.update("jax_enable_x64", True)
        a64 = a.astype(np.float64)
        _check(fs.multigammaln(a64, 3), ss.multigammaln(a64, 3), 1e-13)


def test_softmax_log_softmax():
    x = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32) * 5
    x[0, 0] = -np.inf
    for axis in (None, 1, (0, 1)):
        _check(fs.softmax(x, axis=axis), jss.softmax(x, axis=axis), 2e-6, 1e-7)
        _check(fs.log_softmax(x, axis=axis), jss.log_softmax(x, axis=axis), 2e-6, 1e-6)
    xs = x[1:]
    t = np.arange(8.0, dtype=np.float32).reshape(2, 4)
    for f_ours, f_jax in [(fs.softmax, jss.softmax), (fs.log_softmax, jss.log_softmax)]:
        g = fl.grad(lambda v: (f_ours(v, axis=1) * t).sum())(xs)
        gj = jax.grad(lambda v: (f_jax(v, axis=1) * t).sum())(xs)
        _check(g, gj, 1e-5, 1e-6)


GRAD_POINTS = {
    "gamma": [0.3, 2.5, -1.5, 7.0], "factorial": [0.5, 3.0], "entr": [0.3, 2.0],
    "loggamma": [0.4, 6.0], "ndtr": [-3.0, 0.2, 4.0], "log_ndtr": [-30.0, -12.0, -3.0, 0.2, 9.0],
    "ndtri": [1e-6, 0.2, 0.5, 0.9], "i0": [-2.0, 0.5, 9.0], "i0e": [-2.0, 0.5, 9.0, 30.0],
    "i1": [-2.0, 0.0, 0.5, 9.0], "i1e": [-2.0, 0.5, 9.0, 30.0], "erfcx": [-2.0, 0.5, 5.0, 20.0],
}
GRAD_POINTS2 = {
    "beta": [(0.5, 1.5), (3.0, 2.0)], "betaln": [(0.5, 1.5), (3.0, 20.0)],
    "comb": [(5.0, 2.0), (7.5, 3.2)], "poch": [(2.5, 1.5), (3.0, 2.0)],
    "rel_entr": [(0.5, 0.25), (2.0, 3.0)], "kl_div": [(0.5, 0.25), (2.0, 3.0)],
    "boxcox": [(2.0, 0.5), (3.0, -1.0)], "boxcox1p": [(0.5, 0.5), (2.0, 2.0)],
    "gammainc": [(2.0, 1.5)], "gammaincc": [(2.0, 1.5)], "zeta": [(3.0, 2.5), (2.0, 0.3)],
}


@pytest.mark.parametrize("name", sorted(GRAD_POINTS))
def test_grad_unary(name):
    ours_f, jax_f = _fns(name)
    xs = np.array(GRAD_POINTS[name], np.float32)
    g = fl.jit(fl.vmap(fl.grad(ours_f)))(xs)
    gj = jax.jit(jax.vmap(jax.grad(jax_f)))(xs)
    # (erfcx' = 2x erfcx - 2/sqrt(pi) cancels for large x, in JAX as here: ~1e-7 absolute)
    _check(g, gj, 1e-4 if name in ("gamma", "ndtri", "factorial") else 2e-5,
           atol=3e-7 if name == "erfcx" else 0.0)


@pytest.mark.parametrize("name", sorted(GRAD_POINTS2))
def test_grad_binary(name):
    ours_f, jax_f = _fns(name)
    a, b = (np.array(v, np.float32) for v in zip(*GRAD_POINTS2[name]))
    argnums = (1,) if name.startswith("gammainc") or name == "zeta" else (0, 1)
    g = fl.jit(fl.vmap(fl.grad(ours_f, argnums=argnums)))(a, b)
    gj = jax.jit(jax.vmap(jax.grad(jax_f, argnums=argnums)))(a, b)
    for o, t in zip(g, gj):
        _check(o, t, 1e-4)


def test_second_derivatives():
    x = np.array([0.5, 2.0, 12.0], np.float32)
    for name in ["i1e", "log_ndtr"]:
        ours_f, jax_f = _fns(name)
        g = fl.jit(fl.vmap(fl.grad(fl.grad(ours_f))))(x)
        gj = jax.jit(jax.vmap(jax.grad(jax.grad(jax_f))))(x)
        _check(g, gj, 1e-3, 1e-6)


def test_ndtri_inverts_ndtr_and_log_ndtr_tails_float64():
    with x64():
        jax.config.update("jax_enable_x64", True)
        x = np.linspace(-37.0, 0.0, 300)
        back = np.asarray(fs.ndtri(fs.ndtr(x)))
        np.testing.assert_allclose(back, x, rtol=1e-13, atol=1e-14)
        p = np.array([1e-300, 1e-100, 1e-20, 1e-5, 0.2, 0.5, 0.6, 0.95, 1 - 1e-12])
        np.testing.assert_allclose(np.asarray(fs.ndtri(p)), ss.ndtri(p), rtol=1e-13)
        big = np.array([-1e5, -1e3, -200.0])
        np.testing.assert_allclose(np.asarray(fs.log_ndtr(big)), ss.log_ndtr(big), rtol=1e-14)
        g = fl.grad(fs.log_ndtr)(-1e3)
        np.testing.assert_allclose(float(g), float(jax.grad(jss.log_ndtr)(-1e3)), rtol=1e-12)


def test_polygamma_and_bernoulli():
    n = np.array([0, 1, 2, 3, 1, 4, -1, 2, 5])
    x = np.array([2.5, 0.5, 3.0, -1.5, -2.0, 1.0, 1.0, 40.0, 0.1], np.float32)
    _check(fs.polygamma(n, x), jss.polygamma(n, x), 2e-5)
    _check(fl.jit(fs.polygamma)(n, x), fs.polygamma(n, x), 0)
    with pytest.raises(ValueError):
        fs.polygamma(1.0, x)
    g = fl.jit(fl.vmap(fl.grad(fs.polygamma, argnums=1)))(n[:3], x[:3])
    _check(g, jax.vmap(jax.grad(jss.polygamma, argnums=1))(n[:3], x[:3]), 2e-5)
    for k in (0, 1, 6, 21):
        _check(fs.bernoulli(k), jss.bernoulli(k), 1e-6, 1e-7)
        np.testing.assert_allclose(np.asarray(fs.bernoulli(k)), ss.bernoulli(k), rtol=1e-6)
    with x64():
        jax.config.update("jax_enable_x64", True)
        n64, x64_ = n[n >= 0], x[n >= 0].astype(np.float64)
        ours = fs.polygamma(n64, x64_)
        assert ours.dtype == np.float64
        np.testing.assert_allclose(np.asarray(ours), ss.polygamma(n64, x64_), rtol=1e-12)
        # (scipy.special.bernoulli is itself only good to ~1e-12; ours are exact ratios)
        np.testing.assert_allclose(np.asarray(fs.bernoulli(30)), ss.bernoulli(30), rtol=1e-10)
        assert fs.bernoulli(30).dtype == jss.bernoulli(30).dtype == np.float64
