"""Lowering of ``custom_linear_solve``: only its ``solve`` program runs, inlined (XLA sees
one module). The other three programs matter only to the derivative and batching rules."""
from functorch_lite.lax.custom_solve import linear_solve_p
from xla_bridge.lowering.core import register


@register(linear_solve_p)
def _custom_linear_solve(ctx, avals_in, avals_out, *args, programs, const_lengths):
    start = const_lengths.matvec + const_lengths.vecmat
    solve_consts = args[start:start + const_lengths.solve]
    b = args[sum(const_lengths):]
    return ctx.inline(programs.solve, [], [*solve_consts, *b])
