"""Teach a reader your hand, your camera, or new signs, from a few photos:
`python -m tfsigns.calibrate --model RUN --photos DIR --out NEW`.

DIR holds a folder per sign, named after it, each with 1 to 20 photos of that sign (any image files
tfsigns.portable.photos reads). A folder named after a sign the run knows ("3") adapts that sign; a
folder with a new name ("6", "hello") adds that sign. DIR may hold some signs only, or new signs only: the
run keeps the signs it knows, from the examples it trained on.

- A landmark run (make reader) reads each photo's hand (and refuses a photo in which it sees none), adds
  the photos to the examples it trained on (examples.npz), each repeated REPEATS times, with its unknown
  sign's made-up shapes drawn anew for its new signs, and trains its network again from the start, as
  `tfsigns.train` trained it (seconds: the examples are 42 numbers each).
- A pixel run adapts the signs it knows only: as transfer learning does, its network is fine-tuned from
  its finished checkpoint (every variable, at a tenth of its learning rate, for EPOCHS epochs) over the
  SIGNS training photos with the new photos mixed in, each repeated REPEATS times, through the run's own
  augmentation and input contract.

NEW is a finished run like any other: predict, robustness, serve, export and the notebook read it. Bad
input (an empty sign folder, a photo outside a sign's folder, a sign's name with a slash or too long, an
unreadable image, too many photos, a photo without a hand, a run it cannot teach, NEW existing) is one
line on stderr and exit code 2, before TensorFlow loads, and nothing is written; NEW appears only when
it is complete.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from tfsigns.config import LANDMARK_FAMILIES, ConfigError, TrainConfig
from tfsigns.hands.examples import (
    EXAMPLES_FILE,
    Examples,
    eval_columns,
    load_examples,
    reader_examples,
    save_examples,
    training_columns,
)
from tfsigns.hands.features import both_views, hands_of, view_columns
from tfsigns.hands.files import ModelError
from tfsigns.images.signs import IMAGE_SHAPE, DataError, convert_to_one_hot, find_data_dir
from tfsigns.portable.framing import frame_columns
from tfsigns.portable.photos import ImageError, load_frame, load_images, sign_photos
from tfsigns.portable.read import Signs
from tfsigns.training.runs import CheckpointError, finished_run, hand_model_of
from tfsigns.utils.cli import HelpFormatter, Parser, line_buffered_output
from tfsigns.utils.files import OutputError, write_json

PROG = "tfsigns.calibrate"
MOST_PHOTOS = 20  # per sign: teaching is a few photos, not a training set
LONGEST_NAME = 40  # characters of a sign's name: a word or two, as the page shows it
EPOCHS = 16  # a pixel run's fine-tuning, chosen by measurement against 8 (docs/reader.md)
REPEATS = 20  # how many times each new photo is in an epoch's training set
RATE_FACTOR = 0.1  # a pixel run's fine-tuning rate, of the run's learning rate


def check_sign_name(name: str) -> str:
    """`name` as a sign's name, or ImageError: printable, 1 to LONGEST_NAME characters, no slash, no space at
    either end (it names a folder, a JSON field and a word on the page)."""
    if not 1 <= len(name) <= LONGEST_NAME:
        raise ImageError(f"a sign's name must be 1 to {LONGEST_NAME} characters, got {len(name)}: "
                         f"{name[:LONGEST_NAME]!r}{'...' if len(name) > LONGEST_NAME else ''}")
    if not name.isprintable() or "/" in name or "\\" in name or name != name.strip() or name in (".", ".."):
        raise ImageError(f"a sign's name must be printable, without slashes or spaces at its ends: {name!r}")
    return name


def read_photos(folder: str, metrics: dict, run_dir: str
                ) -> tuple[np.ndarray, list[str], tuple[np.ndarray, list[str]] | None]:
    """The photos of DIR as the run takes them, columns X (a pixel run's (12288, m) in [0, 1], a landmark
    run's features (42, m)), each one's sign (m names), and a landmark run's second views of them
    (landmark_inputs; None for a pixel run); ImageError for a photo outside a sign's folder,
    a bad name, a sign without photos or with too many, an unreadable file, a new sign for a pixel run, or
    a photo in which a landmark run sees no hand (CheckpointError: a landmark run through another hand model
    or feature rule than this version's)."""
    if Path(folder).is_file():
        raise ImageError(f"{folder}: is a file; --photos takes a folder with a folder per sign of its photos")
    signs = sign_photos(folder)
    if loose := sorted(p.name for p in Path(folder).iterdir() if p.is_file() and not p.name.startswith(".")):
        raise ImageError(f"{folder}/{loose[0]}: a photo must be in its sign's folder ({folder}/<sign>/)")
    landmarks = metrics["config"].get("arch") in LANDMARK_FAMILIES
    known = Signs.of(metrics).names
    for sign, found in signs.items():
        check_sign_name(sign)
        if len(found) > MOST_PHOTOS:
            raise ImageError(f"{folder}/{sign}: holds {len(found)} photos; teaching takes 1 to {MOST_PHOTOS} "
                             "per sign (more is a training set: train with tfsigns.train)")
        if sign not in known and not landmarks:
            raise ImageError(f"{folder}/{sign}: a sign this pixel run does not know; teaching a new sign "
                             f"needs a landmark reader (make reader); this one knows {', '.join(known)}")
    paths = [path for found in signs.values() for path in found]
    names = [path.parent.name for path in paths]
    if not landmarks:
        return load_images(paths), names, None
    complexity = hand_model_of(run_dir, metrics).complexity  # the run's input contract, checked
    frames = [load_frame(path) for path in paths]
    X, views = landmark_inputs(frames, [str(path) for path in paths], names, complexity)
    return X, names, views


def landmark_inputs(frames: list[np.ndarray], names: list[str], signs: list[str], complexity: str
                    ) -> tuple[np.ndarray, tuple[np.ndarray, list[str]]]:
    """A landmark run's features (42, m) of uint8 photos (named `names`) of the signs `signs`, through its
    hand model ("full" or "lite"), and their second views (both_views), where the tracked region shows the
    hand too: features (42, k) and their signs; ImageError naming the first photo in which it sees no hand
    (teaching must see each)."""
    views = view_columns(hands_of(frames, complexity, read=both_views))
    if not views["found"].all():
        raise ImageError(f"{names[int(np.flatnonzero(~views['found'])[0])]}: the hand model sees no hand in "
                         "it; teaching needs each sign's hand clearly in the photo")
    tracked = np.flatnonzero(views["found_tracked"])
    return views["X"], (views["X_tracked"][:, tracked], [signs[i] for i in tracked])


def check_out(out: Path) -> None:
    """NEW must not exist and its parent must be a folder it can be written in."""
    if out.exists():
        raise OutputError(f"--out {out} exists: calibration writes a new run; choose a new folder")
    parent = out.resolve().parent
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise OutputError(f"--out {out}: cannot create it ({parent} is not a writable folder)")


def run_examples(run_dir: str | os.PathLike, metrics: dict, data_dir: str | None) -> Examples:
    """What a landmark run trained on: its examples.npz, else (a run from before runs kept them) its data
    read again (SIGNS from data_dir; a ten-digit run's photos from the folders it recorded)."""
    if (Path(run_dir) / EXAMPLES_FILE).is_file():
        return load_examples(Path(run_dir) / EXAMPLES_FILE)
    config = TrainConfig.from_recorded(metrics["config"])
    photos = metrics.get("photos") or {}
    folders = os.pathsep.join(photos.get("folders", []))
    return reader_examples(config.digits, config.hand_model, data_dir, folders,
                           photos.get("held_out_share", 0.0), photos.get("split_seed", 0))


def calibrate(run_dir: str, X_new: np.ndarray, names: list[str], out: Path, data_dir: str | None,
              seed: int, epochs: int | None, views: tuple[np.ndarray, list[str]] | None = None) -> dict:
    """Teach the run the photos X_new (columns, as read_photos gives them) of the signs `names` and, for a
    landmark run, their second views (see the module's docstring); write the new run into a sibling folder
    and move it to `out` once complete. Returns its metrics."""
    from tfsigns.training.inference import load_model
    from tfsigns.training.train import run_metrics

    started = time.time()
    original = finished_run(run_dir)[0]
    config, parameters, input_shape = load_model(run_dir)
    partial = out.parent / f".{out.name}.partial-{os.getpid()}"
    try:
        if config.arch in LANDMARK_FAMILIES:
            tuned, history, fields = teach(config, run_dir, original, X_new, names, views, partial, data_dir,
                                           seed, epochs)
        else:
            tuned, history, fields = fine_tune(config, parameters, input_shape, X_new, names, partial,
                                               find_data_dir(data_dir), seed, epochs or EPOCHS,
                                               list(Signs.of(original).names))
        data = {"validation_fraction": 0.0, "split_seed": 0}
        data_from = Path(original.get("data_dir", "."))
        kept = {key: original[key] for key in ("input", "no_hand", "photos") if key in original}
        metrics = {**run_metrics(tuned, {}, input_shape, fields["classes"], data_from, data, history,
                                 started), **fields, **kept,
                   "calibrated_from": str(run_dir), "calibration_photos": len(names),
                   "taught": [name for name in dict.fromkeys(names) if name not in Signs.of(original).names]}
        write_json(partial / "metrics.json", metrics)
        os.rename(partial, out)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return metrics


def teach(config: TrainConfig, run_dir: str, original: dict, X_new: np.ndarray, names: list[str],
          views: tuple[np.ndarray, list[str]] | None, partial: Path, data_dir: str | None, seed: int,
          epochs: int | None):
    """A landmark run trained again from the start on its examples with the new photos and their second
    views (each REPEATS times) and, for its unknown sign, made-up shapes drawn anew; (its config, History,
    metrics fields)."""
    from tfsigns.training import trainer

    examples = run_examples(run_dir, original, data_dir)
    examples.add(X_new.T, names, REPEATS)
    if views is not None:
        examples.add(views[0].T, views[1], REPEATS)
    unknown = config.unknown_shapes > 0
    tuned = dataclasses.replace(config, num_epochs=epochs or config.num_epochs, seed=seed,
                                minibatch_seed=seed)
    X_train, Y_train = training_columns(examples, tuned.unknown_shapes, tuned.seed)
    sets = {**eval_columns(examples, unknown), "calibration photos": (X_new, _one_hot(names, examples.signs,
                                                                                     unknown))}
    _, history = trainer.train(tuned, X_train, Y_train, sets, checkpoint_dir=partial / "checkpoints")
    save_examples(partial / EXAMPLES_FILE, examples)
    threshold = config.unknown_threshold if unknown else None
    return tuned, history, {**examples.metrics(threshold), "classes": int(Y_train.shape[0])}


def fine_tune(config: TrainConfig, parameters: dict, input_shape: tuple[int, ...], X_new: np.ndarray,
              names: list[str], partial: Path, data_dir: Path, seed: int, epochs: int, signs: list[str]):
    """A pixel run fine-tuned from its checkpoint on SIGNS' training photos with the new ones mixed in
    (each REPEATS times), in its family's layout; (its config, History, metrics fields)."""
    from tfsigns.networks import get_network
    from tfsigns.training import trainer
    from tfsigns.training.train import training_data

    X_signs, Y_signs, evals, _ = training_data(config, data_dir, {})
    if config.framing == "hand":
        X_new = frame_columns(X_new, IMAGE_SHAPE)
    Y_new = _one_hot(names, signs, False)
    X_train = np.concatenate([X_signs, np.tile(X_new, REPEATS)], axis=1)
    Y_train = np.concatenate([Y_signs, np.tile(Y_new, REPEATS)], axis=1)
    tuned = dataclasses.replace(config, num_epochs=epochs, learning_rate=config.learning_rate * RATE_FACTOR,
                                decay="none", seed=seed, minibatch_seed=seed)
    layout = get_network(config.arch).layout
    (X_train, Y_train), test, new = (layout.from_columns(X, Y, input_shape) for X, Y in
                                     ((X_train, Y_train), evals["test"], (X_new, Y_new)))
    _, history = trainer.train(tuned, X_train, Y_train, {"test": test, "calibration photos": new},
                               checkpoint_dir=partial / "checkpoints", initial=parameters)
    return tuned, history, {"signs": signs, "classes": len(signs)}


def _one_hot(names: list[str], signs: list[str], unknown: bool) -> np.ndarray:
    """One-hot columns (C, m) of the signs `names` among `signs`, one more row for the unknown sign."""
    return convert_to_one_hot(np.array([signs.index(name) for name in names]), len(signs) + unknown)


def main(argv: list[str] | None = None) -> int:
    """Check the run, the photos and --out; then teach and write the new run."""
    line_buffered_output()
    parser = Parser(prog=PROG, description=__doc__.splitlines()[0], formatter_class=HelpFormatter)
    parser.add_argument("--model", required=True, help="a finished run folder (tfsigns.train, make reader)")
    parser.add_argument("--photos", required=True, help=f"a folder per sign, DIR/<sign>/, each with 1 to "
                        f"{MOST_PHOTOS} photos of that sign: a sign the run knows is adapted, a new name "
                        "added")
    parser.add_argument("--out", required=True, help="the new run's folder (must not exist)")
    parser.add_argument("--data-dir", help="folder with the SIGNS files, for a pixel run (default: "
                        "$TFSIGNS_DATA, then data/)")
    parser.add_argument("--epochs", type=int, help=f"training epochs (default: a landmark run's own; a pixel "
                        f"run's fine-tuning {EPOCHS})")
    parser.add_argument("--seed", type=int, default=0, help="seed of the training's shuffles and draws")
    args = parser.parse_args(argv)
    if args.epochs is not None and not 1 <= args.epochs <= 1000:
        parser.error(f"--epochs must lie in [1, 1000], got {args.epochs}")
    if not 0 <= args.seed < 2**31:
        parser.error(f"--seed must lie in [0, 2**31), got {args.seed}")
    out = Path(args.out)
    try:
        metrics, _ = finished_run(args.model)
        check_out(out)
        X_new, names, views = read_photos(args.photos, metrics, args.model)
        if metrics["config"].get("arch") not in LANDMARK_FAMILIES:
            find_data_dir(args.data_dir)
        result = calibrate(args.model, X_new, names, out, args.data_dir, args.seed, args.epochs, views)
    except (CheckpointError, ImageError, OutputError, DataError, ConfigError, ModelError) as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    accuracy, taught = result["accuracy"], result["taught"]
    test = f"SIGNS test {accuracy['test']:.3f}, " if "test" in accuracy else ""
    new = f" and the new signs {', '.join(taught)}" if taught else ""
    print(f"taught {args.model} {len(names)} photos{new} in "
          f"{result['wall_seconds']:.1f} s: {test}the new photos {accuracy['calibration photos']:.3f}; it "
          f"reads {', '.join(result['signs'])}; the new run is {out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
