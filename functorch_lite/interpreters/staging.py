"""Staging: run a function on abstract tracers and record every primitive into a Program.

This is what ``make_ir`` and ``jit`` use. The staging trace is installed as the *dynamic*
trace, so even operations on concrete arrays (closed-over constants) are recorded rather
than executed; such constants become the program's ``constvars``.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from functorch_lite.core import dtypes
from functorch_lite.core import trace as trace_mod
from functorch_lite.core.avals import Array, ShapedArray, TypedScalar, get_aval
from functorch_lite.core.config import config
from functorch_lite.core.ir import ClosedProgram, Eqn, Literal, Program, Var, typecheck


class StagingTracer(trace_mod.Tracer):
    """A value being staged: its abstract value and the program variable (or literal) that
    holds it. Its own attributes are underscored: tracers carry every public ``Array``
    method (``x.var()``, ``x.trace()``, ...), which a slot of the same name would hide."""
    __slots__ = ("_aval", "_atom")

    def __init__(self, trace: "StagingTrace", aval: ShapedArray, atom: Var | Literal):
        self._trace = trace
        self._aval = aval
        self._atom = atom

    @property
    def aval(self) -> ShapedArray:
        return self._aval

    def full_lower(self):
        # While linearizing (partial evaluation), a known value is just that value, so
        # the primal computation keeps running instead of being staged.
        builder = self._trace.main.global_data
        if builder.partial_eval:
            known = builder.known_value(self)
            if known is not _UNKNOWN:
                return known
        return self

    def _concretization_error(self, what, cls=None):
        err = super()._concretization_error(what, *(() if cls is None else (cls,)))
        builder = self._trace.main.global_data
        names = builder.depends_on(self)
        if names:
            err.args = (err.args[0] + f" The value depends on the input(s) {', '.join(names)}.",)
        else:
            err.args = (err.args[0] + " The value does not depend on any input: it is built "
                        "from constants inside the traced function.",)
        return err


_UNKNOWN = object()


class ProgramBuilder:
    """Collects equations; maps tracers to variables and constants to constvars.

    With ``partial_eval=True`` (linearize) the builder is not the dynamic trace: only
    operations touching its unknown inputs are staged, and constants are *known* values."""

    def __init__(self, input_labels: Sequence[str] | None = None, partial_eval: bool = False):
        self.partial_eval = partial_eval
        self.input_labels = list(input_labels or [])
        self.input_vars: list[Var] = []
        self.eqns: list[Eqn] = []
        self.const_vars: dict[int, tuple[Var, Any, StagingTracer]] = {}
        self.const_by_var: dict[Var, Any] = {}

    def new_tracer(self, trace, aval: ShapedArray) -> tuple[StagingTracer, Var]:
        v = Var(aval)
        return StagingTracer(trace, aval, v), v

    def var_of(self, t: StagingTracer) -> Var:
        return t._atom

    def add_const(self, trace, val: Any) -> StagingTracer:
        entry = self.const_vars.get(id(val))
        if entry is None:
            t, v = self.new_tracer(trace, get_aval(val))
            entry = (v, val, t)
            self.const_vars[id(val)] = entry
            self.const_by_var[v] = val
        return entry[2]

    def known_value(self, tracer: StagingTracer) -> Any:
        """The value of a constant/literal tracer, or ``_UNKNOWN``."""
        var = tracer._atom
        if isinstance(var, Literal):
            return var.val
        entry = self.const_by_var.get(var)
        return _UNKNOWN if entry is None else entry

    def depends_on(self, tracer: StagingTracer) -> list[str]:
        """Labels of the inputs ``tracer``'s value is computed from (for error messages)."""
        needed = {tracer._atom}
        for eqn in reversed(self.eqns):
            if any(v in needed for v in eqn.outputs):
                needed.update(a for a in eqn.inputs if isinstance(a, Var))
        labels = self.input_labels or [f"argument {i}" for i in range(len(self.input_vars))]
        return [lab for v, lab in zip(self.input_vars, labels) if v in needed]

    def build(self, in_tracers: Sequence[StagingTracer], outs: Sequence[Any]) -> ClosedProgram:
        invars = [self.var_of(t) for t in in_tracers]
        outvars = [self.var_of(o) for o in outs]
        constvars = [v for v, _, _ in self.const_vars.values()]
        consts = [c for _, c, _ in self.const_vars.values()]
        return ClosedProgram(Program(constvars, invars, self.eqns, outvars), consts)


def _is_literal_scalar(x: Any) -> bool:
    return type(x) in (bool, int, float, complex, TypedScalar) or isinstance(x, np.generic)


def _is_scalar_array(x: Any) -> bool:
    """A concrete 0-d array: a NumPy one (``fnp.asarray(np.sqrt(d))`` in a traced function
    stages a device_put of it) or a device array closed over."""
    if isinstance(x, np.ndarray):
        return x.ndim == 0 and x.dtype != dtypes.float0   # float0 has no scalar form
    return (isinstance(x, Array) and not isinstance(x, trace_mod.Tracer)
            and get_aval(x).shape == ())


class StagingTrace(trace_mod.Trace):
    transformation_name = "staging (jit / make_ir)"

    @property
    def builder(self) -> ProgramBuilder:
        return self.main.global_data

    def pure(self, val: Any) -> StagingTracer:
        # Scalars become literals at their use sites; arrays become constvars.
        if _is_literal_scalar(val):
            aval = get_aval(val)
            if isinstance(val, TypedScalar):
                val = val.value
            return StagingTracer(self, aval, Literal(val, aval))
        if _is_scalar_array(val):
            # A 0-d array constant is a literal too, as in JAX: XLA then sees the number
            # (it folds it and fuses around it) instead of an argument it must pass in.
            aval = get_aval(val)
            return StagingTracer(self, aval, Literal(np.asarray(val)[()], aval))
        return self.builder.add_const(self, val)

    def lift(self, tracer) -> StagingTracer:
        # A tracer of an outer transformation captured by the function: a constant here.
        return self.builder.add_const(self, tracer)

    def process_primitive(self, primitive, tracers, params):
        builder = self.builder
        if builder.partial_eval and primitive.partial_eval_rule is not None:
            knowns = [builder.known_value(t) for t in tracers]
            if any(k is not _UNKNOWN for k in knowns):
                return primitive.partial_eval_rule(
                    self, tracers, [None if k is _UNKNOWN else k for k in knowns],
                    [k is _UNKNOWN for k in knowns], **params)
        return self.stage(primitive, tracers, params)

    def stage(self, primitive, tracers, params):
        """Record ``primitive`` applied to ``tracers`` as an equation."""
        builder = self.builder
        in_atoms = [t._atom for t in tracers]
        out_avals = primitive.abstract_eval(*[t.aval for t in tracers], **params)
        outs, out_vars = [], []
        for aval in out_avals:
            t, v = builder.new_tracer(self, aval)
            outs.append(t)
            out_vars.append(v)
        builder.eqns.append(Eqn(primitive, in_atoms, out_vars, params))
        return outs if primitive.multiple_results else outs[0]


def trace_to_program(fun: Callable, in_avals: Sequence[ShapedArray],
                     description: str = "jit",
                     input_labels: Sequence[str] | None = None) -> ClosedProgram:
    """Trace flat ``fun(*tracers) -> list`` on abstract inputs; return the closed program.
    ``input_labels`` name the inputs in error messages ("x", "params['w']")."""
    builder = ProgramBuilder(input_labels)
    with trace_mod.new_main(StagingTrace, builder, dynamic=True,
                            description=description) as main:
        trace = main.with_trace()
        in_tracers = []
        for a in in_avals:
            t, v = builder.new_tracer(trace, a)
            in_tracers.append(t)
            builder.input_vars.append(v)
        outs = fun(*in_tracers)
        outs = [trace.full_raise(o) for o in outs]
        closed = builder.build(in_tracers, outs)
    if config.enable_checks:  # JAX's internal checks: here, every staged program's types
        typecheck(closed.program)
    return closed


def trace_flat(fun: Callable, in_avals: Sequence[ShapedArray],
               description: str) -> tuple[Program, list]:
    """``trace_to_program`` in the form primitives carry programs: ``(program, consts)``,
    the program taking its constants as leading inputs."""
    return trace_to_program(fun, list(in_avals), description=description).consts_as_inputs()
