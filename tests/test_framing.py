"""Framing (tfsigns.portable.framing): the hand found against its wall, the wall made plain and the photo
cropped to the hand, the same in training and in every photo a framed run reads."""

import json

import numpy as np
import pytest

from tests.conftest import FakeSigns, run_main
from tfsigns.images.signs import IMAGE_SHAPE, load_signs
from tfsigns.portable.framing import PLAIN, frame_columns, frame_hands, handness
from tfsigns.train import main as train_main

SKIN = np.array([0.80, 0.55, 0.45])
WALLS = {"cream": np.array([0.85, 0.80, 0.70]), "grey": np.array([0.55, 0.55, 0.55])}


def photo(wall: np.ndarray, top: int, left: int, side: int, vignette: float = 0.0) -> np.ndarray:
    """A 64x64 photo of a wall, darker towards its corners by `vignette`, with a square of skin."""
    rows, cols = np.mgrid[0:64, 0:64]
    radius = np.hypot(rows - 31.5, cols - 31.5) / np.hypot(31.5, 31.5)
    image = wall * (1 - vignette * radius**2)[..., None]
    image[top:top + side, left:left + side] = SKIN
    return image.astype(np.float32)


@pytest.mark.parametrize("wall", WALLS)
@pytest.mark.parametrize("vignette", [0.0, 0.5])
def test_the_wall_turns_plain_grey_and_the_hand_fills_the_frame(wall, vignette):
    """A hand in a lower corner of a cream or grey wall, lit evenly or vignetted, comes out
    centred in a plain grey frame, filling all but its margins."""
    framed = frame_hands(photo(WALLS[wall], top=40, left=36, side=20, vignette=vignette)[None])[0]
    assert framed.shape == (64, 64, 3) and framed.dtype == np.float32
    np.testing.assert_allclose(framed[32, 32], SKIN, atol=0.01)  # the hand's middle is the frame's
    np.testing.assert_allclose(framed[1, 1], PLAIN, atol=0.01)  # the margin is plain wall
    hand_share = np.mean(np.abs(framed - SKIN).sum(axis=-1) < 0.05)
    assert 0.6 < hand_share < 0.85  # (1 / (1 + 2 * MARGIN))^2 = 0.74 of the frame


def test_shadows_and_vignetting_stay_wall():
    """Brightness is not handness: a wall darkened to a quarter of its light is still wall."""
    dark = photo(WALLS["cream"], top=40, left=36, side=20, vignette=0.75)
    hand = handness(dark[None])[0]
    assert hand[:30].max() < 0.05 and hand[45, 45] == 1.0


def test_a_photo_without_a_hand_is_made_plain_but_not_cropped():
    image = photo(WALLS["grey"], top=0, left=0, side=0)
    image[10, 10] = SKIN  # a stray pixel is no hand
    framed = frame_hands(image[None])[0]
    np.testing.assert_allclose(np.delete(framed.reshape(-1, 3), 10 * 64 + 10, axis=0), PLAIN, atol=1e-6)


def test_each_photo_is_framed_on_its_own_and_the_same_every_time():
    photos = np.stack([photo(WALLS["cream"], 40, 36, 20), photo(WALLS["grey"], 5, 5, 30, vignette=0.4)])
    together = frame_hands(photos)
    np.testing.assert_array_equal(together[1], frame_hands(photos[1:])[0])
    np.testing.assert_array_equal(together, frame_hands(photos))
    columns = photos.reshape(2, -1).T
    np.testing.assert_array_equal(frame_columns(columns, IMAGE_SHAPE), together.reshape(2, -1).T)


def test_a_framed_run_frames_its_training_photos_and_every_photo_it_reads(tmp_path):
    """Training with --framing hand records it with the run and trains on framed photos; classify
    frames what it reads: the same probabilities as the network on photos framed by hand."""
    from tfsigns.networks import get_network
    from tfsigns.training.inference import classify, load_model, predict
    fake = FakeSigns(tmp_path)
    run = tmp_path / "run"
    code, _, err = run_main(train_main, ["--data-dir", str(fake.dir), "--out", str(run), "--layers", "4",
                                         "--epochs", "1", "--framing", "hand", "--quiet"])
    assert code == 0, err
    assert json.loads((run / "config.json").read_text())["framing"] == "hand"
    X_plain, *_ = load_signs(fake.dir)
    X_framed, *_ = load_signs(fake.dir, "hand")
    np.testing.assert_array_equal(X_framed, frame_columns(X_plain, IMAGE_SHAPE))
    config, parameters, input_shape = load_model(run)
    layout = get_network(config.arch).layout
    by_hand = predict(layout.from_columns(X_framed, None, input_shape)[0], parameters, config,
                      return_probabilities=True)
    np.testing.assert_allclose(classify(X_plain, run), layout.rows(by_hand), rtol=1e-5, atol=1e-6)
    assert not np.allclose(classify(X_framed, run), classify(X_plain, run))  # framing twice is not once
