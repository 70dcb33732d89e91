"""Graph builders for the SIGNS network, one function per lecture idea.

Column layout throughout, as in the course: X is (n_x, m), Z[l] and A[l] are
(n_l, m), Y is (C, m). These functions only build and return tensors and ops;
the session loop lives in tfsigns.trainer.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf

v1 = tf.compat.v1

OPTIMIZERS = ("gd", "momentum", "rmsprop", "adam")
INITS = ("course", "independent")  # how initialize_parameters seeds each layer's weights


def create_placeholders(n_x: int, n_y: int) -> tuple[tf.Tensor, tf.Tensor]:
    """Placeholders X (n_x, None) and Y (n_y, None), float32; None is the batch size."""
    X = v1.placeholder(tf.float32, shape=[n_x, None], name="X")
    Y = v1.placeholder(tf.float32, shape=[n_y, None], name="Y")
    return X, Y


def create_training_flag() -> tf.Tensor:
    """Scalar bool, True unless fed: switches batch norm and dropout to test mode.

    A placeholder (not a Python bool) so one graph serves training and evaluation.
    """
    return v1.placeholder_with_default(True, shape=[], name="is_training")


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
    return int(np.random.SeedSequence((seed % 2**32, l)).generate_state(1)[0]) % (2**31 - 1)


def initialize_parameters(layer_dims=(12288, 25, 12, 6), seed: int = 1, batch_norm: bool = False,
                          init: str = "course") -> dict[str, tf.Variable]:
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
    dims = [int(n) for n in layer_dims]
    if len(dims) < 2 or min(dims) <= 0:
        raise ValueError(f"layer_dims needs at least two positive sizes, got {layer_dims}")
    L = len(dims) - 1
    seeds = [initializer_seed(seed, l, init) for l in range(1, L + 1)]
    parameters = {}
    zeros, ones = v1.zeros_initializer(), v1.ones_initializer()
    for l in range(1, L + 1):
        n, n_prev = dims[l], dims[l - 1]
        parameters[f"W{l}"] = v1.get_variable(
            f"W{l}", [n, n_prev], initializer=v1.glorot_uniform_initializer(seed=seeds[l - 1]))
        if batch_norm and l < L:
            for name, init_value, trainable in (("gamma", ones, True), ("beta", zeros, True),
                                                ("moving_mean", zeros, False),
                                                ("moving_variance", ones, False)):
                parameters[f"{name}{l}"] = v1.get_variable(f"{name}{l}", [n, 1], initializer=init_value,
                                                           trainable=trainable)
        else:
            parameters[f"b{l}"] = v1.get_variable(f"b{l}", [n, 1], initializer=zeros)
    return parameters


def num_layers(parameters: dict) -> int:
    """L, the number of weight layers in a parameters dict."""
    return sum(1 for key in parameters if key.startswith("W"))


def batch_norm_layer(Z: tf.Tensor, parameters: dict, l: int, training: tf.Tensor,
                     momentum: float = 0.99, epsilon: float = 1e-3) -> tf.Tensor:
    """Batch norm of Z (n_l, m) -> Z_tilde (n_l, m), the lecture's formulas.

    Training mode: mu and sigma^2 over the minibatch (the last axis, so a population's
    stacked (K, n_l, m) works the same with (K, n_l, 1) parameters), and ops that move
    moving_mean/moving_variance towards them are added to UPDATE_OPS (they run
    only because build_train_op makes the train op depend on them).
    Test mode: the moving averages stand in for mu and sigma^2.
    """
    gamma, beta = parameters[f"gamma{l}"], parameters[f"beta{l}"]
    moving_mean, moving_var = parameters[f"moving_mean{l}"], parameters[f"moving_variance{l}"]
    batch_mean = tf.reduce_mean(Z, axis=-1, keepdims=True)
    batch_var = tf.reduce_mean(tf.square(Z - batch_mean), axis=-1, keepdims=True)
    for moving, batch in ((moving_mean, batch_mean), (moving_var, batch_var)):
        update = moving.assign(momentum * moving + (1.0 - momentum) * batch, read_value=False)
        v1.add_to_collection(v1.GraphKeys.UPDATE_OPS, update)
    mu, var = tf.cond(training, lambda: (batch_mean, batch_var), lambda: (moving_mean, moving_var))
    Z_norm = (Z - mu) / tf.sqrt(var + epsilon)
    return gamma * Z_norm + beta


def forward_propagation(X: tf.Tensor, parameters: dict, batch_norm: bool = False,
                        training: tf.Tensor | None = None, keep_prob: float = 1.0,
                        bn_momentum: float = 0.99, bn_epsilon: float = 1e-3,
                        seed: int = 1) -> tf.Tensor:
    """LINEAR -> [BATCHNORM] -> RELU -> [DROPOUT] ... -> LINEAR; X (n_x, m) -> ZL (C, m).

    ZL are logits: the softmax lives in compute_cost. Dropout (inverted, keeping
    each hidden unit with probability keep_prob) acts only while `training` is True;
    its masks are a function of (seed, layer, global step), so a resumed run draws
    the same masks as an uninterrupted one.
    """
    if training is None:
        training = tf.constant(True)
    L = num_layers(parameters)
    A = X
    for l in range(1, L + 1):
        Z = tf.matmul(parameters[f"W{l}"], A)
        if l == L:
            return Z + parameters[f"b{l}"]
        if batch_norm:
            Z = batch_norm_layer(Z, parameters, l, training, bn_momentum, bn_epsilon)
        else:
            Z = Z + parameters[f"b{l}"]
        A = tf.nn.relu(Z)
        if keep_prob < 1.0:
            mask_seed = tf.stack([tf.constant(seed + l, tf.int64), v1.train.get_or_create_global_step()])
            A = tf.cond(training, lambda A=A, s=mask_seed: tf.nn.experimental.stateless_dropout(
                A, rate=1.0 - keep_prob, seed=s), lambda A=A: A)
    raise AssertionError("unreachable")


def compute_cost(ZL: tf.Tensor, Y: tf.Tensor, parameters: dict | None = None,
                 lambd: float = 0.0) -> tf.Tensor:
    """Mean softmax cross-entropy of logits ZL (C, m) against one-hot Y (C, m); scalar.

    With lambd > 0 adds the L2 penalty lambd / (2 m) * sum_l ||W[l]||_F^2.
    """
    cost = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(
        logits=tf.transpose(ZL), labels=tf.transpose(Y)))
    if lambd > 0.0:
        m = tf.cast(tf.shape(Y)[1], tf.float32)
        weights = [v for k, v in parameters.items() if k.startswith("W")]
        cost += lambd / (2.0 * m) * tf.add_n([tf.reduce_sum(tf.square(W)) for W in weights])
    return cost


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


def build_statistics_op(forward: Callable[[], tf.Tensor]) -> tf.Operation:
    """The batch-norm update ops that `forward()` builds, grouped. Built in training mode with
    momentum 0 over the whole training set, they set the test-time statistics to that set's."""
    before = set(v1.get_collection(v1.GraphKeys.UPDATE_OPS))
    forward()
    return tf.group(*(op for op in v1.get_collection(v1.GraphKeys.UPDATE_OPS) if op not in before))


def compute_accuracy(ZL: tf.Tensor, Y: tf.Tensor) -> tf.Tensor:
    """Fraction of columns where argmax of logits ZL (C, m) matches one-hot Y (C, m)."""
    correct = tf.equal(tf.argmax(ZL, axis=0), tf.argmax(Y, axis=0))
    return tf.reduce_mean(tf.cast(correct, tf.float32))


def predict(X: np.ndarray, parameters: dict[str, np.ndarray],
            return_probabilities: bool = False) -> np.ndarray:
    """Classes (m,) for images X (n_x, m) under trained NumPy parameters, in test mode.

    With return_probabilities, the softmax probabilities (C, m) instead.
    """
    batch_norm = any(key.startswith("gamma") for key in parameters)
    with tf.Graph().as_default():
        params = {k: tf.Variable(np.asarray(v, dtype=np.float32), name=k) for k, v in parameters.items()}
        x = v1.placeholder(tf.float32, shape=[parameters["W1"].shape[1], None])
        ZL = forward_propagation(x, params, batch_norm=batch_norm, training=tf.constant(False))
        out = tf.nn.softmax(ZL, axis=0) if return_probabilities else tf.argmax(ZL, axis=0)
        with v1.Session() as sess:
            sess.run(v1.global_variables_initializer())
            return sess.run(out, feed_dict={x: X})
