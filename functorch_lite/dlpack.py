"""``fl.dlpack``: exchange arrays with other libraries without copying (JAX's
``jax.dlpack``). Our arrays export themselves (``torch.from_dlpack(x)``,
``np.from_dlpack(x)``); ``from_dlpack`` imports anything that exports itself.

>>> t = torch.arange(4.0)
>>> x = fl.dlpack.from_dlpack(t)        # an Array over t's memory
>>> torch.from_dlpack(x * 2)
tensor([0., 2., 4., 6.])
"""
from __future__ import annotations

from typing import Any

from xla_bridge.array import Array
from xla_bridge.array import from_dlpack as _from_dlpack

__all__ = ["from_dlpack"]


def from_dlpack(external_array: Any, device: Any = None, copy: bool | None = None) -> Array:
    """An Array holding ``external_array`` (a NumPy array, torch tensor or anything with
    ``__dlpack__``), sharing its memory when the device allows. Dtypes are canonicalized
    as JAX does (int64 becomes int32 unless x64 is enabled); the data must be compactly
    strided (a transposition, not a broadcast or a step)."""
    return _from_dlpack(external_array, device, copy)
