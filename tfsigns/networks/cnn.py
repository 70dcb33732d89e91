"""The course's convolutional network for SIGNS (week 1 of the convolution course), one function
per lecture idea, and its `NETWORK` for the rest of the package:

    CONV2D (stride 1, SAME) -> [BATCHNORM] -> RELU -> MAXPOOL (window = stride, SAME)  per block
    -> FLATTEN -> [FULLY CONNECTED -> [BATCHNORM] -> RELU -> [DROPOUT]] ... -> FULLY CONNECTED

Examples first, as in the course: X is (m, n_H, n_W, n_C), Y and the logits (m, C). The
course's network has two blocks, filters W1 (4, 4, 3, 8) and W2 (2, 2, 8, 16), pools 8 and 4,
and no hidden dense layer. These functions only build and return tensors and ops.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from tfsigns.backend import tf, v1
from tfsigns.config import ConfigError, TrainConfig
from tfsigns.networks import IMAGES, Network
from tfsigns.networks.layers import as_tensors, batch_norm_layer, dropout, fused_batch_norm_layer, test_mode
from tfsigns.networks.layers import compute_cost as cost_of
from tfsigns.networks.mlp import BATCH_NORM_PARAMETERS, INITIALIZERS, initializer_seed

COURSE_SEED = 0  # the course's op seed of both filters' Glorot initializer


def create_placeholders(n_H0: int, n_W0: int, n_C0: int, n_y: int) -> tuple[tf.Tensor, tf.Tensor]:
    """Placeholders X (None, n_H0, n_W0, n_C0) and Y (None, n_y), float32; None is the batch size."""
    X = v1.placeholder(tf.float32, shape=[None, n_H0, n_W0, n_C0], name="X")
    Y = v1.placeholder(tf.float32, shape=[None, n_y], name="Y")
    return X, Y


def parameter_shapes(input_shape: Sequence[int] = (64, 64, 3), n_y: int = 6, filters: Sequence[int] = (8, 16),
                     kernels: Sequence[int] = (4, 2), pools: Sequence[int] = (8, 4),
                     dense: Sequence[int] = (), batch_norm: bool = False) -> dict[str, tuple[int, ...]]:
    """Each parameter's shape, in the order initialize_parameters makes them: filters W[l]
    (f, f, n_C_prev, n_C) of each conv block (no bias, as in the course), then dense W[l]
    (n_prev, n) and b[l] (n,) up to the logits; batch norm replaces a hidden layer's bias
    by gamma, beta, moving_mean and moving_variance (n_C,) or (n,). ConfigError (field kernels)
    for a block whose filter is larger than its input."""
    if not (len(filters) == len(kernels) == len(pools)) or not filters:
        raise ValueError("filters, kernels and pools need one entry per conv block")
    (n_H, n_W, n_C), shapes = input_shape, {}
    for l, (n, f, pool) in enumerate(zip(filters, kernels, pools, strict=True), start=1):
        if f > min(n_H, n_W):
            after = f" after pools {list(pools[:l - 1])}" if l > 1 else ""
            raise ConfigError(f"kernels {list(kernels)}: conv block {l}'s {f}x{f} filter is larger than its "
                              f"{n_H}x{n_W} input (the {input_shape[0]}x{input_shape[1]} images{after})",
                              "kernels")
        shapes[f"W{l}"] = (f, f, n_C, n)
        if batch_norm:
            shapes.update({f"{name}{l}": (n,) for name in BATCH_NORM_PARAMETERS})
        n_H, n_W, n_C = math.ceil(n_H / pool), math.ceil(n_W / pool), n  # SAME pooling, stride = window
    n_prev, L = n_H * n_W * n_C, len(filters) + len(dense) + 1
    for l, n in enumerate((*dense, n_y), start=len(filters) + 1):
        shapes[f"W{l}"] = (n_prev, n)
        names = BATCH_NORM_PARAMETERS if batch_norm and l < L else ("b",)
        shapes.update({f"{name}{l}": (n,) for name in names})
        n_prev = n
    return shapes


def initialize_parameters(input_shape: Sequence[int] = (64, 64, 3), n_y: int = 6,
                          filters: Sequence[int] = (8, 16), kernels: Sequence[int] = (4, 2),
                          pools: Sequence[int] = (8, 4), dense: Sequence[int] = (), batch_norm: bool = False,
                          seed: int = 1, init: str = "course") -> dict[str, tf.Variable]:
    """Variables of parameter_shapes: every W Glorot/Xavier-uniform, b and beta zeros, gamma ones.

    With init="course" (the default) the filters take the course's op seed 0, as its notebook
    does, and the dense layers the seed of each; "independent" gives every layer a stream of
    its own (tfsigns.networks.mlp.initializer_seed).
    """
    shapes = parameter_shapes(input_shape, n_y, filters, kernels, pools, dense, batch_norm)
    parameters = {}
    for name, shape in shapes.items():
        kind, l = re.fullmatch(r"(\D+)(\d+)", name).groups()
        if kind != "W":
            initializer = INITIALIZERS[kind]
        elif init == "course":
            initializer = v1.glorot_uniform_initializer(seed=COURSE_SEED if len(shape) == 4 else seed)
        else:
            initializer = v1.glorot_uniform_initializer(seed=initializer_seed(seed, int(l), init))
        parameters[name] = v1.get_variable(name, shape, initializer=initializer,
                                           trainable=not kind.startswith("moving"))
    return parameters


def forward_propagation(X: tf.Tensor, parameters: dict, batch_norm: bool = False,
                        training: tf.Tensor | None = None, pools: Sequence[int] = (8, 4),
                        keep_prob: float = 1.0, bn_momentum: float = 0.99, seed: int = 1,
                        fused_bn: bool = True) -> tf.Tensor:
    """CONV2D -> [BN] -> RELU -> MAXPOOL per block, FLATTEN, FULLY CONNECTED ...; X (m, n_H, n_W, n_C)
    -> logits (m, C), in test mode unless `training` (a bool tensor) says otherwise; the parameters
    variables or the NumPy arrays sess.run returned. Batch norm of a conv layer takes per-channel
    statistics over the batch, height and width; dropout acts on hidden dense layers while `training` is True,
    its masks a function of (seed, layer, global step) as in tfsigns.networks.mlp. fused_bn: a conv layer's
    batch norm in TensorFlow's fused kernel (False: the lecture's formulas; equal to float rounding)."""
    training, parameters = test_mode(training), as_tensors(parameters)
    A = X
    for l, pool in enumerate(pools, start=1):
        Z = tf.nn.conv2d(A, parameters[f"W{l}"], strides=[1, 1, 1, 1], padding="SAME")
        if batch_norm:
            Z = fused_batch_norm_layer(Z, parameters, l, training, bn_momentum) if fused_bn \
                else batch_norm_layer(Z, parameters, l, training, bn_momentum, axes=(0, 1, 2))
        # RELU then MAXPOOL, computed as MAXPOOL then RELU: ReLU is monotone, so the two orders give
        # the same values and gradients, bit for bit, and this one applies it to 1/pool² as many.
        A = tf.nn.relu(tf.nn.max_pool2d(Z, ksize=pool, strides=pool, padding="SAME"))
    A = tf.reshape(A, [-1, math.prod(A.shape[1:])])  # FLATTEN: (m, n_H * n_W * n_C)
    L = sum(1 for key in parameters if key.startswith("W"))
    for l in range(len(pools) + 1, L + 1):
        Z = tf.matmul(A, parameters[f"W{l}"])
        if l == L:
            return Z + parameters[f"b{l}"]
        Z = batch_norm_layer(Z, parameters, l, training, bn_momentum, axes=(0,)) if batch_norm \
            else Z + parameters[f"b{l}"]
        A = tf.nn.relu(Z)
        if keep_prob < 1.0:
            A = dropout(A, keep_prob, training, seed, l)
    raise AssertionError("unreachable")


def compute_cost(Z: tf.Tensor, Y: tf.Tensor) -> tf.Tensor:
    """Mean softmax cross-entropy of logits Z (m, C) against one-hot Y (m, C); scalar."""
    return cost_of(Z, Y, layout=IMAGES)


class CNN(Network):
    """The course's convolutional network as a family: images in; its shape from config.filters,
    kernels, pools and dense."""

    layout = IMAGES
    fused_batch_norm = True  # forward_propagation's fused_bn (bench/reader_speed.py times both)
    populations = False  # convolutions over stacked members' filters are not implemented
    course_functions = {"create_placeholders": create_placeholders,
                        "initialize_parameters": initialize_parameters,
                        "forward_propagation": forward_propagation, "compute_cost": compute_cost}

    def parameter_shapes(self, config: TrainConfig, input_shape: tuple[int, ...], n_y: int
                         ) -> dict[str, tuple[int, ...]]:
        return parameter_shapes(input_shape, n_y, config.filters, config.kernels, config.pools, config.dense,
                                config.batch_norm)

    def create_placeholders(self, input_shape: tuple[int, ...], n_y: int) -> tuple[tf.Tensor, tf.Tensor]:
        return create_placeholders(*input_shape, n_y)

    def initialize_parameters(self, config: TrainConfig, input_shape: tuple[int, ...], n_y: int
                              ) -> dict[str, tf.Variable]:
        return initialize_parameters(input_shape, n_y, config.filters, config.kernels, config.pools,
                                     config.dense, config.batch_norm, config.seed, config.init)

    def forward(self, X: tf.Tensor, parameters: dict, config: TrainConfig, training: tf.Tensor) -> tf.Tensor:
        return forward_propagation(X, parameters, config.batch_norm, training, config.pools, config.keep_prob,
                                   config.bn_momentum, seed=config.seed, fused_bn=self.fused_batch_norm)


NETWORK = CNN()
