"""Collectives over a named axis: ``psum``, ``pmean``, ``pmax``, ``pmin``, ``all_gather``,
``psum_scatter``, ``ppermute``, ``all_to_all``, ``axis_index``. Inside
``vmap(..., axis_name=name)`` they combine the batch members; inside ``shard_map`` over a
mesh they combine the devices along the mesh axes named (the primitives are staged into
the per-device program and lowered to XLA's collectives). Each primitive is declared with
its shape, derivative and batching rules."""
from __future__ import annotations

import contextlib
from typing import Any, Iterator

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
from functorch_lite.lax.shapes import (concatenate, expand_dims, iota, reshape, slice_in_dim,
                                       squeeze)

__all__ = ["psum", "pmean", "pmax", "pmin", "all_gather", "psum_scatter", "ppermute",
           "all_to_all", "axis_index"]


# ---------------------------------------------------------------------------------------
# Named axes

def _axis_names(axis_name) -> tuple:
    return axis_name if isinstance(axis_name, tuple) else (axis_name,)


def _unbound(name, axis_name):
    return NameError(f"{name}: unbound axis name {axis_name!r}; collectives need an enclosing "
                     f"vmap(..., axis_name={axis_name!r}) (or a sharded computation over "
                     "that axis)")


class MeshAxis:
    """A mesh axis bound by ``shard_map`` while its per-device function is traced or
    transformed: collectives over it are staged into the program (and lowered to XLA's
    collectives), not evaluated. ``level`` is the trace level it was bound at, so a vmap
    of the same name started inside the function shadows it."""

    __slots__ = ("name", "size", "level")

    def __init__(self, name: str, size: int, level: int):
        self.name, self.size, self.level = name, size, level


_mesh_axes: list[MeshAxis] = []


@contextlib.contextmanager
def mesh_axes(shape: dict[str, int]) -> Iterator[None]:
    """Bind the axes of a mesh (name -> size) for collectives, inside ``shard_map``."""
    level = len(trace_mod.active_mains())
    added = [MeshAxis(n, s, level) for n, s in shape.items()]
    _mesh_axes.extend(added)
    try:
        yield
    finally:
        del _mesh_axes[len(_mesh_axes) - len(added):]


def _find_axis(axis_name, what: str = "collective"):
    """What ``axis_name`` is bound to, innermost first: an active vmap's main trace, or a
    ``MeshAxis`` of an enclosing ``shard_map``."""
    mesh_axis = next((a for a in reversed(_mesh_axes) if a.name == axis_name), None)
    for main in reversed(trace_mod.active_mains()):
        if mesh_axis is not None and main.level < mesh_axis.level:
            break
        if main.trace_type is batching.BatchTrace and main.global_data.name == axis_name:
            return main
    if mesh_axis is not None:
        return mesh_axis
    raise _unbound(what, axis_name)


def axis_size(axis_name, what: str = "axis_size") -> int:
    """The number of members of the named axis (the product, for a tuple of names)."""
    size = 1
    for name in _axis_names(axis_name):
        bound = _find_axis(name, what)
        size *= bound.size if isinstance(bound, MeshAxis) else bound.global_data.size
    return size


class _Collective(Primitive):
    """A primitive over named axes (``axis_name`` param). Binding it finds the innermost
    enclosing ``vmap`` with each of those names (a ``NameError`` when there is none) and
    lifts operands that do not belong to that vmap into it, so a collective of a value
    that does not vary over the axis (a constant, a closed-over array) still reaches the
    vmap's batching rule instead of being evaluated as if no axis were bound."""

    def bind(self, *args, **params):
        mains = [_find_axis(n, self.name) for n in _axis_names(params["axis_name"])]
        mains = [m for m in mains if not isinstance(m, MeshAxis)]
        if not mains:  # only mesh axes: staged into the per-device program
            return super().bind(*args, **params)
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


def _tree_apply(p: Primitive, x: Any, axis_name, **params):
    """``p`` bound to every leaf of the pytree ``x``."""
    leaves, tree = pytree.tree_flatten(x)
    return pytree.tree_unflatten(tree, [p.bind(as_operand(l), axis_name=axis_name, **params)
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


# ---------------------------------------------------------------------------------------
# psum_scatter: the sum over the axis, each member keeping one piece of it

psum_scatter_p = _Collective("psum_scatter")


@psum_scatter_p.def_shape
def _psum_scatter_shape(x, *, axis_name, scatter_dimension, axis_size, tiled):
    shape = list(x.shape)
    n = shape[scatter_dimension]
    if tiled and n % axis_size:
        raise ValueError(f"psum_scatter: dimension {scatter_dimension} (size {n}) is not "
                         f"divisible by the size {axis_size} of axis {axis_name!r}")
    if not tiled and n != axis_size:
        raise ValueError(f"psum_scatter(tiled=False): dimension {scatter_dimension} must have "
                         f"the size {axis_size} of axis {axis_name!r}, got {n}")
    if tiled:
        shape[scatter_dimension] = n // axis_size
    else:
        del shape[scatter_dimension]
    return ShapedArray(tuple(shape), x.dtype, x.weak_type)


@psum_scatter_p.def_impl
def _psum_scatter_impl(x, **params):
    raise _unbound("psum_scatter", params["axis_name"])


def psum_scatter(x: Any, axis_name, *, scatter_dimension: int = 0, tiled: bool = False):
    """The sum of ``x`` over the named axis, split along ``scatter_dimension``: member i
    keeps piece i (``tiled``: a slice of size ``n / axis size``; else the dimension must
    have the axis size and is dropped)."""
    def one(leaf):
        leaf = as_operand(leaf)
        nd = get_aval(leaf).ndim
        if not -nd <= scatter_dimension < nd:
            raise ValueError(f"psum_scatter: scatter_dimension {scatter_dimension} is out of "
                             f"bounds for an operand of rank {nd}")
        params = dict(axis_name=axis_name, scatter_dimension=scatter_dimension % nd,
                      axis_size=axis_size(axis_name, "psum_scatter"), tiled=bool(tiled))
        _psum_scatter_shape(get_aval(leaf), **params)  # (vmap applies no shape rule)
        return psum_scatter_p.bind(leaf, **params)
    return pytree.tree_map(one, x)


ad.deflinear(psum_scatter_p, lambda ct, x, *, axis_name, scatter_dimension, axis_size, tiled: [
    all_gather_p.bind(ct, axis_name=axis_name, axis=scatter_dimension, axis_size=axis_size,
                      tiled=tiled)])


@psum_scatter_p.def_batch
def _psum_scatter_batch(axis_data, args, dims, **params):
    (x,), (d,) = args, dims
    sd = params["scatter_dimension"]
    if params["axis_name"] != axis_data.name:
        x = batching.move_dim(x, d, 0, axis_data.size)
        return psum_scatter_p.bind(x, **{**params, "scatter_dimension": sd + 1}), 0
    n = axis_data.size
    total = mul(x, convert_element_type(n, get_aval(x).dtype)) if d is None else \
        reduce_sum(x, (d,))
    shape = list(get_aval(total).shape)
    if params["tiled"]:
        total = reshape(total, tuple(shape[:sd] + [n, shape[sd] // n] + shape[sd + 1:]))
    return batching.move_dim(total, sd, 0, n), 0


# ---------------------------------------------------------------------------------------
# ppermute: send each member's value to another member

ppermute_p = _Collective("ppermute")


@ppermute_p.def_shape
def _ppermute_shape(x, *, axis_name, perm):
    return x


@ppermute_p.def_impl
def _ppermute_impl(x, *, axis_name, perm):
    raise _unbound("ppermute", axis_name)


def ppermute(x: Any, axis_name, perm):
    """Member ``dst`` receives member ``src``'s ``x`` for each ``(src, dst)`` in ``perm``;
    members that receive nothing get zeros."""
    n = axis_size(axis_name, "ppermute")
    perm = tuple((int(s), int(t)) for s, t in perm)
    srcs, dsts = [s for s, _ in perm], [t for _, t in perm]
    if len(set(srcs)) != len(srcs) or len(set(dsts)) != len(dsts) or \
            not all(0 <= i < n for i in srcs + dsts):
        raise ValueError(f"ppermute: perm {perm} must pair distinct sources with distinct "
                         f"destinations among the {n} members of axis {axis_name!r}")
    return _tree_apply(ppermute_p, x, axis_name, perm=perm)


ad.deflinear(ppermute_p, lambda ct, x, *, axis_name, perm: [
    ppermute_p.bind(ct, axis_name=axis_name, perm=tuple((t, s) for s, t in perm))])


@ppermute_p.def_batch
def _ppermute_batch(axis_data, args, dims, *, axis_name, perm):
    (x,), (d,) = args, dims
    if axis_name != axis_data.name:
        return ppermute_p.bind(x, axis_name=axis_name, perm=perm), d
    n = axis_data.size
    x = batching.move_dim(x, d, 0, n)
    source = dict((t, s) for s, t in perm)
    zero = mul(slice_in_dim(x, 0, 1, axis=0), convert_element_type(0, get_aval(x).dtype))
    rows = [slice_in_dim(x, source[m], source[m] + 1, axis=0) if m in source else zero
            for m in range(n)]
    return concatenate(rows, 0), 0


# ---------------------------------------------------------------------------------------
# all_to_all: every member sends piece j of its value to member j

all_to_all_p = _Collective("all_to_all")  # the tiled form; all_to_all() builds the other


@all_to_all_p.def_shape
def _all_to_all_shape(x, *, axis_name, split_axis, concat_axis, axis_size):
    shape = list(x.shape)
    if shape[split_axis] % axis_size:
        raise ValueError(f"all_to_all: split_axis {split_axis} (size {shape[split_axis]}) is "
                         f"not divisible by the size {axis_size} of axis {axis_name!r}")
    shape[split_axis] //= axis_size
    shape[concat_axis] *= axis_size
    return ShapedArray(tuple(shape), x.dtype, x.weak_type)


@all_to_all_p.def_impl
def _all_to_all_impl(x, **params):
    raise _unbound("all_to_all", params["axis_name"])


def all_to_all(x: Any, axis_name, split_axis: int, concat_axis: int, *, tiled: bool = False):
    """Split ``x`` along ``split_axis`` into one piece per member of the named axis, send
    piece j to member j, and concatenate what arrives along ``concat_axis`` (in member
    order). Not ``tiled``: ``split_axis`` must have the axis size and is dropped, and a new
    axis of that size appears at ``concat_axis``."""
    n = axis_size(axis_name, "all_to_all")

    def one(leaf):
        leaf = as_operand(leaf)
        nd = get_aval(leaf).ndim
        if not (0 <= split_axis < nd and 0 <= concat_axis < nd + (not tiled)):
            raise ValueError(f"all_to_all: split_axis {split_axis} / concat_axis "
                             f"{concat_axis} out of bounds for an operand of rank {nd}")
        if tiled:
            params = dict(axis_name=axis_name, split_axis=split_axis,
                          concat_axis=concat_axis, axis_size=n)
            _all_to_all_shape(get_aval(leaf), **params)  # (vmap applies no shape rule)
            return all_to_all_p.bind(leaf, **params)
        if get_aval(leaf).shape[split_axis] != n:
            raise ValueError(f"all_to_all(tiled=False): split_axis {split_axis} must have "
                             f"the size {n} of axis {axis_name!r}, got "
                             f"{get_aval(leaf).shape[split_axis]}")
        y = expand_dims(leaf, (concat_axis,))
        s = split_axis + (split_axis >= concat_axis)
        y = all_to_all_p.bind(y, axis_name=axis_name, split_axis=s, concat_axis=concat_axis,
                              axis_size=n)
        return squeeze(y, (s,))
    return pytree.tree_map(one, x)


ad.deflinear(all_to_all_p, lambda ct, x, *, axis_name, split_axis, concat_axis, axis_size: [
    all_to_all_p.bind(ct, axis_name=axis_name, split_axis=concat_axis, concat_axis=split_axis,
                      axis_size=axis_size)])


@all_to_all_p.def_batch
def _all_to_all_batch(axis_data, args, dims, *, axis_name, split_axis, concat_axis,
                      axis_size):
    (x,), (d,) = args, dims
    n = axis_data.size
    x = batching.move_dim(x, d, 0, n)
    if axis_name != axis_data.name:
        return all_to_all_p.bind(x, axis_name=axis_name, split_axis=split_axis + 1,
                                 concat_axis=concat_axis + 1, axis_size=axis_size), 0
    s = list(get_aval(x).shape[1:])
    piece = s[split_axis] // n
    # (member i, ..., piece j, chunk, ...) -> (j, i, ...): j is the receiving member.
    y = reshape(x, (n, *s[:split_axis], n, piece, *s[split_axis + 1:]))
    y = batching.move_dim(y, split_axis + 1, 0, n)
    s[split_axis] = piece
    # i, the sender, becomes the major part of the concatenated axis.
    y = batching.move_dim(y, 1, 1 + concat_axis, n)
    out = s[:concat_axis] + [n * s[concat_axis]] + s[concat_axis + 1:]
    return reshape(y, (n, *out)), 0
