"""Collectives over a named axis: ``psum``, ``pmean``, ``pmax``, ``pmin``, ``all_gather``,
``axis_index``. Inside ``vmap(..., axis_name=name)`` they combine the batch members; the
sharding layer lowers the same primitives to XLA collectives across devices. Each
primitive is declared with its shape, derivative and batching rules."""
from __future__ import annotations

from typing import Any

import numpy as np

from functorch_lite.core import dtypes, pytree
from functorch_lite.core import trace as trace_mod
from functorch_lite.core.avals import ShapedArray, get_aval
from functorch_lite.core.primitive import Primitive
from functorch_lite.interpreters import ad, batching
from functorch_lite.lax._common import as_operand
from functorch_lite.lax.elementwise import add, convert_element_type, div, eq, mul
from functorch_lite.lax.indexing import dynamic_index_in_dim, dynamic_slice_in_dim
from functorch_lite.lax.reductions import reduce_max, reduce_min, reduce_sum
from functorch_lite.lax.shapes import iota, reshape

__all__ = ["psum", "pmean", "pmax", "pmin", "all_gather", "axis_index"]


# ---------------------------------------------------------------------------------------
# Named axes

def _axis_names(axis_name) -> tuple:
    return axis_name if isinstance(axis_name, tuple) else (axis_name,)


def _unbound(name, axis_name):
    return NameError(f"{name}: unbound axis name {axis_name!r}; collectives need an enclosing "
                     f"vmap(..., axis_name={axis_name!r}) (or a sharded computation over "
                     "that axis)")


def _find_axis(axis_name, what: str = "collective"):
    """The innermost active vmap main trace bound to ``axis_name``."""
    for main in reversed(trace_mod.active_mains()):
        if main.trace_type is batching.BatchTrace and main.global_data.name == axis_name:
            return main
    raise _unbound(what, axis_name)


def axis_size(axis_name, what: str = "axis_size") -> int:
    """The number of members of the named axis (the product, for a tuple of names)."""
    size = 1
    for name in _axis_names(axis_name):
        size *= _find_axis(name, what).global_data.size
    return size


class _Collective(Primitive):
    """A primitive over named axes (``axis_name`` param). Binding it finds the innermost
    enclosing ``vmap`` with each of those names (a ``NameError`` when there is none) and
    lifts operands that do not belong to that vmap into it, so a collective of a value
    that does not vary over the axis (a constant, a closed-over array) still reaches the
    vmap's batching rule instead of being evaluated as if no axis were bound."""

    def bind(self, *args, **params):
        mains = [_find_axis(n, self.name) for n in _axis_names(params["axis_name"])]
        main = max(mains, key=lambda m: m.level)
        trace = main.with_trace()
        args = [a if isinstance(a, trace_mod.Tracer) and a._trace.main.level >= main.level
                else trace.full_raise(a) for a in args]
        if not args and trace_mod.find_top_trace(()).main.level < main.level:
            # No operand to carry it (axis_index): the vmap itself takes it, unless a
            # newer staging trace (a jit inside the vmap) records it for later batching.
            return trace_mod.full_lower(trace.process_primitive(self, [], params))
        return super().bind(*args, **params)


# ---------------------------------------------------------------------------------------
# psum, pmax, pmin

def _reduce_batch(reduce_name):
    """Over the vmapped axis itself, the reduction of the batch members: a sum/max/min over
    the batch dimension (a sum of an unbatched value is ``size`` times it); any other
    names stay on the collective."""
    def rule(axis, args, dims, *, axis_name):
        (x,), (d,) = args, dims
        p = {"sum": psum_p, "max": pmax_p, "min": pmin_p}[reduce_name]
        names = _axis_names(axis_name)
        if axis.name not in names:
            return p.bind(x, axis_name=axis_name), d
        rest = tuple(n for n in names if n != axis.name)
        if d is None:
            out = mul(x, convert_element_type(axis.size, get_aval(x).dtype)) \
                if reduce_name == "sum" else x
        else:
            out = {"sum": reduce_sum, "max": reduce_max,
                   "min": reduce_min}[reduce_name](x, (d,))
        if rest:
            out = p.bind(out, axis_name=rest if len(rest) > 1 else rest[0])
        return out, None
    return rule


def _reduction(name: str, reduce_name: str) -> Primitive:
    p = _Collective(name)

    @p.def_shape
    def _shape(x, *, axis_name):
        return x

    @p.def_impl
    def _impl(x, *, axis_name):
        raise _unbound(name, axis_name)

    p.def_batch(_reduce_batch(reduce_name))
    return p


def _chooser_jvp(p):
    """pmax/pmin: the tangent of the member(s) holding the extreme value (averaged over
    ties, like the jvp of ``reduce_max``)."""
    def rule(primals, tangents, *, axis_name):
        (x,), (t,) = primals, tangents
        out = p.bind(x, axis_name=axis_name)
        hit = convert_element_type(eq(x, out), get_aval(out).dtype)
        t_out = div(psum_p.bind(mul(hit, ad.instantiate(t)), axis_name=axis_name),
                    psum_p.bind(hit, axis_name=axis_name))
        return out, t_out
    return rule


def _tree_apply(p: Primitive, x: Any, axis_name):
    leaves, tree = pytree.tree_flatten(x)
    return pytree.tree_unflatten(tree, [p.bind(as_operand(l), axis_name=axis_name)
                                        for l in leaves])


psum_p = _reduction("psum", "sum")
# psum is linear: its jvp applies it to the tangent, its transpose is itself (each member's
# cotangent is the sum of all members' cotangents).
ad.deflinear(psum_p, lambda ct, x, *, axis_name: [psum_p.bind(ct, axis_name=axis_name)])

pmax_p = _reduction("pmax", "max")
pmax_p.def_jvp(_chooser_jvp(pmax_p))

pmin_p = _reduction("pmin", "min")
pmin_p.def_jvp(_chooser_jvp(pmin_p))


def psum(x: Any, axis_name):
    """Sum of ``x`` over the members of the named axis (a pytree of arrays)."""
    return _tree_apply(psum_p, x, axis_name)


def pmax(x: Any, axis_name):
    """Maximum of ``x`` over the named axis."""
    return _tree_apply(pmax_p, x, axis_name)


def pmin(x: Any, axis_name):
    """Minimum of ``x`` over the named axis."""
    return _tree_apply(pmin_p, x, axis_name)


def pmean(x: Any, axis_name):
    """Mean of ``x`` over the named axis."""
    n = axis_size(axis_name, "pmean")

    def mean(s):
        # A true division, as JAX's: integer sums give floating-point means.
        dt = dtypes.float_dtype_for(get_aval(s).dtype)
        s = convert_element_type(s, dt)
        return div(s, convert_element_type(n, dt))
    return pytree.tree_map(mean, psum(x, axis_name))


# ---------------------------------------------------------------------------------------
# all_gather

all_gather_p = _Collective("all_gather")


@all_gather_p.def_shape
def _all_gather_shape(x, *, axis_name, axis, axis_size, tiled):
    shape = list(x.shape)
    if tiled:
        if not shape:
            raise ValueError("all_gather(tiled=True) needs an operand of rank >= 1")
        shape[axis] *= axis_size
    else:
        shape.insert(axis, axis_size)
    return ShapedArray(tuple(shape), x.dtype, x.weak_type)


@all_gather_p.def_impl
def _all_gather_impl(x, *, axis_name, axis, axis_size, tiled):
    raise _unbound("all_gather", axis_name)


def all_gather(x: Any, axis_name, *, axis: int = 0, tiled: bool = False):
    """Stack (or, ``tiled``, concatenate) every member's ``x`` along ``axis``. For a tuple
    of names the members are ordered with the first name major (as ``axis_index``)."""
    names = _axis_names(axis_name)
    sizes = [axis_size(name, "all_gather") for name in names]

    def one(leaf):
        leaf = as_operand(leaf)
        aval = get_aval(leaf)
        nd = aval.ndim
        if tiled and nd == 0:
            raise ValueError("all_gather(tiled=True) needs an operand of rank >= 1")
        out_nd = nd if tiled else nd + 1
        if not -out_nd <= axis < out_nd:
            raise ValueError(f"all_gather: axis {axis} is out of bounds for an operand of "
                             f"rank {nd}{' (tiled)' if tiled else ''}")
        ax = axis % out_nd
        if len(names) == 1:
            return all_gather_p.bind(leaf, axis_name=names[0], axis=ax, axis_size=sizes[0],
                                     tiled=tiled)
        # Several names: gather over each (the last name innermost), then merge.
        y = leaf
        for name, n in zip(reversed(names), reversed(sizes)):
            y = all_gather_p.bind(y, axis_name=name, axis=0, axis_size=n, tiled=False)
        total = int(np.prod(sizes))
        y = reshape(y, (total, *aval.shape))
        if not tiled:
            return batching.move_dim(y, 0, ax, total)
        y = batching.move_dim(y, 0, ax, total)
        shape = list(aval.shape)
        shape[ax] *= total
        return reshape(y, tuple(shape))
    return pytree.tree_map(one, x)


def _all_gather_transpose(ct, *, axis_name, axis, axis_size, tiled):
    """Each member's cotangent is its own slice of the summed gathered cotangent."""
    summed = psum_p.bind(ct, axis_name=axis_name)
    idx = axis_index(axis_name)
    if tiled:
        size = summed.shape[axis] // axis_size
        return dynamic_slice_in_dim(summed, mul(idx, size), size, axis)
    return dynamic_index_in_dim(summed, idx, axis, keepdims=False)


ad.deflinear(all_gather_p, lambda ct, x, **params: [_all_gather_transpose(ct, **params)])


@all_gather_p.def_batch
def _all_gather_batch_rule(axis_data, args, dims, **params):
    (x,), (d,) = args, dims
    if params["axis_name"] != axis_data.name:
        if d is None:
            return all_gather_p.bind(x, **params), None
        # Gathering over another axis: keep our batch dim in front.
        x = batching.move_dim(x, d, 0, axis_data.size)
        out = all_gather_p.bind(x, **{**params, "axis": params["axis"] + 1})
        return out, 0
    x = batching.move_dim(x, d, 0, axis_data.size)
    target = params["axis"]
    if params["tiled"]:
        moved = batching.move_dim(x, 0, target, axis_data.size)
        s = list(moved.shape)
        return reshape(moved, tuple(s[:target] + [s[target] * s[target + 1]]
                                    + s[target + 2:])), None
    return batching.move_dim(x, 0, target, axis_data.size), None


# ---------------------------------------------------------------------------------------
# axis_index

axis_index_p = _Collective("axis_index")
axis_index_p.non_differentiable = True


@axis_index_p.def_shape
def _axis_index_shape(*, axis_name):
    return ShapedArray((), np.dtype(np.int32))


@axis_index_p.def_impl
def _axis_index_impl(*, axis_name):
    raise _unbound("axis_index", axis_name)


def axis_index(axis_name):
    """This member's position along the named axis (an int32 scalar); for a tuple of names
    the first name is major."""
    index = None
    for name in _axis_names(axis_name):
        here = axis_index_p.bind(axis_name=name)
        index = here if index is None else add(
            mul(index, np.int32(axis_size(name, "axis_index"))), here)
    return index


@axis_index_p.def_batch
def _axis_index_batch(axis, args, dims, *, axis_name):
    if axis_name != axis.name:
        return axis_index_p.bind(axis_name=axis_name), None
    return iota(np.int32, axis.size), 0
