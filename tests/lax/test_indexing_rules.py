"""jvp, transpose and batching rules of the indexing primitives (functorch_lite/lax/
indexing.py): dynamic_slice, dynamic_update_slice, gather and the scatters, checked against
jax.jvp/jax.vjp/jax.vmap of jax.lax on the configuration tables of test_indexing.py, against
finite differences and the transpose identity (rule_checks, order 2), and against a Python
loop over the batch."""
import importlib.util
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import functorch_lite as fl
from functorch_lite import lax
from functorch_lite.core import pytree
from functorch_lite.lax import indexing as ix
from functorch_lite.lax.indexing import (GatherDimensionNumbers as GDN,
                                         ScatterDimensionNumbers as SDN)
from rule_checks import check_batching, check_grads, restrict, x64


def _load_tables():
    """The configuration tables of test_indexing.py (loaded under a private name, so that its
    tests are not collected twice and no other test_indexing module is shadowed)."""
    path = pathlib.Path(__file__).with_name("test_indexing.py")
    spec = importlib.util.spec_from_file_location("_lax_indexing_tables", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_base = _load_tables()
GATHER_CASES = _base.GATHER_CASES
SCATTER_CASES = _base.SCATTER_CASES
_scatter_window = _base._scatter_window
_unique_rows = _base._unique_rows

SMALL = settings(max_examples=8, deadline=None)
SCATTERS = ("scatter", "scatter_add", "scatter_mul", "scatter_min", "scatter_max")


def _rng(seed):
    return np.random.default_rng(seed)


def _normal(shape, seed=0, dtype=np.float32):
    return _rng(seed).normal(size=shape).astype(dtype)


def _indices(op_shape, idx_shape, dmap, window, in_bounds, seed=0):
    """Index vectors for ``dmap``; in bounds, or with some blocks out of bounds."""
    rng = _rng(seed)
    idx = np.zeros(idx_shape, np.int64)
    for c, d in enumerate(dmap):
        hi = op_shape[d] - window[d]
        lo, top = (0, hi) if in_bounds else (-3, hi + 3)
        idx[..., c] = rng.integers(lo, top + 1, idx_shape[:-1])
    if not in_bounds and idx.size:
        idx.reshape(-1)[0] = -1
    return idx.astype(np.int32)


def _writes(op_shape, idx, upd_shape, dn, mode):
    """How many times a scatter writes each operand element (JAX as the oracle)."""
    return np.asarray(jax.lax.scatter_add(
        np.zeros(op_shape, np.float32), idx, np.ones(upd_shape, np.float32),
        jax.lax.ScatterDimensionNumbers(*dn), mode=mode))


def _unique_indices(op_shape, idx_shape, upd_shape, dn, in_bounds, mode, seed=0):
    """Like ``_indices`` but no operand element is written twice, or None if the table's
    configuration writes more blocks than fit."""
    window = _scatter_window(op_shape, upd_shape, dn)
    for k in range(100):
        idx = _indices(op_shape, idx_shape, dn.scatter_dims_to_operand_dims, window,
                       in_bounds, seed + k)
        if _writes(op_shape, idx, upd_shape, dn, mode).max(initial=0) <= 1:
            return idx
    return None


def _close(ours, ref, rtol=1e-5, atol=1e-5):
    ours, ref = pytree.tree_leaves(ours), jax.tree_util.tree_leaves(ref)
    assert len(ours) == len(ref)
    for a, b in zip(ours, ref):
        a, b = np.asarray(a), np.asarray(b)
        if b.dtype == jax.dtypes.float0:
            continue
        assert a.shape == b.shape, (a.shape, b.shape)
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


def _against_jax(ours, theirs, args, seed=0, vjp=True):
    """jvp and vjp of ``ours`` (functorch_lite) and ``theirs`` (jax) agree at ``args`` with
    random tangents and cotangents; integer arguments are held fixed."""
    rng = _rng(seed)
    diff = [i for i, a in enumerate(args) if np.issubdtype(np.asarray(a).dtype, np.inexact)]

    def only(f):
        return restrict(f, args, diff)

    d_args = tuple(args[i] for i in diff)
    tangents = tuple(rng.normal(size=np.shape(a)).astype(np.asarray(a).dtype) for a in d_args)
    # (under jit: one compiled program per check instead of one per primitive)
    out, t_out = fl.jit(lambda d, t: fl.jvp(only(ours), d, t))(d_args, tangents)
    ref, t_ref = jax.jit(lambda d, t: jax.jvp(only(theirs), d, t))(d_args, tangents)
    _close(out, ref)
    _close(t_out, t_ref)
    if not vjp:
        return
    ct = rng.normal(size=np.shape(ref)).astype(np.asarray(ref).dtype)
    _close(fl.jit(lambda d, ct: fl.vjp(only(ours), *d)[1](ct))(d_args, ct),
           jax.jit(lambda d, ct: jax.vjp(only(theirs), *d)[1](ct))(d_args, ct))


def _vmap_against_jax(ours, theirs, args, in_axes):
    _close(fl.vmap(ours, in_axes=in_axes)(*args), jax.vmap(theirs, in_axes=in_axes)(*args))
    check_batching(ours, args, in_axes)


def _batched(x, axis, n=3, seed=0):
    """``n`` variants of ``x`` stacked along ``axis`` (integers shifted, floats random)."""
    x = np.asarray(x)
    if np.issubdtype(x.dtype, np.integer):
        rows = [np.roll(x, k, axis=0) for k in range(n)]
    else:
        rows = [x + _normal(x.shape, seed + k, x.dtype) for k in range(n)]
    return np.stack(rows, axis)


def test_every_primitive_has_rules():
    for p in (ix.dynamic_slice_p, ix.dynamic_update_slice_p, ix.gather_p, ix.scatter_p,
              ix.scatter_add_p, ix.scatter_mul_p, ix.scatter_min_p, ix.scatter_max_p):
        assert p.jvp_rule is not None and p.batch_rule is not None, p
    for p in (ix.dynamic_slice_p, ix.dynamic_update_slice_p, ix.gather_p, ix.scatter_p,
              ix.scatter_add_p, ix.scatter_mul_p):
        assert p.transpose_rule is not None, p


# ---------------------------------------------------------------------------------------
# dynamic_slice / dynamic_update_slice

@st.composite
def float_slice_cases(draw):
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    sizes = tuple(draw(st.integers(0, d)) for d in shape)
    starts = tuple(draw(st.integers(-d - 2, d + 2)) for d in shape)
    return shape, starts, sizes


@SMALL
@given(float_slice_cases())
def test_dynamic_slice_grads(case):
    shape, starts, sizes = case
    starts = [np.int32(s) for s in starts]
    n = len(shape)

    def ours(x, *idx):
        return lax.dynamic_slice(x, idx, sizes)

    def theirs(x, *idx):
        return jax.lax.dynamic_slice(x, idx, sizes)
    _against_jax(ours, theirs, [_normal(shape)] + starts)
    with x64():
        check_grads(ours, [_normal(shape, dtype=np.float64)] + starts, order=2)
    # the batch on the operand at its last axis, or on one start index
    x_b = _batched(_normal(shape), n)
    _vmap_against_jax(ours, theirs, [x_b] + starts, (n,) + (None,) * n)
    i_b = np.array([-5, 0, 1, 3], np.int32)
    axes = (None, 0) + (None,) * (n - 1)
    _vmap_against_jax(ours, theirs, [_normal(shape)] + [i_b] + starts[1:], axes)
    _vmap_against_jax(ours, theirs, [_batched(_normal(shape), 0, 4), i_b] + starts[1:],
                      (0,) + axes[1:])


@SMALL
@given(float_slice_cases())
def test_dynamic_update_slice_grads(case):
    shape, starts, sizes = case
    starts = [np.int32(s) for s in starts]
    n = len(shape)

    def ours(x, u, *idx):
        return lax.dynamic_update_slice(x, u, idx)

    def theirs(x, u, *idx):
        return jax.lax.dynamic_update_slice(x, u, idx)
    x, u = _normal(shape), _normal(sizes, 1)
    _against_jax(ours, theirs, [x, u] + starts)
    with x64():
        check_grads(ours, [x.astype(np.float64), u.astype(np.float64)] + starts, order=2)
    # operand and update batched at different axes, or only one of them
    _vmap_against_jax(ours, theirs, [_batched(x, n), _batched(u, 0)] + starts,
                      (n, 0) + (None,) * n)
    _vmap_against_jax(ours, theirs, [x, _batched(u, n)] + starts, (None, n) + (None,) * n)
    _vmap_against_jax(ours, theirs, [_batched(x, 0), _batched(u, 0)] + starts,
                      (0, 0) + (None,) * n)
    # batched start indices: a scatter
    i_b = np.array([-5, 0, 1, 3], np.int32)
    axes = (None, None, 0) + (None,) * (n - 1)
    _vmap_against_jax(ours, theirs, [x, u, i_b] + starts[1:], axes)
    _vmap_against_jax(ours, theirs, [_batched(x, n, 4), u, i_b] + starts[1:], (n,) + axes[1:])
    _vmap_against_jax(ours, theirs, [x, _batched(u, 0, 4), i_b] + starts[1:],
                      (None, 0) + axes[2:])


def test_dynamic_slice_rank0_batched():
    f = lambda x: lax.dynamic_slice(x, (), ())  # noqa: E731
    check_batching(f, [_normal((3,))], (0,))
    g = lambda x, u: lax.dynamic_update_slice(x, u, ())  # noqa: E731
    check_batching(g, [_normal((3,)), np.float32(2.0)], (0, None))


def test_dynamic_slice_transpose_uses_clamped_starts():
    """The cotangent goes back where the (wrapped, clamped) slice was read, for concrete
    starts and for traced ones (wrapped inside the program)."""
    x = np.arange(6.0, dtype=np.float32)
    ct = np.array([1.0, 2.0, 3.0], np.float32)

    def ours(x, i, ct):
        return fl.vjp(lambda x: lax.dynamic_slice(x, (i,), (3,)), x)[1](ct)

    def theirs(x, i, ct):
        return jax.vjp(lambda x: jax.lax.dynamic_slice(x, (i,), (3,)), x)[1](ct)
    for start in (-1, 4, 7, -9):
        i = np.int32(start)
        expected = theirs(x, i, ct)
        _close(ours(x, i, ct), expected)
        _close(fl.jit(ours)(x, i, ct), expected)


def test_dynamic_slice_indices_have_no_derivative():
    x = _normal((5,))
    f = lambda x, i: lax.dynamic_slice(x, (i,), (2,))  # noqa: E731
    _, vjp_fn = fl.vjp(f, x, np.int32(2))
    ct_x, ct_i = vjp_fn(np.ones(2, np.float32))
    assert np.asarray(ct_i).dtype == jax.dtypes.float0
    np.testing.assert_array_equal(np.asarray(ct_x), [0, 0, 1, 1, 0])


# ---------------------------------------------------------------------------------------
# gather: every configuration of test_indexing.py's table, every mode

_GATHER_MODES = [None, "clip", "fill", "promise_in_bounds"]


def _gather_fns(dn, sizes, mode, fill_value=None):
    def ours(x, idx):
        return lax.gather(x, idx, dn, sizes, mode=mode, fill_value=fill_value)

    def theirs(x, idx):
        return jax.lax.gather(x, idx, jax.lax.GatherDimensionNumbers(*dn), sizes, mode=mode,
                              fill_value=fill_value)
    return ours, theirs


@pytest.mark.parametrize("case", sorted(GATHER_CASES))
@pytest.mark.parametrize("mode", _GATHER_MODES)
def test_gather_grads_against_jax(case, mode):
    op_shape, idx_shape, dn, sizes = GATHER_CASES[case]
    ours, theirs = _gather_fns(dn, sizes, mode)
    x = _normal(op_shape)
    for in_bounds in (True, False):
        if not in_bounds and mode in (None, "promise_in_bounds"):
            continue
        idx = _indices(op_shape, idx_shape, dn.start_index_map, sizes, in_bounds)
        # JAX's gather transpose scatters into the rank-0 operand, which XLA rejects
        _against_jax(ours, theirs, [x, idx], vjp=case != "scalar_operand")


@pytest.mark.parametrize("case", sorted(GATHER_CASES))
def test_gather_check_grads(case):
    op_shape, idx_shape, dn, sizes = GATHER_CASES[case]
    k = sorted(GATHER_CASES).index(case)
    mode = _GATHER_MODES[k % 4]
    ours, _ = _gather_fns(dn, sizes, mode, fill_value=3.0)  # NaN fill defeats differences
    in_bounds = mode in (None, "promise_in_bounds")
    idx = _indices(op_shape, idx_shape, dn.start_index_map, sizes, in_bounds)
    with x64():
        check_grads(ours, [_normal(op_shape, dtype=np.float64), idx], order=2)


@pytest.mark.parametrize("case", sorted(GATHER_CASES))
def test_gather_batching(case):
    op_shape, idx_shape, dn, sizes = GATHER_CASES[case]
    k = sorted(GATHER_CASES).index(case)
    mode = ["clip", "fill"][k % 2]
    ours, theirs = _gather_fns(dn, sizes, mode)
    x = _normal(op_shape)
    idx = _indices(op_shape, idx_shape, dn.start_index_map, sizes, False)
    x_ax, i_ax = len(op_shape), len(idx_shape) - 1  # last axes (before the index vector)
    _vmap_against_jax(ours, theirs, [_batched(x, x_ax), idx], (x_ax, None))
    _vmap_against_jax(ours, theirs, [x, _batched(idx, i_ax)], (None, i_ax))
    _vmap_against_jax(ours, theirs, [_batched(x, 0), _batched(idx, len(idx_shape))],
                      (0, len(idx_shape)))


# ---------------------------------------------------------------------------------------
# scatter family: every configuration of test_indexing.py's table

def _scatter_fns(op, dn, mode, unique=False):
    def ours(x, idx, u):
        return getattr(lax, op)(x, idx, u, dn, mode=mode, unique_indices=unique)

    def theirs(x, idx, u):
        return getattr(jax.lax, op)(x, idx, u, jax.lax.ScatterDimensionNumbers(*dn),
                                    mode=mode, unique_indices=unique)
    return ours, theirs


def _scatter_args(case, op, mode, in_bounds, seed=0):
    """Operand, indices and updates for a table case; for plain scatter (and scatter_mul,
    whose updates JAX differentiates only with unique indices) no element is written twice,
    or None when the case cannot avoid it."""
    op_shape, idx_shape, upd_shape, dn = SCATTER_CASES[case]
    if op in ("scatter", "scatter_mul"):
        idx = _unique_indices(op_shape, idx_shape, upd_shape, dn, in_bounds, mode, seed)
        if idx is None:
            return None
    else:
        idx = _indices(op_shape, idx_shape, dn.scatter_dims_to_operand_dims,
                       _scatter_window(op_shape, upd_shape, dn), in_bounds, seed)
    return _normal(op_shape, seed), idx, _normal(upd_shape, seed + 1)


# plain scatter and scatter_add on every configuration; the other combiners share the
# batching rule and the inverse-gather bookkeeping, so three configurations each
_SCATTER_TABLE = ([(c, op) for c in sorted(SCATTER_CASES) for op in ("scatter", "scatter_add")]
                  + [(c, op) for c in ("axis0", "put_along_axis", "windows")
                     for op in ("scatter_mul", "scatter_min", "scatter_max")])


def _case_mode(case):
    k = sorted(SCATTER_CASES).index(case)
    return k, ["drop", "clip"][k % 2]


@pytest.mark.parametrize("case,op", _SCATTER_TABLE)
def test_scatter_grads_against_jax(case, op):
    dn = SCATTER_CASES[case][3]
    k, mode = _case_mode(case)
    # JAX's min/max rule reads dropped or clamped blocks back unclamped (NaN tangents)
    for in_bounds in (True,) if op in ("scatter_min", "scatter_max") else (True, False):
        args = _scatter_args(case, op, mode, in_bounds, seed=k)
        if args is None:
            continue  # more blocks than distinct places: see the repeated-indices tests
        # JAX differentiates scatter_mul's updates only with unique_indices=True
        ours, theirs = _scatter_fns(op, dn, mode, unique=op == "scatter_mul")
        _against_jax(ours, theirs, args)
        if op == "scatter":  # both our rules: unique_indices (plain) and not (scatter ids)
            ours, theirs = _scatter_fns(op, dn, mode, unique=True)
            _against_jax(ours, theirs, args)


@pytest.mark.parametrize("case,op", _SCATTER_TABLE)
def test_scatter_check_grads(case, op):
    dn = SCATTER_CASES[case][3]
    k, mode = _case_mode(case)
    args = _scatter_args(case, op, mode, in_bounds=k % 3 != 0, seed=k)
    if args is None:
        args = _scatter_args(case, "scatter_add", mode, in_bounds=k % 3 != 0, seed=k)
        if op == "scatter":
            pytest.skip("repeated indices: scatter's winner is unspecified")
    x, idx, u = args
    ours, _ = _scatter_fns(op, dn, mode, unique=op == "scatter" and k % 2 == 0)
    with x64():
        check_grads(fl.jit(ours), [x.astype(np.float64), idx, u.astype(np.float64)],
                    order=2)


@pytest.mark.parametrize("case,op", _SCATTER_TABLE)
def test_scatter_batching(case, op):
    op_shape, idx_shape, upd_shape, dn = SCATTER_CASES[case]
    _, mode = _case_mode(case)
    args = _scatter_args(case, op, mode, in_bounds=False)
    if args is None:
        pytest.skip("repeated indices: scatter's winner is unspecified")
    x, idx, u = args
    ours, theirs = _scatter_fns(op, dn, mode)
    x_ax, u_ax, i_ax = len(op_shape), len(upd_shape), len(idx_shape) - 1
    _vmap_against_jax(ours, theirs, [_batched(x, x_ax), idx, u], (x_ax, None, None))
    _vmap_against_jax(ours, theirs, [x, idx, _batched(u, u_ax)], (None, None, u_ax))
    # (rolled index arrays: a permutation of the blocks, so still unique for scatter)
    _vmap_against_jax(ours, theirs, [x, _batched(idx, i_ax), u], (None, i_ax, None))
    _vmap_against_jax(ours, theirs, [_batched(x, 0), _batched(idx, 0), _batched(u, u_ax)],
                      (0, 0, u_ax))


# -- what JAX does not cover: repeated indices ------------------------------------------

def test_scatter_jvp_with_repeated_indices_follows_the_winner():
    """With repeated indices, value and tangent come from the same (unspecified) write."""
    x, u = _normal((5, 3)), _normal((6, 3), 1)
    idx = np.array([[3], [0], [3], [1], [0], [3]], np.int32)
    tx, tu = _normal((5, 3), 2), _normal((6, 3), 3)
    dn = SDN((1,), (0,), (0,))
    out, t_out = fl.jvp(lambda x, u: lax.scatter(x, idx, u, dn), (x, u), (tx, tu))
    out, t_out = np.asarray(out), np.asarray(t_out)
    for row in range(5):
        writers = [k for k in range(6) if idx[k, 0] == row]
        if not writers:
            np.testing.assert_array_equal(out[row], x[row])
            np.testing.assert_array_equal(t_out[row], tx[row])
            continue
        for col in range(3):
            pairs = {(u[k, col], tu[k, col]) for k in writers}
            assert (out[row, col], t_out[row, col]) in pairs
    # and the tangent map transposes (the jvp is a scatter_add of masked values)
    with x64():
        check_grads(lambda x, u: lax.scatter(x, idx, u, dn),
                    [x.astype(np.float64), u.astype(np.float64)], order=2)


def test_scatter_transpose_needs_unique_indices():
    from functorch_lite.core.avals import ShapedArray
    from functorch_lite.interpreters.transpose import UndefinedPrimal
    dn = SDN((), (0,), (0,))
    idx = np.array([[1], [2]], np.int32)
    with pytest.raises(NotImplementedError, match="scatter.*unique_indices"):
        ix.scatter_p.transpose_rule(np.ones(4, np.float32), np.zeros(4, np.float32), idx,
                                    UndefinedPrimal(ShapedArray((2,), np.dtype(np.float32))),
                                    dimension_numbers=dn, indices_are_sorted=False,
                                    unique_indices=False,
                                    mode=ix.GatherScatterMode.FILL_OR_DROP)


def _segment_product_oracle(x, idx, u):
    """x.at[idx].multiply(u) on axis 0 written with jnp.prod (JAX differentiates products
    with zeros exactly)."""
    onehot = idx[:, 0][None, :] == jnp.arange(x.shape[0])[:, None]  # (n, k)
    factors = jnp.where(onehot[:, :, None], u[None, :, :], 1.0)
    return x * jnp.prod(factors, axis=1)


@pytest.mark.parametrize("zeros", [(), (0,), (0, 2), (0, 2, 5)])
def test_scatter_mul_repeated_indices_with_zero_updates(zeros):
    """d(x * prod u) with repeated indices, also where updates are exactly 0 (JAX's own rule
    needs unique indices; the oracle is a dense product)."""
    x, u = _normal((5, 2)), _normal((6, 2), 1)
    for k in zeros:  # rows 0, 2 and 5 all write row 3
        u[k, 0] = 0.0
    idx = np.array([[3], [1], [3], [1], [4], [3]], np.int32)
    dn = SDN((1,), (0,), (0,))
    ours = lambda x, u: lax.scatter_mul(x, idx, u, dn)  # noqa: E731
    _against_jax(lambda x, i, u: ours(x, u), lambda x, i, u: _segment_product_oracle(x, i, u),
                 [x, idx, u])
    with x64():
        # away from zero updates the derivative is exact at every order; at them, only
        # the first derivative is (see _products_without_each)
        check_grads(ours, [x.astype(np.float64), u.astype(np.float64)],
                    order=1 if zeros else 2)


def test_scatter_extremum_ties_split_the_tangent():
    """Equal candidates (operand and updates) share the tangent evenly, like max/min."""
    x = np.array([1.0, 5.0, 0.0], np.float32)
    u = np.array([5.0, 5.0, 2.0], np.float32)
    idx = np.array([[1], [1], [0]], np.int32)
    dn = SDN((), (0,), (0,))
    f = lambda x, u: lax.scatter_max(x, idx, u, dn)  # noqa: E731
    out, t = fl.jvp(f, (x, u), (np.array([1.0, 3.0, 7.0], np.float32),
                                np.array([6.0, 9.0, 2.0], np.float32)))
    np.testing.assert_array_equal(np.asarray(out), [2.0, 5.0, 0.0])
    np.testing.assert_allclose(np.asarray(t), [2.0, (3.0 + 6.0 + 9.0) / 3, 7.0])
    # a NaN operand element nobody writes keeps its tangent
    x = np.array([np.nan, 1.0], np.float32)
    out, t = fl.jvp(lambda x: lax.scatter_min(x, np.array([[1]], np.int32),
                                              np.array([0.5], np.float32), dn),
                    (x,), (np.array([4.0, 3.0], np.float32),))
    np.testing.assert_array_equal(np.asarray(t), [4.0, 0.0])


def test_integer_scatters_have_no_tangent():
    x = np.arange(5, dtype=np.int32)
    idx = np.array([[1], [1]], np.int32)
    dn = SDN((), (0,), (0,))
    for op in SCATTERS:
        f = lambda x, u, op=op: getattr(lax, op)(x, idx, u, dn)  # noqa: E731
        out, vjp_fn = fl.vjp(f, x, np.array([2, 3], np.int32))
        assert np.asarray(out).dtype == np.int32
        cts = vjp_fn(np.zeros(5, jax.dtypes.float0))
        assert all(np.asarray(c).dtype == jax.dtypes.float0 for c in cts)


# ---------------------------------------------------------------------------------------
# compositions

def test_jit_vmap_grad_embedding_lookup():
    """Per-example gradients of an embedding lookup (gather -> scatter_add transpose under a
    batched index) and of a dynamic window (dynamic_slice with a batched start -> gather)."""
    table = _normal((6, 3))
    ids = np.array([[0, 5], [2, 2], [5, 1], [3, 0]], np.int32)
    dn = GDN((1,), (0,), (0,))

    def loss(table, i):
        rows = lax.gather(table, i[:, None], dn, (1, 3), mode="clip")
        return lax.reduce_sum(lax.sin(rows) * rows, (0, 1))

    def jloss(table, i):
        rows = jax.lax.gather(table, i[:, None], jax.lax.GatherDimensionNumbers(*dn),
                              (1, 3), mode="clip")
        return jnp.sum(jnp.sin(rows) * rows)

    ours = fl.jit(fl.vmap(fl.grad(loss), in_axes=(None, 0)))(table, ids)
    _close(ours, jax.jit(jax.vmap(jax.grad(jloss), in_axes=(None, 0)))(table, ids))

    def window(x, i):
        return lax.reduce_sum(lax.exp(lax.dynamic_slice(x, (i, np.int32(1)), (2, 2))), (0, 1))

    def jwindow(x, i):
        return jnp.sum(jnp.exp(jax.lax.dynamic_slice(x, (i, np.int32(1)), (2, 2))))

    x = _normal((5, 4))
    starts = np.array([0, 3, -1, 9], np.int32)
    ours = fl.jit(fl.vmap(fl.grad(window), in_axes=(0, 0)))(_batched(x, 0, 4), starts)
    _close(ours, jax.jit(jax.vmap(jax.grad(jwindow), in_axes=(0, 0)))(_batched(x, 0, 4),
                                                                        starts))


def test_jit_vmap_grad_scatters():
    """Batched gradients through scatter (non-unique rule), scatter_add and scatter_max,
    with the batch on the indices (scatter batching dims) and the updates."""
    dn = SDN((1,), (0,), (0,))
    x = _normal((4, 2))
    idx = np.array([[[1], [3]], [[0], [2]], [[3], [3]]], np.int32)
    us = _normal((3, 2, 2), 1)

    jdn = jax.lax.ScatterDimensionNumbers(*dn)

    def loss(x, i, u):
        y = lax.scatter(x, i, u * 2.0, dn)
        z = lax.scatter_max(lax.scatter_add(y, i, u * u, dn), i, u, dn)
        return lax.reduce_sum(z * z, (0, 1))

    def jloss(x, i, u):
        y = jax.lax.scatter(x, i, u * 2.0, jdn)
        z = jax.lax.scatter_max(jax.lax.scatter_add(y, i, u * u, jdn), i, u, jdn)
        return jnp.sum(z * z)

    # members 0 and 1 write distinct rows; member 2 repeats row 3 (scatter picks one
    # winner, so only the first two are compared with JAX, all three with a loop)
    grads = fl.jit(fl.vmap(fl.grad(loss, argnums=(0, 2)), in_axes=(None, 0, 0)))
    ours = grads(x, idx[:2], us[:2])
    ref = jax.jit(jax.vmap(jax.grad(jloss, argnums=(0, 2)), in_axes=(None, 0, 0)))(
        x, idx[:2], us[:2])
    _close(ours, ref)
    loop = [fl.grad(loss, argnums=(0, 2))(x, idx[k], us[k]) for k in range(3)]
    full = grads(x, idx, us)
    for k in range(3):
        _close([np.asarray(g)[k] for g in full], [np.asarray(g) for g in loop[k]])
