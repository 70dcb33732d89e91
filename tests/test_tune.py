"""Hyperparameter search: scales, strategies, honest selection, executors, resume."""

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.conftest import FakeSigns, run_main
from tfsigns.config import TrainConfig
from tfsigns.search.executors import run_trial
from tfsigns.search.space import (
    SpaceError,
    config_for,
    grid_trials,
    load_space,
    narrowed_box,
    parse_space,
    random_trials,
)
from tfsigns.train import main as train_main
from tfsigns.tune import SearchSettings, search
from tfsigns.tune import main as tune_main

LECTURE = {"learning_rate": {"scale": "log", "low": 1e-4, "high": 1.0},
           "beta1": {"scale": "one-minus-log", "low": 0.9, "high": 0.999}}


@pytest.mark.parametrize("spec, message", [
    ({"learning_rate": {"scale": "log", "low": 0.1, "high": 0.01}}, "low (0.1) must be below high"),
    ({"learning_rate": {"scale": "log", "low": 0.0, "high": 1.0}}, "a log scale needs positive bounds"),
    ({"beta1": {"scale": "one-minus-log", "low": 0.9, "high": 1.0}}, "averages in (0, 1)"),
    ({"beta1": {"scale": "one-minus-log", "low": -0.5, "high": 0.9}}, "averages in (0, 1)"),
    ({"dropout_rate": {"scale": "uniform", "low": 0, "high": 1}}, "unknown hyperparameter 'dropout_rate'"),
    ({"hidden_units": {"scale": "int", "low": 4.5, "high": 9}}, "whole-number bounds"),
    ({"optimizer": {"choices": []}}, "choices must be a non-empty list"),
    ({"learning_rate": {"scale": "cubic", "low": 1, "high": 2}}, "unknown scale 'cubic'"),
    ({}, "non-empty"),
])
def test_space_errors_are_clear(spec, message):
    with pytest.raises(SpaceError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_space(spec)


def test_random_beats_grid_on_distinct_learning_rates():
    """The lecture's point: 25 trials over two hyperparameters. A 5x5 grid tries 5 learning
    rates (and 5 betas); random search tries 25 of each."""
    space = parse_space(LECTURE)
    grid = grid_trials(space, 25)
    rand = random_trials(space, 25, np.random.default_rng(0))
    assert len(grid) == len(rand) == 25
    assert len({t["learning_rate"] for t in grid}) == 5
    assert len({t["learning_rate"] for t in rand}) == 25 and len({t["beta1"] for t in rand}) == 25


def test_log_uniform_spends_equal_trials_per_decade():
    (alpha,) = parse_space({"learning_rate": LECTURE["learning_rate"]})
    rng = np.random.default_rng(1)
    values = np.array([alpha.sample(rng) for _ in range(8000)])
    assert values.min() >= 1e-4 and values.max() <= 1.0
    per_decade = np.histogram(np.log10(values), bins=[-4, -3, -2, -1, 0])[0]
    np.testing.assert_allclose(per_decade, 2000, rtol=0.08)  # uniform sampling: ~90% in [0.1, 1]


def test_one_minus_log_beta_spends_equal_trials_on_0_9_to_0_99_and_0_99_to_0_999():
    (beta,) = parse_space({"beta1": LECTURE["beta1"]})
    rng = np.random.default_rng(2)
    values = np.array([beta.sample(rng) for _ in range(4000)])
    assert 0.9 <= values.min() and values.max() <= 0.999
    assert abs(np.mean(values < 0.99) - 0.5) < 0.03


def test_int_and_choice_dimensions():
    space = parse_space({"hidden_units": {"scale": "int", "low": 4, "high": 6},
                         "optimizer": {"choices": ["adam", "momentum"]}})
    trials = random_trials(space, 300, np.random.default_rng(3))
    assert {t["hidden_units"] for t in trials} == {4, 5, 6}
    assert {t["optimizer"] for t in trials} == {"adam", "momentum"}
    assert config_for(TrainConfig(), {"hidden_units": 5, "num_layers": 3}).layers == (5, 5, 5)


def test_coarse_to_fine_box_spans_the_best_on_the_same_scale():
    space = parse_space({**LECTURE, "batch_norm": {"choices": [False, True]}})
    best = [{"learning_rate": 1e-3, "beta1": 0.99, "batch_norm": True},
            {"learning_rate": 1e-2, "beta1": 0.9, "batch_norm": True}]
    box = narrowed_box(space, best)
    # a choice keeps two values (the best's and a neighbour), so a round never repeats one config
    assert box["learning_rate"] == pytest.approx((0.25, 0.5)) and box["batch_norm"] == [False, True]
    finer = random_trials(space, 200, np.random.default_rng(4), box)
    lrs = [t["learning_rate"] for t in finer]
    assert 1e-3 <= min(lrs) and max(lrs) <= 1e-2
    assert all(0.9 <= t["beta1"] <= 0.99 for t in finer)


def test_one_best_trial_keeps_a_range_to_search():
    """--top-k 1 (or one successful trial): the next round searches around it, not at it."""
    space = parse_space({**LECTURE, "hidden_units": {"scale": "int", "low": 4, "high": 12},
                         "optimizer": {"choices": ["adam", "momentum", "rmsprop"]}})
    best = [{"learning_rate": 1e-3, "beta1": 0.99, "hidden_units": 8, "optimizer": "adam"}]
    box = narrowed_box(space, best)
    assert all(high - low >= 0.2 - 1e-12 for name, (low, high) in box.items() if name != "optimizer")
    assert len(box["optimizer"]) >= 2 and "adam" in box["optimizer"]
    finer = random_trials(space, 50, np.random.default_rng(5), box)
    assert len({t["learning_rate"] for t in finer}) == 50 and len({t["hidden_units"] for t in finer}) >= 2
    again = narrowed_box(space, best, box)  # a third round narrows within the second's box
    assert again["learning_rate"][1] - again["learning_rate"][0] > 0


def test_a_space_of_the_other_family_or_yaml_text_is_refused(tmp_path):
    with pytest.raises(SpaceError, match="hidden_units: the cnn family has no hidden MLP layers"):
        parse_space({"hidden_units": {"scale": "int", "low": 4, "high": 8}}, TrainConfig(arch="cnn"))
    with pytest.raises(SpaceError, match="filters: the mlp family has no conv blocks"):
        parse_space({"filters": {"choices": [[4, 8], [8, 16]]}})
    yaml_space = tmp_path / "space.yaml"
    yaml_space.write_text("learning_rate:\n  scale: log\n  low: 1e-4\n  high: 1.0e-1\n")
    text = r"low is the string '1e-4' \(YAML reads 1e-4 as text; write 1.0e-4\)"
    with pytest.raises(SpaceError, match=text):
        load_space(yaml_space)


@pytest.fixture(scope="module")
def fake_dir(tmp_path_factory):
    return str(FakeSigns(tmp_path_factory.mktemp("signs"), n_train=60, n_test=12).dir)


def task(fake_dir, **params):
    config = config_for(TrainConfig(layers=(4,), num_epochs=3), params)
    return {"trial": "r0-000", "round": 0, "params": params, "config": config.to_dict(), "data_dir": fake_dir,
            "threads": 1, "device": "cpu", "validation_fraction": 0.2, "split_seed": 0}


def test_failed_trial_is_recorded_with_its_reason(fake_dir):
    row = run_trial(task(fake_dir, learning_rate=1e37))
    assert row["status"] == "failed" and "cost became" in row["reason"]
    bad = task(fake_dir)
    bad["config"]["minibatch_size"] = 0
    row = run_trial(bad)
    assert row["status"] == "failed" and "minibatch_size must be a positive integer" in row["reason"]
    assert run_trial(task(fake_dir, learning_rate=0.01))["status"] == "ok"


def in_process(tasks, workers):
    return map(run_trial, tasks)


def test_search_resumes_and_skips_finished_trials(fake_dir, tmp_path):
    space = parse_space({"learning_rate": {"scale": "log", "low": 1e-3, "high": 1e-1}})
    settings = SearchSettings(strategy="coarse-to-fine", trials=3, rounds=2, top_k=2, validation_fraction=0.2)
    base = TrainConfig(layers=(4,), num_epochs=2)
    first = search(space, base, settings, fake_dir, tmp_path, log=lambda _: None, executor=in_process)
    assert [r["trial"] for r in first.rows] == ["r0-000", "r0-001", "r0-002", "r1-000", "r1-001", "r1-002"]
    rows = (tmp_path / "results.jsonl").read_text().splitlines()
    (tmp_path / "results.jsonl").write_text("\n".join(rows[:4]) + "\n")  # as if stopped after 4 trials
    ran = []
    search(space, base, settings, fake_dir, tmp_path, log=lambda _: None,
           executor=lambda tasks, w: (ran.append(t["trial"]) or run_trial(t) for t in tasks))
    assert ran == ["r1-001", "r1-002"]
    again = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert [r["learning_rate"] for r in again] == [r["learning_rate"] for r in first.rows]
    assert (tmp_path / "results.csv").read_text().splitlines()[0].startswith("trial,round,learning_rate")


def test_tune_cli_local_workers_end_to_end(fake_dir, tmp_path):
    """The search's command line in this process; its two local workers are processes of their own."""
    out = tmp_path / "search"
    code, _, err = run_main(tune_main, ["--data-dir", fake_dir, "--trials", "3", "--epochs", "2",
                                        "--workers", "2", "--validation-fraction", "0.2", "--out", str(out)])
    assert code == 0, err
    assert len((out / "results.jsonl").read_text().splitlines()) == 3
    best = json.loads((out / "best.json").read_text())
    final = json.loads((out / "final.json").read_text())
    assert set(final["accuracy"]) == {"train", "validation", "test"} and best["validation_fraction"] == 0.2
    assert (out / "search.png").read_bytes()[:4] == b"\x89PNG"
    code, _, err = run_main(train_main, ["--config", str(out / "best.json"), "--out", str(tmp_path / "best"),
                                         "--quiet"])
    assert code == 0, err
    metrics = json.loads((tmp_path / "best" / "metrics.json").read_text())
    assert metrics["accuracy"] == pytest.approx(final["accuracy"])


def test_tune_cli_bad_space_one_line(tmp_path):
    space = tmp_path / "space.json"
    space.write_text(json.dumps({"learning_rate": {"scale": "log", "low": -1, "high": 1}}))
    result = subprocess.run([sys.executable, "-m", "tfsigns.tune", "--space", str(space), "--out",
                             str(tmp_path / "o")], capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "learning_rate: a log scale needs positive bounds" in result.stderr


def test_ray_backend_on_a_local_ray_instance(fake_dir, tmp_path):
    pytest.importorskip("ray", reason="Ray is an optional dependency (pip install 'tfsigns[ray]')")
    from tfsigns.search.executors import ray_executor
    rows = list(ray_executor([task(fake_dir, learning_rate=lr) | {"trial": f"r0-00{i}"}
                              for i, lr in enumerate((0.01, 0.001))], workers=2))
    assert sorted(r["trial"] for r in rows) == ["r0-000", "r0-001"] and all(r["status"] == "ok" for r in rows)


def test_tune_ctrl_c_keeps_finished_trials_and_the_rerun_goes_on(fake_dir, tmp_path):
    out = tmp_path / "search"

    def command(trials):
        return [sys.executable, "-m", "tfsigns.tune", "--data-dir", fake_dir, "--trials", str(trials),
                "--epochs", "30", "--workers", "2", "--validation-fraction", "0.2", "--out", str(out)]

    # started with SIGINT ignored, as a script's background job is: the search must still hear it
    process = subprocess.Popen(command(40), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    deadline = time.time() + 120
    while not (out / "results.jsonl").exists() and time.time() < deadline:
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130 and "run the same command again" in err and "Traceback" not in err
    assert 1 <= len((out / "results.jsonl").read_text().splitlines()) < 40
    # The same seed draws the same first trials, so a shorter rerun finds them done.
    code, stdout, err = run_main(tune_main, command(2)[3:])  # no signal now: in this process
    assert code == 0, err
    assert "trials already done, skipped" in stdout

