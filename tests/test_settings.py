"""Settings, wherever a user types them: flags, --config files, a run's config.json on --resume,
a search's best.json and search spaces. Each is checked in one place before anything in --out
is touched; a bad one gets one line on stderr and exit 2.

The property-based tests draw values of every kind for every setting and search-space entry
and run them through the commands' own entry points (main(argv), in this process).
"""

import json
import shutil
import tempfile
from collections import Counter
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import tfsigns.search.executors
import tfsigns.search.space
import tfsigns.search.tune
import tfsigns.training.trainer
from tests.conftest import FakeSigns, copy_of, run_main, snapshot
from tfsigns.config import CONFIG_FIELDS, NETWORKS, TrainConfig
from tfsigns.train import main as train_main
from tfsigns.training.trainer import train as real_train
from tfsigns.utils.cli import SETTINGS, origin_of

EPOCHS = 2  # the finished run the tests resume and overwrite
CAP = 3  # fuzzed runs train at most this many epochs, so that a valid draw takes a second


def assert_one_line_exit_2(code, err, before, out):
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert snapshot(out) == before, "a refused command changed --out"


@pytest.fixture(scope="module")
def fake_dir(tmp_path_factory):
    return FakeSigns(tmp_path_factory.mktemp("signs"), n_train=60, n_test=12).dir


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    """Where the property-based tests make their folders (pytest removes old ones)."""
    return tmp_path_factory.mktemp("draws")


@contextmanager
def draw_folder(scratch: Path):
    """A folder for one draw, removed after it: hundreds of draws' runs would fill a small disk."""
    folder = Path(tempfile.mkdtemp(dir=scratch))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def finished_run(fake_dir, tmp_path_factory):
    """A finished 2-epoch run with checkpoints, to resume or overwrite (copied, never changed)."""
    out = tmp_path_factory.mktemp("finished") / "run"
    code, _, err = run_main(train_main, ["--data-dir", str(fake_dir), "--out", str(out), "--epochs",
                                         str(EPOCHS), "--layers", "4", "--checkpoint-every", "1", "--quiet"])
    assert code == 0, err
    return out


# ---------------------------------------------------------------- the named defects


@pytest.mark.parametrize("settings_file, message", [
    ({"batch_norm": "false"}, "batch_norm must be true or false, got 'false'"),
    ({"decay_rate": "0.5"}, "decay_rate must be a non-negative number below 1e38, got '0.5'"),
    ({"validation_fraction": 1.5}, "validation_fraction must lie in [0, 1), got 1.5"),
    ({"num_epochs": 3.0}, "num_epochs must be a positive integer"),
    ({"layers": [4, True]}, "layers must be one or more positive unit counts"),
    ({"seed": -1}, "seed must be an integer in [0, 2**31)"),
    ({"optimizer": ["adam"]}, "optimizer must be one of gd, momentum, rmsprop, adam"),
    ({"data_dir": 7}, "data_dir must be a folder name or null"),
    ({"keep_prob": 1e-45}, "keep_prob must lie in (0, 1], got 1e-45"),  # dropout's rate would round to 1
    ({"learning_rate": 1e300}, "learning_rate must be a positive number below 1e38"),  # float32 in the graph
    ({"learning_rate": None}, "learning_rate must be a positive number below 1e38, got None"),
    ({"flip": 1}, "flip must be true or false, got 1"),
    ({"hue": 0.75}, "hue must lie in [0, 0.5] (a share of the colour circle), got 0.75"),
    ({"rotation": -5}, "rotation must lie in [0, 180] (degrees), got -5"),
    ({"blur": "2"}, "blur must lie in [0, 10] (pixels), got '2'"),
    ({"normalize": "batch"}, "unknown normalize 'batch'; choose from none, per-image, dataset"),
])
def test_a_config_file_is_type_checked_and_named(settings_file, message, fake_dir, finished_run, tmp_path,
                                                 monkeypatch):
    """--config over an existing run with --overwrite: refused before the old run is touched."""
    monkeypatch.setenv("TFSIGNS_DATA", str(fake_dir))  # no --data-dir flag: it would win over the file
    config = tmp_path / "settings.json"
    config.write_text(json.dumps(settings_file))
    out = copy_of(finished_run)
    before = snapshot(out)
    code, _, err = run_main(train_main, ["--out", str(out), "--overwrite", "--config", str(config)])
    assert_one_line_exit_2(code, err, before, out)
    assert f"--config {config}: {message}" in err


def test_a_bad_flag_never_deletes_the_checkpoints(fake_dir, finished_run):
    """--minibatch-seed -5 used to end in a NumPy traceback after the checkpoints were deleted."""
    out = copy_of(finished_run)
    before = snapshot(out)
    code, _, err = run_main(train_main, ["--data-dir", str(fake_dir), "--out", str(out),
                                         "--overwrite", "--minibatch-seed", "-5"])
    assert_one_line_exit_2(code, err, before, out)
    assert "--minibatch-seed: minibatch_seed must be an integer in [0, 2**31), got -5" in err


@pytest.mark.parametrize("flags, message", [
    (["--zoom", "1"], "--zoom: zoom must lie in [0, 1), got 1.0"),
    (["--noise", "nan"], "--noise: noise must lie in [0, 1], got nan"),
    (["--normalize", "batch"], "argument --normalize: invalid choice: 'batch'"),
])
def test_a_bad_augmentation_flag_is_one_line(flags, message, fake_dir, finished_run):
    out = copy_of(finished_run)
    before = snapshot(out)
    argv = ["--data-dir", str(fake_dir), "--out", str(out), "--overwrite", *flags]
    code, _, err = run_main(train_main, argv)
    assert_one_line_exit_2(code, err, before, out)
    assert message in err


def test_a_bad_value_in_config_json_is_caught_on_resume(finished_run):
    out = copy_of(finished_run)
    saved = json.loads((out / "config.json").read_text())
    (out / "config.json").write_text(json.dumps({**saved, "keep_prob": "1"}))
    before = snapshot(out)
    code, _, err = run_main(train_main, ["--out", str(out), "--resume", "--epochs", "4"])
    assert_one_line_exit_2(code, err, before, out)
    assert f"{out / 'config.json'} (--resume): keep_prob must lie in (0, 1], got '1'" in err


def test_a_flag_overrides_a_bad_value_in_the_file(fake_dir, tmp_path):
    config = tmp_path / "settings.json"
    config.write_text(json.dumps({"learning_rate": "fast", "layers": [3]}))
    out = tmp_path / "run"
    code, _, err = run_main(train_main, ["--data-dir", str(fake_dir), "--out", str(out), "--config",
                                         str(config), "--learning-rate", "0.01", "--epochs", "2",
                                         "--quiet"])
    assert code == 0, err
    assert json.loads((out / "metrics.json").read_text())["config"]["layers"] == [3]


def test_config_holds_the_normal_form_of_each_setting():
    config = TrainConfig(layers=[7, 5], learning_rate=1, beta1=0)
    assert config.layers == (7, 5) and isinstance(config.learning_rate, float) and config.beta1 == 0.0
    assert json.loads(json.dumps(config.to_dict())) == config.to_dict()


# ---------------------------------------------------------------- property-based: every field, any value


def anything():
    """Values of every JSON kind and then some: None, bools, huge and negative integers,
    NaN and infinities, strings, lists and objects."""
    return st.one_of(st.none(), st.booleans(), st.integers(-2**40, 2**40),
                     st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=6),
                     st.lists(st.integers(-3, 40), max_size=3),
                     st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


# Values that may train, so that the draws also reach the session loop.
PLAUSIBLE = {
    "arch": st.sampled_from(sorted(NETWORKS)),
    "layers": st.lists(st.integers(1, 6), min_size=1, max_size=2),
    "filters": st.lists(st.integers(1, 4), min_size=1, max_size=2),
    "kernels": st.lists(st.integers(1, 4), min_size=1, max_size=2),
    "pools": st.lists(st.integers(1, 9), min_size=1, max_size=2),
    "dense": st.lists(st.integers(1, 4), max_size=2),
    "learning_rate": st.floats(1e-4, 0.5), "num_epochs": st.integers(EPOCHS, 5),
    "minibatch_size": st.integers(1, 100), "seed": st.integers(0, 2**31 - 1),
    "minibatch_seed": st.integers(0, 2**31 - 1), "optimizer": st.sampled_from(["gd", "momentum", "rmsprop",
                                                                              "adam"]),
    "beta1": st.floats(0, 0.999), "beta2": st.floats(0, 0.999), "epsilon": st.floats(1e-9, 1.0),
    "momentum": st.floats(0, 0.99), "decay": st.sampled_from(["none", "inverse-time", "exponential",
                                                              "staircase"]),
    "decay_rate": st.floats(0, 2), "decay_interval": st.integers(1, 10), "batch_norm": st.booleans(),
    "bn_momentum": st.floats(0, 0.999), "bn_population_stats": st.booleans(), "lambd": st.floats(0, 1),
    "keep_prob": st.floats(0.05, 1), "init": st.sampled_from(["course", "independent"]),
    "device": st.sampled_from(["cpu", "gpu"]), "print_every": st.integers(1, 5),
    "validation_fraction": st.sampled_from([0.0, 0.2, 0.5]), "split_seed": st.integers(0, 2**31 - 1),
    "data_dir": st.just(None),
    "flip": st.booleans(), "rotation": st.floats(0, 180), "translation": st.floats(0, 0.5),
    "zoom": st.floats(0, 0.5), "brightness": st.floats(0, 1), "contrast": st.floats(0, 0.9),
    "saturation": st.floats(0, 1), "hue": st.floats(0, 0.5), "colour_cast": st.floats(0, 0.9),
    "blur": st.floats(0, 10), "noise": st.floats(0, 1),
    "normalize": st.sampled_from(["none", "per-image", "dataset"]),
    "framing": st.sampled_from(["none", "hand"]),
    "hand_model": st.sampled_from(["full", "lite"]),
    "digits": st.sampled_from(["0-5", "0-9"]), "unknown_shapes": st.integers(0, 20),
    "digits_dir": st.just(None), "validation_students": st.sampled_from([0.0, 0.2]),
    "unknown_threshold": st.floats(0.01, 1),
}


@st.composite
def setting_draws(draw):
    """(field, value, source, out mode): one setting from one source into one kind of --out."""
    name = draw(st.sampled_from(sorted(SETTINGS)))
    value = draw(st.one_of(PLAUSIBLE[name], anything()))
    source = draw(st.sampled_from(["flag", "config", "resume"]))
    mode = "resume" if source == "resume" else draw(st.sampled_from(["fresh", "overwrite"]))
    return name, value, source, mode


def flag_args(name: str, value) -> list[str]:
    """How a user would type `value` for setting `name` on the command line."""
    if name in ("batch_norm", "bn_population_stats", "flip") and isinstance(value, bool):
        return [origin_of(name) if value else "--no-" + origin_of(name)[2:]]
    if name in ("layers", "filters", "kernels", "pools", "dense") and isinstance(value, list):
        return [origin_of(name), ",".join(map(str, value))]
    return [origin_of(name), str(value)]


def capped_train(config, *args, **kwargs):
    """The real session loop, for at most CAP epochs."""
    return real_train(replace(config, num_epochs=min(config.num_epochs, CAP)), *args, **kwargs)


TRIED: Counter = Counter()  # (command, exit code) -> draws


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(draw=setting_draws())
@example(draw=("keep_prob", 1.4505906866640212e-45, "flag", "fresh"))  # found by this test: a traceback
@example(draw=("learning_rate", 1e300, "config", "overwrite"))  # float32 overflow in the graph
def test_any_setting_from_any_source_trains_or_is_refused_in_one_line(draw, fake_dir, finished_run, scratch):
    with draw_folder(scratch) as folder:
        try_setting(draw, fake_dir, finished_run, folder)


def try_setting(draw, fake_dir: Path, finished_run: Path, folder: Path) -> None:
    name, value, source, mode = draw
    argv = ["--data-dir", str(fake_dir), "--layers", "4", "--epochs", str(EPOCHS), "--quiet"]
    out = folder / "run" if mode == "fresh" else copy_of(finished_run, within=folder)
    argv += ["--out", str(out), "--resume" if mode == "resume" else "--overwrite"] if mode != "fresh" \
        else ["--out", str(out)]
    if source == "flag":
        argv += flag_args(name, value)
    else:
        path = out / "config.json" if source == "resume" else out.parent / "settings.json"
        saved = json.loads(path.read_text()) if source == "resume" else {}
        path.write_text(json.dumps({**saved, name: value}))
        if source == "config":
            argv = [a for a in argv if a not in ("--layers", "4", "--epochs", str(EPOCHS))] + [
                "--config", str(path)]
            if name not in ("layers", "num_epochs"):
                argv += ["--layers", "4", "--epochs", str(EPOCHS)]
    before = snapshot(out)
    with mock.patch.object(tfsigns.training.trainer, "train", capped_train):
        code, _, err = run_main(train_main, argv)
    TRIED["train", code] += 1
    assert "Traceback" not in err, err
    if code == 0:
        assert (out / "metrics.json").is_file()
    elif code == 1:  # it trained, and the cost became NaN: one line says so
        assert err.startswith("tfsigns.train: training failed: cost became") and err.count("\n") == 1, err
    else:
        assert_one_line_exit_2(code, err, before, out)


TRAINING_FAILURES = ("cost became", "the cost has stayed")  # how a trial may fail; anything else is a bug


def in_process(tasks, workers):
    return map(tfsigns.search.executors.run_trial, tasks)


@st.composite
def space_draws(draw):
    """A one-entry search space with any values, or a --config base setting with any value."""
    name = draw(st.sampled_from(sorted(tfsigns.search.space.TUNABLE)))
    kind = draw(st.sampled_from(["choices", "range", "config"]))
    if kind == "choices":
        return {"space": {name: {"choices": draw(st.lists(st.one_of(PLAUSIBLE.get(name, st.integers(1, 3)),
                                                                    anything()), max_size=2))}}}
    if kind == "range":
        entry = {"scale": draw(st.one_of(st.sampled_from(tfsigns.search.space.SCALES), anything())),
                 "low": draw(anything()), "high": draw(anything())}
        return {"space": {name: draw(st.one_of(st.just(entry), anything()))}}
    field = draw(st.sampled_from(sorted(CONFIG_FIELDS - {"print_cost"})))
    return {"config": {field: draw(st.one_of(PLAUSIBLE[field], anything()))}}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(draw=space_draws())
@example(draw={"space": {"batch_norm": {"\n": 0}}})  # found by this test: a key's newline split the line
def test_any_search_space_or_base_setting_searches_or_is_refused_in_one_line(draw, fake_dir, scratch):
    with draw_folder(scratch) as folder:
        try_search(draw, fake_dir, folder)


def try_search(draw: dict, fake_dir: Path, folder: Path) -> None:
    out = folder / "search"
    argv = ["--data-dir", str(fake_dir), "--trials", "1", "--workers", "1", "--validation-fraction", "0.2",
            "--out", str(out)]
    space = folder / "space.json"
    space.write_text(json.dumps(draw.get("space", {"learning_rate": {"scale": "log", "low": 1e-3,
                                                                      "high": 1e-1}})))
    argv += ["--space", str(space)]
    if "config" in draw:
        config = folder / "base.json"
        config.write_text(json.dumps({"num_epochs": EPOCHS, "layers": [4], **draw["config"]}))
        argv += ["--config", str(config)]
    else:
        argv += ["--epochs", str(EPOCHS)]
    with mock.patch.object(tfsigns.search.tune, "local_executor", in_process), \
            mock.patch.object(tfsigns.training.trainer, "train", capped_train):
        code, _, err = run_main(tfsigns.search.tune.main, argv)
    TRIED["tune", code] += 1
    assert "Traceback" not in err, err
    if code in (0, 1):  # searched: every failed trial failed for a training reason, never a bug
        rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
        assert len(rows) == 1
        for row in rows:
            assert row["status"] == "ok" or row["reason"].startswith(TRAINING_FAILURES), row
        assert code == 0 or "every trial failed" in err
    else:
        assert_one_line_exit_2(code, err, {}, out)


FUZZED = {"train": test_any_setting_from_any_source_trains_or_is_refused_in_one_line,
          "tune": test_any_search_space_or_base_setting_searches_or_is_refused_in_one_line}


def test_report_how_many_inputs_were_tried(request):
    """Runs last in this file: the counts go to the log of `pytest -s` or -rA. Each command whose
    fuzz test ran in this session was drawn, with inputs it accepted (exit 0, or 1: it trained
    and the cost became NaN) and inputs it refused (exit 2), and no other exit code."""
    print("settings fuzz, draws by command and exit code:", dict(sorted(TRIED.items())))
    ran = {item.name for item in request.session.items if item.path == request.path}
    commands = [command for command, test in FUZZED.items() if test.__name__ in ran]
    if not commands:
        pytest.skip("no fuzz test of this file ran in this session")
    for command in commands:
        accepted, refused = TRIED[command, 0] + TRIED[command, 1], TRIED[command, 2]
        assert accepted and refused, f"{command}: {accepted} accepted and {refused} refused draws"
    assert set(TRIED) <= {(command, code) for command in commands for code in (0, 1, 2)}, TRIED
