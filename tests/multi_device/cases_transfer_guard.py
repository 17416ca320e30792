"""Device-to-device transfers under the transfer guard (run on 8 host devices by
test_on_8_devices.py): an argument moved to the device its computation runs on, or
re-laid out over a mesh, is implicit; ``device_put`` to another device is explicit. Each
outcome is compared with JAX's."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import Mesh as JMesh, NamedSharding as JNamed, PartitionSpec as JP

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite.errors import JaxRuntimeError
from functorch_lite.sharding import Mesh, NamedSharding, PartitionSpec as P

D, JD = fl.devices(), jax.devices()


def outcome(fn):
    try:
        fn()
    except Exception as e:      # noqa: BLE001
        return type(e).__name__
    return "ok"


def cases(n):
    x, jx = fl.device_put(fnp.ones(n), D[1]), jax.device_put(jnp.ones(n), JD[1])
    y, jy = fnp.ones(n), jnp.ones(n)
    mesh, jmesh = Mesh(np.array(D[:4]), ("i",)), JMesh(np.array(JD[:4]), ("i",))
    rows = fl.jit(lambda a: a * 2, in_shardings=NamedSharding(mesh, P("i")))
    jrows = jax.jit(lambda a: a * 2, in_shardings=JNamed(jmesh, JP("i")))
    return {
        "operand moved to the computation's device": (lambda: x + y, lambda: jx + jy),
        "jit argument moved": (lambda: fl.jit(lambda a, b: a + b)(x, y),
                               lambda: jax.jit(lambda a, b: a + b)(jx, jy)),
        "re-laid out over a mesh": (lambda: rows(y), lambda: jrows(jy)),
        "device_put to another device": (lambda: fl.device_put(y, D[2]),
                                         lambda: jax.device_put(jy, JD[2])),
    }


@pytest.mark.parametrize("level", ["allow", "disallow", "disallow_explicit"])
def test_device_to_device_outcomes_match_jax(level):
    # Arrays made beforehand, of a length of the level's own (a multiple of the mesh's 4):
    # JAX checks a transfer on an operation's first call but not on its cached calls (ours
    # checks every call). And its per-direction block lets the first case through where
    # its all-directions block refuses it: the all-directions blocks are compared.
    n = 4 * (1 + ["allow", "disallow", "disallow_explicit"].index(level))
    for name, (ours, theirs) in cases(n).items():
        with fl.transfer_guard(level):
            got = outcome(ours)
        with jax.transfer_guard(level):
            want = outcome(theirs)
        assert got == want, (name, level, got, want)
        with fl.transfer_guard_device_to_device(level):
            assert outcome(ours) == got


def test_device_to_device_refusal_says_where_from_and_to():
    x, y = fl.device_put(fnp.ones(4), D[1]), fnp.ones(4)
    with fl.transfer_guard("disallow"):
        with pytest.raises(JaxRuntimeError, match=r"device-to-device transfer: f32\[4\] "
                           r"from cpu:0 to cpu:1"):
            x + y
