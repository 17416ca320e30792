"""The samplers of functorch_lite/random_distributions.py: the same samples as jax.random for
the same key (bit for bit where the transform is the same), with raw and typed keys, under
jit and vmap; their moments against the closed forms; JAX's errors."""
import jax
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import functorch_lite as fl
from functorch_lite import random

# name -> (positional parameters, keyword arguments)
CASES = {
    "laplace": ((), dict(shape=(5,))),
    "logistic": ((), dict(shape=(2, 3))),
    "cauchy": ((), dict(shape=(5,))),
    "rademacher": ((), dict(shape=(6,))),
    "maxwell": ((), dict(shape=(4,))),
    "double_sided_maxwell": ((0.5, 2.0), dict(shape=(4,))),
    "rayleigh": ((np.float32(2.0),), dict(shape=(4,))),
    "weibull_min": ((2.0, 1.5), dict(shape=(4,))),
    "pareto": ((np.float32(3.0),), dict(shape=(4,))),
    "lognormal": ((np.float32(0.5),), dict(shape=(4,))),
    "geometric": ((0.3,), dict(shape=(6,))),
    "triangular": ((0.0, 0.3, 1.0), dict(shape=(5,))),
    "wald": ((np.float32(1.5),), dict(shape=(4,))),
    "multivariate_normal": ((np.zeros(3, np.float32),
                             np.array([[2, 1, 0], [1, 2, 0], [0, 0, 1]], np.float32)),
                            dict(shape=(2,))),
    "orthogonal": ((3,), dict(shape=(2,))),
}
# Same transform, but the factorization (QR, Cholesky) is XLA's, not LAPACK's: last bits differ.
APPROX = {"orthogonal", "multivariate_normal"}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("typed", [False, True])
def test_same_samples_as_jax(name, typed):
    args, kw = CASES[name]
    key = random.key(7) if typed else random.PRNGKey(7)
    jkey = jax.random.key(7) if typed else jax.random.PRNGKey(7)
    ours = np.asarray(getattr(random, name)(key, *args, **kw))
    theirs = np.asarray(getattr(jax.random, name)(jkey, *args, **kw))
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
    if name in APPROX:
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    else:
        np.testing.assert_array_equal(ours, theirs)


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2 ** 31 - 1), name=st.sampled_from(
    ["laplace", "logistic", "cauchy", "maxwell", "rayleigh", "pareto", "lognormal",
     "geometric", "triangular", "wald"]))
def test_parameter_shapes_and_seeds(seed, name):
    params = {"rayleigh": (np.full((2, 1), 1.5, np.float32),),
              "pareto": (np.array([1.0, 2.0, 3.0], np.float32),),
              "lognormal": (np.array([0.5, 1.0], np.float32),),
              "geometric": (np.array([0.2, 0.7], np.float32),),
              "triangular": (0.0, np.array([0.2, 0.5], np.float32), 1.0),
              "wald": (np.array([1.0, 2.0], np.float32),)}.get(name, ())
    kw = {} if params else {"shape": (3,)}
    ours = getattr(random, name)(random.PRNGKey(seed), *params, **kw)
    theirs = getattr(jax.random, name)(jax.random.PRNGKey(seed), *params, **kw)
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))


def test_under_jit_and_vmap_over_keys():
    keys = random.split(random.PRNGKey(0), 4)
    ours = fl.vmap(lambda k: random.laplace(k, (3,)))(keys)
    theirs = jax.vmap(lambda k: jax.random.laplace(k, (3,)))(jax.random.split(
        jax.random.PRNGKey(0), 4))
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))
    jitted = fl.jit(lambda k, m: random.wald(k, m, (2,)))(random.PRNGKey(1), np.float32(2))
    np.testing.assert_array_equal(np.asarray(jitted), np.asarray(
        jax.random.wald(jax.random.PRNGKey(1), np.float32(2), (2,))))


def test_moments_match_the_closed_forms():
    key = random.PRNGKey(3)
    n = 40000
    checks = [
        (random.laplace(key, (n,)), 0.0, 2.0),                       # mean, variance
        (random.logistic(key, (n,)), 0.0, np.pi ** 2 / 3),
        (random.rayleigh(key, 2.0, (n,)), 2.0 * np.sqrt(np.pi / 2), (4 - np.pi) / 2 * 4),
        (random.maxwell(key, (n,)), 2 * np.sqrt(2 / np.pi), 3 - 8 / np.pi),
        (random.pareto(key, 5.0, (n,)), 5 / 4, 5 / (16 * 3)),
        (random.geometric(key, 0.25, (n,)).astype(np.float32), 4.0, 0.75 / 0.0625),
        (random.triangular(key, 0.0, 0.25, 1.0, (n,)), 1.25 / 3,
         (1 + 0.0625 - 0.25) / 18),
        (random.wald(key, 2.0, (n,)), 2.0, 8.0),
        (random.weibull_min(key, 1.0, 2.0, (n,)), np.sqrt(np.pi) / 2, 1 - np.pi / 4),
    ]
    for samples, mean, var in checks:
        s = np.asarray(samples, np.float64)
        assert abs(s.mean() - mean) < 5 * np.sqrt(var / n) + 1e-3, (s.mean(), mean)
        assert abs(s.var() - var) < 0.1 * var, (s.var(), var)
    r = np.asarray(random.rademacher(key, (n,)))
    assert set(np.unique(r)) == {-1, 1} and abs(r.mean()) < 0.03
    cov = np.array([[2.0, 0.6], [0.6, 1.0]], np.float32)
    for method in ("cholesky", "eigh", "svd"):
        z = np.asarray(random.multivariate_normal(key, np.ones(2, np.float32), cov, (n,),
                                                  method=method))
        np.testing.assert_allclose(np.cov(z.T), cov, atol=0.05)
        np.testing.assert_allclose(z.mean(0), [1, 1], atol=0.03)
    q = np.asarray(random.orthogonal(key, 4, (3,)))
    identities = np.broadcast_to(np.eye(4), (3, 4, 4))
    np.testing.assert_allclose(q @ np.swapaxes(q, -1, -2), identities, atol=1e-5)
    wide = np.asarray(random.orthogonal(key, 2, m=5))
    assert wide.shape == (2, 5)
    np.testing.assert_allclose(wide @ wide.T, np.eye(2), atol=1e-5)


def test_errors_follow_jax():
    key = random.PRNGKey(0)
    for fn in ("laplace", "cauchy", "maxwell"):
        with pytest.raises(ValueError, match="must be a float"):
            getattr(random, fn)(key, (2,), np.int32)
        with pytest.raises(ValueError):
            getattr(jax.random, fn)(jax.random.PRNGKey(0), (2,), np.int32)
    with pytest.raises(ValueError, match="int dtype"):
        random.geometric(key, 0.5, (2,), np.float32)
    with pytest.raises(ValueError, match="broadcast"):
        random.pareto(key, np.ones(3, np.float32), (2,))
    with pytest.raises(ValueError, match="cov.shape"):
        random.multivariate_normal(key, np.zeros(3), np.eye(2))
    with pytest.raises(ValueError, match="method must be one of"):
        random.multivariate_normal(key, np.zeros(2), np.eye(2), method="lu")
