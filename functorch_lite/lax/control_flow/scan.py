"""``scan``: a loop over the leading axis of its inputs, as one primitive holding the
body program.

jvp iterates the body's jvp to a fixed point of which carry tangents are nonzero. Partial
evaluation stores as extra per-iteration outputs only the residuals that vary per
iteration: constants and ``xs`` are passed on as they are, loop-invariant values are
computed once. Transposition runs the transposed body backwards.

Under ``disable_jit()`` the loop is always a Python ``for`` over concrete slices whose ``y``
values are stacked afterwards, as JAX runs it (also under ``vmap`` and ``grad``, whose
tracers then flow through the unrolled steps).
"""
from __future__ import annotations

import functools
from typing import Any, Callable

from functorch_lite.core import pytree
from functorch_lite.core.avals import Array, ShapedArray, get_aval
from functorch_lite.core.ir import Program, Var, eval_program
from functorch_lite.core.primitive import Primitive
from functorch_lite.interpreters import ad, batching, partial_eval, transpose
from functorch_lite.interpreters.staging import trace_flat
from functorch_lite.lax._common import as_operand
from functorch_lite.lax.control_flow._common import (PythonCarry, carry_fixed_point,
                                                     check_carry, check_carry_tree,
                                                     operand_leaf, python_control_flow,
                                                     strengthen_weak_carry, to_array)
from functorch_lite.lax.shapes import broadcast_in_dim, concatenate, full, index_in_dim

scan_p = Primitive("scan", multiple_results=True)


@scan_p.def_shape
def _scan_shape(*args, program, num_consts, num_carry, length, reverse, unroll):
    carry = args[num_consts:num_consts + num_carry]
    xs = args[num_consts + num_carry:]
    for x in xs:
        if not x.shape or x.shape[0] != length:
            raise TypeError(f"scan: every xs leaf needs leading dimension {length}, got "
                            f"{x.str_short()}")
    outs = program.out_avals
    for a, b in zip(carry, outs[:num_carry]):
        if not a.same_type(b):
            raise TypeError(f"scan: the body changes a carry from {a.str_short()} to "
                            f"{b.str_short()}")
    ys = [ShapedArray((length, *y.shape), y.dtype, y.weak_type) for y in outs[num_carry:]]
    return [*carry, *ys]


def scan(f: Callable, init: Any, xs: Any = None, length: int | None = None,
         reverse: bool = False, unroll: int | bool = 1):
    """Loop ``carry, y = f(carry, x)`` over the leading axis of ``xs`` and return
    ``(final carry, stacked ys)``, as one primitive (the body is traced once). Under
    ``disable_jit()`` the body runs as Python once per step, on concrete slices.

    >>> scan(lambda c, x: (c + x, c), 0.0, fnp.arange(4.0))
    (Array(6., dtype=float32), Array([0., 0., 1., 3.], dtype=float32))
    """
    if not callable(f):
        raise TypeError(f"scan: f must be callable, got {type(f).__name__}")
    init_leaves, carry_tree = pytree.tree_flatten(init)
    init_leaves = [operand_leaf(x) for x in init_leaves]
    xs_leaves, xs_tree = pytree.tree_flatten(xs)
    xs_leaves = [as_operand(x) for x in xs_leaves]
    lengths = {get_aval(x).shape[0] if get_aval(x).shape else None for x in xs_leaves}
    if None in lengths:
        raise ValueError("scan: xs leaves must have a leading axis to scan over (rank >= 1)")
    if length is not None:
        lengths.add(int(length))
    if len(lengths) > 1:
        raise ValueError(f"scan: inconsistent lengths: xs leading dims and length= give "
                         f"{sorted(lengths)}")
    if not lengths:
        raise ValueError("scan: pass xs or length= to say how many iterations to run")
    n = lengths.pop()
    if python_control_flow():
        return _python_scan(f, init_leaves, carry_tree, xs_leaves, xs_tree, n, reverse)
    carry_avals = [get_aval(x) for x in init_leaves]
    x_avals = [get_aval(x).update(shape=get_aval(x).shape[1:]) for x in xs_leaves]
    in_tree = pytree.treedef_tuple([carry_tree, xs_tree])
    box = []

    def flat(*vals):
        carry, x = pytree.tree_unflatten(in_tree, vals)
        c, y = _body_pair(f(carry, x))
        c_leaves, c_tree = pytree.tree_flatten(c)
        y_leaves, y_tree = pytree.tree_flatten(y)
        box.append((c_tree, y_tree, [get_aval(as_operand(v)) for v in c_leaves]))
        return [as_operand(v) for v in [*c_leaves, *y_leaves]]

    program, consts = trace_flat(flat, carry_avals + x_avals, "scan body")
    c_tree, y_tree, c_out_avals = box[0]
    check_carry_tree("scan", carry_tree, c_tree)
    if strengthen_weak_carry(init_leaves, carry_avals, c_out_avals):
        # A weakly typed start that the body retypes: start with that type, trace again.
        carry_avals = [get_aval(x) for x in init_leaves]
        box.clear()
        program, consts = trace_flat(flat, carry_avals + x_avals, "scan body")
        c_tree, y_tree, c_out_avals = box[0]
    check_carry("scan", carry_tree, carry_avals, c_tree, c_out_avals)
    outs = scan_p.bind(*consts, *init_leaves, *xs_leaves, program=program,
                       num_consts=len(consts), num_carry=len(init_leaves), length=n,
                       reverse=bool(reverse), unroll=int(unroll) if unroll is not True else n)
    k = len(init_leaves)
    return pytree.tree_unflatten(carry_tree, outs[:k]), pytree.tree_unflatten(y_tree, outs[k:])


def _body_pair(out: Any) -> tuple:
    if not (isinstance(out, tuple) and len(out) == 2):
        # name an array by its type, not by its class (a tracer when traced)
        got = (f"an array {get_aval(out).str_short()}" if isinstance(out, Array)
               else type(out).__name__)
        raise TypeError(f"scan: the body must return a pair (carry, y), got {got}")
    return out


def _python_scan(f: Callable, init_leaves: list, carry_tree, xs_leaves: list, xs_tree,
                 length: int, reverse: bool):
    """The scan as a Python loop (``disable_jit()``): the body runs once per step on
    slices of ``xs``; the ``y`` values are stacked in ``xs`` order afterwards."""
    if length == 0:
        # As JAX: with no step run there is nothing to read the ys' types from, and the
        # body must not be traced (it may need concrete values).
        raise ValueError("zero-length scan is not supported in disable_jit() mode because "
                         "the output type is unknown. Run this scan outside disable_jit(), "
                         "or guard it with a Python `if length > 0`.")
    carry = PythonCarry("scan", init_leaves, carry_tree)
    steps = range(length - 1, -1, -1) if reverse else range(length)
    ys: list = []
    y_tree = None
    retyped = False
    for i in steps:
        x = pytree.tree_unflatten(xs_tree, [index_in_dim(v, i, 0, keepdims=False)
                                            for v in xs_leaves])
        new_carry, y = _body_pair(f(carry.value(), x))
        retyped = carry.update(new_carry) or retyped
        leaves, tree = pytree.tree_flatten(y)
        if y_tree is None:
            y_tree = tree
        elif tree != y_tree:
            raise TypeError(f"scan: the body must return ys of one structure at every step, "
                            f"got {tree} at step {i} after {y_tree}")
        ys.append([operand_leaf(v) for v in leaves])
    stacked = [_stack(list(col), j, retyped, reverse) for j, col in enumerate(zip(*ys))]
    return carry.value(), pytree.tree_unflatten(y_tree, stacked)


def _stack(values: list, j: int, first_retyped: bool, reverse: bool) -> Any:
    """Stack one y leaf's per-step values (given in step order; stacked in ``xs`` order,
    so backwards when ``reverse``) along a new leading axis.

    The traced body gives each y leaf one type, so every step must give it one shape and
    dtype; it is weakly typed only when every step's is. The exception is the first step
    when it retyped a weak carry start (``PythonCarry``): the traced loop would have run it
    on the retyped start, so its y takes the later steps' type."""
    avals = [get_aval(v) for v in values]
    ref = avals[1] if first_retyped and len(avals) > 1 else avals[0]
    for k, a in enumerate(avals):
        if a.shape != ref.shape or (a.dtype != ref.dtype and not (k == 0 and first_retyped)):
            raise TypeError(f"scan: y leaf {j} changes type between steps, from "
                            f"{ref.str_short()} to {a.str_short()}; the body must give each "
                            f"y leaf one shape and dtype")
    rest = avals[1:] if first_retyped and len(avals) > 1 else avals
    aval = ref.update(weak_type=all(a.weak_type for a in rest))
    rows = [broadcast_in_dim(to_array(v, aval), (1, *aval.shape),
                             tuple(range(1, 1 + len(aval.shape)))) for v in values]
    if reverse:
        rows.reverse()
    return rows[0] if len(rows) == 1 else concatenate(rows, 0)


def _scan_jvp(primals, tangents, *, program, num_consts, num_carry, length, reverse, unroll):
    nc, nk = num_consts, num_carry
    consts, carry, xs = primals[:nc], primals[nc:nc + nk], primals[nc + nk:]
    ct, kt, xt = tangents[:nc], tangents[nc:nc + nk], tangents[nc + nk:]
    c_nz = [type(t) is not ad.Zero for t in ct]
    x_nz = [type(t) is not ad.Zero for t in xt]
    n_y = len(program.outvars) - nk

    def step(k_nz):
        return ad.jvp_program(program, tuple(c_nz + k_nz + x_nz), False)[2][:nk]

    k_nz = carry_fixed_point(step, [type(t) is not ad.Zero for t in kt])
    y_nz = ad.jvp_program(program, tuple(c_nz + k_nz + x_nz),
                          tuple(k_nz + [False] * n_y))[2][nk:]
    jprog, jconsts, out_nz = ad.jvp_program(program, tuple(c_nz + k_nz + x_nz),
                                            tuple(k_nz + y_nz))
    # Inputs of jprog: (jconsts, consts, carry, xs, consts_t, carry_t, xs_t); reorder to the
    # scan layout (jconsts, consts, consts_t | carry, carry_t | xs, xs_t).
    iv = jprog.invars
    j = len(jconsts)
    n_ct, n_kt = sum(c_nz), sum(k_nz)
    pv = iv[j:j + nc + nk + len(xs)]
    tv = iv[j + nc + nk + len(xs):]
    c_v, k_v, x_v = pv[:nc], pv[nc:nc + nk], pv[nc + nk:]
    ct_v, kt_v, xt_v = tv[:n_ct], tv[n_ct:n_ct + n_kt], tv[n_ct + n_kt:]
    # Outputs of jprog: (carry_out, ys, carry_t (k_nz), ys_t (y_nz)) -> (carry, carry_t, ys, ys_t)
    ov = jprog.outvars
    co, yo = ov[:nk], ov[nk:nk + n_y]
    kto, yto = ov[nk + n_y:nk + n_y + n_kt], ov[nk + n_y + n_kt:]
    body = Program([], [*iv[:j], *c_v, *ct_v, *k_v, *kt_v, *x_v, *xt_v], jprog.eqns,
                   [*co, *kto, *yo, *yto])
    ct_in = [t for t in ct if type(t) is not ad.Zero]
    kt_in = [ad.instantiate(t) for t, nz in zip(kt, k_nz) if nz]
    xt_in = [t for t in xt if type(t) is not ad.Zero]
    outs = scan_p.bind(*jconsts, *consts, *ct_in, *carry, *kt_in, *xs, *xt_in, program=body,
                       num_consts=j + nc + len(ct_in), num_carry=nk + len(kt_in), length=length,
                       reverse=reverse, unroll=unroll)
    carry_out, carry_t = outs[:nk], iter(outs[nk:nk + len(kt_in)])
    ys, ys_t = outs[nk + len(kt_in):nk + len(kt_in) + n_y], iter(outs[nk + len(kt_in) + n_y:])
    tangents_out = [next(carry_t) if nz else ad.Zero(ad.tangent_aval(get_aval(o)))
                    for o, nz in zip(carry_out, k_nz)]
    tangents_out += [next(ys_t) if nz else ad.Zero(ad.tangent_aval(get_aval(o)))
                     for o, nz in zip(ys, y_nz)]
    return [*carry_out, *ys], tangents_out


scan_p.def_jvp(_scan_jvp)


@functools.lru_cache(maxsize=1024)
def _scan_split(program: Program, unknown_in: tuple, nc: int, nk: int):
    """Split a scan body for partial evaluation. Returns (known body, its extra leading
    constants, unknown body, carry unknown flags, ys unknown flags, number of residuals,
    residual kinds, residual sources, invariant program). The known body takes (its extra
    constants, known consts, known carries, known xs). Each residual reaches the unknown
    scan in the cheapest way:

    * ``"const"``: a constant input of the known body, passed as a constant;
    * ``"invariant"``: computed from the known body's constants only (loop-invariant, e.g.
      ``sin(w)`` or a zero), computed once before the loop by the invariant program
      (the known body's constants -> these residuals) and passed as a constant;
    * ``"xs"``: a known ``xs`` input of the body, passed on as the same ``xs`` array;
    * ``"stacked"``: anything else, stacked per iteration as an extra output of the known
      scan."""
    n_y = len(program.outvars) - nk
    u_c, u_x = list(unknown_in[:nc]), list(unknown_in[nc + nk:])

    def step(k_u):
        return partial_eval.split_program(program, tuple(u_c + k_u + u_x))[3][:nk]

    k_u = carry_fixed_point(step, list(unknown_in[nc:nc + nk]))
    u = tuple(u_c + k_u + u_x)
    known, known_consts, unknown, out_u, num_res = partial_eval.split_program(
        program, u, tuple(k_u + [False] * n_y))
    y_u = out_u[nk:]
    n_const = len(known_consts) + nc - sum(u_c)
    const_vars = known.invars[:n_const]
    x_vars = set(known.invars[n_const + nk - sum(k_u):])
    # Variables of the known body computed from its constants only.
    invariant = set(const_vars)
    for eqn in known.eqns:
        if all(not isinstance(a, Var) or a in invariant for a in eqn.inputs):
            invariant.update(eqn.outputs)
    res_src = known.outvars[len(known.outvars) - num_res:]
    kinds = tuple("invariant" if not isinstance(v, Var) else "const" if v in const_vars
                  else "invariant" if v in invariant else "xs" if v in x_vars else "stacked"
                  for v in res_src)
    inv_out = [v for v, kind in zip(res_src, kinds) if kind == "invariant"]
    needed, inv_eqns = set(v for v in inv_out if isinstance(v, Var)), []
    for eqn in reversed(known.eqns):
        if any(o in needed for o in eqn.outputs):
            inv_eqns.append(eqn)
            needed.update(a for a in eqn.inputs if isinstance(a, Var))
    inv_prog = Program([], const_vars, inv_eqns[::-1], inv_out)
    return known, known_consts, unknown, k_u, y_u, num_res, kinds, res_src, inv_prog


def _scan_known_part(knowns, unknown_in, program, nc, nk, length, reverse, unroll):
    """Run the known part of a scan now (``knowns``: values, None where unknown). Returns
    (carry unknown flags, ys unknown flags, known carry outs, known ys, residual constants,
    per-iteration residuals, unknown body). The unknown scan takes consts (residual
    constants, unknown consts), carry (unknown carries), xs (per-iteration residuals,
    unknown xs)."""
    known, known_consts, unknown, k_u, y_u, num_res, kinds, res_src, inv_prog = _scan_split(
        program, tuple(unknown_in), nc, nk)
    u_c, u_x = unknown_in[:nc], unknown_in[nc + nk:]
    consts, carry, xs = knowns[:nc], knowns[nc:nc + nk], knowns[nc + nk:]
    n_y = len(program.outvars) - nk
    # Known scan: consts / carry / xs that are known; outputs: known carries, known ys, then
    # the stacked residuals.
    kc = [*known_consts, *[c for c, u in zip(consts, u_c) if not u]]
    kk = [c for c, u in zip(carry, k_u) if not u]
    kx = [x for x, u in zip(xs, u_x) if not u]
    n_known_carry = nk - sum(k_u)
    n_known_y = n_y - sum(y_u)
    const_res_idx = [i for i, kind in enumerate(kinds) if kind in ("const", "invariant")]
    stacked_idx = [i for i, kind in enumerate(kinds) if kind in ("stacked", "xs")]
    kov = known.outvars
    body_outs = kov[:n_known_carry + n_known_y] + [kov[n_known_carry + n_known_y + i]
                                                   for i in range(num_res)
                                                   if kinds[i] == "stacked"]
    if body_outs:
        known_body = Program([], known.invars, known.eqns, body_outs)
        outs = scan_p.bind(*kc, *kk, *kx, program=known_body, num_consts=len(kc),
                           num_carry=len(kk), length=length, reverse=reverse, unroll=unroll)
    else:
        outs = []
    known_carry_out = outs[:n_known_carry]
    known_ys = outs[n_known_carry:n_known_carry + n_known_y]
    stacked = iter(outs[n_known_carry + n_known_y:])
    # Residual values: known constants and xs as they are; loop invariants computed once.
    known_const_invars = known.invars[:len(kc)]
    known_x_invars = known.invars[len(kc) + len(kk):]
    invariants = iter(eval_program(inv_prog, [], kc) if inv_prog.outvars else [])
    res_vals = []
    for v, kind in zip(res_src, kinds):
        if kind == "const":
            res_vals.append(kc[known_const_invars.index(v)])
        elif kind == "invariant":
            res_vals.append(next(invariants))
        elif kind == "xs":
            res_vals.append(kx[known_x_invars.index(v)])
        else:
            res_vals.append(next(stacked))
    # The unknown body's inputs, reordered to the unknown scan's layout.
    uiv = unknown.invars
    res_v, rest = uiv[:num_res], uiv[num_res:]
    n_uc, n_uk = sum(u_c), sum(k_u)
    uc_v, uk_v, ux_v = rest[:n_uc], rest[n_uc:n_uc + n_uk], rest[n_uc + n_uk:]
    body = Program([], [*[res_v[i] for i in const_res_idx], *uc_v, *uk_v,
                        *[res_v[i] for i in stacked_idx], *ux_v], unknown.eqns,
                   unknown.outvars)
    return (k_u, y_u, known_carry_out, known_ys, [res_vals[i] for i in const_res_idx],
            [res_vals[i] for i in stacked_idx], body)


def _scan_partial_eval(trace, tracers, knowns, unknown_in, *, program, num_consts, num_carry,
                       length, reverse, unroll):
    nc, nk = num_consts, num_carry
    k_u, y_u, known_carry_out, known_ys, res_c, res_x, body = _scan_known_part(
        knowns, unknown_in, program, nc, nk, length, reverse, unroll)
    u_c, u_x = unknown_in[:nc], unknown_in[nc + nk:]
    carry = knowns[nc:nc + nk]
    n_uk = sum(k_u)
    t_uc = [t for t, u in zip(tracers[:nc], u_c) if u]
    t_uk = [t if u_in else trace.pure(k)
            for t, k, u_in, u in zip(tracers[nc:nc + nk], carry, unknown_in[nc:nc + nk], k_u)
            if u]
    t_ux = [t for t, u in zip(tracers[nc + nk:], u_x) if u]
    staged = trace.stage(scan_p, [*[trace.pure(r) for r in res_c], *t_uc, *t_uk,
                                  *[trace.pure(r) for r in res_x], *t_ux],
                         dict(program=body, num_consts=len(res_c) + len(t_uc),
                              num_carry=n_uk, length=length, reverse=reverse, unroll=unroll))
    s_carry, s_ys = iter(staged[:n_uk]), iter(staged[n_uk:])
    k_carry, k_ys = iter(known_carry_out), iter(known_ys)
    result = [next(s_carry) if u else trace.pure(next(k_carry)) for u in k_u]
    result += [next(s_ys) if u else trace.pure(next(k_ys)) for u in y_u]
    return result


scan_p.def_partial_eval(_scan_partial_eval)


@functools.lru_cache(maxsize=1024)
def _scan_transpose_body(program: Program, nc_res: int, nc_lin: int, nk: int, nx_res: int,
                         nx_lin: int):
    """The body of the transposed scan. Original body inputs: (res consts, linear consts,
    carry, res xs, linear xs), all but the residuals linear. New scan: consts = res consts;
    carry = (linear-consts cotangent accumulators, carry cotangents); xs = (res xs, ys
    cotangents); ys = linear-xs cotangents."""
    iv = program.invars
    lin_c = iv[nc_res:nc_res + nc_lin]
    carry = iv[nc_res + nc_lin:nc_res + nc_lin + nk]
    lin_x = iv[nc_res + nc_lin + nk + nx_res:]
    out_avals = [v.aval for v in program.outvars]
    avals = ([v.aval for v in iv[:nc_res]] + [v.aval for v in lin_c]
             + [v.aval for v in carry] + [v.aval for v in iv[nc_res + nc_lin + nk:
                                                             nc_res + nc_lin + nk + nx_res]]
             + out_avals[nk:])

    def fun(*xs):
        res_c = xs[:nc_res]
        acc = xs[nc_res:nc_res + nc_lin]
        ct_carry = xs[nc_res + nc_lin:nc_res + nc_lin + nk]
        res_x = xs[nc_res + nc_lin + nk:nc_res + nc_lin + nk + nx_res]
        ct_y = xs[nc_res + nc_lin + nk + nx_res:]
        args = [*res_c, *[transpose.UndefinedPrimal(v.aval) for v in lin_c],
                *[transpose.UndefinedPrimal(v.aval) for v in carry], *res_x,
                *[transpose.UndefinedPrimal(v.aval) for v in lin_x]]
        cts = transpose.backward_pass(program, [], args, [*ct_carry, *ct_y])
        ct_lin_c = cts[nc_res:nc_res + nc_lin]
        ct_carry_in = cts[nc_res + nc_lin:nc_res + nc_lin + nk]
        ct_lin_x = cts[nc_res + nc_lin + nk + nx_res:]
        new_acc = [ad.add_tangents(a, c) if type(c) is not ad.Zero else a
                   for a, c in zip(acc, ct_lin_c)]
        return [*new_acc, *[ad.instantiate(c) for c in ct_carry_in],
                *[ad.instantiate(c) for c in ct_lin_x]]

    return trace_flat(fun, avals, "transpose of scan")


def _scan_transpose(cts, *args, program, num_consts, num_carry, length, reverse, unroll):
    if all(type(c) is ad.Zero for c in cts):
        return [None] * len(args)
    nc, nk = num_consts, num_carry
    consts, carry, xs = args[:nc], args[nc:nc + nk], args[nc + nk:]
    c_lin = [transpose.is_undefined(c) for c in consts]
    x_lin = [transpose.is_undefined(x) for x in xs]
    # Every carry of a linear scan is linear; a defined one is a constant (zero) start
    # whose cotangent nobody needs.
    k_lin = [transpose.is_undefined(c) for c in carry]
    # The body must list residual (non-linear) inputs before linear ones within consts and
    # within xs; permute the program's inputs to that order.
    iv = program.invars
    c_v, k_v, x_v = iv[:nc], iv[nc:nc + nk], iv[nc + nk:]
    perm_c = [v for v, lin in zip(c_v, c_lin) if not lin] + [v for v, lin in zip(c_v, c_lin) if lin]
    perm_x = [v for v, lin in zip(x_v, x_lin) if not lin] + [v for v, lin in zip(x_v, x_lin) if lin]
    body = _permuted(program, tuple(perm_c + list(k_v) + perm_x))
    nc_res, nc_lin = c_lin.count(False), c_lin.count(True)
    nx_res, nx_lin = x_lin.count(False), x_lin.count(True)
    tprog, tconsts = _scan_transpose_body(body, nc_res, nc_lin, nk, nx_res, nx_lin)
    res_c = [c for c, lin in zip(consts, c_lin) if not lin]
    res_x = [x for x, lin in zip(xs, x_lin) if not lin]
    acc0 = [full(c.aval.shape, 0, c.aval.dtype) for c, lin in zip(consts, c_lin) if lin]
    ct_carry = [ad.instantiate(c) for c in cts[:nk]]
    ct_ys = [ad.instantiate(c) for c in cts[nk:]]
    outs = scan_p.bind(*tconsts, *res_c, *acc0, *ct_carry, *res_x, *ct_ys, program=tprog,
                       num_consts=len(tconsts) + nc_res, num_carry=nc_lin + nk, length=length,
                       reverse=not reverse, unroll=unroll)
    ct_lin_c = iter(outs[:nc_lin])
    ct_init = outs[nc_lin:nc_lin + nk]
    ct_lin_x = iter(outs[nc_lin + nk:])
    return ([next(ct_lin_c) if lin else None for lin in c_lin]
            + [c if lin else None for c, lin in zip(ct_init, k_lin)]
            + [next(ct_lin_x) if lin else None for lin in x_lin])


@functools.lru_cache(maxsize=1024)
def _permuted(program: Program, invars: tuple) -> Program:
    return Program([], list(invars), program.eqns, program.outvars)


scan_p.def_transpose(_scan_transpose)


def _scan_batch(axis, args, dims, *, program, num_consts, num_carry, length, reverse, unroll):
    nc, nk = num_consts, num_carry
    size = axis.size
    args, dims = list(args), list(dims)
    # Carries are all batched at 0; xs get their batch dim at 1 (the scan runs over 0).
    for i in range(nc, nc + nk):
        args[i] = batching.move_dim(args[i], dims[i], 0, size)
        dims[i] = 0
    for i in range(nc + nk, len(args)):
        if dims[i] is not None:
            args[i] = batching.move_dim(args[i], dims[i], 1, size)
            dims[i] = 0  # the body sees one slice: batch dim 0
    body, bconsts, _ = batching.batch_program(program, tuple(dims), size, axis.name,
                                              all_batched=True)
    outs = scan_p.bind(*bconsts, *args, program=body, num_consts=len(bconsts) + nc,
                       num_carry=nk, length=length, reverse=reverse, unroll=unroll)
    return outs, [0] * nk + [1] * (len(outs) - nk)


scan_p.def_batch(_scan_batch)
