"""Population training ("caviar in one graph") against the same members trained one by one.

    python bench/population_speed.py [--members 16] [--epochs 20] [--data-dir DIR]

Trains K configurations of the course network (12288-25-12-6, Adam, minibatch 32)
with different learning rates, betas and seeds, first as K separate train() calls one
after another (each its own graph and session), then together in one graph, on the
same data in this process. Prints ms/epoch of one member alone (the mean of the
separate runs), of the population, and of the K separate runs (the sum of theirs,
measured), with the ratios. Each run's first epoch (graph start-up) is left out.
"""

from __future__ import annotations

import argparse

from tfsigns.config import History, RunSettings, TrainConfig
from tfsigns.images.signs import load_signs
from tfsigns.training.trainer import train, train_population


def steady_ms(history: History) -> float:
    """ms per epoch after the first (graph start-up) epoch."""
    return 1000 * sum(history.epoch_seconds[1:]) / max(1, len(history.epoch_seconds) - 1)


def member_configs(members: int, epochs: int) -> list[TrainConfig]:
    """K configs that differ in learning rate, beta1 and seed; one more epoch for the start-up."""
    return [TrainConfig(num_epochs=epochs + 1, learning_rate=1e-4 * 1.3 ** k,
                        beta1=0.9 + 0.005 * k, seed=k + 1) for k in range(members)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=20, help="timed epochs (after one start-up epoch)")
    parser.add_argument("--data-dir")
    args = parser.parse_args()
    X, Y = load_signs(args.data_dir)[:2]
    configs = member_configs(args.members, args.epochs)
    separate = [steady_ms(train(config, X, Y, run=RunSettings(print_cost=False))[1]) for config in configs]
    population = steady_ms(train_population(configs, X, Y)[0][1])
    single, all_separate = sum(separate) / len(separate), sum(separate)
    print(f"{'one member alone':26}{single:8.1f} ms/epoch   "
          f"(mean of the {args.members} separate runs, {min(separate):.1f} to {max(separate):.1f})")
    print(f"{f'{args.members} members in one graph':26}{population:8.1f} ms/epoch   "
          f"= {population / single:.2f} x one member")
    print(f"{f'{args.members} separate runs':26}{all_separate:8.1f} ms/epoch   "
          f"= {all_separate / population:.2f} x the population's time (measured, one after another)")


if __name__ == "__main__":
    main()
