"""Graph builders: shapes and values against NumPy computations."""

import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import blobs
from tfsigns.model import (
    build_train_op,
    compute_accuracy,
    compute_cost,
    create_placeholders,
    forward_propagation,
    initialize_parameters,
    predict,
)

v1 = tf.compat.v1


def run(fetches, feed=None):
    with v1.Session() as sess:
        sess.run(v1.global_variables_initializer())
        return sess.run(fetches, feed_dict=feed)


def np_forward(X, p):
    L = sum(k.startswith("W") for k in p)
    A = X
    for l in range(1, L):
        A = np.maximum(0, p[f"W{l}"] @ A + p[f"b{l}"])
    return p[f"W{L}"] @ A + p[f"b{L}"]


def np_softmax_xent(Z, Y):
    Z = Z - Z.max(axis=0, keepdims=True)
    log_softmax = Z - np.log(np.exp(Z).sum(axis=0, keepdims=True))
    return -(Y * log_softmax).sum(axis=0).mean()


def test_create_placeholders(graph):
    X, Y = create_placeholders(12288, 6)
    assert X.shape.as_list() == [12288, None] and Y.shape.as_list() == [6, None]
    assert X.dtype == tf.float32 and Y.dtype == tf.float32


def test_initialize_parameters_shapes_and_glorot(graph):
    params = run(initialize_parameters((12288, 25, 12, 6), seed=1))
    assert {k: v.shape for k, v in params.items()} == {
        "W1": (25, 12288), "b1": (25, 1), "W2": (12, 25), "b2": (12, 1), "W3": (6, 12), "b3": (6, 1)}
    for l, (n, n_prev) in enumerate([(25, 12288), (12, 25), (6, 12)], start=1):
        assert not params[f"b{l}"].any()
        bound = np.sqrt(6 / (n + n_prev))
        W = params[f"W{l}"]
        assert np.abs(W).max() <= bound and np.abs(W).max() > 0.9 * bound
    assert abs(params["W1"].std() - np.sqrt(2 / (25 + 12288))) < 0.02 * np.sqrt(2 / (25 + 12288))


def test_initialize_parameters_same_seed_same_values():
    values = []
    for _ in range(2):
        with tf.Graph().as_default():
            values.append(run(initialize_parameters((30, 4, 3), seed=7)))
    np.testing.assert_array_equal(values[0]["W1"], values[1]["W1"])


def test_initialize_parameters_with_batch_norm_drops_hidden_biases(graph):
    params = initialize_parameters((10, 5, 4, 3), batch_norm=True)
    assert "b1" not in params and "b2" not in params and "b3" in params
    assert {"gamma1", "beta1", "moving_mean1", "moving_variance1", "gamma2"} <= set(params)
    trainable = {v.name.split(":")[0] for v in v1.trainable_variables()}
    assert "moving_mean1" not in trainable and "gamma1" in trainable
    values = run(params)
    assert (values["gamma1"] == 1).all() and (values["moving_variance2"] == 1).all()


@pytest.mark.parametrize("dims", [(7, 3), (7, 5, 3), (7, 6, 5, 4, 3)])
def test_forward_propagation_matches_numpy(graph, dims):
    rng = np.random.default_rng(0)
    params = {}
    for l in range(1, len(dims)):
        params[f"W{l}"] = rng.normal(size=(dims[l], dims[l - 1])).astype(np.float32)
        params[f"b{l}"] = rng.normal(size=(dims[l], 1)).astype(np.float32)
    X_value = rng.normal(size=(dims[0], 9)).astype(np.float32)
    X, _ = create_placeholders(dims[0], dims[-1])
    Z = forward_propagation(X, {k: tf.constant(v) for k, v in params.items()})
    assert Z.shape.as_list() == [dims[-1], None]
    np.testing.assert_allclose(run(Z, {X: X_value}), np_forward(X_value, params), rtol=1e-5, atol=1e-5)


def test_compute_cost_known_case(graph):
    Z_value = np.array([[2.0, -1.0, 0.5], [1.0, 3.0, 0.5], [0.1, 0.2, 0.5]], np.float32)
    Y_value = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]], np.float32)
    cost = run(compute_cost(tf.constant(Z_value), tf.constant(Y_value)))
    assert cost == pytest.approx(np_softmax_xent(Z_value, Y_value), rel=1e-6)
    assert cost == pytest.approx(np.mean([0.41703, 0.07625, np.log(3)]), abs=1e-4)


def test_compute_cost_with_l2(graph):
    W = np.arange(6, dtype=np.float32).reshape(2, 3)
    params = {"W1": tf.constant(W), "b1": tf.zeros((2, 1))}
    Z, Y = np.zeros((2, 4), np.float32), np.tile(np.eye(2, dtype=np.float32), 2)
    cost = run(compute_cost(tf.constant(Z), tf.constant(Y), params, lambd=0.5))
    assert cost == pytest.approx(np.log(2) + 0.5 / (2 * 4) * (W ** 2).sum(), rel=1e-6)


def test_compute_accuracy(graph):
    Z = tf.constant([[3.0, 0.0, 0.0, 1.0], [0.0, 2.0, 0.0, 0.0]])
    Y = tf.constant([[1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 0.0, 1.0]])
    assert run(compute_accuracy(Z, Y)) == pytest.approx(0.75)


@pytest.mark.parametrize("optimizer", ["gd", "momentum", "rmsprop", "adam"])
def test_train_op_lowers_cost(graph, optimizer):
    X_value, Y_value = blobs(64)
    v1.set_random_seed(0)
    X, Y = create_placeholders(20, 3)
    params = initialize_parameters((20, 8, 3), seed=0)
    cost = compute_cost(forward_propagation(X, params), Y)
    train_op = build_train_op(cost, 0.05 if optimizer != "gd" else 0.5, optimizer)
    feed = {X: X_value, Y: Y_value}
    with v1.Session() as sess:
        sess.run(v1.global_variables_initializer())
        before = sess.run(cost, feed)
        for _ in range(50):
            sess.run(train_op, feed)
        assert sess.run(cost, feed) < 0.5 * before


def test_unknown_optimizer_is_named(graph):
    with pytest.raises(ValueError, match="unknown optimizer 'adagrad'"):
        build_train_op(tf.Variable(1.0) ** 2, 0.1, "adagrad")


def test_predict_matches_numpy():
    rng = np.random.default_rng(1)
    params = {"W1": rng.normal(size=(4, 5)), "b1": rng.normal(size=(4, 1)),
              "W2": rng.normal(size=(3, 4)), "b2": rng.normal(size=(3, 1))}
    X = rng.normal(size=(5, 11))
    np.testing.assert_array_equal(predict(X, params), np_forward(X, params).argmax(axis=0))
    probabilities = predict(X, params, return_probabilities=True)
    assert probabilities.shape == (3, 11)
    np.testing.assert_allclose(probabilities.sum(axis=0), 1, rtol=1e-6)


def test_dropout_only_in_training_and_keeps_the_expectation(graph):
    rng = np.random.default_rng(2)
    params = {"W1": tf.constant(rng.normal(size=(50, 4)).astype(np.float32)), "b1": tf.ones((50, 1)),
              "W2": tf.constant(rng.normal(size=(3, 50)).astype(np.float32)), "b2": tf.zeros((3, 1))}
    X_value = np.repeat(rng.normal(size=(4, 1)).astype(np.float32), 4000, axis=1)
    X, _ = create_placeholders(4, 3)
    training = v1.placeholder_with_default(True, [])
    dropped = forward_propagation(X, params, training=training, keep_prob=0.5, seed=3)
    plain = forward_propagation(X, params)
    with v1.Session() as sess:
        sess.run(v1.global_variables_initializer())  # the global step, part of the mask seed
        Z_train, Z_plain = sess.run([dropped, plain], {X: X_value})
        Z_test = sess.run(dropped, {X: X_value, training: False})
    np.testing.assert_array_equal(Z_test, Z_plain)
    assert not np.allclose(Z_train[:, 0], Z_plain[:, 0])
    spread = Z_train.std(axis=1) / np.sqrt(Z_train.shape[1])
    np.testing.assert_array_less(np.abs(Z_train.mean(axis=1) - Z_plain[:, 0]), 5 * spread)
