"""jit's stages: tracing a call into a program (``TracedProgram``, the cache entry) and the
objects ``jit(f).trace`` / ``.lower`` / ``.compile`` hand to users (``Traced``, ``Lowered``,
``Compiled``, as JAX's ``jax.stages``), plus ``make_ir``, which stops after tracing."""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from functorch_lite.api._args import (_arg_names, _check_leaf, _flatten_fun, _fun_name,
                                      _leaf_aval, _leaf_paths, _normalize_argnums,
                                      _positive_argnums, compiler_options_key)
from functorch_lite.api.shardings import program_mesh
from functorch_lite.core import passes, pytree
from functorch_lite.core.backend import backend
from functorch_lite.core.ir import ClosedProgram
from functorch_lite.core.shape_dtype_struct import ShapeDtypeStruct
from functorch_lite.interpreters import staging


class _Signature:
    """The static part of a call: what decides whether a traced program can be reused."""

    __slots__ = ("key", "in_tree", "in_avals", "statics")

    def __init__(self, in_tree, in_avals, statics):
        self.in_tree = in_tree
        self.in_avals = in_avals
        self.statics = statics
        self.key = (in_tree, in_avals, statics)


def _check_hashable(fun_name: str, which: str, value) -> None:
    try:
        hash(value)
    except TypeError:
        raise ValueError(f"jit({fun_name}): static argument {which} of type "
                         f"{type(value).__name__} is unhashable; static arguments must be "
                         "hashable (use a tuple instead of a list, or make it a regular "
                         "argument)") from None


def _split_static(fun_name, args, kwargs, static_argnums, static_argnames):
    statics = []
    dyn_args = []
    for i, a in enumerate(args):
        if i in static_argnums:
            _check_hashable(fun_name, str(i), a)
            statics.append(("arg", i, a))
        else:
            dyn_args.append(a)
    dyn_kwargs = {}
    for k, v in sorted(kwargs.items()):
        if k in static_argnames:
            _check_hashable(fun_name, repr(k), v)
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


class TracedProgram:
    """The result of tracing once: the program and how to map pytrees in and out (the
    cache entry; ``jit(f).trace(...)`` hands it to users wrapped in a ``Traced``)."""

    __slots__ = ("program", "consts", "out_tree", "name", "closed", "mesh", "_compiled",
                 "_fast")

    def __init__(self, closed: ClosedProgram, out_tree, name: str):
        closed = passes.simplify(closed)
        self.closed = closed
        self.program, consts = closed.consts_as_inputs()
        # Host constants are copied to the device now: the program captured their value
        # at trace time, and later changes to a NumPy array must not leak in.
        self.consts = [backend.device_put(np.array(c), None, False)
                       if isinstance(c, (np.ndarray, np.generic)) else c for c in consts]
        self.out_tree = out_tree
        self.name = name
        self.mesh = program_mesh(self.program)  # a with_sharding_constraint's, if any
        # (device, donation flags, XLA options) -> compiled executable
        self._compiled = {}
        self._fast = {}  # (device, scalar flags, donation flags, XLA options) -> fast_entry

    def compiled(self, device=None, donated: tuple = (), options: tuple = ()):
        """The executable for ``device``; ``donated`` flags the operands (constants
        first) whose buffers it may consume; ``options`` are XLA's compiler options as
        sorted (name, value) pairs (jit's ``compiler_options``)."""
        key = (device, donated, options)
        exe = self._compiled.get(key)
        if exe is None:
            exe = self._compiled[key] = backend.compile(self.program, self.name, device,
                                                        donated, compiler_options=options)
        return exe

    def compiled_spmd(self, in_shardings: tuple, out_shardings: tuple, mesh, donated=(),
                      options: tuple = ()):
        """The program partitioned over a mesh: one sharding per operand (constants
        first; None: replicated) and per output (None: XLA's choice)."""
        key = ("spmd", in_shardings, out_shardings, mesh, donated, options)
        exe = self._compiled.get(key)
        if exe is None:
            exe = self._compiled[key] = backend.compile_spmd(
                self.program, self.name, in_shardings, out_shardings, donated, mesh,
                compiler_options=options)
        return exe

    def run_eagerly(self, leaves, device=None, donated: tuple = (), options: tuple = ()):
        """When no transformation is active: call the compiled executable directly
        instead of going through ``bind``. It runs on ``device`` (None: the default)."""
        return self.compiled(device, donated, options)(*self.consts, *leaves)

    def fast_entry(self, device, scalars: tuple, donated: tuple = (), options: tuple = ()):
        """(call, rebuild) for ``JitFunction``'s cached-call path on ``device``, or None
        where the backend has no such path. ``scalars`` flags the arguments that are Python
        scalars; ``donated`` and ``options`` are as for ``compiled``. ``rebuild`` makes the
        output pytree from the output list; None for a single array output."""
        key = (device, scalars, donated, options)
        if key not in self._fast:
            make = getattr(self.compiled(device, donated, options), "fast_caller", None)
            call = make(self.consts, scalars) if make is not None else None
            leaf = pytree.treedef_is_leaf(self.out_tree) and self.out_tree.num_leaves == 1
            rebuild = None if leaf else pytree.unflattener(self.out_tree)
            self._fast[key] = None if call is None else (call, rebuild)
        return self._fast[key]


def _trace(fun: Callable, name: str, args: Sequence, kwargs: dict, sig: _Signature,
           static_argnums, arg_names: list[str] | None, description: str) -> TracedProgram:
    out_tree_box: list = []
    nargs = len(args) + sum(1 for kind, _, _ in sig.statics if kind == "arg")

    def call_rebuilt(dyn_args, dyn_kwargs):  # the flat inputs are (dyn_args, dyn_kwargs)
        full_args, full_kwargs = _rebuild(nargs, static_argnums, sig.statics, dyn_args,
                                          dyn_kwargs)
        return fun(*full_args, **full_kwargs)

    flat_fun = _flatten_fun(call_rebuilt, sig.in_tree, out_tree_box,
                            check_out=lambda leaves, tree: _check_outputs(description,
                                                                          leaves, tree))
    labels = _input_labels(arg_names, args, kwargs, static_argnums, sig)
    closed = staging.trace_to_program(flat_fun, sig.in_avals, description=description,
                                      input_labels=labels)
    return TracedProgram(closed, out_tree_box[0], name)


def _check_outputs(description: str, leaves: list, tree) -> None:
    """Every output leaf must be an array (or a Python scalar): a str or other object
    cannot leave a compiled program."""
    for i, o in enumerate(leaves):
        if _leaf_aval(o) is None:
            paths = pytree.tree_flatten_with_path(pytree.tree_unflatten(tree, leaves))[0]
            where = pytree.keystr(paths[i][0]) if i < len(paths) else ""
            where = f"output{where}" if where else "its output"
            raise TypeError(f"{description} returned a value of type {type(o).__name__} at "
                            f"{where}, which is not an array; a jitted function can only "
                            "return arrays and Python scalars (or pytrees of them); return "
                            "other values from a function that is not jitted")


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

    def __init__(self, traced: TracedProgram, spmd: tuple | None = None,
                 compiler_options: tuple = ()):
        self._traced = traced
        self._spmd = spmd  # (in_shardings, out_shardings, mesh) for a program over a mesh
        self._compiler_options = compiler_options  # jit's, as sorted (name, value) pairs
        self._text = None

    def as_text(self) -> str:
        if self._text is None:
            if self._spmd is not None:
                self._text = self._traced.compiled_spmd(*self._spmd).text
            else:
                self._text = backend.lower(self._traced.program, self._traced.name)
        return self._text

    def compile(self, compiler_options: dict | None = None) -> "Compiled":
        """The executable; ``compiler_options`` (XLA's options by name, as for ``jit``)
        add to and override those given to ``jit``."""
        options = compiler_options_key(compiler_options, "compile", self._compiler_options)
        if self._spmd is not None:
            return Compiled(self._traced,
                            self._traced.compiled_spmd(*self._spmd, options=options))
        return Compiled(self._traced, self._traced.compiled(options=options))

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

    def __init__(self, traced: TracedProgram, in_tree, in_avals, fun_name: str,
                 spmd: tuple | None = None, compiler_options: tuple = ()):
        self._traced = traced
        self._spmd = spmd
        self._compiler_options = compiler_options
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
        """The output shapes and dtypes, as ``ShapeDtypeStruct``s."""
        return pytree.tree_map(lambda a: ShapeDtypeStruct(a.shape, a.dtype), self.out_avals)

    def lower(self) -> Lowered:
        return Lowered(self._traced, self._spmd, self._compiler_options)

    def __repr__(self) -> str:
        return f"<Traced {self.fun_name}>"


def make_ir(fun: Callable, static_argnums=()) -> Callable[..., ClosedProgram]:
    """``make_ir(f)(*args)`` traces ``f`` on abstract versions of ``args`` and returns the
    program (print it to read it, like a jaxpr)."""
    static_argnums = _normalize_argnums(static_argnums, "static_argnums")
    name = _fun_name(fun)
    arg_names = _arg_names(fun)

    def make(*args, **kwargs):
        sn = _positive_argnums(static_argnums, len(args))
        statics, dyn_args, dyn_kwargs = _split_static(name, args, kwargs, sn, ())
        leaves, in_tree = pytree.tree_flatten((dyn_args, dyn_kwargs))
        in_avals = tuple(_check_leaf(f"make_ir({name})", str(i), x)
                         for i, x in enumerate(leaves))
        sig = _Signature(in_tree, in_avals, statics)
        return _trace(fun, name, dyn_args, dyn_kwargs, sig, sn, arg_names,
                      f"make_ir({name})").closed

    return make
