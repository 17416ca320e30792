"""Lowering of the primitives that carry programs: ``jit_call``, the custom-derivative
calls and ``checkpoint`` are inlined (XLA sees one module); ``cond``, ``while`` and
``scan`` become StableHLO's structured control flow."""
import numpy as np

from functorch_lite.core.avals import ShapedArray
from functorch_lite.lax import control_flow as cf
from functorch_lite.lax.checkpoint import checkpoint_p
from functorch_lite.lax.custom_derivatives import (custom_jvp_call_p, custom_lin_p,
                                                   custom_vjp_call_p)
from functorch_lite.lax.jit_call import jit_call_p
from xla_bridge.lowering.core import register
from xla_bridge.lowering.elementwise import compare


@register(jit_call_p)
def _jit_call(ctx, avals_in, avals_out, *args, program, name, donated=()):
    return ctx.inline(program, [], args)


@register(custom_jvp_call_p)
def _custom_jvp_call(ctx, avals_in, avals_out, *args, call, jvp, num_consts):
    return ctx.inline(call, [], args)


@register(custom_vjp_call_p)
def _custom_vjp_call(ctx, avals_in, avals_out, *args, call, fwd, bwd, num_consts):
    return ctx.inline(call, [], args)


@register(custom_lin_p)
def _custom_lin(ctx, avals_in, avals_out, *args, **params):
    raise TypeError("can't apply forward-mode autodiff (jvp) to a custom_vjp function.")


@register(checkpoint_p)
def _checkpoint(ctx, avals_in, avals_out, *args, program, policy, prevent_cse=True):
    if prevent_cse and args:
        # An optimization barrier makes the inputs opaque to XLA, so the recomputation
        # in the backward pass is not merged with the forward pass's copy.
        args = ctx.op("stablehlo.optimization_barrier", list(args), avals_in, list(avals_in))
    return ctx.inline(program, [], args)


# ---------------------------------------------------------------------------------------
# Structured control flow

_I32 = ShapedArray((), np.int32)


@register(cf.cond_p)
def _cond(ctx, avals_in, avals_out, index, *args, branches):
    regions = []
    for program in branches:
        def body(program=program):
            outs = ctx.inline(program, [], args)
            return outs, list(avals_out)
        regions.append(ctx.region([], body))
    outs = ctx.op("stablehlo.case", [index], [avals_in[0]], list(avals_out), regions=regions)
    return outs


@register(cf.while_p)
def _while(ctx, avals_in, avals_out, *args, cond_program, body_program, cond_nconsts,
           body_nconsts):
    # Constants travel as loop-carried values, so the regions only use their own arguments.
    nc, nb = cond_nconsts, body_nconsts
    avals = list(avals_in)

    def cond_body(*xs):
        cc, carry = xs[:nc], xs[nc + nb:]
        (pred,) = ctx.inline(cond_program, [], [*cc, *carry])
        return [pred], [ShapedArray((), np.bool_)]

    def body_body(*xs):
        bc, carry = xs[nc:nc + nb], xs[nc + nb:]
        new = ctx.inline(body_program, [], [*bc, *carry])
        return [*xs[:nc + nb], *new], avals

    outs = ctx.op("stablehlo.while", list(args), avals, avals,
                  regions=[ctx.region(avals, cond_body), ctx.region(avals, body_body)])
    return outs[nc + nb:]


@register(cf.scan_p)
def _scan(ctx, avals_in, avals_out, *args, program, num_consts, num_carry, length, reverse,
          unroll):
    nc, nk = num_consts, num_carry
    nx = len(args) - nc - nk
    ys_avals = list(avals_out[nk:])
    ys_init = [ctx.broadcast_in_dim(ctx.constant(0, a.update(shape=())), a.update(shape=()),
                                    a.shape, ()) for a in ys_avals]
    if length == 0:
        # No iterations: the carry passes through and the ys are empty (a loop would still
        # trace a body slicing a size-0 axis, which StableHLO rejects).
        return [*args[nc:nc + nk], *ys_init]
    zero = ctx.constant(0, _I32)
    operands = [zero, *args, *ys_init]
    avals = [_I32, *avals_in, *ys_avals]
    steps = max(1, min(int(unroll), length))
    # The loop runs ``steps`` iterations per trip; a remainder runs after it, straight-line.
    # Fully unrolled (``steps == length``): no loop at all.
    looped = 0 if steps == length else length - length % steps

    def cond_body(i, *rest):
        limit = ctx.constant(looped, _I32)
        return [compare(ctx, i, limit, _I32, "LT")], [ShapedArray((), np.bool_)]

    def one_step(i, consts, carry, xs, ys):
        idx = ctx.op("stablehlo.subtract", [ctx.constant(length - 1, _I32), i],
                     [_I32, _I32], _I32) if reverse else i
        x_slices = []
        for x, a in zip(xs, avals_in[nc + nk:]):
            zeros = [ctx.constant(0, _I32)] * (a.ndim - 1)
            piece_aval = a.update(shape=(1, *a.shape[1:]))
            piece = ctx.op("stablehlo.dynamic_slice", [x, idx, *zeros],
                           [a, _I32, *[_I32] * (a.ndim - 1)], piece_aval,
                           {"slice_sizes": f"array<i64: {', '.join(map(str, piece_aval.shape))}>"})
            x_slices.append(ctx.op("stablehlo.reshape", [piece], [piece_aval],
                                   a.update(shape=a.shape[1:])))
        outs = ctx.inline(program, [], [*consts, *carry, *x_slices])
        new_carry, y_vals = outs[:nk], outs[nk:]
        new_ys = []
        for acc, y, a in zip(ys, y_vals, ys_avals):
            y_aval = a.update(shape=a.shape[1:])
            up_aval = a.update(shape=(1, *a.shape[1:]))
            up = ctx.op("stablehlo.reshape", [y], [y_aval], up_aval)
            zeros = [ctx.constant(0, _I32)] * (a.ndim - 1)
            new_ys.append(ctx.op("stablehlo.dynamic_update_slice", [acc, up, idx, *zeros],
                                 [a, up_aval, _I32, *[_I32] * (a.ndim - 1)], a))
        i_next = ctx.op("stablehlo.add", [i, ctx.constant(1, _I32)], [_I32, _I32], _I32)
        return i_next, new_carry, new_ys

    def body_body(i, *rest):
        consts, carry = rest[:nc], list(rest[nc:nc + nk])
        xs, ys = rest[nc + nk:nc + nk + nx], list(rest[nc + nk + nx:])
        for _ in range(steps):
            i, carry, ys = one_step(i, consts, carry, xs, ys)
        return [i, *consts, *carry, *xs, *ys], avals

    if looped:
        outs = ctx.op("stablehlo.while", operands, avals, avals,
                      regions=[ctx.region(avals, cond_body), ctx.region(avals, body_body)])
    else:
        outs = operands
    i, consts, carry = outs[0], outs[1:1 + nc], list(outs[1 + nc:1 + nc + nk])
    xs, ys = outs[1 + nc + nk:1 + nc + nk + nx], list(outs[1 + nc + nk + nx:])
    for _ in range(length - looped):
        i, carry, ys = one_step(i, consts, carry, xs, ys)
    return [*carry, *ys]
