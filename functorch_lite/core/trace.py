"""Tracers, traces and the interpreter stack.

Every array operation ends in ``bind(primitive, *args, **params)``. ``bind`` looks at the
arguments, finds the innermost active transformation among them (the *top trace*), lifts
every argument into that trace, and lets the trace interpret the primitive. A trace that
needs to compute on its tracers' contents (a jvp trace computing primal and tangent) calls
``bind`` again on the contents, which belong to lower traces: that recursion is how
transformations compose.

The stack holds one ``MainTrace`` per active transformation, numbered by level. Level 0 is
always eager evaluation. ``jit``/``make_ir`` install a staging main as the *dynamic* trace:
while it is active, operations on plain arrays are staged into the program rather than run.
"""
from __future__ import annotations

import contextlib
from typing import Any, Iterator, Sequence

from functorch_lite.core import avals as avals_mod
from functorch_lite.core.errors import (ConcretizationTypeError, TracerArrayConversionError,
                                        TracerBoolConversionError, TracerIntegerConversionError,
                                        UnexpectedTracerError)


class MainTrace:
    """One active transformation on the stack. ``global_data`` is per-transformation state
    (the IR builder for staging, the axis name and size for vmap, ...)."""

    __slots__ = ("level", "trace_type", "global_data", "alive", "description")

    def __init__(self, level: int, trace_type: type, global_data: Any = None,
                 description: str = ""):
        self.level = level
        self.trace_type = trace_type
        self.global_data = global_data
        self.alive = True
        self.description = description or trace_type.transformation_name

    def with_trace(self) -> "Trace":
        return self.trace_type(self)

    def __repr__(self) -> str:
        return f"MainTrace({self.level}, {self.trace_type.__name__})"


class Trace:
    """How one transformation interprets primitives. Subclasses override the ``process_*``
    methods; ``pure`` and ``lift`` turn constants and lower-level tracers into this trace's
    tracers."""

    transformation_name = "a transformation"

    def __init__(self, main: MainTrace):
        self.main = main

    def pure(self, val: Any) -> "Tracer":
        raise NotImplementedError

    def lift(self, tracer: "Tracer") -> "Tracer":
        raise NotImplementedError

    def process_primitive(self, primitive, tracers: Sequence["Tracer"], params: dict):
        raise NotImplementedError

    def full_raise(self, val: Any):
        if not isinstance(val, Tracer):
            return self.pure(val)
        main = val._trace.main
        if main is self.main:
            return val
        if not main.alive:
            raise escaped_tracer_error(val)
        if main.level < self.main.level:
            return self.lift(val)
        raise escaped_tracer_error(val, detail=(
            f"it was used inside {self.main.description} at level {self.main.level}, while it "
            f"belongs to {main.description} at level {main.level}"))


class EvalTrace(Trace):
    """Level 0: apply each primitive to concrete values."""

    transformation_name = "eager evaluation"

    def pure(self, val):
        return val

    lift = pure

    def process_primitive(self, primitive, values, params):
        return primitive.impl(*values, **params)


def escaped_tracer_error(tracer: "Tracer", detail: str = "") -> UnexpectedTracerError:
    main = tracer._trace.main
    msg = (f"Encountered an unexpected tracer {tracer.aval.str_short()} created by "
           f"{main.description}. A tracer escaped the transformation that made it: it was "
           "stored (in a global, a closure, an attribute) while the function was being "
           "transformed and used after that transformation ended. Return the value from "
           "the transformed function instead of storing it.")
    if detail:
        msg += f" ({detail})"
    return UnexpectedTracerError(msg)


class Tracer(avals_mod.Array):
    """A stand-in for an array while a transformation runs. It is an ``Array`` (shape, dtype,
    the operators and methods ``functorch_lite.numpy`` attaches there), so user code behaves
    the same under every transformation."""

    __slots__ = ("_trace",)
    __array_priority__ = 1000

    @property
    def aval(self) -> avals_mod.ShapedArray:
        raise NotImplementedError

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of unsized object (a 0-d traced array)")
        return self.shape[0]

    def _concretization_error(self, what: str, cls=ConcretizationTypeError):
        main = self._trace.main
        hint = ("use lax.cond / lax.select / fnp.where for data-dependent branches, "
                "lax.while_loop / lax.fori_loop for data-dependent loops")
        if main.description.startswith("jit"):
            hint += (", or mark the argument static with jit(..., static_argnums=...) / "
                     "static_argnames=...")
        return cls(f"{what} was called on an abstract value {self.aval.str_short()} made by "
                   f"{main.description}; its concrete value is not known while tracing. "
                   f"Instead, {hint}.")

    def __bool__(self):
        raise self._concretization_error("bool() (a Python `if`, `while`, `and`/`or`)",
                                         TracerBoolConversionError)

    def __int__(self):
        raise self._concretization_error("int()", TracerIntegerConversionError)

    def __index__(self):
        raise self._concretization_error("__index__ (using a traced value as a Python "
                                         "integer, e.g. as a list index or a shape)",
                                         TracerIntegerConversionError)

    def __float__(self):
        raise self._concretization_error("float()")

    def __complex__(self):
        raise self._concretization_error("complex()")

    def __array__(self, dtype=None, copy=None):
        raise self._concretization_error("numpy.asarray() (converting to a NumPy array)",
                                         TracerArrayConversionError)

    def item(self):
        raise self._concretization_error(".item()")

    def tolist(self):
        raise self._concretization_error(".tolist()")

    # The rest of the device array's public surface, so that no attribute is missing on a
    # tracer. Type queries work; what needs a device buffer fails as JAX's tracers fail:
    # ``device``/``block_until_ready``/``buffer`` with AttributeError (so ``hasattr``
    # answers False), the other buffer methods with a concretization error.
    @property
    def device(self):
        raise AttributeError(f"the 'device' attribute is not available on a traced array "
                             f"{self.aval.str_short()} (made by {self._trace.main.description});"
                             " it only exists on concrete arrays")

    @property
    def buffer(self):
        raise AttributeError(f"a traced array {self.aval.str_short()} has no device buffer; "
                             "return it from the transformed function to get an Array")

    @property
    def block_until_ready(self):
        raise AttributeError(f"the 'block_until_ready' method is not available on a traced "
                             f"array {self.aval.str_short()}; call it on the result of the "
                             "transformed function instead")

    @property
    def sharding(self):
        raise AttributeError(f"the 'sharding' attribute is not available on a traced array "
                             f"{self.aval.str_short()} (made by {self._trace.main.description})"
                             "; constrain a layout with lax.with_sharding_constraint")

    @property
    def addressable_shards(self):
        raise self._concretization_error(".addressable_shards")

    @property
    def is_fully_replicated(self):
        raise self._concretization_error(".is_fully_replicated")

    @property
    def is_fully_addressable(self):
        raise self._concretization_error(".is_fully_addressable")

    def devices(self):
        raise self._concretization_error(".devices()")

    def delete(self):
        raise self._concretization_error(".delete()")

    def is_deleted(self):
        raise self._concretization_error(".is_deleted()")

    def __copy__(self):
        return self  # values are immutable, as Array's copy

    def __deepcopy__(self, memo):
        return self

    def __reduce__(self):
        raise self._concretization_error("pickling (__reduce__)")

    def __iter__(self):
        if not self.shape:
            raise TypeError("iteration over a 0-d traced array")
        return (self[i] for i in range(self.shape[0]))

    def __repr__(self):
        return f"Traced<{self.aval.str_short()}>with<{type(self._trace).__name__}>"

    def full_lower(self):
        return self


# ---------------------------------------------------------------------------------------
# The stack

_stack: list[MainTrace] = [MainTrace(0, EvalTrace)]
_dynamic: list[MainTrace] = [_stack[0]]


@contextlib.contextmanager
def new_main(trace_type: type, global_data: Any = None, *, dynamic: bool = False,
             description: str = "") -> Iterator[MainTrace]:
    """Push a transformation onto the stack for the duration of the ``with`` block."""
    main = MainTrace(len(_stack), trace_type, global_data, description)
    _stack.append(main)
    if dynamic:
        _dynamic.append(main)
    try:
        yield main
    finally:
        main.alive = False
        if dynamic:
            _dynamic.pop()
        _stack.pop()


def current_dynamic() -> MainTrace:
    return _dynamic[-1]


def active_mains() -> tuple[MainTrace, ...]:
    """The active transformations, eager evaluation (level 0) first, innermost last."""
    return tuple(_stack)


@contextlib.contextmanager
def eager_as_dynamic() -> Iterator[None]:
    """Inside the block, operations with no traced input are evaluated eagerly instead of
    being staged by the innermost dynamic trace (``jit``'s): ``ensure_compile_time_eval``."""
    _dynamic.append(_stack[0])
    try:
        yield
    finally:
        _dynamic.pop()


def no_transformations() -> bool:
    """True when only eager evaluation is active."""
    return len(_stack) == 1


def find_top_trace(args: Sequence[Any]) -> Trace:
    top = _dynamic[-1]
    for x in args:
        if isinstance(x, Tracer):
            main = x._trace.main
            if main.level > top.level:
                top = main
    if not top.alive:
        for x in args:
            if isinstance(x, Tracer) and x._trace.main is top:
                raise escaped_tracer_error(x)
    return top.with_trace()


def bind(primitive, *args, **params):
    """Hand ``primitive(*args, **params)`` to the innermost transformation among ``args``."""
    if len(_stack) == 1:
        # No transformation is active: evaluate directly (the common eager case). Any
        # tracer here has outlived its transformation.
        for a in args:
            if isinstance(a, Tracer):
                raise escaped_tracer_error(a)
        return primitive.impl(*args, **params)
    trace = find_top_trace(args)
    tracers = [trace.full_raise(a) for a in args]
    outs = trace.process_primitive(primitive, tracers, params)
    if primitive.multiple_results:
        return [full_lower(o) for o in outs]
    return full_lower(outs)


def full_lower(val):
    if isinstance(val, Tracer):
        return val.full_lower()
    return val


def is_traced(x: Any) -> bool:
    """Whether ``x`` is a tracer: an abstract stand-in whose value is not known while a
    transformation runs. The libraries above the core ask this (to demand a concrete shape
    argument, say) instead of naming the tracer type."""
    return isinstance(x, Tracer)
