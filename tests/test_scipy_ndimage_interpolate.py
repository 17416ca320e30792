"""fl.scipy.ndimage.map_coordinates (functorch_lite/scipy/ndimage.py) and
fl.scipy.interpolate.RegularGridInterpolator (functorch_lite/scipy/interpolate.py) against
jax.scipy.ndimage / jax.scipy.interpolate (values, shapes, dtypes, gradients), SciPy, and
under jit and vmap."""
import jax
import jax.numpy as jnp
import jax.scipy.interpolate as jinterp
import jax.scipy.ndimage as jndimage
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite.scipy.interpolate import RegularGridInterpolator
from functorch_lite.scipy.ndimage import map_coordinates
from helpers import assert_same, jax_oracle
from rule_checks import x64

scipy_ndimage = pytest.importorskip("scipy.ndimage")
scipy_interpolate = pytest.importorskip("scipy.interpolate")


def oracle(fn):
    """``fn()`` (a JAX computation) compiled whole: one quick compilation instead of one per
    eager JAX operation."""
    return jax_oracle(lambda _: fn())


MODES = ("constant", "nearest", "wrap", "mirror", "reflect")
# JAX's (and our) 'constant' and 'wrap' are SciPy's 'grid-constant' and 'grid-wrap'.
SCIPY_MODE = {"constant": "grid-constant", "nearest": "nearest", "wrap": "grid-wrap",
              "mirror": "mirror", "reflect": "reflect"}

RNG = np.random.default_rng(0)
IMG = RNG.standard_normal((4, 5)).astype(np.float32)
# Coordinates well outside the array on both sides, exact integers and exact halves
# (ties of order-0 rounding), and a second axis that broadcasts against the first.
ROWS = np.concatenate([RNG.uniform(-9, 12, 9), [-2.5, -0.5, 0.0, 1.5, 3.0, 3.5, 4.0]]
                      ).astype(np.float32)
COLS = np.array([[-6.3], [0.5], [2.0], [4.75], [8.2]], np.float32)


# ---------------------------------------------------------------------------------------
# map_coordinates
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("order", [0, 1])
def test_map_coordinates_modes_match_jax_and_scipy(order, mode):
    ours = map_coordinates(IMG, [ROWS, COLS], order, mode=mode, cval=-1.25)
    theirs = jndimage.map_coordinates(IMG, [ROWS, COLS], order, mode=mode, cval=-1.25)
    assert ours.shape == (5, 16)
    assert_same(ours, theirs)
    # SciPy rounds order-0 halves differently; compare it away from ties.
    rows, cols = np.broadcast_arrays(ROWS[:9], COLS)
    want = scipy_ndimage.map_coordinates(IMG.astype(np.float64), np.stack([rows, cols]),
                                         order=order, mode=SCIPY_MODE[mode], cval=-1.25)
    got = map_coordinates(IMG, [rows, cols], order, mode=mode, cval=-1.25)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-5)


@settings(max_examples=8, deadline=None)
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3),
       npoints=st.integers(1, 5), order=st.sampled_from([0, 1]),
       mode=st.sampled_from(MODES), seed=st.integers(0, 2**16))
def test_map_coordinates_shapes_match_jax(shape, npoints, order, mode, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(np.float32)
    coords = [rng.uniform(-2 * n - 1, 2 * n + 1, npoints).astype(np.float32) for n in shape]
    assert_same(map_coordinates(x, coords, order, mode=mode, cval=0.5),
                jndimage.map_coordinates(x, coords, order, mode=mode, cval=0.5))


INT_COORDS = [np.array([-1, 0, 2, 4, 6], np.int32), np.array([3], np.int32)]
HALVES = [np.array([-0.5, 0.5, 1.5, 2.5, 3.7], np.float32), np.array([1.5], np.float32)]


@pytest.mark.parametrize("dtype, coords, order, mode", [
    (np.int32, HALVES, 1, "constant"),      # rounded half away from zero, then cast back
    (np.uint8, HALVES, 1, "reflect"),
    (np.int32, HALVES, 0, "mirror"),
    (np.bool_, HALVES, 1, "nearest"),       # bool is not rounded: any nonzero is True
    (np.complex64, HALVES, 1, "wrap"),
    (jnp.bfloat16, HALVES, 1, "constant"),
    (np.float32, INT_COORDS, 1, "constant"),  # integer coordinates: integer weights
    (np.int32, INT_COORDS, 0, "wrap"),
    (np.float32, [c.astype(np.float16) for c in HALVES], 1, "mirror"),
])
def test_map_coordinates_dtypes_match_jax(dtype, coords, order, mode):
    x = (RNG.standard_normal((5, 3)) * 40).astype(dtype)
    if dtype is np.complex64:
        x = x + 1j * x[::-1]
    ours = map_coordinates(x, coords, order, mode=mode, cval=3.7)
    theirs = jndimage.map_coordinates(x, coords, order, mode=mode, cval=3.7)
    assert_same(ours, theirs, tol=1e-2 if dtype is jnp.bfloat16 else 1e-5)


def test_map_coordinates_x64():
    with x64():
        jax.config.update("jax_enable_x64", True)
        x = RNG.standard_normal((3, 4))
        coords = [RNG.uniform(-3, 6, 7), RNG.uniform(-3, 6, 7).astype(np.float32)]
        for x_ in (x, x.astype(np.float32), (x * 100).astype(np.int64)):
            assert_same(map_coordinates(x_, coords, 1, mode="mirror"),
                        jndimage.map_coordinates(x_, coords, 1, mode="mirror"), tol=1e-12)


def test_map_coordinates_scalar_and_nested_coordinates():
    # A 2-D coordinate array is a sequence over its first axis; scalars give a scalar.
    coords = np.array([[0.5, 2.25], [1.5, 3.0]], np.float32)
    assert_same(map_coordinates(IMG, coords, 1), jndimage.map_coordinates(IMG, coords, 1))
    assert_same(map_coordinates(IMG, [1.25, 2.5], 1), jndimage.map_coordinates(IMG, [1.25, 2.5], 1))


@pytest.mark.parametrize("mode", ["constant", "mirror", "wrap"])
def test_map_coordinates_grad_matches_jax(mode):
    x = RNG.standard_normal((4, 3)).astype(np.float32)
    rows = np.array([-1.3, 0.25, 1.5, 2.9, 3.4, 5.2], np.float32)
    cols = np.array([0.7, -0.4, 2.6, 1.1, 1.9, 0.3], np.float32)

    def loss(m, mc):
        return lambda x, r, c: m.sum(m.sin(mc(x, [r, c], 1, mode=mode, cval=0.5)) * r)

    ours = fl.grad(loss(fnp, map_coordinates), argnums=(0, 1, 2))(x, rows, cols)
    theirs = oracle(lambda: jax.grad(loss(jnp, jndimage.map_coordinates),
                                     argnums=(0, 1, 2))(x, rows, cols))
    assert_same(ours, theirs)


def test_map_coordinates_order0_grad_is_zero_in_coordinates():
    x = IMG

    def loss(m, mc):
        return lambda x, r: m.sum(mc(x, [r, r], 0, mode="nearest") ** 2)

    ours = fl.grad(loss(fnp, map_coordinates), argnums=(0, 1))(x, ROWS)
    theirs = oracle(lambda: jax.grad(loss(jnp, jndimage.map_coordinates),
                                     argnums=(0, 1))(x, ROWS))
    assert_same(ours, theirs)
    assert not np.any(np.asarray(ours[1]))


def test_map_coordinates_jit_and_vmap():
    f = fl.jit(lambda x, r, c: map_coordinates(x, [r, c], 1, mode="reflect"))
    rows, cols = ROWS[:5], COLS[:, 0]
    want = jndimage.map_coordinates(IMG, [rows, cols], 1, mode="reflect")
    assert_same(f(IMG, rows, cols), want)
    # vmap over a stack of images and over a stack of coordinate sets, against a loop.
    imgs = RNG.standard_normal((3, 4, 5)).astype(np.float32)
    batched = fl.vmap(lambda x: map_coordinates(x, [rows, cols], 1, mode="reflect"))(imgs)
    assert_same(batched, np.stack([jndimage.map_coordinates(i, [rows, cols], 1, mode="reflect")
                                   for i in imgs]))
    rs = RNG.uniform(-2, 6, (3, 5)).astype(np.float32)
    batched = fl.vmap(f, in_axes=(None, 0, None))(IMG, rs, cols)
    assert_same(batched, jax.vmap(lambda r: jndimage.map_coordinates(
        IMG, [r, cols], 1, mode="reflect"))(rs))


@pytest.mark.parametrize("call, error", [
    (lambda mc: mc(IMG, [ROWS], 1), ValueError),                    # one array for 2 axes
    (lambda mc: mc(IMG, [ROWS, ROWS], 1, mode="grid-wrap"), NotImplementedError),
    (lambda mc: mc(IMG, [ROWS, ROWS], 3), NotImplementedError),     # spline orders
    (lambda mc: mc(np.float32(2.0), [], 1), TypeError),              # nothing to interpolate
])
def test_map_coordinates_errors_match_jax(call, error):
    with pytest.raises(error):
        call(jndimage.map_coordinates)
    with pytest.raises(error, match="map_coordinates"):
        call(map_coordinates)


# ---------------------------------------------------------------------------------------
# RegularGridInterpolator
# ---------------------------------------------------------------------------------------

GRID = (np.array([0.0, 1.0, 2.5, 3.0], np.float32), np.array([-1.0, 0.0, 2.0], np.float32))
VALUES = RNG.standard_normal((4, 3)).astype(np.float32)
# Inside, on grid lines and corners, exact cell midpoints (nearest's tie) and outside.
XI = np.array([[0.5, -0.5], [2.9, 1.7], [1.0, 0.0], [3.0, 2.0], [1.75, 1.0],
               [-0.5, 0.5], [3.5, 0.0], [1.2, 2.5], [-1.0, -3.0]], np.float32)


@pytest.mark.parametrize("method", ["linear", "nearest"])
@pytest.mark.parametrize("fill_value", [np.nan, None, -2])
def test_interpolator_matches_jax_and_scipy(method, fill_value):
    ours = RegularGridInterpolator(GRID, VALUES, method=method, fill_value=fill_value)(XI)
    theirs = oracle(lambda: jinterp.RegularGridInterpolator(GRID, VALUES, method=method,
                                                            fill_value=fill_value)(XI))
    assert_same(ours, theirs)
    want = scipy_interpolate.RegularGridInterpolator(
        tuple(g.astype(np.float64) for g in GRID), VALUES.astype(np.float64), method=method,
        bounds_error=False, fill_value=fill_value)(XI.astype(np.float64))
    # SciPy breaks nearest's midpoint ties the other way (row 4 sits on one).
    rows = [0, 1, 2, 3, 5, 6, 7, 8] if method == "nearest" else slice(None)
    np.testing.assert_allclose(np.asarray(ours)[rows], want[rows], rtol=1e-5, atol=1e-5)


@settings(max_examples=8, deadline=None)
@given(sizes=st.lists(st.integers(2, 4), min_size=1, max_size=3),
       trailing=st.sampled_from([(), (2,)]), lead=st.sampled_from([(5,), (2, 3)]),
       method=st.sampled_from(["linear", "nearest"]), seed=st.integers(0, 2**16))
def test_interpolator_shapes_match_jax(sizes, trailing, lead, method, seed):
    rng = np.random.default_rng(seed)
    grid = tuple(np.sort(rng.uniform(-2, 2, n) + np.arange(n)).astype(np.float32)
                 for n in sizes)
    values = rng.standard_normal(tuple(sizes) + trailing).astype(np.float32)
    xi = rng.uniform(-2.5, 5, lead + (len(sizes),)).astype(np.float32)
    ours = RegularGridInterpolator(grid, values, method=method, fill_value=None)(xi)
    theirs = oracle(lambda: jinterp.RegularGridInterpolator(grid, values, method=method,
                                                            fill_value=None)(xi))
    assert ours.shape == lead + trailing
    assert_same(ours, theirs, tol=1e-4)


@pytest.mark.parametrize("case", [
    "int_values", "int_grid_int_xi", "tuple_xi", "one_tuple_xi", "flat_xi", "float16_values",
    "typed_fill", "complex_values", "call_method", "one_axis_of_two"])
def test_interpolator_inputs_and_dtypes_match_jax(case):
    grid_i = (np.array([1, 2, 3], np.int32), np.array([4.0, 5.0, 6.0, 8.0], np.float32))
    v_i = np.arange(12, dtype=np.int32).reshape(3, 4)
    xi = np.array([[1.5, 4.5], [2.2, 7.9], [0.0, 5.0]], np.float32)
    args, kwargs, query, call_kw = {
        "int_values": ((grid_i, v_i), {}, xi, {}),
        "int_grid_int_xi": (((grid_i[0], grid_i[0]), v_i[:, :3]), {"fill_value": None},
                            np.array([[1, 3], [2, 5]], np.int32), {}),
        "tuple_xi": ((grid_i, v_i), {}, (np.array([1.5, 2.5]), np.array([[4.5], [5.5]])), {}),
        "one_tuple_xi": ((grid_i, v_i), {}, (xi,), {}),
        "flat_xi": ((grid_i, v_i), {}, np.array([1.5, 4.5, 2.0, 5.0], np.float32), {}),
        "float16_values": ((GRID, VALUES.astype(np.float16)), {}, XI, {}),
        "typed_fill": ((GRID, VALUES.astype(np.float16)), {"fill_value": np.float32(2)}, XI,
                       {}),
        "complex_values": ((GRID, VALUES * (1 + 2j)), {"fill_value": 1j}, XI, {}),
        "call_method": ((GRID, VALUES), {"method": "nearest"}, XI, {"method": "linear"}),
        "one_axis_of_two": ((GRID[:1], VALUES), {}, XI[:, :1], {}),
    }[case]
    ours = RegularGridInterpolator(*args, **kwargs)(query, **call_kw)
    theirs = oracle(lambda: jinterp.RegularGridInterpolator(*args, **kwargs)(query, **call_kw))
    assert_same(ours, theirs, tol=1e-3 if case == "float16_values" else 1e-5)


def test_interpolator_x64():
    with x64():
        jax.config.update("jax_enable_x64", True)
        grid = tuple(g.astype(np.float64) for g in GRID)
        for g, v, xi, tol in [(grid, VALUES.astype(np.float64), XI.astype(np.float64), 1e-12),
                              (GRID, VALUES, XI, 1e-6),            # float32 stays float32
                              (GRID, VALUES.astype(np.int32), XI, 1e-6)]:  # ints: float64
            assert_same(RegularGridInterpolator(g, v)(xi),
                        oracle(lambda: jinterp.RegularGridInterpolator(g, v)(xi)), tol=tol)
        xi = (XI[:, 0], XI[:, 1])   # a tuple is stacked in the default (64-bit) float
        assert_same(RegularGridInterpolator(GRID, VALUES)(xi),
                    oracle(lambda: jinterp.RegularGridInterpolator(GRID, VALUES)(xi)))


def test_interpolator_grad_matches_jax():
    def loss(cls, m):
        def f(values, xi, grid0):
            interp = cls((grid0, GRID[1]), values, fill_value=None)
            return m.sum(m.cos(interp(xi)) * xi[:, 0])
        return f

    args = (VALUES, XI, GRID[0])
    ours = fl.grad(loss(RegularGridInterpolator, fnp), argnums=(0, 1, 2))(*args)
    theirs = oracle(lambda: jax.grad(loss(jinterp.RegularGridInterpolator, jnp),
                                     argnums=(0, 1, 2))(*args))
    assert_same(ours, theirs, tol=1e-4)


def test_interpolator_is_a_pytree_through_jit_and_vmap():
    interp = RegularGridInterpolator(GRID, VALUES, method="nearest", fill_value=0.5)
    leaves, treedef = fl.tree_util.tree_flatten(interp)
    jleaves, _ = jax.tree_util.tree_flatten(
        jinterp.RegularGridInterpolator(GRID, VALUES, method="nearest", fill_value=0.5))
    assert len(leaves) == len(jleaves) == 4
    rebuilt = fl.tree_util.tree_unflatten(treedef, leaves)
    assert rebuilt.method == "nearest" and rebuilt.bounds_error is False

    want = oracle(lambda: jinterp.RegularGridInterpolator(GRID, VALUES, method="nearest",
                                                          fill_value=0.5)(XI))
    assert_same(fl.jit(lambda r, x: r(x))(interp, XI), want)
    assert_same(fl.jit(lambda r, x: r(x, method="linear"))(interp, XI),
                oracle(lambda: jinterp.RegularGridInterpolator(GRID, VALUES, fill_value=0.5)(XI)))
    # vmap over query points, and over a batch of interpolators (their values).
    assert_same(fl.vmap(interp)(XI.reshape(3, 3, 2)), want.reshape(3, 3))
    stack = RNG.standard_normal((3,) + VALUES.shape).astype(np.float32)
    batched = fl.vmap(lambda v: RegularGridInterpolator(GRID, v, fill_value=None)(XI))(stack)
    assert_same(batched, oracle(lambda: jax.vmap(
        lambda v: jinterp.RegularGridInterpolator(GRID, v, fill_value=None)(XI))(stack)))


@pytest.mark.parametrize("call, error", [
    (lambda R: R(GRID, VALUES, method="cubic"), ValueError),
    (lambda R: R(GRID, VALUES)(XI, method="spline"), ValueError),
    (lambda R: R(GRID, VALUES, bounds_error=True), NotImplementedError),
    (lambda R: R(GRID + GRID, VALUES), ValueError),                  # more axes than values
    (lambda R: R(GRID, VALUES, fill_value=1j), ValueError),           # complex into float
    (lambda R: R([[0.0, 1.0, 2.0, 3.0], [0.0, 1.0, 2.0]], VALUES), TypeError),  # lists
    (lambda R: R(GRID, VALUES.tolist()), TypeError),
    (lambda R: R(GRID, VALUES)(np.ones((2, 3), np.float32)), ValueError),  # 3-D points
    (lambda R: R(GRID, VALUES)(np.ones(3, np.float32)), TypeError),   # odd flat length
    (lambda R: R(GRID, VALUES)((np.ones(2), np.ones(3))), ValueError),  # no broadcast
])
def test_interpolator_errors_match_jax(call, error):
    with pytest.raises(error):
        call(jinterp.RegularGridInterpolator)
    with pytest.raises(error):
        call(RegularGridInterpolator)
