"""Reductions over axes (sum, product, max, min, and, or), argmax/argmin, and the cumulative
ops (cumsum, cumprod, cummax, cummin); one module per family, each primitive declared with
its rules.

Every reduction removes the axes it reduces. Reducing an empty axis gives the reduction's
identity (0 for a sum, -inf or the smallest integer for a max, ...), as in ``jax.lax``.
Axes are normalized by the public functions (negative axes made positive, sorted, as a
tuple), so equal calls share one compiled program.
"""
# (the primitives are importable from here too, though not star-exported into lax)
from functorch_lite.lax.reductions.cumulative import (cummax, cummax_p, cummin,  # noqa: F401
                                                      cummin_p, cumprod, cumprod_p, cumsum,
                                                      cumsum_p)
from functorch_lite.lax.reductions.reduce import (reduce_and, reduce_and_p,  # noqa: F401
                                                  reduce_max, reduce_max_p, reduce_min,
                                                  reduce_min_p, reduce_or, reduce_or_p,
                                                  reduce_prod, reduce_prod_p, reduce_sum,
                                                  reduce_sum_p)
from functorch_lite.lax.reductions.argminmax import (argmax, argmax_p, argmin,  # noqa: F401
                                                     argmin_p)

__all__ = [
    "reduce_sum", "reduce_prod", "reduce_max", "reduce_min", "reduce_and", "reduce_or",
    "argmax", "argmin", "cumsum", "cumprod", "cummax", "cummin",
]
