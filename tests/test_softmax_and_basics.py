"""The NumPy softmax math against TensorFlow and finite differences; the course warm-ups."""

import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tfsigns.course import basics
from tfsigns.course.softmax import cross_entropy, cross_entropy_gradient, hardmax, softmax

v1 = tf.compat.v1
rng = np.random.default_rng(3)
Z = rng.normal(size=(6, 5)) * 3
Y = np.eye(6)[rng.integers(0, 6, size=5)].T


def test_softmax_columns_are_distributions_and_hardmax_picks_the_max():
    P = softmax(Z)
    np.testing.assert_allclose(P.sum(axis=0), 1)
    assert (P > 0).all()
    np.testing.assert_array_equal(hardmax(Z).argmax(axis=0), P.argmax(axis=0))
    assert hardmax(Z).sum() == Z.shape[1]


def test_large_logits_do_not_overflow():
    big = np.array([[1000.0, -1000.0], [999.0, 0.0], [0.0, 1000.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        P = softmax(big)
        J = cross_entropy(big, np.eye(3)[:, [0, 1]])
        G = cross_entropy_gradient(big, np.eye(3)[:, [0, 1]])
    np.testing.assert_allclose(P[:, 0], [1 / (1 + np.exp(-1)), np.exp(-1) / (1 + np.exp(-1)), 0], atol=1e-12)
    assert np.isfinite(J) and np.isfinite(G).all()
    assert J == pytest.approx((np.log1p(np.exp(-1)) + 1000) / 2)


def test_cross_entropy_and_gradient_match_tensorflow():
    with tf.Graph().as_default():
        logits = tf.constant(Z)
        J = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(
            logits=tf.transpose(logits), labels=tf.transpose(tf.constant(Y))))
        (dZ,) = tf.gradients(J, [logits])
        with v1.Session() as sess:
            J_tf, dZ_tf = sess.run([J, dZ])
    assert cross_entropy(Z, Y) == pytest.approx(J_tf, rel=1e-12)
    np.testing.assert_allclose(cross_entropy_gradient(Z, Y), dZ_tf, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("scale", [1.0, 1000.0])
def test_gradient_matches_central_finite_differences(scale):
    logits, h = Z * scale, 1e-6 * scale
    numeric = np.zeros_like(logits)
    for idx in np.ndindex(logits.shape):
        step = np.zeros_like(logits)
        step[idx] = h
        numeric[idx] = (cross_entropy(logits + step, Y) - cross_entropy(logits - step, Y)) / (2 * h)
    np.testing.assert_allclose(cross_entropy_gradient(logits, Y), numeric, atol=1e-6)


def test_gradient_per_example_is_y_hat_minus_y():
    m = Z.shape[1]
    np.testing.assert_allclose(cross_entropy_gradient(Z, Y) * m, softmax(Z) - Y)


def test_linear_function_matches_numpy():
    np.random.seed(1)
    X, W, b = np.random.randn(3, 1), np.random.randn(4, 3), np.random.randn(4, 1)
    np.testing.assert_allclose(basics.linear_function(), W @ X + b)


def test_sigmoid_cost_one_hot_ones():
    assert basics.sigmoid(0) == pytest.approx(0.5)
    assert basics.sigmoid(12) == pytest.approx(0.9999939, rel=1e-6)
    z, y = np.array([0.2, 0.4, 0.7, 0.9]), np.array([0.0, 0.0, 1.0, 1.0])
    s = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(basics.cost(z, y), -(y * np.log(s) + (1 - y) * np.log(1 - s)), rtol=1e-6)
    np.testing.assert_array_equal(basics.one_hot_matrix([1, 2, 3, 0, 2, 1], 4),
                                  np.eye(4)[[1, 2, 3, 0, 2, 1]].T)
    assert basics.ones([3]).tolist() == [1.0, 1.0, 1.0]


def test_quadratic_minimized_from_0_to_5():
    before, after = basics.minimize_quadratic()
    assert before == 0.0 and after == pytest.approx(5.0, abs=1e-4) and after < 5.0


def test_basics_cli_prints_before_and_after():
    out = subprocess.run([sys.executable, "-m", "tfsigns.course.basics"], capture_output=True, text=True,
                         check=True).stdout
    assert "before training: 0.0" in out and "4.9999" in out
