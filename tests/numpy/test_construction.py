"""functorch_lite/numpy/construction.py against jax.numpy (values, shapes, dtypes) and NumPy:
block and the index tricks, diagonals and masks, unstack/dsplit/rollaxis, conversions,
batched vector products, arrays from functions/buffers/strings, printing and files."""
import io

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import functorch_lite as fl
import functorch_lite.numpy as fnp
from helpers import assert_same

RNG = np.random.default_rng(0)
A = RNG.standard_normal((3, 5)).astype(np.float32)
T = np.arange(24.0, dtype=np.float32).reshape(2, 3, 4)
C = (RNG.standard_normal(4) + 1j * RNG.standard_normal(4)).astype(np.complex64)
E2 = np.eye(2, dtype=np.float32)
M4 = RNG.standard_normal((2, 1, 4, 3)).astype(np.float32)


_same = assert_same

CASES = {
    "block_2d": lambda m: m.block([[E2, np.zeros((2, 1), np.float32)],
                                   [np.ones((1, 3), np.float32)]]),
    "block_1d_scalars": lambda m: m.block([np.float32(1), np.arange(3.0), 7]),
    "block_3d": lambda m: m.block([[[T[:1], T[:1]]], [[T[1:], T[1:]]]]),
    "block_promotes_rank": lambda m: m.block([[A[0], A[1]], [A[2], A[0]]]),
    "block_single": lambda m: m.block(A),
    "r_": lambda m: m.r_[np.array([1, 2]), 0, 4:7],
    "r_linspace": lambda m: m.r_[0:1:5j, 3.0],
    "r_directive_ndmin": lambda m: m.r_["0,2", np.array([1, 2, 3]), np.array([4, 5, 6])],
    "r_directive_trans": lambda m: m.r_["1,3,0", np.array([1, 2]), np.array([4, 5])],
    "r_directive_axis": lambda m: m.r_["-1", A, A[:, :1]],
    "r_row_matrix": lambda m: m.r_["r", np.array([1, 2]), np.array([3])],
    "r_column_matrix": lambda m: m.r_["c", np.array([1, 2]), np.array([3])],
    "c_": lambda m: m.c_[np.array([1, 2, 3]), np.array([4, 5, 6])],
    "c_2d": lambda m: m.c_[A, A[:, :2]],
    "c_mixed": lambda m: m.c_[A[:, :2], np.array([1.0, 2.0, 3.0], np.float32)],
    "mgrid": lambda m: m.mgrid[0:3, 1:4:2],
    "mgrid_complex_step": lambda m: m.mgrid[0:1:3j, 0:2],
    "mgrid_1d": lambda m: m.mgrid[2:5],
    "mgrid_float": lambda m: m.mgrid[0.0:1.0:0.25],
    "ogrid": lambda m: m.ogrid[0:3, 0:1:4j],
    "ogrid_1d": lambda m: m.ogrid[-2:2],
    "s_": lambda m: np.asarray(A)[m.s_[1:, ::2]],
    "index_exp": lambda m: np.asarray(A)[m.index_exp[..., 1]],
    "ix_": lambda m: m.ix_(np.array([0, 2]), np.array([1, 3, 4])),
    "ix_indexing": lambda m: m.asarray(A)[m.ix_(np.array([0, 2]), np.array([4, 1]))],
    "ix_empty": lambda m: m.ix_(np.array([], np.float32), np.array([1])),
    "diagflat": lambda m: m.diagflat(A[:2, :2], k=1),
    "diagflat_below": lambda m: m.diagflat(np.array([1, 2, 3]), -2),
    "fill_diagonal": lambda m: m.fill_diagonal(A, 9.0, inplace=False),
    "fill_diagonal_cycled": lambda m: m.fill_diagonal(np.zeros((4, 4), np.int32),
                                                      np.array([1, 2]), inplace=False),
    "fill_diagonal_3d": lambda m: m.fill_diagonal(np.zeros((3, 3, 3), np.float32), 2.0,
                                                  inplace=False),
    "fill_diagonal_tall": lambda m: m.fill_diagonal(np.zeros((5, 3), np.float32),
                                                    np.arange(3.0), inplace=False),
    "mask_indices": lambda m: m.mask_indices(3, m.triu, 1),
    "unstack": lambda m: m.unstack(A),
    "unstack_last": lambda m: m.unstack(T, axis=-1),
    "dsplit": lambda m: m.dsplit(T, 2),
    "dsplit_indices": lambda m: m.dsplit(T, [1, 3]),
    "rollaxis": lambda m: m.rollaxis(np.ones((2, 3, 4, 5)), 3, 1),
    "rollaxis_forward": lambda m: m.rollaxis(np.ones((2, 3, 4, 5)), 1, 4),
    "rollaxis_negative": lambda m: m.rollaxis(np.ones((2, 3, 4, 5)), -1, -3),
    "array_equiv": lambda m: m.array_equiv(A[:1], np.tile(A[:1], (2, 1))),
    "array_equiv_unequal": lambda m: m.array_equiv(A, A + 1),
    "astype": lambda m: m.astype(A, np.int32),
    "astype_none": lambda m: m.astype(np.arange(3), None),
    "astype_complex_bool": lambda m: m.astype(np.array([0j, 1j, 0.5], np.complex64), bool),
    "astype_copy": lambda m: m.astype(A, np.float32, copy=True),
    "astype_bf16": lambda m: m.astype(A, jnp.bfloat16).astype(np.float32),
    "copy": lambda m: m.copy(A),
    "copy_scalar": lambda m: m.copy(3),
    "matvec": lambda m: m.matvec(M4, np.arange(15.0, dtype=np.float32).reshape(5, 3)),
    "vecmat": lambda m: m.vecmat(np.arange(8.0).reshape(2, 4), np.ones((3, 1, 4, 2))),
    "vecmat_complex": lambda m: m.vecmat(C[:2], np.outer(C[:2], C[2:]).astype(np.complex64)),
    "vecdot": lambda m: m.vecdot(A, A[0]),
    "vecdot_axis_complex": lambda m: m.vecdot(C.reshape(4, 1), C.reshape(4, 1), axis=0),
    "fromfunction": lambda m: m.fromfunction(lambda i, j: i * 10 + j, (2, 3)),
    "fromfunction_int": lambda m: m.fromfunction(lambda i, j, k: i + j * k, (2, 3, 4),
                                                 dtype=int),
    "frombuffer": lambda m: m.frombuffer(b"\x01\x02\x03\x04", dtype=np.uint8),
    "frombuffer_count_offset": lambda m: m.frombuffer(np.arange(6, dtype=np.int16).tobytes(),
                                                      dtype=np.int16, count=3, offset=2),
    "frombuffer_float": lambda m: m.frombuffer(np.arange(3.0).tobytes()),
    "fromstring": lambda m: m.fromstring("1 2 3.5", sep=" "),
    "fromstring_int": lambda m: m.fromstring("1,2,3", dtype=np.int32, sep=","),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_jax(name):
    _same(CASES[name](fnp), CASES[name](jnp))


def test_host_side_helpers_match_jax():
    assert fnp.s_ is jnp.s_ and fnp.index_exp[1:2] == jnp.index_exp[1:2]
    for obj in ([1, 2], 3, "ab", A, fnp.ones(2), iter([1])):
        assert fnp.iterable(obj) == jnp.iterable(obj)
    kinds = ["bool", "signed integer", "unsigned integer", "integral", "real floating",
             "complex floating", "numeric", ("bool", "real floating"), np.float32,
             (np.int8, "complex floating")]
    for dt in (np.bool_, np.int8, np.int32, np.uint16, np.float16, jnp.bfloat16, np.float32,
               np.complex64, "float32", float, int):
        for kind in kinds:
            assert fnp.isdtype(dt, kind) == jnp.isdtype(dt, kind), (dt, kind)
    assert len(fnp.r_) == len(jnp.r_) == 0


def test_printing_follows_numpy_options():
    x = np.array([1.23456, -2.0, 1e-9], np.float32)
    with fnp.printoptions(precision=2, suppress=True):
        assert fnp.get_printoptions()["precision"] == 2
        assert fnp.array_str(fnp.asarray(x)) == np.array_str(x)
        assert fnp.array_repr(fnp.asarray(x)) == "A" + np.array_repr(x)[1:]
    assert fnp.get_printoptions()["precision"] == np.get_printoptions()["precision"]
    assert fnp.array_str(x, precision=1) == np.array_str(x, precision=1)
    assert fnp.array_repr(fnp.ones((2, 2), np.int32)).startswith("Array([[1, 1],\n")
    old = fnp.get_printoptions()
    try:
        fnp.set_printoptions(threshold=5)
        assert np.get_printoptions()["threshold"] == 5
    finally:
        np.set_printoptions(**old)


def test_save_and_load_round_trip(tmp_path):
    path = tmp_path / "a.npy"
    fnp.save(path, fnp.asarray(A))
    back = fnp.load(path)
    assert isinstance(back, fl.Array)
    _same(back, A)
    bf = fnp.asarray(A).astype(fnp.bfloat16)
    fnp.save(tmp_path / "bf.npy", bf)
    back = fnp.load(tmp_path / "bf.npy")
    assert back.dtype == np.dtype(ml_dtypes.bfloat16)
    np.testing.assert_array_equal(np.asarray(back), np.asarray(bf))
    fnp.savez(tmp_path / "z.npz", fnp.arange(3), T, named=np.int8(4))
    with fnp.load(tmp_path / "z.npz") as z:
        assert sorted(z.files) == ["arr_0", "arr_1", "named"] and len(z) == 3
        _same(z["arr_0"], jnp.arange(3))
        _same(z["arr_1"], T)
        assert isinstance(z["named"], fl.Array) and z["named"].dtype == np.int8
    buffer = io.BytesIO()
    fnp.save(buffer, [1.5, 2.5])
    buffer.seek(0)
    _same(fnp.load(buffer), jnp.asarray([1.5, 2.5]))


def test_files_never_pickle(tmp_path):
    with pytest.raises(ValueError):  # NumPy refuses object arrays without pickle
        fnp.save(tmp_path / "o.npy", np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError):
        fnp.savez(tmp_path / "o.npz", np.array([None], dtype=object))
    np.save(tmp_path / "p.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError):
        fnp.load(tmp_path / "p.npy")
    for call in (lambda: fnp.load(tmp_path / "p.npy", allow_pickle=True),
                 lambda: fnp.save(tmp_path / "q.npy", A, allow_pickle=True),
                 lambda: fnp.savez(tmp_path / "q.npz", A, allow_pickle=True)):
        with pytest.raises(ValueError, match="pickle"):
            call()


@settings(max_examples=6, deadline=None)
@given(n=st.integers(1, 4), k=st.integers(-3, 3), m=st.integers(1, 5))
def test_diagflat_block_and_rollaxis_match_numpy(n, k, m):
    v = np.arange(1, n + 1, dtype=np.int32)
    np.testing.assert_array_equal(fnp.diagflat(v, k), np.diagflat(v, k))
    left, right = np.ones((m, n), np.int32), np.zeros((m, 2), np.int32)
    np.testing.assert_array_equal(fnp.block([[left, right], [v[None].repeat(1, 0), v[:2]]])
                                  if n >= 2 else fnp.block([left, right]),
                                  np.block([[left, right], [v[None], v[:2]]])
                                  if n >= 2 else np.block([left, right]))
    shape = (1, 2, 3, 4)
    axis, start = k % 4, (k + m) % 5
    assert fnp.rollaxis(np.empty(shape), axis, start).shape == \
        np.rollaxis(np.empty(shape), axis, start).shape


def test_jit_vmap_and_grad():
    _same(fl.jit(lambda a: fnp.block([[a, a], [a, a]]))(E2), jnp.block([[E2, E2], [E2, E2]]))
    _same(fl.jit(lambda a: fnp.r_[a, 0.0, a])(A[0]), jnp.r_[A[0], 0.0, A[0]])
    _same(fl.jit(lambda a, v: fnp.fill_diagonal(a, v, inplace=False))(A, np.float32(3)),
          jnp.fill_diagonal(A, np.float32(3), inplace=False))
    _same(fl.jit(lambda a: fnp.unstack(a, axis=1))(A), jnp.unstack(A, axis=1))
    _same(fl.jit(lambda a: fnp.mask_indices(3, fnp.triu, size=6))(A),
          jnp.mask_indices(3, jnp.triu, size=6))
    _same(fl.jit(fnp.matvec)(T, A[0, :4]), jnp.matvec(T, A[0, :4]))
    _same(fl.vmap(fnp.diagflat)(A), jax.vmap(jnp.diagflat)(A))
    _same(fl.vmap(lambda a: fnp.array_equiv(a, A[0]))(A),
          jax.vmap(lambda a: jnp.array_equiv(a, A[0]))(A))
    _same(fl.grad(lambda a: fnp.sum(fnp.vecdot(a, A[1]) ** 2))(A),
          jax.grad(lambda a: jnp.sum(jnp.vecdot(a, A[1]) ** 2))(A))
    _same(fl.jit(fl.grad(lambda a: fnp.sum(fnp.vecmat(a, A) ** 2)))(A[:, 0]),
          jax.grad(lambda a: jnp.sum(jnp.vecmat(a, A) ** 2))(A[:, 0]))
    _same(fl.jit(fl.grad(lambda a: fnp.sum(fnp.block([[a, a]]) ** 2)))(E2),
          jax.grad(lambda a: jnp.sum(jnp.block([[a, a]]) ** 2))(E2))


def test_errors_follow_jax():
    cases = [
        (lambda m: m.block(()), ValueError),
        (lambda m: m.block([]), ValueError),
        (lambda m: m.block([[1], 2]), ValueError),
        (lambda m: m.r_["x,y", A], ValueError),
        (lambda m: m.r_[A, "r"], ValueError),
        (lambda m: m.ix_(np.ones((2, 2))), ValueError),
        (lambda m: m.ix_(np.array([True, False])), NotImplementedError),
        (lambda m: m.fill_diagonal(A, 1.0), NotImplementedError),
        (lambda m: m.fill_diagonal(np.ones(3), 1.0, inplace=False), ValueError),
        (lambda m: m.fill_diagonal(np.ones((2, 2, 3)), 1.0, inplace=False), ValueError),
        (lambda m: m.unstack(np.float32(1.0)), ValueError),
        (lambda m: m.dsplit(A, 2), IndexError),
        (lambda m: m.dsplit(T, 3), ValueError),
        (lambda m: m.rollaxis(A, 0, 5), ValueError),
        (lambda m: m.rollaxis(A, 3), ValueError),
        (lambda m: m.isdtype(np.float32, "floaty"), ValueError),
        (lambda m: m.matvec(A, A[0, :3]), ValueError),
        (lambda m: m.vecmat(A[0, :3], A[:2]), ValueError),
        (lambda m: m.fromfunction(lambda i, s: i * s, (4,), s=2.5), ValueError),  # mapped
        (lambda m: m.fromiter(iter([1, 2])), NotImplementedError),
        (lambda m: m.fromstring("1 2", sep=" ", dtype=object), Exception),
    ]
    for case, exc in cases:
        with pytest.raises(exc):
            case(jnp)
        with pytest.raises(exc):
            case(fnp)
    with pytest.raises(ValueError):  # also NumPy's exception type for dsplit
        fnp.dsplit(A, 2)
    # shapes that do not broadcast are not equivalent (NumPy's answer; jnp raises TypeError)
    assert not bool(fnp.array_equiv(A, A[:2])) and not np.array_equiv(A, A[:2])
    with pytest.raises(fl.ConcretizationTypeError, match="mgrid"):
        fl.jit(lambda n: fnp.mgrid[0:n])(3)
    _same(fnp.mgrid[0:fnp.asarray(3)], jnp.mgrid[0:jnp.asarray(3)])


def test_fill_diagonal_wrap_follows_numpy():
    # JAX raises NotImplementedError for wrap=True; ours restarts the diagonal as NumPy's
    for shape, val in (((7, 3), 5.0), ((3, 5), np.arange(2.0)), ((4, 4, 4), 1.0)):
        want = np.zeros(shape, np.float32)
        np.fill_diagonal(want, val, wrap=True)
        got = fnp.fill_diagonal(np.zeros(shape, np.float32), val, wrap=True, inplace=False)
        np.testing.assert_array_equal(got, want)
