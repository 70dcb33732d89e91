"""The training graph every network family shares, in the manner of TensorFlow's mnist.py:
`forward` (a family's inference, tfsigns.networks) behind input normalization (`logits`),
`compute_cost` (loss, tfsigns.networks.layers), `build_train_op` (training), `compute_accuracy`
(evaluation), the training set held in the graph, one epoch as one op, and `build_training_graph`,
which puts them together for the session loop.
Evaluation and batch norm's test-time statistics go through EVAL_BATCH_SIZE examples per run;
`TrainedParameters` are what training returns: the NumPy parameters with their TrainConfig.
Input normalization belongs to the model too: `logits` applies it before a family's forward
in training, evaluation and inference alike, and "dataset" normalization keeps the training
set's per-channel statistics as the non-trainable variables input_mean and input_deviation,
checkpointed with the weights.

Shapes follow the family's layout (tfsigns.networks.Layout); the course's columns are the
default: logits ZL and one-hot Y (C, m). These functions only build and return tensors and
ops; sessions run in tfsigns.training.trainer (training) and tfsigns.training.inference (prediction).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from tfsigns.backend import tf, v1
from tfsigns.config import OPTIMIZERS, TrainConfig
from tfsigns.images.signs import IMAGE_SHAPE
from tfsigns.networks import COLUMNS, IMAGES, Layout, Network
from tfsigns.networks.layers import BATCH_MOMENTS, compute_cost, create_training_flag

STATISTICS = ("input_mean", "input_deviation")  # "dataset" normalization's variables, one value per channel
MIN_DEVIATION = 1e-3  # a constant channel would otherwise divide by zero
# Examples per session run when evaluating, predicting or gathering batch norm's statistics, so
# that a network's activations over a whole set (1080 SIGNS images) need never fit at once.
EVAL_BATCH_SIZE = 256


class TrainedParameters(dict):
    """Trained NumPy parameters by name, as training returns them, with the TrainConfig they were
    trained with (`config`), so that inference runs the network they belong to."""

    def __init__(self, parameters: Mapping[str, np.ndarray], config: TrainConfig):
        super().__init__(parameters)
        self.config = config


def example_batches(layout: Layout, m: int) -> list[tuple]:
    """Indexes that cut an array of m examples in `layout` (X, Y, the logits or the classes)
    into consecutive runs of at most EVAL_BATCH_SIZE examples."""
    return [(..., slice(start, start + EVAL_BATCH_SIZE)) if layout.examples_last
            else (slice(start, start + EVAL_BATCH_SIZE),) for start in range(0, m, EVAL_BATCH_SIZE)]


def image_shape(layout: Layout, input_shape: tuple[int, ...]) -> tuple[int, ...] | None:
    """(h, w, c) of the examples when they are photos: a CNN's images, or the MLP's columns of
    SIGNS-sized photos (flattened row by row, channels last, as tfsigns.images.signs does); else None."""
    if not layout.examples_last:
        return tuple(input_shape) if len(input_shape) == 3 else None
    return IMAGE_SHAPE if tuple(input_shape) == (math.prod(IMAGE_SHAPE),) else None


def statistics_shapes(config: TrainConfig, layout: Layout, input_shape: tuple[int, ...]
                      ) -> dict[str, tuple[int, ...]]:
    """The normalization variables a model of `config` holds besides its family's parameters."""
    if config.normalize != "dataset":
        return {}
    return {name: (image_shape(layout, input_shape)[-1],) for name in STATISTICS}


def build_statistics(config: TrainConfig, layout: Layout, fed_rows: tf.Tensor, input_shape: tuple[int, ...]
                     ) -> dict[str, tf.Variable]:
    """For "dataset" normalization, input_mean and input_deviation (c,): the per-channel mean and
    standard deviation of the training set `fed_rows` (m, *input_shape), the tensor the resident
    data is initialized from, so they are set by the same initializer run (and restored from a
    checkpoint on resume). Computed in float64. Nothing for other normalizations."""
    if config.normalize != "dataset":
        return {}
    channels = image_shape(layout, input_shape)[-1]
    pixels = tf.reshape(tf.cast(fed_rows, tf.float64), [-1, channels])
    mean = tf.reduce_mean(pixels, axis=0)
    deviation = tf.maximum(tf.sqrt(tf.reduce_mean(tf.square(pixels - mean), axis=0)), MIN_DEVIATION)
    return {name: v1.Variable(tf.cast(value, tf.float32), trainable=False, name=name)
            for name, value in zip(STATISTICS, (mean, deviation), strict=True)}


def normalize_input(X: tf.Tensor, parameters: dict, normalize: str, layout: Layout) -> tf.Tensor:
    """X in the family's layout, normalized: "none" leaves it; "per-image" standardizes each
    example over all its values (as tf.image.per_image_standardization: the deviation floored at
    1/sqrt(values)); "dataset" subtracts the stored per-channel mean and divides by the
    deviation (parameters input_mean and input_deviation)."""
    if normalize == "none":
        return X
    if normalize == "per-image":
        if layout.examples_last:
            return tf.transpose(_standardize_each(tf.transpose(X)))
        return _standardize_each(X)
    if normalize != "dataset":
        raise ValueError(f"unknown normalize {normalize!r}")
    if missing := [name for name in STATISTICS if name not in parameters]:
        raise ValueError(f"dataset normalization needs the parameter {missing[0]}; these parameters lack it")
    mean, deviation = (parameters[name] for name in STATISTICS)
    if X.shape.rank == 2:  # flattened photos: each example's values run through the channels in turn
        n_x = X.shape[0 if layout.examples_last else 1]
        mean, deviation = (tf.tile(s, [n_x // s.shape[0]]) for s in (mean, deviation))
        if layout.examples_last:
            mean, deviation = (tf.reshape(s, [-1, 1]) for s in (mean, deviation))
    return (X - mean) / deviation


def _standardize_each(X: tf.Tensor) -> tf.Tensor:
    """Each example of X (examples first: images, or flattened rows (m, n_x)) standardized over all its
    values as tf.image.per_image_standardization does (the deviation floored at 1/sqrt(values)). Its mean
    and variance are taken over each image row, then over the rows (a SIGNS photo's 12288 values as 64 rows
    of 192): the same statistics summed in short runs, so that TensorFlow Lite's one-pass kernels round
    them as TensorFlow does (an exported CNN's probabilities agreed to 4e-5 over 12288 at once, to 2e-6
    so), and a plain image standardizes to exactly 0."""
    n_x = math.prod(X.shape[1:])
    height = X.shape[1] if X.shape.rank > 2 else IMAGE_SHAPE[0] if n_x == math.prod(IMAGE_SHAPE) else 1
    rows = tf.reshape(X, [-1, height, n_x // height])
    def mean(values: tf.Tensor) -> tf.Tensor:
        return tf.reduce_mean(tf.reduce_mean(values, axis=2, keepdims=True), axis=1, keepdims=True)

    centred = rows - mean(rows)
    variance = mean(tf.square(centred))
    return tf.reshape(centred / tf.maximum(tf.sqrt(variance), 1 / math.sqrt(n_x)), tf.shape(X))


def logits(network: Network, X: tf.Tensor, parameters: dict, config: TrainConfig, training: tf.Tensor,
           rows_forward: Callable[[tf.Tensor, dict], tf.Tensor] | None = None) -> tf.Tensor:
    """The family's logits for X after the config's input normalization, which belongs to the
    model: training, evaluation and inference all reach the network through here. With the
    family's `rows_forward` (Network.rows_forward), X and the logits are examples-first rows."""
    X = normalize_input(X, parameters, config.normalize, IMAGES if rows_forward else network.layout)
    if rows_forward:
        return rows_forward(X, parameters)
    return network.forward(X, parameters, config, training)



class LectureRMSPropOptimizer(v1.train.Optimizer):
    """RMSProp as the lecture states it; for each variable W (any shape) and its gradient dW:

        s = beta2 * s + (1 - beta2) * dW**2        s (shape of W) starts at 0
        W = W - learning_rate * dW / (sqrt(s) + epsilon)

    with epsilon outside the root and no bias correction, so the first step moves each
    weight by learning_rate / sqrt(1 - beta2) times the sign of its gradient (about 31.6
    learning rates with beta2 = 0.999), whatever the gradient's scale.
    v1.train.RMSPropOptimizer differs: its s starts at 1 and it divides by sqrt(s + epsilon),
    so while beta2^t dominates s (the first ~1/(1 - beta2) steps, for gradients below 1)
    it is close to gradient descent.

    s is a slot, a global variable named "<W's name>/<name>" (Saver checkpoints it; the
    name differs from TF1's "W1/RMSProp", so resuming a checkpoint of the old optimizer
    is refused instead of reading its s as this one's). Slots are made in the init scope,
    so the op may be built inside a tf.while_loop body. learning_rate, beta2 and epsilon
    may be floats, scalar tensors, or callables returning them. Dense gradients of
    resource variables only (all this package makes).
    """

    def __init__(self, learning_rate, beta2: float = 0.999, epsilon: float = 1e-8,
                 use_locking: bool = False, name: str = "LectureRMSProp"):
        super().__init__(use_locking, name)
        self._hyper = {"learning_rate": learning_rate, "beta2": beta2, "epsilon": epsilon}
        self._hyper_tensors: dict[str, tf.Tensor] = {}

    def _create_slots(self, var_list: list[tf.Variable]) -> None:
        """One zeros slot s per variable, its shape."""
        for var in var_list:
            self._zeros_slot(var, "s", self._name)

    def _prepare(self) -> None:
        """Hyperparameters as scalar tensors, once per apply_gradients call."""
        self._hyper_tensors = {key: tf.convert_to_tensor(self._call_if_callable(value), name=key)
                               for key, value in self._hyper.items()}

    def _resource_apply_dense(self, grad: tf.Tensor, var: tf.Variable) -> tf.Operation:
        """The update of s, then of var (both grad's shape); returns var's update op."""
        learning_rate, beta2, epsilon = (tf.cast(self._hyper_tensors[key], grad.dtype.base_dtype)
                                         for key in ("learning_rate", "beta2", "epsilon"))
        s = self.get_slot(var, "s")
        s_new = s.assign(beta2 * s + (1.0 - beta2) * tf.square(grad), use_locking=self._use_locking)
        return var.assign_sub(learning_rate * grad / (tf.sqrt(s_new) + epsilon),
                              use_locking=self._use_locking, read_value=False)


def build_train_op(cost: tf.Tensor, learning_rate, optimizer: str = "adam",
                   beta1: float = 0.9, beta2: float = 0.999, epsilon: float = 1e-8,
                   momentum: float = 0.9) -> tf.Operation:
    """One optimizer step on `cost`, after the batch-norm moving-average updates;
    it also counts the step in the graph's global step.

    learning_rate may be a float or a scalar tensor (fed per epoch for decay).
    gd: plain gradient descent; momentum: v = beta v + dW (beta = momentum);
    rmsprop: the lecture's, s = beta2 s + (1 - beta2) dW^2 from s = 0,
    W -= learning_rate dW / (sqrt(s) + epsilon) (LectureRMSPropOptimizer);
    adam: beta1, beta2, epsilon.
    """
    if optimizer == "gd":
        opt = v1.train.GradientDescentOptimizer(learning_rate)
    elif optimizer == "momentum":
        opt = v1.train.MomentumOptimizer(learning_rate, momentum=momentum)
    elif optimizer == "rmsprop":
        opt = LectureRMSPropOptimizer(learning_rate, beta2=beta2, epsilon=epsilon)
    elif optimizer == "adam":
        opt = v1.train.AdamOptimizer(learning_rate, beta1=beta1, beta2=beta2, epsilon=epsilon)
    else:
        raise ValueError(f"unknown optimizer {optimizer!r}; choose from {', '.join(OPTIMIZERS)}")
    with tf.control_dependencies(update_ops()):
        return opt.minimize(cost, global_step=v1.train.get_or_create_global_step())


def update_ops() -> list[tf.Operation]:
    """The batch-norm update ops built in the current graph; a while_loop body is a graph of
    its own, so a train op built there depends only on the updates of the same step."""
    graph = v1.get_default_graph()
    return [op for op in v1.get_collection(v1.GraphKeys.UPDATE_OPS) if op.graph is graph]


@dataclass
class BatchNormStatistics:
    """Ops that set batch norm's test-time statistics to the whole resident training set's, in
    runs of EVAL_BATCH_SIZE rows: for each batch-norm layer in turn, `accumulate` once for each
    row `start` fed (0, EVAL_BATCH_SIZE, ... below m), then `finish`."""

    start: tf.Tensor
    layers: list[tuple[tf.Operation, tf.Operation]]  # (accumulate, finish), in the forward's order


def build_batch_norm_statistics(forward: Callable[[tf.Tensor], tf.Tensor], data_X: tf.Variable
                                ) -> BatchNormStatistics:
    """The statistics ops of the batch-norm layers that `forward(rows)`, a test-mode forward of
    rows of data_X (m, ...), builds. Layer l's pass sees the earlier layers normalized by their
    finished statistics, as one training-mode pass over the whole set would, and sums each
    row run's moments, n * mean and n * (variance + mean^2), in float64 local variables (not
    checkpointed); finish sets the averages to the whole set's mean and variance."""
    m = data_X.shape[0]
    start = v1.placeholder(tf.int32, [], name="statistics_start")
    rows = data_X[start:start + EVAL_BATCH_SIZE]
    n = tf.cast(tf.shape(rows)[0], tf.float64)
    before = len(v1.get_collection(BATCH_MOMENTS))
    forward(rows)
    layers = []
    for l, (moving_mean, moving_var, batch_mean, batch_var) in enumerate(
            v1.get_collection(BATCH_MOMENTS)[before:], start=1):
        sums = [v1.Variable(tf.zeros(moving_mean.shape, tf.float64), trainable=False,
                            collections=[v1.GraphKeys.LOCAL_VARIABLES], name=f"statistics/{name}{l}")
                for name in ("sum", "squares")]
        mean, var = (tf.cast(s, tf.float64) for s in (batch_mean, batch_var))
        accumulate = tf.group(sums[0].assign_add(n * mean), sums[1].assign_add(n * (var + tf.square(mean))))
        whole_mean = sums[0] / m
        finish = tf.group(moving_mean.assign(tf.cast(whole_mean, tf.float32)),
                          moving_var.assign(tf.cast(sums[1] / m - tf.square(whole_mean), tf.float32)))
        layers.append((accumulate, finish))
    return BatchNormStatistics(start, layers)


def _hits(ZL: tf.Tensor, Y: tf.Tensor, layout: Layout) -> tf.Tensor:
    """Whether each example's argmax of the logits is its class; bool, ZL's shape less the class axis."""
    return tf.equal(tf.argmax(ZL, axis=layout.class_axis), tf.argmax(Y, axis=layout.class_axis))


def compute_accuracy(ZL: tf.Tensor, Y: tf.Tensor, layout: Layout = COLUMNS) -> tf.Tensor:
    """Fraction of examples where argmax of logits ZL (C, m) matches one-hot Y (C, m); a
    population's logits (K, C, m) give each member's (K,)."""
    return tf.reduce_mean(tf.cast(_hits(ZL, Y, layout), tf.float32), axis=-1)


def count_correct(ZL: tf.Tensor, Y: tf.Tensor, layout: Layout = COLUMNS) -> tf.Tensor:
    """How many examples compute_accuracy finds right, int32: a scalar, or each member's (K,),
    summed over batches for a set's accuracy."""
    return tf.reduce_sum(tf.cast(_hits(ZL, Y, layout), tf.int32), axis=-1)


def build_resident_data(layout: Layout, m: int, input_shape: tuple[int, ...], n_y: int
                        ) -> tuple[tf.Variable, tf.Variable, Callable[[Any, Any], dict]]:
    """The training set as graph variables, examples first: data_X (m, *input_shape), data_Y (m, n_y).

    Local variables, so that checkpoints hold the model and not a copy of the data (53 MB of
    SIGNS in every one), filled once by running the local-variables initializer with the
    returned feed builder: feed(X, Y) -> feed_dict, X and Y in `layout`. (v1.Variable, since
    TF2's tf.Variable ignores `collections` and would make them global.)
    """
    fed_X, fed_Y = v1.placeholder(tf.float32, [m, *input_shape]), v1.placeholder(tf.float32, [m, n_y])
    data_X, data_Y = (v1.Variable(fed, trainable=False, collections=[v1.GraphKeys.LOCAL_VARIABLES],
                                  name=f"data/{name}") for fed, name in ((fed_X, "X"), (fed_Y, "Y")))
    return data_X, data_Y, lambda X, Y: {fed_X: layout.rows(X), fed_Y: layout.rows(Y)}


def from_rows(batch: tf.Tensor, layout: Layout) -> tf.Tensor:
    """A minibatch gathered as rows (b, ...) in the family's layout: the course's columns put
    the examples last."""
    if not layout.examples_last:
        return batch
    return tf.transpose(batch, [*range(1, batch.shape.rank), 0])


def build_epoch_op(data_X: tf.Variable, data_Y: tf.Variable, permutation: tf.Tensor, minibatch_size: int,
                   train_step: Callable[[tf.Tensor, tf.Tensor], tuple[tf.Operation, tf.Tensor]],
                   cost_shape: tuple[int, ...] = (), layout: Layout = COLUMNS,
                   augment: Callable[[tf.Tensor], tf.Tensor] | None = None) -> tf.Tensor:
    """One epoch as one op: a tf.while_loop over the minibatches of `permutation` (m,).

    Step k gathers rows permutation[k*b:(k+1)*b] of the resident data_X and data_Y, augments
    the rows of X when given `augment` (tfsigns.training.augment.build_augmentation), puts them in the
    family's layout (the course's columns: X_batch (n_x, b), Y_batch (C, b)) and runs
    train_step(X_batch, Y_batch) -> (train op, cost), exactly as feeding
    random_mini_batches would. Returns the epoch's cost (shape cost_shape: one per
    population member, or a scalar), the mean over its examples, in float64.
    Iterations run strictly one after another.
    """
    m = permutation.shape[0]
    num_minibatches = math.ceil(m / minibatch_size)

    def step(k, total):
        idx = permutation[k * minibatch_size:tf.minimum((k + 1) * minibatch_size, m)]
        rows = tf.gather(data_X, idx)
        X_batch = from_rows(augment(rows) if augment else rows, layout)
        Y_batch = from_rows(tf.gather(data_Y, idx), layout)
        train_op, cost = train_step(X_batch, Y_batch)
        with tf.control_dependencies([train_op]):
            share = tf.cast(tf.size(idx), tf.float64) / m
            return k + 1, total + tf.cast(cost, tf.float64) * share

    _, epoch_cost = tf.while_loop(lambda k, _: k < num_minibatches, step,
                                  [tf.constant(0), tf.zeros(cost_shape, tf.float64)], parallel_iterations=1)
    return epoch_cost


@dataclass
class TrainingGraph:
    """What the session loop runs, for one network (build_training_graph) or a population
    (tfsigns.training.population.build_population_graph). Each epoch feeds `learning_rate` (a scalar,
    or one per member) and `permutation` (m,) to `epoch_op`, whose value is the epoch's
    cost (a scalar, or one per member)."""

    parameters: Any  # the variables to fetch when training ends: a dict, or a list of member dicts
    learning_rate: tf.Tensor
    permutation: tf.Tensor
    epoch_op: tf.Tensor
    statistics: BatchNormStatistics | None  # batch norm's test-time statistics, run once after training
    X: tf.Tensor  # evaluation placeholders, in the family's layout
    Y: tf.Tensor
    training: tf.Tensor  # fed False to evaluate
    correct: tf.Tensor  # how many examples fed are right: a scalar, or one per member
    feed_data: Callable[[Any, Any], dict]  # (X_train, Y_train) -> the feed that fills the resident data


def build_training_graph(network: Network, config: TrainConfig, m: int, input_shape: tuple[int, ...],
                         n_y: int, augment: Callable[[tf.Tensor], tf.Tensor] | None = None) -> TrainingGraph:
    """One network's training graph in the default graph: its parameters, an epoch over the
    resident training set (each minibatch through `augment`, when given), the batch-norm
    statistics op and the evaluation graph."""
    layout = network.layout
    learning_rate = v1.placeholder_with_default(float(config.learning_rate), [], "learning_rate")
    parameters = network.initialize_parameters(config, input_shape, n_y)
    # The training set lives in the graph, examples first; an epoch is fed only its permutation.
    data_X, data_Y, feed_data = build_resident_data(layout, m, input_shape, n_y)
    parameters.update(build_statistics(config, layout, data_X.initial_value, input_shape))
    permutation = v1.placeholder(tf.int32, [m], name="permutation")

    # The family's faster forward on the gathered rows, when it has one: the step then stays in rows.
    rows_forward = network.rows_forward(config)
    step_layout = IMAGES if rows_forward else layout  # IMAGES: examples first, as the gathered rows are

    def course_step(X_batch, Y_batch):
        ZL = logits(network, X_batch, parameters, config, tf.constant(True), rows_forward)
        cost = compute_cost(ZL, Y_batch, parameters, config.lambd, step_layout)
        return build_train_op(cost, learning_rate, config.optimizer, config.beta1, config.beta2,
                              config.epsilon, config.momentum), cost

    epoch_op = build_epoch_op(data_X, data_Y, permutation, config.minibatch_size, course_step,
                              layout=step_layout, augment=augment)
    return TrainingGraph(parameters, learning_rate, permutation, epoch_op, feed_data=feed_data,
                         **build_evaluation(network, config, lambda: parameters, data_X, input_shape, n_y))


def build_evaluation(network: Network, config: TrainConfig, parameters: Callable[[], dict],
                     data_X: tf.Variable, input_shape: tuple[int, ...], n_y: int) -> dict[str, Any]:
    """What a training graph needs besides its epoch: the ops that set batch norm's test-time
    statistics to the whole resident training set's (None without batch norm or with
    bn_population_stats off), and the evaluation graph: the family's placeholders X and Y,
    the training flag (test mode when fed False) and the count of right answers.
    `parameters()` gives the parameters where it is called (a population stacks its members' anew)."""
    layout = network.layout
    statistics = None
    if config.batch_norm and config.bn_population_stats:
        statistics = build_batch_norm_statistics(lambda rows: logits(
            network, from_rows(rows, layout), parameters(), config, tf.constant(False)), data_X)
    X, Y = network.create_placeholders(input_shape, n_y)
    training = create_training_flag()
    correct = count_correct(logits(network, X, parameters(), config, training), Y, layout)
    return {"statistics": statistics, "X": X, "Y": Y, "training": training, "correct": correct}
