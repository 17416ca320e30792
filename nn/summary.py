"""``nn.summary`` and ``nn.count_params``: what a model holds, as Keras prints it."""
from __future__ import annotations

import numpy as np

import functorch_lite as fl
from functorch_lite import random

from .module import Module, _get, _init_scope, _is_array, _traceable

__all__ = ["summary", "count_params"]


def count_params(params) -> int:
    """The number of scalars in a pytree of arrays."""
    return int(sum(int(np.prod(np.shape(x))) for x in fl.tree.leaves(params)))


def _nbytes(tree) -> int:
    return int(sum(int(np.prod(np.shape(x))) * np.dtype(x.dtype).itemsize
                   for x in fl.tree.leaves(tree)))


def _fmt_bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.2f} {unit}" if unit != "B" else f"{n} B"
        n /= 1024


def _shapes(out) -> str:
    leaves = fl.tree.leaves(out)
    shapes = [f"{np.dtype(x.dtype).name}{list(x.shape)}" for x in leaves if _is_array(x)]
    return shapes[0] if len(shapes) == 1 else "(" + ", ".join(shapes) + ")"


def summary(model: Module, *args, **kwargs) -> str:
    """A Keras-style table of ``model`` run on example inputs: each layer's path, type,
    output shape and parameter count, then the totals of parameters and bytes. Only traced
    (nothing is computed). Returns the table as a string."""
    rows: list = []
    totals: dict = {}
    arrays, rebuild = _traceable(args, kwargs)

    def run(key, arrays):
        scope = _init_scope(model, key, record=rows)
        out = model._run(scope, type(model).__call__, *rebuild(arrays))
        totals.update(params=scope.params, state=scope.state_out, out=out)
        return out

    fl.make_ir(run)(random.PRNGKey(0), arrays)
    params, state = totals["params"], totals["state"]
    table = [("Layer", "Type", "Output shape", "Params")]
    for path, kind, out in rows:
        sub = _get(params, path)
        table.append(("/".join(path), kind, _shapes(out),
                      f"{count_params(sub) if sub is not None else 0:,}"))
    table.append(("(output)", type(model).__name__, _shapes(totals["out"]),
                  f"{count_params(params):,}"))
    widths = [max(len(r[i]) for r in table) for i in range(4)]
    rule = "-" * (sum(widths) + 6)

    def line(r):
        return "  ".join(c.ljust(w) if i < 3 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(r, widths)))

    out = [line(table[0]), rule] + [line(r) for r in table[1:-1]] + [rule, line(table[-1])]
    n, nb = count_params(params), _nbytes(params)
    out.append(f"Total params: {n:,} ({_fmt_bytes(nb)})")
    if fl.tree.leaves(state):
        out.append(f"State (not trained): {count_params(state):,} "
                   f"({_fmt_bytes(_nbytes(state))})")
    return "\n".join(out)

