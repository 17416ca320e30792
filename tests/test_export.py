"""``fl.export``: export a jitted function, serialize it, load it (in this process and in a
fresh one) and call it eagerly, under jit, grad (through the serialized VJPs) and vmap.
JAX's ``jax.export`` of the same function, written with jax.numpy, is the oracle for
values, gradients, the exported types and the errors a bad call gets."""
import collections

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite import export
from functorch_lite.core import pytree
from functorch_lite.lax.exported_call import call_exported_p
from helpers import run_python

RNG = np.random.default_rng(0)
W = RNG.standard_normal((3, 4)).astype(np.float32)
B = RNG.standard_normal(4).astype(np.float32)


def ours_mlp(x, scale):
    return fnp.tanh(x @ W + B) * scale


def jax_mlp(x, scale):
    return jnp.tanh(x @ W + B) * scale


def sds(shape, dtype=np.float32):
    return fl.ShapeDtypeStruct(shape, dtype)


def roundtrip(exp, vjp_order=0):
    return export.deserialize(exp.serialize(vjp_order=vjp_order))


@pytest.fixture(scope="module")
def mlp():
    return export.export(fl.jit(ours_mlp))(sds((5, 3)), sds(()))


@pytest.fixture(scope="module")
def jax_mlp_exported():
    return jax.export.export(jax.jit(jax_mlp))(jax.ShapeDtypeStruct((5, 3), np.float32),
                                               jax.ShapeDtypeStruct((), np.float32))


def test_exported_fields_match_jax(mlp, jax_mlp_exported):
    theirs = jax_mlp_exported
    assert [(a.shape, a.dtype) for a in mlp.in_avals] == \
        [(a.shape, a.dtype) for a in theirs.in_avals]
    assert [(a.shape, a.dtype) for a in mlp.out_avals] == \
        [(a.shape, a.dtype) for a in theirs.out_avals]
    assert mlp.platforms == theirs.platforms == ("cpu",)
    assert mlp.fun_name == "ours_mlp" and mlp.nr_devices == theirs.nr_devices == 1
    assert mlp.in_tree == pytree.tree_structure(((0, 0), {}))
    assert mlp.in_tree.num_leaves == theirs.in_tree.num_leaves
    assert mlp.module_kept_var_idx == (0, 1)
    assert mlp.in_shardings_hlo == (None, None) and mlp.out_shardings_hlo == (None,)
    assert str(mlp) == "Exported(fun_name=ours_mlp, ...)"
    text = mlp.mlir_module()
    assert "func.func public @main" in text and "stablehlo.tanh" in text
    # The closed-over weights are written into the module, not taken as arguments.
    assert "tensor<5x3xf32>, %arg1: tensor<f32>)" in text


@pytest.mark.parametrize("serialized", [False, True])
def test_call_matches_jax_eagerly_and_under_jit(mlp, jax_mlp_exported, serialized):
    exp = roundtrip(mlp) if serialized else mlp
    x = RNG.standard_normal((5, 3)).astype(np.float32)
    want = jax_mlp_exported.call(x, np.float32(1.5))
    np.testing.assert_allclose(exp.call(x, np.float32(1.5)), want, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(fl.jit(lambda x: exp.call(x, 1.5) * 2)(x), 2 * np.asarray(want),
                               rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(export.call(exp)(x, 1.5), want, rtol=1e-6, atol=1e-6)


def test_grad_through_serialized_vjp_matches_jax(mlp):
    x = RNG.standard_normal((5, 3)).astype(np.float32)
    exp = roundtrip(mlp, vjp_order=1)
    assert exp.has_vjp() and not roundtrip(mlp).has_vjp()
    ours = fl.grad(lambda x, s: fnp.sum(exp.call(x, s) ** 2), argnums=(0, 1))(x, 0.7)
    theirs = jax.grad(lambda x, s: jnp.sum(jax_mlp(x, s) ** 2), argnums=(0, 1))(x, 0.7)
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(o, t, rtol=2e-5, atol=1e-6)
    # and inside jit, and before serializing (the VJP is exported when first asked for)
    jitted = fl.jit(fl.grad(lambda x: fnp.sum(mlp.call(x, 0.7) ** 2)))(x)
    np.testing.assert_allclose(jitted, theirs[0], rtol=2e-5, atol=1e-6)


def test_second_order_reverse_mode_needs_vjp_order_2():
    def f(x):
        return fnp.sum(fnp.sin(x) * x ** 2)
    x = np.linspace(-1, 1, 4).astype(np.float32)
    exp = export.export(fl.jit(f))(sds((4,)))
    two = roundtrip(exp, vjp_order=2)
    hess_diag = fl.grad(lambda x: fnp.sum(fl.grad(two.call)(x)))(x)
    want = jax.grad(lambda x: jnp.sum(jax.grad(lambda y: jnp.sum(jnp.sin(y) * y ** 2))(x)))(x)
    np.testing.assert_allclose(hess_diag, want, rtol=1e-5, atol=1e-6)
    one = roundtrip(exp, vjp_order=1)
    fl.grad(one.call)(x)  # first order is there
    with pytest.raises(ValueError, match="No VJP is available"):
        fl.grad(lambda x: fnp.sum(fl.grad(one.call)(x)))(x)


def test_grad_without_serialized_vjp_is_jaxs_error(mlp, jax_mlp_exported):
    x = np.ones((5, 3), np.float32)
    with pytest.raises(ValueError, match="No VJP is available"):
        fl.grad(lambda x: fnp.sum(roundtrip(mlp).call(x, 1.0)))(x)
    with pytest.raises(ValueError, match="high-enough"):
        roundtrip(mlp).serialize(vjp_order=1)


def test_jvp_is_refused_as_in_jax(mlp, jax_mlp_exported):
    x = np.ones((5, 3), np.float32)
    with pytest.raises(TypeError) as theirs:
        jax.jvp(lambda x: jax_mlp_exported.call(x, np.float32(1)), (x,), (x,))
    with pytest.raises(TypeError) as ours:
        fl.jvp(lambda x: mlp.call(x, 1.0), (x,), (x,))
    assert "forward-mode" in str(theirs.value) and "forward-mode" in str(ours.value)
    # the primitive's own rule, reached by binding it directly, says the same
    with pytest.raises(TypeError, match="forward-mode"):
        fl.jvp(lambda x: call_exported_p.bind(x, np.float32(1), exported=mlp), (x,), (x,))


def test_vmap_runs_the_module_per_element(mlp):
    xs = RNG.standard_normal((4, 5, 3)).astype(np.float32)
    scales = np.arange(4, dtype=np.float32)
    out = fl.vmap(mlp.call)(xs, scales)
    want = np.stack([jax_mlp(x, s) for x, s in zip(xs, scales)])
    np.testing.assert_allclose(out, want, rtol=1e-6, atol=1e-6)
    # an unbatched argument, the batch on another axis, and under jit
    out = fl.jit(fl.vmap(lambda x: mlp.call(x, 2.0), in_axes=1))(np.moveaxis(xs, 0, 1))
    np.testing.assert_allclose(out, np.stack([jax_mlp(x, 2.0) for x in xs]), rtol=1e-6,
                               atol=1e-6)


def test_pytrees_kwargs_integers_and_static_arguments():
    Pair = collections.namedtuple("Pair", ["a", "b"])

    def f(params, x, *, n, mode):
        y = x @ params["w"] + params["b"]
        return {"y": y * n if mode == "scale" else y, "count": n + 1, "pair": Pair(y, -y)}
    params = {"w": W, "b": B}
    x = np.ones((2, 3), np.float32)
    exported = export.export(fl.jit(f, static_argnames="mode"))
    exp = exported(params, x, n=np.int32(3), mode="scale")
    with pytest.raises(ValueError, match="unregistered type"):
        exp.serialize()
    export.register_namedtuple_serialization(Pair, serialized_name="test_export.Pair")
    loaded = roundtrip(exp, vjp_order=1)
    out = loaded.call(params, x, n=np.int32(3))
    assert set(out) == {"y", "count", "pair"} and type(out["pair"]) is Pair
    np.testing.assert_allclose(out["y"], (x @ W + B) * 3, rtol=1e-6)
    assert out["count"].dtype == np.int32 and int(out["count"]) == 4
    # gradients flow to the float leaves; the integer argument gets float0 zeros
    g = fl.grad(lambda p: fnp.sum(loaded.call(p, x, n=np.int32(3))["y"]))(params)
    want = jax.grad(lambda p: jnp.sum((x @ p["w"] + p["b"]) * 3))(params)
    np.testing.assert_allclose(g["w"], want["w"], rtol=1e-6)
    np.testing.assert_allclose(g["b"], want["b"], rtol=1e-6)
    with pytest.raises(ValueError, match="same pytree structure"):
        loaded.call(params, x, np.int32(3))


@pytest.mark.parametrize("dtype", [np.float16, ml_dtypes.bfloat16, np.int8, np.bool_,
                                   np.uint32, np.complex64])
def test_dtypes_round_trip(dtype):
    def f(x):
        return x, fnp.zeros_like(x)
    x = np.arange(6).reshape(2, 3).astype(dtype)
    loaded = roundtrip(export.export(fl.jit(f))(x))
    assert loaded.in_avals[0].dtype == np.dtype(dtype)
    out, zeros = loaded.call(x)
    assert out.dtype == np.dtype(dtype) and zeros.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(np.asarray(out), x)


@settings(max_examples=8, deadline=None)
@given(shape=st.lists(st.integers(1, 4), min_size=0, max_size=3), axis_seed=st.integers(0, 9))
def test_reductions_over_shapes_match_jax(shape, axis_seed):
    x = RNG.standard_normal(shape).astype(np.float32)
    axis = axis_seed % len(shape) if shape else None

    def ours(x):
        return fnp.sum(fnp.exp(x), axis=axis), fnp.max(x, axis=axis)

    def theirs(x):
        return jnp.sum(jnp.exp(x), axis=axis), jnp.max(x, axis=axis)
    exp = roundtrip(export.export(fl.jit(ours))(x))
    want = jax.export.export(jax.jit(theirs))(x)
    assert [a.shape for a in exp.out_avals] == [a.shape for a in want.out_avals]
    for o, t in zip(exp.call(x), want.call(x)):
        np.testing.assert_allclose(o, t, rtol=1e-5)


def test_two_exported_functions_and_repeated_calls_in_one_program(mlp):
    sq = export.export(fl.jit(lambda x: x * x))(sds((5, 4)))
    x = RNG.standard_normal((5, 3)).astype(np.float32)

    def prog(x):
        return sq.call(mlp.call(x, 1.0)) + sq.call(mlp.call(x, 2.0))
    text = fl.jit(prog).lower(x).as_text()
    assert text.count("func.func private @f0_main") == 1  # one copy per exported module
    assert text.count("func.func private @f1_main") == 1
    want = jax_mlp(x, 1.0) ** 2 + jax_mlp(x, 2.0) ** 2
    np.testing.assert_allclose(fl.jit(prog)(x), want, rtol=1e-5, atol=1e-6)


def test_called_inside_loops_and_branches(mlp):
    x = RNG.standard_normal((5, 3)).astype(np.float32)

    def body(carry, s):
        return carry + mlp.call(x, s), None
    total, _ = fl.jit(lambda: fl.lax.scan(body, fnp.zeros((5, 4)), fnp.arange(3.0)))()
    np.testing.assert_allclose(total, sum(jax_mlp(x, float(s)) for s in range(3)),
                               rtol=1e-5, atol=1e-6)
    picked = fl.jit(lambda p: fl.lax.cond(p, lambda: mlp.call(x, 1.0),
                                          lambda: -mlp.call(x, 1.0)))(False)
    np.testing.assert_allclose(picked, -np.asarray(jax_mlp(x, 1.0)), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("bad", ["shape", "dtype", "rank"])
def test_bad_arguments_get_jaxs_errors(mlp, jax_mlp_exported, bad):
    x = {"shape": np.ones((4, 3), np.float32), "dtype": np.ones((5, 3), np.int32),
         "rank": np.ones((5, 3, 1), np.float32)}[bad]
    with pytest.raises(ValueError) as theirs:
        jax_mlp_exported.call(x, np.float32(1))
    with pytest.raises(ValueError) as ours:
        mlp.call(x, np.float32(1))
    # the same first words and the same argument named
    assert str(ours.value).split(":")[0] == str(theirs.value).split(":")[0]


def test_exported_for_another_platform_is_refused(jax_mlp_exported):
    f = fl.jit(lambda x: x + 1)
    exp = export.export(f, platforms=["tpu"])(sds((2,)))
    assert exp.platforms == ("tpu",)
    theirs = jax.export.export(jax.jit(lambda x: x + 1), platforms=["tpu"])(
        jax.ShapeDtypeStruct((2,), np.float32))
    with pytest.raises(ValueError) as t:
        theirs.call(np.ones(2, np.float32))
    with pytest.raises(ValueError) as o:
        roundtrip(exp).call(np.ones(2, np.float32))
    assert str(o.value) == str(t.value)
    both = export.export(f, platforms=("cpu", "cuda"))(sds((2,)))
    np.testing.assert_array_equal(both.call(np.ones(2, np.float32)), [2, 2])
    with pytest.raises(ValueError, match="unknown platforms"):
        export.export(f, platforms=["abacus"])
    with pytest.raises(TypeError, match="sequence"):
        export.export(f, platforms="cpu")


def test_corrupt_truncated_and_foreign_bytes_are_clear_errors(mlp):
    blob = bytes(mlp.serialize())
    with pytest.raises(ValueError, match="not a serialized functorch_lite Exported"):
        export.deserialize(b"garbage")
    with pytest.raises(ValueError, match="truncated or corrupted"):
        export.deserialize(blob[:-10])
    flipped = bytearray(blob)
    flipped[-5] ^= 0xFF
    with pytest.raises(ValueError, match="truncated or corrupted"):
        export.deserialize(bytes(flipped))


def test_what_cannot_be_exported():
    with pytest.raises(ValueError, match="must be the result of `jit`"):
        export.export(42)
    with pytest.raises(NotImplementedError, match="host callbacks"):
        export.export(fl.jit(lambda x: fl.pure_callback(np.sin, sds((2,)), x)))(sds((2,)))
    with pytest.raises(TypeError, match="string keys"):
        export.export(fl.jit(lambda d: d[1]))({1: np.ones(2, np.float32)}).serialize()
    with pytest.raises(ValueError, match="must be an export.Exported"):
        export.call(lambda x: x)


def test_a_plain_function_is_jitted_first():
    exp = export.export(fnp.sin)(sds((3,)))
    np.testing.assert_allclose(exp.call(np.ones(3, np.float32)), np.sin(np.ones(3)),
                               rtol=1e-6)


def test_custom_pytree_node_serialization():
    class Box:
        def __init__(self, value, label):
            self.value, self.label = value, label
    fl.tree_util.register_pytree_node(Box, lambda b: ((b.value,), b.label),
                                      lambda label, ch: Box(ch[0], label))
    export.register_pytree_node_serialization(
        Box, serialized_name="test_export.Box", serialize_auxdata=lambda s: s.encode(),
        deserialize_auxdata=lambda b: b.decode())
    with pytest.raises(ValueError, match="Duplicate"):
        export.register_pytree_node_serialization(
            Box, serialized_name="other", serialize_auxdata=str.encode,
            deserialize_auxdata=bytes.decode)
    exp = export.export(fl.jit(lambda b: Box(b.value * 2, b.label + "!")))(
        Box(np.ones(2, np.float32), "hi"))
    out = roundtrip(exp).call(Box(np.ones(2, np.float32), "hi"))
    assert type(out) is Box and out.label == "hi!"
    np.testing.assert_array_equal(out.value, [2, 2])


def test_load_and_call_in_a_fresh_process(tmp_path, mlp):
    x = RNG.standard_normal((5, 3)).astype(np.float32)
    (tmp_path / "mlp.bin").write_bytes(mlp.serialize(vjp_order=1))
    np.save(tmp_path / "x.npy", x)
    code = (
        "import numpy as np, functorch_lite as fl, functorch_lite.numpy as fnp\n"
        "exp = fl.export.deserialize(open('mlp.bin', 'rb').read())\n"
        "x = np.load('x.npy')\n"
        "np.save('y.npy', np.asarray(exp.call(x, np.float32(1.5))))\n"
        "g = fl.grad(lambda x: fnp.sum(exp.call(x, np.float32(1.5))))(x)\n"
        "np.save('g.npy', np.asarray(g))\n")
    run_python(code, tmp_path)
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), jax_mlp(x, 1.5), rtol=1e-6,
                               atol=1e-6)
    want = jax.grad(lambda x: jnp.sum(jax_mlp(x, 1.5)))(x)
    np.testing.assert_allclose(np.load(tmp_path / "g.npy"), want, rtol=2e-5, atol=1e-6)
