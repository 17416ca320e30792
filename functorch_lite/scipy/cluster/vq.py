"""Vector quantisation of ``functorch_lite.scipy.cluster.vq`` (as
``jax.scipy.cluster.vq``)."""
from __future__ import annotations

from typing import Any

from functorch_lite.numpy._util import check_arraylike, promote_dtypes_inexact
import functorch_lite.numpy as fnp

__all__ = ["vq"]


def vq(obs: Any, code_book: Any, check_finite: bool = True) -> tuple[Any, Any]:
    """Assign each observation the nearest code (Euclidean distance): ``obs`` is
    ``(M, N)`` (M observations of N features) and ``code_book`` ``(K, N)``, or both 1-D
    (one feature each). Returns ``(code, dist)``, both ``(M,)``: the index of the nearest
    row of ``code_book`` (the first on ties) and the distance to it. ``check_finite`` is
    accepted for SciPy compatibility and ignored (nothing is checked under ``jit``).

    >>> code, dist = vq(fnp.array([[0.0, 1.0]]), fnp.array([[0.0, 0.0], [0.0, 2.0]]))
    """
    del check_finite
    check_arraylike("scipy.cluster.vq.vq", obs, code_book)
    obs, code_book = promote_dtypes_inexact("scipy.cluster.vq.vq", obs, code_book)
    if obs.ndim != code_book.ndim:
        raise ValueError(f"vq: obs and code_book must have the same rank, got shapes "
                         f"{obs.shape} and {code_book.shape}")
    if obs.ndim == 1:
        obs, code_book = obs[:, None], code_book[:, None]
    if obs.ndim != 2:
        raise ValueError(f"vq: obs and code_book must be 1-D or 2-D, got {obs.ndim}-D; "
                         "reshape them to (observations, features)")
    if obs.shape[1] != code_book.shape[1]:
        raise TypeError(f"vq: obs and code_book must have the same number of features (last "
                        f"axis), got shapes {obs.shape} and {code_book.shape}")
    # (M, K) distances from every observation to every code.
    dist = fnp.linalg.norm(obs[:, None, :] - code_book[None, :, :], axis=-1)
    code = fnp.argmin(dist, axis=-1)
    return code, fnp.take_along_axis(dist, code[:, None], axis=-1)[:, 0]
