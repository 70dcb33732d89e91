"""Network families: the interface through which the session loop, the population, checkpoints,
inference, the search and the grader use a network, and `get_network`, which loads a family by the
name the registry (tfsigns.config.NETWORKS) gives it.

A family is one module of this folder that defines the course's functions for its network and a
`NETWORK` object implementing `Network`; registering it is one line in tfsigns.config.NETWORKS.
tfsigns.networks.mlp, the course's fully connected network, is the first. This module itself needs no
TensorFlow, so settings naming a family are checked before TensorFlow loads.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from tfsigns.config import NETWORKS

if TYPE_CHECKING:
    from tfsigns.config import TrainConfig

@dataclass(frozen=True)
class Layout:
    """Where the examples are in a family's X, Y and logits.

    Examples last, the course's columns for the MLP: X (n_x, m), Y and logits (C, m).
    Examples first, the course's images for a CNN: X (m, h, w, c), Y and logits (m, C).
    A population's logits put a member axis in front: (K, C, m) or (K, m, C).
    """

    examples_last: bool

    @property
    def class_axis(self) -> int:
        """The class axis of Y and of logits (-2 in (C, m), -1 in (m, C))."""
        return -2 if self.examples_last else -1

    @property
    def example_axis(self) -> int:
        """The example axis of Y and of logits (-1 in (C, m), -2 in (m, C))."""
        return -1 if self.examples_last else -2

    def example_shape(self, X: np.ndarray) -> tuple[int, ...]:
        """One example's shape: (n_x,) for columns, (h, w, c) for images."""
        return tuple(X.shape[:-1] if self.examples_last else X.shape[1:])

    def sizes(self, X: np.ndarray, Y: np.ndarray) -> tuple[int, tuple[int, ...], int]:
        """(m, one example's shape, C) of a data set X, one-hot Y."""
        return Y.shape[self.example_axis], self.example_shape(X), Y.shape[self.class_axis]

    def rows(self, X: np.ndarray) -> np.ndarray:
        """X (or Y) with the examples first, as the resident training data keeps it."""
        return np.moveaxis(X, -1, 0) if self.examples_last else X

    def from_columns(self, X: np.ndarray, Y: np.ndarray | None, image_shape: tuple[int, ...]
                     ) -> tuple[np.ndarray, np.ndarray | None]:
        """A data set given as the course's columns, X (h*w*c, m) and Y (C, m) (or None), in this
        layout: examples first, images (m, h, w, c) and Y (m, C)."""
        if self.examples_last:
            return X, Y
        return X.T.reshape(-1, *image_shape), None if Y is None else Y.T


COLUMNS = Layout(examples_last=True)
IMAGES = Layout(examples_last=False)


class Network:
    """What a network family provides. Shapes follow its `layout`; `input_shape` is one
    example's shape (Layout.example_shape), n_y the number of classes.

    Parameter names follow the course, as the shared code relies on them: weights start with
    W (the L2 penalty sums them), batch norm's are gamma, beta and the non-trainable
    moving_mean and moving_variance (a population stacks those).
    """

    layout: Layout
    populations = True  # whether forward takes stacked members' parameters (population training)
    # lesson name -> the family's function of that name (create_placeholders, forward_propagation,
    # ...), for learners and for the grader's reference solutions
    course_functions: dict[str, Callable]

    def parameter_shapes(self, config: TrainConfig, input_shape: tuple[int, ...], n_y: int
                         ) -> dict[str, tuple[int, ...]]:
        """Each parameter's name and shape, trainable or not (batch-norm moving averages too):
        what a checkpoint holds for the network and what inference reads back."""
        raise NotImplementedError

    def create_placeholders(self, input_shape: tuple[int, ...], n_y: int) -> tuple[Any, Any]:
        """Placeholders X and Y with the batch dimension None."""
        raise NotImplementedError

    def initialize_parameters(self, config: TrainConfig, input_shape: tuple[int, ...], n_y: int
                              ) -> dict[str, Any]:
        """The network's variables in the current graph, seeded from config.seed and config.init."""
        raise NotImplementedError

    def rows_forward(self, config: TrainConfig) -> Callable[[Any, dict], Any] | None:
        """A faster training forward on the examples as rows, when the family has one for `config`:
        (X_rows (b, *input_shape), parameters) -> logits (b, C), equal to `forward` in training
        mode (after normalization) up to float32 rounding. None (the default): training runs
        `forward` in the family's layout."""
        return None

    def forward(self, X: Any, parameters: dict, config: TrainConfig, training: Any) -> Any:
        """Logits for the examples of X, in training mode while the bool tensor `training` is
        True (batch statistics, dropout) and test mode otherwise. Parameters stacked with a
        leading member axis (K, ...) over a shared X give each member's logits (K, ...): the
        population relies on it."""
        raise NotImplementedError


def get_network(name: str) -> Network:
    """The registered family `name` (its module is imported, and TensorFlow with it)."""
    if name not in NETWORKS:
        raise ValueError(f"unknown network {name!r}; choose from {', '.join(NETWORKS)}")
    return importlib.import_module(NETWORKS[name]).NETWORK
