"""Activation functions with ``jax.nn``'s names and semantics."""
from __future__ import annotations

import numpy as np

import functorch_lite.numpy as fnp
from functorch_lite import custom_jvp, lax, typeof
from functorch_lite.scipy.special import expit
from functorch_lite.scipy.special_more import shifted_softmax
from functorch_lite.scipy.special import logsumexp  # noqa: F401  (jax.nn has it too)


def _inexact(x):
    """``x`` as an array of an inexact dtype, converted as fnp's float functions convert
    their arguments: bools and ints to the default float, a weak type kept (a float array
    is returned as it is)."""
    aval = typeof(x)
    return lax.convert_element_type(x, fnp.result_type(aval.dtype, float),
                                    weak_type=aval.weak_type)


@custom_jvp
def relu(x):
    """max(x, 0); its derivative at 0 is taken as 0 (as JAX does)."""
    return fnp.maximum(x, 0)


@relu.defjvp
def _relu_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return relu(x), fnp.where(x > 0, t, fnp.zeros_like(t))


@custom_jvp
def relu6(x):
    """min(max(x, 0), 6); derivative 0 at both kinks (as JAX)."""
    return fnp.minimum(fnp.maximum(x, 0), 6.0)


@relu6.defjvp
def _relu6_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return relu6(x), fnp.where((x > 0) & (x < 6), t, fnp.zeros_like(t))


def sigmoid(x):
    """1 / (1 + exp(-x)), as ``scipy.special.expit``."""
    return expit(x)


def log_sigmoid(x):
    return -softplus(-x)


def softplus(x):
    """log(1 + exp(x)), computed stably."""
    return fnp.logaddexp(x, 0.0)


def silu(x):
    """x * sigmoid(x)."""
    return x * sigmoid(x)


swish = silu


def gelu(x, approximate: bool = True):
    """Gaussian error linear unit (tanh approximation by default, as jax.nn.gelu)."""
    x = _inexact(x)
    if approximate:
        c = np.sqrt(2 / np.pi).astype(np.float32).item()
        return 0.5 * x * (1 + fnp.tanh(c * (x + 0.044715 * x ** 3)))
    return 0.5 * x * (1 + lax.erf(x / np.sqrt(2).item()))


def elu(x, alpha: float = 1.0):
    safe = fnp.where(x > 0, fnp.zeros_like(x), x)
    return fnp.where(x > 0, x, alpha * fnp.expm1(safe))


def celu(x, alpha: float = 1.0):
    safe = fnp.where(x > 0, fnp.zeros_like(x), x)
    return fnp.where(x > 0, x, alpha * fnp.expm1(safe / alpha))


def selu(x):
    alpha = 1.6732632423543772848170429916717
    scale = 1.0507009873554804934193349852946
    return scale * elu(x, alpha)


def leaky_relu(x, negative_slope: float = 0.01):
    return fnp.where(x >= 0, x, negative_slope * x)


def hard_tanh(x):
    """x clipped to [-1, 1]; derivative 1 at the ends of the interval (as JAX)."""
    return fnp.where(x > 1, 1, fnp.where(x < -1, -1, x))


def hard_sigmoid(x):
    return relu6(x + 3.0) / 6.0


def glu(x, axis: int = -1):
    a, b = fnp.split(x, 2, axis=axis)
    return a * sigmoid(b)


def softmax(x, axis: int | tuple = -1, where=None):
    """exp(x) / sum(exp(x)) along ``axis``, shifted by the max for stability."""
    if where is None:
        return shifted_softmax(fnp.asarray(x), axis)
    x_max = fnp.max(x, axis=axis, keepdims=True, where=where,
                    initial=-np.inf if where is not None else None)
    unnormalized = fnp.exp(x - lax.stop_gradient(x_max))
    if where is not None:
        unnormalized = fnp.where(where, unnormalized, 0.0)
    return unnormalized / fnp.sum(unnormalized, axis=axis, keepdims=True, where=where)


def log_softmax(x, axis: int | tuple = -1, where=None):
    """x - logsumexp(x) along ``axis``."""
    x_max = fnp.max(x, axis=axis, keepdims=True, where=where,
                    initial=-np.inf if where is not None else None)
    # The max over the kept entries only (a large masked-out entry must not shift them
    # all to -inf); a row with nothing kept shifts by 0.
    x_max = fnp.where(fnp.isfinite(x_max), x_max, 0.0)
    shifted = x - lax.stop_gradient(x_max)
    out = shifted - fnp.log(fnp.sum(fnp.exp(shifted), axis=axis, keepdims=True, where=where))
    return out if where is None else fnp.where(where, out, -np.inf)


def identity(x):
    """``x`` unchanged (an array)."""
    return fnp.asarray(x)


def tanh(x):
    return fnp.tanh(x)


def hard_silu(x):
    """x * hard_sigmoid(x), MobileNetV3's hard swish."""
    return x * hard_sigmoid(x)


hard_swish = hard_silu


def mish(x):
    """x * tanh(softplus(x))."""
    return x * fnp.tanh(softplus(x))


def soft_sign(x):
    """x / (|x| + 1)."""
    return x / (fnp.abs(x) + 1)


def squareplus(x, b=4):
    """(x + sqrt(x^2 + b)) / 2, a smooth and algebraic relu."""
    return (x + fnp.sqrt(fnp.square(x) + b)) / 2


def sparse_plus(x):
    """0 for x <= -1, x for x >= 1, (x + 1)^2 / 4 between: a relu with a quadratic knee."""
    return fnp.where(x <= -1.0, 0.0, fnp.where(x >= 1.0, x, (x + 1.0) ** 2 / 4))


def sparse_sigmoid(x):
    """The derivative of ``sparse_plus``: (x + 1) / 2 clipped to [0, 1]."""
    return 0.5 * fnp.clip(x + 1.0, 0.0, 2.0)


@custom_jvp
def log1mexp(x):
    """log(1 - exp(-x)) for x >= 0, accurate at both ends: log(-expm1(-x)) below log 2,
    log1p(-exp(-x)) above (each where the other cancels)."""
    x = fnp.asarray(_inexact(x))
    return fnp.where(x < np.log(2.0), fnp.log(-fnp.expm1(-x)), fnp.log1p(-fnp.exp(-x)))


@log1mexp.defjvp
def _log1mexp_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return log1mexp(x), t / fnp.expm1(_inexact(x))


def logmeanexp(x, axis=None, where=None, keepdims: bool = False):
    """log(mean(exp(x))) over ``axis`` (the entries ``where`` holds), computed as
    logsumexp minus the log of the count."""
    lse = logsumexp(x, axis=axis, where=where, keepdims=keepdims)
    kept = fnp.ones(fnp.shape(x), lse.dtype) if where is None else \
        fnp.broadcast_to(fnp.asarray(where, lse.dtype), fnp.shape(x))
    count = fnp.sum(kept, axis=axis, keepdims=keepdims)
    return lse - fnp.log(count)


def standardize(x, axis=-1, mean=None, variance=None, epsilon=1e-5, where=None, *,
                algorithm: str = "fast"):
    """(x - mean) / sqrt(variance + epsilon) over ``axis``; the mean and variance are
    computed (over the entries ``where`` holds) when not given. ``algorithm="fast"``
    takes the variance as mean(x^2) - mean(x)^2 clipped at 0, ``"stable"`` as
    mean((x - mean)^2)."""
    x = fnp.asarray(x)
    if mean is None:
        mean = fnp.mean(x, axis, keepdims=True, where=where)
    if variance is None:
        if algorithm == "stable":
            variance = fnp.mean(fnp.square(x - mean), axis, keepdims=True, where=where)
        elif algorithm == "fast":
            variance = fnp.clip(fnp.mean(fnp.square(x), axis, keepdims=True, where=where)
                                - fnp.square(mean), 0)
        else:
            raise ValueError(f"Unknown algorithm '{algorithm}'. Expected 'fast' or "
                             "'stable'.")
    return (x - mean) * lax.rsqrt(variance + epsilon)


def one_hot(x, num_classes: int, dtype=fnp.float32, axis: int = -1):
    """``x[..., None] == arange(num_classes)`` as ``dtype``."""
    x = fnp.asarray(x)
    classes = lax.broadcasted_iota(np.int32, (*x.shape, num_classes), x.ndim)
    out = fnp.expand_dims(x, -1) == classes
    out = out.astype(dtype)
    return fnp.moveaxis(out, -1, axis) if axis != -1 else out
