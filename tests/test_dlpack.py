"""DLPack interop: ``fl.dlpack.from_dlpack`` imports NumPy arrays and torch tensors, and
``Array.__dlpack__`` exports ours to them; ``jax.dlpack.from_dlpack`` is the oracle for
dtypes and errors."""
import jax
import jax.dlpack
import numpy as np
import pytest

import functorch_lite as fl
import functorch_lite.numpy as fnp

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.int32, np.int64, np.uint8,
                                   np.bool_, np.float64, np.complex64])
def test_from_numpy_matches_jax(dtype):
    x = (np.arange(12).reshape(3, 4) % 3).astype(dtype)
    ours = fl.dlpack.from_dlpack(x)
    theirs = jax.dlpack.from_dlpack(x)
    assert isinstance(ours, fl.Array) and ours.dtype == theirs.dtype
    assert ours.shape == (3, 4) and not ours.weak_type
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))
    # It is an ordinary array: eager ops and jit take it.
    np.testing.assert_array_equal(fl.jit(lambda a: a.sum())(ours), np.asarray(theirs).sum())


def test_torch_round_trip_and_transposed_input():
    t = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    x = fl.dlpack.from_dlpack(t)
    np.testing.assert_array_equal(x, t.numpy())
    back = torch.from_dlpack(x * 2)
    assert back.dtype == torch.float32 and back.shape == (3, 4)
    np.testing.assert_array_equal(back.numpy(), 2 * t.numpy())
    # A transposed (still compact) tensor is accepted, as by JAX.
    np.testing.assert_array_equal(fl.dlpack.from_dlpack(t.T), t.numpy().T)
    # int64 is canonicalized to int32 without x64, as by JAX.
    assert fl.dlpack.from_dlpack(torch.arange(3)).dtype == np.int32


def test_numpy_from_our_array():
    x = fnp.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(np.from_dlpack(x), np.arange(6.0).reshape(2, 3))
    assert x.__dlpack_device__()[0] == jax.numpy.ones(1).__dlpack_device__()[0]


def test_bad_inputs():
    with pytest.raises(TypeError, match="__dlpack__"):
        fl.dlpack.from_dlpack([1, 2, 3])
    strided = np.ones((3, 4), np.float32)[:, ::2]
    with pytest.raises(Exception, match="striding") as ours:
        fl.dlpack.from_dlpack(strided)
    with pytest.raises(Exception) as theirs:
        jax.dlpack.from_dlpack(strided)
    assert type(ours.value) is type(theirs.value)
    x = fnp.ones(2)
    assert fl.dlpack.from_dlpack(x) is x
