"""Program-level tests of ``vmap``: axis specifications, composition with grad/jit, the
classic uses (per-example gradients, model ensembling), and its error messages. Results are
compared with ``jax.vmap`` and with Python loops."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import functorch_lite as fl
import functorch_lite.numpy as fnp
from helpers import assert_tree_close, rand


def both(fn):
    """Run ``fn(lib, np_module)`` for functorch_lite and for JAX."""
    return fn(fl, fnp), fn(jax, jnp)


WRAPS = {"eager": lambda f: f, "jit": fl.jit}


# ---------------------------------------------------------------------------------------
# Axis specifications

@pytest.mark.parametrize("wrap", WRAPS)
def test_in_axes_ints_negative_none(wrap):
    a, b, c = rand(0, 3, 4), rand(1, 5, 3, 4), rand(2, 3)

    def run(lib, np_):
        f = lambda a, b, c: np_.tanh(a) * b + c  # noqa: E731
        return lib.vmap(f, in_axes=(1, -1, None))(a, b, c)
    got, want = both(lambda lib, np_: WRAPS[wrap](lambda: run(lib, np_))() if lib is fl
                     else run(lib, np_))
    assert got.shape == (4, 5, 3)
    assert_tree_close(got, want)


@pytest.mark.parametrize("wrap", WRAPS)
def test_in_axes_pytree_prefixes(wrap):
    params = {"w": rand(3, 2, 3, 4), "b": rand(4, 4)}
    x = rand(5, 3, 2)

    def run(lib, np_):
        def f(p, x):
            return np_.tanh(x @ p["w"] + p["b"])
        # w batched on its leading axis, b shared; x batched on its trailing axis.
        return lib.vmap(f, in_axes=({"w": 0, "b": None}, 1))(params, x)
    got = WRAPS[wrap](lambda: run(fl, fnp))()
    assert_tree_close(got, run(jax, jnp))
    # A prefix: one int for the whole dict.
    stacked = {"w": rand(6, 2, 3, 4), "b": rand(7, 2, 4)}

    def run2(lib, np_):
        return lib.vmap(lambda p, x: np_.tanh(x @ p["w"] + p["b"]), in_axes=(0, None))(
            stacked, x[:, 0])
    assert_tree_close(WRAPS[wrap](lambda: run2(fl, fnp))(), run2(jax, jnp))
    # A list of in_axes is accepted like a tuple.
    assert_tree_close(fl.vmap(lambda a, b: a * b, in_axes=[0, None])(x, 2.0),
                      jax.vmap(lambda a, b: a * b, in_axes=[0, None])(x, 2.0))


@pytest.mark.parametrize("wrap", WRAPS)
def test_out_axes(wrap):
    x, y = rand(8, 3, 4), rand(9, 5)

    def run(lib, np_):
        def f(x, y):
            return {"row": x * 2.0, "outer": x[:, None] * y, "shared": y * 3.0,
                    "s": np_.sum(x)}
        return lib.vmap(f, in_axes=(0, None),
                        out_axes={"row": 1, "outer": -1, "shared": None, "s": 0})(x, y)
    got = WRAPS[wrap](lambda: run(fl, fnp))()
    want = run(jax, jnp)
    assert got["row"].shape == (4, 3) and got["outer"].shape == (4, 5, 3)
    assert got["shared"].shape == (5,)
    assert_tree_close(got, want)
    # An int out_axes applies to every output; a tuple prefix to a tuple output.
    got = fl.vmap(lambda x: (x, (x.sum(), x * 2.0)), out_axes=(1, 0))(x)
    want = jax.vmap(lambda x: (x, (x.sum(), x * 2.0)), out_axes=(1, 0))(x)
    assert_tree_close(got, want)


def test_axis_size_without_batched_inputs():
    y = rand(10, 3)
    got = fl.vmap(lambda y: y * 2.0, in_axes=None, axis_size=4)(y)
    want = jax.vmap(lambda y: y * 2.0, in_axes=None, axis_size=4)(y)
    assert_tree_close(got, want)
    assert got.shape == (4, 3)
    got = fl.vmap(lambda: fnp.ones(2), axis_size=3)()
    assert_tree_close(got, np.ones((3, 2), np.float32))
    # axis_size with batched inputs must agree with them.
    with pytest.raises(ValueError, match="axis_size=5"):
        fl.vmap(lambda y: y, axis_size=5)(y)


def test_kwargs_are_batched_at_zero():
    x, s = rand(11, 3, 2), rand(12, 3)

    def run(lib):
        return lib.vmap(lambda x, *, scale: x * scale, in_axes=1)(x.T, scale=s)
    assert_tree_close(run(fl), run(jax))
    got = fl.vmap(lambda x, scale: x * scale)(x, scale=s[:, None] * np.ones((3, 2), np.float32))
    assert_tree_close(got, x * s[:, None])


@pytest.mark.parametrize("wrap", WRAPS)
def test_nested_vmap_different_axes(wrap):
    a, b = rand(13, 3, 4, 5), rand(14, 3, 4)

    def run(lib, np_):
        inner = lib.vmap(lambda u, v: np_.dot(u, v), in_axes=(1, 1))  # over the 4s
        return lib.vmap(inner, in_axes=(2, None), out_axes=1)(a, b)   # over a's 5
    got = WRAPS[wrap](lambda: run(fl, fnp))()
    want = run(jax, jnp)
    assert got.shape == want.shape == (4, 5)
    assert_tree_close(got, want)
    # Three levels: x's rows times y's matrices, over two batch axes at different places.
    x, y = rand(15, 2, 3, 4, 5), rand(16, 3, 2, 5, 6)
    mm = lambda u, v: u @ v  # noqa: E731

    def run3(lib):
        return lib.vmap(lib.vmap(lib.vmap(mm, in_axes=(0, None)), in_axes=(0, 0)),
                        in_axes=(0, 1))(x, y)
    got = WRAPS[wrap](lambda: run3(fl))()
    assert got.shape == (2, 3, 4, 6)
    assert_tree_close(got, run3(jax))


# ---------------------------------------------------------------------------------------
# Composition with differentiation

def mlp(np_, params, x):
    (w1, b1), (w2, b2) = params
    return np_.tanh(x @ w1 + b1) @ w2 + b2


def loss(np_, params, x, y):
    return np_.mean((mlp(np_, params, x) - y) ** 2)


def mlp_params(seed):
    return ((rand(seed, 3, 8, scale=0.5), rand(seed + 1, 8, scale=0.1)),
            (rand(seed + 2, 8, 2, scale=0.5), rand(seed + 3, 2, scale=0.1)))


@pytest.mark.parametrize("wrap", WRAPS)
def test_per_example_gradients(wrap):
    params = mlp_params(20)
    xs, ys = rand(30, 6, 3), rand(31, 6, 2)
    per_ex = WRAPS[wrap](fl.vmap(fl.grad(lambda p, x, y: loss(fnp, p, x, y)),
                                 in_axes=(None, 0, 0)))
    got = per_ex(params, xs, ys)
    want = jax.vmap(jax.grad(lambda p, x, y: loss(jnp, p, x, y)), in_axes=(None, 0, 0))(
        params, xs, ys)
    assert_tree_close(got, want)
    loop = [fl.grad(lambda p, x, y: loss(fnp, p, x, y))(params, xs[i], ys[i])
            for i in range(len(xs))]
    stacked = jax.tree_util.tree_map(lambda *g: np.stack(g), *loop)
    assert_tree_close(got, stacked)
    # The mean of per-example gradients is the batch gradient.
    batch = fl.grad(lambda p: loss(fnp, p, xs, ys))(params)
    assert_tree_close(jax.tree_util.tree_map(lambda g: g.mean(0), got), batch)


@pytest.mark.parametrize("wrap", WRAPS)
def test_model_ensembling(wrap):
    models = [mlp_params(40 + 10 * i) for i in range(4)]
    stacked = jax.tree_util.tree_map(lambda *p: np.stack(p), *models)
    x = rand(50, 5, 3)
    ens = WRAPS[wrap](fl.vmap(lambda p, x: mlp(fnp, p, x), in_axes=(0, None)))
    got = ens(stacked, x)
    assert got.shape == (4, 5, 2)
    loop = np.stack([np.asarray(mlp(fnp, m, x)) for m in models])
    np.testing.assert_allclose(got, loop, rtol=1e-5, atol=1e-5)
    want = jax.vmap(lambda p, x: mlp(jnp, p, x), in_axes=(0, None))(stacked, x)
    assert_tree_close(got, want)
    # Each model on its own minibatch, and the gradients of all four losses at once.
    xs, ys = rand(51, 4, 5, 3), rand(52, 4, 5, 2)
    g = WRAPS[wrap](fl.vmap(fl.grad(lambda p, x, y: loss(fnp, p, x, y))))(stacked, xs, ys)
    jg = jax.vmap(jax.grad(lambda p, x, y: loss(jnp, p, x, y)))(stacked, xs, ys)
    assert_tree_close(g, jg)


@pytest.mark.parametrize("wrap", WRAPS)
def test_grad_of_vmap_and_jacobian_via_vmap(wrap):
    x = rand(60, 4, 3)
    w = rand(61, 3)

    def run(lib, np_):
        f = lib.vmap(lambda x, w: np_.sin(x @ w) * np_.sum(x ** 2), in_axes=(0, None))
        return lib.grad(lambda w: np_.sum(f(x, w) ** 2))(w)
    assert_tree_close(WRAPS[wrap](lambda: run(fl, fnp))(), run(jax, jnp))

    # jacrev by hand: vmap of a vjp over the rows of the identity.
    def g(np_):
        return lambda w: np_.tanh(x @ w)
    out, vjp_fn = fl.vjp(g(fnp), w)
    rows = WRAPS[wrap](fl.vmap(lambda ct: vjp_fn(ct)[0]))(np.eye(4, dtype=np.float32))
    want = jax.jacrev(g(jnp))(w)
    assert_tree_close(rows, want)
    assert_tree_close(fl.jacrev(g(fnp))(w), want)
    assert_tree_close(fl.jacfwd(g(fnp))(w), want)
    # vmap of jacrev: per-example Jacobians.
    got = WRAPS[wrap](fl.vmap(fl.jacrev(lambda xi: fnp.tanh(xi * w))))(x)
    assert_tree_close(got, jax.vmap(jax.jacrev(lambda xi: jnp.tanh(xi * w)))(x))


def test_vmap_of_jvp_and_linearize():
    x = rand(62, 5, 3)
    t = rand(63, 5, 3)

    def run(lib, np_):
        return lib.vmap(lambda x, t: lib.jvp(lambda x: np_.sum(np_.exp(x) * x), (x,),
                                             (t,)))(x, t)
    assert_tree_close(run(fl, fnp), run(jax, jnp))
    y, f_jvp = fl.linearize(lambda x: fnp.sin(x) * 2.0, x[0])
    assert_tree_close(fl.vmap(f_jvp)(t), jax.vmap(lambda t: jnp.cos(x[0]) * 2.0 * t)(t))


# ---------------------------------------------------------------------------------------
# Errors

def test_mismatched_batch_sizes():
    with pytest.raises(ValueError) as e:
        fl.vmap(lambda a, b: a + b["k"][0], in_axes=(0, 1))(
            np.ones((3, 2)), {"k": (np.ones((2, 4)),)})
    msg = str(e.value)
    assert "inconsistent sizes" in msg
    assert "args[0] has axis 0 of size 3" in msg
    assert "args[1]['k'][0] has axis 1 of size 4" in msg


def test_in_axes_structure_mismatch():
    with pytest.raises(ValueError, match="in_axes has 3 entries.*2 positional"):
        fl.vmap(lambda a, b: a + b, in_axes=(0, 0, 0))(np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match="does not match the argument structure"):
        fl.vmap(lambda p: p["a"], in_axes=({"b": 0},))({"a": np.ones(3)})
    with pytest.raises(TypeError, match="ints or None"):
        fl.vmap(lambda a: a, in_axes="x")


def test_in_axes_out_of_range():
    with pytest.raises(ValueError, match=r"in_axes 2 is out of range for argument args\[0\] "
                                         r"of shape \(3, 4\)"):
        fl.vmap(lambda a: a, in_axes=2)(np.ones((3, 4)))
    with pytest.raises(ValueError, match="out of range"):
        fl.vmap(lambda a: a, in_axes=-3)(np.ones((3, 4)))
    with pytest.raises(ValueError, match="out_axes 3 is out of range"):
        fl.vmap(lambda a: a, out_axes=3)(np.ones((3, 4)))


def test_out_axes_none_for_batched_output():
    with pytest.raises(ValueError, match="out_axes=None.*depends on the mapped axis"):
        fl.vmap(lambda a: a * 2.0, out_axes=None)(np.ones(3))
    # ...but fine for an output that does not depend on the batch.
    out = fl.vmap(lambda a, b: (a * b, b * 2.0), in_axes=(0, None), out_axes=(0, None))(
        np.ones(3, np.float32), np.float32(2.0))
    assert np.shape(out[1]) == ()


def test_no_batched_inputs_and_no_axis_size():
    with pytest.raises(ValueError, match="at least one batched argument"):
        fl.vmap(lambda a: a, in_axes=None)(np.ones(3))
