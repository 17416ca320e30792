"""``jit`` (functorch_lite.api's JitFunction), the in-memory compile cache and donation
(xla_bridge/compile.py), and the program clean-up passes (functorch_lite/core/passes.py).

* every primitive in the registry gives the same result under ``jit`` as eagerly;
* ``jit`` composes with ``grad``/``vmap``/``hessian`` in every order (checked against the
  un-jitted composition and against JAX);
* tracing and XLA compilation happen once per signature (``trace_count``,
  ``xla_bridge.compile.stats``), including for transformations of a jitted function;
* CSE/DCE, closed-over constants, donation, ahead-of-time lowering and ``log_compiles``.

The persistent (on-disk) cache is tested in tests/xla_bridge/test_compile_cache.py.
"""
import logging
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import xla_bridge
import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite import lax
from functorch_lite.core import passes
from functorch_lite.core.avals import ShapedArray
from functorch_lite.core.config import config
from functorch_lite.core.ir import ClosedProgram, Eqn, Literal, Program, Var, typecheck
from functorch_lite.core.primitive import Primitive
from functorch_lite.lax import windowed
from functorch_lite.lax.indexing import GatherDimensionNumbers as GDN
from functorch_lite.lax.indexing import ScatterDimensionNumbers as SDN
from xla_bridge import compile as xc
from xla_bridge.array import DeletedArrayError

F32, I32 = np.dtype(np.float32), np.dtype(np.int32)
RNG = np.random.default_rng(0)


def rnd(*shape, dtype=np.float32):
    return RNG.normal(size=shape).astype(dtype)


def uni(lo, hi, *shape):
    return RNG.uniform(lo, hi, size=shape).astype(np.float32)


def ints(lo, hi, *shape, dtype=np.int32):
    return RNG.integers(lo, hi, size=shape).astype(dtype)


def cplx(*shape):
    return (rnd(*shape) + 1j * rnd(*shape)).astype(np.complex64)


def assert_same(got, want):
    """Exact for integers/bools, allclose for floats; same dtype, shape (and weak type)."""
    got_l, want_l = fl.tree_util.tree_leaves(got), fl.tree_util.tree_leaves(want)
    assert len(got_l) == len(want_l)
    for g, w in zip(got_l, want_l):
        g_np, w_np = np.asarray(g), np.asarray(w)
        assert g_np.dtype == w_np.dtype, (g_np.dtype, w_np.dtype)
        assert g_np.shape == w_np.shape, (g_np.shape, w_np.shape)
        if hasattr(g, "weak_type") and hasattr(w, "weak_type"):
            assert g.weak_type == w.weak_type
        if np.issubdtype(w_np.dtype, np.inexact):
            np.testing.assert_allclose(g_np, w_np, rtol=2e-5, atol=1e-6)
        else:
            np.testing.assert_array_equal(g_np, w_np)


def close(got, want, rtol=1e-5, atol=1e-6):
    for g, w in zip(fl.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want)):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=rtol, atol=atol)


# ---------------------------------------------------------------------------------------
# 1. jit(f) == f for every primitive

def _window_params(kind, window_dilation=True):
    p = dict(kind=kind, window_dimensions=(2, 2), window_strides=(1, 2),
             padding=((0, 0), (1, 0)), base_dilation=(1, 1))
    if window_dilation:
        p["window_dilation"] = (1, 1)
    return p


_UNARY_FLOAT = {
    # name: (function, input)
    "abs": (lax.abs, rnd(2, 3)), "acos": (lax.acos, uni(-0.9, 0.9, 2, 3)),
    "acosh": (lax.acosh, uni(1.1, 3, 2, 3)), "asin": (lax.asin, uni(-0.9, 0.9, 2, 3)),
    "asinh": (lax.asinh, rnd(2, 3)), "atan": (lax.atan, rnd(2, 3)),
    "atanh": (lax.atanh, uni(-0.9, 0.9, 2, 3)), "cbrt": (lax.cbrt, rnd(2, 3)),
    "ceil": (lax.ceil, rnd(2, 3) * 3), "cos": (lax.cos, rnd(2, 3)),
    "cosh": (lax.cosh, rnd(2, 3)), "digamma": (lax.digamma, uni(0.5, 3, 2, 3)),
    "erf": (lax.erf, rnd(2, 3)), "erf_inv": (lax.erf_inv, uni(-0.9, 0.9, 2, 3)),
    "erfc": (lax.erfc, rnd(2, 3)), "exp": (lax.exp, rnd(2, 3)),
    "exp2": (lax.exp2, rnd(2, 3)), "expm1": (lax.expm1, rnd(2, 3)),
    "floor": (lax.floor, rnd(2, 3) * 3), "is_finite": (lax.is_finite,
                                                       np.array([1.0, np.inf, np.nan], F32)),
    "lgamma": (lax.lgamma, uni(0.5, 3, 2, 3)), "log": (lax.log, uni(0.1, 3, 2, 3)),
    "log1p": (lax.log1p, uni(-0.5, 3, 2, 3)), "logistic": (lax.logistic, rnd(2, 3)),
    "neg": (lax.neg, rnd(2, 3)), "round": (lax.round, rnd(2, 3) * 3),
    "rsqrt": (lax.rsqrt, uni(0.1, 3, 2, 3)), "sign": (lax.sign, rnd(2, 3)),
    "sin": (lax.sin, rnd(2, 3)), "sinh": (lax.sinh, rnd(2, 3)),
    "sqrt": (lax.sqrt, uni(0.1, 3, 2, 3)), "tan": (lax.tan, uni(-1, 1, 2, 3)),
    "tanh": (lax.tanh, rnd(2, 3)),
    "real": (lax.real, cplx(2, 3)), "imag": (lax.imag, cplx(2, 3)),
    "conj": (lax.conj, cplx(2, 3)),
    "not": (lax.bitwise_not, ints(-5, 5, 2, 3)),
    "population_count": (lax.population_count, ints(0, 100, 2, 3)),
    "stop_gradient": (lax.stop_gradient, rnd(2, 3)),
    "name": (lambda x: lax.misc.name_p.bind(x, name="h"), rnd(2, 3)),  # checkpoint_name
}

_BINARY = {
    "add": (lax.add, rnd(2, 3), rnd(2, 3)), "sub": (lax.sub, rnd(2, 3), rnd(2, 3)),
    "mul": (lax.mul, ints(-5, 5, 2, 3), ints(-5, 5, 2, 3)),
    "div": (lax.div, rnd(2, 3), uni(0.5, 2, 2, 3)),
    "rem": (lax.rem, ints(-9, 9, 2, 3), ints(1, 4, 2, 3)),
    "pow": (lax.pow, uni(0.5, 2, 2, 3), rnd(2, 3)),
    "max": (lax.max, rnd(2, 3), rnd(2, 3)), "min": (lax.min, rnd(2, 3), rnd(2, 3)),
    "atan2": (lax.atan2, rnd(2, 3), rnd(2, 3)),
    "nextafter": (lax.nextafter, rnd(2, 3), rnd(2, 3)),
    "complex": (lax.complex, rnd(2, 3), rnd(2, 3)),
    "and": (lax.bitwise_and, ints(0, 16, 2, 3), ints(0, 16, 2, 3)),
    "or": (lax.bitwise_or, ints(0, 16, 2, 3), ints(0, 16, 2, 3)),
    "xor": (lax.bitwise_xor, RNG.integers(0, 2, (2, 3)).astype(bool),
            RNG.integers(0, 2, (2, 3)).astype(bool)),
    "shift_left": (lax.shift_left, ints(-8, 8, 2, 3), ints(0, 5, 2, 3)),
    "shift_right_arithmetic": (lax.shift_right_arithmetic, ints(-64, 64, 2, 3),
                               ints(0, 5, 2, 3)),
    "shift_right_logical": (lax.shift_right_logical, ints(-64, 64, 2, 3), ints(0, 5, 2, 3)),
    "eq": (lax.eq, ints(0, 3, 2, 3), ints(0, 3, 2, 3)),
    "ne": (lax.ne, ints(0, 3, 2, 3), ints(0, 3, 2, 3)),
    "lt": (lax.lt, rnd(2, 3), rnd(2, 3)), "le": (lax.le, ints(0, 3, 2, 3), ints(0, 3, 2, 3)),
    "gt": (lax.gt, rnd(2, 3), rnd(2, 3)), "ge": (lax.ge, ints(0, 3, 2, 3), ints(0, 3, 2, 3)),
}

_X23, _X45 = rnd(2, 3), rnd(4, 5)
_OTHER = {
    "integer_pow": (lambda x: lax.integer_pow(x, 3), rnd(2, 3)),
    "select_n": (lax.select_n, ints(0, 3, 2, 3), rnd(2, 3), rnd(2, 3), rnd(2, 3)),
    "clamp": (lax.clamp, np.float32(-0.5), rnd(2, 3), np.float32(0.5)),
    "convert_element_type": (lambda x: lax.convert_element_type(x, np.int32), rnd(2, 3) * 4),
    "bitcast_convert_type": (lambda x: lax.bitcast_convert_type(x, np.int32), rnd(2, 3)),
    # shapes
    "reshape": (lambda x: lax.reshape(x, (3, 2)), _X23),
    "broadcast_in_dim": (lambda x: lax.broadcast_in_dim(x, (4, 2, 3), (1, 2)), _X23),
    "transpose": (lambda x: lax.transpose(x, (1, 0)), _X23),
    "squeeze": (lambda x: lax.squeeze(x, (1,)), rnd(3, 1, 2)),
    "concatenate": (lambda x, y: lax.concatenate([x, y, x], 1), _X23, rnd(2, 2)),
    "pad": (lambda x: lax.pad(x, np.float32(-1), [(1, 0, 1), (0, 2, 0)]), _X23),
    "slice": (lambda x: lax.slice(x, (1, 0), (4, 5), (2, 2)), _X45),
    "rev": (lambda x: lax.rev(x, (0, 1)), _X23),
    "iota": (lambda x: lax.iota(np.int32, 5) + x, ints(0, 5, 5)),
    # reductions
    "reduce_sum": (lambda x: lax.reduce_sum(x, (1,)), _X45),
    "reduce_prod": (lambda x: lax.reduce_prod(x, (0,)), _X45),
    "reduce_max": (lambda x: lax.reduce_max(x, (0, 1)), _X45),
    "reduce_min": (lambda x: lax.reduce_min(x, (1,)), ints(-9, 9, 4, 5)),
    "reduce_and": (lambda x: lax.reduce_and(x, (1,)), RNG.integers(0, 2, (4, 3)) > 0),
    "reduce_or": (lambda x: lax.reduce_or(x, (0,)), RNG.integers(0, 2, (4, 3)) > 0),
    "argmax": (lambda x: lax.argmax(x, 1, np.int32), _X45),
    "argmin": (lambda x: lax.argmin(x, 0, np.int32), _X45),
    "cumsum": (lambda x: lax.cumsum(x, 1), _X45),
    "cumprod": (lambda x: lax.cumprod(x, 0, reverse=True), _X45),
    "cummax": (lambda x: lax.cummax(x, 1), ints(-9, 9, 4, 5)),
    "cummin": (lambda x: lax.cummin(x, 0), _X45),
    # sorting
    "sort": (lambda x, y: lax.sort((x, y), dimension=0, num_keys=1),
             ints(0, 3, 5, 2), rnd(5, 2)),
    "top_k": (lambda x: lax.top_k(x, 2), _X45),
    # Fourier transforms
    "fft": (lambda x: lax.fft(x, lax.FftType.RFFT, (4, 5)), _X45),
    # decompositions
    "cholesky": (lambda x: lax.linalg.cholesky(x @ x.T + 5 * np.eye(4, dtype=np.float32)),
                 _X45),
    "triangular_solve": (lambda a, b: lax.linalg.triangular_solve(a, b, left_side=True,
                                                                  lower=True),
                         np.tril(rnd(4, 4)) + 4 * np.eye(4, dtype=np.float32), _X45),
    "geqrf": (lambda x: lax.linalg.geqrf(x), _X45),
    "householder_product": (lambda x: lax.linalg.householder_product(*lax.linalg.geqrf(x)),
                            np.ascontiguousarray(_X45.T)),
    "eigh": (lambda x: lax.linalg.eigh(x @ x.T), _X45),
    # indexing
    "dynamic_slice": (lambda x, i: lax.dynamic_slice(x, (i, 1), (2, 3)), _X45, np.int32(1)),
    "dynamic_update_slice": (lambda x, u, i: lax.dynamic_update_slice(x, u, (i, np.int32(0))),
                             _X45, rnd(2, 3), np.int32(3)),
    "gather": (lambda x, i: lax.gather(x, i, GDN((1,), (0,), (0,)), (1, 5)),
               _X45, np.array([[2], [0], [3]], np.int32)),
    "scatter": (lambda x, i, u: lax.scatter(x, i, u, SDN((1,), (0,), (0,))),
                _X45, np.array([[1], [3]], np.int32), rnd(2, 5)),
    "scatter_add": (lambda x, i, u: lax.scatter_add(x, i, u, SDN((1,), (0,), (0,))),
                    _X45, np.array([[1], [1]], np.int32), rnd(2, 5)),
    "scatter_mul": (lambda x, i, u: lax.scatter_mul(x, i, u, SDN((1,), (0,), (0,))),
                    _X45, np.array([[1], [2]], np.int32), rnd(2, 5)),
    "scatter_min": (lambda x, i, u: lax.scatter_min(x, i, u, SDN((1,), (0,), (0,))),
                    _X45, np.array([[1], [1]], np.int32), rnd(2, 5)),
    "scatter_max": (lambda x, i, u: lax.scatter_max(x, i, u, SDN((1,), (0,), (0,))),
                    ints(-9, 9, 4, 5), np.array([[0], [3]], np.int32), ints(-9, 9, 2, 5)),
    # the identity on a group that XLA may not look through
    "optimization_barrier": (lambda x, y: lax.optimization_barrier((x * 2, y)), rnd(2, 3),
                             ints(0, 9, 3)),
    # linear algebra, convolution
    "dot_general": (lambda a, b: lax.dot_general(a, b, (((2,), (1,)), ((0,), (0,)))),
                    rnd(2, 3, 4), rnd(2, 4, 5)),
    "conv_general_dilated": (lambda x, w: lax.conv_general_dilated(x, w, (1, 2), "SAME"),
                             rnd(1, 2, 5, 6), rnd(3, 2, 3, 3)),
    # windowed
    "reduce_window_sum": (lambda x: lax.reduce_window_sum(x, (2, 2), (1, 2), "SAME"), _X45),
    "reduce_window_max": (lambda x: lax.reduce_window_max(x, (2, 3), (2, 1)), _X45),
    "reduce_window_min": (lambda x: lax.reduce_window_min(x, (1, 2), padding=[(0, 1), (1, 1)]),
                          _X45),
    "reduce_window": (lambda x: lax.reduce_window(x, 1.0, lax.mul, (2, 2), (1, 1), "SAME"),
                      _X45),
    "reduce_window_select": (
        lambda x, t: windowed.reduce_window_select_p.bind(x, t, **_window_params("max")),
        _X45, rnd(4, 5)),
    "select_and_scatter_add": (
        lambda s, x: windowed.select_and_scatter_add_p.bind(s, x, **_window_params("min",
                                                                                   False)),
        rnd(3, 3), _X45),
}

PRIMITIVE_CASES = {}
PRIMITIVE_CASES.update({k: (f, (x,)) for k, (f, x) in _UNARY_FLOAT.items()})
PRIMITIVE_CASES.update({k: (f, (x, y)) for k, (f, x, y) in _BINARY.items()})
PRIMITIVE_CASES.update({k: (v[0], tuple(v[1:])) for k, v in _OTHER.items()})

# Primitives that carry programs, need an axis, a device or a mesh, or are internal to a
# transformation: tested below through their public APIs (the collectives also in
# tests/lax/test_parallel.py; sharding_constraint in tests/test_sharding.py; shard_map and
# the collectives over devices in tests/multi_device/; the host callbacks in
# tests/test_callbacks.py and tests/test_io_callback.py; call_exported in tests/test_export.py; custom_linear_solve in
# tests/lax/test_custom_solve.py).
SEPARATE = {"jit_call", "custom_jvp_call", "custom_vjp_call", "custom_lin", "checkpoint",
            "cond", "while", "scan", "psum", "pmax", "pmin", "all_gather", "axis_index",
            "psum_scatter", "ppermute", "all_to_all", "device_put", "sharding_constraint",
            "shard_map", "pure_callback", "debug_callback", "call_exported",
            "custom_linear_solve", "io_callback"}


def test_table_covers_every_registered_primitive():
    registered = set(Primitive.registry)
    missing = registered - set(PRIMITIVE_CASES) - SEPARATE
    assert not missing, f"primitives without a jit test case: {sorted(missing)}"
    unknown = (set(PRIMITIVE_CASES) | SEPARATE) - registered
    assert not unknown, f"test cases for primitives that do not exist: {sorted(unknown)}"


def _top_level_primitives(program) -> set:
    return {e.primitive.name for e in program.eqns}


@pytest.mark.parametrize("name", sorted(PRIMITIVE_CASES))
def test_jit_matches_eager(name):
    f, args = PRIMITIVE_CASES[name]
    jf = fl.jit(f)
    lowered = jf.lower(*args)
    program = lowered.program
    typecheck(program.program)
    # the case really exercises the primitive it is listed under, inside the compiled program
    assert name in _top_level_primitives(program), str(program)
    assert_same(jf(*args), f(*args))


# Hypothesis: elementwise binary ops and reductions over shapes.

_BIN_OPS = {"add": lax.add, "sub": lax.sub, "mul": lax.mul, "max": lax.max, "min": lax.min,
            "lt": lax.lt, "eq": lax.eq}
_SHAPES = st.lists(st.integers(0, 3), min_size=0, max_size=3).map(tuple)


@settings(max_examples=12, deadline=None)
@given(st.sampled_from(sorted(_BIN_OPS)), _SHAPES, st.sampled_from([F32, I32]))
def test_jit_binary_ops_over_shapes(op, shape, dtype):
    x = ints(-5, 6, *shape).astype(dtype)
    y = ints(-5, 6, *shape).astype(dtype)
    f = _BIN_OPS[op]
    assert_same(fl.jit(f)(x, y), f(x, y))


_REDUCTIONS = {"reduce_sum": lax.reduce_sum, "reduce_max": lax.reduce_max,
               "reduce_min": lax.reduce_min, "reduce_prod": lax.reduce_prod}


@st.composite
def _reduction_cases(draw):
    shape = tuple(draw(st.lists(st.integers(1, 3), min_size=1, max_size=3)))
    axes = draw(st.lists(st.integers(0, len(shape) - 1), unique=True, min_size=0,
                         max_size=len(shape)))
    return shape, tuple(axes)


@settings(max_examples=12, deadline=None)
@given(st.sampled_from(sorted(_REDUCTIONS)), _reduction_cases(), st.sampled_from([F32, I32]))
def test_jit_reductions_over_shapes(op, case, dtype):
    shape, axes = case
    x = ints(-3, 4, *shape).astype(dtype)
    red = _REDUCTIONS[op]
    f = lambda x: red(x, axes)  # noqa: E731
    assert_same(fl.jit(f)(x), f(x))
    np.testing.assert_array_equal(np.asarray(fl.jit(f)(x)),
                                  {"reduce_sum": np.sum, "reduce_max": np.max,
                                   "reduce_min": np.min, "reduce_prod": np.prod}[op](
                                      x, axis=axes))


# The program-carrying primitives, through their public APIs.

def _jit_eq(f, *args, names=()):
    program = fl.jit(f).lower(*args).program
    typecheck(program.program)
    for n in names:
        assert n in _top_level_primitives(program), str(program)
    assert_same(fl.jit(f)(*args), f(*args))


def test_jit_of_cond_and_switch():
    x = rnd(3)

    def f(p, x):
        return lax.cond(p, lambda x: lax.sin(x) * 2, lambda x: lax.cos(x), x)

    for p in (True, False):
        _jit_eq(f, np.bool_(p), x, names=["cond"])

    def g(i, x):
        return lax.switch(i, [lambda x: x + 1, lambda x: x * x, lambda x: -x], x)

    for i in (0, 1, 2, 7):
        _jit_eq(g, np.int32(i), x, names=["cond"])


def test_jit_of_while_fori_scan_map():
    def w(x):
        return lax.while_loop(lambda c: c[0] < 5, lambda c: (c[0] + 1, c[1] * 1.5), (0, x))

    _jit_eq(w, rnd(3), names=["while"])
    _jit_eq(lambda n, x: lax.fori_loop(0, n, lambda i, c: c + i, x), np.int32(4), rnd(2),
            names=["while"])

    def s(c, xs):
        return lax.scan(lambda c, x: (c + x, c * x), c, xs)

    _jit_eq(s, rnd(2), rnd(4, 2), names=["scan"])
    _jit_eq(lambda xs: lax.map(lambda x: lax.sin(x).sum(), xs), rnd(4, 3), names=["scan"])


def test_jit_of_custom_jvp_custom_vjp_checkpoint_device_put():
    @fl.custom_jvp
    def f(x):
        return lax.sin(x)

    f.defjvp(lambda p, t: (lax.sin(p[0]), 2.0 * t[0]))

    @fl.custom_vjp
    def g(x):
        return lax.exp(x)

    g.defvjp(lambda x: (lax.exp(x), x), lambda x, ct: (3.0 * ct,))

    x = rnd(3)
    _jit_eq(f, x, names=["custom_jvp_call"])
    _jit_eq(g, x, names=["custom_vjp_call"])
    _jit_eq(fl.checkpoint(lambda x: lax.sin(lax.sin(x))), x, names=["checkpoint"])
    _jit_eq(lambda x: fl.device_put(x) * 2, x, names=["device_put"])
    # their derivative rules inside jit (custom_lin appears in the linearized program)
    close(fl.jit(fl.grad(lambda x: f(x).sum()))(x), np.full(3, 2.0))
    close(fl.jit(fl.grad(lambda x: g(x).sum()))(x), np.full(3, 3.0))
    close(fl.grad(fl.jit(lambda x: g(x).sum()))(x), np.full(3, 3.0))
    close(fl.jit(fl.grad(fl.checkpoint(lambda x: lax.sin(x).sum())))(x), np.cos(x))


def test_jit_of_control_flow_under_grad_and_vmap():
    def f(x):
        c = lax.cond(x.sum() > 0, lambda x: x * x, lambda x: lax.sin(x), x)
        return lax.scan(lambda c, y: (c * 0.5 + y, None), 0.0, c)[0]

    def fj(x):
        c = jax.lax.cond(x.sum() > 0, lambda x: x * x, lambda x: jnp.sin(x), x)
        return jax.lax.scan(lambda c, y: (c * 0.5 + y, None), 0.0, c)[0]

    xs = rnd(4, 3)
    close(fl.jit(fl.vmap(fl.grad(f)))(xs), jax.jit(jax.vmap(jax.grad(fj)))(xs))
    close(fl.vmap(fl.jit(f))(xs), jax.jit(jax.vmap(fj))(xs))


@pytest.mark.parametrize("coll", ["psum", "pmax", "pmin", "all_gather", "axis_index"])
def test_jit_collectives_under_vmap(coll):
    ours = {"psum": lambda x: lax.psum(x, "i"), "pmax": lambda x: lax.pmax(x, "i"),
            "pmin": lambda x: lax.pmin(x, "i"), "all_gather": lambda x: lax.all_gather(x, "i"),
            "axis_index": lambda x: x * lax.axis_index("i")}
    theirs = {"psum": lambda x: jax.lax.psum(x, "i"), "pmax": lambda x: jax.lax.pmax(x, "i"),
              "pmin": lambda x: jax.lax.pmin(x, "i"),
              "all_gather": lambda x: jax.lax.all_gather(x, "i"),
              "axis_index": lambda x: x * jax.lax.axis_index("i")}
    x = rnd(4, 3)
    want = jax.vmap(theirs[coll], axis_name="i")(x)
    close(fl.vmap(fl.jit(ours[coll]), axis_name="i")(x), want)
    close(fl.jit(fl.vmap(ours[coll], axis_name="i"))(x), want)
    close(fl.jit(fl.vmap(fl.jit(ours[coll]), axis_name="i"))(x), want)
    # the collective is visible to the staged program of jit(vmap(...))
    program = fl.make_ir(fl.vmap(ours[coll], axis_name="i"))(x)
    typecheck(program.program)


def test_collective_inside_jit_without_axis_is_a_clear_error():
    with pytest.raises(NameError, match="unbound axis name 'i'"):
        fl.jit(lambda x: lax.psum(x, "i"))(rnd(3))
    with pytest.raises(NameError, match="axis_index: unbound axis name 'i'"):
        fl.jit(lambda x: x * lax.axis_index("i"))(rnd(3))


# ---------------------------------------------------------------------------------------
# 2. Compositions in every order, against the un-jitted composition and JAX

W = rnd(3, 3)


def f_fl(x):
    return fnp.sum(fnp.tanh(x) * fnp.sin(x)) + 0.1 * fnp.dot(x, fnp.dot(W, x)) ** 2


def f_jax(x):
    return jnp.sum(jnp.tanh(x) * jnp.sin(x)) + 0.1 * jnp.dot(x, jnp.dot(W, x)) ** 2


X = rnd(3)
XS = rnd(4, 3)

COMPOSITIONS = {
    # name: (ours with jit, ours without jit, jax, argument)
    "jit(grad)": (lambda: fl.jit(fl.grad(f_fl)), lambda: fl.grad(f_fl),
                  jax.grad(f_jax), X),
    "grad(jit)": (lambda: fl.grad(fl.jit(f_fl)), lambda: fl.grad(f_fl), jax.grad(f_jax), X),
    "jit(grad(jit))": (lambda: fl.jit(fl.grad(fl.jit(f_fl))), lambda: fl.grad(f_fl),
                       jax.grad(f_jax), X),
    "vmap(jit)": (lambda: fl.vmap(fl.jit(f_fl)), lambda: fl.vmap(f_fl), jax.vmap(f_jax), XS),
    "jit(vmap)": (lambda: fl.jit(fl.vmap(f_fl)), lambda: fl.vmap(f_fl), jax.vmap(f_jax), XS),
    "jit(vmap(grad))": (lambda: fl.jit(fl.vmap(fl.grad(f_fl))),
                        lambda: fl.vmap(fl.grad(f_fl)), jax.vmap(jax.grad(f_jax)), XS),
    "grad(vmap(jit))": (lambda: fl.grad(lambda xs: fl.vmap(fl.jit(f_fl))(xs).sum()),
                        lambda: fl.grad(lambda xs: fl.vmap(f_fl)(xs).sum()),
                        jax.grad(lambda xs: jax.vmap(f_jax)(xs).sum()), XS),
    "hessian(jit)": (lambda: fl.hessian(fl.jit(f_fl)), lambda: fl.hessian(f_fl),
                     jax.hessian(f_jax), X),
    "jit(hessian)": (lambda: fl.jit(fl.hessian(f_fl)), lambda: fl.hessian(f_fl),
                     jax.hessian(f_jax), X),
    "vmap(grad(jit))": (lambda: fl.vmap(fl.grad(fl.jit(f_fl))),
                        lambda: fl.vmap(fl.grad(f_fl)), jax.vmap(jax.grad(f_jax)), XS),
}


@pytest.mark.parametrize("name", sorted(COMPOSITIONS))
def test_compositions_match_unjitted_and_jax(name):
    with_jit, without_jit, ref, x = COMPOSITIONS[name]
    got = with_jit()(x)
    close(got, without_jit()(x))
    close(got, jax.jit(ref)(x), rtol=2e-5, atol=2e-5)   # (JAX op-by-op is slow)
    assert np.asarray(got).dtype == np.float32


def test_grad_of_jit_with_pytree_args_and_static_arg():
    def loss(params, x, n):
        h = x
        for _ in range(n):
            h = fnp.tanh(fnp.dot(h, params["w"]) + params["b"])
        return fnp.sum(h ** 2)

    def loss_j(params, x, n):
        h = x
        for _ in range(n):
            h = jnp.tanh(jnp.dot(h, params["w"]) + params["b"])
        return jnp.sum(h ** 2)

    params = {"w": rnd(3, 3), "b": rnd(3)}
    x = rnd(2, 3)
    jl = fl.jit(loss, static_argnums=2)
    got = fl.grad(jl)(params, x, 2)
    want = jax.jit(jax.grad(loss_j), static_argnums=2)(params, x, 2)
    close(got["w"], want["w"])
    close(got["b"], want["b"])


# ---------------------------------------------------------------------------------------
# 3. Retracing and recompilation

def _compiles():
    return xc.stats["compiles"]


def test_same_signature_neither_retraces_nor_recompiles():
    jf = fl.jit(lambda x, y: lax.sin(x) * y + 0.25)
    x, y = rnd(5), rnd(5)
    jf(x, y)
    n = _compiles()
    for _ in range(3):
        jf(rnd(5), rnd(5))          # new values, same types
    jf(xla_bridge.from_numpy(x), y)  # device array instead of NumPy: same aval
    assert jf.trace_count() == 1
    assert _compiles() == n


def test_cached_call_path_matches_first_call():
    """Repeat calls with device Arrays take jit's cached-call path (prebuilt output
    handlers, no pytree work); they must give what the first call gave, for single,
    tuple, nested and empty outputs, with closed-over constants, and weak types kept."""
    c = xla_bridge.from_numpy(np.arange(3, dtype=np.float32))
    fns = [lambda x, y: x * y,
           lambda x, y: (x + c, {"s": fnp.sum(y), "i": fnp.argmax(y)}),
           lambda x, y: [],
           lambda x, y: (x.astype(np.int32), (y > 0, 2.0 * x))]
    x, y = xla_bridge.from_numpy(rnd(3)), xla_bridge.from_numpy(rnd(3))
    for f in fns:
        jf = fl.jit(f)
        first = jf(x, y)
        for _ in range(3):
            assert_same(jf(x, y), first)
        assert_same(first, f(x, y))
    w = fl.jit(lambda x: x * 2)(fnp.asarray(1.0))   # weak scalar in, weak scalar out
    assert w.weak_type and fl.jit(lambda x: x * 2)(w).weak_type
    # A Python scalar and a weakly typed rank-0 Array have the same aval but different
    # cached-call entries.
    jf = fl.jit(lambda a, b: a - b)
    for a, b in [(x, 2), (x, fnp.asarray(2)), (2, x), (fnp.asarray(2), x), (x, 2)] * 2:
        assert_same(jf(a, b), a - b)


def test_cached_call_path_with_pytree_arguments():
    """Tuples, lists, dicts and None of device Arrays and Python scalars take the
    cached-call path too; a change of structure, key, leaf type or weak type is a new
    entry, never a wrong hit."""
    calls = []

    def f(p, x):
        calls.append(1)
        return {"y": p["w"] @ x[0] + p["b"], "n": fnp.asarray(x[1]) * 2}, [p["w"].sum()]

    a = xla_bridge.from_numpy(rnd(2, 3))
    b = xla_bridge.from_numpy(rnd(2))
    v = xla_bridge.from_numpy(rnd(3))
    jf = fl.jit(f)
    cases = [({"w": a, "b": b}, (v, 1.5)),
             ({"w": a, "b": b}, (v, 1.5)),
             ({"w": a, "b": b}, (v, 2)),                  # int scalar: new entry
             ({"w": a, "b": 1.0}, (v, 2)),                # scalar leaf in place of an array
             ({"w": a, "b": b}, [v, 2]),                  # list, not tuple
             ({"w": a, "b": b, "c": None}, (v, 2)),       # extra dict key holding None
             ({"w": a, "b": b}, (v, fnp.asarray(2))),     # weak rank-0 array, not a scalar
             ({"w": a, "b": b}, (v, 1.5))]
    for p, x in cases * 2:
        assert_same(jf(p, x), f(p, x))
    # A weak rank-0 int32 array has a Python int's type: same trace, its own entry.
    assert jf.trace_count() == 5
    np.testing.assert_allclose(np.asarray(jf({"w": a, "b": b}, (v, 1.5))[0]["y"]),
                               np.asarray(a) @ np.asarray(v) + np.asarray(b), rtol=1e-6)


def test_cached_call_path_with_named_tuples():
    """Named tuples (optimizer states) take the cached-call path as the tuples they are;
    two named tuple types with equal fields stay apart, and one registered with flatten
    functions of its own keeps them."""
    import collections
    A = collections.namedtuple("A", "x y")
    B = collections.namedtuple("B", "x y")
    Swapped = collections.namedtuple("Swapped", "x y")
    fl.tree_util.register_pytree_node(Swapped, lambda t: ((t.y, t.x), None),
                                      lambda _, ch: Swapped(ch[1], ch[0]))
    one = xla_bridge.from_numpy(np.ones(2, np.float32))
    two = xla_bridge.from_numpy(np.full(2, 2.0, np.float32))
    jf = fl.jit(lambda t: (type(t).__name__ == "A") * t.x - t.y)
    for _ in range(2):
        np.testing.assert_array_equal(np.asarray(jf(A(one, two))), [-1, -1])
        np.testing.assert_array_equal(np.asarray(jf(B(one, two))), [-2, -2])
        np.testing.assert_array_equal(np.asarray(jf(Swapped(one, two))), [-2, -2])
    assert jf.trace_count() == 3


def test_cached_scalar_buffers_keep_equal_but_different_scalars_apart():
    """Python scalars reach executables through a cache keyed by value: 0.0 and -0.0 (also
    as a complex part) and NaN must each keep their own bits."""
    jf = fl.jit(lambda a, b: a * b)
    x = xla_bridge.from_numpy(np.ones(2, np.float32))
    for v in [0.0, -0.0, complex(0.0, 1.0), complex(-0.0, 1.0), float("nan"), 0.0] * 2:
        got = np.asarray(jf(x, v))
        np.testing.assert_array_equal(np.signbit(got.real), np.signbit(np.real(v)))
        np.testing.assert_array_equal(np.isnan(got.real), np.isnan(np.real(v)))


def test_cached_call_path_reports_a_deleted_input():
    jf = fl.jit(lambda x: x + 1)
    a = xla_bridge.from_numpy(np.ones(4, np.float32))
    jf(a)
    jf(a)
    a.delete()
    with pytest.raises(DeletedArrayError):
        jf(a)
    np.testing.assert_array_equal(np.asarray(jf(xla_bridge.from_numpy(np.ones(4, np.float32)))),
                                  np.full(4, 2.0))


def test_new_shape_dtype_weak_type_or_static_value_retraces():
    calls = []

    def f(x, k):
        calls.append(1)
        return x * k

    jf = fl.jit(f, static_argnums=1)
    jf(rnd(3), 2)
    assert jf.trace_count() == 1
    jf(rnd(3), 2)
    assert (jf.trace_count(), len(calls)) == (1, 1)
    jf(rnd(4), 2)                                 # new shape
    assert (jf.trace_count(), len(calls)) == (2, 2)
    jf(ints(0, 3, 4), 2)                          # new dtype
    assert (jf.trace_count(), len(calls)) == (3, 3)
    jf(rnd(3), 3)                                 # new static value
    assert (jf.trace_count(), len(calls)) == (4, 4)
    jf(1.5, 3)                                    # weak-typed Python scalar
    jf(np.float32(1.5), 3)                        # strong float32 scalar
    assert (jf.trace_count(), len(calls)) == (6, 6)
    jf(2.5, 3)
    jf(rnd(4), 2)
    assert (jf.trace_count(), len(calls)) == (6, 6)


def test_static_argnames_and_keyword_arguments():
    calls = []

    def f(x, *, scale, mode="add"):
        calls.append(mode)
        return x + scale if mode == "add" else x * scale

    jf = fl.jit(f, static_argnames="mode")
    x = rnd(3)
    assert_same(jf(x, scale=2.0, mode="mul"), x * np.float32(2.0))
    jf(x, scale=3.0, mode="mul")    # scale is dynamic: same signature
    assert jf.trace_count() == 1
    jf(x, scale=3.0, mode="add")
    assert jf.trace_count() == 2
    with pytest.raises(ValueError, match="static argument 1 of type list is unhashable"):
        fl.jit(lambda x, s: x, static_argnums=1)(x, [1, 2])  # ValueError, as JAX


def test_pytree_structure_change_retraces():
    jf = fl.jit(lambda d: d["a"] + d["b"])
    jf({"a": rnd(2), "b": rnd(2)})
    jf({"a": rnd(2), "b": rnd(2)})
    assert jf.trace_count() == 1
    jf({"a": rnd(2), "b": rnd(2), "c": rnd(2)})
    assert jf.trace_count() == 2


def test_grad_of_jit_twice_does_not_recompile():
    from functorch_lite.interpreters import ad
    jf = fl.jit(lambda x: fnp.sum(fnp.sin(x) * x))
    g = fl.grad(jf)
    x = rnd(4)
    first = g(x)
    n = _compiles()
    jvp_misses = ad.jvp_program.cache_info().misses
    second = g(rnd(4))
    assert _compiles() == n, "second grad(jit(f)) call compiled again"
    # the jvp of the inner program is memoized (the same Program object comes back, so
    # the transformed programs and their module texts are the same)
    assert ad.jvp_program.cache_info().misses == jvp_misses
    assert jf.trace_count() == 1
    close(first, np.sin(x) + x * np.cos(x))
    assert second.shape == (4,)


@pytest.mark.parametrize("transform", ["vmap", "jvp", "hessian", "vjp"])
def test_other_transformations_of_jit_do_not_recompile(transform):
    jf = fl.jit(lambda x: fnp.sum(fnp.tanh(x) ** 2))
    run = {
        "vmap": lambda x: fl.vmap(jf)(fnp.stack([x, x])),
        "jvp": lambda x: fl.jvp(jf, (x,), (x,)),
        "hessian": lambda x: fl.hessian(jf)(x),
        "vjp": lambda x: fl.vjp(jf, x)[1](np.float32(1.0)),
    }[transform]
    run(rnd(3))
    n = _compiles()
    run(rnd(3))
    assert _compiles() == n
    assert jf.trace_count() == 1


def test_two_jit_objects_of_the_same_function_share_the_executable():
    def f(x):
        return lax.cos(x) * 3.0 - x

    x = rnd(6)
    fl.jit(f)(x)
    n = _compiles()
    second = fl.jit(f)
    assert_same(second(x), fl.jit(f)(x))
    assert second.trace_count() == 1    # traced (its own cache) ...
    assert _compiles() == n             # ... but the XLA executable is reused


def test_jit_inside_jit_traces_the_inner_function_once():
    inner = fl.jit(lambda x: lax.exp(x) + 1)
    outer = fl.jit(lambda x: inner(x) * inner(x + 1))
    x = rnd(3)
    assert_same(outer(x), (np.exp(x) + 1) * (np.exp(x + 1) + 1))
    assert inner.trace_count() == 1
    ir = outer.lower(x).program
    assert "jit_call" in _top_level_primitives(ir)


# ---------------------------------------------------------------------------------------
# 4. CSE / DCE and constants

def _count(program, name):
    return sum(e.primitive.name == name for e in program.eqns)


def test_make_ir_removes_duplicates_and_dead_code():
    def f(x, y):
        a = lax.sin(x) * y
        b = lax.sin(x) * y        # duplicate of a
        unused = lax.exp(x) + 3   # dead
        del unused
        return a + b, lax.cos(y)

    x, y = rnd(3), rnd(3)
    ir = fl.make_ir(f)(x, y)
    typecheck(ir.program)
    assert _count(ir.program, "sin") == 1
    assert _count(ir.program, "mul") == 1
    assert _count(ir.program, "exp") == 0
    assert len(ir.program.eqns) == 4, str(ir)  # sin, mul, add, cos
    lowered = fl.jit(f).lower(x, y)
    assert _count(lowered.program.program, "sin") == 1
    text = lowered.as_text()
    assert "stablehlo.exponential" not in text
    assert text.count("stablehlo.sine") == 1
    assert_same(fl.jit(f)(x, y), f(x, y))


def test_cse_keeps_calls_that_differ_in_params_or_literals():
    def f(x):
        return (lax.reduce_sum(x, (0,)).sum() + lax.reduce_sum(x, (1,)).sum()
                + lax.integer_pow(x, 2).sum() + lax.integer_pow(x, 3).sum()
                + (x + 1.0).sum() + (x + 2.0).sum() + (x + 2.0).sum())

    ir = fl.make_ir(f)(rnd(2, 2))
    assert _count(ir.program, "integer_pow") == 2
    assert _count(ir.program, "reduce_sum") >= 2 + 2  # (0,), (1,) and the per-term .sum()s
    # x + 1.0 and x + 2.0 differ by literal; the two x + 2.0 are merged
    lit_adds = [e for e in ir.program.eqns if e.primitive.name == "add"
                and any(isinstance(a, Literal) for a in e.inputs)]
    assert sorted(float(np.asarray(a.val)) for e in lit_adds for a in e.inputs
                  if isinstance(a, Literal)) == [1.0, 2.0]


def _hand_program():
    """a, b -> (sin(a) + sin(a), ...) with a dead exp and an unused constvar."""
    from functorch_lite.lax.elementwise import add_p, exp_p, mul_p, sin_p
    aval = ShapedArray((3,), F32)
    c1, c2 = Var(aval), Var(aval)
    a, b = Var(aval), Var(aval)
    s1, s2, t, d, e, m1, m2 = (Var(aval) for _ in range(7))
    eqns = [
        Eqn(sin_p, [a], [s1], {}),
        Eqn(sin_p, [a], [s2], {}),           # duplicate of s1
        Eqn(add_p, [s1, s2], [t], {}),
        Eqn(exp_p, [b], [d], {}),            # dead
        Eqn(mul_p, [t, c1], [m1], {}),
        Eqn(mul_p, [t, c1], [m2], {}),       # duplicate of m1 (after renaming s2 -> s1)
        Eqn(add_p, [m1, m2], [e], {}),
    ]
    return Program([c1, c2], [a, b], eqns, [e, t]), [np.ones(3, F32), np.zeros(3, F32)]


def test_cse_unit():
    program, consts = _hand_program()
    out = passes.cse(program)
    typecheck(out)
    names = [e.primitive.name for e in out.eqns]
    assert names == ["sin", "add", "exp", "mul", "add"]
    add1 = out.eqns[1]
    assert add1.inputs[0] is add1.inputs[1] is out.eqns[0].outputs[0]
    last = out.eqns[-1]
    assert last.inputs[0] is last.inputs[1]
    assert out.outvars[1] is add1.outputs[0]
    # inputs untouched (programs are immutable)
    assert len(program.eqns) == 7
    # same values
    a, b = rnd(3), rnd(3)
    before = ClosedProgram(program, consts)(a, b)
    after = ClosedProgram(out, consts)(a, b)
    for x, y in zip(before, after):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-6)


def test_cse_renames_outputs_that_are_duplicates():
    from functorch_lite.lax.elementwise import cos_p
    aval = ShapedArray((2,), F32)
    a, c1, c2 = Var(aval), Var(aval), Var(aval)
    p = Program([], [a], [Eqn(cos_p, [a], [c1], {}), Eqn(cos_p, [a], [c2], {})], [c1, c2])
    out = passes.cse(p)
    assert len(out.eqns) == 1
    assert out.outvars[0] is out.outvars[1] is out.eqns[0].outputs[0]


def test_cse_literal_keys_distinguish_value_and_type():
    from functorch_lite.lax.elementwise import add_p
    aval = ShapedArray((), F32)
    weak = ShapedArray((), F32, weak_type=True)
    x = Var(aval)
    outs = [Var(aval) for _ in range(4)]
    eqns = [Eqn(add_p, [x, Literal(0.0, weak)], [outs[0]], {}),
            Eqn(add_p, [x, Literal(-0.0, weak)], [outs[1]], {}),   # -0.0 is another value
            Eqn(add_p, [x, Literal(np.float32(0.0), aval)], [outs[2]], {}),  # other type
            Eqn(add_p, [x, Literal(0.0, weak)], [outs[3]], {})]    # same as the first
    out = passes.cse(Program([], [x], eqns, outs))
    assert len(out.eqns) == 3
    assert out.outvars[3] is out.outvars[0]


def test_cse_skips_unhashable_params():
    from functorch_lite.lax.elementwise import sin_p
    aval = ShapedArray((2,), F32)
    a, o1, o2 = Var(aval), Var(aval), Var(aval)
    p = Program([], [a], [Eqn(sin_p, [a], [o1], {"junk": [1]}),
                          Eqn(sin_p, [a], [o2], {"junk": [1]})], [o1, o2])
    assert len(passes.cse(p).eqns) == 2


def test_dce_unit():
    program, consts = _hand_program()
    out, new_consts = passes.dce(program, consts)
    typecheck(out)
    assert [e.primitive.name for e in out.eqns] == ["sin", "sin", "add", "mul", "mul", "add"]
    assert out.constvars == [program.constvars[0]]     # c2 was never read
    assert len(new_consts) == 1 and new_consts[0] is consts[0]
    assert out.invars == program.invars                # inputs are never dropped
    # dce with no outputs keeps nothing
    empty, _ = passes.dce(Program([], program.invars, program.eqns, []), [])
    assert empty.eqns == []


def test_simplify_is_cse_then_dce():
    program, consts = _hand_program()
    closed = passes.simplify(ClosedProgram(program, consts))
    typecheck(closed.program)
    assert [e.primitive.name for e in closed.program.eqns] == ["sin", "add", "mul", "add"]
    assert len(closed.consts) == 1
    a, b = rnd(3), rnd(3)
    for x, y in zip(ClosedProgram(program, consts)(a, b), closed(a, b)):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-6)


def test_dce_keeps_every_output_of_a_multiple_results_equation():
    x = rnd(5)
    ir = fl.make_ir(lambda x: lax.top_k(x, 2)[1])(x)   # values output unused
    typecheck(ir.program)
    assert _count(ir.program, "top_k") == 1
    assert len(ir.program.eqns[0].outputs) == 2
    assert_same(fl.jit(lambda x: lax.top_k(x, 2)[1])(x), lax.top_k(x, 2)[1])


def test_closed_over_array_becomes_a_constvar_not_a_literal():
    big = np.arange(10_000, dtype=np.float32)

    def f(x):
        return x + big

    ir = fl.make_ir(f)(np.float32(1))
    assert len(ir.program.constvars) == 1
    assert ir.program.constvars[0].aval.shape == (10_000,)
    assert ir.consts[0] is big
    jf = fl.jit(f)
    text = jf.lower(np.float32(1)).as_text()
    assert len(text) < 2000, "the 40 kB constant was embedded in the module text"
    assert "tensor<10000xf32>" in text.split("->")[0]  # an argument of main
    assert_same(jf(np.float32(1)), big + np.float32(1))
    jf(np.float32(2))
    assert jf.trace_count() == 1


def test_scalar_constants_become_literals():
    ir = fl.make_ir(lambda x: x * 2.0 + np.float32(3))(rnd(3))
    assert ir.program.constvars == []
    lits = [a for e in ir.program.eqns for a in e.inputs if isinstance(a, Literal)]
    assert len(lits) == 2


def test_zero_d_array_constants_become_literals():
    # As JAX: 0-d arrays (a device scalar closed over, fnp.asarray of a NumPy scalar, which
    # stages a device_put of a 0-d array) are literals, so XLA folds them instead of taking
    # them as arguments; bfloat16 keeps its type, float0 stays a constvar.
    dev = fnp.asarray(2.5, fnp.bfloat16)

    def f(x):
        scale = fnp.asarray(np.sqrt(32.0), fnp.float32)
        return x / scale + dev.astype(fnp.float32)

    x = rnd(3)
    ir = fl.make_ir(f)(x)
    assert ir.program.constvars == []
    lits = [a for e in ir.program.eqns for a in e.inputs if isinstance(a, Literal)]
    assert {str(a.aval.dtype) for a in lits} == {"float32", "bfloat16"}
    assert "tensor<f32>" not in fl.jit(f).lower(x).as_text().split("->")[0]
    expected = np.asarray(x) / np.float32(np.sqrt(32.0)) + np.float32(2.5)
    np.testing.assert_allclose(np.asarray(fl.jit(f)(x)), expected, rtol=1e-6)
    zero = np.zeros((), fl.dtypes.float0)
    assert len(fl.make_ir(lambda x: (x, zero))(x).program.constvars) == 1


def test_closed_over_numpy_constant_is_baked_at_trace_time():
    c = np.ones(3, np.float32)
    f = fl.jit(lambda x: x + c)
    x = np.zeros(3, np.float32)
    np.testing.assert_array_equal(np.asarray(f(x)), np.ones(3))
    c[:] = 5.0
    # JAX gives [1, 1, 1] here too (jax.jit(lambda x: x + c) after c[:] = 5)
    np.testing.assert_array_equal(np.asarray(f(x)), np.ones(3))


# ---------------------------------------------------------------------------------------
# 5. Donation

def test_donated_input_is_deleted_and_use_names_donation():
    f = fl.jit(lambda x, y: x * 2 + y, donate_argnums=0)
    a = xla_bridge.from_numpy(np.ones(4, np.float32))
    b = xla_bridge.from_numpy(np.full(4, 3.0, np.float32))
    out = f(a, b)
    np.testing.assert_array_equal(np.asarray(out), np.full(4, 5.0))
    assert a.is_deleted()
    assert not b.is_deleted()
    np.testing.assert_array_equal(np.asarray(b), np.full(4, 3.0))
    assert "deleted" in repr(a)
    with pytest.raises(DeletedArrayError, match="donated"):
        np.asarray(a)
    with pytest.raises(DeletedArrayError, match="donated"):
        a + 1
    with pytest.raises(DeletedArrayError, match="donated"):
        f(a, b)
    # the output is independent of the deleted donor
    np.testing.assert_array_equal(np.asarray(out + 1), np.full(4, 6.0))


def test_donating_only_the_second_argument():
    f = fl.jit(lambda x, y: x + y, donate_argnums=(1,))
    a = xla_bridge.from_numpy(np.ones(4, np.float32))
    b = xla_bridge.from_numpy(np.ones(4, np.float32))
    f(a, b)
    assert b.is_deleted() and not a.is_deleted()


def test_donation_that_no_output_can_use_leaves_the_input_alone():
    # JAX (CPU) behaves the same: the buffer is only given up when an output reuses it
    f = fl.jit(lambda x: x.sum(), donate_argnums=0)
    a = xla_bridge.from_numpy(np.ones(4, np.float32))
    assert float(f(a)) == 4.0
    assert not a.is_deleted()
    np.testing.assert_array_equal(np.asarray(a), np.ones(4))


def test_donating_python_scalars_and_numpy_arrays_is_harmless():
    f = fl.jit(lambda x, y: x - y, donate_argnums=(0, 1))
    host = np.arange(4, dtype=np.float32)
    out = f(host, 1.0)
    np.testing.assert_array_equal(np.asarray(out), host - 1)
    np.testing.assert_array_equal(host, np.arange(4, dtype=np.float32))  # untouched
    out2 = f(host, 1.0)
    np.testing.assert_array_equal(np.asarray(out2), host - 1)


def test_donation_with_pytree_argument_and_under_grad():
    f = fl.jit(lambda p, x: p["w"] * x + p["b"], donate_argnums=0)
    p = {"w": xla_bridge.from_numpy(np.full(3, 2.0, np.float32)),
         "b": xla_bridge.from_numpy(np.ones(3, np.float32))}
    x = xla_bridge.from_numpy(np.ones(3, np.float32))
    f(p, x)
    # one f32[3] output can reuse one of the two donated f32[3] buffers; as in JAX, a
    # donated buffer that no output can use is left alone (and stays readable)
    assert [p["w"].is_deleted(), p["b"].is_deleted()].count(True) == 1
    assert not x.is_deleted()
    kept = p["w"] if not p["w"].is_deleted() else p["b"]
    assert np.asarray(kept).shape == (3,)
    # under a transformation nothing is donated (the tracers have no buffers)
    g = fl.jit(lambda x: fnp.sum(x * x), donate_argnums=0)
    y = xla_bridge.from_numpy(np.arange(3, dtype=np.float32))
    close(fl.grad(g)(y), 2 * np.arange(3))
    assert not y.is_deleted()


def test_donation_on_the_cached_call_path_and_beside_a_plain_wrapper():
    # a training-loop shape: a NamedTuple state and dict params, called many times; every
    # call (the cached ones too) donates, and a non-donating jit of the same function,
    # which shares its traces, donates nothing
    import collections
    State = collections.namedtuple("State", "count mu")

    def step(p, s, x):
        return {"w": p["w"] - x}, State(s.count + 1, s.mu * 0.5 + x)

    donating = fl.jit(step, donate_argnums=(0, 1))
    plain = fl.jit(step)
    p = {"w": xla_bridge.from_numpy(np.ones(3, np.float32))}
    s = State(xla_bridge.from_numpy(np.int32(0)), xla_bridge.from_numpy(np.ones(3, np.float32)))
    x = xla_bridge.from_numpy(np.full(3, 0.5, np.float32))
    for _ in range(3):
        old_w = p["w"]
        p, s = donating(p, s, x)
        assert old_w.is_deleted()
    assert int(s.count) == 3
    np.testing.assert_allclose(np.asarray(p["w"]), np.full(3, -0.5))
    p2, s2 = plain(p, s, x)
    assert not p["w"].is_deleted() and not s.mu.is_deleted()
    assert int(s2.count) == 4 and donating.trace_count() == 1
    with pytest.raises(DeletedArrayError, match="donated"):
        donating({"w": old_w}, s, x)


# ---------------------------------------------------------------------------------------
# 7. Ahead-of-time: lower / compile

def test_lower_compile_cost_and_memory_analysis():
    m, k, n = 8, 16, 4
    jf = fl.jit(lambda a, b: fnp.dot(a, b))
    a, b = rnd(m, k), rnd(k, n)
    lowered = jf.lower(a, b)
    text = lowered.as_text()
    assert text.startswith("module @")
    assert "stablehlo.dot_general" in text
    assert "tensor<8x16xf32>" in text and "tensor<8x4xf32>" in text
    compiled = lowered.compile()
    cost = compiled.cost_analysis()
    assert cost["flops"] == pytest.approx(2 * m * n * k, rel=0.1)
    mem = compiled.memory_analysis()
    assert mem.argument_size_in_bytes == (m * k + k * n) * 4
    assert mem.output_size_in_bytes == m * n * 4
    out = compiled(a, b)
    close(out, a @ b)
    assert isinstance(compiled.as_text(), str)
    # lowering does not trace again
    assert jf.trace_count() == 1
    jf(a, b)
    assert jf.trace_count() == 1


def test_compiled_with_pytree_output_and_constants():
    c = rnd(3)
    jf = fl.jit(lambda x: {"s": x + c, "p": x * c})
    x = rnd(3)
    out = jf.lower(x).compile()(x)
    close(out["s"], x + c)
    close(out["p"], x * c)


def test_compiled_takes_only_the_dynamic_arguments():
    jf = fl.jit(lambda x, n: x * n, static_argnums=1)
    x = rnd(3)
    compiled = jf.lower(x, 2).compile()
    close(compiled(x), x * 2)


@pytest.mark.parametrize("bad", ["dtype", "shape", "count"])
def test_compiled_rejects_arguments_of_another_signature(bad):
    jf = fl.jit(lambda x: x * 2.0)
    compiled = jf.lower(np.ones(3, np.float32)).compile()
    args = {"dtype": (np.ones(3, np.int32),), "shape": (np.ones(4, np.float32),),
            "count": ()}[bad]
    with pytest.raises(TypeError):
        compiled(*args)


# ---------------------------------------------------------------------------------------
# 8. log_compiles

@pytest.fixture
def log_compiles():
    old = config.log_compiles
    config.update("log_compiles", True)
    try:
        yield
    finally:
        config.update("log_compiles", old)


def test_log_compiles_names_the_function_and_what_changed(log_compiles, caplog):
    def my_special_fn(x, n):
        return x * n

    jf = fl.jit(my_special_fn, static_argnums=1)
    with caplog.at_level(logging.WARNING, logger="functorch_lite"):
        jf(rnd(3), 2)
        jf(rnd(3), 2)
        first = [r.getMessage() for r in caplog.records if "my_special_fn" in r.getMessage()]
        caplog.clear()
        jf(rnd(5), 2)
        shape_msgs = [r.getMessage() for r in caplog.records]
        caplog.clear()
        jf(rnd(5), 3)
        static_msgs = [r.getMessage() for r in caplog.records]
        caplog.clear()
        jf(ints(0, 3, 5), 3)
        dtype_msgs = [r.getMessage() for r in caplog.records]
    assert any("Compiling my_special_fn" in m and "first call" in m for m in first), first
    assert sum("Compiling my_special_fn" in m for m in first) == 1   # not on the 2nd call
    assert any("my_special_fn" in m and "f32[3] -> f32[5]" in m for m in shape_msgs), \
        shape_msgs
    assert any("my_special_fn" in m and "static arguments" in m for m in static_msgs), \
        static_msgs
    assert any("f32[5] -> i32[5]" in m for m in dtype_msgs), dtype_msgs
    # the XLA compilation itself is logged with the name too
    assert any("XLA compile of my_special_fn" in m for m in shape_msgs), shape_msgs


def test_log_compiles_reports_weak_type_change(log_compiles, caplog):
    jf = fl.jit(lambda x: x + 1)
    with caplog.at_level(logging.WARNING, logger="functorch_lite"):
        jf(np.float32(1.0))
        caplog.clear()
        jf(1.0)
    assert any("weak type" in r.getMessage() for r in caplog.records), caplog.records


def test_no_log_when_disabled(caplog):
    assert not config.log_compiles
    with caplog.at_level(logging.WARNING, logger="functorch_lite"):
        fl.jit(lambda x: x - 7)(rnd(2))
    assert not [r for r in caplog.records if "Compiling" in r.getMessage()]


# ---------------------------------------------------------------------------------------
# Misc. API behaviour

def test_jit_errors_and_wrapping():
    with pytest.raises(TypeError, match="jit expects a callable"):
        fl.jit(3)

    def documented(x):
        """Docs."""
        return x

    jf = fl.jit(documented)
    assert jf.__name__ == "documented" and jf.__doc__ == "Docs."
    assert "documented" in repr(jf)
    with pytest.raises(TypeError, match="argument .* of type str is not a valid array"):
        jf("hello")

    @fl.jit
    def no_args():
        return lax.iota(np.int32, 4)

    np.testing.assert_array_equal(np.asarray(no_args()), np.arange(4))


def test_jit_weak_types_and_trivial_outputs_match_eager_and_jax():
    for x in (1.0, 3, True):
        got, want = fl.jit(lambda x: x * 2)(x), jax.jit(lambda x: x * 2)(x)
        assert got.weak_type == want.weak_type
        assert np.asarray(got).dtype == np.asarray(want).dtype
    x = rnd(3)
    c = rnd(2)
    assert_same(fl.jit(lambda x: x)(x), xla_bridge.from_numpy(x))
    out = fl.jit(lambda x: (x, x, c, 1.5))(x)
    np.testing.assert_array_equal(np.asarray(out[0]), x)
    np.testing.assert_array_equal(np.asarray(out[2]), c)
    assert float(out[3]) == 1.5 and out[3].weak_type
    assert fl.jit(lambda x: None)(x) is None
    assert fl.jit(lambda x: x.sum())(np.zeros((0, 3), np.float32)).shape == ()


def test_jit_decorator_with_options_and_methods():
    @fl.jit(static_argnums=(1,))
    def rep(x, n):
        return fnp.concatenate([x] * n)

    assert rep(rnd(2), 3).shape == (6,)

    class M:
        def __init__(self, s):
            self.s = s

        @fl.jit(static_argnums=0)
        def scaled(self, x):
            return x * 2.0

    np.testing.assert_allclose(np.asarray(M(1).scaled(np.ones(2, np.float32))), [2.0, 2.0])


def test_debug_nans_names_the_computation_and_costs_nothing_when_off():
    """config.update("debug_nans", True): a NaN in an inexact output raises
    FloatingPointError naming the jitted function, eager op or compiled ufunc, on the
    cached-call path too; integer outputs and NaN-free results pass; off again, NaNs
    flow silently (as JAX)."""
    x = xla_bridge.from_numpy(np.array([1.0, -1.0], np.float32))
    ok = xla_bridge.from_numpy(np.array([1.0, 4.0], np.float32))
    jf = fl.jit(lambda a: fnp.sqrt(a) * 2)
    jf(ok)
    jf(ok)  # an entry on the cached-call path, which must not skip the check
    try:
        config.update("debug_nans", True)
        for fn, name in [(lambda: jf(x), "jit(<lambda>)"), (lambda: fnp.log(x), "log"),
                         (lambda: lax.log(x), "log"), (lambda: fnp.sum(fnp.log(x)), "log"),
                         (lambda: fl.grad(lambda a: fnp.sum(fnp.sqrt(a)))(x), "sqrt")]:
            with pytest.raises(FloatingPointError, match=f"invalid value \\(nan\\) encountered "
                                                         f"in .*{re.escape(name)}"):
                fn()
        np.testing.assert_array_equal(np.asarray(jf(ok)), [2.0, 4.0])
        assert int(fl.jit(lambda a: fnp.argmax(a))(x)) == 0
    finally:
        config.update("debug_nans", False)
    assert np.isnan(np.asarray(jf(x))[1])
