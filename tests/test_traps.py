"""The course API's traps (issue 46), each as a learner or a TF1 user would meet it: a forward pass in
training mode unless asked, training that reseeds the caller's NumPy or leaves TensorFlow's op
determinism on, predict refusing the plain dict sess.run returns, a family that needed entries in
several tables besides its registration, and dropout masks shared by neighbouring seeds. Each test
failed against the code before its fix."""

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.python.framework import config as tf_config

from tests.conftest import blobs
from tfsigns.config import NETWORKS, ConfigError, RunSettings, TrainConfig
from tfsigns.images.signs import random_mini_batches
from tfsigns.networks import COLUMNS, Network, cnn, mlp
from tfsigns.networks.layers import create_training_flag
from tfsigns.training.inference import predict
from tfsigns.training.trainer import train

v1 = tf.compat.v1
QUIET = RunSettings(print_cost=False)


# ---------------------------------------------------------------- inference is the default


def small_cnn() -> dict:
    """A batch-norm CNN on 8x8x3 images: one conv block of 4 3x3 filters, pool 2, 5 dense units, 3 classes."""
    return cnn.initialize_parameters((8, 8, 3), 3, (4,), (3,), (2,), dense=(5,), batch_norm=True)


@pytest.mark.parametrize("family", ["mlp", "cnn"])
def test_a_forward_pass_is_in_test_mode_unless_training_is_asked_for(family):
    """One example read alone gives what it gives in its batch: batch norm's moving averages, not the
    statistics of a batch of one (which normalize every unit to 0 and make every example one class)."""
    X = np.random.default_rng(0).uniform(size=(12, 16) if family == "mlp" else (4, 8, 8, 3))
    with tf.Graph().as_default(), v1.Session() as sess:
        v1.set_random_seed(1)
        if family == "mlp":
            parameters = mlp.initialize_parameters((12, 5, 3), batch_norm=True)
            x = v1.placeholder(tf.float32, [12, None])
            Z = mlp.forward_propagation(x, parameters, batch_norm=True)
            sess.run(v1.global_variables_initializer())
            alone = [sess.run(Z, {x: X[:, [i]]})[:, 0] for i in range(X.shape[1])]
            together = sess.run(Z, {x: X}).T
        else:
            parameters = small_cnn()
            x = v1.placeholder(tf.float32, [None, 8, 8, 3])
            Z = cnn.forward_propagation(x, parameters, batch_norm=True, pools=(2,))
            sess.run(v1.global_variables_initializer())
            alone = [sess.run(Z, {x: X[[i]]})[0] for i in range(X.shape[0])]
            together = sess.run(Z, {x: X})
    np.testing.assert_allclose(np.stack(alone), together, rtol=1e-5, atol=1e-6)


def test_the_training_flag_defaults_to_test_mode():
    with tf.Graph().as_default(), v1.Session() as sess:
        assert not sess.run(create_training_flag())


@pytest.mark.parametrize("family", ["mlp", "cnn"])
def test_forward_propagation_takes_the_numpy_parameters_sess_run_returned(family):
    """What a learner holds after training (sess.run(parameters)) runs the network as the variables do,
    batch norm's statistics included."""
    X = np.random.default_rng(1).uniform(size=(12, 7) if family == "mlp" else (7, 8, 8, 3)).astype(np.float32)
    with tf.Graph().as_default(), v1.Session() as sess:
        v1.set_random_seed(1)
        if family == "mlp":
            parameters = mlp.initialize_parameters((12, 5, 4, 3), batch_norm=True)
            forward = mlp.forward_propagation
            options = {}
        else:
            parameters = small_cnn()
            forward, options = cnn.forward_propagation, {"pools": (2,)}
        sess.run(v1.global_variables_initializer())
        for name, value in parameters.items():  # moving averages and gammas away from their starts
            if not name.startswith("W"):
                value.load(np.random.default_rng(2).uniform(0.5, 1.5, value.shape.as_list()), sess)
        from_variables = sess.run(forward(tf.constant(X), parameters, batch_norm=True, **options))
        arrays = sess.run(parameters)
    with tf.Graph().as_default(), v1.Session() as sess:
        from_arrays = sess.run(forward(tf.constant(X), arrays, batch_norm=True, **options))
    np.testing.assert_allclose(from_arrays, from_variables, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- no global state changes


def test_training_leaves_the_callers_numpy_stream_alone():
    X, Y = blobs(40)
    np.random.seed(7)
    expected = np.random.rand(3)
    np.random.seed(7)
    train(TrainConfig(layers=(4,), num_epochs=3, minibatch_size=16), X, Y, run=QUIET)
    np.testing.assert_array_equal(np.random.rand(3), expected)


def test_random_mini_batches_shuffles_as_the_course_without_reseeding_numpy():
    """The course's shuffle (np.random.seed(seed), then np.random.permutation), bit for bit, from a
    generator of its own: the caller's stream goes on where it was."""
    X, Y = blobs(40)
    np.random.seed(5)
    course = np.random.permutation(40)
    np.random.seed(11)
    expected = np.random.rand(2)
    np.random.seed(11)
    batches = random_mini_batches(X, Y, 16, seed=5)
    np.testing.assert_array_equal(np.random.rand(2), expected)
    np.testing.assert_array_equal(np.concatenate([x for x, _ in batches], axis=1), X[:, course])


def test_training_and_predict_leave_the_default_graph_alone():
    """Each builds in a graph of its own: a learner's default graph gains no op and stays the default."""
    X, Y = blobs(40)
    graph = v1.get_default_graph()
    ops = len(graph.get_operations())
    config = TrainConfig(layers=(4,), num_epochs=2, minibatch_size=16, batch_norm=True)
    parameters, _ = train(config, X, Y, run=QUIET)
    predict(X, dict(parameters))
    assert v1.get_default_graph() is graph and len(graph.get_operations()) == ops


@pytest.mark.parametrize("before", [False, True])
def test_op_determinism_is_on_for_the_run_and_as_it_was_after(before):
    X, Y = blobs(40)
    (tf_config.enable_op_determinism if before else tf_config.disable_op_determinism)()
    during = []
    try:
        train(TrainConfig(layers=(4,), num_epochs=2, minibatch_size=16), X, Y, run=QUIET,
              on_epoch=lambda *_: during.append(tf_config.is_op_determinism_enabled()))
        assert during == [True, True] and tf_config.is_op_determinism_enabled() == before
    finally:
        tf_config.disable_op_determinism()


def test_op_determinism_is_restored_when_a_run_fails():
    X, Y = blobs(40)
    tf_config.disable_op_determinism()

    def fail(*_):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(TrainConfig(layers=(4,), num_epochs=2, minibatch_size=16), X, Y, run=QUIET, on_epoch=fail)
    assert not tf_config.is_op_determinism_enabled()


# ---------------------------------------------------------------- predict takes a plain dict


@pytest.mark.parametrize("settings", [{"layers": (6, 4)}, {"layers": (6,), "batch_norm": True},
                                      {"layers": (5,), "normalize": "dataset"}])
def test_predict_reads_a_plain_dict_by_its_keys(settings):
    """What the keys show (the layers, batch norm's parameters, the stored input statistics) needs no
    config: dict(parameters), the arrays sess.run returns, predict as the trained parameters do."""
    X, Y = blobs(60, n_x=12288 if "normalize" in settings else 20)  # dataset normalization takes photos
    if "normalize" in settings:
        X = np.abs(X) % 1
    parameters, _ = train(TrainConfig(num_epochs=3, minibatch_size=16, **settings), X, Y, run=QUIET)
    expected = predict(X, parameters)
    np.testing.assert_array_equal(predict(X, dict(parameters)), expected)
    np.testing.assert_allclose(predict(X, dict(parameters), return_probabilities=True),
                               predict(X, parameters, return_probabilities=True), rtol=1e-6)


def test_predict_reads_a_plain_dict_of_the_course_cnn():
    X = np.random.default_rng(3).uniform(size=(10, 64, 64, 3)).astype(np.float32)
    Y = np.eye(6, dtype=np.float32)[np.arange(10) % 6]
    parameters, _ = train(TrainConfig(arch="cnn", num_epochs=1, minibatch_size=8), X, Y, run=QUIET)
    np.testing.assert_array_equal(predict(X, dict(parameters)), predict(X, parameters))



def test_predict_asks_for_the_config_where_the_keys_do_not_tell():
    """A CNN trained with other pools than the default has the shapes of no network its keys show."""
    X = np.random.default_rng(4).uniform(size=(6, 64, 64, 3)).astype(np.float32)
    Y = np.eye(6, dtype=np.float32)[np.arange(6)]
    config = TrainConfig(arch="cnn", pools=(4, 4), num_epochs=1, minibatch_size=8)
    parameters, _ = train(config, X, Y, run=QUIET)
    with pytest.raises(ValueError, match="pass config="):
        predict(X, dict(parameters))
    np.testing.assert_array_equal(predict(X, dict(parameters), config=config), predict(X, parameters))


# ---------------------------------------------------------------- a family: one module, one registration


class TwoLayers(Network):
    """A toy family, this module its one module: LINEAR -> RELU -> LINEAR with 8 hidden units, columns."""

    layout = COLUMNS
    populations = False
    course_functions = {}

    def parameter_shapes(self, config, input_shape, n_y):
        return {"W1": (8, *input_shape), "b1": (8, 1), "W2": (n_y, 8), "b2": (n_y, 1)}

    def create_placeholders(self, input_shape, n_y):
        return v1.placeholder(tf.float32, [*input_shape, None]), v1.placeholder(tf.float32, [n_y, None])

    def initialize_parameters(self, config, input_shape, n_y):
        glorot = v1.glorot_uniform_initializer(seed=config.seed)
        return {name: v1.get_variable(name, shape, initializer=glorot)
                for name, shape in self.parameter_shapes(config, input_shape, n_y).items()}

    def forward(self, X, parameters, config, training):
        A1 = tf.nn.relu(parameters["W1"] @ X + parameters["b1"])
        return parameters["W2"] @ A1 + parameters["b2"]


NETWORK = TwoLayers()


def test_a_family_registered_in_one_line_trains(monkeypatch):
    """NETWORKS["mlp2"] naming this module is all it takes: TrainConfig, train() and predict take it;
    the other families' own settings are refused for it with a reason, not a KeyError."""
    monkeypatch.setitem(NETWORKS, "mlp2", __name__)
    X, Y = blobs(60)
    config = TrainConfig(arch="mlp2", num_epochs=20, learning_rate=0.05, minibatch_size=16)
    parameters, history = train(config, X, Y, run=QUIET)
    assert history.train_accuracy > 0.9
    assert np.mean(predict(X, parameters) == Y.argmax(axis=0)) == pytest.approx(history.train_accuracy)
    with pytest.raises(ConfigError, match="the mlp2 family has no conv blocks"):
        TrainConfig(arch="mlp2", filters=(3,), kernels=(3,), pools=(2,))


# ---------------------------------------------------------------- dropout's seeds


def test_dropout_masks_of_neighbouring_seeds_are_unrelated():
    """Layer 2 of seed 1 drew layer 1 of seed 2's mask when a layer's dropout seed was seed + l. Through
    identity layers on ones, a network's logits are its masks' product (scaled): three layers of seed 1
    give layer 1's mask times layer 2's, and with seed + l those were two layers' masks of seeds 1 and 2."""
    def logits(layers: int, seed: int) -> np.ndarray:
        with tf.Graph().as_default(), v1.Session() as sess:
            v1.train.get_or_create_global_step()
            parameters = {name: tf.eye(50) if name[0] == "W" else tf.zeros((50, 1))
                          for l in range(1, layers + 1) for name in (f"W{l}", f"b{l}")}
            ZL = mlp.forward_propagation(tf.ones((50, 40)), parameters, training=tf.constant(True),
                                         keep_prob=0.5, seed=seed)
            sess.run(v1.global_variables_initializer())
            return sess.run(ZL)
    layer_1_of_seed_1, layer_1_of_seed_2 = logits(2, 1), logits(2, 2)
    assert not np.array_equal(logits(3, 1), layer_1_of_seed_1 * layer_1_of_seed_2)
