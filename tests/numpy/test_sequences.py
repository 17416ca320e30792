"""functorch_lite/numpy/sequences.py against jax.numpy (values, shapes, dtypes) and NumPy:
differences and integrals, convolutions, sorted lookups, counting, windows, spaced samples,
small helpers and index grids."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import functorch_lite as fl
import functorch_lite.numpy as fnp
from helpers import assert_same

RNG = np.random.default_rng(0)
A = RNG.standard_normal((3, 5)).astype(np.float32)
V = RNG.standard_normal(4).astype(np.float32)
C = (RNG.standard_normal(5) + 1j * RNG.standard_normal(5)).astype(np.complex64)
SORTED = np.array([0.0, 1.0, 1.0, 2.5, 4.0, np.nan], np.float32)
Q = np.array([-1.0, 0.0, 1.0, 2.0, 4.0, 5.0, np.nan], np.float32)
INTS = np.array([0, 3, 1, 3, 7, 0], np.int32)
WEIRD = np.array([1.0, np.nan, np.inf, -np.inf, -2.0], np.float32)


_same = assert_same

CASES = {
    "diff": lambda m: m.diff(A),
    "diff_n2_axis0": lambda m: m.diff(A, n=2, axis=0),
    "diff_prepend_append": lambda m: m.diff(A, prepend=0.5, append=A[:, :1]),
    "diff_bool": lambda m: m.diff(np.array([True, False, False, True])),
    "ediff1d": lambda m: m.ediff1d(A, to_begin=np.array([9.0]), to_end=-1.0),
    "trapezoid": lambda m: m.trapezoid(A),
    "trapezoid_x": lambda m: m.trapezoid(A, x=np.linspace(0, 2, 5).astype(np.float32)),
    "trapezoid_dx_axis0": lambda m: m.trapezoid(A, dx=0.5, axis=0),
    "convolve_full": lambda m: m.convolve(A[0], V),
    "convolve_same": lambda m: m.convolve(A[0], V, mode="same"),
    "convolve_valid_swapped": lambda m: m.convolve(V[:2], A[0], mode="valid"),
    "correlate_valid": lambda m: m.correlate(A[0], V[:3]),
    "correlate_full_swapped": lambda m: m.correlate(V[:2], A[0], mode="full"),
    "correlate_complex": lambda m: m.correlate(C, C[:3].conj(), mode="full"),
    "vander": lambda m: m.vander(V),
    "vander_increasing": lambda m: m.vander(V, N=3, increasing=True),
    "searchsorted_left": lambda m: m.searchsorted(SORTED, Q),
    "searchsorted_right": lambda m: m.searchsorted(SORTED, Q, side="right"),
    "searchsorted_sorter": lambda m: m.searchsorted(np.array([3, 1, 2]), np.array([0, 2, 5]),
                                                    sorter=np.array([1, 2, 0])),
    "digitize": lambda m: m.digitize(Q[:6], SORTED[:5]),
    "digitize_right": lambda m: m.digitize(Q[:6], SORTED[:5], right=True),
    "digitize_decreasing": lambda m: m.digitize(Q[:6], SORTED[:5][::-1].copy()),
    "interp": lambda m: m.interp(Q[:6], np.array([0.0, 1.0, 3.0], np.float32),
                                 np.array([1.0, 3.0, 2.0], np.float32)),
    "interp_left_right": lambda m: m.interp(Q[:6], np.array([0.0, 1.0, 3.0], np.float32),
                                            np.array([1.0, 3.0, 2.0], np.float32),
                                            left=-9.0, right=9.0),
    "interp_period": lambda m: m.interp(np.array([-1.0, 0.5, 7.5], np.float32),
                                        np.array([0.0, 1.0, 3.0], np.float32),
                                        np.array([1.0, 3.0, 2.0], np.float32), period=4.0),
    "bincount": lambda m: m.bincount(INTS),
    "bincount_weights_length": lambda m: m.bincount(INTS, weights=np.arange(6.0), length=5),
    "bincount_minlength": lambda m: m.bincount(INTS, minlength=10),
    "hanning": lambda m: m.hanning(7),
    "hamming": lambda m: m.hamming(6),
    "blackman": lambda m: m.blackman(8),
    "bartlett": lambda m: m.bartlett(5),
    "window_1": lambda m: m.hanning(1),
    "logspace": lambda m: m.logspace(0.0, 2.0, 5),
    "logspace_base": lambda m: m.logspace(1.0, 3.0, 4, endpoint=False, base=2.0),
    "geomspace": lambda m: m.geomspace(1.0, 1000.0, 4),
    "geomspace_negative": lambda m: m.geomspace(-1.0, -16.0, 5),
    "append": lambda m: m.append(A, V),
    "append_axis": lambda m: m.append(A, A[:1], axis=0),
    "angle": lambda m: m.angle(C),
    "angle_deg_real": lambda m: m.angle(np.array([-1.0, 2.0], np.float32), deg=True),
    "nan_to_num": lambda m: m.nan_to_num(WEIRD),
    "nan_to_num_values": lambda m: m.nan_to_num(WEIRD, nan=7.0, posinf=1e3, neginf=-1e3),
    "isreal": lambda m: m.isreal(np.array([1 + 0j, 1 + 1j], np.complex64)),
    "iscomplex": lambda m: m.iscomplex(np.array([1 + 0j, 1 + 1j], np.complex64)),
    "isreal_float": lambda m: m.isreal(A),
    "isrealobj": lambda m: np.asarray([m.isrealobj(A), m.isrealobj(C), m.isrealobj(1j),
                                       m.isrealobj(fnp.ones(2))]),
    "indices": lambda m: m.indices((2, 3)),
    "indices_sparse": lambda m: m.indices((2, 3), sparse=True),
    "tril_indices": lambda m: m.tril_indices(4, k=-1),
    "triu_indices": lambda m: m.triu_indices(3, k=1, m=5),
    "tril_indices_from": lambda m: m.tril_indices_from(A),
    "triu_indices_from": lambda m: m.triu_indices_from(A, k=2),
    "diag_indices": lambda m: m.diag_indices(3, ndim=3),
    "diag_indices_from": lambda m: m.diag_indices_from(np.ones((4, 4))),
    "unravel_index": lambda m: m.unravel_index(np.array([0, 5, 11, -1]), (3, 4)),
    "ravel_multi_index": lambda m: m.ravel_multi_index((np.array([0, 2]), np.array([3, 1])),
                                                       (3, 4)),
    "nonzero": lambda m: m.nonzero(INTS.reshape(2, 3)),
    "nonzero_size_fill": lambda m: m.nonzero(INTS.reshape(2, 3), size=6, fill_value=(7, 8)),
    "nonzero_size_short": lambda m: m.nonzero(INTS, size=2),
    "flatnonzero": lambda m: m.flatnonzero(A > 0, size=9, fill_value=-1),
    "argwhere": lambda m: m.argwhere(A > 0),
    "argwhere_size": lambda m: m.argwhere(A > 0, size=3),
    "argwhere_0d": lambda m: m.argwhere(np.array(3)),
    "where_one_argument": lambda m: m.where(A > 0, size=4, fill_value=-1),
    "apply_along_axis_shorter": lambda m: m.apply_along_axis(lambda v: v[:2] * 2, 1, A),
    "apply_along_axis_scalar": lambda m: m.apply_along_axis(
        lambda v, p: m.sum(v ** p), 0, A.reshape(3, 5, 1), 2),
    "apply_along_axis_matrix": lambda m: m.apply_along_axis(lambda v: m.outer(v, v), 1, A),
    "apply_along_axis_middle": lambda m: m.apply_along_axis(
        lambda v: m.cumsum(v), 1, np.arange(24.0, dtype=np.float32).reshape(2, 3, 4)),
    "apply_over_axes": lambda m: m.apply_over_axes(m.sum, A.reshape(3, 5, 1), [0, 2]),
    "ravel_multi_index_wrap_F": lambda m: m.ravel_multi_index(
        (np.array([0, 5]), np.array([3, -1])), (3, 4), mode="wrap", order="F"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_jax(name):
    _same(CASES[name](fnp), CASES[name](jnp))


@settings(max_examples=10, deadline=None)
@given(n=st.integers(1, 8), k=st.integers(1, 8),
       mode=st.sampled_from(["full", "same", "valid"]))
def test_convolve_and_correlate_match_numpy(n, k, mode):
    a = RNG.standard_normal(n).astype(np.float32)
    v = RNG.standard_normal(k).astype(np.float32)
    np.testing.assert_allclose(fnp.convolve(a, v, mode), np.convolve(a, v, mode), rtol=1e-5,
                               atol=1e-5)
    np.testing.assert_allclose(fnp.correlate(a, v, mode), np.correlate(a, v, mode),
                               rtol=1e-5, atol=1e-5)


def test_gradients_jit_and_vmap_match_jax():
    g = fl.grad(lambda a: fnp.sum(fnp.convolve(a, V) ** 2))(A[0])
    _same(g, jax.grad(lambda a: jnp.sum(jnp.convolve(a, V) ** 2))(A[0]))
    g = fl.grad(lambda a: fnp.sum(fnp.interp(Q[:6], np.array([0., 1., 3.], np.float32), a)))(
        np.array([1.0, 3.0, 2.0], np.float32))
    _same(g, jax.grad(lambda a: jnp.sum(jnp.interp(Q[:6], np.array([0., 1., 3.], np.float32),
                                                   a)))(np.array([1.0, 3.0, 2.0], np.float32)))
    _same(fl.jit(lambda a: fnp.trapezoid(fnp.diff(a)))(A), jnp.trapezoid(jnp.diff(A)))
    _same(fl.jit(lambda x: fnp.bincount(x, length=8))(INTS), jnp.bincount(INTS, length=8))
    _same(fl.vmap(lambda r: fnp.searchsorted(SORTED[:5], r))(A),
          jax.vmap(lambda r: jnp.searchsorted(SORTED[:5], r))(A))


def test_errors_follow_jax():
    cases = [
        (lambda m: m.diff(np.float32(1.0)), ValueError),
        (lambda m: m.convolve(A, V), ValueError),
        (lambda m: m.searchsorted(SORTED, Q, side="middle"), ValueError),
        (lambda m: m.bincount(A[0]), TypeError),
        (lambda m: m.interp(Q, np.ones(3), np.ones(4)), ValueError),
        (lambda m: m.ravel_multi_index((np.array([5]), np.array([0])), (3, 4)), ValueError),
        (lambda m: m.diag_indices_from(np.ones((2, 3))), ValueError),
    ]
    for case, exc in cases:
        with pytest.raises(exc):
            case(jnp)
        with pytest.raises(exc):
            case(fnp)
    with pytest.raises(TypeError, match="length"):
        fl.jit(fnp.bincount)(INTS)
    with pytest.raises(fl.ConcretizationTypeError, match="size"):
        fl.jit(fnp.nonzero)(INTS)
    _same(fl.jit(lambda x: fnp.nonzero(x, size=3))(INTS), jnp.nonzero(INTS, size=3))
    with pytest.raises(ValueError, match="0d"):
        fnp.nonzero(np.array(1))
    with pytest.raises(ValueError, match="zero"):  # NumPy's error (JAX returns NaNs)
        fnp.geomspace(0.0, 1.0)
    _same(fl.jit(lambda a, b: fnp.geomspace(a, b, 3))(np.float32(1), np.float32(9)),
          jnp.geomspace(np.float32(1), np.float32(9), 3))
