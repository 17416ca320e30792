"""``custom_jvp`` and ``custom_vjp`` (defjvp, defjvps, defvjp, nondiff_argnums, and the
``custom_lin`` primitive behind custom_vjp) through grad, jvp, vjp, vmap, jit and their
compositions, compared with JAX on the same definitions."""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite.core.avals import ShapedArray
from functorch_lite.lax import custom_derivatives as cd
from functorch_lite.interpreters.transpose import UndefinedPrimal, backward_pass
from helpers import assert_tree_close as _close
from helpers import rand

LIBS = {"fl": (fl, fnp), "jax": (jax, jnp)}
WRAPS = {"eager": lambda f: f, "jit": fl.jit}


def assert_tree_close(got, want, rtol=1e-5, atol=1e-6):
    _close(got, want, rtol, atol)


def per_lib(make):
    cache = {}

    @functools.wraps(make)
    def get(name):
        if name not in cache:
            cache[name] = make(*LIBS[name])
        return cache[name]
    return get


# ---------------------------------------------------------------------------------------
# Definitions, each made once for functorch_lite and once for JAX.

@per_lib
def softplus(lib, np_):
    """custom_jvp via defjvp; the rule reuses the function's output."""
    @lib.custom_jvp
    def f(x):
        return np_.logaddexp(x, 0.0)

    @f.defjvp
    def f_jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        return f(x), t / (1.0 + np_.exp(-x))
    return f


@per_lib
def pair_fn(lib, np_):
    """custom_jvp with two arguments, pytree output, and a deliberately different
    derivative (scaled by 2) so the rule is visibly the one used."""
    @lib.custom_jvp
    def f(x, y):
        return {"prod": x * y, "sin": np_.sin(x)}

    @f.defjvp
    def f_jvp(primals, tangents):
        (x, y), (tx, ty) = primals, tangents
        return f(x, y), {"prod": 2.0 * (tx * y + x * ty), "sin": np_.cos(x) * tx}
    return f


@per_lib
def defjvps_fn(lib, np_):
    @lib.custom_jvp
    def f(x, y):
        return np_.sin(x) * y

    f.defjvps(lambda tx, ans, x, y: np_.cos(x) * tx * y,
              lambda ty, ans, x, y: np_.sin(x) * ty * 3.0)
    return f


@per_lib
def defjvps_none(lib, np_):
    @lib.custom_jvp
    def f(x, y):
        return x * y

    f.defjvps(None, lambda ty, ans, x, y: x * ty)
    return f


@per_lib
def apply_fn(lib, np_):
    """nondiff_argnums with a callable (JAX's canonical example)."""
    @functools.partial(lib.custom_jvp, nondiff_argnums=(0,))
    def app(g, x):
        return g(x)

    @app.defjvp
    def app_jvp(g, primals, tangents):
        (x,), (t,) = primals, tangents
        return app(g, x), 2.0 * t * g(x)
    return app


@per_lib
def powr_fn(lib, np_):
    """nondiff_argnums in the middle, a static int."""
    @functools.partial(lib.custom_jvp, nondiff_argnums=(1,))
    def powr(x, n, y):
        return x ** n * y

    @powr.defjvp
    def powr_jvp(n, primals, tangents):
        (x, y), (tx, ty) = primals, tangents
        return powr(x, n, y), n * x ** (n - 1) * y * tx + x ** n * ty
    return powr


@per_lib
def clip_fn(lib, np_):
    """custom_vjp: identity with a clipped cotangent."""
    @lib.custom_vjp
    def clip(x, lo, hi):
        return x

    def fwd(x, lo, hi):
        return x, (lo, hi)

    def bwd(res, g):
        lo, hi = res
        return np_.clip(g, lo, hi), None, None
    clip.defvjp(fwd, bwd)
    return clip


@per_lib
def sinmul_fn(lib, np_):
    """custom_vjp with pytree residuals and a pytree input; the bwd doubles x's cotangent
    so the rule is visibly used."""
    @lib.custom_vjp
    def f(p, y):
        return np_.sin(p["x"]) * y + p["b"]

    def fwd(p, y):
        return np_.sin(p["x"]) * y + p["b"], {"c": np_.cos(p["x"]), "s": np_.sin(p["x"]),
                                               "y": y}

    def bwd(res, g):
        return ({"x": 2.0 * res["c"] * res["y"] * g, "b": g}, res["s"] * g)
    f.defvjp(fwd, bwd)
    return f


@per_lib
def multi_out_fn(lib, np_):
    """custom_vjp with two outputs."""
    @lib.custom_vjp
    def f(x):
        return np_.exp(x), x * 2.0

    def fwd(x):
        e = np_.exp(x)
        return (e, x * 2.0), e

    def bwd(e, g):
        ge, g2 = g
        return (ge * e + 2.0 * g2,)
    f.defvjp(fwd, bwd)
    return f


@per_lib
def scale_grad_fn(lib, np_):
    """custom_vjp with nondiff_argnums: bwd gets the static argument first."""
    @functools.partial(lib.custom_vjp, nondiff_argnums=(0,))
    def scale_grad(k, x):
        return x

    def fwd(k, x):
        return x, None

    def bwd(k, _, g):
        return (g * k,)
    scale_grad.defvjp(fwd, bwd)
    return scale_grad


def _loss(name, which):
    lib, np_ = LIBS[name]
    if which == "softplus":
        f = softplus(name)
        return lambda x, y: np_.sum(f(x * y) ** 2)
    if which == "pair":
        f = pair_fn(name)
        return lambda x, y: np_.sum(f(x, y)["prod"] ** 2 + f(x, y)["sin"])
    if which == "defjvps":
        f = defjvps_fn(name)
        return lambda x, y: np_.sum(f(x, y) ** 2)
    if which == "defjvps_none":
        f = defjvps_none(name)
        return lambda x, y: np_.sum(np_.sin(f(x, y)))
    if which == "apply":
        f = apply_fn(name)
        return lambda x, y: np_.sum(f(np_.tanh, x) * y)
    if which == "powr":
        f = powr_fn(name)
        return lambda x, y: np_.sum(f(x, 3, y))
    if which == "clip":
        f = clip_fn(name)
        return lambda x, y: np_.sum(f(x * y, -0.5, 0.5) * x)
    if which == "sinmul":
        f = sinmul_fn(name)
        return lambda x, y: np_.sum(f({"x": x, "b": y * 2.0}, y) ** 2)
    if which == "multi_out":
        f = multi_out_fn(name)
        return lambda x, y: np_.sum(f(x * y)[0] + f(x)[1] ** 2)
    if which == "scale_grad":
        f = scale_grad_fn(name)
        return lambda x, y: np_.sum(np_.sin(f(3.0, x * y)))
    raise ValueError(which)


JVP_CASES = ["softplus", "pair", "defjvps", "defjvps_none", "apply", "powr"]
VJP_CASES = ["clip", "sinmul", "multi_out", "scale_grad"]
X, Y = rand(1, 4), rand(2, 4)
XB, YB = rand(3, 3, 4), rand(4, 3, 4)


# ---------------------------------------------------------------------------------------
# Reverse mode (both kinds) and composition with vmap

@pytest.mark.parametrize("wrap", WRAPS)
@pytest.mark.parametrize("which", JVP_CASES + VJP_CASES)
def test_grad(which, wrap):
    got = WRAPS[wrap](fl.grad(_loss("fl", which), argnums=(0, 1)))(X, Y)
    assert_tree_close(got, jax.grad(_loss("jax", which), argnums=(0, 1))(X, Y))


@pytest.mark.parametrize("wrap", WRAPS)
@pytest.mark.parametrize("which", JVP_CASES + VJP_CASES)
def test_vmap_of_grad_and_grad_of_vmap(which, wrap):
    w = WRAPS[wrap]
    got = w(fl.vmap(fl.grad(_loss("fl", which), argnums=(0, 1)), in_axes=(0, None)))(XB, Y)
    want = jax.vmap(jax.grad(_loss("jax", which), argnums=(0, 1)), in_axes=(0, None))(XB, Y)
    assert_tree_close(got, want)

    def gv(lib, np_, name):
        f = _loss(name, which)
        return lambda x, y: np_.sum(lib.vmap(f, in_axes=(1, None))(x, y) ** 2)
    got = w(fl.grad(gv(fl, fnp, "fl"), argnums=(0, 1)))(XB.T, Y)
    want = jax.grad(gv(jax, jnp, "jax"), argnums=(0, 1))(XB.T, Y)
    assert_tree_close(got, want)


@pytest.mark.parametrize("which", JVP_CASES + VJP_CASES)
def test_second_order(which):
    # Reverse over reverse; and the Hessian (forward over reverse), which for custom_vjp
    # differentiates the bwd rule in forward mode.
    def gg(lib, name):
        g = lib.grad(_loss(name, which), argnums=0)
        return lambda x, y: (g(x, y) ** 2).sum()
    assert_tree_close(fl.grad(gg(fl, "fl"), argnums=(0, 1))(X, Y),
                      jax.grad(gg(jax, "jax"), argnums=(0, 1))(X, Y), rtol=1e-4)
    assert_tree_close(fl.hessian(_loss("fl", which))(X, Y),
                      jax.hessian(_loss("jax", which))(X, Y), rtol=1e-4)


# ---------------------------------------------------------------------------------------
# custom_jvp in forward mode

@pytest.mark.parametrize("wrap", WRAPS)
@pytest.mark.parametrize("which", JVP_CASES)
def test_custom_jvp_forward(which, wrap):
    tx, ty = rand(5, 4), rand(6, 4)
    got = WRAPS[wrap](lambda *a: fl.jvp(_loss("fl", which), a[:2], a[2:]))(X, Y, tx, ty)
    assert_tree_close(got, jax.jvp(_loss("jax", which), (X, Y), (tx, ty)))
    got = fl.vmap(lambda x, t: fl.jvp(_loss("fl", which), (x, Y), (t, ty)))(XB, XB * 0.5)
    want = jax.vmap(lambda x, t: jax.jvp(_loss("jax", which), (x, Y), (t, ty)))(XB, XB * 0.5)
    assert_tree_close(got, want)
    got = fl.jacfwd(_loss("fl", which), argnums=(0, 1))(X, Y)
    assert_tree_close(got, jax.jacfwd(_loss("jax", which), argnums=(0, 1))(X, Y))


def test_custom_jvp_rule_is_used_and_primal_is_the_function():
    f = pair_fn("fl")
    out = f(X, Y)  # eagerly, just the function
    assert_tree_close(out, {"prod": X * Y, "sin": np.sin(X)})
    _, t = fl.jvp(lambda x: f(x, Y), (X,), (np.ones_like(X),))
    np.testing.assert_allclose(t["prod"], 2.0 * Y, rtol=1e-6)  # the rule's factor 2
    # Under jit, the primal still computes the function (not the rule's primal output).
    assert_tree_close(fl.jit(f)(X, Y), out)
    # vmap of the function itself (no differentiation).
    assert_tree_close(fl.vmap(f)(XB, YB), jax.vmap(pair_fn("jax"))(XB, YB))


def test_custom_jvp_zero_tangent_for_one_argument():
    # Differentiate only y: the rule gets a zero tangent for x.
    got = fl.grad(_loss("fl", "pair"), argnums=1)(X, Y)
    assert_tree_close(got, jax.grad(_loss("jax", "pair"), argnums=1)(X, Y))
    got = fl.jvp(lambda y: pair_fn("fl")(X, y), (Y,), (np.ones_like(Y),))
    want = jax.jvp(lambda y: pair_fn("jax")(X, y), (Y,), (np.ones_like(Y),))
    assert_tree_close(got, want)


def test_custom_jvp_nondiff_argnums_hashable_static_values():
    powr = powr_fn("fl")
    for n in (2, 3):
        g = fl.jit(fl.grad(lambda x: powr(x, n, 1.0)))(2.0)
        assert float(g) == pytest.approx(n * 2.0 ** (n - 1))


def test_custom_jvp_errors():
    @fl.custom_jvp
    def f(x):
        return x * 2.0
    with pytest.raises(AttributeError, match="No JVP defined"):
        fl.grad(f)(1.0)

    f.defjvp(lambda p, t: (f(p[0]), (t[0], t[0])))
    with pytest.raises(TypeError, match="output structure"):
        fl.jvp(f, (1.0,), (1.0,))

    @fl.custom_jvp
    def g(x):
        return x * 2.0
    g.defjvp(lambda p, t: (g(p[0]), fnp.ones(3)))
    with pytest.raises(TypeError, match="shapes and dtypes"):
        fl.jvp(g, (1.0,), (1.0,))

    @fl.custom_jvp
    def h(x):
        return x
    h.defjvp(lambda p, t: h(p[0]))
    with pytest.raises(TypeError, match="pair"):
        fl.jvp(h, (1.0,), (1.0,))


def test_custom_jvp_closing_over_a_differentiated_value():
    def outer(y):
        @fl.custom_jvp
        def f(x):
            return x * y

        f.defjvp(lambda p, t: (f(p[0]), t[0] * y))
        return f(2.0)
    with pytest.raises(TypeError, match="closed over a value that is being differentiated"):
        fl.grad(outer)(3.0)


# ---------------------------------------------------------------------------------------
# custom_vjp specifics

@pytest.mark.parametrize("wrap", WRAPS)
def test_custom_vjp_vjp_with_pytrees(wrap):
    p = {"x": X, "b": Y}

    def run(lib, name):
        out, vjp_fn = lib.vjp(sinmul_fn(name), p, Y)
        return out, vjp_fn(np.ones_like(X))
    got = WRAPS[wrap](lambda: run(fl, "fl"))()
    want = run(jax, "jax")
    assert_tree_close(got, want)
    # The rule (doubling x's cotangent) is used, not the derivative of the function.
    np.testing.assert_allclose(got[1][0]["x"], 2.0 * np.cos(X) * Y, rtol=1e-6)


def test_custom_vjp_vmap_of_vjp_fn_and_jacrev():
    f = sinmul_fn("fl")
    p = {"x": X, "b": Y}
    _, vjp_fn = fl.vjp(f, p, Y)
    got = fl.vmap(vjp_fn)(np.eye(4, dtype=np.float32))
    _, jvjp_fn = jax.vjp(sinmul_fn("jax"), p, Y)
    assert_tree_close(got, jax.vmap(jvjp_fn)(np.eye(4, dtype=np.float32)))
    assert_tree_close(fl.jacrev(f, argnums=(0, 1))(p, Y),
                      jax.jacrev(sinmul_fn("jax"), argnums=(0, 1))(p, Y))
    # vmap of the function itself, with its batch dimension in different places.
    got = fl.vmap(f, in_axes=({"x": 1, "b": None}, 0))({"x": XB.T[:, :3], "b": Y}, YB[:, 0])
    want = jax.vmap(sinmul_fn("jax"), in_axes=({"x": 1, "b": None}, 0))(
        {"x": XB.T[:, :3], "b": Y}, YB[:, 0])
    assert_tree_close(got, want)


def test_custom_vjp_bwd_errors():
    @fl.custom_vjp
    def f(x, y):
        return x * y

    f.defvjp(lambda x, y: (x * y, (x, y)), lambda res, g: (g * res[1],))
    with pytest.raises(TypeError, match="returned 1 cotangents for 2 differentiable"):
        fl.grad(f)(1.0, 2.0)

    f.defvjp(lambda x, y: (x * y, (x, y)), lambda res, g: g)
    with pytest.raises(TypeError, match="must return a tuple"):
        fl.grad(f)(1.0, 2.0)

    f.defvjp(lambda x, y: (x * y, (x, y)), lambda res, g: (fnp.ones(3), g))
    with pytest.raises(ValueError, match=r"cotangent 0 has shape \(3,\)"):
        fl.grad(f)(1.0, 2.0)

    f.defvjp(lambda x, y: x * y, lambda res, g: (g, g))
    with pytest.raises(TypeError, match="pair"):
        fl.grad(f)(1.0, 2.0)

    @fl.custom_vjp
    def h(p):
        return p["a"]

    h.defvjp(lambda p: (p["a"], None), lambda _, g: ({"b": g},))
    with pytest.raises(TypeError, match="structure"):
        fl.grad(h)({"a": 1.0})

    @fl.custom_vjp
    def k(x):
        return x
    with pytest.raises(AttributeError, match="No VJP defined"):
        fl.grad(k)(1.0)


def test_custom_vjp_integer_argument():
    @fl.custom_vjp
    def f(x, n):
        return x * n

    f.defvjp(lambda x, n: (x * n, n), lambda n, g: (g * n, None))
    g = fl.grad(f)(2.0, 3)
    assert float(g) == 3.0
    gx, gn = fl.vjp(f, 2.0, 3)[1](1.0)
    assert float(gx) == 3.0 and gn.dtype == jax.dtypes.float0


def _lin_bwd(res, cts):
    # The linear map t -> r * t; its transpose is ct -> r * ct.
    (r,), (c,) = res, cts
    return [r * c]


def _lin(r, t):
    return cd.custom_lin_p.bind(r, t, num_res=1, bwd=_lin_bwd,
                                out_avals=(ShapedArray(np.shape(t), np.float32),))[0]


def test_custom_lin_evaluated_forward_is_an_error():
    """``custom_lin`` is the linear half of custom_vjp: staged by linearization and then
    transposed into the user's bwd. Evaluating it forward is the forward-mode error."""
    with pytest.raises(TypeError, match="forward-mode autodiff"):
        _lin(X, Y)
    f = sinmul_fn("fl")
    p = {"x": X, "b": Y}
    _, f_jvp = fl.linearize(lambda p: f(p, Y), p)
    with pytest.raises(TypeError, match="forward-mode autodiff"):
        f_jvp(p)


def test_custom_lin_batching_rule():
    # Staged under vmap (with the linear operand batched at 1): the batched bwd transposes
    # every example with its own residual.
    rb, tb, ct = rand(7, 3, 4), rand(8, 4, 3), rand(9, 3, 4)
    ir = fl.make_ir(fl.vmap(_lin, in_axes=(0, 1)))(rb, tb)
    assert "custom_lin" in [e.primitive.name for e in ir.program.eqns]
    (got,) = [c for c in backward_pass(ir.program, ir.consts,
                                       [rb, UndefinedPrimal(ir.program.invars[1].aval)], [ct])
              if c is not None]
    np.testing.assert_allclose(got, (rb * ct).T, rtol=1e-6)


def test_custom_lin_jvp_rule():
    # custom_lin is linear in its non-residual operands: its jvp applies it to the tangent.
    r, t, tt, ct = rand(10, 4), rand(11, 4), rand(12, 4), rand(13, 4)
    ir = fl.make_ir(lambda r, t, tt: fl.jvp(lambda t: _lin(r, t), (t,), (tt,))[1])(r, t, tt)
    cts = backward_pass(ir.program, ir.consts,
                        [r, t, UndefinedPrimal(ir.program.invars[2].aval)], [ct])
    np.testing.assert_allclose(cts[2], r * ct, rtol=1e-6)
    # A tangent for a residual would differentiate the bwd rule's inputs: refused.
    with pytest.raises(TypeError, match="closed over a value that is being differentiated"):
        fl.make_ir(lambda r, t: fl.jvp(lambda r: _lin(r, t), (r,), (r,)))(r, t)


def test_custom_vjp_bwd_returning_none_under_vmap():
    # None cotangents stay symbolic through the batched bwd (for batched and unbatched
    # arguments alike).
    clip = clip_fn("fl")
    g = fl.vmap(fl.grad(lambda x, lo: fnp.sum(clip(x, lo, 0.5) * 3.0), argnums=(0, 1)),
                in_axes=(0, None))(XB, np.float32(-0.5))
    assert_tree_close(g, (np.full((3, 4), 0.5, np.float32), np.zeros(3, np.float32)))
    g = fl.grad(lambda x, lo: fnp.sum(fl.vmap(clip, in_axes=(0, 0, None))(x, lo, 0.5)),
                argnums=(0, 1))(XB, np.full(3, -0.5, np.float32))
    assert_tree_close(g, (np.full((3, 4), 0.5, np.float32), np.zeros(3, np.float32)))
