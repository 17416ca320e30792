"""The gamma family of ``functorch_lite.random`` (JAX's names and arguments): ``gamma`` and
``loggamma``, and the samplers JAX builds from them (``beta``, ``dirichlet``,
``chisquare``, ``f``, ``t``, ``generalized_normal``, ``ball``), and ``poisson`` (whose
rejection method needs ``lgamma``). For the same key they give the same samples as
``jax.random`` (under ``jit`` too, except where a parameter is a NumPy array closed over as
a constant: ``jit`` passes those in as arguments while JAX embeds them for XLA to fold,
which can move a result by one ulp).

How a gamma sample is drawn (as JAX draws it, so the bits agree): the key is split into one
key per element of ``a`` (after ``a`` is broadcast to ``shape``), and each element runs
Marsaglia and Tsang's rejection method on its own key, in ``while_loop``s (elements are
``vmap``ped, which keeps each element's stream independent of the others'). For ``a < 1``
the sample is drawn at ``a + 1`` and scaled by ``u ** (1 / a)``; ``loggamma`` does that
last step in log space, which keeps tiny samples (small ``a``) representable.

Samples differentiate with respect to ``a`` by implicit reparameterization: at a fixed
CDF value ``P(a, x)``, ``dx/da = -(dP/da) / (dP/dx)`` (``lax.random_gamma_grad``), given to
the sampler through a ``custom_jvp``.

``random.py`` re-exports these; they take raw (``PRNGKey``) or typed (``key``) keys alike.
"""
from __future__ import annotations

import operator
from functools import partial
from typing import Any, Sequence

import numpy as np

from functorch_lite import lax
from functorch_lite import numpy as fnp
from functorch_lite.api import jit, vmap
from functorch_lite.core import dtypes
from functorch_lite.core.avals import get_aval
from functorch_lite.lax._common import canonical_shape
from functorch_lite.lax.custom_derivatives import custom_jvp
from functorch_lite.random_distributions import _rademacher

__all__ = ["gamma", "loggamma", "beta", "dirichlet", "chisquare", "f", "t",
           "generalized_normal", "ball", "poisson"]


def _random():
    # random.py imports this module at its end: look its helpers up when called.
    from functorch_lite import random
    return random


def _const(x: Any, value: float) -> np.generic:
    return np.dtype(get_aval(x).dtype).type(value)


def _shape_of(x: Any) -> tuple:
    return tuple(get_aval(x).shape) if hasattr(x, "aval") or hasattr(x, "shape") \
        else tuple(np.shape(x))


def _shape_for(name: str, shape: Sequence[int] | None, *params) -> tuple:
    """``shape``, or the parameters' broadcast shape when it is None; the parameters must
    broadcast to a given ``shape`` (a ValueError otherwise, as in JAX)."""
    shapes = [_shape_of(p) for p in params]
    if shape is None:
        return tuple(np.broadcast_shapes(*shapes)) if shapes else ()
    shape = canonical_shape(name, shape)
    _random()._check_shape(name, shape, *shapes)
    return shape


def _as(x: Any, dtype: Any, shape: tuple | None = None):
    x = lax.convert_element_type(fnp.asarray(x), dtype)
    return fnp.broadcast_to(x, shape) if shape is not None else x


# -- one element: Marsaglia-Tsang ------------------------------------------------------------
def _gamma_one(data, alpha, log_space: bool):
    """One Gamma(``alpha``, 1) sample (its log when ``log_space``) from raw key ``data``."""
    rnd = _random()
    dtype = get_aval(alpha).dtype
    zero, one = _const(alpha, 0), _const(alpha, 1)
    third = _const(alpha, 1. / 3.)
    # Below 1, sample at alpha + 1 and scale by u ** (1 / alpha) (Marsaglia and Tsang, 4).
    boost = lax.ge(alpha, one)
    alpha_orig = alpha
    alpha = lax.select(boost, alpha, lax.add(alpha, one))
    d = lax.sub(alpha, third)
    c = lax.div(third, lax.sqrt(d))

    # Inside the loops d and c must be run-time values even when ``a`` is a compile-time
    # constant (as XLA keeps them in the program JAX emits): XLA would otherwise fold c
    # into the normal sampler's sqrt(2) (one multiplication instead of two), which rounds
    # differently. They ride in the loop states, plus a zero computed from the key (exact).
    key_bit = lax.bitwise_and(lax.index_in_dim(data, 0, keepdims=False), np.uint32(1))
    run_time_zero = lax.mul(lax.convert_element_type(key_bit, dtype), zero)  # (0 * 0 or 1)

    def rejected(state):
        _, x2, v, u, d, _ = state
        # the squeeze test first, then the exact log test (both must fail to reject)
        squeeze = lax.ge(u, lax.sub(one, lax.mul(_const(alpha, 0.0331), lax.mul(x2, x2))))
        exact = lax.ge(lax.log(u), lax.add(lax.mul(x2, _const(alpha, 0.5)),
                                           lax.mul(d, lax.add(lax.sub(one, v), lax.log(v)))))
        return lax.bitwise_and(squeeze, exact)

    def next_normal(state):
        key, _, _, c = state
        key, subkey = rnd._split2(key)
        x = rnd._normal_real(subkey, (), dtype)
        return key, x, lax.add(one, lax.mul(x, c)), c

    def propose(state):
        key, _, _, _, d, c = state
        keys = rnd._split_impl(key, (3,))
        key, x_key, u_key = (lax.index_in_dim(keys, i, keepdims=False) for i in range(3))
        # draw normals until 1 + c x > 0
        _, x, v, _ = lax.while_loop(lambda s: lax.le(s[2], zero), next_normal,
                                    (x_key, zero, _const(alpha, -1), c))
        u = rnd._uniform_impl(u_key, 0., 1., (), dtype)
        return key, lax.mul(x, x), lax.mul(lax.mul(v, v), v), u, d, c

    key, subkey = rnd._split2(data)
    # (the initial state is one that the test rejects, so the loop proposes at least once)
    _, _, v, _, _, _ = lax.while_loop(rejected, propose,
                                      (key, zero, one, _const(alpha, 2),
                                       lax.add(d, run_time_zero), lax.add(c, run_time_zero)))
    if log_space:
        log_u = lax.neg(rnd._exponential_impl(subkey, (), dtype))
        log_boost = lax.select(lax.bitwise_or(boost, lax.eq(log_u, zero)), zero,
                               lax.mul(log_u, lax.div(one, alpha_orig)))
        return lax.add(lax.add(lax.log(d), lax.log(v)), log_boost)
    u = lax.sub(one, rnd._uniform_impl(subkey, 0., 1., (), dtype))
    scale = lax.select(boost, one, lax.pow(u, lax.div(one, alpha_orig)))
    return lax.mul(lax.mul(d, v), scale)


def _draw(data, a, log_space: bool):
    """Samples of ``a``'s shape: one split key per element, each element on its own."""
    shape = tuple(get_aval(a).shape)
    size = int(np.prod(shape, dtype=np.int64))
    if size == 0:
        return lax.full(shape, 0, get_aval(a).dtype)
    keys = _random()._split_impl(data, (size,))
    flat = lax.reshape(a, (size,))
    samples = vmap(lambda k, al: _gamma_one(k, al, log_space))(keys, flat)
    return lax.reshape(samples, shape)


def _sample_grad(sample, a, log_space: bool):
    """d sample / d a (for ``log_space``, of the log of the sample)."""
    if not log_space:
        return lax.random_gamma_grad(a, sample)
    x = lax.exp(sample)
    # exp can round a tiny sample to 0: use the smallest normal float instead
    x = lax.select(lax.eq(x, _const(x, 0)), lax.full_like(x, dtypes.finfo(
        get_aval(x).dtype).tiny), x)
    return lax.div(lax.random_gamma_grad(a, x), x)


@partial(custom_jvp, nondiff_argnums=(2,))
def _gamma_sample(data, a, log_space):
    return _draw(data, a, log_space)


@_gamma_sample.defjvp
def _gamma_sample_jvp(log_space, primals, tangents):
    data, a = primals
    _, a_dot = tangents
    out = _gamma_sample(data, a, log_space)
    return out, lax.mul(a_dot, _sample_grad(out, a, log_space))


def _gamma_impl(data, a, shape, dtype, log_space):
    return _gamma_sample(data, _as(a, dtype, shape), log_space)


_gamma_jit = jit(_gamma_impl, static_argnums=(2, 3, 4))


def _gamma_args(name: str, key: Any, a: Any, shape: Any, dtype: Any):
    data, _ = _random()._unwrap(name, key)
    dtype = _random()._float_dtype("gamma", dtype)
    return data, _shape_for(name, shape, a), dtype


def gamma(key: Any, a: Any, shape: Sequence[int] | None = None, dtype: Any = None):
    """Gamma(``a``, 1) samples (density ``x^(a-1) e^-x / Gamma(a)``) of shape ``shape``
    (default ``a``'s shape; ``a`` must broadcast to it) and float dtype. Divide by a rate
    or multiply by a scale for other Gamma distributions. Differentiable in ``a``.
    Example: ``gamma(key, np.float32(2.), (3,))`` is ``float32[3]``, all ``> 0``."""
    data, shape, dtype = _gamma_args("gamma", key, a, shape, dtype)
    return _gamma_jit(data, a, shape, dtype, False)


def loggamma(key: Any, a: Any, shape: Sequence[int] | None = None, dtype: Any = None):
    """The logs of Gamma(``a``, 1) samples, computed in log space (``exp`` of it is
    ``gamma(key, a, shape, dtype)`` to rounding, but stays finite when the sample would
    underflow, as it often does for ``a << 1``)."""
    data, shape, dtype = _gamma_args("loggamma", key, a, shape, dtype)
    return _gamma_jit(data, a, shape, dtype, True)


# -- built from gamma --------------------------------------------------------------------
def _beta(data, a, b, shape, dtype):
    key_a, key_b = _random()._split2(data)
    log_ga = _gamma_impl(key_a, a, shape, dtype, True)
    log_gb = _gamma_impl(key_b, b, shape, dtype, True)
    # ga / (ga + gb), scaled by the larger one so neither underflows
    log_max = lax.max(log_ga, log_gb)
    ga = lax.exp(lax.sub(log_ga, log_max))
    gb = lax.exp(lax.sub(log_gb, log_max))
    return lax.div(ga, lax.add(ga, gb))


_beta_jit = jit(_beta, static_argnums=(3, 4))


def beta(key: Any, a: Any, b: Any, shape: Sequence[int] | None = None, dtype: Any = None):
    """Beta(``a``, ``b``) samples in [0, 1]: ``ga / (ga + gb)`` for independent
    Gamma(``a``) and Gamma(``b``) samples (drawn in log space). ``shape`` defaults to the
    parameters' broadcast shape."""
    data, _ = _random()._unwrap("beta", key)
    dtype = _random()._float_dtype("beta", dtype)
    return _beta_jit(data, a, b, _shape_for("beta", shape, a, b), dtype)


def _dirichlet(data, alpha, shape, dtype):
    alpha = _as(alpha, dtype)
    log_g = _gamma_impl(data, alpha, shape + tuple(get_aval(alpha).shape[-1:]), dtype, True)
    # a softmax of the log-gamma samples normalizes them without underflow
    top = lax.stop_gradient(fnp.max(log_g, axis=-1, keepdims=True))
    unnormalized = fnp.exp(log_g - top)
    return unnormalized / fnp.sum(unnormalized, axis=-1, keepdims=True)


_dirichlet_jit = jit(_dirichlet, static_argnums=(2, 3))


def dirichlet(key: Any, alpha: Any, shape: Sequence[int] | None = None, dtype: Any = None):
    """Dirichlet(``alpha``) samples: ``alpha`` is ``(..., n)``; the result is
    ``shape + (n,)`` (``shape`` defaults to ``alpha.shape[:-1]`` and must broadcast with
    it), each row summing to 1."""
    data, _ = _random()._unwrap("dirichlet", key)
    dtype = _random()._float_dtype("dirichlet", dtype)
    ashape = _shape_of(alpha)
    if len(ashape) < 1:
        raise ValueError(f"dirichlet requires alpha.ndim >= 1, got alpha.ndim == "
                         f"{len(ashape)}")
    if shape is None:
        shape = ashape[:-1]
    else:
        shape = canonical_shape("dirichlet", shape)
        _random()._check_shape("dirichlet", shape, ashape[:-1])
    return _dirichlet_jit(data, alpha, shape, dtype)


def _chisquare(data, df, shape, dtype):
    df = _as(df, dtype)
    two = _const(df, 2)
    log_g = _gamma_impl(data, lax.div(df, two), shape, dtype, True)
    return lax.mul(lax.exp(log_g), two)


_chisquare_jit = jit(_chisquare, static_argnums=(2, 3))


def chisquare(key: Any, df: Any, shape: Sequence[int] | None = None, dtype: Any = None):
    """Chi-squared samples with ``df`` degrees of freedom: ``2 * Gamma(df / 2)``."""
    data, _ = _random()._unwrap("chisquare", key)
    dtype = _random()._float_dtype("chisquare", dtype)
    return _chisquare_jit(data, df, _shape_for("chisquare", shape, df), dtype)


def _f(data, dfnum, dfden, shape, dtype):
    dfden, dfnum = _as(dfden, dtype), _as(dfnum, dtype)
    key_den, key_num = _random()._split2(data)
    num = lax.div(_chisquare(key_num, dfnum, shape, dtype), dfnum)
    den = lax.div(_chisquare(key_den, dfden, shape, dtype), dfden)
    return lax.div(num, den)


_f_jit = jit(_f, static_argnums=(3, 4))


def f(key: Any, dfnum: Any, dfden: Any, shape: Sequence[int] | None = None,
      dtype: Any = None):
    """F-distribution samples: ``(chi2(dfnum) / dfnum) / (chi2(dfden) / dfden)``."""
    data, _ = _random()._unwrap("f", key)
    dtype = _random()._float_dtype("f", dtype)
    return _f_jit(data, dfnum, dfden, _shape_for("f", shape, dfnum, dfden), dtype)


def _t(data, df, shape, dtype):
    df = _as(df, dtype)
    key_n, key_g = _random()._split2(data)
    n = _random()._normal_real(key_n, shape, dtype)
    half_df = lax.div(df, _const(df, 2))
    g = _gamma_impl(key_g, half_df, shape, dtype, False)
    return n * fnp.sqrt(half_df / g)


_t_jit = jit(_t, static_argnums=(2, 3))


def t(key: Any, df: Any, shape: Sequence[int] | None = None, dtype: Any = None):
    """Student's t samples with ``df`` degrees of freedom: ``n * sqrt(df / (2 g))``, ``n``
    normal and ``g`` Gamma(``df / 2``)."""
    data, _ = _random()._unwrap("t", key)
    dtype = _random()._float_dtype("t", dtype)
    return _t_jit(data, df, _shape_for("t", shape, df), dtype)


def _generalized_normal(data, p, shape, dtype):
    key_g, key_r = _random()._split2(data)
    inv_p = fnp.divide(1, p)
    g = _gamma_impl(key_g, inv_p, shape, dtype, False)
    r = _rademacher(key_r, shape, dtype)
    return r * g ** inv_p


_generalized_normal_jit = jit(_generalized_normal, static_argnums=(2, 3))


def generalized_normal(key: Any, p: Any, shape: Sequence[int] = (), dtype: Any = None):
    """Samples of density proportional to ``exp(-|x|^p)`` (``p > 0``; 2 is a normal of
    variance 1/2, 1 a Laplace): a random sign times ``Gamma(1/p) ** (1/p)``."""
    data, _ = _random()._unwrap("generalized_normal", key)
    dtype = _random()._float_dtype("generalized_normal", dtype)
    return _generalized_normal_jit(data, p, canonical_shape("generalized_normal", shape),
                                   dtype)


def _ball(data, p, d, shape, dtype):
    k1, k2 = _random()._split2(data)
    g = _generalized_normal(k1, p, shape + (d,), dtype)
    e = _random()._exponential_impl(k2, shape, dtype)
    radius = (fnp.sum(fnp.abs(g) ** p, axis=-1) + e) ** fnp.divide(1, p)
    return g / radius[..., None]


_ball_jit = jit(_ball, static_argnums=(2, 3, 4))


def ball(key: Any, d: int, p: Any = 2, shape: Sequence[int] = (), dtype: Any = None):
    """Points uniform in the unit L``p`` ball of dimension ``d``: shape ``shape + (d,)``
    (Barthe, Guedon, Mendelson and Naor's construction from generalized normals and an
    exponential)."""
    data, _ = _random()._unwrap("ball", key)
    dtype = _random()._float_dtype("ball", dtype)
    try:
        d = operator.index(d)
    except TypeError:
        raise TypeError(f"ball: the dimension d must be a concrete int, got "
                        f"{type(d).__name__}") from None
    return _ball_jit(data, p, d, canonical_shape("ball", shape), dtype)


# -- Poisson -----------------------------------------------------------------------------
def _poisson_knuth(data, lam, shape, dtype, max_iters):
    """Knuth's method: count uniforms until their product drops below ``exp(-lam)``. The
    whole array shares one key sequence and iterates until every element is done."""
    rnd = _random()
    minus_lam = lax.neg(lam)

    def going(state):
        i, _, _, log_prod = state
        return lax.bitwise_and(lax.reduce_or(lax.gt(log_prod, minus_lam), tuple(range(len(
            shape)))), lax.lt(i, max_iters))

    def body(state):
        i, k, key, log_prod = state
        key, subkey = rnd._split2(key)
        k = lax.select(lax.gt(log_prod, minus_lam), lax.add(k, _const(k, 1)), k)
        u = rnd._uniform_impl(subkey, 0., 1., shape, np.dtype(np.float32))
        return lax.add(i, _const(i, 1)), k, key, lax.add(log_prod, lax.log(u))

    init = (lax.full((), 0, dtype), lax.full(shape, 0, dtype), data,
            lax.full(shape, 0, np.float32))
    k = lax.while_loop(going, body, init)[1]
    return lax.sub(k, _const(k, 1))


def _poisson_rejection(data, lam, shape, dtype, max_iters):
    """Hormann's transformed rejection (PTRS), for ``lam >= 10``; all elements share one
    key sequence and iterate until every element has accepted."""
    rnd = _random()
    f32 = np.dtype(np.float32)

    def c(v):
        return f32.type(v)

    log_lam = lax.log(lam)
    b = lax.add(c(0.931), lax.mul(c(2.53), lax.sqrt(lam)))
    a = lax.add(c(-0.059), lax.mul(c(0.02483), b))
    inv_alpha = lax.add(c(1.1239), lax.div(c(1.1328), lax.sub(b, c(3.4))))
    v_r = lax.sub(c(0.9277), lax.div(c(3.6224), lax.sub(b, c(2))))

    def going(state):
        i, _, accepted, _ = state
        return lax.bitwise_and(lax.reduce_or(lax.bitwise_not(accepted), tuple(range(len(
            shape)))), lax.lt(i, max_iters))

    def body(state):
        i, k_out, accepted, key = state
        keys = rnd._split_impl(key, (3,))
        key, key_u, key_v = (lax.index_in_dim(keys, j, keepdims=False) for j in range(3))
        u = lax.sub(rnd._uniform_impl(key_u, 0., 1., shape, f32), c(0.5))
        v = rnd._uniform_impl(key_v, 0., 1., shape, f32)
        us = lax.sub(c(0.5), lax.abs(u))
        k = lax.floor(lax.add(lax.add(lax.mul(lax.add(lax.div(lax.mul(c(2), a), us), b), u),
                                      lam), c(0.43)))
        s = lax.log(lax.div(lax.mul(v, inv_alpha),
                            lax.add(lax.div(a, lax.mul(us, us)), b)))
        t_ = lax.sub(lax.add(lax.neg(lam), lax.mul(k, log_lam)),
                     lax.lgamma(lax.add(k, c(1))))
        accept1 = lax.bitwise_and(lax.ge(us, c(0.07)), lax.le(v, v_r))
        reject = lax.bitwise_or(lax.lt(k, c(0)),
                                lax.bitwise_and(lax.lt(us, c(0.013)), lax.gt(v, us)))
        accept = lax.bitwise_or(accept1, lax.bitwise_and(lax.bitwise_not(reject),
                                                         lax.le(s, t_)))
        return (lax.add(i, _const(i, 1)), lax.select(accept, k, k_out),
                lax.bitwise_or(accepted, accept), key)

    init = (lax.full((), 0, dtype), lax.full(shape, -1, f32), lax.full(shape, False, bool),
            data)
    k = lax.while_loop(going, body, init)[1]
    return lax.convert_element_type(k, dtype)


def _poisson(data, lam, shape, dtype):
    lam = lax.convert_element_type(fnp.broadcast_to(fnp.asarray(lam), shape), np.float32)
    # Knuth's method below 10 (its cost grows with lam), rejection above; each branch runs
    # on all elements with a harmless lam where the other branch is used.
    use_knuth = lax.bitwise_or(lax.ne(lam, lam), lax.lt(lam, np.float32(10)))
    lam_knuth = lax.select(use_knuth, lam, lax.full_like(lam, 0.0))
    lam_rejection = lax.select(use_knuth, lax.full_like(lam, 1e5), lam)
    max_iters = dtype.type(dtypes.iinfo(dtype).max)  # (a bound, never reached in practice)
    out = lax.select(use_knuth, _poisson_knuth(data, lam_knuth, shape, dtype, max_iters),
                     _poisson_rejection(data, lam_rejection, shape, dtype, max_iters))
    return lax.select(lax.eq(lam, np.float32(0)), lax.full_like(out, 0), out)


_poisson_jit = jit(_poisson, static_argnums=(2, 3))


def poisson(key: Any, lam: Any, shape: Sequence[int] | None = None, dtype: Any = None):
    """Poisson(``lam``) counts of an integer dtype (default int32; int64 with x64), of
    shape ``shape`` (default ``lam``'s shape; ``lam`` must broadcast to it). ``lam`` is
    used in float32. Knuth's method for ``lam < 10``, Hormann's transformed rejection
    otherwise. Example: ``poisson(key, 3., (4,))`` is ``int32[4]``."""
    data, _ = _random()._unwrap("poisson", key)
    dt = dtypes.canonicalize_dtype(int if dtype is None else dtype)
    if not dtypes.is_int(dt):
        raise ValueError(f"dtype argument to `poisson` must be an int dtype, got {dt}")
    if shape is None:
        shape = _shape_of(lam)
    else:
        shape = canonical_shape("poisson", shape)
    try:
        np.broadcast_to(np.empty(_shape_of(lam), np.bool_), shape)
    except ValueError:
        raise ValueError(f"poisson: lam of shape {_shape_of(lam)} does not broadcast to the "
                         f"shape argument {shape}") from None
    return _poisson_jit(data, lam, shape, dt)
