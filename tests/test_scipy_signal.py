"""functorch_lite.scipy.signal and functorch_lite.scipy.fft against jax.scipy.signal /
jax.scipy.fft (values, shapes, dtypes, gradients, errors) and SciPy (where JAX has no
say: windows, odd-length istft, callable detrending, shapes drawn by hypothesis)."""
import warnings

import jax
import jax.scipy.fft as jfft
import jax.scipy.signal as jsig
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import functorch_lite as fl
import functorch_lite.scipy.fft as F
import functorch_lite.scipy.signal as S
from helpers import assert_same, jax_oracle
from rule_checks import x64

ss = pytest.importorskip("scipy.signal")
sfft = pytest.importorskip("scipy.fft")

RNG = np.random.default_rng(0)
A7 = RNG.standard_normal(7).astype(np.float32)
B3 = RNG.standard_normal(3).astype(np.float32)
M56 = RNG.standard_normal((5, 6)).astype(np.float32)
M23 = RNG.standard_normal((2, 3)).astype(np.float32)
C56 = (M56 + 1j * RNG.standard_normal((5, 6))).astype(np.complex64)
C23 = (M23 + 1j * RNG.standard_normal((2, 3))).astype(np.complex64)
T234 = RNG.standard_normal((2, 3, 4)).astype(np.float32)
K212 = RNG.standard_normal((2, 1, 2)).astype(np.float32)
I5 = np.arange(5, dtype=np.int32)
SIG = (RNG.standard_normal((2, 48)) + np.linspace(0, 3, 48)).astype(np.float32)
SIG1 = RNG.standard_normal((1, 48)).astype(np.float32)
SETTINGS = settings(max_examples=8, deadline=None)


def _jax(fn):
    """``fn()`` (a JAX computation) compiled whole, quickly: eager jax.scipy is slow."""
    return _quiet(lambda: jax_oracle(lambda _: fn()))


def _quiet(fn):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn()


# ------------------------------------------------------------------------------ convolutions

CONV_CASES = {   # run in every mode
    "convolve_1d": lambda m, mode: m.convolve(A7, B3, mode),
    "convolve_3d": lambda m, mode: m.convolve(T234, K212, mode),
    "convolve_complex": lambda m, mode: m.convolve(C56, C23, mode),
    "correlate_1d": lambda m, mode: m.correlate(A7, B3, mode),
    "correlate_complex_fft": lambda m, mode: m.correlate(C23, C56, mode, method="fft"),
    "convolve2d": lambda m, mode: m.convolve2d(M56, M23, mode),
    "correlate2d": lambda m, mode: m.correlate2d(M56, M23, mode),
    "correlate2d_swapped": lambda m, mode: m.correlate2d(C23, C56, mode),
    "fftconvolve_2d": lambda m, mode: m.fftconvolve(M56, M23, mode),
    "fftconvolve_axes_complex": lambda m, mode: m.fftconvolve(C56, C56[:2], mode, axes=[0]),
}
CONV_EXTRA = {   # one mode each
    "convolve_1d_swapped": lambda m: m.convolve(B3, A7, "same"),
    "convolve_fft": lambda m: m.convolve(A7, B3, "valid", method="fft"),
    "convolve_int": lambda m: m.convolve(I5, I5[:2]),
    "convolve2d_complex": lambda m: m.convolve2d(C23, C56, "same"),
    "correlate2d_same_shape": lambda m: m.correlate2d(C23, C23[::-1], "valid"),
    "fftconvolve_axes": lambda m: m.fftconvolve(M56, M56[:, :2], "same", axes=1),
    "fftconvolve_ones": lambda m: m.fftconvolve(M56[:1], M56[:, :1]),
}


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("name", sorted(CONV_CASES))
def test_convolutions_match_jax(name, mode):
    case = CONV_CASES[name]
    assert_same(case(S, mode), _jax(lambda: case(jsig, mode)), tol=2e-5)


@pytest.mark.parametrize("name", sorted(CONV_EXTRA))
def test_more_convolutions_match_jax(name):
    assert_same(CONV_EXTRA[name](S), _jax(lambda: CONV_EXTRA[name](jsig)), tol=2e-5)


@SETTINGS
@given(st.lists(st.tuples(st.integers(1, 6), st.integers(1, 4)), min_size=1, max_size=3),
       st.sampled_from(["full", "same", "valid"]), st.booleans())
def test_convolve_shapes_against_scipy(dims, mode, correlate):
    # The second input no larger than the first on every axis (SciPy's "valid" needs it).
    a = RNG.standard_normal([max(d) for d in dims]).astype(np.float32)
    b = RNG.standard_normal([min(d) for d in dims]).astype(np.float32)
    ours = (S.correlate if correlate else S.convolve)(a, b, mode)
    want = (ss.correlate if correlate else ss.convolve)(a.astype(np.float64), b, mode)
    np.testing.assert_allclose(np.asarray(ours), want, rtol=1e-4, atol=1e-4)
    assert np.asarray(ours).dtype == np.float32


def test_convolve_float64_under_x64():
    with x64():
        a, b = A7.astype(np.float64), B3.astype(np.float64)
        assert_same(S.convolve(a, b, "same"), _jax(lambda: jsig.convolve(a, b, "same")),
                    tol=1e-12)
        assert_same(S.fftconvolve(a, b), _jax(lambda: jsig.fftconvolve(a, b)), tol=1e-12)


def test_convolve_jit_and_vmap():
    batch = np.stack([A7, A7[::-1], A7 * 2])
    assert_same(fl.jit(lambda u, v: S.convolve(u, v, "same"))(A7, B3),
                _jax(lambda: jsig.convolve(A7, B3, "same")))
    assert_same(fl.vmap(lambda u: S.correlate(u, B3))(batch),
                _jax(lambda: jax.vmap(lambda u: jsig.correlate(u, B3))(batch)))
    assert_same(fl.vmap(S.fftconvolve, in_axes=(0, None))(batch, B3),
                _jax(lambda: jax.vmap(jsig.fftconvolve, in_axes=(0, None))(batch, B3)))


@pytest.mark.parametrize("fn,mode", [("convolve", "same"), ("fftconvolve", "valid"),
                                     ("convolve2d", "full")])
def test_convolution_gradients_match_jax(fn, mode):
    x, y = (M56, M23) if fn == "convolve2d" else (A7, B3)

    def loss(mod):
        return lambda u, v: (getattr(mod, fn)(u, v, mode) ** 3).sum()
    assert_same(fl.grad(loss(S), argnums=(0, 1))(x, y),
                _jax(lambda: jax.grad(loss(jsig), argnums=(0, 1))(x, y)), tol=1e-4)


# ---------------------------------------------------------------------------------- detrend

@pytest.mark.parametrize("kind,bp,axis", [("linear", 0, -1), ("linear", [5, 12], -1),
                                          ("linear", np.array([3, 30]), 1),
                                          ("constant", 0, 0), ("linear", 47, -1)])
def test_detrend_matches_jax(kind, bp, axis):
    assert_same(S.detrend(SIG, axis=axis, type=kind, bp=bp),
                _jax(lambda: jsig.detrend(SIG, axis=axis, type=kind, bp=bp)), tol=2e-5)


def test_detrend_complex_int_and_jit():
    data = (SIG + 1j * SIG[::-1]).astype(np.complex64)
    assert_same(S.detrend(data, axis=0), _jax(lambda: jsig.detrend(data, axis=0)), tol=2e-5)
    assert_same(S.detrend(I5), _jax(lambda: jsig.detrend(I5)), tol=2e-5)
    assert_same(fl.jit(lambda d: S.detrend(d, bp=[10]))(SIG),
                _jax(lambda: jsig.detrend(SIG, bp=[10])), tol=2e-5)
    assert_same(fl.vmap(S.detrend)(SIG), _jax(lambda: jsig.detrend(SIG)), tol=2e-5)


# ------------------------------------------------------------------------------------- DCTs

@SETTINGS
@given(st.lists(st.integers(1, 6), min_size=1, max_size=3), st.integers(-1, 0),
       st.sampled_from([None, "ortho", "backward"]), st.sampled_from([None, 1, 3, 8]),
       st.booleans())
def test_dct_idct_against_scipy(shape, axis, norm, n, inverse):
    x = RNG.standard_normal(shape).astype(np.float32)
    ours = (F.idct if inverse else F.dct)(x, n=n, axis=axis, norm=norm)
    want = (sfft.idct if inverse else sfft.dct)(x.astype(np.float64), n=n, axis=axis,
                                                norm=norm)
    assert np.asarray(ours).dtype == np.float32
    np.testing.assert_allclose(np.asarray(ours), want, rtol=1e-4, atol=1e-4)


@SETTINGS
@given(st.lists(st.integers(1, 5), min_size=1, max_size=3), st.booleans(),
       st.sampled_from([None, "ortho"]), st.booleans(), st.booleans())
def test_dctn_idctn_against_scipy(shape, use_s, norm, inverse, last_axes_only):
    x = RNG.standard_normal(shape).astype(np.float32)
    axes = [-1] if last_axes_only else None
    s = [3] * (1 if last_axes_only else len(shape)) if use_s else None
    ours = (F.idctn if inverse else F.dctn)(x, s=s, axes=axes, norm=norm)
    want = (sfft.idctn if inverse else sfft.dctn)(x.astype(np.float64), s=s, axes=axes,
                                                  norm=norm)
    np.testing.assert_allclose(np.asarray(ours), want, rtol=1e-4, atol=1e-4)


DCT_CASES = {
    "dct_int": lambda m: m.dct(I5),
    "dct_complex": lambda m: m.dct(C56, n=4, axis=0, norm="ortho"),
    "idct_complex": lambda m: m.idct(C56, n=7),
    "dctn_s_int": lambda m: m.dctn(M56, s=3),
    "dctn_axes": lambda m: m.dctn(T234, s=[3, 2], axes=[0, 2], norm="ortho"),
    "idctn_3d": lambda m: m.idctn(T234, norm="ortho"),
    "idctn_complex": lambda m: m.idctn(C56, s=(4, 7)),
}


@pytest.mark.parametrize("name", sorted(DCT_CASES))
def test_dct_matches_jax(name):
    assert_same(DCT_CASES[name](F), _jax(lambda: DCT_CASES[name](jfft)), tol=2e-5)


def test_dct_float64_roundtrip_and_transforms():
    with x64():
        x = M56.astype(np.float64)
        assert_same(F.dctn(x, norm="ortho"), _jax(lambda: jfft.dctn(x, norm="ortho")),
                    tol=1e-12)
        np.testing.assert_allclose(np.asarray(F.idct(F.dct(x, axis=0), axis=0)), x,
                                   atol=1e-12)
    assert_same(fl.jit(lambda u: F.idct(u, n=4))(M56), _jax(lambda: jfft.idct(M56, n=4)),
                tol=2e-5)
    assert_same(fl.vmap(lambda u: F.dct(u, norm="ortho"))(M56),
                _jax(lambda: jfft.dct(M56, norm="ortho")), tol=2e-5)


@pytest.mark.parametrize("name,fn", [("dct", lambda m, u: m.dct(u, n=9, norm="ortho")),
                                     ("idctn", lambda m, u: m.idctn(u, s=(4, 4)))])
def test_dct_gradients_match_jax(name, fn):
    x = A7 if name == "dct" else M56

    def loss(mod):
        return lambda u: (fn(mod, u) ** 3).sum()
    assert_same(fl.grad(loss(F))(x), _jax(lambda: jax.grad(loss(jfft))(x)), tol=1e-4)


# --------------------------------------------------------------------------------- spectral

SPECTRAL_CASES = [
    ("welch", dict(nperseg=16, fs=2.0)),
    ("welch", dict(nperseg=16, noverlap=4, nfft=20, scaling="spectrum")),
    ("welch", dict(window="hamming", nperseg=10, detrend="linear", average="median")),
    ("welch", dict(window=np.hanning(9).astype(np.float32), detrend=False)),
    ("welch", dict()),   # a named window without nperseg spans the whole signal (JAX's rule)
    ("csd", dict(nperseg=16, fs=2.0)),
    ("csd", dict(window=("tukey", 0.3), nperseg=12, return_onesided=False)),
    ("csd", dict(nperseg=12, average="median", detrend="linear")),
]


@pytest.mark.parametrize("i", range(len(SPECTRAL_CASES)))
def test_welch_and_csd_match_jax(i):
    name, kw = SPECTRAL_CASES[i]
    args = (SIG,) if name == "welch" else (SIG, SIG1)
    assert_same(getattr(S, name)(*args, **kw), _jax(lambda: getattr(jsig, name)(*args, **kw)),
                tol=2e-5)


def test_spectral_axes_complex_and_x64():
    assert_same(S.welch(SIG.T, nperseg=8, axis=0),
                _jax(lambda: jsig.welch(SIG.T, nperseg=8, axis=0)), tol=2e-5)
    z = (SIG + 1j * SIG[::-1]).astype(np.complex64)
    with pytest.warns(UserWarning, match="complex"):
        ours = S.csd(z, SIG1[:, :40], nperseg=8)
    assert_same(ours, _jax(lambda: jsig.csd(z, SIG1[:, :40], nperseg=8)), tol=2e-5)
    with x64():
        x = SIG.astype(np.float64)
        assert_same(S.welch(x, nperseg=16), _jax(lambda: jsig.welch(x, nperseg=16)), tol=1e-12)


@pytest.mark.parametrize("kw", [dict(nperseg=16), dict(nperseg=8, boundary="even", padded=False),
                                dict(nperseg=8, boundary="odd", detrend="constant"),
                                dict(nperseg=8, boundary=None, window="blackman", nfft=10),
                                dict(nperseg=9, boundary="constant", return_onesided=False)])
def test_stft_matches_jax(kw):
    assert_same(S.stft(SIG, fs=4.0, **kw), _jax(lambda: jsig.stft(SIG, fs=4.0, **kw)), tol=2e-5)


def test_stft_istft_roundtrip_and_axes():
    _, _, z = _jax(lambda: jsig.stft(SIG, nperseg=16))
    assert_same(S.istft(z, nperseg=16), _jax(lambda: jsig.istft(z, nperseg=16)), tol=2e-5)
    np.testing.assert_allclose(np.asarray(S.istft(z)[1])[:, :48], SIG, atol=1e-5)
    zt = np.moveaxis(np.asarray(z), -1, 0)
    assert_same(S.istft(zt, nperseg=16, window="hamming", time_axis=0, freq_axis=-1),
                _jax(lambda: jsig.istft(zt, nperseg=16, window="hamming", time_axis=0,
                                        freq_axis=-1)), tol=2e-5)
    _, _, z2 = _jax(lambda: jsig.stft(SIG, nperseg=8, return_onesided=False))
    assert_same(S.istft(z2, input_onesided=False, boundary=False),
                _jax(lambda: jsig.istft(z2, input_onesided=False, boundary=False)), tol=2e-5)


def test_spectral_jit_vmap_and_grad():
    ours = fl.jit(lambda u, fs: S.welch(u, fs=fs, nperseg=8))(SIG, 3.0)
    assert_same(ours, _jax(lambda: jsig.welch(SIG, fs=3.0, nperseg=8)), tol=2e-5)
    assert_same(fl.vmap(lambda u: S.stft(u, nperseg=8)[2])(SIG),
                _jax(lambda: jsig.stft(SIG, nperseg=8)[2]), tol=2e-5)

    def loss(mod):
        return lambda u: mod.welch(u, nperseg=16)[1].sum()
    assert_same(fl.grad(loss(S))(SIG[0]), _jax(lambda: jax.grad(loss(jsig))(SIG[0])), tol=1e-4)


def test_where_we_follow_scipy():
    # JAX mis-arranges a callable detrend's input and cannot invert an odd nperseg.
    x = SIG[0].astype(np.float64)

    def demean(d):
        return d - d.mean(-1, keepdims=True)
    np.testing.assert_allclose(np.asarray(S.welch(SIG[0], nperseg=16, detrend=demean)[1]),
                               ss.welch(x, nperseg=16, detrend=demean)[1], rtol=1e-4,
                               atol=1e-6)
    _, _, z = ss.stft(x, nperseg=15)
    np.testing.assert_allclose(np.asarray(S.istft(z.astype(np.complex64), nperseg=15)[1]),
                               ss.istft(z, nperseg=15)[1], atol=1e-5)


@pytest.mark.parametrize("window", ["hann", "hamming", "blackman", "bartlett", "triang",
                                    "boxcar", "cosine", "bohman", "parzen", "nuttall",
                                    "blackmanharris", "flattop", "barthann", "tukey",
                                    ("tukey", 0.3), ("kaiser", 6.0), ("gaussian", 2.5),
                                    ("general_hamming", 0.6), "exponential"])
def test_named_windows_match_scipy_get_window(window):
    for m in (1, 2, 7, 8):
        np.testing.assert_allclose(S._named_window(window, m), ss.get_window(window, m),
                                   atol=1e-12)


# ------------------------------------------------------------------------------------ errors

ERRORS = [
    (lambda m: m.convolve(A7, B3, "bogus"), ValueError),
    (lambda m: m.convolve(A7, M23), ValueError),
    (lambda m: m.convolve(A7, B3, method="slow"), ValueError),
    (lambda m: m.convolve(np.zeros(0, np.float32), B3), ValueError),
    (lambda m: m.convolve(M23, M56.T[:1, :]), ValueError),
    (lambda m: m.fftconvolve(A7, M23), ValueError),
    (lambda m: m.fftconvolve(A7, B3, "nope"), ValueError),
    (lambda m: m.fftconvolve(M56, M23, axes=1), ValueError),
    (lambda m: m.fftconvolve(M23, M56.T[:1, :], "valid"), ValueError),
    (lambda m: m.convolve2d(M56, M23, boundary="wrap"), NotImplementedError),
    (lambda m: m.correlate2d(M56, M23, fillvalue=1.0), NotImplementedError),
    (lambda m: m.convolve2d(A7, B3), ValueError),
    (lambda m: m.detrend(SIG, type="quadratic"), ValueError),
    (lambda m: m.detrend(SIG, bp=[60]), ValueError),
    (lambda m: m.detrend(SIG, overwrite_data=True), NotImplementedError),
    (lambda m: m.welch(SIG, nperseg=8, noverlap=8), ValueError),
    (lambda m: m.welch(SIG, nperseg=8, nfft=4), ValueError),
    (lambda m: m.welch(SIG, nperseg=0), ValueError),
    (lambda m: m.welch(SIG, nperseg=8, scaling="power"), ValueError),
    (lambda m: m.welch(SIG, nperseg=8, average="mode"), ValueError),
    (lambda m: m.welch(SIG, window="nonesuch", nperseg=8), ValueError),
    (lambda m: m.welch(SIG, window=np.ones((2, 2), np.float32)), ValueError),
    (lambda m: m.welch(SIG, window=np.ones(8, np.float32), nperseg=9), ValueError),
    (lambda m: m.csd(SIG, SIG[0]), ValueError),
    (lambda m: m.stft(SIG, nperseg=8, boundary="wrap"), ValueError),
    (lambda m: m.istft(SIG[0]), ValueError),
    (lambda m: m.istft(SIG, time_axis=0, freq_axis=0), ValueError),
    (lambda m: m.istft(SIG, nperseg=8, noverlap=8), ValueError),
]


@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_signal_errors_like_jax(i):
    fn, exc = ERRORS[i]
    with pytest.raises(exc):   # traced, not run: every one of these is a static error
        _quiet(lambda: jax.jit(lambda: fn(jsig)).trace())
    with pytest.raises(exc):
        _quiet(lambda: fn(S))


@pytest.mark.parametrize("fn,exc", [
    (lambda m: m.dct(A7, type=3), NotImplementedError),
    (lambda m: m.idctn(M56, type=1), NotImplementedError),
    (lambda m: m.dct(A7, norm="forward"), ValueError),
    (lambda m: m.idct(A7, norm="bad"), ValueError),
    (lambda m: m.dctn(A7, s=[2, 2]), ValueError),
    (lambda m: m.dct(A7, axis=2), ValueError),
])
def test_dct_errors_like_jax(fn, exc):
    with pytest.raises(exc):
        jax.jit(lambda: fn(jfft)).trace()
    with pytest.raises(exc):
        fn(F)
