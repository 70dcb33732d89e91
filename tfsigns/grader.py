"""Auto-grader for notebooks/Exercises.ipynb: each exercise is checked against the tfsigns reference.

    from tfsigns.grader import grade, grade_all
    grade("one_hot_matrix", one_hot_matrix)   # prints "one_hot_matrix: PASS", or FAIL with reasons
    grade_all(globals())                      # every exercise defined in the notebook

A check never raises because of the candidate: an exception, a blank exercise (one that
returns None) and a wrong answer all print FAIL, one line per failed check, and a one-line
hint. Typical mistakes (transposed shapes, labels and logits swapped, a missing ReLU,
alpha sampled uniformly, ...) are recognised by computing what that mistake produces on
the same inputs and comparing it with the candidate's answer.

Here live the exercises, their references and the checks that run a candidate; the inputs and
the typical mistakes are in tfsigns.mistakes, the wording of differences and errors in
tfsigns.feedback.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tfsigns import basics
from tfsigns.backend import tf, v1
from tfsigns.data import random_mini_batches
from tfsigns.feedback import (
    describe_error,
    difference,
    error_hint,
    is_symbolic,
    kind,
    placeholder_problem,
    shape_message,
)
from tfsigns.inference import predict
from tfsigns.mistakes import (
    COMPUTE_COST_CASES,
    COMPUTE_COST_MISTAKES,
    COST_CASES,
    COST_MISTAKES,
    FORWARD_CASES,
    FORWARD_MISTAKES,
    GLOROT_HINT,
    INIT_RULES,
    LAYER_DIMS,
    LINEAR_CASES,
    LINEAR_MISTAKES,
    MINIBATCH_CASES,
    MINIBATCH_MISTAKES,
    ONE_HOT_CASES,
    ONE_HOT_MISTAKES,
    ONES_CASES,
    PLACEHOLDER_SIZES,
    SAMPLINGS,
    SIGMOID_CASES,
    Case,
    Mistake,
    Sampling,
    bn_inputs,
    model_data,
    momentum_flipped,
)
from tfsigns.mlp import num_layers
from tfsigns.networks import get_network
from tfsigns.space import Dimension
from tfsigns.trainer import model

# The reference solutions: the course network's own functions, by their lesson names.
COURSE = get_network("mlp").course_functions
BLANK = "returned None: fill in the code between ### START CODE HERE ### and ### END CODE HERE ###"
Candidate = Callable[..., Any]


# ------------------------------------------------------------------ reporting


class _Blank(Exception):
    """The candidate returned None: the exercise is not filled in yet."""


class _CandidateError(Exception):
    """The candidate raised `error`."""

    def __init__(self, error: BaseException):
        super().__init__(str(error))
        self.error = error


def _guard(candidate: Candidate) -> Candidate:
    """The candidate, with its exceptions wrapped and a None result turned into _Blank."""
    def call(*args, **kwargs):
        try:
            result = candidate(*args, **kwargs)
        except (Exception, SystemExit) as err:
            raise _CandidateError(err) from err
        if result is None:
            raise _Blank
        return result
    return call


@dataclass
class Report:
    """Failed checks of one exercise, and hints for them (first one wins)."""

    failures: list[str] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)

    def fail(self, message: str, hint: str | None = None) -> None:
        self.failures.append(message)
        if hint and hint not in self.hints:
            self.hints.append(hint)


# ------------------------------------------------------------------ comparing with the reference


def _matches(mistake: Mistake, args: tuple, got: Any, **how) -> bool:
    """Whether `got` is what `mistake` produces on `args`."""
    try:
        return difference(mistake.wrong(*args), got, **how) is None
    except Exception:  # a mistake that cannot even be computed on these inputs is not this one
        return False


def _compare(report: Report, label: str, expected: Any, got: Any, mistakes: Sequence[Mistake] = (),
             args: tuple = (), **how) -> bool:
    """Check `got` against `expected`; on a difference, name the typical mistake it matches."""
    problem = difference(expected, got, **how)
    if problem is None:
        return True
    mistake = next((m for m in mistakes if _matches(m, args, got, **how)), None)
    if mistake:
        report.fail(f"{label}: {mistake.what} ({problem})", mistake.hint)
    else:
        report.fail(f"{label}: {problem}")
    return False


# ------------------------------------------------------------------ running graphs


def _evaluate(value: Any) -> Any:
    """NumPy values of whatever tensors `value` holds (variables initialized); other values as they are."""
    tensors = [t for t in tf.nest.flatten(value) if is_symbolic(t)]
    if not tensors:
        return value
    graph = tensors[0].graph
    with graph.as_default(), v1.Session(graph=graph) as sess:
        sess.run(v1.global_variables_initializer())
        return sess.run(value)


def _in_fresh_graph(fn: Candidate) -> Candidate:
    """fn called inside a fresh default graph (its result returned as it is)."""
    def run(*args):
        with tf.Graph().as_default():
            return fn(*args)
    return run


def _on_constants(fn: Candidate) -> Candidate:
    """fn of NumPy arrays (and dicts of them): called on tf.constant copies in a fresh graph, evaluated."""
    def constant(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {key: tf.constant(v, name=key) for key, v in value.items()}
        return tf.constant(value)

    def run(*args):
        with tf.Graph().as_default():
            return _evaluate(fn(*(constant(a) for a in args)))
    return run


def _value_check(reference: Candidate, cases: Sequence[Case], mistakes: Sequence[Mistake] = (),
                 adapt: Callable[[Candidate], Candidate] = _in_fresh_graph, **how):
    """A check comparing candidate and reference, both run through `adapt`, case by case."""
    def check(candidate: Candidate, report: Report) -> None:
        run, expect = adapt(candidate), adapt(reference)
        for case in cases:
            _compare(report, case.label, expect(*case.args), run(*case.args), mistakes, case.args, **how)
    return check


# ------------------------------------------------------------------ graph-building exercises


PLACEHOLDER_HINT = ("X = v1.placeholder(tf.float32, shape=[n_x, None], name='X'), Y likewise with n_y: "
                    "one column per example, None leaves the number of examples open")


def _check_create_placeholders(candidate: Candidate, report: Report) -> None:
    for n_x, n_y in PLACEHOLDER_SIZES:
        label = f"create_placeholders({n_x}, {n_y})"
        with tf.Graph().as_default():
            result = candidate(n_x, n_y)
        if not (isinstance(result, (tuple, list)) and len(result) == 2):
            report.fail(f"{label}: expected a pair (X, Y), got {kind(result)}")
            continue
        for name, tensor, n, axis in (("X", result[0], n_x, "features"), ("Y", result[1], n_y, "classes")):
            if problem := placeholder_problem(tensor, n, axis):
                report.fail(f"{label}: {name}: {problem}", PLACEHOLDER_HINT)


def _check_initialize_parameters(candidate: Candidate, report: Report) -> None:
    for dims in LAYER_DIMS:
        label = f"initialize_parameters({list(dims)})"
        L = len(dims) - 1
        expected = {f"{p}{l}": (dims[l], dims[l - 1] if p == "W" else 1)
                    for l in range(1, L + 1) for p in "Wb"}
        with tf.Graph().as_default():
            parameters = candidate(list(dims))
            if not isinstance(parameters, Mapping):
                report.fail(f"{label}: expected a dict of variables, got {kind(parameters)}")
                continue
            missing = [key for key in expected if key not in parameters]
            if missing:
                report.fail(f"{label}: missing keys {missing}; expected {list(expected)}")
                continue
            values = _evaluate({key: parameters[key] for key in expected})
        for key, shape in expected.items():
            value, l = np.asarray(values[key], dtype=float), int(key[1:])
            if value.shape != shape:
                axes = (f"units in layer {l}", f"units in layer {l - 1}" if key[0] == "W" else "columns")
                report.fail(f"{label}: {key}: {shape_message(shape, value.shape, axes)}", GLOROT_HINT)
                continue
            bound = math.sqrt(6 / (dims[l] + dims[l - 1]))
            for prefix, test, message, hint in INIT_RULES:
                if key[0] == prefix and not test(value, bound):
                    report.fail(f"{label}: {message(key, value, bound)}", hint)


BN_MOMENTUM = 0.99
UPDATE_OPS_HINT = ("for moving_mean and moving_variance make op = moving.assign(0.99 * moving + "
                   "0.01 * batch_stat) and v1.add_to_collection(tf.compat.v1.GraphKeys.UPDATE_OPS, op); "
                   "the train op runs them under "
                   "tf.control_dependencies(v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS))")


def _reference_bn(X: tf.Tensor, parameters: dict, training: tf.Tensor) -> tf.Tensor:
    """The batch-norm forward pass with the notebook's signature."""
    return COURSE["forward_propagation"](X, parameters, batch_norm=True, training=training)


def _run_bn(fn: Candidate, X: np.ndarray, params: dict) -> tuple[dict, int]:
    """Outputs of fn in training and test mode, then the moving averages after running UPDATE_OPS
    once; and how many update ops fn added."""
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


def _check_forward_propagation_bn(candidate: Candidate, report: Report) -> None:
    X, params = bn_inputs()
    expected, _ = _run_bn(_reference_bn, X, params)
    got, n_updates = _run_bn(candidate, X, params)
    modes = (("training", "test", "mu and sigma^2 of the minibatch in training mode"),
             ("test", "training", "moving_mean and moving_variance in test mode"))
    for mode, other, right in modes:
        mistake = Mistake(f"the {mode} mode looks like the {other} mode",
                          f"use {right}: tf.cond(training, lambda: (batch_mean, batch_var), "
                          "lambda: (moving_mean, moving_var))", lambda other=other: expected[other])
        _compare(report, f"forward_propagation_bn(X, parameters, training={mode == 'training'})",
                 expected[mode], got[mode], (mistake,), axes=("classes", "examples"))
    initial = {key: params[key] for key in expected["moving"]}
    if not n_updates:
        report.fail("update ops not added: the tf.compat.v1.GraphKeys.UPDATE_OPS collection is empty, so "
                    "moving_mean and moving_variance never move", UPDATE_OPS_HINT)
    elif difference(initial, got["moving"]) is None:
        report.fail("running the UPDATE_OPS collection left moving_mean and moving_variance unchanged",
                    UPDATE_OPS_HINT)
    else:
        flipped = Mistake(f"the momentum is the wrong way round ({1 - BN_MOMENTUM:g} * old + "
                          f"{BN_MOMENTUM:g} * batch)", UPDATE_OPS_HINT,
                          lambda: momentum_flipped(initial, expected["moving"], BN_MOMENTUM))
        _compare(report, f"moving averages after running UPDATE_OPS once ({BN_MOMENTUM:g} * old + "
                 f"{1 - BN_MOMENTUM:g} * batch)", expected["moving"], got["moving"], (flipped,),
                 axes=("units", "columns"))


# ------------------------------------------------------------------ hyperparameter sampling


def _tune_sampler(scale: str) -> Candidate:
    """Reference sampler: n draws of tfsigns.space.Dimension on `scale`."""
    def sample(low: float, high: float, n: int, seed: int) -> np.ndarray:
        dimension, rng = Dimension("sampled", scale, low, high), np.random.default_rng(seed)
        return np.array([dimension.sample(rng) for _ in range(n)])
    return sample


def _numbers(value: Any) -> np.ndarray | None:
    """value as a float array; None when it is not numbers."""
    if is_symbolic(value):
        return None
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return None


def _sampler_check(spec: Sampling) -> Callable[[Candidate, Report], None]:
    def check(candidate: Candidate, report: Report) -> None:
        for low, high, n, seed, edges in spec.ranges:
            label = f"({low:g}, {high:g}, n={n}, seed={seed})"
            samples = _numbers(candidate(low, high, n, seed))
            if samples is None or samples.shape != (n,):
                got = "something that is not numbers" if samples is None else f"shape {samples.shape}"
                report.fail(f"{label}: expected {n} samples, an array of shape ({n},); got {got}",
                            "draw all n at once: np.random.uniform(a, b, size=n)")
                continue
            outside = (samples < low * (1 - 1e-9)) | (samples > high * (1 + 1e-9))
            if outside.any():
                report.fail(f"{label}: {outside.sum()} of {n} samples lie outside [{low:g}, {high:g}] "
                            f"(min {samples.min():.4g}, max {samples.max():.4g})", spec.outside_hint)
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
                            f"{spec.linear_note if linear else ''}")
            if not np.array_equal(samples, _numbers(candidate(low, high, n, seed))):
                report.fail(f"{label}: two calls with seed={seed} gave different samples",
                            "seed the generator with the seed argument: np.random.seed(seed) first")
            elif np.array_equal(samples, _numbers(candidate(low, high, n, seed + 1))):
                report.fail(f"{label}: seeds {seed} and {seed + 1} gave the same samples: the seed is "
                            "ignored", "seed the generator with the seed argument: np.random.seed(seed)")
    return check


# ------------------------------------------------------------------ the whole model


MODEL_SETTINGS = {"learning_rate": 0.01, "num_epochs": 25, "minibatch_size": 32, "print_cost": False}
MIN_TRAIN_ACCURACY = 0.9
MODEL_SHAPE_HINT = "n_x, m = X_train.shape; n_y = Y_train.shape[0]; layer_dims = [n_x, 25, 12, n_y]"


def _reference_model(X_train: np.ndarray, Y_train: np.ndarray, X_test: np.ndarray, Y_test: np.ndarray,
                     learning_rate: float = 0.0001, num_epochs: int = 1500, minibatch_size: int = 32,
                     print_cost: bool = True) -> tuple[dict, Any]:
    """tfsigns.trainer.model with the notebook's signature."""
    return model(X_train, Y_train, X_test, Y_test, learning_rate, num_epochs, minibatch_size, print_cost)


def _costs(history: Any) -> np.ndarray | None:
    """Per-epoch costs from a History (its .costs) or a plain list; None when there are none."""
    try:
        costs = np.asarray(getattr(history, "costs", history), dtype=float)
    except (TypeError, ValueError):
        return None
    return costs if costs.ndim == 1 and costs.size >= 2 else None


def _check_model(candidate: Candidate, report: Report) -> None:
    X_train, Y_train, X_test, Y_test = model_data()
    (n_x, _), C = X_train.shape, Y_train.shape[0]
    label = f"model(X_train {X_train.shape}, {C} separable classes, {MODEL_SETTINGS['num_epochs']} epochs)"
    with tf.Graph().as_default():
        result = candidate(X_train, Y_train, X_test, Y_test, **MODEL_SETTINGS)
    parameters, history = result if isinstance(result, tuple) and len(result) == 2 else (result, None)
    if not isinstance(parameters, Mapping) or "W1" not in parameters:
        report.fail(f"{label}: expected the trained parameters (a dict with W1, b1, ...) or (parameters, "
                    f"history), got {kind(result)}", "return parameters = sess.run(parameters)")
        return
    if any(is_symbolic(value) for value in parameters.values()):
        report.fail(f"{label}: the parameters are tensors, not their trained values",
                    "parameters = sess.run(parameters) while the session is still open, then return them")
        return
    L = num_layers(parameters)
    for key, axis, size, what in (("W1", 1, n_x, f"{n_x} columns, one per row (feature) of X_train"),
                                  (f"W{L}", 0, C, f"{C} rows, one per row (class) of Y_train")):
        shape = np.shape(parameters.get(key))
        if len(shape) != 2 or shape[axis] != size:
            report.fail(f"{label}: {key} has shape {shape}; it needs {what}", MODEL_SHAPE_HINT)
    if report.failures:
        return
    costs = _costs(history)
    if costs is not None and not costs[-1] < costs[0]:
        report.fail(f"{label}: the cost did not fall: {costs[0]:.4g} after the first epoch, {costs[-1]:.4g} "
                    "after the last", "run the optimizer on every minibatch: _, minibatch_cost = "
                    "sess.run([optimizer, cost], feed_dict={X: minibatch_X, Y: minibatch_Y})")
    arrays = {key: np.asarray(value, dtype=np.float32) for key, value in parameters.items()}
    accuracy = float(np.mean(predict(X_train, arrays) == Y_train.argmax(axis=0)))
    if accuracy < MIN_TRAIN_ACCURACY:
        report.fail(f"{label}: train accuracy {accuracy:.2f} on data the reference fits perfectly (needs at "
                    f"least {MIN_TRAIN_ACCURACY:.2f})", "minimize the cost with v1.train.AdamOptimizer("
                    "learning_rate).minimize(cost) and run it for every minibatch of every epoch")


# ------------------------------------------------------------------ the exercises


@dataclass(frozen=True)
class Exercise:
    """How to check one exercise, and the hint shown when no more pointed one applies."""

    check: Callable[[Candidate, Report], None]
    hint: str


REFERENCES: dict[str, Candidate] = {
    "linear_function": basics.linear_function,
    "sigmoid": basics.sigmoid,
    "cost": basics.cost,
    "one_hot_matrix": basics.one_hot_matrix,
    "ones": basics.ones,
    "create_placeholders": COURSE["create_placeholders"],
    "initialize_parameters": COURSE["initialize_parameters"],
    "forward_propagation": COURSE["forward_propagation"],
    "forward_propagation_bn": _reference_bn,
    "compute_cost": COURSE["compute_cost"],
    "random_mini_batches": random_mini_batches,
    "sample_learning_rate": _tune_sampler("log"),
    "sample_beta": _tune_sampler("one-minus-log"),
    "model": _reference_model,
}

_EXERCISES: dict[str, Exercise] = {
    "linear_function": Exercise(
        _value_check(basics.linear_function, LINEAR_CASES, LINEAR_MISTAKES, axes=("rows", "columns")),
        "after np.random.seed(1) draw X (3, 1), W (4, 3), b (4, 1) with np.random.randn, make them "
        "tf.constant, Y = tf.add(tf.matmul(W, X), b), and return sess.run(Y)"),
    "sigmoid": Exercise(
        _value_check(basics.sigmoid, SIGMOID_CASES),
        "x = v1.placeholder(tf.float32, name='x'); sigmoid = tf.sigmoid(x); "
        "return sess.run(sigmoid, feed_dict={x: z})"),
    "cost": Exercise(
        _value_check(basics.cost, COST_CASES, COST_MISTAKES),
        "feed two placeholders z and y to tf.nn.sigmoid_cross_entropy_with_logits(logits=z, labels=y)"),
    "one_hot_matrix": Exercise(
        _value_check(basics.one_hot_matrix, ONE_HOT_CASES, ONE_HOT_MISTAKES, axes=("classes", "examples")),
        "tf.one_hot(labels, C, axis=0), then sess.run it: one column per example"),
    "ones": Exercise(_value_check(basics.ones, ONES_CASES), "return sess.run(tf.ones(shape))"),
    "create_placeholders": Exercise(_check_create_placeholders, PLACEHOLDER_HINT),
    "initialize_parameters": Exercise(
        _check_initialize_parameters,
        "for l in 1..L: W{l} (layer_dims[l], layer_dims[l-1]) with v1.glorot_uniform_initializer(seed=1), "
        "b{l} (layer_dims[l], 1) with v1.zeros_initializer(), both made by v1.get_variable"),
    "forward_propagation": Exercise(
        _value_check(COURSE["forward_propagation"], FORWARD_CASES, FORWARD_MISTAKES,
                     adapt=_on_constants, axes=("classes", "examples")),
        "Z1 = tf.matmul(W1, X) + b1, A1 = tf.nn.relu(Z1), ... and return Z3, the last LINEAR output"),
    "forward_propagation_bn": Exercise(
        _check_forward_propagation_bn,
        "hidden layer l: Z = W A; mu, var = tf.nn.moments(Z, axes=[1], keepdims=True) in training mode, "
        "moving_mean, moving_variance in test mode (tf.cond); Z_tilde = gamma (Z - mu) / sqrt(var + 1e-3) + "
        "beta; A = relu(Z_tilde); plus the moving-average updates in UPDATE_OPS"),
    "compute_cost": Exercise(
        _value_check(COURSE["compute_cost"], COMPUTE_COST_CASES, COMPUTE_COST_MISTAKES,
                     adapt=_on_constants),
        "tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(logits=tf.transpose(ZL), "
        "labels=tf.transpose(Y)))"),
    "random_mini_batches": Exercise(
        _value_check(random_mini_batches, MINIBATCH_CASES, MINIBATCH_MISTAKES, axes=("rows", "examples"),
                     levels=("minibatch", ("mini_batch_X", "mini_batch_Y")), exact=True),
        "np.random.seed(seed); permutation = list(np.random.permutation(m)); shuffle the columns of X and Y "
        "with it; cut floor(m / mini_batch_size) full minibatches, then one with the rest"),
    "sample_learning_rate": Exercise(
        _sampler_check(SAMPLINGS["sample_learning_rate"]),
        "r = np.random.uniform(log10(low), log10(high)); alpha = 10**r (size=n, after np.random.seed(seed))"),
    "sample_beta": Exercise(
        _sampler_check(SAMPLINGS["sample_beta"]),
        "sample 1 - beta on a log scale: r = np.random.uniform(log10(1 - high), log10(1 - low)); "
        "beta = 1 - 10**r (size=n, after np.random.seed(seed))"),
    "model": Exercise(
        _check_model,
        "build the graph from the data's shape, loop over epochs and random_mini_batches running "
        "[optimizer, cost], and return sess.run(parameters)"),
}
EXERCISES: tuple[str, ...] = tuple(_EXERCISES)


def _run_checks(exercise: Exercise, candidate: Any) -> Report:
    """Run an exercise's checks on a candidate; whatever goes wrong ends up in the report."""
    report = Report()
    if not callable(candidate):
        report.fail(f"expected a function, got {kind(candidate)}")
        return report
    try:
        exercise.check(_guard(candidate), report)
    except _Blank:
        return Report([BLANK])
    except _CandidateError as err:
        report.fail(f"raised {describe_error(err.error)}", error_hint(err.error))
    except tf.errors.OpError as err:
        report.fail(f"running the graph failed with {describe_error(err)}", error_hint(err))
    except Exception as err:
        report.fail(f"could not check the result ({describe_error(err)})", error_hint(err))
    return report


def grade(name: str, candidate: Candidate) -> bool:
    """Check exercise `name` and print "name: PASS", or "name: FAIL" with one line per failed
    check and a hint. Returns whether it passed; never raises because of the candidate."""
    if name not in _EXERCISES:
        raise ValueError(f"unknown exercise {name!r}; the exercises are {', '.join(EXERCISES)}")
    exercise = _EXERCISES[name]
    report = _run_checks(exercise, candidate)
    passed = not report.failures
    print(f"{name}: {'PASS' if passed else 'FAIL'}")
    for failure in report.failures:
        print(f"  {failure}")
    if not passed:
        print(f"hint: {report.hints[0] if report.hints else exercise.hint}")
    return passed


def grade_all(namespace: Mapping[str, Any]) -> dict[str, bool]:
    """Grade every exercise defined in `namespace` (a notebook's globals()), in lesson order."""
    results = {}
    for name in EXERCISES:
        if name in namespace:
            results[name] = grade(name, namespace[name])
        else:
            print(f"{name}: FAIL\n  not defined: run the cell that defines {name}\n"
                  f"hint: {_EXERCISES[name].hint}")
            results[name] = False
    print(f"{sum(results.values())} of {len(results)} exercises pass")
    return results
