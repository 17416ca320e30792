"""``vmap``: argument handling for the batching interpreter (which axis of each argument
is mapped, the size they agree on, where each output's mapped axis goes)."""
from __future__ import annotations

import functools
from typing import Callable

from functorch_lite.api._args import _check_leaf, _flatten_fun, _fun_name
from functorch_lite.core import pytree
from functorch_lite.core.avals import get_aval
from functorch_lite.interpreters import batching


def _check_axes_spec(name: str, spec, what: str):
    for leaf in pytree.tree_leaves(spec, is_leaf=lambda x: x is None):
        if leaf is not None and not isinstance(leaf, int):
            raise TypeError(f"{name}: {what} must be ints or None (or pytree prefixes of "
                            f"them), got {leaf!r}")


def vmap(fun: Callable, in_axes=0, out_axes=0, axis_name=None, axis_size: int | None = None):
    """Vectorize ``fun`` over a new leading axis of its inputs (``in_axes`` picks which axis
    of each argument, ``None`` for unbatched ones) and stack its outputs along ``out_axes``.

    >>> vmap(fnp.dot)(ones((5, 3)), ones((5, 3))).shape     # per-row dot products
    (5,)
    """
    if not callable(fun):
        raise TypeError(f"vmap expects a callable, got {type(fun).__name__}")
    if isinstance(in_axes, list):
        in_axes = tuple(in_axes)
    _check_axes_spec("vmap", in_axes, "in_axes")
    _check_axes_spec("vmap", out_axes, "out_axes")
    name = _fun_name(fun)

    def wrapped(*args, **kwargs):
        if kwargs:
            # Keyword arguments are batched along axis 0, as JAX does.
            return vmap(lambda *a: fun(*a[:-1], **a[-1]),
                        in_axes=(*(in_axes if isinstance(in_axes, tuple)
                                   else (in_axes,) * len(args)), 0),
                        out_axes=out_axes, axis_name=axis_name, axis_size=axis_size)(
                *args, kwargs)
        if isinstance(in_axes, tuple) and len(in_axes) != len(args):
            raise ValueError(f"vmap({name}): in_axes has {len(in_axes)} entries but the "
                             f"function was called with {len(args)} positional arguments; "
                             "in_axes must be an int, None, or a tuple with one entry per "
                             "argument")
        leaves, in_tree = pytree.tree_flatten(args)
        dims, size = _mapped_dims(name, args, leaves, in_axes, axis_size)
        box: list = []
        flat = _flatten_fun(fun, in_tree, box)
        outs, out_dims = batching.batch_flat(lambda *xs: flat(*xs),
                                             batching.AxisData(size, axis_name), leaves, dims)
        return _place_outputs(name, box[0], outs, out_dims, out_axes, size)

    functools.update_wrapper(wrapped, fun, updated=())
    return wrapped


def _mapped_dims(name: str, args: tuple, leaves: list, in_axes, axis_size):
    """(the mapped dimension of each leaf, None where unmapped; the mapped axis size),
    after checking that ``in_axes`` fits the arguments and that the sizes agree."""
    try:
        axes = pytree.broadcast_prefix(in_axes if isinstance(in_axes, tuple)
                                       else (in_axes,) * len(args), args)
    except ValueError as e:
        raise ValueError(f"vmap({name}): in_axes {in_axes!r} does not match the argument "
                         f"structure: {e}") from None
    paths = [f"args{pytree.keystr(p)}" for p, _ in pytree.tree_flatten_with_path(args)[0]]
    dims, sizes = [], []
    for path, x, ax in zip(paths, leaves, axes):
        if ax is None:
            dims.append(None)
            continue
        aval = _check_leaf(f"vmap({name})", path, x)
        if not -aval.ndim <= ax < aval.ndim:
            raise ValueError(f"vmap({name}): in_axes {ax} is out of range for argument "
                             f"{path} of shape {aval.shape} (rank {aval.ndim})")
        d = ax % aval.ndim
        dims.append(d)
        sizes.append((path, d, aval.shape[d]))
    size_set = {s for _, _, s in sizes}
    if axis_size is not None:
        size_set.add(axis_size)
    if len(size_set) > 1:
        detail = "; ".join(f"{p} has axis {d} of size {s}" for p, d, s in sizes)
        raise ValueError(f"vmap({name}) got inconsistent sizes for the mapped axis: "
                         f"{detail}" + (f"; axis_size={axis_size}" if axis_size else ""))
    if not size_set:
        raise ValueError(f"vmap({name}) needs at least one batched argument (an in_axes "
                         "entry that is not None) or axis_size=")
    return dims, size_set.pop()


def _place_outputs(name: str, out_tree, outs: list, out_dims: list, out_axes, size: int):
    """The outputs' pytree with each output's mapped dimension moved to its ``out_axes``
    entry (None: unmapped, allowed only where the output does not depend on the batch)."""
    out_structure = pytree.tree_unflatten(out_tree, list(range(len(outs))))
    try:
        out_ax = pytree.broadcast_prefix(out_axes, out_structure)
    except ValueError as e:
        raise ValueError(f"vmap({name}): out_axes {out_axes!r} does not match the output "
                         f"structure: {e}") from None
    results = []
    for i, (o, d, ax) in enumerate(zip(outs, out_dims, out_ax)):
        if ax is None:
            if d is not None:
                raise ValueError(f"vmap({name}): out_axes=None for output {i}, but that "
                                 "output depends on the mapped axis (it differs across "
                                 "the batch); give it an integer out_axes")
            results.append(o)
            continue
        nd = get_aval(o).ndim + (1 if d is None else 0)
        if not -nd <= ax < nd:
            raise ValueError(f"vmap({name}): out_axes {ax} is out of range for output {i} "
                             f"of rank {nd}")
        results.append(batching.move_dim(o, d, ax % nd, size))
    return pytree.tree_unflatten(out_tree, results)
