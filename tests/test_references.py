"""What a submission that read the grader's code can reach of the references, and of other submissions, when
model() is graded again with the reference helpers (issue 45): the reference modules (read, stashed in the
kernel's keyring, and imported by a later submission), the reference source in its own feedback, and a value
carried in the keyring from one submission to the next and from one grader run to the next."""

from __future__ import annotations

import ctypes
import inspect
import json
import platform

import pytest

from tests.conftest import run_main
from tests.test_classroom import IMPORTS, SIGMOID, correct_answers, failures, learner_answers, notebook
from tests.test_classroom import read_grades as grades_of
from tfsigns.grader import ASSIGNMENTS
from tfsigns.grading.classroom import main, sandbox_works

TAG = "tfsigns-stash"  # the keys the attacks leave, in the grader's session keyring, if they can
# the key-management calls by number (x86_64, else the generic table of aarch64 and riscv64)
ADD_KEY, KEYCTL = (248, 250) if platform.machine() == "x86_64" else (217, 219)
KEYRING = f"""
import ctypes
_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
def add_key(description, payload):  # into the session keyring (-3)
    return _libc.syscall({ADD_KEY}, b"user", description.encode(), payload, len(payload), ctypes.c_int(-3))
def read_key(description):
    key = _libc.syscall({KEYCTL}, 10, ctypes.c_int(-3), b"user", description.encode(), 0)  # KEYCTL_SEARCH
    if key < 0:
        return None
    buffer = ctypes.create_string_buffer(32768)
    size = _libc.syscall({KEYCTL}, 11, ctypes.c_long(key), buffer, 32768)  # KEYCTL_READ
    return buffer.raw[:size] if size >= 0 else None
"""


@pytest.fixture
def keyring():
    """A session keyring for this process and the graders it runs, as a login session has (pam_keyinit; a
    process without one makes its own on add_key, which no other process sees), given up after the test.
    Yields a function that reads a key of it."""
    if not sandbox_works():
        pytest.skip("bubblewrap (bwrap) is not installed or cannot start here (apt-get install bubblewrap)")
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    join = lambda: libc.syscall(KEYCTL, 1, None)  # noqa: E731  (KEYCTL_JOIN_SESSION_KEYRING, a new one)
    if join() < 0:
        pytest.skip("this kernel does not let a process join a session keyring")
    namespace: dict = {}
    exec(KEYRING, namespace)
    yield namespace["read_key"]
    join()  # the test's keyring, and whatever got into it, is dropped


BROKEN_HELPER = ("def initialize_parameters(layer_dims):\n    parameters = {}\n"
                 "    for l in range(1, len(layer_dims)):\n"
                 "        parameters[f'W{l}'] = v1.get_variable(f'W{l}', [layer_dims[l], layer_dims[l - 1]], "
                 "initializer=v1.zeros_initializer())\n"
                 "        parameters[f'b{l}'] = v1.get_variable(f'b{l}', [layer_dims[l], 1], "
                 "initializer=v1.zeros_initializer())\n    return parameters\n")
# Where model() is graded again beside the reference helpers, the cells run again: they read every module of
# tfsigns they can find and stash it, compressed, in the session keyring, a key of 30 kB at a time.
STASH = KEYRING + f"""
import base64, os, zlib, json
import tfsigns
_root = os.path.dirname(tfsigns.__file__)
_found = {{}}
for _folder, _, _files in os.walk(_root):
    for _file in _files:
        if _file.endswith(".py"):
            _path = os.path.join(_folder, _file)
            try:
                _found[os.path.relpath(_path, _root)] = open(_path).read()
            except OSError:
                pass
if "networks/mlp.py" in _found:
    _blob = base64.b64encode(zlib.compress(json.dumps(_found).encode(), 9))
    _chunks = [_blob[k:k + 30000] for k in range(0, len(_blob), 30000)]
    for _k, _chunk in enumerate(_chunks):
        add_key("{TAG}-" + str(_k), _chunk)
    add_key("{TAG}-count", str(len(_chunks)).encode())
"""
# A later submission, with no solution in its code: it reads the stash back, writes the modules out, and
# imports the reference helpers through thin wrappers of its own.
FETCH = KEYRING + f"""
import base64, json, os, sys, zlib, importlib
_count = read_key("{TAG}-count")
if _count:
    _blob = b"".join(read_key("{TAG}-" + str(_k)) for _k in range(int(_count)))
    for _path, _source in json.loads(zlib.decompress(base64.b64decode(_blob))).items():
        os.makedirs(os.path.dirname(os.path.join("/tmp/stolen", _path)), exist_ok=True)
        open(os.path.join("/tmp/stolen", _path), "w").write(_source)
    for _package in ("tfsigns", "tfsigns.portable", "tfsigns.images"):
        _module = importlib.import_module(_package)
        _module.__path__.append(os.path.join("/tmp/stolen", *_package.split(".")[1:]))
    _mlp = importlib.import_module("tfsigns.networks.mlp")
    _signs = importlib.import_module("tfsigns.images.signs")
    def create_placeholders(*a, **k): return _mlp.create_placeholders(*a, **k)
    def initialize_parameters(*a, **k): return _mlp.initialize_parameters(*a, **k)
    def forward_propagation(*a, **k): return _mlp.forward_propagation(*a, **k)
    def compute_cost(*a, **k): return _mlp.compute_cost(*a, **k)
    def random_mini_batches(*a, **k): return _signs.random_mini_batches(*a, **k)
"""


def test_the_reference_helpers_cannot_be_read_stashed_in_the_keyring_and_imported_later(keyring, tmp_path):
    """a_stash's model() fails through its broken initialize_parameters, so it is graded again with the
    reference helpers; its cells look for tfsigns' modules and stash what they find in the keyring. b_fetch,
    graded after it, imports what was stashed. Before, b_fetch got 5 points with no solution in its code."""
    stash = notebook(tmp_path / "a_stash.ipynb", IMPORTS, learner_answers(), BROKEN_HELPER, STASH)
    fetch = notebook(tmp_path / "b_fetch.ipynb", IMPORTS, FETCH)
    out = tmp_path / "grades"
    code, _, err = run_main(main, [str(stash), str(fetch), "--out", str(out), "--workers", "1",
                                   "--timeout", "60"])
    assert code == 0, err
    grades = grades_of(out)
    full = sum(exercise.points for exercise in ASSIGNMENTS["tensorflow"].exercises.values())
    stashed = grades["a_stash.ipynb"]
    assert stashed["score"] == f"{full - 1:g}", failures(out / "submissions" / "a_stash.ipynb")
    assert grades["a_stash.ipynb"]["model"] == "3"  # graded with the reference helpers, as before
    assert grades["b_fetch.ipynb"]["score"] == "0", grades["b_fetch.ipynb"]
    assert keyring(f"{TAG}-count") is None and keyring(f"{TAG}-0") is None


SOURCE_IN_FEEDBACK = """
import inspect
def model(X_train, Y_train, X_test, Y_test, **settings):
    found = []
    for helper in (forward_propagation, initialize_parameters, compute_cost):
        try:
            found.append(inspect.getsource(helper))
        except Exception:
            pass
    with tf.Graph().as_default():
        X, Y = create_placeholders(20, 3)
        found.append(str(forward_propagation(X, initialize_parameters([20, 25, 12, 3])).graph.as_graph_def()))
    raise ValueError("SRC " + " ".join(found))
"""


def test_the_reference_source_does_not_reach_the_learners_own_feedback(keyring, tmp_path):
    """Beside the reference helpers, model() raises ValueError with whatever it can find of them: their
    source, the graph they build. Before, ~300 characters of networks/mlp.py reached results.json."""
    path = notebook(tmp_path / "leak.ipynb", IMPORTS, correct_answers(), BROKEN_HELPER, SOURCE_IN_FEEDBACK)
    out = tmp_path / "grades"
    code, _, err = run_main(main, [str(path), "--out", str(out), "--timeout", "60"])
    assert code == 0, err
    shown = (out / "submissions" / "leak.ipynb" / "results.json").read_text()
    model = next(test for test in json.loads(shown)["tests"] if test["name"] == "model")
    assert "raised ValueError" in model["output"] and "not shown" in model["output"], model["output"]
    for secret in ("SRC", "def forward_propagation", "pixel_product", "glorot", "Einsum", "MatMul"):
        assert secret not in shown, secret


CARRY = KEYRING + """
import os
_found = read_key("tfsigns-carried")
_added = add_key("tfsigns-carried", b"from an earlier submission")
raise ValueError(f"CARRIED {_found!r} ADDED {_added > 0} ERRNO {ctypes.get_errno()}")
"""


def test_the_keyring_carries_nothing_from_one_submission_to_the_next_or_to_the_next_run(keyring, tmp_path):
    """Two submissions forked in one sandbox, then a second grader run: each looks for a value an earlier one
    left in the session keyring, and leaves one. Before, the second and the third found it."""
    paths = [notebook(tmp_path / f"{name}.ipynb", IMPORTS, SIGMOID, CARRY) for name in ("first", "second")]
    code, _, err = run_main(main, [*map(str, paths), "--out", str(tmp_path / "one"), "--workers", "1"])
    assert code == 0, err
    code, _, err = run_main(main, [str(paths[0]), "--out", str(tmp_path / "two")])
    assert code == 0, err
    notes = [grades_of(tmp_path / "one")[f"{name}.ipynb"]["note"] for name in ("first", "second")]
    notes.append(grades_of(tmp_path / "two")["first.ipynb"]["note"])
    for note in notes:
        assert "CARRIED None ADDED False ERRNO 1" in note, note  # EPERM: the sandbox's seccomp filter
    assert keyring("tfsigns-carried") is None


def test_the_cnns_model_is_graded_with_the_reference_helpers_built_in_the_graders_process(tmp_path):
    """The convolution application's model() with a broken initialize_parameters: its forward pass and cost
    (convolutions, pools, a reshape) come from the grader as ops imported on the learner's tensors."""
    if not sandbox_works():
        pytest.skip("bubblewrap (bwrap) is not installed or cannot start here (apt-get install bubblewrap)")
    from tests import test_grader_cnn as course
    names = {"course_create_placeholders": "create_placeholders",
             "course_initialize_parameters": "initialize_parameters",
             "course_forward_propagation": "forward_propagation", "log_softmax_cost": "compute_cost",
             "course_model": "model"}
    source = "".join(inspect.getsource(getattr(course, name)) for name in names)
    for theirs, learners in names.items():
        source = source.replace(f"{theirs}(", f"{learners}(")
    zeros = ("def initialize_parameters():\n    return {key: v1.get_variable(key, shape, "
             "initializer=v1.zeros_initializer()) for key, shape in (('W1', [4, 4, 3, 8]), "
             "('W2', [2, 2, 8, 16]), ('W3', [64, 6]), ('b3', [6]))}\n")
    path = notebook(tmp_path / "cnn.ipynb", IMPORTS, source, zeros,
                    assignments=("convolution_step_by_step", "convolution_application"))
    code, _, err = run_main(main, [str(path), "--out", str(tmp_path / "grades"), "--timeout", "60"])
    assert code == 0, err
    grades = grades_of(tmp_path / "grades")["cnn.ipynb"]
    assert grades["initialize_parameters"] == "0" and grades["model"] == "3", failures(
        tmp_path / "grades" / "submissions" / "cnn.ipynb")
    results = json.loads((tmp_path / "grades" / "submissions" / "cnn.ipynb" / "results.json").read_text())
    said = next(test["output"] for test in results["tests"] if test["name"] == "model")
    assert said.startswith("model: PASS\n  graded with the reference initialize_parameters in place"), said
