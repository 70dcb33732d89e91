"""Shared fixtures: the real SIGNS data (or a clear skip), fresh graphs, tiny synthetic data."""

import os
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tfsigns.data import convert_to_one_hot

REAL_DATA = Path(os.environ.get("TFSIGNS_DATA") or Path(__file__).resolve().parents[2] / "shared/data/signs")
requires_real_data = pytest.mark.skipif(
    not (REAL_DATA / "train_signs.h5").is_file(),
    reason=f"real SIGNS data not found in {REAL_DATA} (set TFSIGNS_DATA or provide ../shared/data/signs)")


@pytest.fixture(scope="session")
def signs():
    """The real data, ready for training: (X_train, Y_train, X_test, Y_test, classes)."""
    from tfsigns.data import load_signs
    return load_signs(REAL_DATA)


@pytest.fixture
def graph():
    """A fresh default graph, so tests never share variables."""
    with tf.Graph().as_default() as g:
        yield g


def blobs(m: int, n_x: int = 20, C: int = 3, seed: int = 0):
    """Separable toy data: X (n_x, m) around C random centres, one-hot Y (C, m)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 2, size=(C, n_x))
    labels = rng.integers(0, C, size=m)
    X = (centres[labels] + rng.normal(0, 0.5, size=(m, n_x))).T.astype(np.float32)
    return X, convert_to_one_hot(labels, C)
