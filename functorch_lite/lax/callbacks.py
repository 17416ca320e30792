"""Host callbacks: Python functions called from inside a program, with the values it has
computed (JAX's ``pure_callback``, ``experimental.io_callback`` and ``debug.callback``).

``pure_callback_p`` calls a function that must be pure: it returns arrays of declared shapes
and dtypes, and may be dropped when its results are unused or run more than once (under
``vmap`` with ``vmap_method="sequential"``, once per element). ``io_callback_p`` calls an
impure one: it returns declared arrays too, but is *effectful* (dead-code and
common-subexpression elimination keep every call), is not differentiable, and under ``vmap``
runs once per element, in order (``ordered=True`` ones refuse ``vmap``). ``debug_callback_p``
is called for its effect (printing): it returns nothing, is effectful, runs on primal values
under differentiation and once per element under ``vmap``.

Eagerly each calls the function at once; in a compiled program the lowering
(``xla_bridge/lowering/callbacks.py``) emits a custom call XLA's runtime turns back into a
Python call. The callback receives NumPy arrays.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from functorch_lite.core import dtypes, pytree
from functorch_lite.core.avals import ShapedArray, get_aval
from functorch_lite.core.primitive import Primitive, backend_device_put
from functorch_lite.interpreters import batching
from functorch_lite.lax._common import as_operand
from functorch_lite.lax.control_flow import scan
from functorch_lite.lax.shapes import expand_dims, index_in_dim

__all__ = ["pure_callback", "io_callback", "debug_callback"]

VMAP_METHODS = ("sequential", "sequential_unrolled", "expand_dims", "broadcast_all",
                "legacy_vectorized")


class FlatCallback:
    """The user's function seen through flat arguments: rebuilds ``(args, kwargs)`` from
    the leaves. Hashed by identity (a new one per call), so two callbacks are never
    merged."""

    __slots__ = ("fn", "in_tree", "name")

    def __init__(self, fn: Callable, in_tree):
        self.fn, self.in_tree = fn, in_tree
        self.name = getattr(fn, "__name__", type(fn).__name__)

    def __call__(self, *flat_args):
        args, kwargs = pytree.tree_unflatten(self.in_tree, list(flat_args))
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<callback {self.name}>"


def _host_values(args: Sequence[Any]) -> list[np.ndarray]:
    # With the dtypes the program gives them (a Python float is float32), so an eager call
    # hands the callback what a compiled one does.
    return [np.asarray(a, get_aval(a).dtype) for a in args]


def _canonical_result(out: Any) -> np.ndarray:
    # As the values a program computes: a Python float (or a float64 array without x64) is
    # float32. Anything with no array dtype is left for the dtype check to report.
    out = np.asarray(out)
    try:
        dtype = dtypes.canonicalize_dtype(out.dtype)
    except TypeError:
        return out
    return out if dtype == out.dtype else out.astype(dtype)


def call_with_results(callback: FlatCallback, result_avals: Sequence[ShapedArray],
                      args: Sequence[Any], api: str = "pure_callback") -> list[np.ndarray]:
    """Run ``callback`` on host values and check what it returns against the declared
    ``result_avals`` (a RuntimeError naming ``api`` and the result that differs, as JAX)."""
    outs = pytree.tree_leaves(callback(*_host_values(args)))
    if len(outs) != len(result_avals):
        raise RuntimeError(f"{api}: {callback.name} returned {len(outs)} arrays, "
                           f"expected {len(result_avals)} (result_shape_dtypes)")
    checked = []
    for i, (out, aval) in enumerate(zip(outs, result_avals)):
        out = _canonical_result(out)
        if out.shape != aval.shape:
            raise RuntimeError(f"{api}: result {i} of {callback.name} has shape "
                               f"{out.shape}, expected {aval.shape}")
        if out.dtype != aval.dtype:
            raise RuntimeError(f"{api}: result {i} of {callback.name} has dtype "
                               f"{out.dtype}, expected {aval.dtype}")
        checked.append(out)
    return checked


def call_debug(callback: FlatCallback, args: Sequence[Any]) -> None:
    callback(*_host_values(args))


# ---------------------------------------------------------------------------------------
# pure_callback

pure_callback_p = Primitive("pure_callback", multiple_results=True)


@pure_callback_p.def_shape
def _pure_callback_shape(*avals, callback, result_avals, vmap_method):
    return list(result_avals)


@pure_callback_p.def_impl
def _pure_callback_impl(*args, callback, result_avals, vmap_method):
    return [backend_device_put(out, None, False)
            for out in call_with_results(callback, result_avals, args, "pure_callback")]


def _result_avals(result_shape_dtypes: Any, api: str) -> tuple[tuple[ShapedArray, ...], Any]:
    """The flat result avals a callback declares, and their pytree structure."""
    leaves, tree = pytree.tree_flatten(result_shape_dtypes)
    avals = []
    for x in leaves:
        shape, dtype = getattr(x, "shape", None), getattr(x, "dtype", None)
        if shape is None or dtype is None:
            raise TypeError(f"{api}: result_shape_dtypes must be a pytree of objects with "
                            f".shape and .dtype (fl.ShapeDtypeStruct, arrays), got "
                            f"{type(x).__name__} {x!r}")
        # A 64-bit result cannot come back from a program without x64 (JAX's ValueError),
        # rather than be narrowed behind the user's back.
        requested, canonical = dtypes._to_np_dtype(dtype), dtypes.canonicalize_dtype(dtype)
        if requested != canonical:
            raise ValueError(f"{api}: result_shape_dtypes cannot specify 64-bit types when "
                             f"`jax_enable_x64` is disabled (got {requested}); declare "
                             f"{canonical}, or enable x64 with "
                             f"fl.config.update('jax_enable_x64', True)")
        avals.append(ShapedArray(tuple(int(d) for d in shape), canonical))
    return tuple(avals), tree


def _check_sharding(sharding: Any, api: str) -> None:
    # Callbacks run on the host of a single-device program (partitioned programs are
    # refused when lowered), so only a sharding naming one device means anything.
    devices = getattr(sharding, "device_set", None)
    if sharding is not None and (devices is None or len(devices) != 1):
        raise NotImplementedError(f"{api}: only sharding=None or a single-device sharding "
                                  f"is supported (the callback runs once, on the host); "
                                  f"got {sharding!r}")


def _one_call_per_element(bind_one: Callable[[list], list], args: Sequence[Any],
                          dims: Sequence[int | None], size: int, n_results: int,
                          unroll: bool = False) -> tuple[list, list]:
    """vmap of a callback as a loop: ``bind_one(args)`` once per element, in order, each
    with that element of the batched arguments and the unbatched ones whole."""
    batched = [d is not None for d in dims]
    xs = [batching.bdim_at_front(a, d, size) for a, d in zip(args, dims) if d is not None]

    def one(elements):
        it = iter(elements)
        return bind_one([next(it) if b else a for a, b in zip(args, batched)])
    _, outs = scan(lambda c, x: (c, one(x)), None, xs, unroll=unroll)
    return list(outs), [0] * n_results


def pure_callback(callback: Callable, result_shape_dtypes: Any, *args: Any,
                  sharding: Any = None, vmap_method: str | None = None, **kwargs: Any):
    """Call the pure Python function ``callback(*args, **kwargs)`` from inside traced or
    compiled code; it receives NumPy arrays and returns arrays matching
    ``result_shape_dtypes`` (a pytree of ``ShapeDtypeStruct``, or anything with ``.shape``
    and ``.dtype``). Not differentiable (wrap it in ``custom_jvp``/``custom_vjp``).

    Under ``vmap``, ``vmap_method`` says how to call it: ``"sequential"`` (a loop, one call
    per element), ``"sequential_unrolled"``, ``"expand_dims"`` (one call; unbatched
    arguments get a leading axis of size 1), ``"broadcast_all"`` (one call; every argument
    batched) or ``"legacy_vectorized"``; None raises under ``vmap``, as in JAX.

    >>> def host_sin(x):
    ...     return np.sin(x).astype(x.dtype)
    >>> fl.jit(lambda x: fl.pure_callback(host_sin, fl.ShapeDtypeStruct(x.shape, x.dtype),
    ...                                   x))(fnp.ones(3))
    """
    if vmap_method not in (*VMAP_METHODS, None):
        raise ValueError(f"pure_callback: vmap_method must be one of {VMAP_METHODS} or "
                         f"None, got {vmap_method!r}")
    _check_sharding(sharding, "pure_callback")
    flat_args, in_tree = pytree.tree_flatten((args, kwargs))
    result_avals, out_tree = _result_avals(result_shape_dtypes, "pure_callback")
    outs = pure_callback_p.bind(*[as_operand(a) for a in flat_args],
                                callback=FlatCallback(callback, in_tree),
                                result_avals=result_avals, vmap_method=vmap_method)
    return pytree.tree_unflatten(out_tree, outs)


@pure_callback_p.def_jvp
def _pure_callback_jvp(primals, tangents, **params):
    raise ValueError("Pure callbacks do not support JVP. Please use `custom_jvp` to use "
                     "callbacks while taking gradients.")


@pure_callback_p.def_batch
def _pure_callback_batch(axis, args, dims, *, callback, result_avals, vmap_method):
    size = axis.size
    if vmap_method in ("expand_dims", "broadcast_all", "legacy_vectorized"):
        batched_avals = tuple(r.update(shape=(size, *r.shape)) for r in result_avals)

        def one_call_arg(a, d):
            # Batched arguments get the batch axis in front; unbatched ones a leading 1
            # ("expand_dims"), the full batch ("broadcast_all"), or nothing (legacy).
            if d is not None or vmap_method == "broadcast_all":
                return batching.bdim_at_front(a, d, size)
            return expand_dims(a, (0,)) if vmap_method == "expand_dims" else a
        args = [one_call_arg(a, d) for a, d in zip(args, dims)]
        outs = pure_callback_p.bind(*args, callback=callback, result_avals=batched_avals,
                                    vmap_method=vmap_method)
        return outs, [0] * len(outs)
    if vmap_method is None:
        raise NotImplementedError(
            "vmap of pure_callback needs vmap_method: one of 'sequential', "
            "'sequential_unrolled', 'expand_dims', 'broadcast_all' or 'legacy_vectorized' "
            "(see pure_callback's docstring); got vmap_method=None")
    # A loop over the elements; "sequential_unrolled" writes its iterations out.
    return _one_call_per_element(
        lambda full: pure_callback_p.bind(*full, callback=callback, result_avals=result_avals,
                                          vmap_method=vmap_method),
        args, dims, size, len(result_avals), unroll=vmap_method == "sequential_unrolled")


# ---------------------------------------------------------------------------------------
# io_callback

io_callback_p = Primitive("io_callback", multiple_results=True)
io_callback_p.effectful = True
io_callback_p.refuses_batched_predicate = True  # see control_flow/_common.py


@io_callback_p.def_shape
def _io_callback_shape(*avals, callback, result_avals, ordered):
    return list(result_avals)


@io_callback_p.def_impl
def _io_callback_impl(*args, callback, result_avals, ordered):
    return [backend_device_put(out, None, False)
            for out in call_with_results(callback, result_avals, args, "io_callback")]


def io_callback(callback: Callable, result_shape_dtypes: Any, *args: Any,
                sharding: Any = None, ordered: bool = False, **kwargs: Any):
    """Call the impure Python function ``callback(*args, **kwargs)`` (one that reads or
    writes state: a file, a counter, a random generator) from inside traced or compiled
    code. It receives NumPy arrays and returns arrays matching ``result_shape_dtypes`` (a
    pytree of ``ShapeDtypeStruct``, or anything with ``.shape`` and ``.dtype``); the result
    has that pytree structure.

    Unlike ``pure_callback`` every call happens, once, even when its result is unused, and
    two identical calls are never merged. ``ordered=True`` also keeps the ordered calls of
    one program (or loop body) in program order. Not differentiable (``grad``/``jvp``
    raise ValueError); under ``vmap`` an unordered one is called once per element, in
    order, and an ordered one raises ValueError. ``sharding`` may be None or a
    single-device sharding.

    >>> log = []
    >>> def record(x):
    ...     log.append(x.copy())
    ...     return x.sum()
    >>> sds = fl.ShapeDtypeStruct((), fnp.float32)
    >>> fl.jit(lambda x: fl.experimental.io_callback(record, sds, x))(fnp.ones(3))
    Array(3., dtype=float32)
    """
    _check_sharding(sharding, "io_callback")
    flat_args, in_tree = pytree.tree_flatten((args, kwargs))
    result_avals, out_tree = _result_avals(result_shape_dtypes, "io_callback")
    outs = io_callback_p.bind(*[as_operand(a) for a in flat_args],
                              callback=FlatCallback(callback, in_tree),
                              result_avals=result_avals, ordered=bool(ordered))
    return pytree.tree_unflatten(out_tree, outs)


@io_callback_p.def_jvp
def _io_callback_jvp(primals, tangents, **params):
    # Reached only when a callback argument carries a tangent (a constant one is just run).
    raise ValueError("IO callbacks do not support JVP. Please use `custom_jvp` or "
                     "`custom_vjp` to use io_callback while taking gradients, or pass it "
                     "`lax.stop_gradient` of its arguments.")


@io_callback_p.def_batch
def _io_callback_batch(axis, args, dims, *, callback, result_avals, ordered):
    if ordered:
        # JAX refuses it (a ValueError) rather than pick an order for the elements' calls;
        # so do we, so that code which runs here runs under JAX too.
        raise ValueError("Cannot `vmap` ordered IO callback. Use ordered=False (vmap then "
                         "calls it once per element, in order) or loop with lax.map.")
    return _one_call_per_element(
        lambda full: io_callback_p.bind(*full, callback=callback, result_avals=result_avals,
                                        ordered=False),
        args, dims, axis.size, len(result_avals))


# ---------------------------------------------------------------------------------------
# debug_callback

debug_callback_p = Primitive("debug_callback", multiple_results=True)
debug_callback_p.effectful = True


@debug_callback_p.def_shape
def _debug_callback_shape(*avals, callback, ordered):
    return []


@debug_callback_p.def_impl
def _debug_callback_impl(*args, callback, ordered):
    call_debug(callback, args)
    return []


def debug_callback(callback: Callable, *args: Any, ordered: bool = False,
                   **kwargs: Any) -> None:
    """Call ``callback(*args, **kwargs)`` for its effect (printing, logging) from inside
    traced or compiled code, with the values ``args`` have when the program runs (NumPy
    arrays). Returns None. Under ``grad`` it sees the primal values; under ``vmap`` it is
    called once per element. ``ordered=True`` keeps the calls of one program (or loop
    body) in program order.

    >>> fl.jit(lambda x: (fl.debug.callback(print, x), x * 2)[1])(fnp.ones(2))
    [1. 1.]
    """
    flat_args, in_tree = pytree.tree_flatten((args, kwargs))
    debug_callback_p.bind(*[as_operand(a) for a in flat_args],
                          callback=FlatCallback(callback, in_tree), ordered=bool(ordered))


@debug_callback_p.def_jvp
def _debug_callback_jvp(primals, tangents, **params):
    # The callback sees the primal values; it has no outputs, so no tangents.
    return debug_callback_p.bind(*primals, **params), []


def _debug_callback_transpose(cts, *args, **params):
    # Reached only if a callback is given tangent values: the backward pass calls nothing.
    return [None] * len(args)


debug_callback_p.def_transpose(_debug_callback_transpose)


@debug_callback_p.def_batch
def _debug_callback_batch(axis, args, dims, **params):
    # One call per element, in order, each with that element's values (JAX's behavior).
    for i in range(axis.size):
        debug_callback_p.bind(*[a if d is None else index_in_dim(a, i, d, keepdims=False)
                                for a, d in zip(args, dims)], **params)
    return [], []
