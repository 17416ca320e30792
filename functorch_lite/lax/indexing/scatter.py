"""``scatter`` and its combining variants (``scatter_add``, ``scatter_mul``,
``scatter_min``, ``scatter_max``): write one block per index vector, with their shape,
derivative and batching rules."""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from functorch_lite.core import dtypes
from functorch_lite.core.avals import ShapedArray, get_aval
from functorch_lite.core.primitive import Primitive
from functorch_lite.interpreters import ad, batching
from functorch_lite.interpreters.transpose import is_undefined
from functorch_lite.lax import elementwise as ew
from functorch_lite.lax import shapes
from functorch_lite.lax._common import (as_operand, check_dtype, is_python_scalar, operands,
                                        scalar_like, shape_str)
from functorch_lite.lax.indexing._params import (GatherScatterMode, ScatterDimensionNumbers,
                                                 _aval_of, _canonical_dnums,
                                                 _check_batching_dims, _check_dims,
                                                 _check_flag, _check_in_range,
                                                 _check_index_dtype, _check_unique,
                                                 _has_tangent, _plus1, _zero_tangent, _zeros)
from functorch_lite.lax.indexing.gather import _gather_back


# ---------------------------------------------------------------------------------------
# scatter

def _scatter_shape(name, kinds, operand, indices, updates, *, dimension_numbers,
                   indices_are_sorted, unique_indices, mode):
    dn = dimension_numbers
    if operand.dtype != updates.dtype:
        raise TypeError(f"{name} requires operand and updates of the same dtype, got "
                        f"{dtypes.to_numpy_dtype_name(operand.dtype)} and "
                        f"{dtypes.to_numpy_dtype_name(updates.dtype)}")
    check_dtype(name, operand, kinds)
    _check_index_dtype(name, "scatter_indices", indices)
    if indices.ndim == 0:
        raise TypeError(f"{name}: scatter_indices must have rank >= 1 (its last axis holds the "
                        "index vectors), got a scalar")
    n_index = indices.shape[-1]
    expected_rank = indices.ndim - 1 + len(dn.update_window_dims)
    if updates.ndim != expected_rank:
        raise TypeError(f"{name}: updates of shape {shape_str(updates.shape)} must have rank "
                        f"{expected_rank} (the {indices.ndim - 1} batch axes of scatter_indices "
                        f"of shape {shape_str(indices.shape)} plus "
                        f"{len(dn.update_window_dims)} update_window_dims)")

    _check_dims(name, "update_window_dims", dn.update_window_dims, updates.ndim, "updates")

    _check_dims(name, "inserted_window_dims", dn.inserted_window_dims, operand.ndim,
                "operand")
    _check_batching_dims(name, operand, indices, dn.operand_batching_dims, "scatter_indices",
                         dn.scatter_indices_batching_dims,
                         ("inserted_window_dims", dn.inserted_window_dims),
                         ("scatter_dims_to_operand_dims", dn.scatter_dims_to_operand_dims))

    n_dims = (len(dn.update_window_dims) + len(dn.inserted_window_dims)
              + len(dn.operand_batching_dims))
    if n_dims != operand.ndim:
        raise TypeError(f"{name}: every operand axis must be exactly one of a window axis, an "
                        f"inserted axis or a batching axis; the operand has rank "
                        f"{operand.ndim} but update_window_dims={dn.update_window_dims}, "
                        f"inserted_window_dims={dn.inserted_window_dims}, "
                        f"operand_batching_dims={dn.operand_batching_dims} account for "
                        f"{n_dims}")

    if len(dn.scatter_dims_to_operand_dims) != n_index:
        raise TypeError(f"{name}: scatter_dims_to_operand_dims "
                        f"{dn.scatter_dims_to_operand_dims} has "
                        f"{len(dn.scatter_dims_to_operand_dims)} entries but the index vectors "
                        f"(last axis of scatter_indices of shape {shape_str(indices.shape)}) "
                        f"have {n_index}; they must be equal")
    _check_in_range(name, "scatter_dims_to_operand_dims", dn.scatter_dims_to_operand_dims,
                    operand.ndim, "operand")
    _check_unique(name, "scatter_dims_to_operand_dims", dn.scatter_dims_to_operand_dims)

    skip = set(dn.inserted_window_dims) | set(dn.operand_batching_dims)
    window_operand_dims = [d for d in range(operand.ndim) if d not in skip]
    for u, d in zip(dn.update_window_dims, window_operand_dims):
        if updates.shape[u] > operand.shape[d]:
            raise TypeError(f"{name}: updates window axis {u} has size {updates.shape[u]}, "
                            f"larger than operand axis {d} of size {operand.shape[d]} "
                            f"(updates {shape_str(updates.shape)}, operand "
                            f"{shape_str(operand.shape)})")
    scatter_axes = [d for d in range(updates.ndim) if d not in dn.update_window_dims]
    got = tuple(updates.shape[d] for d in scatter_axes)
    if got != indices.shape[:-1]:
        raise TypeError(f"{name}: the non-window axes {tuple(scatter_axes)} of updates of shape "
                        f"{shape_str(updates.shape)} have sizes {got}, but must equal the "
                        f"batch axes of scatter_indices of shape {shape_str(indices.shape)}, "
                        f"{shape_str(indices.shape[:-1])}")
    return ShapedArray(operand.shape, operand.dtype, operand.weak_type)


def _scatter_primitive(name: str, kinds: str) -> Primitive:
    p = Primitive(name)

    def rule(operand, indices, updates, **params):
        return _scatter_shape(name, kinds, operand, indices, updates, **params)
    p.def_shape(rule)
    return p


scatter_p = _scatter_primitive("scatter", "biufc")
scatter_add_p = _scatter_primitive("scatter_add", "iufc")
scatter_mul_p = _scatter_primitive("scatter_mul", "iufc")
scatter_min_p = _scatter_primitive("scatter_min", "biuf")
scatter_max_p = _scatter_primitive("scatter_max", "biuf")


def _scatter_bind(p: Primitive, operand, scatter_indices, updates, dimension_numbers,
                  indices_are_sorted, unique_indices, mode):
    name = p.name
    operand, updates = operands((operand, updates))  # the shape rule checks dtypes
    scatter_indices = as_operand(scatter_indices)
    if is_python_scalar(scatter_indices):
        raise TypeError(f"{name}: scatter_indices must be an integer array of rank >= 1 (its "
                        f"last axis holds the index vectors), got {scatter_indices!r}")
    dnums = _canonical_dnums(name, dimension_numbers, ScatterDimensionNumbers)
    return p.bind(operand, scatter_indices, updates, dimension_numbers=dnums,
                  indices_are_sorted=_check_flag(name, "indices_are_sorted",
                                                 indices_are_sorted),
                  unique_indices=_check_flag(name, "unique_indices", unique_indices),
                  mode=GatherScatterMode.from_any(mode))


def scatter(operand: Any, scatter_indices: Any, updates: Any,
            dimension_numbers: ScatterDimensionNumbers, *, indices_are_sorted: bool = False,
            unique_indices: bool = False, mode: Any = None):
    """``operand`` with one block of ``updates`` written per index vector (last axis of
    ``scatter_indices``), placed as ``dimension_numbers`` says (see the module docstring);
    with repeated indices, which write wins is unspecified. ``mode=None``/``'drop'`` skips
    out-of-bounds blocks, ``'clip'`` clamps them in. ``x.at[idx].set(u)`` for ``x: f32[5, 3]``,
    ``idx: i32[4]``, ``u: f32[4, 3]`` is ``scatter(x, idx[:, None], u,
    ScatterDimensionNumbers((1,), (0,), (0,)))``, of shape ``(5, 3)``."""
    return _scatter_bind(scatter_p, operand, scatter_indices, updates, dimension_numbers,
                         indices_are_sorted, unique_indices, mode)


def scatter_add(operand: Any, scatter_indices: Any, updates: Any,
                dimension_numbers: ScatterDimensionNumbers, *, indices_are_sorted: bool = False,
                unique_indices: bool = False, mode: Any = None):
    """Like :func:`scatter`, but each block is added to what is there (repeated indices
    accumulate): ``x.at[idx].add(u)``. ``scatter_add(zeros_f32[3], [[0], [0]], [1., 2.],
    ScatterDimensionNumbers((), (0,), (0,)))`` is ``[3., 0., 0.]``."""
    return _scatter_bind(scatter_add_p, operand, scatter_indices, updates, dimension_numbers,
                         indices_are_sorted, unique_indices, mode)


def scatter_mul(operand: Any, scatter_indices: Any, updates: Any,
                dimension_numbers: ScatterDimensionNumbers, *, indices_are_sorted: bool = False,
                unique_indices: bool = False, mode: Any = None):
    """Like :func:`scatter`, but each block multiplies what is there: ``x.at[idx].multiply(u)``.
    ``scatter_mul(ones_f32[3], [[1], [1]], [2., 3.], ScatterDimensionNumbers((), (0,), (0,)))``
    is ``[1., 6., 1.]``."""
    return _scatter_bind(scatter_mul_p, operand, scatter_indices, updates, dimension_numbers,
                         indices_are_sorted, unique_indices, mode)


def scatter_min(operand: Any, scatter_indices: Any, updates: Any,
                dimension_numbers: ScatterDimensionNumbers, *, indices_are_sorted: bool = False,
                unique_indices: bool = False, mode: Any = None):
    """Like :func:`scatter`, but keeps the minimum of each block and what is there:
    ``x.at[idx].min(u)``. ``scatter_min(f32[3] of 5s, [[2]], [1.], ScatterDimensionNumbers((),
    (0,), (0,)))`` is ``[5., 5., 1.]``."""
    return _scatter_bind(scatter_min_p, operand, scatter_indices, updates, dimension_numbers,
                         indices_are_sorted, unique_indices, mode)


def scatter_max(operand: Any, scatter_indices: Any, updates: Any,
                dimension_numbers: ScatterDimensionNumbers, *, indices_are_sorted: bool = False,
                unique_indices: bool = False, mode: Any = None):
    """Like :func:`scatter`, but keeps the maximum of each block and what is there:
    ``x.at[idx].max(u)``. ``scatter_max(zeros_f32[3], [[0]], [4.], ScatterDimensionNumbers((),
    (0,), (0,)))`` is ``[4., 0., 0.]``."""
    return _scatter_bind(scatter_max_p, operand, scatter_indices, updates, dimension_numbers,
                         indices_are_sorted, unique_indices, mode)


# ---------------------------------------------------------------------------------------
# Derivative rules (see _params for which are linear)

# -- scatter_add -------------------------------------------------------------------------

def _scatter_add_jvp(primals, tangents, **params):
    operand, indices, updates = primals
    t_operand, _, t_updates = tangents
    out = scatter_add_p.bind(operand, indices, updates, **params)
    if not _has_tangent(out, t_operand, t_updates):
        return out, _zero_tangent(out)
    return out, scatter_add_p.bind(ad.instantiate(t_operand), indices,
                                   ad.instantiate(t_updates), **params)


def _scatter_add_transpose(ct, operand, indices, updates, *, dimension_numbers,
                           indices_are_sorted, unique_indices, mode):
    if type(ct) is ad.Zero:
        return [None, None, None]
    ct_operand = ct if is_undefined(operand) else None
    ct_updates = None
    if is_undefined(updates):
        ct_updates = _gather_back(ct, indices, dimension_numbers, updates.aval.shape, mode,
                                  indices_are_sorted, unique_indices)
    return [ct_operand, None, ct_updates]


scatter_add_p.def_jvp(_scatter_add_jvp)
scatter_add_p.def_transpose(_scatter_add_transpose)


# -- scatter -----------------------------------------------------------------------------

def _update_ids(updates_shape: Sequence[int], dn: ScatterDimensionNumbers):
    """An int32 array shaped like the updates: 1, 2, ... numbering the update blocks (every
    element of a block has its block's number)."""
    ids_shape = tuple(1 if d in dn.update_window_dims else s
                      for d, s in enumerate(updates_shape))
    i32 = np.dtype(np.int32)
    ids = shapes.reshape(shapes.iota(i32, math.prod(ids_shape)), ids_shape)
    ids = ew.add(ids, scalar_like(1, i32, weak_type=False))
    return shapes.broadcast_in_dim(ids, tuple(updates_shape), tuple(range(len(ids_shape))))


def _scatter_jvp(primals, tangents, *, dimension_numbers, indices_are_sorted,
                 unique_indices, mode):
    operand, indices, updates = primals
    t_operand, _, t_updates = tangents
    dn = dimension_numbers
    params = dict(dimension_numbers=dn, indices_are_sorted=indices_are_sorted,
                  unique_indices=unique_indices, mode=mode)
    if (not dtypes.is_inexact(get_aval(operand).dtype)
            or all(type(t) is ad.Zero for t in (t_operand, t_updates))):
        out = scatter_p.bind(operand, indices, updates, **params)
        return out, _zero_tangent(out)
    t_operand, t_updates = ad.instantiate(t_operand), ad.instantiate(t_updates)
    if unique_indices:  # every element is written at most once: scatter the tangents alike
        return (scatter_p.bind(operand, indices, updates, **params),
                scatter_p.bind(t_operand, indices, t_updates, **params))
    # With repeated indices, which write wins is unspecified, and the tangent must come from
    # the same winner as the value. So find the winners once: scatter the update numbers
    # (1, 2, ...), read back which number landed where each update was going, and keep only
    # the winning updates (and the operand elements nobody wrote). Both value and tangent
    # are then sums of the kept elements (a scatter_add, which also transposes).
    ids = _update_ids(get_aval(updates).shape, dn)
    i32 = np.dtype(np.int32)
    written = scatter_p.bind(shapes.full(get_aval(operand).shape, 0, i32), indices, ids,
                             **params)
    won = ew.eq(ids, _gather_back(written, indices, dn, get_aval(updates).shape, mode,
                                  indices_are_sorted, unique_indices))
    kept = ew.eq(written, scalar_like(0, i32, weak_type=False))

    def combine(x, u):
        return scatter_add_p.bind(ew.select(kept, x, _zeros(get_aval(x))), indices,
                                  ew.select(won, u, _zeros(get_aval(u))), **params)
    return combine(operand, updates), combine(t_operand, t_updates)


def _scatter_transpose(ct, operand, indices, updates, *, dimension_numbers,
                       indices_are_sorted, unique_indices, mode):
    # Linear in (operand, updates) jointly only when no element is written twice (otherwise
    # the cotangent of a written element belongs to an unspecified one of its writers). The
    # jvp above only leaves scatters with unique indices in linear programs.
    if not unique_indices:
        raise NotImplementedError("scatter: transpose (reverse-mode differentiation) is only "
                                  "defined for unique_indices=True")
    if type(ct) is ad.Zero:
        return [None, None, None]
    params = dict(dimension_numbers=dimension_numbers, indices_are_sorted=indices_are_sorted,
                  unique_indices=unique_indices, mode=mode)
    updates_aval = _aval_of(updates)
    ct_operand = ct_updates = None
    if is_undefined(operand):  # overwritten elements do not reach the output
        ct_operand = scatter_p.bind(ct, indices, _zeros(updates_aval), **params)
    if is_undefined(updates):
        ct_updates = _gather_back(ct, indices, dimension_numbers, updates_aval.shape, mode,
                                  indices_are_sorted, unique_indices)
    return [ct_operand, None, ct_updates]


scatter_p.def_jvp(_scatter_jvp)
scatter_p.def_transpose(_scatter_transpose)


# -- scatter_mul -------------------------------------------------------------------------

def _products_without_each(operand_aval: ShapedArray, indices, updates, dn, params):
    """For each update element ``u_k``, the product of the *other* updates written to the
    same operand element (``prod_{j != k} u_j``), computed without dividing by zero: with
    the count ``z`` of zero updates at that element and the product ``p`` of its non-zero
    ones, it is ``p / u_k`` if ``z == 0``, ``p`` if ``u_k`` is the single zero, else 0.

    Its value is exact everywhere, so scatter_mul's first derivative is; its own derivative
    (scatter_mul's second derivative) is exact except at updates that are exactly 0 and
    share their element with another update (the zero branches are constant there)."""
    dt = get_aval(updates).dtype
    is_zero = ew.eq(updates, scalar_like(0, dt, weak_type=False))
    ones = shapes.full(get_aval(updates).shape, 1, dt)
    safe = ew.select(is_zero, ones, updates)
    prod_nonzero = scatter_mul_p.bind(shapes.full(operand_aval.shape, 1, dt), indices, safe,
                                      **params)
    i32 = np.dtype(np.int32)
    n_zero = scatter_add_p.bind(shapes.full(operand_aval.shape, 0, i32), indices,
                                ew.convert_element_type(is_zero, i32), **params)
    shape = get_aval(updates).shape
    mode = params["mode"]
    p = _gather_back(prod_nonzero, indices, dn, shape, mode)
    z = _gather_back(n_zero, indices, dn, shape, mode)
    zero = shapes.full(shape, 0, dt)
    z_is = lambda n: ew.eq(z, scalar_like(n, i32, weak_type=False))  # noqa: E731
    return ew.select(is_zero, ew.select(z_is(1), p, zero),
                     ew.select(z_is(0), ew.div(p, safe), zero))


def _scatter_mul_jvp(primals, tangents, *, dimension_numbers, indices_are_sorted,
                     unique_indices, mode):
    # out = x * prod_k u_k (over the updates written to each element), so
    # d out = dx * prod_k u_k + x * sum_k du_k * prod_{j != k} u_j.
    operand, indices, updates = primals
    t_operand, _, t_updates = tangents
    params = dict(dimension_numbers=dimension_numbers, indices_are_sorted=indices_are_sorted,
                  unique_indices=unique_indices, mode=mode)
    out = scatter_mul_p.bind(operand, indices, updates, **params)
    if not _has_tangent(out, t_operand, t_updates):
        return out, _zero_tangent(out)
    t_out: Any = _zero_tangent(out)
    if type(t_operand) is not ad.Zero:
        t_out = scatter_mul_p.bind(t_operand, indices, updates, **params)
    if type(t_updates) is not ad.Zero:
        if not unique_indices:  # with unique indices, the product of the others is 1
            t_updates = ew.mul(t_updates, _products_without_each(
                get_aval(operand), indices, updates, dimension_numbers, params))
        summed = scatter_add_p.bind(_zeros(get_aval(out)), indices, t_updates, **params)
        t_out = ad.add_tangents(t_out, ew.mul(operand, summed))
    return out, t_out


def _scatter_mul_transpose(ct, operand, indices, updates, *, dimension_numbers,
                           indices_are_sorted, unique_indices, mode):
    # Linear in the operand alone (each element is scaled by its product of updates: a
    # diagonal map, its own transpose).
    if is_undefined(updates):
        raise NotImplementedError("scatter_mul: transpose is only defined with respect to "
                                  "the operand (it is not linear in its updates)")
    if type(ct) is ad.Zero or not is_undefined(operand):
        return [None, None, None]
    return [scatter_mul_p.bind(ct, indices, updates, dimension_numbers=dimension_numbers,
                               indices_are_sorted=indices_are_sorted,
                               unique_indices=unique_indices, mode=mode), None, None]


scatter_mul_p.def_jvp(_scatter_mul_jvp)
scatter_mul_p.def_transpose(_scatter_mul_transpose)


# -- scatter_min / scatter_max -----------------------------------------------------------

def _scatter_extremum_jvp(p: Primitive):
    """The tangent of the value that wins; where several equal values tie (the operand
    and/or updates), their tangents are averaged, as for ``max``/``min``."""
    def rule(primals, tangents, *, dimension_numbers, indices_are_sorted, unique_indices,
             mode):
        operand, indices, updates = primals
        t_operand, _, t_updates = tangents
        dn = dimension_numbers
        params = dict(dimension_numbers=dn, indices_are_sorted=indices_are_sorted,
                      unique_indices=unique_indices, mode=mode)
        out = p.bind(operand, indices, updates, **params)
        if not _has_tangent(out, t_operand, t_updates):
            return out, _zero_tangent(out)
        out_aval = get_aval(out)
        dt = out_aval.dtype
        updates_shape = get_aval(updates).shape
        as_float = lambda b: ew.convert_element_type(b, dt)  # noqa: E731
        update_won = as_float(ew.eq(updates, _gather_back(out, indices, dn, updates_shape,
                                                          mode)))
        n_updates_won = scatter_add_p.bind(_zeros(out_aval), indices, update_won, **params)
        zero = scalar_like(0, dt, weak_type=False)
        # The operand wins where it equals the result, and where no update won at all
        # (no update reached the element, or NaNs compare unequal).
        operand_won = as_float(ew.bitwise_or(ew.eq(operand, out), ew.eq(n_updates_won, zero)))
        count = ew.add(operand_won, n_updates_won)
        t_out: Any = _zero_tangent(out)
        if type(t_operand) is not ad.Zero:
            t_out = ew.mul(t_operand, operand_won)
        if type(t_updates) is not ad.Zero:
            t_out = ad.add_tangents(t_out, scatter_add_p.bind(
                _zeros(out_aval), indices, ew.mul(t_updates, update_won), **params))
        return out, ew.div(t_out, count)
    return rule


scatter_min_p.def_jvp(_scatter_extremum_jvp(scatter_min_p))
scatter_max_p.def_jvp(_scatter_extremum_jvp(scatter_max_p))


# ---------------------------------------------------------------------------------------
# Batching rule: see the package docstring.

def _scatter_batch(p: Primitive):
    def rule(axis, args, dims, *, dimension_numbers, **params):
        operand, indices, updates = args
        operand_dim, indices_dim, updates_dim = dims
        dn = dimension_numbers
        # the result is batched: the operand gets a batch axis even when it has none
        operand = batching.bdim_at_front(operand, operand_dim, axis.size)
        updates = batching.bdim_at_front(updates, updates_dim, axis.size)
        if indices_dim is None:  # the batch axis is one more axis of every block
            dn = ScatterDimensionNumbers(
                update_window_dims=(0,) + _plus1(dn.update_window_dims),
                inserted_window_dims=_plus1(dn.inserted_window_dims),
                scatter_dims_to_operand_dims=_plus1(dn.scatter_dims_to_operand_dims),
                operand_batching_dims=_plus1(dn.operand_batching_dims),
                scatter_indices_batching_dims=dn.scatter_indices_batching_dims)
        else:  # index batch b writes into operand slab b
            indices = batching.bdim_at_front(indices, indices_dim, axis.size)
            dn = ScatterDimensionNumbers(
                update_window_dims=_plus1(dn.update_window_dims),
                inserted_window_dims=_plus1(dn.inserted_window_dims),
                scatter_dims_to_operand_dims=_plus1(dn.scatter_dims_to_operand_dims),
                operand_batching_dims=(0,) + _plus1(dn.operand_batching_dims),
                scatter_indices_batching_dims=(0,) + _plus1(dn.scatter_indices_batching_dims))
        return p.bind(operand, indices, updates, dimension_numbers=dn, **params), 0
    return rule


for _p in (scatter_p, scatter_add_p, scatter_mul_p, scatter_min_p, scatter_max_p):
    _p.def_batch(_scatter_batch(_p))
