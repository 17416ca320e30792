"""functorch_lite.image against jax.image: every method up- and downsampling 1-D/2-D/3-D
images (HWC and NHWC), antialias on and off, scale_and_translate with non-trivial warps,
dtypes (half precision, integers, complex, x64), nearest's rounding, gradients in the image
and in scale/translation against jax.grad, jit and vmap, and the errors JAX raises."""
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import functorch_lite as fl
import functorch_lite.image as fi
import functorch_lite.numpy as fnp
from helpers import FAST_COMPILE, assert_same, rand
from rule_checks import x64

METHODS = ["nearest", "linear", "lanczos3", "lanczos5", "cubic", "cubic-pytorch", "area"]
SMOOTH = METHODS[1:]  # the methods scale_and_translate accepts

# (input shape, output shape): 1-D up, HWC mixed, NHWC down, and a volume resized along all
# three axes (one of size 1).
RESIZE_CASES = [((6,), (13,)), ((5, 7, 3), (9, 4, 3)), ((2, 9, 8, 3), (2, 4, 3, 3)),
                ((1, 4, 6), (3, 7, 2))]


def _jax_jit(fn, *args):
    """``jax.jit(fn)(*args)``, compiled quickly (the oracle runs once)."""
    return jax.jit(fn).lower(*args).compile(FAST_COMPILE)(*args)


def _resize_all(lib, method, xs):
    """Every RESIZE_CASES resize of ``xs`` with and without antialiasing, in one program."""
    return [lib.resize(x, out, method, antialias=aa)
            for x, (_, out) in zip(xs, RESIZE_CASES) for aa in (True, False)]


@pytest.mark.parametrize("method", METHODS)
def test_resize_matches_jax(method):
    xs = [rand(i, *shape) for i, (shape, _) in enumerate(RESIZE_CASES)]
    ours = fl.jit(functools.partial(_resize_all, fi, method))(xs)
    theirs = _jax_jit(functools.partial(_resize_all, jax.image, method), xs)
    assert_same(ours, theirs, tol=2e-6)
    # Outside jit too (the eager entry point compiles its own program).
    assert_same(fi.resize(xs[1], (9, 4, 3), method), theirs[2], tol=2e-6)


def test_resize_nearest_rounding():
    # Centres that land exactly on pixel boundaries: the pixel chosen depends on float32
    # rounding of (i + 0.5) * in / out, which must be JAX's (e.g. 10 -> 25 and 30 -> 29).
    sizes = [(10, 25), (20, 25), (30, 25), (30, 29), (34, 31), (7, 3), (3, 7), (25, 10)]
    xs = [np.arange(m, dtype=np.int32) for m, _ in sizes]
    ours = fl.jit(lambda xs: [fi.resize(x, (n,), "nearest") for x, (_, n) in zip(xs, sizes)])(xs)
    theirs = [jax.image.resize(x, (n,), "nearest") for x, (_, n) in zip(xs, sizes)]
    assert_same(ours, theirs, tol=0)


def test_resize_identity_and_empty():
    x = rand(1, 4, 5)
    for method in METHODS:
        # Unchanged sizes are copied (every kernel interpolates).
        assert_same(fi.resize(x, (4, 5), method), x, tol=0)
    assert_same(fi.resize(x, (0, 5), "linear"), jax.image.resize(x, (0, 5), "linear"))
    assert_same(fi.resize(x, [4, 0], "nearest"), jax.image.resize(x, [4, 0], "nearest"))


@pytest.mark.parametrize("dtype, method, tol", [
    (jnp.bfloat16, "cubic", 2e-2), (np.float16, "lanczos3", 3e-3), (np.int32, "linear", 1e-5),
    (np.uint8, "nearest", 0), (np.bool_, "nearest", 0), (np.bool_, "area", 1e-6),
    (np.complex64, "linear", 1e-5)])
def test_resize_dtypes(dtype, method, tol):
    x = (rand(3, 5, 6) * 4 + (rand(4, 5, 6) * 1j if dtype == np.complex64 else 0))
    x = np.asarray(x if dtype == np.complex64 else np.abs(x)).astype(dtype)
    ours, theirs = fi.resize(x, (7, 3), method), jax.image.resize(x, (7, 3), method)
    assert_same(np.asarray(ours).astype(np.float64) if dtype == jnp.bfloat16 else ours,
                np.asarray(theirs).astype(np.float64) if dtype == jnp.bfloat16 else theirs,
                tol=tol)
    assert ours.dtype == theirs.dtype


def test_resize_python_scalar_stays_weak():
    ours, theirs = fi.resize(2.0, (), "linear"), jax.image.resize(2.0, (), "linear")
    assert_same(ours, theirs, weak_type=True)


def test_resize_x64():
    # float64 images, and float32 images whose weights JAX computes in float64 under x64.
    x = rand(5, 6, 5, 2)
    with x64():
        jax.config.update("jax_enable_x64", True)
        for img in (x.astype(np.float64), x):
            for method in ("lanczos5", "area", "nearest"):
                ours = fi.resize(img, (3, 8, 2), method)
                theirs = jax.image.resize(img, (3, 8, 2), method)
                assert_same(ours, theirs, tol=1e-12 if img.dtype == np.float64 else 2e-6)
        scale, translation = np.array([0.6, 1.4]), np.array([0.3, -0.9])
        ours = fi.scale_and_translate(x.astype(np.float64), (4, 7, 2), (0, 1), scale,
                                      translation, "cubic")
        theirs = jax.image.scale_and_translate(x.astype(np.float64), (4, 7, 2), (0, 1), scale,
                                               translation, "cubic")
        assert_same(ours, theirs, tol=1e-12)


def _warp_all(lib, method, x, scale, translation):
    # Shrink + shift on HWC dims (0, 1); negative axes on an NHWC batch; one spatial dim
    # whose size in `shape` is deliberately not the input's for a non-spatial dim.
    return [lib.scale_and_translate(x, (4, 9, 3), (0, 1), scale, translation, method, aa)
            for aa in (True, False)] + [
        lib.scale_and_translate(x[None], (1, 5, 7, 99), (-3, -2), scale[::-1],
                                translation, method),
        lib.scale_and_translate(x, (11, 7, 3), (0,), scale[1:], translation[:1], method)]


@pytest.mark.parametrize("method", SMOOTH)
def test_scale_and_translate_matches_jax(method):
    x = rand(7, 6, 7, 3)
    scale = np.array([0.55, 1.7], np.float32)
    translation = np.array([0.8, -2.3], np.float32)
    ours = fl.jit(functools.partial(_warp_all, fi, method))(x, scale, translation)
    theirs = _jax_jit(functools.partial(_warp_all, jax.image, method), x, scale,
                      translation)
    assert_same(ours, theirs, tol=2e-6)
    assert [o.shape for o in ours] == [(4, 9, 3)] * 2 + [(1, 5, 7, 3), (11, 7, 3)]


def test_scale_and_translate_dtypes():
    x = rand(8, 5, 6)
    # Integer scale/translation arrays are promoted; float16 ones make float16 weights.
    for scale, translation in ((np.array([2, 1]), np.array([1, -1])),
                               (np.array([0.5, 1.25], np.float16),
                                np.array([0.25, 0.0], np.float16))):
        ours = fi.scale_and_translate(x, (9, 7), (0, 1), scale, translation, "cubic")
        # (jitted: eager JAX rounds every float16 step of the weights, XLA fuses them)
        theirs = jax.jit(jax.image.scale_and_translate, static_argnums=(1, 2, 5))(
            x, (9, 7), (0, 1), scale, translation, "cubic")
        assert_same(ours, theirs, tol=2e-6)
    xi = np.arange(30, dtype=np.int32).reshape(5, 6)
    none = fi.scale_and_translate(xi, (5, 6), (), np.zeros(0), np.zeros(0), "linear")
    assert_same(none, jax.image.scale_and_translate(xi, (5, 6), (), jnp.zeros(0),
                                                    jnp.zeros(0), "linear"))


# (cubic's gradients are checked against finite differences below)
@pytest.mark.parametrize("method", ["linear", "lanczos3", "area"])
def test_gradients_match_jax(method):
    x = rand(9, 5, 6, 2)
    scale = np.array([1.6, 0.6], np.float32)
    translation = np.array([-0.7, 0.45], np.float32)
    cot = rand(10, 8, 4, 2)

    def loss(lib, x, scale, translation):
        warped = lib.image.scale_and_translate(x, (8, 4, 2), (0, 1), scale, translation,
                                               method)
        resized = lib.image.resize(x, (8, 4, 2), method)
        nearest = lib.image.resize(x, (8, 4, 2), "nearest")  # a gather: scatter-add back
        return (warped * cot).sum() + (resized * cot ** 2).sum() + (nearest * cot ** 3).sum()

    ours = fl.jit(fl.grad(functools.partial(loss, fl), argnums=(0, 1, 2)))(
        x, scale, translation)
    theirs = _jax_jit(jax.grad(functools.partial(loss, jax), argnums=(0, 1, 2)),
                      x, scale, translation)
    assert_same(ours, theirs, tol=2e-4)
    assert np.abs(np.asarray(ours[1])).max() > 0.1  # the warp really depends on scale


def test_gradient_at_pixel_centres_is_finite():
    # scale 1 with an integer shift puts samples exactly on pixel centres, where the
    # lanczos quotient is 0/0 and its limit branch is taken.
    x = rand(11, 6)

    def loss(lib, st):
        return (lib.image.scale_and_translate(x, (6,), (0,), st[:1], st[1:], "lanczos3")
                ** 2).sum()

    st = np.array([1.0, 1.0], np.float32)
    ours = fl.grad(functools.partial(loss, fl))(st)
    theirs = _jax_jit(jax.grad(functools.partial(loss, jax)), st)
    assert np.isfinite(np.asarray(ours)).all()
    assert_same(ours, theirs, tol=1e-4)


def test_gradient_finite_differences_x64():
    x = rand(12, 5, 4).astype(np.float64)
    with x64():
        jax.config.update("jax_enable_x64", True)

        @fl.jit
        def f(p):
            return (fi.scale_and_translate(x, (7, 3), (0, 1), p[:2], p[2:], "cubic") ** 2).sum()

        p = np.array([1.3, 0.7, 0.2, -0.4])
        g = np.asarray(fl.grad(f)(p))
        eps = 1e-6
        fd = [(float(f(p + eps * e)) - float(f(p - eps * e))) / (2 * eps) for e in np.eye(4)]
        np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-7)


def test_vmap_over_images_and_warps():
    xs = rand(13, 3, 5, 6)
    ours = fl.vmap(lambda x: fi.resize(x, (8, 3), "lanczos3"))(xs)
    assert_same(ours, jax.image.resize(xs, (3, 8, 3), "lanczos3"), tol=2e-6)

    scales = np.abs(rand(14, 3, 2)) + 0.5
    translations = rand(15, 3, 2)

    def warp(lib, x, s, t):
        return lib.image.scale_and_translate(x, (4, 7), (0, 1), s, t, "linear")

    ours = fl.vmap(functools.partial(warp, fl), in_axes=(0, 0, 0))(xs, scales, translations)
    theirs = jax.vmap(functools.partial(warp, jax))(xs, scales, translations)
    assert_same(ours, theirs, tol=2e-6)
    ours = fl.vmap(fl.jit(functools.partial(warp, fl)), in_axes=(None, 0, 0))(
        xs[0], scales, translations)
    theirs = jax.vmap(functools.partial(warp, jax), in_axes=(None, 0, 0))(
        xs[0], scales, translations)
    assert_same(ours, theirs, tol=2e-6)


@settings(max_examples=8, deadline=None)
@given(st.data())
def test_resize_random_shapes(data):
    ndim = data.draw(st.integers(1, 3))
    in_shape = tuple(data.draw(st.lists(st.integers(1, 7), min_size=ndim, max_size=ndim)))
    out_shape = tuple(data.draw(st.lists(st.integers(1, 9), min_size=ndim, max_size=ndim)))
    method = data.draw(st.sampled_from(METHODS))
    antialias = data.draw(st.booleans())
    x = rand(16, *in_shape)
    assert_same(fi.resize(x, out_shape, method, antialias),
                jax.image.resize(x, out_shape, method, antialias), tol=2e-6)


def test_resize_method_enum():
    assert [(m.name, m.value) for m in fi.ResizeMethod] == \
        [(m.name, m.value) for m in jax.image.ResizeMethod]
    for name in ["nearest", "linear", "bilinear", "trilinear", "triangle", "lanczos3",
                 "lanczos5", "cubic", "bicubic", "tricubic", "cubic-pytorch",
                 "bicubic-pytorch", "area"]:
        assert fi.ResizeMethod.from_string(name).name == \
            jax.image.ResizeMethod.from_string(name).name
    with pytest.raises(ValueError, match="Unknown resize method"):
        fi.ResizeMethod.from_string("Bilinear")
    x = rand(17, 4, 4)
    assert_same(fi.resize(x, (6, 2), fi.ResizeMethod.LANCZOS5),
                jax.image.resize(x, (6, 2), jax.image.ResizeMethod.LANCZOS5), tol=2e-6)


X = np.ones((4, 5), np.float32)
S, T = np.array([0.5, 0.8], np.float32), np.array([0.1, 0.2], np.float32)
ERROR_CASES = {
    "shape rank": ("resize", (X, (3,), "linear"), "length equal to the number"),
    "unknown method": ("resize", (X, (3, 4), "foo"), "Unknown resize method"),
    "method type": ("resize", (X, (3, 4), 3), "ResizeMethod"),
    "float size": ("resize", (X, (3.5, 4), "linear"), "integer"),
    "resize empty linear": ("resize", (np.ones((0, 4)), (3, 4), "linear"), "empty"),
    "resize empty nearest": ("resize", (np.ones((0, 4)), (3, 4), "nearest"), "empty"),
    "warp nearest": ("scale_and_translate", (X, (3, 4), (0, 1), S, T, "nearest"),
                     "Nearest neighbor"),
    "warp rank": ("scale_and_translate", (X, (3,), (0, 1), S, T, "linear"), "length equal"),
    "translation length": ("scale_and_translate", (X, (3, 4), (0, 1), S, T[:1], "linear"),
                           r"shape \(2,\)"),
    "scale length": ("scale_and_translate", (X, (3, 4), (0,), S, T, "linear"),
                     r"shape \(1,\)"),
    "axis range": ("scale_and_translate", (X, (3, 4), (0, 5), S, T, "linear"), "out of"),
    "list scale": ("scale_and_translate", (X, (3, 4), (0, 1), [0.5, 0.8], T, "linear"),
                   "list"),
}


@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_errors_match_jax(case):
    fn, args, message = ERROR_CASES[case]
    with pytest.raises(Exception) as theirs:
        getattr(jax.image, fn)(*args)
    with pytest.raises(theirs.type, match=message):
        getattr(fi, fn)(*args)


def test_errors_beyond_jax():
    # JAX returns a meaningless array for these; we refuse them.
    with pytest.raises(ValueError, match="repeat"):
        fi.scale_and_translate(X, (3, 4), (0, 0), S, T, "linear")
    with pytest.raises(ValueError, match="negative"):
        fi.resize(X, (-3, 4), "linear")
    with pytest.raises(TypeError, match="list"):
        fi.resize([[1.0, 2.0]], (2, 2), "linear")


def test_precision_argument():
    x, out = rand(18, 5, 6), (3, 9)
    for precision in (None, "highest", fl.lax.Precision.DEFAULT,
                      (fl.lax.Precision.HIGHEST, fl.lax.Precision.HIGHEST)):
        assert_same(fi.resize(x, out, "linear", precision=precision),
                    jax.image.resize(x, out, "linear"), tol=2e-6)
    assert isinstance(fnp.asarray(fi.resize(x, out, "linear")), fl.Array)
