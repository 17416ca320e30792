"""Use the pretrained models shipped in ``examples/pretrained/``, with no training: classify
the digits test split with the CNN of ``examples/demo.py`` and write text with the
character transformer of ``examples/char_transformer.py``.

    python examples/use_pretrained.py [--prompt TEXT] [--chars N] [--temperature T]

``nn.checkpoints.restore(directory, like=params_from_init)`` checks every array's path,
shape and dtype against a freshly initialised model before handing the weights back.
(``python examples/make_pretrained.py`` rebuilds the weights.)
"""
import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import char_transformer  # noqa: E402
import demo  # noqa: E402
import functorch_lite.numpy as fnp  # noqa: E402
from functorch_lite import nn, random  # noqa: E402

PRETRAINED = os.path.join(HERE, "pretrained")
DIGITS_DIR = os.path.join(PRETRAINED, "digits_cnn")
TRANSFORMER_DIR = os.path.join(PRETRAINED, "char_transformer")


def load_digits_cnn(directory: str = DIGITS_DIR):
    """``(model, params, state, metadata)`` of the pretrained digits CNN."""
    model = demo.digits_cnn()
    params, state = model.init(random.PRNGKey(0), fnp.zeros((1, 8, 8, 1)))
    tree = nn.checkpoints.restore(directory, like={"params": params, "state": state})
    return model, tree["params"], tree["state"], nn.checkpoints.metadata(directory)


def digits_accuracy(directory: str = DIGITS_DIR) -> tuple[float, dict]:
    model, params, state, meta = load_digits_cnn(directory)
    _, _, (x_test, y_test) = demo.load_data()
    return demo.test_accuracy(model, params, state, x_test, y_test), meta


def generate(prompt: str, chars: int = 300, temperature: float = 0.8, seed: int = 0,
             directory: str = TRANSFORMER_DIR) -> str:
    """``prompt`` and ``chars`` characters sampled after it from the pretrained
    transformer (characters outside its vocabulary become its unknown character)."""
    model, params, _ = char_transformer.load_pretrained(directory)
    sample = char_transformer.make_sampler(model)
    key = random.fold_in(random.PRNGKey(seed), 1)
    ids = sample(params, key, char_transformer.encode(prompt), chars, temperature)
    return prompt + char_transformer.decode(ids)


def main(prompt: str = "The with statement", chars: int = 300, temperature: float = 0.8,
         seed: int = 0) -> dict:
    acc, meta = digits_accuracy()
    print(f"digits CNN ({DIGITS_DIR}): test accuracy {acc:.4f} "
          f"(recorded when it was trained: {meta['test_accuracy']:.4f})")
    tmeta = nn.checkpoints.metadata(TRANSFORMER_DIR)
    print(f"char transformer ({TRANSFORMER_DIR}): validation loss {tmeta['val_loss']:.4f} "
          f"nats/char (unigram baseline {tmeta['baseline']:.4f}), {tmeta['steps']} steps")
    text = generate(prompt, chars, temperature, seed)
    print(f"--- sample (temperature {temperature}) ---\n{text}\n---")
    return {"digits_accuracy": acc, "sample": text}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompt", default="The with statement")
    parser.add_argument("--chars", type=int, default=300)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    main(args.prompt, args.chars, args.temperature, args.seed)
