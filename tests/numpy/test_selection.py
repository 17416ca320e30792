"""functorch_lite/numpy/selection.py against jax.numpy (values, shapes, dtypes) and NumPy:
select, piecewise, choose, compress, extract, place, put, put_along_axis, delete, insert,
resize, trim_zeros, partition, argpartition and sort_complex, eager, under jit (with
size=), under vmap and grad, and their errors."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import functorch_lite as fl
import functorch_lite.numpy as fnp
from helpers import assert_same, jax_oracle

RNG = np.random.default_rng(0)
A = RNG.standard_normal((3, 4)).astype(np.float32)
M = np.arange(12, dtype=np.int32).reshape(3, 4)
B = A > 0
INTS = np.array([5, 3, 1, 2, 2, 4, 0, 9], np.int32)
NANS = np.array([3.0, np.nan, 1.0, 2.0, np.nan, 0.0], np.float32)
PADDED = np.pad(np.ones((2, 2), np.float32), 1)


def _same(ours, theirs, tol=1e-5):
    assert_same(ours, theirs, tol, weak_type=True)


CASES = {
    "select": lambda m: m.select([A < -0.5, A > 0.5], [A * 10, -A], default=np.nan),
    "select_ints_broadcast": lambda m: m.select([A[:1] > 0, A[:, :1] > 0], [1.5, M]),
    "select_int_conditions": lambda m: m.select([INTS - 2, INTS > 4], [INTS, 0], default=-1),
    "select_weak_scalars": lambda m: m.select([INTS > 2], [3], default=1),
    "piecewise": lambda m: m.piecewise(A, [A < 0, A > 0.5],
                                       [lambda x: -x, lambda x: x ** 2, 7.0]),
    "piecewise_default_zero": lambda m: m.piecewise(A, [A < 0, A > 0.5], [lambda x: -x, 3]),
    "piecewise_int_x": lambda m: m.piecewise(INTS, [INTS > 2], [lambda x: x * 2.5, 1.5]),
    "piecewise_args": lambda m: m.piecewise(A, [A < 0], [lambda x, p: x * p,
                                                         lambda x, p: x + p], 3.0),
    "choose": lambda m: m.choose(np.array([[0, 1, 2, 1]]), [M, -M, M * 2]),
    "choose_array_choices": lambda m: m.choose(np.array([0, 2, 1, 0]), M),
    "choose_wrap_promotes": lambda m: m.choose(np.array([0, 5, -1, 3]), [M[0], A[0], 7],
                                               mode="wrap"),
    "choose_clip": lambda m: m.choose(np.array([0, 5, -1, 3]), [M[0], A[0], 7], mode="clip"),
    "compress_axis0": lambda m: m.compress(np.array([True, False, True]), M, axis=0),
    "compress_short_condition": lambda m: m.compress(np.array([True, False, True]), M,
                                                     axis=1),
    "compress_flat_int_condition": lambda m: m.compress(np.array([1, 0, 1, 1]), M),
    "compress_long_condition": lambda m: m.compress(
        np.array([True, False, True, False, False]), M, axis=1),
    "compress_size": lambda m: m.compress(np.array([False, True, True, False]), A, axis=1,
                                          size=3, fill_value=-1),
    "compress_size_short": lambda m: m.compress(np.array([True, True, True]), A, size=2),
    "extract": lambda m: m.extract(B, A),
    "extract_size": lambda m: m.extract(B, A, size=12, fill_value=9),
    "extract_unequal_lengths": lambda m: m.extract(np.array([True, False, True]), INTS),
    "place": lambda m: m.place(M, M % 3 == 0, np.array([10, 20]), inplace=False),
    "place_scalar": lambda m: m.place(A, B, 0.0, inplace=False),
    "put": lambda m: m.put(M, np.array([0, 7, 11]), np.array([-1, -2]), inplace=False),
    "put_out_of_range": lambda m: m.put(INTS, np.array([10, -2]), np.array([7, 8]),
                                        inplace=False),
    "put_clip": lambda m: m.put(INTS, np.array([10, -2]), np.array([7, 8]), mode="clip",
                                inplace=False),
    "put_wrap": lambda m: m.put(A, np.array([13, -2]), 4.5, mode="wrap", inplace=False),
    "put_along_axis": lambda m: m.put_along_axis(A, np.array([[1], [0], [3]]), 9.0, axis=1,
                                                 inplace=False),
    "put_along_axis_0": lambda m: m.put_along_axis(
        M, np.array([[2, 0, 1, 1]]), np.array([[1, 2, 3, 4]]), axis=0, inplace=False),
    "put_along_axis_none": lambda m: m.put_along_axis(A, np.array([1, 11]), -1.0, axis=None,
                                                      inplace=False),
    "delete_int": lambda m: m.delete(M, 1, axis=0),
    "delete_negative_flat": lambda m: m.delete(INTS, -2),
    "delete_repeated": lambda m: m.delete(M, np.array([0, 5, 5, 11])),
    "delete_slice": lambda m: m.delete(M, slice(1, None, 2), axis=1),
    "delete_mask": lambda m: m.delete(M, np.array([True, False, True]), axis=0),
    "delete_unique_indices": lambda m: m.delete(M, np.array([3, 0]), axis=1,
                                                assume_unique_indices=True),
    "insert": lambda m: m.insert(INTS, 2, 9),
    "insert_many_float_values": lambda m: m.insert(INTS, np.array([0, 8, 2, 2]),
                                                   np.array([7.5, 8, 9, -10])),
    "insert_column": lambda m: m.insert(M, 1, np.array([7, 8, 9]), axis=1),
    "insert_columns_broadcast": lambda m: m.insert(M, np.array([1, 4]),
                                                   np.array([[7], [8], [9]]), axis=1),
    "insert_slice_negative": lambda m: (m.insert(INTS, slice(0, 4, 2), np.array([-1, -2])),
                                        m.insert(INTS, -1, np.array([-1, -2]))),
    "insert_empty_index": lambda m: m.insert(INTS, np.array([], np.float32), 2),
    "resize": lambda m: m.resize(M, (5, 3)),
    "resize_shorter_int": lambda m: m.resize(INTS, 4),
    "resize_empty_and_scalar": lambda m: (m.resize(np.zeros(0, np.int32), (2, 2)),
                                          m.resize(4, (2,))),
    "trim_zeros": lambda m: m.trim_zeros(np.array([0, 0, 1, 0, 2, 0], np.int32)),
    "trim_zeros_front_back": lambda m: (m.trim_zeros(INTS - 5, "f"),
                                        m.trim_zeros(INTS * 0, trim="B")),
    "trim_zeros_2d": lambda m: (m.trim_zeros(PADDED), m.trim_zeros(PADDED, axis=0)),
    "partition": lambda m: m.partition(INTS, 3),
    "partition_nan_last": lambda m: m.partition(NANS, -4),
    "partition_axis0": lambda m: m.partition(A, 1, axis=0),
    "partition_unsigned": lambda m: m.partition(INTS.astype(np.uint8), 0),
    "argpartition": lambda m: m.argpartition(INTS, 3),
    "argpartition_nan": lambda m: m.argpartition(NANS, 2),
    "argpartition_axis1": lambda m: m.argpartition(A, 2, axis=1),
    "sort_complex": lambda m: (m.sort_complex(INTS), m.sort_complex(A)),
    "sort_complex_complex": lambda m: m.sort_complex(
        np.array([1 + 2j, 1 - 1j, -3 + 0j], np.complex64)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_jax(name):
    _same(CASES[name](fnp), jax_oracle(CASES[name]))


# Fixed lengths keep the shapes (so the compilations) the same for every draw.
@settings(max_examples=12, deadline=None)
@given(values=st.lists(st.integers(-4, 4), min_size=8, max_size=8),
       kth=st.integers(-8, 7), where=st.lists(st.integers(-8, 8), min_size=3, max_size=3))
def test_match_numpy(values, kth, where):
    a = np.array(values, np.int32)
    k = kth % 8
    idx = np.asarray(fnp.argpartition(a, kth))
    np.testing.assert_array_equal(np.sort(idx), np.arange(8))
    for part in (np.asarray(fnp.partition(a, kth)), a[idx]):
        assert part[k] == np.partition(a, kth)[k]
        assert (part[:k] <= part[k]).all() and (part[k + 1:] >= part[k]).all()
    obj = np.array(where, np.int32)
    np.testing.assert_array_equal(fnp.insert(a, obj, -7), np.insert(a, obj, -7))
    if (obj < 8).all():
        np.testing.assert_array_equal(fnp.delete(a, obj % 8), np.delete(a, obj % 8))
    cond = a > 0
    np.testing.assert_array_equal(fnp.extract(cond, a, size=8)[:cond.sum()],
                                  np.extract(cond, a))
    np.testing.assert_array_equal(fnp.choose(np.abs(a) % 3, [a, -a, 2 * a]),
                                  np.choose(np.abs(a) % 3, [a, -a, 2 * a]))


def _static_calls(lib, a, ints, cond):
    """Calls whose result shapes are static (the same calls as in CASES: their eager
    executables are compiled already)."""
    return (lib.compress(cond, a, axis=1, size=3, fill_value=-1),
            lib.extract(a > 0, a, size=12, fill_value=9),
            lib.choose(np.array([0, 5, -1, 3]), [ints[:4], a[0], 7], mode="wrap"),
            lib.place(a, a > 0, 0.0, inplace=False),
            lib.put(a, np.array([13, -2]), 4.5, mode="wrap", inplace=False),
            lib.put_along_axis(a, np.array([[1], [0], [3]]), 9.0, axis=1, inplace=False),
            lib.delete(a, np.array([3, 0]), axis=1, assume_unique_indices=True),
            lib.insert(ints, np.array([0, 8, 2, 2]), np.array([7.5, 8, 9, -10])),
            lib.partition(ints, 3), lib.argpartition(a, 2, axis=1),
            lib.select([a < -0.5, a > 0.5], [a * 10, -a], default=np.nan),
            lib.piecewise(a, [a < 0, a > 0.5], [lambda x: -x, lambda x: x ** 2, 7.0]))


def test_jit_equals_eager_and_vmap_matches_jax():
    cond = np.array([False, True, True, False])
    _same(fl.jit(lambda *args: _static_calls(fnp, *args))(A, INTS, cond),
          _static_calls(fnp, A, INTS, cond))
    _same(fl.vmap(lambda r: fnp.compress(r > 0, r, size=2))(A),
          jax.vmap(lambda r: jnp.compress(r > 0, r, size=2))(A))
    _same(fl.vmap(lambda r: fnp.partition(r, 1))(A), jax.vmap(lambda r: jnp.partition(r, 1))(A))


def test_gradients_match_jax():
    weights = np.arange(24, dtype=np.float32).reshape(6, 4)

    def loss(lib, x):
        parts = (lib.select([x > 0.5, x < -0.5], [x ** 2, 3 * x], x),
                 lib.piecewise(x, [x > 0.5], [lambda v: v ** 3, lambda v: lib.sin(v)]),
                 lib.choose(np.array([[0, 1, 1, 0]]), [x, x ** 2], mode="clip"),
                 lib.compress(np.array([True, False, True]), x, axis=0, size=2),
                 lib.partition(x, 1, axis=1))
        return sum(lib.sum(lib.concatenate([p, p]) * weights[:2 * p.shape[0]])
                   for p in parts)
    want = jax.jit(jax.grad(lambda x: loss(jnp, x)))(A)
    _same(fl.grad(lambda x: loss(fnp, x))(A), want)
    _same(fl.jit(fl.grad(lambda x: loss(fnp, x)))(A), want)


def test_errors_follow_jax():
    cases = [
        (lambda m: m.select([INTS > 1], [INTS, INTS]), ValueError),
        (lambda m: m.select([], []), ValueError),
        (lambda m: m.piecewise(A, [A < 0], [1, 2, 3]), ValueError),
        (lambda m: m.choose(np.array([0, 5]), [M[0, :2], A[0, :2]]), ValueError),
        (lambda m: m.choose(np.array([0.0, 1.0]), [M[0, :2], A[0, :2]]), ValueError),
        (lambda m: m.choose(np.array([0, 1]), [M[0, :2], A[0, :2]], mode="x"), ValueError),
        (lambda m: m.compress(np.array([True, False, True, False, True]), M, axis=1),
         ValueError),
        (lambda m: m.compress(np.array([True, False]), INTS, size=9), ValueError),
        (lambda m: m.compress(B, INTS), ValueError),
        (lambda m: m.place(A, B, 0.0), ValueError),  # inplace=True
        (lambda m: m.place(A, B[:2], 0.0, inplace=False), ValueError),
        (lambda m: m.place(A, B, np.zeros(0), inplace=False), ValueError),
        (lambda m: m.put(INTS, np.array([1]), 3), ValueError),
        (lambda m: m.put(INTS, np.array([1]), 3, mode="raise", inplace=False),
         NotImplementedError),
        (lambda m: m.put(INTS, np.array([1]), 3, mode="x", inplace=False), ValueError),
        (lambda m: m.put_along_axis(A, np.array([[1]]), 9.0, axis=1), ValueError),
        (lambda m: m.put_along_axis(A, np.array([1]), 9.0, axis=1, inplace=False),
         ValueError),
        (lambda m: m.delete(INTS, 10), ValueError),
        (lambda m: m.delete(INTS, np.array([1, 9])), IndexError),
        (lambda m: m.delete(INTS, np.array([1.0])), ValueError),
        (lambda m: m.delete(INTS, np.array([True])), ValueError),
        (lambda m: m.insert(INTS, np.array([[0]]), 2), ValueError),
        (lambda m: m.insert(INTS, np.array([0.0]), 2), ValueError),
        (lambda m: m.insert(INTS, [1], 2), TypeError),
        (lambda m: m.resize(INTS, (-1, 2)), ValueError),
        (lambda m: m.partition(np.array([1j]), 0), NotImplementedError),
        (lambda m: m.partition(INTS, 8), ValueError),
        (lambda m: m.argpartition(INTS, -9), ValueError),
    ]
    for case, exc in cases:
        with pytest.raises(exc):
            case(jnp)
        with pytest.raises(exc):
            case(fnp)
    # Data-dependent shapes need size= (or concrete values) under transformations.
    for f, match in [(lambda x: fnp.compress(x > 0, x), "size argument of compress"),
                     (lambda x: fnp.extract(x > 0, x), "size argument of extract"),
                     (lambda x: fnp.choose(x % 2, [x, -x]), "mode='wrap'"),
                     (lambda x: fnp.delete(x, x[:2]), "assume_unique_indices"),
                     (lambda x: fnp.trim_zeros(x), "concrete")]:
        with pytest.raises(fl.ConcretizationTypeError, match=match):
            fl.jit(f)(INTS)
    with pytest.raises(jax.errors.ConcretizationTypeError):
        jax.jit(lambda x: jnp.compress(x > 0, x))(INTS)
    with pytest.raises(jax.errors.ConcretizationTypeError):
        jax.jit(lambda x: jnp.choose(x % 2, [x, -x]))(INTS)
