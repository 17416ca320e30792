"""``Array``: an n-dimensional array living in a device buffer.

Arithmetic, indexing and the NumPy-style methods are attached by ``functorch_lite.numpy``
(the same methods tracers get), so this class only owns storage, transfer and placement."""
from __future__ import annotations

from typing import Any

import numpy as np

from functorch_lite.core import avals as avals_mod
from functorch_lite.core import dtypes, transfer_guard
from functorch_lite.core.avals import ShapedArray
from functorch_lite.core.config import config
from functorch_lite.core.sharding import Sharding, SingleDeviceSharding
from xla_bridge import _jaxlib, runtime


class DeletedArrayError(RuntimeError):
    pass


class _Sharded:
    """The ``_device`` of an array spread over several devices: no device is it, so the
    one-device paths (which test ``a._device is device``) pass such arrays by."""

    def __repr__(self) -> str:
        return "<several devices>"


SHARDED = _Sharded()


class Array(avals_mod.Array):
    """An immutable array on one device, or split over several (``sharding``).
    ``np.asarray(a)`` copies it to the host (gathering the pieces)."""

    __slots__ = ("_buf", "aval", "_device", "_sharding", "__weakref__")
    __array_priority__ = 100

    def __init__(self, buf: Any, aval: ShapedArray, device: Any = None,
                 sharding: Sharding | None = None):
        self._buf = buf
        self.aval = aval
        # A NamedSharding (or XLA's own) over a mesh; None: on one device, ``_device``,
        # which is looked up from the buffer on first use when not given.
        self._sharding = sharding
        self._device = SHARDED if sharding is not None else device

    # shape, dtype, ndim, size, weak_type and nbytes come from the shared Array type

    # -- storage -----------------------------------------------------------------------------
    @property
    def buffer(self):
        """The device buffer; raises if the array was donated to a computation."""
        if _jaxlib.is_deleted(self._buf):
            raise DeletedArrayError(
                f"Array {self.aval.str_short()} has been deleted: it was donated to a jitted "
                "computation (donate_argnums) or deleted explicitly; use the computation's "
                "output instead")
        return self._buf

    def is_deleted(self) -> bool:
        return _jaxlib.is_deleted(self._buf)

    def delete(self) -> None:
        _jaxlib.delete(self._buf)

    def devices(self) -> set:
        return self.sharding.device_set

    @property
    def device(self):
        if self._sharding is not None:
            devices = self._sharding.device_set
            if len(devices) == 1:
                return next(iter(devices))
            raise ValueError(f"Array {self.aval.str_short()} is split over {len(devices)} "
                             f"devices ({self._sharding}); it has no single device: use "
                             ".devices() or .sharding")
        if self._device is None:
            self._device = _jaxlib.buffer_device(self.buffer)
        return self._device

    @property
    def sharding(self) -> Sharding:
        """How the array is laid out over devices (``SingleDeviceSharding`` for one)."""
        return self._sharding or SingleDeviceSharding(self.device)

    @property
    def is_fully_replicated(self) -> bool:
        return self.sharding.is_fully_replicated

    @property
    def is_fully_addressable(self) -> bool:
        return self.sharding.is_fully_addressable

    @property
    def addressable_shards(self) -> list["Shard"]:
        """The pieces this process holds, one per device: ``.data`` (an Array on that
        device), ``.index`` (the slices of the whole it is) and ``.device``."""
        if self._sharding is None:
            return [Shard(self, tuple(slice(None) for _ in self.shape), self.device)]
        out = []
        for buf, index, device in _jaxlib.shards(self.buffer):
            shape = tuple(len(range(*s.indices(n))) for s, n in zip(index, self.shape))
            out.append(Shard(Array(buf, self.aval.update(shape=shape), device), index,
                             device))
        return out

    def block_until_ready(self) -> "Array":
        _jaxlib.block_until_ready(self.buffer)
        return self

    def __array__(self, dtype=None, copy=None):
        """NumPy 2's conversion protocol. The host value is a read-only view of the
        transferred buffer (``np.asarray(x)``, as JAX's); ``copy=True`` (``np.array(x)``)
        gives a fresh writable array; ``copy=False`` refuses a conversion that needs one."""
        out = self._value()
        if dtype is not None and out.dtype != np.dtype(dtype):
            if copy is False:
                raise ValueError(
                    f"Array.__array__: converting {self.dtype} to {np.dtype(dtype)} needs a "
                    "copy, but copy=False was requested; use np.asarray(x, dtype) to allow it")
            return out.astype(dtype)
        return out.copy() if copy else out

    def _value(self) -> np.ndarray:
        if config.transfer_guard or config.transfer_guard_device_to_host:
            # (a CPU device's memory is the host's: reading it is no transfer, as in JAX)
            where = self.devices()
            if any(d.platform != "cpu" for d in where):
                guard("device_to_host", lambda: f"{self.aval.str_short()} from "
                                                f"{sorted(map(str, where))}")
        out = _jaxlib.to_host(self.buffer)
        if self.aval.dtype == dtypes.float0:
            return np.zeros(self.shape, dtypes.float0)
        return out

    # -- DLPack: hand the buffer to another library without copying ---------------------
    def __dlpack__(self, *, stream: Any = None, max_version: Any = None,
                   dl_device: Any = None, copy: bool | None = None):
        """The DLPack capsule of this array's buffer (``torch.from_dlpack(x)``,
        ``np.from_dlpack(x)``); arrays on several devices have no single buffer."""
        if self._sharding is not None and len(self._sharding.device_set) > 1:
            raise ValueError(f"Array {self.aval.str_short()} is on "
                             f"{len(self._sharding.device_set)} devices; DLPack exports one "
                             "buffer: take a shard (x.addressable_shards[i].data) instead")
        kwargs = {k: v for k, v in (("stream", stream), ("max_version", max_version),
                                    ("dl_device", dl_device), ("copy", copy)) if v is not None}
        return self.buffer.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self.buffer.__dlpack_device__()

    def item(self, *args):
        return self._value().item(*args)

    def tolist(self):
        return self._value().tolist()

    def __bool__(self):
        return bool(self._value())

    def __int__(self):
        return int(self._value())

    def __float__(self):
        return float(self._value())

    def __complex__(self):
        return complex(self._value())

    def __index__(self):
        if not dtypes.is_int(self.dtype):
            raise TypeError(f"only integer arrays can be used as an index, got {self.dtype}")
        return int(self._value())

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of unsized object (a 0-d array)")
        return self.shape[0]

    def __iter__(self):
        if not self.shape:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(self.shape[0]))

    def __hash__(self):
        raise TypeError("unhashable type: 'Array'")

    def __repr__(self) -> str:
        if self.is_deleted():
            return f"Array(<deleted>, shape={self.shape}, dtype={self.dtype})"
        body = np.array2string(self._value(), separator=", ", prefix="Array(")
        shape = f", shape={self.shape}" if self.size == 0 else ""  # "[]" alone hides it
        weak = ", weak_type=True" if self.weak_type else ""
        return f"Array({body}{shape}, dtype={self.dtype}{weak})"

    def __str__(self) -> str:
        return str(self._value())

    def __format__(self, spec):
        if not spec:
            return str(self)
        return format(self._value() if self.ndim else self._value().item(), spec)

    def __reduce__(self):  # copy.deepcopy support; no pickle files are ever read
        return (from_numpy, (self._value(), None, self.weak_type))

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self


class Shard:
    """One device's piece of an array: ``data``, ``index`` (slices into the whole) and
    ``device``."""

    __slots__ = ("data", "index", "device")

    def __init__(self, data: Array, index: tuple, device: Any):
        self.data, self.index, self.device = data, index, device

    def __repr__(self) -> str:
        return (f"Shard(device={self.device!r}, index={self.index}, "
                f"data={self.data.aval.str_short()})")


# The code that runs executables (xla_bridge.dispatch, operands) reads the slots ``_buf``
# (the buffer, without ``buffer``'s deleted check: the runtime reports a deleted one) and
# ``_device`` (None until ``device`` looks it up) directly, for every argument of every
# cached jit call: a property would add a call per argument. They are private to
# xla_bridge, which owns this class; nothing outside the package reads them.


def from_dlpack(external: Any, device=None, copy: bool | None = None) -> Array:
    """An Array over the memory of ``external`` (anything with ``__dlpack__``)."""
    if isinstance(external, Array):
        return external
    if not hasattr(external, "__dlpack__"):
        raise TypeError(f"from_dlpack: expected an object with __dlpack__ (a NumPy array, a "
                        f"torch tensor, ...), got {type(external).__name__}")
    buf = _jaxlib.from_dlpack(external, device, copy)
    return Array(buf, ShapedArray(tuple(buf.shape), np.dtype(buf.dtype)),
                 _jaxlib.buffer_device(buf))


def guard(kind: str, describe) -> None:
    """The transfer guard's say on a ``kind`` transfer (``core.transfer_guard``); a refusal
    is a ``JaxRuntimeError``, as JAX's."""
    transfer_guard.check(kind, describe, _jaxlib.JaxRuntimeError)


def from_numpy(value: Any, device=None, weak_type: bool = False,
               guarded: bool = True) -> Array:
    """Copy a NumPy array (or scalar) to ``device``, canonicalizing its dtype (x64 flag);
    ``guarded=False`` where the caller asked the transfer guard already."""
    arr = np.asarray(value)
    dtype = dtypes.canonicalize_dtype(arr.dtype)
    device = device or runtime.default_device()
    if guarded:
        guard("host_to_device", lambda: f"{ShapedArray(arr.shape, dtype, weak_type).str_short()}"
                                        f" to {device}")
    if dtype == dtypes.float0:
        # float0 (the tangent type of integers) holds no data; on the device it is a bool
        # zeros buffer, as the lowering types it.
        buf = _jaxlib.to_device(np.zeros(arr.shape, np.bool_), device)
        return Array(buf, ShapedArray(arr.shape, dtype, weak_type), device)
    if arr.dtype != dtype:
        arr = arr.astype(dtype)
    buf = _jaxlib.to_device(arr, device)
    return Array(buf, ShapedArray(arr.shape, dtype, weak_type), device)


def _array_aval(x: Array) -> ShapedArray:
    return x.aval


avals_mod.aval_handlers[Array] = _array_aval
