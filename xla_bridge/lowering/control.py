"""Lowering of primitives that carry programs: ``jit_call`` (inlined; XLA sees one module)."""
from functorch_lite.interpreters.jit_call import jit_call_p
from xla_bridge.lowering.core import register


@register(jit_call_p)
def _jit_call(ctx, avals_in, avals_out, *args, program, name, donated=()):
    return ctx.inline(program, [], args)


from functorch_lite.interpreters.custom_derivatives import (custom_jvp_call_p,  # noqa: E402
                                                            custom_lin_p, custom_vjp_call_p)


@register(custom_jvp_call_p)
def _custom_jvp_call(ctx, avals_in, avals_out, *args, call, jvp, num_consts):
    return ctx.inline(call, [], args)


@register(custom_vjp_call_p)
def _custom_vjp_call(ctx, avals_in, avals_out, *args, call, fwd, bwd, num_consts):
    return ctx.inline(call, [], args)


@register(custom_lin_p)
def _custom_lin(ctx, avals_in, avals_out, *args, **params):
    raise TypeError("can't apply forward-mode autodiff (jvp) to a custom_vjp function.")


from functorch_lite.interpreters.checkpoint import checkpoint_p  # noqa: E402


@register(checkpoint_p)
def _checkpoint(ctx, avals_in, avals_out, *args, program, policy, prevent_cse=True):
    if prevent_cse and args:
        # An optimization barrier makes the inputs opaque to XLA, so the recomputation
        # in the backward pass is not merged with the forward pass's copy.
        args = ctx.op("stablehlo.optimization_barrier", list(args), avals_in, list(avals_in))
    return ctx.inline(program, [], args)
