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

from tfsigns.checkpoint import UNREADABLE, first_line
from tfsigns.cli import HelpFormatter, Parser, line_buffered_output
from tfsigns.model import predict

PROG = "tfsigns.predict"
PARAMETER = re.compile(r"^(W|b|gamma|beta|moving_mean|moving_variance)\d+$")


class InputError(ValueError):
    """An image or a model that cannot be used; the message names it."""


def finished_checkpoint(run_dir: str | Path) -> Path:
    """The checkpoint of a finished `python -m tfsigns.train --out` run, as its metrics.json names it.

    Mid-run checkpoints are refused: with batch norm they hold the running averages, not
    the statistics the finished model is scored with (0.41 against 0.92 test accuracy).
    """
    run_dir = Path(run_dir)
    metrics_path = run_dir / "metrics.json"
    if not metrics_path.is_file():
        if (run_dir / "checkpoints").is_dir():
            raise InputError(f"--model {run_dir}: the run has not finished (no metrics.json); resume it with "
                             f"python -m tfsigns.train --out {run_dir} --resume")
        raise InputError(f"--model {run_dir}: no finished run there (train with --out {run_dir} first)")
    try:
        name = json.loads(metrics_path.read_text())["checkpoint"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise InputError(f"--model {run_dir}: {metrics_path} names no checkpoint ({err!r})") from None
    path = run_dir / "checkpoints" / str(name)
    if not Path(f"{path}.index").is_file():
        raise InputError(f"--model {run_dir}: the finished model's checkpoint {path.name} is gone (a resumed "
                         "run that has not finished replaced it); finish that run with --resume")
    return path


def load_parameters(run_dir: str | Path) -> dict[str, np.ndarray]:
    """The trained parameters of a finished `python -m tfsigns.train --out` run."""
    path = finished_checkpoint(run_dir)
    try:
        reader = tf.train.load_checkpoint(str(path))
        return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()
                if PARAMETER.match(name)}
    except UNREADABLE as err:
        raise InputError(f"--model {run_dir}: checkpoint {path} is unreadable ({first_line(err)})") from None


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
    line_buffered_output()
    parser = Parser(prog=PROG, description=__doc__.splitlines()[0], formatter_class=HelpFormatter)
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
