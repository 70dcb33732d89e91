"""A submission's own process, when a class is graded: `python -m tfsigns.grading.child`.

The grader (tfsigns.grading.classroom) starts it in a sandbox that binds only Python, its libraries,
the submission's folder, SIGNS read only, and the few tfsigns modules named in CHILD_MODULES: this
one, how answers are carried (answers) and described (feedback), and what they import. The
references, the checks and their cases are not in the sandbox at all, so a cell cannot import or read
them. The child runs the notebook's code cells, then answers the grader's requests with data.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import resource
import sys
import types
from collections.abc import Callable

import numpy as np

from tfsigns.backend import tf, v1
from tfsigns.grading.answers import (
    RESULT,
    Candidate,
    Timeout,
    adapter,
    answer,
    guard,
    in_fresh_graph,
    numpy_alone,
    time_limit,
)
from tfsigns.grading.feedback import kind

# The package's files the child needs (paths under tfsigns/, without .py): all the sandbox binds of it
CHILD_MODULES = ("__init__", "backend", "config", "images/__init__", "images/framing", "utils/__init__",
                 "utils/cli", "grading/__init__", "grading/answers", "grading/feedback", "grading/child")
# what a notebook may import there besides tfsigns.grader: SIGNS' loader (the data is bound read only)
NOTEBOOK_MODULES = ("images/dataset",)
# and, only where model() is graded with the reference helpers (the other exercises graded already), theirs
HELPER_MODULES = ("networks/__init__", "networks/layers", "networks/mlp", "networks/cnn", "images/signs")
HELPERS: dict[str, Callable] = {}  # those helpers, by the exercises' names, when the job brings them


@adapter
def with_reference_helpers(fn: Candidate) -> Candidate:
    """fn (a learner's model) with HELPERS in place of the learner's own functions of those names, called
    in a fresh graph."""
    own = getattr(fn, "__wrapped__", fn)
    if isinstance(own, types.FunctionType):
        swapped = types.FunctionType(own.__code__, {**own.__globals__, **HELPERS}, own.__name__,
                                     own.__defaults__, own.__closure__)
        swapped.__kwdefaults__ = own.__kwdefaults__
        fn = guard(swapped)
    return in_fresh_graph(fn)


def cell_code(source: str) -> str:
    """A code cell's Python: IPython's magics and shell lines (%..., !...) left out."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def _describe(value) -> dict:
    """What the grader needs to know of a name a notebook defined, before it asks for answers."""
    return {"kind": kind(value), "callable": callable(value), "numpy_alone": numpy_alone(value),
            "module": getattr(value, "__module__", None) or "", "name": getattr(value, "__qualname__", "")}


def _quiet_grader() -> None:
    """The notebook's `from tfsigns.grader import grade, grade_all`: here they do nothing (the grader
    asks its own questions, with checks that are not in this process)."""
    stand_in = types.ModuleType("tfsigns.grader", "grade() and grade_all() of a graded submission: no-ops")
    stand_in.grade = stand_in.grade_all = lambda *args, **kwargs: None
    sys.modules["tfsigns.grader"] = stand_in


def child_main() -> int:
    """The job (a JSON line) on stdin, then the grader's requests, one a line; the answers on stdout,
    which the submission's own prints never reach."""
    job = json.loads(sys.stdin.readline())
    memory, disk = job["memory_mb"] << 20, job["disk_mb"] << 20
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_FSIZE, (disk, disk))  # a file; the grader watches the folder's total
    results = os.fdopen(os.dup(1), "w")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    _quiet_grader()
    namespace: dict = {"__name__": "__main__"}
    cell_errors = []
    for number, source in job["cells"]:
        first_line = next((line.strip() for line in source.splitlines() if line.strip()), "")
        cell = f"cell {number} ({first_line[:40]})"
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), \
                    time_limit(job["timeout"]):
                exec(compile(cell_code(source), f"<cell {number}>", "exec"), namespace)
        except Timeout:
            cell_errors.append(f"{cell} ran past {job['timeout']:g} s and was stopped")
        except BaseException as err:  # noqa: BLE001  (whatever a cell raises, the grading goes on)
            first = str(err).splitlines()[0] if str(err) else ""
            cell_errors.append(f"{cell} raised {type(err).__name__}: {first}")
    for name, where in job.get("helpers", {}).items():
        module, _, function = where.partition(":")
        HELPERS[name] = getattr(importlib.import_module(module), function)
    defined = {name: _describe(namespace[name]) for name in job["names"] if name in namespace}
    results.write(RESULT + json.dumps({"cell_errors": cell_errors, "defined": defined}) + "\n")
    results.flush()
    for line in sys.stdin:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            reply = answer(namespace, json.loads(line))
        results.write(RESULT + json.dumps(reply) + "\n")
        results.flush()
    return 0



@adapter
def batch_norm_outputs(fn: Candidate) -> Callable[[np.ndarray, dict], tuple[dict, int]]:
    """Outputs of fn in training and test mode, then the moving averages after running UPDATE_OPS
    once; and how many update ops fn added."""
    return lambda X, params: _batch_norm_outputs(fn, X, params)


def _batch_norm_outputs(fn: Candidate, X: np.ndarray, params: dict) -> tuple[dict, int]:
    with tf.Graph().as_default() as graph:
        variables = {key: tf.Variable(value, name=key) for key, value in params.items()}
        training = v1.placeholder_with_default(True, shape=[], name="training")
        ZL = fn(tf.constant(X), variables, training)
        updates = graph.get_collection(v1.GraphKeys.UPDATE_OPS)
        moving = {key: var for key, var in variables.items() if key.startswith("moving")}
        with v1.Session(graph=graph) as sess:
            sess.run(v1.global_variables_initializer())
            out = {"training": sess.run(ZL), "test": sess.run(ZL, {training: False})}
            if updates:
                sess.run(updates)
            out["moving"] = sess.run(moving)
    return out, len(updates)

if __name__ == "__main__":
    sys.exit(child_main())
