"""functorch_lite.numpy.linalg: norms against np.linalg.norm, products and views against
NumPy / jnp.linalg."""
from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, strategies as st

import functorch_lite  # noqa: F401  (registers the XLA backend)
import xla_bridge
from functorch_lite.core.avals import ShapedArray, get_aval
from functorch_lite.core.ir import typecheck
from functorch_lite.interpreters.staging import trace_to_program
from functorch_lite.numpy import linalg as fla

INF = np.inf


def _rand(rng, shape, dtype=np.float32):
    dtype = np.dtype(dtype)
    if dtype.kind in "iu":
        return rng.integers(-3, 4, shape).astype(dtype)
    if dtype.kind == "c":
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)
    x = rng.standard_normal(shape).astype(dtype)
    if x.size:
        x.flat[0] = 0  # exercise ord=0 and negative orders' handling of zeros
    return x


def _check(got, want, dtype=np.float32, tol=1e-5):
    got_np = np.asarray(got)
    assert got_np.shape == np.shape(want)
    assert get_aval(got).dtype == dtype
    np.testing.assert_allclose(got_np, want, rtol=tol, atol=tol)


VECTOR_ORDS = [None, 2, 1, INF, -INF, 0, 3, 0.5, -1, -2]


@pytest.mark.parametrize("ord", VECTOR_ORDS)
@pytest.mark.parametrize("keepdims", [False, True])
def test_vector_norm_1d(ord, keepdims):
    x = _rand(np.random.default_rng(0), (5,))
    x[0] = 1.5 if ord is not None and ord < 1 and ord != 0 else x[0]
    _check(fla.norm(x, ord=ord, keepdims=keepdims), np.linalg.norm(x.astype(np.float64), ord,
                                                                   keepdims=keepdims))


@pytest.mark.parametrize("ord", [None, 2, 1, INF, -INF, 0, 3])
@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("keepdims", [False, True])
def test_vector_norm_axis(ord, axis, keepdims):
    x = _rand(np.random.default_rng(1), (3, 4))
    _check(fla.norm(x, ord=ord, axis=axis, keepdims=keepdims),
           np.linalg.norm(x.astype(np.float64), ord, axis=axis, keepdims=keepdims))


MATRIX_ORDS = [None, "fro", 1, -1, INF, -INF]


@pytest.mark.parametrize("ord", MATRIX_ORDS)
@pytest.mark.parametrize("keepdims", [False, True])
def test_matrix_norm_2d(ord, keepdims):
    x = _rand(np.random.default_rng(2), (3, 4))
    _check(fla.norm(x, ord=ord, keepdims=keepdims),
           np.linalg.norm(x.astype(np.float64), ord, keepdims=keepdims))


@pytest.mark.parametrize("ord", MATRIX_ORDS)
@pytest.mark.parametrize("axis", [(0, 1), (1, 0), (2, 0), (-1, -2), (0, 2)])
def test_matrix_norm_axes(ord, axis):
    x = _rand(np.random.default_rng(3), (2, 3, 4))
    for keepdims in (False, True):
        _check(fla.norm(x, ord=ord, axis=axis, keepdims=keepdims),
               np.linalg.norm(x.astype(np.float64), ord, axis=axis, keepdims=keepdims))


@pytest.mark.parametrize("shape", [(), (0,), (2, 3, 4), (3, 0)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_norm_flattens_without_ord(shape, keepdims):
    x = _rand(np.random.default_rng(4), shape)
    _check(fla.norm(x, keepdims=keepdims), np.linalg.norm(x.astype(np.float64),
                                                          keepdims=keepdims))


@pytest.mark.parametrize("dtype,out", [(np.int32, np.float32), (np.complex64, np.float32),
                                       (np.float16, np.float16),
                                       (ml_dtypes.bfloat16, ml_dtypes.bfloat16)])
@pytest.mark.parametrize("ord", [None, 1, INF])
def test_norm_dtypes(dtype, out, ord):
    x = _rand(np.random.default_rng(5), (3, 4), dtype)
    tol = 3e-2 if np.dtype(dtype).itemsize == 2 else 1e-5
    for axis in (None, 1):
        got = fla.norm(xla_bridge.from_numpy(x), ord=ord, axis=axis)
        assert get_aval(got).dtype == np.dtype(out)  # jnp.linalg.norm's dtypes
        np.testing.assert_allclose(np.asarray(got).astype(np.float64),
                                   np.linalg.norm(x.astype(np.complex128), ord, axis=axis),
                                   rtol=tol, atol=tol)


def test_norm_python_and_list_inputs():
    np.testing.assert_allclose(np.asarray(fla.norm(np.array([3.0, 4.0]))), 5.0)
    got = fla.norm(-3)
    assert get_aval(got).dtype == np.float32
    np.testing.assert_allclose(np.asarray(got), 3.0)


@given(st.lists(st.integers(0, 3), min_size=1, max_size=3),
       st.sampled_from([None, 2, 1, INF, -INF, 0, 3]), st.booleans(), st.integers(0, 2))
def test_vector_norm_hypothesis(shape, ord, keepdims, axis_pick):
    x = _rand(np.random.default_rng(sum(shape)), tuple(shape))
    axis = axis_pick % len(shape)
    want = None
    try:
        with np.errstate(all="ignore"):
            want = np.linalg.norm(x.astype(np.float64), ord, axis=axis, keepdims=keepdims)
    except ValueError:  # NumPy refuses max/min of an empty axis
        pass
    got = fla.norm(x, ord=ord, axis=axis, keepdims=keepdims)
    if want is None:
        assert np.asarray(got).shape == tuple(
            1 if (i == axis) else d for i, d in enumerate(shape) if keepdims or i != axis)
        return
    _check(got, want)


@pytest.mark.parametrize("ord", [2, -2, "nuc"])
def test_singular_value_norms(ord):
    x = np.random.default_rng(0).standard_normal((3, 4, 5)).astype(np.float32)
    np.testing.assert_allclose(fla.norm(x[0], ord=ord), np.linalg.norm(x[0], ord=ord),
                               rtol=1e-5)
    np.testing.assert_allclose(fla.matrix_norm(x, ord=ord), np.linalg.norm(
        x, ord=ord, axis=(1, 2)), rtol=1e-5)
    np.testing.assert_allclose(fla.norm(x, ord=ord, axis=(2, 0)), np.linalg.norm(
        x, ord=ord, axis=(2, 0)), rtol=1e-5)


def test_norm_errors():
    x = np.ones((2, 3, 4), np.float32)
    with pytest.raises(ValueError, match="1-D or 2-D"):
        fla.norm(x, ord=1)
    with pytest.raises(ValueError, match="invalid norm order 'fro' for vectors"):
        fla.norm(x, ord="fro", axis=0)
    with pytest.raises(ValueError, match="invalid norm order 3 for matrices"):
        fla.norm(x, ord=3, axis=(0, 1))
    with pytest.raises(ValueError, match="an int or a pair"):
        fla.norm(x, axis=(0, 1, 2))
    with pytest.raises(ValueError, match="repeated axis"):
        fla.norm(x, axis=(1, 1))
    with pytest.raises(ValueError, match="axis 3"):
        fla.norm(x, axis=3)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        fla.matrix_norm(np.ones(3, np.float32))


@pytest.mark.parametrize("ord", [2, 1, INF, -INF, 0, 3])
@pytest.mark.parametrize("axis", [None, 1, (0, 2), (-1,)])
def test_vector_norm_array_api(ord, axis):
    x = _rand(np.random.default_rng(6), (2, 3, 4))
    got = fla.vector_norm(x, ord=ord, axis=axis, keepdims=axis == 1)
    want = np.linalg.vector_norm(x.astype(np.float64), ord=ord, axis=axis,
                                 keepdims=axis == 1)
    _check(got, want)


@pytest.mark.parametrize("ord", MATRIX_ORDS[1:])
def test_matrix_norm_stack(ord):
    x = _rand(np.random.default_rng(7), (2, 3, 4))
    for keepdims in (False, True):
        got = fla.matrix_norm(x, ord=ord, keepdims=keepdims)
        _check(got, np.linalg.norm(x.astype(np.float64), ord, axis=(-2, -1),
                                   keepdims=keepdims))


def test_norm_staging():
    prog = trace_to_program(lambda x: [fla.norm(x), fla.norm(x, 1)],
                            [ShapedArray((3, 4), np.dtype(np.float32))])
    typecheck(prog.program)
    text = str(prog)
    assert "sqrt" in text and "reduce_sum" in text and "reduce_max" in text


def test_products():
    rng = np.random.default_rng(8)
    a, b = _rand(rng, (2, 3, 4)), _rand(rng, (4, 5))
    _check(fla.matmul(a, b), a.astype(np.float64) @ b)
    _check(fla.tensordot(a, b, axes=1), np.tensordot(a, b, axes=1))
    _check(fla.tensordot(a, a, axes=((1, 2), (1, 2))),
           np.tensordot(a, a, axes=((1, 2), (1, 2))))
    u, v = _rand(rng, (3,)), _rand(rng, (4,))
    _check(fla.outer(u, v), np.outer(u, v))
    with pytest.raises(ValueError, match="1-D"):
        fla.outer(a, v)


@pytest.mark.parametrize("s1,s2,axis", [((3,), (3,), -1), ((5, 3), (3,), -1),
                                        ((2, 1, 3), (4, 3), -1), ((3, 2), (3, 2), 0),
                                        ((3, 4), (3, 1), 0), ((0,), (0,), -1)])
def test_vecdot(s1, s2, axis):
    rng = np.random.default_rng(9)
    x1, x2 = _rand(rng, s1), _rand(rng, s2)
    _check(fla.vecdot(x1, x2, axis=axis),
           np.linalg.vecdot(x1.astype(np.float64), x2.astype(np.float64), axis=axis))


def test_vecdot_complex_and_errors():
    rng = np.random.default_rng(10)
    x1, x2 = _rand(rng, (2, 3), np.complex64), _rand(rng, (2, 3), np.complex64)
    _check(fla.vecdot(x1, x2), np.sum(np.conj(x1) * x2, axis=-1), dtype=np.complex64)
    with pytest.raises(ValueError, match="size 3 in x1"):
        fla.vecdot(np.ones((2, 3)), np.ones((2, 4)))
    with pytest.raises(TypeError, match="boolean"):
        fla.vecdot(np.ones(3, bool), np.ones(3, bool))


@pytest.mark.parametrize("offset", [0, 1, -1, 5])
def test_trace_and_diagonal(offset):
    x = _rand(np.random.default_rng(11), (2, 3, 4))
    _check(fla.trace(x, offset=offset), np.trace(x, offset, axis1=-2, axis2=-1))
    _check(fla.diagonal(x, offset=offset), np.diagonal(x, offset, axis1=-2, axis2=-1))
    _check(fla.matrix_transpose(x), np.swapaxes(x, -1, -2))
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        fla.trace(np.ones(3))


def test_matmul_by_a_matrix_is_one_product_not_a_batch():
    # (16, 64, 128) @ (128, 512): one dot over the leading dims (a single GEMM for XLA),
    # not b broadcast to a batch of 16 small products.
    prog = functorch_lite.make_ir(lambda a, b: functorch_lite.numpy.matmul(a, b))(
        np.ones((16, 64, 128), np.float32), np.ones((128, 512), np.float32))
    (eqn,) = prog.eqns
    assert eqn.primitive.name == "dot_general"
    assert eqn.params["dimension_numbers"][1] == ((), ())
