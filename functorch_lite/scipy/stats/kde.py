"""``scipy.stats.gaussian_kde`` (as ``jax.scipy.stats.gaussian_kde``): a density estimate
that puts a Gaussian kernel, with covariance ``factor**2`` times the data's weighted
covariance, on every data point. The estimator is a pytree of arrays, so it can be passed
into ``jit``, ``vmap`` and ``grad`` and built inside them."""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Callable, Union

import numpy as np

import functorch_lite.numpy as fnp
from functorch_lite import random as _random
from functorch_lite.api import jit
from functorch_lite.core import dtypes
from functorch_lite.numpy import _util
from functorch_lite.scipy import linalg as _sla
from functorch_lite.scipy.special import logsumexp, ndtr
from functorch_lite.scipy.stats._common import promote_dtypes
from functorch_lite.tree_util import register_pytree_node_class

# A rule's name, a number (or 0-d array, possibly traced), or a function of the estimator.
BwMethod = Union[None, str, float, Any, Callable[["gaussian_kde"], Any]]

# The pytree children, in flattening order. ``factor`` is SciPy's attribute (JAX's class
# lacks it); it is a child so a bandwidth computed from traced values stays traced.
_FIELDS = ("neff", "dataset", "weights", "covariance", "inv_cov", "factor")


def _check_real(name: str, x: Any, what: str) -> None:
    if dtypes.is_complex(dtypes.dtype_of(x)):
        raise NotImplementedError(f"{name} does not support complex {what}; pass the real "
                                  "and imaginary parts as separate dimensions")


@register_pytree_node_class
class gaussian_kde:
    """Gaussian kernel density estimate of ``dataset``: shape (n,) for n one-dimensional
    points or (d, n) for n points in d dimensions (ints are promoted to float).
    ``bw_method`` sets the bandwidth factor: "scott" (the default, ``neff**(-1/(d+4))``),
    "silverman" (``(neff*(d+2)/4)**(-1/(d+4))``), a scalar, or a callable taking the
    estimator (with ``dataset``, ``weights``, ``neff``, ``d`` and ``n`` set) and returning
    the factor. ``weights``: optional (n,) non-negative point weights (normalized to sum 1).

    Attributes: ``dataset`` (d, n), ``weights`` (n,), ``d``, ``n``, ``neff`` (the effective
    number of points, ``1/sum(weights**2)``), ``factor``, ``covariance`` and ``inv_cov``
    (d, d), the kernel's covariance and its inverse. Instances are immutable.

    >>> gaussian_kde(fnp.array([0.0, 1.0, 3.0])).pdf(fnp.array([1.0])).shape
    (1,)
    """
    __slots__ = _FIELDS

    def __init__(self, dataset: Any, bw_method: BwMethod = None, weights: Any = None):
        _util.check_arraylike("gaussian_kde", dataset)
        _check_real("gaussian_kde", dataset, "data")
        data = fnp.atleast_2d(fnp.asarray(dataset))
        if data.ndim != 2:
            raise ValueError(f"gaussian_kde: `dataset` must have shape (n,) or (d, n), got "
                             f"shape {tuple(data.shape)}")
        if data.size <= 1:
            raise ValueError("`dataset` input should have multiple elements.")
        d, n = data.shape
        if weights is None:
            (data,) = promote_dtypes("gaussian_kde", data)
            w = fnp.full(n, 1.0 / n, dtype=data.dtype)
        else:
            _util.check_arraylike("gaussian_kde", weights)
            data, w = promote_dtypes("gaussian_kde", data, weights)
            w = fnp.atleast_1d(w)
            if w.ndim != 1:
                raise ValueError(f"`weights` input should be one-dimensional; got shape "
                                 f"{tuple(w.shape)}")
            if w.shape[0] != n:
                raise ValueError(f"`weights` input should be of length n={n} (one weight per "
                                 f"data point); got length {w.shape[0]}")
            w = w / fnp.sum(w)
        neff, data_cov, data_inv_cov = _weighted_moments(data, w)
        self._set("dataset", data)
        self._set("weights", w)
        self._set("neff", neff)

        if bw_method is None or (isinstance(bw_method, str) and bw_method == "scott"):
            factor = fnp.power(neff, -1.0 / (d + 4))
        elif isinstance(bw_method, str) and bw_method == "silverman":
            factor = fnp.power(neff * (d + 2) / 4.0, -1.0 / (d + 4))
        elif not isinstance(bw_method, str) and not callable(bw_method) \
                and np.ndim(bw_method) == 0:  # a number, or a 0-d array (maybe traced)
            factor = bw_method
        elif callable(bw_method):
            factor = bw_method(self)
        else:
            raise ValueError("`bw_method` should be 'scott', 'silverman', a scalar, or a "
                             f"callable; got {bw_method!r}")
        self._set("factor", fnp.asarray(factor))
        covariance, inv_cov = _scale_by_factor(data_cov, data_inv_cov, factor)
        self._set("covariance", covariance)
        self._set("inv_cov", inv_cov)

    # -- immutability and pytree protocol --------------------------------------------------
    def _set(self, name: str, value: Any) -> Any:
        object.__setattr__(self, name, value)
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        # Mutating one field would leave the derived ones (covariance, inv_cov) stale.
        raise AttributeError(f"gaussian_kde is immutable: cannot assign to {name!r}; build a "
                             "new gaussian_kde instead")

    def tree_flatten(self) -> tuple[tuple, None]:
        return tuple(getattr(self, f) for f in _FIELDS), None

    @classmethod
    def tree_unflatten(cls, aux_data: None, children: Sequence[Any]) -> "gaussian_kde":
        kde = cls.__new__(cls)
        for name, value in zip(_FIELDS, children):
            kde._set(name, value)
        return kde

    def __repr__(self) -> str:
        try:
            return f"gaussian_kde(d={self.d}, n={self.n}, dtype={self.dataset.dtype})"
        except AttributeError:  # children that are not arrays (a tree_map over the fields)
            return "gaussian_kde(<non-array fields>)"

    @property
    def d(self) -> int:
        """The number of dimensions."""
        return self.dataset.shape[0]

    @property
    def n(self) -> int:
        """The number of data points."""
        return self.dataset.shape[1]

    # -- densities -------------------------------------------------------------------------
    def evaluate(self, points: Any) -> Any:
        """The estimated density at ``points``: shape (d, m) for m points (or (m,) when
        d == 1, or (d,) for a single point); returns shape (m,).

        >>> gaussian_kde(fnp.array([0.0, 1.0, 3.0])).evaluate(fnp.zeros(4)).shape
        (4,)
        """
        _util.check_arraylike("evaluate", points)
        return _kernel_sum(False, self.dataset, self.weights, self._points(points),
                           self.inv_cov)

    __call__ = evaluate
    pdf = evaluate

    def logpdf(self, x: Any) -> Any:
        """The log of the estimated density at the points ``x`` (shaped as for
        ``evaluate``), summed in log space so far tails do not underflow; shape (m,).

        >>> gaussian_kde(fnp.array([0.0, 1.0, 3.0])).logpdf(fnp.array([50.0])).shape
        (1,)
        """
        _util.check_arraylike("logpdf", x)
        return _kernel_sum(True, self.dataset, self.weights, self._points(x), self.inv_cov)

    def _points(self, points: Any) -> Any:
        """``points`` as a (d, m) array."""
        _check_real("gaussian_kde", points, "coordinates")
        pts = fnp.atleast_2d(fnp.asarray(points))
        if pts.ndim != 2:
            raise ValueError(f"points must have shape (d, m), (m,) or (d,); got shape "
                             f"{tuple(pts.shape)}")
        d, m = pts.shape
        if d != self.d:
            if d == 1 and m == self.d:  # one d-dimensional point given as a vector
                return fnp.reshape(pts, (self.d, 1))
            raise ValueError(f"points have dimension {d}, dataset has dimension {self.d}")
        return pts

    # -- integrals -------------------------------------------------------------------------
    def integrate_gaussian(self, mean: Any, cov: Any) -> Any:
        """The integral of the estimated density times a normal density with ``mean`` (d,)
        and covariance ``cov`` (d, d); a scalar.

        >>> gaussian_kde(fnp.array([0.0, 1.0, 3.0])).integrate_gaussian(0.0, 1.0).shape
        ()
        """
        mean = fnp.atleast_1d(fnp.squeeze(fnp.asarray(mean)))
        cov = fnp.atleast_2d(fnp.asarray(cov))
        if mean.shape != (self.d,):
            raise ValueError(f"mean does not have dimension {self.d}: got shape "
                             f"{tuple(mean.shape)}")
        if cov.shape != (self.d, self.d):
            raise ValueError(f"covariance does not have dimension {self.d}: got shape "
                             f"{tuple(cov.shape)}, expected {(self.d, self.d)}")
        return _convolve(self.covariance + cov, self.dataset, self.weights, mean[:, None])[0]

    def integrate_box_1d(self, low: Any, high: Any) -> Any:
        """The estimated probability of the interval [low, high] (scalars) of a
        one-dimensional estimate; a scalar.

        >>> gaussian_kde(fnp.array([0.0, 1.0, 3.0])).integrate_box_1d(-1.0, 2.0).shape
        ()
        """
        if self.d != 1:
            raise ValueError("integrate_box_1d() only handles 1D pdfs; use "
                             "integrate_gaussian or integrate_kde for d > 1")
        if np.ndim(low) != 0 or np.ndim(high) != 0:
            raise ValueError("the limits of integration in integrate_box_1d must be scalars")
        return _box_1d(self, low, high)

    def integrate_box(self, low_bounds: Any, high_bounds: Any, maxpts: Any = None) -> Any:
        """Not supported (as in JAX): raises NotImplementedError."""
        raise NotImplementedError("gaussian_kde.integrate_box is not supported: only 1D box "
                                  "integrations are; use `integrate_box_1d`")

    def integrate_kde(self, other: "gaussian_kde") -> Any:
        """The integral of the product of this estimate and ``other`` (of the same
        dimension); a scalar.

        >>> k = gaussian_kde(fnp.array([0.0, 1.0, 3.0]))
        >>> k.integrate_kde(k).shape
        ()
        """
        if other.d != self.d:
            raise ValueError(f"KDEs are not the same dimensionality: {self.d} and {other.d}")
        # Place the smaller set's points as the means: fewer columns to solve for.
        small, large = (self, other) if self.n < other.n else (other, self)
        per_point = _convolve(self.covariance + other.covariance, large.dataset,
                              large.weights, small.dataset)
        return fnp.sum(per_point * small.weights)

    # -- sampling --------------------------------------------------------------------------
    def resample(self, key: Any, shape: Sequence[int] = ()) -> Any:
        """Draws from the estimated density, of shape ``(d,) + shape``: a data point chosen
        by weight plus kernel noise, using ``key`` (split in two as JAX does, so the same
        key gives JAX's samples wherever JAX's shapes are right: ``len(shape) <= 1``).

        >>> k = gaussian_kde(fnp.array([0.0, 1.0, 3.0]))
        >>> k.resample(functorch_lite.random.key(0), (5,)).shape
        (1, 5)
        """
        if not isinstance(shape, Sequence):
            raise TypeError(f"resample: shape must be a tuple of ints, got {shape!r}")
        return _resample(self, key, tuple(shape))

    def _resample(self, key: Any, shape: tuple[int, ...]) -> Any:
        index_key, noise_key = _random.split(key)
        index = _random.choice(index_key, self.n, shape=shape, p=self.weights)
        noise = _random.multivariate_normal(noise_key,
                                            fnp.zeros(self.d, self.covariance.dtype),
                                            self.covariance, shape=shape,
                                            dtype=self.dataset.dtype)
        # JAX transposes the noise (reversing every axis), which only matches the docs for
        # len(shape) <= 1; moving the last axis to the front is right for any shape.
        return self.dataset[:, index] + fnp.moveaxis(noise, -1, 0)

    def set_bandwidth(self, bw_method: BwMethod = None) -> None:
        """Not supported (as in JAX: the estimator is immutable): raises
        NotImplementedError; build a new ``gaussian_kde(dataset, bw_method)`` instead."""
        raise NotImplementedError("gaussian_kde.set_bandwidth is not supported (the estimator "
                                  "is immutable); build a new gaussian_kde with the new "
                                  "bw_method")


@jit
def _weighted_moments(data, weights):
    """The effective sample size, and the data's weighted covariance (d, d) and inverse."""
    neff = 1 / fnp.sum(weights ** 2)
    cov = fnp.atleast_2d(fnp.cov(data, rowvar=True, bias=False, aweights=weights))
    return neff, cov, fnp.linalg.inv(cov)


@jit
def _scale_by_factor(data_cov, data_inv_cov, factor):
    return data_cov * factor ** 2, data_inv_cov / factor ** 2


def _kernel_sum_impl(in_log: bool, dataset, weights, points, inv_cov):
    """Sum over the data of weight times kernel density at each point (or its log)."""
    dataset, weights, points, inv_cov = promote_dtypes("gaussian_kde", dataset, weights,
                                                       points, inv_cov)
    d = dataset.shape[0]
    # With inv_cov = L L^T, the kernel exponent is |L^T (x - x_i)|^2: whiten once.
    chol = fnp.linalg.cholesky(inv_cov)
    data_w = fnp.matmul(dataset.T, chol)  # (n, d)
    points_w = fnp.matmul(points.T, chol)  # (m, d)
    log_norm = fnp.sum(fnp.log(fnp.diagonal(chol))) - 0.5 * d * math.log(2 * math.pi)
    sq_dist = fnp.sum(fnp.square(points_w[:, None, :] - data_w[None, :, :]), axis=-1)
    exponent = log_norm - 0.5 * sq_dist  # (m, n)
    if in_log:
        return logsumexp(exponent + fnp.log(weights), axis=1)
    return fnp.sum(fnp.exp(exponent) * weights, axis=1)


_kernel_sum = jit(_kernel_sum_impl, static_argnums=0)


@jit
def _convolve(cov, data, weights, means):
    """For each column of ``means`` (d, k): sum_i weights_i N(data_i; mean, cov); (k,)."""
    d = data.shape[0]
    factor = _sla.cho_factor(cov)
    # det(cov) = prod(diag(chol))**2, so this is the normal density's normalization.
    norm = 1.0 / (math.sqrt(2 * math.pi) ** d * fnp.prod(fnp.diagonal(factor[0])))
    diff = data[:, :, None] - means[:, None, :]  # (d, n, k)
    solved = fnp.reshape(_sla.cho_solve(factor, fnp.reshape(diff, (d, -1))), diff.shape)
    mahalanobis = fnp.sum(diff * solved, axis=0)  # (n, k)
    return norm * fnp.sum(fnp.exp(-0.5 * mahalanobis) * weights[:, None], axis=0)


@jit
def _box_1d(kde, low, high):
    sigma = fnp.sqrt(kde.covariance[0, 0])
    x = kde.dataset[0]
    return fnp.sum(kde.weights * (ndtr((high - x) / sigma) - ndtr((low - x) / sigma)))


_resample = jit(gaussian_kde._resample, static_argnums=2)
