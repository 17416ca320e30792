"""``functorch_lite.random``: counter-based pseudo-random numbers with ``jax.random``'s API.

Random state is explicit: a *key* holds 64 bits of state, and every sampler is a pure
function of a key, a shape and a dtype. The bits come from the Threefry-2x32 block
cipher (20 rounds), written below as plain ``lax`` operations on ``uint32`` arrays, so
samplers run eagerly and under ``jit``, ``vmap`` (a batch of keys gives the same
streams as a Python loop over the keys) and ``grad`` (keys carry no derivative;
reparameterized samples such as ``mu + sigma * normal(key)`` differentiate with respect
to ``mu`` and ``sigma``). For the same key, shape and dtype every function returns
exactly the values ``jax.random`` returns with its default configuration (threefry2x32
with ``jax_threefry_partitionable`` on), and with that flag off
(``config.update("jax_threefry_partitionable", False)``) the values of JAX's original
streams, which older results were drawn from.

Keys come in two flavors, accepted interchangeably by every function:

* a *raw* key, ``PRNGKey(seed)``: a ``uint32`` array of shape ``(2,)`` (``(..., 2)`` for
  an array of keys);
* a *typed* key, ``key(seed)``: a :class:`KeyArray`, whose shape leaves out the trailing
  2 and whose dtype prints as ``key<fry>``. It is a pytree node whose single child is
  the ``uint32`` data, so it passes through ``jit``/``vmap``/``grad`` like an array.
  ``fl.typeof`` gives its type (``key<fry>[]``, a :class:`KeyShapedArray`) and
  ``fl.eval_shape`` describes it as ``ShapeDtypeStruct(shape=(), dtype=key<fry>)``.

``split`` and ``fold_in`` return keys of the flavor they were given::

    key = random.key(0)
    k1, k2 = random.split(key)             # two typed keys of shape ()
    x = random.normal(k1, (3,))            # float32[3]
    i = random.randint(k2, (2, 2), 0, 10)  # int32[2,2] in [0, 10)

How bits are made (for the curious): ``threefry2x32(k1, k2, c1, c2)`` encrypts the
64-bit counter ``(c1, c2)`` under the key ``(k1, k2)`` and returns two words. Drawing
``shape`` words encrypts the counters ``0, 1, ..., size - 1`` (high word 0) and XORs
the two output words; ``split(key, n)`` keeps both words of counters ``0..n-1`` as the
new keys; ``fold_in(key, d)`` keeps both words of counter ``(0, d)``. The original streams
(flag off) hash a flat run of 32-bit counters instead, the first half of the run paired
with the second (``_hash_run``).
"""
from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from functorch_lite import lax
from functorch_lite import numpy as fnp
from functorch_lite.api import jit
from functorch_lite.core import dtypes
from functorch_lite.core.avals import ShapedArray, get_aval
from functorch_lite.core.config import config
from functorch_lite.core.pytree import register_pytree_node
from functorch_lite.core.shape_dtype_struct import ShapeDtypeStruct, stand_in_expanders
from functorch_lite.lax._common import canonical_shape

__all__ = [
    "KeyArray", "PRNGKey", "key", "key_data", "wrap_key_data", "key_impl", "clone",
    "split", "fold_in", "bits", "uniform", "normal", "truncated_normal", "bernoulli",
    "randint", "categorical", "gumbel", "exponential", "permutation", "choice",
    "threefry2x32",
]

_U32 = np.dtype(np.uint32)
_UINT = {8: np.dtype(np.uint8), 16: np.dtype(np.uint16), 32: np.dtype(np.uint32),
         64: np.dtype(np.uint64)}
_KEY_HELP = ("a typed key from key()/split()/fold_in(), or a raw uint32 array of shape "
             "(..., 2) from PRNGKey()")


# ---------------------------------------------------------------------------------------
# Typed keys

class KeyDType:
    """The dtype of typed threefry keys; prints as ``key<fry>`` like JAX's."""

    name = "key<fry>"
    impl = "threefry2x32"
    itemsize = 8

    def __repr__(self) -> str:
        return self.name

    __str__ = __repr__

    def __eq__(self, other: Any) -> bool:
        # Only strings are compared by name: ``other == self.name`` on a NumPy dtype would
        # make NumPy try to parse "key<fry>" as a dtype.
        return isinstance(other, KeyDType) or (isinstance(other, str) and other == self.name)

    def __hash__(self) -> int:
        return hash(self.name)


key_dtype = KeyDType()


class KeyShapedArray(ShapedArray):
    """The abstract value of a typed key array, what ``typeof`` gives for a
    :class:`KeyArray`: its key shape (without the data's trailing 2) and the dtype
    ``key<fry>``. Prints as JAX's does: ``key<fry>[3]``, ``ShapedArray(key<fry>[3])``.

    >>> fl.typeof(split(key(0), 3))
    ShapedArray(key<fry>[3])
    """

    __slots__ = ()

    def __init__(self, shape: Sequence[int], weak_type: bool = False):
        # Not ShapedArray.__init__: that makes ``dtype`` a NumPy dtype, which keys are not.
        self.shape = tuple(int(d) for d in shape)
        self.dtype = key_dtype
        self.weak_type = bool(weak_type)
        self._hash = hash((self.shape, key_dtype, self.weak_type))

    def update(self, shape: Any = None, dtype: Any = None,
               weak_type: Any = None) -> ShapedArray:
        shape = self.shape if shape is None else shape
        weak_type = self.weak_type if weak_type is None else weak_type
        if dtype is None or isinstance(dtype, KeyDType):
            return KeyShapedArray(shape, weak_type)
        return ShapedArray(shape, dtype, weak_type)

    def strip_weak_type(self) -> "KeyShapedArray":
        return KeyShapedArray(self.shape) if self.weak_type else self

    def __eq__(self, other: Any) -> bool:
        return (type(other) is KeyShapedArray and self.shape == other.shape
                and self.weak_type == other.weak_type)

    __hash__ = ShapedArray.__hash__  # defining __eq__ alone would make instances unhashable

    def same_type(self, other: ShapedArray) -> bool:
        return isinstance(other, KeyShapedArray) and self.shape == other.shape

    def str_short(self) -> str:
        return self._str_long()

    def _str_long(self) -> str:
        return f"{key_dtype.name}[{','.join(map(str, self.shape))}]"


class KeyArray:
    """An array of typed PRNG keys: ``shape`` is the key shape (the ``uint32`` data has an
    extra trailing axis of 2). Use :func:`key_data` to get the data back.

    Indexing, ``len``, iteration, ``reshape`` and ``ravel`` act on the key axes; there is
    no arithmetic, and conversion to NumPy is refused (as in JAX)."""

    __slots__ = ("_data",)
    __array_priority__ = 200

    def __init__(self, data: Any):
        _check_data("KeyArray", data, allow_batched=True)
        if isinstance(data, (np.ndarray, np.generic)):
            data = fnp.asarray(data)
        self._data = data

    @classmethod
    def _unchecked(cls, data: Any) -> "KeyArray":
        out = object.__new__(cls)
        out._data = data
        return out

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self._data.shape[:-1])

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def dtype(self) -> KeyDType:
        return key_dtype

    @property
    def itemsize(self) -> int:
        return key_dtype.itemsize

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of unsized object (a key array of shape ())")
        return self.shape[0]

    def __iter__(self):
        if not self.shape:
            raise TypeError("iteration over a 0-d key array")
        return (self[i] for i in range(self.shape[0]))

    def __getitem__(self, idx: Any) -> "KeyArray":
        idx = idx if isinstance(idx, tuple) else (idx,)
        if any(i is Ellipsis for i in idx):
            full = idx + (slice(None),)
        else:
            used = sum(1 for i in idx if i is not None)
            if used > self.ndim:
                raise IndexError(f"too many indices for a key array of shape {self.shape}: "
                                 f"{used} were given")
            full = idx + (Ellipsis,)
        return KeyArray._unchecked(self._data[full])

    def reshape(self, *shape: Any) -> "KeyArray":
        if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
            shape = tuple(shape[0])
        shape = tuple(operator.index(d) for d in shape)
        if -1 in shape:
            known = math.prod(d for d in shape if d != -1)
            shape = tuple(self.size // known if d == -1 else d for d in shape)
        if math.prod(shape) != self.size:  # a TypeError, as JAX's reshape
            raise TypeError(f"cannot reshape a key array of shape {self.shape} into shape "
                            f"{shape}")
        return KeyArray._unchecked(lax.reshape(self._data, shape + (2,)))

    def ravel(self) -> "KeyArray":
        return self.reshape(self.size)

    flatten = ravel

    def __eq__(self, other: Any):
        if not isinstance(other, KeyArray):
            return NotImplemented
        return fnp.all(fnp.equal(self._data, other._data), axis=-1)

    def __ne__(self, other: Any):
        if not isinstance(other, KeyArray):
            return NotImplemented
        return fnp.logical_not(self == other)

    __hash__ = None  # type: ignore[assignment]

    def __bool__(self) -> bool:
        raise TypeError("a key array cannot be converted to a bool")

    def __array__(self, dtype=None, copy=None):
        raise TypeError("a typed PRNG key array cannot be converted to a NumPy array; use "
                        "functorch_lite.random.key_data(keys) to get its uint32 data")

    def __repr__(self) -> str:
        return f"KeyArray({self.shape}, dtype={key_dtype}) overlaying:\n{self._data}"


register_pytree_node(KeyArray, lambda k: ((k._data,), None),
                     lambda _, children: KeyArray._unchecked(children[0]))


def _key_stand_in(x: Any) -> Any:
    """What is traced for a description of typed keys (a ``ShapeDtypeStruct`` of dtype
    ``key<fry>``, or ``typeof(keys)``): keys over a description of their uint32 data."""
    if isinstance(x, KeyArray):
        return x
    data = ShapeDtypeStruct((*x.shape, 2), np.uint32,
                            weak_type=bool(getattr(x, "weak_type", False)))
    return KeyArray._unchecked(data)


stand_in_expanders[KeyDType] = _key_stand_in


def _key_shaped_array(keys: KeyArray) -> KeyShapedArray:
    """The abstract value of ``keys`` (concrete or traced): that of its data, less the
    trailing axis of 2. The data may also be a ``ShapeDtypeStruct`` (``eval_shape``)."""
    data = get_aval(keys._data)
    return KeyShapedArray(data.shape[:-1], data.weak_type)


def _check_data(name: str, data: Any, allow_batched: bool) -> None:
    """Validate raw key data: a uint32 array whose last axis has length 2."""
    if isinstance(data, (bool, int, float, complex, str, list, tuple, dict)) or data is None:
        raise TypeError(f"{name}: expected a PRNG key ({_KEY_HELP}), got a value of type "
                        f"{type(data).__name__}: {data!r}")
    try:
        aval = get_aval(data)
    except TypeError:
        raise TypeError(f"{name}: expected a PRNG key ({_KEY_HELP}), got a value of type "
                        f"{type(data).__name__}") from None
    if aval.dtype != _U32:
        raise TypeError(f"{name}: expected a PRNG key ({_KEY_HELP}), got an array of dtype "
                        f"{_dtname(aval.dtype)} and shape {aval.shape}; "
                        "raw key data must have dtype uint32")
    if aval.ndim < 1 or aval.shape[-1] != 2:
        raise TypeError(f"{name}: expected a PRNG key ({_KEY_HELP}), got a uint32 array of "
                        f"shape {aval.shape}, whose last axis is not of length 2")
    if not allow_batched and aval.ndim > 1:
        raise ValueError(f"{name} accepts a single key, but was given a key array of shape "
                         f"{aval.shape[:-1]} != (); use vmap to map over keys")


def _dtname(dt: Any) -> str:
    return np.dtype(dt).name


def _unwrap(name: str, key: Any, allow_batched: bool = False) -> tuple[Any, bool]:
    """``(uint32 data, was_typed)`` for a typed or raw key; a clear error for anything else."""
    if isinstance(key, KeyArray):
        _check_data(name, key._data, allow_batched)
        return key._data, True
    _check_data(name, key, allow_batched)
    return key, False


def _rewrap(data: Any, typed: bool):
    return KeyArray._unchecked(data) if typed else data


# ---------------------------------------------------------------------------------------
# Threefry-2x32

_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_PARITY = np.uint32(0x1BD11BDA)


def _scalar(value: Any, dtype: Any) -> np.generic:
    """A NumPy scalar: staged programs embed these as literal constants (as JAX does with
    its constants), which lets XLA fold them the same way, e.g. ``x / c`` into
    ``x * (1 / c)``, so results agree bit for bit."""
    return np.dtype(dtype).type(value)


def _rotl(x: Any, r: Any):
    """Rotate the bits of uint32 ``x`` left by ``r`` (a uint32 scalar) places."""
    return lax.bitwise_or(lax.shift_left(x, r),
                          lax.shift_right_logical(x, lax.sub(np.uint32(32), r)))


def threefry2x32(k1: Any, k2: Any, x1: Any, x2: Any):
    """The Threefry-2x32 block cipher (20 rounds): encrypt the counter words ``(x1, x2)``
    under the key words ``(k1, k2)``. All four are ``uint32``; the key words are usually
    rank 0 and ``x1``/``x2`` have one shape, which the two output words share.

    The five blocks of four rounds run as a ``fori_loop`` (as JAX does on CPU), which keeps
    XLA's compile time down when a sampler hashes several counter arrays.
    Example: ``threefry2x32(k1, k2, zeros((3,), uint32), iota(uint32, 3))`` gives two
    ``uint32[3]`` arrays."""
    k3 = lax.bitwise_xor(lax.bitwise_xor(k1, k2), _PARITY)
    x1 = lax.add(x1, k1)
    x2 = lax.add(x2, k2)
    rot_even = fnp.asarray(np.array(_ROTATIONS[0], _U32))
    rot_odd = fnp.asarray(np.array(_ROTATIONS[1], _U32))

    def block(i, state):
        x1, x2, ka, kb, kc, rots, next_rots = state
        for j in range(4):
            x1 = lax.add(x1, x2)
            x2 = lax.bitwise_xor(x1, _rotl(x2, lax.index_in_dim(rots, j, keepdims=False)))
        x1 = lax.add(x1, ka)
        step = lax.convert_element_type(lax.add(i, 1), _U32)
        x2 = lax.add(lax.add(x2, kb), step)
        # the key schedule and the rotation constants advance one place per block
        return x1, x2, kb, kc, ka, next_rots, rots

    x1, x2, *_ = lax.fori_loop(0, 5, block, (x1, x2, k2, k3, k1, rot_even, rot_odd))
    return x1, x2


def _key_words(data: Any):
    return (lax.index_in_dim(data, 0, keepdims=False),
            lax.index_in_dim(data, 1, keepdims=False))


def _counters(shape: tuple[int, ...]):
    """High and low words of the 64-bit counters ``0 .. size-1`` laid out in ``shape``."""
    size = math.prod(shape)
    if size > 2 ** 32:
        raise NotImplementedError(f"random arrays of more than 2**32 elements (shape {shape})")
    hi = lax.full(shape, 0, _U32)
    lo = lax.reshape(lax.iota(_U32, size), shape) if shape else hi
    return hi, lo


def _hash_counters(data: Any, shape: tuple[int, ...]):
    k1, k2 = _key_words(data)
    hi, lo = _counters(shape)
    return threefry2x32(k1, k2, hi, lo)


def _hash_run(data: Any, n: int):
    """The original (not partitionable) stream: ``n`` words from the 32-bit counters
    ``0 .. n-1``, padded with a 0 to an even count; the first half of the run is paired
    with the second, and the two output halves are put back end to end."""
    if n >= 2 ** 32 - 1:
        raise NotImplementedError(f"random arrays of more than 2**32 - 2 words with "
                                  f"jax_threefry_partitionable off ({n} words)")
    k1, k2 = _key_words(data)
    half = (n + 1) // 2
    first = lax.iota(_U32, half)
    second = lax.add(first, lax.full((half,), half, _U32))
    if n % 2:                                   # the last counter of the pair is the pad
        second = lax.concatenate([lax.slice(second, (0,), (half - 1,)),
                                  lax.full((1,), 0, _U32)], 0)
    b1, b2 = threefry2x32(k1, k2, first, second)
    return lax.slice(lax.concatenate([b1, b2], 0), (0,), (n,))


def _split_impl(data: Any, shape: tuple[int, ...]):
    if not config.threefry_partitionable:
        return lax.reshape(_hash_run(data, 2 * math.prod(shape)), shape + (2,))
    b1, b2 = _hash_counters(data, shape)
    return lax.concatenate([lax.expand_dims(b1, (len(shape),)),
                            lax.expand_dims(b2, (len(shape),))], len(shape))


def _fold_in_impl(data: Any, d: Any):
    k1, k2 = _key_words(data)
    b1, b2 = threefry2x32(k1, k2, lax.full((), 0, _U32), d)
    return lax.concatenate([lax.reshape(b1, (1,)), lax.reshape(b2, (1,))], 0)


def _join64(hi: Any, lo: Any):
    """64-bit words from their high and low 32-bit halves."""
    u64 = _UINT[64]
    return lax.bitwise_or(lax.shift_left(lax.convert_element_type(hi, u64), np.uint64(32)),
                          lax.convert_element_type(lo, u64))


def _bits_run(data: Any, bit_width: int, shape: tuple[int, ...]):
    """The original stream's bits: a run of 32-bit words, as many as the bits need. 64-bit
    values take their high word from the run's first half and the low from its second;
    8- and 16-bit values are a word's pieces, lowest bits first."""
    size = math.prod(shape)
    words = _hash_run(data, -(-bit_width * size // 32))
    if bit_width == 64:
        out = _join64(lax.slice(words, (0,), (size,)), lax.slice(words, (size,), (2 * size,)))
    elif bit_width == 32:
        out = words
    else:
        per_word = 32 // bit_width
        shifts = lax.mul(lax.iota(_U32, per_word), lax.full((per_word,), bit_width, _U32))
        pieces = lax.shift_right_logical(
            lax.broadcast_in_dim(words, (words.shape[0], per_word), (0,)),
            lax.broadcast_in_dim(shifts, (words.shape[0], per_word), (1,)))
        pieces = lax.reshape(pieces, (words.shape[0] * per_word,))
        out = lax.convert_element_type(lax.slice(pieces, (0,), (size,)), _UINT[bit_width])
    return lax.reshape(out, shape)


def _bits_impl(data: Any, bit_width: int, shape: tuple[int, ...]):
    if not config.threefry_partitionable:
        return _bits_run(data, bit_width, shape)
    b1, b2 = _hash_counters(data, shape)
    if bit_width == 64:
        return _join64(b1, b2)
    word = lax.bitwise_xor(b1, b2)
    return word if bit_width == 32 else lax.convert_element_type(word, _UINT[bit_width])


def _split2(data: Any):
    keys = _split_impl(data, (2,))
    return lax.index_in_dim(keys, 0, keepdims=False), lax.index_in_dim(keys, 1, keepdims=False)


_split_jit = jit(_split_impl, static_argnums=(1,))
_fold_in_jit = jit(_fold_in_impl)
_bits_jit = jit(_bits_impl, static_argnums=(1, 2))


# ---------------------------------------------------------------------------------------
# Keys: construction and manipulation

def _seed_data(name: str, seed: Any):
    if isinstance(seed, KeyArray):
        raise TypeError(f"{name} accepts a scalar seed, but was given a PRNG key")
    if isinstance(seed, (bool, int)):
        v = int(seed)
        if not -2 ** 63 <= v < 2 ** 63:
            raise OverflowError(f"{name}: seed {v} does not fit in a 64-bit signed integer")
        hi = (v % 2 ** 64) >> 32 if dtypes.default_int_dtype().itemsize == 8 else 0
        return fnp.asarray(np.array([hi, v % 2 ** 32], _U32))
    if isinstance(seed, (float, complex, str)) or seed is None:
        raise TypeError(f"{name}: the seed must be an integer, got {seed!r}")
    try:
        aval = get_aval(seed)
    except TypeError:
        raise TypeError(f"{name}: the seed must be an integer, got a value of type "
                        f"{type(seed).__name__}") from None
    if aval.ndim:
        raise TypeError(f"{name} accepts a scalar seed, but was given an array of shape "
                        f"{aval.shape} != (); use vmap to make several keys")
    if not dtypes.is_int(aval.dtype):
        raise TypeError(f"{name}: the seed must be an integer, got an array of dtype "
                        f"{_dtname(aval.dtype)}")
    if isinstance(seed, (np.ndarray, np.generic)):
        v = int(seed)
        hi = (v % 2 ** 64) >> 32 if aval.dtype.itemsize == 8 else 0
        return fnp.asarray(np.array([hi, v % 2 ** 32], _U32))
    return _seed_jit(seed)


def _seed_impl(seed: Any):
    dt = get_aval(seed).dtype
    lo = lax.convert_element_type(seed, _U32)
    if dt.itemsize == 8:
        hi = lax.convert_element_type(lax.shift_right_logical(seed, _scalar(32, dt)), _U32)
    else:
        hi = lax.full((), 0, _U32)
    return lax.concatenate([lax.reshape(hi, (1,)), lax.reshape(lo, (1,))], 0)


_seed_jit = jit(_seed_impl)


def PRNGKey(seed: Any):
    """A raw key: the ``uint32[2]`` array ``[seed >> 32, seed & 0xFFFFFFFF]``.

    With x64 off the seed is taken modulo 2**32 (the high word is 0), as in JAX; negative
    seeds wrap (``PRNGKey(-1)`` is ``[0, 4294967295]``). ``seed`` may be a Python int, a
    NumPy integer or an integer array of shape ``()`` (also a traced one).
    Example: ``PRNGKey(42)`` is ``uint32[2]`` ``[0, 42]``."""
    return _seed_data("PRNGKey", seed)


def key(seed: Any) -> KeyArray:
    """A typed key (a :class:`KeyArray` of shape ``()``, dtype ``key<fry>``) made from an
    integer seed exactly as :func:`PRNGKey` makes its data.
    Example: ``key_data(key(42))`` is ``[0, 42]``."""
    return KeyArray._unchecked(_seed_data("key", seed))


def key_data(keys: Any):
    """The ``uint32`` data under typed keys (shape ``keys.shape + (2,)``); raw keys are
    returned as they are. Example: ``key_data(split(key(0), 3))`` has shape ``(3, 2)``."""
    data, _ = _unwrap("key_data", keys, allow_batched=True)
    if isinstance(data, (np.ndarray, np.generic)):
        data = fnp.asarray(data)
    return data


def wrap_key_data(key_bits_array: Any, *, impl: Any = None) -> KeyArray:
    """Typed keys over ``uint32`` data of shape ``(..., 2)`` (the inverse of
    :func:`key_data`). Example: ``wrap_key_data(PRNGKey(0))`` is a key of shape ``()``."""
    if impl not in (None, "threefry2x32"):
        raise ValueError(f"wrap_key_data: only the 'threefry2x32' implementation is "
                         f"available, got impl={impl!r}")
    if isinstance(key_bits_array, KeyArray):
        raise TypeError("wrap_key_data expects uint32 key data, but was given typed keys; "
                        "use key_data(keys) first")
    return KeyArray(key_bits_array)


def key_impl(keys: Any) -> str:
    """The name of the PRNG implementation of ``keys``: always ``'threefry2x32'``."""
    _unwrap("key_impl", keys, allow_batched=True)
    return "threefry2x32"


def clone(key: Any):
    """Return ``key`` unchanged (JAX uses ``clone`` for key-reuse checking)."""
    _unwrap("clone", key, allow_batched=True)
    return key


def _num_to_shape(num: Any) -> tuple[int, ...]:
    shape = tuple(num) if isinstance(num, Sequence) else (num,)
    out = []
    for d in shape:
        if isinstance(d, (bool, np.bool_)):
            raise TypeError(f"split: num must be an integer or a tuple of integers, got {num!r}")
        try:
            d = operator.index(d)
        except TypeError:
            raise TypeError(f"split: num must be an integer or a tuple of integers, got "
                            f"{num!r}") from None
        if d < 0:
            raise ValueError(f"split: num must be nonnegative, got {num!r}")
        out.append(d)
    return tuple(out)


def split(key: Any, num: int | tuple[int, ...] = 2):
    """Split a key into ``num`` new keys (a tuple ``num`` gives that key shape).

    Returns keys of the same flavor: raw ``uint32[num, 2]`` for a raw key, typed keys of
    shape ``(num,)`` for a typed key. Example: ``k1, k2 = split(key)``."""
    data, typed = _unwrap("split", key)
    return _rewrap(_split_jit(data, _num_to_shape(num)), typed)


def fold_in(key: Any, data: Any):
    """A new key that is a deterministic function of ``key`` and the 32-bit integer
    ``data`` (e.g. a step number or a device index); the flavor of ``key`` is kept.
    Example: ``fold_in(key, 3)`` is a key of shape ``()``."""
    kdata, typed = _unwrap("fold_in", key)
    if isinstance(data, (bool, int)):
        if not 0 <= int(data) < 2 ** 32:
            raise OverflowError(f"fold_in: data {int(data)} is out of bounds for uint32")
        d = np.uint32(int(data))
    elif isinstance(data, float):
        d = np.asarray(data).astype(_U32)
    else:
        try:
            aval = get_aval(data)
        except TypeError:
            raise TypeError(f"fold_in: data must be a 32-bit integer scalar, got a value of "
                            f"type {type(data).__name__}") from None
        if aval.ndim:
            raise TypeError(f"fold_in accepts a scalar, but was given an array of shape "
                            f"{aval.shape} != (); use vmap to fold in several values")
        d = lax.convert_element_type(data, _U32)
    return _rewrap(_fold_in_jit(kdata, d), typed)


# ---------------------------------------------------------------------------------------
# Argument helpers

def _float_dtype(name: str, dtype: Any, kinds: str = "f") -> np.dtype:
    dt = dtypes.canonicalize_dtype(float if dtype is None else dtype)
    ok = dtypes.is_float(dt) if kinds == "f" else dtypes.is_inexact(dt)
    if not ok:
        what = "a float" if kinds == "f" else "a float or complex"
        raise ValueError(f"dtype argument to `{name}` must be {what} dtype, got "
                         f"{_dtname(dt)}")
    return dt


def _shape_of(x: Any) -> tuple[int, ...]:
    return tuple(get_aval(x).shape) if not isinstance(x, (int, float, bool)) else ()


def _check_shape(name: str, shape: tuple[int, ...], *param_shapes) -> None:
    """Parameters must broadcast to exactly ``shape`` (as in JAX)."""
    if not param_shapes:
        return
    try:
        got = np.broadcast_shapes(shape, *param_shapes)
    except ValueError:
        got = None
    if got != tuple(shape):
        result = ("they do not broadcast together" if got is None
                  else f"broadcasting gives shape {got}")
        raise ValueError(f"{name}: parameter shapes {', '.join(map(str, param_shapes))} must "
                         f"broadcast to the shape argument {tuple(shape)}, but {result}")


def _bcast(x: Any, shape: tuple[int, ...]):
    """``x`` broadcast to ``shape`` (NumPy rules: leading axes are added)."""
    xshape = get_aval(x).shape
    if tuple(xshape) == tuple(shape):
        return x
    dims = tuple(range(len(shape) - len(xshape), len(shape)))
    if len(xshape) and any(a != 1 and a != shape[d] for a, d in zip(xshape, dims)):
        raise ValueError(f"cannot broadcast shape {xshape} to {shape}")
    squeezed = [d for d, a in zip(dims, xshape) if a == 1 and shape[d] != 1]
    if squeezed:
        x = lax.reshape(x, tuple(a for d, a in zip(dims, xshape) if d not in squeezed))
        dims = tuple(d for d in dims if d not in squeezed)
    return lax.broadcast_in_dim(x, shape, dims)


# ---------------------------------------------------------------------------------------
# Samplers (each ``_*_impl`` works on raw key data and is jitted with static shape/dtype)

def _uniform_impl(data, minval, maxval, shape, dtype):
    info = dtypes.finfo(dtype)
    nbits, nmant = info.bits, info.nmant
    rng_bits = 8 if nmant < 8 else nbits
    udt = _UINT[nbits]
    rbits = _bits_impl(data, rng_bits, shape)
    if rng_bits != nbits:
        rbits = lax.convert_element_type(rbits, udt)
    mant = lax.shift_right_logical(rbits, _scalar(rng_bits - nmant, udt))
    one = np.array(1.0, dtype).view(udt)[()]
    floats = lax.sub(lax.bitcast_convert_type(lax.bitwise_or(mant, one), dtype),
                     _scalar(1.0, dtype))
    lo = lax.convert_element_type(minval, dtype)
    hi = lax.convert_element_type(maxval, dtype)
    width = _bcast(lax.sub(_bcast(hi, _bshape(hi, lo)), _bcast(lo, _bshape(hi, lo))), shape)
    lo = _bcast(lo, shape)
    return lax.max(lo, lax.add(lax.mul(floats, width), lo))


def _bshape(*xs) -> tuple[int, ...]:
    return tuple(np.broadcast_shapes(*(get_aval(x).shape for x in xs)))


_uniform_jit = jit(_uniform_impl, static_argnums=(3, 4))


def uniform(key: Any, shape: Sequence[int] = (), dtype: Any = None, minval: Any = 0.,
            maxval: Any = 1.):
    """Uniform samples in ``[minval, maxval)`` of the given shape and float dtype (default
    float32; float64 with x64). ``minval``/``maxval`` broadcast to ``shape`` and may be
    traced (the samples differentiate with respect to them).
    Example: ``uniform(key, (2, 3), minval=-1.)`` is ``float32[2,3]`` in ``[-1, 1)``."""
    data, _ = _unwrap("uniform", key)
    dtype = _float_dtype("uniform", dtype)
    shape = canonical_shape("uniform", shape)
    _check_shape("uniform", shape, _shape_of(minval), _shape_of(maxval))
    return _uniform_jit(data, minval, maxval, shape, dtype)


def _normal_real(data, shape, dtype):
    lo = np.nextafter(np.array(-1., dtype), np.array(0., dtype))[()]
    u = _uniform_impl(data, lo, _scalar(1., dtype), shape, dtype)
    return lax.mul(_scalar(np.sqrt(2), dtype), lax.erf_inv(u))


def _normal_impl(data, shape, dtype):
    if not dtypes.is_complex(dtype):
        return _normal_real(data, shape, dtype)
    real = np.dtype(np.float32 if dtype == np.complex64 else np.float64)
    k_re, k_im = _split2(data)
    re = lax.convert_element_type(_normal_real(k_re, shape, real), dtype)
    im = lax.convert_element_type(_normal_real(k_im, shape, real), dtype)
    z = lax.add(re, lax.mul(_scalar(1j, dtype), im))
    return lax.div(z, _scalar(np.sqrt(2), dtype))


_normal_jit = jit(_normal_impl, static_argnums=(1, 2))


def normal(key: Any, shape: Sequence[int] = (), dtype: Any = None):
    """Standard normal samples: ``sqrt(2) * erf_inv(u)`` with ``u`` uniform in
    ``(-1, 1)``. Complex dtypes give independent real and imaginary parts of variance
    1/2 each. Example: ``mu + sigma * normal(key, (3,))`` is ``float32[3]``."""
    data, _ = _unwrap("normal", key)
    dtype = _float_dtype("normal", dtype, kinds="fc")
    return _normal_jit(data, canonical_shape("normal", shape), dtype)


def _truncated_normal_impl(data, lower, upper, shape, dtype):
    sqrt2 = _scalar(np.sqrt(2), dtype)
    lower = lax.convert_element_type(lower, dtype)
    upper = lax.convert_element_type(upper, dtype)
    a = lax.erf(lax.div(lower, sqrt2))
    b = lax.erf(lax.div(upper, sqrt2))
    u = _uniform_impl(data, a, b, shape, dtype)
    out = lax.mul(sqrt2, lax.erf_inv(u))
    lo = _bcast(lax.nextafter(lax.stop_gradient(lower), _scalar(np.inf, dtype)), shape)
    hi = _bcast(lax.nextafter(lax.stop_gradient(upper), _scalar(-np.inf, dtype)), shape)
    return lax.min(hi, lax.max(lo, out))


_truncated_normal_jit = jit(_truncated_normal_impl, static_argnums=(3, 4))


def truncated_normal(key: Any, lower: Any, upper: Any, shape: Sequence[int] | None = None,
                     dtype: Any = None):
    """Standard normal samples conditioned on ``lower < x < upper`` (inverse-CDF method;
    results are clipped into the open interval). ``shape`` defaults to the broadcast shape
    of ``lower`` and ``upper``.
    Example: ``truncated_normal(key, -2., 2., (5,))`` is ``float32[5]`` in ``(-2, 2)``."""
    data, _ = _unwrap("truncated_normal", key)
    dtype = _float_dtype("truncated_normal", dtype)
    pshapes = (_shape_of(lower), _shape_of(upper))
    if shape is None:
        shape = tuple(np.broadcast_shapes(*pshapes))
    else:
        shape = canonical_shape("truncated_normal", shape)
        _check_shape("truncated_normal", shape, *pshapes)
    return _truncated_normal_jit(data, lower, upper, shape, dtype)


def _bernoulli_impl(data, p, shape, mode):
    dtype = get_aval(p).dtype
    pb = _bcast(p, shape)
    if mode == "high":
        u = _uniform_impl(data, 0., 1., (2,) + shape, dtype)
        u1 = lax.index_in_dim(u, 0, keepdims=False)
        u2 = lax.index_in_dim(u, 1, keepdims=False)
        u2 = lax.mul(u2, _scalar(2.0 ** -dtypes.finfo(dtype).nmant, dtype))
        return lax.lt(u2, lax.sub(pb, u1))
    return lax.lt(_uniform_impl(data, 0., 1., shape, dtype), pb)


_bernoulli_jit = jit(_bernoulli_impl, static_argnums=(2, 3))


def bernoulli(key: Any, p: Any = 0.5, shape: Sequence[int] | None = None, mode: str = "low"):
    """Boolean samples that are True with probability ``p`` (a float or float array that
    broadcasts to ``shape``; ``shape`` defaults to ``p``'s shape). ``mode='high'`` uses
    twice the bits, for accuracy at tiny ``p``.
    Example: ``bernoulli(key, 0.3, (4,))`` is ``bool[4]``."""
    if mode not in ("high", "low"):
        raise ValueError(f"bernoulli: got mode={mode!r}, expected 'high' or 'low'")
    data, _ = _unwrap("bernoulli", key)
    p_dt = dtypes.dtype_of(p) if not isinstance(p, float) else dtypes.default_float_dtype()
    p_dt = dtypes.canonicalize_dtype(p_dt)
    if not dtypes.is_float(p_dt):
        raise TypeError(f"bernoulli probability `p` must have a floating dtype, got "
                        f"{_dtname(p_dt)}")
    p = lax.convert_element_type(p, p_dt)
    pshape = tuple(get_aval(p).shape)
    if shape is None:
        shape = pshape
    else:
        shape = canonical_shape("bernoulli", shape)
        _check_shape("bernoulli", shape, pshape)
    return _bernoulli_jit(data, p, shape, mode)


def _exponential_impl(data, shape, dtype):
    u = _uniform_impl(data, 0., 1., shape, dtype)
    return lax.neg(lax.log1p(lax.neg(u)))


_exponential_jit = jit(_exponential_impl, static_argnums=(1, 2))


def exponential(key: Any, shape: Sequence[int] = (), dtype: Any = None):
    """Exponential samples with rate 1: ``-log1p(-u)`` for ``u`` uniform in ``[0, 1)``.
    Example: ``exponential(key, (3,))`` is ``float32[3]``, all ``>= 0``."""
    data, _ = _unwrap("exponential", key)
    dtype = _float_dtype("exponential", dtype)
    return _exponential_jit(data, canonical_shape("exponential", shape), dtype)


# -- Gumbel ------------------------------------------------------------------------------

def _clz32(x):
    """Count of leading zero bits of each uint32 (32 for 0), by binary search."""
    n = lax.full(get_aval(x).shape, 0, _U32)
    for s in (16, 8, 4, 2, 1):
        top_clear = lax.lt(x, np.uint32(1 << (32 - s)))
        n = lax.select(top_clear, lax.add(n, np.uint32(s)), n)
        x = lax.select(top_clear, lax.shift_left(x, np.uint32(s)), x)
    return lax.select(lax.eq(x, np.uint32(0)), lax.add(n, np.uint32(1)), n)


def _unit_float32_from_64_bits(hi, lo):
    """A float32 in (0, 1) from the 64-bit fixed-point fraction ``hi:lo`` (which must not
    be 0), rounding toward zero, with the full float32 exponent range."""
    info = dtypes.finfo(np.float32)
    hz, lz = _clz32(hi), _clz32(lo)
    hi_all_zero = lax.eq(hz, np.uint32(32))
    mant = lax.bitwise_or(lax.shift_left(hi, hz),
                          lax.select(hi_all_zero, lax.shift_left(lo, lz),
                                     lax.shift_right_logical(lo, lax.sub(np.uint32(32), hz))))
    mant = lax.shift_right_logical(mant, np.uint32(info.bits - info.nmant - 1))
    mant = lax.bitwise_and(mant, np.uint32((1 << info.nmant) - 1))
    lead = lax.select(hi_all_zero, lax.add(lz, np.uint32(32)), hz)
    exp = lax.shift_left(lax.sub(np.uint32(-info.minexp), lead), np.uint32(info.nmant))
    exp = lax.bitwise_and(exp, np.uint32((1 << (info.bits - 2)) - (1 << (info.nmant - 1))))
    return lax.bitcast_convert_type(lax.bitwise_or(exp, mant), np.float32)


def _gumbel_impl(data, shape, dtype, mode):
    info = dtypes.finfo(dtype)
    if mode == "highest" and dtype == np.float32:
        b = _bits_impl(data, 32, (2,) + shape)
        hi, lo = lax.index_in_dim(b, 0, keepdims=False), lax.index_in_dim(b, 1, keepdims=False)
        # 1 - bits as a 64-bit fixed-point fraction: ~bits + 1 with the carry.
        nhi, nlo = lax.bitwise_not(hi), lax.bitwise_not(lo)
        carry = lax.convert_element_type(lax.eq(nlo, np.uint32(0xFFFFFFFF)), _U32)
        nhi, nlo = lax.add(nhi, carry), lax.add(nlo, np.uint32(1))
        small = lax.lt(hi, np.uint32(1 << 31))
        x = _unit_float32_from_64_bits(lax.select(small, hi, nhi), lax.select(small, lo, nlo))
        # log1p for x in (0, 1/2) (x is then u itself), log for 1 - u in (0, 1/2].
        return lax.select(small, lax.neg(lax.log(lax.neg(lax.log1p(lax.neg(x))))),
                          lax.neg(lax.log(lax.neg(lax.log(x)))))
    if mode in ("high", "highest"):
        u = _uniform_impl(data, 0., 1., (2,) + shape, dtype)
        high = lax.index_in_dim(u, 0, keepdims=False)
        low = lax.index_in_dim(u, 1, keepdims=False)
        filled = lax.add(lax.add(high, lax.mul(_scalar(2.0 ** -info.nmant, dtype), low)),
                         _scalar(info.tiny, dtype))
        x = lax.select(lax.ge(high, _scalar(0.5, dtype)), high, filled)
        return lax.neg(lax.log(lax.neg(lax.log1p(lax.neg(x)))))
    u = _uniform_impl(data, _scalar(info.tiny, dtype), 1., shape, dtype)
    return lax.neg(lax.log(lax.neg(lax.log(u))))


_gumbel_jit = jit(_gumbel_impl, static_argnums=(1, 2, 3))


def _gumbel_mode(name: str, mode: Any) -> str:
    mode = "low" if mode is None else mode
    if mode not in ("highest", "high", "low"):
        raise ValueError(f"{name}: mode must be 'low', 'high' or 'highest', got {mode!r}")
    return mode


def gumbel(key: Any, shape: Sequence[int] = (), dtype: Any = None, mode: str | None = None):
    """Standard Gumbel samples ``-log(-log(u))``. ``mode='high'`` (or ``'highest'``) spends
    more random bits so that the largest attainable values are larger.
    Example: ``gumbel(key, (3,))`` is ``float32[3]``."""
    data, _ = _unwrap("gumbel", key)
    dtype = _float_dtype("gumbel", dtype)
    return _gumbel_jit(data, canonical_shape("gumbel", shape), dtype, _gumbel_mode("gumbel", mode))


def categorical(key: Any, logits: Any, axis: int = -1, shape: Sequence[int] | None = None,
                replace: bool = True, mode: str | None = None):
    """Sample indices from categorical distributions given by unnormalized log
    probabilities ``logits`` along ``axis`` (the Gumbel-max trick; ``replace=False`` uses
    Gumbel top-k and draws distinct indices). The result shape is ``shape``, by default
    ``logits.shape`` without ``axis``.
    Example: ``categorical(key, zeros((4, 10)))`` is ``int32[4]`` in ``[0, 10)``."""
    _unwrap("categorical", key)
    mode = _gumbel_mode("categorical", mode)
    logits = fnp.asarray(logits)
    ndim = logits.ndim
    if ndim == 0:
        raise ValueError("categorical: logits must have at least one axis")
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"categorical: axis must be an integer, got {axis!r}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"categorical: axis {axis} is out of bounds for logits of rank {ndim}")
    axis = int(axis) % ndim
    batch_shape = tuple(d for i, d in enumerate(logits.shape) if i != axis)
    if shape is None:
        shape = batch_shape
    else:
        shape = canonical_shape("categorical", shape)
        _check_shape("categorical", shape, batch_shape)
    prefix = shape[:len(shape) - len(batch_shape)]
    if replace:
        logits_shape = list(shape[len(shape) - len(batch_shape):])
        logits_shape.insert(axis, logits.shape[axis])
        g = gumbel(key, (*prefix, *logits_shape), logits.dtype, mode=mode)
        expanded = lax.expand_dims(logits, tuple(range(len(prefix))))
        idx = fnp.argmax(fnp.add(g, expanded), axis=len(prefix) + axis)
        return lax.convert_element_type(idx, dtypes.default_int_dtype())
    k = math.prod(prefix)
    if k > logits.shape[axis]:
        raise ValueError(f"categorical: number of samples without replacement ({k}) cannot "
                         f"exceed the number of categories ({logits.shape[axis]})")
    perturbed = fnp.add(logits, gumbel(key, logits.shape, logits.dtype, mode=mode))
    _, idx = lax.top_k(fnp.moveaxis(perturbed, axis, -1), k)
    return lax.reshape(idx, shape, (idx.ndim - 1, *range(idx.ndim - 1)))


# -- integers ----------------------------------------------------------------------------

def _clip_into(x, dtype):
    """Convert integer array ``x`` to integer ``dtype``, saturating instead of wrapping."""
    src = get_aval(x).dtype
    lo = max(int(dtypes.iinfo(dtype).min), int(dtypes.iinfo(src).min))
    hi = min(int(dtypes.iinfo(dtype).max), int(dtypes.iinfo(src).max))
    x = lax.clamp(_scalar(lo, src), x, _scalar(hi, src))
    return lax.convert_element_type(x, dtype)


def _randint_impl(data, minval, maxval, shape, dtype):
    minval, maxval = fnp.asarray(minval), fnp.asarray(maxval)
    if not dtypes.is_int(minval.dtype):
        minval = minval.astype(dtypes.default_int_dtype())
    if not dtypes.is_int(maxval.dtype):
        maxval = maxval.astype(dtypes.default_int_dtype())
    nbits = dtypes.iinfo(dtype).bits
    udt = _UINT[nbits]
    # maxval may exceed dtype's maximum (randint(key, s, 0, 256, uint8)): then the span
    # is one larger than maxval - minval computed in dtype.
    top = min(int(dtypes.iinfo(dtype).max), int(dtypes.iinfo(maxval.dtype).max))
    out_of_range = _bcast(lax.gt(maxval, _scalar(top, maxval.dtype)), shape)
    minval = _bcast(_clip_into(minval, dtype), shape)
    maxval = _bcast(_clip_into(maxval, dtype), shape)

    k1, k2 = _split2(data)
    higher, lower = _bits_impl(k1, nbits, shape), _bits_impl(k2, nbits, shape)
    span = lax.convert_element_type(lax.sub(maxval, minval), udt)
    span = lax.select(lax.le(maxval, minval), lax.full(shape, 1, udt), span)
    span = lax.select(lax.bitwise_and(out_of_range, lax.gt(maxval, minval)),
                      lax.add(span, _scalar(1, udt)), span)
    # (higher * 2**nbits + lower) mod span, without overflow: 2**nbits mod span is
    # ((2**(nbits/2) mod span)**2) mod span.
    mult = lax.rem(lax.full(shape, 2 ** (nbits // 2), udt), span)
    mult = lax.rem(lax.mul(mult, mult), span)
    offset = lax.add(lax.mul(lax.rem(higher, span), mult), lax.rem(lower, span))
    offset = lax.rem(offset, span)
    return lax.add(minval, lax.convert_element_type(offset, dtype))


_randint_jit = jit(_randint_impl, static_argnums=(3, 4))


def randint(key: Any, shape: Sequence[int], minval: Any, maxval: Any, dtype: Any = None):
    """Integers in ``[minval, maxval)`` (bounds broadcast to ``shape``; if ``maxval <=
    minval`` the result is ``minval``). Two random words are drawn per value and reduced
    modulo the span, so the bias is tiny unless the span is huge. 8- and 16-bit dtypes are
    sampled in 32 bits. Example: ``randint(key, (3,), 0, 10)`` is ``int32[3]``."""
    data, _ = _unwrap("randint", key)
    dtype = dtypes.canonicalize_dtype(int if dtype is None else dtype)
    if not dtypes.is_int(dtype) or dtypes.is_bool(dtype):
        raise TypeError(f"randint only accepts integer dtypes, got "
                        f"{_dtname(dtype)}")
    shape = canonical_shape("randint", shape)
    _check_shape("randint", shape, _shape_of(minval), _shape_of(maxval))
    info = dtypes.iinfo(dtype)
    sample_dtype = dtype
    if info.bits < 32:
        sample_dtype = np.dtype(np.int32)
        minval = fnp.clip(fnp.asarray(minval).astype(np.int32), int(info.min), int(info.max))
        maxval = fnp.clip(fnp.asarray(maxval).astype(np.int32), int(info.min),
                          int(info.max) + 1)
    out = _randint_jit(data, minval, maxval, shape, sample_dtype)
    return out if sample_dtype == dtype else lax.convert_element_type(out, dtype)


# -- permutations and choice -------------------------------------------------------------

def _shuffle_impl(data, x, axis):
    # Sort by fresh random 32-bit keys, enough rounds that all elements get distinct key
    # strings with high probability (the number of rounds grows like log(size)).
    size = math.prod(get_aval(x).shape)
    rounds = int(np.ceil(3 * np.log(max(1, size)) / np.log(np.iinfo(np.uint32).max)))
    for _ in range(rounds):
        data, sub = _split2(data)
        _, x = lax.sort_key_val(_bits_impl(sub, 32, tuple(get_aval(x).shape)), x, axis)
    return x


_shuffle_jit = jit(_shuffle_impl, static_argnums=(2,))


def _concrete_int(name: str, x: Any) -> int:
    try:
        return operator.index(x)
    except TypeError:
        pass
    try:
        return int(np.asarray(x))
    except Exception:
        raise TypeError(f"{name}: the integer argument must be concrete (not traced) to "
                        f"fix the output shape, got {x!r}") from None


def permutation(key: Any, x: Any, axis: int = 0, independent: bool = False):
    """A random permutation of ``arange(x)`` (integer ``x``) or of ``x`` along ``axis``.
    With ``independent=True`` each slice along ``axis`` is shuffled separately; otherwise
    whole slices are moved together.
    Example: ``permutation(key, 5)`` is a shuffled ``int32[5]`` ``arange(5)``."""
    data, _ = _unwrap("permutation", key)
    if isinstance(x, (bool, int)) or (not isinstance(x, KeyArray) and _shape_of(x) == ()):
        dt = dtypes.dtype_of(x) if not isinstance(x, int) else np.dtype(np.int64)
        if isinstance(x, bool) or not dtypes.is_int(dt) or dtypes.is_bool(dt):
            raise TypeError("permutation: x must be an integer or at least 1-dimensional")
        n = _concrete_int("permutation", x)
        if axis not in (0, -1):
            raise ValueError(f"permutation: axis {axis} is out of bounds for rank 1")
        return _shuffle_jit(data, fnp.arange(n), 0)
    x = fnp.asarray(x)
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"permutation: axis must be an integer, got {axis!r}")
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"permutation: axis {axis} is out of bounds for an array of rank "
                         f"{x.ndim}")
    axis = int(axis) % x.ndim
    if independent or x.ndim == 1:
        return _shuffle_jit(data, x, axis)
    ind = _shuffle_jit(data, fnp.arange(x.shape[axis]), 0)
    return fnp.take(x, ind, axis=axis, unique_indices=True)


def choice(key: Any, a: Any, shape: Sequence[int] = (), replace: bool = True, p: Any = None,
           axis: int = 0, mode: str | None = None):
    """Random samples from ``a`` (an array, sampled along ``axis``, or an int ``n``
    meaning ``arange(n)``), with or without replacement and with optional probabilities
    ``p`` (a 1-D array of length ``a.shape[axis]``). The result has shape ``shape`` in
    place of ``axis``. Example: ``choice(key, 10, (3,), replace=False)`` gives three
    distinct ``int32`` values in ``[0, 10)``."""
    data, _ = _unwrap("choice", key)
    if not isinstance(shape, Sequence):
        raise TypeError(f"shape argument of choice must be a sequence, got {shape!r}")
    shape = canonical_shape("choice", shape)
    arr = fnp.asarray(a)
    if arr.ndim == 0:
        n_inputs = _concrete_int("choice", a)
    else:
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise TypeError(f"choice: axis must be an integer, got {axis!r}")
        if not -arr.ndim <= axis < arr.ndim:
            raise ValueError(f"choice: axis {axis} is out of bounds for an array of rank "
                             f"{arr.ndim}")
        axis = int(axis) % arr.ndim
        n_inputs = arr.shape[axis]
    n_draws = math.prod(shape)
    if n_draws == 0:
        return fnp.zeros(shape, dtype=arr.dtype)
    if n_inputs <= 0:
        raise ValueError("choice: a must be greater than 0 unless no samples are taken")
    if not replace and n_draws > n_inputs:
        raise ValueError(f"choice: cannot take a larger sample (size {n_draws}) than the "
                         f"population (size {n_inputs}) when replace=False")
    int_dt = dtypes.default_int_dtype()
    if p is None:
        if replace:
            ind = randint(key, shape, 0, n_inputs)
            result = ind if arr.ndim == 0 else fnp.take(arr, ind, axis=axis)
        else:
            perm = permutation(key, n_inputs if arr.ndim == 0 else arr, axis)
            result = lax.slice_in_dim(perm, 0, n_draws, axis=axis if arr.ndim else 0)
    else:
        p_arr = fnp.asarray(p)
        if not dtypes.is_inexact(p_arr.dtype):
            p_arr = p_arr.astype(dtypes.default_float_dtype())
        if tuple(p_arr.shape) != (n_inputs,):
            raise ValueError(f"choice: p must be None or a 1D vector with the same size as "
                             f"a.shape[axis]; p has shape {tuple(p_arr.shape)} and "
                             f"a.shape[axis] is {n_inputs}")
        if replace:
            p_cuml = fnp.cumsum(p_arr)
            u = uniform(key, shape, dtype=p_cuml.dtype)
            r = fnp.multiply(p_cuml[-1], fnp.subtract(1, u))
            # searchsorted(p_cuml, r, side='left') for the sorted cumulative sums
            below = fnp.less(p_cuml, fnp.expand_dims(r, -1))
            ind = fnp.sum(below, axis=-1).astype(int_dt)
        else:
            g = fnp.add(gumbel(key, (n_inputs,), dtype=p_arr.dtype, mode=mode), fnp.log(p_arr))
            ind = lax.top_k(g, n_draws)[1].astype(int_dt)
        result = ind if arr.ndim == 0 else fnp.take(arr, ind, axis=axis)
    out_shape = shape if arr.ndim == 0 else \
        tuple(arr.shape[:axis]) + shape + tuple(arr.shape[axis + 1:])
    return fnp.reshape(result, out_shape)


# ---------------------------------------------------------------------------------------
# Raw bits

def bits(key: Any, shape: Sequence[int] = (), dtype: Any = None):
    """Uniformly random unsigned integers (every bit pattern equally likely); ``dtype`` is
    an unsigned dtype, by default uint32 (uint64 with x64).
    Example: ``bits(key, (2,), np.uint8)`` is ``uint8[2]``."""
    data, _ = _unwrap("bits", key)
    dt = dtypes.default_uint_dtype() if dtype is None else dtypes.canonicalize_dtype(dtype)
    if not dtypes.is_unsigned(dt):
        raise ValueError(f"dtype argument to `bits` must be an unsigned int dtype, got "
                         f"{_dtname(dt)}")
    return _bits_jit(data, dt.itemsize * 8, canonical_shape("bits", shape))


# The samplers that transform these ones (laplace, cauchy, ..., multivariate_normal) live
# in their own module, imported last because it builds on the functions above.
from functorch_lite.random_distributions import (cauchy, double_sided_maxwell,  # noqa: E402,F401
                                                 geometric, laplace, logistic, lognormal,
                                                 maxwell, multivariate_normal, orthogonal,
                                                 pareto, rademacher, rayleigh, triangular,
                                                 wald, weibull_min)
from functorch_lite.random_gamma import (ball, beta, chisquare, dirichlet, f,  # noqa: E402,F401
                                         gamma, generalized_normal, loggamma, poisson,
                                         t)
