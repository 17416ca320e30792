"""Shardings in XLA's terms, both of them:

* in a module, Shardy's: the mesh declared once (``sdy.mesh @mesh = <["data"=4, "model"=2]>``)
  and per value ``#sdy.sharding<@mesh, [{"data"}, {}]>``, which is a ``PartitionSpec``
  spelled out (XLA's Shardy partitioner reads these);
* for the runtime (laying buffers out, what XLA reports it chose), XLA's tiled sharding
  text: a program over a mesh has one partition per device, numbered in the mesh's
  row-major order (``Mesh.flat_devices``), and a tiled sharding lists the partition holding
  each tile (``{devices=[4,1]0,1,2,3}``), with a trailing dimension of replicas when some
  mesh axes do not split the array (``last_tile_dim_replicate``).
"""
from __future__ import annotations

import itertools
from typing import Any, Sequence

from functorch_lite.core.sharding import Mesh, NamedSharding, PartitionSpec, Sharding
from xla_bridge import _jaxlib


def hlo_sharding(sharding: Sharding | None, ndim: int) -> str:
    """XLA's tiled sharding text of ``sharding`` for a rank-``ndim`` array (None or a
    single-device sharding: replicated), as the runtime lays buffers out by it."""
    if isinstance(sharding, HloSharding):
        return sharding.text
    if not isinstance(sharding, NamedSharding):
        return "{replicated}"
    tile_dims, positions, replicated_last = sharding.tile_assignment(ndim)
    if all(t == 1 for t in tile_dims):
        return "{replicated}"
    dims = list(tile_dims) + ([positions.shape[-1]] if replicated_last else [])
    text = "{devices=[" + ",".join(map(str, dims)) + "]" + ",".join(map(str, positions.flat))
    return text + (" last_tile_dim_replicate}" if replicated_last else "}")


def sdy_mesh(mesh: Mesh) -> str:
    """The module-level declaration of ``mesh`` as ``@mesh`` (partition i is
    ``mesh.flat_devices[i]``, so the device order is the default one)."""
    axes = ", ".join(f'"{n}"={s}' for n, s in mesh.shape.items())
    return f"sdy.mesh @mesh = <[{axes}]>"


def sdy_sharding(sharding: Sharding | None, ndim: int) -> str:
    """``#sdy.sharding<@mesh, [...]>`` for a rank-``ndim`` value (None or one device:
    replicated)."""
    if isinstance(sharding, HloSharding):
        raise ValueError(f"a layout XLA chose ({sharding.text}) cannot be requested again; "
                         "device_put the array with a NamedSharding first")
    spec = sharding.spec if isinstance(sharding, NamedSharding) else PartitionSpec()
    return "#sdy.sharding" + sdy_tensor_sharding(spec, ndim)


def sdy_tensor_sharding(spec: PartitionSpec, ndim: int) -> str:
    """``<@mesh, [{"data"}, {}]>``: ``spec`` for a rank-``ndim`` value, as Shardy writes
    it inside lists of shardings."""
    dims = ["{" + ", ".join(f'"{a}"' for a in spec.axes_of(d)) + "}" for d in range(ndim)]
    return f"<@mesh, [{', '.join(dims)}]>"


def mesh_of(shardings: Sequence[Any], what: str = "computation") -> Mesh | None:
    """The one mesh the ``NamedSharding``s among ``shardings`` share (None when there are
    none); ValueError naming both when they differ."""
    mesh = None
    for s in shardings:
        if isinstance(s, (NamedSharding, HloSharding)):
            if mesh is None:
                mesh = s.mesh
            elif s.mesh != mesh:
                raise ValueError(f"{what}: its arrays are sharded over different meshes, "
                                 f"{mesh} (devices {mesh.device_ids.ravel().tolist()}) and "
                                 f"{s.mesh} (devices {s.mesh.device_ids.ravel().tolist()}); "
                                 "device_put them onto one mesh first")
    return mesh


def named_from_hlo(text: str, mesh: Mesh, ndim: int) -> Sharding:
    """The ``NamedSharding`` over ``mesh`` whose XLA sharding is ``text`` (what XLA chose for
    an output), or an ``HloSharding`` wrapper when no spec over ``mesh`` says it."""
    if _jaxlib.same_sharding(text, "{replicated}"):
        return NamedSharding(mesh, PartitionSpec())
    tiles = _jaxlib.sharding_tile_dims(text, ndim)
    if tiles is not None:
        for spec in _specs_with_tiles(mesh, tiles):
            candidate = NamedSharding(mesh, spec)
            if _jaxlib.same_sharding(hlo_sharding(candidate, ndim), text):
                return candidate
    return HloSharding(text, mesh)


def _specs_with_tiles(mesh: Mesh, tiles: Sequence[int]):
    """Every spec splitting dimension d over mesh axes whose sizes multiply to tiles[d]."""
    names = [n for n in mesh.axis_names if mesh.shape[n] > 1]
    per_dim = []
    for t in tiles:
        options = []
        for r in range(len(names) + 1):
            for combo in itertools.permutations(names, r):
                size = 1
                for n in combo:
                    size *= mesh.shape[n]
                if size == t:
                    options.append(combo)
        per_dim.append(options)
    for choice in itertools.product(*per_dim):
        used = [n for combo in choice for n in combo]
        if len(used) == len(set(used)):
            yield PartitionSpec(*[None if not c else c[0] if len(c) == 1 else c
                                  for c in choice])


class HloSharding(Sharding):
    """A layout XLA chose that no ``PartitionSpec`` over the mesh describes (rare): it keeps
    XLA's own text and the mesh's devices."""

    def __init__(self, text: str, mesh: Mesh):
        self.text, self.mesh = text, mesh

    @property
    def device_set(self) -> set:
        return set(self.mesh.devices.flat)

    @property
    def is_fully_replicated(self) -> bool:
        return False

    def devices_indices_map(self, global_shape: Sequence[int]) -> dict:
        return _jaxlib.hlo_sharding_indices(self.text, self.mesh.flat_devices, global_shape)

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, HloSharding) and (self.text, self.mesh) == (other.text,
                                                                             other.mesh)

    def __hash__(self) -> int:
        return hash((self.text, self.mesh))

    def __repr__(self) -> str:
        return f"HloSharding({self.text}, mesh={self.mesh})"
