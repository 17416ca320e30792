"""``functorch_lite.tree_util``: the pytree utilities under ``jax.tree_util``'s names.

Everything here is re-exported from :mod:`functorch_lite.core.pytree`, except ``Partial``.
"""
import functools as _functools

from functorch_lite.core import pytree as _pytree

PyTreeDef = _pytree.PyTreeDef
SequenceKey = _pytree.SequenceKey
DictKey = _pytree.DictKey
GetAttrKey = _pytree.GetAttrKey
FlattenedIndexKey = _pytree.FlattenedIndexKey
keystr = _pytree.keystr

register_pytree_node = _pytree.register_pytree_node
register_pytree_with_keys = _pytree.register_pytree_with_keys
register_pytree_node_class = _pytree.register_pytree_node_class
register_dataclass = _pytree.register_dataclass

tree_flatten = _pytree.tree_flatten
tree_unflatten = _pytree.tree_unflatten
tree_leaves = _pytree.tree_leaves
tree_structure = _pytree.tree_structure
tree_map = _pytree.tree_map
tree_all = _pytree.tree_all
tree_reduce = _pytree.tree_reduce
tree_transpose = _pytree.tree_transpose
tree_flatten_with_path = _pytree.tree_flatten_with_path
tree_leaves_with_path = _pytree.tree_leaves_with_path
tree_map_with_path = _pytree.tree_map_with_path

all_leaves = _pytree.all_leaves
treedef_children = _pytree.treedef_children
treedef_is_leaf = _pytree.treedef_is_leaf
treedef_tuple = _pytree.treedef_tuple


class _OpaqueCallable:
    """A callable standing for a ``functools.partial`` given to ``Partial``: calls, hashes
    and compares as the wrapped partial, but is not one, so ``functools.partial`` does not
    merge its bound arguments into the new ``Partial`` (they would become leaves)."""

    def __init__(self, fun):
        self.fun = fun
        # Read like a partial, for code that inspects ``Partial(...).func``.
        self.func, self.args, self.keywords = fun.func, fun.args, fun.keywords

    def __call__(self, *args, **kwargs):
        return self.fun(*args, **kwargs)

    def __hash__(self):
        return hash(self.fun)

    def __eq__(self, other):
        return self.fun == (other.fun if isinstance(other, _OpaqueCallable) else other)

    def __repr__(self):
        return f"_OpaqueCallable({self.fun!r})"


class Partial(_functools.partial):
    """``functools.partial`` as a pytree: the bound arguments (positional and keyword) are
    its children, so arrays among them are traced, batched, and may cross a ``jit``
    boundary or a ``lax.scan`` carry; the function itself is static (part of the tree
    structure, compared with ``==``). ``vjp`` and ``linearize`` return their functions as
    ``Partial`` objects over their residuals.

    >>> add_one = Partial(fnp.add, 1)
    >>> jit(lambda f, x: f(x))(add_one, 2)
    Array(3, dtype=int32, weak_type=True)
    """

    def __new__(cls, func, *args, **kwargs):
        if isinstance(func, _functools.partial):
            func = _OpaqueCallable(func)
        return super().__new__(cls, func, *args, **kwargs)


_pytree.register_pytree_node(
    Partial,
    lambda p: ((p.args, p.keywords), p.func),
    lambda func, children: Partial(func, *children[0], **children[1]))


__all__ = [
    "PyTreeDef", "SequenceKey", "DictKey", "GetAttrKey", "FlattenedIndexKey", "keystr",
    "register_pytree_node", "register_pytree_with_keys", "register_pytree_node_class",
    "register_dataclass", "tree_flatten", "tree_unflatten", "tree_leaves",
    "tree_structure", "tree_map", "tree_all", "tree_reduce", "tree_transpose",
    "tree_flatten_with_path", "tree_leaves_with_path", "tree_map_with_path",
    "all_leaves", "treedef_children", "treedef_is_leaf", "treedef_tuple", "Partial",
]
