"""Augmentation of training minibatches as graph ops: random changes of pose, light, colour and
camera that a real photo of a hand sign may show, so that the network learns to ignore them.

It acts on images (b, h, w, c) in [0, 1] inside the epoch's while_loop (tfsigns.training.graph's
build_epoch_op), during training only; every random value is drawn statelessly from
(minibatch_seed, the op, the global step), so a run repeats bit for bit, a resumed run draws
what an uninterrupted one would, and a population's members (which share minibatch_seed) see
the same minibatches.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from tfsigns.backend import tf
from tfsigns.config import LANDMARK_FAMILIES, ConfigError, TrainConfig, augments
from tfsigns.images.signs import IMAGE_SHAPE
from tfsigns.networks import Layout
from tfsigns.networks.layers import step_seed
from tfsigns.training.graph import image_shape

AUGMENT_STREAM = 0x5164  # tells augmentation's seeds apart from dropout's, which also take the global step


class Draws:
    """Stateless random values for one minibatch: the k-th draw's seed is (a key from the
    stream seed and k, the global step), so each op and each step gets its own values."""

    def __init__(self, stream_seed: int, batch: tf.Tensor):
        self.stream_seed = stream_seed
        self.batch = batch  # the number of images, a scalar tensor
        self.count = 0

    def seed(self) -> tf.Tensor:
        """The next draw's seed, shape (2,)."""
        key = np.random.SeedSequence((self.stream_seed, AUGMENT_STREAM, self.count)).generate_state(1)[0]
        self.count += 1
        return step_seed(int(key) % 2**31)

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
    out of focus or shaken): separable, its taps reaching 3 deviations, borders reflected. The
    minibatch's channels are laid side by side as one image's (1, h, w, b c), so that each image's
    own kernel is one depthwise convolution per axis."""
    radius = math.ceil(3 * strength)
    sigma = tf.maximum(draws.uniform(0.0, strength), 1e-3)  # sigma 1e-3 leaves the image as it is
    offsets = tf.range(-radius, radius + 1, dtype=tf.float32)
    weights = tf.exp(-tf.square(offsets) / (2.0 * tf.square(sigma[:, None])))
    weights = weights / tf.reduce_sum(weights, axis=1, keepdims=True)  # (b, 2 radius + 1)
    h, w, c = images.shape[1:]
    taps = tf.transpose(tf.repeat(weights, c, axis=0))  # (2 radius + 1, b c): image k's channels k c ...
    side_by_side = tf.reshape(tf.transpose(images, [1, 2, 0, 3]), [1, h, w, -1])
    padded = tf.pad(side_by_side, [[0, 0], [radius, radius], [radius, radius], [0, 0]], mode="REFLECT")
    down = tf.nn.depthwise_conv2d(padded, tf.reshape(taps, [-1, 1, tf.shape(taps)[1], 1]), [1] * 4, "VALID")
    across = tf.nn.depthwise_conv2d(down, tf.reshape(taps, [1, -1, tf.shape(taps)[1], 1]), [1] * 4, "VALID")
    return tf.transpose(tf.reshape(across, [h, w, -1, c]), [2, 0, 1, 3])


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


def augment_landmarks(rows: tf.Tensor, config: TrainConfig) -> tf.Tensor:
    """A training minibatch of landmark features (b, 2 n): n points' x, y (tfsigns.portable.hands),
    mirrored (x -> -x: the other hand) with probability 1/2, turned by up to `rotation` degrees about the
    wrist, scaled by a factor in [1 - zoom, 1 + zoom], and each point moved by Gaussian jitter of up to
    `noise` (decimetres), as `config` says."""
    draws = Draws(config.minibatch_seed, tf.shape(rows)[0])
    points = tf.reshape(rows, [-1, rows.shape[1] // 2, 2])
    if config.flip:
        sign = tf.where(draws.uniform(0.0, 1.0) < 0.5, -1.0, 1.0)
        points = points * tf.stack([sign, tf.ones_like(sign)], axis=1)[:, None, :]
    if config.rotation:
        angle = draws.uniform(-1.0, 1.0) * (config.rotation * math.pi / 180)
        c, s = tf.cos(angle)[:, None], tf.sin(angle)[:, None]
        x, y = points[..., 0], points[..., 1]
        points = tf.stack([c * x - s * y, s * x + c * y], axis=-1)
    if config.zoom:
        points = points * draws.uniform(1.0 - config.zoom, 1.0 + config.zoom)[:, None, None]
    if config.noise:
        points = points + draws.uniform(0.0, config.noise)[:, None, None] * draws.normal(tf.shape(points))
    return tf.reshape(points, [-1, rows.shape[1]])


def build_augmentation(config: TrainConfig, layout: Layout, input_shape: tuple[int, ...]
                       ) -> Callable[[tf.Tensor], tf.Tensor] | None:
    """What the epoch applies to each gathered minibatch of rows (b, *input_shape): landmark features
    augmented as landmarks; photos seen as images, augmented, and put back in the rows' shape (the MLP's
    flattened columns as tfsigns.images.signs flattens them). None when the config augments nothing,
    so the graph is as before."""
    if not augments(config):
        return None
    if config.arch in LANDMARK_FAMILIES:
        return lambda rows: augment_landmarks(rows, config)
    shape = image_shape(layout, input_shape)

    def augment(rows: tf.Tensor) -> tf.Tensor:
        images = augment_images(tf.reshape(rows, [-1, *shape]), config)
        return tf.reshape(images, [-1, *input_shape])
    return augment


def check_photos(config: TrainConfig, layout: Layout, input_shape: tuple[int, ...]) -> None:
    """ConfigError unless `config` can train on examples of `input_shape`: augmentation and
    dataset normalization need the examples to be photos."""
    photos = image_shape(layout, input_shape) is not None or config.arch in LANDMARK_FAMILIES
    if (augments(config) or config.normalize == "dataset") and not photos:
        raise ConfigError(f"augmentation and dataset normalization need photos "
                          f"({'x'.join(map(str, IMAGE_SHAPE))} images), these examples have shape "
                          f"{tuple(input_shape)}")
