"""Functions over sequences and index grids (as ``jax.numpy``): differences and integrals
(``diff``, ``ediff1d``, ``trapezoid``), products of sequences (``convolve``,
``correlate``, ``vander``), lookups in sorted arrays (``searchsorted``, ``digitize``,
``interp``), counting (``bincount``), window functions, spaced samples (``logspace``,
``geomspace``), small helpers (``append``, ``angle``, ``nan_to_num``, ``isreal``,
``iscomplex``, ``isrealobj``) and index grids (``indices``, ``tril_indices``,
``triu_indices``, ``diag_indices`` and their ``_from`` forms, ``unravel_index``,
``ravel_multi_index``).

They are written on the other ``functorch_lite.numpy`` modules; sizes that decide a
result's shape (``n``, ``length``, ``M``) must be concrete, as in JAX.
"""
from __future__ import annotations

import operator
from typing import Any, Sequence

import numpy as np

from functorch_lite import lax
from functorch_lite.core import dtypes
from functorch_lite.core.errors import ConcretizationTypeError
from functorch_lite.numpy import reductions as _red
from functorch_lite.numpy import shapes as _shapes
from functorch_lite.numpy import ufuncs as _uf
from functorch_lite.numpy._util import check_arraylike, promote_dtypes, \
    promote_dtypes_inexact
from functorch_lite.numpy.creation import arange, asarray, linspace, zeros
from functorch_lite.numpy.sorting import argsort

__all__ = ["diff", "ediff1d", "trapezoid", "convolve", "correlate", "vander", "searchsorted",
           "digitize", "interp", "bincount", "hanning", "hamming", "blackman", "bartlett",
           "logspace", "geomspace", "append", "angle", "nan_to_num", "isreal", "iscomplex",
           "isrealobj", "indices", "tril_indices", "triu_indices", "tril_indices_from",
           "triu_indices_from", "diag_indices", "diag_indices_from", "unravel_index",
           "ravel_multi_index", "nonzero", "flatnonzero", "argwhere", "apply_along_axis",
           "apply_over_axes"]


def _arr(name: str, *xs):
    check_arraylike(f"functorch_lite.numpy.{name}", *xs)
    return [asarray(x) for x in xs]


def _int(name: str, what: str, value) -> int:
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{name}: {what} must be a concrete integer, got {value!r}") from None


# -- differences and integrals ---------------------------------------------------------------
def diff(a: Any, n: int = 1, axis: int = -1, prepend: Any = None, append: Any = None):
    """The ``n``-th discrete difference along ``axis`` (``prepend``/``append`` values are
    joined first, broadcast to the other axes)."""
    (a,) = _arr("diff", a)
    n = _int("diff", "n", n)
    if n < 0:
        raise ValueError(f"order must be non-negative but got {n}")
    if a.ndim == 0:
        raise ValueError(f"diff requires input that is at least one dimensional; got {a}")
    axis = axis % a.ndim
    parts = []
    for extra in (prepend, append):
        if extra is None:
            parts.append(None)
            continue
        extra = asarray(extra)
        if extra.ndim == 0:
            shape = list(a.shape)
            shape[axis] = 1
            extra = _shapes.broadcast_to(extra, tuple(shape))
        parts.append(extra)
    if parts[0] is not None or parts[1] is not None:
        a = _shapes.concatenate([p for p in (parts[0], a, parts[1]) if p is not None],
                                axis=axis)
    for _ in range(n):
        size = a.shape[axis]
        upper = lax.slice_in_dim(a, 1, size, axis=axis)
        lower = lax.slice_in_dim(a, 0, max(size - 1, 0), axis=axis)
        a = _uf.not_equal(upper, lower) if a.dtype == np.bool_ else _uf.subtract(upper, lower)
    return a


def ediff1d(ary: Any, to_end: Any = None, to_begin: Any = None):
    """The differences of the flattened array, with ``to_begin``/``to_end`` around them."""
    (ary,) = _arr("ediff1d", ary)
    result = diff(_shapes.ravel(ary))
    parts = [_shapes.ravel(asarray(to_begin).astype(result.dtype))] if to_begin is not None \
        else []
    parts.append(result)
    if to_end is not None:
        parts.append(_shapes.ravel(asarray(to_end).astype(result.dtype)))
    return _shapes.concatenate(parts) if len(parts) > 1 else result


def trapezoid(y: Any, x: Any = None, dx: Any = 1.0, axis: int = -1):
    """The integral of ``y`` along ``axis`` by the trapezoidal rule (sample points ``x``,
    or spacing ``dx``)."""
    if x is None:
        (y,) = _arr("trapezoid", y)
        (y,) = promote_dtypes_inexact("trapezoid", y)
        dx_arr = asarray(dx)
    else:
        y, x = _arr("trapezoid", y, x)
        y, x = promote_dtypes_inexact("trapezoid", y, x)
        if x.ndim == 1:
            dx_arr = diff(x)
            shape = [1] * y.ndim
            shape[axis % y.ndim] = dx_arr.shape[0]
            dx_arr = _shapes.reshape(dx_arr, tuple(shape))
        else:
            dx_arr = diff(x, axis=axis)
    y = _shapes.moveaxis(y, axis, -1)
    if dx_arr.ndim:
        dx_arr = _shapes.moveaxis(dx_arr, axis, -1)
    return _red.sum(dx_arr * (y[..., 1:] + y[..., :-1]) / 2.0, axis=-1)


# -- products of sequences -------------------------------------------------------------------
def _correlate(name: str, a, v, mode: str, flip: bool, precision, preferred_element_type):
    a, v = _arr(name, a, v)
    if a.ndim != 1 or v.ndim != 1:
        raise ValueError(f"{name}() only support 1-dimensional inputs.")
    if a.size == 0 or v.size == 0:
        raise ValueError(f"{name}: inputs cannot be empty, got shapes {a.shape} and "
                         f"{v.shape}.")
    a, v = promote_dtypes(name, a, v)
    if flip:
        v = _shapes.flip(v)
    if dtypes.is_complex(v.dtype) and not flip:
        v = _uf.conj(v)
    swapped = v.size > a.size  # the longer sequence is the one slid over
    if swapped:
        a, v = v, a
    n = v.size
    if mode == "valid":
        padding = [(0, 0)]
    elif mode == "same":
        padding = [(n // 2, n - n // 2 - 1)]
    elif mode == "full":
        padding = [(n - 1, n - 1)]
    else:
        raise ValueError("mode must be one of ['full', 'same', 'valid']")
    out_type = dtypes.canonicalize_dtype(preferred_element_type) \
        if preferred_element_type is not None else None
    result = lax.conv_general_dilated(a[None, None, :], v[None, None, :], (1,), padding,
                                      precision=precision,
                                      preferred_element_type=out_type)[0, 0, :]
    if swapped:
        result = _shapes.flip(result)
        if dtypes.is_complex(result.dtype) and not flip:
            result = _uf.conj(result)
    return result


def convolve(a: Any, v: Any, mode: str = "full", *, precision: Any = None,
             preferred_element_type: Any = None):
    """The discrete linear convolution of two 1-D sequences (``mode``: 'full', 'same' or
    'valid')."""
    return _correlate("convolve", a, v, mode, True, precision, preferred_element_type)


def correlate(a: Any, v: Any, mode: str = "valid", *, precision: Any = None,
              preferred_element_type: Any = None):
    """The cross-correlation of two 1-D sequences (complex ``v`` is conjugated)."""
    return _correlate("correlate", a, v, mode, False, precision, preferred_element_type)


def vander(x: Any, N: int | None = None, increasing: bool = False):
    """The Vandermonde matrix of the 1-D ``x``: columns are powers of ``x`` (decreasing
    unless ``increasing``)."""
    (x,) = _arr("vander", x)
    if x.ndim != 1:
        raise ValueError("x must be a one-dimensional array")
    N = x.shape[0] if N is None else _int("vander", "N", N)
    if N < 0:
        raise ValueError("N must be nonnegative")
    powers = arange(N, dtype=x.dtype if not x.dtype == np.bool_ else np.int32)
    if not increasing:
        powers = _shapes.flip(powers)
    return _uf.power(x[:, None], powers)


# -- sorted lookups and counting -------------------------------------------------------------
def searchsorted(a: Any, v: Any, side: str = "left", sorter: Any = None, *,
                 method: str = "scan"):
    """Where each element of ``v`` would go in the sorted 1-D ``a`` (the first such place
    with ``side='left'``, the last with ``'right'``); ``sorter`` sorts ``a``. ``method``
    is accepted for JAX's signature; the count is one comparison of all pairs."""
    a, v = _arr("searchsorted", a, v)
    if side not in ("left", "right"):
        raise ValueError(f"{side!r} is an invalid value for keyword 'side'. Expected one of "
                         "['left', 'right'].")
    if method not in ("scan", "scan_unrolled", "sort", "compare_all"):
        raise ValueError(f"{method!r} is an invalid value for keyword 'method'. Expected "
                         "one of ['sort', 'scan', 'scan_unrolled', 'compare_all'].")
    if a.ndim != 1:
        raise ValueError("a should be 1-dimensional")
    if sorter is not None:
        a = a[asarray(sorter)]
    a, v = promote_dtypes("searchsorted", a, v)
    out_int = np.int32
    if a.size == 0:
        return zeros(v.shape, out_int)
    av = a.reshape((1,) * v.ndim + (a.size,))
    vv = v[..., None]
    if dtypes.is_inexact(a.dtype):
        # NaNs sort last (NumPy's order): a NaN in v goes after every number.
        a_nan, v_nan = _uf.isnan(av), _uf.isnan(vv)
        if side == "left":
            before = (_uf.less(av, vv) & ~a_nan) | (v_nan & ~a_nan)
        else:
            before = (_uf.less_equal(av, vv) & ~a_nan) | v_nan
    else:
        before = _uf.less(av, vv) if side == "left" else _uf.less_equal(av, vv)
    return _red.sum(before, axis=-1, dtype=out_int)


def digitize(x: Any, bins: Any, right: bool = False, *, method: str | None = None):
    """The index of the bin each value of ``x`` falls in (``bins`` increasing or
    decreasing; ``right``: intervals closed on the right)."""
    x, bins = _arr("digitize", x, bins)
    if bins.ndim != 1:
        raise ValueError(f"digitize: bins must be a 1-dimensional array; got {bins!r}")
    if bins.shape[0] == 0:
        return zeros(x.shape, np.int32)
    side = "left" if right else "right"
    kw = {} if method is None else {"method": method}
    increasing = bins[-1] >= bins[0]
    forward = searchsorted(bins, x, side=side, **kw)
    backward = bins.shape[0] - searchsorted(_shapes.flip(bins), x, side=side, **kw)
    return _uf.where(increasing, forward, backward)


def interp(x: Any, xp: Any, fp: Any, left: Any = None, right: Any = None,
           period: Any = None):
    """Piecewise-linear interpolation of the points ``(xp, fp)`` (``xp`` increasing) at
    ``x``; ``left``/``right`` are the values outside (default: the end values);
    ``period`` wraps ``x`` and ``xp``."""
    x, xp, fp = _arr("interp", x, xp, fp)
    if xp.ndim != 1 or fp.ndim != 1:
        raise ValueError("xp and fp must be one-dimensional")
    if xp.shape[0] != fp.shape[0]:
        raise ValueError("xp and fp must be the same length")
    if xp.shape[0] == 0:
        raise ValueError("xp and fp must be non-empty")
    if dtypes.is_complex(xp.dtype) or dtypes.is_complex(x.dtype):
        raise ValueError("jnp.interp: complex x values not supported.")
    x, xp = promote_dtypes_inexact("interp", x, xp)
    (fp,) = promote_dtypes_inexact("interp", fp)
    if period is not None:
        if left is not None or right is not None:
            raise ValueError("interp: left and right are not used with period")
        period = _uf.abs(asarray(period, x.dtype))
        x = x % period
        xp = xp % period
        idx = argsort(xp)
        xp, fp = xp[idx], fp[idx]
        xp = _shapes.concatenate([xp[-1:] - period, xp, xp[:1] + period])
        fp = _shapes.concatenate([fp[-1:], fp, fp[:1]])
    i = _uf.clip(searchsorted(xp, x, side="right"), 1, xp.shape[0] - 1)
    x0, x1, f0, f1 = xp[i - 1], xp[i], fp[i - 1], fp[i]
    dx = x1 - x0
    t = _uf.where(dx == 0, 0, (x - x0) / _uf.where(dx == 0, 1, dx))
    f = (f0 + t.astype(f0.dtype) * (f1 - f0)) if dtypes.is_complex(fp.dtype) else \
        f0 + t * (f1 - f0)
    if period is None:
        f = _uf.where(x < xp[0], fp[0] if left is None else left, f)
        f = _uf.where(x > xp[-1], fp[-1] if right is None else right, f)
    return f.astype(fp.dtype)


def bincount(x: Any, weights: Any = None, minlength: int = 0, *, length: int | None = None):
    """How many times each value ``0, 1, ...`` occurs in the non-negative integers ``x``
    (summing ``weights`` instead, if given). Under ``jit`` the result's ``length`` must be
    given; values at or past it are dropped."""
    (x,) = _arr("bincount", x)
    if not dtypes.is_int(x.dtype) and x.dtype != np.bool_:
        raise TypeError(f"x argument to bincount must have an integer type; got {x.dtype}")
    if x.ndim != 1:
        raise ValueError("only 1-dimensional input supported.")
    minlength = _int("bincount", "minlength", minlength)
    if minlength < 0:
        raise ValueError("minlength must be non-negative")
    if length is None:
        try:
            top = int(np.asarray(_red.max(x))) if x.size else -1
        except Exception:
            raise TypeError("bincount: under a transformation the result's `length` must "
                            "be given (it decides the output shape)") from None
        length = max(minlength, top + 1)
    else:
        length = _int("bincount", "length", length)
    if weights is None:
        weights = _shapes.broadcast_to(asarray(1, np.int32), x.shape)
    else:
        weights = asarray(weights)
        if weights.shape != x.shape:
            raise ValueError("shape of weights must match shape of x.")
    out = zeros((length,), weights.dtype)
    return out.at[_uf.clip(x, 0)].add(weights, mode="drop")


# -- windows ---------------------------------------------------------------------------------
def _window_length(name: str, M) -> int:
    return _int(name, "M", M)


def _cosine_window(name: str, M, coefficients: Sequence[float]):
    M = _window_length(name, M)
    if M <= 1:
        return asarray(np.ones(max(M, 0)), np.float32)
    n = arange(M, dtype=np.float32)
    phase = 2 * np.pi * n / (M - 1)
    out = coefficients[0] - coefficients[1] * _uf.cos(phase)
    if len(coefficients) > 2:
        out = out + coefficients[2] * _uf.cos(2 * phase)
    return out


def hanning(M: int):
    """The Hann window of ``M`` points."""
    return _cosine_window("hanning", M, (0.5, 0.5))


def hamming(M: int):
    """The Hamming window of ``M`` points."""
    return _cosine_window("hamming", M, (0.54, 0.46))


def blackman(M: int):
    """The Blackman window of ``M`` points."""
    return _cosine_window("blackman", M, (0.42, 0.5, 0.08))


def bartlett(M: int):
    """The Bartlett (triangular) window of ``M`` points."""
    M = _window_length("bartlett", M)
    if M <= 1:
        return asarray(np.ones(max(M, 0)), np.float32)
    n = arange(M, dtype=np.float32)
    return 1 - _uf.abs(2 * n - M + 1) / (M - 1)


# -- spaced samples --------------------------------------------------------------------------
def logspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True,
             base: Any = 10.0, dtype: Any = None, axis: int = 0):
    """``base ** linspace(start, stop, num)``."""
    exponents = linspace(start, stop, num, endpoint=endpoint, axis=axis)
    out = _uf.power(asarray(base, exponents.dtype), exponents)
    return out if dtype is None else out.astype(dtype)


def geomspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True,
              dtype: Any = None, axis: int = 0):
    """``num`` samples from ``start`` to ``stop`` evenly spaced on a log scale (a
    negative pair gives negative samples)."""
    start, stop = _arr("geomspace", start, stop)
    start, stop = promote_dtypes_inexact("geomspace", start, stop)
    try:  # NumPy's check, where the ends are known (traced ones give NaNs instead)
        has_zero = bool(np.any(np.asarray(start) == 0)) or bool(np.any(np.asarray(stop) == 0))
    except TypeError:
        has_zero = False
    if has_zero:
        raise ValueError("Geometric sequence cannot include zero")
    sign = _uf.where((start < 0) & (stop < 0), -1, 1).astype(start.dtype)
    out = logspace(_uf.log10(start * sign), _uf.log10(stop * sign), num, endpoint=endpoint,
                   base=10.0, axis=0)
    out = out * sign
    # the ends exactly
    out = out.at[0].set(start)
    if endpoint and num > 1:
        out = out.at[-1].set(stop)
    out = _shapes.moveaxis(out, 0, axis) if axis != 0 else out
    return out if dtype is None else out.astype(dtype)


# -- small helpers ---------------------------------------------------------------------------
def append(arr: Any, values: Any, axis: int | None = None):
    """``arr`` with ``values`` joined at its end (both flattened when ``axis`` is None)."""
    arr, values = _arr("append", arr, values)
    if axis is None:
        return _shapes.concatenate([_shapes.ravel(arr), _shapes.ravel(values)])
    return _shapes.concatenate([arr, values], axis=axis)


def angle(z: Any, deg: bool = False):
    """The argument of each complex value (radians, or degrees with ``deg``)."""
    (z,) = _arr("angle", z)
    (z,) = promote_dtypes_inexact("angle", z)
    result = _uf.arctan2(_uf.imag(z), _uf.real(z))
    return _uf.degrees(result) if deg else result


def nan_to_num(x: Any, copy: bool = True, nan: Any = 0.0, posinf: Any = None,
               neginf: Any = None):
    """``x`` with NaNs replaced by ``nan`` and infinities by ``posinf``/``neginf``
    (default: the dtype's largest and most negative finite values)."""
    (x,) = _arr("nan_to_num", x)
    if dtypes.is_complex(x.dtype):
        real = nan_to_num(_uf.real(x), nan=nan, posinf=posinf, neginf=neginf)
        imag = nan_to_num(_uf.imag(x), nan=nan, posinf=posinf, neginf=neginf)
        return lax.complex(real, imag)
    if not dtypes.is_inexact(x.dtype):
        return x
    info = dtypes.finfo(x.dtype)
    posinf = info.max if posinf is None else posinf
    neginf = info.min if neginf is None else neginf
    out = _uf.where(_uf.isnan(x), asarray(nan, x.dtype), x)
    out = _uf.where(_uf.isposinf(out), asarray(posinf, x.dtype), out)
    return _uf.where(_uf.isneginf(out), asarray(neginf, x.dtype), out)


def isreal(x: Any):
    """Elementwise: whether the imaginary part is zero (True for real dtypes)."""
    (x,) = _arr("isreal", x)
    return _uf.imag(x) == 0 if dtypes.is_complex(x.dtype) else \
        _shapes.broadcast_to(asarray(True), x.shape)


def iscomplex(x: Any):
    """Elementwise: whether the imaginary part is non-zero."""
    (x,) = _arr("iscomplex", x)
    return _uf.imag(x) != 0 if dtypes.is_complex(x.dtype) else \
        _shapes.broadcast_to(asarray(False), x.shape)


def isrealobj(x: Any) -> bool:
    """Whether ``x`` has a real (not complex) dtype."""
    # (a dtype is falsy: test for the attribute, not its truth)
    return not dtypes.is_complex(x.dtype if hasattr(x, "dtype") else np.asarray(x).dtype)


# -- index grids -----------------------------------------------------------------------------
def indices(dimensions: Sequence[int], dtype: Any = None, sparse: bool = False):
    """The index grid of an array of shape ``dimensions``: one array per axis holding each
    element's index along it (stacked, or a tuple of broadcastable arrays if ``sparse``)."""
    dims = tuple(_int("indices", "dimensions", d) for d in dimensions)
    dtype = np.int32 if dtype is None else dtype
    grids = []
    for i, n in enumerate(dims):
        shape = [1] * len(dims)
        shape[i] = n
        grid = lax.broadcasted_iota(dtypes.canonicalize_dtype(dtype), tuple(shape), i)
        grids.append(grid if sparse else _shapes.broadcast_to(grid, dims))
    if sparse:
        return tuple(grids)
    return _shapes.stack(grids) if grids else zeros((0,) + dims, dtype)


def _triangle_indices(name: str, n, k, m, lower: bool):
    n = _int(name, "n", n)
    k = _int(name, "k", k)
    m = n if m is None else _int(name, "m", m)
    rows, cols = np.tril_indices(n, k, m) if lower else np.triu_indices(n, k, m)
    return asarray(rows, np.int32), asarray(cols, np.int32)


def tril_indices(n: int, k: int = 0, m: int | None = None):
    """The row and column indices of the lower triangle (diagonal offset ``k``) of an
    ``n`` x ``m`` matrix."""
    return _triangle_indices("tril_indices", n, k, m, True)


def triu_indices(n: int, k: int = 0, m: int | None = None):
    """The row and column indices of the upper triangle of an ``n`` x ``m`` matrix."""
    return _triangle_indices("triu_indices", n, k, m, False)


def _matrix_shape(name: str, arr) -> tuple:
    shape = getattr(arr, "shape", None)
    if shape is None:
        shape = np.shape(arr)
    if len(shape) != 2:
        raise ValueError(f"{name}: input array must be 2-d, got shape {tuple(shape)}")
    return tuple(shape)


def tril_indices_from(arr: Any, k: int = 0):
    rows, cols = _matrix_shape("tril_indices_from", arr)
    return tril_indices(rows, k, cols)


def triu_indices_from(arr: Any, k: int = 0):
    rows, cols = _matrix_shape("triu_indices_from", arr)
    return triu_indices(rows, k, cols)


def diag_indices(n: int, ndim: int = 2):
    """The indices of the main diagonal of an ``n`` x ... x ``n`` array of ``ndim`` axes."""
    n = _int("diag_indices", "n", n)
    ndim = _int("diag_indices", "ndim", ndim)
    if n < 0:
        raise ValueError(f"n argument to diag_indices must be nonnegative, got {n}")
    if ndim < 0:
        raise ValueError(f"ndim argument to diag_indices must be nonnegative, got {ndim}")
    return (arange(n, dtype=np.int32),) * ndim


def diag_indices_from(arr: Any):
    """``diag_indices`` for ``arr``, whose axes must all have one length."""
    shape = tuple(getattr(arr, "shape", np.shape(arr)))
    if len(shape) < 2:
        raise ValueError("input array must be at least 2-d")
    if len(set(shape)) != 1:
        raise ValueError("All dimensions of input must be of equal length")
    return diag_indices(shape[0], len(shape))


def unravel_index(indices: Any, shape: Sequence[int]):
    """The coordinates in an array of ``shape`` of the flat (C-order) ``indices``
    (negative ones count from the end; out-of-range ones are clipped, as JAX)."""
    (indices,) = _arr("unravel_index", indices)
    if not dtypes.is_int(indices.dtype):
        raise TypeError(f"Only integer indices are supported, got {indices.dtype}")
    shape = tuple(_int("unravel_index", "shape", d) for d in shape)
    size = int(np.prod(shape))
    flat = _uf.where(indices < 0, indices + size, indices)
    flat = _uf.clip(flat, 0, max(size - 1, 0))
    out = []
    for d in reversed(shape):
        out.append(flat % d if d else flat * 0)
        flat = flat // d if d else flat
    return tuple(reversed(out))


def ravel_multi_index(multi_index: Sequence[Any], dims: Sequence[int], mode: str = "raise",
                      order: str = "C", *, dtype: Any = None):
    """The flat indices of the coordinates ``multi_index`` in an array of shape ``dims``
    (``mode``: 'wrap' or 'clip' out-of-range coordinates; 'raise' checks concrete
    ones)."""
    dims = tuple(_int("ravel_multi_index", "dims", d) for d in dims)
    if len(multi_index) != len(dims):
        raise ValueError(f"parameter multi_index must be a sequence of length {len(dims)}")
    if order not in ("C", "F"):
        raise ValueError("only 'C' or 'F' order is permitted")
    if mode not in ("raise", "wrap", "clip"):
        raise ValueError(f"invalid mode={mode!r}. Expected 'raise', 'wrap', or 'clip'")
    idx = [asarray(i) for i in multi_index]
    for i in idx:
        if not dtypes.is_int(i.dtype):
            raise TypeError("only int indices permitted")
    if mode == "raise":
        for i, d in zip(idx, dims):
            try:
                bad = bool(np.any((np.asarray(i) < 0) | (np.asarray(i) >= d)))
            except Exception:
                raise TypeError("ravel_multi_index: mode='raise' needs concrete indices; "
                                "use mode='wrap' or 'clip' under a transformation") \
                    from None
            if bad:
                raise ValueError("invalid entry in coordinates array")
    elif mode == "wrap":
        idx = [i % d for i, d in zip(idx, dims)]
    else:
        idx = [_uf.clip(i, 0, d - 1) for i, d in zip(idx, dims)]
    order_dims = dims if order == "C" else dims[::-1]
    order_idx = idx if order == "C" else idx[::-1]
    strides = np.cumprod((1,) + order_dims[::-1][:-1])[::-1]
    out_dtype = dtypes.canonicalize_dtype(dtype) if dtype is not None else np.int32
    total = None
    for i, s in zip(order_idx, strides):
        term = i.astype(out_dtype) * int(s)
        total = term if total is None else total + term
    return total


# -- where the non-zero values are -----------------------------------------------------------
def nonzero(a: Any, *, size: int | None = None, fill_value: Any = None):
    """The indices of the non-zero elements of ``a``, one array per axis, in C order.
    Their number depends on the data: under ``jit`` give ``size`` (the first ``size``
    are kept; missing ones are ``fill_value``, 0 by default, or one value per axis)."""
    (a,) = _arr("nonzero", a)
    if a.ndim == 0:
        raise ValueError("Calling nonzero on 0d arrays is not allowed. Use "
                         "jnp.atleast_1d(scalar).nonzero() instead.")
    mask = _shapes.ravel(a if a.dtype == np.bool_ else a != 0)
    count = _red.sum(mask, dtype=np.int32)
    if size is None:
        try:
            size = int(count)
        except ConcretizationTypeError:
            raise ConcretizationTypeError(
                "The size argument of nonzero must be statically specified to use nonzero "
                "within transformations (jit, vmap, grad): nonzero(x, size=...)") from None
    size = _int("nonzero", "size", size)
    n = mask.shape[0]
    # The k-th non-zero element goes to slot k; later ones fall off the end.
    slot = _red.cumsum(mask.astype(np.int32)) - 1
    slot = _uf.where(mask, slot, size)
    flat = zeros((size,), np.int32).at[slot].set(arange(n, dtype=np.int32), mode="drop")
    found = arange(size, dtype=np.int32) < count
    coords = unravel_index(flat, a.shape)
    fills = fill_value if isinstance(fill_value, (tuple, list)) else \
        (0 if fill_value is None else fill_value,) * a.ndim
    if len(fills) != a.ndim:
        raise ValueError(f"fill_value must be a scalar or a tuple of length {a.ndim}; got "
                         f"{fill_value}")
    return tuple(_uf.where(found, c, asarray(f, np.int32)) for c, f in zip(coords, fills))


def flatnonzero(a: Any, *, size: int | None = None, fill_value: Any = None):
    """The indices of the non-zero elements of the flattened ``a`` (``size`` as
    ``nonzero``)."""
    (a,) = _arr("flatnonzero", a)
    return nonzero(_shapes.ravel(a), size=size, fill_value=fill_value)[0]


def argwhere(a: Any, *, size: int | None = None, fill_value: Any = None):
    """The coordinates of the non-zero elements, one row each: shape (count, a.ndim)."""
    (a,) = _arr("argwhere", a)
    if a.ndim == 0:
        rows = nonzero(_shapes.atleast_1d(a), size=size, fill_value=fill_value)[0]
        return _shapes.reshape(rows, (rows.shape[0], 1))[:, :0]
    return _shapes.stack(nonzero(a, size=size, fill_value=fill_value), axis=-1)


# -- applying a function along axes ----------------------------------------------------------
def apply_along_axis(func1d, axis: int, arr: Any, *args, **kwargs):
    """``func1d`` applied to every 1-D slice of ``arr`` along ``axis`` (a ``vmap`` over the
    other axes); the dimensions of its result take ``axis``'s place."""
    from functorch_lite.api import vmap  # (the transformation, as random's jit)
    (arr,) = _arr("apply_along_axis", arr)
    nd = arr.ndim
    if not -nd <= axis < nd:
        raise ValueError(f"apply_along_axis: axis {axis} is out of bounds for an array of "
                         f"rank {nd}")
    axis %= nd

    def func(x):
        return func1d(x, *args, **kwargs)
    for i in range(1, nd - axis):  # the axes after `axis`: their results go last
        func = vmap(func, in_axes=i, out_axes=-1)
    for _ in range(axis):  # the axes before it: first
        func = vmap(func, in_axes=0, out_axes=0)
    return func(arr)


def apply_over_axes(func, a: Any, axes: Sequence[int]):
    """``func(a, axis)`` applied for each of ``axes`` in turn, each result keeping ``a``'s
    rank (a reduced axis is put back with length 1)."""
    (a,) = _arr("apply_over_axes", a)
    for axis in axes:
        b = asarray(func(a, axis))
        if b.ndim == a.ndim - 1:
            b = _shapes.expand_dims(b, axis)
        elif b.ndim != a.ndim:
            raise ValueError("function is not returning an array of the correct shape")
        a = b
    return a
