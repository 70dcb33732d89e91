"""How the grader runs a candidate and reports on it, whatever the assignment: the report, the guard
that turns exceptions and blanks into failures, the comparison with a reference that names a
typical mistake, the kinds of check several assignments share (values, placeholders, a model that
must learn), and an assignment's exercises. Nothing here opens a session; tfsigns.grader holds the
checks that run graphs, the exercises and the grade() calls.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tfsigns.backend import tf
from tfsigns.config import TrainConfig
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
from tfsigns.grading.mistakes import Case, Mistake, Sampling, glorot_bound
from tfsigns.networks import get_network
from tfsigns.training.inference import predict

BLANK = "returned None: fill in the code between ### START CODE HERE ### and ### END CODE HERE ###"

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


def compare(report: Report, label: str, expected: Any, got: Any, mistakes: Sequence[Mistake] = (),
            args: tuple = (), **how) -> bool:
    """Check `got` against `expected`; on a difference, name the typical mistake it matches."""
    problem = difference(expected, got, **how)
    if problem is None:
        return True
    mistake = next((m for m in mistakes if _matches(m, args, got, **how)), None)
    if mistake:
        report.fail(f"{label}: {mistake.what} ({problem})", mistake.hint, mistake.what)
    else:
        report.fail(f"{label}: {problem}")
    return False


def value_check(reference: Candidate, cases: Sequence[Case] | Callable[[], Sequence[Case]],
                mistakes: Sequence[Mistake] = (), adapt: Callable[[Candidate], Candidate] = in_fresh_graph,
                **how):
    """A check comparing candidate and reference, both run through `adapt`, case by case (`cases`
    fixed, or drawn when the check runs, from the grading's seed)."""
    def check(candidate: Candidate, report: Report) -> None:
        run, expect = adapt(candidate), adapt(reference)
        for case in cases() if callable(cases) else cases:
            try:
                got = run(*case.args)
            except CandidateError:
                if report.failures:  # what an earlier case found wrong says it (a slip that raises here too)
                    return
                raise
            compare(report, case.label, expect(*case.args), got, mistakes, case.args, **how)
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


MIN_TRAIN_ACCURACY = 0.9
OPTIMIZER_HINT = ("run the optimizer on every minibatch: _, minibatch_cost = sess.run([optimizer, cost], "
                  "feed_dict={X: minibatch_X, Y: minibatch_Y})")
TRAINING_HINT = ("minimize the cost with v1.train.AdamOptimizer(learning_rate).minimize(cost) and run it for "
                 "every minibatch of every epoch")


@dataclass(frozen=True)
class ModelGrading:
    """How one assignment's model() is graded: on what data and settings, which parameters it must
    return (shape_problems(parameters, X_train, Y_train) lists what is wrong with them), and the
    network predict() runs them in (None: the MLP)."""

    data: Callable[[], tuple[np.ndarray, ...]]
    settings: dict[str, Any]
    shape_problems: Callable[[Mapping, np.ndarray, np.ndarray], list[str]]
    shape_hint: str
    config: TrainConfig | None = None


def _costs(history: Any) -> np.ndarray | None:
    """Per-epoch costs from a History (its .costs) or a plain list; None when there are none."""
    try:
        costs = np.asarray(getattr(history, "costs", history), dtype=float)
    except (TypeError, ValueError):
        return None
    return costs if costs.ndim == 1 and costs.size >= 2 else None


def model_check(spec: ModelGrading, with_its_feeds: Callable[[Candidate], Callable]
                ) -> Callable[[Candidate, Report], None]:
    """A check that model() trains on spec.data: trained parameters of the right shapes, X_train fed as
    it is, a falling cost, and a train accuracy of at least MIN_TRAIN_ACCURACY. `with_its_feeds` runs it
    and says what it fed the network (tfsigns.grading.child)."""
    def check(candidate: Candidate, report: Report) -> None:
        X_train, Y_train, X_test, Y_test = spec.data()
        layout = get_network(spec.config.arch if spec.config else "mlp").layout
        C = Y_train.shape[layout.class_axis]
        label = f"model(X_train {X_train.shape}, {C} separable classes, {spec.settings['num_epochs']} epochs)"
        result, fed = with_its_feeds(candidate)(X_train, Y_train, X_test, Y_test, **spec.settings)
        parameters, history = result if isinstance(result, tuple) and len(result) == 2 else (result, None)
        if not isinstance(parameters, Mapping) or "W1" not in parameters:
            report.fail(f"{label}: expected the trained parameters (a dict with W1, ...) or (parameters, "
                        f"history), got {kind(result)}", "return parameters = sess.run(parameters)")
            return
        if any(is_symbolic(value) for value in parameters.values()):
            report.fail(f"{label}: the parameters are tensors, not their trained values",
                        "parameters = sess.run(parameters) while the session is still open, then return them")
            return
        for problem in spec.shape_problems(parameters, X_train, Y_train):
            report.fail(f"{label}: {problem}", spec.shape_hint)
        if report.failures:
            return
        if problem := _fed_problem(X_train, X_test, fed):
            report.fail(f"{label}: {problem}", FEED_HINT)
        costs = _costs(history)
        if costs is not None and not costs[-1] < costs[0]:
            report.fail(f"{label}: the cost did not fall: {costs[0]:.4g} after the first epoch, "
                        f"{costs[-1]:.4g} after the last", OPTIMIZER_HINT)
        arrays = {key: np.asarray(value, dtype=np.float32) for key, value in parameters.items()}
        labels = Y_train.argmax(axis=layout.class_axis)
        accuracy = float(np.mean(predict(X_train, arrays, spec.config or TrainConfig()) == labels))
        if accuracy < MIN_TRAIN_ACCURACY:
            report.fail(f"{label}: train accuracy {accuracy:.2f} on data the reference fits perfectly "
                        f"(needs at least {MIN_TRAIN_ACCURACY:.2f})", TRAINING_HINT)
    return check


FEED_HINT = ("X_train comes to model() divided by 255 already: feed its minibatches as they are, "
             "feed_dict={X: minibatch_X, Y: minibatch_Y}")


def _fed_problem(X_train: np.ndarray, X_test: np.ndarray, fed: Any) -> str | None:
    """What is wrong with the values model() fed its network, [smallest, largest], against those of X_train
    and X_test: the pixels scaled by 255 once more (or divided again), or values neither holds; None if
    right."""
    span = numbers(fed)
    if span is None or span.shape != (2,):
        return None
    low, high = float(min(X_train.min(), X_test.min())), float(max(X_train.max(), X_test.max()))
    scale = float(np.abs(span).max()) / max(abs(low), abs(high))
    for factor, what in ((255.0, "multiplied by 255, as if its pixels ran from 0 to 255"),
                         (1 / 255, "divided by 255 once more, its pixels squeezed near 0")):
        if math.isclose(scale, factor, rel_tol=0.01):
            return f"it fed the network X_train {what} (values from {span[0]:.4g} to {span[1]:.4g})"
    margin = 1e-3 * max(abs(low), abs(high))
    if span[0] < low - margin or span[1] > high + margin:
        return (f"it fed the network values from {span[0]:.4g} to {span[1]:.4g}, where X_train's and "
                f"X_test's lie from {low:.4g} to {high:.4g}")
    return None


def numbers(value: Any) -> np.ndarray | None:
    """value as a float array; None when it is not numbers."""
    if is_symbolic(value):
        return None
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return None


NATURAL_LOG_HINT = ("np.log is the natural logarithm, but the exponent r is a power of 10: draw it between "
                    "the base-10 logarithms of the ends (np.log10)")


def _natural_exponents(spec: Sampling, low: float, high: float, samples: np.ndarray) -> bool:
    """Whether the samples' exponents lie between the ends' natural logarithms, not their base-10 ones
    (np.log where np.log10 belongs)."""
    with np.errstate(all="ignore"):
        r = spec.exponent_of(samples)
    first, last = spec.exponents(low, high)
    tolerance = 1e-6 * max(1.0, abs(first), abs(last))
    return bool(np.isfinite(r).all() and r.min() >= first * math.log(10) - tolerance
                and r.max() <= last * math.log(10) + tolerance and (r < first - tolerance).any())


def sampler_check(spec: Sampling) -> Callable[[Candidate, Report], None]:
    """A check of a hyperparameter sampler: n samples within [low, high], spread evenly over the
    bins spec.ranges gives (the right scale), the same for a seed and different for another."""
    def check(candidate: Candidate, report: Report) -> None:
        for low, high, n, seed, edges in spec.cases():
            label = f"({low:g}, {high:g}, n={n}, seed={seed})"
            samples = numbers(candidate(low, high, n, seed))
            if samples is None or samples.shape != (n,):
                got = "something that is not numbers" if samples is None else f"shape {samples.shape}"
                report.fail(f"{label}: expected {n} samples, an array of shape ({n},); got {got}",
                            "draw all n at once: np.random.uniform(a, b, size=n)")
                continue
            outside = (samples < low * (1 - 1e-9)) | (samples > high * (1 + 1e-9))
            if outside.any() and _natural_exponents(spec, low, high, samples):
                report.fail(f"{label}: {outside.sum()} of {n} samples lie outside [{low:g}, {high:g}]: their "
                            "exponents were drawn between natural logarithms", NATURAL_LOG_HINT)
                continue
            if outside.any():
                first, last = spec.exponents(low, high)
                exponents = bool(np.all((samples >= first - 1e-9) & (samples <= last + 1e-9)))
                report.fail(f"{label}: {outside.sum()} of {n} samples lie outside [{low:g}, {high:g}] "
                            f"(min {samples.min():.4g}, max {samples.max():.4g})",
                            spec.outside_hint if exponents else spec.range_hint)
                continue
            bins = [f"[{a:g}, {b:g}]" for a, b in itertools.pairwise(edges)]
            shares = np.histogram(samples, bins=edges)[0] / n
            if np.abs(shares - 1 / len(bins)).max() > 0.05:
                linear = np.abs(shares - np.diff(edges) / (high - low)).max() < 0.05
                top = int(shares.argmax())
                report.fail(f"{label}: {'the samples look uniform on a linear scale: ' if linear else ''}"
                            f"expected about {1 / len(bins):.0%} of the samples in each of "
                            f"{', '.join(bins)}; got {', '.join(f'{s:.0%}' for s in shares)}: "
                            f"{shares[top]:.0%} of samples fall in {bins[top]}"
                            f"{spec.linear_note if linear else ''}", spec.log_hint)
            if not np.array_equal(samples, numbers(candidate(low, high, n, seed))):
                report.fail(f"{label}: two calls with seed={seed} gave different samples",
                            "seed the generator with the seed argument: np.random.seed(seed) first")
            elif np.array_equal(samples, numbers(candidate(low, high, n, seed + 1))):
                report.fail(f"{label}: seeds {seed} and {seed + 1} gave the same samples: the seed is "
                            "ignored", "seed the generator with the seed argument: np.random.seed(seed)")
    return check


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
    try:
        exercise.check(candidate if isinstance(candidate, Elsewhere) else guard(candidate), report)
    except Blank:
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
