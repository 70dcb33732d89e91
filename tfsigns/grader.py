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

Here live the checks that run graphs, the exercises and grade(); how a candidate is run and
compared is in tfsigns.checks, the inputs and the typical mistakes in tfsigns.mistakes and
tfsigns.mistakes_cnn, the wording of differences and errors in tfsigns.feedback.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from tfsigns import basics, cnn, mistakes_cnn
from tfsigns.answers import adapter, evaluated, graph_of, on_constants
from tfsigns.backend import tf, v1
from tfsigns.checks import (
    Assignment,
    Candidate,
    Exercise,
    ModelGrading,
    Report,
    compare,
    model_check,
    placeholder_check,
    run_checks,
    sampler_check,
    value_check,
)
from tfsigns.config import TrainConfig
from tfsigns.convolution import (
    conv_backward,
    conv_forward,
    conv_single_step,
    create_mask_from_window,
    distribute_value,
    pool_backward,
    pool_forward,
    zero_pad,
)
from tfsigns.data import convert_to_one_hot, flatten_and_normalize, random_mini_batches
from tfsigns.feedback import difference, kind, shape_message
from tfsigns.mistakes import (
    CASE_SEED,
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
    ONE_HOT_CASES,
    ONE_HOT_MISTAKES,
    ONES_CASES,
    PLACEHOLDER_SIZES,
    SAMPLINGS,
    SIGMOID_CASES,
    Mistake,
    bn_inputs,
    compute_cost_cases,
    dataset_cases,
    forward_cases,
    glorot_bound,
    minibatch_cases,
    model_data,
    momentum_flipped,
)
from tfsigns.mlp import num_layers
from tfsigns.networks import get_network
from tfsigns.space import Dimension
from tfsigns.trainer import cnn_model, model

# The reference solutions: each course network's own functions, by their lesson names.
COURSE = get_network("mlp").course_functions
CNN_COURSE = get_network("cnn").course_functions


# ------------------------------------------------------------------ graph-building exercises


def _initial_values(report: Report, label: str, values: Any, expected: Mapping[str, tuple[int, ...]],
                    axes: Callable[[str], Sequence[str]], rules: Sequence) -> dict[str, np.ndarray] | None:
    """The initial values of parameters (as `evaluated` returns them), with a failure for each missing
    key, wrong shape or broken rule (tfsigns.mistakes.init_rules); None when none can be read."""
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


def _mlp_axes(key: str) -> tuple[str, str]:
    l = int(key[1:])
    return f"units in layer {l}", f"units in layer {l - 1}" if key[0] == "W" else "columns"


def _check_draw(report: Report, label: str, values: Mapping, reference: Mapping, seed: int,
                hint: str) -> None:
    """A failure for each weight that is not the draw of the Glorot initializer with the lesson's seed
    (both courses fix it, so that a learner's costs can be compared with the notebook's)."""
    for key in (key for key in reference if key.startswith("W")):
        if difference(reference[key], values[key]) is not None:
            report.fail(f"{label}: {key} is not the draw of v1.glorot_uniform_initializer(seed={seed}) "
                        f"(first values {np.ravel(values[key])[:3].round(4).tolist()}, expected "
                        f"{np.ravel(reference[key])[:3].round(4).tolist()})", hint)


def _check_initialize_parameters(candidate: Candidate, report: Report) -> None:
    for dims in LAYER_DIMS:
        expected = {f"{p}{l}": (dims[l], dims[l - 1] if p == "W" else 1)
                    for l in range(1, len(dims)) for p in "Wb"}
        label = f"initialize_parameters({list(dims)})"
        values = _initial_values(report, label, evaluated(candidate)(list(dims)), expected, _mlp_axes,
                                 INIT_RULES)
        if values is not None and not report.failures:
            _check_draw(report, label, values, evaluated(COURSE["initialize_parameters"])(list(dims)), 1,
                        INIT_RULES[0][3])


FILTER_AXES = ("rows", "columns", "channels", "filters")
CNN_AXES = {"W1": FILTER_AXES, "W2": FILTER_AXES, "W3": ("features", "classes"), "b3": ("classes",)}


def _check_cnn_initialize_parameters(candidate: Candidate, report: Report) -> None:
    label = "initialize_parameters()"
    values = _initial_values(report, label, evaluated(candidate)(), cnn.parameter_shapes(), CNN_AXES.get,
                             mistakes_cnn.INIT_RULES)
    if values is None or report.failures:
        return
    reference = evaluated(CNN_COURSE["initialize_parameters"])()
    _check_draw(report, label, values, {key: reference[key] for key in ("W1", "W2")}, 0,
                mistakes_cnn.INIT_HINT)


PLACEHOLDER_HINT = ("X = v1.placeholder(tf.float32, shape=[n_x, None], name='X'), Y likewise with n_y: "
                    "one column per example, None leaves the number of examples open")
BN_MOMENTUM = 0.99
UPDATE_OPS_HINT = ("for moving_mean and moving_variance make op = moving.assign(0.99 * moving + "
                   "0.01 * batch_stat) and v1.add_to_collection(tf.compat.v1.GraphKeys.UPDATE_OPS, op); "
                   "the train op runs them under "
                   "tf.control_dependencies(v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS))")


def _reference_bn(X: tf.Tensor, parameters: dict, training: tf.Tensor) -> tf.Tensor:
    """The batch-norm forward pass with the notebook's signature."""
    return COURSE["forward_propagation"](X, parameters, batch_norm=True, training=training)


@adapter
def _run_bn(fn: Candidate) -> Callable[[np.ndarray, dict], tuple[dict, int]]:
    """Outputs of fn in training and test mode, then the moving averages after running UPDATE_OPS
    once; and how many update ops fn added."""
    return lambda X, params: _bn_outputs(fn, X, params)


def _bn_outputs(fn: Candidate, X: np.ndarray, params: dict) -> tuple[dict, int]:
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
    expected, _ = _run_bn(_reference_bn)(X, params)
    got, n_updates = _run_bn(candidate)(X, params)
    modes = (("training", "test", "mu and sigma^2 of the minibatch in training mode"),
             ("test", "training", "moving_mean and moving_variance in test mode"))
    for mode, other, right in modes:
        mistake = Mistake(f"the {mode} mode looks like the {other} mode",
                          f"use {right}: tf.cond(training, lambda: (batch_mean, batch_var), "
                          "lambda: (moving_mean, moving_var))", lambda other=other: expected[other])
        compare(report, f"forward_propagation_bn(X, parameters, training={mode == 'training'})",
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
        compare(report, f"moving averages after running UPDATE_OPS once ({BN_MOMENTUM:g} * old + "
                f"{1 - BN_MOMENTUM:g} * batch)", expected["moving"], got["moving"], (flipped,),
                axes=("units", "columns"))


# ------------------------------------------------------------------ hyperparameter sampling


def _tune_sampler(scale: str) -> Candidate:
    """Reference sampler: n draws of tfsigns.space.Dimension on `scale`."""
    def sample(low: float, high: float, n: int, seed: int) -> np.ndarray:
        dimension, rng = Dimension("sampled", scale, low, high), np.random.default_rng(seed)
        return np.array([dimension.sample(rng) for _ in range(n)])
    return sample


# ------------------------------------------------------------------ the CNN's forward pass


CNN_FORWARD_VALUES = value_check(
    CNN_COURSE["forward_propagation"], mistakes_cnn.forward_cases,
    tuple(replace(m, wrong=on_constants(m.wrong)) for m in mistakes_cnn.FORWARD_MISTAKES),
    adapt=on_constants, axes=("examples", "classes"))


def _check_cnn_forward(candidate: Candidate, report: Report) -> None:
    """The layers as built first (a structural slip mostly makes TensorFlow raise, or gives no wrong
    value on these sizes), then the logits."""
    case = mistakes_cnn.forward_cases()[0]
    args = case.args
    expected, _ = graph_of(CNN_COURSE["forward_propagation"])(*args)
    got, error = graph_of(candidate)(*args)
    problems = mistakes_cnn.structure_problems(expected, got, raised=error is not None)
    for what, hint in problems:
        report.fail(f"{case.label}: {what}", hint)
    if error and not problems:
        raise error
    if not problems:
        CNN_FORWARD_VALUES(candidate, report)


# ------------------------------------------------------------------ the whole model


def _reference_model(X_train: np.ndarray, Y_train: np.ndarray, X_test: np.ndarray, Y_test: np.ndarray,
                     learning_rate: float = 0.0001, num_epochs: int = 1500, minibatch_size: int = 32,
                     print_cost: bool = True) -> tuple[dict, Any]:
    """tfsigns.trainer.model with the notebook's signature."""
    return model(X_train, Y_train, X_test, Y_test, learning_rate, num_epochs, minibatch_size, print_cost)


def _mlp_shape_problems(parameters: Mapping, X_train: np.ndarray, Y_train: np.ndarray) -> list[str]:
    """W1 must take X_train's n_x features, the last W give Y_train's C classes."""
    (n_x, _), C, L = X_train.shape, Y_train.shape[0], num_layers(parameters)
    return [f"{key} has shape {shape}; it needs {what}"
            for key, axis, size, what in (("W1", 1, n_x, f"{n_x} columns, one per row (feature) of X_train"),
                                          (f"W{L}", 0, C, f"{C} rows, one per row (class) of Y_train"))
            if len(shape := np.shape(parameters.get(key))) != 2 or shape[axis] != size]


def _cnn_shape_problems(parameters: Mapping, X_train: np.ndarray, Y_train: np.ndarray) -> list[str]:
    """Every parameter of the course CNN for X_train's images and Y_train's classes, in its shape."""
    expected = cnn.parameter_shapes(X_train.shape[1:], Y_train.shape[1])
    return [f"{key}: {shape_message(shape, np.shape(parameters[key]), CNN_AXES[key])}" if key in parameters
            else f"{key} is missing" for key, shape in expected.items()
            if np.shape(parameters.get(key)) != shape]


MLP_MODEL = ModelGrading(
    model_data, {"learning_rate": 0.01, "num_epochs": 25, "minibatch_size": 32, "print_cost": False},
    _mlp_shape_problems, "n_x, m = X_train.shape; n_y = Y_train.shape[0]; layer_dims = [n_x, 25, 12, n_y]")
CNN_MODEL = ModelGrading(
    mistakes_cnn.model_data,
    {"learning_rate": 0.009, "num_epochs": 8, "minibatch_size": 16, "print_cost": False}, _cnn_shape_problems,
    "(m, n_H0, n_W0, n_C0) = X_train.shape; n_y = Y_train.shape[1]; placeholders of those sizes, "
    "parameters = initialize_parameters()", TrainConfig(arch="cnn"))


# ------------------------------------------------------------------ the exercises


MATMUL_HINT = ("check the shapes: W[l] is (n_l, n_{l-1}) and A[l-1] is (n_{l-1}, m), "
               "so Z[l] = tf.matmul(W[l], A[l-1]) + b[l], in that order")
MLP_MATMUL_HINTS = (("Matrix size-incompatible", MATMUL_HINT), ("Dimensions must be equal", MATMUL_HINT))
MLP_ERROR_HINTS = (  # the fully connected course's: examples as columns, parameters W1, b1, ...
    ("Cannot feed value of shape", "build the graph from the data: n_x, m = X_train.shape and "
     "n_y = Y_train.shape[0], with placeholders of shape [n_x, None] and [n_y, None]"),
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
        value_check(basics.sigmoid, SIGMOID_CASES),
        "feed z to a float32 placeholder, apply tf.sigmoid to it, and evaluate that in a session"),
    "cost": Exercise(
        value_check(basics.cost, COST_CASES, COST_MISTAKES),
        "two placeholders, for the logits and the labels, given to "
        "tf.nn.sigmoid_cross_entropy_with_logits by keyword, evaluated in a session"),
    "one_hot_matrix": Exercise(
        value_check(basics.one_hot_matrix, ONE_HOT_CASES, ONE_HOT_MISTAKES, axes=("classes", "examples")),
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
        error_hints=MLP_MATMUL_HINTS),
    "compute_cost": Exercise(
        value_check(COURSE["compute_cost"], compute_cost_cases, COMPUTE_COST_MISTAKES, adapt=on_constants),
        "tf.nn.softmax_cross_entropy_with_logits wants one row per example, and the cost is the mean of its "
        "losses over the examples: look at the shapes of ZL and Y",
        error_hints=(("Dimensions must be equal", "logits and labels must have one shape: transpose both, "
                      "logits=tf.transpose(ZL) and labels=tf.transpose(Y), not one of them"),)),
    "random_mini_batches": Exercise(
        value_check(random_mini_batches, minibatch_cases, MINIBATCH_MISTAKES, axes=("rows", "examples"),
                    levels=("minibatch", ("mini_batch_X", "mini_batch_Y")), exact=True),
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
        model_check(MLP_MODEL),
        "build the graph from the data's shapes (placeholders, parameters, forward pass, cost, Adam), run "
        "the optimizer on every minibatch of every epoch, and return the trained parameters' values",
        points=3),
}
# Every exercise is about TensorFlow but the data's preparation, the minibatches and the samplers (NumPy),
# so an answer in NumPy alone fails them, as it fails the CNN's.
_EXERCISES = {name: replace(exercise, tensorflow=name not in (
    "prepare_dataset", "random_mini_batches", "sample_learning_rate", "sample_beta"))
    for name, exercise in _EXERCISES.items()}
EXERCISES: tuple[str, ...] = tuple(_EXERCISES)

STEP = mistakes_cnn  # the step by step's inputs and mistakes
STEP_BY_STEP = Assignment(
    {"zero_pad": Exercise(
        value_check(zero_pad, STEP.zero_pad_cases, STEP.ZERO_PAD_MISTAKES, axes=STEP.IMAGE_AXES),
        "np.pad with one (before, after) pair for each of X's 4 axes: zeros around the height and the "
        "width only",
        error_hints=(("could not be broadcast", "np.pad wants one (before, after) pair for each of X's 4 "
                      "axes (examples, height, width, channels): (0, 0) for the examples and channels, "
                      "(pad, pad) for the height and width"),)),
     "conv_single_step": Exercise(
        value_check(conv_single_step, STEP.conv_single_step_cases, STEP.CONV_SINGLE_STEP_MISTAKES),
        "multiply the slice and the filter element by element, sum it all, and add the bias as a number"),
     "conv_forward": Exercise(
        value_check(conv_forward, STEP.conv_cases, STEP.CONV_MISTAKES, axes=STEP.IMAGE_AXES,
                    levels=(("Z", "cache"), ("A_prev", "W", "b", "hparameters"))),
        "pad A_prev; for every example, output position and filter, take the f x f slice at the strided "
        "position and convolve it with that filter and its bias (conv_single_step); return Z and the cache",
        points=2, error_hints=(("could not be broadcast", STEP.conv_broadcast_hint),)),
     "pool_forward": Exercise(
        value_check(pool_forward, STEP.pool_cases, STEP.POOL_MISTAKES, axes=STEP.IMAGE_AXES,
                    levels=(("A", "cache"), ("A_prev", "hparameters"))),
        "for every example, output position and channel, the max or the mean of the f x f window at the "
        "strided position; the output is smaller by the window and divided by the stride; return A and the "
        "cache", error_hints=(("zero-size array", STEP.EMPTY_WINDOW_HINT),)),
     "create_mask_from_window": Exercise(
        value_check(create_mask_from_window, STEP.mask_cases, STEP.MASK_MISTAKES, exact=True),
        "True where the window holds its largest value, False elsewhere: an array of the window's shape"),
     "distribute_value": Exercise(
        value_check(distribute_value, STEP.distribute_cases, STEP.DISTRIBUTE_MISTAKES),
        "an array of the given shape, every entry the same share of dz: each input counted that much in the "
        "mean"),
     "pool_backward": Exercise(
        value_check(STEP.pool_gradient, STEP.pool_backward_cases, STEP.POOL_BACKWARD_MISTAKES,
                    axes=STEP.IMAGE_AXES),
        "dA_prev of A_prev's shape, zeros; for every example, output position and channel, add that "
        "output's gradient to its window: through the mask of the max (mode max), or spread evenly "
        "(average)", points=2),
     "conv_backward": Exercise(
        value_check(STEP.conv_gradients, STEP.conv_backward_cases, STEP.CONV_BACKWARD_MISTAKES,
                    axes=STEP.IMAGE_AXES, levels=(("dA_prev", "dW", "db"),)),
        "pad A_prev and a dA_prev of zeros alike; for every example, position and filter, the output's "
        "gradient goes back to its window through the filter (dA_prev), to the filter through the window "
        "(dW), and to the bias (db); take the padding off dA_prev at the end", points=2)},
    {"zero_pad": zero_pad, "conv_single_step": conv_single_step, "conv_forward": conv_forward,
     "pool_forward": pool_forward, "create_mask_from_window": create_mask_from_window,
     "distribute_value": distribute_value, "pool_backward": pool_backward, "conv_backward": conv_backward},
    mistakes_cnn.STEP_ERROR_HINTS)

CNN_PLACEHOLDER_HINT = ("X = v1.placeholder(tf.float32, shape=[None, n_H0, n_W0, n_C0], name='X'), Y = "
                        "v1.placeholder(tf.float32, shape=[None, n_y], name='Y'): one row per example, None "
                        "leaves the number of examples open")
APPLICATION = Assignment(
    {name: replace(exercise, tensorflow=True) for name, exercise in {"create_placeholders": Exercise(
        placeholder_check(mistakes_cnn.PLACEHOLDER_SIZES, lambda h, w, c, n_y: ((None, h, w, c), (None, n_y)),
                          (mistakes_cnn.IMAGE_AXES, ("examples", "classes")), CNN_PLACEHOLDER_HINT),
        "two float32 placeholders named X and Y with one row per example, the number of examples left open "
        "(None)"),
     "initialize_parameters": Exercise(
        _check_cnn_initialize_parameters,
        "the two filters W1 and W2 from the Glorot/Xavier initializer (seed 0), and the fully connected "
        "layer's W3 (Glorot/Xavier) and b3 (zeros), each made with v1.get_variable in the shapes the "
        "notebook gives"),
     "forward_propagation": Exercise(
        _check_cnn_forward,
        "CONV2D (stride 1, SAME) -> RELU -> MAXPOOL (an 8x8 window moving by 8, SAME), then the same with W2 "
        "and a 4x4 pool, FLATTEN, and the fully connected layer W3, b3 without an activation"),
     "compute_cost": Exercise(
        value_check(CNN_COURSE["compute_cost"], mistakes_cnn.compute_cost_cases,
                    mistakes_cnn.COMPUTE_COST_MISTAKES, adapt=on_constants),
        "tf.nn.softmax_cross_entropy_with_logits wants one row per example, as Z3 and Y have; the cost is "
        "the mean of its losses over the examples",
        error_hints=(("Dimensions must be equal", "logits and labels must have one shape, (m, C): pass Z3 "
                      "and Y as they are, both with one row per example"),)),
     "model": Exercise(
        model_check(CNN_MODEL),
        "placeholders from the data's shapes, the parameters, the forward pass, the cost and Adam; run the "
        "optimizer on every minibatch of every epoch and return the trained parameters' values",
        points=3, error_hints=mistakes_cnn.MODEL_ERROR_HINTS)}.items()},
    {**CNN_COURSE, "model": cnn_model},
    mistakes_cnn.APPLICATION_ERROR_HINTS)

ASSIGNMENTS: dict[str, Assignment] = {
    "tensorflow": Assignment(_EXERCISES, REFERENCES, MLP_ERROR_HINTS),
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
    exercises = _assignment(assignment).exercises
    if name not in exercises:
        raise ValueError(f"unknown exercise {name!r} in assignment {assignment!r}; its exercises are "
                         f"{', '.join(exercises)}")
    exercise = exercises[name]
    drawn = CASE_SEED.set(seed)
    try:
        report = run_checks(name, candidate, ASSIGNMENTS[assignment])
    finally:
        CASE_SEED.reset(drawn)
    passed = not report.failures
    lines = [f"{name}: {'PASS' if passed else 'FAIL'}", *(f"  {failure}" for failure in report.failures)]
    if not passed:
        lines.append(f"hint: {report.hints[0] if report.hints else exercise.hint}")
    return passed, lines


def grade(name: str, candidate: Candidate, assignment: str = "tensorflow") -> bool:
    """Check exercise `name` of `assignment` and print "name: PASS", or "name: FAIL" with one line per
    failed check and a hint. Returns whether it passed; never raises because of the candidate."""
    passed, lines = grade_lines(name, candidate, assignment)
    print("\n".join(lines))
    return passed


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


def grade_all(namespace: Mapping[str, Any], assignment: str | None = None) -> dict[str, bool]:
    """Grade every exercise of `assignment` (default: the assignments of the notebook whose globals()
    `namespace` is) in lesson order, an exercise the namespace does not define as a FAIL."""
    results = {}
    for each in (assignment,) if assignment else notebook_assignments(namespace):
        for name, exercise in _assignment(each).exercises.items():
            if name in namespace:
                results[name] = grade(name, namespace[name], each)
            else:
                print(f"{name}: FAIL\n  not defined: run the cell that defines {name}\nhint: {exercise.hint}")
                results[name] = False
    print(f"{sum(results.values())} of {len(results)} exercises pass")
    return results


if __name__ == "__main__":  # python -m tfsigns.grader SUBMISSION.ipynb... --out DIR: a class's grading
    from tfsigns.classroom import main
    raise SystemExit(main())
