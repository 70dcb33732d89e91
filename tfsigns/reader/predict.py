"""Predict the hand sign in your own photos: `python -m tfsigns.predict IMAGE... --model RUN_DIR`.

Each image (JPEG, PNG, any size or mode) is turned upright by its EXIF orientation,
centre-cropped to a square, converted to RGB, resized to 64x64 and divided by 255, as the
training images were prepared (tfsigns.images.photos). Prints the class and
the probabilities, or JSON with --json. Bad input gets one line on stderr and exit code 2.
"""

from __future__ import annotations

import json
import sys

from tfsigns.images.photos import ImageError, load_images
from tfsigns.training.runs import CheckpointError, finished_run
from tfsigns.utils.cli import HelpFormatter, Parser, line_buffered_output

PROG = "tfsigns.predict"


def as_json(image: str, probabilities) -> dict:
    """What --json prints for one image (and the live page's POST /predict answers): its name, the
    class read and the class probabilities."""
    return {"image": image, "class": int(probabilities.argmax()),
            "probabilities": [float(p) for p in probabilities]}


def main(argv: list[str] | None = None) -> int:
    """Classify each image; all images are read before anything is printed."""
    line_buffered_output()
    parser = Parser(prog=PROG, description=__doc__.splitlines()[0], formatter_class=HelpFormatter)
    parser.add_argument("images", nargs="+", help="JPEG or PNG files")
    parser.add_argument("--model", required=True, help="a run folder written by python -m tfsigns.train")
    parser.add_argument("--json", action="store_true", help="one JSON object per image, for programs")
    args = parser.parse_args(argv)
    try:
        finished_run(args.model)  # an unfinished run or unreadable image: one line, before TensorFlow loads
        X = load_images(args.images)
        from tfsigns.training.inference import classify
        probabilities = classify(X, args.model)
    except (ImageError, CheckpointError) as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    for path, row in zip(args.images, probabilities, strict=True):
        label = int(row.argmax())
        if args.json:
            print(json.dumps(as_json(path, row)))
        else:
            shown = "  ".join(f"{c}:{p:.3f}" for c, p in enumerate(row))
            print(f"{path}: {label} (p = {row[label]:.3f})   [{shown}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
