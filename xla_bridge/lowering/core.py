"""Lowering an IR program to a StableHLO module, written as MLIR text in generic form.

Each primitive has one lowering rule, registered with ``register(primitive)``. A rule gets
the context, the input and output avals and the input SSA values, plus the equation's
params, and returns the output SSA values::

    @register(lax.add_p)
    def _add(ctx, avals_in, avals_out, x, y):
        return ctx.op("stablehlo.add", [x, y], avals_out)

Generic-form MLIR (``"stablehlo.add"(%0, %1) : (types) -> type``) is uniform for every op,
so the emitter needs no per-op syntax. SSA names are unique across the whole module, so
regions can refer to values of their enclosing function freely.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from functorch_lite.core import dtypes
from functorch_lite.core.avals import ShapedArray
from functorch_lite.core.ir import Literal, Program, Var
from functorch_lite.core.primitive import Primitive

_rules: dict[Primitive, Callable] = {}


def register(primitive: Primitive) -> Callable[[Callable], Callable]:
    def wrap(rule: Callable) -> Callable:
        _rules[primitive] = rule
        return rule
    return wrap


def has_rule(primitive: Primitive) -> bool:
    return primitive in _rules


class LoweringError(Exception):
    """A bug in a lowering rule of ours (never the user's mistake)."""


_ELEMENT_TYPES = {
    "bool": "i1", "int8": "i8", "int16": "i16", "int32": "i32", "int64": "i64",
    "uint8": "ui8", "uint16": "ui16", "uint32": "ui32", "uint64": "ui64",
    "bfloat16": "bf16", "float16": "f16", "float32": "f32", "float64": "f64",
    "complex64": "complex<f32>", "complex128": "complex<f64>",
}


def element_type(dtype) -> str:
    dtype = np.dtype(dtype)
    if dtype == dtypes.float0:
        return "i1"  # float0 (tangents of integer values) holds no data: carried as bool
    try:
        return _ELEMENT_TYPES[dtype.name]
    except KeyError:
        raise LoweringError(f"dtype {dtype} has no StableHLO element type") from None


def tensor_type(aval: ShapedArray) -> str:
    dims = "".join(f"{d}x" for d in aval.shape)
    return f"tensor<{dims}{element_type(aval.dtype)}>"


def dense_attr(value: np.ndarray, aval: ShapedArray) -> str:
    """A ``dense<"0x...">`` attribute holding ``value``'s raw little-endian bytes (one element
    only when all are equal, which MLIR reads as a splat)."""
    if aval.dtype == dtypes.float0:  # no data: carried as bool zeros (element_type)
        value = np.zeros(aval.shape, np.bool_)
        aval = aval.update(dtype=np.bool_)
    flat = np.ascontiguousarray(np.asarray(value, dtype=aval.dtype).reshape(-1))
    if flat.dtype == np.bool_:
        flat = flat.astype(np.uint8)
    elif flat.dtype.byteorder == ">":
        flat = flat.astype(flat.dtype.newbyteorder("<"))
    if flat.size == 0:
        return f'dense<"0x"> : {tensor_type(aval)}'
    rows = flat.view(np.uint8).reshape(flat.size, -1)
    if flat.size > 1 and (rows == rows[:1]).all():
        rows = rows[:1]
    return f'dense<"0x{rows.tobytes().hex().upper()}"> : {tensor_type(aval)}'


class LoweringContext:
    """Accumulates the lines of one module and hands out fresh SSA names."""

    def __init__(self):
        self._count = 0
        self.lines: list[str] = []
        self._indent = 4
        self.functions: list[str] = []  # extra private functions (func.call targets)
        self._function_names: dict = {}  # what a group of functions is -> its entry's name
        self.num_partitions = 1  # devices the program is partitioned over (SPMD)
        self.manual_mesh = None  # inside a shard_map body: its mesh (collectives' groups)
        self.platform = "cpu"  # where the module will run (host callbacks' target differs)
        # Python functions the module calls back (custom calls name them by index); the
        # compiler needs them (compile.compile_program).
        self.host_callbacks: list = []
        # The token chaining this region's ordered callbacks (None until the first one).
        self.token: str | None = None

    # -- names and text ----------------------------------------------------------------------
    def fresh(self, prefix: str = "") -> str:
        self._count += 1
        return f"%{prefix}{self._count}"

    def emit(self, line: str) -> None:
        self.lines.append(" " * self._indent + line)

    @staticmethod
    def types(avals: Sequence[ShapedArray]) -> str:
        return ", ".join(tensor_type(a) for a in avals)

    def add_functions(self, key, make: Callable[[str], Sequence[str]]) -> str:
        """The symbol to ``func.call`` for the functions ``make(prefix)`` writes (their
        entry named ``prefix + "main"``), added to the module once per ``key``."""
        name = self._function_names.get(key)
        if name is None:
            prefix = f"f{len(self._function_names)}_"
            self.functions.extend("  " + "\n  ".join(text.splitlines())
                                  for text in make(prefix))
            name = self._function_names[key] = prefix + "main"
        return name

    # -- ops ---------------------------------------------------------------------------------
    def op(self, name: str, operands: Sequence[str], operand_avals: Sequence[ShapedArray],
           result_avals: ShapedArray | Sequence[ShapedArray], attrs: dict | None = None,
           regions: Sequence[str] = ()):
        """Emit one op; return its result name (one result) or list of names."""
        single = isinstance(result_avals, ShapedArray)
        results = [result_avals] if single else list(result_avals)
        names = [self.fresh() for _ in results]
        lhs = ", ".join(names)
        attr_text = ""
        if attrs:
            attr_text = " {" + ", ".join(f"{k} = {v}" for k, v in attrs.items()) + "}"
        region_text = ""
        if regions:
            region_text = " (" + ", ".join(regions) + ")"
        result_types = self.types(results)
        if len(results) != 1:
            result_types = f"({result_types})"
        line = (f'"{name}"({", ".join(operands)}){region_text}{attr_text} : '
                f"({self.types(operand_avals)}) -> {result_types}")
        self.emit(f"{lhs} = {line}" if names else line)
        return names[0] if single else names

    def region(self, arg_avals: Sequence[ShapedArray],
               body: Callable[..., Sequence[str]], terminator: str = "stablehlo.return") -> str:
        """A one-block region; ``body(*arg_names)`` emits ops and returns the values to yield
        (with ``terminator``). The yielded values' avals are taken from ``body``'s second
        return (names, avals)."""
        args = [self.fresh("r") for _ in arg_avals]  # never clashes with @main's %argN
        saved_lines, saved_indent, saved_token = self.lines, self._indent, self.token
        self.lines, self._indent, self.token = [], saved_indent + 4, None
        out_names, out_avals = body(*args)
        self.emit(f'"{terminator}"({", ".join(out_names)}) : ({self.types(out_avals)}) -> ()')
        inner, self.lines, self._indent = self.lines, saved_lines, saved_indent
        self.token = saved_token
        header = ", ".join(f"{a}: {tensor_type(t)}" for a, t in zip(args, arg_avals))
        label = " " * (saved_indent + 2) + f"^bb0({header}):\n" if arg_avals else ""
        return "{\n" + label + "\n".join(inner) + "\n" + " " * saved_indent + "}"

    def constant(self, value: Any, aval: ShapedArray) -> str:
        return self.op("stablehlo.constant", [], [], aval,
                       {"value": dense_attr(np.asarray(value), aval)})

    def full(self, value: Any, aval: ShapedArray) -> str:
        """An array of ``aval``'s shape filled with ``value`` (a splat constant)."""
        return self.constant(np.full(aval.shape, value, dtype=aval.dtype), aval)

    def convert(self, x: str, aval: ShapedArray, dtype) -> str:
        if aval.dtype == np.dtype(dtype):
            return x
        return self.op("stablehlo.convert", [x], [aval], aval.update(dtype=dtype))

    def broadcast_in_dim(self, x: str, aval: ShapedArray, shape: Sequence[int],
                         dims: Sequence[int]) -> str:
        if tuple(shape) == aval.shape and tuple(dims) == tuple(range(aval.ndim)):
            return x
        return self.op("stablehlo.broadcast_in_dim", [x], [aval], aval.update(shape=shape),
                       {"broadcast_dimensions": i64_array(dims)})

    # -- programs ----------------------------------------------------------------------------
    def lower_eqns(self, program: Program, env: dict) -> list[str]:
        """Emit ``program``'s equations with its inputs already bound in ``env``."""
        def read(a):
            if type(a) is Literal:
                return self.constant(a.val, a.aval)
            return env[a]

        for eqn in program.eqns:
            rule = _rules.get(eqn.primitive)
            if rule is None:
                raise NotImplementedError(
                    f"primitive {eqn.primitive.name!r} has no lowering to StableHLO")
            ins = [read(a) for a in eqn.inputs]
            avals_in = [a.aval for a in eqn.inputs]
            avals_out = [v.aval for v in eqn.outputs]
            try:
                outs = rule(self, avals_in, avals_out if eqn.primitive.multiple_results
                            else avals_out[0], *ins, **eqn.params)
            except Exception as e:
                named = _named(e, eqn.primitive, avals_in)
                if named is e:
                    raise
                raise named from e
            if not eqn.primitive.multiple_results:
                outs = [outs]
            for v, o in zip(eqn.outputs, outs):
                env[v] = o
        return [read(a) for a in program.outvars]

    def inline(self, program: Program, consts: Sequence[str], args: Sequence[str]) -> list[str]:
        env = dict(zip(program.constvars, consts))
        env.update(zip(program.invars, args))
        return self.lower_eqns(program, env)


def _named(e: Exception, primitive: Primitive, avals_in: Sequence[ShapedArray]) -> Exception:
    """The error to raise for ``e``, raised by ``primitive``'s lowering rule, so that it
    names the primitive. NotImplementedError and LoweringError already speak to the user
    (and name it); a TypeError may be a deliberate one about the user's types, so it keeps
    its type (a subclass of TypeError, such as a concretization error, keeps its identity
    and gets a note); anything else, NameError included, is a bug of ours: a
    LoweringError that names the primitive and keeps the cause."""
    if isinstance(e, (NotImplementedError, LoweringError)):
        return e
    where = (f"lowering of primitive {primitive.name!r} failed for inputs "
             f"{[a.str_short() for a in avals_in]}")
    if type(e) is TypeError:
        return TypeError(f"{where}: {e}")
    if isinstance(e, TypeError):
        e.add_note(where)
        return e
    return LoweringError(f"{where}: {type(e).__name__}: {e}")


def i64_array(values: Sequence[int]) -> str:
    vals = ", ".join(str(int(v)) for v in values)
    return f"array<i64{': ' + vals if vals else ''}>"


def lower_program(program: Program, name: str = "main", donated: Sequence[bool] = (),
                  arg_attrs: Sequence[str | None] | None = None,
                  result_attrs: Sequence[str | None] | None = None,
                  num_partitions: int = 1, module_ops: Sequence[str] = (),
                  platform: str = "cpu", host_callbacks: list | None = None,
                  consts: Sequence[Any] | None = None) -> str:
    """The StableHLO module text of ``program``; its constvars come first among the
    arguments of ``@main``, then its invars (given ``consts``, their values are written
    into the module instead, and ``@main`` takes the invars only). For a program over
    several devices (``num_partitions``), ``arg_attrs``/``result_attrs`` add an attribute
    to each argument and result (its sharding; None: none) and ``module_ops`` go first in
    the module (the mesh the shardings name). The Python functions the program calls back
    are appended to ``host_callbacks`` (pass a list to compile it; ``platform`` picks
    their target)."""
    ctx = LoweringContext()
    ctx.num_partitions = num_partitions
    ctx.platform = platform
    if host_callbacks is not None:
        ctx.host_callbacks = host_callbacks
    in_vars = list(program.invars) if consts is not None else \
        list(program.constvars) + list(program.invars)
    arg_names = [f"%arg{i}" for i in range(len(in_vars))]
    env: dict[Var, str] = dict(zip(in_vars, arg_names))
    if consts is not None:
        env.update((v, ctx.constant(np.asarray(c), v.aval))
                   for v, c in zip(program.constvars, consts))
    outs = ctx.lower_eqns(program, env)
    out_avals = [a.aval for a in program.outvars]
    ctx.emit(f'"func.return"({", ".join(outs)}) : ({ctx.types(out_avals)}) -> ()')
    arg_decls = []
    for i, (a, v) in enumerate(zip(arg_names, in_vars)):
        attrs = []
        if i < len(donated) and donated[i]:
            # A donated input's buffer may be reused for an output; the runtime deletes it.
            attrs.append("jax.buffer_donor = true")
        if arg_attrs is not None and arg_attrs[i] is not None:
            attrs.append(arg_attrs[i])
        arg_decls.append(f"{a}: {tensor_type(v.aval)}" +
                         (f" {{{', '.join(attrs)}}}" if attrs else ""))
    results = ctx.types(out_avals)
    if result_attrs is not None:
        results = ", ".join(tensor_type(a) + (f" {{{s}}}" if s else "")
                            for a, s in zip(out_avals, result_attrs))
    mod_name = "".join(c if c.isalnum() or c == "_" else "_" for c in name) or "main"
    return "\n".join([
        f"module @{mod_name} attributes {{mhlo.num_partitions = {num_partitions} : i32, "
        "mhlo.num_replicas = 1 : i32} {",
        *[f"  {op}" for op in module_ops],
        f"  func.func public @main({', '.join(arg_decls)}) -> ({results}) {{",
        *ctx.lines,
        "  }",
        *ctx.functions,
        "}",
    ])
