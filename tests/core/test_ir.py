"""Tests for functorch_lite.core.ir: the pretty printer, the type checker, evaluation, and
``make_ir`` compared structurally with ``jax.make_jaxpr``."""
from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import xla_bridge  # noqa: F401  (registers the backend)
import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite import lax
from functorch_lite.core import pytree
from functorch_lite.core.avals import ShapedArray
from functorch_lite.core.ir import (ClosedProgram, Eqn, IRTypeError, Literal, Program, Var,
                                    eval_program, pretty_print, typecheck)
from functorch_lite.core.primitive import Primitive

# Existing primitives only: declaring new ones would pollute Primitive.registry, which other
# tests walk.
add_p = Primitive.registry["add"]
mul_p = Primitive.registry["mul"]
sin_p = Primitive.registry["sin"]
cos_p = Primitive.registry["cos"]
convert_p = Primitive.registry["convert_element_type"]
sort_p = Primitive.registry["sort"]


def f32(*shape, weak=False):
    return ShapedArray(shape, np.float32, weak)


def i32(*shape):
    return ShapedArray(shape, np.int32)


X = np.linspace(-1.0, 1.0, 15, dtype=np.float32).reshape(5, 3)
W1 = np.linspace(-0.5, 0.5, 12, dtype=np.float32).reshape(3, 4)
B1 = np.linspace(0.0, 0.3, 4, dtype=np.float32)
W2 = np.linspace(0.2, -0.2, 8, dtype=np.float32).reshape(4, 2)
PARAMS = {"w1": W1, "b1": B1, "w2": W2}
C = np.arange(3.0, dtype=np.float32)


# ---------------------------------------------------------------------------------------
# A table of functions: make_ir's programs typecheck and evaluate like eager execution.

def mlp(params, x):
    h = fnp.tanh(x @ params["w1"] + params["b1"])
    return fnp.sum(h @ params["w2"])


def softmax(x):
    e = fnp.exp(x - x.max(axis=-1, keepdims=True))
    return e / fnp.sum(e, axis=-1, keepdims=True)


def softmax_lax(x):
    m = fnp.expand_dims(lax.reduce_max(x, (1,)), 1)
    e = fnp.exp(x - m)
    return e / fnp.sum(e, axis=1, keepdims=True)


def numpy_code(x, c):
    y = fnp.where(x > 0, fnp.sqrt(fnp.abs(x)), -x * 2.0) + c
    z = fnp.transpose(y).reshape(15).astype(np.int32)
    return fnp.concatenate([y.ravel(), fnp.cos(y).mean(axis=0)]), z, 3.0


def jit_of_jit(x):
    inner = fl.jit(lambda y: fnp.sin(y) * 2.0)
    return fl.jit(lambda y: inner(y) + 1.0)(x) * C


def sq_sin_sum(x):
    return fnp.sum(fnp.sin(x) ** 2)


TABLE = {
    "mlp": (mlp, (PARAMS, X)),
    "softmax": (softmax, (X,)),
    "softmax_lax": (softmax_lax, (X,)),
    "numpy_code": (numpy_code, (X, C)),
    "jit_of_jit": (jit_of_jit, (X,)),
    "jit_of_jit_outer": (fl.jit(jit_of_jit), (X,)),
    "grad": (fl.grad(sq_sin_sum), (X,)),
    "grad_mlp": (fl.grad(mlp), (PARAMS, X)),
    "grad_grad": (fl.grad(fl.grad(lambda x: fnp.sin(x) * x)), (0.5,)),
    "vmap": (fl.vmap(lambda x: fnp.sum(x * C)), (X,)),
    "vmap_grad": (fl.vmap(fl.grad(sq_sin_sum)), (X,)),
    "jit_vmap_jvp": (fl.jit(fl.vmap(lambda x, t: fl.jvp(fnp.sin, (x,), (t,)))),
                     (X, np.ones_like(X))),
    "python_scalar": (lambda x, y: x * y + 1, (2.0, C)),
}


@pytest.mark.parametrize("name", list(TABLE))
def test_make_ir_typechecks_and_evaluates_like_eager(name):
    f, args = TABLE[name]
    closed = fl.make_ir(f)(*args)
    assert isinstance(closed, ClosedProgram)
    typecheck(closed.program)
    text = str(closed)
    assert text.startswith("{ lambda ") and text.endswith(" }")
    leaves = pytree.tree_leaves(args)
    expected = pytree.tree_leaves(f(*args))
    got = closed(*leaves)
    assert isinstance(got, list) and len(got) == len(expected)
    assert len(closed.out_avals) == len(expected)
    for g, e, v in zip(got, expected, closed.program.outvars):
        aval = v.aval
        g = np.asarray(g)
        assert g.shape == aval.shape == np.shape(e)
        if not isinstance(v, Literal):  # a literal output is returned as written
            assert g.dtype == aval.dtype
        np.testing.assert_allclose(g, np.asarray(e), rtol=1e-6, atol=1e-6)
    # The module-level function agrees with the method.
    for a, b in zip(eval_program(closed.program, closed.consts, leaves), got):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_make_ir_input_avals_follow_flattened_arguments():
    closed = fl.make_ir(mlp)(PARAMS, X)
    # Dict leaves come in sorted key order: b1, w1, w2, then x.
    assert [a.shape for a in closed.in_avals] == [(4,), (3, 4), (4, 2), (5, 3)]
    assert closed.out_avals == [f32()]
    assert [e.primitive.name for e in closed.eqns] == [
        "dot_general", "broadcast_in_dim", "add", "tanh", "dot_general", "reduce_sum"]


def test_eval_program_under_a_transformation_is_the_transformed_program():
    closed = fl.make_ir(sq_sin_sum)(X)
    g = fl.grad(lambda x: closed(x)[0])(X)
    np.testing.assert_allclose(np.asarray(g), np.sin(2 * X), rtol=1e-5, atol=1e-6)
    v = fl.vmap(lambda x: closed(x)[0])(np.stack([X, 2 * X]))
    np.testing.assert_allclose(np.asarray(v), [np.sum(np.sin(X) ** 2),
                                               np.sum(np.sin(2 * X) ** 2)], rtol=1e-5)


def test_closed_program_call_with_constants_and_wrong_arity():
    closed = fl.make_ir(lambda x: fnp.sin(x) * C + 1.0)(X)
    assert len(closed.program.constvars) == 1 and len(closed.consts) == 1
    np.testing.assert_array_equal(closed.consts[0], C)
    out, = closed(X)
    np.testing.assert_allclose(np.asarray(out), np.sin(X) * C + 1.0, rtol=1e-6)
    with pytest.raises(TypeError, match="program takes 1 arguments, got 2"):
        closed(X, X)
    with pytest.raises(TypeError, match="takes 1 arguments, got 0"):
        eval_program(closed.program, closed.consts, [])


def test_eval_program_literal_outputs_and_passthrough():
    closed = fl.make_ir(lambda x: (x, x * 2.0, 3.0))(C)
    a, b, c = closed(C)
    np.testing.assert_array_equal(np.asarray(a), C)
    np.testing.assert_array_equal(np.asarray(b), 2 * C)
    assert float(c) == 3.0
    assert closed.out_avals == [f32(3), f32(3), f32(weak=True)]


# ---------------------------------------------------------------------------------------
# Pretty printer

def _declared_names(text: str) -> list[str]:
    return re.findall(r"\b([a-z]+\d*):(?:f32|i32|bool)\[", text)


def test_print_simple_program_exactly_as_jax():
    # Same layout as a jaxpr: `lambda ;`, one equation a line when it does not fit in 80
    # columns, single outputs as a 1-tuple.
    f = lambda np_: lambda x: np_.sin(x) * 2.0 + 1  # noqa: E731
    closed = fl.make_ir(f(fnp))(X)
    assert str(closed) == (
        "{ lambda ; a:f32[5,3]. let\n"
        "    b:f32[5,3] = sin a\n"
        "    c:f32[5,3] = mul b 2.0:f32[]\n"
        "    d:f32[5,3] = add c 1.0:f32[]\n"
        "  in (d,) }")
    assert str(closed) == str(jax.make_jaxpr(f(jnp))(X))
    assert str(closed) == str(closed.program) == repr(closed) == pretty_print(closed.program)


# The last one needs three lines, as in JAX.
@pytest.mark.parametrize("f", [lambda np_: lambda x: np_.sin(x),
                               lambda np_: lambda x: x,
                               lambda np_: lambda x: (x, x * 2.0, 3.0),
                               lambda np_: lambda x: np_.cos(np_.sin(x)) - x])
def test_print_short_programs_like_jax(f):
    ours, theirs = str(fl.make_ir(f(fnp))(C)), str(jax.make_jaxpr(f(jnp))(C))
    assert ours == theirs


def test_print_width_argument_breaks_long_lines():
    closed = fl.make_ir(lambda x: fnp.sin(x))(C)
    assert pretty_print(closed.program, width=20) == (
        "{ lambda ; a:f32[3]. let\n"
        "    b:f32[3] = sin a\n"
        "  in (b,) }")


def test_print_constvars_before_semicolon():
    closed = fl.make_ir(lambda x: x + C)(C)
    assert str(closed) == "{ lambda a:f32[3]; b:f32[3]. let c:f32[3] = add b a in (c,) }"


def test_print_multiple_outputs_and_literal_output():
    text = str(fl.make_ir(lambda x: (x, x * 2.0, 3.0))(C))
    assert text.endswith(" in (a, b, 3.0:f32[]) }")


def test_print_literals_with_types():
    a = Var(i32(3))
    b, c = Var(i32(3)), Var(ShapedArray((3,), np.bool_))
    prog = Program([], [a], [Eqn(add_p, [a, Literal(7, i32())], [b], {}),
                             Eqn(Primitive.registry["eq"], [b, Literal(np.int32(1), i32())],
                                 [c], {})], [c, Literal(True, ShapedArray((), np.bool_))])
    text = str(prog)
    assert "b:i32[3] = add a 7:i32[]" in text
    assert "c:bool[3] = eq b 1:i32[]" in text
    assert text.endswith("in (c, True:bool[]) }")


def test_print_literal_values_like_jax():
    # A float32 literal prints as the Python float of its value, as JAX prints it
    # (0.1 -> 0.10000000149011612).
    f = lambda np_: lambda x: (x * 0.1, x + np_.inf, x * 2.5)  # noqa: E731
    ours = str(fl.make_ir(f(fnp))(C))
    theirs = str(jax.make_jaxpr(f(jnp))(C))
    for lit in ("0.10000000149011612:f32[]", "inf:f32[]", "2.5:f32[]"):
        assert lit in ours and lit in theirs, lit
    text = str(fl.make_ir(lambda x: x * 2.5)(np.ones(2, jnp.bfloat16)))
    assert "mul a 2.5:bf16[]" in text


def test_print_params_sorted_and_formatted():
    a, b = Var(f32(3)), Var(f32(3))
    params = {"zeta": (1,), "alpha": ((1, 2), ()), "dt": np.dtype(np.float32),
              "dts": (np.dtype(np.int32), np.dtype(np.bool_)), "name": "f", "flag": True,
              "none": None, "fn": np.sin}
    text = str(Program([], [a], [Eqn(sin_p, [a], [b], params)], [b]))
    # Too long for one line: one param a line, as jaxprs print them (strings unquoted).
    assert text.splitlines()[1:-1] == [
        "    b:f32[3] = sin[", "      alpha=((1,2),())", "      dt=f32", "      dts=(i32,bool)",
        "      flag=True", "      fn=sin", "      name=f", "      none=None", "      zeta=(1,)",
        "    ] a"]
    short = str(Program([], [a], [Eqn(sin_p, [a], [b], {"zeta": (1,), "name": "f"})], [b]))
    assert short == "{ lambda ; a:f32[3]. let b:f32[3] = sin[name=f zeta=(1,)] a in (b,) }"


def test_print_convert_element_type_dtype_param():
    text = str(fl.make_ir(lambda x: x.astype(np.int32))(C))
    assert "b:i32[3] = convert_element_type[new_dtype=i32 weak_type=False] a" in text


def test_print_nested_jit_programs_inline():
    text = str(fl.make_ir(fl.jit(jit_of_jit))(X))
    lines = text.splitlines()
    # The captured constant C becomes a constvar of the outer program and an input of the
    # jitted call; each jit_call prints its program inline in its params, indented.
    assert lines[0] == "{ lambda a:f32[3]; b:f32[5,3]. let"
    assert lines[1:5] == ["    c:f32[5,3] = jit_call[", "      donated=()",
                          "      name=jit_of_jit",
                          "      program={ lambda ; d:f32[3] e:f32[5,3]. let"]
    assert lines[-2:] == ["    ] a b", "  in (c,) }"]
    assert "{ program }" not in text and text.count("jit_call[") == 3
    # Outer program, jit(jit_of_jit)'s body, the lambda's body and inner's body; names
    # are unique across all of them, as in a jaxpr.
    assert [ln.index("{ lambda") for ln in lines if "{ lambda" in ln] == [0, 14, 20, 26]
    assert re.search(r"^ {22}j:f32\[5,3\] = sin i$", text, re.M)
    names = _declared_names(text)
    assert len(names) == len(set(names)) == 14


def _jax_and_ours(f, *args):
    return str(fl.make_ir(f(fnp, lax))(*args)), str(jax.make_jaxpr(f(jnp, jax.lax))(*args))


def test_print_cond_branches_inline_like_jax():
    f = lambda np_, lax_: lambda x: lax_.cond(  # noqa: E731
        x > 0, lambda a: np_.sin(a), lambda a: np_.cos(a) * 2.0, x)
    ours, theirs = _jax_and_ours(f, 1.0)
    # The branches block is printed as JAX prints it (the index computation before it
    # differs: we clamp the index).
    block = lambda s: s[s.index("cond["):s.index("] ") + 1]  # noqa: E731
    assert _same_shape(block(ours), block(theirs))
    assert "branches=(\n" in ours and "{ program }" not in ours


def _same_shape(a: str, b: str) -> bool:
    """Equal up to variable names."""
    norm = lambda s: re.sub(r"\b[a-z]{1,2}\d*(?=[: \n,)]|$)", "v", s)  # noqa: E731
    return norm(a) == norm(b)


@pytest.mark.parametrize("kind", ["cond", "switch", "while", "fori_scan", "scan", "jit",
                                  "checkpoint", "custom_jvp", "custom_vjp"])
def test_print_every_program_param_inline(kind):
    @fl.custom_jvp
    def cj(x):
        return fnp.sin(x)
    cj.defjvp(lambda p, t: (cj(p[0]), t[0] * 2.0))

    @fl.custom_vjp
    def cv(x):
        return fnp.cos(x)
    cv.defvjp(lambda x: (cv(x), x), lambda r, c: (c * r,))

    fns = {
        "cond": lambda x: lax.cond(x > 0, fnp.sin, fnp.cos, x),
        "switch": lambda x: lax.switch(1, [fnp.sin, fnp.cos, fnp.tanh], x),
        "while": lambda x: lax.while_loop(lambda c: c < 10.0, lambda c: c + 1.0, x),
        "fori_scan": lambda x: lax.fori_loop(0, 3, lambda i, c: c * 2.0, x),
        "scan": lambda x: lax.scan(lambda c, t: (c + t, c * t), x, fnp.arange(3.0))[0],
        "jit": lambda x: fl.jit(lambda q: fnp.exp(q))(x),
        "checkpoint": fl.checkpoint(lambda x: fnp.sin(fnp.sin(x))),
        "custom_jvp": cj,
        "custom_vjp": cv,
    }
    closed = fl.make_ir(fns[kind])(1.0)
    text = str(closed)
    assert "{ program }" not in text
    nested = [p for e in closed.eqns for v in e.params.values()
              for p in (v if isinstance(v, tuple) else (v,))
              if isinstance(p, (Program, ClosedProgram))]
    assert nested
    # Every equation of every nested program is printed, with its primitive name.
    for p in nested:
        p = p.program if isinstance(p, ClosedProgram) else p
        for e in p.eqns:
            assert f" = {e.primitive.name}" in text
    assert text.count("{ lambda") == 1 + len(nested)


def test_print_shared_and_large_programs_hoisted_like_jax():
    def make(np_):
        def body(x):
            for _ in range(11):
                x = np_.sin(x)
            return x
        return body
    g, jg = fl.jit(make(fnp)), jax.jit(make(jnp))
    ours = str(fl.make_ir(lambda x: g(x) + g(x * 2.0))(1.0))
    theirs = str(jax.make_jaxpr(lambda x: jg(x) + jg(x * 2.0))(1.0))
    assert ours.splitlines()[:13] == theirs.splitlines()[:13]  # let body = { ... } in
    assert ours.startswith("let body = { lambda ; a:f32[]. let\n")
    assert "    n:f32[] = jit_call[donated=() name=body program=body] m\n" in ours
    assert ours.count("sin") == 11
    # A small program used once stays inline.
    small = str(fl.make_ir(lambda x: fl.jit(fnp.sin)(x))(1.0))
    assert not small.startswith("let")
    assert "program={ lambda ; c:f32[]. let d:f32[] = sin c in (d,) }" in small


def test_variable_names_a_to_z_then_two_letters():
    n = 40
    vs = [Var(f32()) for _ in range(n)]
    eqns = [Eqn(sin_p, [vs[i]], [vs[i + 1]], {}) for i in range(n - 1)]
    prog = Program([], [vs[0]], eqns, [vs[-1]])
    typecheck(prog)
    names = _declared_names(str(prog))
    assert names[:26] == list("abcdefghijklmnopqrstuvwxyz")
    assert names[26] == "aa"
    assert len(names) == n and len(set(names)) == n
    assert all(re.fullmatch(r"[a-z]+\d*", s) for s in names)


def test_variable_names_unique_for_large_programs():
    # More than 26 * 27 = 702 variables (the old name generator crashed there).
    n = 800
    vs = [Var(f32()) for _ in range(n)]
    eqns = [Eqn(cos_p, [vs[i]], [vs[i + 1]], {}) for i in range(n - 1)]
    prog = Program([], [vs[0]], eqns, [vs[-1]])
    typecheck(prog)
    names = _declared_names(str(prog))
    assert len(names) == n and len(set(names)) == n


def test_var_and_literal_repr():
    assert repr(Var(f32(2, 3))) == "Var(f32[2,3])"
    assert repr(Literal(1.5, f32())) == "Literal(1.5)"
    closed = fl.make_ir(lambda x: x + 1.0)(C)
    assert "Eqn(add, 2 in, 1 out)" == repr(closed.eqns[0])


# ---------------------------------------------------------------------------------------
# Type checker: rejects hand-built bad programs, naming the equation.

def test_typecheck_accepts_hand_built_program():
    a, b, c, d = Var(f32(3)), Var(f32(3)), Var(f32()), Var(f32(3))
    e = Var(i32(3))
    prog = Program([a], [b, c], [
        Eqn(mul_p, [b, Literal(2.0, f32(weak=True))], [d], {}),
        Eqn(convert_p, [d], [e], {"new_dtype": np.dtype(np.int32), "weak_type": False}),
    ], [e, d, Literal(1.0, f32(weak=True))])
    typecheck(prog)
    assert str(prog).startswith("{ lambda a:f32[3]; b:f32[3] c:f32[]. let")


def test_typecheck_used_before_definition():
    a, b, c = Var(f32(3)), Var(f32(3)), Var(f32(3))
    prog = Program([], [a], [Eqn(add_p, [a, b], [c], {})], [c])
    with pytest.raises(IRTypeError, match=r"equation 0 \(add\): variable .*f32\[3\].* used "
                                          r"before it is defined"):
        typecheck(prog)
    # Used before its defining equation (defined later).
    d = Var(f32(3))
    prog = Program([], [a], [Eqn(sin_p, [d], [c], {}), Eqn(cos_p, [a], [d], {})], [c])
    with pytest.raises(IRTypeError, match=r"equation 0 \(sin\).*used before"):
        typecheck(prog)
    # An output that no equation defines.
    prog = Program([], [a], [], [b])
    with pytest.raises(IRTypeError, match="outputs: variable .* used before"):
        typecheck(prog)


def test_typecheck_defined_twice():
    a, b = Var(f32(3)), Var(f32(3))
    prog = Program([], [a], [Eqn(sin_p, [a], [b], {}), Eqn(cos_p, [a], [b], {})], [b])
    with pytest.raises(IRTypeError, match=r"equation 1 \(cos\): variable .* defined twice"):
        typecheck(prog)
    # Redefining an input.
    prog = Program([], [a], [Eqn(sin_p, [a], [a], {})], [a])
    with pytest.raises(IRTypeError, match=r"equation 0 \(sin\).*defined twice"):
        typecheck(prog)
    # The same variable as two inputs.
    with pytest.raises(IRTypeError, match="invars: variable .* defined twice"):
        typecheck(Program([], [a, a], [], [a]))
    with pytest.raises(IRTypeError, match="invars: .*defined twice"):
        typecheck(Program([a], [a], [], [a]))


@pytest.mark.parametrize("declared,given", [(f32(4), "f32[3]"), (i32(3), "f32[3]"),
                                            (f32(), "f32[3]")])
def test_typecheck_wrong_output_type(declared, given):
    a, b = Var(f32(3)), Var(declared)
    prog = Program([], [a], [Eqn(sin_p, [a], [b], {})], [b])
    with pytest.raises(IRTypeError, match=rf"equation 0 \(sin\): output declared "
                                          rf"{re.escape(declared.str_short())} but its inputs "
                                          rf"give {re.escape(given)}"):
        typecheck(prog)


def test_typecheck_wrong_output_type_later_equation():
    a, b, c = Var(f32(3)), Var(f32(3)), Var(i32(3))
    prog = Program([], [a], [Eqn(sin_p, [a], [b], {}),
                             Eqn(convert_p, [b], [c],
                                 {"new_dtype": np.dtype(np.float32), "weak_type": False})],
                   [c])
    with pytest.raises(IRTypeError, match=r"equation 1 \(convert_element_type\): output "
                                          r"declared i32\[3\] but its inputs give f32\[3\]"):
        typecheck(prog)


def test_typecheck_wrong_number_of_outputs():
    a, b, c = Var(f32(3)), Var(f32(3)), Var(f32(3))
    prog = Program([], [a], [Eqn(add_p, [a, a], [b, c], {})], [b])
    with pytest.raises(IRTypeError, match=r"equation 0 \(add\): 2 outputs, rule gives 1"):
        typecheck(prog)
    # A multiple-results primitive with too few outputs.
    k, v, ko = Var(f32(3)), Var(i32(3)), Var(f32(3))
    prog = Program([], [k, v], [Eqn(sort_p, [k, v], [ko],
                                    {"dimension": 0, "is_stable": True, "num_keys": 1})],
                   [ko])
    with pytest.raises(IRTypeError, match=r"equation 0 \(sort\): 1 outputs, rule gives 2"):
        typecheck(prog)


def test_typecheck_literal_of_wrong_shape():
    a, b = Var(f32(3)), Var(f32(3))
    bad = Literal(np.ones(3, np.float32), f32())
    prog = Program([], [a], [Eqn(add_p, [a, bad], [b], {})], [b])
    with pytest.raises(IRTypeError, match=r"equation 0 \(add\): literal .* does not have type"):
        typecheck(prog)
    with pytest.raises(IRTypeError, match="outputs: literal"):
        typecheck(Program([], [a], [], [Literal(np.zeros((2,)), f32())]))


def test_typecheck_rejects_non_var_output():
    a = Var(f32(3))
    prog = Program([], [a], [Eqn(sin_p, [a], [Literal(1.0, f32(3))], {})], [a])
    with pytest.raises(IRTypeError, match=r"equation 0 \(sin\): expected a Var"):
        typecheck(prog)


def test_typecheck_checks_nested_programs():
    closed = fl.make_ir(fl.jit(lambda x: fnp.sin(x) + 1.0))(C)
    typecheck(closed.program)
    inner = closed.eqns[0].params["program"]
    assert isinstance(inner, Program)
    # Corrupt the inner program: redefine its input.
    x = inner.invars[0]
    bad_inner = Program([], [x], [Eqn(sin_p, [x], [x], {})], [x])
    outer_in, outer_out = Var(f32(3)), Var(f32(3))
    prog = Program([], [outer_in], [Eqn(closed.eqns[0].primitive, [outer_in], [outer_out],
                                        {"program": bad_inner, "name": "g", "donated": ()})],
                   [outer_out])
    with pytest.raises(IRTypeError, match=r"equation 0 \(sin\).*defined twice"):
        typecheck(prog)


def test_typecheck_mismatched_input_shapes_is_ir_type_error():
    a, b, c = Var(f32(3)), Var(f32(4)), Var(f32(3))
    prog = Program([], [a, b], [Eqn(add_p, [a, b], [c], {})], [c])
    with pytest.raises(IRTypeError, match=r"equation 0 \(add\)"):
        typecheck(prog)


def test_typecheck_mismatched_input_shapes_rejected():
    a, b, c = Var(f32(3)), Var(f32(4)), Var(f32(3))
    prog = Program([], [a, b], [Eqn(add_p, [a, b], [c], {})], [c])
    with pytest.raises(TypeError, match="add"):
        typecheck(prog)


# ---------------------------------------------------------------------------------------
# make_ir compared structurally with jax.make_jaxpr

def _jax_structure(jaxpr):
    eqns = [(e.primitive.name, [v.aval for v in e.outvars]) for e in jaxpr.eqns]
    lits = [(e.primitive.name, i, v.val, v.aval.weak_type) for e in jaxpr.eqns
            for i, v in enumerate(e.invars) if type(v).__name__ == "Literal"]
    return eqns, lits


def _fl_structure(closed):
    eqns = [(e.primitive.name, [v.aval for v in e.outputs]) for e in closed.eqns]
    lits = [(e.primitive.name, i, a.val, a.aval.weak_type) for e in closed.eqns
            for i, a in enumerate(e.inputs) if isinstance(a, Literal)]
    return eqns, lits


def _same_aval(a, b, check_weak=True):
    return (tuple(a.shape) == tuple(b.shape) and np.dtype(a.dtype) == np.dtype(b.dtype)
            and (not check_weak or bool(a.weak_type) == bool(b.weak_type)))


JAXPR_CASES = {
    # name: (function of a numpy module, args, whether per-equation output avals coincide)
    "sin_mul_add": (lambda np_: lambda x: np_.sin(x) * 2.0 + 1.0, (X,), True),
    "exp_sum": (lambda np_: lambda x: np_.exp(x).sum(), (X,), True),
    "sum_axis": (lambda np_: lambda x: np_.sum(x * x, axis=0), (X,), True),
    "dot_sum": (lambda np_: lambda x, w: np_.dot(x, w).sum(), (X, W1), True),
    # JAX broadcasts the bias to [1,4] and lets add broadcast; we go straight to [5,4].
    "dense_tanh": (lambda np_: lambda x, w, b: np_.tanh(x @ w + b), (X, W1, B1), False),
    "relu": (lambda np_: lambda x: np_.maximum(x, 0.0), (X,), True),
    "sub_div": (lambda np_: lambda x: (x - 1) / 2, (X,), True),
    "transpose_reshape": (lambda np_: lambda x: np_.transpose(x).reshape(15), (X,), True),
    "astype": (lambda np_: lambda x: x.astype(np_.int32), (X,), True),
    "log_square": (lambda np_: lambda x: np_.log(x) ** 2, (X,), True),
    "weak_scalar_input": (lambda np_: lambda x, y: x * y + 1, (2.0, C), True),
    "weak_only": (lambda np_: lambda x: x * 3, (2.0,), True),
    "compare": (lambda np_: lambda x: x > 0.5, (X,), True),
}


@pytest.mark.parametrize("name", list(JAXPR_CASES))
def test_make_ir_matches_make_jaxpr(name):
    mk, args, same_eqn_avals = JAXPR_CASES[name]
    jp = jax.make_jaxpr(mk(jnp))(*args)
    ours = fl.make_ir(mk(fnp))(*args)
    typecheck(ours.program)
    # Program signature, weak types included.
    assert len(ours.in_avals) == len(jp.in_avals)
    for a, b in zip(ours.in_avals, jp.in_avals):
        assert _same_aval(a, b), (a, b)
    assert len(ours.out_avals) == len(jp.out_avals)
    for a, b in zip(ours.out_avals, jp.out_avals):
        assert _same_aval(a, b), (a, b)
    j_eqns, j_lits = _jax_structure(jp.jaxpr)
    o_eqns, o_lits = _fl_structure(ours)
    assert [n for n, _ in o_eqns] == [n for n, _ in j_eqns]
    assert len(ours.eqns) == len(jp.jaxpr.eqns)
    if same_eqn_avals:
        for (n, oa), (_, ja) in zip(o_eqns, j_eqns):
            assert len(oa) == len(ja)
            for a, b in zip(oa, ja):
                assert _same_aval(a, b), (n, a, b)
    # Literals: same positions, values and weak types (Python scalars stay weak).
    assert [(n, i, w) for n, i, _, w in o_lits] == [(n, i, w) for n, i, _, w in j_lits]
    for (_, _, ov, _), (_, _, jv, _) in zip(o_lits, j_lits):
        assert np.asarray(ov).item() == np.asarray(jv).item()


def test_weak_type_literal_printed_like_jax():
    mk = JAXPR_CASES["sin_mul_add"][0]
    ours = str(fl.make_ir(mk(fnp))(X))
    theirs = str(jax.make_jaxpr(mk(jnp))(X))
    for lit in ("2.0:f32[]", "1.0:f32[]"):
        assert lit in ours and lit in theirs
    ours_lit = fl.make_ir(mk(fnp))(X).eqns[1].inputs[1]
    jax_lit = jax.make_jaxpr(mk(jnp))(X).jaxpr.eqns[1].invars[1]
    assert isinstance(ours_lit, Literal)
    # A Python scalar combined with an f32 array is written as a literal of the array's
    # dtype; JAX (0.10) types it f32[] strong there, and so do we.
    assert ours_lit.aval.shape == () and ours_lit.aval.dtype == np.float32
    assert ours_lit.aval.weak_type == jax_lit.aval.weak_type


def test_grad_program_primitive_multiset_close_to_jax():
    # Programs for grad differ in detail; the core math primitives must appear in both
    # (the unused primal output is dead code in ours, so no integer_pow).
    f_fl = fl.make_ir(fl.grad(sq_sin_sum))(X)
    f_jx = jax.make_jaxpr(jax.grad(lambda x: jnp.sum(jnp.sin(x) ** 2)))(X)
    ours = {e.primitive.name for e in f_fl.eqns}
    theirs = {e.primitive.name for e in f_jx.jaxpr.eqns}
    assert {"sin", "cos", "mul"} <= ours & theirs
    assert _same_aval(f_fl.out_avals[0], f_jx.out_avals[0])
