"""The XLA backend: lowering IR programs to StableHLO, compiling and running them through
PJRT, the ``Array`` type and devices. Importing it (or functorch_lite) registers it as the
backend that eager evaluation and ``jit`` use."""
import functorch_lite  # noqa: F401  (initializes the core first; it calls install())
from xla_bridge.backend import install as _install
from xla_bridge.array import Array, from_numpy
from xla_bridge.runtime import default_backend, default_device, devices, local_devices

_install()

__all__ = ["Array", "from_numpy", "default_backend", "default_device", "devices",
           "local_devices"]
