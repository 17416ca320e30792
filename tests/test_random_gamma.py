"""The gamma family of functorch_lite/random_gamma.py (gamma, loggamma, beta, dirichlet,
chisquare, f, t, generalized_normal, ball, poisson): bit for bit the samples of jax.random
for the same key (raw and typed keys, eagerly, under jit and under vmap over keys), the
moments against the closed forms, gradients with respect to the parameters against
jax.grad, JAX's errors; and lax.igamma/igammac/igamma_grad_a/random_gamma_grad
(functorch_lite/lax/special_gamma.py) against scipy and finite differences."""
import jax
import numpy as np
import pytest
import scipy.special as sp

import functorch_lite as fl
from functorch_lite import lax, random
from rule_checks import x64

F32 = np.float32
MIXED = np.array([0.05, 0.3, 1.0, 2.5, 7.0, 40.0], F32)   # both sides of the a < 1 boost

# (name, positional parameters, keyword arguments, typed key?)
CASES = [
    ("gamma", (F32(2.5),), dict(shape=(5,)), False),
    ("gamma", (MIXED,), {}, True),
    ("gamma", (np.array([[0.5], [3.0]], F32),), dict(shape=(2, 3)), False),
    ("loggamma", (np.array([0.01, 0.3, 2.0], F32),), {}, True),
    ("beta", (F32(0.7), np.array([0.5, 2.0, 5.0], F32)), {}, False),
    ("dirichlet", (np.array([0.3, 1.0, 2.5], F32),), dict(shape=(2,)), True),
    ("chisquare", (F32(3.0),), dict(shape=(4,)), False),
    ("f", (F32(3.0), np.array([2.0, 6.0], F32)), {}, True),
    ("t", (F32(4.0),), dict(shape=(4,)), False),
    ("generalized_normal", (1.5,), dict(shape=(4,)), True),
    ("ball", (3, 1.0), dict(shape=(2,)), False),
    ("poisson", (np.array([0.0, 0.5, 4.0, 12.0, 150.0], F32),), {}, True),  # both methods
]


def _keys(seed, typed):
    if typed:
        return random.key(seed), jax.random.key(seed)
    return random.PRNGKey(seed), jax.random.PRNGKey(seed)


@pytest.mark.parametrize("name,args,kw,typed", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_same_samples_as_jax(name, args, kw, typed):
    key, jkey = _keys(11, typed)
    ours = np.asarray(getattr(random, name)(key, *args, **kw))
    theirs = np.asarray(getattr(jax.random, name)(jkey, *args, **kw))
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
    np.testing.assert_array_equal(ours, theirs)


def test_under_jit_and_vmap_over_keys():
    keys = random.split(random.PRNGKey(0), 3)
    jkeys = jax.random.split(jax.random.PRNGKey(0), 3)
    a, lam = np.array([0.5, 2.0], F32), np.array([2.0, 30.0], F32)
    ours = fl.vmap(lambda k: (random.gamma(k, a), random.poisson(k, lam)))(keys)
    theirs = jax.vmap(lambda k: (jax.random.gamma(k, a), jax.random.poisson(k, lam)))(jkeys)
    for o, t in zip(ours, theirs):
        np.testing.assert_array_equal(np.asarray(o), np.asarray(t))

    # a typed key under jit, a traced parameter, and a derived sampler with a constant
    # a < 1 (which XLA may fold into the sampler's arithmetic) in one program
    def draws(mod, k, a):
        return mod.loggamma(k, a), mod.t(k, F32(0.8), (3,))

    ours = fl.jit(lambda k, a: draws(random, k, a))(random.key(1), a)
    theirs = jax.jit(lambda k, a: draws(jax.random, k, a))(jax.random.key(1), a)
    for o, t in zip(ours, theirs):
        np.testing.assert_array_equal(np.asarray(o), np.asarray(t))


def test_float64_under_x64():
    with x64():
        jax.config.update("jax_enable_x64", True)
        a = np.array([0.4, 2.0, 9.0])
        ours = random.gamma(random.PRNGKey(1), a, (2, 3))
        theirs = jax.random.gamma(jax.random.PRNGKey(1), a, (2, 3))
        assert np.asarray(ours).dtype == np.float64
        np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))
        counts = random.poisson(random.PRNGKey(1), 3.0, (3,))
        assert np.asarray(counts).dtype == np.int64
        np.testing.assert_array_equal(
            np.asarray(counts), np.asarray(jax.random.poisson(jax.random.PRNGKey(1), 3.0, (3,))))


def test_moments_match_the_closed_forms():
    n = 20000
    key = random.PRNGKey(3)

    def check(samples, mean, var, axis=-1):
        s = np.asarray(samples, np.float64)
        m, v = s.mean(axis), s.var(axis)
        np.testing.assert_allclose(m, mean, atol=5 * np.sqrt(np.max(var) / n) + 1e-3)
        np.testing.assert_allclose(v, var, rtol=0.1)

    a = np.array([[0.3], [1.0], [4.0]], F32)
    draws = fl.jit(lambda k: {
        "gamma": random.gamma(k, a, (3, n)),
        "loggamma": random.loggamma(k, a, (3, n)),
        "dirichlet": random.dirichlet(k, np.array([1.0, 2.0, 3.0], F32), (n,)),
        "poisson": random.poisson(k, np.array([[3.0], [50.0]], F32), (2, n)),
    })(key)
    check(draws["gamma"], a[:, 0], a[:, 0])
    check(np.exp(np.asarray(draws["loggamma"], np.float64)), a[:, 0], a[:, 0])
    d = np.asarray(draws["dirichlet"])
    np.testing.assert_allclose(d.sum(-1), 1, rtol=1e-5)
    check(d, np.array([1, 2, 3]) / 6, np.array([5, 8, 9]) / (36 * 7), axis=0)
    check(np.asarray(draws["poisson"], np.float64), np.array([3.0, 50.0]), np.array([3.0, 50.0]))


def test_gradients_match_jax():
    a = np.array([0.3, 1.5, 4.0], F32)
    key, jkey = random.PRNGKey(2), jax.random.PRNGKey(2)
    weights = np.arange(1, 4, dtype=F32)

    # gamma and loggamma, and beta (whose gradients flow through loggamma's) with a scalar
    # parameter broadcast against an array one
    def grads(mod, grad, k, a, b):
        return (grad(lambda a: mod.gamma(k, a).sum())(a),
                grad(lambda a: mod.loggamma(k, a).sum())(a),
                grad(lambda a, b: (mod.beta(k, a, b) * weights).sum(), argnums=(0, 1))(a, b))

    ours = fl.jit(lambda a, b: grads(random, fl.grad, key, a, b))(a, F32(2.0))
    theirs = jax.jit(lambda a, b: grads(jax.random, jax.grad, jkey, a, b))(a, F32(2.0))
    for o, t in zip(fl.tree_util.tree_leaves(ours), jax.tree_util.tree_leaves(theirs)):
        np.testing.assert_allclose(np.asarray(o), np.asarray(t), rtol=1e-4, atol=1e-6)


def test_gamma_gradient_is_the_implicit_reparameterization():
    # at fixed P(a, x), dx/da = -(dP/da)/(dP/dx): move a, solve for x, compare (float64)
    a = np.array([0.2, 0.9, 3.0, 12.0])
    x = np.array([0.05, 0.7, 4.5, 9.0])
    with x64():
        jax.config.update("jax_enable_x64", True)
        grads = np.asarray(fl.jit(lax.random_gamma_grad)(a, x))
    eps = 1e-6
    p = sp.gammainc(a, x)
    numeric = (sp.gammaincinv(a + eps, p) - sp.gammaincinv(a - eps, p)) / (2 * eps)
    np.testing.assert_allclose(grads, numeric, rtol=1e-5)


def test_igamma_and_igammac_against_scipy():
    a = np.array([0.1, 0.5, 1.0, 2.5, 7.0, 30.0, 3.0, 0.7, 2.0], F32)
    x = np.array([0.05, 2.0, 0.3, 2.0, 12.0, 25.0, 0.0, 5.0, np.inf], F32)
    p, q = fl.jit(lambda a, x: (lax.igamma(a, x), lax.igammac(a, x)))(a, x)
    np.testing.assert_allclose(np.asarray(p), sp.gammainc(a, x), rtol=2e-5, atol=1e-7)
    np.testing.assert_allclose(np.asarray(q), sp.gammaincc(a, x), rtol=2e-5, atol=1e-7)
    assert np.asarray(p).dtype == np.float32
    # broadcasting, and NaN outside the domain
    p = np.asarray(fl.jit(lax.igamma)(F32(2.0), np.array([-1.0, 1.0], F32)))
    assert np.isnan(p[0]) and p[1] == pytest.approx(sp.gammainc(2.0, 1.0), rel=1e-6)
    with pytest.raises(TypeError, match="floating-point"):
        lax.igamma(np.float32(1.0), np.array([1, 2], np.int32))


def test_igamma_derivatives_against_finite_differences():
    a = np.array([0.4, 1.5, 3.0, 8.0])
    x = np.array([0.3, 2.5, 1.0, 11.0])
    eps = 1e-6
    with x64():
        jax.config.update("jax_enable_x64", True)

        def both(a, x):
            return (fl.grad(lambda a, x: lax.igamma(a, x).sum(), argnums=(0, 1))(a, x),
                    fl.grad(lambda a, x: lax.igammac(a, x).sum(), argnums=(0, 1))(a, x),
                    lax.igamma_grad_a(a, x))

        (pa, px), (qa, qx), grad_a = fl.jit(both)(a, x)
    da = (sp.gammainc(a + eps, x) - sp.gammainc(a - eps, x)) / (2 * eps)
    dx = (sp.gammainc(a, x + eps) - sp.gammainc(a, x - eps)) / (2 * eps)
    for got, want in ((pa, da), (px, dx), (qa, -da), (qx, -dx), (grad_a, da)):
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-6, atol=1e-9)


def test_errors_follow_jax():
    key = random.PRNGKey(0)
    for name in ("gamma", "loggamma", "chisquare", "t"):
        with pytest.raises(ValueError, match="must be a float"):
            getattr(random, name)(key, 1.0, (2,), np.int32)
    with pytest.raises(ValueError, match="must be a float"):
        random.beta(key, 1.0, 1.0, (2,), np.int32)
    with pytest.raises(ValueError, match="broadcast"):
        random.gamma(key, np.ones(3, F32), (2,))
    with pytest.raises(ValueError):
        jax.random.gamma(jax.random.PRNGKey(0), np.ones(3, F32), (2,))
    with pytest.raises(ValueError, match="broadcast"):
        random.f(key, np.ones(3, F32), 1.0, (2,))
    with pytest.raises(ValueError, match="alpha.ndim >= 1"):
        random.dirichlet(key, F32(1.0))
    with pytest.raises(ValueError, match="int dtype"):
        random.poisson(key, 1.0, (2,), np.float32)
    with pytest.raises(ValueError, match="broadcast"):
        random.poisson(key, np.ones(3, F32), (2,))
    with pytest.raises(TypeError, match="concrete int"):
        random.ball(key, 2.5)
    with pytest.raises(TypeError, match="PRNG key"):
        random.gamma(np.zeros(3, np.uint32), 1.0)


def test_names_are_exported():
    for name in ("gamma", "loggamma", "beta", "dirichlet", "chisquare", "f", "t",
                 "generalized_normal", "ball", "poisson"):
        assert callable(getattr(random, name))
    for name in ("igamma", "igammac", "igamma_grad_a", "random_gamma_grad"):
        assert name in lax.special_gamma.__all__ and callable(getattr(lax, name))
    assert np.asarray(random.gamma(random.PRNGKey(0), np.ones((0, 2), F32))).shape == (0, 2)
