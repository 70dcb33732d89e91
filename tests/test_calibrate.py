"""Calibration (python -m tfsigns.calibrate) of a pixel run: a finished run fine-tuned on a few photos of the
signs it knows into a new finished run; a new sign is refused (a landmark run learns one:
tests/test_digits.py); bad folders are one line, exit 2, and nothing written."""

import json
import os

import numpy as np
import pytest
from PIL import Image

from tests.conftest import FakeSigns, blobs, copy_of, run_main, snapshot
from tfsigns.calibrate import main as calibrate_main
from tfsigns.config import RunSettings, TrainConfig
from tfsigns.reader.calibrate import MOST_PHOTOS
from tfsigns.training.trainer import train


def photo_folder(root, per_sign=2, seed=0):
    """root/0 ... root/5, each with per_sign random 80x80 PNG photos; returns root."""
    rng = np.random.default_rng(seed)
    for sign in range(6):
        (root / str(sign)).mkdir(parents=True)
        for k in range(per_sign):
            pixels = rng.integers(0, 256, (80, 80, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / str(sign) / f"photo{k}.png")
    return root


@pytest.fixture
def fake_data(tmp_path):
    folder = tmp_path / "signs"
    folder.mkdir()
    return FakeSigns(folder)


def argv(run, photos, out, data):
    return ["--model", str(run), "--photos", str(photos), "--out", str(out), "--data-dir", str(data.dir),
            "--epochs", "1"]


def test_a_calibrated_run_is_a_finished_run_that_predict_reads(fake_run, fake_data, tmp_path):
    from tfsigns.portable.photos import load_sign_folders
    from tfsigns.training.inference import classify
    photos = photo_folder(tmp_path / "photos")
    run_before = snapshot(fake_run)
    out = tmp_path / "runs" / "calibrated"
    out.parent.mkdir()
    code, stdout, err = run_main(calibrate_main, argv(fake_run, photos, out, fake_data))
    assert code == 0, err
    assert f"the new run is {out}/" in stdout and " 12 photos in " in stdout
    assert "it reads 0, 1, 2, 3, 4, 5;" in stdout and "new signs" not in stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["calibrated_from"] == str(fake_run) and metrics["calibration_photos"] == 12
    assert metrics["signs"] == ["0", "1", "2", "3", "4", "5"] and metrics["taught"] == []
    assert set(metrics["accuracy"]) == {"train", "test", "calibration photos"}
    before = json.loads((fake_run / "metrics.json").read_text())["config"]
    assert metrics["config"]["learning_rate"] == pytest.approx(before["learning_rate"] / 10)
    tuned = {"learning_rate", "num_epochs", "decay", "seed", "minibatch_seed"}  # calibration's own
    assert {k: v for k, v in metrics["config"].items() if k not in tuned} == \
           {k: v for k, v in before.items() if k not in tuned}
    X, labels, _ = load_sign_folders(photos)
    accuracy = np.mean(classify(X, out).argmax(axis=1) == labels)
    assert accuracy == pytest.approx(metrics["accuracy"]["calibration photos"])
    assert os.listdir(out.parent) == ["calibrated"]  # no partial folder left beside it
    assert snapshot(fake_run) == run_before


def test_fine_tuning_starts_from_the_given_parameters():
    """trainer.train(initial=...) loads the parameters by name: at a learning rate of nearly 0,
    training ends where it started; without them it starts from the initializers."""
    X, Y = blobs(60)
    config = TrainConfig(layers=(5,), num_epochs=2, minibatch_size=32, learning_rate=1e-3)
    trained, _ = train(config, X, Y, run=RunSettings(print_cost=False))
    still = TrainConfig(layers=(5,), num_epochs=2, minibatch_size=32, learning_rate=1e-12, seed=7)
    tuned, _ = train(still, X, Y, run=RunSettings(print_cost=False), initial=dict(trained))
    fresh, _ = train(still, X, Y, run=RunSettings(print_cost=False))
    for name, value in trained.items():
        np.testing.assert_allclose(tuned[name], value, atol=1e-8)
    assert not np.allclose(fresh["W1"], trained["W1"])


def unreadable(photos):
    (photos / "2" / "photo0.png").write_bytes(b"not an image")


def empty_sign(photos):
    for path in (photos / "4").iterdir():
        path.unlink()


def too_many(photos):
    for k in range(MOST_PHOTOS):
        Image.new("RGB", (8, 8)).save(photos / "1" / f"extra{k}.png")


def new_sign(photos):
    (photos / "2").rename(photos / "hello")


def loose_photo(photos):
    Image.new("RGB", (8, 8)).save(photos / "which-sign.png")


def named(name):
    def rename(photos):
        (photos / "2").rename(photos / name)
    return rename


# (how to spoil the photos folder or the arguments, what the one-line error says)
BAD_INPUT = {
    "no such folder": (lambda photos: None, {"--photos": "nothing-here"}, "not a folder"),
    "an unreadable image": (unreadable, {}, "photo0.png"),
    "a sign without photos": (empty_sign, {}, "holds no photos of sign '4'"),
    "too many photos": (too_many, {}, f"teaching takes 1 to {MOST_PHOTOS} per sign"),
    "a new sign for a pixel run": (new_sign, {}, "a sign this pixel run does not know"),
    "a photo outside a sign's folder": (loose_photo, {}, "which-sign.png: a photo must be in its sign's"),
    "a name too long": (named("n" * 41), {}, "a sign's name must be 1 to 40 characters, got 41"),
    "a name with a backslash": (named("a\\b"), {}, "without slashes"),
    "a name with a newline": (named("a\nb"), {}, "must be printable"),
    "photos given as a file": (lambda photos: None, {"--photos": "photos/0/photo0.png"}, "is a file"),
    "out exists": (lambda photos: None, {"--out": "."}, "exists"),
    "not a finished run": (lambda photos: None, {"--model": "photos"}, "--model"),
    "epochs": (lambda photos: None, {"--epochs": "0"}, "--epochs must lie in"),
}


@pytest.mark.parametrize("case", BAD_INPUT)
def test_bad_input_is_one_line_and_writes_nothing(case, fake_run, fake_data, tmp_path, monkeypatch):
    spoil, flags, message = BAD_INPUT[case]
    run = copy_of(fake_run, tmp_path)
    photos = photo_folder(tmp_path / "photos")
    spoil(photos)
    monkeypatch.chdir(tmp_path)
    args = argv(run, photos, tmp_path / "new", fake_data)
    for flag, value in flags.items():
        args[args.index(flag) + 1] = value
    before = snapshot(tmp_path)
    code, stdout, stderr = run_main(calibrate_main, args)
    assert code == 2 and stdout == "" and stderr.count("\n") == 1, stderr
    assert stderr.startswith("tfsigns.calibrate: error: ") and message in stderr, stderr
    assert snapshot(tmp_path) == before
