"""functorch_lite.scipy.special_extra (betainc, exp1, expi, expn, spence, dawsn, sici,
fresnel, owens_t) against jax.scipy.special and scipy.special: one concatenated grid per
function crossing every switch between series, continued fraction, asymptotic expansion and
reflection, with special values; float32 and float64 (x64); gradients against jax.grad or
finite differences; jit, vmap, promotion, broadcasting and errors."""
import math

import jax
import jax.scipy.special as jss
import numpy as np
import pytest
import scipy.special as ss
from hypothesis import given, settings
from hypothesis import strategies as st

import functorch_lite as fl
import functorch_lite.scipy.special_extra as fe
from helpers import assert_same
from rule_checks import x64

INF, NAN = np.inf, np.nan
RNG = np.random.default_rng(0)

# every region: |x| <= 1, 1.5, 4, 4.5, 6.5, 24, 40 are switch points somewhere
X = np.concatenate([
    [0.0, -0.0, 1e-30, 1e-8, 0.3725, 0.5, 0.999, 1.0, 1.001, 1.3, 1.499, 1.5, 1.501, 2.0,
     3.999, 4.0, 4.001, 4.49, 4.51, 6.49, 6.51, 10.0, 23.9, 24.1, 39.9, 40.1, 85.0, 300.0,
     1e4, INF, NAN],
    np.linspace(0.05, 12.0, 40), 10 ** np.linspace(-4, 2.3, 25)])
XS = np.concatenate([X, -X[1:]])  # signed, with -inf

BA = np.concatenate([[0.5, 1.0, 2.0, 0.0, 0.0, 1.0, 2.0, INF, -1.0, 1.0, 1.0, NAN, 3.0, 1e-3],
                     RNG.uniform(0.1, 20.0, 40), 10 ** RNG.uniform(-2, 2.5, 30)])
BB = np.concatenate([[0.5, 3.0, 0.0, 1.0, 0.0, INF, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 2.0],
                     RNG.uniform(0.1, 20.0, 40), 10 ** RNG.uniform(-2, 2.5, 30)])
BX = np.concatenate([[0.3, 0.5, 0.5, 0.5, 0.5, 0.5, 0.0, 0.5, 0.5, -0.1, 1.1, 0.5, 1.0, 0.7],
                     RNG.uniform(0.0, 1.0, 40), RNG.uniform(0.0, 1.0, 30)])

EN = np.concatenate([[0, 1, 2, 3, 1, 1, 2, 5, 0, -1, 1.5, 1, 2],
                     RNG.integers(0, 40, 60), [1] * 20]).astype(float)
EX = np.concatenate([[0.5, 0.0, 0.0, 0.0, INF, NAN, INF, 1.0, 0.0, 1.0, 1.0, -1.0, 1e-20],
                     np.abs(RNG.normal(size=60)) * 3, 10 ** np.linspace(-6, 2.5, 20)])

OH = np.concatenate([[0.0, 0.0, 1.0, -1.0, INF, 1.0, 0.0, NAN, 2.0, 1.0, 1.0, 0.5, 0.67],
                     RNG.uniform(-6, 6, 40), RNG.normal(size=30) * 15])
OA = np.concatenate([[0.0, 1.0, INF, 2.0, 1.0, -INF, INF, 1.0, NAN, 0.0, -0.5, 1.0, 1.5],
                     RNG.uniform(-3, 3, 40), 10 ** RNG.uniform(-3, 3, 30)])

# name: (arguments, scipy function, float64 rtol against scipy, float32 rtol against JAX)
CASES = {
    "betainc": ((BA, BB, BX), ss.betainc, 1e-10, 2e-4),
    "exp1": ((X,), ss.exp1, 1e-14, 3e-6),
    "expi": ((XS,), ss.expi, 5e-14, 3e-6),
    "expn": ((EN, EX), lambda n, x: ss.expn(n.astype(int), x), 1e-14, 3e-6),
    "spence": ((X,), ss.spence, 1e-14, 3e-6),
    "dawsn": ((XS,), ss.dawsn, 1e-14, 2e-6),
    "sici": ((XS,), ss.sici, 1e-14, 2e-6),
    "fresnel": ((XS,), ss.fresnel, 1e-13, 2e-6),
    "owens_t": ((OH, OA), ss.owens_t, 1e-12, 5e-6),
}
# an absolute tolerance for the cancellation near the roots of Ei, Ci and near-1 betainc
ATOL32 = {"expi": 1e-7, "sici": 1e-7, "betainc": 2e-6, "owens_t": 1e-8, "spence": 1e-7}
ATOL64 = {"expi": 1e-16, "sici": 5e-16}


def _jax_differs(name, args):
    """Where JAX's value is a known defect, scipy's value is taken instead: exp1/expn at
    inf and E_n(0) (JAX gives NaN and 1/n), Ei at 0 and +-inf (NaN), owens_t(0, +-inf),
    spence's float32 tail (JAX's float32 rational is a few ulp coarser there) and
    owens_t in the far tail (JAX's 13-point quadrature)."""
    if name == "exp1":
        return np.isinf(args[0])
    if name == "expn":
        n, x = args
        return (x == 0) | np.isinf(x)
    if name == "expi":
        return (args[0] == 0) | np.isinf(args[0])
    if name == "owens_t":
        h, a = args
        return ((h == 0) & np.isinf(a)) | (np.abs(h) > 5)
    return np.zeros(args[0].shape, bool)


def _jax(name, args):
    """JAX's values. Its exponential integrals run every branch's loop on every element of
    an array, and one of those loops (without a bound) never ends for tiny arguments: they
    are evaluated one element at a time (one compiled scalar function)."""
    f = getattr(jss, name)
    if name not in ("exp1", "expi", "expn"):
        return _as_tuple(f(*args))
    scalar = jax.jit(f)
    return (np.array([scalar(*point) for point in zip(*args)]),)


def _as_tuple(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,)


def _scipy(name, args):
    with np.errstate(all="ignore"):
        return _as_tuple(CASES[name][1](*[a.astype(np.float64) for a in args]))


def _compare(ours, theirs, rtol, atol, dtype):
    assert ours.shape == theirs.shape and ours.dtype == dtype, (ours.shape, ours.dtype)
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol, equal_nan=True)


@pytest.mark.parametrize("name", sorted(CASES))
def test_float32_matches_jax_and_scipy(name):
    args64, _, _, rtol = CASES[name]
    args = [a.astype(np.float32) for a in args64]
    ours = _as_tuple(getattr(fe, name)(*args))
    theirs = _jax(name, args)
    expect = _scipy(name, args)
    differs = _jax_differs(name, args64)
    atol = ATOL32.get(name, 0.0)
    for o, t, e in zip(ours, theirs, expect):
        o, t = np.asarray(o), np.asarray(t)
        _compare(o[~differs], t[~differs], rtol, atol, np.float32)
        # where JAX is off, scipy's float64 value (rounded to float32) is the reference
        with np.errstate(all="ignore"):
            _compare(o[differs], e[differs].astype(np.float32), max(rtol, 1e-6), 1e-30,
                     np.float32)


@pytest.mark.parametrize("name", sorted(CASES))
def test_float64_matches_scipy_and_jax(name):
    args, _, rtol, _ = CASES[name]
    with x64():
        jax.config.update("jax_enable_x64", True)
        ours = [np.asarray(o) for o in _as_tuple(getattr(fe, name)(*args))]
        theirs = [np.asarray(t) for t in _jax(name, args)]
    expect = _scipy(name, args)
    differs = _jax_differs(name, args)
    for o, t, e in zip(ours, theirs, expect):
        assert o.dtype == np.float64 and o.shape == e.shape
        # scipy truncates a non-integer order, JAX (and we) return NaN; spence(-x) and
        # expi(-inf): scipy and JAX disagree on NaN vs a value; JAX is followed
        keep = ~np.isnan(t) | np.isnan(e)
        if name == "expn":
            keep &= args[0] == np.floor(args[0])
        np.testing.assert_allclose(o[keep], e[keep], rtol=rtol, atol=ATOL64.get(name, 0.0))
        same = ~differs
        np.testing.assert_allclose(o[same], t[same], rtol=max(rtol, 1e-11),
                                   atol=max(ATOL64.get(name, 0.0), 1e-300), equal_nan=True)


def test_float64_hard_regions():
    """Large parameters, tails and cancellation against scipy in float64."""
    with x64():
        jax.config.update("jax_enable_x64", True)
        a = np.array([1e-3, 5e-3, 200.0, 1000.0, 30.0, 0.5])
        b = np.array([2.0, 1e-3, 300.0, 1000.0, 0.01, 1e4])
        x = np.array([1e-6, 0.999, 0.4, 0.5, 0.9, 1e-4])
        np.testing.assert_allclose(np.asarray(fe.betainc(a, b, x)), ss.betainc(a, b, x),
                                   rtol=1e-10)
        xe = np.array([700.0, 709.0, 709.7, 1e-300, 37.0, 41.0])
        np.testing.assert_allclose(np.asarray(fe.expi(xe)), ss.expi(xe), rtol=3e-14)
        # e^x / x is still finite just past e^x's overflow (scipy returns inf there)
        series = sum(math.factorial(k) / 710.0 ** k for k in range(12))
        np.testing.assert_allclose(float(fe.expi(710.0)),
                                   np.exp(355.0) * (np.exp(355.0) / 710.0) * series, rtol=1e-13)
        np.testing.assert_allclose(np.asarray(fe.expn(6000.0, np.array([0.5, 2.0, 1e3]))),
                                   ss.expn(6000, np.array([0.5, 2.0, 1e3])), rtol=1e-13)
        big = np.array([1e6, 123456.789, 1e9, 3e15])
        # (scipy's far branch rounds x^2 in the phase: good to ~1e-11 here)
        for ours, want in zip(fe.fresnel(big), ss.fresnel(big)):
            np.testing.assert_allclose(np.asarray(ours), want, rtol=1e-11)
        # ours reduces the phase exactly: mpmath's values (40 digits) to rounding
        s, c = fe.fresnel(123456.789)
        np.testing.assert_allclose([float(s), float(c)],
                                   [0.50000246370825017869, 0.49999923985222636448], rtol=1e-15)
        for ours, want in zip(fe.sici(big), ss.sici(big)):
            np.testing.assert_allclose(np.asarray(ours), want, rtol=1e-9, atol=1e-20)
        xs = np.array([1e5, 1e150, 3e-300])
        np.testing.assert_allclose(np.asarray(fe.dawsn(xs)), ss.dawsn(xs), rtol=1e-15)
        np.testing.assert_allclose(np.asarray(fe.spence(np.array([1e300, 1e-300, 1 + 1e-12]))),
                                   ss.spence(np.array([1e300, 1e-300, 1 + 1e-12])), rtol=1e-14)


GRADS = {  # name: (points, argnums)
    "betainc": ([(0.5, 1.5, 0.3), (3.0, 2.0, 0.8), (20.0, 5.0, 0.5)], (2,)),
    "exp1": ([0.3, 1.0, 2.5, 12.0], (0,)),
    "expi": ([-3.0, 0.2, 2.5, 30.0, 45.0], (0,)),
    "expn": ([(2.0, 0.5), (3.0, 4.0), (1.0, 1.5)], (1,)),
    "spence": ([0.2, 0.7, 3.0, 5.0], (0,)),  # (JAX's is NaN on (1.5, 2])
    "dawsn": ([-1.0, 0.3, 3.0, 6.0], (0,)),
    "owens_t": ([(0.5, 0.5), (2.0, 3.0), (-1.0, -0.3)], (0, 1)),
}


@pytest.mark.parametrize("name", sorted(GRADS))
def test_grad_matches_jax(name):
    points, argnums = GRADS[name]
    args = [np.array(v, np.float32) for v in zip(*points)] if isinstance(points[0], tuple) \
        else [np.array(points, np.float32)]
    g = fl.jit(fl.vmap(fl.grad(getattr(fe, name), argnums=argnums)))(*args)
    gj = jax.jit(jax.vmap(jax.grad(getattr(jss, name), argnums=argnums)))(*args)
    for o, t in zip(g, gj):
        assert_same(o, t, tol=2e-5)


@pytest.mark.parametrize("name", ["sici", "fresnel"])
def test_grad_of_pairs_matches_jax(name):
    x = np.array([-2.0, 0.4, 1.2, 3.0, 4.5, 9.0], np.float32)
    for k in (0, 1):
        g = fl.vmap(fl.grad(lambda v: getattr(fe, name)(v)[k]))(x)
        gj = jax.vmap(jax.grad(lambda v: getattr(jss, name)(v)[k]))(x)
        assert_same(g, gj, tol=2e-5)


def test_grad_float64_finite_differences():
    """Closed-form derivatives against central differences of the values (float64)."""
    h = 1e-6
    with x64():
        jax.config.update("jax_enable_x64", True)
        cases = [
            (lambda v: fe.betainc(2.5, 4.0, v), 0.35), (fe.exp1, 0.8), (fe.expi, 0.9),
            (lambda v: fe.expn(3.0, v), 1.7), (fe.spence, 0.6), (fe.dawsn, 2.2),
            (lambda v: fe.sici(v)[1], 5.0), (lambda v: fe.fresnel(v)[0], 2.3),
            (lambda v: fe.owens_t(v, 1.7), 0.8), (lambda v: fe.owens_t(0.8, v), 1.7),
        ]
        for f, x in cases:
            fd = (float(f(x + h)) - float(f(x - h))) / (2 * h)
            np.testing.assert_allclose(float(fl.grad(f)(x)), fd, rtol=1e-7)
        # spence at 1 (where JAX's piecewise constant gives 0): the true derivative -1
        assert float(fl.grad(fe.spence)(1.0)) == -1.0


def test_betainc_gradient_in_a_b_raises_like_jax():
    with pytest.raises(ValueError, match="differentiable in x only"):
        fl.grad(fe.betainc)(1.0, 2.0, 0.3)
    with pytest.raises(ValueError, match="differentiable in x only"):
        fl.grad(fe.betainc, argnums=1)(1.0, 2.0, 0.3)


def test_promotion_errors_and_jit():
    ints = np.array([1, 2, 3], np.int32)
    for name in ["exp1", "expi", "dawsn"]:
        out = getattr(fe, name)(ints)
        assert out.dtype == np.float32 and out.shape == (3,)
    assert fe.betainc(1, 2, 0.5).dtype == np.float32
    assert fe.expn(np.array([1, 2]), 1).dtype == np.float32
    assert [o.dtype for o in fe.sici(2)] == [np.float32] * 2
    with pytest.raises(TypeError, match="spence"):  # as JAX: float32/float64 only
        fe.spence(np.array([1, 2]))
    with pytest.raises(ValueError, match="complex"):
        fe.dawsn(np.array([1 + 1j], np.complex64))
    h16 = np.array([0.5, 3.0], np.float16)
    assert_same(fe.dawsn(h16), jss.dawsn(h16), tol=2e-3)
    x = np.array([0.5, 2.0, 7.0], np.float32)
    for name in ["expi", "fresnel", "owens_t"]:
        f = getattr(fe, name)
        args = (x,) if name != "owens_t" else (x, x[::-1])
        assert_same(fl.jit(f)(*args), f(*args), tol=0)


@settings(max_examples=3, deadline=None)
@given(st.sampled_from([((3, 1), (4,), ()), ((2, 1, 3), (1, 3), (2, 1, 1)), ((), (), (5,))]))
def test_broadcasting(shapes):
    sa, sb, sx = shapes
    a = np.full(sa, 2.0, np.float32)
    b = np.full(sb, 3.0, np.float32)
    x = np.full(sx, 0.25, np.float32)
    assert_same(fe.betainc(a, b, x), jss.betainc(a, b, x), tol=1e-5)


def test_vmap_matches_elementwise():
    a = np.array([0.5, 5.0, 50.0], np.float32)
    x = np.array([0.1, 0.6, 0.99], np.float32)
    out = fl.vmap(lambda ai, xi: fe.betainc(ai, 2.0, xi))(a, x)
    # (the same iterations per element; XLA may fuse the two programs differently: 1 ulp)
    assert_same(out, fe.betainc(a, 2.0, x), tol=1e-6)
    n = np.array([1.0, 2.0, 7.0], np.float32)
    assert_same(fl.vmap(fe.expn)(n, x * 3), fe.expn(n, x * 3), tol=1e-6)
