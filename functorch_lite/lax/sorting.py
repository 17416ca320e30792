"""Sorting: ``sort`` (one or several arrays along a dimension, by one or more keys),
``sort_key_val`` and ``top_k``.

Floating-point keys sort the way NumPy and JAX sort them: ascending, ``-0.0`` equal to
``0.0`` (a stable sort keeps their order), and every NaN, whatever its sign, after
``+inf``. Complex keys sort by real part, then imaginary part.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from functorch_lite.core import dtypes
from functorch_lite.core.avals import ShapedArray, get_aval
from functorch_lite.core.primitive import Primitive
from functorch_lite.interpreters import ad, batching
from functorch_lite.interpreters.transpose import is_undefined
from functorch_lite.lax import indexing as _indexing
from functorch_lite.lax import shapes as _shapes
from functorch_lite.lax._common import as_operand, check_dtype, normalize_axis

__all__ = ["sort", "sort_key_val", "top_k"]


# ---------------------------------------------------------------------------------------
# sort

sort_p = Primitive("sort", multiple_results=True)


@sort_p.def_shape
def _sort_shape(*operands, dimension, is_stable, num_keys):
    if not operands:
        raise TypeError("sort needs at least one operand")
    first = operands[0]
    if any(a.shape != first.shape for a in operands[1:]):
        raise TypeError("sort: all operands must have the same shape, got "
                        + ", ".join(str(a.shape) for a in operands))
    if first.ndim == 0:
        raise TypeError("sort: operands must have rank >= 1, got a rank-0 array")
    if isinstance(dimension, bool) or not isinstance(dimension, int) \
            or not 0 <= dimension < first.ndim:
        raise ValueError(f"sort: dimension {dimension!r} is out of bounds for an array of "
                         f"rank {first.ndim} (shape {first.shape})")
    if not isinstance(is_stable, bool):
        raise TypeError(f"sort: is_stable must be a bool, got {is_stable!r}")
    if isinstance(num_keys, bool) or not isinstance(num_keys, int) \
            or not 1 <= num_keys <= len(operands):
        raise ValueError(f"sort: num_keys must be between 1 and the number of operands "
                         f"({len(operands)}), got {num_keys!r}")
    return list(operands)


def sort(operand: Any, dimension: int = -1, is_stable: bool = True, num_keys: int = 1):
    """Sort ``operand`` along ``dimension``, ascending.

    ``operand`` is an array, or a sequence of arrays of one shape that are permuted
    together: the first ``num_keys`` of them are the keys, compared lexicographically,
    and a tuple of sorted arrays is returned. ``is_stable=True`` keeps equal keys in their
    original order. Example: ``sort((k, v), num_keys=1)`` with ``k: f32[2, 5]`` and
    ``v: i32[2, 5]`` sorts each row of ``k`` and applies the same permutation to ``v``.
    """
    single = not isinstance(operand, (list, tuple))
    operands = [as_operand(x) for x in ([operand] if single else operand)]
    if not operands:
        raise TypeError("sort needs at least one operand")
    ndim = get_aval(operands[0]).ndim
    if ndim == 0:
        raise TypeError("sort: operands must have rank >= 1, got a rank-0 array")
    dimension = normalize_axis("sort", dimension, ndim)
    if isinstance(num_keys, bool) or not isinstance(num_keys, (int, np.integer)):
        raise TypeError(f"sort: num_keys must be an integer, got {num_keys!r}")
    outs = sort_p.bind(*operands, dimension=dimension, is_stable=bool(is_stable),
                       num_keys=int(num_keys))
    return outs[0] if single else tuple(outs)


def sort_key_val(keys: Any, values: Any, dimension: int = -1, is_stable: bool = True):
    """Sort ``keys`` along ``dimension`` and permute ``values`` (same shape) the same way.

    Returns ``(sorted_keys, permuted_values)``. Example: ``sort_key_val(k, iota)`` with
    ``k: f32[5]`` and ``iota = [0, 1, 2, 3, 4]`` gives the sorted keys and a stable argsort.
    """
    return sort((keys, values), dimension=dimension, is_stable=is_stable, num_keys=1)


# sort permutes: the tangents of its operands are permuted the same way, by sorting them
# as extra (non-key) operands beside the keys. So sort is linear in its non-key operands
# for fixed keys, and its transpose applies the inverse permutation: sorting the
# cotangents by the permutation itself. top_k gathers the tangents at its indices.

def _sort_jvp(primals, tangents, *, dimension, is_stable, num_keys):
    out = sort_p.bind(*primals, dimension=dimension, is_stable=is_stable, num_keys=num_keys)
    moving = [i for i, t in enumerate(tangents) if type(t) is not ad.Zero]
    # A separate sort (the same keys, so the same permutation) keeps the primal outputs
    # independent of the tangents.
    sorted_t = sort_p.bind(*primals[:num_keys], *[tangents[i] for i in moving],
                           dimension=dimension, is_stable=is_stable, num_keys=num_keys)
    tangents_out = [ad.Zero(ad.tangent_aval(get_aval(o))) for o in out]
    for i, t in zip(moving, sorted_t[num_keys:]):
        tangents_out[i] = t
    return out, tangents_out


def _sort_transpose(cts, *operands, dimension, is_stable, num_keys):
    keys = operands[:num_keys]
    if any(is_undefined(k) for k in keys):
        raise NotImplementedError("sort: transpose (reverse-mode differentiation) with "
                                  "respect to the sort keys; sort is linear only in its "
                                  "non-key operands")
    wanted = [i for i in range(num_keys, len(operands))
              if is_undefined(operands[i]) and type(cts[i]) is not ad.Zero]
    out: list = [None] * len(operands)
    if not wanted:
        return out
    shape = get_aval(keys[0]).shape
    iota = _shapes.broadcasted_iota(np.int32, shape, dimension)
    perm = sort_p.bind(*keys, iota, dimension=dimension, is_stable=is_stable,
                       num_keys=num_keys)[-1]
    # Output position i came from perm[i]; sorting by perm sends it back there.
    back = sort_p.bind(perm, *[cts[i] for i in wanted], dimension=dimension,
                       is_stable=False, num_keys=1)
    for i, ct in zip(wanted, back[1:]):
        out[i] = ct
    return out


sort_p.def_jvp(_sort_jvp)
sort_p.def_transpose(_sort_transpose)


@sort_p.def_batch
def _sort_batch(axis, args, dims, *, dimension, is_stable, num_keys):
    # Every operand gets its batch axis where the first batched one has it (unbatched
    # operands are broadcast); the sorted dimension is renumbered around it.
    target = next(d for d in dims if d is not None)
    xs = [batching.move_dim(x, d, target, axis.size) for x, d in zip(args, dims)]
    outs = sort_p.bind(*xs, dimension=dimension + (dimension >= target),
                       is_stable=is_stable, num_keys=num_keys)
    return outs, [target] * len(outs)


# ---------------------------------------------------------------------------------------
# top_k

top_k_p = Primitive("top_k", multiple_results=True)


@top_k_p.def_shape
def _top_k_shape(operand, *, k):
    check_dtype("top_k", operand, "biuf")
    if operand.ndim == 0:
        raise TypeError("top_k: operand must have rank >= 1, got a rank-0 array")
    if isinstance(k, bool) or not isinstance(k, int):
        raise TypeError(f"top_k: k must be an integer, got {k!r}")
    n = operand.shape[-1]
    if not 0 <= k <= n:
        raise ValueError(f"top_k: k must be between 0 and the size of the last axis; got "
                         f"k={k} for shape {operand.shape}")
    if n - 1 > dtypes.iinfo(np.int32).max:
        raise ValueError(f"top_k: the last axis of shape {operand.shape} is too long for "
                         "int32 indices")
    shape = operand.shape[:-1] + (k,)
    return [ShapedArray(shape, operand.dtype, operand.weak_type),
            ShapedArray(shape, np.int32, False)]


def top_k(operand: Any, k: int):
    """The ``k`` largest elements along the last axis, largest first, and their indices.

    Returns ``(values, indices)`` with shape ``operand.shape[:-1] + (k,)``; indices are
    int32. Equal values come in index order. Floats are ordered as by ``jax.lax.top_k``
    (IEEE total order: NaN first, then +inf, ..., ``0.0`` before ``-0.0``, and ``-NaN``
    last). Example: ``top_k(x, 2)`` with ``x: f32[3, 10]`` gives ``f32[3, 2], i32[3, 2]``.
    """
    operand = as_operand(operand)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"top_k: k must be an integer, got {k!r}")
    return tuple(top_k_p.bind(operand, k=int(k)))


def _take_along_last_axis(x: Any, indices: Any):
    """``x[..., indices[..., j]]`` for each ``j``: a gather whose leading axes are batch
    axes shared by ``x`` and ``indices``."""
    rank = get_aval(x).ndim
    lead = tuple(range(rank - 1))
    dnums = _indexing.GatherDimensionNumbers(
        offset_dims=(), collapsed_slice_dims=(rank - 1,), start_index_map=(rank - 1,),
        operand_batching_dims=lead, start_indices_batching_dims=lead)
    idx_shape = get_aval(indices).shape
    return _indexing.gather(
        x, _shapes.reshape(indices, idx_shape + (1,)), dnums, (1,) * rank,
        mode=_indexing.GatherScatterMode.PROMISE_IN_BOUNDS)


def _top_k_jvp(primals, tangents, *, k):
    (x,), (g,) = primals, tangents
    values, indices = top_k_p.bind(x, k=k)
    return ([values, indices],
            [_take_along_last_axis(ad.instantiate(g), indices),
             ad.Zero(ad.tangent_aval(get_aval(indices)))])


top_k_p.def_jvp(_top_k_jvp)


@top_k_p.def_batch
def _top_k_batch(axis, args, dims, *, k):
    # top_k works on the last axis; a batch axis there moves to the front.
    (x,), (d,) = args, dims
    if d == get_aval(x).ndim - 1:
        x, d = batching.move_dim(x, d, 0, axis.size), 0
    values, indices = top_k_p.bind(x, k=k)
    return [values, indices], [d, d]
