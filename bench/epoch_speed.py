"""ms per epoch of the course network (12288-25-12-6, Adam 1e-4, minibatch 32), side by side.

    python bench/epoch_speed.py [--epochs 30] [--data-dir DIR]

Times tfsigns' session loop, Keras `fit` of the same network, the course's plain
feed_dict loop over random_mini_batches, and a PyTorch eager loop when torch is
installed, on the same data, and prints each one's ms/epoch and its ratio to
tfsigns. Each contender runs in a fresh process of its own (one warm-up epoch
first, then the timed epochs), so that no TensorFlow setting of one leaks into
another: tfsigns runs with the settings it picks itself (oneDNN off, op
determinism on), the others with TensorFlow's defaults. PyTorch and TensorFlow are
never loaded into one process (their native runtimes can crash each other), and a
contender whose process crashes is reported as failed while the others go on.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time

import numpy as np

LAYERS, LR, MB = (25, 12), 0.0001, 32
TORCH = "pytorch eager loop"
CONTENDERS = ("tfsigns", "keras fit", "course feed_dict loop", TORCH)


def load(data_dir: str | None) -> tuple[np.ndarray, np.ndarray]:
    """(X_train, Y_train); tfsigns.data needs no TensorFlow, so every contender loads alike."""
    from tfsigns.data import load_signs  # after the caller chose its TensorFlow settings
    return load_signs(data_dir)[:2]


def time_tfsigns(X, Y, epochs):
    """tfsigns.trainer.train; returns (ms/epoch after epoch 0, cost history)."""
    from tfsigns.config import RunSettings, TrainConfig
    from tfsigns.trainer import train
    _, history = train(TrainConfig(num_epochs=epochs), X, Y, run=RunSettings(print_cost=False))
    return 1000 * sum(history.epoch_seconds[1:]) / max(1, epochs - 1), history.costs


def course_loop(X, Y, epochs):
    """The assignment's loop: X[:, perm] reshuffled every epoch (seed 3 + e + 1), column
    slices fed one minibatch per session.run; returns (ms/epoch after epoch 0, costs)."""
    from tfsigns.backend import tf, v1
    from tfsigns.data import random_mini_batches
    from tfsigns.mlp import create_placeholders, forward_propagation, initialize_parameters
    from tfsigns.model import build_train_op, compute_cost
    m, costs = X.shape[1], []
    with tf.Graph().as_default():
        v1.set_random_seed(1)
        Xp, Yp = create_placeholders(X.shape[0], Y.shape[0])
        parameters = initialize_parameters((X.shape[0], *LAYERS, Y.shape[0]))
        cost = compute_cost(forward_propagation(Xp, parameters), Yp)
        train_op = build_train_op(cost, LR)
        with v1.Session() as sess:
            sess.run(v1.global_variables_initializer())
            for epoch in range(epochs):
                if epoch == 1:
                    start = time.perf_counter()
                epoch_cost = 0.0
                for mb_X, mb_Y in random_mini_batches(X, Y, MB, seed=3 + epoch + 1):
                    _, c = sess.run([train_op, cost], {Xp: mb_X, Yp: mb_Y})
                    epoch_cost += float(c) * mb_X.shape[1] / m
                costs.append(epoch_cost)
    return 1000 * (time.perf_counter() - start) / max(1, epochs - 1), costs


def time_keras(X, Y, epochs):
    """tf.keras Sequential of the same layers, Adam, model.fit with shuffling."""
    import tensorflow as tf
    keras = tf.keras
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((X.shape[0],)),
                              keras.layers.Dense(LAYERS[0], activation="relu"),
                              keras.layers.Dense(LAYERS[1], activation="relu"),
                              keras.layers.Dense(Y.shape[0])])
    model.compile(optimizer=keras.optimizers.Adam(LR),
                  loss=keras.losses.CategoricalCrossentropy(from_logits=True))
    rows_X, rows_Y = X.T.copy(), Y.T.copy()
    model.fit(rows_X, rows_Y, batch_size=MB, epochs=1, verbose=0)
    start = time.perf_counter()
    history = model.fit(rows_X, rows_Y, batch_size=MB, epochs=epochs - 1, verbose=0)
    return 1000 * (time.perf_counter() - start) / max(1, epochs - 1), history.history["loss"]


def time_torch(X, Y, epochs):
    """A plain PyTorch eager loop of the same network."""
    import torch
    torch.manual_seed(1)
    net = torch.nn.Sequential(torch.nn.Linear(X.shape[0], LAYERS[0]), torch.nn.ReLU(),
                              torch.nn.Linear(*LAYERS), torch.nn.ReLU(),
                              torch.nn.Linear(LAYERS[1], Y.shape[0]))
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    rows_X, labels = torch.from_numpy(X.T.copy()), torch.from_numpy(Y.argmax(axis=0))
    m, costs = rows_X.shape[0], []
    for epoch in range(epochs):
        if epoch == 1:
            start = time.perf_counter()
        perm, total = torch.randperm(m), 0.0
        for k in range(0, m, MB):
            idx = perm[k:k + MB]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(net(rows_X[idx]), labels[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx) / m
        costs.append(total)
    return 1000 * (time.perf_counter() - start) / max(1, epochs - 1), costs


def run_one(name: str, epochs: int, data_dir: str | None) -> None:
    """Child process: time one contender and print its result as one JSON line.

    The PyTorch contender never loads TensorFlow and the others never load PyTorch:
    the two frameworks' native runtimes in one process can crash it (SIGSEGV).
    """
    if name == TORCH:
        if importlib.util.find_spec("torch") is None:
            print(json.dumps({"ms": None}))
            return
        X, Y = load(data_dir)
        timer, other = time_torch, "tensorflow"
    else:
        if name != "tfsigns":
            os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")  # TensorFlow's own default
        X, Y = load(data_dir)
        timer = {"tfsigns": time_tfsigns, "keras fit": time_keras, "course feed_dict loop": course_loop}[name]
        other = "torch"
    assert other not in sys.modules, f"{name}: loading the data loaded {other}"
    ms, costs = timer(X, Y, epochs + 1)
    assert other not in sys.modules, f"{name}: timing it loaded {other}"
    print(json.dumps({"ms": ms, "final_cost": costs[-1]}))


def run_child(name: str, epochs: int, data_dir: str | None) -> float | str:
    """Run one contender in a fresh process: its ms/epoch, or why there is none.

    A child that crashes or exits non-zero gives "failed (signal N)" or "failed (exit N)",
    with the end of its stderr passed on to ours, so that the other contenders still run.
    """
    command = [sys.executable, __file__, "--only", name, "--epochs", str(epochs)]
    if data_dir:
        command += ["--data-dir", data_dir]
    child = subprocess.run(command, capture_output=True, text=True)
    if child.returncode != 0:
        how = f"signal {-child.returncode}" if child.returncode < 0 else f"exit {child.returncode}"
        print(f"{name}: failed ({how})", *child.stderr.splitlines()[-10:], sep="\n  ", file=sys.stderr)
        return f"failed ({how})"
    ms = json.loads(child.stdout.strip().splitlines()[-1])["ms"]
    return "not installed" if ms is None else ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30, help="timed epochs (after one warm-up epoch)")
    parser.add_argument("--data-dir")
    parser.add_argument("--only", choices=CONTENDERS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.only:
        return run_one(args.only, args.epochs, args.data_dir)
    results = {name: run_child(name, args.epochs, args.data_dir) for name in CONTENDERS}
    base = results["tfsigns"]
    print(f"{'':24}{'ms/epoch':>10}{'x tfsigns':>11}   ({args.epochs} timed epochs each, fresh process each)")
    for name, ms in results.items():
        if isinstance(ms, str):
            shown = f"{'n/a':>10}   {ms}"
        else:
            shown = f"{ms:10.1f}" + (f"{ms / base:11.2f}" if isinstance(base, float) else f"{'n/a':>11}")
        print(f"{name:24}{shown}")


if __name__ == "__main__":
    main()
