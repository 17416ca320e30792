"""Runs tests/multi_device/cases_*.py in a fresh interpreter with 8 forced host devices
(XLA makes the CPU devices once, when it starts, so the flag cannot be set in this
process; the rest of the suite keeps its one device). One test per cases module; a failure
shows the inner run's report."""
import os
import pathlib
import subprocess
import sys

import pytest

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]


def run_cases(module: str, devices: int = 8, timeout: int = 600) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") +
                        f" --xla_force_host_platform_device_count={devices}").strip()
    env["JAX_PLATFORMS"] = "cpu"
    env.pop("PYTEST_XDIST_WORKER", None)
    return subprocess.run(
        [sys.executable, "-m", "pytest", str(HERE / module), "-q", "-p", "no:xdist",
         "-p", "no:cacheprovider", "-x", "--rootdir", str(REPO)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("module", sorted(p.name for p in HERE.glob("cases_*.py")))
def test_cases_on_8_host_devices(module):
    r = run_cases(module)
    assert r.returncode == 0, (r.stdout[-6000:] + r.stderr[-3000:])
