"""Element types (dtypes) and the type-promotion rules of functorch_lite.

The library follows JAX's conventions:

* Arrays only hold booleans, integers, floats (including bfloat16) and complex
  numbers.  ``float0`` is an extra zero-sized dtype used for the tangents of
  integer/bool values.
* While the ``enable_x64`` flag is off (the default), 64-bit types are
  "canonicalized" to their 32-bit counterparts.  The flag is read each time a
  function is called.
* Python scalars (``int``, ``float``, ``complex``, but not ``bool``) are *weakly
  typed*: they adapt to the dtype of the arrays they are combined with instead
  of forcing a wider type (``uint8_array + 1`` stays ``uint8``).
* Binary promotion is the least upper bound on a small lattice of types; see
  :func:`result_type`.
"""
from __future__ import annotations

import functools
import sys
import warnings
from typing import Any

import ml_dtypes
import numpy as np

from functorch_lite.core.config import config

__all__ = [
    "bfloat16", "float0", "bool_", "int8", "int16", "int32", "int64",
    "uint8", "uint16", "uint32", "uint64", "float16", "float32", "float64",
    "complex64", "complex128", "SUPPORTED_DTYPES", "TypePromotionError",
    "canonicalize_dtype", "is_weakly_typed", "dtype_of", "python_scalar_dtype",
    "result_type", "lattice_result_type", "promote_types", "issubdtype",
    "is_float", "is_int", "is_unsigned", "is_complex", "is_inexact", "is_bool",
    "finfo", "iinfo", "default_float_dtype", "default_int_dtype",
    "default_uint_dtype", "default_complex_dtype", "float_dtype_for",
    "to_numpy_dtype_name", "check_user_dtype",
]

# ---------------------------------------------------------------------------
# Scalar types and dtypes
# ---------------------------------------------------------------------------

bfloat16 = ml_dtypes.bfloat16
bool_ = np.bool_
int8, int16, int32, int64 = np.int8, np.int16, np.int32, np.int64
uint8, uint16, uint32, uint64 = np.uint8, np.uint16, np.uint32, np.uint64
float16, float32, float64 = np.float16, np.float32, np.float64
complex64, complex128 = np.complex64, np.complex128

# Tangent dtype of int/bool primals: a structured dtype with no storage.
float0 = np.dtype([("float0", np.void, 0)])

_BOOL = np.dtype(bool_)
_BF16 = np.dtype(bfloat16)

SUPPORTED_DTYPES: tuple[np.dtype, ...] = tuple(np.dtype(t) for t in (
    bool_, int8, int16, int32, int64, uint8, uint16, uint32, uint64,
    bfloat16, float16, float32, float64, complex64, complex128))

# Dtypes a value may carry: the numeric ones plus float0.
_VALID_DTYPES = frozenset(SUPPORTED_DTYPES) | {float0}

# x64 off: each 64-bit dtype is replaced by its 32-bit sibling.
_TO_32BIT = {
    np.dtype(int64): np.dtype(int32),
    np.dtype(uint64): np.dtype(uint32),
    np.dtype(float64): np.dtype(float32),
    np.dtype(complex128): np.dtype(complex64),
}

# The dtypes a 64-bit request can be truncated to.
_FROM_64BIT = frozenset(_TO_32BIT.values())

# The non-canonical dtype a Python scalar type stands for.
_PYTHON_SCALAR_DTYPES = {
    bool: _BOOL,
    int: np.dtype(int64),
    float: np.dtype(float64),
    complex: np.dtype(complex128),
}

# Python scalar types that are weakly typed (``bool`` is not).
_WEAK_PYTHON_TYPES = (int, float, complex)


class TypePromotionError(ValueError):
    """Raised when a set of dtypes has no common promoted type."""


# ---------------------------------------------------------------------------
# Defaults and canonicalization
# ---------------------------------------------------------------------------

def _x64() -> bool:
    return bool(config.enable_x64)


def default_int_dtype() -> np.dtype:
    return np.dtype(int64 if _x64() else int32)


def default_uint_dtype() -> np.dtype:
    return np.dtype(uint64 if _x64() else uint32)


def default_float_dtype() -> np.dtype:
    return np.dtype(float64 if _x64() else float32)


def default_complex_dtype() -> np.dtype:
    return np.dtype(complex128 if _x64() else complex64)


def _default_for_kind(dt: np.dtype) -> np.dtype:
    """The default dtype of the same kind as ``dt`` (bool stays bool)."""
    if dt == _BOOL:
        return _BOOL
    if dt == _BF16 or dt.kind == "f":
        return default_float_dtype()
    if dt.kind == "i":
        return default_int_dtype()
    if dt.kind == "u":
        return default_uint_dtype()
    if dt.kind == "c":
        return default_complex_dtype()
    raise TypeError(f"no default dtype for {dt}")


def _invalid_dtype(x: Any) -> TypeError:
    return TypeError(f"dtype {x!r} is not a valid functorch_lite array type")


def _is_scalar_type(x: Any) -> bool:
    """Whether ``x`` is a class standing for a dtype through its ``dtype`` attribute, as
    ``functorch_lite.numpy.float32`` (and ``jax.numpy.float32``) do."""
    return isinstance(x, type) and isinstance(getattr(x, "dtype", None), np.dtype)


def _to_np_dtype(x: Any) -> np.dtype:
    """``np.dtype(x)`` that only admits the dtypes this library supports."""
    if isinstance(x, type) and x in _PYTHON_SCALAR_DTYPES:
        dt = _PYTHON_SCALAR_DTYPES[x]
    else:
        try:
            dt = np.dtype(x)
        except Exception as e:  # np.dtype raises TypeError or ValueError
            raise _invalid_dtype(x) from e
    if dt not in _VALID_DTYPES:
        raise _invalid_dtype(x)
    return dt


_canonical_cache: dict[tuple[type, Any, bool], np.dtype] = {}


def canonicalize_dtype(dtype: Any) -> np.dtype:
    """Turn a dtype specifier into the ``np.dtype`` arrays of it actually use.

    Accepts whatever ``np.dtype`` accepts (strings such as ``'bfloat16'``, numpy
    scalar types, dtypes) plus the Python types ``bool``/``int``/``float``/
    ``complex`` (taken as bool/int64/float64/complex128).  With ``enable_x64``
    off, 64-bit types become 32-bit ones.
    """
    x64 = _x64()
    try:
        key = (type(dtype), dtype, x64)
        hit = _canonical_cache.get(key)
    except TypeError:  # unhashable specifier: skip the cache
        key, hit = None, None
    if hit is not None:
        return hit
    dt = _to_np_dtype(dtype)
    if not x64:
        dt = _TO_32BIT.get(dt, dt)
    if key is not None:
        _canonical_cache[key] = dt
    return dt


def _user_stacklevel() -> int:
    """The ``stacklevel`` that makes a warning point at the first caller outside this
    library (however deep inside it the dtype was checked)."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_globals.get("__name__", "").startswith(
            "functorch_lite"):
        frame, level = frame.f_back, level + 1
    return level


def check_user_dtype(dtype: Any, fun_name: str | None = None) -> np.dtype:
    """``canonicalize_dtype`` for a dtype the user asked for explicitly (``dtype=`` of
    ``zeros``, ``array``, ``astype``...): a 64-bit dtype requested while ``enable_x64`` is
    off warns that it is truncated, as JAX does (UserWarning; Python's warning filter shows
    it once per calling line). The Python types ``int``/``float``/``complex`` mean "the
    default" and never warn."""
    dt = canonicalize_dtype(dtype)
    if (_x64() or dt not in _FROM_64BIT
            or (isinstance(dtype, type) and dtype in _PYTHON_SCALAR_DTYPES)):
        return dt
    requested = _to_np_dtype(dtype)
    if requested != dt:
        where = f" requested in {fun_name}" if fun_name else ""
        warnings.warn(
            f"Explicitly requested dtype {requested}{where} is not available, and will be "
            f"truncated to dtype {dt}. To enable more dtypes, set the jax_enable_x64 "
            "configuration option (functorch_lite.config.update('jax_enable_x64', True)) "
            "or the JAX_ENABLE_X64 shell environment variable.",
            UserWarning, stacklevel=_user_stacklevel())
    return dt


# ---------------------------------------------------------------------------
# Dtype and weak type of a value
# ---------------------------------------------------------------------------

def is_weakly_typed(x: Any) -> bool:
    """Whether ``x`` is weakly typed.

    True for Python ``int``/``float``/``complex`` values (not ``bool``, and not
    numpy scalars even though ``np.float64`` subclasses ``float``), and for
    objects whose ``weak_type`` attribute (or ``aval.weak_type``) is True.
    """
    if type(x) in _WEAK_PYTHON_TYPES:
        return True
    if isinstance(x, type):
        return False
    weak = getattr(x, "weak_type", None)
    if weak is None:
        aval = getattr(x, "aval", None)
        weak = getattr(aval, "weak_type", None) if aval is not None else None
    return bool(weak)


def python_scalar_dtype(x: Any) -> np.dtype:
    """Canonical dtype of a Python scalar value or Python scalar type."""
    typ = x if isinstance(x, type) else type(x)
    if typ not in _PYTHON_SCALAR_DTYPES:
        raise TypeError(f"expected a Python scalar (bool, int, float, complex), "
                        f"got {typ.__name__}")
    return canonicalize_dtype(_PYTHON_SCALAR_DTYPES[typ])


def dtype_of(x: Any, canonicalize: bool = True) -> np.dtype:
    """The dtype an array made from ``x`` would have.

    * Python scalars: bool -> bool, int -> int32/int64, float -> float32/float64,
      complex -> complex64/complex128 (depending on ``enable_x64``).
    * numpy arrays and scalars: their dtype, canonicalized.
    * other objects with a ``.dtype`` (library arrays, tracers, avals): that
      dtype as is, after checking that it is supported.
    * dtype specifiers that are not strings (``np.dtype`` objects, Python and
      numpy scalar types) are also accepted, as by ``canonicalize_dtype``.

    ``canonicalize=False`` skips the 64->32-bit step.
    """
    typ = type(x)
    if typ in _PYTHON_SCALAR_DTYPES:
        dt = _PYTHON_SCALAR_DTYPES[typ]
        return canonicalize_dtype(dt) if canonicalize else dt
    if isinstance(x, (np.ndarray, np.generic, np.dtype, type)):
        if isinstance(x, type) and not (x in _PYTHON_SCALAR_DTYPES
                                        or issubclass(x, np.generic) or _is_scalar_type(x)):
            raise TypeError(f"expected an array or scalar, got type {x.__name__}")
        dt = _to_np_dtype(x if isinstance(x, (np.dtype, type)) else x.dtype)
        return canonicalize_dtype(dt) if canonicalize else dt
    if isinstance(x, (str, bytes)) or not hasattr(x, "dtype"):
        raise TypeError(f"expected an array or scalar, got {typ.__name__}")
    dt = x.dtype
    if not (isinstance(dt, np.dtype) and dt in _VALID_DTYPES):
        raise TypeError(f"value of type {typ.__name__} has dtype {dt!r}, which "
                        "is not a valid functorch_lite array type")
    return dt


# ---------------------------------------------------------------------------
# The promotion lattice
# ---------------------------------------------------------------------------
#
# Nodes are strings: a dtype name for each concrete (strongly typed) dtype,
# plus "int*", "float*", "complex*" for the weakly typed categories a Python
# scalar belongs to.  An edge a -> b means "a promotes to b".  Weak bool does
# not exist: bool is always strong.
#
#   bool -> int* -> {uint8, int8}
#   uint8 -> {uint16, int16}    uint16 -> {uint32, int32}
#   uint32 -> {uint64, int64}   (x64 on) or {uint64, int32} (x64 off)
#   int8 -> int16 -> int32 -> int64
#   uint64, int64 -> float* -> {bfloat16, float16, complex*}
#   bfloat16, float16 -> float32 -> {float64, complex64}
#   float64 -> complex128;  complex* -> complex64 -> complex128
#
# With x64 off the only change is uint32 x int32 -> int32 rather than int64,
# so that two 32-bit inputs never produce a 64-bit result.
#
# With ``numpy_dtype_promotion='strict'`` (JAX's option) strong dtypes promote to
# nothing but themselves: only a weak scalar joins an array, of its own kind or a
# higher one (int* -> any integer, float* and up; float* -> any float, complex*;
# complex* -> any complex). Everything else is a TypePromotionError.

_WEAK_INT, _WEAK_FLOAT, _WEAK_COMPLEX = "int*", "float*", "complex*"
_WEAK_NODES = (_WEAK_INT, _WEAK_FLOAT, _WEAK_COMPLEX)
# The (non-canonical) dtype each weak node turns into.
_WEAK_NODE_DTYPE = {
    _WEAK_INT: np.dtype(int64),
    _WEAK_FLOAT: np.dtype(float64),
    _WEAK_COMPLEX: np.dtype(complex128),
}


def _lattice_edges(x64: bool) -> dict[str, tuple[str, ...]]:
    edges = {
        "bool": (_WEAK_INT,),
        _WEAK_INT: ("uint8", "int8"),
        "uint8": ("uint16", "int16"),
        "uint16": ("uint32", "int32"),
        "uint32": ("uint64", "int64" if x64 else "int32"),
        "uint64": (_WEAK_FLOAT,),
        "int8": ("int16",),
        "int16": ("int32",),
        "int32": ("int64",),
        "int64": (_WEAK_FLOAT,),
        _WEAK_FLOAT: ("bfloat16", "float16", _WEAK_COMPLEX),
        "bfloat16": ("float32",),
        "float16": ("float32",),
        "float32": ("float64", "complex64"),
        "float64": ("complex128",),
        _WEAK_COMPLEX: ("complex64",),
        "complex64": ("complex128",),
        "complex128": (),
    }
    assert set(edges) == {d.name for d in SUPPORTED_DTYPES} | set(_WEAK_NODES)
    return edges


def _strict_lattice_edges() -> dict[str, tuple[str, ...]]:
    names = {kind: tuple(d.name for d in SUPPORTED_DTYPES if d.kind in kinds
                         or (d == _BF16 and "f" in kinds)) for kind, kinds in
             (("int", "iu"), ("float", "f"), ("complex", "c"))}
    edges: dict[str, tuple[str, ...]] = {d.name: () for d in SUPPORTED_DTYPES}
    edges[_WEAK_INT] = (_WEAK_FLOAT,) + names["int"]
    edges[_WEAK_FLOAT] = (_WEAK_COMPLEX,) + names["float"]
    edges[_WEAK_COMPLEX] = names["complex"]
    return edges


def _upper_bound_sets(edges: dict[str, tuple[str, ...]]) -> dict[str, frozenset[str]]:
    """For every node, the set of nodes reachable from it (itself included)."""
    ubs: dict[str, frozenset[str]] = {}

    def visit(node: str, path: tuple[str, ...]) -> frozenset[str]:
        if node in path:
            raise ValueError(f"cycle in the promotion lattice through {node}")
        if node not in ubs:
            reach = {node}
            for succ in edges[node]:
                reach |= visit(succ, path + (node,))
            ubs[node] = frozenset(reach)
        return ubs[node]

    for node in edges:
        visit(node, ())
    return ubs


# (promotion mode, x64) -> each node's upper bounds. The cached functions below take
# that pair as their lattice key, since their results depend on both flags.
_UPPER_BOUNDS = {("standard", x64): _upper_bound_sets(_lattice_edges(x64))
                 for x64 in (False, True)}
_UPPER_BOUNDS.update({("strict", x64): _upper_bound_sets(_strict_lattice_edges())
                      for x64 in (False, True)})


def _lattice() -> tuple[str, bool]:
    return config.numpy_dtype_promotion, _x64()


@functools.lru_cache(maxsize=1024)
def _least_upper_bound(lattice: tuple[str, bool], nodes: frozenset[str]) -> str:
    """The least upper bound of ``nodes``: the common upper bound that every
    other common upper bound lies above."""
    ubs = _UPPER_BOUNDS[lattice]
    unknown = [n for n in nodes if n not in ubs]
    if unknown:
        raise TypePromotionError(
            f"dtype {unknown[0]} does not take part in type promotion")
    common = frozenset.intersection(*(ubs[n] for n in nodes))
    least = [c for c in common if common <= ubs[c]]
    if len(least) != 1:
        if lattice[0] == "strict":
            raise TypePromotionError(
                f"no implicit promotion between {', '.join(sorted(nodes))} with "
                f"numpy_dtype_promotion='strict': cast the inputs to the dtype you want "
                f"(x.astype(...)), or set jax_numpy_dtype_promotion='standard'")
        raise TypePromotionError(
            f"no unique promoted type for {sorted(nodes)}; candidates {sorted(least)}")
    return least[0]


def _node(dt: np.dtype, weak: bool) -> str:
    """Lattice node of a dtype, taking its weak-type flag into account."""
    if not weak or dt == _BOOL:
        return dt.name
    if dt == _BF16 or dt.kind == "f":
        return _WEAK_FLOAT
    if dt.kind in "iu":
        return _WEAK_INT
    if dt.kind == "c":
        return _WEAK_COMPLEX
    return dt.name


def _node_dtype(node: str) -> np.dtype:
    if node in _WEAK_NODE_DTYPE:
        return _WEAK_NODE_DTYPE[node]
    return np.dtype(node)


def _dtype_and_weak(arg: Any) -> tuple[np.dtype, bool]:
    """(canonical dtype, weak flag) of one ``result_type`` argument."""
    if arg is None:
        return default_float_dtype(), False
    if isinstance(arg, type):
        if arg in _WEAK_PYTHON_TYPES:
            return canonicalize_dtype(arg), True
        return canonicalize_dtype(arg), False
    if isinstance(arg, (np.dtype, str)):
        return canonicalize_dtype(arg), False
    dt = canonicalize_dtype(dtype_of(arg))
    return dt, dt != _BOOL and is_weakly_typed(arg)


def lattice_result_type(*args: Any) -> tuple[np.dtype, bool]:
    """Promote ``args`` on the lattice: ``(dtype, weak_type)``.

    This is the dtype an elementwise operation computes in.  Unlike
    :func:`result_type` a weak result keeps its width (a weak bfloat16 array
    plus ``1`` is a weak bfloat16, not a float32).  Argument kinds are as for
    :func:`result_type`.
    """
    if not args:
        raise ValueError("at least one array or dtype is required")
    return join_pairs(tuple(_dtype_and_weak(a) for a in args))


@functools.lru_cache(maxsize=4096)
def _join_pairs(pairs: tuple, lattice: tuple[str, bool]) -> tuple[np.dtype, bool]:
    dts = [d for d, _ in pairs]
    weaks = [w for _, w in pairs]
    if len(pairs) == 1:
        dt, weak = pairs[0]
    elif all(d == dts[0] for d in dts) and not all(weaks):
        # Same dtype everywhere: nothing to promote (lets float0 through too).
        dt, weak = dts[0], False
    elif all(weaks) and lattice[0] != "strict":
        # Only weak inputs: promote their concrete dtypes, stay weak.
        top = _least_upper_bound(lattice, frozenset(d.name for d in dts))
        dt, weak = canonicalize_dtype(_node_dtype(top)), True
    else:
        top = _least_upper_bound(lattice, frozenset(_node(d, w) for d, w in pairs))
        dt, weak = canonicalize_dtype(_node_dtype(top)), top in _WEAK_NODES
    return dt, weak and dt != _BOOL


def join_pairs(pairs: tuple) -> tuple[np.dtype, bool]:
    """``lattice_result_type`` for already-known ``(canonical dtype, weak)`` pairs (cached:
    this runs on every elementwise operation)."""
    return _join_pairs(pairs, _lattice())


def result_type(*args: Any, return_weak_type_flag: bool = False):
    """The dtype JAX-style promotion gives ``args`` (like ``jnp.result_type``).

    Each argument may be a dtype specifier (``np.dtype``, string, numpy scalar
    type; strongly typed), a Python scalar type ``int``/``float``/``complex``
    (weak) or ``bool`` (strong), a Python scalar value (weak, except bools), a
    numpy array or scalar (strong), any object with a ``.dtype`` (weak when its
    ``weak_type`` / ``aval.weak_type`` is True), or ``None`` (the default float
    dtype).

    Promotion is the least upper bound on the type lattice described above.
    The result is weakly typed when every input is weak, or when the bound
    lands on one of the weak categories (``int32_array + 2.5`` is a weak
    float).  A weak result is reported with the default dtype of its kind
    (a weak int16 alone gives int32).  The dtype is canonicalized for the
    current ``enable_x64`` setting.  ``return_weak_type_flag=True`` returns
    ``(dtype, weak_type)``.
    """
    dt, weak = lattice_result_type(*args)
    if weak:
        dt = _default_for_kind(dt)
    return (dt, weak) if return_weak_type_flag else dt


def promote_types(a: Any, b: Any) -> np.dtype:
    """Promote two dtype specifiers, like ``jnp.promote_types``.

    The Python types ``int``/``float``/``complex`` count as weak.  Inputs are not
    canonicalized and neither is the result (with x64 off, int64 with uint64
    gives float64), but the lattice used depends on ``enable_x64``.
    """
    def node(t: Any) -> str:
        if isinstance(t, type) and t in _WEAK_PYTHON_TYPES:
            return _node(_PYTHON_SCALAR_DTYPES[t], True)
        return _to_np_dtype(t).name

    return _node_dtype(_least_upper_bound(_lattice(), frozenset((node(a), node(b)))))


# ---------------------------------------------------------------------------
# Dtype categories
# ---------------------------------------------------------------------------

def issubdtype(dtype: Any, category: Any) -> bool:
    """``np.issubdtype`` that also knows bfloat16 is a floating type."""
    if dtype is None:
        return False
    if _is_scalar_type(dtype):
        dtype = dtype.dtype
    if _is_scalar_type(category):
        category = category.dtype.type
    try:
        sctype = dtype if (isinstance(dtype, type) and issubclass(dtype, np.generic)) \
            else np.dtype(dtype).type
    except TypeError:
        return False
    if sctype is bfloat16:
        if isinstance(category, type) and issubclass(category, np.generic):
            return category in (bfloat16, np.floating, np.inexact, np.number, np.generic)
        return np.dtype(category) == _BF16
    if category is bfloat16:
        return False
    return bool(np.issubdtype(sctype, category))


def _as_dtype(dtype: Any) -> np.dtype:
    return dtype if isinstance(dtype, np.dtype) else _to_np_dtype(dtype)


def is_bool(dtype: Any) -> bool:
    return _as_dtype(dtype) == _BOOL


def is_int(dtype: Any) -> bool:
    """Signed or unsigned integer (bool excluded)."""
    return _as_dtype(dtype).kind in "iu"


def is_unsigned(dtype: Any) -> bool:
    return _as_dtype(dtype).kind == "u"


def is_float(dtype: Any) -> bool:
    """Real floating point, bfloat16 included."""
    dt = _as_dtype(dtype)
    return dt == _BF16 or dt.kind == "f"


def is_complex(dtype: Any) -> bool:
    return _as_dtype(dtype).kind == "c"


def is_inexact(dtype: Any) -> bool:
    return is_float(dtype) or is_complex(dtype)


def finfo(dtype: Any):
    """Floating-point limits (``ml_dtypes.finfo`` understands bfloat16 too)."""
    return ml_dtypes.finfo(_as_dtype(dtype))


def iinfo(dtype: Any):
    return np.iinfo(_as_dtype(dtype))


# ---------------------------------------------------------------------------
# Helpers for operations and printing
# ---------------------------------------------------------------------------

# What an int/bool becomes in a computation that needs an inexact type (exp,
# mean, ...).  Everything up to 32 bits goes to float32, 64-bit ints to
# float64 (float32 again once canonicalized with x64 off).
_TO_INEXACT = {
    np.dtype(t): np.dtype(float32)
    for t in (bool_, int8, int16, int32, uint8, uint16, uint32)
}
_TO_INEXACT[np.dtype(int64)] = np.dtype(float64)
_TO_INEXACT[np.dtype(uint64)] = np.dtype(float64)


def float_dtype_for(dtype: Any) -> np.dtype:
    """The inexact dtype a bool/int input is promoted to by float-only ops.

    Inexact dtypes are returned (canonicalized) unchanged.
    """
    dt = canonicalize_dtype(dtype)
    return canonicalize_dtype(_TO_INEXACT.get(dt, dt))


_SHORT_NAMES = {
    "bool": "bool", "int8": "i8", "int16": "i16", "int32": "i32", "int64": "i64",
    "uint8": "u8", "uint16": "u16", "uint32": "u32", "uint64": "u64",
    "bfloat16": "bf16", "float16": "f16", "float32": "f32", "float64": "f64",
    "complex64": "c64", "complex128": "c128",
}


def to_numpy_dtype_name(dtype: Any) -> str:
    """Short dtype name for IR printing: ``'f32'``, ``'bf16'``, ``'u8'``, ..."""
    dt = _as_dtype(dtype)
    if dt == float0:
        return "float0"
    return _SHORT_NAMES[dt.name]
