"""Population training, "caviar in one graph": K configurations of one architecture trained
together. Their weights are stacked along a leading member axis, every step gathers one
minibatch for all of them, and each member keeps its own learning rate (and decay), Adam
betas and epsilon, L2 strength and initialization seed. Member k ends where training it
alone with trainer.train would end, to float rounding.

Shapes: W[l] (K, n_l, n_{l-1}); b[l], gamma[l], beta[l] (K, n_l, 1); activations
(K, n_l, b); the shared minibatch X (n_x, b), Y (C, b).
"""

from __future__ import annotations

import time
from dataclasses import asdict

import numpy as np
import tensorflow as tf

from tfsigns import quiet_native_stderr
from tfsigns.data import minibatch_permutation
from tfsigns.model import batch_norm_layer, build_statistics_op, initialize_parameters, num_layers, update_ops
from tfsigns.trainer import (
    ConfigError,
    History,
    TrainConfig,
    build_epoch_op,
    build_resident_data,
    check_memory,
    diverged,
    learning_rate_decay,
    not_learning,
    resolve_device,
)

v1 = tf.compat.v1

# What members must share (one graph, one minibatch stream), and what each may set.
SHARED = ("layers", "num_epochs", "minibatch_size", "minibatch_seed", "optimizer", "batch_norm",
          "bn_momentum", "bn_population_stats", "keep_prob", "device")


def population_key(config: TrainConfig) -> tuple:
    """Configs with equal keys can be trained as one population."""
    return tuple(asdict(config)[name] for name in SHARED)


def check_population(configs: list[TrainConfig]) -> None:
    """ConfigError unless the configs share SHARED settings, use Adam and no dropout."""
    if not configs:
        raise ConfigError("a population needs at least one member")
    for name in SHARED:
        values = {repr(getattr(c, name)) for c in configs}
        if len(values) > 1:
            raise ConfigError(f"population members must share {name}; got {', '.join(sorted(values))}")
    if configs[0].optimizer != "adam" or configs[0].keep_prob != 1.0:
        raise ConfigError("population training implements Adam without dropout")


def initial_parameters(config: TrainConfig, n_x: int, n_y: int) -> dict[str, np.ndarray]:
    """A member's starting parameters, drawn exactly as trainer.train draws them."""
    with tf.Graph().as_default():
        v1.set_random_seed(config.seed)
        parameters = initialize_parameters((n_x, *config.layers, n_y), config.seed, config.batch_norm,
                                           config.init)
        with v1.Session() as sess:
            sess.run(v1.global_variables_initializer())
            return sess.run(parameters)


def population_forward(X: tf.Tensor, P: dict, batch_norm: bool, training: tf.Tensor,
                       bn_momentum: float) -> tf.Tensor:
    """Shared X (n_x, b) -> logits ZL (K, C, b) of every member, LINEAR->[BN]->RELU ...->LINEAR.

    The first layer is one (K*n_1, n_x) @ (n_x, b) product over the stacked weights.
    """
    K, n1 = P["W1"].shape[0], P["W1"].shape[1]
    L = num_layers(P)
    A = X
    for l in range(1, L + 1):
        if l == 1:
            Z = tf.reshape(tf.matmul(tf.reshape(P["W1"], [K * n1, -1]), X), [K, n1, -1])
        else:
            Z = tf.matmul(P[f"W{l}"], A)
        if l == L:
            return Z + P[f"b{l}"]
        Z = batch_norm_layer(Z, P, l, training, bn_momentum) if batch_norm else Z + P[f"b{l}"]
        A = tf.nn.relu(Z)
    raise AssertionError("unreachable")


def population_costs(ZL: tf.Tensor, Y: tf.Tensor, P: dict, lambd: tf.Tensor) -> tf.Tensor:
    """Each member's mean softmax cross-entropy (+ its L2 term); ZL (K, C, b), Y (C, b) -> (K,)."""
    labels = tf.broadcast_to(Y, tf.shape(ZL))
    costs = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=ZL, axis=1),
                           axis=-1)
    m = tf.cast(tf.shape(Y)[1], tf.float32)
    squares = tf.add_n([tf.reduce_sum(tf.square(P[k]), axis=[1, 2]) for k in P if k.startswith("W")])
    return costs + lambd / (2.0 * m) * squares


def train_population(configs: list[TrainConfig], X_train: np.ndarray, Y_train: np.ndarray,
                     eval_sets: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
                     threads: int = 0) -> list[tuple[dict[str, np.ndarray], History]]:
    """Train every config together; returns each member's (parameters, History) as train() would.

    A member whose cost becomes NaN or infinite, or sits at ln(C), is reported in its
    History.warnings; the others go on unharmed (their parameters are separate).
    """
    check_population(configs)
    first, K = configs[0], len(configs)
    (n_x, m), n_y = X_train.shape, Y_train.shape[0]
    check_memory(first, n_x, n_y, members=K)
    device_name, session_config = resolve_device(first.device, threads)
    tf.config.experimental.enable_op_determinism()
    members = [initial_parameters(c, n_x, n_y) for c in configs]

    graph = tf.Graph()
    with graph.as_default(), graph.device(device_name):
        # Each member's trainable variables are its own, so that TensorFlow's fused Adam kernel
        # updates them with that member's hyperparameters; the forward pass sees them stacked.
        names = [name for name in members[0] if not name.startswith("moving")]
        own = [{name: tf.Variable(p[name], name=f"member{k}/{name}") for name in names}
               for k, p in enumerate(members)]
        moving = {name: tf.Variable(np.stack([p[name] for p in members]), name=name, trainable=False)
                  for name in members[0] if name.startswith("moving")}
        lambd = tf.constant([c.lambd for c in configs], tf.float32)
        learning_rates = v1.placeholder(tf.float32, [K], name="learning_rates")
        optimizers = [v1.train.AdamOptimizer(learning_rates[k], c.beta1, c.beta2, c.epsilon)
                      for k, c in enumerate(configs)]
        data_X, data_Y, data_feed = build_resident_data(m, n_x, n_y)
        permutation = v1.placeholder(tf.int32, [m])

        def stacked() -> dict[str, tf.Tensor]:
            """All members' parameters, (K, ...) each, read where this is called (e.g. each step)."""
            return {**{name: tf.stack([o[name] for o in own]) for name in names}, **moving}

        def population_step(X_batch, Y_batch):
            P = stacked()
            costs = population_costs(population_forward(X_batch, P, first.batch_norm, tf.constant(True),
                                                        first.bn_momentum), Y_batch, P, lambd)
            with tf.control_dependencies(update_ops()):
                variables = [[o[name] for name in names] for o in own]
                grads = tf.gradients(tf.reduce_sum(costs), sum(variables, []))
                steps = [opt.apply_gradients(zip(grads[k * len(names):(k + 1) * len(names)], variables[k],
                                                 strict=True))
                         for k, opt in enumerate(optimizers)]
            return tf.group(*steps), costs

        epoch_op = build_epoch_op(data_X, data_Y, permutation, first.minibatch_size, population_step, (K,))
        population_stats = None
        if first.batch_norm and first.bn_population_stats:  # as trainer.train does, for every member
            population_stats = build_statistics_op(lambda: population_forward(
                tf.transpose(data_X), stacked(), True, tf.constant(True), bn_momentum=0.0))
        X, Y = v1.placeholder(tf.float32, [n_x, None]), v1.placeholder(tf.float32, [n_y, None])
        ZL = population_forward(X, stacked(), first.batch_norm, tf.constant(False), first.bn_momentum)
        accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(ZL, axis=1), tf.argmax(Y, axis=0)), tf.float32),
                                  axis=-1)
        init = (v1.global_variables_initializer(), v1.local_variables_initializer())
    graph.finalize()

    histories = [History(device=device_name) for _ in configs]
    with quiet_native_stderr():
        sess = v1.Session(graph=graph, config=session_config)
    with sess:
        sess.run(init, data_feed(X_train, Y_train))
        start = time.perf_counter()
        for epoch in range(first.num_epochs):
            rates = [learning_rate_decay(c, epoch) for c in configs]
            shuffle = minibatch_permutation(m, first.minibatch_seed + epoch + 1)
            epoch_start = time.perf_counter()
            costs = sess.run(epoch_op, {permutation: shuffle, learning_rates: rates})
            seconds = time.perf_counter() - epoch_start
            for history, cost, rate in zip(histories, costs, rates, strict=True):
                history.costs.append(float(cost))
                history.learning_rates.append(float(rate))
                history.epoch_seconds.append(seconds)
        train_seconds = time.perf_counter() - start
        if population_stats is not None:
            sess.run(population_stats)
        accuracies = {name: sess.run(accuracy, {X: X_e, Y: Y_e})
                      for name, (X_e, Y_e) in {"train": (X_train, Y_train), **(eval_sets or {})}.items()}
        trained = sess.run([{**o, **moving} for o in own])
    results = []
    for k, history in enumerate(histories):
        history.train_seconds = train_seconds
        history.accuracy = {name: float(values[k]) for name, values in accuracies.items()}
        if not np.isfinite(history.costs).all():
            epoch = int(np.argmin(np.isfinite(history.costs)))
            history.warnings.append(diverged(history.costs[epoch], epoch))
        elif warning := not_learning(history.costs, n_y):
            history.warnings.append(warning)
        parameters = {name: value[k] if name.startswith("moving") else value
                      for name, value in trained[k].items()}
        results.append((parameters, history))
    return results
