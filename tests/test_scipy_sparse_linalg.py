"""fl.scipy.sparse.linalg (cg, bicgstab, gmres), fl.scipy.integrate.trapezoid and
fl.scipy.cluster.vq.vq against jax.scipy, numpy.linalg.solve and scipy: solutions for
matrix and function operators, pytree right-hand sides, preconditioners, early stops at
maxiter, implicit derivatives (reverse and forward mode, closed-over matrices) against
JAX's and the closed form, jit, vmap, float64 and complex systems, and the errors JAX
raises."""
import jax
import jax.numpy as jnp
import jax.scipy.cluster.vq as jvq
import jax.scipy.integrate as jintegrate
import jax.scipy.sparse.linalg as jsl
import numpy as np
import pytest
import scipy.cluster.vq as scipy_vq
import scipy.integrate as scipy_integrate
from hypothesis import given, settings, strategies as st

import functorch_lite as fl
import functorch_lite.numpy as fnp
import functorch_lite.scipy.cluster.vq as fvq
import functorch_lite.scipy.integrate as fintegrate
import functorch_lite.scipy.sparse.linalg as fsl
from functorch_lite.tree_util import Partial
from helpers import assert_same, jax_oracle
from rule_checks import x64

RNG = np.random.default_rng(0)
N = 6
_Q = RNG.standard_normal((N, N))
SPD = (_Q @ _Q.T / N + np.eye(N)).astype(np.float32)                       # cond ~ 10
NONSYM = (RNG.standard_normal((N, N)) / 2 + 2 * np.eye(N)).astype(np.float32)
B = RNG.standard_normal(N).astype(np.float32)
X0 = RNG.standard_normal(N).astype(np.float32)
W = RNG.standard_normal(N).astype(np.float32)  # weights of the loss in the gradient tests

# name: (ours, JAX's, keyword arguments, matrix it is tested on)
SOLVERS = {
    "cg": (fsl.cg, jsl.cg, {}, SPD),
    "bicgstab": (fsl.bicgstab, jsl.bicgstab, {}, NONSYM),
    "gmres_batched": (fsl.gmres, jsl.gmres, {"solve_method": "batched"}, NONSYM),
    "gmres_incremental": (fsl.gmres, jsl.gmres, {"solve_method": "incremental"}, NONSYM),
}


def _early_stop(name):
    # One iteration (for gmres: one cycle in a 2-dimensional Krylov space) cannot solve a
    # 6 x 6 system.
    return {"maxiter": 1, "restart": 2} if name.startswith("gmres") else {"maxiter": 1}


def _solutions(xp, solve, kw, early, A, b, x0):
    """Every way of calling a solver, for ``xp`` = functorch_lite.numpy or jax.numpy (few
    calls: each is a loop that XLA compiles; the two gmres methods share the pytree
    handling, so the incremental one skips that case)."""
    def block_matvec(t):  # A as a function on {"u": first 2 entries, "w": the other 4}
        y = xp.dot(A, xp.concatenate([t["u"], t["w"]]))
        return {"u": y[:2], "w": y[2:]}

    jacobi = 1.0 / xp.diagonal(A)
    out = {"precond": solve(A, b, x0=x0, M=xp.diag(jacobi), tol=1e-6, **kw),
           "early_stop": solve(A, b, **early, **kw)}
    if kw.get("solve_method") != "incremental":
        out["pytree"] = solve(
            block_matvec, {"u": b[:2], "w": b[2:]},
            M=lambda t: {"u": jacobi[:2] * t["u"], "w": jacobi[2:] * t["w"]}, **kw)
    return out


@pytest.mark.parametrize("name", sorted(SOLVERS))
def test_solutions_match_jax_and_numpy(name):
    """Matrix and function operators, matrix and function preconditioners, an initial
    guess, a pytree right-hand side and an early stop at maxiter; gmres's info."""
    ours, theirs, kw, A = SOLVERS[name]
    early = _early_stop(name)
    got = fl.jit(lambda A, b, x0: _solutions(fnp, ours, kw, early, A, b, x0))(A, B, X0)
    want = jax.jit(lambda A, b, x0: _solutions(jnp, theirs, kw, early, A, b, x0))(A, B, X0)
    for case in want:
        assert (got[case][1] is None) == (want[case][1] is None) == (name in ("cg", "bicgstab"))
        jax.tree_util.tree_map(lambda g, w: assert_same(g, w, tol=2e-4, weak_type=True),
                               got[case], want[case])
    exact = np.linalg.solve(A.astype(np.float64), B.astype(np.float64))
    np.testing.assert_allclose(got["precond"][0], exact, rtol=1e-4, atol=1e-4)
    if "pytree" in got:
        tree = got["pytree"][0]
        np.testing.assert_allclose(np.concatenate([tree["u"], tree["w"]]), exact, rtol=1e-4,
                                   atol=1e-4)
    # maxiter is honoured: the early stop is far from the solution.
    x_early = np.asarray(got["early_stop"][0])
    assert np.linalg.norm(A @ x_early - B) > 1e-2 * np.linalg.norm(B)


@pytest.mark.parametrize("name", ["cg", "bicgstab", "gmres_batched"])
def test_implicit_gradients(name):
    """d/dA and d/db of <w, x(A, b)>: JAX's, and the closed form bar b = A^-T w,
    bar A = -bar b x^T. (Both gmres methods share the backward pass.)"""
    ours, theirs, kw, A = SOLVERS[name]

    def loss(solve, xp):
        return lambda A, b: xp.sum(W * solve(A, b, tol=1e-6, **kw)[0])

    gA, gb = fl.jit(fl.grad(loss(ours, fnp), argnums=(0, 1)))(A, B)
    jA, jb = jax.jit(jax.grad(loss(theirs, jnp), argnums=(0, 1)))(A, B)
    assert_same(gA, jA, tol=2e-4)
    assert_same(gb, jb, tol=2e-4)
    A64, B64 = A.astype(np.float64), B.astype(np.float64)
    b_bar = np.linalg.solve(A64.T, W)
    np.testing.assert_allclose(gb, b_bar, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(gA, -np.outer(b_bar, np.linalg.solve(A64, B64)), rtol=1e-4,
                               atol=1e-4)


def test_gradients_through_partial_operator_and_pytree():
    """A ``Partial`` operator's arrays are differentiated (JAX closes over them); a pytree
    ``b`` gets a pytree gradient; the preconditioner and x0 get none, as in JAX."""
    def mv(a, v):
        return fnp.dot(a, v)

    def ours(A, b, x0):
        x, _ = fsl.bicgstab(Partial(mv, A), b, x0=x0, M=fnp.diag(1.0 / fnp.diagonal(A)),
                            tol=1e-6)
        return fnp.sum(W * x)

    def theirs(A, b, x0):
        x, _ = jsl.bicgstab(lambda v: A @ v, b, x0=x0, M=jnp.diag(1.0 / jnp.diagonal(A)),
                            tol=1e-6)
        return jnp.sum(W * x)

    got = fl.jit(fl.grad(ours, argnums=(0, 1, 2)))(NONSYM, B, X0)
    want = jax.jit(jax.grad(theirs, argnums=(0, 1, 2)))(NONSYM, B, X0)
    assert_same(got, want, tol=2e-4)  # (the x0 gradient is exactly zero in both)
    assert not np.any(np.asarray(got[2]))

    def tree_loss(solve, xp):
        def f(b):
            def op(t):  # not symmetric: the backward solve transposes it leaf by leaf
                return {"u": 2.0 * t["u"] + t["w"][:3], "w": xp.dot(NONSYM, t["w"])}
            x, _ = solve(op, b)
            return xp.sum(x["u"] ** 2) + xp.sum(W * x["w"])
        return f

    tree_b = {"u": B[:3], "w": B}
    got = fl.jit(fl.grad(tree_loss(fsl.bicgstab, fnp)))(tree_b)
    want = jax.jit(jax.grad(tree_loss(jsl.bicgstab, jnp)))(tree_b)
    jax.tree_util.tree_map(lambda g, w: assert_same(g, w, tol=2e-4), got, want)


@pytest.mark.parametrize("name", ["cg", "gmres_incremental"])
def test_vmap(name):
    """Batched matrices and right-hand sides (each loop runs until its own system has
    converged), and the batched backward solve of vmap(grad). For gmres one lane starts
    from NaNs: its info is -1 (as JAX's), the others' 0."""
    ours, _, kw, A = SOLVERS[name]
    As = np.stack([A, A + 0.5 * np.eye(N, dtype=np.float32), 2 * A])
    Bs = RNG.standard_normal((3, N)).astype(np.float32)
    x0s = np.zeros((3, N), np.float32)
    if name != "cg":
        x0s[2, 0] = np.nan
    xs, info = fl.jit(fl.vmap(lambda A, b, x0: ours(A, b, x0, **kw)))(As, Bs, x0s)
    want = np.linalg.solve(As.astype(np.float64), Bs[..., None].astype(np.float64))[..., 0]
    if name == "cg":
        assert info is None
        np.testing.assert_allclose(xs, want, rtol=1e-4, atol=1e-4)
    else:
        np.testing.assert_array_equal(info, [0, 0, -1])
        np.testing.assert_allclose(xs[:2], want[:2], rtol=1e-4, atol=1e-4)
    gs = fl.jit(fl.vmap(fl.grad(lambda b: fnp.sum(W * ours(A, b, tol=1e-6, **kw)[0]))))(Bs)
    np.testing.assert_allclose(gs, np.tile(np.linalg.solve(A.T.astype(np.float64), W), (3, 1)),
                               rtol=1e-4, atol=1e-4)


def test_float64_and_complex():
    with x64():
        A, b = SPD.astype(np.float64), B.astype(np.float64)
        xs = fl.jit(lambda A, b: [s(A, b, tol=1e-13)[0] for s in (fsl.cg, fsl.bicgstab,
                                                                  fsl.gmres)])(A, b)
        for x in xs:
            assert x.dtype == np.float64
            np.testing.assert_allclose(x, np.linalg.solve(A, b), rtol=1e-10, atol=1e-10)
    # A complex Hermitian positive definite system (cg's inner products keep real parts).
    H = (SPD + 0.3j * (np.triu(SPD, 1) - np.tril(SPD, -1))).astype(np.complex64)
    bc = (B + 1j * W).astype(np.complex64)
    got = fl.jit(lambda A, b: (fsl.cg(A, b)[0], fsl.gmres(A, b)[0]))(H, bc)
    want = jax.jit(lambda A, b: (jsl.cg(A, b)[0], jsl.gmres(A, b)[0]))(H, bc)
    assert_same(got, want, tol=2e-4)
    np.testing.assert_allclose(got[1], np.linalg.solve(H, bc), rtol=1e-4, atol=1e-4)

    # Complex cg is not treated as symmetric: its backward solve transposes A.
    def loss(solve, xp):
        return lambda A, b: xp.sum(xp.abs(solve(A, b, tol=1e-6)[0]) ** 2)
    got = fl.jit(fl.grad(loss(fsl.cg, fnp), argnums=(0, 1)))(H, bc)
    want = jax.jit(jax.grad(loss(jsl.cg, jnp), argnums=(0, 1)))(H, bc)
    assert_same(got, want, tol=2e-4)


def test_eager_and_info():
    """Unjitted calls (each loop compiled on its own) agree with jit; cg and bicgstab
    report no info, as JAX's."""
    x, info = fsl.cg(SPD, B)
    assert info is None and jsl.cg(SPD, B)[1] is None
    assert_same(x, fl.jit(lambda b: fsl.cg(SPD, b)[0])(B), tol=1e-6)
    assert fsl.bicgstab(NONSYM, B)[1] is None
    g = fl.grad(lambda b: fnp.sum(W * fsl.cg(SPD, b, tol=1e-6)[0]))(B)
    np.testing.assert_allclose(g, np.linalg.solve(SPD.astype(np.float64), W), rtol=1e-4,
                               atol=1e-4)


def test_errors_match_jax():
    cases = [
        (ValueError, lambda m, s: s.cg(np.ones((3, 4), np.float32), np.ones(3, np.float32))),
        (ValueError, lambda m, s: s.gmres(np.ones(3, np.float32), np.ones(3, np.float32))),
        (TypeError, lambda m, s: s.bicgstab([[1.0]], np.ones(1, np.float32))),
        (ValueError, lambda m, s: s.cg(SPD, {"a": B}, x0={"b": B})),
        (ValueError, lambda m, s: s.bicgstab(NONSYM, B, x0=B[:3])),
        (ValueError, lambda m, s: s.gmres(NONSYM, B, solve_method="qr")),
    ]
    for exc, case in cases:
        with pytest.raises(exc):
            case(jnp, jsl)
        with pytest.raises(exc) as info:
            case(fnp, fsl)
        assert str(info.value).startswith(("cg:", "bicgstab:", "gmres:")), info.value


@pytest.mark.parametrize("name", ["cg", "bicgstab", "gmres_batched"])
def test_closures_and_forward_mode(name):
    """A plain function closing over the matrix being differentiated (as in JAX, the solve
    is a custom_linear_solve, so closed-over values are differentiated), and forward mode
    (jvp in A and b, jacfwd) against JAX's and the closed form dx = A^-1 (db - dA x)."""
    ours, theirs, kw, A = SOLVERS[name]
    dA = RNG.standard_normal((N, N)).astype(np.float32) / 4

    def solution(solve, xp):
        return lambda A, b: solve(lambda v: xp.dot(A, v), b, tol=1e-6, **kw)[0]

    def loss(solve, xp):
        return lambda A: xp.sum(W * solution(solve, xp)(A, B))

    assert_same(fl.jit(fl.grad(loss(ours, fnp)))(A), jax.jit(jax.grad(loss(theirs, jnp)))(A),
                tol=2e-4)
    got = fl.jit(lambda A, b, dA, db: fl.jvp(solution(ours, fnp), (A, b), (dA, db)))(
        A, B, dA, W)
    want = jax.jit(lambda A, b, dA, db: jax.jvp(solution(theirs, jnp), (A, b), (dA, db)))(
        A, B, dA, W)
    assert_same(got, want, tol=2e-4)
    A64 = A.astype(np.float64)
    x = np.linalg.solve(A64, B)
    np.testing.assert_allclose(got[1], np.linalg.solve(A64, W - dA @ x), rtol=1e-4,
                               atol=1e-4)
    jac = fl.jit(fl.jacfwd(lambda b: solution(ours, fnp)(A, b)))(B)
    np.testing.assert_allclose(jac, np.linalg.inv(A64), rtol=1e-4, atol=1e-4)


# ---------------------------------------------------------------------------------------
# integrate.trapezoid
# ---------------------------------------------------------------------------------------

@settings(max_examples=8, deadline=None)
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3), data=st.data())
def test_trapezoid(shape, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    how = data.draw(st.sampled_from(["dx", "x1d", "xfull"]))
    y = RNG.standard_normal(shape).astype(np.float32)
    if how == "dx":
        kw = {"dx": 0.5}
    elif how == "x1d":
        kw = {"x": np.sort(RNG.standard_normal(shape[axis])).astype(np.float32)}
    else:
        kw = {"x": np.cumsum(RNG.random(shape), axis=axis).astype(np.float32)}
    got = fintegrate.trapezoid(y, axis=axis, **kw)
    assert_same(got, jax_oracle(lambda _: jintegrate.trapezoid(y, axis=axis, **kw)), tol=1e-5)
    np.testing.assert_allclose(got, scipy_integrate.trapezoid(y, axis=axis, **kw), rtol=1e-5,
                               atol=1e-5)


def test_trapezoid_dtypes_grad_and_transforms():
    yi = np.array([1, 2, 3, 2, 3, 2, 1], np.int32)
    xs = np.array([0, 2, 5, 7, 10, 15, 20], np.int32)
    assert_same(fintegrate.trapezoid(yi), jintegrate.trapezoid(yi))
    assert_same(fintegrate.trapezoid(yi, xs), jintegrate.trapezoid(yi, xs))
    y = RNG.standard_normal((3, 5)).astype(np.float32)
    x = np.sort(RNG.standard_normal(5)).astype(np.float32)
    assert_same(fl.grad(lambda y, x: fintegrate.trapezoid(y, x).sum(), argnums=(0, 1))(y, x),
                jax_oracle(lambda _: jax.grad(lambda y, x: jintegrate.trapezoid(y, x).sum(),
                                              argnums=(0, 1))(y, x)))
    assert_same(fl.jit(fl.vmap(fintegrate.trapezoid, in_axes=(0, None)))(y, x),
                jintegrate.trapezoid(y, x))


# ---------------------------------------------------------------------------------------
# cluster.vq.vq
# ---------------------------------------------------------------------------------------

def test_vq_matches_jax_and_scipy():
    obs = RNG.standard_normal((7, 3)).astype(np.float32)
    book = RNG.standard_normal((4, 3)).astype(np.float32)
    cases = [(obs, book), (obs[:, 0], book[:, 0]),
             # ties go to the first code
             (np.array([[0.0, 1.0]], np.float32), np.array([[0.0, 0.0], [0.0, 2.0]], np.float32)),
             (np.arange(4, dtype=np.int32), np.array([0.5, 3.0], np.float32))]
    assert_same(fvq.vq(obs, book), jax.jit(jvq.vq)(obs, book))  # eager
    for o, c in cases:
        got = fl.jit(fvq.vq)(o, c)
        assert_same(got, jax.jit(jvq.vq)(o, c))
        code, dist = scipy_vq.vq(o.astype(np.float64), c.astype(np.float64))
        np.testing.assert_array_equal(got[0], code)
        np.testing.assert_allclose(got[1], dist, rtol=1e-5, atol=1e-6)
    assert int(fl.jit(fvq.vq)(*cases[2])[0][0]) == 0
    # jit, vmap over observation sets, and the gradient of the distances.
    batch = RNG.standard_normal((2, 7, 3)).astype(np.float32)
    got = fl.jit(fl.vmap(fvq.vq, in_axes=(0, None)))(batch, book)
    assert_same(got, jax.vmap(jvq.vq, in_axes=(0, None))(batch, book))
    assert_same(fl.jit(fl.grad(lambda o, c: fvq.vq(o, c)[1].sum(), argnums=(0, 1)))(obs, book),
                jax.jit(jax.grad(lambda o, c: jvq.vq(o, c)[1].sum(), argnums=(0, 1)))(obs, book))


def test_vq_errors():
    ones = np.ones((2, 3), np.float32)
    for exc, args in [(ValueError, (ones, ones[0])),            # ranks differ
                      (ValueError, (ones[None], ones[None])),   # 3-D
                      (TypeError, (ones, np.ones((2, 4), np.float32))),  # features differ
                      (TypeError, ([[1.0]], ones))]:           # not an array
        with pytest.raises(exc):
            jvq.vq(*args)
        with pytest.raises(exc):
            fvq.vq(*args)
