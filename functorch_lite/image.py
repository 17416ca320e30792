"""``functorch_lite.image`` (as ``jax.image``): resampling of images of any rank.

``resize`` and ``scale_and_translate`` are separable: along each resampled dimension an
``(input size, output size)`` weight matrix is built from a 1-D kernel evaluated at the
distance between every output sample position and every input pixel centre, and the image
is contracted with it by one matrix product. The weights are ordinary ``functorch_lite``
arrays, so the result is differentiable in the image and, for ``scale_and_translate``, in
a traced ``scale`` and ``translation``.

Pixel ``j`` of the input covers ``[j, j + 1)`` and is centred at ``j + 0.5``; an output
pixel centred at ``c`` samples the input at ``(c - translation) / scale``. When an axis
shrinks (``scale < 1``) and ``antialias`` is on, the kernel is stretched by ``1 / scale``
so that it also low-pass filters. Each output column of weights is normalised to sum to
one, and output pixels whose sample falls outside the input get zero.

``nearest`` is special: it only gathers (no arithmetic), keeps the input dtype and is
offered by ``resize`` alone, as in JAX.
"""
from __future__ import annotations

import enum
import functools
import operator
from typing import Any, Callable, Sequence

import numpy as np

from functorch_lite.api import jit
from functorch_lite.core.avals import get_aval
from functorch_lite.lax import Precision
from functorch_lite.numpy import _util
import functorch_lite.numpy as fnp

__all__ = ["ResizeMethod", "resize", "scale_and_translate"]


class _ArgumentValueError(ValueError, AssertionError):
    # JAX reports these mistakes through a bare internal ``assert``; deriving from both
    # keeps ported ``except AssertionError`` handlers working while giving a real message.
    pass


class _ArgumentTypeError(TypeError, AssertionError):
    pass


class ResizeMethod(enum.Enum):
    """The resampling kernels of :func:`resize` and :func:`scale_and_translate`.

    ``NEAREST`` picks the input pixel whose extent holds the sample; ``LINEAR`` is the
    triangle ("tent") kernel; ``LANCZOS3``/``LANCZOS5`` are windowed sincs of radius 3 and
    5; ``CUBIC`` is Keys' cubic convolution with ``a = -0.5``; ``CUBIC_PYTORCH`` is the
    ``a = -0.75`` cubic with replicated edges that PyTorch uses without antialiasing (with
    antialiasing it is ``CUBIC``); ``AREA`` averages the input pixels each output pixel
    overlaps, weighted by the overlap length.

    >>> ResizeMethod.from_string("bilinear")
    <ResizeMethod.LINEAR: 1>
    """

    NEAREST = 0
    LINEAR = 1
    LANCZOS3 = 2
    LANCZOS5 = 3
    CUBIC = 4
    CUBIC_PYTORCH = 5
    AREA = 6

    @staticmethod
    def from_string(s: str) -> "ResizeMethod":
        """The method named by ``s`` (lower case, as JAX spells them: ``"nearest"``,
        ``"linear"``/``"bilinear"``/``"trilinear"``/``"triangle"``, ``"lanczos3"``,
        ``"lanczos5"``, ``"cubic"``/``"bicubic"``/``"tricubic"``, ``"cubic-pytorch"``/
        ``"bicubic-pytorch"``, ``"area"``).

        >>> ResizeMethod.from_string("lanczos3")
        <ResizeMethod.LANCZOS3: 2>
        """
        method = _METHOD_NAMES.get(s) if isinstance(s, str) else None
        if method is None:
            raise ValueError(f'Unknown resize method "{s}"; use one of '
                             f'{", ".join(sorted(_METHOD_NAMES))} or a ResizeMethod member')
        return method


_METHOD_NAMES = {
    "nearest": ResizeMethod.NEAREST,
    "linear": ResizeMethod.LINEAR, "bilinear": ResizeMethod.LINEAR,
    "trilinear": ResizeMethod.LINEAR, "triangle": ResizeMethod.LINEAR,
    "lanczos3": ResizeMethod.LANCZOS3, "lanczos5": ResizeMethod.LANCZOS5,
    "cubic": ResizeMethod.CUBIC, "bicubic": ResizeMethod.CUBIC, "tricubic": ResizeMethod.CUBIC,
    "cubic-pytorch": ResizeMethod.CUBIC_PYTORCH, "bicubic-pytorch": ResizeMethod.CUBIC_PYTORCH,
    "area": ResizeMethod.AREA,
}


# ---------------------------------------------------------------------------------------
# Kernels: weights as functions of the (non-negative) distance in input pixels.
# ---------------------------------------------------------------------------------------

def _triangle_kernel(x):
    return fnp.maximum(0, 1 - fnp.abs(x))


def _lanczos_kernel(radius: float, x):
    # sinc(x) * sinc(x / radius), written as one quotient. Near 0 the quotient is 0/0 (its
    # limit is 1); the inner where keeps the untaken branch finite so gradients are too.
    numerator = radius * fnp.sin(np.pi * x) * fnp.sin(np.pi * x / radius)
    quotient = numerator / fnp.where(x != 0, np.pi ** 2 * x ** 2, 1)
    return fnp.where(x > radius, 0.0, fnp.where(x > 1e-3, quotient, 1))


def _cubic_kernel(a: float, x):
    # Keys' piecewise cubic with parameter a, in Horner form: one cubic on [0, 1), another
    # on [1, 2), zero beyond. a = -0.5 is the usual choice (Pillow, TensorFlow, antialiased
    # PyTorch); PyTorch without antialiasing (like OpenCV) uses a = -0.75.
    near = ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    far = ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a
    return fnp.where(x >= 2.0, 0.0, fnp.where(x >= 1.0, far, near))


# method: (support radius in input pixels, kernel). AREA has no kernel: its weights are
# interval overlaps (_area_weights).
_KERNELS: dict[ResizeMethod, tuple[int, Callable[[Any], Any]]] = {
    ResizeMethod.LINEAR: (1, _triangle_kernel),
    ResizeMethod.LANCZOS3: (3, functools.partial(_lanczos_kernel, 3.0)),
    ResizeMethod.LANCZOS5: (5, functools.partial(_lanczos_kernel, 5.0)),
    ResizeMethod.CUBIC: (2, functools.partial(_cubic_kernel, -0.5)),
    ResizeMethod.CUBIC_PYTORCH: (2, functools.partial(_cubic_kernel, -0.75)),
}

# Columns whose weights sum to less than this have no usable input pixel.
_MIN_TOTAL_WEIGHT = 1000.0 * float(np.finfo(np.float32).eps)


# ---------------------------------------------------------------------------------------
# Weight matrices
# ---------------------------------------------------------------------------------------

def _area_weights(in_size: int, out_size: int, inv_scale, shift, dtype):
    # Output pixel i covers [i, i + 1) in output units, i.e. [left, left + 1/scale) in input
    # units; its weight on input pixel j is the length of the overlap with [j, j + 1).
    left = fnp.arange(out_size, dtype=dtype) * inv_scale - shift
    right = left + inv_scale
    pixel = fnp.arange(in_size, dtype=dtype)[:, None]
    overlap = fnp.minimum(right[None, :], pixel + 1.0) - fnp.maximum(left[None, :], pixel)
    return fnp.maximum(0.0, overlap)


def _fold_edges(weights, in_size: int, pad: int):
    # Rows for the ``pad`` virtual pixels beyond each edge stand for copies of the edge
    # pixel: add their weight onto it (the edge rows are a static pattern, so a masked add
    # does what a scatter-add would).
    inner = weights[pad:pad + in_size]
    rows = np.arange(in_size)[:, None]
    before = fnp.sum(weights[:pad], axis=0, keepdims=True)
    after = fnp.sum(weights[pad + in_size:], axis=0, keepdims=True)
    return (inner + fnp.where(rows == 0, before, 0)) + fnp.where(rows == in_size - 1, after, 0)


def _normalize_columns(weights):
    total = fnp.sum(weights, axis=0, keepdims=True)
    # The inner where keeps a zero total from producing NaNs (or NaN gradients) in the
    # branch that is not taken.
    safe = weights / fnp.where(total != 0, total, 1)
    return fnp.where(fnp.abs(total) > _MIN_TOTAL_WEIGHT, safe, 0)


def _weight_matrix(in_size: int, out_size: int, scale, translation, method: ResizeMethod,
                   antialias: bool):
    """The ``(in_size, out_size)`` matrix whose column ``i`` holds the weights of output
    pixel ``i`` on the input pixels, in the dtype of ``scale`` and ``translation`` (Python
    floats or 0-d arrays)."""
    dtype = fnp.result_type(scale, translation)
    # Python float scales (from resize) stay Python floats here, so 1 / scale is rounded
    # once from double precision, as in JAX.
    inv_scale = 1.0 / scale
    shift = translation * inv_scale
    # Output pixel centres mapped back into input index units (pixel j has its centre at
    # j + 0.5 in both images, hence the two half-pixel shifts).
    sample = (fnp.arange(out_size, dtype=dtype) + 0.5) * inv_scale - shift - 0.5
    if method is ResizeMethod.AREA:
        weights = _area_weights(in_size, out_size, inv_scale, shift, dtype)
    else:
        radius, kernel = _KERNELS[method]
        # Replicated edges exist only for the PyTorch cubic without antialiasing (with
        # antialiasing that method has become CUBIC before we get here).
        pad = radius if method is ResizeMethod.CUBIC_PYTORCH else 0
        # Only shrinking widens the kernel: enlarging interpolates and needs no filtering.
        stretch = fnp.maximum(inv_scale, 1.0) if antialias else 1.0
        taps = fnp.arange(-pad, in_size + pad, dtype=dtype)
        weights = kernel(fnp.abs(sample[None, :] - taps[:, None]) / stretch)
        if pad:
            # Samples beyond the edge read the replicated edge pixels: nothing is black.
            return _normalize_columns(_fold_edges(weights, in_size, pad))
    weights = _normalize_columns(weights)
    # Samples that land outside the input (by more than half a pixel) give black pixels.
    inside = (sample >= -0.5) & (sample <= in_size - 0.5)
    return fnp.where(inside[None, :], weights, 0)


def _apply_weights(image, out_shape: tuple, spatial_dims: tuple, scales, translations,
                   method: ResizeMethod, antialias: bool, precision):
    """Resample ``image`` (already inexact) along each of ``spatial_dims`` in turn."""
    if method is ResizeMethod.CUBIC_PYTORCH and antialias:
        method = ResizeMethod.CUBIC
    for k, d in enumerate(spatial_dims):
        in_size = get_aval(image).shape[d]
        weights = _weight_matrix(in_size, out_shape[d], scales[k], translations[k], method,
                                 antialias).astype(get_aval(image).dtype)
        # The contracted axis comes back last; move it to where the old one was.
        image = fnp.tensordot(image, weights, axes=([d], [0]), precision=precision)
        image = fnp.moveaxis(image, -1, d)
    return image


# ---------------------------------------------------------------------------------------
# Argument checks (shared by both entry points; they run before tracing)
# ---------------------------------------------------------------------------------------

def _canonical_shape(shape: Any) -> tuple:
    try:
        sizes = tuple(operator.index(s) for s in shape)
    except TypeError:
        raise TypeError(f"Shapes must be 1D sequences of concrete values of integer type, got "
                        f"{shape!r}; pass the output shape as a tuple of Python ints") from None
    if any(s < 0 for s in sizes):
        raise ValueError(f"output shape {sizes} has a negative size; sizes must be >= 0")
    return sizes


def _check_shape_rank(name: str, shape: tuple, image) -> None:
    if len(shape) != fnp.ndim(image):
        raise ValueError(f"{name}: shape must have length equal to the number of dimensions "
                         f"of the image; got shape {shape} for an image of shape "
                         f"{fnp.shape(image)} (give every dimension a size, repeating the "
                         f"size of batch and channel dimensions)")


def _canonical_method(method: Any) -> ResizeMethod:
    if isinstance(method, str):
        return ResizeMethod.from_string(method)
    if isinstance(method, ResizeMethod):
        return method
    raise _ArgumentTypeError(f"method must be a ResizeMethod or its name as a string, got "
                             f"{method!r} of type {type(method).__name__}")


def _hashable_precision(precision: Any) -> Any:
    # The precision is part of the compiled function's key; lists become tuples.
    return tuple(precision) if isinstance(precision, list) else precision


# ---------------------------------------------------------------------------------------
# resize
# ---------------------------------------------------------------------------------------

def _nearest_indices(in_size: int, out_size: int):
    """The input pixel holding each output pixel's centre: ``floor((i + 0.5) * in / out)``.

    Computed on the device in float32 with the same operations as JAX (not on the host,
    exactly): XLA's float32 division is not always correctly rounded, and where a centre
    falls on a pixel boundary the pixel JAX picks depends on that rounding."""
    centres = fnp.arange(out_size, dtype=np.float32) + 0.5
    return fnp.floor(centres * in_size / out_size).astype(np.int32)


@functools.partial(jit, static_argnums=(1, 2, 3, 4))
def _resize(image, shape: tuple, method: ResizeMethod, antialias: bool, precision: Any):
    in_shape = get_aval(image).shape
    # Dimensions that keep their size are left alone: every kernel interpolates, so the
    # identity warp would give the input back anyway.
    changed = tuple(d for d in range(len(shape)) if in_shape[d] != shape[d])
    if method is ResizeMethod.NEAREST:
        for d in changed:
            image = fnp.take(image, _nearest_indices(in_shape[d], shape[d]), axis=d)
        return image
    (image,) = _util.promote_dtypes_inexact("resize", image)
    scales = [float(shape[d]) / in_shape[d] if shape[d] else 1.0 for d in changed]
    return _apply_weights(image, shape, changed, scales, [0.0] * len(changed), method,
                          antialias, precision)


def resize(image: Any, shape: Sequence[int], method: str | ResizeMethod,
           antialias: bool = True, precision: Any = Precision.HIGHEST) -> Any:
    """Resample ``image`` (any rank) to ``shape``, which gives every dimension's new size.

    Dimensions whose size is unchanged (batch, channels) are copied; the others are
    resampled with ``method`` (a :class:`ResizeMethod` or its name, e.g. ``"bilinear"``,
    ``"lanczos3"``, ``"bicubic"``, ``"area"``) using half-pixel centres, so the result
    covers exactly the same extent as the input. With ``antialias`` (the default), shrinking
    widens the kernel to low-pass filter; it has no effect when enlarging. ``precision`` is
    passed to the matrix products. ``"nearest"`` keeps the input dtype (integers and
    booleans included) and ignores ``antialias``/``precision``; the other methods return a
    floating (or complex) result, promoting integers as ``jnp`` does.

    >>> resize(fnp.ones((4, 4, 3)), (8, 8, 3), "bilinear").shape
    (8, 8, 3)
    """
    _util.check_arraylike("resize", image)
    image = fnp.asarray(image)
    shape = _canonical_shape(shape)
    _check_shape_rank("resize", shape, image)
    method = _canonical_method(method)
    for d, (m, n) in enumerate(zip(fnp.shape(image), shape)):
        if m == 0 and n != 0:
            # JAX fails here too (a division by the empty size, or an out-of-range gather
            # for nearest); say why instead.
            error = TypeError if method is ResizeMethod.NEAREST else ZeroDivisionError
            raise error(f"resize: cannot resize dimension {d} from size 0 to size {n}: an "
                        f"empty dimension has no pixels to sample")
    return _resize(image, shape, method, bool(antialias), _hashable_precision(precision))


# ---------------------------------------------------------------------------------------
# scale_and_translate
# ---------------------------------------------------------------------------------------

@functools.partial(jit, static_argnums=(3, 4, 5, 6, 7))
def _scale_and_translate(image, scale, translation, shape: tuple, spatial_dims: tuple,
                         method: ResizeMethod, antialias: bool, precision: Any):
    (image,) = _util.promote_dtypes_inexact("scale_and_translate", image)
    scale, translation = _util.promote_dtypes_inexact("scale_and_translate", scale,
                                                      translation)
    scales = [scale[k] for k in range(len(spatial_dims))]
    translations = [translation[k] for k in range(len(spatial_dims))]
    return _apply_weights(image, shape, spatial_dims, scales, translations, method,
                          antialias, precision)


def _vector(name: str, value, count: int):
    value = fnp.asarray(value)
    if fnp.shape(value) != (count,):
        raise _ArgumentValueError(f"scale_and_translate: {name} must have shape ({count},), "
                                  f"one entry per spatial dimension, got shape "
                                  f"{fnp.shape(value)}")
    return value


def scale_and_translate(image: Any, shape: Sequence[int], spatial_dims: Sequence[int],
                        scale: Any, translation: Any, method: str | ResizeMethod,
                        antialias: bool = True, precision: Any = Precision.HIGHEST) -> Any:
    """Resample ``image`` under the warp ``x -> x * scale + translation`` along each of the
    K ``spatial_dims``.

    ``scale`` and ``translation`` have shape ``(K,)`` (one entry per spatial dimension, in
    pixels of the input; they may be traced and are differentiable). Pixel centres sit at
    ``index + 0.5``; output pixels whose pre-image lies outside the input are zero. The
    output takes the sizes in ``shape`` for the spatial dimensions and keeps the input's
    sizes elsewhere (as JAX does, the other entries of ``shape`` are not used). ``method``
    is any :class:`ResizeMethod` but ``NEAREST``; ``antialias`` widens the kernel when a
    dimension shrinks; ``precision`` goes to the matrix products. The image is promoted to
    an inexact dtype.

    >>> scale_and_translate(fnp.ones((4, 4)), (8, 8), (0, 1), fnp.array([2.0, 2.0]),
    ...                     fnp.array([0.0, 0.0]), "linear").shape
    (8, 8)
    """
    _util.check_arraylike("scale_and_translate", image, scale, translation)
    image = fnp.asarray(image)
    shape = _canonical_shape(shape)
    _check_shape_rank("scale_and_translate", shape, image)
    method = _canonical_method(method)
    if method is ResizeMethod.NEAREST:
        raise ValueError("Nearest neighbor resampling is not currently supported for "
                         "scale_and_translate; use another method, or resize(..., "
                         "'nearest') for a plain resize")
    ndim = fnp.ndim(image)
    dims = tuple(_util.normalize_axis("scale_and_translate", d, ndim) for d in spatial_dims)
    if len(set(dims)) != len(dims):
        raise ValueError(f"scale_and_translate: spatial_dims {tuple(spatial_dims)} repeat a "
                         f"dimension; list each spatial dimension once")
    scale = _vector("scale", scale, len(dims))
    translation = _vector("translation", translation, len(dims))
    in_shape = fnp.shape(image)
    # Only the spatial dimensions take their size from ``shape``.
    out_shape = tuple(shape[d] if d in dims else in_shape[d] for d in range(ndim))
    if not dims:
        (image,) = _util.promote_dtypes_inexact("scale_and_translate", image)
        return image
    return _scale_and_translate(image, scale, translation, out_shape, dims, method,
                                bool(antialias), _hashable_precision(precision))
