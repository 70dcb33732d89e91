"""Auto-grader for the exercise notebooks: each exercise is checked against the tfsigns reference.

    from tfsigns.grader import grade, grade_all
    grade("one_hot_matrix", one_hot_matrix)   # prints "one_hot_matrix: PASS", or FAIL with reasons
    grade_all(globals())                      # every exercise defined in the notebook
    grade("zero_pad", zero_pad, assignment="convolution_step_by_step")

The exercises come in assignments (ASSIGNMENTS), one a notebook or part of one:

* "tensorflow" (the default; notebooks/Exercises.ipynb): the TensorFlow assignment, from
  linear_function to the fully connected network's model, examples as columns;
* "convolution_step_by_step" (notebooks/Convolution_Exercises.ipynb, part 1): the convolution
  course's NumPy lesson, zero_pad, conv_single_step, conv_forward, pool_forward;
* "convolution_application" (the same notebook, part 2): the course CNN in TensorFlow,
  create_placeholders to model, examples first.

A check never raises because of the candidate: an exception, a blank exercise (one that
returns None) and a wrong answer all print FAIL, one line per failed check, and a one-line
hint. Typical mistakes (transposed shapes, labels and logits swapped, a missing ReLU,
alpha sampled uniformly, a slice that is not strided, VALID padding, ...) are recognised by
computing what that mistake produces on the same inputs and comparing it with the
candidate's answer; a CNN's structural slips are read from the graph it builds.

Here live grade() and the assignments; the exercises are in tfsigns.grading.exercises (the
TensorFlow assignment) and tfsigns.grading.exercises_cnn (the convolution course's two); how a
candidate is run and compared is in tfsigns.grading.checks, the inputs and the typical mistakes in
tfsigns.grading.mistakes and tfsigns.grading.mistakes_cnn, the wording in tfsigns.grading.feedback.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from tfsigns.grading.answers import Timeout, time_limit
from tfsigns.grading.checks import (
    Assignment,
    Candidate,
    Exercise,
    run_checks,
)
from tfsigns.grading.exercises import TENSORFLOW
from tfsigns.grading.exercises_cnn import APPLICATION, STEP_BY_STEP
from tfsigns.grading.mistakes import (
    CASE_SEED,
)

ASSIGNMENTS: dict[str, Assignment] = {
    "tensorflow": TENSORFLOW,
    "convolution_step_by_step": STEP_BY_STEP,
    "convolution_application": APPLICATION,
}


def _assignment(name: str) -> Assignment:
    if name not in ASSIGNMENTS:
        raise ValueError(f"unknown assignment {name!r}; the assignments are {', '.join(ASSIGNMENTS)}")
    return ASSIGNMENTS[name]


def grade_lines(name: str, candidate: Candidate, assignment: str = "tensorflow",
                seed: int = 0) -> tuple[bool, list[str]]:
    """Whether exercise `name` of `assignment` passes on the cases drawn from `seed` (a notebook's 0, or
    an instructor's), and the lines grade() prints about it: the verdict, one line per failed check,
    and a hint."""
    passed, lines, _ = grade_report(name, candidate, assignment, seed)
    return passed, lines


def grade_report(name: str, candidate: Candidate, assignment: str = "tensorflow",
                 seed: int = 0) -> tuple[bool, list[str], list[str]]:
    """grade_lines(), and the typical mistakes its checks named (a class's summary counts them)."""
    exercises = _assignment(assignment).exercises
    if name not in exercises:
        raise ValueError(f"unknown exercise {name!r} in assignment {assignment!r}; its exercises are "
                         f"{', '.join(exercises)}")
    exercise = exercises[name]
    drawn = CASE_SEED.set(seed)
    try:  # NumPy's warnings about a candidate's overflows stay out: the report says what went wrong
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            report = run_checks(name, candidate, ASSIGNMENTS[assignment])
    finally:
        CASE_SEED.reset(drawn)
    passed = not report.failures
    lines = [f"{name}: {'PASS' if passed else 'FAIL'}", *(f"  {failure}" for failure in report.failures)]
    if not passed:
        lines.append(f"hint: {report.hints[0] if report.hints else exercise.hint}")
    return passed, lines, report.named


class Verdict(int):
    """Whether an exercise passed: 1 or 0, true or false as a bool is, and shown as nothing in a notebook,
    where grade() has printed the verdict already (a bare True under it would only repeat it)."""

    def __new__(cls, passed: bool):
        return super().__new__(cls, bool(passed))

    def __repr__(self) -> str:
        return repr(bool(self))

    def _ipython_display_(self) -> None:  # Jupyter shows nothing for it
        pass


class Verdicts(dict):
    """grade_all()'s {exercise: Verdict}, shown as nothing in a notebook (it has printed each verdict)."""

    def _ipython_display_(self) -> None:
        pass


def grade(name: str, candidate: Candidate, assignment: str | None = None,
          seconds: float | None = None) -> Verdict:
    """Check exercise `name` of `assignment` (by default the one assignment that has it, else the
    TensorFlow one) and print "name: PASS", or "name: FAIL" with one line per failed check and a hint.
    A candidate still running after `seconds` (by default the exercise's own limit, a few seconds; a
    minute or two for model) is stopped and fails, where grade() runs in the main thread, as a notebook's
    cells do. Returns whether it passed; never raises because of the candidate."""
    assignment = assignment or assignment_of(name)
    limit = seconds or _assignment(assignment).exercises.get(name, Exercise(None, "")).seconds
    timed = threading.current_thread() is threading.main_thread()
    try:
        with time_limit(limit) if timed else contextlib.nullcontext():
            passed, lines = grade_lines(name, candidate, assignment)
    except Timeout:
        passed, lines = False, [f"{name}: FAIL",
                                f"  stopped after {limit:g} s: it had not returned (a loop that never ends?)",
                                f"hint: grade('{name}', {name}, seconds=...) gives it longer, where it is "
                                "only slow"]
    print("\n".join(lines))
    return Verdict(passed)


def assignment_of(name: str) -> str:
    """The assignment of exercise `name`: the one that has it, "tensorflow" where several do."""
    having = [assignment for assignment, spec in ASSIGNMENTS.items() if name in spec.exercises]
    return having[0] if len(having) == 1 else "tensorflow"


# The assignments each notebook holds, known by an exercise that only that notebook defines.
NOTEBOOKS = {"linear_function": ("tensorflow",),
             "zero_pad": ("convolution_step_by_step", "convolution_application")}


def notebook_assignments(namespace: Mapping[str, Any]) -> tuple[str, ...]:
    """The assignments of the notebook whose globals() `namespace` is, by the exercises it defines;
    ValueError when they do not tell."""
    found = [names for key, names in NOTEBOOKS.items() if key in namespace]
    if len(found) != 1:
        raise ValueError("say which assignment to grade: grade_all(globals(), assignment=...) with one of "
                         f"{', '.join(ASSIGNMENTS)}")
    return found[0]


def grade_all(namespace: Mapping[str, Any], assignment: str | None = None) -> Verdicts:
    """Grade every exercise of `assignment` (default: the assignments of the notebook whose globals()
    `namespace` is) in lesson order, an exercise the namespace does not define as a FAIL."""
    results = Verdicts()
    for each in (assignment,) if assignment else notebook_assignments(namespace):
        for name, exercise in _assignment(each).exercises.items():
            if name in namespace:
                results[name] = grade(name, namespace[name], each)
            else:
                print(f"{name}: FAIL\n  not defined: run the cell that defines {name}\nhint: {exercise.hint}")
                results[name] = Verdict(False)
    print(f"{sum(results.values())} of {len(results)} exercise{'s' * (len(results) != 1)} pass")
    return results


if __name__ == "__main__":  # one module owns the class's command: tfsigns.grading.classroom
    print("tfsigns.grading.grader holds the notebooks' grade() and grade_all(); a class is graded by "
          "python -m tfsigns.grader SUBMISSION.ipynb... --out DIR", file=sys.stderr)
    raise SystemExit(2)
