"""``functorch_lite.numpy``: NumPy's API over functorch_lite arrays, written on ``lax``.

Names, broadcasting and dtype promotion follow ``jax.numpy``.

Each module imports only modules before it in this order, at its top (no late imports):
``_util``, ``_eager`` < ``_shape_core`` < ``creation`` < ``ufuncs`` < ``reductions``,
``indexing`` < ``shapes`` < ``linalg_ops`` < ``linalg``; ``einsum``, ``sorting`` and
``scalar_types`` need only ``creation``; ``setops`` imports ``sequences``, ``sorting``,
``shapes``, ``reductions``, ``ufuncs`` and ``creation``, and ``selection`` those and
``setops``; ``array_methods`` and this package come last. A
helper needed below the module that uses it most moves down (``_shape_core`` holds the
array-level cores of ``shapes``' joins, transposes and ravel for ``creation`` and
``indexing``). ``mathfuncs`` (on ``sequences``, ``linalg_solve`` and ``linalg_svd``) and
``construction`` (on ``sequences`` and ``linalg``) come after what they use and not after
each other."""
from __future__ import annotations

import numpy as _np

from functorch_lite import lax as _lax
from functorch_lite.core import dtypes as _dtypes
from functorch_lite.core.dtypes import finfo, iinfo, issubdtype, promote_types  # noqa: F401
from functorch_lite.numpy.scalar_types import *  # noqa: F401,F403
from functorch_lite.core.avals import TypedScalar as _TypedScalar
from functorch_lite.core.avals import Array as _Array
from functorch_lite.numpy import _util
from functorch_lite.numpy import array_methods as _array_methods
from functorch_lite.numpy import fft, linalg  # noqa: F401
from functorch_lite.numpy.creation import *  # noqa: F401,F403
from functorch_lite.numpy.creation import array, asarray  # noqa: F401
from functorch_lite.numpy.einsum import einsum, einsum_path  # noqa: F401
from functorch_lite.numpy.indexing import take, take_along_axis  # noqa: F401
from functorch_lite.numpy.linalg_ops import (cross, dot, inner, kron, matmul,  # noqa: F401
                                             outer, tensordot, vdot)
from functorch_lite.numpy.reductions import *  # noqa: F401,F403
from functorch_lite.numpy.statistics import *  # noqa: F401,F403
from functorch_lite.numpy.sequences import *  # noqa: F401,F403
from functorch_lite.numpy.mathfuncs import *  # noqa: F401,F403
from functorch_lite.numpy.construction import *  # noqa: F401,F403
from functorch_lite.numpy.setops import *  # noqa: F401,F403
from functorch_lite.numpy.selection import *  # noqa: F401,F403
from functorch_lite.numpy.reductions import all, any, max, min, sum  # noqa: F401
from functorch_lite.numpy.shapes import *  # noqa: F401,F403
from functorch_lite.numpy.sorting import argsort, lexsort, sort  # noqa: F401
from functorch_lite.numpy.ufuncs import *  # noqa: F401,F403
from functorch_lite.numpy.ufuncs import abs, divmod, pow, round  # noqa: F401

pi = _np.pi
e = _np.e
inf = _np.inf
nan = _np.nan
euler_gamma = _np.euler_gamma
newaxis = None
dtype = _np.dtype
ndarray = None  # set by functorch_lite to its Array type
generic, integer, floating, inexact, number = (_np.generic, _np.integer, _np.floating,
                                               _np.inexact, _np.number)
signedinteger, unsignedinteger = _np.signedinteger, _np.unsignedinteger
complexfloating = _np.complexfloating


def result_type(*args):
    """The dtype ``args`` promote to (JAX's lattice, x64 flag honored)."""
    return _dtypes.result_type(*args)


def can_cast(from_, to, casting="safe"):
    return _np.can_cast(from_, to, casting)


def shape(a):
    return _np.shape(a) if not hasattr(a, "shape") else tuple(a.shape)


def ndim(a):
    return len(shape(a))


def size(a, axis=None):
    s = shape(a)
    if axis is None:
        return int(_np.prod(s, dtype=_np.int64))
    return s[axis]


def isscalar(element):
    return _np.isscalar(element) or (hasattr(element, "shape") and shape(element) == ()
                                     and not isinstance(element, _np.ndarray))


def iscomplexobj(x):
    return _dtypes.is_complex(_dtypes.dtype_of(x))


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Whether every element of ``a`` is close to ``b`` (see ``isclose``); a bool scalar."""
    return all(isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan))


def isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Elementwise ``a == b`` or ``|a - b| <= atol + rtol * |b|`` with ``b`` finite (so
    infinities are close only to themselves); NaNs are close to each other only when
    ``equal_nan``. ``isclose([1.0, inf], [1.0 + 1e-6, -inf])`` is ``[True, False]``."""
    a, b = _util.promote_args("isclose", a, b)
    a, b = _util.promote_args_inexact("isclose", a, b)
    dt = _dtypes.dtype_of(a)
    if _dtypes.is_complex(dt):
        dt = _np.dtype(_np.float32) if dt == complex64 else _np.dtype(_np.float64)
    rtol, atol = (_TypedScalar(t, dt, False) if type(t) in (int, float) else
                  _lax.convert_element_type(t, dt) for t in (rtol, atol))
    in_range = _lax.le(absolute(subtract(a, b)), add(atol, multiply(rtol, absolute(b))))
    out = logical_or(equal(a, b), logical_and(isfinite(b), in_range))
    if equal_nan:
        out = logical_or(out, logical_and(isnan(a), isnan(b)))
    return out


def array_equal(a1, a2, equal_nan=False):
    """Whether ``a1`` and ``a2`` have the same shape and elements (a bool scalar)."""
    a1, a2 = asarray(a1), asarray(a2)
    if shape(a1) != shape(a2):
        return asarray(False)
    eq = equal(a1, a2)
    if equal_nan:
        eq = logical_or(eq, logical_and(isnan(a1), isnan(a2)))
    return all(eq)


_array_methods.attach(_Array)  # device arrays and tracers alike
