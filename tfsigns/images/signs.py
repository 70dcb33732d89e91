"""The SIGNS data set: finding it, loading it with validation, and shaping it.

Layout follows the course: images are columns, so X is (n_x, m) and Y is (C, m).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import h5py
import numpy as np

from tfsigns.images.framing import frame_columns

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


def flatten_and_normalize(x_orig: np.ndarray) -> np.ndarray:
    """Images (m, h, w, c) uint8 -> (h*w*c, m) float32 in [0, 1], one image per column."""
    return (x_orig.reshape(x_orig.shape[0], -1).T / 255.0).astype(np.float32)


def convert_to_one_hot(Y: np.ndarray, C: int) -> np.ndarray:
    """Labels (1, m) or (m,) -> one-hot (C, m) float32."""
    values = np.asarray(Y).reshape(-1)
    labels = values.astype(np.int64)
    if not np.array_equal(labels, values):
        raise ValueError("labels must be whole numbers")
    if labels.size and (labels.min() < 0 or labels.max() >= C):
        raise ValueError(f"labels must lie in [0, {C}), got range [{labels.min()}, {labels.max()}]")
    return np.eye(C, dtype=np.float32)[labels].T


def make_blobs(*sizes: int, n_x: int = 20, C: int = 3, seed: int = 0) -> tuple[np.ndarray, ...]:
    """Separable synthetic data around C random centres shared by all sizes: for each m in sizes, X (n_x, m)
    float32 and one-hot Y (C, m); so (X, Y) for one size, (X_train, Y_train, X_test, Y_test) for two."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 2, size=(C, n_x))
    data = []
    for m in sizes:
        labels = rng.integers(0, C, size=m)
        X = (centres[labels] + rng.normal(0, 0.5, size=(m, n_x))).T.astype(np.float32)
        data += [X, convert_to_one_hot(labels, C)]
    return tuple(data)


def minibatch_permutation(m: int, seed: int) -> np.ndarray:
    """The course's shuffle: np.random.seed(seed) then np.random.permutation(m)."""
    np.random.seed(seed)
    return np.random.permutation(m)


def random_mini_batches(X: np.ndarray, Y: np.ndarray, mini_batch_size: int = 64, seed: int = 0):
    """Shuffle the columns of (X, Y) with `seed` and cut them into minibatches.

    X is (n_x, m), Y is (n_y, m); returns a list of (X_batch, Y_batch) with
    ceil(m / mini_batch_size) entries, the last one smaller when m does not divide.
    """
    if mini_batch_size <= 0:
        raise ValueError(f"mini_batch_size must be positive, got {mini_batch_size}")
    m = X.shape[1]
    if Y.shape[1] != m:
        raise ValueError(f"X has {m} examples (columns) but Y has {Y.shape[1]}")
    permutation = minibatch_permutation(m, seed)
    shuffled_X, shuffled_Y = X[:, permutation], Y[:, permutation].reshape(Y.shape[0], m)
    return [
        (shuffled_X[:, k:k + mini_batch_size], shuffled_Y[:, k:k + mini_batch_size])
        for k in range(0, math.ceil(m / mini_batch_size) * mini_batch_size, mini_batch_size)
    ]


def load_signs(data_dir: str | os.PathLike | None = None, framing: str = "none"):
    """SIGNS ready for training: (X_train (12288, 1080), Y_train (6, 1080), X_test, Y_test, classes).

    X float32 in [0, 1], Y one-hot float32, both column-per-example; with framing "hand", each
    photo framed by tfsigns.images.framing as the run will frame the photos it reads.
    """
    train_x, train_y, test_x, test_y, classes = load_dataset(data_dir)
    C = len(classes)
    X_train, X_test = (flatten_and_normalize(x) for x in (train_x, test_x))
    if framing == "hand":
        X_train, X_test = (frame_columns(X, IMAGE_SHAPE) for X in (X_train, X_test))
    return X_train, convert_to_one_hot(train_y, C), X_test, convert_to_one_hot(test_y, C), classes


def train_validation_split(X: np.ndarray, Y: np.ndarray, fraction: float, seed: int = 0):
    """Carve a stratified validation set from training data: (X_train, Y_train, X_val, Y_val).

    X (n_x, m), Y one-hot (C, m). Each class gives round(fraction * its count)
    examples, chosen by a NumPy generator seeded with `seed`; column order is kept.
    A fraction that leaves some class with no validation or no training example is
    refused (DataError): its accuracy would be undefined, or it could not be learned.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"validation fraction must lie in (0, 1), got {fraction}")
    labels = Y.argmax(axis=0)
    rng = np.random.default_rng(seed)
    val = np.zeros(labels.shape, dtype=bool)
    counts = np.bincount(labels)
    smallest = counts[counts > 0].min()
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        size = round(fraction * len(members))
        if not 0 < size < len(members):
            side = "validation" if size == 0 else "training"
            raise DataError(f"validation fraction {fraction:g} leaves class {c} ({len(members)} images) "
                            f"with no {side} image; choose a fraction above {0.5 / smallest:.3g} "
                            f"and below {1 - 0.5 / smallest:.3g}")
        val[rng.choice(members, size=size, replace=False)] = True
    return X[:, ~val], Y[:, ~val], X[:, val], Y[:, val]
