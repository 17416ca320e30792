"""Lowering of ``stop_gradient`` and ``name`` (checkpoint_name), the identity, and of
``optimization_barrier``, StableHLO's op of that name."""
from functorch_lite.lax.misc import name_p, optimization_barrier_p, stop_gradient_p
from xla_bridge.lowering.core import register


@register(stop_gradient_p)
def _stop_gradient(ctx, avals_in, aval_out, x):
    return x


@register(name_p)
def _name(ctx, avals_in, aval_out, x, *, name):
    return x  # a label for checkpoint policies only


@register(optimization_barrier_p)
def _optimization_barrier(ctx, avals_in, avals_out, *args):
    return ctx.op("stablehlo.optimization_barrier", list(args), avals_in, list(avals_out))
