"""The session loop: the one place where networks are trained.

`train(config, ...)` builds a network's graph with tfsigns.training.graph, runs its epoch op over
shuffled minibatches epoch after epoch, and returns NumPy parameters that know their
config (tfsigns.training.graph.TrainedParameters) and a History;
`train_population` does the same for K configurations in one graph (tfsigns.training.population).
`model(...)` is the course's entry point with the course's defaults.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Mapping

import numpy as np
from tqdm import tqdm

from tfsigns.backend import deterministic_ops, tf, v1
from tfsigns.config import (
    DEAD_EPOCHS,
    RUN_FIELDS,
    ConfigError,
    History,
    RunSettings,
    TrainConfig,
    TrainingDiverged,
    TrainingInterrupted,
    diverged,
    learning_rate_decay,
    not_learning,
)
from tfsigns.images.signs import minibatch_permutation
from tfsigns.networks import Layout, Network, get_network
from tfsigns.portable.native import quiet_native_stderr
from tfsigns.training.augment import build_augmentation, check_photos
from tfsigns.training.checkpoint import Checkpointer
from tfsigns.training.graph import (
    EVAL_BATCH_SIZE,
    TrainedParameters,
    TrainingGraph,
    build_training_graph,
    example_batches,
)
from tfsigns.training.population import build_population_graph, check_population, member_parameters
from tfsigns.training.runs import CheckpointError, too_few_epochs

EvalSets = dict[str, tuple[np.ndarray, np.ndarray]]


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


def check_memory(config: TrainConfig, input_shape: tuple[int, ...], n_y: int, members: int = 1) -> None:
    """ConfigError when the weights and optimizer state of `members` such networks cannot fit
    in half of this machine's memory (say --layers 1000000), before TensorFlow tries."""
    shapes = get_network(config.arch).parameter_shapes(config, input_shape, n_y)
    count = members * sum(math.prod(shape) for shape in shapes.values())
    # float32 weights, gradients and two optimizer slots, plus the temporaries of a step:
    # measured peaks were about 27 bytes per parameter (hidden_units 16384: 11.9 GiB)
    need = 32 * count
    have = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    if need > have // 2:
        who = f"{members} such networks have" if members > 1 else "this network has"
        raise ConfigError(f"{who} {count:,} parameters, about {need / 2**30:.0f} GiB to train: more than "
                          f"half of this machine's {have / 2**30:.0f} GiB")


def initial_parameters(config: TrainConfig, input_shape: tuple[int, ...], n_y: int) -> dict[str, np.ndarray]:
    """A network's starting parameters, drawn exactly as train() draws them (a population's
    members each need a graph seed of their own, so they are drawn one graph each)."""
    with tf.Graph().as_default():
        v1.set_random_seed(config.seed)
        parameters = get_network(config.arch).initialize_parameters(config, input_shape, n_y)
        with v1.Session() as sess:
            sess.run(v1.global_variables_initializer())
            return sess.run(parameters)


def prepare(configs: list[TrainConfig], X_train: np.ndarray, Y_train: np.ndarray, run: RunSettings
            ) -> tuple[Network, tuple[int, tuple[int, ...], int], str, v1.ConfigProto]:
    """Before a graph is built for `configs` (one network, or a population's members): their
    network family, the data's sizes (m, one example's shape, C) in its layout, whether they
    fit in memory, and the device and session config."""
    network = get_network(configs[0].arch)
    sizes = network.layout.sizes(X_train, Y_train)
    check_memory(configs[0], *sizes[1:], members=len(configs))
    check_photos(configs[0], network.layout, sizes[1])
    device_name, session_config = resolve_device(run.device, run.threads)
    return network, sizes, device_name, session_config


def open_session(graph: tf.Graph, session_config: v1.ConfigProto) -> v1.Session:
    """A session on the finalized graph, without TensorFlow's device notes on stderr."""
    graph.finalize()
    with quiet_native_stderr():
        return v1.Session(graph=graph, config=session_config)


def epoch_feed(g: TrainingGraph, configs: list[TrainConfig], epoch: int, m: int) -> tuple[dict, list[float]]:
    """The feed of epoch `epoch` (0-based): its shuffle and each config's decayed learning rate."""
    rates = [learning_rate_decay(c, epoch) for c in configs]
    shuffle = minibatch_permutation(m, configs[0].minibatch_seed + epoch + 1)
    rate = rates if g.learning_rate.shape.rank else rates[0]
    return {g.permutation: shuffle, g.learning_rate: rate}, rates


def measure(sess: v1.Session, g: TrainingGraph, sets: EvalSets, layout: Layout) -> dict[str, np.ndarray]:
    """Accuracy on each named (X, Y) set in `layout`, in test mode (a scalar, or one per member):
    the right answers counted a batch of examples at a time, over the set's size."""
    accuracies = {}
    for name, (X, Y) in sets.items():
        m = Y.shape[layout.example_axis]
        correct = sum(sess.run(g.correct, {g.X: X[batch], g.Y: Y[batch], g.training: False})
                      for batch in example_batches(layout, m))
        # in float32, as a whole-set tf.reduce_mean gave it: the recorded accuracies stay what they were
        accuracies[name] = np.float32(correct) / np.float32(m)
    return accuracies


def set_statistics(sess: v1.Session, g: TrainingGraph, m: int) -> None:
    """Batch norm's test-time statistics from the m resident training examples, a batch of
    rows per run (nothing to do without batch-norm population statistics)."""
    if g.statistics is None:
        return
    for accumulate, finish in g.statistics.layers:
        for start in range(0, m, EVAL_BATCH_SIZE):
            sess.run(accumulate, {g.statistics.start: start})
        sess.run(finish)


@deterministic_ops()
def train(config: TrainConfig, X_train: np.ndarray, Y_train: np.ndarray, eval_sets: EvalSets | None = None,
          run: RunSettings | None = None, *, checkpoint_dir: str | os.PathLike | None = None,
          checkpoint_every: int = 0, keep_checkpoints: int = 3, resume: bool = False,
          should_stop: Callable[[], bool] | None = None,
          on_start: Callable[[tf.Graph], None] | None = None,
          on_epoch: Callable[[int, History, Callable[[], dict[str, float]]], None] | None = None,
          initial: Mapping[str, np.ndarray] | None = None) -> tuple[TrainedParameters, History]:
    """Train on X_train / one-hot Y_train in the network's layout (the MLP's: X (n_x, m),
    Y (C, m)); then measure accuracy on the training set and on each named (X, Y) pair of
    eval_sets, e.g. {"test": (X_test, Y_test)}. `run` says how (device, threads, printing).

    Returns the trained parameters as NumPy arrays, with `config` as their .config
    (TrainedParameters, what inference.predict needs), and the run's History. With
    checkpoint_dir, a checkpoint is written every `checkpoint_every` epochs (0: only at
    the end), keeping the last `keep_checkpoints`; `resume` goes on from the newest one.
    `should_stop` is asked after each epoch: when it answers True the run checkpoints
    and raises TrainingInterrupted. `on_start(graph)` is called with the training graph once the
    session is ready (after a resumed checkpoint was found compatible and restored); `on_epoch(epoch,
    history, evaluate)` after each epoch, where evaluate() measures the accuracies now
    (for monitoring: TensorBoard, a refreshed learning curve). `initial` starts the network
    from trained parameters (by name) instead of its initializers: fine-tuning (tfsigns.calibrate).
    TensorFlow's ops run deterministically during the run, and as the process had them after it.
    """
    run = run or RunSettings()
    network, (m, input_shape, n_y), device_name, session_config = prepare([config], X_train, Y_train, run)
    graph = tf.Graph()
    with graph.as_default(), graph.device(device_name):
        v1.set_random_seed(config.seed)
        g = build_training_graph(network, config, m, input_shape, n_y,
                                 build_augmentation(config, network.layout, input_shape))
        checkpointer = Checkpointer(checkpoint_dir, keep_checkpoints) if checkpoint_dir else None
        init = (v1.global_variables_initializer(), v1.local_variables_initializer())
    sets = {"train": (X_train, Y_train), **(eval_sets or {})}

    history = History(device=device_name)
    write = tqdm.write if run.progress else print
    with open_session(graph, session_config) as sess:
        def evaluate() -> dict[str, float]:
            return {name: float(value) for name, value in measure(sess, g, sets, network.layout).items()}

        sess.run(init, g.feed_data(X_train, Y_train))
        for name, value in (initial or {}).items():
            g.parameters[name].load(value, sess)
        start_epoch = 0
        if resume:
            if checkpointer is None:
                raise CheckpointError("--resume needs a checkpoint folder")
            start_epoch, history.costs, history.learning_rates = checkpointer.restore(sess)
            if start_epoch > config.num_epochs:
                raise CheckpointError(too_few_epochs(checkpointer.directory, start_epoch, config.num_epochs))
        if on_start is not None:
            on_start(graph)
        start = time.perf_counter()
        epochs = tqdm(range(start_epoch, config.num_epochs), disable=not run.progress, unit="epoch",
                      file=sys.stderr, desc="train", initial=start_epoch, total=config.num_epochs)
        for epoch in epochs:
            feed, (rate,) = epoch_feed(g, [config], epoch, m)
            epoch_start = time.perf_counter()
            epoch_cost = float(sess.run(g.epoch_op, feed))
            history.epoch_seconds.append(time.perf_counter() - epoch_start)
            if not math.isfinite(epoch_cost):
                raise TrainingDiverged(diverged(epoch_cost, epoch))
            history.costs.append(float(epoch_cost))
            history.learning_rates.append(float(rate))
            epochs.set_postfix(cost=f"{epoch_cost:.4f}", refresh=False)
            if run.print_cost and epoch % run.print_every == 0:
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

        set_statistics(sess, g, m)
        history.accuracy = evaluate()
        if checkpointer:
            history.checkpoint = checkpointer.save(sess, config.num_epochs, history.costs,
                                                   history.learning_rates)
        return TrainedParameters(sess.run(g.parameters), config), history


@deterministic_ops()
def train_population(configs: list[TrainConfig], X_train: np.ndarray, Y_train: np.ndarray,
                     eval_sets: EvalSets | None = None, run: RunSettings | None = None
                     ) -> list[tuple[TrainedParameters, History]]:
    """Train every config together (tfsigns.training.population); returns each member's (parameters,
    History) as train() would.

    A member whose cost becomes NaN or infinite, or sits at ln(C), is reported in its
    History.warnings; the others go on unharmed (their parameters are separate).
    """
    check_population(configs)
    run = run or RunSettings()
    network, (m, input_shape, n_y), device_name, session_config = prepare(configs, X_train, Y_train, run)
    members = [initial_parameters(c, input_shape, n_y) for c in configs]

    graph = tf.Graph()
    with graph.as_default(), graph.device(device_name):
        g = build_population_graph(network, configs, members, m, input_shape, n_y,
                                   build_augmentation(configs[0], network.layout, input_shape))
        init = (v1.global_variables_initializer(), v1.local_variables_initializer())

    histories = [History(device=device_name) for _ in configs]
    with open_session(graph, session_config) as sess:
        sess.run(init, g.feed_data(X_train, Y_train))
        start = time.perf_counter()
        for epoch in range(configs[0].num_epochs):
            feed, rates = epoch_feed(g, configs, epoch, m)
            epoch_start = time.perf_counter()
            costs = sess.run(g.epoch_op, feed)
            seconds = time.perf_counter() - epoch_start
            for history, cost, rate in zip(histories, costs, rates, strict=True):
                history.costs.append(float(cost))
                history.learning_rates.append(float(rate))
                history.epoch_seconds.append(seconds)
        train_seconds = time.perf_counter() - start
        set_statistics(sess, g, m)
        accuracies = measure(sess, g, {"train": (X_train, Y_train), **(eval_sets or {})}, network.layout)
        trained = sess.run(g.parameters)
    results = []
    for k, (config, history) in enumerate(zip(configs, histories, strict=True)):
        history.train_seconds = train_seconds
        history.accuracy = {name: float(values[k]) for name, values in accuracies.items()}
        if not np.isfinite(history.costs).all():
            epoch = int(np.argmin(np.isfinite(history.costs)))
            history.warnings.append(diverged(history.costs[epoch], epoch))
        elif warning := not_learning(history.costs, n_y):
            history.warnings.append(warning)
        results.append((TrainedParameters(member_parameters(trained, k), config), history))
    return results


def model(X_train: np.ndarray, Y_train: np.ndarray, X_test: np.ndarray, Y_test: np.ndarray,
          learning_rate: float = 0.0001, num_epochs: int = 1500, minibatch_size: int = 32,
          print_cost: bool = True, **options) -> tuple[TrainedParameters, History]:
    """The course's model(): a LINEAR->RELU->LINEAR->RELU->LINEAR->SOFTMAX net trained with Adam.

    X (12288, m), Y one-hot (6, m). `options` are further TrainConfig or RunSettings fields
    (layers, seed, optimizer, batch_norm, ...). Prints and returns the accuracies.
    """
    return course_model("mlp", X_train, Y_train, X_test, Y_test, learning_rate, num_epochs, minibatch_size,
                        print_cost, **options)


def cnn_model(X_train: np.ndarray, Y_train: np.ndarray, X_test: np.ndarray, Y_test: np.ndarray,
              learning_rate: float = 0.009, num_epochs: int = 100, minibatch_size: int = 64,
              print_cost: bool = True, **options) -> tuple[TrainedParameters, History]:
    """The convolution course's model(): CONV2D->RELU->MAXPOOL twice, FLATTEN, FULLY CONNECTED,
    trained with Adam; the cost printed every 5 epochs, as that notebook does.

    X (m, 64, 64, 3), Y one-hot (m, 6), examples first. `options` as for model() (filters,
    kernels, pools, dense, batch_norm, seed, ...). Prints and returns the accuracies.
    """
    return course_model("cnn", X_train, Y_train, X_test, Y_test, learning_rate, num_epochs, minibatch_size,
                        print_cost, **{"print_every": 5, **options})


def course_model(arch: str, X_train: np.ndarray, Y_train: np.ndarray, X_test: np.ndarray, Y_test: np.ndarray,
                 learning_rate: float, num_epochs: int, minibatch_size: int, print_cost: bool,
                 **options) -> tuple[TrainedParameters, History]:
    """Train family `arch` on (X_train, Y_train) in its layout, test on (X_test, Y_test), print
    both accuracies; what model() and cnn_model() share."""
    config = TrainConfig(arch=arch, learning_rate=learning_rate, num_epochs=num_epochs,
                         minibatch_size=minibatch_size,
                         **{k: v for k, v in options.items() if k not in RUN_FIELDS})
    run = RunSettings(print_cost=print_cost, **{k: v for k, v in options.items() if k in RUN_FIELDS})
    parameters, history = train(config, X_train, Y_train, {"test": (X_test, Y_test)}, run)
    print(f"Train Accuracy: {history.train_accuracy:.4f}")
    print(f"Test Accuracy: {history.test_accuracy:.4f}")
    return parameters, history
