"""Special matrices and the matrix exponential of ``functorch_lite.scipy.linalg`` (as
``jax.scipy.linalg``).

Constructors from vectors (``toeplitz``, ``hankel``, ``circulant``, ``leslie``,
``companion``, ``fiedler``, ``fiedler_companion``, ``convolution_matrix``) work on stacks
of vectors (the last axis), building each matrix by one gather with a static index
pattern. Constructors from a size (``hilbert``, ``invhilbert``, ``pascal``, ``invpascal``,
``helmert``, ``hadamard``, ``dft``) take ``n`` as a static Python int and build the
matrix on the host: the binomial families are exact integers rounded once to the output
dtype (JAX goes through ``lgamma`` and is only approximately integral).

``expm`` is Higham's (2005) scaling and squaring: a Pade approximant of order 3, 5, 7, 9
or 13 picked from the 1-norm, then a fixed number (``max_squarings``) of conditional
squarings so that the whole computation is a static graph and reverse-differentiable.
"""
from __future__ import annotations

import functools
import math
import operator
from typing import Any

import numpy as np

from functorch_lite import lax
from functorch_lite.api import jit, jvp
from functorch_lite.core import dtypes
from functorch_lite.core.avals import get_aval
from functorch_lite.lax import decompositions as dec
from functorch_lite.numpy import _util
from functorch_lite.numpy import linalg_solve as _np_linalg
import functorch_lite.numpy as fnp

__all__ = ["block_diag", "circulant", "companion", "convolution_matrix", "dft", "fiedler",
           "fiedler_companion", "hadamard", "hankel", "helmert", "hilbert", "invhilbert",
           "leslie", "pascal", "invpascal", "toeplitz", "expm", "expm_frechet"]


# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------

def _vectors(name: str, *xs):
    """The arguments as arrays of at least one dimension, broadcast to one batch shape
    (all axes but the last)."""
    xs = [fnp.atleast_1d(fnp.asarray(x)) for x in xs]
    batch = _util.broadcast_shapes(*[get_aval(x).shape[:-1] for x in xs], name=name)
    return [fnp.broadcast_to(x, batch + get_aval(x).shape[-1:]) for x in xs], batch


def _gather_last(v, index: np.ndarray):
    """``v[..., index]`` for a static integer array ``index`` (any shape)."""
    return v[..., index]


def _masked(mask: np.ndarray, value, other):
    """``where(mask, value, other)`` with ``mask`` a static boolean pattern."""
    return fnp.where(mask, value, other)


def _empty(batch: tuple, shape: tuple, dtype):
    return fnp.zeros(batch + shape, dtype=dtype)


def _host_float(values, dtype):
    """A host array of (exact) Python numbers rounded once to ``dtype``; magnitudes past
    the float range become infinities of their sign."""
    flat = []
    for v in values.ravel() if isinstance(values, np.ndarray) else values:
        try:
            flat.append(float(v))
        except OverflowError:
            flat.append(math.copysign(math.inf, v))
    shape = values.shape if isinstance(values, np.ndarray) else (len(flat),)
    with np.errstate(over="ignore"):
        return np.array(flat, np.float64).reshape(shape).astype(dtype)


def _kind(kind: str | None) -> str:
    kind = "symmetric" if kind is None else kind
    valid = ["symmetric", "lower", "upper"]
    if kind not in valid:
        raise ValueError(f"Expected kind to be one of: {valid}; got {kind}")
    return kind


def _exact_int(name: str, table: np.ndarray):
    """An exact integer table (object array of Python ints) as the default int dtype;
    a ValueError where an entry does not fit."""
    dt = dtypes.default_int_dtype()
    info = np.iinfo(dt)
    if table.size and (max(table.ravel()) > info.max or min(table.ravel()) < info.min):
        raise ValueError(f"{name}: with exact=True the entries for this n do not fit in "
                         f"{np.dtype(dt).name}")
    return fnp.asarray(np.array(table.tolist(), dtype=dt).reshape(table.shape))


# ---------------------------------------------------------------------------------------
# Matrices built from vectors
# ---------------------------------------------------------------------------------------

def block_diag(*arrs: Any):
    """The block-diagonal matrix with the given blocks (each of at most 2 dimensions;
    scalars and vectors are 1 x 1 and 1 x k blocks) along its diagonal, in one promoted
    dtype. No blocks give a (1, 0) float array, as SciPy and JAX."""
    if len(arrs) == 0:
        arrs = (fnp.zeros((1, 0)),)
    _util.check_arraylike("block_diag", *arrs)
    arrs = _util.promote_dtypes("block_diag", *[fnp.asarray(a) for a in arrs])
    bad = [i for i, a in enumerate(arrs) if get_aval(a).ndim > 2]
    if bad:
        raise ValueError("Arguments to jax.scipy.linalg.block_diag must have at most 2 "
                         f"dimensions, got {arrs[bad[0]]} at argument {bad[0]}.")
    blocks = [fnp.atleast_2d(a) for a in arrs]
    widths = [get_aval(b).shape[1] for b in blocks]
    total = sum(widths)
    rows, start = [], 0
    for b, w in zip(blocks, widths):
        rows.append(fnp.pad(b, ((0, 0), (start, total - start - w))))
        start += w
    return fnp.concatenate(rows, axis=0)


def toeplitz(c: Any, r: Any = None):
    """The Toeplitz matrix with first column ``c`` (..., m) and first row ``r`` (..., n):
    ``T[i, j] = c[i - j]`` for ``i >= j`` and ``r[j - i]`` above the diagonal (``r[0]`` is
    not read). ``r`` defaults to ``conj(c)`` (a Hermitian matrix when ``c[0]`` is real).
    Batch axes broadcast; the result is (..., m, n)."""
    if r is None:
        _util.check_arraylike("toeplitz", c)
        r = fnp.conjugate(fnp.asarray(c))
    else:
        _util.check_arraylike("toeplitz", c, r)
    c, r = _util.promote_dtypes("toeplitz", fnp.asarray(c), fnp.asarray(r))
    (c, r), batch = _vectors("toeplitz", c, r)
    m, n = get_aval(c).shape[-1], get_aval(r).shape[-1]
    if m == 0 or n == 0:
        return _empty(batch, (m, n), get_aval(c).dtype)
    # Laid end to end, reversed c then r[1:] hold every diagonal: T[i, j] sits at
    # position (m - 1) - i + j.
    line = fnp.concatenate([fnp.flip(c, axis=-1), r[..., 1:]], axis=-1)
    index = (m - 1) - np.arange(m)[:, None] + np.arange(n)[None, :]
    return _gather_last(line, index)


def hankel(c: Any, r: Any = None):
    """The Hankel matrix with first column ``c`` (..., m) and last row ``r`` (..., n):
    ``H[i, j] = v[i + j]`` for ``v = concatenate([c, r[1:]])`` (``r[0]`` is not read).
    ``r`` defaults to zeros. Batch axes broadcast; the result is (..., m, n)."""
    if r is None:
        _util.check_arraylike("hankel", c)
        c = fnp.asarray(c)
        r = fnp.zeros_like(c)
    else:
        _util.check_arraylike("hankel", c, r)
        c, r = fnp.asarray(c), fnp.asarray(r)
    if get_aval(c).ndim == 0:
        raise ValueError("hankel: c must be at least 1-dimensional, got a scalar.")
    if get_aval(r).ndim == 0:
        raise ValueError("hankel: r must be at least 1-dimensional, got a scalar.")
    c, r = _util.promote_dtypes("hankel", c, r)
    (c, r), batch = _vectors("hankel", c, r)
    m, n = get_aval(c).shape[-1], get_aval(r).shape[-1]
    if m == 0 or n == 0:
        return _empty(batch, (m, n), get_aval(c).dtype)
    line = fnp.concatenate([c, r[..., 1:]], axis=-1)
    return _gather_last(line, np.arange(m)[:, None] + np.arange(n)[None, :])


def circulant(c: Any):
    """The circulant matrix with first column ``c`` (..., n): ``C[i, j] = c[(i - j) mod
    n]``; (..., n, n)."""
    _util.check_arraylike("circulant", c)
    c = fnp.atleast_1d(fnp.asarray(c))
    n = get_aval(c).shape[-1]
    return _gather_last(c, (np.arange(n)[:, None] - np.arange(n)[None, :]) % max(n, 1))


def leslie(f: Any, s: Any):
    """The Leslie matrix: fecundities ``f`` (..., n), n >= 2, as its first row and
    survival rates ``s`` (..., n - 1) on its first subdiagonal, zeros elsewhere."""
    _util.check_arraylike("leslie", f, s)
    f, s = fnp.atleast_1d(fnp.asarray(f)), fnp.atleast_1d(fnp.asarray(s))
    fs, ss = get_aval(f).shape, get_aval(s).shape
    if fs[-1] < 2:
        raise ValueError("The length of f along the last axis must be at least 2; "
                         f"got shape {fs}.")
    if ss[-1] != fs[-1] - 1:
        raise ValueError("Incorrect lengths for f and s. The length of s along the last "
                         "axis must be one less than the length of f; got f shape "
                         f"{fs} and s shape {ss}.")
    f, s = _util.promote_dtypes("leslie", f, s)
    (f, s), _ = _vectors("leslie", f, s)
    n = fs[-1]
    i, j = np.arange(n)[:, None], np.arange(n)[None, :]
    # Row 0 reads f[j]; row i > 0 reads s[j] where j == i - 1.
    line = fnp.concatenate([f, s], axis=-1)
    index = np.where(i == 0, j, n + np.minimum(j, n - 2))
    zero = fnp.zeros((), get_aval(f).dtype)
    return _masked((i == 0) | (i == j + 1), _gather_last(line, index), zero)


def companion(a: Any):
    """The companion matrix of the polynomial with coefficients ``a`` (..., n), n >= 2,
    highest degree first: first row ``-a[1:] / a[0]``, ones on the first subdiagonal;
    (..., n - 1, n - 1). A zero ``a[0]`` gives infinities or NaNs (not checked)."""
    (a,) = _util.promote_args_inexact("companion", a)
    a = fnp.atleast_1d(a)
    if get_aval(a).shape[-1] < 2:
        raise ValueError("The length of `a` along the last axis must be at least 2; got "
                         f"shape {get_aval(a).shape}.")
    m = get_aval(a).shape[-1] - 1
    first = -a[..., 1:] / a[..., :1]
    i, j = np.arange(m)[:, None], np.arange(m)[None, :]
    below = fnp.asarray((i == j + 1).astype(np.float64), dtype=get_aval(a).dtype)
    return _masked(i == 0, first[..., None, :], below)


def fiedler(a: Any):
    """The symmetric Fiedler matrix ``F[i, j] = |a[i] - a[j]|`` of ``a`` (..., n)."""
    _util.check_arraylike("fiedler", a)
    a = fnp.atleast_1d(fnp.asarray(a))
    return fnp.abs(a[..., :, None] - a[..., None, :])


def _fiedler_companion_pattern(n: int):
    """For the (n, n) Fiedler companion matrix of a monic polynomial of degree n: where
    it is 1, and where it is ``-a[k]`` (``k`` per entry, 0 where unused)."""
    ones = np.zeros((n, n), bool)
    coeff = np.zeros((n, n), np.int64)
    # Pentadiagonal: the top-left 2 x 1 column is (-a1, 1); even rows i carry -a[i+2]
    # and 1 to their right, and -a[i+1] to their left (from row 2); odd rows from 3
    # carry 1 two places to their left.
    coeff[0, 0] = 1
    if n > 1:
        ones[1, 0] = True
    for i in range(0, n, 2):
        if i + 1 < n:
            coeff[i, i + 1] = i + 2
        if i + 2 < n:
            ones[i, i + 2] = True
        if i >= 2:
            coeff[i, i - 1] = i + 1
    for i in range(3, n, 2):
        ones[i, i - 2] = True
    return ones, coeff


def fiedler_companion(a: Any):
    """The Fiedler companion matrix of the polynomial with coefficients ``a`` (..., n),
    highest degree first: a pentadiagonal (..., n - 1, n - 1) matrix with the polynomial's
    roots as eigenvalues (n == 1 gives (..., 0, 0)). ``a[0]`` is not checked for zero."""
    (a,) = _util.promote_args_inexact("fiedler_companion", a)
    a = fnp.atleast_1d(a)
    shape = get_aval(a).shape
    if shape[-1] == 0:
        raise ValueError("fiedler_companion requires the last axis of 'a' to have nonzero "
                         f"length, but got an array of shape {shape}.")
    n = shape[-1] - 1
    if n == 0:
        return _empty(shape[:-1], (0, 0), get_aval(a).dtype)
    a = a / a[..., :1]
    ones, coeff = _fiedler_companion_pattern(n)
    dt = get_aval(a).dtype
    values = _masked(coeff > 0, -_gather_last(a, coeff), fnp.zeros((), dt))
    return _masked(ones, fnp.ones((), dt), values)


def convolution_matrix(a: Any, n: int, mode: str = "full"):
    """The Toeplitz matrix ``A`` (..., k, n) with ``A @ v == convolve(a, v, mode)`` for
    ``a`` (..., m): ``k = m + n - 1`` ("full"), ``max(m, n)`` ("same") or ``max(m, n) -
    min(m, n) + 1`` ("valid")."""
    n = operator.index(n)
    if n <= 0:
        raise ValueError(f"n must be a positive integer; got {n}.")
    _util.check_arraylike("convolution_matrix", a)
    a = fnp.asarray(a)
    shape = get_aval(a).shape
    if len(shape) == 0:
        raise ValueError("convolution_matrix: a must be at least 1-dimensional, got a "
                         "scalar.")
    m = shape[-1]
    if m < 1:
        raise ValueError(f"len(a) must be at least 1; got shape {shape}.")
    if mode not in ("full", "valid", "same"):
        raise ValueError(f"mode must be one of 'full', 'valid', 'same'; got {mode!r}.")
    # Row i of the full matrix is the output sample i: A[i, j] = a[i - j] when in range.
    # "same" and "valid" keep a window of rows, dropping `first` from the top.
    if mode == "full":
        first, rows = 0, m + n - 1
    elif mode == "same":
        first, rows = (min(m, n) - 1) // 2, max(m, n)
    else:
        first, rows = min(m, n) - 1, max(m, n) - min(m, n) + 1
    offset = first + np.arange(rows)[:, None] - np.arange(n)[None, :]
    inside = (offset >= 0) & (offset < m)
    taken = _gather_last(a, np.clip(offset, 0, m - 1))
    return _masked(inside, taken, fnp.zeros((), get_aval(a).dtype))


# ---------------------------------------------------------------------------------------
# Matrices of a given size
# ---------------------------------------------------------------------------------------

def _size(n: Any) -> int:
    return operator.index(n)


def hilbert(n: int):
    """The (n, n) Hilbert matrix ``H[i, j] = 1 / (i + j + 1)``, in the default float
    dtype."""
    n = _size(n)
    k = np.arange(n, dtype=np.float64)
    h = 1.0 / (k[:, None] + k[None, :] + 1.0)
    return fnp.asarray(h.astype(dtypes.default_float_dtype()))


def _invhilbert_exact(n: int) -> np.ndarray:
    out = np.empty((n, n), object)
    for i in range(n):
        for j in range(n):
            s = i + j
            out[i, j] = ((-1) ** s * (s + 1) * math.comb(n + i, n - j - 1)
                         * math.comb(n + j, n - i - 1) * math.comb(s, i) ** 2)
    return out


def invhilbert(n: int):
    """The inverse of the (n, n) Hilbert matrix, in the default float dtype. Its entries
    are integers, computed exactly and rounded once (they leave float32's range, to
    infinities, from n = 15 or so)."""
    n = _size(n)
    return fnp.asarray(_host_float(_invhilbert_exact(n), dtypes.default_float_dtype()))


def _pascal_lower(n: int) -> np.ndarray:
    out = np.zeros((n, n), object)
    for i in range(n):
        for j in range(i + 1):
            out[i, j] = math.comb(i, j)
    return out


def _object_matmul(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    n = x.shape[0]
    out = np.zeros((n, n), object)
    for i in range(n):
        for j in range(n):
            out[i, j] = sum(x[i, k] * y[k, j] for k in range(n))
    return out


def _pascal_table(n: int, kind: str, inverse: bool) -> np.ndarray:
    low = _pascal_lower(n)
    if inverse:   # L^-1[i, j] = (-1)^(i - j) C(i, j)
        signs = np.array([[(-1) ** (i + j) for j in range(n)] for i in range(n)], object)
        low = (low * signs) if n else low
    if kind == "lower":
        return low
    if kind == "upper":
        return low.T.copy()
    # symmetric: P = L L^T, so P^-1 = L^-T L^-1.
    return _object_matmul(low.T, low) if inverse else _object_matmul(low, low.T)


def pascal(n: int, kind: str | None = None, exact: bool = False):
    """The (n, n) Pascal matrix: ``kind="symmetric"`` (default, ``C(i + j, i)``),
    ``"lower"`` (``C(i, j)``) or ``"upper"``. Float32 (JAX's dtype) by default; with
    ``exact=True`` the default int dtype (a ValueError where the entries do not fit)."""
    n, kind = _size(n), _kind(kind)
    table = _pascal_table(n, kind, inverse=False)
    if exact:
        return _exact_int("pascal", table)
    return fnp.asarray(_host_float(table, np.float32))


def invpascal(n: int, kind: str | None = None, exact: bool = False):
    """The inverse of ``pascal(n, kind)``, in the default float dtype (``exact=True``:
    the default int dtype, as ``pascal``)."""
    n, kind = _size(n), _kind(kind)
    table = _pascal_table(n, kind, inverse=True)
    if exact:
        return _exact_int("invpascal", table)
    return fnp.asarray(_host_float(table, dtypes.default_float_dtype()))


def helmert(n: int, full: bool = False):
    """The Helmert matrix: row k - 1 (k = 1 .. n - 1) is ``(1, ..., 1, -k, 0, ..., 0) /
    sqrt(k (k + 1))`` with k ones; (n - 1, n), or (n, n) with ``full`` (a first row of
    ``1 / sqrt(n)``). Default float dtype."""
    n = _size(n)
    if n < 1:
        raise ValueError(f"n must be a positive integer; got {n}.")
    h = np.zeros((n - 1, n))
    for k in range(1, n):
        h[k - 1, :k] = 1.0
        h[k - 1, k] = -k
        h[k - 1] /= math.sqrt(k * (k + 1))
    if full:
        h = np.concatenate([np.full((1, n), 1.0 / math.sqrt(n)), h], axis=0)
    return fnp.asarray(h.astype(dtypes.default_float_dtype()))


def hadamard(n: int, dtype: Any = int):
    """The (n, n) Sylvester Hadamard matrix (``H H^T = n I``); n a positive power of 2."""
    n = _size(n)
    if n < 1 or not math.log2(n).is_integer():
        raise ValueError(f"n must be a positive power of 2; got {n}.")
    h = np.ones((1, 1), np.int64)
    while h.shape[0] < n:
        h = np.block([[h, h], [h, -h]])
    dt = _util.canonicalize_dtype_arg(dtype, "hadamard")
    return fnp.asarray(h.astype(dt))


def dft(n: int, scale: str | None = None, *, dtype: Any = None):
    """The (n, n) discrete Fourier transform matrix ``W[i, j] = exp(-2 pi i j k / n)``,
    scaled by nothing (``scale=None``), ``1 / sqrt(n)`` ("sqrtn", unitary) or ``1 / n``
    ("n"). ``dtype``: a complex dtype, the default complex one if None."""
    if scale is not None and scale not in ("sqrtn", "n"):
        raise ValueError(f"scale must be None, 'sqrtn', or 'n'; got {scale!r}.")
    n = _size(n)
    if dtype is None:
        dt = dtypes.default_complex_dtype()
    else:
        dt = _util.canonicalize_dtype_arg(dtype, "dft")
        if not np.issubdtype(dt, np.complexfloating):
            raise ValueError(f"dtype must be a complex floating-point type; got {dt}.")
    k = np.arange(n)
    # The exponent reduced mod n first: exact for any n, however large i * j.
    w = np.exp(-2j * np.pi * ((k[:, None] * k[None, :]) % max(n, 1)) / max(n, 1))
    if scale == "sqrtn":
        w = w / math.sqrt(n)
    elif scale == "n":
        w = w / n
    return fnp.asarray(w.astype(dt))


# ---------------------------------------------------------------------------------------
# Matrix exponential
# ---------------------------------------------------------------------------------------

# Pade coefficients b_k of the [m/m] approximant to exp: p(x) = sum b_k x^k, q(x) = p(-x).
_PADE = {
    3: (120., 60., 12., 1.),
    5: (30240., 15120., 3360., 420., 30., 1.),
    7: (17297280., 8648640., 1995840., 277200., 25200., 1512., 56., 1.),
    9: (17643225600., 8821612800., 2075673600., 302702400., 30270240., 2162160., 110880.,
        3960., 90., 1.),
    13: (64764752532480000., 32382376266240000., 7771770303897600., 1187353796428800.,
         129060195264000., 10559470521600., 670442572800., 33522128640., 1323241920.,
         40840800., 960960., 16380., 182., 1.),
}
# Higham's theta_m (largest 1-norm for which order m is accurate), per precision; the last
# order's theta is where scaling starts.
_THETAS = {
    "double": ((3, 1.495585217958292e-2), (5, 2.539398330063230e-1),
               (7, 9.504178996162932e-1), (9, 2.097847961257068e0),
               (13, 5.371920351148152e0)),
    "single": ((3, 4.258730016922831e-1), (5, 1.880152677804762e0),
               (7, 3.925724783138660e0)),
}


def _dot(x, y):
    return fnp.matmul(x, y, precision=lax.Precision.HIGHEST)


def _pade(order: int):
    """The pair (U, V) with p = V + U, q = V - U: U the odd part, V the even part."""
    b = _PADE[order]

    def terms(a):
        eye = fnp.asarray(np.eye(get_aval(a).shape[-1], dtype=get_aval(a).dtype))
        a2 = _dot(a, a)
        if order == 13:
            a4 = _dot(a2, a2)
            a6 = _dot(a4, a2)
            odd = _dot(a6, b[13] * a6 + b[11] * a4 + b[9] * a2)
            odd = odd + b[7] * a6 + b[5] * a4 + b[3] * a2 + b[1] * eye
            even = _dot(a6, b[12] * a6 + b[10] * a4 + b[8] * a2)
            even = even + b[6] * a6 + b[4] * a4 + b[2] * a2 + b[0] * eye
            return _dot(a, odd), even
        powers = [eye, a2]               # a^0, a^2, a^4, ...
        while len(powers) <= order // 2:
            powers.append(_dot(powers[-1], a2))
        odd = sum(b[2 * k + 1] * p for k, p in enumerate(powers))
        even = sum(b[2 * k] * p for k, p in enumerate(powers))
        return _dot(a, odd), even
    return terms


@functools.partial(jit, static_argnames=("upper_triangular", "max_squarings"))
def _expm_matrix(a, upper_triangular: bool, max_squarings: int):
    dt = get_aval(a).dtype
    real = np.finfo(dt).dtype
    if real == np.float64:
        thetas = _THETAS["double"]
    elif real == np.float32:
        thetas = _THETAS["single"]
    else:
        raise TypeError(f"A.dtype={np.dtype(dt)} is not supported.")
    # The 1-norm only picks the order and the squaring count (piecewise constant): no
    # derivative flows through it.
    norm = lax.stop_gradient(fnp.max(fnp.sum(fnp.abs(a), axis=-2), axis=-1))
    top = thetas[-1][1]
    squarings = fnp.maximum(0.0, fnp.floor(fnp.log2(norm / top)))
    a_scaled = a / fnp.asarray(2.0 ** squarings, dtype=dt)
    # The lowest order whose theta bounds the norm (the top one when scaling is needed).
    bounds = np.array([t for _, t in thetas[:-1]], real)
    which = fnp.sum(fnp.asarray(bounds) <= norm).astype(np.int32)
    u, v = lax.switch(which, [_pade(order) for order, _ in thetas], a_scaled)
    p, q = v + u, v - u
    if upper_triangular:
        r = dec.triangular_solve(q, p, left_side=True, lower=False)
    else:
        r = _np_linalg.solve(q, p)

    def step(x, i):
        return lax.cond(i < squarings, lambda y: _dot(y, y), lambda y: y, x), None
    if max_squarings > 0:
        r, _ = lax.scan(step, r, fnp.arange(max_squarings, dtype=real))
    # More squarings needed than allowed: NaN rather than a wrong answer.
    return fnp.where(squarings > max_squarings, fnp.full_like(r, np.nan), r)


def expm(A: Any, *, upper_triangular: bool = False, max_squarings: int = 16):
    """The matrix exponential of each square matrix in ``A`` (..., n, n), by a Pade
    approximant (order 3-13 from the 1-norm; 3-7 in single precision) with scaling and
    squaring. ``upper_triangular=True`` says ``A`` is upper triangular (a triangular
    solve). Matrices needing more than ``max_squarings`` squarings come out NaN. The
    squarings are ``max_squarings`` conditional steps, so ``grad`` works through them."""
    (A,) = _util.promote_dtypes_inexact("expm", fnp.asarray(A))
    shape = get_aval(A).shape
    if len(shape) < 2 or shape[-1] != shape[-2]:
        raise ValueError(f"Expected A to be a (batched) square matrix, got A.shape={shape}.")
    max_squarings = operator.index(max_squarings)
    compute = functools.partial(_expm_matrix, upper_triangular=upper_triangular,
                                max_squarings=max_squarings)
    if len(shape) > 2:
        return fnp.vectorize(compute, signature="(n,n)->(n,n)")(A)
    return compute(A)


def expm_frechet(A: Any, E: Any, *, method: str | None = None, compute_expm: bool = True):
    """The Frechet derivative of ``expm`` at ``A`` in the direction ``E`` (both (..., n,
    n)): ``(expm(A), L(A, E))``, or ``L(A, E)`` alone without ``compute_expm``. It is the
    forward derivative of ``expm``; ``method`` is accepted and ignored, as in JAX."""
    del method
    A, E = fnp.asarray(A), fnp.asarray(E)
    sa, se = get_aval(A).shape, get_aval(E).shape
    if len(sa) < 2 or sa[-1] != sa[-2]:
        raise ValueError(f"expected A to be a (batched) square matrix, got A.shape={sa}")
    if len(se) < 2 or se[-1] != se[-2]:
        raise ValueError(f"expected E to be a (batched) square matrix, got E.shape={se}")
    if sa != se:
        raise ValueError(f"expected A and E to be the same shape, got A.shape={sa} "
                         f"E.shape={se}")
    A, E = _util.promote_dtypes_inexact("expm_frechet", A, E)
    value, derivative = jvp(expm, (A,), (E,))
    return (value, derivative) if compute_expm else derivative
