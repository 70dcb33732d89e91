"""The SIGNS data set: loading it (tfsigns.images.dataset), and shaping it.

Layout follows the course: images are columns, so X is (n_x, m) and Y is (C, m).
"""

from __future__ import annotations

import math
import os

import numpy as np

from tfsigns.images.dataset import (  # noqa: F401  (the course's load_dataset, here where lessons find it)
    DATA_ENV,
    IMAGE_SHAPE,
    SPLITS,
    DataError,
    find_data_dir,
    load_dataset,
)
from tfsigns.portable.framing import frame_columns


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
    """The course's shuffle, np.random.seed(seed) then np.random.permutation(m), drawn from a generator
    of its own (the same legacy stream), so that the caller's global NumPy stream goes on untouched."""
    return np.random.RandomState(seed).permutation(m)


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
    photo framed by tfsigns.portable.framing as the run will frame the photos it reads.
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
