"""Shared fixtures: the real SIGNS data (or a clear skip), fresh graphs, tiny synthetic data."""

import contextlib
import fcntl
import hashlib
import io
import os
import shutil
import tempfile
from pathlib import Path

import h5py
import hypothesis
import numpy as np
import pytest
import tensorflow as tf

from tfsigns.images.signs import SPLITS, make_blobs

CLASSES = np.arange(6, dtype=np.int64)
N_TRAIN, N_TEST = 12, 6
SPLIT_KEYS = SPLITS  # split -> (file name, x key, y key)

# Users' machines do not set PYTHONUNBUFFERED (this one does): the subprocesses the tests start
# must see stdout as a user's pipe does, block-buffered unless tfsigns says otherwise.
os.environ.pop("PYTHONUNBUFFERED", None)
# Ray, where a test starts it, stays on loopback (see tfsigns.search.executors.RAY_LOOPBACK); set before any
# test imports Ray, which reads it once.
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"

# The suite's longest files, longest first: `make test` hands files to its workers in collection order
# (--dist loadfile --no-loadscope-reorder), so these start first and the short ones fill in around them,
# instead of one long file starting last while the other core has nothing left to do.
LONGEST_FIRST = ["test_serve.py", "test_notebooks.py", "test_course.py", "test_sandbox.py", "test_web.py",
                 "test_classroom.py", "test_robustness.py", "test_reliability.py", "test_tune.py",
                 "test_digits.py", "test_export.py", "test_settings.py", "test_hands.py", "test_speed.py"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest files first (LONGEST_FIRST); each file's tests, and the other files, keep their order."""
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


# Hypothesis draws the same examples on every run (derandomize), so that CI runs what passed here: once, in a
# fresh clone, a worker grew to 23 GB and was killed, and these draws are what changes from run to run.
hypothesis.settings.register_profile("suite", derandomize=True)
hypothesis.settings.load_profile("suite")

REAL_DATA = Path(os.environ.get("TFSIGNS_DATA") or Path(__file__).resolve().parents[2] / "shared/data/signs")
requires_real_data = pytest.mark.skipif(
    not (REAL_DATA / "train_signs.h5").is_file(),
    reason=f"real SIGNS data not found in {REAL_DATA} (set TFSIGNS_DATA or provide ../shared/data/signs)")
# MediaPipe's hand models (tfsigns.hands): the offline mirror, or $TFSIGNS_MODELS. Set for every test, so that
# no test fetches them from the network (where they are missing, a hand model is one line: not found).
HAND_MODELS = Path(os.environ.get("TFSIGNS_MODELS") or
                   Path(__file__).resolve().parents[2] / "shared/models/mediapipe-hands")
os.environ["TFSIGNS_MODELS"] = str(HAND_MODELS)
requires_hands = pytest.mark.skipif(
    not ((HAND_MODELS / "hand_landmark_full.tflite").is_file() and (REAL_DATA / "train_signs.h5").is_file()),
    reason=f"needs MediaPipe's hand models ({HAND_MODELS}: set TFSIGNS_MODELS or provide "
           f"../shared/models/mediapipe-hands) and the SIGNS data ({REAL_DATA})")


# Other students' photos of the ASL digits (tfsigns.images.digits): $TFSIGNS_DIGITS, else the mirror's
# 6-9 and 0-5
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared/data"
REAL_DIGITS = os.environ.get("TFSIGNS_DIGITS") or os.pathsep.join(
    str(SHARED_DATA / name) for name in ("digits", "otherhands"))
requires_digits = pytest.mark.skipif(
    not all(Path(folder).is_dir() for folder in REAL_DIGITS.split(os.pathsep)) or
    not ((HAND_MODELS / "hand_landmark_full.tflite").is_file() and (REAL_DATA / "train_signs.h5").is_file()),
    reason=f"needs other students' photos of the digits ({REAL_DIGITS}: set TFSIGNS_DIGITS or provide "
           f"../shared/data/digits and otherhands), MediaPipe's hand models and the SIGNS data")


class SmallSigns:
    """SIGNS files of a few real photos of each sign (the first `per_sign` train and test photos of each),
    where a command must find hands in them quickly (the landmark reader's end-to-end tests)."""

    def __init__(self, folder, per_sign: int = 2):
        self.dir = Path(folder)
        self.dir.mkdir(parents=True, exist_ok=True)
        for split, (name, x_key, y_key) in SPLITS.items():
            with h5py.File(REAL_DATA / name) as f:
                x, y = np.array(f[x_key]), np.array(f[y_key])
            keep = np.concatenate([np.flatnonzero(y == c)[:per_sign] for c in CLASSES])
            write_split(self.dir, split, x[keep], y[keep])


@pytest.fixture(scope="session")
def real_run(tmp_path_factory):
    """One finished run on the real data (batch norm, 60 epochs: test accuracy 0.908 here, where the
    tests ask for 0.6; plots), trained once through the command line, in this process, for the
    tests that read a real run."""
    from tfsigns.train import main
    if not (REAL_DATA / "train_signs.h5").is_file():
        pytest.skip(f"real SIGNS data not found in {REAL_DATA}")
    out = tmp_path_factory.mktemp("real-run")
    argv = ["--data-dir", str(REAL_DATA), "--batch-norm", "--epochs", "60", "--quiet", "--plots",
            "--out", str(out)]
    code, _, err = run_main(main, argv)
    assert code == 0, err
    return out


@pytest.fixture(scope="session")
def signs():
    """The real data, ready for training: (X_train, Y_train, X_test, Y_test, classes)."""
    from tfsigns.images.signs import load_signs
    return load_signs(REAL_DATA)


@pytest.fixture
def graph():
    """A fresh default graph, so tests never share variables."""
    with tf.Graph().as_default() as g:
        yield g


def step_nodes(graph) -> list:
    """The nodes of the graph's functions: an epoch's training step is the body of its while loop."""
    return [node for function in graph.as_graph_def().library.function for node in function.node_def]


def blobs(m: int, n_x: int = 20, C: int = 3, seed: int = 0):
    """Separable toy data: X (n_x, m) around C random centres, one-hot Y (C, m)."""
    return make_blobs(m, n_x=n_x, C=C, seed=seed)


# ---------------------------------------------------------------- fake data helpers


def fake_images(m, seed, shape=(64, 64, 3), dtype=np.uint8):
    """m seeded random images (m, *shape); pixels 0..255 in the given dtype."""
    return np.random.default_rng(seed).integers(0, 256, size=(m, *shape)).astype(dtype)


def fake_labels(m):
    """Labels 0..5 cycling, so every class occurs."""
    return (np.arange(m) % len(CLASSES)).astype(np.int64)


def write_split(folder, split, x, y, classes=CLASSES, drop=()):
    """Write one SIGNS file for `split` into folder, leaving out the keys in `drop`; return its path."""
    name, x_key, y_key = SPLIT_KEYS[split]
    path = Path(folder) / name
    with h5py.File(path, "w") as f:
        for key, value in ((x_key, x), (y_key, y), ("list_classes", classes)):
            if key not in drop:
                f.create_dataset(key, data=value)
    return path


class FakeSigns:
    """A folder of fake SIGNS files and the arrays written into them."""

    def __init__(self, folder, n_train=N_TRAIN, n_test=N_TEST):
        self.dir = Path(folder)
        self.arrays = {
            "train": (fake_images(n_train, seed=1), fake_labels(n_train)),
            "test": (fake_images(n_test, seed=2), fake_labels(n_test)),
        }
        for split, (x, y) in self.arrays.items():
            write_split(self.dir, split, x, y)

    def path(self, split):
        return self.dir / SPLIT_KEYS[split][0]

    def rewrite(self, split, x=None, y=None, classes=CLASSES, drop=()):
        """Rewrite one split's file, replacing the arrays given; return its path."""
        good_x, good_y = self.arrays[split]
        return write_split(self.dir, split, good_x if x is None else x, good_y if y is None else y,
                           classes, drop)


@pytest.fixture
def fake_signs(tmp_path):
    """Fake train_signs.h5 (12 images) and test_signs.h5 (6 images) in tmp_path.

    Named apart from `signs`, which is the real data set.
    """
    return FakeSigns(tmp_path)


# ---------------------------------------------------------------- running the commands in this process


def run_main(main, argv) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of a command's main(argv) in this process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as stop:  # argparse's usage errors
            code = stop.code
    return code, out.getvalue(), err.getvalue()


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under `folder` with a hash of its bytes ({} when the folder does not exist)."""
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def copy_of(run: Path, within: Path | None = None) -> Path:
    """A copy of a run folder in a new temporary folder (under `within`), for a test to spoil."""
    target = Path(tempfile.mkdtemp(prefix="run-", dir=within)) / "run"
    shutil.copytree(run, target)
    return target


def six_sign_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The six-sign reader (tfsigns/reader_signs.json: SIGNS alone, and "a sign I don't know"), 100 epochs,
    trained once for the whole suite: the first test file that asks trains it, under a lock, in the folder
    every pytest worker shares, and the others read it. A test that would change it works on copy_of(it)."""
    from tfsigns.train import main as train_main
    shared = tmp_path_factory.getbasetemp()
    shared = shared.parent if os.environ.get("PYTEST_XDIST_WORKER") else shared
    out = shared / "six-sign-reader"
    with open(shared / "six-sign-reader.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (out / "metrics.json").is_file():
            shutil.rmtree(out, ignore_errors=True)
            config = Path(__file__).resolve().parents[1] / "tfsigns" / "reader_signs.json"
            code, _, err = run_main(train_main, ["--config", str(config), "--data-dir", str(REAL_DATA),
                                                 "--epochs", "100", "--quiet", "--out", str(out)])
            assert code == 0, err
    return out


@pytest.fixture(scope="session")
def fake_run(tmp_path_factory):
    """A finished course-MLP run (4 hidden units, 2 epochs) on fake SIGNS data, for the commands
    that need a model (predict, robustness)."""
    from tfsigns.train import main as train_main
    fake = FakeSigns(tmp_path_factory.mktemp("signs"))
    out = tmp_path_factory.mktemp("run") / "run"
    code, _, err = run_main(train_main, ["--data-dir", str(fake.dir), "--out", str(out), "--layers", "4",
                                         "--epochs", "2", "--quiet"])
    assert code == 0, err
    return out
