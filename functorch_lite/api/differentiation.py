"""Differentiation entry points: ``jvp`` (forward mode), ``linearize``, ``vjp``, ``grad``
and ``value_and_grad`` (reverse mode is linearize + transpose), with the checks that keep
JAX's messages for inputs, tangents and outputs of the wrong kind (integer inputs without
``allow_int``, complex ones without ``holomorphic``)."""
from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

import numpy as np

from functorch_lite import lax
from functorch_lite.api._args import (_flatten_fun, _fun_name, _leaf_aval, _positive_argnums,
                                      _split_aux, _substitute_argnums)
from functorch_lite.core import dtypes, pytree
from functorch_lite.core.avals import ShapedArray, get_aval
from functorch_lite.core.ir import ClosedProgram, eval_program
from functorch_lite.interpreters import ad, partial_eval, transpose
from functorch_lite.tree_util import Partial


def _check_arrays(name: str, leaves: Sequence[Any]) -> None:
    for i, x in enumerate(leaves):
        if _leaf_aval(x) is None:
            raise TypeError(f"{name}: input leaf {i} of type {type(x).__name__} is not an "
                            "array or scalar")


def _check_tangent(name: str, i: int, primal_aval: ShapedArray, tangent: Any,
                   dtype_error: type = TypeError, shape_error: type = ValueError
                   ) -> ShapedArray:
    """The tangent type ``primal_aval`` needs, after checking that ``tangent`` has it: the
    primal's shape and dtype (float0 for integer and bool primals). The exception types
    are JAX's: jvp raises TypeError for a dtype and ValueError for a shape mismatch, the
    function linearize returns ValueError for both."""
    ta = _leaf_aval(tangent)
    if ta is None:
        raise TypeError(f"{name}: tangent {i} of type {type(tangent).__name__} is not an "
                        "array or scalar")
    expect = ad.tangent_aval(primal_aval)
    if ta.dtype != expect.dtype:
        def dname(d):  # float0 is a structured NumPy dtype named "void"
            return "float0" if d == dtypes.float0 else d.name
        hint = (" (integer and bool primals take float0 tangents)"
                if expect.dtype == dtypes.float0 else
                f"; convert the tangent with .astype({expect.dtype.name})")
        raise dtype_error(f"{name}: tangent {i} has dtype {dname(ta.dtype)} but its primal "
                          f"has dtype {dname(primal_aval.dtype)}, which needs tangents of "
                          f"dtype {dname(expect.dtype)}{hint}")
    if ta.shape != primal_aval.shape:
        raise shape_error(f"{name}: tangent {i} has shape {ta.shape} but its primal has shape "
                          f"{primal_aval.shape}; each tangent must have its primal's shape")
    return expect


def jvp(fun: Callable, primals: Sequence[Any], tangents: Sequence[Any], has_aux: bool = False):
    """Forward mode: ``(fun(*primals), J(primals) @ tangents)``. ``primals`` and ``tangents``
    are tuples (or lists) of pytrees of the same structure and types.

    >>> jvp(fnp.sin, (0.0,), (1.0,))
    (Array(0., dtype=float32, weak_type=True), Array(1., dtype=float32, weak_type=True))
    """
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError("jvp: primals and tangents must be tuples or lists, got "
                        f"{type(primals).__name__} and {type(tangents).__name__}")
    p_leaves, p_tree = pytree.tree_flatten(tuple(primals))
    t_leaves, t_tree = pytree.tree_flatten(tuple(tangents))
    if p_tree != t_tree:
        raise TypeError(f"jvp: primal and tangent arguments must have the same tree "
                        f"structure, got {p_tree} and {t_tree}")
    _check_arrays("jvp", p_leaves)
    tangents_in = []
    for i, (p, t) in enumerate(zip(p_leaves, t_leaves)):
        expect = _check_tangent("jvp", i, get_aval(p), t)
        tangents_in.append(ad.Zero(expect) if expect.dtype == dtypes.float0 else t)
    box: list = []
    flat = _flatten_fun(fun, p_tree, box, has_aux)
    outs, touts = ad.jvp_flat(lambda *xs: flat(*xs), p_leaves, tangents_in)
    out_tree = box[0]
    outs, aux = _split_aux(box, outs)
    touts = [ad.instantiate(t) for t in touts[:len(outs)]]
    result = (pytree.tree_unflatten(out_tree, outs), pytree.tree_unflatten(out_tree, touts))
    return (*result, aux) if has_aux else result


# The functions ``linearize`` and ``vjp`` return are pytrees, as in JAX: a ``Partial`` whose
# leaves are the residuals (the linear program's constants) around a static callable
# holding the program and the structures. So they can be returned from ``jit``, carried
# through ``lax.scan`` or ``vmap``-ed over, and called later.

class _LinearizedJVP:
    """The static half of ``linearize``'s ``f_jvp``: ``(residuals, *tangents) -> out``."""

    __slots__ = ("program", "p_tree", "p_avals", "out_tree", "num_out")

    def __init__(self, program, p_tree, p_avals, out_tree, num_out):
        self.program, self.p_tree, self.p_avals = program, p_tree, p_avals
        self.out_tree, self.num_out = out_tree, num_out

    def __call__(self, residuals, *tangents):
        t_leaves, t_tree = pytree.tree_flatten(tangents)
        if t_tree != self.p_tree:
            raise TypeError(f"linearized function expects tangents with structure "
                            f"{self.p_tree} (one per primal given to linearize), got {t_tree}")
        for i, (pa, t) in enumerate(zip(self.p_avals, t_leaves)):
            _check_tangent("linearized function", i, pa, t, ValueError, ValueError)
        outs = eval_program(self.program, residuals, t_leaves)[:self.num_out]
        return pytree.tree_unflatten(self.out_tree, outs)

    def __repr__(self) -> str:
        return f"<linearized jvp: {self.p_tree} -> {self.out_tree}>"


def linearize(fun: Callable, *primals, has_aux: bool = False):
    """``(fun(*primals), f_jvp)`` (``(out, f_jvp, aux)`` with ``has_aux``) where
    ``f_jvp(*tangents)`` evaluates the jvp at ``primals`` from a linear program computed
    once. ``f_jvp`` is a ``tree_util.Partial`` over the program's residuals.

    >>> y, f_jvp = linearize(fnp.sin, 0.0)
    >>> f_jvp(2.0)
    Array(2., dtype=float32, weak_type=True)
    """
    p_leaves, p_tree = pytree.tree_flatten(primals)
    _check_arrays("linearize", p_leaves)
    box: list = []
    flat = _flatten_fun(fun, p_tree, box, has_aux)
    outs, linear = partial_eval.linearize_flat(flat, p_leaves)
    out_tree = box[0]
    outs, aux = _split_aux(box, outs)
    static = _LinearizedJVP(linear.program, p_tree, [get_aval(p) for p in p_leaves],
                            out_tree, len(outs))
    result = (pytree.tree_unflatten(out_tree, outs), Partial(static, list(linear.consts)))
    return (*result, aux) if has_aux else result


def _vjp_flat(name, fun, primals, has_aux):
    p_leaves, p_tree = pytree.tree_flatten(tuple(primals))
    _check_arrays(name, p_leaves)
    box: list = []
    flat = _flatten_fun(fun, p_tree, box, has_aux)
    outs, linear = partial_eval.linearize_flat(flat, p_leaves)
    return outs, linear, box, p_tree, p_leaves


def _zero_cotangent(aval: ShapedArray):
    if dtypes.is_inexact(aval.dtype):
        return lax.full(aval.shape, 0, aval.dtype)
    return np.zeros(aval.shape, dtypes.float0)


def _cotangent_for(ct, pa: ShapedArray):
    """The cotangent as returned to users: zeros for symbolic zeros, and the primal's dtype
    and weak type (``pa``: a gradient has the type of what it differentiates)."""
    if type(ct) is ad.Zero:
        return _zero_cotangent(pa)
    ca = get_aval(ct)
    if dtypes.is_inexact(pa.dtype) and (ca.dtype != pa.dtype or ca.weak_type != pa.weak_type):
        return lax.convert_element_type(ct, pa.dtype, weak_type=pa.weak_type)
    return ct


class _VJPBackward:
    """The static half of ``vjp``'s ``vjp_fn``: ``(residuals, cotangent) -> cotangents``."""

    __slots__ = ("program", "out_tree", "out_avals", "p_tree", "p_avals", "aux_avals")

    def __init__(self, program, out_tree, out_avals, p_tree, p_avals, aux_avals):
        self.program, self.out_tree, self.out_avals = program, out_tree, out_avals
        self.p_tree, self.p_avals, self.aux_avals = p_tree, p_avals, aux_avals

    def __call__(self, residuals, cotangent, *extra):
        if extra:
            raise TypeError(f"the function returned by vjp takes one cotangent, shaped like "
                            f"the differentiated function's output (a tuple when it returns "
                            f"a tuple), but was called with {1 + len(extra)} arguments")
        ct_leaves, ct_tree = pytree.tree_flatten(cotangent)
        if ct_tree != self.out_tree:
            raise ValueError(f"vjp_fn: cotangent structure {ct_tree} does not match the "
                             f"output structure {self.out_tree}")
        for i, (c, oa) in enumerate(zip(ct_leaves, self.out_avals)):
            ca, expect = get_aval(c), ad.tangent_aval(oa)
            if ca.shape != oa.shape:
                raise ValueError(f"vjp_fn: cotangent {i} has shape {ca.shape}, expected the "
                                 f"primal output's shape {oa.shape}")
            if expect.dtype != dtypes.float0 and ca.dtype != expect.dtype:
                raise ValueError(f"vjp_fn: cotangent {i} has dtype {ca.dtype.name}, expected "
                                 f"the primal output's dtype {oa.dtype.name}; convert it "
                                 f"with .astype({oa.dtype.name})")
        linear = ClosedProgram(self.program, residuals)
        aux_cts = [ad.Zero(a) for a in self.aux_avals]
        cts = transpose.vjp_of_linear(linear)([*ct_leaves, *aux_cts])
        cts = [_cotangent_for(c, pa) for c, pa in zip(cts, self.p_avals)]
        return tuple(pytree.tree_unflatten(self.p_tree, cts))

    def __repr__(self) -> str:
        return f"<vjp backward: {self.out_tree} -> {self.p_tree}>"


def vjp(fun: Callable, *primals, has_aux: bool = False):
    """Reverse mode: ``(fun(*primals), vjp_fn)``; ``vjp_fn(cotangent)`` returns a tuple with
    one cotangent per primal (float0 zeros for integer inputs), as JAX does. ``vjp_fn`` is a
    ``tree_util.Partial`` over the residuals, so it may be returned from ``jit``.

    >>> y, vjp_fn = jit(lambda x: vjp(fnp.sin, x))(0.0)
    >>> vjp_fn(1.0)
    (Array(1., dtype=float32, weak_type=True),)
    """
    outs, linear, box, p_tree, p_leaves = _vjp_flat("vjp", fun, primals, has_aux)
    out_tree = box[0]
    outs, aux = _split_aux(box, outs)
    static = _VJPBackward(linear.program, out_tree, [get_aval(o) for o in outs], p_tree,
                         [get_aval(p) for p in p_leaves],
                         [v.aval for v in linear.program.outvars[len(outs):]])
    result = (pytree.tree_unflatten(out_tree, outs), Partial(static, list(linear.consts)))
    return (*result, aux) if has_aux else result


def _check_output_dtype(kind: str, fun: Callable, aval: ShapedArray, holomorphic: bool):
    """Reverse-mode derivatives (grad, jacrev) need real outputs, or complex ones with
    ``holomorphic=True``; the messages keep JAX's wording."""
    name = _fun_name(fun)
    if holomorphic:
        if not dtypes.is_complex(aval.dtype):
            raise TypeError(f"{kind} with holomorphic=True requires outputs with complex "
                            f"dtype, but {name} returned {aval.str_short()}.")
    elif dtypes.is_complex(aval.dtype):
        raise TypeError(f"{kind} requires real-valued outputs (output dtype that is a "
                        f"sub-dtype of np.floating), but {name} returned "
                        f"{aval.str_short()}. For holomorphic differentiation, pass "
                        "holomorphic=True. For differentiation of non-holomorphic functions "
                        "involving complex outputs, use vjp directly.")
    elif not dtypes.is_float(aval.dtype):
        raise TypeError(f"{kind} requires real-valued outputs (output dtype that is a "
                        f"sub-dtype of np.floating), but {name} returned "
                        f"{aval.str_short()}. For differentiation of functions with integer "
                        "outputs, use vjp directly.")


def _check_scalar_output(name: str, fun: Callable, out_leaves, holomorphic: bool = False):
    if len(out_leaves) != 1:
        raise TypeError(f"{name} requires a function with a single scalar output, got "
                        f"{len(out_leaves)} outputs; use vjp or jacrev for several outputs")
    aval = get_aval(out_leaves[0])
    if aval.shape != ():
        raise TypeError(f"{name} requires a scalar output, got {aval.str_short()}; use vjp "
                        "or jacrev for non-scalar outputs")
    _check_output_dtype("grad", fun, aval, holomorphic)


def _check_diff_inputs(name: str, args, argnums: tuple[int, ...], allow_int: bool = False,
                       holomorphic: bool = False, kind: str = "grad"):
    """``kind`` is how JAX's messages name the transformation ("grad", "jacrev",
    "jacfwd"); jacfwd takes real inputs only (complex ones need ``holomorphic=True``)."""
    for i in argnums:
        if i >= len(args):
            raise TypeError(f"{name}: argnums {i} is out of range for {len(args)} "
                            "positional arguments")
        for leaf in pytree.tree_leaves(args[i]):
            aval = get_aval(leaf)
            if holomorphic:
                if not dtypes.is_complex(aval.dtype):
                    raise TypeError(f"{kind} with holomorphic=True requires inputs with "
                                    f"complex dtype, but got {aval.dtype.name} for argument "
                                    f"{i}.")
                continue
            if kind == "jacfwd":
                if not dtypes.is_float(aval.dtype):
                    raise TypeError(f"jacfwd requires real-valued inputs (input dtype that is "
                                    f"a sub-dtype of np.floating), but got {aval.dtype.name} "
                                    f"for argument {i}. For holomorphic differentiation, "
                                    "pass holomorphic=True. For differentiation of "
                                    "non-holomorphic functions involving complex inputs or "
                                    "integer inputs, use jvp directly.")
                continue
            if allow_int and (dtypes.is_int(aval.dtype) or dtypes.is_bool(aval.dtype)):
                continue
            if not dtypes.is_inexact(aval.dtype):
                raise TypeError(f"{name} requires real- or complex-valued inputs (input "
                                f"dtype that is a sub-dtype of np.inexact), but got "
                                f"{aval.dtype.name} for argument {i}. If you want to use "
                                "integer-valued inputs, use vjp or set allow_int=True.")


def value_and_grad(fun: Callable, argnums=0, has_aux: bool = False,
                   holomorphic: bool = False, allow_int: bool = False):
    """``(fun(*args), d fun / d args[argnums])`` for a scalar-valued ``fun``. Integer (and
    bool) arguments are refused unless ``allow_int``, which gives them float0 gradients.
    ``holomorphic=True`` differentiates a complex function of complex inputs (the result
    is ``f'(z)``); without it outputs must be real.

    >>> value_and_grad(lambda x: (x ** 2).sum())(fnp.arange(3.0))
    (Array(5., dtype=float32), Array([0., 2., 4.], dtype=float32))
    """
    single = isinstance(argnums, int)
    nums = (argnums,) if single else tuple(argnums)
    name = f"grad({_fun_name(fun)})"

    def wrapped(*args, **kwargs):
        nums_n = _positive_argnums(nums, len(args))
        _check_diff_inputs(name, args, nums_n, allow_int, holomorphic)
        diff_args = [args[i] for i in nums_n]
        f_diff = _substitute_argnums(fun, args, kwargs, nums_n)
        outs, linear, box, p_tree, p_leaves = _vjp_flat(name, f_diff, diff_args, has_aux)
        outs, aux = _split_aux(box, outs)
        _check_scalar_output(name, fun, outs, holomorphic)
        seed = lax.full((), 1, get_aval(outs[0]).dtype)
        aux_cts = [ad.Zero(v.aval) for v in linear.program.outvars[1:]]
        cts = transpose.vjp_of_linear(linear)([seed, *aux_cts])
        cts = [_cotangent_for(c, get_aval(p)) for c, p in zip(cts, p_leaves)]
        grads = pytree.tree_unflatten(p_tree, cts)
        g = grads[0] if single else tuple(grads)
        value = pytree.tree_unflatten(box[0], outs)
        return ((value, aux), g) if has_aux else (value, g)

    functools.update_wrapper(wrapped, fun, updated=())
    return wrapped


def grad(fun: Callable, argnums=0, has_aux: bool = False, holomorphic: bool = False,
         allow_int: bool = False):
    """The gradient of scalar-valued ``fun`` with respect to ``args[argnums]`` (an int or a
    tuple of ints), with the structure of those arguments; ``allow_int`` gives integer
    arguments float0 gradients instead of refusing them; ``holomorphic=True`` gives
    ``f'(z)`` of a complex ``fun`` of complex inputs.

    >>> grad(lambda x: fnp.sin(x))(0.0)
    Array(1., dtype=float32, weak_type=True)
    """
    vg = value_and_grad(fun, argnums, has_aux, holomorphic, allow_int)

    def wrapped(*args, **kwargs):
        value, g = vg(*args, **kwargs)
        return (g, value[1]) if has_aux else g

    functools.update_wrapper(wrapped, fun, updated=())
    return wrapped
