"""functorch_lite/lax/associative.py (associative_scan, cumlogsumexp, split, batch_matmul,
broadcast_shapes, tile) against jax.lax: values, shapes and dtypes, jit, vmap, grad and
errors."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import functorch_lite as fl
import functorch_lite.lax as lax
import functorch_lite.lax.associative as A
from helpers import assert_same
from rule_checks import x64

SMALL = settings(max_examples=8, deadline=None)
RNG = np.random.default_rng(0)


def normal(*shape, dtype=np.float32, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype(dtype)


@st.composite
def shape_and_axis(draw, max_rank=3, max_size=6):
    """A shape of rank 1..max_rank and an axis of it, negative half of the time."""
    shape = tuple(draw(st.lists(st.integers(1, max_size), min_size=1, max_size=max_rank)))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    return shape, axis


def _linear_recurrence(p, q):
    # (a, b) pairs are the affine maps h -> a h + b; composing "p then q" is associative.
    (a1, b1), (a2, b2) = p, q
    return a1 * a2, a2 * b1 + b2


# ---------------------------------------------------------------------------------------
# associative_scan

@SMALL
@given(shape_and_axis(), st.booleans())
def test_associative_scan_add_matches_jax(sa, reverse):
    shape, axis = sa
    x = normal(*shape)
    ours = fl.jit(lambda x: A.associative_scan(lax.add, x, reverse=reverse, axis=axis))(x)
    # JAX's own reverse scan fails on a negative axis, so it gets the non-negative one.
    theirs = jax.jit(lambda x: jax.lax.associative_scan(jnp.add, x, reverse=reverse,
                                                        axis=axis % len(shape)))(x)
    assert_same(ours, theirs)
    want = np.flip(np.cumsum(np.flip(x, axis), axis), axis) if reverse else np.cumsum(x, axis)
    np.testing.assert_allclose(ours, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("n", [0, 1, 2, 7, 16])
@pytest.mark.parametrize("reverse", [False, True])
def test_associative_scan_noncommutative_order(n, reverse):
    # Matrix products do not commute, so this pins the argument order (fn(later, earlier)
    # when reversed, as JAX).
    m = normal(n, 2, 2, seed=n)
    ours = fl.jit(lambda m: A.associative_scan(A.batch_matmul, m, reverse=reverse))(m)
    theirs = jax.jit(lambda m: jax.lax.associative_scan(jax.lax.batch_matmul, m,
                                                        reverse=reverse))(m)
    assert_same(ours, theirs, tol=1e-4)


def test_associative_scan_linear_recurrence_pytree():
    a = RNG.uniform(0.5, 1.0, size=(11, 3)).astype(np.float32)
    b = normal(11, 3, seed=1)
    h, want = np.zeros(3, np.float32), []
    for t in range(11):
        h = a[t] * h + b[t]
        want.append(h)
    ours = fl.jit(lambda a, b: A.associative_scan(_linear_recurrence, (a, b)))(a, b)
    assert isinstance(ours, tuple) and len(ours) == 2
    np.testing.assert_allclose(ours[1], np.stack(want), rtol=1e-5, atol=1e-5)
    assert_same(ours, jax.jit(lambda a, b: jax.lax.associative_scan(_linear_recurrence,
                                                                    (a, b)))(a, b))

    # The same recurrence run backwards, with the pairs in a dict and the time axis last.
    def combine(p, q):
        return dict(zip("ab", _linear_recurrence((p["a"], p["b"]), (q["a"], q["b"]))))

    d = {"a": a.T, "b": b.T}
    ours = fl.jit(lambda d: A.associative_scan(combine, d, reverse=True, axis=-1))(d)
    theirs = jax.jit(lambda d: jax.lax.associative_scan(combine, d, reverse=True, axis=1))(d)
    assert set(ours) == {"a", "b"}
    assert_same([ours["a"], ours["b"]], [theirs["a"], theirs["b"]], tol=1e-5)


def test_associative_scan_grad_and_vmap():
    a = RNG.uniform(0.5, 1.0, size=(4, 9)).astype(np.float32)
    b = normal(4, 9, seed=2)
    w = normal(9, seed=3)

    def loss(scan, a, b):
        return (scan(_linear_recurrence, (a, b))[1] * w).sum()

    ours = fl.jit(fl.grad(lambda a, b: loss(A.associative_scan, a, b),
                          argnums=(0, 1)))(a[0], b[0])
    theirs = jax.jit(jax.grad(lambda a, b: loss(jax.lax.associative_scan, a, b),
                              argnums=(0, 1)))(a[0], b[0])
    assert_same(ours, theirs, tol=1e-4)
    scan = fl.jit(lambda a, b: A.associative_scan(_linear_recurrence, (a, b)))
    batched = fl.vmap(scan)(a, b)
    for i in range(4):
        one = scan(a[i], b[i])
        np.testing.assert_allclose(batched[1][i], one[1], rtol=1e-6, atol=1e-6)
    # vmap over an axis after the scanned one: the batch axis moves, the scan axis stays.
    ours = fl.jit(fl.vmap(lambda x: A.associative_scan(lax.max, x), in_axes=1))(a)
    assert_same(ours, jax.jit(jax.vmap(lambda x: jax.lax.associative_scan(jnp.maximum, x),
                                       in_axes=1))(a))


def test_associative_scan_dtypes():
    bits = RNG.random((9,)) < 0.3
    ints = np.arange(1, 8, dtype=np.int32)
    # Interleaving is exact: a -0.0 that fn leaves alone stays -0.0.
    zeros = np.array([-0.0, 1.0, 2.0], np.float32)

    def case(scan, lax, bits, ints, zeros):
        return (scan(lax.bitwise_or, bits), scan(lax.mul, ints, reverse=True),
                scan(lax.min, zeros))

    ours = fl.jit(lambda *a: case(A.associative_scan, lax, *a))(bits, ints, zeros)
    theirs = jax.jit(lambda *a: case(jax.lax.associative_scan, jax.lax, *a))(bits, ints, zeros)
    assert_same(ours[:2], theirs[:2])
    out = ours[2]
    assert np.signbit(np.asarray(out)).tolist() == [True, True, True]


def test_associative_scan_errors():
    x = np.ones((3, 4), np.float32)
    with pytest.raises(TypeError, match="callable"):
        A.associative_scan(3, x)
    with pytest.raises(ValueError, match="same length"):
        A.associative_scan(lax.add, (np.ones(3, np.float32), np.ones(4, np.float32)))
    with pytest.raises(ValueError, match="out of bounds"):
        A.associative_scan(lax.add, x, axis=2)
    with pytest.raises(ValueError, match="out of bounds"):
        A.associative_scan(lax.add, x, axis=-3)
    with pytest.raises(TypeError):
        A.associative_scan(lax.add, x, axis=1.0)
    with pytest.raises(ValueError, match="no arrays"):
        A.associative_scan(lax.add, [])
    with pytest.raises(TypeError, match="structure"):
        A.associative_scan(lambda p, q: p[0], (x, x))
    with pytest.raises(TypeError, match="dtype"):
        A.associative_scan(lambda p, q: lax.convert_element_type(lax.add(p, q), np.int32), x)
    # JAX raises the same types for these.
    with pytest.raises(TypeError):
        jax.lax.associative_scan(3, x)
    with pytest.raises(ValueError):
        jax.lax.associative_scan(jnp.add, (np.ones(3), np.ones(4)))
    with pytest.raises(ValueError):
        jax.lax.associative_scan(jnp.add, x, axis=2)


# ---------------------------------------------------------------------------------------
# cumlogsumexp

@SMALL
@given(shape_and_axis(), st.booleans())
def test_cumlogsumexp_matches_jax(sa, reverse):
    shape, axis = sa
    x = normal(*shape) * 30  # far apart: a naive log(cumsum(exp)) would overflow
    ours = fl.jit(lambda x: A.cumlogsumexp(x, axis=axis, reverse=reverse))(x)
    # JAX's own cumlogsumexp wants a non-negative axis.
    assert_same(ours, jax.lax.cumlogsumexp(x, axis=axis % len(shape), reverse=reverse),
                tol=1e-4)


def test_cumlogsumexp_float64_and_half():
    with x64():
        x = normal(5, 4, dtype=np.float64)
        assert_same(fl.jit(lambda x: A.cumlogsumexp(x, axis=1))(x),
                    jax.lax.cumlogsumexp(x, axis=1), tol=1e-12)
    h = normal(6, dtype=np.float16)
    assert_same(fl.jit(lambda h: A.cumlogsumexp(h, reverse=True))(h),
                jax.lax.cumlogsumexp(h, reverse=True), tol=1e-2)


def test_cumlogsumexp_complex():
    z = (normal(7) + 3j * normal(7, seed=1)).astype(np.complex64)
    t = (normal(7, seed=2) + 1j * normal(7, seed=3)).astype(np.complex64)
    ours = fl.jit(lambda z, t: fl.jvp(A.cumlogsumexp, (z,), (t,)))(z, t)
    theirs = jax.jit(lambda z, t: jax.jvp(jax.lax.cumlogsumexp, (z,), (t,)))(z, t)
    assert_same(list(ours), list(theirs), tol=1e-5)


@pytest.mark.parametrize("reverse", [False, True])
def test_cumlogsumexp_infinities_and_nan(reverse):
    inf = np.inf
    rows = ([-inf, -inf, 0.0, 1.0, -inf, 2.0], [1.0, inf, -inf, 0.0, inf],
            [0.0, -inf, np.nan, 1.0], [-inf, -inf], [1e30, -1e30, 3e38, 3e38])
    # One row each, padded with -inf (which changes no result) to one length.
    x = np.array([r + [-inf] * (6 - len(r)) for r in rows], np.float32)
    assert_same(fl.jit(lambda x: A.cumlogsumexp(x, axis=1, reverse=reverse))(x),
                jax.lax.cumlogsumexp(x, axis=1, reverse=reverse))


def test_cumlogsumexp_grad_matches_jax():
    x = normal(3, 8) * 10
    w = normal(3, 8, seed=4)

    def loss(cls, x):
        return (cls(x, axis=1, reverse=True) * w).sum()

    assert_same(fl.jit(fl.grad(lambda x: loss(A.cumlogsumexp, x)))(x),
                jax.jit(jax.grad(lambda x: loss(jax.lax.cumlogsumexp, x)))(x), tol=1e-4)
    v = x[0]
    assert_same(fl.jit(fl.hessian(lambda v: (A.cumlogsumexp(v) * w[0]).sum()))(v),
                jax.jit(jax.hessian(lambda v: (jax.lax.cumlogsumexp(v) * w[0]).sum()))(v),
                tol=1e-4)


def test_cumlogsumexp_grad_with_infinities():
    # d out_i / d x_j = exp(x_j - out_i): a -inf entry gets 0 from every finite result and
    # 1 from an all -inf prefix; an inf entry carries every later result alone. (JAX's
    # gradient is NaN, or not a derivative, at such inputs.)
    x = np.array([-np.inf, 0.0, 1.0, -np.inf, 2.0], np.float32)
    out = np.logaddexp.accumulate(x.astype(np.float64))
    with np.errstate(invalid="ignore"):
        want = [np.where(x[j] == out[j:], 1.0, np.exp(x[j] - out[j:])).sum() for j in range(5)]
    grad = fl.jit(fl.grad(lambda x: A.cumlogsumexp(x).sum()))
    np.testing.assert_allclose(grad(x), want, rtol=1e-5)
    x = np.array([-np.inf, -np.inf, 0.0], np.float32)
    assert np.asarray(grad(x)).tolist() == [2, 1, 1]
    x = np.array([0.0, np.inf, 1.0], np.float32)
    assert np.asarray(grad(x)).tolist() == [1, 2, 0]


def test_cumlogsumexp_grad_finite_differences():
    with x64():
        x = normal(6, dtype=np.float64) * 3
        f = fl.jit(lambda x: A.cumlogsumexp(x, reverse=True))
        eps = 1e-6
        jac = np.stack([(np.asarray(f(x + eps * e)) - np.asarray(f(x - eps * e))) / (2 * eps)
                        for e in np.eye(6)], axis=1)
        np.testing.assert_allclose(fl.jacrev(f)(x), jac, rtol=1e-6, atol=1e-8)


def test_cumlogsumexp_vmap():
    x = normal(4, 5, 3)
    assert_same(fl.vmap(lambda v: A.cumlogsumexp(v, axis=-1), in_axes=1)(x),
                jax.vmap(lambda v: jax.lax.cumlogsumexp(v, axis=1), in_axes=1)(x))


def test_cumlogsumexp_errors():
    with pytest.raises(TypeError, match="bool"):
        A.cumlogsumexp(np.array([True, False]))
    with pytest.raises(TypeError, match="int32"):
        A.cumlogsumexp(np.arange(3, dtype=np.int32))
    with pytest.raises(ValueError, match="out of bounds"):
        A.cumlogsumexp(np.ones((2, 3), np.float32), axis=2)
    with pytest.raises(ValueError, match="out of bounds"):
        A.cumlogsumexp(np.float32(3.0))
    with pytest.raises(TypeError, match="list"):
        A.cumlogsumexp([1.0, 2.0])
    with pytest.raises(TypeError):
        jax.lax.cumlogsumexp(jnp.array([True, False]))
    with pytest.raises(ValueError):
        jax.lax.cumlogsumexp(jnp.ones((2, 3)), axis=2)


# ---------------------------------------------------------------------------------------
# split

@SMALL
@given(shape_and_axis(), st.data())
def test_split_matches_jax(sa, data):
    shape, axis = sa
    n = shape[axis]
    cuts = sorted(data.draw(st.lists(st.integers(0, n), max_size=3)))
    sizes = np.diff([0] + cuts + [n]).tolist()
    x = normal(*shape)
    ours = A.split(x, sizes, axis=axis)
    assert isinstance(ours, list)
    assert_same(ours, list(jax.lax.split(x, sizes, axis=axis)))


def test_split_jit_vmap_grad():
    x = normal(2, 7)
    w = [normal(2, 3, seed=1), normal(2, 0, seed=2), normal(2, 4, seed=3)]

    def loss(split, x):
        return sum((p * c).sum() for p, c in zip(split(x, (3, 0, 4), axis=1), w))

    assert_same(fl.jit(fl.grad(lambda x: loss(A.split, x)))(x),
                jax.grad(lambda x: loss(jax.lax.split, x))(x))
    ours = fl.vmap(lambda v: A.split(v, (5, 2)))(x)
    assert_same(ours, [x[:, :5], x[:, 5:]])
    int_pieces = A.split(np.arange(6, dtype=np.int32), [1, 5])
    assert_same(int_pieces, list(jax.lax.split(np.arange(6, dtype=np.int32), [1, 5])))


def test_split_errors():
    x = np.arange(6, dtype=np.int32)
    with pytest.raises(ValueError, match="Sum of sizes 7"):
        A.split(x, (2, 5))
    with pytest.raises(ValueError, match="nonnegative"):
        A.split(x, (-1, 7))
    with pytest.raises(ValueError, match="out of bounds"):
        A.split(x, (2, 4), axis=1)
    with pytest.raises(TypeError, match="integers"):
        A.split(x, (2.5, 3.5))
    with pytest.raises(ValueError):
        jax.lax.split(x, (2, 5))
    with pytest.raises(ValueError):
        jax.lax.split(x, (-1, 7))


# ---------------------------------------------------------------------------------------
# batch_matmul

@pytest.mark.parametrize("lhs_shape, rhs_shape, dtypes", [
    ((3, 4), (4, 2), (np.float32, np.float32)),
    ((2, 3, 4), (2, 4, 5), (np.float32, np.float32)),
    ((2, 1, 3, 4), (2, 1, 4, 0), (np.float32, np.float32)),
    ((2, 3, 4), (2, 4, 5), (np.int32, np.int32)),
    ((2, 3, 4), (2, 4, 5), (np.int32, np.float32)),
])
def test_batch_matmul_matches_jax(lhs_shape, rhs_shape, dtypes):
    lhs = (normal(*lhs_shape) * 3).astype(dtypes[0])
    rhs = (normal(*rhs_shape, seed=1) * 3).astype(dtypes[1])
    assert_same(A.batch_matmul(lhs, rhs), jax.lax.batch_matmul(lhs, rhs), tol=1e-5)


def test_batch_matmul_grad_vmap_precision():
    lhs, rhs = normal(2, 3, 4), normal(2, 4, 5, seed=1)
    w = normal(2, 3, 5, seed=2)

    def loss(bm, a, b):
        return (bm(a, b) * w).sum()

    assert_same(fl.grad(lambda a, b: loss(A.batch_matmul, a, b), argnums=(0, 1))(lhs, rhs),
                jax.grad(lambda a, b: loss(jax.lax.batch_matmul, a, b),
                         argnums=(0, 1))(lhs, rhs), tol=1e-5)
    stack = normal(2, 3, 6, 4, seed=3)
    assert_same(fl.vmap(A.batch_matmul, in_axes=(2, None))(stack, rhs),
                jax.vmap(jax.lax.batch_matmul, in_axes=(2, None))(stack, rhs), tol=1e-5)
    assert_same(A.batch_matmul(lhs, rhs, precision=lax.Precision.HIGHEST),
                jax.lax.batch_matmul(lhs, rhs, precision=jax.lax.Precision.HIGHEST))


def test_batch_matmul_errors():
    with pytest.raises(ValueError, match="at least 2D"):
        A.batch_matmul(np.ones(4, np.float32), np.ones(4, np.float32))
    with pytest.raises(ValueError, match="same ndim"):
        A.batch_matmul(np.ones((3, 4), np.float32), np.ones((2, 4, 5), np.float32))
    with pytest.raises(TypeError):
        A.batch_matmul(np.ones((2, 3, 4), np.float32), np.ones((2, 3, 5), np.float32))
    with pytest.raises(TypeError):
        A.batch_matmul(np.ones((2, 3, 4), np.float32), np.ones((1, 4, 5), np.float32))
    with pytest.raises(ValueError):
        jax.lax.batch_matmul(jnp.ones((3, 4)), jnp.ones((2, 4, 5)))
    with pytest.raises(TypeError):
        jax.lax.batch_matmul(jnp.ones((2, 3, 4)), jnp.ones((1, 4, 5)))


# ---------------------------------------------------------------------------------------
# broadcast_shapes

@pytest.mark.parametrize("shapes", [
    [(3,)], [(1,), (4,)], [(3, 1), (4,)], [(3, 1), (1, 4), (5, 1, 1)], [(), (2, 3)],
    [(0,), (1,)], [(2, 0, 1), (1, 5)], [[3, 1], (np.int64(1), 4)],
])
def test_broadcast_shapes_matches_jax(shapes):
    ours = A.broadcast_shapes(*shapes)
    assert type(ours) is tuple and all(type(d) is int for d in ours)
    assert ours == tuple(jax.lax.broadcast_shapes(*shapes)) == np.broadcast_shapes(*shapes)


def test_broadcast_shapes_errors():
    for bad in [((3, 1), (4, 1)), ((0,), (3,)), ((2,), (3, 4))]:
        with pytest.raises(ValueError, match="Incompatible shapes"):
            A.broadcast_shapes(*bad)
        with pytest.raises(ValueError):
            jax.lax.broadcast_shapes(*bad)
    for bad in [((3,), (-1,)), ((2.0,), (1,)), (3, (1,))]:
        with pytest.raises(TypeError):
            A.broadcast_shapes(*bad)
        with pytest.raises(TypeError):
            jax.lax.broadcast_shapes(*bad)
    with pytest.raises(TypeError, match="At least one shape"):
        A.broadcast_shapes()


# ---------------------------------------------------------------------------------------
# tile

@SMALL
@given(st.lists(st.integers(0, 3), min_size=0, max_size=3), st.data())
def test_tile_matches_jax(shape, data):
    reps = data.draw(st.lists(st.integers(0, 3), min_size=len(shape), max_size=len(shape)))
    x = (normal(*shape) * 5).astype(np.int32)
    assert_same(A.tile(x, reps), jax.lax.tile(x, reps))
    np.testing.assert_array_equal(A.tile(x, reps), np.tile(x, reps))


def test_tile_jit_vmap_grad():
    x = normal(2, 3)
    w = normal(4, 6, seed=1)
    assert_same(fl.jit(fl.grad(lambda x: (A.tile(x, (2, 2)) * w).sum()))(x),
                jax.grad(lambda x: (jax.lax.tile(x, (2, 2)) * w).sum())(x))
    assert_same(fl.vmap(lambda v: A.tile(v, (3,)), in_axes=1)(x),
                jax.vmap(lambda v: jax.lax.tile(v, (3,)), in_axes=1)(x))
    assert_same(A.tile(3.0, ()), jax.lax.tile(3.0, ()), weak_type=True)


def test_tile_errors():
    x = np.ones((2, 3), np.float32)
    with pytest.raises(TypeError, match="reps length"):
        A.tile(x, (2,))
    with pytest.raises(TypeError):
        jax.lax.tile(x, (2,))
    with pytest.raises(TypeError, match="integers"):
        A.tile(x, (2, 1.5))
    with pytest.raises(ValueError, match="non-negative"):
        A.tile(x, (2, -1))


def test_all_names():
    assert sorted(A.__all__) == sorted(["associative_scan", "cumlogsumexp", "split",
                                        "batch_matmul", "broadcast_shapes", "tile"])
    for name in A.__all__:
        assert hasattr(jax.lax, name)
        assert getattr(A, name).__doc__ and ">>>" in getattr(A, name).__doc__
