"""Math beyond the basic ufuncs (as ``jax.numpy``): integer ``gcd``/``lcm`` (Euclid's
algorithm in a ``while_loop``), the floating-point anatomy of ``frexp``, ``ldexp``, ``modf``
and ``spacing``, the Bessel function ``i0`` and the ``kaiser`` window built on it,
``bitwise_count`` and the ``bitwise_left_shift``/``bitwise_right_shift`` aliases, finite
differences (``gradient``), phase unwrapping (``unwrap``), ``vectorize`` (NumPy's
generalized-ufunc signatures, one ``vmap`` per broadcast axis) and the polynomial family
(``poly``, ``polyadd``, ``polysub``, ``polymul``, ``polydiv``, ``polyder``, ``polyint``,
``polyval``, ``polyfit``).

``frexp`` and ``ldexp`` take floats apart with integer operations on their bits, so
subnormal inputs decompose exactly even where the device flushes subnormals to zero in
arithmetic (JAX on CPU does not: there ``frexp(1e-45)`` reports exponent -149 for every
subnormal). ``polyfit`` solves its weighted least-squares problem with ``linalg.lstsq``,
as JAX does; ``roots`` takes the eigenvalues of the companion matrix. Sizes that decide a
result's shape (``deg``, ``M``, polynomial lengths) must be concrete, as in JAX.
"""
from __future__ import annotations

import functools
import math
import re
from typing import Any, Callable, Sequence

import numpy as np

from functorch_lite import lax
from functorch_lite.api import vmap
from functorch_lite.core import dtypes
from functorch_lite.core.errors import ConcretizationTypeError
from functorch_lite.core.trace import is_traced
from functorch_lite.lax import decompositions as _dec
from functorch_lite.lax.custom_derivatives import custom_jvp
from functorch_lite.numpy import reductions as _red
from functorch_lite.numpy import shapes as _shapes
from functorch_lite.numpy import ufuncs as _uf
from functorch_lite.numpy._eager import compiled_when_eager
from functorch_lite.numpy._util import (broadcast_shapes, normalize_axis,
                                        promote_dtypes, promote_dtypes_inexact)
from functorch_lite.numpy.creation import arange, asarray, full, ones, zeros
from functorch_lite.numpy.linalg_ops import matmul
from functorch_lite.numpy.linalg_solve import eigvals, inv
from functorch_lite.numpy.linalg_svd import lstsq
from functorch_lite.numpy.sequences import _arr, _int, convolve, diff, vander
from functorch_lite.numpy.sorting import argsort

__all__ = ["gcd", "lcm", "frexp", "ldexp", "modf", "spacing", "i0", "kaiser",
           "bitwise_count", "bitwise_left_shift", "bitwise_right_shift", "gradient", "unwrap",
           "vectorize", "poly", "polyadd", "polysub", "polymul", "polydiv", "polyder",
           "polyint", "polyval", "polyfit", "roots"]


def _concrete(name: str, x):
    """``x``'s value on the host, for decisions that shape the result."""
    if is_traced(x):
        raise ConcretizationTypeError(
            f"{name} needs a concrete (not traced) value here; call it outside jit/vmap/grad "
            "or leave the option at its default")
    return np.asarray(x)


# -- integers --------------------------------------------------------------------------------
def _integers(name: str, x1, x2):
    x1, x2 = promote_dtypes(name, *_arr(name, x1, x2))
    if not dtypes.is_int(x1.dtype):
        raise ValueError(f"Arguments to functorch_lite.numpy.{name} must be integers.")
    return x1, x2


def _magnitudes(x1, x2):
    return _shapes.broadcast_arrays(_uf.absolute(x1), _uf.absolute(x2))


def _euclid(a, b):
    """gcd of non-negative ``a`` and ``b`` (same shape): ``(a, b) -> (b, a mod b)`` until
    every ``b`` is 0; finished elements stop changing. A smaller ``a`` swaps itself on the
    first step (``a mod b == a``), so no ordering is needed."""
    def running(state):
        return _red.any(state[1] != 0)

    def step(state):
        a, b = state
        live = b != 0
        rest = lax.rem(a, _uf.where(live, b, 1))
        return _uf.where(live, b, a), _uf.where(live, rest, 0)
    return lax.while_loop(running, step, (a, b))[0]


def gcd(x1: Any, x2: Any):
    """The greatest common divisor of ``|x1|`` and ``|x2|``, elementwise with broadcasting
    (``gcd(0, 0) == 0``).

    >>> fnp.gcd(fnp.array([12, -18, 0]), 8)     # [4, 2, 8]
    """
    return _gcd(*_integers("gcd", x1, x2))


@compiled_when_eager
def _gcd(x1, x2):
    return _euclid(*_magnitudes(x1, x2))


def lcm(x1: Any, x2: Any):
    """The least common multiple of ``|x1|`` and ``|x2|``, elementwise (0 when either is 0)."""
    return _lcm(*_integers("lcm", x1, x2))


@compiled_when_eager
def _lcm(x1, x2):
    a, b = _magnitudes(x1, x2)
    d = _euclid(a, b)
    zero = d == 0
    return _uf.where(zero, 0, a * lax.div(b, _uf.where(zero, 1, d)))


bitwise_left_shift = _uf.left_shift
bitwise_right_shift = _uf.right_shift


def bitwise_count(x: Any, /):
    """The number of 1 bits in ``|x|`` for integer ``x`` (a uint8 array, as NumPy's)."""
    (x,) = promote_dtypes("bitwise_count", *_arr("bitwise_count", x))
    if x.dtype == np.bool_:
        x = lax.convert_element_type(x, np.int32)
    return lax.convert_element_type(lax.population_count(_uf.absolute(x)), np.uint8)


# -- floating-point anatomy ------------------------------------------------------------------
_UINT = {2: np.uint16, 4: np.uint32, 8: np.uint64}


class _Layout:
    """The bit layout of a binary floating-point dtype."""

    def __init__(self, dtype):
        info = dtypes.finfo(dtype)
        self.dtype = np.dtype(dtype)
        self.uint = np.dtype(_UINT[self.dtype.itemsize])
        self.nmant, self.nexp = int(info.nmant), int(info.nexp)
        self.bias = (1 << (self.nexp - 1)) - 1          # 127 for float32
        self.frac_mask = (1 << self.nmant) - 1
        self.exp_mask = (1 << self.nexp) - 1
        self.sign_bit = 1 << (8 * self.dtype.itemsize - 1)

    def fields(self, x):
        """(sign bits, biased exponent as int32, fraction bits) of float array ``x``."""
        bits = lax.bitcast_convert_type(x, self.uint)
        sign = lax.bitwise_and(bits, self._u(self.sign_bit))
        field = lax.bitwise_and(lax.shift_right_logical(bits, self._u(self.nmant)),
                                self._u(self.exp_mask))
        frac = lax.bitwise_and(bits, self._u(self.frac_mask))
        return sign, lax.convert_element_type(field, np.int32), frac

    def assemble(self, sign, field, frac):
        """The float with these fields (``field`` an int32 array in [0, exp_mask])."""
        field = lax.shift_left(lax.convert_element_type(field, self.uint), self._u(self.nmant))
        return lax.bitcast_convert_type(lax.bitwise_or(lax.bitwise_or(sign, field), frac),
                                        self.dtype)

    def pow2(self, n):
        """2.0 ** n exactly, for int32 ``n`` within the normal range [1 - bias, bias]."""
        zero = lax.full_like(n, 0, self.uint)
        return self.assemble(zero, n + self.bias, zero)

    def scale(self, t, n):
        """``t * 2**n`` by exact powers of two (linear in ``t``, for tangents): ``n`` is
        split into three parts within the normal exponents."""
        lo, hi = np.int32(1 - self.bias), np.int32(self.bias)
        for _ in range(3):
            part = lax.clamp(lo, n, hi)
            t, n = t * self.pow2(part), n - part
        return t

    def _u(self, value):
        return np.array(value, self.uint)


def _frexp_parts(x):
    """(mantissa, exponent) with ``x == m * 2**e``, ``0.5 <= |m| < 1``; 0, inf and NaN give
    ``(x, 0)``. Everything is read from the bits: a subnormal's fraction bits, converted to
    a float (exactly: they fit in the mantissa), are a normal number to decompose instead."""
    lay = _Layout(x.dtype)
    sign, field, frac = lay.fields(x)
    _, sub_field, sub_frac = lay.fields(lax.convert_element_type(frac, x.dtype))
    subnormal = _uf.logical_and(field == 0, frac != lay._u(0))
    # a normal x is 1.frac * 2**(field - bias) == 0.1frac * 2**(field - bias + 1); a
    # subnormal one is frac * 2**(1 - bias - nmant), and float(frac) has its own fields.
    field = _uf.where(subnormal, sub_field, field)
    frac = _uf.where(subnormal, sub_frac, frac)
    exponent = field - (lay.bias - 1) + _uf.where(subnormal, 1 - lay.bias - lay.nmant, 0)
    mantissa = lay.assemble(sign, lax.full_like(field, lay.bias - 1), frac)
    special = _uf.logical_or(field == lay.exp_mask,
                             _uf.logical_and(field == 0, frac == lay._u(0)))
    return (_uf.where(special, x, mantissa),
            _uf.where(special, 0, exponent).astype(np.int32))


def _ldexp_parts(x, n):
    """``x * 2**n`` for float ``x`` and int32 ``n`` with one rounding: with ``x = m 2**e``
    it is ``(2m * 2**a) * 2**b``, ``a + b = e + n - 1``, where ``a`` is clamped to the normal
    exponents (so the first product is exact) and ``b`` only carries what over- or
    underflows (a few steps: enough to reach inf or to round below the subnormals)."""
    lay = _Layout(x.dtype)
    m, e = _frexp_parts(x)
    limit = 2 * (lay.bias + lay.nmant) + 8     # past it, the result is 0 or inf anyway
    total = e + lax.clamp(np.int32(-limit), n, np.int32(limit)) - 1
    a = lax.clamp(np.int32(1 - lay.bias), total, np.int32(lay.bias))
    b = lax.clamp(np.int32(-lay.nmant - 2), total - a, np.int32(2))
    return (m * 2 * lay.pow2(a)) * lay.pow2(b)


@custom_jvp
def _frexp(x):
    return _frexp_parts(x)


@_frexp.defjvp
def _frexp_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    m, e = _frexp(x)
    return (m, e), (_Layout(x.dtype).scale(t, -e), lax.full_like(e, 0))


def frexp(x: Any, /):
    """``(mantissa, exponent)`` with ``x == mantissa * 2**exponent``, ``0.5 <= |mantissa|
    < 1`` and an int32 exponent; zeros, infinities and NaNs give ``(x, 0)``.

    >>> fnp.frexp(fnp.array([1.0, 3.0, 0.0]))   # ([0.5, 0.75, 0.], [1, 2, 0])
    """
    (x,) = promote_dtypes_inexact("frexp", *_arr("frexp", x))
    if dtypes.is_complex(x.dtype):
        raise TypeError("frexp does not support complex-valued inputs")
    return _frexp_compiled(x)


@compiled_when_eager
def _frexp_compiled(x):
    return _frexp(x)


@custom_jvp
def _ldexp(x, n):
    return _ldexp_parts(x, n)


@_ldexp.defjvp
def _ldexp_jvp(primals, tangents):
    x, n = primals
    return _ldexp(x, n), _Layout(x.dtype).scale(tangents[0], n)


def ldexp(x1: Any, x2: Any, /):
    """``x1 * 2**x2`` for float ``x1`` and integer ``x2``, rounded once (overflow gives inf;
    the exponent is not computed as a float power, so ``ldexp(1.5, 200)`` is inf while
    ``ldexp(1e-45, 276)`` is finite).

    >>> fnp.ldexp(fnp.array([0.5, 0.75]), fnp.array([1, 3]))   # [1., 6.]
    """
    x1, x2 = _arr("ldexp", x1, x2)
    if dtypes.is_complex(x1.dtype) or dtypes.is_inexact(x2.dtype):
        raise ValueError(f"ldexp not supported for input types {(x1.dtype, x2.dtype)}")
    (x1,) = promote_dtypes_inexact("ldexp", x1)
    broadcast_shapes(x1.shape, x2.shape, name="ldexp")
    return _ldexp_compiled(x1, x2)


@compiled_when_eager
def _ldexp_compiled(x1, x2):
    shape = broadcast_shapes(x1.shape, x2.shape, name="ldexp")
    if x2.dtype != np.bool_ and x2.dtype.itemsize >= 4 and x2.dtype != np.int32:
        # exponents this large over- or underflow anyway; int32 holds the clamped ones
        low = 0 if dtypes.is_unsigned(x2.dtype) else -2 ** 30
        x2 = lax.clamp(np.array(low, x2.dtype), x2, np.array(2 ** 30, x2.dtype))
    x2 = _shapes.broadcast_to(lax.convert_element_type(x2, np.int32), shape)
    return _ldexp(_shapes.broadcast_to(x1, shape), x2)


def modf(x: Any, /, out=None):
    """``(fractional part, integral part)`` of ``x``, both with ``x``'s sign (as JAX, an
    infinite ``x`` gives a NaN fractional part)."""
    if out is not None:
        raise NotImplementedError("The 'out' argument to modf is not supported.")
    (x,) = promote_dtypes_inexact("modf", *_arr("modf", x))
    return _modf(x)


@compiled_when_eager
def _modf(x):
    whole = _uf.where(x >= 0, _uf.floor(x), _uf.ceil(x))
    return x - whole, whole


def spacing(x: Any, /):
    """The distance from ``x`` to the next representable number away from zero (the
    smallest subnormal at 0, with the sign of ``x``; float16 measures toward +inf, as
    JAX's)."""
    (x,) = promote_dtypes_inexact("spacing", *_arr("spacing", x))
    if dtypes.is_complex(x.dtype):
        raise ValueError("spacing is not defined for complex inputs.")
    return _spacing(x)


@compiled_when_eager
def _spacing(x):
    inf = lax.full_like(x, np.inf)
    if x.dtype == np.float16:
        return lax.nextafter(x, inf) - x
    step = lax.nextafter(x, _uf.copysign(inf, x)) - x
    # A device that flushes subnormals to zero computes 0 where the step is subnormal.
    tiny = lax.full_like(x, dtypes.finfo(x.dtype).smallest_subnormal)
    return _uf.where(step == 0, _uf.copysign(tiny, x), step)


# -- Bessel I0 and the Kaiser window ---------------------------------------------------------
# |x| <= 8: the Taylor series of I0 in y = x**2 / 4, whose coefficients are 1 / (k!)**2 (24
# terms reach float64 precision there; all terms are positive, so Horner's rule loses
# nothing to cancellation, and i0(0) is exactly 1). |x| > 8: Chebyshev coefficients of
# exp(-x) sqrt(x) I0(x) in 32/x - 2, highest order first, from the Cephes library (S. L.
# Moshier), as NumPy's i0 uses them.
_I0_TAYLOR = tuple(1.0 / math.factorial(k) ** 2 for k in range(24))
_I0_LARGE = (
    -7.23318048787475395456e-18, -4.83050448594418207126e-18, 4.46562142029675999901e-17,
    3.46122286769746109310e-17, -2.82762398051658348494e-16, -3.42548561967721913462e-16,
    1.77256013305652638360e-15, 3.81168066935262242075e-15, -9.55484669882830764870e-15,
    -4.15056934728722208663e-14, 1.54008621752140982691e-14, 3.85277838274214270114e-13,
    7.18012445138366623367e-13, -1.79417853150680611778e-12, -1.32158118404477131188e-11,
    -3.14991652796324136454e-11, 1.18891471078464383424e-11, 4.94060238822496958910e-10,
    3.39623202570838634515e-09, 2.26666899049817806459e-08, 2.04891858946906374183e-07,
    2.89137052083475648297e-06, 6.88975834691682398426e-05, 3.36911647825569408990e-03,
    8.04490411014108831608e-01)


def _chebyshev(t, coefs):
    """Clenshaw's recurrence for a Cephes table (argument ``t`` in [-2, 2])."""
    b0 = b1 = b2 = 0.0
    for c in coefs:
        b2, b1 = b1, b0
        b0 = t * b1 - b2 + c
    return 0.5 * (b0 - b2)


@compiled_when_eager
def _i0(x):
    ax = _uf.absolute(x)
    small = ax <= 8.0
    # each branch sees only arguments in its own range, so the other branch's derivative
    # is finite and where() can drop it
    xs = _uf.where(small, x, 0.0)
    xl = _uf.where(small, 8.0, ax)
    y = xs * xs * 0.25
    near = 0.0
    for c in reversed(_I0_TAYLOR):
        near = near * y + c
    # exp(x) in two halves: exp(x) alone overflows (past 88.7 in float32) before I0 does
    half = lax.exp(0.5 * xl)
    far = half * (_chebyshev(32.0 / xl - 2.0, _I0_LARGE) / lax.sqrt(xl)) * half
    return _uf.where(small, near, far)


def i0(x: Any):
    """The modified Bessel function of the first kind of order 0, for real ``x``
    (differentiable: its derivative is I1).

    >>> fnp.i0(fnp.array([0.0, 1.0]))    # [1., 1.2660658]
    """
    (x,) = promote_dtypes_inexact("i0", *_arr("i0", x))
    if not dtypes.is_float(x.dtype):
        raise ValueError(f"Unsupported input type to functorch_lite.numpy.i0: {x.dtype}")
    if x.dtype.itemsize < 4:  # (as XLA's bessel_i0e, compute half floats in float32)
        return lax.convert_element_type(_i0(lax.convert_element_type(x, np.float32)),
                                        x.dtype)
    return _i0(x)


def kaiser(M: int, beta: Any):
    """The Kaiser window of ``M`` points with shape parameter ``beta``:
    ``i0(beta sqrt(1 - (2n/(M-1) - 1)**2)) / i0(beta)``."""
    M = _int("kaiser", "M", M)
    dtype = dtypes.default_float_dtype()
    if M <= 1:
        return ones((max(M, 0),), dtype)
    (beta,) = _arr("kaiser", beta)
    return _kaiser(beta, M)


@compiled_when_eager(arrays=1)
def _kaiser(beta, M: int):
    n = arange(M, dtype=dtypes.default_float_dtype())
    alpha = 0.5 * (M - 1)
    ratio = (n - alpha) / alpha
    return i0(beta * lax.sqrt(1.0 - ratio * ratio)) / i0(beta)


# -- finite differences and phase unwrapping -------------------------------------------------
def _along(a, axis: int, start: int, stop: int):
    return lax.slice_in_dim(a, start, stop, axis=axis)


@compiled_when_eager(arrays=2)
def _gradient_along(f, h, axis: int):
    n = f.shape[axis]
    first = _along(f, axis, 1, 2) - _along(f, axis, 0, 1)
    last = _along(f, axis, n - 1, n) - _along(f, axis, n - 2, n - 1)
    if h.ndim == 0:
        inner = (_along(f, axis, 2, n) - _along(f, axis, 0, n - 2)) / (2.0 * h)
        first, last = first / h, last / h
    elif h.ndim == 1:
        if h.shape[0] != n:
            raise ValueError("Spacing arrays must have the same length as the dimension "
                             "along which the gradient is calculated.")
        shape = [1] * f.ndim
        shape[axis] = n
        dx = diff(_shapes.reshape(h, tuple(shape)), axis=axis)
        first = first / _along(dx, axis, 0, 1)
        last = last / _along(dx, axis, n - 2, n - 1)
        # second-order central differences for uneven steps d1 (left) and d2 (right)
        d1, d2 = _along(dx, axis, 0, n - 2), _along(dx, axis, 1, n - 1)
        inner = (-d2 / (d1 * (d1 + d2)) * _along(f, axis, 0, n - 2)
                 + (d2 - d1) / (d1 * d2) * _along(f, axis, 1, n - 1)
                 + d1 / (d2 * (d1 + d2)) * _along(f, axis, 2, n))
    else:
        raise ValueError("Spacing arrays must be 1D arrays or scalars.")
    return _shapes.concatenate([first, inner, last], axis=axis)


def gradient(f: Any, *varargs: Any, axis: int | Sequence[int] | None = None,
             edge_order: int | None = None):
    """The derivative of sampled ``f`` along each axis (or ``axis``): central differences
    inside, one-sided at the edges (``edge_order=1``). ``varargs`` give the spacing: none
    (1), one for all axes, or one per axis, each a scalar step or the sample coordinates.
    One axis gives an array, several a list.

    >>> fnp.gradient(fnp.array([1.0, 2.0, 4.0, 7.0]))     # [1., 1.5, 2.5, 3.]
    """
    if edge_order not in (None, 1):
        raise NotImplementedError("gradient: only edge_order=1 is supported")
    f, *spacing = promote_dtypes_inexact("gradient", *_arr("gradient", f, *varargs))
    if axis is None:
        axes = tuple(range(f.ndim))
    else:
        axes = tuple(normalize_axis("gradient", a, f.ndim)
                     for a in (axis if isinstance(axis, (tuple, list)) else (axis,)))
    if not axes:
        return []
    if min(f.shape[a] for a in axes) < 2:
        raise ValueError("Shape of array too small to calculate a numerical gradient, at "
                         "least 2 elements are required.")
    if not spacing:
        spacing = [asarray(1.0, f.dtype)] * len(axes)
    elif len(spacing) == 1:
        spacing = spacing * len(axes)
    elif len(spacing) != len(axes):
        raise TypeError(f"Invalid number of spacing arguments {len(spacing)} for "
                        f"axis={axis}")
    out = [_gradient_along(f, h, a) for a, h in zip(axes, spacing)]
    return out[0] if len(axes) == 1 else out


def unwrap(p: Any, discont: Any = None, axis: int = -1, period: Any = 2 * np.pi):
    """``p`` with jumps larger than ``discont`` (default ``period / 2``) along ``axis``
    replaced by their equivalents modulo ``period``.

    >>> fnp.unwrap(fnp.array([0.0, 3.0, 6.5, -0.2]))    # [0., 3., 0.2168, -0.2]
    """
    p, period = promote_dtypes("unwrap", *_arr("unwrap", p, period))
    if dtypes.is_complex(p.dtype):
        raise ValueError("unwrap does not support complex inputs.")
    axis = normalize_axis("unwrap", axis, p.ndim)
    if p.shape[axis] == 0:
        return p
    return _unwrap(p, period, discont, axis)


@compiled_when_eager(arrays=2)
def _unwrap(p, period, discont, axis: int):
    half = _uf.floor_divide(period, 2) if dtypes.is_int(p.dtype) else period / 2
    if discont is None:
        discont = period / 2
    step = diff(p, axis=axis)
    # the step's equivalent in [-half, half), with +half kept for positive steps
    wrapped = _uf.remainder(step + half, period) - half
    wrapped = _uf.where(_uf.logical_and(wrapped == -half, step > 0), half, wrapped)
    fix = _uf.where(_uf.absolute(step) < discont, 0, wrapped - step)
    n = p.shape[axis]
    return _shapes.concatenate([_along(p, axis, 0, 1),
                                _along(p, axis, 1, n) + _red.cumsum(fix, axis=axis)],
                               axis=axis)


# -- vectorize -------------------------------------------------------------------------------
_DIMS = r"\w+(?:,\w+)*"
_ARG = rf"\((?:{_DIMS})?\)"
_SIGNATURE = re.compile(rf"^{_ARG}(?:,{_ARG})*->{_ARG}(?:,{_ARG})*$")


def _parse_signature(signature: str):
    """``"(m,n),(n)->(m)"`` -> ``([("m", "n"), ("n",)], [("m",)])``."""
    if not _SIGNATURE.match(signature):
        raise ValueError(f"not a valid gufunc signature: {signature}")
    ins, outs = signature.split("->")
    return ([tuple(re.findall(r"\w+", a)) for a in re.findall(r"\([^)]*\)", side)]
            for side in (ins, outs))


def _bind_core_dims(sizes: dict, shape: tuple, core: tuple, where: str, is_input: bool):
    if is_input and len(shape) < len(core):
        raise ValueError(f"input with shape {shape} does not have enough dimensions for all "
                         f"core dimensions {core} {where}")
    if not is_input and len(shape) != len(core):
        raise ValueError(f"output shape {shape} does not match core dimensions {core} "
                         f"{where}")
    for name, size in zip(core, shape[len(shape) - len(core):]):
        if sizes.setdefault(name, size) != size:
            raise ValueError(f"inconsistent size for core dimension {name!r}: {size} vs "
                             f"{sizes[name]} {where}")


def vectorize(pyfunc: Callable, *, excluded=frozenset(), signature: str | None = None):
    """``pyfunc`` (written for single elements, or for the core shapes of ``signature``
    such as ``"(n),(n)->()"``) mapped over the broadcast leading axes of its arguments with
    ``vmap``. ``excluded`` names positional indices or keywords passed through unmapped;
    other keyword arguments are passed through unmapped too (JAX drops them).

    >>> dot = fnp.vectorize(fnp.dot, signature="(n),(n)->()")
    >>> dot(fnp.ones((4, 3)), fnp.ones(3)).shape
    (4,)
    """
    if any(not isinstance(e, (str, int)) for e in excluded):
        raise TypeError("vectorize can only exclude integer or string arguments, but "
                        f"excluded={excluded!r}")
    if any(isinstance(e, int) and e < 0 for e in excluded):
        raise ValueError(f"excluded={excluded!r} contains negative numbers")

    @functools.wraps(pyfunc)
    def wrapped(*args, **kwargs):
        where = f"on vectorized function with excluded={excluded!r} and " \
                f"signature={signature!r}"
        fixed = {i: a for i, a in enumerate(args) if i in excluded}
        if signature is None:
            in_core, out_core = [()] * (len(args) - len(fixed)), None
        else:
            in_core, out_core = _parse_signature(signature)
        # None arguments (with scalar core dims) pass through like excluded ones
        mapped = [i for i in range(len(args)) if i not in fixed]
        if len(in_core) != len(mapped):
            raise TypeError(f"wrong number of positional arguments: expected {len(in_core)}, "
                            f"got {len(mapped)} {where}")
        for i, core in list(zip(mapped, in_core)):
            if args[i] is None:
                if core:
                    raise ValueError(f"Cannot pass None at location {i} with "
                                     f"signature={signature!r}")
                fixed[i] = None
        in_core = [c for i, c in zip(mapped, in_core) if i not in fixed]
        mapped = [i for i in mapped if i not in fixed]
        values = [asarray(args[i]) for i in mapped]

        sizes: dict = {}
        for v, core in zip(values, in_core):
            _bind_core_dims(sizes, v.shape, core, where, True)
        outer = [v.shape[:v.ndim - len(core)] for v, core in zip(values, in_core)]
        batch = broadcast_shapes(*outer, name="vectorize")

        def call(*vals):
            full_args = list(args)
            for i, v in zip(mapped, vals):
                full_args[i] = v
            out = pyfunc(*full_args, **kwargs)
            if out_core is not None:
                outs = out if isinstance(out, tuple) else (out,)
                if len(out_core) > 1 and not isinstance(out, tuple):
                    raise TypeError("output must be a tuple when multiple outputs are "
                                    f"expected, got: {out!r}\n{where}")
                if len(outs) != len(out_core):
                    raise TypeError(f"wrong number of output arguments: expected "
                                    f"{len(out_core)}, got {len(outs)} {where}")
                out_sizes = dict(sizes)
                for o, core in zip(outs, out_core):
                    _bind_core_dims(out_sizes, tuple(np.shape(o)), core, where, False)
            return out

        # One vmap per broadcast axis, innermost first; an argument of size 1 there is
        # squeezed and left unmapped (None), and axes where every argument has size 1 are
        # put back on the result afterwards.
        padded = [(1,) * (len(batch) - len(s)) + s for s in outer]
        squeezed = [_shapes.squeeze(v, tuple(i for i, d in enumerate(s) if d == 1))
                    for v, s in zip(values, outer)]
        fn, unit_axes = call, []
        for ax in reversed(range(len(batch))):
            in_axes = tuple(None if s[ax] == 1 else 0 for s in padded)
            if all(a is None for a in in_axes):
                unit_axes.append(ax)
            else:
                fn = vmap(fn, in_axes=in_axes)
        result = fn(*squeezed)
        if not unit_axes:
            return result
        put_back = tuple(sorted(unit_axes))
        if isinstance(result, tuple):
            return tuple(_shapes.expand_dims(r, put_back) for r in result)
        return _shapes.expand_dims(result, put_back)
    return wrapped


# -- polynomials (coefficients highest power first) ------------------------------------------
def _leading_trimmed(name: str, a, tol=None):
    """``a`` without its leading zeros (entries below ``tol`` in magnitude); needs
    concrete values, since the length depends on them."""
    host = np.abs(_concrete(name, a))
    small = host < tol if tol is not None else host == 0
    if small.all():
        return a[:0]
    return a[int(np.argmin(small)):]


def poly(seq_of_zeros: Any):
    """The coefficients of the monic polynomial with the given roots.

    >>> fnp.poly(fnp.array([1.0, 2.0]))    # x**2 - 3x + 2: [1., -3., 2.]
    """
    (z,) = promote_dtypes_inexact("poly", *_arr("poly", seq_of_zeros))
    z = _shapes.atleast_1d(z)
    if z.ndim == 2 and z.shape[0] == z.shape[1] and z.shape[0] != 0:
        z = eigvals(z)     # the characteristic polynomial (complex, as JAX's)
    if z.ndim != 1:
        raise ValueError("input must be 1d or non-empty square 2d array.")
    if z.shape[0] == 0:
        return ones((), z.dtype)
    return _poly(z)


@compiled_when_eager
def _poly(z):
    coefs = ones((1,), z.dtype)
    pad = zeros((1,), z.dtype)
    for k in range(z.shape[0]):  # multiply by (x - z_k)
        coefs = _shapes.concatenate([coefs, pad]) - z[k] * _shapes.concatenate([pad, coefs])
    return coefs


def roots(p: Any, *, strip_zeros: bool = True):
    """The (complex) roots of the polynomial with coefficients ``p`` (highest power
    first): the eigenvalues of its companion matrix. Leading zeros are stripped, which
    needs a concrete ``p``; with ``strip_zeros=False`` each leading zero gives a NaN root
    instead (usable under jit), as JAX's."""
    (p,) = promote_dtypes_inexact("roots", *_arr("roots", p))
    p = _shapes.atleast_1d(p)
    if p.ndim != 1:
        raise ValueError("Input must be a rank-1 array.")
    cdtype = np.dtype(np.complex128 if p.dtype in (np.float64, np.complex128)
                      else np.complex64)
    if p.shape[0] < 2:
        return zeros((0,), cdtype)
    is_zero = p == 0
    leading = lax.select(_red.all(is_zero), asarray(p.shape[0], np.int32),
                         _red.argmin(is_zero).astype(np.int32))
    if strip_zeros:
        if is_traced(leading):
            raise ConcretizationTypeError(
                "roots: stripping leading zeros needs a concrete p; inside jit pass "
                "strip_zeros=False (leading zeros then give NaN roots)")
        return _companion_roots(p[int(leading):], cdtype)
    return _roots_keeping_size(p, leading, cdtype)


def _companion_roots(p, cdtype):
    n = p.shape[0] - 1
    if n < 1:
        return zeros((0,), cdtype)
    first_row = -p[1:] / p[0]
    below = _shapes.pad(_dec.eye_like(zeros((n - 1, n - 1), p.dtype)), [(0, 0), (0, 1)]) \
        if n > 1 else zeros((0, 1), p.dtype)
    return eigvals(_shapes.concatenate([first_row[None, :], below], axis=0))


def _roots_keeping_size(p, leading, cdtype):
    """All ``len(p) - 1`` roots, with the leading zeros rolled to the end and their roots
    (the last ``leading`` ones) set to NaN."""
    n = p.shape[0]
    p = lax.select(lax.broadcast(leading == n, p.shape), ones(p.shape, p.dtype), p)
    idx = (arange(n, dtype=np.int32) + leading) % n
    found = _companion_roots(p[idx], cdtype)
    # Zero roots (from the rolled-in zeros) sort last, then the last `leading` become NaN.
    order = argsort(found == 0, stable=True)
    found = found[order]
    keep = arange(found.shape[0], dtype=np.int32) < found.shape[0] - leading
    return lax.select(keep, found, full(found.shape, complex(np.nan, np.nan), found.dtype))


def polyadd(a1: Any, a2: Any):
    """The sum of two polynomials (the shorter is padded with leading zeros)."""
    a1, a2 = promote_dtypes("polyadd", *_arr("polyadd", a1, a2))
    n = max(a1.shape[0], a2.shape[0])
    a1, a2 = (_shapes.pad(a, [(n - a.shape[0], 0)] + [(0, 0)] * (a.ndim - 1))
              for a in (a1, a2))
    return a1 + a2


def polysub(a1: Any, a2: Any):
    """The difference of two polynomials."""
    a1, a2 = promote_dtypes("polysub", *_arr("polysub", a1, a2))
    return polyadd(a1, -a2)


def polymul(a1: Any, a2: Any, *, trim_leading_zeros: bool = False):
    """The product of two polynomials (a full convolution of their coefficients)."""
    a1, a2 = promote_dtypes_inexact("polymul", *_arr("polymul", a1, a2))
    if trim_leading_zeros and (a1.shape[0] > 1 or a2.shape[0] > 1):
        a1, a2 = _leading_trimmed("polymul", a1), _leading_trimmed("polymul", a2)
    if a1.shape[0] == 0:
        a1 = zeros((1,), a2.dtype)
    if a2.shape[0] == 0:
        a2 = zeros((1,), a1.dtype)
    return convolve(a1, a2, mode="full")


def polydiv(u: Any, v: Any, *, trim_leading_zeros: bool = False):
    """``(quotient, remainder)`` of polynomial long division; the remainder keeps ``u``'s
    length (its leading entries are zeros, trimmed with ``trim_leading_zeros``)."""
    u, v = promote_dtypes_inexact("polydiv", *_arr("polydiv", u, v))
    q, u = _polydiv(u, v)
    if trim_leading_zeros:
        u = _leading_trimmed("polydiv", u, float(np.sqrt(dtypes.finfo(u.dtype).eps)))
    return q, u


@compiled_when_eager
def _polydiv(u, v):
    m, n = u.shape[0] - 1, v.shape[0] - 1
    inv_lead = 1.0 / v[0]
    q = zeros((max(m - n + 1, 1),), u.dtype)
    for k in range(m - n + 1):
        coef = u[k] * inv_lead
        q = q.at[k].set(coef)
        u = u.at[k:k + n + 1].add(-coef * v)
    return q, u


def _falling_factorials(degrees, m: int, dtype):
    """``d (d-1) ... (d-m+1)`` for each degree ``d``, factors below 1 taken as 1."""
    d = np.asarray(degrees, np.float64)[:, None] - np.arange(m, dtype=np.float64)
    return np.maximum(d, 1.0).prod(axis=1).astype(dtype)


def polyder(p: Any, m: int = 1):
    """The ``m``-th derivative of a polynomial."""
    (p,) = promote_dtypes_inexact("polyder", *_arr("polyder", p))
    m = _int("polyder", "m", m)
    if m < 0:
        raise ValueError("Order of derivative must be positive")
    if m == 0:
        return p
    n = p.shape[0]
    keep = max(n - m, 0)
    return p[:keep] * _falling_factorials(np.arange(n - 1, n - 1 - keep, -1), m, p.dtype)


def polyint(p: Any, m: int = 1, k: Any = None):
    """The ``m``-th antiderivative of a polynomial; ``k`` holds the integration constants
    (a scalar, or one per integration, the first of them ending up at the highest power)."""
    m = _int("polyint", "m", m)
    p, k = promote_dtypes_inexact("polyint", *_arr("polyint", p, 0 if k is None else k))
    if m < 0:
        raise ValueError("Order of integral must be positive (see polyder)")
    k = _shapes.atleast_1d(k)
    if k.shape[0] == 1:
        k = full((m,), k[0], k.dtype)
    if k.shape != (m,):
        raise ValueError("k must be a scalar or a rank-1 array of length 1 or m.")
    if m == 0:
        return p
    n = p.shape[0] + m
    return _shapes.concatenate([p, k]) / _falling_factorials(np.arange(n - 1, -1, -1), m,
                                                             p.dtype)


def polyval(p: Any, x: Any, *, unroll: int = 16):
    """The polynomial ``p`` at ``x`` by Horner's rule (a ``scan`` over the coefficients,
    ``unroll`` of them per step); ``p`` may carry trailing axes that broadcast with ``x``.

    >>> fnp.polyval(fnp.array([1.0, 0.0, -2.0]), 3.0)   # 7.
    """
    p, x = promote_dtypes("polyval", *_arr("polyval", p, x))
    return _polyval(p, x, unroll)


@compiled_when_eager(arrays=2)
def _polyval(p, x, unroll):
    shape = broadcast_shapes(p.shape[1:], x.shape, name="polyval")
    acc = lax.full(shape, 0, x.dtype)
    acc, _ = lax.scan(lambda y, c: (y * x + c, None), acc, p, unroll=unroll)
    return acc


def polyfit(x: Any, y: Any, deg: int, rcond: float | None = None, full: bool = False,
            w: Any = None, cov: bool | str = False):
    """The least-squares polynomial of degree ``deg`` through the points ``(x, y)`` (``y``
    of shape (N,) or (N, K) for K fits), coefficients highest power first; ``w`` weights
    the residuals. Solved by ``linalg.lstsq`` on the column-scaled Vandermonde matrix,
    singular values below ``rcond`` (default ``len(x) * eps``) times the largest dropped.
    ``full=True`` returns ``(p, residuals, rank, singular_values, rcond)``; ``cov`` also
    returns the coefficients' covariance (``"unscaled"``: not scaled by the residual
    variance; ignored with ``full``)."""
    args = _arr("polyfit", x, y) if w is None else _arr("polyfit", x, y, w)
    x, y, *wl = promote_dtypes_inexact("polyfit", *args)
    deg = _int("polyfit", "deg", deg)
    order = deg + 1
    if deg < 0:
        raise ValueError("expected deg >= 0")
    if x.ndim != 1:
        raise TypeError("expected 1D vector for x")
    if x.shape[0] == 0:
        raise TypeError("expected non-empty vector for x")
    if y.ndim < 1 or y.ndim > 2:
        raise TypeError("expected 1D or 2D array for y")
    if x.shape[0] != y.shape[0]:
        raise TypeError("expected x and y to have same length")
    if cov and not full and cov != "unscaled" and x.shape[0] <= order:
        raise ValueError("the number of data points must exceed order to scale the "
                         "covariance matrix")
    if cov and not full and x.shape[0] < order:
        raise ValueError("polyfit(cov=True) needs at least deg + 1 points")
    if rcond is None:
        rcond = x.shape[0] * float(dtypes.finfo(x.dtype).eps)
    options = (order, False if full else cov, bool(full), float(rcond))
    if not wl:
        return _polyfit_unweighted(x, y, *options)
    (w,) = wl
    if w.ndim != 1:
        raise TypeError("expected a 1-d array for weights")
    if w.shape[0] != y.shape[0]:
        raise TypeError("expected w and y to have the same length")
    return _polyfit_weighted(x, y, w, *options)


def _polyfit_solve(x, y, w, order: int, cov, full: bool, rcond: float):
    lhs = vander(x, order)
    rhs = y if y.ndim == 2 else y[:, None]
    if w is not None:
        lhs = lhs * w[:, None]
        rhs = rhs * w[:, None]
    # Unit columns: the powers of x differ in scale by orders of magnitude.
    scale = lax.sqrt(_red.sum(_uf.real(lhs * _uf.conj(lhs)), axis=0))
    lhs = lhs / scale
    sol, resids, rank, s = lstsq(lhs, rhs, rcond)
    coef = sol / scale[:, None]
    out = coef if y.ndim == 2 else coef[:, 0]
    if full:
        return out, resids, rank, s, asarray(rcond, s.dtype)
    if not cov:
        return out
    # (lhs^H lhs)^-1 in the unscaled variables.
    base = inv(matmul(_dec.mH(lhs), lhs)) / (scale[:, None] * scale[None, :])
    if cov == "unscaled":
        factor = asarray(1.0, base.dtype).reshape(1)
    else:
        factor = resids / (x.shape[0] - order)
    if y.ndim == 1:
        return out, base * factor[0]
    return out, base[:, :, None] * factor[None, None, :]


@compiled_when_eager(arrays=2)
def _polyfit_unweighted(x, y, order: int, cov, full: bool, rcond: float):
    return _polyfit_solve(x, y, None, order, cov, full, rcond)


_polyfit_weighted = compiled_when_eager(_polyfit_solve, arrays=3)
