"""jvp, transpose and batching rules of the reductions, argmax/argmin and the cumulative ops
(functorch_lite/lax/reductions/), checked against finite differences, the transpose
identity, jax.grad (at zeros and ties, where finite differences cannot look) and a Python
loop over the batch."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import functorch_lite as fl
from functorch_lite import lax
from functorch_lite.core import dtypes
from functorch_lite.lax import reductions as red
from rule_checks import batched_normal, check_batching, check_grads, normal, x64

SMALL = settings(max_examples=6, deadline=None)


_rand, _batched = normal, batched_normal


def _f32(shape, seed=0):
    return _rand(shape, seed, np.float32)


@st.composite
def shape_and_axes(draw, min_rank=1, max_rank=3, max_dim=3):
    rank = draw(st.integers(min_rank, max_rank))
    shape = tuple(draw(st.lists(st.integers(1, max_dim), min_size=rank, max_size=rank)))
    axes = tuple(sorted(draw(st.sets(st.integers(0, rank - 1), max_size=rank))))
    return shape, axes


REDUCERS = {"sum": lax.reduce_sum, "prod": lax.reduce_prod, "max": lax.reduce_max,
            "min": lax.reduce_min}
JAX_REDUCERS = {"sum": jax.lax.reduce_sum_p, "prod": jax.lax.reduce_prod_p,
                "max": jax.lax.reduce_max_p, "min": jax.lax.reduce_min_p}
CUMULATIVE = {"cumsum": lax.cumsum, "cumprod": lax.cumprod, "cummax": lax.cummax,
              "cummin": lax.cummin}
JAX_CUMULATIVE = {"cumsum": jax.lax.cumsum, "cumprod": jax.lax.cumprod,
                  "cummax": jax.lax.cummax, "cummin": jax.lax.cummin}


def test_every_primitive_has_rules():
    prims = [red.reduce_sum_p, red.reduce_prod_p, red.reduce_max_p, red.reduce_min_p,
             red.reduce_and_p, red.reduce_or_p, red.argmax_p, red.argmin_p, red.cumsum_p,
             red.cumprod_p, red.cummax_p, red.cummin_p]
    for p in prims:
        assert p.batch_rule is not None, p
        assert p.jvp_rule is not None or p.non_differentiable, p
    for p in (red.reduce_sum_p, red.cumsum_p):
        assert p.transpose_rule is not None, p
    for p in (red.reduce_and_p, red.reduce_or_p, red.argmax_p, red.argmin_p):
        assert p.non_differentiable, p


# ---------------------------------------------------------------------------------------
# reductions: finite differences and the transpose identity, at first and second order

@pytest.mark.parametrize("kind", ["sum", "prod", "max", "min"])
@SMALL
@given(sa=shape_and_axes())
def test_reduce_grads(kind, sa):
    shape, axes = sa
    f = REDUCERS[kind]
    seed = hash((shape, axes)) % 1000
    with x64():
        # sin makes the second derivative of the linear reductions non-trivial
        check_grads(lambda x: f(lax.sin(x), axes), [_rand(shape, seed)])


@pytest.mark.parametrize("kind", ["sum", "prod", "max", "min"])
def test_reduce_grads_empty_axis_and_scalar(kind):
    f = REDUCERS[kind]
    with x64():
        if kind in ("sum", "prod"):
            check_grads(lambda x: f(x, (1,)) * 1.0, [_rand((2, 0, 3))])  # empty axis
        else:
            # the result is -inf/inf there, whose (finite-difference) derivative is NaN;
            # nothing is picked, so the tangent is zero (JAX divides 0 by 0 instead)
            x = _rand((2, 0, 3))
            _, t = fl.jvp(lambda x: f(x, (1,)), (x,), (x,))
            np.testing.assert_array_equal(np.asarray(t), np.zeros((2, 3)))
        check_grads(lambda x: f(x, ()), [_rand((2, 3))])             # nothing reduced
        check_grads(lambda x: f(x, ()), [_rand(())])                 # rank 0


def _jnp_reduce(kind):
    return {"sum": jnp.sum, "prod": jnp.prod, "max": jnp.max, "min": jnp.min}[kind]


PROD_WITH_ZEROS = [
    np.array([2.0, 3.0, -1.5, 0.5]),
    np.array([2.0, 0.0, -1.5, 0.5]),
    np.array([0.0, 3.0, 0.0, 0.5]),
    np.array([0.0, 0.0, 0.0, 0.5]),
    np.array([[1.5, 0.0, 2.0], [0.0, -2.0, 3.0]]),
]


def _prod_all(x):
    return lax.reduce_prod(x, tuple(range(np.ndim(x))))


# module level, so inputs of one shape share the compiled programs
_prod_grad = fl.jit(fl.grad(_prod_all))
_prod_hessian = fl.jit(fl.hessian(_prod_all))              # forward over reverse
_prod_hessian_rev = fl.jit(fl.jacrev(fl.grad(_prod_all)))  # reverse over reverse


@pytest.mark.parametrize("x", PROD_WITH_ZEROS)
def test_reduce_prod_grad_and_hessian_at_zeros_match_jax(x):
    with x64():
        np.testing.assert_allclose(np.asarray(_prod_grad(x)),
                                   np.asarray(jax.grad(jnp.prod)(x)))
        want = np.asarray(jax.hessian(jnp.prod)(x))
        np.testing.assert_allclose(np.asarray(_prod_hessian(x)), want)
        np.testing.assert_allclose(np.asarray(_prod_hessian_rev(x)), want)


def test_reduce_prod_partial_axes_at_zeros_match_jax():
    x = np.array([[[1.5, 0.0], [2.0, 0.0]], [[0.5, -2.0], [3.0, 1.0]], [[0.0, 0.0],
                                                                        [4.0, 0.5]]])
    with x64():
        f = lambda x: lax.reduce_prod(x, (0, 2))  # noqa: E731
        g = lambda x: jnp.prod(x, axis=(0, 2))  # noqa: E731
        np.testing.assert_allclose(np.asarray(fl.jit(fl.jacfwd(fl.jacrev(f)))(x)),
                                   np.asarray(jax.jacfwd(jax.jacrev(g))(x)))


@pytest.mark.parametrize("kind", ["max", "min"])
def test_reduce_max_min_ties_average_like_jax(kind):
    x = np.array([[1.0, 3.0, 3.0], [-1.0, -1.0, -1.0]], np.float32)
    for axes in [(1,), (0, 1), (0,)]:
        rest = tuple(range(2 - len(axes)))
        f = lambda x: lax.reduce_sum(REDUCERS[kind](x, axes), rest)  # noqa: E731
        g = lambda x: jnp.sum(_jnp_reduce(kind)(x, axis=axes))  # noqa: E731
        np.testing.assert_allclose(np.asarray(fl.grad(f)(x)), np.asarray(jax.grad(g)(x)))


def test_non_differentiable_reductions_have_zero_tangents():
    x = _f32((2, 3))
    t = _f32((2, 3), 1)
    for f in (lambda x: lax.argmax(x, 1, np.int32), lambda x: lax.argmin(x, 0, np.int32),
              lambda x: lax.reduce_or(lax.gt(x, 0.0), (0,)),
              lambda x: lax.reduce_and(lax.gt(x, 0.0), (0, 1))):
        out, tout = fl.jvp(f, (x,), (t,))
        assert np.asarray(tout).dtype == dtypes.float0
    # the integer result scales a differentiable path: only that path has a derivative
    def f(x):
        idx = lax.convert_element_type(lax.argmax(x, 1, np.int32), np.float32)
        return lax.reduce_sum(x * lax.broadcast_in_dim(idx, (2, 3), (0,)), (0, 1))
    want = np.broadcast_to(np.argmax(x, 1)[:, None], (2, 3)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(fl.grad(f)(x)), want)


# ---------------------------------------------------------------------------------------
# cumulative ops

# lengths 1 (no scan round), 5 and 7 (a partial last round), 8 (full rounds)
CUM_CASES = [((5,), 0, False), ((2, 4), 1, True), ((3, 2), 0, False), ((2, 3, 2), 1, True),
             ((1,), 0, False), ((7,), 0, True), ((8,), 0, False)]


@pytest.mark.parametrize("name", ["cumsum", "cumprod", "cummax", "cummin"])
@pytest.mark.parametrize("shape,axis,reverse", CUM_CASES)
def test_cumulative_grads(name, shape, axis, reverse):
    f = CUMULATIVE[name]
    with x64():
        check_grads(lambda x: f(lax.sin(x), axis, reverse), [_rand(shape, sum(shape))])


CUMPROD_WITH_ZEROS = [
    np.array([2.0, 0.0, -1.5, 0.5, 3.0]),
    np.array([0.0, 3.0, 0.0, 0.5, 2.0]),
    np.array([1.5, 2.0, 0.0, 0.0, 0.0]),
    np.array([[1.5, 0.0, 2.0], [0.0, -2.0, 0.0]]),
]


@pytest.mark.parametrize("x,reverse", list(zip(CUMPROD_WITH_ZEROS, [False, True, False, True])))
def test_cumprod_jacobians_at_zeros_match_jax(x, reverse):
    axis = x.ndim - 1
    f = lambda x: lax.cumprod(x, axis, reverse)  # noqa: E731
    g = lambda x: jax.lax.cumprod(x, axis, reverse)  # noqa: E731
    with x64():
        np.testing.assert_allclose(np.asarray(fl.jit(fl.jacrev(f))(x)),
                                   np.asarray(jax.jacrev(g)(x)))
        np.testing.assert_allclose(np.asarray(fl.jit(fl.jacfwd(fl.jacrev(f)))(x)),
                                   np.asarray(jax.jacfwd(jax.jacrev(g))(x)))


@pytest.mark.parametrize("name,reverse", [("cummax", False), ("cummin", True)])
def test_cummax_cummin_jacobian_matches_jax_without_ties(name, reverse):
    x = _f32((3, 6), 4)
    f = lambda x: CUMULATIVE[name](x, 1, reverse)  # noqa: E731
    g = lambda x: JAX_CUMULATIVE[name](x, 1, reverse)  # noqa: E731
    np.testing.assert_allclose(np.asarray(fl.jit(fl.jacrev(f))(x)),
                               np.asarray(jax.jacrev(g)(x)))


@pytest.mark.parametrize("reverse", [False, True])
def test_cummax_ties_pass_the_first_winners_tangent(reverse):
    # The tangent at a tie comes from the first position (in scan order) reaching the max.
    x = np.array([1.0, 3.0, 2.0, 3.0, 0.0], np.float32)
    jac = np.asarray(fl.jit(fl.jacfwd(lambda x: lax.cummax(x, 0, reverse)))(x))
    assert np.allclose(jac.sum(1), 1.0)
    first = 1 if not reverse else 3
    if reverse:
        assert jac[0, first] == 1 and jac[1, first] == 1 and jac[3, 3] == 1
    else:
        assert jac[1, 1] == 1 and jac[3, first] == 1 and jac[4, first] == 1


def test_cumsum_transpose_is_reverse_cumsum():
    x = _f32((2, 5))
    u = _f32((2, 5), 1)
    for reverse in (False, True):
        got = fl.vjp(lambda x: lax.cumsum(x, 1, reverse), x)[1](u)[0]
        want = jax.vjp(lambda x: jax.lax.cumsum(x, 1, reverse), x)[1](u)[0]
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-6, atol=1e-6)


# ---------------------------------------------------------------------------------------
# batching

@pytest.mark.parametrize("kind", ["sum", "prod", "max", "min"])
@pytest.mark.parametrize("shape,axes", [((2, 3), (0,)), ((2, 3), (1,)), ((2, 3), (0, 1)),
                                        ((2, 3, 4), (0, 2)), ((2, 3), ()), ((4,), (0,))])
def test_reduce_batching(kind, shape, axes):
    f = lambda x: REDUCERS[kind](x, axes)  # noqa: E731
    for ax in range(len(shape) + 1):
        check_batching(f, [_batched(shape, ax)], [ax])
    # only one operand batched
    g = lambda x, y: REDUCERS[kind](x * y, axes)  # noqa: E731
    check_batching(g, [_batched(shape, 0), _f32(shape, 2)], [0, None])
    check_batching(g, [_f32(shape, 2), _batched(shape, len(shape))], [None, len(shape)])


@pytest.mark.parametrize("shape,axes", [((2, 3), (0,)), ((2, 3), (1,)), ((2, 3, 4), (0, 2))])
def test_logical_reduce_batching(shape, axes):
    for ax in range(len(shape) + 1):
        m = _batched(shape, ax) > 0
        check_batching(lambda m: lax.reduce_and(m, axes), [m], [ax])
        check_batching(lambda m: lax.reduce_or(m, axes), [m], [ax])
        i = (_batched(shape, ax) * 4).astype(np.int32)
        check_batching(lambda i: lax.reduce_or(i, axes), [i], [ax])


@pytest.mark.parametrize("shape,axis", [((2, 3), 0), ((2, 3), 1), ((2, 3, 4), 1), ((4,), 0)])
def test_argmax_argmin_batching(shape, axis):
    for ax in range(len(shape) + 1):
        x = _batched(shape, ax)
        check_batching(lambda x: lax.argmax(x, axis, np.int32), [x], [ax])
        check_batching(lambda x: lax.argmin(x, axis, np.int32), [x], [ax])


@pytest.mark.parametrize("name", ["cumsum", "cumprod", "cummax", "cummin"])
@pytest.mark.parametrize("shape,axis,reverse", [((2, 3), 0, False), ((2, 3), 1, True),
                                                ((2, 3, 4), 2, False), ((5,), 0, True)])
def test_cumulative_batching(name, shape, axis, reverse):
    f = lambda x: CUMULATIVE[name](x, axis, reverse)  # noqa: E731
    for ax in range(len(shape) + 1):
        check_batching(f, [_batched(shape, ax)], [ax], rtol=1e-5)
    x = _batched(shape, 1, dtype=np.float32)
    check_batching(f, [(x * 3).astype(np.int32)], [1])
    g = lambda x, y: CUMULATIVE[name](x + y, axis, reverse)  # noqa: E731
    check_batching(g, [_f32(shape, 3), _batched(shape, 0)], [None, 0], rtol=1e-5)


def test_reduce_batching_keeps_batch_axis_in_place():
    x = _batched((2, 3, 4), 1)
    ir = str(fl.make_ir(fl.vmap(lambda x: lax.reduce_sum(x, (0, 2)), in_axes=1))(x))
    assert "transpose" not in ir, ir
    ir = str(fl.make_ir(fl.vmap(lambda x: lax.cumsum(x, 1), in_axes=2, out_axes=2))(x))
    assert "transpose" not in ir, ir


# ---------------------------------------------------------------------------------------
# compositions

def test_jit_vmap_grad_of_cumulative_and_reductions():
    def f(x):
        return lax.reduce_prod(lax.cummax(x, 0), (0,)) + lax.reduce_max(lax.cumsum(x, 0), (0,))

    def g(x):
        return jnp.prod(jax.lax.cummax(x, 0)) + jnp.max(jax.lax.cumsum(x, 0))

    xs = _f32((4, 5), 3)
    got = fl.jit(fl.vmap(fl.grad(f)))(xs)
    want = jax.jit(jax.vmap(jax.grad(g)))(xs)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-6)


def test_vmap_of_grad_of_cumprod_in_axes_1():
    def f(x):
        return lax.reduce_sum(lax.cumprod(x, 0, True) * lax.sin(x), (0,))

    def g(x):
        return jnp.sum(jax.lax.cumprod(x, 0, True) * jnp.sin(x))

    xs = _f32((5, 3), 4)
    xs[1, 0] = 0.0
    got = fl.jit(fl.vmap(fl.grad(f), in_axes=1, out_axes=1))(xs)
    want = jax.vmap(jax.grad(g), in_axes=1, out_axes=1)(xs)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-6)


def test_grad_of_vmap_of_reduce_min():
    xs = _f32((3, 4), 5)
    got = fl.grad(lambda x: lax.reduce_sum(fl.vmap(lambda r: lax.reduce_min(r, (0,)),
                                                   in_axes=1)(x), (0,)))(xs)
    want = jax.grad(lambda x: jnp.sum(jax.vmap(jnp.min, in_axes=1)(x)))(xs)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want))
