"""StableHLO lowering of the host callbacks (functorch_lite/lax/callbacks.py).

Each callback becomes a custom call to the Python-callback handler that jaxlib registers
with XLA (``xla_ffi_python_cpu_callback`` / ``..._gpu_callback``); its ``index`` attribute
says which entry of the module's ``host_callbacks`` to call, and the compiler is handed
that list (``compile.compile_program``). Effectful callbacks (io_callback, debug callbacks)
are marked ``has_side_effect`` so XLA neither drops nor merges them; ordered ones thread a
token through the calls of their region, so XLA keeps them in program order.
"""
from __future__ import annotations

from typing import Callable, Sequence

from functorch_lite.core.avals import ShapedArray
from functorch_lite.lax import callbacks as cb
from xla_bridge.lowering.core import register

_TARGETS = {"cpu": "xla_ffi_python_cpu_callback", "cuda": "xla_ffi_python_gpu_callback",
            "rocm": "xla_ffi_python_gpu_callback", "gpu": "xla_ffi_python_gpu_callback"}
_NAMES = "pure_callback, io_callback, debug.print, debug.callback"


def _attrs(ctx, fn: Callable, has_side_effect: bool) -> dict:
    if ctx.num_partitions > 1 or ctx.manual_mesh is not None:
        raise NotImplementedError(
            f"host callbacks ({_NAMES}) inside a program partitioned over several devices "
            f"are not supported yet")
    target = _TARGETS.get(ctx.platform)
    if target is None:
        raise NotImplementedError(f"host callbacks ({_NAMES}) are not supported on "
                                  f"{ctx.platform}")
    ctx.host_callbacks.append(fn)
    return {"call_target_name": f'"{target}"', "api_version": "4 : i32",
            "has_side_effect": "true" if has_side_effect else "false",
            "backend_config": f"{{index = {len(ctx.host_callbacks) - 1} : ui64}}"}


def _emit(ctx, on_host: Callable[[tuple], tuple], args: Sequence[str],
          avals_in: Sequence[ShapedArray], avals_out: Sequence[ShapedArray], *,
          has_side_effect: bool, ordered: bool) -> list[str]:
    """One custom call running ``on_host(values) -> results``; the results' names."""
    if not ordered:
        return ctx.op("stablehlo.custom_call", list(args), avals_in, list(avals_out),
                      _attrs(ctx, lambda *values: on_host(values), has_side_effect))

    # Ordered: the call also takes this region's token and returns the next one.
    def on_host_ordered(token, *values):
        return (token, *on_host(values))
    attrs = _attrs(ctx, on_host_ordered, has_side_effect=True)
    if ctx.token is None:
        ctx.token = ctx.fresh()
        ctx.emit(f'{ctx.token} = "stablehlo.after_all"() : () -> !stablehlo.token')
    token = ctx.fresh()
    outs = [ctx.fresh() for _ in avals_out]
    attr_text = ", ".join(f"{k} = {v}" for k, v in attrs.items())
    result_types = _types(ctx, avals_out, token=True)
    if outs:
        result_types = f"({result_types})"
    ctx.emit(f'{", ".join([token, *outs])} = "stablehlo.custom_call"'
             f'({", ".join([ctx.token, *args])}) {{{attr_text}}} : '
             f'({_types(ctx, avals_in, token=True)}) -> {result_types}')
    ctx.token = token
    return outs


@register(cb.pure_callback_p)
def _pure_callback(ctx, avals_in, avals_out, *args, callback, result_avals, vmap_method):
    def on_host(values):
        return tuple(cb.call_with_results(callback, result_avals, values, "pure_callback"))
    return _emit(ctx, on_host, args, avals_in, avals_out, has_side_effect=False,
                 ordered=False)


@register(cb.io_callback_p)
def _io_callback(ctx, avals_in, avals_out, *args, callback, result_avals, ordered):
    def on_host(values):
        return tuple(cb.call_with_results(callback, result_avals, values, "io_callback"))
    return _emit(ctx, on_host, args, avals_in, avals_out, has_side_effect=True,
                 ordered=ordered)


@register(cb.debug_callback_p)
def _debug_callback(ctx, avals_in, avals_out, *args, callback, ordered):
    def on_host(values):
        cb.call_debug(callback, values)
        return ()
    return _emit(ctx, on_host, args, avals_in, [], has_side_effect=True, ordered=ordered)


def _types(ctx, avals: Sequence[ShapedArray], token: bool) -> str:
    types = ctx.types(avals)
    return "!stablehlo.token" + (", " + types if types else "") if token else types
