"""jvp, transpose and batching rules of the shape primitives (functorch_lite/lax/shapes.py),
device_put, stop_gradient and optimization_barrier, checked against finite differences,
the transpose identity and a Python loop over the batch."""

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

import functorch_lite as fl
from functorch_lite import lax
from functorch_lite.core import dtypes
from functorch_lite.interpreters import ad
from rule_checks import check_batching, check_grads, x64

SMALL = settings(max_examples=8, deadline=None)


def _rand(shape, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).normal(size=shape).astype(dtype)


def _f32(shape, seed=0):
    return _rand(shape, seed, np.float32)


def _total(x):
    """The sum of ``x``'s elements from slices and adds only (so these tests need no
    reduce_sum rules)."""
    n = int(np.prod(np.shape(x)))
    flat = lax.reshape(x, (n,))
    acc = lax.slice(flat, (0,), (1,))
    for i in range(1, n):
        acc = acc + lax.slice(flat, (i,), (i + 1,))
    return lax.squeeze(acc, (0,))


# The transposes of broadcast_in_dim (expanding axes) and of pad (in its padding value)
# sum with reduce_sum; differentiating or batching those needs reduce_sum's own rules.
from functorch_lite.lax.reductions import reduce_sum_p as _rs
needs_reduce_sum_rules = pytest.mark.skipif(
    _rs.jvp_rule is None or _rs.transpose_rule is None or _rs.batch_rule is None,
    reason="reduce_sum has no jvp/transpose/batch rules yet")


def _batched(shape, axis, n=3, seed=0):
    """A float32 array of logical ``shape`` with a batch axis of size ``n`` at ``axis``."""
    s = list(shape)
    s.insert(axis, n)
    return _f32(tuple(s), seed)


# ---------------------------------------------------------------------------------------
# every primitive of the family has its rules

def test_every_primitive_has_rules():
    prims = [lax.reshape_p, lax.broadcast_in_dim_p, lax.transpose_p, lax.squeeze_p,
             lax.concatenate_p, lax.pad_p, lax.slice_p, lax.rev_p, lax.iota_p,
             lax.bitcast_convert_type_p]
    from functorch_lite.lax.misc import optimization_barrier_p, stop_gradient_p
    from functorch_lite.lax.transfer import device_put_p
    prims += [device_put_p, stop_gradient_p, optimization_barrier_p]
    for p in prims:
        assert p.batch_rule is not None, p
        assert p.jvp_rule is not None or p.non_differentiable, p
    for p in prims:
        if not p.non_differentiable:
            assert p.transpose_rule is not None, p   # all the differentiable ones are linear
    assert lax.iota_p.non_differentiable and lax.bitcast_convert_type_p.non_differentiable
    assert stop_gradient_p.non_differentiable


# ---------------------------------------------------------------------------------------
# reshape

RESHAPES = [((2, 3), (3, 2), None), ((2, 3), (6,), None), ((2, 3), (3, 2), (1, 0)),
            ((2, 3, 4), (4, 6), (2, 0, 1)), ((1, 3), (3,), None), ((), (1, 1), None)]


@pytest.mark.parametrize("shape,new_sizes,dims", RESHAPES)
def test_reshape_grads(shape, new_sizes, dims):
    with x64():
        check_grads(lambda x: lax.reshape(x, new_sizes, dims) ** 2, [_rand(shape)])


@pytest.mark.parametrize("shape,new_sizes,dims", RESHAPES[:4])
def test_reshape_batching(shape, new_sizes, dims):
    for ax in range(len(shape) + 1):
        check_batching(lambda x: lax.reshape(x, new_sizes, dims), [_batched(shape, ax)], [ax])


def test_reshape_dimensions_transpose_matches_jax():
    import jax
    x = _f32((2, 3, 4))
    u = _f32((4, 6), 1)
    f = lambda x: lax.reshape(x, (4, 6), (2, 0, 1))  # noqa: E731
    g = lambda x: jax.lax.reshape(x, (4, 6), (2, 0, 1))  # noqa: E731
    got = fl.vjp(f, x)[1](u)[0]
    want = jax.vjp(g, x)[1](u)[0]
    np.testing.assert_allclose(np.asarray(got), np.asarray(want))


# ---------------------------------------------------------------------------------------
# broadcast_in_dim

BROADCASTS = [((3,), (2, 3, 4), (1,)), ((1,), (2, 3), (1,)), ((1, 3), (2, 3), (0, 1)),
              ((), (2, 3), ()), ((2, 1), (2, 1, 3), (0, 1)), ((2, 1, 3), (2, 4, 3), (0, 1, 2))]


@pytest.mark.parametrize("shape,out,bdims", BROADCASTS)
def test_broadcast_in_dim_grads(shape, out, bdims):
    with x64():
        check_grads(lambda x: lax.broadcast_in_dim(x, out, bdims) ** 2, [_rand(shape)])


@pytest.mark.parametrize("shape,out,bdims", BROADCASTS)
def test_broadcast_in_dim_batching(shape, out, bdims):
    for ax in range(len(shape) + 1):
        check_batching(lambda x: lax.broadcast_in_dim(x, out, bdims), [_batched(shape, ax)],
                       [ax])


def test_broadcast_in_dim_batching_keeps_axis():
    # the batch axis is threaded through without a transpose
    x = _batched((3,), 1)
    jaxpr = fl.make_ir(fl.vmap(lambda x: lax.broadcast_in_dim(x, (2, 3, 4), (1,)),
                               in_axes=1, out_axes=2))(x)
    assert "transpose" not in str(jaxpr), jaxpr


# ---------------------------------------------------------------------------------------
# transpose, squeeze, rev

PERMS = [((2, 3), (1, 0)), ((2, 3, 4), (2, 0, 1)), ((2, 3, 4), (1, 2, 0)), ((3,), (0,))]


@pytest.mark.parametrize("shape,perm", PERMS)
def test_transpose_rules(shape, perm):
    with x64():
        check_grads(lambda x: lax.transpose(x, perm) ** 2, [_rand(shape)])
    for ax in range(len(shape) + 1):
        check_batching(lambda x: lax.transpose(x, perm), [_batched(shape, ax)], [ax])


SQUEEZES = [((1, 3), (0,)), ((2, 1, 3, 1), (1, 3)), ((1,), (0,)), ((3, 1), (1,))]


@pytest.mark.parametrize("shape,dims", SQUEEZES)
def test_squeeze_rules(shape, dims):
    with x64():
        check_grads(lambda x: lax.squeeze(x, dims) ** 2, [_rand(shape)])
    for ax in range(len(shape) + 1):
        check_batching(lambda x: lax.squeeze(x, dims), [_batched(shape, ax)], [ax])


REVS = [((4,), (0,)), ((2, 3), (1,)), ((2, 3, 2), (0, 2))]


@pytest.mark.parametrize("shape,dims", REVS)
def test_rev_rules(shape, dims):
    with x64():
        check_grads(lambda x: lax.rev(x, dims) * x, [_rand(shape)])
    for ax in range(len(shape) + 1):
        check_batching(lambda x: lax.rev(x, dims), [_batched(shape, ax)], [ax])


# ---------------------------------------------------------------------------------------
# concatenate

def test_concatenate_grads():
    with x64():
        a, b, c = _rand((2, 3), 0), _rand((2, 1), 1), _rand((2, 2), 2)
        check_grads(lambda a, b, c: lax.concatenate([a, b, c], 1) ** 2, [a, b, c])
        check_grads(lambda a, b: lax.concatenate([a, b], 0) ** 2,
                    [_rand((1, 3)), _rand((2, 3), 1)])


def test_concatenate_grad_some_operands_constant():
    # a constant operand is transposed as a defined (non-linear) input
    with x64():
        const = _rand((2, 2), 5)
        check_grads(lambda a: lax.concatenate([const, a, const], 1) * 3.0, [_rand((2, 3))])
        _, vjp = fl.vjp(lambda a: lax.concatenate([const, a], 1), _rand((2, 3)))
        np.testing.assert_allclose(np.asarray(vjp(np.ones((2, 5)))[0]), np.ones((2, 3)))


def test_concatenate_transpose_zero_cotangent_one_operand():
    # only the first output slice is used: the other operand gets a zero cotangent
    with x64():
        f = lambda a, b: lax.slice(lax.concatenate([a, b], 0), (0,), (2,))  # noqa: E731
        check_grads(f, [_rand((2,)), _rand((3,), 1)])


@pytest.mark.parametrize("in_axes", [(0, 0, 0), (1, None, 0), (None, 2, None), (2, 1, None)])
def test_concatenate_batching(in_axes):
    shapes = [(2, 3), (2, 1), (2, 2)]
    args = [_f32(s, i) if ax is None else _batched(s, ax, seed=i)
            for i, (s, ax) in enumerate(zip(shapes, in_axes))]
    check_batching(lambda *xs: lax.concatenate(xs, 1), args, in_axes)
    shapes0 = [(1, 2), (3, 2), (2, 2)]
    args0 = [_f32(s, i) if ax is None else _batched(s, ax, seed=i)
             for i, (s, ax) in enumerate(zip(shapes0, in_axes))]
    check_batching(lambda *xs: lax.concatenate(xs, 0), args0, in_axes)


# ---------------------------------------------------------------------------------------
# pad

PADS = [((3,), [(1, 2, 0)]), ((3,), [(0, 0, 2)]), ((4,), [(-1, -2, 0)]),
        ((3,), [(-2, 1, 1)]), ((2, 3), [(1, -1, 1), (-1, 2, 0)]), ((0,), [(1, 2, 3)]),
        ((2, 2), [(0, 0, 0), (0, 0, 0)]), ((4,), [(-3, -3, 1)])]


@pytest.mark.parametrize("shape,config", PADS)
def test_pad_grads(shape, config):
    with x64():
        check_grads(lambda x, v: lax.pad(x, v, config) ** 2,
                    [_rand(shape), np.float64(0.7)])
        check_grads(lambda x: lax.pad(x, 0.5, config) * 2.0, [_rand(shape)])
        check_grads(lambda v: lax.pad(np.ones(shape), v, config) ** 2, [np.float64(-0.3)])


def test_pad_transpose_values_match_jax():
    import jax
    config = [(1, -1, 1), (-1, 2, 2)]
    x, v = _f32((2, 3)), np.float32(0.5)
    out, vjp = fl.vjp(lambda x, v: lax.pad(x, v, config), x, v)
    u = _f32(out.shape, 3)
    got = vjp(u)
    want = jax.vjp(lambda x, v: jax.lax.pad(x, v, config), x, v)[1](u)
    for a, b in zip(got, want):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-6)


@st.composite
def _pad_cases(draw):
    rank = draw(st.integers(1, 2))
    shape = tuple(draw(st.integers(1, 3)) for _ in range(rank))
    config = [(draw(st.integers(-2, 2)), draw(st.integers(-2, 2)), draw(st.integers(0, 2)))
              for _ in range(rank)]
    return shape, config


def _pad_out_shape(shape, config):
    return tuple(lo + hi + d + (d - 1) * i for d, (lo, hi, i) in zip(shape, config))


@SMALL
@given(_pad_cases())
def test_pad_grads_hypothesis(case):
    shape, config = case
    assume(all(d > 0 for d in _pad_out_shape(shape, config)))
    with x64():
        check_grads(lambda x, v: lax.pad(x, v, config) * 1.5, [_rand(shape), np.float64(2.0)],
                    order=1)


@pytest.mark.parametrize("dx,dv", [(0, None), (1, None), (0, 0), (1, 0), (None, 0)])
def test_pad_batching(dx, dv):
    config = [(1, -1, 1), (-1, 2, 0)]
    x = _f32((2, 3)) if dx is None else _batched((2, 3), dx)
    v = np.float32(0.25) if dv is None else _f32((3,), 4)
    check_batching(lambda x, v: lax.pad(x, v, config), [x, v], [dx, dv])


# ---------------------------------------------------------------------------------------
# slice

SLICES = [((5,), (1,), (4,), None), ((6,), (0,), (6,), (2,)), ((7,), (1,), (6,), (3,)),
          ((4, 5), (1, 0), (3, 5), (1, 2)), ((4, 3), (0, 1), (4, 3), (3, 1)),
          ((3, 4), (1, 1), (3, 2), None)]


@pytest.mark.parametrize("shape,start,limit,strides", SLICES)
def test_slice_grads(shape, start, limit, strides):
    with x64():
        check_grads(lambda x: lax.slice(x, start, limit, strides) ** 2, [_rand(shape)])


@pytest.mark.parametrize("shape,start,limit,strides", SLICES)
def test_slice_batching(shape, start, limit, strides):
    for ax in range(len(shape) + 1):
        check_batching(lambda x: lax.slice(x, start, limit, strides), [_batched(shape, ax)],
                       [ax])


def test_slice_empty_result_vjp():
    x = _f32((4,))
    out, vjp = fl.vjp(lambda x: lax.slice(x, (2,), (2,)), x)
    assert out.shape == (0,)
    (g,) = vjp(np.zeros((0,), np.float32))
    np.testing.assert_array_equal(np.asarray(g), np.zeros(4, np.float32))


@SMALL
@given(st.integers(1, 6).flatmap(lambda n: st.tuples(
    st.just(n), st.integers(0, n - 1), st.integers(1, n), st.integers(1, 3))))
def test_slice_grads_hypothesis(case):
    n, lo, hi, s = case
    assume(lo < hi)
    with x64():
        check_grads(lambda x: lax.slice(x, (lo,), (hi,), (s,)) * 2.0, [_rand((n,))], order=1)


# ---------------------------------------------------------------------------------------
# iota and bitcast_convert_type (no derivative)

def test_iota_rules():
    # non-differentiable, and vmap never needs its batch rule (it has no operands)
    with x64():
        f = lambda x: x * lax.broadcasted_iota(np.float64, (2, 3), 1)  # noqa: E731
        check_grads(f, [_rand((2, 3))])
    check_batching(lambda x: x + lax.iota(np.float32, 4), [_f32((3, 4))], [0])
    out, t = fl.jvp(lambda x: lax.iota(np.float32, 3) + 0 * x, (np.float32(1.0),),
                    (np.float32(1.0),))
    np.testing.assert_array_equal(np.asarray(out), [0, 1, 2])
    np.testing.assert_array_equal(np.asarray(t), [0, 0, 0])   # only the 0 * x part


def test_bitcast_convert_type_zero_jvp():
    x = _f32((3,))
    out, t = fl.jvp(lambda x: lax.bitcast_convert_type(x, np.int32), (x,), (x,))
    assert np.asarray(out).dtype == np.int32
    assert type(t) is ad.Zero or np.asarray(t).dtype == dtypes.float0
    out, t = fl.jvp(lambda x: lax.bitcast_convert_type(x, np.float32), (x,), (x,))
    np.testing.assert_array_equal(np.asarray(t), np.zeros(3, np.float32))
    _, vjp = fl.vjp(lambda x: lax.bitcast_convert_type(x, np.float32) * x, x)
    np.testing.assert_allclose(np.asarray(vjp(np.ones(3, np.float32))[0]), x)


@pytest.mark.parametrize("ax", [0, 1, 2])
def test_bitcast_convert_type_batching(ax):
    # narrower (adds an axis), equal width, wider (consumes the last axis, possibly the
    # batch axis)
    x = _batched((2, 3), ax)
    check_batching(lambda x: lax.bitcast_convert_type(x, np.uint8), [x], [ax])
    check_batching(lambda x: lax.bitcast_convert_type(x, np.int32), [x], [ax])
    s = [2, 4]
    s.insert(ax, 3)
    b = np.random.default_rng(ax).integers(0, 60, size=s).astype(np.uint8)
    check_batching(lambda b: lax.bitcast_convert_type(b, np.float32), [b], [ax])


# ---------------------------------------------------------------------------------------
# device_put and stop_gradient

def test_device_put_rules():
    with x64():
        check_grads(lambda x: fl.device_put(x) * x, [_rand((2, 3))])
    check_batching(lambda x: fl.device_put(x) + 1.0, [_batched((2,), 1)], [1])
    x = _f32((3,))
    ct = fl.vjp(lambda x: fl.device_put(x), x)[1](np.ones(3, np.float32))[0]
    np.testing.assert_array_equal(np.asarray(ct), np.ones(3))


def test_stop_gradient_rules():
    x = _f32((3,))
    g = fl.grad(lambda x: _total(x * lax.stop_gradient(x)))(x)
    np.testing.assert_allclose(np.asarray(g), x, rtol=1e-6)
    _, t = fl.jvp(lambda x: lax.stop_gradient(x) * 2.0, (x,), (x,))
    np.testing.assert_array_equal(np.asarray(ad.instantiate(t)), np.zeros(3))
    check_batching(lambda x: lax.stop_gradient(x) * 2.0, [_batched((2,), 1)], [1])
    # batched, under grad
    g = fl.vmap(fl.grad(lambda x: _total(x * lax.stop_gradient(x))))(_f32((4, 3)))
    np.testing.assert_allclose(np.asarray(g), _f32((4, 3)), rtol=1e-6)


def test_optimization_barrier_rules():
    """The identity on a pytree, in every mode, with a barrier of its own for tangents and
    cotangents; checked against finite differences, the transpose identity, a loop over
    the batch and JAX."""
    import jax
    f = lambda x, y: _total(lax.optimization_barrier((x * y, {"s": y}))[0] * y)  # noqa: E731
    with x64():
        check_grads(f, [_rand((2, 3)), _rand((2, 3), 1)], order=2)
        check_grads(lambda x: lax.optimization_barrier(x * x), [_rand((3,))], order=2)
    check_batching(lambda x, y: lax.optimization_barrier((x + 1.0, y * 2.0)),
                   [_batched((2,), 1), _f32((2,))], [1, None])
    x, y = _f32((3,)), _f32((3,), 1)
    ours = lax.optimization_barrier({"a": x, "b": (y, 3)})
    theirs = jax.lax.optimization_barrier({"a": x, "b": (y, 3)})
    assert fl.tree_util.tree_structure(ours) == fl.tree_util.tree_structure(
        {"a": 0, "b": (0, 0)})
    for o, t in zip(fl.tree_util.tree_leaves(ours), jax.tree_util.tree_leaves(theirs)):
        np.testing.assert_array_equal(np.asarray(o), np.asarray(t))
        assert np.asarray(o).dtype == np.asarray(t).dtype
    assert lax.optimization_barrier(()) == ()
    # A symbolic-zero tangent stays zero (no barrier is built for it).
    _, (tx, ty) = fl.jvp(lambda a, b: lax.optimization_barrier((a * 2.0, b)), (x, y),
                         (x, fl.numpy.zeros(3)))
    np.testing.assert_allclose(np.asarray(tx), 2 * x)
    np.testing.assert_array_equal(np.asarray(ad.instantiate(ty)), np.zeros(3))
    # The compiled program carries StableHLO's barrier, forward and backward.
    g = fl.jit(fl.value_and_grad(lambda a: _total(lax.optimization_barrier(a * a))))
    text = g.lower(x).as_text()
    assert text.count("stablehlo.optimization_barrier") == 2, text
    np.testing.assert_allclose(np.asarray(g(x)[1]), 2 * x, rtol=1e-6)
    # Through XLA's optimizations, a transposed operand behind a barrier.
    a = _f32((8, 4))
    h = fl.jit(lambda a: lax.dot_general(lax.optimization_barrier(a.T), a,
                                         (((1,), (0,)), ((), ()))))
    np.testing.assert_allclose(np.asarray(h(a)), a.T @ a, rtol=1e-5)


# ---------------------------------------------------------------------------------------
# compositions

def _mixed(x, v):
    y = lax.pad(x, v, [(1, -1, 1)])                      # (2*4-1) = 7
    y = lax.concatenate([y, lax.rev(x, (0,))], 0)         # 11
    y = lax.slice(y, (1,), (11,), (2,))                   # 5
    z = lax.broadcast_in_dim(y, (2, 5), (1,))
    z = lax.transpose(z, (1, 0))
    z = lax.reshape(z, (10,), (1, 0))
    w = lax.squeeze(lax.reshape(z, (1, 10)), (0,))
    return (lax.sin(w) * w).sum()


def _no_reduce(x):
    y = lax.pad(x, 0.5, [(2, -1, 1)])                    # 2 + 7 - 1 = 8
    y = lax.concatenate([lax.rev(y, (0,)), x], 0)        # 12
    y = lax.slice(lax.reshape(y, (3, 4), (0,)), (0, 1), (3, 4), (2, 1))   # (2, 3)
    y = lax.squeeze(lax.reshape(lax.transpose(y, (1, 0)), (1, 6)), (0,))
    y = lax.broadcast_in_dim(y, (6, 1), (0,))
    return _total(lax.sin(y) * fl.device_put(y))


def test_jit_vmap_grad_composition_no_reduce():
    xs = _f32((3, 4))
    got = fl.jit(fl.vmap(fl.grad(_no_reduce)))(xs)
    for i in range(3):
        np.testing.assert_allclose(np.asarray(got)[i], np.asarray(fl.grad(_no_reduce)(xs[i])),
                                   rtol=1e-5, atol=1e-5)
    with x64():
        check_grads(_no_reduce, [_rand((4,))])
        check_grads(fl.grad(_no_reduce), [_rand((4,))], order=1)


@needs_reduce_sum_rules
def test_jit_vmap_grad_composition():
    xs, vs = _f32((3, 4)), _f32((3,), 1)
    got = fl.jit(fl.vmap(fl.grad(_mixed, argnums=(0, 1))))(xs, vs)
    for i in range(3):
        want = fl.grad(_mixed, argnums=(0, 1))(xs[i], vs[i])
        for a, b in zip(got, want):
            np.testing.assert_allclose(np.asarray(a)[i], np.asarray(b), rtol=1e-5, atol=1e-5)


@needs_reduce_sum_rules
def test_jit_vmap_grad_matches_jax():
    import jax

    def jmixed(x, v):
        y = jax.lax.pad(x, v, [(1, -1, 1)])
        y = jax.lax.concatenate([y, jax.lax.rev(x, (0,))], 0)
        y = jax.lax.slice(y, (1,), (11,), (2,))
        z = jax.lax.broadcast_in_dim(y, (2, 5), (1,))
        z = jax.lax.transpose(z, (1, 0))
        z = jax.lax.reshape(z, (10,), (1, 0))
        w = jax.lax.squeeze(jax.lax.reshape(z, (1, 10)), (0,))
        return (jax.numpy.sin(w) * w).sum()

    xs, vs = _f32((3, 4)), _f32((3,), 1)
    got = fl.jit(fl.vmap(fl.grad(_mixed, argnums=(0, 1)), in_axes=(0, 0)))(xs, vs)
    want = jax.vmap(jax.grad(jmixed, argnums=(0, 1)))(xs, vs)
    for a, b in zip(got, want):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-5)


@needs_reduce_sum_rules
def test_vmap_of_hessian_vector_product():
    def f(x):
        return (lax.broadcast_in_dim(x, (3, 2), (0,)) ** 3).sum() + \
            (lax.pad(x, 1.0, [(0, 1, 1)]) ** 2).sum()

    def hvp(x, v):
        return fl.jvp(fl.grad(f), (x,), (v,))[1]

    xs, vs = _f32((4, 3)), _f32((4, 3), 2)
    got = fl.jit(fl.vmap(hvp, in_axes=(0, 0)))(xs, vs)
    # f = 2 sum x^3 + sum x^2 + const: Hessian diag 12 x + 2
    np.testing.assert_allclose(np.asarray(got), (12 * xs + 2) * vs, rtol=1e-5, atol=1e-5)
