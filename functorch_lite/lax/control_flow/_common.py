"""What the control-flow primitives share: tracing their bodies into programs (constants
as leading inputs), joining branch programs over one set of constants, and the checks and
retyping of loop carries."""
from __future__ import annotations

from typing import Any, Callable, Sequence

from functorch_lite.core import dtypes, pytree
from functorch_lite.core.avals import get_aval
from functorch_lite.core.ir import Program, Var, programs_in
from functorch_lite.interpreters.staging import trace_flat
from functorch_lite.lax._common import as_operand, scalar_like
from functorch_lite.lax.elementwise import convert_element_type


def trace_tree_fun(fun: Callable, in_tree, in_avals, name: str):
    """Trace a pytree function; returns (program, consts, out_tree)."""
    flat, out_tree = pytree.flatten_fun(fun, in_tree)
    program, consts = trace_flat(lambda *xs: [as_operand(x) for x in flat(*xs)], in_avals,
                                 name)
    return program, consts, out_tree()


def operand_leaf(x: Any) -> Any:
    """An operand leaf; a Python scalar becomes a weakly typed scalar of its (current)
    default dtype, so eager calls see the dtype the tracing saw."""
    x = as_operand(x)
    if type(x) in (bool, int, float, complex):
        return scalar_like(x, get_aval(x).dtype, weak_type=True)
    return x


def join_branches(pairs: Sequence[tuple[Program, list]]) -> tuple[tuple[Program, ...], list]:
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


def strengthen_weak_carry(leaves: list, in_avals, out_avals) -> bool:
    """Retype weakly typed carry starts (Python scalars) from what the body returned for
    them, as JAX does; returns whether any changed (the caller then traces the body again).

    A weak start whose body output has another dtype becomes the promoted dtype of the two,
    strongly typed: a carry started at ``0`` and updated with ``i + 1.5`` is a float32
    carry. A weak start whose body output has its dtype but is strong becomes strong.
    Strong starts never change: the body must return exactly their dtype (checked after)."""
    changed = False
    for i, (a, b) in enumerate(zip(in_avals, out_avals)):
        if not a.weak_type or (a.dtype == b.dtype and b.weak_type):
            continue
        dt = a.dtype if a.dtype == b.dtype else dtypes.result_type(a, b)
        leaves[i] = convert_element_type(leaves[i], dt, weak_type=False)
        changed = True
    return changed


def check_carry_tree(name: str, tree, out_tree, what: str = "carry"):
    if out_tree != tree:
        raise TypeError(f"{name}: the body must return a {what} with the same structure as "
                        f"its input, got {out_tree} for input {tree}")


def carry_fixed_point(step: Callable[[list], list], init: list) -> list:
    """Iterate ``flags = flags | step(flags)`` until it stops changing."""
    flags = list(init)
    while True:
        new = [a or b for a, b in zip(flags, step(flags))]
        if new == flags:
            return flags
        flags = new


def check_carry(name: str, tree, in_avals, out_tree, out_avals, what: str = "carry"):
    check_carry_tree(name, tree, out_tree, what)
    paths = [pytree.keystr(p) for p, _ in
             pytree.tree_flatten_with_path(pytree.tree_unflatten(tree, list(in_avals)))[0]]
    for path, a, b in zip(paths, in_avals, out_avals):
        if a.shape != b.shape or a.dtype != b.dtype:
            raise TypeError(f"{name}: {what} leaf {what}{path} changes type from "
                            f"{a.str_short()} to {b.str_short()}; the body must keep every "
                            f"{what} leaf's shape and dtype")


# What JAX says when an effect that must happen per member (Primitive.refuses_batched_predicate:
# io_callback) sits where vmap would run it for every member.
_BATCHED_PREDICATE = {
    "cond": "IO effect not supported in vmap-of-cond.",
    "while_loop": "Unordered IO effects not supported in while_loop with batched predicate.",
}


def _holds_per_member_effect(programs: Sequence[Any]) -> bool:
    for program in programs_in({"programs": list(programs)}):
        for eqn in program.eqns:
            if (eqn.primitive.refuses_batched_predicate
                    or _holds_per_member_effect(programs_in(eqn.params))):
                return True
    return False


def refuse_effects_under_batched_predicate(programs: Sequence[Any], construct: str) -> None:
    """For the batching rules of ``cond`` and ``while_loop`` when the predicate is batched:
    every branch (every loop iteration) then runs for the whole batch, so an io_callback
    in ``programs`` (or in a program nested in them) would run for members that did not
    take that branch or had finished their loop. Raise JAX's error (a NotImplementedError)
    instead. Debug callbacks are allowed, as in JAX."""
    if _holds_per_member_effect(programs):
        raise NotImplementedError(
            f"{_BATCHED_PREDICATE[construct]} Under vmap with a batched predicate, the "
            f"{construct} runs its code for every batch member, so an io_callback in it "
            f"would run for members it does not apply to; move the io_callback out of the "
            f"{construct}, or make the predicate unbatched.")
