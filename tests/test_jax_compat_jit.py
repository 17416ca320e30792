"""Issue 13, part A1: ``jit`` behaves as JAX's (JAX is the oracle).

* pytree nodes with unhashable auxiliary data (a dict, as JAX's docs "Using jax.jit with
  class methods") work under jit: treedefs hash and compare by equality;
* the trace cache belongs to the function (weakly), its static arguments and jit options,
  not the ``jit(f)`` wrapper: ``jit(f)(x)`` written inline traces once;
* unhashable static arguments raise ValueError; a jitted function returning a str says so;
* ``jit(f).trace(*args)`` (``.jaxpr``, ``.out_avals``, ``.out_info``, ``.lower()``),
  ``config.update("explain_cache_misses", True)``, ``disable_jit()``.
"""
import contextlib
import functools
import gc
import logging

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite import _jit_cache
from functorch_lite.api import disable_jit
from functorch_lite.core import pytree
from functorch_lite.core.config import config
from helpers import assert_tree_close

LIBS = [(fl, fnp), (jax, jnp)]


# ---------------------------------------------------------------------------------------
# Bug 3: unhashable aux data

def _custom_class(lib, np_):
    """JAX's docs, "Using jax.jit with class methods": the aux data is a dict."""
    class CustomClass:
        def __init__(self, x, mul):
            self.x = x
            self.mul = mul

        @lib.jit
        def calc(self, y):
            if self.mul:
                return self.x * y
            return y

        def _tree_flatten(self):
            return (self.x,), {"mul": self.mul}

        @classmethod
        def _tree_unflatten(cls, aux_data, children):
            return cls(*children, **aux_data)

    lib.tree_util.register_pytree_node(CustomClass, CustomClass._tree_flatten,
                                       CustomClass._tree_unflatten)
    return CustomClass


def test_jit_method_of_pytree_class_with_dict_aux_data():
    results = []
    for lib, np_ in LIBS:
        cls = _custom_class(lib, np_)
        c = cls(np_.arange(3.0), True)
        first = c.calc(np_.float32(2.0))
        c.mul = False            # a different aux dict: traced again, as JAX
        second = c.calc(np_.float32(2.0))
        c.mul = True
        third = c.calc(np_.float32(2.0))
        results.append((first, second, third))
    assert_tree_close(*results)


def test_treedef_with_unhashable_aux_hashes_by_equality():
    cls = _custom_class(fl, fnp)
    a = pytree.tree_structure(cls(1.0, {"k": [1, 2]}))
    b = pytree.tree_structure(cls(2.0, {"k": [1, 2]}))
    c = pytree.tree_structure(cls(2.0, {"k": [1, 3]}))
    assert a == b and hash(a) == hash(b) and a != c
    assert {a: 1}[b] == 1 and c not in {a: 1}
    # as JAX: such treedefs are hashable and equal by their aux data
    jcls = _custom_class(jax, jnp)
    ja = jax.tree_util.tree_structure(jcls(1.0, {"k": [1, 2]}))
    jb = jax.tree_util.tree_structure(jcls(2.0, {"k": [1, 2]}))
    assert ja == jb and hash(ja) == hash(jb)


def test_unhashable_aux_in_nested_arguments_under_jit():
    for lib, np_ in LIBS:
        cls = _custom_class(lib, np_)
        calls = []

        def f(tree):
            calls.append(1)
            return tree["obj"].x * 2.0 + tree["y"]

        jf = lib.jit(f)
        tree = {"obj": cls(np_.ones(2), {"opts": [1, 2]}), "y": np_.ones(2)}
        out = jf(tree)
        jf({"obj": cls(np_.zeros(2), {"opts": [1, 2]}), "y": np_.ones(2)})  # equal aux
        np.testing.assert_allclose(np.asarray(out), [3.0, 3.0])
        assert len(calls) == 1, lib.__name__


# ---------------------------------------------------------------------------------------
# Bug 8: the trace cache belongs to the function

def _count_traces(lib, np_, body):
    """How many times ``body(jit, f, x)`` traces ``f``."""
    calls = []

    def f(x, n=1):
        calls.append(1)
        return x * n

    body(lib.jit, f, np_.ones(3))
    return len(calls)


@pytest.mark.parametrize("case", ["inline", "static_spellings", "donate", "bound_method",
                                  "partial"])
def test_trace_counts_match_jax(case):
    def inline(jit, f, x):
        for _ in range(4):
            jit(f)(x)

    def static_spellings(jit, f, x):
        jit(f, static_argnums=1)(x, 2)
        jit(f, static_argnums=(1,))(x, 2)
        jit(f, static_argnames="n")(x, 2)
        jit(f, static_argnums=[1])(x, 2)

    def donate(jit, f, x):
        jit(f)(x + 0, 2.0)
        jit(f, donate_argnums=0)(x + 0, 2.0)   # donation does not change the trace
        jit(f, donate_argnums=(0,))(x + 0, 2.0)

    def bound_method(jit, f, x):
        class A:
            def m(self, x):
                return f(x)
        a = A()
        for _ in range(3):
            jit(a.m)(x)   # a new bound method each time: JAX retraces too

    def partial(jit, f, x):
        for _ in range(3):
            jit(functools.partial(f, n=2.0))(x)

    body = locals()[case]
    assert _count_traces(fl, fnp, body) == _count_traces(jax, jnp, body)


def test_inline_jit_traces_once_and_runs_the_cached_executable():
    calls = []

    def f(x):
        calls.append(1)
        return fnp.sin(x) * 2.0

    x = fnp.ones(5)
    outs = [fl.jit(f)(x) for _ in range(5)]
    assert len(calls) == 1
    assert fl.jit(f).trace_count() == 1
    np.testing.assert_allclose(np.asarray(outs[-1]), np.sin(np.ones(5)) * 2, rtol=1e-6)


def test_new_jit_of_same_function_keeps_the_traced_globals_as_jax():
    outs = []
    for lib, np_ in LIBS:
        scale = {"v": 1.0}

        def g(x):
            return x * scale["v"]

        first = lib.jit(g)(np_.ones(2))
        scale["v"] = 5.0
        outs.append((first, lib.jit(g)(np_.ones(2))))
    assert_tree_close(*outs)
    np.testing.assert_allclose(np.asarray(outs[0][1]), [1.0, 1.0])


def test_cache_entry_dies_with_its_function():
    def make():
        def f(x):
            return x + 1.0
        return f

    f = make()
    fl.jit(f)(fnp.ones(2))
    ref = [r for r in _jit_cache.functions._data if r() is f]
    assert ref
    del f, ref
    gc.collect()
    assert all(r() is not None for r in _jit_cache.functions._data)


def test_function_cache_is_bounded():
    cache = _jit_cache._WeakFunctionMap(3)
    funs = [lambda x, i=i: x + i for i in range(5)]
    entries = [cache.entry(f) for f in funs]
    assert len(cache) == 3
    assert cache.entry(funs[-1]) is entries[-1]    # recent ones are kept
    assert cache.entry(funs[0]) is not entries[0]  # the oldest was dropped

    class Slotted:  # not weakly referenceable: not kept
        __slots__ = ()

        def __call__(self, x):
            return x

    class Unhashable:  # __eq__ without __hash__: not kept
        def __eq__(self, other):
            return self is other

        def __call__(self, x):
            return x
    assert cache.entry(Slotted()) is None and cache.entry(Unhashable()) is None
    for fun in (Slotted(), Unhashable()):   # jit still works, with a cache of its own
        jf = fl.jit(fun)
        jf(fnp.ones(2))
        jf(fnp.ones(2))
        assert jf.trace_count() == 1


@contextlib.contextmanager
def _x64(on):
    old, old_jax = config.enable_x64, jax.config.jax_enable_x64
    config.update("enable_x64", on)
    jax.config.update("jax_enable_x64", on)
    try:
        yield
    finally:
        config.update("enable_x64", old)
        jax.config.update("jax_enable_x64", old_jax)


def test_changing_x64_traces_again_as_jax():
    dtypes = []
    for lib, np_ in LIBS:
        def f(x):
            return x + np_.arange(3.0)

        a = lib.jit(f)(1.0)
        with _x64(True):
            b = lib.jit(f)(1.0)
        dtypes.append((a.dtype, b.dtype))
    assert dtypes[0] == dtypes[1] == (np.float32, np.float64)


# ---------------------------------------------------------------------------------------
# Bugs 13 and 15: error types and messages

@pytest.mark.parametrize("how", ["argnums", "argnames"])
def test_unhashable_static_argument_is_value_error(how):
    def f(x, n):
        return x

    for lib, np_ in LIBS:
        jf = lib.jit(f, static_argnums=1) if how == "argnums" else \
            lib.jit(f, static_argnames="n")
        with pytest.raises(ValueError) as info:
            jf(np_.ones(2), n=[1, 2]) if how == "argnames" else jf(np_.ones(2), [1, 2])
        if lib is fl:
            assert "unhashable" in str(info.value) and "tuple" in str(info.value)


def test_returning_a_string_says_so():
    for lib, np_ in LIBS:
        with pytest.raises(TypeError) as info:
            lib.jit(lambda x: "hello")(np_.ones(2))
        if lib is fl:
            msg = str(info.value)
            assert "returned a value of type str" in msg, msg
            assert "static" not in msg, msg
    with pytest.raises(TypeError, match=r"type str at output\[1\]\['name'\]"):
        fl.jit(lambda x: (x, {"name": "y"}))(fnp.ones(2))


# ---------------------------------------------------------------------------------------
# jit(f).trace

def test_trace_stage_as_jax():
    def f(x, y):
        return x * 2, {"a": y.sum()}

    t = fl.jit(f).trace(fnp.ones(3), fnp.ones((2, 2)))
    jt = jax.jit(f).trace(jnp.ones(3), jnp.ones((2, 2)))
    text = str(t.jaxpr)
    assert "mul" in text and "reduce_sum" in text, text
    assert t.fun_name == jt.fun_name == "f"

    def shapes(tree, lib):
        return lib.tree_util.tree_map(lambda a: (a.shape, np.dtype(a.dtype)), tree)
    assert shapes(t.out_avals, fl) == shapes(jt.out_avals, jax)
    assert shapes(t.out_info, fl) == shapes(jt.out_info, jax)
    assert shapes(t.in_avals, fl) == shapes(jt.in_avals, jax)
    assert "func.func" in t.lower().as_text()
    out = t.lower().compile()(fnp.ones(3), fnp.ones((2, 2)))
    assert_tree_close(out, jax.jit(f)(jnp.ones(3), jnp.ones((2, 2))))


def test_trace_uses_and_fills_the_same_cache():
    calls = []

    def f(x):
        calls.append(1)
        return x + 1

    fl.jit(f).trace(fnp.ones(2))
    fl.jit(f)(fnp.ones(2))
    assert len(calls) == 1


# ---------------------------------------------------------------------------------------
# explain_cache_misses

@pytest.fixture(params=["explain_cache_misses", "jax_explain_cache_misses"])
def explain(request):
    old = config.explain_cache_misses
    config.update(request.param, True)
    try:
        yield
    finally:
        config.update("explain_cache_misses", old)


def _misses(caplog, call):
    caplog.clear()
    call()
    return [r.getMessage() for r in caplog.records if "TRACING CACHE MISS" in r.getMessage()]


def test_explain_cache_misses_says_what_changed(explain, caplog):
    def my_fn(x, n, params):
        return x * n + params["w"]

    jf = fl.jit(my_fn, static_argnums=1)
    x3, x4 = fnp.ones(3), fnp.ones(4)
    with caplog.at_level(logging.WARNING, logger="functorch_lite"):
        first = _misses(caplog, lambda: jf(x3, 2, {"w": 1.0}))
        again = _misses(caplog, lambda: jf(x3, 2, {"w": 1.0}))
        shape = _misses(caplog, lambda: jf(x4, 2, {"w": 1.0}))
        static = _misses(caplog, lambda: jf(x4, 3, {"w": 1.0}))
        dtype = _misses(caplog, lambda: jf(x4, 3, {"w": 1}))
        tree = _misses(caplog, lambda: jf(x4, 3, {"w": 1.0, "b": 2.0}))
        inline = _misses(caplog, lambda: fl.jit(my_fn, static_argnums=1)(x4, 3, {"w": 1.0}))
    assert len(first) == 1 and "my_fn" in first[0] and "test_jax_compat_jit.py" in first[0]
    assert again == [] and inline == []
    assert "argument x: f32[3] -> f32[4]" in shape[0], shape
    assert "n: 2 -> 3" in static[0], static
    assert "argument params['w']: f32[] -> i32[]" in dtype[0], dtype
    assert "structure of argument params" in tree[0], tree


def test_explain_cache_misses_off_by_default(caplog):
    assert not config.explain_cache_misses
    with caplog.at_level(logging.WARNING, logger="functorch_lite"):
        fl.jit(lambda x: x * 3)(fnp.ones(2))
    assert not [r for r in caplog.records if "CACHE MISS" in r.getMessage()]


# ---------------------------------------------------------------------------------------
# disable_jit

def _debug_fn(lib, np_, printed):
    @lib.jit
    def f(x):
        printed.append(np.asarray(x).copy())   # a concrete value only without jit
        if x.sum() > 0:                        # Python control flow on a value
            return x * 2
        return -x
    return f


def test_disable_jit_runs_python_op_by_op_as_jax():
    outs = []
    for (lib, np_), disable in zip(LIBS, (disable_jit, jax.disable_jit)):
        printed = []
        f = _debug_fn(lib, np_, printed)
        with disable():
            outs.append((f(np_.ones(3)), f(-np_.ones(3))))
        assert len(printed) == 2
        np.testing.assert_allclose(printed[1], -np.ones(3))
        with pytest.raises(Exception):   # jit again outside the block: no concrete value
            f(np_.ones(3))
    assert_tree_close(*outs)


def test_disable_jit_config_flag_and_nesting():
    printed = []
    f = _debug_fn(fl, fnp, printed)
    old = config.disable_jit
    config.update("jax_disable_jit", True)
    try:
        f(fnp.ones(2))
        with disable_jit(False):
            assert not config.disable_jit
        assert config.disable_jit
    finally:
        config.update("jax_disable_jit", old)
    assert len(printed) == 1
    with disable_jit():
        key = fl.random.split(fl.random.PRNGKey(0))
        y = fnp.sum(fnp.arange(4.0))
    assert_tree_close(key, jax.random.split(jax.random.PRNGKey(0)))
    assert float(y) == 6.0
