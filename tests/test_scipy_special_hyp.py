"""functorch_lite.scipy.special_hyp (hyp1f1, hyp2f1, wofz, bessel_jn, sph_harm_y) against
jax.scipy.special (where JAX is accurate) and scipy.special (everywhere): values, shapes and
dtypes in float32 and float64 (x64), gradients against jax.grad, jit, vmap and errors."""
import jax
import mpmath
import jax.scipy.special as jss
import numpy as np
import pytest
import scipy.special as ss
from hypothesis import given, settings, strategies as st

import functorch_lite as fl
import functorch_lite.scipy.special_hyp as sh
from helpers import FAST_COMPILE, assert_same
from rule_checks import x64


def _close(ours, expect, rtol, atol=0.0):
    np.testing.assert_allclose(np.asarray(ours), expect, rtol=rtol, atol=atol, equal_nan=True)


def _jax(fn, *args):
    """The JAX oracle ``fn(*args)``, compiled whole and quickly (eager JAX is slower here)."""
    return jax.jit(fn).lower(*args).compile(FAST_COMPILE)(*args)


def _enable_jax_x64():
    jax.config.update("jax_enable_x64", True)


# ------------------------------------------------------------------------------ hyp1f1

A1 = np.array([0.5, 1.5, 2.0, 0.3, 3.0, 1.0, 4.5, 2.5])
B1 = np.array([1.5, 2.5, 1.0, 7.5, 3.5, 2.0, 1.5, 6.0])
X1 = np.array([-150.0, -70.0, -20.0, -3.0, -0.5, 0.0, 0.7, 5.0, 40.0, 99.0, 120.0])


def _grid1(dtype):
    a, x = np.meshgrid(np.arange(len(A1)), X1, indexing="ij")
    return A1[a].astype(dtype), B1[a].astype(dtype), x.astype(dtype)


def test_hyp1f1_float32_against_jax_and_scipy():
    a, b, x = _grid1(np.float32)
    ours = sh.hyp1f1(a, b, x)
    theirs = _jax(jss.hyp1f1, a, b, x)
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype == np.float32
    # JAX sums the alternating series for x < 0 (it cancels badly) and overflows to
    # NaN/inf for large x in float32: compare with it on x in [-0.5, 40] only
    ok = (x >= -0.5) & (x <= 40)
    _close(np.asarray(ours)[ok], np.asarray(theirs)[ok], 2e-5)
    with np.errstate(all="ignore"):
        expect = ss.hyp1f1(a.astype(float), b.astype(float), x.astype(float))
    with np.errstate(over="ignore"):
        fin = np.isfinite(expect.astype(np.float32))   # (overflows float32 where not)
    _close(np.asarray(ours)[fin], expect[fin], 5e-5, 1e-37)   # (-1e-63 is 0 in float32)
    assert np.all(np.isinf(np.asarray(ours)[~fin]))
    _close(fl.jit(sh.hyp1f1)(a, b, x), np.asarray(ours), 1e-6)


def test_hyp1f1_float64_and_special_values():
    # the grid, then JAX's special values: a == b == 0, a == 0, a == b, b == 0
    a, b, x = (np.concatenate([v.ravel(), sp]) for v, sp in zip(
        _grid1(np.float64), ([0.0, 0.0, 2.5, 3.0, 1.0], [0.0, 1.5, 2.5, 0.0, 1.0],
                             [2.0, -1.0, 1.5, 1.0, -3.0])))
    with x64():
        _enable_jax_x64()
        ours = sh.hyp1f1(a, b, x)
        theirs = _jax(jss.hyp1f1, a, b, x)
        assert ours.dtype == theirs.dtype == np.float64
        grid, special = slice(0, -5), slice(-5, None)
        _close(ours[grid], ss.hyp1f1(a, b, x)[grid], 1e-12)
        ok = (x[grid] >= -3) & (x[grid] <= 99)
        _close(np.asarray(ours[grid])[ok], np.asarray(theirs[grid])[ok], 1e-11)
        _close(ours[special], np.asarray(theirs[special]), 1e-14)
    assert sh.hyp1f1(1, 2, 1).dtype == np.float32
    with pytest.raises(ValueError, match="complex"):
        sh.hyp1f1(1.0, 2.0, np.array([1j]))


def test_hyp1f1_gradients_against_jax():
    a = np.array([0.5, 1.5, 2.0, 3.0], np.float32)
    b = np.array([1.5, 2.5, 1.0, 4.5], np.float32)
    x = np.array([0.7, 3.0, 2.0, 10.0], np.float32)
    g = fl.jit(fl.vmap(fl.grad(sh.hyp1f1, argnums=(0, 1, 2))))(a, b, x)
    gj = _jax(jax.vmap(jax.grad(jss.hyp1f1, argnums=(0, 1, 2))), a, b, x)
    assert_same(g, gj, 2e-4)
    # negative x (Kummer's transformation; from -100 its asymptotic expansion), a parameter
    # at 0 and a terminating expansion (b - a = 1): against mpmath's derivatives
    with x64():
        for p in [(1.5, 2.5, -30.0), (1.5, 2.5, -120.0), (0.0, 2.0, 3.0), (2.0, 3.0, 150.0)]:
            g64 = fl.grad(sh.hyp1f1, argnums=(0, 1, 2))(*p)
            expect = [float(mpmath.diff(lambda t, i=i: mpmath.hyp1f1(
                *[t if j == i else p[j] for j in range(3)]), p[i])) for i in range(3)]
            _close(np.array([float(v) for v in g64]), np.array(expect), 1e-11)
        pa, pb = 1.5, 2.5
        g2 = fl.grad(fl.grad(sh.hyp1f1, argnums=2), argnums=2)(pa, pb, 1.0)
        # M'' = a(a+1) / (b(b+1)) M(a+2, b+2, x)
        _close(g2, pa * (pa + 1) / (pb * (pb + 1)) * ss.hyp1f1(pa + 2, pb + 2, 1.0), 1e-12)


@settings(max_examples=4, deadline=None)
@given(st.sampled_from([((3,), (2, 1), ()), ((2, 3), (3,), (1, 1)), ((), (4,), (4,))]))
def test_hyp1f1_broadcasting_and_vmap(shapes):
    rng = np.random.default_rng(0)
    a, b, x = (rng.uniform(0.5, 3.0, s).astype(np.float32) for s in shapes)
    ours = sh.hyp1f1(a, b, x)
    assert ours.shape == np.broadcast_shapes(*shapes) and ours.dtype == np.float32
    _close(ours, ss.hyp1f1(*(v.astype(float) for v in (a, b, x))), 2e-5)
    flat = [np.broadcast_to(v, ours.shape).reshape(-1) for v in (a, b, x)]
    assert_same(fl.vmap(sh.hyp1f1)(*flat), np.asarray(ours).reshape(-1), 1e-6)


# ------------------------------------------------------------------------------ hyp2f1

# (a, b, c): generic, logarithmic (c - a - b = 0, 1, -1, 2), terminating, b == c
ABC = np.array([(1.5, 2.5, 4.5), (1.0, 1.0, 2.0), (0.5, 1.5, 2.0), (2.0, 3.0, 4.5),
                (1.0, 2.0, 1.5), (-3.0, 2.0, 1.5), (0.3, 0.7, 3.0), (1.0, 1.0, 4.0),
                (0.25, 1.25, 0.5), (2.0, 1.5, 1.5)])
X2 = np.array([-30.0, -2.0, -0.9, -0.3, 0.0, 0.3, 0.55, 0.8, 0.95])


def _grid2(dtype):
    i, x = np.meshgrid(np.arange(len(ABC)), X2, indexing="ij")
    return tuple(ABC[i, k].astype(dtype) for k in range(3)) + (x.astype(dtype),)


def test_hyp2f1_float32_against_jax_and_scipy():
    a, b, c, x = _grid2(np.float32)
    ours = sh.hyp2f1(a, b, c, x)
    theirs = _jax(jss.hyp2f1, a, b, c, x)
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype == np.float32
    # JAX sums the series in x for x < 0 as well (divergent below -1): compare on |x| < 1
    ok = np.abs(x) < 1
    _close(np.asarray(ours)[ok], np.asarray(theirs)[ok], 2e-5, 1e-6)
    expect = ss.hyp2f1(*(v.astype(float) for v in (a, b, c, x)))
    _close(ours, expect, 2e-5, 1e-6)
    _close(fl.jit(sh.hyp2f1)(a, b, c, x), np.asarray(ours), 1e-6)


def test_hyp2f1_float64_and_special_values():
    # the grid, then x == 1 (Gauss's sum, or inf), x > 1 (inf), c a non-positive integer,
    # b == 0, x == 0
    special = ([0.5, 1.0, 1.0, 1.0, 0.0, 1.0], [0.5, 1.0, 1.0, 1.0, 2.0, 2.0],
               [3.0, 2.0, 2.0, -2.0, 3.0, 3.0], [1.0, 1.0, 1.5, 0.5, 0.7, 0.0])
    a, b, c, x = (np.concatenate([v.ravel(), sp])
                  for v, sp in zip(_grid2(np.float64), special))
    with x64():
        _enable_jax_x64()
        ours = sh.hyp2f1(a, b, c, x)
        theirs = np.asarray(_jax(jss.hyp2f1, a, b, c, x))
        assert ours.dtype == theirs.dtype == np.float64
        grid, sp = slice(0, -6), slice(-6, None)
        _close(ours[grid], ss.hyp2f1(a, b, c, x)[grid], 1e-12, 1e-14)
        ok = (np.abs(x[grid]) < 1) & (x[grid] <= 0.8)   # (JAX's 250-term series stops short)
        _close(np.asarray(ours[grid])[ok], theirs[grid][ok], 1e-10, 1e-13)
        _close(ours[sp], theirs[sp], 1e-12)
    with pytest.raises(ValueError, match="complex"):
        sh.hyp2f1(1.0, 1.0, 2.0, np.array([0.5j]))


def test_hyp2f1_gradients():
    a = np.array([1.5, 0.5, 2.0], np.float32)
    b = np.array([2.5, 1.5, 1.0], np.float32)
    c = np.array([4.5, 2.5, 3.5], np.float32)
    x = np.array([0.3, -0.4, 0.6], np.float32)
    g = fl.jit(fl.vmap(fl.grad(sh.hyp2f1, argnums=(0, 1, 2, 3))))(a, b, c, x)
    gj = _jax(jax.vmap(jax.grad(jss.hyp2f1, argnums=(0, 1, 2, 3))), a, b, c, x)
    assert_same(g, gj, 2e-4)
    # x < -1 (beyond JAX's series): against mpmath's derivatives (scipy's hyp2f1 is not
    # smooth enough there for finite differences)
    with x64():
        p = [1.5, 0.5, 2.5, -3.0]
        g64 = fl.grad(sh.hyp2f1, argnums=(0, 1, 2, 3))(*p)
        expect = []
        for i in range(4):
            def along(t, i=i):
                q = list(p)
                q[i] = t
                return mpmath.hyp2f1(*q)
            expect.append(float(mpmath.diff(along, p[i])))
        _close(np.array([float(v) for v in g64]), np.array(expect), 1e-11)


# -------------------------------------------------------------------------------- wofz

Z = np.array([0.5 + 0.5j, -1 + 0.1j, 3 - 2j, 0.0, 10 + 10j, 1e3j, -2 - 3j, 0.2 - 0.01j,
              -7.5 + 0.0j, 1e-4 + 4j, 30 - 0.5j])


def test_wofz_values():
    z32 = Z.astype(np.complex64)
    ours = sh.wofz(z32)
    assert_same(ours, _jax(jss.wofz, z32), 2e-5)
    _close(ours, ss.wofz(Z), 5e-6)
    assert_same(fl.jit(sh.wofz)(z32), ours, 1e-6)
    r = np.array([-2.0, 0.0, 1.5], np.float32)
    assert_same(sh.wofz(r), _jax(jss.wofz, r), 2e-6)   # real in, complex64 out
    assert sh.wofz(1).dtype == np.complex64
    with x64():
        _enable_jax_x64()
        ours64 = sh.wofz(Z)
        assert ours64.dtype == np.complex128
        _close(ours64, ss.wofz(Z), 1e-13)
        assert_same(ours64, _jax(jss.wofz, Z), 1e-11)


def test_wofz_derivatives():
    z = Z[:4].astype(np.complex64)
    t = np.ones_like(z)
    _, tan = fl.jvp(sh.wofz, (z,), (t,))
    _, tan_j = _jax(lambda p, q: jax.jvp(jss.wofz, (p,), (q,)), z, t)
    assert_same(tan, tan_j, 2e-5)
    # a real loss of a real argument: d/dx Re w(x) = Re w'(x) = -2x Re w(x)
    x = np.array([0.3, -1.2, 2.0], np.float32)
    g = fl.vmap(fl.grad(lambda v: fl.numpy.real(sh.wofz(v))))(x)
    gj = _jax(jax.vmap(jax.grad(lambda v: jax.numpy.real(jss.wofz(v)))), x)
    assert_same(g, gj, 2e-5)
    assert_same(fl.vmap(sh.wofz)(z), sh.wofz(z), 1e-6)


# --------------------------------------------------------------------------- bessel_jn

ZJ = np.array([0.0, 1e-3, 0.1, 1.0, -2.5, 5.0, 10.0, 17.3, 25.0])


def test_bessel_jn_values():
    z32 = ZJ.astype(np.float32)
    ours = sh.bessel_jn(z32, v=4)
    theirs = _jax(lambda z: jss.bessel_jn(z, v=4), z32)
    assert ours.shape == theirs.shape == (5, len(ZJ)) and ours.dtype == np.float32
    # JAX's float32 recurrence overflows to NaN for |z| <~ 3; ours rescales as it goes
    fin = np.all(np.isfinite(np.asarray(theirs)), axis=0)
    assert fin.sum() >= 4
    _close(np.asarray(ours)[:, fin], np.asarray(theirs)[:, fin], 1e-4, 1e-6)
    expect = np.array([ss.jv(k, ZJ) for k in range(5)])
    _close(ours, expect, 1e-5, 1e-6)
    with x64():
        _enable_jax_x64()
        ours64 = sh.bessel_jn(ZJ, v=4)
        assert ours64.dtype == np.float64
        # (n_iter=50 limits Miller's recurrence to ~1e-12 at z = 25, in JAX as here)
        _close(ours64, expect, 1e-11, 1e-15)
        assert_same(ours64[:, 3:], _jax(lambda z: jss.bessel_jn(z, v=4), ZJ)[:, 3:], 1e-10)
    z2 = np.array([[0.5, 3.0, 8.0], [1.0, 2.0, 40.0]], np.float32)
    out = sh.bessel_jn(z2, v=2, n_iter=80)
    assert out.shape == (3, 2, 3)
    _close(out, np.array([ss.jv(k, z2.astype(float)) for k in range(3)]), 1e-5, 2e-6)
    assert_same(fl.jit(lambda z: sh.bessel_jn(z, v=2, n_iter=80))(z2), out, 1e-6)
    assert sh.bessel_jn(2, v=1).dtype == np.float32 and sh.bessel_jn(2.0, v=1).shape == (2,)


def test_bessel_jn_gradients_and_errors():
    z = np.array([3.0, 7.5, 12.0], np.float32)
    g = fl.jit(fl.vmap(fl.grad(lambda s: sh.bessel_jn(s, v=3)[2])))(z)
    # (JAX's float32 gradient overflows here: compare with it in float64)
    _close(g, ss.jvp(2, z.astype(float)), 2e-5, 1e-6)
    with x64():
        _enable_jax_x64()
        z64 = z.astype(np.float64)
        g64 = fl.vmap(fl.grad(lambda s: sh.bessel_jn(s, v=3)[2]))(z64)
        assert_same(g64, _jax(jax.vmap(jax.grad(lambda s: jss.bessel_jn(s, v=3)[2])), z64),
                    1e-9)
    # J_0' = -J_1 near 0 too, where JAX's float32 result is NaN
    small = np.array([0.0, 0.05, 0.7], np.float32)
    _close(fl.vmap(fl.grad(lambda s: sh.bessel_jn(s, v=0)[0]))(small),
           -ss.j1(small.astype(float)), 1e-5, 1e-7)
    with pytest.raises(TypeError):
        sh.bessel_jn(1.0, v=1.5)
    with pytest.raises(ValueError, match="complex"):
        sh.bessel_jn(np.array([1j]), v=1)
    with pytest.raises(ValueError, match="n_iter"):
        sh.bessel_jn(1.0, v=10, n_iter=5)


# -------------------------------------------------------------------------- sph_harm_y

N = np.array([0, 1, 1, 2, 3, 3, 5, 6, 4, 2])
M = np.array([0, -1, 1, 2, 1, -3, -2, 4, 0, 3])   # (the last: |m| > n, zero)
THETA = np.array([0.3, 1.0, 0.0, 2.0, 3.0, 0.7, np.pi, 1.3, 2.2, 0.9])
PHI = np.array([0.1, 2.0, 4.0, 6.0, 1.0, 3.3, 0.5, 5.9, 2.4, 1.1])


def test_sph_harm_y_values():
    th, ph = THETA.astype(np.float32), PHI.astype(np.float32)
    ours = sh.sph_harm_y(N, M, th, ph)
    assert_same(ours, _jax(lambda t, p: jss.sph_harm_y(N, M, t, p), th, ph), 2e-6)
    _close(ours, ss.sph_harm_y(N, M, THETA, PHI), 2e-5, 2e-6)
    assert_same(sh.sph_harm_y(N, M, 0.5, 0.25), jss.sph_harm_y(N, M, 0.5, 0.25), 2e-6)
    # an n_max below max(n) clips n, as JAX
    assert_same(sh.sph_harm_y(N, M, th, ph, n_max=3),
                _jax(lambda t, p: jss.sph_harm_y(N, M, t, p, n_max=3), th, ph), 2e-6)
    jitted = fl.jit(lambda n, m, t, p: sh.sph_harm_y(n, m, t, p, n_max=6))
    assert_same(jitted(N, M, th, ph), ours, 1e-6)
    with x64():
        _enable_jax_x64()
        ours64 = sh.sph_harm_y(N, M, THETA, PHI)
        assert ours64.dtype == np.complex128
        _close(ours64, ss.sph_harm_y(N, M, THETA, PHI), 1e-13, 1e-15)
        assert_same(ours64, _jax(lambda t, p: jss.sph_harm_y(N, M, t, p), THETA, PHI), 1e-12)


def test_sph_harm_y_gradients_vmap_and_errors():
    n, m = N[:8], M[:8]
    th = np.array([0.3, 1.0, 0.4, 2.0, 3.0, 0.7, 2.5, 1.3], np.float32)
    ph = PHI[:8].astype(np.float32)

    weights = np.arange(8.0, dtype=np.float32)

    def loss(sph, t, p):
        y = sph(n, m, t, p, n_max=6)
        return (y.real * weights + y.imag).sum()

    g = fl.grad(lambda t, p: loss(sh.sph_harm_y, t, p), argnums=(0, 1))(th, ph)
    gj = _jax(jax.grad(lambda t, p: loss(jss.sph_harm_y, t, p), argnums=(0, 1)), th, ph)
    assert_same(g, gj, 1e-4)
    thetas = np.linspace(0.1, 3.0, 4).astype(np.float32)
    batched = fl.vmap(lambda t: sh.sph_harm_y(n, m, t, ph, n_max=6))(thetas)
    assert batched.shape == (4, 8)
    assert_same(batched[2], sh.sph_harm_y(n, m, np.full(8, thetas[2]), ph), 1e-6)
    with pytest.raises(TypeError, match="integer"):
        sh.sph_harm_y(n.astype(np.float32), m, th, ph)
    with pytest.raises(NotImplementedError):
        sh.sph_harm_y(n, m, th, ph, diff_n=1)
    with pytest.raises(TypeError, match="n_max"):
        fl.jit(lambda k: sh.sph_harm_y(k, m, th, ph))(n)
