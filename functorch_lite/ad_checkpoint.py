"""``functorch_lite.ad_checkpoint``: JAX's ``jax.ad_checkpoint`` names.

``checkpoint`` (alias ``remat``) and its ``checkpoint_policies``; ``checkpoint_name`` to
label a value so a policy can save it by name; ``print_saved_residuals`` /
``saved_residuals`` to see what reverse mode keeps for the backward pass::

    from functorch_lite.ad_checkpoint import checkpoint_name, print_saved_residuals

    def layer(w, x):
        h = checkpoint_name(fnp.sin(x @ w), "h")
        return fnp.sum(fnp.tanh(h))

    policy = fl.checkpoint_policies.save_only_these_names("h")
    print_saved_residuals(fl.checkpoint(layer, policy=policy), w, x)
    # f32[3,4] from the argument w
    # f32[5,3] from the argument x
    # f32[5,4] named 'h'
"""
from __future__ import annotations

import inspect
import re
from typing import Any, Callable, Sequence

from functorch_lite.core import passes, pytree
from functorch_lite.core.avals import ShapedArray, get_aval
from functorch_lite.core.ir import Literal, Program
from functorch_lite.interpreters import partial_eval
from functorch_lite.interpreters.staging import trace_to_program
from functorch_lite.lax._common import as_operand
from functorch_lite.lax.checkpoint import checkpoint, checkpoint_p, remat
from functorch_lite.lax.checkpoint_policies import (Offloadable, Recompute, Saveable,
                                                    checkpoint_policies)
from functorch_lite.lax.jit_call import jit_call_p
from functorch_lite.lax.misc import name_p

__all__ = ["checkpoint", "remat", "checkpoint_policies", "checkpoint_name",
           "print_saved_residuals", "saved_residuals", "Saveable", "Recompute", "Offloadable"]


def checkpoint_name(x: Any, name: str) -> Any:
    """Return ``x`` (any pytree of arrays) unchanged, labelled ``name`` for checkpoint
    policies: inside ``checkpoint(f, policy=checkpoint_policies.save_only_these_names(name))``
    the backward pass reads the labelled value from memory instead of recomputing it.

    >>> h = checkpoint_name(fnp.sin(x), "h")   # same value and shape as fnp.sin(x)
    """
    if not isinstance(name, str):
        raise TypeError(f"checkpoint_name: name must be a str, got {type(name).__name__}")
    leaves, tree = pytree.tree_flatten(x)
    return pytree.tree_unflatten(tree, [name_p.bind(as_operand(l), name=name) for l in leaves])


# ---------------------------------------------------------------------------------------
# Saved residuals: linearize ``f`` while staging, so the residuals (the constants of the
# linear program the backward pass runs) come out as variables of the staged forward
# program; then say where each one comes from.

def saved_residuals(f: Callable, *args, **kwargs) -> list[tuple[ShapedArray, str]]:
    """The values reverse mode keeps for the backward pass of ``f(*args, **kwargs)``, each
    as ``(abstract value, where it comes from)``: ``"from the argument x"``, ``"named
    'h'"`` (``checkpoint_name``), ``"output of cos"``, ``"output of jitted function 'g'"``,
    ``"from a constant"``. Ordered as JAX orders them (arguments, then in program order).
    Unlike JAX, no source line follows the description (programs do not record them), and
    Python scalars the backward pass uses are not listed (JAX's ``"from a literal"``): they
    are written into the backward program rather than kept as residuals."""
    leaves, in_tree = pytree.tree_flatten((args, kwargs))
    labels = _argument_labels(f, args, kwargs)

    def flat_f(*xs):
        a, kw = pytree.tree_unflatten(in_tree, xs)
        return pytree.tree_leaves(f(*a, **kw))

    def residuals(*xs):
        _, linear = partial_eval.linearize_flat(flat_f, xs)
        _, consts = passes.dce(linear.program, linear.consts)
        return consts

    closed = trace_to_program(residuals, [get_aval(as_operand(x)) for x in leaves],
                              description="saved_residuals")
    program = closed.program

    def from_argument(i: int):
        return (2, i), f"from the argument {labels[i]}"

    found: dict[tuple, tuple[ShapedArray, str]] = {}
    for atom in program.outvars:
        key, what = _source(atom, program, from_argument, ())
        found.setdefault(key, (atom.aval, what))
    return [found[k] for k in sorted(found)]


def print_saved_residuals(f: Callable, *args, **kwargs) -> None:
    """Print ``saved_residuals(f, *args, **kwargs)``, one residual a line:
    ``f32[5,4] output of cos``."""
    for aval, what in saved_residuals(f, *args, **kwargs):
        print(f"{aval.str_short()} {what}")


def _source(atom, program: Program, from_input: Callable, path: tuple) -> tuple[tuple, str]:
    """``(sort key, description)`` of where ``atom`` of ``program`` is computed. Inputs of
    ``program`` are described by ``from_input(index)``; checkpoint equations are looked
    into, since reverse mode runs their saved equations as part of the forward pass."""
    if isinstance(atom, Literal):
        return (0, *path), "from a literal"
    if atom in program.constvars:
        return (1, *path, program.constvars.index(atom)), "from a constant"
    if atom in program.invars:
        return from_input(program.invars.index(atom))
    for j, eqn in enumerate(program.eqns):
        if atom in eqn.outputs:
            break
    else:
        raise AssertionError(f"{atom} is not computed by the program")
    k = eqn.outputs.index(atom)
    key = (3, *path, j, k)
    if eqn.primitive is name_p:
        return key, f"named '{eqn.params['name']}'"
    if eqn.primitive is checkpoint_p:
        inner: Program = eqn.params["program"]
        return _source(inner.outvars[k], inner,
                       lambda i: _source(eqn.inputs[i], program, from_input, path),
                       (*path, j))
    if eqn.primitive is jit_call_p:
        inner = eqn.params["program"]
        if inner.outvars[k] in inner.invars:  # the known half hands an input through
            return _source(eqn.inputs[inner.invars.index(inner.outvars[k])], program,
                           from_input, path)
        return key, f"output of jitted function '{_user_name(eqn.params['name'])}'"
    return key, f"output of {eqn.primitive.name}"


def _user_name(name: str) -> str:
    """The jitted function's own name: linearization calls the half of ``jit(f)`` that runs
    in the forward pass ``jvp_f_known``."""
    m = re.fullmatch(r"jvp_(.+)_known", name)
    return m[1] if m else name


def _argument_labels(f: Callable, args: Sequence, kwargs: dict) -> list[str]:
    """Names of the flattened arguments as JAX prints them: ``x``, ``params['w1']``,
    ``args[2]`` for a ``*args`` entry (in the order ``tree_flatten((args, kwargs))`` gives)."""
    try:
        params = list(inspect.signature(f).parameters.values())
    except (TypeError, ValueError):
        params = []
    pos = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    star = next((p.name for p in params if p.kind is p.VAR_POSITIONAL), "args")
    names = [pos[i] if i < len(pos) else f"{star}[{i - len(pos)}]" for i in range(len(args))]
    named = list(zip(names, args)) + sorted(kwargs.items(), key=lambda kv: kv[0])
    return [name + pytree.keystr(path)
            for name, a in named for path, _ in pytree.tree_flatten_with_path(a)[0]]
