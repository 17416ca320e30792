"""Shape-manipulation primitives: reshape, broadcast_in_dim, transpose, squeeze, concatenate,
pad, slice, rev, iota and bitcast_convert_type, plus the helpers JAX builds from them
(expand_dims, broadcast, slice_in_dim, index_in_dim, collapse, full, full_like, ...).

None of these compute anything new from element values: they move, copy or reinterpret
elements. Each output keeps its operand's weak type (so ``x_f16 * reshape(2.0, (1,))``
stays float16), except ``iota`` (always strong) and ``bitcast_convert_type`` (a
reinterpretation gives a definite dtype). Every argument is checked by the shape rules,
so a mistake is reported here, naming the operation, never by XLA.
"""
from functorch_lite.lax.shapes.layout import (broadcast, broadcast_in_dim, broadcast_in_dim_p,
                                             collapse, expand_dims, reshape, reshape_p, squeeze,
                                             squeeze_p, transpose, transpose_p)
from functorch_lite.lax.shapes.creation import (bitcast_convert_type, bitcast_convert_type_p,
                                               broadcasted_iota, full, full_like, iota, iota_p,
                                               zeros_like_array)
from functorch_lite.lax.shapes.slicing import (concatenate, concatenate_p, index_in_dim, pad,
                                              pad_p, rev, rev_p, slice, slice_in_dim, slice_p)

__all__ = [
    "reshape", "broadcast_in_dim", "broadcast", "transpose", "squeeze", "expand_dims",
    "concatenate", "pad", "slice", "slice_in_dim", "index_in_dim", "rev", "iota",
    "broadcasted_iota", "bitcast_convert_type", "full", "full_like", "zeros_like_array",
    "collapse",
    "reshape_p", "broadcast_in_dim_p", "transpose_p", "squeeze_p", "concatenate_p", "pad_p",
    "slice_p", "rev_p", "iota_p", "bitcast_convert_type_p",
]
