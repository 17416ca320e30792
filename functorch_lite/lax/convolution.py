"""Convolutions: ``conv_general_dilated`` and its convenience wrappers.

A convolution slides a kernel (``rhs``) over the spatial dimensions of an input (``lhs``).
Each operand's dimensions have roles, described by :class:`ConvDimensionNumbers`:

* ``lhs_spec = (batch, feature, spatial...)`` dimension numbers of the input,
* ``rhs_spec = (out_feature, in_feature, spatial...)`` of the kernel,
* ``out_spec = (batch, feature, spatial...)`` of the result.

Spatial dimensions correspond by position in these tuples. ``window_strides`` step the
kernel, ``padding`` adds ``(lo, hi)`` zeros around each (possibly ``lhs_dilation``-dilated)
input spatial dimension (negative padding crops), ``rhs_dilation`` spreads the kernel out
("atrous" convolution). ``feature_group_count = G`` splits input and output features into
G independent groups (``G = C`` is a depthwise convolution); ``batch_group_count = G``
splits the batch into G groups, each convolved with its own slice of output features.
"""
from __future__ import annotations

import operator
from typing import Any, NamedTuple, Sequence

import numpy as np

from functorch_lite.core import dtypes
from functorch_lite.core.avals import ShapedArray, get_aval
from functorch_lite.core.primitive import Primitive
from functorch_lite.interpreters import ad
from functorch_lite.interpreters.transpose import is_undefined
from functorch_lite.lax._common import as_operand
from functorch_lite.lax.elementwise import convert_element_type
from functorch_lite.lax.linalg import (Precision, canonicalize_precision,
                                       canonicalize_preferred_type, cast_cotangent)
from functorch_lite.lax.shapes import full, reshape, rev, transpose

__all__ = ["ConvDimensionNumbers", "conv_dimension_numbers", "conv_general_dilated",
           "conv", "conv_with_general_padding", "padtype_to_pads", "conv_general_dilated_p"]


class ConvDimensionNumbers(NamedTuple):
    """Roles of each operand's dimensions: ``lhs_spec = (batch, feature, spatial...)``,
    ``rhs_spec = (out_feature, in_feature, spatial...)``, ``out_spec = (batch, feature,
    spatial...)``, each a tuple of dimension numbers."""
    lhs_spec: tuple
    rhs_spec: tuple
    out_spec: tuple


# ---------------------------------------------------------------------------------------
# argument helpers (also used by the windowed reductions)

def padtype_to_pads(in_shape: Sequence[int], window_shape: Sequence[int],
                    window_strides: Sequence[int], padding: str) -> list[tuple[int, int]]:
    """Explicit ``(lo, hi)`` pads for a padding name.

    ``'VALID'``: no padding. ``'SAME'``: enough padding that the output has
    ``ceil(in / stride)`` elements, split evenly with the odd element at the end;
    ``'SAME_LOWER'``: the same with the odd element at the start.
    Example: ``padtype_to_pads((5, 6), (3, 2), (1, 2), 'SAME')`` is ``[(1, 1), (0, 0)]``."""
    kind = padding.upper() if isinstance(padding, str) else None
    if kind not in ("VALID", "SAME", "SAME_LOWER"):
        raise ValueError(f"unknown padding {padding!r}: expected 'VALID', 'SAME', "
                         "'SAME_LOWER' or a sequence of (low, high) pairs")
    if kind == "VALID":
        return [(0, 0)] * len(in_shape)
    pads = []
    for d, w, s in zip(in_shape, window_shape, window_strides):
        out = -(-int(d) // int(s))
        total = max((out - 1) * int(s) + int(w) - int(d), 0)
        small, big = total // 2, total - total // 2
        pads.append((small, big) if kind == "SAME" else (big, small))
    return pads


def int_tuple(name: str, what: str, values: Any, n: int | None = None) -> tuple:
    """``values`` as a tuple of ints (``n`` ones when it is None and ``n`` is given)."""
    if values is None and n is not None:
        return (1,) * n
    if isinstance(values, (int, np.integer)) and not isinstance(values, bool):
        values = (values,)
    try:
        return tuple(operator.index(v) for v in values)
    except TypeError:
        raise TypeError(f"{name}: {what} must be a sequence of integers, got {values!r}") \
            from None


def pad_pairs(name: str, padding: Any) -> tuple:
    try:
        pairs = tuple((operator.index(lo), operator.index(hi)) for lo, hi in padding)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: padding must be a string ('SAME', 'SAME_LOWER', 'VALID') "
                        f"or a sequence of (low, high) integer pairs, got {padding!r}") \
            from None
    return pairs


def dilate_dim(d: int, dilation: int) -> int:
    """Size of ``d`` elements with ``dilation - 1`` holes inserted between neighbours."""
    return 0 if d == 0 else 1 + dilation * (d - 1)


def strided_count(size: int, window: int, stride: int) -> int:
    """Number of windows of ``window`` elements, ``stride`` apart, that fit in ``size``."""
    return max(0, (size - window) // stride + 1)


# ---------------------------------------------------------------------------------------
# dimension numbers

def _spec_from_string(spec: str, pair: tuple[str, str], spatial_order: str) -> tuple:
    spatial = sorted((i for i, c in enumerate(spec) if c not in pair),
                     key=lambda i: spatial_order.index(spec[i]))
    return (spec.index(pair[0]), spec.index(pair[1])) + tuple(spatial)


def conv_dimension_numbers(lhs_shape: Sequence[int], rhs_shape: Sequence[int],
                           dimension_numbers: Any) -> ConvDimensionNumbers:
    """Turn ``None``, a triple of layout strings or a ``ConvDimensionNumbers`` into a
    ``ConvDimensionNumbers`` of int tuples.

    ``None`` means ``('NCHW', 'OIHW', 'NCHW')`` (any number of spatial dimensions).
    In the strings, ``N`` is the batch, ``C`` the feature, ``O``/``I`` the kernel's
    output/input features, and any other distinct letters the spatial dimensions, matched
    between the three strings by letter; spatial dimensions are ordered as in the kernel
    string. Example: ``conv_dimension_numbers((1, 5, 5, 3), (2, 2, 3, 8), ('NHWC', 'HWIO',
    'NHWC'))`` is ``ConvDimensionNumbers((0, 3, 1, 2), (3, 2, 0, 1), (0, 3, 1, 2))``."""
    name = "conv_general_dilated"
    if len(lhs_shape) != len(rhs_shape):
        raise TypeError(f"{name}: lhs and rhs must have the same rank, got shapes "
                        f"{tuple(lhs_shape)} and {tuple(rhs_shape)}")
    ndim = len(lhs_shape)
    if isinstance(dimension_numbers, ConvDimensionNumbers):
        return ConvDimensionNumbers(*(int_tuple(name, "dimension_numbers", s)
                                      for s in dimension_numbers))
    if dimension_numbers is None:
        iota = tuple(range(ndim))
        return ConvDimensionNumbers(iota, iota, iota)
    if not (isinstance(dimension_numbers, (tuple, list)) and len(dimension_numbers) == 3
            and all(isinstance(s, str) for s in dimension_numbers)):
        raise TypeError(f"{name}: dimension_numbers must be None, a ConvDimensionNumbers or "
                        f"three layout strings such as ('NHWC', 'HWIO', 'NHWC'), got "
                        f"{dimension_numbers!r}")
    lhs_s, rhs_s, out_s = dimension_numbers
    pairs = (("N", "C"), ("O", "I"), ("N", "C"))
    for spec, pair in zip(dimension_numbers, pairs):
        if len(spec) != ndim:
            raise TypeError(f"{name}: layout string {spec!r} has {len(spec)} letters but the "
                            f"operands have rank {ndim}")
        if len(set(spec)) != len(spec):
            raise TypeError(f"{name}: layout string {spec!r} repeats a letter")
        if any(spec.count(c) != 1 for c in pair):
            raise TypeError(f"{name}: layout string {spec!r} must contain each of "
                            f"{pair[0]!r} and {pair[1]!r} exactly once")
    spatial = [set(s) - set(p) for s, p in zip(dimension_numbers, pairs)]
    if not spatial[0] == spatial[1] == spatial[2]:
        raise TypeError(f"{name}: layout strings {tuple(dimension_numbers)} must name the "
                        "same spatial dimensions")
    return ConvDimensionNumbers(*(_spec_from_string(s, p, rhs_s)
                                  for s, p in zip(dimension_numbers, pairs)))


# ---------------------------------------------------------------------------------------
# the primitive

conv_general_dilated_p = Primitive("conv_general_dilated")


def _check_preferred(name: str, dt: np.dtype, preferred) -> np.dtype:
    """Which accumulation types may replace the input type ``dt``."""
    if preferred is None or preferred == dt:
        return dt
    preferred = np.dtype(preferred)

    def kind(t):
        return ("int" if dtypes.is_int(t) else "float" if dtypes.is_float(t) else
                "complex" if dtypes.is_complex(t) else "bool")
    if not (kind(dt) == "int" and kind(preferred) == "float"):
        if kind(dt) != "bool" and kind(dt) != kind(preferred):
            raise TypeError(f"{name}: preferred_element_type {_n(preferred)} is incompatible "
                            f"with {_n(dt)} inputs (allowed: integer -> integer, integer -> "
                            f"floating, floating -> floating, complex -> complex)")
        if dtypes.is_int(dt) and not dtypes.is_unsigned(dt) and \
                not (dtypes.is_int(preferred) and not dtypes.is_unsigned(preferred)):
            raise TypeError(f"{name}: preferred_element_type {_n(preferred)} must be signed "
                            f"like the {_n(dt)} inputs")
    if preferred.itemsize < dt.itemsize:
        raise TypeError(f"{name}: preferred_element_type {_n(preferred)} must not be "
                        f"narrower than the input type {_n(dt)}")
    return preferred


def _n(dt) -> str:
    return dtypes.to_numpy_dtype_name(dt)


def _check_conv_params(name, lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation,
                       dimension_numbers, feature_group_count, batch_group_count) -> None:
    """The checks of conv_general_dilated's params that need no operand sizes."""
    ndim, n = lhs.ndim, lhs.ndim - 2
    if not isinstance(dimension_numbers, ConvDimensionNumbers):
        raise TypeError(f"{name}: dimension_numbers param must be a ConvDimensionNumbers, "
                        f"got {dimension_numbers!r}")
    for what, spec in zip(("lhs_spec", "rhs_spec", "out_spec"), dimension_numbers):
        if sorted(spec) != list(range(ndim)):
            raise ValueError(f"{name}: dimension_numbers.{what} = {tuple(spec)} must be a "
                             f"permutation of the {ndim} dimensions of the operands")
    for what, values in (("window_strides", window_strides), ("padding", padding),
                         ("lhs_dilation", lhs_dilation), ("rhs_dilation", rhs_dilation)):
        if len(values) != n:
            raise ValueError(f"{name}: {what} has {len(values)} entries but the operands "
                             f"(shapes {lhs.shape} and {rhs.shape}) have {n} spatial "
                             f"dimensions: {tuple(values)}")
    for what, values in (("window_strides", window_strides), ("lhs_dilation", lhs_dilation),
                         ("rhs_dilation", rhs_dilation)):
        if any(v < 1 for v in values):
            raise ValueError(f"{name}: {what} must be positive, got {tuple(values)}")
    if any(len(p) != 2 for p in padding):
        raise ValueError(f"{name}: padding must be (low, high) pairs, got {padding}")
    if type(feature_group_count) is not int or feature_group_count < 1:
        raise ValueError(f"{name}: feature_group_count must be a positive integer, got "
                         f"{feature_group_count!r}")
    if type(batch_group_count) is not int or batch_group_count < 1:
        raise ValueError(f"{name}: batch_group_count must be a positive integer, got "
                         f"{batch_group_count!r}")
    if feature_group_count > 1 and batch_group_count > 1:
        raise ValueError(f"{name}: at most one of feature_group_count "
                         f"({feature_group_count}) and batch_group_count "
                         f"({batch_group_count}) may be greater than 1")


@conv_general_dilated_p.def_shape
def _conv_shape(lhs, rhs, *, window_strides, padding, lhs_dilation, rhs_dilation,
                dimension_numbers, feature_group_count, batch_group_count, precision=None,
                preferred_element_type=None):
    name = "conv_general_dilated"
    if lhs.ndim != rhs.ndim:
        raise TypeError(f"{name}: lhs and rhs must have the same rank, got shapes "
                        f"{lhs.shape} and {rhs.shape}")
    if lhs.ndim < 2:
        raise TypeError(f"{name}: operands need a batch and a feature dimension (rank >= "
                        f"2), got shapes {lhs.shape} and {rhs.shape}")
    ndim, n = lhs.ndim, lhs.ndim - 2
    _check_conv_params(name, lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation,
                       dimension_numbers, feature_group_count, batch_group_count)
    lhs_spec, rhs_spec, out_spec = dimension_numbers
    batch, in_features = lhs.shape[lhs_spec[0]], lhs.shape[lhs_spec[1]]
    k_out, k_in = rhs.shape[rhs_spec[0]], rhs.shape[rhs_spec[1]]
    if in_features % feature_group_count:
        raise ValueError(f"{name}: feature_group_count {feature_group_count} must divide the "
                         f"lhs feature dimension size {in_features} (lhs shape {lhs.shape})")
    if in_features // feature_group_count != k_in:
        raise ValueError(f"{name}: the lhs feature dimension size divided by "
                         f"feature_group_count ({in_features} // {feature_group_count} = "
                         f"{in_features // feature_group_count}) must equal the kernel's "
                         f"input feature size {k_in} (lhs shape {lhs.shape}, rhs shape "
                         f"{rhs.shape})")
    if k_out % feature_group_count:
        raise ValueError(f"{name}: the kernel's output feature size {k_out} must be a "
                         f"multiple of feature_group_count {feature_group_count}")
    if batch % batch_group_count:
        raise ValueError(f"{name}: batch_group_count {batch_group_count} must divide the "
                         f"lhs batch size {batch} (lhs shape {lhs.shape})")
    if k_out % batch_group_count:
        raise ValueError(f"{name}: the kernel's output feature size {k_out} must be a "
                         f"multiple of batch_group_count {batch_group_count}")
    kernel_spatial = [rhs.shape[d] for d in rhs_spec[2:]]
    if any(k == 0 for k in kernel_spatial):
        raise ValueError(f"{name}: kernel spatial dimensions must be non-empty, got rhs "
                         f"shape {rhs.shape} with spatial sizes {tuple(kernel_spatial)}")
    if lhs.dtype != rhs.dtype:
        raise TypeError(f"{name} requires lhs and rhs of the same dtype, got {_n(lhs.dtype)} "
                        f"and {_n(rhs.dtype)}")
    if precision is not None and (not isinstance(precision, tuple) or len(precision) != 2
                                  or not all(isinstance(p, Precision) for p in precision)):
        raise TypeError(f"{name}: precision param must be None or a pair of Precision "
                        f"values, got {precision!r}")
    dt = _check_preferred(name, lhs.dtype, preferred_element_type)
    out = [0] * ndim
    out[out_spec[0]] = batch // batch_group_count
    out[out_spec[1]] = k_out
    for i in range(n):
        size = dilate_dim(lhs.shape[lhs_spec[2 + i]], lhs_dilation[i])
        padded = size + padding[i][0] + padding[i][1]
        if padded < 0:
            raise ValueError(f"{name}: negative padding {tuple(padding[i])} removes more "
                             f"than the {size} elements of spatial dimension {i} (lhs "
                             f"shape {lhs.shape})")
        window = dilate_dim(kernel_spatial[i], rhs_dilation[i])
        out[out_spec[2 + i]] = strided_count(padded, window, window_strides[i])
    return ShapedArray(out, dt, lhs.weak_type and rhs.weak_type)


def conv_general_dilated(lhs: Any, rhs: Any, window_strides: Sequence[int], padding: Any,
                         lhs_dilation: Sequence[int] | None = None,
                         rhs_dilation: Sequence[int] | None = None,
                         dimension_numbers: Any = None, feature_group_count: int = 1,
                         batch_group_count: int = 1, precision: Any = None,
                         preferred_element_type: Any = None):
    """General N-dimensional convolution with strides, padding, dilations and groups.

    ``padding`` is ``'SAME'``, ``'SAME_LOWER'``, ``'VALID'`` or ``n`` ``(lo, hi)`` pairs;
    ``dimension_numbers`` is ``None`` (``('NCHW', 'OIHW', 'NCHW')``), layout strings such
    as ``('NHWC', 'HWIO', 'NHWC')`` or a :class:`ConvDimensionNumbers`.
    Example: ``x: f32[1, 3, 8, 8]`` (NCHW) and ``w: f32[16, 3, 3, 3]`` (OIHW) give
    ``conv_general_dilated(x, w, (1, 1), 'SAME')`` of shape ``(1, 16, 8, 8)``; with
    ``window_strides=(2, 2)`` the shape is ``(1, 16, 4, 4)``.
    """
    name = "conv_general_dilated"
    lhs, rhs = as_operand(lhs), as_operand(rhs)
    la, ra = get_aval(lhs), get_aval(rhs)
    if la.ndim < 2 or ra.ndim < 2:
        raise TypeError(f"{name}: operands need a batch and a feature dimension (rank >= "
                        f"2), got shapes {la.shape} and {ra.shape}")
    dnums = conv_dimension_numbers(la.shape, ra.shape, dimension_numbers)
    n = la.ndim - 2
    window_strides = int_tuple(name, "window_strides", window_strides)
    lhs_dilation = int_tuple(name, "lhs_dilation", lhs_dilation, n)
    rhs_dilation = int_tuple(name, "rhs_dilation", rhs_dilation, n)
    if isinstance(padding, str):
        if any(d != 1 for d in lhs_dilation):
            raise ValueError(f"{name}: string padding {padding!r} is not supported with "
                             f"lhs_dilation {lhs_dilation} (transposed convolution); give "
                             "explicit (low, high) pairs")
        if not len(window_strides) == len(rhs_dilation) == n:
            raise ValueError(f"{name}: window_strides {window_strides} and rhs_dilation "
                             f"{rhs_dilation} must have one entry per spatial dimension of "
                             f"lhs {la.shape} ({n})")
        in_spatial = [la.shape[d] for d in dnums.lhs_spec[2:]]
        window = [dilate_dim(ra.shape[d], r) for d, r in zip(dnums.rhs_spec[2:], rhs_dilation)]
        if any(s < 1 for s in window_strides):
            raise ValueError(f"{name}: window_strides must be positive, got {window_strides}")
        padding = tuple(padtype_to_pads(in_spatial, window, window_strides, padding))
    else:
        padding = pad_pairs(name, padding)
    return conv_general_dilated_p.bind(
        lhs, rhs, window_strides=window_strides, padding=padding,
        lhs_dilation=lhs_dilation, rhs_dilation=rhs_dilation, dimension_numbers=dnums,
        feature_group_count=operator.index(feature_group_count),
        batch_group_count=operator.index(batch_group_count),
        precision=canonicalize_precision(precision, name),
        preferred_element_type=canonicalize_preferred_type(preferred_element_type, name))


def conv(lhs: Any, rhs: Any, window_strides: Sequence[int], padding: Any,
         precision: Any = None, preferred_element_type: Any = None):
    """Convolution of an NCHW-style input with an OIHW-style kernel (any number of
    spatial dimensions), with ``'SAME'``/``'VALID'`` or explicit padding.

    Example: ``conv(x, w, (1, 1), 'VALID')`` with ``x: f32[2, 3, 5, 5]`` and
    ``w: f32[4, 3, 3, 3]`` has shape ``(2, 4, 3, 3)``."""
    return conv_general_dilated(lhs, rhs, window_strides, padding, precision=precision,
                                preferred_element_type=preferred_element_type)


def conv_with_general_padding(lhs: Any, rhs: Any, window_strides: Sequence[int],
                              padding: Any, lhs_dilation: Sequence[int] | None,
                              rhs_dilation: Sequence[int] | None, precision: Any = None,
                              preferred_element_type: Any = None):
    """NCHW/OIHW convolution with explicit padding and lhs/rhs dilation.

    Example: ``conv_with_general_padding(x, w, (1, 1), [(1, 1), (1, 1)], (2, 2), None)``
    with ``x: f32[1, 1, 3, 3]`` and ``w: f32[1, 1, 3, 3]`` dilates the input to 5x5, pads
    it to 7x7 and has shape ``(1, 1, 5, 5)``."""
    return conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation=lhs_dilation,
                                rhs_dilation=rhs_dilation, precision=precision,
                                preferred_element_type=preferred_element_type)


# ---------------------------------------------------------------------------------------
# Derivative rules: a convolution is bilinear in (lhs, rhs).
#
# Along one spatial dimension (stride s, padding (lo, hi), lhs dilation ld, rhs dilation
# rd, kernel size k), ``out[o] = sum over i, j with i*ld + lo == o*s + j*rd of
# lhs[i] * rhs[j]``. Reading that sum for a fixed ``i`` gives the lhs cotangent: a
# convolution of the cotangent dilated by ``s`` with the reversed kernel (dilation rd),
# stepped ``ld`` apart, padded by ``K - 1 - lo`` in front (``K = (k - 1) * rd + 1``, the
# dilated kernel's extent) and at the end by whatever makes exactly ``len(lhs)`` windows.
# Reading it for a fixed ``j`` gives the rhs cotangent: a convolution of lhs (dilated by
# ld, padded by lo in front) with the cotangent as the kernel (dilation s), stepped ``rd``
# apart; there the batch dimension is summed over, so it plays the feature role and the
# features play the batch role.
#
# Groups. With ``feature_group_count = G`` output feature ``(g, o)`` (group-major) only
# sees lhs features ``(g, c)``: for the lhs cotangent the kernel is regrouped so that its
# input features become ``(g, c)`` outputs of a G-grouped convolution; for the rhs
# cotangent the G feature groups of lhs become G batch groups. ``batch_group_count = G``
# is the mirror image (it is itself the rhs cotangent of a feature-grouped convolution).


def split_axis(x: Any, axis: int, outer: int):
    """Reshape dimension ``axis`` of size ``outer * inner`` into two, ``(outer, inner)``."""
    shape = list(get_aval(x).shape)
    shape[axis:axis + 1] = [outer, shape[axis] // outer]
    return reshape(x, tuple(shape))


def merge_axis(x: Any, src: int, dst: int):
    """Fold dimension ``src`` into dimension ``dst`` as its major part (``src`` disappears;
    ``dst``'s size is multiplied by ``src``'s)."""
    shape = get_aval(x).shape
    order = [d for d in range(len(shape)) if d != src]
    pos = order.index(dst)
    order.insert(pos, src)
    if order != list(range(len(shape))):
        x = transpose(x, tuple(order))
    new_shape = [shape[d] for d in order]
    new_shape[pos:pos + 2] = [new_shape[pos] * new_shape[pos + 1]]
    return reshape(x, tuple(new_shape))


def _regroup_kernel(rhs: Any, rhs_spec: tuple, groups: int):
    """Move the group factor of the kernel's output features into its input features:
    ``w[(g, o), c, ...] -> w'[o, (g, c), ...]``."""
    o_dim, i_dim = rhs_spec[0], rhs_spec[1]
    rhs = split_axis(rhs, o_dim, groups)
    return merge_axis(rhs, o_dim, i_dim + 1 if i_dim > o_dim else i_dim)


def _swap_roles(spec: tuple) -> tuple:
    return (spec[1], spec[0]) + tuple(spec[2:])


def _zeros(aval: ShapedArray):
    return full(aval.shape, 0, aval.dtype)


def _as_dtype(x: Any, dtype):
    return x if get_aval(x).dtype == dtype else convert_element_type(x, dtype)


def _conv_transpose_lhs(ct, rhs, lhs_aval, *, window_strides, padding, lhs_dilation,
                        rhs_dilation, dimension_numbers, feature_group_count,
                        batch_group_count, precision):
    lhs_spec, rhs_spec, out_spec = dimension_numbers
    ct_shape, rhs_shape = get_aval(ct).shape, get_aval(rhs).shape
    if 0 in ct_shape or 0 in lhs_aval.shape:
        return _zeros(lhs_aval)
    pads = []
    for i, (lo, _) in enumerate(padding):
        window = dilate_dim(rhs_shape[rhs_spec[2 + i]], rhs_dilation[i])
        in_size = dilate_dim(lhs_aval.shape[lhs_spec[2 + i]], lhs_dilation[i])
        out_size = dilate_dim(ct_shape[out_spec[2 + i]], window_strides[i])
        pads.append((window - 1 - lo, in_size + lo - out_size))
    kernel = rev(_as_dtype(rhs, get_aval(ct).dtype), tuple(rhs_spec[2:]))
    groups = max(feature_group_count, batch_group_count)
    if groups > 1:
        kernel = _regroup_kernel(kernel, rhs_spec, groups)
    dnums = ConvDimensionNumbers(out_spec, _swap_roles(rhs_spec), lhs_spec)
    out = conv_general_dilated_p.bind(
        ct, kernel, window_strides=tuple(lhs_dilation), padding=tuple(pads),
        lhs_dilation=tuple(window_strides), rhs_dilation=tuple(rhs_dilation),
        dimension_numbers=dnums, feature_group_count=groups, batch_group_count=1,
        precision=precision, preferred_element_type=None)
    if batch_group_count > 1:
        # the features came out as (group, feature): the group goes back into the batch
        f_dim, n_dim = lhs_spec[1], lhs_spec[0]
        out = split_axis(out, f_dim, batch_group_count)
        out = merge_axis(out, f_dim, n_dim + 1 if n_dim > f_dim else n_dim)
    return cast_cotangent(out, lhs_aval)


def _conv_transpose_rhs(ct, lhs, rhs_aval, *, window_strides, padding, lhs_dilation,
                        rhs_dilation, dimension_numbers, feature_group_count,
                        batch_group_count, precision):
    lhs_spec, rhs_spec, out_spec = dimension_numbers
    ct_shape, lhs_shape = get_aval(ct).shape, get_aval(lhs).shape
    if 0 in ct_shape or 0 in lhs_shape:
        return _zeros(rhs_aval)
    pads = []
    for i, (lo, _) in enumerate(padding):
        window = dilate_dim(rhs_aval.shape[rhs_spec[2 + i]], rhs_dilation[i])
        in_size = dilate_dim(lhs_shape[lhs_spec[2 + i]], lhs_dilation[i])
        out_size = dilate_dim(ct_shape[out_spec[2 + i]], window_strides[i])
        pads.append((lo, window - 1 + out_size - in_size - lo))
    dnums = ConvDimensionNumbers(_swap_roles(lhs_spec), _swap_roles(out_spec),
                                 _swap_roles(rhs_spec))
    out = conv_general_dilated_p.bind(
        _as_dtype(lhs, get_aval(ct).dtype), ct, window_strides=tuple(rhs_dilation),
        padding=tuple(pads), lhs_dilation=tuple(lhs_dilation),
        rhs_dilation=tuple(window_strides), dimension_numbers=dnums,
        feature_group_count=batch_group_count, batch_group_count=feature_group_count,
        precision=precision, preferred_element_type=None)
    return cast_cotangent(out, rhs_aval)


def _conv_transpose(ct, lhs, rhs, **params):
    if is_undefined(lhs) and is_undefined(rhs):
        raise ValueError("conv_general_dilated is linear in one operand at a time; both "
                         "were undefined during transposition")
    if type(ct) is ad.Zero:
        return [None, None]
    params.pop("preferred_element_type", None)
    if is_undefined(lhs):
        return [_conv_transpose_lhs(ct, rhs, lhs.aval, **params), None]
    return [None, _conv_transpose_rhs(ct, lhs, rhs.aval, **params)]


ad.defjvp(conv_general_dilated_p,
          lambda g, lhs, rhs, **params: conv_general_dilated_p.bind(g, rhs, **params),
          lambda g, lhs, rhs, **params: conv_general_dilated_p.bind(lhs, g, **params))
conv_general_dilated_p.def_transpose(_conv_transpose)


# ---------------------------------------------------------------------------------------
# Batching rule: the vmapped dimension is folded into a dimension the convolution already
# has, and split out of the result again.
#
# * only lhs batched: into lhs's batch dimension (inside each batch group when
#   batch_group_count > 1), so it comes out in the output's batch dimension;
# * only rhs batched: into the kernel's output features (inside each feature/batch group),
#   so it comes out in the output's feature dimension;
# * both: lhs's copy goes into its features (one more factor of feature groups) or, for a
#   batch-grouped convolution, into its batch (one more factor of batch groups); rhs's
#   into its output features; it comes out in the output's feature dimension.


def _pos(d: int, bdim: int) -> int:
    """Where dimension ``d`` of the unbatched operand sits in the batched one."""
    return d + 1 if d >= bdim else d


def _fold_into_group(x: Any, bdim: int, target: int, groups: int):
    """Fold ``bdim`` into dimension ``target`` (unbatched numbering) of a grouped operand,
    inside each group: ``(g, n)`` becomes ``(g, (b, n))``."""
    t = _pos(target, bdim)
    if groups == 1:
        return merge_axis(x, bdim, t)
    x = split_axis(x, t, groups)             # group at t, rest at t + 1
    b = bdim if bdim < t else bdim + 1
    x = merge_axis(x, b, t + 1)              # (b, rest)
    g = t if b > t else t - 1
    return merge_axis(x, g, g + 1)           # (g, b, rest)


@conv_general_dilated_p.def_batch
def _conv_batch(axis, args, dims, **params):
    lhs, rhs = args
    lbd, rbd = dims
    lhs_spec, rhs_spec, out_spec = params["dimension_numbers"]
    fgc, bgc = params["feature_group_count"], params["batch_group_count"]
    size = axis.size
    if lbd is not None and rbd is not None:
        if bgc > 1:
            lhs = merge_axis(lhs, lbd, _pos(lhs_spec[0], lbd))
            params = dict(params, batch_group_count=bgc * size)
        else:
            lhs = merge_axis(lhs, lbd, _pos(lhs_spec[1], lbd))
            params = dict(params, feature_group_count=fgc * size)
        rhs = merge_axis(rhs, rbd, _pos(rhs_spec[0], rbd))
        out = conv_general_dilated_p.bind(lhs, rhs, **params)
        return split_axis(out, out_spec[1], size), out_spec[1]
    if lbd is not None:
        lhs = _fold_into_group(lhs, lbd, lhs_spec[0], bgc)
        out = conv_general_dilated_p.bind(lhs, rhs, **params)
        return split_axis(out, out_spec[0], size), out_spec[0]
    groups = max(fgc, bgc)
    rhs = _fold_into_group(rhs, rbd, rhs_spec[0], groups)
    out = conv_general_dilated_p.bind(lhs, rhs, **params)
    f = out_spec[1]
    if groups == 1:
        return split_axis(out, f, size), f
    out = split_axis(out, f, groups)         # (g, (b, o))
    out = split_axis(out, f + 1, size)       # g at f, b at f + 1, o at f + 2
    return merge_axis(out, f, f + 2), f      # b at f, (g, o) at f + 1
