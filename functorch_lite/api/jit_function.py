"""``jit`` and its cached-call path: ``JitFunction`` finds (or traces, see ``stages``) the
program for a call's signature and runs its executable. When no transformation is active
and every argument is a device Array or a Python scalar (flat or in plain containers), a
call is one dict lookup and one executable call; keep that path free of extra work."""
from __future__ import annotations

import contextlib
import functools
import logging
from typing import Any, Callable

from functorch_lite import _jit_cache
from functorch_lite.api._args import (_arg_names, _check_leaf, _fun_name, _normalize_argnums,
                                      compiler_options_key)
from functorch_lite.api.shardings import (check_sharding_option, in_shardings_per_leaf,
                                          is_sharded, out_shardings_per_leaf)
from functorch_lite.api.stages import (Lowered, Traced, TracedProgram, _input_labels,
                                       _Signature, _split_static, _trace)
from functorch_lite.core import pytree
from functorch_lite.core.avals import get_aval
from functorch_lite.core.backend import backend
from functorch_lite.core.config import config
from functorch_lite.core.shape_dtype_struct import expand_stand_ins
from functorch_lite.core.trace import no_transformations
from functorch_lite.lax._common import PY_SCALARS
from functorch_lite.lax.jit_call import jit_call_p

logger = logging.getLogger("functorch_lite")


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


def _normalize_static_options(spelling: tuple, arg_names: list[str] | None) -> tuple:
    """(static_argnums, static_argnames) in one canonical form, so that
    ``static_argnums=1``, ``(1,)`` and ``static_argnames="n"`` share one cache."""
    static_argnums, static_argnames = spelling
    nums = _normalize_argnums(static_argnums, "static_argnums")
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
                 donate_argnums=(), in_shardings=None, out_shardings=None,
                 compiler_options=None):
        if not callable(fun):
            raise TypeError(f"jit expects a callable, got {type(fun).__name__}")
        # XLA's options for this function's executables, as a cache key: sorted pairs.
        self.compiler_options = compiler_options_key(compiler_options,
                                                     f"jit({_fun_name(fun)})")
        check_sharding_option("in_shardings", in_shardings)
        check_sharding_option("out_shardings", out_shardings)
        self.in_shardings, self.out_shardings = in_shardings, out_shardings
        self.fun = fun
        self.name = _fun_name(fun)
        state = _jit_cache.state_for(fun, (static_argnums, static_argnames), _arg_names,
                                     _normalize_static_options)
        self._state = state
        self.static_argnums = state.static_argnums
        self.static_argnames = state.static_argnames
        # Donation only changes how the program runs, not what is traced: not in the key.
        self.donate_argnums = _normalize_argnums(donate_argnums, "donate_argnums")
        self._arg_names = state.arg_names
        # Calls whose arguments are all plain device arrays skip pytree handling entirely:
        # input avals -> (traced program, output tree). Shared with the state (wrappers that
        # donate or pass compiler options share one per donate_argnums and options).
        variant = (self.donate_argnums, self.compiler_options)
        self._fast = (state.fast if variant == ((), ()) else
                      state.fast_variants.setdefault(variant, {}))
        # (a wrapper with shardings runs over a mesh: not on the one-device cached path)
        self._fast_ok = not (self.static_argnums or self.static_argnames or
                             in_shardings is not None or out_shardings is not None)
        # Calls over a mesh with arguments seen before (the tree, and each leaf's type and
        # sharding): -> (compiled program, traced). Bounded like the traces themselves.
        self._spmd_fast: dict = {}
        self._spmd_generation = state.generation   # ``_spmd_fast`` is of this generation
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
                                  donated, self.compiler_options)
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
                return outs[0] if entry[1] is None else entry[1](outs)
        return MISS

    def __call__(self, *args, **kwargs):
        if config.disable_jit:  # disable_jit(): plain Python, op by op
            return self.fun(*args, **kwargs)
        eager = no_transformations()  # only eager evaluation is active
        if eager and self._fast_ok and not kwargs:
            out = self.call_cached(args)
            if out is not MISS:
                return out
        if eager and self._spmd_fast and not kwargs:
            if self._spmd_generation != self._state.generation:  # the caches were cleared
                self._spmd_fast.clear()
                self._spmd_generation = self._state.generation
            leaves, key = self._spmd_key(args)
            hit = self._spmd_fast.get(key) if key is not None else None
            if hit is not None:
                compiled, traced = hit
                return pytree.tree_unflatten(traced.out_tree, compiled(*traced.consts,
                                                                       *leaves))
        traced, leaves, _ = self._get_traced(args, kwargs)
        donated = self._donation_mask(args, traced) if self.donate_argnums else ()
        if eager:
            spmd = self._spmd(traced, args, kwargs, leaves)
            if spmd is not None:
                compiled = traced.compiled_spmd(*spmd, donated, self.compiler_options)
                if not kwargs and not (self.static_argnums or self.static_argnames):
                    key = self._spmd_key(args)[1]
                    if key is not None and len(self._spmd_fast) < _jit_cache.MAX_TRACED:
                        self._spmd_fast[key] = (compiled, traced)
                outs = compiled(*traced.consts, *leaves)
                return pytree.tree_unflatten(traced.out_tree, outs)
            self._array_type = backend.array_type
            # It runs where its inputs are (see the backend's choose_device).
            device = backend.choose_device(leaves, f"jit({self.name})")
            if self._fast_ok and not kwargs:
                self._remember_fast(args, traced, device, donated)
            outs = traced.run_eagerly(leaves, device, donated, self.compiler_options)
            return pytree.tree_unflatten(traced.out_tree, outs)
        outs = jit_call_p.bind(*traced.consts, *leaves, program=traced.program,
                               name=self.name, donated=donated)
        return pytree.tree_unflatten(traced.out_tree, outs)

    def _spmd_key(self, args):
        """(leaves, key) for the cached call over a mesh: the tree and each leaf's aval and
        sharding; key None when a leaf is not a device array."""
        leaves, tree = pytree.tree_flatten(args)
        array_type = self._array_type
        if not all(type(x) is array_type for x in leaves):
            return leaves, None
        return leaves, (tree, tuple((x.aval, x.sharding) for x in leaves))

    def _spmd(self, traced: TracedProgram, args, kwargs, leaves):
        """``(in_shardings, out_shardings, mesh)`` when this call runs over a mesh (see
        ``api.shardings``; one sharding per operand, constants first), else None."""
        if (self.in_shardings is None and self.out_shardings is None and
                traced.mesh is None and not any(is_sharded(x) for x in leaves)):
            return None
        nargs = len(args)
        static_argnums = tuple(i + nargs if i < 0 else i for i in self.static_argnums)
        _, dyn_args, dyn_kwargs = _split_static(self.name, args, kwargs, static_argnums,
                                                self.static_argnames)
        labels = _input_labels(self._arg_names, dyn_args, dyn_kwargs, static_argnums, None)
        ins = in_shardings_per_leaf(self.name, self.in_shardings, dyn_args, dyn_kwargs,
                                    leaves, labels)
        outs = out_shardings_per_leaf(self.name, self.out_shardings, traced.out_tree,
                                      traced.program.out_avals)
        return (None,) * len(traced.consts) + tuple(ins), tuple(outs), traced.mesh

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
        ``jit(f).trace(x).jaxpr`` is the program, ``.lower()`` the StableHLO stage.
        Arguments may be ``ShapeDtypeStruct``s, of typed keys too (dtype ``key<fry>``)."""
        args, kwargs = expand_stand_ins((args, kwargs))
        traced, leaves, sig = self._get_traced(args, kwargs)
        spmd = self._spmd(traced, args, kwargs, leaves)
        return Traced(traced, sig.in_tree, sig.in_avals, self.name, spmd,
                      self.compiler_options)

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


def _retrace_on_change(name: str) -> None:
    """Flags that act while a function is traced (JAX keys its caches on them): a program
    traced under one value is wrong under another, so trace again when the value really
    changes (a ``with`` block restoring the same value keeps the caches)."""
    traced_under = [config.read(name)]

    def changed(value) -> None:
        if value != traced_under[0]:
            traced_under[0] = value
            _jit_cache.clear_all()
    config.on_change(name, changed)


# A program traced with x64 off is wrong with it on (and back); lax applies
# default_matmul_precision to each product it traces; the NumPy API checks
# numpy_rank_promotion as it broadcasts and numpy_dtype_promotion as it promotes; random
# draws its bits by threefry_partitionable.
_retrace_on_change("enable_x64")
_retrace_on_change("default_matmul_precision")
_retrace_on_change("numpy_rank_promotion")
_retrace_on_change("threefry_partitionable")
_retrace_on_change("numpy_dtype_promotion")


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
        donate_argnums=(), in_shardings=None, out_shardings=None,
        compiler_options=None) -> JitFunction:
    """Compile ``fun`` with XLA: traced once per input signature (shapes, dtypes, weak types,
    pytree structure and static argument values), then run as one executable. The traces
    belong to ``fun`` and its static arguments, so a new ``jit(fun)`` reuses them (globals
    that ``fun`` reads are captured when it is first traced, as in JAX).

    >>> f = jit(lambda x, y: x @ y + 1.0)
    >>> f(ones((2, 3)), ones((3, 4))).shape
    (2, 4)

    ``in_shardings``/``out_shardings`` (a sharding, or a pytree prefix of the positional
    arguments / of the outputs; None: the argument's own layout / XLA's choice) run the
    program over a mesh, partitioned by XLA's SPMD partitioner; so do arguments laid out
    over a mesh (``device_put(x, NamedSharding(mesh, spec))``).

    ``compiler_options`` (XLA's options by name, as in JAX: ``{"xla_cpu_enable_fast_math":
    True}``) apply to this function's executables when it runs as its own program (inside
    another jitted function it is compiled as part of that one, with that one's options).
    XLA refuses an unknown name or a bad value when it compiles (``JaxRuntimeError``).
    """
    if fun is None:
        return functools.partial(jit, static_argnums=static_argnums,
                                 static_argnames=static_argnames,
                                 donate_argnums=donate_argnums, in_shardings=in_shardings,
                                 out_shardings=out_shardings,
                                 compiler_options=compiler_options)
    return JitFunction(fun, static_argnums, static_argnames, donate_argnums, in_shardings,
                       out_shardings, compiler_options)


def block_until_ready(x: Any) -> Any:
    """Wait until every array in the pytree ``x`` is computed; returns ``x``."""
    for leaf in pytree.tree_leaves(x):
        if hasattr(leaf, "block_until_ready"):
            leaf.block_until_ready()
    return x
