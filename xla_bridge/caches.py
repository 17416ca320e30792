"""Every in-memory cache of xla_bridge, listed here with its bound; ``clear()`` empties them.

Eager code meets a new (primitive, shapes) pair at every new shape, and each one is an
executable compiled and kept in memory; without a bound a long process (a test run, a
notebook) keeps every executable it ever made. Each cache below is an LRU of at most
``maxsize`` entries that drops the least recently used ones (approximately: see
``LRUCache``). An entry dropped is only compiled (or transferred) again if it is
needed again, so the bounds trade memory for recompilation, never for correctness.

``functorch_lite.clear_caches()`` reaches ``clear()`` through the backend interface.

Not listed, because they are not caches of results: the PJRT client per platform
(``_jaxlib.client``, ``runtime._client_for``; at most one per platform, never cleared,
since devices must stay the same objects). The on-disk compilation cache (``compile.py``)
lives in the user's directory and outlives the process, as JAX's does.
"""
from __future__ import annotations

from typing import Any, Hashable


class LRUCache:
    """A mapping of at most ``maxsize`` entries that forgets the least recently used ones.
    Values are never None (``get`` returns None for a miss).

    It is the CLOCK approximation of LRU ("second chance"): a hit only marks its entry as
    used, and an insert past the bound drops the oldest entry not used since it was last
    passed over (a used one is unmarked and moved to the back instead). A hit must cost no
    more than a dict lookup: the keys hold devices, whose hash is slow, and exact LRU
    would hash every key twice per hit (``OrderedDict.move_to_end``), which jit's
    cached-call path would feel for every Python scalar argument."""

    __slots__ = ("name", "maxsize", "_entries")

    def __init__(self, name: str, maxsize: int):
        self.name = name
        self.maxsize = maxsize
        self._entries: dict = {}  # key -> [value, used since inserted or passed over]

    def get(self, key: Hashable) -> Any:
        entry = self._entries.get(key)
        if entry is None:
            return None
        entry[1] = True
        return entry[0]

    def __setitem__(self, key: Hashable, value: Any) -> None:
        entries = self._entries
        entries.pop(key, None)  # a replaced entry goes to the back, as a new one
        entries[key] = [value, False]
        while len(entries) > self.maxsize:
            oldest = next(iter(entries))
            entry = entries.pop(oldest)
            if entry[1]:  # used: a second chance at the back
                entry[1] = False
                entries[oldest] = entry

    def pop(self, key: Hashable, default: Any = None) -> Any:
        entry = self._entries.pop(key, None)
        return default if entry is None else entry[0]

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._entries

    def __repr__(self) -> str:
        return f"<LRUCache {self.name!r}: {len(self)}/{self.maxsize}>"


# The bounds. Even an executable of one small primitive holds about 0.2 MB of host memory
# on the CPU backend (benchmarks/cache_stress.py), so a thousand is about 200 MB. The text
# cache sees every executable compiled in this process, eager ones too.
executables_by_text = LRUCache("executables by StableHLO text and device", maxsize=1024)
"""(module text, device, XLA options) -> loaded executable (``compile.compile_text``): the
same program lowered twice, e.g. by two jit wrappers of one function, is compiled once."""

eager_executables = LRUCache("eager one-primitive calls", maxsize=1024)
"""(primitive, input avals, params, device) -> ``dispatch.Compiled``
(``eager.apply_primitive``): skips building and lowering the one-equation program."""

spmd_executables = LRUCache("executables partitioned over a mesh", maxsize=256)
"""(module text, device ids, XLA options) -> loaded executable (``spmd.CompiledSpmd``);
eager calls on sharded arrays keep their ``CompiledSpmd`` in ``eager_executables``."""

scalar_buffers = LRUCache("device buffers of Python scalars", maxsize=4096)
"""(type, value, device) -> ``Array`` (``operands.to_array``): a scalar such as the ``2.0``
of ``x * 2.0`` is transferred once, not at every call."""

ALL: tuple[LRUCache, ...] = (executables_by_text, eager_executables, spmd_executables,
                             scalar_buffers)


def clear() -> None:
    """Empty every cache above (compiled executables stay alive while a jitted function
    still holds them)."""
    for cache in ALL:
        cache.clear()


def sizes() -> dict[str, tuple[int, int]]:
    """{cache name: (entries, bound)}, for diagnostics and benchmarks/cache_stress.py."""
    return {c.name: (len(c), c.maxsize) for c in ALL}
