"""python -m tfsigns.export: a short run of each family exported, and its read.py run in a fresh process where
tfsigns cannot be imported (nor TensorFlow, where ai-edge-litert runs the models): its answers are
predict's, its probabilities the session's to 1e-5, on the SIGNS test photos and on other people's hands.
Bad input is one line and exit code 2, and leaves what was there."""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from PIL import Image

from tests.conftest import REAL_DATA, copy_of, requires_hands, requires_real_data, run_main, snapshot
from tfsigns.export import main as export_main
from tfsigns.predict import main as predict_main
from tfsigns.train import main as train_main

OTHER_HANDS = REAL_DATA.parent / "otherhands"
DIGITS = REAL_DATA.parent / "digits"  # other people's 6-9: signs a six-sign reader does not know
PORTABLE = Path(__file__).resolve().parents[1] / "tfsigns" / "portable"
# Short runs of each family, with what an export must get right: batch norm's statistics, dropout off,
# "dataset" and "per-image" normalization inside the classifier, framing outside it.
RUNS = {
    "mlp": ["--layers", "25,12", "--epochs", "3", "--batch-norm", "--keep-prob", "0.8",
            "--normalize", "dataset", "--framing", "hand"],
    "cnn": ["--arch", "cnn", "--epochs", "2", "--batch-norm", "--keep-prob", "0.8", "--dense", "16",
            "--normalize", "per-image"],
    "landmarks": ["--arch", "landmarks", "--layers", "16", "--epochs", "5", "--batch-norm",
                  "--keep-prob", "0.9", "--unknown-shapes", "300"],
}
# What read.py may import: the standard library, NumPy, Pillow, a TFLite runtime, and its own folder
RUNTIME = {"numpy", "PIL", "ai_edge_litert", "tensorflow"}
PARITY = 1e-5


def train(argv: list[str], out: Path) -> Path:
    code, _, err = run_main(train_main, ["--data-dir", str(REAL_DATA), "--out", str(out), "--quiet", *argv])
    assert code == 0, err
    return out


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> list[str]:
    """The 120 SIGNS test photos as PNG files, then the other people's hands where the mirror has them (0-5,
    and every fourth of 6-9)."""
    folder = tmp_path_factory.mktemp("signs-test")
    with h5py.File(REAL_DATA / "test_signs.h5") as f:
        images = np.array(f["test_set_x"])
    for i, image in enumerate(images):
        Image.fromarray(image).save(folder / f"{i:03d}.png")
    others = sorted(str(p) for p in OTHER_HANDS.glob("[0-5]/*") if p.is_file())
    others += sorted(str(p) for p in DIGITS.glob("[6-9]/*") if p.is_file())[::4]
    return sorted(str(p) for p in folder.iterdir()) + others


def fresh_python(tmp_path: Path) -> tuple[list[str], dict]:
    """A command and environment for a fresh Python where tfsigns cannot be imported: no site initialisation
    (so no editable install's path hook), only site-packages on the path, behind a folder whose `tfsigns` (and
    `tensorflow`, where ai-edge-litert is there to run the models) raise ImportError when imported."""
    blocked = tmp_path / "blocked"
    names = ["tfsigns"] + (["tensorflow"] if importlib.util.find_spec("ai_edge_litert") else [])
    for name in names:
        (blocked / name).mkdir(parents=True, exist_ok=True)
        (blocked / name / "__init__.py").write_text(f"raise ImportError('{name} is not installed here')\n")
    site = Path(np.__file__).resolve().parents[1]
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "TFSIGNS"))}
    return [sys.executable, "-S"], {**env, "PYTHONPATH": f"{blocked}{os.pathsep}{site}"}


def read_py(folder: Path, photos: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    command, env = fresh_python(tmp_path)
    return subprocess.run([*command, str(folder / "read.py"), *photos], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=600)


@requires_real_data
@pytest.mark.parametrize("family", ["mlp", "cnn", pytest.param("landmarks", marks=requires_hands)])
def test_an_export_reads_as_predict_where_tfsigns_is_not_installed(family, photos, tmp_path):
    run = train(RUNS[family], tmp_path / "run")
    if family == "landmarks":  # each photo meets the hand models twice: a third of SIGNS, a fifth of others
        photos = photos[:120:3] + photos[120::5]
    code, out, err = run_main(export_main, ["--model", str(run), "--out", str(tmp_path / "reader")])
    assert code == 0, err
    sizes = {p: p.stat().st_size for p in (tmp_path / "reader").rglob("*") if p.is_file()}
    app = sum(size for p, size in sizes.items() if "web" not in p.relative_to(tmp_path / "reader").parts)
    assert f"{sum(sizes.values()) / 1e6:.2f} MB" in out and app < 12e6, out  # the hand models are 7.8 MB
    command, env = fresh_python(tmp_path)
    probe = subprocess.run([*command, "-c", "import tfsigns"], capture_output=True, text=True, env=env,
                           cwd=tmp_path)
    assert probe.returncode == 1 and "tfsigns is not installed here" in probe.stderr

    done = read_py(tmp_path / "reader", photos, tmp_path)
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr
    read = [json.loads(line) for line in done.stdout.splitlines()]
    code, out, err = run_main(predict_main, ["--json", "--model", str(run), *photos])
    assert code == 0, err
    predicted = [json.loads(line) for line in out.splitlines()]
    assert [r["image"] for r in read] == photos
    words = lambda answer: {k: v for k, v in answer.items() if k not in ("probabilities", "unknown")}  # noqa: E731
    assert [(words(r), sorted(r)) for r in read] == [(words(p), sorted(p)) for p in predicted]
    pairs = [(r["probabilities"] + [r.get("unknown", 0)], p["probabilities"] + [p.get("unknown", 0)])
             for r, p in zip(read, predicted, strict=True) if p["probabilities"] is not None]
    assert len(pairs) >= 0.9 * len(photos)
    assert np.abs(np.array(pairs)[:, 0] - np.array(pairs)[:, 1]).max() < PARITY


@pytest.fixture(scope="module")
def landmark_run(tmp_path_factory) -> Path:
    """A short landmark reader of tfsigns/reader.json's size (64 and 32 hidden units, 5 epochs)."""
    if requires_hands.args[0]:
        pytest.skip(requires_hands.kwargs["reason"])
    return train(["--arch", "landmarks", "--layers", "64,32", "--epochs", "5"],
                 tmp_path_factory.mktemp("landmarks") / "run")


def test_a_quantized_export_is_smaller_and_reads_much_the_same(landmark_run, photos, tmp_path):
    run = landmark_run
    outs = {}
    for quantize in ("none", "float16"):
        code, _, err = run_main(export_main, ["--model", str(run), "--out", str(tmp_path / quantize),
                                              "--quantize", quantize])
        assert code == 0, err
        done = read_py(tmp_path / quantize, photos[:40], tmp_path)
        assert done.returncode == 0, done.stderr
        outs[quantize] = np.array([json.loads(line)["probabilities"] for line in done.stdout.splitlines()])
    sizes = {q: (tmp_path / q / "classifier.tflite").stat().st_size for q in outs}
    assert sizes["float16"] < 0.8 * sizes["none"], sizes
    contract = json.loads((tmp_path / "float16" / "reader.json").read_text())
    assert contract["classifier"]["quantize"] == "float16"
    assert np.abs(outs["float16"] - outs["none"]).max() < 0.01


def one_line_error(argv: list[str], *words: str) -> None:
    code, out, err = run_main(export_main, argv)
    assert code == 2 and not out and len(err.strip().splitlines()) == 1, (code, out, err)
    assert err.startswith("tfsigns.export: error:") and all(w in err for w in words), err


def test_an_existing_out_an_unfinished_run_and_an_unknown_family_are_one_line(fake_run, tmp_path):
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "mine.txt").write_text("keep me")
    before = snapshot(taken)
    one_line_error(["--model", str(fake_run), "--out", str(taken)], "already exists")
    assert snapshot(taken) == before

    unfinished = copy_of(fake_run, tmp_path)
    (unfinished / "metrics.json").unlink()
    one_line_error(["--model", str(unfinished), "--out", str(tmp_path / "a")], "has not finished", "--resume")

    unknown = copy_of(fake_run, tmp_path)
    metrics = json.loads((unknown / "metrics.json").read_text())
    metrics["config"]["arch"] = "transformer"
    (unknown / "metrics.json").write_text(json.dumps(metrics))
    one_line_error(["--model", str(unknown), "--out", str(tmp_path / "b")], "'transformer'", "unknown")

    metrics["config"]["arch"] = ["mlp"]
    (unknown / "metrics.json").write_text(json.dumps(metrics))
    one_line_error(["--model", str(unknown), "--out", str(tmp_path / "b")], "['mlp']", "unknown")

    one_line_error(["--model", str(fake_run), "--out", str(tmp_path / "no" / "c")], "cannot be created")
    one_line_error(["--model", str(fake_run), "--out", str(tmp_path / ("x" * 300))], "File name too long")
    one_line_error(["--model", str(fake_run), "--out", str(tmp_path / "d"), "--quantize", "int4"],
                   "--quantize")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["taken", unfinished.parent.name,
                                                                 unknown.parent.name])


def test_read_py_refuses_a_photo_it_cannot_read_and_a_model_file_that_was_changed(fake_run, tmp_path):
    folder = tmp_path / "reader"
    code, _, err = run_main(export_main, ["--model", str(fake_run), "--out", str(folder)])
    assert code == 0, err
    photo = tmp_path / "photo.png"
    Image.fromarray(np.full((80, 60, 3), 200, np.uint8)).save(photo)
    cases = [([str(photo), str(tmp_path / "missing.jpg")], "missing.jpg: file not found"),
             ([str(folder / "reader.json")], "not a readable image"),
             (["--reader", str(tmp_path), str(photo)], "no usable reader.json")]
    for argv, words in cases:
        done = read_py(folder, argv, tmp_path)
        assert done.returncode == 2 and not done.stdout and done.stderr.count("\n") == 1, done
        assert done.stderr.startswith("read.py: error:") and words in done.stderr, done.stderr
    contract = json.loads((folder / "reader.json").read_text())
    tampered = [[], {**contract, "format": "tfsigns-reader/1"}, {**contract, "signs": ["0", "1"]},
                {**contract, "signs": ["0", "0", "1", "2", "3", "4"]}, {**contract, "signs": "012345"},
                {**contract, "unknown": {"output": 6}}, {**contract, "signs": ["0", "1", "2", "3", "4", 5]},
                {**contract, "input": {**contract["input"], "size": "sixty-four"}},
                {**contract, "classifier": {**contract["classifier"], "file": "../../../etc/passwd"}},
                {**contract, "hand_models": {"7": contract["classifier"]["sha256"]}},
                {**contract, "input": {"kind": "landmarks", "features": "world-xy-wrist-dm/best-region/3",
                                       "hand_model_files": ["../a", ["b"]], "presence_threshold": 0.5},
                 "classifier": {**contract["classifier"], "input": {"shape": [1, 42]}}}]
    tampered += [{**contract, "input": {**contract["input"], "size": "64"}},
                 {**contract, "input": {k: v for k, v in contract["input"].items() if k != "framing"}}]
    for bad in tampered:
        (folder / "reader.json").write_text(json.dumps(bad))
        done = read_py(folder, [str(photo)], tmp_path)
        assert done.returncode == 2 and not done.stdout and done.stderr.count("\n") == 1, (bad, done)
    (folder / "reader.json").write_text(json.dumps(contract))
    good = read_py(folder, [str(photo)], tmp_path)
    assert good.returncode == 0 and json.loads(good.stdout)["image"] == str(photo), good.stderr
    tflite = folder / "classifier.tflite"
    tflite.write_bytes(tflite.read_bytes()[:-1] + b"\0")
    done = read_py(folder, [str(photo)], tmp_path)
    assert done.returncode == 2 and "classifier.tflite: not the file reader.json names" in done.stderr


@pytest.mark.parametrize("path", sorted(PORTABLE.glob("*.py")), ids=lambda path: path.name)
def test_what_an_export_copies_imports_only_its_runtime_and_itself(path):
    """tfsigns/portable/ is copied beside the models: its modules import the standard library, the runtime
    (NumPy, Pillow, a TFLite interpreter) and each other (relatively), never tfsigns."""
    outside = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            outside |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level:
            outside.add(node.module.split(".")[0])
    assert not outside - RUNTIME - set(sys.stdlib_module_names), sorted(outside)


def test_read_py_refuses_a_landmark_contract_that_its_models_contradict(landmark_run, tmp_path):
    """Swapped hand model files, or a classifier that takes other inputs than reader.json says (its SHA-256
    updated to match), or a presence threshold that is no number in [0, 1]: one line, exit 2, no answer."""
    folder, other = tmp_path / "reader", tmp_path / "pixels"
    assert run_main(export_main, ["--model", str(landmark_run), "--out", str(folder)])[0] == 0
    contract = json.loads((folder / "reader.json").read_text())
    palm, landmark = contract["input"]["hand_model_files"]
    with h5py.File(REAL_DATA / "test_signs.h5") as f:
        Image.fromarray(np.array(f["test_set_x"][0])).save(tmp_path / "photo.png")
    pixel_run = train(RUNS["cnn"], tmp_path / "cnn")
    assert run_main(export_main, ["--model", str(pixel_run), "--out", str(other)])[0] == 0
    (folder / "other.tflite").write_bytes((other / "classifier.tflite").read_bytes())
    other_sha = json.loads((other / "reader.json").read_text())["classifier"]["sha256"]
    tampered = [{**contract, "input": {**contract["input"], "hand_model_files": [landmark, palm]}},
                {**contract, "classifier": {**contract["classifier"], "file": "other.tflite",
                                            "sha256": other_sha}},
                {**contract, "input": {**contract["input"], "presence_threshold": True}},
                {**contract, "input": {**contract["input"], "presence_threshold": "nan"}},
                {**contract, "input": {**contract["input"], "hand_model_files": [palm, palm]}}]
    for bad in tampered:
        (folder / "reader.json").write_text(json.dumps(bad))
        done = read_py(folder, [str(tmp_path / "photo.png")], tmp_path)
        assert done.returncode == 2 and not done.stdout and done.stderr.count("\n") == 1, (bad, done)
    (folder / "reader.json").write_text(json.dumps(contract))
    done = read_py(folder, [str(tmp_path / "photo.png")], tmp_path)
    assert done.returncode == 0 and json.loads(done.stdout)["hand"] is True, done.stderr
