"""What the control-flow primitives share: tracing their bodies into programs (constants
as leading inputs), joining branch programs over one set of constants, the checks and
retyping of loop carries, and the pieces of the plain-Python path they take under
``disable_jit()``."""
from __future__ import annotations

from typing import Any, Callable, Sequence

from functorch_lite.core import dtypes, pytree
from functorch_lite.core.avals import Array, ShapedArray, get_aval
from functorch_lite.core.config import config
from functorch_lite.core.ir import Program, Var, programs_in
from functorch_lite.core.trace import is_traced
from functorch_lite.interpreters.ad import JVPTracer
from functorch_lite.interpreters.staging import trace_flat
from functorch_lite.lax._common import as_operand, scalar_like
from functorch_lite.lax.elementwise import convert_element_type
from functorch_lite.lax.elementwise.arithmetic import convert_element_type_p


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


# ---------------------------------------------------------------------------------------
# disable_jit(): control flow as plain Python on concrete values, as JAX runs it. The bodies
# then see (and may print, ``float()`` or branch on) real values; the results keep the
# types the traced primitive would give them.


def python_control_flow() -> bool:
    """Whether control flow should run as Python (``disable_jit()`` is on)."""
    return bool(config.disable_jit)


def concrete_value(x: Any) -> Any:
    """``x``'s value when it is known now, else None.

    A forward-mode tracer (``jvp``, and ``grad``, which differentiates forward first) carries
    its primal value, so it counts as known when that primal does, as in JAX; the tracers
    of ``vmap`` and of staging (``make_ir``, a traced loop body) hold no single value."""
    while isinstance(x, JVPTracer):
        x = x.primal
    return None if is_traced(x) else x


def to_array(x: Any, aval: ShapedArray | None = None) -> Any:
    """``x`` as an array of ``aval`` (default: the type the traced path gives it: a Python
    scalar is weakly typed of its default dtype, NumPy values take their canonical dtype).
    Arrays and tracers already of that type are returned as they are."""
    x = operand_leaf(x)
    have = get_aval(x)
    aval = aval or have
    if isinstance(x, Array) and have.dtype == aval.dtype and have.weak_type == aval.weak_type:
        return x
    # bind directly: convert_element_type keeps a TypedScalar that already has the type
    return convert_element_type_p.bind(x, new_dtype=aval.dtype, weak_type=aval.weak_type)


class PythonCarry:
    """The carry of a loop that runs as Python (``while_loop``, ``scan`` under
    ``disable_jit()``), checked and typed at each step as the traced loop types it.

    The traced loop fixes the carry types from a tracing of the body: a weakly typed start
    that the body retypes (a carry started at ``0`` and updated with ``c + 1.5``) takes the
    retyped type (see ``strengthen_weak_carry``), and every body result must keep each
    leaf's shape and dtype. Here the first body result plays the tracing's part. That first
    step is not run again with the retyped start (JAX's Python loops run the body once per
    step, and side effects in it should happen that often); it ran on the start as given,
    which gives the same numbers unless the body's arithmetic on the start depends on its
    dtype. Each body result is cast to the carry's type (weak type included), as the
    primitive does when it feeds a result back in."""

    def __init__(self, name: str, leaves: list, tree) -> None:
        self.name, self.tree = name, tree
        self.leaves = [to_array(x) for x in leaves]
        self.avals = [get_aval(x) for x in self.leaves]
        self.steps = 0

    def value(self) -> Any:
        return pytree.tree_unflatten(self.tree, self.leaves)

    def update(self, new: Any) -> bool:
        """Take the body's result as the next carry. Returns whether this result retyped
        the carry (only the first can)."""
        leaves, tree = pytree.tree_flatten(new)
        check_carry_tree(self.name, self.tree, tree)
        leaves = [operand_leaf(x) for x in leaves]
        avals = [get_aval(x) for x in leaves]
        retyped = False
        if self.steps == 0:
            start = list(self.leaves)
            retyped = strengthen_weak_carry(start, self.avals, avals)
            self.avals = [get_aval(x) for x in start]
        self.steps += 1
        check_carry(self.name, self.tree, self.avals, tree, avals)
        self.leaves = [to_array(x, a) for x, a in zip(leaves, self.avals)]
        return retyped
