"""A learner's review of both exercise notebooks (issue 45): slips that passed, slips whose feedback misled,
and slips told only vaguely, each written as the learner's code, each graded FAIL and named by what it is;
the grader's copies, so that a candidate that changes its input cannot change the values it is told to
expect; and grade()'s time limit in a notebook."""

from __future__ import annotations

import time

import numpy as np
import pytest
import tensorflow as tf

from tests.test_grader import (
    assert_failed,
    course_create_placeholders,
    course_forward_propagation,
    course_initialize_parameters,
    course_random_mini_batches,
    log_softmax_cost,
)
from tests.test_grader_cnn import course_forward_propagation as cnn_forward
from tests.test_grader_cnn import loop_pool_forward
from tfsigns.grader import ASSIGNMENTS, grade
from tfsigns.grading.checks import BLANK

v1 = tf.compat.v1
STEP, APPLICATION, TENSORFLOW = "convolution_step_by_step", "convolution_application", "tensorflow"


def learners_model(test_set=False, optimizer="adam", same_seed=False, fresh_graph=True, late_optimizer=False,
                   minibatches=course_random_mini_batches):
    """The notebook's model(), as a learner fills it in, with one of the review's slips."""
    def model(X_train, Y_train, X_test, Y_test, learning_rate=0.0001, num_epochs=1500, minibatch_size=32,
              print_cost=True):
        def body():
            X_fit, Y_fit = (X_test, Y_test) if test_set else (X_train, Y_train)
            (n_x, _), n_y = X_fit.shape, Y_fit.shape[0]
            X, Y = course_create_placeholders(n_x, n_y)
            parameters = course_initialize_parameters([n_x, 25, 12, n_y])
            cost = log_softmax_cost(course_forward_propagation(X, parameters), Y)
            if late_optimizer:
                init = v1.global_variables_initializer()
            trainer = (v1.train.AdamOptimizer if optimizer == "adam" else v1.train.GradientDescentOptimizer)
            train = trainer(learning_rate).minimize(cost)
            if not late_optimizer:
                init = v1.global_variables_initializer()
            with v1.Session() as sess:
                sess.run(init)
                seed = 0
                for _ in range(num_epochs):
                    seed = seed if same_seed else seed + 1
                    for minibatch_X, minibatch_Y in minibatches(X_fit, Y_fit, minibatch_size, seed):
                        sess.run([train, cost], feed_dict={X: minibatch_X, Y: minibatch_Y})
                return sess.run(parameters)
        if fresh_graph:
            with tf.Graph().as_default():
                return body()
        return body()
    return model


def minibatches_by_two_permutations(X, Y, mini_batch_size=64, seed=0):
    np.random.seed(seed)
    m = X.shape[1]
    X, Y = X[:, np.random.permutation(m)], Y[:, np.random.permutation(m)]
    return [(X[:, k:k + mini_batch_size], Y[:, k:k + mini_batch_size]) for k in range(0, m, mini_batch_size)]


def minibatches_shuffled_in_place(X, Y, mini_batch_size=64, seed=0):
    np.random.seed(seed)
    np.random.shuffle(X.T)
    np.random.shuffle(Y.T)
    return [(X[:, k:k + mini_batch_size], Y[:, k:k + mini_batch_size])
            for k in range(0, X.shape[1], mini_batch_size)]


def sigmoid_through_an_integer_placeholder(z):
    x = v1.placeholder(tf.int32)
    with v1.Session() as session:
        return session.run(tf.sigmoid(tf.cast(x, tf.float32)), {x: z})


def cnn_forward_without_the_first_relu(X, parameters):
    A = v1.nn.max_pool(tf.nn.conv2d(X, parameters["W1"], strides=[1, 1, 1, 1], padding="SAME"),
                       ksize=[1, 8, 8, 1], strides=[1, 8, 8, 1], padding="SAME")
    A = tf.nn.relu(tf.nn.conv2d(A, parameters["W2"], strides=[1, 1, 1, 1], padding="SAME"))
    A = v1.nn.max_pool(A, ksize=[1, 4, 4, 1], strides=[1, 4, 4, 1], padding="SAME")
    return tf.matmul(tf.reshape(A, [-1, 64]), parameters["W3"]) + parameters["b3"]


def cnn_forward_flattened_channels_first(X, parameters):
    A = X
    for l, pool in ((1, 8), (2, 4)):
        A = tf.nn.relu(tf.nn.conv2d(A, parameters[f"W{l}"], strides=[1, 1, 1, 1], padding="SAME"))
        A = v1.nn.max_pool(A, ksize=[1, pool, pool, 1], strides=[1, pool, pool, 1], padding="SAME")
    F = tf.reshape(tf.transpose(A, [0, 3, 1, 2]), [-1, 64])
    return tf.matmul(F, parameters["W3"]) + parameters["b3"]


def sample_beta_returning_one_minus_beta(low, high, n, seed):
    np.random.seed(seed)
    r = np.random.uniform(np.log10(1 - high), np.log10(1 - low), n)
    return 10 ** r


def ones_printed(shape):
    with v1.Session() as session:
        print(session.run(tf.ones(shape)))


def sigmoid_cross_entropy(ZL, Y):
    losses = tf.nn.sigmoid_cross_entropy_with_logits(logits=tf.transpose(ZL), labels=tf.transpose(Y))
    return tf.reduce_mean(losses)


def cnn_sigmoid_cross_entropy(Z3, Y):
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(logits=Z3, labels=Y))


def one_hot_of_depth_c_minus_1(labels, C):
    with v1.Session() as session:
        return session.run(tf.one_hot(labels, C - 1, axis=0))


def prepare_dataset_returning_y_first(X_orig, Y_orig, C):
    return np.eye(C)[Y_orig.reshape(-1)].T, X_orig.reshape(X_orig.shape[0], -1).T / 255.0


def forward_with_one_relu_dropped(X, parameters):
    A = tf.nn.relu(tf.matmul(parameters["W1"], X) + parameters["b1"])
    A = tf.matmul(parameters["W2"], A) + parameters["b2"]
    return tf.matmul(parameters["W3"], A) + parameters["b3"]


def forward_with_sigmoids(X, parameters):
    A = X
    for l in (1, 2):
        A = tf.sigmoid(tf.matmul(parameters[f"W{l}"], A) + parameters[f"b{l}"])
    return tf.matmul(parameters["W3"], A) + parameters["b3"]


def batch_norm_forward(axis=1, epsilon=1e-3, update=True):
    """forward_propagation_bn as a learner writes it, its moments over `axis`, its `epsilon`."""
    def forward_propagation_bn(X, parameters, training):
        L = sum(key.startswith("W") for key in parameters)
        A = X
        for l in range(1, L):
            Z = tf.matmul(parameters[f"W{l}"], A)
            mean, variance = tf.nn.moments(Z, axes=[axis], keepdims=True)
            moving = (parameters[f"moving_mean{l}"], parameters[f"moving_variance{l}"])
            for average, batch in zip(moving, (mean, variance), strict=True) if update else ():
                v1.add_to_collection(v1.GraphKeys.UPDATE_OPS, average.assign(0.99 * average + 0.01 * batch))
            mu, var = tf.cond(training, lambda m=mean, v=variance: (m, v),
                              lambda m=moving: (m[0] + 0.0, m[1] + 0.0))
            Z = parameters[f"gamma{l}"] * (Z - mu) / tf.sqrt(var + epsilon) + parameters[f"beta{l}"]
            A = tf.nn.relu(Z)
        return tf.matmul(parameters[f"W{L}"], A) + parameters[f"b{L}"]
    return forward_propagation_bn


def distribute_value_by_floor_division(dz, shape):
    n_H, n_W = shape
    return np.ones(shape) * (dz // (n_H * n_W))


def pool_forward_with_window_and_stride_swapped(A_prev, hparameters, mode="max"):
    """The course's loops (tests.test_grader_cnn's), f read from hparameters["stride"] and stride from "f"."""
    A, _ = loop_pool_forward(A_prev, {"f": hparameters["stride"], "stride": hparameters["f"]}, mode)
    return A, (A_prev, hparameters)


SLIPS = [  # (assignment, exercise, the learner's code, the words that name it)
    # passed before
    (TENSORFLOW, "model", learners_model(test_set=True),
     ["it trained on the test set", "hint: train on X_train and Y_train"]),
    (TENSORFLOW, "model", learners_model(optimizer="gd"),
     ["it trains with GradientDescentOptimizer, where the notebook asks for Adam"]),
    (APPLICATION, "model", lambda *args, **settings: cnn_model_with_gradient_descent(*args, **settings),
     ["it trains with GradientDescentOptimizer, where the notebook asks for Adam"]),
    (TENSORFLOW, "model", learners_model(same_seed=True),
     ["the same minibatches in every epoch", "hint: give random_mini_batches a seed that changes"]),
    (TENSORFLOW, "model", learners_model(fresh_graph=False),
     ["built its graph in the graph it was called in, not in a fresh one of its own",
      "a second call"]),
    (APPLICATION, "forward_propagation", cnn_forward_without_the_first_relu,
     ["no ReLU after CONV2D 1", "hint: CONV2D -> RELU -> MAXPOOL"]),
    (TENSORFLOW, "sigmoid", sigmoid_through_an_integer_placeholder,
     ["z went through an integer placeholder", "hint: a float32 placeholder"]),
    # misled before
    (TENSORFLOW, "random_mini_batches", minibatches_shuffled_in_place,
     ["it changed X, Y, which it was given, in place", "np.random.shuffle(X.T) reorders X itself"]),
    (TENSORFLOW, "sample_beta", sample_beta_returning_one_minus_beta,
     ["returned 1 - beta, 10**r, not beta", "beta is 1 minus 10 to the power r"]),
    (TENSORFLOW, "random_mini_batches", minibatches_by_two_permutations,
     ["X and Y were shuffled by two different permutations", "hint: one permutation for both"]),
    (TENSORFLOW, "model", learners_model(minibatches=minibatches_by_two_permutations),
     ["the labels it fed are not its examples' labels", "X and Y were shuffled apart"]),
    (TENSORFLOW, "model", learners_model(late_optimizer=True),
     ["hint: the optimizer makes variables of its own", "before v1.global_variables_initializer()"]),
    (TENSORFLOW, "ones", ones_printed,
     ["returned None, and printed something", "hint: end the function with return"]),
    (TENSORFLOW, "compute_cost", sigmoid_cross_entropy,
     ["a sigmoid cross-entropy, where the classes need a softmax one",
      "hint: each example is one of C classes"]),
    (APPLICATION, "compute_cost", cnn_sigmoid_cross_entropy,
     ["a sigmoid cross-entropy, where the classes need a softmax one"]),
    # vague before
    (TENSORFLOW, "one_hot_matrix", one_hot_of_depth_c_minus_1,
     ["depth C - 1: one class short", "hint: the depth is the number of classes, C"]),
    (TENSORFLOW, "prepare_dataset", prepare_dataset_returning_y_first, ["returned (Y, X): X and Y swapped"]),
    (TENSORFLOW, "forward_propagation", forward_with_one_relu_dropped, ["no ReLU after layer 2"]),
    (TENSORFLOW, "forward_propagation", forward_with_sigmoids, ["a sigmoid where the ReLU goes"]),
    (TENSORFLOW, "forward_propagation_bn", batch_norm_forward(axis=0),
     ["moments over axis 0, each example's units", "one per unit, over the minibatch's examples"]),
    (TENSORFLOW, "forward_propagation_bn", batch_norm_forward(axis=0, update=False),
     ["the mean and variance were taken over axis 0, each example's units"]),
    (TENSORFLOW, "forward_propagation_bn", batch_norm_forward(epsilon=1e-5),
     ["epsilon of 1e-05 or less, where the lesson's is 0.001"]),
    (STEP, "distribute_value", distribute_value_by_floor_division, ["divided with // (floor division)"]),
    (APPLICATION, "forward_propagation", cnn_forward_flattened_channels_first,
     ["flattened channels first", "hint: tf.reshape(P2, [-1, 64]) keeps"]),
    (STEP, "pool_forward", pool_forward_with_window_and_stride_swapped,
     ["the window and the stride are swapped: f read from 'stride' and stride from 'f'"]),
]


def cnn_model_with_gradient_descent(X_train, Y_train, X_test, Y_test, learning_rate=0.009, num_epochs=100,
                                    minibatch_size=64, print_cost=True):
    with tf.Graph().as_default():
        (m, n_H0, n_W0, n_C0), n_y = X_train.shape, Y_train.shape[1]
        X, Y = v1.placeholder(tf.float32, [None, n_H0, n_W0, n_C0]), v1.placeholder(tf.float32, [None, n_y])
        shapes = (("W1", [4, 4, 3, 8]), ("W2", [2, 2, 8, 16]), ("W3", [64, 6]), ("b3", [6]))
        parameters = {key: v1.get_variable(key, shape, initializer=v1.glorot_uniform_initializer(seed=0))
                      for key, shape in shapes}
        logits = cnn_forward(X, parameters)
        cost = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(logits=logits, labels=Y))
        train = v1.train.GradientDescentOptimizer(learning_rate).minimize(cost)
        with v1.Session() as sess:
            sess.run(v1.global_variables_initializer())
            for epoch in range(num_epochs):
                order = np.random.default_rng(epoch).permutation(m)
                for k in range(0, m, minibatch_size):
                    batch = order[k:k + minibatch_size]
                    sess.run(train, {X: X_train[batch], Y: Y_train[batch]})
            return sess.run(parameters)


@pytest.mark.parametrize(("assignment", "name", "slip", "said"), SLIPS,
                         ids=[f"{name}-{getattr(slip, '__name__', 'lambda')}-{k}"
                              for k, (_, name, slip, _) in enumerate(SLIPS)])
def test_a_learners_slip_fails_named_by_what_it_is(capsys, assignment, name, slip, said):
    passed = grade(name, slip, assignment)
    out = capsys.readouterr().out
    assert_failed(passed, out, name, *said)
    if name == "model" and not any("Adam" in words for words in said):  # not told about the optimizer
        assert "Adam" not in out.split("\nhint: ")[1], out


def test_the_expected_values_are_the_references_on_the_grader_s_own_copies(capsys):
    """A candidate that shuffles X in place shuffled the grader's case, and the values it was told to expect
    were computed from the shuffled case; now it is handed copies: the expected minibatches are the
    reference's, whatever the candidate does to what it is given."""
    grade("random_mini_batches", minibatches_shuffled_in_place)
    shuffled = capsys.readouterr().out
    grade("random_mini_batches", minibatches_by_two_permutations)
    untouched = capsys.readouterr().out
    expected = [line.split("expected ", 1)[1].split(", got")[0] for line in untouched.splitlines()
                if "expected [[" in line]
    assert expected and all(value in shuffled for value in expected), (shuffled, untouched)


def random_mini_batches_that_never_ends(X, Y, mini_batch_size=64, seed=0):
    m, i, batches = X.shape[1], 0, []
    while i != m + 1:  # steps past m when m is not a multiple of mini_batch_size
        batches.append((X[:, i:i + mini_batch_size], Y[:, i:i + mini_batch_size]))
        i += mini_batch_size
    return batches


def test_grade_in_a_notebook_stops_a_candidate_after_its_time_limit(capsys):
    started = time.monotonic()
    assert not grade("random_mini_batches", random_mini_batches_that_never_ends, seconds=2)
    out = capsys.readouterr().out
    assert time.monotonic() - started < 30
    assert "random_mini_batches: FAIL" in out and "stopped after 2 s: it had not returned" in out, out
    assert "grade('random_mini_batches', random_mini_batches, seconds=" in out
    assert all(exercise.seconds >= 5 for spec in ASSIGNMENTS.values() for exercise in spec.exercises.values())
    assert grade("ones", lambda shape: None) == 0 and BLANK in capsys.readouterr().out  # as before
