"""``ShapeDtypeStruct``: an array's shape and dtype with no contents (``jax.ShapeDtypeStruct``).
Registered with ``get_aval``, so tracing accepts it wherever an argument's type is all that
matters (``eval_shape``, ``make_jaxpr``, ``jit(f).lower``)."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from functorch_lite.core import dtypes, pytree
from functorch_lite.core.avals import ShapedArray, aval_handlers, get_aval
from functorch_lite.core.sharding import SingleDeviceSharding


class ShapeDtypeStruct:
    """The shape and dtype (and weak type, sharding) of an array, with no contents.
    ``eval_shape`` returns them; ``eval_shape``, ``make_jaxpr`` and ``jit(f).lower`` /
    ``.trace`` accept them in place of arrays. Immutable and hashable; a pytree leaf.

    >>> s = ShapeDtypeStruct((2, 3), fnp.float32)
    >>> s.ndim, s.size
    (2, 6)
    """

    __slots__ = ("shape", "dtype", "sharding", "weak_type")

    def __init__(self, shape: Sequence[int], dtype: Any, *, sharding: Any = None,
                 weak_type: bool = False):
        if dtype is None:
            raise ValueError("ShapeDtypeStruct: dtype must be specified.")
        set_ = object.__setattr__
        set_(self, "shape", tuple(shape))
        # As given: float64 stays float64 without x64 (arguments it describes are traced as
        # float32 then, as arrays of that dtype would be).
        # An extended dtype (typed PRNG keys' ``key<fry>``, defined above this layer) is
        # kept as it is: such a struct describes keys to ``eval_shape``/``make_jaxpr``.
        set_(self, "dtype", dtype if _is_extended(dtype) else dtypes._to_np_dtype(dtype))
        set_(self, "sharding", sharding)
        set_(self, "weak_type", bool(weak_type))

    def __setattr__(self, name: str, value: Any):
        raise RuntimeError(f"cannot assign to {name!r}: ShapeDtypeStruct is immutable; "
                           "use .update(...) to get a changed copy")

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of unsized object")
        return self.shape[0]

    @classmethod
    def like(cls, x: Any) -> "ShapeDtypeStruct":
        """The shape, dtype and weak type of the array (or tracer, or scalar) ``x``."""
        aval = abstractify(x)
        sharding = getattr(x, "sharding", None)
        if isinstance(sharding, SingleDeviceSharding):  # the default placement: not kept
            sharding = None
        return cls(aval.shape, aval.dtype, sharding=sharding, weak_type=aval.weak_type)

    def update(self, **changes) -> "ShapeDtypeStruct":
        fields = {"shape": self.shape, "dtype": self.dtype, "sharding": self.sharding,
                  "weak_type": self.weak_type}
        unknown = set(changes) - set(fields)
        if unknown:
            raise TypeError(f"ShapeDtypeStruct.update got unexpected fields {sorted(unknown)}")
        fields.update(changes)
        return ShapeDtypeStruct(fields.pop("shape"), fields.pop("dtype"), **fields)

    def _key(self) -> tuple:
        return (self.shape, self.dtype, self.sharding, self.weak_type)

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, ShapeDtypeStruct) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (f"ShapeDtypeStruct(shape={self.shape}, dtype={self.dtype.name}"
                + (f", sharding={self.sharding}" if self.sharding is not None else "")
                + (", weak_type=True" if self.weak_type else "") + ")")

    __str__ = __repr__


def _struct_aval(s: ShapeDtypeStruct) -> ShapedArray:
    # The abstract value a traced argument described by ``s`` gets: its dtype as an array
    # of that dtype would have it (float64 -> float32 without x64).
    if _is_extended(s.dtype):
        raise TypeError(f"{s} describes typed PRNG keys, which eval_shape, make_jaxpr and "
                        f"jit(f).trace/lower accept in place of keys; pass the keys "
                        f"themselves, or a ShapeDtypeStruct of their key_data (uint32, "
                        f"shape + (2,))")
    return ShapedArray(s.shape, dtypes.canonicalize_dtype(s.dtype), s.weak_type)


# Tracing (make_ir, jit(f).lower/.trace, eval_shape) reads argument types through get_aval,
# so registering the class there is all it takes for them to accept ShapeDtypeStructs.
aval_handlers[ShapeDtypeStruct] = _struct_aval


# How a description of an extended-dtype value (a ShapeDtypeStruct of dtype ``key<fry>``)
# is traced: the module defining the dtype maps its dtype class to a function from such a
# leaf to the value to trace in its place (typed keys: a KeyArray over a uint32 struct).
# Core cannot know these dtypes; this keeps it from importing the modules that define them.
stand_in_expanders: dict[type, Callable[[Any], Any]] = {}


def _is_extended(dtype: Any) -> bool:
    """A dtype that is not NumPy's (typed keys' ``key<fry>``): its class registered above."""
    return type(dtype) in stand_in_expanders


def expand_stand_ins(tree: Any) -> Any:
    """``tree`` with every leaf whose dtype is extended replaced by what is traced for it
    (``eval_shape``, ``make_jaxpr``, ``jit(f).trace``/``lower`` take such descriptions)."""
    if not stand_in_expanders:
        return tree

    def expand(x):
        f = stand_in_expanders.get(type(getattr(x, "dtype", None)))
        return x if f is None else f(x)
    return pytree.tree_map(expand, tree)


def abstractify(x: Any) -> ShapedArray:
    """``get_aval``, plus any object with ``shape`` and ``dtype`` attributes (JAX accepts
    such duck-typed stand-ins wherever only the type matters)."""
    try:
        return get_aval(x)
    except TypeError:
        if hasattr(x, "shape") and hasattr(x, "dtype"):
            return ShapedArray(tuple(x.shape), dtypes.canonicalize_dtype(x.dtype),
                               bool(getattr(x, "weak_type", False)))
        raise


def struct_of(aval: ShapedArray) -> ShapeDtypeStruct:
    return ShapeDtypeStruct(aval.shape, aval.dtype, weak_type=aval.weak_type)
