"""``functorch_lite.tree``: the pytree utilities under the short names of ``jax.tree``.

``tree.map(f, t)`` is ``tree_util.tree_map(f, t)``, and so on; see
:mod:`functorch_lite.core.pytree` for the semantics.
"""
from functorch_lite.core import pytree as _pytree

map = _pytree.tree_map  # noqa: A001 - the name jax.tree uses
leaves = _pytree.tree_leaves
flatten = _pytree.tree_flatten
unflatten = _pytree.tree_unflatten
structure = _pytree.tree_structure
all = _pytree.tree_all  # noqa: A001
reduce = _pytree.tree_reduce
transpose = _pytree.tree_transpose
map_with_path = _pytree.tree_map_with_path
flatten_with_path = _pytree.tree_flatten_with_path
leaves_with_path = _pytree.tree_leaves_with_path
register_pytree_node = _pytree.register_pytree_node
register_dataclass = _pytree.register_dataclass

__all__ = [
    "map", "leaves", "flatten", "unflatten", "structure", "all", "reduce",
    "transpose", "map_with_path", "flatten_with_path", "leaves_with_path",
    "register_pytree_node", "register_dataclass",
]
