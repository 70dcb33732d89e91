"""Population training ("caviar in one graph") against one member alone, side by side.

    python bench/population_speed.py [--members 16] [--epochs 20] [--data-dir DIR]

Trains the course network (12288-25-12-6, Adam, minibatch 32) alone, then K members
with different learning rates, betas and seeds in one graph, on the same data in this
process, and prints ms/epoch for both, the ratio, and the ratio of K separate runs
(K x the single one) to the population.
"""

from __future__ import annotations

import argparse

from tfsigns.data import load_signs
from tfsigns.population import train_population
from tfsigns.trainer import TrainConfig, train


def steady_ms(history) -> float:
    """ms per epoch after the first (graph start-up) epoch."""
    return 1000 * sum(history.epoch_seconds[1:]) / max(1, len(history.epoch_seconds) - 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--data-dir")
    args = parser.parse_args()
    X, Y = load_signs(args.data_dir)[:2]
    base = TrainConfig(num_epochs=args.epochs + 1, print_cost=False)
    single = steady_ms(train(base, X, Y)[1])
    configs = [TrainConfig(num_epochs=args.epochs + 1, print_cost=False, learning_rate=1e-4 * 1.3 ** k,
                           beta1=0.9 + 0.005 * k, seed=k + 1) for k in range(args.members)]
    population = steady_ms(train_population(configs, X, Y)[0][1])
    print(f"one member alone           {single:8.1f} ms/epoch")
    print(f"{args.members} members in one graph   {population:8.1f} ms/epoch   "
          f"= {population / single:.2f} x one member")
    print(f"{args.members} separate runs          {args.members * single:8.1f} ms/epoch   "
          f"= {args.members * single / population:.2f} x the population's time")


if __name__ == "__main__":
    main()
