"""``disable_jit()`` runs ``lax`` control flow as plain Python on concrete values, as JAX does.

Each construct (``cond``, ``switch``, ``while_loop``, ``fori_loop``, ``scan``, ``map``) runs
four ways: ours and JAX's, traced and under ``disable_jit()``. Under ``disable_jit()`` the
bodies see concrete values (they log them, call ``float()`` and branch on them in Python),
run as often as JAX's do, and the results have the values, dtypes, weak types and pytree
structure of the traced path (and of ``jax.jit``'s). Outside ``disable_jit()`` the bodies are
traced as before. ``grad`` and ``vmap`` under ``disable_jit()`` behave as JAX's: a forward-mode
tracer counts as concrete, a batched predicate falls back to the primitive.
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite import lax
from helpers import assert_same
from rule_checks import x64

OURS = (lax, fnp, fl)
JAX = (jax.lax, jnp, jax)


def _seen(x):
    """What a body sees: the value as a list when it is concrete, None when traced."""
    try:
        return np.asarray(x).tolist()
    except Exception:
        return None


def _leaves(tree, lib):
    return tuple(lib.tree_util.tree_leaves(tree))


def _four_ways(case):
    """Run ``case(lax, np_, log)`` ours/JAX x traced/disable_jit; returns results and logs."""
    out = {}
    for name, (lax_, np_, lib) in (("ours", OURS), ("jax", JAX)):
        for disabled in (False, True):
            log: list = []
            with lib.disable_jit(disabled):
                res = case(lax_, np_, log)
            out[name, disabled] = (res, log)
    return out


def _check_four_ways(case):
    runs = _four_ways(case)
    (ours_py, log_py), (ours_tr, log_tr) = runs["ours", True], runs["ours", False]
    (jax_py, jlog_py), (jax_tr, jlog_tr) = runs["jax", True], runs["jax", False]
    assert fl.tree_util.tree_structure(ours_py) == fl.tree_util.tree_structure(ours_tr)
    # the traced path's (and jax.jit's) values, dtypes and weak types
    assert_same(_leaves(ours_py, fl), _leaves(ours_tr, fl), weak_type=True)
    assert_same(_leaves(ours_py, fl), _leaves(jax_tr, jax), weak_type=True)
    # JAX's Python path: the same values (it may hand back raw Python scalars)
    for a, b in zip(_leaves(ours_py, fl), _leaves(jax_py, jax)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6)
    # the bodies saw concrete values, as often as JAX's did, and the same ones
    assert log_py and all(v is not None for _, v in log_py)
    assert log_py == jlog_py
    # outside disable_jit the bodies are traced (abstract values), as JAX's are (how often
    # is the traced path's business: ours traces a body again to retype a weak carry)
    assert log_tr and all(v is None for _, v in log_tr)
    assert all(v is None for _, v in jlog_tr)
    return ours_py


def _logged(log, tag, fun):
    def body(*args):
        log.append((tag, _seen(fl.tree_util.tree_leaves(args)[0])
                    if fl.tree_util.tree_leaves(args) else 0))
        return fun(*args)
    return body


CASES = {
    "cond_true": lambda lx, np_, log: lx.cond(
        True, _logged(log, "t", lambda x: x * 2), _logged(log, "f", lambda x: x - 1),
        np_.arange(3.0)),
    "cond_int_pred_scalar_operand": lambda lx, np_, log: lx.cond(
        np_.int32(0), _logged(log, "t", lambda x: x * 2), _logged(log, "f", lambda x: x + 1),
        2.0),
    "cond_pytree": lambda lx, np_, log: lx.cond(
        np_.array(5) > 3, _logged(log, "t", lambda d, y: {"s": d["a"] + y, "p": (y, 1.0)}),
        _logged(log, "f", lambda d, y: {"s": d["a"] - y, "p": (y * 0, 2.0)}),
        {"a": np_.ones(2)}, np_.float32(3)),
    "switch_clamped_high": lambda lx, np_, log: lx.switch(
        7, [_logged(log, str(i), lambda x, i=i: x * i) for i in range(3)], np_.arange(2.0)),
    "switch_clamped_low": lambda lx, np_, log: lx.switch(
        np_.int32(-4), [_logged(log, str(i), lambda x, i=i: x + i) for i in range(3)], 1),
    "while_weak_int": lambda lx, np_, log: lx.while_loop(
        _logged(log, "c", lambda v: v < 5), _logged(log, "b", lambda v: v + 2), 0),
    "while_tuple": lambda lx, np_, log: lx.while_loop(
        _logged(log, "c", lambda c: c[0] < 3),
        _logged(log, "b", lambda c: (c[0] + 1, c[1] * 2.0)), (0, np_.ones(2))),
    "while_no_step": lambda lx, np_, log: lx.while_loop(
        _logged(log, "c", lambda v: v > 5.0), _logged(log, "b", lambda v: v * 2), 1.0),
    "fori": lambda lx, np_, log: lx.fori_loop(
        1, 4, _logged(log, "b", lambda i, v: v + i * np_.arange(3.0)), np_.zeros(3)),
    "scan": lambda lx, np_, log: lx.scan(
        _logged(log, "b", lambda c, x: (c + x, c * x)), 0.0, np_.arange(4.0)),
    "scan_reverse_pytree": lambda lx, np_, log: lx.scan(
        _logged(log, "b", lambda c, x: ({"n": c["n"] + 1, "s": c["s"] + x[0]},
                                        (x[1] * c["s"], c["n"]))),
        {"n": 0, "s": np_.zeros(2)}, (np_.arange(6.0).reshape(3, 2), np_.arange(3.0)),
        reverse=True),
    "scan_length_only": lambda lx, np_, log: lx.scan(
        _logged(log, "b", lambda c, _: (c * 2, c)), 1, None, length=3),
    "map": lambda lx, np_, log: lx.map(
        _logged(log, "f", lambda x: (x ** 2, x.sum())), np_.arange(6.0).reshape(3, 2)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_python_path_matches_traced_and_jax(name):
    _check_four_ways(CASES[name])


def test_only_the_chosen_branch_runs():
    log = _four_ways(CASES["cond_int_pred_scalar_operand"])
    assert [t for t, _ in log["ours", True][1]] == ["f"]
    assert sorted(t for t, _ in log["ours", False][1]) == ["f", "t"]   # both traced
    log = _four_ways(CASES["switch_clamped_high"])
    assert [t for t, _ in log["ours", True][1]] == ["2"]


def test_loop_bodies_run_once_per_step():
    runs = _four_ways(CASES["while_weak_int"])
    assert [t for t, _ in runs["ours", True][1]] == ["c", "b", "c", "b", "c", "b", "c"]
    assert [v for t, v in runs["ours", True][1] if t == "b"] == [0, 2, 4]
    runs = _four_ways(CASES["scan_reverse_pytree"])
    assert [v for _, v in runs["ours", True][1]] == [0, 1, 2]   # the "n" carry, step by step


def test_zero_step_fori_loop_returns_the_start_without_calling_the_body():
    def case(lx, np_, log):
        return lx.fori_loop(3, 3, _logged(log, "b", lambda i, v: (v[0] + i, v[1])),
                            (np_.ones(2), 5))

    runs = _four_ways(case)
    assert runs["ours", True][1] == runs["jax", True][1] == []   # as JAX: never called
    assert len(runs["ours", False][1]) == len(runs["jax", False][1]) == 1   # traced once
    assert_same(_leaves(runs["ours", True][0], fl), _leaves(runs["ours", False][0], fl),
                weak_type=True)
    for a, b in zip(_leaves(runs["ours", True][0], fl), _leaves(runs["jax", True][0], jax)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))   # JAX: the start as is


def test_retyped_weak_carry_gets_the_traced_type():
    # A carry started at the Python int 0 and updated with a float: the traced loop makes it
    # a strong float32 carry (JAX's Python scan cannot stack the mixed ys at all).
    def scan_case(lx, np_, log):
        return lx.scan(_logged(log, "b", lambda c, x: (c + x, c)), 0, np_.arange(1.0, 4.0))

    runs = _four_ways(lambda lx, np_, log: lx.while_loop(
        _logged(log, "c", lambda v: v < 4), _logged(log, "b", lambda v: v + 1.5), 0))
    assert_same(runs["ours", True][0], runs["ours", False][0], weak_type=True)
    assert_same(runs["ours", True][0], runs["jax", False][0], weak_type=True)
    assert len(runs["ours", True][1]) == len(runs["jax", True][1]) == 7
    with fl.disable_jit():
        calls: list = []
        ours = scan_case(lax, fnp, calls)
    assert [v for _, v in calls] == [0, 1.0, 3.0]   # one call per step, no re-run
    assert_same(ours, scan_case(lax, fnp, []), weak_type=True)
    assert_same(ours, scan_case(jax.lax, jnp, []), weak_type=True)


# ---------------------------------------------------------------------------------------
# the bodies can use Python on values; traced, they cannot

def _python_if(x):
    return x * 2 if float(x) > 1 else x - 1


PY_BODIES = {
    "cond": lambda lx, np_: lx.cond(np_.float32(2) > 1, _python_if, lambda x: x, np_.float32(3)),
    "switch": lambda lx, np_: lx.switch(1, [lambda x: x, _python_if], np_.float32(0.5)),
    "while": lambda lx, np_: lx.while_loop(lambda v: float(v) < 10, _python_if, np_.float32(2)),
    "fori": lambda lx, np_: lx.fori_loop(0, 3, lambda i, v: v + int(i) * _python_if(v),
                                         np_.float32(1)),
    "scan": lambda lx, np_: lx.scan(lambda c, x: (c + _python_if(x), float(c)),
                                    np_.float32(0), np_.arange(3.0)),
    "map": lambda lx, np_: lx.map(_python_if, np_.arange(3.0)),
}


@pytest.mark.parametrize("name", sorted(PY_BODIES))
def test_bodies_can_branch_on_values(name):
    with fl.disable_jit():
        ours = PY_BODIES[name](lax, fnp)
    with jax.disable_jit():
        theirs = PY_BODIES[name](jax.lax, jnp)
    for a, b in zip(_leaves(ours, fl), _leaves(theirs, jax)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6)
    with pytest.raises(TypeError):   # traced: a ConcretizationTypeError (a TypeError)
        PY_BODIES[name](lax, fnp)
    with pytest.raises(TypeError):
        PY_BODIES[name](jax.lax, jnp)


def test_jitted_function_under_disable_jit_runs_loops_as_python():
    seen = []

    @fl.jit
    def f(x):
        def body(i, v):
            seen.append(float(v))
            return v * 2
        return lax.fori_loop(0, 3, body, x)

    with fl.disable_jit():
        assert_same(f(fnp.float32(1.5)), jnp.float32(12.0), weak_type=True)
    assert seen == [1.5, 3.0, 6.0]
    with pytest.raises(TypeError):   # traced again outside: float() of a tracer
        f(fnp.float32(1.5))


def test_zero_length_scan_raises_as_jax():
    body = (lambda c, x: (c + x, x))
    with jax.disable_jit(), pytest.raises(ValueError, match="zero-length scan"):
        jax.lax.scan(body, 0.0, jnp.zeros(0))
    with fl.disable_jit(), pytest.raises(ValueError, match="zero-length scan"):
        lax.scan(body, 0.0, fnp.zeros(0))
    with fl.disable_jit(), pytest.raises(ValueError, match="zero-length scan"):
        lax.map(lambda x: x, fnp.zeros((0, 2)))
    assert_same(lax.scan(body, 0.0, fnp.zeros(0)), jax.lax.scan(body, 0.0, jnp.zeros(0)),
                weak_type=True)


# ---------------------------------------------------------------------------------------
# bad input: the traced path's errors either way

BAD = {
    "cond_pred_shape": lambda lx, np_: lx.cond(np_.ones(2) > 0, lambda x: x, lambda x: x, 1.0),
    "cond_pred_float_vector": lambda lx, np_: lx.cond(np_.zeros(3), lambda: 1, lambda: 2),
    "switch_empty": lambda lx, np_: lx.switch(0, [], 1.0),
    "switch_float_index": lambda lx, np_: lx.switch(1.5, [lambda: 1, lambda: 2]),
    "while_int_pred": lambda lx, np_: lx.while_loop(lambda v: v, lambda v: v - 1, 3),
    "while_structure": lambda lx, np_: lx.while_loop(lambda v: v[0] < 3,
                                                     lambda v: (v[0] + 1, v[1], v[1]),
                                                     (0, np_.ones(2))),
    "while_dtype": lambda lx, np_: lx.while_loop(lambda v: v < 3,
                                                 lambda v: (v + 1).astype(np_.int32),
                                                 np_.float32(0)),
    "scan_not_pair": lambda lx, np_: lx.scan(lambda c, x: c + x, 0.0, np_.ones(3)),
    "scan_carry_shape": lambda lx, np_: lx.scan(lambda c, x: (np_.stack([c, c]), x),
                                                np_.float32(0), np_.ones(3)),
    "scan_lengths": lambda lx, np_: lx.scan(lambda c, x: (c, x), 0.0,
                                            (np_.ones(3), np_.ones(2))),
    "scan_no_length": lambda lx, np_: lx.scan(lambda c, x: (c, x), 0.0, None),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_input_gets_the_same_error(name):
    with pytest.raises(Exception) as traced:
        BAD[name](lax, fnp)
    with fl.disable_jit(), pytest.raises(Exception) as python:
        BAD[name](lax, fnp)
    assert type(python.value) is type(traced.value)
    assert str(python.value) == str(traced.value)
    with pytest.raises(Exception) as theirs:   # the kind of error JAX's jit path raises
        BAD[name](jax.lax, jnp)
    assert isinstance(traced.value, TypeError) == isinstance(theirs.value, TypeError)


# ---------------------------------------------------------------------------------------
# grad and vmap under disable_jit

GRADS = {
    # reverse mode of a while_loop works only as Python (traced: a ValueError, as in JAX)
    "while": lambda lx, np_: (lambda x: lx.while_loop(lambda v: v < 10.0, lambda v: v * x, x)),
    "cond": lambda lx, np_: (lambda x: lx.cond(x > 0, lambda y: np_.sin(y) * 3,
                                               lambda y: y ** 2, x)),
    "scan": lambda lx, np_: (lambda x: lx.scan(lambda c, w: (np_.sin(c * w), c), x,
                                               np_.arange(1.0, 4.0))[0]),
    "fori": lambda lx, np_: (lambda x: lx.fori_loop(0, 3, lambda i, v: v * np_.cos(v), x)),
}


@pytest.mark.parametrize("name", sorted(GRADS))
def test_grad_under_disable_jit(name):
    with fl.disable_jit():
        ours = fl.grad(GRADS[name](lax, fnp))(1.3)
    with jax.disable_jit():
        theirs = jax.grad(GRADS[name](jax.lax, jnp))(1.3)
    assert_same(ours, theirs, tol=1e-5, weak_type=True)
    if name == "while":
        with pytest.raises(ValueError):
            fl.grad(GRADS[name](lax, fnp))(1.3)
    else:
        assert_same(fl.grad(GRADS[name](lax, fnp))(1.3), ours, tol=1e-6, weak_type=True)


def test_grad_of_cond_runs_one_branch_as_jax():
    counts = {}
    for name, (lax_, np_, lib) in (("ours", OURS), ("jax", JAX)):
        log: list = []
        f = (lambda x: lax_.cond(x > 0, _logged(log, "t", lambda y: y * 3),
                                 _logged(log, "f", lambda y: y), x))
        with lib.disable_jit():
            assert float(lib.grad(f)(2.0)) == 3.0
        counts[name] = [t for t, _ in log]
    assert counts["ours"] == counts["jax"] == ["t"]


def _vmap_counts(lax_, np_, lib, case):
    log: list = []
    with lib.disable_jit():
        res = lib.vmap(lambda x: case(lax_, np_, log, x))(np_.array([1.0, 3.0, -2.0]))
    return res, [(t, v is None) for t, v in log]


VMAPS = {
    # a batched predicate: not concrete, so the primitive runs (both branches traced)
    "cond_batched_pred": lambda lx, np_, log, x: lx.cond(
        x > 0, _logged(log, "t", lambda y: y * 3), _logged(log, "f", lambda y: -y), x),
    # an unbatched predicate: concrete, only the chosen branch runs (on batched operands)
    "cond_unbatched_pred": lambda lx, np_, log, x: lx.cond(
        np_.float32(1) > 0, _logged(log, "t", lambda y: y * 3),
        _logged(log, "f", lambda y: -y), x),
    # a batched predicate: one Python try of cond_fun, then the primitive from the start
    "while_batched_pred": lambda lx, np_, log, x: lx.while_loop(
        _logged(log, "c", lambda v: v < 10.0), _logged(log, "b", lambda v: v * v + 2), x),
    # an unbatched predicate: a Python loop over batched carries
    "while_unbatched_pred": lambda lx, np_, log, x: lx.while_loop(
        _logged(log, "c", lambda c: c[0] < 3), _logged(log, "b", lambda c: (c[0] + 1, c[1] * x)),
        (0, x))[1],
    "scan": lambda lx, np_, log, x: lx.scan(
        _logged(log, "b", lambda c, w: (c * w + x, c)), x, np_.arange(3.0)),
    "fori": lambda lx, np_, log, x: lx.fori_loop(
        0, 2, _logged(log, "b", lambda i, v: v + i * x), x),
    "map_batch_size": lambda lx, np_, log, x: lx.map(
        _logged(log, "f", lambda r: r * x), np_.arange(10.0).reshape(5, 2), batch_size=2),
}


@pytest.mark.parametrize("name", sorted(VMAPS))
def test_vmap_under_disable_jit(name):
    ours, ours_log = _vmap_counts(*OURS, VMAPS[name])
    theirs, their_log = _vmap_counts(*JAX, VMAPS[name])
    assert_same(_leaves(ours, fl), _leaves(theirs, jax), weak_type=True)
    # the same calls, seeing concrete values exactly where JAX's do (in order, but for the
    # order in which the traced cond traces its branches)
    if name == "cond_batched_pred":
        ours_log, their_log = sorted(ours_log), sorted(their_log)
    assert ours_log == their_log


def test_x64_python_scalars_are_float64():
    def case(lx, np_, log):
        return (lx.while_loop(lambda v: v < 3.0, _logged(log, "b", lambda v: v + 1.0), 0.0),
                lx.scan(_logged(log, "s", lambda c, x: (c + x, c * x)), 0.5, np_.arange(3.0)))

    with x64():
        jax.config.update("jax_enable_x64", True)
        ours = _check_four_ways(case)
    assert np.asarray(ours[0]).dtype == np.float64 and ours[0].weak_type
