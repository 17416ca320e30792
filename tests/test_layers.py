"""DESIGN.md's layer rules, checked on the source text: ``xla_bridge`` knows no
transformations (it imports nothing from ``functorch_lite/interpreters``), and ``numpy``,
``random``, ``scipy`` and ``xla_bridge`` know no tracers (they import no tracer type; they
test ``isinstance(x, Array)`` or ask ``core.trace.is_traced``).

The files are parsed with ``ast``, never imported, so a violation is found wherever it sits:
at module level, inside a function, under ``if TYPE_CHECKING``."""
from __future__ import annotations

import ast
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
INTERPRETERS = "functorch_lite.interpreters"
# ``Tracer`` and every tracer class (``JVPTracer``, ``BatchTracer``, ...).
TRACER_NAME = re.compile(r"^([A-Z]\w*)?Tracer$")


def _modules(*parts: str) -> list[pathlib.Path]:
    out = []
    for part in parts:
        path = ROOT / part
        out.extend(sorted(path.rglob("*.py")) if path.is_dir() else [path])
    return out


def _is_interpreters(name: str) -> bool:
    return name == INTERPRETERS or name.startswith(INTERPRETERS + ".")


def interpreter_imports(source: str) -> list[str]:
    """Every import of ``functorch_lite.interpreters`` or a module in it; ``from a import b``
    counts when ``a.b`` is one (``from functorch_lite import interpreters``)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [f"line {node.lineno}: import {a.name}" for a in node.names
                      if _is_interpreters(a.name)]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            if _is_interpreters(node.module) or any(
                    _is_interpreters(f"{node.module}.{a.name}") for a in node.names):
                found.append(f"line {node.lineno}: from {node.module} import "
                             + ", ".join(a.name for a in node.names))
    return found


def tracer_imports(source: str) -> list[str]:
    """Tracer types imported by name (``from ... import Tracer``, ``... import JVPTracer as
    J``) or reached through a module (``trace_mod.Tracer``)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            found += [f"line {node.lineno}: import {a.name}" for a in node.names
                      if TRACER_NAME.match(a.name)]
        elif isinstance(node, ast.Import):
            found += [f"line {node.lineno}: import {a.name}" for a in node.names
                      if TRACER_NAME.match(a.name.rsplit(".", 1)[-1])]
        elif isinstance(node, ast.Attribute) and TRACER_NAME.match(node.attr):
            found.append(f"line {node.lineno}: .{node.attr}")
    return found


def _rel(path: pathlib.Path) -> str:
    return str(path.relative_to(ROOT))


def _cases(paths: list[pathlib.Path]) -> list:
    return [pytest.param(p, id=_rel(p)) for p in paths]


BRIDGE = _modules("xla_bridge")
NO_TRACERS = _modules("functorch_lite/numpy", "functorch_lite/random.py",
                      "functorch_lite/scipy", "xla_bridge")


def test_the_layers_are_where_the_test_looks():
    assert len(BRIDGE) > 5 and len(NO_TRACERS) > len(BRIDGE) + 5
    assert all(p.exists() for p in NO_TRACERS)


@pytest.mark.parametrize("path", _cases(BRIDGE))
def test_xla_bridge_imports_nothing_from_interpreters(path):
    found = interpreter_imports(path.read_text())
    assert not found, (f"{_rel(path)} imports from {INTERPRETERS} (the bridge must know no "
                       f"transformations): {found}")


@pytest.mark.parametrize("path", _cases(NO_TRACERS))
def test_no_tracer_types_outside_the_core(path):
    found = tracer_imports(path.read_text())
    assert not found, (f"{_rel(path)} names a tracer type; test isinstance(x, Array) or ask "
                       f"core.trace.is_traced(x) instead: {found}")


# The checkers themselves: each form of import is caught, at any depth.
@pytest.mark.parametrize("source", [
    "from functorch_lite.interpreters.jit_call import jit_call_p",
    "import functorch_lite.interpreters.ad",
    "import functorch_lite.interpreters as interp",
    "from functorch_lite import interpreters",
    "def f():\n    from functorch_lite.interpreters import batching\n",
])
def test_interpreter_imports_are_caught(source):
    assert interpreter_imports(source)


@pytest.mark.parametrize("source", [
    "from functorch_lite.core.trace import Tracer",
    "from functorch_lite.interpreters.ad import JVPTracer as J",
    "def f(x):\n    from functorch_lite.core.trace import Tracer\n    return x\n",
    "from functorch_lite.core import trace\nisinstance(1, trace.Tracer)",
])
def test_tracer_imports_are_caught(source):
    assert tracer_imports(source)


@pytest.mark.parametrize("source", [
    "from functorch_lite.core.avals import Array",
    "from functorch_lite.core.trace import is_traced",
    "from functorch_lite.lax.interpreters_helpers import x",
    "escaped_tracer = 1\nx.escaped_tracer",
])
def test_allowed_imports_pass(source):
    assert not interpreter_imports(source) and not tracer_imports(source)
