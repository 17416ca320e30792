"""``einsum`` and ``einsum_path``: Einstein summation written on ``lax.dot_general``.

The work is split in three parts:

1. *Parsing* turns the subscripts into one tuple of labels per operand and one for the
   output. Letters are their own labels; the dimensions an ellipsis stands for get the
   labels ``".0"``, ``".1"``, ... numbered so that they line up from the right, as
   broadcasting does.
2. *Preparation* works on each operand alone: dimensions of size 1 whose label is larger
   elsewhere are dropped (that is broadcasting), a label repeated within the operand is
   reduced to its diagonal, and a label used by no other operand and not by the output is
   summed away.
3. *Contraction* follows a path (a list of position tuples, NumPy's convention: the
   operands named by a step leave the list and their product is appended to its end).
   Each pairwise step is one ``dot_general``: labels both operands have become batch
   dimensions when something later still needs them and contracting dimensions otherwise.
   One transpose at the very end puts the labels in the requested output order.

The path comes from a small optimizer of our own: *greedy* repeatedly takes the pair
whose product is smallest (ties: the one that shrinks the total the most), and *optimal*
tries every pairwise order for up to four operands and keeps the one with the fewest
multiply-adds.
"""
from __future__ import annotations

import itertools
import math
import string
from typing import Any, Sequence

import numpy as np

from functorch_lite import lax
from functorch_lite.core import dtypes
from functorch_lite.core.avals import get_aval
from functorch_lite.numpy._util import check_arraylike, promote_dtypes, shape_of
from functorch_lite.numpy.creation import asarray

__all__ = ["einsum", "einsum_path"]

_LETTERS = string.ascii_letters  # the labels NumPy accepts: a-z and A-Z


# ---------------------------------------------------------------------------------------
# Parsing

def _ell_label(i: int) -> str:
    return f".{i}"


def _is_ell(label: str) -> bool:
    return label.startswith(".")


def _split_term(term: str, where: str) -> tuple[list[str], bool]:
    """Letters of one comma-separated term, with ``"..."`` kept as a single item."""
    if term.count("...") > 1:
        raise ValueError(f"einsum: more than one ellipsis in {where} {term!r}")
    items: list[str] = []
    has_ell = False
    rest = term
    while rest:
        if rest.startswith("..."):
            items.append("...")
            has_ell = True
            rest = rest[3:]
            continue
        ch = rest[0]
        if ch == ".":
            raise ValueError(f"einsum: a '.' that is not part of an ellipsis '...' in "
                             f"{where} {term!r}")
        if ch not in _LETTERS:
            raise ValueError(f"einsum: invalid character {ch!r} in {where} {term!r} "
                             "(subscripts are the letters a-z and A-Z)")
        items.append(ch)
        rest = rest[1:]
    return items, has_ell


def _parse(subscripts: str, shapes: Sequence[tuple]) -> tuple[list[tuple], tuple]:
    """Label tuples for every operand and for the output."""
    if not isinstance(subscripts, str):
        raise TypeError(f"einsum: subscripts must be a string, got {type(subscripts).__name__}")
    spec = subscripts.replace(" ", "")
    if spec.count("->") > 1:
        raise ValueError(f"einsum: subscripts {subscripts!r} contain more than one '->'")
    explicit = "->" in spec
    lhs, out_spec = spec.split("->") if explicit else (spec, None)
    if "-" in lhs or ">" in lhs or (out_spec is not None and ("-" in out_spec or ">" in
                                                               out_spec)):
        raise ValueError(f"einsum: malformed '->' in subscripts {subscripts!r}")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(f"einsum: subscripts {subscripts!r} name {len(terms)} operand"
                         f"{'s' if len(terms) != 1 else ''} but {len(shapes)} "
                         f"{'were' if len(shapes) != 1 else 'was'} given")
    parsed = [_split_term(t, f"operand {i} subscripts") for i, t in enumerate(terms)]
    n_ell = 0
    for i, ((items, has_ell), shape) in enumerate(zip(parsed, shapes)):
        named = len(items) - has_ell
        if (has_ell and named > len(shape)) or (not has_ell and named != len(shape)):
            raise ValueError(f"einsum: operand {i} has shape {tuple(shape)} (rank "
                             f"{len(shape)}) but its subscripts {terms[i]!r} name {named} "
                             f"dimension{'s' if named != 1 else ''}")
        if has_ell:
            n_ell = max(n_ell, len(shape) - named)
    in_labels = []
    for (items, has_ell), shape in zip(parsed, shapes):
        labels: list[str] = []
        for it in items:
            if it == "...":
                k = len(shape) - (len(items) - 1)
                labels.extend(_ell_label(j) for j in range(n_ell - k, n_ell))
            else:
                labels.append(it)
        in_labels.append(tuple(labels))
    ell_all = tuple(_ell_label(j) for j in range(n_ell))
    if out_spec is None:
        # Implicit output: the broadcast dims, then the letters used exactly once, sorted.
        counts: dict[str, int] = {}
        for labels in in_labels:
            for lab in labels:
                if not _is_ell(lab):
                    counts[lab] = counts.get(lab, 0) + 1
        out = ell_all + tuple(sorted(lab for lab, c in counts.items() if c == 1))
        return in_labels, out
    items, has_ell = _split_term(out_spec, "output subscripts")
    seen = set()
    for it in items:
        if it == "...":
            continue
        if it in seen:
            raise ValueError(f"einsum: output index {it!r} is repeated in output subscripts "
                             f"{out_spec!r}")
        seen.add(it)
        if not any(it in labels for labels in in_labels):
            raise ValueError(f"einsum: output index {it!r} does not appear in any input "
                             f"subscripts of {subscripts!r}")
    out: list[str] = []
    for it in items:
        out.extend(ell_all if it == "..." else (it,))
    return in_labels, tuple(out)


def _interleaved_to_string(args: tuple) -> tuple[str, list]:
    """``einsum(op0, sub0, op1, sub1, ..., [sub_out])`` with integer subscripts."""
    def term(sub):
        out = []
        for s in sub:
            if s is Ellipsis:
                out.append("...")
            elif isinstance(s, (int, np.integer)) and 0 <= int(s) < len(_LETTERS):
                out.append(_LETTERS[int(s)])
            else:
                raise ValueError(f"einsum: subscripts in the interleaved form must be "
                                 f"integers in [0, {len(_LETTERS)}) or Ellipsis, got {s!r}")
        return "".join(out)
    ops = list(args[0::2][:len(args) // 2])
    subs = [term(s) for s in args[1::2][:len(args) // 2]]
    spec = ",".join(subs)
    if len(args) % 2:
        spec += "->" + term(args[-1])
    return spec, ops


def _label_sizes(in_labels: Sequence[tuple], shapes: Sequence[tuple]) -> dict[str, int]:
    """The size of every label; size-1 dimensions broadcast against larger ones."""
    sizes: dict[str, int] = {}
    where: dict[str, int] = {}
    for i, (labels, shape) in enumerate(zip(in_labels, shapes)):
        mine: dict[str, int] = {}
        for lab, d in zip(labels, shape):
            if lab in mine and mine[lab] != d:
                raise ValueError(f"einsum: index {_show(lab)!r} is repeated in operand {i} "
                                 f"(shape {tuple(shape)}) with different sizes {mine[lab]} "
                                 f"and {d}")
            mine[lab] = d
        for lab, d in mine.items():
            if lab not in sizes or sizes[lab] == 1:
                if lab not in sizes or d != 1:
                    sizes[lab], where[lab] = d, i
            elif d != 1 and d != sizes[lab]:
                what = ("broadcast (ellipsis) dimension" if _is_ell(lab)
                        else f"index {lab!r}")
                raise ValueError(f"einsum: {what} has size {sizes[lab]} in operand "
                                 f"{where[lab]} (shape {tuple(shapes[where[lab]])}) but size "
                                 f"{d} in operand {i} (shape {tuple(shape)})")
    return sizes


def _show(label: str) -> str:
    return "..." if _is_ell(label) else label


# ---------------------------------------------------------------------------------------
# Preparation (label bookkeeping only; the array work is in _prepare_operand)

def _prepared_labels(in_labels, shapes, sizes, out):
    """The labels each operand has after broadcasting, diagonals and lone sums."""
    dropped = [tuple(lab for lab, d in zip(labels, shape) if not (d == 1 and sizes[lab] != 1))
               for labels, shape in zip(in_labels, shapes)]
    deduped = [tuple(dict.fromkeys(labels)) for labels in dropped]
    result = []
    for i, labels in enumerate(deduped):
        others = set(out).union(*(set(l) for j, l in enumerate(deduped) if j != i))
        result.append(tuple(lab for lab in labels if lab in others))
    return dropped, result


def _prepare_operand(x, labels: tuple, shape: tuple, sizes: dict, keep: tuple,
                     preferred) -> tuple[Any, tuple]:
    """Broadcast away stretched size-1 dims, take diagonals of repeated labels and sum
    labels not in ``keep``. Returns the new operand and its labels."""
    labels = list(labels)
    # 1. size-1 dimensions whose label is larger elsewhere: drop them (they broadcast).
    kept = [k for k, (lab, d) in enumerate(zip(labels, shape)) if not (d == 1 and
                                                                       sizes[lab] != 1)]
    if len(kept) != len(labels):
        shape = tuple(shape[k] for k in kept)
        labels = [labels[k] for k in kept]
        x = lax.reshape(x, shape)
    # 2. repeated labels: bring their axes together (a transpose unless they already are),
    #    flatten them into one axis, and take the diagonal with a strided slice: element
    #    (i, i, ..., i) of the flattened n**r axis sits at i * (1 + n + ... + n**(r-1)).
    for lab in list(dict.fromkeys(labels)):
        pos = [k for k, l in enumerate(labels) if l == lab]
        if len(pos) < 2:
            continue
        r, n = len(pos), sizes[lab]
        if pos == list(range(pos[0], pos[0] + r)):
            order = list(range(len(labels)))
            at = pos[0]
        else:
            order = [k for k in range(len(labels)) if k not in pos] + pos
            at = len(labels) - r
            x = lax.transpose(x, tuple(order))
        shape = tuple(shape[k] for k in order)
        labels = [labels[k] for k in order]
        before, after = shape[:at], shape[at + r:]
        flat = before + (n ** r,) + after
        x = lax.reshape(x, flat)
        stride = sum(n ** j for j in range(r))
        strides = (1,) * len(before) + (max(stride, 1),) + (1,) * len(after)
        x = lax.slice(x, (0,) * len(flat), flat, strides)
        labels = labels[:at] + [lab] + labels[at + r:]
        shape = before + (n,) + after
    # 3. labels nobody else needs are summed here, before any contraction.
    gone = tuple(k for k, lab in enumerate(labels) if lab not in keep)
    if gone:
        if preferred is not None and get_aval(x).dtype != preferred:
            x = lax.convert_element_type(x, preferred)
        x = lax.reduce_sum(x, gone)
        labels = [lab for lab in labels if lab in keep]
    return x, tuple(labels)


# ---------------------------------------------------------------------------------------
# Path optimizer

def _size(labels, sizes) -> int:
    return math.prod(sizes[lab] for lab in labels)


def _pair_result(a: tuple, b: tuple, keep: set) -> tuple[tuple, tuple, tuple]:
    """(batch, contract, result labels) of contracting label tuples ``a`` and ``b``;
    ``keep`` holds the labels something later (another operand, the output) needs."""
    sb = set(b)
    batch = tuple(lab for lab in a if lab in sb and lab in keep)
    contract = tuple(lab for lab in a if lab in sb and lab not in keep)
    result = batch + tuple(lab for lab in a if lab not in sb) + \
        tuple(lab for lab in b if lab not in set(a))
    return batch, contract, result


def _keep_for(ops: Sequence[tuple], skip: Sequence[int], out: tuple) -> set:
    keep = set(out)
    for k, labels in enumerate(ops):
        if k not in skip:
            keep.update(labels)
    return keep


def _step(ops: list, i: int, j: int, out: tuple, sizes: dict) -> tuple[list, int, int]:
    """Contract positions ``i`` and ``j``: (new operand list, flops, result size)."""
    a, b = ops[i], ops[j]
    _, _, res = _pair_result(a, b, _keep_for(ops, (i, j), out))
    flops = _size(set(a) | set(b), sizes)
    rest = [o for k, o in enumerate(ops) if k not in (i, j)]
    return rest + [res], flops, _size(res, sizes)


def _greedy_path(ops: list, out: tuple, sizes: dict) -> list[tuple[int, int]]:
    path = []
    while len(ops) > 1:
        best = None
        for i, j in itertools.combinations(range(len(ops)), 2):
            new, _, res_size = _step(ops, i, j, out, sizes)
            shrink = _size(ops[i], sizes) + _size(ops[j], sizes) - res_size
            key = (res_size, -shrink, i, j)
            if best is None or key < best[0]:
                best = (key, (i, j), new)
        path.append(best[1])
        ops = best[2]
    return path


def _optimal_path(ops: list, out: tuple, sizes: dict) -> list[tuple[int, int]]:
    """Every pairwise order (fine for a handful of operands); fewest total flops, then
    smallest largest intermediate."""
    def search(ops):
        if len(ops) <= 1:
            return (0, 0), []
        best = None
        for i, j in itertools.combinations(range(len(ops)), 2):
            new, flops, res_size = _step(ops, i, j, out, sizes)
            (sub_flops, sub_peak), sub_path = search(new)
            cost = (flops + sub_flops, max(res_size, sub_peak))
            if best is None or cost < best[0]:
                best = (cost, [(i, j)] + sub_path)
        return best
    return search(ops)[1]


def _normalize_optimize(optimize: Any, n_ops: int) -> Any:
    if optimize is True:
        return "optimal"
    if optimize is False or optimize is None:
        return "none"
    if isinstance(optimize, str):
        if optimize not in ("optimal", "greedy", "auto", "none"):
            raise ValueError(f"einsum: optimize must be 'optimal', 'greedy', True, False or "
                             f"an explicit path, got {optimize!r}")
        return optimize
    if isinstance(optimize, (list, tuple)):
        path = list(optimize)
        if path and path[0] == "einsum_path":
            path = path[1:]
        try:
            path = [tuple(int(k) for k in step) for step in path]
        except TypeError:
            raise TypeError(f"einsum: an explicit path must be a list of tuples of "
                            f"positions, got {optimize!r}") from None
        remaining = n_ops
        for step in path:
            if not step or len(set(step)) != len(step) or \
                    any(not 0 <= k < remaining for k in step):
                raise ValueError(f"einsum: invalid contraction {step} in the path {optimize!r}"
                                 f" ({remaining} operands remain at that point)")
            remaining -= len(step) - 1
        if remaining != 1:
            raise ValueError(f"einsum: the path {optimize!r} leaves {remaining} operands "
                             "instead of 1")
        return path
    raise TypeError(f"einsum: optimize must be a string, bool or list, got {optimize!r}")


def _make_path(optimize: Any, ops: list, out: tuple, sizes: dict) -> list[tuple]:
    mode = _normalize_optimize(optimize, len(ops))
    if isinstance(mode, list):
        return mode
    if len(ops) == 1:
        return [(0,)]
    if mode == "none":
        return [(0, 1)] * (len(ops) - 1)
    if mode in ("optimal", "auto") and len(ops) <= 4:
        return _optimal_path(list(ops), out, sizes)
    return _greedy_path(list(ops), out, sizes)


# ---------------------------------------------------------------------------------------
# Execution

def _contract_pair(x, xl: tuple, y, yl: tuple, keep: set, precision, preferred):
    batch, contract, res = _pair_result(xl, yl, keep)
    dx, dy = get_aval(x).dtype, get_aval(y).dtype
    if dx != dy:  # only when preferred_element_type widened an intermediate
        common = dtypes.promote_types(dx, dy)
        x, y = lax.convert_element_type(x, common), lax.convert_element_type(y, common)
    dims = (((tuple(xl.index(l) for l in contract)), tuple(yl.index(l) for l in contract)),
            (tuple(xl.index(l) for l in batch), tuple(yl.index(l) for l in batch)))
    out = lax.dot_general(x, y, dims, precision=precision, preferred_element_type=preferred)
    return out, res


def _swap_for_output(xl: tuple, yl: tuple, keep: set, out: tuple, last: bool) -> bool:
    """For the last product, whether swapping the operands gives the output order directly
    (saving the final transpose)."""
    return last and _pair_result(xl, yl, keep)[2] != out and \
        _pair_result(yl, xl, keep)[2] == out


def _run_step(ops: list, step: tuple, out: tuple, precision, preferred) -> list:
    """Apply one path step to ``ops`` (a list of (array, labels) pairs)."""
    chosen = [ops[k] for k in step]
    rest = [o for k, o in enumerate(ops) if k not in step]
    x, xl = chosen[0]
    for n, (y, yl) in enumerate(chosen[1:], start=1):
        keep = set(out)
        for _, labels in rest + chosen[n + 1:]:
            keep.update(labels)
        if _swap_for_output(xl, yl, keep, out, last=not rest and n == len(chosen) - 1):
            x, xl, y, yl = y, yl, x, xl
        x, xl = _contract_pair(x, xl, y, yl, keep, precision, preferred)
    return rest + [(x, xl)]


def _prepare(name: str, operands: Sequence[Any]) -> list:
    check_arraylike(name, *operands)
    operands = [asarray(o) for o in operands]
    operands = promote_dtypes(name, *operands)
    if operands and get_aval(operands[0]).dtype == np.bool_:
        raise TypeError(f"{name}: boolean operands are not supported; cast to int or float "
                        "first")
    return operands


def einsum(subscripts, *operands, out=None, optimize="optimal", precision=None,
           preferred_element_type=None):
    """Einstein summation: ``einsum("ij,jk->ik", a, b)`` is a matrix product.

    Subscripts name each operand's dimensions with letters; letters shared between
    operands are multiplied together, letters missing from the output (after ``->``) are
    summed, and ``...`` stands for broadcast leading dimensions. Without ``->`` the output
    is the broadcast dimensions followed by the letters used exactly once, in
    alphabetical order. A letter repeated in one operand takes its diagonal
    (``einsum("ii->i", a)``; ``einsum("ii", a)`` is the trace). ``optimize`` picks the
    pairwise contraction order ("optimal", "greedy", False for left to right, or an
    explicit path from :func:`einsum_path`); ``precision`` and ``preferred_element_type``
    are passed to every ``dot_general``.

    >>> einsum("bij,bjk->bik", ones((8, 2, 3)), ones((8, 3, 4))).shape
    (8, 2, 4)
    """
    if out is not None:
        raise NotImplementedError("einsum: the `out` argument is not supported")
    if not isinstance(subscripts, str):
        subscripts, operands = _interleaved_to_string((subscripts,) + operands)
    if not operands:
        raise ValueError("einsum: at least one operand is needed")
    operands = _prepare("einsum", operands)
    shapes = [shape_of(o) for o in operands]
    in_labels, out_labels = _parse(subscripts, shapes)
    sizes = _label_sizes(in_labels, shapes)
    preferred = None if preferred_element_type is None else \
        dtypes.check_user_dtype(preferred_element_type, "einsum")
    _, planned = _prepared_labels(in_labels, shapes, sizes, out_labels)
    path = _make_path(optimize, planned, out_labels, sizes)

    ops = []
    for x, labels, shape, want in zip(operands, in_labels, shapes, planned):
        ops.append(_prepare_operand(x, labels, shape, sizes, want, preferred))
    for step in path:
        ops = _run_step(ops, step, out_labels, precision, preferred)
    (x, labels), = ops
    extra = tuple(k for k, lab in enumerate(labels) if lab not in out_labels)
    if extra:  # cannot happen with a path from here, but keep the result right anyway
        x = lax.reduce_sum(x, extra)
        labels = tuple(lab for lab in labels if lab in out_labels)
    perm = tuple(labels.index(lab) for lab in out_labels)
    if perm != tuple(range(len(perm))):
        x = lax.transpose(x, perm)
    if preferred is not None and get_aval(x).dtype != preferred:
        x = lax.convert_element_type(x, preferred)
    return x


# ---------------------------------------------------------------------------------------
# einsum_path

def _display_labels(labels_lists: Sequence[tuple]) -> dict[str, str]:
    """Letters for printing: ellipsis labels get unused letters."""
    used = {lab for labels in labels_lists for lab in labels if not _is_ell(lab)}
    free = [c for c in _LETTERS if c not in used]
    names = {}
    for labels in labels_lists:
        for lab in labels:
            if lab not in names:
                names[lab] = lab if not _is_ell(lab) else (free.pop(0) if free else "?")
    return names


def einsum_path(subscripts, *operands, optimize="greedy"):
    """The contraction order :func:`einsum` would use, and a printable report.

    Returns ``(path, report)``: ``path`` is a list of tuples of operand positions (each
    step removes those operands and appends their product, NumPy's convention; pass it
    back as ``einsum(..., optimize=path)``), ``report`` a string giving each step's
    subscripts, cost and result size. Only the operands' shapes are used.

    >>> einsum_path("ij,jk,kl->il", ones((2, 1000)), ones((1000, 2)), ones((2, 1000)))[0]
    [(0, 1), (0, 1)]
    """
    if not isinstance(subscripts, str):
        subscripts, operands = _interleaved_to_string((subscripts,) + operands)
    if not operands:
        raise ValueError("einsum_path: at least one operand is needed")
    shapes = [tuple(o.shape) if hasattr(o, "shape") else np.shape(o) for o in operands]
    in_labels, out_labels = _parse(subscripts, shapes)
    sizes = _label_sizes(in_labels, shapes)
    _, planned = _prepared_labels(in_labels, shapes, sizes, out_labels)
    path = _make_path(optimize, planned, out_labels, sizes)

    names = _display_labels(list(in_labels) + [out_labels])

    def fmt(labels):
        return "".join(names[lab] for lab in labels)

    all_labels = {lab for labels in in_labels for lab in labels}
    naive = _size(all_labels, sizes) * max(1, len(operands) - 1)
    lines = []
    ops = list(planned)
    total, peak = 0, 0
    for step in path:
        chosen = [ops[k] for k in step]
        rest = [o for k, o in enumerate(ops) if k not in step]
        x = chosen[0]
        flops = 0
        for n, y in enumerate(chosen[1:], start=1):
            keep = set(out_labels)
            for labels in rest + chosen[n + 1:]:
                keep.update(labels)
            flops += _size(set(x) | set(y), sizes)
            if _swap_for_output(x, y, keep, out_labels, last=not rest and n == len(chosen) - 1):
                x, y = y, x
            x = _pair_result(x, y, keep)[2]
        total += flops
        peak = max(peak, _size(x, sizes))
        ops = rest + [x]
        remaining = ",".join(fmt(o) for o in ops)
        lines.append(f"  {step!s:<12} {','.join(fmt(c) for c in chosen) + '->' + fmt(x):<28}"
                     f" {flops:>14,d}   {remaining}")
    header = [
        f"  Subscripts:        {','.join(fmt(l) for l in in_labels)}->{fmt(out_labels)}",
        f"  Shapes:            {', '.join(str(tuple(s)) for s in shapes)}",
        f"  Naive cost:        {naive:,d} multiply-adds",
        f"  Optimized cost:    {total:,d} multiply-adds",
        f"  Speedup:           {naive / max(total, 1):.3g}x",
        f"  Largest result:    {peak:,d} elements",
        "  " + "-" * 74,
        f"  {'step':<12} {'contraction':<28} {'multiply-adds':>14}   remaining",
        "  " + "-" * 74,
    ]
    return path, "\n".join(header + lines)
