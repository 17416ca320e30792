"""Operators, methods and Python protocols of ``fl.Array`` (attached by
``functorch_lite.numpy.array_methods``), against ``jax.Array``; and the same methods on
tracers under ``fl.jit``."""
from __future__ import annotations

import operator
import re

import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest

import functorch_lite as fl
import functorch_lite.numpy as fnp

XF = np.arange(6, dtype=np.float32).reshape(2, 3) - 2
XI = np.arange(6, dtype=np.int32).reshape(2, 3) - 2


def _same(got, want, exact=False):
    """``got`` (functorch_lite) matches ``want`` (jax): type of result, shape, dtype, weak
    type (except for bool, never weak here) and values."""
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want)
        for g, w in zip(got, want):
            _same(g, w, exact)
        return
    assert isinstance(got, fl.Array), type(got)
    assert (got.shape, got.dtype) == (want.shape, want.dtype)
    if got.dtype != np.bool_:
        assert got.weak_type == want.weak_type
    np.testing.assert_allclose(np.asarray(got, np.float64), np.asarray(want, np.float64),
                               rtol=0 if exact else 1e-6, atol=0 if exact else 1e-6)


def _both(fn):
    """Run ``fn(lib)`` with lib = functorch_lite.numpy and jax.numpy; compare results."""
    _same(fn(fnp), fn(jnp))


BINOPS = ["add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "and_", "or_", "xor",
          "lshift", "rshift", "eq", "ne", "lt", "le", "gt", "ge"]


@pytest.mark.parametrize("op", BINOPS)
def test_binary_operators_and_reflected(op):
    # The operators dispatch to the ufuncs (tested against jnp in test_numpy_api.py); here:
    # both operand orders (``__rop__``), Python/NumPy scalars, NumPy arrays, weak arrays.
    f = getattr(operator, op)
    bitwise = op in ("and_", "or_", "xor", "lshift", "rshift")
    cases = [(XI, 2), (XI, True), (XI, np.ones(3, np.int32)), (XI, np.int32(1))]
    if not bitwise:
        cases += [(XF, 2.5), (XF, np.float32(2)), (XI, 1.5)]
    for base, other in cases:
        _both(lambda L: f(L.asarray(base), other))
        _both(lambda L: f(other, L.asarray(base)))
    _both(lambda L: f(L.asarray(XI), L.asarray(XI)))
    _both(lambda L: f(L.asarray(2), L.asarray(XI)))  # a weak array operand


def test_numpy_array_on_the_left_defers_to_array():
    x = fnp.asarray(XF)
    for out in (np.ones(3, np.float32) + x, np.float32(2) * x, np.ones(3) < x):
        assert isinstance(out, fl.Array)
    np.testing.assert_array_equal(np.asarray(np.ones(3, np.float32) - x), 1 - XF)


def test_unary_operators_divmod_round():
    for base in (XI, XF, 2.5):
        for f in (operator.neg, operator.pos, abs):
            _both(lambda L: f(L.asarray(base)))
    _both(lambda L: ~L.asarray(XI))
    _both(lambda L: ~L.asarray(XI > 0))
    _both(lambda L: divmod(L.asarray(XI), 2))
    _both(lambda L: divmod(7, L.asarray(XI + 3)))
    _both(lambda L: round(L.asarray(2.5)))          # half to even, as an int32 array
    _both(lambda L: round(L.asarray(XF / 3), 1))


def test_matmul_operator():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.arange(12, dtype=np.float32).reshape(3, 4)
    _both(lambda L: L.asarray(a) @ L.asarray(b))
    _both(lambda L: L.asarray(a) @ b)
    _both(lambda L: a @ L.asarray(b))                # numpy on the left: __rmatmul__
    _both(lambda L: L.asarray(a) @ np.ones(3, np.int32))
    _both(lambda L: np.ones(2, np.float32) @ L.asarray(a))
    with pytest.raises(TypeError, match="contracting dimensions differ"):  # as JAX's
        fnp.asarray(a) @ fnp.asarray(a)


def test_comparisons_with_foreign_objects():
    x = fnp.asarray(XF)
    assert (x == None) is False and (x != None) is True  # noqa: E711 (Python's fallback)
    assert (x == "a") is False
    with pytest.raises(TypeError):
        x + None
    with pytest.raises(TypeError):
        x + [1, 2, 3]
    with pytest.raises(TypeError):
        x < "a"


def test_transposes_and_astype():
    x3 = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    _both(lambda L: L.asarray(x3).T)
    _both(lambda L: L.asarray(x3).mT)
    _both(lambda L: L.asarray(XF).T)
    _both(lambda L: L.asarray(2.5).T)
    with pytest.raises(ValueError, match="at least 2 dims"):
        fnp.asarray(np.ones(3)).mT
    for dtype in (np.int32, "float16", bool, ml_dtypes.bfloat16, np.uint8, np.float32):
        _both(lambda L: L.asarray(XF).astype(dtype))
        _both(lambda L: L.asarray(2.5).astype(dtype))   # astype drops the weak type
    _both(lambda L: L.asarray(XI).transpose(1, 0))
    _both(lambda L: L.asarray(XI).transpose((1, 0)))
    _both(lambda L: L.asarray(XI).transpose())
    _both(lambda L: L.asarray(XI).swapaxes(0, 1))


@pytest.mark.parametrize("method,args,kwargs", [
    ("sum", (), {}), ("sum", (0,), {}), ("sum", (), dict(axis=1, keepdims=True)),
    ("sum", (), dict(dtype=np.int32)), ("sum", (-1,), dict(where=XI > 0)), ("mean", (), {}),
    ("max", (1,), {}), ("min", (), dict(initial=-5)), ("prod", (), {}), ("std", (), {}),
    ("var", (), dict(ddof=1)), ("argmax", (), {}), ("argmin", (1,), {}), ("any", (), {}),
    ("all", (0,), {}), ("cumsum", (1,), {}), ("cumprod", (), {}), ("ptp", (), {}),
    ("reshape", (3, 2), {}), ("reshape", ((3, 2),), {}), ("reshape", (-1,), {}),
    ("reshape", (6,), {}), ("reshape", ([3, 2],), {}), ("reshape", (np.int64(6),), {}),
    ("reshape", (1, -1), {}), ("ravel", (), {}), ("flatten", (), {}), ("squeeze", (), {}),
    ("clip", (0, 1), {}), ("clip", (), dict(min=0)), ("round", (), {}), ("round", (1,), {}),
    ("conj", (), {}), ("conjugate", (), {}), ("dot", (np.ones(3, np.float32),), {}),
    ("sort", (), {}), ("argsort", (), {}), ("sort", (0,), {}), ("repeat", (2,), {}),
    ("diagonal", (), {}), ("trace", (), {}), ("take", (np.array([0, 4]),), {}),
    ("copy", (), {})])
def test_methods(method, args, kwargs):
    for base in (XF, XI):
        _both(lambda L: getattr(L.asarray(base), method)(*args, **kwargs))


def test_reshape_errors():
    x = fnp.asarray(XF)
    with pytest.raises(TypeError, match=r"cannot reshape array of shape \(2, 3\)"):
        x.reshape(4, 2)  # TypeErrors, as in JAX
    with pytest.raises(TypeError, match="one unknown dimension"):
        x.reshape(-1, -1)


def test_python_protocols():
    x, s = fnp.asarray(XF), fnp.asarray(2.5)
    jx = jnp.asarray(XF)
    assert x.item(1) == jx.item(1) and s.item() == 2.5 and isinstance(s.item(), float)
    assert fnp.asarray(3).item() == 3 and isinstance(fnp.asarray(3).item(), int)
    assert x.tolist() == jx.tolist()
    assert s.tolist() == 2.5
    assert len(x) == 2
    with pytest.raises(TypeError, match="0-d"):
        len(s)
    rows = list(x)
    assert len(rows) == 2 and all(isinstance(r, fl.Array) for r in rows)
    np.testing.assert_array_equal(np.asarray(rows[1]), XF[1])
    with pytest.raises(TypeError, match="0-d"):
        iter(s)
    assert bool(fnp.asarray([1.0])) is True and bool(fnp.asarray([[0]])) is False
    assert bool(s) is True and bool(fnp.asarray(0.0)) is False
    with pytest.raises(ValueError, match="ambiguous"):
        bool(x)
    assert int(s) == 2 and float(fnp.asarray(3)) == 3.0 and complex(s) == 2.5
    assert operator.index(fnp.asarray(3)) == 3
    assert [10, 20, 30][fnp.asarray(1)] == 20
    with pytest.raises(TypeError, match="only integer arrays"):
        operator.index(s)
    assert f"{s:.2f}" == "2.50"
    assert str(x) == str(XF)
    assert x.shape == (2, 3) and x.ndim == 2 and x.size == 6 and x.dtype == np.float32
    assert x.nbytes == 24 and s.weak_type and not x.weak_type


def test_hash_and_item_assignment_raise():
    x = fnp.asarray(XF)
    with pytest.raises(TypeError, match="unhashable"):
        hash(x)
    with pytest.raises(TypeError, match="unhashable"):
        {x: 1}
    for index in (..., 0, (0, 1), slice(None)):
        with pytest.raises(TypeError, match=r"immutable.*x\.at\[idx\]\.set"):
            x[index] = 1


@pytest.mark.parametrize("value", [XF, XI, np.float32(2.5), np.array([True, False]),
                                   np.arange(3, dtype=ml_dtypes.bfloat16),
                                   np.array(3, np.int32), np.ones((2, 2, 2), np.float16),
                                   np.zeros((0, 3), np.float32), np.zeros(0, np.int32)])
def test_repr_matches_jax(value):
    assert repr(fnp.asarray(value)) == repr(jnp.asarray(value))
    assert str(fnp.asarray(value)) == str(jnp.asarray(value))


def test_repr_weak_types():
    assert repr(fnp.asarray(2.5)) == repr(jnp.asarray(2.5))
    assert repr(fnp.asarray(3)) == repr(jnp.asarray(3))
    assert repr(fnp.asarray(True)) == repr(jnp.asarray(True))


def test_methods_work_on_tracers_under_jit():
    def f(x, y):
        return [x.T @ y, (2 - x).sum(axis=0), x.reshape(3, 2).mean(), (x > 0).astype(np.int32),
                x.max(keepdims=True), -x ** 2, x.mT, round(x[0, 0]), abs(x) // 2, 1.5 / (x + 3),
                x.astype(np.float16).sum()]
    y = np.ones((2, 4), np.float32)
    for g, e in zip(fl.jit(f)(XF, y), f(fnp.asarray(XF), fnp.asarray(y))):
        assert (g.dtype, g.shape, g.weak_type) == (e.dtype, e.shape, e.weak_type)
        np.testing.assert_allclose(np.asarray(g, np.float64), np.asarray(e, np.float64),
                                   rtol=1e-6)

    def g(x):
        with pytest.raises(TypeError, match="unhashable"):
            hash(x)
        with pytest.raises(TypeError, match="immutable"):
            x[0] = 1
        assert len(x) == 2
        return x
    fl.jit(g)(XF)


def _compiled_eagerly():
    """The ufuncs that run eagerly as one compiled executable (``compiled_when_eager``)."""
    from functorch_lite.numpy import ufuncs
    return sorted(name for name in dir(ufuncs)
                  if hasattr(getattr(ufuncs, name), "__wrapped__")
                  and getattr(getattr(ufuncs, name), "__module__", "").endswith("ufuncs"))


@pytest.mark.parametrize("name", _compiled_eagerly())
def test_compiled_eager_ufunc_gives_the_primitive_by_primitive_numbers(name):
    """An eager ufunc call runs as one cached executable; its result must be bit-identical
    (value, dtype, weak type) to running the same function primitive by primitive, for
    array/array, array/Python-scalar and scalar/array operands, repeated (cached path)."""
    import inspect
    fn = getattr(fnp, name)
    plain = fn.__wrapped__
    rng = np.random.default_rng(1)
    xf = fnp.asarray(rng.uniform(0.1, 0.9, (2, 3)).astype(np.float32))
    xi = fnp.asarray(rng.integers(1, 5, (2, 3)).astype(np.int32))
    nargs = len(inspect.signature(plain).parameters)
    cases = ([(xf,), (xi,)] if nargs == 1 else
             [(xf, xf), (xf, 0.3), (0.7, xf), (xi, xi), (xi, 2), (3, xi), (xf, 2), (xi, 0.5),
              (fnp.asarray(2.0), xf)])
    for args in cases:
        try:
            want = plain(*args)
        except TypeError:
            with pytest.raises(TypeError):
                fn(*args)
            continue
        _assert_same_twice(fn, args, want)


def _assert_same_twice(fn, args, want):
    """``fn(*args)``, first call and cached call, is ``want`` bit for bit, with its dtype
    and weak type."""
    for _ in range(2):
        got = fn(*args)
        assert (got.shape, got.dtype, got.weak_type) == (want.shape, want.dtype,
                                                         want.weak_type)
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


@pytest.mark.parametrize("name", ["matmul", "dot", "vdot", "outer", "inner", "kron"])
def test_compiled_eager_products_give_the_primitive_by_primitive_numbers(name):
    fn = getattr(fnp, name)
    assert hasattr(fn, "__wrapped__")
    rng = np.random.default_rng(2)
    m = fnp.asarray(rng.normal(size=(3, 3)).astype(np.float32))
    v = fnp.asarray(rng.normal(size=(3,)).astype(np.float32))
    mi = fnp.asarray(rng.integers(-3, 3, (3, 3)).astype(np.int32))
    for args in [(m, m), (v, v), (m, v), (v, m), (mi, m), (mi, mi)]:
        try:
            want = fn.__wrapped__(*args)
        except (TypeError, ValueError) as e:  # e.g. vdot of 9 and 3 elements
            with pytest.raises(type(e), match=re.escape(str(e))):
                fn(*args)
            continue
        _assert_same_twice(fn, args, want)


@pytest.mark.parametrize("name", ["sum", "prod", "max", "min", "all", "any", "mean", "argmax",
                                  "argmin"])
def test_compiled_eager_reductions_give_the_primitive_by_primitive_numbers(name):
    """Eager reductions run as one executable per set of options (axis, dtype, keepdims,
    ...), compiled in as constants; the numbers must be those of the primitive-by-primitive
    run, also for options equal in value but not in type (1 and True). (var and std stay
    primitive by primitive: XLA fuses their reductions in another order, 1 ulp apart.)"""
    fn = getattr(fnp, name)
    assert hasattr(fn, "__wrapped__")
    rng = np.random.default_rng(3)
    xf = fnp.asarray(rng.normal(size=(3, 4)).astype(np.float32))
    xi = fnp.asarray(rng.integers(-5, 5, (3, 4)).astype(np.int32))
    option_sets = [((), {}), ((0,), {}), ((), {"axis": 1}), ((), {"axis": 1, "keepdims": True}),
                   ((), {"axis": True}), ((), {"axis": (0, 1)}), ((-1,), {"keepdims": 1})]
    if name in ("sum", "prod", "mean"):
        option_sets += [((), {"dtype": np.float32}), ((), {"axis": 0, "dtype": np.int32})]
    for x in (xf, xi):
        for extra, kw in option_sets:
            try:
                want = fn.__wrapped__(x, *extra, **kw)
            except (TypeError, ValueError) as e:
                with pytest.raises(type(e)):
                    fn(x, *extra, **kw)
                continue
            _assert_same_twice(lambda x: fn(x, *extra, **kw), (x,), want)
    # an array-valued option is not a constant: the call runs as written
    mask = xf > 0
    if name not in ("argmax", "argmin"):
        np.testing.assert_array_equal(np.asarray(fn(xf, where=mask, **(
            {"initial": 0.0} if name in ("max", "min") else {}))), np.asarray(fn.__wrapped__(
                xf, where=mask, **({"initial": 0.0} if name in ("max", "min") else {}))))
