"""Compiling programs into executables (running them is ``dispatch.py``'s job): an
in-memory cache keyed by the module text (``caches.executables_by_text``), and an optional
on-disk cache (``config.update("compilation_cache_dir", path)`` or the
``FUNCTORCH_LITE_COMPILATION_CACHE_DIR`` environment variable).

Only compiles that took at least ``persistent_cache_min_compile_time_secs`` and whose
executable is at least ``persistent_cache_min_entry_size_bytes`` long are written (JAX's
options; both 0 by default here, where JAX skips compiles under a second).

Disk entries are our own format: a magic line, the SHA-256 of the payload, then the
serialized executable. An entry that is truncated, corrupt or from another format is
ignored and rewritten; entries are written to a temporary file and renamed into place.
"""
from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from typing import Any, Sequence

import numpy as np

from functorch_lite.core import dtypes
from functorch_lite.core.avals import ShapedArray
from functorch_lite.core.config import config
from functorch_lite.core.ir import Program
from xla_bridge import _jaxlib, runtime
from xla_bridge.array import Array
from xla_bridge.caches import executables_by_text
from xla_bridge.lowering.core import lower_program
from xla_bridge.xla_options import with_defaults

logger = logging.getLogger("functorch_lite")

_MAGIC = b"functorch_lite-executable-v1\n"


class Executable:
    """A compiled program: runs on device buffers, returns output buffers."""

    __slots__ = ("exe", "out_avals", "device", "text", "name", "handlers", "has_float0",
                 "host_callbacks")

    def __init__(self, exe, out_avals: Sequence[ShapedArray], device, text: str, name: str,
                 host_callbacks: Sequence[Any] = ()):
        self.exe = exe
        self.host_callbacks = list(host_callbacks)  # the Python functions the program calls
        self.out_avals = list(out_avals)
        self.device = device
        self.text = text
        self.name = name
        # float0 outputs (tangents of integer values) hold no data: XLA returns bools,
        # and the caller gets NumPy float0 zeros, as from JAX.
        self.has_float0 = any(a.dtype == dtypes.float0 for a in self.out_avals)
        self.handlers = _jaxlib.result_handlers(
            [a.update(dtype=np.bool_) if a.dtype == dtypes.float0 else a
             for a in self.out_avals], device)

    def execute(self, buffers: list) -> list:
        run = _jaxlib.execute_and_wait if self.host_callbacks else _jaxlib.execute
        return run(self.exe, buffers, self.handlers)

    def wrap(self, outs: list) -> list:
        """The output buffers as Arrays (float0 ones as NumPy zeros)."""
        device = self.device
        if self.has_float0:
            return [np.zeros(a.shape, dtypes.float0) if a.dtype == dtypes.float0
                    else Array(b, a, device) for b, a in zip(outs, self.out_avals)]
        if len(outs) == 1:
            return [Array(outs[0], self.out_avals[0], device)]
        return [Array(b, aval, device) for b, aval in zip(outs, self.out_avals)]

    def cost_analysis(self) -> dict:
        return _jaxlib.cost_analysis(self.exe)

    def memory_analysis(self):
        return _jaxlib.memory_stats(self.exe)


# The name tests and benchmarks/run.py use for the cache of compiled texts (caches.py).
_text_cache = executables_by_text
stats = {"compiles": 0, "disk_hits": 0}


def _cache_key(text: str, device, options: tuple = ()) -> str:
    client = device.client
    parts = [text, _jaxlib.platform_version(client), getattr(device, "device_kind", ""),
             _jaxlib.jaxlib_version(),
             repr(options) if options else "default-compile-options"]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _cache_dir() -> str | None:
    path = config.compilation_cache_dir
    if not path:
        return None
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
    except OSError as e:
        logger.warning("compilation cache disabled: cannot use %s (%s)", path, e)
        return None
    if not os.path.isdir(path):
        logger.warning("compilation cache disabled: %s is not a directory", path)
        return None
    return path


def _read_entry(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            blob = f.read()
    except OSError:
        return None
    if not blob.startswith(_MAGIC) or len(blob) < len(_MAGIC) + 64:
        return None
    digest = blob[len(_MAGIC):len(_MAGIC) + 64].decode("ascii", "replace")
    payload = blob[len(_MAGIC) + 64:]
    if hashlib.sha256(payload).hexdigest() != digest:
        return None
    return payload


def _write_entry(directory: str, path: str, payload: bytes) -> None:
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    except OSError as e:
        logger.warning("could not write compilation cache entry %s: %s", path, e)
        return
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(_MAGIC + hashlib.sha256(payload).hexdigest().encode() + payload)
        os.replace(tmp, path)
    except OSError as e:
        logger.warning("could not write compilation cache entry %s: %s", path, e)
        try:
            os.unlink(tmp)
        except OSError:
            pass


def compile_text(text: str, device, name: str = "main", options: tuple = ()) -> Any:
    """``text`` compiled for ``device`` with XLA's ``options`` ((name, value) pairs,
    sorted), through the in-memory and on-disk caches."""
    # Ours added (xla_options) before any key is made: an on-disk entry compiled before a
    # change of our choices is then not taken for one compiled after.
    options = with_defaults(text, runtime.device_platform(device), options)
    key = (text, device, options)
    exe = executables_by_text.get(key)
    if exe is not None:
        return exe
    directory = _cache_dir()
    path = None
    if directory is not None:
        path = os.path.join(directory, _cache_key(text, device, options) + ".bin")
        payload = _read_entry(path)
        if payload is not None:
            try:
                exe = _jaxlib.deserialize_executable(device.client, payload, [device])
                stats["disk_hits"] += 1
            except Exception:  # stale or foreign entry: recompile and overwrite it
                exe = None
    if exe is None:
        if config.log_compiles:
            logger.warning("XLA compile of %s", name)
        started = time.perf_counter()
        exe = _jaxlib.compile(device.client, text, [device], options)
        took = time.perf_counter() - started
        stats["compiles"] += 1
        if path is not None and took >= config.persistent_cache_min_compile_time_secs:
            payload = _jaxlib.serialize_executable(device.client, exe)
            if len(payload) >= config.persistent_cache_min_entry_size_bytes:
                _write_entry(directory, path, payload)
    executables_by_text[key] = exe
    return exe


def compile_program(program: Program, device=None, name: str = "main",
                    donated: Sequence[bool] = (), options: tuple = ()) -> Executable:
    device = device or runtime.default_device()
    callbacks: list = []
    text = lower_program(program, name=name, donated=donated, host_callbacks=callbacks,
                         platform=runtime.device_platform(device))
    if callbacks:
        # Not cached by text: the text names callbacks by index only, and another program
        # with the same text calls other functions. (jit caches the Executable itself.)
        if config.log_compiles:
            logger.warning("XLA compile of %s", name)
        options = with_defaults(text, runtime.device_platform(device), options)
        exe = _jaxlib.compile_with_host_callbacks(device.client, text, [device], callbacks,
                                                  options)
        stats["compiles"] += 1
    else:
        exe = compile_text(text, device, name, options)
    return Executable(exe, program.out_avals, device, text, name, callbacks)


def lower(program: Program, name: str = "main") -> str:
    return lower_program(program, name=name, platform=runtime.default_backend())
