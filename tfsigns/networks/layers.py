"""The pieces every network family builds its forward pass and cost from, in the lecture's terms:
batch norm (by the lecture's formulas, and in TensorFlow's fused kernel for conv layers), inverted
dropout, the training flag that switches both to test mode, and the softmax cross-entropy cost with
its optional L2 penalty. Shapes follow the family's layout (tfsigns.networks.Layout); the course's
columns are the default: Z (n_l, m), logits ZL and one-hot Y (C, m). These functions only build.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tfsigns.backend import tf, v1
from tfsigns.networks import COLUMNS, Layout

# batch_norm_layer's (moving_mean, moving_variance, batch mean, batch variance) of each layer it builds
BATCH_MOMENTS = "tfsigns_batch_moments"


def create_training_flag() -> tf.Tensor:
    """Scalar bool, False (test mode) unless fed True: switches batch norm and dropout to training mode.

    A placeholder (not a Python bool) so one graph serves training and evaluation; test mode by
    default, as Keras', so that a graph read without the flag never normalizes by its batch's company.
    """
    return v1.placeholder_with_default(False, shape=[], name="is_training")


def test_mode(training: tf.Tensor | None) -> tf.Tensor:
    """The training flag a forward pass uses: `training`, or test mode (False) when None."""
    return tf.constant(False) if training is None else training


def as_tensors(parameters: dict) -> dict:
    """The parameters as graph values: variables and tensors as they are, NumPy arrays (what
    sess.run(parameters) returned) as float32 constants, so a forward pass runs on either."""
    return {name: value if isinstance(value, (tf.Tensor, tf.Variable)) else tf.constant(value, tf.float32)
            for name, value in parameters.items()}


def batch_norm_layer(Z: tf.Tensor, parameters: dict, l: int, training: tf.Tensor, momentum: float = 0.99,
                     epsilon: float = 1e-3, axes: tuple[int, ...] = (-1,)) -> tf.Tensor:
    """Batch norm of layer l's Z -> Z_tilde, same shape, the lecture's formulas; the MLP's Z is
    (n_l, m) with parameters gamma[l], beta[l] and moving averages (n_l, 1).

    Training mode: mu and sigma^2 over the minibatch's `axes` (the MLP's: the examples, the
    last axis, so a population's stacked (K, n_l, m) works the same with (K, n_l, 1)
    parameters; a CNN's would add height and width), and ops that move
    moving_mean/moving_variance towards them are added to UPDATE_OPS (they run
    only because build_train_op makes the train op depend on them).
    Test mode: the moving averages stand in for mu and sigma^2. In either mode the layer's
    averages and minibatch moments are kept in the BATCH_MOMENTS collection
    (build_batch_norm_statistics reads them).
    """
    gamma, beta = parameters[f"gamma{l}"], parameters[f"beta{l}"]
    moving_mean, moving_var = parameters[f"moving_mean{l}"], parameters[f"moving_variance{l}"]
    batch_mean = tf.reduce_mean(Z, axis=list(axes), keepdims=True)
    batch_var = tf.reduce_mean(tf.square(Z - batch_mean), axis=list(axes), keepdims=True)
    # in the parameters' shape: the MLP's (n_l, 1) already; a conv layer's (n_C,) from (1, 1, 1, n_C)
    batch_mean, batch_var = (tf.reshape(s, moving_mean.shape) for s in (batch_mean, batch_var))
    _track_moments(parameters, l, momentum, (batch_mean, batch_var), (batch_mean, batch_var))
    mu, var = tf.cond(training, lambda: (batch_mean, batch_var), lambda: (moving_mean, moving_var))
    Z_norm = (Z - mu) / tf.sqrt(var + epsilon)
    return gamma * Z_norm + beta


def fused_batch_norm_layer(Z: tf.Tensor, parameters: dict, l: int, training: tf.Tensor,
                           momentum: float = 0.99, epsilon: float = 1e-3) -> tf.Tensor:
    """batch_norm_layer of a conv layer's Z (m, n_H, n_W, n_C) -> Z_tilde, same shape, per channel
    over the batch, height and width, in TensorFlow's fused kernel: one op each way instead of a
    dozen elementwise passes over the activations (bench/reader_speed.py times the two). The kernel
    takes float32 only; other types go by the formulas."""
    if Z.dtype != tf.float32:
        return batch_norm_layer(Z, parameters, l, training, momentum, epsilon, axes=(0, 1, 2))
    gamma, beta = parameters[f"gamma{l}"], parameters[f"beta{l}"]
    moving_mean, moving_var = parameters[f"moving_mean{l}"], parameters[f"moving_variance{l}"]

    def normalize_by_batch():
        Z_tilde, mean, var = v1.nn.fused_batch_norm(Z, gamma, beta, epsilon=epsilon, is_training=True)
        n = tf.cast(tf.reduce_prod(tf.shape(Z)[:3]), tf.float32)
        return Z_tilde, mean, var * ((n - 1.0) / n)  # its variance is Bessel-corrected; the lecture's is not

    def normalize_by_averages():
        Z_tilde, _, _ = v1.nn.fused_batch_norm(Z, gamma, beta, moving_mean, moving_var, epsilon=epsilon,
                                               is_training=False)
        return Z_tilde, moving_mean, moving_var

    Z_tilde, mean, var = tf.cond(training, normalize_by_batch, normalize_by_averages)
    # the whole-set statistics are gathered in test mode, from moments of their own (only that pass runs them)
    _track_moments(parameters, l, momentum, (mean, var), tf.nn.moments(Z, axes=[0, 1, 2]))
    return Z_tilde


def _track_moments(parameters: dict, l: int, momentum: float, training_moments: tuple[tf.Tensor, tf.Tensor],
                   batch_moments: tuple[tf.Tensor, tf.Tensor]) -> None:
    """Layer l's update ops (UPDATE_OPS) moving its averages towards `training_moments` (mean,
    variance), and its BATCH_MOMENTS entry with the moments of whatever batch flows through. Nothing
    for averages that are not variables (NumPy parameters made constants): there is nothing to move."""
    moving = parameters[f"moving_mean{l}"], parameters[f"moving_variance{l}"]
    if not all(isinstance(average, tf.Variable) for average in moving):
        return
    v1.add_to_collection(BATCH_MOMENTS, (*moving, *batch_moments))
    for average, batch in zip(moving, training_moments, strict=True):
        update = average.assign(momentum * average + (1.0 - momentum) * batch, read_value=False)
        v1.add_to_collection(v1.GraphKeys.UPDATE_OPS, update)


def dropout(A: tf.Tensor, keep_prob: float, training: tf.Tensor, seed: int, l: int) -> tf.Tensor:
    """Inverted dropout of hidden layer l's activations A (any shape) while `training` is True:
    each unit kept with probability keep_prob and scaled by 1 / keep_prob. The mask is a
    function of (seed, l, the global step), so a resumed run draws the same masks as an
    uninterrupted one, and no two (seed, layer) pairs share masks (as seed + l did: seed 1's
    layer 2 drew seed 2's layer 1)."""
    return tf.cond(training, lambda: tf.nn.experimental.stateless_dropout(
        A, rate=1.0 - keep_prob, seed=step_seed(layer_seed(seed, l, DROPOUT_STREAM))), lambda: A)


DROPOUT_STREAM = 1  # layer_seed's stream of dropout masks (0: the initializers')


def layer_seed(seed: int, l: int, stream: int = 0) -> int:
    """A 31-bit seed of layer l under `seed`, for one `stream` of its random draws: a hash of
    (seed, l, stream) by NumPy's SeedSequence, deterministic in all three, so layers, nearby
    seeds and streams draw unrelated numbers (unlike seed + l)."""
    entropy = (seed % 2**32, l, stream) if stream else (seed % 2**32, l)  # stream 0: what init used
    return int(np.random.SeedSequence(entropy).generate_state(1)[0]) % (2**31 - 1)


def step_seed(seed: int) -> tf.Tensor:
    """(seed, the global step) as a stateless random op's seed, shape (2,): what is drawn in
    training depends on nothing else, so a resumed run draws what an uninterrupted one did."""
    return tf.stack([tf.constant(seed, tf.int64), v1.train.get_or_create_global_step()])


def compute_cost(ZL: tf.Tensor, Y: tf.Tensor, parameters: dict | None = None,
                 lambd: float | Sequence[float] = 0.0, layout: Layout = COLUMNS) -> tf.Tensor:
    """Mean softmax cross-entropy of logits ZL (C, m) against one-hot Y (C, m); scalar. In an
    examples-first `layout` (a CNN's), ZL and Y are (m, C).

    With lambd > 0 adds the L2 penalty lambd / (2 m) * sum_l ||W[l]||_F^2 (every parameter
    whose name starts with W, as tfsigns.networks names weights). A population's logits
    (K, C, m) against the shared Y give each member's cost (K,), with lambd a float or one
    strength per member (K,). With no strength above 0 no penalty op is built.
    """
    members = ZL.shape.rank - Y.shape.rank  # 1 for a population's stacked logits, else 0
    labels = tf.broadcast_to(Y, tf.shape(ZL)) if members else Y
    cost = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(
        labels=labels, logits=ZL, axis=ZL.shape.rank + layout.class_axis), axis=-1)  # TF wants it >= 0
    if any(np.atleast_1d(lambd) > 0.0):
        m = tf.cast(tf.shape(Y)[layout.example_axis], tf.float32)
        weights = [W for name, W in parameters.items() if name.startswith("W")]
        squares = tf.add_n([tf.reduce_sum(tf.square(W), axis=list(range(members, W.shape.rank)))
                            for W in weights])
        cost += tf.constant(lambd, tf.float32) / (2.0 * m) * squares
    return cost
