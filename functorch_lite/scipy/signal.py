"""``functorch_lite.scipy.signal``: convolution, detrending and spectral analysis, as
``jax.scipy.signal``.

Convolutions: ``convolve``/``correlate`` (N-d, direct on ``lax.conv_general_dilated`` or
through the FFT), ``convolve2d``/``correlate2d`` (zero boundary only, as JAX) and
``fftconvolve`` (optionally over some ``axes`` only). ``detrend`` removes a mean or a
piecewise-linear least-squares fit. Spectral estimates: ``stft``/``istft`` (short-time
Fourier transform and its overlap-add inverse), ``csd`` (Welch's cross spectral density)
and ``welch`` (power spectral density).

Everything the shape of a result depends on (modes, segment lengths, breakpoints, window
names) is static and worked out with NumPy at trace time; windows named by a string or a
``(name, parameter...)`` tuple are built here with NumPy (periodic, as SciPy's
``get_window`` makes them for spectral analysis).

Three deliberate differences from JAX, each following SciPy where JAX errs: a callable
``detrend`` in the spectral functions receives each segment along its last axis (JAX
hands it the wrong axis); ``istft`` with an odd ``nperseg`` and no ``nfft`` works (JAX
raises a shape error); ``noverlap=0`` means no overlap (JAX's ``noverlap or nperseg // 2``
turns it into the default), and ``nperseg=0`` raises ValueError.
"""
from __future__ import annotations

import operator
import warnings
from typing import Any, Callable, Sequence

import numpy as np

import functorch_lite.numpy as fnp
from functorch_lite import lax
from functorch_lite.core import dtypes
from functorch_lite.numpy import _util
from functorch_lite.numpy._eager import compiled_when_eager

__all__ = ["convolve", "correlate", "convolve2d", "correlate2d", "fftconvolve", "detrend",
           "stft", "istft", "csd", "welch"]

_MODES = ("full", "same", "valid")


def _array(name: str, x: Any):
    _util.check_arraylike(name, x)
    return fnp.asarray(x)


def _complex_dtype(dtype) -> np.dtype:
    """The complex dtype holding ``dtype``'s values (integers as the default float)."""
    real = dtypes.float_dtype_for(dtype)
    if dtypes.is_complex(real):
        return np.dtype(real)
    return np.dtype(np.complex128 if real == np.float64 else np.complex64)


def _real_dtype(dtype) -> np.dtype:
    return np.dtype(np.float64 if np.dtype(dtype) == np.complex128 else np.float32) \
        if dtypes.is_complex(dtype) else np.dtype(dtype)


# ----------------------------------------------------------------------- direct convolution

@compiled_when_eager(arrays=2)
def _conv_direct(in1, in2, mode: str, precision):
    """The N-d convolution of same-rank ``in1`` and ``in2`` on ``conv_general_dilated``
    (which correlates: the kernel is flipped first)."""
    shape_o = in2.shape
    # The larger operand is the image, the smaller the kernel; convolution commutes.
    if all(a <= b for a, b in zip(in1.shape, in2.shape)):
        in1, in2 = in2, in1
    shape = in2.shape
    if mode == "valid":
        padding = [(0, 0)] * len(shape)
    elif mode == "same":
        # Centred on in1's grid, keeping the extra sample of an even kernel on the left.
        padding = [(s - 1 - (so - 1) // 2, s - so + (so - 1) // 2)
                   for s, so in zip(shape, shape_o)]
    else:
        padding = [(s - 1, s - 1) for s in shape]
    out = lax.conv_general_dilated(in1[None, None], fnp.flip(in2)[None, None],
                                   (1,) * len(shape), padding, precision=precision)
    return out[0, 0]


def _convolve_nd(name: str, in1, in2, mode: str, precision):
    if mode not in _MODES:
        raise ValueError(f"{name}: mode must be one of ['full', 'same', 'valid'], got "
                         f"{mode!r}.")
    if in1.ndim != in2.ndim:
        raise ValueError(f"{name}: in1 and in2 must have the same number of dimensions, got "
                         f"shapes {in1.shape} and {in2.shape}.")
    if in1.size == 0 or in2.size == 0:
        raise ValueError(f"{name}: zero-size arrays not supported in convolutions, got shapes "
                         f"{in1.shape} and {in2.shape}.")
    in1, in2 = _util.promote_dtypes_inexact(name, in1, in2)
    if not (all(a >= b for a, b in zip(in1.shape, in2.shape))
            or all(a <= b for a, b in zip(in1.shape, in2.shape))):
        raise ValueError(f"{name}: one input must be smaller than the other in every "
                         f"dimension, got shapes {in1.shape} and {in2.shape}.")
    return _conv_direct(in1, in2, mode, precision)


def convolve(in1: Any, in2: Any, mode: str = "full", method: str = "auto",
             precision: Any = None):
    """The N-dimensional convolution of ``in1`` and ``in2`` (same rank), as
    ``jax.scipy.signal.convolve``.

    ``mode``: "full" (every overlap; shape ``in1.shape + in2.shape - 1``), "same" (centred,
    ``in1``'s shape) or "valid" (full overlaps only). ``method``: "auto"/"direct" on
    ``lax.conv_general_dilated``, "fft" through :func:`fftconvolve`. Integer inputs give
    the default float dtype.

    >>> convolve(fnp.array([1., 2., 3.]), fnp.array([0., 1., 0.5]))  # [0., 1., 2.5, 4., 1.5]
    """
    if method == "fft":
        return fftconvolve(in1, in2, mode=mode)
    if method not in ("auto", "direct"):
        raise ValueError(f"convolve: got method={method!r}; expected 'auto', 'fft', or "
                         "'direct'.")
    return _convolve_nd("convolve", _array("convolve", in1), _array("convolve", in2), mode,
                        precision)


def correlate(in1: Any, in2: Any, mode: str = "full", method: str = "auto",
              precision: Any = None):
    """The N-dimensional cross-correlation of ``in1`` and ``in2``, as
    ``jax.scipy.signal.correlate``: ``in1`` convolved with ``in2`` reversed and conjugated.
    Modes and methods as :func:`convolve`.

    >>> correlate(fnp.array([1., 2., 3.]), fnp.array([0., 1., 0.5]))  # [0.5, 2., 3.5, 3., 0.]
    """
    in2 = _array("correlate", in2)
    return convolve(in1, fnp.flip(fnp.conj(in2)), mode, method=method, precision=precision)


def _check_2d(name: str, in1, in2, boundary, fillvalue) -> None:
    if boundary != "fill" or fillvalue != 0:
        raise NotImplementedError(f"{name}() only supports boundary='fill', fillvalue=0; got "
                                  f"boundary={boundary!r}, fillvalue={fillvalue!r}.")
    if np.ndim(in1) != 2 or np.ndim(in2) != 2:
        raise ValueError(f"{name}() only supports 2-dimensional inputs, got ranks "
                         f"{np.ndim(in1)} and {np.ndim(in2)}.")


def convolve2d(in1: Any, in2: Any, mode: str = "full", boundary: str = "fill",
               fillvalue: float = 0, precision: Any = None):
    """The 2-D convolution of matrices ``in1`` and ``in2``, as
    ``jax.scipy.signal.convolve2d``. Only the zero boundary (``boundary="fill"``,
    ``fillvalue=0``) is supported; modes as :func:`convolve`.

    >>> convolve2d(fnp.ones((2, 2)), fnp.ones((2, 2)))  # [[1, 2, 1], [2, 4, 2], [1, 2, 1]]
    """
    _check_2d("convolve2d", in1, in2, boundary, fillvalue)
    return _convolve_nd("convolve2d", _array("convolve2d", in1), _array("convolve2d", in2),
                        mode, precision)


def correlate2d(in1: Any, in2: Any, mode: str = "full", boundary: str = "fill",
                fillvalue: float = 0, precision: Any = None):
    """The 2-D cross-correlation of matrices ``in1`` and ``in2``, as
    ``jax.scipy.signal.correlate2d`` (which, like SciPy's, centres "same" on ``in1``
    differently from ``correlate``). Zero boundary only.

    >>> correlate2d(fnp.eye(2), fnp.ones((1, 2)), mode="valid")  # [[1.], [1.]]
    """
    _check_2d("correlate2d", in1, in2, boundary, fillvalue)
    in1, in2 = _array("correlate2d", in1), _array("correlate2d", in2)
    name = "correlate2d"
    smaller = all(a <= b for a, b in zip(in1.shape, in2.shape))
    same_shape = tuple(in1.shape) == tuple(in2.shape)
    # Correlating is convolving with the flipped conjugate; flipping in1 and the result
    # instead keeps "same" centred where SciPy centres it.
    if mode == "valid" and smaller and not same_shape:
        return _convolve_nd(name, fnp.flip(in2), fnp.conj(in1), mode, precision)
    if mode == "full" and smaller:
        return fnp.conj(_convolve_nd(name, fnp.flip(in2), fnp.conj(in1), mode, precision))
    return fnp.flip(_convolve_nd(name, fnp.flip(in1), fnp.conj(in2), mode, precision))


# --------------------------------------------------------------------------- FFT convolution

@compiled_when_eager(arrays=2)
def _fftconvolve_body(in1, in2, mode: str, axes: tuple):
    s1 = [in1.shape[a] for a in axes]
    s2 = [in2.shape[a] for a in axes]
    if mode == "valid" and all(a <= b for a, b in zip(s1, s2)):
        in1, in2, s1, s2 = in2, in1, s2, s1
    full = [a + b - 1 for a, b in zip(s1, s2)]
    if all(a == 1 or b == 1 for a, b in zip(s1, s2)):
        # A length-1 factor on every axis: the convolution is a (broadcast) product.
        conv = in1 * in2
    elif dtypes.is_complex(in1.dtype):
        conv = fnp.fft.ifftn(fnp.fft.fftn(in1, full, axes) * fnp.fft.fftn(in2, full, axes),
                             full, axes)
    else:
        conv = fnp.fft.irfftn(fnp.fft.rfftn(in1, full, axes) * fnp.fft.rfftn(in2, full, axes),
                              full, axes)
    if mode == "full":
        out = full
    elif mode == "same":
        out = s1
    else:
        out = [a - b + 1 for a, b in zip(s1, s2)]
    start = [0] * conv.ndim
    stop = list(conv.shape)
    for a, f, o in zip(axes, full, out):
        start[a] = (f - o) // 2
        stop[a] = start[a] + o
    return lax.slice(conv, start, stop)


def fftconvolve(in1: Any, in2: Any, mode: str = "full", axes: Sequence[int] | None = None):
    """The N-dimensional convolution of ``in1`` and ``in2`` computed by FFTs, as
    ``jax.scipy.signal.fftconvolve``.

    ``axes`` (default: all) are convolved; the others must have equal sizes in both inputs
    and are carried along as batch axes. Modes as :func:`convolve`.

    >>> fftconvolve(fnp.array([1., 2., 3.]), fnp.array([1., 1.]))  # [1., 3., 5., 3.]
    """
    name = "fftconvolve"
    _util.check_arraylike(name, in1, in2)
    in1, in2 = _util.promote_dtypes_inexact(name, fnp.asarray(in1), fnp.asarray(in2))
    if in1.ndim != in2.ndim:
        raise ValueError(f"{name}: in1 and in2 should have the same dimensionality, got "
                         f"shapes {in1.shape} and {in2.shape}.")
    if mode not in _MODES:
        raise ValueError(f"{name}: mode must be one of ['same', 'full', 'valid'], got "
                         f"{mode!r}.")
    if axes is None:
        axes = tuple(range(in1.ndim))
    else:
        axes = (axes,) if np.ndim(axes) == 0 else tuple(axes)
        axes = tuple(_util.normalize_axis(name, operator.index(a), in1.ndim) for a in axes)
        if len(set(axes)) != len(axes):
            raise ValueError(f"{name}: repeated axis in axes={axes}.")
        mapped = [a for a in range(in1.ndim) if a not in axes]
        if any(in1.shape[a] != in2.shape[a] for a in mapped):
            raise ValueError(f"{name}: mapped axes must have same shape; got "
                             f"in1.shape={in1.shape} in2.shape={in2.shape} axes={axes}.")
    if mode == "valid":
        s1 = [in1.shape[a] for a in axes]
        s2 = [in2.shape[a] for a in axes]
        if not (all(a >= b for a, b in zip(s1, s2)) or all(a <= b for a, b in zip(s1, s2))):
            raise ValueError(f"{name}: for 'valid' mode, one input must be at least as large "
                             f"as the other in every dimension; got shapes {in1.shape} and "
                             f"{in2.shape}.")
    return _fftconvolve_body(in1, in2, mode, axes)


# ---------------------------------------------------------------------------------- detrend

def _detrend_last(x, breaks: tuple):
    """``x`` less its least-squares line on each piece ``[breaks[i], breaks[i + 1])`` of
    the last axis."""
    pieces = []
    for lo, hi in zip(breaks[:-1], breaks[1:]):
        seg = x[..., lo:hi]
        seg = seg - fnp.mean(seg, axis=-1, keepdims=True)
        n = hi - lo
        if n > 1:
            # Against centred times the slope decouples from the mean: one projection.
            t = np.arange(n) - (n - 1) / 2.0
            t = fnp.asarray((t / np.sqrt(np.sum(t * t))).astype(_real_dtype(x.dtype)))
            seg = seg - fnp.sum(seg * t, axis=-1, keepdims=True) * t
        pieces.append(seg)
    return fnp.concatenate(pieces, axis=-1) if len(pieces) != 1 else pieces[0]


@compiled_when_eager(arrays=1)
def _detrend_body(x, axis: int, kind: str, breaks: tuple):
    if kind == "constant":
        return x - fnp.mean(x, axis=axis, keepdims=True)
    if not breaks[1:]:
        return x
    return fnp.moveaxis(_detrend_last(fnp.moveaxis(x, axis, -1), breaks), -1, axis)


def detrend(data: Any, axis: int = -1, type: str = "linear",
            bp: int | Sequence[int] | np.ndarray = 0, overwrite_data: None = None):
    """``data`` less its trend along ``axis``, as ``jax.scipy.signal.detrend``.

    ``type="constant"`` removes the mean; ``"linear"`` removes the least-squares line, or
    with breakpoints ``bp`` (static indices along ``axis``) a separate line on each piece.
    The result has ``data``'s shape in its inexact dtype.

    >>> detrend(fnp.array([1., 3., 2., 4.]))        # [-0.3, 0.9, -0.9, 0.3]
    """
    if overwrite_data is not None:
        raise NotImplementedError("detrend: the overwrite_data argument is not implemented; "
                                  "leave it None.")
    if type not in ("constant", "linear"):
        raise ValueError(f"detrend: trend type must be 'linear' or 'constant', got {type!r}.")
    x = _array("detrend", data)
    (x,) = _util.promote_dtypes_inexact("detrend", x)
    axis = _util.normalize_axis("detrend", operator.index(axis), x.ndim)
    breaks: tuple = ()
    if type == "linear":
        n = x.shape[axis]
        b = np.sort(np.unique(np.r_[0, np.asarray(bp).ravel(), n]))
        if b[0] < 0 or b[-1] > n:
            raise ValueError(f"detrend: breakpoints must be non-negative and at most the "
                             f"length of data along the axis ({n}), got bp={bp!r}.")
        breaks = tuple(int(v) for v in b)
    return _detrend_body(x, axis, type, breaks)


# ---------------------------------------------------------------------------------- windows

def _general_cosine(m: int, coefs: Sequence[float]) -> np.ndarray:
    phase = np.linspace(-np.pi, np.pi, m)
    return sum(c * np.cos(k * phase) for k, c in enumerate(coefs))


def _triang(m: int) -> np.ndarray:
    k = np.arange(1, (m + 1) // 2 + 1)
    if m % 2 == 0:
        half = (2 * k - 1.0) / m
        return np.r_[half, half[::-1]]
    half = 2 * k / (m + 1.0)
    return np.r_[half, half[-2::-1]]


def _bartlett(m: int) -> np.ndarray:
    n = np.arange(m)
    return np.where(n <= (m - 1) / 2.0, 2.0 * n / (m - 1), 2.0 - 2.0 * n / (m - 1))


def _bohman(m: int) -> np.ndarray:
    f = np.abs(np.linspace(-1, 1, m)[1:-1])
    return np.r_[0.0, (1 - f) * np.cos(np.pi * f) + np.sin(np.pi * f) / np.pi, 0.0]


def _parzen(m: int) -> np.ndarray:
    n = np.arange(-(m - 1) / 2.0, (m - 1) / 2.0 + 0.5, 1.0)
    outer = n[n < -(m - 1) / 4.0]
    inner = n[np.abs(n) <= (m - 1) / 4.0]
    wa = 2 * (1 - np.abs(outer) / (m / 2.0)) ** 3
    r = np.abs(inner) / (m / 2.0)
    wb = 1 - 6 * r ** 2 + 6 * r ** 3
    return np.r_[wa, wb, wa[::-1]]


def _barthann(m: int) -> np.ndarray:
    f = np.abs(np.arange(m) / (m - 1.0) - 0.5)
    return 0.62 - 0.48 * f + 0.38 * np.cos(2 * np.pi * f)


def _tukey(m: int, alpha: float = 0.5) -> np.ndarray:
    if alpha <= 0:
        return np.ones(m)
    if alpha >= 1:
        return _general_cosine(m, (0.5, 0.5))
    n = np.arange(m)
    width = int(np.floor(alpha * (m - 1) / 2.0))
    head, tail = n[:width + 1], n[m - width - 1:]
    w1 = 0.5 * (1 + np.cos(np.pi * (-1 + 2.0 * head / alpha / (m - 1))))
    w3 = 0.5 * (1 + np.cos(np.pi * (-2.0 / alpha + 1 + 2.0 * tail / alpha / (m - 1))))
    return np.r_[w1, np.ones(m - 2 * (width + 1)), w3]


def _kaiser(m: int, beta: float) -> np.ndarray:
    r = (np.arange(m) - (m - 1) / 2.0) / ((m - 1) / 2.0)
    return np.i0(beta * np.sqrt(np.clip(1 - r ** 2, 0, None))) / np.i0(float(beta))


def _gaussian(m: int, std: float) -> np.ndarray:
    n = np.arange(m) - (m - 1) / 2.0
    return np.exp(-n ** 2 / (2.0 * std * std))


def _exponential(m: int, center: float | None = None, tau: float = 1.0) -> np.ndarray:
    if center is not None:
        raise ValueError("the exponential window needs center=None for spectral analysis.")
    return np.exp(-np.abs(np.arange(m) - (m - 1) / 2.0) / tau)


# name -> (symmetric window of length m (m >= 2), number of required parameters)
_WINDOWS: dict[str, tuple[Callable[..., np.ndarray], int]] = {}
for _names, _fn, _required in [
        (("boxcar", "box", "ones", "rect", "rectangular"), lambda m: np.ones(m), 0),
        (("triang", "triangle", "tri"), _triang, 0),
        (("bartlett", "bart", "brt"), _bartlett, 0),
        (("hann", "han"), lambda m: _general_cosine(m, (0.5, 0.5)), 0),
        (("hamming", "hamm", "ham"), lambda m: _general_cosine(m, (0.54, 0.46)), 0),
        (("blackman", "black", "blk"), lambda m: _general_cosine(m, (0.42, 0.5, 0.08)), 0),
        (("nuttall", "nutl", "nut"),
         lambda m: _general_cosine(m, (0.3635819, 0.4891775, 0.1365995, 0.0106411)), 0),
        (("blackmanharris", "blackharr", "bkh"),
         lambda m: _general_cosine(m, (0.35875, 0.48829, 0.14128, 0.01168)), 0),
        (("flattop", "flat", "flt"),
         lambda m: _general_cosine(m, (0.21557895, 0.41663158, 0.277263158, 0.083578947,
                                       0.006947368)), 0),
        (("cosine", "halfcosine"), lambda m: np.sin(np.pi / m * (np.arange(m) + 0.5)), 0),
        (("bohman", "bman", "bmn"), _bohman, 0),
        (("parzen", "parz", "par"), _parzen, 0),
        (("barthann", "brthan", "bth"), _barthann, 0),
        (("tukey", "tuk"), _tukey, 0),
        (("exponential", "poisson"), _exponential, 0),
        (("kaiser", "ksr"), _kaiser, 1),
        (("gaussian", "gauss", "gss"), _gaussian, 1),
        (("general_hamming", "general hamming"),
         lambda m, a: _general_cosine(m, (a, 1.0 - a)), 1)]:
    for _name in _names:
        _WINDOWS[_name] = (_fn, _required)


def _named_window(window: str | tuple, m: int) -> np.ndarray:
    """The periodic window ``window`` of length ``m`` (the symmetric one of length m + 1,
    its last sample dropped: what DFT-based analysis wants)."""
    name, params = (window, ()) if isinstance(window, str) else (window[0], tuple(window[1:]))
    if not isinstance(name, str) or name.lower() not in _WINDOWS:
        raise ValueError(f"Unknown window type {name!r}; use one of "
                         f"{sorted(set(_WINDOWS))} or pass the window as an array.")
    fn, required = _WINDOWS[name.lower()]
    if len(params) < required:
        raise ValueError(f"The {name!r} window needs one or more parameters -- pass a tuple "
                         f"such as ({name!r}, value).")
    if m <= 1:
        return np.ones(max(m, 0))
    return np.asarray(fn(m + 1, *params), np.float64)[:m]


def _window_array(window: Any, m: int, dtype):
    if isinstance(window, str) and window == "hann":
        w = np.sin(np.linspace(0, np.pi, m, endpoint=False)) ** 2 if m > 1 else np.ones(1)
    else:
        w = _named_window(window, m)
    return fnp.asarray(w.astype(dtype) if not dtypes.is_complex(dtype) else w, dtype=dtype)


def _triage_window(window: Any, nperseg: int | None, length: int, dtype):
    """The window array and segment length ``window``/``nperseg`` describe for a signal of
    ``length`` samples (JAX's rules: a named window without nperseg spans the signal)."""
    if isinstance(window, (str, tuple)):
        m = length if nperseg is None else int(nperseg)
        if m > length:
            warnings.warn(f"nperseg={m} is greater than input_length={length}, using "
                          f"nperseg={length}")
            m = length
        return _window_array(window, m, dtype), m
    _util.check_arraylike("window", window)
    win = fnp.asarray(window, dtype=dtype)
    m = win.size if nperseg is None else int(nperseg)
    if win.ndim != 1:
        raise ValueError(f"window must be 1-D, got shape {win.shape}.")
    if length < win.size:
        raise ValueError(f"window (length {win.size}) is longer than the input signal "
                         f"(length {length}).")
    if m != win.size:
        raise ValueError(f"value specified for nperseg ({m}) is different from length of "
                         f"window ({win.size}).")
    return win, m


# ------------------------------------------------------------------------- spectral helpers

def _odd_ext(x, n: int):
    """``x`` extended by ``n`` samples at both ends of the last axis, point-reflected about
    each end sample."""
    if n < 1:
        return x
    if n > x.shape[-1] - 1:
        raise ValueError(f"The extension length n ({n}) is too big. It must not exceed "
                         f"x.shape[axis]-1, which is {x.shape[-1] - 1}.")
    first, last = x[..., :1], x[..., -1:]
    left = 2 * first - fnp.flip(x[..., 1:n + 1], axis=-1)
    right = 2 * last - fnp.flip(x[..., -n - 1:-1], axis=-1)
    return fnp.concatenate([left, x, right], axis=-1)


def _extend(x, kind, n: int):
    pad = [(0, 0)] * (x.ndim - 1) + [(n, n)]
    if kind == "even":
        return fnp.pad(x, pad, mode="reflect")
    if kind == "odd":
        return _odd_ext(x, n)
    if kind == "constant":
        return fnp.pad(x, pad, mode="edge")
    return fnp.pad(x, pad)  # "zeros"


_BOUNDARIES = ("even", "odd", "constant", "zeros", None)


def _segments_fft(x, win, detrend_func, nperseg: int, noverlap: int, nfft: int,
                  onesided: bool):
    """The windowed FFTs of ``x``'s segments along its last axis: shape
    ``(..., segments, frequencies)``."""
    step = nperseg - noverlap
    starts = np.arange(0, x.shape[-1] - nperseg + 1, step)
    # A static index table: each row gathers one segment.
    segs = x[..., starts[:, None] + np.arange(nperseg)[None, :]]
    segs = detrend_func(segs)
    if dtypes.is_complex(win.dtype) and not dtypes.is_complex(segs.dtype):
        segs = segs.astype(win.dtype)
    segs = win * segs
    if onesided:
        return fnp.fft.rfft(fnp.real(segs), n=nfft)
    return fnp.fft.fft(segs, n=nfft)


def _static_int(value: Any, what: str) -> int:
    try:
        return operator.index(value)
    except TypeError:
        try:
            return int(value)
        except Exception as e:
            raise TypeError(f"{what} must be a static Python integer (it sets a shape), got "
                            f"{value!r}; pass it as a static argument under jit.") from e


def _spectral(x, y, fs, window, nperseg, noverlap, nfft, detrend_type, return_onesided,
              scaling, axis, mode, boundary=None, padded=False):
    """``(freqs, times, result)`` of the windowed segment FFTs of ``x`` (and ``y``): the
    cross spectrum ``conj(X) Y`` (or ``|X|**2``) for mode "psd", ``X`` for "stft"."""
    if boundary not in _BOUNDARIES:
        raise ValueError(f"Unknown boundary option '{boundary}', must be one of: "
                         f"{list(_BOUNDARIES)}")
    raw_axis = _static_int(axis, "axis")
    name = "csd" if mode == "psd" else "stft"
    x = _array(name, x)
    if y is None:
        (x,) = _util.promote_dtypes_inexact(name, x)
        axis = _util.normalize_axis(name, raw_axis, x.ndim)
        outer = x.shape[:axis] + x.shape[axis + 1:]
        yv = None
    else:
        x, yv = _util.promote_dtypes_inexact(name, x, _array(name, y))
        if x.ndim != yv.ndim:
            raise ValueError(f"two-arguments must have the same rank ({x.ndim} vs "
                             f"{yv.ndim}).")
        axis = _util.normalize_axis(name, raw_axis, x.ndim)
        try:
            outer = _util.broadcast_shapes(x.shape[:axis] + x.shape[axis + 1:],
                                           yv.shape[:axis] + yv.shape[axis + 1:])
        except ValueError as e:
            raise ValueError(f"x and y cannot be broadcast together (shapes {x.shape} and "
                             f"{yv.shape} along axis {axis}).") from e
    result_dtype = _complex_dtype(x.dtype)
    freq_dtype = _real_dtype(result_dtype)

    if nperseg is not None:
        nperseg = _static_int(nperseg, "nperseg")
        if nperseg < 1:
            raise ValueError(f"nperseg must be a positive integer, got {nperseg}.")
    win, nperseg = _triage_window(window, nperseg, x.shape[axis], x.dtype)
    noverlap = nperseg // 2 if noverlap is None else _static_int(noverlap, "noverlap")
    nfft = nperseg if nfft is None else _static_int(nfft, "nfft")

    if yv is None and x.size == 0:
        return (fnp.zeros(x.shape, freq_dtype), fnp.zeros(x.shape, freq_dtype),
                fnp.zeros(x.shape, result_dtype))
    if yv is not None and (x.size == 0 or yv.size == 0):
        shape = outer[:axis] + (min(x.shape[axis], yv.shape[axis]),) + outer[axis:]
        return (fnp.zeros(shape, freq_dtype), fnp.zeros(shape, freq_dtype),
                fnp.zeros(shape, result_dtype))

    if nfft < nperseg:
        raise ValueError(f"nfft ({nfft}) must be greater than or equal to nperseg "
                         f"({nperseg}).")
    if noverlap >= nperseg:
        raise ValueError(f"noverlap ({noverlap}) must be less than nperseg ({nperseg}).")
    if not (isinstance(detrend_type, str) or callable(detrend_type) or not detrend_type):
        raise ValueError(f"Unsupported detrend type: {detrend_type!r}; use 'constant', "
                         "'linear', False or a callable.")
    if scaling not in ("density", "spectrum"):
        raise ValueError(f"Unknown scaling: {scaling!r}; use 'density' or 'spectrum'.")
    onesided = bool(return_onesided)
    if onesided and dtypes.is_complex(x.dtype):
        warnings.warn("Input data is complex, switching to return_onesided=False")
        onesided = False
    if not _util.is_scalar(fs):
        fs = _array(name, fs)
    return _spectral_body(x, x if yv is None else yv, win, fs, yv is not None, nperseg,
                          noverlap, nfft, detrend_type, onesided, scaling, axis, raw_axis,
                          mode, boundary, bool(padded))


@compiled_when_eager(arrays=4)
def _spectral_body(x, y, win, fs, cross: bool, nperseg: int, noverlap: int, nfft: int,
                   detrend_type, onesided: bool, scaling: str, axis: int, raw_axis: int,
                   mode: str, boundary, padded: bool):
    """The computation of ``_spectral``, its arguments checked (``y`` is used when
    ``cross``)."""
    result_dtype = _complex_dtype(x.dtype)
    freq_dtype = _real_dtype(result_dtype)
    x = fnp.moveaxis(x, axis, -1)
    yv = fnp.moveaxis(y, axis, -1) if cross else None
    if cross:
        # Unequal lengths: the shorter signal is zero-padded.
        n = max(x.shape[-1], yv.shape[-1])
        x = fnp.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, n - x.shape[-1])])
        yv = fnp.pad(yv, [(0, 0)] * (yv.ndim - 1) + [(0, n - yv.shape[-1])])
    step = nperseg - noverlap

    if boundary is not None:
        x = _extend(x, boundary, nperseg // 2)
        if cross:
            yv = _extend(yv, boundary, nperseg // 2)
    if padded:
        # Zero-pad to a whole number of segments.
        extra = (-(x.shape[-1] - nperseg) % step) % nperseg
        x = fnp.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, extra)])
        if cross:
            yv = fnp.pad(yv, [(0, 0)] * (yv.ndim - 1) + [(0, extra)])

    if isinstance(detrend_type, str):
        def detrend_func(d):
            return detrend(d, axis=-1, type=detrend_type)
    elif callable(detrend_type):
        if raw_axis != -1:
            # The user's function sees each segment with its samples where the signal's
            # samples were (as SciPy arranges it).
            def detrend_func(d):
                return fnp.moveaxis(detrend_type(fnp.moveaxis(d, -1, axis)), axis, -1)
        else:
            detrend_func = detrend_type
    else:
        def detrend_func(d):
            return d

    if scaling == "density":
        scale = 1.0 / (fs * fnp.sum(win * win))
    else:
        scale = 1.0 / fnp.sum(win) ** 2
    if mode == "stft":
        scale = fnp.sqrt(scale)
    if onesided:
        freqs = fnp.fft.rfftfreq(nfft, 1 / fs, dtype=freq_dtype)
    else:
        freqs = fnp.fft.fftfreq(nfft, 1 / fs, dtype=freq_dtype)

    result = _segments_fft(x, win, detrend_func, nperseg, noverlap, nfft, onesided)
    if cross:
        result = fnp.conj(result) * _segments_fft(yv, win, detrend_func, nperseg, noverlap,
                                                  nfft, onesided)
    elif mode == "psd":
        result = fnp.conj(result) * result
    result = result * scale.astype(_complex_dtype(scale.dtype))
    if onesided and mode == "psd":
        # Fold the negative frequencies onto the positive ones (not DC, nor Nyquist).
        fold = np.full(result.shape[-1], 2.0)
        fold[0] = 1.0
        if nfft % 2 == 0:
            fold[-1] = 1.0
        result = result * fold.astype(freq_dtype)

    times = np.arange(nperseg / 2, x.shape[-1] - nperseg / 2 + 1, step, dtype=freq_dtype)
    if boundary is not None:
        times = times - freq_dtype.type(nperseg / 2)
    times = fnp.asarray(times) / fs
    result = result.astype(result_dtype)
    if not cross and mode != "stft":
        result = fnp.real(result)
    return freqs, times, fnp.moveaxis(result, -1, axis)


def stft(x: Any, fs: Any = 1.0, window: Any = "hann", nperseg: int = 256,
         noverlap: int | None = None, nfft: int | None = None,
         detrend: bool | str | Callable = False, return_onesided: bool = True,
         boundary: str | None = "zeros", padded: bool = True, axis: int = -1):
    """The short-time Fourier transform of ``x`` along ``axis``, as
    ``jax.scipy.signal.stft``: ``(f, t, Zxx)``.

    Segments of ``nperseg`` samples overlapping by ``noverlap`` (default half), detrended
    (False, "constant", "linear" or a callable), windowed (a name such as "hann", a
    ``(name, parameter)`` tuple, or an array), zero-padded to ``nfft`` and transformed.
    ``boundary`` extends the signal by half a segment at both ends ("zeros", "even",
    "odd", "constant" or None); ``padded`` zero-pads to a whole number of segments. ``Zxx``
    has the frequencies where ``axis`` was and the segment times last, in the complex
    dtype of ``x``; ``f`` and ``t`` are in the matching real dtype.

    >>> f, t, Z = stft(fnp.ones(16), nperseg=8)      # Z.shape == (5, 5)
    """
    return _spectral(x, None, fs, window, nperseg, noverlap, nfft, detrend, return_onesided,
                     "spectrum", axis, "stft", boundary, padded)


@compiled_when_eager(arrays=1)
def _average(p, average: str):
    """The mean or (bias-corrected) median of ``p`` over its last (segment) axis."""
    if p.ndim < 2 or p.size == 0:
        return p
    count = p.shape[-1]
    if count == 1:
        return p.reshape(p.shape[:-1])
    if average == "mean":
        return fnp.mean(p, axis=-1)
    if average != "median":
        raise ValueError(f'average must be "median" or "mean", got {average!r}.')
    # The median of chi-squared periodograms sits below their mean by this factor.
    k = np.arange(2.0, count, 2.0)
    bias = 1.0 + np.sum(1.0 / (k + 1.0) - 1.0 / k)
    if dtypes.is_complex(p.dtype):
        med = lax.complex(fnp.median(fnp.real(p), axis=-1), fnp.median(fnp.imag(p), axis=-1))
    else:
        med = fnp.median(p, axis=-1)
    return med / np.asarray(bias, _real_dtype(p.dtype))


def csd(x: Any, y: Any, fs: Any = 1.0, window: Any = "hann", nperseg: int | None = None,
        noverlap: int | None = None, nfft: int | None = None,
        detrend: bool | str | Callable = "constant", return_onesided: bool = True,
        scaling: str = "density", axis: int = -1, average: str = "mean"):
    """The cross power spectral density of ``x`` and ``y`` by Welch's method, as
    ``jax.scipy.signal.csd``: ``(f, Pxy)``.

    The segment cross-spectra ``conj(X) Y`` (see :func:`stft` for the segmenting
    arguments), scaled to a density (``scaling="density"``, per unit of ``fs``) or a power
    spectrum (``"spectrum"``), averaged over segments (``average`` "mean" or "median").
    ``y=None`` gives the (real) PSD of ``x``. A named window without ``nperseg`` spans the
    whole signal, as in JAX. ``Pxy`` has the frequencies where ``axis`` was.

    >>> f, p = csd(fnp.ones(16), fnp.ones(16), nperseg=8)   # p.shape == (5,)
    """
    freqs, _, pxy = _spectral(x, y, fs, window, nperseg, noverlap, nfft, detrend,
                              return_onesided, scaling, axis, "psd")
    if y is not None:
        pxy = pxy.astype(_complex_dtype(pxy.dtype))
    return freqs, _average(pxy, average)


def welch(x: Any, fs: Any = 1.0, window: Any = "hann", nperseg: int | None = None,
          noverlap: int | None = None, nfft: int | None = None,
          detrend: bool | str | Callable = "constant", return_onesided: bool = True,
          scaling: str = "density", axis: int = -1, average: str = "mean"):
    """The power spectral density of ``x`` by Welch's method, as
    ``jax.scipy.signal.welch``: ``(f, Pxx)``, :func:`csd` of ``x`` with itself (real).

    >>> f, p = welch(fnp.ones(16), nperseg=8)        # p.shape == (5,)
    """
    freqs, pxx = csd(x, None, fs=fs, window=window, nperseg=nperseg, noverlap=noverlap,
                     nfft=nfft, detrend=detrend, return_onesided=return_onesided,
                     scaling=scaling, axis=axis, average=average)
    return freqs, fnp.real(pxx)


def _overlap_add(frames, step: int):
    """Frames ``(..., count, length)`` summed into one signal ``(..., step * (count - 1)
    + length)``, frame ``i`` starting at ``i * step``."""
    count, length = frames.shape[-2], frames.shape[-1]
    chunks = -(-length // step)  # ceil: how many step-long pieces a frame spans
    frames = fnp.pad(frames, [(0, 0)] * (frames.ndim - 1) + [(0, chunks * step - length)])
    frames = frames.reshape(frames.shape[:-1] + (chunks, step))
    # Piece j of frame i lands on output block i + j: shift each piece column by j.
    blocks = None
    for j in range(chunks):
        piece = frames[..., j, :]
        shifted = fnp.pad(piece, [(0, 0)] * (piece.ndim - 2) + [(j, chunks - 1 - j), (0, 0)])
        blocks = shifted if blocks is None else blocks + shifted
    out = blocks.reshape(blocks.shape[:-2] + ((count + chunks - 1) * step,))
    return out[..., :step * (count - 1) + length]


def istft(Zxx: Any, fs: Any = 1.0, window: Any = "hann", nperseg: int | None = None,
          noverlap: int | None = None, nfft: int | None = None, input_onesided: bool = True,
          boundary: bool = True, time_axis: int = -1, freq_axis: int = -2):
    """The inverse short-time Fourier transform, as ``jax.scipy.signal.istft``:
    ``(t, x)`` with ``x`` rebuilt from ``Zxx`` by windowed overlap-add.

    ``Zxx`` holds frequencies on ``freq_axis`` and segment times on ``time_axis`` (as
    :func:`stft` returns it); ``nperseg`` defaults from the number of frequencies,
    ``noverlap`` to half a segment. ``boundary=True`` drops the half segment :func:`stft`
    added at each end. ``x`` is real for one-sided input (complex otherwise) with the time
    samples last.

    >>> t, x = istft(stft(fnp.arange(16.0), nperseg=8)[2], nperseg=8)  # x ~ arange(16)
    """
    name = "istft"
    Z = _array(name, Zxx)
    if Z.ndim < 2:
        raise ValueError(f"istft: input stft must be at least 2-D, got shape {Z.shape}.")
    freq_axis = _util.normalize_axis(name, operator.index(freq_axis), Z.ndim)
    time_axis = _util.normalize_axis(name, operator.index(time_axis), Z.ndim)
    if freq_axis == time_axis:
        raise ValueError("istft: must specify differing time and frequency axes, got "
                         f"both {time_axis}.")
    Z = Z.astype(_complex_dtype(Z.dtype))
    n_default = 2 * (Z.shape[freq_axis] - 1) if input_onesided else Z.shape[freq_axis]
    nperseg = n_default if nperseg is None else _static_int(nperseg, "nperseg")
    if nperseg < 1:
        raise ValueError(f"istft: nperseg must be a positive integer, got {nperseg}.")
    if nfft is None:
        # An odd segment length rounds the one-sided length down: take it back.
        nfft = n_default + 1 if input_onesided and nperseg == n_default + 1 else n_default
    else:
        nfft = _static_int(nfft, "nfft")
    if nfft < nperseg:
        raise ValueError(f"FFT length ({nfft}) must be longer than nperseg ({nperseg}).")
    noverlap = nperseg // 2 if noverlap is None else _static_int(noverlap, "noverlap")
    if noverlap >= nperseg:
        raise ValueError(f"noverlap ({noverlap}) must be less than nperseg ({nperseg}).")
    step = nperseg - noverlap

    if isinstance(window, (str, tuple)):
        win = _window_array(window, nperseg, _real_dtype(Z.dtype))
    else:
        _util.check_arraylike("window", window)
        win = fnp.asarray(window)
        if win.ndim != 1:
            raise ValueError(f"window must be 1-D, got shape {win.shape}.")
        if win.shape[0] != nperseg:
            raise ValueError(f"window must have length of {nperseg}, got {win.shape[0]}.")
    if not _util.is_scalar(fs):
        fs = _array(name, fs)
    return _istft_body(Z, win, fs, freq_axis, time_axis, nperseg, nfft, step,
                       bool(input_onesided), bool(boundary))


@compiled_when_eager(arrays=3)
def _istft_body(Z, win, fs, freq_axis: int, time_axis: int, nperseg: int, nfft: int,
                step: int, input_onesided: bool, boundary: bool):
    """The computation of ``istft``, its arguments checked."""
    if time_axis != Z.ndim - 1 or freq_axis != Z.ndim - 2:
        rest = tuple(a for a in range(Z.ndim) if a not in (time_axis, freq_axis))
        Z = fnp.transpose(Z, rest + (freq_axis, time_axis))
    inverse = fnp.fft.irfft if input_onesided else fnp.fft.ifft
    frames = inverse(Z, n=nfft, axis=-2)[..., :nperseg, :]       # (..., nperseg, segments)
    # stft scaled each segment by 1/sum(win); undo it, window again, and divide by the
    # overlapped squared windows (the least-squares inverse).
    frames = frames * fnp.sum(win)
    x = _overlap_add(fnp.swapaxes(frames * win[:, None], -2, -1), step)
    norm = _overlap_add(fnp.broadcast_to(win * win, (frames.shape[-1], nperseg)), step)
    if boundary:
        cut = slice(nperseg // 2, -(nperseg // 2))
        x, norm = x[..., cut], norm[..., cut]
    x = x / fnp.where(fnp.real(norm) > 1e-10, norm, 1.0)

    if x.ndim > 1 and time_axis != Z.ndim - 1:
        x = fnp.moveaxis(x, -1, time_axis - 1 if freq_axis < time_axis else time_axis)
    times = fnp.arange(x.shape[0], dtype=_real_dtype(x.dtype)) / fs
    return times, x


del _names, _fn, _required, _name
