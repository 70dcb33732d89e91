"""MediaPipe's hand pipeline on one image: the palm detector finds a hand anywhere in the frame, a
rotated square around it is cropped, and the landmark model gives 21 landmarks, a hand-presence score,
handedness and 21 world landmarks. TensorFlow Lite runs the models (ai-edge-litert's interpreter;
TensorFlow's when that is not installed); no TensorFlow session, no graph of ours.

The crops follow MediaPipe's ImageToTensorCalculator (palm_detection_cpu.pbtxt, hand_landmark_cpu.pbtxt):
the whole image letterboxed into 192x192 on black for the palm (BORDER_ZERO), the rotated region into
224x224 with the image's edge pixels repeated for the landmarks (the default border); RGB in [0, 1], bilinear.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from PIL import Image

from tfsigns.hands.files import digests, model_paths
from tfsigns.hands.palm import (
    PALM_SIZE,
    PALM_THRESHOLD,
    Palm,
    Rect,
    decode,
    weighted_nms,
)
from tfsigns.utils.cli import quiet_native_stderr

LANDMARK_SIZE = 224
# Below this presence score the landmark model is taken to see no hand. MediaPipe thresholds at 0.5
# (hand_landmark_cpu.pbtxt); tfsigns measured its own on SIGNS, other hands and empty scenes (docs/reader.md).
PRESENCE_THRESHOLD = 0.5
MIN_SIDE = 16  # smaller images hold too few pixels for a hand: none is read in them (tfsigns.hands.features)


def interpreter(path: os.PathLike, threads: int = 1):
    """A TensorFlow Lite interpreter of the model at `path`, its tensors allocated."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # where ai-edge-litert has no build: the same runtime, as TensorFlow ships it
        import tensorflow as tf
        Interpreter = tf.lite.Interpreter
    with quiet_native_stderr():  # the runtime's note on stderr that it made its CPU delegate
        model = Interpreter(model_path=str(path), num_threads=threads)
        model.allocate_tensors()
    return model


def crop(image: np.ndarray, matrix: np.ndarray, side: int) -> np.ndarray:
    """A (side, side, 3) float32 crop in [0, 1] of a uint8 image (h, w, 3): crop pixel centre (u, v)
    samples the image bilinearly at matrix @ (u, v, 1), the image's edge pixels repeated outside it."""
    h, w = image.shape[:2]
    centres = np.arange(side, dtype=np.float32) + 0.5
    m = matrix.astype(np.float32)
    x = np.clip(m[0, 0] * centres[None, :] + m[0, 1] * centres[:, None] + (m[0, 2] - 0.5), 0, w - 1.001)
    y = np.clip(m[1, 0] * centres[None, :] + m[1, 1] * centres[:, None] + (m[1, 2] - 0.5), 0, h - 1.001)
    fx, fy = (x - np.floor(x))[..., None], (y - np.floor(y))[..., None]
    x0, y0 = x.astype(np.int32), y.astype(np.int32)
    flat, i = image.reshape(-1, 3), y0 * w + x0
    right, below = np.minimum(x0 + 1, w - 1) - x0, (np.minimum(y0 + 1, h - 1) - y0) * w
    a, b = flat[i].astype(np.float32), flat[i + right].astype(np.float32)
    c, d = flat[i + below].astype(np.float32), flat[i + below + right].astype(np.float32)
    top, bottom = a + (b - a) * fx, c + (d - c) * fx
    return (top + (bottom - top) * fy) * np.float32(1 / 255)


def letterbox(image: np.ndarray, side: int) -> tuple[np.ndarray, float, np.ndarray]:
    """The whole image fitted into (side, side, 3) float32 in [0, 1], centred on black, bilinear; with
    the scale and offset that map the square's pixels back to the image's (image = k * square + offset)."""
    h, w = image.shape[:2]
    k = max(h, w) / side
    offset = np.array([(w - max(h, w)) / 2, (h - max(h, w)) / 2])
    matrix = (k, 0, offset[0], 0, k, offset[1])
    square = Image.fromarray(image).transform((side, side), Image.Transform.AFFINE, matrix,
                                              resample=Image.Resampling.BILINEAR)
    return np.asarray(square, dtype=np.float32) * np.float32(1 / 255), k, offset


@dataclass(frozen=True)
class Hand:
    """What the landmark model saw in a region: landmarks (21, 3) in image pixels (z at the same
    scale), world landmarks (21, 3) in metres about the hand's centre as the model gives them in the
    region's own turn, presence (0 to 1), handedness (MediaPipe's score for 'Left' in a mirrored, selfie
    image: a right hand in an unmirrored photo), the region, and the palm score that found it (None: the
    previous frame's landmarks, or the whole image)."""

    landmarks: np.ndarray
    world: np.ndarray
    presence: float
    handedness: float
    rect: Rect
    palm_score: float | None


class HandModel:
    """The palm detector and the landmark model, loaded once; not shared between threads (an
    interpreter is one thread's). ModelError when the files are missing or not the expected ones."""

    def __init__(self, complexity: str = "full", models_dir: str | os.PathLike | None = None,
                 threshold: float = PRESENCE_THRESHOLD):
        paths = model_paths(complexity, models_dir)
        self.complexity, self.threshold = complexity, threshold
        self.sha256 = digests(paths)  # {file name: SHA-256}
        self.palm_model, self.landmark_model = interpreter(paths["palm"]), interpreter(paths["landmark"])
        self.previous: Rect | None = None  # tracking: the last frame's landmarks' region

    def palms(self, image: np.ndarray, threshold: float = PALM_THRESHOLD) -> list[Palm]:
        """The palms in a uint8 RGB image (h, w, 3), best first, in image pixels."""
        square, k, offset = letterbox(image, PALM_SIZE)
        outputs = self._run(self.palm_model, square)
        raw_boxes, raw_scores = sorted(outputs, key=lambda a: a.shape[-1], reverse=True)
        found = weighted_nms(*decode(raw_boxes[0], raw_scores[0], threshold))
        return [Palm(np.concatenate([box[:2], box[2:]]) * PALM_SIZE * k + np.tile(offset, 2),
                     points * PALM_SIZE * k + offset, score) for box, points, score in found]

    def landmarks(self, image: np.ndarray, rect: Rect, palm_score: float | None = None) -> Hand:
        """The landmark model on the region `rect` of a uint8 RGB image (h, w, 3)."""
        region = crop(image, rect.crop_matrix(LANDMARK_SIZE), LANDMARK_SIZE)
        details = self.landmark_model.get_output_details()
        named = dict(zip((d["name"] for d in details), self._run(self.landmark_model, region), strict=True))
        screen, presence, handedness, world = (named[f"Identity{end}"] for end in ("", "_1", "_2", "_3"))
        screen = screen.reshape(21, 3) / LANDMARK_SIZE
        pixels = np.concatenate([rect.to_image(screen[:, :2]), screen[:, 2:] * rect.size], axis=1)
        return Hand(pixels.astype(np.float32), world.reshape(21, 3).astype(np.float32),
                    float(presence.reshape(-1)[0]), float(handedness.reshape(-1)[0]), rect, palm_score)

    @staticmethod
    def _run(model, image: np.ndarray) -> list[np.ndarray]:
        """The model's outputs for one image (side, side, 3)."""
        model.set_tensor(model.get_input_details()[0]["index"], image[None])
        model.invoke()
        return [model.get_tensor(d["index"]) for d in model.get_output_details()]

