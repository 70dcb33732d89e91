"""The fast session loop keeps the course's semantics; the speed bench keeps working."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench.epoch_speed import FLOOR, course_loop, summarize, time_first_conv, time_floor
from tests.conftest import REAL_DATA, blobs, requires_real_data, step_nodes
from tfsigns.config import TrainConfig
from tfsigns.trainer import train

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


@pytest.mark.parametrize("timer, arch", [(time_floor, "mlp"), (time_floor, "cnn"), (time_first_conv, "cnn")])
def test_the_floor_and_the_first_convolution_time_at_tiny_size(timer, arch):
    """The arithmetic floor (NumPy only) runs over the course's shuffles for the MLP's columns
    and the CNN's images; so does TensorFlow's first convolution alone."""
    X, Y = blobs(70, n_x=12288, C=6)
    data = (X, Y) if arch == "mlp" else (X.T.reshape(-1, 64, 64, 3), Y.T)
    ms, costs = timer(*data, epochs=2, arch=arch)
    assert ms > 0 and costs == []


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



@pytest.mark.parametrize("settings", [{}, {"batch_norm": True}, {"keep_prob": 0.9}])
def test_the_first_layers_product_is_the_einsum_in_each_step(settings):
    """The rows step and the columns step (batch norm, dropout) both multiply the pixels by W1
    as one einsum (mlp.pixel_product: as a MatMul oneDNN took 3x as long)."""
    from tfsigns.backend import tf
    from tfsigns.model import build_training_graph
    from tfsigns.networks import get_network
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
    from tfsigns.mlp import NETWORK
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
