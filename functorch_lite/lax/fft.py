"""Fast Fourier transforms: ``fft_p`` over the 1 to 3 innermost dimensions of an array (what
XLA's FFT op does), of one of four kinds (``FftType``):

    FFT    complex -> complex                      forward DFT, no scaling
    IFFT   complex -> complex                      inverse DFT, scaled by 1/N
    RFFT   real -> complex, last dim n -> n//2+1   forward DFT of a real array
    IRFFT  complex -> real, last dim n//2+1 -> n   inverse of RFFT (Hermitian symmetry)

``fft_lengths`` are the transform lengths (for IRFFT, the real output's). The transform
is linear, so its jvp applies it to the tangent; ``functorch_lite.numpy.fft`` builds the
NumPy API (axes, ``n``/``s``, ``norm``) on it.
"""
from __future__ import annotations

import enum
import math
from typing import Any, Sequence

import numpy as np

from functorch_lite.core import dtypes
from functorch_lite.core.avals import ShapedArray, get_aval
from functorch_lite.core.primitive import Primitive
from functorch_lite.interpreters import ad, batching
from functorch_lite.lax._common import as_operand
from functorch_lite.lax.elementwise import conj, convert_element_type, mul, real
from functorch_lite.lax.shapes import broadcast_in_dim, pad

__all__ = ["FftType", "fft"]


class FftType(enum.IntEnum):
    """The kind of transform (JAX's ``lax.FftType``)."""
    FFT = 0
    IFFT = 1
    RFFT = 2
    IRFFT = 3


def _fft_type(t: Any) -> FftType:
    if isinstance(t, FftType):
        return t
    if isinstance(t, str):
        try:
            return FftType[t.upper()]
        except KeyError:
            raise ValueError(f"Unknown FFT type '{t}'") from None
    raise TypeError(f"Unknown FFT type value '{t}'")


def complex_dtype(dt) -> np.dtype:
    """complex64 for float32 and narrower, complex128 for float64 (complex stays)."""
    dt = np.dtype(dt)
    if dtypes.is_complex(dt):
        return dt
    return np.dtype(np.complex128 if dt == np.float64 else np.complex64)


def real_dtype(dt) -> np.dtype:
    return np.dtype(np.float64 if np.dtype(dt) == np.complex128 else np.float32)


fft_p = Primitive("fft")


@fft_p.def_shape
def _fft_shape(x: ShapedArray, *, fft_type: FftType, fft_lengths: tuple):
    k = len(fft_lengths)
    if not 1 <= k <= 3:
        raise ValueError(f"fft: fft_lengths must name 1 to 3 dimensions (what XLA "
                         f"transforms), got {fft_lengths}")
    if x.ndim < k:
        raise ValueError(f"FFT input shape {x.shape} must have at least as many input "
                         f"dimensions as fft_lengths {fft_lengths}.")
    minor = x.shape[x.ndim - k:]
    if fft_type == FftType.RFFT:
        if x.dtype not in (np.float32, np.float64):
            raise ValueError(f"RFFT input must be float32 or float64, got {x.dtype}")
        expected, out_dtype = tuple(fft_lengths), complex_dtype(x.dtype)
        out_shape = x.shape[:-1] + (fft_lengths[-1] // 2 + 1,)
    elif fft_type == FftType.IRFFT:
        if not dtypes.is_complex(x.dtype):
            raise ValueError(f"IRFFT input must be complex64 or complex128, got {x.dtype}")
        expected = tuple(fft_lengths[:-1]) + (fft_lengths[-1] // 2 + 1,)
        out_dtype = real_dtype(x.dtype)
        out_shape = x.shape[:-1] + (fft_lengths[-1],)
    else:
        if not dtypes.is_complex(x.dtype):
            raise ValueError(f"FFT input must be complex64 or complex128, got {x.dtype}")
        expected, out_dtype, out_shape = tuple(fft_lengths), x.dtype, x.shape
    if minor != expected:
        raise ValueError(f"{fft_type.name} input shape {x.shape} minor dimensions must be "
                         f"{expected} for fft_lengths {tuple(fft_lengths)}")
    return ShapedArray(out_shape, out_dtype, False)


def fft(x: Any, fft_type: FftType | str, fft_lengths: Sequence[int]):
    """The transform of kind ``fft_type`` (an ``FftType`` or 'fft', 'ifft', 'rfft',
    'irfft') over the ``len(fft_lengths)`` innermost dimensions of ``x``. Integer and
    real inputs are converted as the kind needs (complex for FFT, IFFT and IRFFT)."""
    kind = _fft_type(fft_type)
    x = as_operand(x)
    dt = get_aval(x).dtype
    if kind == FftType.RFFT:
        if dtypes.is_complex(dt):
            raise ValueError("only real valued inputs supported for rfft")
        if not dtypes.is_float(dt) or dt.itemsize < 4:  # XLA transforms f32 and f64
            x = convert_element_type(x, np.float64 if dt == np.float64 else np.float32)
    elif not dtypes.is_complex(dt):
        x = convert_element_type(x, complex_dtype(dt))
    lengths = tuple(int(n) for n in fft_lengths)
    return fft_p.bind(x, fft_type=kind, fft_lengths=lengths)


def _rfft_transpose(ct, fft_lengths):
    # RFFT = (keep the first n//2+1 entries of the last axis) . FFT . (real -> complex):
    # transposed, pad the cotangent back to n with zeros, FFT it (the DFT matrix is
    # symmetric) and keep the real part (the transpose of the real -> complex embedding).
    n = fft_lengths[-1]
    config = [(0, 0, 0)] * (ct.ndim - 1) + [(0, n - ct.shape[-1], 0)]
    full = pad(ct, np.zeros((), ct.dtype), config)
    return real(fft_p.bind(full, fft_type=FftType.FFT, fft_lengths=fft_lengths))


def _irfft_transpose(ct, fft_lengths):
    # IRFFT reads each stored frequency k of the last axis twice (k and n - k), except 0
    # and, for even n, the Nyquist frequency n/2; with the 1/N scaling of the inverse,
    # its transpose is conj(weights / N * RFFT(ct)) (JAX's convention for complex inputs).
    spectrum = fft_p.bind(ct, fft_type=FftType.RFFT, fft_lengths=fft_lengths)
    m, n = spectrum.shape[-1], fft_lengths[-1]
    weights = np.full(m, 2.0)
    weights[0] = 1.0
    if n % 2 == 0:
        weights[-1] = 1.0
    weights = (weights / math.prod(fft_lengths)).astype(spectrum.dtype)
    scaled = mul(spectrum, broadcast_in_dim(weights, spectrum.shape, (spectrum.ndim - 1,)))
    return conj(scaled)


def _fft_transpose(ct, x, *, fft_type, fft_lengths):
    if type(ct) is ad.Zero:
        return [None]
    if fft_type == FftType.RFFT:
        return [_rfft_transpose(ct, fft_lengths)]
    if fft_type == FftType.IRFFT:
        return [_irfft_transpose(ct, fft_lengths)]
    # The DFT matrix, and the inverse's, is symmetric: each is its own transpose.
    return [fft_p.bind(ct, fft_type=fft_type, fft_lengths=fft_lengths)]


# Linear: the jvp transforms the tangent.
ad.deflinear(fft_p, _fft_transpose)


@fft_p.def_batch
def _fft_batch(axis, args, dims, *, fft_type, fft_lengths):
    # The transform acts on the innermost dimensions: keep the batch at the front.
    (x,), (d,) = args, dims
    x = batching.bdim_at_front(x, d, axis.size)
    return fft_p.bind(x, fft_type=fft_type, fft_lengths=fft_lengths), 0
