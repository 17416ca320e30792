"""JAX's debugging, cache and runtime flags: ``debug_infs`` (beside ``debug_nans``),
``enable_checks``, the on-disk compilation cache's ``persistent_cache_min_compile_time_secs``
/ ``persistent_cache_min_entry_size_bytes``, ``numpy_rank_promotion`` and ``platforms``, each
under its ``jax_`` name and variable too."""
import os
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite import config, lax
from functorch_lite.core.ir import IRTypeError
from functorch_lite.core.primitive import Primitive
from functorch_lite.interpreters import staging
from functorch_lite.sharding import Mesh, NamedSharding, PartitionSpec
from helpers import flags_restored, python_with_env

FLAGS = ["debug_nans", "debug_infs", "enable_checks", "compilation_cache_dir",
         "persistent_cache_min_compile_time_secs", "persistent_cache_min_entry_size_bytes",
         "numpy_rank_promotion"]


@pytest.fixture(autouse=True)
def _restore():
    with flags_restored(FLAGS):
        yield
    jax.config.update("jax_debug_infs", False)
    jax.config.update("jax_numpy_rank_promotion", "allow")


# ---------------------------------------------------------------------------------------
# debug_infs

def test_debug_infs_raises_as_jax_does():
    f = fl.jit(lambda x: 1.0 / x)
    zero = fnp.asarray(0.0)
    assert np.isinf(np.asarray(f(zero)))          # off: no check (and the cached path is set up)
    config.update("jax_debug_infs", True)
    with pytest.raises(FloatingPointError, match=r"invalid value \(inf\) encountered in "
                       r"jit\(<lambda>\) \(output 0 of 1, f32\[\]\).*'debug_infs', False"):
        f(zero)
    with pytest.raises(FloatingPointError, match=r"\(inf\)"):
        f(0.0)                                     # a Python scalar argument
    with pytest.raises(FloatingPointError, match=r"jit\(log\)"):
        fnp.log(zero)                              # eager operations too
    np.testing.assert_allclose(np.asarray(f(fnp.asarray(4.0))), 0.25)
    assert np.isnan(np.asarray(fl.jit(lambda x: x / x)(zero)))   # a NaN is debug_nans' job
    assert int(fl.jit(lambda i: i // 1)(fnp.asarray(3))) == 3     # integers are not checked
    jax.config.update("jax_debug_infs", True)      # the oracle raises the same type
    with pytest.raises(FloatingPointError):
        jax.jit(lambda x: 1.0 / x)(jnp.asarray(0.0))


def test_debug_infs_and_nans_each_name_their_value():
    f = fl.jit(lambda x: (x / x, 1.0 / x))
    zero = fnp.asarray(0.0)
    with fl.debug_infs(True):
        assert fl.debug_infs.value is True
        with pytest.raises(FloatingPointError, match=r"\(inf\).*output 1 of 2"):
            f(zero)
    with fl.debug_nans(True):
        with pytest.raises(FloatingPointError, match=r"\(nan\).*output 0 of 2"):
            f(zero)
    assert config.debug_infs is False and config.debug_nans is False
    f(zero)


def test_debug_infs_over_a_mesh():
    mesh = Mesh(np.array(fl.devices()[:1]), ("x",))
    f = fl.jit(lambda x: 1.0 / x, in_shardings=NamedSharding(mesh, PartitionSpec()))
    x = fnp.zeros((2,))
    f(x)
    with fl.debug_infs(True):
        with pytest.raises(FloatingPointError, match=r"\(inf\)"):
            f(x)


def test_debug_infs_from_the_environment():
    code = ("import functorch_lite as fl, functorch_lite.numpy as fnp\n"
            "try:\n    fl.jit(lambda x: 1 / x)(fnp.zeros(2))\n"
            "except FloatingPointError as e:\n    print('raised', e)\n")
    done = python_with_env(code, JAX_DEBUG_INFS="1")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("raised invalid value (inf)")


# ---------------------------------------------------------------------------------------
# enable_checks

def test_enable_checks_typechecks_every_staged_program(monkeypatch):
    checked = []
    real = staging.typecheck
    monkeypatch.setattr(staging, "typecheck", lambda p: (checked.append(p), real(p)))

    def f(x):
        y = lax.fori_loop(0, 3, lambda i, c: c * 1.5 + i, x)
        return lax.cond(y.sum() > 0, fnp.sin, fnp.cos, y).sum()

    x = fnp.arange(4.0)
    want = np.asarray(fl.jit(fl.grad(f))(x))
    assert checked == []                           # off: nothing checked
    with fl.enable_checks(True):
        assert config.enable_checks is True
        got = fl.jit(fl.vmap(fl.grad(f)))(fnp.stack([x, x + 1]))
        fl.make_jaxpr(f)(x)
    assert len(checked) >= 3                       # jit, make_jaxpr and the loop/cond bodies
    np.testing.assert_allclose(np.asarray(got)[0], want, rtol=1e-6)


def test_enable_checks_catches_a_wrong_shape_rule(monkeypatch):
    """A shape rule that gives one type while tracing and another when checked (as a
    broken rule would) is caught when the program is built."""
    sin_p = Primitive.registry["sin"]
    rule = sin_p.shape_rule
    calls = []

    def drifting(x, **params):
        calls.append(1)
        out = rule(x, **params)
        return out if len(calls) == 1 else out.update(shape=out.shape + (1,))

    monkeypatch.setattr(sin_p, "shape_rule", drifting)
    config.update("jax_enable_checks", True)
    with pytest.raises(IRTypeError, match=r"equation 0 \(sin\): output declared f32\[3\] "
                       r"but its inputs give f32\[3,1\]"):
        fl.make_jaxpr(fnp.sin)(fnp.ones(3))


# ---------------------------------------------------------------------------------------
# what the on-disk compilation cache keeps

def _compile_something_new(seed: float):
    """Compile a program no earlier test compiled (its text holds ``seed``)."""
    fl.jit(lambda x: x * seed + 1.0)(fnp.ones(3)).block_until_ready()


def _entries(path) -> int:
    return len([n for n in os.listdir(path) if n.endswith(".bin")])


def test_persistent_cache_thresholds(tmp_path):
    config.update("compilation_cache_dir", str(tmp_path))
    seed = float(np.random.default_rng().uniform(10, 11))
    _compile_something_new(seed)
    assert _entries(tmp_path) == 1                  # by default every compile is kept
    config.update("jax_persistent_cache_min_compile_time_secs", 1e6)
    _compile_something_new(seed + 1)
    assert _entries(tmp_path) == 1                  # compiled faster than that: not kept
    config.update("persistent_cache_min_compile_time_secs", 0)
    config.update("jax_persistent_cache_min_entry_size_bytes", 10 ** 12)
    _compile_something_new(seed + 2)
    assert _entries(tmp_path) == 1                  # smaller than that: not kept
    config.update("persistent_cache_min_entry_size_bytes", -1)   # JAX's "no limit"
    _compile_something_new(seed + 3)
    assert _entries(tmp_path) == 2


@pytest.mark.parametrize("name", ["persistent_cache_min_compile_time_secs",
                                  "persistent_cache_min_entry_size_bytes"])
@pytest.mark.parametrize("bad", [-2, "1", True, None, 1.5])
def test_persistent_cache_thresholds_refuse_bad_values(name, bad):
    if bad == 1.5 and name.endswith("secs"):
        return                                     # (a fine number of seconds)
    before = config.read(name)
    with pytest.raises(ValueError, match=rf"{name} must be (a number >= 0|an integer >= -1)"):
        config.update("jax_" + name, bad)
    assert config.read(name) == before


# ---------------------------------------------------------------------------------------
# numpy_rank_promotion

# (shapes, whether broadcasting them promotes a rank): rank-0 operands never count
SHAPE_CASES = [(((3, 4), (4,)), True), (((2, 1, 3), (5, 1)), True), (((3, 4), (3, 4)), False),
               (((3, 1), (1, 4)), False), (((3, 4), ()), False), (((), (2,)), False)]


def _outcome(mode, add, x, y):
    """'ok', 'warn' or 'raise': what ``add(x, y)`` does under ``mode``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            add(x, y)
        except ValueError:
            return "raise"
    return "warn" if any(issubclass(w.category, UserWarning) for w in caught) else "ok"


@pytest.mark.parametrize("mode", ["allow", "warn", "raise"])
@pytest.mark.parametrize("shapes, promotes", SHAPE_CASES)
def test_numpy_rank_promotion_matches_jax(mode, shapes, promotes):
    x, y = (np.ones(s, np.float32) for s in shapes)
    config.update("jax_numpy_rank_promotion", mode)
    jax.config.update("jax_numpy_rank_promotion", mode)
    ours = _outcome(mode, lambda a, b: fnp.asarray(a) + fnp.asarray(b), x, y)
    jitted = _outcome(mode, fl.jit(lambda a, b: fnp.multiply(a, b)), x, y)
    theirs = _outcome(mode, lambda a, b: jnp.asarray(a) + jnp.asarray(b), x, y)
    assert ours == jitted == theirs == ("ok" if mode == "allow" or not promotes else
                                        mode)


def test_numpy_rank_promotion_retraces_and_names_the_shapes():
    f = fl.jit(lambda a, b: fnp.add(a, b))
    x, y = fnp.ones((3, 4)), fnp.ones((4,))
    f(x, y)                                         # traced under 'allow'
    with fl.numpy_rank_promotion("raise"):
        with pytest.raises(ValueError, match=r"add: operands of shapes \(3, 4\) and \(4,\) "
                           r"have different ranks, and numpy_rank_promotion is 'raise'"):
            f(x, y)
        np.testing.assert_array_equal(np.asarray(f(x, fnp.ones((3, 4)))), 2.0)
    with fl.numpy_rank_promotion("warn"):
        with pytest.warns(UserWarning, match=r"add: broadcasting operands of different ranks"):
            f(x, y)
    np.testing.assert_array_equal(np.asarray(f(x, y)), 2.0)
    with pytest.raises(ValueError, match=r"numpy_rank_promotion must be one of \['allow', "
                       r"'warn', 'raise'\], got 'error'"):
        config.update("jax_numpy_rank_promotion", "error")
    assert config.numpy_rank_promotion == "allow"


# ---------------------------------------------------------------------------------------
# platforms (jax_platforms / JAX_PLATFORMS): which platforms start; read once, when the
# runtime starts, so each case runs in a fresh process.

def _run_fresh(code: str, JAX_PLATFORMS=None, **env):
    done = python_with_env(code, JAX_PLATFORMS=JAX_PLATFORMS, **env)
    return done.returncode, done.stdout, done.stderr


_USE = ("import functorch_lite as fl, functorch_lite.numpy as fnp\n"
        "print(fl.default_backend(), [d.platform for d in fl.devices()], "
        "float(fl.jit(lambda x: x.sum())(fnp.ones(3))))\n")


@pytest.mark.parametrize("how", ["update", "jax_update", "environment"])
def test_platforms_cpu(how):
    set_it = {"update": "fl.config.update('platforms', 'cpu')\n",
              "jax_update": "fl.config.update('jax_platforms', 'cpu')\n",
              "environment": ""}[how]
    code = ("import functorch_lite as fl\n" + set_it +
            "print(fl.config.platforms, fl.config.jax_platforms)\n" + _USE)
    env = {"JAX_PLATFORMS": "cpu"} if how == "environment" else {}
    rc, out, err = _run_fresh(code, **env)
    assert rc == 0, err
    assert out.splitlines() == ["cpu cpu", "cpu ['cpu'] 3.0"]


def test_platforms_unset_or_empty_use_what_is_installed():
    for env in ({}, {"JAX_PLATFORMS": ""}):
        rc, out, err = _run_fresh(_USE, **env)
        assert rc == 0, err
        assert out.split()[0] == fl.default_backend()


@pytest.mark.parametrize("listed", ["bogus", "cpu,bogus", "tpu,cpu"])
def test_platforms_each_listed_one_must_start(listed):
    if listed.startswith("tpu") and fl.default_backend() == "tpu":
        pytest.skip("a TPU is installed here")
    rc, out, err = _run_fresh(_USE, JAX_PLATFORMS=listed)
    assert rc != 0 and out == ""
    assert "RuntimeError: Unable to initialize backend" in err, err
    bad = listed.split(",")[0] if listed.startswith("tpu") else "bogus"
    assert repr(bad) in err.splitlines()[-1], err
    # JAX refuses the same lists
    jcode = "import jax\njax.devices()\n"
    rc, _, jerr = _run_fresh(jcode, JAX_PLATFORMS=listed)
    assert rc != 0 and "Unable to initialize backend" in jerr


def test_platforms_listing_cuda_without_cuda_is_an_error():
    if "cuda" in fl.default_backend():
        pytest.skip("CUDA is installed here")
    for listed in ("cuda", "cuda,cpu"):
        rc, out, err = _run_fresh(_USE, JAX_PLATFORMS=listed)
        assert rc != 0, out
        last = err.strip().splitlines()[-1]
        assert last.startswith("RuntimeError: Unable to initialize backend 'cuda'"), err


def test_platforms_set_after_the_runtime_started_warns_and_changes_nothing():
    code = ("import warnings\nimport functorch_lite as fl, functorch_lite.numpy as fnp\n"
            "fnp.ones(2).block_until_ready()\n"
            "with warnings.catch_warnings(record=True) as w:\n"
            "    warnings.simplefilter('always')\n"
            "    fl.config.update('jax_platforms', 'cpu')\n"
            "    print(len(w))\n"
            "    fl.config.update('jax_platforms', 'bogus')\n"
            "    print(len(w), w[-1].category.__name__, w[-1].filename)\n"
            "    print(str(w[-1].message))\n"
            "print(fl.default_backend(), float(fnp.ones(2).sum()))\n")
    rc, out, err = _run_fresh(code, JAX_PLATFORMS="cpu")
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0] == "0"               # the value it started with: nothing to say
    assert lines[1] == "1 UserWarning <string>"
    assert "after the runtime started" in lines[2] and "JAX_PLATFORMS" in lines[2]
    assert lines[3] == "cpu 2.0"


@pytest.mark.parametrize("bad", [3, ["cpu"], b"cpu"])
def test_platforms_refuses_non_strings(bad):
    with pytest.raises(ValueError, match="platforms must be None or a string"):
        config.update("jax_platforms", bad)
    with pytest.raises(ValueError, match="must be None or of type str"):
        jax.config.update("jax_platforms", bad)
    assert config.platforms == os.environ.get("JAX_PLATFORMS")


# ---------------------------------------------------------------------------------------
# default_prng_impl: only threefry2x32 is implemented; JAX's other names are refused

def test_default_prng_impl():
    config.update("jax_default_prng_impl", "threefry2x32")
    assert config.default_prng_impl == "threefry2x32"
    for name in ("rbg", "unsafe_rbg", "threefry4x32", "philox2x32"):
        jax.config.update("jax_default_prng_impl", name)        # a name JAX knows
        with pytest.raises(NotImplementedError, match="implements 'threefry2x32' only"):
            config.update("jax_default_prng_impl", name)
    jax.config.update("jax_default_prng_impl", "threefry2x32")
    for bad in ("bogus", 3):
        with pytest.raises(ValueError, match="default_prng_impl must be one of"):
            config.update("jax_default_prng_impl", bad)
        with pytest.raises(ValueError):
            jax.config.update("jax_default_prng_impl", bad)
    assert config.default_prng_impl == "threefry2x32"
