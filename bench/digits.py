"""The ten-digit reader, "a sign I don't know" and teaching a sign, measured on other people's photos: the
figures of docs/reader.md's tables.

    python -m bench.digits [--parts ten,scenes,unknown,teach,calibrate] [--seeds 1,2,3]

Every run trains as `python -m tfsigns.train --config ...` does (the same examples, made-up shapes, session
loop and settings, with --seed and --minibatch-seed N), in this process, on hand features computed once and
cached; answers are the reader's (tfsigns.portable.read.Signs: an unknown answer to a known sign is wrong).
The photos are ../shared's (or $TFSIGNS_DIGITS): other students' 0-5 and 6-9, split by student.

- ten: tfsigns/reader.json with each fifth of the students held out in turn (folds 0-4: every student once),
  for each seed: each digit's share of the held-out photos read right, SIGNS test, and the share answered
  "unknown".
- scenes: every photo pasted into a cluttered 640x480 scene (as tfsigns.robustness pastes it), read by the
  ten-digit reader of the fold that held its student out: each digit's share read right (no hand: wrong).
- unknown: tfsigns/reader_signs.json with 0, 250, 500, 1000 and 2000 made-up shapes, each seed: the share of
  fresh made-up shapes (another seed's) answered "unknown" and of known signs read right (SIGNS test; other
  people's 0-5, validation), which chose the count; and, as the test it was never tuned on, other people's
  6-9 answered "unknown". For --unknown-shapes, the trade-off over a threshold on the unknown output.
- teach: that six-sign reader taught 6, 7, 8 and 9 from 1, 5, 10 and 20 photos each (of as many students),
  as tfsigns.calibrate teaches, then other students' 6-9 and 0-5 read; and the wall time of
  `python -m tfsigns.calibrate` itself for 10 photos each.
- calibrate: the six-sign reader adapted with 5 photos of each of other people's 0-5, and the ten-digit
  reader (fold 0) with 5 photos of each digit of its held-out students, each read on the other photos.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from tfsigns.config import RunSettings, TrainConfig
from tfsigns.hands.examples import Examples, reader_examples, training_columns
from tfsigns.hands.features import photo_features
from tfsigns.hands.shapes import made_up_shapes
from tfsigns.images.digits import digit_photos, find_digits, students, validation_students
from tfsigns.portable.read import Signs
from tfsigns.reader.calibrate import REPEATS

CONFIGS = Path(__file__).resolve().parents[1] / "tfsigns"
SHAPES = (0, 250, 500, 1000, 2000)
SHOTS = (1, 5, 10, 20)
THRESHOLDS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9)


def config_of(name: str, seed: int, **changes) -> TrainConfig:
    """A reader's settings file as a TrainConfig, with the seed (and minibatch seed) N and any changes."""
    settings = json.loads((CONFIGS / name).read_text())
    return dataclasses.replace(TrainConfig.from_recorded(settings), seed=seed, minibatch_seed=seed, **changes)


def trained(config: TrainConfig, examples: Examples):
    """The network trained on the examples as tfsigns.train trains it: its parameters."""
    from tfsigns.training import trainer
    X, Y = training_columns(examples, config.unknown_shapes, config.seed)
    return trainer.train(config, X, Y, None, RunSettings(print_cost=False))[0]


def answers(parameters, signs: Signs, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The reader's answers to features X (m, 42): each sign's index, -2 for "unknown"; and the outputs'
    probabilities (m, outputs)."""
    from tfsigns.training.inference import predict
    probabilities = predict(X.T.astype(np.float32), parameters, return_probabilities=True).T
    read = [signs.read(row) for row in probabilities]
    return np.array([-2 if sign is None else sign for sign in read]), probabilities


class Photos:
    """Other students' photos of the digits: features as found and tracked, digit, student."""

    def __init__(self, folders: str | None, complexity: str = "full"):
        paths, self.digit = digit_photos(find_digits(folders))
        views = photo_features(paths, complexity)
        self.X, self.tracked = views["X"].T, views["X_tracked"].T
        self.found, self.found_tracked = views["found"], views["found_tracked"]
        self.student = students(paths, self.digit)


def part_ten(photos: Photos, seeds: list[int], folders: str | None, shapes: int) -> None:
    print(f"ten digits, {shapes} made-up shapes: 5 folds of students held out, per seed; each digit's share "
          "read right")
    for seed in seeds:
        config = config_of("reader.json", seed, unknown_shapes=shapes)
        right, digits, unknown, test, made, outputs, fresh_outputs = [], [], [], [], [], [], []
        for fold in range(5):
            examples = reader_examples("0-9", config.hand_model, None, folders, 0.2, 0, fold)
            parameters = trained(config, examples)
            signs = Signs(tuple(examples.signs), len(examples.signs), config.unknown_threshold)
            X, y = examples.evals["other people"]
            read, probabilities = answers(parameters, signs, X)
            right.append(read == y), digits.append(y), unknown.append(read == -2)
            outputs.append(probabilities)
            X_test, y_test = examples.evals["test"]
            test.append(np.mean(answers(parameters, signs, X_test)[0] == y_test))
            fresh = made_up_shapes(examples.X, examples.y, 2000, seed + 1000)
            read_fresh, probabilities_fresh = answers(parameters, signs, fresh)
            made.append(np.mean(read_fresh == -2)), fresh_outputs.append(probabilities_fresh)
        right, digits, unknown, outputs, fresh_outputs = map(np.concatenate, (right, digits, unknown, outputs,
                                                                              fresh_outputs))
        by_digit = "  ".join(f"{d}: {right[digits == d].mean():.3f}" for d in range(10))
        print(f"  seed {seed}: {right.mean():.4f} of {len(right)} ({by_digit}); worst "
              f"{min(right[digits == d].mean() for d in range(10)):.3f}; answered unknown "
              f"{unknown.mean():.3f}; SIGNS test {np.mean(test):.4f}; made-up shapes unknown "
              f"{np.mean(made):.3f}", flush=True)
        if shapes:  # "unknown" where its output is at least t: right (not refused, the right digit), made-up
            print("    " + "; ".join(
                f"p >= {t}: {np.mean((outputs[:, -1] < t) & (outputs[:, :-1].argmax(axis=1) == digits)):.4f} "
                f"({np.mean(fresh_outputs[:, -1] >= t):.3f})" for t in THRESHOLDS), flush=True)


def part_scenes(photos: Photos, seeds: list[int], folders: str | None) -> None:
    """Every photo pasted into a cluttered 640x480 scene as tfsigns.robustness pastes it (seed 0), its hand
    found once, then read by the ten-digit reader of each fold that held its student out."""
    from tfsigns.hands.features import feature_columns, hands_of
    from tfsigns.images.scenes import paste
    from tfsigns.portable.photos import load_frame
    paths, _ = digit_photos(find_digits(folders))
    hands = hands_of([paste(load_frame(path), k)[0] for k, path in enumerate(paths)])
    X, found = feature_columns(hands)
    print(f"ten digits in cluttered scenes: a hand found in {found.mean():.3f} of the {len(found)} photos")
    for seed in seeds:
        config = config_of("reader.json", seed)
        right = np.zeros(len(paths), bool)
        for fold in range(5):
            examples = reader_examples("0-9", config.hand_model, None, folders, 0.2, 0, fold)
            held = validation_students(photos.student, 0.2, 0, fold) & found  # as reader_examples holds out
            signs = Signs(tuple(examples.signs), len(examples.signs), config.unknown_threshold)
            read, _ = answers(trained(config, examples), signs, X.T[held])
            right[held] = read == photos.digit[held]
        by_digit = "  ".join(f"{d}: {right[photos.digit == d].mean():.3f}" for d in range(10))
        print(f"  seed {seed}: {right.mean():.4f} ({by_digit}); worst "
              f"{min(right[photos.digit == d].mean() for d in range(10)):.3f}", flush=True)


def six_sign_reader(seed: int, shapes: int) -> tuple[object, Examples, Signs]:
    config = config_of("reader_signs.json", seed, unknown_shapes=shapes)
    examples = reader_examples("0-5", config.hand_model, None)
    signs = Signs(tuple(examples.signs), len(examples.signs) if shapes else None, config.unknown_threshold)
    return trained(config, examples), examples, signs


def part_unknown(photos: Photos, seeds: list[int], chosen: int) -> None:
    print("six signs: made-up shapes; fresh made-up shapes and other people's 6-9 answered unknown, known "
          "signs read right")
    known, new = photos.found & (photos.digit < 6), photos.found & (photos.digit >= 6)
    for shapes in SHAPES:
        rows = []
        for seed in seeds:
            parameters, examples, signs = six_sign_reader(seed, shapes)
            fresh = made_up_shapes(examples.X, examples.y, 2000, seed + 1000)
            X_test, y_test = examples.evals["test"]
            read_fresh, _ = answers(parameters, signs, fresh)
            read_test, _ = answers(parameters, signs, X_test)
            read_known, _ = answers(parameters, signs, photos.X[known])
            read_new, p_new = answers(parameters, signs, photos.X[new])
            rows.append([np.mean(read_fresh == -2), np.mean(read_test == y_test),
                         np.mean(read_known == photos.digit[known]), np.mean(read_new == -2)])
            if shapes == chosen and shapes:
                curve(parameters, signs, fresh, X_test, y_test, photos, known, new, seed)
        mean, spread = np.mean(rows, axis=0), np.std(rows, axis=0)
        print(f"  {shapes:5d} shapes: made-up unknown {mean[0]:.3f} ± {spread[0]:.3f}, SIGNS test "
              f"{mean[1]:.3f} ± {spread[1]:.3f}, other people's 0-5 right {mean[2]:.3f} ± {spread[2]:.3f} | "
              f"6-9 unknown {mean[3]:.3f} ± {spread[3]:.3f}", flush=True)


def curve(parameters, signs: Signs, fresh: np.ndarray, X_test: np.ndarray, y_test: np.ndarray, photos: Photos,
          known: np.ndarray, new: np.ndarray, seed: int) -> None:
    """The trade-off when "unknown" is said wherever the unknown output is at least t (t = 0.5 is close to
    the reader's own rule, the highest output)."""
    outputs = {name: answers(parameters, signs, X)[1] for name, X in
               (("fresh", fresh), ("test", X_test), ("known", photos.X[known]), ("new", photos.X[new]))}
    for t in THRESHOLDS:
        said = {name: p[:, -1] >= t for name, p in outputs.items()}
        right = {name: float(np.mean(~said[name] & (outputs[name][:, :-1].argmax(axis=1) == y)))
                 for name, y in (("test", y_test), ("known", photos.digit[known]))}  # read, and not refused
        print(f"    seed {seed}, unknown at p >= {t}: made-up {np.mean(said['fresh']):.3f}, SIGNS test "
              f"refused {np.mean(said['test']):.3f} (right {right['test']:.3f}), other 0-5 refused "
              f"{np.mean(said['known']):.3f} (right {right['known']:.3f}) | 6-9 unknown "
              f"{np.mean(said['new']):.3f}")


def part_teach(photos: Photos, seeds: list[int], shapes: int) -> None:
    print("teaching the six-sign reader 6, 7, 8 and 9 from n photos each, of n students; other students read")
    config = config_of("reader_signs.json", 0, unknown_shapes=shapes)
    for shots in SHOTS:
        rows = []
        for seed in seeds:
            _, examples, _ = six_sign_reader(seed, shapes)
            rng = np.random.default_rng(seed)
            pupils = rng.permutation(np.unique(photos.student))[:shots]
            taught = np.zeros(len(photos.digit), bool)
            for digit in (6, 7, 8, 9):
                mine = np.flatnonzero(np.isin(photos.student, pupils) & (photos.digit == digit)
                                      & photos.found)
                taught[mine[:shots]] = True
            examples.add(photos.X[taught], [str(d) for d in photos.digit[taught]], REPEATS)
            also = taught & photos.found_tracked
            examples.add(photos.tracked[also], [str(d) for d in photos.digit[also]], REPEATS)
            parameters = trained(dataclasses.replace(config, seed=seed, minibatch_seed=seed), examples)
            signs = Signs(tuple(examples.signs), len(examples.signs), config.unknown_threshold)
            others = photos.found & ~np.isin(photos.student, pupils)
            read, _ = answers(parameters, signs, photos.X[others])
            names = np.array([signs.names[r] if r >= 0 else "unknown" for r in read])
            right = names == photos.digit[others].astype(str)
            rows.append([right[photos.digit[others] >= 6].mean(), right[photos.digit[others] < 6].mean()])
        mean, spread = np.mean(rows, axis=0), np.std(rows, axis=0)
        print(f"  {shots:2d} photos a sign: other people's 6-9 {mean[0]:.3f} ± {spread[0]:.3f}, their 0-5 "
              f"{mean[1]:.3f} ± {spread[1]:.3f}", flush=True)


def teach_time(folders: str | None) -> None:
    """`python -m tfsigns.calibrate` on a fresh six-sign run with 10 photos of each of 6-9, timed whole."""
    with tempfile.TemporaryDirectory() as scratch:
        run, photos = Path(scratch) / "six", Path(scratch) / "photos"
        subprocess.run([sys.executable, "-m", "tfsigns.train", "--config", str(CONFIGS / "reader_signs.json"),
                        "--out", str(run), "--quiet"], check=True, capture_output=True)
        paths, digits = digit_photos(find_digits(folders))
        for digit in (6, 7, 8, 9):
            (photos / str(digit)).mkdir(parents=True)
            for path in [p for p, d in zip(paths, digits, strict=True) if d == digit][:10]:
                shutil.copy(path, photos / str(digit) / path.name)
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "tfsigns.calibrate", "--model", str(run), "--photos",
                               str(photos), "--out", str(Path(scratch) / "taught")], capture_output=True,
                              text=True, check=True)
        print(f"  python -m tfsigns.calibrate, 10 photos of each of 6-9: {time.perf_counter() - started:.1f} "
              f"s in all ({done.stdout.strip().splitlines()[-1]})", flush=True)


def part_calibrate(photos: Photos, seeds: list[int], folders: str | None, shapes: int) -> None:
    print("calibrating with 5 photos of each sign of other people, then reading the rest: the six-sign "
          "reader on other people's 0-5; the ten-digit reader (fold 0) on its held-out students' 0-9")
    known = np.flatnonzero(photos.found & (photos.digit < 6))
    for seed in seeds:
        rng = np.random.default_rng(seed)
        for name, digits in (("six-sign", 6), ("ten-digit", 10)):
            if digits == 6:
                config = config_of("reader_signs.json", seed, unknown_shapes=shapes)
                examples = reader_examples("0-5", config.hand_model, None)
                X, y = photos.X[known], photos.digit[known]
            else:
                config = config_of("reader.json", seed)
                examples = reader_examples("0-9", config.hand_model, None, folders, 0.2, 0, 0)
                X, y = examples.evals.pop("other people")
            pick = np.concatenate([rng.permutation(np.flatnonzero(y == d))[:5] for d in range(digits)])
            rest = np.setdiff1d(np.arange(len(y)), pick)
            signs = Signs(tuple(examples.signs), len(examples.signs), config.unknown_threshold)
            before = np.mean(answers(trained(config, examples), signs, X[rest])[0] == y[rest])
            examples.add(X[pick], [str(d) for d in y[pick]], REPEATS)
            after = np.mean(answers(trained(config, examples), signs, X[rest])[0] == y[rest])
            print(f"  seed {seed}, {name} reader: the other {len(rest)} photos {after:.3f} (before "
                  f"{before:.3f})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--parts", default="ten,unknown,teach,calibrate")
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--unknown-shapes", type=int, default=json.loads(
        (CONFIGS / "reader_signs.json").read_text())["unknown_shapes"], help="the six-sign reader's, for the "
                        "trade-off curve and teaching")
    parser.add_argument("--ten-shapes", default=str(json.loads((CONFIGS / "reader.json").read_text())[
        "unknown_shapes"]), help="the ten-digit reader's made-up shapes, comma-separated to compare")
    parser.add_argument("--digits-dir", help="the photos (default: $TFSIGNS_DIGITS, then data/digits)")
    args = parser.parse_args()
    seeds, parts = [int(s) for s in args.seeds.split(",")], args.parts.split(",")
    photos = Photos(args.digits_dir)
    started = time.perf_counter()
    if "ten" in parts:
        for shapes in (int(count) for count in args.ten_shapes.split(",")):
            part_ten(photos, seeds, args.digits_dir, shapes)
    if "scenes" in parts:
        part_scenes(photos, seeds, args.digits_dir)
    if "unknown" in parts:
        part_unknown(photos, seeds, args.unknown_shapes)
    if "teach" in parts:
        part_teach(photos, seeds, args.unknown_shapes)
        teach_time(args.digits_dir)
    if "calibrate" in parts:
        part_calibrate(photos, seeds, args.digits_dir, args.unknown_shapes)
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
