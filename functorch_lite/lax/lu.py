"""The LU decomposition with partial pivoting, JAX's ``lax.linalg.lu`` (and
``lu_pivots_to_permutation``, ``lu_solve``).

XLA has no LU its compiler expands, so it is written here: the textbook right-looking
elimination, one column per ``fori_loop`` step (pick the largest remaining entry of the
column, swap its row up, scale the column below the pivot, update the trailing block), on
the whole stack of matrices with masks, so every step has static shapes and the row each
matrix picks needs no gather. It does O(m n min(m, n)) work like LAPACK's ``getrf``,
without blocking.

Its derivative is the closed form: with ``P A = L U`` and ``X = L^-1 P dA U^-1``,
``dL = L tril(X, -1)`` and ``dU = triu(X) U`` (non-square factors are first completed to
square ones with identity blocks).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from functorch_lite.core import dtypes
from functorch_lite.core.avals import get_aval
from functorch_lite.lax import elementwise as ew
from functorch_lite.lax._common import as_operand
from functorch_lite.lax.control_flow.loops import fori_loop
from functorch_lite.lax.custom_derivatives import custom_jvp
from functorch_lite.lax.decompositions import (check_matrix, eye_like, matmul, mT, triangle,
                                               triangular_solve)
from functorch_lite.lax.reductions import argmax, reduce_sum
from functorch_lite.lax.shapes import (broadcast_in_dim, broadcasted_iota, concatenate,
                                       full_like, slice as slice_)

__all__ = ["lu", "lu_pivots_to_permutation", "lu_solve"]


# -- masked row and column access, batched over the leading dimensions ---------------------
def _pick(x, mask, axis: int):
    """The entries of ``x`` where ``mask`` holds, summed over ``axis`` (one entry: exact)."""
    return reduce_sum(ew.select(mask, x, full_like(x, 0)), (axis,))


def _spread(v, shape, axis: int):
    """``v`` (``shape`` without ``axis``) broadcast along ``axis``."""
    return broadcast_in_dim(v, shape, tuple(d for d in range(len(shape)) if d != axis))


def _magnitude(v):
    """What the pivot search compares: |v|, or |re v| + |im v| for complex v (LAPACK's)."""
    if dtypes.is_complex(get_aval(v).dtype):
        return ew.add(ew.abs(ew.real(v)), ew.abs(ew.imag(v)))
    return ew.abs(v)


def _lu_factors(x):
    """``(lu, pivots, permutation)`` of each m x n matrix of ``x``."""
    aval = get_aval(x)
    shape = aval.shape
    nd = len(shape)
    m, n = shape[-2:]
    k = min(m, n)
    vec = shape[:-1]                                   # (..., m)
    rows = broadcasted_iota(np.int32, shape, nd - 2)
    cols = broadcasted_iota(np.int32, shape, nd - 1)
    row_ids = broadcasted_iota(np.int32, vec, nd - 2)
    piv_ids = broadcasted_iota(np.int32, shape[:-2] + (k,), nd - 2)

    def step(j, carry):
        a, pivots, perm = carry
        j = ew.convert_element_type(j, np.int32)   # the loop counter is int64 under x64
        # The pivot row p: the largest |a[i, j]| for i >= j.
        column = _pick(a, ew.eq(cols, j), nd - 1)                        # (..., m)
        mag = _magnitude(column)
        mag = ew.select(ew.ge(row_ids, j), mag, full_like(mag, -1))
        p = argmax(mag, nd - 2, np.int32)                                # (...)
        is_p = ew.eq(row_ids, _spread(p, vec, nd - 2))                   # (..., m)
        # Swap rows j and p of a and of the permutation.
        row_j = _pick(a, ew.eq(rows, j), nd - 2)                          # (..., n)
        row_p = _pick(a, _spread(is_p, shape, nd - 1), nd - 2)
        a = ew.select(ew.eq(rows, j), _spread(row_p, shape, nd - 2),
                      ew.select(_spread(is_p, shape, nd - 1), _spread(row_j, shape, nd - 2),
                                a))
        perm_j = _spread(_pick(perm, ew.eq(row_ids, j), nd - 2), vec, nd - 2)
        perm_p = _spread(_pick(perm, is_p, nd - 2), vec, nd - 2)
        perm = ew.select(ew.eq(row_ids, j), perm_p, ew.select(is_p, perm_j, perm))
        pivots = ew.select(ew.eq(piv_ids, j), _spread(p, get_aval(pivots).shape, nd - 2),
                           pivots)
        # Eliminate below the pivot: l_i = a[i, j] / a[j, j], a[i, c] -= l_i a[j, c], c > j.
        column = _pick(a, ew.eq(cols, j), nd - 1)
        pivot = _pick(column, ew.eq(row_ids, j), nd - 2)                 # (...)
        # A zero pivot means the column is zero from row j down: nothing to eliminate
        # (LAPACK skips it too, rather than dividing by zero).
        zero_pivot = ew.eq(pivot, full_like(pivot, 0))
        safe = _spread(ew.select(zero_pivot, full_like(pivot, 1), pivot), vec, nd - 2)
        below = ew.gt(row_ids, j)
        l_col = ew.select(below, ew.div(column, safe), full_like(column, 0))
        pivot_row = _pick(a, ew.eq(rows, j), nd - 2)
        update = ew.mul(_spread(l_col, shape, nd - 1), _spread(pivot_row, shape, nd - 2))
        a = ew.select(ew.bitwise_and(ew.gt(rows, j), ew.gt(cols, j)), ew.sub(a, update), a)
        a = ew.select(ew.bitwise_and(ew.eq(cols, j), ew.gt(rows, j)),
                      _spread(l_col, shape, nd - 1), a)
        return a, pivots, perm

    init = (x, full_like(piv_ids, 0), row_ids)
    return tuple(fori_loop(0, k, step, init))


def _permutation_matrix(perm, dtype):
    """The (..., m, m) matrix ``P`` with ``P @ x == x[..., perm, :]``."""
    shape = get_aval(perm).shape
    nd = len(shape) + 1
    full = shape + (shape[-1],)
    targets = broadcast_in_dim(perm, full, tuple(range(nd - 1)))      # [.., i, c] = perm[i]
    return ew.convert_element_type(ew.eq(targets, broadcasted_iota(np.int32, full, nd - 1)),
                                   dtype)


def _lu_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    lu_, pivots, perm = _lu_fn(x)
    aval = get_aval(x)
    m, n = aval.shape[-2:]
    k = min(m, n)
    batch = aval.shape[:-2]
    nb = len(batch)
    zeros = (0,) * nb
    permuted = matmul(_permutation_matrix(perm, aval.dtype), dx)          # P dA
    # Unit lower L completed to m x m and upper U completed to n x n with identity blocks.
    l_part = slice_(lu_, zeros + (0, 0), batch + (m, k))
    l_full = ew.add(triangle(l_part, lower=True, k=-1), eye_like(l_part))
    if m > k:
        l_full = concatenate([l_full, _identity_block(x, (m, m - k), -k)], nb + 1)
    u_full = triangle(slice_(lu_, zeros + (0, 0), batch + (k, n)), lower=False)
    if n > k:
        u_full = concatenate([u_full, _identity_block(x, (n - k, n), k)], nb)
    la = triangular_solve(l_full, permuted, left_side=True, lower=True, unit_diagonal=True)
    x_mat = triangular_solve(u_full, la, left_side=False, lower=False)   # L^-1 P dA U^-1
    dl = matmul(l_full, triangle(x_mat, lower=True, k=-1))              # m x n
    du = matmul(triangle(x_mat, lower=False), u_full)                   # m x n
    return (lu_, pivots, perm), (ew.add(dl, du), full_like(pivots, 0), full_like(perm, 0))


def _identity_block(x, block: tuple, offset: int):
    """A block of an identity matrix: entries ``[r, c]`` with ``c == r + offset``."""
    aval = get_aval(x)
    shape = aval.shape[:-2] + block
    r = broadcasted_iota(np.int32, shape, len(shape) - 2)
    c = broadcasted_iota(np.int32, shape, len(shape) - 1)
    return ew.convert_element_type(ew.eq(c, ew.add(r, np.int32(offset))), aval.dtype)


_lu_fn = custom_jvp(_lu_factors)
_lu_fn.defjvp(_lu_jvp)


def lu(x: Any):
    """``(lu, pivots, permutation)``: the LU decomposition with partial pivoting of each
    m x n matrix, ``x[permutation] = L U`` with ``L`` the unit lower triangle of ``lu``
    (m x k) and ``U`` its upper triangle (k x n), k = min(m, n). ``pivots`` (k,) are
    LAPACK's row swaps (row i was swapped with row ``pivots[i]``)."""
    x = as_operand(x)
    check_matrix("lu", get_aval(x), square=False)
    return tuple(_lu_fn(x))


def lu_pivots_to_permutation(pivots: Any, permutation_size: int):
    """The permutation that the row swaps ``pivots`` (..., k) make of
    ``range(permutation_size)``."""
    pivots = ew.convert_element_type(as_operand(pivots), np.int32)
    shape = get_aval(pivots).shape
    k, size = shape[-1], int(permutation_size)
    if k > size:
        raise ValueError(f"lu_pivots_to_permutation: {k} pivots for a permutation of size "
                         f"{size}")
    nd = len(shape)
    vec = shape[:-1] + (size,)
    ids = broadcasted_iota(np.int32, vec, nd - 1)
    piv_ids = broadcasted_iota(np.int32, shape, nd - 1)

    def swap(i, perm):
        i = ew.convert_element_type(i, np.int32)
        p = _spread(_pick(pivots, ew.eq(piv_ids, i), nd - 1), vec, nd - 1)
        at_i = _spread(_pick(perm, ew.eq(ids, i), nd - 1), vec, nd - 1)
        at_p = _spread(_pick(perm, ew.eq(ids, p), nd - 1), vec, nd - 1)
        return ew.select(ew.eq(ids, i), at_p, ew.select(ew.eq(ids, p), at_i, perm))
    return fori_loop(0, k, swap, ids)


def lu_solve(lu_: Any, permutation: Any, b: Any, trans: int = 0):
    """``x`` with ``A x = b`` (``trans=0``), ``A^T x = b`` (1) or ``A^H x = b`` (2), where
    ``lu_`` and ``permutation`` come from ``lu(A)`` (square) and ``b`` is (..., n, k) with
    the same leading dimensions."""
    if trans not in (0, 1, 2):
        raise ValueError(f"'trans' value must be 0, 1, or 2, got {trans}")
    lu_, b, permutation = as_operand(lu_), as_operand(b), as_operand(permutation)
    p = _permutation_matrix(permutation, get_aval(b).dtype)
    if trans == 0:
        x = triangular_solve(lu_, matmul(p, b), left_side=True, lower=True,
                             unit_diagonal=True)
        return triangular_solve(lu_, x, left_side=True, lower=False)
    conj = trans == 2
    x = triangular_solve(lu_, b, left_side=True, lower=False, transpose_a=True,
                         conjugate_a=conj)
    x = triangular_solve(lu_, x, left_side=True, lower=True, unit_diagonal=True,
                         transpose_a=True, conjugate_a=conj)
    return matmul(mT(p), x)                                     # undo the row permutation
