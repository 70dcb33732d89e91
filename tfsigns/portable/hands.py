"""MediaPipe's hand pipeline on one photo, and the 42 numbers a landmark reader reads from it.

The palm detector finds a hand anywhere in the frame, a rotated square around it is cropped, and the
landmark model gives 21 landmarks, a hand-presence score, handedness and 21 world landmarks. TensorFlow Lite
runs the models (ai-edge-litert's interpreter; TensorFlow's when that is not installed); no TensorFlow
session, no graph of ours.

The crops follow MediaPipe's ImageToTensorCalculator (palm_detection_cpu.pbtxt, hand_landmark_cpu.pbtxt):
the whole image letterboxed into 192x192 on black for the palm (BORDER_ZERO), the rotated region into
224x224 with the image's edge pixels repeated for the landmarks (the default border); RGB in [0, 1], bilinear.

Which region (best_hand): the best palm's region (the palm found in the whole photo, else, where none is
found or it shows no hand, in its square tiles), and where that covers half the photo or more (a hand
close up, as in SIGNS) or shows no hand, or where no palm is found in a photo no larger than the detector's
input, also the whole photo; the one where the model is surer a hand is there is kept. On other people's
hands this read 0.99 against 0.96 for the palm's region alone and 0.98 for the whole photo alone
(docs/reader.md).

The features: the x and y of the 21 world landmarks relative to the wrist, in decimetres (about -1 to 1),
as the model gives them in its region's own turn.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from PIL import Image

from .native import quiet_native_stderr
from .palm import PALM_SIZE, PALM_THRESHOLD, Palm, Rect, decode, landmarks_rect, palm_rect, weighted_nms

LANDMARK_SIZE = 224
# Below this presence score the landmark model is taken to see no hand. MediaPipe thresholds at 0.5
# (hand_landmark_cpu.pbtxt); tfsigns measured its own on SIGNS, other hands and empty scenes (docs/reader.md).
PRESENCE_THRESHOLD = 0.5
MIN_SIDE = 16  # smaller images hold too few pixels for a hand: none is read in them
N_FEATURES = 42  # 21 landmarks' x and y
UNIT = 0.1  # metres: features in decimetres
WHOLE_IMAGE_SHARE = 0.5  # a palm's region this share of the photo's long side or more: try the whole too
VERSION = "world-xy-wrist-dm/best-region/4"  # changes whenever features would come out differently
# the landmark model's outputs by name: 21 (x, y, z) in its crop's pixels, presence, handedness, 21 world
# landmarks (x, y, z)
OUTPUTS = {"screen": "Identity", "presence": "Identity_1", "handedness": "Identity_2", "world": "Identity_3"}


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
    """The palm detector and the landmark model, loaded once from their TensorFlow Lite files; not shared
    between threads (an interpreter is one thread's). Below `threshold` presence, no hand is read."""

    def __init__(self, palm: str | os.PathLike, landmark: str | os.PathLike,
                 threshold: float = PRESENCE_THRESHOLD):
        self.threshold = threshold
        self.palm_model, self.landmark_model = interpreter(palm), interpreter(landmark)
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
        parts = ("screen", "presence", "handedness", "world")
        screen, presence, handedness, world = (named[OUTPUTS[part]] for part in parts)
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


def features(hand: Hand) -> np.ndarray:
    """The 42 features (float32) of a hand: world landmarks' x, y less the wrist's, in decimetres."""
    return ((hand.world[:, :2] - hand.world[:1, :2]) / UNIT).reshape(-1).astype(np.float32)


def read_hand(model: HandModel, image: np.ndarray, track: bool = False) -> Hand | None:
    """The hand in a uint8 RGB photo (h, w, 3) by the module's rule (best_hand), or None when the model's
    presence score stays below its threshold (or the photo is under MIN_SIDE pixels a side). With
    `track` (a video's frames, in order), the previous frame's landmarks give the region first, as
    MediaPipe's tracking does, and the search runs only when they show no hand."""
    if min(image.shape[:2]) < MIN_SIDE:  # too few pixels to show a hand
        return None
    hand = model.landmarks(image, model.previous) if track and model.previous is not None else None
    if hand is None or hand.presence < model.threshold:
        hand = best_hand(model, image)
    found = hand is not None and hand.presence >= model.threshold
    model.previous = landmarks_rect(hand.landmarks) if track and found else None
    return hand if found else None


def best_hand(model: HandModel, image: np.ndarray) -> Hand | None:
    """What the landmark model sees in the best region of a uint8 RGB photo (h, w, 3), hand or not: the
    best palm's region in the whole photo, else (none found, or no hand seen there, in a photo larger
    than the detector's input) the best palm's region of its square tiles (find_palms); also the whole
    photo where the first region covers WHOLE_IMAGE_SHARE of the photo's long side or more, or no region
    shows a hand, and where no palm is found in a photo no larger than the detector's input (SIGNS'
    64x64: a palm that small is often missed; in a camera's frame a hand close up was found 120 times in
    120); the one with the higher presence score. None: no region to try."""
    h, w = image.shape[:2]
    tried = []
    for palms in find_palms(model, image):
        tried += [model.landmarks(image, palm_rect(palms[0]), palms[0].score)] if palms else []
        if tried and tried[-1].presence >= model.threshold:
            break
    close_up = tried and tried[0].rect.size >= WHOLE_IMAGE_SHARE * max(h, w)
    small = max(h, w) <= PALM_SIZE
    seen = any(hand.presence >= model.threshold for hand in tried)
    if (tried and (not seen or close_up)) or (not tried and small):
        tried.append(model.landmarks(image, Rect(w / 2, h / 2, float(max(h, w)), 0.0)))
    return max(tried, key=lambda found: found.presence) if tried else None


def find_palms(model: HandModel, image: np.ndarray) -> Iterator[list[Palm]]:
    """The palms in a uint8 RGB photo (h, w, 3), best first, in the whole photo; then, where the photo is
    not square, in square tiles of its short side along its long one, half overlapping, where a small hand
    is larger (a third larger in a 4:3 frame's tile). Lazily: best_hand asks for the tiles only when the
    whole photo shows no hand (in cluttered 640x480 scenes the tiles found 0.93 of other people's hands
    instead of 0.83 when searched where the whole photo found no palm; 0.98 instead of 0.96 when also
    searched where its best palm showed no hand; docs/reader.md)."""
    yield model.palms(image)
    h, w = image.shape[:2]
    side, long = min(h, w), max(h, w)
    if side == long:
        return
    found = []
    for start in np.linspace(0, long - side, math.ceil((long - side) / (side / 2)) + 1).astype(int):
        x, y = (start, 0) if w > h else (0, start)
        for palm in model.palms(np.ascontiguousarray(image[y:y + side, x:x + side])):
            shift = np.array([x, y])
            found.append(Palm(palm.box + np.tile(shift, 2), palm.keypoints + shift, palm.score))
    yield sorted(found, key=lambda palm: -palm.score)
