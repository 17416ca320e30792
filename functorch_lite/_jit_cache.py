"""Where ``jit`` keeps what it traced, and how it explains a retrace.

JAX's trace cache belongs to the function, not to the ``jit(f)`` wrapper: ``jit(f)(x)``
written inline in a loop traces ``f`` once, and a new ``jit(f)`` with the same static
arguments reuses the program (even when a global that ``f`` reads has changed since, as in
JAX). So the cache lives here, keyed weakly on the function (an entry dies with its
function, and the number of functions is bounded), then on the normalized static argument
options, then (in ``JitState``) on the call signature. Donation does not change what is
traced, so as in JAX ``donate_argnums`` is no part of the key: each wrapper applies its own
when it runs the program.

A function that cannot be keyed weakly (an object without weak references, an unhashable
callable object) gets a ``JitState`` of its own per wrapper, which is how every function
was cached before."""
from __future__ import annotations

import os
import sys
import weakref
from typing import Any, Callable

from functorch_lite.core import pytree

MAX_FUNCTIONS = 8192   # functions remembered at once; the least recently jitted go first
MAX_OPTION_SETS = 64   # distinct spellings of the static options kept per function
MAX_SEEN = 64          # signatures kept per state to explain the next miss
# Signatures traced (and compiled) per state; past it the oldest go first, so eager NumPy
# calls (jitted per shape) on ever new shapes keep a bounded set of executables.
MAX_TRACED = 256


class JitState:
    """What ``jit`` knows about one function with one choice of static arguments, shared
    by every ``jit(f)`` wrapper of the same ``f`` with the same static arguments. It never
    refers to the function itself, so the weak entry holding it can die with the function."""

    __slots__ = ("static_argnums", "static_argnames", "arg_names", "traced", "fast",
                 "fast_variants", "fast_trees", "seen", "generation", "__weakref__")

    def __init__(self, static_argnums: tuple, static_argnames: tuple, arg_names):
        self.static_argnums = static_argnums
        self.static_argnames = static_argnames
        self.arg_names = arg_names
        self.traced: dict = {}    # signature key -> the traced program
        self.fast: dict = {}      # cached-call key -> (call, out_tree)
        # the same for wrappers that donate or pass compiler options: (donate_argnums,
        # compiler options) -> their own ``fast`` dict (their executables differ)
        self.fast_variants: dict = {}
        self.fast_trees = False   # whether ``fast`` holds entries for pytree arguments
        self.seen: list = []      # the latest signatures traced, to explain a miss
        # How many times ``clear`` ran: a wrapper's own cache of calls over a mesh
        # (keyed on its shardings too) is emptied when it sees the number change.
        self.generation = 0

    def clear(self) -> None:
        # In place: wrappers hold ``fast`` directly for speed.
        self.generation += 1
        self.traced.clear()
        self.fast.clear()
        for fast in self.fast_variants.values():
            fast.clear()
        self.fast_trees = False
        self.seen.clear()


_NO_NAMES = object()  # a _FunctionEntry whose argument names are not read yet


class _FunctionEntry:
    """One function's states, by the static options as spelled (a fast path for the next
    ``jit(f, ...)``) and as normalized (``static_argnums=1`` and ``(1,)`` and
    ``static_argnames="n"`` may all be one state)."""

    __slots__ = ("arg_names", "by_spelling", "by_options")

    def __init__(self):
        self.arg_names = _NO_NAMES
        self.by_spelling: dict = {}
        self.by_options: dict = {}


class _WeakFunctionMap:
    """function -> _FunctionEntry, holding the functions weakly, at most ``maxsize`` of
    them (least recently used dropped first). Functions compare as dict keys do, by
    ``==``; a function that is not weakly referenceable or hashable is not kept."""

    def __init__(self, maxsize: int):
        self.maxsize = maxsize
        # weakref.ref(fun) -> (that same ref, with the callback that removes the entry
        # when fun dies; the entry)
        self._data: dict = {}

        def remove(ref, selfref=weakref.ref(self)):
            owner = selfref()
            if owner is not None:
                owner._data.pop(ref, None)
        self._remove = remove

    def entry(self, fun: Callable) -> _FunctionEntry | None:
        try:
            found = self._data.pop(weakref.ref(fun), None)
        except TypeError:
            return None
        if found is None:
            found = (weakref.ref(fun, self._remove), _FunctionEntry())
            if len(self._data) >= self.maxsize:
                del self._data[next(iter(self._data))]
        self._data[found[0]] = found  # (re)inserted last: the most recently used
        return found[1]

    def __len__(self) -> int:
        return len(self._data)

    def clear(self) -> None:
        self._data.clear()


functions = _WeakFunctionMap(MAX_FUNCTIONS)
_live_states: "weakref.WeakSet[JitState]" = weakref.WeakSet()


def state_for(fun: Callable, spelling: tuple, read_arg_names: Callable,
              normalize: Callable) -> JitState:
    """The shared ``JitState`` of ``fun`` with ``spelling = (static_argnums,
    static_argnames)`` as passed to jit. ``read_arg_names(fun)`` gives its positional
    parameter names (read once per function); ``normalize(spelling, arg_names)`` returns
    ``(static_argnums, static_argnames)`` in canonical form."""
    entry = functions.entry(fun)
    if entry is not None:
        try:
            state = entry.by_spelling.get(spelling)
        except TypeError:  # options spelled with lists: go through normalizing
            state = None
        if state is not None:
            return state
        if entry.arg_names is _NO_NAMES:
            entry.arg_names = read_arg_names(fun)
        arg_names = entry.arg_names
    else:
        arg_names = read_arg_names(fun)
    options = normalize(spelling, arg_names)
    state = None if entry is None else entry.by_options.get(options)
    if state is None:
        state = JitState(*options, arg_names)
        _live_states.add(state)
        if entry is not None:
            entry.by_options[options] = state
    if entry is not None:
        if len(entry.by_spelling) >= MAX_OPTION_SETS:
            entry.by_spelling.clear()
        try:
            entry.by_spelling[spelling] = state
        except TypeError:
            pass
    return state


def clear_all(_=None) -> None:
    """Forget every traced program (``clear_caches``; a change of ``enable_x64`` or
    ``default_matmul_precision``, which change what tracing produces)."""
    for state in list(_live_states):
        state.clear()


def remember(state: JitState, sig) -> None:
    state.seen.append(sig)
    if len(state.seen) > MAX_SEEN:
        del state.seen[0]
    for table in (state.traced, state.fast, *state.fast_variants.values()):
        while len(table) > MAX_TRACED:  # dicts keep insertion order: the oldest first
            del table[next(iter(table))]


# ---------------------------------------------------------------------------------------
# explaining a cache miss

def _static_label(kind: str, where, arg_names) -> str:
    if kind == "kw":
        return str(where)
    if arg_names and where < len(arg_names):
        return arg_names[where]
    return f"args[{where}]"


def _structure_reasons(old, new, positional_names: list[str]) -> list[str]:
    """Which argument's pytree structure changed, between two treedefs of
    ``(dynamic positional args, dynamic keyword args)``."""
    (old_args, old_kw), (new_args, new_kw) = (pytree.treedef_children(old),
                                              pytree.treedef_children(new))
    reasons = []
    a, b = pytree.treedef_children(old_args), pytree.treedef_children(new_args)
    if len(a) != len(b):
        reasons.append(f"number of positional arguments: {len(a)} -> {len(b)}")
    else:
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                name = positional_names[i] if i < len(positional_names) else f"args[{i}]"
                reasons.append(f"structure of argument {name}: {x} -> {y}")
    ka, kb = old_kw.node_data()[1], new_kw.node_data()[1]
    if tuple(ka) != tuple(kb):
        reasons.append(f"keyword arguments: {list(ka)} -> {list(kb)}")
    else:
        for k, x, y in zip(kb, pytree.treedef_children(old_kw),
                           pytree.treedef_children(new_kw)):
            if x != y:
                reasons.append(f"structure of argument {k}: {x} -> {y}")
    return reasons or [f"argument structure: {old} -> {new}"]


def differences(old, new, leaf_labels: list[str], positional_names: list[str],
                arg_names) -> list[str]:
    """What differs between two call signatures (``_Signature``s), one line each, in the
    user's names: argument structure, each leaf's shape/dtype/weak type, static values."""
    if old.in_tree != new.in_tree:
        reasons = _structure_reasons(old.in_tree, new.in_tree, positional_names)
    else:
        reasons = []
        for i, (a, b) in enumerate(zip(old.in_avals, new.in_avals)):
            if a != b:
                label = leaf_labels[i] if i < len(leaf_labels) else f"leaf {i}"
                weak = ""
                if a.same_type(b):
                    weak = f" (weak type {a.weak_type} -> {b.weak_type})"
                reasons.append(f"argument {label}: {a.str_short()} -> {b.str_short()}{weak}")
    if old.statics != new.statics:
        before = {(k, w): v for k, w, v in old.statics}
        after = {(k, w): v for k, w, v in new.statics}
        changed = [f"{_static_label(k, w, arg_names)}: "
                   f"{before.get((k, w), '(not given)')!r} -> "
                   f"{after.get((k, w), '(not given)')!r}"
                   for k, w in sorted(before.keys() | after.keys(), key=str)
                   if before.get((k, w), _NO_NAMES) != after.get((k, w), _NO_NAMES)]
        reasons.append("static arguments changed: " + "; ".join(changed))
    return reasons or ["a signature equal to one traced before (x64 or caches cleared?)"]


def closest_differences(seen: list, new, leaf_labels, positional_names, arg_names):
    """The differences to the earlier signature that differs least, or None if none."""
    best, best_score = None, None
    for old in reversed(seen):  # ties go to the most recent call
        d = differences(old, new, leaf_labels, positional_names, arg_names)
        # A call of another structure is further away than any change of types or values.
        score = len(d) + (1000 if old.in_tree != new.in_tree else 0)
        if best is None or score < best_score:
            best, best_score = d, score
    return best


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def user_location() -> str:
    """``file:line`` of the innermost caller outside functorch_lite."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
    if frame is None:
        return "<unknown>"
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"


def defined_at(fun: Any) -> str:
    code = getattr(getattr(fun, "__func__", fun), "__code__", None)
    if code is None:
        return "<unknown>"
    return f"{code.co_filename}:{code.co_firstlineno}"
