"""JAX's transfer guard (``jax_transfer_guard`` and its per-direction flags): implicit
host-to-device transfers (NumPy arrays and Python scalars as operands, ``fnp.asarray`` of
host data) are logged or refused as JAX does; explicit ones (``device_put``,
``device_get``) only under the ``*_explicit`` levels. Device-to-device transfers are in
tests/multi_device/cases_transfer_guard.py (they need several devices)."""
import logging

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite import config
from functorch_lite.errors import JaxRuntimeError
from helpers import flags_restored, python_with_env

FLAGS = ["transfer_guard", "transfer_guard_host_to_device", "transfer_guard_device_to_device",
         "transfer_guard_device_to_host"]


@pytest.fixture(autouse=True)
def _restore():
    with flags_restored(FLAGS):
        yield


DOUBLE = fl.jit(lambda a: a * 2)
JDOUBLE = jax.jit(lambda a: a * 2)
X, JX = fnp.ones(3), jnp.ones(3)
# (what, ours, JAX's) for transfers JAX counts as implicit host-to-device ones
IMPLICIT = [
    ("jit(numpy)", lambda: DOUBLE(np.ones(3, np.float32)),
     lambda: JDOUBLE(np.ones(3, np.float32))),
    ("jit(scalar)", lambda: DOUBLE(7.25), lambda: JDOUBLE(7.25)),
    ("array + numpy", lambda: X + np.arange(3, dtype=np.float32),
     lambda: JX + np.arange(3, dtype=np.float32)),
    ("asarray(numpy)", lambda: fnp.asarray(np.full(3, 5.0)),
     lambda: jnp.asarray(np.full(3, 5.0))),
    ("array(list)", lambda: fnp.array([1.0, 9.0]), lambda: jnp.array([1.0, 9.0])),
]
EXPLICIT = [
    ("device_put(numpy)", lambda: fl.device_put(np.ones(2)), lambda: jax.device_put(np.ones(2))),
]
# device-to-host on the CPU: not a transfer (the device's memory is the host's), in JAX too
READS = [
    ("np.asarray", lambda: np.asarray(X), lambda: np.asarray(JX)),
    ("tolist", lambda: X.tolist(), lambda: JX.tolist()),
    ("device_get", lambda: fl.device_get(X), lambda: jax.device_get(JX)),
]


def outcome(fn):
    try:
        fn()
    except Exception as e:      # noqa: BLE001  (the type is what is compared)
        return type(e).__name__
    return "ok"


@pytest.mark.parametrize("level", ["allow", "log", "disallow", "log_explicit",
                                   "disallow_explicit"])
@pytest.mark.parametrize("case", IMPLICIT + EXPLICIT + READS, ids=lambda c: c[0])
def test_outcomes_match_jax(level, case):
    _, ours, theirs = case
    with fl.transfer_guard(level):
        got = outcome(ours)
    with jax.transfer_guard(level):
        want = outcome(theirs)
    assert got == want


def test_refusal_names_the_transfer_and_the_level():
    with fl.transfer_guard_host_to_device("disallow"):
        with pytest.raises(JaxRuntimeError, match=r"Disallowed implicit host-to-device "
                           r"transfer: f32\[4\] to .*'disallow'"):
            X[:1] + np.zeros(4, np.float32)
    with fl.transfer_guard("disallow_explicit"):
        with pytest.raises(JaxRuntimeError, match="Disallowed explicit host-to-device"):
            fl.device_put(np.zeros(2))


def test_log_levels_log_through_the_library_logger(caplog):
    with caplog.at_level(logging.WARNING, logger="functorch_lite"):
        with fl.transfer_guard("log"):
            fl.device_put(np.zeros(2))                   # explicit: not logged
            DOUBLE(np.zeros(3, np.float32))
        with fl.transfer_guard("log_explicit"):
            fl.device_put(np.zeros(5))
    messages = [r.getMessage() for r in caplog.records]
    assert messages == ["implicit host-to-device transfer: f32[3] to cpu:0",
                        "explicit host-to-device transfer: f32[5] to cpu:0"]


def test_a_direction_flag_overrides_the_general_one():
    config.update("jax_transfer_guard", "disallow")
    config.update("jax_transfer_guard_host_to_device", "allow")
    np.testing.assert_allclose(DOUBLE(np.ones(3, np.float32)), 2.0)
    config.update("jax_transfer_guard_host_to_device", None)
    with pytest.raises(JaxRuntimeError):
        DOUBLE(np.ones(3, np.float32))


def test_device_arrays_and_programs_move_nothing():
    with fl.transfer_guard("disallow_explicit"):
        np.testing.assert_allclose(DOUBLE(X), 2.0)
        y = fl.jit(lambda a: fnp.sum(a) + fnp.arange(3.0))(X)
        assert y.shape == (3,)


@pytest.mark.parametrize("bad", ["forbid", 0, True])
def test_refused_levels(bad):
    with pytest.raises(ValueError, match="transfer_guard must be None or one of"):
        config.update("jax_transfer_guard", bad)


def test_from_the_environment():
    code = ("import numpy as np, functorch_lite as fl\n"
            "try:\n    fl.jit(lambda a: a + 1)(np.ones(2))\n"
            "except fl.errors.JaxRuntimeError as e:\n    print('refused', e)\n")
    done = python_with_env(code, JAX_TRANSFER_GUARD_HOST_TO_DEVICE="disallow")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("refused Disallowed implicit host-to-device")
