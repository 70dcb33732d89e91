"""The course MLP's first-layer products, as the training step computes them, side by side.

    python bench/first_layer.py [--rounds 5]

Times one epoch's worth (34 minibatches of 32 rows gathered from a resident 1080 x 12288
set, in tfsigns' epoch loop, tfsigns.training.graph.build_epoch_op) of the forward product X W1^T and the
weight gradient dZ1^T X, each as a MatMul with a transpose flag (what the graph optimizer
makes of the course's W1 X when the pixels are gathered as rows) and as tf.einsum
(mlp.pixel_product), and prints ms/epoch with the loop's own time (the gather and the cost
sum) taken off, and each one's ratio to einsum's. It runs on tfsigns' kernels (oneDNN on);
TF_ENABLE_ONEDNN_OPTS=0 in the environment times Eigen's.
Random data: the time does not depend on the pixels.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from tfsigns.backend import tf, v1
from tfsigns.networks import IMAGES
from tfsigns.networks.mlp import pixel_product
from tfsigns.training.graph import build_epoch_op, build_resident_data

M, N_X, N_1, MB = 1080, 12288, 25, 32
# name -> the product of one minibatch X (MB, N_X) with W1 (N_1, N_X)
PRODUCTS = {
    "the loop alone": lambda X, W: X[0, 0],
    "X W1^T, MatMul with a transpose flag": lambda X, W: tf.matmul(X, W, transpose_b=True),
    "X W1^T, einsum": lambda X, W: pixel_product("mk,nk->mn", X, W),
    "dZ1^T X, MatMul with a transpose flag": lambda X, W: tf.matmul(X[:, :N_1], X, transpose_a=True),
    "dZ1^T X, einsum": lambda X, W: pixel_product("mn,mk->nk", X[:, :N_1], X),
}


def epoch_runner(product) -> callable:
    """A session running one epoch of `product` over the gathered minibatches."""
    rng = np.random.default_rng(0)
    graph = tf.Graph()
    with graph.as_default():
        data_X, data_Y, feed_data = build_resident_data(IMAGES, M, (N_X,), 1)
        W = v1.Variable(rng.standard_normal((N_1, N_X)).astype(np.float32) * 0.01)

        def step(X_batch, Y_batch):
            total = tf.reduce_sum(product(X_batch, W))
            return total.op, total

        epoch = build_epoch_op(data_X, data_Y, tf.range(M), MB, step, layout=IMAGES)
    sess = v1.Session(graph=graph)
    sess.run([W.initializer, data_X.initializer, data_Y.initializer],
             feed_data(rng.random((M, N_X), np.float32), np.zeros((M, 1), np.float32)))
    sess.run(epoch)  # warm-up
    return lambda: sess.run(epoch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=10, help="timed epochs per round")
    args = parser.parse_args()
    if args.rounds < 1 or args.epochs < 1:
        parser.error("--rounds and --epochs must be at least 1")
    runners = {name: epoch_runner(product) for name, product in PRODUCTS.items()}
    times: dict[str, list[float]] = {name: [] for name in PRODUCTS}
    for _ in range(args.rounds):  # in turn, so that the machine's drift falls on all alike
        for name, run in runners.items():
            start = time.perf_counter()
            for _ in range(args.epochs):
                run()
            times[name].append(1000 * (time.perf_counter() - start) / args.epochs)
    loop = statistics.median(times.pop("the loop alone"))
    ms = {name: statistics.median(t) - loop for name, t in times.items()}
    print(f"ms per epoch, the loop alone ({loop:.1f} ms) taken off; medians of {args.rounds} rounds")
    for name, value in ms.items():
        einsum = ms[name.split(",")[0] + ", einsum"]
        print(f"{name:40s} {value:6.1f}  x einsum {value / einsum:5.2f}")


if __name__ == "__main__":
    main()
