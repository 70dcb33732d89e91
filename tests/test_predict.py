"""Predicting your own images, the pictures a run can draw, and predict knowing the network it runs."""

import json
from dataclasses import replace

import h5py
import numpy as np
import pytest
from PIL import Image

from tests.conftest import REAL_DATA, blobs, requires_real_data, run_main
from tests.test_cnn import images
from tfsigns.config import RunSettings, TrainConfig
from tfsigns.predict import main as predict_main
from tfsigns.training.graph import TrainedParameters
from tfsigns.training.inference import load_model, predict
from tfsigns.training.trainer import cnn_model, model, train

QUIET = RunSettings(print_cost=False)


def cli(*args) -> tuple[int, str, str]:
    """tfsigns.predict's command line, in this process (a new one would only add TensorFlow's start-up)."""
    return run_main(predict_main, list(args))


@requires_real_data
def test_train_draws_sample_grid_and_confusion_matrix(real_run):
    for name in ("samples.png", "confusion.png", "cost.png"):
        assert (real_run / name).read_bytes()[:4] == b"\x89PNG", name


@requires_real_data
def test_predicting_the_test_images_as_jpeg_files_matches_the_h5_accuracy(real_run, tmp_path):
    """The 120 test images written as 100x100 JPEG files, read back through the predict CLI."""
    with h5py.File(REAL_DATA / "test_signs.h5") as f:
        images, labels = f["test_set_x"][:], f["test_set_y"][:]
    paths = []
    for i, image in enumerate(images):
        paths.append(str(tmp_path / f"{i:03d}.jpg"))
        Image.fromarray(image).resize((100, 100), Image.Resampling.BICUBIC).save(paths[-1], quality=95)
    code, stdout, err = cli(*paths, "--model", str(real_run), "--json")
    assert code == 0, err
    rows = [json.loads(line) for line in stdout.splitlines()]
    assert [row["image"] for row in rows] == paths
    assert all(abs(sum(row["probabilities"]) - 1) < 1e-5 and len(row["probabilities"]) == 6 for row in rows)
    accuracy = sum(row["class"] == label for row, label in zip(rows, labels, strict=True)) / len(rows)
    h5_accuracy = json.loads((real_run / "metrics.json").read_text())["test_accuracy"]
    assert h5_accuracy > 0.6
    assert abs(accuracy - h5_accuracy) <= 0.05


@requires_real_data
def test_plain_output_names_class_and_probability(real_run, tmp_path):
    path = tmp_path / "sign.png"
    Image.new("RGBA", (30, 50), (200, 150, 120, 255)).save(path)
    code, stdout, err = cli(str(path), "--model", str(real_run))
    assert code == 0 and stdout.startswith(f"{path}: ") and "(p = " in stdout


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
    code, stdout, err = cli(str(image), "--model", str(model))
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith(f"tfsigns.predict: error: --model {model}: "), err
    assert image_message not in err and str(image) not in err, err
    assert stdout == ""


@requires_real_data
@pytest.mark.parametrize("case", BAD_IMAGES)
def test_unreadable_image_with_a_model(case, real_run, tmp_path):
    """With a usable model, the bad image itself is named, on one line, with exit code 2."""
    make, message = BAD_IMAGES[case]
    image = tmp_path / "broken.jpg"
    make(image)
    code, stdout, err = cli(str(image), "--model", str(real_run))
    assert code == 2 and err.count("\n") == 1, err
    assert f"{image}: {message}" in err, err
    assert stdout == ""


# ---------------------------------------------------------------- the settings travel with the parameters


def offset_blobs(m: int = 120):
    """blobs whose every example is scaled and shifted at random, so per-image normalization matters."""
    X, Y = blobs(m)
    rng = np.random.default_rng(3)
    return X * rng.uniform(0.5, 20, (1, m)) + rng.uniform(-50, 50, (1, m)), Y


def test_predict_runs_the_network_the_parameters_were_trained_as():
    """Per-image normalization leaves no trace among the parameters; their config says it."""
    X, Y = offset_blobs()
    config = TrainConfig(layers=(8,), num_epochs=30, learning_rate=0.01, normalize="per-image")
    parameters, history = train(config, X, Y, run=QUIET)
    assert isinstance(parameters, TrainedParameters) and parameters.config == config
    probabilities = predict(X, parameters, return_probabilities=True)
    np.testing.assert_array_equal(probabilities, predict(X, parameters, config, return_probabilities=True))
    assert np.mean(predict(X, parameters) == Y.argmax(axis=0)) == pytest.approx(history.train_accuracy)
    unnormalized = predict(X, parameters, replace(config, normalize="none"), return_probabilities=True)
    assert np.abs(unnormalized - probabilities).max() > 0.1


def test_a_loaded_run_and_the_course_models_carry_their_config(fake_run):
    config, parameters, _ = load_model(fake_run)
    assert isinstance(parameters, TrainedParameters) and parameters.config == config
    X, Y = blobs(24, n_x=12288, C=6)
    mlp, _ = model(X, Y, X, Y, num_epochs=2, layers=(4,), normalize="per-image", print_cost=False)
    assert (mlp.config.arch, mlp.config.layers, mlp.config.normalize) == ("mlp", (4,), "per-image")
    X_images, Y_images = images(24)
    cnn, _ = cnn_model(X_images, Y_images, X_images, Y_images, num_epochs=2, filters=(4,), kernels=(3,),
                       pools=(4,), batch_norm=True, print_cost=False)
    assert (cnn.config.arch, cnn.config.filters, cnn.config.batch_norm) == ("cnn", (4,), True)
    assert predict(X_images, cnn).shape == (24,)
