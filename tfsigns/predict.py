"""Predict the hand sign in your own photos: `python -m tfsigns.predict IMAGE... --model RUN_DIR`.

Each image (JPEG, PNG, any size) is converted to RGB, resized to 64x64 and divided by
255, exactly as the training images were prepared (the course's own-image cell fed
0-255 pixels to a network trained on [0, 1]). Prints the class and the probabilities,
or JSON with --json. Bad input gets one line on stderr and exit code 2.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image, UnidentifiedImageError

from tfsigns.model import predict

PROG = "tfsigns.predict"
PARAMETER = re.compile(r"^(W|b|gamma|beta|moving_mean|moving_variance)\d+$")


class InputError(ValueError):
    """An image or a model that cannot be used; the message names it."""


def load_parameters(run_dir: str | Path) -> dict[str, np.ndarray]:
    """The trained parameters in the newest checkpoint of a `python -m tfsigns.train --out` folder."""
    folder = Path(run_dir) / "checkpoints"
    path = tf.train.latest_checkpoint(str(folder))
    if path is None:
        raise InputError(f"--model {run_dir}: no checkpoint in {folder} (train with --out {run_dir} first)")
    try:
        reader = tf.train.load_checkpoint(path)
        return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()
                if PARAMETER.match(name)}
    except (tf.errors.OpError, ValueError) as err:
        raise InputError(f"--model {run_dir}: checkpoint {path} is unreadable ({err})") from None


def load_image(path: str | Path, size: int = 64) -> np.ndarray:
    """One image as a (size*size*3,) float32 column in [0, 1]: RGB, resized, divided by 255."""
    try:
        with Image.open(path) as image:
            pixels = np.asarray(image.convert("RGB").resize((size, size), Image.Resampling.BICUBIC))
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except (UnidentifiedImageError, OSError) as err:
        raise InputError(f"{path}: not a readable image ({err})") from None
    return (pixels.reshape(-1) / 255.0).astype(np.float32)


def main(argv: list[str] | None = None) -> int:
    """Classify each image; all images are read before anything is printed."""
    from tfsigns.train import Parser
    parser = Parser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("images", nargs="+", help="JPEG or PNG files")
    parser.add_argument("--model", required=True, help="a run folder written by python -m tfsigns.train")
    parser.add_argument("--json", action="store_true", help="one JSON object per image, for programs")
    args = parser.parse_args(argv)
    try:
        parameters = load_parameters(args.model)
        X = np.stack([load_image(path) for path in args.images], axis=1)
        if X.shape[0] != parameters["W1"].shape[1]:
            raise InputError(f"--model {args.model}: expects {parameters['W1'].shape[1]} inputs per image, "
                             f"images give {X.shape[0]}")
    except InputError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    probabilities = predict(X, parameters, return_probabilities=True)
    for path, column in zip(args.images, probabilities.T, strict=True):
        label = int(column.argmax())
        if args.json:
            print(json.dumps({"image": path, "class": label, "probabilities": [float(p) for p in column]}))
        else:
            shown = "  ".join(f"{c}:{p:.3f}" for c, p in enumerate(column))
            print(f"{path}: {label} (p = {column[label]:.3f})   [{shown}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
