"""``functorch_lite.tree_util``: the pytree utilities under ``jax.tree_util``'s names.

Everything here is re-exported from :mod:`functorch_lite.core.pytree`.
"""
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

__all__ = [
    "PyTreeDef", "SequenceKey", "DictKey", "GetAttrKey", "FlattenedIndexKey", "keystr",
    "register_pytree_node", "register_pytree_with_keys", "register_pytree_node_class",
    "register_dataclass", "tree_flatten", "tree_unflatten", "tree_leaves",
    "tree_structure", "tree_map", "tree_all", "tree_reduce", "tree_transpose",
    "tree_flatten_with_path", "tree_leaves_with_path", "tree_map_with_path",
    "all_leaves", "treedef_children", "treedef_is_leaf", "treedef_tuple",
]
