"""Helpers shared by the ``functorch_lite.scipy.stats`` distributions."""
from __future__ import annotations

import numpy as np

from functorch_lite import lax
from functorch_lite.core.avals import TypedScalar
from functorch_lite.numpy import _util

inf = np.inf
nan = np.nan


def arrays(args):
    # Promotion leaves Python scalars as typed (weak) scalars; make them arrays so that
    # operators and methods work on every argument.
    return [lax.device_put(a) if type(a) is TypedScalar else a for a in args]


def promote(name, *args):
    """JAX-style promotion: to a common inexact dtype, then broadcast to one shape."""
    return arrays(_util.promote_args_inexact(name, *args))


def promote_dtypes(name, *args):
    """Common inexact dtype only (no broadcasting)."""
    return arrays(_util.promote_dtypes_inexact(name, *args))
