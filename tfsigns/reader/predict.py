"""Predict the hand sign in your own photos: `python -m tfsigns.predict IMAGE... --model RUN_DIR`.

Each image (JPEG, PNG, any size or mode) is turned upright by its EXIF orientation and converted
to RGB (tfsigns.portable.photos). A landmark run (--arch landmarks) finds the hand in the whole photo
(tfsigns.portable.hands) and reads its landmarks; where it sees no hand it says so ("class": null,
"hand": false with --json), never a digit, and a reader that knows "a sign I don't know" says so for a
hand that shows none of its signs ("class": null, "sign": null, "hand": true). A pixel run (mlp, cnn)
reads the photo centre-cropped to a square, resized to 64x64 and divided by 255, as the training images
were prepared. Prints the sign and the probabilities, or JSON with --json ("class": its index, "sign":
its name). Bad input gets one line on stderr and exit code 2.
"""

from __future__ import annotations

import json
import sys

from tfsigns.config import LANDMARK_FAMILIES
from tfsigns.hands.files import ModelError
from tfsigns.portable.photos import ImageError, load_frame, load_images
from tfsigns.portable.read import Signs
from tfsigns.training.runs import CheckpointError, finished_run
from tfsigns.utils.cli import HelpFormatter, Parser, line_buffered_output

PROG = "tfsigns.predict"


def main(argv: list[str] | None = None) -> int:
    """Classify each image; all images are read before anything is printed."""
    line_buffered_output()
    parser = Parser(prog=PROG, description=__doc__.splitlines()[0], formatter_class=HelpFormatter)
    parser.add_argument("images", nargs="+", help="JPEG or PNG files")
    parser.add_argument("--model", required=True, help="a run folder written by python -m tfsigns.train")
    parser.add_argument("--json", action="store_true", help="one JSON object per image, for programs")
    args = parser.parse_args(argv)
    try:
        metrics, _ = finished_run(args.model)  # a bad run or image: one line, before TensorFlow loads
        landmarks = metrics["config"].get("arch") in LANDMARK_FAMILIES
        images = [load_frame(path) for path in args.images] if landmarks else load_images(args.images)
        from tfsigns.training.inference import Reader
        reader = Reader(args.model)
        try:
            probabilities = reader.read(images)[0] if landmarks else reader.probabilities(images)
        finally:
            reader.close()
    except (ImageError, CheckpointError, ModelError) as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    signs = Signs.of(metrics)
    for path, row in zip(args.images, probabilities, strict=True):
        print(json.dumps(signs.as_json(path, row, landmarks)) if args.json else signs.line(path, row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
