"""The bytes of an ``Exported`` (``Exported.serialize`` / ``deserialize``), our own format:

    b"functorch_lite.Exported\\n"      magic
    8 bytes                           length of the header, big-endian
    header                            JSON (UTF-8): the fields, trees and types
    32 bytes                          SHA-256 of header + blobs
    blobs                             the StableHLO portable artifacts, one after another

The header of an Exported holds its VJP's header (``"vjp"``), and so on for
``vjp_order`` levels; each names its module by index into the blobs. Nothing is
unpickled: trees are JSON, and a tree node other than None, tuple, list and dict with
string keys is written only if its type was registered with
``register_pytree_node_serialization`` (or ``register_namedtuple_serialization``).
"""
from __future__ import annotations

import base64
import hashlib
import json
from typing import Any, Callable

import ml_dtypes
import numpy as np

from functorch_lite.core import dtypes, pytree
from functorch_lite.core.avals import ShapedArray

MAGIC = b"functorch_lite.Exported\n"
FORMAT_VERSION = 1

# type -> (name, serialize_auxdata); name -> (type, deserialize_auxdata, from_children)
_by_type: dict[type, tuple[str, Callable]] = {}
_by_name: dict[str, tuple[type, Callable, Callable]] = {}


def register_pytree_node_serialization(nodetype: type, *, serialized_name: str,
                                       serialize_auxdata: Callable[[Any], bytes],
                                       deserialize_auxdata: Callable[[bytes], Any],
                                       from_children: Callable | None = None) -> type:
    """Let trees holding ``nodetype`` (a registered pytree node) be serialized, under
    ``serialized_name``; ``serialize_auxdata(aux) -> bytes`` and ``deserialize_auxdata``
    convert its node metadata; ``from_children(aux, children)`` rebuilds a node (default:
    the node's own unflatten). Returns ``nodetype``, so it works as a class decorator."""
    if nodetype in _by_type:
        raise ValueError(f"Duplicate serialization registration for type `{nodetype}`. "
                         f"Previous registration was with serialized_name "
                         f"`{_by_type[nodetype][0]}`.")
    if serialized_name in _by_name:
        raise ValueError(f"Duplicate serialization registration for serialized_name "
                         f"`{serialized_name}`. Previous registration was for type "
                         f"`{_by_name[serialized_name][0]}`.")
    if from_children is None:
        handler = pytree._handler_for(nodetype)
        if handler is None:
            raise ValueError(f"If `from_children` is not present, you must call first "
                             f"`tree_util.register_pytree_node` for `{nodetype}`")
        from_children = handler.unflatten
    _by_type[nodetype] = (serialized_name, serialize_auxdata)
    _by_name[serialized_name] = (nodetype, deserialize_auxdata, from_children)
    return nodetype


def register_namedtuple_serialization(nodetype: type, *, serialized_name: str) -> type:
    """Let trees holding the named tuple class ``nodetype`` be serialized, under
    ``serialized_name``. Returns ``nodetype`` (a class decorator too)."""
    if not (isinstance(nodetype, type) and issubclass(nodetype, tuple)
            and hasattr(nodetype, "_fields")):
        raise ValueError("Use `register_pytree_node_serialization` for types other than "
                         f"namedtuple, got {nodetype}.")
    return register_pytree_node_serialization(
        nodetype, serialized_name=serialized_name,
        serialize_auxdata=lambda aux: b"", deserialize_auxdata=lambda b: None,
        from_children=lambda aux, children: nodetype(*children))


# -- trees -----------------------------------------------------------------------------------
def tree_to_json(tree) -> Any:
    data = tree.node_data()
    kids = [tree_to_json(c) for c in tree.children()]
    if data is None:
        return "*"
    node_type, aux = data
    if node_type is type(None):
        return None
    if node_type is tuple:
        return {"tuple": kids}
    if node_type is list:
        return {"list": kids}
    if node_type is dict:
        for k in aux:
            if not isinstance(k, str):
                raise TypeError("Serialization is supported only for dictionaries with "
                                f"string keys. Found key {k!r} of type {type(k)}.")
        return {"dict": dict(zip(aux, kids))}
    if node_type in _by_type:
        name, serialize_aux = _by_type[node_type]
        aux_bytes = serialize_aux(aux)
        if not isinstance(aux_bytes, (bytes, bytearray)):
            raise ValueError(f"The custom serialization function for `{node_type}` must "
                             f"return a `bytes` object. It returned a {type(aux_bytes)}.")
        return {"custom": name, "aux": base64.b64encode(bytes(aux_bytes)).decode("ascii"),
                "children": kids}
    raise ValueError(f"Cannot serialize PyTreeDef containing an unregistered type "
                     f"`{node_type}`. Use `fl.export.register_pytree_node_serialization` "
                     "or `fl.export.register_namedtuple_serialization`.")


def tree_from_json(data: Any):
    """The treedef ``tree_to_json`` wrote (built from a value of that structure)."""
    return pytree.tree_structure(_skeleton(data), is_leaf=lambda x: x is _LEAF)


_LEAF = object()


def _skeleton(data: Any) -> Any:
    if data == "*":
        return _LEAF
    if data is None:
        return None
    if "tuple" in data:
        return tuple(_skeleton(c) for c in data["tuple"])
    if "list" in data:
        return [_skeleton(c) for c in data["list"]]
    if "dict" in data:
        return {k: _skeleton(c) for k, c in data["dict"].items()}
    name = data["custom"]
    if name not in _by_name:
        raise ValueError(f"Cannot deserialize a PyTreeDef with the custom node "
                         f"`{name}`: register its type with "
                         "`fl.export.register_pytree_node_serialization` first")
    _, deserialize_aux, from_children = _by_name[name]
    aux = deserialize_aux(base64.b64decode(data["aux"]))
    return from_children(aux, [_skeleton(c) for c in data["children"]])


# -- types -----------------------------------------------------------------------------------
def _aval_to_json(a: ShapedArray) -> dict:
    name = "float0" if a.dtype == dtypes.float0 else a.dtype.name
    return {"shape": list(a.shape), "dtype": name, "weak_type": bool(a.weak_type)}


def _dtype_named(name: str) -> np.dtype:
    if name == "float0":
        return dtypes.float0
    extra = getattr(ml_dtypes, name, None) if name.isidentifier() else None
    try:
        return np.dtype(extra if extra is not None else name)
    except TypeError:
        raise ValueError(f"unknown dtype {name!r} in a serialized Exported") from None


def _aval_from_json(d: dict) -> ShapedArray:
    return ShapedArray(tuple(int(n) for n in d["shape"]), _dtype_named(d["dtype"]),
                       bool(d["weak_type"]))


# -- Exported <-> bytes ----------------------------------------------------------------------
def serialize(exported, vjp_order: int = 0) -> bytearray:
    if not isinstance(vjp_order, int) or vjp_order < 0:
        raise ValueError(f"vjp_order must be a non-negative int, got {vjp_order!r}")
    blobs: list[bytes] = []
    header = {"format": FORMAT_VERSION, "exported": _header(exported, vjp_order, blobs),
              "blobs": [len(b) for b in blobs]}
    head = json.dumps(header, separators=(",", ":")).encode()
    body = b"".join(blobs)
    digest = hashlib.sha256(head + body).digest()
    return bytearray(MAGIC + len(head).to_bytes(8, "big") + head + digest + body)


def _header(exp, vjp_order: int, blobs: list) -> dict:
    module = len(blobs)
    blobs.append(bytes(exp.mlir_module_serialized))
    vjp = None
    if vjp_order > 0:
        if not exp.has_vjp():
            raise ValueError("serialization of an Exported that does not have vjps of "
                             f"high-enough order: {exp.fun_name!r} has none")
        vjp = _header(exp.vjp(), vjp_order - 1, blobs)
    return {
        "fun_name": exp.fun_name,
        "in_tree": tree_to_json(exp.in_tree),
        "out_tree": tree_to_json(exp.out_tree),
        "in_avals": [_aval_to_json(a) for a in exp.in_avals],
        "out_avals": [_aval_to_json(a) for a in exp.out_avals],
        "platforms": list(exp.platforms),
        "nr_devices": exp.nr_devices,
        "calling_convention_version": exp.calling_convention_version,
        "module_kept_var_idx": list(exp.module_kept_var_idx),
        "module": module,
        "vjp": vjp,
    }


def deserialize(blob: bytes | bytearray, make: Callable[..., Any]):
    """The Exported in ``blob``; ``make(**fields, vjp=...)`` builds one from its fields."""
    blob = bytes(blob)
    if not blob.startswith(MAGIC):
        raise ValueError("not a serialized functorch_lite Exported (it does not start with "
                         f"{MAGIC!r})")
    at = len(MAGIC)
    n = int.from_bytes(blob[at:at + 8], "big")
    head, digest = blob[at + 8:at + 8 + n], blob[at + 8 + n:at + 40 + n]
    body = blob[at + 40 + n:]
    if len(head) != n or len(digest) != 32 or hashlib.sha256(head + body).digest() != digest:
        raise ValueError("the serialized Exported is truncated or corrupted (its checksum "
                         "does not match)")
    header = json.loads(head)
    if header.get("format") != FORMAT_VERSION:
        raise ValueError(f"serialized Exported of format {header.get('format')!r}; this "
                         f"version reads format {FORMAT_VERSION}")
    offsets = np.concatenate([[0], np.cumsum(header["blobs"])]).astype(int)
    blobs = [body[offsets[i]:offsets[i + 1]] for i in range(len(header["blobs"]))]
    return _build(header["exported"], blobs, make)


def _build(h: dict, blobs: list, make: Callable[..., Any]):
    vjp = _build(h["vjp"], blobs, make) if h["vjp"] is not None else None
    return make(fun_name=h["fun_name"], in_tree=tree_from_json(h["in_tree"]),
                out_tree=tree_from_json(h["out_tree"]),
                in_avals=tuple(_aval_from_json(a) for a in h["in_avals"]),
                out_avals=tuple(_aval_from_json(a) for a in h["out_avals"]),
                platforms=tuple(h["platforms"]), nr_devices=int(h["nr_devices"]),
                calling_convention_version=int(h["calling_convention_version"]),
                module_kept_var_idx=tuple(h["module_kept_var_idx"]),
                mlir_module_serialized=blobs[h["module"]], vjp=vjp)
