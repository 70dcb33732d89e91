"""The ten-digit reader (SIGNS and other students' photos of ASL's 0-9, split by student), "a sign I don't
know" (a class learnt from made-up hand shapes), and teaching a reader new signs (tfsigns.calibrate)."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import REAL_DATA, REAL_DIGITS, copy_of, requires_digits, run_main, six_sign_run, snapshot
from tfsigns.calibrate import main as calibrate_main
from tfsigns.hands.shapes import FINGERS, made_up_shapes, raised, shown_patterns
from tfsigns.images.dataset import DataError
from tfsigns.images.digits import digit_photos, find_digits, students, validation_students
from tfsigns.portable.read import Signs
from tfsigns.predict import main as predict_main
from tfsigns.train import main as train_main

CONFIGS = Path(__file__).resolve().parents[1] / "tfsigns"


# ---------------------------------------------------------------- the photos, by student


def photo_tree(root: Path, names: dict[str, list[str]]) -> Path:
    """root/<sign>/<name> for each sign's file names, tiny PNGs; returns root."""
    for sign, files in names.items():
        (root / sign).mkdir(parents=True, exist_ok=True)
        for name in files:
            Image.new("RGB", (4, 4)).save(root / sign / name, format="PNG")
    return root


def test_students_are_the_runs_of_signs_in_file_number_order(tmp_path):
    """Each student signed 0 to 9 in turn: a new one begins where the sign goes back down, even where a
    student took a sign twice (IMG_1006 and IMG_1007 are both 6) or skipped one; a name without a number is
    a student of its own."""
    first = {0: [1000], 1: [1001], 2: [1002], 3: [1003], 4: [1004], 5: [1005], 6: [1006, 1007], 7: [1008],
             8: [1009], 9: [1010]}
    second = {0: [1011], 1: [1012], 2: [1013], 4: [1014], 5: [1015], 6: [1016], 7: [1017], 8: [1018],
              9: [1019]}  # no 3
    layout = {str(sign): [f"IMG_{n}.JPG" for n in first[sign] + second.get(sign, [])] for sign in range(10)}
    layout["3"].append("portrait.jpg")
    paths, signs = digit_photos([photo_tree(tmp_path, layout)])
    student = students(paths, signs)
    by_name = {path.name: s for path, s in zip(paths, student, strict=True)}
    ones = {by_name[f"IMG_{n}.JPG"] for numbers in first.values() for n in numbers}
    twos = {by_name[f"IMG_{n}.JPG"] for numbers in second.values() for n in numbers}
    assert len(ones) == 1 and len(twos) == 1 and ones != twos
    assert len(np.unique(student)) == 3 and by_name["portrait.jpg"] not in ones | twos


def test_a_validation_split_takes_whole_students_drawn_by_the_seed():
    student = np.repeat(np.arange(20), 10)
    held = validation_students(student, 0.2, seed=5)
    assert held.sum() == 40 and len(np.unique(student[held])) == 4
    assert not np.intersect1d(student[held], student[~held]).size  # no student on both sides
    assert np.array_equal(held, validation_students(student, 0.2, seed=5))
    assert not np.array_equal(held, validation_students(student, 0.2, seed=6))
    assert not validation_students(student, 0.0, seed=5).any()


def test_the_digit_photos_are_found_by_flag_then_environment_and_refused_in_one_line(tmp_path, monkeypatch):
    six_to_nine = photo_tree(tmp_path / "a", {sign: ["IMG_1.JPG"] for sign in "6789"})
    zero_to_five = photo_tree(tmp_path / "b", {sign: ["IMG_2.JPG"] for sign in "012345"})
    joined = os.pathsep.join(map(str, (six_to_nine, zero_to_five)))
    monkeypatch.setenv("TFSIGNS_DIGITS", joined)
    assert find_digits() == [six_to_nine, zero_to_five] and find_digits(str(zero_to_five)) == [zero_to_five]
    assert len(digit_photos(find_digits())[0]) == 10
    with pytest.raises(DataError, match=r"no photos of 6, 7, 8, 9 \(each"):
        digit_photos(find_digits(str(zero_to_five)))
    with pytest.raises(DataError, match=r"\(from --digits-dir\) does not exist"):
        find_digits(str(tmp_path / "nothing"))
    monkeypatch.delenv("TFSIGNS_DIGITS")
    monkeypatch.setattr("tfsigns.images.digits.PROJECT_DIGITS_DIR", tmp_path / "no-data")
    with pytest.raises(DataError, match=r"set \$TFSIGNS_DIGITS or --digits-dir"):
        find_digits()
    code, out, err = run_main(train_main, ["--arch", "landmarks", "--digits", "0-9", "--digits-dir",
                                           str(tmp_path / "nothing"), "--out", str(tmp_path / "run")])
    assert code == 2 and out == "" and err.count("\n") == 1 and "does not exist" in err, err
    code, out, err = run_main(train_main, ["--arch", "landmarks", "--validation-fraction", "0.2", "--out",
                                           str(tmp_path / "run")])
    assert code == 2 and err.count("\n") == 1 and "two views of each photo" in err, err
    assert not (tmp_path / "run").exists()


# ---------------------------------------------------------------- made-up hand shapes


def made_hand(fingers: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """A hand's 42 features, its fingers (thumb first) raised (1) or folded (0), the knuckles jittered."""
    points = np.zeros((21, 2))
    for finger, joints in enumerate(FINGERS):
        x = -0.6 if finger == 0 else -0.3 + 0.3 * (finger - 1)
        points[joints[0]] = (x + rng.normal(0, 0.02), -0.3 if finger == 0 else -1.0)
        if finger == 0:
            bent = [(-0.9, -0.6), (-1.1, -0.8), (-1.3, -1.0)] if fingers[0] else [(-0.2, -0.6), (0.1, -0.7),
                                                                                   (0.4, -0.75)]
        else:
            bent = [(x, -1.4), (x, -1.7), (x, -2.0)] if fingers[finger] else [(x, -1.2), (x, -0.9), (x, -0.7)]
        points[list(joints[1:])] = np.array(bent) + rng.normal(0, 0.02, (3, 2))
    return points.reshape(-1)


def test_made_up_shapes_change_one_or_two_fingers_of_an_example_into_no_known_pattern():
    rng = np.random.default_rng(0)
    patterns = {0: (0, 1, 0, 0, 0), 1: (0, 1, 1, 0, 0), 2: (1, 1, 1, 1, 1)}
    y = np.repeat([0, 1, 2], 30)
    X = np.stack([made_hand(patterns[sign], rng) for sign in y]).astype(np.float32)
    assert [tuple(map(int, row)) for row in raised(X)] == [patterns[sign] for sign in y]
    assert shown_patterns(X, y) == {tuple(map(bool, pattern)) for pattern in patterns.values()}
    made = made_up_shapes(X, y, 300, seed=3)
    assert made.shape == (300, 42) and np.isfinite(made).all()
    assert not {tuple(map(bool, row)) for row in raised(made)} & shown_patterns(X, y)
    knuckles = [0, *(joints[0] for joints in FINGERS)]
    hands, made_hands = X.reshape(-1, 21, 2), made.reshape(-1, 21, 2)
    for shape in made_hands:  # a real hand's wrist and knuckles, with one or two fingers of another
        (base,) = np.flatnonzero((hands[:, knuckles] == shape[knuckles]).all(axis=(1, 2)))
        changed = [f for f, joints in enumerate(FINGERS) if not np.allclose(shape[list(joints)],
                                                                           hands[base][list(joints)])]
        assert 1 <= len(changed) <= 2, changed
    np.testing.assert_array_equal(made, made_up_shapes(X, y, 300, seed=3))
    assert not np.array_equal(made, made_up_shapes(X, y, 300, seed=4))


# ---------------------------------------------------------------- what a reader's outputs mean


def test_a_reader_names_its_signs_and_says_when_a_hand_shows_none_of_them():
    signs = Signs.of({"signs": ["0", "1", "hello"], "unknown": {"output": 3}, "classes": 4})
    assert signs.outputs == 4 and signs.read(np.array([0.1, 0.2, 0.6, 0.1])) == 2
    known = signs.as_json("a.jpg", np.array([0.1, 0.2, 0.6, 0.1], np.float32), landmarks=True)
    assert known == {"image": "a.jpg", "class": 2, "sign": "hello", "hand": True,
                     "probabilities": pytest.approx([0.1, 0.2, 0.6]), "unknown": pytest.approx(0.1)}
    unknown = signs.as_json("b.jpg", np.array([0.1, 0.1, 0.1, 0.7], np.float32), landmarks=True)
    assert unknown["class"] is None and unknown["sign"] is None and unknown["hand"] is True
    assert unknown["unknown"] == pytest.approx(0.7)
    assert signs.as_json("c.jpg", np.full(4, np.nan), landmarks=True) == {
        "image": "c.jpg", "class": None, "sign": None, "hand": False, "probabilities": None}
    told = signs.line("b.jpg", np.array([0, 0, 0.1, 0.9]))
    assert "not a sign this reader knows (it knows 0, 1, hello)" in told
    assert signs.line("a.jpg", np.array([0.1, 0.2, 0.6, 0.1])).startswith("a.jpg: hello (p = 0.600)")
    margin = np.array([0.3, 0.25, 0.2, 0.25])  # the unknown output is not the highest, but at the threshold
    assert signs.read(margin) == 0 and Signs.of({"signs": ["0", "1", "hello"], "unknown": {
        "output": 3, "threshold": 0.25}}).read(margin) is None
    assert Signs.of({"classes": 6}).names == ("0", "1", "2", "3", "4", "5")  # a run from before names
    assert Signs.of({"classes": 7, "unknown": {"output": 6}}).names == ("0", "1", "2", "3", "4", "5")
    thresholds = [{"signs": ["0"], "unknown": {"output": 1, "threshold": t}} for t in (0, 1.5, "0.5", True)]
    for bad in ({"signs": ["0", "0"]}, {"signs": []}, {"signs": ["0", 1]},
                {"signs": ["0"], "unknown": {"output": 3}}, *thresholds):
        with pytest.raises(ValueError):
            Signs.of(bad)


# ---------------------------------------------------------------- the readers, on other people's photos


def train(config: str, out: Path, *argv: str) -> Path:
    code, _, err = run_main(train_main, ["--config", str(CONFIGS / config), "--data-dir", str(REAL_DATA),
                                         "--digits-dir", REAL_DIGITS, "--epochs", "100", "--quiet", "--out",
                                         str(out), *argv])
    assert code == 0, err
    return out


@pytest.fixture(scope="module")
def ten_digits(tmp_path_factory) -> Path:
    """The ten-digit reader (tfsigns/reader.json, 100 epochs), a fifth of the photos' students held out."""
    if requires_digits.args[0]:
        pytest.skip(requires_digits.kwargs["reason"])
    return train("reader.json", tmp_path_factory.mktemp("ten") / "run")


@pytest.fixture(scope="module")
def six_signs(tmp_path_factory) -> Path:
    """The six-sign reader (tfsigns/reader_signs.json, 100 epochs): SIGNS alone, and "a sign I don't know"."""
    if requires_digits.args[0]:
        pytest.skip(requires_digits.kwargs["reason"])
    return six_sign_run(tmp_path_factory)


def photos_by_student() -> tuple[list[Path], np.ndarray, np.ndarray]:
    """Every photo of the digits, its digit and its student."""
    paths, digits = digit_photos(find_digits(REAL_DIGITS))
    return paths, digits, students(paths, digits)


def predicted(run: Path, paths: list[Path]) -> list[dict]:
    code, out, err = run_main(predict_main, ["--json", "--model", str(run), *map(str, paths)])
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines()]


def test_the_ten_digit_reader_reads_people_it_never_saw(ten_digits):
    metrics = json.loads((ten_digits / "metrics.json").read_text())
    assert metrics["signs"] == [str(d) for d in range(10)] and metrics["classes"] == 11
    settings = json.loads((CONFIGS / "reader.json").read_text())
    assert metrics["unknown"] == {"output": 10, "threshold": settings["unknown_threshold"]}
    photos = metrics["photos"]
    assert photos["students"] == 69 and photos["held_out_students"] == 14 and photos["no_hand"] == 0
    accuracy = metrics["accuracy"]
    assert accuracy["other people"] >= 0.9 and accuracy["test"] >= 0.95, accuracy
    held = set(photos["held_out"])
    paths, digits, _ = photos_by_student()
    new = [next(p for p, d in zip(paths, digits, strict=True) if d == digit and f"{digit}/{p.name}" in held)
           for digit in (6, 7, 8, 9)]
    answers = predicted(ten_digits, new)
    right = [a["sign"] == str(d) and a["class"] == d for a, d in zip(answers, (6, 7, 8, 9), strict=True)]
    assert sum(right) >= 3, answers
    assert all(a["hand"] and "unknown" in a for a in answers), answers


def test_the_six_sign_reader_says_unknown_for_6_to_9_and_reads_0_to_5(six_signs):
    paths, digits, _ = photos_by_student()
    unknown = [p for p, d in zip(paths, digits, strict=True) if d >= 6][::11]
    known = [p for p, d in zip(paths, digits, strict=True) if d < 6][::17]
    answers = predicted(six_signs, unknown + known)
    said = [a for a in answers[:len(unknown)] if a["class"] is None and a["sign"] is None and a["hand"]]
    assert len(said) >= 0.75 * len(unknown), [a["sign"] for a in answers[:len(unknown)]]
    right = [a for a, p in zip(answers[len(unknown):], known, strict=True) if a["sign"] == p.parent.name]
    assert len(right) >= len(known) - 1
    code, out, _ = run_main(predict_main, ["--model", str(six_signs), str(said and said[0]["image"])])
    assert "a hand, but not a sign this reader knows (it knows 0, 1, 2, 3, 4, 5)" in out


def test_scores_leave_out_the_students_a_run_trained_on(ten_digits):
    from tfsigns.reader.robustness import photo_set
    metrics = json.loads((ten_digits / "metrics.json").read_text())
    frames, names, left_out = photo_set(REAL_DIGITS, metrics)
    assert len(frames) == 140 and left_out == 679 - 140
    assert sorted(names) == sorted(name.split("/")[0] for name in metrics["photos"]["held_out"])


# ---------------------------------------------------------------- teaching a sign


def teaching_folder(root: Path, signs: dict[str, int], count: int) -> tuple[Path, set[int]]:
    """root/<name>/ with `count` photos of digit d for each name: d, each photo of another student; and those
    students."""
    paths, digits, student = photos_by_student()
    used = set()
    for name, digit in signs.items():
        (root / name).mkdir(parents=True)
        mine = [(p, s) for p, d, s in zip(paths, digits, student, strict=True) if d == digit][:count]
        for path, s in mine:
            shutil.copy(path, root / name / path.name)
            used.add(int(s))
    return root, used


def test_teaching_adds_new_signs_and_keeps_the_unknown_sign(six_signs, tmp_path):
    photos, used = teaching_folder(tmp_path / "photos", {"hello": 6, "7": 7}, count=5)
    out = tmp_path / "taught"
    code, stdout, err = run_main(calibrate_main, ["--model", str(six_signs), "--photos", str(photos), "--out",
                                                  str(out), "--epochs", "100"])
    assert code == 0, err
    assert "and the new signs 7, hello in " in stdout and "it reads 0, 1, 2, 3, 4, 5, 7, hello;" in stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["signs"] == ["0", "1", "2", "3", "4", "5", "7", "hello"]
    assert metrics["taught"] == ["7", "hello"]
    assert metrics["unknown"]["output"] == 8 and metrics["classes"] == 9
    paths, digits, student = photos_by_student()
    others = [(p, d) for p, d, s in zip(paths, digits, student, strict=True) if s not in used]
    six_seven = [(p, d) for p, d in others if d in (6, 7)][::7]
    eight_nine = [(p, d) for p, d in others if d in (8, 9)][::7]
    answers = predicted(out, [p for p, _ in six_seven + eight_nine])
    expected = {6: "hello", 7: "7"}
    right = sum(a["sign"] == expected[d]
                for a, (_, d) in zip(answers[:len(six_seven)], six_seven, strict=True))
    assert right >= 0.8 * len(six_seven), [a["sign"] for a in answers]
    unknown = sum(a["class"] is None and a["hand"] for a in answers[len(six_seven):])
    assert unknown >= 0.6 * len(eight_nine), [a["sign"] for a in answers[len(six_seven):]]


def no_hand_sign(photos: Path) -> None:
    (photos / "blank").mkdir()
    Image.new("RGB", (100, 100), (128, 128, 128)).save(photos / "blank" / "wall.png")


def another_contract(run: Path) -> None:
    metrics = json.loads((run / "metrics.json").read_text())
    metrics["input"]["features"] = "world-xy-wrist-dm/best-region/1"
    (run / "metrics.json").write_text(json.dumps(metrics))


@requires_digits
@pytest.mark.parametrize("case", ["a sign whose photos show no hand", "a run of another reader's contract",
                                  "an empty sign folder"])
def test_teaching_refuses_in_one_line_and_writes_nothing(case, six_signs, tmp_path):
    run = copy_of(six_signs, tmp_path)
    photos, _ = teaching_folder(tmp_path / "photos", {"6": 6}, count=2)
    message = {"a sign whose photos show no hand": "wall.png: the hand model sees no hand in it",
               "a run of another reader's contract": "without this version's input contract",
               "an empty sign folder": "holds no photos of sign 'seven'"}[case]
    if case == "a sign whose photos show no hand":
        no_hand_sign(photos)
    elif case == "a run of another reader's contract":
        another_contract(run)
    else:
        (photos / "seven").mkdir()
    before = snapshot(tmp_path)
    code, out, err = run_main(calibrate_main, ["--model", str(run), "--photos", str(photos), "--out",
                                               str(tmp_path / "new")])
    assert code == 2 and out == "" and err.count("\n") == 1 and message in err, err
    assert re.match(r"tfsigns\.calibrate: error: ", err) and snapshot(tmp_path) == before
