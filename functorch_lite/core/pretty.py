"""A small document layout engine (Wadler's "prettier printer", in Lindig's strict form).

A document is text with optional line breaks. ``group(d)`` prints ``d`` on one line when
it fits in the width left on the current line, else every break directly inside it becomes
a newline (indented by the enclosing ``nest`` levels); groups nested inside decide again.
The IR printer builds its documents from these pieces, so a short program prints on one
line and a long one one equation a line, as jaxprs do.

    >>> render(group(cat(text("let"), nest(2, cat(brk(), text("x"))))), width=80)
    'let x'

Documents are plain tuples: ("text", s), ("brk", s), ("cat", docs), ("nest", n, d),
("group", d).
"""
from __future__ import annotations

from typing import Sequence

Doc = tuple

NIL: Doc = ("cat", ())


def text(s: str) -> Doc:
    return ("text", s)


def brk(s: str = " ") -> Doc:
    """A newline when its group is broken, else ``s``."""
    return ("brk", s)


def cat(*docs: Doc) -> Doc:
    return ("cat", docs)


def nest(n: int, doc: Doc) -> Doc:
    """Indent the lines that breaks inside ``doc`` start by ``n`` more columns."""
    return ("nest", n, doc)


def group(doc: Doc) -> Doc:
    return ("group", doc)


def join(sep: Doc, docs: Sequence[Doc]) -> Doc:
    parts: list[Doc] = []
    for i, d in enumerate(docs):
        if i:
            parts.append(sep)
        parts.append(d)
    return ("cat", tuple(parts))


def _fits(doc: Doc, room: int) -> bool:
    """Whether ``doc`` laid out flat is at most ``room`` characters (stops once it is not,
    so the cost is bounded by the width, not by the document)."""
    stack = [doc]
    while stack:
        d = stack.pop()
        kind = d[0]
        if kind == "text" or kind == "brk":
            room -= len(d[1])
            if room < 0:
                return False
        elif kind == "cat":
            stack.extend(reversed(d[1]))
        elif kind == "nest":
            stack.append(d[2])
        else:  # group
            stack.append(d[1])
    return True


def render(doc: Doc, width: int = 80) -> str:
    out: list[str] = []
    col = 0
    stack: list[tuple[int, bool, Doc]] = [(0, False, doc)]  # (indent, flat, doc)
    while stack:
        indent, flat, d = stack.pop()
        kind = d[0]
        if kind == "text":
            out.append(d[1])
            col += len(d[1])
        elif kind == "cat":
            stack.extend((indent, flat, c) for c in reversed(d[1]))
        elif kind == "brk":
            if flat:
                out.append(d[1])
                col += len(d[1])
            else:
                out.append("\n" + " " * indent)
                col = indent
        elif kind == "nest":
            stack.append((indent + d[1], flat, d[2]))
        else:  # group: decided once, here, by the width left on this line
            stack.append((indent, flat or _fits(d[1], width - col), d[1]))
    return "".join(out)
