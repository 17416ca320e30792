"""Order statistics and covariances of functorch_lite/numpy/statistics.py against
jax.numpy (values, dtypes, shapes, NaN handling, gradients) and NumPy's closed forms."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import functorch_lite as fl
import functorch_lite.numpy as fnp

RNG = np.random.default_rng(0)
A = RNG.standard_normal((3, 4, 5)).astype(np.float32)
AN = A.copy()
AN[0, 1, 2] = np.nan
AN[1] = np.nan
X = A[0]
C = (A[0] + 1j * A[1]).astype(np.complex64)
FW = np.array([1, 2, 1, 3, 1])
AW = np.array([0.5, 1.0, 2.0, 1.0, 0.3])
Q = np.array([0.1, 0.5, 0.93], np.float32)


def _same(ours, theirs):
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype, \
        (ours.shape, theirs.shape, ours.dtype, theirs.dtype)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5, equal_nan=True)


CASES = {
    "quantile_axes_keepdims": lambda m: m.quantile(A, 0.3, axis=(0, 2), keepdims=True),
    "quantile_q_keepdims": lambda m: m.quantile(A, Q, axis=2, keepdims=True),
    "quantile_all": lambda m: m.quantile(A, 0.3),
    "median": lambda m: m.median(A, axis=-1),
    "median_with_nan": lambda m: m.median(AN, axis=-1),
    "median_int": lambda m: m.median(np.arange(10)),
    "nanmedian": lambda m: m.nanmedian(AN, axis=-1),
    "nanquantile": lambda m: m.nanquantile(AN, 0.7, axis=(1, 2)),
    "percentile": lambda m: m.percentile(A, 30, axis=0),
    "nanpercentile": lambda m: m.nanpercentile(AN, np.array([10, 90]), axis=2),
    "nanvar": lambda m: m.nanvar(AN, axis=2),
    "nanstd_ddof": lambda m: m.nanstd(AN, axis=2, ddof=1),
    "nanargmax": lambda m: m.nanargmax(AN, axis=2),
    "nanargmin": lambda m: m.nanargmin(AN, axis=1),
    "nanargmax_all": lambda m: m.nanargmax(AN),
    "nancumsum": lambda m: m.nancumsum(AN, axis=1),
    "nancumprod": lambda m: m.nancumprod(AN),
    "cov": lambda m: m.cov(X),
    "cov_rowvar": lambda m: m.cov(X, rowvar=False),
    "cov_y": lambda m: m.cov(X[0], X[1]),
    "cov_bias": lambda m: m.cov(X, bias=True),
    "cov_fweights": lambda m: m.cov(X, fweights=FW),
    "cov_aweights": lambda m: m.cov(X, aweights=AW),
    "cov_both_ddof": lambda m: m.cov(X, fweights=FW, aweights=AW, ddof=2),
    "cov_1d": lambda m: m.cov(X[0]),
    "cov_complex": lambda m: m.cov(C),
    "corrcoef": lambda m: m.corrcoef(X),
    "corrcoef_y": lambda m: m.corrcoef(X[0], X[1]),
    "corrcoef_complex": lambda m: m.corrcoef(C),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_jax(name):
    _same(CASES[name](fnp), CASES[name](jnp))


@pytest.mark.parametrize("method", ["linear", "lower", "higher", "midpoint", "nearest"])
def test_quantile_methods_match_jax(method):
    _same(fnp.quantile(A, Q, axis=1, method=method), jnp.quantile(A, Q, axis=1, method=method))
    _same(fnp.nanquantile(AN, Q, axis=2, method=method),
          jnp.nanquantile(AN, Q, axis=2, method=method))


@settings(max_examples=10, deadline=None)
@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=3), q=st.floats(0, 1),
       data=st.data())
def test_quantile_matches_numpy_over_shapes(shape, q, data):
    x = RNG.standard_normal(shape).astype(np.float64)
    axis = data.draw(st.one_of(st.none(), st.integers(0, len(shape) - 1)))
    np.testing.assert_allclose(fnp.quantile(x.astype(np.float32), q, axis=axis),
                               np.quantile(x, q, axis=axis), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(fnp.median(x.astype(np.float32), axis=axis),
                               np.median(x, axis=axis), rtol=1e-5, atol=1e-5)


def test_gradients_and_jit_match_jax():
    g = fl.grad(lambda a: fnp.sum(fnp.quantile(a, 0.3, axis=1)))(A)
    _same(g, jax.grad(lambda a: jnp.sum(jnp.quantile(a, 0.3, axis=1)))(A))
    g = fl.grad(lambda x: fnp.sum(fnp.cov(x) ** 2))(X)
    _same(g, jax.grad(lambda x: jnp.sum(jnp.cov(x) ** 2))(X))
    _same(fl.jit(fnp.median)(A), jnp.median(A))
    _same(fl.vmap(fnp.median)(A), jax.vmap(jnp.median)(A))


def test_errors_follow_jax():
    for lib in (fnp, jnp):
        with pytest.raises(ValueError, match="method"):
            lib.quantile(A, 0.5, method="weibull")
        with pytest.raises(TypeError):
            lib.percentile(A, [10, 90])
        with pytest.raises(ValueError):
            lib.cov(np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match="range"):
        fnp.quantile(A, 1.5)
