"""Collectives, lowered inside a ``shard_map`` body (``ctx.manual_mesh``) to XLA's
collectives across the devices along the named mesh axes; outside one there is no axis to
combine over (a vmap's collectives never reach the lowering: its batching rules replace
them).

A program over a mesh numbers its partitions in the mesh's row-major order, so the devices
along some axes are the rows of the partition-id grid with those axes moved last: the
``replica_groups`` of every collective here (with ``use_global_device_ids``: the ids are
partition ids)."""
import numpy as np

from functorch_lite.core.avals import ShapedArray
from functorch_lite.lax import parallel as par
from xla_bridge.lowering.core import register

_CHANNEL = "#stablehlo.channel_handle<handle = 1, type = 1>"
_UI32 = ShapedArray((), np.dtype(np.uint32))
_I32 = ShapedArray((), np.dtype(np.int32))


def _mesh(ctx, name: str, axis_name):
    if ctx.manual_mesh is None:
        raise par._unbound(name, axis_name)
    return ctx.manual_mesh


def _groups(mesh, axis_name) -> np.ndarray:
    names = par._axis_names(axis_name)
    ids = np.arange(mesh.size).reshape(mesh.devices.shape)
    axes = [mesh.axis_names.index(n) for n in names]
    rest = [i for i in range(ids.ndim) if i not in axes]
    size = int(np.prod([mesh.shape[n] for n in names]))
    return ids.transpose(rest + axes).reshape(-1, size)


def _int_matrix(a: np.ndarray) -> str:
    rows = ", ".join("[" + ", ".join(map(str, r)) + "]" for r in a)
    return f"dense<[{rows}]> : tensor<{a.shape[0]}x{a.shape[1]}xi64>"


def _common(mesh, axis_name, global_ids: bool = True) -> dict:
    attrs = {"channel_handle": _CHANNEL, "replica_groups": _int_matrix(_groups(mesh, axis_name))}
    if global_ids:
        attrs["use_global_device_ids"] = "unit"
    return attrs


def _combiner(ctx, op: str, aval):
    scalar = aval.update(shape=())

    def body(a, b):
        return [ctx.op(op, [a, b], [scalar, scalar], scalar)], [scalar]
    return ctx.region([scalar, scalar], body)


def _all_reduce(op: str, name: str):
    def rule(ctx, avals_in, aval_out, x, *, axis_name):
        mesh = _mesh(ctx, name, axis_name)
        return ctx.op("stablehlo.all_reduce", [x], avals_in, aval_out,
                      _common(mesh, axis_name), regions=[_combiner(ctx, op, aval_out)])
    return rule


register(par.psum_p)(_all_reduce("stablehlo.add", "psum"))
register(par.pmax_p)(_all_reduce("stablehlo.maximum", "pmax"))
register(par.pmin_p)(_all_reduce("stablehlo.minimum", "pmin"))


def _reshape(ctx, x, aval_in, shape):
    return ctx.op("stablehlo.reshape", [x], [aval_in], aval_in.update(shape=tuple(shape)))


@register(par.all_gather_p)
def _all_gather(ctx, avals_in, aval_out, x, *, axis_name, axis, axis_size, tiled):
    mesh = _mesh(ctx, "all_gather", axis_name)
    (a,) = avals_in
    if not tiled:  # a new axis: gather along a size-1 axis put there
        shape = list(a.shape)
        shape.insert(axis, 1)
        x, a = _reshape(ctx, x, a, shape), a.update(shape=tuple(shape))
    return ctx.op("stablehlo.all_gather", [x], [a], aval_out,
                  {"all_gather_dim": f"{axis} : i64", **_common(mesh, axis_name)})


@register(par.psum_scatter_p)
def _psum_scatter(ctx, avals_in, aval_out, x, *, axis_name, scatter_dimension, axis_size,
                  tiled):
    mesh = _mesh(ctx, "psum_scatter", axis_name)
    (a,) = avals_in
    shape = list(a.shape)
    shape[scatter_dimension] //= axis_size
    piece = a.update(shape=tuple(shape))
    out = ctx.op("stablehlo.reduce_scatter", [x], [a], piece,
                 {"scatter_dimension": f"{scatter_dimension} : i64", **_common(mesh, axis_name)},
                 regions=[_combiner(ctx, "stablehlo.add", piece)])
    return out if tiled else _reshape(ctx, out, piece, aval_out.shape)


@register(par.ppermute_p)
def _ppermute(ctx, avals_in, aval_out, x, *, axis_name, perm):
    mesh = _mesh(ctx, "ppermute", axis_name)
    pairs = np.array([[g[s], g[t]] for g in _groups(mesh, axis_name) for s, t in perm],
                     dtype=np.int64).reshape(-1, 2)
    return ctx.op("stablehlo.collective_permute", [x], avals_in, aval_out,
                  {"channel_handle": _CHANNEL, "source_target_pairs": _int_matrix(pairs)})


@register(par.all_to_all_p)
def _all_to_all(ctx, avals_in, aval_out, x, *, axis_name, split_axis, concat_axis, axis_size):
    mesh = _mesh(ctx, "all_to_all", axis_name)
    return ctx.op("stablehlo.all_to_all", [x], avals_in, aval_out,
                  {"split_dimension": f"{split_axis} : i64",
                   "concat_dimension": f"{concat_axis} : i64",
                   "split_count": f"{axis_size} : i64",
                   **_common(mesh, axis_name, global_ids=False)})


@register(par.axis_index_p)
def _axis_index(ctx, avals_in, aval_out, *, axis_name):
    mesh = _mesh(ctx, "axis_index", axis_name)
    names = list(mesh.axis_names)
    stride = int(np.prod([mesh.shape[n] for n in names[names.index(axis_name) + 1:]]))
    pid = ctx.op("stablehlo.partition_id", [], [], _UI32)
    q = ctx.op("stablehlo.divide", [pid, ctx.constant(stride, _UI32)], [_UI32, _UI32], _UI32)
    r = ctx.op("stablehlo.remainder", [q, ctx.constant(mesh.shape[axis_name], _UI32)],
               [_UI32, _UI32], _UI32)
    return ctx.op("stablehlo.convert", [r], [_UI32], aval_out)
