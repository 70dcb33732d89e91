"""The palm detector's geometry, in NumPy: its 2016 SSD anchors, the decoding of its raw boxes and 7
keypoints, weighted non-maximum suppression, and the rotated square regions (Rect) around a hand
that the landmark model reads, from a palm or from the previous frame's landmarks.

Every constant is MediaPipe's own, from the graphs published with these model files
(google-ai-edge/mediapipe, mediapipe/modules/):
- palm_detection/palm_detection_cpu.pbtxt: the 192x192 input letterboxed; SsdAnchorsCalculator (4
  layers, strides 8, 16, 16, 16, aspect ratio 1, fixed anchor size, offsets 0.5);
  TensorsToDetectionsCalculator (18 values a box: x, y, w, h, then 7 keypoints' x, y, all over 192;
  sigmoid scores clipped at +-100; threshold 0.5); NonMaxSuppressionCalculator (weighted, IoU 0.3).
- hand_landmark/palm_detection_detection_to_roi.pbtxt: rotation from keypoint 0 (wrist) to keypoint 2
  (middle finger's base) turned to 90 degrees; RectTransformationCalculator scale 2.6, shift_y -0.5,
  square_long.
- hand_landmark/hand_landmark_landmarks_to_roi.pbtxt and calculators/hand_landmarks_to_rect_calculator.cc:
  a frame's landmarks give the next frame's region (rotation from the wrist to the mean of the index,
  middle and ring fingers' bases; the landmarks' box in that rotation; scale 2.0, shift_y -0.1, square_long).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

PALM_SIZE = 192  # the detector's input side, pixels
STRIDES = (8, 16, 16, 16)
ANCHORS_PER_LAYER = 2  # aspect ratio 1.0, plus the interpolated scale's anchor
SCORE_CLIP = 100.0
PALM_THRESHOLD = 0.5  # min_score_thresh
NMS_IOU = 0.3
MOST_PALMS = 2  # the detections kept after suppression, best first
WRIST, MIDDLE_BASE = 0, 2  # the palm keypoints the region's rotation runs between
PALM_SCALE, PALM_SHIFT_Y = 2.6, -0.5
TRACK_SCALE, TRACK_SHIFT_Y = 2.0, -0.1


@dataclass(frozen=True)
class Palm:
    """A detected palm in image pixels: box (x_min, y_min, x_max, y_max), 7 keypoints (7, 2), score."""

    box: np.ndarray
    keypoints: np.ndarray
    score: float


@dataclass(frozen=True)
class Rect:
    """A rotated square region of an image, in pixels: its centre, side and rotation (radians,
    clockwise on screen; 0 when the fingers point up)."""

    x: float
    y: float
    size: float
    rotation: float

    def to_image(self, points: np.ndarray) -> np.ndarray:
        """Points (n, 2) given in [0, 1] across the region (as the landmark model's crop sees them) in
        image pixels."""
        local = (points - 0.5) * self.size
        c, s = math.cos(self.rotation), math.sin(self.rotation)
        return np.stack([self.x + c * local[:, 0] - s * local[:, 1],
                         self.y + s * local[:, 0] + c * local[:, 1]], axis=1)

    def crop_matrix(self, side: int) -> np.ndarray:
        """The 2x3 affine map from a (side x side) crop's continuous coordinates to the image's."""
        c, s, k = math.cos(self.rotation), math.sin(self.rotation), self.size / side
        half = self.size / 2
        return np.array([[c * k, -s * k, self.x - c * half + s * half],
                         [s * k, c * k, self.y - s * half - c * half]])


def anchors() -> np.ndarray:
    """The detector's 2016 anchor centres (2016, 2), in [0, 1] of its input: per stride's feature map
    row by row, ANCHORS_PER_LAYER for each layer that shares the stride (their sizes are fixed at 1)."""
    centres = []
    for stride in sorted(set(STRIDES)):
        per_cell = ANCHORS_PER_LAYER * STRIDES.count(stride)
        side = math.ceil(PALM_SIZE / stride)
        y, x = np.mgrid[0:side, 0:side]
        grid = np.stack([(x + 0.5) / side, (y + 0.5) / side], axis=-1).reshape(-1, 1, 2)
        centres.append(np.repeat(grid, per_cell, axis=1).reshape(-1, 2))
    return np.concatenate(centres).astype(np.float32)


ANCHORS = anchors()


def decode(raw_boxes: np.ndarray, raw_scores: np.ndarray, threshold: float = PALM_THRESHOLD
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes (n, 4) as x_min, y_min, x_max, y_max, keypoints (n, 7, 2) and scores (n,), all in [0, 1]
    of the detector's input, of the anchors whose score reaches `threshold`; raw_boxes (2016, 18),
    raw_scores (2016,) or (2016, 1) as the model gives them."""
    scores = 1.0 / (1.0 + np.exp(-np.clip(raw_scores.reshape(-1), -SCORE_CLIP, SCORE_CLIP)))
    keep = scores >= threshold
    raw, centre = raw_boxes[keep] / PALM_SIZE, ANCHORS[keep]
    xy, half = raw[:, 0:2] + centre, raw[:, 2:4] / 2
    boxes = np.concatenate([xy - half, xy + half], axis=1)
    keypoints = raw[:, 4:18].reshape(-1, 7, 2) + centre[:, None, :]
    return boxes, keypoints, scores[keep]


def iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Intersection over union of one box (4,) with each of boxes (n, 4)."""
    low, high = np.maximum(box[:2], boxes[:, :2]), np.minimum(box[2:], boxes[:, 2:])
    inter = np.prod(np.clip(high - low, 0, None), axis=1)
    area = lambda b: np.prod(np.clip(b[..., 2:] - b[..., :2], 0, None), axis=-1)  # noqa: E731
    union = area(box) + area(boxes) - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def weighted_nms(boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray, limit: int = MOST_PALMS
                 ) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """At most `limit` detections, best first: each the score-weighted mean of the boxes and keypoints
    that overlap the best remaining one by more than NMS_IOU, with that one's score."""
    order = np.argsort(-scores, kind="stable")
    boxes, keypoints, scores = boxes[order], keypoints[order], scores[order]
    found = []
    while len(scores) and len(found) < limit:
        cluster = iou(boxes[0], boxes) > NMS_IOU
        cluster[0] = True
        w = scores[cluster] / scores[cluster].sum()
        found.append((w @ boxes[cluster], np.tensordot(w, keypoints[cluster], axes=1), float(scores[0])))
        boxes, keypoints, scores = boxes[~cluster], keypoints[~cluster], scores[~cluster]
    return found


def rotation(start: np.ndarray, end: np.ndarray) -> float:
    """The region's rotation that turns the vector start -> end (image pixels) to point up."""
    angle = math.pi / 2 - math.atan2(-(end[1] - start[1]), end[0] - start[0])
    return angle - 2 * math.pi * math.floor((angle + math.pi) / (2 * math.pi))


def transformed(x: float, y: float, width: float, height: float, angle: float, scale: float,
                shift_y: float) -> Rect:
    """RectTransformationCalculator with square_long: the box (centre, width and height along its own
    axes, pixels) shifted by shift_y of its height along its rotated y axis, squared on its longer
    side and scaled."""
    x -= shift_y * height * math.sin(angle)
    y += shift_y * height * math.cos(angle)
    return Rect(x, y, max(width, height) * scale, angle)


def palm_rect(palm: Palm) -> Rect:
    """The landmark model's region for a palm (palm_detection_detection_to_roi): the palm's box
    centre, turned from wrist to the middle finger's base, shifted towards the fingers, 2.6 times."""
    (x0, y0, x1, y1), angle = palm.box, rotation(palm.keypoints[WRIST], palm.keypoints[MIDDLE_BASE])
    return transformed((x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0, angle, PALM_SCALE, PALM_SHIFT_Y)


def landmarks_rect(points: np.ndarray) -> Rect:
    """The next frame's region from this frame's 21 landmarks (n, >=2), image pixels
    (hand_landmarks_to_rect): turned from the wrist to the finger bases, their box in that turn, 2x."""
    bases = ((points[5, :2] + points[13, :2]) / 2 + points[9, :2]) / 2
    angle = rotation(points[0, :2], bases)
    low, high = points[:, :2].min(axis=0), points[:, :2].max(axis=0)
    centre = (low + high) / 2
    c, s = math.cos(-angle), math.sin(-angle)
    turned = (points[:, :2] - centre) @ np.array([[c, s], [-s, c]])
    t_low, t_high = turned.min(axis=0), turned.max(axis=0)
    mid = (t_low + t_high) / 2
    c, s = math.cos(angle), math.sin(angle)
    x, y = centre[0] + c * mid[0] - s * mid[1], centre[1] + s * mid[0] + c * mid[1]
    width, height = t_high - t_low
    return transformed(x, y, width, height, angle, TRACK_SCALE, TRACK_SHIFT_Y)
