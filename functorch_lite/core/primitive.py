"""``Primitive``: a named array operation and the rules each transformation uses for it.

A primitive is declared once in ``functorch_lite.lax`` with all its rules side by side::

    add_p = Primitive("add")
    add_p.def_shape(binary_shape_rule)      # avals in -> aval(s) out
    add_p.def_jvp(...)                       # forward-mode derivative
    add_p.def_transpose(...)                 # for linear primitives: reverse mode
    add_p.def_batch(...)                     # vmap

The lowering to StableHLO is registered by ``xla_bridge`` against the same object.
"""
from __future__ import annotations

from typing import Any, Callable

from functorch_lite.core import trace as trace_mod
from functorch_lite.core.backend import backend


def backend_device_put(value: Any, device: Any = None, weak_type: bool = False):
    return backend.device_put(value, device, weak_type)


class Primitive:
    """A named operation. Call ``bind`` to apply it; transformations read its rules."""

    #: every primitive ever declared, by name; a test walks it to check that no rule is missing
    registry: dict[str, "Primitive"] = {}

    def __init__(self, name: str, *, multiple_results: bool = False):
        if name in Primitive.registry:
            raise ValueError(f"a primitive named {name!r} is already declared")
        Primitive.registry[name] = self
        self.name = name
        self.multiple_results = multiple_results
        self.shape_rule: Callable | None = None
        self.jvp_rule: Callable | None = None
        self.transpose_rule: Callable | None = None
        self.batch_rule: Callable | None = None
        # For primitives carrying programs (jit_call, control flow): split the work when
        # only some inputs are known during linearization. See interpreters/partial_eval.py.
        self.partial_eval_rule: Callable | None = None
        self._impl: Callable | None = None
        # Primitives whose derivative is zero everywhere (comparisons, argmax, ...).
        self.non_differentiable = False
        # Primitives run for a side effect (a host callback that prints): dead-code and
        # common-subexpression elimination keep every equation of one, even without used
        # outputs, and so keep any equation whose program contains one (core/passes.py).
        self.effectful = False
        # Effects that must happen only for the batch members that reach them (io_callback):
        # cond and while_loop cannot batch a predicate over a program holding one (they
        # would run it for every member) and raise, as JAX does.
        self.refuses_batched_predicate = False

    def __repr__(self) -> str:
        return self.name

    def bind(self, *args, **params):
        return trace_mod.bind(self, *args, **params)

    # -- rule registration (each returns the rule so it can be used as a decorator) ----------
    def def_shape(self, rule: Callable) -> Callable:
        self.shape_rule = rule
        return rule

    def def_jvp(self, rule: Callable) -> Callable:
        self.jvp_rule = rule
        return rule

    def def_transpose(self, rule: Callable) -> Callable:
        self.transpose_rule = rule
        return rule

    def def_batch(self, rule: Callable) -> Callable:
        self.batch_rule = rule
        return rule

    def def_partial_eval(self, rule: Callable) -> Callable:
        self.partial_eval_rule = rule
        return rule

    def def_impl(self, impl: Callable) -> Callable:
        """Override eager evaluation (the default runs the primitive through the backend)."""
        self._impl = impl
        return impl

    # -- evaluation -------------------------------------------------------------------------
    def impl(self, *args, **params):
        if self._impl is not None:
            return self._impl(*args, **params)
        outs = backend.apply_primitive(self, args, params)
        return outs if self.multiple_results else outs[0]

    def abstract_eval(self, *avals, **params) -> list:
        """Output avals, always as a list."""
        if self.shape_rule is None:
            raise NotImplementedError(f"primitive {self.name!r} has no shape rule")
        out = self.shape_rule(*avals, **params)
        return list(out) if self.multiple_results else [out]


def missing_rule(primitive: Primitive, transformation: str) -> NotImplementedError:
    return NotImplementedError(
        f"primitive {primitive.name!r} has no {transformation} rule; differentiation/"
        f"vectorization through it is not supported yet")
