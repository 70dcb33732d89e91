"""The convolution course's exercises (notebooks/Convolution_Exercises.ipynb): the step by step in NumPy
(zero_pad, conv_single_step, conv_forward, pool_forward, and the optional backward pass), and the
application, the course CNN in TensorFlow from create_placeholders to model, examples first; with
the checks that read a CNN's graph. tfsigns.grading.grader grades them.

The references are tfsigns.course.convolution and the CNN family (tfsigns.networks.cnn); the inputs
and typical mistakes are in tfsigns.grading.mistakes_cnn.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import numpy as np

from tfsigns.config import TrainConfig
from tfsigns.course.convolution import (
    conv_backward,
    conv_forward,
    conv_single_step,
    create_mask_from_window,
    distribute_value,
    pool_backward,
    pool_forward,
    zero_pad,
)
from tfsigns.grading import mistakes_cnn
from tfsigns.grading.answers import evaluated, graph_of, on_constants
from tfsigns.grading.checks import (
    Assignment,
    Candidate,
    Exercise,
    Report,
    check_draw,
    initial_values,
    placeholder_check,
    value_check,
)
from tfsigns.grading.child import with_its_feeds
from tfsigns.grading.feedback import shape_message
from tfsigns.grading.models import ModelGrading, model_check
from tfsigns.grading.structure import structure_problems
from tfsigns.networks import cnn, get_network
from tfsigns.training.trainer import cnn_model

# The reference solutions: the course CNN's own functions, by their lesson names.
CNN_COURSE = get_network("cnn").course_functions


FILTER_AXES = ("rows", "columns", "channels", "filters")
CNN_AXES = {"W1": FILTER_AXES, "W2": FILTER_AXES, "W3": ("features", "classes"), "b3": ("classes",)}


def _check_cnn_initialize_parameters(candidate: Candidate, report: Report) -> None:
    label = "initialize_parameters()"
    values = initial_values(report, label, evaluated(candidate)(), cnn.parameter_shapes(), CNN_AXES.get,
                             mistakes_cnn.INIT_RULES)
    if values is None or report.failures:
        return
    reference = evaluated(CNN_COURSE["initialize_parameters"])()
    check_draw(report, label, values, {key: reference[key] for key in ("W1", "W2")}, 0,
                mistakes_cnn.INIT_HINT)


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
    problems = structure_problems(expected, got, raised=error is not None)
    for what, hint in problems:
        report.fail(f"{case.label}: {what}", hint)
    if error and not problems:
        raise error
    if not problems:
        CNN_FORWARD_VALUES(candidate, report)


def _cnn_shape_problems(parameters: Mapping, X_train: np.ndarray, Y_train: np.ndarray) -> list[str]:
    """Every parameter of the course CNN for X_train's images and Y_train's classes, in its shape."""
    expected = cnn.parameter_shapes(X_train.shape[1:], Y_train.shape[1])
    return [f"{key}: {shape_message(shape, np.shape(parameters[key]), CNN_AXES[key])}" if key in parameters
            else f"{key} is missing" for key, shape in expected.items()
            if np.shape(parameters.get(key)) != shape]


CNN_MODEL = ModelGrading(
    mistakes_cnn.model_data,
    {"learning_rate": 0.009, "num_epochs": 8, "minibatch_size": 16, "print_cost": False}, _cnn_shape_problems,
    "X_train's shape is (m, n_H0, n_W0, n_C0) and Y_train's (m, n_y): placeholders of those sizes, "
    "and the parameters initialize_parameters makes", TrainConfig(arch="cnn"))


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
        "True where the window holds its largest value, False elsewhere: an array of the window's shape",
        optional=True),
     "distribute_value": Exercise(
        value_check(distribute_value, STEP.distribute_cases, STEP.DISTRIBUTE_MISTAKES),
        "an array of the given shape, every entry the same share of dz: each input counted that much in the "
        "mean", optional=True),
     "pool_backward": Exercise(
        value_check(STEP.pool_gradient, STEP.pool_backward_cases, STEP.POOL_BACKWARD_MISTAKES,
                    axes=STEP.IMAGE_AXES),
        "dA_prev of A_prev's shape, zeros; for every example, output position and channel, add that "
        "output's gradient to its window: through the mask of the max (mode max), or spread evenly "
        "(average)", points=2, optional=True),
     "conv_backward": Exercise(
        value_check(STEP.conv_gradients, STEP.conv_backward_cases, STEP.CONV_BACKWARD_MISTAKES,
                    axes=STEP.IMAGE_AXES, levels=(("dA_prev", "dW", "db"),)),
        "pad A_prev and a dA_prev of zeros alike; for every example, position and filter, the output's "
        "gradient goes back to its window through the filter (dA_prev), to the filter through the window "
        "(dW), and to the bias (db); take the padding off dA_prev at the end", points=2, optional=True)},
    {"zero_pad": zero_pad, "conv_single_step": conv_single_step, "conv_forward": conv_forward,
     "pool_forward": pool_forward, "create_mask_from_window": create_mask_from_window,
     "distribute_value": distribute_value, "pool_backward": pool_backward, "conv_backward": conv_backward},
    mistakes_cnn.STEP_ERROR_HINTS)

CNN_PLACEHOLDER_HINT = ("a float32 placeholder named 'X' of shape (None, n_H0, n_W0, n_C0) and one named 'Y' "
                        "of shape (None, n_y): one row per example, None leaves the number of examples open")
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
        model_check(CNN_MODEL, with_its_feeds),
        "placeholders from the data's shapes, the parameters, the forward pass, the cost and Adam; run the "
        "optimizer on every minibatch of every epoch and return the trained parameters' values",
        points=3, seconds=120.0, error_hints=mistakes_cnn.MODEL_ERROR_HINTS,
        helpers={name: f"tfsigns.networks.cnn:{name}" for name in CNN_COURSE})}.items()},
    {**CNN_COURSE, "model": cnn_model},
    mistakes_cnn.APPLICATION_ERROR_HINTS)
