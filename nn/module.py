"""Modules: configuration objects whose ``__call__`` is written once and from which a pure
``init`` and a pure ``apply`` are derived.

How it works, in one sitting
----------------------------
A module holds configuration only (``Dense(10)`` remembers ``features=10``) and its
submodules, set as attributes in ``__init__``. It never holds arrays. Parameters and state
live in plain nested dicts that ``init`` returns and ``apply`` takes back:

    params, state = model.init(key, x)
    y, state = model.apply(params, x, state=state, rng=key, train=True)

Both run the same ``__call__``. What differs is the *scope* they open around it: an object
that knows the mode ("init" or "apply"), the params and state dicts, the keys and the
``train`` flag. While a scope is open, every module call pushes a *frame* (the module and
its path, e.g. ``("encoder", "dense")``) on a thread-local stack, and pops it on return.
Inside ``__call__``, ``self.param(name, initializer, shape, dtype)`` looks at the top frame:

- in "init" it draws the parameter with ``initializer(key, shape, dtype)`` (the key is
  ``key`` folded with a hash of the parameter's path, so it does not depend on call order)
  and stores it at ``params[path][name]``;
- in "apply" it reads ``params[path][name]`` and checks its shape.

``self.state(name, init_fn, *args)`` works the same way for non-trained state (BatchNorm's
running statistics) and returns a box whose ``.value`` can be read and assigned; ``apply``
returns the old state with the assignments applied, so state updates stay pure.

A submodule's path is its parent's path plus the attribute name that holds it (``dense``;
``heads_0``, ``heads_1`` for a list ``heads``; ``Sequential`` uses ``"0"``, ``"1"``). A
module instance keeps the first path it was called at for the whole scope, so calling
``self.dense`` twice reuses the same parameters. Modules created inline inside
``__call__`` are named ``Dense_0``, ``Dense_1``, ... by their order of creation. A module
that wants other names for its children (Flax's LSTM gate names ``if``/``in`` are Python
keywords) overrides ``_named_children``.

``init`` runs ``__call__`` under ``jit``: the example inputs only give shapes, and the
forward computation, whose result ``init`` throws away, is removed before XLA runs
anything. ``apply`` is plain Python over ``functorch_lite`` operations, so ``jit``,
``grad``, ``vmap`` and ``lax.scan`` take it as it is.

An exception raised inside a module gets the module's location in its message
(``Sequential[2] (Dense): expected input feature size 64, got 10; ...``).
"""
from __future__ import annotations

import functools
import inspect
import threading
import zlib
from typing import Any, Callable

import numpy as np

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite import random

__all__ = ["Module", "method", "promote_dtype", "StateVariable"]

_local = threading.local()


def _stack() -> list:
    stack = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    return stack


def _path_hash(path: tuple[str, ...]) -> int:
    """A stable 32-bit number for a path (Python's hash() changes between processes)."""
    return zlib.crc32("/".join(path).encode())


def _get(tree, path):
    for p in path:
        if not isinstance(tree, dict) or p not in tree:
            return None
        tree = tree[p]
    return tree


def _set(tree: dict, path, value) -> None:
    for p in path[:-1]:
        tree = tree.setdefault(p, {})
    tree[path[-1]] = value


def _with_updates(tree, updates: dict):
    """``tree`` with the leaves of the nested dict ``updates`` replaced (both left as they
    are: the returned dicts are new along the updated paths)."""
    if not isinstance(updates, dict):
        return updates
    out = dict(tree) if isinstance(tree, dict) else {}
    for k, v in updates.items():
        out[k] = _with_updates(out.get(k), v)
    return out


def _is_array(x) -> bool:
    return hasattr(x, "shape") and hasattr(x, "dtype") and not isinstance(x, (int, float,
                                                                           bool, complex))


def _named_children(module: "Module"):
    """(name, submodule) pairs from the module's attributes, in the order they were set."""
    for name, value in vars(module).items():
        if isinstance(value, Module):
            yield name, value
        elif isinstance(value, (list, tuple)):
            for i, v in enumerate(value):
                if isinstance(v, Module):
                    yield f"{name}_{i}", v
        elif isinstance(value, dict):
            for k, v in value.items():
                if isinstance(v, Module):
                    yield f"{name}_{k}", v


class _Scope:
    """Everything one ``init`` or ``apply`` call shares between its module calls."""

    def __init__(self, mode: str, root: "Module", *, params, state, key=None, rng=None,
                 train: bool = False, record: list | None = None):
        self.mode = mode                      # "init" or "apply"
        self.root = root
        self.params = params                  # init: filled here; apply: the user's tree
        self.state_in = state                 # apply: the user's state (or None)
        self.state_out: dict = {}             # init: the initial state; apply: the writes
        self.key = key
        self.rng = rng
        self.train = train
        self.record = record                  # summary rows, when summarizing
        self.paths: dict[int, tuple] = {}     # id(module) -> its path in this scope
        self.alive: list = []                 # keeps those ids from being reused
        self.children: dict[int, dict] = {}   # id(parent) -> {id(child): name}
        self.rng_counts: dict[tuple, int] = {}
        self.problems: list[str] = []         # params that do not fit (apply)
        self.used: set[tuple] = set()

    def child_name(self, frame: "_Frame", child: "Module") -> str:
        names = self.children.get(id(frame.module))
        if names is None:
            names = {}
            for name, sub in frame.module._named_children():
                names.setdefault(id(sub), name)
            self.children[id(frame.module)] = names
        name = names.get(id(child))
        if name is None:                      # created inline inside __call__
            kind = type(child).__name__
            k = frame.inline_counts.get(kind, 0)
            frame.inline_counts[kind] = k + 1
            name = f"{kind}_{k}"
        return name

    def path_of(self, module: "Module", parent: "_Frame") -> tuple:
        if parent.module is module:
            return parent.path
        path = self.paths.get(id(module))
        if path is None:
            path = parent.path + (self.child_name(parent, module),)
            self.paths[id(module)] = path
            self.alive.append(module)
        return path

    def where(self, path: tuple, module: "Module") -> str:
        out = type(self.root).__name__
        for p in path:
            out += f"[{p}]" if p.isdigit() else f".{p}"
        return f"{out} ({type(module).__name__})" if path else out


class _Frame:
    __slots__ = ("module", "path", "scope", "inline_counts")

    def __init__(self, module, path, scope):
        self.module, self.path, self.scope = module, path, scope
        self.inline_counts: dict[str, int] = {}


def _current(module: "Module", what: str) -> _Frame:
    stack = _stack()
    if not stack or stack[-1].module is not module:
        raise RuntimeError(f"{type(module).__name__}.{what}() can only be called inside the "
                           f"module's own __call__, while model.init or model.apply runs it")
    return stack[-1]


def _add_location(err: BaseException, where: str) -> None:
    """Put the module's location in front of an error's message, once (the innermost module
    that saw it knows best)."""
    if getattr(err, "_nn_located", False):
        return
    try:
        err._nn_located = True
    except AttributeError:
        return
    if len(err.args) == 1 and isinstance(err.args[0], str) and not isinstance(err, KeyError):
        err.args = (f"{where}: {err.args[0]}",)
    else:
        err.add_note(f"raised in {where}")


def _enter(module: "Module", fn: Callable, args, kwargs):
    """Run ``fn(module, *args, **kwargs)`` as a call of ``module`` inside the open scope."""
    stack = _stack()
    parent = stack[-1]
    scope = parent.scope
    frame = _Frame(module, scope.path_of(module, parent), scope)
    row = None
    if scope.record is not None and parent.module is not module and \
            all(r[0] != frame.path for r in scope.record):
        row = [frame.path, type(module).__name__, None]   # rows in the order layers start
        scope.record.append(row)
    stack.append(frame)
    try:
        out = fn(module, *args, **kwargs)
    except Exception as err:
        _add_location(err, scope.where(frame.path, module))
        raise
    finally:
        stack.pop()
    if row is not None:
        row[2] = out
    return out


def _bound_call(call: Callable) -> Callable:
    @functools.wraps(call)
    def wrapped(self, *args, **kwargs):
        if not _stack():
            name = type(self).__name__
            raise TypeError(f"{name} is a module (configuration only) and holds no "
                            f"parameters: use `params, state = model.init(key, x)` and then "
                            f"`y, state = model.apply(params, x, state=state)`")
        return _enter(self, call, args, kwargs)
    wrapped._nn_wrapped = True
    return wrapped


def method(fn: Callable) -> Callable:
    """Make a module method other than ``__call__`` usable both ways: inside a parent's
    ``__call__`` (``self.embed.attend(x)``, sharing the module's parameters) and from
    outside as ``module.attend(params, x)``, which returns the output alone.

    >>> class Embedding(nn.Module):
    ...     @nn.method
    ...     def attend(self, query): ...
    """
    @functools.wraps(fn)
    def wrapped(self, *args, **kwargs):
        if not _stack():
            if not args:
                raise TypeError(f"{type(self).__name__}.{fn.__name__} called outside "
                                f"init/apply needs the params first: "
                                f"{fn.__name__}(params, ...)")
            params, *rest = args
            return self.apply(params, *rest, method=fn, **kwargs)[0]
        return _enter(self, fn, args, kwargs)
    wrapped._nn_wrapped = True
    return wrapped


class StateVariable:
    """A box around one piece of module state: read ``.value``; assigning ``.value`` makes
    ``apply`` return the new value in its state."""

    __slots__ = ("_scope", "_path", "_value")

    def __init__(self, scope: _Scope, path: tuple, value):
        self._scope, self._path, self._value = scope, path, value

    @property
    def value(self):
        return self._value

    @value.setter
    def value(self, new) -> None:
        self._value = new
        _set(self._scope.state_out, self._path, new)

    def __repr__(self) -> str:
        return f"StateVariable({'/'.join(self._path)})"


def _traceable(args, kwargs):
    """The arrays among a call's arguments (what tracing makes abstract) and a function that
    rebuilds ``(args, kwargs)`` from them; the rest (Python numbers, strings, flags) stays
    as given, so ``__call__`` can branch on it."""
    leaves, treedef = fl.tree.flatten((args, kwargs))
    dynamic = [_is_array(x) for x in leaves]

    def rebuild(arrays):
        it = iter(arrays)
        return fl.tree.unflatten(treedef, [next(it) if d else x
                                           for x, d in zip(leaves, dynamic)])

    return [x for x, d in zip(leaves, dynamic) if d], rebuild


def _init_scope(root: "Module", key, train: bool = False, record: list | None = None):
    # Dropout during a training-mode init draws from a key apart from the parameters'.
    return _Scope("init", root, params={}, state=None, key=key,
                  rng=random.fold_in(key, 0x7FFFFFFF), train=train, record=record)


def _accepts(fn: Callable, name: str) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return name in params      # a named parameter only: **kwargs may be meant for others


class Module:
    """Base class of every layer and model. Subclasses set submodules (and lists or dicts of
    them) as attributes in ``__init__`` and write ``__call__`` once; ``init`` and ``apply``
    come from here. See the module docstring for how it works.

    >>> class MLP(nn.Module):
    ...     def __init__(self, hidden, out):
    ...         self.hidden, self.out = nn.Dense(hidden), nn.Dense(out)
    ...     def __call__(self, x):
    ...         return self.out(nn.relu(self.hidden(x)))
    >>> params, state = MLP(32, 10).init(random.PRNGKey(0), fnp.ones((4, 8)))
    >>> params["hidden"]["kernel"].shape
    (8, 32)
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        call = cls.__dict__.get("__call__")
        if call is not None and not getattr(call, "_nn_wrapped", False):
            cls.__call__ = _bound_call(call)

    def __call__(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define __call__")

    def _named_children(self):
        return _named_children(self)

    # -- inside __call__ -----------------------------------------------------------------
    def param(self, name: str, initializer: Callable, shape, dtype=fnp.float32):
        """This module's parameter ``name``: drawn with ``initializer(key, shape, dtype)``
        by ``init``, read from ``params`` by ``apply``."""
        frame = _current(self, "param")
        scope, path = frame.scope, frame.path + (name,)
        shape = tuple(int(d) for d in shape)
        if scope.mode == "init":
            value = _get(scope.params, path)
            if value is None:
                key = random.fold_in(scope.key, _path_hash(path))
                value = initializer(key, shape, dtype)
                if tuple(value.shape) != shape:
                    raise ValueError(f"initializer of {name!r} returned shape "
                                     f"{tuple(value.shape)}, expected {shape}")
                _set(scope.params, path, value)
            return value
        scope.used.add(path)
        value = _get(scope.params, path)
        where = "/".join(path)
        if value is None or isinstance(value, dict):
            scope.problems.append(f"{where}: missing (the model expects shape {shape})")
        elif tuple(value.shape) != shape:
            scope.problems.append(f"{where}: the model expects shape {shape}, params hold "
                                  f"{tuple(value.shape)}")
        else:
            return value
        return fnp.zeros(shape, dtype)        # lets the forward go on to find every problem

    def existing_param(self, name: str):
        """The parameter ``name`` if it exists already (in ``apply``, or in ``init`` when
        this module ran before), else None: lets a layer check its input against the
        parameters it will use and say what it expected."""
        frame = _current(self, "existing_param")
        value = _get(frame.scope.params, frame.path + (name,))
        return None if isinstance(value, dict) else value

    def state(self, name: str, init_fn: Callable, *init_args) -> StateVariable:
        """This module's state variable ``name`` (``init_fn(*init_args)`` is its initial
        value); assign ``.value`` to update it."""
        frame = _current(self, "state")
        scope, path = frame.scope, frame.path + (name,)
        if scope.mode == "init":
            value = _get(scope.state_out, path)
            if value is None:
                value = init_fn(*init_args)
                _set(scope.state_out, path, value)
            return StateVariable(scope, path, value)
        value = _get(scope.state_out, path)
        if value is None:
            value = _get(scope.state_in, path)
        if value is None or isinstance(value, dict):
            what = "no state was passed" if scope.state_in is None else \
                f"the state has nothing at {'/'.join(path)}"
            raise ValueError(f"this layer keeps state ({name!r}) and {what}: pass "
                             f"state= (the state from model.init, or the last apply) to "
                             f"model.apply")
        return StateVariable(scope, path, value)

    def make_rng(self):
        """A fresh key for this call (dropout masks): ``rng`` folded with this module's
        path and a per-call counter. The counter counts Python calls, so inside a
        ``lax.scan`` body (traced once) every iteration gets the same key: fold the step
        index into the key you pass to ``apply`` for a different mask per step."""
        frame = _current(self, "make_rng")
        scope = frame.scope
        if scope.rng is None:
            raise ValueError("this layer needs a random key when train=True: pass rng= to "
                             "model.apply (e.g. model.apply(params, x, rng=random.PRNGKey(0),"
                             " train=True)), or use train=False for inference")
        count = scope.rng_counts.get(frame.path, 0)
        scope.rng_counts[frame.path] = count + 1
        return random.fold_in(random.fold_in(scope.rng, _path_hash(frame.path)), count)

    @property
    def is_training(self) -> bool:
        """The ``train`` flag of the running ``apply`` (``init`` runs with ``train=False``
        unless told otherwise)."""
        return _current(self, "is_training").scope.train

    @property
    def is_initializing(self) -> bool:
        return _current(self, "is_initializing").scope.mode == "init"

    # -- from outside --------------------------------------------------------------------
    def init(self, key, *args, train: bool = False, method=None, **kwargs):
        """``params, state = model.init(key, *example_inputs)``: the example inputs give
        shapes only (the forward pass is traced, its result dropped before anything runs)."""
        fn = self._method(method)
        arrays, rebuild = _traceable(args, kwargs)

        def run(key, arrays):
            scope = _init_scope(self, key, train)
            self._run(scope, fn, *rebuild(arrays))
            return scope.params, scope.state_out

        run.__name__ = f"{type(self).__name__}.init"
        return fl.jit(run)(key, arrays)

    def apply(self, params, *args, state=None, rng=None, train: bool = False, method=None,
              **kwargs):
        """``y, new_state = model.apply(params, *inputs, state=, rng=, train=)``; extra
        arguments go to ``__call__`` (or to ``method``, a name or a function)."""
        if not isinstance(params, dict):
            raise TypeError(f"{type(self).__name__}.apply expects params as the nested dict "
                            f"that init returned, got {type(params).__name__}"
                            + (" (did you pass the (params, state) pair?)"
                               if isinstance(params, tuple) else ""))
        fn = self._method(method)
        scope = _Scope("apply", self, params=params, state=state, rng=rng, train=train)
        try:
            out = self._run(scope, fn, args, kwargs)
        except Exception as err:
            if scope.problems:
                raise self._mismatch(scope) from err
            raise
        if scope.problems:
            raise self._mismatch(scope)
        if not scope.state_out:
            return out, ({} if state is None else state)
        return out, _with_updates(state, scope.state_out)

    def _method(self, method) -> Callable:
        if method is None:
            return type(self).__call__
        if isinstance(method, str):
            return getattr(type(self), method)
        return method

    def _run(self, scope: _Scope, fn: Callable, args, kwargs):
        if scope.train and "train" not in kwargs and _accepts(fn, "train"):
            kwargs = dict(kwargs, train=scope.train)
        stack = _stack()
        stack.append(_Frame(self, (), scope))
        try:
            return fn(self, *args, **kwargs)
        except Exception as err:           # from a method that is not a wrapped call
            _add_location(err, scope.where((), self))
            raise
        finally:
            stack.pop()

    def _mismatch(self, scope: _Scope) -> ValueError:
        paths = ["/".join(p) for p, _ in _leaf_paths(scope.params)]
        unused = [p for p in paths if tuple(p.split("/")) not in scope.used]
        lines = [f"{type(self).__name__}.apply: params do not fit this model "
                 f"(were they made by another model's init?):"]
        lines += [f"  {p}" for p in scope.problems]
        lines += [f"  {p}: not used by this model" for p in unused]
        return ValueError("\n".join(lines))

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items()
                           if not k.startswith("_") and not isinstance(v, Module))
        return f"{type(self).__name__}({fields})"


def promote_dtype(*arrays, dtype=None):
    """Cast ``arrays`` (None stays None) to ``dtype``, or to their common promoted dtype
    when ``dtype`` is None: how a layer's ``dtype=`` (compute dtype) argument works, so
    float32 params with ``dtype=bfloat16`` compute in bfloat16."""
    present = [a for a in arrays if a is not None]
    if dtype is None:
        dtype = fnp.result_type(*present)
    return tuple(None if a is None else fnp.asarray(a).astype(dtype) for a in arrays)


def _leaf_paths(tree, prefix=()):
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield from _leaf_paths(v, prefix + (str(k),))
    elif tree is not None:
        yield prefix, tree
