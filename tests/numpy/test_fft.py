"""``functorch_lite.numpy.fft`` against numpy.fft (values) and jax.numpy.fft (dtypes,
gradients, errors): every function, with ``n``/``s``, ``axes`` and each ``norm``."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import functorch_lite as fl
import functorch_lite.numpy as fnp
from rule_checks import x64

NORMS = [None, "backward", "ortho", "forward"]
ONE_D = ["fft", "ifft", "rfft", "irfft", "hfft", "ihfft"]
REAL_IN = {"rfft", "ihfft", "rfft2", "rfftn"}
N_D = ["fft2", "ifft2", "rfft2", "irfft2", "fftn", "ifftn", "rfftn", "irfftn"]


def _data(name, shape, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    if name in REAL_IN:
        return x
    return (x + 1j * rng.standard_normal(shape)).astype(np.result_type(dtype, np.complex64))


def _close(ours, want, tol=2e-4):
    assert np.shape(ours) == np.shape(want), (np.shape(ours), np.shape(want))
    scale = max(1.0, float(np.max(np.abs(want)))) if np.size(want) else 1.0
    np.testing.assert_allclose(np.asarray(ours), want, rtol=tol, atol=tol * scale)


@settings(max_examples=12, deadline=None)
@given(name=st.sampled_from(ONE_D), shape=st.lists(st.integers(2, 6), min_size=1, max_size=3),
       axis_seed=st.integers(0, 5), n=st.one_of(st.none(), st.integers(1, 9)),
       norm=st.sampled_from(NORMS))
def test_one_dimensional_transforms_match_numpy(name, shape, axis_seed, n, norm):
    axis = axis_seed % len(shape) - (axis_seed % 2) * len(shape)  # negative ones too
    if name in ("irfft", "hfft") and n is not None and n < 2:
        n = 2
    x = _data(name, tuple(shape))
    ours = getattr(fnp.fft, name)(x, n=n, axis=axis, norm=norm)
    want = getattr(np.fft, name)(x, n=n, axis=axis, norm=norm)
    _close(ours, want)
    assert ours.dtype == getattr(jnp.fft, name)(x, n=n, axis=axis, norm=norm).dtype


@settings(max_examples=12, deadline=None)
@given(name=st.sampled_from(N_D), shape=st.lists(st.integers(2, 5), min_size=2, max_size=4),
       use_s=st.booleans(), perm_seed=st.integers(0, 23), norm=st.sampled_from(NORMS))
def test_multi_dimensional_transforms_match_numpy(name, shape, use_s, perm_seed, norm):
    x = _data(name, tuple(shape), seed=1)
    rank = len(shape)
    k = 2 if name.endswith("2") else min(rank, 1 + perm_seed % rank)
    order = np.random.default_rng(perm_seed).permutation(rank)
    axes = tuple(int(a) for a in order[:k])
    s = tuple(3 + (i + perm_seed) % 3 for i in range(k)) if use_s else None
    ours = getattr(fnp.fft, name)(x, s=s, axes=axes, norm=norm)
    want = getattr(np.fft, name)(x, s=s, axes=axes, norm=norm)
    _close(ours, want)


def test_default_axes_and_more_than_three_of_them():
    x = _data("fftn", (2, 3, 2, 4, 3), seed=2)
    r = _data("rfftn", (2, 3, 2, 4, 3), seed=3)
    _close(fnp.fft.fftn(x), np.fft.fftn(x))
    _close(fnp.fft.ifftn(x), np.fft.ifftn(x))
    _close(fnp.fft.rfftn(r), np.fft.rfftn(r))
    spectrum = np.fft.rfftn(r)
    _close(fnp.fft.irfftn(spectrum, s=r.shape, axes=range(5)), r, tol=1e-4)
    # s without axes: the last len(s) axes (NumPy's old default, JAX's)
    _close(fnp.fft.fftn(x, s=(4, 2)), np.fft.fftn(x, s=(4, 2), axes=(-2, -1)))
    _close(fnp.fft.fft2(r), np.fft.fft2(r))
    _close(fnp.fft.irfft2(x), np.fft.irfft2(x))


def test_frequencies_and_shifts():
    for n in (1, 6, 7):
        _close(fnp.fft.fftfreq(n, 0.25), np.fft.fftfreq(n, 0.25), tol=1e-6)
        _close(fnp.fft.rfftfreq(n), np.fft.rfftfreq(n), tol=1e-6)
    assert fnp.fft.fftfreq(4).dtype == jnp.fft.fftfreq(4).dtype == np.float32
    x = np.arange(30.0, dtype=np.float32).reshape(5, 6)
    for axes in (None, 0, (1,), (0, 1)):
        np.testing.assert_array_equal(fnp.fft.fftshift(x, axes), np.fft.fftshift(x, axes))
        np.testing.assert_array_equal(fnp.fft.ifftshift(x, axes), np.fft.ifftshift(x, axes))
    with pytest.raises(ValueError, match="positive"):
        fnp.fft.fftfreq(0)


@pytest.mark.parametrize("name", ["fft", "rfft", "irfft", "hfft", "ihfft", "fft2", "rfftn",
                                  "irfftn"])
def test_gradients_match_jax(name):
    x = _data(name, (3, 4), seed=4)

    def loss(lib):
        f = getattr(lib.fft, name)

        def go(v):
            kw = {"norm": "ortho"}
            if name in ("fft", "rfft", "irfft", "hfft", "ihfft"):
                kw["n"] = 5
            out = f(v, **kw)
            return lib.sum(lib.abs(out) ** 2 + lib.real(out))
        return go
    ours = fl.grad(loss(fnp))(x)
    theirs = jax.grad(loss(jnp))(x)
    assert ours.dtype == theirs.dtype
    _close(ours, theirs, tol=1e-4)
    _close(fl.jit(fl.grad(loss(fnp)))(x), theirs, tol=1e-4)


def test_dtypes_follow_jax():
    ints = np.arange(8, dtype=np.int32)
    assert fnp.fft.fft(ints).dtype == jnp.fft.fft(ints).dtype == np.complex64
    assert fnp.fft.rfft(ints).dtype == np.complex64
    assert fnp.fft.irfft(fnp.fft.rfft(ints)).dtype == np.float32
    with x64():
        x = np.linspace(0, 1, 8)
        assert fnp.fft.rfft(x).dtype == np.complex128
        _close(fnp.fft.fft(x), np.fft.fft(x), tol=1e-12)
        assert fnp.fft.irfft(np.fft.rfft(x)).dtype == np.float64


def test_vmap_of_a_transform():
    x = _data("fft", (4, 3, 6), seed=5)
    out = fl.vmap(lambda v: fnp.fft.fft2(v, axes=(0, 1)), in_axes=1)(x)
    _close(out, np.stack([np.fft.fft2(x[:, i]) for i in range(3)]))


def test_bad_arguments_get_jaxs_errors():
    x = np.ones((4, 4), np.complex64)
    cases = [
        lambda lib: lib.fft.fftn(x, s=(2, 0)),                  # Shape should be positive
        lambda lib: lib.fft.fftn(x, s=(2, 2), axes=(0,)),       # lengths differ
        lambda lib: lib.fft.fftn(x, axes=(0, 0)),               # repeated axes
        lambda lib: lib.fft.fft2(x, axes=(0,)),                 # fft2 wants 2 axes
        lambda lib: lib.fft.fft(x, norm="sideways"),            # bad norm
        lambda lib: lib.fft.rfft(x),                            # complex input to rfft
    ]

    def head(e):  # the message up to its first "." or ";"
        return str(e.value).replace("functorch_lite", "jax").split(";")[0].split(".")[0]
    for case in cases:
        with pytest.raises(ValueError) as theirs:
            case(jnp)
        with pytest.raises(ValueError) as ours:
            case(fnp)
        assert head(ours) == head(theirs), (ours.value, theirs.value)
    with pytest.raises(TypeError):
        fnp.fft.fft([1.0, 2.0])
