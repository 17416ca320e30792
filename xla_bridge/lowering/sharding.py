"""Lowering of ``sharding_constraint``: Shardy's ``sdy.sharding_constraint`` in a program
partitioned over several devices; nothing in a one-device program."""
from functorch_lite.lax.sharding import sharding_constraint_p
from xla_bridge.lowering.core import register
from xla_bridge.sharding import sdy_sharding


@register(sharding_constraint_p)
def _sharding_constraint(ctx, avals_in, aval_out, x, *, sharding):
    if ctx.num_partitions == 1:
        return x
    return ctx.op("sdy.sharding_constraint", [x], avals_in, aval_out,
                  {"sharding": sdy_sharding(sharding, aval_out.ndim)})
