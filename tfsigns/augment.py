"""What the network sees of a photo: augmentation of training minibatches (random changes of
light, colour, pose and camera that a real photo of a hand sign may show) and input
normalization, both as graph ops.

Augmentation acts on images (b, h, w, c) in [0, 1] inside the epoch's while_loop, during
training only; every random value is drawn statelessly from (minibatch_seed, the op, the
global step), so a run repeats bit for bit and a resumed run draws what an uninterrupted one
would. Normalization is part of the model: training, evaluation and inference apply it alike,
and "dataset" normalization keeps the training set's per-channel statistics as the
non-trainable variables input_mean and input_deviation, checkpointed with the weights.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from tfsigns.backend import tf, v1
from tfsigns.config import ConfigError, TrainConfig, augments
from tfsigns.data import IMAGE_SHAPE
from tfsigns.networks import Layout

STATISTICS = ("input_mean", "input_deviation")  # "dataset" normalization's variables, one value per channel
MIN_DEVIATION = 1e-3  # a constant channel would otherwise divide by zero
AUGMENT_STREAM = 0x5164  # tells augmentation's seeds apart from dropout's, which also take the global step


def image_shape(layout: Layout, input_shape: tuple[int, ...]) -> tuple[int, ...] | None:
    """(h, w, c) of the examples when they are photos: a CNN's images, or the MLP's columns of
    SIGNS-sized photos (flattened row by row, channels last, as tfsigns.data does); else None."""
    if not layout.examples_last:
        return tuple(input_shape) if len(input_shape) == 3 else None
    return IMAGE_SHAPE if tuple(input_shape) == (math.prod(IMAGE_SHAPE),) else None


def statistics_shapes(config: TrainConfig, layout: Layout, input_shape: tuple[int, ...]
                      ) -> dict[str, tuple[int, ...]]:
    """The normalization variables a model of `config` holds besides its family's parameters."""
    if config.normalize != "dataset":
        return {}
    return {name: (image_shape(layout, input_shape)[-1],) for name in STATISTICS}


def build_statistics(config: TrainConfig, layout: Layout, fed_rows: tf.Tensor, input_shape: tuple[int, ...]
                     ) -> dict[str, tf.Variable]:
    """For "dataset" normalization, input_mean and input_deviation (c,): the per-channel mean and
    standard deviation of the training set `fed_rows` (m, *input_shape), the tensor the resident
    data is initialized from, so they are set by the same initializer run (and restored from a
    checkpoint on resume). Computed in float64. Nothing for other normalizations."""
    if config.normalize != "dataset":
        return {}
    channels = image_shape(layout, input_shape)[-1]
    pixels = tf.reshape(tf.cast(fed_rows, tf.float64), [-1, channels])
    mean = tf.reduce_mean(pixels, axis=0)
    deviation = tf.maximum(tf.sqrt(tf.reduce_mean(tf.square(pixels - mean), axis=0)), MIN_DEVIATION)
    return {name: v1.Variable(tf.cast(value, tf.float32), trainable=False, name=name)
            for name, value in zip(STATISTICS, (mean, deviation), strict=True)}


def normalize_input(X: tf.Tensor, parameters: dict, normalize: str, layout: Layout) -> tf.Tensor:
    """X in the family's layout, normalized: "none" leaves it; "per-image" standardizes each
    example over all its values (tf.image.per_image_standardization: the deviation floored at
    1/sqrt(values)); "dataset" subtracts the stored per-channel mean and divides by the
    deviation (parameters input_mean and input_deviation)."""
    if normalize == "none":
        return X
    if normalize == "per-image":
        if not layout.examples_last:
            return tf.image.per_image_standardization(X)
        n_x = X.shape[0]  # columns (n_x, m): each example as an (n_x, 1, 1) image
        standardized = tf.image.per_image_standardization(tf.reshape(tf.transpose(X), [-1, n_x, 1, 1]))
        return tf.transpose(tf.reshape(standardized, [-1, n_x]))
    if normalize != "dataset":
        raise ValueError(f"unknown normalize {normalize!r}")
    if missing := [name for name in STATISTICS if name not in parameters]:
        raise ValueError(f"dataset normalization needs the parameter {missing[0]}; these parameters lack it")
    mean, deviation = (parameters[name] for name in STATISTICS)
    if layout.examples_last:  # each column's values run through the channels in turn
        repeats = X.shape[0] // mean.shape[0]
        mean, deviation = (tf.reshape(tf.tile(s, [repeats]), [-1, 1]) for s in (mean, deviation))
    return (X - mean) / deviation


class Draws:
    """Stateless random values for one minibatch: the k-th draw's seed is (a key from the
    stream seed and k, the global step), so each op and each step gets its own values."""

    def __init__(self, stream_seed: int, batch: tf.Tensor):
        self.stream_seed = stream_seed
        self.batch = batch  # the number of images, a scalar tensor
        self.count = 0
        self.step = v1.train.get_or_create_global_step()

    def seed(self) -> tf.Tensor:
        """The next draw's seed, shape (2,)."""
        key = np.random.SeedSequence((self.stream_seed, AUGMENT_STREAM, self.count)).generate_state(1)[0]
        self.count += 1
        return tf.stack([tf.constant(int(key) % 2**31, tf.int64), self.step])

    def uniform(self, low: float, high: float, *shape: int) -> tf.Tensor:
        """Per-image values uniform in [low, high), shape (b, *shape)."""
        size = tf.concat([[self.batch], tf.constant(shape, tf.int32)], axis=0)
        return tf.random.stateless_uniform(size, self.seed(), minval=low, maxval=high)

    def normal(self, shape: tf.Tensor) -> tf.Tensor:
        """Standard normal values of `shape`."""
        return tf.random.stateless_normal(shape, self.seed())


def per_image(values: tf.Tensor) -> tf.Tensor:
    """Per-image values (b,) or (b, c) shaped to broadcast over images (b, h, w, c)."""
    return tf.reshape(values, [-1, 1, 1, values.shape[1] if values.shape.rank == 2 else 1])


def flip(images: tf.Tensor, draws: Draws) -> tf.Tensor:
    """Each image mirrored left to right with probability 1/2: the other hand."""
    mirrored = draws.uniform(0.0, 1.0) < 0.5
    return tf.where(per_image(mirrored), tf.reverse(images, axis=[2]), images)


def geometry(images: tf.Tensor, draws: Draws, rotation: float, translation: float, zoom: float) -> tf.Tensor:
    """Each image rotated by up to `rotation` degrees about its centre, scaled by a factor in
    [1 - zoom, 1 + zoom] (above 1 zooms in) and shifted by up to `translation` of its size
    along each axis: one bilinear projective transform, the border filled by reflection."""
    h, w = images.shape[1], images.shape[2]
    angle = draws.uniform(-rotation, rotation) * (math.pi / 180.0)
    scale = draws.uniform(1.0 - zoom, 1.0 + zoom)
    shift_x = draws.uniform(-translation, translation) * w
    shift_y = draws.uniform(-translation, translation) * h
    cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
    # The transform maps each output pixel (x, y) to the input point it samples:
    # centre + R(angle) (output - centre) / scale - shift
    a0, a1 = tf.cos(angle) / scale, -tf.sin(angle) / scale
    b0, b1 = tf.sin(angle) / scale, tf.cos(angle) / scale
    a2 = cx - a0 * cx - a1 * cy - shift_x
    b2 = cy - b0 * cx - b1 * cy - shift_y
    zeros = tf.zeros_like(a0)
    transforms = tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=transforms, output_shape=tf.constant([h, w], tf.int32),
        fill_value=tf.constant(0.0), interpolation="BILINEAR", fill_mode="REFLECT")


def colour(images: tf.Tensor, draws: Draws, config: TrainConfig) -> tf.Tensor:
    """Light and colour, each image its own: brightness (an offset up to ±brightness), contrast
    (a factor in [1 - contrast, 1 + contrast] about each channel's mean), saturation (a factor
    in [1 - saturation, 1 + saturation]), hue (a turn of up to ±hue of the colour circle) and a
    colour cast (each channel's own gain in [1 - colour_cast, 1 + colour_cast])."""
    if config.brightness:
        images = images + per_image(draws.uniform(-config.brightness, config.brightness))
    if config.contrast:
        mean = tf.reduce_mean(images, axis=[1, 2], keepdims=True)
        factor = per_image(draws.uniform(1.0 - config.contrast, 1.0 + config.contrast))
        images = (images - mean) * factor + mean
    if config.saturation or config.hue:
        hsv = tf.image.rgb_to_hsv(tf.clip_by_value(images, 0.0, 1.0))
        hue, saturation, value = tf.unstack(hsv, axis=-1)
        if config.hue:
            hue = tf.math.floormod(hue + per_image(draws.uniform(-config.hue, config.hue))[..., 0], 1.0)
        if config.saturation:
            factor = per_image(draws.uniform(1.0 - config.saturation, 1.0 + config.saturation))[..., 0]
            saturation = tf.clip_by_value(saturation * factor, 0.0, 1.0)
        images = tf.image.hsv_to_rgb(tf.stack([hue, saturation, value], axis=-1))
    if config.colour_cast:
        gains = draws.uniform(1.0 - config.colour_cast, 1.0 + config.colour_cast, images.shape[3])
        images = images * per_image(gains)
    return images


def blur(images: tf.Tensor, draws: Draws, strength: float) -> tf.Tensor:
    """Each image blurred by a Gaussian of standard deviation up to `strength` pixels (a camera
    out of focus or shaken): separable, its taps reaching 3 deviations, borders reflected."""
    radius = math.ceil(3 * strength)
    sigma = tf.maximum(draws.uniform(0.0, strength), 1e-3)  # sigma 1e-3 leaves the image as it is
    offsets = tf.range(-radius, radius + 1, dtype=tf.float32)
    weights = tf.exp(-tf.square(offsets) / (2.0 * tf.square(sigma[:, None])))
    weights = weights / tf.reduce_sum(weights, axis=1, keepdims=True)  # (b, 2 radius + 1)
    for axis in (1, 2):
        size = images.shape[axis]
        padding = [[0, 0]] * 4
        padding[axis] = [radius, radius]
        padded = tf.pad(images, padding, mode="REFLECT")
        taps = [tf.gather(padded, tf.range(j, j + size), axis=axis) for j in range(2 * radius + 1)]
        images = tf.add_n([per_image(weights[:, j]) * tap for j, tap in enumerate(taps)])
    return images


def noise(images: tf.Tensor, draws: Draws, strength: float) -> tf.Tensor:
    """Sensor noise: Gaussian, of a standard deviation drawn per image up to `strength`."""
    return images + per_image(draws.uniform(0.0, strength)) * draws.normal(tf.shape(images))


def augment_images(images: tf.Tensor, config: TrainConfig) -> tf.Tensor:
    """A training minibatch of images (b, h, w, c) in [0, 1], augmented as `config` says: pose
    (flip, rotation, translation, zoom), then light and colour, blur and noise, clipped back to
    [0, 1]. A strength of 0 (or flip off) leaves its op out of the graph."""
    draws = Draws(config.minibatch_seed, tf.shape(images)[0])
    if config.flip:
        images = flip(images, draws)
    if config.rotation or config.translation or config.zoom:
        images = geometry(images, draws, config.rotation, config.translation, config.zoom)
    images = colour(images, draws, config)
    if config.blur:
        images = blur(images, draws, config.blur)
    if config.noise:
        images = noise(images, draws, config.noise)
    return tf.clip_by_value(images, 0.0, 1.0)


def build_augmentation(config: TrainConfig, layout: Layout, input_shape: tuple[int, ...]
                       ) -> Callable[[tf.Tensor], tf.Tensor] | None:
    """What the epoch applies to each gathered minibatch of rows (b, *input_shape): seen as images,
    augmented, and put back in the rows' shape (the MLP's flattened columns as tfsigns.data
    flattens them). None when the config augments nothing, so the graph is as before."""
    if not augments(config):
        return None
    shape = image_shape(layout, input_shape)

    def augment(rows: tf.Tensor) -> tf.Tensor:
        images = augment_images(tf.reshape(rows, [-1, *shape]), config)
        return tf.reshape(images, [-1, *input_shape])
    return augment


def check_photos(config: TrainConfig, layout: Layout, input_shape: tuple[int, ...]) -> None:
    """ConfigError unless `config` can train on examples of `input_shape`: augmentation and
    dataset normalization need the examples to be photos."""
    if (augments(config) or config.normalize == "dataset") and image_shape(layout, input_shape) is None:
        raise ConfigError(f"augmentation and dataset normalization need photos "
                          f"({'x'.join(map(str, IMAGE_SHAPE))} images), these examples have shape "
                          f"{tuple(input_shape)}")
