"""The session loop: the one place where a SIGNS graph is built and trained.

`train(config, ...)` builds the graph from tfsigns.model, runs the train op over
shuffled minibatches epoch after epoch, and returns NumPy parameters and a
History. `model(...)` is the course's entry point with the course's defaults.
"""

from __future__ import annotations

import math
import numbers
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from tfsigns import quiet_native_stderr
from tfsigns.checkpoint import Checkpointer, CheckpointError, too_few_epochs
from tfsigns.data import minibatch_permutation
from tfsigns.model import (
    INITS,
    OPTIMIZERS,
    build_statistics_op,
    build_train_op,
    compute_accuracy,
    compute_cost,
    create_placeholders,
    create_training_flag,
    forward_propagation,
    initialize_parameters,
)

v1 = tf.compat.v1

DECAYS = ("none", "inverse-time", "exponential", "staircase")
DEVICES = ("cpu", "gpu")
DEAD_EPOCHS = 50  # epochs at ln(C) before warning that the network is not learning


class ConfigError(ValueError):
    """A hyperparameter or setting is out of range; the message says which and why.

    `field` names the TrainConfig field (or other setting) at fault, when there is one,
    so that a caller can say where the bad value came from (a flag, a --config file).
    """

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class TrainingDiverged(RuntimeError):
    """The cost became NaN or infinite."""


class TrainingInterrupted(Exception):
    """The run was asked to stop; `epoch` epochs are done and checkpointed."""

    def __init__(self, epoch: int):
        super().__init__(f"stopped after epoch {epoch}")
        self.epoch = epoch


SEED_LIMIT = 2 ** 31  # seeds and epoch counts stay below it, so minibatch_seed + epoch fits NumPy's seed
BIG = 1e38  # rates and strengths stay below it: the graph holds them as float32 (largest 3.4e38)


def whole(value) -> bool:
    """An integer that is not a bool (JSON's true is not 1 epoch)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def real(value) -> bool:
    """A finite number that is not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


# Each field's rule: (kind, test of the value, what the value must be). Kinds: "int", "float"
# (ints accepted and stored as floats), "bool", "choice" (test: the allowed strings), "layers".
RULES: dict[str, tuple] = {
    "layers": ("layers", lambda v: v > 0, "be one or more positive unit counts"),
    "learning_rate": ("float", lambda v: 0 < v < BIG, "be a positive number below 1e38"),
    "num_epochs": ("int", lambda v: 0 < v < SEED_LIMIT, "be a positive integer below 2**31"),
    "minibatch_size": ("int", lambda v: 0 < v < SEED_LIMIT, "be a positive integer below 2**31"),
    "seed": ("int", lambda v: 0 <= v < SEED_LIMIT, "be an integer in [0, 2**31)"),
    "minibatch_seed": ("int", lambda v: 0 <= v < SEED_LIMIT, "be an integer in [0, 2**31)"),
    "optimizer": ("choice", OPTIMIZERS, "be one of " + ", ".join(OPTIMIZERS)),
    "beta1": ("float", lambda v: 0 <= v < 1, "lie in [0, 1)"),
    "beta2": ("float", lambda v: 0 <= v < 1, "lie in [0, 1)"),
    "epsilon": ("float", lambda v: 0 < v < BIG, "be a positive number below 1e38"),
    "momentum": ("float", lambda v: 0 <= v < 1, "lie in [0, 1)"),
    "decay": ("choice", DECAYS, "be one of " + ", ".join(DECAYS)),
    "decay_rate": ("float", lambda v: 0 <= v < BIG, "be a non-negative number below 1e38"),
    "decay_interval": ("int", lambda v: 0 < v < SEED_LIMIT, "be a positive integer below 2**31"),
    "batch_norm": ("bool", None, "be true or false"),
    "bn_momentum": ("float", lambda v: 0 <= v < 1, "lie in [0, 1)"),
    "bn_population_stats": ("bool", None, "be true or false"),
    "lambd": ("float", lambda v: 0 <= v < BIG, "be a non-negative number below 1e38"),
    # 1 - keep_prob, dropout's rate, must stay below 1 in floating point too
    "keep_prob": ("float", lambda v: 0 < v <= 1 and 1.0 - v < 1.0, "lie in (0, 1]"),
    "init": ("choice", INITS, "be one of " + ", ".join(INITS)),
    "device": ("choice", DEVICES, "be one of " + ", ".join(DEVICES)),
    "print_cost": ("bool", None, "be true or false"),
    "print_every": ("int", lambda v: 0 < v < SEED_LIMIT, "be a positive integer below 2**31"),
}


def check_field(name: str, value):
    """`value` as field `name` stores it (layers a tuple, numbers float), or ConfigError naming
    the field, the rule and the value; the type is checked as strictly as the range."""
    kind, test, rule = RULES[name]
    if kind == "bool":
        ok = isinstance(value, bool)
    elif kind == "choice":
        ok = isinstance(value, str) and value in test
        if isinstance(value, str) and not ok:
            raise ConfigError(f"unknown {name} {value!r}; choose from {', '.join(test)}", name)
    elif kind == "int":
        ok = whole(value) and test(value)
        value = int(value) if ok else value
    elif kind == "float":
        ok = real(value) and test(value)
        value = float(value) if ok else value
    else:  # layers: a non-empty list of positive whole numbers
        ok = (isinstance(value, (list, tuple)) and len(value) > 0
              and all(whole(n) and test(n) for n in value))
        value = tuple(int(n) for n in value) if ok else value
    if not ok:
        raise ConfigError(f"{name} must {rule}, got {value!r}", name)
    return value


@dataclass
class TrainConfig:
    """Everything that defines a training run. Defaults are the course's settings."""

    layers: tuple[int, ...] = (25, 12)  # hidden units per hidden layer
    learning_rate: float = 0.0001
    num_epochs: int = 1500
    minibatch_size: int = 32
    seed: int = 1  # graph-level and initializer seed
    minibatch_seed: int = 3  # epoch e shuffles with minibatch_seed + e + 1, as the course does
    optimizer: str = "adam"
    beta1: float = 0.9
    beta2: float = 0.999
    epsilon: float = 1e-8
    momentum: float = 0.9
    decay: str = "none"
    decay_rate: float = 1.0
    decay_interval: int = 100  # epochs per step of the staircase schedule
    batch_norm: bool = False
    bn_momentum: float = 0.99
    # After the last epoch, set the moving averages to the whole training set's statistics
    # under the final weights (the lecture's alternative to the running average, which with
    # Adam on 12288 inputs lags the weights by standard deviations); False keeps the EWMA.
    bn_population_stats: bool = True
    lambd: float = 0.0  # L2 strength
    keep_prob: float = 1.0  # dropout keep probability; 1 means no dropout
    # "course": every weight layer's initializer shares the op seed, as the course's does (its
    # reproduction depends on it); "independent": each layer draws from its own stream.
    init: str = "course"
    device: str = "cpu"
    print_cost: bool = True
    print_every: int = 100

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check every field's type and range, storing each in its normal form (layers a
        tuple, rates floats); ConfigError names the first field that cannot train."""
        for f in fields(self):
            setattr(self, f.name, check_field(f.name, getattr(self, f.name)))

    def to_dict(self) -> dict:
        """Plain-JSON form (layers as a list)."""
        d = asdict(self)
        d["layers"] = list(self.layers)
        return d


CONFIG_FIELDS = frozenset(f.name for f in fields(TrainConfig))


@dataclass
class History:
    """What a run measured: per-epoch cost and learning rate, accuracies, timing.

    accuracy maps "train" and the name of each evaluation set ("test", "validation")
    to the fraction of its examples classified right, in test mode.
    """

    costs: list[float] = field(default_factory=list)
    learning_rates: list[float] = field(default_factory=list)
    accuracy: dict[str, float] = field(default_factory=dict)
    train_seconds: float = 0.0  # of this call (a resumed run counts from where it resumed)
    epoch_seconds: list[float] = field(default_factory=list)  # wall time of each epoch of this call
    warnings: list[str] = field(default_factory=list)  # e.g. a network that is not learning
    device: str = ""
    checkpoint: str = ""  # the finished model's checkpoint, when the run wrote checkpoints

    @property
    def ms_per_epoch(self) -> float:
        return 1000 * self.train_seconds / max(1, len(self.epoch_seconds))

    @property
    def train_accuracy(self) -> float:
        return self.accuracy["train"]

    @property
    def test_accuracy(self) -> float:
        return self.accuracy["test"]


def learning_rate_decay(config: TrainConfig, epoch: int) -> float:
    """The learning rate for `epoch` (0-based) under the config's decay schedule.

    inverse-time: alpha0 / (1 + decay_rate * epoch); exponential: alpha0 * decay_rate**epoch;
    staircase: alpha0 / (1 + decay_rate * floor(epoch / decay_interval)) (the course's
    "fixed interval scheduling").
    """
    alpha0, rate = config.learning_rate, config.decay_rate
    if config.decay == "inverse-time":
        return alpha0 / (1.0 + rate * epoch)
    if config.decay == "exponential":
        return alpha0 * rate ** epoch
    if config.decay == "staircase":
        return alpha0 / (1.0 + rate * (epoch // config.decay_interval))
    return alpha0


def resolve_device(device: str, threads: int = 0) -> tuple[str, v1.ConfigProto]:
    """TensorFlow device name and session config for "cpu" or "gpu".

    Thread counts are fixed (to `threads`, or to the machine's cores when 0) so that
    runs repeat exactly; parallel search workers each take a share of the cores.
    """
    cores = threads or os.cpu_count() or 1
    session_config = v1.ConfigProto(intra_op_parallelism_threads=cores,
                                    inter_op_parallelism_threads=cores,
                                    allow_soft_placement=True)
    if device == "gpu":
        with quiet_native_stderr():
            gpus = tf.config.list_physical_devices("GPU")
        if not gpus:
            raise ConfigError("--device gpu: TensorFlow sees no GPU on this machine "
                              "(install tfsigns[gpu] on a CUDA machine, or use --device cpu)")
        session_config.gpu_options.allow_growth = True
        return "/GPU:0", session_config
    session_config.device_count["GPU"] = 0
    return "/CPU:0", session_config


def build_resident_data(m: int, n_x: int, n_y: int) -> tuple[tf.Variable, tf.Variable, dict]:
    """The training set as graph variables, examples as rows: data_X (m, n_x), data_Y (m, n_y).

    Local variables (never checkpointed), filled once by running the local-variables
    initializer with the returned feed builder: feed(X (n_x, m), Y (n_y, m)) -> feed_dict.
    """
    fed_X, fed_Y = v1.placeholder(tf.float32, [m, n_x]), v1.placeholder(tf.float32, [m, n_y])
    data_X, data_Y = (tf.Variable(fed, trainable=False, collections=[v1.GraphKeys.LOCAL_VARIABLES])
                      for fed in (fed_X, fed_Y))
    return data_X, data_Y, lambda X, Y: {fed_X: X.T, fed_Y: Y.T}


def build_epoch_op(data_X: tf.Variable, data_Y: tf.Variable, permutation: tf.Tensor, minibatch_size: int,
                   train_step: Callable[[tf.Tensor, tf.Tensor], tuple[tf.Operation, tf.Tensor]],
                   cost_shape: tuple[int, ...] = ()) -> tf.Tensor:
    """One epoch as one op: a tf.while_loop over the minibatches of `permutation` (m,).

    Step k gathers rows permutation[k*b:(k+1)*b] of the resident data_X (m, n_x) and
    data_Y (m, C), transposes them to the course's columns, X_batch (n_x, b) and Y_batch
    (C, b), and runs train_step(X_batch, Y_batch) -> (train op, cost), exactly as
    feeding random_mini_batches would. Returns the epoch's cost (shape cost_shape: one
    per population member, or a scalar), the mean over its examples, in float64.
    Iterations run strictly one after another.
    """
    m = permutation.shape[0]
    num_minibatches = math.ceil(m / minibatch_size)

    def step(k, total):
        idx = permutation[k * minibatch_size:tf.minimum((k + 1) * minibatch_size, m)]
        X_batch, Y_batch = tf.transpose(tf.gather(data_X, idx)), tf.transpose(tf.gather(data_Y, idx))
        train_op, cost = train_step(X_batch, Y_batch)
        with tf.control_dependencies([train_op]):
            share = tf.cast(tf.size(idx), tf.float64) / m
            return k + 1, total + tf.cast(cost, tf.float64) * share

    _, epoch_cost = tf.while_loop(lambda k, _: k < num_minibatches, step,
                                  [tf.constant(0), tf.zeros(cost_shape, tf.float64)], parallel_iterations=1)
    return epoch_cost


def not_learning(costs: list[float], num_classes: int, epochs: int = DEAD_EPOCHS) -> str | None:
    """The warning for a network that is not learning, or None: the cost has sat at ln(C),
    a uniform guess, for `epochs` epochs in a row at some point of `costs`. The trainer and
    the population both judge a run by this, so a trial fails or passes alike in either."""
    target, run = math.log(num_classes), 0
    for cost in costs:
        run = run + 1 if abs(cost - target) < 0.005 else 0
        if run == epochs:
            return (f"the cost has stayed at ln({num_classes}) = {target:.3f} for {epochs} epochs: the "
                    "network is not learning (learning rate too small or too large, or dead ReLUs "
                    "from the initialization)")
    return None


def diverged(cost: float, epoch: int) -> str:
    """What a run whose cost became NaN or infinite at `epoch` is told."""
    return f"cost became {cost} at epoch {epoch}; lower the learning rate"


def check_memory(config: TrainConfig, n_x: int, n_y: int, members: int = 1) -> None:
    """ConfigError when the weights and optimizer state of `members` such networks cannot fit
    in half of this machine's memory (say --layers 1000000), before TensorFlow tries."""
    dims = (n_x, *config.layers, n_y)
    count = members * sum(a * b + b for a, b in zip(dims, dims[1:], strict=False))
    # float32 weights, gradients and two optimizer slots, plus the temporaries of a step:
    # measured peaks were about 27 bytes per parameter (hidden_units 16384: 11.9 GiB)
    need = 32 * count
    have = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    if need > have // 2:
        who = f"{members} networks of layers" if members > 1 else "layers"
        raise ConfigError(f"{who} {list(config.layers)} make {count:,} parameters, about "
                          f"{need / 2**30:.0f} GiB to train: more than half of this machine's "
                          f"{have / 2**30:.0f} GiB", "layers")


def train(config: TrainConfig, X_train: np.ndarray, Y_train: np.ndarray,
          eval_sets: dict[str, tuple[np.ndarray, np.ndarray]] | None = None, *, progress: bool = False,
          checkpoint_dir: str | os.PathLike | None = None, checkpoint_every: int = 0,
          keep_checkpoints: int = 3, resume: bool = False,
          should_stop: Callable[[], bool] | None = None,
          on_start: Callable[[], None] | None = None,
          on_epoch: Callable[[int, History, Callable[[], dict[str, float]]], None] | None = None,
          threads: int = 0) -> tuple[dict[str, np.ndarray], History]:
    """Train on X_train (n_x, m) / one-hot Y_train (C, m); then measure accuracy on the
    training set and on each named (X, Y) pair of eval_sets, e.g. {"test": (X_test, Y_test)}.

    Returns the trained parameters as NumPy arrays and the run's History. With
    checkpoint_dir, a checkpoint is written every `checkpoint_every` epochs (0: only at
    the end), keeping the last `keep_checkpoints`; `resume` goes on from the newest one.
    `should_stop` is asked after each epoch: when it answers True the run checkpoints
    and raises TrainingInterrupted. `on_start` is called once the session is ready
    (after a resumed checkpoint was found compatible and restored); `on_epoch(epoch,
    history, evaluate)` after each epoch, where evaluate() measures the accuracies now
    (for monitoring: TensorBoard, a refreshed learning curve). `threads` caps the
    session's thread pools (0: all cores).
    """
    (n_x, m), n_y = X_train.shape, Y_train.shape[0]
    check_memory(config, n_x, n_y)
    device_name, session_config = resolve_device(config.device, threads)
    tf.config.experimental.enable_op_determinism()

    graph = tf.Graph()
    with graph.as_default(), graph.device(device_name):
        v1.set_random_seed(config.seed)
        learning_rate = v1.placeholder_with_default(np.float32(config.learning_rate), [], "learning_rate")
        parameters = initialize_parameters((n_x, *config.layers, n_y), config.seed, config.batch_norm,
                                           config.init)
        # The training set lives in the graph, examples as rows; an epoch is fed only its permutation.
        data_X, data_Y, data_feed = build_resident_data(m, n_x, n_y)
        permutation = v1.placeholder(tf.int32, [m], name="permutation")

        def course_step(X_batch, Y_batch):
            ZL = forward_propagation(X_batch, parameters, config.batch_norm, tf.constant(True),
                                     config.keep_prob, config.bn_momentum, seed=config.seed)
            cost = compute_cost(ZL, Y_batch, parameters, config.lambd)
            return build_train_op(cost, learning_rate, config.optimizer, config.beta1, config.beta2,
                                  config.epsilon, config.momentum), cost

        epoch_op = build_epoch_op(data_X, data_Y, permutation, config.minibatch_size, course_step)
        population_stats = None
        if config.batch_norm and config.bn_population_stats:
            population_stats = build_statistics_op(lambda: forward_propagation(
                tf.transpose(data_X), parameters, True, tf.constant(True), bn_momentum=0.0))
        # Evaluation graph: the course's placeholders, test mode when `training` is fed False.
        X, Y = create_placeholders(n_x, n_y)
        training = create_training_flag()
        ZL = forward_propagation(X, parameters, config.batch_norm, training, config.keep_prob,
                                 config.bn_momentum, seed=config.seed)
        accuracy = compute_accuracy(ZL, Y)
        checkpointer = Checkpointer(checkpoint_dir, keep_checkpoints) if checkpoint_dir else None
        init = (v1.global_variables_initializer(), v1.local_variables_initializer())
    graph.finalize()

    history = History(device=device_name)
    write = tqdm.write if progress else print
    with quiet_native_stderr():
        sess = v1.Session(graph=graph, config=session_config)
    with sess:
        def evaluate() -> dict[str, float]:
            return {name: float(sess.run(accuracy, {X: X_eval, Y: Y_eval, training: False}))
                    for name, (X_eval, Y_eval) in {"train": (X_train, Y_train), **(eval_sets or {})}.items()}

        sess.run(init, data_feed(X_train, Y_train))
        start_epoch = 0
        if resume:
            if checkpointer is None:
                raise CheckpointError("--resume needs a checkpoint folder")
            start_epoch, history.costs, history.learning_rates = checkpointer.restore(sess)
            if start_epoch > config.num_epochs:
                raise CheckpointError(too_few_epochs(checkpointer.directory, start_epoch, config.num_epochs))
        if on_start is not None:
            on_start()
        start = time.perf_counter()
        epochs = tqdm(range(start_epoch, config.num_epochs), disable=not progress, unit="epoch",
                      file=sys.stderr, desc="train", initial=start_epoch, total=config.num_epochs)
        for epoch in epochs:
            rate = learning_rate_decay(config, epoch)
            shuffle = minibatch_permutation(m, config.minibatch_seed + epoch + 1)
            epoch_start = time.perf_counter()
            epoch_cost = float(sess.run(epoch_op, {permutation: shuffle, learning_rate: rate}))
            history.epoch_seconds.append(time.perf_counter() - epoch_start)
            if not math.isfinite(epoch_cost):
                raise TrainingDiverged(diverged(epoch_cost, epoch))
            history.costs.append(float(epoch_cost))
            history.learning_rates.append(float(rate))
            epochs.set_postfix(cost=f"{epoch_cost:.4f}", refresh=False)
            if config.print_cost and epoch % config.print_every == 0:
                write(f"Cost after epoch {epoch}: {epoch_cost:f}")
            if not history.warnings and (warning := not_learning(history.costs[-DEAD_EPOCHS:], n_y)):
                history.warnings.append(warning)
                tqdm.write(f"warning: {warning}", file=sys.stderr)
            if on_epoch is not None:
                on_epoch(epoch, history, evaluate)
            stop = should_stop is not None and should_stop()
            if checkpointer and (stop or (checkpoint_every and (epoch + 1) % checkpoint_every == 0)):
                checkpointer.save(sess, epoch + 1, history.costs, history.learning_rates)
            if stop:
                epochs.close()
                raise TrainingInterrupted(epoch + 1)
        history.train_seconds = time.perf_counter() - start
        epochs.close()

        if population_stats is not None:
            sess.run(population_stats)
        history.accuracy = evaluate()
        if checkpointer:
            history.checkpoint = checkpointer.save(sess, config.num_epochs, history.costs,
                                                   history.learning_rates)
        return sess.run(parameters), history


def model(X_train: np.ndarray, Y_train: np.ndarray, X_test: np.ndarray, Y_test: np.ndarray,
          learning_rate: float = 0.0001, num_epochs: int = 1500, minibatch_size: int = 32,
          print_cost: bool = True, **options) -> tuple[dict[str, np.ndarray], History]:
    """The course's model(): a LINEAR->RELU->LINEAR->RELU->LINEAR->SOFTMAX net trained with Adam.

    X (12288, m), Y one-hot (6, m). `options` are further TrainConfig fields
    (layers, seed, optimizer, batch_norm, ...). Prints and returns the accuracies.
    """
    config = TrainConfig(learning_rate=learning_rate, num_epochs=num_epochs,
                         minibatch_size=minibatch_size, print_cost=print_cost, **options)
    parameters, history = train(config, X_train, Y_train, {"test": (X_test, Y_test)})
    print(f"Train Accuracy: {history.train_accuracy:.4f}")
    print(f"Test Accuracy: {history.test_accuracy:.4f}")
    return parameters, history
