"""ms per epoch of the course network (12288-25-12-6, Adam, minibatch 32) four ways, in one run.

    python bench/epoch_speed.py [--epochs 30] [--data-dir DIR]

tfsigns' session loop, Keras `fit` of the same network, the course's plain
feed_dict loop over random_mini_batches, and a PyTorch eager loop when torch is
installed; prints each one's ms/epoch and its ratio to tfsigns. Each is timed
after one warm-up epoch, on the same data, in this one process.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import tensorflow as tf

from tfsigns.data import load_signs, random_mini_batches
from tfsigns.model import (build_train_op, compute_cost, create_placeholders, forward_propagation,
                           initialize_parameters)
from tfsigns.trainer import TrainConfig, train

v1 = tf.compat.v1
LAYERS, LR, MB = (25, 12), 0.0001, 32


def time_tfsigns(X, Y, epochs):
    """tfsigns.trainer.train: its own timer covers the epochs, not graph building."""
    _, history = train(TrainConfig(num_epochs=epochs + 1, print_cost=False), X, Y)
    return history.ms_per_epoch


def time_course_loop(X, Y, epochs):
    """The assignment's loop: reshuffle X[:, perm] every epoch, feed column slices."""
    with tf.Graph().as_default():
        v1.set_random_seed(1)
        Xp, Yp = create_placeholders(X.shape[0], Y.shape[0])
        parameters = initialize_parameters((X.shape[0], *LAYERS, Y.shape[0]))
        cost = compute_cost(forward_propagation(Xp, parameters), Yp)
        train_op = build_train_op(cost, LR)
        with v1.Session() as sess:
            sess.run(v1.global_variables_initializer())
            for epoch in range(epochs + 1):
                if epoch == 1:
                    start = time.perf_counter()
                for mb_X, mb_Y in random_mini_batches(X, Y, MB, seed=epoch):
                    sess.run([train_op, cost], {Xp: mb_X, Yp: mb_Y})
    return 1000 * (time.perf_counter() - start) / epochs


def time_keras(X, Y, epochs):
    """tf.keras Sequential of the same layers, Adam, model.fit with shuffling."""
    keras = tf.keras
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((X.shape[0],)), keras.layers.Dense(LAYERS[0], activation="relu"),
                              keras.layers.Dense(LAYERS[1], activation="relu"), keras.layers.Dense(Y.shape[0])])
    model.compile(optimizer=keras.optimizers.Adam(LR),
                  loss=keras.losses.CategoricalCrossentropy(from_logits=True))
    rows_X, rows_Y = X.T.copy(), Y.T.copy()
    model.fit(rows_X, rows_Y, batch_size=MB, epochs=1, verbose=0)
    start = time.perf_counter()
    model.fit(rows_X, rows_Y, batch_size=MB, epochs=epochs, verbose=0)
    return 1000 * (time.perf_counter() - start) / epochs


def time_torch(X, Y, epochs):
    """A plain PyTorch eager loop of the same network, or None without torch."""
    try:
        import torch
    except ImportError:
        return None
    torch.manual_seed(1)
    net = torch.nn.Sequential(torch.nn.Linear(X.shape[0], LAYERS[0]), torch.nn.ReLU(),
                              torch.nn.Linear(*LAYERS), torch.nn.ReLU(), torch.nn.Linear(LAYERS[1], Y.shape[0]))
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    rows_X, labels = torch.from_numpy(X.T.copy()), torch.from_numpy(Y.argmax(axis=0))
    m = rows_X.shape[0]
    for epoch in range(epochs + 1):
        if epoch == 1:
            start = time.perf_counter()
        perm = torch.randperm(m)
        for k in range(0, m, MB):
            idx = perm[k:k + MB]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(net(rows_X[idx]), labels[idx])
            loss.backward()
            opt.step()
    return 1000 * (time.perf_counter() - start) / epochs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--data-dir")
    args = parser.parse_args()
    X, Y = load_signs(args.data_dir)[:2]
    # tfsigns last: it switches on TensorFlow's op determinism for the rest of the process.
    results = {"keras fit": time_keras(X, Y, args.epochs),
               "course feed_dict loop": time_course_loop(X, Y, args.epochs),
               "pytorch eager loop": time_torch(X, Y, args.epochs),
               "tfsigns": time_tfsigns(X, Y, args.epochs)}
    base = results["tfsigns"]
    print(f"{'':24}{'ms/epoch':>10}{'x tfsigns':>11}   ({args.epochs} epochs each, {X.shape[1]} examples)")
    for name, ms in sorted(results.items(), key=lambda item: item[0] != "tfsigns"):
        if ms is None:
            print(f"{name:24}{'n/a':>10}   (not installed)")
        else:
            print(f"{name:24}{ms:10.1f}{ms / base:11.2f}")


if __name__ == "__main__":
    main()
