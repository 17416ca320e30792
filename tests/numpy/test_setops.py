"""functorch_lite/numpy/setops.py against jax.numpy (values, shapes, dtypes) and NumPy:
unique and its array-API forms, intersect1d, union1d, setdiff1d, setxor1d, isin and the
histograms, eager, under jit (with size=), under vmap and grad, and their errors."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import functorch_lite as fl
import functorch_lite.numpy as fnp
from helpers import assert_same, jax_oracle

RNG = np.random.default_rng(0)
INTS = np.array([3, 1, 1, 2, 3, 5], np.int32)
OTHER = np.array([5, 1, 9, 1, 7, -2], np.int32)
NANS = np.array([np.nan, 1.0, np.nan, 2.0, -0.5, 1.0], np.float32)
ROWS = np.array([[1, 2], [2, 1], [1, 2], [0, 7], [2, 1], [0, 7]], np.int32)
BOOLS = np.array([True, False, True, True, False, True])
COMPLEX = np.array([1 + 2j, np.nan, 1 + 1j, 1 + 2j, complex(0, np.nan), 3j], np.complex64)
EMPTY = np.zeros(0, np.float32)
X = RNG.standard_normal(12).astype(np.float32)
W = RNG.random(12).astype(np.float32)
SAMPLE = np.stack([X, W, X * W], axis=1)


ALL = dict(return_index=True, return_inverse=True, return_counts=True)


def _same(ours, theirs, tol=1e-5):
    assert_same(ours, theirs, tol, weak_type=True)


CASES = {
    # unique: flattened, NaNs, complex, bool, 0-d, along an axis, padded, empty
    "unique_all_extras": lambda m: m.unique(INTS, **ALL),
    "unique_2d_inverse_shape": lambda m: m.unique(ROWS, return_inverse=True),
    "unique_nan_equal": lambda m: m.unique(NANS, **ALL),
    "unique_nan_distinct": lambda m: m.unique(NANS, **ALL, equal_nan=False),
    "unique_complex_nan": lambda m: m.unique(COMPLEX, return_counts=True),
    "unique_bool": lambda m: m.unique(BOOLS, **ALL),
    "unique_0d": lambda m: m.unique(np.float32(3.0), **ALL),
    "unique_axis0": lambda m: m.unique(ROWS, **ALL, axis=0),
    "unique_axis_last": lambda m: m.unique(ROWS.T, return_index=True, axis=-1),
    "unique_size_short": lambda m: m.unique(INTS, **ALL, size=2),
    "unique_size_padded": lambda m: m.unique(INTS, **ALL, size=7),
    "unique_size_fill": lambda m: m.unique(NANS, **ALL, size=7, fill_value=9.0),
    "unique_axis_size_fill": lambda m: m.unique(ROWS, **ALL, axis=0, size=5, fill_value=-1),
    "unique_empty": lambda m: m.unique(EMPTY, **ALL),
    "unique_empty_size_fill": lambda m: m.unique(EMPTY, **ALL, size=3, fill_value=7),
    "unique_values": lambda m: m.unique_values(NANS),
    "unique_counts": lambda m: tuple(m.unique_counts(NANS)),
    "unique_inverse": lambda m: tuple(m.unique_inverse(ROWS)),
    "unique_all_size": lambda m: tuple(m.unique_all(INTS, size=3)),
    # two sets: NaNs, mixed dtypes, padding (default and given), assume_unique, empty
    "isin": lambda m: m.isin(ROWS, INTS[:3]),
    "isin_invert_nan_mixed": lambda m: m.isin(NANS, INTS, invert=True),
    "isin_empty": lambda m: m.isin(INTS, EMPTY, invert=True),
    "union1d": lambda m: m.union1d(INTS, NANS),
    "union1d_size_fill": lambda m: m.union1d(INTS, OTHER, size=10, fill_value=-9),
    "setdiff1d": lambda m: m.setdiff1d(INTS, OTHER),
    "setdiff1d_nan_keeps_dtype": lambda m: m.setdiff1d(NANS, INTS),
    "setdiff1d_size": lambda m: m.setdiff1d(INTS, OTHER, size=4),
    "setdiff1d_assume_unique_size": lambda m: m.setdiff1d(
        OTHER[:3], INTS, assume_unique=True, size=4, fill_value=-1),
    "setdiff1d_empty": lambda m: m.setdiff1d(EMPTY, INTS, size=3),
    "setxor1d_nan": lambda m: m.setxor1d(NANS, NANS[::-1] + 1),
    "setxor1d_size": lambda m: m.setxor1d(INTS, OTHER, size=9),
    "setxor1d_size_nan": lambda m: m.setxor1d(NANS, NANS[::-1] + 1, size=7),
    "setxor1d_assume_unique_fill": lambda m: m.setxor1d(OTHER[:3], INTS[3:],
                                                        assume_unique=True, size=7,
                                                        fill_value=0),
    "setxor1d_empty": lambda m: m.setxor1d(EMPTY, EMPTY),
    "intersect1d_indices": lambda m: m.intersect1d(INTS, OTHER, return_indices=True),
    "intersect1d_nan_2d_bool": lambda m: (m.intersect1d(NANS, NANS),
                                          m.intersect1d(BOOLS, np.array([[True]]))),
    "intersect1d_size": lambda m: m.intersect1d(-INTS, -OTHER, return_indices=True, size=4),
    "intersect1d_size_fill": lambda m: m.intersect1d(ROWS, INTS, return_indices=True, size=4,
                                                     fill_value=-1),
    "intersect1d_nothing_size": lambda m: m.intersect1d(INTS[:1], OTHER[2:3],
                                                        return_indices=True, size=2),
    "intersect1d_empty": lambda m: m.intersect1d(EMPTY, INTS, return_indices=True),
    # histograms: counts or edges for bins, range, weights, density, ints, one value
    "histogram": lambda m: m.histogram(X),
    "histogram_bins_range": lambda m: m.histogram(X, bins=4, range=(-1, 1)),
    "histogram_edges": lambda m: m.histogram(X, bins=np.array([-2.0, 0.0, 0.5, 3.0])),
    "histogram_weights_density": lambda m: m.histogram(X, bins=5, weights=W, density=True),
    "histogram_int_2d": lambda m: m.histogram(ROWS, bins=3),
    "histogram_one_value_nan": lambda m: (m.histogram(np.ones(4, np.float32), bins=2),
                                          m.histogram(NANS, bins=3, range=(0, 3))),
    "histogram_bin_edges_array_range": lambda m: m.histogram_bin_edges(
        INTS, bins=4, range=np.array([0, 2])),
    "histogramdd": lambda m: m.histogramdd(SAMPLE, bins=3),
    "histogramdd_mixed_bins_range": lambda m: m.histogramdd(
        SAMPLE[:, :2], bins=[2, np.array([0.0, 0.5, 1.0])], range=[(-1, 1), None]),
    "histogramdd_weights_density": lambda m: m.histogramdd(SAMPLE[:, :2], bins=(2, 3),
                                                           weights=W, density=True),
    "histogram2d": lambda m: m.histogram2d(INTS, X[:6], bins=[2, 3]),
    "histogram2d_shared_edges": lambda m: m.histogram2d(
        X, W, bins=np.array([-1.0, 0.0, 0.5, 1.0])),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_jax(name):
    _same(CASES[name](fnp), jax_oracle(CASES[name]))


def test_named_results():
    assert fnp.unique_all(INTS)._fields == jnp.unique_all(INTS)._fields
    assert fnp.unique_counts(INTS)._fields == ("values", "counts")
    assert fnp.unique_inverse(INTS)._fields == ("values", "inverse_indices")
    _same(fnp.unique_counts(INTS).counts, jnp.unique_counts(INTS).counts)


def _padded(got, want, fill):
    """``got`` (length ``size``) is ``want`` followed by ``fill``."""
    got = np.asarray(got)
    np.testing.assert_array_equal(got[:len(want)], want)
    np.testing.assert_array_equal(got[len(want):], fill)


# Fixed lengths and size= keep the shapes (so the compilations) the same for every draw.
@settings(max_examples=12, deadline=None)
@given(values=st.lists(st.integers(-3, 3), min_size=8, max_size=8),
       other=st.lists(st.integers(-3, 3), min_size=5, max_size=5))
def test_match_numpy(values, other):
    a, b = np.array(values, np.int32), np.array(other, np.int32)
    got = fnp.unique(a, **ALL, size=8, fill_value=9)
    want = np.unique(a, **ALL)
    _padded(got[0], want[0], 9)
    _padded(got[1], want[1], got[1][0])
    np.testing.assert_array_equal(got[2], want[2])
    _padded(got[3], want[3], 0)
    _padded(fnp.union1d(a, b, size=13, fill_value=9), np.union1d(a, b), 9)
    _padded(fnp.setdiff1d(a, b, size=8, fill_value=9), np.setdiff1d(a, b), 9)
    _padded(fnp.setxor1d(a, b, size=13, fill_value=9), np.setxor1d(a, b), 9)
    got = fnp.intersect1d(a, b, return_indices=True, size=5, fill_value=9)
    want = np.intersect1d(a, b, return_indices=True)
    for g, w, fill in zip(got, want, (9, 8, 5)):
        _padded(g, w, fill)
    np.testing.assert_array_equal(fnp.isin(a, b), np.isin(a, b))
    counts, edges = fnp.histogram(a.astype(np.float32), bins=3)
    want_counts, want_edges = np.histogram(a.astype(np.float32), bins=3)
    np.testing.assert_array_equal(counts, want_counts)
    np.testing.assert_allclose(edges, want_edges, rtol=1e-6)


def _sized_calls(lib, a, b, rows, x):
    """The set operations with size= (the same calls as in CASES: their eager
    executables are compiled already)."""
    return (lib.unique(a, **ALL, size=7), lib.unique(rows, **ALL, axis=0, size=5,
                                                     fill_value=-1),
            tuple(lib.unique_all(a, size=3)), lib.union1d(a, b, size=10, fill_value=-9),
            lib.intersect1d(-a, -b, return_indices=True, size=4),
            lib.setdiff1d(a, b, size=4), lib.setxor1d(a, b, size=9),
            lib.isin(rows, a[:3]), lib.histogram(x, bins=4, range=(-1, 1)))


def test_jit_with_size_equals_eager_and_vmap_matches_jax():
    _same(fl.jit(lambda *args: _sized_calls(fnp, *args))(INTS, OTHER, ROWS, X),
          _sized_calls(fnp, INTS, OTHER, ROWS, X))
    traced_range = fl.jit(lambda x, lo: fnp.histogram(x, bins=4, range=(lo, 1)))(X, -1.0)
    _same(traced_range, fnp.histogram(X, bins=4, range=(-1, 1)))
    _same(fl.vmap(lambda r: fnp.unique(r, return_counts=True, size=2))(ROWS),
          jax.vmap(lambda r: jnp.unique(r, return_counts=True, size=2))(ROWS))


def test_histogram_gradients_match_jax():
    def loss(lib, w):
        counts, _ = lib.histogram(X, bins=4, weights=w, density=True)
        hist, _ = lib.histogramdd(SAMPLE[:, :2], bins=2, weights=w)
        return lib.sum(counts * lib.arange(4.0)) + lib.sum(hist * lib.arange(2.0))
    want = jax.jit(jax.grad(lambda w: loss(jnp, w)))(W)
    _same(fl.grad(lambda w: loss(fnp, w))(W), want)
    _same(fl.jit(fl.grad(lambda w: loss(fnp, w)))(W), want)


def test_errors_follow_jax():
    cases = [
        (lambda m: m.unique(EMPTY, size=3), ValueError),  # fill_value needed
        (lambda m: m.unique(np.float32(1.0), axis=0), ValueError),
        (lambda m: m.unique(INTS, size=2.0), TypeError),
        (lambda m: m.unique([1, 2]), TypeError),
        (lambda m: m.isin(INTS, OTHER, method="fast"), ValueError),
        (lambda m: m.histogram(X, bins="auto"), TypeError),
        (lambda m: m.histogram_bin_edges(X, bins="auto"), NotImplementedError),
        (lambda m: m.histogram(X, range=(1, 2, 3)), ValueError),
        (lambda m: m.histogram(X, weights=W[:3]), ValueError),
        (lambda m: m.histogramdd(SAMPLE, weights=W[:3]), ValueError),
        (lambda m: m.histogramdd(SAMPLE, bins=[2, 3]), ValueError),
        (lambda m: m.histogramdd(SAMPLE, range=[(0, 1)]), ValueError),
    ]
    for case, exc in cases:
        with pytest.raises(exc):
            case(jnp)
        with pytest.raises(exc):
            case(fnp)
    # Data-dependent lengths need size= under transformations, as in JAX.
    for name, f in [("unique", lambda a: fnp.unique(a)),
                    ("unique", lambda a: fnp.unique_counts(a)),
                    ("union1d", lambda a: fnp.union1d(a, a)),
                    ("intersect1d", lambda a: fnp.intersect1d(a, a)),
                    ("setdiff1d", lambda a: fnp.setdiff1d(a, a)),
                    ("setxor1d", lambda a: fnp.setxor1d(a, a))]:
        with pytest.raises(fl.ConcretizationTypeError, match=f"size argument of {name}"):
            fl.jit(f)(INTS)
    with pytest.raises(fl.ConcretizationTypeError, match="size"):
        fl.vmap(lambda r: fnp.unique(r))(ROWS)
    with pytest.raises(jax.errors.ConcretizationTypeError):
        jax.jit(jnp.unique)(INTS)
