"""functorch_lite: composable transformations (grad, jit, vmap) of pure array programs,
compiled and run by XLA.

    import functorch_lite as fl
    import functorch_lite.numpy as fnp
    from functorch_lite import lax
"""
from __future__ import annotations

from xla_bridge.backend import install as _install_backend
from functorch_lite import lax, numpy, random, sharding, tree, tree_util  # noqa: F401
from functorch_lite.api import (block_until_ready, disable_jit, grad, hessian,  # noqa: F401
                                jacfwd, jacrev, jit, jvp, linearize, make_ir,
                                value_and_grad, vjp, vmap)
from functorch_lite.core import pytree as _pytree
from functorch_lite.core import transfer_guard as _transfer_guard
from functorch_lite.core.config import State as _State, config  # noqa: F401
from functorch_lite.lax.checkpoint import checkpoint, remat  # noqa: F401
from functorch_lite.lax.checkpoint_policies import checkpoint_policies  # noqa: F401
from functorch_lite import ad_checkpoint  # noqa: F401,E402  (jax.ad_checkpoint)
from functorch_lite import custom_derivatives  # noqa: F401  (jax.custom_derivatives)
from functorch_lite.lax.custom_derivatives import (custom_gradient, custom_jvp,  # noqa: F401
                                                  custom_vjp)
from functorch_lite.core.errors import (ConcretizationTypeError,  # noqa: F401
                                        TracerBoolConversionError,
                                        TracerIntegerConversionError, UnexpectedTracerError)
from functorch_lite.lax import stop_gradient  # noqa: F401
from functorch_lite.core.shape_dtype_struct import ShapeDtypeStruct  # noqa: F401
from functorch_lite.core.sharding import P, make_mesh  # noqa: F401
from functorch_lite.lax.shard_map import shard_map  # noqa: F401
from functorch_lite.utilities import (clear_caches, device_get,  # noqa: F401
                                      ensure_compile_time_eval, eval_shape, jacobian,
                                      linear_transpose, local_device_count, make_jaxpr,
                                      named_call, named_scope, typeof)
from functorch_lite.core.avals import Array  # noqa: F401  (device arrays and tracers are both)
from xla_bridge.runtime import default_backend, device_count, devices, local_devices  # noqa
from xla_bridge.eager import make_array_from_process_local_data  # noqa: F401
from xla_bridge.runtime import process_count, process_index  # noqa: F401
from functorch_lite import distributed  # noqa: F401  (many processes)
from functorch_lite import debug  # noqa: F401  (debug.print, debug.callback)
from functorch_lite import dlpack  # noqa: F401  (dlpack.from_dlpack)
from functorch_lite import export  # noqa: F401  (export.export, serialize, deserialize)
from functorch_lite import experimental  # noqa: F401  (experimental.io_callback)
from functorch_lite.lax.callbacks import pure_callback  # noqa: F401
from functorch_lite import dtypes, errors, typing  # noqa: F401  (jax.dtypes, .errors, .typing)
from functorch_lite import image  # noqa: F401  (jax.image: resize, scale_and_translate)
from functorch_lite.core.dtypes import float0  # noqa: F401

from functorch_lite import scipy  # noqa: F401
from functorch_lite import nn  # noqa: F401  (the repo's nn/ folder, installed as functorch_lite.nn)

_install_backend()

numpy.ndarray = Array


def device_put(x, device=None):
    """Place every array leaf of ``x`` on ``device`` (default: the default device), or lay
    it out as a sharding says (``NamedSharding(mesh, P("data"))``; a pytree prefix of ``x``
    gives one per subtree). Inside ``jit`` a sharding acts as ``with_sharding_constraint``.
    Its transfers are explicit ones for the transfer guard."""
    with _transfer_guard.explicit():
        if isinstance(device, (sharding.Sharding, sharding.PartitionSpec)) or (
                device is not None and not hasattr(device, "id")):
            return lax.with_sharding_constraint(x, device)
        leaves, treedef = _pytree.tree_flatten(x)
        return _pytree.tree_unflatten(treedef, [lax.device_put(leaf, device)
                                                for leaf in leaves])


# Flags as context managers and readable values (``with fl.enable_x64(True): ...``).
enable_x64 = _State("enable_x64")
debug_nans = _State("debug_nans")
debug_infs = _State("debug_infs")
log_compiles = _State("log_compiles")
explain_cache_misses = _State("explain_cache_misses")
enable_checks = _State("enable_checks")
default_matmul_precision = _State("default_matmul_precision")
numpy_rank_promotion = _State("numpy_rank_promotion")
threefry_partitionable = _State("threefry_partitionable")
numpy_dtype_promotion = _State("numpy_dtype_promotion")
transfer_guard = _State("transfer_guard")
transfer_guard_host_to_device = _State("transfer_guard_host_to_device")
transfer_guard_device_to_device = _State("transfer_guard_device_to_device")
transfer_guard_device_to_host = _State("transfer_guard_device_to_host")

__version__ = "0.1.0"
