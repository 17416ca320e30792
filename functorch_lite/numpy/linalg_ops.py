"""Products: dot, matmul (and ``@``), vdot, tensordot, outer, inner, kron, cross; einsum
lives in ``einsum.py``."""
from __future__ import annotations

import numpy as np

from functorch_lite import lax
from functorch_lite.core.avals import get_aval
from functorch_lite.numpy._eager import compiled_when_eager
from functorch_lite.numpy._util import (broadcast_shapes, broadcast_to_shape, check_arraylike,
                                        normalize_axis, promote_dtypes, shape_of)
from functorch_lite.numpy.creation import asarray
from functorch_lite.numpy.ufuncs import conjugate


def _prep(name, *args):
    """Promote to a common dtype. Bool products are logical (an OR of ANDs), as in jnp."""
    check_arraylike(name, *args)
    args = [a if hasattr(a, "aval") else asarray(a) for a in args]
    return promote_dtypes(name, *args)


def _mul(a, b):
    return lax.bitwise_and(a, b) if get_aval(a).dtype == np.bool_ else lax.mul(a, b)


@compiled_when_eager
def matmul(a, b, *, precision=None, preferred_element_type=None):
    """Matrix product with NumPy's rules: 1-D operands are promoted to matrices and the
    added dim removed; leading (batch) dims broadcast.

    >>> matmul(ones((5, 2, 3)), ones((3, 4))).shape
    (5, 2, 4)
    """
    a, b = _prep("matmul", a, b)
    sa, sb = shape_of(a), shape_of(b)
    if not sa or not sb:
        raise ValueError(f"matmul: operands must be at least 1-D, got shapes {sa} and {sb}")
    a_vec, b_vec = len(sa) == 1, len(sb) == 1
    if a_vec:
        a = lax.reshape(a, (1, sa[0]))
    if b_vec:
        b = lax.reshape(b, (sb[0], 1))
    sa, sb = shape_of(a), shape_of(b)
    if sa[-1] != sb[-2]:  # TypeError, as JAX's dot_general shape check
        raise TypeError(f"matmul: contracting dimensions differ: shapes {shape_of(a)} and "
                         f"{shape_of(b)} (inner sizes {sa[-1]} and {sb[-2]})")
    if len(sb) == 2 and not b_vec:
        # A matrix on the right: one product over all of a's leading dims (XLA runs it as
        # one GEMM; broadcasting b would make a batch of small ones).
        out = lax.dot_general(a, b, (((len(sa) - 1,), (0,)), ((), ())), precision=precision,
                              preferred_element_type=preferred_element_type)
        return lax.reshape(out, shape_of(out)[:-2] + shape_of(out)[-1:]) if a_vec else out
    batch = broadcast_shapes(sa[:-2], sb[:-2], name="matmul")
    nb = len(batch)
    if sa[:-2] != batch:
        a = broadcast_to_shape(a, batch + sa[-2:], "matmul")
    if sb[:-2] != batch:
        b = broadcast_to_shape(b, batch + sb[-2:], "matmul")
    bdims = tuple(range(nb))
    out = lax.dot_general(a, b, (((nb + 1,), (nb,)), (bdims, bdims)), precision=precision,
                          preferred_element_type=preferred_element_type)
    shape = shape_of(out)
    if a_vec and b_vec:
        return lax.reshape(out, shape[:-2])
    if a_vec:
        return lax.reshape(out, shape[:-2] + shape[-1:])
    if b_vec:
        return lax.reshape(out, shape[:-1])
    return out


@compiled_when_eager
def dot(a, b, *, precision=None, preferred_element_type=None):
    """NumPy's dot: scalar product, matrix product, or a sum over the last axis of ``a`` and
    the second-to-last of ``b``."""
    a, b = _prep("dot", a, b)
    sa, sb = shape_of(a), shape_of(b)
    if not sa or not sb:
        return _mul(a, b)
    contract_b = len(sb) - 2 if len(sb) >= 2 else 0
    if sa[-1] != sb[contract_b]:
        raise TypeError(f"dot: shapes {sa} and {sb} not aligned: {sa[-1]} (dim {len(sa) - 1})"
                         f" != {sb[contract_b]} (dim {contract_b})")
    return lax.dot_general(a, b, (((len(sa) - 1,), (contract_b,)), ((), ())),
                           precision=precision, preferred_element_type=preferred_element_type)


@compiled_when_eager
def vdot(a, b, *, precision=None):
    return dot(conjugate(asarray(a)).ravel(), asarray(b).ravel(), precision=precision)


def tensordot(a, b, axes=2, *, precision=None, preferred_element_type=None):
    """Sum products over ``axes`` (an int: the last n of ``a`` with the first n of ``b``;
    or a pair of axis sequences)."""
    a, b = _prep("tensordot", a, b)
    na, nb = get_aval(a).ndim, get_aval(b).ndim
    if isinstance(axes, (int, np.integer)):
        n = int(axes)
        if n < 0 or n > min(na, nb):
            raise TypeError(f"tensordot: axes={n} is out of range for shapes {shape_of(a)} "
                             f"and {shape_of(b)}")
        ca, cb = tuple(range(na - n, na)), tuple(range(n))
    else:
        ax_a, ax_b = axes
        ax_a = (ax_a,) if isinstance(ax_a, int) else tuple(ax_a)
        ax_b = (ax_b,) if isinstance(ax_b, int) else tuple(ax_b)
        if len(ax_a) != len(ax_b):
            raise TypeError(f"tensordot: axes lists differ in length: {ax_a} and {ax_b}")
        ca = tuple(normalize_axis("tensordot", x, na) for x in ax_a)
        cb = tuple(normalize_axis("tensordot", x, nb) for x in ax_b)
    for i, j in zip(ca, cb):
        if shape_of(a)[i] != shape_of(b)[j]:
            raise TypeError(f"tensordot: shape mismatch on axes {i} and {j}: shapes "
                             f"{shape_of(a)} and {shape_of(b)}")
    return lax.dot_general(a, b, ((ca, cb), ((), ())), precision=precision,
                           preferred_element_type=preferred_element_type)


@compiled_when_eager
def outer(a, b):
    """Outer product of the flattened inputs."""
    a, b = _prep("outer", a, b)
    a = lax.reshape(a, (get_aval(a).size,))
    b = lax.reshape(b, (get_aval(b).size,))
    return _mul(lax.broadcast_in_dim(a, (shape_of(a)[0], shape_of(b)[0]), (0,)),
                lax.broadcast_in_dim(b, (shape_of(a)[0], shape_of(b)[0]), (1,)))


@compiled_when_eager
def inner(a, b, *, precision=None):
    """Sum of products over the last axes."""
    a, b = _prep("inner", a, b)
    sa, sb = shape_of(a), shape_of(b)
    if not sa or not sb:
        return _mul(a, b)
    if sa[-1] != sb[-1]:
        raise TypeError(f"inner: last dimensions differ: shapes {sa} and {sb}")
    return lax.dot_general(a, b, (((len(sa) - 1,), (len(sb) - 1,)), ((), ())),
                           precision=precision)


@compiled_when_eager
def kron(a, b):
    """Kronecker product: blocks ``a[i, j] * b`` (the operands are padded to equal rank
    with leading 1s). Not defined for bool, as in jnp."""
    a, b = _prep("kron", a, b)
    if get_aval(a).dtype == np.bool_:
        raise TypeError("kron: bool operands are not supported; cast to int first")
    sa, sb = shape_of(a), shape_of(b)
    nd = max(len(sa), len(sb))
    sa = (1,) * (nd - len(sa)) + sa
    sb = (1,) * (nd - len(sb)) + sb
    a = lax.reshape(a, sa)
    b = lax.reshape(b, sb)
    big = tuple(x for pair in zip(sa, sb) for x in pair)
    a2 = lax.broadcast_in_dim(a, big, tuple(range(0, 2 * nd, 2)))
    b2 = lax.broadcast_in_dim(b, big, tuple(range(1, 2 * nd, 2)))
    return lax.reshape(lax.mul(a2, b2), tuple(x * y for x, y in zip(sa, sb)))


def _vector_axis(name: str, x, axis: int):
    """``x`` with ``axis`` last (its vectors of 2 or 3 components)."""
    nd = len(shape_of(x))
    axis = normalize_axis(name, axis, nd)
    x = lax.transpose(x, tuple(d for d in range(nd) if d != axis) + (axis,))
    if shape_of(x)[-1] not in (2, 3):
        raise ValueError(f"{name}: incompatible dimensions for cross product (dimension "
                         f"must be 2 or 3), got {shape_of(x)[-1]}")
    return x


def _component(x, i: int):
    n = shape_of(x)[-1]
    if i >= n:  # a 2-vector's missing z component
        return None
    return lax.squeeze(lax.slice_in_dim(x, i, i + 1, axis=len(shape_of(x)) - 1),
                       (len(shape_of(x)) - 1,))


@compiled_when_eager
def cross(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """The cross product of 2- or 3-component vectors along ``axisa``/``axisb`` (``axis``
    sets all three); two 2-vectors give the scalar z component, as NumPy."""
    a, b = _prep("cross", a, b)
    if axis is not None:
        axisa = axisb = axisc = axis
    a, b = _vector_axis("cross", a, axisa), _vector_axis("cross", b, axisb)
    batch = broadcast_shapes(shape_of(a)[:-1], shape_of(b)[:-1], name="cross")
    a = broadcast_to_shape(a, batch + shape_of(a)[-1:])
    b = broadcast_to_shape(b, batch + shape_of(b)[-1:])
    a0, a1, a2 = (_component(a, i) for i in range(3))
    b0, b1, b2 = (_component(b, i) for i in range(3))
    z = lax.sub(lax.mul(a0, b1), lax.mul(a1, b0))
    if a2 is None and b2 is None:
        return z
    x = lax.sub(lax.mul(a1, b2), lax.mul(a2, b1)) if a2 is not None and b2 is not None \
        else (lax.mul(a1, b2) if a2 is None else lax.neg(lax.mul(a2, b1)))
    y = lax.sub(lax.mul(a2, b0), lax.mul(a0, b2)) if a2 is not None and b2 is not None \
        else (lax.neg(lax.mul(a0, b2)) if a2 is None else lax.mul(a2, b0))
    out = lax.concatenate([lax.expand_dims(c, (len(batch),)) for c in (x, y, z)],
                          len(batch))
    nd = len(batch) + 1
    axisc = normalize_axis("cross", axisc, nd)
    perm = list(range(nd - 1))
    perm.insert(axisc, nd - 1)
    return lax.transpose(out, tuple(perm))


# The public names are the functions defined here (helpers imported from elsewhere stay out
# of ``functorch_lite.numpy``'s namespace).
__all__ = [_n for _n, _v in list(globals().items()) if not _n.startswith("_")
           and callable(_v) and getattr(_v, "__module__", None) == __name__]
