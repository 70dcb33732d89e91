"""The TensorFlow assignment's exercises (notebooks/Exercises.ipynb), in lesson order: the warm-ups
(linear_function to ones), the data's preparation, the fully connected network's placeholders,
parameters, forward pass (with batch norm too), cost and minibatches, the search's two samplers, and
the whole model; with the checks that run their graphs. tfsigns.grading.grader grades them.

Each exercise is checked against the reference: the course network's own function of that name
(tfsigns.networks.mlp) or a warm-up of tfsigns.course.basics; its inputs and typical mistakes are in
tfsigns.grading.mistakes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np

from tfsigns.backend import tf
from tfsigns.course import basics
from tfsigns.grading.answers import evaluated, on_constants
from tfsigns.grading.checks import (
    Assignment,
    Candidate,
    Exercise,
    Report,
    check_draw,
    compare,
    initial_values,
    placeholder_check,
    value_check,
)
from tfsigns.grading.child import batch_norm_outputs, with_its_feeds
from tfsigns.grading.feedback import difference
from tfsigns.grading.mistakes import (
    COMPUTE_COST_MISTAKES,
    COST_CASES,
    COST_MISTAKES,
    DATASET_MISTAKES,
    FORWARD_MISTAKES,
    INIT_RULES,
    LAYER_DIMS,
    LINEAR_CASES,
    LINEAR_MISTAKES,
    MINIBATCH_MISTAKES,
    ONE_HOT_MISTAKES,
    ONES_CASES,
    PLACEHOLDER_SIZES,
    SIGMOID_CASES,
    SIGMOID_MISTAKES,
    Mistake,
    bn_inputs,
    compute_cost_cases,
    dataset_cases,
    forward_cases,
    minibatch_cases,
    minibatches_unpaired,
    model_data,
    momentum_flipped,
    one_hot_cases,
)
from tfsigns.grading.models import ModelGrading, model_check
from tfsigns.grading.sampling import SAMPLINGS, sampler_check
from tfsigns.images.signs import convert_to_one_hot, flatten_and_normalize, random_mini_batches
from tfsigns.networks import get_network
from tfsigns.networks.mlp import num_layers
from tfsigns.search.space import Dimension
from tfsigns.training.trainer import model

# The reference solutions: the course network's own functions, by their lesson names.
COURSE = get_network("mlp").course_functions


# ------------------------------------------------------------------ graph-building exercises


def _mlp_axes(key: str) -> tuple[str, str]:
    l = int(key[1:])
    return f"units in layer {l}", f"units in layer {l - 1}" if key[0] == "W" else "columns"


def _check_initialize_parameters(candidate: Candidate, report: Report) -> None:
    for dims in LAYER_DIMS:
        expected = {f"{p}{l}": (dims[l], dims[l - 1] if p == "W" else 1)
                    for l in range(1, len(dims)) for p in "Wb"}
        label = f"initialize_parameters({list(dims)})"
        values = initial_values(report, label, evaluated(candidate)(list(dims)), expected, _mlp_axes,
                                 INIT_RULES)
        if values is not None and not report.failures:
            check_draw(report, label, values, evaluated(COURSE["initialize_parameters"])(list(dims)), 1,
                        INIT_RULES[0][3])


PLACEHOLDER_HINT = ("a float32 placeholder named 'X' with n_x rows and None columns, and one named 'Y' with "
                    "n_y rows: one column per example, None leaves the number of examples open")
BN_MOMENTUM = 0.99
UPDATE_OPS_HINT = ("for moving_mean and moving_variance make an assign op of 0.99 times the old value plus "
                   "0.01 times the minibatch's statistic, and add it to the collection "
                   "tf.compat.v1.GraphKeys.UPDATE_OPS (v1.add_to_collection); the train op runs that "
                   "collection under tf.control_dependencies")


def _reference_bn(X: tf.Tensor, parameters: dict, training: tf.Tensor) -> tf.Tensor:
    """The batch-norm forward pass with the notebook's signature."""
    return COURSE["forward_propagation"](X, parameters, batch_norm=True, training=training)


def _check_forward_propagation_bn(candidate: Candidate, report: Report) -> None:
    X, params = bn_inputs()
    expected, _ = batch_norm_outputs(_reference_bn)(X, params)
    got, n_updates = batch_norm_outputs(candidate)(X, params)
    modes = (("training", "test", "mu and sigma^2 of the minibatch in training mode"),
             ("test", "training", "moving_mean and moving_variance in test mode"))
    for mode, other, right in modes:
        mistake = Mistake(f"the {mode} mode looks like the {other} mode",
                          f"use {right}: tf.cond(training, lambda: (batch_mean, batch_var), "
                          "lambda: (moving_mean, moving_var))", lambda other=other: expected[other])
        compare(report, f"forward_propagation_bn(X, parameters, training={mode == 'training'})",
                expected[mode], got[mode], (mistake, *_bn_mistakes(X, params, mode == "training")),
                axes=("classes", "examples"))
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
        compare(report, f"moving averages after running UPDATE_OPS once ({BN_MOMENTUM:g} * old + "
                f"{1 - BN_MOMENTUM:g} * batch)", expected["moving"], got["moving"], (flipped,),
                axes=("units", "columns"))


def np_batch_norm_forward(X: np.ndarray, parameters: dict, training: bool, axis: int = 1,
                          epsilon: float = 1e-3) -> np.ndarray:
    """forward_propagation_bn in NumPy, its batch statistics over `axis` (1: over the examples, as the lesson
    has it) and its `epsilon` switchable."""
    L = sum(key.startswith("W") for key in parameters)
    A = X.astype(float)
    for l in range(1, L):
        Z = parameters[f"W{l}"] @ A
        mean, variance = ((Z.mean(axis=axis, keepdims=True), Z.var(axis=axis, keepdims=True)) if training else
                          (parameters[f"moving_mean{l}"], parameters[f"moving_variance{l}"]))
        normalized = (Z - mean) / np.sqrt(variance + epsilon)
        A = np.maximum(0, parameters[f"gamma{l}"] * normalized + parameters[f"beta{l}"])
    return parameters[f"W{L}"] @ A + parameters[f"b{L}"]


BN_AXIS_HINT = ("batch norm's mean and variance are one per unit, over the minibatch's examples: "
                "tf.nn.moments over axis 1 of (units, examples), keepdims=True")
BN_EPSILON = 1e-3


def _bn_mistakes(X: np.ndarray, params: dict, training: bool) -> tuple[Mistake, ...]:
    """A batch-norm forward pass's statistics over the wrong axis (training mode), or another epsilon."""
    axis = (Mistake("the mean and variance were taken over axis 0, each example's units, not over the "
                    "examples", BN_AXIS_HINT, lambda: np_batch_norm_forward(X, params, True, axis=0)),)
    return (*(axis if training else ()), *(  # below 1e-5, an epsilon changes nothing these cases show
        Mistake(f"epsilon {said}, where the lesson's is {BN_EPSILON:g}: sqrt(variance + epsilon)",
                f"the lesson's epsilon, {BN_EPSILON:g}, under the square root with the variance",
                lambda epsilon=epsilon: np_batch_norm_forward(X, params, training, epsilon=epsilon))
        for epsilon, said in ((1e-5, "of 1e-05 or less"), (1e-4, "1e-04"), (1e-2, "0.01"), (1e-1, "0.1"))))


def _moments_over_examples(text: str) -> str | None:
    """A moving average assigned a statistic of another shape: the moments were taken per example."""
    if "Cannot assign value to variable" in text and "moving_" in text:
        return ("the minibatch's statistics came out one per example, which the moving averages cannot take: "
                "moments over axis 0, each example's units; " + BN_AXIS_HINT)
    return None


# ------------------------------------------------------------------ hyperparameter sampling


def _tune_sampler(scale: str) -> Candidate:
    """Reference sampler: n draws of tfsigns.search.space.Dimension on `scale`."""
    def sample(low: float, high: float, n: int, seed: int) -> np.ndarray:
        dimension, rng = Dimension("sampled", scale, low, high), np.random.default_rng(seed)
        return np.array([dimension.sample(rng) for _ in range(n)])
    return sample


# ------------------------------------------------------------------ the whole model


def _reference_model(X_train: np.ndarray, Y_train: np.ndarray, X_test: np.ndarray, Y_test: np.ndarray,
                     learning_rate: float = 0.0001, num_epochs: int = 1500, minibatch_size: int = 32,
                     print_cost: bool = True) -> tuple[dict, Any]:
    """tfsigns.training.trainer.model with the notebook's signature."""
    return model(X_train, Y_train, X_test, Y_test, learning_rate, num_epochs, minibatch_size, print_cost)


def _mlp_shape_problems(parameters: Mapping, X_train: np.ndarray, Y_train: np.ndarray) -> list[str]:
    """W1 must take X_train's n_x features, the last W give Y_train's C classes."""
    (n_x, _), C, L = X_train.shape, Y_train.shape[0], num_layers(parameters)
    return [f"{key} has shape {shape}; it needs {what}"
            for key, axis, size, what in (("W1", 1, n_x, f"{n_x} columns, one per row (feature) of X_train"),
                                          (f"W{L}", 0, C, f"{C} rows, one per row (class) of Y_train"))
            if len(shape := np.shape(parameters.get(key))) != 2 or shape[axis] != size]


MLP_MODEL = ModelGrading(
    model_data, {"learning_rate": 0.01, "num_epochs": 25, "minibatch_size": 32, "print_cost": False},
    _mlp_shape_problems, "take n_x from X_train's rows and n_y from Y_train's: the layers are [n_x, 25, 12, "
    "n_y]")


# ------------------------------------------------------------------ the exercises


MATMUL_HINT = ("check the shapes: W[l] is (n_l, n_{l-1}) and A[l-1] is (n_{l-1}, m), "
               "so tf.matmul takes W[l] first, then A[l-1]")
MLP_MATMUL_HINTS = (("Matrix size-incompatible", MATMUL_HINT), ("Dimensions must be equal", MATMUL_HINT))
MLP_ERROR_HINTS = (  # the fully connected course's: examples as columns, parameters W1, b1, ...
    ("Cannot feed value of shape", "build the graph from the data: n_x is X_train.shape[0] and n_y "
     "Y_train.shape[0], with placeholders of shape [n_x, None] and [n_y, None]"),
    ("KeyError", "parameters names its entries W1, b1, W2, ... (with batch norm: gamma1, beta1, "
     "moving_mean1, moving_variance1 instead of b1 in the hidden layers)"),
)

def _prepare_dataset(X_orig: np.ndarray, Y_orig: np.ndarray, C: int) -> tuple[np.ndarray, np.ndarray]:
    """SIGNS as load_dataset returns it -> X (n_x, m) in [0, 1], one image per column, and Y (C, m)."""
    return flatten_and_normalize(X_orig), convert_to_one_hot(Y_orig, C)


REFERENCES: dict[str, Candidate] = {
    "linear_function": basics.linear_function,
    "sigmoid": basics.sigmoid,
    "cost": basics.cost,
    "one_hot_matrix": basics.one_hot_matrix,
    "ones": basics.ones,
    "prepare_dataset": _prepare_dataset,
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
        value_check(basics.linear_function, LINEAR_CASES, LINEAR_MISTAKES, axes=("rows", "columns")),
        "seed NumPy with 1 and draw X, then W, then b with np.random.randn (in that order, in the shapes "
        "the notebook gives); as constants in a graph they make W X + b, which a session evaluates"),
    "sigmoid": Exercise(
        value_check(basics.sigmoid, SIGMOID_CASES, SIGMOID_MISTAKES),
        "feed z to a float32 placeholder, apply tf.sigmoid to it, and evaluate that in a session"),
    "cost": Exercise(
        value_check(basics.cost, COST_CASES, COST_MISTAKES),
        "two placeholders, for the logits and the labels, given to "
        "tf.nn.sigmoid_cross_entropy_with_logits by keyword, evaluated in a session"),
    "one_hot_matrix": Exercise(
        value_check(basics.one_hot_matrix, one_hot_cases, ONE_HOT_MISTAKES, axes=("classes", "examples")),
        "tf.one_hot makes the matrix, and its axis argument decides where the classes go: one column per "
        "example here; evaluate it in a session"),
    "ones": Exercise(value_check(basics.ones, ONES_CASES),
                     "tf.ones of the shape given, evaluated in a session"),
    "prepare_dataset": Exercise(
        value_check(_prepare_dataset, dataset_cases, DATASET_MISTAKES, axes=("rows", "examples"),
                    levels=(("X", "Y"),)),
        "flatten each image into one column of X, scale the pixels into [0, 1], and make Y one-hot with one "
        "column per example, as the network's input and labels"),
    "create_placeholders": Exercise(
        placeholder_check(PLACEHOLDER_SIZES, lambda n_x, n_y: ((n_x, None), (n_y, None)),
                          (("features", "examples"), ("classes", "examples")), PLACEHOLDER_HINT),
        "two float32 placeholders named X and Y with one column per example, the number of examples left "
        "open (None)"),
    "initialize_parameters": Exercise(
        _check_initialize_parameters,
        "for each layer l, made with v1.get_variable: a weight W{l} of layer_dims[l] rows and "
        "layer_dims[l-1] columns from the Glorot/Xavier initializer (seed 1), and a bias b{l}, one column "
        "of zeros"),
    "forward_propagation": Exercise(
        value_check(COURSE["forward_propagation"], forward_cases, FORWARD_MISTAKES,
                    adapt=on_constants, axes=("classes", "examples")),
        "LINEAR (tf.matmul of W and the layer's input, plus b) then RELU in each hidden layer, LINEAR alone "
        "in the last: return that output, with no softmax", error_hints=MLP_MATMUL_HINTS),
    "forward_propagation_bn": Exercise(
        _check_forward_propagation_bn,
        "in each hidden layer normalize W A over the examples, by the minibatch's mean and variance in "
        "training mode and by the moving averages in test mode (tf.cond on training), scale by gamma, shift "
        "by beta, then RELU; the moving averages' updates go into UPDATE_OPS", points=2,
        error_hints=(("Cannot assign value to variable", _moments_over_examples), *MLP_MATMUL_HINTS)),
    "compute_cost": Exercise(
        value_check(COURSE["compute_cost"], compute_cost_cases, COMPUTE_COST_MISTAKES, adapt=on_constants),
        "tf.nn.softmax_cross_entropy_with_logits wants one row per example, and the cost is the mean of its "
        "losses over the examples: look at the shapes of ZL and Y",
        error_hints=(("Dimensions must be equal", "logits and labels must have one shape: transpose both, "
                      "logits=tf.transpose(ZL) and labels=tf.transpose(Y), not one of them"),)),
    "random_mini_batches": Exercise(
        value_check(random_mini_batches, minibatch_cases, MINIBATCH_MISTAKES, axes=("rows", "examples"),
                    levels=("minibatch", ("mini_batch_X", "mini_batch_Y")), exact=True,
                    diagnose=minibatches_unpaired),
        "seed NumPy with seed, shuffle the columns of X and Y by one permutation, cut it into full "
        "minibatches of mini_batch_size columns, then one more with the columns left over"),
    "sample_learning_rate": Exercise(
        sampler_check(SAMPLINGS["sample_learning_rate"]),
        "draw n exponents r uniformly between log10(low) and log10(high), NumPy seeded with seed; a "
        "learning rate is 10 to the power r"),
    "sample_beta": Exercise(
        sampler_check(SAMPLINGS["sample_beta"]),
        "sample 1 - beta on a log scale: n exponents r uniform between log10(1 - high) and log10(1 - low), "
        "NumPy seeded with seed; beta is 1 - 10 to the power r"),
    "model": Exercise(
        model_check(MLP_MODEL, with_its_feeds),
        "build the graph from the data's shapes (placeholders, parameters, forward pass, cost, Adam), run "
        "the optimizer on every minibatch of every epoch, and return the trained parameters' values",
        points=3, seconds=120.0, helpers={**{name: f"tfsigns.networks.mlp:{name}" for name in COURSE},
                           "random_mini_batches": "tfsigns.images.signs:random_mini_batches"}),
}
# Every exercise is about TensorFlow but the data's preparation, the minibatches and the samplers (NumPy),
# so an answer in NumPy alone fails them, as it fails the CNN's.
_EXERCISES = {name: replace(exercise, tensorflow=name not in (
    "prepare_dataset", "random_mini_batches", "sample_learning_rate", "sample_beta"))
    for name, exercise in _EXERCISES.items()}
EXERCISES: tuple[str, ...] = tuple(_EXERCISES)
TENSORFLOW = Assignment(_EXERCISES, REFERENCES, MLP_ERROR_HINTS)
