"""``jax.lax``'s parallel-prefix scan and the small helpers JAX builds from other primitives.

``associative_scan`` runs any associative binary function as an inclusive prefix scan of
``O(log n)`` depth: strided slices pair neighbours, a half-length scan recurses, and the
two halves of the answer are interleaved back. ``cumlogsumexp`` is that scan over a
stable ``logaddexp``. ``split``, ``batch_matmul``, ``broadcast_shapes`` and ``tile`` are
thin compositions of existing primitives (slices, ``dot_general``, ``broadcast_in_dim`` and
``reshape``), so every transformation rule they need already exists: nothing here is a new
primitive.

Only ``lax`` submodules are imported (never ``functorch_lite.lax`` itself or
``functorch_lite.numpy``), so ``lax/__init__`` may import this module without a cycle.
"""
from __future__ import annotations

import operator
from typing import Any, Callable, Sequence

import numpy as np

from functorch_lite.core import dtypes, pytree
from functorch_lite.core.avals import get_aval
from functorch_lite.lax import elementwise as ew
from functorch_lite.lax._common import as_operand, scalar_like
from functorch_lite.lax.custom_derivatives import custom_jvp
from functorch_lite.lax.linalg import dot_general
from functorch_lite.lax.reductions._axes import normalize_one_axis
from functorch_lite.lax.shapes import (broadcast_in_dim, concatenate, expand_dims, full_like,
                                       reshape, rev, slice_in_dim)

__all__ = ["associative_scan", "cumlogsumexp", "split", "batch_matmul", "broadcast_shapes",
           "tile"]


def _canonical_axis(axis: Any, ndim: int) -> int:
    """``axis`` in ``[-ndim, ndim)`` as a non-negative int; JAX's TypeError for a
    non-integer and ValueError for an axis the array does not have."""
    axis = operator.index(axis)
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis} is out of bounds for array of dimension {ndim}")
    return axis % ndim


# ---------------------------------------------------------------------------------------
# associative_scan

def _interleave(evens: Any, odds: Any, axis: int) -> Any:
    """``[e0, o0, e1, o1, ...]`` along ``axis``; ``evens`` is as long as ``odds`` or one
    longer. Stacking on a new axis and merging it is exact (a zero-padded sum would turn
    ``-0.0`` into ``0.0``) and needs no bool special case."""
    n_even, n_odd = get_aval(evens).shape[axis], get_aval(odds).shape[axis]
    if n_odd < n_even:
        # A filler slot so both halves have one length; it lands last and is cut off.
        odds = concatenate([odds, slice_in_dim(evens, 0, 1, axis=axis)], axis)
    pairs = concatenate([expand_dims(evens, (axis + 1,)), expand_dims(odds, (axis + 1,))],
                        axis + 1)
    shape = list(get_aval(evens).shape)
    shape[axis] *= 2
    out = reshape(pairs, tuple(shape))
    return out if n_odd == n_even else slice_in_dim(out, 0, n_even + n_odd, axis=axis)


def associative_scan(fn: Callable, elems: Any, reverse: bool = False, axis: int = 0) -> Any:
    """Inclusive prefix scan of ``elems`` along ``axis`` under the associative ``fn``.

    ``elems`` is a pytree of arrays that all have the same length ``n`` along ``axis``.
    ``fn(a, b)`` combines two pytrees of that structure whose leaves are slices of the
    leaves (the ``axis`` dimension kept, of any length) elementwise along ``axis``, and
    returns a pytree of the same structure, shapes and dtypes. Element ``k`` of the result
    is ``fn(...fn(fn(e0, e1), e2)..., ek)``; with ``reverse=True`` the scan runs from the
    end, combining as ``fn(later, earlier)``. Depth is ``O(log n)``: ``fn`` is called
    about ``2 log2 n`` times on ever shorter slices, never once per element.

    >>> associative_scan(lax.add, np.arange(4))  # [0, 1, 3, 6]
    """
    if not callable(fn):
        raise TypeError(f"lax.associative_scan: fn argument should be callable (an "
                        f"associative function of two pytrees), got {type(fn).__name__}")
    leaves, tree = pytree.tree_flatten(elems)
    if not leaves:
        raise ValueError("lax.associative_scan: elems holds no arrays; pass an array or a "
                         "pytree of arrays to scan")
    leaves = [as_operand(x) for x in leaves]
    shapes = [tuple(get_aval(x).shape) for x in leaves]
    axis = _canonical_axis(axis, len(shapes[0]))
    if any(len(s) <= axis for s in shapes):
        raise ValueError(f"lax.associative_scan: every array in elems needs an axis {axis} "
                         f"to scan along; got shapes {shapes}")
    n = shapes[0][axis]
    if any(s[axis] != n for s in shapes):
        raise ValueError(f"Array inputs to associative_scan must have the same length along "
                         f"axis {axis} (saw: {shapes})")

    def combine(a: list, b: list) -> list:
        out, out_tree = pytree.tree_flatten(
            fn(pytree.tree_unflatten(tree, a), pytree.tree_unflatten(tree, b)))
        if out_tree != tree:
            raise TypeError(f"lax.associative_scan: fn must return the structure of its "
                            f"inputs, {tree}, but returned {out_tree}")
        for x, y in zip(a, out):
            want, got = get_aval(x), get_aval(as_operand(y))
            if want.shape != got.shape or want.dtype != got.dtype:
                raise TypeError(
                    f"lax.associative_scan: fn must return arrays of its inputs' shapes and "
                    f"dtypes; given {want.dtype}{list(want.shape)} it returned "
                    f"{got.dtype}{list(got.shape)} (cast the result, or the inputs, to "
                    f"one dtype)")
        return out

    def scan(xs: list) -> list:
        m = get_aval(xs[0]).shape[axis]
        if m < 2:
            return xs
        # Pair neighbours (x0 x1), (x2 x3), ...; the prefix of those pairs is the answer at
        # the odd positions 1, 3, 5, ...
        odds = scan(combine([slice_in_dim(x, 0, m - 1, 2, axis) for x in xs],
                            [slice_in_dim(x, 1, m, 2, axis) for x in xs]))
        # Even position 2k (k >= 1) is odd position 2k - 1 combined with element 2k.
        n_tail = (m - 1) // 2
        tails = combine([slice_in_dim(o, 0, n_tail, axis=axis) for o in odds],
                        [slice_in_dim(x, 2, m, 2, axis) for x in xs])
        evens = [concatenate([slice_in_dim(x, 0, 1, axis=axis), t], axis)
                 for x, t in zip(xs, tails)]
        return [_interleave(e, o, axis) for e, o in zip(evens, odds)]

    if reverse:
        leaves = [rev(x, (axis,)) for x in leaves]
    out = scan(leaves)
    if reverse:
        out = [rev(x, (axis,)) for x in out]
    return pytree.tree_unflatten(tree, out)


# ---------------------------------------------------------------------------------------
# cumlogsumexp

def _wrap_phase(x: Any) -> Any:
    """``x`` moved by a multiple of ``2 pi`` into ``[-pi, pi)``: the imaginary part of a
    complex log is only defined modulo ``2 pi``, and JAX reports it in that range."""
    dt = get_aval(x).dtype
    pi, two_pi = scalar_like(np.pi, dt), scalar_like(2 * np.pi, dt)
    r = ew.rem(ew.add(x, pi), two_pi)
    r = ew.select(ew.lt(r, scalar_like(0, dt)), ew.add(r, two_pi), r)
    return ew.sub(r, pi)


@custom_jvp
def _logaddexp(a: Any, b: Any) -> Any:
    """``log(exp(a) + exp(b))`` of two same-dtype arrays, without overflow."""
    big = ew.max(a, b)
    if dtypes.is_complex(get_aval(a).dtype):
        # a + b - 2 big is the smaller operand minus the larger (max orders complex values
        # lexicographically, like JAX), so exp never overflows.
        small = ew.sub(ew.add(a, b), ew.mul(big, scalar_like(2, get_aval(big).dtype)))
        out = ew.add(big, ew.log1p(ew.exp(small)))
        return ew.complex(ew.real(out), _wrap_phase(ew.imag(out)))
    delta = ew.sub(a, b)
    out = ew.add(big, ew.log1p(ew.exp(ew.neg(ew.abs(delta)))))
    # delta is NaN for a NaN operand or two infinities of one sign: a + b is the answer
    # there (NaN, inf or -inf), where the formula above would give NaN.
    return ew.select(ew.ne(delta, delta), ew.add(a, b), out)


def _share(x: Any, total: Any) -> Any:
    """``d total / d x`` for ``total = logaddexp(x, ...)``: ``exp(x - total)``, and 1 where
    ``x == total``. The second case covers infinities, where ``x - total`` is NaN: an
    operand equal to an infinite total moves it one for one (and an all ``-inf`` prefix
    passes each tangent through whole, so the shares stay associative and a ``-inf``
    entry never makes a later, finite result's gradient NaN)."""
    return ew.select(ew.eq(x, total), full_like(x, 1), ew.exp(ew.sub(x, total)))


@_logaddexp.defjvp
def _logaddexp_jvp(primals, tangents):
    (a, b), (ta, tb) = primals, tangents
    out = _logaddexp(a, b)
    return out, ew.add(ew.mul(ta, _share(a, out)), ew.mul(tb, _share(b, out)))


def cumlogsumexp(operand: Any, axis: int = 0, reverse: bool = False) -> Any:
    """Running ``log(sum(exp(x)))`` along ``axis``, computed without overflow.

    Element ``i`` is the log-sum-exp of elements ``0..i`` (``i..n-1`` with
    ``reverse=True``). Same shape and dtype as ``operand``, which must be floating or
    complex; ``-inf`` entries add nothing, ``inf`` makes the rest ``inf`` and NaN the rest
    NaN. A negative ``axis`` counts from the end (JAX's own ``lax.cumlogsumexp`` refuses
    one). Differentiable: ``d out_i / d x_j = exp(x_j - out_i)``.

    >>> cumlogsumexp(np.zeros(3, np.float32))  # log([1, 2, 3])
    """
    operand = as_operand(operand)
    aval = get_aval(operand)
    dt = aval.dtype
    if not (dtypes.is_float(dt) or dtypes.is_complex(dt)):
        raise TypeError(f"cumlogsumexp does not accept dtype {np.dtype(dt).name}: it needs "
                        f"a floating or complex array (convert integers with "
                        f"lax.convert_element_type)")
    axis = normalize_one_axis("cumlogsumexp", axis, aval.ndim)
    return associative_scan(_logaddexp, operand, reverse=bool(reverse), axis=axis)


# ---------------------------------------------------------------------------------------
# Shape helpers

def split(operand: Any, sizes: Sequence[int], axis: int = 0) -> list:
    """Cut ``operand`` along ``axis`` into consecutive pieces of the given ``sizes``.

    ``sizes`` are non-negative integers summing to ``operand.shape[axis]``; piece ``k``
    has shape ``operand.shape`` with ``sizes[k]`` at ``axis``. Returns a list.

    >>> split(np.arange(6), (2, 4))  # [[0, 1], [2, 3, 4, 5]]
    """
    operand = as_operand(operand)
    shape = tuple(get_aval(operand).shape)
    axis = _canonical_axis(axis, len(shape))
    try:
        sizes = tuple(operator.index(s) for s in sizes)
    except TypeError:
        raise TypeError(f"split: sizes must be a sequence of integers, got {sizes!r}") from None
    if any(s < 0 for s in sizes):
        raise ValueError(f"Sizes passed to split must be nonnegative, got {list(sizes)}")
    if sum(sizes) != shape[axis]:
        raise ValueError(f"Sum of sizes {sum(sizes)} must be equal to dimension {axis} of the "
                         f"operand shape {list(shape)}")
    starts = np.cumsum((0,) + sizes)
    return [slice_in_dim(operand, int(lo), int(hi), axis=axis)
            for lo, hi in zip(starts[:-1], starts[1:])]


def batch_matmul(lhs: Any, rhs: Any, precision: Any = None) -> Any:
    """Matrix products of matching stacks: ``out[..., i, k] = sum_j lhs[..., i, j] *
    rhs[..., j, k]``.

    ``lhs: [..., m, n]`` and ``rhs: [..., n, p]`` have one rank (at least 2) and the same
    leading (batch) dimensions, which do not broadcast; the result is ``[..., m, p]``.

    >>> batch_matmul(np.ones((5, 2, 3)), np.ones((5, 3, 4))).shape  # (5, 2, 4)
    """
    lhs, rhs = as_operand(lhs), as_operand(rhs)
    nl, nr = get_aval(lhs).ndim, get_aval(rhs).ndim
    if min(nl, nr) < 2:
        raise ValueError(f"Arguments to batch_matmul must be at least 2D, got {nl}, {nr}")
    if nl != nr:
        raise ValueError(f"Arguments to batch_matmul must have same ndim, got {nl}, {nr} "
                         f"(add unit dimensions with lax.expand_dims, or use "
                         f"functorch_lite.numpy.matmul, which broadcasts)")
    batch = tuple(range(nl - 2))
    return dot_general(lhs, rhs, (((nl - 1,), (nl - 2,)), (batch, batch)),
                       precision=precision)


def _static_shape(shape: Any) -> tuple[int, ...]:
    try:
        dims = tuple(operator.index(d) for d in shape)
    except TypeError:
        raise TypeError(f"Shapes must be 1D sequences of concrete values of integer type, "
                        f"got {shape!r}.") from None
    if any(d < 0 for d in dims):
        raise TypeError(f"Only non-negative indices are allowed when broadcasting static "
                        f"shapes, but got shape {shape!r}.")
    return dims


def broadcast_shapes(*shapes: Sequence[int]) -> tuple[int, ...]:
    """The shape NumPy broadcasting gives arrays of ``shapes`` (tuples of ints).

    Shorter shapes gain leading 1s; then each dimension is the common size of those that
    are not 1. Raises ValueError when two sizes other than 1 differ.

    >>> broadcast_shapes((3, 1), (1, 4), (5, 1, 1))  # (5, 3, 4)
    """
    if not shapes:
        raise TypeError("broadcast_shapes: At least one shape is required.")
    dims = [_static_shape(s) for s in shapes]
    ndim = max(len(d) for d in dims)
    padded = [(1,) * (ndim - len(d)) + d for d in dims]
    out = []
    for sizes in zip(*padded):
        big = {s for s in sizes if s != 1}
        if len(big) > 1:
            raise ValueError(f"Incompatible shapes for broadcasting: shapes="
                             f"{[tuple(d) for d in dims]}")
        out.append(big.pop() if big else 1)
    return tuple(out)


def tile(operand: Any, reps: Sequence[int]) -> Any:
    """``operand`` repeated ``reps[d]`` times along each dimension ``d``.

    ``reps`` has one non-negative integer per dimension of ``operand``; the result has shape
    ``(shape[0] * reps[0], ..., shape[-1] * reps[-1])`` and ``operand``'s dtype.

    >>> tile(np.array([1, 2]), (3,))  # [1, 2, 1, 2, 1, 2]
    """
    operand = as_operand(operand)
    shape = tuple(get_aval(operand).shape)
    try:
        reps = tuple(operator.index(r) for r in reps)
    except TypeError:
        raise TypeError(f"tile: reps must be a sequence of integers, got {reps!r}") from None
    if len(reps) != len(shape):
        raise TypeError(f"reps length must be equal to the ndim of x, got len(reps)="
                        f"{len(reps)} and x.ndim={len(shape)}.")
    if any(r < 0 for r in reps):
        raise ValueError(f"tile: reps must be non-negative, got {reps}")
    # Give each dimension a leading copy axis [r0, s0, r1, s1, ...]; merging each pair
    # lays the copies one after another, which is what tiling means.
    wide = tuple(k for r, s in zip(reps, shape) for k in (r, s))
    out = broadcast_in_dim(operand, wide, tuple(range(1, 2 * len(shape), 2)))
    return reshape(out, tuple(r * s for r, s in zip(reps, shape)))
