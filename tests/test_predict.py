"""Predicting your own images, and the pictures a run can draw."""

import json
import subprocess
import sys

import h5py
import pytest
from PIL import Image

from tests.conftest import REAL_DATA, requires_real_data


def cli(module, *args):
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    result = cli("tfsigns.train", "--data-dir", str(REAL_DATA), "--batch-norm", "--epochs", "200",
                 "--quiet", "--plots", "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out


@requires_real_data
def test_train_draws_sample_grid_and_confusion_matrix(trained_run):
    for name in ("samples.png", "confusion.png", "cost.png"):
        assert (trained_run / name).read_bytes()[:4] == b"\x89PNG", name


@requires_real_data
def test_predicting_the_test_images_as_jpeg_files_matches_the_h5_accuracy(trained_run, tmp_path):
    """The 120 test images written as 100x100 JPEG files, read back through the predict CLI."""
    with h5py.File(REAL_DATA / "test_signs.h5") as f:
        images, labels = f["test_set_x"][:], f["test_set_y"][:]
    paths = []
    for i, image in enumerate(images):
        paths.append(str(tmp_path / f"{i:03d}.jpg"))
        Image.fromarray(image).resize((100, 100), Image.Resampling.BICUBIC).save(paths[-1], quality=95)
    result = cli("tfsigns.predict", *paths, "--model", str(trained_run), "--json")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["image"] for row in rows] == paths
    assert all(abs(sum(row["probabilities"]) - 1) < 1e-5 and len(row["probabilities"]) == 6 for row in rows)
    accuracy = sum(row["class"] == label for row, label in zip(rows, labels, strict=True)) / len(rows)
    h5_accuracy = json.loads((trained_run / "metrics.json").read_text())["test_accuracy"]
    assert h5_accuracy > 0.6
    assert abs(accuracy - h5_accuracy) <= 0.05


@requires_real_data
def test_plain_output_names_class_and_probability(trained_run, tmp_path):
    path = tmp_path / "sign.png"
    Image.new("RGBA", (30, 50), (200, 150, 120, 255)).save(path)
    result = cli("tfsigns.predict", str(path), "--model", str(trained_run))
    assert result.returncode == 0 and result.stdout.startswith(f"{path}: ") and "(p = " in result.stdout


# (how to spoil the image file, what the error line then says about it)
BAD_IMAGES = {
    "not-an-image": (lambda p: p.write_text("not an image"), "not a readable image"),
    "missing": (lambda p: None, "file not found"),
}


@pytest.mark.parametrize("case", BAD_IMAGES)
def test_the_model_is_checked_before_the_images(case, tmp_path):
    """A run folder with no usable model is the one error reported, whatever is wrong with the image."""
    make, image_message = BAD_IMAGES[case]
    model = tmp_path / "model"
    (model / "checkpoints").mkdir(parents=True)
    image = tmp_path / "broken.jpg"
    make(image)
    result = cli("tfsigns.predict", str(image), "--model", str(model))
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"tfsigns.predict: error: --model {model}: "), result.stderr
    assert image_message not in result.stderr and str(image) not in result.stderr, result.stderr
    assert result.stdout == ""


@requires_real_data
@pytest.mark.parametrize("case", BAD_IMAGES)
def test_unreadable_image_with_a_model(case, trained_run, tmp_path):
    """With a usable model, the bad image itself is named, on one line, with exit code 2."""
    make, message = BAD_IMAGES[case]
    image = tmp_path / "broken.jpg"
    make(image)
    result = cli("tfsigns.predict", str(image), "--model", str(trained_run))
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert f"{image}: {message}" in result.stderr, result.stderr
    assert result.stdout == ""
