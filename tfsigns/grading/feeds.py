"""What a learner's model() fed its sessions, recorded where it runs (tfsigns.grading.child.with_its_feeds),
for the grader to tell what its result alone may not: the range of the inputs it fed (pixels scaled once
more), and for the runs that ran an op, its training steps: whose examples they were (X_train's or X_test's),
whether each example came with its own label, whether the minibatches changed from epoch to epoch, and the
optimizer's update ops in the graph."""

from __future__ import annotations

from typing import Any

import numpy as np

from tfsigns.backend import tf


def examples(array: np.ndarray, axis: int) -> np.ndarray:
    """`array` as (examples, values of one example)."""
    return np.moveaxis(array, axis, 0).reshape(array.shape[axis], -1).astype(np.float64)


class Feeds:
    """The record of what model(X_train, Y_train, X_test, Y_test) fed: the examples are the rows of images
    (more than two axes) and the columns of the fully connected network's X."""

    def __init__(self, X_train: Any, Y_train: Any, X_test: Any, Y_test: Any):
        X_train, X_test = np.asarray(X_train), np.asarray(X_test)
        self.axis = 0 if X_train.ndim > 2 else X_train.ndim - 1
        self.shape_X = _example_shape(X_train.shape, self.axis)
        self.shape_Y = _example_shape(np.shape(Y_train), self.axis)
        self.known = np.concatenate([examples(X_train, self.axis), examples(X_test, self.axis)])
        self.labels = np.concatenate([examples(np.asarray(Y_train), self.axis),
                                      examples(np.asarray(Y_test), self.axis)])
        self.norms = (self.known ** 2).sum(axis=1)
        self.m_train = X_train.shape[self.axis]
        self.spans: list[tuple[float, float]] = []
        self.counts = {"train_runs": 0, "from_train": 0, "from_test": 0, "whole_set_runs": 0, "unpaired": 0,
                       "fed": 0}
        self.batches: set[tuple] = set()
        self.optimizers: set[str] = set()

    def record(self, session: Any, fetches: Any, feed_dict: dict | None) -> None:
        """One session.run: the ranges of the inputs it fed; for a training step (it runs an op), whose
        examples and labels they were, and the graph's update ops."""
        values = [value for value in (feed_dict or {}).values()
                  if isinstance(value, np.ndarray) and value.size]
        inputs = [value for value in values if _example_shape(value.shape, self.axis) == self.shape_X]
        labels = [value for value in values if _example_shape(value.shape, self.axis) == self.shape_Y]
        self.spans += [(float(np.min(value)), float(np.max(value))) for value in inputs]
        if not any(isinstance(fetch, tf.Operation) for fetch in tf.nest.flatten(fetches)):
            return
        self.counts["train_runs"] += 1
        self.optimizers |= {op.type.removeprefix("Resource") for op in session.graph.get_operations()
                            if op.type.startswith(("Apply", "ResourceApply"))}
        if len(inputs) != 1:
            return
        fed = examples(inputs[0], self.axis)
        where = self._nearest(fed)
        if where is None:
            return
        self.counts["fed"] += len(where)
        self.counts["from_train"] += int((where < self.m_train).sum())
        self.counts["from_test"] += int((where >= self.m_train).sum())
        self.counts["whole_set_runs"] += len(where) == self.m_train
        self.batches.add(tuple(where.tolist()))
        if len(labels) == 1 and labels[0].shape[self.axis] == len(where):
            given = examples(labels[0], self.axis)
            paired = np.isclose(given, self.labels[where], atol=1e-6).all(axis=1)
            self.counts["unpaired"] += int((~paired).sum())

    def _nearest(self, fed: np.ndarray) -> np.ndarray | None:
        """The index in X_train then X_test of each fed example, where every one is one of them (to
        float32's rounding), else None."""
        distance = (fed ** 2).sum(axis=1)[:, None] + self.norms[None, :] - 2 * fed @ self.known.T
        where = distance.argmin(axis=1)
        close = distance[np.arange(len(fed)), where] <= 1e-8 * (self.norms[where] + 1)
        return where if close.all() else None

    def summary(self) -> dict:
        """What the grader reads of the record, as data."""
        lows, highs = zip(*self.spans, strict=True) if self.spans else ((), ())
        span = [min(lows), max(highs)] if self.spans else None
        span = span and [float(n) for n in span]
        return {"span": span, **self.counts, "batches": len(self.batches),
                "optimizers": sorted(self.optimizers)}


def _example_shape(shape: tuple, axis: int) -> tuple | None:
    """The shape of one example of an array of `shape` whose examples lie along `axis`."""
    if len(shape) <= axis:
        return None
    return tuple(shape[:axis]) + tuple(shape[axis + 1:])
