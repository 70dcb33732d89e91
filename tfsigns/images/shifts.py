"""Shifts of the test photos as a phone camera in an ordinary room would produce them: a table
of named shifts (`SHIFTS`), each at three severities (mirror at one), for the robustness
benchmark (`python -m tfsigns.robustness`), augmentation tests and notebooks. Pure NumPy and
Pillow, no TensorFlow, and deterministic: the same images, shift, level and seed give the same
pixels (`apply_shift`).

Images are uint8 (m, h, w, 3) in and out: a camera writes 8-bit pixels, so every shifted
image is rounded back to them. Light and colour act in linear light (sRGB decoded), where a
camera's exposure and white balance act. What each shift models, and why its severities (the
levels in SHIFTS, mildest first, chosen from what a phone does before any network was scored
on them):

    darker        exposure down in EV: a dim room, auto exposure that lags or is fooled by a
                  bright window behind the hand (the worst level, -1.5 EV, keeps 2**-1.5 = 0.35 of
                  the light, a little over a third)
    brighter      exposure up in EV: a bright background metered low; highlights clip
    contrast      x mean + c (x - mean): haze, flat light, a dirty lens
    warm          white-balance error, red x g and blue / g: what auto white balance leaves
                  under warm lamps, from slight to strong
    cool          the same the other way (blue x g, red / g): daylight from a window, shade
    desaturated   chroma scaled down: a dull sensor, a "natural" filter, greyscale at the end
    saturated     chroma scaled up: phones' vivid processing and filters
    noise         Gaussian per pixel and channel, sd in 0-255 units: what a dim-room photo
                  keeps after the phone's denoising and the downscale to 64 px
    blur          Gaussian, radius in px at 64 px: missed focus or a shaking hand
    jpeg          re-encoded at falling quality: messaging apps and web uploads
    translate     moved px (5-15% of the frame) in a random direction: hand-held framing; the
                  uncovered border repeats the edge pixels
    rotate        turned degrees either way: a tilted phone or hand
    zoom in       the centre 1/factor of the frame enlarged: the hand held closer
    zoom out      the frame shrunk by the factor inside repeated edge pixels: held farther
    mirror        left-right flipped: the other hand (SIGNS shows mostly one)
    phone framing the full real-photo path: the photo upscaled to PHONE_SIDE px, set into a
                  portrait 3:4 frame with a margin (a share of its width on each side, and above
                  and below) made of its repeated border pixels, stored as a phone does
                  (landscape pixels turned 90 degrees with EXIF orientation 6 or 8), written as
                  a JPEG and read back through tfsigns.portable.photos. At margin 0 the centre square is
                  the photo itself; wider margins make the hand smaller.
"""

from __future__ import annotations

import io
import tempfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from tfsigns.portable.photos import load_image

LUMA = np.array([0.299, 0.587, 0.114])  # Rec. 601, as Pillow's greyscale
EDGE_PAD = 24  # px of repeated border around an image before it is turned or shrunk
PHONE_SIDE = 480  # the photo's side, in px, inside the phone frame
PHONE_JPEG_QUALITY = 90
EXIF_ORIENTATION = 0x0112
Transform = Callable[[np.ndarray, float, np.random.Generator], np.ndarray]


@dataclass(frozen=True)
class Shift:
    """A named shift: what it models, its severities (mildest first) and how each is labelled."""
    name: str
    models: str
    levels: tuple[float, ...]
    label_format: str
    transform: Transform

    def label(self, level: float) -> str:
        """The severity as the table prints it, e.g. '-1 EV' or '6 px'."""
        return self.label_format.format(level)


def to_linear(x: np.ndarray) -> np.ndarray:
    """sRGB values in [0, 1] as linear light (the sRGB decoding curve)."""
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def to_srgb(x: np.ndarray) -> np.ndarray:
    """Linear light, clipped to [0, 1], as sRGB values (the encoding curve)."""
    x = np.clip(x, 0.0, 1.0)
    return np.where(x <= 0.0031308, x * 12.92, 1.055 * x ** (1 / 2.4) - 0.055)


def _pixels(transform: Transform) -> Transform:
    """A transform of float images in [0, 1] as one of 8-bit images (rounded and clipped)."""
    def on_uint8(images: np.ndarray, level: float, rng: np.random.Generator) -> np.ndarray:
        shifted = transform(images.astype(np.float64) / 255.0, level, rng)
        return np.clip(np.round(shifted * 255.0), 0, 255).astype(np.uint8)
    return on_uint8


def _each(transform: Callable[[Image.Image, float, np.random.Generator], Image.Image]) -> Transform:
    """A transform of one Pillow image as one of a batch of 8-bit images."""
    def on_batch(images: np.ndarray, level: float, rng: np.random.Generator) -> np.ndarray:
        return np.stack([np.asarray(transform(Image.fromarray(image), level, rng).convert("RGB"))
                         for image in images])
    return on_batch


def exposure(x: np.ndarray, stops: float, rng: np.random.Generator) -> np.ndarray:
    """More or less light by 2**stops, as the camera's exposure scales it (linear light)."""
    return to_srgb(to_linear(x) * 2.0 ** stops)


def white_balance(direction: int) -> Callable[[np.ndarray, float, np.random.Generator], np.ndarray]:
    """A colour cast in linear light: red x g and blue / g (direction +1, warm), or the reverse (-1, cool)."""
    def cast(x: np.ndarray, g: float, rng: np.random.Generator) -> np.ndarray:
        gains = np.array([g ** direction, 1.0, g ** -direction])
        return to_srgb(to_linear(x) * gains)
    return cast


def contrast(x: np.ndarray, c: float, rng: np.random.Generator) -> np.ndarray:
    """Each image's values pulled towards (c < 1) its mean: flat light."""
    mean = x.mean(axis=(1, 2, 3), keepdims=True)
    return mean + c * (x - mean)


def saturation(x: np.ndarray, s: float, rng: np.random.Generator) -> np.ndarray:
    """Chroma around each pixel's grey (Rec. 601 luma) scaled by s: 0 is greyscale."""
    grey = (x @ LUMA)[..., None]
    return grey + s * (x - grey)


def noise(x: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise of sigma (in 0-255 units) on every pixel and channel."""
    return x + rng.normal(0.0, sigma / 255.0, size=x.shape)


def blur(image: Image.Image, radius: float, rng: np.random.Generator) -> Image.Image:
    """Gaussian blur of `radius` px: missed focus or shake."""
    return image.filter(ImageFilter.GaussianBlur(radius))


def jpeg(image: Image.Image, quality: float, rng: np.random.Generator) -> Image.Image:
    """The image written as a JPEG of `quality` and read back."""
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=int(quality))
    return Image.open(buffer)


def _padded(image: Image.Image, pad: int | tuple[tuple[int, int], tuple[int, int]]) -> Image.Image:
    """The image inside its own repeated border pixels: `pad` px on every side, or
    ((above, below), (left, right))."""
    rows, columns = ((pad, pad), (pad, pad)) if isinstance(pad, int) else pad
    return Image.fromarray(np.pad(np.asarray(image), (rows, columns, (0, 0)), mode="edge"))


def translate(image: Image.Image, px: float, rng: np.random.Generator) -> Image.Image:
    """Moved `px` in a random direction, the uncovered border filled with repeated edge pixels."""
    angle = rng.uniform(0, 2 * np.pi)
    dx, dy = round(px * np.cos(angle)), round(px * np.sin(angle))
    w, h = image.size
    return _padded(image, EDGE_PAD).crop((EDGE_PAD - dx, EDGE_PAD - dy, EDGE_PAD - dx + w, EDGE_PAD - dy + h))


def rotate(image: Image.Image, degrees: float, rng: np.random.Generator) -> Image.Image:
    """Turned `degrees` clockwise or counter-clockwise (at random) about its centre."""
    w, h = image.size
    turned = _padded(image, EDGE_PAD).rotate(degrees * rng.choice([-1, 1]), Image.Resampling.BICUBIC)
    return turned.crop((EDGE_PAD, EDGE_PAD, EDGE_PAD + w, EDGE_PAD + h))


def zoom(image: Image.Image, factor: float, rng: np.random.Generator) -> Image.Image:
    """Enlarge the centre (factor > 1), or shrink the frame inside its repeated edge (factor < 1)."""
    w, h = image.size
    if factor < 1:
        return _padded(image, round(w * (1 / factor - 1) / 2)).resize((w, h), Image.Resampling.BICUBIC)
    cw, ch = w / factor, h / factor
    centre = ((w - cw) / 2, (h - ch) / 2, (w + cw) / 2, (h + ch) / 2)
    return image.resize((w, h), Image.Resampling.BICUBIC, box=centre)


def mirror(image: Image.Image, level: float, rng: np.random.Generator) -> Image.Image:
    """Flipped left-right: the other hand."""
    return image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)


def phone_photo(image: np.ndarray, margin: float, rng: np.random.Generator) -> tuple[Image.Image, int]:
    """A 64 px photo as a phone stores it: upscaled, in a portrait 3:4 frame with a margin of
    its repeated border pixels, turned to landscape pixels; with the EXIF orientation that turns
    it back (6 or 8, at random)."""
    photo = Image.fromarray(image).resize((PHONE_SIDE, PHONE_SIDE), Image.Resampling.BICUBIC)
    side = round(PHONE_SIDE * margin)
    height = round((PHONE_SIDE + 2 * side) * 4 / 3)
    above = (height - PHONE_SIDE) // 2
    frame = _padded(photo, ((above, height - PHONE_SIDE - above), (side, side)))
    if rng.integers(2):
        return frame.transpose(Image.Transpose.ROTATE_90), 6
    return frame.transpose(Image.Transpose.ROTATE_270), 8


def phone_framing(images: np.ndarray, margin: float, rng: np.random.Generator) -> np.ndarray:
    """Each photo through the real-photo path: stored as a phone does (phone_photo), written as a
    JPEG with its EXIF orientation, and read back by tfsigns.portable.photos."""
    size = images.shape[1]
    out = []
    with tempfile.TemporaryDirectory(prefix="tfsigns-phone-") as folder:
        for i, image in enumerate(images):
            stored, orientation = phone_photo(image, margin, rng)
            exif = Image.Exif()
            exif[EXIF_ORIENTATION] = orientation
            path = Path(folder) / f"IMG_{i:04d}.jpg"
            stored.save(path, quality=PHONE_JPEG_QUALITY, exif=exif.tobytes())
            out.append(np.round(load_image(path, size) * 255).astype(np.uint8).reshape(size, size, 3))
    return np.stack(out)


SHIFTS: dict[str, Shift] = {shift.name: shift for shift in (
    Shift("darker", "underexposed: a dim room", (-0.5, -1.0, -1.5), "{:+g} EV", _pixels(exposure)),
    Shift("brighter", "overexposed: highlights clip", (0.5, 1.0, 1.5), "{:+g} EV", _pixels(exposure)),
    Shift("contrast", "flat light, haze", (0.8, 0.6, 0.4), "x{:g}", _pixels(contrast)),
    Shift("warm", "white balance under warm lamps", (1.1, 1.2, 1.35), "R x{:g}", _pixels(white_balance(1))),
    Shift("cool", "white balance in daylight", (1.1, 1.2, 1.35), "B x{:g}", _pixels(white_balance(-1))),
    Shift("desaturated", "dull colours", (0.6, 0.3, 0.0), "x{:g}", _pixels(saturation)),
    Shift("saturated", "vivid processing", (1.3, 1.6, 2.0), "x{:g}", _pixels(saturation)),
    Shift("noise", "sensor noise in a dim room", (3.0, 6.0, 12.0), "sd {:g}", _pixels(noise)),
    Shift("blur", "missed focus, shake", (0.5, 1.0, 1.5), "r {:g} px", _each(blur)),
    Shift("jpeg", "re-compressed", (75.0, 50.0, 25.0), "q {:g}", _each(jpeg)),
    Shift("translate", "hand off centre", (3.0, 6.0, 10.0), "{:g} px", _each(translate)),
    Shift("rotate", "tilted", (5.0, 10.0, 20.0), "{:g} deg", _each(rotate)),
    Shift("zoom in", "hand held closer", (1.1, 1.25, 1.4), "x{:g}", _each(zoom)),
    Shift("zoom out", "hand held farther", (0.9, 0.8, 0.7), "x{:g}", _each(zoom)),
    Shift("mirror", "the other hand", (1.0,), "flipped", _each(mirror)),
    Shift("phone framing", "phone JPEG, 3:4, EXIF-turned", (0.0, 0.15, 0.3), "margin {:.0%}", phone_framing),
)}


def apply_shift(images: np.ndarray, name: str, level: float, seed: int = 0) -> np.ndarray:
    """Images uint8 (m, h, w, 3) under the named shift at `level`, as uint8 (m, h, w, 3); random
    draws (noise, directions) come from a generator seeded by (seed, name, level), so a shift
    never depends on which others ran before it."""
    rng = np.random.default_rng([seed, zlib.crc32(f"{name}:{level!r}".encode())])
    return SHIFTS[name].transform(np.asarray(images, dtype=np.uint8), level, rng)
