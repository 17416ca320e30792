"""The XLA backend: lowering IR programs to StableHLO, compiling and running them through
PJRT, the ``Array`` type and devices. Importing this package registers it as the backend
that eager evaluation and ``jit`` use."""
from functorch_lite.core import backend as _backend
from functorch_lite.core.config import config as _config
from xla_bridge import _jaxlib, lowering  # noqa: F401
from xla_bridge.array import Array, from_numpy
from xla_bridge.eager import apply_primitive, device_put
from xla_bridge.compile import compile_for_call, lower
from xla_bridge.runtime import default_backend, default_device, devices, local_devices

_backend.register(apply_primitive=apply_primitive, device_put=device_put, lower=lower,
                  compile=compile_for_call)
_jaxlib.set_x64(_config.enable_x64)
_config.on_change("enable_x64", _jaxlib.set_x64)

__all__ = ["Array", "from_numpy", "apply_primitive", "default_backend", "default_device",
           "devices", "local_devices"]

from functorch_lite.numpy import array_methods as _array_methods  # noqa: E402

_array_methods.attach(Array)
