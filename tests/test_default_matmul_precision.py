"""``default_matmul_precision``: the precision of products and convolutions that name none,
as JAX's ``jax_default_matmul_precision`` (config, context manager, environment variable),
checked against the StableHLO JAX lowers for the same function under the same setting."""
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite import lax
from functorch_lite.sharding import Mesh, NamedSharding, PartitionSpec
from helpers import python_with_env

NAMES = ["default", "high", "highest", "bfloat16", "tensorfloat32", "float32"]


@pytest.fixture(autouse=True)
def _restore():
    """Each test starts from no setting and leaves the session's as it found it (the
    conftest sets float32 on accelerators)."""
    ours, theirs = fl.config.default_matmul_precision, jax.config.jax_default_matmul_precision
    fl.config.update("default_matmul_precision", None)
    jax.config.update("jax_default_matmul_precision", None)
    yield
    fl.config.update("default_matmul_precision", ours)
    jax.config.update("jax_default_matmul_precision", theirs)


def precisions(module_text: str) -> list[str]:
    """The precision of each product or convolution in a lowered module, in order, in
    either spelling (``precision = [HIGH, HIGH]`` or ``#stablehlo<precision HIGH>``)."""
    found = []
    for m in re.finditer(r"precision(?:_config)? = \[([^\]]*)\]", module_text):
        found.append(",".join(re.findall(r"DEFAULT|HIGHEST|HIGH", m.group(1))))
    return found


def _product_and_conv(np_mod, lax_mod):
    def f(a, b, img, kernel):
        return np_mod.tanh(a @ b), lax_mod.conv(img, kernel, (1, 1), "SAME")
    return f


ARGS = [np.ones((4, 4), np.float32), np.ones((4, 3), np.float32),
        np.ones((1, 2, 5, 5), np.float32), np.ones((3, 2, 3, 3), np.float32)]


@pytest.mark.parametrize("name", [None] + NAMES)
def test_lowering_matches_jax(name):
    fl.config.update("jax_default_matmul_precision", name)
    jax.config.update("jax_default_matmul_precision", name)
    ours = fl.jit(_product_and_conv(fnp, lax)).lower(*map(fnp.asarray, ARGS)).as_text()
    theirs = jax.jit(_product_and_conv(jnp, jax.lax)).lower(*ARGS).as_text()
    # With no setting we leave the attribute out and JAX writes DEFAULT: the same thing.
    assert (precisions(ours) or ["DEFAULT,DEFAULT"] * 2) == precisions(theirs)
    assert len(precisions(ours)) == (0 if name is None else 2)


def test_context_manager_retraces_and_restores():
    traces = []

    @fl.jit
    def f(a, b):
        traces.append(1)
        return a @ b

    a, b = fnp.asarray(ARGS[0]), fnp.asarray(ARGS[1])
    expect = np.asarray(f(a, b))
    assert len(traces) == 1 and precisions(f.lower(a, b).as_text()) == []
    with fl.default_matmul_precision("float32"):
        assert fl.config.default_matmul_precision == "float32"
        assert fl.default_matmul_precision.value == "float32"
        np.testing.assert_array_equal(np.asarray(f(a, b)), expect)   # CPUs: full f32 anyway
        assert len(traces) == 2
        assert precisions(f.lower(a, b).as_text()) == ["HIGHEST,HIGHEST"]
        f(a, b)
        assert len(traces) == 2                                      # cached within
    assert fl.config.default_matmul_precision is None
    f(a, b)
    assert len(traces) == 3 and precisions(f.lower(a, b).as_text()) == []
    with fl.default_matmul_precision(None):   # no change: the caches stay
        f(a, b)
    assert len(traces) == 3


def test_every_path_to_a_product_takes_it():
    """make_jaxpr, grad's transposed products, vmap and numpy/nn callers all see it."""
    x = fnp.ones((3, 4))
    w = fnp.ones((4, 2))
    with fl.default_matmul_precision("tensorfloat32"):
        assert "precision=(HIGH,HIGH)" in str(fl.make_jaxpr(lambda a: fnp.einsum("ij,jk", a, w))(x))
        text = fl.jit(fl.grad(lambda w: (x @ w).sum())).lower(w).as_text()
        assert precisions(text) and set(precisions(text)) == {"HIGH,HIGH"}
        text = fl.jit(fl.vmap(lambda r: fnp.dot(r, w))).lower(x).as_text()
        assert precisions(text) == ["HIGH,HIGH"]
        dense = fl.nn.Dense(2)
        params, _ = dense.init(fl.random.PRNGKey(0), x)
        text = fl.jit(lambda p, x: dense.apply(p, x)[0]).lower(params, x).as_text()
        assert precisions(text) == ["HIGH,HIGH"]


def test_an_explicit_precision_wins():
    a, b = fnp.asarray(ARGS[0]), fnp.asarray(ARGS[1])
    with fl.default_matmul_precision("highest"):
        text = fl.jit(lambda a, b: lax.dot(a, b, precision="bfloat16")).lower(a, b).as_text()
    assert precisions(text) == ["DEFAULT,DEFAULT"]


@pytest.mark.parametrize("bad", ["fast", "HIGHEST", "BF16_BF16_F32", 3, True])
def test_bad_values_are_refused_and_change_nothing(bad):
    fl.config.update("default_matmul_precision", "high")
    with pytest.raises(ValueError, match=r"default_matmul_precision must be None or one of"):
        fl.config.update("jax_default_matmul_precision", bad)
    with pytest.raises(ValueError):
        with fl.default_matmul_precision(bad):
            pass
    assert fl.config.default_matmul_precision == "high"
    # JAX refuses the same values (it also takes dot algorithm presets, which we do not)
    if bad != "BF16_BF16_F32":
        with pytest.raises(ValueError):
            jax.config.update("jax_default_matmul_precision", bad)


def test_calls_over_a_mesh_trace_again():
    """A wrapper's own cache of calls over a mesh follows the setting, and clear_caches."""
    mesh = Mesh(np.array(fl.devices()[:1]), ("x",))
    traces = []

    def f(a, b):
        traces.append(1)
        return a @ b
    g = fl.jit(f, in_shardings=NamedSharding(mesh, PartitionSpec()))
    a, b = fnp.asarray(ARGS[0]), fnp.asarray(ARGS[1])
    g(a, b)
    g(a, b)
    assert len(traces) == 1
    with fl.default_matmul_precision("highest"):
        g(a, b)
        assert len(traces) == 2
        assert precisions(g.lower(a, b).as_text()) == ["HIGHEST,HIGHEST"]
    g(a, b)
    assert len(traces) == 3
    fl.clear_caches()     # (which it missed before, as it missed a change of enable_x64)
    g(a, b)
    assert len(traces) == 4


def _run(code: str, value: str):
    return python_with_env(code, JAX_DEFAULT_MATMUL_PRECISION=value)


def test_environment_variable():
    code = ("import functorch_lite as fl, functorch_lite.numpy as fnp\n"
            "x = fnp.ones((2, 2))\n"
            "print(fl.config.default_matmul_precision)\n"
            "print(fl.jit(lambda a: a @ a).lower(x).as_text())\n")
    done = _run(code, "float32")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "float32"
    assert precisions(done.stdout) == ["HIGHEST,HIGHEST"]
    done = _run("import functorch_lite", "fastest-please")
    assert done.returncode != 0
    assert "default_matmul_precision must be None or one of" in done.stderr
