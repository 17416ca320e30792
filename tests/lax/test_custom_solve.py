"""lax.custom_linear_solve and lax.custom_root against jax.lax's: solutions, gradients
(jax.grad, jax.jvp, forward-over-reverse) with respect to the right-hand side and to the
matrix closed over by ``matvec`` / the parameters closed over by ``f``, dense and
conjugate-gradient (while_loop) solves, automatic transposition of ``matvec``, pytree
right-hand sides, has_aux, jit, vmap over b and over the matrix, finite-difference checks
of every rule in float64, and the errors JAX raises."""
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite import lax
from functorch_lite.lax.custom_solve import custom_linear_solve, custom_root, linear_solve_p
from xla_bridge.lowering import custom_solve as solve_lowering
from xla_bridge.lowering.core import has_rule
from helpers import assert_same
from rule_checks import check_batching, check_grads, x64

OURS = types.SimpleNamespace(np=fnp, lax=lax, vmap=fl.vmap, jacfwd=fl.jacfwd, grad=fl.grad,
                             jvp=fl.jvp, jit=fl.jit, solve=custom_linear_solve,
                             root=custom_root)
JAX = types.SimpleNamespace(np=jnp, lax=jax.lax, vmap=jax.vmap, jacfwd=jax.jacfwd,
                            grad=jax.grad, jvp=jax.jvp, jit=jax.jit,
                            solve=jax.lax.custom_linear_solve, root=jax.lax.custom_root)

RNG = np.random.default_rng(0)
N = 4
A = (RNG.standard_normal((N, N)) / 2 + 2 * np.eye(N)).astype(np.float32)   # not symmetric
_Q = RNG.standard_normal((N, N))
SPD = (_Q @ _Q.T / N + np.eye(N)).astype(np.float32)
B = RNG.standard_normal(N).astype(np.float32)
W = RNG.standard_normal(N).astype(np.float32)   # weights of the losses
DA = RNG.standard_normal((N, N)).astype(np.float32)  # tangents
DB = RNG.standard_normal(N).astype(np.float32)


# ---------------------------------------------------------------------------------------
# The solvers, written once for both libraries

def dense_solve(ns):
    """x = A^-1 b with a direct solve; the transposed solve materializes A^T from the
    ``vecmat`` it is given, so the automatic transposition of ``matvec`` is exercised."""
    def f(a, b):
        def transpose_solve(vecmat, y):
            rows = ns.vmap(vecmat)(ns.np.eye(y.shape[0], dtype=y.dtype))   # rows of A
            return ns.np.linalg.solve(rows.T, y)
        return ns.solve(lambda x: a @ x, b, lambda mv, y: ns.np.linalg.solve(a, y),
                        transpose_solve)
    return f


def cg_loop(ns, matvec, b, iters=N):
    """Conjugate gradients for a fixed number of steps, as a while_loop (not
    differentiable by itself: the derivatives must come from the implicit rule)."""
    def body(state):
        x, r, p, rs, k = state
        ap = matvec(p)
        alpha = rs / ns.np.vdot(p, ap)
        x, r = x + alpha * p, r - alpha * ap
        rs_new = ns.np.vdot(r, r)
        return x, r, r + rs_new / rs * p, rs_new, k + 1
    init = (ns.np.zeros_like(b), b, b, ns.np.vdot(b, b), 0)
    x, r, _, _, k = ns.lax.while_loop(lambda s: s[4] < iters, body, init)
    return x, (k, ns.np.linalg.norm(r))


def cg_solve(ns, has_aux=False):
    def f(s, b):
        def solve(mv, y):
            x, aux = cg_loop(ns, mv, y)
            return (x, aux) if has_aux else x
        return ns.solve(lambda x: s @ x, b, solve, symmetric=True, has_aux=has_aux)
    return f


def newton_sqrt(ns):
    """sqrt(a) as the root of x^2 - a, by Newton steps in a fori_loop."""
    def f(a):
        def solve(g, x0):
            return ns.lax.fori_loop(0, 12, lambda _, x: x - g(x) / (2 * x), x0)
        return ns.root(lambda x: x ** 2 - a, ns.np.ones_like(a), solve,
                       lambda g, y: y / g(1.0))
    return f


def vector_root(ns, has_aux=False):
    """The root of x + x^3 / 3 - c * (S x) ... a coupled system; Newton's method solves it,
    and the tangent system is itself a custom_linear_solve with the Jacobian."""
    def f(c, s):
        def fun(x):
            return s @ x + x ** 3 / 3 - c

        def solve(g, x0):
            def step(_, x):
                return x - ns.np.linalg.solve(ns.jacfwd(g)(x), g(x))
            x = ns.lax.fori_loop(0, 8, step, x0)
            return (x, ns.np.max(ns.np.abs(g(x)))) if has_aux else x

        def tangent_solve(g, y):
            def dense(mv, v):
                return ns.np.linalg.solve(ns.jacfwd(mv)(v), v)
            return ns.solve(g, y, dense, symmetric=True)
        return ns.root(fun, ns.np.zeros_like(c), solve, tangent_solve, has_aux=has_aux)
    return f


def _loss(f):
    return lambda *args: (f(*args) * W).sum()


# ---------------------------------------------------------------------------------------
# custom_linear_solve

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dense_solve_value_grad_jvp(dtype):
    with x64():
        a, b = A.astype(dtype), B.astype(dtype)
        ours, theirs = dense_solve(OURS), dense_solve(JAX)
        tol = 1e-4 if dtype == np.float32 else 1e-10
        assert_same(ours(a, b), theirs(a, b), tol)
        assert_same(fl.grad(_loss(ours), argnums=(0, 1))(a, b),
                    jax.grad(_loss(theirs), argnums=(0, 1))(a, b), tol)
        tangents = (DA.astype(dtype), DB.astype(dtype))
        assert_same(fl.jvp(ours, (a, b), tangents), jax.jvp(theirs, (a, b), tangents), tol)


def test_dense_solve_rules_against_finite_differences():
    # jvp against central differences, transpose against the vjp identity, then both
    # again on the derivatives themselves (jvp of the jvp rule's output, vjp of it, ...).
    with x64():
        check_grads(dense_solve(OURS), (A.astype(np.float64), B.astype(np.float64)),
                    order=2, rtol=1e-6, atol=1e-6)


def test_forward_over_reverse():
    def hvp(ns, f):
        return lambda a: ns.jvp(ns.grad(lambda a: _loss(f)(a, B)), (a,), (DA,))
    assert_same(hvp(OURS, dense_solve(OURS))(A), hvp(JAX, dense_solve(JAX))(A), 1e-4)
    assert_same(hvp(OURS, cg_solve(OURS))(SPD), hvp(JAX, cg_solve(JAX))(SPD), 1e-4)


def test_cg_symmetric_value_and_gradients():
    ours, theirs = cg_solve(OURS), cg_solve(JAX)
    assert_same(ours(SPD, B), theirs(SPD, B), 1e-4)
    np.testing.assert_allclose(np.asarray(SPD @ ours(SPD, B)), B, atol=1e-4)
    # The while_loop cannot be differentiated: these come from the implicit rules alone.
    assert_same(fl.grad(_loss(ours), argnums=(0, 1))(SPD, B),
                jax.grad(_loss(theirs), argnums=(0, 1))(SPD, B), 1e-4)
    assert_same(fl.jvp(ours, (SPD, B), (DA, DB)), jax.jvp(theirs, (SPD, B), (DA, DB)), 1e-4)


def test_jit_keeps_one_primitive():
    # (the lowering module is imported here; the package imports it once wired in)
    assert solve_lowering.__name__ and has_rule(linear_solve_p)
    ours, theirs = cg_solve(OURS), cg_solve(JAX)
    program = str(fl.make_jaxpr(ours)(SPD, B))
    assert program.count("custom_linear_solve") == 1, program
    assert_same(fl.jit(ours)(SPD, B), theirs(SPD, B), 1e-4)
    assert_same(fl.jit(ours)(SPD, B), ours(SPD, B), 1e-5)   # lowering against eager
    g = fl.jit(fl.grad(_loss(ours), argnums=(0, 1)))
    assert_same(g(SPD, B), jax.grad(_loss(theirs), argnums=(0, 1))(SPD, B), 1e-4)
    # grad of a jitted solve: the primitive travels inside the jit call's program.
    assert_same(fl.grad(_loss(fl.jit(ours)))(SPD, B),
                jax.grad(_loss(theirs))(SPD, B), 1e-4)


@settings(max_examples=4, deadline=None)
@given(a_axis=st.sampled_from([None, 0, 2]), b_axis=st.sampled_from([None, 0, 1]))
def test_vmap_over_b_and_matrix(a_axis, b_axis):
    if a_axis is None and b_axis is None:
        b_axis = 0
    rng = np.random.default_rng(1)
    a = np.stack([A + 0.1 * rng.standard_normal((N, N)).astype(np.float32)
                  for _ in range(3)], a_axis or 0) if a_axis is not None else A
    b = np.stack([B, 2 * B, -B], b_axis or 0) if b_axis is not None else B
    axes = (a_axis, b_axis)
    got = fl.vmap(dense_solve(OURS), axes)(a, b)
    assert_same(got, jax.vmap(dense_solve(JAX), axes)(a, b), 1e-4)
    grads = fl.vmap(fl.grad(_loss(dense_solve(OURS)), argnums=(0, 1)), axes)(a, b)
    assert_same(grads, jax.vmap(jax.grad(_loss(dense_solve(JAX)), argnums=(0, 1)), axes)(a, b),
                1e-4)


def test_vmap_of_while_loop_solve_against_a_loop():
    mats = np.stack([SPD, SPD + np.eye(N, dtype=np.float32), 2 * SPD])
    bs = np.stack([B, -B, W])
    check_batching(cg_solve(OURS), (mats, bs), (0, 0), rtol=1e-5, atol=1e-5)
    check_batching(cg_solve(OURS), (SPD, bs), (None, 0), rtol=1e-5, atol=1e-5)


def test_has_aux():
    ours, theirs = cg_solve(OURS, has_aux=True), cg_solve(JAX, has_aux=True)
    (x, (k, res)), (xj, (kj, resj)) = ours(SPD, B), theirs(SPD, B)
    assert_same(x, xj, 1e-4)
    assert_same(k, kj)
    assert float(res) < 1e-4 and res.dtype == resj.dtype

    def loss(ns, f):
        return lambda s, b: (f(s, b)[0] * W).sum()
    assert_same(fl.grad(loss(OURS, ours), argnums=(0, 1))(SPD, B),
                jax.grad(loss(JAX, theirs), argnums=(0, 1))(SPD, B), 1e-4)
    # The aux outputs get zero tangents.
    (_, (_, res_dot)) = fl.jvp(ours, (SPD, B), (DA, DB))[1]
    assert_same(res_dot, np.zeros((), np.float32))
    assert_same(fl.jit(ours)(SPD, B)[0], xj, 1e-4)


def test_pytree_rhs_with_automatic_transpose():
    # b = {"u": ..., "v": ...}; the operator couples the two blocks and is not
    # symmetric, so reverse mode needs the transpose of matvec, found by transposition.
    def f(ns):
        def solve_blocks(a, c, b):
            def matvec(x):
                return {"u": a @ x["u"] + c * x["v"], "v": 3.0 * x["v"]}

            def solve(mv, y):
                v = y["v"] / 3.0
                return {"u": ns.np.linalg.solve(a, y["u"] - c * v), "v": v}

            def transpose_solve(vm, y):
                # A^T = [[a^T, 0], [c^T, 3]]: u from the first block, then v.
                u = ns.np.linalg.solve(a.T, y["u"])
                probe = vm({"u": u, "v": ns.np.zeros_like(y["v"])})
                return {"u": u, "v": (y["v"] - probe["v"]) / 3.0}
            return ns.solve(matvec, b, solve, transpose_solve)
        return solve_blocks

    c = W[:N]
    b = {"u": B, "v": DB}

    def loss(ns):
        return lambda a, c, b: (f(ns)(a, c, b)["u"] * W).sum() + f(ns)(a, c, b)["v"].sum()
    assert_same(f(OURS)(A, c, b)["u"], f(JAX)(A, c, b)["u"], 1e-4)
    got = fl.grad(loss(OURS), argnums=(0, 1, 2))(A, c, b)
    want = jax.grad(loss(JAX), argnums=(0, 1, 2))(A, c, b)
    assert_same(got[:2], want[:2], 1e-4)
    assert_same([got[2]["u"], got[2]["v"]], [want[2]["u"], want[2]["v"]], 1e-4)


def test_forward_mode_only_without_transpose_solve():
    def f(ns):
        return lambda a, b: ns.solve(lambda x: a @ x, b, lambda mv, y: ns.np.linalg.solve(a, y))
    assert_same(fl.jvp(f(OURS), (A, B), (DA, DB)), jax.jvp(f(JAX), (A, B), (DA, DB)), 1e-4)
    with pytest.raises(TypeError, match="transpose_solve"):
        jax.grad(_loss(f(JAX)))(A, B)
    with pytest.raises(TypeError, match="transpose_solve"):
        fl.grad(_loss(f(OURS)))(A, B)


@pytest.mark.parametrize("ns", [OURS, JAX], ids=["ours", "jax"])
def test_errors_match_jax(ns):
    def identity_solve(mv, y):
        return y
    with pytest.raises(TypeError, match="matvec"):
        ns.solve(lambda x: [x[0]], (B,), identity_solve)
    with pytest.raises(ValueError, match="matvec"):
        ns.solve(lambda x: (x, x), B, identity_solve)
    with pytest.raises(ValueError, match="solve"):
        ns.solve(lambda x: x, B, lambda mv, y: y[:2])
    with pytest.raises(ValueError):
        ns.solve(lambda x: x, B, identity_solve, has_aux=True)
    with pytest.raises(TypeError):
        ns.solve(3, B, identity_solve)
    with pytest.raises(TypeError, match="initial_guess"):
        ns.root(lambda x: (x, x), B, lambda f, x: x, lambda g, y: y)
    with pytest.raises(TypeError, match="tangent_solve"):
        ns.root(lambda x: x, B, lambda f, x: x, lambda g, y: (y, y))


def test_error_messages_say_what_to_do():
    with pytest.raises(TypeError, match="symmetric=True"):
        fl.grad(lambda b: custom_linear_solve(lambda x: 2 * x, b, lambda mv, y: y / 2)
                .sum())(B)
    with pytest.raises(ValueError, match="has_aux=True"):
        custom_linear_solve(lambda x: x, B, lambda mv, y: y, has_aux=True)
    with pytest.raises(TypeError, match="astype"):
        custom_linear_solve(lambda x: x, B, lambda mv, y: y.astype(np.int32))


def test_python_scalar_rhs_keeps_weak_type():
    def f(ns):
        return lambda b: ns.solve(lambda x: 2.0 * x, b, lambda mv, y: y / 2.0,
                                  symmetric=True)
    assert_same(f(OURS)(1.0), f(JAX)(1.0), weak_type=True)
    assert_same(fl.grad(f(OURS))(1.0), jax.grad(f(JAX))(1.0), weak_type=True)


# ---------------------------------------------------------------------------------------
# custom_root

def test_newton_sqrt():
    ours, theirs = newton_sqrt(OURS), newton_sqrt(JAX)
    a = np.float32(2.0)
    assert_same(ours(a), theirs(a))
    assert_same(fl.grad(ours)(a), jax.grad(theirs)(a))
    assert_same(fl.jvp(ours, (a,), (np.float32(1.5),)), jax.jvp(theirs, (a,), (np.float32(1.5),)))
    assert_same(fl.grad(fl.grad(ours))(a), jax.grad(jax.grad(theirs))(a))
    assert_same(fl.jit(fl.grad(ours))(a), jax.grad(theirs)(a))
    many = np.array([0.5, 2.0, 9.0], np.float32)
    assert_same(fl.vmap(fl.grad(ours))(many), jax.vmap(jax.grad(theirs))(many))
    np.testing.assert_allclose(np.asarray(fl.vmap(ours)(many)), np.sqrt(many), rtol=1e-6)


def test_newton_sqrt_float64():
    with x64():
        a = np.float64(3.0)
        assert_same(newton_sqrt(OURS)(a), newton_sqrt(JAX)(a), 1e-12)
        assert_same(fl.grad(newton_sqrt(OURS))(a), jax.grad(newton_sqrt(JAX))(a), 1e-12)


def test_vector_root_with_aux():
    c = np.array([1.0, -2.0, 0.5, 3.0], np.float32)
    ours, theirs = vector_root(OURS, True), vector_root(JAX, True)
    (x, err), (xj, errj) = ours(c, SPD), theirs(c, SPD)
    assert_same(x, xj, 1e-4)
    np.testing.assert_allclose(np.asarray(SPD @ x + x ** 3 / 3), c, atol=1e-4)
    assert err.dtype == errj.dtype and float(err) < 1e-4
    assert_same(fl.jacrev(lambda c, s: ours(c, s)[0], argnums=(0, 1))(c, SPD),
                jax.jacrev(lambda c, s: theirs(c, s)[0], argnums=(0, 1))(c, SPD), 1e-4)
    assert_same(fl.jacfwd(lambda c: ours(c, SPD)[0])(c),
                jax.jacfwd(lambda c: theirs(c, SPD)[0])(c), 1e-4)
