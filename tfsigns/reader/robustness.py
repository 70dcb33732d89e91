"""How a finished run holds up on photos taken otherwise: `python -m tfsigns.robustness --model RUN_DIR`.

Scores the run's model (MLP or CNN) on the test set (or, with --split validation, on the
validation images the run held out, to choose a model without the test set) as it is and under
each of tfsigns.images.shifts'
shifts (light, contrast, colour casts, saturation, noise, blur, JPEG, geometry, mirror, and a
phone's framing read back through tfsigns.portable.photos) at each severity. Prints a table, or the
results as JSON with --json, and writes to --out (by default RUN_DIR/robustness, or
RUN_DIR/robustness-validation for --split validation): results.json, accuracy.png (accuracy by shift
and severity) and gallery.png (what each shift does to a few test images). With --photos DIR
(a folder per sign, DIR/0 ... DIR/9 or any sign's name, of real photos: other people's hands, another
camera; several DIRs joined by ':'), the run is also scored on those photos, read by tfsigns.portable.photos
as predict reads them: their accuracy, each sign's, and the confusion matrix (results.json's "photos"),
which shows what the shifts, drawn from the same list as the training augmentation, cannot; photos of
signs the run does not know, on the share it answers "a sign I don't know"; and, pasted into cluttered
scenes, each sign's accuracy. Photos the run trained on (a ten-digit reader's students) are left out,
counted. Bad input gets one
line on stderr and exit code 2, before TensorFlow loads and before anything is written.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tfsigns.hands.files import ModelError
from tfsigns.images.scenes import paste, scene
from tfsigns.images.shifts import SHIFTS, apply_shift
from tfsigns.images.signs import (
    DataError,
    convert_to_one_hot,
    load_dataset,
    train_validation_split,
)
from tfsigns.portable.photos import ImageError, load_frame, sign_photos
from tfsigns.training.runs import CheckpointError, finished_run
from tfsigns.utils.cli import HelpFormatter, Parser, line_buffered_output
from tfsigns.utils.files import OutputError, check_writable, prepare_out_dir, to_json, write_json

PROG = "tfsigns.robustness"
GALLERY_IMAGES = 3  # test images shown per shift, of different classes
# Where each split's scores go in the run's folder by default, so that neither replaces the other
OUT_FOLDERS = {"test": "robustness", "validation": "robustness-validation"}


NO_HAND, UNKNOWN = -1, -2  # answers() for a photo without a hand seen, and for "a sign I don't know"


def answers(reader, frames: Sequence[np.ndarray]) -> np.ndarray:
    """The sign (its index) a Reader (tfsigns.training.inference) reads in each uint8 photo (h, w, 3) at its
    own size; NO_HAND where a landmark run sees no hand, UNKNOWN where it sees a sign it does not know."""
    probabilities, _ = reader.read(frames)
    read = [NO_HAND if np.isnan(row).any() else reader.signs.read(row) for row in probabilities]
    return np.array([UNKNOWN if sign is None else sign for sign in read], dtype=np.int64)


def score(reader, images: np.ndarray, labels: np.ndarray, seed: int = 0) -> dict:
    """Accuracy of a Reader on images uint8 (m, 64, 64, 3) with labels (m,), clean and under every shift
    at every level: {"clean": a, "shifts": {name: [{"level", "label", "accuracy"}, ...]}}. One pass of
    the model over all the sets together."""
    cases = [(name, level) for name, shift in SHIFTS.items() for level in shift.levels]
    sets = [images] + [apply_shift(images, name, level, seed) for name, level in cases]
    predictions = answers(reader, [image for batch in sets for image in batch])
    accuracy = [float(np.mean(p == labels)) for p in np.split(predictions, len(sets))]
    shifts: dict[str, list[dict]] = {name: [] for name in SHIFTS}
    for (name, level), value in zip(cases, accuracy[1:], strict=True):
        shifts[name].append({"level": level, "label": SHIFTS[name].label(level), "accuracy": value})
    return {"clean": accuracy[0], "shifts": shifts}


def score_photos(reader, frames: list[np.ndarray], names: list[str], folder: str) -> dict:
    """A Reader on real photos (uint8 frames) of the signs `names`: of the signs it knows, {"accuracy",
    "sign_accuracy" (each sign's share read right), "confusion" (rows: the true sign, columns: the answer,
    then "unknown" and "no hand")}; of the signs it does not know, "unknown_signs": the share it answered
    "a sign I don't know", and each such sign's answers."""
    found, signs = answers(reader, frames), list(reader.signs.names)
    known = np.array([name in signs for name in names], dtype=bool)
    labels = np.array([signs.index(name) if name in signs else UNKNOWN for name in names], dtype=np.int64)
    columns = np.where(found >= 0, found, len(signs) + (found == NO_HAND))  # signs..., unknown, no hand
    confusion = np.zeros((len(signs), len(signs) + 2), dtype=np.int64)
    np.add.at(confusion, (labels[known], columns[known]), 1)
    shown = [sign for sign in signs if confusion[signs.index(sign)].sum()]
    results = {"folder": folder, "images": int(known.sum()),
               "accuracy": float(np.mean(found[known] == labels[known])) if known.any() else None,
               "sign_accuracy": {sign: float(confusion[signs.index(sign), signs.index(sign)]
                                             / confusion[signs.index(sign)].sum()) for sign in shown},
               "columns": [*signs, "unknown", "no hand"], "confusion": confusion.tolist()}
    if (~known).any():
        others = sorted({name for name, k in zip(names, known, strict=True) if not k})
        answered = {name: _shares(columns[np.array(names) == name], [*signs, "unknown", "no hand"])
                    for name in others}
        results["unknown_signs"] = {"signs": others, "images": int((~known).sum()),
                                    "answered_unknown": float(np.mean(found[~known] == UNKNOWN)),
                                    "answers": answered}
    return results


def _shares(columns: np.ndarray, names: list[str]) -> dict[str, float]:
    """The share of each answer (a column of the confusion) among `columns`, the answers given only."""
    counts = np.bincount(columns, minlength=len(names))
    return {name: float(n / len(columns)) for name, n in zip(names, counts, strict=True) if n}


def score_scenes(reader, frames: list[np.ndarray], names: list[str], seed: int = 0) -> dict:
    """A Reader on the photos of signs it knows pasted anywhere in cluttered 640x480 scenes
    (tfsigns.images.scenes; the accuracy, and each sign's) and on as many empty scenes (the share answered
    "no hand"; a pixel run never says it)."""
    signs = list(reader.signs.names)
    kept = [(frame, name) for frame, name in zip(frames, names, strict=True) if name in signs]
    labels = np.array([signs.index(name) for _, name in kept])
    pasted = [paste(frame, seed + k)[0] for k, (frame, _) in enumerate(kept)]
    empty = [scene(seed + len(kept) + k) for k in range(len(kept))]
    found = answers(reader, pasted + empty)
    right = found[:len(kept)] == labels
    return {"images": len(kept), "accuracy": float(np.mean(right)),
            "sign_accuracy": {sign: float(np.mean(right[labels == c])) for c, sign in enumerate(signs)
                              if (labels == c).any()},
            "empty_scenes_no_hand": float(np.mean(found[len(kept):] == NO_HAND))}


def summarize(scores: dict) -> dict:
    """The scores with each shift's mean over its levels, the mean over shifts (each shift
    counts once, however many levels it has), and the worst shift by that mean."""
    means = {name: float(np.mean([row["accuracy"] for row in rows]))
             for name, rows in scores["shifts"].items()}
    worst = min(means, key=means.get)
    return {**scores, "shift_means": means, "mean_over_shifts": float(np.mean(list(means.values()))),
            "worst_shift": {"name": worst, "mean_accuracy": means[worst]}}


def table(results: dict) -> str:
    """The results as text: a row per shift, its accuracy at each severity and its mean."""
    width = max(len(name) for name in SHIFTS) + 2
    clean, photos = results["clean"], f"{results['split']} photos as they are"
    lines = [f"{'shift':<{width}}{'what it models':<32}{'severity: accuracy (mildest first)':<66}mean",
             f"{'clean':<{width}}{photos:<32}{clean:<66.3f}{clean:.3f}"]
    for name, rows in results["shifts"].items():
        cells = "  ".join(f"{row['label']}: {row['accuracy']:.3f}" for row in rows)
        lines.append(f"{name:<{width}}{SHIFTS[name].models:<32}{cells:<66}{results['shift_means'][name]:.3f}")
    worst = results["worst_shift"]
    lines += [f"mean over shifts: {results['mean_over_shifts']:.3f} (clean {results['clean']:.3f})",
              f"worst shift: {worst['name']} (mean {worst['mean_accuracy']:.3f})"]
    if photos := results.get("photos"):
        if photos["images"]:
            signs = "  ".join(f"{sign}: {a:.2f}" for sign, a in photos["sign_accuracy"].items())
            lines.append(f"photos in {photos['folder']}: {photos['accuracy']:.3f} of {photos['images']} "
                         f"(by sign {signs})")
        if others := photos.get("unknown_signs"):
            lines.append(f"photos of signs it does not know ({', '.join(others['signs'])}): "
                         f"{others['answered_unknown']:.3f} of {others['images']} answered 'a sign I don't "
                         "know'")
        if photos.get("left_out"):
            lines.append(f"left out: {photos['left_out']} photos the run trained on (its students)")
    if (scenes := results.get("scenes")) and scenes["images"]:
        signs = "  ".join(f"{sign}: {a:.2f}" for sign, a in scenes["sign_accuracy"].items())
        lines.append(f"the same photos pasted into cluttered 640x480 scenes: {scenes['accuracy']:.3f} (by "
                     f"sign {signs}); empty scenes answered 'no hand': {scenes['empty_scenes_no_hand']:.3f}")
    return "\n".join(lines)


def gallery_rows(images: np.ndarray, labels: np.ndarray, seed: int = 0
                 ) -> dict[str, list[tuple[str, np.ndarray]]]:
    """What each shift does to a few test images of different classes: a row per shift, each
    image at each level."""
    chosen = [int(np.flatnonzero(labels == c)[0]) for c in np.unique(labels)[:GALLERY_IMAGES]]
    picked = images[chosen]
    rows = {"clean": [(f"y = {labels[i]}", image) for i, image in zip(chosen, picked, strict=True)]}
    for name, shift in SHIFTS.items():
        shifted = [(shift.label(level), apply_shift(picked, name, level, seed)) for level in shift.levels]
        rows[name] = [(label, batch[k]) for k in range(len(chosen)) for label, batch in shifted]
    return rows


def write_outputs(out: Path, results: dict, images: np.ndarray, labels: np.ndarray, seed: int) -> None:
    """accuracy.png, gallery.png and then results.json in `out`, each written atomically (a
    results.json is there only when the pictures are)."""
    from tfsigns.utils.plots import plot_image_rows, plot_shift_accuracy
    prepare_out_dir(out)
    accuracies = {name: [(row["label"], row["accuracy"]) for row in rows]
                  for name, rows in results["shifts"].items()}
    plot_shift_accuracy(results["clean"], accuracies, out / "accuracy.png",
                        title=f"{results['model']}: {results['split']} accuracy under shifts")
    plot_image_rows(gallery_rows(images, labels, seed), out / "gallery.png")
    write_json(out / "results.json", results)


def test_images(data_dir: str | None) -> tuple[np.ndarray, np.ndarray]:
    """The test photos uint8 (m, 64, 64, 3) and their labels (m,)."""
    _, _, images, labels, _ = load_dataset(data_dir)
    return images, labels.reshape(-1)


def validation_images(run_dir: str | os.PathLike, data_dir: str | None) -> tuple[np.ndarray, np.ndarray]:
    """The training photos that run held out for validation, uint8 (m, 64, 64, 3), and their
    labels (m,): the same stratified split as tfsigns.train made from its recorded fraction and seed."""
    metrics, _ = finished_run(run_dir)
    fraction, seed = metrics.get("validation_fraction") or 0.0, metrics.get("split_seed", 0)
    if not fraction:
        raise CheckpointError(f"--split validation: {run_dir} was trained on the whole training set "
                              "(no --validation-fraction), so it held no validation photos out")
    images, labels, _, _, classes = load_dataset(data_dir)
    labels = labels.reshape(-1)
    columns = images.reshape(len(labels), -1).T
    _, _, held_out, one_hot = train_validation_split(columns, convert_to_one_hot(labels, len(classes)),
                                                     fraction, seed)
    return held_out.T.reshape(-1, *images.shape[1:]), one_hot.argmax(axis=0)


def photo_set(folders: str, metrics: dict) -> tuple[list[np.ndarray], list[str], int]:
    """The photos under each sign's folder of --photos (several folders joined by os.pathsep) as uint8 frames,
    their signs' names, and how many were left out: those the run trained on (its photos' students not held
    out), so that every figure is one of people it never saw."""
    trained = metrics.get("photos") if isinstance(metrics.get("photos"), dict) else {}
    seen = {str(Path(folder).resolve()) for folder in trained.get("folders", [])}
    held_out = set(trained.get("held_out", []))
    paths, names, left_out = [], [], 0
    for folder in (part for part in folders.split(os.pathsep) if part):
        for sign, files in sign_photos(folder).items():
            mine = str(Path(folder).resolve()) in seen
            kept = [path for path in files if not mine or f"{sign}/{path.name}" in held_out]
            paths, names = paths + kept, names + [sign] * len(kept)
            left_out += len(files) - len(kept)
    if not paths:
        raise ImageError(f"--photos {folders}: every photo there trained the run; none is left to score "
                         "it on")
    return [load_frame(path) for path in paths], names, left_out


def split_for(metrics: dict, split: str | None, run_dir: str) -> str:
    """The split to score: as asked, else the test set, except for a run that held the test set
    out (trained with --no-test, to choose settings), which must ask for it; said on stderr."""
    held_out = metrics.get("test_accuracy") is None
    if held_out and split is None:
        raise CheckpointError(f"--model {run_dir} was trained with --no-test (choosing settings): score it "
                              "with --split validation, or --split test to use the test set on purpose")
    if held_out and split == "test":
        print(f"{PROG}: warning: {run_dir} was trained with --no-test; scoring it on the test set, as asked",
              file=sys.stderr)
    return split or "test"


def main(argv: list[str] | None = None) -> int:
    """Check the run, the data and --out, then score, print and write the results."""
    line_buffered_output()
    parser = Parser(prog=PROG, description=__doc__.splitlines()[0], formatter_class=HelpFormatter)
    parser.add_argument("--model", required=True, help="a run folder written by python -m tfsigns.train")
    parser.add_argument("--data-dir", help="folder with the SIGNS files (default: $TFSIGNS_DATA, then data/)")
    parser.add_argument("--out", help="folder for results.json, accuracy.png, gallery.png "
                        "(default: RUN_DIR/robustness for the test split, RUN_DIR/robustness-validation "
                        "for the validation split)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the shifts' random draws")
    parser.add_argument("--split", choices=("test", "validation"),
                        help="the photos to score: the test set, or the validation images the run held "
                        "out (its --validation-fraction and --split-seed), to choose a model without the "
                        "test set (default: test; a run trained with --no-test needs it said)")
    parser.add_argument("--photos", help="folders of real photos by sign (DIR/<sign>/, several joined by "
                        "':'), scored beside the shifts; photos of signs the run does not know are scored on "
                        "whether it says so, and photos the run trained on are left out")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of the table")
    args = parser.parse_args(argv)
    if not 0 <= args.seed < 2**32:
        parser.error(f"--seed must lie in [0, 2**32), got {args.seed}")
    try:
        args.split = split_for(finished_run(args.model)[0], args.split, args.model)
        out = Path(args.out) if args.out else Path(args.model) / OUT_FOLDERS[args.split]
        images, labels = (validation_images(args.model, args.data_dir) if args.split == "validation"
                          else test_images(args.data_dir))
        photos = photo_set(args.photos, finished_run(args.model)[0]) if args.photos else None
        check_writable(out)
        from tfsigns.training.inference import Reader  # loads TensorFlow: only once the input is checked
        reader = Reader(args.model)
        try:
            results = {"model": str(args.model), "split": args.split, "images": len(labels),
                       "seed": args.seed,
                       **summarize(score(reader, images, labels, args.seed))}
            if photos:
                frames, names, left_out = photos
                results["photos"] = {**score_photos(reader, frames, names, args.photos), "left_out": left_out}
                results["scenes"] = score_scenes(reader, frames, names, args.seed)
        finally:
            reader.close()
        write_outputs(out, results, images, labels, args.seed)
    except (CheckpointError, DataError, OutputError, ImageError, ModelError) as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # --out became unwritable after the check (full disk, removed)
        print(f"{PROG}: error: --out {out}: cannot write there ({err.strerror or err})", file=sys.stderr)
        return 2
    print(to_json(results) if args.json
          else f"{table(results)}\nwritten to {out}/ (results.json, accuracy.png, gallery.png)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
