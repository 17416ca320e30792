"""Typed PRNG keys (``random.key``, dtype ``key<fry>``) in ``fl.typeof`` and ``fl.eval_shape``,
against ``jax.typeof`` / ``jax.eval_shape`` on ``jax.random.key``: printed types, key
outputs and inputs (ShapeDtypeStructs of dtype ``key<fry>``), pytrees that mix keys and
arrays, and both functions called inside ``jit``, ``vmap`` and ``grad``.

``eval_shape`` only traces, so these tests compile almost nothing; the few device runs
(``jit``/``vmap``/``grad`` of a sampler) share one shape."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import functorch_lite as fl
import functorch_lite.numpy as fnp
import functorch_lite.random as frandom
from functorch_lite.core.avals import ShapedArray
from rule_checks import x64

SMALL = settings(max_examples=8, deadline=None)
key_shapes = st.lists(st.integers(0, 3), min_size=0, max_size=3).map(tuple)


def ours_key_struct(shape):
    """``ShapeDtypeStruct(shape, key<fry>)`` on our side, built as JAX users build it."""
    return fl.ShapeDtypeStruct(shape, frandom.key(0).dtype)


def test_key_struct_constructor_matches_eval_shape():
    made = fl.ShapeDtypeStruct((3,), frandom.key(0).dtype)
    got = fl.eval_shape(lambda: frandom.wrap_key_data(fnp.zeros((3, 2), np.uint32)))
    assert made == got and hash(made) == hash(got) and repr(made) == repr(got)
    assert fl.typeof(made) == fl.typeof(frandom.split(frandom.key(0), 3))
    assert made.update(shape=(5,)) == fl.ShapeDtypeStruct((5,), made.dtype)


def test_jit_lower_takes_key_structs_as_jax():
    def f(k, x):
        return frandom.split(k, 3), frandom.normal(k, x.shape) + x

    k, x = frandom.key(7), np.arange(2, dtype=np.float32)
    ours = fl.jit(f).lower(ours_key_struct(()), fl.ShapeDtypeStruct((2,), np.float32))
    keys, y = ours.compile()(k, x)
    direct_keys, direct_y = fl.jit(f)(k, x)
    np.testing.assert_array_equal(frandom.key_data(keys), frandom.key_data(direct_keys))
    np.testing.assert_array_equal(np.asarray(y), np.asarray(direct_y))
    jk, jy = jax.jit(lambda k, x: (jax.random.split(k, 3), jax.random.normal(k, x.shape) + x)
                     ).lower(jax_key_struct(()), jax.ShapeDtypeStruct((2,), jnp.float32)
                             ).compile()(jax.random.key(7), x)
    np.testing.assert_array_equal(frandom.key_data(keys), jax.random.key_data(jk))
    np.testing.assert_allclose(np.asarray(y), np.asarray(jy), rtol=1e-6)
    traced = fl.jit(f).trace(ours_key_struct(()), fl.ShapeDtypeStruct((2,), np.float32))
    assert "u32[2]" in str(traced.jaxpr)


def test_key_struct_in_a_jit_call_is_a_type_error():
    with pytest.raises(TypeError):        # as JAX: a struct is not a value to compute on
        fl.jit(lambda k: k)(fl.ShapeDtypeStruct((), frandom.key(0).dtype))


def jax_key_struct(shape):
    return jax.ShapeDtypeStruct(shape, jax.random.key(0).dtype)


def same_structs(ours, theirs):
    """Same pytree of ShapeDtypeStructs: structure, repr of every leaf (shape, dtype name,
    weak type), and dtypes that equal the keys' own dtype where JAX's do."""
    o_leaves, o_tree = jax.tree_util.tree_flatten(ours)
    t_leaves, t_tree = jax.tree_util.tree_flatten(theirs)
    assert len(o_leaves) == len(t_leaves), (ours, theirs)
    assert repr(ours) == repr(theirs)
    for o, t in zip(o_leaves, t_leaves):
        assert isinstance(o, fl.ShapeDtypeStruct), o
        assert (o.shape, o.ndim, o.size, o.weak_type) == (t.shape, t.ndim, t.size, t.weak_type)
        assert str(o.dtype) == str(t.dtype)
        is_key = t.dtype == jax.random.key(0).dtype
        assert (o.dtype == frandom.key(0).dtype) == is_key


# ---------------------------------------------------------------------------------------
# typeof


@pytest.mark.parametrize("make", [
    lambda r: r.key(0),
    lambda r: r.split(r.key(1), 3),
    lambda r: r.split(r.key(2), (2, 0)),
    lambda r: r.PRNGKey(3),                     # raw keys stay uint32 arrays
    lambda r: r.key_data(r.split(r.key(4))),
])
def test_typeof_prints_as_jax(make):
    ours, theirs = fl.typeof(make(frandom)), jax.typeof(make(jax.random))
    assert (str(ours), repr(ours)) == (str(theirs), repr(theirs))
    assert (ours.shape, ours.ndim, ours.size, ours.weak_type) == \
        (theirs.shape, theirs.ndim, theirs.size, theirs.weak_type)
    if str(theirs.dtype) == "key<fry>":  # (arrays print their dtype short here: u32[2])
        assert ours.str_short() == theirs.str_short()
        assert ours.dtype == make(frandom).dtype
    assert isinstance(ours, ShapedArray)


def test_key_type_equality_and_update():
    t = fl.typeof(frandom.split(frandom.key(0), 3))
    assert t == fl.typeof(frandom.split(frandom.key(7), 3)) and hash(t) == hash(
        fl.typeof(frandom.split(frandom.key(7), 3)))
    assert t != fl.typeof(frandom.split(frandom.key(0), 4))
    assert t != ShapedArray((3, 2), np.uint32) and ShapedArray((3, 2), np.uint32) != t
    assert t.dtype == frandom.key(0).dtype and str(t.dtype) == "key<fry>"
    assert t.dtype != np.dtype(np.uint32) and np.dtype(np.uint32) != t.dtype
    # as JAX's: changing the dtype gives an array type, keeping it a key type
    jt = jax.typeof(jax.random.split(jax.random.key(0), 3))
    assert str(t.update(dtype=np.float32)) == str(jt.update(dtype=jnp.float32)) == "float32[3]"
    assert str(t.update(shape=(5,))) == str(jt.update(shape=(5,))) == "key<fry>[5]"
    assert t.update(shape=(5,)) == fl.typeof(frandom.split(frandom.key(0), 5))


def test_typeof_key_struct():
    for shape in [(), (3,)]:
        ours, theirs = fl.typeof(ours_key_struct(shape)), jax.typeof(jax_key_struct(shape))
        assert repr(ours) == repr(theirs)


def test_typeof_inside_transformations():
    seen = {"ours": [], "jax": []}

    def probe(lib, rand, name):
        def f(x, k):
            seen[name].append(repr(lib.typeof(k)))
            return x * rand.normal(k)
        return f

    ok, jk = frandom.key(5), jax.random.key(5)
    oks, jks = frandom.split(ok, 3), jax.random.split(jk, 3)
    fo, fj = probe(fl, frandom, "ours"), probe(jax, jax.random, "jax")
    np.testing.assert_allclose(fl.jit(fo)(2.0, ok), jax.jit(fj)(2.0, jk), rtol=1e-6)
    np.testing.assert_allclose(fl.vmap(fo, (None, 0))(2.0, oks),
                               jax.vmap(fj, (None, 0))(2.0, jks), rtol=1e-6)
    np.testing.assert_allclose(fl.grad(fo)(2.0, ok), jax.grad(fj)(2.0, jk), rtol=1e-6)
    np.testing.assert_allclose(fl.jit(fl.vmap(fo, (None, 0)))(2.0, oks),
                               jax.jit(jax.vmap(fj, (None, 0)))(2.0, jks), rtol=1e-6)
    assert seen["ours"] == seen["jax"] == ["ShapedArray(key<fry>[])"] * 4
    # a batch of keys seen whole inside jit
    got = []
    fl.jit(lambda ks: got.append(str(fl.typeof(ks))) or ks)(frandom.split(ok, (2, 3)))
    assert got == [str(jax.typeof(jax.random.split(jk, (2, 3))))] == ["key<fry>[2,3]"]


def test_typeof_errors_as_jax():
    with pytest.raises(TypeError):
        jax.typeof([jax.random.key(0)])
    with pytest.raises(TypeError, match="list"):
        fl.typeof([frandom.key(0)])


# ---------------------------------------------------------------------------------------
# eval_shape: key outputs and inputs

OUTPUT_CASES = {
    "split": lambda r: lambda k: r.split(k),
    "split_tuple": lambda r: lambda k: r.split(k, (2, 3)),
    "fold_in": lambda r: lambda k: r.fold_in(k, 3),
    "identity": lambda r: lambda k: k,
    "key_data": lambda r: lambda k: r.key_data(r.split(k, 4)),
    "mixed": lambda r: lambda k: {"keys": r.split(k, 2), "data": r.key_data(k),
                                  "x": (r.normal(k, (3,)), r.bits(k, (2,), np.uint8))},
    "indexed": lambda r: lambda k: r.split(k, 5)[1:3],
    "reshaped": lambda r: lambda k: r.split(k, 6).reshape(2, 3),
}


@pytest.mark.parametrize("name", sorted(OUTPUT_CASES))
def test_eval_shape_key_outputs(name):
    case = OUTPUT_CASES[name]
    ours = fl.eval_shape(case(frandom), frandom.key(0))
    theirs = jax.eval_shape(case(jax.random), jax.random.key(0))
    same_structs(ours, theirs)


def test_eval_shape_makes_keys_from_seeds_and_data():
    same_structs(fl.eval_shape(frandom.key, 3), jax.eval_shape(jax.random.key, 3))
    same_structs(fl.eval_shape(frandom.key, fl.ShapeDtypeStruct((), np.int32)),
                 jax.eval_shape(jax.random.key, jax.ShapeDtypeStruct((), jnp.int32)))
    same_structs(fl.eval_shape(frandom.wrap_key_data, fl.ShapeDtypeStruct((4, 2), np.uint32)),
                 jax.eval_shape(jax.random.wrap_key_data,
                                jax.ShapeDtypeStruct((4, 2), jnp.uint32)))
    same_structs(fl.eval_shape(lambda: frandom.split(frandom.key(0), 3)),
                 jax.eval_shape(lambda: jax.random.split(jax.random.key(0), 3)))


@SMALL
@given(shape=key_shapes)
def test_eval_shape_key_struct_inputs(shape):
    def f(r):
        def g(ks, x):
            flat = ks.reshape(-1)
            return {"keys": ks, "data": r.key_data(ks), "flat": flat, "y": x.sum()}
        return g
    ours = fl.eval_shape(f(frandom), ours_key_struct(shape),
                         fl.ShapeDtypeStruct(shape, np.float32))
    theirs = jax.eval_shape(f(jax.random), jax_key_struct(shape),
                            jax.ShapeDtypeStruct(shape, jnp.float32))
    same_structs(ours, theirs)


def test_eval_shape_inputs_in_pytrees():
    """Key structs, key arrays, typeof(keys) and plain arrays mixed in one argument tree."""
    def f(r):
        def g(tree, scale):
            k = tree["key"]
            return (r.split(k, 3), r.uniform(tree["many"][0], (2,)) * scale,
                    r.fold_in(tree["typed"], 1), tree["x"] + 1)
        return g
    ours_tree = {"key": ours_key_struct(()), "many": frandom.split(frandom.key(0), 4),
                 "typed": fl.typeof(frandom.key(1)), "x": fl.ShapeDtypeStruct((2,), np.int32)}
    jax_tree = {"key": jax_key_struct(()), "many": jax.random.split(jax.random.key(0), 4),
                "typed": jax.typeof(jax.random.key(1)),
                "x": jax.ShapeDtypeStruct((2,), jnp.int32)}
    same_structs(fl.eval_shape(f(frandom), ours_tree, 2.0),
                 jax.eval_shape(f(jax.random), jax_tree, 2.0))
    # a struct eval_shape returned goes back in, as JAX's do
    again = fl.eval_shape(lambda k: frandom.split(k, 2), fl.eval_shape(frandom.key, 0))
    same_structs(again, jax.eval_shape(lambda k: jax.random.split(k, 2),
                                       jax.eval_shape(jax.random.key, 0)))


def test_key_structs_compare_and_hash():
    a, b = ours_key_struct((2,)), fl.eval_shape(lambda: frandom.split(frandom.key(3)))
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a != ours_key_struct((3,)) and a != fl.ShapeDtypeStruct((2, 2), np.uint32)
    assert len(a) == 2 and a.sharding is None
    with pytest.raises(RuntimeError, match="immutable"):
        a.shape = (3,)


def test_eval_shape_inside_jit_and_vmap():
    ours_seen, jax_seen = [], []

    def probe(lib, rand, seen):
        def f(k):
            seen.append(lib.eval_shape(lambda kk: (rand.split(kk, 3), rand.key_data(kk)), k))
            return rand.normal(k, (2,))
        return f

    ok, jk = frandom.key(0), jax.random.key(0)
    for wrap_o, wrap_j, ko, kj in [(fl.jit, jax.jit, ok, jk),
                                   (fl.vmap, jax.vmap, frandom.split(ok, 4),
                                    jax.random.split(jk, 4))]:
        np.testing.assert_allclose(wrap_o(probe(fl, frandom, ours_seen))(ko),
                                   wrap_j(probe(jax, jax.random, jax_seen))(kj), rtol=1e-6)
    assert len(ours_seen) == len(jax_seen) == 2
    for o, t in zip(ours_seen, jax_seen):
        same_structs(o, t)


def test_eval_shape_under_x64():
    def f(r):
        return lambda k: (r.split(k), r.normal(k, (2,), jnp.float64), r.randint(k, (), 0, 5))
    with x64():
        jax.config.update("jax_enable_x64", True)
        same_structs(fl.eval_shape(f(frandom), ours_key_struct(())),
                     jax.eval_shape(f(jax.random), jax_key_struct(())))


def test_make_jaxpr_return_shape_keys():
    _, ours = fl.make_jaxpr(lambda k: (frandom.split(k), 1.0 * frandom.normal(k)),
                            return_shape=True)(frandom.key(0))
    _, theirs = jax.make_jaxpr(lambda k: (jax.random.split(k), 1.0 * jax.random.normal(k)),
                               return_shape=True)(jax.random.key(0))
    same_structs(ours, theirs)


def test_eval_shape_errors_as_jax():
    ok, jk = frandom.key(0), jax.random.key(0)
    # no arithmetic on keys
    with pytest.raises(TypeError):
        jax.eval_shape(lambda k: k + 1, jk)
    with pytest.raises(TypeError, match="KeyArray"):
        fl.eval_shape(lambda k: k + 1, ok)
    # a batch of keys where one key is expected
    with pytest.raises(ValueError, match="single key"):
        jax.eval_shape(jax.random.normal, jax_key_struct((3,)))
    with pytest.raises(ValueError, match="single key"):
        fl.eval_shape(frandom.normal, ours_key_struct((3,)))
    # typed keys where raw data is expected
    with pytest.raises(TypeError):
        jax.eval_shape(jax.random.wrap_key_data, jax_key_struct((2,)))
    with pytest.raises(TypeError, match="typed keys"):
        fl.eval_shape(frandom.wrap_key_data, ours_key_struct((2,)))
