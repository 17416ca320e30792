"""Structured control flow: ``cond``/``switch``, ``while_loop``, ``fori_loop``, ``scan`` and
``map``. Each is a primitive holding IR programs for its bodies (traced once), with rules
for every transformation that rewrite those programs through the interpreters' program
transforms (``ad.jvp_program``, ``batching.batch_program``, ``transpose.transpose_program``,
``partial_eval.split_program``). One module per primitive, its rules beside it."""
from functorch_lite.lax.control_flow.cond import cond, cond_p, switch
from functorch_lite.lax.control_flow.loops import fori_loop, map
from functorch_lite.lax.control_flow.scan import scan, scan_p
from functorch_lite.lax.control_flow.while_loop import while_loop, while_p

__all__ = ["cond", "switch", "while_loop", "fori_loop", "scan", "map"]  # (the primitives are
# imported from here by name, not re-exported by lax's star import)
