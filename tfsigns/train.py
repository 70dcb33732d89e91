"""Command line: `python -m tfsigns.train` trains on SIGNS and writes its results to --out.

Outputs: metrics.json (settings, per-epoch cost and learning rate, accuracies,
timing, versions), cost.png, and a tf.compat.v1.train.Saver checkpoint in
checkpoints/. Bad input gets one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import tensorflow as tf

import tfsigns
from tfsigns.data import DataError, find_data_dir, load_signs, train_validation_split
from tfsigns.files import OutputError, prepare_out_dir, replace_dir, write_json
from tfsigns.model import OPTIMIZERS
from tfsigns.plots import plot_costs
from tfsigns.trainer import DECAYS, DEVICES, ConfigError, TrainConfig, TrainingDiverged, resolve_device, train

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
    """The CLI's flags; defaults are TrainConfig's (the course's settings)."""
    d = TrainConfig()
    p = Parser(prog=PROG, description="Train the course's SIGNS network (tf.compat.v1 graph + session).",
               formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data-dir", help="folder with train_signs.h5 and test_signs.h5 "
                   "(default: $TFSIGNS_DATA, else the project's data/)")
    p.add_argument("--out", default="runs/train", help="folder for metrics.json, cost.png, checkpoints/")
    p.add_argument("--epochs", type=int, default=d.num_epochs)
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
    p.add_argument("--batch-norm", action="store_true", help="batch norm between Z and ReLU")
    p.add_argument("--bn-momentum", type=float, default=d.bn_momentum)
    p.add_argument("--lambd", type=float, default=d.lambd, help="L2 regularization strength")
    p.add_argument("--keep-prob", type=float, default=d.keep_prob, help="dropout keep probability")
    p.add_argument("--validation-fraction", type=parse_fraction, default=0.0,
                   help="carve this stratified share of the training set out for validation")
    p.add_argument("--split-seed", type=int, default=0, help="seed of the validation split")
    p.add_argument("--print-every", type=int, default=d.print_every)
    p.add_argument("--quiet", action="store_true", help="no progress bar and no cost lines")
    return p


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """TrainConfig from parsed flags (validated by TrainConfig itself)."""
    return TrainConfig(
        layers=args.layers, learning_rate=args.learning_rate, num_epochs=args.epochs,
        minibatch_size=args.minibatch_size, seed=args.seed, minibatch_seed=args.minibatch_seed,
        optimizer=args.optimizer, beta1=args.beta1, beta2=args.beta2, epsilon=args.epsilon,
        momentum=args.momentum, decay=args.decay, decay_rate=args.decay_rate,
        decay_interval=args.decay_interval, batch_norm=args.batch_norm, bn_momentum=args.bn_momentum,
        lambd=args.lambd, keep_prob=args.keep_prob, device=args.device,
        print_cost=not args.quiet, print_every=args.print_every)


def run(args: argparse.Namespace) -> int:
    """Train and write the outputs; errors propagate to main()."""
    config = config_from_args(args)
    resolve_device(config.device)  # a missing GPU is bad input: say so before any work
    out = prepare_out_dir(args.out)
    data_dir = find_data_dir(args.data_dir)
    X_train, Y_train, X_test, Y_test, _ = load_signs(data_dir)
    eval_sets = {"test": (X_test, Y_test)}
    if args.validation_fraction:
        X_train, Y_train, X_val, Y_val = train_validation_split(
            X_train, Y_train, args.validation_fraction, args.split_seed)
        eval_sets = {"validation": (X_val, Y_val), **eval_sets}
    started = time.time()
    staging = Path(tempfile.mkdtemp(dir=out, prefix=".checkpoints."))
    try:
        _, history = train(config, X_train, Y_train, eval_sets,
                           progress=not args.quiet and sys.stderr.isatty(), checkpoint_dir=staging)
        replace_dir(staging, out / "checkpoints")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    plot_costs({"train": history.costs}, out / "cost.png",
               title=f"learning rate {config.learning_rate:g}, {config.optimizer}")
    write_json(out / "metrics.json", {
        "config": config.to_dict(),
        "data_dir": str(data_dir.resolve()),
        "costs": history.costs,
        "learning_rates": history.learning_rates,
        "accuracy": history.accuracy,
        "train_accuracy": history.train_accuracy,
        "test_accuracy": history.test_accuracy,
        "train_seconds": history.train_seconds,
        "wall_seconds": time.time() - started,
        "ms_per_epoch": 1000 * history.train_seconds / len(history.costs),
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
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except (DataError, ConfigError, OutputError) as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    except TrainingDiverged as err:
        print(f"{PROG}: training failed: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
