"""jvp, transpose and batching rules of dot_general (functorch_lite/lax/linalg.py), checked
against finite differences, the transpose identity, jax.vjp and a Python loop over the
batch."""

import jax
import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import functorch_lite as fl
import functorch_lite.numpy as fnp
import jax.numpy as jnp
from functorch_lite import lax
from functorch_lite.core.avals import ShapedArray
from functorch_lite.interpreters import ad
from functorch_lite.interpreters.transpose import UndefinedPrimal
from rule_checks import check_batching, check_grads, x64

SMALL = settings(max_examples=8, deadline=None)
BF16 = np.dtype(ml_dtypes.bfloat16)


def _rand(shape, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).normal(size=shape).astype(dtype)


# (lhs shape, rhs shape, dimension_numbers): every kind of dimension in several positions
CASES = [
    ((3, 4), (4, 5), (((1,), (0,)), ((), ()))),                    # matmul
    ((3, 4), (4,), (((1,), (0,)), ((), ()))),                      # matrix-vector
    ((4,), (4,), (((0,), (0,)), ((), ()))),                        # inner product
    ((3,), (2,), (((), ()), ((), ()))),                            # outer product
    ((2, 3, 4), (2, 4, 5), (((2,), (1,)), ((0,), (0,)))),          # batched matmul
    ((3, 2, 4), (4, 5, 2), (((2,), (0,)), ((1,), (2,)))),          # batch dims elsewhere
    ((3, 4, 5), (5, 2, 4), (((1, 2), (2, 0)), ((), ()))),          # two contracting, crossed
    ((2, 3, 4, 2), (4, 2, 3, 2), (((2,), (0,)), ((3, 0), (1, 3)))),  # two batch dims
]


def test_rules_are_declared():
    p = lax.dot_general_p
    assert p.jvp_rule and p.transpose_rule and p.batch_rule


@pytest.mark.parametrize("lshape,rshape,dn", CASES)
def test_dot_general_grads(lshape, rshape, dn):
    with x64():
        x, y = _rand(lshape, 1), _rand(rshape, 2)
        check_grads(lambda a, b: lax.dot_general(a, b, dn), (x, y), order=2)


@pytest.mark.parametrize("lshape,rshape,dn", CASES[4:7])
def test_dot_general_vjp_matches_jax(lshape, rshape, dn):
    x, y = _rand(lshape, 1, np.float32), _rand(rshape, 2, np.float32)
    out, vjp = fl.vjp(lambda a, b: lax.dot_general(a, b, dn), x, y)
    jout, jvjp = jax.vjp(lambda a, b: jax.lax.dot_general(a, b, dn), x, y)
    ct = _rand(np.shape(out), 3, np.float32)
    for got, want in zip(vjp(ct), jvjp(ct)):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-5)


def test_dot_general_preferred_element_type_cotangent_dtype():
    # bfloat16 operands accumulating in float32: cotangents come back as bfloat16
    dn = (((2,), (1,)), ((0,), (0,)))
    x, y = _rand((2, 3, 4), 1, BF16), _rand((2, 4, 5), 2, BF16)
    f = lambda a, b: lax.dot_general(a, b, dn, preferred_element_type=np.float32)  # noqa
    jf = lambda a, b: jax.lax.dot_general(a, b, dn, preferred_element_type=np.float32)  # noqa
    out, vjp = fl.vjp(f, x, y)
    assert out.dtype == np.float32
    ct = _rand(out.shape, 3, np.float32)
    _, jvjp = jax.vjp(jf, x, y)
    for got, want in zip(vjp(ct), jvjp(ct)):
        assert got.dtype == BF16
        np.testing.assert_allclose(np.asarray(got, np.float32), np.asarray(want, np.float32),
                                   rtol=2e-2, atol=2e-2)
    _, t = fl.jvp(f, (x, y), (x, y))
    _, jt = jax.jvp(jf, (x, y), (x, y))
    assert t.dtype == np.float32
    np.testing.assert_allclose(np.asarray(t), np.asarray(jt), rtol=2e-2, atol=2e-2)


def test_dot_general_mixed_dtypes_cotangents():
    # float32 x complex64: the float32 operand's cotangent is real
    x = _rand((3, 4), 1, np.float32)
    y = (_rand((4, 2), 2) + 1j * _rand((4, 2), 3)).astype(np.complex64)
    out, vjp = fl.vjp(lambda a, b: lax.dot(a, b), x, y)
    ct = (_rand(out.shape, 4) + 1j * _rand(out.shape, 5)).astype(np.complex64)
    gx, gy = vjp(ct)
    assert gx.dtype == np.float32 and gy.dtype == np.complex64
    np.testing.assert_allclose(np.asarray(gx), np.real(ct @ y.T), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(gy), x.T @ ct, rtol=1e-5, atol=1e-5)


def test_dot_general_transpose_of_zero_cotangent():
    dn = (((1,), (0,)), ((), ()))
    rule = lax.dot_general_p.transpose_rule
    ct = ad.Zero(ShapedArray((3, 5), np.float32))
    x = UndefinedPrimal(ShapedArray((3, 4), np.float32))
    assert rule(ct, x, np.ones((4, 5), np.float32), dimension_numbers=dn) == [None, None]


def _batched(shape, axis, seed, n=3):
    if axis is None:
        return _rand(shape, seed, np.float32)
    s = list(shape)
    s.insert(axis, n)
    return _rand(tuple(s), seed, np.float32)


@pytest.mark.parametrize("lshape,rshape,dn", CASES)
@pytest.mark.parametrize("which", ["lhs", "rhs", "both"])
def test_dot_general_batching(lshape, rshape, dn, which):
    f = lambda a, b: lax.dot_general(a, b, dn)  # noqa: E731
    # batch dims at the front, the end and in the middle
    for k, (la, ra) in enumerate([(0, len(rshape)), (len(lshape), 0),
                                  (len(lshape) // 2, (len(rshape) + 1) // 2)]):
        la = la if which != "rhs" else None
        ra = ra if which != "lhs" else None
        check_batching(f, (_batched(lshape, la, k), _batched(rshape, ra, k + 10)), (la, ra),
                       rtol=1e-5, atol=1e-5)


@st.composite
def dot_problems(draw):
    """Random dimension numbers (sizes 1..3, up to 4 dims per operand) and batch axes."""
    nb, nc = draw(st.integers(0, 1)), draw(st.integers(0, 2))
    nfl, nfr = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    size = st.integers(1, 3)
    b, c = [draw(size) for _ in range(nb)], [draw(size) for _ in range(nc)]
    fl_, fr = [draw(size) for _ in range(nfl)], [draw(size) for _ in range(nfr)]
    lperm = draw(st.permutations(range(nb + nc + nfl)))
    rperm = draw(st.permutations(range(nb + nc + nfr)))
    lshape, rshape = [0] * len(lperm), [0] * len(rperm)
    for i, s in enumerate(b + c + fl_):
        lshape[lperm[i]] = s
    for i, s in enumerate(b + c + fr):
        rshape[rperm[i]] = s
    dn = (([lperm[nb + i] for i in range(nc)], [rperm[nb + i] for i in range(nc)]),
          ([lperm[i] for i in range(nb)], [rperm[i] for i in range(nb)]))
    la = draw(st.one_of(st.none(), st.integers(0, len(lshape))))
    ra = draw(st.one_of(st.none(), st.integers(0, len(rshape))))
    if la is None and ra is None:
        la = 0
    return tuple(lshape), tuple(rshape), dn, la, ra


@SMALL
@given(dot_problems())
def test_dot_general_random_problems(problem):
    lshape, rshape, dn, la, ra = problem
    f = lambda a, b: lax.dot_general(a, b, dn)  # noqa: E731
    check_batching(f, (_batched(lshape, la, 1), _batched(rshape, ra, 2)), (la, ra),
                   rtol=1e-5, atol=1e-5)
    with x64():
        check_grads(f, (_rand(lshape, 3), _rand(rshape, 4)), order=1)


def test_jit_vmap_grad_of_a_matmul_loss():
    def loss(w, x):
        return lax.reduce_sum(lax.tanh(lax.dot(x, w)), (0, 1))

    def jloss(w, x):
        return jax.numpy.sum(jax.numpy.tanh(x @ w))

    w = _rand((4, 3), 1, np.float32)
    xs = _rand((5, 2, 4), 2, np.float32)
    got = fl.jit(fl.vmap(fl.grad(loss), in_axes=(None, 0)))(w, xs)
    want = jax.vmap(jax.grad(jloss), in_axes=(None, 0))(w, xs)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-5)
    # per-example gradients with respect to the data, batched on the last axis
    xs = np.moveaxis(xs, 0, 2)
    got = fl.jit(fl.vmap(fl.grad(loss, argnums=1), in_axes=(None, 2)))(w, xs)
    want = jax.vmap(jax.grad(jloss, argnums=1), in_axes=(None, 2))(w, xs)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-5)


def test_hessian_vector_product_of_a_bilinear_form():
    a = _rand((4, 4), 1, np.float32)

    def f(x):
        return lax.dot(x, lax.dot(a, x))

    x, v = _rand((4,), 2, np.float32), _rand((4,), 3, np.float32)
    _, hv = fl.jvp(fl.grad(f), (x,), (v,))
    np.testing.assert_allclose(np.asarray(hv), (a + a.T) @ v, rtol=1e-5, atol=1e-5)


def test_per_example_weight_cotangent_needs_no_transpose():
    """Per-example weight gradients are a batched outer product the size of 64 weight
    matrices: the transpose rule computes it in W's own dimension order, so no transpose of
    that result is materialized. (A true contraction keeps dot + transpose, which XLA folds
    into the dot.)"""
    rng = np.random.default_rng(0)
    x, w = rng.normal(size=(8, 5)).astype(np.float32), rng.normal(size=(5, 3)).astype(np.float32)
    per_example = fl.vmap(fl.grad(lambda w, x: fnp.sum(fnp.tanh(x @ w))), in_axes=(None, 0))
    ir = str(fl.make_ir(per_example)(w, x))
    assert "transpose" not in ir, ir
    want = jax.vmap(jax.grad(lambda w, x: jnp.sum(jnp.tanh(x @ w))), in_axes=(None, 0))(w, x)
    np.testing.assert_allclose(np.asarray(per_example(w, x)), want, rtol=1e-5, atol=1e-6)
