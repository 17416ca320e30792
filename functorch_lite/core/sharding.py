"""How an array is laid out over devices: ``Mesh``, ``PartitionSpec`` (``P``),
``NamedSharding`` and ``SingleDeviceSharding``, with JAX's names and meanings.

A ``Mesh`` arranges devices in an n-dimensional grid with named axes; a ``PartitionSpec``
says, per array dimension, which mesh axes split it (``None``: not split; a tuple of names:
split over their product, the first name major). Mesh axes a spec leaves out replicate the
array. These are plain descriptions: the backend turns them into XLA shardings.

    mesh = make_mesh((4, 2), ("data", "model"))
    x = fl.device_put(x, NamedSharding(mesh, P("data", None)))  # rows over 4 devices
"""
from __future__ import annotations

import math
from typing import Any, Iterable, Sequence

import numpy as np

from functorch_lite.core.backend import backend


class PartitionSpec(tuple):
    """Per array dimension: None (not split), a mesh axis name, or a tuple of names (split
    over their product, the first name major). Trailing dimensions left out are not split.

    >>> P("data", None), P(("x", "y"))
    """

    def __new__(cls, *partitions: Any):
        for p in partitions:
            names = p if isinstance(p, tuple) else (p,)
            if not all(n is None or isinstance(n, str) for n in names) or \
                    (isinstance(p, tuple) and None in p):
                raise TypeError(f"PartitionSpec entries are None, an axis name or a tuple of "
                                f"axis names; got {p!r}")
        return super().__new__(cls, partitions)

    def __repr__(self) -> str:
        return "PartitionSpec(" + ", ".join(map(repr, self)) + ")"

    def axes_of(self, dim: int) -> tuple[str, ...]:
        """The mesh axes splitting dimension ``dim`` (none past the spec's end)."""
        if dim >= len(self) or self[dim] is None:
            return ()
        p = self[dim]
        return p if isinstance(p, tuple) else (p,)

    def normalized(self, ndim: int) -> "PartitionSpec":
        """The same spec with one entry per dimension and 1-tuples unwrapped."""
        out = []
        for d in range(ndim):
            axes = self.axes_of(d)
            out.append(None if not axes else axes[0] if len(axes) == 1 else axes)
        return PartitionSpec(*out)


P = PartitionSpec


class Mesh:
    """Devices in a grid with named axes: ``Mesh(devices, axis_names)``, ``devices`` an
    n-dimensional array (or nested lists) of devices. Usable as a context manager, as in
    JAX (``with mesh:``), which makes it the mesh ``with_sharding_constraint`` may take a
    bare ``PartitionSpec`` for."""

    def __init__(self, devices: Any, axis_names: str | Sequence[str]):
        devs = np.array(devices, dtype=object)
        names = (axis_names,) if isinstance(axis_names, str) else tuple(axis_names)
        if devs.ndim != len(names):
            raise ValueError(f"Mesh: {len(names)} axis names {names} for a device array of "
                             f"shape {devs.shape}; give one name per dimension")
        if len(set(names)) != len(names):
            raise ValueError(f"Mesh: axis names must be distinct, got {names}")
        ids = [d.id for d in devs.flat]
        if len(set(ids)) != len(ids):
            raise ValueError(f"Mesh: a device appears twice in {devs.tolist()}")
        self.devices = devs
        self.axis_names = names
        # (immutable: shardings compare meshes on every call over them)
        self._hashkey = (devs.shape, tuple(ids), names)
        self._hash = hash(self._hashkey)

    @property
    def shape(self) -> dict[str, int]:
        """Axis name -> size, in order."""
        return dict(zip(self.axis_names, self.devices.shape))

    @property
    def size(self) -> int:
        return int(self.devices.size)

    @property
    def device_ids(self) -> np.ndarray:
        return np.vectorize(lambda d: d.id, otypes=[int])(self.devices)

    @property
    def flat_devices(self) -> tuple:
        """The devices in row-major mesh order: partition ``i`` of a program over this mesh
        runs on ``flat_devices[i]``."""
        return tuple(self.devices.flat)

    def __eq__(self, other: Any) -> bool:
        return self is other or (isinstance(other, Mesh) and self._hashkey == other._hashkey)

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        axes = ", ".join(f"{n!r}: {s}" for n, s in self.shape.items())
        return f"Mesh({axes})"

    def __enter__(self) -> "Mesh":
        _mesh_stack.append(self)
        return self

    def __exit__(self, *exc) -> None:
        _mesh_stack.pop()


_mesh_stack: list[Mesh] = []


def current_mesh() -> Mesh | None:
    """The mesh of the innermost ``with mesh:`` block, if any."""
    return _mesh_stack[-1] if _mesh_stack else None


def make_mesh(axis_shapes: Sequence[int], axis_names: Sequence[str], *,
              devices: Sequence[Any] | None = None) -> Mesh:
    """A mesh of the first ``prod(axis_shapes)`` devices (of ``devices``, default every
    device), in order.

    >>> make_mesh((4, 2), ("data", "model"))
    Mesh('data': 4, 'model': 2)
    """
    shape = tuple(int(s) for s in axis_shapes)
    names = (axis_names,) if isinstance(axis_names, str) else tuple(axis_names)
    if len(shape) != len(names):
        raise ValueError(f"make_mesh: {len(shape)} axis sizes {shape} but {len(names)} names "
                         f"{names}")
    available = list(devices) if devices is not None else list(backend.devices())
    n = math.prod(shape)
    if n > len(available):
        platform = available[0].platform if available else "no"
        raise ValueError(f"make_mesh: a mesh of shape {shape} needs {n} devices, but only "
                         f"{len(available)} ({platform}) are present; on CPU, "
                         "XLA_FLAGS=--xla_force_host_platform_device_count=N (set before the "
                         "first import) makes N host devices")
    return Mesh(np.array(available[:n], dtype=object).reshape(shape), names)


class Sharding:
    """What every sharding answers: which devices hold the array and which piece each
    holds."""

    @property
    def device_set(self) -> set:
        raise NotImplementedError

    @property
    def num_devices(self) -> int:
        return len(self.device_set)

    @property
    def addressable_devices(self) -> set:
        """The devices of this process."""
        me = _process_index()
        return {d for d in self.device_set if getattr(d, "process_index", 0) == me}

    @property
    def is_fully_addressable(self) -> bool:
        return self.addressable_devices == self.device_set

    @property
    def memory_kind(self) -> None:
        return None

    def devices_indices_map(self, global_shape: Sequence[int]) -> dict:
        """Device -> the tuple of slices of the global array it holds."""
        raise NotImplementedError

    def shard_shape(self, global_shape: Sequence[int]) -> tuple[int, ...]:
        index = next(iter(self.devices_indices_map(global_shape).values()))
        return tuple(len(range(*s.indices(n))) for s, n in zip(index, global_shape))


def _process_index() -> int:
    try:
        return backend.process_index()
    except RuntimeError:  # no backend registered: a single process
        return 0


class SingleDeviceSharding(Sharding):
    """The whole array on one device."""

    def __init__(self, device: Any):
        self.device = device

    @property
    def device_set(self) -> set:
        return {self.device}

    @property
    def is_fully_replicated(self) -> bool:
        return True

    def devices_indices_map(self, global_shape: Sequence[int]) -> dict:
        return {self.device: tuple(slice(None) for _ in global_shape)}

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, SingleDeviceSharding) and other.device == self.device

    def __hash__(self) -> int:
        return hash(("single", self.device))

    def __repr__(self) -> str:
        return f"SingleDeviceSharding(device={self.device!r})"


class NamedSharding(Sharding):
    """An array split over a ``mesh`` as ``spec`` says.

    >>> NamedSharding(mesh, P("data", None)).shard_shape((8, 3))
    (2, 3)
    """

    def __init__(self, mesh: Mesh, spec: PartitionSpec | None = None, *,
                 memory_kind: str | None = None):
        if not isinstance(mesh, Mesh):
            raise TypeError(f"NamedSharding: mesh must be a Mesh, got {type(mesh).__name__}")
        spec = PartitionSpec() if spec is None else spec
        if not isinstance(spec, PartitionSpec):
            spec = PartitionSpec(*spec)
        used: list[str] = []
        for p in spec:
            for name in (p if isinstance(p, tuple) else (p,)):
                if name is None:
                    continue
                if name not in mesh.axis_names:
                    raise ValueError(f"NamedSharding: {spec} names the axis {name!r}, which "
                                     f"the mesh {mesh} lacks")
                if name in used:
                    raise ValueError(f"NamedSharding: {spec} uses the mesh axis {name!r} "
                                     "more than once")
                used.append(name)
        self.mesh, self.spec = mesh, spec
        self._stripped = _strip(spec)

    @property
    def device_set(self) -> set:
        return set(self.mesh.devices.flat)

    @property
    def is_fully_replicated(self) -> bool:
        return all(self.mesh.shape[n] == 1 for d in range(len(self.spec))
                   for n in self.spec.axes_of(d))

    def check_shape(self, shape: Sequence[int], what: str = "array") -> None:
        """ValueError unless ``shape`` can be laid out this way: as many dimensions as the
        spec names, each divisible by its mesh axes' product."""
        if len(self.spec) > len(shape):
            raise ValueError(f"{what} of shape {tuple(shape)}: its sharding {self.spec} has "
                             f"{len(self.spec)} entries for {len(shape)} dimensions "
                             f"(mesh {self.mesh})")
        for d, n in enumerate(shape):
            k = self.tiles(d)
            if n % k:
                raise ValueError(f"{what} of shape {tuple(shape)}: dimension {d} (size {n}) "
                                 f"is not divisible by {k}, the size of mesh axes "
                                 f"{self.spec.axes_of(d)} that {self.spec} splits it over "
                                 f"(mesh {self.mesh})")

    @property
    def unsplit_axes(self) -> tuple[str, ...]:
        """The mesh axes the spec leaves out: the array is replicated along them."""
        used = {n for d in range(len(self.spec)) for n in self.spec.axes_of(d)}
        return tuple(n for n in self.mesh.axis_names if n not in used)

    def tiles(self, dim: int) -> int:
        """How many pieces dimension ``dim`` is split into."""
        return math.prod(self.mesh.shape[n] for n in self.spec.axes_of(dim))

    def tile_assignment(self, ndim: int) -> tuple[tuple[int, ...], np.ndarray, bool]:
        """``(tile_dims, positions, replicated_last)``: the number of pieces per dimension,
        the mesh positions (row-major indices into ``mesh.flat_devices``) in an array of
        shape ``tile_dims`` (+ one trailing dimension of replicas when mesh axes are left
        out, ``replicated_last``), which is the form XLA's tiled shardings take."""
        names = list(self.mesh.axis_names)
        positions = np.arange(self.mesh.size).reshape(self.mesh.devices.shape)
        split = [n for d in range(ndim) for n in self.spec.axes_of(d)]
        rest = list(self.unsplit_axes)
        positions = positions.transpose([names.index(n) for n in split + rest])
        tile_dims = tuple(self.tiles(d) for d in range(ndim))
        replicas = math.prod(self.mesh.shape[n] for n in rest)
        if replicas > 1:
            return tile_dims, positions.reshape(tile_dims + (replicas,)), True
        return tile_dims, positions.reshape(tile_dims), False

    def devices_indices_map(self, global_shape: Sequence[int]) -> dict:
        ndim = len(global_shape)
        tile_dims, positions, replicated = self.tile_assignment(ndim)
        flat = self.mesh.flat_devices
        out = {}
        for idx in np.ndindex(*positions.shape):
            tile = idx[:ndim]
            index = []
            for d, (t, k) in enumerate(zip(tile, tile_dims)):
                size = global_shape[d] // k
                index.append(slice(None) if k == 1 else slice(t * size, (t + 1) * size))
            out[flat[positions[idx]]] = tuple(index)
        return out

    def __eq__(self, other: Any) -> bool:
        return self is other or (isinstance(other, NamedSharding) and self.mesh == other.mesh
                                 and self._stripped == other._stripped)

    def __hash__(self) -> int:
        return hash((self.mesh, self._stripped))

    def __repr__(self) -> str:
        return f"NamedSharding(mesh={self.mesh}, spec={self.spec})"


def _strip(spec: PartitionSpec) -> tuple:
    """``spec`` without trailing Nones and with 1-tuples unwrapped (equal layouts)."""
    out = list(spec.normalized(len(spec)))
    while out and out[-1] is None:
        out.pop()
    return tuple(out)


def devices_of(shardings: Iterable[Sharding]) -> list:
    return [d for s in shardings for d in s.device_set]
