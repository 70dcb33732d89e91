"""The convolution course's exercises in the grader: references and answers written apart from tfsigns
pass, blanks and typical mistakes fail with a pointed report, unknown assignments are named, and the
Convolution_Exercises notebook runs headless while every exercise is still blank."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tests.test_grader import assert_failed, run_stored_notebook
from tfsigns.grader import ASSIGNMENTS, grade, grade_all
from tfsigns.grading.checks import BLANK
from tfsigns.grading.feedback import error_hint

v1 = tf.compat.v1
NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "Convolution_Exercises.ipynb"
STEP, APPLICATION = "convolution_step_by_step", "convolution_application"


def run_grade(capsys, assignment, name, candidate) -> tuple[bool, str]:
    """grade() of an exercise of `assignment` and what it printed."""
    passed = grade(name, candidate, assignment)
    return passed, capsys.readouterr().out


# ------------------------------------------------------------------ answers written apart from tfsigns
# The step by step as the course writes it, loop by loop (slips switchable, for the mistakes below);
# the CNN with tf.nn ops and the cost through log_softmax. None of it calls tfsigns.


def loop_zero_pad(X, pad):
    m, n_H, n_W, n_C = X.shape
    padded = np.zeros((m, n_H + 2 * pad, n_W + 2 * pad, n_C))
    padded[:, pad:pad + n_H, pad:pad + n_W, :] = X
    return padded


def loop_conv_single_step(a_slice_prev, W, b):
    return float(np.sum(a_slice_prev * W) + b.item())


def loop_conv_forward(A_prev, W, b, hparameters, size_pad=True, size_stride=True, slide_stride=True,
                      single_step=loop_conv_single_step, pick=lambda array, c: array[..., c], padded=True,
                      divide=lambda a, b: a // b, across=None):
    """The course's four loops, with the padding and the stride switchable in the output size and the
    stride in the slices (`across`: the columns' own), the single step and the way filter c is picked out
    of W and b, whether the slices are of the padded input, and the division of the output size."""
    (m, n_H_prev, n_W_prev, _), (f, _, _, n_C) = A_prev.shape, W.shape
    stride, pad = hparameters["stride"], hparameters["pad"]
    size = [divide(n + 2 * pad * size_pad - f, stride if size_stride else 1) + 1
            for n in (n_H_prev, n_W_prev)]
    step = stride if slide_stride else 1
    across = step if across is None else across
    A_prev_pad = loop_zero_pad(A_prev, pad) if padded else A_prev
    Z = np.zeros((m, *size, n_C))
    for i in range(m):
        for h in range(size[0]):
            for w in range(size[1]):
                a_slice = A_prev_pad[i, h * step:h * step + f, w * across:w * across + f, :]
                for c in range(n_C):
                    Z[i, h, w, c] = single_step(a_slice, pick(W, c), pick(b, c))
    return Z, (A_prev, W, b, hparameters)


def loop_pool_forward(A_prev, hparameters, mode="max", slide_stride=True, modes=None, step=None, width=None):
    """The course's loops; the windows move `step` pixels (stride, or 1 unless `slide_stride`) and are
    `width` wide (f)."""
    m, n_H_prev, n_W_prev, n_C = A_prev.shape
    f, stride = hparameters["f"], hparameters["stride"]
    n_H, n_W = 1 + (n_H_prev - f) // stride, 1 + (n_W_prev - f) // stride
    step = step or (stride if slide_stride else 1)
    width = width or f
    reduce = (modes or {"max": np.max, "average": np.mean})[mode]
    A = np.zeros((m, n_H, n_W, n_C))
    for i in range(m):
        for h in range(n_H):
            for w in range(n_W):
                for c in range(n_C):
                    A[i, h, w, c] = reduce(A_prev[i, h * step:h * step + width, w * step:w * step + width, c])
    return A, (A_prev, hparameters)


def conv_single_step(a_slice_prev, W, b):
    """A learner's, right: called by the conv_forward below that hands it the wrong piece of W."""
    return float(np.sum(a_slice_prev * W) + b.item())


def filters_picked_on_the_channels(A_prev, W, b, hparameters):
    """W[:, :, c, :] for filter c: conv_single_step, which is right, raises, and is not to blame."""
    return loop_conv_forward(A_prev, W, b, hparameters, single_step=conv_single_step,
                             pick=lambda array, c: array[:, :, c, :] if array is W else array[..., c])


def loop_create_mask_from_window(x):
    return x == np.max(x)


def loop_distribute_value(dz, shape):
    n_H, n_W = shape
    return np.ones(shape) * dz / (n_H * n_W)


def loop_pool_backward(dA, cache, mode="max", add=True):
    """The course's loops; `add=False` assigns each window's gradient instead of adding it."""
    A_prev, hparameters = cache
    f, stride = hparameters["f"], hparameters["stride"]
    m, n_H, n_W, n_C = dA.shape
    dA_prev = np.zeros(A_prev.shape)
    for i in range(m):
        for h in range(n_H):
            for w in range(n_W):
                for c in range(n_C):
                    vs, hs = h * stride, w * stride
                    if mode == "max":
                        mask = loop_create_mask_from_window(A_prev[i, vs:vs + f, hs:hs + f, c])
                        grad = mask * dA[i, h, w, c]
                    else:
                        grad = loop_distribute_value(dA[i, h, w, c], (f, f))
                    old = dA_prev[i, vs:vs + f, hs:hs + f, c] if add else 0
                    dA_prev[i, vs:vs + f, hs:hs + f, c] = old + grad
    return dA_prev


def loop_conv_backward(dZ, cache, unpad=True):
    """The course's loops; `unpad=False` returns dA_prev with its padding."""
    A_prev, W, b, hparameters = cache
    (m, n_H_prev, n_W_prev, _), (f, _, _, n_C) = A_prev.shape, W.shape
    stride, pad = hparameters["stride"], hparameters["pad"]
    A_prev_pad, dA_prev_pad = loop_zero_pad(A_prev, pad), np.zeros(loop_zero_pad(A_prev, pad).shape)
    dW, db = np.zeros(W.shape), np.zeros(b.shape)
    for i in range(m):
        for h in range(dZ.shape[1]):
            for w in range(dZ.shape[2]):
                for c in range(n_C):
                    vs, hs = h * stride, w * stride
                    dA_prev_pad[i, vs:vs + f, hs:hs + f, :] += W[:, :, :, c] * dZ[i, h, w, c]
                    dW[:, :, :, c] += A_prev_pad[i, vs:vs + f, hs:hs + f, :] * dZ[i, h, w, c]
                    db[:, :, :, c] += dZ[i, h, w, c]
    dA_prev = dA_prev_pad[:, pad:pad + n_H_prev, pad:pad + n_W_prev, :] if unpad else dA_prev_pad
    return dA_prev, dW, db


def course_create_placeholders(n_H0, n_W0, n_C0, n_y):
    return (v1.placeholder(tf.float32, [None, n_H0, n_W0, n_C0], name="X"),
            v1.placeholder(tf.float32, [None, n_y], name="Y"))


def course_initialize_parameters():
    glorot = v1.glorot_uniform_initializer
    return {"W1": v1.get_variable("W1", [4, 4, 3, 8], initializer=glorot(seed=0)),
            "W2": v1.get_variable("W2", [2, 2, 8, 16], initializer=glorot(seed=0)),
            "W3": v1.get_variable("W3", [64, 6], initializer=glorot(seed=5)),
            "b3": v1.get_variable("b3", [6], initializer=v1.zeros_initializer())}


def course_forward_propagation(X, parameters, padding="SAME", pools=((8, 8), (4, 4)), flatten=True,
                               relu_logits=False, pool_strides=None):
    """CONV2D -> RELU -> MAXPOOL twice, FLATTEN, FULLY CONNECTED; the slips switchable: the padding, each
    pool's (window, stride), full NHWC pool strides, no flatten, a ReLU on the logits."""
    A = X
    for l, (window, stride) in enumerate(pools, start=1):
        A = tf.nn.relu(tf.nn.conv2d(A, parameters[f"W{l}"], strides=[1, 1, 1, 1], padding=padding))
        strides = pool_strides[l - 1] if pool_strides else [1, stride, stride, 1]
        A = v1.nn.max_pool(A, ksize=[1, window, window, 1], strides=strides, padding=padding)
    F = tf.reshape(A, [tf.shape(A)[0], -1]) if flatten else A
    Z3 = tf.matmul(F, parameters["W3"]) + parameters["b3"]
    return tf.nn.relu(Z3) if relu_logits else Z3


def log_softmax_cost(Z3, Y):
    return -tf.reduce_mean(tf.reduce_sum(Y * tf.nn.log_softmax(Z3, axis=1), axis=1))


def course_model(X_train, Y_train, X_test, Y_test, learning_rate=0.009, num_epochs=100, minibatch_size=64,
                 print_cost=True, train=True, n_y_axis=1):
    with tf.Graph().as_default():  # a fresh graph for every run, as the notebook's model() has it
        (m, n_H0, n_W0, n_C0), n_y = X_train.shape, Y_train.shape[n_y_axis]
        X, Y = course_create_placeholders(n_H0, n_W0, n_C0, n_y)
        parameters = course_initialize_parameters()
        cost = log_softmax_cost(course_forward_propagation(X, parameters), Y)
        optimizer = v1.train.AdamOptimizer(learning_rate).minimize(cost)
        costs, rng = [], np.random.default_rng(3)
        with v1.Session() as sess:
            sess.run(v1.global_variables_initializer())
            for _ in range(num_epochs):
                order, epoch_cost = rng.permutation(m), 0.0
                for k in range(0, m, minibatch_size):
                    feed = {X: X_train[order[k:k + minibatch_size]], Y: Y_train[order[k:k + minibatch_size]]}
                    fetches = [optimizer, cost] if train else [cost]
                    epoch_cost += sess.run(fetches, feed)[-1] * len(feed[X]) / m
                costs.append(epoch_cost)
            return sess.run(parameters), costs


SOLUTIONS = {
    STEP: {"zero_pad": loop_zero_pad, "conv_single_step": loop_conv_single_step,
           "conv_forward": loop_conv_forward, "pool_forward": loop_pool_forward,
           "create_mask_from_window": loop_create_mask_from_window, "distribute_value": loop_distribute_value,
           "pool_backward": loop_pool_backward, "conv_backward": loop_conv_backward},
    APPLICATION: {"create_placeholders": course_create_placeholders,
                  "initialize_parameters": course_initialize_parameters,
                  "forward_propagation": course_forward_propagation, "compute_cost": log_softmax_cost,
                  "model": course_model},
}
EXERCISES = [(assignment, name) for assignment in SOLUTIONS for name in ASSIGNMENTS[assignment].exercises]


# ------------------------------------------------------------------ typical mistakes


def own_dense_layer(X, parameters):
    W3 = v1.get_variable("W3", [64, 6], initializer=v1.glorot_uniform_initializer(seed=0))
    return course_forward_propagation(X, {**parameters, "W3": W3})


def filters_only():
    parameters = course_initialize_parameters()
    return {"W1": parameters["W1"], "W2": parameters["W2"]}


def seeded_1():
    glorot = v1.glorot_uniform_initializer
    W1 = v1.get_variable("W1b", [4, 4, 3, 8], initializer=glorot(seed=1))
    return {**course_initialize_parameters(), "W1": W1}


MISTAKES = [
    (STEP, "zero_pad", lambda X, pad: np.pad(X, pad),
     ["every axis was padded", "one (before, after) pair for each of X's 4 axes"]),
    (STEP, "create_mask_from_window", lambda x: x == np.min(x),
     ["marked the min", "its largest value, np.max"]),
    (STEP, "distribute_value", lambda dz, shape: np.ones(shape) * dz, ["not divided by the window's size"]),
    (STEP, "pool_backward", lambda dA, cache, mode: loop_pool_backward(dA, cache, mode, add=False),
     ["assigned, not added", "hint: add each window's gradient (+=)"]),
    (STEP, "pool_backward", lambda dA, cache, mode: loop_pool_backward(dA, cache, "average"),
     ["in max mode the gradient was spread over the window", "create_mask_from_window"]),
    (STEP, "conv_backward", lambda dZ, cache: loop_conv_backward(dZ, cache, unpad=False),
     ["dA_prev: expected shape (2, 5, 4, 3)", "dA_prev still has the padding", "take the padding off"]),
    (STEP, "conv_single_step", lambda a, W, b: float(np.sum(a * W)), ["b was not added"]),
    (STEP, "conv_forward", lambda *args: loop_conv_forward(*args, size_pad=False),
     ["the output size leaves out the padding", "n_H_prev - f + 2 pad, divided by the stride"]),
    (STEP, "conv_forward", lambda *args: loop_conv_forward(*args, slide_stride=False),
     ["the slices are not strided: vert_start = h instead of h * stride",
      "starts at row h times the stride"]),
    (STEP, "conv_forward", lambda *args: loop_conv_forward(*args, size_stride=False, slide_stride=False),
     ["the stride is ignored", "a stride-1 convolution"]),
    (STEP, "conv_forward", lambda *args: loop_conv_forward(*args, size_stride=False),
     ["raised ValueError: operands could not be broadcast", "a slice came out smaller than the filter"]),
    (STEP, "conv_forward", lambda *args: loop_conv_forward(*args, padded=False),
     ["the slices are of A_prev, not of the padded A_prev_pad", "zero_pad's A_prev_pad"]),
    (STEP, "conv_forward", filters_picked_on_the_channels,
     ["raised ValueError: operands could not be broadcast together with shapes (3,3,4) (3,3,8) in your "
      "conv_single_step (called by conv_forward)",
      "hint: a slice of A_prev_pad is (f, f, n_C_prev) and so is filter c, which is W[..., c] "
      "(W[:, :, :, c])"]),
    (STEP, "conv_forward", lambda *args: loop_conv_forward(*args, divide=lambda a, b: a / b),
     ["raised TypeError: 'float' object cannot be interpreted as an integer", "/ divides into a float",
      "floor division, //"]),
    (STEP, "conv_forward", lambda A, W, b, hp: loop_conv_forward(A, W, b, hp, across=1),
     ["the horizontal slices are not strided: horiz_start = w instead of w * stride"]),
    (STEP, "pool_forward", lambda A, hp, mode="max": loop_pool_forward(A, hp, mode, step=hp["stride"] + 1),
     ["the stride is off by one: the windows move stride + 1 pixels", "starts at row h times the stride"]),
    (STEP, "pool_forward", lambda A, hp, mode="max": loop_pool_forward(A, hp, mode, step=hp["f"],
                                                                       width=hp["stride"]),
     ["the window and the stride are swapped: each window starts at h times f and is stride rows high"]),
    (STEP, "pool_forward", lambda A, hp, mode="max": loop_pool_forward(A, hp, "max"),
     ["took the max where mode='average' asks for the mean", "elif mode == 'average'"]),
    (STEP, "pool_forward", lambda A, hp, mode="max": loop_pool_forward(A, hp, mode, slide_stride=False),
     ["the slices are not strided"]),
    (APPLICATION, "create_placeholders", lambda h, w, c, n_y: (v1.placeholder(tf.float32, [h, w, c, None]),
                                                               v1.placeholder(tf.float32, [None, n_y])),
     ["X: expected shape (None, 64, 64, 3): any number of examples x 64 rows x 64 columns x 3 channels"]),
    (APPLICATION, "initialize_parameters", filters_only,
     ["missing keys ['W3', 'b3']", "tf.contrib.layers.fully_connected made itself"]),
    (APPLICATION, "initialize_parameters", seeded_1,
     ["W1 is not the draw of v1.glorot_uniform_initializer(seed=0)"]),
    (APPLICATION, "forward_propagation", lambda X, p: course_forward_propagation(X, p, padding="VALID"),
     ["CONV2D 1 pads VALID, not SAME", "MAXPOOL 2 pads VALID", "hint: padding='SAME'"]),
    (APPLICATION, "forward_propagation",
     lambda X, p: course_forward_propagation(X, p, pool_strides=([8, 1, 1, 1], [1, 4, 4, 1])),
     ["MAXPOOL 1 has strides=[8, 1, 1, 1]: a stride on the batch axis", "hint: strides=[1, s, s, 1]"]),
    (APPLICATION, "forward_propagation", lambda X, p: course_forward_propagation(X, p, flatten=False),
     ["P2 was not flattened", "hint: FLATTEN before the fully connected layer"]),
    (APPLICATION, "forward_propagation", lambda X, p: course_forward_propagation(X, p, relu_logits=True),
     ["a ReLU on the logits", "softmax_cross_entropy_with_logits in compute_cost"]),
    (APPLICATION, "forward_propagation",
     lambda X, p: course_forward_propagation(X, p, pools=((8, 1), (4, 4))),
     ["MAXPOOL 1 has a 8x8 window moving 1 pixel at a time", "the window moves by its own size"]),
    (APPLICATION, "forward_propagation",
     lambda X, p: course_forward_propagation(X, p, pools=((4, 8), (8, 4))),
     ["MAXPOOL 1 has a 4x4 window and stride 8: the window and stride of the two pools are mixed up",
      "MAXPOOL 2 has a 8x8 window and stride 4"]),
    (APPLICATION, "forward_propagation", own_dense_layer,
     ["made variables of its own (W3", "parameters['W3'] and parameters['b3']"]),
    (APPLICATION, "compute_cost",
     lambda Z3, Y: tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(logits=tf.transpose(Z3),
                                                                        labels=tf.transpose(Y))),
     ["transposed, so the softmax runs over the examples", "pass them as they are"]),
    (APPLICATION, "model",
     lambda X, Y, X_test, Y_test, **settings: course_model(X * 255, Y, X_test * 255, Y_test, **settings),
     ["it fed the network X_train multiplied by 255, as if its pixels ran from 0 to 255",
      "hint: X_train comes to model() divided by 255 already: feed its minibatches as they are"]),
    (APPLICATION, "model", lambda *args, **settings: course_model(*args, **settings, train=False),
     ["the cost did not fall", "train accuracy", "hint: run the optimizer on every minibatch"]),
]


@pytest.mark.parametrize(("assignment", "name", "candidate", "fragments"), MISTAKES,
                         ids=[f"{name}-{i}" for i, (_, name, _, _) in enumerate(MISTAKES)])
def test_typical_mistakes_fail_with_a_pointed_message(capsys, assignment, name, candidate, fragments):
    assert_failed(*run_grade(capsys, assignment, name, candidate), name, *fragments)


def float_of_the_bias(a_slice_prev, W, b):
    """The course's own conv_single_step: float() of b, which is (1, 1, 1)."""
    s = a_slice_prev * W
    Z = np.sum(s)
    Z = Z + float(b)
    return Z


def test_float_of_the_bias_is_named_as_the_numpy_2_slip(capsys):
    """NumPy 2 raises TypeError for float() of a (1, 1, 1) array (NumPy 1.25 and 1.26 warn, an error
    here as under -W error): the hint says so and what to write instead."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        passed, out = run_grade(capsys, STEP, "conv_single_step", float_of_the_bias)
    assert_failed(passed, out, "conv_single_step", "raised ",
                  "hint: float() of a (1, 1, 1) array fails on NumPy 2", "b.item(), its one value")
    numpy_1 = DeprecationWarning("Conversion of an array with ndim > 0 to a scalar is deprecated, and will "
                                 "error in future. Ensure you extract a single element from your array "
                                 "before performing this operation. (Deprecated NumPy 1.25.)")
    assert error_hint(numpy_1, ASSIGNMENTS[STEP].error_hints) == out.splitlines()[-1].removeprefix("hint: ")


# ------------------------------------------------------------------ every exercise


def test_every_exercise_has_an_independent_solution():
    assert {assignment: list(names) for assignment, names in SOLUTIONS.items()} == {
        assignment: list(ASSIGNMENTS[assignment].exercises) for assignment in SOLUTIONS}


@pytest.mark.parametrize(("assignment", "name"), EXERCISES)
def test_the_reference_and_an_independent_solution_pass(capsys, assignment, name):
    for candidate in (ASSIGNMENTS[assignment].references[name], SOLUTIONS[assignment][name]):
        passed, out = run_grade(capsys, assignment, name, candidate)
        assert passed, f"{candidate.__name__}:\n{out}"
        assert f"{name}: PASS" in out.splitlines()
        assert "hint:" not in out


@pytest.mark.parametrize(("assignment", "name"), EXERCISES)
def test_a_blank_exercise_fails_with_fill_in_the_code(capsys, assignment, name):
    def blank(*args, **kwargs):
        """Nothing between START CODE HERE and END CODE HERE."""

    assert_failed(*run_grade(capsys, assignment, name, blank), name, BLANK)


@pytest.mark.parametrize(("assignment", "name"), EXERCISES)
def test_a_raising_candidate_is_a_fail_not_a_crash(capsys, assignment, name):
    def raising(*args, **kwargs):
        raise ZeroDivisionError("division by zero in the student's code")

    assert_failed(*run_grade(capsys, assignment, name, raising), name,
                  "raised ZeroDivisionError: division by zero in the student's code")


@pytest.mark.parametrize("assignment", list(SOLUTIONS))
def test_grade_all_grades_what_the_namespace_defines(capsys, assignment):
    names = list(ASSIGNMENTS[assignment].exercises)
    results = grade_all({names[0]: SOLUTIONS[assignment][names[0]]}, assignment)
    out = capsys.readouterr().out
    assert results == {name: name == names[0] for name in names}
    assert f"not defined: run the cell that defines {names[-1]}" in out
    assert f"1 of {len(names)} exercises pass" in out


def test_an_unknown_assignment_or_exercise_is_an_error():
    with pytest.raises(ValueError, match="unknown assignment 'cnn'; the assignments are tensorflow, "
                                         "convolution_step_by_step, convolution_application"):
        grade("zero_pad", print, assignment="cnn")
    with pytest.raises(ValueError, match="unknown exercise 'integrals' in assignment 'tensorflow'"):
        grade("integrals", print)
    # an exercise only one assignment has is graded as that one's, as the notebook's cell writes it
    assert grade("zero_pad", ASSIGNMENTS["convolution_step_by_step"].references["zero_pad"])
    with pytest.raises(ValueError, match="unknown assignment"):
        grade_all({}, assignment="cnn")


# ------------------------------------------------------------------ the notebook


def test_the_convolution_notebook_runs_headless_and_fails_while_blank():
    printed = run_stored_notebook(NOTEBOOK)
    for _, name in EXERCISES:
        assert f"{name}: FAIL" in printed
    assert BLANK in printed
    for assignment in SOLUTIONS:
        assert f"0 of {len(ASSIGNMENTS[assignment].exercises)} exercises pass" in printed


def test_a_wrong_volume_is_told_by_its_differences_on_short_lines(capsys):
    """A 4-D answer that is wrong somewhere: where it first differs and where most, not the arrays."""
    def pad_with_ones(X, pad):
        return np.pad(X, ((0, 0), (pad, pad), (pad, pad), (0, 0)), constant_values=1)

    passed, out = run_grade(capsys, STEP, "zero_pad", pad_with_ones)
    assert not passed and "values differ; the first at [0, 0, 0, 0]: expected 0, got 1" in out, out
    assert "the largest difference 1 at" in out and max(map(len, out.splitlines())) < 300, out
