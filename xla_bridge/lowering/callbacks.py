"""StableHLO lowering of the host callbacks (functorch_lite/lax/callbacks.py).

Each callback becomes a custom call to the Python-callback handler that jaxlib registers
with XLA (``xla_ffi_python_cpu_callback`` / ``..._gpu_callback``); its ``index`` attribute
says which entry of the module's ``host_callbacks`` to call, and the compiler is handed
that list (``compile.compile_program``). Ordered debug callbacks thread a token through
the calls of their region, so XLA keeps them in program order.
"""
from __future__ import annotations

from typing import Callable, Sequence

from functorch_lite.core.avals import ShapedArray
from functorch_lite.lax import callbacks as cb
from xla_bridge.lowering.core import register

_TARGETS = {"cpu": "xla_ffi_python_cpu_callback", "cuda": "xla_ffi_python_gpu_callback",
            "rocm": "xla_ffi_python_gpu_callback", "gpu": "xla_ffi_python_gpu_callback"}


def _attrs(ctx, fn: Callable, has_side_effect: bool) -> dict:
    if ctx.num_partitions > 1 or ctx.manual_mesh is not None:
        raise NotImplementedError(
            "host callbacks (pure_callback, debug.print, debug.callback) inside a program "
            "partitioned over several devices are not supported yet")
    target = _TARGETS.get(ctx.platform)
    if target is None:
        raise NotImplementedError(f"host callbacks (pure_callback, debug.print, "
                                  f"debug.callback) are not supported on {ctx.platform}")
    ctx.host_callbacks.append(fn)
    return {"call_target_name": f'"{target}"', "api_version": "4 : i32",
            "has_side_effect": "true" if has_side_effect else "false",
            "backend_config": f"{{index = {len(ctx.host_callbacks) - 1} : ui64}}"}


@register(cb.pure_callback_p)
def _pure_callback(ctx, avals_in, avals_out, *args, callback, result_avals, vmap_method):
    def on_host(*values):
        return tuple(cb.call_pure(callback, result_avals, values))
    return ctx.op("stablehlo.custom_call", list(args), avals_in, list(avals_out),
                  _attrs(ctx, on_host, has_side_effect=False))


@register(cb.debug_callback_p)
def _debug_callback(ctx, avals_in, avals_out, *args, callback, ordered):
    if not ordered:
        def on_host(*values):
            cb.call_debug(callback, values)
            return ()
        ctx.op("stablehlo.custom_call", list(args), avals_in, [],
               _attrs(ctx, on_host, has_side_effect=True))
        return []

    # Ordered: the call takes this region's token and returns the next one.
    def on_host_ordered(token, *values):
        cb.call_debug(callback, values)
        return (token,)
    attrs = _attrs(ctx, on_host_ordered, has_side_effect=True)
    if ctx.token is None:
        ctx.token = ctx.fresh()
        ctx.emit(f'{ctx.token} = "stablehlo.after_all"() : () -> !stablehlo.token')
    token = ctx.fresh()
    attr_text = ", ".join(f"{k} = {v}" for k, v in attrs.items())
    ctx.emit(f'{token} = "stablehlo.custom_call"({", ".join([ctx.token, *args])}) '
             f'{{{attr_text}}} : ({_types(ctx, avals_in, token=True)}) -> !stablehlo.token')
    ctx.token = token
    return []


def _types(ctx, avals: Sequence[ShapedArray], token: bool) -> str:
    types = ctx.types(avals)
    return "!stablehlo.token" + (", " + types if types else "") if token else types
