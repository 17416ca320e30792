"""Program-level tests of the differentiation API (grad, value_and_grad, jvp, linearize,
vjp, jacfwd, jacrev, hessian and their compositions, eagerly and under jit) on a table of
real programs, each compared with JAX on the same numbers.

Every program is written once against a namespace ``ns`` (``ns.np``, ``ns.lax``, ``ns.nn``,
``ns.custom_jvp``, ...), so the functorch_lite and JAX versions are the same code.
"""
from __future__ import annotations

import functools
import types

import numpy as np
import pytest

import jax
import jax.numpy as jnp

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite.core import dtypes, pytree

RTOL = ATOL = 1e-5

FL = types.SimpleNamespace(name="fl", np=fnp, lax=fl.lax, nn=fl.nn, custom_jvp=fl.custom_jvp,
                           custom_vjp=fl.custom_vjp, checkpoint=fl.checkpoint,
                           logsumexp=fl.nn.logsumexp)
JX = types.SimpleNamespace(name="jax", np=jnp, lax=jax.lax, nn=jax.nn,
                           custom_jvp=jax.custom_jvp, custom_vjp=jax.custom_vjp,
                           checkpoint=jax.checkpoint, logsumexp=jax.nn.logsumexp)


def assert_tree_close(got, want, rtol=RTOL, atol=ATOL, check_structure=True):
    g_leaves, g_tree = jax.tree_util.tree_flatten(got)
    w_leaves, w_tree = jax.tree_util.tree_flatten(want)
    if check_structure:
        assert g_tree == w_tree, (g_tree, w_tree)
    assert len(g_leaves) == len(w_leaves), (len(g_leaves), len(w_leaves))
    for g, w in zip(g_leaves, w_leaves):
        g, w = np.asarray(g), np.asarray(w)
        assert g.shape == w.shape, (g.shape, w.shape)
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)


def per_namespace(make):
    """Build once per namespace (custom_jvp/custom_vjp objects are made per library)."""
    cache = {}

    @functools.wraps(make)
    def get(ns):
        if ns.name not in cache:
            cache[ns.name] = make(ns)
        return cache[ns.name]
    return get


def rand(seed, *shape, scale=1.0):
    return (np.random.default_rng(seed).normal(size=shape) * scale).astype(np.float32)


# ---------------------------------------------------------------------------------------
# The programs. Each is ``f(params, x) -> scalar`` where ``params`` is a pytree.

def mlp_loss(ns):
    def f(params, x, y):
        (w1, b1), (w2, b2) = params["layers"]
        h = ns.np.tanh(x @ w1 + b1)
        pred = h @ w2 + b2
        return ns.np.mean((pred - y) ** 2) + 0.01 * params["scale"] ** 2
    return f


def mlp_args():
    params = {"layers": ((rand(1, 3, 5, scale=0.5), rand(2, 5, scale=0.1)),
                         (rand(3, 5, 2, scale=0.5), rand(4, 2, scale=0.1))),
              "scale": np.float32(0.7)}
    return params, rand(5, 4, 3), rand(6, 4, 2)


def softmax_xent(ns):
    def f(w, x, labels):
        logits = x @ w
        logp = ns.nn.log_softmax(logits, axis=-1)
        onehot = ns.nn.one_hot(labels, 4)
        return -ns.np.mean(ns.np.sum(onehot * logp, axis=-1))
    return f


def xent_args():
    return rand(7, 3, 4), rand(8, 5, 3), np.array([0, 3, 1, 2, 3], np.int32)


def logsumexp_prog(ns):
    def f(w, x):
        return ns.logsumexp(w * x) + ns.logsumexp(ns.np.stack([w, 2.0 * x]), axis=0).sum()
    return f


def lse_args():
    return rand(9, 6), rand(10, 6)


def convnet(ns):
    def f(params, x):
        y = ns.lax.conv_general_dilated(x, params["conv"], (1, 1), "SAME")
        y = ns.nn.relu(y)
        y = ns.lax.reduce_window(y, -np.inf, ns.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")
        y = y.reshape((y.shape[0], -1))
        out = y @ params["dense"]
        return ns.np.sum(ns.np.tanh(out) ** 2)
    return f


def conv_args():
    return {"conv": rand(11, 2, 1, 3, 3, scale=0.5),
            "dense": rand(12, 2 * 2 * 2, 3, scale=0.5)}, rand(13, 1, 1, 4, 4)


def norm_prog(ns):
    def f(w, x):
        return ns.np.linalg.norm(w * x + 1.0) + ns.np.linalg.norm(x)
    return f


def norm_args():
    return rand(14, 5), rand(15, 5)


@per_namespace
def make_log1pexp(ns):
    @ns.custom_jvp
    def log1pexp(x):
        return ns.np.log1p(ns.np.exp(x))

    @log1pexp.defjvp
    def log1pexp_jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        return log1pexp(x), t * (1.0 / (1.0 + ns.np.exp(-x)))
    return log1pexp


def log1pexp_prog(ns):
    log1pexp = make_log1pexp(ns)

    def f(w, x):
        return ns.np.sum(log1pexp(w * x) ** 2)
    return f


def log1pexp_args():
    return rand(16, 4), rand(17, 4, scale=3.0)


@per_namespace
def make_clip_gradient(ns):
    @ns.custom_vjp
    def clip_gradient(x):
        return x

    def fwd(x):
        return x, None

    def bwd(_, g):
        return (ns.np.clip(g, -0.5, 0.5),)
    clip_gradient.defvjp(fwd, bwd)
    return clip_gradient


def clip_prog(ns):
    clip_gradient = make_clip_gradient(ns)

    def f(w, x):
        return ns.np.sum(ns.np.sin(clip_gradient(w * x)) * x)
    return f


def clip_args():
    return rand(18, 5), rand(19, 5, scale=2.0)


def resblock_prog(ns):
    def block(p, h):
        return h + ns.np.tanh(h @ p["w1"] + p["b"]) @ p["w2"]

    def f(params, x):
        h = ns.checkpoint(block)(params[0], x)
        h = ns.checkpoint(block)(params[1], h)
        return ns.np.sum(ns.np.tanh(h) ** 2)
    return f


def resblock_args():
    def p(s):
        return {"w1": rand(s, 3, 4, scale=0.5), "b": rand(s + 1, 4, scale=0.1),
                "w2": rand(s + 2, 4, 3, scale=0.5)}
    return (p(20), p(23)), rand(26, 2, 3)


class Prog:
    def __init__(self, name, make, args, forward_ok=True, full_hessian=False, rtol=RTOL,
                 atol=ATOL):
        self.name, self.make, self.args = name, make, args
        self.forward_ok = forward_ok  # custom_vjp has no forward mode
        self.full_hessian = full_hessian  # also the Hessian w.r.t. every input pytree
        self.rtol, self.atol = rtol, atol

    def __repr__(self):
        return self.name

    @functools.cached_property
    def f_fl(self):
        return self.make(FL)

    @functools.cached_property
    def f_jax(self):
        return self.make(JX)

    @functools.cached_property
    def inputs(self):
        """The fixed inputs of every test: arguments, tangents and cotangents."""
        args = self.args()
        diff = tuple(args[:2])
        out_shape = jax.eval_shape(vjp_outputs(JX, self.f_jax, args[2:]), *diff)
        return types.SimpleNamespace(
            args=args, diff=diff, rest=args[2:],
            tans=[tuple(tangents_like(seed, diff)) for seed in (100, 200)],
            ct=tangents_like(300, out_shape), v=tangents_like(400, args[1]),
            s0=np.float32(0.3), t_hvp=tuple(tangents_like(500, diff)))

    @functools.cached_property
    def ref(self):
        """JAX's answers to every test on this program, computed by one jax.jit call (JAX's
        op-by-op mode would compile each operation separately, which is much slower)."""
        return jax.jit(lambda d: reference_bundle(self, types.SimpleNamespace(**d)))(
            vars(self.inputs))


def vjp_outputs(ns, f, rest):
    """A pytree-output function of the program for the vjp tests."""
    def h(p, x):
        loss = f(p, x, *rest)
        return {"loss": loss, "pair": (loss * x, ns.np.sin(x))}
    return h


def grad_x(ns, f):
    """A vector-valued function of the program: its gradient w.r.t. x."""
    gradf = jax.grad if ns is JX else fl.grad
    return lambda p, *rest: gradf(f, argnums=1)(p, *rest)


def restrict(ns, f, inp):
    """The scalar function s -> f(params, x + s v) (for grad of grad)."""
    return lambda s: f(inp.args[0], inp.args[1] + s * inp.v, *inp.rest)


def grad_dot_v(ns, f, inp):
    """(params, x) -> <grad_x f, v>: reverse over reverse on the whole pytree."""
    return lambda p, x: ns.np.vdot(grad_x(ns, f)(p, x, *inp.rest), inp.v)


def grad_all(ns, f, inp):
    gradf = jax.grad if ns is JX else fl.grad
    return lambda p, x: gradf(lambda p, x: f(p, x, *inp.rest), argnums=(0, 1))(p, x)


def reference_bundle(prog, inp):
    f, args, diff, rest = prog.f_jax, inp.args, inp.diff, inp.rest

    def f2(p, x):
        return f(p, x, *rest)
    r = {"grad": jax.grad(f)(*args)}
    r["value"], r["grads"] = jax.value_and_grad(f, argnums=(0, 1))(*args)
    r["hess_x"] = jax.hessian(f, argnums=1)(*args)
    if prog.full_hessian:
        r["hess"] = jax.hessian(f, argnums=(0, 1))(*args)
    if prog.forward_ok:
        r["jvp"] = [jax.jvp(f2, diff, t) for t in inp.tans]
    r["vjp_out"], vjp_fn = jax.vjp(vjp_outputs(JX, f, rest), *diff)
    r["vjp"] = vjp_fn(inp.ct)
    r["gg"] = jax.grad(jax.grad(restrict(JX, f, inp)))(inp.s0)
    r["rr"] = jax.grad(grad_dot_v(JX, f, inp))(*diff)
    r["hvp"] = jax.jvp(grad_all(JX, f, inp), diff, inp.t_hvp)
    return r


PROGRAMS = [
    Prog("mlp", mlp_loss, mlp_args, full_hessian=True),
    Prog("softmax_xent", softmax_xent, xent_args),
    Prog("logsumexp", logsumexp_prog, lse_args),
    Prog("convnet", convnet, conv_args, rtol=2e-5, atol=2e-5),
    Prog("norm", norm_prog, norm_args, full_hessian=True),
    Prog("log1pexp", log1pexp_prog, log1pexp_args),
    Prog("clip_gradient", clip_prog, clip_args, forward_ok=False, full_hessian=True),
    Prog("resblock", resblock_prog, resblock_args),
]
FORWARD = [p for p in PROGRAMS if p.forward_ok]
WRAPS = {"eager": lambda f: f, "jit": fl.jit}


def ids(p):
    return p.name


def close(prog, got, want, **kw):
    assert_tree_close(got, want, rtol=kw.get("rtol", prog.rtol), atol=kw.get("atol", prog.atol))


def tangents_like(seed, tree):
    leaves, tree_def = jax.tree_util.tree_flatten(tree)
    return tree_def.unflatten([rand(seed + i, *np.shape(l)) if
                               np.issubdtype(np.dtype(l.dtype), np.floating)
                               else np.zeros(np.shape(l), jax.dtypes.float0)
                               for i, l in enumerate(leaves)])


# ---------------------------------------------------------------------------------------
# The table. Each test computes everything it checks in one function, run eagerly or as
# one fl.jit compilation.

@pytest.mark.parametrize("wrap", WRAPS)
@pytest.mark.parametrize("prog", PROGRAMS, ids=ids)
def test_grad_and_value_and_grad(prog, wrap):
    args = prog.inputs.args

    def run(*args):
        return (fl.grad(prog.f_fl)(*args),
                fl.value_and_grad(prog.f_fl, argnums=(0, 1))(*args))
    g, (v, g2) = WRAPS[wrap](run)(*args)
    close(prog, g, prog.ref["grad"])
    close(prog, v, prog.ref["value"])
    close(prog, g2, prog.ref["grads"])
    assert isinstance(g2, tuple) and len(g2) == 2
    # A gradient has the structure and dtypes of what it differentiates.
    assert pytree.tree_structure(g) == pytree.tree_structure(args[0])
    for gl, pl in zip(pytree.tree_leaves(g), pytree.tree_leaves(args[0])):
        assert np.asarray(gl).dtype == np.asarray(pl).dtype


@pytest.mark.parametrize("wrap", WRAPS)
@pytest.mark.parametrize("prog", PROGRAMS, ids=ids)
def test_jacrev_jacfwd(prog, wrap):
    # Of the scalar program (the gradient, by both modes), and of its gradient w.r.t. x
    # (the Hessian w.r.t. x, by reverse over reverse and forward over reverse).
    f, fwd = prog.f_fl, prog.forward_ok

    def run(*args):
        return (fl.jacrev(f, argnums=(0, 1))(*args),
                fl.jacfwd(f, argnums=(0, 1))(*args) if fwd else None,
                fl.jacrev(grad_x(FL, f), argnums=1)(*args),
                fl.jacfwd(grad_x(FL, f), argnums=1)(*args) if fwd else None)
    rev, fw, rev2, fw2 = WRAPS[wrap](run)(*prog.inputs.args)
    close(prog, rev, prog.ref["grads"])
    close(prog, rev2, prog.ref["hess_x"], rtol=1e-4)
    if fwd:
        close(prog, fw, prog.ref["grads"])
        close(prog, fw2, prog.ref["hess_x"], rtol=1e-4)


@pytest.mark.parametrize("wrap", WRAPS)
@pytest.mark.parametrize("prog", FORWARD, ids=ids)
def test_jvp_and_linearize(prog, wrap):
    inp = prog.inputs

    def f(p, x):
        return prog.f_fl(p, x, *inp.rest)

    def run(diff, t0, t1):
        y, f_jvp = fl.linearize(f, *diff)
        # f_jvp is the jvp at the linearization point, for several tangents.
        return fl.jvp(f, diff, t0), y, f_jvp(*t0), f_jvp(*t1)
    (out, tout), y, l0, l1 = WRAPS[wrap](run)(inp.diff, *inp.tans)
    want = prog.ref["jvp"]
    close(prog, (out, tout), want[0])
    close(prog, y, want[0][0])
    close(prog, l0, want[0][1])
    close(prog, l1, want[1][1])
    if wrap == "eager":  # a linearized function is reusable, also under jit
        y, f_jvp = fl.linearize(f, *inp.diff)
        close(prog, fl.jit(f_jvp)(*inp.tans[1]), want[1][1])


def test_jvp_with_integer_inputs():
    # Integer inputs (the labels) take float0 tangents; the output tangent ignores them.
    prog = PROGRAMS[1]
    args = prog.inputs.args
    tans = tangents_like(100, args)
    assert tans[2].dtype == dtypes.float0
    got = fl.jvp(prog.f_fl, args, tans)
    close(prog, got, prog.ref["jvp"][0])


@pytest.mark.parametrize("wrap", WRAPS)
@pytest.mark.parametrize("prog", PROGRAMS, ids=ids)
def test_vjp_with_pytrees(prog, wrap):
    inp = prog.inputs
    g = vjp_outputs(FL, prog.f_fl, inp.rest)

    def run(diff, ct):
        out, vjp_fn = fl.vjp(g, *diff)
        return out, vjp_fn(ct)
    out, cts = WRAPS[wrap](run)(inp.diff, inp.ct)
    close(prog, out, prog.ref["vjp_out"])
    close(prog, cts, prog.ref["vjp"])
    if wrap == "eager":  # the same vjp_fn applied twice, the second time under jit
        out, vjp_fn = fl.vjp(g, *inp.diff)
        close(prog, vjp_fn(inp.ct), prog.ref["vjp"])
        close(prog, fl.jit(vjp_fn)(inp.ct), prog.ref["vjp"])


# ---------------------------------------------------------------------------------------
# Higher order

@pytest.mark.parametrize("wrap", WRAPS)
@pytest.mark.parametrize("prog", PROGRAMS, ids=ids)
def test_hessian(prog, wrap):
    f = prog.f_fl
    # The full Hessian (w.r.t. the params pytree too: dicts of tuples for the MLP, 45x45
    # entries) only under jit for the MLP, to keep eager op-by-op compilations down.
    full = prog.full_hessian and (wrap == "jit" or prog.name != "mlp")

    def run(*args):
        return (fl.hessian(f, argnums=1)(*args),
                fl.jacfwd(fl.jacrev(f, argnums=1), argnums=1)(*args),
                fl.hessian(f, argnums=(0, 1))(*args) if full else None)
    h, h2, hfull = WRAPS[wrap](run)(*prog.inputs.args)
    close(prog, h, prog.ref["hess_x"], rtol=1e-4)
    close(prog, h2, prog.ref["hess_x"], rtol=1e-4)
    if full:
        close(prog, hfull, prog.ref["hess"], rtol=1e-4)


@pytest.mark.parametrize("wrap", WRAPS)
@pytest.mark.parametrize("prog", PROGRAMS, ids=ids)
def test_grad_of_grad_and_hvp(prog, wrap):
    inp = prog.inputs
    f = prog.f_fl

    def run(s0, diff, t):
        return (fl.grad(fl.grad(restrict(FL, f, inp)))(s0),   # grad(grad(h)), h: R -> R
                fl.grad(grad_dot_v(FL, f, inp))(*diff),       # reverse over reverse
                fl.jvp(grad_all(FL, f, inp), diff, t))        # forward over reverse (HVP)
    gg, rr, hvp = WRAPS[wrap](run)(inp.s0, inp.diff, inp.t_hvp)
    close(prog, gg, prog.ref["gg"], rtol=1e-4)
    close(prog, rr, prog.ref["rr"], rtol=1e-4)
    close(prog, hvp, prog.ref["hvp"], rtol=1e-4)


# ---------------------------------------------------------------------------------------
# has_aux

def _aux_fns(ns):
    params, x, y = mlp_args()
    f = mlp_loss(ns)

    def loss_aux(p, x):
        loss = f(p, x, y)
        return loss, {"loss2": loss * 2.0, "x": (x * 3.0, ns.np.sum(x))}

    def vec_aux(x):
        loss = f(params, x, y)
        return x * loss, {"x": (x * 3.0, ns.np.sum(x))}
    return params, x, loss_aux, vec_aux


def _aux_case(lib, kind):
    gradf = {"grad": lib.grad, "value_and_grad": lib.value_and_grad}
    ns = FL if lib is fl else JX
    params, x, loss_aux, vec_aux = _aux_fns(ns)
    if kind in gradf:
        return gradf[kind](loss_aux, argnums=(0, 1), has_aux=True)(params, x)
    if kind == "vjp":
        out, vjp_fn, aux = lib.vjp(vec_aux, x, has_aux=True)
        return out, vjp_fn(np.ones_like(x)), aux
    if kind == "jvp":
        return lib.jvp(vec_aux, (x,), (np.ones_like(x),), has_aux=True)
    return getattr(lib, kind)(vec_aux, has_aux=True)(x)


@pytest.mark.parametrize("wrap", ["eager"])
@pytest.mark.parametrize("kind", ["grad", "value_and_grad", "vjp", "jvp", "jacrev",
                                  "jacfwd"])
def test_has_aux(kind, wrap):
    want = _aux_case(jax, kind)
    got = WRAPS[wrap](lambda: _aux_case(fl, kind))()
    assert_tree_close(got, want)


# ---------------------------------------------------------------------------------------
# Specific behaviours

@pytest.mark.parametrize("wrap", WRAPS)
def test_log1pexp_is_stable(wrap):
    log1pexp = make_log1pexp(FL)
    w = WRAPS[wrap]
    g = w(fl.grad(log1pexp))(100.0)
    assert float(g) == 1.0
    np.testing.assert_allclose(w(log1pexp)(3.0), np.log1p(np.exp(3.0)), rtol=1e-6)
    np.testing.assert_allclose(w(fl.vmap(fl.grad(log1pexp)))(np.array([-3.0, 0.0, 100.0],
                                                                       np.float32)),
                               jax.vmap(jax.grad(make_log1pexp(JX)))(
                                   np.array([-3.0, 0.0, 100.0], np.float32)), rtol=1e-6)
    # The naive formula is not stable: exp(100) overflows to inf and the gradient is nan.
    naive = fl.grad(lambda x: fnp.log1p(fnp.exp(x)))(100.0)
    assert np.isnan(float(naive))


@pytest.mark.parametrize("wrap", WRAPS)
def test_clip_gradient_clips(wrap):
    clip = make_clip_gradient(FL)
    w = WRAPS[wrap]
    x = np.array([-2.0, 0.1, 3.0], np.float32)
    g = w(fl.grad(lambda x: fnp.sum(clip(x) * 4.0 * x)))(x)
    # d/dx [clip(x) * 4x]: the clipped cotangent 4x through clip, plus 4 clip(x) = 4x.
    np.testing.assert_allclose(g, np.clip(4.0 * x, -0.5, 0.5) + 4.0 * x)
    # The primal is the identity.
    np.testing.assert_array_equal(w(clip)(x), x)


def test_jvp_of_grad_structures_match_jax():
    # jvp over a pytree with a dict of tuples: output tangent structure mirrors the primal.
    params, x, y = mlp_args()
    f = mlp_loss(FL)
    t = tangents_like(7, params)
    g, gt = fl.jvp(lambda p: fl.grad(f)(p, x, y), (params,), (t,))
    jg, jgt = jax.jvp(lambda p: jax.grad(mlp_loss(JX))(p, x, y), (params,), (t,))
    assert_tree_close((g, gt), (jg, jgt), rtol=1e-4)


def test_argnums_negative_and_kwargs():
    f = lambda a, b, *, c: fnp.sum(a * b * c)  # noqa: E731
    jf = lambda a, b, *, c: jnp.sum(a * b * c)  # noqa: E731
    a, b, c = rand(1, 3), rand(2, 3), rand(3, 3)
    assert_tree_close(fl.grad(f, argnums=-1)(a, b, c=c), jax.grad(jf, argnums=-1)(a, b, c=c))
    assert_tree_close(fl.grad(f, argnums=(1, 0))(a, b, c=c),
                      jax.grad(jf, argnums=(1, 0))(a, b, c=c))


# ---------------------------------------------------------------------------------------
# Errors

def test_grad_of_nonscalar_output():
    with pytest.raises(TypeError) as e:
        fl.grad(lambda x: x * 2.0)(np.ones(3, np.float32))
    msg = str(e.value)
    assert "(3,)" in msg or "[3]" in msg
    assert "vjp" in msg and "jacrev" in msg
    with pytest.raises(TypeError, match="single scalar output"):
        fl.grad(lambda x: (x.sum(), x.sum()))(np.ones(3, np.float32))


def test_grad_of_complex_output():
    with pytest.raises(TypeError, match="complex"):
        fl.grad(lambda x: (x * 1j).sum())(np.ones(3, np.float32))


def test_grad_of_integer_output():
    with pytest.raises(TypeError, match="floating"):
        fl.grad(lambda x: fnp.sum(x > 0).astype(np.int32))(np.ones(3, np.float32))


@pytest.mark.parametrize("fn", [fl.grad, fl.jacrev, fl.jacfwd])
def test_grad_wrt_int_input(fn):
    with pytest.raises(TypeError, match="int32") as e:
        fn(lambda x: fnp.sum(x * 2.0))(np.arange(3, dtype=np.int32))
    # JAX's wording: jacfwd takes real inputs only (complex ones need holomorphic=True).
    assert ("floating" if fn is fl.jacfwd else "inexact") in str(e.value)
    with pytest.raises(TypeError, match="argument 1"):
        fl.grad(lambda x, i: x * i, argnums=1)(1.0, 3)
    # Differentiating with respect to the float argument only is fine.
    assert float(fl.grad(lambda x, i: x * i)(1.0, 3)) == 3.0


def test_vjp_fn_wrong_cotangent():
    _, vjp_fn = fl.vjp(lambda x: (x * 2.0, x.sum()), np.ones(3, np.float32))
    with pytest.raises(ValueError, match=r"\(3,\).*\(4,\)|\(4,\).*\(3,\)"):
        vjp_fn((np.ones(4, np.float32), np.float32(1.0)))
    # A structure mismatch is a ValueError, as JAX raises.
    with pytest.raises(ValueError, match="structure"):
        vjp_fn(np.ones(3, np.float32))
    with pytest.raises(ValueError, match="structure"):
        vjp_fn([np.ones(3, np.float32), np.float32(1.0)])


def test_jvp_mismatched_primals_tangents():
    f = lambda x, y: x * y  # noqa: E731
    one = np.ones(3, np.float32)
    with pytest.raises(TypeError, match="tree structure"):
        fl.jvp(f, (one, one), (one,))
    with pytest.raises(TypeError, match="tree structure"):
        fl.jvp(lambda p: p["a"], ({"a": one},), ({"b": one},))
    # JAX's types: a shape mismatch is a ValueError, a dtype mismatch a TypeError.
    with pytest.raises(ValueError, match=r"tangent 1 has shape \(4,\) but its primal has "
                                         r"shape \(3,\)"):
        fl.jvp(f, (one, one), (one, np.ones(4, np.float32)))
    with pytest.raises(TypeError, match=r"tangent 1 has dtype int32"):
        fl.jvp(f, (one, one), (one, np.ones(3, np.int32)))
    with pytest.raises(TypeError, match=r"tangent 0 .*float0"):
        fl.jvp(lambda i: i * 2, (np.arange(3),), (np.ones(3, np.int32),))
    with pytest.raises(TypeError, match="tuples or lists"):
        fl.jvp(f, one, one)


def test_integer_inputs_get_float0_cotangents():
    x, i = np.ones(3, np.float32), np.arange(3, dtype=np.int32)
    out, vjp_fn = fl.vjp(lambda x, i: x * i, x, i)
    gx, gi = vjp_fn(np.ones(3, np.float32))
    np.testing.assert_array_equal(gx, np.arange(3, dtype=np.float32))
    assert gi.dtype == dtypes.float0 and gi.shape == (3,)
    jgi = jax.vjp(lambda x, i: x * i, x, i)[1](np.ones(3, np.float32))[1]
    assert gi.dtype == jgi.dtype
    # jvp with a float0 tangent for the integer input.
    _, t = fl.jvp(lambda x, i: x * i, (x, i), (x, np.zeros(3, dtypes.float0)))
    np.testing.assert_array_equal(t, np.arange(3, dtype=np.float32))


def test_float0_tangents_through_jit():
    """float0 values (tangents of integers) cross jit's boundary both ways: in as NumPy
    float0 arrays or device arrays, out as NumPy float0 zeros (as from JAX)."""
    x, i = np.ones(3, np.float32), np.arange(3, dtype=np.int32)
    t0 = np.zeros(3, dtypes.float0)
    f = fl.jit(lambda x, i, ti: fl.jvp(lambda x, i: x * i, (x, i), (x, ti)))
    for ti in (t0, t0, fl.device_put(t0)):
        out, t = f(x, i, ti)
        np.testing.assert_array_equal(t, np.arange(3, dtype=np.float32))
    g = fl.jit(lambda x, i: fl.vjp(lambda x, i: x * i, x, i)[1](x))
    for _ in range(2):
        gx, gi = g(x, i)
        np.testing.assert_array_equal(gx, np.arange(3, dtype=np.float32))
        assert isinstance(gi, np.ndarray) and gi.dtype == dtypes.float0 and gi.shape == (3,)
    d = fl.device_put(t0)
    assert d.dtype == dtypes.float0 and np.asarray(d).dtype == dtypes.float0


def test_grad_allow_int_gives_float0_gradients():
    x, i = np.ones(3, np.float32), np.arange(3, dtype=np.int32)

    def f(x, i):
        return fnp.sum(x * i)
    with pytest.raises(TypeError, match="allow_int=True"):
        fl.grad(f, argnums=(0, 1))(x, i)
    want = jax.grad(lambda x, i: (x * i).sum(), argnums=(0, 1), allow_int=True)(x, i)
    for g in (fl.grad(f, argnums=(0, 1), allow_int=True),
              fl.jit(fl.grad(f, argnums=(0, 1), allow_int=True))):
        gx, gi = g(x, i)
        np.testing.assert_array_equal(gx, want[0])
        assert gi.dtype == want[1].dtype == dtypes.float0 and gi.shape == (3,)
    (v, gx), = [fl.value_and_grad(f, allow_int=True)(x, i)]
    assert float(v) == 3.0


def test_custom_vjp_under_forward_mode_is_an_error():
    clip = make_clip_gradient(FL)
    x = np.ones(3, np.float32)
    msg = "can't apply forward-mode autodiff \\(jvp\\) to a custom_vjp function."
    with pytest.raises(TypeError, match=msg):
        fl.jvp(clip, (x,), (x,))
    with pytest.raises(TypeError, match=msg):
        fl.jacfwd(lambda x: clip(x) * 2.0)(x)
    y, f_jvp = fl.linearize(clip, x)  # linearizing is fine; evaluating forward mode is not
    np.testing.assert_array_equal(y, x)
    with pytest.raises(TypeError, match=msg):
        f_jvp(x)
    with pytest.raises(TypeError, match=msg):
        fl.jit(lambda x: fl.jvp(clip, (x,), (x,)))(x)
    # Reverse mode through jit and vmap is fine.
    g = fl.vmap(fl.grad(fl.jit(lambda x: fnp.sum(clip(x * 4.0)))))(np.ones((2, 3), np.float32))
    np.testing.assert_array_equal(g, np.full((2, 3), 2.0, np.float32))


# ---------------------------------------------------------------------------------------
# Symbolic zeros and stop_gradient

def _eqn_names(closed):
    return [e.primitive.name for e in closed.program.eqns]


def test_zero_tangents_stay_symbolic():
    ir = fl.make_ir(fl.grad(lambda x, y: x * 2.0, argnums=0))(1.0, 2.0)
    y_var = ir.program.invars[1]
    assert all(y_var not in e.inputs for e in ir.program.eqns)
    assert len(ir.program.eqns) <= 4, ir
    # grad w.r.t. x of x*y: y's tangent is symbolic, so no zeros for it appear.
    ir = fl.make_ir(fl.grad(lambda x, y: fnp.sum(fnp.sin(x) * y), argnums=0))(
        np.ones(64, np.float32), np.ones(64, np.float32))
    names = _eqn_names(ir)
    assert names.count("mul") <= 2, ir
    # jvp with a tangent only for x: no work on y's derivative.
    ir = fl.make_ir(lambda x, y, t: fl.jvp(lambda x: fnp.exp(x) * fnp.cos(y), (x,), (t,)))(
        np.ones(4, np.float32), np.ones(4, np.float32), np.ones(4, np.float32))
    assert "sin" not in _eqn_names(ir), ir


def test_stop_gradient_blocks_gradients():
    f = lambda x: fnp.sum(x * fl.stop_gradient(x) ** 2)  # noqa: E731
    jf = lambda x: jnp.sum(x * jax.lax.stop_gradient(x) ** 2)  # noqa: E731
    x = rand(3, 4)
    assert_tree_close(fl.grad(f)(x), jax.grad(jf)(x))
    assert_tree_close(fl.jit(fl.grad(f))(x), x ** 2)
    assert_tree_close(fl.hessian(f)(x), jax.hessian(jf)(x))
    g = fl.grad(lambda x: fnp.sum(fl.stop_gradient(fnp.sin(x))))(x)
    np.testing.assert_array_equal(g, np.zeros_like(x))
    _, t = fl.jvp(lambda x: fl.stop_gradient(x * 3.0), (x,), (x,))
    np.testing.assert_array_equal(t, np.zeros_like(x))


def test_jit_of_grad_reuses_compilation():
    params, x, y = mlp_args()
    g = fl.jit(fl.grad(mlp_loss(FL)))
    g(params, x, y)
    g(params, x + 1.0, y)
    assert g.trace_count() == 1
