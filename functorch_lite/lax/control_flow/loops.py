"""``fori_loop`` and ``map``, written with ``scan`` and ``while_loop`` (so under
``disable_jit()`` they run as Python loops through those)."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from functorch_lite.core import dtypes, pytree
from functorch_lite.core.avals import get_aval
from functorch_lite.core.trace import is_traced
from functorch_lite.interpreters import batching
from functorch_lite.lax._common import as_operand
from functorch_lite.lax.control_flow._common import python_control_flow, to_array
from functorch_lite.lax.control_flow.scan import scan
from functorch_lite.lax.control_flow.while_loop import while_loop
from functorch_lite.lax.elementwise import add, convert_element_type, lt
from functorch_lite.lax.shapes import concatenate, reshape, slice_in_dim


def _static_int(x: Any) -> int | None:
    """``x`` as a Python int when it is a concrete (untraced) integer scalar, else None."""
    if isinstance(x, bool) or is_traced(x):
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
    ``while_loop``. Under ``disable_jit()`` it is a Python ``for`` (or ``while``).

    >>> fori_loop(0, 4, lambda i, v: v + i, 0.0)
    Array(6., dtype=float32, weak_type=True)
    """
    lo, hi = _static_int(lower), _static_int(upper)
    if lo is not None and hi is not None:
        if hi <= lo and python_control_flow():
            # No step to run (JAX's Python scan cannot run zero steps; JAX returns the start
            # as given): the start, typed as the traced loop gives it back.
            leaves, tree = pytree.tree_flatten(init_val)
            return pytree.tree_unflatten(tree, [to_array(x) for x in leaves])

        def step(carry, _):
            i, val = carry
            return (i + 1, body_fun(i, val)), None

        (_, out), _ = scan(step, (lo, init_val), None, length=max(0, hi - lo),
                           unroll=unroll or 1)
        return out
    if unroll is not None and unroll is not False and unroll != 1:
        raise ValueError("fori_loop: unroll needs static (Python int) loop bounds")
    dt = dtypes.result_type(lower, upper)
    lower = convert_element_type(lower, dt)
    upper = convert_element_type(upper, dt)

    def cond_fun(carry):
        return lt(carry[0], carry[1])

    def body(carry):
        i, hi, val = carry
        return add(i, convert_element_type(1, dt)), hi, body_fun(i, val)

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
        batched = [reshape(slice_in_dim(x, 0, done, axis=0),
                           (num_batches, k, *get_aval(x).shape[1:])) for x in leaves]
        _, ys = scan(lambda _, x: (None, _vmap_leading(f, x)), None,
                     pytree.tree_unflatten(tree, batched))
        ys = pytree.tree_map(
            lambda y: reshape(y, (done, *get_aval(y).shape[2:])), ys)
    if done < n:
        rest = [slice_in_dim(x, done, n, axis=0) for x in leaves]
        rest_ys = _vmap_leading(f, pytree.tree_unflatten(tree, rest))
        ys = rest_ys if ys is None else pytree.tree_map(
            lambda a, b: concatenate([a, b], 0), ys, rest_ys)
    return ys


def _vmap_leading(f: Callable, xs: Any):
    """``vmap(f)(xs)`` over the leading axis of every leaf (outputs batched at axis 0)."""
    leaves = pytree.tree_leaves(xs)
    return batching.batch_pytree(lambda x: pytree.tree_map(as_operand, f(x)),
                                 batching.AxisData(get_aval(leaves[0]).shape[0]), (xs,),
                                 [0] * len(leaves))
