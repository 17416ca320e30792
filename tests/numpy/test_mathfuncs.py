"""functorch_lite/numpy/mathfuncs.py against jax.numpy (values, shapes, dtypes) and NumPy:
gcd/lcm, frexp/ldexp/modf/spacing, i0 and kaiser, bit counts and shifts, gradient, unwrap,
vectorize and the polynomial family; jit equals eager, gradients equal jax.grad."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import functorch_lite as fl
import functorch_lite.numpy as fnp
from helpers import assert_same

RNG = np.random.default_rng(0)
A = RNG.standard_normal((3, 5)).astype(np.float32)
B3 = RNG.standard_normal((4, 3, 5)).astype(np.float32)
I1 = np.array([12, -18, 0, 0, 7, 21, -4], np.int32)
I2 = np.array([8, 8, 5, 0, -21, 6, -6], np.int32)
SPECIAL = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -3.5, 6e37, 1e-30, 2.5e-3],
                   np.float32)
SUBNORMAL = np.array([1e-45, 3e-39, -5e-40, 1.1e-38], np.float32)
PHASE = np.cumsum(RNG.uniform(-4.0, 4.0, (2, 7)), axis=1).astype(np.float32)
P = np.array([1.0, -2.0, 0.0, 3.0], np.float32)
XF = np.linspace(-1.0, 1.0, 9).astype(np.float32)
YF = (3 * XF ** 2 - XF + 0.5 + 0.01 * RNG.standard_normal(9)).astype(np.float32)
Y2 = np.stack([YF, 2 * YF - 1], axis=1)


_same = assert_same

CASES = {
    "gcd": lambda m: m.gcd(I1, I2),
    "gcd_broadcast_scalar": lambda m: m.gcd(I1.reshape(7, 1), np.array([4, 9], np.int32)),
    "gcd_python_scalars": lambda m: m.gcd(12, 18),
    "gcd_uint8": lambda m: m.gcd(np.array([200, 0, 9], np.uint8), np.uint8(6)),
    "lcm": lambda m: m.lcm(I1, I2),
    "lcm_int16": lambda m: m.lcm(np.array([4, -6, 0], np.int16),
                                 np.array([6, 4, 3], np.int16)),
    "frexp": lambda m: m.frexp(SPECIAL),
    "frexp_int": lambda m: m.frexp(np.array([0, 1, 12, -7], np.int32)),
    "frexp_f16": lambda m: m.frexp(np.array([1e-7, 0.0, 6e-8, 65504.0, -3.0], np.float16)),
    "frexp_bf16": lambda m: m.frexp(np.array([1.5, -1e30, 0.0], jnp.bfloat16)),
    "ldexp": lambda m: m.ldexp(SPECIAL, np.array([1, 2, 3, 4, 5, -1, 3, 2, -100, 20],
                                                 np.int32)),
    "ldexp_overflow": lambda m: m.ldexp(np.float32(1.5),
                                        np.array([127, 128, 200, -200, -126, -100])),
    "ldexp_int_x": lambda m: m.ldexp(np.array([1, 2, 3], np.int32), np.int32(4)),
    "ldexp_broadcast": lambda m: m.ldexp(A, np.array([[1], [0], [-2]], np.int8)),
    "modf": lambda m: m.modf(SPECIAL),
    "modf_int": lambda m: m.modf(np.array([3, -2], np.int32)),
    "spacing": lambda m: m.spacing(SPECIAL),
    "spacing_f16": lambda m: m.spacing(np.array([0.0, 1.0, -2.0, 1e4], np.float16)),
    "i0": lambda m: m.i0(np.array([0.0, 0.5, -1.0, 2.0, 7.9, 8.0, 8.1, 15.0, 50.0, -80.0,
                                   100.0], np.float32)),
    "i0_int": lambda m: m.i0(np.array([0, 1, -3], np.int32)),
    "i0_f16": lambda m: m.i0(np.array([0.0, 1.5, -4.0], np.float16)),
    "kaiser": lambda m: m.kaiser(8, 14.0),
    "kaiser_1": lambda m: m.kaiser(1, 2.0),
    "kaiser_0": lambda m: m.kaiser(0, 2.0),
    "bitwise_count": lambda m: m.bitwise_count(np.array([64, -7, 0, 255, -2 ** 31], np.int32)),
    "bitwise_count_uint8": lambda m: m.bitwise_count(np.array([255, 3], np.uint8)),
    "bitwise_left_shift": lambda m: m.bitwise_left_shift(I1, np.int32(3)),
    "bitwise_right_shift": lambda m: m.bitwise_right_shift(I1, np.array([1], np.int32)),
    "gradient": lambda m: m.gradient(A),
    "gradient_1d": lambda m: m.gradient(A[0], edge_order=None),
    "gradient_spacing": lambda m: m.gradient(A, 2.0, 0.5),
    "gradient_axis": lambda m: m.gradient(A, 2.0, axis=1),
    "gradient_axes_tuple": lambda m: m.gradient(B3, axis=(0, -1)),
    "gradient_coordinates": lambda m: m.gradient(A, np.array([0.0, 1.0, 3.0], np.float32),
                                                 np.array([0, 1, 3, 4, 7], np.int32)),
    "gradient_int": lambda m: m.gradient(np.array([1, 4, 9, 16], np.int32)),
    "gradient_two_points": lambda m: m.gradient(A[:2], axis=0),
    "unwrap": lambda m: m.unwrap(PHASE),
    "unwrap_axis0_discont_period": lambda m: m.unwrap(PHASE, discont=1.0, axis=0,
                                                      period=3.0),
    "unwrap_int": lambda m: m.unwrap(np.array([0, 5, 9, 2, 7, 1], np.int32), period=6),
    "unwrap_int_float_period": lambda m: m.unwrap(np.array([0, 5, 9, 2], np.int32)),
    "unwrap_empty": lambda m: m.unwrap(np.zeros((2, 0), np.float32)),
    "vectorize_scalar": lambda m: m.vectorize(lambda a, b: a * b + 1)(A, A[:1]),
    "vectorize_excluded": lambda m: m.vectorize(lambda a, b: a * b, excluded={1})(A, 3.0),
    "vectorize_excluded_name": lambda m: m.vectorize(lambda a, b=1.0: a - b,
                                                     excluded={"b"})(A, b=2.0),
    "vectorize_none_arg": lambda m: m.vectorize(
        lambda a, b: a * 2 if b is None else a)(A, None),
    "vectorize_dot": lambda m: m.vectorize(lambda a, b: m.sum(a * b),
                                           signature="(n),(n)->()")(B3, A[0]),
    "vectorize_reduce": lambda m: m.vectorize(lambda a: m.sum(a, 0),
                                              signature="(m,n)->(n)")(B3),
    "vectorize_broadcast_core": lambda m: m.vectorize(
        lambda a, b: m.sum(a) + b, signature="(n),()->()")(A.reshape(3, 1, 5),
                                                           B3[:, 0, :2].T[:, None]),
    "vectorize_two_outputs": lambda m: m.vectorize(
        lambda a: (m.max(a), a[::-1]), signature="(n)->(),(n)")(B3),
    "vectorize_unit_axes": lambda m: m.vectorize(lambda a, b: m.sum(a * b),
                                                 signature="(n),(n)->()")(
        A[:1, None], A[None, :1]),
    "poly": lambda m: m.poly(np.array([1.0, 2.0, 3.0], np.float32)),
    "poly_int": lambda m: m.poly(np.array([1, -1], np.int32)),
    "poly_empty": lambda m: m.poly(np.zeros((0,), np.float32)),
    "poly_complex": lambda m: m.poly(np.array([1j, -1j], np.complex64)),
    "polyadd": lambda m: m.polyadd(P, P[:2]),
    "polyadd_int": lambda m: m.polyadd(np.array([1, 2]), np.array([3, 4, 5])),
    "polyadd_2d": lambda m: m.polyadd(A[:2], A),
    "polysub": lambda m: m.polysub(P[:2], P),
    "polymul": lambda m: m.polymul(P, P[:3]),
    "polymul_trim": lambda m: m.polymul(np.array([0.0, 0.0, 1.0, 2.0]), P,
                                        trim_leading_zeros=True),
    "polymul_trim_all_zero": lambda m: m.polymul(np.zeros(3), P, trim_leading_zeros=True),
    "polydiv": lambda m: m.polydiv(P, np.array([2.0, 1.0], np.float32)),
    "polydiv_trim": lambda m: m.polydiv(P, np.array([2.0, 1.0], np.float32),
                                        trim_leading_zeros=True),
    "polydiv_short": lambda m: m.polydiv(P[:1], P),
    "polyder": lambda m: m.polyder(P),
    "polyder_2": lambda m: m.polyder(np.array([1, 2, 3, 4, 5], np.int32), 2),
    "polyder_0": lambda m: m.polyder(P, 0),
    "polyder_too_many": lambda m: m.polyder(P, 5),
    "polyint": lambda m: m.polyint(P),
    "polyint_2_k": lambda m: m.polyint(P, 2, k=np.array([1.0, 2.0], np.float32)),
    "polyint_scalar_k": lambda m: m.polyint(P, 3, k=2.0),
    "polyint_0": lambda m: m.polyint(P, 0),
    "polyval": lambda m: m.polyval(P, A),
    "polyval_int": lambda m: m.polyval(np.array([1, 2, 3]), np.array([1, 2])),
    "polyval_unroll": lambda m: m.polyval(P, A[0], unroll=2),
    "polyval_2d_coeffs": lambda m: m.polyval(A.T, np.float32(0.5)),
    "polyfit": lambda m: m.polyfit(XF, YF, 2),
    "polyfit_underdetermined": lambda m: m.polyfit(XF[:3], YF[:3], 4),
    "polyfit_weighted_cov": lambda m: m.polyfit(XF, YF, 3, w=np.abs(XF) + 1.0, cov=True),
    "polyfit_cov_2d": lambda m: m.polyfit(XF, Y2, 1, cov=True),
    "polyfit_cov_unscaled": lambda m: m.polyfit(XF, Y2, 2, cov="unscaled"),
    "polyfit_full": lambda m: m.polyfit(XF, Y2, 2, full=True),
    "polyfit_full_rcond": lambda m: m.polyfit(XF, YF, 3, rcond=1e-2, full=True),
}

TOLERANCES = {"polyfit_underdetermined": 1e-3, "polyfit_full": 1e-4,
              "polyfit_full_rcond": 1e-4, "polyfit_weighted_cov": 1e-3,
              "polyfit_cov_2d": 1e-4, "polyfit_cov_unscaled": 1e-4, "i0_f16": 1e-3,
              "frexp_f16": 1e-3}


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_jax(name):
    _same(CASES[name](fnp), CASES[name](jnp), TOLERANCES.get(name, 1e-5))


def test_subnormals_decompose_exactly_as_numpy():
    # jnp.frexp on CPU flushes subnormals (every one reports exponent -149); ours reads
    # the bits, so it agrees with NumPy, and so does ldexp built on it
    _same(fnp.frexp(SUBNORMAL), np.frexp(SUBNORMAL))
    _same(fl.jit(fnp.frexp)(SUBNORMAL), np.frexp(SUBNORMAL))
    big = np.array([276, 200, 149], np.int32)
    _same(fnp.ldexp(SUBNORMAL[:3], big), np.ldexp(SUBNORMAL[:3], big))
    m, e = fnp.frexp(SUBNORMAL)
    _same(fnp.ldexp(m, e), SUBNORMAL)


def test_i0_edges():
    assert float(fnp.i0(np.float32(0.0))) == 1.0 and float(fnp.i0(0)) == 1.0
    # finite up to I0's own overflow (jnp.i0 overflows with exp(x), past 88.7)
    x = np.array([-30.0, 80.0, 88.0, 89.0, 91.0], np.float32)
    np.testing.assert_allclose(fnp.i0(x), np.i0(x.astype(np.float64)), rtol=2e-6)
    assert np.isinf(np.asarray(fnp.i0(np.float32(93.0))))
    assert float(fl.grad(fnp.i0)(np.float32(0.0))) == 0.0


@settings(max_examples=15, deadline=None)
@given(a=st.lists(st.integers(-10 ** 6, 10 ** 6), min_size=6, max_size=6),
       b=st.integers(-10 ** 6, 10 ** 6))  # (one shape: one compilation)
def test_gcd_lcm_match_numpy(a, b):
    a = np.array(a, np.int32)
    np.testing.assert_array_equal(fnp.gcd(a, np.int32(b)), np.gcd(a, np.int32(b)))
    small = np.array(a % 1000, np.int32)
    np.testing.assert_array_equal(fnp.lcm(small, np.int32(b % 1000)),
                                  np.lcm(small, np.int32(b % 1000)))


@settings(max_examples=15, deadline=None)
@given(x=st.floats(-1e30, 1e30), n=st.integers(-60, 60))
def test_frexp_ldexp_match_numpy(x, n):
    x = np.float32(x)
    m, e = fnp.frexp(x)
    nm, ne = np.frexp(x)
    assert float(m) == float(nm) and int(e) == int(ne)
    want = np.ldexp(x, n)
    if want == 0 or abs(want) >= np.finfo(np.float32).tiny:  # (CPU XLA flushes subnormals)
        assert float(fnp.ldexp(x, np.int32(n))) == float(want)


@settings(max_examples=10, deadline=None)
@given(coefs=st.lists(st.floats(-5, 5, width=32), min_size=1, max_size=5),
       m=st.integers(0, 3))
def test_polyder_polyint_polyval_match_numpy(coefs, m):
    p = np.array(coefs, np.float32)
    np.testing.assert_allclose(fnp.polyint(p, m), np.polyint(p, m), rtol=1e-5, atol=1e-6)
    if m < len(coefs):
        np.testing.assert_allclose(fnp.polyder(p, m), np.polyder(p, m), rtol=1e-5,
                                   atol=1e-5)
    np.testing.assert_allclose(fnp.polyval(p, XF), np.polyval(p, XF), rtol=1e-5, atol=1e-5)


def test_jit_equals_eager():
    args = (I1, I2)
    _same(fl.jit(fnp.gcd)(*args), fnp.gcd(*args))
    _same(fl.jit(fnp.lcm)(*args), fnp.lcm(*args))
    _same(fl.jit(fnp.frexp)(SPECIAL), fnp.frexp(SPECIAL))
    shifts = np.arange(10, dtype=np.int32) - 5
    _same(fl.jit(fnp.ldexp)(SPECIAL, shifts), fnp.ldexp(SPECIAL, shifts))
    _same(fl.jit(fnp.spacing)(SPECIAL), fnp.spacing(SPECIAL))
    _same(fl.jit(fnp.i0)(A), fnp.i0(A))
    _same(fl.jit(lambda b: fnp.kaiser(6, b))(np.float32(4.0)), fnp.kaiser(6, 4.0))
    _same(fl.jit(lambda a: fnp.gradient(a, 0.5))(A), fnp.gradient(A, 0.5))
    _same(fl.jit(fnp.unwrap)(PHASE), fnp.unwrap(PHASE))
    _same(fl.jit(fnp.polyval)(P, A), fnp.polyval(P, A))
    _same(fl.jit(lambda x, y: fnp.polyfit(x, y, 2))(XF, YF), fnp.polyfit(XF, YF, 2), 1e-4)
    vdot = fnp.vectorize(lambda a, b: fnp.sum(a * b), signature="(n),(n)->()")
    _same(fl.jit(vdot)(B3, A[0]), vdot(B3, A[0]))
    _same(fl.vmap(fnp.gcd)(I1, I2), fnp.gcd(I1, I2))


def _jit_grad(f):
    # jit(grad(f)) compiles once; eager grad runs (and compiles) each primitive on its own
    return fl.jit(fl.grad(f))


def test_gradients_match_jax():
    x = np.array([0.0, 1.0, -3.0, 7.5, 9.0, 20.0], np.float32)
    _same(_jit_grad(lambda v: fnp.sum(fnp.i0(v)))(x),
          jax.grad(lambda v: jnp.sum(jnp.i0(v)))(x), 1e-4)
    n = np.array([1, -3, 5, 0, 2, 1], np.int32)
    _same(_jit_grad(lambda v: fnp.sum(fnp.ldexp(v, n[1:])))(x[1:]),
          jax.grad(lambda v: jnp.sum(jnp.ldexp(v, n[1:])))(x[1:]))
    # at 0 the derivative is still 2**n (jax's passes 0 through a where and reports 1)
    _same(_jit_grad(lambda v: fnp.sum(fnp.ldexp(v, n)))(np.zeros(6, np.float32)),
          np.exp2(n).astype(np.float32))
    _same(_jit_grad(lambda p: fnp.sum(fnp.polyval(p, A) ** 2))(P),
          jax.grad(lambda p: jnp.sum(jnp.polyval(p, A) ** 2))(P), 1e-4)
    _same(fl.grad(lambda v: fnp.sum(fnp.polyval(P, v)))(A),
          jax.grad(lambda v: jnp.sum(jnp.polyval(P, v)))(A), 1e-4)
    xs = XF + 0.05  # (jax's gradient is NaN where an x is exactly 0)
    _same(fl.jit(fl.grad(lambda v, y: fnp.sum(fnp.polyfit(v, y, 2) ** 2), (0, 1)))(xs, YF),
          jax.grad(lambda v, y: jnp.sum(jnp.polyfit(v, y, 2) ** 2), (0, 1))(xs, YF), 1e-3)
    _same(_jit_grad(lambda a: fnp.sum(fnp.gradient(a, axis=1) ** 2))(A),
          jax.grad(lambda a: jnp.sum(jnp.gradient(a, axis=1) ** 2))(A))
    _same(_jit_grad(lambda a: fnp.sum(fnp.unwrap(a) ** 2))(PHASE),
          jax.grad(lambda a: jnp.sum(jnp.unwrap(a) ** 2))(PHASE))
    ours = fnp.vectorize(lambda a, b: fnp.sum(fnp.sin(a) * b), signature="(n),(n)->()")
    theirs = jnp.vectorize(lambda a, b: jnp.sum(jnp.sin(a) * b), signature="(n),(n)->()")
    _same(_jit_grad(lambda a: fnp.sum(ours(a, A[0])))(B3),
          jax.grad(lambda a: jnp.sum(theirs(a, A[0])))(B3))
    assert float(fl.grad(lambda v: fnp.frexp(v)[0])(np.float32(12.0))) == 1 / 16


def test_errors_follow_jax():
    cases = [
        (lambda m: m.gcd(1.0, 2.0), ValueError),
        (lambda m: m.lcm(np.ones(2, bool), np.ones(2, bool)), ValueError),
        (lambda m: m.frexp(np.complex64(1j)), TypeError),
        (lambda m: m.ldexp(1.0, 2.0), ValueError),
        (lambda m: m.ldexp(np.complex64(1j), 2), ValueError),
        (lambda m: m.spacing(np.complex64(1j)), ValueError),
        (lambda m: m.i0(np.complex64(1j)), ValueError),
        (lambda m: m.bitwise_count(np.float32(1.0)), TypeError),
        (lambda m: m.unwrap(np.ones(3, np.complex64)), ValueError),
        (lambda m: m.gradient(np.ones(1, np.float32)), ValueError),
        (lambda m: m.gradient(np.ones(3, np.float32), 1.0, 1.0), TypeError),
        (lambda m: m.gradient(A, np.ones(4, np.float32), axis=1), ValueError),
        (lambda m: m.gradient(A[0], np.ones((5, 1), np.float32)), ValueError),
        (lambda m: m.vectorize(lambda a: a, excluded={-1}), ValueError),
        (lambda m: m.vectorize(lambda a: a, excluded={1.5}), TypeError),
        (lambda m: m.vectorize(lambda a: a, signature="(n)->()")(np.float32(1.0)), ValueError),
        (lambda m: m.vectorize(lambda a: a, signature="(n->()")(A), ValueError),
        (lambda m: m.vectorize(lambda a, b: a, signature="(n),(n)->()")(A, A[:, :2]),
         ValueError),
        (lambda m: m.vectorize(lambda a: a, signature="(n)->()")(A), ValueError),
        (lambda m: m.vectorize(lambda a: a, signature="(n)->(),()")(A), TypeError),
        (lambda m: m.vectorize(lambda a, b: a, signature="(n),(n)->()")(A), TypeError),
        (lambda m: m.poly(np.ones((2, 3))), ValueError),
        (lambda m: m.polyder(P, -1), ValueError),
        (lambda m: m.polyint(P, -1), ValueError),
        (lambda m: m.polyint(P, 2, k=np.ones(3)), ValueError),
        (lambda m: m.polyfit(XF, YF, -1), ValueError),
        (lambda m: m.polyfit(A, YF, 1), TypeError),
        (lambda m: m.polyfit(XF[:0], YF[:0], 1), TypeError),
        (lambda m: m.polyfit(XF, YF[:3], 1), TypeError),
        (lambda m: m.polyfit(XF, np.ones((9, 1, 1)), 1), TypeError),
        (lambda m: m.polyfit(XF, YF, 1, w=np.ones(3)), TypeError),
        (lambda m: m.polyfit(XF, YF, 1, w=np.ones((9, 1))), TypeError),
        (lambda m: m.polyfit(XF[:3], YF[:3], 2, cov=True), ValueError),
        (lambda m: m.modf(A, out=A), NotImplementedError),
    ]
    for case, exc in cases:
        with pytest.raises(exc):
            case(jnp)
        with pytest.raises(exc):
            case(fnp)
    # what we cannot do (yet) says so
    with pytest.raises(NotImplementedError, match="edge_order"):
        fnp.gradient(A, edge_order=2)
    with pytest.raises(fl.ConcretizationTypeError):
        fl.jit(lambda p: fnp.polymul(p, P, trim_leading_zeros=True))(P)
