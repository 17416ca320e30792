"""``functorch_lite.scipy.fft``: the type-2 discrete cosine transform and its inverse, as
``jax.scipy.fft`` (``dct``, ``idct``, ``dctn``, ``idctn``).

Only type 2 exists here, as in JAX; ``norm`` is None/"backward" (SciPy's unnormalised
DCT-II, ``X[k] = 2 sum_n x[n] cos(pi k (2n + 1) / 2N)``) or "ortho" (the orthonormal one).
Both run on one complex FFT of the same length (Makhoul's reordering): the even-indexed
samples followed by the odd-indexed ones reversed, transformed, and rotated by a quarter
sample. The N-dimensional forms apply the 1-D transform along each axis in turn (the
transform is separable). Complex inputs transform their real and imaginary parts apart.
"""
from __future__ import annotations

import operator
from typing import Any, Sequence

import numpy as np

from functorch_lite import lax
from functorch_lite.core import dtypes
from functorch_lite.numpy import _util
from functorch_lite.numpy import fft as _fft
from functorch_lite.numpy._eager import compiled_when_eager
from functorch_lite.numpy.creation import asarray
from functorch_lite.numpy.indexing import take

__all__ = ["dct", "dctn", "idct", "idctn"]


def _check_type_norm(name: str, type: int, norm: str | None) -> None:
    if type != 2:
        raise NotImplementedError(f"{name}: only DCT type 2 is implemented, got type={type!r}; "
                                  "use type=2.")
    if norm not in (None, "backward", "ortho"):
        raise ValueError(f"{name}: norm={norm!r} is not implemented; use None, 'backward' "
                         "or 'ortho'.")


def _inexact(name: str, x: Any):
    _util.check_arraylike(name, x)
    (x,) = _util.promote_dtypes_inexact(name, asarray(x))
    return x


def _resize(x, axis: int, n: int | None):
    """``x`` cut or zero-padded at the end of ``axis`` to length ``n``."""
    if n is None or n == x.shape[axis]:
        return x
    n = operator.index(n)
    if n < 1:
        raise ValueError(f"invalid number of data points ({n}) specified; it must be "
                         "at least 1.")
    config = [(0, n - x.shape[axis] if a == axis else 0, 0) for a in range(x.ndim)]
    return lax.pad(x, lax.full((), 0, x.dtype), config)


def _along(v, axis: int, ndim: int):
    """A 1-D constant shaped to broadcast along ``axis`` of a rank-``ndim`` array."""
    shape = [1] * ndim
    shape[axis] = v.shape[0]
    return v.reshape(shape)


def _split_complex(fn, x, *args):
    """``fn`` of a complex ``x``: the transforms are real-linear, so the real and
    imaginary parts go through apart."""
    return lax.complex(fn(lax.real(x), *args), fn(lax.imag(x), *args))


def _dct_axis(x, axis: int, norm: str | None):
    """The real DCT-II of ``x`` along ``axis``."""
    if dtypes.is_complex(x.dtype):
        return _split_complex(_dct_axis, x, axis, norm)
    n = x.shape[axis]
    # Evens ascending then odds descending: the FFT of this reordering, turned by a
    # quarter sample, has the cosine transform as its real part.
    order = np.concatenate([np.arange(0, n, 2), np.arange(n - 1 - n % 2, 0, -2)])
    spectrum = _fft.fft(take(x, order, axis=axis), axis=axis)
    k = np.arange(n)
    scale = np.full(n, 2.0)
    if norm == "ortho":
        scale /= np.sqrt(2.0 * n)
        scale[0] /= np.sqrt(2.0)
    twiddle = (scale * np.exp(-0.5j * np.pi * k / n)).astype(spectrum.dtype)
    return lax.real(spectrum * _along(twiddle, axis, x.ndim))


def _idct_axis(x, axis: int, norm: str | None):
    """The inverse of ``_dct_axis`` along ``axis`` (a scaled DCT-III)."""
    if dtypes.is_complex(x.dtype):
        return _split_complex(_idct_axis, x, axis, norm)
    n = x.shape[axis]
    # Undo the quarter-sample turn; the real part of the inverse FFT symmetrises the
    # spectrum, which then inverts the reordering's FFT. The DC term counts half (and
    # "ortho" scaled it by a further 1/sqrt(2)).
    weight = np.ones(n)
    weight[0] = 0.5
    if norm == "ortho":
        weight *= np.sqrt(2.0 * n)
        weight[0] *= np.sqrt(2.0)
    twiddle = weight * np.exp(0.5j * np.pi * np.arange(n) / n)
    cdtype = np.dtype(np.complex128 if x.dtype == np.float64 else np.complex64)
    spectrum = lax.convert_element_type(x, cdtype) * _along(twiddle.astype(cdtype), axis, x.ndim)
    v = lax.real(_fft.ifft(spectrum, axis=axis))
    # Position 2m holds v[m], position 2m + 1 holds v[n - 1 - m].
    m = np.arange(n)
    order = np.where(m % 2 == 0, m // 2, n - 1 - m // 2)
    return take(v, order, axis=axis)


@compiled_when_eager(arrays=1)
def _dct_body(x, n, axis, norm, inverse):
    x = _resize(x, axis, n)
    return (_idct_axis if inverse else _dct_axis)(x, axis, norm)


@compiled_when_eager(arrays=1)
def _dctn_body(x, sizes, axes, norm, inverse):
    for axis, n in zip(axes, sizes):
        x = _resize(x, axis, n)
    for axis in axes:
        x = (_idct_axis if inverse else _dct_axis)(x, axis, norm)
    return x


def _one(name: str, x, type, n, axis, norm, inverse: bool):
    _check_type_norm(name, type, norm)
    x = _inexact(name, x)
    (axis,) = _util.canonical_axis(name, operator.index(axis), x.ndim)
    if n is not None:
        n = operator.index(n)
        if n < 1:
            raise ValueError(f"{name}: invalid number of data points ({n}) specified; it "
                             "must be at least 1.")
    return _dct_body(x, n, axis, norm, inverse)


def _many(name: str, x, type, s, axes, norm, inverse: bool):
    _check_type_norm(name, type, norm)
    x = _inexact(name, x)
    if s is not None:
        s = [operator.index(s)] if np.ndim(s) == 0 else [operator.index(v) for v in s]
        if len(s) > x.ndim:
            raise ValueError(f"{name}: s must have at most x.ndim ({x.ndim}) elements, got "
                             f"{len(s)}.")
        if any(v < 1 for v in s):
            raise ValueError(f"{name}: invalid number of data points in s={tuple(s)}; each "
                             "must be at least 1.")
    if axes is None:
        axes = tuple(range(x.ndim - len(s), x.ndim)) if s is not None else tuple(range(x.ndim))
    else:
        axes = (axes,) if np.ndim(axes) == 0 else tuple(axes)
        axes = tuple(_util.normalize_axis(name, a, x.ndim) for a in axes)
        if len(set(axes)) != len(axes):
            raise ValueError(f"{name}: repeated axis in axes={axes}; name each axis once.")
    # Like JAX, sizes pair with axes as far as both go.
    sizes = tuple(s[:len(axes)]) + (None,) * max(0, len(axes) - len(s)) if s is not None \
        else (None,) * len(axes)
    return _dctn_body(x, sizes, axes, norm, inverse)


def dct(x: Any, type: int = 2, n: int | None = None, axis: int = -1,
        norm: str | None = None):
    """The type-2 discrete cosine transform of ``x`` along ``axis``, as
    ``jax.scipy.fft.dct``.

    ``n`` crops or zero-pads that axis first; the result has ``x``'s shape with ``n`` there,
    in ``x``'s inexact dtype (integers become the default float; complex stays complex).

    >>> dct(fnp.array([1.0, 2.0, 3.0]))          # [12., -3.4641016, 0.]
    """
    return _one("dct", x, type, n, axis, norm, inverse=False)


def idct(x: Any, type: int = 2, n: int | None = None, axis: int = -1,
         norm: str | None = None):
    """The inverse of the type-2 DCT along ``axis`` (a scaled type-3 DCT), as
    ``jax.scipy.fft.idct``: ``idct(dct(x)) == x`` for the same ``norm``.

    ``n`` crops or zero-pads that axis first; shapes and dtypes as :func:`dct`.

    >>> idct(dct(fnp.array([1.0, 2.0, 3.0])))    # [1., 2., 3.]
    """
    return _one("idct", x, type, n, axis, norm, inverse=True)


def dctn(x: Any, type: int = 2, s: Sequence[int] | None = None,
         axes: Sequence[int] | None = None, norm: str | None = None):
    """The type-2 DCT over several axes, as ``jax.scipy.fft.dctn``.

    ``axes`` defaults to the last ``len(s)`` axes, or all of them; ``s`` gives their
    lengths after cropping or zero-padding.

    >>> dctn(fnp.ones((2, 2)))                   # [[16., 0.], [0., 0.]]
    """
    return _many("dctn", x, type, s, axes, norm, inverse=False)


def idctn(x: Any, type: int = 2, s: Sequence[int] | None = None,
          axes: Sequence[int] | None = None, norm: str | None = None):
    """The inverse of :func:`dctn` over several axes, as ``jax.scipy.fft.idctn``.

    ``s`` and ``axes`` as in :func:`dctn`.

    >>> idctn(dctn(fnp.ones((2, 2))))            # [[1., 1.], [1., 1.]]
    """
    return _many("idctn", x, type, s, axes, norm, inverse=True)
