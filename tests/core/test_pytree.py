"""Tests for functorch_lite.core.pytree, using jax.tree_util as the reference."""
from __future__ import annotations

import collections
import copy
import dataclasses
import pathlib
import pickle
import re
import subprocess
import sys
import timeit

import jax
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from jax import tree_util as jtu
from jax._src import tree_util as jtu_internal

from functorch_lite import tree as fl_tree
from functorch_lite import tree_util as fl_tree_util
from functorch_lite.core import pytree as P

# ---------------------------------------------------------------------------
# Node types used by the generated trees, registered with both libraries
# ---------------------------------------------------------------------------

Pair = collections.namedtuple("Pair", ["first", "second"])


class Box:
    """A registered class with two children and a string tag as aux data."""

    def __init__(self, a, b, tag):
        self.a, self.b, self.tag = a, b, tag

    def __eq__(self, other):
        return (type(other) is Box and self.a == other.a and self.b == other.b
                and self.tag == other.tag)

    def __repr__(self):
        return f"Box({self.a!r}, {self.b!r}, {self.tag!r})"


def _box_flatten(x):
    return (x.a, x.b), x.tag


def _box_unflatten(tag, children):
    return Box(children[0], children[1], tag)


P.register_pytree_node(Box, _box_flatten, _box_unflatten)
jtu.register_pytree_node(Box, _box_flatten, _box_unflatten)


@dataclasses.dataclass
class Point:
    x: object
    y: object
    name: str = dataclasses.field(default="p", metadata=dict(static=True))


P.register_dataclass(Point)
jtu.register_dataclass(Point)


class Keyed:
    """Registered with keys: its children show up as GetAttrKey entries."""

    def __init__(self, u, v):
        self.u, self.v = u, v

    def __eq__(self, other):
        return type(other) is Keyed and (self.u, self.v) == (other.u, other.v)


def _keyed_flatten_with_keys(x):
    return ((jtu.GetAttrKey("u"), x.u), (jtu.GetAttrKey("v"), x.v)), None


def _keyed_flatten_with_keys_fl(x):
    return ((P.GetAttrKey("u"), x.u), (P.GetAttrKey("v"), x.v)), None


P.register_pytree_with_keys(Keyed, _keyed_flatten_with_keys_fl,
                            lambda aux, ch: Keyed(*ch))
jtu.register_pytree_with_keys(Keyed, _keyed_flatten_with_keys,
                              lambda aux, ch: Keyed(*ch))


# ---------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------

leaf_st = st.one_of(
    st.integers(-5, 5),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text("xyz", max_size=2),
    st.booleans(),
)
key_st = st.text("abcd", min_size=1, max_size=2)
tag_st = st.sampled_from(["s", "t"])


def _extend(children):
    return st.one_of(
        st.tuples(children, children),
        st.lists(children, max_size=3).map(tuple),
        st.lists(children, max_size=3),
        st.dictionaries(key_st, children, max_size=3),
        st.builds(Pair, children, children),
        st.dictionaries(key_st, children, max_size=3).map(collections.OrderedDict),
        st.dictionaries(key_st, children, max_size=3).map(
            lambda d: collections.defaultdict(list, d)),
        st.builds(Box, children, children, tag_st),
        st.builds(Point, children, children, tag_st),
        st.builds(Keyed, children, children),
    )


tree_st = st.recursive(st.one_of(leaf_st, st.none()), _extend, max_leaves=12)

FAST = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


def _replace_leaves(tree, fn):
    leaves, treedef = jtu.tree_flatten(tree)
    return jtu.tree_unflatten(treedef, [fn(i, x) for i, x in enumerate(leaves)])


# ---------------------------------------------------------------------------
# Flatten / unflatten against JAX
# ---------------------------------------------------------------------------

@FAST
@given(tree_st)
def test_flatten_matches_jax(tree):
    leaves, treedef = P.tree_flatten(tree)
    jleaves, jtreedef = jtu.tree_flatten(tree)
    assert leaves == jleaves
    assert [type(x) for x in leaves] == [type(x) for x in jleaves]
    assert treedef.num_leaves == jtreedef.num_leaves == len(leaves)
    assert treedef.num_nodes == jtreedef.num_nodes
    assert repr(treedef) == repr(jtreedef)
    assert P.tree_leaves(tree) == jleaves
    assert P.tree_structure(tree) == treedef


@FAST
@given(tree_st)
def test_round_trip(tree):
    leaves, treedef = P.tree_flatten(tree)
    rebuilt = P.tree_unflatten(treedef, leaves)
    assert rebuilt == tree
    assert repr(P.tree_structure(rebuilt)) == repr(treedef)
    # unflatten accepts any iterable and gives the same value as jax's.
    jrebuilt = jtu.tree_unflatten(jtu.tree_structure(tree), iter(leaves))
    assert treedef.unflatten(iter(leaves)) == jrebuilt


@FAST
@given(tree_st)
def test_unflattener_rebuilds_as_tree_unflatten(tree):
    """jit's cached calls rebuild outputs with a generated ``unflattener``: the same value,
    node types and structure as ``tree_unflatten``, call after call."""
    leaves, treedef = P.tree_flatten(tree)
    rebuild = P.unflattener(treedef)
    for _ in range(2):
        rebuilt = rebuild(leaves)
        assert rebuilt == P.tree_unflatten(treedef, leaves)
        assert P.tree_structure(rebuilt) == treedef
        assert [type(x) for x in P.tree_leaves(rebuilt)] == [type(x) for x in leaves]


def test_unflattener_keys_are_values_not_source():
    """Dict keys and registered metadata reach the generated expression as values: keys
    that are not identifiers (quotes, braces, ints, tuples) rebuild unchanged."""
    tree = ({"a'b": 1, "}{": [2, (3,)], "": ()}, {7: None, -1: 6},
            {(1, "x"): Box(4, 5, "t'ag"), (0, "y"): Pair(8, 9)})
    leaves, treedef = P.tree_flatten(tree)
    out = P.unflattener(treedef)(leaves)
    assert out == tree
    assert [list(d) for d in out] == [list(d) for d in P.tree_unflatten(treedef, leaves)]
    assert isinstance(out[0]["}{"][1], tuple) and out[0][""] == ()
    assert type(out[2][(0, "y")]) is Pair and out[2][(1, "x")].tag == "t'ag"


def test_unflattener_falls_back_for_deep_and_large_trees():
    deep = 0
    for _ in range(P._BUILDER_MAX_DEPTH + 5):
        deep = [deep]
    wide = {f"k{i}": (i, [i]) for i in range(P._BUILDER_MAX_NODES)}
    for tree in (deep, wide):
        leaves, treedef = P.tree_flatten(tree)
        assert P.unflattener(treedef)(leaves) == tree


@FAST
@given(tree_st, tree_st)
def test_structure_equality_matches_jax(a, b):
    ta, tb = P.tree_structure(a), P.tree_structure(b)
    ja, jb = jtu.tree_structure(a), jtu.tree_structure(b)
    assert (ta == tb) == (ja == jb)
    assert (ta != tb) == (ja != jb)
    if ta == tb:
        assert hash(ta) == hash(tb)


@FAST
@given(tree_st)
def test_same_structure_different_leaves_equal(tree):
    other = _replace_leaves(tree, lambda i, x: f"leaf{i}")
    ta, tb = P.tree_structure(tree), P.tree_structure(other)
    assert ta == tb and hash(ta) == hash(tb)
    assert len({ta, tb}) == 1


@FAST
@given(tree_st)
def test_children_and_is_leaf_match_jax(tree):
    t, jt = P.tree_structure(tree), jtu.tree_structure(tree)
    assert [repr(c) for c in P.treedef_children(t)] == [
        repr(c) for c in jtu.treedef_children(jt)]
    assert P.treedef_is_leaf(t) == jtu.treedef_is_leaf(jt)
    assert P.all_leaves(P.tree_leaves(tree)) is True
    assert P.all_leaves([tree]) == jtu.all_leaves([tree])


def test_node_types_and_leaves():
    # None is a node with no children; containers of the wrong exact type are leaves.
    assert P.tree_leaves(None) == []
    assert repr(P.tree_structure(None)) == "PyTreeDef(None)"
    assert repr(P.tree_structure(5)) == "PyTreeDef(*)"
    assert repr(P.tree_structure((1,))) == "PyTreeDef((*,))"
    assert repr(P.tree_structure((1, {"a": 2}))) == "PyTreeDef((*, {'a': *}))"

    class MyList(list):
        pass

    class MyTuple(tuple):
        pass

    for leaf in (MyList([1, 2]), MyTuple((1, 2)), np.ones(3), "abc", 3.5):
        leaves, treedef = P.tree_flatten(leaf)
        assert leaves == [leaf] or leaves[0] is leaf
        assert P.treedef_is_leaf(treedef)
        assert treedef == P.tree_structure(0)


def test_dict_sorted_order_matches_jax():
    d = {"b": 1, "c": 2, "a": 3}
    leaves, treedef = P.tree_flatten(d)
    assert leaves == [3, 1, 2]
    rebuilt = treedef.unflatten(leaves)
    jrebuilt = jtu.tree_unflatten(jtu.tree_structure(d), leaves)
    assert list(rebuilt) == list(jrebuilt) == ["a", "b", "c"]
    # Insertion order does not matter for dict structure equality.
    assert P.tree_structure({"a": 0, "b": 0}) == P.tree_structure({"b": 0, "a": 0})
    # OrderedDict keeps insertion order and is a different node type.
    od = collections.OrderedDict([("b", 1), ("a", 2)])
    assert P.tree_leaves(od) == [1, 2]
    assert list(P.tree_structure(od).unflatten([1, 2])) == ["b", "a"]
    assert P.tree_structure(od) != P.tree_structure(dict(od))
    assert P.tree_structure(od) != P.tree_structure(
        collections.OrderedDict([("a", 2), ("b", 1)]))
    dd = collections.defaultdict(int, {"b": 1, "a": 2})
    rebuilt = P.tree_map(lambda x: x * 10, dd)
    assert type(rebuilt) is collections.defaultdict and rebuilt.default_factory is int
    assert dict(rebuilt) == {"a": 20, "b": 10}


def test_unsortable_dict_keys():
    with pytest.raises(ValueError, match="sorting pytree dictionary keys"):
        P.tree_flatten({1: "x", "a": "y"})


def test_is_leaf_matches_jax():
    tree = {"a": (1, None, [2, 3]), "b": [None, (4,)], "c": Pair(5, (6, 7))}
    preds = [
        lambda x: x is None,
        lambda x: isinstance(x, tuple),
        lambda x: isinstance(x, list),
        lambda x: isinstance(x, dict),
    ]
    for pred in preds:
        leaves, treedef = P.tree_flatten(tree, is_leaf=pred)
        jleaves, jtreedef = jtu.tree_flatten(tree, is_leaf=pred)
        assert leaves == jleaves
        assert repr(treedef) == repr(jtreedef)
        assert P.tree_leaves(tree, is_leaf=pred) == jleaves
        assert treedef.unflatten(leaves) == tree
        assert (P.tree_map(lambda x: 0, tree, is_leaf=pred)
                == jtu.tree_map(lambda x: 0, tree, is_leaf=pred))


# ---------------------------------------------------------------------------
# unflatten / flatten_up_to
# ---------------------------------------------------------------------------

def test_unflatten_wrong_number_of_leaves():
    treedef = P.tree_structure((1, [2, 3]))
    with pytest.raises(ValueError, match="expected 3 leaves, got 2"):
        treedef.unflatten([1, 2])
    with pytest.raises(ValueError, match="expected 3 leaves, got 4"):
        treedef.unflatten([1, 2, 3, 4])
    with pytest.raises(ValueError, match="expected 1 leaves, got 0"):
        P.tree_structure(7).unflatten([])


def test_flatten_up_to():
    treedef = P.tree_structure((1, {"a": 2, "b": None}))
    assert treedef.flatten_up_to(((1, 2), {"a": [3], "b": None})) == [(1, 2), [3]]
    jtreedef = jtu.tree_structure((1, {"a": 2, "b": None}))
    tree = (Pair(1, 2), {"a": Box(1, 2, "s"), "b": None})
    assert treedef.flatten_up_to(tree) == jtreedef.flatten_up_to(tree)


@pytest.mark.parametrize("prefix, tree, pattern", [
    ((1, 2), (1,), r"Tuple arity mismatch: 1 != 2"),
    ((1, 2), [1, 2], r"Expected tuple, got \[1, 2\]"),
    ([1], (1,), r"Expected list"),
    ({"a": 1}, {"b": 1}, r"Dict key mismatch; expected keys: \['a'\]; present keys: \['b'\]"),
    (None, 5, r"Expected None, got 5"),
    (Box(1, 2, "s"), (1, 2), r"Custom node type mismatch"),
    (Box(1, 2, "s"), Box(1, 2, "t"), r"Mismatch custom node data: 's' != 't'"),
    (Pair(1, 2), (1, 2), r"Expected named tuple"),
    ((0, {"k": [0, 0]}), (0, {"k": [0]}), r"List arity mismatch.*at key path \[1\]\['k'\]"),
    ([Point(0, 0, "p")], [Point(0, (0, 1), "q")],
     r"custom node data.*at key path \[0\]"),
    ([Point(0, (0, 0))], [Point(0, (0,))], r"at key path \[0\]\.y"),
    (Box(0, (0, 0), "s"), Box(0, (0,), "s"), r"at key path \[<flat index 1>\]"),
])
def test_flatten_up_to_errors(prefix, tree, pattern):
    treedef = P.tree_structure(prefix)
    with pytest.raises(ValueError, match=pattern):
        treedef.flatten_up_to(tree)
    # JAX rejects the same inputs.
    with pytest.raises(ValueError):
        jtu.tree_structure(prefix).flatten_up_to(tree)


# ---------------------------------------------------------------------------
# tree_map and friends
# ---------------------------------------------------------------------------

@FAST
@given(tree_st)
def test_tree_map_several_trees(tree):
    other = _replace_leaves(tree, lambda i, x: i)
    third = _replace_leaves(tree, lambda i, x: -i)
    f = lambda a, b, c: (str(a), b + c)  # noqa: E731
    assert P.tree_map(f, tree, other, third) == jtu.tree_map(f, tree, other, third)
    assert fl_tree.map(lambda x: [x], tree) == jax.tree.map(lambda x: [x], tree)


def test_tree_map_prefix_rest():
    # The later trees may be deeper than the first: their subtrees are passed whole.
    first = (1, {"a": 2})
    second = ((10, 20), {"a": [30, None]})
    expected = jtu.tree_map(lambda x, y: (x, y), first, second)
    assert P.tree_map(lambda x, y: (x, y), first, second) == expected
    assert P.tree_map(lambda x, y: x, 5, None) == 5


@pytest.mark.parametrize("a, b, pattern", [
    ((1, 2), (1, 2, 3), r"Tuple arity mismatch"),
    ((1, 2), [1, 2], r"Expected tuple"),
    ({"a": 1}, {"a": 1, "b": 2}, r"Dict key mismatch"),
    (Box(1, 2, "s"), Box(1, 2, "t"), r"Mismatch custom node data"),
    ([Box(1, 2, "s")], [Pair(1, 2)], r"Custom node type mismatch.*at key path \[0\]"),
    (None, 5, r"Expected None"),
])
def test_tree_map_mismatch_errors(a, b, pattern):
    with pytest.raises(ValueError) as info:
        P.tree_map(lambda x, y: x, a, b)
    msg = str(info.value)
    assert re.search(pattern, msg, re.S), msg
    # Both structures are named in the message.
    assert repr(P.tree_structure(a)) in msg
    assert repr(P.tree_structure(b)) in msg
    with pytest.raises(ValueError):
        jtu.tree_map(lambda x, y: x, a, b)


def test_tree_all_reduce():
    tree = [1, (2, {"a": 3})]
    assert P.tree_reduce(lambda a, b: a + b, tree) == 6
    assert P.tree_reduce(lambda a, b: a + b, tree, 10) == 16
    assert P.tree_reduce(lambda a, b: a + b, [], initializer=0) == 0
    collect = lambda acc, x: acc + [x]  # noqa: E731
    none_leaf = lambda x: x is None  # noqa: E731
    assert P.tree_reduce(collect, [(1,), None], [], is_leaf=none_leaf) == jtu.tree_reduce(
        collect, [(1,), None], [], is_leaf=none_leaf) == [1, None]
    with pytest.raises(TypeError):
        P.tree_reduce(lambda a, b: a + b, [])
    assert P.tree_all([True, (1, {"a": "x"})]) is True
    assert P.tree_all([True, (0,)]) is False
    assert P.tree_all([]) is True
    assert P.tree_all([None], is_leaf=lambda x: x is None) is False


def test_tree_transpose():
    outer = P.tree_structure([0, 0])
    inner = P.tree_structure((0, {"k": 0}))
    tree = [(1, {"k": 2}), (3, {"k": 4})]
    expected = jtu.tree_transpose(jtu.tree_structure([0, 0]),
                                  jtu.tree_structure((0, {"k": 0})), tree)
    assert P.tree_transpose(outer, inner, tree) == expected == ([1, 3], {"k": [2, 4]})
    assert P.tree_transpose(outer, None, tree) == expected
    with pytest.raises(TypeError, match="Mismatch"):
        P.tree_transpose(outer, inner, [(1, {"k": 2}), (3, 4)])


def test_all_leaves_and_treedef_helpers():
    assert P.all_leaves([1, 2, "x"]) is True
    assert P.all_leaves([1, None]) is False
    assert P.all_leaves([1, [2]]) is False
    assert P.all_leaves([None], is_leaf=lambda x: x is None) is True
    for tree in [1, None, (), [], {}, (1,), [None, 2], {"a": (1, 2)}]:
        t, jt = P.tree_structure(tree), jtu.tree_structure(tree)
        assert P.treedef_is_leaf(t) == jtu.treedef_is_leaf(jt)
        assert repr(P.treedef_children(t)) == repr(jtu.treedef_children(jt))
    assert P.treedef_tuple([P.tree_structure(1), P.tree_structure([1])]) == \
        P.tree_structure((0, [0]))


# ---------------------------------------------------------------------------
# Key paths
# ---------------------------------------------------------------------------

@FAST
@given(tree_st)
def test_key_paths_match_jax(tree):
    pairs, treedef = P.tree_flatten_with_path(tree)
    jpairs, jtreedef = jtu.tree_flatten_with_path(tree)
    assert [P.keystr(p) for p, _ in pairs] == [jtu.keystr(p) for p, _ in jpairs]
    assert [repr(p) for p, _ in pairs] == [repr(p) for p, _ in jpairs]
    assert [x for _, x in pairs] == [x for _, x in jpairs]
    assert repr(treedef) == repr(jtreedef)
    assert P.tree_leaves_with_path(tree) == pairs
    mapped = P.tree_map_with_path(lambda p, x: P.keystr(p), tree)
    jmapped = jtu.tree_map_with_path(lambda p, x: jtu.keystr(p), tree)
    assert mapped == jmapped


def test_key_entries_print_like_jax():
    pairs = [(P.SequenceKey(0), jtu.SequenceKey(0)), (P.DictKey("a"), jtu.DictKey("a")),
             (P.DictKey(3), jtu.DictKey(3)), (P.GetAttrKey("x"), jtu.GetAttrKey("x")),
             (P.FlattenedIndexKey(2), jtu.FlattenedIndexKey(2))]
    for ours, theirs in pairs:
        assert str(ours) == str(theirs)
        assert repr(ours) == repr(theirs)
        assert hash(ours) == hash(type(ours)(*dataclasses.astuple(ours)))
    path = tuple(p for p, _ in pairs)
    jpath = tuple(j for _, j in pairs)
    assert P.keystr(path) == jtu.keystr(jpath)
    assert P.keystr(path, simple=True, separator="/") == jtu.keystr(
        jpath, simple=True, separator="/")
    assert P.keystr(()) == ""


def test_map_with_path_several_trees_and_is_leaf():
    tree = {"a": (1, None), "b": [2]}
    other = {"a": (10, None), "b": [20]}
    f = lambda p, x, y: (P.keystr(p), x, y)  # noqa: E731
    assert P.tree_map_with_path(f, tree, other) == {
        "a": (("['a'][0]", 1, 10), None), "b": [("['b'][0]", 2, 20)]}
    pairs, _ = P.tree_flatten_with_path(tree, is_leaf=lambda x: x is None)
    jpairs, _ = jtu.tree_flatten_with_path(tree, is_leaf=lambda x: x is None)
    assert [(P.keystr(p), x) for p, x in pairs] == [(jtu.keystr(p), x) for p, x in jpairs]
    pairs, _ = P.tree_flatten_with_path(
        tree, is_leaf=lambda p, x: len(p) == 1, is_leaf_takes_path=True)
    assert [(P.keystr(p), x) for p, x in pairs] == [("['a']", (1, None)), ("['b']", [2])]


# ---------------------------------------------------------------------------
# Registration
# ---------------------------------------------------------------------------

def test_double_registration_is_an_error():
    with pytest.raises(ValueError, match="Duplicate"):
        P.register_pytree_node(Box, _box_flatten, _box_unflatten)
    with pytest.raises(ValueError, match="Duplicate"):
        P.register_pytree_node(tuple, lambda x: (x, None), lambda a, c: tuple(c))


def test_registered_class_aux_and_paths():
    class Node:
        def __init__(self, kids, meta):
            self.kids, self.meta = kids, meta

    P.register_pytree_node(Node, lambda n: (n.kids, n.meta),
                           lambda meta, kids: Node(list(kids), meta))
    tree = Node([1, (2, 3)], meta="m")
    leaves, treedef = P.tree_flatten(tree)
    assert leaves == [1, 2, 3]
    assert repr(treedef) == "PyTreeDef(CustomNode(Node[m], [*, (*, *)]))"
    rebuilt = treedef.unflatten([4, 5, 6])
    assert type(rebuilt) is Node and rebuilt.kids == [4, (5, 6)] and rebuilt.meta == "m"
    assert treedef != P.tree_structure(Node([1, (2, 3)], meta="other"))
    paths = [P.keystr(p) for p, _ in P.tree_flatten_with_path(tree)[0]]
    assert paths == ["[<flat index 0>]", "[<flat index 1>][0]", "[<flat index 1>][1]"]


def test_register_dataclass_forms():
    @P.register_dataclass
    @dataclasses.dataclass
    class Params:
        w: object
        b: object
        act: str = dataclasses.field(default="relu", metadata=dict(static=True))

    p = Params(1, 2, "tanh")
    leaves, treedef = P.tree_flatten(p)
    assert leaves == [1, 2]
    assert repr(treedef) == "PyTreeDef(CustomNode(Params[('tanh',)], [*, *]))"
    assert treedef.unflatten([3, 4]) == Params(3, 4, "tanh")
    assert treedef != P.tree_structure(Params(1, 2, "relu"))
    assert treedef == P.tree_structure(Params(5, 6, "tanh"))
    assert [P.keystr(k) for k, _ in P.tree_flatten_with_path(p)[0]] == [".w", ".b"]
    # Unhashable metadata still gives a hashable treedef (as JAX's), equal by ==.
    unhashable = P.tree_structure(Params(1, 2, ["unhashable"]))
    assert hash(unhashable) == hash(P.tree_structure(Params(3, 4, ["unhashable"])))
    assert unhashable == P.tree_structure(Params(3, 4, ["unhashable"]))
    assert unhashable != P.tree_structure(Params(3, 4, ["other"]))

    # Explicit fields on a plain class.
    class Plain:
        def __init__(self, x, scale):
            self.x, self.scale = x, scale

    P.register_dataclass(Plain, data_fields=["x"], meta_fields=["scale"])
    leaves, treedef = P.tree_flatten(Plain((1, 2), 3.0))
    assert leaves == [1, 2]
    rebuilt = treedef.unflatten([7, 8])
    assert rebuilt.x == (7, 8) and rebuilt.scale == 3.0

    # Decorator factory form and field validation.
    @P.register_dataclass(data_fields=["a"], meta_fields=[])
    @dataclasses.dataclass
    class Only:
        a: object

    assert P.tree_leaves(Only(9)) == [9]
    with pytest.raises(TypeError, match="both"):
        P.register_dataclass(Plain, data_fields=["x"])
    with pytest.raises(TypeError, match="not a dataclass"):
        P.register_dataclass(type("NotDC", (), {}))

    @dataclasses.dataclass
    class Bad:
        a: object
        b: object

    with pytest.raises(ValueError, match="init=True"):
        P.register_dataclass(Bad, data_fields=["a"], meta_fields=[])


def test_register_pytree_node_class():
    @P.register_pytree_node_class
    class Wrapped:
        def __init__(self, v):
            self.v = v

        def tree_flatten(self):
            return (self.v,), None

        @classmethod
        def tree_unflatten(cls, aux, children):
            return cls(*children)

    assert P.tree_map(lambda x: x + 1, Wrapped(1)).v == 2


# ---------------------------------------------------------------------------
# PyTreeDef object behaviour
# ---------------------------------------------------------------------------

def test_treedef_is_read_only_and_hashable():
    t = P.tree_structure((1, {"a": 2}))
    with pytest.raises(AttributeError):
        t.num_leaves = 5
    assert t.num_leaves == 2 and t.num_nodes == 4
    cache = {t: "hit"}
    assert cache[P.tree_structure((3, {"a": 4}))] == "hit"
    assert t != (1, {"a": 2})
    assert t.compose(P.tree_structure([0, 0])) == P.tree_structure(([0, 0], {"a": [0, 0]}))
    assert t.node_data() == (tuple, None)
    assert P.tree_structure({"b": 1, "a": 2}).node_data() == (dict, ("a", "b"))
    assert P.tree_structure(1).node_data() is None
    tricky = P.tree_structure([Pair(1, None), Point(1, 2, "q"),
                              collections.OrderedDict(z=1, y=2), Box(1, 2, "s")])
    assert pickle.loads(pickle.dumps(tricky)) == tricky
    assert copy.deepcopy(tricky) is tricky


# ---------------------------------------------------------------------------
# broadcast_prefix
# ---------------------------------------------------------------------------

def test_broadcast_prefix_basic():
    full = ((1, 2), {"a": 3, "b": None, "c": [4, 5]})
    assert P.broadcast_prefix(0, full) == [0] * 5
    assert P.broadcast_prefix((0, None), full) == [0, 0, None, None, None]
    assert P.broadcast_prefix((0, {"a": 1, "b": 2, "c": None}), full) == \
        [0, 0, 1, None, None]
    assert P.broadcast_prefix(None, None) == []
    # is_leaf marks further prefix subtrees as leaves (None stays a leaf).
    assert P.broadcast_prefix(([0, 1], None), ((1, 2), [3]),
                              is_leaf=lambda x: isinstance(x, list)) == [[0, 1]] * 2 + [None]


@FAST
@given(tree_st, st.data())
def test_broadcast_prefix_matches_jax(full, data):
    # Build a prefix by cutting the full tree at some depth and putting
    # integers or None at the cut points.
    depth = data.draw(st.integers(0, 3))
    counter = iter(range(1000))

    def cut(t, d):
        if d == 0 or P.treedef_is_leaf(P.tree_structure(t)):
            return data.draw(st.sampled_from([None, next(counter)]))
        # Split off just the root node: everything below it counts as a leaf.
        children, root = P.tree_flatten(t, is_leaf=lambda x: x is not t)
        return root.unflatten([cut(c, d - 1) for c in children])

    prefix = cut(full, depth)
    ours = P.broadcast_prefix(prefix, full)
    theirs = jtu_internal.broadcast_prefix(prefix, full, is_leaf=lambda x: x is None)
    assert ours == theirs
    assert len(ours) == len(P.tree_leaves(full))


def test_broadcast_prefix_errors_name_path():
    with pytest.raises(ValueError, match=r"key path \[1\]: Expected list"):
        P.broadcast_prefix((0, [1]), ((1, 2), {"a": 3}))
    with pytest.raises(ValueError, match=r"key path \['x'\]\[0\]: Tuple arity mismatch"):
        P.broadcast_prefix({"x": ((0, 1),)}, {"x": ((1,),)})
    with pytest.raises(ValueError, match="prefix structure"):
        P.broadcast_prefix((0, 1), (1, 2, 3))


# ---------------------------------------------------------------------------
# Public modules, independence from JAX, speed
# ---------------------------------------------------------------------------

def test_public_modules():
    for name in ["map", "leaves", "flatten", "unflatten", "structure", "all", "reduce",
                 "transpose", "map_with_path", "flatten_with_path", "leaves_with_path",
                 "register_pytree_node", "register_dataclass"]:
        assert hasattr(fl_tree, name), name
        assert hasattr(jax.tree, name) or name.startswith("register"), name
    for name in ["tree_map", "tree_flatten", "tree_unflatten", "tree_leaves",
                 "tree_structure", "tree_all", "tree_reduce", "tree_transpose",
                 "register_pytree_node", "register_pytree_with_keys", "register_dataclass",
                 "tree_flatten_with_path", "tree_map_with_path", "tree_leaves_with_path",
                 "keystr", "SequenceKey", "DictKey", "GetAttrKey", "FlattenedIndexKey",
                 "PyTreeDef", "all_leaves", "treedef_children", "treedef_is_leaf"]:
        assert hasattr(fl_tree_util, name), name
        assert hasattr(jtu, name), name
    assert fl_tree.structure((1, 2)) == fl_tree_util.tree_structure((3, 4))
    assert fl_tree.leaves({"b": 1, "a": 2}) == jax.tree.leaves({"b": 1, "a": 2})


def test_flatten_is_fast():
    xs = (np.ones(3), np.ones(3), np.ones(3))
    P.tree_flatten(xs)
    n = 2000
    per_call = min(timeit.repeat(lambda: P.tree_flatten(xs), number=n, repeat=3)) / n
    # A few microseconds normally; the bound is loose so a busy machine won't fail it.
    assert per_call < 50e-6, per_call
