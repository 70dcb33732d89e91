"""The session loop and the train CLI: synthetic data for the mechanics, real SIGNS for results."""

import json
import math
import subprocess
import sys

import pytest
import tensorflow as tf

from tests.conftest import REAL_DATA, blobs, requires_real_data
from tfsigns.config import (
    RUN_FIELDS,
    ConfigError,
    RunSettings,
    TrainConfig,
    TrainingDiverged,
    learning_rate_decay,
)
from tfsigns.train import main
from tfsigns.training.trainer import resolve_device, train

SMALL = dict(layers=(8,), num_epochs=30, minibatch_size=16, learning_rate=0.01)


def toy_train(**overrides):
    X, Y = blobs(100)
    X_test, Y_test = blobs(40, seed=1)
    settings = {**SMALL, "print_cost": False, **overrides}
    config = TrainConfig(**{k: v for k, v in settings.items() if k not in RUN_FIELDS})
    run = RunSettings(**{k: v for k, v in settings.items() if k in RUN_FIELDS})
    return train(config, X, Y, {"test": (X_test, Y_test)}, run)


def test_train_learns_toy_problem():
    parameters, history = toy_train()
    assert len(history.costs) == 30 and history.costs[-1] < 0.3 * history.costs[0]
    assert history.train_accuracy == 1.0
    assert set(parameters) == {"W1", "b1", "W2", "b2"} and parameters["W1"].shape == (8, 20)
    assert history.learning_rates == [0.01] * 30


def test_same_seed_same_cost_history_other_seed_differs():
    first, second, other = (toy_train(seed=s)[1].costs for s in (5, 5, 6))
    assert first == second
    assert first != other


def test_prints_cost_every_n_epochs(capsys):
    toy_train(print_cost=True, print_every=10)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == [f"Cost after epoch {e}" for e in (0, 10, 20)]
    assert all(math.isfinite(float(line.split(": ")[1])) for line in lines)


def test_divergence_is_reported():
    X, Y = blobs(100)
    with pytest.raises(TrainingDiverged, match="lower the learning rate"):
        train(TrainConfig(**{**SMALL, "learning_rate": 1e30, "optimizer": "gd"}), X * 1e10, Y)


@pytest.mark.parametrize("field, value, message", [
    ("learning_rate", 0.0, "learning_rate must be a positive number"),
    ("learning_rate", float("nan"), "learning_rate must be a positive number"),
    ("beta1", 1.0, r"beta1 must lie in \[0, 1\)"),
    ("beta2", -0.1, r"beta2 must lie in \[0, 1\)"),
    ("epsilon", 0.0, "epsilon must be a positive number"),
    ("minibatch_size", 0, "minibatch_size must be a positive integer"),
    ("layers", (25, 0), "layers must be one or more positive unit counts"),
    ("optimizer", "adagrad", "unknown optimizer 'adagrad'"),
    ("keep_prob", 0.0, r"keep_prob must lie in \(0, 1\]"),
])
def test_config_rejects(field, value, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**{field: value})


def test_learning_rate_decay_schedules():
    def rate(decay, epoch, **kw):
        return learning_rate_decay(TrainConfig(learning_rate=0.5, decay=decay, **kw), epoch)
    assert rate("none", 10) == 0.5
    assert rate("inverse-time", 3, decay_rate=1.0) == pytest.approx(0.5 / 4)
    assert rate("exponential", 2, decay_rate=0.95) == pytest.approx(0.5 * 0.95 ** 2)
    assert [rate("staircase", e, decay_rate=1.0, decay_interval=10) for e in (0, 9, 10, 25)] == \
        pytest.approx([0.5, 0.5, 0.25, 0.5 / 3])


@pytest.mark.skipif(bool(tf.config.list_physical_devices("GPU")), reason="this machine has a GPU")
def test_gpu_requested_without_gpu_is_clear():
    with pytest.raises(ConfigError, match="no GPU"):
        resolve_device("gpu")


@pytest.mark.parametrize("argv, message", [
    (["--learning-rate", "-1"], "learning_rate must be a positive number"),
    (["--layers", "25,x"], "malformed --layers"),
    (["--layers", "25,0"], "every layer needs at least one unit"),
    (["--minibatch-size", "0"], "minibatch_size must be a positive integer"),
    (["--optimizer", "adagrad"], "invalid choice: 'adagrad'"),
    (["--data-dir", "/nonexistent/signs"], "data folder /nonexistent/signs (from --data-dir) does not exist"),
    (["--out", "/proc/version/out"], "--out /proc/version/out: cannot write there"),
])
def test_cli_bad_input_one_line_exit_2(argv, message, tmp_path, capsys):
    argv = ["--out", str(tmp_path / "out"), "--epochs", "1", *argv]
    with pytest.raises(SystemExit) as exit_info:
        sys.exit(main(argv))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err
    assert not (tmp_path / "out" / "metrics.json").exists()


@requires_real_data
def test_cli_short_real_run(tmp_path):
    out = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-m", "tfsigns.train", "--data-dir", str(REAL_DATA), "--epochs", "40",
         "--print-every", "20", "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "Cost after epoch 20:" in result.stdout and "Test Accuracy:" in result.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(metrics["costs"]) == 40 and metrics["costs"][-1] < metrics["costs"][0] - 0.2
    assert metrics["config"]["learning_rate"] == 0.0001 and metrics["device"] == "/CPU:0"
    assert metrics["tensorflow_version"] == tf.__version__ and 0 < metrics["test_accuracy"] <= 1
    assert (out / "cost.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    reader = tf.train.load_checkpoint(str(out / "checkpoints"))
    assert reader.get_variable_to_shape_map()["W1"] == [25, 12288]
    assert not list(out.glob(".*")), "temporary files left behind"


@requires_real_data
@pytest.mark.parametrize("argv, rates", [
    (["--optimizer", "momentum", "--momentum", "0.8", "--learning-rate", "0.01",
      "--decay", "inverse-time", "--decay-rate", "0.5"], [0.01, 0.01 / 1.5, 0.01 / 2]),
    (["--optimizer", "rmsprop", "--beta2", "0.9", "--learning-rate", "0.001",
      "--decay", "exponential", "--decay-rate", "0.5"], [0.001, 0.0005, 0.00025]),
    (["--optimizer", "gd", "--learning-rate", "0.1", "--decay", "staircase", "--decay-rate", "1",
      "--decay-interval", "2"], [0.1, 0.1, 0.05]),
    (["--optimizer", "adam", "--beta1", "0.8", "--beta2", "0.99", "--epsilon", "1e-7", "--batch-norm",
      "--lambd", "0.1", "--keep-prob", "0.9", "--validation-fraction", "0.1"], [0.0001] * 3),
])
def test_cli_optimizers_and_decay_recorded(argv, rates, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["--data-dir", str(REAL_DATA), "--epochs", "3", "--quiet", "--out", str(out), *argv]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["learning_rates"] == pytest.approx(rates)
    assert all(math.isfinite(c) for c in metrics["costs"])
    assert metrics["config"]["optimizer"] == argv[1]
    if "--validation-fraction" in argv:
        assert set(metrics["accuracy"]) == {"train", "validation", "test"}


def test_monitor_writes_tensorboard_scalars_and_refreshes_the_curve(tmp_path):
    """Babysitting a run: cost and learning rate every epoch, accuracies and cost.png every N."""
    from tensorflow.core.util import event_pb2

    from tfsigns.training.monitor import Monitor
    X, Y = blobs(100)
    monitor = Monitor(tmp_path, every=5)
    seen = []

    def watch(epoch, history, evaluate):
        monitor(epoch, history, evaluate)
        seen.append((epoch, (tmp_path / "cost.png").exists()))

    train(TrainConfig(**{**SMALL, "num_epochs": 12}), X, Y, {"validation": blobs(30, seed=2)},
          on_start=monitor.start, on_epoch=watch)
    monitor.close()
    assert seen[3] == (3, False) and seen[4] == (4, True)  # drawn while training, from epoch 5 on
    steps = {}
    for path in (tmp_path / "tensorboard").glob("events.out.tfevents.*"):
        for record in tf.data.TFRecordDataset(str(path)):
            event = event_pb2.Event.FromString(record.numpy())
            if event.graph_def:  # the training graph, for TensorBoard's Graphs
                graph = tf.compat.v1.GraphDef.FromString(event.graph_def)
                steps["graph"] = {node.op for node in graph.node} | {node.name for node in graph.node}
            for value in event.summary.value:
                steps.setdefault(value.tag, []).append(event.step)
    assert steps["cost"] == list(range(12)) and steps["learning_rate"] == list(range(12))
    assert steps["accuracy/train"] == [4, 9] and steps["accuracy/validation"] == [4, 9]
    assert {"While", "permutation", "learning_rate", "W1"} <= steps["graph"]  # the epoch op, its feeds
