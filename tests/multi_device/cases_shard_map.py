"""shard_map over 8 host devices: every collective equals its vmap counterpart (the same
per-member function, the devices in the role of the batch members), and so do their
gradients; JAX's shard_map agrees on the forward values; transformations of shard_map.

Run by tests/multi_device/test_on_8_devices.py in a fresh interpreter with 8 devices."""
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

MESH = fl.make_mesh((8,), ("i",))
MESH2 = fl.make_mesh((4, 2), ("a", "b"))
PERM = [(0, 3), (3, 1), (1, 0), (2, 5), (5, 2), (4, 7), (7, 6), (6, 4)]

# name -> (per-member function of a (2, 8) block, in the library `lib`)
COLLECTIVES = {
    "psum": lambda lib, x: lib.lax.psum(x, "i"),
    "pmean": lambda lib, x: lib.lax.pmean(x, "i"),
    "pmax": lambda lib, x: lib.lax.pmax(x, "i"),
    "pmin": lambda lib, x: lib.lax.pmin(x, "i"),
    "all_gather": lambda lib, x: lib.lax.all_gather(x, "i", axis=1),
    "all_gather_tiled": lambda lib, x: lib.lax.all_gather(x, "i", axis=0, tiled=True),
    "psum_scatter_tiled": lambda lib, x: lib.lax.psum_scatter(x, "i", scatter_dimension=1,
                                                              tiled=True),
    "psum_scatter": lambda lib, x: lib.lax.psum_scatter(x, "i", scatter_dimension=1),
    "ppermute": lambda lib, x: lib.lax.ppermute(x, "i", PERM),
    "all_to_all_tiled": lambda lib, x: lib.lax.all_to_all(x, "i", 1, 0, tiled=True),
    "all_to_all": lambda lib, x: lib.lax.all_to_all(x, "i", 1, 0),
    "axis_index": lambda lib, x: x * lib.lax.axis_index("i").astype(x.dtype),
}


def _via_shard_map(name, x):
    f = lambda blk: COLLECTIVES[name](fl, blk)
    return fl.shard_map(f, mesh=MESH, in_specs=P("i"), out_specs=P("i"))(x)


def _via_vmap(name, x):
    f = lambda blk: COLLECTIVES[name](fl, blk)
    out = fl.vmap(f, axis_name="i")(x.reshape(8, 2, 8))
    return out.reshape((-1,) + out.shape[2:])


@pytest.mark.parametrize("name", sorted(COLLECTIVES))
def test_collective_equals_its_vmap_counterpart_and_gradient(name):
    x = rand(0, 16, 8)
    assert_tree_close(_via_shard_map(name, x), _via_vmap(name, x), rtol=1e-6, atol=1e-6)
    assert_tree_close(fl.jit(lambda v: _via_shard_map(name, v))(x), _via_vmap(name, x),
                      rtol=1e-6, atol=1e-6)
    if name == "axis_index":
        return
    w = rand(1, *np.shape(_via_vmap(name, x)))
    g = fl.grad(lambda v: fnp.sum(_via_shard_map(name, v) * w))(x)
    gv = fl.grad(lambda v: fnp.sum(_via_vmap(name, v) * w))(x)
    assert_tree_close(g, gv, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["psum", "all_gather_tiled", "ppermute", "all_to_all_tiled",
                                  "psum_scatter_tiled", "axis_index"])
def test_collective_forward_matches_jaxs_shard_map(name):
    x = rand(2, 16, 8)
    mesh = jax.sharding.Mesh(np.array(jax.devices()[:8]), ("i",))
    spec = jax.sharding.PartitionSpec("i")
    theirs = jax.shard_map(lambda blk: COLLECTIVES[name](jax, blk), mesh=mesh,
                           in_specs=spec, out_specs=spec, check_vma=False)(x)
    assert_tree_close(_via_shard_map(name, x), np.asarray(theirs), rtol=1e-6, atol=1e-6)


def test_two_axis_mesh_collectives_and_replicated_outputs():
    x = rand(3, 8, 6)
    f = fl.shard_map(lambda blk: lax.psum(fnp.sum(blk), ("a", "b")), mesh=MESH2,
                     in_specs=P("a", "b"), out_specs=P())
    assert_tree_close(f(x), np.float32(x.sum()), rtol=1e-5, atol=1e-4)
    # a replicated output's gradient is taken once, not once per device
    assert_tree_close(fl.grad(lambda v: f(v) ** 2)(x), 2 * x.sum() * np.ones_like(x),
                      rtol=1e-5, atol=1e-3)
    idx = fl.shard_map(lambda blk: fnp.zeros((1, 1)) + lax.axis_index(("a", "b")),
                       mesh=MESH2, in_specs=P("a", "b"), out_specs=P("a", "b"))(x)
    np.testing.assert_array_equal(np.asarray(idx), np.arange(8).reshape(4, 2))


def test_replicated_inputs_sum_their_gradients_over_devices():
    x, w = rand(4, 16, 8), rand(5, 8, 3)
    f = fl.shard_map(lambda blk, ww: blk @ ww, mesh=MESH, in_specs=(P("i"), P()),
                     out_specs=P("i"))
    loss = lambda ww: fnp.sum(fnp.tanh(f(x, ww)))
    assert_tree_close(fl.grad(loss)(w), jax.grad(lambda ww: jnp.sum(jnp.tanh(x @ ww)))(w),
                      rtol=1e-5, atol=1e-5)


def test_shard_map_composes_with_jit_vmap_and_jvp():
    x = rand(6, 16, 8)
    f = fl.shard_map(lambda blk: fnp.sin(blk) * lax.psum(fnp.sum(blk), "i"), mesh=MESH,
                     in_specs=P("i"), out_specs=P("i"))
    want = np.sin(x) * x.sum()
    assert_tree_close(fl.jit(f)(x), want, rtol=1e-5, atol=1e-4)
    xb = rand(7, 3, 16, 8)
    assert_tree_close(fl.vmap(f)(xb), np.sin(xb) * xb.sum((1, 2), keepdims=True),
                      rtol=1e-5, atol=1e-4)
    t = rand(8, 16, 8)
    _, tan = fl.jvp(f, (x,), (t,))
    assert_tree_close(tan, np.cos(x) * t * x.sum() + np.sin(x) * t.sum(), rtol=1e-4,
                      atol=1e-3)
    out = fl.jit(f)(fl.device_put(x, NamedSharding(MESH, P("i"))))
    assert out.sharding == NamedSharding(MESH, P("i"))


def test_shard_map_errors():
    with pytest.raises(ValueError, match="not divisible by 8"):
        fl.shard_map(lambda b: b, mesh=MESH, in_specs=P("i"), out_specs=P("i"))(np.ones(12))
    with pytest.raises(ValueError, match="'j', which the mesh"):
        fl.shard_map(lambda b: b, mesh=MESH, in_specs=P("j"), out_specs=P("i"))(np.ones(8))
    with pytest.raises(NameError, match="unbound axis name 'k'"):
        fl.shard_map(lambda b: lax.psum(b, "k"), mesh=MESH, in_specs=P("i"),
                     out_specs=P("i"))(np.ones(8))
