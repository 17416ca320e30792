"""Array creation: array/asarray, zeros/ones/full (and *_like), arange, linspace, eye,
identity, tri/tril/triu."""
from __future__ import annotations

from typing import Any

import numpy as np

from functorch_lite import lax
from functorch_lite.core import dtypes
from functorch_lite.core.avals import Array, TypedScalar, get_aval
from functorch_lite.core.trace import is_traced
from functorch_lite.lax._common import PY_SCALARS, canonical_shape
from functorch_lite.lax.elementwise import convert_element_type_p
from functorch_lite.numpy._shape_core import moveaxis_array, stack_arrays
from functorch_lite.numpy._util import broadcast_to_shape, canonicalize_dtype_arg, shape_of


def _is_device_array(x: Any) -> bool:
    """An array holding data (not a tracer): its value can be read on the host."""
    return isinstance(x, Array) and not is_traced(x)


def _contains_tracer(obj: Any) -> bool:
    if is_traced(obj):
        return True
    if isinstance(obj, (list, tuple)):
        return any(_contains_tracer(o) for o in obj)
    return False


def _contains_none(obj: Any) -> bool:
    if obj is None:
        return True
    return isinstance(obj, (list, tuple)) and any(_contains_none(o) for o in obj)


def _none_error() -> ValueError:
    return ValueError("array: None is not a valid array element (use nan, or a mask, for "
                      "missing values)")


def _from_host(value: np.ndarray, weak_type: bool = False):
    if weak_type:
        return lax.device_put(TypedScalar(value, value.dtype, True))
    return lax.device_put(value)


def _device_copy(x: Any) -> Any:
    """A new device buffer holding ``x``'s value, so that donating or deleting ``x`` leaves
    the copy intact (JAX's ``array(x)`` and ``x.copy()`` copy too). A same-type convert is
    an identity XLA cannot alias to its (not donated) input. Tracers need no copy: values
    inside a transformation are never donated individually."""
    aval = get_aval(x)
    if is_traced(x) or aval.dtype == dtypes.float0:
        return x
    return convert_element_type_p.bind(x, new_dtype=aval.dtype, weak_type=aval.weak_type)


def _host_value(object: Any, dtype: np.dtype | None) -> np.ndarray:
    """``object`` (a NumPy value or nested lists of numbers/arrays) as a NumPy array of
    ``dtype`` (or its own canonical dtype). With a dtype, NumPy converts the elements
    directly, as JAX does (``array(['1.5'], dtype=float32)`` parses the string)."""
    has_arrays = isinstance(object, (list, tuple)) and any(map(_is_device_array, object))
    if has_arrays:
        object = [np.asarray(o) if _is_device_array(o) else o for o in object]
    try:
        direct = dtype is not None and not isinstance(object, np.ndarray)
        host = np.asarray(object, dtype) if direct else np.asarray(object)
    except ValueError as e:  # ragged nested lists, unparsable strings: as NumPy and JAX
        ragged = "inhomogeneous" in str(e)
        hint = (" (nested lists must be rectangular, with every row the same length; pad "
                "the short rows or build the array with stack or concatenate)"
                if ragged else "")
        # JAX stacks a list of arrays with a concatenate, whose shape error is a TypeError
        err = TypeError if ragged and has_arrays else ValueError
        raise err(f"array: cannot convert {type(object).__name__} to an array: "
                  f"{e}{hint}") from None
    except OverflowError:  # an int that does not fit the requested dtype, as in JAX
        raise
    except Exception as e:
        raise TypeError(f"array: cannot convert {type(object).__name__} to an array: "
                        f"{e}") from None
    if direct:
        # NumPy turns None into nan here; JAX rejects it (looked for only when nan shows)
        if host.dtype.kind in "fc" and np.isnan(host).any() and _contains_none(object):
            raise _none_error()
        return host
    if host.dtype == object_dtype and _contains_none(object):
        raise _none_error()
    if host.dtype == object_dtype or host.dtype.kind in "USMmO" or (
            host.dtype.kind == "V" and host.dtype not in dtypes.SUPPORTED_DTYPES):
        raise TypeError(f"array: unsupported input of dtype {host.dtype} (strings, "
                        "objects and dates are not array data)")
    return host.astype(dtype or dtypes.canonicalize_dtype(host.dtype), copy=False)


def array(object: Any, dtype: Any = None, copy: bool = True, order: Any = "K",
          ndmin: int = 0):
    """Create an array from an array, NumPy array, scalar, or (nested) list/tuple of those.

    As ``jnp.array``: only a weakly typed input without ``dtype`` gives a weakly typed
    result (an explicit ``dtype`` makes it strong), ``copy=True`` (the default) gives an
    array with its own buffer, and a 64-bit ``dtype`` with x64 off warns and is truncated.

    >>> fnp.array([[1, 2], [3, 4]], dtype=fnp.float32).shape
    (2, 2)
    """
    if order is not None and order != "K":
        raise NotImplementedError(f"array: only order='K' is supported, got {order!r}")
    dtype = canonicalize_dtype_arg(dtype, "array")
    if isinstance(object, Array):
        out = _device_copy(object) if copy else object
        if dtype is not None:  # an explicit dtype drops the weak type (as JAX's does)
            out = lax.convert_element_type(out, dtype)
    elif isinstance(object, (list, tuple)) and _contains_tracer(object):
        out = stack_arrays([array(o, dtype, copy=False) for o in object])
    elif type(object) in PY_SCALARS:
        aval_dtype = dtype or dtypes.dtype_of(object)
        out = _from_host(np.asarray(object, aval_dtype), weak_type=dtype is None
                         and type(object) is not bool)
    else:
        out = _from_host(_host_value(object, dtype))
    if ndmin and get_aval(out).ndim < ndmin:
        out = lax.reshape(out, (1,) * (ndmin - get_aval(out).ndim) + get_aval(out).shape)
    return out


object_dtype = np.dtype(object)


def asarray(a: Any, dtype: Any = None, order: Any = None, *, copy: Any = None):
    """Like ``array``, but returns its input unchanged when it already is an array of the
    requested dtype (``copy=True`` copies anyway, as ``jnp.asarray``)."""
    return array(a, dtype=canonicalize_dtype_arg(dtype, "asarray"), copy=bool(copy),
                 order=order)


def zeros(shape: Any, dtype: Any = None):
    """An array of zeros (float32 by default, never weakly typed)."""
    return lax.full(canonical_shape("zeros", shape), 0,
                    canonicalize_dtype_arg(dtype, "zeros") or dtypes.default_float_dtype())


def ones(shape: Any, dtype: Any = None):
    """An array of ones (float32 by default, never weakly typed)."""
    return lax.full(canonical_shape("ones", shape), 1,
                    canonicalize_dtype_arg(dtype, "ones") or dtypes.default_float_dtype())


def empty(shape: Any, dtype: Any = None):
    """Like ``zeros`` (XLA arrays are always initialized)."""
    return zeros(shape, canonicalize_dtype_arg(dtype, "empty"))


def full(shape: Any, fill_value: Any, dtype: Any = None):
    """An array of ``shape`` filled with ``fill_value`` (which may be an array that
    broadcasts to ``shape``). Weakly typed when ``dtype`` is None and ``fill_value`` is a
    Python scalar (or a weak array), as ``jnp.full``."""
    shape = canonical_shape("full", shape)
    dtype = canonicalize_dtype_arg(dtype, "full")
    if type(fill_value) not in PY_SCALARS and np.ndim(_host_or_self(fill_value)) != 0:
        return broadcast_to_shape(asarray(fill_value, dtype), shape, "broadcast_to")
    return lax.full(shape, _scalar_operand(fill_value), dtype)


def _host_or_self(x: Any) -> Any:
    # np.ndim works on anything with a shape; lists/tuples count by nesting.
    return x if hasattr(x, "shape") else np.asarray(x)


def _scalar_operand(x: Any) -> Any:
    if isinstance(x, (list, tuple)):
        return np.asarray(x)
    return x


def _like_operand(a: Any) -> Any:
    if isinstance(a, (list, tuple)):
        return asarray(a)
    return a


def zeros_like(a: Any, dtype: Any = None, shape: Any = None):
    """Zeros with ``a``'s shape and dtype (weakly typed when ``a`` is)."""
    return lax.full_like(_like_operand(a), 0, canonicalize_dtype_arg(dtype, "zeros_like"),
                         shape)


def ones_like(a: Any, dtype: Any = None, shape: Any = None):
    """Ones with ``a``'s shape and dtype (weakly typed when ``a`` is)."""
    return lax.full_like(_like_operand(a), 1, canonicalize_dtype_arg(dtype, "ones_like"),
                         shape)


def empty_like(a: Any, dtype: Any = None, shape: Any = None):
    return zeros_like(a, canonicalize_dtype_arg(dtype, "empty_like"), shape)


def full_like(a: Any, fill_value: Any, dtype: Any = None, shape: Any = None):
    """``fill_value`` (a scalar, or an array broadcast to the shape) with ``a``'s shape and
    dtype unless ``shape``/``dtype`` are given."""
    a = _like_operand(a)
    dtype = canonicalize_dtype_arg(dtype, "full_like")
    if type(fill_value) not in PY_SCALARS and np.ndim(_host_or_self(fill_value)) != 0:
        out_shape = shape_of(a) if shape is None else canonical_shape("full_like", shape)
        out_dtype = dtypes.result_type(a) if dtype is None else dtype
        return broadcast_to_shape(asarray(fill_value, out_dtype), out_shape, "broadcast_to")
    return lax.full_like(a, _scalar_operand(fill_value), dtype, shape)


def _static_number(name: str, x: Any):
    if is_traced(x):
        raise TypeError(f"{name}: this argument must be a concrete number because it "
                        "determines the output shape; it is traced here (pass it as a "
                        "static argument)")
    return x.item() if hasattr(x, "item") and np.ndim(x) == 0 else x


def arange(start: Any, stop: Any = None, step: Any = None, dtype: Any = None):
    """Evenly spaced values in [start, stop) (start/stop/step must be concrete scalars).

    Computed on the device as ``start + step * iota`` in ``dtype`` (float32 for 16-bit
    floats), so unsigned dtypes wrap like ``jnp.arange``:

    >>> arange(1, 7, 2).tolist()
    [1, 3, 5]
    """
    names = ("stop" if stop is None and step is None else "start", "stop", "step")
    vals = [_static_number("arange", v) if v is not None else None
            for v in (start, stop, step)]
    for name, v in zip(names, vals):
        if v is not None and np.ndim(v) != 0:
            raise ValueError(f"arange: arguments must be scalars; got {name}={v!r}")
        if v is not None and np.iscomplexobj(v):
            raise ValueError("arange: complex start/stop/step are not supported")
    start, stop, step = vals
    explicit = dtype
    if dtype is None:
        dtype = dtypes.result_type(start, *[v for v in (stop, step) if v is not None])
    dtype = dtypes.canonicalize_dtype(dtype) if explicit is None else \
        dtypes.check_user_dtype(explicit, "arange")
    if stop is None:
        start, stop = 0, start
    if step is not None:
        if step == 0:
            raise ValueError("arange: step must be nonzero")
        work = np.dtype(np.float32) if dtypes.is_float(dtype) and dtype.itemsize < 4 else dtype
        n = max(0, int(np.ceil((stop - start) / step)))
        out = lax.iota(work, n)
        if step != 1:
            out = lax.mul(out, _host_cast(step, work))
        if start != 0:
            out = lax.add(out, _host_cast(start, work))
        return lax.convert_element_type(out, dtype) if work != dtype else out
    if start == 0:
        return lax.iota(dtype, max(0, int(np.ceil(stop))))
    out = lax.iota(dtype, max(0, int(np.ceil(stop - start))))
    return lax.add(out, _host_cast(start, dtype))




def _host_cast(value: Any, dtype: np.dtype) -> TypedScalar:
    """A concrete number converted to ``dtype`` the way a device convert would (ints wrap,
    floats truncate toward zero), as a strongly typed scalar operand."""
    with np.errstate(all="ignore"):
        return TypedScalar(np.asarray(value).astype(dtype), dtype, False)


def linspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True,
             retstep: bool = False, dtype: Any = None, axis: int = 0):
    """``num`` evenly spaced samples over [start, stop] (``stop`` excluded when
    ``endpoint=False``). ``start``/``stop`` may be arrays; samples run along ``axis``."""
    num = int(_static_number("linspace", num))
    if num < 0:
        raise ValueError(f"linspace: number of samples, {num}, must be non-negative")
    dtype = canonicalize_dtype_arg(dtype, "linspace")
    comp = dtypes.float_dtype_for(dtypes.result_type(start, stop))
    start_a, stop_a = asarray(start, comp), asarray(stop, comp)
    bshape = np.broadcast_shapes(shape_of(start_a), shape_of(stop_a))
    out_shape = (num, *bshape)
    rest = tuple(range(1, len(out_shape)))
    start_b = lax.broadcast_in_dim(start_a, out_shape, rest[len(rest) - len(shape_of(start_a)):])
    stop_b = lax.broadcast_in_dim(stop_a, out_shape, rest[len(rest) - len(shape_of(stop_a)):])
    div = (num - 1) if endpoint else num
    idx = lax.broadcasted_iota(comp, out_shape, 0)
    if div > 0:
        step = lax.div(lax.sub(stop_b, start_b), TypedScalar(div, comp, False))
        out = lax.add(start_b, lax.mul(idx, step))
        if endpoint and num > 1:  # make the last sample exactly `stop`
            out = lax.select(lax.eq(idx, TypedScalar(num - 1, comp, False)), stop_b, out)
    else:
        step = lax.full_like(start_b, float("nan"))
        out = start_b
    if axis != 0:
        out = moveaxis_array(out, 0, axis)
    if dtype is not None:
        out = lax.convert_element_type(lax.floor(out) if dtypes.is_int(dtype) else out, dtype)
    if retstep:
        step_out = lax.reshape(lax.slice_in_dim(step, 0, 1, axis=0), bshape) if num else \
            lax.full(bshape, float("nan"), comp)
        return out, step_out
    return out


def _int32(k):
    """The diagonal offset as an int32 operand: a Python int would be int64 under x64,
    and lax.add does not promote."""
    return np.int32(k) if type(k) in PY_SCALARS else lax.convert_element_type(k, np.int32)


def eye(N: int, M: int | None = None, k: int = 0, dtype: Any = None):
    """A 2-D array with ones on the ``k``-th diagonal."""
    M = N if M is None else M
    dtype = canonicalize_dtype_arg(dtype, "eye") or dtypes.default_float_dtype()
    rows = lax.broadcasted_iota(np.int32, (N, M), 0)
    cols = lax.broadcasted_iota(np.int32, (N, M), 1)
    return lax.convert_element_type(lax.eq(lax.add(rows, _int32(k)), cols), dtype)


def identity(n: int, dtype: Any = None):
    return eye(n, dtype=canonicalize_dtype_arg(dtype, "identity"))


def tri(N: int, M: int | None = None, k: int = 0, dtype: Any = None):
    """Ones at and below the ``k``-th diagonal."""
    M = N if M is None else M
    # float32 by default even under x64, as jnp.tri (unlike eye, and unlike NumPy).
    dtype = canonicalize_dtype_arg(dtype, "tri") or np.dtype(np.float32)
    rows = lax.broadcasted_iota(np.int32, (N, M), 0)
    cols = lax.broadcasted_iota(np.int32, (N, M), 1)
    return lax.convert_element_type(lax.ge(lax.add(rows, _int32(k)), cols), dtype)


def _tri_mask(name, m, k, lower):
    shape = shape_of(m)
    if len(shape) < 2:
        raise ValueError(f"{name}: input must be at least 2-D, got shape {shape}")
    mask = tri(*shape[-2:], k=k, dtype=np.bool_)
    if not lower:
        mask = lax.bitwise_not(tri(*shape[-2:], k=k - 1, dtype=np.bool_))
    mask = lax.broadcast_in_dim(mask, shape, (len(shape) - 2, len(shape) - 1))
    return lax.select(mask, m, lax.full_like(m, 0))


def tril(m: Any, k: int = 0):
    """Zero the elements above the ``k``-th diagonal (of the last two axes)."""
    return _tri_mask("tril", asarray(m), k, True)


def triu(m: Any, k: int = 0):
    """Zero the elements below the ``k``-th diagonal."""
    return _tri_mask("triu", asarray(m), k, False)


def meshgrid(*xi: Any, indexing: str = "xy", sparse: bool = False, copy: bool = True):
    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}")
    xs = [asarray(x).reshape(-1) for x in xi]
    shape = [shape_of(x)[0] for x in xs]
    if indexing == "xy" and len(xs) >= 2:
        shape[0], shape[1] = shape[1], shape[0]
    out = []
    for i, x in enumerate(xs):
        axis = i
        if indexing == "xy" and len(xs) >= 2 and i < 2:
            axis = 1 - i
        if sparse:
            s = [1] * len(xs)
            s[axis] = shape_of(x)[0]
            out.append(lax.reshape(x, tuple(s)))
        else:
            out.append(lax.broadcast_in_dim(x, tuple(shape), (axis,)))
    return out


# The public names are the functions defined here (helpers imported from elsewhere stay out
# of ``functorch_lite.numpy``'s namespace).
__all__ = [_n for _n, _v in list(globals().items()) if not _n.startswith("_")
           and callable(_v) and getattr(_v, "__module__", None) == __name__]
