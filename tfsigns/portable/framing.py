"""Framing: the hand found, its background made plain and the photo cropped to it, so that a
hand on a cream wall (SIGNS) and one on a grey, vignetted wall in another person's photo reach
the network alike. Part of a run's input contract (TrainConfig.framing "hand"): training
frames its photos with it once, before training, and tfsigns.training.inference frames every photo the
run reads. NumPy and Pillow, not TensorFlow.

The rule, for each image (h, w, 3):
1. The wall's colour is the median chromaticity (r, g, b) / (r + g + b) of the image's border;
   chromaticity leaves out brightness, so shadows and vignetting stay wall.
2. A pixel's "handness" rises from 0 to 1 as its chromaticity moves from MASK_LOW to MASK_HIGH
   (L1) away from the wall's: skin is redder than a wall of any grey or cream.
3. The wall becomes PLAIN grey: each pixel is handness * itself + (1 - handness) * PLAIN.
4. The crop is the square around the hand pixels (handness above 1/2, between their
   EDGE_QUANTILE and 1 - EDGE_QUANTILE quantiles, so a stray pixel does not move it), MARGIN
   of its side added on each side, padded with PLAIN where it leaves the photo, and resized
   back to the image's size. An image with too few hand pixels (HAND_PIXELS) is left uncropped.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

FRAMINGS = ("none", "hand")  # a run's framing setting (TrainConfig.framing)
MASK_LOW, MASK_HIGH = 0.03, 0.08  # chromaticity distance from the wall: wall below, hand above
PLAIN = 0.5  # the grey the wall becomes, in [0, 1]
EDGE_QUANTILE = 0.01
MARGIN = 0.08
HAND_PIXELS = 0.02  # the least share of the image that must look like a hand for a crop


def handness(images: np.ndarray) -> np.ndarray:
    """How much each pixel of images (m, h, w, 3) in [0, 1] looks like a hand, (m, h, w) in [0, 1]."""
    x = images.astype(np.float32) + 1.0 / 255
    chroma = x / x.sum(axis=-1, keepdims=True)
    border = np.concatenate([chroma[:, 0], chroma[:, -1], chroma[:, :, 0], chroma[:, :, -1]], axis=1)
    wall = np.median(border, axis=1)[:, None, None, :]
    distance = np.abs(chroma - wall).sum(axis=-1)
    return np.clip((distance - MASK_LOW) / (MASK_HIGH - MASK_LOW), 0.0, 1.0)


def crop_box(hand: np.ndarray) -> tuple[float, float, float] | None:
    """The square (centre row, centre column, side) around one image's hand pixels (h, w), or
    None when too few pixels are hand."""
    rows, cols = np.nonzero(hand > 0.5)
    if len(rows) < HAND_PIXELS * hand.size:
        return None
    (top, bottom), (left, right) = (np.quantile(v, [EDGE_QUANTILE, 1 - EDGE_QUANTILE]) for v in (rows, cols))
    side = max(bottom - top, right - left) + 1
    return (top + bottom) / 2, (left + right) / 2, side * (1 + 2 * MARGIN)


def frame_hands(images: np.ndarray) -> np.ndarray:
    """Images (m, h, w, 3) in [0, 1] framed by the module's rule, float32 (m, h, w, 3) in [0, 1]."""
    images = np.asarray(images, dtype=np.float32)
    hand = handness(images)
    plain = hand[..., None] * images + (1 - hand[..., None]) * PLAIN
    framed = np.empty_like(plain)
    h, w = images.shape[1:3]
    for k, (image, mask) in enumerate(zip(plain, hand, strict=True)):
        box = crop_box(mask)
        framed[k] = image if box is None else _crop(image, *box)
    return framed


def _crop(image: np.ndarray, row: float, col: float, side: float) -> np.ndarray:
    """The square of `side` pixels centred on (row, col), outside the photo PLAIN, resized to
    the image's size with Pillow (bicubic)."""
    h, w = image.shape[:2]
    pad = int(np.ceil(side))
    padded = np.pad(image, ((pad, pad), (pad, pad), (0, 0)), constant_values=PLAIN)
    pixels = Image.fromarray(np.round(padded * 255).astype(np.uint8))
    left, top = col - side / 2 + pad + 0.5, row - side / 2 + pad + 0.5
    square = pixels.resize((w, h), Image.Resampling.BICUBIC, box=(left, top, left + side, top + side))
    return np.asarray(square, dtype=np.float32) / 255.0


def frame_columns(X: np.ndarray, image_shape: tuple[int, int, int]) -> np.ndarray:
    """Columns X (h*w*c, m) in [0, 1], as the course keeps images, framed: (h*w*c, m) float32."""
    images = X.T.reshape(-1, *image_shape)
    return frame_hands(images).reshape(images.shape[0], -1).T
