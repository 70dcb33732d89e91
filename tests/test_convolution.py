"""The convolution lesson in NumPy, checked against TensorFlow's own ops on random data."""

import numpy as np
import pytest
import tensorflow as tf

from tfsigns.course.convolution import (
    conv_backward,
    conv_forward,
    conv_single_step,
    create_mask_from_window,
    distribute_value,
    numerical_gradient,
    pool_backward,
    pool_forward,
    zero_pad,
)


def test_zero_pad_adds_zeros_around_height_and_width_only():
    X = np.random.default_rng(1).normal(size=(4, 3, 3, 2))
    padded = zero_pad(X, 2)
    assert padded.shape == (4, 7, 7, 2)
    np.testing.assert_array_equal(padded[:, 2:-2, 2:-2, :], X)
    assert not padded[:, :2].any() and not padded[:, :, -2:].any()


def test_conv_single_step_is_a_weighted_sum_plus_bias():
    rng = np.random.default_rng(2)
    a, W, b = rng.normal(size=(4, 4, 3)), rng.normal(size=(4, 4, 3)), rng.normal(size=(1, 1, 1))
    assert conv_single_step(a, W, b) == pytest.approx(float((a * W).sum() + b.item()))


@pytest.mark.parametrize("f, stride, pad", [(2, 2, 1), (3, 1, 0), (4, 3, 2), (1, 1, 0)])
def test_conv_forward_matches_tf_conv2d(f, stride, pad):
    rng = np.random.default_rng(3)
    A_prev, W, b = rng.normal(size=(3, 7, 9, 4)), rng.normal(size=(f, f, 4, 5)), rng.normal(size=(1, 1, 1, 5))
    Z, cache = conv_forward(A_prev, W, b, {"stride": stride, "pad": pad})
    expected = tf.nn.conv2d(A_prev, W, strides=stride, padding=[[0, 0], [pad, pad], [pad, pad], [0, 0]]) + b
    np.testing.assert_allclose(Z, expected.numpy(), rtol=1e-10, atol=1e-10)
    assert cache[0] is A_prev and cache[3] == {"stride": stride, "pad": pad}


@pytest.mark.parametrize("mode, tf_pool", [("max", tf.nn.max_pool2d), ("average", tf.nn.avg_pool2d)])
@pytest.mark.parametrize("f, stride", [(2, 2), (3, 1), (3, 2)])
def test_pool_forward_matches_tf_pooling(mode, tf_pool, f, stride):
    A_prev = np.random.default_rng(4).normal(size=(2, 7, 8, 3)).astype(np.float32)  # TF pools in float32
    A, _ = pool_forward(A_prev, {"f": f, "stride": stride}, mode)
    expected = tf_pool(A_prev, ksize=f, strides=stride, padding="VALID").numpy()
    np.testing.assert_allclose(A, expected, rtol=1e-6)


def test_pool_forward_names_a_wrong_mode():
    with pytest.raises(ValueError, match="'max' or 'average'"):
        pool_forward(np.zeros((1, 4, 4, 1)), {"f": 2, "stride": 2}, "mean")


@pytest.mark.parametrize("f, stride, pad", [(2, 1, 1), (3, 2, 1), (2, 2, 0)])
def test_conv_backward_is_the_numerical_gradient_of_conv_forward(f, stride, pad):
    rng = np.random.default_rng(5)
    A_prev, W, b = rng.normal(size=(2, 5, 4, 3)), rng.normal(size=(f, f, 3, 2)), rng.normal(size=(1, 1, 1, 2))
    hp = {"stride": stride, "pad": pad}
    Z, cache = conv_forward(A_prev, W, b, hp)
    dZ = rng.normal(size=Z.shape)
    dA_prev, dW, db = conv_backward(dZ, cache)
    for got, x, J in ((dA_prev, A_prev, lambda a: np.sum(conv_forward(a, W, b, hp)[0] * dZ)),
                      (dW, W, lambda w: np.sum(conv_forward(A_prev, w, b, hp)[0] * dZ)),
                      (db, b, lambda c: np.sum(conv_forward(A_prev, W, c, hp)[0] * dZ))):
        np.testing.assert_allclose(got, numerical_gradient(J, x), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("mode", ["max", "average"])
@pytest.mark.parametrize("f, stride", [(2, 1), (3, 2), (2, 2)])
def test_pool_backward_is_the_numerical_gradient_of_pool_forward(mode, f, stride):
    rng = np.random.default_rng(6)
    A_prev, hp = rng.normal(size=(2, 5, 6, 3)), {"f": f, "stride": stride}
    A, cache = pool_forward(A_prev, hp, mode)
    dA = rng.normal(size=A.shape)
    expected = numerical_gradient(lambda a: np.sum(pool_forward(a, hp, mode)[0] * dA), A_prev)
    np.testing.assert_allclose(pool_backward(dA, cache, mode), expected, rtol=1e-6, atol=1e-8)


def test_the_mask_marks_the_max_and_the_average_spreads_evenly():
    x = np.array([[1.0, 3.0], [4.0, 2.0]])
    np.testing.assert_array_equal(create_mask_from_window(x), [[False, False], [True, False]])
    np.testing.assert_allclose(distribute_value(2.0, (2, 2)), np.full((2, 2), 0.5))
