"""Command line: `python -m tfsigns.train` trains on SIGNS and writes its results to --out.

Outputs: config.json (the settings, written first, read back by --resume),
metrics.json (settings, per-epoch cost and learning rate, accuracies, timing,
versions), cost.png, and tf.compat.v1.train.Saver checkpoints in checkpoints/.
Bad input gets one line on stderr and exit code 2; Ctrl-C checkpoints and exits 130.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import signal
import sys
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

import tfsigns
from tfsigns.checkpoint import CheckpointError
from tfsigns.data import DataError, find_data_dir, load_signs, train_validation_split
from tfsigns.files import OutputError, prepare_out_dir, write_json
from tfsigns.model import OPTIMIZERS, predict
from tfsigns.monitor import Monitor
from tfsigns.plots import plot_confusion, plot_costs, plot_samples
from tfsigns.trainer import (
    CONFIG_FIELDS,
    DECAYS,
    DEVICES,
    ConfigError,
    TrainConfig,
    TrainingDiverged,
    TrainingInterrupted,
    resolve_device,
    train,
)

PROG = "tfsigns.train"


class Parser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line (exit 2), without the usage dump."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def parse_layers(text: str) -> tuple[int, ...]:
    """'25,12' -> (25, 12): hidden units per hidden layer, each a positive integer."""
    try:
        layers = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"malformed --layers {text!r}: expected e.g. 25,12") from None
    if any(n <= 0 for n in layers):
        raise argparse.ArgumentTypeError(f"--layers {text!r}: every layer needs at least one unit")
    return layers


def parse_fraction(text: str) -> float:
    """A share in [0, 1): 0 means no validation split."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"--validation-fraction {text!r}: expected a number in [0, 1)")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The CLI's flags; `dest` names are TrainConfig's fields, defaults the course's settings."""
    d = TrainConfig()
    p = Parser(prog=PROG, description="Train the course's SIGNS network (tf.compat.v1 graph + session).",
               formatter_class=argparse.ArgumentDefaultsHelpFormatter, allow_abbrev=False)
    p.add_argument("--data-dir", help="folder with train_signs.h5 and test_signs.h5 "
                   "(default: $TFSIGNS_DATA, else the project's data/)")
    p.add_argument("--out", default="runs/train", help="folder for metrics.json, cost.png, checkpoints/")
    p.add_argument("--config", help="JSON file of settings (e.g. a search's best.json); flags override it")
    p.add_argument("--resume", action="store_true",
                   help="go on from the newest checkpoint in --out, with the settings saved there "
                        "(flags given now override them, e.g. a new --learning-rate)")
    p.add_argument("--monitor-every", type=int, default=100,
                   help="epochs between accuracy summaries and cost.png refreshes while training")
    p.add_argument("--checkpoint-every", type=int, default=100, help="epochs between checkpoints")
    p.add_argument("--keep-checkpoints", type=int, default=3, help="how many recent checkpoints to keep")
    p.add_argument("--epochs", dest="num_epochs", type=int, default=d.num_epochs)
    p.add_argument("--learning-rate", type=float, default=d.learning_rate)
    p.add_argument("--minibatch-size", type=int, default=d.minibatch_size)
    p.add_argument("--layers", type=parse_layers, default=d.layers, help="hidden units, comma-separated")
    p.add_argument("--seed", type=int, default=d.seed, help="graph and initializer seed")
    p.add_argument("--minibatch-seed", type=int, default=d.minibatch_seed)
    p.add_argument("--device", choices=DEVICES, default=d.device)
    p.add_argument("--optimizer", choices=OPTIMIZERS, default=d.optimizer)
    p.add_argument("--beta1", type=float, default=d.beta1, help="Adam's first-moment average")
    p.add_argument("--beta2", type=float, default=d.beta2, help="Adam's and RMSProp's second-moment average")
    p.add_argument("--epsilon", type=float, default=d.epsilon)
    p.add_argument("--momentum", type=float, default=d.momentum, help="beta of the momentum optimizer")
    p.add_argument("--decay", choices=DECAYS, default=d.decay, help="learning-rate decay schedule")
    p.add_argument("--decay-rate", type=float, default=d.decay_rate)
    p.add_argument("--decay-interval", type=int, default=d.decay_interval, help="epochs per staircase step")
    p.add_argument("--batch-norm", action=argparse.BooleanOptionalAction, default=d.batch_norm,
                   help="batch norm between Z and ReLU")
    p.add_argument("--bn-momentum", type=float, default=d.bn_momentum)
    p.add_argument("--bn-population-stats", action=argparse.BooleanOptionalAction,
                   default=d.bn_population_stats,
                   help="after training, test-time batch-norm statistics from the whole training set "
                        "(off: the running averages)")
    p.add_argument("--lambd", type=float, default=d.lambd, help="L2 regularization strength")
    p.add_argument("--keep-prob", type=float, default=d.keep_prob, help="dropout keep probability")
    p.add_argument("--validation-fraction", type=parse_fraction, default=0.0,
                   help="carve this stratified share of the training set out for validation")
    p.add_argument("--split-seed", type=int, default=0, help="seed of the validation split")
    p.add_argument("--print-every", type=int, default=d.print_every)
    p.add_argument("--plots", action="store_true",
                   help="also write samples.png (test images, labels, predictions) and confusion.png")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no cost lines")
    return p


SETTABLE = CONFIG_FIELDS - {"print_cost"}  # --quiet decides that one
# What a run's config.json (and a --config file) holds: the TrainConfig and the data it saw.
SETTINGS = SETTABLE | {"data_dir", "validation_fraction", "split_seed"}


def given_flags(parser: argparse.ArgumentParser, argv: list[str]) -> set[str]:
    """dest names of the flags spelled out on the command line (abbreviations are off)."""
    spelled = {arg.split("=", 1)[0] for arg in argv if arg.startswith("--")}
    return {action.dest for action in parser._actions if spelled & set(action.option_strings)}


def read_settings(path: Path) -> dict:
    """Settings from a JSON object: flat (config.json, best.json) or a metrics.json."""
    try:
        settings = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise ConfigError(f"{path}: cannot read settings ({err})") from None
    if not isinstance(settings, dict):
        raise ConfigError(f"{path}: expected a JSON object of settings")
    if isinstance(settings.get("config"), dict):  # a metrics.json: its config and data settings
        return {k: v for k, v in {**settings, **settings["config"]}.items() if k in SETTINGS}
    unknown = sorted(set(settings) - SETTINGS - {"print_cost"})
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s) {', '.join(unknown)}")
    return {k: v for k, v in settings.items() if k in SETTINGS}


def resolve_settings(args: argparse.Namespace, argv: list[str], parser) -> dict:
    """Flags, over --resume's saved config.json, over --config, over the defaults."""
    settings = {k: getattr(args, k) for k in SETTINGS}
    base = read_settings(Path(args.config)) if args.config else {}
    if args.resume:
        saved = Path(args.out) / "config.json"
        if not saved.is_file():
            raise CheckpointError(f"--resume: {args.out} holds no run to resume (no config.json)")
        base.update(read_settings(saved))
    given = given_flags(parser, argv)
    settings.update({k: v for k, v in base.items() if k not in given})
    return settings


def run(args: argparse.Namespace, settings: dict) -> int:
    """Train and write the outputs; errors propagate to main()."""
    config = TrainConfig(**{k: settings[k] for k in SETTABLE}, print_cost=not args.quiet)
    resolve_device(config.device)  # a missing GPU is bad input: say so before any work
    for name in ("checkpoint_every", "keep_checkpoints", "monitor_every"):
        if getattr(args, name) <= 0:
            raise ConfigError(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    out = prepare_out_dir(args.out)
    data_dir = find_data_dir(settings["data_dir"])
    X_train, Y_train, X_test, Y_test, _ = load_signs(data_dir)
    eval_sets = {"test": (X_test, Y_test)}
    if settings["validation_fraction"]:
        X_train, Y_train, X_val, Y_val = train_validation_split(
            X_train, Y_train, settings["validation_fraction"], settings["split_seed"])
        eval_sets = {"validation": (X_val, Y_val), **eval_sets}
    if not args.resume:  # a fresh run replaces whatever an earlier one left here
        shutil.rmtree(out / "checkpoints", ignore_errors=True)
    saved_settings = {**settings, **config.to_dict(), "data_dir": str(data_dir.resolve())}

    stop_requested = []

    def on_sigint(signum, frame):
        if stop_requested:  # a second Ctrl-C: stop now
            raise KeyboardInterrupt
        stop_requested.append(signum)

    previous = signal.signal(signal.SIGINT, on_sigint)
    title = f"learning rate {config.learning_rate:g}, {config.optimizer}"
    monitor = Monitor(out, args.monitor_every, title)
    started = time.time()
    try:
        parameters, history = train(config, X_train, Y_train, eval_sets,
                           progress=not args.quiet and sys.stderr.isatty(),
                           checkpoint_dir=out / "checkpoints", checkpoint_every=args.checkpoint_every,
                           keep_checkpoints=args.keep_checkpoints, resume=args.resume,
                           should_stop=lambda: bool(stop_requested),
                           on_start=lambda: write_json(out / "config.json", saved_settings),
                           on_epoch=monitor)
    except TrainingInterrupted as stop:
        command = shlex.join([sys.executable, "-m", "tfsigns.train", "--out", str(out), "--resume"])
        print(f"{PROG}: interrupted after epoch {stop.epoch}; checkpoint saved in {out / 'checkpoints'}. "
              f"Resume with: {command}", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGINT, previous)
        monitor.close()
    plot_costs({"train": history.costs}, out / "cost.png", title=title)
    if args.plots:
        labels, predictions = Y_test.argmax(axis=0), predict(X_test, parameters)
        images = np.round(X_test.T.reshape(-1, 64, 64, 3) * 255).astype(np.uint8)
        plot_samples(images[:24], labels[:24], out / "samples.png", predictions[:24])
        plot_confusion(labels, predictions, out / "confusion.png")
    write_json(out / "metrics.json", {
        "config": config.to_dict(),
        "data_dir": str(data_dir.resolve()),
        "validation_fraction": settings["validation_fraction"],
        "split_seed": settings["split_seed"],
        "costs": history.costs,
        "learning_rates": history.learning_rates,
        "accuracy": history.accuracy,
        "train_accuracy": history.train_accuracy,
        "test_accuracy": history.test_accuracy,
        "train_seconds": history.train_seconds,
        "wall_seconds": time.time() - started,
        "ms_per_epoch": history.ms_per_epoch,
        "device": history.device,
        "tensorflow_version": tf.__version__,
        "tfsigns_version": tfsigns.__version__,
    })
    for name, value in history.accuracy.items():
        print(f"{name.capitalize()} Accuracy: {value:.4f}")
    print(f"{len(history.costs)} epochs in {history.train_seconds:.1f} s on {history.device}; "
          f"results in {out}/ (metrics.json, cost.png, checkpoints/)")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point: exit 0 on success, 2 on bad input, 1 when training diverges."""
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return run(args, resolve_settings(args, argv, parser))
    except (DataError, ConfigError, OutputError, CheckpointError) as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    except TrainingDiverged as err:
        print(f"{PROG}: training failed: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
