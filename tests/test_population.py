"""Population training: each member ends where training it alone ends, evaluated a batch at a time;
the tune executor uses it."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REAL_DATA, FakeSigns, blobs, requires_real_data, step_nodes
from tests.test_batch_norm import STATISTICS_TOLERANCE, whole_set_statistics
from tfsigns.config import ConfigError, TrainConfig
from tfsigns.search import executors
from tfsigns.search.executors import population_executor
from tfsigns.search.space import config_for
from tfsigns.training import trainer
from tfsigns.training.inference import predict
from tfsigns.training.population import check_population
from tfsigns.training.trainer import train, train_population

MEMBERS = [dict(learning_rate=0.01, beta1=0.9, seed=1),
           dict(learning_rate=0.003, beta1=0.95, beta2=0.99, epsilon=1e-6, lambd=0.05, seed=2),
           dict(learning_rate=0.02, decay="inverse-time", decay_rate=0.5, seed=3)]


@pytest.mark.parametrize("batch_norm", [False, True])
def test_each_member_equals_training_it_alone(batch_norm):
    X, Y = blobs(90, n_x=30)
    X_val, Y_val = blobs(30, n_x=30, seed=5)
    configs = [TrainConfig(layers=(8, 5), num_epochs=12, minibatch_size=16, batch_norm=batch_norm, **member)
               for member in MEMBERS]
    together = train_population(configs, X, Y, {"validation": (X_val, Y_val)})
    for config, (parameters, history) in zip(configs, together, strict=True):
        alone_parameters, alone = train(config, X, Y, {"validation": (X_val, Y_val)})
        # atol: the last epochs' costs are near 1e-4, each loss a difference of float32 terms of
        # order 1, so their rounding is absolute (oneDNN rounds the population's products and the
        # single run's differently)
        np.testing.assert_allclose(history.costs, alone.costs, rtol=1e-5, atol=1e-8)
        assert history.learning_rates == alone.learning_rates
        assert history.accuracy == pytest.approx(alone.accuracy, abs=1 / 30 + 1e-9)
        for name, value in alone_parameters.items():
            np.testing.assert_allclose(parameters[name], value, rtol=1e-3, atol=1e-4, err_msg=name)


def test_stacked_members_are_evaluated_a_batch_at_a_time():
    """601 examples are three evaluation batches: each member's batch-norm statistics are still its
    whole training set's, its accuracy what predict finds, and its parameters carry its config."""
    X, Y = blobs(601, n_x=30)
    X_val, Y_val = blobs(300, n_x=30, seed=5)
    configs = [TrainConfig(layers=(8, 5), num_epochs=3, minibatch_size=64, batch_norm=True, **member)
               for member in MEMBERS]
    together = train_population(configs, X, Y, {"validation": (X_val, Y_val)})
    for config, (parameters, history) in zip(configs, together, strict=True):
        assert parameters.config == config
        for name, value in whole_set_statistics(config, parameters, X).items():
            np.testing.assert_allclose(parameters[name], value, **STATISTICS_TOLERANCE, err_msg=name)
        for name, (X_set, Y_set) in (("train", (X, Y)), ("validation", (X_val, Y_val))):
            right = np.mean(predict(X_set, parameters) == Y_set.argmax(axis=0))
            assert right == pytest.approx(history.accuracy[name]), name


@pytest.mark.parametrize("lambds, penalized", [((0.0, 0.0), False), ((0.0, 0.1), True)])
def test_the_l2_penalty_is_built_only_when_a_member_has_one(lambds, penalized):
    """As a single run builds none for lambd 0: over stacked first layers the zero penalty's ops
    cost a quarter of the epoch."""
    from tfsigns.backend import tf
    from tfsigns.networks import get_network
    from tfsigns.training.population import build_population_graph
    configs = [TrainConfig(layers=(5,), lambd=lambd, seed=k + 1) for k, lambd in enumerate(lambds)]
    members = [trainer.initial_parameters(c, (30,), 6) for c in configs]
    with tf.Graph().as_default() as graph:
        build_population_graph(get_network("mlp"), configs, members, 40, (30,), 6)
    assert ("Square" in {node.op for node in step_nodes(graph)}) == penalized


def test_members_must_share_the_architecture():
    with pytest.raises(ConfigError, match="must share layers"):
        check_population([TrainConfig(layers=(4,)), TrainConfig(layers=(5,))])
    with pytest.raises(ConfigError, match="Adam without dropout"):
        check_population([TrainConfig(keep_prob=0.9)])


def test_a_diverging_member_fails_alone():
    X, Y = blobs(60, n_x=30)
    configs = [TrainConfig(layers=(6,), num_epochs=5, learning_rate=lr)
               for lr in (0.01, 1e37)]
    (_, good), (_, bad) = train_population(configs, X, Y)
    assert not good.warnings and np.isfinite(good.costs).all()
    assert bad.warnings and "cost became" in bad.warnings[0]


def test_population_executor_groups_trials(tmp_path, monkeypatch):
    """The two Adam trials without dropout train together as one population; the two dropout
    trials, though they share an architecture, run one by one through executors.run_trial. Spies
    record where each trial went and let the real training run."""
    data_dir = str(FakeSigns(tmp_path, n_train=60, n_test=12).dir)
    base = TrainConfig(layers=(4,), num_epochs=3)
    params = [{"learning_rate": 0.01}, {"learning_rate": 0.001},
              {"learning_rate": 0.01, "keep_prob": 0.9}, {"learning_rate": 0.001, "keep_prob": 0.9}]
    tasks = [{"trial": f"r0-00{i}", "round": 0, "params": p, "config": config_for(base, p).to_dict(),
              "data_dir": data_dir, "threads": 1, "device": "cpu", "validation_fraction": 0.2,
              "split_seed": 0}
             for i, p in enumerate(params)]
    trial_of = [(TrainConfig(**task["config"]), task["trial"]) for task in tasks]
    populations, alone, final_costs = [], [], {}
    real_train_population, real_run_trial = train_population, executors.run_trial

    def train_population_spy(configs, *args, **kwargs):
        trials = [next(trial for config, trial in trial_of if config == c) for c in configs]
        populations.append(trials)
        trained = real_train_population(configs, *args, **kwargs)
        for trial, (_, history) in zip(trials, trained, strict=True):
            final_costs[trial] = history.costs[-1]
        return trained

    def run_trial_spy(task):
        alone.append(task["trial"])
        return real_run_trial(task)

    # where the executor looks the names up
    monkeypatch.setattr(trainer, "train_population", train_population_spy)
    monkeypatch.setattr(executors, "run_trial", run_trial_spy)
    rows = {row["trial"]: row for row in population_executor(tasks, workers=4)}
    assert populations == [["r0-000", "r0-001"]], populations
    assert alone == ["r0-002", "r0-003"], alone
    assert set(rows) == {task["trial"] for task in tasks} and all(r["status"] == "ok" for r in rows.values())
    for task in tasks:  # each row carries its own trial's hyperparameters
        assert {key: rows[task["trial"]][key] for key in task["params"]} == task["params"]
    for trial, cost in final_costs.items():  # each member's own result lands in its own row
        assert rows[trial]["final_cost"] == pytest.approx(cost)


@requires_real_data
def test_population_bench_runs_at_tiny_size():
    bench = Path(__file__).resolve().parents[1] / "bench" / "population_speed.py"
    result = subprocess.run([sys.executable, str(bench), "--members", "2", "--epochs", "2", "--data-dir",
                             str(REAL_DATA)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "2 members in one graph" in result.stdout
