"""``jax_threefry_partitionable`` off: ``random`` draws JAX's original threefry streams,
bit for bit (on, the default, is what tests/test_random.py checks). Both libraries switch
together in each test; the fixture puts both back."""
import jax
import numpy as np
import pytest
from hypothesis import given, strategies as st

import functorch_lite as fl
import functorch_lite.random as frandom
from functorch_lite import config
from helpers import python_with_env


@pytest.fixture(autouse=True)
def original_streams():
    config.update("jax_threefry_partitionable", False)
    jax.config.update("jax_threefry_partitionable", False)
    yield
    config.update("jax_threefry_partitionable", True)
    jax.config.update("jax_threefry_partitionable", True)


def same(ours, theirs):
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    np.testing.assert_array_equal(ours, theirs)


SHAPES = st.lists(st.integers(0, 5), min_size=0, max_size=3).map(tuple)


@given(seed=st.integers(-2 ** 31, 2 ** 31 - 1), shape=SHAPES,
       dtype=st.sampled_from(["uint8", "uint16", "uint32"]))
def test_bits(seed, shape, dtype):
    same(frandom.bits(frandom.PRNGKey(seed), shape, dtype),
         jax.random.bits(jax.random.PRNGKey(seed), shape, dtype))


@given(seed=st.integers(0, 2 ** 32 - 1), num=st.sampled_from([1, 2, 3, 5, (2, 3)]))
def test_split_and_fold_in(seed, num):
    ours, theirs = frandom.PRNGKey(seed), jax.random.PRNGKey(seed)
    same(frandom.split(ours, num), jax.random.split(theirs, num))
    same(frandom.fold_in(ours, 12345), jax.random.fold_in(theirs, 12345))
    typed = frandom.split(frandom.key(seed), num)
    same(frandom.key_data(typed), jax.random.key_data(jax.random.split(jax.random.key(seed),
                                                                       num)))


def test_64_bit_draws():
    with fl.enable_x64(True), jax.enable_x64(True):
        for shape in [(), (3,), (2, 3)]:
            key, jkey = frandom.PRNGKey(3), jax.random.PRNGKey(3)
            same(frandom.bits(key, shape, "uint64"), jax.random.bits(jkey, shape, "uint64"))
            same(frandom.normal(key, shape, "float64"),
                 jax.random.normal(jkey, shape, "float64"))


@pytest.mark.parametrize("name, args", [
    ("uniform", ((4, 3),)), ("normal", ((5,),)), ("randint", ((6,), 0, 10)),
    ("bernoulli", (0.3, (7,))), ("permutation", (9,)), ("choice", (10, (4,), False)),
    ("gumbel", ((3,),)), ("categorical", (np.log(np.arange(1.0, 5.0)), -1, (6,))),
    ("truncated_normal", (-1.0, 2.0, (5,))), ("exponential", ((4,),)),
])
def test_samplers(name, args):
    for seed in (0, 9, 2 ** 31 - 1):
        same(getattr(frandom, name)(frandom.PRNGKey(seed), *args),
             getattr(jax.random, name)(jax.random.PRNGKey(seed), *args))


def test_gamma_draws_through_the_same_stream():
    ours = frandom.gamma(frandom.PRNGKey(4), 2.5, (6,))
    theirs = jax.random.gamma(jax.random.PRNGKey(4), 2.5, (6,))
    np.testing.assert_allclose(ours, theirs, rtol=1e-5)


def test_under_jit_and_vmap():
    keys = frandom.split(frandom.PRNGKey(1), 4)
    jkeys = jax.random.split(jax.random.PRNGKey(1), 4)
    same(fl.jit(fl.vmap(lambda k: frandom.normal(k, (3,))))(keys),
         jax.jit(jax.vmap(lambda k: jax.random.normal(k, (3,))))(jkeys))


def test_changing_the_flag_traces_again():
    draw = fl.jit(lambda k: frandom.uniform(k, (4,)))
    key = frandom.PRNGKey(0)
    original = np.asarray(draw(key))
    with fl.threefry_partitionable(True):
        assert fl.threefry_partitionable.value is True
        partitionable = np.asarray(draw(key))
    same(draw(key), original)
    assert not np.array_equal(original, partitionable)
    jax.config.update("jax_threefry_partitionable", True)
    same(partitionable, jax.random.uniform(jax.random.PRNGKey(0), (4,)))


def test_from_the_environment():
    code = ("import functorch_lite as fl, functorch_lite.random as r\n"
            "print(fl.config.threefry_partitionable, r.bits(r.PRNGKey(0), (3,)).tolist())\n")
    done = python_with_env(code, JAX_THREEFRY_PARTITIONABLE="0")
    assert done.returncode == 0, done.stderr
    want = np.asarray(jax.random.bits(jax.random.PRNGKey(0), (3,))).tolist()
    assert done.stdout.split(" ", 1) == ["False", f"{want}\n"]
