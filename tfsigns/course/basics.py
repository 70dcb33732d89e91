"""The course's TensorFlow warm-ups, as graph functions: build a graph, run it in a session.

`python -m tfsigns.course.basics` runs the lecture's first example: minimizing
w**2 - 10*w + 25 by gradient descent, printing w before (0.0) and after (about 5.0).
"""

from __future__ import annotations

import numpy as np

from tfsigns.backend import tf, v1
from tfsigns.utils.cli import HelpFormatter, Parser, line_buffered_output


def _run(fetch, feed_dict=None):
    """Evaluate `fetch` in a fresh session on its graph."""
    with v1.Session(graph=fetch.graph) as sess:
        return sess.run(fetch, feed_dict=feed_dict)


def linear_function() -> np.ndarray:
    """Y = WX + b with the course's seeded values: X (3, 1), W (4, 3), b (4, 1) -> Y (4, 1)."""
    rng = np.random.RandomState(1)  # np.random.seed(1)'s stream, leaving the global one alone
    with tf.Graph().as_default():
        X = tf.constant(rng.randn(3, 1), name="X")
        W = tf.constant(rng.randn(4, 3), name="W")
        b = tf.constant(rng.randn(4, 1), name="b")
        return _run(tf.add(tf.matmul(W, X), b))


def sigmoid(z) -> np.ndarray:
    """sigmoid(z) computed by feeding z to a float32 placeholder."""
    with tf.Graph().as_default():
        x = v1.placeholder(tf.float32, name="x")
        return _run(tf.sigmoid(x), {x: z})


def cost(logits, labels) -> np.ndarray:
    """Sigmoid cross-entropy per element: -(y log sigmoid(z) + (1 - y) log(1 - sigmoid(z)))."""
    with tf.Graph().as_default():
        z = v1.placeholder(tf.float32, name="z")
        y = v1.placeholder(tf.float32, name="y")
        return _run(tf.nn.sigmoid_cross_entropy_with_logits(logits=z, labels=y), {z: logits, y: labels})


def one_hot_matrix(labels, C: int) -> np.ndarray:
    """Labels (m,) -> one-hot (C, m): row j, column i is 1 where labels[i] == j."""
    with tf.Graph().as_default():
        return _run(tf.one_hot(labels, C, axis=0))


def ones(shape) -> np.ndarray:
    """An array of ones of `shape`, from tf.ones."""
    with tf.Graph().as_default():
        return _run(tf.ones(shape))


def minimize_quadratic(steps: int = 1000, learning_rate: float = 0.01) -> tuple[float, float]:
    """Minimize w**2 - 10*w + 25 = (w - 5)**2 from w = 0; return (w before, w after)."""
    with tf.Graph().as_default():
        w = tf.Variable(0, dtype=tf.float32)
        quadratic = w ** 2 - 10.0 * w + 25.0
        train = v1.train.GradientDescentOptimizer(learning_rate).minimize(quadratic)
        with v1.Session() as sess:
            sess.run(v1.global_variables_initializer())
            before = float(sess.run(w))
            for _ in range(steps):
                sess.run(train)
            return before, float(sess.run(w))


def main(argv: list[str] | None = None) -> None:
    """The lecture's first example, printed."""
    line_buffered_output()
    Parser(prog="tfsigns.course.basics", description=__doc__.splitlines()[0], formatter_class=HelpFormatter
           ).parse_args(argv)
    before, after = minimize_quadratic()
    print(f"w before training: {before}")
    print(f"w after 1000 steps of GradientDescentOptimizer(0.01) on w**2 - 10*w + 25: {after}")


if __name__ == "__main__":
    main()
