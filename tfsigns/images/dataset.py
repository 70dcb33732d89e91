"""The SIGNS files: finding the data folder and loading its two splits with validation, as the course's
load_dataset does. Nothing here shapes the data (tfsigns.images.signs does), so a graded submission's
sandbox can hold it: a notebook that loads SIGNS works there as it does for the learner.
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np

# Where the project's own copy lives when neither flag nor environment names one.
PROJECT_DATA_DIR = Path(__file__).resolve().parents[2] / "data"  # tfsigns/images/signs.py -> the project
DATA_ENV = "TFSIGNS_DATA"

# (file name, x key, y key) for each split, as the course's files spell them.
SPLITS = {
    "train": ("train_signs.h5", "train_set_x", "train_set_y"),
    "test": ("test_signs.h5", "test_set_x", "test_set_y"),
}
IMAGE_SHAPE = (64, 64, 3)


class DataError(ValueError):
    """A data file is missing or is not the SIGNS data set; the message names the file."""


def find_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """Return the data folder: the argument, else $TFSIGNS_DATA, else the project's data/."""
    if data_dir:
        path, origin = Path(data_dir), "--data-dir"
    elif os.environ.get(DATA_ENV):
        path, origin = Path(os.environ[DATA_ENV]), f"${DATA_ENV}"
    else:
        path, origin = PROJECT_DATA_DIR, "the project's data/ folder"
    if not path.is_dir():
        raise DataError(f"data folder {path} (from {origin}) does not exist; see data/README.md")
    return path


def _open_checked(path: Path) -> h5py.File:
    """Open an HDF5 file, turning every way it can be broken into a DataError."""
    if not path.is_file():
        raise DataError(f"{path}: file not found; see data/README.md for where to get it")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: file is empty")
    if not h5py.is_hdf5(path):
        with open(path, "rb") as f:
            head = f.read(512).lstrip().lower()
        if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head:
            raise DataError(f"{path}: is an HTML page saved under an .h5 name, not HDF5 data")
        raise DataError(f"{path}: is not an HDF5 file")
    try:
        return h5py.File(path, "r")
    except OSError as err:
        raise DataError(f"{path}: cannot be read as HDF5 (truncated or damaged: {err})") from None


def _read_split(data_dir: Path, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read and validate one split; return (x uint8 (m,64,64,3), y int64 (1,m), classes)."""
    name, x_key, y_key = SPLITS[split]
    path = data_dir / name
    with _open_checked(path) as f:
        for key in (x_key, y_key, "list_classes"):
            if key not in f:
                raise DataError(f"{path}: missing key {key!r} (has {sorted(f.keys())})")
        try:
            x, y, classes = f[x_key][:], f[y_key][:], f["list_classes"][:]
        except (OSError, TypeError) as err:
            raise DataError(f"{path}: data cannot be read (truncated or damaged: {err})") from None
    if x.ndim != 4 or x.shape[1:] != IMAGE_SHAPE:
        raise DataError(f"{path}: {x_key} has shape {x.shape}, expected (m, 64, 64, 3)")
    if x.dtype != np.uint8:
        raise DataError(f"{path}: {x_key} has dtype {x.dtype}, expected uint8 pixels")
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"{path}: {y_key} has shape {y.shape} and dtype {y.dtype}, "
                        "expected a 1-D integer array")
    if (classes.ndim != 1 or not np.issubdtype(classes.dtype, np.integer)
            or not np.array_equal(classes, np.arange(len(classes))) or len(classes) < 2):
        raise DataError(f"{path}: list_classes must be 0, 1, ..., C-1 (C >= 2), got {classes.tolist()}")
    if len(x) != len(y):
        raise DataError(f"{path}: {len(x)} images but {len(y)} labels")
    bad = ~np.isin(y, classes)
    if bad.any():
        raise DataError(f"{path}: {int(bad.sum())} labels outside the classes "
                        f"{classes.tolist()} (e.g. {int(y[bad][0])})")
    return x, y.astype(np.int64).reshape(1, -1), classes


def load_dataset(data_dir: str | os.PathLike | None = None):
    """Load SIGNS as the course does: (train_x_orig, train_y_orig, test_x_orig, test_y_orig, classes).

    x arrays are uint8 (m, 64, 64, 3); y arrays are int64 (1, m); classes is (6,).
    """
    folder = find_data_dir(data_dir)
    train_x, train_y, train_classes = _read_split(folder, "train")
    test_x, test_y, classes = _read_split(folder, "test")
    if not np.array_equal(train_classes, classes):
        raise DataError(f"{folder}: train and test files list different classes "
                        f"({train_classes.tolist()} vs {classes.tolist()})")
    return train_x, train_y, test_x, test_y, classes
