"""Transformation rules of the elementwise primitives (functorch_lite/lax/elementwise.py):
jvp and transpose against central differences at first and second order (float64, inputs
inside each primitive's domain), complex rules under JAX's cotangent convention, the zero
derivatives of the non-differentiable primitives, the choices at special points (ties,
kinks, poles) against ``jax.grad``, and every batching rule against a Python loop.

Every primitive the module declares must appear in exactly one of the tables below, so a
new primitive without tests fails ``test_every_primitive_is_covered``."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import functorch_lite as fl
from functorch_lite import lax
from functorch_lite.core import dtypes
from functorch_lite.core.avals import get_aval
from functorch_lite.core.primitive import Primitive
from functorch_lite.lax import elementwise
from rule_checks import check_batching, check_grads, check_jvp, x64

PRIMITIVES = {p.name: p for p in vars(elementwise).values() if isinstance(p, Primitive)}


def _a(*values):
    return np.array(values, np.float64)


R = _a(-1.3, 0.4, 0.9)          # no zeros
R2 = _a(0.7, -1.1, 1.6)         # differs from R everywhere (no ties)
POS = _a(0.6, 1.3, 2.1)
UNIT = _a(-0.6, 0.2, 0.7)       # inside (-0.9, 0.9)
NEG = _a(-2.5, -0.3, -7.6)      # off the poles of lgamma/digamma
C = np.array([0.4 + 0.3j, -0.5 + 0.2j, 0.3 - 0.6j])
S = np.array(0.35)              # a rank-0 operand


def _fn(name):
    """The lax function of a primitive."""
    special = {"not": lax.bitwise_not, "and": lax.bitwise_and, "or": lax.bitwise_or,
               "xor": lax.bitwise_xor}
    return special.get(name) or getattr(lax, name)


# ---------------------------------------------------------------------------------------
# Tables: every primitive in exactly one.

UNARY_DOMAINS = {
    "neg": [R], "abs": [R], "exp": [R], "exp2": [R], "log": [POS], "log1p": [UNIT],
    "expm1": [R], "sqrt": [POS], "rsqrt": [POS], "cbrt": [R], "sin": [R], "cos": [R],
    "tan": [UNIT], "asin": [UNIT], "acos": [UNIT], "atan": [R], "sinh": [R], "cosh": [R],
    "tanh": [R], "asinh": [R], "acosh": [_a(1.3, 1.8, 2.5)], "atanh": [UNIT],
    "logistic": [R], "erf": [R], "erfc": [R], "erf_inv": [UNIT],
    "lgamma": [POS, NEG], "digamma": [POS, NEG],
}

# (x, y) pairs: arrays, and a rank-0 operand on either side
BINARY_DOMAINS = {
    "add": [(R, R2), (S, R), (R, S)],
    "sub": [(R, R2), (S, R), (R, S)],
    "mul": [(R, R2), (S, R), (R, S)],
    "div": [(R, R2), (S, R), (R, S)],
    # x / y stays away from integers (rem jumps there)
    "rem": [(_a(5.3, -2.7, 1.4), _a(2.0, 1.1, -0.9)), (np.array(5.3), _a(2.0, 1.1, -0.9)),
            (_a(5.3, -2.7, 1.4), np.array(0.8))],
    "pow": [(POS, R2), (np.array(1.7), R2), (POS, S)],
    "max": [(R, R2), (S, R), (R, S)],
    "min": [(R, R2), (S, R), (R, S)],
    "atan2": [(R, R2), (S, R), (R, S)],
}

COMPLEX_CAPABLE = ["real", "imag", "conj", "complex"]  # checked in test_complex_grads

# non-differentiable: float operands with float results / bool results, integer operands
NONDIFF_FLOAT = ["sign", "floor", "ceil", "round", "nextafter"]
NONDIFF_BOOL = ["is_finite", "eq", "ne", "lt", "le", "gt", "ge"]
NONDIFF_INT = ["not", "population_count", "and", "or", "xor", "shift_left",
               "shift_right_arithmetic", "shift_right_logical"]

OTHERS = ["integer_pow", "select_n", "clamp", "convert_element_type"]


def test_every_primitive_is_covered():
    tables = [list(UNARY_DOMAINS), list(BINARY_DOMAINS), COMPLEX_CAPABLE, NONDIFF_FLOAT,
              NONDIFF_BOOL, NONDIFF_INT, OTHERS]
    names = [n for t in tables for n in t]
    assert len(names) == len(set(names))
    assert set(names) == set(PRIMITIVES), set(PRIMITIVES) ^ set(names)
    assert set(BATCH_SPECS) == set(PRIMITIVES), set(PRIMITIVES) ^ set(BATCH_SPECS)
    for p in PRIMITIVES.values():
        assert p.batch_rule is not None, p
        assert p.non_differentiable or p.jvp_rule is not None, p
    for name in NONDIFF_FLOAT + NONDIFF_BOOL + NONDIFF_INT:
        assert PRIMITIVES[name].non_differentiable, name
    for name in ["neg", "real", "imag", "conj", "complex", "add", "sub", "mul", "div",
                 "select_n", "convert_element_type"]:
        assert PRIMITIVES[name].transpose_rule is not None, name


# ---------------------------------------------------------------------------------------
# jvp and transpose against finite differences (float64)

@pytest.mark.parametrize("name", sorted(UNARY_DOMAINS))
def test_unary_grads(name):
    with x64():
        for x in UNARY_DOMAINS[name]:
            check_grads(_fn(name), [x], order=2)


@pytest.mark.parametrize("name", sorted(BINARY_DOMAINS))
def test_binary_grads(name):
    """Including a rank-0 operand broadcast against a vector (its cotangent is summed)."""
    with x64():
        for x, y in BINARY_DOMAINS[name]:
            check_grads(_fn(name), [x, y], order=2)


@pytest.mark.parametrize("y", [-2, 0, 1, 2, 3])
def test_integer_pow_grads(y):
    with x64():
        check_grads(lambda x: lax.integer_pow(x, y), [R], order=2)


def test_select_n_grads():
    with x64():
        check_grads(lambda a, b: lax.select_n(np.array([True, False, True]), a, b),
                    [R, R2], order=2)
        check_grads(lambda a, b: lax.select_n(np.array(False), a, b), [R, R2], order=2)
        which = np.array([0, 2, 1], np.int32)
        check_grads(lambda a, b, c: lax.select_n(which, a, b, c), [R, R2, POS], order=2)


def test_clamp_grads():
    """Rank-0 and array bounds; R has one element below, one inside and one above."""
    with x64():
        check_grads(lax.clamp, [np.array(-0.5), R, np.array(0.8)], order=2)
        check_grads(lax.clamp, [_a(-2.0, 0.5, 0.3), R, _a(-1.0, 0.6, 1.5)], order=2)


def test_convert_element_type_grads():
    f32, f64 = np.float32, np.float64
    with x64():
        # through float32: finite differences need a larger step
        check_grads(lambda x: lax.convert_element_type(lax.convert_element_type(x, f32), f64),
                    [R], order=2, eps=1e-3, rtol=1e-4, atol=1e-4)
        check_grads(lambda x: lax.convert_element_type(x, f64), [R.astype(f32)], order=2,
                    eps=1e-3, rtol=1e-4, atol=1e-4)
        check_grads(lambda x: lax.real(lax.convert_element_type(x, np.complex128)), [R],
                    order=2)
        check_grads(lambda x: lax.mul(x, lax.convert_element_type(
            lax.convert_element_type(x, np.int32), f64)), [_a(1.5, -2.5, 3.3)], order=2)


def test_convert_element_type_against_jax():
    def round_trip(lax):
        return lambda x: lax.convert_element_type(lax.convert_element_type(x, jnp.bfloat16),
                                                  jnp.float32)
    x = np.float32(1.5)
    assert float(fl.grad(round_trip(lax))(x)) == float(jax.grad(round_trip(jax.lax))(x)) == 1.0
    g = fl.jvp(lambda x: lax.convert_element_type(x, jnp.bfloat16), (x,), (np.float32(2),))
    want = jax.jvp(lambda x: jax.lax.convert_element_type(x, jnp.bfloat16),
                   (x,), (np.float32(2),))
    assert g[1].dtype == want[1].dtype == jnp.bfloat16 and float(g[1]) == 2.0
    # float -> int: no derivative; the tangent of the int output is float0
    def to_int(lax):
        return lambda x: lax.convert_element_type(x, np.int32)
    _, t = fl.jvp(to_int(lax), (x,), (np.float32(1),))
    _, t_jax = jax.jvp(to_int(jax.lax), (x,), (np.float32(1),))
    assert t.dtype == t_jax.dtype == dtypes.float0

    def h(lax):
        return lambda x: lax.mul(x, lax.convert_element_type(to_int(lax)(x), np.float32))
    x = np.float32(2.5)
    assert float(fl.grad(h(lax))(x)) == float(jax.grad(h(jax.lax))(x)) == 2.0
    # int -> float: an integer input's float0 tangent gives a zero float tangent
    i = np.int32(3)
    _, t = fl.jvp(lambda i: lax.convert_element_type(i, np.float32), (i,),
                    (np.zeros((), dtypes.float0),))
    assert t.dtype == np.float32 and float(t) == 0.0


# ---------------------------------------------------------------------------------------
# complex: JAX's convention for cotangents pairs them without conjugation, as
# <u, v> = Re(sum(u * v)), so imag's transpose maps 1 to -1j (rule_checks' check_vjp
# conjugates, so it only applies to real functions).

def _random_like(rng, x):
    x = np.asarray(x)
    if np.iscomplexobj(x):
        return (rng.normal(size=x.shape) + 1j * rng.normal(size=x.shape)).astype(x.dtype)
    return rng.normal(size=x.shape).astype(x.dtype)


def _rdot(a, b) -> float:
    return float(np.real(np.sum(np.asarray(a, np.complex128) * np.asarray(b, np.complex128))))


def _check_vjp_jax_pairing(f, args, tol):
    rng = np.random.default_rng(1)
    v = [_random_like(rng, a) for a in args]
    _, jv = fl.jvp(f, tuple(args), tuple(v))
    out, vjp_fn = fl.vjp(f, *args)
    u = _random_like(rng, out)
    cts = vjp_fn(u)
    for c, a in zip(cts, args):
        assert np.asarray(c).dtype == np.asarray(a).dtype
    np.testing.assert_allclose(_rdot(u, jv), sum(_rdot(c, vi) for c, vi in zip(cts, v)),
                               rtol=tol, atol=tol)


def check_grads_complex(f, args, tol=1e-5):
    check_jvp(f, args, rtol=tol, atol=tol)
    _check_vjp_jax_pairing(f, args, tol)
    v = [_random_like(np.random.default_rng(7), a) for a in args]

    def directional(*xs):
        return fl.jvp(f, xs, tuple(v))[1]
    check_jvp(directional, args, rtol=10 * tol, atol=10 * tol)
    _check_vjp_jax_pairing(directional, args, 10 * tol)


COMPLEX_CASES = {
    "real": (lax.real, [C]), "imag": (lax.imag, [C]), "conj": (lax.conj, [C]),
    "abs": (lax.abs, [C]), "complex": (lax.complex, [R, R2]),
    "complex_rank0": (lax.complex, [S, R]),
    "mul": (lax.mul, [C, C[::-1]]), "div": (lax.div, [C, C[::-1]]),
    "pow": (lax.pow, [C, C[::-1]]), "sqrt": (lax.sqrt, [C]), "log": (lax.log, [C]),
    "acosh": (lax.acosh, [C]), "asin": (lax.asin, [C]), "tanh": (lax.tanh, [C]),
    "integer_pow": (lambda z: lax.integer_pow(z, 3), [C]),
    "select_n": (lambda a, b: lax.select_n(np.array([True, False, False]), a, b), [C, C[::-1]]),
}


@pytest.mark.parametrize("case", sorted(COMPLEX_CASES))
def test_complex_grads(case):
    f, args = COMPLEX_CASES[case]
    with x64():
        check_grads_complex(f, args)


def test_complex_cotangents_match_jax():
    z = np.complex64(1 + 2j)
    for f in (lax.real, lax.imag, lax.abs):
        g_fl = fl.grad(lambda z: f(z))(z)
        g_jax = jax.grad(lambda z: getattr(jax.lax, f.__name__)(z))(z)
        np.testing.assert_allclose(np.asarray(g_fl), np.asarray(g_jax), rtol=1e-6)
    for f, jf in ((lax.conj, jax.lax.conj), (lambda z: lax.mul(z, np.complex64(1 - 3j)),
                                              lambda z: z * np.complex64(1 - 3j))):
        ct = np.complex64(0.5 - 1j)
        np.testing.assert_allclose(np.asarray(fl.vjp(f, z)[1](ct)[0]),
                                   np.asarray(jax.vjp(jf, z)[1](ct)[0]), rtol=1e-6)
    # complex(x, y): cotangent ct gives (Re ct, -Im ct)
    cx, cy = fl.vjp(lax.complex, np.float32(1), np.float32(2))[1](np.complex64(3 + 4j))
    assert (float(cx), float(cy)) == (3.0, -4.0)


# ---------------------------------------------------------------------------------------
# non-differentiable primitives: zero tangents and gradients, float0 for int/bool outputs

def _assert_same_tangent(got, want):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape
    if want.dtype != dtypes.float0:
        np.testing.assert_array_equal(got, want)
        assert not np.any(got)


def _jax_fn(name):
    return {"not": jax.lax.bitwise_not, "and": jax.lax.bitwise_and, "or": jax.lax.bitwise_or,
            "xor": jax.lax.bitwise_xor}.get(name) or getattr(jax.lax, name)


@pytest.mark.parametrize("name", NONDIFF_FLOAT + NONDIFF_BOOL)
def test_nondifferentiable_float_operands(name):
    x, y = _a(-1.5, 0.5, 2.5), _a(0.5, 0.5, -1.0)
    nargs = 2 if name in ("nextafter", "eq", "ne", "lt", "le", "gt", "ge") else 1
    args, tans = (x, y)[:nargs], (np.ones(3), 2 * np.ones(3))[:nargs]
    f = _fn(name)
    with x64():
        _, t = fl.jvp(f, args, tans)
        if name == "nextafter":  # JAX has no rule for it: the tangent is zero
            assert t.dtype == np.float64 and not np.any(np.asarray(t))
        else:
            _, t_jax = jax.jvp(_jax_fn(name), args, tans)
            _assert_same_tangent(t, t_jax)

        def loss(*xs):  # d/dx of sum(x * f(x)) is f(x) when f has a zero derivative
            v = lax.convert_element_type(f(*xs), np.float64)
            return lax.reduce_sum(lax.mul(xs[0], v), (0,))
        g = fl.grad(loss, argnums=tuple(range(nargs)))(*args)
        v = np.asarray(f(*args), np.float64)
        np.testing.assert_array_equal(np.asarray(g[0]), v)
        for gi in g[1:]:
            np.testing.assert_array_equal(np.asarray(gi), np.zeros(3))


@pytest.mark.parametrize("name", NONDIFF_INT)
def test_nondifferentiable_integer_operands(name):
    i, j = np.array([5, -3, 12], np.int32), np.array([1, 2, 3], np.int32)
    nargs = 1 if name in ("not", "population_count") else 2
    args = (i, j)[:nargs]
    tans = tuple(np.zeros(3, dtypes.float0) for _ in args)
    out, t = fl.jvp(_fn(name), args, tans)
    out_jax, t_jax = jax.jvp(_jax_fn(name), args, tans)
    np.testing.assert_array_equal(np.asarray(out), np.asarray(out_jax))
    _assert_same_tangent(t, t_jax)
    if name in ("not", "and", "or", "xor"):  # bool operands too
        b = (np.array([True, False, True]), np.array([True, True, False]))[:nargs]
        tb = tuple(np.zeros(3, dtypes.float0) for _ in b)
        _assert_same_tangent(fl.jvp(_fn(name), b, tb)[1], jax.jvp(_jax_fn(name), b, tb)[1])


def test_integer_operands_get_float0_tangents():
    i, j = np.array([1, 2], np.int32), np.array([3, 4], np.int32)
    z = np.zeros(2, dtypes.float0)
    for f, jf in ((lax.add, jax.lax.add), (lax.mul, jax.lax.mul), (lax.max, jax.lax.max),
                  (lambda a, b: lax.integer_pow(a, 2), lambda a, b: jax.lax.integer_pow(a, 2)),
                  (lambda a, b: lax.select_n(lax.lt(a, b), a, b),
                   lambda a, b: jax.lax.select_n(jax.lax.lt(a, b), a, b))):
        _assert_same_tangent(fl.jvp(f, (i, j), (z, z))[1], jax.jvp(jf, (i, j), (z, z))[1])
    # an integer operand beside a float one: the float output's tangent comes from x only
    x = np.array([0.5, 1.5], np.float32)
    f = lambda x, i: lax.mul(x, lax.convert_element_type(i, np.float32))  # noqa: E731
    _, t = fl.jvp(f, (x, i), (np.ones(2, np.float32), z))
    np.testing.assert_array_equal(np.asarray(t), [1.0, 2.0])


# ---------------------------------------------------------------------------------------
# special points against jax.grad

def _grads(f, jf, args, argnums):
    got = fl.grad(f, argnums=argnums)(*args)
    want = jax.grad(jf, argnums=argnums)(*args)
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-6)
        assert np.asarray(g).dtype == np.asarray(w).dtype


f32 = np.float32
zero, one = f32(0), f32(1)


def test_ties_and_kinks_against_jax():
    # ties split the gradient evenly
    _grads(lax.max, jax.lax.max, (one, one), (0, 1))
    _grads(lax.min, jax.lax.min, (one, one), (0, 1))
    v = np.array([1, 2, 3], f32)
    _grads(lambda s, v: lax.reduce_sum(lax.max(s, v), (0,)),
           lambda s, v: jnp.sum(jax.lax.max(s, v)), (f32(2), v), (0, 1))
    # abs: slope +1 at 0 (real), 0 at 0 (complex)
    _grads(lax.abs, jax.lax.abs, (zero,), (0,))
    _grads(lambda x, y: lax.abs(lax.complex(x, y)),
           lambda x, y: jax.lax.abs(jax.lax.complex(x, y)), (zero, zero), (0, 1))


def test_poles_against_jax():
    # poles of the derivative: inf like JAX
    for name in ("sqrt", "rsqrt", "cbrt", "log"):
        _grads(getattr(lax, name), getattr(jax.lax, name), (zero,), (0,))
    for name in ("asin", "acos", "atanh", "erf_inv", "acosh"):
        _grads(getattr(lax, name), getattr(jax.lax, name), (one,), (0,))
    _grads(lax.atan2, jax.lax.atan2, (zero, zero), (0, 1))  # nan, nan


def test_pow_at_zero_against_jax():
    for y in (0.5, 1.0, 2.0, 3.0):
        _grads(lax.pow, jax.lax.pow, (zero, f32(y)), (0, 1))
    # 0 ** 0: slope 0 in x, as JAX with an integer exponent (numpy.power's case)
    g = fl.grad(lax.pow, argnums=(0, 1))(zero, zero)
    assert float(g[0]) == float(jax.grad(jax.lax.pow)(zero, np.int32(0))) == 0.0
    assert float(g[1]) == float(jax.grad(jax.lax.pow, 1)(zero, zero)) == 0.0
    for y in (-2, 0, 1, 2, 3):
        _grads(lambda x: lax.integer_pow(x, y), lambda x: jax.lax.integer_pow(x, y),
               (zero,), (0,))


def test_clamp_rem_select_against_jax():
    # clamp at and beyond its bounds, scalar and crossed bounds
    for lo, x, hi in ((0, 0, 1), (0, 1, 1), (0, 0.5, 1), (0, -1, 1), (0, 2, 1),
                      (1, 0.5, 0), (1, 2, 0), (1, -1, 0)):
        _grads(lax.clamp, jax.lax.clamp, (f32(lo), f32(x), f32(hi)), (0, 1, 2))
    # rem: slope in y is -trunc(x / y)
    _grads(lax.rem, jax.lax.rem, (f32(-5.5), f32(2)), (0, 1))
    # select_n with equal cases: the cotangent goes to the chosen case only
    _grads(lambda a, b: lax.select_n(np.array(True), a, b),
           lambda a, b: jax.lax.select_n(np.array(True), a, b), (one, one), (0, 1))


def test_trigamma_against_jax():
    """digamma's derivative (trigamma, built from elementwise ops) on both sides of 1/2."""
    for x in (-3.5, 0.25, 1.0, 7.0, 40.0):
        _grads(lax.digamma, jax.lax.digamma, (f32(x),), (0,))


# ---------------------------------------------------------------------------------------
# batching: vmap against a Python loop

BATCH = 2
F_ANY = ("f", -2.0, 2.0)
BATCH_SPECS = {
    # name: (operand kinds, lo, hi) for every operand
    **{n: F_ANY for n in ["neg", "abs", "sign", "floor", "ceil", "exp", "exp2", "expm1",
                          "cbrt", "sin", "cos", "atan", "sinh", "cosh", "tanh", "asinh",
                          "logistic", "erf", "erfc", "add", "sub", "mul", "max", "min",
                          "atan2", "nextafter", "eq", "ne", "lt", "le", "gt", "ge",
                          "complex"]},
    **{n: ("f", 0.2, 3.0) for n in ["log", "sqrt", "rsqrt", "lgamma", "digamma", "pow",
                                    "div", "rem"]},
    **{n: ("f", -0.9, 0.9) for n in ["log1p", "tan", "asin", "acos", "atanh", "erf_inv"]},
    "acosh": ("f", 1.1, 3.0),
    "round": ("f", -3.0, 3.0),
    "is_finite": ("f", -2.0, 2.0),
    **{n: ("i", -50, 50) for n in ["not", "population_count", "and", "or", "xor"]},
    **{n: ("i", 0, 8) for n in ["shift_left", "shift_right_arithmetic",
                                "shift_right_logical"]},
    **{n: ("c", -1.0, 1.0) for n in ["real", "imag", "conj"]},
    "integer_pow": F_ANY, "select_n": F_ANY, "clamp": F_ANY,
    "convert_element_type": F_ANY,
}


def _sample(name, shape, seed):
    kind, lo, hi = BATCH_SPECS[name]
    rng = np.random.default_rng(seed)
    if kind == "i":
        return rng.integers(lo, hi, size=shape).astype(np.int32)
    x = rng.uniform(lo, hi, size=shape)
    if kind == "c":
        x = x + 1j * rng.uniform(lo, hi, size=shape)
        return x.astype(np.complex64)
    return x.astype(np.float32)


def _arity(name):
    if name in ("integer_pow", "convert_element_type", "round") or name in UNARY_DOMAINS \
            or name in ("real", "imag", "conj", "sign", "floor", "ceil", "is_finite", "not",
                        "population_count"):
        return 1
    return 2


# (shape, in_axis) per operand; element shape (3,), batch size 2
BATCHED_0 = ((BATCH, 3), 0)
BATCHED_1 = ((3, BATCH), 1)
UNBATCHED = ((3,), None)
SCALAR = ((), None)
BATCHED_SCALAR = ((BATCH,), 0)
UNARY_CONFIGS = [(BATCHED_1,), (BATCHED_SCALAR,)]
BINARY_CONFIGS = [
    (BATCHED_0, BATCHED_1),        # batch dims at different positions
    (BATCHED_1, BATCHED_1),        # same position: applied in place
    (BATCHED_1, UNBATCHED),        # one operand unbatched
    (BATCHED_0, SCALAR),           # rank-0 unbatched operand
    (SCALAR, BATCHED_1),
    (BATCHED_SCALAR, BATCHED_1),   # a batched scalar meets an array
    (UNBATCHED, BATCHED_SCALAR),
]


def _unary_call(name):
    if name == "integer_pow":
        return lambda x: lax.integer_pow(x, 3)
    if name == "convert_element_type":
        return lambda x: lax.convert_element_type(x, np.int32)
    if name == "round":
        return lambda x: lax.round(x, lax.RoundingMethod.TO_NEAREST_EVEN)
    return _fn(name)


@pytest.mark.parametrize("name", sorted(n for n in BATCH_SPECS
                                        if n not in ("select_n", "clamp")))
def test_batching(name):
    configs = UNARY_CONFIGS if _arity(name) == 1 else BINARY_CONFIGS
    f = _unary_call(name) if _arity(name) == 1 else _fn(name)
    for k, config in enumerate(configs):
        args = [_sample(name, shape, seed=10 * k + i) for i, (shape, _) in enumerate(config)]
        check_batching(f, args, [ax for _, ax in config], rtol=1e-5, atol=1e-6)


def test_batching_convert_element_type():
    x = _sample("convert_element_type", (3, BATCH), 0)
    for dt in (np.float16, jnp.bfloat16, np.bool_, np.complex64):
        check_batching(lambda x: lax.convert_element_type(x, dt), [x], [1])


def test_batching_select_n():
    t = lambda shape, ax, seed=0: (np.random.default_rng(seed).normal(size=shape)  # noqa
                                   .astype(np.float32), ax)
    b = lambda shape, ax: (np.random.default_rng(1).normal(size=shape) > 0, ax)  # noqa
    n = lambda shape, ax: (np.random.default_rng(2).integers(0, 3, shape)  # noqa
                           .astype(np.int32), ax)
    configs = [
        [b((BATCH, 3), 0), t((3, BATCH), 1), t((3,), None)],
        [b((3, BATCH), 1), t((3, BATCH), 1, 1), t((3, BATCH), 1, 2)],    # in place
        [b((), None), t((3, BATCH), 1), t((BATCH, 3), 0)],
        [b((BATCH,), 0), t((3,), None), t((3, BATCH), 1)],               # batched scalar
        [b((BATCH,), 0), t((), None), t((), None, 1)],                   # scalar cases
        [b((3,), None), t((3,), None), t((BATCH, 3), 0)],
        [b((), None), t((), None), t((BATCH,), 0)],
        [n((BATCH, 3), 0), t((3,), None), t((3, BATCH), 1), t((3,), None, 3)],
        [n((BATCH,), 0), t((3,), None), t((3,), None, 1), t((3,), None, 2)],
        [n((3,), None), t((BATCH, 3), 0), t((3, BATCH), 1), t((3,), None)],
    ]
    for config in configs:
        args, axes = zip(*config)
        check_batching(lax.select_n, list(args), list(axes))


def test_batching_clamp():
    t = lambda shape, ax, seed=0, scale=1.0: (  # noqa: E731
        scale * np.random.default_rng(seed).normal(size=shape).astype(np.float32), ax)
    lo, hi = (np.float32(-0.5), None), (np.float32(0.5), None)
    configs = [
        [lo, t((3, BATCH), 1), hi],                          # scalar bounds, in place
        [t((BATCH,), 0, 1, 0.3), t((3,), None), hi],         # batched scalar bound
        [t((BATCH,), 0, 1, 0.3), t((), None), hi],           # unbatched scalar operand
        [t((BATCH, 3), 0, 1, 0.3), t((3, BATCH), 1), t((3,), None, 2, 0.3)],
        [lo, t((BATCH,), 0), t((BATCH,), 0, 2, 0.3)],
        [t((), None, 3, 0.1), t((3,), None), t((BATCH,), 0, 4)],
    ]
    for config in configs:
        args, axes = zip(*config)
        check_batching(lax.clamp, list(args), list(axes))


# ---------------------------------------------------------------------------------------
# compositions

def test_jit_vmap_grad():
    def f(x, y, s):
        z = lax.mul(lax.sin(x), lax.pow(x, y))
        z = lax.add(lax.clamp(np.float32(-0.5), z, s), lax.max(x, s))
        return lax.reduce_sum(lax.select_n(lax.gt(x, y), z, lax.atan2(x, y)), (0,))

    def jf(x, y, s):
        z = jnp.sin(x) * jax.lax.pow(x, y)
        # (jax.lax.clamp's jvp fails for a rank-0 bound with a tangent; same values here)
        z = jnp.minimum(jnp.maximum(z, np.float32(-0.5)), s) + jnp.maximum(x, s)
        return jnp.sum(jax.lax.select_n(x > y, z, jax.lax.atan2(x, y)))

    rng = np.random.default_rng(0)
    x = rng.uniform(0.5, 2.0, (4, 3)).astype(np.float32)
    y = rng.uniform(0.5, 2.0, (3,)).astype(np.float32)
    s = np.float32(0.9)
    got = fl.jit(fl.vmap(fl.grad(f, argnums=(0, 1, 2)), in_axes=(0, None, None)))(x, y, s)
    want = jax.jit(jax.vmap(jax.grad(jf, argnums=(0, 1, 2)), in_axes=(0, None, None)))(x, y, s)
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-5, atol=1e-6)


def test_vmap_of_jvp_with_rank0_operand():
    """A rank-0 operand's tangent broadcasts; its cotangent sums (per batch member)."""
    xs = np.array([[0.5, 1.0, 2.0], [1.5, 0.3, 0.7]], np.float32)
    ss = np.array([0.2, 0.4], np.float32)

    def f(s, x):
        return lax.reduce_sum(lax.mul(lax.div(s, x), lax.exp(s)), (0,))

    def jf(s, x):
        return jnp.sum((s / x) * jnp.exp(s))

    got = fl.vmap(fl.grad(f))(ss, xs)
    want = jax.vmap(jax.grad(jf))(ss, xs)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-6)
    tan = fl.vmap(lambda s, x: fl.jvp(lambda s: lax.sub(s, x), (s,), (np.float32(1),))[1])(
        ss, xs)
    np.testing.assert_array_equal(np.asarray(tan), np.ones((2, 3), np.float32))


def test_batch_dim_stays_in_place():
    """Operands batched at the same position (and rank-0 unbatched ones) need no transpose."""
    def f(x, y, s):
        z = lax.mul(lax.sin(x), s)
        return lax.select_n(lax.lt(z, y), lax.clamp(s, z, np.float32(2)), lax.pow(x, y))

    x = np.random.default_rng(0).uniform(0.5, 1.5, (3, BATCH)).astype(np.float32)
    y = np.random.default_rng(1).uniform(0.5, 1.5, (3, BATCH)).astype(np.float32)
    vf = fl.vmap(f, in_axes=(1, 1, None), out_axes=1)
    prims = [e.primitive.name for e in fl.make_ir(vf)(x, y, np.float32(0.3)).program.eqns]
    assert "transpose" not in prims and "broadcast_in_dim" not in prims, prims
    check_batching(f, [x, y, np.float32(0.3)], [1, 1, None], out_axes=1, rtol=1e-5)


def test_transpose_rules_with_zero_cotangent():
    from functorch_lite.core.avals import ShapedArray
    from functorch_lite.interpreters import ad
    from functorch_lite.interpreters.transpose import UndefinedPrimal
    f32 = ShapedArray((3,), np.float32, False)
    c64 = ShapedArray((3,), np.complex64, False)
    ones = np.ones(3, np.float32)
    cases = {
        "neg": (f32, [UndefinedPrimal(f32)]), "real": (f32, [UndefinedPrimal(c64)]),
        "imag": (f32, [UndefinedPrimal(c64)]), "conj": (c64, [UndefinedPrimal(c64)]),
        "complex": (c64, [UndefinedPrimal(f32), UndefinedPrimal(f32)]),
        "add": (f32, [UndefinedPrimal(f32), ones]), "sub": (f32, [ones, UndefinedPrimal(f32)]),
        "mul": (f32, [ones, UndefinedPrimal(f32)]), "div": (f32, [UndefinedPrimal(f32), ones]),
        "select_n": (f32, [np.array(True), UndefinedPrimal(f32), ones]),
    }
    for name, (out_aval, args) in cases.items():
        assert PRIMITIVES[name].transpose_rule(ad.Zero(out_aval), *args) == [None] * len(args)
    rule = PRIMITIVES["convert_element_type"].transpose_rule
    assert rule(ad.Zero(f32), UndefinedPrimal(f32), new_dtype=np.dtype(np.float32),
                weak_type=False) == [None]


@pytest.mark.parametrize("op", ["add", "sub"])
def test_add_sub_jvp_with_one_symbolic_zero_tangent(op):
    """With one operand constant, the output tangent is the other tangent (negated for
    sub's right operand, broadcast from rank 0), typed like the output: no zeros are
    materialized, and the numbers match JAX."""
    f, jf = getattr(lax, op), getattr(jax.lax, op)
    x = np.array([1.0, 2.0, 3.0], np.float32)
    c = np.array([0.5, -1.0, 4.0], np.float32)
    t = np.array([1.0, -2.0, 0.5], np.float32)
    cases = [(lambda v: f(v, c), lambda v: jf(v, c), x, t),
             (lambda v: f(c, v), lambda v: jf(c, v), x, t),
             (lambda v: f(v, x), lambda v: jf(v, x), np.float32(2.0), np.float32(3.0)),
             (lambda v: f(x, v), lambda v: jf(x, v), np.float32(2.0), np.float32(3.0))]
    for ours, theirs, primal, tangent in cases:
        out, tan = fl.jvp(ours, (primal,), (tangent,))
        want_out, want_tan = jax.jvp(theirs, (primal,), (tangent,))
        np.testing.assert_array_equal(np.asarray(out), want_out)
        np.testing.assert_array_equal(np.asarray(tan), want_tan)
        assert np.asarray(tan).shape == np.shape(want_tan)
        ir = str(fl.make_ir(lambda p, d: fl.jvp(ours, (p,), (d,)))(primal, tangent))
        assert "0.0" not in ir, ir
    # a Python scalar operand (weakly typed) with a strong array: the tangent is strong
    _, tan = fl.jvp(lambda v: f(2.0, v), (x,), (t,))
    assert not get_aval(tan).weak_type
    _, tan = fl.jvp(lambda v: f(v, x), (2.0,), (3.0,))
    assert not get_aval(tan).weak_type and np.shape(tan) == (3,)
