"""Batch norm in the graph: TensorFlow's own op agrees, statistics behave, moving averages update."""

import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import blobs, requires_real_data
from tfsigns.config import TrainConfig
from tfsigns.inference import predict
from tfsigns.mlp import create_placeholders, forward_propagation, initialize_parameters
from tfsigns.model import batch_norm_layer, build_train_op, compute_cost, create_training_flag
from tfsigns.trainer import train

v1 = tf.compat.v1
EPS = 1e-3


def bn_graph(n=5, momentum=0.9):
    """Z placeholder (n, None), BN parameters with non-trivial gamma/beta/moving stats, and BN output."""
    rng = np.random.default_rng(0)
    Z = v1.placeholder(tf.float32, [n, None])
    training = create_training_flag()
    values = {"gamma1": rng.uniform(0.5, 2, (n, 1)), "beta1": rng.normal(size=(n, 1)),
              "moving_mean1": rng.normal(size=(n, 1)), "moving_variance1": rng.uniform(0.5, 2, (n, 1))}
    params = {k: tf.Variable(v.astype(np.float32), name=k) for k, v in values.items()}
    return Z, training, params, batch_norm_layer(Z, params, 1, training, momentum, EPS)


def test_batch_norm_equals_tf_nn_batch_normalization_in_both_modes(graph):
    Z, training, p, out = bn_graph()
    mean, var = tf.nn.moments(Z, axes=[1], keepdims=True)
    reference_train = tf.nn.batch_normalization(Z, mean, var, p["beta1"], p["gamma1"], EPS)
    reference_test = tf.nn.batch_normalization(Z, p["moving_mean1"], p["moving_variance1"],
                                               p["beta1"], p["gamma1"], EPS)
    Z_value = np.random.default_rng(1).normal(3, 2, size=(5, 32)).astype(np.float32)
    with v1.Session() as sess:
        sess.run(v1.global_variables_initializer())
        got_train, want_train = sess.run([out, reference_train], {Z: Z_value})
        got_test, want_test = sess.run([out, reference_test], {Z: Z_value, training: False})
    np.testing.assert_allclose(got_train, want_train, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got_test, want_test, rtol=1e-5, atol=1e-5)


def test_training_mode_output_has_mean_beta_and_std_gamma(graph):
    Z, _, p, out = bn_graph()
    Z_value = np.random.default_rng(2).normal(-4, 10, size=(5, 64)).astype(np.float32)
    with v1.Session() as sess:
        sess.run(v1.global_variables_initializer())
        Z_tilde, gamma, beta = sess.run([out, p["gamma1"], p["beta1"]], {Z: Z_value})
    np.testing.assert_allclose(Z_tilde.mean(axis=1, keepdims=True), beta, atol=1e-4)
    np.testing.assert_allclose(Z_tilde.std(axis=1, keepdims=True), gamma, rtol=1e-3)


def test_moving_averages_update_with_the_train_op(graph):
    """The classic bug: update ops that never run. One train step must move the averages."""
    X, Y = create_placeholders(20, 3)
    params = initialize_parameters((20, 4, 3), seed=0, batch_norm=True)
    W1 = params["W1"]
    cost = compute_cost(forward_propagation(X, params, batch_norm=True, bn_momentum=0.9), Y)
    train_op = build_train_op(cost, 0.01)
    X_value, Y_value = blobs(50)
    with v1.Session() as sess:
        sess.run(v1.global_variables_initializer())
        Z1 = sess.run(W1) @ X_value
        sess.run(train_op, {X: X_value, Y: Y_value})
        mean, variance = sess.run([params["moving_mean1"], params["moving_variance1"]])
    np.testing.assert_allclose(mean, 0.1 * Z1.mean(axis=1, keepdims=True), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(variance, 0.9 + 0.1 * Z1.var(axis=1, keepdims=True), rtol=1e-4)


def test_test_mode_does_not_depend_on_the_batch():
    X, Y = blobs(120)
    parameters, history = train(TrainConfig(layers=(8, 6), num_epochs=20, learning_rate=0.01,
                                            batch_norm=True), X, Y)
    whole = predict(X, parameters)
    one_by_one = np.concatenate([predict(X[:, [i]], parameters) for i in range(0, 120, 7)])
    np.testing.assert_array_equal(one_by_one, whole[::7])
    assert np.mean(whole == Y.argmax(axis=0)) == pytest.approx(history.train_accuracy)


@requires_real_data
@pytest.mark.parametrize("population_stats", [False, True])
def test_real_run_with_batch_norm_one_example_at_a_time(signs, population_stats):
    X_train, Y_train, X_test, Y_test, _ = signs
    config = TrainConfig(batch_norm=True, num_epochs=60, learning_rate=0.0001,
                         bn_population_stats=population_stats)
    parameters, history = train(config, X_train, Y_train, {"test": (X_test, Y_test)})
    labels = Y_test.argmax(axis=0)
    single = np.array([predict(X_test[:, [i]], parameters)[0] for i in range(X_test.shape[1])])
    assert np.mean(single == labels) == pytest.approx(history.test_accuracy)
    # Moving averages that never updated keep their initial 0 mean and unit variance.
    assert np.abs(parameters["moving_mean1"]).min() > 0 and (parameters["moving_variance2"] != 1).all()
    if population_stats:  # the test-time statistics are the training set's own
        assert history.train_accuracy > 0.95 and history.test_accuracy > 0.75


def test_population_statistics_are_the_training_sets():
    X, Y = blobs(120)
    parameters, _ = train(TrainConfig(layers=(8, 6), num_epochs=5, learning_rate=0.01, batch_norm=True), X, Y)
    Z1 = parameters["W1"] @ X
    np.testing.assert_allclose(parameters["moving_mean1"], Z1.mean(axis=1, keepdims=True),
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(parameters["moving_variance1"], Z1.var(axis=1, keepdims=True), rtol=1e-3)
