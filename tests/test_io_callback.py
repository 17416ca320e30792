"""``fl.experimental.io_callback`` against ``jax.experimental.io_callback`` as the oracle:
results (values, shapes, dtypes, pytrees), how many times and in which order the callback
runs (eagerly, under jit, in loop and cond bodies, with its result unused), vmap, the
errors of differentiation and of bad declarations, and the lowered text."""
from types import SimpleNamespace

import jax
import jax.experimental
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import functorch_lite as fl
import functorch_lite.experimental as experimental
import functorch_lite.numpy as fnp
from functorch_lite import lax
from functorch_lite.core import passes
from functorch_lite.lax.callbacks import io_callback_p
from helpers import assert_same
from rule_checks import x64

io_callback = experimental.io_callback
f32 = np.float32

# The same snippet runs on either library through one of these.
OURS = SimpleNamespace(io=io_callback, sds=fl.ShapeDtypeStruct, jit=fl.jit, vmap=fl.vmap,
                       grad=fl.grad, lax=lax, stop_gradient=lax.stop_gradient,
                       debug=fl.debug)
JAX = SimpleNamespace(io=jax.experimental.io_callback, sds=jax.ShapeDtypeStruct, jit=jax.jit,
                      vmap=jax.vmap, grad=jax.grad, lax=jax.lax,
                      stop_gradient=jax.lax.stop_gradient, debug=jax.debug)


def recorder():
    """A callback that logs the values it is handed (as Python lists) and returns twice its
    first argument, plus a log to read."""
    log = []

    def host(x, *rest):
        log.append(tuple(np.asarray(v).tolist() for v in (x, *rest)))
        return x * 2
    return log, host


def both(case, *args):
    """``case(L, host)`` run on our library and on JAX's; (result, log) for each."""
    out = []
    for L in (OURS, JAX):
        log, host = recorder()
        result = case(L, host)(*args)
        jax.block_until_ready(result)
        jax.effects_barrier()
        out.append((result, log))
    return out


def like(L, x):
    """The declaration of a result shaped like ``x`` (an array, tracer or scalar)."""
    x = x if hasattr(x, "dtype") else np.asarray(x)
    return L.sds(np.shape(x), x.dtype)


# ---------------------------------------------------------------------------------------
# Results

@pytest.mark.parametrize("jit", [False, True])
def test_results_pytrees_kwargs_and_dtypes_match_jax(jit):
    def case(L):
        def host(a, pair, *, scale):
            # A Python float and a float64 array come back as float32 (no x64), as in JAX.
            return {"s": np.sin(a).astype(np.float64) * scale,
                    "n": np.int32(pair[0].size + pair[1].size), "c": 1.5}
        out = {"s": L.sds((3,), np.float32), "n": L.sds((), np.int32),
               "c": L.sds((), np.float32)}

        def f(x, y):
            return L.io(host, out, x, (y, y[:2]), scale=2.0)
        return L.jit(f) if jit else f
    x, y = np.arange(3.0, dtype=np.float32), np.ones(4, np.float32)
    ours, theirs = case(OURS)(x, y), case(JAX)(x, y)
    assert set(ours) == set(theirs)
    for k in theirs:
        assert_same(ours[k], theirs[k], tol=1e-6)


def test_callback_receives_numpy_arrays_of_the_program_dtypes():
    seen = []

    def host(x, n):
        seen.append((type(x), x.dtype, type(n), n.dtype))
        return x
    f = fl.jit(lambda x: io_callback(host, fl.ShapeDtypeStruct(x.shape, x.dtype), x, 3))
    io_callback(host, fl.ShapeDtypeStruct((2,), fnp.float32), fnp.ones(2), 3)
    f(fnp.ones(2))
    assert seen == [(np.ndarray, np.float32, np.ndarray, np.int32)] * 2


def test_float64_results_under_x64_match_jax():
    x = np.linspace(0, 1, 4)
    with x64():
        jax.config.update("jax_enable_x64", True)
        ours = fl.jit(lambda v: io_callback(np.cos, like(OURS, v), v))(x)
        theirs = jax.jit(lambda v: jax.experimental.io_callback(np.cos, like(JAX, v), v))(x)
        assert_same(ours, theirs, tol=1e-12)
        assert np.asarray(ours).dtype == np.float64


# ---------------------------------------------------------------------------------------
# How many times, and in which order, the callback runs

def _eager_unused(L, host):
    return lambda x: (L.io(host, like(L, x), x), x + 1)[1]


def _jit_unused(L, host):
    return L.jit(_eager_unused(L, host))


def _jit_twice_identical(L, host):
    # Two identical calls are two effects: neither merged nor dropped.
    return L.jit(lambda x: (L.io(host, like(L, x), x), L.io(host, like(L, x), x), x)[2])


def _nested_jit_unused(L, host):
    inner = L.jit(lambda x: (L.io(host, like(L, x), x), x * 3)[1])
    return L.jit(lambda x: (inner(x), x + 1)[1])


def _scan_body(L, host):
    # The second call's argument is the same in every iteration; it still runs each time.
    def body(c, t):
        L.io(host, like(L, t), t)
        L.io(host, like(L, f32(1)), f32(1))
        return c + t, c
    return L.jit(lambda xs: L.lax.scan(body, np.float32(0), xs))


def _fori_static(L, host):
    def body(i, c):
        L.io(host, like(L, i), i)
        return c + 1
    return L.jit(lambda x: L.lax.fori_loop(0, 3, body, x))


def _fori_dynamic(L, host):
    # A trip count known only when the program runs: a while loop.
    def body(i, c):
        L.io(host, like(L, c), c)
        return c + 1
    return L.jit(lambda x, n: L.lax.fori_loop(0, n, body, x))


def _cond(L, host):
    def taken(x):
        L.io(host, like(L, x), x)
        return x + 1
    return L.jit(lambda p, x: (L.lax.cond(p, taken, lambda x: x - 1, x),
                               L.lax.cond(~p, taken, lambda x: x - 1, x + 10)))


def _ordered(L, host):
    def f(x):
        for i in range(6):
            L.io(host, like(L, x), x + i, ordered=True)
        return x
    return L.jit(f)


def _ordered_in_scan(L, host):
    def body(c, t):
        y = L.io(host, like(L, c), c, t, ordered=True)
        L.io(host, like(L, c), -c, t, ordered=True)
        return y + t, c
    return L.jit(lambda xs: L.lax.scan(body, np.float32(1), xs))


CASES = [
    # (case, args, expected number of calls, whether the order is defined)
    (_eager_unused, (np.arange(2, dtype=f32),), 1, True),
    (_jit_unused, (np.arange(2, dtype=f32),), 1, True),
    (_jit_twice_identical, (np.arange(2, dtype=f32),), 2, False),
    (_nested_jit_unused, (np.arange(2, dtype=f32),), 1, True),
    (_scan_body, (np.arange(3, dtype=f32),), 6, False),
    (_fori_static, (f32(0),), 3, True),
    (_fori_dynamic, (f32(0), 4), 4, True),
    (_cond, (True, f32(5)), 0 + 1, True),
    (_ordered, (f32(0),), 6, True),
    (_ordered_in_scan, (np.arange(3, dtype=f32),), 6, True),
]


@pytest.mark.parametrize("case,args,calls,in_order", CASES,
                         ids=[c[0].__name__.strip("_") for c in CASES])
def test_side_effects_happen_as_in_jax(case, args, calls, in_order):
    (ours, our_log), (theirs, their_log) = both(case, *args)
    jax.tree_util.tree_map(lambda o, t: assert_same(o, t), ours, theirs)
    assert len(our_log) == calls
    if in_order:
        assert our_log == their_log
    else:   # unordered calls of one iteration may run in either order
        assert sorted(our_log) == sorted(their_log)


def test_ordered_calls_run_in_program_order_each_call():
    log, host = recorder()
    f = fl.jit(lambda x: [io_callback(host, like(OURS, x), x * k, ordered=True)
                          for k in (3, 1, 2)][0])
    for start in (1.0, 10.0):
        np.testing.assert_array_equal(f(np.float32(start)), 6 * start)
    assert [v[0] for v in log] == [3.0, 1.0, 2.0, 30.0, 10.0, 20.0]


def test_simplify_keeps_every_call():
    log, host = recorder()
    closed = fl.make_ir(lambda x: (io_callback(host, like(OURS, x), x),
                                   io_callback(host, like(OURS, x), x), x + 1)[2])(fnp.ones(2))
    prims = [e.primitive for e in passes.simplify(closed).program.eqns]
    assert prims.count(io_callback_p) == 2 and io_callback_p.effectful


# ---------------------------------------------------------------------------------------
# vmap

def _shapes_seen(L, host):
    def logged(x, y):
        host(np.asarray(x.shape), np.asarray(y.shape))
        return x + y
    return logged


@pytest.mark.parametrize("jit", [False, True])
def test_vmap_runs_one_call_per_element_as_jax(jit):
    def case(L, host):
        f = L.vmap(lambda x, y: L.io(_shapes_seen(L, host), like(L, x), x, y), in_axes=(0, None))
        return L.jit(f) if jit else f
    x, y = np.arange(6, dtype=f32).reshape(3, 2), np.ones(2, f32)
    (ours, our_log), (theirs, their_log) = both(case, x, y)
    assert_same(ours, theirs)
    assert our_log == their_log and len(our_log) == 3


def test_nested_vmap_and_batch_axis_one_match_jax():
    def case(L, host):
        inner = L.vmap(lambda x: L.io(host, like(L, x), x))
        return L.vmap(inner, in_axes=1, out_axes=1)
    x = np.arange(6, dtype=f32).reshape(2, 3)
    (ours, our_log), (theirs, their_log) = both(case, x)
    assert_same(ours, theirs)
    assert our_log == their_log and len(our_log) == 6


def test_vmap_of_ordered_callback_raises_as_jax():
    x = np.ones((2, 3), f32)
    for L in (OURS, JAX):
        def f(v, L=L):
            return L.io(np.sin, like(L, v), v, ordered=True)
        for g in (L.vmap(f), L.vmap(L.jit(f)), L.jit(L.vmap(f))):
            with pytest.raises(ValueError, match="Cannot `vmap` ordered IO callback"):
                g(x)


@settings(max_examples=6, deadline=None)
@given(shape=st.lists(st.integers(1, 3), min_size=1, max_size=3), data=st.data())
def test_vmap_over_any_axis_matches_jax(shape, data):
    """Each call sees one element of the batched argument (whichever axis is mapped) and
    the unbatched one whole; results come back stacked on the out axis."""
    axis = data.draw(st.integers(0, len(shape) - 1))
    x = np.arange(np.prod(shape), dtype=f32).reshape(shape)
    y = np.float32(0.5)

    def case(L, host):
        return L.vmap(lambda a, b: L.io(host, like(L, a), a, b), in_axes=(axis, None),
                      out_axes=-1)
    (ours, our_log), (theirs, their_log) = both(case, x, y)
    assert_same(ours, theirs)
    assert our_log == their_log and len(our_log) == shape[axis]


def test_vmap_with_no_batched_argument_calls_once_as_jax():
    def case(L, host):
        return L.vmap(lambda x: (L.io(host, like(L, f32(7)), f32(7)), x * 2)[1])
    (ours, our_log), (theirs, their_log) = both(case, np.arange(3, dtype=f32))
    assert_same(ours, theirs)
    assert our_log == their_log == [(7.0,)]


def test_batched_predicate_refuses_io_callbacks():
    """vmap of a cond or while_loop whose predicate is batched would run the branch (the
    loop body) for every member: an io_callback there (also inside a nested jit) is refused
    with JAX's error; debug callbacks (which JAX runs for every member) and an unbatched
    predicate are fine."""
    def io_branch(L):
        return lambda x: L.io(np.negative, like(L, x), x)

    def nested(L):
        return L.jit(io_branch(L))

    def debug_branch(L):
        def f(x):
            L.debug.callback(lambda v: None, x)
            return x
        return f

    def vmapped_cond(L, branch):
        return L.vmap(lambda p, x: L.lax.cond(p, branch(L), lambda x: -x, x))(
            np.array([True, False]), np.ones(2, f32))

    def vmapped_while(L, branch):
        def f(n, x):
            return L.lax.while_loop(lambda c: c[0] < n, lambda c: (c[0] + 1, branch(L)(c[1])),
                                    (0, x))[1]
        return L.vmap(f)(np.array([1, 2]), np.ones(2, f32))

    for construct in (vmapped_cond, vmapped_while):
        for branch in (io_branch, nested):
            with pytest.raises(Exception) as theirs:
                construct(JAX, branch)
            with pytest.raises(NotImplementedError) as ours:
                construct(OURS, branch)
            assert str(ours.value).startswith(str(theirs.value).rstrip(".")), ours.value
        assert_same(construct(OURS, debug_branch), construct(JAX, debug_branch))
    # An unbatched predicate runs the io_callback once per call, as JAX.
    got = fl.vmap(lambda x: lax.cond(True, io_branch(OURS), lambda x: -x, x))(np.ones(2, f32))
    assert_same(got, -np.ones(2, f32))


# ---------------------------------------------------------------------------------------
# Differentiation

@pytest.mark.parametrize("transform", ["grad", "jit_grad", "jvp", "vjp", "linearize"])
def test_differentiation_raises_as_jax(transform):
    x = np.arange(3, dtype=f32)
    for L, lib in ((OURS, fl), (JAX, jax)):
        def f(v):
            # The result is unused: the argument's tangent alone refuses it.
            L.io(np.sin, like(L, v), v)
            return (v * v).sum()
        run = {"grad": lambda: lib.grad(f)(x), "jit_grad": lambda: lib.jit(lib.grad(f))(x),
               "jvp": lambda: lib.jvp(f, (x,), (x,)), "vjp": lambda: lib.vjp(f, x),
               "linearize": lambda: lib.linearize(f, x)}[transform]
        with pytest.raises(ValueError, match="IO callbacks do not support JVP"):
            run()


@pytest.mark.parametrize("jit", [False, True])
def test_callbacks_on_values_without_tangents_run_once_under_grad(jit):
    def case(L, host):
        def f(x):
            s = L.io(host, like(L, x[0]), L.stop_gradient(x).sum())
            return (s * x).sum()
        g = L.grad(f)
        return L.jit(g) if jit else g
    (ours, our_log), (theirs, their_log) = both(case, np.arange(3, dtype=f32))
    assert_same(ours, theirs)
    assert our_log == their_log == [(3.0,)]


def test_custom_jvp_makes_it_differentiable():
    @fl.custom_jvp
    def sin(x):
        return io_callback(np.sin, like(OURS, x), x)

    @sin.defjvp
    def _(primals, tangents):
        (x,), (t,) = primals, tangents
        return sin(x), io_callback(np.cos, like(OURS, x), x) * t
    x = np.linspace(-2, 2, 5).astype(f32)
    np.testing.assert_allclose(fl.jit(fl.grad(lambda v: sin(v).sum()))(x), np.cos(x),
                               rtol=1e-6)


# ---------------------------------------------------------------------------------------
# Errors and the lowered program

def test_bad_results_and_declarations():
    x = fnp.ones(3)
    spec = fl.ShapeDtypeStruct((3,), fnp.float32)
    with pytest.raises(RuntimeError, match=r"io_callback: result 0 of <lambda> has shape "
                                           r"\(1,\), expected \(3,\)"):
        io_callback(lambda v: v[:1], spec, x)
    with pytest.raises(RuntimeError, match="dtype int32, expected float32"):
        io_callback(lambda v: v.astype(np.int32), spec, x)
    with pytest.raises(Exception, match="io_callback: <lambda> returned 2 arrays"):
        fl.jit(lambda v: io_callback(lambda a: (a, a), spec, v))(x).block_until_ready()
    # A 64-bit declaration without x64 is refused up front, as by JAX.
    for L in (OURS, JAX):
        with pytest.raises(ValueError, match="cannot specify 64-bit types"):
            L.io(np.sin, L.sds((3,), np.float64), np.ones(3, f32))
    with pytest.raises(TypeError, match="result_shape_dtypes must be a pytree"):
        io_callback(np.sin, [3], x)
    with pytest.raises(NotImplementedError, match="single-device sharding"):
        io_callback(np.sin, spec, x, sharding="everywhere")
    one = fl.sharding.SingleDeviceSharding(fl.devices()[0])
    np.testing.assert_array_equal(io_callback(lambda v: v, spec, x, sharding=one), x)


def test_lowered_text_has_the_callback_and_its_token():
    x = fnp.ones(2)
    text = fl.jit(lambda v: (io_callback(np.sin, like(OURS, v), v), v)[1]).lower(x).as_text()
    assert "xla_ffi_python_cpu_callback" in text and "has_side_effect = true" in text
    assert "stablehlo.token" not in text
    ordered = fl.jit(lambda v: io_callback(np.sin, like(OURS, v), v, ordered=True) + 1)
    text = ordered.lower(x).as_text()
    assert text.count("xla_ffi_python_cpu_callback") == 1
    assert "-> (!stablehlo.token, tensor<2xf32>)" in text
    np.testing.assert_allclose(ordered(x), np.sin(1.0) + 1, rtol=1e-6)
