"""jvp, partial evaluation, transpose and batching rules of the control-flow primitives
(cond_p, while_p, scan_p in functorch_lite/lax/control_flow/), checked against JAX
(jax.jvp / jax.grad / jax.hessian of the same function), finite differences and the
transpose identity (check_grads), and a Python loop over the batch (check_batching)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite import lax
from functorch_lite.core import pytree
from functorch_lite.lax import control_flow as cf
from rule_checks import check_batching, check_grads, check_jvp, restrict, x64

FL = (lax, fnp)
JX = (jax.lax, jnp)


def _rand(shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).normal(size=shape).astype(dtype)


def close(got, want, rtol=2e-5, atol=2e-6):
    g, w = pytree.tree_leaves(got), jax.tree_util.tree_leaves(want)
    assert len(g) == len(w)
    for a, b in zip(g, w):
        assert np.shape(a) == np.shape(b), (np.shape(a), np.shape(b))
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol)


def test_every_primitive_has_rules():
    for p in (cf.cond_p, cf.while_p, cf.scan_p):
        assert p.jvp_rule is not None and p.transpose_rule is not None, p
        assert p.batch_rule is not None, p


X = _rand((3,), 0)
W = _rand((3,), 1) * 0.5
XS = _rand((5, 3), 2)


# ---------------------------------------------------------------------------------------
# Models written once for both libraries (L = lax module, N = numpy module)

def cond_model(L, N):
    def f(p, x, w):
        # Operands as a pytree, a closed-over w, and outputs with different dependence.
        out = L.cond(p, lambda o: {"a": N.sin(o[0]) * w, "b": o[1] * o[1]},
                     lambda o: {"a": o[0] * o[1] + w, "b": N.cos(o[1])}, (x, x * 2.0))
        return (out["a"] ** 2).sum() + out["b"].sum()
    return f


def switch_model(L, N):
    def f(i, x, w):
        return L.switch(i, [lambda v: (v * w).sum(), lambda v: N.sin(v).sum() * w[0],
                            lambda v: (v ** 3).sum()], x)
    return f


def scan_model(L, N, reverse=False, unroll=1):
    def f(h0, w, xs):
        def body(c, x):
            h, s = c
            h = N.tanh(h * w + x)
            return (h, s + (h * x).sum()), {"y": h.sum() * w[0], "z": x * s}
        (h, s), ys = L.scan(body, (h0, N.float32(0.0) * h0[0]), xs, reverse=reverse,
                            unroll=unroll)
        return (h ** 2).sum() + s + ys["y"].sum() + (ys["z"] ** 2).sum()
    return f


def fori_model(L, N):
    def f(x, w):
        return (L.fori_loop(1, 5, lambda i, v: N.sin(v * w) + v * i, x) ** 2).sum()
    return f


def while_model(L, N):
    def f(x, w):
        # (a typed counter: a Python-int 0 here would hit eager's scalar cache, which
        # keeps the int32 buffer made before x64 was switched on)
        return L.while_loop(lambda c: c[0] < 4, lambda c: (c[0] + 1, N.sin(c[1]) * w + c[1]),
                            (N.int32(0), x))[1]
    return f


# ---------------------------------------------------------------------------------------
# jvp against jax.jvp

def _jvp_both(model, args, tangent_args, *model_args, eager=False):
    fl_f, jx_f = model(*FL, *model_args), model(*JX, *model_args)
    idx = list(tangent_args)
    prim = tuple(args[i] for i in idx)
    tans = tuple(_rand(np.shape(args[i]), 10 + i) for i in idx)
    want = jax.jit(lambda *p: jax.jvp(restrict(jx_f, args, idx), p, tans))(*prim)
    if eager:
        close(fl.jvp(restrict(fl_f, args, idx), prim, tans), want)
    close(fl.jit(lambda *p: fl.jvp(restrict(fl_f, args, idx), p, tans))(*prim), want)


@pytest.mark.parametrize("p", [True, False])
def test_jvp_cond(p):
    _jvp_both(cond_model, (p, X, W), (1, 2), eager=True)
    _jvp_both(cond_model, (p, X, W), (2,))


@pytest.mark.parametrize("i", [-1, 1, 5])
def test_jvp_switch(i):
    _jvp_both(switch_model, (np.int32(i), X, W), (1, 2))


@pytest.mark.parametrize("reverse,unroll", [(False, 1), (True, 3)])
def test_jvp_scan(reverse, unroll):
    _jvp_both(scan_model, (X, W, XS), (0, 1, 2), reverse, unroll, eager=unroll == 1)
    _jvp_both(scan_model, (X, W, XS), (2,), reverse, unroll)


def test_jvp_loops_and_map():
    _jvp_both(fori_model, (X, W), (0, 1))
    _jvp_both(while_model, (X, W), (0, 1), eager=True)
    _jvp_both(while_model, (X, W), (1,))
    _jvp_both(lambda L, N: lambda xs, w: L.map(lambda x: N.sin(x * w), xs), (XS, W), (0, 1))

    # fori_loop with traced bounds (a while loop) under jit
    def f(n, x):
        return lax.fori_loop(0, n, lambda i, v: v * v * 0.5 + 1.0, x)

    def jf(n, x):
        return jax.lax.fori_loop(0, n, lambda i, v: v * v * 0.5 + 1.0, x)
    got = fl.jit(lambda n, x, t: fl.jvp(lambda x: f(n, x), (x,), (t,)))(np.int32(3), X, W)
    close(got, jax.jit(lambda x, t: jax.jvp(lambda x: jf(np.int32(3), x), (x,), (t,)))(X, W))


# ---------------------------------------------------------------------------------------
# reverse mode against jax.grad (JAX references jitted: one compile each)

def jgrad(f, argnums=0):
    return jax.jit(jax.grad(f, argnums))


def fgrad(f, argnums=0):
    return fl.jit(fl.grad(f, argnums))


@pytest.mark.parametrize("p", [True, False])
def test_grad_cond_both_branches(p):
    want = jgrad(cond_model(*JX), (1, 2))(p, X, W)
    # eager (Python-bool predicate) and jitted (traced predicate)
    close(fl.grad(cond_model(*FL), (1, 2))(p, X, W), want)
    close(fgrad(cond_model(*FL), (1, 2))(np.bool_(p), X, W), want)
    # only the closed-over value w (a constant of the cond)
    close(fgrad(cond_model(*FL), 2)(np.bool_(p), X, W), want[1])


def test_grad_cond_operand_unused_by_taken_branch_and_switch():
    def f(L, N):
        return lambda p, x, y: L.cond(p, lambda a, b: (a * 2.0).sum(),
                                      lambda a, b: (N.sin(b) * a).sum(), x, y)
    g, jg = fgrad(f(*FL), (1, 2)), jgrad(f(*JX), (1, 2))
    for p in (True, False):
        close(g(p, X, W), jg(p, X, W))
    g, jg = fgrad(switch_model(*FL), (1, 2)), jgrad(switch_model(*JX), (1, 2))
    for i in (-3, 0, 1, 2, 7):
        close(g(np.int32(i), X, W), jg(np.int32(i), X, W))


@pytest.mark.parametrize("reverse,unroll", [(False, 1), (True, 1), (False, 2), (True, 3)])
def test_grad_scan(reverse, unroll):
    want = jgrad(scan_model(*JX, reverse, unroll), (0, 1, 2))(X, W, XS)
    close(fgrad(scan_model(*FL, reverse, unroll), (0, 1, 2))(X, W, XS), want, rtol=1e-4,
          atol=1e-5)
    # only the xs; only the closed-over weights
    close(fgrad(scan_model(*FL, reverse, unroll), 2)(X, W, XS), want[2], rtol=1e-4,
          atol=1e-5)
    if unroll == 1:
        close(fl.grad(scan_model(*FL, reverse, unroll), 1)(X, W, XS), want[1], rtol=1e-4,
              atol=1e-5)


def test_grad_scan_pytree_carry_and_closed_over_consts():
    def model(L, N):
        def f(params, xs):
            def body(c, x):
                return {"h": N.tanh(c["h"] @ params["A"] + x), "n": c["n"] + 1,
                        "m": c["m"] * params["d"]}, c["h"].sum() * c["m"]
            init = {"h": N.zeros(3, np.float32), "n": 0, "m": N.float32(1.0)}
            c, ys = L.scan(body, init, xs)
            return c["h"].sum() + ys.sum() + c["m"]
        return f
    params = {"A": _rand((3, 3), 4) * 0.5, "d": np.float32(0.9)}
    close(fgrad(model(*FL), (0, 1))(params, XS), jgrad(model(*JX), (0, 1))(params, XS),
          rtol=1e-4, atol=1e-5)


def test_grad_fori_static_bounds():
    close(fl.grad(fori_model(*FL), (0, 1))(X, W), jgrad(fori_model(*JX), (0, 1))(X, W),
          rtol=1e-4, atol=1e-5)


def test_grad_while_loop_raises():
    f = while_model(*FL)
    with pytest.raises(ValueError, match="[Rr]everse-mode"):
        fl.grad(lambda x: f(x, W).sum())(X)
    # fori_loop with a traced bound is a while loop
    with pytest.raises(ValueError, match="[Rr]everse-mode"):
        fl.jit(fl.grad(lambda x, n: lax.fori_loop(0, n, lambda i, v: v * 2.0, x).sum()))(
            X, np.int32(3))
    # ... but a concrete (untraced) bound array still gives a scan
    close(fl.grad(lambda x: lax.fori_loop(0, fnp.int32(3), lambda i, v: v * v, x).sum())(X),
          jgrad(lambda x: jax.lax.fori_loop(0, 3, lambda i, v: v * v, x).sum())(X))


def test_grad_nested_scan_in_scan():
    def model(L, N):
        def f(w, xs):
            def inner(c, x):
                return c * w + N.sin(x), c

            def outer(c, x):
                c2, ys = L.scan(inner, c, x)
                return c2 * 0.5, ys.sum(0)
            c, ys = L.scan(outer, N.ones(3, np.float32), xs.reshape(5, 1, 3))
            return c.sum() + (ys ** 2).sum()
        return f
    close(fgrad(model(*FL), (0, 1))(W, XS), jgrad(model(*JX), (0, 1))(W, XS),
          rtol=1e-4, atol=1e-5)


def test_grad_cond_in_scan_and_scan_in_cond():
    def cond_in_scan(L, N):
        def f(w, xs):
            def body(c, x):
                c = L.cond(x.sum() > 0, lambda a: N.sin(a) * w, lambda a: a * x + w, c)
                return c, c.sum()
            c, ys = L.scan(body, N.ones(3, np.float32), xs)
            return c.sum() + ys.sum()
        return f

    def scan_in_cond(L, N):
        def f(w, xs):
            def run(w):
                return L.scan(lambda c, x: (N.tanh(c * w + x), c.sum()), w, xs)[1].sum()
            return L.cond(w.sum() > 0, run, lambda w: (w ** 2).sum() * xs.sum(), w)
        return f

    for model in (cond_in_scan, scan_in_cond):
        g, jg = fgrad(model(*FL), (0, 1)), jgrad(model(*JX), (0, 1))
        for w in (W, -W - 1.0):
            close(g(w, XS), jg(w, XS), rtol=1e-4, atol=1e-5)


def test_grad_scan_with_jit_inside_body():
    inner = fl.jit(lambda c, x: fnp.tanh(c * x + 1.0))

    def f(w, xs):
        return lax.scan(lambda c, x: (inner(c * w, x), c.sum()), X, xs)[1].sum()

    def jf(w, xs):
        return jax.lax.scan(lambda c, x: (jnp.tanh(c * w * x + 1.0), c.sum()), X, xs)[1].sum()
    close(fgrad(f, (0, 1))(W, XS), jgrad(jf, (0, 1))(W, XS), rtol=1e-4, atol=1e-5)


def test_grad_scan_integer_xs_int_carry_and_zero_length():
    def model(L, N):
        def f(c, idx):
            (c, n), ys = L.scan(lambda c, i: ((c[0] * (i.astype(np.float32) + 1.0), c[1] + i),
                                              (c[0] * 2.0, i)), (c, 0), idx)
            return c.sum() + ys[0].sum()
        return f
    idx = np.array([0, 2, 1], np.int32)
    close(fgrad(model(*FL))(X, idx), jgrad(model(*JX))(X, idx))

    def empty(L, N):
        return lambda c: L.scan(lambda c, x: (c * x, c), c, N.zeros((0, 3), np.float32))[0].sum()
    close(fl.grad(empty(*FL))(X), jgrad(empty(*JX))(X))
    close(fgrad(empty(*FL))(X), jgrad(empty(*JX))(X))


# ---------------------------------------------------------------------------------------
# second order against JAX

def _rnn_loss(L, N):
    def loss(wh, h0, xs):
        def cell(h, x):
            h = N.tanh(h @ wh + x)
            return h, h.sum()
        h, ys = L.scan(cell, h0, xs)
        return (h ** 2).sum() + (ys ** 2).mean()
    return loss


def test_hessian_of_scan_rnn():
    wh, h0, xs = _rand((3, 3), 5) * 0.4, _rand((3,), 6), _rand((4, 3), 7)
    close(fl.jit(fl.hessian(_rnn_loss(*FL), (0, 2)))(wh, h0, xs),
          jax.jit(jax.hessian(_rnn_loss(*JX), (0, 2)))(wh, h0, xs), rtol=1e-4, atol=1e-5)


def test_grad_of_grad_through_cond():
    def model(L, N):
        return lambda p, x: L.cond(p, lambda v: N.sin(v) * v ** 2, lambda v: v ** 3 * 0.5, x)
    g = fl.jit(fl.grad(fl.grad(model(*FL), 1), 1))
    jg = jax.jit(jax.grad(jax.grad(model(*JX), 1), 1))
    for p in (True, False):
        close(g(p, np.float32(0.7)), jg(p, np.float32(0.7)))
    close(fl.grad(fl.grad(model(*FL), 1), 1)(True, np.float32(0.7)), jg(True, np.float32(0.7)))


# ---------------------------------------------------------------------------------------
# check_grads (finite differences and the transpose identity, order 2), float64; eager, so
# every rule runs on concrete values too

def test_check_grads_cond_and_switch():
    with x64():
        x, w = np.linspace(-1, 1, 3), np.array([0.3, -0.2, 0.5])
        for p in (True, False):
            check_grads(lambda x, w: cond_model(*FL)(p, x, w), (x, w), order=2)
        check_grads(lambda x, w: switch_model(*FL)(np.int32(1), x, w), (x, w), order=1)


def test_check_grads_scan():
    with x64():
        h0, w, xs = np.array([0.1, -0.3]), np.array([0.5, 0.8]), _rand((3, 2), 21, np.float64)
        check_grads(scan_model(*FL, True, 2), (h0, w, xs), order=2)


def test_check_grads_fori_map_and_while_jvp():
    with x64():
        x, w = np.array([0.2, -0.4]), np.array([0.7, 1.1])
        check_grads(fori_model(*FL), (x, w), order=1)
        check_grads(lambda xs, w: lax.map(lambda r: fnp.sin(r * w).sum(), xs),
                    (np.array([[0.1, 0.2], [0.3, -0.5]]), w), order=1)
        check_jvp(while_model(*FL), (x, w))


# ---------------------------------------------------------------------------------------
# batching (check_batching's f jitted: one compile for the vmap and one for the loop)

def test_vmap_cond_batched_predicate_uses_select():
    def f(p, x, w):
        return lax.cond(p, lambda a: (a[0] * w, a[1].sum()), lambda a: (a[0] - w, -a[1][0]),
                        (x, x * 3.0))
    jf = fl.jit(f)
    ps = np.array([True, False, True])
    xs = _rand((3, 3), 11)
    check_batching(jf, (ps, xs, W), (0, 0, None))
    check_batching(jf, (ps, xs.T.copy(), xs), (0, 1, 0))
    check_batching(jf, (ps, X, W), (0, None, None))
    ir = str(fl.make_ir(fl.vmap(f, in_axes=(0, 0, None)))(ps, xs, W))
    assert "select_n" in ir and "cond[" not in ir
    # an integer index for switch, batched and clamped on both sides
    g = fl.jit(lambda i, x: lax.switch(i, [lambda v: v + 1.0, lambda v: v * 2.0, fnp.sin], x))
    check_batching(g, (np.array([-1, 0, 1, 2, 5], np.int32), _rand((5, 3), 12)), (0, 0))


def test_vmap_cond_unbatched_predicate_keeps_cond():
    def f(p, x, w):
        return lax.cond(p, lambda a: a * w, lambda a: a - w, x)
    xs = _rand((3, 3), 14)
    jf = fl.jit(f)
    for p in (True, False):
        check_batching(jf, (np.bool_(p), xs.T.copy(), xs), (None, 1, 0))
    check_batching(jf, (np.bool_(True), X, xs), (None, None, 0))
    ir = str(fl.make_ir(fl.vmap(f, in_axes=(None, 0, None)))(True, xs, W))
    assert "cond[" in ir and "select_n" not in ir


def test_vmap_while_batched_predicate():
    def f(n, x):
        return lax.while_loop(lambda c: c[0] < n, lambda c: (c[0] + 1, c[1] * 1.5 + 1.0),
                              (0, x))
    jf = fl.jit(f)
    ns = np.array([0, 3, 1, 5], np.int32)        # members finish at different iterations
    xs = _rand((4, 3), 15)
    check_batching(jf, (ns, xs.T.copy()), (0, 1))
    check_batching(jf, (ns, X), (0, None))
    check_batching(jf, (np.int32(2), xs), (None, 0))
    # eager vmap (the batched while runs as one primitive), against JAX
    want = jax.jit(jax.vmap(lambda n, x: jax.lax.while_loop(
        lambda c: c[0] < n, lambda c: (c[0] + 1, c[1] * 1.5 + 1.0), (0, x))))(ns, xs)
    close(fl.vmap(f)(ns, xs), want)

    # the predicate computed from the carried values themselves
    g = fl.jit(lambda x: lax.while_loop(lambda v: v.sum() < 20.0, lambda v: v * 2.0 + 0.5, x))
    check_batching(g, (np.abs(xs),), (0,))


def test_vmap_scan_carry_xs_consts():
    @fl.jit
    def f(h0, w, xs):
        return lax.scan(lambda c, x: (fnp.tanh(c * w + x), (c * x).sum()), h0, xs)
    hb, wb, xsb = _rand((3, 3), 16), _rand((3, 3), 17), _rand((3, 5, 3), 18)
    check_batching(f, (hb, W, XS), (0, None, None))               # carry only
    check_batching(f, (X, W, xsb), (None, None, 0))               # xs only
    check_batching(f, (X, wb, XS), (None, 0, None))               # consts only
    check_batching(f, (hb.T.copy(), wb, np.moveaxis(xsb, 0, 2).copy()), (1, 0, 2))
    check_batching(f, (X, wb.T.copy(), np.moveaxis(xsb, 0, 1).copy()), (None, 1, 1),
                   out_axes=1)
    # reverse and unroll, eager vmap
    def g(h0, xs):
        return lax.scan(lambda c, x: (c * 0.5 + x, c), h0, xs, reverse=True, unroll=2)
    want = jax.jit(jax.vmap(lambda h0, xs: jax.lax.scan(
        lambda c, x: (c * 0.5 + x, c), h0, xs, reverse=True, unroll=2)))(hb, xsb)
    close(fl.vmap(g)(hb, xsb), want)


def test_jit_vmap_grad_compositions():
    def loss(L, N):
        def f(w, xs):
            return L.scan(lambda c, x: (N.tanh(c * w + x), c.sum()), N.ones(3, np.float32),
                          xs)[1].sum()
        return f
    ws, xsb = _rand((4, 3), 19), _rand((5, 4, 3), 20)
    got = fl.jit(fl.vmap(fl.grad(loss(*FL)), in_axes=(0, 1)))(ws, xsb)
    want = jax.jit(jax.vmap(jax.grad(loss(*JX)), in_axes=(0, 1)))(ws, xsb)
    close(got, want, rtol=1e-4, atol=1e-5)

    ps = np.array([True, False, True, False])
    got = fl.jit(fl.vmap(fl.grad(cond_model(*FL), 1), in_axes=(0, 0, None)))(ps, ws, W)
    want = jax.jit(jax.vmap(jax.grad(cond_model(*JX), 1), in_axes=(0, 0, None)))(ps, ws, W)
    close(got, want, rtol=1e-4, atol=1e-5)

    # vmap of the grad of a static-bound fori_loop; jvp of a batched while
    got = fl.jit(fl.vmap(fl.grad(fori_model(*FL)), in_axes=(0, None)))(ws, W)
    close(got, jax.jit(jax.vmap(jax.grad(fori_model(*JX)), in_axes=(0, None)))(ws, W),
          rtol=1e-4, atol=1e-5)
    got = fl.jit(fl.vmap(lambda x: fl.jvp(lambda x: while_model(*FL)(x, W), (x,), (x,))))(ws)
    close(got, jax.jit(jax.vmap(lambda x: jax.jvp(lambda x: while_model(*JX)(x, W), (x,),
                                                  (x,))))(ws))


def test_grad_of_jitted_function_with_scan():
    f = fl.jit(scan_model(*FL))
    close(fl.grad(f, 1)(X, W, XS), jgrad(scan_model(*JX), 1)(X, W, XS), rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------------------------------
# what the backward pass of a scan stores

def _scans(program):
    out = []
    for e in program.eqns:
        if e.primitive is cf.scan_p:
            out.append(e)
    return out


def test_scan_residuals_are_only_what_is_needed():
    def f(w, c0, xs):
        return lax.scan(lambda c, x: (c * w + x, None), c0, xs)[0].sum()
    w, c0, xs = W, X, XS

    # d/dc0: the backward scan needs only w (not stacked), so no forward scan at all.
    prog = fl.make_ir(fl.grad(f, 1))(w, c0, xs).program
    scans = _scans(prog)
    assert len(scans) == 1 and scans[0].params["reverse"]
    assert all(v.aval.shape != (5, 3) for v in scans[0].inputs)

    # d/dw: the only per-iteration residual is the carry c (one f32[5,3]); w is passed
    # once as a constant, not copied per iteration.
    prog = fl.make_ir(fl.grad(f, 0))(w, c0, xs).program
    fwd, bwd = _scans(prog)
    stacked_out = [v for v in fwd.outputs if v.aval.shape == (5, 3)]
    assert len(stacked_out) == 1
    assert len(bwd.inputs) == bwd.params["num_consts"] + bwd.params["num_carry"] + 1
    assert prog.invars[0] in bwd.inputs[:bwd.params["num_consts"]]  # w itself, as a const

    # c * x * sin(w): the residual x is the known xs itself, passed to the backward scan
    # without a stacked copy; the loop-invariant residuals sin(w), cos(w) are computed
    # once, outside both loops.
    def g(w, c0, xs):
        return lax.scan(lambda c, x: (c * x * fnp.sin(w), None), c0, xs)[0].sum()
    prog = fl.make_ir(fl.grad(g, 1))(w, c0, xs).program
    (bwd,) = _scans(prog)                                   # d/dc0 needs no forward scan
    assert prog.invars[2] in bwd.inputs                     # xs forwarded as they are
    assert not any(e.primitive.name in ("sin", "cos") for e in bwd.params["program"].eqns)
    prog = fl.make_ir(fl.grad(g, (0, 1)))(w, c0, xs).program
    fwd, bwd = _scans(prog)
    assert len([v for v in fwd.outputs if v.aval.shape == (5, 3)]) == 1  # one stacked array
    assert prog.invars[2] in bwd.inputs
    assert not any(e.primitive.name in ("sin", "cos") for e in bwd.params["program"].eqns)
    close(fl.grad(g, (0, 1, 2))(w, c0, xs),
          jax.grad(lambda w, c0, xs: jax.lax.scan(
              lambda c, x: (c * x * jnp.sin(w), None), c0, xs)[0].sum(), (0, 1, 2))(w, c0, xs),
          rtol=1e-4, atol=1e-5)
