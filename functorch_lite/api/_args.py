"""What every entry point does with its arguments: names for messages, argnums, the one
test of "is this an array", and turning a function over pytrees into one over flat leaves
(which is how every transformation calls the user's function)."""
from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any, Callable

from functorch_lite.core import pytree
from functorch_lite.core import trace as trace_mod
from functorch_lite.core.avals import ShapedArray, get_aval


def _fun_name(fun: Callable) -> str:
    return getattr(fun, "__name__", None) or type(fun).__name__


def _normalize_argnums(argnums, what: str) -> tuple[int, ...]:
    """An int, a sequence of ints or None as a tuple of ints (negative ones stay negative
    until the call says how many arguments there are: ``_positive_argnums``)."""
    if argnums is None:
        return ()
    argnums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for i in argnums:
        if not isinstance(i, int):
            raise TypeError(f"{what} must be ints, got {i!r}")
    return argnums


def compiler_options_key(options, where: str, base: tuple = ()) -> tuple:
    """``compiler_options`` (XLA's options by name: ``{"xla_cpu_enable_fast_math": True}``)
    over the options ``base``, as sorted (name, value) pairs: the form executables are
    cached by. TypeError for anything but a mapping of names to booleans, numbers or
    strings; XLA itself refuses unknown names and values when it compiles."""
    if options is None:
        return base
    if not isinstance(options, Mapping):
        raise TypeError(f"{where}: compiler_options must be a dict of XLA option names to "
                        f"values, got {type(options).__name__}")
    for name, value in options.items():
        if not isinstance(name, str) or not isinstance(value, (bool, int, float, str)):
            raise TypeError(f"{where}: compiler_options maps option names (str) to bool, "
                            f"int, float or str values; got {name!r}: {value!r}")
    return tuple(sorted({**dict(base), **options}.items()))


def _arg_names(fun: Callable) -> list[str] | None:
    try:
        sig = inspect.signature(fun)
    except (TypeError, ValueError):
        return None
    return [p.name for p in sig.parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


def _leaf_paths(tree_prefix: str, tree) -> list[str]:
    paths = pytree.tree_flatten_with_path(tree)[0]
    return [tree_prefix + pytree.keystr(p) for p, _ in paths]


def _positive_argnums(argnums: tuple[int, ...], nargs: int) -> tuple[int, ...]:
    """``argnums`` with negative entries counted from the end of ``nargs`` arguments."""
    return tuple(i + nargs if i < 0 else i for i in argnums)


def _substitute_argnums(fun: Callable, args, kwargs: dict, argnums: tuple[int, ...]):
    """``fun`` as a function of ``args[argnums]`` alone (one positional parameter per entry
    of ``argnums``), the other arguments fixed at their values in ``args``/``kwargs``: what
    ``grad``, ``jacfwd`` and ``jacrev`` differentiate."""
    def f_diff(*d):
        full = list(args)
        for i, x in zip(argnums, d):
            full[i] = x
        return fun(*full, **kwargs)
    return f_diff


def _leaf_aval(x: Any) -> ShapedArray | None:
    """``x``'s abstract value, or None when ``x`` is not an array (an Array, a tracer, a
    NumPy array or a Python scalar): the api's one test of "is this an array"."""
    try:
        return get_aval(x)
    except TypeError:
        return None


def _check_leaf(fun_name: str, path: str, x: Any) -> ShapedArray:
    aval = _leaf_aval(x)
    if aval is None:
        raise TypeError(f"{fun_name}: argument {path} of type {type(x).__name__} is not a "
                        "valid array; pass arrays, NumPy arrays or Python scalars, or mark "
                        "the argument static")
    return aval


def _flatten_fun(fun: Callable, in_tree, out_tree_box: list, has_aux: bool = False,
                 check_out: Callable | None = None):
    """``fun`` over pytrees -> a function over flat leaves returning flat leaves.
    ``check_out(out_leaves, out_tree)``, when given, vets the outputs before they leave.

    ``out_tree_box`` receives ``[out_tree, aux_tree, num_traced_aux, aux_leaves]``. With
    ``has_aux`` the aux may be any pytree (strings, Python numbers, None, arrays), as in
    JAX: its traced leaves are returned after the outputs, so they leave the transformation
    as plain values, while the others wait untouched in ``aux_leaves`` (``_split_aux`` puts
    the two back together)."""
    def flat(*leaves):
        args = pytree.tree_unflatten(in_tree, leaves)
        out = fun(*args)
        aux_leaves, traced_aux, aux_tree = [], [], None
        if has_aux:
            if not (isinstance(out, tuple) and len(out) == 2):
                raise TypeError("has_aux=True requires the function to return a pair "
                                f"(output, aux), got {type(out).__name__}")
            out, aux = out
            aux_leaves, aux_tree = pytree.tree_flatten(aux)
            traced_aux = [x for x in aux_leaves if isinstance(x, trace_mod.Tracer)]
        leaves_out, tree = pytree.tree_flatten(out)
        if check_out is not None:
            check_out(leaves_out, tree)
        out_tree_box[:] = [tree, aux_tree, len(traced_aux), aux_leaves]
        return [*leaves_out, *traced_aux]
    return flat


def _split_aux(box: list, outs: list):
    """(main outputs, aux pytree or None) from a flat function's outputs."""
    if box[1] is None:
        return outs, None
    n_main = len(outs) - box[2]
    traced = iter(outs[n_main:])
    aux = [next(traced) if isinstance(x, trace_mod.Tracer) else x for x in box[3]]
    return outs[:n_main], pytree.tree_unflatten(box[1], aux)
