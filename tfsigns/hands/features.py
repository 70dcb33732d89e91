"""The hand features as tfsigns trains on them: a landmark run's input contract (stored with the run and
checked by every reader of it), the features of many photos on threads, and those of SIGNS, computed once
per hand model and data file and cached, keyed by their SHA-256s. The rule for one photo (which region,
which 42 numbers) is tfsigns.portable.hands', which an exported reader runs too.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from tfsigns.hands.files import cache_dir, digests, model_paths, sha256
from tfsigns.hands.model import HandModel
from tfsigns.images.signs import SPLITS, DataError, convert_to_one_hot, find_data_dir, load_dataset
from tfsigns.portable.hands import (
    N_FEATURES,
    PRESENCE_THRESHOLD,
    VERSION,
    WHOLE_IMAGE_SHARE,
    Hand,
    features,
    read_hand,
)
from tfsigns.portable.palm import PALM_SIZE, PALM_THRESHOLD
from tfsigns.utils.files import atomic_write_bytes


def input_contract(complexity: str = "full", models_dir: str | os.PathLike | None = None) -> dict:
    """What a landmark run reads, stored with it (metrics.json's "input") and checked by every reader of
    the run: the hand model and its SHA-256s, the region, the presence threshold, the features."""
    return {"kind": "landmarks", "features": VERSION, "hand_model": complexity,
            "models": digests(model_paths(complexity, models_dir)),
            "image": "RGB uint8 at the photo's own size, upright by its EXIF orientation",
            "region": f"the best palm's region (score >= {PALM_THRESHOLD}; in the whole photo, else in "
                      "square tiles of its short side along its long one, half overlapping); also the "
                      f"whole photo when that region covers {WHOLE_IMAGE_SHARE} of its long side or more or "
                      f"shows no hand, or when no palm is found in a photo of at most {PALM_SIZE} pixels a "
                      "side; the region with the higher presence score",
            "presence_threshold": PRESENCE_THRESHOLD,
            "feature_rule": "world landmarks' x and y less the wrist's, in decimetres, 21 x (x, y) row-major",
            "handedness": "not used: training mirrors the landmarks (flip)"}


def hands_of(images: list[np.ndarray] | np.ndarray, complexity: str = "full",
             models_dir: str | os.PathLike | None = None, threads: int = 2) -> list[Hand | None]:
    """read_hand for each uint8 photo, on `threads` threads (an interpreter each)."""
    models = [HandModel(complexity, models_dir) for _ in range(max(1, min(threads, len(images))))]
    chunks = np.array_split(np.arange(len(images)), len(models))
    with ThreadPoolExecutor(len(models)) as pool:
        jobs = zip(models, chunks, strict=True)
        done = pool.map(lambda job: [read_hand(job[0], images[i]) for i in job[1]], jobs)
        return [hand for part in done for hand in part]


def feature_columns(hands: list[Hand | None]) -> tuple[np.ndarray, np.ndarray]:
    """Features as the course's columns X (42, m), zeros where there is no hand, and which photos show
    a hand (m,) bool."""
    found = np.array([hand is not None for hand in hands], dtype=bool)
    X = np.zeros((N_FEATURES, len(hands)), np.float32)
    for i, hand in enumerate(hands):
        if hand is not None:
            X[:, i] = features(hand)
    return X, found


def cached_features(images: np.ndarray, source: Path, complexity: str = "full",
                    models_dir: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """feature_columns of the uint8 photos (m, h, w, 3) read from the data file `source`, from the cache
    when it holds them for this file, hand model and VERSION, else computed and cached (atomically)."""
    models = digests(model_paths(complexity, models_dir))
    key = hashlib.sha256("|".join([VERSION, sha256(source), *sorted(models.values()),
                                   str(PRESENCE_THRESHOLD)]).encode()).hexdigest()[:24]
    path = cache_dir().parent / f"features-{source.stem}-{complexity}-{key}.npz"
    with cache_lock(path):  # two processes wanting the same features: one computes, the other reads
        if path.is_file():
            try:
                with np.load(path) as stored:
                    return stored["X"], stored["found"]
            except (OSError, ValueError, KeyError):
                pass  # a damaged cache file is computed again
        X, found = feature_columns(hands_of(images, complexity, models_dir))
        buffer = io.BytesIO()
        np.savez(buffer, X=X, found=found)
        try:
            atomic_write_bytes(path, buffer.getvalue())
        except OSError:
            pass  # a read-only cache: computed each time, still right
    return X, found


@contextmanager
def cache_lock(path: Path) -> Iterator[None]:
    """An exclusive lock on the cache's lock file, beside `path`, while the block runs (where the cache
    can be written)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = open(path.parent / "features.lock", "a")
    except OSError:
        yield
        return
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def load_signs_landmarks(data_dir: str | os.PathLike | None = None, complexity: str = "full",
                         models_dir: str | os.PathLike | None = None) -> dict[str, tuple[np.ndarray, ...]]:
    """SIGNS as a landmark reader trains on it: for "train" and "test", the features X (42, m) and
    one-hot Y (C, m) of the photos that show a hand, and which photos do (found, (m_all,) bool)."""
    folder = find_data_dir(data_dir)
    train_x, train_y, test_x, test_y, classes = load_dataset(folder)
    data = {}
    for split, x, y in (("train", train_x, train_y), ("test", test_x, test_y)):
        path = folder / SPLITS[split][0]
        X, found = cached_features(x, path, complexity, models_dir)
        if not found.any():
            raise DataError(f"{path}: the hand model sees no hand in any of its {len(found)} photos; a "
                            "landmark reader needs photos of hands")
        data[split] = (X[:, found], convert_to_one_hot(y, len(classes))[:, found], found)
    return data
