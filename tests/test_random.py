"""functorch_lite.random against jax.random: bit-for-bit equal samples for the same key,
shape and dtype; typed and raw keys; jit, vmap and grad; errors for things that are not keys.

Compiles dominate the run time (each sampler compiles once per shape and dtype, on both
sides), so seeds vary inside a test (the key is data, not part of the compile key) and the
shapes are few and shared."""
import contextlib

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest

import xla_bridge  # noqa: F401  (installs the backend)
import functorch_lite as fl
import functorch_lite.numpy as fnp
import functorch_lite.random as frandom
from functorch_lite.core.config import config

SEEDS = [0, 1, 42, 2 ** 31 - 1, -1, 2 ** 40]
SHAPES = [(), (2, 5), (0,)]
BF16 = np.dtype(ml_dtypes.bfloat16)


def ours_key(i, seed):
    """Alternate raw and typed keys so both flavors go through every sampler."""
    return frandom.PRNGKey(seed) if i % 2 == 0 else frandom.key(seed)


def check(ours, theirs):
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    assert ours.dtype == theirs.dtype, (ours.dtype, theirs.dtype)
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    np.testing.assert_array_equal(ours, theirs)


def check_seeds(ours_fn, jax_fn):
    for i, seed in enumerate(SEEDS):
        check(ours_fn(ours_key(i, seed)), jax_fn(jax.random.PRNGKey(seed)))


@contextlib.contextmanager
def x64():
    old, old_jax = config.enable_x64, jax.config.jax_enable_x64
    config.update("enable_x64", True)
    jax.config.update("jax_enable_x64", True)
    try:
        yield
    finally:
        config.update("enable_x64", old)
        jax.config.update("jax_enable_x64", old_jax)


def test_default_is_partitionable_threefry():
    # The bit layout implemented here is JAX's partitionable one, the 0.10 default.
    assert jax.config.jax_threefry_partitionable
    assert jax.config.jax_default_prng_impl == "threefry2x32"


# ---------------------------------------------------------------------------------------
# keys

@pytest.mark.parametrize("seed", SEEDS + [-2 ** 31, 2 ** 32 + 5, np.int32(-7), np.uint32(4e9),
                                          np.int8(-1), np.uint8(200), np.int64(2 ** 40 + 3), True])
def test_prng_key_seeds(seed):
    check(frandom.PRNGKey(seed), jax.random.PRNGKey(seed))
    check(frandom.key_data(frandom.key(seed)), jax.random.key_data(jax.random.key(seed)))


def test_prng_key_traced_seed():
    ours = fl.jit(frandom.PRNGKey)
    theirs = jax.jit(jax.random.PRNGKey)
    for seed in (0, 7, -1, 2 ** 31 - 1):
        check(ours(seed), theirs(seed))
    check(fl.vmap(frandom.PRNGKey)(fnp.arange(3)), jax.vmap(jax.random.PRNGKey)(jnp.arange(3)))


def test_prng_key_seeds_x64():
    with x64():
        for seed in (-1, 2 ** 40 + 5, 2 ** 63 - 1, -2 ** 63, np.int64(-3), np.uint64(2 ** 40),
                     np.int32(-1)):
            check(frandom.PRNGKey(seed), jax.random.PRNGKey(seed))
        check(fl.jit(frandom.PRNGKey)(2 ** 40 + 3), jax.jit(jax.random.PRNGKey)(2 ** 40 + 3))


def test_split_and_fold_in_chains():
    k, jk = frandom.PRNGKey(42), jax.random.PRNGKey(42)
    tk = frandom.key(42)
    for step in range(4):
        k, sub = frandom.split(k)
        jk, jsub = jax.random.split(jk)
        tk, tsub = frandom.split(tk)
        check(k, jk)
        check(sub, jsub)
        check(frandom.key_data(tsub), jsub)
        k = frandom.fold_in(k, step * 1000 + 3)
        tk = frandom.fold_in(tk, step * 1000 + 3)
        jk = jax.random.fold_in(jk, step * 1000 + 3)
        check(k, jk)
        check(frandom.key_data(tk), jk)
    for num in (3, (2, 3), 1, 0):
        check(frandom.split(k, num), jax.random.split(jk, num))
    for data in (0, 2 ** 32 - 1, np.int32(-1), np.uint32(7), True):
        check(frandom.fold_in(k, data), jax.random.fold_in(jk, data))


def test_split_fold_in_flavors():
    raw, typed = frandom.PRNGKey(3), frandom.key(3)
    s_raw, s_typed = frandom.split(raw, 4), frandom.split(typed, 4)
    assert isinstance(s_typed, frandom.KeyArray) and not isinstance(s_raw, frandom.KeyArray)
    assert s_raw.shape == (4, 2) and s_raw.dtype == np.uint32
    assert s_typed.shape == (4,) and str(s_typed.dtype) == "key<fry>"
    assert s_typed.dtype == jax.random.key(0).dtype.name
    check(frandom.key_data(s_typed), s_raw)
    assert isinstance(frandom.fold_in(typed, 1), frandom.KeyArray)
    check(frandom.key_data(frandom.fold_in(typed, 1)), frandom.fold_in(raw, 1))
    # wrap_key_data / key_data round trip
    wrapped = frandom.wrap_key_data(s_raw)
    check(frandom.key_data(wrapped), s_raw)
    check(frandom.key_data(frandom.wrap_key_data(np.asarray(s_raw))), s_raw)
    assert frandom.key_impl(typed) == frandom.key_impl(raw) == "threefry2x32"


def test_key_array_basics():
    ks = frandom.split(frandom.key(0), (2, 3))
    data = np.asarray(frandom.key_data(ks))
    assert ks.shape == (2, 3) and ks.ndim == 2 and ks.size == 6 and len(ks) == 2
    check(frandom.key_data(ks[1]), data[1])
    check(frandom.key_data(ks[1, 2]), data[1, 2])
    check(frandom.key_data(ks[..., 0]), data[:, 0])
    check(frandom.key_data(ks[:, 1:]), data[:, 1:])
    check(frandom.key_data(ks.reshape(6)), data.reshape(6, 2))
    check(frandom.key_data(ks.reshape(3, -1)), data.reshape(3, 2, 2))
    assert [k.shape for k in ks] == [(3,), (3,)]
    np.testing.assert_array_equal(np.asarray(ks[0] == ks[0]), [True] * 3)
    assert "key<fry>" in repr(ks)
    k = frandom.key(1)
    with pytest.raises(TypeError, match="len"):
        len(k)
    with pytest.raises(TypeError, match="key_data"):
        np.asarray(k)
    with pytest.raises(IndexError, match="too many indices"):
        ks[0, 0, 0]
    with pytest.raises(TypeError, match="cannot reshape"):  # as JAX's
        ks.reshape(4)


def test_key_array_is_a_pytree_node():
    k = frandom.split(frandom.key(5), 3)
    leaves, tree = fl.tree_util.tree_flatten(k)
    assert len(leaves) == 1 and leaves[0].shape == (3, 2)
    back = fl.tree_util.tree_unflatten(tree, leaves)
    assert isinstance(back, frandom.KeyArray) and back.shape == (3,)
    out = fl.jit(lambda k: frandom.split(k[1]))(k)
    assert isinstance(out, frandom.KeyArray) and out.shape == (2,)
    check(frandom.key_data(out), frandom.key_data(frandom.split(k[1])))


# ---------------------------------------------------------------------------------------
# samplers, eager, against jax.random bit for bit

@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", ["bits", "uniform", "normal", "exponential", "gumbel",
                                  "randint", "bernoulli", "truncated_normal"])
def test_samplers_match_jax(name, shape):
    calls = {
        "bits": lambda r, k: r.bits(k, shape),
        "uniform": lambda r, k: r.uniform(k, shape, minval=-2., maxval=3.),
        "normal": lambda r, k: r.normal(k, shape),
        "exponential": lambda r, k: r.exponential(k, shape),
        "gumbel": lambda r, k: r.gumbel(k, shape),
        "randint": lambda r, k: r.randint(k, shape, -7, 100),
        "bernoulli": lambda r, k: r.bernoulli(k, 0.3, shape),
        "truncated_normal": lambda r, k: r.truncated_normal(k, -1.5, 0.7, shape),
    }
    check_seeds(lambda k: calls[name](frandom, k), lambda k: calls[name](jax.random, k))


@pytest.mark.parametrize("dtype", [np.float16, BF16])
def test_float_dtypes(dtype):
    shape = (3,)
    check_seeds(lambda k: frandom.uniform(k, shape, dtype),
                lambda k: jax.random.uniform(k, shape, dtype))
    check_seeds(lambda k: frandom.normal(k, shape, dtype),
                lambda k: jax.random.normal(k, shape, dtype))


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_bits_dtypes(dtype):
    check_seeds(lambda k: frandom.bits(k, (3,), dtype), lambda k: jax.random.bits(k, (3,), dtype))


@pytest.mark.parametrize("dtype,lo,hi", [(np.int8, -3, 300), (np.uint8, 0, 256),
                                         (np.uint32, 5, np.uint32(2 ** 32 - 1)),
                                         (np.int32, -2 ** 31, 2 ** 31 - 1)])
def test_randint_dtypes_and_ranges(dtype, lo, hi):
    check_seeds(lambda k: frandom.randint(k, (3,), lo, hi, dtype),
                lambda k: jax.random.randint(k, (3,), lo, hi, dtype))


def test_randint_array_bounds():
    lo, hi = np.arange(5, dtype=np.int32), np.array([10, 2, 7, 3, 9], np.int32)  # some hi <= lo
    check_seeds(lambda k: frandom.randint(k, (2, 5), lo, hi),
                lambda k: jax.random.randint(k, (2, 5), lo, hi))


def test_uniform_array_bounds_and_complex_normal():
    lo = np.array([-1., 0., 2.], np.float32)
    check_seeds(lambda k: frandom.uniform(k, (2, 3), minval=lo, maxval=5.),
                lambda k: jax.random.uniform(k, (2, 3), minval=lo, maxval=5.))
    check_seeds(lambda k: frandom.normal(k, (3,), np.complex64),
                lambda k: jax.random.normal(k, (3,), np.complex64))


@pytest.mark.parametrize("mode", ["high", "highest"])
def test_gumbel_and_bernoulli_modes(mode):
    check_seeds(lambda k: frandom.gumbel(k, (3,), mode=mode),
                lambda k: jax.random.gumbel(k, (3,), mode=mode))
    if mode == "high":
        check_seeds(lambda k: frandom.bernoulli(k, 0.3, (3,), mode="high"),
                    lambda k: jax.random.bernoulli(k, 0.3, (3,), mode="high"))


def test_truncated_normal_broadcast_bounds():
    lower = np.array([-2., -0.5, 0.1], np.float32)
    check_seeds(lambda k: frandom.truncated_normal(k, lower, 1.0),
                lambda k: jax.random.truncated_normal(k, lower, 1.0))


def test_bernoulli_array_p():
    p = np.array([0.1, 0.5, 0.9], np.float32)
    check_seeds(lambda k: frandom.bernoulli(k, p), lambda k: jax.random.bernoulli(k, p))


LOGITS = np.random.RandomState(0).randn(3, 7).astype(np.float32)


@pytest.mark.parametrize("kwargs", [dict(), dict(axis=0, shape=(4, 7)),
                                    dict(shape=(2, 3), replace=False)])
def test_categorical(kwargs):
    check_seeds(lambda k: frandom.categorical(k, LOGITS, **kwargs),
                lambda k: jax.random.categorical(k, LOGITS, **kwargs))


@pytest.mark.parametrize("args", [(10,), (np.arange(12).reshape(3, 4), 1),
                                  (np.arange(12.).reshape(3, 4), 1, True), (2000,)],
                         ids=["int", "axis1", "independent", "two_rounds"])
def test_permutation(args):
    check_seeds(lambda k: frandom.permutation(k, *args),
                lambda k: jax.random.permutation(k, *args))


A = np.arange(20., dtype=np.float32).reshape(4, 5)
P = np.array([.1, .2, .3, .15, .25], np.float32)


@pytest.mark.parametrize("a,kwargs", [
    (A, dict(axis=1)), (A, dict(axis=1, replace=False)), (A, dict(axis=1, p=P)),
    (A, dict(axis=1, p=P, replace=False)), (5, dict()), (5, dict(replace=False)),
], ids=["replace", "no_replace", "p", "p_no_replace", "int", "int_no_replace"])
def test_choice(a, kwargs):
    check_seeds(lambda k: frandom.choice(k, a, (3,), **kwargs),
                lambda k: jax.random.choice(k, a, (3,), **kwargs))


def test_empty_samples():
    k = frandom.key(0)
    assert frandom.choice(k, 5, (0,)).shape == (0,)
    assert frandom.permutation(k, 0).shape == (0,)
    check(frandom.permutation(k, 1), np.array([0], np.int32))
    assert frandom.split(k, 0).shape == (0,)


def test_x64_samplers():
    # Bounds are NumPy scalars: Python scalars passed to a jitted function keep a device
    # buffer cached from before x64 was turned on (a dispatch issue outside this module).
    lo, hi = np.float64(-2.), np.float64(3.)
    with x64():
        for f in [lambda r, k: r.uniform(k, (2, 5), minval=lo, maxval=hi),
                  lambda r, k: r.normal(k, (2, 5)), lambda r, k: r.bits(k, (3,)),
                  lambda r, k: r.randint(k, (3,), np.int64(-5), np.int64(2 ** 40)),
                  lambda r, k: r.categorical(k, np.zeros((2, 5)))]:
            for seed in (0, 2 ** 40 + 3):
                check(f(frandom, frandom.PRNGKey(seed)), f(jax.random, jax.random.PRNGKey(seed)))


# ---------------------------------------------------------------------------------------
# transformations

def _several(k):
    return (frandom.normal(k, (2, 5)), frandom.uniform(k, (2, 5), minval=-2., maxval=3.),
            frandom.randint(k, (2, 5), -7, 100), frandom.permutation(k, 10),
            frandom.split(k))


def test_jit_matches_eager():
    for i, seed in enumerate(SEEDS[:3]):
        k = ours_key(i, seed)
        for a, b in zip(fl.jit(_several)(k), _several(k)):
            if isinstance(b, frandom.KeyArray):
                a, b = frandom.key_data(a), frandom.key_data(b)
            check(a, b)


def test_vmap_over_typed_keys_matches_loop():
    keys = frandom.split(frandom.key(7), 3)
    batched = fl.vmap(_several)(keys)
    for i in range(3):
        for a, b in zip(batched, _several(keys[i])):
            if isinstance(b, frandom.KeyArray):
                a, b = frandom.key_data(a), frandom.key_data(b)
            check(np.asarray(a)[i], b)


def test_vmap_fold_in_and_against_jax():
    keys = frandom.split(frandom.PRNGKey(1), 3)
    jkeys = jax.random.split(jax.random.PRNGKey(1), 3)
    check(fl.vmap(frandom.fold_in)(keys, fnp.arange(3)),
          jax.vmap(jax.random.fold_in)(jkeys, jnp.arange(3)))
    check(fl.vmap(lambda k: frandom.normal(k, (2, 5)))(keys),
          jax.vmap(lambda k: jax.random.normal(k, (2, 5)))(jkeys))


def test_grad_reparameterization():
    k, jk = frandom.PRNGKey(0), jax.random.PRNGKey(0)

    def ours(mu, sigma):
        return fnp.sum(fnp.square(mu + sigma * frandom.normal(k, (2, 5))))

    def theirs(mu, sigma):
        return jnp.sum(jnp.square(mu + sigma * jax.random.normal(jk, (2, 5))))

    g, jg = fl.grad(ours, argnums=(0, 1))(1.5, 0.5), jax.grad(theirs, argnums=(0, 1))(1.5, 0.5)
    np.testing.assert_allclose(np.asarray(g), np.asarray(jg), rtol=1e-6)
    # traced bounds of uniform and truncated_normal
    g = fl.grad(lambda lo, hi: fnp.sum(frandom.uniform(k, (2, 5), minval=lo, maxval=hi)),
                argnums=(0, 1))(-2., 3.)
    jg = jax.grad(lambda lo, hi: jnp.sum(jax.random.uniform(jk, (2, 5), minval=lo, maxval=hi)),
                  argnums=(0, 1))(-2., 3.)
    np.testing.assert_allclose(np.asarray(g), np.asarray(jg), rtol=1e-6)
    g = fl.grad(lambda lo: fnp.sum(frandom.truncated_normal(k, lo, 0.7, (2, 5))))(-1.5)
    jg = jax.grad(lambda lo: jnp.sum(jax.random.truncated_normal(jk, lo, 0.7, (2, 5))))(-1.5)
    np.testing.assert_allclose(np.asarray(g), np.asarray(jg), rtol=1e-5)


def test_grad_with_key_argument():
    # A key passed next to the differentiated argument carries no derivative.
    f = lambda mu, key: fnp.sum(mu * frandom.uniform(key, (2, 5), minval=-2., maxval=3.))
    g = fl.grad(f)(2.0, frandom.key(1))
    expected = np.asarray(frandom.uniform(frandom.key(1), (2, 5), minval=-2., maxval=3.)).sum()
    np.testing.assert_allclose(np.asarray(g), expected, rtol=1e-6)


# ---------------------------------------------------------------------------------------
# statistics and staging

def test_normal_statistics():
    x = np.asarray(frandom.normal(frandom.key(123), (10_000,)))
    assert abs(x.mean()) < 0.05 and abs(x.std() - 1) < 0.05
    u = np.asarray(frandom.uniform(frandom.key(123), (10_000,)))
    assert u.min() >= 0 and u.max() < 1 and abs(u.mean() - 0.5) < 0.02


def test_staged_program_uses_plain_lax_ops():
    prog = fl.make_ir(lambda k: frandom.normal(k, (3,)))(frandom.PRNGKey(0))
    text = str(prog)
    assert "erf_inv" in text and "shift_right_logical" in text and "xor" in text


# ---------------------------------------------------------------------------------------
# errors

@pytest.mark.parametrize("bad,exc,match", [
    (fnp.zeros(2), TypeError, "dtype float32"),
    (np.zeros(2, np.int32), TypeError, "dtype int32"),
    (np.zeros(3, np.uint32), TypeError, r"shape \(3,\), whose last axis is not of length 2"),
    (5, TypeError, "got a value of type int"),
    ([0, 0], TypeError, "got a value of type list"),
    (None, TypeError, "expected a PRNG key"),
])
def test_non_keys_rejected(bad, exc, match):
    for fn in (frandom.split, lambda k: frandom.normal(k), frandom.key_data,
               lambda k: frandom.fold_in(k, 1)):
        with pytest.raises(exc, match=match):
            fn(bad)


def test_argument_errors():
    k = frandom.key(0)
    with pytest.raises(ValueError, match="accepts a single key"):
        frandom.normal(frandom.split(k, 3))
    with pytest.raises(TypeError, match="seed must be an integer"):
        frandom.PRNGKey(1.0)
    with pytest.raises(TypeError, match="scalar seed"):
        frandom.PRNGKey(np.array([1, 2]))
    with pytest.raises(TypeError, match="scalar seed"):
        frandom.key(k)
    with pytest.raises(OverflowError):
        frandom.PRNGKey(2 ** 64)
    with pytest.raises(OverflowError, match="uint32"):
        frandom.fold_in(k, -1)
    with pytest.raises(ValueError, match="float dtype"):
        frandom.uniform(k, dtype=np.int32)
    with pytest.raises(ValueError, match="unsigned"):
        frandom.bits(k, dtype=np.int32)
    with pytest.raises(TypeError, match="integer dtypes"):
        frandom.randint(k, (), 0, 3, np.float32)
    with pytest.raises(TypeError, match="floating dtype"):
        frandom.bernoulli(k, 1)
    with pytest.raises(ValueError, match="must broadcast to the shape"):
        frandom.uniform(k, (2,), minval=np.zeros(3))
    with pytest.raises(ValueError, match="larger sample"):
        frandom.choice(k, 3, (5,), replace=False)
    with pytest.raises(TypeError, match="sequence"):
        frandom.choice(k, 3, 5)
    with pytest.raises(TypeError, match="integer or at least 1-dimensional"):
        frandom.permutation(k, 2.5)
    with pytest.raises(ValueError, match="mode"):
        frandom.gumbel(k, mode="medium")
    with pytest.raises(ValueError, match="nonnegative"):
        frandom.split(k, -1)
    with pytest.raises(TypeError, match="last axis"):
        frandom.wrap_key_data(np.zeros(3, np.uint32))
