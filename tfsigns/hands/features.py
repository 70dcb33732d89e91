"""What a landmark reader learns from: a photo's hand as 42 numbers, the x and y of the landmark model's
21 world landmarks relative to the wrist, in decimetres (about -1 to 1), as the model gives them in its
region's own turn; or no hand. The features of SIGNS are computed once per hand model and data file
and cached, keyed by their SHA-256s.

Which region: the best palm's region (the palm found in the whole photo, else in its square tiles), and
where that covers half the photo or more (a hand close up, as in SIGNS) or shows no hand, or where no palm
is found in a photo no larger than the detector's input, also the whole photo; the one where the model is
surer a hand is there is kept. On other people's
hands this read 0.99 against 0.96 for the palm's region alone and 0.98 for the whole photo alone
(docs/reader.md).
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import math
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from tfsigns.hands.files import cache_dir, digests, model_paths, sha256
from tfsigns.hands.model import MIN_SIDE, PRESENCE_THRESHOLD, Hand, HandModel
from tfsigns.hands.palm import PALM_SIZE, PALM_THRESHOLD, Palm, Rect, landmarks_rect, palm_rect
from tfsigns.images.signs import SPLITS, DataError, convert_to_one_hot, find_data_dir, load_dataset
from tfsigns.utils.files import atomic_write_bytes

N_FEATURES = 42  # 21 landmarks' x and y
UNIT = 0.1  # metres: features in decimetres
WHOLE_IMAGE_SHARE = 0.5  # a palm's region this share of the photo's long side or more: try the whole too
VERSION = "world-xy-wrist-dm/best-region/3"  # changes whenever features would come out differently


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


def features(hand: Hand) -> np.ndarray:
    """The 42 features (float32) of a hand: world landmarks' x, y less the wrist's, in decimetres."""
    return ((hand.world[:, :2] - hand.world[:1, :2]) / UNIT).reshape(-1).astype(np.float32)


def read_hand(model: HandModel, image: np.ndarray, track: bool = False) -> Hand | None:
    """The hand in a uint8 RGB photo (h, w, 3) by the module's rule (best_hand), or None when the model's
    presence score stays below its threshold (or the photo is under MIN_SIDE pixels a side). With
    `track` (a video's frames, in order), the previous frame's landmarks give the region first, as
    MediaPipe's tracking does, and the search runs only when they show no hand."""
    if min(image.shape[:2]) < MIN_SIDE:  # too few pixels to show a hand
        return None
    hand = model.landmarks(image, model.previous) if track and model.previous is not None else None
    if hand is None or hand.presence < model.threshold:
        hand = best_hand(model, image)
    found = hand is not None and hand.presence >= model.threshold
    model.previous = landmarks_rect(hand.landmarks) if track and found else None
    return hand if found else None


def best_hand(model: HandModel, image: np.ndarray) -> Hand | None:
    """What the landmark model sees in the best region of a uint8 RGB photo (h, w, 3), hand or not: the
    best palm's region; also the whole photo where that region covers WHOLE_IMAGE_SHARE of the photo's
    long side or more, or shows no hand, and where no palm is found in a photo no larger than the
    detector's input (SIGNS' 64x64: a palm that small is often missed; in a camera's frame a hand close
    up was found 120 times in 120); the one with the higher presence score. None: no region to try."""
    h, w = image.shape[:2]
    palms = find_palms(model, image)
    tried = [model.landmarks(image, palm_rect(palms[0]), palms[0].score)] if palms else []
    close_up = tried and tried[0].rect.size >= WHOLE_IMAGE_SHARE * max(h, w)
    small = max(h, w) <= PALM_SIZE
    if (tried and (tried[0].presence < model.threshold or close_up)) or (not tried and small):
        tried.append(model.landmarks(image, Rect(w / 2, h / 2, float(max(h, w)), 0.0)))
    return max(tried, key=lambda found: found.presence) if tried else None


def find_palms(model: HandModel, image: np.ndarray) -> list[Palm]:
    """The palms in a uint8 RGB photo (h, w, 3), best first: in the whole photo, else in square tiles of
    its short side along its long one, half overlapping, where a small hand is larger (a third larger in
    a 4:3 frame's tile: in cluttered 640x480 scenes this found 0.93 of other people's hands instead of
    0.83, docs/reader.md)."""
    if palms := model.palms(image):
        return palms
    h, w = image.shape[:2]
    side, long = min(h, w), max(h, w)
    if side == long:
        return []
    found = []
    for start in np.linspace(0, long - side, math.ceil((long - side) / (side / 2)) + 1).astype(int):
        x, y = (start, 0) if w > h else (0, start)
        for palm in model.palms(np.ascontiguousarray(image[y:y + side, x:x + side])):
            shift = np.array([x, y])
            found.append(Palm(palm.box + np.tile(shift, 2), palm.keypoints + shift, palm.score))
    return sorted(found, key=lambda palm: -palm.score)


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
