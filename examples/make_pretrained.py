"""Rebuild the pretrained weights shipped in ``examples/pretrained/`` (what
``examples/use_pretrained.py`` loads): the digits CNN of ``examples/demo.py`` trained with
its defaults, and the character transformer of ``examples/char_transformer.py``.

    python examples/make_pretrained.py [--only digits_cnn|char_transformer]
        [--transformer-steps N]

The CNN is stored in float32 (``{"params", "state"}``, as ``demo.py`` saves it, with the
test accuracy in the metadata); the transformer's parameters in bfloat16 (with the
validation loss of the rounded weights, the unigram baseline, the vocabulary and the
model's configuration in the metadata). Several minutes on a 2-core CPU.
"""
import argparse
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import char_transformer  # noqa: E402
import demo  # noqa: E402
from functorch_lite import nn  # noqa: E402

PRETRAINED = os.path.join(HERE, "pretrained")
TRANSFORMER_STEPS = 2000


def make_digits_cnn(directory=os.path.join(PRETRAINED, "digits_cnn")) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        acc = demo.main(out=tmp, progress=False)          # demo's defaults: 30 epochs, seed 0
        ckpt = os.path.join(tmp, "checkpoint")
        tree = nn.checkpoints.restore(ckpt)
        meta = dict(nn.checkpoints.metadata(ckpt), seed=0, source="examples/demo.py")
    nn.checkpoints.save(directory, tree, metadata=meta)
    print(f"digits CNN: test accuracy {acc:.4f} -> {os.path.normpath(directory)}")
    return acc


def make_char_transformer(directory=os.path.join(PRETRAINED, "char_transformer"),
                          steps: int = TRANSFORMER_STEPS) -> dict:
    result = char_transformer.main(steps=steps, save_pretrained=directory)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["digits_cnn", "char_transformer"])
    parser.add_argument("--transformer-steps", type=int, default=TRANSFORMER_STEPS)
    args = parser.parse_args()
    if args.only in (None, "digits_cnn"):
        make_digits_cnn()
    if args.only in (None, "char_transformer"):
        make_char_transformer(steps=args.transformer_steps)
