"""Lowering of primitives that carry programs: ``jit_call`` (inlined; XLA sees one module)."""
from functorch_lite.interpreters.jit_call import jit_call_p
from xla_bridge.lowering.core import register


@register(jit_call_p)
def _jit_call(ctx, avals_in, avals_out, *args, program, name, donated=()):
    return ctx.inline(program, [], args)
