"""The transformation entry points users call: ``jit``, ``make_ir`` (and, in their own
issues, ``grad``, ``vmap``, ...). This module handles arguments, pytrees, caching and error
messages; the interpreters do the transforming."""
from __future__ import annotations

import contextlib
import functools
import inspect
import logging
from typing import Any, Callable, Sequence

import numpy as np

from functorch_lite import _jit_cache
from functorch_lite.core import passes, pytree
from functorch_lite.core import trace as trace_mod
from functorch_lite.core.avals import ShapedArray, get_aval
from functorch_lite.core.backend import backend
from functorch_lite.core.config import config
from functorch_lite.core.ir import ClosedProgram
from functorch_lite.interpreters import staging
from functorch_lite.interpreters.jit_call import close_over_consts, jit_call_p
from functorch_lite.lax._common import PY_SCALARS

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
                raise ValueError(f"jit({fun_name}): static argument {i} of type "
                                 f"{type(a).__name__} is unhashable; static arguments must "
                                 "be hashable (use a tuple instead of a list, or make it a "
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
                raise ValueError(f"jit({fun_name}): static argument {k!r} of type "
                                 f"{type(v).__name__} is unhashable; static arguments must "
                                 "be hashable (use a tuple instead of a list, or make it a "
                                 "regular argument)") from None
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


# The key of a Python scalar argument on jit's cached-call path: its type's weakly typed aval
# (which depends on the x64 flag), marked so that it differs from a rank-0 Array's aval.
_scalar_avals: dict = {}


def _refresh_scalar_avals(_=None) -> None:
    _scalar_avals.clear()
    _scalar_avals.update({t: ("python scalar", get_aval(t(0))) for t in PY_SCALARS})


_refresh_scalar_avals()
config.on_change("enable_x64", _refresh_scalar_avals)

MISS = object()  # JitFunction.call_cached found no cached executable for its arguments


def _tree_key(x: Any, leaves: list, array_type: type):
    """For jit's cached-call path: a hashable key of ``x``'s structure (tuples, lists,
    dicts, None) with each leaf's type in place, appending the leaves (device Arrays and
    Python scalars) in ``tree_flatten``'s order. None when ``x`` holds anything else, which
    then takes the general path. Cheaper than building a treedef."""
    t = type(x)
    if t is array_type:
        leaves.append(x)
        return x.aval
    if t is tuple or t is list or (isinstance(x, tuple) and pytree.is_plain_namedtuple(t)):
        # (a NamedTuple, such as an optimizer state, flattens as the tuple it is)
        keys = []
        for c in x:
            k = _tree_key(c, leaves, array_type)
            if k is None:
                return None
            keys.append(k)
        return (t, tuple(keys))
    if t is dict:
        try:
            names = tuple(sorted(x))
        except TypeError:
            return None
        keys = []
        for n in names:
            k = _tree_key(x[n], leaves, array_type)
            if k is None:
                return None
            keys.append(k)
        return (dict, names, tuple(keys))
    if x is None:
        return "None"
    key = _scalar_avals.get(t)  # a Python scalar, or None for anything else
    if key is not None:
        leaves.append(x)
    return key


class TracedProgram:
    """The result of tracing once: the program and how to map pytrees in and out (the
    cache entry; ``jit(f).trace(...)`` hands it to users wrapped in a ``Traced``)."""

    __slots__ = ("program", "consts", "out_tree", "name", "closed", "_compiled", "_fast")

    def __init__(self, closed: ClosedProgram, out_tree, name: str):
        closed = passes.simplify(closed)
        self.closed = closed
        self.program, consts = close_over_consts(closed)
        # Host constants are copied to the device now: the program captured their value
        # at trace time, and later changes to a NumPy array must not leak in.
        self.consts = [backend.device_put(np.array(c), None, False)
                       if isinstance(c, (np.ndarray, np.generic)) else c for c in consts]
        self.out_tree = out_tree
        self.name = name
        self._compiled = {}  # (device, donation flags) -> compiled executable
        self._fast = {}  # (device, scalar flags, donation flags) -> fast_entry

    def compiled(self, device=None, donated: tuple = ()):
        """The executable for ``device``; ``donated`` flags the operands (constants
        first) whose buffers it may consume."""
        key = (device, donated)
        exe = self._compiled.get(key)
        if exe is None:
            exe = self._compiled[key] = backend.compile(self.program, self.name, device,
                                                        donated)
        return exe

    def run_eagerly(self, leaves, device=None, donated: tuple = ()):
        """When no transformation is active: call the compiled executable directly
        instead of going through ``bind``. It runs on ``device`` (None: the default)."""
        return self.compiled(device, donated)(*self.consts, *leaves)

    def fast_entry(self, device, scalars: tuple, donated: tuple = ()):
        """(call, out_tree) for ``JitFunction``'s cached-call path on ``device``, or None
        where the backend has no such path. ``scalars`` flags the arguments that are Python
        scalars; ``donated`` is as for ``compiled``. ``out_tree`` is None for a single
        array output."""
        key = (device, scalars, donated)
        if key not in self._fast:
            make = getattr(self.compiled(device, donated), "fast_caller", None)
            call = make(self.consts, scalars) if make is not None else None
            leaf = pytree.treedef_is_leaf(self.out_tree) and self.out_tree.num_leaves == 1
            tree = None if leaf else self.out_tree
            self._fast[key] = None if call is None else (call, tree)
        return self._fast[key]


def _trace(fun: Callable, name: str, args: Sequence, kwargs: dict, sig: _Signature,
           static_argnums, arg_names: list[str] | None, description: str) -> TracedProgram:
    out_tree_box = []
    nargs = len(args) + sum(1 for kind, _, _ in sig.statics if kind == "arg")

    def flat_fun(*leaves):
        dyn_args, dyn_kwargs = pytree.tree_unflatten(sig.in_tree, leaves)
        full_args, full_kwargs = _rebuild(nargs, static_argnums, sig.statics, dyn_args,
                                          dyn_kwargs)
        out = fun(*full_args, **full_kwargs)
        out_leaves, out_tree = pytree.tree_flatten(out)
        _check_outputs(description, out_leaves, out_tree)
        out_tree_box.append(out_tree)
        return out_leaves

    labels = _input_labels(arg_names, args, kwargs, static_argnums, sig)
    closed = staging.trace_to_program(flat_fun, sig.in_avals, description=description,
                                      input_labels=labels)
    return TracedProgram(closed, out_tree_box[0], name)


def _check_outputs(description: str, leaves: list, tree) -> None:
    """Every output leaf must be an array (or a Python scalar): a str or other object
    cannot leave a compiled program."""
    for i, o in enumerate(leaves):
        try:
            get_aval(o)
        except TypeError:
            paths = pytree.tree_flatten_with_path(pytree.tree_unflatten(tree, leaves))[0]
            where = pytree.keystr(paths[i][0]) if i < len(paths) else ""
            where = f"output{where}" if where else "its output"
            raise TypeError(f"{description} returned a value of type {type(o).__name__} at "
                            f"{where}, which is not an array; a jitted function can only "
                            "return arrays and Python scalars (or pytrees of them); return "
                            "other values from a function that is not jitted") from None


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

    def __init__(self, traced: TracedProgram):
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

    def __init__(self, traced: TracedProgram, compiled):
        self._traced = traced
        self._compiled = compiled

    def __call__(self, *args, **kwargs):
        leaves = pytree.tree_leaves((args, kwargs))
        expected = self._traced.program.in_avals[len(self._traced.consts):]
        if len(leaves) != len(expected):
            raise TypeError(f"compiled {self._traced.name} takes {len(expected)} array "
                            f"arguments, got {len(leaves)}")
        for i, (x, e) in enumerate(zip(leaves, expected)):
            a = _check_leaf(f"compiled {self._traced.name}", f"leaf {i}", x)
            if not a.same_type(e):
                raise TypeError(f"compiled {self._traced.name}: argument leaf {i} has type "
                                f"{a.str_short()} but was compiled for {e.str_short()}; "
                                "call jit(f) to compile for new types")
        outs = self._compiled(*self._traced.consts, *leaves)
        return pytree.tree_unflatten(self._traced.out_tree, outs)

    def cost_analysis(self) -> dict:
        return self._compiled.cost_analysis()

    def memory_analysis(self):
        return self._compiled.memory_analysis()

    def as_text(self) -> str:
        return self._compiled.as_text()


class Traced:
    """``jit(f).trace(*args)``: the traced stage, as JAX's ``Traced``. ``.jaxpr`` is the IR
    program (print it to read it), ``.out_avals`` / ``.out_info`` the output types as a
    pytree, ``.lower()`` the next stage (StableHLO).

    >>> t = jit(lambda x: x * 2).trace(ones(3))
    >>> t.out_avals
    ShapedArray(float32[3])
    """

    def __init__(self, traced: TracedProgram, in_tree, in_avals, fun_name: str):
        self._traced = traced
        self.in_tree = in_tree
        self._in_avals = in_avals
        self.fun_name = fun_name

    @property
    def jaxpr(self) -> ClosedProgram:
        return self._traced.closed

    @property
    def out_tree(self):
        return self._traced.out_tree

    @property
    def in_avals(self):
        """``((positional avals...), {keyword: aval})`` of the dynamic arguments."""
        args, kwargs = pytree.tree_unflatten(self.in_tree, self._in_avals)
        return tuple(args), kwargs

    @property
    def out_avals(self):
        return pytree.tree_unflatten(self._traced.out_tree, self._traced.closed.out_avals)

    @property
    def out_info(self):
        """The output shapes and dtypes (``ShapeDtypeStruct``s where that class exists)."""
        import functorch_lite
        sds = getattr(functorch_lite, "ShapeDtypeStruct", None)
        if sds is None:
            return self.out_avals
        return pytree.tree_map(lambda a: sds(a.shape, a.dtype), self.out_avals)

    def lower(self) -> Lowered:
        return Lowered(self._traced)

    def __repr__(self) -> str:
        return f"<Traced {self.fun_name}>"


def _normalize_static_options(spelling: tuple, arg_names: list[str] | None) -> tuple:
    """(static_argnums, static_argnames) in one canonical form, so that
    ``static_argnums=1``, ``(1,)`` and ``static_argnames="n"`` share one cache."""
    static_argnums, static_argnames = spelling
    nums = _normalize_argnums(static_argnums, None, "static_argnums")
    if isinstance(static_argnames, str):
        static_argnames = (static_argnames,)
    names = tuple(static_argnames or ())
    # Map static_argnames given positionally and vice versa, as JAX does.
    if arg_names:
        names_set, nums_set = set(names), set(nums)
        for i, n in enumerate(arg_names):
            if n in names_set:
                nums_set.add(i)
            if i in nums_set:
                names_set.add(n)
        nums, names = tuple(sorted(nums_set)), tuple(sorted(names_set))
    return nums, names


class JitFunction:
    """A function that runs as one compiled XLA executable per input signature.

    What it traced belongs to the function and its static arguments, not to this wrapper
    (see ``_jit_cache``): ``jit(f)(x)`` written inline traces ``f`` once, as in JAX."""

    def __init__(self, fun: Callable, static_argnums=(), static_argnames=(),
                 donate_argnums=()):
        if not callable(fun):
            raise TypeError(f"jit expects a callable, got {type(fun).__name__}")
        self.fun = fun
        self.name = _fun_name(fun)
        state = _jit_cache.state_for(fun, (static_argnums, static_argnames), _arg_names,
                                     _normalize_static_options)
        self._state = state
        self.static_argnums = state.static_argnums
        self.static_argnames = state.static_argnames
        # Donation only changes how the program runs, not what is traced: not in the key.
        self.donate_argnums = _normalize_argnums(donate_argnums, None, "donate_argnums")
        self._arg_names = state.arg_names
        # Calls whose arguments are all plain device arrays skip pytree handling entirely:
        # input avals -> (traced program, output tree). Shared with the state (donating
        # wrappers share one per donate_argnums).
        self._fast = (state.fast if not self.donate_argnums else
                      state.fast_donating.setdefault(self.donate_argnums, {}))
        self._fast_ok = not (self.static_argnums or self.static_argnames)
        # The backend's array class, once one is registered (jit(f) may run at import).
        self._array_type = vars(backend).get("array_type")
        functools.update_wrapper(self, fun, updated=())

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
        state = self._state
        traced = state.traced.get(sig.key)
        if traced is None:
            if config.log_compiles or config.explain_cache_misses:
                self._log_miss(sig, dyn_args, dyn_kwargs, static_argnums)
            traced = _trace(self.fun, self.name, dyn_args, dyn_kwargs, sig, static_argnums,
                            self._arg_names, f"jit({self.name})")
            state.traced[sig.key] = traced
            _jit_cache.remember(state, sig)
        return traced, leaves, sig

    def _log_miss(self, sig, dyn_args, dyn_kwargs, static_argnums) -> None:
        """``log_compiles`` / ``explain_cache_misses``: say why this call traces again, in
        terms of the earlier call it differs least from."""
        state, arg_names = self._state, self._arg_names
        labels = _input_labels(arg_names, dyn_args, dyn_kwargs, static_argnums, sig)
        positional, i = [], 0
        while len(positional) < len(dyn_args):
            if i not in static_argnums:
                positional.append(arg_names[i] if arg_names and i < len(arg_names)
                                  else f"args[{i}]")
            i += 1
        reasons = _jit_cache.closest_differences(state.seen, sig, labels, positional,
                                                 arg_names)
        if config.log_compiles:
            _log_compile(self.name, reasons, sig)
        if config.explain_cache_misses:
            head = (f"TRACING CACHE MISS for jit({self.name}) defined at "
                    f"{_jit_cache.defined_at(self.fun)}, called at "
                    f"{_jit_cache.user_location()}:")
            if reasons is None:
                body = "  never traced with these jit options before"
            else:
                body = (f"  traced {len(state.seen)} time(s) before; the closest earlier "
                        "call differs in:\n" + "\n".join(f"  * {r}" for r in reasons))
            logger.warning("%s\n%s", head, body)

    def _remember_fast(self, args: tuple, traced: TracedProgram, device,
                       donated: tuple) -> None:
        """Give these argument types an entry on the cached-call path, when they are
        device Arrays and Python scalars, flat or in tuples/lists/dicts/named tuples
        (which also fixes which leaves are donated)."""
        array_type = self._array_type
        if all(type(a) is array_type or type(a) in PY_SCALARS for a in args):
            leaves, key = args, tuple(a.aval if type(a) is array_type
                                      else _scalar_avals[type(a)] for a in args)
        else:
            leaves = []
            key = _tree_key(args, leaves, array_type)
            if key is None:
                return
            key = ("tree", key)
            self._state.fast_trees = True
        entry = traced.fast_entry(device, tuple(type(a) is not array_type for a in leaves),
                                  donated)
        if entry is not None:
            self._fast[key] = entry

    def call_cached(self, args: tuple):
        """The cached-call path, for use when no transformation is active: when every
        argument is a device Array or a Python scalar of a type seen before (on the device
        seen before, which the entry checks), run the executable and return the result;
        otherwise return ``MISS``."""
        array_type, scalar_avals = self._array_type, _scalar_avals
        entry = self._fast.get(tuple([a.aval if type(a) is array_type
                                      else scalar_avals.get(type(a)) for a in args]))
        if entry is None and self._state.fast_trees:  # arguments that are pytrees of arrays
            leaves: list = []
            key = _tree_key(args, leaves, array_type)
            entry = None if key is None else self._fast.get(("tree", key))
            args = leaves
        if entry is not None:
            outs = entry[0](args)
            if outs is not None:
                return outs[0] if entry[1] is None else pytree.tree_unflatten(entry[1], outs)
        return MISS

    def __call__(self, *args, **kwargs):
        if config.disable_jit:  # disable_jit(): plain Python, op by op
            return self.fun(*args, **kwargs)
        eager = len(trace_mod._stack) == 1  # no transformation is active
        if eager and self._fast_ok and not kwargs:
            out = self.call_cached(args)
            if out is not MISS:
                return out
        traced, leaves, _ = self._get_traced(args, kwargs)
        donated = self._donation_mask(args, traced) if self.donate_argnums else ()
        if eager:
            array_type = self._array_type = backend.array_type
            # It runs where its inputs are: on the first device array's device.
            device = next((x.device for x in leaves if type(x) is array_type), None)
            if self._fast_ok and not kwargs:
                self._remember_fast(args, traced, device, donated)
            outs = traced.run_eagerly(leaves, device, donated)
            return pytree.tree_unflatten(traced.out_tree, outs)
        outs = jit_call_p.bind(*traced.consts, *leaves, program=traced.program,
                               name=self.name, donated=donated)
        return pytree.tree_unflatten(traced.out_tree, outs)

    def _donation_mask(self, args, traced) -> tuple:
        """One flag per operand (constants first): donate the device arrays passed in the
        ``donate_argnums`` positions."""
        nargs = len(args)
        donate = {i + nargs if i < 0 else i for i in self.donate_argnums}
        static = {i + nargs if i < 0 else i for i in self.static_argnums}
        mask = [False] * len(traced.consts)
        for i, a in enumerate(args):
            if i in static:
                continue
            for leaf in pytree.tree_leaves(a):
                mask.append(i in donate and hasattr(leaf, "delete") and hasattr(leaf, "aval"))
        return tuple(mask)

    def trace(self, *args, **kwargs) -> Traced:
        """Trace (or find the cached trace) for these arguments, without compiling:
        ``jit(f).trace(x).jaxpr`` is the program, ``.lower()`` the StableHLO stage."""
        traced, _, sig = self._get_traced(args, kwargs)
        return Traced(traced, sig.in_tree, sig.in_avals, self.name)

    def lower(self, *args, **kwargs) -> Lowered:
        return self.trace(*args, **kwargs).lower()

    def trace_count(self) -> int:
        """How many distinct signatures have been traced (recompilations), by any
        ``jit`` of this function with these options."""
        return len(self._state.traced)

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        return functools.partial(self, obj)

    def __repr__(self) -> str:
        return f"<jit-compiled function {self.name}>"


def _log_compile(name: str, reasons: list[str] | None, sig: _Signature) -> None:
    why = "first call" if reasons is None else "; ".join(reasons)
    logger.warning("Compiling %s for %s (%s)", name,
                   ", ".join(a.str_short() for a in sig.in_avals), why)


# A program traced with x64 off is wrong with it on (and back): trace again.
config.on_change("enable_x64", _jit_cache.clear_all)


def clear_jit_caches() -> None:
    """Forget every program ``jit`` traced (the jit part of ``clear_caches``)."""
    _jit_cache.clear_all()


@contextlib.contextmanager
def disable_jit(disable: bool = True):
    """Within this block ``jit(f)(...)`` calls ``f`` as plain Python: each operation runs
    on its own as it is reached, so ``print`` shows values and Python control flow on
    values works (for debugging), as JAX's ``disable_jit``. Also
    ``config.update("jax_disable_jit", True)``.

    >>> with disable_jit():
    ...     jit(lambda x: print(x) or x)(ones(2))   # prints [1. 1.]
    """
    old = config.disable_jit
    config.update("disable_jit", bool(disable))
    try:
        yield
    finally:
        config.update("disable_jit", old)


def jit(fun: Callable | None = None, *, static_argnums=(), static_argnames=(),
        donate_argnums=()) -> JitFunction:
    """Compile ``fun`` with XLA: traced once per input signature (shapes, dtypes, weak types,
    pytree structure and static argument values), then run as one executable. The traces
    belong to ``fun`` and its static arguments, so a new ``jit(fun)`` reuses them (globals
    that ``fun`` reads are captured when it is first traced, as in JAX).

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


# ---------------------------------------------------------------------------------------
# Differentiation

from functorch_lite.core import dtypes  # noqa: E402
from functorch_lite.interpreters import ad, partial_eval, transpose  # noqa: E402
from functorch_lite.core.ir import eval_program  # noqa: E402
from functorch_lite.tree_util import Partial  # noqa: E402


def _flatten_fun(fun: Callable, in_tree, out_tree_box: list, has_aux: bool = False):
    """``fun`` over pytrees -> a function over flat leaves returning flat leaves.

    ``out_tree_box`` receives ``[out_tree, aux_tree, num_traced_aux, aux_leaves]``. With
    ``has_aux`` the aux may be any pytree (strings, Python numbers, None, arrays), as in
    JAX: its traced leaves are returned after the outputs, so they leave the transformation
    as plain values, while the others wait untouched in ``aux_leaves`` (``_split_aux`` puts
    the two back together)."""
    def flat(*leaves):
        args = pytree.tree_unflatten(in_tree, leaves)
        out = fun(*args)
        aux_leaves, traced_aux, aux_tree = [], [], None
        if has_aux:
            if not (isinstance(out, tuple) and len(out) == 2):
                raise TypeError("has_aux=True requires the function to return a pair "
                                f"(output, aux), got {type(out).__name__}")
            out, aux = out
            aux_leaves, aux_tree = pytree.tree_flatten(aux)
            traced_aux = [x for x in aux_leaves if isinstance(x, trace_mod.Tracer)]
        leaves_out, tree = pytree.tree_flatten(out)
        out_tree_box[:] = [tree, aux_tree, len(traced_aux), aux_leaves]
        return [*leaves_out, *traced_aux]
    return flat


def _split_aux(box: list, outs: list):
    """(main outputs, aux pytree or None) from a flat function's outputs."""
    if box[1] is None:
        return outs, None
    n_main = len(outs) - box[2]
    traced = iter(outs[n_main:])
    aux = [next(traced) if isinstance(x, trace_mod.Tracer) else x for x in box[3]]
    return outs[:n_main], pytree.tree_unflatten(box[1], aux)


def _check_arrays(name: str, leaves: Sequence[Any]) -> None:
    for i, x in enumerate(leaves):
        try:
            get_aval(x)
        except TypeError:
            raise TypeError(f"{name}: input leaf {i} of type {type(x).__name__} is not an "
                            "array or scalar") from None


def _check_tangent(name: str, i: int, primal_aval: ShapedArray, tangent: Any,
                   dtype_error: type = TypeError, shape_error: type = ValueError
                   ) -> ShapedArray:
    """The tangent type ``primal_aval`` needs, after checking that ``tangent`` has it: the
    primal's shape and dtype (float0 for integer and bool primals). The exception types
    are JAX's: jvp raises TypeError for a dtype and ValueError for a shape mismatch, the
    function linearize returns ValueError for both."""
    try:
        ta = get_aval(tangent)
    except TypeError:
        raise TypeError(f"{name}: tangent {i} of type {type(tangent).__name__} is not an "
                        "array or scalar") from None
    expect = ad.tangent_aval(primal_aval)
    if ta.dtype != expect.dtype:
        def dname(d):  # float0 is a structured NumPy dtype named "void"
            return "float0" if d == dtypes.float0 else d.name
        hint = (" (integer and bool primals take float0 tangents)"
                if expect.dtype == dtypes.float0 else
                f"; convert the tangent with .astype({expect.dtype.name})")
        raise dtype_error(f"{name}: tangent {i} has dtype {dname(ta.dtype)} but its primal "
                          f"has dtype {dname(primal_aval.dtype)}, which needs tangents of "
                          f"dtype {dname(expect.dtype)}{hint}")
    if ta.shape != primal_aval.shape:
        raise shape_error(f"{name}: tangent {i} has shape {ta.shape} but its primal has shape "
                          f"{primal_aval.shape}; each tangent must have its primal's shape")
    return expect


def jvp(fun: Callable, primals: Sequence[Any], tangents: Sequence[Any], has_aux: bool = False):
    """Forward mode: ``(fun(*primals), J(primals) @ tangents)``. ``primals`` and ``tangents``
    are tuples (or lists) of pytrees of the same structure and types.

    >>> jvp(fnp.sin, (0.0,), (1.0,))
    (Array(0., dtype=float32, weak_type=True), Array(1., dtype=float32, weak_type=True))
    """
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError("jvp: primals and tangents must be tuples or lists, got "
                        f"{type(primals).__name__} and {type(tangents).__name__}")
    p_leaves, p_tree = pytree.tree_flatten(tuple(primals))
    t_leaves, t_tree = pytree.tree_flatten(tuple(tangents))
    if p_tree != t_tree:
        raise TypeError(f"jvp: primal and tangent arguments must have the same tree "
                        f"structure, got {p_tree} and {t_tree}")
    _check_arrays("jvp", p_leaves)
    tangents_in = []
    for i, (p, t) in enumerate(zip(p_leaves, t_leaves)):
        expect = _check_tangent("jvp", i, get_aval(p), t)
        tangents_in.append(ad.Zero(expect) if expect.dtype == dtypes.float0 else t)
    box: list = []
    flat = _flatten_fun(fun, p_tree, box, has_aux)
    outs, touts = ad.jvp_flat(lambda *xs: flat(*xs), p_leaves, tangents_in)
    out_tree = box[0]
    outs, aux = _split_aux(box, outs)
    touts = [ad.instantiate(t) for t in touts[:len(outs)]]
    result = (pytree.tree_unflatten(out_tree, outs), pytree.tree_unflatten(out_tree, touts))
    return (*result, aux) if has_aux else result


# The functions ``linearize`` and ``vjp`` return are pytrees, as in JAX: a ``Partial`` whose
# leaves are the residuals (the linear program's constants) around a static callable
# holding the program and the structures. So they can be returned from ``jit``, carried
# through ``lax.scan`` or ``vmap``-ed over, and called later.

class _LinearizedJVP:
    """The static half of ``linearize``'s ``f_jvp``: ``(residuals, *tangents) -> out``."""

    __slots__ = ("program", "p_tree", "p_avals", "out_tree", "num_out")

    def __init__(self, program, p_tree, p_avals, out_tree, num_out):
        self.program, self.p_tree, self.p_avals = program, p_tree, p_avals
        self.out_tree, self.num_out = out_tree, num_out

    def __call__(self, residuals, *tangents):
        t_leaves, t_tree = pytree.tree_flatten(tangents)
        if t_tree != self.p_tree:
            raise TypeError(f"linearized function expects tangents with structure "
                            f"{self.p_tree} (one per primal given to linearize), got {t_tree}")
        for i, (pa, t) in enumerate(zip(self.p_avals, t_leaves)):
            _check_tangent("linearized function", i, pa, t, ValueError, ValueError)
        outs = eval_program(self.program, residuals, t_leaves)[:self.num_out]
        return pytree.tree_unflatten(self.out_tree, outs)

    def __repr__(self) -> str:
        return f"<linearized jvp: {self.p_tree} -> {self.out_tree}>"


def linearize(fun: Callable, *primals, has_aux: bool = False):
    """``(fun(*primals), f_jvp)`` (``(out, f_jvp, aux)`` with ``has_aux``) where
    ``f_jvp(*tangents)`` evaluates the jvp at ``primals`` from a linear program computed
    once. ``f_jvp`` is a ``tree_util.Partial`` over the program's residuals.

    >>> y, f_jvp = linearize(fnp.sin, 0.0)
    >>> f_jvp(2.0)
    Array(2., dtype=float32, weak_type=True)
    """
    p_leaves, p_tree = pytree.tree_flatten(primals)
    _check_arrays("linearize", p_leaves)
    box: list = []
    flat = _flatten_fun(fun, p_tree, box, has_aux)
    outs, linear = partial_eval.linearize_flat(flat, p_leaves)
    out_tree = box[0]
    outs, aux = _split_aux(box, outs)
    static = _LinearizedJVP(linear.program, p_tree, [get_aval(p) for p in p_leaves],
                            out_tree, len(outs))
    result = (pytree.tree_unflatten(out_tree, outs), Partial(static, list(linear.consts)))
    return (*result, aux) if has_aux else result


def _vjp_flat(name, fun, primals, has_aux):
    p_leaves, p_tree = pytree.tree_flatten(tuple(primals))
    _check_arrays(name, p_leaves)
    box: list = []
    flat = _flatten_fun(fun, p_tree, box, has_aux)
    outs, linear = partial_eval.linearize_flat(flat, p_leaves)
    return outs, linear, box, p_tree, p_leaves


def _zero_cotangent(aval: ShapedArray):
    if dtypes.is_inexact(aval.dtype):
        from functorch_lite import lax
        return lax.full(aval.shape, 0, aval.dtype)
    return np.zeros(aval.shape, dtypes.float0)


def _cotangent_for(ct, pa: ShapedArray):
    """The cotangent as returned to users: zeros for symbolic zeros, and the primal's dtype
    and weak type (``pa``: a gradient has the type of what it differentiates)."""
    if type(ct) is ad.Zero:
        return _zero_cotangent(pa)
    ca = get_aval(ct)
    if dtypes.is_inexact(pa.dtype) and (ca.dtype != pa.dtype or ca.weak_type != pa.weak_type):
        from functorch_lite import lax
        return lax.convert_element_type(ct, pa.dtype, weak_type=pa.weak_type)
    return ct


class _VJPBackward:
    """The static half of ``vjp``'s ``vjp_fn``: ``(residuals, cotangent) -> cotangents``."""

    __slots__ = ("program", "out_tree", "out_avals", "p_tree", "p_avals", "aux_avals")

    def __init__(self, program, out_tree, out_avals, p_tree, p_avals, aux_avals):
        self.program, self.out_tree, self.out_avals = program, out_tree, out_avals
        self.p_tree, self.p_avals, self.aux_avals = p_tree, p_avals, aux_avals

    def __call__(self, residuals, cotangent, *extra):
        if extra:
            raise TypeError(f"the function returned by vjp takes one cotangent, shaped like "
                            f"the differentiated function's output (a tuple when it returns "
                            f"a tuple), but was called with {1 + len(extra)} arguments")
        ct_leaves, ct_tree = pytree.tree_flatten(cotangent)
        if ct_tree != self.out_tree:
            raise ValueError(f"vjp_fn: cotangent structure {ct_tree} does not match the "
                             f"output structure {self.out_tree}")
        for i, (c, oa) in enumerate(zip(ct_leaves, self.out_avals)):
            ca, expect = get_aval(c), ad.tangent_aval(oa)
            if ca.shape != oa.shape:
                raise ValueError(f"vjp_fn: cotangent {i} has shape {ca.shape}, expected the "
                                 f"primal output's shape {oa.shape}")
            if expect.dtype != dtypes.float0 and ca.dtype != expect.dtype:
                raise ValueError(f"vjp_fn: cotangent {i} has dtype {ca.dtype.name}, expected "
                                 f"the primal output's dtype {oa.dtype.name}; convert it "
                                 f"with .astype({oa.dtype.name})")
        linear = ClosedProgram(self.program, residuals)
        aux_cts = [ad.Zero(a) for a in self.aux_avals]
        cts = transpose.vjp_of_linear(linear)([*ct_leaves, *aux_cts])
        cts = [_cotangent_for(c, pa) for c, pa in zip(cts, self.p_avals)]
        return tuple(pytree.tree_unflatten(self.p_tree, cts))

    def __repr__(self) -> str:
        return f"<vjp backward: {self.out_tree} -> {self.p_tree}>"


def vjp(fun: Callable, *primals, has_aux: bool = False):
    """Reverse mode: ``(fun(*primals), vjp_fn)``; ``vjp_fn(cotangent)`` returns a tuple with
    one cotangent per primal (float0 zeros for integer inputs), as JAX does. ``vjp_fn`` is a
    ``tree_util.Partial`` over the residuals, so it may be returned from ``jit``.

    >>> y, vjp_fn = jit(lambda x: vjp(fnp.sin, x))(0.0)
    >>> vjp_fn(1.0)
    (Array(1., dtype=float32, weak_type=True),)
    """
    outs, linear, box, p_tree, p_leaves = _vjp_flat("vjp", fun, primals, has_aux)
    out_tree = box[0]
    outs, aux = _split_aux(box, outs)
    static = _VJPBackward(linear.program, out_tree, [get_aval(o) for o in outs], p_tree,
                         [get_aval(p) for p in p_leaves],
                         [v.aval for v in linear.program.outvars[len(outs):]])
    result = (pytree.tree_unflatten(out_tree, outs), Partial(static, list(linear.consts)))
    return (*result, aux) if has_aux else result


def _check_output_dtype(kind: str, fun: Callable, aval: ShapedArray, holomorphic: bool):
    """Reverse-mode derivatives (grad, jacrev) need real outputs, or complex ones with
    ``holomorphic=True``; the messages keep JAX's wording."""
    name = _fun_name(fun)
    if holomorphic:
        if not dtypes.is_complex(aval.dtype):
            raise TypeError(f"{kind} with holomorphic=True requires outputs with complex "
                            f"dtype, but {name} returned {aval.str_short()}.")
    elif dtypes.is_complex(aval.dtype):
        raise TypeError(f"{kind} requires real-valued outputs (output dtype that is a "
                        f"sub-dtype of np.floating), but {name} returned "
                        f"{aval.str_short()}. For holomorphic differentiation, pass "
                        "holomorphic=True. For differentiation of non-holomorphic functions "
                        "involving complex outputs, use vjp directly.")
    elif not dtypes.is_float(aval.dtype):
        raise TypeError(f"{kind} requires real-valued outputs (output dtype that is a "
                        f"sub-dtype of np.floating), but {name} returned "
                        f"{aval.str_short()}. For differentiation of functions with integer "
                        "outputs, use vjp directly.")


def _check_scalar_output(name: str, fun: Callable, out_leaves, holomorphic: bool = False):
    if len(out_leaves) != 1:
        raise TypeError(f"{name} requires a function with a single scalar output, got "
                        f"{len(out_leaves)} outputs; use vjp or jacrev for several outputs")
    aval = get_aval(out_leaves[0])
    if aval.shape != ():
        raise TypeError(f"{name} requires a scalar output, got {aval.str_short()}; use vjp "
                        "or jacrev for non-scalar outputs")
    _check_output_dtype("grad", fun, aval, holomorphic)


def _check_diff_inputs(name: str, args, argnums: tuple[int, ...], allow_int: bool = False,
                       holomorphic: bool = False, kind: str = "grad"):
    """``kind`` is how JAX's messages name the transformation ("grad", "jacrev",
    "jacfwd"); jacfwd takes real inputs only (complex ones need ``holomorphic=True``)."""
    for i in argnums:
        if i >= len(args):
            raise TypeError(f"{name}: argnums {i} is out of range for {len(args)} "
                            "positional arguments")
        for leaf in pytree.tree_leaves(args[i]):
            aval = get_aval(leaf)
            if holomorphic:
                if not dtypes.is_complex(aval.dtype):
                    raise TypeError(f"{kind} with holomorphic=True requires inputs with "
                                    f"complex dtype, but got {aval.dtype.name} for argument "
                                    f"{i}.")
                continue
            if kind == "jacfwd":
                if not dtypes.is_float(aval.dtype):
                    raise TypeError(f"jacfwd requires real-valued inputs (input dtype that is "
                                    f"a sub-dtype of np.floating), but got {aval.dtype.name} "
                                    f"for argument {i}. For holomorphic differentiation, "
                                    "pass holomorphic=True. For differentiation of "
                                    "non-holomorphic functions involving complex inputs or "
                                    "integer inputs, use jvp directly.")
                continue
            if allow_int and (dtypes.is_int(aval.dtype) or dtypes.is_bool(aval.dtype)):
                continue
            if not dtypes.is_inexact(aval.dtype):
                raise TypeError(f"{name} requires real- or complex-valued inputs (input "
                                f"dtype that is a sub-dtype of np.inexact), but got "
                                f"{aval.dtype.name} for argument {i}. If you want to use "
                                "integer-valued inputs, use vjp or set allow_int=True.")


def value_and_grad(fun: Callable, argnums=0, has_aux: bool = False,
                   holomorphic: bool = False, allow_int: bool = False):
    """``(fun(*args), d fun / d args[argnums])`` for a scalar-valued ``fun``. Integer (and
    bool) arguments are refused unless ``allow_int``, which gives them float0 gradients.
    ``holomorphic=True`` differentiates a complex function of complex inputs (the result
    is ``f'(z)``); without it outputs must be real.

    >>> value_and_grad(lambda x: (x ** 2).sum())(fnp.arange(3.0))
    (Array(5., dtype=float32), Array([0., 2., 4.], dtype=float32))
    """
    single = isinstance(argnums, int)
    nums = (argnums,) if single else tuple(argnums)
    name = f"grad({_fun_name(fun)})"

    def wrapped(*args, **kwargs):
        nums_n = tuple(i + len(args) if i < 0 else i for i in nums)
        _check_diff_inputs(name, args, nums_n, allow_int, holomorphic)
        diff_args = [args[i] for i in nums_n]

        def f_diff(*d):
            full = list(args)
            for i, x in zip(nums_n, d):
                full[i] = x
            return fun(*full, **kwargs)

        outs, linear, box, p_tree, p_leaves = _vjp_flat(name, f_diff, diff_args, has_aux)
        outs, aux = _split_aux(box, outs)
        _check_scalar_output(name, fun, outs, holomorphic)
        from functorch_lite import lax
        seed = lax.full((), 1, get_aval(outs[0]).dtype)
        aux_cts = [ad.Zero(v.aval) for v in linear.program.outvars[1:]]
        cts = transpose.vjp_of_linear(linear)([seed, *aux_cts])
        cts = [_cotangent_for(c, get_aval(p)) for c, p in zip(cts, p_leaves)]
        grads = pytree.tree_unflatten(p_tree, cts)
        g = grads[0] if single else tuple(grads)
        value = pytree.tree_unflatten(box[0], outs)
        return ((value, aux), g) if has_aux else (value, g)

    functools.update_wrapper(wrapped, fun, updated=())
    return wrapped


def grad(fun: Callable, argnums=0, has_aux: bool = False, holomorphic: bool = False,
         allow_int: bool = False):
    """The gradient of scalar-valued ``fun`` with respect to ``args[argnums]`` (an int or a
    tuple of ints), with the structure of those arguments; ``allow_int`` gives integer
    arguments float0 gradients instead of refusing them; ``holomorphic=True`` gives
    ``f'(z)`` of a complex ``fun`` of complex inputs.

    >>> grad(lambda x: fnp.sin(x))(0.0)
    Array(1., dtype=float32, weak_type=True)
    """
    vg = value_and_grad(fun, argnums, has_aux, holomorphic, allow_int)

    def wrapped(*args, **kwargs):
        value, g = vg(*args, **kwargs)
        return (g, value[1]) if has_aux else g

    functools.update_wrapper(wrapped, fun, updated=())
    return wrapped


# ---------------------------------------------------------------------------------------
# Vectorization

from functorch_lite.interpreters import batching  # noqa: E402


def _check_axes_spec(name: str, spec, what: str):
    for leaf in pytree.tree_leaves(spec, is_leaf=lambda x: x is None):
        if leaf is not None and not isinstance(leaf, int):
            raise TypeError(f"{name}: {what} must be ints or None (or pytree prefixes of "
                            f"them), got {leaf!r}")


def vmap(fun: Callable, in_axes=0, out_axes=0, axis_name=None, axis_size: int | None = None):
    """Vectorize ``fun`` over a new leading axis of its inputs (``in_axes`` picks which axis
    of each argument, ``None`` for unbatched ones) and stack its outputs along ``out_axes``.

    >>> vmap(fnp.dot)(ones((5, 3)), ones((5, 3))).shape     # per-row dot products
    (5,)
    """
    if not callable(fun):
        raise TypeError(f"vmap expects a callable, got {type(fun).__name__}")
    if isinstance(in_axes, list):
        in_axes = tuple(in_axes)
    _check_axes_spec("vmap", in_axes, "in_axes")
    _check_axes_spec("vmap", out_axes, "out_axes")
    name = _fun_name(fun)

    def wrapped(*args, **kwargs):
        if kwargs:
            # Keyword arguments are batched along axis 0, as JAX does.
            return vmap(lambda *a: fun(*a[:-1], **a[-1]),
                        in_axes=(*(in_axes if isinstance(in_axes, tuple)
                                   else (in_axes,) * len(args)), 0),
                        out_axes=out_axes, axis_name=axis_name, axis_size=axis_size)(
                *args, kwargs)
        if isinstance(in_axes, tuple) and len(in_axes) != len(args):
            raise ValueError(f"vmap({name}): in_axes has {len(in_axes)} entries but the "
                             f"function was called with {len(args)} positional arguments; "
                             "in_axes must be an int, None, or a tuple with one entry per "
                             "argument")
        leaves, in_tree = pytree.tree_flatten(args)
        try:
            axes = pytree.broadcast_prefix(in_axes if isinstance(in_axes, tuple)
                                           else (in_axes,) * len(args), args)
        except ValueError as e:
            raise ValueError(f"vmap({name}): in_axes {in_axes!r} does not match the argument "
                             f"structure: {e}") from None
        paths = [f"args{pytree.keystr(p)}" for p, _ in pytree.tree_flatten_with_path(args)[0]]
        dims, sizes = [], []
        for path, x, ax in zip(paths, leaves, axes):
            if ax is None:
                dims.append(None)
                continue
            aval = _check_leaf(f"vmap({name})", path, x)
            if not -aval.ndim <= ax < aval.ndim:
                raise ValueError(f"vmap({name}): in_axes {ax} is out of range for argument "
                                 f"{path} of shape {aval.shape} (rank {aval.ndim})")
            d = ax % aval.ndim
            dims.append(d)
            sizes.append((path, d, aval.shape[d]))
        size_set = {s for _, _, s in sizes}
        if axis_size is not None:
            size_set.add(axis_size)
        if len(size_set) > 1:
            detail = "; ".join(f"{p} has axis {d} of size {s}" for p, d, s in sizes)
            raise ValueError(f"vmap({name}) got inconsistent sizes for the mapped axis: "
                             f"{detail}" + (f"; axis_size={axis_size}" if axis_size else ""))
        if not size_set:
            raise ValueError(f"vmap({name}) needs at least one batched argument (an in_axes "
                             "entry that is not None) or axis_size=")
        size = size_set.pop()
        box: list = []
        flat = _flatten_fun(fun, in_tree, box)
        outs, out_dims = batching.batch_flat(lambda *xs: flat(*xs),
                                             batching.AxisData(size, axis_name), leaves, dims)
        out_tree = box[0]
        out_structure = pytree.tree_unflatten(out_tree, list(range(len(outs))))
        try:
            out_ax = pytree.broadcast_prefix(out_axes, out_structure)
        except ValueError as e:
            raise ValueError(f"vmap({name}): out_axes {out_axes!r} does not match the output "
                             f"structure: {e}") from None
        results = []
        for i, (o, d, ax) in enumerate(zip(outs, out_dims, out_ax)):
            if ax is None:
                if d is not None:
                    raise ValueError(f"vmap({name}): out_axes=None for output {i}, but that "
                                     "output depends on the mapped axis (it differs across "
                                     "the batch); give it an integer out_axes")
                results.append(o)
                continue
            nd = get_aval(o).ndim + (1 if d is None else 0)
            if not -nd <= ax < nd:
                raise ValueError(f"vmap({name}): out_axes {ax} is out of range for output {i} "
                                 f"of rank {nd}")
            results.append(batching.move_dim(o, d, ax % nd, size))
        return pytree.tree_unflatten(out_tree, results)

    functools.update_wrapper(wrapped, fun, updated=())
    return wrapped


# ---------------------------------------------------------------------------------------
# Jacobians: jacfwd is vmap over jvp, jacrev is vmap over vjp; hessian is jacfwd(jacrev).

def _std_basis(leaves):
    """An identity matrix split and reshaped to (total_size, *leaf_shape) per leaf. It is
    built from iotas, so under ``jit`` XLA generates it in place (in whatever layout the
    consumer wants) instead of reading a constant."""
    from functorch_lite import lax
    sizes = [get_aval(x).size for x in leaves]
    total = sum(sizes)
    out, start = [], 0
    for x, n in zip(leaves, sizes):
        aval = get_aval(x)
        rows = lax.broadcasted_iota(np.int32, (total, n), 0)
        cols = lax.broadcasted_iota(np.int32, (total, n), 1)
        one_hot = lax.eq(rows, lax.add(cols, np.int32(start)) if start else cols)
        out.append(lax.reshape(lax.convert_element_type(one_hot, aval.dtype),
                               (total, *aval.shape)))
        start += n
    return out, total


def jacfwd(fun: Callable, argnums=0, has_aux: bool = False, holomorphic: bool = False):
    """The Jacobian of ``fun`` by forward mode (efficient for few inputs, many outputs).
    For output shape ``O`` and input shape ``I`` the result has shape ``O + I``. Inputs
    are real, or complex with ``holomorphic=True`` (then outputs must be complex too)."""
    single = isinstance(argnums, int)
    nums = (argnums,) if single else tuple(argnums)

    def wrapped(*args, **kwargs):
        nums_n = tuple(i + len(args) if i < 0 else i for i in nums)
        _check_diff_inputs(f"jacfwd({_fun_name(fun)})", args, nums_n,
                           holomorphic=holomorphic, kind="jacfwd")
        diff = tuple(args[i] for i in nums_n)
        d_leaves, d_tree = pytree.tree_flatten(diff)
        basis, total = _std_basis(d_leaves)

        def f_diff(*d):
            full = list(args)
            for i, x in zip(nums_n, pytree.tree_unflatten(d_tree, d)):
                full[i] = x
            return fun(*full, **kwargs)

        def push(*tangent_leaves):
            res = jvp(f_diff, tuple(d_leaves), tuple(tangent_leaves), has_aux=has_aux)
            return (res[1], res[2]) if has_aux else res[1]

        # The aux does not depend on the tangents: it leaves vmap unbatched (out_axes None),
        # so any pytree passes through as it came.
        pushed = vmap(push, in_axes=(0,) * len(d_leaves),
                      out_axes=(-1, None) if has_aux else -1)(*basis)
        if has_aux:
            pushed, aux = pushed
        if holomorphic:
            for y in pytree.tree_leaves(pushed):
                if not dtypes.is_complex(get_aval(y).dtype):
                    raise TypeError("jacfwd with holomorphic=True requires outputs with "
                                    f"complex dtype, but {_fun_name(fun)} returned "
                                    f"{get_aval(y).dtype.name}.")
        out = pytree.tree_map(lambda y: _assemble_fwd(y, d_leaves, d_tree, single), pushed)
        return (out, aux) if has_aux else out

    return wrapped


def _assemble_fwd(y, d_leaves, d_tree, single):
    from functorch_lite import lax
    aval = get_aval(y)
    out_shape = aval.shape[:-1]
    blocks, start = [], 0
    for x in d_leaves:
        xa = get_aval(x)
        block = lax.slice_in_dim(y, start, start + xa.size, axis=aval.ndim - 1)
        blocks.append(lax.reshape(block, out_shape + xa.shape))
        start += xa.size
    tree = pytree.tree_unflatten(d_tree, blocks)
    return tree[0] if single else tree


def jacrev(fun: Callable, argnums=0, has_aux: bool = False, holomorphic: bool = False,
           allow_int: bool = False):
    """The Jacobian of ``fun`` by reverse mode (efficient for few outputs, many inputs):
    ``vmap`` of ``vjp`` over the rows of the identity. Result shape ``O + I``. Outputs are
    real, or complex with ``holomorphic=True`` (then inputs must be complex too)."""
    single = isinstance(argnums, int)
    nums = (argnums,) if single else tuple(argnums)

    def wrapped(*args, **kwargs):
        nums_n = tuple(i + len(args) if i < 0 else i for i in nums)
        _check_diff_inputs(f"jacrev({_fun_name(fun)})", args, nums_n, allow_int,
                           holomorphic, kind="jacrev")
        diff = tuple(args[i] for i in nums_n)

        def f_diff(*d):
            full = list(args)
            for i, x in zip(nums_n, d):
                full[i] = x
            return fun(*full, **kwargs)

        res = vjp(f_diff, *diff, has_aux=has_aux)
        out, pullback = res[0], res[1]
        o_leaves, o_tree = pytree.tree_flatten(out)
        for o in o_leaves:
            _check_output_dtype("jacrev", fun, get_aval(o), holomorphic)
        basis, total = _std_basis(o_leaves)

        def pull(*ct_leaves):
            return pullback(pytree.tree_unflatten(o_tree, list(ct_leaves)))

        rows = vmap(pull, in_axes=(0,) * len(o_leaves))(*basis)  # tuple per diff arg
        from functorch_lite import lax
        per_out = []
        start = 0
        for o in o_leaves:
            oa = get_aval(o)

            def block(r, oa=oa, start=start):
                ra = get_aval(r)
                piece = lax.slice_in_dim(r, start, start + oa.size, axis=0)
                return lax.reshape(piece, oa.shape + ra.shape[1:])
            per_out.append(pytree.tree_map(block, rows))
            start += oa.size
        per_out = [p[0] if single else p for p in per_out]
        result = pytree.tree_unflatten(o_tree, per_out)
        return (result, res[2]) if has_aux else result

    return wrapped


def hessian(fun: Callable, argnums=0, has_aux: bool = False, holomorphic: bool = False):
    """The Hessian of scalar ``fun``: ``jacfwd(jacrev(fun))`` (forward over reverse)."""
    return jacfwd(jacrev(fun, argnums, has_aux=has_aux, holomorphic=holomorphic), argnums,
                  has_aux=has_aux, holomorphic=holomorphic)
