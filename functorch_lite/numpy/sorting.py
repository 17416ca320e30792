"""sort, argsort (stable, NaNs last, as NumPy)."""
from __future__ import annotations

import numpy as np

from functorch_lite import lax
from functorch_lite.core.avals import get_aval
from functorch_lite.numpy._util import check_arraylike, normalize_axis
from functorch_lite.numpy.creation import asarray


def _prep(name, a, axis):
    check_arraylike(name, a)
    a = asarray(a)
    if axis is None:
        a = lax.reshape(a, (get_aval(a).size,))
        axis = 0
    elif get_aval(a).ndim == 0:
        raise ValueError(f"{name}: axis {axis} is out of bounds for an array of rank 0 (pass "
                         "axis=None to sort a scalar)")
    return a, normalize_axis(name, axis, get_aval(a).ndim)


def sort(a, axis: int | None = -1, *, kind=None, order=None, stable: bool = True,
         descending: bool = False):
    """Sorted copy of ``a`` along ``axis`` (flattened when None)."""
    if order is not None:
        raise NotImplementedError("sort: `order` (structured arrays) is not supported")
    a, ax = _prep("sort", a, axis)
    if get_aval(a).ndim == 0:
        return a
    out = lax.sort(a, dimension=ax, is_stable=stable)
    return lax.rev(out, (ax,)) if descending else out


def argsort(a, axis: int | None = -1, *, kind=None, order=None, stable: bool = True,
            descending: bool = False):
    """Indices that sort ``a`` along ``axis`` (stable: equal keys keep their order)."""
    if order is not None:
        raise NotImplementedError("argsort: `order` is not supported")
    a, ax = _prep("argsort", a, axis)
    aval = get_aval(a)
    if aval.ndim == 0:
        return lax.full((), 0, np.int32)
    idx = lax.broadcasted_iota(np.int32, aval.shape, ax)
    if descending:
        # Stable descending order: sort the reversed array, then map indices back.
        a_rev = lax.rev(a, (ax,))
        _, perm = lax.sort((a_rev, idx), dimension=ax, is_stable=True, num_keys=1)
        perm = lax.rev(perm, (ax,))
        return lax.sub(lax.full_like(perm, aval.shape[ax] - 1), perm)
    _, perm = lax.sort((a, idx), dimension=ax, is_stable=True, num_keys=1)
    return perm


def lexsort(keys, axis: int = -1):
    """Indices that sort by the last key, then the one before it, ... (stable), along
    ``axis``; all keys have one shape."""
    keys = [asarray(k) for k in keys]
    if not keys:
        raise TypeError("lexsort: need at least one key")
    shape = get_aval(keys[0]).shape
    ax = normalize_axis("lexsort", axis, len(shape))
    idx = lax.broadcasted_iota(np.int32, shape, ax)
    outs = lax.sort((*keys[::-1], idx), dimension=ax, is_stable=True, num_keys=len(keys))
    return outs[-1]


# The public names are the functions defined here (helpers imported from elsewhere stay out
# of ``functorch_lite.numpy``'s namespace).
__all__ = [_n for _n, _v in list(globals().items()) if not _n.startswith("_")
           and callable(_v) and getattr(_v, "__module__", None) == __name__]
