"""Windowed reductions (pooling): ``reduce_window`` with ``add``, ``max``, ``min`` or any
other binary computation.

A window of ``window_dimensions`` elements slides over the operand, ``window_strides``
apart; each output element reduces one window. Before sliding, the operand may be dilated
(``base_dilation``: holes between its elements) and padded (``padding``: ``(lo, hi)``
per dimension); the window may be dilated too (``window_dilation``). Holes and padding hold
the reduction's identity (0 for sums, -inf or the dtype's minimum for max, +inf or its
maximum for min), so they never win.

Each monoid reduction is its own primitive (``reduce_window_sum``, ``reduce_window_max``,
``reduce_window_min``) with params ``window_dimensions``, ``window_strides``, ``padding``
(``(lo, hi)`` pairs), ``base_dilation`` and ``window_dilation``, one entry per dimension;
these are differentiable in both modes. Any other computation (``lax.mul``, a lambda, a
monoid with another init value, several operands at once) is ``reduce_window``, which
holds the computation as an IR program: forward mode and vmap work, reverse mode does not
(as in JAX).

One module per family, each primitive declared with its rules: ``monoid`` (the three monoid
reductions), ``select`` (the two helper primitives of max/min pooling's derivatives),
``generic`` (``reduce_window`` itself); ``_params`` holds what they share.
"""
from functorch_lite.lax.windowed._params import reduce_window_identity  # noqa: F401
from functorch_lite.lax.windowed.select import (reduce_window_select_p,  # noqa: F401
                                                select_and_scatter_add_p)
from functorch_lite.lax.windowed.monoid import (reduce_window_max, reduce_window_max_p,
                                                reduce_window_min, reduce_window_min_p,
                                                reduce_window_sum, reduce_window_sum_p)
from functorch_lite.lax.windowed.generic import reduce_window, reduce_window_p

__all__ = ["reduce_window", "reduce_window_sum", "reduce_window_max", "reduce_window_min",
           "reduce_window_sum_p", "reduce_window_max_p", "reduce_window_min_p",
           "reduce_window_p"]
