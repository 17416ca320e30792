"""jvp, transpose and batching rules of sort and top_k (functorch_lite/lax/sorting.py),
checked against finite differences (on inputs without ties), the transpose identity,
jax.vjp (with tied integer keys, where the permutation of the other operands matters) and
a Python loop over the batch."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import functorch_lite as fl
from functorch_lite import lax
from functorch_lite.core import dtypes
from functorch_lite.core.avals import ShapedArray
from functorch_lite.interpreters.transpose import UndefinedPrimal
from functorch_lite.lax import sorting as srt
from rule_checks import batched_normal, check_batching, check_grads, normal, x64

SMALL = settings(max_examples=6, deadline=None)


_rand, _batched = normal, batched_normal


def _f32(shape, seed=0):
    return _rand(shape, seed, np.float32)


def _int_keys(shape, seed=0):
    """Integer keys with many ties."""
    return np.random.default_rng(seed).integers(0, 3, size=shape).astype(np.int32)


def test_every_primitive_has_rules():
    for p in (srt.sort_p, srt.top_k_p):
        assert p.jvp_rule is not None and p.batch_rule is not None, p
    assert srt.sort_p.transpose_rule is not None


# ---------------------------------------------------------------------------------------
# sort

@st.composite
def shape_and_dim(draw, max_rank=3, max_dim=4):
    rank = draw(st.integers(1, max_rank))
    shape = tuple(draw(st.lists(st.integers(1, max_dim), min_size=rank, max_size=rank)))
    return shape, draw(st.integers(-rank, rank - 1))


@SMALL
@given(sd=shape_and_dim(), stable=st.booleans())
def test_sort_grads(sd, stable):
    shape, dim = sd
    with x64():
        check_grads(lambda x: lax.sort(lax.sin(x), dim, stable), [_rand(shape, len(shape))])


@pytest.mark.parametrize("shape,dim", [((5,), 0), ((3, 4), 0), ((2, 3, 2), 1)])
def test_sort_multi_operand_grads(shape, dim):
    with x64():
        # a float key and two float values: every operand is permuted by the key
        check_grads(lambda k, v, w: lax.sort((lax.sin(k), v * v, w), dim, num_keys=1),
                    [_rand(shape, 1), _rand(shape, 2), _rand(shape, 3)])
        # two float keys (the second breaks no ties here, but both get tangents)
        check_grads(lambda k, v: lax.sort((k, lax.sin(v)), dim, num_keys=2),
                    [_rand(shape, 4), _rand(shape, 5)])
        # tied integer keys, a float value: the stable permutation moves the tangents
        check_grads(lambda k, v: lax.sort((k, lax.sin(v)), dim, num_keys=1)[1],
                    [_int_keys(shape, 6), _rand(shape, 7)])


@pytest.mark.parametrize("num_keys", [1, 2])
def test_sort_vjp_with_tied_keys_matches_jax(num_keys):
    k1 = _int_keys((3, 6), 0)
    k2 = _int_keys((3, 6), 1)
    v = _f32((3, 6), 2)
    u = _f32((3, 6), 3)

    def f(v):
        return lax.sort((k1, k2, v * 2.0), 1, num_keys=num_keys)[2]

    def g(v):
        return jax.lax.sort((k1, k2, v * 2.0), dimension=1, num_keys=num_keys)[2]

    np.testing.assert_allclose(np.asarray(fl.vjp(f, v)[1](u)[0]),
                               np.asarray(jax.vjp(g, v)[1](u)[0]))
    np.testing.assert_allclose(np.asarray(fl.jvp(f, (v,), (u,))[1]),
                               np.asarray(jax.jvp(g, (v,), (u,))[1]))


def test_sort_integer_operands_get_zero_tangents():
    k = _int_keys((5,), 0)
    v = _f32((5,), 1)
    (_, vs), (tk, tv) = fl.jvp(lambda v: lax.sort((k, v), num_keys=1), (v,), (v,))
    assert np.asarray(tk).dtype == dtypes.float0
    np.testing.assert_array_equal(np.asarray(tv), np.asarray(vs))


def test_sort_transpose_in_keys_is_not_supported():
    ct = [None, np.ones(3, np.float32)]
    with pytest.raises(NotImplementedError, match="sort"):
        srt.sort_p.transpose_rule(ct, UndefinedPrimal(ShapedArray((3,), np.float32)),
                                  np.ones(3, np.float32), dimension=0, is_stable=True,
                                  num_keys=1)


def test_sort_grad_matches_jax():
    x = _f32((3, 5), 4)
    w = _f32((3, 5), 5)
    got = fl.grad(lambda x: lax.reduce_sum(lax.sort(x, 0) * w, (0, 1)))(x)
    want = jax.grad(lambda x: jnp.sum(jax.lax.sort(x, dimension=0) * w))(x)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want))


@pytest.mark.parametrize("shape,dim", [((4,), 0), ((3, 4), 0), ((3, 4), 1), ((2, 3, 4), 1)])
def test_sort_batching(shape, dim):
    for ax in range(len(shape) + 1):
        check_batching(lambda x: lax.sort(x, dim), [_batched(shape, ax)], [ax])
        k = _int_keys(tuple(np.shape(_batched(shape, ax))), ax)
        check_batching(lambda k, v: lax.sort((k, v), dim, num_keys=1),
                       [k, _batched(shape, ax, seed=1)], [ax, ax])
    # only some operands batched, at different positions
    nd = len(shape)
    check_batching(lambda k, v: lax.sort((k, v), dim, num_keys=1),
                   [_batched(shape, nd), _f32(shape, 2)], [nd, None])
    check_batching(lambda k, v, w: lax.sort((k, v, w), dim, num_keys=2),
                   [_int_keys(shape, 3), _batched(shape, 0, dtype=np.float32),
                    _batched(shape, nd, seed=4)], [None, 0, nd])


# ---------------------------------------------------------------------------------------
# top_k

@pytest.mark.parametrize("shape,k", [((5,), 2), ((3, 4), 4), ((2, 3, 5), 1), ((4,), 0)])
def test_top_k_grads(shape, k):
    with x64():
        check_grads(lambda x: lax.top_k(lax.sin(x), k)[0], [_rand(shape, k)])


def test_top_k_grad_matches_jax_and_indices_have_no_tangent():
    x = _f32((3, 6), 1)
    w = _f32((3, 2), 2)
    got = fl.grad(lambda x: lax.reduce_sum(lax.top_k(x, 2)[0] * w, (0, 1)))(x)
    want = jax.grad(lambda x: jnp.sum(jax.lax.top_k(x, 2)[0] * w))(x)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want))
    _, (_, ti) = fl.jvp(lambda x: lax.top_k(x, 2), (x,), (x,))
    assert np.asarray(ti).dtype == dtypes.float0


@pytest.mark.parametrize("shape,k", [((5,), 2), ((3, 4), 3), ((2, 3, 4), 1)])
def test_top_k_batching(shape, k):
    for ax in range(len(shape) + 1):   # ax == len(shape): the batch axis is last
        check_batching(lambda x: lax.top_k(x, k), [_batched(shape, ax)], [ax])
    i = (_batched(shape, 0) * 5).astype(np.int32)
    check_batching(lambda x: lax.top_k(x, k), [i], [0])


# ---------------------------------------------------------------------------------------
# compositions

def test_jit_vmap_grad_of_sort_and_top_k():
    w = _f32((5,), 9)

    def f(x):
        return lax.reduce_sum(lax.sort(x, 0) * w, (0,)) + \
            lax.reduce_sum(lax.top_k(x * x, 2)[0], (0,))

    def g(x):
        return jnp.sum(jax.lax.sort(x, dimension=0) * w) + jnp.sum(jax.lax.top_k(x * x, 2)[0])

    xs = _f32((4, 5), 3)
    np.testing.assert_allclose(np.asarray(fl.jit(fl.vmap(fl.grad(f)))(xs)),
                               np.asarray(jax.jit(jax.vmap(jax.grad(g)))(xs)), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(fl.jit(fl.vmap(fl.grad(f), in_axes=1))(xs.T)),
                               np.asarray(jax.vmap(jax.grad(g), in_axes=1)(xs.T)), rtol=1e-6)


def test_hessian_through_sort_matches_jax():
    x = _f32((5,), 6)

    def f(x):
        return lax.reduce_sum(lax.sort(x * x, 0) * lax.iota(np.float32, 5), (0,))

    def g(x):
        return jnp.sum(jnp.sort(x * x) * jnp.arange(5, dtype=jnp.float32))

    np.testing.assert_allclose(np.asarray(fl.jit(fl.hessian(f))(x)),
                               np.asarray(jax.hessian(g)(x)), rtol=1e-6)
