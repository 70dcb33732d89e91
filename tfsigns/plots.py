"""Matplotlib figures, rendered off-screen (Agg) and written atomically as PNG."""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)

from tfsigns.files import atomic_write_bytes  # noqa: E402


def save_figure(fig, path: str | os.PathLike) -> None:
    """Render `fig` to PNG bytes, write them atomically, and close the figure."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())


def plot_costs(curves: dict[str, list[float]], path: str | os.PathLike, title: str = "") -> None:
    """Learning curves: cost per epoch for each named run, on one axis."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, costs in curves.items():
        ax.plot(range(len(costs)), costs, label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("cost (mean softmax cross-entropy)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if len(curves) > 1:
        ax.legend()
    save_figure(fig, path)


def main(argv: list[str] | None = None) -> int:
    """`python -m tfsigns.plots RUN_DIR... --out curves.png`: learning curves of runs side by side."""
    parser = argparse.ArgumentParser(prog="tfsigns.plots", description=main.__doc__)
    parser.add_argument("runs", nargs="+", help="folders written by python -m tfsigns.train --out")
    parser.add_argument("--out", required=True, help="PNG to write")
    args = parser.parse_args(argv)
    curves = {}
    for run in args.runs:
        try:
            metrics = json.loads((Path(run) / "metrics.json").read_text())
            label = (f"{Path(run).name}: train {metrics['train_accuracy']:.3f}, "
                     f"test {metrics['test_accuracy']:.3f}")
            curves[label] = metrics["costs"]
        except (OSError, ValueError, KeyError) as err:
            print(f"tfsigns.plots: error: {run}: no readable metrics.json ({err})", file=sys.stderr)
            return 2
    plot_costs(curves, args.out, title="cost per epoch")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
