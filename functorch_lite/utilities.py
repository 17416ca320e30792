"""JAX's smaller top-level helpers: abstract shapes (``ShapeDtypeStruct``, ``eval_shape``,
``typeof``, ``make_jaxpr``), ``jacobian``, ``linear_transpose``, trace-time evaluation
(``ensure_compile_time_eval``), naming (``named_call``, ``named_scope``) and the host side
(``device_get``, ``local_device_count``, ``clear_caches``). Each follows JAX's semantics so
code written for ``jax`` runs unchanged.

    >>> eval_shape(lambda x: x @ x.T, ShapeDtypeStruct((4, 3), fnp.float32))
    ShapeDtypeStruct(shape=(4, 4), dtype=float32)
"""
from __future__ import annotations

import contextlib
import functools
import sys
from typing import Any, Callable, Sequence

from functorch_lite import lax
from functorch_lite.api import (_arg_names, _fun_name, _leaf_paths, clear_jit_caches, jacrev,
                                make_ir)
from functorch_lite.core import dtypes, pytree, transfer_guard
from functorch_lite.core.backend import backend as _executor
from functorch_lite.core import trace as trace_mod
from functorch_lite.core.avals import ShapedArray, get_aval
from functorch_lite.core.shape_dtype_struct import (ShapeDtypeStruct, abstractify,
                                                    expand_stand_ins, struct_of)
from functorch_lite.interpreters import staging
from functorch_lite.interpreters.ad import instantiate
from functorch_lite.interpreters.transpose import UndefinedPrimal, backward_pass
from functorch_lite.random import (KeyArray, KeyDType, KeyShapedArray, _key_shaped_array,
                                   key_dtype)
from xla_bridge import runtime as _runtime  # the runtime, as functorch_lite.devices is

# ---------------------------------------------------------------------------------------
# Abstract shapes


def _key_struct(keys: Any) -> Any:
    """A ``ShapeDtypeStruct`` of dtype ``key<fry>`` for a ``KeyArray`` whose data is a
    ``ShapeDtypeStruct`` (a traced output); other values are returned as they are."""
    if not isinstance(keys, KeyArray):
        return keys
    aval = _key_shaped_array(keys)
    return ShapeDtypeStruct(aval.shape, key_dtype, weak_type=aval.weak_type)


def _keys_as_structs(tree: Any) -> Any:
    return pytree.tree_map(_key_struct, tree, is_leaf=lambda x: isinstance(x, KeyArray))


def _trace_abstract(what: str, fun: Callable, args: tuple, kwargs: dict):
    """Trace ``fun(*args, **kwargs)`` with every leaf abstract; ``(closed, out_tree)``."""
    args, kwargs = expand_stand_ins((args, kwargs))
    leaves, in_tree = pytree.tree_flatten((args, kwargs))
    names = _arg_names(fun) or []
    labels = [label for i, a in enumerate(args)
              for label in _leaf_paths(names[i] if i < len(names) else f"args[{i}]", a)]
    labels += [label for k in sorted(kwargs) for label in _leaf_paths(k, kwargs[k])]
    in_avals = []
    for label, x in zip(labels, leaves):
        try:
            in_avals.append(abstractify(x))
        except TypeError:
            raise TypeError(f"{what}: argument {label} of type {type(x).__name__} is not an "
                            "array, a scalar or a ShapeDtypeStruct; pass those (close over "
                            "other values, e.g. with functools.partial)") from None
    flat_fun, out_tree = pytree.flatten_fun(lambda a, k: fun(*a, **k), in_tree)

    def flat(*xs):
        out_leaves = flat_fun(*xs)
        for i, o in enumerate(out_leaves):
            try:
                get_aval(o)
            except TypeError:
                raise TypeError(f"{what} returned a value of type {type(o).__name__} (output "
                                f"leaf {i}), which is not an array; it can only return "
                                "arrays and scalars (or pytrees of them)") from None
        return out_leaves

    closed = staging.trace_to_program(flat, in_avals, description=what, input_labels=labels)
    return closed, out_tree()


def eval_shape(fun: Callable, *args, **kwargs):
    """The shapes and dtypes ``fun(*args, **kwargs)`` would return, as a pytree of
    ``ShapeDtypeStruct``s, found by tracing without computing anything. Arguments may be
    arrays, scalars or ``ShapeDtypeStruct``s (anything with ``shape`` and ``dtype``); typed
    PRNG keys are described, in and out, by structs of dtype ``key<fry>``, as in JAX.

    >>> eval_shape(lambda x: x * 2, 1.0)    # a Python scalar stays weakly typed
    ShapeDtypeStruct(shape=(), dtype=float32, weak_type=True)
    """
    closed, out_tree = _trace_abstract(f"eval_shape({_fun_name(fun)})", fun, args, kwargs)
    return _keys_as_structs(
        pytree.tree_unflatten(out_tree, [struct_of(a) for a in closed.out_avals]))


def typeof(x: Any) -> ShapedArray:
    """The abstract value of ``x`` (an array, tracer, scalar or typed key array): its
    shape, dtype and weak type. Prints as JAX's do: ``float32[3]``, ``~float32[]`` for a
    weak type, ``key<fry>[2]`` for keys.

    >>> typeof(fnp.ones((2, 3)))
    ShapedArray(float32[2,3])
    """
    if isinstance(x, KeyArray):  # a pytree node over its data, not an array to get_aval
        return _key_shaped_array(x)
    if isinstance(x, ShapeDtypeStruct) and isinstance(x.dtype, KeyDType):
        return KeyShapedArray(x.shape, x.weak_type)
    return get_aval(x)


def make_jaxpr(fun: Callable, static_argnums: int | Sequence[int] = (), axis_env=None,
               return_shape: bool = False):
    """JAX's name for ``make_ir``: ``make_jaxpr(f)(*args)`` is the traced program; with
    ``return_shape=True``, ``(program, pytree of ShapeDtypeStructs of the outputs)``."""
    if axis_env is not None:
        raise NotImplementedError("make_jaxpr(axis_env=...) is not supported; trace the "
                                  "function under vmap(..., axis_name=...) instead")
    if not return_shape:
        return make_ir(fun, static_argnums)
    out_trees = []

    @functools.wraps(fun)
    def recording(*args, **kwargs):
        out = fun(*args, **kwargs)
        out_trees.append(pytree.tree_structure(out))
        return out

    trace = make_ir(recording, static_argnums)

    @functools.wraps(fun)
    def make(*args, **kwargs):
        out_trees.clear()
        closed = trace(*args, **kwargs)
        shapes = [struct_of(a) for a in closed.out_avals]
        return closed, _keys_as_structs(pytree.tree_unflatten(out_trees[-1], shapes))

    return make


# ---------------------------------------------------------------------------------------
# Differentiation

jacobian = jacrev  # JAX's alias


def linear_transpose(fun: Callable, *primals) -> Callable:
    """The transpose of the linear function ``fun``, as a function of an output cotangent
    returning a tuple of input cotangents (one per primal, with the primals' structure and
    dtypes). ``primals`` only give types: arrays, scalars or ``ShapeDtypeStruct``s. Unlike
    ``vjp`` nothing is evaluated forward; ``fun`` must be linear in all its inputs.

    >>> f_t = linear_transpose(lambda x, y: 2.0 * x - y, 1.0, 1.0)
    >>> f_t(1.0)
    (Array(2., dtype=float32, weak_type=True), Array(-1., dtype=float32, weak_type=True))
    """
    name = f"linear_transpose({_fun_name(fun)})"
    closed, out_tree = _trace_abstract(name, fun, primals, {})
    in_tree = pytree.tree_structure(primals)
    in_avals, out_avals = closed.in_avals, closed.out_avals
    kinds = [dtypes.is_inexact(a.dtype) for a in [*in_avals, *out_avals]]
    ints = [dtypes.is_int(a.dtype) for a in [*in_avals, *out_avals]]
    if not (all(kinds) or all(ints)):
        raise TypeError(f"{name}: linear_transpose only supports [float or complex] -> "
                        "[float or complex], and integer -> integer functions, but got "
                        f"{[a.dtype.name for a in in_avals]} -> "
                        f"{[a.dtype.name for a in out_avals]}")

    def transposed(out_cotangent):
        ct_leaves, ct_tree = pytree.tree_flatten(out_cotangent)
        if ct_tree != out_tree:
            raise TypeError(f"{name}: cotangent tree does not match function output, "
                            f"expected {out_tree} but got {ct_tree}")
        for i, (c, a) in enumerate(zip(ct_leaves, out_avals)):
            ca = get_aval(c)
            if not ca.same_type(a):
                raise TypeError(f"{name}: cotangent type does not match function output: "
                                f"cotangent {i} is {ca.str_short()} but the output is "
                                f"{a.str_short()}")
        cts = backward_pass(closed.program, closed.consts,
                            [UndefinedPrimal(a) for a in in_avals], ct_leaves)
        results = []
        for ct, a in zip(cts, in_avals):
            ct = instantiate(ct)
            # An array of the primal's type, as JAX promises (a cotangent passed straight
            # through may still be the caller's Python scalar).
            if get_aval(ct) != a or not hasattr(ct, "aval"):
                ct = lax.convert_element_type(ct, a.dtype, weak_type=a.weak_type)
            results.append(ct)
        return pytree.tree_unflatten(in_tree, results)

    functools.update_wrapper(transposed, fun, updated=())
    return transposed


# ---------------------------------------------------------------------------------------
# Trace-time evaluation and names


@contextlib.contextmanager
def ensure_compile_time_eval():
    """Inside this block, operations whose inputs are all concrete run now, even inside a
    ``jit`` or other trace, and give concrete arrays (so Python ``if`` and ``int()`` work
    on them); operations on traced values are traced as usual.

    >>> @jit
    ... def f(x):
    ...     with ensure_compile_time_eval():
    ...         n = int(fnp.arange(4).sum())     # 6, known while tracing
    ...     return x * n
    """
    # Operations with no traced input go to the innermost *dynamic* trace (the staging of
    # jit/make_ir); making eager evaluation (level 0) the dynamic trace for the block sends
    # them there instead. Traced inputs still find their own trace, which is higher.
    with trace_mod.eager_as_dynamic():
        yield


class named_scope(contextlib.ContextDecorator):
    """``with named_scope("layer1"): ...`` (or ``@named_scope("layer1")``) names the
    operations inside for profilers, in JAX. Accepted for compatibility; it changes
    nothing here (JAX's printed programs do not show the names either)."""

    def __init__(self, name: str):
        if not isinstance(name, str):
            raise TypeError("named_scope name argument must be a string.")
        self.name = name

    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def named_call(fun: Callable, *, name: str | None = None) -> Callable:
    """``fun`` with its operations named ``name`` (default: its ``__name__``); see
    ``named_scope``. Values are unchanged."""
    return named_scope(fun.__name__ if name is None else name)(fun)


# ---------------------------------------------------------------------------------------
# The host side


def device_get(x: Any) -> Any:
    """``x`` with every array leaf copied to a NumPy array on the host; other leaves
    (Python scalars, strings, ...) and tracers are returned as they are."""
    def get(leaf):
        if isinstance(leaf, trace_mod.Tracer):
            return leaf
        to_numpy = getattr(leaf, "__array__", None)
        return leaf if to_numpy is None else to_numpy()
    with transfer_guard.explicit():    # (explicit transfers, for the transfer guard)
        return pytree.tree_map(get, x)


def local_device_count(backend: str | None = None) -> int:
    """How many devices this process can address (on ``backend``, default the default
    platform)."""
    return len(_runtime.local_devices(backend))


def clear_caches() -> None:
    """Forget every traced program and compiled executable kept in memory: ``jit``'s
    traces, the programs transformations derived from them, and the executables of jit
    calls and eager operations. The on-disk compilation cache stays, as in JAX."""
    clear_jit_caches()
    # Transformations of programs (batching, linearizing, splitting a loop body, ...) are
    # memoized per program with functools caches in the interpreter and lax modules.
    for mod_name, mod in list(sys.modules.items()):
        if mod is None or not mod_name.startswith(("functorch_lite.interpreters",
                                                   "functorch_lite.lax")):
            continue
        for obj in vars(mod).values():
            if hasattr(obj, "cache_clear") and getattr(obj, "__module__", None) == mod_name:
                obj.cache_clear()
    _executor.clear_caches()  # the executor's executables and buffers (xla_bridge/caches.py)
