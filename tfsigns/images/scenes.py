"""Cluttered 640x480 scenes, drawn from a seed, with a photo of a hand pasted anywhere in them: how a
camera sees a person signing in a room, for measuring a reader that must find the hand first
(tfsigns.robustness, the live page's test, bench/hand_speed.py). Needs Pillow, not TensorFlow.

A scene is a lit gradient with 20 to 40 shapes (rectangles, ellipses, lines, some of them skin-coloured,
to tempt a palm detector) and sensor noise. A pasted photo is scaled to a third to a half of the scene's
height and put at a uniformly drawn place, wholly inside (or at a given one: a hand moving across a scene).
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

SCENE_SIZE = (640, 480)  # width, height
HAND_HEIGHT = (1 / 3, 1 / 2)  # the pasted photo's height, as a share of the scene's
SKIN = [(224, 172, 105), (198, 134, 66), (141, 85, 36), (255, 219, 172), (241, 194, 125)]


def scene(seed: int, size: tuple[int, int] = SCENE_SIZE) -> np.ndarray:
    """An empty cluttered scene (h, w, 3) uint8, the same for the same seed."""
    rng = np.random.default_rng(seed)
    w, h = size
    low, high = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    ramp = np.linspace(0, 1, h)[:, None, None]
    image = Image.fromarray(np.broadcast_to(low + (high - low) * ramp, (h, w, 3)).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(20, 41))):
        colour = (SKIN[rng.integers(len(SKIN))] if rng.random() < 0.2
                  else tuple(int(c) for c in rng.integers(0, 256, 3)))
        x0, y0 = int(rng.integers(-w // 4, w)), int(rng.integers(-h // 4, h))
        box = (x0, y0, x0 + int(rng.integers(10, w // 3)), y0 + int(rng.integers(10, h // 3)))
        kind = rng.integers(3)
        if kind == 0:
            draw.rectangle(box, fill=colour)
        elif kind == 1:
            draw.ellipse(box, fill=colour)
        else:
            draw.line(box, fill=colour, width=int(rng.integers(2, 12)))
    noisy = np.asarray(image, dtype=np.float32) + rng.normal(0, 4, (h, w, 3))
    return np.clip(noisy, 0, 255).astype(np.uint8)


def paste(photo: np.ndarray, seed: int, size: tuple[int, int] = SCENE_SIZE,
          at: tuple[float, float] | None = None) -> tuple[np.ndarray, tuple[int, ...]]:
    """A uint8 photo (h, w, 3) pasted into scene(seed), scaled to HAND_HEIGHT of the scene's height at a
    place drawn from the seed, or at `at` (x, y in [0, 1]: 0 the left or top edge, 1 the right or bottom):
    the scene and where the photo went (x0, y0, x1, y1)."""
    rng = np.random.default_rng((seed, 1))
    background = scene(seed, size)
    w, h = size
    side_h = int(round(h * rng.uniform(*HAND_HEIGHT)))
    side_w = int(round(side_h * photo.shape[1] / photo.shape[0]))
    if at is None:
        x0, y0 = int(rng.integers(0, w - side_w + 1)), int(rng.integers(0, h - side_h + 1))
    else:
        x0, y0 = int(round(at[0] * (w - side_w))), int(round(at[1] * (h - side_h)))
    scaled = Image.fromarray(photo).resize((side_w, side_h), Image.Resampling.BILINEAR)
    background[y0:y0 + side_h, x0:x0 + side_w] = np.asarray(scaled)
    return background, (x0, y0, x0 + side_w, y0 + side_h)
