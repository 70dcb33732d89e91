"""How model() is graded, in both courses: on separable data it must learn, with the trained parameters of
the right shapes, a falling cost and a train accuracy of at least MIN_TRAIN_ACCURACY; and what it fed the
network and how it trained, as its process recorded them (tfsigns.grading.child.with_its_feeds): the pixels
as they are, the training set (not the test set), each minibatch's labels with its examples, minibatches
shuffled anew every epoch, Adam, and a graph of its own."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from tfsigns.config import TrainConfig
from tfsigns.grading.answers import Candidate
from tfsigns.grading.checks import Report, numbers
from tfsigns.grading.feedback import is_symbolic, kind
from tfsigns.networks import get_network
from tfsigns.training.inference import predict

MIN_TRAIN_ACCURACY = 0.9
OPTIMIZER_HINT = ("run the optimizer on every minibatch: sess.run of the optimizer and the cost, fed the "
                  "minibatch")
TRAINING_HINT = ("minimize the cost with v1.train.AdamOptimizer and the learning rate model() is given, and "
                 "run it for every minibatch of every epoch")


@dataclass(frozen=True)
class ModelGrading:
    """How one assignment's model() is graded: on what data and settings, which parameters it must
    return (shape_problems(parameters, X_train, Y_train) lists what is wrong with them), and the
    network predict() runs them in (None: the MLP)."""

    data: Callable[[], tuple[np.ndarray, ...]]
    settings: dict[str, Any]
    shape_problems: Callable[[Mapping, np.ndarray, np.ndarray], list[str]]
    shape_hint: str
    config: TrainConfig | None = None


def _costs(history: Any) -> np.ndarray | None:
    """Per-epoch costs from a History (its .costs) or a plain list; None when there are none."""
    try:
        costs = np.asarray(getattr(history, "costs", history), dtype=float)
    except (TypeError, ValueError):
        return None
    return costs if costs.ndim == 1 and costs.size >= 2 else None


def model_check(spec: ModelGrading, with_its_feeds: Callable[[Candidate], Callable]
                ) -> Callable[[Candidate, Report], None]:
    """A check that model() trains on spec.data: trained parameters of the right shapes, X_train fed as
    it is, a falling cost, and a train accuracy of at least MIN_TRAIN_ACCURACY. `with_its_feeds` runs it
    and says what it fed the network (tfsigns.grading.child)."""
    def check(candidate: Candidate, report: Report) -> None:
        X_train, Y_train, X_test, Y_test = spec.data()
        layout = get_network(spec.config.arch if spec.config else "mlp").layout
        C = Y_train.shape[layout.class_axis]
        label = f"model(X_train {X_train.shape}, {C} separable classes, {spec.settings['num_epochs']} epochs)"
        result, fed = with_its_feeds(candidate)(X_train, Y_train, X_test, Y_test, **spec.settings)
        parameters, history = result if isinstance(result, tuple) and len(result) == 2 else (result, None)
        if not isinstance(parameters, Mapping) or "W1" not in parameters:
            report.fail(f"{label}: expected the trained parameters (a dict with W1, ...) or (parameters, "
                        f"history), got {kind(result)}", "return the parameters' values, as sess.run gives "
                        "them")
            return
        if any(is_symbolic(value) for value in parameters.values()):
            report.fail(f"{label}: the parameters are tensors, not their trained values",
                        "sess.run the parameters while the session is still open, and return what it gives")
            return
        for problem in spec.shape_problems(parameters, X_train, Y_train):
            report.fail(f"{label}: {problem}", spec.shape_hint)
        if report.failures:
            return
        feeds = fed if isinstance(fed, Mapping) else {}
        if problem := _fed_problem(X_train, X_test, feeds.get("span")):
            report.fail(f"{label}: {problem}", FEED_HINT, "fed pixels scaled otherwise than X_train")
        per_epoch = math.ceil(Y_train.shape[layout.example_axis] / spec.settings["minibatch_size"])
        for problem, hint, named in training_problems(feeds, per_epoch):
            report.fail(f"{label}: {problem}", hint, named)
        costs = _costs(history)
        if costs is not None and not costs[-1] < costs[0]:
            report.fail(f"{label}: the cost did not fall: {costs[0]:.4g} after the first epoch, "
                        f"{costs[-1]:.4g} after the last", OPTIMIZER_HINT)
        arrays = {key: np.asarray(value, dtype=np.float32) for key, value in parameters.items()}
        labels = Y_train.argmax(axis=layout.class_axis)
        accuracy = float(np.mean(predict(X_train, arrays, spec.config or TrainConfig()) == labels))
        if accuracy < MIN_TRAIN_ACCURACY:
            report.fail(f"{label}: train accuracy {accuracy:.2f} on data the reference fits perfectly "
                        f"(needs at least {MIN_TRAIN_ACCURACY:.2f})", TRAINING_HINT)
    return check


FEED_HINT = ("X_train comes to model() divided by 255 already: feed its minibatches as they are, to X and "
             "Y")


def _fed_problem(X_train: np.ndarray, X_test: np.ndarray, fed: Any) -> str | None:
    """What is wrong with the values model() fed its network, [smallest, largest], against those of X_train
    and X_test: the pixels scaled by 255 once more (or divided again), or values neither holds; None if
    right."""
    span = numbers(fed)
    if span is None or span.shape != (2,):
        return None
    low, high = float(min(X_train.min(), X_test.min())), float(max(X_train.max(), X_test.max()))
    scale = float(np.abs(span).max()) / max(abs(low), abs(high))
    for factor, what in ((255.0, "multiplied by 255, as if its pixels ran from 0 to 255"),
                         (1 / 255, "divided by 255 once more, its pixels squeezed near 0")):
        if math.isclose(scale, factor, rel_tol=0.01):
            return f"it fed the network X_train {what} (values from {span[0]:.4g} to {span[1]:.4g})"
    margin = 1e-3 * max(abs(low), abs(high))
    if span[0] < low - margin or span[1] > high + margin:
        return (f"it fed the network values from {span[0]:.4g} to {span[1]:.4g}, where X_train's and "
                f"X_test's lie from {low:.4g} to {high:.4g}")
    return None


def _count(feeds: Mapping, key: str) -> int:
    """A count of what model() fed, from its process: a whole number from 0, else 0."""
    value = feeds.get(key)
    return value if type(value) is int and value >= 0 else 0


# Each optimizer by the update op it adds to the graph (ResourceApply... where its variables are resources)
OPTIMIZERS = {"ApplyGradientDescent": "GradientDescentOptimizer", "ApplyMomentum": "MomentumOptimizer",
              "ApplyRMSProp": "RMSPropOptimizer", "ApplyAdagrad": "AdagradOptimizer",
              "ApplyAdadelta": "AdadeltaOptimizer", "ApplyFtrl": "FtrlOptimizer",
              "ApplyAdam": "AdamOptimizer"}


def training_problems(feeds: Mapping, per_epoch: int) -> list[tuple[str, str, str]]:
    """(what, hint, named) for each way model() trained otherwise than the notebook says, as its process
    recorded it (tfsigns.grading.feeds): a graph not its own, the test set, labels shuffled apart from their
    examples, another optimizer than Adam, the same minibatches every epoch."""
    problems = []
    if feeds.get("own_graph") is False:
        problems.append(("it built its graph in the graph it was called in, not in a fresh one of its own: a "
                         "second call of model() finds the first call's variables there, and raises",
                         "keep model()'s body inside the notebook's with tf.Graph().as_default(): block",
                         "no fresh graph"))
    train, test, fed = (_count(feeds, key) for key in ("from_train", "from_test", "fed"))
    if test and test >= train:
        problems.append((f"it trained on the test set: the optimizer ran on {test} of X_test's examples",
                         "train on X_train and Y_train: the test set only measures the trained network, so "
                         "that its accuracy says how the network does on examples it never saw",
                         "trained on the test set"))
    if unpaired := _count(feeds, "unpaired"):
        problems.append((f"the labels it fed are not its examples' labels ({unpaired} of {fed} examples): X "
                         "and Y were shuffled apart", "shuffle X and Y by one permutation "
                         "(random_mini_batches), so that each example keeps its label",
                         "labels shuffled apart from their examples"))
    optimizers = feeds.get("optimizers")
    optimizers = optimizers if isinstance(optimizers, list) else []
    used = [OPTIMIZERS.get(str(op), str(op)[:40]) for op in optimizers[:10]]
    if used and "AdamOptimizer" not in used:
        problems.append((f"it trains with {', '.join(used[:3])}, where the notebook asks for Adam",
                         "the notebook's optimizer is v1.train.AdamOptimizer, with the learning rate model() "
                         "is given", "another optimizer than Adam"))
    runs, batches, whole = (_count(feeds, key) for key in ("train_runs", "batches", "whole_set_runs"))
    if runs >= 2 * per_epoch and 0 < batches <= per_epoch and whole < runs:
        problems.append((f"the same minibatches in every epoch: {runs} steps ran on {batches} minibatches "
                         "again and again", "give random_mini_batches a seed that changes from epoch to "
                         "epoch, so that each epoch shuffles the examples anew", "the same minibatches every "
                         "epoch"))
    return problems
