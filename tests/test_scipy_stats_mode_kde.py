"""functorch_lite.scipy.stats ``mode`` and ``gaussian_kde`` against jax.scipy.stats (shapes,
dtypes, values, errors, gradients, jit and vmap) and scipy.stats (values in float64)."""
import jax
import jax.numpy as jnp
import jax.scipy.stats as jst
import numpy as np
import pytest
import scipy.stats as sst
from hypothesis import given, settings, strategies as st

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite.scipy.stats._mode import ModeResult, mode
from functorch_lite.scipy.stats.kde import gaussian_kde
from helpers import assert_same
from rule_checks import x64

RNG = np.random.default_rng(0)
INTS = RNG.integers(0, 4, size=(5, 6)).astype(np.int32)
DATA2 = RNG.normal(size=(2, 15)).astype(np.float32)
DATA1 = RNG.normal(size=(12,)).astype(np.float32)
WEIGHTS = RNG.uniform(0.5, 2.0, size=(15,)).astype(np.float32)
PTS2 = RNG.normal(size=(2, 6)).astype(np.float32)


# -- mode ------------------------------------------------------------------------------------
MODE_CASES = {
    "int_axis0": (INTS, dict()),
    "int_axis1_keepdims": (INTS, dict(axis=1, keepdims=True)),
    "int_axis_none": (INTS, dict(axis=None)),
    "int_axis_none_keepdims": (INTS, dict(axis=None, keepdims=True)),
    "3d_axis_neg": (INTS.reshape(5, 3, 2), dict(axis=-2)),
    "nan_wins": (np.array([1.0, np.nan, np.nan, 2.0, np.inf], np.float32), dict()),
    "nan_loses": (np.array([[1.0, np.nan, 1.0, 2.0]], np.float32), dict(axis=1)),
    "bool": (np.array([True, False, True, False]), dict()),
    "uint8": (np.array([3, 1, 3, 1, 2], np.uint8), dict()),
    "float16": (np.array([[0.5, 0.25], [0.5, 0.5], [0.25, 0.25]], np.float16), dict()),
    "scalar_keepdims": (np.float32(3.0), dict(keepdims=True)),
    "empty_axis": (np.zeros((0, 3), np.float32), dict()),
    "empty_other": (np.zeros((3, 0), np.int32), dict()),
    "empty_flat": (np.zeros((0,), np.int32), dict(axis=None)),
}


@pytest.mark.parametrize("name", sorted(MODE_CASES))
def test_mode_matches_jax(name):
    a, kw = MODE_CASES[name]
    got = mode(a, **kw)
    want = jst.mode(jnp.asarray(a), **kw)
    assert isinstance(got, ModeResult) and got._fields == ("mode", "count")
    assert_same(got, tuple(want), tol=0)


def test_mode_ties_and_signed_zero():
    # Ties go to the smallest value; 0.0 and -0.0 are one value and JAX reports the first
    # of them in sorted (stable) order.
    got = mode(np.array([[5, 2, 2, 5, 9, 9]], np.int32), axis=1)
    assert_same(got, (np.array([2], np.int32), np.array([2], np.int32)), tol=0)
    z = np.array([0.0, -0.0, -0.0], np.float32)
    assert np.signbit(np.asarray(mode(z).mode)) == np.signbit(np.asarray(jst.mode(z).mode))
    assert int(mode(z).count) == 3


@settings(max_examples=8, deadline=None)
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3), axis_pick=st.integers(-3, 3),
       seed=st.integers(0, 1000))
def test_mode_hypothesis_against_jax_and_scipy(shape, axis_pick, seed):
    a = np.random.default_rng(seed).integers(-2, 3, size=shape).astype(np.int32)
    axis = None if axis_pick == 3 else axis_pick % len(shape)
    got = mode(a, axis=axis)
    assert_same(got, tuple(jst.mode(jnp.asarray(a), axis=axis)), tol=0)
    want = sst.mode(a, axis=axis)
    np.testing.assert_array_equal(np.asarray(got.mode), want.mode)
    np.testing.assert_array_equal(np.asarray(got.count), want.count)


def test_mode_against_scipy_floats_x64():
    a = np.round(np.random.default_rng(3).normal(size=(7, 4)), 0)
    with x64():
        jax.config.update("jax_enable_x64", True)
        got = mode(a, axis=0, keepdims=True)
        assert_same(got, tuple(jst.mode(jnp.asarray(a), axis=0, keepdims=True)), tol=0)
        assert got.mode.dtype == np.float64 and got.count.dtype == np.int64
        want = sst.mode(a, axis=0, keepdims=True)
        np.testing.assert_array_equal(np.asarray(got.mode), want.mode)
        np.testing.assert_array_equal(np.asarray(got.count), want.count)
        empty = mode(np.zeros((0, 2)))
        assert_same(empty, tuple(jst.mode(jnp.zeros((0, 2)))), tol=0)


def test_mode_errors():
    x = np.ones(3, np.float32)
    with pytest.raises(ValueError, match="Illegal nan_policy"):
        mode(x, nan_policy="drop")
    for policy in ("omit", "raise"):
        with pytest.raises(NotImplementedError, match=policy):
            mode(x, nan_policy=policy)
    with pytest.raises(TypeError, match="asarray"):
        mode([1, 2, 2])
    with pytest.raises(ValueError, match="out of bounds"):
        mode(np.ones((2, 3)), axis=2)


def test_mode_jit_vmap_grad():
    f = fl.jit(mode, static_argnames=("axis", "keepdims"))
    assert_same(f(INTS, axis=1, keepdims=True), tuple(jst.mode(INTS, axis=1, keepdims=True)),
                tol=0)
    batched = fl.vmap(lambda r: mode(r))(INTS)
    looped = [mode(r) for r in INTS]
    assert_same(batched.mode, np.stack([np.asarray(m.mode) for m in looped]), tol=0)
    assert_same(batched.count, np.stack([np.asarray(m.count) for m in looped]), tol=0)
    x = np.array([1.0, 2.0, 3.0, 2.0, 1.0, 2.0], np.float32)
    assert_same(fl.grad(lambda v: mode(v).mode)(x),
                jax.grad(lambda v: jst.mode(v).mode)(jnp.asarray(x)), tol=0)


# -- gaussian_kde ----------------------------------------------------------------------------
def _scaled_neff(kde):
    return kde.neff ** (-1.0 / 5.0)


BW_CASES = {"default": None, "scott": "scott", "silverman": "silverman", "scalar": 0.4,
            "callable": _scaled_neff}


@pytest.mark.parametrize("bw,weighted", [("default", False), ("scott", True),
                                         ("silverman", True), ("scalar", False),
                                         ("callable", True)])
def test_kde_attributes_and_density_match_jax(bw, weighted):
    w = WEIGHTS if weighted else None
    ours = gaussian_kde(DATA2, BW_CASES[bw], w)
    theirs = jst.gaussian_kde(jnp.asarray(DATA2), BW_CASES[bw], w)
    for name in ("dataset", "weights", "neff", "covariance", "inv_cov"):
        assert_same(getattr(ours, name), getattr(theirs, name), tol=1e-5)
    assert (ours.d, ours.n) == (theirs.d, theirs.n) == (2, 15)
    assert_same(ours.evaluate(PTS2), theirs.evaluate(PTS2))
    assert_same(ours(PTS2), theirs(PTS2))
    assert_same(ours.pdf(PTS2), theirs.pdf(PTS2))
    assert_same(ours.logpdf(PTS2), theirs.logpdf(PTS2))
    # SciPy has ``factor`` (JAX's class does not).
    sp = sst.gaussian_kde(DATA2.astype(np.float64), BW_CASES[bw], w)
    np.testing.assert_allclose(np.asarray(ours.factor), sp.factor, rtol=1e-5)


def test_kde_point_shapes_and_dtypes():
    k1, j1 = gaussian_kde(DATA1), jst.gaussian_kde(jnp.asarray(DATA1))
    for pts in (np.float32(0.3), np.arange(3, dtype=np.int32)):
        assert_same(k1.evaluate(pts), j1.evaluate(pts))
    k2, j2 = gaussian_kde(DATA2), jst.gaussian_kde(jnp.asarray(DATA2))
    # A single 2-D point given as a vector.
    assert_same(k2.logpdf(np.array([0.2, -0.1], np.float32)),
                j2.logpdf(np.array([0.2, -0.1], np.float32)))
    # An integer dataset becomes float; far away the log density stays finite.
    ki = gaussian_kde(np.arange(6, dtype=np.int32))
    ji = jst.gaussian_kde(jnp.arange(6, dtype=jnp.int32))
    assert_same(ki.dataset, ji.dataset, tol=0)
    far = np.array([200.0], np.float32)
    assert_same(ki.logpdf(far), ji.logpdf(far), tol=1e-4)
    assert np.isfinite(np.asarray(ki.logpdf(far))).all()


def test_kde_against_scipy_x64():
    data = np.random.default_rng(5).normal(size=(3, 25))
    w = np.random.default_rng(6).uniform(0.1, 1.0, size=25)
    pts = np.random.default_rng(7).normal(size=(3, 8))
    with x64():
        jax.config.update("jax_enable_x64", True)
        ours = gaussian_kde(data, "silverman", w)
        sp = sst.gaussian_kde(data, "silverman", w)
        assert ours.dataset.dtype == np.float64
        np.testing.assert_allclose(np.asarray(ours.covariance), sp.covariance, rtol=1e-12)
        np.testing.assert_allclose(np.asarray(ours.inv_cov), sp.inv_cov, rtol=1e-10)
        np.testing.assert_allclose(float(ours.neff), sp.neff, rtol=1e-12)
        np.testing.assert_allclose(np.asarray(ours.pdf(pts)), sp.pdf(pts), rtol=1e-10)
        np.testing.assert_allclose(np.asarray(ours.logpdf(pts)), sp.logpdf(pts), rtol=1e-10)


def test_kde_integrals_match_jax_and_scipy():
    ours, theirs = gaussian_kde(DATA2, weights=WEIGHTS), jst.gaussian_kde(DATA2, weights=WEIGHTS)
    sp = sst.gaussian_kde(DATA2.astype(np.float64), weights=WEIGHTS.astype(np.float64))
    mean, cov = np.array([[0.3, -0.2]], np.float32), np.eye(2, dtype=np.float32) * 0.5
    got = ours.integrate_gaussian(mean, cov)
    assert_same(got, theirs.integrate_gaussian(mean, cov))
    np.testing.assert_allclose(float(got), sp.integrate_gaussian(mean[0], cov), rtol=1e-5)
    small_o, small_t = gaussian_kde(PTS2), jst.gaussian_kde(PTS2)
    got = ours.integrate_kde(small_o)
    assert_same(got, theirs.integrate_kde(small_t))
    assert_same(small_o.integrate_kde(ours), small_t.integrate_kde(theirs))
    np.testing.assert_allclose(float(got), sp.integrate_kde(sst.gaussian_kde(PTS2)), rtol=1e-5)
    k1, j1 = gaussian_kde(DATA1), jst.gaussian_kde(DATA1)
    got = k1.integrate_box_1d(-1.0, 0.5)
    assert_same(got, j1.integrate_box_1d(-1.0, 0.5))
    np.testing.assert_allclose(float(got), sst.gaussian_kde(DATA1).integrate_box_1d(-1.0, 0.5),
                               rtol=1e-5)
    assert_same(k1.integrate_box_1d(-np.inf, np.inf), j1.integrate_box_1d(-np.inf, np.inf))
    # Differentiable in the Gaussian's mean, as JAX's.
    assert_same(fl.grad(lambda m: ours.integrate_gaussian(m, cov))(mean[0]),
                jax.grad(lambda m: theirs.integrate_gaussian(m, cov))(mean[0]), tol=1e-5)


def test_kde_errors():
    with pytest.raises(TypeError):
        gaussian_kde(DATA1.tolist())
    with pytest.raises(NotImplementedError, match="complex"):
        gaussian_kde(DATA1.astype(np.complex64))
    with pytest.raises(ValueError, match="multiple elements"):
        gaussian_kde(np.ones(1, np.float32))
    with pytest.raises(ValueError, match=r"\(d, n\)"):
        gaussian_kde(np.ones((2, 3, 4), np.float32))
    with pytest.raises(ValueError, match="one-dimensional"):
        gaussian_kde(DATA2, weights=np.ones((2, 15), np.float32))
    with pytest.raises(ValueError, match="length n"):
        gaussian_kde(DATA2, weights=np.ones(3, np.float32))
    for bad in ("sott", [0.5], np.array([0.5, 0.2])):
        with pytest.raises(ValueError, match="bw_method"):
            gaussian_kde(DATA2, bw_method=bad)
    k2, k1 = gaussian_kde(DATA2), gaussian_kde(DATA1)
    with pytest.raises(ValueError, match="dimension 3, dataset has dimension 2"):
        k2.evaluate(np.zeros((3, 4), np.float32))
    with pytest.raises(NotImplementedError, match="complex"):
        k2.logpdf(np.zeros((2, 4), np.complex64))
    with pytest.raises(TypeError):
        k2.evaluate([[0.0], [0.0]])
    with pytest.raises(ValueError, match="mean does not have dimension 2"):
        k2.integrate_gaussian(np.zeros(3), np.eye(2))
    with pytest.raises(ValueError, match="covariance does not have dimension 2"):
        k2.integrate_gaussian(np.zeros(2), np.eye(3))
    with pytest.raises(ValueError, match="only handles 1D"):
        k2.integrate_box_1d(0.0, 1.0)
    with pytest.raises(ValueError, match="must be scalars"):
        k1.integrate_box_1d(np.zeros(1), 1.0)
    with pytest.raises(ValueError, match="same dimensionality"):
        k2.integrate_kde(k1)
    with pytest.raises(NotImplementedError, match="integrate_box_1d"):
        k2.integrate_box(np.zeros(2), np.ones(2))
    with pytest.raises(NotImplementedError):
        k2.set_bandwidth("silverman")
    with pytest.raises(AttributeError, match="immutable"):
        k2.neff = 3.0
    with pytest.raises(TypeError, match="shape"):
        k2.resample(fl.random.key(0), 4)


def test_kde_logpdf_gradients_match_jax():
    # By the data, the evaluation points and the weights (through neff, the covariance and
    # the kernel sum); JAX's oracle is compiled whole to keep the test quick.
    def loss(mod, kde):
        def f(data, pts, w):
            return mod.sum(kde(data, weights=w).logpdf(pts) * mod.arange(1, 7))
        return f

    ours = fl.grad(loss(fnp, gaussian_kde), argnums=(0, 1, 2))(DATA2, PTS2, WEIGHTS)
    theirs = jax.jit(jax.grad(loss(jnp, jst.gaussian_kde), argnums=(0, 1, 2)))(
        DATA2, PTS2, WEIGHTS)
    for o, t in zip(ours, theirs):
        assert_same(o, t, tol=2e-4)


def test_kde_bandwidth_gradient_matches_jax():
    # A traced scalar bandwidth: the derivative of the log likelihood by the factor.
    def loss(mod, kde):
        return lambda bw: mod.sum(kde(DATA1, bw_method=bw).logpdf(DATA1 + 0.1))

    assert_same(fl.grad(loss(fnp, gaussian_kde))(np.float32(0.4)),
                jax.jit(jax.grad(loss(jnp, jst.gaussian_kde)))(jnp.float32(0.4)), tol=1e-4)


def test_kde_pytree_jit_vmap():
    k, j = gaussian_kde(DATA2, weights=WEIGHTS), jst.gaussian_kde(DATA2, weights=WEIGHTS)
    leaves = fl.tree_util.tree_leaves(k)
    assert len(leaves) == 6
    rebuilt = fl.tree_util.tree_unflatten(fl.tree_util.tree_structure(k), leaves)
    assert_same(rebuilt.logpdf(PTS2), k.logpdf(PTS2), tol=0)
    # The estimator crosses a jit boundary, as an argument and as a result.
    jitted = fl.jit(lambda kde, x: kde.logpdf(x))(k, PTS2)
    assert_same(jitted, j.logpdf(PTS2))
    built = fl.jit(lambda d: gaussian_kde(d, weights=WEIGHTS))(DATA2)
    assert isinstance(built, gaussian_kde)
    assert_same(built.covariance, j.covariance)
    # vmap over points, and over a batch of data sets (building one estimator per set).
    per_point = fl.vmap(lambda x: k.pdf(x), in_axes=1)(PTS2)
    assert_same(per_point, jax.vmap(lambda x: j.pdf(x), in_axes=1)(PTS2))
    stacked = np.stack([DATA2, 1.5 * DATA2 + 0.2])
    batched = fl.vmap(lambda d: gaussian_kde(d))(stacked)
    assert batched.dataset.shape == (2, 2, 15) and batched.covariance.shape == (2, 2, 2)
    ours = fl.vmap(lambda kde: kde.logpdf(PTS2))(batched)
    theirs = jax.vmap(lambda d: jst.gaussian_kde(d).logpdf(PTS2))(stacked)
    assert_same(ours, theirs)


def test_kde_resample_matches_jax_and_shapes():
    k, j = gaussian_kde(DATA2, weights=WEIGHTS), jst.gaussian_kde(DATA2, weights=WEIGHTS)
    # Same key, same draws as JAX (typed and raw keys).
    assert_same(k.resample(fl.random.key(3), (7,)), j.resample(jax.random.key(3), (7,)))
    assert_same(k.resample(fl.random.PRNGKey(4)), j.resample(jax.random.PRNGKey(4)))
    # JAX only supports len(shape) <= 1 correctly; ours gives (d,) + shape for any shape.
    s = k.resample(fl.random.key(5), (2, 3))
    assert s.shape == (2, 2, 3) and s.dtype == np.float32
    flat = np.asarray(s).reshape(2, 6)
    jitted = fl.jit(lambda kde, key: kde.resample(key, (2, 3)))(k, fl.random.key(5))
    assert_same(jitted, s)
    # Each column is a data point plus noise: not all draws collapse to one point.
    assert len(np.unique(flat[0])) == 6
    keys = fl.random.split(fl.random.key(6), 3)
    per_key = fl.vmap(lambda key: k.resample(key, (4,)))(keys)
    assert_same(per_key, np.stack([np.asarray(k.resample(key, (4,))) for key in keys]))


def test_kde_resample_moments():
    k = gaussian_kde(DATA2, weights=WEIGHTS)
    draws = np.asarray(k.resample(fl.random.key(11), (40000,)), np.float64)
    w = WEIGHTS / WEIGHTS.sum()
    data = DATA2.astype(np.float64)
    mean = data @ w
    # The mixture's covariance: the weighted spread of the centres plus the kernel's.
    centred = data - mean[:, None]
    want_cov = (centred * w) @ centred.T + np.asarray(k.covariance, np.float64)
    np.testing.assert_allclose(draws.mean(axis=1), mean, atol=0.03)
    np.testing.assert_allclose(np.cov(draws), want_cov, atol=0.03)
