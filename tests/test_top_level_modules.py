"""fl.dtypes, fl.errors, fl.typing, fl.float0 and the flag states (fl.enable_x64, ...),
against jax.dtypes / jax.errors and JAX's behaviour."""
import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest

import functorch_lite as fl
import functorch_lite.numpy as fnp

DTYPES = [np.bool_, np.int8, np.uint16, np.int32, np.int64, np.float16, ml_dtypes.bfloat16,
          np.float32, np.float64, np.complex64, np.complex128]


@pytest.mark.parametrize("dt", DTYPES)
def test_dtypes_functions_match_jax(dt):
    assert fl.dtypes.canonicalize_dtype(dt) == jax.dtypes.canonicalize_dtype(dt)
    assert fl.dtypes.itemsize_bits(dt) == jax.dtypes.itemsize_bits(dt)
    x = np.zeros(2, dt)
    assert fl.dtypes.scalar_type_of(x) is jax.dtypes.scalar_type_of(x)
    assert fl.dtypes.scalar_type_of(fnp.asarray(x)) is jax.dtypes.scalar_type_of(jnp.asarray(x))
    for cat in (np.floating, np.integer, np.inexact, np.complexfloating, np.number):
        assert fl.dtypes.issubdtype(dt, cat) == jax.dtypes.issubdtype(dt, cat), (dt, cat)
    assert fl.dtypes.result_type(dt, 1.0) == jax.dtypes.result_type(dt, 1.0)


def test_dtypes_constants_and_errors():
    assert fl.float0 == fl.dtypes.float0 and fl.dtypes.float0 == jax.dtypes.float0
    assert fl.dtypes.bfloat16 is jax.dtypes.bfloat16
    assert fl.dtypes.finfo(fl.dtypes.bfloat16).eps == jax.dtypes.finfo(jnp.bfloat16).eps
    assert fl.dtypes.iinfo(np.int16).max == jax.dtypes.iinfo(np.int16).max
    assert fl.dtypes.scalar_type_of(True) is bool and fl.dtypes.scalar_type_of(2j) is complex
    assert fl.dtypes.itemsize_bits("int4") == 4
    with pytest.raises(TypeError):
        fl.dtypes.scalar_type_of("not an array")
    assert issubclass(fl.dtypes.TypePromotionError, ValueError)


def test_errors_are_the_types_raised():
    with pytest.raises(fl.errors.TracerArrayConversionError) as info:
        fl.jit(lambda x: np.asarray(x))(fnp.ones(2))
    # Still a concretization error (what earlier code caught) and a TypeError, as JAX's.
    assert isinstance(info.value, fl.errors.ConcretizationTypeError)
    assert isinstance(info.value, TypeError)
    with pytest.raises(fl.errors.TracerBoolConversionError):
        fl.jit(lambda x: 1 if x[0] > 0 else 0)(fnp.ones(2))
    with pytest.raises(fl.errors.TracerIntegerConversionError):
        fl.jit(lambda x: [1, 2][x[0]])(fnp.ones(2, fnp.int32))
    with pytest.raises(fl.errors.NonConcreteBooleanIndexError):
        fl.jit(lambda x: x[x > 0])(fnp.ones(2))

    def boom(x):
        raise ValueError("boom")
    spec = fl.ShapeDtypeStruct((2,), fnp.float32)
    with pytest.raises(fl.errors.JaxRuntimeError, match="boom"):
        fl.jit(lambda x: fl.pure_callback(boom, spec, x))(fnp.ones(2)).block_until_ready()
    assert fl.errors.JaxRuntimeError is jax.errors.JaxRuntimeError
    assert set(fl.errors.__all__) <= set(dir(jax.errors))


def test_typing_names():
    def f(x: fl.typing.ArrayLike, dtype: fl.typing.DTypeLike = None) -> fl.Array:
        return fnp.asarray(x, dtype)
    assert f([1, 2], fnp.float32).dtype == np.float32
    assert set(fl.typing.__all__) == set(dir(jax.typing)) & {"ArrayLike", "DTypeLike"}


def test_enable_x64_state_sets_and_restores():
    assert fl.enable_x64.value is False
    with fl.enable_x64(True):
        assert fl.enable_x64.value is True
        assert fnp.ones(2).dtype == np.float64
        assert fl.jit(lambda x: x + 1)(np.arange(3)).dtype == np.int64
        with fl.enable_x64(False):
            assert fnp.ones(2).dtype == np.float32
        assert fnp.arange(2).dtype == np.int64
    assert fl.enable_x64.value is False and fnp.ones(2).dtype == np.float32
    with fl.enable_x64():          # a boolean flag defaults to True, as jax.enable_x64()
        assert fl.config.enable_x64 is True
    assert fl.config.enable_x64 is False
    try:                           # restored even when the block raises
        with fl.enable_x64(True):
            raise KeyError("inside")
    except KeyError:
        pass
    assert fl.config.enable_x64 is False


def test_other_states():
    with fl.log_compiles(True):
        assert fl.log_compiles.value is True and fl.config.log_compiles is True
    assert fl.log_compiles.value is False
    with fl.debug_nans(True):
        with pytest.raises(FloatingPointError):
            fl.jit(lambda x: fnp.log(x))(fnp.asarray(-1.0)).block_until_ready()
    assert fl.debug_nans.value is False
    assert fl.explain_cache_misses.value is False
    assert "enable_x64" in repr(fl.enable_x64)
