"""Issue 13, remat: every ``jax.checkpoint_policies`` policy, ``checkpoint_name`` and
``print_saved_residuals`` behave as JAX's (``functorch_lite.ad_checkpoint`` mirrors
``jax.ad_checkpoint``).

The residuals a policy saves are compared through ``print_saved_residuals`` on both sides
(JAX's lines end with a source location ours do not record; it is stripped). The example
functions use primitives whose derivative rules need the same residuals in both libraries
(``sin``, ``exp``, products): which residuals a rule keeps is the rule's business, which
ones a *policy* keeps is what is tested here.
"""
from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import ad_checkpoint as jax_adc

import functorch_lite as fl
import functorch_lite.ad_checkpoint as adc
import functorch_lite.numpy as fnp
from functorch_lite.core.avals import get_aval
from functorch_lite.core.ir import Eqn, Program, Var
from functorch_lite.interpreters import transpose
from functorch_lite.lax.misc import name_p
from helpers import assert_tree_close, rand
from rule_checks import check_batching, check_grads, x64

JCP, FCP = jax.checkpoint_policies, adc.checkpoint_policies


def mlp(lib, np_, name):
    """Two layers with labelled intermediates, a batched product (einsum with a batch
    dimension) and a closing elementwise op."""
    def f(params, x):
        a = name(x @ params["w1"], "a")
        h = name(np_.sin(a), "h")
        b = np_.einsum("bij,bjk->bik", h[None], params["w3"][None])[0]
        y = np_.exp(name(b, "b") * 0.1)
        return np_.sum(np_.sin(y @ params["w2"]))
    return f


PARAMS = {"w1": rand(1, 3, 4, scale=0.5), "w2": rand(2, 4, 2, scale=0.5),
          "w3": rand(3, 4, 4, scale=0.5)}
X = rand(4, 5, 3)

F = mlp(fl, fnp, adc.checkpoint_name)
JF = mlp(jax, jnp, jax_adc.checkpoint_name)


def policies(cp):
    """The same policies, built from either library's ``checkpoint_policies``."""
    return {
        "default": None,
        "everything_saveable": cp.everything_saveable,
        "nothing_saveable": cp.nothing_saveable,
        "dots_saveable": cp.dots_saveable,
        "checkpoint_dots": cp.checkpoint_dots,
        "dots_with_no_batch_dims_saveable": cp.dots_with_no_batch_dims_saveable,
        "checkpoint_dots_with_no_batch_dims": cp.checkpoint_dots_with_no_batch_dims,
        "save_only_these_names(h)": cp.save_only_these_names("h"),
        "save_only_these_names(a, b)": cp.save_only_these_names("a", "b"),
        "save_any_names_but_these(h)": cp.save_any_names_but_these("h"),
        "save_anything_except_these_names(h)": cp.save_anything_except_these_names("h"),
        "save_from_both_policies": cp.save_from_both_policies(
            cp.dots_with_no_batch_dims_saveable, cp.save_only_these_names("h")),
        "offload_dot_with_no_batch_dims": cp.offload_dot_with_no_batch_dims(
            "device", "pinned_host"),
        "save_and_offload_only_these_names": cp.save_and_offload_only_these_names(
            names_which_can_be_saved=["h"], names_which_can_be_offloaded=["a"],
            offload_src="device", offload_dst="pinned_host"),
        "custom (jax calling convention)": lambda prim, *avals, **params: (
            str(prim) == "exp" and avals[0].shape == (5, 4)),
    }


OURS, JAXS = policies(FCP), policies(JCP)
OFFLOADING = {"offload_dot_with_no_batch_dims", "save_and_offload_only_these_names"}


def ckpt(lib, f, policy):
    return lib.checkpoint(f) if policy is None else lib.checkpoint(f, policy=policy)


def printed(print_fn, *args, capsys, **kwargs) -> list[str]:
    print_fn(*args, **kwargs)
    lines = capsys.readouterr().out.splitlines()
    # JAX ends "output of"/"named" lines with " from file.py:12:8 (fn)" (or " from " when
    # it has no location); ours records no source locations. JAX also lists Python scalars
    # the backward pass multiplies by ("f32[] from a literal"); ours writes them into the
    # backward program, so they are not residuals (they take no memory either way).
    return [re.sub(r" from (\S+:\d+(:\d+)? \(.*\))?$", "", ln) for ln in lines
            if not ln.endswith("from a literal")]


# ---------------------------------------------------------------------------------------
# The set of saved residuals

def test_all_of_jax_policies_exist():
    jax_names = {k for k in vars(JCP) if not k.startswith("_")}
    assert jax_names <= set(vars(FCP)), jax_names - set(vars(FCP))
    for name in ("checkpoint", "checkpoint_name", "print_saved_residuals",
                 "checkpoint_policies"):
        assert hasattr(adc, name), name
    assert fl.ad_checkpoint is adc
    assert FCP.checkpoint_dots is FCP.dots_saveable
    assert FCP.checkpoint_dots_with_no_batch_dims is FCP.dots_with_no_batch_dims_saveable


@pytest.mark.parametrize("policy", [p for p in OURS if p not in OFFLOADING])
def test_saved_residuals_match_jax(policy, capsys):
    got = printed(adc.print_saved_residuals, ckpt(fl, F, OURS[policy]), PARAMS, X,
                  capsys=capsys)
    want = printed(jax_adc.print_saved_residuals, ckpt(jax, JF, JAXS[policy]), PARAMS, X,
                   capsys=capsys)
    assert got == want


@pytest.mark.parametrize("policy", sorted(OFFLOADING))
def test_offloading_policies_save_on_the_device(policy, capsys):
    """Offloading is accepted and saves the values JAX offloads, on the device: the same
    residual shapes as JAX's (which marks the offloaded ones ``<host>``)."""
    got = printed(adc.print_saved_residuals, ckpt(fl, F, OURS[policy]), PARAMS, X,
                  capsys=capsys)
    want = printed(jax_adc.print_saved_residuals, ckpt(jax, JF, JAXS[policy]), PARAMS, X,
                   capsys=capsys)
    shape = re.compile(r"^(\S+)")
    assert sorted(shape.match(g)[1] for g in got) == \
        sorted(shape.match(w)[1].replace("<host>", "") for w in want)
    saving = {"offload_dot_with_no_batch_dims": FCP.dots_with_no_batch_dims_saveable,
              "save_and_offload_only_these_names": FCP.save_only_these_names("a", "h")}
    assert got == printed(adc.print_saved_residuals, ckpt(fl, F, saving[policy]), PARAMS, X,
                          capsys=capsys)


def test_saved_residuals_without_checkpoint_match_jax(capsys):
    got = printed(adc.print_saved_residuals, F, PARAMS, X, capsys=capsys)
    want = printed(jax_adc.print_saved_residuals, JF, PARAMS, X, capsys=capsys)
    assert got == want
    # (as JAX's, its arguments may be keyword arguments and *args)
    g = lambda p, *xs, scale: fnp.sum(fnp.sin(xs[0] @ p["w1"]) * scale)  # noqa: E731
    jg = lambda p, *xs, scale: jnp.sum(jnp.sin(xs[0] @ p["w1"]) * scale)  # noqa: E731
    assert printed(adc.print_saved_residuals, g, PARAMS, X, scale=X[0, 0], capsys=capsys) == \
        printed(jax_adc.print_saved_residuals, jg, PARAMS, X, scale=X[0, 0], capsys=capsys)


def test_save_only_these_names_saves_exactly_the_named_values(capsys):
    for names in [("h",), ("a", "b"), ("a", "h", "b"), ()]:
        res = adc.saved_residuals(fl.checkpoint(F, policy=FCP.save_only_these_names(*names)),
                                  PARAMS, X)
        computed = [what for _, what in res if not what.startswith("from the argument")]
        assert computed == [f"named '{n}'" for n in ("a", "h", "b") if n in names]
    # Under jit too, and on the pytree of values checkpoint_name labels.
    def two(x):
        s, c = adc.checkpoint_name((fnp.sin(x), fnp.cos(x)), "sc")
        return fnp.sum(fnp.exp(s) * fnp.exp(c))

    def jtwo(x):
        s, c = jax_adc.checkpoint_name((jnp.sin(x), jnp.cos(x)), "sc")
        return jnp.sum(jnp.exp(s) * jnp.exp(c))
    f = fl.checkpoint(two, policy=FCP.save_only_these_names("sc"))
    jf = jax.checkpoint(jtwo, policy=JCP.save_only_these_names("sc"))
    got = printed(adc.print_saved_residuals, f, X, capsys=capsys)
    assert got == ["f32[5,3] from the argument x"] + ["f32[5,3] named 'sc'"] * 2
    assert got == printed(jax_adc.print_saved_residuals, jf, X, capsys=capsys)
    assert_tree_close(fl.grad(f)(X), jax.grad(jf)(X))
    assert_tree_close(fl.jit(fl.grad(f))(X), jax.jit(jax.grad(jf))(X))


def test_inputs_the_backward_pass_does_not_read_are_not_saved(capsys):
    # y only enters linearly with a constant factor: its value is not needed to
    # differentiate, so (as in JAX) it is not kept alive for the backward pass.
    f = fl.checkpoint(lambda x, y: fnp.sum(fnp.sin(x) + 2.0 * y))
    jf = jax.checkpoint(lambda x, y: jnp.sum(jnp.sin(x) + 2.0 * y))
    got = printed(adc.print_saved_residuals, f, X, X, capsys=capsys)
    assert got == printed(jax_adc.print_saved_residuals, jf, X, X, capsys=capsys)
    assert got == ["f32[5,3] from the argument x"]


# ---------------------------------------------------------------------------------------
# Gradients

@pytest.mark.parametrize("wrap", ["eager", "jit"])
@pytest.mark.parametrize("policy", list(OURS))
def test_gradients_match_jax_for_every_policy(policy, wrap):
    w = fl.jit if wrap == "jit" else (lambda f: f)
    f = ckpt(fl, F, OURS[policy])
    got_v, got_g = w(fl.value_and_grad(f, argnums=(0, 1)))(PARAMS, X)
    want_v, want_g = jax.value_and_grad(ckpt(jax, JF, JAXS[policy]), argnums=(0, 1))(PARAMS, X)
    np.testing.assert_allclose(got_v, want_v, rtol=1e-5)
    assert_tree_close(got_g, want_g, rtol=1e-4, atol=1e-5)


def test_policies_inside_scan_and_nested_checkpoints():
    def model(lib, np_, lax_, name, cp):
        inner = lib.checkpoint(lambda w, h: name(np_.sin(h @ w), "act"),
                               policy=cp.save_only_these_names("act"))

        def step(h, w):
            return inner(w, h), np_.sum(h)

        body = lib.checkpoint(lambda ws, x: lax_.scan(step, x, ws),
                              policy=cp.dots_with_no_batch_dims_saveable)

        def loss(ws, x):
            h, sums = body(ws, x)
            return np_.sum(np_.exp(h * 0.1)) + np_.sum(sums)
        return loss

    ws = rand(5, 3, 3, 3, scale=0.5)
    f = model(fl, fnp, fl.lax, adc.checkpoint_name, FCP)
    jf = model(jax, jnp, jax.lax, jax_adc.checkpoint_name, JCP)
    want = jax.grad(jf, argnums=(0, 1))(ws, X)
    assert_tree_close(fl.grad(f, argnums=(0, 1))(ws, X), want, rtol=1e-4)
    assert_tree_close(fl.jit(fl.grad(f, argnums=(0, 1)))(ws, X), want, rtol=1e-4)
    assert_tree_close(fl.jit(fl.vmap(fl.grad(f), in_axes=(None, 0)))(ws, X[:, None]),
                      jax.vmap(jax.grad(jf), in_axes=(None, 0))(ws, X[:, None]), rtol=1e-4)


# ---------------------------------------------------------------------------------------
# checkpoint_name itself, the policy helpers' errors, checkpoint's JAX arguments

def test_checkpoint_name_is_the_identity_everywhere():
    def g(lib, np_, name):
        return lambda x: np_.sum(np_.sin(name(x * 2.0, "y")) ** 2)
    f, jf = g(fl, fnp, adc.checkpoint_name), g(jax, jnp, jax_adc.checkpoint_name)
    np.testing.assert_array_equal(adc.checkpoint_name(X, "x"), X)
    assert_tree_close(f(X), jf(X))
    assert_tree_close(fl.jit(f)(X), jax.jit(jf)(X))
    assert_tree_close(fl.grad(f)(X), jax.grad(jf)(X))
    assert_tree_close(fl.jvp(f, (X,), (X,)), jax.jvp(jf, (X,), (X,)))
    assert_tree_close(fl.vmap(fl.grad(f))(X), jax.vmap(jax.grad(jf))(X))
    assert_tree_close(fl.jit(fl.hessian(f))(X[0]), jax.hessian(jf)(X[0]), rtol=1e-4)
    # The label is in the staged program (where policies see it), not in XLA's.
    assert "name" in str(fl.make_ir(f)(X))
    unnamed = g(fl, fnp, lambda x, name: x)
    assert fl.jit(f).lower(X).as_text() == fl.jit(unnamed).lower(X).as_text()
    with pytest.raises(TypeError, match="name must be a str"):
        adc.checkpoint_name(X, 3)


def test_name_primitive_rules():
    """The ``name`` primitive's rules against the oracles every primitive is checked with:
    finite differences and the vjp identity, a loop over the batch, the transpose of the
    identity, and the lowering against eager evaluation."""
    f = lambda x: fnp.sin(name_p.bind(x * x, name="h"))  # noqa: E731
    with x64():
        check_grads(f, [np.linspace(-1.0, 1.0, 6).reshape(2, 3)])
    check_batching(f, [X], [1])
    np.testing.assert_array_equal(fl.jit(f)(X), f(X))
    a, b = Var(get_aval(X)), Var(get_aval(X))
    linear = Program([], [a], [Eqn(name_p, [a], [b], {"name": "h"})], [b])
    (ct,) = transpose.backward_pass(linear, [], [transpose.UndefinedPrimal(a.aval)], [X * 2])
    np.testing.assert_array_equal(ct, X * 2)


def test_policy_helper_errors_match_jax():
    nonbool = lambda *_, **__: JCP.save_only_these_names("h")  # noqa: E731
    for cp, lib, np_, name in [(JCP, jax, jnp, jax_adc.checkpoint_name),
                               (FCP, fl, fnp, adc.checkpoint_name)]:
        with pytest.raises(ValueError):
            cp.save_and_offload_only_these_names(
                names_which_can_be_saved=["a"], names_which_can_be_offloaded=["a"],
                offload_src="device", offload_dst="pinned_host")
        both = cp.save_from_both_policies(cp.offload_dot_with_no_batch_dims("device",
                                                                              "pinned_host"),
                                          cp.nothing_saveable)
        with pytest.raises(ValueError):
            lib.grad(lib.checkpoint(mlp(lib, np_, name), policy=both))(PARAMS, X)
    with pytest.raises(TypeError, match="checkpoint policy must return"):
        fl.grad(fl.checkpoint(F, policy=nonbool))(PARAMS, X)


def test_checkpoint_keyword_and_static_arguments_as_jax():
    def g(np_):
        def f(x, n, *, scale, mode="sin"):
            for _ in range(n):
                x = (np_.sin if mode == "sin" else np_.cos)(x) * scale
            return np_.sum(x)
        return f
    # Array keyword arguments, a static positional one.
    f = fl.checkpoint(g(fnp), static_argnums=1)
    jf = jax.checkpoint(g(jnp), static_argnums=1)
    assert_tree_close(fl.grad(lambda x, s: f(x, 3, scale=s), argnums=(0, 1))(X, 1.5),
                      jax.grad(lambda x, s: jf(x, 3, scale=s), argnums=(0, 1))(X, 1.5))
    with pytest.raises(ValueError, match="static_argnums"):
        fl.checkpoint(g(fnp), static_argnums=2)(X, 3, scale=1.0)
    with pytest.raises(ValueError, match="static_argnums"):
        jax.checkpoint(g(jnp), static_argnums=2)(X, 3, scale=1.0)
    # static_argnames: a keyword the function branches on (JAX 0.10 accepts the option but
    # only its experimental remat honours it; the result is the one with the value bound).
    f = fl.checkpoint(g(fnp), static_argnums=1, static_argnames="mode")
    for mode in ("sin", "cos"):
        bound = jax.checkpoint(lambda x, n, s: g(jnp)(x, n, scale=s, mode=mode),
                               static_argnums=1)
        assert_tree_close(fl.grad(lambda x: f(x, 3, scale=1.5, mode=mode))(X),
                          jax.grad(lambda x: bound(x, 3, 1.5))(X))
    # prevent_cse may be one bool per argument
    h = fl.checkpoint(lambda x, y: fnp.sum(fnp.sin(x * y)), prevent_cse=(True, False))
    jh = jax.checkpoint(lambda x, y: jnp.sum(jnp.sin(x * y)), prevent_cse=(True, False))
    assert_tree_close(fl.jit(fl.grad(h))(X, X), jax.grad(jh)(X, X))


def test_saved_residuals_under_jit_match_jax(capsys):
    # (a checkpoint's known outputs used to be kept as unread residuals under jit)
    def two(np_, name):
        def f(x):
            s, c = name((np_.sin(x), np_.cos(x)), "sc")
            return np_.sum(np_.exp(s) * np_.exp(c))
        return f
    f, jf = two(fnp, adc.checkpoint_name), two(jnp, jax_adc.checkpoint_name)
    for ours, theirs in [
            (fl.jit(f), jax.jit(jf)),
            (fl.jit(fl.checkpoint(f, policy=FCP.save_only_these_names("sc"))),
             jax.jit(jax.checkpoint(jf, policy=JCP.save_only_these_names("sc"))))]:
        got = printed(adc.print_saved_residuals, ours, X, capsys=capsys)
        assert got == printed(jax_adc.print_saved_residuals, theirs, X, capsys=capsys)
        assert "f32[5,3] output of jitted function 'f'" in got


@pytest.mark.parametrize("policy", ["default", "everything_saveable", "nothing_saveable"])
def test_saved_residuals_with_a_jitted_function_inside_match_jax(policy, capsys):
    # (everything_saveable used to also save an output of the inner jit nobody reads)
    def mk(lib, np_):
        inner = lib.jit(lambda w, x: np_.sin(x @ w))
        return lambda w, x: np_.sum(np_.sin(inner(w, x)))
    w = rand(5, 3, 4)
    got = printed(adc.print_saved_residuals, ckpt(fl, mk(fl, fnp), OURS[policy]), w, X,
                  capsys=capsys)
    assert got == printed(jax_adc.print_saved_residuals, ckpt(jax, mk(jax, jnp), JAXS[policy]),
                          w, X, capsys=capsys)
    assert_tree_close(fl.grad(ckpt(fl, mk(fl, fnp), OURS[policy]), argnums=(0, 1))(w, X),
                      jax.grad(ckpt(jax, mk(jax, jnp), JAXS[policy]), argnums=(0, 1))(w, X))
