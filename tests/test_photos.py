"""Reading photos as cameras write them (tfsigns.portable.photos): EXIF orientation, non-square frames,
every Pillow mode, large photos, and a one-line error for what cannot be read."""

import io
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from tests.conftest import run_main
from tfsigns.portable.photos import ImageError, load_image, load_images

EXIF_ORIENTATION = 0x0112
# How a camera stores the upright picture for each EXIF orientation: the transpose whose
# inverse a viewer applies (6: "turn 90 degrees clockwise to view", so stored turned 90 counter-clockwise)
STORED = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}
CORNERS = {"top left": (255, 0, 0), "top right": (0, 255, 0), "bottom left": (0, 0, 255),
           "bottom right": (255, 255, 0)}


def asymmetric(width: int, height: int) -> Image.Image:
    """An upright picture whose four quadrants have four colours, grey along the middle: every
    turn and flip of it differs."""
    pixels = np.full((height, width, 3), 128, np.uint8)
    h, w = height // 2, width // 2
    top, bottom, left, right = slice(0, h - 2), slice(h + 2, None), slice(0, w - 2), slice(w + 2, None)
    quadrants = [(top, left), (top, right), (bottom, left), (bottom, right)]
    for (rows, cols), colour in zip(quadrants, CORNERS.values(), strict=True):
        pixels[rows, cols] = colour
    return Image.fromarray(pixels)


def corner_colours(column: np.ndarray) -> dict[str, tuple[int, ...]]:
    """The colour 12 px in from each corner of a 64x64 column, in 0-255."""
    image = np.round(column.reshape(64, 64, 3) * 255).astype(int)
    spots = {"top left": (12, 12), "top right": (12, 51), "bottom left": (51, 12), "bottom right": (51, 51)}
    return {name: tuple(image[r, c]) for name, (r, c) in spots.items()}


def as_camera_writes(upright: Image.Image, orientation: int, path, format: str = "JPEG") -> None:
    stored = upright if STORED[orientation] is None else upright.transpose(STORED[orientation])
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = orientation
    stored.save(path, format=format, exif=exif.tobytes(), **({"quality": 95} if format == "JPEG" else {}))


def assert_upright(column: np.ndarray) -> None:
    for name, colour in corner_colours(column).items():
        assert np.abs(np.array(colour) - CORNERS[name]).max() <= 24, (name, colour)


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("format", ["JPEG", "PNG"])
def test_every_exif_orientation_comes_back_upright(orientation, format, tmp_path):
    path = tmp_path / f"photo.{format.lower()}"
    as_camera_writes(asymmetric(120, 160), orientation, path, format)  # a portrait 3:4 frame
    assert_upright(load_image(path))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(orientation=st.integers(1, 8), width=st.integers(48, 400), height=st.integers(48, 400))
def test_any_frame_in_any_orientation_is_upright(orientation, width, height, tmp_path):
    """The largest centred square of any frame, at any EXIF orientation, keeps its corners."""
    side = min(width, height)
    upright = Image.new("RGB", (width, height), (128, 128, 128))
    upright.paste(asymmetric(side, side), ((width - side) // 2, (height - side) // 2))
    path = tmp_path / "photo.jpg"
    as_camera_writes(upright, orientation, path)
    assert_upright(load_image(path))


def make_mode(mode: str, width: int, height: int, rng: np.random.Generator) -> Image.Image:
    """A random image in a Pillow mode."""
    if mode in ("I;16", "I"):
        return Image.fromarray(rng.integers(0, 65536, (height, width)).astype(np.uint16)).convert(mode) \
            if mode == "I" else Image.fromarray(rng.integers(0, 65536, (height, width)).astype(np.uint16))
    if mode == "F":
        return Image.fromarray(rng.uniform(0, 255, (height, width)).astype(np.float32))
    rgba = Image.fromarray(rng.integers(0, 256, (height, width, 4)).astype(np.uint8), "RGBA")
    if mode == "P":
        return rgba.convert("RGB").convert("P", palette=Image.Palette.ADAPTIVE)
    return rgba.convert(mode)


# each mode in a file format that keeps it
SAVED_AS = {"1": "PNG", "L": "JPEG", "LA": "PNG", "P": "GIF", "RGB": "JPEG", "RGBA": "PNG", "CMYK": "JPEG",
            "YCbCr": "JPEG", "I;16": "PNG", "I": "TIFF", "F": "TIFF"}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mode=st.sampled_from(sorted(SAVED_AS)), width=st.integers(1, 300), height=st.integers(1, 300),
       orientation=st.integers(1, 8), seed=st.integers(0, 2**16))
def test_every_mode_size_and_orientation_gives_a_column_in_0_1(mode, width, height, orientation, seed,
                                                               tmp_path):
    image = make_mode(mode, width, height, np.random.default_rng(seed))
    fmt = SAVED_AS[mode]
    path = tmp_path / f"image.{fmt.lower()}"
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = orientation
    image.save(path, format=fmt, **({"exif": exif.tobytes()} if fmt in ("JPEG", "PNG") else {}))
    column = load_image(path)
    assert column.shape == (12288,) and column.dtype == np.float32
    assert 0 <= column.min() and column.max() <= 1


def grey_file(path, mode, value) -> None:
    Image.new(mode, (30, 20), value).save(path)


@pytest.mark.parametrize("mode, value, grey", [
    ("I;16", 65535, 255), ("I;16", 32896, 128), ("I;16", 0, 0),  # 32896 = 128 * 257
    ("L", 128, 128), ("1", 1, 255), ("1", 0, 0),
])
def test_greyscale_of_any_depth_is_scaled_to_0_255(mode, value, grey, tmp_path):
    path = tmp_path / "grey.png"
    grey_file(path, mode, value)
    assert Image.open(path).mode == mode
    assert np.allclose(load_image(path), grey / 255, atol=0.5 / 255)


@pytest.mark.parametrize("image, colour", [
    (Image.new("RGBA", (20, 20), (0, 0, 0, 0)), (255, 255, 255)),  # transparent: white
    (Image.new("RGBA", (20, 20), (0, 0, 255, 255)), (0, 0, 255)),  # opaque: itself
    (Image.new("RGBA", (20, 20), (0, 0, 0, 128)), (127, 127, 127)),  # half: half way to white
    (Image.new("LA", (20, 20), (0, 0)), (255, 255, 255)),
])
def test_transparency_is_composited_on_white(image, colour, tmp_path):
    path = tmp_path / "cutout.png"
    image.save(path)
    assert np.allclose(load_image(path).reshape(-1, 3), np.array(colour) / 255, atol=1.5 / 255)


def test_a_palette_image_with_a_transparent_colour_shows_white_there(tmp_path):
    image = Image.new("P", (20, 20), 1)
    image.putpalette([0, 0, 0, 200, 0, 0] + [0] * 762)
    image.paste(0, (0, 0, 20, 10))  # top half: palette entry 0, the transparent one
    path = tmp_path / "palette.png"
    image.save(path, transparency=0)
    pixels = load_image(path).reshape(64, 64, 3)
    assert np.allclose(pixels[:28], 1.0, atol=2 / 255)
    assert np.allclose(pixels[36:], [200 / 255, 0, 0], atol=2 / 255)


def test_a_non_square_frame_is_centre_cropped_not_squashed(tmp_path):
    """A 3:4 portrait with 40 px bands above and below a centred square: the bands are cut off."""
    frame = Image.new("RGB", (120, 160), (0, 0, 0))
    frame.paste(Image.new("RGB", (120, 120), (255, 255, 255)), (0, 20))
    path = tmp_path / "portrait.png"
    frame.save(path)
    assert np.allclose(load_image(path), 1.0)


def test_a_large_phone_photo_is_read_quickly_without_holding_it_whole(tmp_path):
    """A 6000x4000 JPEG (24 megapixels, 72 MB as RGB) read in a fresh process: its peak memory
    grows by far less than the photo's size."""
    upright = asymmetric(400, 300).resize((6000, 4000), Image.Resampling.NEAREST)
    path = tmp_path / "big.jpg"
    as_camera_writes(upright, 6, path)  # stored 4000x6000 with orientation 6
    code = ("import time\nfrom tfsigns.portable.photos import load_image\n"  # VmHWM: its own, in kB
            "def peak(): return next(int(line.split()[1]) for line in open('/proc/self/status')\n"
            "                        if line.startswith('VmHWM'))\n"
            "before = peak()\nstart = time.perf_counter()\n"
            f"column = load_image({str(path)!r})\n"
            "print(time.perf_counter() - start, peak() - before)\n"
            "print(' '.join(str(v) for v in column))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    timing, values = result.stdout.splitlines()
    seconds, grown_kb = map(float, timing.split())
    assert seconds < 5 and grown_kb < 30_000, (seconds, grown_kb)
    assert_upright(np.array(values.split(), dtype=np.float32))


def truncated(path):
    buffer = io.BytesIO()
    asymmetric(200, 200).save(buffer, "PNG")
    path.write_bytes(buffer.getvalue()[:len(buffer.getvalue()) // 2])


# (how to spoil the image file, what the one-line error then says about it)
BAD_IMAGES = {
    "missing": (lambda p: None, "file not found"),
    "not an image": (lambda p: p.write_text("<html>not an image</html>"), "not a readable image"),
    "empty": (lambda p: p.write_bytes(b""), "file is empty"),
    "truncated": (truncated, "not a readable image"),
    "a folder": (lambda p: p.mkdir(), "is a folder"),
}


@pytest.mark.parametrize("case", BAD_IMAGES)
def test_what_cannot_be_read_is_one_line_naming_the_file(case, tmp_path):
    make, message = BAD_IMAGES[case]
    path = tmp_path / "photo.png"
    make(path)
    with pytest.raises(ImageError) as err:
        load_images([path])
    assert str(err.value).startswith(f"{path}: {message}") and "\n" not in str(err.value)


def test_a_decompression_bomb_is_refused(tmp_path, monkeypatch):
    """Over Pillow's pixel limit (here lowered to 1000 pixels): refused, also in the zone where
    Pillow only warns (1-2 times the limit)."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    for side, name in ((40, "warned.png"), (100, "refused.png")):
        Image.new("L", (side, side)).save(tmp_path / name)
        with pytest.raises(ImageError, match=f"{name}: image too large"):
            load_image(tmp_path / name)


@pytest.mark.parametrize("case", ["truncated", "a folder", "empty"])
def test_predict_names_a_bad_image_in_one_line(case, fake_run, tmp_path):
    from tfsigns.predict import main as predict_main
    make, message = BAD_IMAGES[case]
    path = tmp_path / "photo.png"
    make(path)
    code, stdout, stderr = run_main(predict_main, [str(path), "--model", str(fake_run)])
    assert code == 2 and stdout == "" and stderr.startswith(f"tfsigns.predict: error: {path}: {message}")
    assert stderr.count("\n") == 1 and "Traceback" not in stderr


@pytest.mark.parametrize("top", [1.0, 255.0])
def test_a_float_image_is_read_as_its_intensities(top, tmp_path):
    """A float TIFF (mode F) in [0, 1] or in [0, 255]: the same grey ramp either way, not black."""
    ramp = np.tile(np.linspace(0, 1, 64, dtype=np.float32), (64, 1))
    path = tmp_path / "float.tif"
    Image.fromarray(ramp * np.float32(top), mode="F").save(path)
    pixels = load_image(path).reshape(64, 64, 3)
    assert np.allclose(pixels, ramp[..., None], atol=1.5 / 255)


@pytest.mark.parametrize("value", [-0.5, 300.0, np.nan])
def test_a_float_image_out_of_range_is_refused(value, tmp_path):
    grey = np.full((8, 8), 0.5, np.float32)
    grey[0, 0] = value
    path = tmp_path / "float.tif"
    Image.fromarray(grey, mode="F").save(path)
    with pytest.raises(ImageError, match=r"float\.tif: not a readable image \(float pixels must lie in"):
        load_image(path)
