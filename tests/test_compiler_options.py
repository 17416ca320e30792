"""``jit(f, compiler_options=...)`` and ``jit(f).lower(x).compile(compiler_options)``, as in
JAX: XLA's options by name for one function's executables. The test of "it took effect" is
``xla_dump_to``: XLA writes the compiled module's files into that directory."""
import functools
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite import config
from functorch_lite.errors import JaxRuntimeError
from functorch_lite.sharding import Mesh, NamedSharding, PartitionSpec


def dumped(path) -> list[str]:
    return sorted(os.listdir(path)) if os.path.isdir(path) else []


def test_options_reach_xla_and_each_set_gets_its_own_executable(tmp_path):
    def f(x):
        return fnp.sin(x) * 3.0 + 1.0

    x = fnp.arange(4.0)
    want = np.sin(np.arange(4.0, dtype=np.float32)) * 3 + 1
    plain = fl.jit(f)
    np.testing.assert_allclose(plain(x), want, rtol=1e-6)
    # The same function and program text, other options: compiled again, with them.
    dump = tmp_path / "dump"
    with_dump = fl.jit(f, compiler_options={"xla_dump_to": str(dump)})
    for _ in range(2):                  # the second call takes the cached-call path
        np.testing.assert_allclose(with_dump(x), want, rtol=1e-6)
    files = dumped(dump)
    assert any(name.endswith("after_optimizations.txt") for name in files), files
    # ... and once: the cached call did not compile again
    assert len([n for n in files if n.endswith(".before_optimizations.txt")]) == 1
    # the plain wrapper still runs its own executable, which writes nothing
    other = tmp_path / "other"
    np.testing.assert_allclose(fl.jit(f, compiler_options={"xla_dump_to": str(other)})(x),
                               want, rtol=1e-6)
    np.testing.assert_allclose(plain(x), want, rtol=1e-6)
    assert dumped(dump) == files
    # wrappers with equal options share their executables (no second dump)
    np.testing.assert_allclose(fl.jit(f, compiler_options={"xla_dump_to": str(dump)})(x),
                               want, rtol=1e-6)
    assert dumped(dump) == files


def test_options_with_donation_pytrees_and_scalars(tmp_path):
    dump = tmp_path / "d"

    @functools.partial(fl.jit, donate_argnums=0, compiler_options={"xla_dump_to": str(dump)})
    def step(params, lr):
        return {k: v - lr * 2.0 * v for k, v in params.items()}

    params = {"w": fnp.ones(3), "b": fnp.zeros(2)}
    for _ in range(3):
        old = params
        params = step(params, 0.25)
        assert old["w"].is_deleted()
    np.testing.assert_allclose(params["w"], np.full(3, 0.125))
    assert len([n for n in dumped(dump) if n.endswith(".before_optimizations.txt")]) == 1


def test_lowered_compile_takes_options_and_adds_them_to_jits(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    f = fl.jit(lambda x: x @ x.T, compiler_options={"xla_dump_to": str(a)})
    x = fnp.ones((3, 2))
    lowered = f.lower(x)
    compiled = lowered.compile()
    np.testing.assert_allclose(compiled(x), np.full((3, 3), 2.0))
    assert dumped(a)
    # options given to compile override jit's (JAX merges them the same way)
    compiled_b = lowered.compile({"xla_dump_to": str(b)})
    np.testing.assert_allclose(compiled_b(x), np.full((3, 3), 2.0))
    assert dumped(b)
    # an option of compile's own, beside jit's
    c = fl.jit(lambda x: x + 1).lower(x).compile(
        compiler_options={"xla_dump_to": str(tmp_path / "c")})
    np.testing.assert_allclose(c(x), np.full((3, 2), 2.0))
    assert dumped(tmp_path / "c")


def test_options_over_a_mesh(tmp_path):
    mesh = Mesh(np.array(fl.devices()[:1]), ("x",))
    dump = tmp_path / "spmd"
    f = fl.jit(lambda x: x * 2, in_shardings=NamedSharding(mesh, PartitionSpec()),
               compiler_options={"xla_dump_to": str(dump)})
    np.testing.assert_allclose(f(fnp.ones(4)), np.full(4, 2.0))
    assert dumped(dump)


def test_unknown_option_fails_as_in_jax():
    f = fl.jit(lambda x: x + 1, compiler_options={"xla_no_such_option": 1})
    with pytest.raises(JaxRuntimeError, match="No such compile option: 'xla_no_such_option'"):
        f(fnp.ones(2))
    g = jax.jit(lambda x: x + 1, compiler_options={"xla_no_such_option": 1})
    with pytest.raises(jax.errors.JaxRuntimeError, match="No such compile option"):
        g(jnp.ones(2))
    with pytest.raises(JaxRuntimeError, match="not a valid bool"):
        fl.jit(lambda x: x + 1, compiler_options={"xla_cpu_enable_fast_math": "maybe"})(
            fnp.ones(2))


@pytest.mark.parametrize("bad", [[("xla_dump_to", "/tmp")], "xla_dump_to=/tmp", {1: True},
                                 {"xla_dump_to": None}, {"xla_dump_to": ["/tmp"]}])
def test_options_that_are_not_a_dict_of_names_to_values(bad):
    with pytest.raises(TypeError, match="compiler_options"):
        fl.jit(lambda x: x, compiler_options=bad)
    lowered = fl.jit(lambda x: x).lower(fnp.ones(1))
    with pytest.raises(TypeError, match="compiler_options"):
        lowered.compile(bad)


def test_options_are_part_of_the_on_disk_cache_key(tmp_path):
    saved = config.compilation_cache_dir
    config.update("compilation_cache_dir", str(tmp_path / "cache"))
    try:
        def body(x):                      # a program text no other test compiles
            return fnp.cos(x) * 7.25 - 3.0
        x = fnp.ones(5)

        def entries():          # (the cache makes its directory at its first write)
            return {n for n in dumped(tmp_path / "cache") if n.endswith(".bin")}
        before = entries()
        fl.jit(body)(x)
        plain = entries() - before
        fl.jit(body, compiler_options={"xla_cpu_enable_fast_math": False})(x)
        optioned = entries() - before - plain
        assert len(plain) == 1 and len(optioned) == 1
    finally:
        config.update("compilation_cache_dir", saved)
