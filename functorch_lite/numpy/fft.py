"""``functorch_lite.numpy.fft``: NumPy's ``fft`` module (as ``jax.numpy.fft``) on
``lax.fft``.

XLA transforms the one to three innermost dimensions of an array, so the transformed axes
are moved last and back; ``n``/``s`` crop or zero-pad the input along them first;
``norm`` scales the result ("backward", the default: the inverse divides by N; "ortho":
both by sqrt(N); "forward": the forward transform divides by N). More than three axes are
transformed three (or two) at a time.
"""
from __future__ import annotations

import math
import operator
from typing import Any, Sequence

import numpy as np

from functorch_lite import lax
from functorch_lite.lax.fft import FftType
from functorch_lite.numpy._util import check_arraylike, promote_dtypes_inexact
from functorch_lite.numpy.creation import asarray
from functorch_lite.numpy.shapes import moveaxis, pad, roll
from functorch_lite.numpy.ufuncs import conj

__all__ = ["fft", "ifft", "rfft", "irfft", "hfft", "ihfft", "fft2", "ifft2", "rfft2",
           "irfft2", "fftn", "ifftn", "rfftn", "irfftn", "fftfreq", "rfftfreq", "fftshift",
           "ifftshift"]

_NORMS = (None, "backward", "ortho", "forward")


def _check_norm(norm) -> None:
    if norm not in _NORMS:
        raise ValueError(f'Invalid norm value {norm}; should be "backward", "ortho" or '
                         '"forward".')


def _scale(name: str, norm: str | None, lengths: Sequence[int]) -> float:
    """The factor ``norm`` asks of transform ``name`` (names of inverses start with i)."""
    _check_norm(norm)
    if norm in (None, "backward"):
        return 1.0
    size = float(math.prod(lengths))
    factor = math.sqrt(size) if norm == "ortho" else size
    return factor if name.startswith("i") else 1.0 / factor


def _transform(x, kind: FftType, lengths: tuple):
    """``lax.fft`` over ``len(lengths)`` innermost axes, more than three in several steps
    (an N-d DFT is a DFT along some axes of one along the others)."""
    k = len(lengths)
    if k <= 3:
        return lax.fft(x, kind, lengths)
    step = 2 if k == 4 else 3  # two 2-d transforms rather than a 3-d and a 1-d
    ndim = x.ndim
    outer = tuple(range(ndim - k, ndim - step))        # the axes left for later
    parked = tuple(range(ndim - k + step, ndim))       # where they wait meanwhile
    if kind in (FftType.FFT, FftType.RFFT):
        x = lax.fft(x, kind, lengths[-step:])
        x = moveaxis(x, outer, parked)
        x = _transform(x, FftType.FFT, lengths[:-step])
        return moveaxis(x, parked, outer)
    # Inverses: the complex axes first, the (real-output) innermost ones last.
    x = moveaxis(x, outer, parked)
    x = _transform(x, FftType.IFFT, lengths[:-step])
    x = moveaxis(x, parked, outer)
    return lax.fft(x, kind, lengths[-step:])


def _fft(name: str, kind: FftType, a: Any, s: Sequence[int] | None,
         axes: Sequence[int] | None, norm: str | None):
    full_name = f"functorch_lite.numpy.fft.{name}"
    check_arraylike(full_name, a)
    (arr,) = promote_dtypes_inexact(full_name, asarray(a))
    if s is not None:
        s = tuple(operator.index(n) for n in s)
        if any(n <= 0 for n in s):
            raise ValueError("Shape should be positive.")
        if axes is not None and len(s) != len(axes):
            raise ValueError("Shape and axes have different lengths.")
    given_axes = axes is not None
    if axes is None:
        axes = range(arr.ndim) if s is None else range(arr.ndim - len(s), arr.ndim)
    axes = tuple(operator.index(ax) for ax in axes)
    for ax in axes:
        if not -arr.ndim <= ax < arr.ndim:
            raise ValueError(f"{full_name}: axis {ax} is out of bounds for an array of "
                             f"rank {arr.ndim}")
    axes = tuple(ax % arr.ndim for ax in axes)
    if len(set(axes)) != len(axes):
        raise ValueError(f"{full_name} does not support repeated axes. Got axes {axes}.")
    if not axes:
        raise ValueError(f"{full_name} needs at least one axis to transform")
    last = tuple(range(arr.ndim - len(axes), arr.ndim))
    if given_axes:
        arr = moveaxis(arr, axes, last)
    if s is not None:
        target = list(arr.shape)
        for ax, n in zip(last, s):
            target[ax] = n
        if kind == FftType.IRFFT:
            target[-1] = target[-1] // 2 + 1  # the stored half of the spectrum
        arr = arr[tuple(slice(0, n) for n in target)]
        arr = pad(arr, [(0, n - m) for n, m in zip(target, arr.shape)])
        lengths = tuple(s)
    elif kind == FftType.IRFFT:
        lengths = tuple(arr.shape[ax] for ax in last[:-1]) + (2 * (arr.shape[-1] - 1),)
    else:
        lengths = tuple(arr.shape[ax] for ax in last)
    if kind == FftType.IRFFT and lengths[-1] <= 0:
        raise ValueError(f"{full_name}: the output length along the last axis must be "
                         f"positive, got {lengths[-1]}")
    out = _transform(arr, kind, lengths)
    factor = _scale(name, norm, lengths)
    if factor != 1.0:
        out = out * factor
    return moveaxis(out, last, axes) if given_axes else out


def _one_axis(n: int | None, axis: int):
    return (None if n is None else [n]), [axis]


def _two_axes(name: str, axes: Sequence[int]):
    if len(axes) != 2:
        raise ValueError(f"functorch_lite.numpy.fft.{name} only supports 2 axes. Got "
                         f"axes = {tuple(axes)!r}.")
    return axes


# -- one dimension ---------------------------------------------------------------------------
def fft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None):
    """The discrete Fourier transform along ``axis`` (``n``: crop or zero-pad to n first)."""
    return _fft("fft", FftType.FFT, a, *_one_axis(n, axis), norm)


def ifft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None):
    """The inverse of ``fft`` along ``axis``."""
    return _fft("ifft", FftType.IFFT, a, *_one_axis(n, axis), norm)


def rfft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None):
    """The DFT of a real array along ``axis``: the n//2 + 1 non-negative frequencies."""
    return _fft("rfft", FftType.RFFT, a, *_one_axis(n, axis), norm)


def irfft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None):
    """The real array of length ``n`` (default 2 * (m - 1)) whose ``rfft`` is ``a``."""
    return _fft("irfft", FftType.IRFFT, a, *_one_axis(n, axis), norm)


_SWAPPED = {None: "forward", "backward": "forward", "ortho": "ortho", "forward": "backward"}


def hfft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None):
    """The real spectrum of a signal with Hermitian symmetry (``a`` is its first half)."""
    _check_norm(norm)
    return irfft(conj(asarray(a)), n, axis, norm=_SWAPPED[norm])


def ihfft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None):
    """The inverse of ``hfft``: the first half of a Hermitian-symmetric signal."""
    _check_norm(norm)
    return conj(rfft(a, n, axis, norm=_SWAPPED[norm]))


# -- two and more dimensions -----------------------------------------------------------------
def fft2(a: Any, s: Sequence[int] | None = None, axes: Sequence[int] = (-2, -1),
         norm: str | None = None):
    return _fft("fft2", FftType.FFT, a, s, _two_axes("fft2", axes), norm)


def ifft2(a: Any, s: Sequence[int] | None = None, axes: Sequence[int] = (-2, -1),
          norm: str | None = None):
    return _fft("ifft2", FftType.IFFT, a, s, _two_axes("ifft2", axes), norm)


def rfft2(a: Any, s: Sequence[int] | None = None, axes: Sequence[int] = (-2, -1),
          norm: str | None = None):
    return _fft("rfft2", FftType.RFFT, a, s, _two_axes("rfft2", axes), norm)


def irfft2(a: Any, s: Sequence[int] | None = None, axes: Sequence[int] = (-2, -1),
           norm: str | None = None):
    return _fft("irfft2", FftType.IRFFT, a, s, _two_axes("irfft2", axes), norm)


def fftn(a: Any, s: Sequence[int] | None = None, axes: Sequence[int] | None = None,
         norm: str | None = None):
    """The DFT over ``axes`` (default: all, or the last ``len(s)``)."""
    return _fft("fftn", FftType.FFT, a, s, axes, norm)


def ifftn(a: Any, s: Sequence[int] | None = None, axes: Sequence[int] | None = None,
          norm: str | None = None):
    return _fft("ifftn", FftType.IFFT, a, s, axes, norm)


def rfftn(a: Any, s: Sequence[int] | None = None, axes: Sequence[int] | None = None,
          norm: str | None = None):
    """The DFT of a real array over ``axes``; the last one keeps n//2 + 1 frequencies."""
    return _fft("rfftn", FftType.RFFT, a, s, axes, norm)


def irfftn(a: Any, s: Sequence[int] | None = None, axes: Sequence[int] | None = None,
           norm: str | None = None):
    """The inverse of ``rfftn``; ``s`` gives the real output's lengths."""
    return _fft("irfftn", FftType.IRFFT, a, s, axes, norm)


# -- frequencies and shifts ------------------------------------------------------------------
def _check_length(name: str, n: Any) -> int:
    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError(f"functorch_lite.numpy.fft.{name}: n must be an integer, got "
                        f"{n!r}") from None
    if n <= 0:
        raise ValueError(f"functorch_lite.numpy.fft.{name}: n must be positive, got {n}")
    return n


def fftfreq(n: int, d: Any = 1.0, *, dtype: Any = None, device: Any = None):
    """The sample frequencies of an ``fft`` of length ``n`` with sample spacing ``d``:
    ``[0, 1, ..., -(n // 2), ..., -1] / (d * n)``."""
    n = _check_length("fftfreq", n)
    k = np.concatenate([np.arange((n + 1) // 2), np.arange(-(n // 2), 0)])
    return asarray(k, dtype=dtype or np.float32) / (d * n)


def rfftfreq(n: int, d: Any = 1.0, *, dtype: Any = None, device: Any = None):
    """The sample frequencies of an ``rfft`` of length ``n``: ``[0, ..., n // 2] / (d * n)``."""
    n = _check_length("rfftfreq", n)
    return asarray(np.arange(n // 2 + 1), dtype=dtype or np.float32) / (d * n)


def _shift(name: str, x: Any, axes, sign: int):
    check_arraylike(f"functorch_lite.numpy.fft.{name}", x)
    x = asarray(x)
    if axes is None:
        axes = tuple(range(x.ndim))
    elif isinstance(axes, int):
        axes = (axes,)
    shifts = [sign * (x.shape[ax] // 2) for ax in axes]
    return roll(x, shifts, axes)


def fftshift(x: Any, axes: int | Sequence[int] | None = None):
    """Move the zero frequency to the middle of ``axes`` (all by default)."""
    return _shift("fftshift", x, axes, 1)


def ifftshift(x: Any, axes: int | Sequence[int] | None = None):
    """The inverse of ``fftshift``."""
    return _shift("ifftshift", x, axes, -1)
