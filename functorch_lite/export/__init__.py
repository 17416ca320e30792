"""``functorch_lite.export``, as ``jax.export``: lower a jitted function once to a
StableHLO module, serialize it to bytes, load it elsewhere and call it.

>>> exp = fl.export.export(fl.jit(f))(fl.ShapeDtypeStruct((8, 3), fnp.float32))
>>> blob = exp.serialize(vjp_order=1)          # bytes; no pickle anywhere
>>> fl.export.deserialize(blob).call(x)        # also inside jit and grad
"""
from functorch_lite.export._exported import (Exported, call, default_export_platform,
                                             deserialize, export)
from functorch_lite.export._serialization import (register_namedtuple_serialization,
                                                  register_pytree_node_serialization)

__all__ = ["Exported", "export", "deserialize", "call", "default_export_platform",
           "register_pytree_node_serialization", "register_namedtuple_serialization"]
