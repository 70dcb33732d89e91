"""MediaPipe's hand models as files: where they are found, and proof that they are the expected ones.

The four TensorFlow Lite files (palm detection and hand landmarks, full and lite; Apache-2.0, The
MediaPipe Authors) are found in `$TFSIGNS_MODELS` when it is set (the Makefile points it at the offline
mirror ../shared/models/mediapipe-hands when that exists), else in the cache
(`$XDG_CACHE_HOME/tfsigns/mediapipe-hands`, ~/.cache by default). When none holds them, they are
taken out of MediaPipe's 0.10.21 wheel, which pip downloads from the package registry (the package is
never installed: it pins numpy<2 and protobuf<5), into the cache. Every file is checked against its
SHA-256 before use, so a wrong, damaged or truncated file is one line (ModelError), never a wrong reader.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from tfsigns.config import HAND_MODELS
from tfsigns.utils.files import atomic_write_bytes

MODELS_ENV = "TFSIGNS_MODELS"
# Where they sit in the wheel, and their SHA-256 (the same as ../shared/models/mediapipe-hands/README.md)
WHEEL = "mediapipe-0.10.21-cp311-cp311-manylinux_2_28_x86_64.whl"
WHEEL_SHA256 = "05dc4a9e593655a79558d05d6227d31018c2537a4bd3362b51e230cf22aecfe3"
MODELS = {
    "palm_detection_full.tflite": ("mediapipe/modules/palm_detection/",
                                   "1b14e9422c6ad006cde6581a46c8b90dd573c07ab7f3934b5589e7cea3f89a54"),
    "palm_detection_lite.tflite": ("mediapipe/modules/palm_detection/",
                                   "e9a4aaddf90dda56a87235303cf00e4c2d3fb28725f68fd88772997dac905c18"),
    "hand_landmark_full.tflite": ("mediapipe/modules/hand_landmark/",
                                  "11c272b891e1a99ab034208e23937a8008388cf11ed2a9d776ed3d01d0ba00e3"),
    "hand_landmark_lite.tflite": ("mediapipe/modules/hand_landmark/",
                                  "048edd3645c9bf7397d19a9f6e3a42957d6e414c9bea6598030a2e9b624156e6"),
}
LICENSE = "mediapipe-0.10.21.dist-info/LICENSE"


class ModelError(ValueError):
    """A hand model file that is missing, cannot be fetched, or is not the expected one."""


def sha256(path: Path) -> str:
    """The SHA-256 of a file, in hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cache_dir() -> Path:
    """Where fetched models are kept: $XDG_CACHE_HOME/tfsigns/mediapipe-hands (~/.cache by default)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "tfsigns" / "mediapipe-hands"


def model_paths(complexity: str = "full", models_dir: str | os.PathLike | None = None,
                fetch: bool = True) -> dict[str, Path]:
    """{"palm": path, "landmark": path} of the verified model files of `complexity` (full or lite):
    from `models_dir`, else $TFSIGNS_MODELS, else the cache (fetched into it when missing or damaged,
    and `fetch`); ModelError when a file is missing there or is not the expected one."""
    if complexity not in HAND_MODELS:
        raise ModelError(f"unknown hand model {complexity!r}; choose from {', '.join(HAND_MODELS)}")
    names = {"palm": f"palm_detection_{complexity}.tflite", "landmark": f"hand_landmark_{complexity}.tflite"}
    if models_dir or os.environ.get(MODELS_ENV):
        folder = Path(models_dir or os.environ[MODELS_ENV])
        origin = "the folder given" if models_dir else f"${MODELS_ENV}"
    else:
        folder, origin = cache_dir(), "the cache"
        if fetch and not all(expected(folder / name) for name in names.values()):  # missing or damaged
            fetch_models(folder)
    paths = {}
    for role, name in names.items():
        path = folder / name
        if not path.is_file():
            raise ModelError(f"{path} (from {origin}): hand model not found; see "
                             "docs/reader.md for where the models come from")
        if (found := sha256(path)) != MODELS[name][1]:
            raise ModelError(f"{path} (from {origin}): not MediaPipe's {name} (SHA-256 {found[:12]}..., "
                             f"expected {MODELS[name][1][:12]}...)")
        paths[role] = path
    return paths


def digests(paths: dict[str, Path]) -> dict[str, str]:
    """{file name: SHA-256} of model files model_paths returned: verified there, so their expected ones."""
    return {path.name: MODELS[path.name][1] for path in paths.values()}


def expected(path: Path) -> bool:
    """Whether `path` is there and is the model file of its name, by its SHA-256."""
    return path.is_file() and sha256(path) == MODELS[path.name][1]


def fetch_models(folder: Path) -> None:
    """Download MediaPipe's 0.10.21 wheel with pip (not installing it), check its SHA-256, and write
    the four hand models and MediaPipe's LICENSE into `folder`, each atomically."""
    print(f"tfsigns: fetching MediaPipe's hand models (the {WHEEL.split('-cp')[0]} wheel, 36 MB) into "
          f"{folder}", file=sys.stderr)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ModelError(f"{folder}: cannot create the model cache ({err.strerror or err})") from None
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                   "--python-version", "3.11", "--implementation", "cp",
                   "--platform", "manylinux_2_28_x86_64", "--dest", tmp, "mediapipe==0.10.21"]
        done = subprocess.run(command, capture_output=True, text=True)
        wheel = Path(tmp) / WHEEL
        if done.returncode or not wheel.is_file():
            said = (done.stderr.strip().splitlines() or ["no wheel"])[-1]
            raise ModelError(f"could not download MediaPipe's hand models with pip ({said}); give "
                             f"${MODELS_ENV} a folder that holds them")
        if sha256(wheel) != WHEEL_SHA256:
            raise ModelError(f"the downloaded {WHEEL} is not the expected one (SHA-256 differs)")
        with zipfile.ZipFile(wheel) as archive:
            for name, (where, _) in MODELS.items():
                atomic_write_bytes(folder / name, archive.read(where + name))
            atomic_write_bytes(folder / "LICENSE", archive.read(LICENSE))
