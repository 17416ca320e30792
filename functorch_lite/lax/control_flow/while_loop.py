"""``while_loop``: one primitive holding the cond and body programs.

jvp iterates the body's jvp to a fixed point of which carry tangents are nonzero; reverse
mode is refused (the trip count is not known ahead: use ``scan`` or ``fori_loop`` with
static bounds); a batched predicate runs until every batch member is done, freezing the
finished ones.

Under ``disable_jit()`` the loop is a Python ``while`` on concrete values, as JAX runs it,
as long as each predicate is known; one that is not (batched by ``vmap``, or staged) makes
it start over as the primitive, as JAX does.
"""
from __future__ import annotations

from typing import Any, Callable

from functorch_lite.core import dtypes, pytree
from functorch_lite.core.avals import get_aval
from functorch_lite.core.ir import Program, Var, eval_program
from functorch_lite.core.primitive import Primitive
from functorch_lite.interpreters import ad, batching
from functorch_lite.interpreters.staging import trace_flat
from functorch_lite.lax.control_flow._common import (PythonCarry, carry_fixed_point,
                                                     check_carry, check_carry_tree,
                                                     concrete_value, operand_leaf,
                                                     python_control_flow,
                                                     refuse_effects_under_batched_predicate,
                                                     strengthen_weak_carry, trace_tree_fun)
from functorch_lite.lax.elementwise import select
from functorch_lite.lax.reductions import reduce_or
from functorch_lite.lax.shapes import broadcast_in_dim

while_p = Primitive("while", multiple_results=True)


def _check_predicate(avals) -> None:
    """cond_fun's results (traced, or run as Python) must be one boolean scalar."""
    if len(avals) != 1 or avals[0].shape != () or not dtypes.is_bool(avals[0].dtype):
        raise TypeError("while_loop: cond_fun must return a boolean scalar, got "
                        f"{[a.str_short() for a in avals]}")


@while_p.def_shape
def _while_shape(*args, cond_program, body_program, cond_nconsts, body_nconsts):
    carry = args[cond_nconsts + body_nconsts:]
    _check_predicate(cond_program.out_avals)
    for a, b in zip(carry, body_program.out_avals):
        if not a.same_type(b):
            raise TypeError(f"while_loop: body_fun changes a carry from {a.str_short()} to "
                            f"{b.str_short()}")
    return list(carry)


def while_loop(cond_fun: Callable, body_fun: Callable, init_val: Any):
    """Repeat ``val = body_fun(val)`` while ``cond_fun(val)``; returns the final ``val``.
    Forward-mode differentiable; reverse mode needs a static trip count (use ``fori_loop``
    with Python ints, or ``scan``). Under ``disable_jit()`` it runs as a Python ``while``
    (and so is also reverse-mode differentiable there, as in JAX).

    >>> while_loop(lambda v: v < 10, lambda v: v * 2, 1)
    Array(16, dtype=int32, weak_type=True)
    """
    leaves, tree = pytree.tree_flatten(init_val)
    leaves = [operand_leaf(x) for x in leaves]
    if python_control_flow():
        done = _python_while(cond_fun, body_fun, leaves, tree)
        if done is not None:
            return done
    avals = [get_aval(x) for x in leaves]
    cond_prog, cond_consts, cond_tree = trace_tree_fun(cond_fun, pytree.treedef_tuple([tree]),
                                                       avals, "while_loop cond")
    _check_predicate(cond_prog.out_avals)
    body_prog, body_consts, body_tree = trace_tree_fun(body_fun, pytree.treedef_tuple([tree]),
                                                       avals, "while_loop body")
    check_carry_tree("while_loop", tree, body_tree)
    if strengthen_weak_carry(leaves, avals, body_prog.out_avals):
        avals = [get_aval(x) for x in leaves]
        cond_prog, cond_consts, _ = trace_tree_fun(cond_fun, pytree.treedef_tuple([tree]),
                                                   avals, "while_loop cond")
        body_prog, body_consts, body_tree = trace_tree_fun(
            body_fun, pytree.treedef_tuple([tree]), avals, "while_loop body")
    check_carry("while_loop", tree, avals, body_tree, body_prog.out_avals)
    outs = while_p.bind(*cond_consts, *body_consts, *leaves, cond_program=cond_prog,
                        body_program=body_prog, cond_nconsts=len(cond_consts),
                        body_nconsts=len(body_consts))
    return pytree.tree_unflatten(tree, outs)


def _python_while(cond_fun: Callable, body_fun: Callable, leaves: list, tree) -> Any:
    """The loop as a Python ``while`` (``disable_jit()``); None when a predicate is not
    known now (then the caller runs the primitive from the start, as JAX falls back)."""
    carry = PythonCarry("while_loop", leaves, tree)
    while True:
        pred = pytree.tree_leaves(cond_fun(carry.value()))
        _check_predicate([get_aval(operand_leaf(p)) for p in pred])
        value = concrete_value(pred[0])
        if value is None:
            return None
        if not value:
            return carry.value()
        carry.update(body_fun(carry.value()))


def _while_jvp(primals, tangents, *, cond_program, body_program, cond_nconsts, body_nconsts):
    nc, nb = cond_nconsts, body_nconsts
    cconsts, bconsts, carry = primals[:nc], primals[nc:nc + nb], primals[nc + nb:]
    bconst_t, carry_t = tangents[nc:nc + nb], tangents[nc + nb:]
    bconst_nz = [type(t) is not ad.Zero for t in bconst_t]
    n = len(carry)

    def step(carry_nz):
        return ad.jvp_program(body_program, tuple(bconst_nz + carry_nz), False)[2]

    carry_nz = carry_fixed_point(step, [type(t) is not ad.Zero for t in carry_t])
    jprog, jconsts, _ = ad.jvp_program(body_program, tuple(bconst_nz + carry_nz),
                                       tuple(carry_nz))
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
    raise ValueError("Reverse-mode differentiation does not work for while_loop or "
                     "fori_loop with dynamic start/stop values: the number of iterations "
                     "is not known ahead. Use scan, or fori_loop with Python int "
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
    cond_b, cond_bc, _ = batching.batch_program(cond_program, cdims, size, axis.name)
    pred_batched = cond_b.out_avals[0].shape != ()
    body_b, body_bc, _ = batching.batch_program(body_program, bdims, size, axis.name,
                                                all_batched=True)
    if not pred_batched:
        outs = while_p.bind(*cond_bc, *args[:nc], *body_bc, *args[nc:],
                            cond_program=cond_b, body_program=body_b,
                            cond_nconsts=len(cond_bc) + nc, body_nconsts=len(body_bc) + nb)
        return outs, [0] * len(outs)
    # Batched predicate: loop while any member continues; finished members keep their value.
    refuse_effects_under_batched_predicate([cond_program, body_program], "while_loop")
    carry_avals = [get_aval(a) for a in args[nc + nb:]]
    cconst_avals = [get_aval(a) for a in [*cond_bc, *args[:nc]]]
    bconst_avals = [get_aval(a) for a in [*body_bc, *args[nc:nc + nb]]]

    def new_cond(*xs):
        cc, carry = xs[:len(cconst_avals)], xs[len(cconst_avals):]
        (pred,) = eval_program(cond_b, [], [*cc, *carry])
        return [reduce_or(pred, (0,))]

    def new_body(*xs):
        cc = xs[:len(cconst_avals)]
        bc = xs[len(cconst_avals):len(cconst_avals) + len(bconst_avals)]
        carry = xs[len(cconst_avals) + len(bconst_avals):]
        (pred,) = eval_program(cond_b, [], [*cc, *carry])
        new = eval_program(body_b, [], [*bc, *carry])
        out = []
        for old, nw in zip(carry, new):
            shape = get_aval(nw).shape
            which = broadcast_in_dim(pred, shape, (0,)) if len(shape) > 1 else pred
            out.append(select(which, nw, old))
        return out

    cprog, cconsts = trace_flat(new_cond, cconst_avals + carry_avals, "vmap of while cond")
    bprog, bconsts = trace_flat(new_body, cconst_avals + bconst_avals + carry_avals,
                                "vmap of while body")
    all_cc = [*cond_bc, *args[:nc]]
    all_bc = [*body_bc, *args[nc:nc + nb]]
    outs = while_p.bind(*cconsts, *all_cc, *bconsts, *all_cc, *all_bc, *args[nc + nb:],
                        cond_program=cprog, body_program=bprog,
                        cond_nconsts=len(cconsts) + len(all_cc),
                        body_nconsts=len(bconsts) + len(all_cc) + len(all_bc))
    return outs, [0] * len(outs)


while_p.def_batch(_while_batch)
