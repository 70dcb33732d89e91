"""Your own photos as the network's input, read as cameras write them and prepared as the
training images were. Needs Pillow, not TensorFlow.

The rule, for any file Pillow reads (JPEG, PNG, TIFF, GIF, ...; the first frame):

1. EXIF orientation applied (`ImageOps.exif_transpose`): a phone stores a portrait photo as
   landscape pixels plus a tag that says how to turn them; shown upright, as a viewer shows it.
2. Non-square frames: centre crop to the largest centred square (the SIGNS photos are square,
   with the hand in the middle; squashing a 3:4 frame would distort the hand instead).
3. Colours to 8-bit RGB: transparent pixels (RGBA, LA, a palette or RGB/L image with a
   transparent colour) are composited on white, as on a white page; greyscale (1, L) is
   repeated in R, G and B; 16-bit greyscale (I;16*, and I, as Pillow reads 16-bit PNG and
   TIFF) is scaled from 0-65535 to 0-255 (Pillow's own conversion clips it instead, leaving
   most photos white); float greyscale (F, as TIFF stores it) in [0, 1] is scaled to 0-255, in
   [0, 255] taken as it is, and other values refused (Pillow's conversion truncates [0, 1] to
   black); CMYK, YCbCr and the other modes through Pillow's conversion to RGB.
4. Resized to 64x64 with Pillow (bicubic, antialiased), then divided by 255.

Large photos: a JPEG is decoded at a reduced scale (`Image.draft`, 1/2 to 1/8) that still
leaves at least 4 pixels of the photo per output pixel, and the resize reduces by whole
factors first (`reducing_gap`), so a 6000x4000 photo is read in a fraction of a second and
never held at full size. Images over Pillow's `Image.MAX_IMAGE_PIXELS` (about 89 million
pixels) are refused as possible decompression bombs.

What cannot be read (missing, a folder, empty, not an image, truncated or damaged, too large)
raises ImageError with a one-line message that names the file.

A folder of photos by sign (`load_sign_folders`): DIR/0 ... DIR/5, each holding image files of
that sign (any name Pillow reads; hidden files such as .DS_Store are skipped), as
`tfsigns.robustness --photos` and `tfsigns.calibrate --photos` read them.
"""

from __future__ import annotations

import io
import os
import struct
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N", "I")
DRAFT_MARGIN = 4  # decode a JPEG at no less than this many photo pixels per output pixel
BACKGROUND = (255, 255, 255)  # what shows through transparent pixels
FRAME_SIDE = 1024  # a hand model's frame: at most this many pixels on its long side (its crops: 192, 224)
# what Pillow and its plugins raise for a file they cannot decode (a truncated PNG: SyntaxError)
UNDECODABLE = (OSError, SyntaxError, ValueError, EOFError, struct.error)


class ImageError(ValueError):
    """An image file that cannot be read; the message names it."""


def load_image(path: str | os.PathLike, size: int = 64) -> np.ndarray:
    """One image as a (size*size*3,) float32 column in [0, 1], by the module's rule (the course's
    own-image cell fed 0-255 pixels to a network trained on [0, 1])."""
    return _column(_read(_checked(path), str(path), lambda image: _square_rgb(image, size)))


def image_from_bytes(data: bytes, name: str = "the image", size: int = 64, most_pixels: int | None = None
                     ) -> np.ndarray:
    """An image file's bytes (an upload, a camera frame) as load_image reads a file: a (size*size*3,)
    float32 column in [0, 1]; ImageError naming `name` when they are not a readable image, or hold more
    than `most_pixels` pixels (told by the header, before any is decoded)."""
    if not data:
        raise ImageError(f"{name}: is empty")
    return _column(_read(io.BytesIO(data), name, lambda image: _square_rgb(image, size), most_pixels))


def load_frame(path: str | os.PathLike, longest: int = FRAME_SIDE) -> np.ndarray:
    """A photo as a hand model reads it (hands.py): upright by its EXIF orientation, in 8-bit RGB by
    step 3 of the module's rule, the whole frame uncropped, shrunk to at most `longest` pixels on its long
    side; (h, w, 3) uint8."""
    return _read(_checked(path), str(path), lambda image: _frame_rgb(image, longest))


def frame_from_bytes(data: bytes, name: str = "the image", longest: int = FRAME_SIDE,
                     most_pixels: int | None = None) -> np.ndarray:
    """An image file's bytes as load_frame reads a file; ImageError naming `name` when unreadable or over
    `most_pixels` pixels (told by the header, before any is decoded)."""
    if not data:
        raise ImageError(f"{name}: is empty")
    return _read(io.BytesIO(data), name, lambda image: _frame_rgb(image, longest), most_pixels)


def square_column(frame: np.ndarray, size: int = 64) -> np.ndarray:
    """A frame (h, w, 3) uint8 as load_image reads a photo: centre square, size x size, a float32 column."""
    return _column(_square_rgb(Image.fromarray(frame), size))


def _checked(path: str | os.PathLike) -> Path:
    """The file at `path`, or ImageError when it is missing, a folder or empty."""
    file = Path(path)
    if file.is_dir():
        raise ImageError(f"{path}: is a folder, not an image file")
    if not file.exists():
        raise ImageError(f"{path}: file not found")
    if file.stat().st_size == 0:
        raise ImageError(f"{path}: file is empty")
    return file


def _column(pixels: np.ndarray) -> np.ndarray:
    """uint8 pixels as a flat float32 column in [0, 1]."""
    return (pixels.reshape(-1) / 255.0).astype(np.float32)


def _read(source: Path | io.BytesIO, path: str, prepare, most_pixels: int | None = None) -> np.ndarray:
    """The image in `source` (named `path` in errors), opened and made into pixels by `prepare`; ImageError
    before decoding when its header gives more than `most_pixels` pixels."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(source) as image:
                if most_pixels and image.width * image.height > most_pixels:
                    raise ImageError(f"{path}: too many pixels ({image.width}x{image.height}; at most "
                                     f"{most_pixels / 1e6:g} million)")
                pixels = prepare(image)
    except ImageError:
        raise
    except PermissionError:
        raise ImageError(f"{path}: cannot be read (permission denied)") from None
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not a readable image (no image format recognizes it)") from None
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as err:
        raise ImageError(f"{path}: image too large ({_first_line(err)})") from None
    except UNDECODABLE as err:
        raise ImageError(f"{path}: not a readable image ({_first_line(err)})") from None
    return pixels


def load_images(paths: list[str | os.PathLike], size: int = 64) -> np.ndarray:
    """The images as columns X (size*size*3, len(paths)), every file read before any is used."""
    return np.stack([load_image(path, size) for path in paths], axis=1)


def sign_photos(folder: str | os.PathLike) -> dict[str, list[Path]]:
    """The image files under each sign's folder, folder/<sign name>/, sorted by name: {sign: files}, any
    name (hidden folders and files skipped, loose files in `folder` ignored); ImageError (one line) when
    `folder` is not a folder, holds no sign's folder, or a sign's folder holds no file."""
    root = Path(folder)
    if not root.is_dir():
        raise ImageError(f"{folder}: not a folder (it must hold a folder per sign, named after the sign)")
    found = {}
    for sub in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = sorted(p for p in sub.iterdir() if p.is_file() and not p.name.startswith("."))
        if not files:
            raise ImageError(f"{sub}: holds no photos of sign {sub.name!r}")
        found[sub.name] = files
    if not found:
        raise ImageError(f"{folder}: holds no folder of a sign's photos (DIR/<sign>/photo.jpg)")
    return found


def sign_folder_files(folder: str | os.PathLike, classes: int = 6) -> list[list[Path]]:
    """The image files of each sign, folder/0 ... folder/<classes - 1>, sorted by name; ImageError
    (one line) when the folder or a sign's folder is missing or a sign has no files."""
    root = Path(folder)
    if not root.is_dir():
        raise ImageError(f"{folder}: not a folder (it must hold a folder per sign, 0 ... {classes - 1})")
    files = []
    for sign in range(classes):
        sub = root / str(sign)
        if not sub.is_dir():
            raise ImageError(f"{folder}: has no folder {sign}/ (it must hold a folder per sign, 0 ... "
                             f"{classes - 1}, of that sign's photos)")
        found = sorted(p for p in sub.iterdir() if p.is_file() and not p.name.startswith("."))
        if not found:
            raise ImageError(f"{sub}: holds no photos of sign {sign}")
        files.append(found)
    return files


def load_sign_folders(folder: str | os.PathLike, size: int = 64, classes: int = 6
                      ) -> tuple[np.ndarray, np.ndarray, list[Path]]:
    """Every photo under folder/<sign>/ as columns X (size*size*3, m) in [0, 1] by the module's
    rule, their signs (m,) and their paths; every file read before any is used."""
    paths = [path for files in sign_folder_files(folder, classes) for path in files]
    labels = np.array([int(path.parent.name) for path in paths], dtype=np.int64)
    return load_images(paths, size), labels, paths


def load_sign_frames(folder: str | os.PathLike, classes: int = 6) -> tuple[list[np.ndarray], np.ndarray]:
    """Every photo under folder/<sign>/ as a uint8 frame (load_frame) and their signs (m,); every file
    read before any is used."""
    paths = [path for files in sign_folder_files(folder, classes) for path in files]
    return [load_frame(path) for path in paths], np.array([int(path.parent.name) for path in paths])


def _square_rgb(image: Image.Image, size: int) -> np.ndarray:
    """The open image upright, centre-cropped to a square, in RGB, as (size, size, 3) uint8."""
    if image.format == "JPEG":  # before loading: the decoder then skips what the resize would drop
        image.draft(None, (size * DRAFT_MARGIN, size * DRAFT_MARGIN))
    upright = ImageOps.exif_transpose(image)
    width, height = upright.size
    if width == 0 or height == 0:
        raise ValueError(f"image has no pixels ({width}x{height})")
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    rgb = _to_rgb(upright.crop((left, top, left + side, top + side)))
    return np.asarray(rgb.resize((size, size), Image.Resampling.BICUBIC, reducing_gap=3.0))


def _frame_rgb(image: Image.Image, longest: int) -> np.ndarray:
    """The open image upright, in RGB, its long side at most `longest`, as (h, w, 3) uint8."""
    if image.format == "JPEG":
        image.draft(None, (longest, longest))
    upright = ImageOps.exif_transpose(image)
    if min(upright.size) == 0:
        raise ValueError(f"image has no pixels ({upright.size[0]}x{upright.size[1]})")
    rgb = _to_rgb(upright)
    if max(rgb.size) > longest:
        rgb.thumbnail((longest, longest), Image.Resampling.BICUBIC, reducing_gap=3.0)
    return np.asarray(rgb)


def _to_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB by step 3 of the module's rule."""
    if image.mode in SIXTEEN_BIT:
        grey = np.asarray(image, dtype=np.float64) * (255 / 65535)
        return Image.fromarray(np.clip(np.round(grey), 0, 255).astype(np.uint8)).convert("RGB")
    if image.mode == "F":
        return _float_grey(np.asarray(image, dtype=np.float64))
    if "A" in image.getbands() or "a" in image.getbands() or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (*BACKGROUND, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def _float_grey(grey: np.ndarray) -> Image.Image:
    """A float image (mode F) in RGB: intensities in [0, 1] when none is above 1, else 0-255
    (Pillow's own conversion truncates, and an image in [0, 1] comes out black)."""
    if not np.isfinite(grey).all() or grey.min() < 0 or grey.max() > 255:
        raise ValueError(f"float pixels must lie in [0, 1] or [0, 255], these span {grey.min():g} to "
                         f"{grey.max():g}")
    scaled = grey * 255 if grey.max() <= 1 else grey
    return Image.fromarray(np.round(scaled).astype(np.uint8)).convert("RGB")


def _first_line(err: BaseException) -> str:
    """The first line of an error's message, or its type's name when it has none."""
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
