"""How the grader runs a candidate and reports on it, whatever the assignment: the report, the guard
that turns exceptions and blanks into failures, the comparison with a reference that names a
typical mistake, the kinds of check several assignments share (values, placeholders, a model that
must learn), and an assignment's exercises. Nothing here opens a session; tfsigns.grader holds the
checks that run graphs, the exercises and the grade() calls.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tfsigns.backend import tf
from tfsigns.grading.answers import (
    Blank,
    Candidate,
    CandidateError,
    Elsewhere,
    GraphRunError,
    guard,
    in_fresh_graph,
    learner_frames,
    numpy_alone,
)
from tfsigns.grading.feedback import (
    ErrorHints,
    describe_error,
    difference,
    error_hint,
    is_symbolic,
    kind,
    placeholder_problem,
    shape_message,
)
from tfsigns.grading.mistakes import Case, Mistake, glorot_bound

BLANK = "returned None: fill in the code between ### START CODE HERE ### and ### END CODE HERE ###"
PRINTED = ("returned None, and printed something: print shows a value, return hands it back; the grader, "
           "as any caller, takes what the function returns")
PRINTED_HINT = "end the function with return and the value it computes, not print"
CHANGED_HINT = ("leave the arrays you are given as they are: work on a copy, or index with a permutation "
                "(X[:, permutation] makes a new array, while np.random.shuffle(X.T) reorders X itself)")

@dataclass
class Report:
    """Failed checks of one exercise, hints for them (first one wins), and the typical mistakes they name
    (what a class's summary counts)."""

    failures: list[str] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)
    named: list[str] = field(default_factory=list)

    def fail(self, message: str, hint: str | None = None, named: str | None = None) -> None:
        self.failures.append(message)
        if hint and hint not in self.hints:
            self.hints.append(hint)
        if named and named not in self.named:
            self.named.append(named)


# ------------------------------------------------------------------ comparing with the reference


def _matches(mistake: Mistake, args: tuple, got: Any, **how) -> bool:
    """Whether `got` is what `mistake` produces on `args`."""
    try:
        return difference(mistake.wrong(*args), got, **how) is None
    except Exception:  # a mistake that cannot even be computed on these inputs is not this one
        return False


Diagnose = Callable[[tuple, Any], "tuple[str, str] | None"]


def compare(report: Report, label: str, expected: Any, got: Any, mistakes: Sequence[Mistake] = (),
            args: tuple = (), diagnose: Diagnose | None = None, **how) -> bool:
    """Check `got` against `expected`; on a difference, name the typical mistake it matches, or what
    `diagnose(args, got)` finds, (what, hint), where no mistake is computed to match."""
    problem = difference(expected, got, **how)
    if problem is None:
        return True
    mistake = next((m for m in mistakes if _matches(m, args, got, **how)), None)
    if mistake is None and diagnose is not None and (found := diagnose(args, got)):
        mistake = Mistake(*found, None)
    if mistake:
        report.fail(f"{label}: {mistake.what} ({problem})", mistake.hint, mistake.what)
    else:
        report.fail(f"{label}: {problem}")
    return False


def value_check(reference: Candidate, cases: Sequence[Case] | Callable[[], Sequence[Case]],
                mistakes: Sequence[Mistake] = (), adapt: Callable[[Candidate], Candidate] = in_fresh_graph,
                diagnose: Diagnose | None = None, **how):
    """A check comparing candidate and reference, both run through `adapt`, case by case (`cases`
    fixed, or drawn when the check runs, from the grading's seed); `diagnose` as compare's."""
    def check(candidate: Candidate, report: Report) -> None:
        run, expect = adapt(candidate), adapt(reference)
        for case in cases() if callable(cases) else cases:
            try:
                got = run(*case.args)
            except CandidateError:
                if report.failures:  # what an earlier case found wrong says it (a slip that raises here too)
                    return
                raise
            compare(report, case.label, expect(*case.args), got, mistakes, case.args, diagnose, **how)
    return check


# ------------------------------------------------------------------ checks that several exercises share


def placeholder_check(sizes: Sequence[tuple[int, ...]], shapes: Callable[..., tuple[tuple, tuple]],
                      axes: tuple[Sequence[str], Sequence[str]], hint: str
                      ) -> Callable[[Candidate, Report], None]:
    """A check of create_placeholders(*size) for each size: X and Y float32 placeholders of shapes(*size)."""
    def check(candidate: Candidate, report: Report) -> None:
        for size in sizes:
            label = f"create_placeholders({', '.join(map(str, size))})"
            result = in_fresh_graph(candidate)(*size)
            if not (isinstance(result, (tuple, list)) and len(result) == 2):
                report.fail(f"{label}: expected a pair (X, Y), got {kind(result)}")
                continue
            for name, tensor, shape, words in zip("XY", result, shapes(*size), axes, strict=True):
                if problem := placeholder_problem(tensor, shape, words):
                    report.fail(f"{label}: {name}: {problem}", hint)
    return check


def numbers(value: Any) -> np.ndarray | None:
    """value as a float array; None when it is not numbers."""
    if is_symbolic(value):
        return None
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return None


# ------------------------------------------------------------------ exercises and assignments


@dataclass(frozen=True)
class Exercise:
    """How to check one exercise, the hint shown when no more pointed one applies (it guides, it does
    not hand over the code), hints for the exceptions this exercise's candidates typically raise
    (tried before the assignment's), and its points in the assignment's rubric (what a class's grading
    scores it, unless the instructor says otherwise)."""

    check: Callable[[Candidate, Report], None]
    hint: str
    points: float = 1.0
    error_hints: ErrorHints = ()
    tensorflow: bool = False  # the exercise is about TensorFlow: an answer in NumPy alone fails
    optional: bool = False  # the notebook says so: a class's grading gives it no points unless told to
    # model(): the exercises it calls, each with its reference ("module:function"), which a class's grading
    # puts in place of the learner's when one of them fails, so that a slip costs its own points once
    helpers: Mapping[str, str] = field(default_factory=dict)
    seconds: float = 10.0  # grade() in a notebook stops a candidate still running after this


@dataclass(frozen=True)
class Assignment:
    """One assignment's exercises in lesson order, their reference solutions, and hints for the
    exceptions its candidates typically raise, tried after the exercise's own and before
    tfsigns.grading.feedback.ERROR_HINTS."""

    exercises: dict[str, Exercise]
    references: dict[str, Candidate]
    error_hints: ErrorHints = ()


def helper_that_raised(err: BaseException, name: str, exercises: Mapping[str, Exercise]) -> str | None:
    """The learner's own function of another exercise (conv_single_step inside conv_forward) in which
    `err` was raised, if it was: the deepest such frame of its traceback, tfsigns' own code left out."""
    return next((frame for frame in reversed(learner_frames(err)) if frame in exercises and frame != name),
                None)


def run_checks(name: str, candidate: Any, assignment: Assignment) -> Report:
    """Run exercise `name`'s checks on a candidate; whatever goes wrong ends up in the report, with
    the hint of the exercise whose code raised it."""
    exercise, report = assignment.exercises[name], Report()
    if not callable(candidate):
        report.fail(f"expected a function, got {kind(candidate)}")
        return report
    hints = (*exercise.error_hints, *assignment.error_hints)
    guarded = candidate if isinstance(candidate, Elsewhere) else guard(candidate)
    try:
        exercise.check(guarded, report)
    except Blank as blank:
        if blank.printed:
            return Report([PRINTED], [PRINTED_HINT], ["printed instead of returned"])
        return Report([BLANK], named=["blank"])
    except CandidateError as err:
        helper = helper_that_raised(err.error, name, assignment.exercises)
        if helper:  # its own hints, else the caller's (what it was given), else: grade it first
            report.fail(f"raised {describe_error(err.error)} in your {helper} (called by {name})",
                        error_hint(err.error, (*assignment.exercises[helper].error_hints,
                                               *assignment.error_hints, *exercise.error_hints))
                        or f"grade {helper} first: grade('{helper}', {helper}) says what is wrong with it")
        else:
            report.fail(f"raised {describe_error(err.error)}", error_hint(err.error, hints))
    except (tf.errors.OpError, GraphRunError) as err:
        report.fail(f"running the graph failed with {describe_error(err)}", error_hint(err, hints))
    except Exception as err:
        report.fail(f"could not check the result ({describe_error(err)})", error_hint(err, hints))
    if changed := sorted(guarded.changed):  # first: it explains what the values show
        arrays = "array changes" if len(changed) == 1 else "arrays change"
        report.failures.insert(0, f"it changed {', '.join(changed)}, which it was given, in place: the "
                                  f"caller's {arrays} with it")
        report.hints.insert(0, CHANGED_HINT)
        report.named.insert(0, "changed its input in place")
    if exercise.tensorflow and numpy_alone(candidate):
        report.fail("computed with NumPy alone: this exercise builds its computation in a TensorFlow graph "
                    "and runs it in a session", "use TensorFlow's ops (tf.*, tf.nn.*) for the computation, "
                    "and v1.Session to evaluate it; NumPy is for the convolution step by step")
    return report


# ------------------------------------------------------------------ initial parameters, in both courses


def initial_values(report: Report, label: str, values: Any, expected: Mapping[str, tuple[int, ...]],
                    axes: Callable[[str], Sequence[str]], rules: Sequence) -> dict[str, np.ndarray] | None:
    """The initial values of parameters (as `evaluated` returns them), with a failure for each missing
    key, wrong shape or broken rule (tfsigns.grading.mistakes.init_rules); None when none can be read."""
    if not isinstance(values, Mapping):
        report.fail(f"{label}: expected a dict of variables, got {kind(values)}")
        return None
    missing = [key for key in expected if key not in values]
    if missing:
        report.fail(f"{label}: missing keys {missing}; expected {list(expected)}", rules[0][3])
        return None
    for key, shape in expected.items():
        value = np.asarray(values[key], dtype=float)
        if value.shape != shape:
            hint = next(rule[3] for rule in rules if rule[0] == key[0])  # a bias's hint for a bias
            report.fail(f"{label}: {key}: {shape_message(shape, value.shape, axes(key))}", hint)
            continue
        bound = glorot_bound(shape) if key[0] == "W" else None  # a bias's rule needs none
        for prefix, test, message, hint in rules:
            if key[0] == prefix and not test(value, bound):
                report.fail(f"{label}: {message(key, value, bound)}", hint)
    return values


def check_draw(report: Report, label: str, values: Mapping, reference: Mapping, seed: int,
                hint: str) -> None:
    """A failure for each weight that is not the draw of the Glorot initializer with the lesson's seed
    (both courses fix it, so that a learner's costs can be compared with the notebook's)."""
    for key in (key for key in reference if key.startswith("W")):
        if difference(reference[key], values[key]) is not None:
            report.fail(f"{label}: {key} is not the draw of v1.glorot_uniform_initializer(seed={seed}) "
                        f"(first values {np.ravel(values[key])[:3].round(4).tolist()}, expected "
                        f"{np.ravel(reference[key])[:3].round(4).tolist()})", hint)
