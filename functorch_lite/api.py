"""The transformation entry points users call: ``jit``, ``make_ir`` (and, in their own
issues, ``grad``, ``vmap``, ...). This module handles arguments, pytrees, caching and error
messages; the interpreters do the transforming."""
from __future__ import annotations

import functools
import inspect
import logging
from typing import Any, Callable, Sequence

from functorch_lite.core import pytree
from functorch_lite.core.avals import ShapedArray, get_aval
from functorch_lite.core.backend import backend
from functorch_lite.core.config import config
from functorch_lite.core.ir import ClosedProgram
from functorch_lite.interpreters import staging
from functorch_lite.interpreters.jit_call import close_over_consts, jit_call_p

logger = logging.getLogger("functorch_lite")


def _fun_name(fun: Callable) -> str:
    return getattr(fun, "__name__", None) or type(fun).__name__


def _normalize_argnums(argnums, nargs: int | None, what: str) -> tuple[int, ...]:
    if argnums is None:
        return ()
    if isinstance(argnums, int):
        argnums = (argnums,)
    out = []
    for i in argnums:
        if not isinstance(i, int):
            raise TypeError(f"{what} must be ints, got {i!r}")
        out.append(i if i >= 0 or nargs is None else i + nargs)
    return tuple(out)


def _arg_names(fun: Callable) -> list[str] | None:
    try:
        sig = inspect.signature(fun)
    except (TypeError, ValueError):
        return None
    return [p.name for p in sig.parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


def _leaf_paths(tree_prefix: str, tree) -> list[str]:
    paths = pytree.tree_flatten_with_path(tree)[0]
    return [tree_prefix + pytree.keystr(p) for p, _ in paths]


class _Signature:
    """The static part of a call: what decides whether a traced program can be reused."""

    __slots__ = ("key", "in_tree", "in_avals", "statics")

    def __init__(self, in_tree, in_avals, statics):
        self.in_tree = in_tree
        self.in_avals = in_avals
        self.statics = statics
        self.key = (in_tree, in_avals, statics)


def _split_static(fun_name, args, kwargs, static_argnums, static_argnames):
    statics = []
    dyn_args = []
    for i, a in enumerate(args):
        if i in static_argnums:
            try:
                hash(a)
            except TypeError:
                raise TypeError(f"jit({fun_name}): static argument {i} of type "
                                f"{type(a).__name__} is unhashable; static arguments must be "
                                "hashable (use a tuple instead of a list, or make it a "
                                "regular argument)") from None
            statics.append(("arg", i, a))
        else:
            dyn_args.append(a)
    dyn_kwargs = {}
    for k, v in sorted(kwargs.items()):
        if k in static_argnames:
            try:
                hash(v)
            except TypeError:
                raise TypeError(f"jit({fun_name}): static argument {k!r} of type "
                                f"{type(v).__name__} is unhashable") from None
            statics.append(("kw", k, v))
        else:
            dyn_kwargs[k] = v
    return tuple(statics), dyn_args, dyn_kwargs


def _rebuild(args_len, static_argnums, statics, dyn_args, dyn_kwargs):
    static_pos = {i: v for kind, i, v in statics if kind == "arg"}
    it = iter(dyn_args)
    args = [static_pos[i] if i in static_pos else next(it) for i in range(args_len)]
    kwargs = dict(dyn_kwargs)
    kwargs.update({k: v for kind, k, v in statics if kind == "kw"})
    return args, kwargs


def _check_leaf(fun_name: str, path: str, x: Any) -> ShapedArray:
    try:
        return get_aval(x)
    except TypeError:
        raise TypeError(f"{fun_name}: argument {path} of type {type(x).__name__} is not a "
                        "valid array; pass arrays, NumPy arrays or Python scalars, or mark "
                        "the argument static") from None


class Traced:
    """The result of tracing once: the program and how to map pytrees in and out."""

    __slots__ = ("program", "consts", "out_tree", "name", "closed")

    def __init__(self, closed: ClosedProgram, out_tree, name: str):
        self.closed = closed
        self.program, self.consts = close_over_consts(closed)
        self.out_tree = out_tree
        self.name = name


def _trace(fun: Callable, name: str, args: Sequence, kwargs: dict, sig: _Signature,
           static_argnums, arg_names: list[str] | None, description: str) -> Traced:
    out_tree_box = []
    nargs = len(args) + len(sig.statics)

    def flat_fun(*leaves):
        dyn_args, dyn_kwargs = pytree.tree_unflatten(sig.in_tree, leaves)
        full_args, full_kwargs = _rebuild(nargs, static_argnums, sig.statics, dyn_args,
                                          dyn_kwargs)
        out = fun(*full_args, **full_kwargs)
        out_leaves, out_tree = pytree.tree_flatten(out)
        for i, o in enumerate(out_leaves):
            _check_leaf(f"{name} output", f"leaf {i}", o)
        out_tree_box.append(out_tree)
        return out_leaves

    labels = _input_labels(arg_names, args, kwargs, static_argnums, sig)
    closed = staging.trace_to_program(flat_fun, sig.in_avals, description=description,
                                      input_labels=labels)
    return Traced(closed, out_tree_box[0], name)


def _input_labels(arg_names, dyn_args, dyn_kwargs, static_argnums, sig) -> list[str]:
    """Human names for each flattened input ("x", "params['w']") for error messages."""
    # Positions of the dynamic args among the original positional args.
    positions = []
    i = 0
    while len(positions) < len(dyn_args):
        if i not in static_argnums:
            positions.append(i)
        i += 1
    labels = []
    for pos, a in zip(positions, dyn_args):
        base = arg_names[pos] if arg_names and pos < len(arg_names) else f"args[{pos}]"
        labels.extend(_leaf_paths(base, a))
    for k, v in sorted(dyn_kwargs.items()):
        labels.extend(_leaf_paths(k, v))
    return labels


class Lowered:
    """``jit(f).lower(*args)``: the StableHLO module, ready to compile."""

    def __init__(self, traced: Traced):
        self._traced = traced
        self._text = None

    def as_text(self) -> str:
        if self._text is None:
            self._text = backend.lower(self._traced.program, self._traced.name)
        return self._text

    def compile(self) -> "Compiled":
        return Compiled(self._traced, backend.compile(self._traced.program, self._traced.name))

    @property
    def program(self) -> ClosedProgram:
        return self._traced.closed


class Compiled:
    """An executable for one input signature. Call it with arguments of that signature."""

    def __init__(self, traced: Traced, compiled):
        self._traced = traced
        self._compiled = compiled

    def __call__(self, *args, **kwargs):
        leaves = pytree.tree_leaves((args, kwargs))
        outs = self._compiled(*self._traced.consts, *leaves)
        return pytree.tree_unflatten(self._traced.out_tree, outs)

    def cost_analysis(self) -> dict:
        return self._compiled.cost_analysis()

    def memory_analysis(self):
        return self._compiled.memory_analysis()

    def as_text(self) -> str:
        return self._compiled.as_text()


class JitFunction:
    """A function that runs as one compiled XLA executable per input signature."""

    def __init__(self, fun: Callable, static_argnums=(), static_argnames=(),
                 donate_argnums=()):
        if not callable(fun):
            raise TypeError(f"jit expects a callable, got {type(fun).__name__}")
        self.fun = fun
        self.name = _fun_name(fun)
        self.static_argnums = _normalize_argnums(static_argnums, None, "static_argnums")
        if isinstance(static_argnames, str):
            static_argnames = (static_argnames,)
        self.static_argnames = tuple(static_argnames or ())
        self.donate_argnums = _normalize_argnums(donate_argnums, None, "donate_argnums")
        self._arg_names = _arg_names(fun)
        # Map static_argnames given positionally and vice versa, as JAX does.
        if self._arg_names:
            names = set(self.static_argnames)
            nums = set(self.static_argnums)
            for i, n in enumerate(self._arg_names):
                if n in names:
                    nums.add(i)
                if i in nums:
                    names.add(n)
            self.static_argnums = tuple(sorted(nums))
            self.static_argnames = tuple(sorted(names))
        self._cache: dict = {}
        self._last_key = None
        functools.update_wrapper(self, fun)

    def _signature(self, args, kwargs):
        nargs = len(args)
        static_argnums = tuple(i + nargs if i < 0 else i for i in self.static_argnums)
        statics, dyn_args, dyn_kwargs = _split_static(self.name, args, kwargs, static_argnums,
                                                      self.static_argnames)
        leaves, in_tree = pytree.tree_flatten((dyn_args, dyn_kwargs))
        try:
            in_avals = tuple(get_aval(x) for x in leaves)
        except TypeError:
            labels = _input_labels(self._arg_names, dyn_args, dyn_kwargs, static_argnums,
                                   None)
            for label, x in zip(labels, leaves):
                _check_leaf(f"jit({self.name})", label, x)
            raise
        return _Signature(in_tree, in_avals, statics), leaves, dyn_args, dyn_kwargs, \
            static_argnums

    def _get_traced(self, args, kwargs):
        sig, leaves, dyn_args, dyn_kwargs, static_argnums = self._signature(args, kwargs)
        traced = self._cache.get(sig.key)
        if traced is None:
            if config.log_compiles:
                _log_compile(self.name, self._last_key, sig)
            traced = _trace(self.fun, self.name, dyn_args, dyn_kwargs, sig, static_argnums,
                            self._arg_names, f"jit({self.name})")
            self._cache[sig.key] = traced
            self._last_key = sig
        return traced, leaves

    def __call__(self, *args, **kwargs):
        traced, leaves = self._get_traced(args, kwargs)
        outs = jit_call_p.bind(*traced.consts, *leaves, program=traced.program,
                               name=self.name, donated=())
        return pytree.tree_unflatten(traced.out_tree, outs)

    def lower(self, *args, **kwargs) -> Lowered:
        traced, _ = self._get_traced(args, kwargs)
        return Lowered(traced)

    def trace_count(self) -> int:
        """How many distinct signatures have been traced (recompilations)."""
        return len(self._cache)

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        return functools.partial(self, obj)

    def __repr__(self) -> str:
        return f"<jit-compiled function {self.name}>"


def _log_compile(name: str, last: _Signature | None, sig: _Signature) -> None:
    if last is None:
        why = "first call"
    else:
        changes = []
        if last.in_tree != sig.in_tree:
            changes.append(f"argument structure {last.in_tree} -> {sig.in_tree}")
        elif last.in_avals != sig.in_avals:
            for i, (a, b) in enumerate(zip(last.in_avals, sig.in_avals)):
                if a != b:
                    changes.append(f"input {i}: {a.str_short()} -> {b.str_short()}"
                                   + (" (weak type)" if a.same_type(b) else ""))
        if last.statics != sig.statics:
            changes.append(f"static arguments {last.statics} -> {sig.statics}")
        why = "; ".join(changes) or "new signature"
    logger.warning("Compiling %s for %s (%s)", name,
                   ", ".join(a.str_short() for a in sig.in_avals), why)


def jit(fun: Callable | None = None, *, static_argnums=(), static_argnames=(),
        donate_argnums=()) -> JitFunction:
    """Compile ``fun`` with XLA: traced once per input signature (shapes, dtypes, weak types,
    pytree structure and static argument values), then run as one executable.

    >>> f = jit(lambda x, y: x @ y + 1.0)
    >>> f(ones((2, 3)), ones((3, 4))).shape
    (2, 4)
    """
    if fun is None:
        return functools.partial(jit, static_argnums=static_argnums,
                                 static_argnames=static_argnames,
                                 donate_argnums=donate_argnums)
    return JitFunction(fun, static_argnums, static_argnames, donate_argnums)


def make_ir(fun: Callable, static_argnums=()) -> Callable[..., ClosedProgram]:
    """``make_ir(f)(*args)`` traces ``f`` on abstract versions of ``args`` and returns the
    program (print it to read it, like a jaxpr)."""
    static_argnums = _normalize_argnums(static_argnums, None, "static_argnums")
    name = _fun_name(fun)
    arg_names = _arg_names(fun)

    def make(*args, **kwargs):
        nargs = len(args)
        sn = tuple(i + nargs if i < 0 else i for i in static_argnums)
        statics, dyn_args, dyn_kwargs = _split_static(name, args, kwargs, sn, ())
        leaves, in_tree = pytree.tree_flatten((dyn_args, dyn_kwargs))
        in_avals = tuple(_check_leaf(f"make_ir({name})", str(i), x)
                         for i, x in enumerate(leaves))
        sig = _Signature(in_tree, in_avals, statics)
        return _trace(fun, name, dyn_args, dyn_kwargs, sig, sn, arg_names,
                      f"make_ir({name})").closed

    return make


def block_until_ready(x: Any) -> Any:
    """Wait until every array in the pytree ``x`` is computed; returns ``x``."""
    for leaf in pytree.tree_leaves(x):
        if hasattr(leaf, "block_until_ready"):
            leaf.block_until_ready()
    return x
