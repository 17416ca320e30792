"""functorch_lite.numpy against jax.numpy on a broad table of calls.

Every case calls the same function of both libraries on the same inputs (NumPy arrays,
Python scalars, or ``W(v)``: a weakly typed rank-0 array made by each library's
``asarray``) and compares values, shapes, dtypes and weak types.

Known, deliberate differences (not checked here):
* jnp sometimes marks bool results weak (``jnp.equal(int32_array, 2.5)``); bool is never
  weakly typed in functorch_lite, so weak types of bool outputs are not compared.
* Incompatible broadcasting raises ValueError (NumPy's type) where jnp raises TypeError.
* ``split``/``array_split`` accept negative and decreasing indices as NumPy does (jnp
  raises); ``jnp.atan2`` promotes Python ints before making them float (``fnp.atan2`` is
  ``arctan2``).

Shapes are reused across cases because every new shape/dtype compiles."""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from jax.scipy.special import logsumexp as jax_logsumexp

import functorch_lite as fl  # noqa: F401  (installs the XLA backend)
import functorch_lite.numpy as fnp
from functorch_lite.core.avals import ShapedArray
from functorch_lite.core.ir import typecheck
from functorch_lite.interpreters.staging import trace_to_program

BF16 = np.dtype(ml_dtypes.bfloat16)
F16, F32, I32, U8, BOOL = (np.dtype(t) for t in ("float16", "float32", "int32", "uint8",
                                                 "bool"))


class W:
    """A weakly typed rank-0 array: ``lib.asarray(value)`` for each library."""

    def __init__(self, value):
        self.value = value

    def __repr__(self):
        return f"W({self.value!r})"


def _convert(x, lib):
    if isinstance(x, W):
        return lib.asarray(x.value)
    if isinstance(x, list) and any(isinstance(e, W) for e in x):
        return [_convert(e, lib) for e in x]
    return x


def _leaves(x):
    if isinstance(x, (list, tuple)):
        return [leaf for e in x for leaf in _leaves(e)]
    return [x]


def _host(x):
    a = np.asarray(x)
    return a.astype(np.float32) if a.dtype in (BF16, F16) else a


def assert_like(got, want, rtol=None, atol=None):
    """``got`` (functorch_lite) has ``want``'s (jax) structure, shapes, dtypes, weak types
    (except for bool) and values."""
    g, w = _leaves(got), _leaves(want)
    assert len(g) == len(w), (got, want)
    for a, b in zip(g, w):
        assert isinstance(a, fl.Array), f"expected an Array, got {type(a).__name__}"
        assert a.shape == b.shape, (a.shape, b.shape)
        assert a.dtype == b.dtype, (a.dtype, b.dtype)
        if a.dtype != BOOL:
            want_weak = getattr(b, "weak_type", False)  # (jnp returns some inputs as is)
            assert a.weak_type == want_weak, f"weak_type {a.weak_type} != {want_weak}"
        low = a.dtype in (BF16, F16)
        np.testing.assert_allclose(_host(a), _host(b), equal_nan=True,
                                   rtol=rtol if rtol is not None else (2e-2 if low else 2e-6),
                                   atol=atol if atol is not None else (2e-2 if low else 1e-6))


# The oracle's programs are run once: compile them quickly (no effect on semantics).
_FAST_COMPILE = {"xla_backend_optimization_level": 0, "xla_llvm_disable_expensive_passes": True}
_PENDING = []  # (label, fnp outcome, jnp function, args, kwargs, rtol, atol, may_raise)
_REJECTED = (TypeError, ValueError, NotImplementedError, OverflowError)


def check(name, *args, fn=None, jfn=None, rtol=None, atol=None, may_raise=False, **kwargs):
    """Call ``fnp.<name>`` now and queue the same ``jnp.<name>`` call (or ``fn``/``jfn``)
    for :func:`flush`, which compares them. With ``may_raise``, a call that jnp rejects
    must be rejected by fnp too."""
    f = fn or getattr(fnp, name)
    try:
        got = f(*[_convert(a, fnp) for a in args],
                **{k: _convert(v, fnp) for k, v in kwargs.items()})
    except _REJECTED as e:
        if not may_raise:
            raise
        got = e
    label = f"{name}{args!r:.200}{kwargs!r:.200}"
    _PENDING.append((label, got, jfn or getattr(jnp, name), args, kwargs, rtol, atol,
                     may_raise))


def flush():
    """Evaluate the queued jnp calls in one ``jax.jit`` (one compilation instead of one per
    call: the oracle dominated this file's run time) and compare. Array arguments of rank
    >= 1 become jit arguments; scalars stay concrete constants, as ``jnp``'s behavior can
    depend on them (a concrete integer exponent, say)."""
    cases = list(_PENDING)
    _PENDING.clear()
    if not cases:
        return
    arrays, errors = [], {}

    def split(x):  # jit arguments for arrays; everything else is closed over
        if isinstance(x, np.ndarray) and x.ndim:
            arrays.append(x)
            return ("__arg__", len(arrays) - 1)
        if isinstance(x, list):
            return [split(e) for e in x]
        if isinstance(x, tuple) and any(isinstance(e, np.ndarray) for e in x):
            return tuple(split(e) for e in x)
        return _convert(x, jnp)

    def join(x, vals):
        if isinstance(x, tuple) and len(x) == 2 and x[0] == "__arg__":
            return vals[x[1]]
        if isinstance(x, list):
            return [join(e, vals) for e in x]
        if isinstance(x, tuple):
            return tuple(join(e, vals) for e in x)
        return x

    calls = [(c[2], split(list(c[3])), {k: split(v) for k, v in c[4].items()}) for c in cases]

    def run_all(*vals):
        outs = []
        for i, (j, args, kwargs) in enumerate(calls):
            try:
                outs.append(j(*join(args, vals), **{k: join(v, vals) for k, v in kwargs.items()}))
            except Exception as e:  # (raised while tracing: jnp rejects the call)
                errors[i] = e
                outs.append(None)
        return outs

    compiled = jax.jit(run_all).lower(*arrays).compile(_FAST_COMPILE)
    wants = compiled(*arrays)
    for i, (label, got, _, _, _, rtol, atol, may_raise) in enumerate(cases):
        if i in errors:
            assert may_raise, f"{label}: jnp raised {errors[i]!r}"
            assert isinstance(got, Exception), f"{label}: jnp raised {errors[i]!r}, fnp did not"
            continue
        assert not isinstance(got, Exception), f"{label}: fnp raised {got!r}, jnp did not"
        try:
            assert_like(got, wants[i], rtol, atol)
        except AssertionError as e:
            raise AssertionError(f"{label}: {e}") from None


@pytest.fixture(autouse=True)
def _flush_checks():
    _PENDING.clear()
    yield
    flush()


def check_both_raise(name, *args, exc=Exception, **kwargs):
    with pytest.raises(Exception):
        getattr(jnp, name)(*[_convert(a, jnp) for a in args], **kwargs)
    with pytest.raises(exc):
        getattr(fnp, name)(*[_convert(a, fnp) for a in args], **kwargs)


_rng = np.random.default_rng(0)


def _sample(dtype, shape=(5,), positive=False):
    dtype = np.dtype(dtype)
    if dtype == BOOL:
        return np.array([True, False, True, True, False][:shape[0]]).reshape(shape) \
            if shape == (5,) else _rng.integers(0, 2, shape).astype(bool)
    if dtype.kind == "u":
        return _rng.integers(1 if positive else 0, 20, shape).astype(dtype)
    if dtype.kind == "i":
        return _rng.integers(1 if positive else -9, 10, shape).astype(dtype)
    x = _rng.standard_normal(shape) * 2
    return (np.abs(x) + 0.5 if positive else x).astype(dtype)


X = {dt: _sample(dt) for dt in (F32, I32, BOOL, BF16, F16, U8)}
XP = {dt: _sample(dt, positive=True) for dt in (F32, I32, BOOL, BF16, F16, U8)}


# ---------------------------------------------------------------------------------------
# Creation

@pytest.mark.parametrize("obj", [
    [1, 2, 3], [1.0, 2.0], [[1, 2], [3, 4]], [True, False], 3, 2.5, True, 1 + 2j,
    np.arange(4), np.float64(2.0), np.int64(3), np.array(2.0), [1, 2.5], [], [[]],
    np.zeros((0, 3)), np.arange(3, dtype=np.uint8)])
@pytest.mark.parametrize("dtype", [None, np.float32, np.int32, bool, ml_dtypes.bfloat16])
def test_array_and_asarray(obj, dtype):
    check("array", obj, dtype=dtype, may_raise=True)
    check("asarray", obj, dtype=dtype, may_raise=True)


def test_array_ndmin_and_errors():
    check("array", [1, 2], ndmin=3)
    with pytest.raises(TypeError, match="unsupported input of dtype"):
        fnp.array(["a", "b"])
    with pytest.raises(OverflowError):
        fnp.asarray(2 ** 40)


@pytest.mark.parametrize("fn", ["zeros", "ones", "empty"])
def test_zeros_ones_empty(fn):
    for shape in [3, (2, 3), (), (0, 2), [2, 2]]:
        check(fn, shape)
        check(fn, shape, dtype=np.int32)
    check(fn, (2,), dtype=ml_dtypes.bfloat16)
    check(fn, (2,), dtype=bool)
    x = X[I32]
    for like in [x, 2.0, 2, W(2.5), True]:
        check(fn + "_like", like)
    check(fn + "_like", x, dtype=np.float32)
    check(fn + "_like", x, shape=(2, 2))
    check(fn + "_like", W(2.5), dtype=np.float32)


@pytest.mark.parametrize("fill", [1, 2.5, True, np.float32(2), np.array([1, 2, 3]),
                                  W(1.5), np.array(7, np.uint8)])
def test_full_and_full_like(fill):
    check("full", (2, 3), fill)
    check("full", (2, 3), fill, dtype=np.int32)
    check("full", (), 2.5)
    check("full_like", X[I32][:3], fill)
    check("full_like", X[I32][:3], fill, dtype=np.float32)
    check("full_like", 3.0, fill if np.ndim(getattr(fill, "value", fill)) == 0 else 1)


@pytest.mark.parametrize("args", [(5,), (1, 5), (1, 10, 3), (5, 1, -1), (0.5, 3), (1, 2, 0.3),
                                  (0,), (3, 1), (2.0,), (np.int32(4),), (np.float32(3),),
                                  (-3, 3, 2), (0, 1, 0.1)])
def test_arange(args):
    check("arange", *args)
    for dtype in (np.float32, np.int32, ml_dtypes.bfloat16, np.uint8):
        check("arange", *args, dtype=dtype)


def test_arange_errors():
    with pytest.raises(ValueError, match="step must be nonzero"):
        fnp.arange(0, 5, 0)
    with pytest.raises(ValueError, match="arguments must be scalars"):
        fnp.arange(np.arange(3))


@pytest.mark.parametrize("kwargs", [
    {}, dict(num=5), dict(num=0), dict(num=1), dict(endpoint=False, num=4),
    dict(retstep=True, num=5), dict(retstep=True, num=1), dict(retstep=True, num=0),
    dict(dtype=np.int32, num=7), dict(dtype=ml_dtypes.bfloat16, num=3),
    dict(num=4, endpoint=False, retstep=True)])
def test_linspace(kwargs):
    check("linspace", 0, 1, **kwargs)
    check("linspace", 2, -3, **kwargs)


def test_linspace_array_endpoints_and_axis():
    start, stop = np.array([0.0, 1.0]), np.array([1.0, 5.0])
    check("linspace", start, stop, num=4)
    check("linspace", start, 3.0, num=4, axis=1)
    check("linspace", start, 3.0, num=4, axis=-1, retstep=True)
    check("linspace", np.zeros((2, 3)), 1.0, num=4, axis=1)
    check("linspace", np.int32(0), np.int32(10), num=3)
    check("linspace", np.zeros(2, ml_dtypes.bfloat16), 1.0, num=3)
    with pytest.raises(ValueError, match="must be non-negative"):
        fnp.linspace(0, 1, -1)


@pytest.mark.parametrize("args,kwargs", [((3,), {}), ((3, 4), {}), ((3, 4, 1), {}),
                                         ((3,), dict(k=-1)), ((3,), dict(dtype=np.int32)),
                                         ((2, 5, 3), {}), ((0,), {}), ((3,), dict(M=2)),
                                         ((4,), dict(k=5))])
def test_eye_tri(args, kwargs):
    check("eye", *args, **kwargs)
    check("tri", *args, **kwargs)


def test_eye_tri_under_x64_and_traced_offset():
    """A Python-int offset is int64 under x64; lax.add does not promote (it used to
    raise), and an offset traced under jit works too."""
    from rule_checks import x64
    with x64():
        for name, args, kwargs in [("eye", (3, 4, -1), {}), ("tri", (3, 2, 1), {}),
                                   ("eye", (2,), dict(k=1, dtype=np.int64))]:
            ours = getattr(fnp, name)(*args, **kwargs)
            theirs = getattr(jnp, name)(*args, **kwargs)
            assert ours.dtype == theirs.dtype   # tri is float32 by default even so
            np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))
    out = fl.jit(lambda k: fnp.eye(3, k=k))(1)
    np.testing.assert_array_equal(np.asarray(out), np.eye(3, k=1, dtype=np.float32))


def test_identity_tril_triu():
    check("identity", 3)
    check("identity", 3, dtype=np.int32)
    check("identity", 2, dtype=bool)
    m = np.arange(12.0, dtype=np.float32).reshape(3, 4)
    for k in (-1, 0, 1, 3, -5):
        check("tril", m, k=k)
        check("triu", m, k=k)
    check("tril", np.ones((2, 3, 3), np.int32), 1)
    check("triu", np.ones((2, 3, 3), bool), -1)
    with pytest.raises(ValueError, match="at least 2-D"):
        fnp.tril(np.ones(3))


@pytest.mark.parametrize("indexing", ["xy", "ij"])
@pytest.mark.parametrize("sparse", [False, True])
def test_meshgrid(indexing, sparse):
    a, b, c = np.arange(3.0), np.arange(4, dtype=np.int32), np.arange(2, dtype=np.float32)
    check("meshgrid", a, b, indexing=indexing, sparse=sparse)
    check("meshgrid", a, b, c, indexing=indexing, sparse=sparse)
    check("meshgrid", a, indexing=indexing, sparse=sparse)


# ---------------------------------------------------------------------------------------
# Elementwise functions

UNARY = ["abs", "absolute", "arccos", "arccosh", "arcsin", "arcsinh", "arctan", "arctanh",
         "around", "cbrt", "ceil", "conj", "conjugate", "cos", "cosh", "deg2rad", "degrees",
         "exp", "exp2", "expm1", "fabs", "floor", "imag", "invert", "isfinite", "isinf",
         "isnan", "isneginf", "isposinf", "log", "log10", "log1p", "log2", "logical_not",
         "negative", "positive", "rad2deg", "radians", "real", "reciprocal", "rint", "round",
         "sign", "signbit", "sin", "sinc", "sinh", "sqrt", "square", "tan", "tanh", "trunc"]
BINARY = ["add", "arctan2", "bitwise_and", "bitwise_or", "bitwise_xor", "copysign", "divide",
          "divmod", "equal", "float_power", "floor_divide", "fmax", "fmin", "fmod", "greater",
          "greater_equal", "heaviside", "hypot", "left_shift", "less", "less_equal",
          "logaddexp", "logaddexp2", "logical_and", "logical_or", "logical_xor", "maximum",
          "minimum", "multiply", "nextafter", "not_equal", "power", "remainder",
          "right_shift", "subtract", "true_divide"]


def _check_or_both_raise(name, *args, **kwargs):
    check(name, *args, may_raise=True, **kwargs)


@pytest.mark.parametrize("name", UNARY)
def test_unary_ufuncs(name):
    # (X and XP share a signature, as do 2.5 and W(0.5): those reuse compilations)
    for x in (X[F32], XP[F32], X[I32], X[BOOL], 2.5, W(0.5)):
        _check_or_both_raise(name, x, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["abs", "ceil", "exp", "invert", "isfinite", "negative",
                                  "positive", "real", "rint", "round", "sign", "signbit",
                                  "sqrt", "square", "trunc"])
def test_unary_ufuncs_on_int_and_bool_scalars(name):
    for x in (3, W(3), True):
        _check_or_both_raise(name, x)


@pytest.mark.parametrize("name,dtype", [
    *[(n, dt) for n in ("exp", "sqrt", "floor", "round", "log10", "signbit", "hypot", "power",
                        "true_divide", "add") for dt in (BF16, F16)],
    *[(n, U8) for n in ("sign", "abs", "square", "rint", "power", "true_divide", "add")]])
def test_narrow_dtypes(name, dtype):
    if name in ("hypot", "power", "true_divide", "add"):
        _check_or_both_raise(name, XP[dtype], XP[dtype])
        _check_or_both_raise(name, X[dtype], 2)
        _check_or_both_raise(name, 1.5, XP[dtype])
    else:
        _check_or_both_raise(name, XP[dtype])


@pytest.mark.parametrize("name", BINARY)
def test_binary_ufuncs(name):
    pairs = [(X[F32], XP[F32]), (X[I32], XP[I32]), (X[BOOL], XP[BOOL]), (X[I32], 2.5),
             (2, XP[U8])]
    for x, y in pairs:
        _check_or_both_raise(name, x, y, rtol=1e-5, atol=1e-6)


# The promotion table: every dtype pair and Python/weak scalars, through add.
_PROMO = [X[F32], X[I32], X[BOOL], X[BF16], X[F16], X[U8], np.int8([1, 2, 3, 4, 5]),
          np.uint32([1, 2, 3, 4, 5])]


@pytest.mark.parametrize("i", range(len(_PROMO)))
def test_promotion_table(i):
    x = _PROMO[i]
    for y in _PROMO:
        check("add" if x.dtype != BOOL or y.dtype != BOOL else "logical_or", x, y)
    for s in (2, 2.5, True, W(2), W(2.5), np.float32(2), np.int32(3)):
        check("add", x, s)
        check("multiply", s, x)


@pytest.mark.filterwarnings("ignore:overflow encountered in cast")
def test_scalar_promotion_specifics():
    u8 = np.array([1, 8, 250], np.uint8)
    check("add", u8, 300)          # Python ints wrap into uint8 (as jnp: +44)
    check("add", u8, -1)           # ... and -1 is 255
    check("add", 300, u8)
    check("true_divide", u8, 300)  # a float op converts 300 to float directly
    check("equal", u8, 300)
    check("add", np.arange(3, dtype=np.int32), 2.5)   # weak float32
    check("add", np.ones(3, ml_dtypes.bfloat16), 2.5)  # stays bfloat16
    check("add", np.array([True, False]), np.array([True, True]))  # logical or
    check("multiply", np.array([True, False]), np.array([True, True]))
    check("add", np.ones(3, np.float16), 1e6)      # overflows to inf, stays float16
    for big in (2 ** 31, -2 ** 31 - 1, 2 ** 40):
        with pytest.raises(OverflowError, match="too large to convert to int32"):
            fnp.add(u8, big)
        with pytest.raises(OverflowError):
            jnp.add(u8, big)
    with pytest.raises(TypeError, match="boolean subtract"):
        fnp.subtract(np.array([True]), np.array([False]))


def test_integer_division_and_powers():
    a = np.array([7, -7, 7, -7, 0, 3], np.int32)
    b = np.array([2, 2, -2, -2, 0, 0], np.int32)
    for name in ("floor_divide", "remainder", "fmod", "divmod"):
        check(name, a, b)
        check(name, a.astype(np.float32), b.astype(np.float32) + 0.5)
    check("floor_divide", np.float32([1.0, -1.0]), np.float32([0.1, 0.1]))  # Python's 9.0
    check("divmod", np.uint8([7, 3]), np.uint8([2, 0]))
    check("power", np.array([2, 3, -1, 0, 1], np.int32), np.array([3, 2, 65, 0, -2], np.int32))
    check("power", np.int8([1, 2, 3]), np.int32(2))             # concrete int: base dtype
    check("power", np.float16([1, 2, 3]), np.array(2, np.int32))
    check("power", np.float16([1, 2, 3]), np.array([2, 1, 3], np.int32))
    check("power", 2, np.array([1, 2, 3], np.int32))
    check("power", 2.5, np.array([1, 2, 3], np.int32))
    check("power", np.array([True, False]), 2)
    with pytest.raises(TypeError, match="negative"):
        fnp.power(np.int32([2]), -1)


@pytest.mark.parametrize("shapes", [((3, 1), (1, 4)), ((2, 1, 3), (3,)), ((), (2,)),
                                    ((0, 3), (1, 3)), ((4,), (1,))])
def test_broadcasting(shapes):
    x = np.arange(math.prod(shapes[0]), dtype=np.float32).reshape(shapes[0])
    y = np.arange(math.prod(shapes[1]), dtype=np.int32).reshape(shapes[1]) + 1
    for name in ("add", "true_divide", "hypot", "where"):
        if name == "where":
            check("where", y > 1, x, 0.5)
        else:
            check(name, x, y)


def test_broadcasting_error_names_shapes():
    with pytest.raises(TypeError, match=r"add: incompatible shapes for broadcasting: "
                                        r"\(2, 3\), \(3, 2\)"):  # a TypeError in JAX too
        fnp.add(np.ones((2, 3)), np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"broadcast_to: incompatible shapes for "
                                         r"broadcasting: \(3,\), \(4,\)"):
        fnp.broadcast_to(np.ones(3), (4,))


_DIM = st.sampled_from([1, 2, 3])


@st.composite
def _broadcastable_shapes(draw):
    out = draw(st.lists(_DIM, min_size=0, max_size=3))
    a = [d if draw(st.booleans()) else 1 for d in out]
    b = [d if draw(st.booleans()) else 1 for d in out]
    return tuple(a[draw(st.integers(0, len(a))):]), tuple(b)


@given(_broadcastable_shapes(), st.sampled_from(["add", "multiply", "arctan2", "minimum",
                                                 "greater", "logaddexp"]))
def test_binary_broadcasting_hypothesis(shapes, name):
    x = np.linspace(-2, 2, math.prod(shapes[0]), dtype=np.float32).reshape(shapes[0])
    y = np.linspace(3, -1, math.prod(shapes[1]), dtype=np.float32).reshape(shapes[1])
    check(name, x, y)
    flush()  # per example, so that hypothesis sees (and shrinks) a failing one


def test_where_clip_isclose():
    x = np.array([[0.5, -1.0, np.nan], [2.0, 0.0, -3.0]], np.float32)
    xi = np.array([[1, 0, 2], [0, 3, 1]], np.int32)
    cond = np.array([[True, False, True], [False, True, True]])
    for c, a, b in [(cond, x, 0.0), (cond, xi, x), (cond, 1, 2), (True, x, xi), (x, 1, 2.5),
                    (cond[0], x, 2), (cond, W(1.0), W(2)), (cond[:, :1], xi, 2.5),
                    (xi, xi, 0)]:
        check("where", c, a, b)
    # The one-argument form is nonzero (tests/numpy/test_sequences.py); one of x/y alone is
    # JAX's ValueError.
    np.testing.assert_array_equal(np.stack(fnp.where(cond)), np.stack(np.where(cond)))
    with pytest.raises(ValueError, match="both or neither"):
        fnp.where(cond, x)
    for kw in [dict(min=0.0), dict(max=0.5), dict(min=-0.5, max=0.5),
               dict(min=np.zeros(3, np.float32)), dict(max=xi), dict(min=1)]:
        check("clip", x, **kw)
        check("clip", xi, **kw)
    check("clip", W(2.0), 0, 1)
    check("clip", np.ones(3, np.uint8), 1, 300)
    assert np.asarray(fnp.clip(x, -0.5, 0.5)).tolist()[0][:2] == [0.5, -0.5]
    a1 = np.array([1.0, np.nan, np.inf, -np.inf, 1e-9, 1e5, np.inf], np.float32)
    a2 = np.array([1.0 + 1e-6, np.nan, np.inf, np.inf, 0, 1e5 + 1, -np.inf], np.float32)
    for kw in [{}, dict(equal_nan=True), dict(rtol=0, atol=0), dict(atol=2.0)]:
        check("isclose", a1, a2, **kw)
        check("allclose", a1, a2, **kw)
    check("isclose", xi, xi + 1)
    check("isclose", xi, 2.0)
    check("isclose", a1.astype(ml_dtypes.bfloat16), a2.astype(ml_dtypes.bfloat16))
    for a, b, kw in [(x, x, {}), (x, x, dict(equal_nan=True)), (xi, xi, {}), (xi, xi[:1], {}),
                     (xi, xi.astype(np.float32), {}), (2, 2.0, {})]:
        check("array_equal", a, b, **kw)


# ---------------------------------------------------------------------------------------
# Reductions

R = np.random.default_rng(1).standard_normal((2, 3, 4)).astype(np.float32)
RI = np.random.default_rng(1).integers(-5, 5, (2, 3, 4)).astype(np.int32)
RB = RI > 0
RU = np.abs(RI).astype(np.uint8)
RH = R.astype(ml_dtypes.bfloat16)
RN = np.where(RI > 2, np.nan, R).astype(np.float32)  # NaNs, and an all-NaN slice
RN[0, :, 0] = np.nan
M = np.arange(12, dtype=np.float32).reshape(3, 4)
V = np.arange(4, dtype=np.float32)
MASK = np.random.default_rng(2).integers(0, 2, (2, 3, 4)).astype(bool)
REDUCTIONS = ["sum", "prod", "max", "min", "mean", "var", "std", "all", "any"]


@pytest.mark.parametrize("name", ["ptp", "count_nonzero", "nansum", "nanmax", "nanmin",
                                  "nanmean", "nanprod"])
def test_more_reductions(name):
    for a, axis in [(RN, 1), (RN, None), (RI, -1), (RB, 0)]:
        check(name, a, axis=axis, may_raise=True)
    check(name, R, axis=(0, 2), keepdims=True)
    check(name, W(3))


@pytest.mark.parametrize("name", REDUCTIONS)
def test_reductions(name):
    cases = [(R, None), (R, -1), (R, (0, 2)), (RN, 1), (RI, None), (RI, 0), (RB, -1),
             (RU, None), (RH, None)]
    for a, axis in cases:
        check(name, a, axis=axis, may_raise=True, rtol=2e-2 if a is RH else 1e-5, atol=1e-5)
    check(name, R, axis=1, keepdims=True)
    check(name, RI, keepdims=True, may_raise=True)
    for s in (2.5, W(3)):
        check(name, s)
    empty = np.zeros((0, 3), np.float32)
    if name in ("max", "min"):
        check_both_raise(name, empty, axis=0, exc=ValueError)
        check(name, empty, axis=1)
    else:
        check(name, empty, axis=None)
        check(name, empty, axis=0)


@pytest.mark.parametrize("name", ["sum", "prod", "max", "min", "mean", "var", "std", "all",
                                  "any"])
def test_reductions_where(name):
    kw = dict(initial=0) if name in ("max", "min") else {}
    for a in (R, RI, RB):
        check(name, a, axis=1, where=MASK, **kw)
    check(name, R, where=MASK[0, 0], **kw)  # broadcasts
    if name in ("max", "min"):
        with pytest.raises(ValueError, match="initial"):
            getattr(fnp, name)(R, where=MASK)


@pytest.mark.parametrize("name", ["sum", "prod", "mean", "cumsum", "cumprod"])
def test_reductions_dtype(name):
    for a, dtype in [(R, np.int32), (R, ml_dtypes.bfloat16), (RI, np.float32), (RI, np.uint8),
                     (RI, bool), (RB, np.float32), (RU, np.int32), (RB, bool)]:
        check(name, a, axis=1, dtype=dtype, rtol=2e-2, atol=1e-2, may_raise=True)


@pytest.mark.parametrize("name", ["sum", "prod", "max", "min"])
def test_reductions_initial(name):
    for a in (R, RI, RB):
        check(name, a, axis=1, initial=2)
    check(name, R, initial=2.5)
    check(name, np.zeros((0, 3), np.float32), axis=0, initial=1)


def test_var_std_ddof():
    for name in ("var", "std"):
        for ddof in (0, 1, 2):
            check(name, R, axis=1, ddof=ddof)
            check(name, RI, ddof=ddof)
        check(name, R, correction=1, keepdims=True)
        check(name, R, axis=0, ddof=2)             # N - ddof == 0: NaN
        check(name, R, axis=2, ddof=1, where=MASK)  # a traced count
        check(name, R, axis=1, mean=np.mean(R, axis=1, keepdims=True))


@pytest.mark.parametrize("name", ["cumsum", "cumprod", "cumulative_sum", "cumulative_prod"])
def test_cumulative(name):
    for a, axis in [(R, 0), (R, -1), (RI, 1), (RB, -1), (RU, 1), (RH, 0)]:
        check(name, a, axis=axis, rtol=2e-2, atol=1e-2)
    if not name.startswith("cumulative"):
        check(name, RI, axis=None)
    if name.startswith("cumulative"):
        check(name, RI, axis=1, include_initial=True)
        check(name, RI[0, 0])
        with pytest.raises(ValueError, match="axis"):
            getattr(fnp, name)(RI)
    else:
        check(name, 2.5)


def test_argmax_argmin():
    for name in ("argmax", "argmin"):
        for a, kw in [(R, {}), (R, dict(axis=-1)), (RN, dict(axis=1, keepdims=True)),
                      (RI, dict(keepdims=True)), (RB, dict(axis=0)), (RH, dict(axis=2)),
                      (np.array([2.0, 2.0, 1.0, 1.0, 2.0], np.float32), {})]:
            check(name, a, **kw)
        with pytest.raises(ValueError, match="empty sequence"):
            getattr(fnp, name)(np.zeros((0,)))


def test_logsumexp():
    # -inf rows, +inf, NaN, ints, bfloat16, b= (signed, with return_sign), where=, empty.
    special = np.array([[-np.inf, -np.inf, 1.0, np.inf], [0.0, -np.inf, 2.0, 1.0],
                        [1.0, 2.0, np.nan, 0.0]], np.float32)
    b = np.random.default_rng(3).standard_normal((3, 4)).astype(np.float32)
    for a, kw in [(special, dict(axis=1)), (special[1:2], dict(axis=None)),
                  (special[:, :2], dict(axis=0, keepdims=True)), (RI[0], dict(axis=1)),
                  (RH[0], dict(axis=1)), (M, dict(axis=1, b=b, return_sign=True)),
                  (M, dict(axis=1, b=b)), (M, dict(axis=1, b=2.0)),
                  (M, dict(axis=1, b=np.zeros(4, np.float32), return_sign=True)),
                  (M, dict(axis=1, where=MASK[0])), (np.zeros((0, 3), np.float32), dict(axis=0)),
                  (W(2.0), {})]:
        check("logsumexp", a, fn=fnp.logsumexp, jfn=jax_logsumexp, rtol=2e-2 if a is RH[0]
              else 1e-5, atol=1e-2 if a is RH[0] else 1e-5, **kw)


@settings(max_examples=12)
@given(st.sets(st.integers(-3, 2), max_size=3), st.booleans(),
       st.sampled_from(["sum", "max", "mean", "var", "any", "prod"]))
def test_reductions_over_random_axes(axes, keepdims, name):
    axes = {a % 3 for a in axes}
    axis = tuple(sorted(axes)) if len(axes) != 1 else next(iter(axes))
    check(name, R, axis=axis, keepdims=keepdims, rtol=1e-5, atol=1e-5)
    flush()


def test_reduction_errors():
    with pytest.raises(ValueError, match="out of bounds"):
        fnp.sum(R, axis=3)
    with pytest.raises(ValueError, match="zero-size array to reduction operation max"):
        fnp.max(np.zeros((0, 2)), axis=0)
    with pytest.raises(ValueError, match="ddof and correction"):
        fnp.var(R, ddof=1, correction=1)


# ---------------------------------------------------------------------------------------
# Shapes



def test_reshape_transpose_moveaxis_swapaxes():
    for shape in [(-1,), (6, -1), (4, 3, 2), (2, -1, 2), 24, (1, 24)]:
        check("reshape", R, shape)
    check("reshape", W(2.5), (1, 1))
    for axes in [None, (2, 0, 1), (-1, 0, 1), [1, 0, 2]]:
        check("transpose", R, axes)
    for src, dst in [(0, -1), ((0, 1), (-1, -2)), ((0, 2), (2, 0))]:
        check("moveaxis", R, src, dst)
    for a, b in [(0, 2), (-1, 0), (1, 1)]:
        check("swapaxes", R, a, b)
    with pytest.raises(TypeError, match=r"cannot reshape array of shape \(2, 3, 4\)"):
        fnp.reshape(R, (5, -1))  # TypeErrors, as in JAX
    with pytest.raises(TypeError, match="one unknown dimension"):
        fnp.reshape(R, (-1, -1))
    with pytest.raises(ValueError, match="don't match"):
        fnp.transpose(R, (0, 1))


def test_squeeze_expand_dims_broadcast():
    x1 = np.ones((1, 3, 1, 2), np.float32)
    for axis in [None, 0, -2, (0, 2)]:
        check("squeeze", x1, axis)
    with pytest.raises(ValueError, match="size not equal to one"):
        fnp.squeeze(x1, 1)
    for axis in [0, -1, (0, 1), (0, -1), (1, 3)]:
        check("expand_dims", R, axis)
    check("expand_dims", W(2.0), 0)
    check("broadcast_to", V, (3, 4))
    check("broadcast_to", np.ones((3, 1), np.float32), (2, 3, 5))
    check("broadcast_to", 2.5, (2,))
    check("broadcast_to", W(2.5), (2,))
    check("broadcast_arrays", V, np.ones((3, 1), np.int32))
    check("broadcast_arrays", np.ones((2, 1, 3)), np.ones(3), np.ones(()))
    assert fnp.broadcast_shapes((3, 1), (1, 4), ()) == jnp.broadcast_shapes((3, 1), (1, 4), ())


def test_concatenate_and_stacks():
    mi = M.astype(np.int32)
    for arrays, axis in [((M, M), 0), ((M, M), -1), ((M, mi), 0), ((M, RI[0]), None),
                         ((mi, np.ones((3, 2), bool)), 1), ((V,), 0),
                         ((np.ones(2, ml_dtypes.bfloat16), np.ones(2, np.float16)), 0),
                         ((np.ones(2, np.int32), np.ones(2, np.uint8)), 0)]:
        check("concatenate", list(arrays), axis)
    check("concatenate", [M, M], 0, dtype=np.int32)
    check("concatenate", [W(1.0), W(2.0)], None)
    for name in ("stack", "vstack", "hstack", "dstack", "column_stack"):
        for arrays in ([V, V], [M, mi], [W(1.0), W(2.0)], [R, R]):
            check(name, arrays)
    check("stack", [M, M], axis=-1)
    check("stack", [M, M], axis=2)
    check("stack", [M, M], dtype=np.int32)
    with pytest.raises(ValueError, match="same shape"):
        fnp.stack([M, V])
    with pytest.raises(ValueError, match="zero-dimensional"):
        fnp.concatenate([np.float32(1), np.float32(2)])


def test_split_tile_flip_roll_rot90_atleast():
    a = np.arange(12).reshape(6, 2)
    for sections in (2, [1, 3], [0, 5], 3, []):
        check("split", a, sections)
        check("array_split", a.T, sections, axis=1)
    check("array_split", np.arange(7), 3)
    check("array_split", np.arange(7), 10)
    with pytest.raises(ValueError, match="equal division"):
        fnp.split(np.arange(7), 3)
    check("hsplit", M, 2)
    check("vsplit", M, 3)
    for reps in (2, (2, 1), (1, 2, 3), (0, 2), ()):
        check("tile", M, reps)
    check("tile", W(1.5), 3)
    for axis in (None, 0, -1, (0, 2), ()):
        check("flip", R, axis)
    check("fliplr", M)
    check("flipud", M)
    for shift, axis in [(1, None), (-2, None), (2, 0), ((1, 2), (0, 1)), (5, -1),
                        ((1, 1), 0), (1, (0, 1)), (np.int32(2), 1), ((1, 2), None)]:
        check("roll", R, shift, axis)
    for k in (0, 1, 2, 3, -1, 5):
        check("rot90", M, k)
        check("rot90", R, k, (1, 2))
        check("rot90", R, k, (2, 0))
    with pytest.raises(ValueError, match="axes must be different"):
        fnp.rot90(R, 1, (0, 0))
    for name in ("atleast_1d", "atleast_2d", "atleast_3d"):
        for x in (2.5, W(2.0), V, M, R, np.float32(1)):
            check(name, x)
        check(name, V, M)


# ---------------------------------------------------------------------------------------
# Products

def _r(*shape, dtype=np.float32):
    return np.random.default_rng(sum(shape)).standard_normal(shape).astype(dtype)


PROD_TOL = dict(rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("a,b", [
    (_r(3, 4), _r(4, 5)), (_r(4), _r(4, 5)), (_r(3, 4), _r(4)), (_r(4), _r(4)),
    (_r(2, 3, 4), _r(4, 5)), (_r(2, 3, 4), _r(2, 4, 5)), (_r(2, 1, 3, 4), _r(5, 4, 2)),
    (_r(3, 4), np.arange(20, dtype=np.int32).reshape(4, 5)),
    (_r(3, 4).astype(ml_dtypes.bfloat16), _r(4, 5)),
    (np.ones((2, 3), bool), np.ones((3, 2), bool))])
def test_dot_matmul(a, b):
    check("dot", a, b, **PROD_TOL)
    check("matmul", a, b, **PROD_TOL)


def test_products():
    check("dot", 2.0, _r(3, 4))
    check("dot", _r(3, 4), 2)
    check("dot", W(2.0), W(3.0))
    check("dot", _r(4), np.ones((2, 4, 3), np.float32), **PROD_TOL)
    check("dot", _r(2, 3, 4), _r(5, 4, 2), **PROD_TOL)
    with pytest.raises(TypeError, match="contracting dimensions differ"):  # as JAX's
        fnp.matmul(_r(2, 3), _r(2, 3))
    with pytest.raises(ValueError, match="at least 1-D"):
        fnp.matmul(2.0, _r(3, 4))
    for a, b in [(_r(4), _r(4)), (_r(3, 4), _r(3, 4)), (_r(4).astype(np.complex64) * 1j, _r(4))]:
        check("vdot", a, b, **PROD_TOL)
    for a, b, axes in [(_r(2, 3, 4), _r(3, 4, 5), 2), (_r(2, 3, 4), _r(4, 5), 1),
                       (_r(3, 4), _r(4, 5), 0), (_r(2, 3, 4), _r(4, 3, 2), ([1, 2], [1, 0])),
                       (_r(2, 3, 4), _r(4, 3, 2), ((-1,), (0,))), (_r(2, 3), _r(3, 2), (1, 0))]:
        check("tensordot", a, b, axes, **PROD_TOL)
    with pytest.raises(TypeError, match="shape mismatch"):  # as JAX's
        fnp.tensordot(_r(3, 4), _r(4, 5), ((0,), (0,)))
    for a, b in [(_r(4), _r(3)), (_r(3, 4), _r(4)), (2.0, _r(4)),
                 (np.ones(3, bool), np.ones(2, bool))]:
        check("outer", a, b, **PROD_TOL)
    for a, b in [(_r(4), _r(4)), (_r(3, 4), _r(3, 4)), (_r(2, 3, 4), _r(5, 4)), (2.0, _r(3, 4))]:
        check("inner", a, b, **PROD_TOL)
    for a, b in [(_r(3, 4), _r(4, 5)), (_r(4), _r(3)), (_r(2, 2), _r(2, 3, 2)), (2.0, _r(3, 4))]:
        check("kron", a, b, **PROD_TOL)


# ---------------------------------------------------------------------------------------
# Sorting

S = np.array([[0.5, np.nan, -1.0, 0.5, 2.0], [np.nan, 1.0, -0.0, 0.0, np.nan],
              [0.5, 0.5, -np.inf, np.inf, 0.5]], np.float32)


SI = (np.nan_to_num(S, posinf=3, neginf=-3) * 2).astype(np.int32) % 3


@pytest.mark.parametrize("a", [S, SI, S > 0, S.astype(ml_dtypes.bfloat16)],
                         ids=["f32", "i32", "bool", "bf16"])
def test_sort_argsort(a):
    for axis, kw in [(-1, {}), (0, dict(descending=True)), (None, {}),
                     (-1, dict(descending=True)), (0, dict(stable=False))]:
        check("sort", a, axis=axis, **kw)
        if kw.get("stable", True):
            check("argsort", a, axis=axis, **kw)
    check_both_raise("sort", W(2.0), exc=ValueError)
    check_both_raise("argsort", 2.0, exc=ValueError)
    check("sort", W(2.0), axis=None)


def test_lexsort():
    check("lexsort", (np.array([1, 2, 1, 2], np.int32), np.array([3, 3, 1, 1], np.int32)))
    check("lexsort", [SI, S])
    check("lexsort", [SI, S], axis=0)


# ---------------------------------------------------------------------------------------
# Staging: the numpy layer only emits lax operations, so it stages under jit

def test_numpy_functions_stage_and_typecheck():
    def f(x, n):
        y = fnp.floor_divide(n, 3) + fnp.remainder(n, 0) + fnp.power(n, n)
        z = fnp.where(x > 0, fnp.hypot(x, 2.0), fnp.logsumexp(x, axis=0))
        return [y, fnp.var(z, ddof=1), fnp.clip(z, 0, 1) + 300, fnp.sort(z)]
    prog = trace_to_program(f, [ShapedArray((3,), F32), ShapedArray((3,), I32)])
    typecheck(prog.program)
    text = str(prog)
    for name in ("div", "rem", "select_n", "reduce_max", "sort"):
        assert name in text
    x = np.array([0.5, -1.0, 2.0], np.float32)
    n = np.array([7, -2, 3], np.int32)
    got = fl.jit(f)(x, n)
    for g, e in zip(got, f(x, n)):
        np.testing.assert_allclose(np.asarray(g), np.asarray(e), rtol=1e-6)
