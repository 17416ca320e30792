"""StableHLO lowering of ``call_exported`` (functorch_lite/lax/exported_call.py): the
exported module's functions are pasted into the calling module, renamed apart and made
private, and its ``main`` is called. XLA inlines the call when it compiles."""
from __future__ import annotations

import functools

from functorch_lite.lax.exported_call import call_exported_p
from xla_bridge import _jaxlib
from xla_bridge.lowering.core import LoweringError, register


@functools.lru_cache(maxsize=64)
def _functions(artifact: bytes, prefix: str) -> tuple[str, ...]:
    # Parsing and printing a large module is slow; a module called in many programs (or
    # under grad, where its VJP is lowered too) is renamed once per prefix.
    return tuple(_jaxlib.artifact_functions(artifact, prefix))


@register(call_exported_p)
def _call_exported(ctx, avals_in, avals_out, *args, exported):
    if ctx.platform not in exported.platforms:  # (Exported.call checks it first)
        raise LoweringError(f"Function {exported.fun_name!r} was exported for platforms "
                            f"{exported.platforms} but is lowered for {ctx.platform!r}")
    artifact = bytes(exported.mlir_module_serialized)
    callee = ctx.add_functions(("exported", artifact),
                               lambda prefix: _functions(artifact, prefix))
    return ctx.op("func.call", list(args), avals_in, list(avals_out),
                  {"callee": f"@{callee}"})
