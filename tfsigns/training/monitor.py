"""Watching one run as it goes (the lecture's "panda"): TensorBoard scalars and a learning
curve PNG refreshed while training, for a person babysitting the run."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from tfsigns.backend import tf, v1
from tfsigns.config import History
from tfsigns.utils.plots import plot_costs


class Monitor:
    """An on_epoch hook for trainer.train: cost and learning rate to TensorBoard every epoch;
    every `every` epochs also the accuracies (train, validation, ...) and a fresh cost.png. Its
    `start`, given as on_start, puts the training graph in the event file (TensorBoard's Graphs)."""

    def __init__(self, out_dir: str | os.PathLike, every: int = 10, title: str = ""):
        self.out_dir, self.every, self.title = Path(out_dir), every, title
        self.writer = None  # opened on the first epoch: a run refused before it leaves no event file
        self.graph = None

    def start(self, graph: tf.Graph) -> None:
        """An on_start hook for trainer.train: the training graph, which the event file shows."""
        self.graph = graph

    def scalars(self, epoch: int, values: dict[str, float]) -> None:
        if self.writer is None:
            with tf.Graph().as_default():  # the v1 FileWriter refuses to start in eager mode
                self.writer = v1.summary.FileWriter(str(self.out_dir / "tensorboard"), graph=self.graph)
        summary = v1.Summary(value=[v1.Summary.Value(tag=tag, simple_value=value)
                                    for tag, value in values.items()])
        self.writer.add_summary(summary, global_step=epoch)

    def __call__(self, epoch: int, history: History, evaluate: Callable[[], dict[str, float]]) -> None:
        self.scalars(epoch, {"cost": history.costs[-1], "learning_rate": history.learning_rates[-1]})
        if (epoch + 1) % self.every == 0:
            self.scalars(epoch, {f"accuracy/{name}": value for name, value in evaluate().items()})
            plot_costs({"train": history.costs}, self.out_dir / "cost.png", title=self.title)
            self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
