"""Tests of the elementwise primitives (functorch_lite/lax/elementwise.py).

Table-driven: each primitive has one row giving its lax function, a NumPy/SciPy reference,
the dtypes it accepts, the input domain its reference is valid on and a tolerance factor.
Every row is checked

* eagerly against the reference, over hypothesis-drawn shapes (rank 0..3, size-0 dims, from
  a small pool since every new shape/dtype compiles an executable) and dtypes;
* abstractly against ``jax.eval_shape`` of the matching ``jax.lax`` function: shape, dtype
  and weak_type for strong and weak inputs (no compilation);
* staged with ``trace_to_program`` and re-typechecked.

Integer results are compared exactly; integer div/rem, shifts by out-of-range amounts and
convert_element_type between all pairs of dtypes are compared with ``jax.lax`` on the same
inputs.
"""
from __future__ import annotations

import re
import warnings
from typing import Callable, NamedTuple

import jax
import ml_dtypes
import numpy as np
import pytest
import scipy.special
from hypothesis import given, settings
from hypothesis import strategies as st

import xla_bridge
from functorch_lite import lax
from functorch_lite.core import dtypes
from functorch_lite.core.avals import ShapedArray
from functorch_lite.core.ir import typecheck
from functorch_lite.core.primitive import Primitive
from functorch_lite.interpreters.staging import trace_to_program
from functorch_lite.lax import elementwise as ew

BOOL, I8, U8, I32, U32 = (np.dtype(t) for t in (np.bool_, np.int8, np.uint8, np.int32,
                                                 np.uint32))
F16, BF16, F32, C64 = (np.dtype(t) for t in (np.float16, ml_dtypes.bfloat16, np.float32,
                                             np.complex64))
FLOATS = (F32, F16, BF16)
FC = FLOATS + (C64,)
INTS = (I8, U8, I32, U32)
NUM = INTS + FC
ALL = (BOOL,) + NUM
BI = (BOOL,) + INTS
REALS = BI + FLOATS  # ordered types (no complex)
CONVERT_DTYPES = (BOOL, I8, U8, I32, U32, F16, BF16, F32, C64)

# Shapes are drawn from a small pool: rank 0..3, with size-0 dimensions.
SHAPES = [(), (0,), (4,), (2, 3), (3, 0), (2, 1, 3)]
EXAMPLES = 3  # per-row hypothesis examples, beyond the every-dtype sweep


def dtype_id(dt) -> str:
    return np.dtype(dt).name


def is_float(dt) -> bool:
    return dtypes.is_float(dt)


# ---------------------------------------------------------------------------------------
# inputs

def _real_values(rng, domain: str, shape) -> np.ndarray:
    u = lambda lo, hi: rng.uniform(lo, hi, size=shape)  # noqa: E731
    if domain == "any":
        v = u(-5, 5)
    elif domain == "small":
        v = u(-3, 3)
    elif domain == "pos":
        v = u(0.1, 5)
    elif domain == "unit":  # asin, acos, atanh, erf_inv
        v = u(-0.95, 0.95)
    elif domain == "ge1":  # acosh
        v = u(1.1, 5)
    elif domain == "gtm1":  # log1p
        v = u(-0.9, 5)
    elif domain == "tan":
        v = u(-1.2, 1.2)
    elif domain == "halves":  # exercises ties of round/floor/ceil
        v = np.where(rng.random(shape) < 0.6, rng.integers(-10, 11, shape) / 2, u(-5, 5))
    elif domain == "special":
        v = u(-5, 5)
        special = rng.choice(np.array([np.nan, np.inf, -np.inf, 0.0, -0.0]), size=shape)
        v = np.where(rng.random(shape) < 0.4, special, v)
    elif domain == "nonzero":
        v = rng.choice([-1.0, 1.0], size=shape) * u(0.5, 5)
    elif domain == "ties":  # few distinct values (ties in comparisons), some NaN
        v = rng.integers(-2, 3, shape).astype(np.float64)
    elif domain == "exponent":
        v = u(-2, 2)
    elif domain == "cast":  # non-negative, exactly representable in bf16 and every int type
        v = rng.integers(0, 128, shape) / 4
    else:
        raise ValueError(domain)
    return np.asarray(v, np.float64).reshape(shape)


def gen(rng, domain: str, dtype, shape) -> np.ndarray:
    """An input array of ``dtype`` and ``shape`` inside ``domain``."""
    dt = np.dtype(dtype)
    if dt == BOOL:
        return np.asarray(rng.random(shape) < 0.5).reshape(shape)
    if dt.kind in "iu":
        info = np.iinfo(dt)
        if domain == "shift":
            v = rng.integers(0, info.bits, shape)
        elif domain == "nonzero":
            v = rng.integers(1, 21, shape)
            if dt.kind == "i":
                v = v * rng.choice([-1, 1], size=shape)
        elif domain == "ties":
            v = rng.integers(0 if dt.kind == "u" else -2, 3, shape)
        elif domain == "small":
            v = rng.integers(0 if dt.kind == "u" else -20, 21, shape)
        else:  # the full range: integer arithmetic wraps around
            v = rng.integers(info.min, info.max, size=shape, dtype=dt, endpoint=True)
        return np.asarray(v).astype(dt).reshape(shape)
    re = _real_values(rng, domain, shape)
    if domain == "ties" and dt.kind == "f":  # NaN compares unordered (complex NaN: no order)
        re = np.where(rng.random(shape) < 0.1, np.nan, re)
    if dt.kind == "c":
        if domain == "ties":
            im = rng.integers(-1, 2, shape).astype(np.float64)
        else:
            im = rng.uniform(-0.5, 0.5, size=shape)
        return np.asarray(re + 1j * im).astype(dt).reshape(shape)
    return re.astype(dt)


def upcast(x: np.ndarray) -> np.ndarray:
    """The precision the references compute in: float64/complex128 for inexact inputs, the
    input's own dtype (wrapping around) for integers and bools."""
    if is_float(x.dtype):
        return x.astype(np.float64)
    if x.dtype.kind == "c":
        return x.astype(np.complex128)
    return x


_BASE_TOL = {F32: 2e-6, C64: 2e-6, F16: 1e-3, BF16: 8e-3}


def check_values(out, expected: np.ndarray, out_dtype, tol: float = 1.0):
    got = np.asarray(out)
    assert got.dtype == out_dtype, (got.dtype, out_dtype)
    assert got.shape == expected.shape, (got.shape, expected.shape)
    if dtypes.is_inexact(out_dtype):
        t = _BASE_TOL[np.dtype(out_dtype)] * tol
        wide = np.complex128 if got.dtype.kind == "c" else np.float64
        np.testing.assert_allclose(got.astype(wide), np.asarray(expected).astype(wide),
                                   rtol=t, atol=t)
    else:
        np.testing.assert_array_equal(got, np.asarray(expected).astype(out_dtype))


def maybe_device(x: np.ndarray, flag: bool):
    """Pass either the NumPy array or an xla_bridge.Array holding it."""
    return xla_bridge.from_numpy(x) if flag else x


# ---------------------------------------------------------------------------------------
# references

def _sign(x):
    if x.dtype.kind == "c":
        mag = np.abs(x)
        return np.where(mag == 0, 0, x / np.where(mag == 0, 1, mag))
    return np.sign(x)


def _round_afz(x):
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def _popcount(x):
    unsigned = x.view(np.dtype(f"u{x.dtype.itemsize}"))
    return np.bitwise_count(unsigned)


def _as_signed(x):
    return x.view(np.dtype(f"i{x.dtype.itemsize}"))


def _as_unsigned(x):
    return x.view(np.dtype(f"u{x.dtype.itemsize}"))


def _shift_right_arithmetic(x, y):
    return np.right_shift(_as_signed(x), _as_signed(y)).view(x.dtype)


def _shift_right_logical(x, y):
    return np.right_shift(_as_unsigned(x), _as_unsigned(y)).view(x.dtype)


def _c_div(x, y):
    """Integer division rounding toward zero (C), wrapping like the fixed-width dtype."""
    if x.dtype.kind not in "iu":
        return np.divide(x, y)
    a, b = x.astype(np.int64), y.astype(np.int64)
    q = (np.abs(a) // np.abs(b)) * np.sign(a) * np.sign(b)
    return q.astype(x.dtype)


def _c_rem(x, y):
    """Remainder with the sign of the dividend (C's % and fmod)."""
    if x.dtype.kind not in "iu":
        return np.fmod(x, y)
    a, b = x.astype(np.int64), y.astype(np.int64)
    q = (np.abs(a) // np.abs(b)) * np.sign(a) * np.sign(b)
    return (a - q * b).astype(x.dtype)


# ---------------------------------------------------------------------------------------
# the tables

class Op(NamedTuple):
    fn: str                  # functorch_lite.lax (and jax.lax) function name
    prim: str                # primitive name, as printed in programs
    ref: Callable            # NumPy/SciPy reference, on ``upcast`` inputs
    dtypes: tuple            # dtypes the primitive accepts
    domain: str | tuple      # input domain (one per operand for binary ops)
    tol: float = 1.0         # tolerance factor over _BASE_TOL
    out: str | None = None   # None: same dtype as input; "real": complex -> float; "bool"
    params: dict = {}        # extra keyword arguments of the lax function
    exact_ref: bool = False  # the reference runs in the input dtype (not upcast)

    @property
    def id(self) -> str:
        return self.fn + "".join(f"-{k}={v}" for k, v in self.params.items())

    def out_dtype(self, dt):
        dt = np.dtype(dt)
        if self.out == "bool":
            return BOOL
        if self.out == "real" and dt == C64:
            return F32
        return dt


AFZ, EVEN = lax.RoundingMethod.AWAY_FROM_ZERO, lax.RoundingMethod.TO_NEAREST_EVEN

UNARY = [
    Op("neg", "neg", np.negative, NUM, "any"),
    Op("abs", "abs", np.abs, NUM, "any", out="real"),
    Op("sign", "sign", _sign, NUM, "any"),
    Op("floor", "floor", np.floor, FLOATS, "halves"),
    Op("ceil", "ceil", np.ceil, FLOATS, "halves"),
    Op("round", "round", _round_afz, FLOATS, "halves", params={"rounding_method": AFZ}),
    Op("round", "round", np.round, FLOATS, "halves", params={"rounding_method": EVEN}),
    Op("is_finite", "is_finite", np.isfinite, FLOATS, "special", out="bool"),
    Op("exp", "exp", np.exp, FC, "small", tol=2),
    Op("exp2", "exp2", np.exp2, FC, "small", tol=4),
    Op("log", "log", np.log, FC, "pos"),
    Op("log1p", "log1p", np.log1p, FC, "gtm1", tol=2),
    Op("expm1", "expm1", np.expm1, FC, "small", tol=2),
    Op("sqrt", "sqrt", np.sqrt, FC, "pos"),
    Op("rsqrt", "rsqrt", lambda x: 1 / np.sqrt(x), FC, "pos", tol=2),
    Op("cbrt", "cbrt", np.cbrt, FLOATS, "any"),
    Op("sin", "sin", np.sin, FC, "small", tol=2),
    Op("cos", "cos", np.cos, FC, "small", tol=2),
    Op("tan", "tan", np.tan, FC, "tan", tol=4),
    Op("asin", "asin", np.arcsin, FC, "unit", tol=2),
    Op("acos", "acos", np.arccos, FC, "unit", tol=2),
    Op("atan", "atan", np.arctan, FC, "small", tol=2),
    Op("sinh", "sinh", np.sinh, FC, "small", tol=2),
    Op("cosh", "cosh", np.cosh, FC, "small", tol=2),
    Op("tanh", "tanh", np.tanh, FC, "small", tol=2),
    Op("asinh", "asinh", np.arcsinh, FC, "small", tol=2),
    Op("acosh", "acosh", np.arccosh, FC, "ge1", tol=2),
    Op("atanh", "atanh", np.arctanh, FC, "unit", tol=4),
    Op("logistic", "logistic", lambda x: 1 / (1 + np.exp(-x)), FC, "small", tol=2),
    Op("erf", "erf", scipy.special.erf, FLOATS, "small", tol=2),
    Op("erfc", "erfc", scipy.special.erfc, FLOATS, "small", tol=4),
    Op("erf_inv", "erf_inv", scipy.special.erfinv, FLOATS, "unit", tol=8),
    Op("lgamma", "lgamma", scipy.special.gammaln, FLOATS, "pos", tol=8),
    Op("digamma", "digamma", scipy.special.psi, FLOATS, "pos", tol=8),
    Op("bitwise_not", "not", np.invert, BI, "any"),
    Op("population_count", "population_count", _popcount, INTS, "any"),
    Op("real", "real", np.real, (C64,), "any", out="real"),
    Op("imag", "imag", np.imag, (C64,), "any", out="real"),
    Op("conj", "conj", np.conj, (C64,), "any"),
]

BINARY = [
    Op("add", "add", np.add, NUM, ("any", "any")),
    Op("sub", "sub", np.subtract, NUM, ("any", "any")),
    Op("mul", "mul", np.multiply, NUM, ("any", "any")),
    Op("div", "div", _c_div, NUM, ("any", "nonzero"), tol=2),
    Op("rem", "rem", _c_rem, INTS + FLOATS, ("any", "nonzero"), tol=4),
    Op("pow", "pow", np.power, FC, ("pos", "exponent"), tol=8),
    Op("max", "max", np.maximum, ALL, ("ties", "ties")),
    Op("min", "min", np.minimum, ALL, ("ties", "ties")),
    Op("atan2", "atan2", np.arctan2, FLOATS, ("any", "any"), tol=2),
    Op("nextafter", "nextafter", np.nextafter, FLOATS, ("ties", "ties"), exact_ref=True),
    Op("bitwise_and", "and", np.bitwise_and, BI, ("any", "any")),
    Op("bitwise_or", "or", np.bitwise_or, BI, ("any", "any")),
    Op("bitwise_xor", "xor", np.bitwise_xor, BI, ("any", "any")),
    Op("shift_left", "shift_left", np.left_shift, INTS, ("any", "shift")),
    Op("shift_right_arithmetic", "shift_right_arithmetic", _shift_right_arithmetic, INTS,
       ("any", "shift")),
    Op("shift_right_logical", "shift_right_logical", _shift_right_logical, INTS,
       ("any", "shift")),
    Op("eq", "eq", np.equal, ALL, ("ties", "ties"), out="bool"),
    Op("ne", "ne", np.not_equal, ALL, ("ties", "ties"), out="bool"),
    Op("lt", "lt", np.less, REALS, ("ties", "ties"), out="bool"),
    Op("le", "le", np.less_equal, REALS, ("ties", "ties"), out="bool"),
    Op("gt", "gt", np.greater, REALS, ("ties", "ties"), out="bool"),
    Op("ge", "ge", np.greater_equal, REALS, ("ties", "ties"), out="bool"),
    Op("complex", "complex", lambda x, y: x + 1j * y, (F32,), ("any", "any")),
]

# Where our dtype acceptance deliberately differs from jax.lax: (function, dtype) pairs that
# functorch_lite accepts and jax.lax rejects.
ACCEPTED_BEYOND_JAX = {("abs", U8), ("abs", U32)}
# ... and the pairs jax.lax accepts that functorch_lite rejects (conj of a real array makes
# it complex in jax; atan2 of complex numbers).
REJECTED_BEYOND_JAX = {("conj", d) for d in FLOATS} | {("atan2", C64)}


def _lax_fn(row: Op):
    f = getattr(lax, row.fn)
    return (lambda *a: f(*a, **row.params)) if row.params else f


def _jax_fn(row: Op):
    f = getattr(jax.lax, row.fn)
    if row.fn == "round":
        return lambda x: f(x, jax.lax.RoundingMethod(row.params["rounding_method"]))
    return f


def _ref(row: Op, *xs):
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(row.ref(*(xs if row.exact_ref else [upcast(x) for x in xs])))


def _sds(shape, dtype, weak=False):
    return jax.ShapeDtypeStruct(shape, np.dtype(dtype), weak_type=weak)


def _jax_aval(fn, *avals: ShapedArray):
    """jax's output (shape, dtype, weak_type) for ``avals``; bool is never weak here."""
    out = jax.eval_shape(fn, *[_sds(a.shape, a.dtype, a.weak_type) for a in avals])
    return ShapedArray(out.shape, out.dtype, out.weak_type and out.dtype != BOOL)


# ---------------------------------------------------------------------------------------
# unary primitives

def _rotated_shapes(i):
    """The pool starting where the every-dtype sweep starts for row ``i``, so hypothesis's
    first (simplest) example reuses the sweep's executable instead of compiling another."""
    return SHAPES[i % len(SHAPES):] + SHAPES[:i % len(SHAPES)]


def _check_unary(row, dt, shape, seed, on_device):
    x = gen(np.random.default_rng(seed), row.domain, dt, shape)
    out = _lax_fn(row)(maybe_device(x, on_device))
    assert isinstance(out, xla_bridge.Array)
    assert out.shape == shape and out.dtype == row.out_dtype(dt) and out.weak_type is False
    check_values(out, _ref(row, x), row.out_dtype(dt), row.tol)


@pytest.mark.parametrize("i", range(len(UNARY)), ids=[r.id for r in UNARY])
def test_unary_every_dtype(i):
    """Each accepted dtype once (a new executable each), the shapes cycling over the pool."""
    row = UNARY[i]
    for j, dt in enumerate(row.dtypes):
        _check_unary(row, dt, SHAPES[(i + j) % len(SHAPES)], seed=i, on_device=j % 2 == 0)


@pytest.mark.parametrize("row", UNARY, ids=lambda r: r.id)
@settings(max_examples=EXAMPLES)
@given(data=st.data())
def test_unary_matches_reference(row, data):
    _check_unary(row, data.draw(st.sampled_from(row.dtypes), label="dtype"),
                 data.draw(st.sampled_from(_rotated_shapes(UNARY.index(row))), label="shape"),
                 data.draw(st.integers(0, 2**32 - 1), label="seed"),
                 data.draw(st.booleans(), label="on_device"))


@pytest.mark.parametrize("row", UNARY, ids=lambda r: r.id)
def test_unary_types_match_jax(row):
    """Shape, dtype and weak_type of every accepted dtype, strong and weak, as jax.lax."""
    f = _lax_fn(row)
    for dt in row.dtypes:
        for shape, weak in [((), False), ((), True), ((2, 0, 3), False)]:
            aval = ShapedArray(shape, dt, weak)
            ours = trace_to_program(lambda x: [f(x)], [aval]).program.outvars[0].aval
            if (row.fn, dt) in ACCEPTED_BEYOND_JAX:
                assert ours == ShapedArray(shape, row.out_dtype(dt), weak)
                continue
            assert ours == _jax_aval(_jax_fn(row), aval), (dt, shape, weak)


def _rejected(dts):
    return [d for d in CONVERT_DTYPES if d not in dts]


@pytest.mark.parametrize("row", UNARY + BINARY, ids=lambda r: r.id)
def test_rejected_dtypes(row):
    """Every dtype outside the row's list is rejected by the shape rule, like jax.lax."""
    f = _lax_fn(row)
    nargs = 2 if row in BINARY else 1
    for dt in _rejected(row.dtypes):
        x = np.zeros((2,), dt)
        name = "complex requires" if row.fn == "complex" else f"{row.prim} does not accept"
        with pytest.raises(TypeError, match=name):
            f(*[x] * nargs)
        if (row.fn, dt) not in REJECTED_BEYOND_JAX:
            with pytest.raises(TypeError):
                jax.eval_shape(_jax_fn(row), *[_sds((2,), dt)] * nargs)


_SCALAR_FOR_DOMAIN = {"any": -1.5, "small": 0.75, "pos": 2.5, "unit": 0.5, "ge1": 1.5,
                      "gtm1": 0.5, "tan": 0.5, "halves": 2.5, "special": 3.25}


@pytest.mark.parametrize("row", [r for r in UNARY if r.fn in {
    "neg", "abs", "round", "is_finite", "exp", "log", "acosh", "erf_inv", "bitwise_not",
    "population_count", "real", "conj"}], ids=lambda r: r.id)
def test_unary_python_scalar_is_weak(row):
    """A Python scalar operand is a weak 32-bit value, and so is the result."""
    if F32 in row.dtypes:
        v, dt = _SCALAR_FOR_DOMAIN[row.domain], F32
    elif I32 in row.dtypes:
        v, dt = -7, I32
    else:
        v, dt = 1.5 - 0.25j, C64
    out = _lax_fn(row)(v)
    out_dt = row.out_dtype(dt)
    assert out.shape == () and out.dtype == out_dt and out.weak_type == (out_dt != BOOL)
    jax_out = jax.eval_shape(_jax_fn(row), v)
    assert jax_out.dtype == out_dt
    assert jax_out.weak_type == out.weak_type or out_dt == BOOL  # jax has weak bools
    check_values(out, _ref(row, np.asarray(v, dt)), out_dt, row.tol)


def test_round_both_methods_on_ties():
    x = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5, -0.49, 0.51, 7.0], np.float32)
    np.testing.assert_array_equal(np.asarray(lax.round(x)),
                                  [-3, -2, -1, 1, 2, 3, 4, -0, 1, 7])
    np.testing.assert_array_equal(np.asarray(lax.round(x, lax.RoundingMethod.TO_NEAREST_EVEN)),
                                  [-2, -2, -0, 0, 2, 2, 4, -0, 1, 7])
    for method in (AFZ, EVEN):
        np.testing.assert_array_equal(
            np.asarray(lax.round(x, method)),
            np.asarray(jax.lax.round(x, jax.lax.RoundingMethod(method))))


def test_unary_special_values():
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-30], np.float32)
    np.testing.assert_array_equal(np.asarray(lax.is_finite(x)), np.isfinite(x))
    np.testing.assert_array_equal(np.asarray(lax.sign(x)), np.asarray(jax.lax.sign(x)))
    np.testing.assert_array_equal(np.asarray(lax.abs(x)), np.abs(x))
    np.testing.assert_array_equal(np.signbit(np.asarray(lax.neg(x))), np.signbit(-x))
    i = np.array([-128, -1, 0, 127], np.int8)  # wraps like the fixed-width type
    np.testing.assert_array_equal(np.asarray(lax.abs(i)), np.asarray(jax.lax.abs(i)))
    np.testing.assert_array_equal(np.asarray(lax.neg(i)), np.asarray(jax.lax.neg(i)))
    u = np.array([0, 1, 200, 255], np.uint8)
    np.testing.assert_array_equal(np.asarray(lax.sign(u)), [0, 1, 1, 1])
    np.testing.assert_array_equal(np.asarray(lax.abs(u)), u)


# ---------------------------------------------------------------------------------------
# binary primitives

def _check_binary(row, dt, shape, scalar_side, seed, on_device):
    """``scalar_side`` (0, 1 or None) names the operand made rank 0, which broadcasts
    against the other (lax.add(x, scalar_array))."""
    rng = np.random.default_rng(seed)
    shapes = [() if scalar_side == k else shape for k in range(2)]
    x, y = (gen(rng, d, dt, s) for d, s in zip(row.domain, shapes))
    out = _lax_fn(row)(maybe_device(x, on_device), maybe_device(y, not on_device))
    out_dt = C64 if row.fn == "complex" else row.out_dtype(dt)
    assert out.shape == shape and out.dtype == out_dt and out.weak_type is False
    check_values(out, _ref(row, x, y), out_dt, row.tol)


@pytest.mark.parametrize("i", range(len(BINARY)), ids=[r.id for r in BINARY])
def test_binary_every_dtype(i):
    """Each accepted dtype once, the shapes and the rank-0 operand cycling."""
    row = BINARY[i]
    for j, dt in enumerate(row.dtypes):
        _check_binary(row, dt, SHAPES[(i + j) % len(SHAPES)], [None, 0, 1][j % 3], seed=i,
                      on_device=j % 2 == 0)


@pytest.mark.parametrize("row", BINARY, ids=lambda r: r.id)
@settings(max_examples=EXAMPLES)
@given(data=st.data())
def test_binary_matches_reference(row, data):
    _check_binary(row, data.draw(st.sampled_from(row.dtypes), label="dtype"),
                  data.draw(st.sampled_from(_rotated_shapes(BINARY.index(row))), label="shape"),
                  data.draw(st.sampled_from([None, 0, 1]), label="rank0_operand"),
                  data.draw(st.integers(0, 2**32 - 1), label="seed"),
                  data.draw(st.booleans(), label="on_device"))


@pytest.mark.parametrize("row", BINARY, ids=lambda r: r.id)
def test_binary_types_match_jax(row):
    """Shape, dtype and weak_type for each dtype, weak/strong combination and rank-0
    operand placement, as jax.eval_shape of jax.lax gives them."""
    f = _lax_fn(row)
    combos = [((), (), wx, wy) for wx in (False, True) for wy in (False, True)]
    combos += [((2, 3), (), False, True), ((), (2, 0), True, False), ((3,), (3,), True, True)]
    for dt in row.dtypes:
        for sx, sy, wx, wy in combos:
            avals = [ShapedArray(sx, dt, wx), ShapedArray(sy, dt, wy)]
            prog = trace_to_program(lambda x, y: [f(x, y)], avals)
            ours = prog.program.outvars[0].aval
            assert ours == _jax_aval(_jax_fn(row), *avals), (dt, sx, sy, wx, wy)


def test_python_scalar_operands_follow_jax():
    """lax never promotes: a Python scalar is its default dtype (int32, float32, complex64,
    bool), weakly typed, and must equal the other operand's dtype, as in jax.lax."""
    x16 = np.array([1.0, 2.5], np.float16)
    x32 = np.array([1.0, 2.5], np.float32)
    ok = [
        # (function name, args, expected value)
        ("add", (x32, 1.0), [2.0, 3.5]),
        ("add", (1.0, x32), [2.0, 3.5]),
        ("mul", (2.0, 3.0), 6.0),
        ("add", (1.0, 2.0), 3.0),
        ("add", (2, 3), 5),
        ("sub", (np.array([1, 2], np.int32), 3), [-2, -1]),
        ("max", (np.array([1.5, -2.0], np.float32), 0.0), [1.5, 0.0]),
        ("mul", (np.array([1 + 1j], np.complex64), 2j), [-2 + 2j]),
        ("lt", (np.float32(1.0), 2.0), True),
        ("eq", (x32, 2.5), [False, True]),
        ("bitwise_and", (np.array([True, False]), True), [True, False]),
        ("pow", (x16, 2), np.asarray([1.0, 6.25], np.float16)),
        ("pow", (2.0, np.array([1, 2], np.int32)), [2.0, 4.0]),
    ]
    for name, args, value in ok:
        out, ref = getattr(lax, name)(*args), getattr(jax.lax, name)(*args)
        assert (out.dtype, out.weak_type) == (ref.dtype, ref.weak_type), (name, args)
        np.testing.assert_array_equal(np.asarray(out), np.asarray(ref))
        np.testing.assert_array_equal(np.asarray(out), np.asarray(value, ref.dtype))
    bad = [
        ("add", (x16, 1.0)), ("add", (1, 1.0)), ("add", (x32, 1)), ("div", (1, 2.0)),
        ("max", (np.array([1], np.uint8), 1)), ("mul", (np.array([1], np.int8), 3)),
        ("add", (np.ones(2, ml_dtypes.bfloat16), 1.0)), ("lt", (1, 2.0)),
        ("add", (np.ones(2, np.complex64), 1.0)), ("add", (True, 1)),
        ("bitwise_and", (np.array([True]), 1)), ("pow", (x16, 2.0)),
        ("atan2", (1, 1.0)), ("complex", (1.0, 1)), ("select_n", (True, 1, 1.0)),
        ("clamp", (0, x32, 1)), ("clamp", (0.0, x16, 1.0)),
    ]
    for name, args in bad:
        with pytest.raises(TypeError):
            getattr(jax.lax, name)(*args)
        with pytest.raises(TypeError):
            getattr(lax, name)(*args)
    with pytest.raises(TypeError, match=r"lax.add requires arguments to have the same "
                                        r"dtypes, got int32, float32"):
        lax.add(1, 1.0)


def test_rank0_operand_broadcasts():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    s = np.array(2.0, np.float32)
    for f, ref in [(lax.sub, np.subtract), (lax.lt, np.less)]:
        np.testing.assert_array_equal(np.asarray(f(x, s)), ref(x, s))
        np.testing.assert_array_equal(np.asarray(f(s, x)), ref(s, x))
        np.testing.assert_array_equal(np.asarray(f(x, s)),
                                      np.asarray(getattr(jax.lax, f.__name__)(x, s)))
    e = np.zeros((0, 3), np.int32)
    assert lax.add(e, np.int32(4)).shape == (0, 3)
    assert lax.add(np.float32(1), np.float32(2)).shape == ()


@pytest.mark.parametrize("dt", INTS, ids=dtype_id)
def test_integer_div_rem_c_semantics(dt):
    """Truncation toward zero and the dividend's sign, as C and jax.lax; division by zero
    and MIN / -1 as XLA defines them (compared with jax.lax)."""
    info = np.iinfo(dt)
    signed = dt.kind == "i"
    xs = [7, -7, 7, -7, 0, 1, -1, info.min, info.max, info.min, 5, -5, 0, info.max] if signed \
        else [7, 7, 0, 1, info.max, 200 % (info.max + 1), 5, 0]
    ys = [2, 2, -2, -2, 3, -3, 3, -1, -1, 7, 0, 0, 0, 1] if signed \
        else [2, 3, 3, 5, 7, 9, 0, 0]
    x, y = np.array(xs, dt), np.array(ys, dt)
    q, r = np.asarray(lax.div(x, y)), np.asarray(lax.rem(x, y))
    np.testing.assert_array_equal(q, np.asarray(jax.lax.div(x, y)))
    np.testing.assert_array_equal(r, np.asarray(jax.lax.rem(x, y)))
    nz = y != 0
    np.testing.assert_array_equal(q[nz], _c_div(x[nz], y[nz]))
    np.testing.assert_array_equal(r[nz], _c_rem(x[nz], y[nz]))
    if signed:
        np.testing.assert_array_equal(q[:4], [3, -3, -3, 3])
        np.testing.assert_array_equal(r[:4], [1, -1, 1, -1])
        assert q[7] == info.min  # MIN / -1 wraps


def test_float_rem_and_div():
    x = np.array([5.5, -5.5, 5.5, -5.5, 0.0, 1.0, -1.0, np.inf], np.float32)
    y = np.array([2.0, 2.0, -2.0, -2.0, 3.0, 0.0, 0.0, 2.0], np.float32)
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(np.asarray(lax.rem(x, y)), np.fmod(x, y))
        np.testing.assert_array_equal(np.asarray(lax.div(x, y)), x / y)
    np.testing.assert_array_equal(np.asarray(lax.rem(x, y)), np.asarray(jax.lax.rem(x, y)))


@pytest.mark.parametrize("dt", INTS, ids=dtype_id)
def test_shifts_out_of_range_match_jax(dt):
    bits = np.iinfo(dt).bits
    info = np.iinfo(dt)
    vals = [1, 3, info.max, info.min, info.min + 1, -1 if dt.kind == "i" else info.max - 1]
    amounts = [0, 1, bits - 1, bits, bits + 1, 2 * bits, info.max]
    if dt.kind == "i":
        amounts += [-1, info.min]
    x = np.array([v for v in vals for _ in amounts], dt)
    y = np.array([a for _ in vals for a in amounts], dt)
    for name in ("shift_left", "shift_right_arithmetic", "shift_right_logical"):
        ours = np.asarray(getattr(lax, name)(x, y))
        np.testing.assert_array_equal(ours, np.asarray(getattr(jax.lax, name)(x, y)), name)
    # in range, the numpy references agree
    ok = (y >= 0) & (y < bits)
    np.testing.assert_array_equal(np.asarray(lax.shift_left(x, y))[ok], (x << y)[ok])
    np.testing.assert_array_equal(np.asarray(lax.shift_right_logical(x, y))[ok],
                                  _shift_right_logical(x[ok], y[ok]))


def test_min_max_nan_and_complex():
    x = np.array([np.nan, 1.0, -0.0, 2.0], np.float32)
    y = np.array([1.0, np.nan, 0.0, -np.inf], np.float32)
    for name in ("max", "min"):
        np.testing.assert_array_equal(np.asarray(getattr(lax, name)(x, y)),
                                      np.asarray(getattr(jax.lax, name)(x, y)))
    c = np.array([1 + 2j, 1 + 3j, 2 - 1j, 0j], np.complex64)
    d = np.array([1 + 3j, 1 + 2j, 1 + 5j, 0j], np.complex64)
    np.testing.assert_array_equal(np.asarray(lax.max(c, d)), np.asarray(jax.lax.max(c, d)))
    np.testing.assert_array_equal(np.asarray(lax.min(c, d)), np.asarray(jax.lax.min(c, d)))


# ---------------------------------------------------------------------------------------
# integer_pow, select_n, clamp

@settings(max_examples=8)
@given(shape=st.sampled_from(SHAPES), dt=st.sampled_from(NUM),
       y=st.integers(-4, 6), seed=st.integers(0, 2**32 - 1))
def test_integer_pow(shape, dt, y, seed):
    if y < 0 and dt.kind in "iu":
        y = -y
    x = gen(np.random.default_rng(seed), "small" if dt.kind in "iu" else "nonzero", dt, shape)
    out = lax.integer_pow(xla_bridge.from_numpy(x), y)
    assert out.shape == shape and out.dtype == dt and not out.weak_type
    if dt.kind in "iu":
        with np.errstate(all="ignore"):
            expected = np.ones_like(x) if y == 0 else np.prod([x] * y, axis=0, dtype=dt)
        check_values(out, expected.reshape(shape), dt)
    else:
        check_values(out, upcast(x) ** y, dt, tol=4 * max(abs(y), 1))


def test_integer_pow_special_exponents_and_weak_type():
    x = np.array([2.0, -3.0, 0.5], np.float32)
    np.testing.assert_array_equal(np.asarray(lax.integer_pow(x, 0)), [1, 1, 1])
    np.testing.assert_array_equal(np.asarray(lax.integer_pow(x, 1)), x)
    np.testing.assert_allclose(np.asarray(lax.integer_pow(x, -3)), x ** -3.0, rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(lax.integer_pow(np.int32(3), 0)), 1)
    np.testing.assert_array_equal(np.asarray(lax.square(x)), x * x)
    np.testing.assert_allclose(np.asarray(lax.reciprocal(x)), 1 / x, rtol=1e-6)
    for y in (-2, 0, 3):
        for weak in (False, True):
            aval = ShapedArray((2,), F16, weak)
            ours = trace_to_program(lambda a: [lax.integer_pow(a, y)], [aval])
            assert ours.program.outvars[0].aval == _jax_aval(
                lambda a: jax.lax.integer_pow(a, y), aval)
    out = lax.integer_pow(2.0, 3)
    assert out.weak_type and out.dtype == F32 and float(np.asarray(out)) == 8.0


@settings(max_examples=8)
@given(shape=st.sampled_from(SHAPES), dt=st.sampled_from(ALL), n=st.integers(1, 4),
       which_kind=st.sampled_from(["bool", "int32"]), scalar_which=st.booleans(),
       seed=st.integers(0, 2**32 - 1))
def test_select_n(shape, dt, n, which_kind, scalar_which, seed):
    rng = np.random.default_rng(seed)
    if which_kind == "bool":
        n = 2
    wshape = () if scalar_which else shape
    which = (rng.random(wshape) < 0.5) if which_kind == "bool" \
        else rng.integers(0, n, wshape).astype(np.int32)
    which = np.asarray(which).reshape(wshape)
    cases = [gen(rng, "any", dt, shape) for _ in range(n)]
    out = lax.select_n(xla_bridge.from_numpy(which), *cases)
    assert out.shape == shape and out.dtype == dt and not out.weak_type
    expected = np.choose(np.broadcast_to(which.astype(np.int64), shape), cases) \
        if shape else cases[int(which)]
    np.testing.assert_array_equal(np.asarray(out), expected)


def test_select_n_weak_types_and_select():
    f16 = np.array([1.0, 2.0], np.float16)
    pred = np.array([True, False])
    out = lax.select_n(np.bool_(True), np.float32(1.0), 7.0)  # a Python float is f32, weak
    assert out.dtype == F32 and not out.weak_type
    assert float(np.asarray(out)) == 7.0
    with pytest.raises(TypeError, match="lax.select_n requires arguments to have the same "
                                        "dtypes, got float16, float32"):
        lax.select_n(np.bool_(True), np.float16(1.0), 7.0)  # as jax.lax: no promotion
    x = np.array([1.0, 2.0, 3.0], np.float32)
    np.testing.assert_array_equal(  # the jax.lax oracle, bool and int32 `which`
        np.asarray(lax.select_n(np.array([0, 2, 1], np.int32), x, -x, 2 * x)),
        np.asarray(jax.lax.select_n(np.array([0, 2, 1], np.int32), x, -x, 2 * x)))
    np.testing.assert_array_equal(np.asarray(lax.select_n(np.array([True, False, True]), x, -x)),
                                  np.asarray(jax.lax.select_n(np.array([True, False, True]),
                                                              x, -x)))
    out = lax.select_n(True, 1.0, 2.0)
    assert out.dtype == F32 and out.weak_type and float(np.asarray(out)) == 2.0
    out = lax.select_n(np.int32(2), 1, 2, 3)
    assert out.dtype == I32 and out.weak_type and int(np.asarray(out)) == 3
    np.testing.assert_array_equal(np.asarray(lax.select(pred, f16, f16 * 0)), [1.0, 0.0])
    for weaks in [(False, False), (True, False), (True, True)]:
        avals = [ShapedArray((2,), BOOL)] + [ShapedArray((2,), F16, w) for w in weaks]
        ours = trace_to_program(lambda w, a, b: [lax.select_n(w, a, b)], avals)
        assert ours.program.outvars[0].aval == _jax_aval(jax.lax.select_n, *avals)
    one = lax.select_n(pred, f16)  # a single case is returned as is
    np.testing.assert_array_equal(np.asarray(one), f16)


@settings(max_examples=6)
@given(shape=st.sampled_from(SHAPES), dt=st.sampled_from(INTS + FLOATS),
       bounds=st.sampled_from(["scalar", "array", "mixed", "python"]),
       seed=st.integers(0, 2**32 - 1))
def test_clamp(shape, dt, bounds, seed):
    rng = np.random.default_rng(seed)
    x = gen(rng, "small", dt, shape)
    if bounds == "python":  # Python scalars must already have x's dtype (int32, float32)
        lo, hi = (0, 10) if dt.kind in "iu" else (-1.5, 2.0)
        lo, hi = (lo, hi) if dt in (I32, F32) else (np.asarray(lo, dt), np.asarray(hi, dt))
    else:
        a, b = gen(rng, "small", dt, shape), gen(rng, "small", dt, shape)
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        if bounds == "scalar" or (bounds == "mixed" and shape):
            lo = np.asarray(lo.reshape(-1)[0] if lo.size else 0, dt)
        if bounds == "scalar":
            hi = np.asarray(np.max(hi) if hi.size else 1, dt)
    out = lax.clamp(lo, xla_bridge.from_numpy(x), hi)
    assert out.shape == shape and out.dtype == dt and not out.weak_type
    expected = np.minimum(np.maximum(upcast(x), np.asarray(lo, dt).astype(upcast(x).dtype)),
                          np.asarray(hi, dt).astype(upcast(x).dtype))
    check_values(out, expected, dt)


def test_clamp_weak_types():
    for wl, wx, wh in [(False, False, False), (True, False, True), (True, True, True),
                       (False, True, False)]:
        avals = [ShapedArray((), F32, wl), ShapedArray((3,), F32, wx), ShapedArray((), F32, wh)]
        ours = trace_to_program(lambda a, b, c: [lax.clamp(a, b, c)], avals)
        assert ours.program.outvars[0].aval == _jax_aval(jax.lax.clamp, *avals)
    x = np.array([-1.0, 0.5, 3.0], np.float32)
    out = lax.clamp(0.0, x, 1.0)
    assert out.dtype == F32 and not out.weak_type
    np.testing.assert_array_equal(np.asarray(out), [0.0, 0.5, 1.0])
    x = x.astype(np.float16)
    lo, hi = np.array([0.0, 1.0, -2.0], np.float16), np.float16(2.0)
    np.testing.assert_array_equal(np.asarray(lax.clamp(lo, x, hi)),
                                  np.asarray(jax.lax.clamp(lo, x, hi)))


# ---------------------------------------------------------------------------------------
# convert_element_type

def _convert_inputs(dt) -> np.ndarray:
    """Values that exercise every conversion: fractions of both signs (truncation), values
    out of the target's range, NaN and infinities (left to XLA), complex parts."""
    dt = np.dtype(dt)
    if dt == BOOL:
        return np.array([True, False, True, True, False, False, True, False, True, False])
    if dt.kind in "iu":
        info = np.iinfo(dt)
        return np.array([0, 1, 2, 100, info.max, info.min, info.max - 1,
                         (info.min + info.max) // 2, 255 if info.max >= 255 else 7,
                         -1 if dt.kind == "i" else 128], dt)
    vals = np.array([0.0, -0.0, 1.7, -1.7, 2.5, -200.6, 300.5, 70000.0, -3e9, 5e9,
                     np.nan, np.inf, -np.inf, 1e-3], np.float64)
    if dt.kind == "c":
        return (vals + 1j * np.linspace(-2, 2, vals.size)).astype(dt)
    with np.errstate(over="ignore"):
        return vals.astype(dt)


def _assert_same(got, expected, msg=""):
    """Exact equality; NaNs (whatever their payload) count as equal."""
    if dtypes.is_inexact(got.dtype):
        wide = np.complex128 if got.dtype.kind == "c" else np.float64
        got, expected = got.astype(wide), expected.astype(wide)
    np.testing.assert_array_equal(got, expected, err_msg=msg)


@pytest.mark.parametrize("src", CONVERT_DTYPES, ids=dtype_id)
def test_convert_element_type_all_pairs_match_jax(src):
    x = _convert_inputs(src)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # jax's ComplexWarning on complex -> real
        # one jax executable per source dtype, converting to every destination
        expected = jax.jit(lambda v: [jax.lax.convert_element_type(v, d)
                                      for d in CONVERT_DTYPES])(x)
    for dst, exp in zip(CONVERT_DTYPES, expected):
        out = lax.convert_element_type(xla_bridge.from_numpy(x), dst)
        got = np.asarray(out)
        assert got.dtype == dst and got.shape == x.shape
        assert not getattr(out, "weak_type", False)
        if src == C64 and dst == BOOL:
            # x != 0, as NumPy casts; jax.lax instead drops the imaginary part first
            np.testing.assert_array_equal(got, x != 0)
            continue
        _assert_same(got, np.asarray(exp), f"{src} -> {dst}")


def test_convert_element_type_semantics():
    f = np.array([1.9, -1.9, 0.5, -0.5, 0.0, -0.0, np.nan], np.float32)
    np.testing.assert_array_equal(np.asarray(lax.convert_element_type(f, np.int32)),
                                  [1, -1, 0, 0, 0, 0, 0])  # truncation toward zero
    np.testing.assert_array_equal(np.asarray(lax.convert_element_type(f, np.bool_)),
                                  [True, True, True, True, False, False, True])
    c = np.array([1 + 2j, 0j, -3.5 + 1j], np.complex64)
    np.testing.assert_array_equal(np.asarray(lax.convert_element_type(c, np.float32)),
                                  [1.0, 0.0, -3.5])  # complex -> real keeps the real part
    np.testing.assert_array_equal(np.asarray(lax.convert_element_type(c, np.bool_)),
                                  [True, False, True])
    out = lax.convert_element_type(2.7, np.int32)  # a Python scalar: strong result
    assert out.dtype == I32 and not out.weak_type and int(np.asarray(out)) == 2
    out = lax.convert_element_type(np.float32(2.5), np.float16, weak_type=True)
    assert out.dtype == F16 and out.weak_type
    out = lax.convert_element_type(out, np.float16)  # weak -> strong of the same dtype
    assert out.dtype == F16 and not out.weak_type
    out = lax.convert_element_type(np.ones(2, np.int32), np.bool_, weak_type=True)
    assert out.dtype == BOOL and not out.weak_type  # bool is never weak
    assert lax.convert_element_type(1, np.float64).dtype == F32  # canonicalized (x64 off)


@settings(max_examples=8)
@given(shape=st.sampled_from(SHAPES), src=st.sampled_from(CONVERT_DTYPES),
       dst=st.sampled_from(CONVERT_DTYPES), weak=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_convert_element_type_shapes(shape, src, dst, weak, seed):
    """Shapes, dtypes and weak types; values inside every destination's range, so NumPy's
    astype is a valid reference (integers wrap, floats truncate toward zero)."""
    x = gen(np.random.default_rng(seed), "small" if src.kind in "iub" else "cast", src, shape)
    out = lax.convert_element_type(xla_bridge.from_numpy(x), dst, weak_type=weak)
    assert out.shape == shape and out.dtype == dst and out.weak_type == (weak and dst != BOOL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # NumPy's ComplexWarning
        expected = x.astype(dst)
    _assert_same(np.asarray(out), expected)


# ---------------------------------------------------------------------------------------
# errors: raised by the shape rules before anything reaches XLA

def test_errors():
    f32 = np.ones((2, 3), np.float32)
    with pytest.raises(TypeError, match=r"add got incompatible shapes \(2, 3\) and \(3, 2\)"):
        lax.add(f32, np.ones((3, 2), np.float32))
    with pytest.raises(TypeError, match="lt got incompatible shapes"):
        lax.lt(f32, np.ones((3,), np.float32))
    with pytest.raises(TypeError, match="lax.add requires arguments to have the same dtypes, "
                                        "got float32, int32"):
        lax.add(f32, np.ones((2, 3), np.int32))
    with pytest.raises(TypeError, match="lax.eq requires arguments to have the same dtypes"):
        lax.eq(np.ones(2, np.float16), np.ones(2, np.float32))
    with pytest.raises(TypeError, match="exp does not accept dtype i32"):
        lax.exp(np.ones(3, np.int32))
    with pytest.raises(TypeError, match="floor does not accept dtype c64"):
        lax.floor(np.ones(3, np.complex64))
    with pytest.raises(TypeError, match="shift_left does not accept dtype f32"):
        lax.shift_left(f32, f32)
    with pytest.raises(TypeError, match="lax.add requires arguments to have the same dtypes, "
                                        "got int32, float32"):
        lax.add(np.ones(2, np.int32), 1.5)
    with pytest.raises(TypeError, match="complex requires two float32"):
        lax.complex(np.ones(2, np.float16), np.ones(2, np.float16))
    with pytest.raises(TypeError, match="not a valid array"):
        lax.add([1.0, 2.0], f32)
    # select_n
    with pytest.raises(TypeError, match="select_n cases must have equal shapes and dtypes"):
        lax.select_n(True, f32, np.ones((3, 2), np.float32))
    with pytest.raises(TypeError, match="lax.select_n requires arguments to have the same "
                                        "dtypes, got float32, int32"):
        lax.select_n(True, f32, np.ones((2, 3), np.int32))
    with pytest.raises(TypeError, match="`which` must be bool or int32"):
        lax.select_n(np.ones((2, 3), np.float32), f32, f32)
    with pytest.raises(TypeError, match="bool `which` selects between 2 cases, got 3"):
        lax.select_n(np.ones((2, 3), bool), f32, f32, f32)
    with pytest.raises(TypeError, match=r"`which` shape \(3,\) must be \(\) or equal"):
        lax.select_n(np.ones(3, bool), f32, f32)
    with pytest.raises(TypeError, match="at least one case"):
        lax.select_n(True)
    # clamp
    with pytest.raises(TypeError, match=r"clamp: min shape \(3,\) must be \(\) or the operand's"):
        lax.clamp(np.zeros(3, np.float32), f32, 1.0)
    with pytest.raises(TypeError, match=r"clamp: max shape \(2, 2\)"):
        lax.clamp(0.0, f32, np.ones((2, 2), np.float32))
    with pytest.raises(TypeError, match="lax.clamp requires arguments to have the same dtypes"):
        lax.clamp(np.float16(0), f32, np.float32(1))
    with pytest.raises(TypeError, match="clamp does not accept dtype bool"):
        lax.clamp(False, np.ones(2, bool), True)
    # integer_pow
    with pytest.raises(TypeError, match="exponent must be a Python int, got 2.0"):
        lax.integer_pow(f32, 2.0)
    with pytest.raises(TypeError, match="exponent must be a Python int"):
        lax.integer_pow(f32, True)
    with pytest.raises(TypeError, match="negative exponent -2 needs a floating-point base"):
        lax.integer_pow(np.ones(2, np.int32), -2)
    with pytest.raises(TypeError, match="integer_pow does not accept dtype bool"):
        lax.integer_pow(np.ones(2, bool), 2)
    # convert_element_type
    with pytest.raises(TypeError, match="not a valid functorch_lite array type"):
        lax.convert_element_type(f32, object)
    with pytest.raises(TypeError, match="float0"):
        lax.convert_element_type(f32, dtypes.float0)


def test_errors_are_raised_while_staging():
    """Shape rules reject bad input at trace time, before lowering."""
    a, b = ShapedArray((2,), np.float32), ShapedArray((3,), np.float32)
    with pytest.raises(TypeError, match="mul got incompatible shapes"):
        trace_to_program(lambda x, y: [lax.mul(x, y)], [a, b])
    with pytest.raises(TypeError, match="sin does not accept dtype u8"):
        trace_to_program(lambda x: [lax.sin(x)], [ShapedArray((2,), np.uint8)])


# ---------------------------------------------------------------------------------------
# staging: every primitive of the module stages and typechecks

def _staging_cases():
    """(primitive name, function, input avals) covering every primitive of the module."""
    cases = []
    for row in UNARY:
        dt = row.dtypes[0]
        cases.append((row.prim, _lax_fn(row), [ShapedArray((2, 3), dt)]))
    for row in BINARY:
        dt = row.dtypes[0]
        cases.append((row.prim, _lax_fn(row), [ShapedArray((2, 3), dt), ShapedArray((), dt)]))
    f32, b, i = ShapedArray((2, 3), F32), ShapedArray((2, 3), BOOL), ShapedArray((), I32)
    cases += [
        ("integer_pow", lambda x: lax.integer_pow(x, -3), [f32]),
        ("select_n", lambda w, x, y: lax.select_n(w, x, y), [b, f32, f32]),
        ("select_n", lambda w, x, y: lax.select_n(w, x, y, x), [i, f32, f32]),
        ("clamp", lambda lo, x, hi: lax.clamp(lo, x, hi),
         [ShapedArray((), F32), f32, ShapedArray((), F32)]),
        ("convert_element_type", lambda x: lax.convert_element_type(x, np.int8), [f32]),
    ]
    return cases


def _module_primitives():
    return {v.name for v in vars(ew).values() if isinstance(v, Primitive)}


def test_staging_covers_every_primitive():
    staged = {name for name, _, _ in _staging_cases()}
    assert staged == _module_primitives()
    assert {r.prim for r in UNARY + BINARY} | {"integer_pow", "select_n", "clamp",
                                               "convert_element_type"} == staged


@pytest.mark.parametrize("case", _staging_cases(), ids=lambda c: c[0])
def test_every_primitive_stages_and_typechecks(case):
    name, f, avals = case
    prog = trace_to_program(lambda *xs: [f(*xs)], avals)
    typecheck(prog.program)
    eqns = prog.program.eqns
    assert [e.primitive.name for e in eqns] == [name]
    assert re.search(rf"= {name}[ \[]", str(prog)), str(prog)
    out = prog.program.outvars[0].aval
    assert out == eqns[0].primitive.abstract_eval(*[a.aval for a in eqns[0].inputs],
                                                  **eqns[0].params)[0]


def test_staging_python_scalar_becomes_literal():
    prog = trace_to_program(lambda x: [lax.add(x, 1.0), lax.mul(2.0, x)],
                            [ShapedArray((3,), F32)])
    typecheck(prog.program)
    text = str(prog)
    assert "add a 1.0:f32[]" in text
    assert all(v.aval == ShapedArray((3,), F32) for v in prog.program.outvars)
