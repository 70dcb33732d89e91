"""The fast session loop keeps the course's semantics; the speed bench keeps working."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import bench.epoch_speed
from bench.epoch_speed import FLOOR, course_loop, summarize, time_first_conv, time_floor
from tests.conftest import REAL_DATA, blobs, requires_real_data, step_nodes
from tfsigns.config import TrainConfig
from tfsigns.images.signs import minibatch_permutation
from tfsigns.training.trainer import train

BENCH = Path(__file__).resolve().parents[1] / "bench" / "epoch_speed.py"


def test_whole_epoch_loop_matches_the_course_feed_dict_loop():
    """Same seeds, same shuffles: the in-graph while_loop and the plain loop agree to float32
    rounding (their epoch sums are accumulated in different precisions)."""
    X, Y = blobs(150, n_x=12288, C=6)
    _, course_costs = course_loop(X, Y, epochs=6)
    _, history = train(TrainConfig(num_epochs=6), X, Y)
    np.testing.assert_allclose(history.costs, course_costs, rtol=1e-5)


@requires_real_data
def test_bench_runs_at_tiny_size():
    result = subprocess.run([sys.executable, str(BENCH), "--epochs", "2", "--rounds", "1", "--data-dir",
                             str(REAL_DATA)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1].split()[0] == "tfsigns" and float(lines[1].split()[1]) > 0
    assert {line.split("  ")[0] for line in lines[2:6]} == {FLOOR, "keras fit", "course feed_dict loop",
                                                            "pytorch eager loop"}
    assert any(line.startswith("Adam's update of all parameters in NumPy, not in the floor")
               for line in lines[6:])
    floor = next(line for line in lines if line.startswith(FLOOR)).split()
    assert float(floor[2]) > 0 and float(floor[-2]) == 1.0  # its ms/epoch, and its ratio to itself


class CountingAdam(bench.epoch_speed.Adam):
    """The floor's Adam, keeping a copy of the last gradient (its step count is t)."""

    def step(self, grad):
        self.last_grad = grad.copy()
        super().step(grad)


@pytest.fixture
def adams(monkeypatch):
    """The Adams the floor makes, each a CountingAdam."""
    made = []
    monkeypatch.setattr(bench.epoch_speed, "Adam", lambda *args: made.append(CountingAdam(*args)) or made[-1])
    return made


def course_cnn_step_flops(b):
    """cnn_step_flops of b images (64, 64, 3) written out for the course CNN: conv 1 (4x4x3, 8
    filters, 64x64) forward and filter gradient, conv 2 (2x2x8, 16 filters, 8x8 after pool 8)
    forward, filter and input gradient, the dense layer (2x2x16 -> 6) three products."""
    conv1 = 2 * b * 64 * 64 * 8 * 4 * 4 * 3
    conv2 = 2 * b * 8 * 8 * 16 * 2 * 2 * 8
    dense = 2 * b * 2 * 2 * 16 * 6
    return 2 * conv1 + 3 * conv2 + 3 * dense


def test_the_mlp_floor_runs_the_first_layers_products_on_each_minibatch_of_each_epoch(adams):
    """ceil(70 / 32) = 3 minibatches an epoch, each an Adam step; the last step's gradient is the
    floor's dW1 = (W1 X_batch^T) X_batch on the last minibatch of the last epoch's shuffle."""
    X, Y = blobs(70, n_x=12288, C=6)
    ms, costs = time_floor(X, Y, epochs=3, arch="mlp")
    assert ms > 0 and costs == [] and bench.epoch_speed.FLOOR_PARTS["adam_ms"] > 0
    [adam] = adams
    assert adam.t == 3 * 3
    assert adam.w.size == 12288 * 25 + 25 + 25 * 12 + 12 + 12 * 6 + 6  # every parameter of 12288-25-12-6
    W1 = np.random.default_rng(1).standard_normal((25, 12288)).astype(np.float32) * 0.01
    last = X.T[minibatch_permutation(70, 3 + 2 + 1)[64:]].astype(np.float64)
    expected = (W1 @ last.T) @ last
    np.testing.assert_allclose(adam.last_grad[:W1.size].reshape(W1.shape), expected, rtol=1e-4,
                               atol=1e-5 * np.abs(expected).max())  # float32 sums of 12288 products


def test_the_cnn_floor_prices_each_minibatchs_flops_at_the_measured_rate(monkeypatch, adams):
    """At a rate of 1 MFLOP/s the FLOPs of an epoch's minibatches (64 and 6 images) come to
    hundreds of seconds, so the floor's figure is theirs, with the gather's few ms on top."""
    monkeypatch.setattr(bench.epoch_speed, "sgemm_rate", lambda: 1e6)
    X, Y = blobs(70, n_x=12288, C=6)
    ms, costs = time_floor(X.T.reshape(-1, 64, 64, 3), Y.T, epochs=3, arch="cnn")
    assert costs == []
    assert course_cnn_step_flops(64) == pytest.approx(415e6, rel=1e-2)  # docs/speed.md's figure
    expected = 1000 * (course_cnn_step_flops(64) + course_cnn_step_flops(6)) / 1e6
    assert expected <= ms <= expected + 1000
    [adam] = adams
    assert adam.t == 2 * 3 and adam.w.size == 4 * 4 * 3 * 8 + 2 * 2 * 8 * 16 + 2 * 2 * 16 * 6 + 6


def test_the_first_convolution_alone_takes_the_filter_gradient_of_each_minibatch(monkeypatch):
    """time_first_conv runs its step on each minibatch of the course's shuffles (64 images, then
    6) in each epoch asked for, and the step's value is the sum of the first convolution's filter
    gradient: for d/dW of sum(conv2d(X, W)) that is 8 filters x each pixel times the number of the
    4x4 SAME window's taps that reach it along each axis."""
    import tfsigns.training.graph
    from tfsigns.backend import tf
    seen, build_epoch_op = [], tfsigns.training.graph.build_epoch_op

    def recording(data_X, data_Y, permutation, minibatch_size, train_step, **kwargs):
        def step(X_batch, Y_batch):
            op, value = train_step(X_batch, Y_batch)
            record = tf.numpy_function(lambda *values: seen.append(values) or np.int32(0),
                                       [tf.shape(X_batch)[0], tf.reduce_sum(X_batch), value], tf.int32)
            return tf.group(op, record), value
        return build_epoch_op(data_X, data_Y, permutation, minibatch_size, step, **kwargs)

    monkeypatch.setattr(tfsigns.training.graph, "build_epoch_op", recording)
    X, Y = blobs(70, n_x=12288, C=6)
    images = X.T.reshape(-1, 64, 64, 3)
    ms, costs = time_first_conv(images, Y.T, epochs=3, arch="cnn")
    assert ms > 0 and costs == []
    # SAME padding of a 4x4 filter: 1 row (column) above, 2 below; taps[r]: the filter rows reaching row r
    taps = np.array([sum(0 <= r - i + 1 < 64 for i in range(4)) for r in range(64)], np.float64)
    expected = []
    for epoch in range(3):
        perm = minibatch_permutation(70, 3 + epoch + 1)
        for batch in (images[perm[:64]].astype(np.float64), images[perm[64:]].astype(np.float64)):
            expected.append((len(batch), batch.sum(), 8 * np.einsum("brsc,r,s->", batch, taps, taps)))
    assert [int(size) for size, _, _ in seen] == [size for size, _, _ in expected]
    np.testing.assert_allclose([sums for _, *sums in seen], [sums for _, *sums in expected], rtol=1e-4)


def test_the_first_layer_bench_prints_each_product_against_einsum():
    command = [sys.executable, str(BENCH.with_name("first_layer.py")), "--rounds", "1", "--epochs", "1"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    rows = [line.rsplit(None, 4) for line in result.stdout.splitlines()[1:]]  # name, ms, "x einsum", ratio
    assert [row[0] for row in rows] == ["X W1^T, MatMul with a transpose flag", "X W1^T, einsum",
                                        "dZ1^T X, MatMul with a transpose flag", "dZ1^T X, einsum"]
    assert all(row[2:4] == ["x", "einsum"] for row in rows)
    assert rows[1][4] == rows[3][4] == "1.00"  # the format: each einsum against itself
    [float(row[1]) for row in rows]  # each ms parses (a difference of medians: it may be near 0 under load)


@pytest.mark.parametrize("product, flag, equation", [("X W1^T", "transpose_b", "mk,nk->mn"),
                                                     ("dZ1^T X", "transpose_a", "mn,mk->nk")])
def test_the_first_layer_benchs_contenders_are_a_transposed_matmul_and_an_einsum_of_one_product(
        product, flag, equation):
    """Each pair the first-layer bench times: one MatMul with the transpose flag (and no Einsum),
    one Einsum (and no MatMul or Transpose), and both the product NumPy computes, to float32 rounding."""
    from bench.first_layer import N_1, PRODUCTS
    from tfsigns.backend import tf, v1
    rng = np.random.default_rng(0)
    X, W = rng.random((6, 40), np.float32), rng.standard_normal((N_1, 40)).astype(np.float32)
    expected = X.astype(np.float64) @ W.T if product == "X W1^T" else X[:, :N_1].T.astype(np.float64) @ X
    values = {}
    for kind, op in (("MatMul with a transpose flag", "MatMul"), ("einsum", "Einsum")):
        with tf.Graph().as_default() as graph:
            out = PRODUCTS[f"{product}, {kind}"](tf.constant(X), tf.constant(W))
            with v1.Session() as sess:
                values[kind] = sess.run(out)
        assert out.op.type == op, kind
        types = {node.type for node in graph.get_operations()}
        assert not types & ({"Einsum"} if op == "MatMul" else {"MatMul", "BatchMatMulV2", "Transpose"}), types
        if op == "MatMul":
            other = {"transpose_a", "transpose_b"} - {flag}
            assert out.op.get_attr(flag) and not out.op.get_attr(other.pop())
        else:
            assert out.op.get_attr("equation").decode() == equation
        np.testing.assert_allclose(values[kind], expected, rtol=1e-5, atol=1e-5)
    assert values["einsum"].shape == values["MatMul with a transpose flag"].shape == expected.shape
    np.testing.assert_allclose(values["einsum"], values["MatMul with a transpose flag"], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("settings", [{}, {"batch_norm": True}, {"keep_prob": 0.9}])
def test_the_first_layers_product_is_the_einsum_in_each_step(settings):
    """The rows step and the columns step (batch norm, dropout) both multiply the pixels by W1
    as one einsum (mlp.pixel_product: as a MatMul oneDNN took 3x as long)."""
    from tfsigns.backend import tf
    from tfsigns.networks import get_network
    from tfsigns.training.graph import build_training_graph
    with tf.Graph().as_default() as graph:
        build_training_graph(get_network("mlp"), TrainConfig(**settings), 64, (12288,), 6)
    step_einsums = {node.attr["equation"].s.decode() for node in step_nodes(graph) if node.op == "Einsum"}
    assert ("nk,km->nm" if settings else "mk,nk->mn") in step_einsums  # columns W1 X, or rows X W1^T


def test_the_bench_pairs_ratios_within_a_round_and_shows_their_median():
    rounds = [{"tfsigns": 100.0, "keras fit": 210.0, "torch": "not installed"},
              {"tfsigns": 50.0, "keras fit": 100.0, "torch": "not installed"},  # the machine ran 2x faster
              {"tfsigns": 100.0, "keras fit": 190.0, "torch": "not installed"}]
    summary = summarize(rounds)
    assert summary["tfsigns"] == (100.0, 1.0, 1.0, 1.0)
    assert summary["keras fit"] == (190.0, 2.0, 1.9, 2.1) and summary["torch"] == "not installed"
    rounds[1]["tfsigns"] = "failed (signal 11)"
    assert summarize(rounds)["keras fit"] == "tfsigns failed"


@pytest.mark.parametrize("normalize", ["none", "per-image", "dataset"])
def test_the_rows_step_trains_as_the_course_columns_would(monkeypatch, normalize):
    """The MLP's training step on the gathered rows (forward_rows) gives the columns step's
    costs and parameters to float32 rounding, with the L2 penalty, another optimizer and each
    input normalization (applied to the rows) too."""
    from tfsigns.networks.mlp import NETWORK
    X, Y = blobs(100, n_x=12288, C=6)
    config = TrainConfig(num_epochs=3, lambd=0.5, optimizer="momentum", learning_rate=0.001,
                         normalize=normalize)
    assert NETWORK.rows_forward(config) is not None
    rows_parameters, rows_history = train(config, X, Y)
    monkeypatch.setattr(type(NETWORK), "rows_forward", lambda self, config: None)
    columns_parameters, columns_history = train(config, X, Y)
    np.testing.assert_allclose(rows_history.costs, columns_history.costs, rtol=1e-5)
    for name, value in columns_parameters.items():
        assert rows_parameters[name].shape == value.shape
        np.testing.assert_allclose(rows_parameters[name], value, rtol=1e-4, atol=1e-6)
