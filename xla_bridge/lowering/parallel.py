"""Collectives outside any vmap/sharded axis: there is no axis to combine over."""
from functorch_lite.lax import parallel as par
from xla_bridge.lowering.core import register


def _unbound(name):
    def rule(ctx, avals_in, aval_out, *args, axis_name, **params):
        raise par._unbound(name, axis_name)
    return rule


for _p in (par.psum_p, par.pmax_p, par.pmin_p, par.all_gather_p, par.axis_index_p):
    register(_p)(_unbound(_p.name))
