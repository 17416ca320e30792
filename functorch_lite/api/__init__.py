"""The transformation entry points users call (``jit``, ``grad``, ``vmap``, ...). They handle
arguments, pytrees, caching and error messages; the interpreters do the transforming.

One module per job: ``jit_function`` (``jit`` and its cached-call path, with ``stages`` for
tracing and the ``Traced``/``Lowered``/``Compiled`` objects), ``differentiation`` (jvp,
vjp, grad, linearize), ``vectorization`` (vmap), ``jacobians`` (jacfwd, jacrev, hessian),
and ``_args`` for what they share (argument names, argnums, the "is this an array" test,
flattening a function over pytrees). No module is named after a function it exports, so
``functorch_lite.api.jit`` is always the function."""
from functorch_lite.api._args import _arg_names, _fun_name, _leaf_paths
from functorch_lite.api.differentiation import grad, jvp, linearize, value_and_grad, vjp
from functorch_lite.api.jacobians import hessian, jacfwd, jacrev
from functorch_lite.api.jit_function import (MISS, JitFunction, block_until_ready,
                                             clear_jit_caches, disable_jit, jit)
from functorch_lite.api.stages import Compiled, Lowered, Traced, TracedProgram, make_ir
from functorch_lite.api.vectorization import vmap

__all__ = ["Compiled", "JitFunction", "Lowered", "MISS", "Traced", "TracedProgram",
           "block_until_ready", "clear_jit_caches", "disable_jit", "grad", "hessian", "jacfwd",
           "jacrev", "jit", "jvp", "linearize", "make_ir", "value_and_grad", "vjp", "vmap",
           "_arg_names", "_fun_name", "_leaf_paths"]
