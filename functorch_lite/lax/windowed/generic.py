"""``reduce_window`` with a general computation, and the recognition of the monoid ones.

``reduce_window_p`` reduces n operands at once (args: the operands, then their n scalar
init values) with ``computation``, a program over scalars (the n accumulators, then the
n new elements -> n results). Its jvp reduces primals and tangents together with the
jvp of the computation (so a product's tangent follows the product rule window by
window), as JAX's does. Reverse mode would need a transpose of that paired reduction,
which a general computation does not have: it raises, as in JAX. A sum, max or min with
its identity as init value is not this primitive but ``reduce_window_sum/max/min``.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

import numpy as np

from functorch_lite.core import dtypes, pytree
from functorch_lite.core.avals import ShapedArray, get_aval
from functorch_lite.core.ir import Program, eval_program
from functorch_lite.core.primitive import Primitive
from functorch_lite.core.trace import Tracer
from functorch_lite.interpreters import ad, batching
from functorch_lite.interpreters.staging import trace_flat
from functorch_lite.lax import elementwise as ew
from functorch_lite.lax._common import as_operand, operands, scalar_like
from functorch_lite.lax.windowed._params import (_insert_window_dim, _shape_rule,
                                                 _window_params, reduce_window_identity)
from functorch_lite.lax.windowed.monoid import _reduce_window

reduce_window_p = Primitive("reduce_window", multiple_results=True)


@reduce_window_p.def_shape
def _reduce_window_shape(*args, computation, **params):
    n = len(args) // 2
    ops, inits = args[:n], args[n:]
    if any(o.shape != ops[0].shape for o in ops):
        raise TypeError("reduce_window: all operands must have the same shape, got "
                        + ", ".join(o.str_short() for o in ops))
    if any(o.dtype != i.dtype or i.shape != () for o, i in zip(ops, inits)):
        raise TypeError("reduce_window: each init value must be a scalar of its operand's "
                        "dtype, got operands " + ", ".join(o.str_short() for o in ops)
                        + " and init values " + ", ".join(i.str_short() for i in inits))
    scalars = [ShapedArray((), o.dtype) for o in ops]
    if ([a.strip_weak_type() for a in computation.in_avals] != scalars * 2
            or [a.strip_weak_type() for a in computation.out_avals] != scalars):
        raise TypeError("reduce_window: the computation must map two sets of scalars of the "
                        "operands' dtypes to one")
    return [_shape_rule("generic", o, **params) for o in ops]


_COMPUTATIONS: dict[Callable, str] = {ew.add: "sum", ew.max: "max", ew.min: "min"}
_MONOID_PRIMITIVES = {ew.add_p: "sum", ew.max_p: "max", ew.min_p: "min"}


def reduce_window(operand: Any, init_value: Any, computation: Callable,
                  window_dimensions: Sequence[int], window_strides: Sequence[int] | None = None,
                  padding: Any = "VALID", base_dilation: Sequence[int] | None = None,
                  window_dilation: Sequence[int] | None = None):
    """Reduce each sliding window of ``operand`` with ``computation``, starting from
    ``init_value``.

    ``computation`` is any binary function of scalars (``lax.max``, ``fnp.maximum``,
    ``lambda a, b: a * b``, ...); ``operand`` and ``init_value`` may be matching pytrees
    (several arrays reduced together, ``computation`` then takes and returns such pytrees).
    A sum, max or min (however written) with its identity as ``init_value`` (0; -inf or
    the dtype's minimum; +inf or its maximum) becomes ``reduce_window_sum/max/min``, which
    reverse mode can differentiate; anything else supports forward mode and vmap but not
    reverse mode, as in JAX. ``init_value`` must then have the operand's dtype.
    ``padding`` is ``'SAME'``, ``'SAME_LOWER'``, ``'VALID'`` or ``(lo, hi)`` pairs.
    Example (2x2 max pooling, stride 2, of ``x: f32[1, 4, 4, 3]`` NHWC):
    ``reduce_window(x, -np.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), 'VALID')`` has shape
    ``(1, 2, 2, 3)``.
    """
    if not callable(computation):
        raise TypeError(f"reduce_window: computation must be callable, got "
                        f"{type(computation).__name__}")
    leaves, tree = pytree.tree_flatten(operand)
    init_leaves, init_tree = pytree.tree_flatten(init_value)
    if tree != init_tree:
        raise ValueError(f"reduce_window: operand and init_value must have the same tree "
                         f"structure, got {tree} and {init_tree}")
    if not leaves:
        raise ValueError("reduce_window: needs at least one operand")
    leaves = [as_operand(x) for x in leaves]
    args = (window_dimensions, window_strides, padding, base_dilation, window_dilation)
    if len(leaves) == 1:
        kind = _monoid(computation, tree, get_aval(leaves[0]), init_leaves[0])
        if kind is not None:
            return pytree.tree_unflatten(tree, [_reduce_window(kind, leaves[0], *args)])
    inits = operands(init_leaves)
    o_avals, i_avals = [get_aval(x) for x in leaves], [get_aval(x) for x in inits]
    if any(a.shape != () for a in i_avals):
        raise TypeError("reduce_window: init_value must be scalars, got shapes "
                        f"{[a.shape for a in i_avals]}")
    if [a.dtype for a in o_avals] != [a.dtype for a in i_avals]:
        raise TypeError("reduce_window got inconsistent dtypes for operands and init_values: "
                        f"operand dtypes {[a.dtype.name for a in o_avals]} and init_value "
                        f"dtypes {[a.dtype.name for a in i_avals]} (give init_value the "
                        "operand's dtype, e.g. np.float16(0) for a float16 operand)")
    if any(a.shape != o_avals[0].shape for a in o_avals):
        raise TypeError("reduce_window: all operands must have the same shape, got "
                        f"{[a.shape for a in o_avals]}")
    program = _computation_program(computation, tree, tuple(a.dtype for a in o_avals))
    params = _window_params("reduce_window", o_avals[0], *args)
    outs = reduce_window_p.bind(*leaves, *inits, computation=program, **params)
    return pytree.tree_unflatten(tree, outs)


def _monoid(computation: Callable, tree, aval: ShapedArray, init_value: Any) -> str | None:
    """'sum', 'max' or 'min' when ``computation`` is that monoid on ``aval``'s dtype and
    ``init_value`` is a concrete scalar equal to its identity; else None.

    ``lax.add/max/min`` are recognized by identity; any other function is traced on two
    scalars and recognized when that gives exactly one add/max/min of its two inputs (so
    ``fnp.maximum`` and ``lambda a, b: a + b`` count)."""
    if isinstance(init_value, Tracer):
        return None
    try:
        init = np.asarray(init_value)
    except Exception:
        return None
    if init.shape != () or init.dtype == object:
        return None
    kind = _COMPUTATIONS.get(computation)
    if kind is None:
        kind = _single_monoid_eqn(_computation_program(computation, tree, (aval.dtype,)))
    if kind is None or (kind == "sum" and dtypes.is_bool(aval.dtype)):
        return None
    # The identity of the operand's dtype, or of init_value's own (as JAX checks it): -inf
    # starts an integer max as well as the dtype's minimum does.
    if (_equals_identity(init[()], reduce_window_identity(kind, aval.dtype))
            or _equals_identity(init[()], reduce_window_identity(kind, init.dtype))):
        return kind
    return None


def _single_monoid_eqn(program: Program) -> str | None:
    if len(program.eqns) != 1:
        return None
    eqn = program.eqns[0]
    kind = _MONOID_PRIMITIVES.get(eqn.primitive)
    a, b = program.invars
    if kind and sorted(map(id, eqn.inputs)) == sorted((id(a), id(b))) \
            and list(program.outvars) == list(eqn.outputs):
        return kind
    return None


def _computation_program(computation: Callable, tree, dts: tuple) -> Program:
    """``computation`` traced on two pytrees (of structure ``tree``) of scalars: a program
    taking the n accumulator leaves then the n element leaves, returning n leaves. Cached
    per function (when hashable), as JAX caches its reduction jaxprs."""
    try:
        hash(computation)
    except TypeError:
        return _trace_computation(computation, tree, dts)
    return _cached_computation(computation, tree, dts)


def _trace_computation(computation: Callable, tree, dts: tuple) -> Program:
    avals = [ShapedArray((), dt) for dt in dts]
    flat, out_tree = pytree.flatten_fun(computation, pytree.treedef_tuple([tree, tree]))
    program, consts = trace_flat(lambda *xs: [as_operand(x) for x in flat(*xs)], avals * 2,
                                 "reduce_window computation")
    name = getattr(computation, "__name__", repr(computation))
    if out_tree() != tree:
        raise ValueError(f"reduce_window: computation {name} must return the operands' tree "
                         f"structure {tree}, got {out_tree()}")
    outs = program.out_avals
    if [(a.shape, a.dtype) for a in outs] != [((), dt) for dt in dts]:
        raise TypeError(f"reduce_window: computation {name} must return scalars of the "
                        f"operands' dtypes {[np.dtype(d).name for d in dts]}, got "
                        f"{[a.str_short() for a in outs]}")
    if consts:
        raise NotImplementedError(
            f"reduce_window: computation {name} closes over array values; a computation "
            "may use only its two arguments and Python scalars (pass other arrays as extra "
            "operands with matching init values)")
    return program


_cached_computation = functools.lru_cache(maxsize=512)(_trace_computation)


def _equals_identity(value: Any, identity: Any) -> bool:
    try:
        return bool(value == identity)
    except (TypeError, ValueError, OverflowError):
        return False


# ---------------------------------------------------------------------------------------
# Derivative and batching rules

@functools.lru_cache(maxsize=512)  # programs are immutable
def _jvp_computation(program: Program, diff: tuple) -> Program:
    """The computation over (primal, tangent) pairs: inputs are the accumulators' primals
    and the tangents of the ``diff`` leaves, then the same for the new elements; outputs
    the primal results and the ``diff`` leaves' tangents."""
    n, k = len(program.invars) // 2, len(diff)
    avals = program.in_avals[:n]
    t_avals = [avals[i] for i in diff]

    def tangents(ts):
        it = iter(ts)
        return [next(it) if i in diff else ad.Zero(ad.tangent_aval(avals[i]))
                for i in range(n)]

    def fun(*xs):
        pa, ta, pb, tb = xs[:n], xs[n:n + k], xs[n + k:2 * n + k], xs[2 * n + k:]
        outs, touts = ad.jvp_flat(lambda *a: eval_program(program, [], a), [*pa, *pb],
                                  [*tangents(ta), *tangents(tb)])
        return [*outs, *[ad.instantiate(touts[i]) for i in diff]]

    jprog, consts = trace_flat(fun, [*avals, *t_avals, *avals, *t_avals], "jvp of reduce_window")
    assert not consts, "the jvp of a closed scalar computation captured arrays"
    return jprog


def _reduce_window_jvp(primals, tangents, *, computation, **params):
    n = len(primals) // 2
    ops, inits = primals[:n], primals[n:]
    if any(type(t) is not ad.Zero for t in tangents[n:]):
        raise TypeError("reduce_window: differentiating with respect to init_value is not "
                        "supported (as in JAX); make init_value a constant")
    diff = tuple(i for i in range(n) if dtypes.is_inexact(get_aval(ops[i]).dtype))
    if all(type(tangents[i]) is ad.Zero for i in diff):
        outs = reduce_window_p.bind(*primals, computation=computation, **params)
        return outs, [ad.Zero(ad.tangent_aval(get_aval(o))) for o in outs]
    t_ops = [ad.instantiate(tangents[i]) for i in diff]
    t_inits = [scalar_like(0, get_aval(ops[i]).dtype, False) for i in diff]
    outs = reduce_window_p.bind(*ops, *t_ops, *inits, *t_inits,
                                computation=_jvp_computation(computation, diff), **params)
    it = iter(outs[n:])
    return outs[:n], [next(it) if i in diff else ad.Zero(ad.tangent_aval(get_aval(o)))
                      for i, o in enumerate(outs[:n])]


def _reduce_window_transpose(cts, *args, **params):
    raise ValueError(
        "Reverse-mode differentiation does not work for lax.reduce_window with a general "
        "computation (as in JAX); forward mode (jvp, jacfwd) does. Sums, maxima and minima "
        "with their identity as init_value (lax.add/max/min, fnp.add/maximum/minimum, "
        "lambda a, b: a + b, ...) are differentiable in reverse mode too.")


def _generic_batch(axis, args, dims, *, computation, **params):
    n = len(args) // 2
    if any(d is not None for d in dims[n:]):
        raise NotImplementedError("reduce_window: vmap over init_value is not supported "
                                  "(as in JAX); batch the operands only")
    d = next(b for b in dims[:n] if b is not None)
    ops = [batching.move_dim(a, b, d, axis.size) for a, b in zip(args[:n], dims[:n])]
    outs = reduce_window_p.bind(*ops, *args[n:], computation=computation,
                                **_insert_window_dim(params, d))
    return outs, [d] * n


reduce_window_p.def_jvp(_reduce_window_jvp)
reduce_window_p.def_transpose(_reduce_window_transpose)
reduce_window_p.def_batch(_generic_batch)
