"""The machinery every elementwise primitive is declared with (dtype categories, the
unary/binary declarations with their shape and batching rules, the public-function
wrappers) and small helpers of their derivative rules."""
from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np

from functorch_lite.core.avals import ShapedArray, get_aval
from functorch_lite.core.primitive import Primitive
from functorch_lite.interpreters import ad, batching
from functorch_lite.interpreters.transpose import is_undefined
from functorch_lite.lax._common import as_operand, check_dtype, scalar_like, shape_str
from functorch_lite.lax._common import check_same_dtypes as _check_same_dtypes
from functorch_lite.lax._common import operands as _operands


# dtype categories (see _common.check_dtype)
ANY = "biufc"
NUM = "iufc"
INT = "iu"
INT_BOOL = "biu"
FLOAT = "fc"
REAL_FLOAT = "f"
REAL_NUM = "iuf"

# ---------------------------------------------------------------------------------------
# unary

def _unary_shape(name, kinds, out_dtype, aval, **params):
    check_dtype(name, aval, kinds)
    dt = out_dtype(aval.dtype) if out_dtype else aval.dtype
    return ShapedArray(aval.shape, dt, aval.weak_type and dt != np.bool_)  # bool is never weak


def unary(name: str, kinds: str, out_dtype=None) -> Primitive:
    """A one-operand elementwise primitive accepting the dtype categories ``kinds``, with
    its shape rule (``out_dtype`` maps the operand's dtype to the result's; default the
    same) and its batching rule; the derivative rules are declared beside it."""
    p = Primitive(name)
    p.def_shape(partial(_unary_shape, name, kinds, out_dtype))
    p.def_batch(batching.elementwise_batch_rule(p))
    return p


def _real_dtype(dt):
    return np.dtype(np.float32) if dt == np.complex64 else \
        np.dtype(np.float64) if dt == np.complex128 else dt


def _unary_fn(p: Primitive, doc: str):
    def fn(x: Any):
        return p.bind(as_operand(x))
    fn.__name__ = p.name
    fn.__doc__ = doc
    return fn


# ---------------------------------------------------------------------------------------
# binary

def _broadcast_shapes(name: str, *avals: ShapedArray) -> tuple[int, ...]:
    shapes = {a.shape for a in avals if a.ndim}
    if len(shapes) > 1:
        raise TypeError(f"{name} got incompatible shapes "
                        + " and ".join(shape_str(a.shape) for a in avals)
                        + " (lax operations need equal shapes or a rank-0 operand; "
                        "functorch_lite.numpy broadcasts)")
    return shapes.pop() if shapes else ()


def _binary_shape(name, kinds, out_bool, x, y, **params):
    # as JAX: each operand's dtype category first, then the two dtypes must be equal
    check_dtype(name, x, kinds)
    check_dtype(name, y, kinds)
    _check_same_dtypes(name, (x, y))
    shape = _broadcast_shapes(name, x, y)
    if out_bool:
        return ShapedArray(shape, np.bool_, False)
    return ShapedArray(shape, x.dtype, x.weak_type and y.weak_type and x.dtype != np.bool_)


def binary(name: str, kinds: str, out_bool: bool = False) -> Primitive:
    """A two-operand elementwise primitive (operands of one dtype in ``kinds``, equal
    shapes or one rank 0), with its shape rule (a bool result when ``out_bool``) and its
    batching rule; the derivative rules are declared beside it."""
    p = Primitive(name)
    p.def_shape(partial(_binary_shape, name, kinds, out_bool))
    p.def_batch(batching.elementwise_batch_rule(p))
    return p


def _binary_fn(p: Primitive, doc: str):
    def fn(x: Any, y: Any):
        # no promotion: the shape rule rejects mixed dtypes, as JAX's lax does
        return p.bind(*_operands((x, y)))
    fn.__name__ = p.name
    fn.__doc__ = doc
    return fn


# ---------------------------------------------------------------------------------------
# Rule helpers

def _aval(x):
    return x.aval if is_undefined(x) else get_aval(x)


def _unbroadcast(aval: ShapedArray, ct):
    """Sum a cotangent down to a rank-0 operand's shape (lax broadcasts rank-0 operands)."""
    if ct is None or type(ct) is ad.Zero:
        return ct
    ct_shape = get_aval(ct).shape
    if aval.shape == ct_shape:
        return ct
    # late: reductions imports elementwise (its derivative rules are built from these ops)
    from functorch_lite.lax.reductions import reduce_sum
    return reduce_sum(ct, tuple(range(len(ct_shape))))


def _c(value, like):
    """A scalar constant with ``like``'s dtype (weak, so it never promotes)."""
    return scalar_like(value, get_aval(like).dtype)


def _full(like, value):
    """``shapes.full_like(like, value)``: an array of ``like``'s shape, dtype and weak type."""
    from functorch_lite.lax.shapes import full_like  # late: shapes imports elementwise
    return full_like(like, value)


def full_zero(like):
    """Zeros of ``like``'s shape, dtype and weak type."""
    return _full(like, 0)


def _linear_t(fn):
    """A transpose rule that answers None for every operand when ``ct`` is a symbolic zero."""
    def rule(ct, *args, **params):
        if type(ct) is ad.Zero:
            return [None] * len(args)
        return fn(ct, *args, **params)
    return rule
