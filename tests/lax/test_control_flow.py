"""Structured control flow (functorch_lite/lax/control_flow/ and its lowering in
xla_bridge/lowering/control.py): cond/switch, while_loop, fori_loop, scan and map, eager vs
``fl.jit`` vs a plain Python ``if``/loop vs ``jax.lax`` on the same inputs; error messages;
weak types; the StableHLO the loops lower to; and a scan RNN that trains."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite import lax
from functorch_lite.core import pytree

FL = (lax, fnp)
JX = (jax.lax, jnp)


def _f32(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def _weak(x):
    return x.aval.weak_type if hasattr(x, "aval") else bool(getattr(x, "weak_type", False))


def assert_trees(got, want, rtol=1e-5, atol=1e-6, weak=True):
    """Same structure, shapes, dtypes (and weak types), close values."""
    g_leaves, g_tree = pytree.tree_flatten(got)
    w_leaves, w_tree = jax.tree_util.tree_flatten(want)
    assert len(g_leaves) == len(w_leaves), (g_tree, w_tree)
    for g, w in zip(g_leaves, w_leaves):
        g_np, w_np = np.asarray(g), np.asarray(w)
        assert g_np.shape == w_np.shape, (g_np.shape, w_np.shape)
        assert g_np.dtype == w_np.dtype, (g_np.dtype, w_np.dtype)
        if weak and hasattr(w, "weak_type"):
            assert _weak(g) == w.weak_type, (g, w)
        np.testing.assert_allclose(g_np, w_np, rtol=rtol, atol=atol)


def assert_np(got, want, rtol=1e-5, atol=1e-6):
    """Against a NumPy (Python loop) reference: structure and values."""
    g_leaves = pytree.tree_leaves(got)
    w_leaves = jax.tree_util.tree_leaves(want)
    assert len(g_leaves) == len(w_leaves)
    for g, w in zip(g_leaves, w_leaves):
        assert np.shape(g) == np.shape(w)
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=rtol, atol=atol)


X3 = _f32((3,), 0)
Y23 = _f32((2, 3), 1)


# ---------------------------------------------------------------------------------------
# cond / switch

def _cond_fn(L, N):
    def f(p, ops):
        return L.cond(p, lambda o: {"a": o[0] * 2.0, "b": N.sin(o[1])},
                      lambda o: {"a": o[0] - 1.0, "b": o[1] * o[1]}, ops)
    return f


def _cond_ref(p, ops):
    x, y = ops
    return {"a": x * 2.0, "b": np.sin(y)} if p else {"a": x - 1.0, "b": y * y}


@pytest.mark.parametrize("p", [True, False, np.bool_(True), np.int32(3), np.int32(-2),
                               np.int32(0)])
def test_cond_pytree_operands(p):
    ops = (X3, Y23)
    got = _cond_fn(*FL)(p, ops)
    assert_np(got, _cond_ref(bool(p), ops))
    assert_trees(got, _cond_fn(*JX)(p, ops))
    if not isinstance(p, bool):
        assert_trees(fl.jit(_cond_fn(*FL))(p, ops), _cond_fn(*JX)(p, ops))


def test_cond_python_bool_under_jit_and_closure():
    # A Python-bool predicate inside jit; branches closing over traced values and taking
    # no operands.
    def f(L, x, flag):
        return L.cond(flag, lambda: x * 3.0, lambda: x + 1.0)

    for flag in (True, False):
        want = X3 * 3.0 if flag else X3 + 1.0
        assert_np(fl.jit(lambda x: f(lax, x, flag))(X3), want)
        assert_trees(f(lax, X3, flag), f(jax.lax, X3, flag))


def test_cond_traced_predicate_both_ways():
    f = fl.jit(lambda x: lax.cond(x.sum() > 0, lambda v: v * 2.0, lambda v: -v, x))
    for x in (X3 + 10.0, X3 - 10.0):
        assert_np(f(x), x * 2.0 if x.sum() > 0 else -x)


_BR = [lambda x: x + 1.0, lambda x: x * 2.0, lambda x: fnp.sin(x)]
_JBR = [lambda x: x + 1.0, lambda x: x * 2.0, lambda x: jnp.sin(x)]


@pytest.mark.parametrize("i", [-5, -1, 0, 1, 2, 3, 9])
def test_switch_clamps_index(i):
    ref = [X3 + 1.0, X3 * 2.0, np.sin(X3)][min(max(i, 0), 2)]
    eager = lax.switch(i, _BR, X3)
    jitted = fl.jit(lambda i, x: lax.switch(i, _BR, x))(np.int32(i), X3)
    assert_np(eager, ref)
    assert_np(jitted, ref)
    assert_trees(eager, jax.lax.switch(i, _JBR, X3))


def test_switch_single_branch_and_multiple_operands():
    assert_np(lax.switch(4, [lambda a, b: a * b], X3, X3), X3 * X3)
    with pytest.raises(ValueError):
        lax.switch(0, [], X3)


# ---------------------------------------------------------------------------------------
# while_loop

def _while_fn(L, N):
    def f(x, limit):
        def cond(c):
            return c["i"] < limit

        def body(c):
            return {"i": c["i"] + 1, "x": c["x"] * 1.5 + 0.25,
                    "acc": (c["acc"][0] + c["x"].sum(), c["acc"][1] * 2)}
        return L.while_loop(cond, body, {"i": 0, "x": x, "acc": (N.float32(0.0), 1)})
    return f


def _while_ref(x, limit):
    i, acc0, acc1 = 0, np.float32(0.0), 1
    while i < limit:
        x, acc0, acc1, i = x * 1.5 + 0.25, acc0 + x.sum(), acc1 * 2, i + 1
    return {"acc": (acc0, acc1), "i": i, "x": x}


@pytest.mark.parametrize("limit", [0, 1, 5])
def test_while_pytree_carry_int_and_float(limit):
    want = _while_ref(X3, limit)
    eager = _while_fn(*FL)(X3, limit)
    assert_np(eager, want)
    assert_np(fl.jit(_while_fn(*FL))(X3, np.int32(limit)), want)
    assert_trees(eager, _while_fn(*JX)(X3, limit))


def test_while_closes_over_traced_values():
    @fl.jit
    def f(x, step):
        return lax.while_loop(lambda v: v.sum() < 50.0, lambda v: v + step, x)

    x = np.abs(X3)
    want = x.copy()
    while want.sum() < 50.0:
        want = want + np.float32(1.25)
    assert_np(f(x, np.float32(1.25)), want)


# ---------------------------------------------------------------------------------------
# fori_loop

def _fori_body(i, v):
    return v * 0.9 + i


def _fori_ref(lo, hi, v):
    for i in range(lo, hi):
        v = v * np.float32(0.9) + i
    return v


@pytest.mark.parametrize("lo,hi", [(0, 4), (2, 7), (5, 5), (6, 2)])
def test_fori_static_bounds_use_scan(lo, hi):
    got = lax.fori_loop(lo, hi, _fori_body, X3)
    assert_np(got, _fori_ref(lo, hi, X3))
    assert_trees(got, jax.lax.fori_loop(lo, hi, _fori_body, X3))
    assert_np(fl.jit(lambda v: lax.fori_loop(lo, hi, _fori_body, v))(X3), _fori_ref(lo, hi, X3))
    ir = str(fl.make_ir(lambda v: lax.fori_loop(lo, hi, _fori_body, v))(X3))
    assert "scan[" in ir and "while[" not in ir


def test_fori_traced_bounds_use_while():
    f = fl.jit(lambda lo, hi, v: lax.fori_loop(lo, hi, _fori_body, v))
    for lo, hi in [(0, 4), (3, 1)]:
        assert_np(f(np.int32(lo), np.int32(hi), X3), _fori_ref(lo, hi, X3))
    ir = str(fl.make_ir(lambda hi, v: lax.fori_loop(0, hi, _fori_body, v))(np.int32(3), X3))
    assert "while[" in ir and "scan[" not in ir
    with pytest.raises(ValueError, match="unroll"):
        fl.jit(lambda hi, v: lax.fori_loop(0, hi, _fori_body, v, unroll=2))(np.int32(3), X3)


def test_fori_unroll_and_pytree_val():
    def body(i, c):
        return (c[0] + i, c[1] * 2.0)
    for unroll in (1, 2, 3, True):
        got = lax.fori_loop(0, 7, body, (0, X3), unroll=unroll)
        assert_trees(got, jax.lax.fori_loop(0, 7, body, (0, X3), unroll=unroll))


# ---------------------------------------------------------------------------------------
# scan

XS = {"u": _f32((7, 3), 2), "v": (_f32((7,), 3), _f32((7, 2, 2), 4))}


def _scan_body(N):
    def body(c, x):
        h, n = c
        h = N.tanh(h * 0.5 + x["u"] * x["v"][0])
        ys = {"h": h, "pair": (n, x["v"][1].sum() + h.sum())}
        return (h, n + 1), ys
    return body


def _scan_ref(init, xs, reverse=False):
    h, n = init
    order = range(7)[::-1] if reverse else range(7)
    ys = {"h": [None] * 7, "pair": ([None] * 7, [None] * 7)}
    for t in order:
        h = np.tanh(h * np.float32(0.5) + xs["u"][t] * xs["v"][0][t])
        ys["h"][t] = h
        ys["pair"][0][t] = n
        ys["pair"][1][t] = xs["v"][1][t].sum() + h.sum()
        n = n + 1
    return (h, n), {"h": np.stack(ys["h"]), "pair": (np.array(ys["pair"][0]),
                                                     np.stack(ys["pair"][1]))}


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("unroll", [1, 2, 3])
def test_scan_pytrees_reverse_unroll(reverse, unroll):
    init = (X3, np.int32(0))
    got = lax.scan(_scan_body(fnp), init, XS, reverse=reverse, unroll=unroll)
    assert_np(got, _scan_ref(init, XS, reverse))
    jitted = fl.jit(lambda i, xs: lax.scan(_scan_body(fnp), i, xs, reverse=reverse,
                                           unroll=unroll))(init, XS)
    want = jax.lax.scan(_scan_body(jnp), init, XS, reverse=reverse, unroll=unroll)
    assert_trees(got, want)
    assert_trees(jitted, want)


def test_scan_xs_none_with_length():
    def body(c, _):
        return c * 2.0 + 1.0, c.sum()
    got = lax.scan(body, X3, None, length=5)
    c, ys = X3, []
    for _ in range(5):
        ys.append(c.sum())
        c = c * 2.0 + 1.0
    assert_np(got, (c, np.array(ys)))
    assert_trees(got, jax.lax.scan(body, X3, None, length=5))
    assert_trees(fl.jit(lambda x: lax.scan(body, x, None, length=5))(X3),
                 jax.lax.scan(body, X3, None, length=5))


def test_scan_zero_length():
    def body(c, x):
        return c + x, (c * x, x.sum())
    xs = np.zeros((0, 3), np.float32)
    want = jax.lax.scan(body, X3, xs)
    assert_trees(lax.scan(body, X3, xs), want)
    assert_trees(fl.jit(lambda c, x: lax.scan(body, c, x))(X3, xs), want)
    assert_trees(lax.scan(lambda c, _: (c, c), X3, None, length=0),
                 jax.lax.scan(lambda c, _: (c, c), X3, None, length=0))


def test_scan_unroll_lowering():
    xs = _f32((7, 3), 5)
    for unroll, n_slices, n_while in [(1, 1, 1), (2, 3, 1), (3, 4, 1), (7, 7, 0),
                                      (True, 7, 0), (10, 7, 0)]:
        # A new function per unroll: jit's cache belongs to the function, so a jit of one
        # function would reuse its first trace, as JAX's does.
        def f(c, xs, unroll=unroll):
            return lax.scan(lambda c, x: (c * 1.1 + x, c), c, xs, unroll=unroll)
        text = fl.jit(f).lower(X3, xs).as_text()
        # length 7: unroll u runs 7 // u trips of u steps in the loop, then 7 % u steps.
        assert text.count("stablehlo.dynamic_slice") == n_slices, unroll
        assert text.count("stablehlo.while") == n_while, unroll
        assert_trees(fl.jit(f)(X3, xs),
                     jax.lax.scan(lambda c, x: (c * 1.1 + x, c), X3, xs, unroll=unroll))


def test_scan_consts_are_loop_carried_and_literal_xs():
    w = _f32((3,), 9)

    @fl.jit
    def f(c, xs, w):
        return lax.scan(lambda c, x: (c * w + x, (c * w).sum()), c, xs)

    xs = _f32((4, 3), 6)
    c, ys = X3, []
    for t in range(4):
        ys.append((c * w).sum())
        c = c * w + xs[t]
    assert_np(f(X3, xs, w), (c, np.array(ys)))
    text = f.lower(X3, xs, w).as_text()
    assert "stablehlo.while" in text and "stablehlo.dynamic_update_slice" in text


def test_map():
    xs = {"a": _f32((4, 3), 1), "b": _f32((4,), 2)}

    def f(x):
        return x["a"] * x["b"], x["a"].sum()
    want = (np.stack([xs["a"][i] * xs["b"][i] for i in range(4)]),
            np.stack([xs["a"][i].sum() for i in range(4)]))
    assert_np(lax.map(f, xs), want)
    assert_np(fl.jit(lambda xs: lax.map(f, xs))(xs), want)
    assert_trees(lax.map(f, xs), jax.lax.map(f, xs))


# ---------------------------------------------------------------------------------------
# errors

def test_cond_branch_structure_mismatch():
    with pytest.raises(TypeError, match="structure") as info:
        lax.cond(True, lambda a: (a, a), lambda a: a, X3)
    assert "true_fun" in str(info.value) and "false_fun" in str(info.value)
    assert "(*, *)" in str(info.value)


def test_cond_branch_type_mismatch():
    with pytest.raises(TypeError, match="same types") as info:
        lax.cond(True, lambda a: a, lambda a: a.astype(np.int32), X3)
    assert "f32[3]" in str(info.value) and "i32[3]" in str(info.value)
    with pytest.raises(TypeError) as info:
        lax.switch(1, [lambda a: a, lambda a: a[:2], lambda a: a], X3)
    assert "f32[3]" in str(info.value) and "f32[2]" in str(info.value)


def test_scan_carry_type_change():
    with pytest.raises(TypeError) as info:
        lax.scan(lambda c, x: ({"a": c["a"].astype(np.int32), "b": c["b"]}, None),
                 {"a": X3, "b": X3}, None, length=3)
    msg = str(info.value)
    assert "carry['a']" in msg and "f32[3]" in msg and "i32[3]" in msg
    with pytest.raises(TypeError) as info:
        lax.scan(lambda c, x: ((c[0], c[1][:2]), None), (X3, X3), None, length=3)
    assert "carry[1]" in str(info.value) and "f32[2]" in str(info.value)
    with pytest.raises(TypeError, match="structure"):
        lax.scan(lambda c, x: ((c[0],), None), (X3, X3), None, length=3)
    with pytest.raises(TypeError, match="pair"):
        lax.scan(lambda c, x: c, X3, None, length=3)


def test_while_carry_type_change():
    with pytest.raises(TypeError) as info:
        lax.while_loop(lambda c: c[0] < 3, lambda c: (c[0] + 1, c[1].astype(np.int32)),
                       (0, X3))
    msg = str(info.value)
    assert "carry[1]" in msg and "f32[3]" in msg and "i32[3]" in msg
    with pytest.raises(TypeError, match="f32\\[1\\]"):
        fl.jit(lambda x: lax.while_loop(lambda c: c[0] < 3,
                                        lambda c: (c[0] + 1, c[1][:1]), (0, x)))(X3)
    with pytest.raises(TypeError, match="boolean scalar"):
        lax.while_loop(lambda c: c < 3.0, lambda c: c + 1.0, X3)


def test_non_scalar_or_float_predicate():
    with pytest.raises(TypeError, match="scalar"):
        lax.cond(np.array([True, False]), lambda a: a, lambda a: a, X3)
    with pytest.raises(TypeError, match="scalar"):
        fl.jit(lambda x: lax.cond(x > 0, lambda a: a, lambda a: a, x))(X3)
    with pytest.raises(TypeError, match="boolean or integer"):
        lax.cond(1.0, lambda a: a, lambda a: a, X3)
    with pytest.raises(TypeError, match="scalar"):
        lax.switch(np.array([0, 1]), _BR, X3)


def test_scan_wrong_length_xs():
    with pytest.raises(ValueError, match="3, 4"):
        lax.scan(lambda c, x: (c, x), 0.0, (np.zeros(3), np.zeros(4)))
    with pytest.raises(ValueError, match="3, 4"):
        lax.scan(lambda c, x: (c, x), 0.0, np.zeros(3), length=4)
    with pytest.raises(ValueError, match="length"):
        lax.scan(lambda c, x: (c, x), 0.0, None)
    with pytest.raises(ValueError, match="leading axis"):
        lax.scan(lambda c, x: (c, x), 0.0, np.float32(1.0))


# ---------------------------------------------------------------------------------------
# weak types, compared with JAX

WEAK_CASES = {
    "scan stays weak": lambda L, N: L.scan(lambda c, x: (c * 2.0, c), 1.0, None, length=3),
    "scan int weak": lambda L, N: L.scan(lambda c, x: (c + 1, c), 0, None, length=3),
    "while weak to strong": lambda L, N: L.while_loop(lambda c: c < 3,
                                                      lambda c: c + N.float32(1), 0.0),
    "while int weak": lambda L, N: L.while_loop(lambda c: c < 3, lambda c: c + 1, 0),
    "fori index weak": lambda L, N: L.fori_loop(0, 3, lambda i, c: c + i, 0),
    "fori weak float": lambda L, N: L.fori_loop(0, 3, lambda i, c: c * 2.0, 1.0),
    "fori to strong": lambda L, N: L.fori_loop(0, 3, lambda i, c: c + N.float32(2.0), 1.0),
    "cond weak": lambda L, N: L.cond(True, lambda: 1.0, lambda: 2.0),
    "cond mixed": lambda L, N: L.cond(True, lambda: 1.0, lambda: N.float32(2.0)),
    "map strong": lambda L, N: L.map(lambda x: x * 2.0, N.arange(3.0)),
}


@pytest.mark.parametrize("name", sorted(WEAK_CASES))
def test_weak_types_match_jax(name):
    assert_trees(WEAK_CASES[name](*FL), WEAK_CASES[name](*JX))


def test_scan_carry_promoted_from_weak_to_strong():
    # A weakly typed start that the body makes strong: the carry comes out strong, as in
    # JAX. (JAX keeps the body's *input* carry weak, so ys that echo it stay weak there;
    # here the start is made strong before the loop, so those ys are strong.)
    def f(L, N):
        return L.scan(lambda c, x: (c + x, c * 1.0), 0.0, N.arange(3.0, dtype=np.float32))
    got, want = f(*FL), f(*JX)
    assert_trees(got[0], want[0])
    assert not _weak(got[0]) and not want[0].weak_type
    assert_np(got[1], want[1])


# ---------------------------------------------------------------------------------------
# A scan RNN trains

T, H, D = 20, 8, 2


def _rnn_params(seed=0):
    rng = np.random.default_rng(seed)
    return {"wx": (rng.normal(size=(D, H)) * 0.5).astype(np.float32),
            "wh": (rng.normal(size=(H, H)) * 0.3).astype(np.float32),
            "b": np.zeros(H, np.float32),
            "wo": (rng.normal(size=(H,)) * 0.3).astype(np.float32)}


def _rnn_loss(L, N):
    def loss(params, xs, targets):
        def cell(h, x):
            h = N.tanh(x @ params["wx"] + h @ params["wh"] + params["b"])
            return h, h @ params["wo"]
        h0 = N.zeros((xs.shape[1], H), np.float32)
        _, ys = L.scan(cell, h0, xs)                   # ys: (T, batch)
        return N.mean((ys - targets) ** 2)
    return loss


def _rnn_data(batch=16, seed=1):
    # Task: y_t = 0.5 * x_{t-1}[0] - 0.3 * x_t[1] (needs memory of the previous input).
    rng = np.random.default_rng(seed)
    xs = rng.normal(size=(T, batch, D)).astype(np.float32)
    prev = np.concatenate([np.zeros((1, batch), np.float32), xs[:-1, :, 0]])
    return xs, (0.5 * prev - 0.3 * xs[:, :, 1]).astype(np.float32)


def test_scan_rnn_trains_and_matches_jax_gradient():
    params, (xs, targets) = _rnn_params(), _rnn_data()
    step = fl.jit(fl.value_and_grad(_rnn_loss(*FL)))
    _, g = step(params, xs, targets)
    jg = jax.jit(jax.grad(_rnn_loss(*JX)))(params, xs, targets)
    for k in params:
        np.testing.assert_allclose(np.asarray(g[k]), np.asarray(jg[k]), rtol=1e-5, atol=1e-5,
                                   err_msg=k)
    losses = []
    for _ in range(40):
        loss, g = step(params, xs, targets)
        losses.append(float(loss))
        params = {k: params[k] - 0.3 * np.asarray(g[k]) for k in params}
    assert losses[-1] < 0.35 * losses[0], losses
    assert np.isfinite(losses).all()
