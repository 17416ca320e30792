"""The one compile-and-call path (``xla_bridge.dispatch``), its bounded caches
(``xla_bridge.caches``) and its errors: the cached-call path falls back to the general one
only for a deleted or misplaced argument, and lets every other error through; a lowering
rule's error names its primitive."""
import numpy as np
import pytest

import functorch_lite as fl
import functorch_lite.numpy as fnp
import xla_bridge
from functorch_lite import lax
from functorch_lite.core.avals import ShapedArray
from functorch_lite.core.backend import backend
from functorch_lite.core.ir import Eqn, Program, Var
from xla_bridge import caches, dispatch, eager
from xla_bridge.array import DeletedArrayError
from xla_bridge.lowering import core as lowering_core


def _neg_program(shape=(3,)):
    x = Var(ShapedArray(shape, np.float32))
    y = Var(ShapedArray(shape, np.float32))
    return Program([], [x], [Eqn(lax.neg_p, [x], [y], {})], [y])


def test_lru_cache_forgets_the_least_recently_used_entry():
    c = caches.LRUCache("test", maxsize=2)
    c["a"], c["b"] = 1, 2
    assert c.get("a") == 1           # "a" is now the most recent
    c["c"] = 3
    assert ("a" in c, "b" in c, "c" in c) == (True, False, True)
    c["a"] = 4                       # replacing moves it to the back too
    c["d"] = 5
    assert sorted(c._entries) == ["a", "d"] and len(c) == 2
    assert c.get("missing") is None and c.pop("a") == 4


def test_every_cache_is_bounded_and_cleared_through_the_backend():
    assert caches.ALL and all(c.maxsize > 0 for c in caches.ALL)
    assert eager._cache is caches.eager_executables
    fnp.ones(3) * 3.5                # fills the scalar and executable caches
    lax.neg(np.ones(3, np.float32))
    mesh = fl.make_mesh((1,), ("x",))  # and, over a (one-device) mesh, the SPMD one
    lax.neg(fl.device_put(np.ones(3, np.float32), fl.sharding.NamedSharding(mesh, fl.P("x"))))
    assert all(len(c) for c in caches.ALL)
    backend.clear_caches()
    assert all(len(c) == 0 for c in caches.ALL)


def test_eager_executables_stay_within_their_bound(monkeypatch):
    monkeypatch.setattr(caches.eager_executables, "maxsize", 3)
    monkeypatch.setattr(caches.executables_by_text, "maxsize", 2)
    for n in range(1, 8):
        x = np.arange(n, dtype=np.float32)
        np.testing.assert_array_equal(np.asarray(lax.neg(x)), -x)
        assert len(caches.eager_executables) <= 3 and len(caches.executables_by_text) <= 2
    # an evicted entry is compiled again when needed, with the same result
    np.testing.assert_array_equal(np.asarray(lax.neg(np.ones(1, np.float32))), [-1.0])


def test_one_compiled_object_serves_the_general_and_the_cached_call():
    compiled = dispatch.compile_for_call(_neg_program(), "neg")
    x = xla_bridge.from_numpy(np.arange(3, dtype=np.float32))
    (general,) = compiled(x)
    (fast,) = compiled.fast_caller([])((x,))
    np.testing.assert_array_equal(np.asarray(general), np.asarray(fast))
    np.testing.assert_array_equal(np.asarray(compiled(np.ones(3, np.float32))[0]), -1.0)


def test_cached_call_falls_back_for_a_deleted_argument_only():
    compiled = dispatch.compile_for_call(_neg_program(), "neg")
    call = compiled.fast_caller([])
    x = xla_bridge.from_numpy(np.ones(3, np.float32))
    x.delete()
    assert call((x,)) is None        # the general path then explains:
    with pytest.raises(DeletedArrayError):
        compiled(x)
    # An argument the runtime refuses for another reason (here a wrong shape, which jit's
    # signature check would have caught) is an error, not a silent retry elsewhere.
    wrong = xla_bridge.from_numpy(np.ones(4, np.float32))
    with pytest.raises(Exception) as info:
        call((wrong,))
    assert not isinstance(info.value, DeletedArrayError)
    scalar_call = compiled.fast_caller([], (False,))
    with pytest.raises(Exception):
        scalar_call((wrong,))


def test_an_escaped_tracer_reaching_a_compiled_call_is_reported():
    leaked = []
    fl.grad(lambda x: leaked.append(x) or x)(1.0)
    compiled = dispatch.compile_for_call(_neg_program(()), "neg")
    with pytest.raises(fl.UnexpectedTracerError, match="escaped"):
        compiled(leaked[0])
    with pytest.raises(TypeError, match="expected an array, got str"):
        compiled("x")


@pytest.mark.parametrize("error", [TypeError, NameError, KeyError])
def test_a_lowering_rule_error_names_its_primitive(monkeypatch, error):
    def broken(ctx, avals_in, aval_out, x):
        raise error("boom")

    monkeypatch.setitem(lowering_core._rules, lax.neg_p, broken)
    with pytest.raises((TypeError, lowering_core.LoweringError), match="'neg'.*boom"):
        lowering_core.lower_program(_neg_program())
