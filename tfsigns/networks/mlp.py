"""The course's fully connected network, LINEAR -> [BATCHNORM] -> RELU -> [DROPOUT] ... -> LINEAR,
one function per lecture idea, and its `NETWORK` for the rest of the package.

Column layout throughout, as in the course: X is (n_x, m), Z[l] and A[l] are (n_l, m),
Y is (C, m). These functions only build and return tensors and ops; the session loop
lives in tfsigns.training.trainer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from tfsigns.backend import tf, v1
from tfsigns.config import INITS, TrainConfig
from tfsigns.networks import COLUMNS, Network
from tfsigns.networks.layers import as_tensors, batch_norm_layer, compute_cost, dropout, layer_seed, test_mode

BATCH_NORM_PARAMETERS = ("gamma", "beta", "moving_mean", "moving_variance")  # a hidden layer's, instead of b
INITIALIZERS = {"b": v1.zeros_initializer(), "gamma": v1.ones_initializer(), "beta": v1.zeros_initializer(),
                "moving_mean": v1.zeros_initializer(), "moving_variance": v1.ones_initializer()}


def create_placeholders(n_x: int, n_y: int) -> tuple[tf.Tensor, tf.Tensor]:
    """Placeholders X (n_x, None) and Y (n_y, None), float32; None is the batch size."""
    X = v1.placeholder(tf.float32, shape=[n_x, None], name="X")
    Y = v1.placeholder(tf.float32, shape=[n_y, None], name="Y")
    return X, Y


def initializer_seed(seed: int, l: int, init: str = "course") -> int:
    """The op seed of layer l's Glorot initializer under scheme `init` (one of INITS).

    course: `seed` for every layer, as the course does. independent: a 31-bit hash of
    (seed, l) by NumPy's SeedSequence, deterministic in both, so layers get unrelated
    streams and so do nearby seeds (unlike, say, seed + l, where seed 1's W2 would repeat
    seed 2's W1).
    """
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}; choose from {', '.join(INITS)}")
    if init == "course":
        return seed
    return layer_seed(seed, l)


def parameter_shapes(layer_dims: Sequence[int] = (12288, 25, 12, 6), batch_norm: bool = False
                     ) -> dict[str, tuple[int, int]]:
    """Each parameter's shape, in the order initialize_parameters makes them: W[l] (n_l, n_{l-1});
    b[l] (n_l, 1), or with batch norm in a hidden layer gamma, beta, moving_mean and
    moving_variance (n_l, 1)."""
    dims = [int(n) for n in layer_dims]
    if len(dims) < 2 or min(dims) <= 0:
        raise ValueError(f"layer_dims needs at least two positive sizes, got {layer_dims}")
    L = len(dims) - 1
    shapes = {}
    for l in range(1, L + 1):
        shapes[f"W{l}"] = (dims[l], dims[l - 1])
        names = BATCH_NORM_PARAMETERS if batch_norm and l < L else ("b",)
        shapes.update({f"{name}{l}": (dims[l], 1) for name in names})
    return shapes


def initialize_parameters(layer_dims: Sequence[int] = (12288, 25, 12, 6), seed: int = 1,
                          batch_norm: bool = False, init: str = "course") -> dict[str, tf.Variable]:
    """Variables W[l] (n_l, n_{l-1}) Glorot/Xavier-uniform, b[l] (n_l, 1) zeros.

    Entry k of W[l] in row-major order is limit_l * (2 u_k - 1), limit_l = sqrt(6 / (n_l +
    n_{l-1})), where u_0, u_1, ... is the uniform [0, 1) stream fixed by the graph seed and
    the op seed initializer_seed(seed, l, init). With init="course" (the default) every
    layer has op seed `seed`, so all layers read the same stream: W[l] flattened equals the
    first n_l * n_{l-1} entries of W[1] flattened times limit_l / limit_1 (with the course's
    dims, W2 and W3 are rescaled copies of the start of W1's first row). The course's
    notebook does exactly this and its reproduction depends on those values, so "course"
    stays the default; init="independent" gives each layer a stream of its own, the usual
    intent of seeding a network.

    With batch_norm, each hidden layer gets gamma[l] (ones) and beta[l] (zeros)
    instead of b[l] (batch norm subtracts the mean, which cancels any bias), and
    non-trainable moving_mean[l] / moving_variance[l] (n_l, 1) for test time.
    """
    parameters = {}
    for name, shape in parameter_shapes(layer_dims, batch_norm).items():
        kind, l = re.fullmatch(r"(\D+)(\d+)", name).groups()
        if kind == "W":
            initializer = v1.glorot_uniform_initializer(seed=initializer_seed(seed, int(l), init))
        else:
            initializer = INITIALIZERS[kind]
        parameters[name] = v1.get_variable(name, shape, initializer=initializer,
                                           trainable=not kind.startswith("moving"))
    return parameters


def num_layers(parameters: dict) -> int:
    """L, the number of weight layers in a parameters dict."""
    return sum(1 for key in parameters if key.startswith("W"))


def linear(W: tf.Tensor, A: tf.Tensor, over_pixels: bool = False) -> tf.Tensor:
    """W A: W (n, n_prev) @ A (n_prev, m) -> (n, m). A population's stacked W (K, n, n_prev) over
    a shared A (n_prev, m) is one (K*n, n_prev) @ (n_prev, m) product -> (K, n, m); over its
    own A (K, n_prev, m), a batched product. over_pixels: the first layer's product, over the
    input's 12288 pixels, goes through tf.einsum (see pixel_product)."""
    if W.shape.rank == 3 and A.shape.rank == 2:
        K, n = W.shape[0], W.shape[1]
        return tf.reshape(linear(tf.reshape(W, [K * n, -1]), A, over_pixels), [K, n, -1])
    if over_pixels:
        return pixel_product("nk,km->nm", W, A)
    return tf.matmul(W, A)


def pixel_product(equation: str, a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    """The first layer's product of W1 with the pixels, tf.einsum(equation, a, b): TensorFlow's
    oneDNN computes it as a batched product, while as a MatMul, which the graph optimizer gives
    a transpose flag (the pixels are gathered as rows), one epoch's products took about 3x as
    long. The values are MatMul's to float32 rounding; with oneDNN off, bit for bit."""
    return tf.einsum(equation, a, b)


def forward_propagation(X: tf.Tensor, parameters: dict, batch_norm: bool = False,
                        training: tf.Tensor | None = None, keep_prob: float = 1.0,
                        bn_momentum: float = 0.99, bn_epsilon: float = 1e-3,
                        seed: int = 1) -> tf.Tensor:
    """LINEAR -> [BATCHNORM] -> RELU -> [DROPOUT] ... -> LINEAR; X (n_x, m) -> ZL (C, m).

    ZL are logits: the softmax lives in compute_cost. Test mode unless `training` (a bool
    tensor) says otherwise: batch norm by its moving averages, no dropout; training asks for
    it, e.g. training=tf.constant(True). Dropout (inverted, keeping each hidden unit with
    probability keep_prob) acts only while `training` is True; its masks are a function of
    (seed, layer, global step), so a resumed run draws the same masks as an uninterrupted one.
    The parameters may be variables or the NumPy arrays sess.run(parameters) returned. Stacked
    parameters W[l] (K, n_l, n_{l-1}) give every member's logits (K, C, m).
    """
    training, parameters = test_mode(training), as_tensors(parameters)
    L = num_layers(parameters)
    A = X
    for l in range(1, L + 1):
        Z = linear(parameters[f"W{l}"], A, over_pixels=l == 1)
        if l == L:
            return Z + parameters[f"b{l}"]
        if batch_norm:
            Z = batch_norm_layer(Z, parameters, l, training, bn_momentum, bn_epsilon)
        else:
            Z = Z + parameters[f"b{l}"]
        A = tf.nn.relu(Z)
        if keep_prob < 1.0:
            A = dropout(A, keep_prob, training, seed, l)
    raise AssertionError("unreachable")


def forward_rows(X: tf.Tensor, parameters: dict) -> tf.Tensor:
    """forward_propagation without batch norm or dropout on the examples as rows: X (m, n_x) ->
    ZL (m, C), the transpose of forward_propagation(X^T), computed as Z = A W^T + b^T, so that a
    training step moves no matrix and has fewer ops. The first product is pixel_product; the
    others take W with a transpose flag, and each bias is one BiasAdd, which TensorFlow fuses
    with the product and the ReLU. Training uses it; learners' forward_propagation stays the
    course's."""
    L = num_layers(parameters)
    A = X
    for l in range(1, L + 1):
        W = parameters[f"W{l}"]
        AWt = pixel_product("mk,nk->mn", A, W) if l == 1 else tf.matmul(A, W, transpose_b=True)
        Z = tf.nn.bias_add(AWt, tf.reshape(parameters[f"b{l}"], [-1]))
        if l == L:
            return Z
        A = tf.nn.relu(Z)
    raise AssertionError("unreachable")


class MLP(Network):
    """The course's network as a family: columns in, hidden layers config.layers."""

    layout = COLUMNS
    course_functions = {"create_placeholders": create_placeholders,
                        "initialize_parameters": initialize_parameters,
                        "forward_propagation": forward_propagation, "compute_cost": compute_cost}

    def parameter_shapes(self, config: TrainConfig, input_shape: tuple[int, ...], n_y: int
                         ) -> dict[str, tuple[int, ...]]:
        return parameter_shapes((*input_shape, *config.layers, n_y), config.batch_norm)

    def create_placeholders(self, input_shape: tuple[int, ...], n_y: int) -> tuple[tf.Tensor, tf.Tensor]:
        return create_placeholders(*input_shape, n_y)

    def initialize_parameters(self, config: TrainConfig, input_shape: tuple[int, ...], n_y: int
                              ) -> dict[str, tf.Variable]:
        return initialize_parameters((*input_shape, *config.layers, n_y), config.seed, config.batch_norm,
                                     config.init)

    def rows_forward(self, config: TrainConfig):
        """forward_rows, for the course network without batch norm or dropout."""
        plain = not config.batch_norm and config.keep_prob == 1.0
        return forward_rows if plain else None

    def forward(self, X: tf.Tensor, parameters: dict, config: TrainConfig, training: tf.Tensor) -> tf.Tensor:
        return forward_propagation(X, parameters, config.batch_norm, training, config.keep_prob,
                                   config.bn_momentum, seed=config.seed)


NETWORK = MLP()
