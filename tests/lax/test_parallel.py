"""Collectives over named axes (psum, pmean, pmax, pmin, all_gather, axis_index) inside
``vmap(..., axis_name=...)``: values, nesting, tuples of names, differentiation and jit,
compared with ``jax.vmap`` with the same axis names."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import functorch_lite as fl
import functorch_lite.numpy as fnp
from helpers import assert_tree_close as _close

X = (np.arange(24, dtype=np.float32).reshape(3, 4, 2) - 7.0) / 3.0
X4 = X[..., None] * np.array([1.0, -0.5], np.float32)  # (3, 4, 2, 2)
LIBS = {"fl": (fl, fnp), "jax": (jax, jnp)}
WRAPS = {"eager": lambda f: f, "jit": fl.jit}


def assert_tree_close(got, want, rtol=1e-5, atol=1e-6):
    _close(got, want, rtol, atol)


def compare(wrap, build, *args):
    """``build(lib, np_)`` returns a function of ``args``; run it with both libraries."""
    got = WRAPS[wrap](build(fl, fnp))(*args)
    want = build(jax, jnp)(*args)
    assert_tree_close(got, want)
    return got


REDUCTIONS = ["psum", "pmean", "pmax", "pmin"]


@pytest.mark.parametrize("wrap", WRAPS)
@pytest.mark.parametrize("op", REDUCTIONS)
def test_reductions(op, wrap):
    def build(lib, np_):
        red = getattr(lib.lax, op)
        return lambda x, c: (
            lib.vmap(lambda v: red(v, "i"), axis_name="i")(x),
            lib.vmap(lambda v: red(v, "i"), in_axes=1, axis_name="i")(x),
            lib.vmap(lambda v: red(v, "i"), in_axes=2, out_axes=1, axis_name="i")(x),
            # A pytree, and an operand that does not vary over the axis.
            lib.vmap(lambda v: red({"a": v, "b": (v * 2.0,)}, "i"), axis_name="i")(x),
            lib.vmap(lambda v: red(c, "i") + v, axis_name="i")(x),
            lib.vmap(lambda v, c: red(c, "i") * v, in_axes=(0, None), axis_name="i")(x, c))
    out = compare(wrap, build, X, X[0, 0])
    expect = {"psum": X.sum(0), "pmean": X.mean(0), "pmax": X.max(0), "pmin": X.min(0)}[op]
    np.testing.assert_allclose(out[0], np.broadcast_to(expect, X.shape), rtol=1e-6)


@pytest.mark.parametrize("op", REDUCTIONS)
def test_reductions_of_integers_and_scalars(op):
    xi = np.arange(12, dtype=np.int32).reshape(3, 4) - 5
    compare("eager", lambda lib, np_: lib.vmap(lambda v: getattr(lib.lax, op)(v, "i"),
                                               axis_name="i"), xi)
    # psum of a Python scalar counts the members.
    compare("eager", lambda lib, np_: lib.vmap(lambda v: lib.lax.psum(1, "i") * v,
                                               axis_name="i"), X)


@pytest.mark.parametrize("wrap", WRAPS)
@pytest.mark.parametrize("op", REDUCTIONS)
def test_nested_axes_and_tuples(op, wrap):
    def build(lib, np_):
        red = getattr(lib.lax, op)

        def nest(fn):
            return lib.vmap(lib.vmap(fn, axis_name="j"), in_axes=1, axis_name="i")
        return lambda x: (nest(lambda v: red(v, "j"))(x), nest(lambda v: red(v, "i"))(x),
                          nest(lambda v: red(v, ("i", "j")))(x),
                          nest(lambda v: red(red(v, "i"), "j"))(x))
    a, b, c, d = compare(wrap, build, X)
    assert_tree_close(c, d)


@pytest.mark.parametrize("wrap", WRAPS)
@pytest.mark.parametrize("tiled", [False, True])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_all_gather(axis, tiled, wrap):
    def build(lib, np_):
        def gather(v):  # (every member sees a rank-2 operand)
            return lib.lax.all_gather(v * 2.0, "i", axis=axis, tiled=tiled)
        return lambda x, x4: (
            lib.vmap(gather, axis_name="i")(x),
            lib.vmap(gather, in_axes=2, axis_name="i")(x),
            lib.vmap(lib.vmap(gather, axis_name="j"), axis_name="i")(x4),
            lib.vmap(lib.vmap(gather, axis_name="i"), in_axes=2, axis_name="j")(x4))
    out = compare(wrap, build, X, X4)
    if axis == 0 and not tiled:
        np.testing.assert_allclose(out[0], np.broadcast_to(2.0 * X, (3,) + X.shape))


def test_all_gather_scalars_pytrees_and_errors():
    compare("eager", lambda lib, np_: lib.vmap(
        lambda v: lib.lax.all_gather({"s": v.sum(), "v": (v,)}, "i"), axis_name="i"), X)
    with pytest.raises(ValueError, match="out of bounds"):
        fl.vmap(lambda v: fl.lax.all_gather(v, "i", axis=3), axis_name="i")(X)
    with pytest.raises(ValueError, match="out of bounds"):
        fl.vmap(lambda v: fl.lax.all_gather(v, "i", axis=2, tiled=True), axis_name="i")(X)
    with pytest.raises(ValueError, match="rank >= 1"):
        fl.vmap(lambda v: fl.lax.all_gather(v.sum(), "i", tiled=True), axis_name="i")(X)


@pytest.mark.parametrize("tiled", [False, True])
def test_all_gather_tuple_of_names(tiled):
    # (jax.vmap does not support all_gather over several names; the expected result is
    # every member's value, ordered with the first name major, like axis_index.)
    out = fl.vmap(fl.vmap(lambda v: fl.lax.all_gather(v, ("i", "j"), axis=-1, tiled=tiled),
                          axis_name="j"), axis_name="i")(X)
    members = X.reshape(12, 2)
    gathered = members.reshape(-1) if tiled else members.T  # (24,) or (2, 12)
    np.testing.assert_allclose(out, np.broadcast_to(gathered, (3, 4) + gathered.shape))
    idx = fl.vmap(fl.vmap(lambda v: fl.lax.axis_index(("i", "j")), axis_name="j"),
                  axis_name="i")(X)
    np.testing.assert_array_equal(idx, np.arange(12).reshape(3, 4))
    # Differentiable: each member's cotangent is its own slice of the summed cotangent.
    g = fl.grad(lambda x: fnp.sum(fl.vmap(fl.vmap(
        lambda v: fl.lax.all_gather(v, ("i", "j"), tiled=tiled) ** 2, axis_name="j"),
        axis_name="i")(x)))(X)
    np.testing.assert_allclose(g, 12 * 2 * X, rtol=1e-6)


@pytest.mark.parametrize("wrap", WRAPS)
def test_axis_index(wrap):
    def build(lib, np_):
        def nest(fn):
            return lib.vmap(lib.vmap(fn, axis_name="j"), axis_name="i")
        return lambda x: (
            lib.vmap(lambda v: lib.lax.axis_index("i"), axis_name="i")(x),
            lib.vmap(lambda v: lib.lax.axis_index("i") * v, in_axes=1, axis_name="i")(x),
            nest(lambda v: lib.lax.axis_index("i") * 10 + lib.lax.axis_index("j"))(x),
            nest(lambda v: lib.lax.axis_index(("i", "j")))(x),
            # A one-hot of each member's position, and a member-specific reduction.
            lib.vmap(lambda v: lib.lax.psum(np_.where(lib.lax.axis_index("i") == 1, v, 0.0),
                                            "i"), axis_name="i")(x))
    out = compare(wrap, build, X)
    np.testing.assert_array_equal(out[0], np.arange(3))


def test_same_name_nested_refers_to_innermost():
    compare("eager", lambda lib, np_: lib.vmap(lib.vmap(lambda v: lib.lax.psum(v, "i"),
                                                        axis_name="i"), axis_name="i"), X)


# ---------------------------------------------------------------------------------------
# Differentiation

@pytest.mark.parametrize("wrap", WRAPS)
@pytest.mark.parametrize("op", ["psum", "pmean"])
def test_grad_through_linear_collectives(op, wrap):
    def build(lib, np_):
        red = getattr(lib.lax, op)

        def loss(v, w):
            return np_.sum(red(v * w, "i") ** 2 * np_.sin(v))
        return lambda x, w: (
            # Per-member gradients (grad inside vmap) and the gradient of the whole
            # (vmap inside grad), w.r.t. a batched and an unbatched argument.
            lib.vmap(lib.grad(loss, argnums=(0, 1)), in_axes=(0, None), axis_name="i")(x, w),
            lib.grad(lambda x, w: np_.sum(lib.vmap(loss, in_axes=(0, None),
                                                   axis_name="i")(x, w)),
                     argnums=(0, 1))(x, w),
            lib.vmap(lambda v, t: lib.jvp(lambda v: red(v, "i") * v, (v,), (t,)),
                     axis_name="i")(x, x * 0.5))
    compare(wrap, build, X, X[0] * 0.1)


@pytest.mark.parametrize("wrap", WRAPS)
def test_grad_through_all_gather_and_data_parallel_sgd(wrap):
    def build(lib, np_):
        def gather_loss(v):
            return np_.sum(lib.lax.all_gather(v, "i", axis=1) ** 2 * v[:, None])

        def step(w, x, y):
            # The data-parallel training step: per-member gradients averaged with pmean.
            g = lib.grad(lambda w: np_.mean((x @ w - y) ** 2))(w)
            return w - 0.1 * lib.lax.pmean(g, "i")
        return lambda x: (
            lib.vmap(lib.grad(gather_loss), axis_name="i")(x),
            lib.grad(lambda x: np_.sum(lib.vmap(gather_loss, axis_name="i")(x)))(x),
            lib.vmap(step, in_axes=(None, 0, 0), axis_name="i")(x[0, 0], x, x[..., 0]))
    out = compare(wrap, build, X)
    # Every member ends the data-parallel step with the same weights.
    np.testing.assert_allclose(out[2], np.broadcast_to(out[2][0], out[2].shape), rtol=1e-6)


def test_pmax_pmin_derivatives():
    # jax does not differentiate pmax/pmin; the tangent is that of the member holding the
    # extreme (averaged over ties, like reduce_max), i.e. the jvp of max over the axis.
    x = X.copy()
    x[1, 0, 0] = x[2, 0, 0]  # a tie
    t = np.random.default_rng(0).normal(size=x.shape).astype(np.float32)
    for op, red in (("pmax", jnp.max), ("pmin", jnp.min)):
        _, got = fl.vmap(lambda v, tv: fl.jvp(lambda v: getattr(fl.lax, op)(v, "i"),
                                              (v,), (tv,)), axis_name="i")(x, t)
        want = jax.jvp(lambda v: red(v, axis=0), (x,), (t,))[1]
        np.testing.assert_allclose(got, np.broadcast_to(want, x.shape), rtol=1e-6)
        g = fl.grad(lambda x: fnp.sum(fl.vmap(lambda v: getattr(fl.lax, op)(v, "i"),
                                              axis_name="i")(x)))(x)
        np.testing.assert_allclose(g, jax.grad(lambda x: 3.0 * jnp.sum(red(x, axis=0)))(x),
                                   rtol=1e-6)


# ---------------------------------------------------------------------------------------
# Errors and limits

@pytest.mark.parametrize("fn", [lambda x: fl.lax.psum(x, "i"), lambda x: fl.lax.pmean(x, "i"),
                                lambda x: fl.lax.pmax(x, "i"), lambda x: fl.lax.pmin(x, "i"),
                                lambda x: fl.lax.all_gather(x, "i"),
                                lambda x: fl.lax.axis_index("i")],
                         ids=["psum", "pmean", "pmax", "pmin", "all_gather", "axis_index"])
def test_unbound_axis_name(fn):
    with pytest.raises(NameError, match="unbound axis name 'i'"):
        fn(X)
    with pytest.raises(NameError, match="unbound axis name 'i'"):
        fl.jit(fn)(X)
    with pytest.raises(NameError, match="unbound axis name 'i'"):
        fl.vmap(fn, axis_name="j")(X)
    with pytest.raises(NameError, match="unbound axis name 'i'"):
        fl.vmap(fn)(X)


def test_jit_inside_vmap():
    c = np.float32(2.0)
    got = fl.vmap(lambda v: fl.jit(lambda v: fl.lax.psum(v, "i") + fl.lax.psum(c, "i"))(v),
                  axis_name="i")(X)
    np.testing.assert_allclose(got, np.broadcast_to(X.sum(0) + 6.0, X.shape), rtol=1e-6)


def test_jit_inside_vmap_with_no_batched_operand():
    # The jit call has no batched operand, but a collective over the vmapped axis inside
    # it: vmap must still batch it (psum of an unbatched value is value * axis size).
    got = fl.vmap(lambda v: fl.jit(lambda: fl.lax.psum(1.0, "i"))() + v, axis_name="i")(X)
    np.testing.assert_allclose(got, X + 3.0)
    c = np.float32(2.0)
    got = fl.vmap(lambda v: fl.jit(lambda: fl.lax.psum(c, "i") * fl.lax.axis_index("i"))() + v,
                  axis_name="i")(X)
    want = jax.vmap(lambda v: jax.jit(lambda: jax.lax.psum(c, "i") * jax.lax.axis_index("i"))()
                    + v, axis_name="i")(X)
    np.testing.assert_allclose(got, want)


def test_control_flow_with_a_collective_and_no_batched_operand():
    def body(v):
        s = fl.lax.cond(True, lambda: fl.lax.psum(1.0, "i"), lambda: 0.0)
        t = fl.lax.fori_loop(0, 2, lambda k, acc: acc + fl.lax.psum(1.0, "i"), 0.0)
        return v + s + t
    got = fl.vmap(body, axis_name="i")(X)
    np.testing.assert_allclose(got, X + 3.0 * X.shape[0])


# ---------------------------------------------------------------------------------------
# psum_scatter, ppermute, all_to_all under vmap (their lowering to XLA's collectives is
# checked over 8 devices in tests/multi_device/cases_shard_map.py)

XS = np.arange(4 * 8 * 4, dtype=np.float32).reshape(4, 8, 4) / 10.0
NEW_COLLECTIVES = {
    "psum_scatter_tiled": lambda lib, v: lib.lax.psum_scatter(v, "i", scatter_dimension=0,
                                                              tiled=True),
    "psum_scatter": lambda lib, v: lib.lax.psum_scatter(v[:, :4], "i", scatter_dimension=1),
    "ppermute": lambda lib, v: lib.lax.ppermute(v, "i", [(0, 1), (1, 2), (2, 3), (3, 0)]),
    "all_to_all_tiled": lambda lib, v: lib.lax.all_to_all(v, "i", 1, 0, tiled=True),
    "all_to_all_tiled_back": lambda lib, v: lib.lax.all_to_all(v, "i", 0, 1, tiled=True),
    "all_to_all": lambda lib, v: lib.lax.all_to_all(v[:, :4], "i", 1, 0),
}


@pytest.mark.parametrize("wrap", WRAPS)
@pytest.mark.parametrize("name", sorted(NEW_COLLECTIVES))
def test_new_collectives_and_their_gradients_match_jax(name, wrap):
    def build(lib, np_):
        return lambda v: lib.vmap(lambda r: NEW_COLLECTIVES[name](lib, r), axis_name="i")(v)
    compare(wrap, build, XS)
    w = np.cos(np.arange(np.asarray(build(fl, fnp)(XS)).size, dtype=np.float32)).reshape(
        np.shape(build(fl, fnp)(XS)))

    def loss(lib, np_):
        return lambda v: np_.sum(build(lib, np_)(v) * w)
    assert_tree_close(WRAPS[wrap](fl.grad(loss(fl, fnp)))(XS), jax.grad(loss(jax, jnp))(XS))
    # forward mode too (jvp applies the same linear map to the tangent)
    t = np.sin(XS)
    _, tan = fl.jvp(build(fl, fnp), (XS,), (t,))
    assert_tree_close(tan, jax.jvp(build(jax, jnp), (XS,), (t,))[1])


def test_new_collectives_check_their_arguments():
    with pytest.raises(ValueError, match="not divisible by the size 4"):
        fl.vmap(lambda r: fl.lax.psum_scatter(r[:3], "i", tiled=True), axis_name="i")(XS)
    with pytest.raises(ValueError, match="must have the size 4"):
        fl.vmap(lambda r: fl.lax.all_to_all(r, "i", 0, 1), axis_name="i")(XS)
    with pytest.raises(ValueError, match="distinct"):
        fl.vmap(lambda r: fl.lax.ppermute(r, "i", [(0, 1), (1, 1)]), axis_name="i")(XS)
    with pytest.raises(NameError, match="unbound axis name"):
        fl.lax.ppermute(XS, "i", [(0, 1)])
