"""Batch norm in the graph: TensorFlow's own op agrees, statistics behave, moving averages update; the
test-time statistics and evaluation go through the data a batch at a time."""

import math
from dataclasses import replace

import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import blobs, requires_real_data
from tests.test_cnn import images
from tfsigns.config import TrainConfig
from tfsigns.networks import get_network
from tfsigns.networks.layers import batch_norm_layer, compute_cost, create_training_flag
from tfsigns.networks.mlp import create_placeholders, forward_propagation, initialize_parameters
from tfsigns.training.graph import EVAL_BATCH_SIZE, build_train_op, logits
from tfsigns.training.inference import predict
from tfsigns.training.trainer import train

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
        got_train, want_train = sess.run([out, reference_train], {Z: Z_value, training: True})
        got_test, want_test = sess.run([out, reference_test], {Z: Z_value})  # test mode unless fed
    np.testing.assert_allclose(got_train, want_train, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got_test, want_test, rtol=1e-5, atol=1e-5)


def test_training_mode_output_has_mean_beta_and_std_gamma(graph):
    Z, training, p, out = bn_graph()
    Z_value = np.random.default_rng(2).normal(-4, 10, size=(5, 64)).astype(np.float32)
    with v1.Session() as sess:
        sess.run(v1.global_variables_initializer())
        Z_tilde, gamma, beta = sess.run([out, p["gamma1"], p["beta1"]], {Z: Z_value, training: True})
    np.testing.assert_allclose(Z_tilde.mean(axis=1, keepdims=True), beta, atol=1e-4)
    np.testing.assert_allclose(Z_tilde.std(axis=1, keepdims=True), gamma, rtol=1e-3)


def test_moving_averages_update_with_the_train_op(graph):
    """The classic bug: update ops that never run. One train step must move the averages."""
    X, Y = create_placeholders(20, 3)
    params = initialize_parameters((20, 4, 3), seed=0, batch_norm=True)
    W1 = params["W1"]
    cost = compute_cost(forward_propagation(X, params, batch_norm=True, training=tf.constant(True),
                                            bn_momentum=0.9), Y)
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
    # 60 epochs where the accuracies are checked; 10 show the moving averages and one-at-a-time predictions
    config = TrainConfig(batch_norm=True, num_epochs=60 if population_stats else 10, learning_rate=0.0001,
                         bn_population_stats=population_stats)
    parameters, history = train(config, X_train, Y_train, {"test": (X_test, Y_test)})
    whole = predict(X_test, parameters)
    assert np.mean(whole == Y_test.argmax(axis=0)) == pytest.approx(history.test_accuracy)
    # A test-mode prediction does not depend on the batch: every third image, alone, as in the batch.
    single = np.array([predict(X_test[:, [i]], parameters)[0] for i in range(0, X_test.shape[1], 3)])
    np.testing.assert_array_equal(single, whole[::3])
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


# ---------------------------------------------------------------- the whole training set, a batch at a time

SMALL_CNN = dict(arch="cnn", filters=(4,), kernels=(3,), pools=(4,), dense=(5,), minibatch_size=32)
M = 601  # three evaluation batches, the last one short; no layer of these networks has 601 units
# float32 rounding: the batches' float32 activations (sums of at most 48 products) and their float32
# moments over at most 256 * 8 * 8 positions were off the float64 whole-set values by at most 2.1e-6
# relative, 1e-5 absolute on a variance of 6 (measured); leaving out the spread between the batch
# means moved a variance by 2.8e-5 (CNN) to 5e-3 (MLP) relative.
STATISTICS_TOLERANCE = dict(rtol=1e-5, atol=1e-6)


def data_and_config(arch: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray, TrainConfig]:
    """Toy data in the family's layout and a small batch-norm network of it (the CNN's per channel
    and per dense unit)."""
    X, Y = blobs(M, seed=seed) if arch == "mlp" else images(M, seed)
    shape = dict(layers=(8, 6)) if arch == "mlp" else SMALL_CNN
    return X, Y, TrainConfig(**shape, num_epochs=3, learning_rate=0.01, batch_norm=True)


def whole_set_statistics(config: TrainConfig, parameters: dict, X: np.ndarray) -> dict[str, np.ndarray]:
    """Each batch-norm layer's mean and variance over all of X under the trained parameters, as one
    training-mode pass (momentum 0) computes them, in float64."""
    network = get_network(config.arch)
    with tf.Graph().as_default():
        params = {k: tf.Variable(np.asarray(v, np.float64)) for k, v in parameters.items()}
        whole_set = replace(config, bn_momentum=0.0)
        logits(network, tf.constant(X, tf.float64), params, whole_set, tf.constant(True))
        with v1.Session() as sess:
            sess.run(v1.global_variables_initializer())
            sess.run(v1.get_collection(v1.GraphKeys.UPDATE_OPS))
            return sess.run({k: v for k, v in params.items() if k.startswith("moving")})


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_population_statistics_over_batches_are_the_whole_sets(arch):
    X, Y, config = data_and_config(arch)
    parameters, _ = train(config, X, Y)
    whole = whole_set_statistics(config, parameters, X)
    assert len(whole) == 4
    for name, value in whole.items():
        np.testing.assert_allclose(parameters[name], value, **STATISTICS_TOLERANCE, err_msg=name)


def tensors_holding(m: int, traces: list) -> list[str]:
    """The nodes of traced session runs that computed a tensor with m along one of its axes
    (a read of a variable, the resident training set, allocates nothing)."""
    return sorted({f"{node.node_name} {[d.size for d in out.tensor_description.shape.dim]}"
                   for trace in traces for device in trace.step_stats.dev_stats for node in device.node_stats
                   if not node.node_name.endswith("ReadVariableOp")
                   for out in node.output if m in [d.size for d in out.tensor_description.shape.dim]})


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_evaluation_statistics_and_prediction_never_hold_a_whole_set(arch, monkeypatch):
    """After training, the accuracies, batch norm's statistics and predict run EVAL_BATCH_SIZE
    examples at a time: no tensor of any run spans the 601 training or evaluation examples."""
    X, Y, config = data_and_config(arch)
    X_eval, Y_eval, _ = data_and_config(arch, seed=1)
    traces, tracing = [], []  # tracing from the end of the last epoch on
    real_run = v1.Session.run

    def trace_after(epoch, *_):
        if epoch == config.num_epochs - 1:
            tracing.append(epoch)

    def traced_run(self, fetches, feed_dict=None, options=None, run_metadata=None):
        if not tracing:
            return real_run(self, fetches, feed_dict, options, run_metadata)
        traces.append(v1.RunMetadata())
        full = v1.RunOptions(trace_level=v1.RunOptions.FULL_TRACE)
        return real_run(self, fetches, feed_dict, full, traces[-1])

    monkeypatch.setattr(v1.Session, "run", traced_run)
    parameters, history = train(config, X, Y, {"eval": (X_eval, Y_eval)}, on_epoch=trace_after)
    predictions = predict(X_eval, parameters)
    assert len(traces) > 2 * math.ceil(M / EVAL_BATCH_SIZE)
    assert tensors_holding(M, traces) == []
    labels = Y_eval.argmax(axis=-2 if arch == "mlp" else -1)
    assert np.mean(predictions == labels) == pytest.approx(history.accuracy["eval"])
