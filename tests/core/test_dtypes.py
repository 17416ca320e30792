"""Tests for functorch_lite.core.dtypes, using JAX as the reference."""
from __future__ import annotations

import contextlib
import itertools
import pathlib

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from jax._src.lax import lax as jax_lax_internal

from functorch_lite.core import dtypes as D
from functorch_lite.core.config import config

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

ALL = list(D.SUPPORTED_DTYPES)
NAMES = [d.name for d in ALL]


# ---------------------------------------------------------------------------
# x64 switching (both our flag and JAX's)
# ---------------------------------------------------------------------------

@contextlib.contextmanager
def x64_mode(enabled: bool):
    old_ours, old_jax = config.enable_x64, jax.config.jax_enable_x64
    config.update("enable_x64", enabled)
    jax.config.update("jax_enable_x64", enabled)
    try:
        yield enabled
    finally:
        config.update("enable_x64", old_ours)
        jax.config.update("jax_enable_x64", old_jax)


@pytest.fixture(params=[False, True], ids=["x32", "x64"])
def x64(request):
    with x64_mode(request.param) as flag:
        yield flag


# ---------------------------------------------------------------------------
# Operands: each is (ours, jax's) so the same promotion can be asked of both.
# ---------------------------------------------------------------------------

class FakeAval:
    """Stands in for a library aval/array: has ``dtype`` and ``weak_type``."""

    def __init__(self, dtype, weak_type):
        self.dtype = np.dtype(dtype)
        self.weak_type = weak_type

    def __repr__(self):
        return f"FakeAval({self.dtype.name}, weak={self.weak_type})"


class HasAval:
    """An object exposing its type through ``.aval``, like a tracer."""

    def __init__(self, aval):
        self.aval = aval
        self.dtype = aval.dtype


_weak_jax_cache: dict[tuple[bool, str], jax.Array] = {}


def weak_jax_array(dt: np.dtype) -> jax.Array:
    key = (bool(jax.config.jax_enable_x64), dt.name)
    if key not in _weak_jax_cache:
        x = jax_lax_internal._convert_element_type(np.zeros((), dt), dt, weak_type=True)
        assert x.dtype == dt and x.weak_type
        _weak_jax_cache[key] = x
    return _weak_jax_cache[key]


def weak_dtypes() -> list[np.dtype]:
    """Dtypes a weak array can have in the current mode (canonical, not bool)."""
    return [d for d in ALL if d != np.dtype(bool) and D.canonicalize_dtype(d) == d]


def operand_pool(include_specs: bool = True) -> list[tuple[str, object, object]]:
    """(label, ours, jax's) for every kind of argument result_type accepts."""
    pool = []
    if include_specs:
        pool += [(f"dtype:{d.name}", d, d) for d in ALL]
        pool += [(f"type:{t.__name__}", t, t) for t in (bool, int, float, complex)]
        pool += [("str:bfloat16", "bfloat16", "bfloat16")]
    pool += [(f"array:{d.name}", np.zeros((), d), np.zeros((), d)) for d in ALL]
    pool += [(f"value:{v!r}", v, v) for v in (True, 3, 2.5, 1j)]
    pool += [(f"weak:{d.name}", FakeAval(d, True), weak_jax_array(d)) for d in weak_dtypes()]
    return pool


def jax_result_type(*args):
    return jax.dtypes.result_type(*args, return_weak_type_flag=True)


# ---------------------------------------------------------------------------
# result_type against jax.dtypes.result_type
# ---------------------------------------------------------------------------

def test_result_type_all_pairs_match_jax(x64):
    pool = operand_pool()
    mismatches = []
    for (la, a, ja), (lb, b, jb) in itertools.product(pool, repeat=2):
        got = D.result_type(a, b, return_weak_type_flag=True)
        want = jax_result_type(ja, jb)
        if got != want:
            mismatches.append((la, lb, got, want))
    assert not mismatches, mismatches[:20]


def test_result_type_single_args_match_jax(x64):
    for label, ours, theirs in operand_pool():
        assert D.result_type(ours, return_weak_type_flag=True) == jax_result_type(theirs), label
    assert D.result_type(None, return_weak_type_flag=True) == jax_result_type(None)


def test_result_type_of_jax_weak_arrays_directly(x64):
    # Real JAX arrays expose their weak type through ``.aval.weak_type``.
    for d in weak_dtypes():
        w = weak_jax_array(d)
        assert D.is_weakly_typed(w)
        for e in ALL:
            assert D.result_type(w, e, return_weak_type_flag=True) == jax_result_type(w, e)


_POOL_INDEX = st.integers(min_value=0, max_value=10_000)


@settings(max_examples=150, deadline=None)
@given(enabled=st.booleans(), picks=st.lists(_POOL_INDEX, min_size=1, max_size=5))
def test_result_type_nary_matches_jax(enabled, picks):
    with x64_mode(enabled):
        pool = operand_pool()
        chosen = [pool[i % len(pool)] for i in picks]
        got = D.result_type(*(c[1] for c in chosen), return_weak_type_flag=True)
        want = jax_result_type(*(c[2] for c in chosen))
        assert got == want, [c[0] for c in chosen]


def weak_result(*args):
    return D.result_type(*args, return_weak_type_flag=True)


def test_result_type_examples():
    with x64_mode(False):
        assert weak_result(np.int32, 2.5) == (np.dtype("float32"), True)
        assert D.result_type(D.bfloat16, float) == np.dtype(D.bfloat16)
        assert D.result_type(np.uint8, int) == np.dtype("uint8")
        assert D.result_type(np.int8, np.uint8) == np.dtype("int16")
        assert D.result_type(np.uint32, np.int32) == np.dtype("int32")
        assert D.result_type(np.uint64, np.int64) == np.dtype("int32")
        assert D.result_type(np.float16, D.bfloat16) == np.dtype("float32")
        assert D.result_type(True, 1, return_weak_type_flag=True) == (np.dtype("int32"), True)
        assert D.result_type(True, True, return_weak_type_flag=True) == (np.dtype(bool), False)
        assert D.result_type(np.float64) == np.dtype("float32")
        assert weak_result(FakeAval(np.int16, True)) == (np.dtype("int32"), True)
    with x64_mode(True):
        assert D.result_type(np.uint32, np.int32) == np.dtype("int64")
        assert D.result_type(np.uint64, np.int64) == np.dtype("float64")
        assert weak_result(np.int32, 2.5) == (np.dtype("float64"), True)


def test_result_type_accepts_aval_like_objects():
    with x64_mode(False):
        strong = FakeAval(np.float16, False)
        weak = FakeAval(np.float16, True)
        assert weak_result(strong, 1.0) == (np.dtype("float16"), False)
        assert weak_result(weak, np.float32) == (np.dtype("float32"), False)
        assert D.result_type(HasAval(weak), np.uint8) == np.dtype("float32")
        # A weak float meeting a strong int stays a weak float of default width.
        assert weak_result(weak, np.int8) == (np.dtype("float32"), True)
        # A bool can never be weak, whatever the object claims.
        assert weak_result(FakeAval(bool, True)) == (np.dtype(bool), False)


def test_result_type_errors():
    with pytest.raises(ValueError):
        D.result_type()
    with pytest.raises(D.TypePromotionError):
        D.result_type(D.float0, np.float32)
    assert issubclass(D.TypePromotionError, ValueError)
    assert D.result_type(D.float0, D.float0) == D.float0
    with pytest.raises(TypeError):
        D.result_type([1, 2])
    with pytest.raises(TypeError):
        D.result_type(np.dtype(object))


# ---------------------------------------------------------------------------
# lattice_result_type against the dtype JAX operations actually produce
# ---------------------------------------------------------------------------

def test_lattice_result_type_matches_jnp_add(x64):
    pool = operand_pool(include_specs=False)
    mismatches = []
    for (la, a, ja), (lb, b, jb) in itertools.product(pool, repeat=2):
        out = jax.eval_shape(jnp.add, ja, jb)
        want = (out.dtype, bool(out.weak_type))
        got = D.lattice_result_type(a, b)
        if got != want:
            mismatches.append((la, lb, got, want))
    assert not mismatches, mismatches[:20]


def test_lattice_result_type_keeps_weak_width():
    with x64_mode(False):
        assert D.lattice_result_type(FakeAval(D.bfloat16, True), 1) == (np.dtype(D.bfloat16), True)
        assert D.result_type(FakeAval(D.bfloat16, True), 1) == np.dtype("float32")


# ---------------------------------------------------------------------------
# promote_types and the lattice itself
# ---------------------------------------------------------------------------

PROMOTE_SPECS = ALL + [int, float, complex, bool]


def test_promote_types_matches_jax(x64):
    for a, b in itertools.product(PROMOTE_SPECS, repeat=2):
        assert D.promote_types(a, b) == jnp.promote_types(a, b), (a, b)


LATTICE_NODES = NAMES + ["int*", "float*", "complex*"]


@settings(max_examples=200, deadline=None)
@given(x64=st.booleans(), a=st.sampled_from(LATTICE_NODES),
       b=st.sampled_from(LATTICE_NODES), c=st.sampled_from(LATTICE_NODES))
def test_least_upper_bound_is_a_join(x64, a, b, c):
    # Checked on lattice nodes: turning a weak node into a dtype (float* ->
    # float64) forgets its weakness, so promote_types itself is not associative.
    def lub(*ns):
        return D._least_upper_bound(("standard", x64), frozenset(ns))
    assert lub(a, b) == lub(b, a)
    assert lub(lub(a, b), c) == lub(a, lub(b, c)) == lub(a, b, c)
    assert lub(a, a) == a
    assert lub(lub(a, b), a) == lub(a, b)


def test_promote_types_is_commutative(x64):
    for a, b in itertools.combinations(PROMOTE_SPECS, 2):
        assert D.promote_types(a, b) == D.promote_types(b, a)


def test_lattice_nodes_and_upper_bounds():
    for x64 in (False, True):
        ubs = D._UPPER_BOUNDS["standard", x64]
        assert set(ubs) == set(NAMES) | {"int*", "float*", "complex*"}
        # complex128 is the top: everything promotes to it.
        assert all("complex128" in ub for ub in ubs.values())
        assert ubs["complex128"] == {"complex128"}
        # bool is the bottom.
        assert all(n in ubs["bool"] for n in ubs)
        # strict: a strong dtype is bounded by itself only; weak ones by their kind and up
        strict = D._UPPER_BOUNDS["strict", x64]
        assert set(strict) == set(ubs)
        assert all(strict[n] == {n} for n in NAMES)
        kinds = {n: np.dtype(n).kind if n != "bfloat16" else "f" for n in NAMES}
        assert strict["complex*"] - {"complex*"} == {n for n in NAMES if kinds[n] == "c"}
        assert strict["float*"] - {"float*"} == strict["complex*"] | {
            n for n in NAMES if kinds[n] == "f"}
        assert strict["int*"] - {"int*"} == strict["float*"] | {
            n for n in NAMES if kinds[n] in "iu"}
    standard32 = D._UPPER_BOUNDS["standard", False]
    assert "int64" not in standard32["uint32"] - standard32["int32"]


# ---------------------------------------------------------------------------
# canonicalize_dtype
# ---------------------------------------------------------------------------

def test_canonicalize_matches_jax(x64):
    for d in ALL:
        assert D.canonicalize_dtype(d) == jax.dtypes.canonicalize_dtype(d)
        assert D.canonicalize_dtype(d.name) == jax.dtypes.canonicalize_dtype(d)
        assert D.canonicalize_dtype(d.type) == jax.dtypes.canonicalize_dtype(d)
        assert isinstance(D.canonicalize_dtype(d), np.dtype)


@pytest.mark.parametrize("spec,x32,x64_", [
    (int, "int32", "int64"), (float, "float32", "float64"),
    (complex, "complex64", "complex128"), (bool, "bool", "bool"),
    ("bfloat16", "bfloat16", "bfloat16"), ("float32", "float32", "float32"),
    (np.float64, "float32", "float64"), ("uint64", "uint32", "uint64"),
    ("complex128", "complex64", "complex128"), ("i2", "int16", "int16"),
    (ml_dtypes.bfloat16, "bfloat16", "bfloat16"), (np.dtype("u1"), "uint8", "uint8"),
])
def test_canonicalize_table(spec, x32, x64_):
    with x64_mode(False):
        assert D.canonicalize_dtype(spec) == np.dtype(x32)
    with x64_mode(True):
        assert D.canonicalize_dtype(spec) == np.dtype(x64_)


@pytest.mark.parametrize("bad", [
    object, np.dtype(object), str, "U5", np.dtype("S3"), "datetime64[s]",
    np.timedelta64, "not_a_dtype", np.dtype([("a", np.int32)]), np.longdouble,
])
def test_canonicalize_rejects(bad):
    with pytest.raises(TypeError, match="is not a valid functorch_lite array type"):
        D.canonicalize_dtype(bad)


def test_canonicalize_error_message():
    with pytest.raises(TypeError) as info:
        D.canonicalize_dtype("U5")
    assert str(info.value) == "dtype 'U5' is not a valid functorch_lite array type"


def test_config_is_read_at_call_time():
    with x64_mode(False):
        assert D.canonicalize_dtype(np.float64) == np.dtype("float32")
        assert D.default_int_dtype() == np.dtype("int32")
        config.update("enable_x64", True)  # ours only, JAX untouched
        assert D.canonicalize_dtype(np.float64) == np.dtype("float64")
        assert D.default_int_dtype() == np.dtype("int64")
        assert D.result_type(1) == np.dtype("int64")


def test_float0_is_kept():
    assert D.float0 == np.dtype([("float0", np.void, 0)])
    assert D.float0.itemsize == 0
    assert D.canonicalize_dtype(D.float0) == D.float0
    assert D.float0 not in D.SUPPORTED_DTYPES


# ---------------------------------------------------------------------------
# dtype_of, is_weakly_typed, python_scalar_dtype
# ---------------------------------------------------------------------------

def test_dtype_of_values_match_jax(x64):
    values = [True, 3, 2.5, 1j, np.float64(1), np.int64(1), np.uint8(3)]
    values += [np.zeros((2,), d) for d in ALL] + [d.type(0) for d in ALL]
    for v in values:
        assert D.dtype_of(v) == jnp.asarray(v).dtype, repr(v)
    # No range check: that is the job of whoever turns the value into an array.
    assert D.dtype_of(2 ** 40) == D.default_int_dtype()


def test_dtype_of_details():
    with x64_mode(False):
        assert D.dtype_of(1) == np.dtype("int32")
        assert D.dtype_of(1, canonicalize=False) == np.dtype("int64")
        assert D.dtype_of(np.zeros(2), canonicalize=False) == np.dtype("float64")
        assert D.dtype_of(np.zeros(2, D.bfloat16)) == np.dtype(D.bfloat16)
        # Library objects keep their dtype as is.
        assert D.dtype_of(FakeAval(np.float64, False)) == np.dtype("float64")
        assert D.dtype_of(np.zeros((), D.float0)) == D.float0
        assert D.dtype_of(float) == np.dtype("float32")
        assert D.dtype_of(np.int16) == np.dtype("int16")
    with x64_mode(True):
        assert D.dtype_of(1) == np.dtype("int64")
        assert D.dtype_of(1.0) == np.dtype("float64")
        assert D.dtype_of(1j) == np.dtype("complex128")


@pytest.mark.parametrize("bad,msg", [
    ([1, 2], "expected an array or scalar, got list"),
    ("abc", "expected an array or scalar, got str"),
    (None, "expected an array or scalar, got NoneType"),
    ({"a": 1}, "expected an array or scalar, got dict"),
    (np.array(["a"]), "not a valid functorch_lite array type"),
    (np.array([object()]), "not a valid functorch_lite array type"),
    (FakeAval, "expected an array or scalar, got type FakeAval"),
])
def test_dtype_of_rejects(bad, msg):
    with pytest.raises(TypeError, match=msg):
        D.dtype_of(bad)


def test_dtype_of_rejects_unsupported_dtype_attribute():
    class Weird:
        dtype = np.dtype("U3")
    with pytest.raises(TypeError, match="not a valid functorch_lite array type"):
        D.dtype_of(Weird())


def test_is_weakly_typed():
    for v in (1, 2.0, 3j):
        assert D.is_weakly_typed(v)
    for v in (True, np.float64(1.0), np.int32(1), np.array(1.0), int, float, "x", None):
        assert not D.is_weakly_typed(v)
    assert D.is_weakly_typed(FakeAval(np.float32, True))
    assert not D.is_weakly_typed(FakeAval(np.float32, False))
    assert D.is_weakly_typed(HasAval(FakeAval(np.int32, True)))
    assert not D.is_weakly_typed(HasAval(FakeAval(np.int32, False)))
    # Agrees with JAX on JAX's own values.
    assert D.is_weakly_typed(jnp.asarray(2)) == jnp.asarray(2).weak_type is True
    assert D.is_weakly_typed(jnp.asarray(True)) == jnp.asarray(True).weak_type is False
    assert not D.is_weakly_typed(jnp.zeros(3))


def test_python_scalar_dtype():
    with x64_mode(False):
        assert D.python_scalar_dtype(1) == np.dtype("int32")
        assert D.python_scalar_dtype(float) == np.dtype("float32")
        assert D.python_scalar_dtype(True) == np.dtype(bool)
        assert D.python_scalar_dtype(1j) == np.dtype("complex64")
    with x64_mode(True):
        assert D.python_scalar_dtype(1.5) == np.dtype("float64")
    with pytest.raises(TypeError):
        D.python_scalar_dtype(np.float32(1))
    with pytest.raises(TypeError):
        D.python_scalar_dtype("1")


# ---------------------------------------------------------------------------
# Categories, info, defaults, helpers
# ---------------------------------------------------------------------------

CATEGORIES = [np.floating, np.integer, np.signedinteger, np.unsignedinteger,
              np.complexfloating, np.inexact, np.number, np.bool_, np.generic]


def test_issubdtype_matches_jax():
    for d in ALL:
        for cat in CATEGORIES + [d.type, np.float32, D.bfloat16]:
            assert D.issubdtype(d, cat) == jnp.issubdtype(d, cat), (d, cat)
            assert D.issubdtype(d.type, cat) == jnp.issubdtype(d.type, cat), (d, cat)
    assert not D.issubdtype(D.float0, np.floating)
    assert D.issubdtype("bfloat16", np.inexact)


def test_predicates():
    expected = {
        "is_bool": {"bool"},
        "is_int": {"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"},
        "is_unsigned": {"uint8", "uint16", "uint32", "uint64"},
        "is_float": {"bfloat16", "float16", "float32", "float64"},
        "is_complex": {"complex64", "complex128"},
        "is_inexact": {"bfloat16", "float16", "float32", "float64", "complex64", "complex128"},
    }
    for name, members in expected.items():
        fn = getattr(D, name)
        assert {d.name for d in ALL if fn(d)} == members, name
        assert {d.name for d in ALL if fn(d.type)} == members, name
    assert not D.is_float(D.float0) and not D.is_int(D.float0)


def test_finfo_iinfo():
    assert D.finfo(D.bfloat16).bits == 16
    assert D.finfo(D.bfloat16).eps == ml_dtypes.finfo(ml_dtypes.bfloat16).eps
    assert D.finfo(np.float32).eps == np.finfo(np.float32).eps
    assert D.finfo("float16").max == np.finfo(np.float16).max
    assert D.iinfo(np.int8).min == -128
    assert D.iinfo("uint16").max == 65535


def test_defaults():
    with x64_mode(False):
        assert [D.default_float_dtype(), D.default_int_dtype(), D.default_uint_dtype(),
                D.default_complex_dtype()] == [np.dtype(t) for t in ("f4", "i4", "u4", "c8")]
    with x64_mode(True):
        assert [D.default_float_dtype(), D.default_int_dtype(), D.default_uint_dtype(),
                D.default_complex_dtype()] == [np.dtype(t) for t in ("f8", "i8", "u8", "c16")]


def test_float_dtype_for_matches_jnp_exp(x64):
    for d in ALL:
        if D.canonicalize_dtype(d) != d:
            continue
        want = jax.eval_shape(jnp.exp, jax.ShapeDtypeStruct((), d)).dtype
        assert D.float_dtype_for(d) == want, d


def test_to_numpy_dtype_name():
    expected = {
        "bool": "bool", "int8": "i8", "int16": "i16", "int32": "i32", "int64": "i64",
        "uint8": "u8", "uint16": "u16", "uint32": "u32", "uint64": "u64",
        "bfloat16": "bf16", "float16": "f16", "float32": "f32", "float64": "f64",
        "complex64": "c64", "complex128": "c128",
    }
    for d in ALL:
        assert D.to_numpy_dtype_name(d) == expected[d.name]
    assert D.to_numpy_dtype_name(D.float0) == "float0"
    assert D.to_numpy_dtype_name(np.float32) == "f32"


def test_scalar_type_names():
    assert np.dtype(D.bfloat16) == np.dtype(ml_dtypes.bfloat16)
    names = ["bool_", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
             "uint64", "bfloat16", "float16", "float32", "float64", "complex64", "complex128"]
    assert [np.dtype(getattr(D, n)) for n in names] == ALL


def test_module_does_not_import_jax():
    src = pathlib.Path(D.__file__).read_text()
    assert "import jax" not in src and "from jax" not in src
