"""The pixel reader's training epoch (tfsigns/reader_pixels.json: a CNN with batch norm and augmentation) with
its conv layers' batch norm in TensorFlow's fused kernel (what tfsigns builds), by the lecture's
formulas (tfsigns.networks.layers.batch_norm_layer), and without batch norm (the plain CNN), side by side.

    python -m bench.reader_speed [--epochs 4] [--rounds 3] [--data-dir DIR]

Each contender trains the reader's settings on the SIGNS training photos in tfsigns' session
loop (tfsigns.training.trainer.train) for --epochs epochs, the first left out (graph start-up); they take
turns for --rounds rounds in this process, so that the machine's drift falls on all alike. Prints
each one's ms per epoch (median over the rounds), its ratio to the fused one (median and range of
the per-round ratios) and what its 100 epochs would take at that speed.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
from pathlib import Path

import tfsigns.networks.cnn
from bench.epoch_speed import load
from bench.population_speed import steady_ms
from tfsigns.config import RunSettings, TrainConfig
from tfsigns.training.trainer import train
from tfsigns.utils.cli import FILE_RUN_SETTINGS, read_settings

READER = Path(tfsigns.__file__).with_name("reader_pixels.json")
FUSED = "fused batch norm (tfsigns)"


class LectureBatchNormCNN(tfsigns.networks.cnn.CNN):
    """The CNN family with its conv layers' batch norm by the lecture's formulas."""

    fused_batch_norm = False


def epoch_ms(config: TrainConfig, X, Y, network: tfsigns.networks.cnn.CNN) -> float:
    """ms per epoch of training `config` with the CNN family as `network` builds it."""
    tfsigns.networks.cnn.NETWORK = network  # what tfsigns.networks.get_network("cnn") hands the trainer
    return steady_ms(train(config, X, Y, run=RunSettings(print_cost=False))[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=4, help="epochs per run, the first one left out")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data-dir")
    args = parser.parse_args()
    if args.epochs < 2 or args.rounds < 1:
        parser.error("--epochs must be at least 2 and --rounds at least 1")
    X, Y = load(args.data_dir, "cnn")
    settings = {k: v for k, v in read_settings(READER).items() if k not in FILE_RUN_SETTINGS}
    reader = TrainConfig(**{**settings, "num_epochs": args.epochs})
    fused = tfsigns.networks.cnn.NETWORK
    contenders = {FUSED: (reader, fused),
                  "batch norm by the lecture's formulas": (reader, LectureBatchNormCNN()),
                  "no batch norm (the plain CNN)": (dataclasses.replace(reader, batch_norm=False), fused)}
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(args.rounds):
        for name, (config, network) in contenders.items():
            times[name].append(epoch_ms(config, X, Y, network))
    print(f"the reader's settings, ms per epoch (median of {args.rounds} rounds of {args.epochs - 1} epochs)")
    for name, ms in times.items():
        ratios = [t / f for t, f in zip(ms, times[FUSED], strict=True)]
        print(f"{name:38s} {statistics.median(ms):7.1f}  x fused {statistics.median(ratios):5.2f} "
              f"({min(ratios):.2f}-{max(ratios):.2f})  100 epochs: {statistics.median(ms) / 10:5.0f} s")


if __name__ == "__main__":
    main()
