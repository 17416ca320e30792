"""Issue 13, numpy: ``functorch_lite.numpy`` behaves as ``jax.numpy`` where real JAX programs
noticed the difference (JAX is the oracle throughout).

* out-of-bounds static indices clamp (``arange(10)[11]`` is 9), eagerly and under jit, and
  ``.at[i].get(mode=..., fill_value=...)`` follows JAX's modes;
* the scalar types (``fnp.float32``, ``fnp.int32``, ``fnp.bool_``, ...) are JAX's kind of
  object: calling one makes an Array, each stands for its dtype everywhere (NumPy included);
* ``np.array(x)`` honours NumPy 2's ``__array__(dtype, copy)`` protocol (a writable copy);
* ragged nested lists raise ``ValueError``;
* a 64-bit dtype requested with x64 off warns (UserWarning naming ``jax_enable_x64``);
* an explicit ``dtype`` drops the weak type, and ``array(x)`` copies the device buffer.
"""
from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite.core.dtypes import SUPPORTED_DTYPES
from rule_checks import x64


def same(got, want):
    """Equal values, dtypes and weak types."""
    got_np, want_np = np.asarray(got), np.asarray(want)
    assert got_np.dtype == want_np.dtype, (got_np.dtype, want_np.dtype)
    np.testing.assert_array_equal(got_np, want_np)
    assert getattr(got, "weak_type", False) == getattr(want, "weak_type", False)


def outcome(fn):
    """``fn()``'s value, or the type of the exception it raised."""
    try:
        return fn()
    except Exception as e:  # noqa: BLE001 (the type is what is compared)
        return type(e)


def same_outcome(f_ours, f_jax):
    got, want = outcome(f_ours), outcome(f_jax)
    if isinstance(want, type):
        assert got is want, (got, want)
    else:
        assert not isinstance(got, type), f"raised {got.__name__}, JAX gave {want}"
        same(got, want)


# ---------------------------------------------------------------------------------------
# Bug 5: out-of-bounds static indexing clamps

V10 = np.arange(10, dtype=np.float32)
M34 = np.arange(12, dtype=np.float32).reshape(3, 4)

STATIC_INDICES = [
    (V10, 11), (V10, -11), (V10, -20), (V10, 10), (V10, slice(8, 20)), (V10, slice(-20, 3)),
    (V10, (None, 12, None)), (V10, (Ellipsis, 15)), (V10, np.array([11, -11, 3])),
    (M34, 5), (M34, (5, 7)), (M34, (-7, 1)), (M34, (slice(None), 9)), (M34, (1, -9)),
    (M34, (slice(1, 5, 2), 9)), (M34, (slice(None, None, -1), 5)),
    (M34, (4, np.array([0, 9]))), (M34, (np.array([0, 9]), 5)),
]


@pytest.mark.parametrize("operand,idx", STATIC_INDICES)
def test_static_out_of_bounds_index_clamps_like_jax(operand, idx):
    x, xj = fnp.asarray(operand), jnp.asarray(operand)
    same(x[idx], xj[idx])
    same(fl.jit(lambda a: a[idx])(x), jax.jit(lambda a: a[idx])(xj))


@pytest.mark.parametrize("mode", [None, "clip", "fill", "drop"])
@pytest.mark.parametrize("wrap", [True, False])
@pytest.mark.parametrize("idx", [11, -11, -1, 3, (np.array([-1, -10, -11, 10]),)])
def test_at_get_modes_like_jax(mode, wrap, idx):
    x, xj = fnp.asarray(V10), jnp.asarray(V10)
    for kw in ({}, {"fill_value": np.nan}, {"fill_value": -1}):
        if kw and mode != "fill":
            continue
        same(x.at[idx].get(mode=mode, wrap_negative_indices=wrap, **kw),
             xj.at[idx].get(mode=mode, wrap_negative_indices=wrap, **kw))
    same(fl.jit(lambda a: a.at[idx].get(mode=mode, wrap_negative_indices=wrap))(x),
         jax.jit(lambda a: a.at[idx].get(mode=mode, wrap_negative_indices=wrap))(xj))


def test_at_get_fill_of_an_int_array_and_promise_in_bounds():
    x, xj = fnp.arange(10), jnp.arange(10)
    same(x.at[11].get(mode="fill"), xj.at[11].get(mode="fill"))  # int fill: iinfo.min
    same(x.at[2].get(mode="promise_in_bounds"), xj.at[2].get(mode="promise_in_bounds"))
    same(fnp.arange(10.).at[11].get(mode="fill", fill_value=fnp.nan),
         jnp.arange(10.).at[11].get(mode="fill", fill_value=jnp.nan))


@pytest.mark.parametrize("idx", [11, -11, (np.array([12, -12, 2]),)])
def test_out_of_bounds_static_updates_are_dropped_like_jax(idx):
    x, xj = fnp.asarray(V10), jnp.asarray(V10)
    same(x.at[idx].set(5.), xj.at[idx].set(5.))
    same(x.at[idx].add(5.), xj.at[idx].add(5.))


@pytest.mark.parametrize("make", [
    lambda np_: np_.zeros(0)[0],
    lambda np_: np_.zeros((0, 3))[-1, 1],
    lambda np_: np_.zeros((3, 0))[1],
    lambda np_: np_.zeros(0).at[0].get(),
    lambda np_: np_.zeros(0).at[0].set(1.0),
    lambda np_: np_.zeros(0).at[0].get(mode="fill", fill_value=3.),
    lambda np_: np_.zeros(0)[np_.asarray(0)],
    lambda np_: np_.arange(10.)[2**40],
    lambda np_: np_.arange(10.)[-2**31 - 1],
    lambda np_: np_.arange(10.)[2**31 - 1],
])
def test_static_index_errors_like_jax(make):
    # an empty axis has nothing to clamp to (IndexError); a Python int must fit int32
    same_outcome(lambda: make(fnp), lambda: make(jnp))


# ---------------------------------------------------------------------------------------
# Bug 6: scalar types

def _jax_scalar_type_names():
    from jax._src.numpy.scalar_types import _ScalarMeta
    ours = set(SUPPORTED_DTYPES)
    return sorted(n for n in dir(jnp) if isinstance(getattr(jnp, n), _ScalarMeta)
                  and getattr(jnp, n).dtype in ours)


SCALAR_TYPE_NAMES = _jax_scalar_type_names()


def test_every_supported_jax_scalar_type_exists_with_the_same_dtype():
    assert {"float32", "bfloat16", "bool_", "int_", "float_", "uint8"} <= set(SCALAR_TYPE_NAMES)
    for name in SCALAR_TYPE_NAMES:
        ours, theirs = getattr(fnp, name), getattr(jnp, name)
        assert ours.dtype == theirs.dtype, name
        assert isinstance(ours, type) and ours.__name__ == theirs.__name__
        assert repr(ours) == repr(theirs).replace("jax.numpy", "functorch_lite.numpy")


@pytest.mark.parametrize("name", ["float32", "int32", "bool_", "bfloat16", "uint8", "float16",
                                  "complex64", "int8"])
@pytest.mark.parametrize("value", [1.0, 3.7, [1, 2], 0, True, np.float64(2.5),
                                   np.arange(3.0)])
def test_calling_a_scalar_type_makes_an_array(name, value):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", np.exceptions.ComplexWarning)
        same_outcome(lambda: getattr(fnp, name)(value), lambda: getattr(jnp, name)(value))
    got = getattr(fnp, name)(value)
    assert isinstance(got, fl.Array) and got.dtype == getattr(jnp, name).dtype


def test_scalar_types_of_arrays_and_under_jit():
    x, xj = fnp.asarray([1.5, 2.5]), jnp.asarray([1.5, 2.5])
    same(fnp.int32(x), jnp.int32(xj))
    same(fl.jit(lambda a: fnp.float32(a) + fnp.int32(1))(x),
         jax.jit(lambda a: jnp.float32(a) + jnp.int32(1))(xj))
    same(fl.jit(lambda a, t: a.astype(t), static_argnums=1)(x, fnp.int32),
         jax.jit(lambda a, t: a.astype(t), static_argnums=1)(xj, jnp.int32))


def test_scalar_types_stand_for_their_dtype():
    for name in ["float32", "bfloat16", "int8", "bool_", "uint32", "complex64", "float16"]:
        t, tj = getattr(fnp, name), getattr(jnp, name)
        assert t.dtype == tj.dtype == np.dtype(t) == fnp.dtype(t) == np.dtype(tj)
        assert np.zeros(3, t).dtype == np.zeros(3, tj).dtype       # NumPy accepts them
        assert np.asarray([1, 0], dtype=t).dtype == t.dtype
        assert np.arange(3).astype(t).dtype == t.dtype
        assert fnp.zeros(3, t).dtype == jnp.zeros(3, tj).dtype      # and so does fnp
        assert fnp.ones((2,), dtype=t).dtype == t.dtype
        assert fnp.arange(3).astype(t).dtype == t.dtype
        assert fnp.full((2,), 1, t).dtype == t.dtype
        assert fl.lax.convert_element_type(fnp.arange(3), t).dtype == t.dtype
        # compare and hash like NumPy's class, as JAX's do
        assert t == t.dtype.type and t.dtype.type == t and t == t.dtype and t.dtype == t
        assert hash(t) == hash(tj) and {t: 1}[t.dtype.type] == 1
        assert fnp.zeros(2, t).dtype == t and not (t != fnp.zeros(2, t).dtype)
        assert (t == name) == (tj == name)
    assert fnp.float32 != fnp.float64 and fnp.int32 != np.int64


def test_scalar_types_in_dtype_functions():
    assert fnp.issubdtype(fnp.float32, fnp.floating) == jnp.issubdtype(jnp.float32, jnp.floating)
    assert fnp.issubdtype(fnp.bfloat16, fnp.floating) and fnp.issubdtype(fnp.bfloat16,
                                                                           fnp.bfloat16)
    assert fnp.issubdtype(np.dtype("int8"), fnp.int8) and not fnp.issubdtype(fnp.int8,
                                                                             fnp.int16)
    assert np.issubdtype(fnp.float32, np.floating)
    assert fnp.finfo(fnp.bfloat16).eps == jnp.finfo(jnp.bfloat16).eps
    assert fnp.iinfo(fnp.int8).max == 127 and np.finfo(fnp.float32).eps == np.finfo(np.float32).eps
    assert fnp.promote_types(fnp.float32, fnp.int32) == jnp.promote_types(jnp.float32, jnp.int32)
    assert fnp.result_type(fnp.float32, fnp.bfloat16) == jnp.result_type(jnp.float32,
                                                                         jnp.bfloat16)
    assert fnp.result_type(fnp.int8, 1) == jnp.result_type(jnp.int8, 1)


def test_isinstance_with_scalar_types_like_jax():
    for v in [np.float32(1.0), 1.0, np.int32(1), True, np.bool_(True)]:
        for name in ["float32", "int32", "bool_", "float64"]:
            assert isinstance(v, getattr(fnp, name)) == isinstance(v, getattr(jnp, name))
    assert isinstance(fnp.float32(1.0), fnp.float32) == isinstance(jnp.float32(1.0),
                                                                   jnp.float32)


def test_scalar_types_are_not_array_arguments():
    with pytest.raises(TypeError):
        fl.jit(lambda a: a)(fnp.float32)
    with pytest.raises(TypeError):
        jax.jit(lambda a: a)(jnp.float32)


# ---------------------------------------------------------------------------------------
# Bug 11: np.array(x) honours copy=

def test_numpy_conversion_follows_the_copy_protocol_like_jax():
    x, xj = fnp.arange(3.0), jnp.arange(3.0)
    conversions = [
        lambda a: np.array(a), lambda a: np.array(a, copy=True), lambda a: np.asarray(a),
        lambda a: np.asarray(a, copy=False), lambda a: np.array(a, dtype=np.float64),
        lambda a: np.asarray(a, dtype=np.float64), lambda a: a.__array__(),
        lambda a: a.__array__(copy=True), lambda a: np.array(a[0]),
    ]
    for convert in conversions:
        got, want = convert(x), convert(xj)
        assert got.dtype == want.dtype
        assert got.flags.writeable == want.flags.writeable
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError):
        np.asarray(xj, dtype=np.float64, copy=False)
    with pytest.raises(ValueError, match="needs a copy"):
        np.asarray(x, dtype=np.float64, copy=False)
    c = np.array(x)
    c[0] = 5.0  # a writable copy: the array itself is unchanged
    np.testing.assert_array_equal(np.asarray(x), [0.0, 1.0, 2.0])


# ---------------------------------------------------------------------------------------
# Bug 13 (part): ragged nested lists

@pytest.mark.parametrize("make", [
    lambda np_: np_.array([[1, 2], [3]]),
    lambda np_: np_.array([[1, 2], [3]], dtype=np_.float32),
    lambda np_: np_.array([1, [2]]),
    lambda np_: np_.asarray([[1.0], [2.0, 3.0]]),
    lambda np_: np_.array([np_.ones(2), np_.ones(3)]),   # a concatenate in JAX: TypeError
    lambda np_: np_.array([1, None]),
    lambda np_: np_.array([[1, None]], dtype=np_.float32),
    lambda np_: np_.array("1.5"),
    lambda np_: np_.array("1.5", dtype=np_.float32),
    lambda np_: np_.array(["1", "2"], dtype=np_.int32),
    lambda np_: np_.array([300], dtype=np_.uint8),
    lambda np_: np_.array(np.array([300]), dtype=np_.uint8),
])
def test_array_construction_errors_like_jax(make):
    same_outcome(lambda: make(fnp), lambda: make(jnp))


def test_ragged_list_error_says_what_to_do():
    with pytest.raises(ValueError, match="rectangular"):
        fnp.array([[1, 2], [3]])


# ---------------------------------------------------------------------------------------
# Bug 14 (part): float64 without x64 warns

DTYPE_REQUESTS = {
    "zeros": lambda np_, d: np_.zeros(3, d),
    "ones": lambda np_, d: np_.ones(3, dtype=d),
    "empty": lambda np_, d: np_.empty(3, d),
    "full": lambda np_, d: np_.full(3, 1.0, d),
    "zeros_like": lambda np_, d: np_.zeros_like(np_.arange(3.0), d),
    "ones_like": lambda np_, d: np_.ones_like(np_.arange(3.0), d),
    "full_like": lambda np_, d: np_.full_like(np_.arange(3.0), 1, d),
    "arange": lambda np_, d: np_.arange(3, dtype=d),
    "linspace": lambda np_, d: np_.linspace(0, 1, 3, dtype=d),
    "eye": lambda np_, d: np_.eye(2, dtype=d),
    "identity": lambda np_, d: np_.identity(2, dtype=d),
    "tri": lambda np_, d: np_.tri(2, dtype=d),
    "array": lambda np_, d: np_.array([1.0], d),
    "asarray": lambda np_, d: np_.asarray([1.0], d),
    "array of an array": lambda np_, d: np_.array(np_.arange(3.0), d),
    "astype": lambda np_, d: np_.arange(3.0).astype(d),
    "sum": lambda np_, d: np_.sum(np_.arange(3.0), dtype=d),
    "mean": lambda np_, d: np_.mean(np_.arange(3.0), dtype=d),
    "cumsum": lambda np_, d: np_.cumsum(np_.arange(3.0), dtype=d),
    "std": lambda np_, d: np_.std(np_.arange(3.0), dtype=d),
    "einsum": lambda np_, d: np_.einsum("i,i", np_.ones(2), np_.ones(2),
                                        preferred_element_type=d),
    "scalar type": lambda np_, d: getattr(np_, np.dtype(d).name)(1.0),
}


def _warnings_of(fn):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fn()
    return out, [w for w in caught if issubclass(w.category, UserWarning)]


@pytest.mark.parametrize("what", sorted(DTYPE_REQUESTS))
@pytest.mark.parametrize("requested", [np.float64, "float64", "int64", np.complex128,
                                       "uint64"])
def test_64bit_dtype_without_x64_warns_like_jax(what, requested):
    make = DTYPE_REQUESTS[what]
    if what in ("linspace", "std", "mean") and np.dtype(requested).kind in "iu":
        return  # integer results of float computations: not the point here
    if what == "scalar type" and isinstance(requested, str):
        return
    ours, ours_w = _warnings_of(lambda: make(fnp, requested))
    theirs, theirs_w = _warnings_of(lambda: make(jnp, requested))
    assert ours.dtype == theirs.dtype
    # JAX's sum and prod warn twice (their own check and lax's); one is enough
    assert len(ours_w) == 1 and len(theirs_w) >= 1, (ours_w, theirs_w)
    msg = str(ours_w[0].message)
    assert "jax_enable_x64" in msg and f"dtype {np.dtype(requested).name}" in msg
    assert ours_w[0].filename == __file__  # points at the user's line


@pytest.mark.parametrize("requested", [float, int, complex, np.float32, "int32", None])
def test_default_and_32bit_dtypes_do_not_warn(requested):
    for what, make in DTYPE_REQUESTS.items():
        if what == "scalar type" or (what in ("std", "linspace", "mean")
                                     and requested in (int, "int32")):
            continue  # (std of an int dtype is an error in both)
        _, ours_w = _warnings_of(lambda: make(fnp, requested))
        _, theirs_w = _warnings_of(lambda: make(jnp, requested))
        assert len(ours_w) == len(theirs_w) == 0, (what, ours_w, theirs_w)


def test_64bit_dtype_with_x64_does_not_warn():
    with x64():
        jax.config.update("jax_enable_x64", True)
        out, caught = _warnings_of(lambda: fnp.zeros(3, fnp.float64))
        assert out.dtype == np.float64 and not caught


def test_64bit_warning_shows_once_per_line_under_default_filters():
    with warnings.catch_warnings(record=True) as caught:
        warnings.resetwarnings()
        warnings.simplefilter("default")
        for _ in range(3):
            fnp.zeros(3, fnp.float64)
    assert len(caught) == 1


# ---------------------------------------------------------------------------------------
# array/asarray with a dtype drop the weak type; array copies the device buffer

def test_explicit_dtype_drops_the_weak_type_like_jax():
    w, wj = fnp.asarray(1.0), jnp.asarray(1.0)
    assert w.weak_type and wj.weak_type
    for make in [lambda np_, v: np_.asarray(v, dtype=np_.float32),
                 lambda np_, v: np_.array(v, dtype=np_.float32),
                 lambda np_, v: np_.asarray(v, np_.int32), lambda np_, v: np_.array(v),
                 lambda np_, v: np_.asarray(v), lambda np_, v: np_.asarray(2.0, np_.float32),
                 lambda np_, v: np_.array(2, dtype=np_.int32)]:
        same(make(fnp, w), make(jnp, wj))
        same(fl.jit(lambda v: make(fnp, v))(w), jax.jit(lambda v: make(jnp, v))(wj))
    same(fl.jit(lambda v: fnp.asarray(v, fnp.float32) + 1)(2.0),
         jax.jit(lambda v: jnp.asarray(v, jnp.float32) + 1)(2.0))


def test_array_copies_the_buffer_so_donation_leaves_the_copy_valid():
    for lib, np_ in ((fl, fnp), (jax, jnp)):
        x = np_.arange(3.0)
        copies = [np_.array(x), x.copy(), np_.asarray(x, copy=True),
                  x.astype(np_.float32, copy=True)]
        assert np_.asarray(x) is x and np_.array(x, copy=False) is x
        assert all(c is not x for c in copies)
        np.testing.assert_array_equal(np.asarray(lib.jit(lambda v: v * 2,
                                                         donate_argnums=0)(x)), [0, 2, 4])
        for c in copies:
            np.testing.assert_array_equal(np.asarray(c), [0.0, 1.0, 2.0])
