"""The monoid windowed reductions ``reduce_window_sum``, ``reduce_window_max`` and
``reduce_window_min`` (sum, max and min pooling), declared from one table with their
shape, derivative and batching rules.

reduce_window_sum is linear: its transpose is a window sum of the (dilated, padded)
cotangent. The jvp of reduce_window_max/min picks the tangent at each window's extremum
with ``reduce_window_select`` (see ``select``), whose transpose makes them differentiable
in reverse mode too.
"""
from __future__ import annotations

from functools import partial
from typing import Any, Sequence

from functorch_lite.core import dtypes
from functorch_lite.core.avals import ShapedArray, get_aval
from functorch_lite.core.primitive import Primitive
from functorch_lite.interpreters import ad
from functorch_lite.lax._common import as_operand, scalar_like
from functorch_lite.lax.convolution import dilate_dim
from functorch_lite.lax.shapes import full, pad
from functorch_lite.lax.windowed._params import (_insert_window_dim, _shape_rule,
                                                 _window_params)
from functorch_lite.lax.windowed.select import reduce_window_select_p


def _reduce_window_batch(prim: Primitive):
    """The batch dimension is one more window dimension (see ``_insert_window_dim``)."""
    def rule(axis, args, dims, **params):
        (x,), (d,) = args, dims
        return prim.bind(x, **_insert_window_dim(params, d)), d
    return rule


def _primitive(kind: str) -> Primitive:
    p = Primitive(f"reduce_window_{kind}")
    p.def_shape(partial(_shape_rule, kind))
    p.def_batch(_reduce_window_batch(p))
    return p


reduce_window_sum_p = _primitive("sum")
reduce_window_max_p = _primitive("max")
reduce_window_min_p = _primitive("min")
_PRIMITIVES = {"sum": reduce_window_sum_p, "max": reduce_window_max_p,
               "min": reduce_window_min_p}


def _reduce_window(kind: str, operand: Any, window_dimensions: Sequence[int],
                   window_strides: Sequence[int] | None, padding: Any,
                   base_dilation: Sequence[int] | None, window_dilation: Sequence[int] | None):
    operand = as_operand(operand)
    params = _window_params(f"reduce_window_{kind}", get_aval(operand), window_dimensions,
                            window_strides, padding, base_dilation, window_dilation)
    return _PRIMITIVES[kind].bind(operand, **params)


# ---------------------------------------------------------------------------------------
# reduce_window_sum

def reduce_window_sum(operand: Any, window_dimensions: Sequence[int],
                      window_strides: Sequence[int] | None = None, padding: Any = "VALID",
                      base_dilation: Sequence[int] | None = None,
                      window_dilation: Sequence[int] | None = None):
    """Sum over sliding windows (sum pooling); padding counts as 0.

    Example: ``x: f32[1, 4, 4, 3]`` (NHWC) with ``window_dimensions=(1, 2, 2, 1)`` and
    ``window_strides=(1, 2, 2, 1)`` gives shape ``(1, 2, 2, 3)``."""
    return _reduce_window("sum", operand, window_dimensions, window_strides, padding,
                          base_dilation, window_dilation)


def _zero_scalar(dtype):
    return scalar_like(0, dtype)


def _zeros(aval: ShapedArray):
    return full(aval.shape, 0, aval.dtype)


def _reduce_window_sum_transpose(ct, operand, *, window_dimensions, window_strides, padding,
                                 base_dilation, window_dilation):
    # out[o] sums the (dilated, padded) operand at o*s + j*wd; element i sits at
    # i*bd + lo. Each operand element therefore receives the sum of the cotangent over
    # the windows covering it: a window sum of the cotangent dilated by the strides,
    # padded by K - 1 - lo in front (K the dilated window's extent) and to exactly one
    # window per operand position at the end, stepped bd apart.
    if type(ct) is ad.Zero:
        return [None]
    aval = operand.aval
    ct_shape = get_aval(ct).shape
    if 0 in aval.shape:
        return [_zeros(aval)]
    config = []
    for d, w, s, (lo, _), bd, wd, n in zip(aval.shape, window_dimensions, window_strides,
                                           padding, base_dilation, window_dilation,
                                           ct_shape):
        extent = dilate_dim(w, wd)
        config.append((extent - 1 - lo, dilate_dim(d, bd) + lo - dilate_dim(n, s), s - 1))
    padded = pad(ct, _zero_scalar(get_aval(ct).dtype), config)
    nd = aval.ndim
    return [reduce_window_sum_p.bind(padded, window_dimensions=tuple(window_dimensions),
                                     window_strides=tuple(base_dilation),
                                     padding=((0, 0),) * nd, base_dilation=(1,) * nd,
                                     window_dilation=tuple(window_dilation))]


ad.deflinear(reduce_window_sum_p, _reduce_window_sum_transpose)


# ---------------------------------------------------------------------------------------
# reduce_window_max, reduce_window_min

def reduce_window_max(operand: Any, window_dimensions: Sequence[int],
                      window_strides: Sequence[int] | None = None, padding: Any = "VALID",
                      base_dilation: Sequence[int] | None = None,
                      window_dilation: Sequence[int] | None = None):
    """Maximum over sliding windows (max pooling); padding counts as -inf (the dtype's
    minimum for integers). Example: ``reduce_window_max(x, (2,), (1,))`` of ``x: f32[5]``
    has shape ``(4,)`` with ``out[i] = max(x[i], x[i+1])``."""
    return _reduce_window("max", operand, window_dimensions, window_strides, padding,
                          base_dilation, window_dilation)


def reduce_window_min(operand: Any, window_dimensions: Sequence[int],
                      window_strides: Sequence[int] | None = None, padding: Any = "VALID",
                      base_dilation: Sequence[int] | None = None,
                      window_dilation: Sequence[int] | None = None):
    """Minimum over sliding windows; padding counts as +inf (the dtype's maximum for
    integers). Example: ``reduce_window_min(x, (3,), (3,), 'SAME')`` of ``x: f32[7]`` has
    shape ``(3,)``."""
    return _reduce_window("min", operand, window_dimensions, window_strides, padding,
                          base_dilation, window_dilation)


def _chooser_jvp(kind: str):
    prim = _PRIMITIVES[kind]

    def rule(primals, tangents, **params):
        (x,), (g,) = primals, tangents
        out = prim.bind(x, **params)
        if type(g) is ad.Zero or not dtypes.is_inexact(get_aval(x).dtype):
            return out, ad.Zero(ad.tangent_aval(get_aval(out)))
        return out, reduce_window_select_p.bind(x, g, kind=kind, **params)
    return rule


reduce_window_max_p.def_jvp(_chooser_jvp("max"))
reduce_window_min_p.def_jvp(_chooser_jvp("min"))
