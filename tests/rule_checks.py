"""Oracle checks for primitive rules, shared by the tests of every lax family.

* ``check_jvp``: forward-mode tangents against central finite differences;
* ``check_vjp``: reverse mode against forward mode through the identity
  ``<u, J v> == <J^T u, v>`` (this checks every transpose rule on the path);
* ``check_grads``: both, at first and second order (the second-order checks differentiate
  the first-order derivative functions, so jvp and transpose rules of the rules are used);
* ``check_batching``: ``vmap(f, in_axes)`` against a Python loop that stacks ``f``.

Finite differences run in float64 (``x64`` fixture) so tolerances can be tight.
"""
from __future__ import annotations

import contextlib

import numpy as np

import functorch_lite as fl
from functorch_lite.core import pytree
from functorch_lite.core.config import config


@contextlib.contextmanager
def x64():
    import jax
    old, old_jax = config.enable_x64, jax.config.jax_enable_x64
    config.update("enable_x64", True)
    try:
        yield
    finally:
        config.update("enable_x64", old)
        jax.config.update("jax_enable_x64", old_jax)


def normal(shape, seed=0, dtype=np.float64):
    """Standard normal draws: no ties (almost surely), so sorts and extrema are
    differentiable there."""
    return np.random.default_rng(seed).normal(size=shape).astype(dtype)


def batched_normal(shape, axis, n=3, seed=0, dtype=np.float32):
    """``normal`` with a batch axis of size ``n`` inserted at ``axis``."""
    s = list(shape)
    s.insert(axis, n)
    return normal(tuple(s), seed, dtype)


def restrict(f, args, positions):
    """``f`` as a function of ``args[i]`` for ``i`` in ``positions`` only, the other
    arguments held at their values in ``args``."""
    def g(*picked):
        full = list(args)
        for i, v in zip(positions, picked):
            full[i] = v
        return f(*full)
    return g


def _np(x):
    return np.asarray(x)


def _random_like(rng, x):
    x = np.asarray(x)
    if np.issubdtype(x.dtype, np.complexfloating):
        return (rng.normal(size=x.shape) + 1j * rng.normal(size=x.shape)).astype(x.dtype)
    return rng.normal(size=x.shape).astype(x.dtype)


def _inexact(x) -> bool:
    return np.issubdtype(np.asarray(x).dtype, np.inexact)


def _vdot(a, b) -> float:
    return float(np.real(np.sum(np.asarray(a, np.complex128) *
                                np.asarray(b, np.complex128))))


def _tree_vdot(xs, ys) -> float:
    return sum(_vdot(x, y) for x, y in zip(pytree.tree_leaves(xs), pytree.tree_leaves(ys)))


def numerical_jvp(f, args, tangents, eps):
    plus = f(*[a + eps * t if _inexact(a) else a for a, t in zip(args, tangents)])
    minus = f(*[a - eps * t if _inexact(a) else a for a, t in zip(args, tangents)])
    return pytree.tree_map(lambda p, m: (_np(p) - _np(m)) / (2 * eps), plus, minus)


def _tangents(rng, args):
    return [_random_like(rng, a) if _inexact(a) else None for a in args]


def check_jvp(f, args, *, eps=1e-6, rtol=1e-5, atol=1e-5, seed=0):
    """``jvp(f)`` at ``args`` (float64 NumPy arrays) against central differences."""
    rng = np.random.default_rng(seed)
    tangents = _tangents(rng, args)
    diff = [i for i, a in enumerate(args) if _inexact(a)]

    def f_diff(*d):
        full = list(args)
        for i, x in zip(diff, d):
            full[i] = x
        return f(*full)

    d_args = [args[i] for i in diff]
    d_tan = [tangents[i] for i in diff]
    out, tout = fl.jvp(f_diff, tuple(d_args), tuple(d_tan))
    expected_out = f_diff(*d_args)
    for a, b in zip(pytree.tree_leaves(out), pytree.tree_leaves(expected_out)):
        np.testing.assert_allclose(_np(a), _np(b), rtol=rtol, atol=atol)
    num = numerical_jvp(f_diff, d_args, d_tan, eps)
    for a, b in zip(pytree.tree_leaves(tout), pytree.tree_leaves(num)):
        if not _inexact(a):
            continue
        np.testing.assert_allclose(_np(a), _np(b), rtol=rtol, atol=atol,
                                   err_msg="jvp disagrees with finite differences")


def check_vjp(f, args, *, rtol=1e-5, atol=1e-5, seed=1):
    """``<u, J v> == <J^T u, v>`` for random u, v (with J from jvp and J^T from vjp)."""
    rng = np.random.default_rng(seed)
    diff = [i for i, a in enumerate(args) if _inexact(a)]

    def f_diff(*d):
        full = list(args)
        for i, x in zip(diff, d):
            full[i] = x
        return f(*full)

    d_args = [args[i] for i in diff]
    v = [_random_like(rng, a) for a in d_args]
    out, jv = fl.jvp(f_diff, tuple(d_args), tuple(v))
    out2, vjp_fn = fl.vjp(f_diff, *d_args)
    u = pytree.tree_map(lambda o: _random_like(rng, o) if _inexact(o) else
                        np.zeros(np.shape(o), np.float32), out)
    u_leaves = [x for x, o in zip(pytree.tree_leaves(u), pytree.tree_leaves(out))
                if _inexact(o)]
    jv_leaves = [x for x, o in zip(pytree.tree_leaves(jv), pytree.tree_leaves(out))
                 if _inexact(o)]
    jtu = vjp_fn(_cotangent_like(u, out))
    lhs = _tree_vdot(u_leaves, jv_leaves)
    rhs = _tree_vdot(list(jtu), v)
    np.testing.assert_allclose(lhs, rhs, rtol=rtol, atol=atol,
                               err_msg="vjp (transpose) disagrees with jvp")


def _cotangent_like(u, out):
    from functorch_lite.core import dtypes
    return pytree.tree_map(lambda ui, o: ui if _inexact(o) else
                           np.zeros(np.shape(o), dtypes.float0), u, out)


def check_grads(f, args, order=2, *, eps=1e-6, rtol=1e-5, atol=1e-5):
    """jvp and vjp checks at first order, then (order 2) on the directional derivative
    ``x -> jvp(f, x, v)``'s tangent and on ``x -> vjp(f, x)(u)``."""
    check_jvp(f, args, eps=eps, rtol=rtol, atol=atol)
    check_vjp(f, args, rtol=rtol, atol=atol)
    if order < 2:
        return
    rng = np.random.default_rng(7)
    diff = [i for i, a in enumerate(args) if _inexact(a)]
    v = _tangents(rng, args)

    def directional(*xs):
        d_args = [xs[i] for i in diff]

        def f_diff(*d):
            full = list(xs)
            for i, x in zip(diff, d):
                full[i] = x
            return f(*full)
        return fl.jvp(f_diff, tuple(d_args), tuple(v[i] for i in diff))[1]

    check_jvp(directional, args, eps=eps, rtol=rtol * 10, atol=atol * 10)
    check_vjp(directional, args, rtol=rtol * 10, atol=atol * 10)


def check_batching(f, args, in_axes, *, rtol=1e-6, atol=1e-6, out_axes=0):
    """``vmap(f, in_axes)(*args)`` against stacking ``f`` over the batch in a loop."""
    sizes = {np.shape(a)[ax] for a, ax in zip(args, in_axes) if ax is not None}
    assert len(sizes) == 1, sizes
    (n,) = sizes
    got = fl.vmap(f, in_axes=tuple(in_axes), out_axes=out_axes)(*args)
    rows = []
    for i in range(n):
        row_args = [a if ax is None else np.take(np.asarray(a), i, axis=ax)
                    for a, ax in zip(args, in_axes)]
        rows.append(f(*row_args))
    expected = pytree.tree_map(lambda *xs: np.stack([np.asarray(x) for x in xs], out_axes),
                               *rows)
    for a, b in zip(pytree.tree_leaves(got), pytree.tree_leaves(expected)):
        assert np.shape(a) == np.shape(b), (np.shape(a), np.shape(b))
        assert np.asarray(a).dtype == np.asarray(b).dtype, (np.asarray(a).dtype,
                                                            np.asarray(b).dtype)
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol)
