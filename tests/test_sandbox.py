"""A submission against the grader: each in a sandbox that holds nothing but Python and the submission
(an attacker's notebook that read the grader's code finds nothing), answers forged in its process, time
limits it catches or shuts out, a disk it fills, a child that cannot start, and model() graded with the
reference helpers in place of the learner's broken ones. The class's grading: tests/test_classroom.py."""

from __future__ import annotations

import inspect
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests import test_grader
from tests.conftest import REAL_DATA, run_main
from tests.test_classroom import (
    IMPORTS,
    ISOLATION,
    NOTEBOOKS,
    SIGMOID,
    TENSORFLOW,
    correct_answers,
    failures,
    learner_answers,
    notebook,
    read_grades,
)
from tfsigns.grader import ASSIGNMENTS
from tfsigns.grading.classroom import main, sandbox_works
from tfsigns.grading.sandbox import STOPPING, stop_all

# The grader's own peak memory grading a class, whatever its submissions answer: TensorFlow and the checks
# (about 750 MB), and one answer a worker being read (at most 12 times remote.ANSWER_LIMIT, 48 MB)
MEMORY_BOUND_MB = 1200


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


# planted in the sandbox's /tmp, the folder Python imports from first: whoever imports wave next runs it
PLANTED = "raise ImportError('planted by an earlier submission')\n"
# a process that outlives its submission: it plants the module again and again, and kills every newer one
LINGERING = f"""
import os, signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
mine = os.getpid()
for _ in range(6000):
    try:
        open("/tmp/wave.py", "w").write({PLANTED!r})
    except OSError:
        pass
    for pid in [int(name) for name in os.listdir("/proc") if name.isdigit() and int(name) > mine]:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    time.sleep(0.01)
"""


# what an attacker in a sandbox that forks submissions would try, each step's success recorded
PROBES = """
import ctypes, os, signal
libc, found = ctypes.CDLL(None, use_errno=True), []
try:
    with open("/proc/1/mem", "r+b"):
        found.append("write the forking process's memory")
except OSError:
    pass
if libc.ptrace(16, 1, 0, 0) == 0:  # PTRACE_ATTACH
    found.append("trace it")
for path in ("/dev/planted", "/etc/planted", "/usr/planted"):
    try:
        open(path, "w").close()
        found.append("write " + path)
    except OSError:
        pass
for sig in (signal.SIGSTOP, signal.SIGKILL):
    os.kill(1, sig)  # the forking process is the sandbox's init: ignored
libc.shmget(0, 1 << 20, 0o1600)  # a System V segment outlives its process: the sandbox is then replaced
os.chmod("/tmp", 0o555)  # the next submission's folder made unwritable
raise ValueError("PROBES " + repr(found))
"""


def test_nothing_of_one_submission_meets_the_next_in_a_sandbox_that_forks_them(sandbox, tmp_path):
    """Submissions share a sandbox whose first process forks them: one leaves a module in /tmp and a
    process that plants it again and kills any newer process. alice, next, imports the planted module's
    name, writes in her folder and is graded in full, untouched. The third tries the forking process's
    memory, traces it, writes outside /tmp, signals it, leaves a System V segment and an unwritable /tmp:
    none of it works or lasts, and alice again is graded in full."""
    first = notebook(tmp_path / "a_linger.ipynb", IMPORTS, correct_answers(),
                     f"import os, subprocess, sys, time\nopen('/tmp/wave.py', 'w').write({PLANTED!r})\n"
                     f"subprocess.Popen([sys.executable, '-c', {LINGERING!r}], start_new_session=True)\n"
                     "time.sleep(0.5)\nos._exit(0)\n")  # its own process ends: what it started lives on
    alice = notebook(tmp_path / "b_alice.ipynb", "import wave\nopen('scratch', 'w').write('mine')\n", IMPORTS,
                     correct_answers())
    attacker = notebook(tmp_path / "c_attacker.ipynb", IMPORTS, correct_answers(), PROBES)
    again = shutil.copy(alice, tmp_path / "d_alice.ipynb")
    out = tmp_path / "grades"
    code, _, err = run_main(main, [str(p) for p in (first, alice, attacker, again)] + [
        "--out", str(out), "--timeout", "30", "--workers", "1"])
    assert code == 0, err
    grades = read_grades(out)
    full = sum(exercise.points for exercise in ASSIGNMENTS["tensorflow"].exercises.values())
    for name in ("b_alice.ipynb", "d_alice.ipynb"):
        assert grades[name]["score"] == f"{full:g}", failures(out / "submissions" / name)
        assert grades[name]["note"] == "", grades[name]["note"]
    said = grades["c_attacker.ipynb"]["note"]
    assert said == "cell 2 (import ctypes, os, signal) raised ValueError: PROBES []", said


def test_a_looping_cell_a_looping_answer_and_a_full_disk_are_stopped_at_their_limit(sandbox, tmp_path):
    looping = notebook(tmp_path / "looping.ipynb", IMPORTS, correct_answers(),
                       "def sigmoid(z):\n    while True:\n        pass\n",  # never returns
                       "while True:\n    pass\n",  # a cell that never ends
                       "for name in 'ab':\n    with open(name, 'wb') as f:\n"
                       "        f.write(bytes(12 << 20))\n")  # 24 MB in all, past --disk 16
    out = tmp_path / "grades"
    code, _, err = run_main(main, [str(looping), "--out", str(out), "--timeout", "3", "--disk", "16"])
    assert code == 0, err
    grades = read_grades(out)["looping.ipynb"]
    assert grades["sigmoid"] == "0" and grades["linear_function"] == "1", failures(out / "submissions" /
                                                                                   "looping.ipynb")
    assert "cell 3 (while True:) ran past 3 s and was stopped" in grades["note"]
    assert "sigmoid ran past its time limit of 3 s" in grades["note"]  # the instructor sees it too
    assert "cell 4 (for name in 'ab':) raised OSError: [Errno 28] No space left" in grades["note"]


def test_a_submission_that_shuts_out_the_time_limit_loses_that_exercise_only(tmp_path):
    """An answer that ignores the alarm and never returns is stopped from outside; a new process
    grades the exercises after it."""
    cost = test_grader.SOLUTIONS["cost"]
    answers = inspect.getsource(cost) + f"cost = {cost.__name__}\n"  # cost, right: graded after sigmoid
    blocking = notebook(tmp_path / "blocking.ipynb", IMPORTS, answers,
                        "import signal\ndef sigmoid(z):\n    signal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
                        "    while True:\n        pass\n")
    out = tmp_path / "grades"
    code, _, err = run_main(main, [str(blocking), "--out", str(out), *ISOLATION, "--timeout", "3"])
    assert code == 0, err
    grades = read_grades(out)["blocking.ipynb"]
    assert grades["sigmoid"] == "0" and grades["cost"] == "1" and grades["score"] == "1", failures(
        out / "submissions" / "blocking.ipynb")
    assert "gave no answer in 8 s and was stopped; a new process was started for cost on" in grades["note"]


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
        return {"raised": {"type": "ValueError", "message": "x" * 10**6, "frames": ["f" * 1000] * 10**3}}
    if name == "prepare_dataset":
        channel.write("tfsigns-result " + " " * (65 << 20) + "\\n")
    return _honest(namespace, request)
_main.answer = _forged
""")
    honest = notebook(tmp_path / "alice.ipynb", IMPORTS, SIGMOID)
    out = tmp_path / "grades"
    code, _, err = run_main(main, [str(forged), str(honest), "--out", str(out), *ISOLATION,
                                   "--timeout", "60"])
    assert code == 0, err
    grades = read_grades(out)
    assert grades["alice.ipynb"]["score"] == "1"
    mallory = grades["mallory.ipynb"]
    forged_ones = ["linear_function", "sigmoid", "cost", "one_hot_matrix", "ones", "prepare_dataset"]
    assert all(mallory[name] == "0" for name in forged_ones), mallory
    assert "sent more than 4 MB in one answer" in mallory["note"] and len(mallory["note"]) <= 2000
    results = json.loads((out / "submissions" / "mallory.ipynb" / "results.json").read_text())
    outputs = {test["name"]: test["output"] for test in results["tests"]}
    assert all("could not check the result" in outputs[name]
               for name in ("linear_function", "sigmoid", "cost", "one_hot_matrix")), outputs
    # the megabyte of message, cut (the extra line one_hot_matrix wrote answered a later question)
    assert any("xxxx" in output for output in outputs.values()), "\n".join(outputs.values())
    assert max(map(len, outputs.values())) <= 1000


CATCHING = ("import time\nwhile True:\n    try:\n        time.sleep(100)\n    except BaseException:\n"
            "        pass\n")


def test_a_submission_that_catches_its_time_limits_is_stopped_at_its_total(tmp_path):
    """`except BaseException: pass` around a sleep outlives every per-cell alarm; the total, kept from
    outside, stops it (before it, the grader waited 2 s for each cell and 60 more). One that also closes
    its channel to the grader first is stopped after the grace (before, the grader waited for it to end
    without a limit: a worker held for ever)."""
    catching = notebook(tmp_path / "catching.ipynb", CATCHING, "x = 1")
    hiding = notebook(tmp_path / "hiding.ipynb", "import os\nfor fd in range(3, 256):\n    try:\n"
                      "        os.close(fd)\n    except OSError:\n        pass\n", CATCHING)
    out = tmp_path / "grades"
    started, ended = time.monotonic(), []
    grading = threading.Thread(target=lambda: ended.append(run_main(main, [
        str(catching), str(hiding), "--out", str(out), *ISOLATION, "--timeout", "2", "--total", "5"])),
        daemon=True)
    grading.start()
    grading.join(timeout=60)
    if not ended:  # stop it, so that the suite goes on, and say why
        stop_all()
        grading.join()
        STOPPING.clear()
        pytest.fail("the grader still waited for a process that had closed its channel, after 60 s")
    code, _, err = ended[0]
    assert code == 0, err
    assert time.monotonic() - started < 50
    grades = read_grades(out)
    assert grades["catching.ipynb"]["score"] == "0"
    assert "gave no answer in its total of 5 s and was stopped" in grades["catching.ipynb"]["note"]
    assert "the submission's process" in grades["hiding.ipynb"]["note"]  # ended, or stopped at its total


def test_a_child_that_cannot_run_tensorflow_stops_the_class_with_its_own_words(tmp_path):
    """Under --memory 512 TensorFlow cannot start: the grader says so, with the child's last line, before
    grading anyone (before the check, every student got 0 and the command exited 0)."""
    out = tmp_path / "grades"
    code, _, err = run_main(main, [str(NOTEBOOKS / "Exercises.ipynb"), "--out", str(out), "--no-sandbox",
                                   "--memory", "512"])
    assert code == 2 and err.count("\n") == 1, err
    assert "the grader's child cannot run TensorFlow without a sandbox within --memory 512 MB" in err
    assert "exit code" in err and not out.exists()


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


# The attacker's notebook of issue 45: every exercise stubbed, and the child's encoder replaced, so that each
# answer is a GraphDef of 400,000 NoOps (6 MB). Before, the grader imported each one under the lock every
# worker shares (18 s and 2.6 GB a graph): an innocent notebook graded beside it ran past its total.
FLOOD = f"""
import base64, sys
for _name in {TENSORFLOW!r}:
    globals()[_name] = lambda *args, **kwargs: 0
def _node(i):
    body = b"\\x0a" + bytes([len(str(i))]) + str(i).encode() + b"\\x12\\x04NoOp"
    return b"\\x0a" + bytes([len(body)]) + body
_graph = base64.b64encode(b"".join(_node(i) for i in range(400000))).decode()
sys.modules["tfsigns.grading.answers"].encode = lambda value: {{"graph": _graph}}
"""
# The same attacker, having read the limits: answers under the size limit, half a million objects parsed
BOMB = FLOOD.replace('{"graph": _graph}', '{"list": [{"list": []}] * 250000}')


def test_a_flood_of_answers_beside_a_good_notebook_costs_only_its_own_total(sandbox, tmp_path):
    """alice is graded in full, in her own time, while the flood and the bomb are graded beside her; the class
    takes no longer than alice's time and their totals; the grader's memory stays under its bound."""
    alice = notebook(tmp_path / "alice.ipynb", IMPORTS, correct_answers())
    flood = notebook(tmp_path / "flood.ipynb", IMPORTS, FLOOD)
    bomb = notebook(tmp_path / "bomb.ipynb", IMPORTS, BOMB)
    out = tmp_path / "grades"
    # the grader's own high-water mark: VmHWM, not ru_maxrss, which a process started by vfork inherits from
    # its parent (here a pytest worker of 1.4 GB, which failed the bound in the suite)
    measured = ("import sys\nfrom tfsigns.grading.classroom import main\ncode = main(sys.argv[1:])\n"
                "print('PEAK', next(int(line.split()[1]) for line in open('/proc/self/status')\n"
                "                   if line.startswith('VmHWM')) >> 10)\nsys.exit(code)\n")
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", measured, str(alice), str(flood), str(bomb),
                             "--out", str(out), "--workers", "2", "--timeout", "15", "--total", "40"],
                            capture_output=True, text=True, timeout=600)
    wall = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    grades = read_grades(out)
    seconds = json.loads((out / "submissions" / "alice.ipynb" / "grading.json").read_text())["seconds"]
    peak = int(result.stdout.split("PEAK")[1])
    print(f"the class in {wall:.0f} s, alice in {seconds:.0f} s; the grader's peak memory {peak} MB")
    full = sum(exercise.points for exercise in ASSIGNMENTS["tensorflow"].exercises.values())
    assert grades["alice.ipynb"]["score"] == f"{full:g}", failures(out / "submissions" / "alice.ipynb")
    assert wall < seconds + 2 * 40 + 60, (wall, seconds)  # alice, the two totals, starting the sandboxes
    assert peak < MEMORY_BOUND_MB, f"the grader peaked at {peak} MB"
    assert grades["flood.ipynb"]["score"] == grades["bomb.ipynb"]["score"] == "0"
    assert "more than 4 MB in one answer" in grades["flood.ipynb"]["note"], grades["flood.ipynb"]["note"]
    assert "more than 10000 lists and objects" in failures(out / "submissions" / "bomb.ipynb")
