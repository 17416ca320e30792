"""LSTMCell, GRUCell, RNN and Bidirectional against flax.linen (params copied across),
torch.nn.LSTMCell/GRUCell, and the cell applied in a Python loop."""
import flax.linen as flax_nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite import nn, random
from functorch_lite.nn import initializers
from functorch_lite.nn.recurrent import RNN, Bidirectional, GRUCell, LSTMCell

from helpers import assert_tree_close, rand

KEY = random.PRNGKey(0)
B, T, IN, H = 3, 5, 4, 6
CELLS = {"lstm": (LSTMCell, flax_nn.LSTMCell), "gru": (GRUCell, flax_nn.GRUCell)}
DTYPES = {"float32": (None, None, 2e-5), "bfloat16": (fnp.bfloat16, jnp.bfloat16, 6e-2)}


def shapes(tree):
    return jax.tree.map(lambda a: tuple(a.shape), tree)


def to_fl(tree):
    return jax.tree.map(lambda a: fnp.asarray(np.asarray(a)), tree)


def to_np(tree):
    return jax.tree.map(lambda a: np.asarray(a, dtype=np.float32), tree)


def flax_shapes(module, *args):
    """The shapes of Flax's params for ``module`` (traced only: nothing compiles)."""
    return shapes(jax.eval_shape(module.init, jax.random.PRNGKey(1), *args)["params"])


def flax_params(module, *args, seed=100):
    """Random params of Flax's layout for ``module`` (nonzero biases too), as NumPy: both
    implementations get the same values."""
    leaves, treedef = jax.tree.flatten(flax_shapes(module, *args),
                                       is_leaf=lambda s: isinstance(s, tuple))
    return jax.tree.unflatten(treedef, [rand(seed + i, *s, scale=0.5)
                                        for i, s in enumerate(leaves)])


def carry_of(kind, seed, shape=(B, H)):
    return (rand(seed, *shape), rand(seed + 1, *shape)) if kind == "lstm" else rand(seed, *shape)


def weights_like(tree, seed=7):
    """Fixed random cotangents, so the scalar loss exercises every output element."""
    leaves, treedef = jax.tree.flatten(tree)
    return jax.tree.unflatten(treedef, [rand(seed + i, *np.shape(a))
                                        for i, a in enumerate(leaves)])


def dot_loss(out, w, xnp):
    """sum(out * w) over the leaves, with xnp the array module (fnp or jnp)."""
    return sum(xnp.sum(a.astype(xnp.float32) * b) for a, b in
               zip(jax.tree.leaves(out), jax.tree.leaves(w)))


def check_against_flax(ours, theirs, args, tol):
    """``ours(*args)`` (functorch_lite, eager) against ``theirs(*args)`` (Flax, jitted): the
    outputs, and the gradients of ``sum(out * w)`` with respect to every argument."""
    w = weights_like(jax.eval_shape(theirs, *args))
    argnums = tuple(range(len(args)))
    loss = lambda xnp, f, ww: lambda *a: (dot_loss(out := f(*a), ww, xnp), out)  # noqa: E731
    gw, want = jax.jit(jax.grad(loss(jnp, theirs, w), argnums, has_aux=True))(*args)
    g, got = fl.grad(loss(fnp, ours, to_fl(w)), argnums, has_aux=True)(*to_fl(args))
    assert_tree_close(to_np(got), to_np(want), rtol=tol, atol=tol)
    assert [a.dtype for a in jax.tree.leaves(got)] == [a.dtype for a in jax.tree.leaves(want)]
    assert_tree_close(to_np(g), to_np(gw), rtol=tol, atol=tol)
    return got


# -- parameter layout ---------------------------------------------------------------------

def test_param_trees_equal_flax():
    # Constant kernels here, as random draws cost compile time (the orthogonal one a
    # compiled loop per matrix); test_rnn_init_jit_grad_and_per_example_vmap checks those.
    cheap = dict(kernel_init=initializers.zeros, recurrent_kernel_init=initializers.zeros)
    x = rand(0, B, T, IN)
    for kind, (ours, theirs) in CELLS.items():     # the cells alone
        carry = ours(H).initialize_carry(KEY, (B, IN))
        params, state = ours(H, **cheap).init(KEY, carry, x[:, 0])
        assert state == {}
        assert shapes(params) == flax_shapes(theirs(H), to_np(carry), x[:, 0])
    # RNN's "cell" and Bidirectional's "forward_rnn"/"backward_rnn"
    params, _ = Bidirectional(RNN(LSTMCell(H, **cheap)), RNN(GRUCell(H, **cheap))).init(KEY, x)
    flax_bi = flax_nn.Bidirectional(flax_nn.RNN(flax_nn.LSTMCell(H)),
                                    flax_nn.RNN(flax_nn.GRUCell(H)))
    assert shapes(params) == flax_shapes(flax_bi, x)
    assert shapes(params["forward_rnn"]) == flax_shapes(flax_nn.RNN(flax_nn.LSTMCell(H)), x)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_initialize_carry_shapes_and_dtype(kind):
    ours, theirs = CELLS[kind]
    for in_shape in [(B, IN), (IN,), (2, B, IN)]:
        carry = ours(H, param_dtype=fnp.bfloat16).initialize_carry(KEY, in_shape)
        want = theirs(H).initialize_carry(jax.random.PRNGKey(0), in_shape)
        assert shapes(carry) == shapes(want)
        assert all(a.dtype == fnp.bfloat16 and not np.asarray(a, np.float32).any()
                   for a in jax.tree.leaves(carry))
    assert ours(H).num_feature_axes == 1


# -- one step vs flax and torch ------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_cell_matches_flax_with_grads(kind, dtype):
    ours, theirs = CELLS[kind]
    our_dt, flax_dt, tol = DTYPES[dtype]
    x, carry = rand(0, B, IN), carry_of(kind, 1)
    flax_cell = theirs(H, dtype=flax_dt)
    params = flax_params(flax_cell, carry, x)
    cell = ours(H, dtype=our_dt)
    check_against_flax(lambda p, c, x: cell.apply(p, c, x)[0],
                       lambda p, c, x: flax_cell.apply({"params": p}, c, x),
                       (params, carry, x), tol)


def torch_to_flax(kind, tcell):
    """torch's stacked gate weights (i,f,g,o or r,z,n) as Flax's per-gate Dense params."""
    wi, wh = tcell.weight_ih.detach().numpy(), tcell.weight_hh.detach().numpy()
    bi, bh = tcell.bias_ih.detach().numpy(), tcell.bias_hh.detach().numpy()
    part = lambda a, k: a[k * H:(k + 1) * H]                    # noqa: E731
    p = {}
    if kind == "lstm":                # torch adds both biases; Flax keeps one, on the h side
        for k, g in enumerate("ifgo"):
            p["i" + g] = {"kernel": part(wi, k).T}
            p["h" + g] = {"kernel": part(wh, k).T, "bias": part(bi, k) + part(bh, k)}
    else:                             # r and z: summed biases; n: b_in and b_hn apart
        for k, g in enumerate("rz"):
            p["i" + g] = {"kernel": part(wi, k).T, "bias": part(bi, k) + part(bh, k)}
            p["h" + g] = {"kernel": part(wh, k).T}
        p["in"] = {"kernel": part(wi, 2).T, "bias": part(bi, 2)}
        p["hn"] = {"kernel": part(wh, 2).T, "bias": part(bh, 2)}
    return p


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_cell_matches_torch(kind):
    torch.manual_seed(0)
    tcell = (torch.nn.LSTMCell if kind == "lstm" else torch.nn.GRUCell)(IN, H)
    x, carry = rand(0, B, IN), carry_of(kind, 1)
    t_in = [torch.tensor(a, requires_grad=True) for a in [x, *jax.tree.leaves(carry)]]
    if kind == "lstm":                # torch's carry is (h, c), Flax's (c, h)
        th, tc = tcell(t_in[0], (t_in[2], t_in[1]))
        t_out = [tc, th]
    else:
        t_out = [tcell(t_in[0], t_in[1])]
    sum((a * (i + 1.0)).sum() for i, a in enumerate(t_out)).backward()
    cell, params = CELLS[kind][0](H), to_fl(torch_to_flax(kind, tcell))

    def loss(x, c):
        leaves = jax.tree.leaves(cell.apply(params, c, x)[0][0])
        return sum(fnp.sum(a * (i + 1.0)) for i, a in enumerate(leaves)), leaves

    grads, leaves = fl.grad(loss, (0, 1), has_aux=True)(fnp.asarray(x), to_fl(carry))
    for got, want in zip(leaves + jax.tree.leaves(grads), t_out + [t.grad for t in t_in]):
        np.testing.assert_allclose(np.asarray(got), want.detach().numpy(), atol=1e-5)


# -- RNN over time -------------------------------------------------------------------------

def loop_reference(kind, params, x, carry, reverse):
    """The cell applied step by step in Python, outputs put back in input order."""
    cell = CELLS[kind][0](H)
    steps = range(x.shape[1] - 1, -1, -1) if reverse else range(x.shape[1])
    ys = [None] * x.shape[1]
    for t in steps:
        (carry, ys[t]), _ = cell.apply(params, carry, x[:, t])
    return carry, fnp.stack(ys, axis=1)


@pytest.mark.parametrize("kind,reverse,given_carry", [
    ("lstm", False, False), ("lstm", True, True), ("gru", False, True), ("gru", True, False)])
def test_rnn_equals_the_cell_in_a_python_loop(kind, reverse, given_carry):
    x, ours = rand(0, B, T, IN), CELLS[kind][0]
    start = carry_of(kind, 1) if given_carry else to_np(ours(H).initialize_carry(KEY, (B, IN)))
    params = to_fl(flax_params(flax_nn.RNN(CELLS[kind][1](H)), x))
    (carry, ys), _ = RNN(ours(H), reverse=reverse, return_carry=True).apply(
        params, fnp.asarray(x), initial_carry=to_fl(start) if given_carry else None)
    want = loop_reference(kind, params["cell"], fnp.asarray(x), to_fl(start), reverse)
    assert ys.shape == (B, T, H)
    assert_tree_close(to_np((carry, ys)), to_np(want), 1e-5, 1e-5)
    plain, _ = RNN(ours(H), reverse=reverse).apply(params, x, initial_carry=to_fl(start))
    np.testing.assert_array_equal(np.asarray(plain), np.asarray(ys))


@pytest.mark.parametrize("kind,dtype,reverse", [
    ("lstm", "float32", False), ("gru", "float32", True), ("lstm", "bfloat16", True)])
def test_rnn_matches_flax_rnn_with_grads(kind, dtype, reverse):
    ours, theirs = CELLS[kind]
    our_dt, flax_dt, tol = DTYPES[dtype]
    x = rand(0, B, T, IN)
    flax_rnn = flax_nn.RNN(theirs(H, dtype=flax_dt), reverse=reverse, keep_order=True,
                           return_carry=True)
    params = flax_params(flax_rnn, x)
    rnn = RNN(ours(H, dtype=our_dt), reverse=reverse, return_carry=True)
    check_against_flax(lambda p, x: rnn.apply(p, x)[0],
                       lambda p, x: flax_rnn.apply({"params": p}, x), (params, x), tol)


def test_rnn_seq_lengths_and_time_major_match_flax():
    x = rand(0, T, B, IN)                                       # time-major
    lengths = np.array([2, 5, 3], np.int32)
    flax_rnn = flax_nn.RNN(flax_nn.LSTMCell(H), reverse=True, keep_order=True,
                           time_major=True, return_carry=True)
    params = flax_params(flax_rnn, x)
    rnn = RNN(LSTMCell(H), reverse=True, time_major=True, return_carry=True)
    got = check_against_flax(
        lambda p, x: rnn.apply(p, x, seq_lengths=fnp.asarray(lengths))[0],
        lambda p, x: flax_rnn.apply({"params": p}, x, seq_lengths=lengths), (params, x), 1e-5)
    assert got[1].shape == (T, B, H)
    # forward direction: the carry is the one after each sequence's last valid step
    got, _ = rnn.apply(to_fl(params), x, seq_lengths=fnp.asarray(lengths), reverse=False)
    want = jax.jit(lambda p, x: flax_rnn.apply({"params": p}, x, seq_lengths=lengths,
                                               reverse=False))(params, x)
    assert_tree_close(to_np(got), to_np(want), 1e-5, 1e-5)


def test_bidirectional_matches_flax():
    x = rand(0, B, T, IN)
    flax_bi = flax_nn.Bidirectional(flax_nn.RNN(flax_nn.GRUCell(H)),
                                    flax_nn.RNN(flax_nn.LSTMCell(H)), return_carry=True)
    params = flax_params(flax_bi, x)
    bi = Bidirectional(RNN(GRUCell(H)), RNN(LSTMCell(H)), return_carry=True)
    got, _ = bi.apply(to_fl(params), fnp.asarray(x))
    assert got[1].shape == (B, T, 2 * H)
    want = jax.jit(lambda p, x: flax_bi.apply({"params": p}, x))(params, x)
    assert_tree_close(to_np(got), to_np(want), 1e-5, 1e-5)


def test_rnn_init_jit_grad_and_per_example_vmap():
    x = fnp.asarray(rand(0, B, T, IN))
    rnn = RNN(GRUCell(H))
    params, _ = fl.jit(lambda k, x: rnn.init(k, x))(KEY, x)     # init inside jit too
    cell = params["cell"]            # Flax's defaults: orthogonal, lecun_normal, zeros
    for name in ["hr", "hz", "hn"]:
        hk = np.asarray(cell[name]["kernel"])
        np.testing.assert_allclose(hk @ hk.T, np.eye(H), atol=1e-5)
    assert 0.3 < np.std([np.asarray(cell[n]["kernel"]) for n in ["ir", "iz", "in"]]) * \
        np.sqrt(IN) < 2.0
    assert not any(np.asarray(cell[n]["bias"]).any() for n in ["ir", "iz", "in", "hn"])
    want, _ = rnn.apply(params, x)
    got = fl.jit(lambda p, x: rnn.apply(p, x)[0])(params, x)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), atol=1e-6)
    # per example: each x[i] is (time, features), its carry (features,)
    per = fl.vmap(lambda xi: rnn.apply(params, xi)[0])(x)
    np.testing.assert_allclose(np.asarray(per), np.asarray(want), atol=1e-6)
    loss = lambda p, x: fnp.sum(rnn.apply(p, x)[0] ** 2)      # noqa: E731
    g = fl.jit(fl.grad(loss))(params, x)
    per_grads = fl.jit(fl.vmap(fl.grad(loss), in_axes=(None, 0)))(params, x[:, None])
    assert_tree_close(jax.tree.map(lambda a: a.sum(0), to_np(per_grads)), to_np(g), 1e-4,
                      1e-5)


def test_bfloat16_params_keep_a_bfloat16_carry_inside_sequential():
    x = fnp.asarray(rand(0, B, T, IN))
    cell = GRUCell(H, param_dtype=fnp.bfloat16)
    cell_params = flax_params(flax_nn.RNN(flax_nn.GRUCell(H)), rand(0, B, T, IN))
    params = {"0": jax.tree.map(lambda a: fnp.asarray(a).astype(fnp.bfloat16), cell_params),
              "2": {"kernel": fnp.ones((H, 2)), "bias": fnp.zeros((2,))}}
    model = nn.Sequential([RNN(cell, return_carry=True), lambda cy: cy[1], nn.Dense(2)])
    y, _ = model.apply(params, x)
    assert y.shape == (B, T, 2) and y.dtype == fnp.float32
    (carry, ys), _ = RNN(cell, return_carry=True).apply(params["0"], x)
    assert carry.dtype == fnp.bfloat16 and ys.dtype == fnp.float32
    assert repr(RNN(cell)).startswith("RNN(GRUCell(features=6, dtype=None, param_dtype=")


# -- errors --------------------------------------------------------------------------------

def test_errors_name_the_layer_and_both_shapes():
    x = fnp.asarray(rand(0, B, T, IN))
    rnn = RNN(LSTMCell(H))
    params = to_fl(flax_params(flax_nn.RNN(flax_nn.LSTMCell(H)), rand(0, B, T, IN)))
    with pytest.raises(ValueError, match=r"RNN\.cell\.ii \(Dense\): expected input feature "
                                         r"size 4, got 3; input shape \(3, 3\)"):
        rnn.apply(params, x[..., :3])
    with pytest.raises(ValueError, match=r"RNN\.cell \(LSTMCell\): expected a carry of "
                                         r"shape \(3, 6\).*got carry shape \(3, 5\)"):
        rnn.apply(params, x, initial_carry=(fnp.zeros((B, 5)), fnp.zeros((B, 5))))
    with pytest.raises(ValueError, match=r"RNN: expected inputs of shape .*got shape \(4,\)"):
        rnn.apply(params, fnp.ones((IN,)))
    with pytest.raises(ValueError, match=r"seq_lengths must have the batch shape \(3,\), got"
                                         r" \(2,\)"):
        rnn.apply(params, x, seq_lengths=fnp.asarray([1, 2]))
    with pytest.raises(TypeError, match="recurrent cell"):
        RNN(flax_nn.LSTMCell(H))
    with pytest.raises(ValueError, match="features must be a positive int"):
        GRUCell(0)
