"""Common slips, written as a learner writes them, and the feedback each must get: a hint about this
slip in this exercise of this assignment, never one meant for another exercise or the other course."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import tensorflow as tf

from tests.test_grader import assert_failed
from tests.test_grader_cnn import course_model, loop_conv_forward, loop_conv_single_step, loop_zero_pad
from tfsigns.grader import ASSIGNMENTS, grade, grade_all

v1 = tf.compat.v1
STEP, APPLICATION, TENSORFLOW = "convolution_step_by_step", "convolution_application", "tensorflow"


def graded(capsys, assignment: str, name: str, candidate) -> tuple[bool, str]:
    passed = grade(name, candidate, assignment)
    return passed, capsys.readouterr().out


# ------------------------------------------------------------------ the slips


def cnn_model_with_mlp_n_y(X_train, Y_train, X_test, Y_test, **settings):
    """The MLP habit: n_y = Y_train.shape[0], the number of examples here."""
    return course_model(X_train, Y_train, X_test, Y_test, **settings, n_y_axis=0)


def cost_transposing_only_the_logits(ZL, Y):
    return tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(logits=tf.transpose(ZL), labels=Y))


def zero_pad_with_two_pairs(X, pad):
    return np.pad(X, ((pad, pad), (pad, pad)), mode="constant", constant_values=(0, 0))


def conv_forward_with_w_c(A_prev, W, b, hparameters):
    """W[c] instead of W[..., c]: picks along the filter's rows."""
    return loop_conv_forward(A_prev, W, b, hparameters, pick=lambda array, c: array[c])


def cnn_forward_valid(X, parameters):
    Z1 = tf.nn.conv2d(X, parameters["W1"], strides=[1, 1, 1, 1], padding="VALID")
    P1 = tf.nn.max_pool(tf.nn.relu(Z1), ksize=[1, 8, 8, 1], strides=[1, 8, 8, 1], padding="VALID")
    Z2 = tf.nn.conv2d(P1, parameters["W2"], strides=[1, 1, 1, 1], padding="VALID")
    P2 = tf.nn.max_pool(tf.nn.relu(Z2), ksize=[1, 4, 4, 1], strides=[1, 4, 4, 1], padding="VALID")
    F = tf.reshape(P2, [-1, 64])
    return tf.matmul(F, parameters["W3"]) + parameters["b3"]


def initialize_with_flat_biases(layer_dims):
    parameters = {}
    for l in range(1, len(layer_dims)):
        parameters[f"W{l}"] = v1.get_variable(f"W{l}", [layer_dims[l], layer_dims[l - 1]],
                                              initializer=v1.glorot_uniform_initializer(seed=1))
        parameters[f"b{l}"] = v1.get_variable(f"b{l}", [layer_dims[l]], initializer=v1.zeros_initializer())
    return parameters


def bn_forward_ignoring_training(X, parameters, training):
    """Batch statistics in both modes, the moving averages updated: `training` is never read."""
    A, L = X, sum(key.startswith("W") for key in parameters)
    for l in range(1, L):
        Z = tf.matmul(parameters[f"W{l}"], A)
        mu, var = tf.nn.moments(Z, axes=[1], keepdims=True)
        for moving, batch in ((parameters[f"moving_mean{l}"], mu), (parameters[f"moving_variance{l}"], var)):
            v1.add_to_collection(v1.GraphKeys.UPDATE_OPS, moving.assign(0.99 * moving + 0.01 * batch))
        A = tf.nn.relu(parameters[f"gamma{l}"] * (Z - mu) / tf.sqrt(var + 1e-3) + parameters[f"beta{l}"])
    return tf.matmul(parameters[f"W{L}"], A) + parameters[f"b{L}"]


def forward_without_bias(X, parameters):
    A = X
    for l in (1, 2):
        A = tf.nn.relu(tf.matmul(parameters[f"W{l}"], A))
    return tf.matmul(parameters["W3"], A)


def cnn_forward_without_bias(X, parameters):
    Z3 = REFERENCES_CNN["forward_propagation"](X, parameters)
    return Z3 - parameters["b3"]


def cost_of_the_softmax(ZL, Y):
    return tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(
        logits=tf.transpose(tf.nn.softmax(ZL, axis=0)), labels=tf.transpose(Y)))


def cnn_cost_of_the_softmax(Z3, Y):
    return tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(logits=tf.nn.softmax(Z3), labels=Y))


def pool_size_without_the_stride(A_prev, hparameters, mode="max"):
    m, n_H_prev, n_W_prev, n_C = A_prev.shape
    f, stride = hparameters["f"], hparameters["stride"]
    n_H, n_W = n_H_prev - f + 1, n_W_prev - f + 1
    A = np.zeros((m, n_H, n_W, n_C))
    for i in range(m):
        for h in range(n_H):
            for w in range(n_W):
                for c in range(n_C):
                    window = A_prev[i, h * stride:h * stride + f, w * stride:w * stride + f, c]
                    A[i, h, w, c] = np.max(window) if mode == "max" else np.mean(window)
    return A, (A_prev, hparameters)


def conv_single_step(a_slice_prev, W, b):
    """The learner's own helper, with the course's float(b) (NumPy 2 raises)."""
    return np.sum(a_slice_prev * W) + float(b)


def conv_forward_calling_a_broken_helper(A_prev, W, b, hparameters):
    return loop_conv_forward(A_prev, W, b, hparameters, single_step=conv_single_step)


def sigmoid_in_numpy(z):
    """Right values, but the TensorFlow assignment's warm-up done without TensorFlow."""
    return 1 / (1 + np.exp(-np.asarray(z, dtype=float)))


def initialize_with_another_seed(layer_dims):
    return {f"{p}{l}": v1.get_variable(f"{p}{l}", [layer_dims[l], layer_dims[l - 1] if p == "W" else 1],
                                       initializer=v1.glorot_uniform_initializer(seed=2) if p == "W"
                                       else v1.zeros_initializer())
            for l in range(1, len(layer_dims)) for p in "Wb"}


REFERENCES_CNN = ASSIGNMENTS[APPLICATION].references

SLIPS = [  # (assignment, exercise, the slip, what the report must say, what it must not say)
    (APPLICATION, "model", cnn_model_with_mlp_n_y, ["so n_y is Y_train.shape[1]"],
     ["n_y = Y_train.shape[0]"]),
    (TENSORFLOW, "compute_cost", cost_transposing_only_the_logits,
     ["transpose both", "tf.transpose(Y)"], ["tf.matmul"]),
    (STEP, "zero_pad", zero_pad_with_two_pairs, ["one (before, after) pair for each of X's 4 axes"],
     ["slice", "filter"]),
    (STEP, "conv_forward", conv_forward_with_w_c, ["W[..., c]", "W[c] picks"], ["smaller than the filter"]),
    (APPLICATION, "forward_propagation", cnn_forward_valid, ["pads VALID, not SAME"], ["not flattened"]),
    (TENSORFLOW, "initialize_parameters", initialize_with_flat_biases,
     ["b1: expected shape (25, 1)", "hint: make b{l} with v1.get_variable: one column of layer_dims[l]"],
     ["glorot"]),
    (TENSORFLOW, "forward_propagation_bn", bn_forward_ignoring_training,
     ["the test mode looks like the training mode", "moving_mean and moving_variance in test mode"],
     ["Graph execution error"]),
    (TENSORFLOW, "forward_propagation", forward_without_bias, ["no bias", "+ b"], []),
    (APPLICATION, "forward_propagation", cnn_forward_without_bias, ["b3 was not added"], []),
    (TENSORFLOW, "compute_cost", cost_of_the_softmax, ["softmax was applied to the logits"], []),
    (APPLICATION, "compute_cost", cnn_cost_of_the_softmax, ["softmax was applied to the logits"], []),
    (STEP, "pool_forward", pool_size_without_the_stride,
     ["the output size leaves out the stride", "1 plus n_H_prev - f divided by the stride"], []),
    (TENSORFLOW, "sigmoid", sigmoid_in_numpy, ["computed with NumPy alone", "hint: use TensorFlow's ops"],
     []),
    (TENSORFLOW, "initialize_parameters", initialize_with_another_seed,
     ["W1 is not the draw of v1.glorot_uniform_initializer(seed=1)"], []),
    (STEP, "conv_forward", conv_forward_calling_a_broken_helper,
     ["in your conv_single_step (called by conv_forward)", "float() of a (1, 1, 1) array"], []),
]


@pytest.mark.parametrize(("assignment", "name", "slip", "said", "unsaid"), SLIPS,
                         ids=[slip.__name__ for _, _, slip, _, _ in SLIPS])
def test_a_slip_gets_the_hint_for_this_slip_in_this_exercise(capsys, assignment, name, slip, said, unsaid):
    passed, out = graded(capsys, assignment, name, slip)
    assert_failed(passed, out, name, *said)
    for words in unsaid:
        assert words.lower() not in out.lower(), f"{words!r} in:\n{out}"


def test_grade_all_without_an_assignment_grades_the_notebook_it_is_in(capsys):
    """The convolution notebook's grade_all(globals()) grades the convolution exercises it defines."""
    results = grade_all({"zero_pad": loop_zero_pad, "conv_single_step": loop_conv_single_step,
                         "conv_forward": loop_conv_forward})
    out = capsys.readouterr().out
    assert results["zero_pad"] and "linear_function" not in results, out
    assert "zero_pad: PASS" in out and "pool_forward: FAIL" in out


@pytest.mark.parametrize("assignment", list(ASSIGNMENTS))
def test_a_blank_exercise_is_guided_not_handed_the_answer(capsys, assignment):
    """A blank's hint points the way (what to read, which shapes), never the solution's code: no
    assignment statement, no call nested in another."""
    for name in ASSIGNMENTS[assignment].exercises:
        _, out = graded(capsys, assignment, name, lambda *args, **kwargs: None)
        hint = out.splitlines()[-1]
        assert hint.startswith("hint: ") and " = " not in hint, hint
        assert not re.search(r"\w\([^)]*\w\(", hint), f"a call nested in a call: {hint}"


def test_numpys_warnings_about_a_candidates_overflows_stay_out_of_the_report(capsys):
    """A NumPy answer that overflows on the way (here to inf, then back to the right values) is graded
    without RuntimeWarnings printed under the verdict."""
    def zero_pad(X, pad):
        np.float32(3e38) * np.float32(10)  # overflows: NumPy warns
        return np.pad(X, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert grade("zero_pad", zero_pad, "convolution_step_by_step")
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)], [str(w.message) for w in caught]
    assert capsys.readouterr().out.strip() == "zero_pad: PASS"
