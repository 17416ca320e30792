"""``functorch_lite.lax``: the primitives, one function per primitive, with JAX's names."""
from functorch_lite.lax.elementwise import *  # noqa: F401,F403
from functorch_lite.lax.elementwise import (abs, add, max, min, pow, round,  # noqa: F401
                                            RoundingMethod)
from functorch_lite.lax.shapes import *  # noqa: F401,F403
from functorch_lite.lax.reductions import *  # noqa: F401,F403
from functorch_lite.lax.sorting import *  # noqa: F401,F403
from functorch_lite.lax.indexing import *  # noqa: F401,F403
from functorch_lite.lax.linalg import *  # noqa: F401,F403
from functorch_lite.lax.convolution import *  # noqa: F401,F403
from functorch_lite.lax.windowed import *  # noqa: F401,F403
from functorch_lite.lax.transfer import *  # noqa: F401,F403
from functorch_lite.lax.misc import *  # noqa: F401,F403
from functorch_lite.lax.parallel import *  # noqa: F401,F403
from functorch_lite.lax.control_flow import *  # noqa: F401,F403
from functorch_lite.lax.control_flow import map  # noqa: F401
