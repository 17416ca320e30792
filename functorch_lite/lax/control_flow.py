"""Structured control flow: ``cond``/``switch``, ``while_loop``, ``fori_loop``, ``scan`` and
``map``. Each is a primitive holding IR programs for its bodies (traced once), with rules
for every transformation that rewrite those programs:

* jvp: differentiate the bodies (loop carries iterate to a fixed point of which tangents
  are nonzero);
* partial evaluation (reverse mode): ``cond`` and ``scan`` split their bodies into a known
  part that runs now and a linear part (by running the body under a partial-evaluation
  trace, so control flow nested in a body is split by its own rule); a scan stores as
  extra per-iteration outputs only the residuals that vary per iteration: constants and
  ``xs`` are passed on as they are, loop-invariant values are computed once;
* transpose: ``cond`` transposes each branch, ``scan`` runs the transposed body backwards;
  ``while_loop`` cannot be reversed (its trip count is not known ahead);
* batching: a batched predicate turns ``cond`` into a select of both branches and makes a
  ``while_loop`` run until every batch member is done, freezing the finished ones.
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
from functorch_lite.interpreters.jit_call import close_over_consts
from functorch_lite.interpreters.staging import trace_to_program
from functorch_lite.lax._common import as_operand, scalar_like

__all__ = ["cond", "switch", "while_loop", "fori_loop", "scan", "map"]


# ---------------------------------------------------------------------------------------
# Tracing helpers

def _trace(fun: Callable, in_avals: Sequence[ShapedArray], name: str) -> tuple[Program, list]:
    """Trace flat ``fun`` into a program whose constants are its leading inputs."""
    return close_over_consts(trace_to_program(fun, list(in_avals), description=name))


def _trace_tree_fun(fun: Callable, in_tree, in_avals, name: str):
    """Trace a pytree function; returns (program, consts, out_tree)."""
    box = []

    def flat(*xs):
        out = fun(*pytree.tree_unflatten(in_tree, xs))
        leaves, tree = pytree.tree_flatten(out)
        box.append(tree)
        return [as_operand(x) for x in leaves]

    program, consts = _trace(flat, in_avals, name)
    return program, consts, box[0]


def _leaf(x: Any) -> Any:
    """An operand leaf; a Python scalar becomes a weakly typed scalar of its (current)
    default dtype, so eager calls see the dtype the tracing saw."""
    x = as_operand(x)
    if type(x) in (bool, int, float, complex):
        return scalar_like(x, get_aval(x).dtype, weak_type=True)
    return x


def _with_invars(program: Program, invars: Sequence[Var]) -> Program:
    return Program([], list(invars), program.eqns, program.outvars)


def _prepend_unused(program: Program, avals: Sequence[ShapedArray]) -> Program:
    return Program([], [Var(a) for a in avals] + list(program.invars), program.eqns,
                   program.outvars)


def _join_branches(pairs: Sequence[tuple[Program, list]]) -> tuple[tuple[Program, ...], list]:
    """Branch programs with leading constant inputs -> programs that all take the union of
    the constants (each ignores the others'), and that union."""
    all_consts, programs = [], []
    const_avals = [[v.aval for v in p.invars[:len(c)]] for p, c in pairs]
    for i, (p, c) in enumerate(pairs):
        before = [a for avals in const_avals[:i] for a in avals]
        after = [a for avals in const_avals[i + 1:] for a in avals]
        own = p.invars[:len(c)]
        rest = p.invars[len(c):]
        programs.append(Program([], [Var(a) for a in before] + list(own)
                                + [Var(a) for a in after] + list(rest), p.eqns, p.outvars))
        all_consts.extend(c)
    return tuple(programs), all_consts


def _jvp_nz(program: Program, nonzero: Sequence[bool], instantiate: Sequence[bool]):
    """(program, consts, out_nonzero): a program for (primals, nonzero tangents) ->
    (primal outs, tangents of the outputs that are nonzero or instantiated)."""
    n = len(program.invars)
    t_avals = [ad.tangent_aval(v.aval) for v, nz in zip(program.invars, nonzero) if nz]
    box = []

    def fun(*xs):
        primals, it = xs[:n], iter(xs[n:])
        tangents = [next(it) if nz else ad.Zero(ad.tangent_aval(v.aval))
                    for v, nz in zip(program.invars, nonzero)]
        outs, touts = ad.jvp_flat(lambda *a: eval_program(program, [], a), primals, tangents)
        out_nz = [type(t) is not ad.Zero or inst for t, inst in zip(touts, instantiate)]
        box.append(out_nz)
        return [*outs, *[ad.instantiate(t) for t, nz in zip(touts, out_nz) if nz]]

    prog, consts = _trace(fun, [v.aval for v in program.invars] + t_avals, "jvp")
    return prog, consts, box[0]


def _strengthen(leaves: list, in_avals, out_avals) -> bool:
    """Retype weakly typed carry starts (Python scalars) from what the body returned for
    them, as JAX does; returns whether any changed (the caller then traces the body again).

    A weak start whose body output has another dtype becomes the promoted dtype of the two,
    strongly typed: a carry started at ``0`` and updated with ``i + 1.5`` is a float32
    carry. A weak start whose body output has its dtype but is strong becomes strong.
    Strong starts never change: the body must return exactly their dtype (checked after)."""
    from functorch_lite import lax
    changed = False
    for i, (a, b) in enumerate(zip(in_avals, out_avals)):
        if not a.weak_type or (a.dtype == b.dtype and b.weak_type):
            continue
        dt = a.dtype if a.dtype == b.dtype else dtypes.result_type(a, b)
        leaves[i] = lax.convert_element_type(leaves[i], dt, weak_type=False)
        changed = True
    return changed


def _check_carry_tree(name: str, tree, out_tree, what: str = "carry"):
    if out_tree != tree:
        raise TypeError(f"{name}: the body must return a {what} with the same structure as "
                        f"its input, got {out_tree} for input {tree}")


def _carry_fixed_point(step: Callable[[list], list], init: list) -> list:
    """Iterate ``flags = flags | step(flags)`` until it stops changing."""
    flags = list(init)
    while True:
        new = [a or b for a, b in zip(flags, step(flags))]
        if new == flags:
            return flags
        flags = new


def _check_carry(name: str, tree, in_avals, out_tree, out_avals, what: str = "carry"):
    _check_carry_tree(name, tree, out_tree, what)
    paths = [pytree.keystr(p) for p, _ in
             pytree.tree_flatten_with_path(pytree.tree_unflatten(tree, list(in_avals)))[0]]
    for path, a, b in zip(paths, in_avals, out_avals):
        if a.shape != b.shape or a.dtype != b.dtype:
            raise TypeError(f"{name}: {what} leaf {what}{path} changes type from "
                            f"{a.str_short()} to {b.str_short()}; the body must keep every "
                            f"{what} leaf's shape and dtype")


# ---------------------------------------------------------------------------------------
# cond / switch

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
    branch is traced; they must return the same structure and types."""
    return _switch(index, branches, operands, None)


def _switch(index: Any, branches: Sequence[Callable], operands: tuple, names):
    from functorch_lite import lax
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
    index = lax.convert_element_type(index, np.int32)
    index = lax.clamp(scalar_like(0, np.int32), index, scalar_like(len(branches) - 1, np.int32))
    leaves, in_tree = pytree.tree_flatten(operands)
    leaves = [_leaf(x) for x in leaves]
    in_avals = [get_aval(x) for x in leaves]
    traced = [_trace_tree_fun(lambda *ops, b=b: b(*ops), in_tree, in_avals,
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
    programs, consts = _join_branches([(p, c) for p, c, _ in traced])
    outs = cond_p.bind(index, *consts, *leaves, branches=programs)
    return pytree.tree_unflatten(out_tree, outs)


def cond(pred: Any, true_fun: Callable, false_fun: Callable, *operands):
    """``true_fun(*operands)`` if ``pred`` else ``false_fun(*operands)``, as one primitive
    (both branches are traced; under vmap with a batched ``pred`` both run)."""
    pred = as_operand(pred)
    aval = get_aval(pred)
    if aval.shape != ():
        raise TypeError(f"cond: the predicate must be a scalar, got shape {aval.shape}; use "
                        "fnp.where / lax.select for elementwise choices")
    if not (dtypes.is_bool(aval.dtype) or dtypes.is_int(aval.dtype)):
        raise TypeError(f"cond: the predicate must be a boolean or integer scalar, got "
                        f"{aval.dtype}")
    from functorch_lite import lax
    if not dtypes.is_bool(aval.dtype):
        pred = lax.ne(pred, scalar_like(0, aval.dtype))
    return _switch(pred, [false_fun, true_fun], operands, ["false_fun", "true_fun"])


def _cond_jvp(primals, tangents, *, branches):
    index, *args = primals
    nonzero = [type(t) is not ad.Zero for t in tangents[1:]]
    n_out = len(branches[0].outvars)
    # Output tangents nonzero in any branch are instantiated in all.
    out_nz = [False] * n_out
    for b in branches:
        out_nz = [x or y for x, y in zip(out_nz, _jvp_nz(b, nonzero, [False] * n_out)[2])]
    jv = [_jvp_nz(b, nonzero, out_nz) for b in branches]
    programs, consts = _join_branches([(p, c) for p, c, _ in jv])
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
            from functorch_lite import lax
            res = iter(outs[n_known_out:])
            padded = []
            for j, avals in enumerate(res_avals):
                for a in avals:
                    padded.append(next(res) if j == i else lax.full(a.shape, 0, a.dtype))
            return [*outs[:n_known_out], *padded]
        return _trace(fun, known_in_avals, "cond known branch")

    def unknown_branch(i):
        unknown, num_res = splits[i][2], splits[i][4]
        before = sum(len(a) for a in res_avals[:i])
        after = sum(len(a) for a in res_avals[i + 1:])
        res_vars = unknown.invars[:num_res]
        rest = unknown.invars[num_res:]
        return Program([], [Var(a) for a in all_res[:before]] + list(res_vars)
                       + [Var(a) for a in all_res[before + num_res:before + num_res + after]]
                       + list(rest), unknown.eqns, unknown.outvars), []

    known_programs, known_consts = _join_branches([known_branch(i) for i in range(len(branches))])
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
    pairs = [close_over_consts(transpose.transpose_program(b, linear_in)) for b in branches]
    return _join_branches(pairs)


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
    from functorch_lite import lax
    index, *ops = args
    idim, *odims = dims
    if idim is None:
        pairs = []
        for b in branches:
            pairs.append(_batched_program(b, tuple(odims), axis.size, axis.name))
        programs, consts = _join_branches(pairs)
        outs = cond_p.bind(index, *consts, *ops, branches=programs)
        return outs, [0] * len(outs)
    # A batched index: run every branch on the whole batch and select per member.
    results = []
    for b in branches:
        outs, out_dims = batching.batch_flat(lambda *a, b=b: eval_program(b, [], a), axis,
                                             ops, odims)
        results.append([batching.move_dim(o, d, 0, axis.size) for o, d in zip(outs, out_dims)])
    index = batching.move_dim(index, idim, 0, axis.size)
    selected = []
    for outs in zip(*results):
        shape = get_aval(outs[0]).shape
        which = lax.broadcast_in_dim(index, shape, (0,)) if len(shape) > 1 else index
        selected.append(lax.select_n(which, *outs))
    return selected, [0] * len(selected)


@functools.lru_cache(maxsize=1024)
def _batched_program(program: Program, dims: tuple, size: int, name) -> tuple[Program, list]:
    """``program`` batched with input batch dims ``dims``; every output batched at 0."""
    axis = batching.AxisData(size, name)
    in_avals = []
    for v, d in zip(program.invars, dims):
        shape = list(v.aval.shape)
        if d is not None:
            shape.insert(d, axis.size)
        in_avals.append(v.aval.update(shape=tuple(shape)))

    def fun(*xs):
        outs, out_dims = batching.batch_flat(lambda *a: eval_program(program, [], a), axis,
                                             xs, dims)
        return [batching.move_dim(o, d, 0, axis.size) for o, d in zip(outs, out_dims)]

    return _trace(fun, in_avals, "vmap of control flow")


cond_p.def_batch(_cond_batch)


# ---------------------------------------------------------------------------------------
# while_loop

while_p = Primitive("while", multiple_results=True)


@while_p.def_shape
def _while_shape(*args, cond_program, body_program, cond_nconsts, body_nconsts):
    carry = args[cond_nconsts + body_nconsts:]
    out = cond_program.out_avals
    if len(out) != 1 or out[0].shape != () or out[0].dtype != np.bool_:
        raise TypeError(f"while_loop: cond_fun must return a boolean scalar, got "
                        f"{[a.str_short() for a in out]}")
    for a, b in zip(carry, body_program.out_avals):
        if not a.same_type(b):
            raise TypeError(f"while_loop: body_fun changes a carry from {a.str_short()} to "
                            f"{b.str_short()}")
    return list(carry)


def while_loop(cond_fun: Callable, body_fun: Callable, init_val: Any):
    """Repeat ``val = body_fun(val)`` while ``cond_fun(val)``; returns the final ``val``.
    Forward-mode differentiable; reverse mode needs a static trip count (use ``fori_loop``
    with Python ints, or ``scan``)."""
    leaves, tree = pytree.tree_flatten(init_val)
    leaves = [_leaf(x) for x in leaves]
    avals = [get_aval(x) for x in leaves]
    cond_prog, cond_consts, cond_tree = _trace_tree_fun(cond_fun, pytree.treedef_tuple([tree]),
                                                        avals, "while_loop cond")
    outs = cond_prog.out_avals
    if len(outs) != 1 or outs[0].shape != () or not dtypes.is_bool(outs[0].dtype):
        raise TypeError("while_loop: cond_fun must return a boolean scalar, got "
                        f"{[a.str_short() for a in outs]}")
    body_prog, body_consts, body_tree = _trace_tree_fun(body_fun, pytree.treedef_tuple([tree]),
                                                        avals, "while_loop body")
    _check_carry_tree("while_loop", tree, body_tree)
    if _strengthen(leaves, avals, body_prog.out_avals):
        avals = [get_aval(x) for x in leaves]
        cond_prog, cond_consts, _ = _trace_tree_fun(cond_fun, pytree.treedef_tuple([tree]),
                                                    avals, "while_loop cond")
        body_prog, body_consts, body_tree = _trace_tree_fun(
            body_fun, pytree.treedef_tuple([tree]), avals, "while_loop body")
    _check_carry("while_loop", tree, avals, body_tree, body_prog.out_avals)
    outs = while_p.bind(*cond_consts, *body_consts, *leaves, cond_program=cond_prog,
                        body_program=body_prog, cond_nconsts=len(cond_consts),
                        body_nconsts=len(body_consts))
    return pytree.tree_unflatten(tree, outs)


def _while_jvp(primals, tangents, *, cond_program, body_program, cond_nconsts, body_nconsts):
    nc, nb = cond_nconsts, body_nconsts
    cconsts, bconsts, carry = primals[:nc], primals[nc:nc + nb], primals[nc + nb:]
    bconst_t, carry_t = tangents[nc:nc + nb], tangents[nc + nb:]
    bconst_nz = [type(t) is not ad.Zero for t in bconst_t]
    n = len(carry)

    def step(carry_nz):
        return _jvp_nz(body_program, bconst_nz + carry_nz, [False] * n)[2]

    carry_nz = _carry_fixed_point(step, [type(t) is not ad.Zero for t in carry_t])
    jprog, jconsts, _ = _jvp_nz(body_program, bconst_nz + carry_nz, carry_nz)
    # Reorder inputs to (jvp consts, body consts, body const tangents, carry, carry tangents).
    k = len(jconsts)
    iv = jprog.invars
    n_bt = sum(bconst_nz)
    consts_v, rest = iv[:k], iv[k:]
    bc_v, carry_v = rest[:nb], rest[nb:nb + n]
    bct_v, ct_v = rest[nb + n:nb + n + n_bt], rest[nb + n + n_bt:]
    body_j = Program([], [*consts_v, *bc_v, *bct_v, *carry_v, *ct_v], jprog.eqns, jprog.outvars)
    t_avals = [ad.tangent_aval(get_aval(c)) for c, nz in zip(carry, carry_nz) if nz]
    cond_j = Program([], list(cond_program.invars) + [Var(a) for a in t_avals],
                     cond_program.eqns, cond_program.outvars)
    carry_t_in = [ad.instantiate(t) for t, nz in zip(carry_t, carry_nz) if nz]
    bconst_t_in = [t for t in bconst_t if type(t) is not ad.Zero]
    outs = while_p.bind(*cconsts, *jconsts, *bconsts, *bconst_t_in, *carry, *carry_t_in,
                        cond_program=cond_j, body_program=body_j, cond_nconsts=nc,
                        body_nconsts=k + nb + len(bconst_t_in))
    primal_out, it = outs[:n], iter(outs[n:])
    return primal_out, [next(it) if nz else ad.Zero(ad.tangent_aval(get_aval(o)))
                        for o, nz in zip(primal_out, carry_nz)]


while_p.def_jvp(_while_jvp)


def _while_transpose(cts, *args, **params):
    raise ValueError("Reverse-mode differentiation does not work for lax.while_loop or "
                     "lax.fori_loop with dynamic start/stop values: the number of iterations "
                     "is not known ahead. Use lax.scan, or lax.fori_loop with Python int "
                     "bounds (which lowers to scan).")


while_p.def_transpose(_while_transpose)


def _while_partial_eval(trace, tracers, knowns, unknown_in, **params):
    # Linearizing a while loop stages all of it (forward mode still works); transposing
    # the staged loop then raises the error above.
    if any(unknown_in):
        return trace.stage(while_p, tracers, params)
    return while_p.bind(*knowns, **params)


while_p.def_partial_eval(_while_partial_eval)


def _while_batch(axis, args, dims, *, cond_program, body_program, cond_nconsts, body_nconsts):
    from functorch_lite import lax
    nc, nb = cond_nconsts, body_nconsts
    size = axis.size
    # Every carry is batched (at 0): simpler, and a batched predicate needs it anyway.
    args = list(args)
    dims = list(dims)
    for i in range(nc + nb, len(args)):
        args[i] = batching.move_dim(args[i], dims[i], 0, size)
        dims[i] = 0
    cdims = tuple(dims[:nc]) + tuple(dims[nc + nb:])
    bdims = tuple(dims[nc:])
    cond_b, cond_bc = _batched_any_program(cond_program, cdims, size, axis.name)
    pred_batched = cond_b.out_avals[0].shape != ()
    body_b, body_bc = _batched_program(body_program, bdims, size, axis.name)
    if not pred_batched:
        outs = while_p.bind(*cond_bc, *args[:nc], *body_bc, *args[nc:],
                            cond_program=cond_b, body_program=body_b,
                            cond_nconsts=len(cond_bc) + nc, body_nconsts=len(body_bc) + nb)
        return outs, [0] * len(outs)
    # Batched predicate: loop while any member continues; finished members keep their value.
    carry_avals = [get_aval(a) for a in args[nc + nb:]]
    cconst_avals = [get_aval(a) for a in [*cond_bc, *args[:nc]]]
    bconst_avals = [get_aval(a) for a in [*body_bc, *args[nc:nc + nb]]]

    def new_cond(*xs):
        cc, carry = xs[:len(cconst_avals)], xs[len(cconst_avals):]
        (pred,) = eval_program(cond_b, [], [*cc, *carry])
        return [lax.reduce_or(pred, (0,))]

    def new_body(*xs):
        cc = xs[:len(cconst_avals)]
        bc = xs[len(cconst_avals):len(cconst_avals) + len(bconst_avals)]
        carry = xs[len(cconst_avals) + len(bconst_avals):]
        (pred,) = eval_program(cond_b, [], [*cc, *carry])
        new = eval_program(body_b, [], [*bc, *carry])
        out = []
        for old, nw in zip(carry, new):
            shape = get_aval(nw).shape
            which = lax.broadcast_in_dim(pred, shape, (0,)) if len(shape) > 1 else pred
            out.append(lax.select(which, nw, old))
        return out

    cprog, cconsts = _trace(new_cond, cconst_avals + carry_avals, "vmap of while cond")
    bprog, bconsts = _trace(new_body, cconst_avals + bconst_avals + carry_avals,
                            "vmap of while body")
    all_cc = [*cond_bc, *args[:nc]]
    all_bc = [*body_bc, *args[nc:nc + nb]]
    outs = while_p.bind(*cconsts, *all_cc, *bconsts, *all_cc, *all_bc, *args[nc + nb:],
                        cond_program=cprog, body_program=bprog,
                        cond_nconsts=len(cconsts) + len(all_cc),
                        body_nconsts=len(bconsts) + len(all_cc) + len(all_bc))
    return outs, [0] * len(outs)


@functools.lru_cache(maxsize=1024)
def _batched_any_program(program: Program, dims: tuple, size: int, name):
    """``program`` batched; outputs batched at 0 when they depend on the batch, else not."""
    axis = batching.AxisData(size, name)
    in_avals = []
    for v, d in zip(program.invars, dims):
        shape = list(v.aval.shape)
        if d is not None:
            shape.insert(d, size)
        in_avals.append(v.aval.update(shape=tuple(shape)))

    def fun(*xs):
        outs, out_dims = batching.batch_flat(lambda *a: eval_program(program, [], a), axis,
                                             xs, dims)
        return [o if d is None else batching.move_dim(o, d, 0, size)
                for o, d in zip(outs, out_dims)]

    return _trace(fun, in_avals, "vmap of control flow")


while_p.def_batch(_while_batch)


# ---------------------------------------------------------------------------------------
# scan

scan_p = Primitive("scan", multiple_results=True)


@scan_p.def_shape
def _scan_shape(*args, program, num_consts, num_carry, length, reverse, unroll):
    carry = args[num_consts:num_consts + num_carry]
    xs = args[num_consts + num_carry:]
    for x in xs:
        if not x.shape or x.shape[0] != length:
            raise TypeError(f"scan: every xs leaf needs leading dimension {length}, got "
                            f"{x.str_short()}")
    outs = program.out_avals
    for a, b in zip(carry, outs[:num_carry]):
        if not a.same_type(b):
            raise TypeError(f"scan: the body changes a carry from {a.str_short()} to "
                            f"{b.str_short()}")
    ys = [ShapedArray((length, *y.shape), y.dtype, y.weak_type) for y in outs[num_carry:]]
    return [*carry, *ys]


def scan(f: Callable, init: Any, xs: Any = None, length: int | None = None,
         reverse: bool = False, unroll: int | bool = 1):
    """Loop ``carry, y = f(carry, x)`` over the leading axis of ``xs`` and return
    ``(final carry, stacked ys)``, as one primitive (the body is traced once).

    >>> scan(lambda c, x: (c + x, c), 0.0, fnp.arange(4.0))
    (Array(6., dtype=float32), Array([0., 0., 1., 3.], dtype=float32))
    """
    if not callable(f):
        raise TypeError(f"scan: f must be callable, got {type(f).__name__}")
    init_leaves, carry_tree = pytree.tree_flatten(init)
    init_leaves = [_leaf(x) for x in init_leaves]
    xs_leaves, xs_tree = pytree.tree_flatten(xs)
    xs_leaves = [as_operand(x) for x in xs_leaves]
    lengths = {get_aval(x).shape[0] if get_aval(x).shape else None for x in xs_leaves}
    if None in lengths:
        raise ValueError("scan: xs leaves must have a leading axis to scan over (rank >= 1)")
    if length is not None:
        lengths.add(int(length))
    if len(lengths) > 1:
        raise ValueError(f"scan: inconsistent lengths: xs leading dims and length= give "
                         f"{sorted(lengths)}")
    if not lengths:
        raise ValueError("scan: pass xs or length= to say how many iterations to run")
    n = lengths.pop()
    carry_avals = [get_aval(x) for x in init_leaves]
    x_avals = [get_aval(x).update(shape=get_aval(x).shape[1:]) for x in xs_leaves]
    in_tree = pytree.treedef_tuple([carry_tree, xs_tree])
    box = []

    def flat(*vals):
        carry, x = pytree.tree_unflatten(in_tree, vals)
        out = f(carry, x)
        if not (isinstance(out, tuple) and len(out) == 2):
            raise TypeError("scan: the body must return a pair (carry, y), got "
                            f"{type(out).__name__}")
        c, y = out
        c_leaves, c_tree = pytree.tree_flatten(c)
        y_leaves, y_tree = pytree.tree_flatten(y)
        box.append((c_tree, y_tree, [get_aval(as_operand(v)) for v in c_leaves]))
        return [as_operand(v) for v in [*c_leaves, *y_leaves]]

    program, consts = _trace(flat, carry_avals + x_avals, "scan body")
    c_tree, y_tree, c_out_avals = box[0]
    _check_carry_tree("scan", carry_tree, c_tree)
    if _strengthen(init_leaves, carry_avals, c_out_avals):
        # A weakly typed start that the body retypes: start with that type, trace again.
        carry_avals = [get_aval(x) for x in init_leaves]
        box.clear()
        program, consts = _trace(flat, carry_avals + x_avals, "scan body")
        c_tree, y_tree, c_out_avals = box[0]
    _check_carry("scan", carry_tree, carry_avals, c_tree, c_out_avals)
    outs = scan_p.bind(*consts, *init_leaves, *xs_leaves, program=program,
                       num_consts=len(consts), num_carry=len(init_leaves), length=n,
                       reverse=bool(reverse), unroll=int(unroll) if unroll is not True else n)
    k = len(init_leaves)
    return pytree.tree_unflatten(carry_tree, outs[:k]), pytree.tree_unflatten(y_tree, outs[k:])


def _scan_jvp(primals, tangents, *, program, num_consts, num_carry, length, reverse, unroll):
    nc, nk = num_consts, num_carry
    consts, carry, xs = primals[:nc], primals[nc:nc + nk], primals[nc + nk:]
    ct, kt, xt = tangents[:nc], tangents[nc:nc + nk], tangents[nc + nk:]
    c_nz = [type(t) is not ad.Zero for t in ct]
    x_nz = [type(t) is not ad.Zero for t in xt]
    n_y = len(program.outvars) - nk

    def step(k_nz):
        return _jvp_nz(program, c_nz + k_nz + x_nz, [False] * (nk + n_y))[2][:nk]

    k_nz = _carry_fixed_point(step, [type(t) is not ad.Zero for t in kt])
    y_nz = _jvp_nz(program, c_nz + k_nz + x_nz, k_nz + [False] * n_y)[2][nk:]
    jprog, jconsts, out_nz = _jvp_nz(program, c_nz + k_nz + x_nz, k_nz + y_nz)
    # Inputs of jprog: (jconsts, consts, carry, xs, consts_t, carry_t, xs_t); reorder to the
    # scan layout (jconsts, consts, consts_t | carry, carry_t | xs, xs_t).
    iv = jprog.invars
    j = len(jconsts)
    n_ct, n_kt = sum(c_nz), sum(k_nz)
    pv = iv[j:j + nc + nk + len(xs)]
    tv = iv[j + nc + nk + len(xs):]
    c_v, k_v, x_v = pv[:nc], pv[nc:nc + nk], pv[nc + nk:]
    ct_v, kt_v, xt_v = tv[:n_ct], tv[n_ct:n_ct + n_kt], tv[n_ct + n_kt:]
    # Outputs of jprog: (carry_out, ys, carry_t (k_nz), ys_t (y_nz)) -> (carry, carry_t, ys, ys_t)
    ov = jprog.outvars
    co, yo = ov[:nk], ov[nk:nk + n_y]
    kto, yto = ov[nk + n_y:nk + n_y + n_kt], ov[nk + n_y + n_kt:]
    body = Program([], [*iv[:j], *c_v, *ct_v, *k_v, *kt_v, *x_v, *xt_v], jprog.eqns,
                   [*co, *kto, *yo, *yto])
    ct_in = [t for t in ct if type(t) is not ad.Zero]
    kt_in = [ad.instantiate(t) for t, nz in zip(kt, k_nz) if nz]
    xt_in = [t for t in xt if type(t) is not ad.Zero]
    outs = scan_p.bind(*jconsts, *consts, *ct_in, *carry, *kt_in, *xs, *xt_in, program=body,
                       num_consts=j + nc + len(ct_in), num_carry=nk + len(kt_in), length=length,
                       reverse=reverse, unroll=unroll)
    carry_out, carry_t = outs[:nk], iter(outs[nk:nk + len(kt_in)])
    ys, ys_t = outs[nk + len(kt_in):nk + len(kt_in) + n_y], iter(outs[nk + len(kt_in) + n_y:])
    tangents_out = [next(carry_t) if nz else ad.Zero(ad.tangent_aval(get_aval(o)))
                    for o, nz in zip(carry_out, k_nz)]
    tangents_out += [next(ys_t) if nz else ad.Zero(ad.tangent_aval(get_aval(o)))
                     for o, nz in zip(ys, y_nz)]
    return [*carry_out, *ys], tangents_out


scan_p.def_jvp(_scan_jvp)


@functools.lru_cache(maxsize=1024)
def _scan_split(program: Program, unknown_in: tuple, nc: int, nk: int):
    """Split a scan body for partial evaluation. Returns (known body, its extra leading
    constants, unknown body, carry unknown flags, ys unknown flags, number of residuals,
    residual kinds, residual sources, invariant program). The known body takes (its extra
    constants, known consts, known carries, known xs). Each residual reaches the unknown
    scan in the cheapest way:

    * ``"const"``: a constant input of the known body, passed as a constant;
    * ``"invariant"``: computed from the known body's constants only (loop-invariant, e.g.
      ``sin(w)`` or a zero), computed once before the loop by the invariant program
      (the known body's constants -> these residuals) and passed as a constant;
    * ``"xs"``: a known ``xs`` input of the body, passed on as the same ``xs`` array;
    * ``"stacked"``: anything else, stacked per iteration as an extra output of the known
      scan."""
    n_y = len(program.outvars) - nk
    u_c, u_x = list(unknown_in[:nc]), list(unknown_in[nc + nk:])

    def step(k_u):
        return partial_eval.split_program(program, tuple(u_c + k_u + u_x))[3][:nk]

    k_u = _carry_fixed_point(step, list(unknown_in[nc:nc + nk]))
    u = tuple(u_c + k_u + u_x)
    known, known_consts, unknown, out_u, num_res = partial_eval.split_program(
        program, u, tuple(k_u + [False] * n_y))
    y_u = out_u[nk:]
    n_const = len(known_consts) + nc - sum(u_c)
    const_vars = known.invars[:n_const]
    x_vars = set(known.invars[n_const + nk - sum(k_u):])
    # Variables of the known body computed from its constants only.
    invariant = set(const_vars)
    for eqn in known.eqns:
        if all(not isinstance(a, Var) or a in invariant for a in eqn.inputs):
            invariant.update(eqn.outputs)
    res_src = known.outvars[len(known.outvars) - num_res:]
    kinds = tuple("invariant" if not isinstance(v, Var) else "const" if v in const_vars
                  else "invariant" if v in invariant else "xs" if v in x_vars else "stacked"
                  for v in res_src)
    inv_out = [v for v, kind in zip(res_src, kinds) if kind == "invariant"]
    needed, inv_eqns = set(v for v in inv_out if isinstance(v, Var)), []
    for eqn in reversed(known.eqns):
        if any(o in needed for o in eqn.outputs):
            inv_eqns.append(eqn)
            needed.update(a for a in eqn.inputs if isinstance(a, Var))
    inv_prog = Program([], const_vars, inv_eqns[::-1], inv_out)
    return known, known_consts, unknown, k_u, y_u, num_res, kinds, res_src, inv_prog


def _scan_known_part(knowns, unknown_in, program, nc, nk, length, reverse, unroll):
    """Run the known part of a scan now (``knowns``: values, None where unknown). Returns
    (carry unknown flags, ys unknown flags, known carry outs, known ys, residual constants,
    per-iteration residuals, unknown body). The unknown scan takes consts (residual
    constants, unknown consts), carry (unknown carries), xs (per-iteration residuals,
    unknown xs)."""
    known, known_consts, unknown, k_u, y_u, num_res, kinds, res_src, inv_prog = _scan_split(
        program, tuple(unknown_in), nc, nk)
    u_c, u_x = unknown_in[:nc], unknown_in[nc + nk:]
    consts, carry, xs = knowns[:nc], knowns[nc:nc + nk], knowns[nc + nk:]
    n_y = len(program.outvars) - nk
    # Known scan: consts / carry / xs that are known; outputs: known carries, known ys, then
    # the stacked residuals.
    kc = [*known_consts, *[c for c, u in zip(consts, u_c) if not u]]
    kk = [c for c, u in zip(carry, k_u) if not u]
    kx = [x for x, u in zip(xs, u_x) if not u]
    n_known_carry = nk - sum(k_u)
    n_known_y = n_y - sum(y_u)
    const_res_idx = [i for i, kind in enumerate(kinds) if kind in ("const", "invariant")]
    stacked_idx = [i for i, kind in enumerate(kinds) if kind in ("stacked", "xs")]
    kov = known.outvars
    body_outs = kov[:n_known_carry + n_known_y] + [kov[n_known_carry + n_known_y + i]
                                                   for i in range(num_res)
                                                   if kinds[i] == "stacked"]
    if body_outs:
        known_body = Program([], known.invars, known.eqns, body_outs)
        outs = scan_p.bind(*kc, *kk, *kx, program=known_body, num_consts=len(kc),
                           num_carry=len(kk), length=length, reverse=reverse, unroll=unroll)
    else:
        outs = []
    known_carry_out = outs[:n_known_carry]
    known_ys = outs[n_known_carry:n_known_carry + n_known_y]
    stacked = iter(outs[n_known_carry + n_known_y:])
    # Residual values: known constants and xs as they are; loop invariants computed once.
    known_const_invars = known.invars[:len(kc)]
    known_x_invars = known.invars[len(kc) + len(kk):]
    invariants = iter(eval_program(inv_prog, [], kc) if inv_prog.outvars else [])
    res_vals = []
    for v, kind in zip(res_src, kinds):
        if kind == "const":
            res_vals.append(kc[known_const_invars.index(v)])
        elif kind == "invariant":
            res_vals.append(next(invariants))
        elif kind == "xs":
            res_vals.append(kx[known_x_invars.index(v)])
        else:
            res_vals.append(next(stacked))
    # The unknown body's inputs, reordered to the unknown scan's layout.
    uiv = unknown.invars
    res_v, rest = uiv[:num_res], uiv[num_res:]
    n_uc, n_uk = sum(u_c), sum(k_u)
    uc_v, uk_v, ux_v = rest[:n_uc], rest[n_uc:n_uc + n_uk], rest[n_uc + n_uk:]
    body = Program([], [*[res_v[i] for i in const_res_idx], *uc_v, *uk_v,
                        *[res_v[i] for i in stacked_idx], *ux_v], unknown.eqns,
                   unknown.outvars)
    return (k_u, y_u, known_carry_out, known_ys, [res_vals[i] for i in const_res_idx],
            [res_vals[i] for i in stacked_idx], body)


def _scan_partial_eval(trace, tracers, knowns, unknown_in, *, program, num_consts, num_carry,
                       length, reverse, unroll):
    nc, nk = num_consts, num_carry
    k_u, y_u, known_carry_out, known_ys, res_c, res_x, body = _scan_known_part(
        knowns, unknown_in, program, nc, nk, length, reverse, unroll)
    u_c, u_x = unknown_in[:nc], unknown_in[nc + nk:]
    carry = knowns[nc:nc + nk]
    n_uk = sum(k_u)
    t_uc = [t for t, u in zip(tracers[:nc], u_c) if u]
    t_uk = [t if u_in else trace.pure(k)
            for t, k, u_in, u in zip(tracers[nc:nc + nk], carry, unknown_in[nc:nc + nk], k_u)
            if u]
    t_ux = [t for t, u in zip(tracers[nc + nk:], u_x) if u]
    staged = trace.stage(scan_p, [*[trace.pure(r) for r in res_c], *t_uc, *t_uk,
                                  *[trace.pure(r) for r in res_x], *t_ux],
                         dict(program=body, num_consts=len(res_c) + len(t_uc),
                              num_carry=n_uk, length=length, reverse=reverse, unroll=unroll))
    s_carry, s_ys = iter(staged[:n_uk]), iter(staged[n_uk:])
    k_carry, k_ys = iter(known_carry_out), iter(known_ys)
    result = [next(s_carry) if u else trace.pure(next(k_carry)) for u in k_u]
    result += [next(s_ys) if u else trace.pure(next(k_ys)) for u in y_u]
    return result


scan_p.def_partial_eval(_scan_partial_eval)


@functools.lru_cache(maxsize=1024)
def _scan_transpose_body(program: Program, nc_res: int, nc_lin: int, nk: int, nx_res: int,
                         nx_lin: int):
    """The body of the transposed scan. Original body inputs: (res consts, linear consts,
    carry, res xs, linear xs), all but the residuals linear. New scan: consts = res consts;
    carry = (linear-consts cotangent accumulators, carry cotangents); xs = (res xs, ys
    cotangents); ys = linear-xs cotangents."""
    iv = program.invars
    lin_c = iv[nc_res:nc_res + nc_lin]
    carry = iv[nc_res + nc_lin:nc_res + nc_lin + nk]
    lin_x = iv[nc_res + nc_lin + nk + nx_res:]
    out_avals = [v.aval for v in program.outvars]
    avals = ([v.aval for v in iv[:nc_res]] + [v.aval for v in lin_c]
             + [v.aval for v in carry] + [v.aval for v in iv[nc_res + nc_lin + nk:
                                                              nc_res + nc_lin + nk + nx_res]]
             + out_avals[nk:])

    def fun(*xs):
        res_c = xs[:nc_res]
        acc = xs[nc_res:nc_res + nc_lin]
        ct_carry = xs[nc_res + nc_lin:nc_res + nc_lin + nk]
        res_x = xs[nc_res + nc_lin + nk:nc_res + nc_lin + nk + nx_res]
        ct_y = xs[nc_res + nc_lin + nk + nx_res:]
        args = [*res_c, *[transpose.UndefinedPrimal(v.aval) for v in lin_c],
                *[transpose.UndefinedPrimal(v.aval) for v in carry], *res_x,
                *[transpose.UndefinedPrimal(v.aval) for v in lin_x]]
        cts = transpose.backward_pass(program, [], args, [*ct_carry, *ct_y])
        ct_lin_c = cts[nc_res:nc_res + nc_lin]
        ct_carry_in = cts[nc_res + nc_lin:nc_res + nc_lin + nk]
        ct_lin_x = cts[nc_res + nc_lin + nk + nx_res:]
        new_acc = [ad.add_tangents(a, c) if type(c) is not ad.Zero else a
                   for a, c in zip(acc, ct_lin_c)]
        return [*new_acc, *[ad.instantiate(c) for c in ct_carry_in],
                *[ad.instantiate(c) for c in ct_lin_x]]

    return _trace(fun, avals, "transpose of scan")


def _scan_transpose(cts, *args, program, num_consts, num_carry, length, reverse, unroll):
    if all(type(c) is ad.Zero for c in cts):
        return [None] * len(args)
    from functorch_lite import lax
    nc, nk = num_consts, num_carry
    consts, carry, xs = args[:nc], args[nc:nc + nk], args[nc + nk:]
    c_lin = [transpose.is_undefined(c) for c in consts]
    x_lin = [transpose.is_undefined(x) for x in xs]
    # Every carry of a linear scan is linear; a defined one is a constant (zero) start
    # whose cotangent nobody needs.
    k_lin = [transpose.is_undefined(c) for c in carry]
    # The body must list residual (non-linear) inputs before linear ones within consts and
    # within xs; permute the program's inputs to that order.
    iv = program.invars
    c_v, k_v, x_v = iv[:nc], iv[nc:nc + nk], iv[nc + nk:]
    perm_c = [v for v, lin in zip(c_v, c_lin) if not lin] + [v for v, lin in zip(c_v, c_lin) if lin]
    perm_x = [v for v, lin in zip(x_v, x_lin) if not lin] + [v for v, lin in zip(x_v, x_lin) if lin]
    body = _permuted(program, tuple(perm_c + list(k_v) + perm_x))
    nc_res, nc_lin = c_lin.count(False), c_lin.count(True)
    nx_res, nx_lin = x_lin.count(False), x_lin.count(True)
    tprog, tconsts = _scan_transpose_body(body, nc_res, nc_lin, nk, nx_res, nx_lin)
    res_c = [c for c, lin in zip(consts, c_lin) if not lin]
    res_x = [x for x, lin in zip(xs, x_lin) if not lin]
    acc0 = [lax.full(c.aval.shape, 0, c.aval.dtype) for c, lin in zip(consts, c_lin) if lin]
    ct_carry = [ad.instantiate(c) for c in cts[:nk]]
    ct_ys = [ad.instantiate(c) for c in cts[nk:]]
    outs = scan_p.bind(*tconsts, *res_c, *acc0, *ct_carry, *res_x, *ct_ys, program=tprog,
                       num_consts=len(tconsts) + nc_res, num_carry=nc_lin + nk, length=length,
                       reverse=not reverse, unroll=unroll)
    ct_lin_c = iter(outs[:nc_lin])
    ct_init = outs[nc_lin:nc_lin + nk]
    ct_lin_x = iter(outs[nc_lin + nk:])
    return ([next(ct_lin_c) if lin else None for lin in c_lin]
            + [c if lin else None for c, lin in zip(ct_init, k_lin)]
            + [next(ct_lin_x) if lin else None for lin in x_lin])


@functools.lru_cache(maxsize=1024)
def _permuted(program: Program, invars: tuple) -> Program:
    return Program([], list(invars), program.eqns, program.outvars)


scan_p.def_transpose(_scan_transpose)


def _scan_batch(axis, args, dims, *, program, num_consts, num_carry, length, reverse, unroll):
    nc, nk = num_consts, num_carry
    size = axis.size
    args, dims = list(args), list(dims)
    # Carries are all batched at 0; xs get their batch dim at 1 (the scan runs over 0).
    for i in range(nc, nc + nk):
        args[i] = batching.move_dim(args[i], dims[i], 0, size)
        dims[i] = 0
    for i in range(nc + nk, len(args)):
        if dims[i] is not None:
            args[i] = batching.move_dim(args[i], dims[i], 1, size)
            dims[i] = 0  # the body sees one slice: batch dim 0
    body, bconsts = _batched_program(program, tuple(dims), size, axis.name)
    outs = scan_p.bind(*bconsts, *args, program=body, num_consts=len(bconsts) + nc,
                       num_carry=nk, length=length, reverse=reverse, unroll=unroll)
    return outs, [0] * nk + [1] * (len(outs) - nk)


scan_p.def_batch(_scan_batch)


# ---------------------------------------------------------------------------------------
# fori_loop and map, in terms of scan / while_loop

def _static_int(x: Any) -> int | None:
    """``x`` as a Python int when it is a concrete (untraced) integer scalar, else None."""
    from functorch_lite.core.trace import Tracer
    if isinstance(x, bool) or isinstance(x, Tracer):
        return None
    if isinstance(x, (int, np.integer)):
        return int(x)
    try:
        aval = get_aval(as_operand(x))
    except Exception:
        return None
    if aval.shape == () and dtypes.is_int(aval.dtype):
        return int(np.asarray(x))
    return None


def fori_loop(lower: Any, upper: Any, body_fun: Callable, init_val: Any, *,
              unroll: int | bool | None = None):
    """``for i in range(lower, upper): val = body_fun(i, val)``. With concrete bounds
    (Python ints, or untraced integer scalars) it lowers to ``scan`` (so reverse-mode
    differentiable; the index is a weakly typed int as in JAX); with traced bounds, to
    ``while_loop``."""
    lo, hi = _static_int(lower), _static_int(upper)
    if lo is not None and hi is not None:
        def step(carry, _):
            i, val = carry
            return (i + 1, body_fun(i, val)), None

        (_, out), _ = scan(step, (lo, init_val), None, length=max(0, hi - lo),
                           unroll=unroll or 1)
        return out
    if unroll is not None and unroll is not False and unroll != 1:
        raise ValueError("fori_loop: unroll needs static (Python int) loop bounds")
    from functorch_lite import lax
    dt = dtypes.result_type(lower, upper)
    lower = lax.convert_element_type(lower, dt)
    upper = lax.convert_element_type(upper, dt)

    def cond_fun(carry):
        return lax.lt(carry[0], carry[1])

    def body(carry):
        i, hi, val = carry
        return lax.add(i, lax.convert_element_type(1, dt)), hi, body_fun(i, val)

    return while_loop(cond_fun, body, (lower, upper, init_val))[2]


def map(f: Callable, xs: Any, *, batch_size: int | None = None):
    """``stack([f(x) for x in xs])`` as one scan over the leading axis of ``xs``.

    With ``batch_size=k`` each scan step applies ``vmap(f)`` to ``k`` elements at once
    (more parallelism, more memory); when ``k`` does not divide the length, the last
    ``length % k`` elements go through one more ``vmap(f)`` after the scan, as in JAX
    (``batch_size=0`` or one larger than the length vmaps everything at once).
    """
    if batch_size is None:
        _, ys = scan(lambda _, x: (None, f(x)), None, xs)
        return ys
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
            or batch_size < 0:
        raise TypeError(f"map: batch_size must be a non-negative int, got {batch_size!r}")
    from functorch_lite import lax
    leaves, tree = pytree.tree_flatten(xs)
    leaves = [as_operand(x) for x in leaves]
    if not leaves:
        _, ys = scan(lambda _, x: (None, f(x)), None, xs)  # scan's own error
        return ys
    n = get_aval(leaves[0]).shape[0] if get_aval(leaves[0]).shape else None
    if n is None or any(get_aval(x).shape[:1] != (n,) for x in leaves):
        raise ValueError("map: every leaf of xs needs the same leading dimension, got shapes "
                         f"{[get_aval(x).shape for x in leaves]}")
    k = int(batch_size)
    num_batches = n // k if k else 0
    done = num_batches * k
    ys = None
    if num_batches:
        batched = [lax.reshape(lax.slice_in_dim(x, 0, done, axis=0),
                               (num_batches, k, *get_aval(x).shape[1:])) for x in leaves]
        _, ys = scan(lambda _, x: (None, _vmap_leading(f, x)), None,
                     pytree.tree_unflatten(tree, batched))
        ys = pytree.tree_map(
            lambda y: lax.reshape(y, (done, *get_aval(y).shape[2:])), ys)
    if done < n:
        rest = [lax.slice_in_dim(x, done, n, axis=0) for x in leaves]
        rest_ys = _vmap_leading(f, pytree.tree_unflatten(tree, rest))
        ys = rest_ys if ys is None else pytree.tree_map(
            lambda a, b: lax.concatenate([a, b], 0), ys, rest_ys)
    return ys


def _vmap_leading(f: Callable, xs: Any):
    """``vmap(f)(xs)`` over the leading axis of every leaf (outputs batched at axis 0)."""
    leaves, tree = pytree.tree_flatten(xs)
    size = get_aval(leaves[0]).shape[0]
    box = []

    def flat(*args):
        out_leaves, out_tree = pytree.tree_flatten(f(pytree.tree_unflatten(tree, args)))
        box.append(out_tree)
        return [as_operand(o) for o in out_leaves]

    outs, dims = batching.batch_flat(flat, batching.AxisData(size), leaves,
                                     [0] * len(leaves))
    return pytree.tree_unflatten(box[0], [batching.move_dim(o, d, 0, size)
                                          for o, d in zip(outs, dims)])
