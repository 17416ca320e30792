"""JAX's transfer guard: what happens when data moves between the host and a device, or
between devices. Each direction has a level, from ``config`` ("transfer_guard_<kind>", else
"transfer_guard", else "allow"):

* ``allow``: nothing; ``log`` / ``disallow``: log / refuse implicit transfers (an operand
  given as a NumPy array or Python scalar, ``fnp.asarray(np_array)``, ``np.asarray(x)`` of
  a device array, an argument moved to the device its computation runs on);
* ``log_explicit`` / ``disallow_explicit``: the same for explicit ones too
  (``device_put``, ``device_get``).

This module keeps the levels and which transfers are explicit (API functions mark them with
``explicit()``); the backend calls ``check`` where it moves data."""
from __future__ import annotations

import contextlib
import logging
import threading
from typing import Callable, Iterator

from functorch_lite.core.config import TRANSFER_KINDS, config

logger = logging.getLogger("functorch_lite")
_explicit = threading.local()


@contextlib.contextmanager
def explicit() -> Iterator[None]:
    """Transfers made inside are explicit ones (``device_put``, ``device_get``)."""
    _explicit.depth = getattr(_explicit, "depth", 0) + 1
    try:
        yield
    finally:
        _explicit.depth -= 1


_FLAG = {kind: "transfer_guard_" + kind for kind in TRANSFER_KINDS}


def level(kind: str) -> str:
    # (plain attribute reads: this runs for every scalar operand on jit's cached path)
    return getattr(config, _FLAG[kind]) or config.transfer_guard or "allow"


def check(kind: str, describe: Callable[[], str], error: type = RuntimeError) -> None:
    """Log or refuse a ``kind`` transfer as its level says; ``describe()`` names what moves
    (called only when something is said). Refusals raise ``error``."""
    lvl = level(kind)
    if lvl == "allow":
        return
    is_explicit = getattr(_explicit, "depth", 0) > 0
    if is_explicit and not lvl.endswith("_explicit"):
        return
    what = f"{kind.replace('_', '-')} transfer: {describe()}"
    if lvl.startswith("log"):
        logger.warning("%s %s", "explicit" if is_explicit else "implicit", what)
    else:
        raise error(f"Disallowed {'explicit' if is_explicit else 'implicit'} {what} "
                    f"(transfer guard level {lvl!r})")
