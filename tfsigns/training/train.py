"""Command line: `python -m tfsigns.train` trains on SIGNS and writes its results to --out.

Outputs: config.json (the settings, written first, read back by --resume),
metrics.json (settings, per-epoch cost and learning rate, accuracies, timing,
versions, the finished model's checkpoint; written last), cost.png, TensorBoard
files, and tf.compat.v1.train.Saver checkpoints in checkpoints/. A run already in
--out is kept unless --resume goes on with it or --overwrite replaces it.
Bad input gets one line on stderr and exit code 2, before anything in --out changes;
Ctrl-C checkpoints and exits 130.
"""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

import tfsigns
from tfsigns.config import (
    CONFIG_FIELDS,
    DECAYS,
    DEVICES,
    DIGITS,
    FRAMINGS,
    HAND_MODELS,
    INITS,
    LANDMARK_FAMILIES,
    NETWORKS,
    NORMALIZATIONS,
    OPTIMIZERS,
    ConfigError,
    RunSettings,
    TrainConfig,
    TrainingDiverged,
    TrainingInterrupted,
)
from tfsigns.hands.files import ModelError
from tfsigns.images.signs import IMAGE_SHAPE, DataError, find_data_dir, load_signs, train_validation_split
from tfsigns.networks import get_network
from tfsigns.training.runs import CheckpointError, clear_run, existing_run, too_few_epochs
from tfsigns.utils.cli import (
    DATA_DEFAULTS,
    DATA_SETTINGS,
    FILE_RUN_SETTINGS,
    SETTINGS,
    HelpFormatter,
    Parser,
    check_settings,
    line_buffered_output,
    origin_of,
    positive,
    read_settings,
)
from tfsigns.utils.files import OutputError, check_writable, prepare_out_dir, write_json

if TYPE_CHECKING:
    from tfsigns.hands.examples import Examples

PROG = "tfsigns.train"
# What --resume may change: the run records its learning rate epoch by epoch, and its length
NUDGES = frozenset({"num_epochs", "learning_rate", "decay", "decay_rate", "decay_interval"})


def counts(flag: str, example: str, empty: bool = False, rule: str = "every entry must be at least 1"
           ) -> Callable[[str], tuple[int, ...]]:
    """A parser of comma-separated positive integers for `flag`: '25,12' -> (25, 12); with
    `empty`, '' -> () too (the CNN has no hidden dense layer unless asked)."""
    def parse(text: str) -> tuple[int, ...]:
        if empty and not text.strip():
            return ()
        try:
            values = tuple(int(part) for part in text.split(","))
        except ValueError:
            raise argparse.ArgumentTypeError(f"malformed {flag} {text!r}: expected e.g. {example}") from None
        if any(n <= 0 for n in values):
            raise argparse.ArgumentTypeError(f"{flag} {text!r}: {rule}")
        return values
    return parse


def parse_fraction(text: str) -> float:
    """A share in [0, 1): 0 means no validation split."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a number in [0, 1)")
    return value


# The augmentation strengths' flags (--rotation, ...) and what each draws per image and step
STRENGTHS = {
    "rotation": "rotate by up to this many degrees either way",
    "translation": "shift by up to this share of the image's size along each axis",
    "zoom": "scale by a factor in [1-z, 1+z]",
    "brightness": "add up to ± this to every pixel (pixels lie in [0, 1])",
    "contrast": "contrast factor in [1-c, 1+c]",
    "saturation": "saturation factor in [1-s, 1+s]",
    "hue": "turn the hue by up to this share of the colour circle",
    "colour_cast": "each channel's gain in [1-g, 1+g] (a white-balance error)",
    "blur": "Gaussian blur of up to this deviation, in pixels",
    "noise": "sensor noise of up to this standard deviation",
}


def build_parser() -> argparse.ArgumentParser:
    """The CLI's flags; `dest` names are TrainConfig's fields, defaults the course's settings."""
    d, r = TrainConfig(), RunSettings()
    p = Parser(prog=PROG, description="Train the course's SIGNS network (tf.compat.v1 graph + session).",
               formatter_class=HelpFormatter, allow_abbrev=False)
    p.add_argument("--data-dir", help="folder with train_signs.h5 and test_signs.h5 "
                   "(default: $TFSIGNS_DATA, else the project's data/)")
    p.add_argument("--out", default="runs/train", help="folder for metrics.json, cost.png, checkpoints/")
    p.add_argument("--config", help="JSON file of settings (a config.json, best.json or metrics.json); "
                   "flags override it")
    again = p.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true",
                       help="go on from the newest checkpoint in --out, with the settings saved there "
                            "(only --epochs, --learning-rate and its decay may change)")
    again.add_argument("--overwrite", action="store_true",
                       help="replace the run that --out already holds (without it, such a run is kept "
                            "and the command refused)")
    p.add_argument("--monitor-every", type=int, default=100,
                   help="epochs between accuracy summaries and cost.png refreshes while training")
    p.add_argument("--checkpoint-every", type=int, default=100, help="epochs between checkpoints")
    p.add_argument("--keep-checkpoints", type=int, default=3, help="how many recent checkpoints to keep")
    p.add_argument("--arch", choices=tuple(NETWORKS), default=d.arch,
                   help="the network family: mlp, the course's first network, cnn, its convolutional one "
                        "(which trains with the CNN notebook's learning rate 0.009, 100 epochs and minibatch "
                        "64 unless told otherwise), or landmarks, the MLP on a hand's landmarks from "
                        "MediaPipe's hand model (learning rate 0.003, 300 epochs, minibatch 64, layers "
                        "64,32)")
    p.add_argument("--epochs", dest="num_epochs", type=int, default=d.num_epochs, help="epochs to train")
    p.add_argument("--learning-rate", type=float, default=d.learning_rate, help="alpha (before decay)")
    p.add_argument("--minibatch-size", type=int, default=d.minibatch_size, help="examples per step")
    layers = counts("--layers", "25,12", rule="every layer needs at least one unit")
    p.add_argument("--layers", type=layers, default=",".join(map(str, d.layers)),
                   help="the MLP's hidden units, comma-separated")
    p.add_argument("--filters", type=counts("--filters", "8,16"), default=",".join(map(str, d.filters)),
                   help="the CNN's channels per conv block, comma-separated")
    p.add_argument("--kernels", type=counts("--kernels", "4,2"), default=",".join(map(str, d.kernels)),
                   help="the CNN's filter size per conv block")
    p.add_argument("--pools", type=counts("--pools", "8,4"), default=",".join(map(str, d.pools)),
                   help="the CNN's max-pool window (= stride) per conv block")
    p.add_argument("--dense", type=counts("--dense", "64", empty=True), default=",".join(map(str, d.dense)),
                   help="the CNN's hidden dense units after flattening (default: none, also '')")
    p.add_argument("--seed", type=int, default=d.seed, help="graph and initializer seed")
    p.add_argument("--minibatch-seed", type=int, default=d.minibatch_seed,
                   help="epoch e shuffles with this seed + e + 1, as the course does")
    p.add_argument("--init", choices=INITS, default=d.init,
                   help="weight seeds: course (every layer shares the op seed, as the course does) or "
                        "independent (a stream per layer)")
    p.add_argument("--device", choices=DEVICES, default=r.device, help="where the graph runs")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default=d.optimizer, help="the update rule")
    p.add_argument("--beta1", type=float, default=d.beta1, help="Adam's first-moment average")
    p.add_argument("--beta2", type=float, default=d.beta2, help="Adam's and RMSProp's second-moment average")
    p.add_argument("--epsilon", type=float, default=d.epsilon, help="Adam's and RMSProp's epsilon")
    p.add_argument("--momentum", type=float, default=d.momentum, help="beta of the momentum optimizer")
    p.add_argument("--decay", choices=DECAYS, default=d.decay, help="learning-rate decay schedule")
    p.add_argument("--decay-rate", type=float, default=d.decay_rate, help="the schedule's rate")
    p.add_argument("--decay-interval", type=int, default=d.decay_interval, help="epochs per staircase step")
    p.add_argument("--batch-norm", action=argparse.BooleanOptionalAction, default=d.batch_norm,
                   help="batch norm between Z and ReLU")
    p.add_argument("--bn-momentum", type=float, default=d.bn_momentum, help="batch norm's moving averages")
    p.add_argument("--bn-population-stats", action=argparse.BooleanOptionalAction,
                   default=d.bn_population_stats,
                   help="after training, test-time batch-norm statistics from the whole training set "
                        "(off: the running averages)")
    p.add_argument("--lambd", type=float, default=d.lambd, help="L2 regularization strength")
    p.add_argument("--keep-prob", type=float, default=d.keep_prob, help="dropout keep probability")
    p.add_argument("--flip", action=argparse.BooleanOptionalAction, default=d.flip,
                   help="augmentation: mirror each training image left to right with probability 1/2 "
                        "(the other hand)")
    for name, text in STRENGTHS.items():
        p.add_argument(origin_of(name), type=float, default=getattr(d, name), help=f"augmentation: {text}")
    p.add_argument("--normalize", choices=NORMALIZATIONS, default=d.normalize,
                   help="the network's input: as loaded, each image standardized (per-image), or the "
                        "training set's per-channel mean and deviation taken out (dataset, stored with the "
                        "model)")
    p.add_argument("--framing", choices=FRAMINGS, default=d.framing,
                   help="each photo as it is, or framed: the hand found, its wall made plain grey and the "
                        "photo cropped to it (hand), in training and in every photo the run reads")
    p.add_argument("--hand-model", choices=HAND_MODELS, default=d.hand_model,
                   help="--arch landmarks: MediaPipe's full or lite hand models, found by $TFSIGNS_MODELS, "
                        "else fetched into the cache (docs/reader.md)")
    p.add_argument("--digits", choices=DIGITS, default=d.digits,
                   help="--arch landmarks: the signs it reads, SIGNS' 0-5, or ASL's 0-9, which trains on "
                        "SIGNS and other students' photos of the digits (--digits-dir)")
    p.add_argument("--digits-dir", help="--digits 0-9: the Sign Language Digits photos, a folder per digit "
                   "(several folders joined by ':'; default: $TFSIGNS_DIGITS, else data/digits)")
    p.add_argument("--validation-students", type=parse_fraction, default=DATA_DEFAULTS["validation_students"],
                   help="--digits 0-9: the share of those photos' students held out, to measure the reader "
                        "on people it never saw (drawn with --split-seed; 0: train on all)")
    p.add_argument("--unknown-shapes", type=int, default=d.unknown_shapes,
                   help="--arch landmarks: made-up hand shapes (one or two fingers of its examples raised "
                        "or folded) it learns as 'a sign I don't know'; 0: it names one of its signs for any "
                        "hand")
    p.add_argument("--unknown-threshold", type=float, default=d.unknown_threshold,
                   help="--unknown-shapes: the unknown output's probability from which the reader answers 'a "
                        "sign I don't know' (else the most probable of its signs)")
    p.add_argument("--validation-fraction", type=parse_fraction, default=0.0,
                   help="carve this stratified share of the training set out for validation")
    p.add_argument("--split-seed", type=int, default=0, help="seed of the validation split")
    p.add_argument("--print-every", type=int, default=r.print_every, help="epochs between cost lines")
    p.add_argument("--plots", action="store_true",
                   help="also write samples.png (test images, labels, predictions) and confusion.png")
    p.add_argument("--no-test", action="store_true",
                   help="never score the test set (while choosing settings on --validation-fraction, so "
                        "that the test set is used once, by the final run); given each time, not saved")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no cost lines")
    return p


def given_flags(parser: argparse.ArgumentParser, argv: list[str]) -> set[str]:
    """dest names of the flags spelled out on the command line (abbreviations are off)."""
    spelled = {arg.split("=", 1)[0] for arg in argv if arg.startswith("--")}
    return {action.dest for action in parser._actions if spelled & set(action.option_strings)}


def check_nudges(saved: dict, settings: dict, given: set[str], out: str) -> None:
    """ConfigError when a flag given with --resume would redefine the run rather than nudge it:
    only what the run records epoch by epoch (its learning rate and decay) and its length may change."""
    for name in sorted(given & (CONFIG_FIELDS | set(DATA_SETTINGS)) - NUDGES):
        if name not in saved:
            continue
        was, now = saved[name], settings[name]
        if name == "data_dir":
            same = now is None or Path(now).resolve() == Path(str(was)).resolve()
        else:
            same = (list(now) if isinstance(now, tuple) else now) == was
        if not same:
            raise ConfigError(f"{origin_of(name)} makes {name} {format_setting(now)}, but the run in {out} "
                              f"trained with {format_setting(was)}: a resumed run cannot change what it "
                              "learns; only --epochs, --learning-rate and its decay may change on --resume "
                              "(start a new run with another --out, or --overwrite)", name)


def format_setting(value) -> str:
    """A setting as a config file writes it: 25,12 for layers, true for a switch."""
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    return str(value).lower() if isinstance(value, bool) else str(value)


def resolve_settings(args: argparse.Namespace, argv: list[str], parser) -> tuple[dict, dict[str, str]]:
    """Flags, over --resume's saved config.json, over --config, over the defaults; with where
    each value that did not come from a default was found."""
    settings = {k: getattr(args, k) for k in SETTINGS}
    origins: dict[str, str] = {}
    sources = []
    given = given_flags(parser, argv)
    if args.config:
        sources.append((read_settings(args.config), f"--config {args.config}"))
    if args.resume:
        saved = Path(args.out) / "config.json"
        if not saved.is_file():
            raise CheckpointError(f"--resume: {args.out} holds no run to resume (no config.json)")
        sources.append((read_settings(saved), f"{saved} (--resume)"))
        check_nudges(sources[-1][0], settings, given, args.out)
    for values, origin in sources:
        for name, value in values.items():
            if name not in given:
                settings[name], origins[name] = value, origin
    origins.update({name: origin_of(name) for name in given & SETTINGS})
    return settings, origins


def check_out(args: argparse.Namespace, config: TrainConfig) -> None:
    """Refuse, before anything is written, a run that would spoil what --out holds: a new run
    over an earlier one (without --overwrite), or a resume to fewer epochs than were done."""
    out = Path(args.out)
    if args.resume:
        from tfsigns.training.checkpoint import checkpoint_epoch  # reading a checkpoint needs TensorFlow
        done = checkpoint_epoch(out / "checkpoints")
        if config.num_epochs < done:
            raise ConfigError(too_few_epochs(out / "checkpoints", done, config.num_epochs))
    elif not args.overwrite and (found := existing_run(out)):
        raise OutputError(f"--out {out} already holds a run ({found}): --resume goes on with it, "
                          "--overwrite replaces it, or choose another --out")


def run_metrics(config: TrainConfig, run_fields: dict, input_shape: tuple[int, ...], n_y: int, data_dir: Path,
                data: dict, history, started: float) -> dict:
    """A finished run's metrics.json: its settings, input contract, data, checkpoint, history,
    accuracies and timing (what tfsigns.training.runs.finished_run and tfsigns.training.inference read)."""
    from tfsigns.backend import tf
    return {
        "config": config.to_dict(),
        "run": run_fields,
        "input_shape": list(input_shape),
        "classes": n_y,
        "signs": [str(c) for c in range(n_y)],
        "data_dir": str(data_dir.resolve()),
        "validation_fraction": data["validation_fraction"],
        "split_seed": data["split_seed"],
        "checkpoint": Path(history.checkpoint).name,
        "costs": history.costs,
        "learning_rates": history.learning_rates,
        "accuracy": history.accuracy,
        "train_accuracy": history.train_accuracy,
        "test_accuracy": history.accuracy.get("test"),  # None: held out (--no-test)
        "train_seconds": history.train_seconds,
        "wall_seconds": time.time() - started,
        "ms_per_epoch": history.ms_per_epoch,
        "device": history.device,
        "tensorflow_version": tf.__version__,
        "tfsigns_version": tfsigns.__version__,
    }


def training_data(config: TrainConfig, data_dir: Path, data: dict
                  ) -> tuple[np.ndarray, np.ndarray, dict[str, tuple], Examples | None]:
    """What `config`'s family trains on, as columns: X_train, Y_train (one more row, the unknown sign, where
    it learns made-up shapes), the evaluation sets {"test", and OTHER_PEOPLE: (X, Y)}, and the examples."""
    if config.arch not in LANDMARK_FAMILIES:
        X_train, Y_train, X_test, Y_test, _ = load_signs(data_dir, config.framing)
        return X_train, Y_train, {"test": (X_test, Y_test)}, None
    from tfsigns.hands.examples import eval_columns, reader_examples, training_columns
    examples = reader_examples(config.digits, config.hand_model, data_dir, data["digits_dir"],
                               data["validation_students"], data["split_seed"])
    if any((no_hand := examples.info["signs_no_hand"]).values()):
        print(f"the hand model sees no hand in {no_hand['train']} training and {no_hand['test']} test photos "
              "of SIGNS: they are left out (a reader answers 'no hand' for them)")
    if photos := examples.info.get("photos"):
        print(f"other students' photos of the digits: {photos['photos']} of {photos['students']} students "
              f"({photos['no_hand']} without a hand seen, left out); {photos['held_out_students']} students "
              "held out to measure the reader on people it never saw")
    X_train, Y_train = training_columns(examples, config.unknown_shapes, config.seed)
    return X_train, Y_train, eval_columns(examples, config.unknown_shapes > 0), examples


def run(args: argparse.Namespace, settings: dict, origins: dict[str, str]) -> int:
    """Check everything, then train and write the outputs; errors propagate to main()."""
    config, run_settings, data = check_settings(settings, origins, print_cost=not args.quiet,
                                                progress=not args.quiet and sys.stderr.isatty())
    for name in ("checkpoint_every", "keep_checkpoints", "monitor_every"):
        positive(name, getattr(args, name))
    check_writable(args.out)
    data_dir = find_data_dir(data["data_dir"])
    if args.no_test and args.plots:
        raise ConfigError("--plots shows test images: it cannot go with --no-test")
    if config.arch in LANDMARK_FAMILIES and data["validation_fraction"]:
        raise ConfigError("--validation-fraction splits examples at random, and a landmark reader trains on "
                          "two views of each photo, which would fall on both sides: measure it on people it "
                          "never saw instead (--digits 0-9 --validation-students)", "validation_fraction")
    X_train, Y_train, evals, examples = training_data(config, data_dir, data)
    eval_sets = {name: pair for name, pair in evals.items() if name != "test" or not args.no_test}
    if data["validation_fraction"]:
        X_train, Y_train, X_val, Y_val = train_validation_split(
            X_train, Y_train, data["validation_fraction"], data["split_seed"])
        eval_sets = {"validation": (X_val, Y_val), **eval_sets}
    sets = {"train": (X_train, Y_train), **eval_sets}
    # Settings and data are good: only now does TensorFlow load (a few seconds), for the checks
    # that need it and for training.
    from tfsigns.training import trainer
    from tfsigns.training.augment import check_photos
    from tfsigns.training.inference import predict
    from tfsigns.training.monitor import Monitor
    from tfsigns.utils.plots import plot_confusion, plot_costs, plot_samples

    trainer.resolve_device(run_settings.device)  # a missing GPU is bad input: say so before any work
    layout = get_network(config.arch).layout  # the data in the family's layout: columns or images
    (X_train, Y_train), *evaluated = (layout.from_columns(X, Y, IMAGE_SHAPE) for X, Y in sets.values())
    eval_sets = dict(zip(eval_sets, evaluated, strict=True))
    _, input_shape, n_y = layout.sizes(X_train, Y_train)
    trainer.check_memory(config, input_shape, n_y)
    check_photos(config, layout, input_shape)
    check_out(args, config)
    out = prepare_out_dir(args.out)
    if not args.resume:  # --overwrite, or nothing worth keeping: the earlier run's files go
        clear_run(out)
    run_fields = {name: getattr(run_settings, name) for name in FILE_RUN_SETTINGS}
    saved_settings = {**data, **config.to_dict(), **run_fields, "data_dir": str(data_dir.resolve())}

    stop_requested = []

    def on_sigint(signum, frame):
        if stop_requested:  # a second Ctrl-C: stop now
            raise KeyboardInterrupt
        stop_requested.append(signum)

    previous = signal.signal(signal.SIGINT, on_sigint)
    title = f"learning rate {config.learning_rate:g}, {config.optimizer}"
    monitor = Monitor(out, args.monitor_every, title)  # opens its event file on the first epoch
    started = time.time()
    try:
        parameters, history = trainer.train(
            config, X_train, Y_train, eval_sets, run_settings, checkpoint_dir=out / "checkpoints",
            checkpoint_every=args.checkpoint_every, keep_checkpoints=args.keep_checkpoints,
            resume=args.resume, should_stop=lambda: bool(stop_requested), on_epoch=monitor,
            on_start=lambda graph: (write_json(out / "config.json", saved_settings), monitor.start(graph)))
    except TrainingInterrupted as stop:
        command = shlex.join([sys.executable, "-m", "tfsigns.train", "--out", str(out), "--resume"])
        print(f"{PROG}: interrupted after epoch {stop.epoch}; checkpoint saved in {out / 'checkpoints'}. "
              f"Resume with: {command}", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGINT, previous)
        monitor.close()
    plot_costs({"train": history.costs}, out / "cost.png", title=title)
    if args.plots and examples is None:  # samples.png shows the test photos
        X_shown, Y_shown = eval_sets["test"]
        labels, predictions = Y_shown.argmax(axis=layout.class_axis), predict(X_shown, parameters, config)
        images = np.round(evals["test"][0].T.reshape(-1, *IMAGE_SHAPE) * 255).astype(np.uint8)
        plot_samples(images[:24], labels[:24], out / "samples.png", predictions[:24])
        plot_confusion(labels, predictions, out / "confusion.png")
    metrics = run_metrics(config, run_fields, input_shape, n_y, data_dir, data, history, started)
    if examples is not None:
        from tfsigns.hands.examples import EXAMPLES_FILE, save_examples
        from tfsigns.hands.features import input_contract
        save_examples(out / EXAMPLES_FILE, examples)
        threshold = config.unknown_threshold if config.unknown_shapes else None
        metrics.update(examples.metrics(threshold), input=input_contract(config.hand_model))
    write_json(out / "metrics.json", metrics)
    for name, value in history.accuracy.items():
        print(f"{name.capitalize()} Accuracy: {value:.4f}")
    ran, total = len(history.epoch_seconds), len(history.costs)
    resumed = ("" if ran == total else f" (epochs {total - ran + 1}-{total}, resumed after {total - ran})"
               if ran else f" (the run had done all {total})")
    print(f"{ran} epochs in {history.train_seconds:.1f} s{resumed} on {history.device}; "
          f"results in {out}/ (metrics.json, cost.png, checkpoints/)")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point: exit 0 on success, 2 on bad input, 1 when training diverges."""
    argv = sys.argv[1:] if argv is None else argv
    line_buffered_output()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return run(args, *resolve_settings(args, argv, parser))
    except (DataError, ConfigError, OutputError, CheckpointError, ModelError) as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    except TrainingDiverged as err:
        print(f"{PROG}: training failed: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
