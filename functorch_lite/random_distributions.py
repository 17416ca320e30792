"""More of ``functorch_lite.random``'s samplers (JAX's names and arguments), each a
transform of the basic ones (``uniform``, ``normal``, ``exponential``, ``bernoulli``) drawn
from the same key in the same way as ``jax.random`` draws them, so one key gives the same
samples as JAX's (to float rounding where a transform rounds differently).

``random.py`` re-exports them; they take raw (``PRNGKey``) or typed (``key``) keys alike.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from functorch_lite import lax
from functorch_lite import numpy as fnp
from functorch_lite.api import jit
from functorch_lite.core import dtypes
from functorch_lite.core.avals import get_aval
from functorch_lite.lax import decompositions as dec
from functorch_lite.lax._common import canonical_shape

__all__ = ["laplace", "logistic", "cauchy", "rademacher", "maxwell", "double_sided_maxwell",
           "rayleigh", "weibull_min", "pareto", "lognormal", "geometric", "triangular",
           "wald", "multivariate_normal", "orthogonal"]


def _random():
    # random.py imports this module at its end: look its samplers up when called.
    from functorch_lite import random
    return random


def _float_dtype(name: str, dtype: Any, kinds: str = "f") -> np.dtype:
    return _random()._float_dtype(name, dtype, kinds)


def _shape_for(name: str, shape: Sequence[int] | None, *params) -> tuple:
    """``shape``, or the parameters' broadcast shape when it is None (they must broadcast
    to a given ``shape``)."""
    shapes = [tuple(np.shape(p)) if not hasattr(p, "aval") else tuple(get_aval(p).shape)
              for p in params]
    if shape is None:
        return tuple(np.broadcast_shapes(*shapes)) if shapes else ()
    shape = canonical_shape(name, shape)
    _random()._check_shape(name, shape, *shapes)
    return shape


def _cast(x, dtype, shape=None):
    x = lax.convert_element_type(fnp.asarray(x), dtype)
    return fnp.broadcast_to(x, shape) if shape is not None else x


# -- transforms of one uniform draw ----------------------------------------------------------
def _laplace(key, shape, dtype):
    u = _random().uniform(key, shape, dtype, minval=-1.0 + dtypes.finfo(dtype).epsneg,
                          maxval=1.0)
    return lax.mul(lax.sign(u), lax.log1p(lax.neg(lax.abs(u))))


def _logistic(key, shape, dtype):
    x = _random().uniform(key, shape, dtype, minval=dtypes.finfo(dtype).tiny, maxval=1.0)
    return lax.sub(lax.log(x), lax.log1p(lax.neg(x)))


def _cauchy(key, shape, dtype):
    u = _random().uniform(key, shape, dtype, minval=dtypes.finfo(dtype).eps, maxval=1.0)
    return lax.tan(lax.mul(np.asarray(np.pi, dtype), lax.sub(u, np.asarray(0.5, dtype))))


_laplace_jit = jit(_laplace, static_argnums=(1, 2))
_logistic_jit = jit(_logistic, static_argnums=(1, 2))
_cauchy_jit = jit(_cauchy, static_argnums=(1, 2))


def laplace(key: Any, shape: Sequence[int] = (), dtype: Any = None):
    """Laplace (double exponential) samples with location 0 and scale 1."""
    return _laplace_jit(key, canonical_shape("laplace", shape),
                        _float_dtype("laplace", dtype))


def logistic(key: Any, shape: Sequence[int] = (), dtype: Any = None):
    """Standard logistic samples: ``log(u) - log1p(-u)``."""
    return _logistic_jit(key, canonical_shape("logistic", shape),
                         _float_dtype("logistic", dtype))


def cauchy(key: Any, shape: Sequence[int] = (), dtype: Any = None):
    """Standard Cauchy samples: ``tan(pi * (u - 1/2))``."""
    return _cauchy_jit(key, canonical_shape("cauchy", shape), _float_dtype("cauchy", dtype))


def _rayleigh(key, scale, shape, dtype):
    u = _random().uniform(key, shape, dtype)
    return lax.mul(_cast(scale, dtype, shape),
                   lax.sqrt(lax.mul(lax.log(u), np.asarray(-2, dtype))))


_rayleigh_jit = jit(_rayleigh, static_argnums=(2, 3))


def rayleigh(key: Any, scale: Any, shape: Sequence[int] | None = None, dtype: Any = None):
    """Rayleigh samples of scale ``scale``: ``scale * sqrt(-2 log u)``."""
    dtype = _float_dtype("rayleigh", dtype)
    return _rayleigh_jit(key, scale, _shape_for("rayleigh", shape, scale), dtype)


def _weibull_min(key, scale, concentration, shape, dtype):
    u = _random().uniform(key, shape, dtype, minval=0, maxval=1)
    return fnp.power(fnp.negative(fnp.log1p(fnp.negative(u))),
                     fnp.divide(1.0, concentration)) * scale


_weibull_min_jit = jit(_weibull_min, static_argnums=(3, 4))


def weibull_min(key: Any, scale: Any, concentration: Any, shape: Sequence[int] = (),
                dtype: Any = None):
    """Weibull samples (inverse CDF): ``(-log1p(-u)) ** (1 / concentration) * scale``."""
    return _weibull_min_jit(key, scale, concentration,
                            canonical_shape("weibull_min", shape),
                            _float_dtype("weibull_min", dtype))


def _geometric(key, p, shape, dtype):
    p = fnp.asarray(p)
    p = p.astype(dtypes.float_dtype_for(p.dtype))
    u = _random().uniform(key, shape, get_aval(p).dtype)
    u = fnp.where(u == 0, 1, u)  # (JAX maps 0 to 1 so that log(u) stays finite)
    log_one_minus_p = fnp.broadcast_to(lax.log1p(lax.neg(p)), shape)
    g = lax.floor(lax.div(lax.log(u), log_one_minus_p)) + 1
    return g.astype(dtype)


_geometric_jit = jit(_geometric, static_argnums=(2, 3))


def geometric(key: Any, p: Any, shape: Sequence[int] | None = None, dtype: Any = None):
    """The number of Bernoulli(``p``) trials up to and including the first success."""
    dt = dtypes.canonicalize_dtype(int if dtype is None else dtype)
    if not dtypes.is_int(dt):
        raise ValueError(f"dtype argument to `geometric` must be an int dtype, got {dt}")
    return _geometric_jit(key, p, _shape_for("geometric", shape, p), dt)


def _triangular(key, left, mode, right, shape, dtype):
    left, mode, right = (_cast(v, dtype, shape) for v in (left, mode, right))
    fc = (mode - left) / (right - left)
    u = _random().uniform(key, shape, dtype)
    out1 = left + lax.sqrt(u * (right - left) * (mode - left))
    out2 = right - lax.sqrt((1 - u) * (right - left) * (right - mode))
    return lax.select(u < fc, out1, out2)


_triangular_jit = jit(_triangular, static_argnums=(4, 5))


def triangular(key: Any, left: Any, mode: Any, right: Any,
               shape: Sequence[int] | None = None, dtype: Any = None):
    """Triangular samples on ``[left, right]`` peaking at ``mode`` (inverse CDF)."""
    dtype = _float_dtype("triangular", dtype)
    return _triangular_jit(key, left, mode, right,
                           _shape_for("triangular", shape, left, mode, right), dtype)


# -- transforms of the other basic samplers --------------------------------------------------
def _pareto(key, b, shape, dtype):
    e = _random().exponential(key, shape, dtype)
    return lax.exp(e / lax.convert_element_type(fnp.asarray(b), dtype))


_pareto_jit = jit(_pareto, static_argnums=(2, 3))


def pareto(key: Any, b: Any, shape: Sequence[int] | None = None, dtype: Any = None):
    """Pareto samples of shape parameter ``b`` (scale 1): ``exp(e / b)``, ``e``
    exponential."""
    dtype = _float_dtype("pareto", dtype)
    return _pareto_jit(key, b, _shape_for("pareto", shape, b), dtype)


def _lognormal(key, sigma, shape, dtype):
    return lax.exp(_random().normal(key, shape, dtype) *
                   lax.convert_element_type(fnp.asarray(sigma), dtype))


_lognormal_jit = jit(_lognormal, static_argnums=(2, 3))


def lognormal(key: Any, sigma: Any = np.float32(1), shape: Sequence[int] | None = None,
              dtype: Any = None):
    """Log-normal samples: ``exp(sigma * normal)``."""
    dtype = _float_dtype("lognormal", dtype, kinds="fc")
    return _lognormal_jit(key, sigma, _shape_for("lognormal", shape, sigma), dtype)


def _rademacher(key, shape, dtype):
    b = _random().bernoulli(key, 0.5, shape).astype(dtype)
    return (2 * b - 1).astype(dtype)


_rademacher_jit = jit(_rademacher, static_argnums=(1, 2))


def rademacher(key: Any, shape: Sequence[int] = (), dtype: Any = None):
    """Samples of -1 and +1 with equal probability (an integer dtype by default)."""
    dt = dtypes.canonicalize_dtype(int if dtype is None else dtype)
    return _rademacher_jit(key, canonical_shape("rademacher", shape), dt)


def _maxwell(key, shape, dtype):
    draws = _random().normal(key, shape + (3,), dtype)
    return fnp.linalg.norm(draws, axis=-1)


_maxwell_jit = jit(_maxwell, static_argnums=(1, 2))


def maxwell(key: Any, shape: Sequence[int] = (), dtype: Any = None):
    """Maxwell samples: the length of a 3-d standard normal vector."""
    return _maxwell_jit(key, canonical_shape("maxwell", shape),
                        _float_dtype("maxwell", dtype))


def _double_sided_maxwell(key, loc, scale, shape, dtype):
    k_maxwell, k_sign = _random().split(key)
    magnitude = _maxwell(k_maxwell, shape, dtype)
    sign = _rademacher(k_sign, shape, dtype)
    return sign * magnitude * scale + loc


_double_sided_maxwell_jit = jit(_double_sided_maxwell, static_argnums=(3, 4))


def double_sided_maxwell(key: Any, loc: Any, scale: Any, shape: Sequence[int] = (),
                         dtype: Any = None):
    """Maxwell samples with a random sign, scaled and shifted. As in JAX, the parameters'
    broadcast shape is appended to ``shape`` (and is the shape when ``shape`` is empty)."""
    dtype = _float_dtype("double_sided_maxwell", dtype)
    shape = canonical_shape("double_sided_maxwell", shape)
    params = tuple(np.broadcast_shapes(np.shape(loc), np.shape(scale)))
    shape = (shape or params) + params
    return _double_sided_maxwell_jit(key, loc, scale, shape, dtype)


def _wald(key, mean, shape, dtype):
    k1, k2 = _random().split(key)
    mean = _cast(mean, dtype, shape)
    v = _random().normal(k1, shape, dtype)
    z = _random().uniform(k2, shape, dtype)
    y = lax.integer_pow(v, 2)
    y_sq = lax.integer_pow(y, 2)
    mean_sq = lax.integer_pow(mean, 2)
    sqrt_term = lax.sqrt(4 * mean * y + mean_sq * y_sq)
    x = mean + mean_sq * y / 2 - mean / 2 * sqrt_term
    return lax.select(lax.le(z, mean / (mean + x)), x, mean_sq / x)


_wald_jit = jit(_wald, static_argnums=(2, 3))


def wald(key: Any, mean: Any, shape: Sequence[int] | None = None, dtype: Any = None):
    """Wald (inverse Gaussian) samples of mean ``mean`` and shape 1."""
    dtype = _float_dtype("wald", dtype)
    return _wald_jit(key, mean, _shape_for("wald", shape, mean), dtype)


# -- from matrix decompositions --------------------------------------------------------------
def _multivariate_normal(key, mean, cov, shape, dtype, method):
    if method == "eigh":
        w, v = fnp.linalg.eigh(cov)
        factor = v * fnp.sqrt(w[..., None, :])
    elif method == "svd":
        u, s, _ = fnp.linalg.svd(cov)
        factor = u * fnp.sqrt(s[..., None, :])
    else:
        factor = fnp.linalg.cholesky(cov)
    draws = _random().normal(key, shape + get_aval(mean).shape[-1:], dtype)
    return mean + fnp.einsum("...ij,...j->...i", factor, draws)


_multivariate_normal_jit = jit(_multivariate_normal, static_argnums=(3, 4, 5))


def multivariate_normal(key: Any, mean: Any, cov: Any, shape: Sequence[int] | None = None,
                        dtype: Any = None, method: str = "cholesky"):
    """Samples of the normal distribution with ``mean`` (..., n) and covariance ``cov``
    (..., n, n), of shape ``shape + (n,)`` (``shape`` defaults to the batch shape of the
    parameters). ``method``: "cholesky", "eigh" or "svd" factors ``cov`` (the last two
    draw the same distribution as JAX's but other samples: eigenvectors' signs differ)."""
    if method not in ("svd", "eigh", "cholesky"):
        raise ValueError("method must be one of {'svd', 'eigh', 'cholesky'}")
    mean, cov = fnp.asarray(mean), fnp.asarray(cov)
    common = dtypes.float_dtype_for(np.promote_types(mean.dtype, cov.dtype))
    mean, cov = mean.astype(common), cov.astype(common)
    dtype = common if dtype is None else _float_dtype("multivariate_normal", dtype)
    if mean.ndim < 1:
        raise ValueError(f"multivariate_normal requires mean.ndim >= 1, got mean.ndim == "
                         f"{mean.ndim}")
    if cov.ndim < 2:
        raise ValueError(f"multivariate_normal requires cov.ndim >= 2, got cov.ndim == "
                         f"{cov.ndim}")
    n = mean.shape[-1]
    if cov.shape[-2:] != (n, n):
        raise ValueError(f"multivariate_normal requires cov.shape == (..., n, n) for n={n}, "
                         f"but got cov.shape == {cov.shape}.")
    batch = tuple(np.broadcast_shapes(mean.shape[:-1], cov.shape[:-2]))
    if shape is None:
        shape = batch
    else:
        shape = canonical_shape("multivariate_normal", shape)
        _random()._check_shape("normal", shape, mean.shape[:-1], cov.shape[:-2])
    return _multivariate_normal_jit(key, mean, cov, shape, dtype, method)


def _orthogonal(key, n, m, shape, dtype):
    z = _random().normal(key, shape + (max(n, m), min(n, m)), dtype)
    q, r = fnp.linalg.qr(z)
    signs = fnp.sign(fnp.diagonal(r, axis1=-2, axis2=-1))
    x = q * fnp.expand_dims(signs, -2)
    return dec.mT(x) if n < m else x


_orthogonal_jit = jit(_orthogonal, static_argnums=(1, 2, 3, 4))


def orthogonal(key: Any, n: int, shape: Sequence[int] = (), dtype: Any = None,
               m: int | None = None):
    """Random (Haar-distributed) matrices with orthonormal columns or rows, of shape
    ``shape + (n, m)`` (``m`` defaults to ``n``): the QR of a normal matrix, signs fixed."""
    dtype = _float_dtype("orthogonal", dtype, kinds="fc")
    n = int(n)
    m = n if m is None else int(m)
    return _orthogonal_jit(key, n, m, canonical_shape("orthogonal", shape), dtype)
