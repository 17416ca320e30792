"""``functorch_lite.scipy``: SciPy-named functions over functorch_lite arrays, as
``jax.scipy``."""
from functorch_lite.scipy import special  # noqa: F401
from functorch_lite.scipy import linalg  # noqa: F401
from functorch_lite.scipy import stats  # noqa: F401
from functorch_lite.scipy import cluster  # noqa: F401
from functorch_lite.scipy import fft  # noqa: F401
from functorch_lite.scipy import integrate  # noqa: F401
from functorch_lite.scipy import interpolate  # noqa: F401
from functorch_lite.scipy import ndimage  # noqa: F401
from functorch_lite.scipy import signal  # noqa: F401
from functorch_lite.scipy import sparse  # noqa: F401
