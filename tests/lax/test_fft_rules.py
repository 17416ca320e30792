"""``lax.fft`` (functorch_lite/lax/fft.py): values against numpy.fft, the jvp against finite
differences, the transpose against the vjp identity and jax.vjp, batching against a Python
loop, the compiled program against eager, and the shape and dtype errors JAX gives."""
import jax
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import functorch_lite as fl
from functorch_lite import lax
from rule_checks import check_batching, check_grads, x64

KINDS = ["fft", "ifft", "rfft", "irfft"]


def _input(kind, shape, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    if kind == "rfft":
        return x.astype(dtype)
    cdt = np.complex128 if dtype == np.float64 else np.complex64
    return (x + 1j * rng.standard_normal(shape)).astype(cdt)


def _case(kind, lengths, batch=(2,)):
    """An input shape for ``kind`` over ``lengths`` (the stored half for IRFFT)."""
    minor = list(lengths)
    if kind == "irfft":
        minor[-1] = lengths[-1] // 2 + 1
    return tuple(batch) + tuple(minor)


def _numpy(kind, x, lengths):
    axes = tuple(range(x.ndim - len(lengths), x.ndim))
    if kind == "fft":
        return np.fft.fftn(x, axes=axes)
    if kind == "ifft":
        return np.fft.ifftn(x, axes=axes)
    if kind == "rfft":
        return np.fft.rfftn(x, axes=axes)
    return np.fft.irfftn(x, s=lengths, axes=axes)


LENGTHS = [(8,), (5,), (3, 4), (4, 3), (2, 3, 5), (2, 2, 4)]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("lengths", LENGTHS, ids=str)
def test_values_against_numpy_eager_and_jitted(kind, lengths):
    x = _input(kind, _case(kind, lengths), dtype=np.float32)
    want = _numpy(kind, x, lengths)
    eager = lax.fft(x, kind, lengths)
    jitted = fl.jit(lambda v: lax.fft(v, kind, lengths))(x)
    assert eager.dtype == jitted.dtype == (np.float32 if kind == "irfft" else np.complex64)
    np.testing.assert_allclose(eager, want, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(np.asarray(eager), np.asarray(jitted))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("lengths", [(6,), (5,), (3, 4), (2, 3, 3)], ids=str)
def test_grads(kind, lengths):
    with x64():
        x = _input(kind, _case(kind, lengths, batch=()), seed=1)
        check_grads(lambda v: lax.fft(v, kind, lengths), (x,), order=2)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("lengths", [(6,), (7,), (2, 4)], ids=str)
def test_vjp_matches_jax(kind, lengths):
    x = _input(kind, _case(kind, lengths), seed=2, dtype=np.float32)
    out = lax.fft(x, kind, lengths)
    ct = _input("fft" if kind != "irfft" else "rfft", out.shape, seed=3,
                dtype=np.float32).astype(out.dtype)
    ours = fl.vjp(lambda v: lax.fft(v, kind, lengths), x)[1](ct)[0]
    theirs = jax.vjp(lambda v: jax.lax.fft(v, kind, lengths), x)[1](ct)[0]
    assert ours.dtype == theirs.dtype
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("axis", [0, 1, 2])
def test_batching_against_a_loop(kind, axis):
    lengths = (3, 4)
    shape = list(_case(kind, lengths, batch=()))
    shape.insert(axis, 3)
    x = _input(kind, tuple(shape), seed=4, dtype=np.float32)
    check_batching(lambda v: lax.fft(v, kind, lengths), (x,), (axis,), rtol=1e-5, atol=1e-5)


@settings(max_examples=10, deadline=None)
@given(kind=st.sampled_from(KINDS),
       lengths=st.lists(st.integers(1, 6), min_size=1, max_size=3),
       batch=st.lists(st.integers(1, 3), max_size=2))
def test_shapes_against_numpy(kind, lengths, batch):
    lengths = tuple(lengths)
    x = _input(kind, _case(kind, lengths, batch), seed=5, dtype=np.float32)
    out = lax.fft(x, kind, lengths)
    want = _numpy(kind, x, lengths)
    assert out.shape == want.shape
    np.testing.assert_allclose(out, want, rtol=1e-4, atol=1e-4)


def test_input_conversion_and_errors_follow_jax():
    ints = np.arange(8, dtype=np.int32)
    np.testing.assert_allclose(lax.fft(ints, lax.FftType.FFT, (8,)), np.fft.fft(ints),
                               rtol=1e-5, atol=1e-4)
    assert lax.fft(ints, "rfft", (8,)).dtype == np.complex64
    with pytest.raises(ValueError, match="only real valued inputs supported for rfft"):
        lax.fft(ints * 1j, "rfft", (8,))
    with pytest.raises(ValueError, match="Unknown FFT type"):
        lax.fft(ints, "dct", (8,))
    with pytest.raises(TypeError, match="Unknown FFT type value"):
        lax.fft(ints, 7.5, (8,))
    c = np.ones((2, 6), np.complex64)
    for kind, lengths in [("fft", (5,)), ("irfft", (6,)), ("fft", (1, 2, 6)),
                          ("fft", (1, 1, 2, 6))]:
        with pytest.raises(ValueError):
            lax.fft(c, kind, lengths)
        with pytest.raises(Exception):  # JAX: ValueError, or MLIR's error for some
            jax.lax.fft(c, kind, lengths)
