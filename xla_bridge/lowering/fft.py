"""StableHLO lowering of the Fourier transforms (functorch_lite/lax/fft.py)."""
from __future__ import annotations

from functorch_lite.lax.fft import fft_p
from xla_bridge.lowering.core import i64_array, register


@register(fft_p)
def _fft(ctx, avals_in, aval_out, x, *, fft_type, fft_lengths):
    return ctx.op("stablehlo.fft", [x], avals_in, aval_out,
                  {"fft_type": f"#stablehlo<fft_type {fft_type.name}>",
                   "fft_length": i64_array(fft_lengths)})
