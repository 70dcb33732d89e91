"""Population training, "caviar in one graph": K configurations of one architecture trained
together. Their weights are stacked along a leading member axis, every step gathers one
minibatch for all of them, and each member keeps its own learning rate (and decay), Adam
betas and epsilon, L2 strength and initialization seed. Member k ends where training it
alone would end, to float rounding. This module builds the graph; tfsigns.training.trainer's
train_population runs it.

Shapes: W[l] (K, n_l, n_{l-1}); b[l], gamma[l], beta[l] (K, n_l, 1); activations
(K, n_l, b); the shared minibatch X (n_x, b), Y (C, b).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict

import numpy as np

from tfsigns.backend import tf, v1
from tfsigns.config import CONFIG_FIELDS, ConfigError, TrainConfig
from tfsigns.networks import Network, get_network
from tfsigns.networks.layers import compute_cost
from tfsigns.training.graph import (
    TrainingGraph,
    build_epoch_op,
    build_evaluation,
    build_resident_data,
    build_statistics,
    logits,
    update_ops,
)

# What each member may set for itself; everything else in TrainConfig the members share
# (one graph, one minibatch stream).
OWN = ("learning_rate", "seed", "beta1", "beta2", "epsilon", "momentum", "decay", "decay_rate",
       "decay_interval", "lambd", "init")
SHARED = tuple(sorted(CONFIG_FIELDS - set(OWN)))


def population_key(config: TrainConfig) -> tuple:
    """Configs with equal keys can be trained as one population."""
    return tuple(asdict(config)[name] for name in SHARED)


def can_join(config: TrainConfig) -> bool:
    """Whether a config can train in a population: this one implements Adam without dropout, for
    families whose forward takes stacked members (the MLP; not the CNN, which trains alone)."""
    return config.optimizer == "adam" and config.keep_prob == 1.0 and get_network(config.arch).populations


def check_population(configs: list[TrainConfig]) -> None:
    """ConfigError unless the configs share SHARED settings and can_join."""
    if not configs:
        raise ConfigError("a population needs at least one member")
    for name in SHARED:
        values = {repr(getattr(c, name)) for c in configs}
        if len(values) > 1:
            raise ConfigError(f"population members must share {name}; got {', '.join(sorted(values))}")
    if not can_join(configs[0]):
        raise ConfigError("population training implements Adam without dropout, for the MLP (a cnn's "
                          "trials train alone)")


def build_population_graph(network: Network, configs: list[TrainConfig], members: list[dict[str, np.ndarray]],
                           m: int, input_shape: tuple[int, ...], n_y: int,
                           augment: Callable[[tf.Tensor], tf.Tensor] | None = None) -> TrainingGraph:
    """The population's training graph in the default graph, starting from each member's
    initial parameters `members` (NumPy, as trainer.initial_parameters draws them); every
    shared minibatch goes through `augment`, when given."""
    first, K, layout = configs[0], len(configs), network.layout
    # Each member's trainable variables are its own, so that TensorFlow's fused Adam kernel
    # updates them with that member's hyperparameters; the forward pass sees them stacked.
    names = [name for name in members[0] if not name.startswith("moving")]
    own = [{name: tf.Variable(p[name], name=f"member{k}/{name}") for name in names}
           for k, p in enumerate(members)]
    moving = {name: tf.Variable(np.stack([p[name] for p in members]), name=name, trainable=False)
              for name in members[0] if name.startswith("moving")}
    lambd = [c.lambd for c in configs]  # compute_cost builds no penalty when every one is 0
    learning_rates = v1.placeholder(tf.float32, [K], name="learning_rates")
    optimizers = [v1.train.AdamOptimizer(learning_rates[k], c.beta1, c.beta2, c.epsilon)
                  for k, c in enumerate(configs)]
    data_X, data_Y, feed_data = build_resident_data(layout, m, input_shape, n_y)
    shared = {**moving, **build_statistics(first, layout, data_X.initial_value, input_shape)}
    permutation = v1.placeholder(tf.int32, [m])

    def stacked() -> dict[str, tf.Tensor]:
        """All members' parameters, (K, ...) each, read where this is called (e.g. each step),
        with the shared input statistics of "dataset" normalization."""
        return {**{name: tf.stack([o[name] for o in own]) for name in names}, **shared}

    def population_step(X_batch, Y_batch):
        P = stacked()
        costs = compute_cost(logits(network, X_batch, P, first, tf.constant(True)), Y_batch, P, lambd, layout)
        with tf.control_dependencies(update_ops()):
            variables = [[o[name] for name in names] for o in own]
            grads = tf.gradients(tf.reduce_sum(costs), sum(variables, []))
            # the first member counts the steps, which augmentation's random draws follow
            steps = [opt.apply_gradients(zip(grads[k * len(names):(k + 1) * len(names)], variables[k],
                                             strict=True),
                                         global_step=None if k else v1.train.get_or_create_global_step())
                     for k, opt in enumerate(optimizers)]
        return tf.group(*steps), costs

    epoch_op = build_epoch_op(data_X, data_Y, permutation, first.minibatch_size, population_step, (K,),
                              layout, augment)
    evaluation = build_evaluation(network, first, stacked, data_X, input_shape, n_y)
    return TrainingGraph([{**o, **shared} for o in own], learning_rates, permutation, epoch_op,
                         feed_data=feed_data, **evaluation)


def member_parameters(trained: list[dict[str, np.ndarray]], k: int) -> dict[str, np.ndarray]:
    """Member k's parameters from the fetched population: its own variables and its slice of
    the stacked moving averages."""
    return {name: value[k] if name.startswith("moving") else value for name, value in trained[k].items()}
