"""Your own photos as the network's input: read, converted and scaled exactly as the training
images were prepared. Needs Pillow, not TensorFlow."""

from __future__ import annotations

import os

import numpy as np
from PIL import Image, UnidentifiedImageError


class ImageError(ValueError):
    """An image file that cannot be read; the message names it."""


def load_image(path: str | os.PathLike, size: int = 64) -> np.ndarray:
    """One image as a (size*size*3,) float32 column in [0, 1]: RGB, resized, divided by 255
    (the course's own-image cell fed 0-255 pixels to a network trained on [0, 1])."""
    try:
        with Image.open(path) as image:
            pixels = np.asarray(image.convert("RGB").resize((size, size), Image.Resampling.BICUBIC))
    except FileNotFoundError:
        raise ImageError(f"{path}: file not found") from None
    except (UnidentifiedImageError, OSError) as err:
        raise ImageError(f"{path}: not a readable image ({err})") from None
    return (pixels.reshape(-1) / 255.0).astype(np.float32)


def load_images(paths: list[str | os.PathLike], size: int = 64) -> np.ndarray:
    """The images as columns X (size*size*3, len(paths)), every file read before any is used."""
    return np.stack([load_image(path, size) for path in paths], axis=1)
