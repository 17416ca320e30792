"""How a call of a function with custom derivative rules (``custom_jvp``/``custom_vjp``
in ``functorch_lite.lax``) meets the active transformations: one at a time, innermost
first, as JAX does, so that only what a transformation needs is ever run:

* differentiation (a jvp whose arguments carry tangents) calls only the user's rule, on the
  primal values of the level below: under eager ``grad`` the rule sees concrete numbers,
  and the undecorated function never runs;
* ``vmap`` wraps the function and the rules to run batched, and hands them down;
* staging (``jit``, ``make_ir``, a ``scan`` body, ...) asks the call to stage itself: it
  binds its primitive, which carries the function as a program and the rules as params;
* with nothing left, the function is simply called.

A call object has ``kind``, ``name``, ``fun(*args)``, ``differentiate(primals, tangents)``
and ``stage(args)``; this module knows nothing else about it.
"""
from __future__ import annotations

from functorch_lite.core import trace as trace_mod
from functorch_lite.core.errors import UnexpectedTracerError
from functorch_lite.interpreters import ad, batching
from functorch_lite.interpreters.staging import StagingTrace


class CustomRuleClosureError(UnexpectedTracerError, TypeError):
    """JAX reports this case as an escaped tracer (``UnexpectedTracerError``); it is also
    a ``TypeError``, which this library raised before."""


def closure_error(kind: str) -> CustomRuleClosureError:
    return CustomRuleClosureError(
        f"a {kind}-decorated function closed over a value that is being differentiated; "
        "pass it as an explicit argument instead")


# Tracer internals the processing walk reads, in one place.
def _main_of(x):
    return x._trace.main if isinstance(x, trace_mod.Tracer) else None


def _jvp_parts(t: ad.JVPTracer):
    return t.primal, t.tangent


def _batch_parts(t: batching.BatchTracer):
    return t.val, t.batch_dim


def _check_outputs(kind: str, outs, level: int) -> None:
    """Outputs of user code run for transformation ``level`` must live below it: a tracer
    at or above it means the code closed over a value being differentiated there."""
    for o in outs:
        main = _main_of(o)
        if main is None:
            continue
        if not main.alive:
            raise trace_mod.escaped_tracer_error(o)
        if main.level >= level:
            raise closure_error(kind)


class _BatchedCall:
    """``base`` applied under the vmap ``main`` (its arguments batched along ``dims``), as
    seen from the level below: it takes and returns that level's values, and records its
    outputs' batch dims (0, or None when unbatched) in ``out_dims``. Each method re-enters
    the vmap, which is still active, so the user's code may close over its batched values
    and use collectives over its axis."""

    def __init__(self, base, main, dims):
        self.base, self.main, self.dims = base, main, list(dims)
        self.kind, self.name = base.kind, base.name
        self.out_dims: list | None = None

    def _enter(self, vals) -> list:
        trace = self.main.with_trace()
        out = []
        for v, d in zip(vals, self.dims):
            if d is None:
                out.append(v)
            elif type(v) is ad.Zero:  # a symbolic zero tangent stays one, per example
                shape = list(v.aval.shape)
                del shape[d]
                out.append(ad.Zero(v.aval.update(shape=tuple(shape))))
            else:
                out.append(batching.BatchTracer(trace, v, d))
        return out

    def _leave(self, outs) -> tuple[list, list]:
        trace, size = self.main.with_trace(), self.main.global_data.size
        vals, dims = [], []
        for o in outs:
            v, d = _batch_parts(trace.full_raise(o))
            vals.append(v if d is None else batching.move_dim(v, d, 0, size))
            dims.append(None if d is None else 0)
        return vals, dims

    def fun(self, *vals) -> list:
        outs, self.out_dims = self._leave(self.base.fun(*self._enter(vals)))
        return outs

    def differentiate(self, primals, tangents):
        # A tangent has its primal's layout, so its batch dim. An output is batched when
        # its primal or its tangent is.
        outs, touts = self.base.differentiate(self._enter(primals), self._enter(tangents))
        touts = [ad.instantiate(t) for t in touts]  # (a rule's symbolic zero, per example)
        outs, o_dims = self._leave(outs)
        touts, t_dims = self._leave(touts)
        size = self.main.global_data.size
        self.out_dims = [None if a is None and b is None else 0 for a, b in zip(o_dims, t_dims)]
        outs = [batching.move_dim(o, None, 0, size) if a is None and d == 0 else o
                for o, a, d in zip(outs, o_dims, self.out_dims)]
        touts = [batching.move_dim(t, None, 0, size) if b is None and d == 0 else t
                 for t, b, d in zip(touts, t_dims, self.out_dims)]
        return outs, touts

    def stage(self, vals) -> list:
        # Bound under the vmap, the staged call meets its own batching rule.
        outs, self.out_dims = self._leave(self.base.stage(self._enter(vals)))
        return outs


def apply_custom_call(call, args: list) -> list:
    """Apply a ``_JVPCall``/``_VJPCall`` under the active transformations."""
    for a in args:
        main = _main_of(a)
        if main is not None and not main.alive:
            raise trace_mod.escaped_tracer_error(a)
    mains = trace_mod.active_mains()
    return _apply_at(mains, len(mains) - 1, call, list(args))


def _apply_at(mains: tuple, level: int, call, args: list) -> list:
    """Handle ``call`` for the transformation at ``level`` (every argument lives at or
    below it), handing it to the level below when this one has nothing to do."""
    main = mains[level]
    if level == 0:  # eager evaluation: just the function
        outs = list(call.fun(*args))
        _check_outputs(call.kind, outs, 0)
        return outs
    trace = main.with_trace()
    mine = any(_main_of(a) is main for a in args)
    if issubclass(main.trace_type, ad.JVPTrace):
        if not mine:
            return _apply_at(mains, level - 1, call, args)
        primals, tangents = zip(*[_jvp_parts(trace.full_raise(a)) for a in args])
        if all(type(t) is ad.Zero for t in tangents):
            return _apply_at(mains, level - 1, call, list(primals))
        # Only the rule runs, on the primals (concrete under an eager grad), as in JAX.
        outs, touts = call.differentiate(list(primals), list(tangents))
        _check_outputs(call.kind, [*outs, *touts], level)
        return [trace_mod.full_lower(ad.JVPTracer(trace, o, t)) for o, t in zip(outs, touts)]
    if issubclass(main.trace_type, batching.BatchTrace):
        # Always handled, even with no batched argument: the function may close over a
        # batched value (or use a collective over this axis).
        vals, dims = zip(*[_batch_parts(trace.full_raise(a)) for a in args]) if args \
            else ((), ())
        batched = _BatchedCall(call, main, dims)
        outs = _apply_at(mains, level - 1, batched, list(vals))
        return [o if d is None else batching.BatchTracer(trace, o, d)
                for o, d in zip(outs, batched.out_dims)]
    if issubclass(main.trace_type, StagingTrace) and not mine and \
            main is not trace_mod.current_dynamic():
        # Partial evaluation with every input known: the call runs on the known side.
        return _apply_at(mains, level - 1, call, args)
    # Staging (jit, make_ir, control-flow bodies, the unknown side of partial evaluation)
    # and any other transformation: the function as a program, the rules as params.
    return call.stage(args)
