"""Pytrees: nested containers whose leaves transformations act on.

A *pytree* is a value built from *nodes* (containers this module knows how to
take apart and put back together) with *leaves* at the bottom. The node types
are:

* ``tuple``, ``list`` and ``dict`` (a dict's children are visited in sorted key
  order, and rebuilding one gives a dict whose keys are in sorted order);
* ``None``, a node with no children (so it is *not* a leaf);
* named tuples (any ``tuple`` subclass with a ``_fields`` attribute);
* ``collections.OrderedDict`` (insertion order) and ``collections.defaultdict``
  (sorted order, the default factory kept in the structure);
* classes registered with :func:`register_pytree_node`,
  :func:`register_pytree_with_keys` or :func:`register_dataclass`.

Anything else is a leaf. Only the exact type counts: a subclass of ``list``
or ``dict`` (other than the ones above) is a leaf unless registered itself.

``tree_flatten`` splits a pytree into its list of leaves and a
:class:`PyTreeDef` describing the rest; ``tree_unflatten`` inverts it.
The semantics follow ``jax.tree_util``.

This module is imported on every traced call, so flattening is written for
speed: node types are looked up in a dict keyed by ``type(x)``, and the answer
for each new type (leaf, or named tuple) is cached in the same dict.
"""
from __future__ import annotations

import collections
import dataclasses
import functools
from typing import Any, Callable, Hashable, Iterable, Sequence

__all__ = [
    "PyTreeDef", "SequenceKey", "DictKey", "GetAttrKey", "FlattenedIndexKey",
    "register_pytree_node", "register_pytree_with_keys",
    "register_pytree_node_class", "register_dataclass",
    "tree_flatten", "tree_unflatten", "tree_leaves", "tree_structure",
    "tree_map", "tree_all", "tree_reduce", "tree_transpose",
    "tree_flatten_with_path", "tree_leaves_with_path", "tree_map_with_path",
    "keystr", "all_leaves", "treedef_children", "treedef_is_leaf",
    "treedef_tuple", "broadcast_prefix",
]

_NoneType = type(None)


# ---------------------------------------------------------------------------
# Key path entries
# ---------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True, slots=True)
class SequenceKey:
    """Position ``idx`` in a tuple or list (printed ``[0]``)."""
    idx: int

    def __str__(self) -> str:
        return f"[{self.idx!r}]"


@dataclasses.dataclass(frozen=True, slots=True)
class DictKey:
    """Key ``key`` of a dict-like node (printed ``['a']``)."""
    key: Hashable

    def __str__(self) -> str:
        return f"[{self.key!r}]"


@dataclasses.dataclass(frozen=True, slots=True)
class GetAttrKey:
    """Attribute ``name`` of a named tuple or dataclass (printed ``.name``)."""
    name: str

    def __str__(self) -> str:
        return f".{self.name}"


@dataclasses.dataclass(frozen=True, slots=True)
class FlattenedIndexKey:
    """Child number ``key`` of a registered node that did not name its children."""
    key: int

    def __str__(self) -> str:
        return f"[<flat index {self.key}>]"


def _simple_key_str(k: Any) -> str:
    if isinstance(k, SequenceKey):
        return str(k.idx)
    if isinstance(k, DictKey):
        return str(k.key)
    if isinstance(k, GetAttrKey):
        return k.name
    if isinstance(k, FlattenedIndexKey):
        return str(k.key)
    return str(k)


def keystr(keys: Sequence[Any], *, simple: bool = False, separator: str = "") -> str:
    """Render a key path: ``keystr((SequenceKey(0), DictKey('a')))`` is ``"[0]['a']"``.

    With ``simple=True`` each entry is printed bare (``0``, ``a``); entries are
    joined with ``separator``."""
    fn = _simple_key_str if simple else str
    return separator.join(fn(k) for k in keys)


# ---------------------------------------------------------------------------
# Node registry
# ---------------------------------------------------------------------------

class _Handler:
    """How to take apart and rebuild one node type.

    ``flatten(x) -> (children, aux)``; ``unflatten(aux, children) -> x``;
    ``flatten_with_keys(x) -> (list of (key, child), aux)``; ``label(aux)`` is
    the text shown for the node in a treedef's repr (custom nodes only)."""

    __slots__ = ("type", "flatten", "unflatten", "flatten_with_keys", "label")

    def __init__(self, type_, flatten, unflatten, flatten_with_keys, label):
        self.type = type_
        self.flatten = flatten
        self.unflatten = unflatten
        self.flatten_with_keys = flatten_with_keys
        self.label = label


# type -> _Handler for node types, or None for types already known to be leaves.
_dispatch: dict[type, _Handler | None] = {}
# Types registered explicitly (built-ins included): registering twice is an error.
_registered: set[type] = set()


def _sorted_keys(d: dict) -> tuple:
    try:
        return tuple(sorted(d))
    except Exception as e:
        raise ValueError(
            "Comparator raised exception while sorting pytree dictionary keys "
            f"{list(d)!r}: {e}") from e


def _index_keys(children):
    return [(FlattenedIndexKey(i), c) for i, c in enumerate(children)]


def _add_builtin(type_, flatten, unflatten, flatten_with_keys, label=None):
    _dispatch[type_] = _Handler(type_, flatten, unflatten, flatten_with_keys, label)
    _registered.add(type_)


def _dict_flatten(d):
    keys = _sorted_keys(d)
    return [d[k] for k in keys], keys


def _dict_flatten_with_keys(d):
    keys = _sorted_keys(d)
    return [(DictKey(k), d[k]) for k in keys], keys


_add_builtin(tuple, lambda x: (x, None), lambda aux, ch: tuple(ch),
             lambda x: ([(SequenceKey(i), c) for i, c in enumerate(x)], None))
_add_builtin(list, lambda x: (x, None), lambda aux, ch: list(ch),
             lambda x: ([(SequenceKey(i), c) for i, c in enumerate(x)], None))
_add_builtin(dict, _dict_flatten, lambda keys, ch: dict(zip(keys, ch)),
             _dict_flatten_with_keys)
_add_builtin(_NoneType, lambda x: ((), None), lambda aux, ch: None,
             lambda x: ((), None))


def _odict_flatten(d):
    keys = tuple(d)
    return [d[k] for k in keys], keys


_add_builtin(
    collections.OrderedDict, _odict_flatten,
    lambda keys, ch: collections.OrderedDict(zip(keys, ch)),
    lambda d: ([(DictKey(k), d[k]) for k in d], tuple(d)),
    lambda keys: f"OrderedDict[{keys!r}]")


def _ddict_flatten(d):
    keys = _sorted_keys(d)
    return [d[k] for k in keys], (d.default_factory, keys)


def _ddict_flatten_with_keys(d):
    keys = _sorted_keys(d)
    return [(DictKey(k), d[k]) for k in keys], (d.default_factory, keys)


_add_builtin(
    collections.defaultdict, _ddict_flatten,
    lambda aux, ch: collections.defaultdict(aux[0], zip(aux[1], ch)),
    _ddict_flatten_with_keys,
    lambda aux: f"defaultdict[{aux!r}]")


_plain_namedtuples: set = set()  # named tuple types given the generic handler below


def _namedtuple_handler(t: type) -> _Handler:
    fields = t._fields
    h = _Handler(
        t,
        lambda x: (x, None),
        lambda aux, ch: t(*ch),
        lambda x: ([(GetAttrKey(f), c) for f, c in zip(fields, x)], None),
        lambda aux: f"namedtuple[{t.__name__}]")
    _plain_namedtuples.add(t)
    return h


def _classify(t: type) -> _Handler | None:
    """Decide (once per type) whether an unregistered type is a node."""
    if issubclass(t, tuple) and hasattr(t, "_fields"):
        h = _namedtuple_handler(t)
    else:
        h = None
    _dispatch[t] = h
    return h


def is_plain_namedtuple(t: type) -> bool:
    """Whether ``t`` is a named tuple flattened as the plain tuple it is (not registered
    with flatten functions of its own): jit's cached-call path keys such values cheaply."""
    return _handler_for(t) is not None and t in _plain_namedtuples


def _handler_for(t: type) -> _Handler | None:
    try:
        return _dispatch[t]
    except KeyError:
        return _classify(t)


def _custom_label(t: type):
    return lambda aux: f"{t.__name__}[{aux}]"


def _register(nodetype, flatten, unflatten, flatten_with_keys):
    if not isinstance(nodetype, type):
        raise TypeError(f"Can only register classes as pytree nodes, got {nodetype!r}.")
    if nodetype in _registered:
        raise ValueError(f"Duplicate custom PyTreeDef type registration for {nodetype}.")
    _registered.add(nodetype)
    _plain_namedtuples.discard(nodetype)  # a named tuple with flatten functions of its own
    _dispatch[nodetype] = _Handler(nodetype, flatten, unflatten, flatten_with_keys,
                                   _custom_label(nodetype))


def register_pytree_node(nodetype: type, flatten_func: Callable, unflatten_func: Callable,
                         flatten_with_keys_func: Callable | None = None) -> None:
    """Make ``nodetype`` a pytree node.

    ``flatten_func(x)`` returns ``(children, aux_data)``; ``aux_data`` becomes
    part of the treedef, so it must be comparable with ``==`` (it need not be
    hashable: a dict of options works, as in JAX).
    ``unflatten_func(aux_data, children)`` rebuilds the value. Children get
    ``FlattenedIndexKey`` path entries unless ``flatten_with_keys_func``
    (returning ``([(key, child), ...], aux_data)``) is given."""
    if flatten_with_keys_func is None:
        def flatten_with_keys_func(x):
            children, aux = flatten_func(x)
            return _index_keys(children), aux
    _register(nodetype, flatten_func, unflatten_func, flatten_with_keys_func)


def register_pytree_with_keys(nodetype: type, flatten_with_keys: Callable,
                              unflatten_func: Callable,
                              flatten_func: Callable | None = None) -> None:
    """Like :func:`register_pytree_node`, with a flatten function that names children.

    ``flatten_with_keys(x)`` returns ``([(key, child), ...], aux_data)``; the
    keys appear in key paths. ``flatten_func`` (same result without keys) is
    derived from it when not given."""
    if flatten_func is None:
        def flatten_func(x):
            pairs, aux = flatten_with_keys(x)
            return [c for _, c in pairs], aux
    _register(nodetype, flatten_func, unflatten_func, flatten_with_keys)


def register_pytree_node_class(cls: type) -> type:
    """Class decorator: register ``cls`` with its ``tree_flatten`` method and
    ``tree_unflatten`` classmethod."""
    register_pytree_node(cls, lambda x: x.tree_flatten(), cls.tree_unflatten)
    return cls


def register_dataclass(nodetype: type | None = None,
                       data_fields: Sequence[str] | None = None,
                       meta_fields: Sequence[str] | None = None,
                       drop_fields: Sequence[str] = ()):
    """Register a class whose attributes split into data children and static metadata.

    ``data_fields`` are the children (key path entries ``GetAttrKey(name)``);
    ``meta_fields`` are stored in the treedef (so must be hashable). The value
    is rebuilt with ``nodetype(**fields)``.

    For a dataclass both lists may be left out: then the meta fields are the
    fields declared with ``field(metadata=dict(static=True))`` and the data
    fields are all the others. Usable as a plain decorator (``@register_dataclass``)
    or, with ``nodetype`` left out, as a decorator factory."""
    if nodetype is None:
        return functools.partial(register_dataclass, data_fields=data_fields,
                                 meta_fields=meta_fields, drop_fields=drop_fields)
    if data_fields is None or meta_fields is None:
        if (data_fields is None) != (meta_fields is None):
            raise TypeError(
                "register_dataclass: data_fields and meta_fields must both be given "
                f"when either is. Got data_fields={data_fields!r}, "
                f"meta_fields={meta_fields!r}.")
        if not dataclasses.is_dataclass(nodetype):
            raise TypeError(
                "register_dataclass: data_fields and meta_fields are required when "
                f"nodetype is not a dataclass. Got {nodetype!r}.")
        fields = [f for f in dataclasses.fields(nodetype) if f.name not in drop_fields]
        data_fields = [f.name for f in fields if not f.metadata.get("static", False)]
        meta_fields = [f.name for f in fields if f.metadata.get("static", False)]
    data_fields = tuple(data_fields)
    meta_fields = tuple(meta_fields)

    if dataclasses.is_dataclass(nodetype):
        init_fields = {f.name for f in dataclasses.fields(nodetype) if f.init}
        init_fields.difference_update(drop_fields)
        given = {*data_fields, *meta_fields}
        if given != init_fields:
            raise ValueError(
                "register_dataclass: data_fields and meta_fields must name exactly the "
                f"dataclass fields with init=True. Missing: {sorted(init_fields - given)}; "
                f"unexpected: {sorted(given - init_fields)}.")
    overlap = set(data_fields) & set(meta_fields)
    if overlap:
        raise ValueError(
            f"register_dataclass: data_fields and meta_fields overlap: {sorted(overlap)}.")

    def flatten(x):
        return ([getattr(x, n) for n in data_fields],
                tuple(getattr(x, n) for n in meta_fields))

    def flatten_with_keys(x):
        return ([(GetAttrKey(n), getattr(x, n)) for n in data_fields],
                tuple(getattr(x, n) for n in meta_fields))

    def unflatten(meta, data):
        kwargs = dict(zip(meta_fields, meta))
        kwargs.update(zip(data_fields, data))
        return nodetype(**kwargs)

    _register(nodetype, flatten, unflatten, flatten_with_keys)
    return nodetype


# ---------------------------------------------------------------------------
# PyTreeDef
# ---------------------------------------------------------------------------

class PyTreeDef:
    """The structure of a pytree with its leaves taken out. Immutable and hashable.

    Two treedefs are equal when they have the same node types, the same node
    metadata (dict keys, registered ``aux_data``) and equal children. A leaf
    is a treedef with no node type (``num_nodes == 1``, ``num_leaves == 1``).
    Build treedefs with :func:`tree_flatten` / :func:`tree_structure`."""

    __slots__ = ("_type", "_handler", "_aux", "_children", "_nl", "_nn", "_hash")

    # ``_type`` is None for a leaf, else the node's Python type; ``_handler``
    # knows how to rebuild it; ``_aux`` is its metadata; ``_children`` a tuple
    # of PyTreeDefs. The fields are private and never changed after __init__
    # (no __setattr__ guard: plain slot stores keep flattening fast).
    def __init__(self, type_, handler, aux, children):
        self._type = type_
        self._handler = handler
        self._aux = aux
        self._children = children
        if type_ is None:
            self._nl = 1
            self._nn = 1
        else:
            nl = 0
            nn = 1
            for c in children:
                nl += c._nl
                nn += c._nn
            self._nl = nl
            self._nn = nn
        self._hash = None

    @property
    def num_leaves(self) -> int:
        """Number of leaves in the structure."""
        return self._nl

    @property
    def num_nodes(self) -> int:
        """Number of nodes, leaves included (``None`` and ``()`` count as one node)."""
        return self._nn

    # -- structure queries ---------------------------------------------------

    def children(self) -> list["PyTreeDef"]:
        """The treedefs of this node's immediate children (empty for a leaf)."""
        return list(self._children)

    def node_data(self) -> tuple[type, Any] | None:
        """``(node type, metadata)`` of the root (sorted keys for a dict,
        ``aux_data`` for a registered class), or None for a leaf."""
        if self._type is None:
            return None
        return self._type, self._aux

    def compose(self, inner: "PyTreeDef") -> "PyTreeDef":
        """This structure with every leaf replaced by ``inner``."""
        if self._type is None:
            return inner
        return PyTreeDef(self._type, self._handler, self._aux,
                         tuple(c.compose(inner) for c in self._children))

    # -- leaves <-> values ---------------------------------------------------

    def unflatten(self, leaves: Iterable[Any]) -> Any:
        """Rebuild a value of this structure from ``leaves`` (exactly ``num_leaves``)."""
        if not isinstance(leaves, (list, tuple)):
            leaves = list(leaves)
        n = len(leaves)
        if n != self._nl:
            word = "few" if n < self._nl else "many"
            raise ValueError(
                f"Too {word} leaves for PyTreeDef {self!r}; expected "
                f"{self._nl} leaves, got {n}.")
        if self._type is None:
            return leaves[0]
        return _unflatten(self, iter(leaves))

    def flatten_up_to(self, tree: Any) -> list[Any]:
        """Flatten ``tree`` down to this structure only.

        ``tree`` must have this treedef as a prefix: its subtrees sitting where
        this treedef has leaves are returned whole, in leaf order. Raises
        ValueError naming the key path of the first mismatch otherwise."""
        out: list[Any] = []
        try:
            _flatten_up_to(self, tree, out)
        except _Mismatch as e:
            raise ValueError(e.describe()) from None
        return out

    # -- comparison, hashing, printing ---------------------------------------

    def __eq__(self, other: Any) -> bool:
        if self is other:
            return True
        if not isinstance(other, PyTreeDef):
            return NotImplemented
        return _treedef_eq(self, other)

    def __ne__(self, other: Any) -> bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self) -> int:
        h = self._hash
        if h is None:
            if self._type is None:
                h = hash("PyTreeDef.leaf")
            else:
                h = hash((self._type, _aux_hash(self._aux), self._children))
            self._hash = h
        return h

    def __repr__(self) -> str:
        return f"PyTreeDef({_node_str(self)})"

    # Immutable, so copies can share; pickling stores the node types and
    # metadata and looks the handlers up again when loading.
    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    def __reduce__(self):
        if self._type is None:
            return (_leaf_treedef, ())
        return (_rebuild_treedef, (self._type, self._aux, self._children))


def _aux_hash(aux: Any) -> int:
    """A hash of node metadata that agrees with ``==``, also for unhashable metadata
    (JAX's docs register classes whose ``aux_data`` is a dict): jit's cache keys hold
    treedefs, and equal treedefs must hash equal."""
    try:
        return hash(aux)
    except TypeError:
        pass
    if isinstance(aux, dict):  # order-free, as dict equality is
        return hash(("dict", frozenset((k, _aux_hash(v)) for k, v in aux.items())))
    if isinstance(aux, (list, tuple)):
        return hash(("sequence", tuple(_aux_hash(v) for v in aux)))
    if isinstance(aux, (set, frozenset)):
        return hash(frozenset(aux))
    # Anything else unhashable (an object with __eq__ but no __hash__): one bucket for
    # all; equality still tells them apart.
    return 0


def _treedef_eq(a: PyTreeDef, b: PyTreeDef) -> bool:
    if a is b:
        return True
    if a._type is not b._type or a._nl != b._nl or a._nn != b._nn:
        return False
    if a._aux is not b._aux and not (a._aux == b._aux):
        return False
    for ca, cb in zip(a._children, b._children):
        if not _treedef_eq(ca, cb):
            return False
    return True


def _node_str(t: PyTreeDef) -> str:
    ty = t._type
    if ty is None:
        return "*"
    if ty is _NoneType:
        return "None"
    kids = [_node_str(c) for c in t._children]
    if ty is tuple:
        if len(kids) == 1:
            return f"({kids[0]},)"
        return "(" + ", ".join(kids) + ")"
    if ty is list:
        return "[" + ", ".join(kids) + "]"
    if ty is dict:
        return "{" + ", ".join(f"{k!r}: {s}" for k, s in zip(t._aux, kids)) + "}"
    return f"CustomNode({t._handler.label(t._aux)}, [" + ", ".join(kids) + "])"


_LEAF = PyTreeDef(None, None, None, ())


def _leaf_treedef() -> PyTreeDef:
    return _LEAF


def _rebuild_treedef(type_, aux, children) -> PyTreeDef:
    h = _handler_for(type_)
    if h is None:
        raise ValueError(f"cannot unpickle PyTreeDef: {type_} is not a pytree node type")
    return PyTreeDef(type_, h, aux, tuple(children))


_NONE = PyTreeDef(_NoneType, _dispatch[_NoneType], None, ())
_TUPLE_H = _dispatch[tuple]
_LIST_H = _dispatch[list]
_DICT_H = _dispatch[dict]


# ---------------------------------------------------------------------------
# Flattening
# ---------------------------------------------------------------------------

_MISSING = object()


def _flatten(x: Any, leaves: list) -> PyTreeDef:
    t = type(x)
    h = _dispatch.get(t, _MISSING)
    if h is None:
        leaves.append(x)
        return _LEAF
    if h is _MISSING:
        h = _classify(t)
        if h is None:
            leaves.append(x)
            return _LEAF
    if t is tuple or t is list:
        children = x
        aux = None
    elif t is dict:
        aux = _sorted_keys(x)
        children = [x[k] for k in aux]
    elif x is None:
        return _NONE
    else:
        children, aux = h.flatten(x)
    # Children of a type already known to be a leaf are handled inline: this
    # is the common case (a tuple of arrays) and saves a call per leaf.
    kids = []
    for c in children:
        if _dispatch.get(type(c), _MISSING) is None:
            leaves.append(c)
            kids.append(_LEAF)
        else:
            kids.append(_flatten(c, leaves))
    return PyTreeDef(t, h, aux, tuple(kids))


def _flatten_is_leaf(x: Any, leaves: list, is_leaf: Callable) -> PyTreeDef:
    if is_leaf(x):
        leaves.append(x)
        return _LEAF
    t = type(x)
    try:
        h = _dispatch[t]
    except KeyError:
        h = _classify(t)
    if h is None:
        leaves.append(x)
        return _LEAF
    if x is None:
        return _NONE
    children, aux = h.flatten(x)
    return PyTreeDef(t, h, aux,
                     tuple([_flatten_is_leaf(c, leaves, is_leaf) for c in children]))


def tree_flatten(tree: Any, is_leaf: Callable[[Any], bool] | None = None
                 ) -> tuple[list[Any], PyTreeDef]:
    """Split ``tree`` into ``(leaves, treedef)``.

    ``is_leaf(x)``, if given, is called on every subtree (root included) before
    it is taken apart; a true result makes that subtree a leaf (even ``None``)."""
    leaves: list[Any] = []
    if is_leaf is None:
        treedef = _flatten(tree, leaves)
    else:
        treedef = _flatten_is_leaf(tree, leaves, is_leaf)
    return leaves, treedef


def _collect_leaves(x: Any, leaves: list) -> None:
    t = type(x)
    try:
        h = _dispatch[t]
    except KeyError:
        h = _classify(t)
    if h is None:
        leaves.append(x)
    elif t is tuple or t is list:
        for c in x:
            _collect_leaves(c, leaves)
    elif x is not None:
        for c in h.flatten(x)[0]:
            _collect_leaves(c, leaves)


def tree_leaves(tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> list[Any]:
    """The leaves of ``tree``, in flattening order."""
    leaves: list[Any] = []
    if is_leaf is None:
        _collect_leaves(tree, leaves)
    else:
        _flatten_is_leaf(tree, leaves, is_leaf)
    return leaves


def tree_structure(tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> PyTreeDef:
    """The treedef of ``tree``."""
    return tree_flatten(tree, is_leaf)[1]


def tree_unflatten(treedef: PyTreeDef, leaves: Iterable[Any]) -> Any:
    """Rebuild a pytree from ``treedef`` and its leaves (inverse of :func:`tree_flatten`)."""
    return treedef.unflatten(leaves)


def _unflatten(node: PyTreeDef, it) -> Any:
    t = node._type
    if t is _NoneType:
        return None
    kids = [next(it) if c is _LEAF else _unflatten(c, it) for c in node._children]
    if t is tuple:
        return tuple(kids)
    if t is list:
        return kids
    if t is dict:
        return dict(zip(node._aux, kids))
    return node._handler.unflatten(node._aux, tuple(kids))


# A treedef bigger or deeper than this rebuilds with ``_unflatten``: the generated
# expression would take long to compile, or nest past what the parser accepts.
_BUILDER_MAX_NODES, _BUILDER_MAX_DEPTH = 5000, 50


def unflattener(treedef: PyTreeDef) -> Callable[[Sequence[Any]], Any]:
    """A function of a list of leaves that rebuilds ``treedef`` (as ``tree_unflatten``,
    without its length check): for a structure rebuilt many times, such as a jitted
    function's outputs on every call. It is one generated expression, so a call costs
    about one constructor per node instead of a Python call per node. Keys, node types
    and registered metadata are passed to the expression as names, never printed into
    its source."""
    if treedef._nn > _BUILDER_MAX_NODES or _depth(treedef) > _BUILDER_MAX_DEPTH:
        return lambda leaves: _unflatten(treedef, iter(leaves))
    names: dict[str, Any] = {}
    leaf_index = iter(range(treedef._nl))

    def bind(value) -> str:
        name = f"c{len(names)}"
        names[name] = value
        return name

    def expr(node: PyTreeDef) -> str:
        t = node._type
        if t is None:
            return f"L[{next(leaf_index)}]"
        if t is _NoneType:
            return "None"
        kids = [expr(c) for c in node._children]
        if t is tuple:
            return "(" + "".join(k + ", " for k in kids) + ")"
        if t is list:
            return "[" + ", ".join(kids) + "]"
        if t is dict:
            return "{" + ", ".join(f"{bind(k)}: {v}" for k, v in zip(node._aux, kids)) + "}"
        rebuild, aux = bind(node._handler.unflatten), bind(node._aux)
        return f"{rebuild}({aux}, (" + "".join(k + ", " for k in kids) + "))"

    body = expr(treedef)
    code = compile(f"lambda L: {body}", f"<unflatten {treedef._nl} leaves>", "eval")
    return eval(code, names)  # noqa: S307  (our own expression over bound names)


def _depth(node: PyTreeDef) -> int:
    return 1 + max((_depth(c) for c in node._children), default=0)


def treedef_children(treedef: PyTreeDef) -> list[PyTreeDef]:
    """The treedefs of the root's children."""
    return treedef.children()


def treedef_is_leaf(treedef: PyTreeDef) -> bool:
    """True for a structure with a single node: a leaf, ``None``, ``()``, ``[]``, ``{}``..."""
    return treedef.num_nodes == 1


def flatten_fun(fun: Callable, in_tree: PyTreeDef) -> tuple[Callable, Callable[[], PyTreeDef]]:
    """``fun`` over pytrees as a function over flat leaves, the form transformations trace.

    Returns ``(flat_fun, out_tree)``: ``flat_fun(*leaves)`` calls ``fun(*args)`` with
    ``args = tree_unflatten(in_tree, leaves)`` (``in_tree`` describes the tuple of
    positional arguments) and returns the leaves of the result; ``out_tree()`` is the
    result's structure, from the latest call.

    >>> leaves, in_tree = tree_flatten(({"a": 1.0}, 2.0))
    >>> flat, out_tree = flatten_fun(lambda d, y: (d["a"] * y, y), in_tree)
    >>> flat(*leaves), out_tree()
    ([2.0, 2.0], PyTreeDef((*, *)))
    """
    box: list = []

    def flat_fun(*leaves):
        out_leaves, tree = tree_flatten(fun(*tree_unflatten(in_tree, leaves)))
        box[:] = [tree]
        return out_leaves

    def out_tree() -> PyTreeDef:
        if not box:
            raise RuntimeError("flatten_fun: out_tree() is known only after a call")
        return box[0]
    return flat_fun, out_tree


def treedef_tuple(treedefs: Iterable[PyTreeDef]) -> PyTreeDef:
    """The treedef of a tuple whose elements have the given structures."""
    return PyTreeDef(tuple, _TUPLE_H, None, tuple(treedefs))


def all_leaves(iterable: Iterable[Any], is_leaf: Callable[[Any], bool] | None = None
               ) -> bool:
    """True if every element of ``iterable`` is itself a leaf (``None`` is not)."""
    for x in iterable:
        if is_leaf is not None and is_leaf(x):
            continue
        if _handler_for(type(x)) is not None:
            return False
    return True


# ---------------------------------------------------------------------------
# flatten_up_to and its error reporting
# ---------------------------------------------------------------------------

def _short_repr(x: Any, limit: int = 200) -> str:
    try:
        s = repr(x)
    except Exception:  # a broken __repr__ should not hide the real error
        s = f"<{type(x).__name__} object>"
    if len(s) > limit:
        s = s[:limit] + "..."
    return s


class _Mismatch(Exception):
    """Internal: a structure mismatch; the key path is filled in while unwinding."""

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail
        self.path: list[Any] = []  # innermost key first

    def keypath(self) -> tuple:
        return tuple(reversed(self.path))

    def describe(self) -> str:
        where = keystr(self.keypath()) or "<root>"
        return f"{self.detail} (at key path {where})"


def _flatten_up_to(node: PyTreeDef, x: Any, out: list) -> None:
    t = node._type
    if t is None:
        out.append(x)
        return
    xt = type(x)
    kids = node._children
    if t is tuple or t is list:
        name = t.__name__
        if xt is not t:
            raise _Mismatch(f"Expected {name}, got {_short_repr(x)}.")
        if len(x) != len(kids):
            raise _Mismatch(f"{name.capitalize()} arity mismatch: {len(x)} != "
                            f"{len(kids)}; {name}: {_short_repr(x)}.")
        values = x
        keyfn = SequenceKey
    elif t is dict:
        if xt is not dict:
            raise _Mismatch(f"Expected dict, got {_short_repr(x)}.")
        keys = _sorted_keys(x)
        if keys != node._aux:
            raise _Mismatch(f"Dict key mismatch; expected keys: {list(node._aux)!r}; "
                            f"present keys: {list(keys)!r}.")
        values = [x[k] for k in keys]
        keyfn = None
    elif t is _NoneType:
        if x is not None:
            raise _Mismatch(
                f"Expected None, got {_short_repr(x)}. (None is a pytree node with no "
                "children, not a leaf, so it is not a prefix of other values.)")
        return
    else:
        h = node._handler
        if xt is not t:
            if issubclass(t, tuple) and hasattr(t, "_fields"):
                raise _Mismatch(f"Expected named tuple of type {t.__name__}, got "
                                f"{_short_repr(x)}.")
            raise _Mismatch(f"Custom node type mismatch: expected type: {t}, value: "
                            f"{_short_repr(x)}.")
        values, aux = h.flatten(x)
        values = list(values)
        if len(values) != len(kids):
            raise _Mismatch(f"Custom type arity mismatch for {t.__name__}: "
                            f"{len(values)} != {len(kids)}; value: {_short_repr(x)}.")
        if aux is not node._aux and not (aux == node._aux):
            raise _Mismatch(f"Mismatch custom node data: {node._aux!r} != {aux!r}; "
                            f"value: {_short_repr(x)}.")
        keyfn = None
    for i, (c, v) in enumerate(zip(kids, values)):
        if c is _LEAF:
            out.append(v)
            continue
        try:
            _flatten_up_to(c, v, out)
        except _Mismatch as e:
            if keyfn is not None:
                e.path.append(keyfn(i))
            elif t is dict:
                e.path.append(DictKey(node._aux[i]))
            else:
                pairs, _ = node._handler.flatten_with_keys(x)
                e.path.append(list(pairs)[i][0])
            raise


# ---------------------------------------------------------------------------
# Mapping and reductions
# ---------------------------------------------------------------------------

def _rest_leaves(fname: str, treedef: PyTreeDef, rest: Sequence[Any]) -> list[list]:
    out = []
    for i, r in enumerate(rest, start=1):
        try:
            flat: list[Any] = []
            _flatten_up_to(treedef, r, flat)
        except _Mismatch as e:
            raise ValueError(
                f"{fname}: argument {i} does not match the structure of argument 0 "
                f"(or a structure having it as a prefix).\n"
                f"  argument 0 structure: {treedef!r}\n"
                f"  argument {i} structure: {tree_structure(r)!r}\n"
                f"  {e.describe()}") from None
        out.append(flat)
    return out


def tree_map(f: Callable[..., Any], tree: Any, *rest: Any,
             is_leaf: Callable[[Any], bool] | None = None) -> Any:
    """Apply ``f`` leafwise: ``f(leaf, *matching subtrees of rest)``.

    Each tree in ``rest`` must have ``tree``'s structure as a prefix; the
    subtrees of ``rest`` where ``tree`` has leaves are passed whole."""
    leaves, treedef = tree_flatten(tree, is_leaf)
    if not rest:
        return treedef.unflatten([f(x) for x in leaves])
    others = _rest_leaves("tree_map", treedef, rest)
    return treedef.unflatten([f(*xs) for xs in zip(leaves, *others)])


def tree_all(tree: Any, *, is_leaf: Callable[[Any], bool] | None = None) -> bool:
    """True if every leaf of ``tree`` is truthy."""
    return all(tree_leaves(tree, is_leaf))


class _NoInit:
    def __repr__(self) -> str:
        return "<no initializer>"


_NO_INIT = _NoInit()


def tree_reduce(function: Callable[[Any, Any], Any], tree: Any,
                initializer: Any = _NO_INIT,
                is_leaf: Callable[[Any], bool] | None = None) -> Any:
    """``functools.reduce(function, leaves[, initializer])`` over ``tree``'s leaves."""
    leaves = tree_leaves(tree, is_leaf)
    if initializer is _NO_INIT:
        return functools.reduce(function, leaves)
    return functools.reduce(function, leaves, initializer)


def tree_transpose(outer_treedef: PyTreeDef, inner_treedef: PyTreeDef | None,
                   pytree_to_transpose: Any) -> Any:
    """Turn an outer-structure tree of inner-structure trees inside out.

    ``pytree_to_transpose`` must have structure ``outer_treedef.compose(inner_treedef)``;
    the result has structure ``inner_treedef.compose(outer_treedef)``. If
    ``inner_treedef`` is None it is taken from the first outer leaf."""
    flat, treedef = tree_flatten(pytree_to_transpose)
    if inner_treedef is None:
        firsts = outer_treedef.flatten_up_to(pytree_to_transpose)
        if not firsts:
            raise ValueError("tree_transpose: cannot infer inner_treedef from an outer "
                             "structure with no leaves.")
        inner_treedef = tree_structure(firsts[0])
    expected = outer_treedef.compose(inner_treedef)
    if treedef != expected:
        raise TypeError(f"Mismatch\n{treedef!r}\n != \n{expected!r}")
    n_in = inner_treedef.num_leaves
    n_out = outer_treedef.num_leaves
    groups = [flat[i * n_in:(i + 1) * n_in] for i in range(n_out)]
    subtrees = [outer_treedef.unflatten([g[j] for g in groups]) for j in range(n_in)]
    return inner_treedef.unflatten(subtrees)


# ---------------------------------------------------------------------------
# Key paths
# ---------------------------------------------------------------------------

def _flatten_with_path(x, path, out, is_leaf, takes_path):
    if is_leaf is not None and (is_leaf(path, x) if takes_path else is_leaf(x)):
        out.append((path, x))
        return _LEAF
    t = type(x)
    h = _handler_for(t)
    if h is None:
        out.append((path, x))
        return _LEAF
    if x is None:
        return _NONE
    pairs, aux = h.flatten_with_keys(x)
    kids = tuple([_flatten_with_path(c, path + (k,), out, is_leaf, takes_path)
                  for k, c in pairs])
    return PyTreeDef(t, h, aux, kids)


def tree_flatten_with_path(tree: Any, is_leaf: Callable[..., bool] | None = None,
                           is_leaf_takes_path: bool = False
                           ) -> tuple[list[tuple[tuple, Any]], PyTreeDef]:
    """Like :func:`tree_flatten`, but each leaf comes as ``(key_path, leaf)``.

    With ``is_leaf_takes_path=True``, ``is_leaf`` is called as ``is_leaf(path, x)``."""
    out: list[tuple[tuple, Any]] = []
    treedef = _flatten_with_path(tree, (), out, is_leaf, is_leaf_takes_path)
    return out, treedef


def tree_leaves_with_path(tree: Any, is_leaf: Callable[..., bool] | None = None,
                          is_leaf_takes_path: bool = False) -> list[tuple[tuple, Any]]:
    """The ``(key_path, leaf)`` pairs of ``tree``."""
    return tree_flatten_with_path(tree, is_leaf, is_leaf_takes_path)[0]


def tree_map_with_path(f: Callable[..., Any], tree: Any, *rest: Any,
                       is_leaf: Callable[..., bool] | None = None,
                       is_leaf_takes_path: bool = False) -> Any:
    """Like :func:`tree_map`, calling ``f(key_path, leaf, *others)``."""
    pairs, treedef = tree_flatten_with_path(tree, is_leaf, is_leaf_takes_path)
    others = _rest_leaves("tree_map_with_path", treedef, rest)
    return treedef.unflatten([f(p, x, *xs) for (p, x), *xs in zip(pairs, *others)])


# ---------------------------------------------------------------------------
# Prefix broadcasting (vmap's in_axes, jit's donate/shardings...)
# ---------------------------------------------------------------------------

def _num_leaves(x: Any) -> int:
    if _handler_for(type(x)) is None:
        return 1
    leaves: list[Any] = []
    _collect_leaves(x, leaves)
    return len(leaves)


def broadcast_prefix(prefix_tree: Any, full_tree: Any,
                     is_leaf: Callable[[Any], bool] | None = None) -> list[Any]:
    """For each leaf of ``full_tree``, the leaf of ``prefix_tree`` covering it.

    ``prefix_tree`` must be a tree prefix of ``full_tree``: each of its leaves
    stands for a whole subtree of ``full_tree`` and is repeated once per leaf
    of that subtree. Unlike ordinary flattening, ``None`` in ``prefix_tree``
    counts as a *leaf* (as in ``vmap``'s ``in_axes``, where ``None`` means
    "not mapped"); ``is_leaf``, if given, marks further prefix subtrees as
    leaves. ``full_tree`` is flattened normally (its ``None``s have no leaves).

    Raises ValueError naming the key path where the structures disagree."""
    if is_leaf is None:
        prefix_is_leaf = _is_none
    else:
        def prefix_is_leaf(x):
            return x is None or is_leaf(x)
    prefix_leaves, prefix_def = tree_flatten(prefix_tree, prefix_is_leaf)
    subtrees: list[Any] = []
    try:
        _flatten_up_to(prefix_def, full_tree, subtrees)
    except _Mismatch as e:
        raise ValueError(
            f"broadcast_prefix: the prefix tree is not a prefix of the full tree at "
            f"key path {keystr(e.keypath()) or '<root>'}: {e.detail}\n"
            f"  prefix structure: {prefix_def!r}\n"
            f"  full structure:   {tree_structure(full_tree)!r}") from None
    result: list[Any] = []
    for p, sub in zip(prefix_leaves, subtrees):
        n = _num_leaves(sub)
        if n == 1:
            result.append(p)
        elif n:
            result.extend([p] * n)
    return result


def _is_none(x: Any) -> bool:
    return x is None
