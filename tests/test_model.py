"""Graph builders: shapes and values against NumPy computations."""

import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import blobs
from tfsigns.config import INITS, TrainConfig, TrainingInterrupted
from tfsigns.networks.layers import compute_cost
from tfsigns.networks.mlp import (
    create_placeholders,
    forward_propagation,
    initialize_parameters,
    initializer_seed,
)
from tfsigns.training.graph import build_train_op, compute_accuracy, count_correct
from tfsigns.training.inference import predict
from tfsigns.training.trainer import train

v1 = tf.compat.v1
BETA2, EPSILON = 0.999, 1e-8  # build_train_op's defaults


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


def np_rmsprop_step(W, s, dW, learning_rate, beta2, epsilon):
    """The lecture's RMSProp step: returns the new (W, s)."""
    s = beta2 * s + (1 - beta2) * dW ** 2
    return W - learning_rate * dW / (np.sqrt(s) + epsilon), s


def glorot_limit(n, n_prev):
    return np.sqrt(6 / (n + n_prev))


def initial_values(dims, seed, init="course"):
    """initialize_parameters' values in a fresh graph."""
    with tf.Graph().as_default():
        return run(initialize_parameters(dims, seed=seed, init=init))


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


@pytest.mark.parametrize("init", INITS)
def test_initialize_parameters_same_seed_same_values(init):
    first, second = initial_values((30, 4, 3), 7, init), initial_values((30, 4, 3), 7, init)
    for key in first:
        np.testing.assert_array_equal(first[key], second[key])


def test_initialize_parameters_defaults_to_course():
    default, course = initial_values((30, 4, 3), 7), initial_values((30, 4, 3), 7, "course")
    for key in default:
        np.testing.assert_array_equal(default[key], course[key])


def test_course_init_makes_later_layers_rescaled_copies_of_w1():
    """Every layer's Glorot initializer has op seed `seed`: W[l] flattened is the start of
    W1 flattened times limit_l / limit_1 (the course's behaviour, kept on purpose)."""
    dims = (12288, 25, 12, 6)
    params = initial_values(dims, seed=1)
    W1 = params["W1"].ravel()
    for l in (2, 3):
        W = params[f"W{l}"]
        ratio = glorot_limit(dims[l], dims[l - 1]) / glorot_limit(dims[1], dims[0])
        np.testing.assert_allclose(W.ravel(), W1[:W.size] * ratio, rtol=0, atol=1e-6)


def test_independent_init_gives_each_layer_its_own_stream():
    dims = (12288, 25, 12, 6)
    course, independent = initial_values(dims, 1, "course"), initial_values(dims, 1, "independent")
    W1 = independent["W1"].ravel()
    for l in (2, 3):
        W = independent[f"W{l}"]
        ratio = glorot_limit(dims[l], dims[l - 1]) / glorot_limit(dims[1], dims[0])
        assert np.corrcoef(W.ravel(), W1[:W.size])[0, 1] < 0.5
        assert not np.allclose(W.ravel(), W1[:W.size] * ratio, atol=1e-3)
        assert np.abs(W).max() <= glorot_limit(dims[l], dims[l - 1])
    assert not np.allclose(independent["W1"], course["W1"])


def test_independent_seeds_do_not_collide_across_nearby_seeds():
    seeds = [initializer_seed(seed, l, "independent") for seed in range(-5, 50) for l in range(1, 8)]
    assert len(set(seeds)) == len(seeds)
    assert all(0 <= s < 2**31 - 1 for s in seeds)
    assert {initializer_seed(3, l) for l in range(1, 8)} == {3}


def test_unknown_init_is_named(graph):
    with pytest.raises(ValueError, match="unknown init 'he'; choose from course, independent"):
        initialize_parameters((4, 3), init="he")


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
    assert run(count_correct(Z, Y)) == 3 and run(count_correct(tf.stack([Z, -Z]), Y)).tolist() == [3, 2]


def test_accuracy_over_batches_is_the_whole_sets():
    """Evaluation counts right answers a batch at a time: 601 examples are three runs, the last one short."""
    X, Y = blobs(601)
    X_eval, Y_eval = blobs(601, seed=4)
    parameters, history = train(TrainConfig(layers=(8,), num_epochs=2, learning_rate=0.01), X, Y,
                                {"eval": (X_eval, Y_eval)})
    for name, (X_set, Y_set) in (("train", (X, Y)), ("eval", (X_eval, Y_eval))):
        correct = np.sum(np_forward(X_set, parameters).argmax(axis=0) == Y_set.argmax(axis=0))
        assert history.accuracy[name] == float(np.float32(correct) / np.float32(601)), name


# The first update of each optimizer from zero state, as a function of the gradient g:
# momentum's v = 0.9 * 0 + g; RMSProp's s = (1 - beta2) g^2, so |step| = lr / sqrt(1 - beta2)
# whatever the scale of g; Adam's bias-corrected m / sqrt(v) is g / (|g| + eps / sqrt(1 - beta2)).
FIRST_STEP = {
    "gd": lambda g, lr: -lr * g,
    "momentum": lambda g, lr: -lr * g,
    "rmsprop": lambda g, lr: -lr * g / (np.sqrt(1 - BETA2) * np.abs(g) + EPSILON),
    "adam": lambda g, lr: -lr * g / (np.abs(g) + EPSILON / np.sqrt(1 - BETA2)),
}


@pytest.mark.parametrize(("optimizer", "learning_rate"),
                         [("gd", 0.5), ("momentum", 0.05), ("rmsprop", 0.05), ("adam", 0.05)])
def test_train_op_first_step_and_cost_falls(graph, optimizer, learning_rate):
    X_value, Y_value = blobs(64)
    v1.set_random_seed(0)
    X, Y = create_placeholders(20, 3)
    params = initialize_parameters((20, 8, 3), seed=0)
    cost = compute_cost(forward_propagation(X, params), Y)
    gradients = tf.gradients(cost, list(params.values()))
    train_op = build_train_op(cost, learning_rate, optimizer)
    feed = {X: X_value, Y: Y_value}
    with v1.Session() as sess:
        sess.run(v1.global_variables_initializer())
        before, start, g = sess.run([cost, params, gradients], feed)
        sess.run(train_op, feed)
        after_one = sess.run(params)
        for _ in range(49):
            sess.run(train_op, feed)
        after = sess.run(cost, feed)
    for (key, W), dW in zip(start.items(), g, strict=True):
        np.testing.assert_allclose(after_one[key] - W, FIRST_STEP[optimizer](dW, learning_rate),
                                   rtol=1e-3, atol=1e-6, err_msg=key)
    assert after < 0.5 * before


def test_rmsprop_matches_the_lecture_formula(graph):
    """Two steps against NumPy, gradients over five orders of magnitude, the learning rate
    fed per step: s starts at 0 and epsilon sits outside the square root."""
    W0 = np.array([[0.5, -1.0, 2.0], [0.1, 0.0, -0.3]])
    target = np.array([[1.0, 1.0, 1.0], [-1.0, 2.0, 0.0]])
    scale = np.array([[1e-4, 1e-2, 1.0], [10.0, 0.3, 3e-3]])
    beta2, epsilon, rates = 0.9, 1e-3, (0.1, 0.02)
    W = tf.Variable(W0.astype(np.float32))
    cost = 0.5 * tf.reduce_sum(tf.constant(scale, tf.float32) * tf.square(W - target.astype(np.float32)))
    learning_rate = v1.placeholder(tf.float32, [])
    train_op = build_train_op(cost, learning_rate, "rmsprop", beta2=beta2, epsilon=epsilon)
    want, s = W0, np.zeros_like(W0)
    with v1.Session() as sess:
        sess.run(v1.global_variables_initializer())
        for rate in rates:
            sess.run(train_op, {learning_rate: rate})
            want, s = np_rmsprop_step(want, s, scale * (want - target), rate, beta2, epsilon)
            np.testing.assert_allclose(sess.run(W), want, rtol=1e-5, atol=1e-6)
        assert sess.run(v1.train.get_global_step()) == len(rates)


def test_rmsprop_trains_inside_the_epoch_loop_and_resumes(tmp_path):
    """The trainer builds the step in a tf.while_loop body: two full-batch epochs there equal
    two steps of the plain graph; the slots s are checkpointed, so an interrupted and resumed
    run ends bit-identical to an uninterrupted one."""
    X_value, Y_value = blobs(40)
    config = TrainConfig(layers=(6,), num_epochs=2, minibatch_size=40, learning_rate=0.01,
                         optimizer="rmsprop", seed=0)
    trained, _ = train(config, X_value, Y_value)
    with tf.Graph().as_default():
        v1.set_random_seed(config.seed)
        X, Y = create_placeholders(20, 3)
        params = initialize_parameters((20, 6, 3), seed=config.seed)
        train_op = build_train_op(compute_cost(forward_propagation(X, params), Y), 0.01, "rmsprop")
        with v1.Session() as sess:
            sess.run(v1.global_variables_initializer())
            for _ in range(config.num_epochs):
                sess.run(train_op, {X: X_value, Y: Y_value})
            plain = sess.run(params)
    for key in plain:
        np.testing.assert_allclose(trained[key], plain[key], rtol=1e-5, atol=1e-6, err_msg=key)

    config = TrainConfig(layers=(6,), num_epochs=6, minibatch_size=16, learning_rate=0.01,
                         optimizer="rmsprop", seed=0)
    uninterrupted, history = train(config, X_value, Y_value)
    assert history.costs[-1] < history.costs[0]
    with pytest.raises(TrainingInterrupted):
        train(config, X_value, Y_value, checkpoint_dir=tmp_path, should_stop=lambda: True)
    slots = dict(tf.train.list_variables(str(tmp_path)))
    assert {key: slots[f"{key}/LectureRMSProp"] for key in trained} == {
        key: list(value.shape) for key, value in trained.items()}
    resumed, _ = train(config, X_value, Y_value, checkpoint_dir=tmp_path, resume=True)
    for key in uninterrupted:
        np.testing.assert_array_equal(resumed[key], uninterrupted[key], err_msg=key)


def test_unknown_optimizer_is_named(graph):
    with pytest.raises(ValueError, match="unknown optimizer 'adagrad'"):
        build_train_op(tf.Variable(1.0) ** 2, 0.1, "adagrad")


def test_predict_matches_numpy():
    rng = np.random.default_rng(1)
    params = {"W1": rng.normal(size=(4, 5)), "b1": rng.normal(size=(4, 1)),
              "W2": rng.normal(size=(3, 4)), "b2": rng.normal(size=(3, 1))}
    X = rng.normal(size=(5, 11))
    np.testing.assert_array_equal(predict(X, params, TrainConfig()), np_forward(X, params).argmax(axis=0))
    probabilities = predict(X, params, TrainConfig(), return_probabilities=True)
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
