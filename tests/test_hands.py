"""The hand model (tfsigns.hands): the palm detector's geometry against hand-worked cases, the model files'
checks, the pipeline on real photos (SIGNS, an empty cluttered scene, a hand pasted into one), the landmark
features and their augmentation, and the landmarks family end to end: train, predict (no hand is said, never
a digit), the input contract stored with the run, and calibration."""

import hashlib
import json
import math
import shutil
import subprocess
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from PIL import Image

from tests.conftest import HAND_MODELS, REAL_DATA, copy_of, requires_hands, run_main, six_sign_run
from tfsigns.config import ConfigError, TrainConfig
from tfsigns.hands import files
from tfsigns.hands.files import MODELS, ModelError, model_paths
from tfsigns.portable.palm import ANCHORS, Palm, Rect, decode, landmarks_rect, palm_rect, weighted_nms

MODELS_DIR = HAND_MODELS


# ---------------------------------------------------------------- the palm detector's geometry


def test_anchors_are_mediapipes_2016_grid_cells():
    assert ANCHORS.shape == (2016, 2)
    np.testing.assert_allclose(ANCHORS[0], [0.5 / 24, 0.5 / 24])  # stride 8: a 24x24 map, 2 anchors a cell
    np.testing.assert_allclose(ANCHORS[1], ANCHORS[0])
    np.testing.assert_allclose(ANCHORS[2], [1.5 / 24, 0.5 / 24])
    np.testing.assert_allclose(ANCHORS[1152], [0.5 / 12, 0.5 / 12])  # stride 16: 12x12, 6 anchors a cell
    np.testing.assert_allclose(ANCHORS[1152 + 6], [1.5 / 12, 0.5 / 12])
    np.testing.assert_allclose(ANCHORS[-1], [11.5 / 12, 11.5 / 12])


def test_decode_offsets_boxes_and_keypoints_from_their_anchor():
    raw_boxes, raw_scores = np.zeros((2016, 18), np.float32), np.full(2016, -10.0, np.float32)
    k = 1152 + 6 * 13 + 2  # row 1, column 1 of the stride-16 map
    raw_boxes[k, :4] = [19.2, -9.6, 38.4, 19.2]  # x, y offsets and w, h, in input pixels (of 192)
    raw_boxes[k, 4:6] = [0.0, 9.6]  # keypoint 0
    raw_scores[k] = 2.0
    boxes, keypoints, scores = decode(raw_boxes, raw_scores)
    assert len(scores) == 1 and scores[0] == pytest.approx(1 / (1 + math.exp(-2)))
    cx, cy = 1.5 / 12 + 0.1, 1.5 / 12 - 0.05
    np.testing.assert_allclose(boxes[0], [cx - 0.1, cy - 0.05, cx + 0.1, cy + 0.05], atol=1e-6)
    np.testing.assert_allclose(keypoints[0, 0], [1.5 / 12, 1.5 / 12 + 0.05], atol=1e-6)


def test_weighted_nms_averages_an_overlapping_cluster_by_score_and_keeps_a_distant_box():
    boxes = np.array([[0, 0, 1, 1], [0.1, 0, 1.1, 1], [5, 5, 6, 6]], np.float32)
    keypoints = np.stack([np.full((7, 2), v) for v in (0.0, 1.0, 9.0)]).astype(np.float32)
    found = weighted_nms(boxes, keypoints, np.array([0.9, 0.6, 0.7]))
    assert len(found) == 2
    box, points, score = found[0]
    assert score == pytest.approx(0.9)
    np.testing.assert_allclose(box[0], 0.6 / 1.5 * 0.1, atol=1e-6)  # weights 0.9 and 0.6
    np.testing.assert_allclose(points, 0.6 / 1.5, atol=1e-6)
    np.testing.assert_allclose(found[1][0], boxes[2])


def keypoints(wrist: list[float], middle_base: list[float]) -> np.ndarray:
    """A palm's 7 keypoints (7, 2) with the wrist (0) and the middle finger's base (2) where given."""
    points = np.zeros((7, 2))
    points[0], points[2] = wrist, middle_base
    return points


def test_a_palm_pointing_up_gives_an_upright_region_shifted_towards_the_fingers():
    palm = Palm(np.array([100, 100, 140, 140.0]), keypoints([120, 140], [120, 100]), 0.9)
    rect = palm_rect(palm)
    assert rect.rotation == pytest.approx(0.0)
    assert (rect.x, rect.y) == pytest.approx((120, 120 - 0.5 * 40))  # shift_y -0.5 of the box's height
    assert rect.size == pytest.approx(2.6 * 40)
    turned = Palm(palm.box, keypoints([100, 120], [140, 120]), 0.9)
    rect = palm_rect(turned)  # fingers to the right: turned a quarter clockwise, shifted right
    assert rect.rotation == pytest.approx(math.pi / 2)
    assert (rect.x, rect.y) == pytest.approx((120 + 20, 120))


def test_a_regions_crop_matrix_and_landmark_projection_agree():
    rect = Rect(300.0, 200.0, 120.0, 0.7)
    corners = np.array([[0, 0], [224, 0], [0, 224], [224, 224.0]])
    matrix = rect.crop_matrix(224)
    through_matrix = corners @ matrix[:, :2].T + matrix[:, 2]
    np.testing.assert_allclose(rect.to_image(corners / 224), through_matrix, atol=1e-9)
    centre = rect.to_image(np.array([[0.5, 0.5]]))[0]
    np.testing.assert_allclose(centre, [300, 200])
    np.testing.assert_allclose(np.linalg.norm(through_matrix[1] - through_matrix[0]), 120)


def test_the_next_frames_region_holds_every_landmark():
    rng = np.random.default_rng(0)
    points = np.concatenate([rng.uniform([200, 100], [260, 200], (21, 2)), np.zeros((21, 1))], axis=1)
    rect = landmarks_rect(points)
    c, s = math.cos(rect.rotation), math.sin(rect.rotation)
    local = (points[:, :2] - [rect.x, rect.y]) @ np.array([[c, -s], [s, c]])
    assert np.abs(local).max() <= rect.size / 2


# ---------------------------------------------------------------- the model files


def test_a_model_file_that_is_not_mediapipes_is_refused_in_one_line(tmp_path):
    for name in MODELS:
        (tmp_path / name).write_bytes(b"TFL3 not the model")
    with pytest.raises(ModelError, match="not MediaPipe's palm_detection_full.tflite") as err:
        model_paths("full", tmp_path)
    assert "\n" not in str(err.value)
    (tmp_path / "palm_detection_full.tflite").unlink()
    with pytest.raises(ModelError, match="palm_detection_full.tflite .*: hand model not found"):
        model_paths("full", tmp_path)
    with pytest.raises(ModelError, match="unknown hand model"):
        model_paths("medium", tmp_path)


def fake_wheel(folder: Path, contents: dict[str, bytes]) -> Path:
    """A zip named as MediaPipe's wheel, holding `contents` at the wheel's paths."""
    wheel = folder / files.WHEEL
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, data in contents.items():
            archive.writestr(name, data)
    return wheel


def test_missing_models_are_taken_out_of_the_wheel_pip_downloads(tmp_path, monkeypatch):
    """The fetch path without the network: pip's download is stood in for by a wheel of known files, whose
    SHA-256s the test sets; the files land in the cache and are verified there."""
    monkeypatch.delenv("TFSIGNS_MODELS")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    contents = {where + name: name.encode() * 3 for name, (where, _) in MODELS.items()}
    contents[files.LICENSE] = b"Apache License"
    made = fake_wheel(tmp_path, contents)
    digest = files.sha256(made)
    monkeypatch.setattr(files, "WHEEL_SHA256", digest)
    monkeypatch.setattr(files, "MODELS", {name: (where, hashlib.sha256(name.encode() * 3).hexdigest())
                                          for name, (where, _) in MODELS.items()})
    asked = []

    def pip(command, **kwargs):
        asked.append(command)
        shutil.copy(made, Path(command[command.index("--dest") + 1]) / files.WHEEL)
        return subprocess.CompletedProcess(command, 0, "", "")
    monkeypatch.setattr(files.subprocess, "run", pip)
    paths = model_paths("lite")
    assert paths["palm"] == tmp_path / "cache/tfsigns/mediapipe-hands/palm_detection_lite.tflite"
    assert (tmp_path / "cache/tfsigns/mediapipe-hands/LICENSE").read_bytes() == b"Apache License"
    assert "mediapipe==0.10.21" in asked[0] and "--no-deps" in asked[0]
    model_paths("full")  # now cached: pip is not asked again
    assert len(asked) == 1
    damaged = tmp_path / "cache/tfsigns/mediapipe-hands/hand_landmark_full.tflite"
    damaged.write_bytes(b"damaged")
    model_paths("full")  # a damaged file in the cache is fetched again
    assert len(asked) == 2 and files.expected(damaged)


def test_a_wheel_that_is_not_the_expected_one_or_a_failing_pip_is_one_line(tmp_path, monkeypatch):
    monkeypatch.delenv("TFSIGNS_MODELS")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    made = fake_wheel(tmp_path, {"x": b"y"})

    def pip(command, **kwargs):
        shutil.copy(made, Path(command[command.index("--dest") + 1]) / files.WHEEL)
        return subprocess.CompletedProcess(command, 0, "", "")
    monkeypatch.setattr(files.subprocess, "run", pip)
    with pytest.raises(ModelError, match="is not the expected one"):
        model_paths("full")
    failing = lambda command, **kwargs: subprocess.CompletedProcess(  # noqa: E731
        command, 1, "", "ERROR: Could not find a version that satisfies the requirement\n")
    monkeypatch.setattr(files.subprocess, "run", failing)
    with pytest.raises(ModelError, match=r"could not download .* requirement\); give \$TFSIGNS_MODELS a"):
        model_paths("full")
    assert not list((tmp_path / "cache/tfsigns/mediapipe-hands").glob("*.tflite"))


# ---------------------------------------------------------------- the pipeline on real photos


@pytest.fixture(scope="module")
def hand_model():
    from tfsigns.hands.model import HandModel
    if not (MODELS_DIR / "hand_landmark_full.tflite").is_file():
        pytest.skip(f"MediaPipe's hand models not found in {MODELS_DIR}")
    return HandModel("full", MODELS_DIR)


@pytest.fixture(scope="module")
def test_photos():
    if not (REAL_DATA / "test_signs.h5").is_file():
        pytest.skip(f"real SIGNS data not found in {REAL_DATA}")
    with h5py.File(REAL_DATA / "test_signs.h5") as f:
        return np.array(f["test_set_x"]), np.array(f["test_set_y"])


def test_the_hand_is_found_in_signs_photos_and_none_in_empty_scenes_or_tiny_images(hand_model, test_photos):
    from tfsigns.images.scenes import scene
    from tfsigns.portable.hands import read_hand
    photos, _ = test_photos
    hands = [read_hand(hand_model, photo) for photo in photos[:24]]
    assert all(hand is not None and hand.presence >= 0.5 for hand in hands)
    assert all(hand.landmarks.shape == (21, 3) and hand.world.shape == (21, 3) for hand in hands)
    assert all(read_hand(hand_model, scene(seed)) is None for seed in range(6))
    assert read_hand(hand_model, np.zeros((8, 8, 3), np.uint8)) is None


def test_a_hand_pasted_into_a_cluttered_scene_is_found_where_it_was_put(hand_model, test_photos):
    from tfsigns.images.scenes import paste
    from tfsigns.portable.hands import read_hand
    photos, _ = test_photos
    found = 0
    for seed in range(8):
        frame, (x0, y0, x1, y1) = paste(photos[seed], seed)
        hand = read_hand(hand_model, frame)
        if hand is not None:
            found += 1
            assert (hand.landmarks[:, 0].min() > x0 - 10 and hand.landmarks[:, 0].max() < x1 + 10
                    and hand.landmarks[:, 1].min() > y0 - 10 and hand.landmarks[:, 1].max() < y1 + 10)
    assert found >= 6


def test_tracking_reads_the_previous_frames_region_and_lets_it_go_when_the_hand_leaves(hand_model,
                                                                                      test_photos):
    from tfsigns.images.scenes import paste, scene
    from tfsigns.portable.hands import read_hand
    photos, _ = test_photos
    frame, _ = paste(photos[0], 3)
    first = read_hand(hand_model, frame, track=True)
    assert first is not None and hand_model.previous is not None
    second = read_hand(hand_model, frame, track=True)
    assert second.palm_score is None  # read in the tracked region: no palm search
    assert read_hand(hand_model, scene(99), track=True) is None and hand_model.previous is None


def test_features_are_the_world_landmarks_about_the_wrist_in_decimetres(hand_model, test_photos):
    from tfsigns.portable.hands import N_FEATURES, features, read_hand
    hand = read_hand(hand_model, test_photos[0][0])
    row = features(hand)
    assert row.shape == (N_FEATURES,) and row.dtype == np.float32
    np.testing.assert_array_equal(row[:2], [0, 0])  # the wrist
    np.testing.assert_allclose(row[2:4], (hand.world[1, :2] - hand.world[0, :2]) * 10, rtol=1e-6)
    assert 0.1 < np.abs(row).max() < 3  # a hand is about 2 dm long


# ---------------------------------------------------------------- the family and its augmentation


def test_landmark_runs_refuse_pixel_settings_and_pixel_runs_the_hand_model():
    TrainConfig(arch="landmarks", flip=True, rotation=20, zoom=0.1, noise=0.05, layers=(8,),
                hand_model="lite")
    for name, value in (("brightness", 0.2), ("hue", 0.1), ("translation", 0.1), ("normalize", "per-image"),
                        ("framing", "hand")):
        with pytest.raises(ConfigError, match="reads hand landmarks, not pixels"):
            TrainConfig(arch="landmarks", **{name: value})
    with pytest.raises(ConfigError, match="the mlp family has no hand model"):
        TrainConfig(arch="mlp", hand_model="lite")
    with pytest.raises(ConfigError, match="the cnn family has no hidden MLP layers"):
        TrainConfig(arch="cnn", layers=(8,))


def test_landmark_augmentation_mirrors_turns_scales_and_jitters_statelessly(graph):
    from tfsigns.backend import tf, v1
    from tfsigns.training.augment import augment_landmarks
    rows = np.random.default_rng(0).normal(size=(64, 42)).astype(np.float32)
    step = v1.train.get_or_create_global_step()
    outputs = {name: augment_landmarks(tf.constant(rows), TrainConfig(arch="landmarks", **kwargs))
               for name, kwargs in (("flip", {"flip": True}), ("turn", {"rotation": 90.0}),
                                    ("scale", {"zoom": 0.5}), ("jitter", {"noise": 0.1}))}
    with v1.Session() as sess:
        sess.run(v1.global_variables_initializer())
        got = sess.run(outputs)
        again = sess.run(outputs)
        sess.run(step.assign_add(1))
        later = sess.run(outputs)
    points, flipped = rows.reshape(64, 21, 2), got["flip"].reshape(64, 21, 2)
    mirrored = np.all(np.isclose(flipped[..., 0], -points[..., 0]), axis=1)
    assert 10 < mirrored.sum() < 54 and np.allclose(flipped[~mirrored], points[~mirrored])
    np.testing.assert_allclose(flipped[..., 1], points[..., 1])
    norms = lambda a: np.linalg.norm(a.reshape(64, 21, 2), axis=2)  # noqa: E731
    np.testing.assert_allclose(norms(got["turn"]), norms(rows), rtol=1e-5)  # a turn keeps distances
    assert not np.allclose(got["turn"], rows)
    ratio = norms(got["scale"]) / norms(rows)
    assert np.allclose(ratio, ratio[:, :1], rtol=1e-4) and 0.5 <= ratio.min() and ratio.max() <= 1.5
    assert 0 < np.abs(got["jitter"] - rows).mean() < 0.1
    for name in outputs:  # the same step draws the same; the next step draws anew
        np.testing.assert_array_equal(got[name], again[name])
        assert not np.array_equal(got[name], later[name])


# ---------------------------------------------------------------- a landmark run end to end


@pytest.fixture(scope="module")
def landmark_run(tmp_path_factory):
    """A finished landmarks run on real SIGNS (the six-sign reader's settings, reader_signs.json, 100
    epochs), in this process."""
    if not ((MODELS_DIR / "hand_landmark_full.tflite").is_file() and (REAL_DATA / "train_signs.h5").exists()):
        pytest.skip(f"needs MediaPipe's hand models ({MODELS_DIR}) and the SIGNS data ({REAL_DATA})")
    return six_sign_run(tmp_path_factory)


def signs_jpegs(folder: Path, test_photos, count: int = 6) -> list[Path]:
    """The first `count` SIGNS test photos as JPEG files, named by their sign."""
    photos, labels = test_photos
    paths = []
    for k in range(count):
        path = folder / f"sign{labels[k]}-{k}.jpg"
        Image.fromarray(photos[k]).save(path, quality=95)
        paths.append(path)
    return paths


@requires_hands
def test_a_landmark_run_stores_its_input_contract_and_reads_signs_test(landmark_run):
    metrics = json.loads((landmark_run / "metrics.json").read_text())
    contract = metrics["input"]
    assert contract["kind"] == "landmarks" and contract["hand_model"] == "full"
    assert sorted(contract["models"]) == ["hand_landmark_full.tflite", "palm_detection_full.tflite"]
    assert contract["models"]["hand_landmark_full.tflite"] == MODELS["hand_landmark_full.tflite"][1]
    assert metrics["input_shape"] == [42] and metrics["test_accuracy"] >= 0.9


@requires_hands
def test_predict_reads_the_sign_and_says_no_hand_never_a_digit(landmark_run, test_photos, tmp_path):
    from tfsigns.images.scenes import scene
    from tfsigns.predict import main
    paths = signs_jpegs(tmp_path, test_photos)
    Image.fromarray(scene(1)).save(tmp_path / "room.png")
    Image.new("RGB", (10, 10), "white").save(tmp_path / "tiny.png")
    code, out, err = run_main(main, [*map(str, paths), str(tmp_path / "room.png"), str(tmp_path / "tiny.png"),
                                     "--model", str(landmark_run), "--json"])
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    labels = test_photos[1][:6]
    assert sum(row["class"] == label and row["sign"] == str(label)
               for row, label in zip(rows, labels, strict=False)) >= 5
    assert all(row["hand"] is True and len(row["probabilities"]) == 6 and 0 <= row["unknown"] <= 1
               for row in rows[:6])
    assert rows[6:] == [{"image": str(tmp_path / name), "class": None, "sign": None, "hand": False,
                         "probabilities": None} for name in ("room.png", "tiny.png")]
    code, out, err = run_main(main, [str(tmp_path / "room.png"), "--model", str(landmark_run)])
    assert code == 0 and out.strip().endswith("room.png: no hand found (the hand model sees none clearly "
                                              "enough to read a sign)")


@requires_hands
def test_a_run_without_the_contract_or_other_model_files_is_one_line_and_exit_2(landmark_run, test_photos,
                                                                               tmp_path, monkeypatch):
    from tfsigns.predict import main
    photo = signs_jpegs(tmp_path, test_photos, 1)[0]
    old = copy_of(landmark_run, tmp_path)
    metrics = json.loads((old / "metrics.json").read_text())
    del metrics["input"]
    (old / "metrics.json").write_text(json.dumps(metrics))
    code, out, err = run_main(main, [str(photo), "--model", str(old)])
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "without this version's input contract" in err
    other = tmp_path / "other-models"
    other.mkdir()
    for name in MODELS:  # the lite files under the full files' names: not what the run was trained through
        shutil.copy(MODELS_DIR / name.replace("full", "lite"), other / name)
    monkeypatch.setenv("TFSIGNS_MODELS", str(other))
    code, out, err = run_main(main, [str(photo), "--model", str(landmark_run)])
    assert code == 2 and err.count("\n") == 1 and "not MediaPipe's" in err


@requires_hands
def test_calibration_teaches_a_landmark_run_and_refuses_a_photo_without_a_hand(landmark_run, test_photos,
                                                                              tmp_path):
    from tfsigns.calibrate import main
    from tfsigns.images.scenes import scene
    photos, labels = test_photos
    folder = tmp_path / "photos"
    for sign in range(6):
        (folder / str(sign)).mkdir(parents=True)
        for k in np.flatnonzero(labels == sign)[:2]:
            Image.fromarray(photos[k]).save(folder / str(sign) / f"{k}.png")
    out = tmp_path / "calibrated"
    code, printed, err = run_main(main, ["--model", str(landmark_run), "--photos", str(folder), "--out",
                                         str(out), "--epochs", "50"])  # a landmark run needs no SIGNS files
    assert code == 0, err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["input"] == json.loads((landmark_run / "metrics.json").read_text())["input"]
    assert metrics["accuracy"]["calibration photos"] == 1.0 and metrics["accuracy"]["test"] >= 0.9
    Image.fromarray(scene(4)).save(folder / "3" / "room.png")
    code, printed, err = run_main(main, ["--model", str(landmark_run), "--photos", str(folder), "--out",
                                         str(tmp_path / "again")])
    assert code == 2 and err.count("\n") == 1 and "room.png: the hand model sees no hand" in err
    assert not (tmp_path / "again").exists()
