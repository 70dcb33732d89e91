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
from collections.abc import Callable, Iterator
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
from tfsigns.portable.palm import PALM_SIZE, PALM_THRESHOLD, landmarks_rect
from tfsigns.portable.photos import load_frame
from tfsigns.utils.files import atomic_write_bytes

VIEWS = "found+tracked/1"  # what the cache holds of each photo: both_views' features

def input_contract(complexity: str = "full", models_dir: str | os.PathLike | None = None) -> dict:
    """What a landmark run reads, stored with it (metrics.json's "input") and checked by every reader of
    the run: the hand model and its SHA-256s, the region, the presence threshold, the features."""
    return {"kind": "landmarks", "features": VERSION, "hand_model": complexity,
            "models": digests(model_paths(complexity, models_dir)),
            "image": "RGB uint8 at the photo's own size, upright by its EXIF orientation",
            "region": f"the best palm's region (score >= {PALM_THRESHOLD}; in the whole photo, else, where "
                      "none is found or its region shows no hand, in square tiles of its short side along "
                      "its long one, half overlapping); also the "
                      f"whole photo when that region covers {WHOLE_IMAGE_SHARE} of its long side or more or "
                      f"shows no hand, or when no palm is found in a photo of at most {PALM_SIZE} pixels a "
                      "side; the region with the higher presence score",
            "presence_threshold": PRESENCE_THRESHOLD,
            "feature_rule": "world landmarks' x and y less the wrist's, in decimetres, 21 x (x, y) row-major",
            "handedness": "not used: training mirrors the landmarks (flip)"}


def hands_of(images: list[np.ndarray] | np.ndarray, complexity: str = "full",
             models_dir: str | os.PathLike | None = None, threads: int = 2,
             read: Callable[[HandModel, np.ndarray], object] = read_hand) -> list:
    """read (read_hand; both_views) for each uint8 photo, on `threads` threads (an interpreter each)."""
    models = [HandModel(complexity, models_dir) for _ in range(max(1, min(threads, len(images))))]
    chunks = np.array_split(np.arange(len(images)), len(models))
    with ThreadPoolExecutor(len(models)) as pool:
        jobs = zip(models, chunks, strict=True)
        done = pool.map(lambda job: [read(job[0], images[i]) for i in job[1]], jobs)
        return [hand for part in done for hand in part]


def both_views(model: HandModel, image: np.ndarray) -> tuple[Hand | None, Hand | None]:
    """A photo's hand as read_hand finds it, and the same hand as a video's next frame reads it: the
    landmark model on the region its landmarks give (landmarks_rect, how the live page tracks a hand), whose
    features differ (a centimetre on average), so a reader trains on both; None where no hand is seen."""
    hand = read_hand(model, image)
    if hand is None:
        return None, None
    again = model.landmarks(image, landmarks_rect(hand.landmarks))
    return hand, again if again.presence >= model.threshold else None


def view_columns(pairs: list[tuple[Hand | None, Hand | None]]) -> dict[str, np.ndarray]:
    """both_views' hands as features: {"X", "found"} of the found region and {"X_tracked",
    "found_tracked"} of the tracked one (feature_columns)."""
    X, found = feature_columns([first for first, _ in pairs])
    X_tracked, found_tracked = feature_columns([second for _, second in pairs])
    return {"X": X, "found": found, "X_tracked": X_tracked, "found_tracked": found_tracked}


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
                    models_dir: str | os.PathLike | None = None) -> dict[str, np.ndarray]:
    """view_columns of the uint8 photos (m, h, w, 3) read from the data file `source`, from the cache
    when it holds them for this file, hand model and VERSION, else computed and cached (atomically)."""
    return _cached(f"{source.stem}-{complexity}", [sha256(source)], complexity, models_dir,
                   lambda: view_columns(hands_of(images, complexity, models_dir, read=both_views)))


def photo_features(paths: list[Path], complexity: str = "full", models_dir: str | os.PathLike | None = None
                   ) -> dict[str, np.ndarray]:
    """view_columns of photo files (read by tfsigns.portable.photos.load_frame), cached like SIGNS' under
    the SHA-256 of every file's bytes; ImageError naming a photo that cannot be read."""
    files = "|".join(hashlib.sha256(path.read_bytes()).hexdigest() for path in paths)
    digest = hashlib.sha256(files.encode())
    return _cached(f"photos-{complexity}", [digest.hexdigest()], complexity, models_dir,
                   lambda: view_columns(hands_of([load_frame(path) for path in paths], complexity,
                                                 models_dir, read=both_views)))


def _cached(name: str, sources: list[str], complexity: str, models_dir: str | os.PathLike | None,
            compute: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """compute()'s arrays from the cache when it holds them for these sources' digests, the hand model,
    VERSION and VIEWS, else computed and cached (atomically; a read-only cache computes each time)."""
    models = digests(model_paths(complexity, models_dir))
    key = hashlib.sha256("|".join([VERSION, VIEWS, *sources, *sorted(models.values()),
                                   str(PRESENCE_THRESHOLD)]).encode()).hexdigest()[:24]
    path = cache_dir().parent / f"features-{name}-{key}.npz"
    with cache_lock(path):  # two processes wanting the same features: one computes, the other reads
        if path.is_file():
            try:
                with np.load(path) as stored:
                    return {name: stored[name] for name in ("X", "found", "X_tracked", "found_tracked")}
            except (OSError, ValueError, KeyError):
                pass  # a damaged cache file is computed again
        arrays = compute()
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        try:
            atomic_write_bytes(path, buffer.getvalue())
        except OSError:
            pass
    return arrays


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
    one-hot Y (C, m) of the photos that show a hand, which photos do (found, (m_all,) bool), and the
    features and one-hot labels of their second, tracked views (both_views; X_tracked (42, k), Y_tracked)."""
    folder = find_data_dir(data_dir)
    train_x, train_y, test_x, test_y, classes = load_dataset(folder)
    data = {}
    for split, x, y in (("train", train_x, train_y), ("test", test_x, test_y)):
        path = folder / SPLITS[split][0]
        views, Y = cached_features(x, path, complexity, models_dir), convert_to_one_hot(y, len(classes))
        found, tracked = views["found"], views["found_tracked"]
        if not found.any():
            raise DataError(f"{path}: the hand model sees no hand in any of its {len(found)} photos; a "
                            "landmark reader needs photos of hands")
        data[split] = (views["X"][:, found], Y[:, found], found, views["X_tracked"][:, tracked],
                       Y[:, tracked])
    return data
