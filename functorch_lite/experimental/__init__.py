"""``fl.experimental``, as ``jax.experimental``: APIs JAX keeps outside its stable surface.
So far ``io_callback``, a host callback for impure functions (see
``functorch_lite/lax/callbacks.py``).

>>> from functorch_lite.experimental import io_callback
"""
from functorch_lite.lax.callbacks import io_callback

__all__ = ["io_callback"]
