"""Jacobians: ``jacfwd`` is ``vmap`` over ``jvp``, ``jacrev`` is ``vmap`` over ``vjp`` (each
pushes or pulls the rows of an identity matrix), and ``hessian`` is ``jacfwd(jacrev)``."""
from __future__ import annotations

from typing import Callable

import numpy as np

from functorch_lite import lax
from functorch_lite.api._args import _fun_name, _positive_argnums, _substitute_argnums
from functorch_lite.api.differentiation import (_check_diff_inputs, _check_output_dtype,
                                                jvp, vjp)
from functorch_lite.api.vectorization import vmap
from functorch_lite.core import dtypes, pytree
from functorch_lite.core.avals import get_aval


def _std_basis(leaves):
    """An identity matrix split and reshaped to (total_size, *leaf_shape) per leaf. It is
    built from iotas, so under ``jit`` XLA generates it in place (in whatever layout the
    consumer wants) instead of reading a constant."""
    sizes = [get_aval(x).size for x in leaves]
    total = sum(sizes)
    out, start = [], 0
    for x, n in zip(leaves, sizes):
        aval = get_aval(x)
        rows = lax.broadcasted_iota(np.int32, (total, n), 0)
        cols = lax.broadcasted_iota(np.int32, (total, n), 1)
        one_hot = lax.eq(rows, lax.add(cols, np.int32(start)) if start else cols)
        out.append(lax.reshape(lax.convert_element_type(one_hot, aval.dtype),
                               (total, *aval.shape)))
        start += n
    return out, total


def jacfwd(fun: Callable, argnums=0, has_aux: bool = False, holomorphic: bool = False):
    """The Jacobian of ``fun`` by forward mode (efficient for few inputs, many outputs).
    For output shape ``O`` and input shape ``I`` the result has shape ``O + I``. Inputs
    are real, or complex with ``holomorphic=True`` (then outputs must be complex too)."""
    single = isinstance(argnums, int)
    nums = (argnums,) if single else tuple(argnums)

    def wrapped(*args, **kwargs):
        nums_n = _positive_argnums(nums, len(args))
        _check_diff_inputs(f"jacfwd({_fun_name(fun)})", args, nums_n,
                           holomorphic=holomorphic, kind="jacfwd")
        diff = tuple(args[i] for i in nums_n)
        d_leaves, d_tree = pytree.tree_flatten(diff)
        basis, total = _std_basis(d_leaves)
        f_diff = _substitute_argnums(fun, args, kwargs, nums_n)

        def f_leaves(*d):  # jvp's primals are the leaves of the differentiated arguments
            return f_diff(*pytree.tree_unflatten(d_tree, d))

        def push(*tangent_leaves):
            res = jvp(f_leaves, tuple(d_leaves), tuple(tangent_leaves), has_aux=has_aux)
            return (res[1], res[2]) if has_aux else res[1]

        # The aux does not depend on the tangents: it leaves vmap unbatched (out_axes None),
        # so any pytree passes through as it came.
        pushed = vmap(push, in_axes=(0,) * len(d_leaves),
                      out_axes=(-1, None) if has_aux else -1)(*basis)
        if has_aux:
            pushed, aux = pushed
        if holomorphic:
            for y in pytree.tree_leaves(pushed):
                if not dtypes.is_complex(get_aval(y).dtype):
                    raise TypeError("jacfwd with holomorphic=True requires outputs with "
                                    f"complex dtype, but {_fun_name(fun)} returned "
                                    f"{get_aval(y).dtype.name}.")
        out = pytree.tree_map(lambda y: _assemble_fwd(y, d_leaves, d_tree, single), pushed)
        return (out, aux) if has_aux else out

    return wrapped


def _assemble_fwd(y, d_leaves, d_tree, single):
    aval = get_aval(y)
    out_shape = aval.shape[:-1]
    blocks, start = [], 0
    for x in d_leaves:
        xa = get_aval(x)
        block = lax.slice_in_dim(y, start, start + xa.size, axis=aval.ndim - 1)
        blocks.append(lax.reshape(block, out_shape + xa.shape))
        start += xa.size
    tree = pytree.tree_unflatten(d_tree, blocks)
    return tree[0] if single else tree


def jacrev(fun: Callable, argnums=0, has_aux: bool = False, holomorphic: bool = False,
           allow_int: bool = False):
    """The Jacobian of ``fun`` by reverse mode (efficient for few outputs, many inputs):
    ``vmap`` of ``vjp`` over the rows of the identity. Result shape ``O + I``. Outputs are
    real, or complex with ``holomorphic=True`` (then inputs must be complex too)."""
    single = isinstance(argnums, int)
    nums = (argnums,) if single else tuple(argnums)

    def wrapped(*args, **kwargs):
        nums_n = _positive_argnums(nums, len(args))
        _check_diff_inputs(f"jacrev({_fun_name(fun)})", args, nums_n, allow_int,
                           holomorphic, kind="jacrev")
        diff = tuple(args[i] for i in nums_n)
        f_diff = _substitute_argnums(fun, args, kwargs, nums_n)
        res = vjp(f_diff, *diff, has_aux=has_aux)
        out, pullback = res[0], res[1]
        o_leaves, o_tree = pytree.tree_flatten(out)
        for o in o_leaves:
            _check_output_dtype("jacrev", fun, get_aval(o), holomorphic)
        basis, total = _std_basis(o_leaves)

        def pull(*ct_leaves):
            return pullback(pytree.tree_unflatten(o_tree, list(ct_leaves)))

        rows = vmap(pull, in_axes=(0,) * len(o_leaves))(*basis)  # tuple per diff arg
        per_out = []
        start = 0
        for o in o_leaves:
            oa = get_aval(o)

            def block(r, oa=oa, start=start):
                ra = get_aval(r)
                piece = lax.slice_in_dim(r, start, start + oa.size, axis=0)
                return lax.reshape(piece, oa.shape + ra.shape[1:])
            per_out.append(pytree.tree_map(block, rows))
            start += oa.size
        per_out = [p[0] if single else p for p in per_out]
        result = pytree.tree_unflatten(o_tree, per_out)
        return (result, res[2]) if has_aux else result

    return wrapped


def hessian(fun: Callable, argnums=0, has_aux: bool = False, holomorphic: bool = False):
    """The Hessian of scalar ``fun``: ``jacfwd(jacrev(fun))`` (forward over reverse)."""
    return jacfwd(jacrev(fun, argnums, has_aux=has_aux, holomorphic=holomorphic), argnums,
                  has_aux=has_aux, holomorphic=holomorphic)
