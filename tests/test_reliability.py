"""Reliability: bit-identical reruns, SIGKILL/SIGINT and resume, every bad input answered."""

import json
import math
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import REAL_DATA, FakeSigns, requires_real_data, run_main
from tfsigns.config import TrainConfig
from tfsigns.train import main
from tfsigns.training.trainer import train

# A small run that still exercises Adam slots, batch-norm moving averages and dropout masks.
RUN = ["--epochs", "40", "--minibatch-size", "16", "--layers", "6,5", "--batch-norm", "--keep-prob", "0.8",
       "--learning-rate", "0.003", "--checkpoint-every", "3", "--quiet"]
# The same for the CNN: per-channel batch norm in its conv blocks, dropout in its dense layer.
CNN_RUN = ["--arch", "cnn", "--filters", "4,6", "--kernels", "3,2", "--pools", "4,4", "--dense", "5",
           *RUN[:4], *RUN[6:]]

# The MLP's run with every augmentation on and dataset normalization: the draws follow the global step.
AUG_RUN = ["--flip", "--rotation", "15", "--translation", "0.1", "--zoom", "0.1", "--brightness", "0.1",
           "--contrast", "0.2", "--saturation", "0.3", "--hue", "0.05", "--colour-cast", "0.1", "--blur", "1",
           "--noise", "0.02", "--normalize", "dataset", *RUN]


def cli(*args, timeout=300):
    """A real process: for the signals, and for the resume command a user would paste."""
    return subprocess.run([sys.executable, "-m", "tfsigns.train", *args], capture_output=True, text=True,
                          timeout=timeout)


def train_cli(*args) -> tuple[int, str, str]:
    """tfsigns.train's command line in this process: where no signal is sent, a new process only adds
    TensorFlow's start-up (about 6 s of CPU each)."""
    return run_main(main, list(args))


def final_state(out):
    """(per-epoch costs, every variable of the newest checkpoint) of a finished run."""
    reader = tf.train.load_checkpoint(str(out / "checkpoints"))
    variables = {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}
    return json.loads((out / "metrics.json").read_text())["costs"], variables


def assert_same_run(a, b):
    costs_a, vars_a = final_state(a)
    costs_b, vars_b = final_state(b)
    assert costs_a == costs_b
    assert vars_a.keys() == vars_b.keys()
    for name in vars_a:
        np.testing.assert_array_equal(vars_a[name], vars_b[name], err_msg=name)


@pytest.fixture(scope="module")
def fake_dir(tmp_path_factory):
    return FakeSigns(tmp_path_factory.mktemp("signs"), n_train=96, n_test=12).dir


def finished(fake_dir, folder, flags):
    out = folder / "run"
    code, _, err = train_cli("--data-dir", str(fake_dir), "--out", str(out), *flags)
    assert code == 0, err
    return out


@pytest.fixture(scope="module")
def uninterrupted(fake_dir, tmp_path_factory):
    return finished(fake_dir, tmp_path_factory.mktemp("whole"), RUN)


@pytest.fixture(scope="module")
def uninterrupted_cnn(fake_dir, tmp_path_factory):
    return finished(fake_dir, tmp_path_factory.mktemp("whole_cnn"), CNN_RUN)


@pytest.fixture(scope="module")
def uninterrupted_augmented(fake_dir, tmp_path_factory):
    return finished(fake_dir, tmp_path_factory.mktemp("whole_augmented"), AUG_RUN)


@requires_real_data
def test_same_seed_same_cost_history_bit_for_bit_on_real_data(signs):
    X_train, Y_train = signs[0][:, :400], signs[1][:, :400]
    config = TrainConfig(num_epochs=15, batch_norm=True, keep_prob=0.8, learning_rate=0.001)
    first, second = (train(config, X_train, Y_train)[1].costs for _ in range(2))
    assert first == second and len(first) == 15


def test_sigkill_at_random_moments_then_resume_matches(fake_dir, uninterrupted, tmp_path):
    """Kill -9 after a random number of epochs plus a random part of one, twice (the second kill
    lands in a resumed run), then resume."""
    kill_then_resume(fake_dir, RUN, uninterrupted, tmp_path, kills=2)


# The mechanism is the MLP's; what these add is their own state to restore (per-channel batch norm,
# the augmentation's draws by global step), which one kill at a random moment puts to the test.
def test_a_cnn_killed_and_resumed_matches_too(fake_dir, uninterrupted_cnn, tmp_path):
    kill_then_resume(fake_dir, CNN_RUN, uninterrupted_cnn, tmp_path, kills=1)


def test_an_augmented_run_killed_and_resumed_matches_too(fake_dir, uninterrupted_augmented, tmp_path):
    kill_then_resume(fake_dir, AUG_RUN, uninterrupted_augmented, tmp_path, kills=1)


def kill_then_resume(fake_dir, flags, uninterrupted, tmp_path, kills):
    out = tmp_path / "run"
    command = [sys.executable, "-m", "tfsigns.train", "--data-dir", str(fake_dir), "--out", str(out),
               *flags[:-1], "--print-every", "1"]
    rng = random.Random(0)
    for attempt in range(kills):
        extra = ["--resume"] if (out / "checkpoints" / "checkpoint").exists() else []
        process = subprocess.Popen(command + extra, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                   text=True)
        for _ in range(rng.randint(1, 10)):
            assert process.stdout.readline().startswith("Cost after epoch"), "run ended before the kill"
        time.sleep(rng.uniform(0, 0.01))
        process.send_signal(signal.SIGKILL)
        process.wait()
        process.stdout.close()
        assert not (out / "metrics.json").exists(), f"the run finished before kill {attempt}"
    result = cli(*command[3:], "--resume")
    assert result.returncode == 0, result.stderr
    assert_same_run(out, uninterrupted)


def test_sigint_checkpoints_and_prints_the_resume_command(fake_dir, uninterrupted, tmp_path):
    out = tmp_path / "run"
    process = subprocess.Popen([sys.executable, "-m", "tfsigns.train", "--data-dir", str(fake_dir),
                                "--out", str(out), *RUN], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    deadline = time.time() + 60
    while not (out / "checkpoints" / "checkpoint").exists() and time.time() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "Traceback" not in err and "Resume with:" in err
    resume_command = err.split("Resume with: ")[1].strip()
    result = subprocess.run(resume_command, shell=True, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert_same_run(out, uninterrupted)


def test_resume_with_a_new_learning_rate_keeps_the_history(fake_dir, uninterrupted, tmp_path):
    out = tmp_path / "run"
    assert train_cli("--data-dir", str(fake_dir), "--out", str(out), *RUN, "--epochs", "10")[0] == 0
    code, _, err = train_cli("--out", str(out), "--resume", "--learning-rate", "0.001", "--epochs", "20")
    assert code == 0, err
    metrics = json.loads((out / "metrics.json").read_text())
    whole = json.loads((uninterrupted / "metrics.json").read_text())
    assert metrics["costs"][:9] == whole["costs"][:9] and len(metrics["costs"]) == 20
    assert metrics["learning_rates"][9] == 0.003 and metrics["learning_rates"][10:] == [0.001] * 10


def damaged(folder, how):
    """Spoil one file of a fresh fake SIGNS folder; return the folder."""
    folder.mkdir()
    signs = FakeSigns(folder)
    path = signs.path("train")
    if how == "empty":
        path.write_bytes(b"")
    elif how == "html":
        path.write_text("<!DOCTYPE html><html><body>Not Found</body></html>")
    elif how == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif how == "missing":
        path.unlink()
    elif how == "labels":
        signs.rewrite("train", y=np.full(12, 9))
    elif how == "mismatch":
        signs.rewrite("train", y=np.zeros(5, dtype=np.int64))
    elif how == "keys":
        signs.rewrite("train", drop=("train_set_y",))
    elif how == "dtype":
        signs.rewrite("train", x=np.zeros((12, 64, 64, 3), np.float64))
    elif how == "shape":
        signs.rewrite("train", x=np.zeros((12, 32, 32, 3), np.uint8))
    return folder


@pytest.mark.parametrize("how, message", [
    ("empty", "file is empty"), ("html", "HTML page"), ("truncated", "truncated"),
    ("missing", "file not found"), ("labels", "labels outside the classes"),
    ("mismatch", "12 images but 5 labels"), ("keys", "missing key 'train_set_y'"),
    ("dtype", "expected uint8 pixels"), ("shape", "expected (m, 64, 64, 3)"),
])
def test_cli_bad_data_file(how, message, tmp_path):
    folder = damaged(tmp_path / "signs", how)
    code, _, err = run_main(main, ["--data-dir", str(folder), "--out", str(tmp_path / "out"),
                                   "--epochs", "1"])
    assert code == 2 and "Traceback" not in err
    assert err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("flags, message", [
    (["--learning-rate", "nan"], "learning_rate must be a positive number"),
    (["--learning-rate", "0"], "learning_rate must be a positive number"),
    (["--beta1", "1"], r"beta1 must lie in [0, 1)"),
    (["--beta2", "-0.5"], r"beta2 must lie in [0, 1)"),
    (["--momentum", "1.5"], r"momentum must lie in [0, 1)"),
    (["--epsilon", "0"], "epsilon must be a positive number"),
    (["--minibatch-size", "-4"], "minibatch_size must be a positive integer"),
    (["--layers", "25,,12"], "malformed --layers"),
    (["--layers", "0"], "every layer needs at least one unit"),
    (["--optimizer", "sgd"], "invalid choice: 'sgd'"),
    (["--device", "gpu"], "no GPU"),
    (["--resume"], "holds no run to resume"),
    (["--config", "/nonexistent.json"], "cannot read settings"),
    # a setting of the other family would do nothing: refused, not silently ignored
    (["--arch", "cnn", "--layers", "7,5"], "layers is [7, 5], but the cnn family has no hidden MLP layers"),
    (["--filters", "4"], "filters is [4], but the mlp family has no conv blocks"),
    (["--arch", "cnn", "--keep-prob", "0.3"], "the cnn family drops out only in its hidden dense layers"),
    (["--decay", "exponential", "--decay-rate", "1e37"], "decay_rate must lie in [0, 1] for exponential"),
    (["--arch", "cnn", "--kernels", "100,2"], "conv block 1's 100x100 filter is larger than its 64x64 input"),
    (["--arch", "cnn", "--pools", "32,4", "--kernels", "4,3"], "conv block 2's 3x3 filter is larger than"),
])
def test_cli_bad_settings(flags, message, fake_dir, tmp_path):
    if "gpu" in flags and tf.config.list_physical_devices("GPU"):
        pytest.skip("this machine has a GPU")
    code, _, err = run_main(main, ["--data-dir", str(fake_dir), "--out", str(tmp_path / "out"),
                                   "--epochs", "1", *flags])
    assert code == 2 and "Traceback" not in err
    assert err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "out").exists()


def test_cli_unwritable_out(fake_dir, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code, _, err = train_cli("--data-dir", str(fake_dir), "--out", str(blocker / "out"), "--epochs", "1")
    assert code == 2 and err.count("\n") == 1 and "cannot write there" in err


@pytest.mark.parametrize("change, message", [
    (["--layers", "7,5"], "--layers makes layers 7,5, but the run in"),
    (["--no-batch-norm"], "--batch-norm makes batch_norm false, but the run in"),
    (["--normalize", "per-image", "--flip"], "--flip makes flip true, but"),
    (["--keep-prob", "0.5"], "--keep-prob makes keep_prob 0.5, but"),
])
def test_resume_refuses_what_would_redefine_the_run(change, message, uninterrupted):
    before = (uninterrupted / "metrics.json").read_bytes()
    code, _, err = train_cli("--out", str(uninterrupted), "--resume", "--epochs", "41", *change)
    assert code == 2 and err.count("\n") == 1, err
    assert message in err and "cannot change what it learns" in err
    assert (uninterrupted / "metrics.json").read_bytes() == before


def test_resume_nudges_and_says_how_many_epochs_it_ran(fake_dir, tmp_path):
    out = tmp_path / "run"
    assert train_cli("--data-dir", str(fake_dir), "--out", str(out), *RUN, "--epochs", "4")[0] == 0
    same = ["--layers", "6,5", "--batch-norm", "--keep-prob", "0.8", "--data-dir", str(fake_dir)]
    code, stdout, err = train_cli("--out", str(out), "--resume", "--epochs", "6", "--learning-rate", "0.001",
                                  "--decay", "inverse-time", *same)
    assert code == 0, err
    assert "\n2 epochs in " in stdout and "(epochs 5-6, resumed after 4)" in stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["learning_rates"][:4] == [0.003] * 4 and metrics["learning_rates"][4] == 0.001 / 5


def test_resume_from_a_corrupt_checkpoint(fake_dir, tmp_path):
    out = tmp_path / "run"
    assert train_cli("--data-dir", str(fake_dir), "--out", str(out), *RUN, "--epochs", "3")[0] == 0
    for data_file in (out / "checkpoints").glob("*.data-*"):
        data_file.write_bytes(data_file.read_bytes()[:100])
    code, _, err = train_cli("--out", str(out), "--resume", "--epochs", "6")
    assert code == 2 and err.count("\n") == 1, err
    assert "corrupt or truncated" in err


def test_nan_cost_stops_with_an_error(fake_dir, tmp_path):
    code, _, err = train_cli("--data-dir", str(fake_dir), "--out", str(tmp_path / "out"), "--epochs", "5",
                             "--optimizer", "gd", "--learning-rate", "1e30", "--quiet")
    assert code == 1 and "training failed: cost became" in err
    assert not (tmp_path / "out" / "metrics.json").exists()


def test_dead_network_warns(capsys):
    X, Y = np.zeros((10, 60), np.float32), np.eye(6, dtype=np.float32)[np.arange(60) % 6].T
    train(TrainConfig(layers=(4,), num_epochs=55, learning_rate=1e-9), X, Y)
    err = capsys.readouterr().err
    assert f"stayed at ln(6) = {math.log(6):.3f}" in err and "learning rate" in err


@requires_real_data
def test_real_data_flag_env_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("TFSIGNS_DATA", str(tmp_path / "nowhere"))
    code, _, err = train_cli("--out", str(tmp_path / "o"), "--epochs", "1")
    assert code == 2 and "(from $TFSIGNS_DATA)" in err
    code, _, err = train_cli("--data-dir", str(REAL_DATA), "--out", str(tmp_path / "o"), "--epochs", "1",
                             "--quiet")
    assert code == 0, err
