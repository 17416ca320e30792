"""``functorch_lite.sharding``, as ``jax.sharding``: meshes and the shardings over them.

    mesh = fl.make_mesh((8,), ("data",))
    x = fl.device_put(x, NamedSharding(mesh, P("data")))      # rows over 8 devices
    step = fl.jit(step, in_shardings=(replicated, NamedSharding(mesh, P("data"))))
"""
from functorch_lite.core.sharding import (Mesh, NamedSharding, P, PartitionSpec,  # noqa: F401
                                          Sharding, SingleDeviceSharding, make_mesh)

__all__ = ["Mesh", "NamedSharding", "P", "PartitionSpec", "Sharding", "SingleDeviceSharding",
           "make_mesh"]
