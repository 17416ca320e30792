"""Contractions: ``dot_general`` (the general tensor contraction) and ``dot``.

``dot_general`` multiplies two arrays elementwise along paired *batch* dimensions, sums
over paired *contracting* dimensions, and forms the outer product of every remaining
(*free*) dimension. The result's dimensions are the batch dimensions, then lhs's free
dimensions, then rhs's free dimensions, each group in its operand's order.

Params of ``dot_general_p``:

* ``dimension_numbers = ((lhs_contracting, rhs_contracting), (lhs_batch, rhs_batch))``,
  nested tuples of non-negative ints;
* ``precision``: ``None`` or a pair of :class:`Precision` values (one per operand);
* ``preferred_element_type``: ``None`` or the ``np.dtype`` of the result (e.g. float32 for
  bfloat16 inputs, which then accumulate in float32).
"""
from __future__ import annotations

import enum
import operator
from typing import Any

import numpy as np

from functorch_lite.core import dtypes
from functorch_lite.core.avals import ShapedArray, get_aval
from functorch_lite.core.config import config
from functorch_lite.core.primitive import Primitive
from functorch_lite.interpreters import ad
from functorch_lite.interpreters.transpose import is_undefined
from functorch_lite.lax import elementwise as ew
from functorch_lite.lax._common import operands
from functorch_lite.lax.shapes import transpose

__all__ = ["Precision", "dot_general", "dot", "dot_general_p"]


# ---------------------------------------------------------------------------------------
# precision

class Precision(enum.Enum):
    """How accurately an accelerator computes float32 products (no effect on CPU).

    ``DEFAULT`` is the fastest (bfloat16 passes on TPU, tensorfloat32 on recent GPUs),
    ``HIGH`` is in between and ``HIGHEST`` computes in full float32."""

    DEFAULT = 0
    HIGH = 1
    HIGHEST = 2

    def __repr__(self) -> str:
        return f"Precision.{self.name}"

    def __str__(self) -> str:
        return self.name


# The lower-case names JAX accepts for each precision level.
_PRECISION_ALIASES = {
    "default": Precision.DEFAULT, "fastest": Precision.DEFAULT,
    "bfloat16": Precision.DEFAULT,
    "high": Precision.HIGH, "tensorfloat32": Precision.HIGH, "bfloat16_3x": Precision.HIGH,
    "highest": Precision.HIGHEST, "float32": Precision.HIGHEST,
}


def _one_precision(p: Any) -> Precision | None:
    if isinstance(p, Precision):
        return p
    if isinstance(p, str):
        return _PRECISION_ALIASES.get(p.lower())
    if isinstance(p, (int, np.integer)) and not isinstance(p, bool):
        return Precision(int(p)) if 0 <= int(p) <= 2 else None
    # Enum-like values from elsewhere (jax.lax.Precision): go by their name.
    name = getattr(p, "name", None)
    if isinstance(name, str) and name in Precision.__members__:
        return Precision[name]
    return None


def canonicalize_precision(precision: Any, name: str = "dot_general"):
    """``None``, or a pair ``(lhs_precision, rhs_precision)`` of :class:`Precision`.

    Accepts ``None``, a :class:`Precision`, one of the strings ``'default'``, ``'high'``,
    ``'highest'`` (and JAX's aliases ``'fastest'``, ``'bfloat16'``, ``'tensorfloat32'``,
    ``'float32'``, ...), an enum value with one of those names, or a pair of these.
    ``None`` takes ``config.default_matmul_precision`` when that is set."""
    if precision is None:
        default = config.default_matmul_precision
        if default is None:
            return None
        p = _PRECISION_ALIASES[default]
        return (p, p)
    if isinstance(precision, (tuple, list)):
        if len(precision) == 2:
            pair = tuple(_one_precision(p) for p in precision)
            if None not in pair:
                return pair
    else:
        p = _one_precision(precision)
        if p is not None:
            return (p, p)
    raise ValueError(
        f"{name}: precision must be None, a lax.Precision (DEFAULT, HIGH, HIGHEST), one of "
        f"the strings {sorted(_PRECISION_ALIASES)}, or a pair of these; got {precision!r}")


def canonicalize_preferred_type(preferred_element_type: Any, name: str):
    if preferred_element_type is None:
        return None
    try:
        return dtypes.canonicalize_dtype(preferred_element_type)
    except TypeError as e:
        raise TypeError(f"{name}: invalid preferred_element_type "
                        f"{preferred_element_type!r}: {e}") from None


# ---------------------------------------------------------------------------------------
# dtype rule, shared with conv_general_dilated

def _bit_width(dt: np.dtype) -> int:
    return 1 if dt == np.bool_ else np.dtype(dt).itemsize * 8


def _rank_of_type(dt: np.dtype) -> tuple:
    """Orders dtypes the way XLA decides which of two dot operand types is "higher":
    complex over real, then by exponent range, mantissa width, bit width, signedness."""
    real = dtypes.finfo(dt).dtype if dtypes.is_complex(dt) else dt
    is_float = dtypes.is_float(real)
    return (dtypes.is_complex(dt),
            int(dtypes.finfo(real).maxexp) if is_float else -1,
            int(dtypes.finfo(real).nmant) if is_float else -1,
            _bit_width(np.dtype(real)),
            not dtypes.is_unsigned(real))


def _name(dt) -> str:
    return dtypes.to_numpy_dtype_name(dt)


def dot_result_dtype(name: str, lhs: ShapedArray, rhs: ShapedArray, preferred) -> np.dtype:
    """The result dtype of a dot of ``lhs`` and ``rhs``: the "higher" of two different
    operand dtypes (an error when neither is higher), or ``preferred_element_type``."""
    if lhs.dtype == rhs.dtype:
        dt = lhs.dtype
    else:
        lr, rr = _rank_of_type(lhs.dtype), _rank_of_type(rhs.dtype)
        if lr == rr:
            raise TypeError(f"{name} got operands of incompatible dtypes {_name(lhs.dtype)} "
                            f"and {_name(rhs.dtype)}")
        dt = lhs.dtype if lr > rr else rhs.dtype
    if preferred is None or preferred == dt:
        return dt
    if not dtypes.is_float(dt) and _bit_width(preferred) < _bit_width(dt):
        raise TypeError(f"{name}: preferred_element_type {_name(preferred)} must not be "
                        f"narrower than the result type {_name(dt)}")
    return np.dtype(preferred)


# ---------------------------------------------------------------------------------------
# dot_general

dot_general_p = Primitive("dot_general")


def _check_dims(side: str, contract: Any, batch: Any, ndim: int) -> None:
    for d in tuple(contract) + tuple(batch):
        if type(d) is not int or not 0 <= d < ndim:
            raise ValueError(f"dot_general: {side} dimension {d!r} is out of range for an "
                             f"{side} of rank {ndim} (dimension numbers must be in "
                             f"[0, {ndim}) once normalized)")
    for what, dims in (("contracting", contract), ("batch", batch)):
        if len(set(dims)) != len(dims):
            raise TypeError(f"dot_general: repeated {side} {what} dimension in "
                            f"{tuple(dims)}")
    both = set(contract) & set(batch)
    if both:
        raise TypeError(f"dot_general: {side} dimension(s) {sorted(both)} are both batch "
                        f"{tuple(batch)} and contracting {tuple(contract)} dimensions")


@dot_general_p.def_shape
def _dot_general_shape(lhs, rhs, *, dimension_numbers, precision=None,
                       preferred_element_type=None):
    (lc, rc), (lb, rb) = dimension_numbers
    for side, aval, contract, batch in (("lhs", lhs, lc, lb), ("rhs", rhs, rc, rb)):
        _check_dims(side, contract, batch, aval.ndim)
    if len(lb) != len(rb):
        raise TypeError(f"dot_general: lhs and rhs need the same number of batch dimensions, "
                        f"got lhs_batch {tuple(lb)} and rhs_batch {tuple(rb)}")
    if len(lc) != len(rc):
        raise TypeError(f"dot_general: lhs and rhs need the same number of contracting "
                        f"dimensions, got lhs_contracting {tuple(lc)} and rhs_contracting "
                        f"{tuple(rc)}")
    lb_shape = tuple(lhs.shape[d] for d in lb)
    rb_shape = tuple(rhs.shape[d] for d in rb)
    if lb_shape != rb_shape:
        raise TypeError(f"dot_general: batch dimensions must have equal sizes, got "
                        f"{lb_shape} (lhs {lhs.shape} dims {tuple(lb)}) and {rb_shape} "
                        f"(rhs {rhs.shape} dims {tuple(rb)})")
    lc_shape = tuple(lhs.shape[d] for d in lc)
    rc_shape = tuple(rhs.shape[d] for d in rc)
    if lc_shape != rc_shape:
        raise TypeError(f"dot_general: contracting dimensions must have equal sizes, got "
                        f"{lc_shape} (lhs {lhs.shape} dims {tuple(lc)}) and {rc_shape} "
                        f"(rhs {rhs.shape} dims {tuple(rc)})")
    if precision is not None and (not isinstance(precision, tuple) or len(precision) != 2
                                  or not all(isinstance(p, Precision) for p in precision)):
        raise TypeError(f"dot_general: precision param must be None or a pair of "
                        f"Precision values, got {precision!r}")
    dt = dot_result_dtype("dot_general", lhs, rhs, preferred_element_type)
    lhs_free = [d for d in range(lhs.ndim) if d not in lc and d not in lb]
    rhs_free = [d for d in range(rhs.ndim) if d not in rc and d not in rb]
    shape = lb_shape + tuple(lhs.shape[d] for d in lhs_free) + \
        tuple(rhs.shape[d] for d in rhs_free)
    return ShapedArray(shape, dt, lhs.weak_type and rhs.weak_type)


def _dim_tuple(what: str, dims: Any) -> tuple:
    if isinstance(dims, (int, np.integer)) and not isinstance(dims, bool):
        return (int(dims),)
    try:
        return tuple(operator.index(d) for d in dims)
    except TypeError:
        raise TypeError(f"dot_general: {what} must be a sequence of ints, got {dims!r}") \
            from None


def _normalize_dims(side: str, dims: tuple, ndim: int) -> tuple:
    out = []
    for d in dims:
        if not -ndim <= d < ndim:
            raise ValueError(f"dot_general: {side} dimension {d} is out of range for an "
                             f"{side} of rank {ndim}")
        out.append(d % ndim)
    return tuple(out)


def dot_general(lhs: Any, rhs: Any, dimension_numbers: Any, precision: Any = None,
                preferred_element_type: Any = None):
    """General tensor contraction.

    ``dimension_numbers = ((lhs_contracting, rhs_contracting), (lhs_batch, rhs_batch))``
    pairs dimensions of ``lhs`` with dimensions of ``rhs`` (negative numbers count from
    the end). Paired batch dimensions are kept (they come first in the result), paired
    contracting dimensions are summed over, and all other dimensions are kept: lhs's, then
    rhs's. ``preferred_element_type`` sets the result dtype (e.g. float32 accumulation of
    bfloat16 inputs); ``precision`` is a :class:`Precision` or pair of them.
    Example: a batched matmul of ``x: f32[8, 3, 4]`` and ``y: f32[8, 4, 5]`` is
    ``dot_general(x, y, (((2,), (1,)), ((0,), (0,))))`` of shape ``(8, 3, 5)``.
    """
    lhs, rhs = operands((lhs, rhs))  # mixed input dtypes are allowed, as in JAX
    la, ra = get_aval(lhs), get_aval(rhs)
    try:
        (lc, rc), (lb, rb) = dimension_numbers
    except (TypeError, ValueError):
        raise TypeError("dot_general: dimension_numbers must be ((lhs_contracting, "
                        "rhs_contracting), (lhs_batch, rhs_batch)), got "
                        f"{dimension_numbers!r}") from None
    lc = _normalize_dims("lhs", _dim_tuple("lhs_contracting", lc), la.ndim)
    rc = _normalize_dims("rhs", _dim_tuple("rhs_contracting", rc), ra.ndim)
    lb = _normalize_dims("lhs", _dim_tuple("lhs_batch", lb), la.ndim)
    rb = _normalize_dims("rhs", _dim_tuple("rhs_batch", rb), ra.ndim)
    return dot_general_p.bind(
        lhs, rhs, dimension_numbers=((lc, rc), (lb, rb)),
        precision=canonicalize_precision(precision, "dot_general"),
        preferred_element_type=canonicalize_preferred_type(preferred_element_type,
                                                           "dot_general"))


def dot(lhs: Any, rhs: Any, precision: Any = None, preferred_element_type: Any = None, *,
        dimension_numbers: Any = None):
    """Vector/matrix product: vector·vector (a scalar), matrix·vector, vector·matrix or
    matrix·matrix, contracting the last dimension of ``lhs`` with the first of ``rhs``.

    Example: ``dot(x, y)`` with ``x: f32[3, 4]`` and ``y: f32[4]`` has shape ``(3,)``.
    With ``dimension_numbers`` it is :func:`dot_general`.
    """
    if dimension_numbers is not None:
        return dot_general(lhs, rhs, dimension_numbers, precision, preferred_element_type)
    lhs, rhs = operands((lhs, rhs))
    ls, rs = get_aval(lhs).shape, get_aval(rhs).shape
    if not (1 <= len(ls) <= 2 and 1 <= len(rs) <= 2):
        raise ValueError(f"dot: expects vectors or matrices, got operands of shapes {ls} and "
                         f"{rs} (use dot_general for other contractions)")
    if ls[-1] != rs[0]:  # a ValueError in JAX's lax.dot (dot_general raises TypeError)
        raise ValueError(f"dot: incompatible shapes for a product: {ls} and {rs} (the last "
                         f"dimension of lhs, {ls[-1]}, must equal the first of rhs, {rs[0]})")
    return dot_general(lhs, rhs, (((len(ls) - 1,), (0,)), ((), ())), precision,
                       preferred_element_type)


# ---------------------------------------------------------------------------------------
# Derivative rules: dot_general is bilinear.
#
# Its jvp is ``dot(g_lhs, rhs) + dot(lhs, g_rhs)``. To transpose with respect to ``lhs``,
# contract the cotangent (dims: batch, lhs free, rhs free) with ``rhs`` over rhs's free
# dims, pairing the batch dims: the result holds lhs's batch, free and contracting dims
# (the latter in the order of rhs's contracting dims), which one transpose puts back in
# lhs's order. The rhs case is the same with the operands' roles swapped.


def _free_dims(ndim: int, contract, batch) -> list:
    return [d for d in range(ndim) if d not in contract and d not in batch]


def _inverse_permutation(perm) -> tuple:
    inv = [0] * len(perm)
    for i, p in enumerate(perm):
        inv[p] = i
    return tuple(inv)


def cast_cotangent(ct, aval: ShapedArray):
    """A cotangent computed in another dtype (``preferred_element_type``, or the result
    type of mixed operands) brought back to the operand's dtype."""
    ct_dtype = get_aval(ct).dtype
    if ct_dtype == aval.dtype:
        return ct
    if dtypes.is_complex(ct_dtype) and not dtypes.is_complex(aval.dtype):
        ct = ew.real(ct)
    return ew.convert_element_type(ct, aval.dtype, weak_type=aval.weak_type)


def _dot_transpose_operand(ct, other, operand_aval, *, mine_contract, mine_batch,
                           other_contract, other_batch, other_ndim, operand_is_lhs,
                           precision):
    """The cotangent of one operand of a dot_general, given the other operand."""
    nb = len(mine_batch)
    mine_free = _free_dims(operand_aval.ndim, mine_contract, mine_batch)
    other_free = _free_dims(other_ndim, other_contract, other_batch)
    # positions, in the cotangent, of the batch dims and of the other operand's free dims
    ct_batch = tuple(range(nb))
    if operand_is_lhs:
        ct_other = tuple(range(nb + len(mine_free), nb + len(mine_free) + len(other_free)))
    else:
        ct_other = tuple(range(nb, nb + len(other_free)))
    dims = ((ct_other, tuple(other_free)), (ct_batch, tuple(other_batch)))
    # the result's dims: batch, the cotangent's remaining dims (this operand's free dims),
    # then the other operand's remaining dims (its contracting dims, in increasing order),
    # each of which pairs with one of this operand's contracting dims
    pairing = dict(zip(other_contract, mine_contract))
    paired = [pairing[d] for d in sorted(other_contract)]
    produced = list(mine_batch) + mine_free + paired
    swapped = list(mine_batch) + paired + mine_free
    if sorted(produced) != produced and sorted(swapped) == swapped:
        # With the operands the other way round the product comes out in this operand's
        # dimension order, and no transpose follows it: for a (batched) outer product,
        # such as per-example weight gradients, no transpose of a possibly large result
        # is materialized, and a dense layer's weight gradient (x^T dy rather than
        # (dy^T x)^T) keeps the form XLA:CPU's fast kernels take, where XLA would fold
        # that transpose into the product (see xla_bridge/lowering/linalg.py).
        (a, b), (c, d) = dims
        out = dot_general_p.bind(other, ct, dimension_numbers=((b, a), (d, c)),
                                 precision=precision, preferred_element_type=None)
        return cast_cotangent(out, operand_aval)
    out = dot_general_p.bind(ct, other, dimension_numbers=dims, precision=precision,
                             preferred_element_type=None)
    perm = _inverse_permutation(produced)
    if perm != tuple(range(len(perm))):
        out = transpose(out, perm)
    return cast_cotangent(out, operand_aval)


def _dot_general_transpose(ct, lhs, rhs, *, dimension_numbers, precision=None,
                           preferred_element_type=None):
    if is_undefined(lhs) and is_undefined(rhs):
        raise ValueError("dot_general is linear in one operand at a time; both were "
                         "undefined during transposition")
    if type(ct) is ad.Zero:
        return [None, None]
    (lc, rc), (lb, rb) = dimension_numbers
    if is_undefined(lhs):
        return [_dot_transpose_operand(ct, rhs, lhs.aval, mine_contract=lc, mine_batch=lb,
                                       other_contract=rc, other_batch=rb,
                                       other_ndim=get_aval(rhs).ndim, operand_is_lhs=True,
                                       precision=precision), None]
    return [None, _dot_transpose_operand(ct, lhs, rhs.aval, mine_contract=rc, mine_batch=rb,
                                         other_contract=lc, other_batch=lb,
                                         other_ndim=get_aval(lhs).ndim,
                                         operand_is_lhs=False, precision=precision)]


ad.defjvp(dot_general_p,
          lambda g, lhs, rhs, **params: dot_general_p.bind(g, rhs, **params),
          lambda g, lhs, rhs, **params: dot_general_p.bind(lhs, g, **params))
dot_general_p.def_transpose(_dot_general_transpose)


# ---------------------------------------------------------------------------------------
# Batching rule. No operand is moved: dimension numbers are renumbered around the batch
# dims. When both operands are batched their batch dims become one more (leading) dot
# batch dimension; when only one is, its batch dim is a free dimension of the product.


def _shift(dims, bdim) -> tuple:
    """Dimension numbers of the unbatched operand, renumbered for the batched one."""
    return tuple(d + 1 if d >= bdim else d for d in dims)


@dot_general_p.def_batch
def _dot_general_batch(axis, args, dims, *, dimension_numbers, precision=None,
                       preferred_element_type=None):
    lhs, rhs = args
    lbd, rbd = dims
    (lc, rc), (lb, rb) = dimension_numbers
    params = dict(precision=precision, preferred_element_type=preferred_element_type)
    if lbd is not None and rbd is not None:
        new = ((_shift(lc, lbd), _shift(rc, rbd)),
               ((lbd,) + _shift(lb, lbd), (rbd,) + _shift(rb, rbd)))
        return dot_general_p.bind(lhs, rhs, dimension_numbers=new, **params), 0
    if lbd is not None:
        lc2, lb2 = _shift(lc, lbd), _shift(lb, lbd)
        new = ((lc2, rc), (lb2, rb))
        free = _free_dims(get_aval(lhs).ndim, lc2, lb2)
        out_dim = len(lb) + free.index(lbd)
        return dot_general_p.bind(lhs, rhs, dimension_numbers=new, **params), out_dim
    rc2, rb2 = _shift(rc, rbd), _shift(rb, rbd)
    new = ((lc, rc2), (lb, rb2))
    lhs_free = _free_dims(get_aval(lhs).ndim, lc, lb)
    free = _free_dims(get_aval(rhs).ndim, rc2, rb2)
    out_dim = len(lb) + len(lhs_free) + free.index(rbd)
    return dot_general_p.bind(lhs, rhs, dimension_numbers=new, **params), out_dim


# JAX's lax.linalg also holds the decompositions; they live in their own module (built on
# dot_general above) and are imported last so that module can import this one.
from functorch_lite.lax.decompositions import (cholesky, eigh, geqrf,  # noqa: E402,F401
                                               householder_product, qr, triangular_solve)
from functorch_lite.lax.polar_svd import SvdAlgorithm, qdwh, svd  # noqa: E402,F401
from functorch_lite.lax.lu import lu, lu_pivots_to_permutation  # noqa: E402,F401
from functorch_lite.lax.eig import EigImplementation, eig  # noqa: E402,F401
