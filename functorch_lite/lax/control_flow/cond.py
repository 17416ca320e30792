"""``cond`` and ``switch``: one primitive holding a program per branch.

jvp differentiates every branch (a tangent nonzero in any branch is materialized in all);
partial evaluation splits each branch into a known part that runs now and a linear part,
padding the residuals so all branches return the same ones; transposition transposes each
branch; a batched index turns the cond into a select between all branches' results.

Under ``disable_jit()`` a cond whose index is known (not batched by ``vmap``, not staged)
calls the chosen branch as plain Python, as JAX does: only that branch runs, once.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

import numpy as np

from functorch_lite.core import dtypes, pytree
from functorch_lite.core.avals import ShapedArray, get_aval
from functorch_lite.core.ir import Program, Var, eval_program
from functorch_lite.core.primitive import Primitive
from functorch_lite.interpreters import ad, batching, partial_eval, transpose
from functorch_lite.interpreters.staging import trace_flat
from functorch_lite.lax._common import as_operand, scalar_like
from functorch_lite.lax.control_flow._common import (concrete_value, join_branches,
                                                     operand_leaf, python_control_flow,
                                                     refuse_effects_under_batched_predicate,
                                                     to_array, trace_tree_fun)
from functorch_lite.lax.elementwise import clamp, convert_element_type, ne, select_n
from functorch_lite.lax.shapes import broadcast_in_dim, full

cond_p = Primitive("cond", multiple_results=True)


@cond_p.def_shape
def _cond_shape(index, *args, branches):
    if index.shape != () or index.dtype != np.int32:
        raise TypeError(f"cond: the branch index must be an int32 scalar, got "
                        f"{index.str_short()}")
    first = branches[0].out_avals
    for b in branches[1:]:
        for x, y in zip(first, b.out_avals):
            if not x.same_type(y):
                raise TypeError("cond branches must return the same types, got "
                                f"{[a.str_short() for a in first]} and "
                                f"{[a.str_short() for a in b.out_avals]}")
    return [ShapedArray(a.shape, a.dtype, all(b.out_avals[i].weak_type for b in branches))
            for i, a in enumerate(first)]


def switch(index: Any, branches: Sequence[Callable], *operands):
    """Apply ``branches[index](*operands)`` (index clamped to the valid range). Every
    branch is traced; they must return the same structure and types. Under
    ``disable_jit()`` with a known index only the chosen branch runs, as Python.

    >>> switch(2, [lambda x: x, lambda x: x + 1, lambda x: x * 10], 1.0)
    Array(10., dtype=float32, weak_type=True)
    """
    return _switch(index, branches, operands, None)


def _switch(index: Any, branches: Sequence[Callable], operands: tuple, names):
    branches = list(branches)
    if not branches:
        raise ValueError("switch needs at least one branch")
    for b in branches:
        if not callable(b):
            raise TypeError(f"switch: branches must be callables, got {type(b).__name__}")
    index = as_operand(index)
    aval = get_aval(index)
    if aval.shape != ():
        raise TypeError(f"switch/cond: the index (predicate) must be a scalar, got shape "
                        f"{aval.shape}")
    if not (dtypes.is_int(aval.dtype) or dtypes.is_bool(aval.dtype)):
        raise TypeError(f"switch: the index must be an integer scalar, got {aval.dtype}")
    index = convert_element_type(index, np.int32)
    index = clamp(scalar_like(0, np.int32), index, scalar_like(len(branches) - 1, np.int32))
    leaves, in_tree = pytree.tree_flatten(operands)
    leaves = [operand_leaf(x) for x in leaves]
    if python_control_flow():
        which = concrete_value(index)
        if which is not None:  # JAX's disable_jit path: call the chosen branch directly
            args = pytree.tree_unflatten(in_tree, [to_array(x) for x in leaves])
            # outputs typed as the traced path types them (the other branches are not run,
            # so a weak type comes from this branch alone, as in JAX)
            return pytree.tree_map(to_array, branches[int(which)](*args))
    in_avals = [get_aval(x) for x in leaves]
    traced = [trace_tree_fun(lambda *ops, b=b: b(*ops), in_tree, in_avals,
                             f"cond branch {i}") for i, b in enumerate(branches)]
    out_tree = traced[0][2]
    names = names or [f"branch {i}" for i in range(len(branches))]
    for i, (p, _, t) in enumerate(traced[1:], 1):
        if t != out_tree:
            raise TypeError(f"cond/switch branches must return the same structure: "
                            f"{names[0]} returns {out_tree}, {names[i]} returns {t}")
        for x, y in zip(traced[0][0].out_avals, p.out_avals):
            if not x.same_type(y):
                raise TypeError(f"cond/switch branches must return the same types: "
                                f"{names[0]} returns "
                                f"{[a.str_short() for a in traced[0][0].out_avals]}, "
                                f"{names[i]} returns {[a.str_short() for a in p.out_avals]}")
    programs, consts = join_branches([(p, c) for p, c, _ in traced])
    outs = cond_p.bind(index, *consts, *leaves, branches=programs)
    return pytree.tree_unflatten(out_tree, outs)


def cond(pred: Any, true_fun: Callable, false_fun: Callable, *operands):
    """``true_fun(*operands)`` if ``pred`` else ``false_fun(*operands)``, as one primitive
    (both branches are traced; under vmap with a batched ``pred`` both run). Under
    ``disable_jit()`` with a known ``pred`` only the chosen branch runs, as Python.

    >>> cond(True, lambda x: x * 2.0, lambda x: x, 3.0)
    Array(6., dtype=float32, weak_type=True)
    """
    pred = as_operand(pred)
    aval = get_aval(pred)
    if aval.shape != ():
        raise TypeError(f"cond: the predicate must be a scalar, got shape {aval.shape}; use "
                        "fnp.where / select for elementwise choices")
    if not (dtypes.is_bool(aval.dtype) or dtypes.is_int(aval.dtype)):
        raise TypeError(f"cond: the predicate must be a boolean or integer scalar, got "
                        f"{aval.dtype}")
    if not dtypes.is_bool(aval.dtype):
        pred = ne(pred, scalar_like(0, aval.dtype))
    return _switch(pred, [false_fun, true_fun], operands, ["false_fun", "true_fun"])


def _cond_jvp(primals, tangents, *, branches):
    index, *args = primals
    nonzero = [type(t) is not ad.Zero for t in tangents[1:]]
    n_out = len(branches[0].outvars)
    # Output tangents nonzero in any branch are instantiated in all.
    out_nz = [False] * n_out
    for b in branches:
        out_nz = [x or y for x, y in zip(out_nz, ad.jvp_program(b, tuple(nonzero), False)[2])]
    jv = [ad.jvp_program(b, tuple(nonzero), tuple(out_nz)) for b in branches]
    programs, consts = join_branches([(p, c) for p, c, _ in jv])
    t_nz = [t for t in tangents[1:] if type(t) is not ad.Zero]
    outs = cond_p.bind(index, *consts, *args, *t_nz, branches=programs)
    primal_out, it = outs[:n_out], iter(outs[n_out:])
    tangent_out = [next(it) if nz else ad.Zero(ad.tangent_aval(get_aval(o)))
                   for o, nz in zip(primal_out, out_nz)]
    return primal_out, tangent_out


cond_p.def_jvp(_cond_jvp)


@functools.lru_cache(maxsize=1024)
def _cond_split(branches: tuple, unknown_in: tuple):
    n_out = len(branches[0].outvars)
    unknown_out = [False] * n_out
    for b in branches:
        u = partial_eval.split_program(b, unknown_in)[3]
        unknown_out = [x or y for x, y in zip(unknown_out, u)]
    splits = [partial_eval.split_program(b, unknown_in, tuple(unknown_out)) for b in branches]
    res_avals = [[v.aval for v in s[2].invars[:s[4]]] for s in splits]
    all_res = [a for avals in res_avals for a in avals]
    known_in_avals = [v.aval for v, u in zip(branches[0].invars, unknown_in) if not u]
    n_known_out = n_out - sum(unknown_out)

    def known_branch(i):
        known, known_consts = splits[i][0], splits[i][1]

        def fun(*ins):
            outs = eval_program(known, [], [*known_consts, *ins])
            res = iter(outs[n_known_out:])
            padded = []
            for j, avals in enumerate(res_avals):
                for a in avals:
                    padded.append(next(res) if j == i else full(a.shape, 0, a.dtype))
            return [*outs[:n_known_out], *padded]
        return trace_flat(fun, known_in_avals, "cond known branch")

    def unknown_branch(i):
        unknown, num_res = splits[i][2], splits[i][4]
        before = sum(len(a) for a in res_avals[:i])
        after = sum(len(a) for a in res_avals[i + 1:])
        res_vars = unknown.invars[:num_res]
        rest = unknown.invars[num_res:]
        return Program([], [Var(a) for a in all_res[:before]] + list(res_vars)
                       + [Var(a) for a in all_res[before + num_res:before + num_res + after]]
                       + list(rest), unknown.eqns, unknown.outvars), []

    known_programs, known_consts = join_branches([known_branch(i) for i in range(len(branches))])
    unknown_programs = tuple(unknown_branch(i)[0] for i in range(len(branches)))
    return known_programs, known_consts, unknown_programs, unknown_out, len(all_res)


def _cond_partial_eval(trace, tracers, knowns, unknown_in, *, branches):
    if unknown_in[0]:  # an unknown index: nothing can run now
        return trace.stage(cond_p, tracers, dict(branches=branches))
    known_programs, known_consts, unknown_programs, unknown_out, num_res = _cond_split(
        branches, tuple(unknown_in[1:]))
    index = knowns[0]
    known_vals = [k for k, u in zip(knowns[1:], unknown_in[1:]) if not u]
    outs = cond_p.bind(index, *known_consts, *known_vals, branches=known_programs)
    n_known = len(outs) - num_res
    known_outs, residuals = outs[:n_known], outs[n_known:]
    unknown_tracers = [t for t, u in zip(tracers[1:], unknown_in[1:]) if u]
    staged = trace.stage(cond_p, [trace.pure(index), *[trace.pure(r) for r in residuals],
                                  *unknown_tracers], dict(branches=unknown_programs))
    known_it, staged_it = iter(known_outs), iter(staged)
    return [next(staged_it) if u else trace.pure(next(known_it)) for u in unknown_out]


cond_p.def_partial_eval(_cond_partial_eval)


@functools.lru_cache(maxsize=1024)
def _cond_transposed(branches: tuple, linear_in: tuple):
    pairs = [transpose.transpose_program(b, linear_in) for b in branches]
    return join_branches(pairs)


def _cond_transpose(cts, index, *args, branches):
    if transpose.is_undefined(index):
        raise ValueError("cond is not linear in its index")
    if all(type(c) is ad.Zero for c in cts):
        return [None] * (1 + len(args))
    linear_in = tuple(transpose.is_undefined(a) for a in args)
    programs, consts = _cond_transposed(branches, linear_in)
    nonlin = [a for a in args if not transpose.is_undefined(a)]
    cts = [ad.instantiate(c) for c in cts]
    outs = iter(cond_p.bind(index, *consts, *nonlin, *cts, branches=programs))
    return [None] + [next(outs) if lin else None for lin in linear_in]


cond_p.def_transpose(_cond_transpose)


def _cond_batch(axis, args, dims, *, branches):
    index, *ops = args
    idim, *odims = dims
    if idim is None:
        pairs = []
        for b in branches:
            pairs.append(batching.batch_program(b, tuple(odims), axis.size, axis.name,
                                                all_batched=True)[:2])
        programs, consts = join_branches(pairs)
        outs = cond_p.bind(index, *consts, *ops, branches=programs)
        return outs, [0] * len(outs)
    # A batched index: run every branch on the whole batch and select per member.
    refuse_effects_under_batched_predicate(branches, "cond")
    results = []
    for b in branches:
        outs, out_dims = batching.batch_flat(lambda *a, b=b: eval_program(b, [], a), axis,
                                             ops, odims)
        results.append([batching.move_dim(o, d, 0, axis.size) for o, d in zip(outs, out_dims)])
    index = batching.move_dim(index, idim, 0, axis.size)
    selected = []
    for outs in zip(*results):
        shape = get_aval(outs[0]).shape
        which = broadcast_in_dim(index, shape, (0,)) if len(shape) > 1 else index
        selected.append(select_n(which, *outs))
    return selected, [0] * len(selected)


cond_p.def_batch(_cond_batch)
