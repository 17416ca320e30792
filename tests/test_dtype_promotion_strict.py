"""``jax_numpy_dtype_promotion='strict'``: only a weak scalar joins an array of its own kind
or a higher one; every other mix of dtypes is a TypePromotionError. Checked against JAX's
outcome (same dtype, or both refuse) for every pair of dtypes and Python scalars, through
the NumPy API's operators, functions, ``result_type`` and ``promote_types``."""
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite import config
from functorch_lite.dtypes import TypePromotionError
from helpers import python_with_env

DTYPES = ["bool", "int8", "int32", "uint8", "uint32", "bfloat16", "float16", "float32",
          "complex64"]
SCALARS = [True, 2, 2.5, 1j]


@pytest.fixture(autouse=True)
def strict():
    config.update("jax_numpy_dtype_promotion", "strict")
    jax.config.update("jax_numpy_dtype_promotion", "strict")
    yield
    config.update("jax_numpy_dtype_promotion", "standard")
    jax.config.update("jax_numpy_dtype_promotion", "standard")


def outcome(fn, *args):
    try:
        out = fn(*args)
    except Exception as e:          # noqa: BLE001  (the type is what is compared)
        return type(e).__name__
    return str(getattr(out, "dtype", out))


def both(ours, theirs, *args):
    want = outcome(theirs, *args)
    got = outcome(ours, *args)
    return got, want


def arrays(dtype):
    return fnp.ones(3, dtype), jnp.ones(3, dtype)


@pytest.mark.parametrize("a, b", list(itertools.combinations_with_replacement(DTYPES, 2)))
def test_array_pairs(a, b):
    (xa, ja), (xb, jb) = arrays(a), arrays(b)
    got, want = outcome(lambda: xa + xb), outcome(lambda: ja + jb)
    assert got == want
    assert outcome(lambda: fnp.result_type(a, b)) == outcome(lambda: jnp.result_type(a, b))
    assert (outcome(lambda: fnp.promote_types(a, b))
            == outcome(lambda: jnp.promote_types(a, b)))
    assert (outcome(lambda: fnp.concatenate([xa, xb]))
            == outcome(lambda: jnp.concatenate([ja, jb])))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("scalar", SCALARS, ids=["True", "2", "2.5", "1j"])
def test_array_with_python_scalar(dtype, scalar):
    x, j = arrays(dtype)
    assert outcome(lambda: x * scalar) == outcome(lambda: j * scalar)
    assert outcome(lambda: fnp.where(True, x, scalar)) == \
        outcome(lambda: jnp.where(True, j, scalar))


@pytest.mark.parametrize("a, b", list(itertools.product(SCALARS, SCALARS)))
def test_python_scalars_alone(a, b):
    got = outcome(lambda: fnp.result_type(a, b))
    assert got == outcome(lambda: jnp.result_type(a, b))


def test_error_type_message_and_jit():
    x, y = fnp.ones(2, "float32"), fnp.ones(2, "float16")
    with pytest.raises(TypePromotionError, match="float16, float32 with "
                       "numpy_dtype_promotion='strict'"):
        x + y
    f = fl.jit(lambda a, b: a * b)
    with pytest.raises(TypePromotionError):
        f(x, y)
    # the same function traces again under the standard rules, and again under strict
    with fl.numpy_dtype_promotion("standard"):
        assert f(x, y).dtype == np.float32
    with pytest.raises(TypePromotionError):
        f(x, y)
    assert f(x, x.astype("float32")).dtype == np.float32


def test_refused_values_and_environment():
    with pytest.raises(ValueError, match="numpy_dtype_promotion must be one of"):
        config.update("jax_numpy_dtype_promotion", "loose")
    code = ("import functorch_lite as fl, functorch_lite.numpy as fnp\n"
            "try:\n    fnp.ones(2, 'int32') + fnp.ones(2, 'int8')\n"
            "except fl.dtypes.TypePromotionError:\n    print('refused')\n")
    done = python_with_env(code, JAX_NUMPY_DTYPE_PROMOTION="strict")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "refused\n"
