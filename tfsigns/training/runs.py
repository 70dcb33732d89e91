"""A training run's folder, as `python -m tfsigns.train --out` leaves it: which files make a
run, whether one is there to keep, and which checkpoint holds the finished model. Read
without TensorFlow, so a command can judge --out and --model before TensorFlow loads.

    config.json    the settings (written first; --resume reads it back)
    metrics.json   settings, history, accuracies, the finished checkpoint's name (written last)
    examples.npz   a landmark run's training examples as features (teaching a sign trains on them)
    cost.png, samples.png, confusion.png, tensorboard/, checkpoints/
    robustness/, robustness-validation/   tfsigns.robustness's scores of the run, by split
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from tfsigns.config import HAND_MODELS
from tfsigns.hands.model import HandModel
from tfsigns.portable.hands import VERSION
from tfsigns.portable.read import Signs

# What a run leaves in --out; --overwrite removes exactly these, and only once the new run's
# settings and data have been checked.
RUN_FILES = ("config.json", "metrics.json", "cost.png", "samples.png", "confusion.png", "examples.npz")
RUN_FOLDERS = ("checkpoints", "tensorboard", "robustness", "robustness-validation")  # the last two: scores


class CheckpointError(ValueError):
    """No checkpoint to resume from or predict with, or one that is corrupt or belongs to
    another network."""


def too_few_epochs(directory: str | os.PathLike, done: int, wanted: int) -> str:
    """Why a resume to fewer epochs than a run has done is refused (its history would not fit)."""
    return (f"--resume: the run in {Path(directory).parent} has done {done} epochs; --epochs {wanted} "
            f"is fewer: give --epochs {done} or more")


def existing_run(out: Path) -> str | None:
    """What in `out` shows an earlier run worth keeping (a finished run's metrics.json, or a
    checkpoint to resume from), or None. A run that died before its first checkpoint left
    nothing to go on from, and a new run simply replaces it."""
    if (out / "metrics.json").exists():
        return "metrics.json"
    if (out / "checkpoints" / "checkpoint").exists():
        return "checkpoints/"
    return None


def clear_run(out: Path) -> None:
    """Remove an earlier run's files from `out` (--overwrite), leaving anything else there."""
    for name in RUN_FILES:
        (out / name).unlink(missing_ok=True)
    for name in RUN_FOLDERS:
        shutil.rmtree(out / name, ignore_errors=True)


def finished_run(run_dir: str | os.PathLike) -> tuple[dict, Path]:
    """A finished run's metrics.json (its "config" the TrainConfig fields it trained with) and
    its finished model's checkpoint, as metrics.json names it; CheckpointError otherwise.

    Mid-run checkpoints are refused: with batch norm they hold the running averages, not
    the statistics the finished model is scored with (0.41 against 0.92 test accuracy).
    """
    run_dir = Path(run_dir)
    metrics_path = run_dir / "metrics.json"
    if not metrics_path.is_file():
        if (run_dir / "checkpoints").is_dir():
            raise CheckpointError(f"--model {run_dir}: the run has not finished (no metrics.json); resume it "
                                  f"with python -m tfsigns.train --out {run_dir} --resume")
        raise CheckpointError(f"--model {run_dir}: no finished run there (train with --out {run_dir} first)")
    try:
        metrics = json.loads(metrics_path.read_text())
        path = run_dir / "checkpoints" / str(metrics["checkpoint"])
        if not isinstance(metrics["config"], dict):
            raise TypeError("its config is not an object")
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise CheckpointError(f"--model {run_dir}: {metrics_path} names no checkpoint and config "
                              f"({err!r})") from None
    try:
        Signs.of(metrics)
    except (ValueError, TypeError) as err:
        raise CheckpointError(f"--model {run_dir}: {metrics_path} does not name its signs usably "
                              f"({err})") from None
    if not Path(f"{path}.index").is_file():
        raise CheckpointError(f"--model {run_dir}: the finished model's checkpoint {path.name} is gone (a "
                              "resumed run that has not finished replaced it); finish that run with --resume")
    return metrics, path


def hand_model_of(run_dir: str | os.PathLike, metrics: dict) -> HandModel:
    """The hand model a landmark run was trained through, loaded and checked against the input contract
    its metrics.json stores; CheckpointError when the run has none (from before it) or it names other
    model files than those found (ModelError when they are missing or damaged)."""
    contract = metrics.get("input")
    if not isinstance(contract, dict) or contract.get("features") != VERSION:
        raise CheckpointError(f"--model {run_dir}: a landmarks run without this version's input contract "
                              f"({VERSION}); train it again")
    model = HandModel(contract["hand_model"] if contract.get("hand_model") in HAND_MODELS else "full")
    models = contract.get("models")
    if not isinstance(models, dict) or sorted(model.sha256.values()) != sorted(map(str, models.values())):
        raise CheckpointError(f"--model {run_dir}: was trained through other hand model files than those "
                              f"found ({contract.get('models')}); train it again with these")
    return model
