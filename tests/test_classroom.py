"""Grading a class (python -m tfsigns.grader NB... --out DIR): a correct, a blank, a looping and a
hostile submission, each in its own sandboxed process, and the reports an instructor reads."""

from __future__ import annotations

import csv
import inspect
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests import test_grader
from tests.conftest import REAL_DATA, run_main
from tfsigns.grader import ASSIGNMENTS, grade_lines
from tfsigns.grading.classroom import main, sandbox_works
from tfsigns.grading.submission import tfsigns_imports

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
TENSORFLOW = list(ASSIGNMENTS["tensorflow"].exercises)
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


def learner_answers() -> str:
    """correct_answers(), with a model() that calls the helpers by the exercises' names, as a learner's
    notebook does (so that a learner's broken helper reaches it)."""
    model = inspect.getsource(test_grader.course_model).replace("def course_model", "def model")
    helpers = ("create_placeholders", "initialize_parameters", "forward_propagation", "random_mini_batches")
    for helper in helpers:
        model = model.replace(f"course_{helper}(", f"{helper}(")
    return correct_answers() + "\n" + model


@pytest.fixture(scope="module")
def sandbox():
    """bubblewrap, which .ci/run installs; elsewhere the sandboxed tests skip with the reason."""
    if not sandbox_works():
        pytest.skip("bubblewrap (bwrap) is not installed or cannot start here (apt-get install bubblewrap)")


@pytest.fixture
def listener():
    """A loopback server that records whether anything connected to it."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(30)
    reached = []

    def accept():
        try:
            reached.append(server.accept())
        except OSError:
            pass
    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1], reached
    server.close()


def failures(report: Path) -> str:
    """What a submission's results.json says of the exercises it lost points on."""
    results = json.loads((report / "results.json").read_text())
    lost = [test["output"] for test in results["tests"] if test["score"] < test["max_score"]]
    return "\n".join([results["output"], *lost])


def read_grades(out: Path) -> dict[str, dict[str, str]]:
    with open(out / "grades.csv", newline="") as table:
        return {row["submission"]: row for row in csv.DictReader(table)}


def test_a_class_is_graded_in_sandboxes_that_hold_nothing_but_python_and_the_submission(
        sandbox, tmp_path, listener, monkeypatch):
    """carol's notebook is an attacker's who read the grader: the references by import_module behind a
    wrapper, their source read from tfsigns' folder, the checks patched, the project written, the network,
    alice's notebook, the grader's home and environment. Each fails in the sandbox, and says so."""
    port, reached = listener
    monkeypatch.setenv("TFSIGNS_TEST_TOKEN", "grader-token-41")  # a secret of the grader's environment
    escaped = NOTEBOOKS.parent / f".escaped-{os.getpid()}"  # the sandbox's /tmp is its own: try the project
    for name in ("alice", "bob", "carol"):
        (tmp_path / name).mkdir()
    loads_signs = "from tfsigns.images.dataset import load_dataset\n" \
                  "assert load_dataset()[0].shape == (1080, 64, 64, 3)\n" if REAL_DATA.is_dir() else ""
    alice = notebook(tmp_path / "alice" / "Exercises.ipynb", IMPORTS, correct_answers(),
                     "# alice-answer-7131\n" + loads_signs, 'grade("sigmoid", sigmoid)')
    blank = shutil.copy(NOTEBOOKS / "Exercises.ipynb", tmp_path / "bob" / "Exercises.ipynb")
    carol = notebook(tmp_path / "carol" / "Exercises.ipynb", IMPORTS, correct_answers(), f"""
import importlib, os, socket, sys
import tfsigns
try:
    _R = importlib.import_module("tfsigns.grading." + "exercises").REFERENCES
except ImportError:
    _R = None
def sigmoid(*args, **kwargs):  # the reference, behind a wrapper
    return _R["sigmoid"](*args, **kwargs)
_source = {{}}
for _path in (os.path.join(os.path.dirname(tfsigns.__file__), "course", "basics.py"),
              {str(Path(__file__).resolve().parents[1] / "tfsigns" / "course" / "basics.py")!r}):
    try:
        exec(open(_path).read(), _source)
    except OSError:
        pass
def one_hot_matrix(labels, C):  # the reference, from its file
    return _source["one_hot_matrix"](labels, C)
try:
    _checks = importlib.import_module("tfsigns.grading.grader")
    _checks.grade_lines = lambda name, *args, **kwargs: (True, [name + ": PASS"])
except ImportError:
    pass
np.allclose = lambda *args, **kwargs: True
try:
    open({str(escaped)!r}, "w").write("out of the sandbox")
except OSError:
    pass
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=2)
except OSError:
    pass
""", f"""
found = []
for top in ("/", os.path.expanduser("~"), "..", {str(tmp_path)!r}, {str(Path.home())!r}):
    for folder, folders, files in os.walk(top):
        folders[:] = [f for f in folders if not (folder == "/" and f in ("proc", "sys", "dev"))]
        found += [os.path.join(folder, f) for f in files
                  if f.endswith((".ipynb", ".bash_history")) or "tfsigns" in folder and f in (
                      "exercises.py", "checks.py", "mistakes.py", "basics.py", "signs.py")]
raise ValueError("LEAK " + repr(sorted(set(found))) + " " + repr(
    [value for key, value in os.environ.items() if "TOKEN" in key]))
""")
    out = tmp_path / "grades"
    try:
        code, stdout, err = run_main(main, [str(p) for p in (alice, blank, carol)] + [
            "--out", str(out), "--timeout", "60", "--workers", "2"])
        assert not escaped.exists() and not reached, "the sandbox let the submission out"
    finally:
        escaped.unlink(missing_ok=True)
    assert code == 0, err
    grades = read_grades(out)
    full = sum(exercise.points for exercise in ASSIGNMENTS["tensorflow"].exercises.values())
    alice, carol = grades["alice/Exercises.ipynb"], grades["carol/Exercises.ipynb"]
    assert alice["score"] == f"{full:g}" == alice["max_score"], failures(out / "submissions" / "alice")
    assert "raised" not in alice["note"], alice["note"]  # SIGNS, read only, is there
    assert grades["bob/Exercises.ipynb"]["score"] == "0"
    assert carol["sigmoid"] == carol["one_hot_matrix"] == "0" and carol["score"] == f"{full - 2:g}", \
        failures(out / "submissions" / "carol" / "Exercises.ipynb")
    assert "raised ValueError: LEAK [] []" in carol["note"]  # it looked everywhere, and found nothing
    everything = (out / "grades.csv").read_text() + "".join(
        path.read_text() for path in (out / "submissions").rglob("results.json"))
    assert "alice-answer-7131" not in everything and "grader-token-41" not in everything
    results = json.loads((out / "submissions" / "carol" / "Exercises.ipynb" / "results.json").read_text())
    assert results["score"] == full - 2 and "LEAK" in results["output"]  # what its cells raised: its own
    assert "bubblewrap" not in results["output"]  # the instructor's notes stay in grades.csv
    record = json.loads((out / "submissions" / "carol" / "Exercises.ipynb" / "grading.json").read_text())
    assert record["isolation"] == "a bubblewrap sandbox"
    assert (out / "class.png").read_bytes()[:4] == b"\x89PNG"
    assert list(alice)[:3 + len(TENSORFLOW)] == ["submission", "score", "max_score", *TENSORFLOW]


def test_a_looping_cell_a_looping_answer_and_a_full_disk_are_stopped_at_their_limit(sandbox, tmp_path):
    looping = notebook(tmp_path / "looping.ipynb", IMPORTS, correct_answers(),
                       "def sigmoid(z):\n    while True:\n        pass\n",  # never returns
                       "while True:\n    pass\n",  # a cell that never ends
                       "with open('big', 'wb') as f:\n    f.write(bytes(64 << 20))\n")  # past --disk 16
    out = tmp_path / "grades"
    code, _, err = run_main(main, [str(looping), "--out", str(out), "--timeout", "3", "--disk", "16"])
    assert code == 0, err
    grades = read_grades(out)["looping.ipynb"]
    assert grades["sigmoid"] == "0" and grades["linear_function"] == "1", failures(out / "submissions" /
                                                                                   "looping.ipynb")
    assert "cell 3 (while True:) ran past 3 s and was stopped" in grades["note"]
    assert "sigmoid ran past its time limit of 3 s" in grades["note"]  # the instructor sees it too
    assert "cell 4 (with open('big', 'wb') as f:) raised OSError: [Errno 28] No space left" in grades["note"]


def test_a_submission_that_shuts_out_the_time_limit_loses_that_exercise_only(tmp_path):
    """An answer that ignores the alarm and never returns is stopped from outside; a new process
    grades the exercises after it."""
    blocking = notebook(tmp_path / "blocking.ipynb", IMPORTS, correct_answers(),
                        "import signal\ndef sigmoid(z):\n    signal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
                        "    while True:\n        pass\n")
    out = tmp_path / "grades"
    code, _, err = run_main(main, [str(blocking), "--out", str(out), "--no-sandbox", "--timeout", "8"])
    assert code == 0, err
    grades = read_grades(out)["blocking.ipynb"]
    full = sum(exercise.points for exercise in ASSIGNMENTS["tensorflow"].exercises.values())
    assert grades["sigmoid"] == "0" and grades["score"] == f"{full - 1:g}", failures(
        out / "submissions" / "blocking.ipynb")
    assert "gave no answer in 16 s and was stopped; a new process was started for cost on" in grades["note"]


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
        notebook(tmp_path / name / "Exercises.ipynb", IMPORTS, correct_answers())
    clash = notebook(tmp_path / "carol" / "grades.csv.ipynb", "x = 1")
    out = tmp_path / "grades"
    alice, bob = (tmp_path / name / "Exercises.ipynb" for name in ("alice", "bob"))
    code, stdout, err = run_main(main, [*map(str, (forged, alice, bob, clash)), "--out", str(out),
                                        "--no-sandbox", "--workers", "2", "--timeout", "60"])
    assert code == 0, err
    grades = read_grades(out)
    assert set(grades) == {"mallory/Exercises.ipynb", "alice/Exercises.ipynb", "bob/Exercises.ipynb",
                           "carol/grades.csv.ipynb"}
    full = sum(exercise.points for exercise in ASSIGNMENTS["tensorflow"].exercises.values())
    assert grades["alice/Exercises.ipynb"]["score"] == grades["bob/Exercises.ipynb"]["score"] == f"{full:g}"
    assert grades["mallory/Exercises.ipynb"]["score"] == "0"
    assert "sent data the grader does not take" in grades["mallory/Exercises.ipynb"]["note"]
    for name in grades:
        assert json.loads((out / "submissions" / name / "results.json").read_text())["max_score"] >= 0
    assert (out / "grades.csv").is_file() and (out / "class.png").is_file()


def test_answers_forged_in_the_submissions_process_score_0_each_and_never_stop_the_class(tmp_path):
    """mallory replaces the child's answer() (python -m runs it as __main__) with one that sends what the
    grader must not trust: an array that is not .npy, an error with a 100 000-letter class name, a key that
    cannot be one, JSON nested past any parser, a megabyte of message, 65 MB on one line."""
    forged = notebook(tmp_path / "mallory.ipynb", IMPORTS, correct_answers(), """
import sys
_main = sys.modules["__main__"]
_honest = _main.answer
def _forged(namespace, request):
    channel, name = sys._getframe(1).f_locals["results"], request["exercise"]
    if name == "linear_function":
        return {"value": {"array": "not .npy at all", "scalar": False}}
    if name == "sigmoid":
        return {"raised": {"type": "E" * 100000, "message": 5, "frames": "x"}}
    if name == "cost":
        return {"value": {"dict": [[{"list": []}, 1]]}}
    if name == "one_hot_matrix":
        channel.write("tfsigns-result " + "[" * 100000 + "\\n")
        channel.flush()
        return {"blank": True}
    if name == "ones":
        return {"raised": {"type": "ValueError", "message": "x" * 10**6, "frames": ["f" * 1000] * 10**4}}
    if name == "prepare_dataset":
        channel.write("tfsigns-result " + " " * (65 << 20) + "\\n")
    return _honest(namespace, request)
_main.answer = _forged
""")
    honest = notebook(tmp_path / "alice.ipynb", IMPORTS, correct_answers())
    out = tmp_path / "grades"
    code, _, err = run_main(main, [str(forged), str(honest), "--out", str(out), "--no-sandbox", "--timeout",
                                   "60"])
    assert code == 0, err
    grades = read_grades(out)
    full = sum(exercise.points for exercise in ASSIGNMENTS["tensorflow"].exercises.values())
    assert grades["alice.ipynb"]["score"] == f"{full:g}"
    mallory = grades["mallory.ipynb"]
    forged_ones = ["linear_function", "sigmoid", "cost", "one_hot_matrix", "ones", "prepare_dataset"]
    assert all(mallory[name] == "0" for name in forged_ones), mallory
    assert "sent more than 64 MB in one answer" in mallory["note"] and len(mallory["note"]) <= 2000
    results = json.loads((out / "submissions" / "mallory.ipynb" / "results.json").read_text())
    outputs = {test["name"]: test["output"] for test in results["tests"]}
    assert all("could not check the result" in outputs[name]
               for name in ("linear_function", "sigmoid", "cost", "one_hot_matrix")), outputs
    # the megabyte of message, cut (the extra line one_hot_matrix wrote answered a later question)
    assert any("xxxx" in output for output in outputs.values())
    assert max(map(len, outputs.values())) <= 1000


def test_a_submission_that_catches_its_time_limits_is_stopped_at_its_total(tmp_path):
    """`except BaseException: pass` around a sleep outlives every per-cell alarm; the total, kept from
    outside, stops it (before it, the grader waited 2 s for each cell and 60 more)."""
    catching = notebook(tmp_path / "catching.ipynb", "import time\nwhile True:\n    try:\n"
                        "        time.sleep(100)\n    except BaseException:\n        pass\n", "x = 1")
    out = tmp_path / "grades"
    started = time.monotonic()
    code, _, err = run_main(main, [str(catching), "--out", str(out), "--no-sandbox", "--timeout", "2",
                                   "--total", "5"])
    assert code == 0, err
    assert time.monotonic() - started < 50
    grades = read_grades(out)["catching.ipynb"]
    assert grades["score"] == "0" and "gave no answer in its total of 5 s and was stopped" in grades["note"]


def test_a_child_that_cannot_run_tensorflow_stops_the_class_with_its_own_words(tmp_path):
    """Under --memory 512 TensorFlow cannot start: the grader says so, with the child's last line, before
    grading anyone (before the check, every student got 0 and the command exited 0)."""
    out = tmp_path / "grades"
    code, _, err = run_main(main, [str(NOTEBOOKS / "Exercises.ipynb"), "--out", str(out), "--no-sandbox",
                                   "--memory", "512"])
    assert code == 2 and err.count("\n") == 1, err
    assert "the grader's child cannot run TensorFlow without a sandbox within --memory 512 MB" in err
    assert "exit code" in err and not out.exists()


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
    sigmoid = ("def sigmoid(z):\n    x = v1.placeholder(tf.float32)\n    with v1.Session() as session:\n"
               "        return session.run(tf.sigmoid(x), {x: z})\n")
    paths = [notebook(tmp_path / f"student{k}.ipynb", IMPORTS, sigmoid) for k in range(4)]
    paths.append(shutil.copy(NOTEBOOKS / "Convolution_Exercises.ipynb", tmp_path / "wrong.ipynb"))
    out = tmp_path / "grades"
    command = [sys.executable, "-m", "tfsigns.grader", *map(str, paths), "--out", str(out), "--no-sandbox",
               "--workers", "1", "--timeout", "30"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": ""})
    first = process.stdout.readline()
    while first.startswith("grading "):
        first = process.stdout.readline()
    assert first.startswith("[1/5] student0.ipynb: 1 of 18 points, 1 of 15 exercises pass"), first
    process.send_signal(signal.SIGINT)
    rest, err = process.communicate(timeout=120)
    assert process.returncode == 130, (rest, err)
    assert err.splitlines()[-1].startswith("tfsigns.grader: interrupted: ") and "--resume" in err, err
    assert "Traceback" not in err
    kept = read_grades(out)
    assert 1 <= len(kept) < 5 and kept["student0.ipynb"]["sigmoid"] == "1"
    refused = subprocess.run(command, capture_output=True, text=True)
    assert refused.returncode == 2 and "holds a class graded before" in refused.stderr
    resumed = subprocess.run([*command, "--resume"], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert f"({len(kept)} graded before, in {out})" in resumed.stdout
    grades = read_grades(out)
    assert sorted(grades) == sorted(path.name for path in paths)
    assert all(grades[f"student{k}.ipynb"]["score"] == "1" for k in range(4))
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


def test_model_is_graded_with_the_reference_helpers_in_place_of_the_learners_broken_ones(sandbox, tmp_path):
    """initialize_parameters with zeros for the weights fails, and so does a model() that calls it (no
    unit can learn apart from the others): model() is graded in a process of its own with the reference
    helpers, so the slip costs its 1 point, not 4, and model's feedback names the helper."""
    slip = ("def initialize_parameters(layer_dims):\n    parameters = {}\n"
            "    for l in range(1, len(layer_dims)):\n"
            "        parameters[f'W{l}'] = v1.get_variable(f'W{l}', [layer_dims[l], layer_dims[l - 1]], "
            "initializer=v1.zeros_initializer())\n"
            "        parameters[f'b{l}'] = v1.get_variable(f'b{l}', [layer_dims[l], 1], "
            "initializer=v1.zeros_initializer())\n    return parameters\n")
    path = notebook(tmp_path / "slip.ipynb", IMPORTS, learner_answers(), slip)
    out = tmp_path / "grades"
    code, _, err = run_main(main, [str(path), "--out", str(out), "--timeout", "60"])
    assert code == 0, err
    grades = read_grades(out)["slip.ipynb"]
    full = sum(exercise.points for exercise in ASSIGNMENTS["tensorflow"].exercises.values())
    assert grades["initialize_parameters"] == "0" and grades["model"] == "3" and \
        grades["score"] == f"{full - 1:g}", \
        failures(out / "submissions" / "slip.ipynb")
    results = json.loads((out / "submissions" / "slip.ipynb" / "results.json").read_text())
    (model,) = [test for test in results["tests"] if test["name"] == "model"]
    said = "model: PASS\n  graded with the reference initialize_parameters in place of yours, which fail"
    assert model["output"].startswith(said), model["output"]


@pytest.mark.parametrize("seed", [1, 77, 2026, 987654])
def test_every_reference_passes_the_cases_any_seed_draws(seed):
    """The cases an instructor's seed draws are fair: the references pass all of them."""
    for assignment, spec in ASSIGNMENTS.items():
        for name, reference in spec.references.items():
            if name != "model":
                passed, lines = grade_lines(name, reference, assignment, seed=seed)
                assert passed, lines
