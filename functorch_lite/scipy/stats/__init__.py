"""``scipy.stats`` distributions (as ``jax.scipy.stats``): one submodule per distribution,
each with its ``logpdf``/``pdf``/``cdf``/... (``logpmf``/``pmf`` for discrete ones), taking
SciPy's argument names (``loc``, ``scale``, shape parameters) and broadcasting them; and
the sample statistics ``sem``, ``rankdata`` and ``mode``; ``gaussian_kde``."""
from functorch_lite.scipy.stats._descriptive import rankdata, sem  # noqa: F401
from functorch_lite.scipy.stats._mode import ModeResult, mode  # noqa: F401
from functorch_lite.scipy.stats.kde import gaussian_kde  # noqa: F401
from functorch_lite.scipy.stats import bernoulli  # noqa: F401
from functorch_lite.scipy.stats import beta  # noqa: F401
from functorch_lite.scipy.stats import betabinom  # noqa: F401
from functorch_lite.scipy.stats import binom  # noqa: F401
from functorch_lite.scipy.stats import cauchy  # noqa: F401
from functorch_lite.scipy.stats import chi2  # noqa: F401
from functorch_lite.scipy.stats import dirichlet  # noqa: F401
from functorch_lite.scipy.stats import expon  # noqa: F401
from functorch_lite.scipy.stats import gamma  # noqa: F401
from functorch_lite.scipy.stats import gennorm  # noqa: F401
from functorch_lite.scipy.stats import geom  # noqa: F401
from functorch_lite.scipy.stats import gumbel_l  # noqa: F401
from functorch_lite.scipy.stats import gumbel_r  # noqa: F401
from functorch_lite.scipy.stats import laplace  # noqa: F401
from functorch_lite.scipy.stats import logistic  # noqa: F401
from functorch_lite.scipy.stats import multinomial  # noqa: F401
from functorch_lite.scipy.stats import multivariate_normal  # noqa: F401
from functorch_lite.scipy.stats import nbinom  # noqa: F401
from functorch_lite.scipy.stats import norm  # noqa: F401
from functorch_lite.scipy.stats import pareto  # noqa: F401
from functorch_lite.scipy.stats import poisson  # noqa: F401
from functorch_lite.scipy.stats import t  # noqa: F401
from functorch_lite.scipy.stats import truncnorm  # noqa: F401
from functorch_lite.scipy.stats import uniform  # noqa: F401
from functorch_lite.scipy.stats import vonmises  # noqa: F401
from functorch_lite.scipy.stats import wrapcauchy  # noqa: F401

__all__ = [
    "rankdata", "sem", "mode", "ModeResult", "gaussian_kde", "bernoulli", "beta",
    "betabinom", "binom", "cauchy", "chi2", "dirichlet", "expon", "gamma", "gennorm",
    "geom", "gumbel_l", "gumbel_r", "laplace", "logistic", "multinomial",
    "multivariate_normal", "nbinom", "norm", "pareto", "poisson", "t", "truncnorm",
    "uniform", "vonmises", "wrapcauchy",
]
