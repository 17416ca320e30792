"""SPMD over 8 host devices, against JAX (same devices, same specs) and the unsharded run.

Not collected by the main run (XLA makes its host devices once, at start-up):
``tests/multi_device/test_on_8_devices.py`` runs this module in a fresh interpreter with
``--xla_force_host_platform_device_count=8``.
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite import lax
from functorch_lite.sharding import NamedSharding, P
from helpers import assert_tree_close, rand

assert len(fl.devices()) == 8, "run with --xla_force_host_platform_device_count=8"

MESH = fl.make_mesh((4, 2), ("data", "model"))
JMESH = jax.sharding.Mesh(np.array(jax.devices()[:8]).reshape(4, 2), ("data", "model"))
SPECS = [P(), P("data"), P(None, "model"), P("data", "model"), P("model", "data"),
         P(("data", "model")), P(None, ("model", "data")), P("model")]


def ours(spec):
    return NamedSharding(MESH, spec)


def theirs(spec):
    return jax.sharding.NamedSharding(JMESH, jax.sharding.PartitionSpec(*spec))


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_device_put_lays_out_shards_as_jax_does(spec):
    x = rand(0, 8, 16)
    a, b = fl.device_put(x, ours(spec)), jax.device_put(x, theirs(spec))
    got = {s.device.id: (s.index, np.asarray(s.data)) for s in a.addressable_shards}
    want = {s.device.id: (s.index, np.asarray(s.data)) for s in b.addressable_shards}
    assert got.keys() == want.keys()
    for d in got:
        assert got[d][0] == want[d][0], (d, got[d][0], want[d][0])
        np.testing.assert_array_equal(got[d][1], want[d][1])
    assert a.is_fully_replicated == b.is_fully_replicated
    assert ours(spec).shard_shape(x.shape) == theirs(spec).shard_shape(x.shape)
    assert ours(spec).devices_indices_map(x.shape) == {
        fl.devices()[d.id]: i for d, i in theirs(spec).devices_indices_map(x.shape).items()}
    np.testing.assert_array_equal(np.asarray(a), x)


@pytest.mark.parametrize("spec", [P("data"), P("data", "model"), P(None, "model")], ids=str)
def test_eager_ops_run_partitioned_and_keep_the_layout(spec):
    x, y = rand(1, 8, 16), rand(2, 8, 16)
    a, b = fl.device_put(x, ours(spec)), fl.device_put(y, ours(spec))
    for f in (lambda u, v: u * v + 1.0, lambda u, v: fnp.tanh(u) - v):
        out = f(a, b)
        assert out.sharding == ours(spec), out.sharding
        assert_tree_close(out, f(fnp.asarray(x), fnp.asarray(y)))
    total = fnp.sum(a)
    assert_tree_close(total, np.float32(x.sum()), rtol=1e-5, atol=1e-4)
    # JAX gives the same layouts to the results
    ja, jb = jax.device_put(x, theirs(spec)), jax.device_put(y, theirs(spec))
    assert (ja * jb).sharding.is_equivalent_to(theirs(spec), 2)


def _mlp_params(seed=3):
    return {"w1": rand(seed, 16, 32) * 0.3, "b1": rand(seed + 1, 32) * 0.1,
            "w2": rand(seed + 2, 32, 8) * 0.3, "b2": rand(seed + 3, 8) * 0.1}


def _loss(p, x, y):
    h = fnp.tanh(x @ p["w1"] + p["b1"])
    return fnp.mean((h @ p["w2"] + p["b2"] - y) ** 2)


def _step(p, x, y):
    loss, g = fl.value_and_grad(_loss)(p, x, y)
    return loss, g, fl.tree.map(lambda a, b: a - 0.05 * b, p, g)


PARAM_SPECS = {
    "batch": {"w1": P(), "b1": P(), "w2": P(), "b2": P()},
    "model": {"w1": P(None, "model"), "b1": P("model"), "w2": P("model", None), "b2": P()},
    "both": {"w1": P(None, "model"), "b1": P("model"), "w2": P("model", None), "b2": P()},
}
DATA_SPECS = {"batch": P(("data", "model")), "model": P(), "both": P("data")}


@pytest.mark.parametrize("layout", list(PARAM_SPECS))
def test_sharded_train_step_equals_the_unsharded_one(layout):
    p, x, y = _mlp_params(), rand(7, 32, 16), rand(8, 32, 8)
    want = fl.jit(_step)(p, x, y)
    ps = {k: ours(s) for k, s in PARAM_SPECS[layout].items()}
    ds = ours(DATA_SPECS[layout])
    f = fl.jit(_step, in_shardings=(ps, ds, ds), out_shardings=(ours(P()), ps, ps))
    got = f(p, x, y)
    assert_tree_close(got, want, rtol=2e-5, atol=2e-6)
    assert {k: v.sharding for k, v in got[2].items()} == ps
    # the same again: one trace, the same compiled program
    assert_tree_close(f(p, x, y), want, rtol=2e-5, atol=2e-6)
    assert f.trace_count() == 1


def test_data_parallel_program_all_reduces_its_gradients():
    p, x, y = _mlp_params(), rand(9, 32, 16), rand(10, 32, 8)
    rep, rows = ours(P()), ours(P(("data", "model")))
    f = fl.jit(_step, in_shardings=(rep, rows, rows))
    text = f.lower(p, x, y).compile().as_text()
    assert "all-reduce" in text
    # each device holds 32 / 8 = 4 rows
    assert "f32[4,16]" in text
    unsharded = fl.jit(_step).lower(p, x, y).compile().as_text()
    assert "all-reduce" not in unsharded


def test_shardings_come_from_the_arguments_and_outputs_keep_xlas_choice():
    p, x, y = _mlp_params(), rand(11, 32, 16), rand(12, 32, 8)
    xs, ys = fl.device_put(x, ours(P("data"))), fl.device_put(y, ours(P("data")))
    loss, g, new = fl.jit(_step)(p, xs, ys)
    assert loss.sharding.mesh == MESH and loss.sharding.is_fully_replicated
    assert_tree_close((loss, g), fl.jit(_step)(p, x, y)[:2], rtol=2e-5, atol=2e-6)


def test_compile_cache_keys_include_shardings():
    x = rand(13, 8, 16)
    f = lambda a: a * 2.0
    rows = fl.jit(f, out_shardings=ours(P("data")))(x)
    cols = fl.jit(f, out_shardings=ours(P(None, "model")))(x)
    assert rows.sharding.spec == P("data") and cols.sharding.spec == P(None, "model")
    assert_tree_close(rows, cols)


def test_with_sharding_constraint_inside_jit_and_its_derivatives():
    x, w = rand(14, 8, 16), rand(15, 16, 16)

    def f(a, b):
        h = lax.with_sharding_constraint(a @ b, ours(P("data", "model")))
        return fnp.sum(fnp.tanh(h))

    text = fl.jit(f).lower(x, w).as_text()
    assert "sdy.sharding_constraint" in text
    g = fl.jit(fl.grad(f, argnums=(0, 1)))(x, w)
    jg = jax.grad(lambda a, b: jnp.sum(jnp.tanh(a @ b)), argnums=(0, 1))(x, w)
    assert_tree_close(g, jg, rtol=1e-4, atol=1e-5)
    v = fl.jit(fl.vmap(lambda r: fnp.sum(lax.with_sharding_constraint(r @ w, ours(
        P("model"))))))(x)
    assert_tree_close(v, np.asarray(jnp.sum(x @ w, axis=1)), rtol=1e-4, atol=1e-4)
    inner = fl.jit(lambda a: lax.with_sharding_constraint(a * 2, ours(P(None, "model"))))
    assert inner(x).sharding == ours(P(None, "model"))


def test_control_flow_inside_a_sharded_jit():
    x = fl.device_put(rand(16, 8, 16), ours(P("data")))

    def body(c, row):
        return c + fnp.sum(fnp.sin(row)), fnp.cos(row)

    c, ys = fl.jit(lambda a: lax.scan(body, 0.0, a))(x)
    assert_tree_close((c, ys), lax.scan(body, 0.0, np.asarray(x)), rtol=1e-5, atol=1e-5)
    out = fl.jit(lambda a: lax.cond(fnp.sum(a) > 0, lambda v: v * 2, lambda v: -v, a))(x)
    assert out.sharding.mesh == MESH
    n = fl.jit(lambda a: lax.fori_loop(0, 3, lambda i, v: v * 0.5, a))(x)
    assert_tree_close(n, np.asarray(x) * 0.125)


def test_errors_name_the_array_its_shape_the_spec_and_the_mesh():
    with pytest.raises(ValueError, match=r"argument params\['w'\] of shape \(6, 4\).*"
                       r"dimension 0 \(size 6\) is not divisible by 4.*'data'"):
        fl.jit(lambda params: params["w"] * 2, in_shardings=({"w": ours(P("data"))},))(
            {"w": np.ones((6, 4), np.float32)})
    with pytest.raises(ValueError, match="names the axis 'batch', which the mesh"):
        ours(P("batch"))
    with pytest.raises(ValueError, match="needs 16 devices, but only 8"):
        fl.make_mesh((4, 4), ("a", "b"))
    with pytest.raises(ValueError, match="in_shardings does not match the structure"):
        fl.jit(lambda a, b: a + b, in_shardings=(ours(P()), ours(P()), ours(P())))(
            np.ones(8), np.ones(8))
    other = fl.make_mesh((2,), ("x",), devices=fl.devices()[6:])
    a = fl.device_put(np.ones(8, np.float32), ours(P("data")))
    b = fl.device_put(np.ones(8, np.float32), NamedSharding(other, P("x")))
    with pytest.raises(ValueError, match=r"incompatible devices.*\[0, 1, 2, 3, 4, 5, 6, 7\]"
                       r".*\[6, 7\]"):
        a + b
    c, d = fl.device_put(np.ones(3), fl.devices()[1]), fl.device_put(np.ones(3), fl.devices()[2])
    with pytest.raises(ValueError, match="cpu:1.*cpu:2"):
        c * d


def test_an_array_over_several_devices_exports_no_single_dlpack_buffer():
    a = fl.device_put(rand(0, 8, 16), ours(P("data")))
    with pytest.raises(ValueError, match="is on 8 devices"):
        a.__dlpack__()
    # A shard is one buffer and exports.
    shard = a.addressable_shards[0]
    np.testing.assert_array_equal(np.from_dlpack(shard.data), np.asarray(shard.data))


def test_host_callbacks_are_refused_in_a_partitioned_program():
    f = fl.jit(lambda x: (fl.debug.print("{}", x), x * 2)[1],
               in_shardings=ours(P("data")))
    with pytest.raises(NotImplementedError, match="partitioned over several devices"):
        f(rand(0, 8, 16))
    # Eagerly, a sharded array prints its whole value.
    fl.debug.callback(lambda v: None if v.shape == (8, 16) else 1 / 0,
                      fl.device_put(rand(0, 8, 16), ours(P("data"))))


def test_an_exported_function_runs_on_sharded_arrays_and_sharded_exports_are_refused():
    spec = fl.ShapeDtypeStruct((8, 16), fnp.float32)
    exp = fl.export.export(fl.jit(lambda a: fnp.sin(a) * 2))(spec)
    x = rand(0, 8, 16)
    a = fl.device_put(x, ours(P("data")))
    want = jax.export.export(jax.jit(lambda a: jnp.sin(a) * 2))(x).call(x)
    out = exp.call(a)
    assert out.sharding == ours(P("data"))  # eagerly the partitioned program keeps the layout
    np.testing.assert_allclose(out, want, rtol=1e-6)
    np.testing.assert_allclose(fl.jit(lambda a: exp.call(a) + 1)(a), np.asarray(want) + 1,
                               rtol=1e-6)
    with pytest.raises(NotImplementedError, match="several devices"):
        fl.export.export(fl.jit(lambda a: a, in_shardings=ours(P("data"))))(a)
    with pytest.raises(NotImplementedError, match="sharding constraints"):
        fl.export.export(fl.jit(lambda a: lax.with_sharding_constraint(a, ours(P("data")))))(a)
