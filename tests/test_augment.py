"""Augmentation and input normalization (tfsigns.training.augment): each augmentation's effect on known
images, stateless draws (same step same images, another step other images), augmented training
repeatable bit for bit, the course unchanged with it off, and normalization stored with the model
and applied alike in training, evaluation and prediction."""

import json
import os
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from tests.conftest import FakeSigns, run_main
from tfsigns.backend import tf, v1
from tfsigns.config import AUGMENTATIONS, ConfigError, TrainConfig
from tfsigns.images.signs import load_signs, make_blobs
from tfsigns.networks import COLUMNS, IMAGES
from tfsigns.train import main
from tfsigns.training.augment import augment_images, build_augmentation
from tfsigns.training.graph import normalize_input
from tfsigns.training.inference import classify, load_model, predict
from tfsigns.training.trainer import train

EVERY = {"flip": True, "rotation": 15.0, "translation": 0.1, "zoom": 0.1, "brightness": 0.1, "contrast": 0.2,
         "saturation": 0.3, "hue": 0.05, "colour_cast": 0.1, "blur": 1.0, "noise": 0.02}


def augmented(images: np.ndarray, step: int = 0, **strengths) -> np.ndarray:
    """augment_images of `images` (b, h, w, c) under `strengths` at global step `step`."""
    with tf.Graph().as_default():
        out = augment_images(tf.constant(images, tf.float32), TrainConfig(**strengths))
        with v1.Session() as sess:
            sess.run(v1.global_variables_initializer())
            sess.run(v1.train.get_global_step().assign(step))
            return sess.run(out)


def copies(image: np.ndarray, b: int = 64) -> np.ndarray:
    return np.repeat(image[None], b, axis=0).astype(np.float32)


@pytest.fixture(scope="module")
def photo():
    """A smooth, asymmetric colour image (64, 64, 3) in [0.2, 0.8]: no pixel near the clip."""
    y, x = np.mgrid[0:64, 0:64] / 63.0
    return np.stack([0.2 + 0.6 * x, 0.2 + 0.6 * y, 0.5 + 0.3 * (x * y - 0.5)], axis=-1).astype(np.float32)


def test_nothing_on_builds_nothing():
    assert build_augmentation(TrainConfig(), COLUMNS, (12288,)) is None
    for name in AUGMENTATIONS:
        strength = True if name == "flip" else 0.1
        assert build_augmentation(TrainConfig(**{name: strength}), COLUMNS, (12288,)) is not None, name


def test_flip_mirrors_some_images_and_keeps_the_others(photo):
    out = augmented(copies(photo), flip=True)
    mirrored = np.array([np.array_equal(image, photo[:, ::-1]) for image in out])
    kept = np.array([np.array_equal(image, photo) for image in out])
    assert (mirrored | kept).all() and 10 < mirrored.sum() < 54


def test_brightness_shifts_each_image_by_its_own_offset(photo):
    out = augmented(copies(photo), brightness=0.15)
    offsets = (out - photo).reshape(len(out), -1)
    np.testing.assert_allclose(offsets, offsets[:, :1] * np.ones_like(offsets), atol=1e-6)
    assert np.abs(offsets[:, 0]).max() <= 0.15 + 1e-6 and offsets[:, 0].std() > 0.03
    assert (offsets[:, 0] > 0).any() and (offsets[:, 0] < 0).any()


def test_contrast_scales_about_each_channels_mean(photo):
    out = augmented(copies(photo), contrast=0.3)
    np.testing.assert_allclose(out.mean(axis=(1, 2)), copies(photo).mean(axis=(1, 2)), atol=1e-4)
    factors = out.std(axis=(1, 2)) / photo.std(axis=(0, 1))
    assert factors.min() >= 0.7 - 1e-4 and factors.max() <= 1.3 + 1e-4 and factors.std() > 0.05


def test_colour_cast_gives_each_channel_its_own_gain(photo):
    out = augmented(copies(photo), colour_cast=0.2)
    gains = out / photo
    np.testing.assert_allclose(gains, gains[:, :1, :1, :] * np.ones_like(gains), rtol=1e-5)
    assert gains.min() >= 0.8 - 1e-5 and gains.max() <= 1.2 + 1e-5
    assert np.abs(gains[:, 0, 0, 0] - gains[:, 0, 0, 1]).max() > 0.05


def test_saturation_and_hue_leave_grey_grey_and_recolour_colours(photo):
    grey = copies(np.full((64, 64, 3), 0.4))
    np.testing.assert_allclose(augmented(grey, saturation=0.5, hue=0.2), grey, atol=1e-6)
    out = augmented(copies(photo), saturation=0.5)
    spread = (out.max(axis=-1) - out.min(axis=-1)).mean(axis=(1, 2)) / (photo.max(-1) - photo.min(-1)).mean()
    assert spread.min() < 0.8 and spread.max() > 1.2
    assert np.abs(augmented(copies(photo), hue=0.2) - photo).max() > 0.1


CENTRE = 31.5  # of a 64 x 64 image: what rotation and zoom turn and scale about


def two_dots(offset: float = 12.0) -> np.ndarray:
    """Two small Gaussian dots (0.8 on 0.2) at offset pixels left and right of the centre, on row 31.5."""
    y, x = np.mgrid[0:64, 0:64].astype(np.float64)
    dots = sum(np.exp(-((x - CENTRE - dx) ** 2 + (y - CENTRE) ** 2) / (2 * 1.2**2))
               for dx in (-offset, offset))
    return np.repeat((0.2 + 0.6 * dots)[..., None], 3, axis=-1).astype(np.float32)


def centroids(images: np.ndarray, halves: bool = False) -> np.ndarray:
    """(x, y) centroid of each image's brightness above the background 0.2: of the whole image
    (b, 1, 2), or (halves) of what lies left and right of that centroid's column (b, 2, 2)."""
    weight = images[..., 0].astype(np.float64) - 0.2
    y, x = np.mgrid[0:64, 0:64]
    parts = [np.ones((64, 64), bool)]
    if halves:
        middle = centroids(images)[:, 0, 0, None, None]
        parts = [x < middle, x > middle]
    return np.stack([np.stack([(weight * part * x).sum((1, 2)), (weight * part * y).sum((1, 2))], -1)
                     / (weight * part).sum((1, 2))[:, None] for part in parts], axis=1)


def test_geometry_moves_pixels_and_fills_by_reflection(photo):
    flat = copies(np.full((64, 64, 3), 0.6))
    np.testing.assert_allclose(augmented(flat, rotation=30, translation=0.2, zoom=0.2), flat, atol=1e-6)
    for strengths in ({"rotation": 30.0}, {"translation": 0.2}, {"zoom": 0.2}):
        out = augmented(copies(photo, 8), **strengths)
        assert np.abs(out - photo).max() > 0.02, strengths
        assert out.min() >= 0.2 - 1e-5 and out.max() <= 0.8 + 1e-5, strengths  # no black fill


def test_translation_shifts_the_pattern_by_up_to_its_share_of_the_size():
    """translation=0.2: each image's dots move together, by at most 0.2 x 64 = 12.8 pixels along
    each axis, and over 64 images nearly that far; their spread stays as it was."""
    dots = two_dots()
    out = augmented(copies(dots), translation=0.2)
    shift = centroids(out)[:, 0] - [CENTRE, CENTRE]
    assert np.abs(shift).max() <= 12.8 + 0.05 and (np.abs(shift).max(axis=0) > 0.8 * 12.8).all()
    assert (shift.min(axis=0) < -6).all() and (shift.max(axis=0) > 6).all()  # either way on both axes
    assert np.abs(shift[:, 0] - shift[:, 1]).max() > 1  # the axes are drawn apart
    before = centroids(copies(dots), halves=True)
    np.testing.assert_allclose(centroids(out, halves=True) - shift[:, None], before, atol=0.05)


def test_rotation_turns_the_pattern_about_the_centre_by_up_to_the_angle():
    """rotation=30: the two dots, 12 pixels either side of the centre, stay 12 pixels from it and
    turn about it by at most 30 degrees, over 64 images either way and nearly that far."""
    out = augmented(copies(two_dots()), rotation=30.0)
    left, right = np.moveaxis(centroids(out, halves=True) - CENTRE, 1, 0)
    np.testing.assert_allclose(np.hypot(*right.T), 12.0, atol=0.05)
    np.testing.assert_allclose(left, -right, atol=0.05)
    angle = np.degrees(np.arctan2(right[:, 1], right[:, 0]))
    assert np.abs(angle).max() <= 30.0 + 0.2 and angle.min() < -25 and angle.max() > 25


def test_zoom_in_enlarges_the_pattern_and_zoom_out_shrinks_it():
    """zoom=0.2: the dots' distance is scaled by a factor in [0.8, 1.2], about the centre and
    without a turn, over 64 images both larger and smaller and nearly to either end."""
    out = augmented(copies(two_dots()), zoom=0.2)
    left, right = np.moveaxis(centroids(out, halves=True) - CENTRE, 1, 0)
    np.testing.assert_allclose(left, -right, atol=0.05)
    np.testing.assert_allclose(right[:, 1], 0.0, atol=0.05)
    factor = right[:, 0] / 12.0
    assert factor.min() >= 0.8 - 0.005 and factor.max() <= 1.2 + 0.005
    assert factor.min() < 0.85 and factor.max() > 1.15


def test_blur_smooths_and_keeps_flat_images(photo):
    flat = copies(np.full((64, 64, 3), 0.3))
    np.testing.assert_allclose(augmented(flat, blur=2.0), flat, atol=1e-6)
    checkers = copies(np.indices((64, 64)).sum(axis=0)[..., None].repeat(3, axis=-1) % 2 * 0.5 + 0.25)
    out = augmented(checkers, blur=2.0)
    assert out.std(axis=(1, 2, 3)).min() < 0.25 and out.std(axis=(1, 2, 3)).max() <= 0.25 + 1e-6


def test_noise_is_zero_mean_of_bounded_deviation(photo):
    out = augmented(copies(photo), noise=0.05)
    residual = (out - photo).reshape(len(out), -1)
    assert np.abs(residual.mean(axis=1)).max() < 0.005
    assert residual.std(axis=1).max() <= 0.05 * 1.05 and residual.std(axis=1).max() > 0.01


def test_every_augmentation_at_once_stays_in_range_and_depends_only_on_the_step(photo):
    images = copies(photo, 16)
    first, again, other = (augmented(images, step, **EVERY) for step in (3, 3, 4))
    assert first.min() >= 0 and first.max() <= 1
    np.testing.assert_array_equal(first, again)
    assert np.abs(first - other).max() > 0.1
    assert np.abs(first - augmented(images, 3, **{**EVERY, "minibatch_seed": 4})).max() > 0.1


# ---------------------------------------------------------------- training with augmentation


@pytest.fixture(scope="module")
def fake(tmp_path_factory):
    return FakeSigns(tmp_path_factory.mktemp("signs"), n_train=48, n_test=12)


@pytest.fixture(scope="module")
def fake_data(fake):
    return load_signs(fake.dir)


def test_same_seed_same_cost_history_with_augmentation(fake_data):
    X, Y, *_ = fake_data
    config = TrainConfig(num_epochs=3, layers=(6, 5), batch_norm=True, keep_prob=0.8, learning_rate=0.003,
                         minibatch_size=16, **EVERY)
    first, second = (train(config, X, Y)[1].costs for _ in range(2))
    assert first == second
    plain = train(replace(config, **{name: type(value)() for name, value in EVERY.items()}), X, Y)[1].costs
    assert plain != first


def test_augmentation_trains_the_cnn_and_a_population(fake_data):
    from tfsigns.training.trainer import train_population
    X, Y, *_ = fake_data
    images, labels = X.T.reshape(-1, 64, 64, 3), Y.T
    config = TrainConfig(arch="cnn", num_epochs=2, filters=(4,), kernels=(3,), pools=(8,), minibatch_size=16,
                         learning_rate=0.003, **EVERY)
    assert train(config, images, labels)[1].costs == train(config, images, labels)[1].costs
    members = [TrainConfig(num_epochs=2, layers=(5,), learning_rate=rate, **EVERY) for rate in (0.001, 0.003)]
    population = train_population(members, X, Y)
    alone = train(members[1], X, Y)[1].costs
    np.testing.assert_allclose(population[1][1].costs, alone, rtol=1e-5)  # the same augmented minibatches


# Cost histories of these runs at the commit before augmentation existed (a27268f), on FakeSigns(n_train=48),
# to 7 significant digits: with augmentation and normalization off, the graph computes what it computed
# before. The last item is the TF_ENABLE_ONEDNN_OPTS each family ran with then.
BEFORE = {
    "mlp": (["--epochs", "4", "--minibatch-size", "16", "--layers", "6,5", "--batch-norm", "--keep-prob",
             "0.8", "--learning-rate", "0.003"], [1.911483, 1.796274, 1.752311, 1.748474], "0"),
    "cnn": (["--arch", "cnn", "--epochs", "3", "--minibatch-size", "16", "--filters", "4,6", "--kernels",
             "3,2", "--pools", "4,4", "--dense", "5", "--batch-norm", "--learning-rate", "0.003"],
            [1.885369, 1.759428, 1.633049], "1"),
}
# Another CPU's kernels (oneDNN's blocking, AVX-512 against AVX2, Eigen against oneDNN) sum the
# float32 minibatch costs in another order: seen 2e-7 relative after 4 epochs (1.8847023 on an
# AVX-512 EPYC against 1.8847027 where they were recorded). A change to what the graph computes
# (an augmentation left on, the input normalized, another shuffle) moves them by 1e-2 or more. The MLP's
# were recorded again when dropout's masks became stateless in a hash of (seed, layer) (issue 46).
ACROSS_CPUS = 1e-5


@pytest.mark.parametrize("arch", sorted(BEFORE))
def test_with_augmentation_off_the_cost_history_is_as_before(arch, fake, tmp_path):
    flags, costs, onednn = BEFORE[arch]
    env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": onednn}
    out = tmp_path / "run"
    command = [sys.executable, "-m", "tfsigns.train", "--data-dir", str(fake.dir), "--out", str(out)]
    result = subprocess.run([*command, "--quiet", *flags], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    recorded = json.loads((out / "metrics.json").read_text())["costs"]
    np.testing.assert_allclose(recorded, costs, rtol=ACROSS_CPUS)


def test_augmentation_needs_photos():
    X, Y = make_blobs(30, n_x=20)
    for config in (TrainConfig(flip=True, num_epochs=1), TrainConfig(normalize="dataset", num_epochs=1)):
        with pytest.raises(ConfigError, match="need photos"):
            train(config, X, Y)


# ---------------------------------------------------------------- normalization


def test_per_image_normalization_is_tensorflows_formula_in_either_layout(photo):
    """tf.image.per_image_standardization's formula, computed exactly (float64); TensorFlow's own op agrees
    but on a plain image, whose centred values it leaves at its rounding noise (1e-4) instead of 0."""
    images = np.stack([photo, photo * 0.5, np.full_like(photo, 0.7)])
    flat = images.reshape(3, -1).astype(np.float64)
    deviation = np.maximum(flat.std(axis=1, keepdims=True), 1 / np.sqrt(flat.shape[1]))
    expected = ((flat - flat.mean(axis=1, keepdims=True)) / deviation).reshape(images.shape)
    with tf.Graph().as_default(), v1.Session() as sess:
        tensorflows = sess.run(tf.image.per_image_standardization(images))
        as_images = sess.run(normalize_input(tf.constant(images), {}, "per-image", IMAGES))
        as_columns = sess.run(normalize_input(tf.constant(images.reshape(3, -1).T), {}, "per-image", COLUMNS))
    np.testing.assert_allclose(as_images, expected, atol=1e-5)
    np.testing.assert_allclose(as_columns.T.reshape(images.shape), expected, atol=1e-5)
    np.testing.assert_allclose(tensorflows[:2], expected[:2], atol=1e-5)


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_dataset_normalization_is_stored_and_applied_by_classify(arch, fake, fake_data, tmp_path):
    out = tmp_path / "run"
    network = ["--layers", "6"] if arch == "mlp" else ["--filters", "4", "--kernels", "3", "--pools", "8"]
    code, _, err = run_main(main, ["--data-dir", str(fake.dir), "--out", str(out), "--epochs", "3", "--quiet",
                                   "--arch", arch, *network, "--normalize", "dataset", "--batch-norm",
                                   "--learning-rate", "0.01"])
    assert code == 0, err
    X_train, _, X_test, Y_test, _ = fake_data
    pixels = X_train.T.reshape(-1, 3).astype(np.float64)
    config, parameters, _ = load_model(out)
    assert config.normalize == "dataset"
    np.testing.assert_allclose(parameters["input_mean"], pixels.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(parameters["input_deviation"], pixels.std(axis=0), rtol=1e-4)
    probabilities = classify(X_test, out)
    metrics = json.loads((out / "metrics.json").read_text())
    accuracy = np.mean(probabilities.argmax(axis=1) == Y_test.argmax(axis=0))
    assert accuracy == pytest.approx(metrics["test_accuracy"])
    # the same as normalizing by hand and predicting without normalization; not as the raw photos
    by_hand = ((X_test.T.reshape(-1, 3) - pixels.mean(axis=0)) / pixels.std(axis=0)).reshape(X_test.T.shape).T
    layout = COLUMNS if arch == "mlp" else IMAGES
    plain = replace(config, normalize="none")
    expected = layout.rows(predict(layout.from_columns(by_hand.astype(np.float32), None, (64, 64, 3))[0],
                                   parameters, plain, return_probabilities=True))
    np.testing.assert_allclose(probabilities, expected, atol=1e-5)
    raw = layout.rows(predict(layout.from_columns(X_test, None, (64, 64, 3))[0], parameters, plain,
                              return_probabilities=True))
    assert np.abs(raw - probabilities).max() > 1e-3
