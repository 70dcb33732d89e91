"""The shift benchmark: the shifts themselves (tfsigns.images.shifts) and the command that scores a
finished run under them (python -m tfsigns.robustness)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import (
    REAL_DATA,
    REAL_DIGITS,
    FakeSigns,
    SmallSigns,
    copy_of,
    requires_digits,
    requires_real_data,
    run_main,
    snapshot,
)
from tfsigns.images.shifts import SHIFTS, apply_shift
from tfsigns.images.signs import (
    convert_to_one_hot,
    flatten_and_normalize,
    load_dataset,
    train_validation_split,
)
from tfsigns.reader.robustness import validation_images
from tfsigns.robustness import main as robustness_main
from tfsigns.train import main as train_main

OUTPUTS = {"results.json", "accuracy.png", "gallery.png"}


@pytest.fixture(scope="module")
def images():
    """Four random 64x64 photos."""
    return np.random.default_rng(5).integers(0, 256, (4, 64, 64, 3)).astype(np.uint8)


# ---------------------------------------------------------------- the shifts


@pytest.mark.parametrize("name", SHIFTS)
def test_every_shift_keeps_the_images_shape_and_is_deterministic(name, images):
    for level in SHIFTS[name].levels:
        shifted = apply_shift(images, name, level, seed=3)
        assert shifted.shape == images.shape and shifted.dtype == np.uint8
        assert np.array_equal(shifted, apply_shift(images, name, level, seed=3))
        assert not np.array_equal(shifted, images) or (name, level) == ("phone framing", 0.0)


def test_a_shift_does_not_depend_on_what_ran_before_it(images):
    first = apply_shift(images, "noise", 6.0)
    apply_shift(images, "translate", 3.0)
    assert np.array_equal(first, apply_shift(images, "noise", 6.0))
    assert not np.array_equal(first, apply_shift(images, "noise", 6.0, seed=1))


def test_mirror_twice_and_no_exposure_change_give_the_images_back(images):
    assert np.array_equal(apply_shift(apply_shift(images, "mirror", 1.0), "mirror", 1.0), images)
    assert np.abs(apply_shift(images, "darker", 0.0).astype(int) - images).max() <= 1


@requires_real_data
def test_on_the_test_photos_each_level_shifts_further_than_the_one_before():
    """Severities are listed mildest first: the mean pixel change grows with the level."""
    images = load_dataset(REAL_DATA)[2][:30]
    for name, shift in SHIFTS.items():
        change = [np.abs(apply_shift(images, name, level).astype(int) - images).mean()
                  for level in shift.levels]
        assert change == sorted(change), (name, change)


@requires_real_data
def test_phone_framing_without_margin_gives_the_photo_back():
    """The full real-photo path (upscaled, 3:4, EXIF-turned, JPEG, read by tfsigns.portable.photos) at
    margin 0 returns each test photo to within JPEG's error: EXIF, crop and resize are right."""
    images = load_dataset(REAL_DATA)[2][:20]
    back = apply_shift(images, "phone framing", 0.0)
    assert np.abs(back.astype(int) - images).mean() < 2


# ---------------------------------------------------------------- the command


@pytest.fixture(scope="module")
def fake_data(tmp_path_factory):
    return FakeSigns(tmp_path_factory.mktemp("signs"))


def test_the_command_prints_the_table_and_writes_results_plot_and_gallery(fake_run, fake_data, tmp_path):
    out = tmp_path / "bench"
    argv = ["--model", str(fake_run), "--data-dir", str(fake_data.dir), "--out", str(out)]
    code, stdout, stderr = run_main(robustness_main, argv)
    assert code == 0, stderr
    assert {p.name for p in out.iterdir()} == OUTPUTS
    results = json.loads((out / "results.json").read_text())
    assert set(results["shifts"]) == set(SHIFTS) and results["images"] == 6 and results["split"] == "test"
    for name, rows in results["shifts"].items():
        assert [row["level"] for row in rows] == list(SHIFTS[name].levels)
        assert all(row["accuracy"] * 6 == round(row["accuracy"] * 6) for row in rows)  # k of 6 images
        assert f"\n{name} " in stdout
    means = results["shift_means"]
    assert results["mean_over_shifts"] == pytest.approx(np.mean(list(means.values())))
    assert results["worst_shift"] == {"name": min(means, key=means.get), "mean_accuracy": min(means.values())}
    assert "mean over shifts:" in stdout and "worst shift:" in stdout
    for name in ("accuracy.png", "gallery.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG"


def test_json_output_is_the_results_file(fake_run, fake_data, tmp_path):
    code, stdout, _ = run_main(robustness_main, ["--model", str(fake_run), "--data-dir", str(fake_data.dir),
                                                 "--out", str(tmp_path), "--json"])
    assert code == 0 and json.loads(stdout) == json.loads((tmp_path / "results.json").read_text())


def test_a_cnn_run_is_scored_in_its_own_layout(fake_data, tmp_path):
    run = tmp_path / "cnn"
    code, _, err = run_main(train_main, ["--data-dir", str(fake_data.dir), "--out", str(run), "--arch", "cnn",
                                         "--filters", "2,2", "--epochs", "1", "--quiet"])
    assert code == 0, err
    argv = ["--model", str(run), "--data-dir", str(fake_data.dir), "--json"]
    code, _, err = run_main(robustness_main, argv)
    assert code == 0, err
    assert {p.name for p in (run / "robustness").iterdir()} == OUTPUTS  # the default --out


def test_a_model_is_chosen_on_its_validation_photos_without_the_test_set(fake_data, tmp_path):
    run = tmp_path / "run"
    argv = ["--data-dir", str(fake_data.dir), "--out", str(run), "--layers", "4", "--epochs", "3",
            "--validation-fraction", "0.3", "--no-test"]
    code, stdout, err = run_main(train_main, argv)
    assert code == 0, err
    metrics = json.loads((run / "metrics.json").read_text())
    assert "Validation Accuracy:" in stdout and "Test" not in stdout and metrics["test_accuracy"] is None
    code, stdout, err = run_main(robustness_main, ["--model", str(run), "--data-dir", str(fake_data.dir),
                                                   "--split", "validation", "--json"])
    assert code == 0, err
    results = json.loads(stdout)
    n, labels = results["images"], fake_data.arrays["train"][1].reshape(-1)
    assert results["split"] == "validation" and n == sum(round(0.3 * count) for count in np.bincount(labels))
    assert round(results["clean"] * n) == round(metrics["accuracy"]["validation"] * n)
    photos, _ = validation_images(run, str(fake_data.dir))  # the very photos train held out
    x, y = fake_data.arrays["train"]
    _, _, held_out, _ = train_validation_split(flatten_and_normalize(x), convert_to_one_hot(y.reshape(-1), 6),
                                               0.3, 0)
    assert np.array_equal(flatten_and_normalize(photos), held_out)


def test_plots_of_test_images_cannot_go_with_no_test(fake_data, tmp_path):
    code, _, err = run_main(train_main, ["--data-dir", str(fake_data.dir), "--out", str(tmp_path / "run"),
                                         "--no-test", "--plots", "--epochs", "1"])
    assert code == 2 and err.count("\n") == 1 and "cannot go with --no-test" in err, err
    assert not (tmp_path / "run").exists()


def under_a_file(run, tmp_path):
    (tmp_path / "file").write_text("")
    return tmp_path / "file" / "out"


def unfinished(run, tmp_path):
    copy = copy_of(run, tmp_path)
    (copy / "metrics.json").unlink()
    return copy


def sign_folders(fake_data, folder: Path) -> Path:
    """The fake test images as lossless PNG photos in folder/<sign>/, as a user lays real photos out."""
    images, labels = fake_data.arrays["test"]
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        (folder / str(label)).mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / str(label) / f"{i}.png")
    return folder


def test_photos_are_scored_by_sign_as_the_test_images_they_are(fake_run, fake_data, tmp_path):
    """The test images laid out as photo folders score as the clean test set does; the confusion
    matrix counts every photo by its true sign, and each sign's accuracy is its diagonal share."""
    photos = sign_folders(fake_data, tmp_path / "photos")
    out = tmp_path / "out"
    argv = ["--model", str(fake_run), "--data-dir", str(fake_data.dir), "--out", str(out),
            "--photos", str(photos)]
    code, stdout, stderr = run_main(robustness_main, argv)
    assert code == 0, stderr
    results = json.loads((out / "results.json").read_text())
    scored = results["photos"]
    labels = fake_data.arrays["test"][1]
    assert scored["folder"] == str(photos) and scored["images"] == len(labels)
    assert scored["accuracy"] == pytest.approx(results["clean"])
    confusion = np.array(scored["confusion"])
    assert confusion.sum(axis=1).tolist() == np.bincount(labels, minlength=6).tolist()
    assert confusion.shape == (6, 8)  # the answers' columns: the six signs, then "unknown" and "no hand"
    assert scored["columns"] == ["0", "1", "2", "3", "4", "5", "unknown", "no hand"]
    shares = confusion.diagonal() / confusion.sum(axis=1)
    assert list(scored["sign_accuracy"].values()) == pytest.approx(shares)
    assert f"photos in {photos}: {scored['accuracy']:.3f} of {len(labels)}" in stdout


def photos_of_five_signs(run, tmp):
    folder = tmp / "photos"
    for sign in range(5):
        (folder / str(sign)).mkdir(parents=True)
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(folder / str(sign) / "a.png")
    return folder


def photos_with_an_empty_sign(run, tmp):
    folder = photos_of_five_signs(run, tmp)
    (folder / "5").mkdir()
    return folder


def photos_with_a_broken_file(run, tmp):
    folder = photos_of_five_signs(run, tmp)
    (folder / "5").mkdir()
    (folder / "5" / "a.jpg").write_bytes(b"not a photo")
    return folder


# (what to spoil: a flag and how to make its value, what the one-line error says)
BAD_INPUT = {
    "no run": ("--model", lambda run, tmp: tmp / "nothing", "no finished run there"),
    "unfinished run": ("--model", unfinished, "the run has not finished"),
    "missing data": ("--data-dir", lambda run, tmp: tmp / "no-data", "does not exist"),
    "not the data": ("--data-dir", lambda run, tmp: tmp, "file not found"),
    "unwritable out": ("--out", under_a_file, "cannot write there"),
    "no validation photos": ("--split", lambda run, tmp: "validation", "held no validation photos out"),
    "no photos folder": ("--photos", lambda run, tmp: tmp / "none", "not a folder"),
    "a sign without photos": ("--photos", photos_with_an_empty_sign, "holds no photos of sign '5'"),
    "no sign's folder": ("--photos", lambda run, tmp: (tmp / "flat").mkdir() or tmp / "flat",
                         "holds no folder of a sign's photos"),
    "a photo that is not one": ("--photos", photos_with_a_broken_file, "a.jpg"),
}


@pytest.mark.parametrize("case", BAD_INPUT)
def test_bad_input_is_one_line_and_writes_nothing(case, fake_run, fake_data, tmp_path):
    flag, make, message = BAD_INPUT[case]
    bad = make(fake_run, tmp_path)
    argv = {"--model": str(fake_run), "--data-dir": str(fake_data.dir), "--out": str(tmp_path / "out"),
            flag: str(bad)}
    before = snapshot(tmp_path), snapshot(fake_run)
    code, stdout, stderr = run_main(robustness_main, [part for pair in argv.items() for part in pair])
    assert code == 2 and stdout == "" and stderr.count("\n") == 1, stderr
    assert stderr.startswith("tfsigns.robustness: error: ") and message in stderr, stderr
    assert (snapshot(tmp_path), snapshot(fake_run)) == before


@requires_real_data
def test_on_a_real_run_the_clean_score_is_the_runs_own_test_accuracy(tmp_path):
    run = tmp_path / "run"  # a short run: what is compared is two scorings of one network, not its skill
    code, _, err = run_main(train_main, ["--data-dir", str(REAL_DATA), "--out", str(run), "--epochs", "30",
                                         "--quiet"])
    assert code == 0, err
    code, _, err = run_main(robustness_main, ["--model", str(run), "--data-dir", str(REAL_DATA), "--json"])
    assert code == 0, err
    results = json.loads((run / "robustness" / "results.json").read_text())
    test_accuracy = json.loads((run / "metrics.json").read_text())["test_accuracy"]  # float32 there
    assert round(results["clean"] * 120) == round(test_accuracy * 120)
    assert results["images"] == 120


# ---------------------------------------------------------------- the sign reader (make reader)


READER = Path(__file__).resolve().parents[1] / "tfsigns" / "reader.json"


def student_photos(folder: Path, students: int) -> Path:
    """The photos of the first `students` students of the mirror's digits (6-9) and other hands (0-5), as
    folder/<digit>/, the layout of the published data set."""
    from tfsigns.images.digits import digit_photos, find_digits
    from tfsigns.images.digits import students as student_of
    paths, digits = digit_photos(find_digits(REAL_DIGITS))
    for path, student in zip(paths, student_of(paths, digits), strict=True):
        if student < students:
            (folder / path.parent.name).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, folder / path.parent.name / path.name)
    return folder


@requires_digits
def test_make_reader_trains_the_ten_digit_reader_and_make_reader_score_scores_it(tmp_path):
    """`make reader reader-score` itself, in a folder laid out as the project (its tfsigns and setup.py, and
    an install stamp newer than setup.py, so that make installs nothing), on 2 real SIGNS photos of each sign
    and 5 students' photos of the digits, for 1 epoch: it trains reader.json's settings into runs/reader, a
    student held out, and scores that run on that student in runs/reader/robustness. Without the digits'
    photos it says so in one line and trains the six-sign reader."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    project = READER.parents[1]
    for name in ("tfsigns", "setup.py"):
        (tmp_path / name).symlink_to(project / name)
    stamp = tmp_path / "installed"
    stamp.touch()
    command = ["make", "-C", str(tmp_path), "-f", str(project / "Makefile"), f"PY={sys.executable}",
               f"STAMP={stamp}", "ARGS=--epochs 1 --quiet"]
    small = SmallSigns(tmp_path / "signs")
    digits = student_photos(tmp_path / "digits", 5)
    env = {**os.environ, "TFSIGNS_DATA": str(small.dir), "TFSIGNS_DIGITS": str(digits)}
    result = subprocess.run([*command, "reader", "reader-score"], capture_output=True, text=True, timeout=600,
                            env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    run = tmp_path / "runs" / "reader"
    metrics = json.loads((run / "metrics.json").read_text())
    trained = {**metrics["config"], **metrics["run"]}
    assert trained == {**trained, **json.loads(READER.read_text()), "num_epochs": 1}  # every reader setting
    assert metrics["signs"] == [str(d) for d in range(10)] and metrics["photos"]["held_out_students"] == 1
    results = json.loads((run / "robustness" / "results.json").read_text())
    assert results["model"] == "runs/reader"  # as make passed it, from the project's folder
    photos, held = len(list(digits.glob("*/*"))), len(metrics["photos"]["held_out"])
    assert results["images"] == 12 and (results["photos"]["images"], results["photos"]["left_out"]) == (
        held, photos - held)
    assert {p.name for p in (run / "robustness").iterdir()} == OUTPUTS
    without = {key: value for key, value in env.items() if key != "TFSIGNS_DIGITS"}
    result = subprocess.run([*command, "reader"], capture_output=True, text=True, timeout=600, env=without)
    assert result.returncode == 0, result.stdout + result.stderr
    told = [line for line in result.stderr.splitlines() if line.startswith("make reader:")]
    assert told == ["make reader: no photos of the signs 6-9 ($TFSIGNS_DIGITS is unset and data/digits is "
                    "missing; data/README.md says where they are published): training the six-sign reader, "
                    "tfsigns/reader_signs.json"], result.stderr
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["signs"] == [str(d) for d in range(6)] and metrics["config"]["digits"] == "0-5"


def test_each_split_keeps_its_scores_and_a_no_test_run_must_ask_for_the_test_set(fake_data, tmp_path):
    run = tmp_path / "run"
    data = ["--data-dir", str(fake_data.dir)]
    argv = [*data, "--out", str(run), "--layers", "4", "--epochs", "2", "--validation-fraction", "0.3",
            "--no-test", "--quiet"]
    assert run_main(train_main, argv)[0] == 0
    code, _, err = run_main(robustness_main, ["--model", str(run), *data])
    assert code == 2 and err.count("\n") == 1 and "trained with --no-test" in err, err
    assert not (run / "robustness").exists()
    assert run_main(robustness_main, ["--model", str(run), *data, "--split", "validation"])[0] == 0
    code, _, err = run_main(robustness_main, ["--model", str(run), *data, "--split", "test"])
    assert code == 0 and "warning: " in err and "scoring it on the test set, as asked" in err
    validation = json.loads((run / "robustness-validation" / "results.json").read_text())
    test = json.loads((run / "robustness" / "results.json").read_text())
    assert (validation["split"], test["split"]) == ("validation", "test")
    # a new run over this one (--overwrite) takes the old run's scores away with it
    assert run_main(train_main, [*argv, "--overwrite"])[0] == 0
    assert not (run / "robustness").exists() and not (run / "robustness-validation").exists()
