"""Issue 13 (part D): JAX's top-level helpers that JAX programs reach for, each run on both
libraries with JAX as the oracle: ShapeDtypeStruct, eval_shape, make_jaxpr, jacobian,
linear_transpose, typeof, device_get, clear_caches, named_call / named_scope,
ensure_compile_time_eval, local_device_count. (The IR printer's part is in
tests/core/test_ir.py.)"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite import lax

F32 = np.float32


def _same_structs(ours, theirs):
    o_leaves, o_tree = fl.tree_util.tree_flatten(ours)
    t_leaves, t_tree = jax.tree_util.tree_flatten(theirs)
    assert len(o_leaves) == len(t_leaves), (ours, theirs)
    for o, t in zip(o_leaves, t_leaves):
        assert isinstance(o, fl.ShapeDtypeStruct), o
        assert (o.shape, o.dtype, o.weak_type) == (t.shape, t.dtype, t.weak_type), (o, t)
        assert repr(o) == repr(t)


def _close(ours, theirs, **kw):
    o_leaves = fl.tree_util.tree_leaves(ours)
    t_leaves = jax.tree_util.tree_leaves(theirs)
    assert len(o_leaves) == len(t_leaves)
    for o, t in zip(o_leaves, t_leaves):
        assert np.shape(o) == np.shape(t) and np.asarray(o).dtype == np.asarray(t).dtype
        np.testing.assert_allclose(np.asarray(o), np.asarray(t), rtol=1e-6, **kw)


# ---------------------------------------------------------------------------------------
# ShapeDtypeStruct


def test_shape_dtype_struct_is_jaxs():
    for lib in (fl, jax):
        s = lib.ShapeDtypeStruct((2, 3), np.float32)
        assert (s.shape, s.dtype, s.ndim, s.size, len(s)) == ((2, 3), np.float32, 2, 6, 2)
        assert s.sharding is None and s.weak_type is False
    ours = [fl.ShapeDtypeStruct((2, 3), "float32"),
            fl.ShapeDtypeStruct((), np.float64, weak_type=True),
            fl.ShapeDtypeStruct([4], fnp.int32)]
    theirs = [jax.ShapeDtypeStruct((2, 3), "float32"),
              jax.ShapeDtypeStruct((), np.float64, weak_type=True),
              jax.ShapeDtypeStruct([4], jnp.int32)]
    assert [repr(s) for s in ours] == [repr(s) for s in theirs]
    assert [str(s) for s in ours] == [str(s) for s in theirs]
    a, b = fl.ShapeDtypeStruct((2,), F32), fl.ShapeDtypeStruct((2,), np.dtype("float32"))
    assert a == b and hash(a) == hash(b) and a != fl.ShapeDtypeStruct((2,), F32, weak_type=True)
    assert a.update(shape=(5,)) == fl.ShapeDtypeStruct((5,), F32)
    assert fl.ShapeDtypeStruct.like(fnp.ones((2, 2), fnp.int32)) == \
        fl.ShapeDtypeStruct((2, 2), np.int32)
    # A leaf, immutable, and a ValueError without a dtype, as in JAX.
    assert fl.tree_util.tree_leaves({"x": a}) == [a]
    with pytest.raises(RuntimeError):
        a.shape = (3,)
    with pytest.raises(ValueError, match="dtype"):
        fl.ShapeDtypeStruct((2,), None)
    with pytest.raises(TypeError):
        len(fl.ShapeDtypeStruct((), F32))


def test_shape_dtype_struct_accepted_by_make_jaxpr_lower_and_trace():
    f = lambda np_: lambda x, y: np_.tanh(x @ y) + 1.0  # noqa: E731
    sx, sy = ((2, 3), F32), ((3, 4), F32)
    ours = fl.make_jaxpr(f(fnp))(fl.ShapeDtypeStruct(*sx), fl.ShapeDtypeStruct(*sy))
    theirs = jax.make_jaxpr(f(jnp))(jax.ShapeDtypeStruct(*sx), jax.ShapeDtypeStruct(*sy))
    assert ours.in_avals == [fl.typeof(np.ones(sx[0], F32)), fl.typeof(np.ones(sy[0], F32))]
    assert [str(a) for a in ours.out_avals] == [str(a) for a in theirs.out_avals]
    assert [e.primitive.name for e in ours.jaxpr.eqns] == \
        [e.primitive.name for e in theirs.jaxpr.eqns]
    jf = fl.jit(f(fnp))
    lowered = jf.lower(fl.ShapeDtypeStruct(*sx), fl.ShapeDtypeStruct(*sy))
    assert "tensor<2x3xf32>" in lowered.as_text() and "tensor<2x4xf32>" in lowered.as_text()
    x, y = np.ones(sx[0], F32), np.ones(sy[0], F32)
    np.testing.assert_allclose(np.asarray(lowered.compile()(x, y)), np.tanh(x @ y) + 1.0,
                               rtol=1e-6)
    # Float64 without x64 is traced as float32, as JAX canonicalizes it.
    prog = fl.make_jaxpr(lambda v: v * 2)(fl.ShapeDtypeStruct((3,), np.float64))
    assert str(prog) == str(jax.make_jaxpr(lambda v: v * 2)(
        jax.ShapeDtypeStruct((3,), np.float64)))


# ---------------------------------------------------------------------------------------
# eval_shape


def _eval_shape_cases(lib, np_):
    S = lib.ShapeDtypeStruct
    return {
        "array": (lambda x: x * 2, (np_.ones(3),), {}),
        "python scalar stays weak": (lambda x: x * 2, (1.0,), {}),
        "weak struct": (lambda x: x + 1, (S((), np.float32, weak_type=True),), {}),
        "dict out with a literal": (lambda x, y: {"a": x @ y, "b": 3},
                                    (S((2, 3), np.float32), np.ones((3, 4), F32)), {}),
        "kwargs": (lambda x, *, y: x + y, (1.0,), {"y": np.ones(2, F32)}),
        "int promotion": (lambda x: x / 2, (S((4,), np.int32),), {}),
        "float64 struct": (lambda x: x.sum(), (S((3,), np.float64),), {}),
        "tuple and None": (lambda t: (t[0].T, None, t[1].astype(np.int8)),
                           ((S((2, 5), np.float32), S((), np.bool_)),), {}),
        "jit inside": (lib.jit(lambda x: np_.sin(x).mean(0)), (S((7, 2), np.float16),), {}),
        "control flow": (lambda x: lib.lax.scan(lambda c, t: (c + t, c * t), x[0], x)[1],
                         (S((5, 3), np.float32),), {}),
    }


@pytest.mark.parametrize("name", list(_eval_shape_cases(fl, fnp)))
def test_eval_shape_matches_jax(name):
    f, args, kwargs = _eval_shape_cases(fl, fnp)[name]
    g, jargs, jkwargs = _eval_shape_cases(jax, jnp)[name]
    _same_structs(fl.eval_shape(f, *args, **kwargs), jax.eval_shape(g, *jargs, **jkwargs))


def test_eval_shape_runs_nothing_and_accepts_duck_typed_arguments():
    calls = []

    def f(x):
        calls.append(type(x).__name__)
        return fnp.exp(x)

    class Duck:
        shape, dtype = (2, 2), np.float32

    out = fl.eval_shape(f, Duck())
    assert out == fl.ShapeDtypeStruct((2, 2), F32)
    _same_structs(out, jax.eval_shape(jnp.exp, Duck()))
    assert calls and "Array" not in calls[0]  # traced, not run on a device array


def test_eval_shape_errors_are_type_errors():
    with pytest.raises(TypeError, match="argument x of type str"):
        fl.eval_shape(lambda x: x, "a")
    with pytest.raises(TypeError):
        jax.eval_shape(lambda x: x, "a")
    with pytest.raises(TypeError, match="returned a value of type str"):
        fl.eval_shape(lambda x: "a", 1.0)


# ---------------------------------------------------------------------------------------
# make_jaxpr, jacobian


def test_make_jaxpr_is_make_ir_with_jaxs_options():
    f = lambda np_: lambda x, n: np_.sin(x) * n  # noqa: E731
    ours = fl.make_jaxpr(f(fnp), static_argnums=1)(np.ones(3, F32), 3)
    theirs = jax.make_jaxpr(f(jnp), static_argnums=1)(np.ones(3, F32), 3)
    assert str(ours) == str(theirs)
    assert [e.primitive.name for e in ours.jaxpr.eqns] == ["sin", "mul"]
    assert ours.jaxpr.eqns[1].invars[0] is ours.jaxpr.eqns[0].outvars[0]
    prog, shapes = fl.make_jaxpr(lambda x: {"y": x * 2, "s": x.sum()},
                                 return_shape=True)(np.ones(3, F32))
    _, jshapes = jax.make_jaxpr(lambda x: {"y": x * 2, "s": x.sum()},
                                return_shape=True)(np.ones(3, F32))
    _same_structs(shapes, jshapes)
    assert len(prog.out_avals) == 2


def test_jacobian_is_jacrev():
    assert fl.jacobian is fl.jacrev  # JAX's jacobian is jacrev too (under another name)
    f = lambda np_: lambda x, y: np_.sin(x) * y.sum()  # noqa: E731
    x, y = np.linspace(0, 1, 3, dtype=F32), np.ones(2, F32)
    _close(fl.jacobian(f(fnp), argnums=(0, 1))(x, y),
           jax.jacobian(f(jnp), argnums=(0, 1))(x, y), atol=1e-6)


# ---------------------------------------------------------------------------------------
# linear_transpose


def _transpose_cases(lib, np_):
    S = lib.ShapeDtypeStruct
    return {
        "scalars": (lambda x, y: (x * 2.0 + y, -x), (1.0, 2.0), (3.0, 4.0)),
        "docstring": (lambda x, y: 0.5 * x - 0.5 * y, (S((), np.float32),) * 2, 1.0),
        "reduction": (lambda x: np_.sum(x * np.arange(3, dtype=F32)),
                      (np.ones(3, F32),), F32(2.0)),
        "matmul on a struct": (lambda x: x @ np.ones((3, 2), F32), (S((4, 3), np.float32),),
                               np.ones((4, 2), F32)),
        "pytrees": (lambda d: {"a": d["p"] * 3.0, "b": np_.cumsum(d["q"])},
                    ({"p": np.ones(2, F32), "q": np.ones(3, F32)},),
                    {"a": np.ones(2, F32), "b": np.arange(3, dtype=F32)}),
        "unused input": (lambda x, y: x * 2.0, (np.ones(2, F32), np.ones(3, F32)),
                         np.ones(2, F32)),
    }


@pytest.mark.parametrize("name", list(_transpose_cases(fl, fnp)))
def test_linear_transpose_matches_jax(name):
    f, primals, ct = _transpose_cases(fl, fnp)[name]
    g, jprimals, jct = _transpose_cases(jax, jnp)[name]
    ours = fl.linear_transpose(f, *primals)(ct)
    theirs = jax.linear_transpose(g, *jprimals)(jct)
    assert isinstance(ours, tuple) and len(ours) == len(theirs)
    _close(ours, theirs)
    for o, t in zip(fl.tree_util.tree_leaves(ours), jax.tree_util.tree_leaves(theirs)):
        assert isinstance(o, fl.Array) and o.weak_type == t.weak_type


def test_linear_transpose_errors_like_jax():
    for lib, np_ in ((fl, fnp), (jax, jnp)):
        with pytest.raises(TypeError, match="linear_transpose only supports"):
            lib.linear_transpose(lambda x: x.astype(np.int32), np.ones(2, F32))
        f_t = lib.linear_transpose(lambda x: (x, x), np.ones(2, F32))
        with pytest.raises(TypeError, match="cotangent tree does not match"):
            f_t(np.ones(2, F32))
        with pytest.raises(TypeError, match="cotangent type does not match"):
            f_t((np.ones(2, F32), np.ones(3, F32)))


# ---------------------------------------------------------------------------------------
# typeof, device_get, local_device_count


@pytest.mark.parametrize("make", [lambda np_: 1.0, lambda np_: 3,
                                  lambda np_: np_.ones((2, 3)),
                                  lambda np_: np_.ones(4, np_.bfloat16),
                                  lambda np_: np_.zeros(2, bool),
                                  lambda np_: np.int32(7),
                                  lambda np_: np.ones((1, 2), np.float64)])
def test_typeof_prints_like_jax(make):
    ours, theirs = fl.typeof(make(fnp)), jax.typeof(make(jnp))
    assert (ours.shape, ours.dtype, ours.weak_type) == \
        (theirs.shape, theirs.dtype, theirs.weak_type)
    assert str(ours) == str(theirs) and repr(ours) == repr(theirs)


def test_typeof_of_a_tracer():
    seen = {}

    def f(np_, lib, key):
        def g(x):
            seen[key] = str(lib.typeof(x))
            return x
        return g

    fl.jit(f(fnp, fl, "ours"))(np.ones(3, F32))
    jax.jit(f(jnp, jax, "theirs"))(np.ones(3, F32))
    assert seen["ours"] == seen["theirs"] == "float32[3]"


def test_device_get_like_jax():
    tree = lambda np_: {"a": np_.arange(3.0), "b": 3, "c": "text", "d": np.ones(2),  # noqa
                        "e": (np.float32(2.0), None)}
    ours, theirs = fl.device_get(tree(fnp)), jax.device_get(tree(jnp))
    assert fl.tree_util.tree_structure(ours) == fl.tree_util.tree_structure(theirs)
    for o, t in zip(fl.tree_util.tree_leaves(ours), jax.tree_util.tree_leaves(theirs)):
        assert type(o) is type(t)
        if isinstance(t, np.ndarray):
            assert o.dtype == t.dtype
            np.testing.assert_array_equal(o, t)
        else:
            assert o == t
    assert type(fl.device_get(fnp.ones(2))) is np.ndarray and fl.device_get(5) == 5


def test_local_device_count():
    assert fl.local_device_count() == len(fl.local_devices()) >= 1
    assert fl.local_device_count("cpu") == jax.local_device_count("cpu")


# ---------------------------------------------------------------------------------------
# clear_caches


def test_clear_caches_forces_a_retrace_and_keeps_results_right():
    traces = []

    def f(x):
        traces.append(1)
        return fnp.sin(x) * 2.0

    jf = fl.jit(f)
    x = np.linspace(0, 1, 4, dtype=F32)
    jf(x)
    grad_before = fl.grad(lambda v: jf(v).sum())(x)
    jf(x)
    assert len(traces) == 1
    fl.clear_caches()
    jax.clear_caches()
    np.testing.assert_allclose(np.asarray(jf(x)), np.sin(x) * 2.0, rtol=1e-6)
    assert len(traces) == 2  # traced again
    np.testing.assert_allclose(np.asarray(fl.grad(lambda v: jf(v).sum())(x)),
                               np.asarray(grad_before), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(fnp.cos(x)), np.cos(x), rtol=1e-6)  # eager


# ---------------------------------------------------------------------------------------
# named_call, named_scope


def test_named_call_and_named_scope_keep_values():
    def f(np_, lib):
        @lib.named_scope("block")
        def layer(x):
            with lib.named_scope("inner"):
                return np_.tanh(x) * 2.0
        g = lib.named_call(layer, name="my_layer")
        return lambda x: g(x) + lib.named_call(np_.sin)(x)

    x = np.linspace(-1, 1, 5, dtype=F32)
    _close(fl.jit(f(fnp, fl))(x), jax.jit(f(jnp, jax))(x))
    _close(f(fnp, fl)(x), f(jnp, jax)(x))
    # As in JAX the names do not show in the printed program.
    assert str(fl.make_jaxpr(f(fnp, fl))(x)) == str(fl.make_jaxpr(
        lambda v: fnp.tanh(v) * 2.0 + fnp.sin(v))(x))
    for lib in (fl, jax):
        with pytest.raises(TypeError, match="must be a string"):
            lib.named_scope(3)


# ---------------------------------------------------------------------------------------
# ensure_compile_time_eval


def _compile_time(np_, lib, log):
    @lib.jit
    def f(x):
        with lib.ensure_compile_time_eval():
            y = np_.arange(3) * 2
            log.append(int(y.sum()))              # concrete while tracing
            if y.sum() > 3:                       # Python control flow on it works
                y = y + 1
            z = x + 1                             # a traced input is still traced
        return y, z * y.shape[0]
    return f


def test_ensure_compile_time_eval_inside_jit_like_jax():
    ours_log, jax_log = [], []
    x = np.float32(1.5)
    _close(_compile_time(fnp, fl, ours_log)(x), _compile_time(jnp, jax, jax_log)(x))
    assert ours_log == jax_log == [6]
    # The concrete part is a constant of the program; only the add and mul are traced.
    prog = fl.make_jaxpr(_compile_time(fnp, fl, []))(x)
    inner = prog.jaxpr.eqns[0].params["program"]
    assert sorted(e.primitive.name for e in inner.eqns) == ["add", "mul"]


def test_ensure_compile_time_eval_outside_and_under_other_transformations():
    with fl.ensure_compile_time_eval():
        np.testing.assert_array_equal(np.asarray(fnp.ones(2) + 1), [2.0, 2.0])

    def f(x):
        with fl.ensure_compile_time_eval():
            n = int(fnp.arange(4).sum())
        return x * n + lax.stop_gradient(x)

    np.testing.assert_allclose(np.asarray(fl.grad(f)(1.0)), 6.0)
    np.testing.assert_allclose(np.asarray(fl.vmap(f)(np.ones(3, F32))), np.full(3, 7.0))
    np.testing.assert_allclose(np.asarray(fl.jit(fl.grad(f))(1.0)), 6.0)
