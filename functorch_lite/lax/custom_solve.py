"""``custom_linear_solve`` and ``custom_root``: solves whose derivatives come from the
equation they solve (implicit differentiation), never from the solver's iterations.

``custom_linear_solve(matvec, b, solve)`` is the primitive ``custom_linear_solve``. It
carries four programs, each taking its closed-over values (constants) as leading inputs
and one vector shaped like ``b``: ``matvec`` (A), ``vecmat`` (A^T, or A when symmetric),
``solve`` (A^-1) and ``transpose_solve`` (A^-T). Its output is linear in ``b``, so:

- jvp: from ``A x = b``, ``A dx = db - dA x``: one more solve of the same system, where
  ``dA x`` is the jvp of ``matvec`` in its constants at the solution;
- transposition: the cotangent of ``b`` is ``A^-T`` applied to the cotangent of ``x``,
  the same primitive with the roles swapped (matvec <-> vecmat, solve <-> transpose_solve);
- vmap: every program is vectorized, with the vectors always batched;
- eager and lowering: only ``solve`` runs (``xla_bridge/lowering/custom_solve.py``).

Closed-over tracers (a matrix being differentiated, captured by ``matvec``) become the
programs' constants, i.e. operands of the primitive, so every transformation sees them.

``custom_root(f, guess, solve, tangent_solve)`` is a ``custom_jvp`` whose rule applies the
implicit function theorem: at a root ``x*`` of ``f(c, x)``, ``dx* = -(df/dx)^-1 (df/dc)
dc``, the inverse being ``tangent_solve`` of ``f`` linearized at ``x*``.
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

from functorch_lite.core import pytree
from functorch_lite.core.avals import get_aval
from functorch_lite.core.ir import Program, eval_program
from functorch_lite.core.primitive import Primitive
from functorch_lite.interpreters import ad, batching, partial_eval, transpose
from functorch_lite.interpreters.staging import trace_flat
from functorch_lite.lax._common import as_operand
from functorch_lite.lax.control_flow._common import operand_leaf
from functorch_lite.lax.custom_derivatives import custom_jvp
from functorch_lite.lax.custom_derivatives._common import SymbolicZero
from functorch_lite.lax.elementwise import convert_element_type, neg, sub

__all__ = ["custom_linear_solve", "custom_root", "linear_solve_p"]


class SolvePrograms(NamedTuple):
    """One entry per operator of a linear solve (programs, or their constant counts).
    ``vecmat`` and ``transpose_solve`` are None when no ``transpose_solve`` was given."""
    matvec: Any
    vecmat: Any
    solve: Any
    transpose_solve: Any

    def transpose(self) -> "SolvePrograms":
        """The operators of the transposed system ``A^T y = c``."""
        return SolvePrograms(self.vecmat, self.matvec, self.transpose_solve, self.solve)


linear_solve_p = Primitive("custom_linear_solve", multiple_results=True)


def _split(args, const_lengths: SolvePrograms) -> tuple[SolvePrograms, list]:
    """Operands -> (constants per operator, the right-hand side leaves)."""
    groups, start = [], 0
    for n in const_lengths:
        groups.append(list(args[start:start + n]))
        start += n
    return SolvePrograms(*groups), list(args[start:])


def _flat(groups: SolvePrograms) -> list:
    return [x for g in groups for x in g]


@linear_solve_p.def_shape
def _linear_solve_shape(*avals, programs: SolvePrograms, const_lengths: SolvePrograms):
    consts, b = _split(avals, const_lengths)
    want = programs.solve.in_avals[const_lengths.solve:]
    if len(b) != len(want) or any(a.shape != w.shape or a.dtype != w.dtype
                                  for a, w in zip(b, want)):
        raise TypeError(f"custom_linear_solve: right-hand side {[a.str_short() for a in b]} "
                        f"does not match the solve's {[a.str_short() for a in want]}")
    return programs.solve.out_avals


@linear_solve_p.def_impl
def _linear_solve_impl(*args, programs, const_lengths):
    consts, b = _split(args, const_lengths)
    outs = eval_program(programs.solve, [], [*consts.solve, *b])
    # Op-by-op evaluation can lose a weak type the traced program has (a Python-scalar
    # b): give the results the types the shape rule promised, as jit's would be.
    return [o if get_aval(o).weak_type == a.weak_type
            else convert_element_type(o, a.dtype, weak_type=a.weak_type)
            for o, a in zip(outs, programs.solve.out_avals)]


def _linear_solve_jvp(primals, tangents, *, programs, const_lengths):
    params = dict(programs=programs, const_lengths=const_lengths)
    outs = linear_solve_p.bind(*primals, **params)
    consts, b = _split(primals, const_lengths)
    const_dots, b_dots = _split(tangents, const_lengths)
    x = outs[:len(b)]
    # A x = b  =>  A dx = db - dA x. Only matvec's constants define A: tangents of the
    # solvers' own constants (a preconditioner, a tolerance) do not move the solution.
    rhs = list(b_dots)
    if any(type(t) is not ad.Zero for t in const_dots.matvec):
        _, dax = ad.jvp_flat(lambda *c: eval_program(programs.matvec, [], [*c, *x]),
                             consts.matvec, const_dots.matvec)
        rhs = [d if type(a) is ad.Zero else neg(a) if type(d) is ad.Zero else sub(d, a)
               for d, a in zip(rhs, dax)]
    aux_zeros = [ad.Zero(ad.tangent_aval(get_aval(o))) for o in outs[len(b):]]
    if all(type(r) is ad.Zero for r in rhs):
        return outs, [ad.Zero(ad.tangent_aval(get_aval(o))) for o in x] + aux_zeros
    rhs = [ad.instantiate(r) for r in rhs]
    dx = linear_solve_p.bind(*_flat(consts), *rhs, **params)[:len(b)]
    return outs, list(dx) + aux_zeros


linear_solve_p.def_jvp(_linear_solve_jvp)


def _linear_solve_transpose(cts, *args, programs, const_lengths):
    if programs.transpose_solve is None:
        raise TypeError("transpose_solve required for backwards mode automatic "
                        "differentiation of custom_linear_solve; pass transpose_solve, or "
                        "symmetric=True when the operator is symmetric")
    consts, b = _split(args, const_lengths)
    if any(transpose.is_undefined(c) for c in _flat(consts)):
        raise NotImplementedError("custom_linear_solve: transposition with respect to the "
                                  "operator's constants is not supported; the solve is "
                                  "linear only in b")
    x_cts = cts[:len(b)]
    nones = [None] * sum(const_lengths)
    if all(type(c) is ad.Zero for c in x_cts):
        return nones + [ad.Zero(a.aval) if transpose.is_undefined(a) else None for a in b]
    # x = A^-1 b  =>  b_bar = A^-T x_bar: the same primitive on the transposed operators.
    t_consts = consts.transpose()
    outs = linear_solve_p.bind(*_flat(t_consts), *[ad.instantiate(c) for c in x_cts],
                               programs=programs.transpose(),
                               const_lengths=const_lengths.transpose())
    return nones + [o if transpose.is_undefined(a) else None for o, a in zip(outs, b)]


linear_solve_p.def_transpose(_linear_solve_transpose)


def _linear_solve_batch(axis, args, dims, *, programs, const_lengths):
    consts, b = _split(args, const_lengths)
    const_dims, b_dims = _split(dims, const_lengths)
    # The vectors are always batched (at 0): a batched operator with an unbatched b gives
    # a batched x anyway, and every program then maps batched vectors to batched vectors,
    # so the four stay consistent when transposition swaps them.
    b = [batching.move_dim(v, d, 0, axis.size) for v, d in zip(b, b_dims)]
    vec_dims = (0,) * len(b)
    new_programs, new_consts = [], []
    for prog, cs, ds in zip(programs, consts, const_dims):
        if prog is None:
            new_programs.append(None)
            new_consts.append([])
            continue
        bprog, bconsts, _ = batching.batch_program(prog, (*ds, *vec_dims), axis.size,
                                                   axis.name, all_batched=True)
        new_programs.append(bprog)
        new_consts.append([*bconsts, *cs])
    new_consts = SolvePrograms(*new_consts)
    outs = linear_solve_p.bind(*_flat(new_consts), *b, programs=SolvePrograms(*new_programs),
                               const_lengths=SolvePrograms(*map(len, new_consts)))
    return outs, [0] * len(outs)


linear_solve_p.def_batch(_linear_solve_batch)


# ---------------------------------------------------------------------------------------
# Tracing the user's functions

def _check_shapes(fun_name: str, ref_name: str, got, avals) -> None:
    if [a.shape for a in got] != [a.shape for a in avals]:
        raise ValueError(f"{fun_name}() output shapes must match {ref_name}, got "
                         f"{[a.shape for a in got]} and {[a.shape for a in avals]}")


def _check_vector(fun_name: str, ref_name: str, out: Any, tree, avals, has_aux: bool,
                  shapes_first: bool):
    """``out``'s vector part (and aux) as flat leaves, after checking it has the structure
    and leaf shapes of ``ref_name``; the aux tree (None without aux)."""
    aux_tree, aux_leaves = None, []
    if has_aux:
        if not (isinstance(out, (tuple, list)) and len(out) == 2):
            raise ValueError(f"{fun_name}() produced a pytree with structure "
                             f"{pytree.tree_structure(out)}, but a pair (solution, aux) was "
                             "expected because has_aux=True")
        out, aux = out
        aux_leaves, aux_tree = pytree.tree_flatten(aux)
    leaves, out_tree = pytree.tree_flatten(out)
    leaves = [as_operand(v) for v in leaves]
    got = [get_aval(v) for v in leaves]
    # JAX's order: custom_linear_solve checks the leaves' shapes first (ValueError),
    # custom_root only the structure (TypeError); a shape mismatch is an error for both.
    if shapes_first:
        _check_shapes(fun_name, ref_name, got, avals)
    if out_tree != tree:
        raise TypeError(f"{fun_name}() output pytree structure must match {ref_name}, got "
                        f"{out_tree} and {tree}")
    _check_shapes(fun_name, ref_name, got, avals)
    if [a.dtype for a in got] != [a.dtype for a in avals]:
        raise TypeError(f"{fun_name}() output dtypes must match {ref_name}, got "
                        f"{[a.dtype.name for a in got]} and "
                        f"{[a.dtype.name for a in avals]}; cast the result with .astype")
    return leaves + [as_operand(v) for v in aux_leaves], aux_tree


def _trace_vector_fun(fun_name: str, ref_name: str, fun: Callable, tree, avals,
                      has_aux: bool = False, n_vectors: int = 1,
                      shapes_first: bool = False):
    """Trace ``fun`` of ``n_vectors`` pytrees shaped like ``tree``/``avals`` returning one
    such pytree (plus aux): ``(program, consts, aux_tree)``, the program taking its
    constants (what ``fun`` closes over) as leading inputs."""
    box = []
    n = len(avals)

    def flat(*leaves):
        vecs = [pytree.tree_unflatten(tree, leaves[i * n:(i + 1) * n])
                for i in range(n_vectors)]
        outs, aux_tree = _check_vector(fun_name, ref_name, fun(*vecs), tree, avals, has_aux,
                                       shapes_first)
        box.append(aux_tree)
        return outs

    program, consts = trace_flat(flat, list(avals) * n_vectors, f"custom_solve {fun_name}")
    return program, consts, box[0]


def _as_function(program: Program, consts: list, tree) -> Callable:
    """A traced vector function back as a Python function of a pytree."""
    def fun(v):
        leaves, v_tree = pytree.tree_flatten(v)
        if v_tree != tree:
            raise TypeError(f"expected a vector with structure {tree}, got {v_tree}")
        return pytree.tree_unflatten(tree, eval_program(program, [], [*consts, *leaves]))
    return fun


def _check_callable(api: str, **funs) -> None:
    for name, f in funs.items():
        if not callable(f):
            raise TypeError(f"{api}: {name} must be a callable, got {type(f).__name__}")


def custom_linear_solve(matvec: Callable, b: Any, solve: Callable[[Callable, Any], Any],
                        transpose_solve: Callable[[Callable, Any], Any] | None = None,
                        symmetric: bool = False, has_aux: bool = False) -> Any:
    """``solve(matvec, b)``: the solution ``x`` of ``matvec(x) == b``, differentiated as
    the solution of that equation rather than through ``solve``'s steps.

    ``b`` is a pytree of arrays; ``matvec`` maps such a pytree to one of the same
    structure and shapes (a square operator) and must be linear and differentiable;
    ``solve(matvec, b)`` and ``transpose_solve(vecmat, b)`` return such a pytree (and an
    aux pytree, as a pair, with ``has_aux=True``) and need not be differentiable (a
    ``while_loop`` is fine). Forward mode needs only ``solve``; reverse mode needs
    ``transpose_solve`` (called with the transposed operator ``vecmat``), or
    ``symmetric=True`` to reuse ``solve``. Derivatives flow to ``b`` and to whatever
    ``matvec`` closes over; the aux outputs have zero derivatives.

    >>> custom_linear_solve(lambda x: 2.0 * x, fnp.ones(3), lambda mv, b: b / 2.0)
    Array([0.5, 0.5, 0.5], dtype=float32)
    """
    _check_callable("custom_linear_solve", matvec=matvec, solve=solve)
    if transpose_solve is not None:
        _check_callable("custom_linear_solve", transpose_solve=transpose_solve)
    elif symmetric:
        transpose_solve = solve
    leaves, tree = pytree.tree_flatten(b)
    leaves = [operand_leaf(v) for v in leaves]
    avals = [get_aval(v) for v in leaves]

    mv_prog, mv_consts, _ = _trace_vector_fun("matvec", "b", matvec, tree, avals,
                                              shapes_first=True)
    solve_prog, solve_consts, aux_tree = _trace_vector_fun(
        "solve", "b", lambda v: solve(matvec, v), tree, avals, has_aux,
        shapes_first=True)
    if transpose_solve is None:
        vm_prog = ts_prog = None
        vm_consts, ts_consts = [], []
    else:
        if symmetric:
            vm_prog, vm_consts = mv_prog, mv_consts
        else:
            vm_prog, vm_consts = _transpose_matvec(mv_prog, mv_consts, tree, avals)
        vecmat = _as_function(vm_prog, vm_consts, tree)
        ts_prog, ts_consts, _ = _trace_vector_fun(
            "transpose_solve", "b", lambda v: transpose_solve(vecmat, v), tree, avals,
            has_aux, shapes_first=True)
    consts = SolvePrograms(mv_consts, vm_consts, solve_consts, ts_consts)
    outs = linear_solve_p.bind(*_flat(consts), *leaves,
                               programs=SolvePrograms(mv_prog, vm_prog, solve_prog, ts_prog),
                               const_lengths=SolvePrograms(*map(len, consts)))
    x = pytree.tree_unflatten(tree, outs[:len(leaves)])
    if has_aux:
        return x, pytree.tree_unflatten(aux_tree, outs[len(leaves):])
    return x


def _transpose_matvec(mv_prog: Program, mv_consts: list, tree, avals):
    """``vecmat``, A^T as a traced program, by transposing ``matvec``'s program (it is
    linear in the vector, so its transpose exists whatever its constants are)."""
    n_c = len(mv_consts)

    def vecmat(y):
        args = [*mv_consts, *[transpose.UndefinedPrimal(a) for a in avals]]
        cts = transpose.backward_pass(mv_prog, [], args, pytree.tree_leaves(y))
        return pytree.tree_unflatten(tree, [ad.instantiate(c) for c in cts[n_c:]])

    prog, consts, _ = _trace_vector_fun("vecmat", "b", vecmat, tree, avals)
    return prog, consts


# ---------------------------------------------------------------------------------------
# custom_root

class _RootSpec(NamedTuple):
    """What a ``custom_root`` call carries: its three programs and their constant counts,
    plus the number of solution leaves (the rest of ``solve``'s outputs are aux)."""
    f: Program
    solve: Program
    linearize_and_solve: Program
    const_lengths: tuple
    n_solution: int


def _split_root(args, spec: _RootSpec):
    groups, start = [], 0
    for n in spec.const_lengths:
        groups.append(list(args[start:start + n]))
        start += n
    return groups, list(args[start:])


def _root_call(spec: _RootSpec, *args):
    (_, solve_consts, _), guess = _split_root(args, spec)
    return eval_program(spec.solve, [], [*solve_consts, *guess])


def _root_jvp(spec: _RootSpec, primals, tangents):
    outs = _root(spec, *primals)
    (f_consts, _, ls_consts), _ = _split_root(primals, spec)
    f_dots = _split_root(tangents, spec)[0][0]
    x, aux = outs[:spec.n_solution], outs[spec.n_solution:]
    aux_dots = [SymbolicZero.from_primal_value(a) for a in aux]
    f_dots = [ad.Zero(t.aval) if type(t) is SymbolicZero else t for t in f_dots]
    if all(type(t) is ad.Zero for t in f_dots):
        # Only f's constants define the root: the guess and the solvers' own constants
        # do not move it.
        return outs, [SymbolicZero.from_primal_value(v) for v in x] + aux_dots
    # f(c, x*(c)) = 0  =>  (df/dx) dx* = -(df/dc) dc.
    _, rhs = ad.jvp_flat(lambda *c: eval_program(spec.f, [], [*c, *x]), f_consts, f_dots)
    rhs = [ad.instantiate(r) for r in rhs]
    dx = eval_program(spec.linearize_and_solve, [], [*ls_consts, *x, *rhs])
    return outs, [neg(d) for d in dx] + aux_dots


_root = custom_jvp(_root_call, nondiff_argnums=(0,))
_root.defjvp(_root_jvp, symbolic_zeros=True)


def custom_root(f: Callable, initial_guess: Any, solve: Callable[[Callable, Any], Any],
                tangent_solve: Callable[[Callable, Any], Any], has_aux: bool = False) -> Any:
    """``solve(f, initial_guess)``: a root of ``f``, differentiated by the implicit
    function theorem rather than through ``solve``'s steps.

    ``initial_guess`` is a pytree of arrays and ``f`` maps such a pytree to one of the
    same structure; ``solve(f, guess)`` returns a root (and an aux pytree, as a pair, with
    ``has_aux=True``) and need not be differentiable. Derivatives flow to whatever ``f``
    closes over: ``dx = -J^-1 (df/dc) dc`` with ``J`` the Jacobian of ``f`` at the root,
    applied as ``tangent_solve(g, y)``, which must return ``z`` with ``g(z) == y`` for
    the linear map ``g`` (``f`` linearized at the root): ``lambda g, y: y / g(1.0)`` for a
    scalar root. The guess and the aux outputs get zero derivatives.

    >>> newton = lambda f, x: lax.fori_loop(0, 9, lambda _, x: x - f(x) / (2 * x), x)
    >>> custom_root(lambda x: x ** 2 - 2.0, 1.0, newton, lambda g, y: y / g(1.0))
    Array(1.4142135, dtype=float32, weak_type=True)
    """
    _check_callable("custom_root", f=f, solve=solve, tangent_solve=tangent_solve)
    leaves, tree = pytree.tree_flatten(initial_guess)
    leaves = [operand_leaf(v) for v in leaves]
    avals = [get_aval(v) for v in leaves]

    f_prog, f_consts, _ = _trace_vector_fun("f", "initial_guess", f, tree, avals)
    solve_prog, solve_consts, aux_tree = _trace_vector_fun(
        "solve", "initial_guess", lambda v: solve(f, v), tree, avals, has_aux)
    f_fun = _as_function(f_prog, f_consts, tree)

    def linearize_and_solve(x, y):
        _, linear = partial_eval.linearize_flat(
            lambda *v: pytree.tree_leaves(f_fun(pytree.tree_unflatten(tree, v))),
            pytree.tree_leaves(x))

        def f_lin(t):
            t_leaves, t_tree = pytree.tree_flatten(t)
            if t_tree != tree:
                raise TypeError(f"custom_root: the linearized f takes a pytree with "
                                f"structure {tree}, got {t_tree}")
            return pytree.tree_unflatten(tree, linear(*[as_operand(v) for v in t_leaves]))
        return tangent_solve(f_lin, y)

    ls_prog, ls_consts, _ = _trace_vector_fun("tangent_solve", "x", linearize_and_solve,
                                              tree, avals, n_vectors=2)
    spec = _RootSpec(f_prog, solve_prog, ls_prog,
                     (len(f_consts), len(solve_consts), len(ls_consts)), len(leaves))
    outs = _root(spec, *f_consts, *solve_consts, *ls_consts, *leaves)
    x = pytree.tree_unflatten(tree, outs[:len(leaves)])
    if has_aux:
        return x, pytree.tree_unflatten(aux_tree, outs[len(leaves):])
    return x
