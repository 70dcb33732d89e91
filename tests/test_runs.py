"""The edges of runs and searches that users hit: reruns into the same --out, resumes, predict on
an unfinished run, grids and validation splits, the population backend, piped output."""

import ast
import json
import math
import select
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import tfsigns.search.executors
import tfsigns.search.tune
import tfsigns.training.train
import tfsigns.training.trainer
from tests.conftest import FakeSigns, blobs
from tests.test_settings import run_main, snapshot
from tfsigns.config import ConfigError, TrainConfig, TrainingInterrupted, not_learning
from tfsigns.images.signs import DataError, load_signs, train_validation_split
from tfsigns.search.executors import population_executor, run_trial
from tfsigns.search.space import config_for, grid_trials, parse_space
from tfsigns.train import main as train_main
from tfsigns.training.runs import CheckpointError
from tfsigns.training.trainer import train, train_population
from tfsigns.tune import SearchSettings
from tfsigns.tune import main as tune_main
from tfsigns.utils.files import to_json

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def fake_dir(tmp_path_factory):
    return FakeSigns(tmp_path_factory.mktemp("signs"), n_train=60, n_test=12).dir


def train_run(fake_dir, out, *flags):
    code, _, err = run_main(train_main, ["--data-dir", str(fake_dir), "--out", str(out), "--layers", "4",
                                         "--quiet", *flags])
    return code, err


def checkpoints(out: Path) -> list[str]:
    return sorted(p.name.removesuffix(".index") for p in (out / "checkpoints").glob("*.index"))


# ---------------------------------------------------------------- one --out, many commands


def test_a_new_run_over_an_old_one_is_refused_unless_asked(fake_dir, tmp_path):
    out = tmp_path / "run"
    assert train_run(fake_dir, out, "--epochs", "2")[0] == 0
    before = snapshot(out)
    code, err = train_run(fake_dir, out, "--epochs", "3")
    assert code == 2 and err.count("\n") == 1 and "already holds a run (metrics.json)" in err
    assert "--overwrite" in err and snapshot(out) == before
    code, err = train_run(fake_dir, out, "--epochs", "3", "--overwrite")
    assert code == 0, err
    assert len(json.loads((out / "metrics.json").read_text())["costs"]) == 3
    assert len(list((out / "tensorboard").iterdir())) == 1, "the old run's TensorBoard files were kept"
    assert checkpoints(out) == ["model.ckpt-3"]


def test_a_run_that_died_before_its_first_checkpoint_is_simply_replaced(fake_dir, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "config.json").write_text("{}")  # all such a run leaves
    code, err = train_run(fake_dir, out, "--epochs", "2")
    assert code == 0, err


def test_resume_to_fewer_epochs_than_done_is_refused(fake_dir, tmp_path, monkeypatch):
    out = tmp_path / "run"
    assert train_run(fake_dir, out, "--epochs", "6")[0] == 0
    before = snapshot(out)
    with monkeypatch.context() as patch:  # refused before any graph is built
        patch.setattr(tfsigns.training.trainer, "train",
                      lambda *a, **k: pytest.fail("train() ran before the refusal"))
        code, _, err = run_main(train_main, ["--out", str(out), "--resume", "--epochs", "3", "--quiet"])
    assert code == 2 and err.count("\n") == 1
    assert "has done 6 epochs; --epochs 3 is fewer: give --epochs 6 or more" in err
    assert snapshot(out) == before
    code, _, err = run_main(train_main, ["--out", str(out), "--resume", "--epochs", "8", "--quiet"])
    assert code == 0, err
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(metrics["costs"]) == len(metrics["learning_rates"]) == 8


def test_the_library_refuses_it_too(tmp_path):
    X, Y = blobs(40)
    config = TrainConfig(layers=(4,), num_epochs=4)
    folder = tmp_path / "checkpoints"
    train(config, X, Y, checkpoint_dir=folder)
    with pytest.raises(CheckpointError, match="has done 4 epochs; --epochs 2 is fewer"):
        train(TrainConfig(layers=(4,), num_epochs=2), X, Y, checkpoint_dir=folder,
              resume=True)


def test_keep_checkpoints_holds_across_resumes(fake_dir, tmp_path):
    out = tmp_path / "run"
    code, err = train_run(fake_dir, out, "--epochs", "6", "--checkpoint-every", "1",
                          "--keep-checkpoints", "3")
    assert code == 0, err
    assert checkpoints(out) == ["model.ckpt-4", "model.ckpt-5", "model.ckpt-6"]
    code, _, err = run_main(train_main, ["--out", str(out), "--resume", "--epochs", "8", "--quiet",
                                         "--checkpoint-every", "1", "--keep-checkpoints", "3"])
    assert code == 0, err
    assert checkpoints(out) == ["model.ckpt-6", "model.ckpt-7", "model.ckpt-8"]


def test_a_checkpoint_holds_the_model_not_the_training_set(fake_dir, tmp_path):
    out = tmp_path / "run"
    code, err = train_run(fake_dir, out, "--epochs", "1", "--checkpoint-every", "1")
    assert code == 0, err
    shapes = tf_checkpoint_shapes(out / "checkpoints" / "model.ckpt-1")
    assert "W1" in shapes and not [name for name, shape in shapes.items() if shape[:1] == [60]], shapes


def tf_checkpoint_shapes(path: Path) -> dict[str, list[int]]:
    from tfsigns.backend import tf
    return tf.train.load_checkpoint(str(path)).get_variable_to_shape_map()


# ---------------------------------------------------------------- predict answers with the finished model


@pytest.fixture
def photo(tmp_path):
    from PIL import Image
    path = tmp_path / "sign.png"
    Image.new("RGB", (40, 30), (180, 120, 90)).save(path)
    return str(path)


def test_predict_refuses_an_unfinished_run(fake_dir, tmp_path, photo):
    from tfsigns.predict import main as predict_main
    out = tmp_path / "run"
    assert train_run(fake_dir, out, "--epochs", "3", "--checkpoint-every", "1")[0] == 0
    (out / "metrics.json").unlink()  # as a run killed after its checkpoints leaves it
    code, stdout, err = run_main(predict_main, [photo, "--model", str(out)])
    assert code == 2 and stdout == "" and err.count("\n") == 1
    assert "the run has not finished" in err and "--resume" in err


def test_predict_uses_the_finished_model_not_a_newer_mid_run_checkpoint(fake_dir, tmp_path, photo):
    """A finished batch-norm run resumed for more epochs and stopped on the way: its newest
    checkpoint holds running averages; predict still answers with the finished model."""
    from tfsigns.predict import main as predict_main
    out = tmp_path / "run"
    assert train_run(fake_dir, out, "--epochs", "4", "--batch-norm", "--learning-rate", "0.01",
                     "--keep-checkpoints", "10")[0] == 0
    finished = run_main(predict_main, [photo, "--model", str(out), "--json"])
    assert finished[0] == 0, finished[2]
    saved = json.loads((out / "config.json").read_text())
    fields = {k: v for k, v in saved.items() if k in TrainConfig.__dataclass_fields__}
    config = TrainConfig(**{**fields, "num_epochs": 10})
    X, Y = load_signs(fake_dir)[:2]
    stops = iter([False, True])  # Ctrl-C after two more epochs
    with pytest.raises(TrainingInterrupted):
        train(config, X, Y, checkpoint_dir=out / "checkpoints", checkpoint_every=1, keep_checkpoints=10,
              resume=True, should_stop=lambda: next(stops))
    assert checkpoints(out)[-1] == "model.ckpt-6"
    again = run_main(predict_main, [photo, "--model", str(out), "--json"])
    assert again == finished


# ---------------------------------------------------------------- searches


def in_process(tasks, workers):
    return map(tfsigns.search.executors.run_trial, tasks)


def tune(fake_dir, out, *flags, monkeypatch):
    monkeypatch.setattr(tfsigns.search.tune, "local_executor", in_process)
    return run_main(tune_main, ["--data-dir", str(fake_dir), "--out", str(out), "--validation-fraction",
                                "0.2", "--trials", "2", "--workers", "1", *flags])


def test_search_again_from_the_best(fake_dir, tmp_path, monkeypatch):
    """best.json (and config.json, metrics.json) hold num_epochs: --config takes it, --epochs wins."""
    code, _, err = tune(fake_dir, tmp_path / "first", "--epochs", "2", monkeypatch=monkeypatch)
    assert code == 0, err
    best = tmp_path / "first" / "best.json"
    code, _, err = tune(fake_dir, tmp_path / "again", "--config", str(best), "--seed", "1",
                        monkeypatch=monkeypatch)
    assert code == 0, err
    rows = [json.loads(line) for line in (tmp_path / "again" / "results.jsonl").read_text().splitlines()]
    assert {row["config"]["num_epochs"] for row in rows} == {2}
    code, _, err = tune(fake_dir, tmp_path / "third", "--config", str(best), "--epochs", "3",
                        monkeypatch=monkeypatch)
    assert code == 0, err
    assert json.loads((tmp_path / "third" / "best.json").read_text())["num_epochs"] == 3


def test_a_search_written_by_the_previous_version_goes_on(fake_dir, tmp_path, monkeypatch):
    """Its rows' configs held run settings (device, print_cost, print_every) and no arch: the
    same command skips those trials and trains the best of them again, as recorded."""
    out = tmp_path / "search"
    assert tune(fake_dir, out, "--epochs", "2", monkeypatch=monkeypatch)[0] == 0
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    for row in rows:
        row["config"] = {**{k: v for k, v in row["config"].items() if k != "arch"}, "device": "cpu",
                         "print_cost": False, "print_every": 100}
    (out / "results.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    code, stdout, err = tune(fake_dir, out, "--epochs", "2", monkeypatch=monkeypatch)
    assert code == 0 and f"{len(rows)} of {len(rows)} trials already done" in stdout, err
    assert json.loads((out / "best.json").read_text())["arch"] == "mlp"


def test_a_rerun_with_other_settings_is_refused_and_fresh_starts_over(fake_dir, tmp_path, monkeypatch):
    out = tmp_path / "search"
    assert tune(fake_dir, out, "--epochs", "2", monkeypatch=monkeypatch)[0] == 0
    before = snapshot(out)
    for flags, difference in ((["--epochs", "3"], "num_epochs 2 -> 3"),
                              (["--epochs", "2", "--split-seed", "4"], "split_seed 0 -> 4"),
                              (["--epochs", "2", "--seed", "9"], "seed 0 -> 9")):
        code, _, err = tune(fake_dir, out, *flags, monkeypatch=monkeypatch)
        assert code == 2 and err.count("\n") == 1 and difference in err, err
        assert "--fresh" in err and snapshot(out) == before
    code, stdout, err = tune(fake_dir, out, "--epochs", "2", "--trials", "3", monkeypatch=monkeypatch)
    assert code == 0 and "2 of 3 trials already done" in stdout, err
    code, _, err = tune(fake_dir, out, "--epochs", "3", "--fresh", monkeypatch=monkeypatch)
    assert code == 0, err
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and {row["config"]["num_epochs"] for row in rows} == {3}
    assert json.loads((out / "best.json").read_text())["num_epochs"] == 3


def test_best_json_holds_what_the_chosen_trial_trained_with(fake_dir, tmp_path, monkeypatch):
    out = tmp_path / "search"
    assert tune(fake_dir, out, "--epochs", "2", monkeypatch=monkeypatch)[0] == 0
    final = json.loads((out / "final.json").read_text())
    row = next(json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()
               if json.loads(line)["trial"] == final["trial"])
    best = json.loads((out / "best.json").read_text())
    assert {k: best[k] for k in row["config"] if k != "print_cost"} == \
        {k: v for k, v in row["config"].items() if k != "print_cost"}


def test_a_search_draws_independent_layer_seeds_unless_told(fake_dir, tmp_path, monkeypatch):
    assert tune(fake_dir, tmp_path / "s", "--epochs", "2", monkeypatch=monkeypatch)[0] == 0
    assert json.loads((tmp_path / "s" / "best.json").read_text())["init"] == "independent"


def test_a_grid_honours_trials():
    space = parse_space({"learning_rate": {"scale": "log", "low": 1e-3, "high": 1e-1},
                         "beta1": {"scale": "one-minus-log", "low": 0.9, "high": 0.999},
                         "batch_norm": {"choices": [False, True]}})
    assert len(grid_trials(space, 4)) == 2  # 1 x 1 x 2: a 2 x 2 x 2 grid would be 8
    assert len(grid_trials(space, 8)) == 8 and len(grid_trials(space, 17)) == 8
    assert len(grid_trials(space, 18)) == 18
    with pytest.raises(ConfigError, match="the choices alone make 2 trials, more than --trials 1"):
        grid_trials(space, 1)
    ints = parse_space({"hidden_units": {"scale": "int", "low": 3, "high": 4}})
    assert [t["hidden_units"] for t in grid_trials(ints, 50)] == [3, 4]  # an int axis stops growing


def test_grid_larger_than_trials_is_refused_in_one_line(fake_dir, tmp_path, monkeypatch):
    code, _, err = tune(fake_dir, tmp_path / "g", "--strategy", "grid", "--trials", "1", "--epochs", "2",
                        monkeypatch=monkeypatch)
    assert code == 2 and err.count("\n") == 1 and "the choices alone make 8 trials" in err
    assert not (tmp_path / "g").exists()


def test_a_split_that_empties_a_class_is_refused(fake_dir, tmp_path, monkeypatch):
    X, Y = blobs(60, C=3)
    with pytest.raises(DataError, match="leaves class 0 .* with no validation image"):
        train_validation_split(X, Y, 0.01)
    with pytest.raises(DataError, match="with no training image"):
        train_validation_split(X, Y, 0.99)
    code, _, err = tune(fake_dir, tmp_path / "s", "--validation-fraction", "0.05", "--epochs", "2",
                        monkeypatch=monkeypatch)
    assert code == 2 and err.count("\n") == 1 and "no validation image" in err
    code, err = train_run(fake_dir, tmp_path / "r", "--validation-fraction", "0.05", "--epochs", "2")
    assert code == 2 and "no validation image" in err and not (tmp_path / "r").exists()


def test_a_space_that_can_draw_a_network_too_big_for_memory_is_refused_up_front(fake_dir, tmp_path,
                                                                                monkeypatch):
    space = tmp_path / "space.json"
    space.write_text(json.dumps({"hidden_units": {"scale": "int", "low": 4, "high": 10**7}}))
    monkeypatch.setattr(tfsigns.search.executors, "run_trial", lambda task: pytest.fail("a trial ran"))
    code, _, err = tune(fake_dir, tmp_path / "s", "--space", str(space), "--epochs", "2",
                        monkeypatch=monkeypatch)
    assert code == 2 and err.count("\n") == 1 and "parameters, about" in err and "GiB to train" in err
    assert not (tmp_path / "s").exists()


def test_json_never_holds_nan(fake_dir):
    assert to_json({"a": float("nan"), "b": [float("inf"), 1.5]}) == '{"a": null, "b": [null, 1.5]}'
    task = {"trial": "r0-000", "round": 0, "params": {"learning_rate": 1e37}, "data_dir": str(fake_dir),
            "config": config_for(TrainConfig(layers=(4,), num_epochs=3), {"learning_rate": 1e37}).to_dict(),
            "threads": 1, "device": "cpu", "validation_fraction": 0.2, "split_seed": 0}
    row = run_trial(task)
    assert row["status"] == "failed" and row["validation_accuracy"] is None
    json.loads(to_json(row), parse_constant=lambda token: pytest.fail(f"{token} in JSON"))


# ---------------------------------------------------------------- the population backend


def population_tasks(fake_dir, rates, epochs=3):
    base = TrainConfig(layers=(4,), num_epochs=epochs)
    return [{"trial": f"r0-{i:03d}", "round": 0, "params": {"learning_rate": lr},
             "config": config_for(base, {"learning_rate": lr}).to_dict(), "data_dir": str(fake_dir),
             "threads": 1, "device": "cpu", "validation_fraction": 0.2, "split_seed": 0}
            for i, lr in enumerate(rates)]


def test_population_honours_workers_and_yields_each_population_as_it_ends(fake_dir, monkeypatch):
    sizes, yielded_before = [], []
    real = train_population

    def spy(configs, *args, **kwargs):
        sizes.append(len(configs))
        yielded_before.append(len(rows))
        return real(configs, *args, **kwargs)

    monkeypatch.setattr(tfsigns.training.trainer, "train_population", spy)
    rows = []
    for row in population_executor(population_tasks(fake_dir, [0.01, 0.02, 0.03, 0.04, 0.05]), workers=2):
        rows.append(row)
    assert sizes == [2, 2] and yielded_before == [0, 2]  # the fifth trial runs alone
    assert [r["trial"] for r in rows] == [f"r0-{i:03d}" for i in range(5)]
    assert all(r["status"] == "ok" for r in rows)


def test_a_failing_population_falls_back_to_its_members_alone(fake_dir, monkeypatch):
    def out_of_memory(*args, **kwargs):
        raise MemoryError("the population does not fit")

    monkeypatch.setattr(tfsigns.training.trainer, "train_population", out_of_memory)
    rows = list(population_executor(population_tasks(fake_dir, [0.01, 0.02]), workers=2))
    assert [r["status"] for r in rows] == ["ok", "ok"]


def test_a_population_trains_on_the_search_device(fake_dir, monkeypatch):
    """The search's device reaches the population's training, as it does a single trial's."""
    devices = []
    real = train_population

    def spy(configs, X, Y, eval_sets, run):
        devices.append(run.device)
        return real(configs, X, Y, eval_sets, replace(run, device="cpu"))  # this machine may have no GPU

    monkeypatch.setattr(tfsigns.training.trainer, "train_population", spy)
    tasks = [{**task, "device": "gpu"} for task in population_tasks(fake_dir, [0.01, 0.02])]
    rows = list(population_executor(tasks, workers=2))
    assert devices == ["gpu"] and [r["status"] for r in rows] == ["ok", "ok"]


def test_not_learning_is_judged_alike_in_both_backends():
    """A net at ln(C) for 50 epochs that recovers later fails in either backend."""
    dead_then_learning = [math.log(6)] * 50 + [1.0] * 20
    assert not_learning(dead_then_learning, 6) is not None
    assert not_learning([math.log(6)] * 49 + [1.0] * 20, 6) is None
    X, Y = np.zeros((10, 60), np.float32), np.eye(6, dtype=np.float32)[np.arange(60) % 6].T
    config = TrainConfig(layers=(4,), num_epochs=55, learning_rate=1e-9)
    (_, together), = train_population([config], X, Y)
    _, alone = train(config, X, Y)
    assert together.warnings == alone.warnings and len(alone.warnings) == 1


# ---------------------------------------------------------------- the command line itself


def test_piped_output_shows_each_line_as_it_is_printed(fake_dir, tmp_path):
    """Without PYTHONUNBUFFERED (removed in conftest, as on users' machines), `train | tee log`
    sees the first cost line while the run is still going. It is the only line for a long
    while (--print-every 1000000), so a block buffer would hold it."""
    process = subprocess.Popen([sys.executable, "-m", "tfsigns.train", "--data-dir", str(fake_dir), "--out",
                                str(tmp_path / "run"), "--epochs", "1000000", "--print-every", "1000000",
                                "--layers", "4"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        readable, _, _ = select.select([process.stdout], [], [], 60)
        assert readable, "no line within 60 s: stdout is block-buffered into the pipe"
        first = process.stdout.readline()
        assert first.startswith("Cost after epoch 0:") and process.poll() is None
    finally:
        process.kill()
        process.wait()
        process.stdout.close()


def declared_requirements() -> set[str]:
    tree = ast.parse((ROOT / "setup.py").read_text())
    call = next(node for node in ast.walk(tree) if isinstance(node, ast.Call) and getattr(node.func, "id", "")
                == "setup")
    requires = next(k.value for k in call.keywords if k.arg == "install_requires")
    return {ast.literal_eval(e).split(">")[0].split("=")[0].split("[")[0].lower() for e in requires.elts}


def test_every_third_party_import_of_the_package_is_declared():
    imported = set()
    for path in (ROOT / "tfsigns").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                imported.add(node.module.split(".")[0])
    optional = {"ray", "yaml"}  # imported only where asked for, with a one-line hint when missing
    third_party = imported - set(sys.stdlib_module_names) - {"tfsigns"} - optional
    distribution = {"PIL": "pillow"}
    assert {distribution.get(name, name).lower() for name in third_party} <= declared_requirements()


@pytest.mark.parametrize("module", ["tfsigns.train", "tfsigns.tune", "tfsigns.predict", "tfsigns.robustness"])
def test_help_shows_every_default(module, capsys):
    import importlib
    main = importlib.import_module(module).main
    with pytest.raises(SystemExit):
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: None)" not in text
    if module == "tfsigns.train":
        for shown in ("--epochs NUM_EPOCHS epochs to train (default: 1500)", "(default: 0.0001)",
                      "examples per step (default: 32)", "(default: 25,12)", "(default: 3)"):
            assert shown in text
    if module == "tfsigns.tune":
        assert 'many runs at once ("caviar").' in text and "seed of the sampling (default: 0)" in text


def test_an_unreachable_ray_address_is_one_line_at_once(tmp_path, fake_dir):
    started = time.perf_counter()
    code, _, err = run_main(tune_main, ["--data-dir", str(fake_dir), "--backend", "ray", "--address",
                                        "127.0.0.1:9", "--out", str(tmp_path / "s")])
    assert code == 2 and err.count("\n") == 1 and "--address 127.0.0.1:9: no Ray cluster answers there" in err
    assert "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 ray start --head --port 6379" in err
    assert time.perf_counter() - started < 10 and not (tmp_path / "s").exists()


def test_search_settings_record_keeps_what_decides_the_trials():
    record = SearchSettings(trials=5, workers=3).record("/data")
    assert record == {"strategy": "random", "top_k": 5, "seed": 0, "validation_fraction": 0.15,
                      "split_seed": 0, "data_dir": "/data"}
