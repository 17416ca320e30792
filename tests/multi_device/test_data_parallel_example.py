"""examples/data_parallel.py prints the same loss curve on 8 host devices, on one device and
as 2 processes of 4 devices each (each run in its own interpreter: the host device count
is fixed when XLA starts)."""
import os
import pathlib
import re
import subprocess
import sys

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[2]
STEPS = 20


def loss_curve(*flags: str) -> dict[int, float]:
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}  # the script sets it
    r = subprocess.run([sys.executable, str(REPO / "examples" / "data_parallel.py"),
                        "--steps", str(STEPS), "--log-every", "5", "--timeout", "150", *flags],
                       cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    curve = {int(s): float(v) for s, v in re.findall(r"^step\s+(\d+)\s+loss ([\d.]+)$",
                                                       r.stdout, re.M)}
    assert sorted(curve) == [1, 5, 10, 15, 20], r.stdout
    return curve


def test_one_device_eight_devices_and_two_processes_print_the_same_curve():
    eight = loss_curve()
    one = loss_curve("--devices", "1")
    two_processes = loss_curve("--processes", "2")
    assert eight[20] < 0.6 * eight[1], eight  # it trains
    for other in (one, two_processes):
        np.testing.assert_allclose([other[s] for s in sorted(other)],
                                   [eight[s] for s in sorted(eight)], rtol=1e-4, atol=1e-6)
