"""Issue 13, part C2 (lax): JAX programs that touch lax behave as under JAX.

Each test runs the same snippet with ``jax`` and with ``functorch_lite`` (JAX is the
oracle) and compares results, or the exception type where JAX raises:

* error types: shape errors of binary ops, reshape and products are TypeErrors;
* lax never promotes dtypes (Python scalars are weakly typed default dtypes), while
  ``functorch_lite.numpy`` still promotes;
* loops whose weakly typed carry (a Python scalar start) the body retypes;
* ``lax.map(..., batch_size=k)``;
* ``lax.reduce_window`` with any computation.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest

import functorch_lite as fl
import functorch_lite.numpy as fnp

F16 = np.float16
BF16 = ml_dtypes.bfloat16


def _run(f, lib, np_lib):
    """(kind, value): ("ok", leaves as NumPy arrays) or ("raise", exception type)."""
    try:
        out = f(lib, np_lib)
    except Exception as e:  # noqa: BLE001  (the oracle decides which errors are right)
        return "raise", type(e)
    return "ok", [np.asarray(leaf) for leaf in jax.tree_util.tree_leaves(out)]


def _same(f, *, rtol=1e-6, exact_error=True):
    """Run ``f(lib, numpy_lib)`` with both libraries and compare."""
    ref, ours = _run(f, jax, jnp), _run(f, fl, fnp)
    assert ref[0] == ours[0], (ref, ours)
    if ref[0] == "raise":
        if exact_error:
            assert ours[1] is ref[1] or issubclass(ours[1], ref[1]), (ref, ours)
        return
    assert len(ref[1]) == len(ours[1])
    for a, b in zip(ref[1], ours[1]):
        assert a.dtype == b.dtype and a.shape == b.shape, (a, b)
        np.testing.assert_allclose(b.astype(np.float64) if b.dtype == BF16 else b,
                                   a.astype(np.float64) if a.dtype == BF16 else a, rtol=rtol)


# ---------------------------------------------------------------------------------------
# error types (bugs 7 and 13)

ONES = lambda N, *s: N.ones(s, N.float32)  # noqa: E731

SHAPE_ERRORS = {
    # JAX raises TypeError for these
    "lax.add": lambda L, N: L.lax.add(ONES(N, 3), ONES(N, 4)),
    "lax.mul": lambda L, N: L.lax.mul(ONES(N, 2, 3), ONES(N, 3, 2)),
    "lax.dot_general": lambda L, N: L.lax.dot_general(ONES(N, 2, 3), ONES(N, 4, 5),
                                                      (((1,), (0,)), ((), ()))),
    "lax.dot 2d": lambda L, N: L.lax.dot(ONES(N, 2, 3), ONES(N, 4, 5)),
    "add": lambda L, N: N.add(ONES(N, 3), ONES(N, 4)),
    "+": lambda L, N: ONES(N, 3) + ONES(N, 4),
    "maximum": lambda L, N: N.maximum(ONES(N, 3), ONES(N, 4)),
    "less": lambda L, N: ONES(N, 3) < ONES(N, 4),
    "power": lambda L, N: N.power(ONES(N, 3), ONES(N, 4)),
    "matmul": lambda L, N: N.matmul(ONES(N, 2, 3), ONES(N, 4, 5)),
    "@": lambda L, N: ONES(N, 2, 3) @ ONES(N, 4, 5),
    "matmul vec": lambda L, N: N.matmul(ONES(N, 3), ONES(N, 4, 5)),
    "dot": lambda L, N: N.dot(ONES(N, 3), ONES(N, 4)),
    "dot nd": lambda L, N: N.dot(ONES(N, 2, 3), ONES(N, 2, 4, 5)),
    "vdot": lambda L, N: N.vdot(ONES(N, 3), ONES(N, 4)),
    "inner": lambda L, N: N.inner(ONES(N, 2, 3), ONES(N, 4)),
    "tensordot": lambda L, N: N.tensordot(ONES(N, 2, 3), ONES(N, 4, 5), axes=1),
    "tensordot axes": lambda L, N: N.tensordot(ONES(N, 2, 3), ONES(N, 4, 5), ([1], [0])),
    "tensordot too many": lambda L, N: N.tensordot(ONES(N, 2, 3), ONES(N, 4, 5), axes=3),
    "reshape": lambda L, N: N.reshape(ONES(N, 6), (4,)),
    "reshape -1": lambda L, N: N.reshape(ONES(N, 6), (4, -1)),
    "reshape two -1": lambda L, N: N.reshape(ONES(N, 6), (-1, -1)),
    "Array.reshape": lambda L, N: ONES(N, 6).reshape(2, 2),
    # and ValueError for these (unchanged)
    "broadcast_to": lambda L, N: N.broadcast_to(ONES(N, 3), (4,)),
    "broadcast_shapes": lambda L, N: N.broadcast_shapes((3,), (4,)),
    "where": lambda L, N: N.where(ONES(N, 3) > 0, ONES(N, 4), ONES(N, 3)),
    "matmul batch": lambda L, N: N.matmul(ONES(N, 2, 3, 4), ONES(N, 3, 4, 5)),
    "matmul 0-d": lambda L, N: N.matmul(ONES(N), ONES(N, 3)),
}


@pytest.mark.parametrize("name", sorted(SHAPE_ERRORS))
def test_shape_error_types_follow_jax(name):
    f = SHAPE_ERRORS[name]
    ref, ours = _run(f, jax, jnp), _run(f, fl, fnp)
    assert ref[0] == ours[0] == "raise"
    assert ours[1] is ref[1], f"{name}: JAX raises {ref[1].__name__}, ours {ours[1].__name__}"


def test_shape_errors_keep_our_wording():
    with pytest.raises(TypeError, match=r"matmul: contracting dimensions differ: shapes "
                                        r"\(2, 3\) and \(4, 5\)"):
        fnp.matmul(fnp.ones((2, 3)), fnp.ones((4, 5)))
    with pytest.raises(TypeError, match=r"reshape: cannot reshape array of shape \(6,\)"):
        fnp.ones(6).reshape(4)
    with pytest.raises(TypeError, match=r"add: incompatible shapes for broadcasting: "
                                        r"\(3,\), \(4,\)"):
        fnp.ones(3) + fnp.ones(4)


# ---------------------------------------------------------------------------------------
# lax is strict about dtypes; Python scalars are weakly typed default dtypes (bug 7)

x32 = np.array([1.0, 2.5, -3.0], np.float32)
x16 = x32.astype(F16)
i32 = np.array([1, 2, 3], np.int32)
u8 = np.array([1, 2, 3], np.uint8)
b3 = np.array([True, False, True])
c64 = x32.astype(np.complex64)

STRICT = {
    "add(1, 1.0)": lambda L, N: L.lax.add(1, 1.0),
    "add(1, 1)": lambda L, N: L.lax.add(1, 1),
    "add(1.0, 2.0)": lambda L, N: L.lax.add(1.0, 2.0),
    "add(f32, 1.0)": lambda L, N: L.lax.add(x32, 1.0),
    "add(f32, 1)": lambda L, N: L.lax.add(x32, 1),
    "add(i32, 1)": lambda L, N: L.lax.add(i32, 1),
    "add(i32, 1.0)": lambda L, N: L.lax.add(i32, 1.0),
    "add(f16, 1.0)": lambda L, N: L.lax.add(x16, 1.0),
    "add(bf16, 1.0)": lambda L, N: L.lax.add(x32.astype(BF16), 1.0),
    "add(c64, 1.0)": lambda L, N: L.lax.add(c64, 1.0),
    "add(f32, 1j)": lambda L, N: L.lax.add(x32, 1j),
    "add(f32, i32)": lambda L, N: L.lax.add(x32, i32),
    "add(f32, np.float64)": lambda L, N: L.lax.add(x32, np.float64(2)),
    "add(1, np.float32)": lambda L, N: L.lax.add(1, np.float32(2)),
    "add(True, 1)": lambda L, N: L.lax.add(True, 1),
    "sub(u8, 1)": lambda L, N: L.lax.sub(u8, 1),
    "mul(i8, 3)": lambda L, N: L.lax.mul(i32.astype(np.int8), 3),
    "div(1, 2.0)": lambda L, N: L.lax.div(1, 2.0),
    "max(u8, 1)": lambda L, N: L.lax.max(u8, 1),
    "max(f32, 0.0)": lambda L, N: L.lax.max(x32, 0.0),
    "pow(f32, 2)": lambda L, N: L.lax.pow(x32, 2),
    "pow(f16, 2)": lambda L, N: L.lax.pow(x16, 2),
    "pow(f16, 2.0)": lambda L, N: L.lax.pow(x16, 2.0),
    "pow(2.0, i32)": lambda L, N: L.lax.pow(2.0, i32),
    "pow(i32, 2)": lambda L, N: L.lax.pow(i32, 2),
    "lt(1, 2.0)": lambda L, N: L.lax.lt(1, 2.0),
    "eq(f32, 2.5)": lambda L, N: L.lax.eq(x32, 2.5),
    "eq(i32, 1.0)": lambda L, N: L.lax.eq(i32, 1.0),
    "bitwise_and(bool, True)": lambda L, N: L.lax.bitwise_and(b3, True),
    "bitwise_and(bool, 1)": lambda L, N: L.lax.bitwise_and(b3, 1),
    "atan2(1, 1.0)": lambda L, N: L.lax.atan2(1, 1.0),
    "complex(1.0, 1)": lambda L, N: L.lax.complex(1.0, 1),
    "select(b, f32, 1.0 scalar)": lambda L, N: L.lax.select(True, np.float32(1), 1.0),
    "select(True, 1, 1.0)": lambda L, N: L.lax.select(True, 1, 1.0),
    "clamp(0, f32, 1)": lambda L, N: L.lax.clamp(0, x32, 1),
    "clamp(0., f32, 1.)": lambda L, N: L.lax.clamp(0.0, x32, 1.0),
    "clamp(0., f16, 1.)": lambda L, N: L.lax.clamp(0.0, x16, 1.0),
    "pad(f32, 0.0)": lambda L, N: L.lax.pad(x32, 0.0, [(1, 1, 0)]),
    "pad(f32, 0)": lambda L, N: L.lax.pad(x32, 0, [(1, 1, 0)]),
    "pad(f16, 0.0)": lambda L, N: L.lax.pad(x16, 0.0, [(1, 1, 0)]),
    "dynamic_update_slice(f16, f32)": lambda L, N: L.lax.dynamic_update_slice(
        x16, np.ones(1, np.float32), (0,)),
    "dot(f32, i32)": lambda L, N: L.lax.dot(x32, i32),
}


@pytest.mark.parametrize("name", sorted(STRICT))
def test_lax_never_promotes(name):
    # results: same values, dtypes and weak types; errors: TypeError in both
    f = STRICT[name]
    _same(f)
    ref = _run(lambda L, N: f(L, N), jax, jnp)
    if ref[0] == "ok":
        assert jax.tree_util.tree_leaves(f(jax, jnp))[0].weak_type == \
            jax.tree_util.tree_leaves(f(fl, fnp))[0].weak_type


def test_strict_error_names_both_dtypes():
    with pytest.raises(TypeError, match=r"lax\.add requires arguments to have the same "
                                        r"dtypes, got int32, float32"):
        fl.lax.add(1, 1.0)
    with pytest.raises(TypeError, match=r"got float16, float32 \(functorch_lite\.numpy\."
                                        r"maximum promotes"):
        fl.lax.max(x16, 1.0)
    with pytest.raises(TypeError, match="got float32, int32"):  # under jit too
        fl.jit(lambda x: fl.lax.add(x, 1))(x32)


NUMPY_PROMOTES = {
    "add(1, 1.0)": lambda L, N: N.add(1, 1.0),
    "f16 + 1.0": lambda L, N: N.asarray(x16) + 1.0,
    "maximum(u8, 1)": lambda L, N: N.maximum(u8, 1),
    "i32 * 0.5": lambda L, N: N.asarray(i32) * 0.5,
    "where(b, f16, 0.0)": lambda L, N: N.where(b3, x16, 0.0),
    "clip(f16, 0, 1)": lambda L, N: N.clip(x16, 0, 1),
    "power(f16, 2)": lambda L, N: N.power(x16, 2),
    "bf16 / 3": lambda L, N: N.asarray(x32.astype(BF16)) / 3,
    "arctan2(i32, 1.0)": lambda L, N: N.arctan2(i32, 1.0),
    "pad(f16)": lambda L, N: N.pad(x16, 1, constant_values=0),
    "at[].set(f16, 1.0)": lambda L, N: N.asarray(x16).at[0].set(1.0),
    "at[].add(u8, 1)": lambda L, N: N.asarray(u8).at[1].add(1),
    "logaddexp(f16, 1.0)": lambda L, N: N.logaddexp(x16, 1.0),
    "mean(f16)": lambda L, N: N.mean(x16),
    "var(i32)": lambda L, N: N.var(i32),
    "linspace": lambda L, N: N.linspace(0, 1, 5, dtype=N.float16),
    "x[-1] (u8 index)": lambda L, N: N.asarray(x32)[np.uint8(1)],
    "cond on int pred": lambda L, N: L.lax.cond(np.uint8(1), lambda: 1.0, lambda: 2.0),
}


@pytest.mark.parametrize("name", sorted(NUMPY_PROMOTES))
def test_numpy_layer_still_promotes(name):
    _same(NUMPY_PROMOTES[name], rtol=1e-3)


def test_scipy_special_on_low_precision():
    import jax.scipy.special as jss

    import functorch_lite.scipy.special as fss
    x = np.array([0.0, 0.25, 0.75], F16)
    y = np.array([2.0, 3.0, 4.0], F16)
    for name, args in (("logit", (x,)), ("xlogy", (x, y)), ("xlog1py", (x, y)),
                       ("logit", (0.3,))):
        ours, ref = getattr(fss, name)(*args), getattr(jss, name)(*args)
        assert ours.dtype == ref.dtype, name
        np.testing.assert_allclose(np.asarray(ours, np.float32), np.asarray(ref, np.float32),
                                   rtol=1e-3)


# ---------------------------------------------------------------------------------------
# loops whose weakly typed carry the body retypes (bug 14)

LOOPS = {
    "while 0 -> i + 1.5": lambda L, N: L.lax.while_loop(lambda i: i < 10, lambda i: i + 1.5, 0),
    "while 0 -> i + f32": lambda L, N: L.lax.while_loop(lambda i: i < 10,
                                                         lambda i: i + np.float32(1), 0),
    "while 0.0 -> f16": lambda L, N: L.lax.while_loop(
        lambda i: i < 10, lambda i: (i + 1).astype(N.float16), 0.0),
    "while 1 -> i8": lambda L, N: L.lax.while_loop(lambda i: i < 10,
                                                    lambda i: (i * 2).astype(N.int8), 1),
    "while (0, 1) mixed": lambda L, N: L.lax.while_loop(
        lambda c: c[0] < 3, lambda c: (c[0] + 1, c[1] * 2.0), (0, 1)),
    "while 0.0 -> strong f32": lambda L, N: L.lax.while_loop(
        lambda i: i < 10, lambda i: i + np.float32(1), 0.0),
    "while i32 -> + 1.5 (error)": lambda L, N: L.lax.while_loop(
        lambda i: i < 10, lambda i: i + 1.5, np.int32(0)),
    "while i32 -> f32 (error)": lambda L, N: L.lax.while_loop(
        lambda i: i < 10, lambda i: (i + 1).astype(N.float32), np.int32(0)),
    "while 0.0 -> shape (3,) (error)": lambda L, N: L.lax.while_loop(
        lambda i: N.all(i < 10), lambda i: i + N.ones(3), 0.0),
    "jit while 0 -> i + 1.5": lambda L, N: L.jit(
        lambda: L.lax.while_loop(lambda i: i < 10, lambda i: i + 1.5, 0))(),
    "vmap while": lambda L, N: L.vmap(lambda x: L.lax.while_loop(
        lambda i: i < x, lambda i: i + 1.5, 0))(np.arange(3.0, dtype=np.float32)),
    "fori 0 -> c + 0.5": lambda L, N: L.lax.fori_loop(0, 3, lambda i, c: c + 0.5, 0),
    "fori 0 -> c + i * 0.5": lambda L, N: L.lax.fori_loop(0, 3, lambda i, c: c + i * 0.5, 0),
    "fori traced bounds": lambda L, N: L.jit(
        lambda n: L.lax.fori_loop(0, n, lambda i, c: c + 0.5, 0))(3),
    "fori i32 -> + 0.5 (error)": lambda L, N: L.lax.fori_loop(
        0, 3, lambda i, c: c + 0.5, np.int32(0)),
    "scan 0 -> c + x": lambda L, N: L.lax.scan(lambda c, x: (c + x, c), 0,
                                               np.arange(3.0, dtype=np.float32)),
    "scan 0.0 -> c + x f16": lambda L, N: L.lax.scan(lambda c, x: (c + x, c), 0.0,
                                                     np.arange(3, dtype=F16)),
    "scan 1 -> c * 0.5": lambda L, N: L.lax.scan(lambda c, x: (c * 0.5, None), 1, None,
                                                 length=3),
    "scan i32 -> c + x f32 (error)": lambda L, N: L.lax.scan(
        lambda c, x: (c + x, c), np.int32(0), np.arange(3.0, dtype=np.float32)),
    "grad through weak scan": lambda L, N: L.grad(lambda x: L.lax.scan(
        lambda c, _: (c * x, None), 1, None, length=3)[0])(2.0),
}


@pytest.mark.parametrize("name", sorted(LOOPS))
def test_weakly_typed_loop_carries(name):
    _same(LOOPS[name])


def test_weak_carry_keeps_its_weak_type_when_unchanged():
    ref = jax.lax.while_loop(lambda c: c[0] < 3, lambda c: (c[0] + 1, c[1] * 2.0), (0, 1))
    ours = fl.lax.while_loop(lambda c: c[0] < 3, lambda c: (c[0] + 1, c[1] * 2.0), (0, 1))
    assert [r.weak_type for r in ref] == [o.weak_type for o in ours] == [True, False]


# ---------------------------------------------------------------------------------------
# lax.map with batch_size (bug 9)

xs7 = np.arange(14.0, dtype=np.float32).reshape(7, 2)

MAPS = {
    "b3 (remainder 1)": lambda L, N: L.lax.map(lambda x: x.sum() * 2, xs7, batch_size=3),
    "b7 (exact)": lambda L, N: L.lax.map(lambda x: x * 2, xs7, batch_size=7),
    "b10 (all in the remainder)": lambda L, N: L.lax.map(lambda x: x * 2, xs7, batch_size=10),
    "b0": lambda L, N: L.lax.map(lambda x: x * 2, xs7, batch_size=0),
    "b1": lambda L, N: L.lax.map(lambda x: x * 2, xs7, batch_size=1),
    "pytrees": lambda L, N: L.lax.map(lambda p: {"a": p[0] + p[1].sum(), "b": p[0] * 0},
                                      (xs7[:, 0], xs7), batch_size=2),
    "constant output": lambda L, N: L.lax.map(lambda x: 1.0, xs7, batch_size=3),
    "jit": lambda L, N: L.jit(lambda xs: L.lax.map(N.sin, xs, batch_size=3))(xs7),
    "grad": lambda L, N: L.grad(lambda xs: L.lax.map(lambda x: N.sin(x).sum(), xs,
                                                     batch_size=3).sum())(xs7),
    "vmap": lambda L, N: L.vmap(lambda xs: L.lax.map(lambda x: x ** 2, xs, batch_size=2))(
        np.stack([xs7, xs7 + 1])),
}


@pytest.mark.parametrize("name", sorted(MAPS))
def test_map_batch_size(name):
    _same(MAPS[name], rtol=1e-5)


def test_map_batch_size_runs_vmapped_batches():
    # the body sees batches of 3 then the remainder of 1 (shapes printed by JAX's docs)
    seen = []
    fl.lax.map(lambda x: seen.append(x.shape) or x, xs7, batch_size=3)
    assert seen == [(2,), (2,)]  # traced once for the scan body, once for the remainder
    prog = str(fl.make_ir(lambda xs: fl.lax.map(lambda x: x * 2, xs, batch_size=3))(xs7))
    assert "scan" in prog and "f32[2,3,2]" in prog.replace(" ", "")
    with pytest.raises(TypeError, match="batch_size must be a non-negative int"):
        fl.lax.map(lambda x: x, xs7, batch_size=-1)


# ---------------------------------------------------------------------------------------
# lax.reduce_window with any computation (bug 9)

x6 = np.arange(1.0, 7.0, dtype=np.float32)
x34 = np.arange(12.0, dtype=np.float32).reshape(3, 4) - 5

WINDOWS = {
    "lax.max": lambda L, N: L.lax.reduce_window(x6, -np.inf, L.lax.max, (2,), (1,), "VALID"),
    "fnp.maximum": lambda L, N: L.lax.reduce_window(x6, -np.inf, N.maximum, (2,), (1,),
                                                    "VALID"),
    "fnp.minimum 2d": lambda L, N: L.lax.reduce_window(x34, np.inf, N.minimum, (2, 2), (1, 2),
                                                       "SAME"),
    "lambda sum": lambda L, N: L.lax.reduce_window(x6, 0.0, lambda a, b: a + b, (2,), (1,),
                                                   "SAME"),
    "lax.mul": lambda L, N: L.lax.reduce_window(x6, 1.0, L.lax.mul, (2,), (1,), "VALID"),
    "lax.add, init 1": lambda L, N: L.lax.reduce_window(x6, 1.0, L.lax.add, (2,), (1,),
                                                        "VALID"),
    "a + 2b": lambda L, N: L.lax.reduce_window(x6, 0.0, lambda a, b: a + 2 * b, (3,), (1,),
                                               "VALID"),
    "int maximum": lambda L, N: L.lax.reduce_window(
        np.arange(6, dtype=np.int32), np.iinfo(np.int32).min, N.maximum, (2,), (1,), "VALID"),
    "int mul": lambda L, N: L.lax.reduce_window(np.arange(1, 7, dtype=np.int32), 1,
                                                L.lax.mul, (2,), (1,), "VALID"),
    "pytree operands": lambda L, N: L.lax.reduce_window(
        (x6, x6 * 2), (0.0, 1.0), lambda a, b: (a[0] + b[0], a[1] * b[1]), (2,), (1,),
        "VALID"),
    "dilations and padding": lambda L, N: L.lax.reduce_window(
        x6, 1.0, L.lax.mul, (2,), (2,), ((1, 2),), base_dilation=(2,), window_dilation=(2,)),
    "traced init under jit": lambda L, N: L.jit(lambda x, i: L.lax.reduce_window(
        x, i, L.lax.add, (2,), (1,), "VALID"))(x6, 0.0),
    "jvp of lax.mul": lambda L, N: L.jvp(lambda x: L.lax.reduce_window(
        x, 1.0, L.lax.mul, (2,), (1,), "VALID"), (x6,), (np.ones(6, np.float32),)),
    "jvp of fnp.maximum": lambda L, N: L.jvp(lambda x: L.lax.reduce_window(
        x, -np.inf, N.maximum, (2,), (1,), "VALID"), (x6,), (np.arange(6, dtype=np.float32),)),
    "vmap of lax.mul": lambda L, N: L.vmap(lambda x: L.lax.reduce_window(
        x, 1.0, L.lax.mul, (2,), (1,), "VALID"))(x34),
    "vmap of jvp": lambda L, N: L.vmap(lambda x: L.jvp(lambda x: L.lax.reduce_window(
        x, 1.0, L.lax.mul, (2,), (1,), "VALID"), (x,), (x,)))(x34),
    "init dtype mismatch (error)": lambda L, N: L.lax.reduce_window(
        x6.astype(F16), 1.0, L.lax.mul, (2,), (1,), "VALID"),
    "wrong output structure (error)": lambda L, N: L.lax.reduce_window(
        x6, 0.0, lambda a, b: (a, b), (2,), (1,), "VALID"),
}


@pytest.mark.parametrize("name", sorted(WINDOWS))
def test_reduce_window_any_computation(name):
    _same(WINDOWS[name], rtol=1e-6)


def test_reduce_window_recognizes_monoids():
    # a sum/max/min however written, with its identity, stays a differentiable primitive
    for comp, init, prim in ((fnp.maximum, -np.inf, "reduce_window_max"),
                             (lambda a, b: fnp.minimum(b, a), np.inf, "reduce_window_min"),
                             (lambda a, b: a + b, 0.0, "reduce_window_sum"),
                             (fl.lax.max, -np.inf, "reduce_window_max")):
        prog = str(fl.make_ir(lambda x: fl.lax.reduce_window(x, init, comp, (2,), (1,),
                                                             "VALID"))(x6))
        assert prim in prog, prog
    # anything else holds its computation (printed as a nested program)
    prog = str(fl.make_ir(lambda x: fl.lax.reduce_window(x, 1.0, fl.lax.mul, (2,), (1,),
                                                         "VALID"))(x6))
    assert "reduce_window[" in prog.replace(" ", "") or "reduce_window " in prog
    assert "mul" in prog


def test_reduce_window_reverse_mode():
    # the recognized monoids differentiate in reverse mode (JAX only does this for the
    # lax.add/max/min objects themselves); the gradient agrees with JAX's for those
    def loss(lib, np_lib, comp):
        return lambda x: lib.lax.reduce_window(x, -np.inf, comp, (2,), (1,), "VALID").sum()
    ref = jax.grad(loss(jax, jnp, jax.lax.max))(x6)
    for comp in (fl.lax.max, fnp.maximum, lambda a, b: fl.lax.max(a, b)):
        np.testing.assert_allclose(np.asarray(fl.grad(loss(fl, fnp, comp))(x6)), ref)
    # a general computation does not (as in JAX, which raises a ValueError too)
    with pytest.raises(ValueError):
        jax.grad(lambda x: jax.lax.reduce_window(x, 1.0, jax.lax.mul, (2,), (1,),
                                                 "VALID").sum())(x6)
    with pytest.raises(ValueError, match="Reverse-mode differentiation does not work for "
                                         "lax.reduce_window with a general computation"):
        fl.grad(lambda x: fl.lax.reduce_window(x, 1.0, fl.lax.mul, (2,), (1,),
                                               "VALID").sum())(x6)


def test_reduce_window_forward_mode_matches_finite_differences():
    f = lambda x: fl.lax.reduce_window(x, 1.0, fl.lax.mul, (3,), (2,), "SAME")  # noqa: E731
    jac = np.asarray(fl.jacfwd(f)(x6))
    eps = 1e-3
    fd = np.stack([(np.asarray(f(x6 + eps * e)) - np.asarray(f(x6 - eps * e))) / (2 * eps)
                   for e in np.eye(6, dtype=np.float32)], axis=1)
    np.testing.assert_allclose(jac, fd, rtol=1e-2, atol=1e-2)
