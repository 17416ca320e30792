"""Lowering of ``shard_map``: Shardy's ``sdy.manual_computation``. The region is the
per-device program on per-device shapes; collectives inside it see the mesh
(``ctx.manual_mesh``) and become XLA collectives (``lowering/parallel.py``)."""
from functorch_lite.lax.shard_map import shard_map_p
from xla_bridge.lowering.core import register
from xla_bridge.sharding import sdy_tensor_sharding


def _per_value(specs, avals) -> str:
    return ("#sdy.sharding_per_value<[" +
            ", ".join(sdy_tensor_sharding(s, a.ndim) for s, a in zip(specs, avals)) + "]>")


@register(shard_map_p)
def _shard_map(ctx, avals_in, avals_out, *args, program, mesh, in_specs, out_specs):
    if ctx.num_partitions == 1:  # one device: its piece is the whole
        saved, ctx.manual_mesh = ctx.manual_mesh, mesh
        try:
            return ctx.inline(program, [], args)
        finally:
            ctx.manual_mesh = saved
    local_in = [v.aval for v in program.invars]
    local_out = [v.aval for v in program.outvars]

    def body(*names):
        saved, ctx.manual_mesh = ctx.manual_mesh, mesh
        try:
            return ctx.inline(program, [], names), local_out
        finally:
            ctx.manual_mesh = saved

    region = ctx.region(local_in, body, terminator="sdy.return")
    axes = ", ".join(f'"{n}"' for n in mesh.axis_names)
    outs = ctx.op("sdy.manual_computation", list(args), avals_in, list(avals_out),
                  {"in_shardings": _per_value(in_specs, avals_in),
                   "out_shardings": _per_value(out_specs, avals_out),
                   "manual_axes": f"#sdy<manual_axes{{{axes}}}>"}, regions=[region])
    return outs
