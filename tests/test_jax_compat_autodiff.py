"""Issue 13, autodiff API: JAX programs that use ``grad``/``vjp``/``jvp``/``linearize``/
``jacfwd``/``jacrev`` run unchanged. JAX is the oracle: each test runs the same program on
both libraries and compares.

- every public Array method and property works on a tracer of each kind (no internal
  tracer attribute shadows one, as ``StagingTracer.var`` once hid ``x.var()``);
- the function ``vjp`` (and ``linearize``) returns is a pytree (``tree_util.Partial``);
- jvp's tangent/primal mismatch errors name the shapes and dtypes, with JAX's types;
- ``has_aux`` passes any pytree through;
- ``holomorphic=True`` and complex differentiation follow JAX's convention and errors.
"""
from __future__ import annotations

import copy
import inspect
import pickle

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite import tree_util
from functorch_lite.core.trace import Tracer
from functorch_lite.numpy import array_methods
from xla_bridge.array import Array


def _close(ours, theirs, rtol=1e-5, atol=1e-6):
    ours_l, ours_t = tree_util.tree_flatten(ours)
    theirs_l, theirs_t = jax.tree_util.tree_flatten(theirs)
    assert len(ours_l) == len(theirs_l), (ours_t, theirs_t)
    for a, b in zip(ours_l, theirs_l):
        # JAX's checkpoint hands back outputs that do not depend on its inputs as NumPy
        # values (int64 for a Python int): compare those by value only.
        typed = isinstance(b, jax.Array)
        a, b = np.asarray(a), np.asarray(b)
        assert a.shape == b.shape, (a.shape, b.shape)
        assert a.dtype == b.dtype or not typed, (a.dtype, b.dtype)
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


# ---------------------------------------------------------------------------------------
# Bug 1: every public Array method and property on every kind of tracer

def _public(cls) -> set[str]:
    return {n for n in dir(cls) if not n.startswith("_")}


# Array's public surface: the attached NumPy-style methods and properties (dunders
# included: they are how operators reach an array) and what xla_bridge's Array defines.
ARRAY_API = (set(array_methods.METHODS) | set(array_methods.PROPERTIES) | _public(Array)
             | {n for n in vars(Array) if n.startswith("__") and n.endswith("__")
                and n not in ("__slots__", "__module__", "__doc__", "__init__", "__weakref__",
                              "__annotations__", "__array_priority__", "__qualname__",
                              "__firstlineno__", "__static_attributes__")})


def _all_tracer_classes() -> list[type]:
    out, todo = [], [Tracer]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            todo.append(sub)
            # Only the library's own tracers (tests may define doubles of their own).
            if sub.__module__.split(".")[0] in ("functorch_lite", "nn", "xla_bridge"):
                out.append(sub)
    return out


def test_no_tracer_attribute_shadows_an_array_method_or_property():
    classes = _all_tracer_classes()
    assert {c.__name__ for c in classes} >= {"StagingTracer", "JVPTracer", "BatchTracer"}
    # jax.Array's names too, so that a tracer attribute cannot block one we add later.
    public = ({n for n in ARRAY_API if not n.startswith("_")} | _public(jax.Array))
    for cls in [Tracer, *classes]:
        slots = cls.__dict__.get("__slots__", ())
        slots = (slots,) if isinstance(slots, str) else tuple(slots)
        bad = sorted(n for n in slots if n in public)
        assert not bad, f"{cls.__name__} has slots {bad} that hide Array methods/properties"
        if cls is Tracer:
            continue
        # A subclass may only redefine ``aval`` (the same meaning as Array's).
        redefined = sorted(n for n in vars(cls) if n in public and n != "aval")
        assert not redefined, (f"{cls.__name__} defines {redefined}, hiding the Array "
                               "methods/properties of the same names")
        for name in set(array_methods.METHODS) | set(array_methods.PROPERTIES):
            assert inspect.getattr_static(cls, name) is inspect.getattr_static(Tracer, name), (
                cls.__name__, name)


def _calls(m):
    """name -> function of a float (3, 4) array ``x`` using that method or property. ``m``
    is the numpy module (ours or JAX's), for the few arguments that are arrays."""
    def ints(x):
        return (x * 10).astype(m.int32)  # 0..9, for the bitwise operators
    return {
        # operators
        "__add__": lambda x: x.__add__(2.0), "__radd__": lambda x: x.__radd__(2.0),
        "__sub__": lambda x: x.__sub__(2.0), "__rsub__": lambda x: x.__rsub__(2.0),
        "__mul__": lambda x: x.__mul__(3.0), "__rmul__": lambda x: x.__rmul__(3.0),
        "__truediv__": lambda x: x.__truediv__(4.0),
        "__rtruediv__": lambda x: x.__rtruediv__(4.0),
        "__floordiv__": lambda x: x.__floordiv__(0.3),
        "__rfloordiv__": lambda x: x.__rfloordiv__(0.3),
        "__mod__": lambda x: x.__mod__(0.3), "__rmod__": lambda x: x.__rmod__(0.3),
        "__divmod__": lambda x: x.__divmod__(0.3), "__rdivmod__": lambda x: x.__rdivmod__(0.3),
        "__pow__": lambda x: x.__pow__(2.0), "__rpow__": lambda x: x.__rpow__(2.0),
        "__matmul__": lambda x: x.__matmul__(m.ones((4, 2))),
        "__rmatmul__": lambda x: x.__rmatmul__(m.ones((2, 3))),
        "__and__": lambda x: ints(x).__and__(3), "__rand__": lambda x: ints(x).__rand__(3),
        "__or__": lambda x: ints(x).__or__(3), "__ror__": lambda x: ints(x).__ror__(3),
        "__xor__": lambda x: ints(x).__xor__(3), "__rxor__": lambda x: ints(x).__rxor__(3),
        "__lshift__": lambda x: ints(x).__lshift__(1),
        "__rlshift__": lambda x: ints(x).__rlshift__(1),
        "__rshift__": lambda x: ints(x).__rshift__(1),
        "__rrshift__": lambda x: ints(x).__rrshift__(64),
        "__invert__": lambda x: ints(x).__invert__(),
        "__eq__": lambda x: x.__eq__(0.5), "__ne__": lambda x: x.__ne__(0.5),
        "__lt__": lambda x: x.__lt__(0.5), "__le__": lambda x: x.__le__(0.5),
        "__gt__": lambda x: x.__gt__(0.5), "__ge__": lambda x: x.__ge__(0.5),
        "__neg__": lambda x: x.__neg__(), "__pos__": lambda x: x.__pos__(),
        "__abs__": lambda x: x.__abs__(), "__round__": lambda x: x.__round__(1),
        "__getitem__": lambda x: x.__getitem__((slice(1, None), slice(None, None, 2))),
        "__len__": lambda x: m.asarray(x.__len__()),
        "__iter__": lambda x: m.stack(list(x.__iter__())),
        "__copy__": lambda x: copy.copy(x), "__deepcopy__": lambda x: copy.deepcopy(x),
        # NumPy-style methods
        "sum": lambda x: x.sum(axis=0), "mean": lambda x: x.mean(axis=1),
        "max": lambda x: x.max(axis=0), "min": lambda x: x.min(),
        "prod": lambda x: x.prod(axis=1), "std": lambda x: x.std(axis=0),
        "var": lambda x: x.var(axis=0), "argmax": lambda x: x.argmax(axis=1),
        "argmin": lambda x: x.argmin(axis=0), "any": lambda x: x.any(axis=0),
        "all": lambda x: x.all(), "cumsum": lambda x: x.cumsum(axis=1),
        "cumprod": lambda x: x.cumprod(axis=0), "ptp": lambda x: x.ptp(axis=1),
        "reshape": lambda x: x.reshape(4, 3), "ravel": lambda x: x.ravel(),
        "flatten": lambda x: x.flatten(), "transpose": lambda x: x.transpose(1, 0),
        "squeeze": lambda x: x.reshape(3, 1, 4).squeeze(1),
        "swapaxes": lambda x: x.swapaxes(0, 1), "repeat": lambda x: x.repeat(2, axis=0),
        "diagonal": lambda x: x.diagonal(), "trace": lambda x: x.trace(),
        "astype": lambda x: x.astype(m.float16), "clip": lambda x: x.clip(0.2, 0.8),
        "round": lambda x: x.round(1), "conj": lambda x: x.conj(),
        "conjugate": lambda x: x.conjugate(), "dot": lambda x: x.dot(m.ones(4)),
        "take": lambda x: x.take(m.array([0, 2]), axis=1), "sort": lambda x: x.sort(axis=0),
        "argsort": lambda x: x.argsort(axis=1), "copy": lambda x: x.copy(),
        # properties
        "T": lambda x: x.T, "mT": lambda x: x.mT, "real": lambda x: x.real,
        "imag": lambda x: x.imag, "at": lambda x: x.at[0, 1].set(5.0),
        "aval": lambda x: m.zeros(x.aval.shape, x.aval.dtype),
        "shape": lambda x: m.asarray(x.shape), "ndim": lambda x: m.asarray(x.ndim),
        "size": lambda x: m.asarray(x.size), "nbytes": lambda x: m.asarray(x.nbytes),
        "dtype": lambda x: m.zeros((), x.dtype),
        "weak_type": lambda x: m.asarray(x.weak_type),
        "__repr__": lambda x: m.asarray(len(x.__repr__()) > 0),
        "__str__": lambda x: m.asarray(len(x.__str__()) > 0),
        "__format__": lambda x: m.asarray(len(x.__format__("")) > 0),
    }


# Names that need a concrete value (or a device buffer): on a tracer they raise, in
# JAX as here. The value is the exception JAX raises where it must match exactly
# (AttributeError, so that ``hasattr`` says False), or None for "some error".
CONCRETE_ONLY = {
    "item": None, "tolist": None, "devices": None, "delete": None, "is_deleted": None,
    "device": AttributeError, "block_until_ready": AttributeError, "buffer": AttributeError,
    "__bool__": None, "__int__": None, "__float__": None, "__complex__": None,
    "__index__": None, "__array__": None, "__hash__": None, "__reduce__": None,
    "__setitem__": None, "sharding": AttributeError,
    # (JAX raises its ConcretizationTypeError for these; ours raises ours)
    "addressable_shards": None, "is_fully_replicated": None, "is_fully_addressable": None,
    # (JAX: ConcretizationTypeError for __dlpack__; tracers here have no buffer to export)
    "__dlpack__": None, "__dlpack_device__": AttributeError,
}

_CONCRETE_CALLS = {
    "item": lambda x: x.item(), "tolist": lambda x: x.tolist(),
    "devices": lambda x: x.devices(), "delete": lambda x: x.delete(),
    "is_deleted": lambda x: x.is_deleted(), "device": lambda x: x.device,
    "block_until_ready": lambda x: x.block_until_ready(), "buffer": lambda x: x.buffer,
    "__bool__": lambda x: bool(x), "__int__": lambda x: int(x), "__float__": lambda x: float(x),
    "__complex__": lambda x: complex(x), "__index__": lambda x: [0, 1][x],
    "__array__": lambda x: np.asarray(x), "__hash__": lambda x: hash(x),
    "__reduce__": lambda x: pickle.dumps(x), "__setitem__": lambda x: x.__setitem__(0, 1.0),
    "sharding": lambda x: x.sharding, "addressable_shards": lambda x: x.addressable_shards,
    "is_fully_replicated": lambda x: x.is_fully_replicated,
    "is_fully_addressable": lambda x: x.is_fully_addressable,
    "__dlpack__": lambda x: x.__dlpack__(), "__dlpack_device__": lambda x: x.__dlpack_device__(),
}

# Our eager Array differs from JAX's here (not a tracer matter): jax.Array.flat raises
# NotImplementedError. Under transformations ours must agree with our eager result.
EAGER_DIFFERENCES = {"flat": lambda x: x.flat}


def test_the_method_table_covers_the_whole_array_api():
    covered = set(_calls(fnp)) | set(CONCRETE_ONLY) | set(EAGER_DIFFERENCES)
    missing = sorted(ARRAY_API - covered)
    assert not missing, f"add calls for these Array methods/properties: {missing}"


def _use(m, errors: dict):
    """The function each transformation runs: every method and property on its tracer;
    concrete-only ones record the exception they raise in ``errors``."""
    calls = _calls(m)

    def use(x):
        out = {name: fn(x) for name, fn in calls.items()}
        if m is fnp:
            out.update({name: fn(x) for name, fn in EAGER_DIFFERENCES.items()})
        for name, fn in _CONCRETE_CALLS.items():
            try:
                fn(x)
            except Exception as e:  # noqa: BLE001 (recorded, compared below)
                errors[name] = e
            else:
                errors[name] = None
        return out
    return use


def _loss(lib, m, out):
    out = _drop(out, EAGER_DIFFERENCES)  # JAX has no value to compare with
    leaves = [m.asarray(v) for v in lib.tree_util.tree_leaves(out)]
    return sum(m.sum(v.astype(m.float32)) for v in leaves if m.issubdtype(v.dtype, m.floating))


KINDS = ["jit", "jvp", "vmap", "grad", "checkpoint", "scan"]


def _run(kind, lib, m, x, errors):
    """Run ``use`` under ``kind``. Everything is jitted on the outside, only to run faster
    (one compile instead of one dispatch per operation): the method calls still see the
    tracers of the named transformation."""
    use = _use(m, errors)
    if kind == "jit":
        return lib.jit(use)(x)
    if kind == "jvp":
        return lib.jit(lambda x: lib.jvp(use, (x,), (m.ones_like(x),)))(x)
    if kind == "vmap":
        return lib.jit(lib.vmap(use))(m.stack([x, x * 0.5]))
    if kind == "grad":
        return lib.jit(lib.grad(lambda x: (_loss(lib, m, use(x)), use(x)), has_aux=True))(x)
    if kind == "checkpoint":
        f = lib.checkpoint(use)
        return lib.jit(lib.grad(lambda x: (_loss(lib, m, f(x)), f(x)), has_aux=True))(x)
    if kind == "scan":
        return lib.lax.scan(lambda c, xi: (c, use(xi)), 0.0, x[None])[1]
    raise ValueError(kind)


def _drop(tree, names):
    if isinstance(tree, dict):
        return {k: v for k, v in tree.items() if k not in names}
    if isinstance(tree, (tuple, list)):
        return type(tree)(_drop(t, names) for t in tree)
    return tree


def _drop_float0(ours, theirs):
    """jvp's tangents of integer outputs are float0 in both; compare the others."""
    if isinstance(ours, dict):
        keep = [k for k in ours if np.asarray(ours[k]).dtype != jax.dtypes.float0]
        return {k: ours[k] for k in keep}, {k: theirs[k] for k in keep}
    pairs = [_drop_float0(a, b) for a, b in zip(ours, theirs)]
    return tuple(p[0] for p in pairs), tuple(p[1] for p in pairs)


@pytest.mark.parametrize("kind", KINDS)
def test_every_array_method_and_property_on_each_tracer_kind(kind):
    x_np = (np.arange(12, dtype=np.float32).reshape(3, 4) + 1) / 13
    ours_err, jax_err = {}, {}
    ours = _run(kind, fl, fnp, fnp.asarray(x_np), ours_err)
    theirs = _run(kind, jax, jnp, jnp.asarray(x_np), jax_err)
    # Values and derivatives agree with JAX's.
    o, t = _drop(ours, EAGER_DIFFERENCES), theirs
    if kind == "jvp":
        o, t = _drop_float0(o, t)
    _close(o, t, rtol=2e-3, atol=1e-5)  # float16 (astype) rounds differently in places
    # Names where our eager Array differs from JAX agree with our own eager results.
    eager = {name: fn(fnp.asarray(x_np)) for name, fn in EAGER_DIFFERENCES.items()}
    values = {"jvp": lambda o: o[0], "grad": lambda o: o[1], "checkpoint": lambda o: o[1]}
    values = values.get(kind, lambda o: o)(ours)
    for name in EAGER_DIFFERENCES:
        got = values[name][0] if kind in ("vmap", "scan") else values[name]
        np.testing.assert_allclose(np.asarray(got), np.asarray(eager[name]))
    # Concrete-only methods fail on tracers, as JAX's do.
    for name, exc in CONCRETE_ONLY.items():
        assert ours_err[name] is not None, f"{kind}: {name} did not raise on a tracer"
        if name in jax_err and jax_err[name] is None:
            pytest.fail(f"{kind}: JAX allows {name} on a tracer but ours raised "
                        f"{ours_err[name]!r}")
        if exc is not None:
            assert isinstance(ours_err[name], exc), (kind, name, ours_err[name])
            if name != "buffer":  # ours only
                assert isinstance(jax_err[name], exc), (kind, name, jax_err[name])


@pytest.mark.parametrize("kind", ["jit", "checkpoint", "jitted vjp"])
def test_var_method_under_staging(kind):
    """The issue's program: ``x.var(axis=0)`` under jit, checkpoint and a jitted vjp."""
    x = np.arange(6.0, dtype=np.float32).reshape(3, 2)

    def run(lib):
        f = lambda x: (x.var(axis=0) * x.std(axis=0)).sum()  # noqa: E731
        if kind == "jit":
            return lib.jit(f)(x)
        if kind == "checkpoint":
            return lib.grad(lib.checkpoint(f))(x)
        return lib.jit(lambda x: lib.vjp(f, x)[1](1.0))(x)
    _close(run(fl), run(jax), rtol=1e-5)


# ---------------------------------------------------------------------------------------
# Bug 2: the function vjp (and linearize) returns is a pytree

def test_partial_is_a_pytree_with_jax_semantics():
    p = tree_util.Partial(fnp.add, fnp.ones(2))
    leaves, tree = tree_util.tree_flatten(p)
    assert len(leaves) == 1 and isinstance(p, __import__("functools").partial)
    assert fl.jit(lambda f, x: f(x))(p, 2.0).tolist() == [3.0, 3.0]
    q = tree_util.tree_unflatten(tree, [fnp.zeros(2)])
    assert isinstance(q, tree_util.Partial) and q(1.0).tolist() == [1.0, 1.0]
    # Keyword arguments are leaves too; the function is static (compared with ==).
    k = tree_util.Partial(lambda a, *, b: a * b, b=fnp.full(2, 3.0))
    assert len(tree_util.tree_leaves(k)) == 1 and k(2.0).tolist() == [6.0, 6.0]
    # A functools.partial given to Partial keeps its own arguments out of the leaves.
    import functools
    nested = tree_util.Partial(functools.partial(fnp.add, fnp.ones(2)), 3.0)
    jnested = jax.tree_util.Partial(functools.partial(jnp.add, jnp.ones(2)), 3.0)
    assert len(tree_util.tree_leaves(nested)) == len(jax.tree_util.tree_leaves(jnested)) == 1
    _close(nested(), jnested())


def test_vjp_returned_from_jit():
    """``jit(lambda x: vjp(fnp.sin, x))(1.0)``: the vjp function leaves jit and is called
    later with the right cotangents."""
    ours_y, ours_fn = fl.jit(lambda x: fl.vjp(fnp.sin, x))(1.0)
    jax_y, jax_fn = jax.jit(lambda x: jax.vjp(jnp.sin, x))(1.0)
    _close(ours_y, jax_y)
    _close(ours_fn(2.0), jax_fn(2.0))
    assert len(tree_util.tree_leaves(ours_fn)) >= 1
    # Pytree inputs and outputs, has_aux, and passing the function back into jit.
    f = lambda p: ({"a": fnp.sin(p["w"]) * p["b"]}, p["b"] * 2)  # noqa: E731
    jf = lambda p: ({"a": jnp.sin(p["w"]) * p["b"]}, p["b"] * 2)  # noqa: E731
    p = {"w": np.arange(3.0, dtype=np.float32), "b": np.float32(1.5)}
    ours = fl.jit(lambda p: fl.vjp(f, p, has_aux=True))(p)
    theirs = jax.jit(lambda p: jax.vjp(jf, p, has_aux=True))(p)
    _close(ours[2], theirs[2])
    ct = {"a": np.ones(3, np.float32)}
    _close(fl.jit(lambda fn, c: fn(c))(ours[1], ct), jax.jit(lambda fn, c: fn(c))(theirs[1], ct))


def test_vjp_fn_through_scan_carry_and_outputs():
    xs = np.linspace(0.1, 1.0, 4).astype(np.float32)
    cts = np.arange(1.0, 5.0, dtype=np.float32)

    def run(lib, m):
        _, fn = lib.vjp(lambda x: m.sin(x) * x, 0.7)

        # As the carry: the body calls it and passes it on unchanged.
        def body(f, ct):
            return f, f(ct)[0]
        _, carried = lib.lax.scan(body, fn, cts)

        # As outputs: one vjp function per step, stacked; called later under vmap.
        def make(c, x):
            return c, lib.vjp(m.tanh, x)[1]
        _, fns = lib.lax.scan(make, 0.0, xs)
        stacked = lib.vmap(lambda f, c: f(c)[0])(fns, cts)
        return carried, stacked
    _close(run(fl, fnp), run(jax, jnp))


def test_linearize_returns_a_pytree_too():
    ours_y, ours_f = fl.jit(lambda x: fl.linearize(lambda x: fnp.sin(x) * x, x))(0.5)
    jax_y, jax_f = jax.jit(lambda x: jax.linearize(lambda x: jnp.sin(x) * x, x))(0.5)
    assert isinstance(jax_f, jax.tree_util.Partial) and isinstance(ours_f, tree_util.Partial)
    _close(ours_y, jax_y)
    _close(ours_f(3.0), jax_f(3.0))
    _close(fl.vmap(ours_f)(fnp.arange(3.0)), jax.vmap(jax_f)(jnp.arange(3.0)))


def test_vjp_fn_argument_errors_match_jax_types():
    _, ours = fl.vjp(lambda x: x * 2, fnp.ones(2, fnp.float16))
    _, theirs = jax.vjp(lambda x: x * 2, jnp.ones(2, jnp.float16))
    for bad in (fnp.ones(2), fnp.ones(3, fnp.float16), (fnp.ones(2, fnp.float16),)):
        with pytest.raises(ValueError):
            theirs(jnp.asarray(bad) if not isinstance(bad, tuple) else (jnp.asarray(bad[0]),))
        with pytest.raises(ValueError, match="cotangent"):
            ours(bad)
    with pytest.raises(TypeError, match="one cotangent"):
        ours(fnp.ones(2, fnp.float16), fnp.ones(2, fnp.float16))
    _, ours_lin = fl.linearize(lambda x: x * 2, fnp.ones(2))
    for bad in (fnp.ones(3), fnp.ones(2, fnp.float16)):
        with pytest.raises(ValueError, match="tangent 0 has"):
            ours_lin(bad)
    with pytest.raises(TypeError, match="structure"):
        ours_lin(fnp.ones(2), fnp.ones(2))


# ---------------------------------------------------------------------------------------
# Bug 10: jvp's tangent/primal mismatch errors

def test_jvp_shape_mismatch_names_the_shapes():
    with pytest.raises(ValueError):
        jax.jvp(jnp.sin, (jnp.ones(3),), (jnp.ones(4),))
    with pytest.raises(ValueError,
                       match=r"tangent 0 has shape \(4,\) but its primal has shape \(3,\)"):
        fl.jvp(fnp.sin, (fnp.ones(3),), (fnp.ones(4),))
    with pytest.raises(ValueError, match=r"tangent 1 has shape \(2, 2\) but its primal has "
                                         r"shape \(\)"):
        fl.jvp(lambda a, b: a * b, (1.0, 2.0), (1.0, fnp.ones((2, 2))))


def test_jvp_dtype_mismatch_is_a_type_error_naming_the_dtypes():
    cases = [((np.ones(3, np.float32),), (np.ones(3, np.float16),)),
             ((np.arange(3),), (np.ones(3, np.float32),))]
    for primals, tangents in cases:
        with pytest.raises(TypeError):
            jax.jvp(lambda x: x * 2, primals, tangents)
    with pytest.raises(TypeError, match="tangent 0 has dtype float16 but its primal has dtype "
                                        "float32"):
        fl.jvp(lambda x: x * 2, *cases[0])
    with pytest.raises(TypeError, match="tangent 0 has dtype float32 but its primal has dtype "
                                        "int32, which needs tangents of dtype float0"):
        fl.jvp(lambda x: x * 2, *cases[1])
    # Integer primals with float0 tangents are fine, as in JAX.
    t0 = np.zeros(3, jax.dtypes.float0)
    _close(fl.jvp(lambda x: x * 2.0, (np.arange(3),), (t0,))[1],
           jax.jvp(lambda x: x * 2.0, (np.arange(3),), (t0,))[1])


# ---------------------------------------------------------------------------------------
# Bug 12: has_aux passes any pytree through

AUXES = {"str": "hello", "int": 3, "none": None, "float": 2.5,
         "mixed": lambda x, m: {"s": "s", "n": None, "i": 1, "a": x * 2, "c": m.ones(2)}}


def _aux_programs(lib, m):
    def f(aux):
        def fun(x):
            a = aux(x, m) if callable(aux) else aux
            return m.sum(m.sin(x)), a
        return fun
    x = m.ones(2) * 0.5
    return {
        "grad": lambda a: lib.grad(f(a), has_aux=True)(x)[1],
        "value_and_grad": lambda a: lib.value_and_grad(f(a), has_aux=True)(x)[0][1],
        "vjp": lambda a: lib.vjp(f(a), x, has_aux=True)[2],
        "jvp": lambda a: lib.jvp(f(a), (x,), (x,), has_aux=True)[2],
        "linearize": lambda a: lib.linearize(f(a), x, has_aux=True)[2],
        "jacrev": lambda a: lib.jacrev(f(a), has_aux=True)(x)[1],
        "jacfwd": lambda a: lib.jacfwd(f(a), has_aux=True)(x)[1],
        "hessian": lambda a: lib.hessian(f(a), has_aux=True)(x)[1],
    }


@pytest.mark.parametrize("transform", ["grad", "value_and_grad", "vjp", "jvp", "linearize",
                                       "jacrev", "jacfwd", "hessian"])
def test_has_aux_passes_any_pytree_through(transform):
    ours_p, jax_p = _aux_programs(fl, fnp)[transform], _aux_programs(jax, jnp)[transform]
    for name, aux in AUXES.items():
        try:
            expected = jax_p(aux)
        except TypeError:  # JAX's jacfwd/hessian refuse strings in aux (vmap outputs)
            assert transform in ("jacfwd", "hessian") and name in ("str", "mixed")
            continue
        got = ours_p(aux)
        # The same structure and the very same non-array leaves (types included).
        assert tree_util.tree_structure(got) == tree_util.tree_structure(expected) or (
            str(tree_util.tree_structure(got)) == str(jax.tree_util.tree_structure(expected)))
        for a, b in zip(tree_util.tree_leaves(got), jax.tree_util.tree_leaves(expected)):
            if isinstance(b, jax.Array):
                _close(a, b)
            else:
                assert type(a) is type(b) and a == b, (name, a, b)


# ---------------------------------------------------------------------------------------
# Missing feature: holomorphic=True and complex differentiation as JAX

Z = np.complex64(1 + 2j)
ZS = np.array([1 + 2j, 0.5 - 1j], np.complex64)


def _holo(lib, m):
    f = lambda z: m.sin(z) * z  # noqa: E731
    return {
        "grad": lambda: lib.grad(f, holomorphic=True)(Z),
        "value_and_grad": lambda: lib.value_and_grad(f, holomorphic=True)(Z),
        "jacfwd": lambda: lib.jacfwd(f, holomorphic=True)(ZS),
        "jacrev": lambda: lib.jacrev(f, holomorphic=True)(ZS),
        "hessian": lambda: lib.hessian(f, holomorphic=True)(Z),
        "grad of C->R": lambda: lib.grad(lambda z: m.abs(z) ** 2 + m.real(m.sin(z)))(Z),
        "grad R->C->R": lambda: lib.grad(lambda x: m.real(m.exp(1j * x) * x))(0.7),
        "vjp complex": lambda: lib.vjp(f, Z)[1](np.complex64(1 + 1j)),
        "jvp complex": lambda: lib.jvp(lambda z: f(z) * m.conj(z), (Z,), (np.complex64(1j),)),
        "jacrev C->R": lambda: lib.jacrev(lambda z: m.abs(z))(ZS),
        "jit grad holomorphic": lambda: lib.jit(lib.grad(f, holomorphic=True))(Z),
    }


@pytest.mark.parametrize("name", list(_holo(fl, fnp)))
def test_holomorphic_and_complex_derivatives_match_jax(name):
    _close(_holo(fl, fnp)[name](), _holo(jax, jnp)[name](), rtol=1e-5, atol=1e-5)


def _errors(lib, m):
    return {
        "complex output": lambda: lib.grad(m.sin)(Z),
        "complex output (value_and_grad)": lambda: lib.value_and_grad(m.sin)(Z),
        "integer output": lambda: lib.grad(lambda x: m.argmax(x))(np.ones(3, np.float32)),
        "holomorphic, real input": lambda: lib.grad(m.sin, holomorphic=True)(1.0),
        "holomorphic, real output": lambda: lib.grad(m.abs, holomorphic=True)(Z),
        "jacrev complex output": lambda: lib.jacrev(lambda x: x * 1j)(np.ones(2, np.float32)),
        "jacrev holomorphic real input": lambda: lib.jacrev(m.sin, holomorphic=True)(
            np.ones(2, np.float32)),
        "jacfwd complex input": lambda: lib.jacfwd(m.abs)(ZS),
        "jacfwd holomorphic real output": lambda: lib.jacfwd(m.abs, holomorphic=True)(ZS),
        "jacfwd integer input": lambda: lib.jacfwd(lambda x: x * 1.0)(np.arange(3)),
    }


MESSAGES = {
    "complex output": r"grad requires real-valued outputs .*holomorphic=True",
    "complex output (value_and_grad)": r"grad requires real-valued outputs .*holomorphic=True",
    "integer output": r"grad requires real-valued outputs .*integer outputs, use vjp",
    "holomorphic, real input": r"grad with holomorphic=True requires inputs with complex "
                               r"dtype, but got float32",
    "holomorphic, real output": r"grad with holomorphic=True requires outputs with complex "
                                r"dtype",
    "jacrev complex output": r"jacrev requires real-valued outputs .*holomorphic=True",
    "jacrev holomorphic real input": r"jacrev with holomorphic=True requires inputs with "
                                     r"complex dtype",
    "jacfwd complex input": r"jacfwd requires real-valued inputs .*got complex64",
    "jacfwd holomorphic real output": r"jacfwd with holomorphic=True requires outputs with "
                                      r"complex dtype",
    "jacfwd integer input": r"jacfwd requires real-valued inputs .*got int32",
}


@pytest.mark.parametrize("name", list(MESSAGES))
def test_complex_differentiation_errors_match_jax(name):
    with pytest.raises(TypeError):
        _errors(jax, jnp)[name]()
    with pytest.raises(TypeError, match=MESSAGES[name]):
        _errors(fl, fnp)[name]()


def test_grad_positional_arguments_follow_jax_order():
    """grad(fun, argnums, has_aux, holomorphic, allow_int), as JAX's signature."""
    f = lambda z: fnp.sin(z) * z  # noqa: E731
    _close(fl.grad(f, 0, False, True)(Z), jax.grad(lambda z: jnp.sin(z) * z, 0, False, True)(Z))
    assert list(inspect.signature(fl.grad).parameters)[:5] == list(
        inspect.signature(jax.grad).parameters)[:5]
    assert list(inspect.signature(fl.jacrev).parameters)[:5] == list(
        inspect.signature(jax.jacrev).parameters)[:5]
    assert list(inspect.signature(fl.jacfwd).parameters)[:4] == list(
        inspect.signature(jax.jacfwd).parameters)[:4]
