"""Indexing primitives: dynamic slicing, gather and scatter.

* ``dynamic_slice`` / ``dynamic_update_slice`` read or write one rectangular block whose
  start is given by scalar integer arrays (known only at run time). Start indices are
  clamped so the block lies inside the operand, as XLA does.
* ``gather`` reads many blocks at once, one per index vector in ``start_indices``; it is
  the base of NumPy-style advanced indexing (``x[idx]``, ``x[i, j]``, take_along_axis).
* ``scatter`` and its combining variants (``scatter_add``, ``scatter_mul``, ``scatter_min``,
  ``scatter_max``) write many blocks at once; they are the base of ``x.at[idx].set/add/...``.

How ``gather``'s dimension numbers work, with the usual ``x[idx]`` on axis 0 as example
(``x: f32[5, 3]``, ``idx: i32[4, 2, 1]``, result ``f32[4, 2, 3]``):

* The last axis of ``start_indices`` is the *index vector*: one start position per operand
  axis named in ``start_index_map`` (here ``(0,)``). The other axes of ``start_indices`` are
  *batch* axes and appear in the result in order (here ``4, 2``).
* From each start, a block of shape ``slice_sizes`` (here ``(1, 3)``) is read. Its axes in
  ``collapsed_slice_dims`` (size 1, here ``(0,)``) are dropped; the remaining block axes
  appear in the result at the positions ``offset_dims`` (here ``(2,)``).
* ``operand_batching_dims``/``start_indices_batching_dims`` pair operand axes with index batch
  axes (block size 1): batch element ``b`` reads from operand slab ``b`` (used by vmap).

``scatter``'s dimension numbers mirror these: ``update_window_dims`` are the block axes of
``updates`` (like ``offset_dims``), ``inserted_window_dims`` the size-1 operand axes the
block lacks (like ``collapsed_slice_dims``), ``scatter_dims_to_operand_dims`` maps the index
vector onto operand axes (like ``start_index_map``).

Out-of-bounds indices are handled according to ``mode`` (:class:`GatherScatterMode`).
"""
from functorch_lite.lax.indexing._params import (GatherDimensionNumbers, GatherScatterMode,
                                                 ScatterDimensionNumbers)
from functorch_lite.lax.indexing.gather import gather, gather_p
from functorch_lite.lax.indexing.scatter import (scatter, scatter_add, scatter_add_p,
                                                 scatter_max, scatter_max_p, scatter_min,
                                                 scatter_min_p, scatter_mul, scatter_mul_p,
                                                 scatter_p)
from functorch_lite.lax.indexing.dynamic_slice import (dynamic_index_in_dim, dynamic_slice,
                                                       dynamic_slice_in_dim, dynamic_slice_p,
                                                       dynamic_update_index_in_dim,
                                                       dynamic_update_slice,
                                                       dynamic_update_slice_in_dim,
                                                       dynamic_update_slice_p)

__all__ = [
    "GatherDimensionNumbers", "ScatterDimensionNumbers", "GatherScatterMode",
    "dynamic_slice", "dynamic_slice_in_dim", "dynamic_index_in_dim",
    "dynamic_update_slice", "dynamic_update_slice_in_dim", "dynamic_update_index_in_dim",
    "gather", "scatter", "scatter_add", "scatter_mul", "scatter_min", "scatter_max",
    "dynamic_slice_p", "dynamic_update_slice_p", "gather_p", "scatter_p", "scatter_add_p",
    "scatter_mul_p", "scatter_min_p", "scatter_max_p",
]
