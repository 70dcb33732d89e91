"""The course's convolutional network as the second family: shapes, batch norm per channel,
training on the fast loop (deterministic, resumable), the commands with --arch cnn."""

import json

import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import FakeSigns, run_main
from tfsigns.config import ConfigError, RunSettings, TrainConfig, TrainingInterrupted
from tfsigns.images.signs import convert_to_one_hot
from tfsigns.networks.cnn import compute_cost, create_placeholders, forward_propagation, initialize_parameters
from tfsigns.networks.layers import BATCH_MOMENTS, batch_norm_layer
from tfsigns.predict import main as predict_main
from tfsigns.train import main as train_main
from tfsigns.training.population import check_population
from tfsigns.training.trainer import cnn_model, train

v1 = tf.compat.v1
SMALL = dict(arch="cnn", filters=(4,), kernels=(3,), pools=(4,), num_epochs=6, minibatch_size=16,
             learning_rate=0.01)
QUIET = RunSettings(print_cost=False)


def images(m: int, seed: int = 0, C: int = 3):
    """Separable toy images (m, 8, 8, 3): each class lights up one colour channel."""
    rng = np.random.default_rng(seed)
    labels = np.arange(m) % C
    X = rng.uniform(0, 0.3, size=(m, 8, 8, 3)).astype(np.float32)
    X[np.arange(m), :, :, labels] += 0.7
    return X, convert_to_one_hot(labels, C).T


def test_the_course_network_has_the_course_shapes(graph):
    X, Y = create_placeholders(64, 64, 3, 6)
    parameters = initialize_parameters()
    assert {k: tuple(v.shape) for k, v in parameters.items()} == {
        "W1": (4, 4, 3, 8), "W2": (2, 2, 8, 16), "W3": (64, 6), "b3": (6,)}
    Z = forward_propagation(X, parameters)
    cost = compute_cost(Z, Y)
    with v1.Session() as sess:
        sess.run(v1.global_variables_initializer())
        X_value = np.random.default_rng(1).normal(size=(2, 64, 64, 3))
        Z_value, cost_value = sess.run([Z, cost], {X: X_value, Y: np.eye(6)[[0, 3]]})
    assert Z_value.shape == (2, 6) and np.isfinite(cost_value)


@pytest.mark.parametrize("batch_norm", [False, True])
def test_pooling_before_the_relu_changes_no_value_and_no_gradient(graph, batch_norm):
    X = tf.constant(np.random.default_rng(3).normal(size=(4, 16, 16, 3)), tf.float32)
    parameters = initialize_parameters((16, 16, 3), 6, (4, 8), (3, 2), (4, 2), batch_norm=batch_norm)
    training = tf.constant(True)

    def course_order(X):  # CONV2D -> [BN] -> RELU -> MAXPOOL, as the lecture draws it
        A = X
        for l, pool in enumerate((4, 2), start=1):
            Z = tf.nn.conv2d(A, parameters[f"W{l}"], strides=1, padding="SAME")
            if batch_norm:
                Z = batch_norm_layer(Z, parameters, l, training, axes=(0, 1, 2))
            A = tf.nn.max_pool2d(tf.nn.relu(Z), ksize=pool, strides=pool, padding="SAME")
        return tf.matmul(tf.reshape(A, [4, -1]), parameters["W3"]) + parameters["b3"]

    variables = [v for v in parameters.values() if v.trainable]
    ours = forward_propagation(X, parameters, batch_norm, training, pools=(4, 2), fused_bn=False)
    course = course_order(X)
    with v1.Session() as sess:
        sess.run(v1.global_variables_initializer())
        got, want = sess.run([[logits, *tf.gradients(logits, variables)] for logits in (ours, course)])
    for a, b in zip(got, want, strict=True):
        assert np.array_equal(a, b)


def test_conv_batch_norm_takes_per_channel_statistics_over_batch_height_and_width(graph):
    Z = tf.constant(np.random.default_rng(2).normal(3.0, 2.0, size=(5, 4, 4, 3)), tf.float32)
    params = {name: tf.Variable(value) for name, value in {
        "gamma1": np.ones(3, np.float32), "beta1": np.zeros(3, np.float32),
        "moving_mean1": np.zeros(3, np.float32), "moving_variance1": np.ones(3, np.float32)}.items()}
    out = batch_norm_layer(Z, params, 1, tf.constant(True), axes=(0, 1, 2))
    mean, variance = tf.nn.moments(Z, axes=[0, 1, 2])
    expected = tf.nn.batch_normalization(Z, mean, variance, 0.0, 1.0, 1e-3)
    with v1.Session() as sess:
        sess.run(v1.global_variables_initializer())
        got, want = sess.run([out, expected])
    np.testing.assert_allclose(got, want, atol=1e-5)


@pytest.mark.parametrize("training", [True, False])
def test_fused_batch_norm_is_the_lectures_formulas(graph, training):
    """The fused kernel against the formulas: logits and gradients, the recorded moments and, in
    training mode (the only one whose train op runs them), the averages' updates. They sum in other
    orders, so they agree to float32 rounding, not bit for bit."""
    X = tf.constant(np.random.default_rng(5).normal(0.5, 2.0, size=(6, 16, 16, 3)), tf.float32)
    parameters = initialize_parameters((16, 16, 3), 6, (4, 8), (3, 2), (4, 2), batch_norm=True)
    variables = [v for v in parameters.values() if v.trainable]
    mode = tf.constant(training)
    results = []
    for fused in (True, False):
        before = len(v1.get_collection(v1.GraphKeys.UPDATE_OPS))
        logits = forward_propagation(X, parameters, True, mode, pools=(4, 2), fused_bn=fused)
        updates = [op.inputs[1] for op in v1.get_collection(v1.GraphKeys.UPDATE_OPS)[before:]]
        updates = updates if training else []
        moments = [m for entry in v1.get_collection(BATCH_MOMENTS)[-2:] for m in entry[2:]]
        results.append([logits, *tf.gradients(tf.reduce_sum(logits ** 2), variables), *updates, *moments])
    with v1.Session() as sess:
        sess.run(v1.global_variables_initializer())
        sess.run([parameters["moving_mean1"].assign(tf.fill([4], 0.3)),
                  parameters["moving_variance2"].assign(tf.fill([8], 2.0))])
        fused, formulas = sess.run(results)
    for a, b in zip(fused, formulas, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("options", [{}, {"batch_norm": True, "dense": (8,), "keep_prob": 0.8,
                                          "lambd": 0.01}])
def test_a_small_cnn_learns_and_repeats_itself(options):
    X, Y = images(48)
    X_test, Y_test = images(24, seed=1)
    config = TrainConfig(**{**SMALL, **options})
    (first, history), (_, again) = (train(config, X, Y, {"test": (X_test, Y_test)}, QUIET) for _ in range(2))
    assert history.costs == again.costs
    assert history.costs[-1] < history.costs[0] and history.accuracy["test"] > 0.6
    if options:
        assert {"gamma1", "moving_mean1", "W2", "gamma2", "W3", "b3"} <= set(first)


def test_cnn_model_trains_with_the_course_signature_and_prints_every_5_epochs(capsys):
    X, Y = images(48)
    X_test, Y_test = images(24, seed=1)
    parameters, history = cnn_model(X, Y, X_test, Y_test, 0.01, 11, 16, filters=(4,), kernels=(3,),
                                    pools=(4,))
    out = capsys.readouterr().out
    assert [line.split(":")[0] for line in out.splitlines() if line.startswith("Cost")] == [
        f"Cost after epoch {epoch}" for epoch in (0, 5, 10)]
    assert f"Test Accuracy: {history.test_accuracy:.4f}" in out and history.test_accuracy > 0.6
    assert parameters["W1"].shape == (3, 3, 3, 4) and len(history.costs) == 11


def test_a_resumed_cnn_ends_where_an_uninterrupted_one_does(tmp_path):
    X, Y = images(48)
    config = TrainConfig(**{**SMALL, "batch_norm": True})
    whole, history = train(config, X, Y, run=QUIET)
    stops = iter([False, False, True])
    with pytest.raises(TrainingInterrupted):
        train(config, X, Y, run=QUIET, checkpoint_dir=tmp_path, should_stop=lambda: next(stops))
    resumed, resumed_history = train(config, X, Y, run=QUIET, checkpoint_dir=tmp_path, resume=True)
    assert resumed_history.costs == history.costs
    for name, value in whole.items():
        np.testing.assert_array_equal(resumed[name], value, err_msg=name)


def test_cnn_settings_are_checked():
    with pytest.raises(ConfigError, match="one entry per conv block"):
        TrainConfig(arch="cnn", filters=(8, 16), kernels=(4,), pools=(8, 4))
    with pytest.raises(ConfigError, match="population training"):
        check_population([TrainConfig(**SMALL), TrainConfig(**{**SMALL, "learning_rate": 0.02})])


@pytest.fixture(scope="module")
def cnn_run(tmp_path_factory):
    data_dir = FakeSigns(tmp_path_factory.mktemp("signs"), n_train=36, n_test=12).dir
    out = tmp_path_factory.mktemp("runs") / "cnn"
    code, stdout, err = run_main(train_main, ["--arch", "cnn", "--data-dir", str(data_dir), "--out", str(out),
                                              "--epochs", "3", "--filters", "4", "--kernels", "3", "--pools",
                                              "8", "--dense", "", "--quiet", "--plots"])
    assert code == 0, err
    return data_dir, out


def test_train_cli_takes_the_cnn_and_its_course_settings(cnn_run):
    _, out = cnn_run
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["config"]["arch"] == "cnn" and metrics["input_shape"] == [64, 64, 3]
    # not given: the CNN notebook's learning rate and minibatch size, not the MLP's
    assert metrics["config"]["learning_rate"] == 0.009 and metrics["config"]["minibatch_size"] == 64
    assert (out / "confusion.png").is_file()


def test_predict_answers_with_a_cnn_run(cnn_run, tmp_path):
    from PIL import Image
    _, out = cnn_run
    photo = tmp_path / "sign.png"
    Image.new("RGB", (90, 120), (200, 150, 120)).save(photo)
    code, stdout, err = run_main(predict_main, [str(photo), "--model", str(out), "--json"])
    assert code == 0, err
    row = json.loads(stdout)
    assert len(row["probabilities"]) == 6 and abs(sum(row["probabilities"]) - 1) < 1e-5


@pytest.mark.parametrize("flags, message", [
    (["--filters", "8,16", "--kernels", "4"], "one entry per conv block"),
    (["--pools", "0"], "every entry must be at least 1"),
    (["--dense", "a"], "malformed --dense"),
])
def test_bad_cnn_flags_get_one_line(cnn_run, tmp_path, flags, message):
    data_dir, _ = cnn_run
    code, _, err = run_main(train_main, ["--arch", "cnn", "--data-dir", str(data_dir), "--out",
                                         str(tmp_path / "run"), *flags])
    assert code == 2 and err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "run").exists()


@pytest.mark.skipif(not tf.config.list_physical_devices("GPU"),
                    reason="TensorFlow sees no GPU on this machine")
def test_the_cnn_trains_on_the_gpu():
    X, Y = images(48)
    _, history = train(TrainConfig(**SMALL), X, Y, run=RunSettings(device="gpu", print_cost=False))
    assert history.device == "/GPU:0" and history.costs[-1] < history.costs[0]


def test_a_cnn_search_takes_the_notebook_settings_as_its_base(cnn_run, tmp_path):
    from tfsigns.search.tune import base_settings, build_parser
    from tfsigns.tune import main as tune_main
    base, _, _ = base_settings(build_parser().parse_args(["--arch", "cnn"]))
    assert (base.arch, base.num_epochs, base.learning_rate, base.minibatch_size) == ("cnn", 100, 0.009, 64)
    data_dir, _ = cnn_run
    out = tmp_path / "search"
    code, stdout, err = run_main(tune_main, ["--arch", "cnn", "--data-dir", str(data_dir), "--out", str(out),
                                             "--epochs", "2", "--trials", "2", "--workers", "1",
                                             "--validation-fraction", "0.34", "--backend", "population"])
    assert code == 0, err
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [row["config"]["arch"] for row in rows] == ["cnn", "cnn"]
    assert all(row["status"] == "ok" for row in rows)
    assert json.loads((out / "best.json").read_text())["arch"] == "cnn"
