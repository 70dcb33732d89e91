"""Grading a class (python -m tfsigns.grader NB... --out DIR): reports an instructor reads and a student
sees, saved as they come, Ctrl-C and --resume, the rubric, the cases drawn from the class's seed, bad
input. What a hostile submission meets is in tests/test_sandbox.py, which shares these helpers."""

from __future__ import annotations

import csv
import inspect
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests import test_grader
from tests.conftest import run_main
from tfsigns.grader import ASSIGNMENTS, grade_lines
from tfsigns.grading.classroom import main, sandbox_works
from tfsigns.grading.submission import tfsigns_imports

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
TENSORFLOW = list(ASSIGNMENTS["tensorflow"].exercises)
# Tests of the class's grading, not of its isolation: sandboxed where bubblewrap runs (the sandboxes fork
# their submissions' processes, 5 s faster each), with process limits only elsewhere
ISOLATION = [] if sandbox_works() else ["--no-sandbox"]
IMPORTS = "import numpy as np\nimport tensorflow as tf\nfrom tfsigns.grader import grade\n" \
          "v1 = tf.compat.v1\nv1.disable_eager_execution()\n"


def notebook(path: Path, *cells: str, assignments=("tensorflow",)) -> Path:
    """A notebook of code cells, saying its assignment as the exercise notebooks do."""
    path.write_text(json.dumps({
        "cells": [{"cell_type": "code", "source": source, "metadata": {}, "outputs": [],
                   "execution_count": None} for source in cells],
        "metadata": {"tfsigns": {"assignments": list(assignments)}}, "nbformat": 4, "nbformat_minor": 5}))
    return path


def correct_answers() -> str:
    """The independent solutions of tests/test_grader.py as a learner's cells would define them."""
    source = Path(test_grader.__file__).read_text()
    start, end = source.index("def tf_linear_function"), source.index("SOLUTIONS = {")
    names = "".join(f"{name} = {fn.__name__}\n" for name, fn in test_grader.SOLUTIONS.items())
    return source[start:end] + names


SIGMOID = ("def sigmoid(z):\n    x = v1.placeholder(tf.float32)\n    with v1.Session() as session:\n"
           "        return session.run(tf.sigmoid(x), {x: z})\n")  # one exercise right, quickly graded


def learner_answers() -> str:
    """correct_answers(), with a model() that calls the helpers by the exercises' names, as a learner's
    notebook does (so that a learner's broken helper reaches it)."""
    model = inspect.getsource(test_grader.course_model).replace("def course_model", "def model")
    helpers = ("create_placeholders", "initialize_parameters", "forward_propagation", "random_mini_batches")
    for helper in helpers:
        model = model.replace(f"course_{helper}(", f"{helper}(")
    return correct_answers() + "\n" + model


def failures(report: Path) -> str:
    """What a submission's results.json says of the exercises it lost points on."""
    results = json.loads((report / "results.json").read_text())
    lost = [test["output"] for test in results["tests"] if test["score"] < test["max_score"]]
    return "\n".join([results["output"], *lost])


def read_grades(out: Path) -> dict[str, dict[str, str]]:
    with open(out / "grades.csv", newline="") as table:
        return {row["submission"]: row for row in csv.DictReader(table)}


@pytest.mark.parametrize("name", ["forward_propagation", "one_hot_matrix", "random_mini_batches",
                                  "sample_learning_rate"])
def test_the_cases_are_drawn_from_the_graders_seed(name):
    """An answer that memorised the published cases (the notebooks' seed, 0) passes them, and fails an
    instructor's: the reference's answers, replayed in the order the checks ask."""
    reference = ASSIGNMENTS["tensorflow"].references[name]
    published = []

    def recording(*args):
        published.append(reference(*args))
        return published[-1]
    assert grade_lines(name, recording)[0]

    def memorised():
        answers = iter(published)
        return lambda *args: next(answers)
    assert grade_lines(name, memorised())[0]
    passed, lines = grade_lines(name, memorised(), seed=2026)
    assert not passed, lines


def test_a_submission_that_cannot_be_graded_is_one_line_and_the_others_are_graded(tmp_path):
    correct = notebook(tmp_path / "correct.ipynb", IMPORTS, correct_answers())
    broken = tmp_path / "broken.ipynb"
    broken.write_text("{not json")
    other = shutil.copy(NOTEBOOKS / "Convolution_Exercises.ipynb", tmp_path / "other.ipynb")
    points = tmp_path / "points.json"
    points.write_text(json.dumps({"model": 10}))
    out = tmp_path / "grades"
    code, _, err = run_main(main, [str(correct), str(broken), str(tmp_path / "missing.ipynb"), str(other),
                                   "--assignment", "tensorflow", "--points", str(points), "--out", str(out),
                                   "--no-sandbox", "--timeout", "60"])
    assert code == 0, err
    lines = err.splitlines()
    assert len(lines) == 3 and all(line.startswith("tfsigns.grader: ") for line in lines), err
    assert "broken.ipynb: not graded: not a readable notebook" in err
    assert "missing.ipynb: not graded: no such file" in err
    assert "other.ipynb: not graded: a notebook of convolution_step_by_step, convolution_application" in err
    grades = read_grades(out)
    full = sum(exercise.points for exercise in ASSIGNMENTS["tensorflow"].exercises.values()) - 3 + 10
    assert grades["correct.ipynb"]["score"] == f"{full:g}" and grades["correct.ipynb"]["model"] == "10"
    assert grades["broken.ipynb"]["score"] == "0"
    report = json.loads((out / "submissions" / "correct.ipynb" / "results.json").read_text())
    assert report["tests"][0]["status"] in ("passed", "failed") and report["visibility"] == "visible"
    record = json.loads((out / "submissions" / "correct.ipynb" / "grading.json").read_text())
    assert record["isolation"] == "process limits only (--no-sandbox)"


def test_a_forged_channel_message_and_same_named_files_cost_only_their_own_rows(tmp_path):
    """A cell that writes to the grader's channel itself (found through the calling frame, as an attacker who
    read the child's code would) gets its own row's zeros, not a stopped class; alice's and bob's notebooks of
    one name are two rows and two reports; a submission named like the grader's own files harms nothing."""
    for name in ("mallory", "alice", "bob", "carol"):
        (tmp_path / name).mkdir()
    message = json.dumps({"cell_errors": [], "defined": {"linear_function": 7}})
    forged = notebook(tmp_path / "mallory" / "Exercises.ipynb",
                      "import sys\nchannel = sys._getframe().f_back.f_locals['results']\n"
                      f"channel.write('tfsigns-result ' + {message!r} + '\\n')\nchannel.flush()\n")
    for name in ("alice", "bob"):
        notebook(tmp_path / name / "Exercises.ipynb", IMPORTS, SIGMOID)
    clash = notebook(tmp_path / "carol" / "grades.csv.ipynb", "x = 1")
    out = tmp_path / "grades"
    alice, bob = (tmp_path / name / "Exercises.ipynb" for name in ("alice", "bob"))
    code, stdout, err = run_main(main, [*map(str, (forged, alice, bob, clash)), "--out", str(out),
                                        *ISOLATION, "--workers", "2", "--timeout", "60"])
    assert code == 0, err
    grades = read_grades(out)
    assert set(grades) == {"mallory/Exercises.ipynb", "alice/Exercises.ipynb", "bob/Exercises.ipynb",
                           "carol/grades.csv.ipynb"}
    assert grades["alice/Exercises.ipynb"]["score"] == grades["bob/Exercises.ipynb"]["score"] == "1"
    assert grades["mallory/Exercises.ipynb"]["score"] == "0"
    assert "sent data the grader does not take" in grades["mallory/Exercises.ipynb"]["note"]
    for name in grades:
        assert json.loads((out / "submissions" / name / "results.json").read_text())["max_score"] >= 0
    assert (out / "grades.csv").is_file() and (out / "class.png").is_file()


@pytest.mark.parametrize("args, message", [
    (["--timeout", "0"], "--timeout must be a positive number"),
    (["--total", "-1"], "--total must be a positive number"),
    (["--memory", "10"], "--memory must be at least 256 MB"),
    (["--disk", "8"], "--disk must be at least 16 MB, got 8"),
    (["--seed", "0"], "--seed must be a whole number from 1 (0 draws the notebooks' own cases), got 0"),
    (["--assignment", "calculus"], "--assignment 'calculus': the assignments are"),
    (["--points", "{tmp}/points.json"], "'integrals' is not an exercise"),
    (["--points", "{tmp}/a-file"], "--points {tmp}/a-file: not a readable JSON file"),
    (["--out", "{tmp}/a-file/grades"], "--out {tmp}/a-file/grades: cannot write there"),
])
def test_bad_input_is_one_line_and_writes_nothing(args, message, tmp_path):
    (tmp_path / "points.json").write_text(json.dumps({"integrals": 2}))
    (tmp_path / "a-file").write_text("a file")
    args = [a.format(tmp=tmp_path) for a in args]
    out = [] if "--out" in args else ["--out", str(tmp_path / "out")]
    code, _, err = run_main(main, [str(NOTEBOOKS / "Exercises.ipynb"), "--no-sandbox", *out, *args])
    assert code == 2 and err.count("\n") == 1 and message.format(tmp=tmp_path) in err, err
    assert not (tmp_path / "out").exists()


def test_python_m_tfsigns_grader_is_the_class_grader(tmp_path):
    result = subprocess.run([sys.executable, "-m", "tfsigns.grader", "--help"], capture_output=True,
                            text=True)
    assert result.returncode == 0 and "--no-sandbox" in result.stdout, result.stderr


def test_the_note_names_the_tfsigns_modules_a_submission_imports():
    """By the module, whether the notebook reaches it by its folder or by its path before the folders."""
    cells = ["from tfsigns.course import basics\nfrom tfsigns import cnn, grader",
             "import tfsigns.grading.checks",
             "from tfsigns.grader import grade\nfrom tfsigns.training.trainer import model\nimport tfsigns"]
    assert tfsigns_imports(cells) == ["tfsigns.cnn", "tfsigns.course.basics", "tfsigns.grading.checks",
                                      "tfsigns.training.trainer"]


def test_a_class_is_saved_as_it_goes_survives_ctrl_c_and_resumes(tmp_path):
    """Each submission's reports are written as it finishes, with a line of progress; Ctrl-C keeps them
    and says how to go on; --resume grades only the rest. A notebook of another assignment than the
    class's is its own row's problem, with the points it could have had."""
    paths = [notebook(tmp_path / f"student{k}.ipynb", IMPORTS, SIGMOID) for k in range(3)]
    paths.append(shutil.copy(NOTEBOOKS / "Convolution_Exercises.ipynb", tmp_path / "wrong.ipynb"))
    out = tmp_path / "grades"
    command = [sys.executable, "-m", "tfsigns.grader", *map(str, paths), "--out", str(out), *ISOLATION,
               "--workers", "1", "--timeout", "30"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": ""})
    first = process.stdout.readline()
    while first.startswith("grading "):
        first = process.stdout.readline()
    assert first.startswith("[1/4] student0.ipynb: 1 of 18 points, 1 of 15 exercises pass"), first
    process.send_signal(signal.SIGINT)
    rest, err = process.communicate(timeout=120)
    assert process.returncode == 130, (rest, err)
    assert err.splitlines()[-1].startswith("tfsigns.grader: interrupted: ") and "--resume" in err, err
    assert "Traceback" not in err
    kept = read_grades(out)
    assert 1 <= len(kept) < 4 and kept["student0.ipynb"]["sigmoid"] == "1"
    code, _, refused = run_main(main, command[3:])
    assert code == 2 and "holds a class graded before" in refused
    resumed = subprocess.run([*command, "--resume", "--workers", "2"], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert f"({len(kept)} graded before kept, in {out})" in resumed.stdout
    grades = read_grades(out)
    assert sorted(grades) == sorted(path.name for path in paths)
    assert all(grades[f"student{k}.ipynb"]["score"] == "1" for k in range(3))
    wrong = grades["wrong.ipynb"]
    assert wrong["note"].startswith("not graded: a notebook of convolution_step_by_step, convolution_"
                                    "application, where the class's is tensorflow"), wrong
    assert wrong["max_score"] == "18"
    assert "wrong.ipynb: not graded" in (out / "problems.txt").read_text()
    assert "[" in resumed.stderr and "wrong.ipynb: not graded" in resumed.stderr + err


def test_the_rubric_is_shown_and_optional_exercises_are_worth_nothing_unless_given(tmp_path):
    code, out, err = run_main(main, ["--rubric"])
    assert code == 0, err
    assert "  conv_backward                0   optional: no points unless --points gives them; worth 2" in out
    assert "convolution_step_by_step (5 points)" in out and "tensorflow (18 points)" in out
    points = tmp_path / "points.json"
    points.write_text(json.dumps({"conv_backward": 2}))
    code, out, err = run_main(main, ["--rubric", "--points", str(points)])
    assert "convolution_step_by_step (7 points)" in out and "optional: worth 2 in the course" in out


@pytest.mark.parametrize("seed", [1, 77, 2026, 987654])
def test_every_reference_passes_the_cases_any_seed_draws(seed):
    """The cases an instructor's seed draws are fair: the references pass all of them."""
    for assignment, spec in ASSIGNMENTS.items():
        for name, reference in spec.references.items():
            if name != "model":
                passed, lines = grade_lines(name, reference, assignment, seed=seed)
                assert passed, lines


def test_names_an_attacker_chooses_get_their_own_rows_folders_and_lines(tmp_path):
    """x..y.ipynb and x__y.ipynb (report_folder turned ".." into "__": one row vanished, one report overwrote
    the other), a spreadsheet formula for a name, and a newline in a name that forges a line of problems.txt
    and of the progress output."""
    formula = '=HYPERLINK("http:\\\\evil.example","click").ipynb'
    forging = "a.ipynb\nbob.ipynb: FORGED LINE\nc.ipynb"
    paths = [notebook(tmp_path / name, IMPORTS, SIGMOID) for name in ("x..y.ipynb", "x__y.ipynb", formula)]
    (tmp_path / forging).write_text("{not json")
    out = tmp_path / "grades"
    code, stdout, err = run_main(main, [*map(str, paths), str(tmp_path / forging), "--out", str(out),
                                        *ISOLATION, "--timeout", "60"])
    assert code == 0, err
    grades = read_grades(out)
    assert grades["x..y.ipynb"]["score"] == grades["x__y.ipynb"]["score"] == "1", grades
    reports = {json.loads(path.read_text())["submission"]: path.parent
               for path in (out / "submissions").rglob("grading.json")}
    assert len(reports) == 4 and len(set(reports.values())) == 4, reports
    assert all(path.parent == out / "submissions" for path in reports.values())  # none inside another
    assert grades["'" + formula]["sigmoid"] == "1"  # a text cell, not a live formula
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in grades.values() for cell in row.values())
    for text in (stdout + err, (out / "problems.txt").read_text(), (out / "grades.csv").read_text()):
        assert not any(line.startswith("bob.ipynb: FORGED") for line in text.splitlines()), text
    assert "a.ipynb\\nbob.ipynb: FORGED LINE\\nc.ipynb: not graded: not a readable notebook" in err


def test_two_names_a_case_blind_file_system_would_merge_are_refused_in_one_line(tmp_path, monkeypatch):
    from tfsigns.grading import reports
    paths = [notebook(tmp_path / name, IMPORTS, SIGMOID) for name in ("Alice.ipynb", "alice.ipynb")]
    monkeypatch.setattr(reports, "ignores_case", lambda folder: True)  # as macOS's and Windows' do
    code, _, err = run_main(main, [*map(str, paths), "--out", str(tmp_path / "grades"), "--no-sandbox"])
    assert code == 2 and err.count("\n") == 1, err
    assert "Alice.ipynb and alice.ipynb would share one report folder" in err and "rename" in err
    assert not (tmp_path / "grades").exists()


def test_an_instructor_regrades_one_student_keeps_the_others_and_sees_the_class_at_a_glance(tmp_path):
    """Six submissions in class/: carol's a byte-identical copy of alice's, bob's the handed-out notebook,
    dave and erin with one_hot_matrix transposed, erin and frank with the cost's labels and logits swapped.
    Then dave resubmits, fixed, and `--resume class/dave.ipynb` grades him alone (before, grades.csv was
    rewritten with his row alone); summary.txt lists the identical and the blank submissions and the most
    common mistakes."""
    from tests.test_grader import tf_cost, tf_one_hot_matrix
    right = inspect.getsource(tf_one_hot_matrix) + inspect.getsource(tf_cost) + \
        "one_hot_matrix, cost = tf_one_hot_matrix, tf_cost\n"
    transposed = ("_one_hot = one_hot_matrix\ndef one_hot_matrix(labels, C):\n"
                  "    return _one_hot(labels, C).T\n")
    swapped = "_cost = cost\ndef cost(logits, labels):\n    return _cost(labels, logits)\n"
    folder = tmp_path / "class"
    folder.mkdir()
    alice = notebook(folder / "alice.ipynb", IMPORTS, SIGMOID, right)
    shutil.copy(alice, folder / "carol.ipynb")
    shutil.copy(NOTEBOOKS / "Exercises.ipynb", folder / "bob.ipynb")
    notebook(folder / "dave.ipynb", IMPORTS, right, transposed)
    notebook(folder / "erin.ipynb", IMPORTS, right, transposed, swapped)
    notebook(folder / "frank.ipynb", IMPORTS, right, swapped)
    out = tmp_path / "grades"
    command = [*sorted(map(str, folder.glob("*.ipynb"))), "--out", str(out), *ISOLATION, "--timeout", "60"]
    code, stdout, err = run_main(main, command)
    assert code == 0, err
    assert stdout.startswith("grading 6 submissions of tensorflow"), stdout
    assert "6 submissions graded" in stdout, stdout
    summary = (out / "summary.txt").read_text()
    assert "6 submissions: 6 graded" in summary
    assert "identical code: alice.ipynb, carol.ipynb\n" in summary, summary
    assert "blank (no exercise filled in): bob.ipynb" in summary, summary
    assert "one_hot_matrix (3 of 6 fail): returned (m, C), one row per example (2)" in summary, summary
    assert "cost (3 of 6 fail): labels and logits look swapped (2)" in summary, summary
    assert (out / "mistakes.png").read_bytes()[:4] == b"\x89PNG"
    assert read_grades(out)["dave.ipynb"]["one_hot_matrix"] == "0"
    notebook(folder / "dave.ipynb", IMPORTS, right)  # dave's resubmission
    code, stdout, err = run_main(main, [str(folder / "dave.ipynb"), "--out", str(out), "--resume", *ISOLATION,
                                        "--timeout", "60"])
    assert code == 0, err
    assert stdout.startswith("grading 1 submission of tensorflow"), stdout
    assert "(5 graded before kept" in stdout, stdout
    assert "1 submission graded, 6 submissions in the class" in stdout, stdout
    grades = read_grades(out)
    names = ("alice", "bob", "carol", "dave", "erin", "frank")
    assert sorted(grades) == [f"{name}.ipynb" for name in names]
    assert grades["dave.ipynb"]["one_hot_matrix"] == "1" and grades["erin.ipynb"]["one_hot_matrix"] == "0"
    assert "one_hot_matrix (2 of 6 fail): returned (m, C), one row per example (1)" in (
        out / "summary.txt").read_text()
    code, stdout, _ = run_main(main, [str(folder / "dave.ipynb"), "--out", str(out), "--resume", *ISOLATION])
    assert code == 0 and stdout.startswith("grading 0 submissions"), stdout  # unchanged: kept as graded
