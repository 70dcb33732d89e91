"""Prediction with a trained network: classes or probabilities for examples given as arrays
(`predict`, the course's name), or with the model of a finished run folder (`load_model`,
`classify`). A layer above the graph builders: it builds the family's test-mode graph
(tfsigns.networks) and runs it in a session of its own.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence

import numpy as np

from tfsigns.backend import tf, v1
from tfsigns.config import LANDMARK_FAMILIES, ConfigError, TrainConfig
from tfsigns.hands.features import hands_of
from tfsigns.images.signs import IMAGE_SHAPE
from tfsigns.networks import get_network
from tfsigns.portable.framing import frame_columns
from tfsigns.portable.hands import Hand, features, read_hand
from tfsigns.portable.photos import square_column
from tfsigns.portable.read import Signs
from tfsigns.training.checkpoint import UNREADABLE, first_line
from tfsigns.training.graph import STATISTICS, TrainedParameters, example_batches, logits, statistics_shapes
from tfsigns.training.runs import CheckpointError, finished_run, hand_model_of

BATCH_HANDS = 8  # from this many photos at once, the hand model reads them on threads (hands_of)
SIGNS_CLASSES = 6  # what runs recorded before metrics.json kept "input_shape" and "classes" were trained on


def predict(X: np.ndarray, parameters: dict[str, np.ndarray], config: TrainConfig | None = None,
            return_probabilities: bool = False) -> np.ndarray:
    """Classes (m,) for examples X in the network's layout (the MLP's: X (n_x, m)) under
    trained NumPy parameters, in test mode, a batch of examples per run. `config` names the
    network and its settings; by default the parameters' own (TrainedParameters.config, as
    training and load_model return them), else what a plain dict's keys show (shown_config).

    With return_probabilities, the softmax probabilities instead, in the layout of the
    logits (the MLP's (C, m)).
    """
    config = config or getattr(parameters, "config", None) or shown_config(parameters, X)
    layout = get_network(config.arch).layout
    graph, x, Z = _test_graph(config, parameters, layout.example_shape(X))
    with graph.as_default():
        out = (tf.nn.softmax(Z, axis=layout.class_axis) if return_probabilities
               else tf.argmax(Z, axis=layout.class_axis))
        with v1.Session() as sess:
            sess.run(v1.global_variables_initializer())
            return _in_batches(sess, out, x, X, layout)


def shown_config(parameters: Mapping[str, np.ndarray], X: np.ndarray) -> TrainConfig:
    """The TrainConfig a plain dict of trained parameters (as sess.run(parameters) gives) shows by its
    keys and shapes, for examples X: the family (4-D filters W: the CNN, else the MLP), its layers,
    batch norm (gamma1), "dataset" normalization (input_mean). What keys cannot show (a CNN's pools,
    "per-image" normalization) is TrainConfig's default; ValueError, asking for config=, when the
    parameters' shapes are not those of the network so shown."""
    shapes = {name: np.shape(value) for name, value in parameters.items()}
    weights = [shapes[f"W{l}"] for l in range(1, len(shapes) + 1) if f"W{l}" in shapes]
    normalize = "dataset" if STATISTICS[0] in shapes else "none"
    settings = {"batch_norm": "gamma1" in shapes, "normalize": normalize}
    filters = [shape for shape in weights if len(shape) == 4]
    if filters:  # conv filters (f, f, n_C_prev, n_C), then dense W (n_prev, n)
        dense = tuple(W[1] for W in weights[len(filters):-1])
        settings.update(arch="cnn", filters=tuple(f[3] for f in filters),
                        kernels=tuple(f[0] for f in filters), dense=dense)
    elif weights:  # the MLP's W[l] (n_l, n_{l-1})
        settings["layers"] = tuple(W[0] for W in weights[:-1])
    try:
        config = TrainConfig(**settings)
        network = get_network(config.arch)
        input_shape, n_y = network.layout.example_shape(X), weights[-1][network.layout.class_axis]
        expected = {**network.parameter_shapes(config, input_shape, n_y),
                    **statistics_shapes(config, network.layout, input_shape)}
    except (ConfigError, ValueError, IndexError):  # no network of a family has these names and shapes
        expected = None
    if expected != shapes:
        raise ValueError(f"predict cannot tell from these parameters' names and shapes ({len(shapes)} "
                         f"arrays) which network they belong to for examples of shape {np.shape(X)}: pass "
                         "config=, the TrainConfig they were trained with, or load a finished run with "
                         "tfsigns.training.inference.load_model")
    return config


def _test_graph(config: TrainConfig, parameters: dict[str, np.ndarray], input_shape: tuple[int, ...]
                ) -> tuple[tf.Graph, tf.Tensor, tf.Tensor]:
    """A graph of the network in test mode on trained parameters (as variables): its input
    placeholder (any number of examples) and its logits."""
    layout = get_network(config.arch).layout
    with tf.Graph().as_default() as graph:
        x = v1.placeholder(tf.float32, [*input_shape, None] if layout.examples_last else [None, *input_shape])
        Z = inference_logits(config, parameters, x)
    return graph, x, Z


def inference_logits(config: TrainConfig, parameters: dict[str, np.ndarray], X: tf.Tensor) -> tf.Tensor:
    """The network's logits for X (in its family's layout) in test mode, its trained parameters made
    variables of the current graph: ref variables, which TFLiteConverter.from_session freezes also where
    batch norm and dropout read them inside v1 conds (tfsigns.reader.convert)."""
    params = {k: v1.Variable(np.asarray(v, dtype=np.float32), name=k, use_resource=False)
              for k, v in parameters.items()}
    return logits(get_network(config.arch), X, params, config, tf.constant(False))


def _in_batches(sess: v1.Session, out: tf.Tensor, x: tf.Tensor, X: np.ndarray, layout) -> np.ndarray:
    """`out` for every example of X, a batch of examples per run, joined along the examples' axis."""
    axis = -1 if layout.examples_last else 0  # of the examples, in X, the classes and the probabilities
    return np.concatenate([sess.run(out, feed_dict={x: X[batch]})
                           for batch in example_batches(layout, X.shape[axis])], axis=axis)


def load_model(run_dir: str | os.PathLike) -> tuple[TrainConfig, TrainedParameters, tuple[int, ...]]:
    """A finished run's TrainConfig, trained parameters (which carry it) and input shape (one
    example's); CheckpointError when the run is unfinished, or its files are damaged or disagree."""
    metrics, path = finished_run(run_dir)
    try:
        config = TrainConfig.from_recorded(metrics["config"])
    except (ConfigError, TypeError) as err:
        raise CheckpointError(f"--model {run_dir}: metrics.json holds settings this version cannot use "
                              f"({err})") from None
    input_shape = tuple(metrics.get("input_shape", (math.prod(IMAGE_SHAPE),)))
    network = get_network(config.arch)
    shapes = {**network.parameter_shapes(config, input_shape, metrics.get("classes", SIGNS_CLASSES)),
              **statistics_shapes(config, network.layout, input_shape)}
    try:
        reader = tf.train.load_checkpoint(str(path))
        stored = reader.get_variable_to_shape_map()
        parameters = {name: reader.get_tensor(name) for name, shape in shapes.items()
                      if stored.get(name) == list(shape)}
    except UNREADABLE as err:
        raise CheckpointError(f"--model {run_dir}: checkpoint {path} is unreadable "
                              f"({first_line(err)})") from None
    if missing := [name for name in shapes if name not in parameters]:
        raise CheckpointError(f"--model {run_dir}: checkpoint {path.name} does not hold the network its "
                              f"metrics.json describes ({missing[0]} {list(shapes[missing[0]])})")
    return config, TrainedParameters(parameters, config), input_shape


class Reader:
    """A finished run's model, loaded once with its test-mode graph and session kept open, so that
    photos can be read as they come (the live page, tfsigns.serve); a landmark run's hand model with it.
    CheckpointError when the run cannot be used; not shared between threads."""

    def __init__(self, run_dir: str | os.PathLike):
        self.run_dir = run_dir
        self.config, parameters, self.input_shape = load_model(run_dir)
        self.layout = get_network(self.config.arch).layout
        metrics = finished_run(run_dir)[0]
        self.signs = Signs.of(metrics)  # what its outputs mean: the signs' names, the unknown sign
        self.hands = hand_model_of(run_dir, metrics) if self.config.arch in LANDMARK_FAMILIES else None
        self.graph, self.x, Z = _test_graph(self.config, parameters, self.input_shape)
        self.layout_classes = int(Z.shape[self.layout.class_axis])
        with self.graph.as_default():
            self.out = tf.nn.softmax(Z, axis=self.layout.class_axis)
            self.session = v1.Session(graph=self.graph)
            self.session.run(v1.global_variables_initializer())

    def probabilities(self, X: np.ndarray) -> np.ndarray:
        """Probabilities (m, C), a row per image, for images given as the course's columns X
        (h*w*c, m), as tfsigns.portable.photos reads them, each framed first when the run was trained on
        framed photos (its config's framing, tfsigns.portable.framing)."""
        if X.shape[0] != math.prod(self.input_shape):
            raise CheckpointError(f"--model {self.run_dir}: expects inputs of shape {self.input_shape}, the "
                                  f"images give {X.shape[0]} values each")
        X, _ = self.layout.from_columns(self.as_seen(X), None, self.input_shape)
        return self.layout.rows(_in_batches(self.session, self.out, self.x, X, self.layout))

    def read(self, frames: Sequence[np.ndarray], track: bool = False
             ) -> tuple[np.ndarray, list[Hand | None]]:
        """Probabilities (m, C) for photos given as uint8 frames (h, w, 3) at their own size
        (tfsigns.portable.photos.load_frame): a landmark run reads each one's hand (a row of NaN where it
        sees none; `track`: frames of one video, in order), a pixel run its centre square at 64x64. With
        the hands found (None where none is, and for a pixel run)."""
        if self.hands is None:
            X = np.stack([square_column(frame) for frame in frames], axis=1)
            return self.probabilities(X), [None] * len(frames)
        if track or len(frames) < BATCH_HANDS:
            hands = [read_hand(self.hands, frame, track) for frame in frames]
        else:
            hands = hands_of(frames, self.hands.complexity)
        probabilities = np.full((len(frames), self.layout_classes), np.nan, np.float32)
        found = [i for i, hand in enumerate(hands) if hand is not None]
        if found:
            X = np.stack([features(hands[i]) for i in found], axis=1)
            read = _in_batches(self.session, self.out, self.x, X, self.layout)
            probabilities[found] = self.layout.rows(read)
        return probabilities, hands

    def as_seen(self, X: np.ndarray) -> np.ndarray:
        """The photos X (columns) as the network takes them: framed when the run was trained on framed
        photos (its config's framing, tfsigns.portable.framing), else as they are."""
        return frame_columns(X, IMAGE_SHAPE) if self.config.framing == "hand" else X

    def close(self) -> None:
        self.session.close()


def classify(X: np.ndarray, run_dir: str | os.PathLike) -> np.ndarray:
    """Probabilities (m, C), a row per image, for images given as the course's columns X
    (h*w*c, m), as tfsigns.portable.photos.load_images reads them, under a finished run's model (in
    its family's layout), each framed first when the run was trained on framed photos;
    CheckpointError when the run cannot be used or expects other inputs."""
    reader = Reader(run_dir)
    try:
        return reader.probabilities(X)
    finally:
        reader.close()
