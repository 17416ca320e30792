"""The persistent (on-disk) compilation cache of xla_bridge/compile.py.

A second *process* compiling the same function finds the executable on disk
(``stats["disk_hits"]``) instead of compiling it (``stats["compiles"]``); broken entries are
ignored and rewritten; the directory is private (0o700); entries are written atomically;
the ``FUNCTORCH_LITE_COMPILATION_CACHE_DIR`` environment variable configures it.
"""
import json
import logging
import os
import pathlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import xla_bridge  # noqa: F401  (registers the backend)
import functorch_lite as fl
from functorch_lite.api import clear_jit_caches
from functorch_lite.core.config import config
from xla_bridge import compile as xc
from xla_bridge import runtime

REPO = pathlib.Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    import xla_bridge
    import functorch_lite as fl
    from functorch_lite.core.config import config
    from xla_bridge import compile as xc

    if sys.argv[1] != "-":
        config.update("compilation_cache_dir", sys.argv[1])

    def f(x):
        return fl.numpy.sin(x) * 3.0 + 1.0

    def g(x):
        return x @ x.T

    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    out = {"f": np.asarray(fl.jit(f)(x)).tolist()}
    if "g" in sys.argv[2:]:
        out["g"] = np.asarray(fl.jit(g)(x)).tolist()
    print(json.dumps({"stats": dict(xc.stats), "dir": config.compilation_cache_dir,
                      "out": out}))
""")


def run_script(tmp_path, cache_arg, *extra, env_dir=None):
    """Run SCRIPT in a fresh interpreter; returns its parsed JSON report."""
    script = tmp_path / "script.py"
    if not script.exists():
        script.write_text(SCRIPT)
    env = dict(os.environ)
    env.pop("FUNCTORCH_LITE_COMPILATION_CACHE_DIR", None)
    if env_dir is not None:
        env["FUNCTORCH_LITE_COMPILATION_CACHE_DIR"] = str(env_dir)
    proc = subprocess.run([sys.executable, str(script), str(cache_arg), *extra],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def entries(directory):
    return sorted(p for p in pathlib.Path(directory).iterdir() if p.suffix == ".bin")


def leftovers(directory):
    return [p.name for p in pathlib.Path(directory).iterdir() if p.name.startswith(".tmp-")]


# ---------------------------------------------------------------------------------------
# Across processes

def test_second_process_hits_the_disk_cache(tmp_path):
    cache = tmp_path / "cache"
    first = run_script(tmp_path, cache)
    assert first["stats"] == {"compiles": 1, "disk_hits": 0}
    assert len(entries(cache)) == 1
    # f is on disk, g is new: only g compiles
    second = run_script(tmp_path, cache, "g")
    assert second["stats"] == {"compiles": 1, "disk_hits": 1}
    assert second["out"]["f"] == first["out"]["f"]
    np.testing.assert_allclose(second["out"]["f"],
                               np.sin(np.arange(6.0).reshape(2, 3)) * 3 + 1, rtol=1e-6)
    assert len(entries(cache)) == 2
    third = run_script(tmp_path, cache, "g")
    assert third["stats"] == {"compiles": 0, "disk_hits": 2}
    assert third["out"] == second["out"]
    assert leftovers(cache) == []


def test_env_var_configures_the_cache_in_a_subprocess(tmp_path):
    cache = tmp_path / "from_env"
    first = run_script(tmp_path, "-", env_dir=cache)
    assert first["dir"] == str(cache)
    assert first["stats"] == {"compiles": 1, "disk_hits": 0}
    assert len(entries(cache)) == 1
    second = run_script(tmp_path, "-", env_dir=cache)
    assert second["stats"] == {"compiles": 0, "disk_hits": 1}
    # without the variable (and no config.update) nothing is cached
    plain = run_script(tmp_path, "-")
    assert plain["dir"] is None
    assert plain["stats"] == {"compiles": 1, "disk_hits": 0}


def test_truncated_entry_is_ignored_and_rewritten_by_another_process(tmp_path):
    cache = tmp_path / "cache"
    run_script(tmp_path, cache)
    (entry,) = entries(cache)
    good = entry.read_bytes()
    entry.write_bytes(good[: len(good) // 2])
    again = run_script(tmp_path, cache)
    assert again["stats"] == {"compiles": 1, "disk_hits": 0}
    rewritten = entry.read_bytes()
    assert rewritten.startswith(xc._MAGIC) and len(rewritten) == len(good)
    assert leftovers(cache) == []


# ---------------------------------------------------------------------------------------
# In this process (the in-memory cache is bypassed by compiling fresh module texts)

@pytest.fixture
def cache_dir(tmp_path):
    old = config.compilation_cache_dir
    path = tmp_path / "nested" / "cache"
    config.update("compilation_cache_dir", str(path))
    try:
        yield path
    finally:
        config.update("compilation_cache_dir", old)


_counter = [0]


def _fresh_text():
    """StableHLO text no other test compiles (a unique constant)."""
    _counter[0] += 1
    k = 1000.0 + _counter[0] + os.getpid() % 1000 / 1000
    return fl.jit(lambda x: x * k + 1.0).lower(np.ones(3, np.float32)).as_text()


def _compile_fresh(text):
    """compile_text as a new process would see it: nothing in the in-memory cache."""
    device = runtime.default_device()
    xc._text_cache.pop((text, device, ()), None)
    before = dict(xc.stats)
    exe = xc.compile_text(text, device, "test")
    return exe, {k: xc.stats[k] - before[k] for k in before}


def test_directory_is_created_private(cache_dir):
    assert not cache_dir.exists()
    _compile_fresh(_fresh_text())
    assert cache_dir.is_dir()
    assert cache_dir.stat().st_mode & 0o777 == 0o700
    for e in entries(cache_dir):
        assert e.stat().st_mode & 0o077 == 0, "cache entries must not be readable by others"


def test_disk_hit_in_process_and_entry_format(cache_dir):
    text = _fresh_text()
    _, d1 = _compile_fresh(text)
    assert d1 == {"compiles": 1, "disk_hits": 0}
    (entry,) = entries(cache_dir)
    blob = entry.read_bytes()
    assert blob.startswith(xc._MAGIC)
    assert entry.name == xc._cache_key(text, runtime.default_device()) + ".bin"
    exe, d2 = _compile_fresh(text)
    assert d2 == {"compiles": 0, "disk_hits": 1}
    assert exe is not None
    assert leftovers(cache_dir) == []


def _corrupt(kind, blob):
    magic_len = len(xc._MAGIC)
    if kind == "truncated":
        return blob[: len(blob) // 2]
    if kind == "empty":
        return b""
    if kind == "flipped_byte":
        i = len(blob) - 10
        return blob[:i] + bytes([blob[i] ^ 0xFF]) + blob[i + 1:]
    if kind == "wrong_magic":
        return b"something-else-v9\n" + blob[magic_len:]
    if kind == "valid_checksum_garbage_payload":
        import hashlib
        payload = b"not an executable" * 10
        return xc._MAGIC + hashlib.sha256(payload).hexdigest().encode() + payload
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["truncated", "empty", "flipped_byte", "wrong_magic",
                                  "valid_checksum_garbage_payload"])
def test_corrupt_entry_is_ignored_and_rewritten(cache_dir, kind):
    text = _fresh_text()
    _compile_fresh(text)
    (entry,) = entries(cache_dir)
    good = entry.read_bytes()
    entry.write_bytes(_corrupt(kind, good))
    exe, d = _compile_fresh(text)
    assert d == {"compiles": 1, "disk_hits": 0}
    assert entry.read_bytes()[:len(xc._MAGIC)] == xc._MAGIC
    # rewritten whole: its checksum holds (XLA's serialized executables may differ by a
    # few bytes between compiles, so the length of the old entry is no reference)
    assert xc._read_entry(str(entry)) is not None
    _, d = _compile_fresh(text)
    assert d == {"compiles": 0, "disk_hits": 1}
    assert leftovers(cache_dir) == []


def test_failed_write_leaves_no_temporary_file_and_still_compiles(cache_dir, monkeypatch,
                                                                    caplog):
    text = _fresh_text()

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(xc.os, "replace", broken_replace)
    with caplog.at_level(logging.WARNING, logger="functorch_lite"):
        exe, d = _compile_fresh(text)
    assert exe is not None and d["compiles"] == 1
    assert entries(cache_dir) == []
    assert leftovers(cache_dir) == []
    assert any("could not write compilation cache entry" in r.getMessage()
               for r in caplog.records)


def test_results_are_the_same_through_the_disk_cache(cache_dir):
    def f(x):
        return fl.numpy.tanh(x) * 41.25

    x = np.linspace(-2, 2, 7).astype(np.float32)
    want = np.asarray(fl.jit(f)(x))
    text = fl.jit(f).lower(x).as_text()
    xc._text_cache.pop((text, runtime.default_device(), ()), None)
    clear_jit_caches()  # a new jit(f) of the same f reuses its trace, as in JAX
    before = xc.stats["disk_hits"]
    got = np.asarray(fl.jit(f)(x))
    assert xc.stats["disk_hits"] == before + 1
    np.testing.assert_array_equal(got, want)


def test_unusable_cache_directory_does_not_break_compilation(tmp_path):
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    old = config.compilation_cache_dir
    config.update("compilation_cache_dir", str(not_a_dir))
    try:
        out = fl.jit(lambda x: x * 91.0)(np.ones(2, np.float32))
    finally:
        config.update("compilation_cache_dir", old)
    np.testing.assert_array_equal(np.asarray(out), [91.0, 91.0])
