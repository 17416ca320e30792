"""The XLA options we choose by default (xla_bridge/xla_options.py): on the CPU a program
with a convolution compiles with XLA's default library-fusion kinds less convolutions, the
user's own choice wins, other programs are untouched, and the kinds we name are still
XLA's defaults (so a jaxlib upgrade that changes them fails here, not silently)."""
import re

import numpy as np
import pytest

import functorch_lite as fl
from functorch_lite import lax
from helpers import optimized_hlo
from xla_bridge import compile as xla_compile, xla_options

NHWC = ("NHWC", "HWIO", "NHWC")
# XLA's own default kinds in jaxlib 0.10 (checked below)
XLA_DEFAULT_KINDS = (xla_options.KINDS_WITHOUT_CONVOLUTION
                     + ",LIBRARY_FUSION_TYPE_INDIVIDUAL_CONVOLUTION")


def _conv_grad(x, w):
    def loss(x, w):
        y = lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=NHWC)
        return fl.numpy.sum(fl.numpy.tanh(y) ** 2)
    return fl.grad(loss, argnums=(0, 1))(x, w)


def _mlp_grad(x, w):
    """A dense layer and a softmax's row reductions, the kinds of work XLA offloads."""
    def loss(w):
        h = fl.numpy.tanh(x @ w)
        return fl.numpy.sum(fl.nn.logsumexp(h, axis=1) - fl.numpy.max(h, axis=1))
    return fl.grad(loss)(w)


def _data(conv: bool):
    rng = np.random.default_rng(0)
    if conv:
        return (rng.normal(size=(8, 8, 8, 32)).astype(np.float32),
                rng.normal(size=(3, 3, 32, 64)).astype(np.float32) / 16)
    return (rng.normal(size=(64, 96)).astype(np.float32),
            rng.normal(size=(96, 128)).astype(np.float32) / 10)


def _library_convolutions(hlo: str) -> int:
    """How many convolutions XLA handed to YNNPACK (a ``ynn_fusion`` calling a
    computation that holds one)."""
    called = dict(re.findall(r"%(ynn_fusion[.\d]*) = .*?calls=%([\w.\-]+)", hlo))
    bodies = re.findall(r"^%([\w.\-]+) .*?\{\n(.*?)\n\}", hlo, re.S | re.M)
    with_conv = {name for name, body in bodies if " convolution(" in body}
    return sum(1 for comp in called.values() if comp in with_conv)


def test_a_cpu_convolution_leaves_ynnpack(tmp_path):
    args = _data(conv=True)
    ours = optimized_hlo(_conv_grad, args, tmp_path / "ours")
    assert " convolution(" in ours
    assert _library_convolutions(ours) == 0, ours
    # The user's choice wins: asked for, the convolutions go to YNNPACK (this also shows
    # that the check above sees them when they are there).
    theirs = optimized_hlo(_conv_grad, args, tmp_path / "theirs",
                           **{xla_options.YNN_KINDS: XLA_DEFAULT_KINDS})
    assert _library_convolutions(theirs) >= 1, theirs


def test_the_numbers_do_not_change():
    x, w = _data(conv=True)
    plain = fl.jit(_conv_grad)(x, w)
    library = fl.jit(_conv_grad, compiler_options={
        xla_options.YNN_KINDS: XLA_DEFAULT_KINDS})(x, w)
    for a, b in zip(plain, library):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("conv", [False, True])
def test_the_kinds_we_keep_are_xlas_defaults(tmp_path, monkeypatch, conv):
    """Without our choice (``with_defaults`` off) XLA's default compiles each program
    exactly as naming our kinds does, plus convolutions for the convolution program."""
    f, args = (_conv_grad if conv else _mlp_grad), _data(conv)
    monkeypatch.setattr(xla_compile, "with_defaults", lambda text, platform, o: tuple(o))
    xla_default = optimized_hlo(f, args, tmp_path / "default")
    kinds = XLA_DEFAULT_KINDS if conv else xla_options.KINDS_WITHOUT_CONVOLUTION
    named = optimized_hlo(f, args, tmp_path / "named", **{xla_options.YNN_KINDS: kinds})
    assert named == xla_default


def test_when_the_choice_applies(monkeypatch):
    conv_text = 'x = "stablehlo.convolution"(%a, %b)'
    ours = ((xla_options.YNN_KINDS, xla_options.KINDS_WITHOUT_CONVOLUTION),)
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    assert xla_options.with_defaults(conv_text, "cpu", ()) == ours
    assert xla_options.with_defaults(conv_text, "cpu", [("a", 1)]) == (("a", 1),) + ours
    # not on other platforms, not without a convolution, not over the user's choice
    assert xla_options.with_defaults(conv_text, "cuda", ()) == ()
    assert xla_options.with_defaults('"stablehlo.add"', "cpu", ()) == ()
    mine = ((xla_options.YNN_KINDS, "LIBRARY_FUSION_TYPE_REDUCE"),)
    assert xla_options.with_defaults(conv_text, "cpu", mine) == mine
    monkeypatch.setenv("XLA_FLAGS", f"--{xla_options.YNN_KINDS}=")
    assert xla_options.with_defaults(conv_text, "cpu", ()) == ()
