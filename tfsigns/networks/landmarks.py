"""The landmark reader's network: the course's MLP, LINEAR -> [BATCHNORM] -> RELU -> ... -> LINEAR, on a
hand's 42 landmark features (tfsigns.portable.hands: the world landmarks' x and y relative to the wrist)
instead of a photo's 12288 pixels. Transfer learning as the course teaches it: MediaPipe's hand model,
trained on a large data set, gives the features, and this small network learns the signs from 1080.

Column layout, as the MLP: X (42, m) -> logits (C, m). Its augmentation (mirror, turn, scale, jitter)
acts on the landmarks (tfsigns.training.augment.augment_landmarks).
"""

from __future__ import annotations

from tfsigns.networks.mlp import MLP


class Landmarks(MLP):
    """The MLP family on landmark features: the same course functions, parameters and forward pass."""


NETWORK = Landmarks()
