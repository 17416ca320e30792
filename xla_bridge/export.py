"""Exported modules (``fl.export``): a program lowered with its constants written in, as a
StableHLO portable artifact, and an artifact read back as text."""
from __future__ import annotations

from typing import Any, Sequence

from functorch_lite.core.ir import Program
from xla_bridge import _jaxlib
from xla_bridge.lowering.core import lower_program


def export_module(program: Program, consts: Sequence[Any], name: str, platform: str) -> bytes:
    """The portable artifact of ``program``: ``@main`` takes its invars, and ``consts``
    (the values of its constvars) are written into the module."""
    callbacks: list = []
    text = lower_program(program, name=name, consts=consts, host_callbacks=callbacks,
                         platform=platform)
    if callbacks:
        # The module would name Python functions of this process by index.
        raise NotImplementedError("serialization of host callbacks (pure_callback, "
                                  "debug.print, debug.callback) is not supported")
    return _jaxlib.portable_artifact(text)


def exported_text(artifact: bytes) -> str:
    return _jaxlib.artifact_text(artifact)
