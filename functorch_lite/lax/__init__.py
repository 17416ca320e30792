"""``functorch_lite.lax``: the primitives, one function per primitive, with JAX's names."""
from functorch_lite.interpreters import array_ops as _array_ops
from functorch_lite.lax.elementwise import *  # noqa: F401,F403
from functorch_lite.lax.elementwise import (abs, add, max, min, pow, round,  # noqa: F401
                                            RoundingMethod)
from functorch_lite.lax.shapes import *  # noqa: F401,F403
from functorch_lite.lax.reductions import *  # noqa: F401,F403
from functorch_lite.lax.sorting import *  # noqa: F401,F403
from functorch_lite.lax.indexing import *  # noqa: F401,F403
from functorch_lite.lax.linalg import *  # noqa: F401,F403
from functorch_lite.lax.convolution import *  # noqa: F401,F403
from functorch_lite.lax.fft import *  # noqa: F401,F403
from functorch_lite.lax.windowed import *  # noqa: F401,F403
from functorch_lite.lax.transfer import *  # noqa: F401,F403
from functorch_lite.lax.misc import *  # noqa: F401,F403
from functorch_lite.lax.parallel import *  # noqa: F401,F403
from functorch_lite.lax.sharding import *  # noqa: F401,F403
from functorch_lite.lax.control_flow import *  # noqa: F401,F403
from functorch_lite.lax.control_flow import map  # noqa: F401
from functorch_lite.lax.special_gamma import *  # noqa: F401,F403
from functorch_lite.lax.associative import *  # noqa: F401,F403
from functorch_lite.lax.custom_solve import custom_linear_solve, custom_root  # noqa: F401
# The other higher-order primitives (imported so every primitive is registered with lax).
from functorch_lite.lax import callbacks as _callbacks  # noqa: F401
from functorch_lite.lax import checkpoint as _checkpoint  # noqa: F401
from functorch_lite.lax import custom_derivatives as _custom_derivatives  # noqa: F401
from functorch_lite.lax import exported_call as _exported_call  # noqa: F401
from functorch_lite.lax import jit_call as _jit_call  # noqa: F401
from functorch_lite.lax import shard_map as _shard_map  # noqa: F401

# The interpreters' own array operations (see interpreters/array_ops.py).
_array_ops.register(add=add, full=full, broadcast_in_dim=broadcast_in_dim,  # noqa: F405
                    transpose=transpose)  # noqa: F405
