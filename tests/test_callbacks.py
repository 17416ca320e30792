"""Host callbacks: ``fl.pure_callback``, ``fl.debug.callback`` and ``fl.debug.print``,
eagerly and under jit, grad and vmap (and their compositions), against JAX's own callbacks
as the oracle for values, printed text and what the callback is handed under each
``vmap_method``."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite import lax
from functorch_lite.core import passes
from functorch_lite.lax.callbacks import debug_callback_p, pure_callback_p


def host_sin(x):
    return np.sin(x).astype(x.dtype)


def sds(x):
    return fl.ShapeDtypeStruct(x.shape, x.dtype)


# ---------------------------------------------------------------------------------------
# pure_callback

@pytest.mark.parametrize("jit", [False, True])
def test_pure_callback_values_pytrees_and_kwargs(jit):
    def f(x, y):
        def host(a, pair, *, scale):
            return {"s": np.sin(a).astype(np.float32) * scale,
                    "n": np.int32(pair[0].size + pair[1].size)}
        out = {"s": fl.ShapeDtypeStruct(x.shape, fnp.float32),
               "n": fl.ShapeDtypeStruct((), fnp.int32)}
        return fl.pure_callback(host, out, x, (y, y[:2]), scale=2.0)
    f = fl.jit(f) if jit else f
    x, y = fnp.arange(3.0), fnp.ones(4)
    out = f(x, y)
    np.testing.assert_allclose(out["s"], 2 * np.sin(np.arange(3.0)), rtol=1e-6)
    assert int(out["n"]) == 6 and out["n"].dtype == np.int32


def test_pure_callback_receives_numpy_and_matches_jax():
    seen = []

    def host(x):
        seen.append(type(x))
        return host_sin(x)
    x = np.linspace(-1, 1, 5).astype(np.float32)
    ours = fl.jit(lambda x: fl.pure_callback(host, sds(x), x) * 3)(x)
    theirs = jax.jit(lambda x: jax.pure_callback(host_sin, jax.ShapeDtypeStruct(x.shape,
                                                                                x.dtype), x) * 3)(x)
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))
    assert seen == [np.ndarray]


def test_pure_callback_checks_what_the_callback_returns():
    x = fnp.ones(3)
    with pytest.raises(RuntimeError, match=r"result 0 of <lambda> has shape \(1,\), expected "
                                           r"\(3,\)"):
        fl.pure_callback(lambda v: v[:1], sds(x), x)
    with pytest.raises(RuntimeError, match="dtype int32, expected float32"):
        fl.pure_callback(lambda v: v.astype(np.int32), sds(x), x)
    with pytest.raises(RuntimeError, match="returned 2 arrays, expected 1"):
        fl.pure_callback(lambda v: (v, v), sds(x), x)
    # Under jit the same check fails when the program runs; XLA reports our message.
    with pytest.raises(Exception, match="has shape"):
        fl.jit(lambda v: fl.pure_callback(lambda a: a[:1], sds(v), v))(x).block_until_ready()


def test_pure_callback_bad_arguments():
    x = fnp.ones(3)
    with pytest.raises(ValueError, match="vmap_method must be one of"):
        fl.pure_callback(host_sin, sds(x), x, vmap_method="vectorized")
    with pytest.raises(TypeError, match="result_shape_dtypes"):
        fl.pure_callback(host_sin, [3], x)


def test_pure_callback_is_not_differentiable_but_custom_jvp_makes_it_so():
    with pytest.raises(ValueError, match="Pure callbacks do not support JVP"):
        fl.grad(lambda x: fl.pure_callback(host_sin, sds(x), x).sum())(fnp.ones(3))

    @fl.custom_jvp
    def sin(x):
        return fl.pure_callback(host_sin, sds(x), x)

    @sin.defjvp
    def _(primals, tangents):
        (x,), (t,) = primals, tangents
        return sin(x), fl.pure_callback(lambda v: np.cos(v).astype(v.dtype), sds(x), x) * t
    x = fnp.asarray(np.linspace(-2, 2, 7).astype(np.float32))
    np.testing.assert_allclose(fl.jit(fl.grad(lambda x: sin(x).sum()))(x), np.cos(x),
                               rtol=1e-6)


def test_unused_pure_callback_is_dropped_under_jit():
    calls = []

    def host(x):
        calls.append(1)
        return x
    out = fl.jit(lambda x: (fl.pure_callback(host, sds(x), x), x + 1)[1])(fnp.ones(2))
    np.testing.assert_array_equal(out, [2.0, 2.0])
    assert calls == []


def _record(log):
    def host(*args):
        log.append(tuple(np.shape(a) for a in args))
        return args[0] * 2 + args[1].sum()
    return host


@pytest.mark.parametrize("method", ["sequential", "sequential_unrolled", "expand_dims",
                                    "broadcast_all", "legacy_vectorized"])
@pytest.mark.parametrize("jit", [False, True])
def test_pure_callback_vmap_methods_match_jax(method, jit):
    x = np.arange(6.0, dtype=np.float32).reshape(3, 2)
    y = np.arange(2.0, dtype=np.float32)
    ours_log, jax_log = [], []

    def ours(x, y):
        return fl.pure_callback(_record(ours_log), sds(x), x, y, vmap_method=method)

    def theirs(x, y):
        return jax.pure_callback(_record(jax_log), jax.ShapeDtypeStruct(x.shape, x.dtype),
                                 x, y, vmap_method=method)
    f = fl.vmap(ours, in_axes=(0, None))
    g = jax.vmap(theirs, in_axes=(0, None))
    if jit:
        f, g = fl.jit(f), jax.jit(g)
    np.testing.assert_array_equal(np.asarray(f(x, y)), np.asarray(g(x, y)))
    assert ours_log == jax_log


def test_pure_callback_vmap_needs_a_method():
    with pytest.raises(NotImplementedError, match="vmap of pure_callback needs vmap_method"):
        fl.vmap(lambda x: fl.pure_callback(host_sin, sds(x), x))(fnp.ones((2, 3)))


# ---------------------------------------------------------------------------------------
# debug.callback and debug.print

def _calls():
    log = []
    return log, lambda *a, **k: log.append(
        (tuple(np.asarray(v).tolist() for v in a),
         {k_: np.asarray(v).tolist() for k_, v in k.items()}))


@pytest.mark.parametrize("jit", [False, True])
def test_debug_callback_sees_runtime_values(jit):
    log, cb = _calls()

    def f(x):
        fl.debug.callback(cb, x, scale=x.sum())
        return x * 2
    f = fl.jit(f) if jit else f
    out = f(fnp.arange(3.0))
    f(fnp.arange(3.0) + 1)
    np.testing.assert_array_equal(out, [0.0, 2.0, 4.0])
    assert log == [(([0.0, 1.0, 2.0],), {"scale": 3.0}), (([1.0, 2.0, 3.0],), {"scale": 6.0})]


def test_debug_callback_returns_none_and_survives_dce():
    log, cb = _calls()
    assert fl.debug.callback(cb, 1.0) is None
    closed = fl.make_ir(lambda x: (fl.debug.callback(cb, x), fl.debug.callback(cb, x),
                                   x + 1)[2])(fnp.ones(2))
    kept = passes.simplify(closed)
    prims = [e.primitive for e in kept.program.eqns]
    # Both calls stay (no CSE between effects), nothing returned depends on them.
    assert prims.count(debug_callback_p) == 2
    # And a jit whose callback sits inside a nested jit keeps it too.
    inner = fl.jit(lambda x: (fl.debug.callback(cb, x), x)[1])
    fl.jit(lambda x: (inner(x), x * 3)[1])(fnp.ones(2))
    assert len(log) == 2 and log[-1] == (([1.0, 1.0],), {})


@pytest.mark.parametrize("wrap", ["plain", "jit", "jit_inside"])
def test_debug_callback_under_grad_sees_primals_once(wrap):
    log, cb = _calls()

    def f(x):
        fl.debug.callback(cb, x)
        return (x ** 2).sum()
    if wrap == "jit_inside":
        g = fl.grad(fl.jit(f))
    else:
        g = fl.grad(f)
        g = fl.jit(g) if wrap == "jit" else g
    np.testing.assert_array_equal(g(fnp.arange(3.0)), [0.0, 2.0, 4.0])
    assert log == [(([0.0, 1.0, 2.0],), {})]


@pytest.mark.parametrize("jit", [False, True])
def test_debug_callback_under_vmap_is_called_per_element(jit):
    log, cb = _calls()
    f = fl.vmap(lambda x, y: fl.debug.callback(cb, x, y), in_axes=(0, None))
    f = fl.jit(f) if jit else f
    f(fnp.arange(6.0).reshape(3, 2), fnp.float32(7))
    assert log == [(([0.0, 1.0], 7.0), {}), (([2.0, 3.0], 7.0), {}), (([4.0, 5.0], 7.0), {})]


def test_debug_callback_in_control_flow_and_ordered_calls():
    log, cb = _calls()

    def body(c, x):
        fl.debug.callback(cb, c, x, ordered=True)
        return c + x, c
    fl.jit(lambda xs: lax.scan(body, 0.0, xs))(fnp.arange(3.0))
    assert log == [((0.0, 0.0), {}), ((0.0, 1.0), {}), ((1.0, 2.0), {})]
    log.clear()
    pick = fl.jit(lambda p, x: lax.cond(p, lambda x: (fl.debug.callback(cb, x), x)[1],
                                        lambda x: -x, x))
    pick(False, 1.0)
    pick(True, 2.0)
    assert log == [((2.0,), {})]
    log.clear()

    def many(x):
        for i in range(6):
            fl.debug.callback(cb, x + i, ordered=True)
        return x
    fl.jit(many)(fnp.float32(0))
    assert [a[0][0] for a in log] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]


def test_debug_callback_error_surfaces():
    def boom(x):
        raise KeyError("boom inside callback")
    with pytest.raises(KeyError, match="boom inside callback"):
        fl.debug.callback(boom, fnp.ones(2))
    with pytest.raises(Exception, match="boom inside callback"):
        fl.jit(lambda x: (fl.debug.callback(boom, x), x)[1])(fnp.ones(2)).block_until_ready()


def _printed(capsys, fn):
    capsys.readouterr()
    jax.block_until_ready(fn()) if fn is not None else None
    jax.effects_barrier()
    return capsys.readouterr().out


@pytest.mark.parametrize("case", ["eager", "jit", "vmap", "grad"])
def test_debug_print_text_matches_jax(capsys, case):
    x = np.array([0.5, 1.5, -2.0], np.float32)

    def body(print_, x):
        print_("x = {x}, sum = {} and {:.2f}", x.sum(), x[0], x=x)
        return (x * x).sum()

    def run(mod, print_, transforms):
        f = lambda x: body(print_, x)  # noqa: E731
        if case == "jit":
            f = transforms.jit(f)
        elif case == "vmap":
            return lambda: transforms.vmap(f)(np.stack([x, x + 1]))
        elif case == "grad":
            f = transforms.jit(transforms.grad(f))
        return lambda: f(mod.asarray(x))
    ours = _printed(capsys, run(fnp, fl.debug.print, fl))
    theirs = _printed(capsys, run(jnp, jax.debug.print, jax))
    assert ours == theirs and ours.count("\n") == (2 if case == "vmap" else 1)


def test_debug_print_format_errors_come_at_trace_time():
    # JAX raises str.format's own IndexError / KeyError when tracing; so do we.
    with pytest.raises(IndexError):
        jax.jit(lambda x: jax.debug.print("{} {}", x))(np.ones(2))
    with pytest.raises(KeyError):
        jax.debug.print("{y}", x=1.0)
    with pytest.raises(IndexError):
        jax.debug.print("{2}", 1.0, 2.0)
    with pytest.raises(IndexError, match="more '{}' fields"):
        fl.jit(lambda x: fl.debug.print("{} {}", x))(fnp.ones(2))
    with pytest.raises(KeyError, match="refers to 'y'"):
        fl.debug.print("{y}", x=1.0)
    with pytest.raises(IndexError, match="positional argument 2"):
        fl.debug.print("{2}", 1.0, 2.0)
    with pytest.raises(TypeError, match="format must be a str"):
        fl.debug.print(3, 1.0)


# ---------------------------------------------------------------------------------------
# Lowering

def test_lowering_names_the_python_callback_and_refuses_partitioned_programs():
    text = fl.jit(lambda x: (fl.debug.print("{}", x), x)[1]).lower(fnp.ones(2)).as_text()
    assert "xla_ffi_python_cpu_callback" in text and "has_side_effect = true" in text
    from xla_bridge.lowering import lower_program
    closed = fl.make_ir(lambda x: fl.pure_callback(host_sin, sds(x), x))(fnp.ones(2))
    program, _ = closed.consts_as_inputs()
    callbacks = []
    lower_program(program, host_callbacks=callbacks)
    assert len(callbacks) == 1
    with pytest.raises(NotImplementedError, match="partitioned over several devices"):
        lower_program(program, num_partitions=2)


def test_primitives_are_registered_with_the_right_flags():
    assert debug_callback_p.effectful and not pure_callback_p.effectful


def test_callbacks_in_a_program_with_shardings_are_refused():
    from functorch_lite.sharding import NamedSharding, P
    rows = NamedSharding(fl.make_mesh((1,), ("d",)), P("d"))
    f = fl.jit(lambda x: (fl.debug.print("{}", x), x * 2)[1], in_shardings=rows)
    with pytest.raises(NotImplementedError, match="program with shardings"):
        f(fnp.ones(2))


def test_a_jitted_call_returns_after_its_callbacks_ran():
    import time
    done = []

    def slow(x):
        time.sleep(0.05)
        done.append(x.copy())
    f = fl.jit(lambda x: fl.debug.callback(slow, x))
    for i in range(3):
        f(fnp.full(2, float(i)))      # no outputs to wait on: the call itself waits
        assert len(done) == i + 1


def test_a_print_of_tangents_in_a_custom_jvp_rule_matches_jax(capsys):
    """jvp prints the tangent; grad transposes the print away (nothing is printed)."""
    def make(lib, print_):
        @lib.custom_jvp
        def f(x):
            return x * 2

        @f.defjvp
        def _(primals, tangents):
            print_("tangent {}", tangents[0])
            return f(primals[0]), tangents[0] * 2
        return f
    f, g = make(fl, fl.debug.print), make(jax, jax.debug.print)
    x, t = np.ones(2, np.float32), np.full(2, 3.0, np.float32)
    assert _printed(capsys, lambda: fl.jvp(f, (x,), (t,))) == \
        _printed(capsys, lambda: jax.jvp(g, (x,), (t,))) == "tangent [3. 3.]\n"
    assert _printed(capsys, lambda: fl.grad(lambda v: f(v).sum())(x)) == \
        _printed(capsys, lambda: jax.grad(lambda v: g(v).sum())(x)) == ""
    assert _printed(capsys, lambda: fl.jit(fl.grad(lambda v: f(v).sum()))(x)) == ""
