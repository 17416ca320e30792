"""Windowed reductions (pooling): ``reduce_window`` with ``add``, ``max``, ``min`` or any
other binary computation.

A window of ``window_dimensions`` elements slides over the operand, ``window_strides``
apart; each output element reduces one window. Before sliding, the operand may be dilated
(``base_dilation``: holes between its elements) and padded (``padding``: ``(lo, hi)``
per dimension); the window may be dilated too (``window_dilation``). Holes and padding hold
the reduction's identity (0 for sums, -inf or the dtype's minimum for max, +inf or its
maximum for min), so they never win.

Each monoid reduction is its own primitive (``reduce_window_sum``, ``reduce_window_max``,
``reduce_window_min``) with params ``window_dimensions``, ``window_strides``, ``padding``
(``(lo, hi)`` pairs), ``base_dilation`` and ``window_dilation``, one entry per dimension;
these are differentiable in both modes. Any other computation (``lax.mul``, a lambda, a
monoid with another init value, several operands at once) is ``reduce_window``, which
holds the computation as an IR program: forward mode and vmap work, reverse mode does not
(as in JAX).
"""
from __future__ import annotations

import functools
from functools import partial
from typing import Any, Callable, Sequence

import numpy as np

from functorch_lite.core import dtypes, pytree
from functorch_lite.core.avals import ShapedArray, get_aval
from functorch_lite.core.ir import Program, eval_program
from functorch_lite.core.primitive import Primitive
from functorch_lite.core.trace import Tracer
from functorch_lite.interpreters import ad, batching
from functorch_lite.interpreters.staging import trace_flat
from functorch_lite.interpreters.transpose import is_undefined
from functorch_lite.lax import elementwise as ew
from functorch_lite.lax._common import as_operand, check_dtype, operands, scalar_like
from functorch_lite.lax.convolution import (dilate_dim, int_tuple, pad_pairs, padtype_to_pads,
                                            strided_count)
from functorch_lite.lax.shapes import full, pad

__all__ = ["reduce_window", "reduce_window_sum", "reduce_window_max", "reduce_window_min",
           "reduce_window_sum_p", "reduce_window_max_p", "reduce_window_min_p",
           "reduce_window_p"]


def reduce_window_identity(kind: str, dtype) -> Any:
    """The value a ``kind`` ('sum', 'max', 'min') reduction starts from and pads with."""
    dt = np.dtype(dtype)
    if kind == "sum":
        return np.zeros((), dt)[()]
    big = kind == "min"
    if dtypes.is_bool(dt):
        return np.bool_(big)
    if dtypes.is_int(dt):
        info = dtypes.iinfo(dt)
        return dt.type(info.max if big else info.min)
    return np.asarray(np.inf if big else -np.inf, dt)[()]


def _shape_rule(kind, operand, *, window_dimensions, window_strides, padding, base_dilation,
                window_dilation):
    name = "reduce_window" if kind == "generic" else f"reduce_window_{kind}"
    check_dtype(name, operand, "iufc" if kind == "sum" else "biufc")
    nd = operand.ndim
    for what, values in (("window_dimensions", window_dimensions),
                         ("window_strides", window_strides), ("padding", padding),
                         ("base_dilation", base_dilation),
                         ("window_dilation", window_dilation)):
        if len(values) != nd:
            raise ValueError(f"{name}: {what} {tuple(values)} must have one entry per "
                             f"dimension of the operand (shape {operand.shape}, rank {nd})")
    for what, values in (("window_dimensions", window_dimensions),
                         ("window_strides", window_strides), ("base_dilation", base_dilation),
                         ("window_dilation", window_dilation)):
        if any(type(v) is not int or v < 1 for v in values):
            raise ValueError(f"{name}: {what} must be positive integers, got "
                             f"{tuple(values)}")
    if any(len(p) != 2 or any(type(v) is not int for v in p) for p in padding):
        raise ValueError(f"{name}: padding must be (low, high) integer pairs, got {padding}")
    shape = []
    for d, w, s, (lo, hi), bd, wd in zip(operand.shape, window_dimensions, window_strides,
                                         padding, base_dilation, window_dilation):
        shape.append(strided_count(dilate_dim(d, bd) + lo + hi, dilate_dim(w, wd), s))
    return ShapedArray(shape, operand.dtype, operand.weak_type)


def _primitive(kind: str) -> Primitive:
    p = Primitive(f"reduce_window_{kind}")
    p.def_shape(partial(_shape_rule, kind))
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


def _window_params(name: str, aval: ShapedArray, window_dimensions, window_strides, padding,
                   base_dilation, window_dilation) -> dict:
    """The five window params in canonical form (tuples; padding as (lo, hi) pairs)."""
    window_dimensions = int_tuple(name, "window_dimensions", window_dimensions)
    n = len(window_dimensions)
    window_strides = int_tuple(name, "window_strides", window_strides, n)
    base_dilation = int_tuple(name, "base_dilation", base_dilation, n)
    window_dilation = int_tuple(name, "window_dilation", window_dilation, n)
    if isinstance(padding, str):
        if not len(window_strides) == len(window_dilation) == n == aval.ndim:
            raise ValueError(f"{name}: window_dimensions {window_dimensions}, window_strides "
                             f"{window_strides} and window_dilation {window_dilation} must "
                             f"have one entry per dimension of the operand (shape "
                             f"{aval.shape})")
        if any(v < 1 for v in window_strides + window_dilation):
            raise ValueError(f"{name}: window_strides {window_strides} and window_dilation "
                             f"{window_dilation} must be positive")
        window = [dilate_dim(w, d) for w, d in zip(window_dimensions, window_dilation)]
        padding = tuple(padtype_to_pads(aval.shape, window, window_strides, padding))
    else:
        padding = pad_pairs(name, padding)
    return dict(window_dimensions=window_dimensions, window_strides=window_strides,
                padding=padding, base_dilation=base_dilation, window_dilation=window_dilation)


def reduce_window_sum(operand: Any, window_dimensions: Sequence[int],
                      window_strides: Sequence[int] | None = None, padding: Any = "VALID",
                      base_dilation: Sequence[int] | None = None,
                      window_dilation: Sequence[int] | None = None):
    """Sum over sliding windows (sum pooling); padding counts as 0.

    Example: ``x: f32[1, 4, 4, 3]`` (NHWC) with ``window_dimensions=(1, 2, 2, 1)`` and
    ``window_strides=(1, 2, 2, 1)`` gives shape ``(1, 2, 2, 3)``."""
    return _reduce_window("sum", operand, window_dimensions, window_strides, padding,
                          base_dilation, window_dilation)


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


_COMPUTATIONS: dict[Callable, str] = {ew.add: "sum", ew.max: "max", ew.min: "min"}
_MONOID_PRIMITIVES = {ew.add_p: "sum", ew.max_p: "max", ew.min_p: "min"}


def reduce_window(operand: Any, init_value: Any, computation: Callable,
                  window_dimensions: Sequence[int], window_strides: Sequence[int] | None = None,
                  padding: Any = "VALID", base_dilation: Sequence[int] | None = None,
                  window_dilation: Sequence[int] | None = None):
    """Reduce each sliding window of ``operand`` with ``computation``, starting from
    ``init_value``.

    ``computation`` is any binary function of scalars (``lax.max``, ``fnp.maximum``,
    ``lambda a, b: a * b``, ...); ``operand`` and ``init_value`` may be matching pytrees
    (several arrays reduced together, ``computation`` then takes and returns such pytrees).
    A sum, max or min (however written) with its identity as ``init_value`` (0; -inf or
    the dtype's minimum; +inf or its maximum) becomes ``reduce_window_sum/max/min``, which
    reverse mode can differentiate; anything else supports forward mode and vmap but not
    reverse mode, as in JAX. ``init_value`` must then have the operand's dtype.
    ``padding`` is ``'SAME'``, ``'SAME_LOWER'``, ``'VALID'`` or ``(lo, hi)`` pairs.
    Example (2x2 max pooling, stride 2, of ``x: f32[1, 4, 4, 3]`` NHWC):
    ``reduce_window(x, -np.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), 'VALID')`` has shape
    ``(1, 2, 2, 3)``.
    """
    if not callable(computation):
        raise TypeError(f"reduce_window: computation must be callable, got "
                        f"{type(computation).__name__}")
    leaves, tree = pytree.tree_flatten(operand)
    init_leaves, init_tree = pytree.tree_flatten(init_value)
    if tree != init_tree:
        raise ValueError(f"reduce_window: operand and init_value must have the same tree "
                         f"structure, got {tree} and {init_tree}")
    if not leaves:
        raise ValueError("reduce_window: needs at least one operand")
    leaves = [as_operand(x) for x in leaves]
    args = (window_dimensions, window_strides, padding, base_dilation, window_dilation)
    if len(leaves) == 1:
        kind = _monoid(computation, tree, get_aval(leaves[0]), init_leaves[0])
        if kind is not None:
            return pytree.tree_unflatten(tree, [_reduce_window(kind, leaves[0], *args)])
    inits = operands(init_leaves)
    o_avals, i_avals = [get_aval(x) for x in leaves], [get_aval(x) for x in inits]
    if any(a.shape != () for a in i_avals):
        raise TypeError("reduce_window: init_value must be scalars, got shapes "
                        f"{[a.shape for a in i_avals]}")
    if [a.dtype for a in o_avals] != [a.dtype for a in i_avals]:
        raise TypeError("reduce_window got inconsistent dtypes for operands and init_values: "
                        f"operand dtypes {[a.dtype.name for a in o_avals]} and init_value "
                        f"dtypes {[a.dtype.name for a in i_avals]} (give init_value the "
                        "operand's dtype, e.g. np.float16(0) for a float16 operand)")
    if any(a.shape != o_avals[0].shape for a in o_avals):
        raise TypeError("reduce_window: all operands must have the same shape, got "
                        f"{[a.shape for a in o_avals]}")
    program = _computation_program(computation, tree, tuple(a.dtype for a in o_avals))
    params = _window_params("reduce_window", o_avals[0], *args)
    outs = reduce_window_p.bind(*leaves, *inits, computation=program, **params)
    return pytree.tree_unflatten(tree, outs)


def _monoid(computation: Callable, tree, aval: ShapedArray, init_value: Any) -> str | None:
    """'sum', 'max' or 'min' when ``computation`` is that monoid on ``aval``'s dtype and
    ``init_value`` is a concrete scalar equal to its identity; else None.

    ``lax.add/max/min`` are recognized by identity; any other function is traced on two
    scalars and recognized when that gives exactly one add/max/min of its two inputs (so
    ``fnp.maximum`` and ``lambda a, b: a + b`` count)."""
    if isinstance(init_value, Tracer):
        return None
    try:
        init = np.asarray(init_value)
    except Exception:
        return None
    if init.shape != () or init.dtype == object:
        return None
    kind = _COMPUTATIONS.get(computation)
    if kind is None:
        kind = _single_monoid_eqn(_computation_program(computation, tree, (aval.dtype,)))
    if kind is None or (kind == "sum" and dtypes.is_bool(aval.dtype)):
        return None
    return kind if _equals_identity(init[()], reduce_window_identity(kind, aval.dtype)) \
        else None


def _single_monoid_eqn(program: Program) -> str | None:
    if len(program.eqns) != 1:
        return None
    eqn = program.eqns[0]
    kind = _MONOID_PRIMITIVES.get(eqn.primitive)
    a, b = program.invars
    if kind and sorted(map(id, eqn.inputs)) == sorted((id(a), id(b))) \
            and list(program.outvars) == list(eqn.outputs):
        return kind
    return None


def _computation_program(computation: Callable, tree, dts: tuple) -> Program:
    """``computation`` traced on two pytrees (of structure ``tree``) of scalars: a program
    taking the n accumulator leaves then the n element leaves, returning n leaves. Cached
    per function (when hashable), as JAX caches its reduction jaxprs."""
    try:
        hash(computation)
    except TypeError:
        return _trace_computation(computation, tree, dts)
    return _cached_computation(computation, tree, dts)


def _trace_computation(computation: Callable, tree, dts: tuple) -> Program:
    avals = [ShapedArray((), dt) for dt in dts]
    flat, out_tree = pytree.flatten_fun(computation, pytree.treedef_tuple([tree, tree]))
    program, consts = trace_flat(lambda *xs: [as_operand(x) for x in flat(*xs)], avals * 2,
                                 "reduce_window computation")
    name = getattr(computation, "__name__", repr(computation))
    if out_tree() != tree:
        raise ValueError(f"reduce_window: computation {name} must return the operands' tree "
                         f"structure {tree}, got {out_tree()}")
    outs = program.out_avals
    if [(a.shape, a.dtype) for a in outs] != [((), dt) for dt in dts]:
        raise TypeError(f"reduce_window: computation {name} must return scalars of the "
                        f"operands' dtypes {[np.dtype(d).name for d in dts]}, got "
                        f"{[a.str_short() for a in outs]}")
    if consts:
        raise NotImplementedError(
            f"reduce_window: computation {name} closes over array values; a computation "
            "may use only its two arguments and Python scalars (pass other arrays as extra "
            "operands with matching init values)")
    return program


_cached_computation = functools.lru_cache(maxsize=512)(_trace_computation)


def _equals_identity(value: Any, identity: Any) -> bool:
    try:
        return bool(value == identity)
    except (TypeError, ValueError, OverflowError):
        return False


# ---------------------------------------------------------------------------------------
# Helper primitives for differentiating max/min pooling.
#
# ``reduce_window_select(operand, tangent, kind=...)`` slides the windows over both arrays
# at once and, in each window, returns the tangent found where ``operand`` is largest
# (``kind='max'``) or smallest (``'min'``): the jvp of ``reduce_window_max/min``. It is
# linear in ``tangent``. Its transpose, ``select_and_scatter_add(source, operand,
# kind=...)``, adds each ``source`` element (one per window) into ``operand``'s shape at
# that window's max/min position. Each is the other's transpose, so derivatives of any
# order close over these two. (``select_and_scatter_add`` has no window dilation: XLA's
# select-and-scatter has none, so max pooling with window dilation has a jvp but no
# reverse-mode derivative.)

_WINDOW_PARAMS = ("window_dimensions", "window_strides", "padding", "base_dilation",
                  "window_dilation")

reduce_window_select_p = Primitive("reduce_window_select")
select_and_scatter_add_p = Primitive("select_and_scatter_add")


def _check_kind(name: str, kind: Any) -> None:
    if kind not in ("max", "min"):
        raise ValueError(f"{name}: kind must be 'max' or 'min', got {kind!r}")


@reduce_window_select_p.def_shape
def _reduce_window_select_shape(operand, tangent, *, kind, window_dimensions,
                                window_strides, padding, base_dilation, window_dilation):
    name = "reduce_window_select"
    _check_kind(name, kind)
    if tangent.shape != operand.shape:
        raise TypeError(f"{name}: operand and tangent must have the same shape, got "
                        f"{operand.shape} and {tangent.shape}")
    check_dtype(name, operand, "iufc")
    out = _shape_rule(kind, operand, window_dimensions=window_dimensions,
                      window_strides=window_strides, padding=padding,
                      base_dilation=base_dilation, window_dilation=window_dilation)
    return ShapedArray(out.shape, tangent.dtype, tangent.weak_type)


@select_and_scatter_add_p.def_shape
def _select_and_scatter_add_shape(source, operand, *, kind, window_dimensions,
                                  window_strides, padding, base_dilation):
    name = "select_and_scatter_add"
    _check_kind(name, kind)
    check_dtype(name, operand, "iufc")
    windows = _shape_rule(kind, operand, window_dimensions=window_dimensions,
                          window_strides=window_strides, padding=padding,
                          base_dilation=base_dilation,
                          window_dilation=(1,) * len(window_dimensions))
    if source.shape != windows.shape:
        raise TypeError(f"{name}: source must have one element per window, shape "
                        f"{windows.shape}, got {source.shape}")
    return ShapedArray(operand.shape, source.dtype, source.weak_type)


# ---------------------------------------------------------------------------------------
# Derivative rules


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


def _reduce_window_select_jvp(primals, tangents, **params):
    # The selection is piecewise constant in the operand: only the tangent's tangent flows.
    (x, t), (_, gt) = primals, tangents
    out = reduce_window_select_p.bind(x, t, **params)
    if type(gt) is ad.Zero:
        return out, ad.Zero(ad.tangent_aval(get_aval(out)))
    return out, reduce_window_select_p.bind(x, gt, **params)


def _reduce_window_select_transpose(ct, operand, tangent, *, kind, window_dimensions,
                                    window_strides, padding, base_dilation,
                                    window_dilation):
    if is_undefined(operand):
        raise ValueError("reduce_window_select is linear in its tangent only")
    if type(ct) is ad.Zero:
        return [None, None]
    if any(d != 1 for d in window_dilation):
        raise NotImplementedError(
            f"primitive 'reduce_window_select' (the jvp of reduce_window_{kind}) has no "
            f"transpose rule with window_dilation {tuple(window_dilation)}: reverse-mode "
            "differentiation of max/min pooling with a dilated window is not supported")
    return [None, select_and_scatter_add_p.bind(
        ct, operand, kind=kind, window_dimensions=window_dimensions,
        window_strides=window_strides, padding=padding, base_dilation=base_dilation)]


def _select_and_scatter_add_jvp(primals, tangents, **params):
    (source, x), (gs, _) = primals, tangents
    out = select_and_scatter_add_p.bind(source, x, **params)
    if type(gs) is ad.Zero:
        return out, ad.Zero(ad.tangent_aval(get_aval(out)))
    return out, select_and_scatter_add_p.bind(gs, x, **params)


def _select_and_scatter_add_transpose(ct, source, operand, *, kind, window_dimensions,
                                      window_strides, padding, base_dilation):
    if is_undefined(operand):
        raise ValueError("select_and_scatter_add is linear in its source only")
    if type(ct) is ad.Zero:
        return [None, None]
    return [reduce_window_select_p.bind(
        operand, ct, kind=kind, window_dimensions=window_dimensions,
        window_strides=window_strides, padding=padding, base_dilation=base_dilation,
        window_dilation=(1,) * len(window_dimensions)), None]


reduce_window_select_p.def_jvp(_reduce_window_select_jvp)
reduce_window_select_p.def_transpose(_reduce_window_select_transpose)
select_and_scatter_add_p.def_jvp(_select_and_scatter_add_jvp)
select_and_scatter_add_p.def_transpose(_select_and_scatter_add_transpose)


# ---------------------------------------------------------------------------------------
# Batching rules: the batch dimension becomes one more window dimension, of size 1 with
# stride 1 and no padding or dilation, left where it is.


def _insert_window_dim(params: dict, d: int) -> dict:
    trivial = {"window_dimensions": 1, "window_strides": 1, "padding": (0, 0),
               "base_dilation": 1, "window_dilation": 1}
    new = dict(params)
    for key in _WINDOW_PARAMS:
        if key in new:
            values = list(new[key])
            values.insert(d, trivial[key])
            new[key] = tuple(values)
    return new


def _reduce_window_batch(prim: Primitive):
    def rule(axis, args, dims, **params):
        (x,), (d,) = args, dims
        return prim.bind(x, **_insert_window_dim(params, d)), d
    return rule


def _aligned_batch(prim: Primitive):
    """Both operands have the operand's shape (or the windows' shape): put their batch
    dims at the same place (that of the first batched one)."""
    def rule(axis, args, dims, **params):
        d = next(b for b in dims if b is not None)
        args = [batching.move_dim(a, b, d, axis.size) for a, b in zip(args, dims)]
        return prim.bind(*args, **_insert_window_dim(params, d)), d
    return rule


for _p in (reduce_window_sum_p, reduce_window_max_p, reduce_window_min_p):
    _p.def_batch(_reduce_window_batch(_p))
reduce_window_select_p.def_batch(_aligned_batch(reduce_window_select_p))
select_and_scatter_add_p.def_batch(_aligned_batch(select_and_scatter_add_p))


# ---------------------------------------------------------------------------------------
# reduce_window with a general computation.
#
# ``reduce_window_p`` reduces n operands at once (args: the operands, then their n scalar
# init values) with ``computation``, a program over scalars (the n accumulators, then the
# n new elements -> n results). Its jvp reduces primals and tangents together with the
# jvp of the computation (so a product's tangent follows the product rule window by
# window), as JAX's does. Reverse mode would need a transpose of that paired reduction,
# which a general computation does not have: it raises, as in JAX.

reduce_window_p = Primitive("reduce_window", multiple_results=True)


@reduce_window_p.def_shape
def _reduce_window_shape(*args, computation, **params):
    n = len(args) // 2
    ops, inits = args[:n], args[n:]
    if any(o.shape != ops[0].shape for o in ops):
        raise TypeError("reduce_window: all operands must have the same shape, got "
                        + ", ".join(o.str_short() for o in ops))
    if any(o.dtype != i.dtype or i.shape != () for o, i in zip(ops, inits)):
        raise TypeError("reduce_window: each init value must be a scalar of its operand's "
                        "dtype, got operands " + ", ".join(o.str_short() for o in ops)
                        + " and init values " + ", ".join(i.str_short() for i in inits))
    scalars = [ShapedArray((), o.dtype) for o in ops]
    if ([a.strip_weak_type() for a in computation.in_avals] != scalars * 2
            or [a.strip_weak_type() for a in computation.out_avals] != scalars):
        raise TypeError("reduce_window: the computation must map two sets of scalars of the "
                        "operands' dtypes to one")
    return [_shape_rule("generic", o, **params) for o in ops]


@functools.lru_cache(maxsize=512)  # programs are immutable
def _jvp_computation(program: Program, diff: tuple) -> Program:
    """The computation over (primal, tangent) pairs: inputs are the accumulators' primals
    and the tangents of the ``diff`` leaves, then the same for the new elements; outputs
    the primal results and the ``diff`` leaves' tangents."""
    n, k = len(program.invars) // 2, len(diff)
    avals = program.in_avals[:n]
    t_avals = [avals[i] for i in diff]

    def tangents(ts):
        it = iter(ts)
        return [next(it) if i in diff else ad.Zero(ad.tangent_aval(avals[i]))
                for i in range(n)]

    def fun(*xs):
        pa, ta, pb, tb = xs[:n], xs[n:n + k], xs[n + k:2 * n + k], xs[2 * n + k:]
        outs, touts = ad.jvp_flat(lambda *a: eval_program(program, [], a), [*pa, *pb],
                                  [*tangents(ta), *tangents(tb)])
        return [*outs, *[ad.instantiate(touts[i]) for i in diff]]

    jprog, consts = trace_flat(fun, [*avals, *t_avals, *avals, *t_avals], "jvp of reduce_window")
    assert not consts, "the jvp of a closed scalar computation captured arrays"
    return jprog


def _reduce_window_jvp(primals, tangents, *, computation, **params):
    n = len(primals) // 2
    ops, inits = primals[:n], primals[n:]
    if any(type(t) is not ad.Zero for t in tangents[n:]):
        raise TypeError("reduce_window: differentiating with respect to init_value is not "
                        "supported (as in JAX); make init_value a constant")
    diff = tuple(i for i in range(n) if dtypes.is_inexact(get_aval(ops[i]).dtype))
    if all(type(tangents[i]) is ad.Zero for i in diff):
        outs = reduce_window_p.bind(*primals, computation=computation, **params)
        return outs, [ad.Zero(ad.tangent_aval(get_aval(o))) for o in outs]
    t_ops = [ad.instantiate(tangents[i]) for i in diff]
    t_inits = [scalar_like(0, get_aval(ops[i]).dtype, False) for i in diff]
    outs = reduce_window_p.bind(*ops, *t_ops, *inits, *t_inits,
                                computation=_jvp_computation(computation, diff), **params)
    it = iter(outs[n:])
    return outs[:n], [next(it) if i in diff else ad.Zero(ad.tangent_aval(get_aval(o)))
                      for i, o in enumerate(outs[:n])]


def _reduce_window_transpose(cts, *args, **params):
    raise ValueError(
        "Reverse-mode differentiation does not work for lax.reduce_window with a general "
        "computation (as in JAX); forward mode (jvp, jacfwd) does. Sums, maxima and minima "
        "with their identity as init_value (lax.add/max/min, fnp.add/maximum/minimum, "
        "lambda a, b: a + b, ...) are differentiable in reverse mode too.")


def _generic_batch(axis, args, dims, *, computation, **params):
    n = len(args) // 2
    if any(d is not None for d in dims[n:]):
        raise NotImplementedError("reduce_window: vmap over init_value is not supported "
                                  "(as in JAX); batch the operands only")
    d = next(b for b in dims[:n] if b is not None)
    ops = [batching.move_dim(a, b, d, axis.size) for a, b in zip(args[:n], dims[:n])]
    outs = reduce_window_p.bind(*ops, *args[n:], computation=computation,
                                **_insert_window_dim(params, d))
    return outs, [d] * n


reduce_window_p.def_jvp(_reduce_window_jvp)
reduce_window_p.def_transpose(_reduce_window_transpose)
reduce_window_p.def_batch(_generic_batch)
