"""``functorch_lite.scipy.cluster``, as ``jax.scipy.cluster``: vector quantisation in
``vq``."""
from functorch_lite.scipy.cluster import vq  # noqa: F401

__all__ = ["vq"]
