"""``functorch_lite.scipy``: SciPy-named functions over functorch_lite arrays."""
from functorch_lite.scipy import special  # noqa: F401
from functorch_lite.scipy import linalg  # noqa: F401
from functorch_lite.scipy import stats  # noqa: F401
