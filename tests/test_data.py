"""Tests for tfsigns.images.signs: finding, loading and validating SIGNS, and shaping it for training.

Most tests run on small fake SIGNS files written into tmp_path; the tests marked
`requires_real_data` read the real files from $TFSIGNS_DATA or ../shared/data/signs.
"""

import hashlib
import math
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import CLASSES, N_TEST, N_TRAIN, REAL_DATA, SPLIT_KEYS, fake_images, requires_real_data
from tfsigns.images import dataset as data
from tfsigns.images.signs import (
    DATA_ENV,
    DataError,
    convert_to_one_hot,
    find_data_dir,
    flatten_and_normalize,
    load_dataset,
    load_signs,
    random_mini_batches,
)


def assert_data_error(folder, path, *fragments):
    """load_dataset(folder) raises DataError whose message names `path` and every fragment."""
    with pytest.raises(DataError) as excinfo:
        load_dataset(folder)
    message = str(excinfo.value)
    assert str(path) in message, message
    for fragment in fragments:
        assert fragment in message, message


# ---------------------------------------------------------------- load_dataset on fake files


def test_load_dataset_returns_course_values(fake_signs):
    train_x, train_y, test_x, test_y, classes = load_dataset(fake_signs.dir)
    for split, x, y, m in (("train", train_x, train_y, N_TRAIN), ("test", test_x, test_y, N_TEST)):
        want_x, want_y = fake_signs.arrays[split]
        assert x.shape == (m, 64, 64, 3) and x.dtype == np.uint8
        assert y.shape == (1, m) and y.dtype == np.int64
        np.testing.assert_array_equal(x, want_x)
        np.testing.assert_array_equal(y[0], want_y)
    assert classes.shape == (6,) and classes.dtype == np.int64
    np.testing.assert_array_equal(classes, CLASSES)


def test_load_signs_shapes_for_training(fake_signs):
    X_train, Y_train, X_test, Y_test, classes = load_signs(fake_signs.dir)
    assert X_train.shape == (64 * 64 * 3, N_TRAIN) and X_test.shape == (64 * 64 * 3, N_TEST)
    assert Y_train.shape == (6, N_TRAIN) and Y_test.shape == (6, N_TEST)
    assert X_train.dtype == Y_train.dtype == np.float32
    np.testing.assert_array_equal(Y_train.argmax(axis=0), fake_signs.arrays["train"][1])
    np.testing.assert_array_equal(Y_train.sum(axis=0), np.ones(N_TRAIN))


# ---------------------------------------------------------------- validation errors


def test_missing_data_folder(tmp_path):
    missing = tmp_path / "no-such-folder"
    assert_data_error(missing, missing, "does not exist")


def test_missing_file(fake_signs):
    fake_signs.path("test").unlink()
    assert_data_error(fake_signs.dir, fake_signs.path("test"), "file not found")


def half_of_valid_file(path):
    return path.read_bytes()[: path.stat().st_size // 2]


# Each writer gets the valid file's path and returns the bytes to put there instead.
BROKEN_BYTES = {
    "empty": (lambda path: b"", "empty"),
    "random-bytes": (lambda path: np.random.default_rng(0).bytes(4096), "not an HDF5 file"),
    "html-page": (lambda path: b"<!DOCTYPE html>\n<html><head><title>Sign in</title></head>"
                  b"<body>Please sign in to download</body></html>\n", "HTML"),
    "html-saved-by-browser": (lambda path: b"<!-- saved from url=(0040)https://example.org/train_signs.h5 -->"
                              b"\n<html><body>Not found</body></html>\n", "HTML"),
    "truncated": (half_of_valid_file, "truncated"),
}


@pytest.mark.parametrize("split", SPLIT_KEYS)
@pytest.mark.parametrize("case", BROKEN_BYTES)
def test_broken_file_bytes(fake_signs, split, case):
    make_bytes, fragment = BROKEN_BYTES[case]
    path = fake_signs.path(split)
    path.write_bytes(make_bytes(path))
    # pytest.raises(DataError) also fails the test if an OSError from h5py escapes.
    assert_data_error(fake_signs.dir, path, fragment)


def with_label(y, index, value):
    y = y.copy()
    y[index] = value
    return y


# Each case gets (x, y, x_key, y_key) of the valid split and returns
# (rewrite() keyword arguments, message fragments).
BROKEN_CONTENT = {
    "missing-x-key": lambda x, y, xk, yk: ({"drop": (xk,)}, [f"missing key {xk!r}"]),
    "missing-y-key": lambda x, y, xk, yk: ({"drop": (yk,)}, [f"missing key {yk!r}"]),
    "missing-classes": lambda x, y, xk, yk: ({"drop": ("list_classes",)}, ["missing key 'list_classes'"]),
    "small-images": lambda x, y, xk, yk: (
        {"x": fake_images(len(x), seed=3, shape=(32, 32, 3))}, [xk, f"({len(x)}, 32, 32, 3)"]),
    "float-pixels": lambda x, y, xk, yk: ({"x": x.astype(np.float64)}, [xk, "float64"]),
    "label-7": lambda x, y, xk, yk: ({"y": with_label(y, 0, 7)}, ["outside the classes", "7"]),
    "fewer-labels": lambda x, y, xk, yk: ({"y": y[:-1]}, [f"{len(x)} images but {len(y) - 1} labels"]),
}


@pytest.mark.parametrize("split", SPLIT_KEYS)
@pytest.mark.parametrize("case", BROKEN_CONTENT)
def test_broken_file_content(fake_signs, split, case):
    _, x_key, y_key = SPLIT_KEYS[split]
    changes, fragments = BROKEN_CONTENT[case](*fake_signs.arrays[split], x_key, y_key)
    path = fake_signs.rewrite(split, **changes)
    assert_data_error(fake_signs.dir, path, *fragments)


def test_train_and_test_classes_differ(fake_signs):
    fake_signs.rewrite("train", classes=np.arange(7, dtype=np.int64))
    # The mismatch is between the two files, so the message names their folder, not one of them
    # (any message naming a file in the folder would also contain the folder's path).
    with pytest.raises(DataError, match="different classes") as excinfo:
        load_dataset(fake_signs.dir)
    assert str(excinfo.value).startswith(f"{fake_signs.dir}: "), excinfo.value


# ---------------------------------------------------------------- find_data_dir


def test_project_data_dir_is_projects_data_folder():
    assert data.PROJECT_DATA_DIR == Path(__file__).resolve().parents[1] / "data"


@pytest.mark.parametrize(
    ("argument", "env", "expected"),
    [
        ("flag", "env", "flag"),  # explicit argument beats $TFSIGNS_DATA
        (None, "env", "env"),  # $TFSIGNS_DATA beats the project's data/
        (None, None, "project"),  # the project's data/ is the fallback
    ],
)
def test_find_data_dir_precedence(tmp_path, monkeypatch, argument, env, expected):
    folders = {name: tmp_path / name for name in ("flag", "env", "project")}
    for folder in folders.values():
        folder.mkdir()
    monkeypatch.setattr(data, "PROJECT_DATA_DIR", folders["project"])
    if env:
        monkeypatch.setenv(DATA_ENV, str(folders[env]))
    else:
        monkeypatch.delenv(DATA_ENV, raising=False)
    assert find_data_dir(folders[argument] if argument else None) == folders[expected]


def test_find_data_dir_names_where_a_missing_folder_came_from(tmp_path, monkeypatch):
    missing = tmp_path / "gone"
    monkeypatch.setenv(DATA_ENV, str(missing))
    with pytest.raises(DataError, match=r"\$TFSIGNS_DATA") as excinfo:
        find_data_dir()
    assert str(missing) in str(excinfo.value)


# ---------------------------------------------------------------- flatten_and_normalize


def test_flatten_and_normalize():
    images = fake_images(5, seed=4)
    images[0, 0, 0, 0], images[1, 0, 0, 0] = 0, 255
    flat = flatten_and_normalize(images)
    assert flat.shape == (12288, 5) and flat.dtype == np.float32
    assert flat.min() == 0.0 and flat.max() == 1.0
    for j in range(5):
        np.testing.assert_allclose(flat[:, j], images[j].reshape(-1) / 255.0, rtol=1e-6)


# ---------------------------------------------------------------- convert_to_one_hot


@pytest.mark.parametrize("labels", [np.array([[1, 2, 3, 0, 2, 1]]), np.array([1, 2, 3, 0, 2, 1])])
def test_convert_to_one_hot(labels):
    expected = np.array([
        [0, 0, 0, 1, 0, 0],
        [1, 0, 0, 0, 0, 1],
        [0, 1, 0, 0, 1, 0],
        [0, 0, 1, 0, 0, 0],
    ], dtype=np.float32)
    one_hot = convert_to_one_hot(labels, 4)
    assert one_hot.shape == (4, 6) and one_hot.dtype == np.float32
    np.testing.assert_array_equal(one_hot, expected)


@pytest.mark.parametrize("labels", [[[0, 1, 4]], [[-1, 0, 1]]])
def test_convert_to_one_hot_rejects_labels_out_of_range(labels):
    with pytest.raises(ValueError, match="labels must lie in"):
        convert_to_one_hot(np.array(labels), 4)


# ---------------------------------------------------------------- random_mini_batches


def paired_columns(m):
    """X (3, m) whose column j holds j, 1000 + j, 2000 + j; Y (2, m) whose column j holds -j, j % 6."""
    j = np.arange(m)
    return np.stack([j, 1000 + j, 2000 + j]), np.stack([-j, j % 6])


def course_random_mini_batches(X, Y, mini_batch_size, seed):
    """The course's random_mini_batches, as written in the assignment, as the reference."""
    m = X.shape[1]
    np.random.seed(seed)
    permutation = list(np.random.permutation(m))
    shuffled_X = X[:, permutation]
    shuffled_Y = Y[:, permutation].reshape((Y.shape[0], m))
    batches = []
    num_complete = math.floor(m / mini_batch_size)
    for k in range(num_complete):
        batches.append((shuffled_X[:, k * mini_batch_size:(k + 1) * mini_batch_size],
                        shuffled_Y[:, k * mini_batch_size:(k + 1) * mini_batch_size]))
    if m % mini_batch_size != 0:
        batches.append((shuffled_X[:, num_complete * mini_batch_size:],
                        shuffled_Y[:, num_complete * mini_batch_size:]))
    return batches


@pytest.mark.parametrize(
    ("m", "size", "sizes"),
    [
        (148, 64, [64, 64, 20]),
        (128, 64, [64, 64]),  # divides: no empty batch at the end
        (64, 64, [64]),
        (1080, 64, [64] * 16 + [56]),
        (5, 10, [5]),
    ],
)
def test_random_mini_batches_sizes_and_coverage(m, size, sizes):
    X, Y = paired_columns(m)
    batches = random_mini_batches(X, Y, size, seed=0)
    assert [bx.shape for bx, _ in batches] == [(3, n) for n in sizes]
    assert [by.shape for _, by in batches] == [(2, n) for n in sizes]
    for bx, by in batches:  # columns stay paired: X's column j goes with Y's column j
        j = -by[0]  # the input columns Y says this batch holds
        np.testing.assert_array_equal(bx, X[:, j])  # all of X's column j, unchanged
        np.testing.assert_array_equal(by, Y[:, j])  # all of Y's column j, unchanged
    seen = np.concatenate([bx[0] for bx, _ in batches])
    assert len(seen) == m and sorted(seen) == list(range(m))  # each column exactly once


def flat_order(batches):
    return np.concatenate([bx[0] for bx, _ in batches])


def test_random_mini_batches_seeded():
    X, Y = paired_columns(148)
    first, again = random_mini_batches(X, Y, 64, seed=3), random_mini_batches(X, Y, 64, seed=3)
    for (ax, ay), (bx, by) in zip(first, again, strict=True):
        np.testing.assert_array_equal(ax, bx)
        np.testing.assert_array_equal(ay, by)
    other = random_mini_batches(X, Y, 64, seed=4)
    assert not np.array_equal(flat_order(first), flat_order(other))
    assert not np.array_equal(flat_order(first), np.arange(148))  # it does shuffle


@pytest.mark.parametrize(("m", "size", "seed"), [(148, 64, 0), (148, 64, 1), (1080, 64, 3), (128, 32, 7)])
def test_random_mini_batches_matches_course(m, size, seed):
    X, Y = paired_columns(m)
    ours = random_mini_batches(X, Y, size, seed)
    course = course_random_mini_batches(X, Y, size, seed)
    assert len(ours) == len(course)
    for (ax, ay), (bx, by) in zip(ours, course, strict=True):
        np.testing.assert_array_equal(ax, bx)
        np.testing.assert_array_equal(ay, by)


@pytest.mark.parametrize("size", [0, -1])
def test_random_mini_batches_rejects_nonpositive_size(size):
    X, Y = paired_columns(10)
    with pytest.raises(ValueError, match="mini_batch_size"):
        random_mini_batches(X, Y, size)


# ---------------------------------------------------------------- the real data set

@requires_real_data
def test_real_data_counts():
    train_x, train_y, test_x, test_y, classes = load_dataset(REAL_DATA)
    assert train_x.shape == (1080, 64, 64, 3) and test_x.shape == (120, 64, 64, 3)
    assert train_y.shape == (1, 1080) and test_y.shape == (1, 120)
    np.testing.assert_array_equal(classes, CLASSES)
    np.testing.assert_array_equal(np.bincount(train_y[0], minlength=6), [180] * 6)
    np.testing.assert_array_equal(np.bincount(test_y[0], minlength=6), [20] * 6)


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@requires_real_data
def test_real_data_checksums():
    sums_file = REAL_DATA / "SHA256SUMS"
    if not sums_file.is_file():
        pytest.skip(f"{sums_file} not found: nothing to check the files against")
    expected = {}  # file name -> digest; lines are "<digest>  <name>" (or "<digest> *<name>")
    for line in sums_file.read_text().splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            expected[name.strip().lstrip("*")] = digest
    names = [name for name, _, _ in SPLIT_KEYS.values()]
    assert set(names) <= set(expected), f"{sums_file} does not list {names}"
    for name in names:
        path = REAL_DATA / name
        assert sha256(path) == expected[name], f"{path}: SHA256 does not match {sums_file}"
