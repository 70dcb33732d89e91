"""What a landmark reader trains on, as hand features: SIGNS' hands (signs 0-5), for the ten-digit reader
other students' photos of 0-9 split by student (tfsigns.images.digits), and, for a reader that can say
"a sign I don't know", made-up hand shapes as one more class (tfsigns.hands.shapes).

A run keeps its examples (examples.npz: features, not photos) beside its checkpoint, so that teaching it a
sign (tfsigns.calibrate) trains on what it knew without the data files it came from.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tfsigns.hands.features import load_signs_landmarks, photo_features
from tfsigns.hands.shapes import made_up_shapes
from tfsigns.images.dataset import DataError
from tfsigns.images.digits import digit_photos, find_digits, students, validation_students
from tfsigns.utils.files import atomic_write_bytes

EXAMPLES_FILE = "examples.npz"
OTHER_PEOPLE = "other people"  # the evaluation set of the students held out


@dataclass
class Examples:
    """A reader's training examples as rows X (m, 42) of signs y (m,), each repeated weight (m,) times in
    training; the names of its signs; evaluation sets {name: (X (k, 42), y (k,))}; and what the data was
    (metrics.json's "data": folders, counts, students)."""

    X: np.ndarray
    y: np.ndarray
    weight: np.ndarray
    signs: list[str]
    evals: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    info: dict = field(default_factory=dict)

    def add(self, X: np.ndarray, names: list[str], weight: int) -> None:
        """Add examples X (k, 42) of the signs `names` (new names become new signs, in order), each
        repeated `weight` times in training."""
        for name in names:
            if name not in self.signs:
                self.signs.append(name)
        y = np.array([self.signs.index(name) for name in names], np.int64)
        self.X = np.concatenate([self.X, np.asarray(X, np.float32).reshape(-1, 42)])
        self.y = np.concatenate([self.y, y])
        self.weight = np.concatenate([self.weight, np.full(len(y), weight)])

    def metrics(self, unknown_threshold: float | None) -> dict:
        """What a run's metrics.json says of them: the signs' names ("signs"), the unknown sign's output and
        threshold where the reader learnt one ("unknown"; None: it did not), SIGNS' photos without a hand
        seen, and the digit photos it saw."""
        fields = {"signs": list(self.signs), "no_hand": self.info.get("signs_no_hand"),
                  "photos": self.info.get("photos")}
        if unknown_threshold is None:
            return fields
        return {**fields, "unknown": {"output": len(self.signs), "threshold": unknown_threshold}}


def reader_examples(digits: str, complexity: str, data_dir: str | os.PathLike | None,
                    digits_dir: str | None = None, held_out: float = 0.0, split_seed: int = 0, fold: int = 0
                    ) -> Examples:
    """SIGNS' hands (train; test as "test") and, for digits "0-9", the photos of find_digits(digits_dir):
    the students not held out train, the `held_out` share of students (drawn with split_seed; its fold-th
    share, for cross-validation) is the OTHER_PEOPLE set. A training photo is two examples, its hand as
    found and as a video's next frame tracks it (both_views); an evaluation photo is read as found. Photos
    in which the hand model sees no hand are left out, and counted."""
    # the photos are found before any hand is read: a missing folder is told at once
    found_photos = digit_photos(find_digits(digits_dir)) if digits == "0-9" else None
    signs = load_signs_landmarks(data_dir, complexity)
    (X, Y, found, X_tracked, Y_tracked), (X_test, Y_test, found_test, _, _) = signs["train"], signs["test"]
    info = {"signs_no_hand": {"train": int((~found).sum()), "test": int((~found_test).sum())}}
    data = Examples(np.zeros((0, 42), np.float32), np.zeros(0, np.int64), np.zeros(0, np.int64),
                    [str(c) for c in range(Y.shape[0])], {"test": (X_test.T, Y_test.argmax(axis=0))}, info)
    data.add(np.concatenate([X.T, X_tracked.T]), [str(c) for c in np.concatenate([Y, Y_tracked], axis=1)
                                                  .argmax(axis=0)], 1)
    if found_photos:
        folders, (paths, digit) = find_digits(digits_dir), found_photos
        views = photo_features(paths, complexity)
        seen, tracked = views["found"], views["found_tracked"]
        student = students(paths, digit)
        held = validation_students(student, held_out, split_seed, fold)
        data.signs = [str(c) for c in range(10)]
        for X_view, shown in ((views["X"], seen), (views["X_tracked"], tracked)):
            data.add(X_view.T[shown & ~held], [str(d) for d in digit[shown & ~held]], 1)
        if held.any():
            data.evals[OTHER_PEOPLE] = (views["X"].T[seen & held], digit[seen & held])
        info["photos"] = {"folders": [str(folder.resolve()) for folder in folders], "photos": len(paths),
                          "no_hand": int((~seen).sum()), "students": len(np.unique(student)),
                          "held_out_students": len(np.unique(student[held])), "held_out_share": held_out,
                          "split_seed": split_seed,
                          "held_out": sorted(f"{path.parent.name}/{path.name}"
                                             for path, out in zip(paths, held, strict=True) if out)}
    return data


def training_columns(data: Examples, unknown_shapes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The training set as the course's columns, X (42, m) and one-hot Y (C, m): every example repeated by
    its weight and, with unknown_shapes, that many made-up shapes (drawn with `seed`) as class C, the
    unknown sign (Y then has C + 1 rows)."""
    X, y = np.repeat(data.X, data.weight, axis=0), np.repeat(data.y, data.weight)
    C = len(data.signs)
    if unknown_shapes:
        made = made_up_shapes(data.X, data.y, unknown_shapes, seed)
        X, y = np.concatenate([X, made]), np.concatenate([y, np.full(len(made), C)])
    return X.T.astype(np.float32), np.eye(C + bool(unknown_shapes), dtype=np.float32)[y].T


def eval_columns(data: Examples, unknown: bool) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The evaluation sets as columns X (42, k) and one-hot Y (C, k), C + 1 rows for a reader with the
    unknown class."""
    classes = len(data.signs) + unknown
    return {name: (X.T.astype(np.float32), np.eye(classes, dtype=np.float32)[y].T)
            for name, (X, y) in data.evals.items()}


def save_examples(path: Path, data: Examples) -> None:
    """Write a run's examples (atomically): features, signs, weights and evaluation sets, no photo."""
    arrays = {"X": data.X, "y": data.y, "weight": data.weight, "signs": np.array(data.signs, dtype=str)}
    for k, (name, (X, y)) in enumerate(data.evals.items()):
        arrays |= {f"eval{k}_X": X, f"eval{k}_y": y, f"eval{k}_name": np.array(name)}
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    atomic_write_bytes(path, buffer.getvalue())


def load_examples(path: Path) -> Examples:
    """A run's examples as save_examples wrote them; DataError when the file is missing or damaged."""
    try:
        with np.load(path, allow_pickle=False) as stored:
            evals = {str(stored[f"eval{k}_name"]): (stored[f"eval{k}_X"], stored[f"eval{k}_y"])
                     for k in range(sum(name.endswith("_name") for name in stored.files))}
            signs = [str(sign) for sign in stored["signs"]]
            data = Examples(stored["X"], stored["y"], stored["weight"], signs, evals)
    except (OSError, ValueError, KeyError) as err:
        raise DataError(f"{path}: the run's examples cannot be read ({err})") from None
    if data.X.shape != (len(data.y), 42) or len(data.weight) != len(data.y) or \
            (len(data.y) and not 0 <= data.y.min() <= data.y.max() < len(data.signs)):
        raise DataError(f"{path}: the run's examples do not agree with each other")
    return data
