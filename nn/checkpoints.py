"""Saving and restoring pytrees of arrays: ``.npz`` + JSON, atomic, no pickle.

On-disk layout::

    directory/step_<N>/checkpoint.json      save(directory, tree, step=N): one folder a step
    directory/step_<N>/arrays-<token>.npz
    directory/checkpoint.json               save(directory, tree): the directory itself
    directory/arrays-<token>.npz

``checkpoint.json`` holds the format version, the step, the user's metadata, the tree's
structure (dicts, lists, tuples, named tuples by module + qualname, ``None``), and per leaf
its key path, shape, dtype and the sha256 of its bytes, or a Python scalar's value. The
``.npz`` holds the arrays (written by numpy, read with ``allow_pickle=False``); dtypes numpy
cannot store by itself (``bfloat16``, ``float8_*``, ``int4``... from ml_dtypes) are stored
as their raw bits (``uintN``), with the true dtype named in the JSON.

Atomicity: every file is written under a temporary name in its final folder, flushed,
``fsync``-ed and then renamed into place (``os.replace``), and the folder is ``fsync``-ed.
``checkpoint.json`` is the commit point: it names the ``.npz`` it goes with, and that ``.npz``
(a fresh name each save) is complete before the JSON that names it is renamed into place;
an older ``.npz`` is deleted only after. A new step is built in a temporary sibling folder
and renamed to ``step_<N>`` once complete, and an old step is renamed away before it is
deleted, so a ``step_<N>`` folder is always a whole checkpoint. A process killed at any
moment leaves the previous checkpoint readable, and only temporary names behind: they are
ignored by readers and removed by the next ``save``. (One writer per directory at a time.)

Restoring never unpickles and never imports: a named tuple comes back as its class only if
its module is already imported, else as a plain tuple.
"""
from __future__ import annotations

import hashlib
import json
import operator
import os
import re
import shutil
import sys
import uuid
from collections import OrderedDict, defaultdict
from typing import Any

import ml_dtypes
import numpy as np

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite import tree as _tree

__all__ = ["save", "restore", "metadata", "latest_step", "all_steps", "CheckpointError"]

_FORMAT = "functorch_lite.checkpoint"
_VERSION = 1
_JSON = "checkpoint.json"
_TMP = ".tmp-checkpoint-"
_STEP_RE = re.compile(r"step_(0|[1-9][0-9]*)")
_ARRAYS_RE = re.compile(r"arrays-[0-9a-f]{32}\.npz")
_SCALAR_TYPES = (bool, int, float, complex)


class CheckpointError(ValueError):
    """A checkpoint file is truncated, corrupted or not a checkpoint; the message names it."""


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------

def save(directory: str | os.PathLike, tree: Any, step: int | None = None,
         metadata: dict | None = None, keep: int | None = None) -> str:
    """Write ``tree`` (a pytree of arrays and Python scalars) to ``directory``.

    With ``step``, into ``directory/step_<step>/``, then deleting all but the newest ``keep``
    steps (by step number); without, into ``directory`` itself. ``metadata`` is a
    JSON-serialisable dict kept next to the arrays. Returns the checkpoint's folder.

        save("ckpt", {"params": params, "opt_state": opt_state}, step=100, keep=3)
    """
    directory = os.fspath(directory)
    step = _check_step(step)
    if keep is not None:
        if isinstance(keep, bool) or operator.index(keep) < 1:
            raise ValueError(f"save: keep must be a positive int or None, got {keep!r}")
        keep = operator.index(keep)
    meta = _check_metadata(metadata)
    # Everything is checked and converted before the disk is touched, so a refused tree
    # leaves nothing behind.
    structure, records, arrays = _encode_tree(tree)
    doc = {"format": _FORMAT, "version": _VERSION, "step": step, "metadata": meta,
           "tree": structure, "leaves": records}

    os.makedirs(directory, exist_ok=True)
    _clean_folder(directory)
    if step is None:
        _write_checkpoint(directory, doc, arrays)
        return directory
    final = os.path.join(directory, f"step_{step}")
    if os.path.isfile(os.path.join(final, _JSON)):
        # Re-saving a step: in place, where checkpoint.json is the commit point.
        _clean_folder(final)
        _write_checkpoint(final, doc, arrays)
    else:
        if os.path.lexists(final):  # a step_<N> without checkpoint.json is no checkpoint
            _remove(directory, os.path.basename(final))
        tmp = os.path.join(directory, f"{_TMP}{uuid.uuid4().hex}")
        os.mkdir(tmp)
        _write_checkpoint(tmp, doc, arrays)
        os.rename(tmp, final)
        _fsync_dir(directory)
    if keep is not None:
        for old in all_steps(directory)[:-keep]:
            _remove(directory, f"step_{old}")
    return final


def restore(directory: str | os.PathLike, like: Any = None, step: int | None = None) -> Any:
    """Read a checkpoint back: the latest step by default (or the directory's own
    checkpoint when it has no steps).

    Without ``like``, dicts, lists, tuples and named tuples are rebuilt, arrays come back
    as ``functorch_lite`` Arrays (as numpy arrays when the current configuration cannot
    hold their dtype exactly: 64-bit types without ``enable_x64``, ``float8``...), Python
    scalars as the same Python type. With ``like`` (a template pytree, e.g. freshly
    initialised params), the result has ``like``'s structure and node types, each leaf
    is checked against it (a ``ValueError`` lists every missing, unexpected, reshaped or
    retyped leaf), and a numpy leaf in ``like`` gives a numpy leaf.

        params = restore("ckpt", like=model.init(key, x)[0])
    """
    folder = _resolve(directory, step)
    doc = _read_doc(folder)
    records = doc["leaves"]
    if like is None:
        leaves = _load_leaves(folder, doc, {})
        return _decode_tree(doc["tree"], leaves, os.path.join(folder, _JSON))
    pairs, treedef = _tree.flatten_with_path(like)
    wanted = [(fl.tree_util.keystr(path), leaf) for path, leaf in pairs]
    _check_against(wanted, records, os.path.join(folder, _JSON))
    by_path = {r["path"]: i for i, r in enumerate(records)}
    kinds = {by_path[p]: _like_kind(leaf) for p, leaf in wanted}
    leaves = _load_leaves(folder, doc, kinds)
    return treedef.unflatten([leaves[by_path[p]] for p, _ in wanted])


def metadata(directory: str | os.PathLike, step: int | None = None) -> dict:
    """The ``metadata`` dict saved with a checkpoint (``{}`` if none was given)."""
    return _read_doc(_resolve(directory, step))["metadata"]


def all_steps(directory: str | os.PathLike) -> list[int]:
    """The steps with a complete checkpoint in ``directory``, ascending."""
    directory = os.fspath(directory)
    try:
        names = os.listdir(directory)
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(int(m.group(1)) for m in map(_STEP_RE.fullmatch, names)
                  if m and os.path.isfile(os.path.join(directory, m.group(0), _JSON)))


def latest_step(directory: str | os.PathLike) -> int | None:
    """The newest step with a complete checkpoint in ``directory``, or ``None``."""
    steps = all_steps(directory)
    return steps[-1] if steps else None


# ---------------------------------------------------------------------------
# Encoding a tree
# ---------------------------------------------------------------------------

def _check_step(step):
    if step is None:
        return None
    if isinstance(step, bool):
        raise TypeError(f"step must be an int, got {step!r}")
    try:
        step = operator.index(step)
    except TypeError:
        try:  # a 0-d integer Array (e.g. an optimizer's count)
            step = operator.index(np.asarray(step)[()])
        except TypeError:
            raise TypeError(f"step must be an int, got {step!r}") from None
    if step < 0:
        raise ValueError(f"step must be >= 0, got {step}")
    return step


def _check_metadata(metadata):
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise TypeError(f"save: metadata must be a dict, got {type(metadata).__name__}")
    try:
        json.dumps(metadata)
    except (TypeError, ValueError) as e:
        raise TypeError(f"save: metadata must be JSON-serialisable (str keys; dicts, lists, "
                        f"str, int, float, bool, None): {e}") from None
    return metadata


def _is_ml_dtype(dtype: np.dtype) -> bool:
    return dtype.type.__module__.split(".")[0] == "ml_dtypes"


def _array_record(path: str, leaf) -> tuple[dict, np.ndarray]:
    try:
        arr = np.asarray(leaf)
    except Exception as e:
        raise TypeError(f"save: leaf at {path or '<root>'} ({type(leaf).__name__}) cannot "
                        f"be converted to an array: {e}") from e
    dtype = arr.dtype
    if dtype.hasobject:
        raise TypeError(f"save: leaf at {path or '<root>'} is an object array; checkpoints "
                        "hold numeric arrays only (object arrays would need pickle)")
    if _is_ml_dtype(dtype):
        # numpy writes these as opaque void and reads them back as void: keep the bits.
        stored = _c_order(arr).view(np.dtype(f"u{dtype.itemsize}"))
    elif dtype.kind in "biufcmMSU":
        stored = _c_order(arr)
    else:
        raise TypeError(f"save: leaf at {path or '<root>'} has unsupported dtype {dtype}")
    rec = {"path": path, "kind": "array", "shape": list(arr.shape), "dtype": dtype.name,
           "stored_dtype": stored.dtype.str, "sha256": _sha256(stored)}
    return rec, stored


def _c_order(a: np.ndarray) -> np.ndarray:
    # Not np.ascontiguousarray: it turns a 0-d array into a 1-d one.
    return a if a.flags.c_contiguous else a.copy(order="C")


def _sha256(a: np.ndarray) -> str:
    return hashlib.sha256(_c_order(a)).hexdigest()


def _scalar_record(path: str, x) -> dict:
    kind = type(x).__name__
    if kind == "float":
        value = x.hex()  # exact, and plain JSON even for inf/nan
    elif kind == "complex":
        value = [x.real.hex(), x.imag.hex()]
    else:
        value = x
    return {"path": path, "kind": "scalar", "type": kind, "value": value}


def _qualname(t: type) -> tuple[str, str]:
    return t.__module__, t.__qualname__


def _encode_tree(tree):
    """(structure, leaf records, {npz name: stored array}); the structure refers to leaves
    by index, and leaf paths are ``keystr`` of ``tree.flatten_with_path``'s key paths."""
    records: list[dict] = []
    arrays: dict[str, np.ndarray] = {}

    def leaf(path, x):
        if type(x) in _SCALAR_TYPES:
            records.append(_scalar_record(path, x))
        elif isinstance(x, (fl.Array, np.ndarray, np.generic)) or hasattr(x, "__array__"):
            rec, stored = _array_record(path, x)
            rec["name"] = f"a{len(arrays)}"
            arrays[rec["name"]] = stored
            records.append(rec)
        else:
            raise TypeError(f"save: leaf at {path or '<root>'} is a {type(x).__name__}; "
                            "leaves must be arrays or Python bool/int/float/complex")
        return {"type": "leaf", "index": len(records) - 1}

    def encode(path, x):
        if x is None:
            return {"type": "none"}
        # One level of tree.flatten_with_path gives the children with the keys (and the
        # order) every functorch_lite transformation uses.
        kids = _tree.flatten_with_path(x, is_leaf=lambda y: y is not x)[0]
        if len(kids) == 1 and kids[0][0] == () and kids[0][1] is x:
            return leaf(path, x)
        t = type(x)
        keys = [k[0] for k, _ in kids]
        children = [encode(path + fl.tree_util.keystr(k), c) for k, c in kids]
        if t in (dict, OrderedDict, defaultdict):
            bad = [k.key for k in keys if not isinstance(k.key, str)]
            if bad:
                raise TypeError(f"save: dict at {path or '<root>'} has non-str key {bad[0]!r}")
            return {"type": "ordereddict" if t is OrderedDict else "dict",
                    "keys": [k.key for k in keys], "children": children}
        if t is list or t is tuple:
            return {"type": t.__name__, "children": children}
        module, qualname = _qualname(t)
        if issubclass(t, tuple) and hasattr(t, "_fields"):
            return {"type": "namedtuple", "module": module, "qualname": qualname,
                    "fields": list(t._fields), "children": children}
        # Another registered pytree node: restorable with ``like=`` only.
        return {"type": "custom", "module": module, "qualname": qualname,
                "keys": [str(k) for k in keys], "children": children}

    return encode("", tree), records, arrays


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------

def _fsync_dir(folder: str) -> None:
    # Makes the renames durable; not possible on every OS (Windows), where it is skipped.
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_file(folder: str, name: str, write) -> None:
    """Atomically create ``folder/name`` with ``write(file)``: temp name, fsync, rename."""
    tmp = os.path.join(folder, f"{_TMP}{uuid.uuid4().hex}")
    try:
        with open(tmp, "xb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, os.path.join(folder, name))
    except BaseException:
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(folder)


def _write_checkpoint(folder: str, doc: dict, arrays: dict) -> None:
    name = f"arrays-{uuid.uuid4().hex}.npz"
    _write_file(folder, name, lambda f: np.savez(f, **arrays))
    doc = dict(doc, arrays_file=name)
    text = json.dumps(doc, indent=1)
    _write_file(folder, _JSON, lambda f: f.write(text.encode("utf-8")))
    _clean_folder(folder)


def _referenced_arrays(folder: str) -> str | None:
    """The ``.npz`` the folder's ``checkpoint.json`` names ("" if there is no JSON; None if
    it cannot be read, in which case nothing should be deleted)."""
    try:
        with open(os.path.join(folder, _JSON), "rb") as f:
            return str(json.loads(f.read())["arrays_file"])
    except FileNotFoundError:
        return ""
    except Exception:
        return None


def _clean_folder(folder: str) -> None:
    """Remove what an interrupted save left (temporary names) and ``.npz`` files the
    folder's ``checkpoint.json`` no longer names."""
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return
    current = _referenced_arrays(folder) if any(map(_ARRAYS_RE.fullmatch, names)) else None
    for name in names:
        if name.startswith(_TMP) or (current is not None and name != current
                                     and _ARRAYS_RE.fullmatch(name)):
            _remove(folder, name, rename_first=False)


def _remove(folder: str, name: str, rename_first: bool = True) -> None:
    """Delete ``folder/name``; a checkpoint is first renamed to a temporary name so that an
    interrupted deletion never leaves a half-deleted ``step_<N>`` behind."""
    path = os.path.join(folder, name)
    if rename_first:
        tmp = os.path.join(folder, f"{_TMP}{uuid.uuid4().hex}")
        os.rename(path, tmp)
        _fsync_dir(folder)
        path = tmp
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            os.remove(path)
        except OSError:
            pass


# ---------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------

def _resolve(directory, step) -> str:
    directory = os.fspath(directory)
    if step is not None:
        step = _check_step(step)
        folder = os.path.join(directory, f"step_{step}")
        if not os.path.isfile(os.path.join(folder, _JSON)):
            raise FileNotFoundError(f"no checkpoint for step {step} in {directory!r} "
                                    f"(steps there: {all_steps(directory)})")
        return folder
    latest = latest_step(directory)
    if latest is not None:
        return os.path.join(directory, f"step_{latest}")
    if os.path.isfile(os.path.join(directory, _JSON)):
        return directory
    raise FileNotFoundError(f"no checkpoint in {directory!r}")


def _read_doc(folder: str) -> dict:
    path = os.path.join(folder, _JSON)
    with open(path, "rb") as f:
        raw = f.read()
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path}: not valid JSON ({e}); the file is truncated or "
                              "corrupted") from None
    if not isinstance(doc, dict) or doc.get("format") != _FORMAT:
        raise CheckpointError(f"{path}: not a functorch_lite checkpoint")
    if doc.get("version") != _VERSION:
        raise CheckpointError(f"{path}: checkpoint format version {doc.get('version')!r} "
                              f"is not supported (this library reads version {_VERSION})")
    ok = (isinstance(doc.get("leaves"), list) and isinstance(doc.get("tree"), dict)
          and isinstance(doc.get("metadata"), dict)
          and isinstance(doc.get("arrays_file"), str)
          and _ARRAYS_RE.fullmatch(doc["arrays_file"])
          and all(map(_record_ok, doc["leaves"])))
    if not ok:
        raise CheckpointError(f"{path}: malformed checkpoint description")
    return doc


def _record_ok(r) -> bool:
    if not (isinstance(r, dict) and isinstance(r.get("path"), str)):
        return False
    if r.get("kind") == "scalar":
        return r.get("type") in ("bool", "int", "float", "complex") and "value" in r
    return (r.get("kind") == "array" and isinstance(r.get("shape"), list)
            and all(type(n) is int and n >= 0 for n in r["shape"])
            and all(isinstance(r.get(k), str)
                    for k in ("dtype", "stored_dtype", "sha256", "name")))


def _true_dtype(rec: dict, where: str) -> np.dtype:
    name = rec["dtype"]
    stored = np.dtype(rec["stored_dtype"])
    if stored.name == name:
        return stored  # numpy's own dtype (byte order included)
    t = getattr(ml_dtypes, name, None) if name.isidentifier() else None
    if not (isinstance(t, type) and issubclass(t, np.generic)):
        raise CheckpointError(f"{where}: unknown dtype {name!r}")
    dtype = np.dtype(t)
    if dtype.itemsize != stored.itemsize:
        raise CheckpointError(f"{where}: dtype {name} stored as {stored}: sizes differ")
    return dtype


def _load_leaves(folder: str, doc: dict, kinds: dict) -> list:
    """Every leaf of the checkpoint, each array checked against its shape, dtype and
    checksum; ``kinds[i]`` ("numpy"/"fl") says how to return leaf ``i``."""
    path = os.path.join(folder, doc["arrays_file"])
    jpath = os.path.join(folder, _JSON)
    records = doc["leaves"]
    out: list[Any] = [None] * len(records)
    try:
        stored = {}
        with np.load(path, allow_pickle=False) as z:
            names = set(z.files)
            for i, rec in enumerate(records):
                if rec["kind"] == "array":
                    if rec.get("name") not in names:
                        raise CheckpointError(f"{path}: has no array {rec.get('name')!r} "
                                              f"(leaf {rec['path']}); the file is corrupted")
                    stored[i] = z[rec["name"]]
    except CheckpointError:
        raise
    except FileNotFoundError:
        raise CheckpointError(f"{path}: missing ({jpath} refers to it)") from None
    except Exception as e:  # zipfile.BadZipFile, EOFError, ValueError, OSError...
        raise CheckpointError(f"{path}: cannot be read ({type(e).__name__}: {e}); the file "
                              "is truncated or corrupted") from e

    fits: dict[np.dtype, bool] = {}
    for i, rec in enumerate(records):
        where = f"{path} (leaf {rec['path'] or '<root>'})"
        try:
            if rec["kind"] == "scalar":
                out[i] = _decode_scalar(rec)
                continue
            a = stored[i]
            if a.dtype != np.dtype(rec["stored_dtype"]) or list(a.shape) != rec["shape"]:
                raise CheckpointError(f"{where}: holds {a.dtype}{list(a.shape)}, the JSON "
                                      f"says {rec['stored_dtype']}{rec['shape']}; corrupted")
            if _sha256(a) != rec["sha256"]:
                raise CheckpointError(f"{where}: checksum mismatch; the file is corrupted")
            dtype = _true_dtype(rec, where)
            a = a.view(dtype) if dtype != a.dtype else a
        except CheckpointError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as e:
            raise CheckpointError(f"{jpath}: malformed record for leaf "
                                  f"{rec.get('path')!r} ({type(e).__name__}: {e})") from None
        kind = kinds.get(i, "fl")
        if kind == "numpy":
            out[i] = a
        elif kind == "numpy_scalar":
            out[i] = a[()]
        else:
            if a.dtype not in fits:
                fits[a.dtype] = _fits_fl(a.dtype)
            out[i] = fnp.asarray(a) if fits[a.dtype] else a
    return out


def _fits_fl(dtype: np.dtype) -> bool:
    """Whether a functorch_lite Array holds ``dtype`` exactly under the current config."""
    try:
        return fnp.asarray(np.zeros((), dtype)).dtype == dtype
    except (TypeError, ValueError):
        return False


def _decode_scalar(rec: dict):
    t, v = rec["type"], rec["value"]
    if t == "float":
        return float.fromhex(v)
    if t == "complex":
        return complex(float.fromhex(v[0]), float.fromhex(v[1]))
    if t == "bool" and isinstance(v, bool):
        return v
    if t == "int" and type(v) is int:
        return v
    raise ValueError(f"bad scalar {t} {v!r}")


def _find_namedtuple(module: str, qualname: str, fields: list):
    # Only modules already imported: a checkpoint must not make code run.
    obj = sys.modules.get(module)
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
    if (isinstance(obj, type) and issubclass(obj, tuple)
            and list(getattr(obj, "_fields", ())) == list(fields)):
        return obj
    return None


def _decode_tree(node: dict, leaves: list, where: str):
    try:
        t = node["type"]
        if t == "none":
            return None
        if t == "leaf":
            return leaves[node["index"]]
        kids = [_decode_tree(c, leaves, where) for c in node["children"]]
        if t in ("dict", "ordereddict"):
            return (OrderedDict if t == "ordereddict" else dict)(zip(node["keys"], kids))
        if t == "list":
            return kids
        if t == "tuple":
            return tuple(kids)
        if t == "namedtuple":
            cls = _find_namedtuple(node["module"], node["qualname"], node["fields"])
            return cls(*kids) if cls is not None else tuple(kids)
        if t == "custom":
            raise ValueError(f"{where}: the checkpoint holds a {node['module']}."
                             f"{node['qualname']} node, which only restore(..., like=...) "
                             "can rebuild; pass a template tree as like=")
    except ValueError:
        raise
    except (KeyError, TypeError, IndexError) as e:
        raise CheckpointError(f"{where}: malformed tree description "
                              f"({type(e).__name__}: {e})") from None
    raise CheckpointError(f"{where}: malformed tree description (node type {t!r})")


# ---------------------------------------------------------------------------
# Checking against a template
# ---------------------------------------------------------------------------

def _like_kind(leaf) -> str:
    if isinstance(leaf, np.ndarray):
        return "numpy"
    if isinstance(leaf, np.generic):
        return "numpy_scalar"
    return "fl"


def _describe_record(rec: dict) -> tuple[str, tuple | None]:
    """(dtype or Python type name, shape or None) of a checkpoint leaf."""
    if rec["kind"] == "scalar":
        return f"Python {rec['type']}", None
    return rec["dtype"], tuple(rec["shape"])


def _describe_like(leaf) -> tuple[str, tuple | None]:
    if type(leaf) in _SCALAR_TYPES:
        return f"Python {type(leaf).__name__}", None
    if hasattr(leaf, "shape") and hasattr(leaf, "dtype"):
        return np.dtype(leaf.dtype).name, tuple(leaf.shape)
    try:
        a = np.asarray(leaf)
    except Exception:
        return type(leaf).__name__, None
    return a.dtype.name, a.shape


def _check_against(wanted: list, records: list, where: str) -> None:
    saved = {r["path"]: r for r in records}
    like_paths = {p for p, _ in wanted}
    problems = []
    for p, leaf in wanted:
        show = p or "<root>"
        if p not in saved:
            problems.append(f"missing in checkpoint: {show}")
            continue
        (sd, ss), (ld, ls) = _describe_record(saved[p]), _describe_like(leaf)
        if ss != ls and ss is not None and ls is not None:
            problems.append(f"shape mismatch at {show}: checkpoint {ss}, template {ls}")
        if sd != ld:
            problems.append(f"dtype mismatch at {show}: checkpoint {sd}, template {ld}")
    problems += [f"unexpected in checkpoint: {r['path'] or '<root>'}"
                 for r in records if r["path"] not in like_paths]
    if problems:
        raise ValueError(f"{where} does not match the template ({len(problems)} "
                         "difference(s)):\n  " + "\n  ".join(problems))
