"""nn.checkpoints: exact round trips, templates, steps, atomicity under SIGKILL, corruption."""
import collections
import json
import os
import signal
import subprocess
import sys
import dataclasses
import textwrap

import ml_dtypes
import numpy as np
import pytest

import functorch_lite as fl
import functorch_lite.numpy as fnp
import functorch_lite.nn.checkpoints as checkpoints

AdamState = collections.namedtuple("AdamState", "count mu nu")
EmptyState = collections.namedtuple("EmptyState", "")

DTYPES = [np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32,
          np.uint64, np.float16, np.float32, np.float64, np.complex64, np.complex128,
          ml_dtypes.bfloat16, ml_dtypes.float8_e4m3fn, ml_dtypes.float8_e5m2, ml_dtypes.int4]


def random_bits(dtype, shape, seed=0):
    """Arrays with arbitrary bit patterns (NaN payloads, -0.0, subnormals) where the dtype
    allows, so that "exact" means bit-exact."""
    dtype = np.dtype(dtype)
    rng = np.random.default_rng(seed)
    if dtype == np.bool_:
        return rng.integers(0, 2, shape).astype(bool)
    if dtype.name in ("int4",):
        return rng.integers(-8, 8, shape).astype(dtype)
    raw = rng.integers(0, 256, (*shape, dtype.itemsize), dtype=np.uint8)
    return raw.view(dtype).reshape(shape)


def same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, a.shape, b.dtype, b.shape)
    return a.tobytes() == b.tobytes()  # bits, so NaN payloads and -0.0 count


def assert_same_tree(got, want):
    g, gdef = fl.tree.flatten(got)
    w, wdef = fl.tree.flatten(want)
    assert gdef == wdef, (gdef, wdef)
    for x, y in zip(g, w):
        if isinstance(y, (bool, int, float, complex)):
            assert type(x) is type(y) and (x == y or (x != x and y != y)), (x, y)
        else:
            assert same_bits(x, y)


# ---------------------------------------------------------------------------
# Round trips
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_every_dtype_round_trips_bit_exactly(tmp_path, dtype):
    tree = {"x": random_bits(dtype, (3, 5)), "scalar": random_bits(dtype, ()),
            "empty": np.zeros((0, 4), dtype)}
    checkpoints.save(tmp_path, tree)
    got = checkpoints.restore(tmp_path)
    for k in tree:
        assert same_bits(got[k], tree[k]), k
    got = checkpoints.restore(tmp_path, like=tree)  # numpy template leaves: numpy back
    for k in tree:
        assert isinstance(got[k], np.ndarray) and same_bits(got[k], tree[k]), k


def test_arrays_come_back_as_fl_arrays_where_the_dtype_fits(tmp_path):
    tree = {"f32": np.ones(3, np.float32), "bf16": np.ones(2, ml_dtypes.bfloat16),
            "f64": np.full(2, 1 / 3), "f8": np.ones(2, ml_dtypes.float8_e4m3fn)}
    checkpoints.save(tmp_path, tree)
    got = checkpoints.restore(tmp_path)
    assert isinstance(got["f32"], fl.Array) and isinstance(got["bf16"], fl.Array)
    # float8 (and 64-bit without enable_x64) cannot be held exactly: numpy, not rounded.
    assert isinstance(got["f8"], np.ndarray)
    assert got["f64"].dtype == np.float64 and same_bits(got["f64"], tree["f64"])
    assert float(fl.jit(lambda a, b: a.sum() + b.sum())(got["f32"], got["bf16"])) == 5.0


def test_nested_structure_with_namedtuples_none_and_python_scalars(tmp_path):
    tree = {
        "params": {"dense": {"kernel": np.arange(6.0, dtype=np.float32).reshape(2, 3),
                             "bias": np.zeros(3, np.float32)}},
        "opt_state": (AdamState(count=np.int32(7), mu={"w": np.ones(2, np.float32)},
                                nu={"w": np.full(2, 0.5, np.float32)}),
                      EmptyState(), None),
        "lists": [1, 2.5, True, -0.0, float("inf"), 1 + 2j, [None, (3,)]],
        "big_int": 2 ** 70,
    }
    checkpoints.save(tmp_path, tree)
    got = checkpoints.restore(tmp_path)
    assert type(got["opt_state"]) is tuple
    assert type(got["opt_state"][0]) is AdamState and type(got["opt_state"][1]) is EmptyState
    assert got["opt_state"][2] is None
    assert got["lists"][:4] == [1, 2.5, True, -0.0]
    assert [type(x) for x in got["lists"][:6]] == [int, float, bool, float, float, complex]
    assert str(got["lists"][3]) == "-0.0" and got["big_int"] == 2 ** 70
    assert_same_tree(got, tree)


def test_namedtuple_from_an_unimported_module_comes_back_as_a_tuple(tmp_path):
    checkpoints.save(tmp_path, AdamState(1, 2.0, 3))
    doc_path = tmp_path / "checkpoint.json"
    doc = json.loads(doc_path.read_text())
    doc["tree"]["module"] = "not_a_module_anyone_imported"
    doc_path.write_text(json.dumps(doc))
    got = checkpoints.restore(tmp_path)
    assert type(got) is tuple and got == (1, 2.0, 3)
    assert "not_a_module_anyone_imported" not in sys.modules  # never imported


def test_leaf_at_the_root(tmp_path):
    checkpoints.save(tmp_path, np.float32(3.5))
    assert same_bits(checkpoints.restore(tmp_path), np.float32(3.5))
    assert isinstance(checkpoints.restore(tmp_path, like=np.float32(0)), np.float32)


def test_like_gives_the_template_structure(tmp_path):
    saved = {"params": {"w": np.arange(4.0, dtype=np.float32)},
             "opt": [(1, 2)], "count": 3}
    checkpoints.save(tmp_path, saved)
    like = {"params": {"w": fnp.zeros(4)}, "opt": [(0, 0)], "count": 0}
    got = checkpoints.restore(tmp_path, like=like)
    assert isinstance(got["params"]["w"], fl.Array)
    assert got["opt"] == [(1, 2)] and got["count"] == 3
    # A tuple's children are keyed [i], a named tuple's .name: the paths differ.
    with pytest.raises(ValueError, match=r"missing in checkpoint: \['opt'\]\[0\]\.count"):
        checkpoints.restore(tmp_path, like={**like, "opt": [AdamState(0, 0, 0)]})


def test_like_restores_optimizer_state_namedtuples(tmp_path):
    state = (AdamState(np.int32(3), {"w": np.ones(2, np.float32)},
                       {"w": np.ones(2, np.float32)}), EmptyState())
    checkpoints.save(tmp_path, {"opt_state": state})
    like = {"opt_state": (AdamState(fnp.zeros((), fnp.int32), {"w": fnp.zeros(2)},
                                    {"w": fnp.zeros(2)}), EmptyState())}
    got = checkpoints.restore(tmp_path, like=like)
    assert fl.tree.structure(got) == fl.tree.structure(like)
    assert int(got["opt_state"][0].count) == 3


@fl.tree.register_dataclass
@dataclasses.dataclass
class TrainState:
    params: dict
    step: int


def test_registered_dataclass_needs_like(tmp_path):
    state = TrainState({"w": np.arange(3.0)}, 4)
    checkpoints.save(tmp_path, {"state": state})
    with pytest.raises(ValueError, match="TrainState.*like="):
        checkpoints.restore(tmp_path)
    got = checkpoints.restore(tmp_path, like={"state": TrainState({"w": np.zeros(3)}, 0)})
    assert isinstance(got["state"], TrainState) and got["state"].step == 4
    assert same_bits(got["state"].params["w"], np.arange(3.0))


def test_jit_outputs_round_trip(tmp_path):
    @fl.jit
    def step(p):
        return fl.tree.map(lambda x: x * 2 + 1, p)

    params = step({"w": fnp.arange(6.0).reshape(2, 3), "b": fnp.ones(3, fnp.bfloat16)})
    checkpoints.save(tmp_path, params, step=1)
    got = checkpoints.restore(tmp_path, like=params)
    assert_same_tree(got, params)
    assert_same_tree(step(got), step(params))  # goes straight back into jitted code


# ---------------------------------------------------------------------------
# Steps, keep, metadata
# ---------------------------------------------------------------------------

def test_steps_keep_latest_and_metadata(tmp_path):
    assert checkpoints.latest_step(tmp_path) is None
    assert checkpoints.latest_step(tmp_path / "nowhere") is None
    assert checkpoints.all_steps(tmp_path) == []
    for s in [1, 2, 5, 3, 10]:
        out = checkpoints.save(tmp_path, {"s": np.int32(s)}, step=s,
                               metadata={"loss": 1.0 / s, "tag": [s, None]}, keep=3)
        assert out == os.path.join(tmp_path, f"step_{s}")
    assert sorted(os.listdir(tmp_path)) == ["step_10", "step_3", "step_5"]
    assert checkpoints.all_steps(tmp_path) == [3, 5, 10]
    assert checkpoints.latest_step(tmp_path) == 10
    assert int(checkpoints.restore(tmp_path)["s"]) == 10
    assert int(checkpoints.restore(tmp_path, step=5)["s"]) == 5
    assert checkpoints.metadata(tmp_path) == {"loss": 0.1, "tag": [10, None]}
    assert checkpoints.metadata(tmp_path, step=3) == {"loss": 1 / 3, "tag": [3, None]}
    with pytest.raises(FileNotFoundError, match="step 4"):
        checkpoints.restore(tmp_path, step=4)


def test_resaving_a_step_replaces_it_and_leaves_one_npz(tmp_path):
    checkpoints.save(tmp_path, {"w": np.zeros(3)}, step=2)
    checkpoints.save(tmp_path, {"w": np.ones(3)}, step=2, metadata={"again": True})
    assert checkpoints.all_steps(tmp_path) == [2]
    assert np.array_equal(checkpoints.restore(tmp_path)["w"], np.ones(3))
    assert checkpoints.metadata(tmp_path) == {"again": True}
    assert len([n for n in os.listdir(tmp_path / "step_2") if n.endswith(".npz")]) == 1


def test_without_step_the_directory_is_the_checkpoint(tmp_path):
    checkpoints.save(tmp_path, {"a": 1})
    checkpoints.save(tmp_path, {"a": 2})
    assert checkpoints.restore(tmp_path) == {"a": 2}
    assert checkpoints.metadata(tmp_path) == {}
    assert checkpoints.latest_step(tmp_path) is None
    assert len([n for n in os.listdir(tmp_path) if n.endswith(".npz")]) == 1


def test_no_checkpoint_is_file_not_found_naming_the_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="empty_dir"):
        checkpoints.restore(tmp_path / "empty_dir")
    (tmp_path / "step_1").mkdir()  # a step folder without checkpoint.json is not a step
    assert checkpoints.latest_step(tmp_path) is None
    with pytest.raises(FileNotFoundError):
        checkpoints.metadata(tmp_path)


# ---------------------------------------------------------------------------
# Template mismatches
# ---------------------------------------------------------------------------

def test_every_mismatch_with_the_template_is_listed(tmp_path):
    checkpoints.save(tmp_path, {"w": np.zeros((3, 4), np.float32), "b": np.zeros(4),
                                "v": np.zeros(2, np.float32), "n": 1, "gone": np.zeros(1)})
    like = {"w": np.zeros((4, 3), np.float32), "b": np.zeros(4),
            "v": np.zeros(2, ml_dtypes.bfloat16), "n": 1.0, "extra": np.zeros(1)}
    with pytest.raises(ValueError) as info:
        checkpoints.restore(tmp_path, like=like)
    msg = str(info.value)
    assert "5 difference" in msg
    assert "missing in checkpoint: ['extra']" in msg
    assert "unexpected in checkpoint: ['gone']" in msg
    assert "shape mismatch at ['w']: checkpoint (3, 4), template (4, 3)" in msg
    assert "dtype mismatch at ['v']: checkpoint float32, template bfloat16" in msg
    assert "dtype mismatch at ['n']: checkpoint Python int, template Python float" in msg
    assert "['b']" not in msg


# ---------------------------------------------------------------------------
# Refusals
# ---------------------------------------------------------------------------

def test_object_arrays_and_bad_metadata_are_refused(tmp_path):
    with pytest.raises(TypeError, match=r"\['x'\].*object array"):
        checkpoints.save(tmp_path, {"x": np.array([1, "a"], dtype=object)})
    with pytest.raises(TypeError, match="JSON-serialisable"):
        checkpoints.save(tmp_path, {"x": np.zeros(1)}, metadata={"f": lambda: 0})
    with pytest.raises(TypeError, match="JSON-serialisable"):
        checkpoints.save(tmp_path, {"x": np.zeros(1)}, metadata={"a": np.zeros(2)})
    with pytest.raises(TypeError, match="must be a dict"):
        checkpoints.save(tmp_path, {"x": np.zeros(1)}, metadata=[1])
    with pytest.raises(TypeError, match="non-str key 1"):
        checkpoints.save(tmp_path, {1: np.zeros(1)})
    with pytest.raises(TypeError, match="leaf at \\['s'\\] is a str"):
        checkpoints.save(tmp_path, {"s": "text"})
    with pytest.raises(ValueError, match="keep"):
        checkpoints.save(tmp_path, {"x": 1}, step=1, keep=0)
    assert os.listdir(tmp_path) == []  # nothing is written for a refused save


# ---------------------------------------------------------------------------
# Corruption
# ---------------------------------------------------------------------------

def _files(folder):
    npz = next(p for p in folder.iterdir() if p.suffix == ".npz")
    return npz, folder / "checkpoint.json"


def test_flipped_bytes_in_the_npz_are_detected(tmp_path):
    checkpoints.save(tmp_path, {"w": np.arange(1000, dtype=np.float32)}, step=1)
    npz, _ = _files(tmp_path / "step_1")
    data = bytearray(npz.read_bytes())
    data[len(data) // 2] ^= 0xFF
    npz.write_bytes(bytes(data))
    with pytest.raises(checkpoints.CheckpointError, match=npz.name):
        checkpoints.restore(tmp_path)


def test_checksum_mismatch_is_named(tmp_path):
    # A consistent zip (CRC fixed up by rewriting it) whose array bytes changed: only the
    # sha256 in the JSON catches it.
    checkpoints.save(tmp_path, {"w": np.arange(10, dtype=np.float32)})
    npz, _ = _files(tmp_path)
    np.savez(npz, a0=np.arange(10, dtype=np.float32) + 1)
    with pytest.raises(checkpoints.CheckpointError, match=f"{npz.name}.*checksum mismatch"):
        checkpoints.restore(tmp_path)


@pytest.mark.parametrize("keep_bytes", [0, 30, -100])
def test_truncated_npz_is_detected(tmp_path, keep_bytes):
    checkpoints.save(tmp_path, {"w": np.arange(1000, dtype=np.float32)})
    npz, _ = _files(tmp_path)
    data = npz.read_bytes()
    npz.write_bytes(data[:keep_bytes] if keep_bytes >= 0 else data[:keep_bytes])
    with pytest.raises(checkpoints.CheckpointError, match=f"{npz.name}.*(truncated|corrupt)"):
        checkpoints.restore(tmp_path)


@pytest.mark.parametrize("keep_bytes", [0, 10, -5])
def test_truncated_json_is_detected(tmp_path, keep_bytes):
    checkpoints.save(tmp_path, {"w": np.zeros(3)}, step=1)
    _, js = _files(tmp_path / "step_1")
    data = js.read_bytes()
    js.write_bytes(data[:keep_bytes])
    for read in (lambda: checkpoints.restore(tmp_path),
                 lambda: checkpoints.metadata(tmp_path)):
        with pytest.raises(checkpoints.CheckpointError, match="checkpoint.json.*not valid JSON"):
            read()


def test_missing_npz_is_detected(tmp_path):
    checkpoints.save(tmp_path, {"w": np.zeros(3)})
    npz, _ = _files(tmp_path)
    npz.unlink()
    with pytest.raises(checkpoints.CheckpointError, match=f"{npz.name}.*missing"):
        checkpoints.restore(tmp_path)


# ---------------------------------------------------------------------------
# Killed mid-save
# ---------------------------------------------------------------------------

# The child saves a first checkpoint, then a second one with a big-ish array, made to stop
# at one point of the write: "npz" (inside numpy's zip writer, before the zip's directory
# is written: a half-written file) or "commit" (everything written, just before the rename
# that publishes it). It prints a marker there and sleeps until the parent kills it.
CHILD = textwrap.dedent("""
    import os, sys, time, zipfile
    import numpy as np
    import functorch_lite.nn.checkpoints as checkpoints
    directory, mode, where = sys.argv[1:4]
    step = (lambda s: s if mode == "step" else None)
    checkpoints.save(directory, {"w": np.full(1000, 1.0, np.float32), "n": 1}, step=step(1))

    def stop():
        sys.stdout.write("STOPPED\\n")
        sys.stdout.flush()
        time.sleep(60)

    if where == "npz":
        close = zipfile.ZipFile.close
        def slow_close(self):
            stop()
            close(self)
        zipfile.ZipFile.close = slow_close
    else:
        # The publishing rename: the step folder's, or the JSON's without a step.
        target = "step_2" if mode == "step" else "checkpoint.json"
        for name in ("replace", "rename"):
            real = getattr(os, name)
            def slow(src, dst, real=real):
                if os.path.basename(dst) == target:
                    stop()
                return real(src, dst)
            setattr(os, name, slow)
    big = np.random.default_rng(0).normal(size=(512, 1024)).astype(np.float32)
    checkpoints.save(directory, {"w": big, "n": 2}, step=step(2))
    sys.stdout.write("FINISHED\\n")
""")


def test_killed_mid_save_keeps_the_previous_checkpoint(tmp_path):
    cases = [(mode, where) for mode in ("step", "nostep") for where in ("npz", "commit")]
    procs = {}
    for mode, where in cases:  # run concurrently: each child pays the import once
        d = tmp_path / f"{mode}-{where}"
        procs[mode, where] = (d, subprocess.Popen(
            [sys.executable, "-c", CHILD, str(d), mode, where],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    try:
        for (mode, where), (d, p) in procs.items():
            line = p.stdout.readline()  # the child sleeps 60 s at most, so this returns
            assert line == "STOPPED\n", (mode, where, line, p.stderr.read()
                                         if p.poll() is not None else "")
            p.send_signal(signal.SIGKILL)
            p.wait(timeout=30)
    finally:
        for _, p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()

    for (mode, where), (d, _) in procs.items():
        leftovers = [n for n in os.listdir(d) if n.startswith(".tmp")]
        if mode == "step":
            assert checkpoints.latest_step(d) == 1, (mode, where)
            assert leftovers, "the test should have left a half-written temporary behind"
        else:
            assert any(n.startswith(".tmp") or n.endswith(".npz") for n in os.listdir(d))
        got = checkpoints.restore(d)
        assert got["n"] == 1 and same_bits(got["w"], np.full(1000, 1.0, np.float32))

        new = {"w": np.arange(5, dtype=np.float32), "n": 2}
        checkpoints.save(d, new, step=2 if mode == "step" else None)
        assert_same_tree(checkpoints.restore(d), new)
        assert not [n for n in os.listdir(d) if n.startswith(".tmp")], (mode, where)
        npzs = [n for n in os.listdir(d) if n.endswith(".npz")]
        if mode == "step":
            assert checkpoints.all_steps(d) == [1, 2] and npzs == []
            assert checkpoints.restore(d, step=1)["n"] == 1
        else:
            assert len(npzs) == 1


def test_valid_json_that_is_no_checkpoint_is_refused(tmp_path):
    checkpoints.save(tmp_path, {"w": np.zeros(3)})
    js = tmp_path / "checkpoint.json"
    doc = json.loads(js.read_text())
    js.write_text(json.dumps({**doc, "leaves": [{"path": "['w']", "kind": "array"}]}))
    with pytest.raises(checkpoints.CheckpointError, match="checkpoint.json: malformed"):
        checkpoints.restore(tmp_path)
    js.write_text(json.dumps({"format": "something else"}))
    with pytest.raises(checkpoints.CheckpointError, match="not a functorch_lite checkpoint"):
        checkpoints.restore(tmp_path)
