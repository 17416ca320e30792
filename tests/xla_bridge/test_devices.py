"""More than one device: arrays carry their device, ``device_put`` moves data, and a jitted
function (or an eager op) runs where its inputs are, with its cached-call path too: on the
device other than the default that an argument was put on (arguments on the default device
follow it), and two such devices in one call are an error naming both, as JAX reports
arrays committed to different devices.

XLA's CPU client makes several host devices when asked by ``XLA_FLAGS`` before it starts, so
the checks run in a fresh interpreter."""
import os
import pathlib
import subprocess
import sys
import textwrap

REPO = pathlib.Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent("""
    import numpy as np
    import functorch_lite as fl
    import functorch_lite.numpy as fnp

    d0, d1 = fl.devices()[:2]
    x1 = fl.device_put(np.ones(3, np.float32), d1)
    x0 = fl.device_put(np.ones(3, np.float32), d0)
    assert x1.device == d1 and x0.device == d0
    assert fl.device_put(x1, d0).device == d0

    c = np.arange(3.0, dtype=np.float32)          # a captured constant
    f = fl.jit(lambda a: a * 2 + c)
    for _ in range(3):                            # first call, then the cached-call path
        y = f(x1)
        assert y.device == d1, y.device
        np.testing.assert_array_equal(np.asarray(y), [2, 3, 4])
    assert f(x0).device == d0 and f(x1).device == d1 and f(x0).device == d0
    assert f.trace_count() == 1                   # one trace, compiled per device

    g = fl.jit(lambda a, b: (a + b, a * b))
    s, p = g(x1, x0)                              # the non-default device wins
    assert s.device == d1 and p.device == d1
    np.testing.assert_array_equal(np.asarray(g(x0, x1)[0]), [2, 2, 2])
    assert g(x0, x1)[0].device == d1 and g(x0, x0)[0].device == d0

    x2 = fl.device_put(np.ones(3, np.float32), fl.devices()[2])
    for call in (lambda: g(x1, x2), lambda: x1 + x2):
        try:
            call()
        except ValueError as e:
            assert "cpu:1" in str(e) and "cpu:2" in str(e), e
        else:
            raise AssertionError("arrays on two devices were combined")

    assert (x1 + x0).device == d1 and fnp.sin(x1).device == d1
    gr = fl.jit(fl.grad(lambda a: fnp.sum(a * a)))(x1)
    assert gr.device == d1
    np.testing.assert_array_equal(np.asarray(gr), [2, 2, 2])
    print("ok")
""")


def test_jit_and_eager_run_where_their_inputs_are(tmp_path):
    script = tmp_path / "devices.py"
    script.write_text(SCRIPT)
    env = dict(os.environ)
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") +
                        " --xla_force_host_platform_device_count=3").strip()
    env["JAX_PLATFORMS"] = "cpu"
    r = subprocess.run([sys.executable, str(script)], cwd=REPO, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.strip().endswith("ok")
