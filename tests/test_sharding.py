"""Shardings in one process with its one device: the descriptions (Mesh, PartitionSpec,
NamedSharding) and their errors, the SPMD path on a one-device mesh (eager, jit, with
shardings), and every rule of ``sharding_constraint``. The same machinery over 8 devices
runs in tests/test_sharding_devices.py."""
import numpy as np
import pytest

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite import lax
from functorch_lite.lax.sharding import sharding_constraint_p
from functorch_lite.sharding import Mesh, NamedSharding, P, PartitionSpec, SingleDeviceSharding
from helpers import assert_tree_close, rand
from rule_checks import check_batching, check_grads, normal, x64

MESH = fl.make_mesh((1, 1), ("data", "model"))
ROWS = NamedSharding(MESH, P("data", None))


def test_partition_spec_is_a_tuple_with_jaxs_repr():
    assert P("a", None) == ("a", None) and fl.P is P
    assert repr(P("a", ("b", "c"))) == "PartitionSpec('a', ('b', 'c'))"
    assert P("a").normalized(3) == P("a", None, None)
    assert P(("a",)).axes_of(0) == ("a",) and P().axes_of(2) == ()
    with pytest.raises(TypeError, match="axis name"):
        P(3)


def test_mesh_describes_its_devices():
    assert MESH.shape == {"data": 1, "model": 1} and MESH.size == 1
    assert MESH.axis_names == ("data", "model") and repr(MESH) == "Mesh('data': 1, 'model': 1)"
    assert MESH == Mesh(np.array(fl.devices()[:1]).reshape(1, 1), ("data", "model"))
    assert hash(MESH) == hash(fl.make_mesh((1, 1), ("data", "model")))
    with pytest.raises(ValueError, match="needs 2 devices, but only 1"):
        fl.make_mesh((2,), ("x",))
    with pytest.raises(ValueError, match="one name per dimension"):
        Mesh(np.array(fl.devices()[:1]), ("a", "b"))
    with pytest.raises(ValueError, match="distinct"):
        Mesh(np.array(fl.devices()[:1]).reshape(1, 1), ("a", "a"))


def test_named_sharding_checks_its_spec_against_the_mesh():
    with pytest.raises(ValueError, match="'nope', which the mesh .* lacks"):
        NamedSharding(MESH, P("nope"))
    with pytest.raises(ValueError, match="more than once"):
        NamedSharding(MESH, P("data", "data"))
    with pytest.raises(ValueError, match=r"2 entries for 1 dimensions"):
        ROWS.check_shape((4,), "x")
    assert NamedSharding(MESH, P("data")) == NamedSharding(MESH, P("data", None))
    assert NamedSharding(MESH, P(("data",))) == NamedSharding(MESH, P("data"))
    assert ROWS.is_fully_replicated and ROWS.shard_shape((4, 3)) == (4, 3)


def test_device_put_with_a_sharding_lays_the_array_out():
    x = rand(1, 4, 3)
    xs = fl.device_put(x, ROWS)
    assert xs.sharding == ROWS and xs.is_fully_replicated and xs.devices() == {fl.devices()[0]}
    np.testing.assert_array_equal(np.asarray(xs), x)
    (shard,) = xs.addressable_shards
    assert shard.device == fl.devices()[0] and shard.index == (slice(None), slice(None))
    np.testing.assert_array_equal(np.asarray(shard.data), x)
    plain = fl.device_put(x, SingleDeviceSharding(fl.devices()[0]))
    assert isinstance(plain.sharding, SingleDeviceSharding)
    tree = fl.device_put({"a": x, "b": x}, {"a": ROWS, "b": NamedSharding(MESH, P())})
    assert tree["a"].sharding == ROWS and tree["b"].sharding.spec == P()


def test_eager_ops_and_jit_on_sharded_arrays_keep_a_mesh_layout():
    x, w = rand(2, 4, 3), rand(3, 3, 2)
    xs = fl.device_put(x, ROWS)
    y = fnp.tanh(xs @ w) + 1.0
    assert isinstance(y.sharding, NamedSharding) and y.sharding.mesh == MESH
    assert_tree_close(y, np.tanh(x @ w) + 1.0)
    f = fl.jit(lambda a, b: fnp.sum(a @ b), out_shardings=NamedSharding(MESH, P()))
    out = f(xs, w)
    assert out.sharding == NamedSharding(MESH, P())
    assert_tree_close(out, np.sum(x @ w), rtol=1e-5)
    # in_shardings lay out plain arguments, and the cached trace is reused
    g = fl.jit(lambda a: a * 2, in_shardings=ROWS)
    assert g(x).sharding.mesh == MESH and g(x).sharding.mesh == MESH and g.trace_count() == 1
    assert "sdy.sharding" in g.lower(x).as_text()


def test_jit_sharding_options_are_checked():
    with pytest.raises(TypeError, match="in_shardings must hold Sharding objects"):
        fl.jit(lambda a: a, in_shardings="data")
    f = fl.jit(lambda a, b: a + b, in_shardings=(ROWS,))
    with pytest.raises(ValueError, match="in_shardings does not match the structure"):
        f(rand(4, 4, 3), rand(5, 4, 3))
    with pytest.raises(ValueError, match=r"argument a of shape \(4,\).*2 entries"):
        fl.jit(lambda a: a, in_shardings=ROWS)(rand(6, 4))


def test_with_sharding_constraint_is_the_identity_on_values():
    x = rand(7, 4, 3)
    y = lax.with_sharding_constraint(x, ROWS)
    assert y.sharding == ROWS
    assert_tree_close(y, x)
    f = fl.jit(lambda a: lax.with_sharding_constraint(fnp.sin(a), ROWS) * 2)
    assert_tree_close(f(x), np.sin(x) * 2)
    assert "sharding_constraint" in str(fl.make_ir(lambda a: lax.with_sharding_constraint(
        a, ROWS))(x))
    with MESH:  # a bare PartitionSpec uses the mesh of the `with` block
        assert lax.with_sharding_constraint(x, P("data")).sharding.spec == P("data")
    with pytest.raises(ValueError, match="needs a mesh"):
        lax.with_sharding_constraint(x, P("data"))


def _constrain(x):
    return sharding_constraint_p.bind(x, sharding=ROWS)


def test_sharding_constraint_rules():
    with x64():
        check_grads(_constrain, (normal((4, 3)),), order=2)  # jvp vs differences, transpose
    check_batching(lambda a: sharding_constraint_p.bind(
        a, sharding=NamedSharding(MESH, P("data"))), (rand(8, 5, 4, 3),), in_axes=(0,))
    check_batching(_constrain, (rand(9, 4, 3, 5),), in_axes=(2,))
    # under vmap the new batch dimension is left unsplit
    prog = fl.make_ir(fl.vmap(lambda a: sharding_constraint_p.bind(a, sharding=ROWS)))(
        rand(10, 2, 4, 3))
    (eqn,) = [e for e in prog.eqns if e.primitive is sharding_constraint_p]
    assert eqn.params["sharding"].spec == PartitionSpec(None, "data", None)
    x = rand(11, 4, 3)
    g = fl.grad(lambda a: fnp.sum(lax.with_sharding_constraint(a, ROWS) ** 2))(x)
    assert_tree_close(g, 2 * x)


def test_tracers_have_no_layout_as_in_jax():
    def f(a):
        with pytest.raises(AttributeError, match="'sharding' attribute is not available"):
            a.sharding
        for name in ("addressable_shards", "is_fully_replicated", "is_fully_addressable"):
            with pytest.raises(fl.ConcretizationTypeError):
                getattr(a, name)
        return a
    fl.jit(f)(rand(12, 3))
