"""Teach a reader a new hand or camera from a few photos:
`python -m tfsigns.calibrate --model RUN --photos DIR --out NEW`.

DIR holds a folder per sign, DIR/0 ... DIR/5, each with 1 to 10 photos of that sign (any image
files tfsigns.portable.photos reads; a landmark run reads each one's hand, and refuses a photo in which
it sees none). As transfer learning does, the run's network is fine-tuned from
its finished checkpoint: every variable trains, at a tenth of the run's learning rate, for
EPOCHS epochs over the SIGNS training photos with the new photos mixed in (each repeated
REPEATS times, so that they weigh without the network forgetting SIGNS), through the run's
own augmentation and input contract (its framing and normalization). NEW is a finished run
like any other: predict, robustness and the notebook read it. Bad input (a sign missing, an
unreadable image, too many photos, NEW existing) gets one line on stderr and exit code 2,
before TensorFlow loads, and nothing is written; NEW appears only when it is complete.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from tfsigns.config import LANDMARK_FAMILIES, ConfigError
from tfsigns.hands.features import feature_columns, hands_of
from tfsigns.hands.files import ModelError
from tfsigns.images.signs import IMAGE_SHAPE, DataError, convert_to_one_hot, find_data_dir
from tfsigns.portable.framing import frame_columns
from tfsigns.portable.photos import ImageError, load_frame, load_images, sign_folder_files
from tfsigns.training.runs import CheckpointError, finished_run
from tfsigns.utils.cli import HelpFormatter, Parser, line_buffered_output
from tfsigns.utils.files import OutputError, write_json

PROG = "tfsigns.calibrate"
MOST_PHOTOS = 10  # per sign: calibration is a few photos, not a training set
EPOCHS = 16  # chosen by measurement against 8 (docs/reader.md, "Other people's hands")
REPEATS = 20  # how many times each new photo is in an epoch's training set
RATE_FACTOR = 0.1  # of the run's learning rate


def read_photos(folder: str, metrics: dict) -> tuple[np.ndarray, np.ndarray]:
    """The calibration photos as the run takes them, columns X (a pixel run's (12288, m) in [0, 1], a
    landmark run's features (42, m)), and their signs (m,); ImageError for a missing sign, a sign with
    too many photos, an unreadable file, or a photo in which a landmark run sees no hand."""
    files = sign_folder_files(folder, int(metrics.get("classes", 6)))
    for sign, found in enumerate(files):
        if len(found) > MOST_PHOTOS:
            raise ImageError(f"{folder}/{sign}: holds {len(found)} photos; calibration takes 1 to "
                             f"{MOST_PHOTOS} per sign (more is a training set: train with tfsigns.train)")
    paths = [path for found in files for path in found]
    signs = np.array([int(path.parent.name) for path in paths], dtype=np.int64)
    if metrics["config"].get("arch") not in LANDMARK_FAMILIES:
        return load_images(paths), signs
    frames = [load_frame(path) for path in paths]
    return landmark_inputs(frames, [str(path) for path in paths], metrics), signs


def landmark_inputs(frames: list[np.ndarray], names: list[str], metrics: dict) -> np.ndarray:
    """A landmark run's features (42, m) of uint8 photos, through the hand model its input contract
    names; ImageError naming the first photo in which it sees no hand (calibration must see each)."""
    contract = metrics.get("input") or {}
    X, found = feature_columns(hands_of(frames, str(contract.get("hand_model", "full"))))
    if not found.all():
        raise ImageError(f"{names[int(np.flatnonzero(~found)[0])]}: the hand model sees no hand in it; "
                         "calibration needs each sign's hand clearly in the photo")
    return X


def check_out(out: Path) -> None:
    """NEW must not exist and its parent must be a folder it can be written in."""
    if out.exists():
        raise OutputError(f"--out {out} exists: calibration writes a new run; choose a new folder")
    parent = out.resolve().parent
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise OutputError(f"--out {out}: cannot create it ({parent} is not a writable folder)")


def calibrate(run_dir: str, X_new: np.ndarray, y_new: np.ndarray, out: Path, data_dir: Path,
              seed: int, epochs: int) -> dict:
    """Fine-tune the run on the new photos mixed into SIGNS' training photos; write the new
    run into a sibling folder and move it to `out` once complete. Returns its metrics."""
    from tfsigns.networks import get_network
    from tfsigns.training import trainer
    from tfsigns.training.inference import load_model
    from tfsigns.training.train import run_metrics, training_data

    started = time.time()
    config, parameters, input_shape = load_model(run_dir)
    X_signs, Y_signs, X_test, Y_test, _ = training_data(config, data_dir)
    n_y = Y_signs.shape[0]
    if config.framing == "hand":
        X_new = frame_columns(X_new, IMAGE_SHAPE)
    Y_new = convert_to_one_hot(y_new, n_y)
    X_train = np.concatenate([X_signs, np.tile(X_new, REPEATS)], axis=1)
    Y_train = np.concatenate([Y_signs, np.tile(Y_new, REPEATS)], axis=1)
    tuned = dataclasses.replace(config, num_epochs=epochs, learning_rate=config.learning_rate * RATE_FACTOR,
                                decay="none", seed=seed, minibatch_seed=seed)
    layout = get_network(config.arch).layout
    (X_train, Y_train), test, new = (layout.from_columns(X, Y, input_shape) for X, Y in
                                     ((X_train, Y_train), (X_test, Y_test), (X_new, Y_new)))
    partial = out.parent / f".{out.name}.partial-{os.getpid()}"
    try:
        _, history = trainer.train(tuned, X_train, Y_train, {"test": test, "calibration photos": new},
                                   checkpoint_dir=partial / "checkpoints", initial=parameters)
        data = {"validation_fraction": 0.0, "split_seed": 0}
        original = finished_run(run_dir)[0]
        metrics = {**run_metrics(tuned, {}, input_shape, n_y, data_dir, data, history, started),
                   **{key: original[key] for key in ("input", "no_hand") if key in original},
                   "calibrated_from": str(run_dir), "calibration_photos": int(len(y_new))}
        write_json(partial / "metrics.json", metrics)
        os.rename(partial, out)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return metrics


def main(argv: list[str] | None = None) -> int:
    """Check the run, the photos and --out; then fine-tune and write the new run."""
    line_buffered_output()
    parser = Parser(prog=PROG, description=__doc__.splitlines()[0], formatter_class=HelpFormatter)
    parser.add_argument("--model", required=True, help="a finished run folder (tfsigns.train, make reader)")
    parser.add_argument("--photos", required=True, help=f"a folder per sign, DIR/0 ... DIR/5, each with 1 to "
                        f"{MOST_PHOTOS} photos of that sign")
    parser.add_argument("--out", required=True, help="the new run's folder (must not exist)")
    parser.add_argument("--data-dir", help="folder with the SIGNS files (default: $TFSIGNS_DATA, then data/)")
    parser.add_argument("--epochs", type=int, default=EPOCHS, help="fine-tuning epochs")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fine-tuning's shuffles and draws")
    args = parser.parse_args(argv)
    if not 1 <= args.epochs <= 1000:
        parser.error(f"--epochs must lie in [1, 1000], got {args.epochs}")
    if not 0 <= args.seed < 2**31:
        parser.error(f"--seed must lie in [0, 2**31), got {args.seed}")
    out = Path(args.out)
    try:
        metrics, _ = finished_run(args.model)
        check_out(out)
        X_new, y_new = read_photos(args.photos, metrics)
        data_dir = find_data_dir(args.data_dir)
        result = calibrate(args.model, X_new, y_new, out, data_dir, args.seed, args.epochs)
    except (CheckpointError, ImageError, OutputError, DataError, ConfigError, ModelError) as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    accuracy = result["accuracy"]
    print(f"calibrated {args.model} on {len(y_new)} photos in {result['wall_seconds']:.1f} s: SIGNS test "
          f"{accuracy['test']:.3f}, the new photos {accuracy['calibration photos']:.3f}; "
          f"the new run is {out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
