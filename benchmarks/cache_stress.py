"""Memory under eager ops on many distinct shapes: it must stop growing once the caches
reach their bounds (xla_bridge/caches.py), instead of keeping every executable compiled.

    python benchmarks/cache_stress.py [--shapes 10000] [--every 1000]

Each shape n runs ``x + 1``, ``fnp.sum`` and ``lax.neg`` eagerly on a float32[n] array:
each is a new executable (the first two through jit's cached-call path, the last as a
one-primitive eager call). Every ``--every`` shapes it prints the resident memory (VmRSS
from /proc/self/status) and each cache's entries/bound.
"""
from __future__ import annotations

import argparse
import gc
import time

import numpy as np

import functorch_lite.numpy as fnp
from functorch_lite import lax
from xla_bridge import caches


def rss_mib() -> float:
    """Resident memory of this process in MiB (Linux)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status (not Linux?)")


def run_shape(n: int) -> None:
    x = fnp.asarray(np.full(n, 0.5, np.float32))
    y = x + 1
    s = fnp.sum(y)
    z = lax.neg(y)
    assert np.asarray(s) == 1.5 * n and np.asarray(z)[0] == -1.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shapes", type=int, default=10_000)
    parser.add_argument("--every", type=int, default=1_000)
    args = parser.parse_args()
    names = {c.name: short for c, short in zip(
        caches.ALL, ("by_text", "eager", "scalars"))}
    print(f"{'shapes':>7} {'RSS MiB':>8} {'s':>6}  " +
          "  ".join(f"{names[c.name]} (/{c.maxsize})" for c in caches.ALL))
    start = time.perf_counter()
    run_shape(1)
    print(f"{0:>7} {rss_mib():8.1f} {0.0:6.0f}  " + "  ".join(
        f"{len(c):>{len(names[c.name]) + len(str(c.maxsize)) + 3}}" for c in caches.ALL))
    for i in range(1, args.shapes + 1):
        run_shape(i + 1)
        if i % args.every == 0:
            gc.collect()
            print(f"{i:>7} {rss_mib():8.1f} {time.perf_counter() - start:6.0f}  " + "  ".join(
                f"{len(c):>{len(names[c.name]) + len(str(c.maxsize)) + 3}}"
                for c in caches.ALL), flush=True)


if __name__ == "__main__":
    main()
