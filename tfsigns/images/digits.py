"""Other students' photos of the ASL digits 0-9 (the Sign Language Digits Dataset, Apache-2.0), which train
the ten-digit reader beside SIGNS: where they are, each photo's sign and student, and the split by student.

The photos live in folders named after their sign, DIR/0 ... DIR/9, in one folder or several (the data set
as published holds all ten; the project's mirror holds 0-5 and 6-9 apart). They are found by the flag
(--digits-dir), else $TFSIGNS_DIGITS, else data/digits; several folders are joined by ':' as in $PATH.

Each student took the ten signs one after another, so the photos' file numbers (IMG_1118.JPG) in order
run 0, 1, ..., 9 per student: a new student begins wherever the sign goes back down. A validation split
takes whole students, so a figure on it is a figure on people the reader never saw.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from tfsigns.images.dataset import DataError

DIGITS_ENV = "TFSIGNS_DIGITS"
PROJECT_DIGITS_DIR = Path(__file__).resolve().parents[2] / "data" / "digits"
DIGITS = tuple(str(sign) for sign in range(10))
NEW_DIGITS = DIGITS[6:]  # what SIGNS lacks, and the ten-digit reader must find photos of


def find_digits(given: str | None = None) -> list[Path]:
    """The photo folders: `given` (the flag), else $TFSIGNS_DIGITS, else data/digits, each of several
    joined by os.pathsep; DataError naming the source when one is not a folder or none is given."""
    if given:
        text, origin = given, "--digits-dir"
    elif os.environ.get(DIGITS_ENV):
        text, origin = os.environ[DIGITS_ENV], f"${DIGITS_ENV}"
    elif PROJECT_DIGITS_DIR.is_dir():
        text, origin = str(PROJECT_DIGITS_DIR), "the project's data/digits folder"
    else:
        raise DataError(f"the ten-digit reader needs photos of the signs 6-9: set ${DIGITS_ENV} or "
                        "--digits-dir to the Sign Language Digits Dataset's folder (data/README.md says "
                        "where it is published)")
    folders = [Path(part) for part in text.split(os.pathsep) if part]
    if not folders:
        raise DataError(f"{origin} names no folder")
    for folder in folders:
        if not folder.is_dir():
            raise DataError(f"digit photos folder {folder} (from {origin}) does not exist; see "
                            "data/README.md")
    return folders


def digit_photos(folders: list[Path]) -> tuple[list[Path], np.ndarray]:
    """Every photo under folder/<digit>/ of the folders, sorted, and its digit (m,); DataError when no
    folder holds a photo of each of 6, 7, 8 and 9 (hidden files are skipped)."""
    paths: list[Path] = []
    for folder in folders:
        for sign in DIGITS:
            if (folder / sign).is_dir():
                paths += sorted(path for path in (folder / sign).iterdir()
                                if path.is_file() and not path.name.startswith("."))
    signs = np.array([int(path.parent.name) for path in paths], dtype=np.int64)
    if missing := [sign for sign in NEW_DIGITS if not (signs == int(sign)).any()]:
        raise DataError(f"{os.pathsep.join(map(str, folders))}: no photos of {', '.join(missing)} (each "
                        "digit is a folder of its photos, DIR/6 ... DIR/9; data/README.md)")
    return paths, signs


def students(paths: list[Path], signs: np.ndarray) -> np.ndarray:
    """A student number for each photo (m,): the photos by file number, a new student wherever the sign
    goes back down (each student signed 0 to 9 in turn). A name without a number is a student of its own."""
    numbers = [re.findall(r"\d+", path.name) for path in paths]
    keys = [int(found[-1]) if found else -1 for found in numbers]
    order = sorted(range(len(paths)), key=lambda i: (keys[i], int(signs[i]), paths[i].name))
    student, current, previous = np.zeros(len(paths), np.int64), 0, -1
    for i in order:
        if keys[i] < 0 or int(signs[i]) < previous:
            current += 1
        student[i], previous = current, int(signs[i]) if keys[i] >= 0 else 10
    return student


def validation_students(student: np.ndarray, share: float, seed: int, fold: int = 0) -> np.ndarray:
    """Which photos (m,) bool belong to the students held out for validation: round(share * students) of
    them, drawn with `seed` (the fold-th such share of the same draw: folds 0, 1, ... of share 0.2 hold
    every student out once, for cross-validation); none for share 0."""
    ids = np.random.RandomState(seed).permutation(np.unique(student))
    count = round(share * len(ids))
    return np.isin(student, ids[fold * count:(fold + 1) * count])
