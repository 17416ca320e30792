"""``functorch_lite.scipy.sparse``, as ``jax.scipy.sparse``: iterative solvers in
``linalg`` (``cg``, ``bicgstab``, ``gmres``)."""
from functorch_lite.scipy.sparse import linalg  # noqa: F401

__all__ = ["linalg"]
