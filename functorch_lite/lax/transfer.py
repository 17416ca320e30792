"""``device_put``: move host data (or an array) onto a device.

A primitive so that it composes: eagerly it transfers; under ``jit`` the host value becomes
a program constant and the equation is an identity; derivatives and batching pass through.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from functorch_lite.core import dtypes
from functorch_lite.core.avals import get_aval
from functorch_lite.core.primitive import Primitive, backend_device_put
from functorch_lite.interpreters import ad

__all__ = ["device_put"]

device_put_p = Primitive("device_put")


@device_put_p.def_shape
def _device_put_shape(x, *, device):
    return x


@device_put_p.def_impl
def _device_put_impl(x, *, device):
    return backend_device_put(x, device, get_aval(x).weak_type)


def device_put(x: Any, device: Any = None):
    """Place ``x`` on ``device`` (default: the default device). NumPy inputs have their
    dtype canonicalized (float64 becomes float32 unless x64 is enabled)."""
    if isinstance(x, (np.ndarray, np.generic)):
        dt = dtypes.canonicalize_dtype(x.dtype)
        if x.dtype != dt:
            x = np.asarray(x, dt)
    return device_put_p.bind(x, device=device)


# ---------------------------------------------------------------------------------------
# Derivative and batching rules: device_put is the identity on values, so it is linear
# (its transpose passes the cotangent through) and batches in place.


def _device_put_transpose(ct, x, *, device):
    return [None if type(ct) is ad.Zero else ct]


ad.deflinear(device_put_p, _device_put_transpose)


@device_put_p.def_batch
def _device_put_batch(axis, args, dims, *, device):
    (x,), (d,) = args, dims
    return device_put_p.bind(x, device=device), d
