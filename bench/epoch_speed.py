"""ms per epoch of the course network (12288-25-12-6, Adam 1e-4, minibatch 32) or, with --arch cnn,
the course CNN (Adam 0.009, minibatch 64), side by side.

    python bench/epoch_speed.py [--arch mlp|cnn] [--epochs 30] [--rounds 3] [--data-dir DIR]

Times tfsigns' session loop, Keras `fit` of the same network, the course's plain
feed_dict loop over random_mini_batches (MLP only), a PyTorch eager loop when torch is
installed, the arithmetic floor (time_floor: NumPy doing only the bulk of an epoch's
arithmetic) and, for the CNN, TensorFlow's first convolution alone (time_first_conv), on
the same data, and prints each one's ms/epoch and its ratios to tfsigns and to the floor.
Every contender computes the same function: the CNN's Keras and PyTorch networks build each
block in tfsigns.networks.cnn's order, conv -> max-pool -> ReLU (the course writes conv -> ReLU ->
max-pool; ReLU is monotone, so the two give the same values, but the pooled order applies
ReLU, forward and backward, to 1/pool^2 as many values, and the timing depends on it).
Each contender runs in a fresh process of its own (one warm-up epoch first, then the timed
epochs), so that no TensorFlow setting of one leaks into another: tfsigns runs with the
settings it picks itself (op determinism on), the others with TensorFlow's defaults; all
with oneDNN's kernels. The contenders take turns for --rounds rounds; a ratio is taken
within each round and the median is shown with its range, so that the machine's drift over
the minutes of a run does not decide it. PyTorch and TensorFlow are never loaded into one
process (their native runtimes can crash each other), and a contender whose process
crashes is reported as failed while the others go on.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np

LAYERS, LR, MB = (25, 12), 0.0001, 32
# The course CNN (--arch cnn): its notebook's learning rate and minibatch size.
CNN_LR, CNN_MB = 0.009, 64
TORCH = "pytorch eager loop"
FLOOR = "arithmetic floor"
CONV1 = "first conv alone"
CONTENDERS = {"mlp": ("tfsigns", FLOOR, "keras fit", "course feed_dict loop", TORCH),
              "cnn": ("tfsigns", FLOOR, "keras fit", TORCH, CONV1)}
CNN_FILTERS, CNN_KERNELS, CNN_POOLS = (8, 16), (4, 2), (8, 4)
FLOOR_PARTS: dict[str, float] = {}  # the floor's child: ms/epoch of its Adam updates
ADAM_SHARES: list[float] = []  # the parent: the floor's Adam share, per round
# Contenders whose native thread pool run_child tries at one thread and at every core, by the
# variable that sets its size
THREAD_POOLS = {FLOOR: "OPENBLAS_NUM_THREADS", TORCH: "OMP_NUM_THREADS"}
THREADS_USED: dict[str, list[int]] = {}  # the parent: the faster thread count, per round


def load(data_dir: str | None, arch: str) -> tuple[np.ndarray, np.ndarray]:
    """(X_train, Y_train) in the family's layout: the MLP's columns, the CNN's images (m, 64, 64, 3)
    and Y (m, 6). tfsigns.images.signs needs no TensorFlow, so every contender loads alike."""
    from tfsigns.images.signs import IMAGE_SHAPE, load_signs  # after the caller chose its TensorFlow settings
    from tfsigns.networks import COLUMNS, IMAGES
    X, Y = load_signs(data_dir)[:2]
    return (IMAGES if arch == "cnn" else COLUMNS).from_columns(X, Y, IMAGE_SHAPE)


def time_tfsigns(X, Y, epochs, arch):
    """tfsigns.training.trainer.train; returns (ms/epoch after epoch 0, cost history)."""
    from tfsigns.config import RunSettings, TrainConfig
    from tfsigns.training.trainer import train
    config = TrainConfig(num_epochs=epochs) if arch == "mlp" else TrainConfig(
        arch="cnn", num_epochs=epochs, learning_rate=CNN_LR, minibatch_size=CNN_MB)
    _, history = train(config, X, Y, run=RunSettings(print_cost=False))
    return 1000 * sum(history.epoch_seconds[1:]) / max(1, epochs - 1), history.costs


def course_loop(X, Y, epochs):
    """The assignment's loop: X[:, perm] reshuffled every epoch (seed 3 + e + 1), column
    slices fed one minibatch per session.run; returns (ms/epoch after epoch 0, costs)."""
    from tfsigns.backend import tf, v1
    from tfsigns.images.signs import random_mini_batches
    from tfsigns.networks.layers import compute_cost
    from tfsigns.networks.mlp import create_placeholders, forward_propagation, initialize_parameters
    from tfsigns.training.graph import build_train_op
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


def time_keras(X, Y, epochs, arch):
    """tf.keras Sequential of the same layers, Adam, model.fit with shuffling."""
    import tensorflow as tf
    keras = tf.keras
    keras.utils.set_random_seed(1)
    if arch == "mlp":
        rows_X, rows_Y, lr, mb = X.T.copy(), Y.T.copy(), LR, MB
        layers = [keras.Input((X.shape[0],)), keras.layers.Dense(LAYERS[0], activation="relu"),
                  keras.layers.Dense(LAYERS[1], activation="relu")]
    else:  # the course CNN: bias-free SAME convolutions, pools 8 and 4, one dense layer; tfsigns' block order
        rows_X, rows_Y, lr, mb = X, Y, CNN_LR, CNN_MB
        layers = [keras.Input(X.shape[1:])]
        for filters, kernel, pool in zip(CNN_FILTERS, CNN_KERNELS, CNN_POOLS, strict=True):
            layers += [keras.layers.Conv2D(filters, kernel, padding="same", use_bias=False),
                       keras.layers.MaxPooling2D(pool, pool, padding="same"), keras.layers.ReLU()]
        layers.append(keras.layers.Flatten())
    model = keras.Sequential([*layers, keras.layers.Dense(rows_Y.shape[1])])
    model.compile(optimizer=keras.optimizers.Adam(lr),
                  loss=keras.losses.CategoricalCrossentropy(from_logits=True))
    model.fit(rows_X, rows_Y, batch_size=mb, epochs=1, verbose=0)
    start = time.perf_counter()
    history = model.fit(rows_X, rows_Y, batch_size=mb, epochs=epochs - 1, verbose=0)
    return 1000 * (time.perf_counter() - start) / max(1, epochs - 1), history.history["loss"]


def time_torch(X, Y, epochs, arch):
    """A plain PyTorch eager loop of the same network."""
    import torch
    nn = torch.nn
    torch.manual_seed(1)
    if arch == "mlp":
        net = nn.Sequential(nn.Linear(X.shape[0], LAYERS[0]), nn.ReLU(), nn.Linear(*LAYERS), nn.ReLU(),
                            nn.Linear(LAYERS[1], Y.shape[0]))
        rows_X, labels, lr, mb = torch.from_numpy(X.T.copy()), torch.from_numpy(Y.argmax(axis=0)), LR, MB
    else:  # the course CNN, channels first as PyTorch wants them; tfsigns' block order
        blocks, channels, side = [], X.shape[-1], X.shape[1]
        for filters, kernel, pool in zip(CNN_FILTERS, CNN_KERNELS, CNN_POOLS, strict=True):
            blocks += [nn.Conv2d(channels, filters, kernel, padding="same", bias=False),
                       nn.MaxPool2d(pool, ceil_mode=True), nn.ReLU()]
            channels, side = filters, -(-side // pool)
        net = nn.Sequential(*blocks, nn.Flatten(), nn.Linear(side * side * channels, Y.shape[1]))
        rows_X = torch.from_numpy(X.transpose(0, 3, 1, 2).copy())
        labels, lr, mb = torch.from_numpy(Y.argmax(axis=1)), CNN_LR, CNN_MB
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    m, costs = rows_X.shape[0], []
    for epoch in range(epochs):
        if epoch == 1:
            start = time.perf_counter()
        perm, total = torch.randperm(m), 0.0
        for k in range(0, m, mb):
            idx = perm[k:k + mb]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(net(rows_X[idx]), labels[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx) / m
        costs.append(total)
    return 1000 * (time.perf_counter() - start) / max(1, epochs - 1), costs


class Adam:
    """Adam over all parameters as one flat float32 vector, in place (NumPy): the optimizer's
    share of a step with no framework around it, in NumPy's one pass per operation."""

    def __init__(self, size: int, lr: float):
        self.w, self.m, self.v = (np.zeros(size, np.float32) for _ in range(3))
        self.t = 0
        self.scratch, self.lr, self.seconds = np.empty(size, np.float32), lr, 0.0

    def step(self, grad: np.ndarray) -> None:
        began = time.perf_counter()
        self.t += 1
        lr_t = self.lr * np.sqrt(1 - 0.999 ** self.t) / (1 - 0.9 ** self.t)
        self.m *= 0.9
        self.m += 0.1 * grad
        self.v *= 0.999
        np.multiply(grad, grad, out=self.scratch)
        self.scratch *= 0.001
        self.v += self.scratch
        np.sqrt(self.v, out=self.scratch)
        self.scratch += 1e-8
        np.divide(self.m, self.scratch, out=self.scratch)
        self.scratch *= lr_t
        self.w -= self.scratch
        self.seconds += time.perf_counter() - began


def sgemm_rate(flops_wanted: float = 2e9) -> float:
    """This process's float32 matrix-product rate (FLOP/s) on a compute-bound square product
    of NumPy's BLAS: the best of a few, after a warm-up."""
    n = 512
    a, b = np.random.rand(n, n).astype(np.float32), np.random.rand(n, n).astype(np.float32)
    a @ b
    reps, best = max(1, int(flops_wanted / (2 * n**3) / 3)), float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(reps):
            a @ b
        best = min(best, (time.perf_counter() - start) / reps)
    return 2 * n**3 / best


def cnn_step_flops(b: int, image: tuple[int, int, int]) -> float:
    """FLOPs of one course-CNN step on b images: each convolution forward and its filter
    gradient, the input gradient of every convolution but the first, and the dense layer's
    three products (the pools, ReLUs and the softmax are left out)."""
    (h, w, c), flops = image, 0.0
    for l, (n, f, pool) in enumerate(zip(CNN_FILTERS, CNN_KERNELS, CNN_POOLS, strict=True)):
        conv = 2.0 * b * h * w * n * f * f * c
        flops += conv * (2 if l == 0 else 3)
        h, w, c = -(-h // pool), -(-w // pool), n
    return flops + 3 * 2.0 * b * h * w * c * 6


def time_first_conv(X, Y, epochs, arch):
    """TensorFlow's kernels for the course CNN's first convolution alone, with tfsigns' settings:
    per minibatch of the course's shuffles the image gather, the convolution and its filter
    gradient, in tfsigns' own epoch loop (tfsigns.training.graph.build_epoch_op), one session.run per epoch. A
    training loop on these kernels cannot take less; on 3 input channels and 8 filters they
    run far below the floor's matrix-product rate. Returns (ms/epoch after epoch 0, [])."""
    from tfsigns.backend import tf, v1
    from tfsigns.images.signs import minibatch_permutation
    from tfsigns.networks import IMAGES
    from tfsigns.training.graph import build_epoch_op, build_resident_data
    tf.config.experimental.enable_op_determinism()
    m, size = X.shape[0], CNN_KERNELS[0]
    with tf.Graph().as_default():
        W = v1.Variable(v1.glorot_uniform_initializer(seed=0)((size, size, X.shape[-1], CNN_FILTERS[0])))
        data_X, data_Y, feed_data = build_resident_data(IMAGES, m, X.shape[1:], Y.shape[1])
        permutation = v1.placeholder(tf.int32, [m])

        def first_conv(X_batch, Y_batch):
            filter_sum = tf.reduce_sum(tf.gradients(tf.reduce_sum(tf.nn.conv2d(X_batch, W, 1, "SAME")), W)[0])
            return filter_sum.op, filter_sum

        epoch_op = build_epoch_op(data_X, data_Y, permutation, CNN_MB, first_conv, layout=IMAGES)
        with v1.Session() as sess:
            sess.run([W.initializer, v1.local_variables_initializer()], feed_data(X, Y))
            for epoch in range(epochs):
                if epoch == 1:
                    start = time.perf_counter()
                sess.run(epoch_op, {permutation: minibatch_permutation(m, 3 + epoch + 1)})
    return 1000 * (time.perf_counter() - start) / max(1, epochs - 1), []


def time_floor(X, Y, epochs, arch):
    """The arithmetic floor of an epoch, NumPy with its BLAS, over the course's shuffles.

    MLP: per minibatch only the row gather and the first layer's two products (W1 X_batch and
    dW1 = dZ1 X_batch^T, about 90% of a step's FLOPs), as issue 14 defines it. CNN: per
    minibatch the image gather, timed, plus the step's convolution and matrix-product FLOPs
    (cnn_step_flops) at this process's measured sgemm rate, since an im2col product of the
    convolution's sizes is memory-bound and would overstate it. Adam's update of all
    parameters runs too, timed apart and left out of the floor (FLOOR_PARTS["adam_ms"]: in
    NumPy, a pass over the weights per operation, with a square root and a division, it costs
    the MLP most of the floor again; TensorFlow's fused kernel much less). Returns (ms/epoch
    after epoch 0, []): the floor has no cost."""
    from tfsigns.images.signs import minibatch_permutation
    if arch == "mlp":
        rows, mb, dims = np.ascontiguousarray(X.T), MB, (X.shape[0], *LAYERS, Y.shape[0])
        W1 = np.random.default_rng(1).standard_normal((dims[1], dims[0])).astype(np.float32) * 0.01
        dZ1 = np.zeros((dims[1], mb), np.float32)
        sizes = [dims[l] * dims[l - 1] + dims[l] for l in range(1, len(dims))]
        lr = LR
    else:
        rows, mb, lr = X, CNN_MB, CNN_LR
        c, n = X.shape[-1], 1
        sizes = []
        for n, f in zip(CNN_FILTERS, CNN_KERNELS, strict=True):
            sizes.append(f * f * c * n)
            c = n
        h = X.shape[1]
        for pool in CNN_POOLS:
            h = -(-h // pool)
        sizes.append(h * h * n * Y.shape[1] + Y.shape[1])
        rate = sgemm_rate()
    adam, m, extra = Adam(sum(sizes), lr), rows.shape[0], 0.0
    grad = np.full(adam.w.size, 1e-3, np.float32)
    for epoch in range(epochs):
        if epoch == 1:
            start, extra, adam.seconds = time.perf_counter(), 0.0, 0.0
        perm = minibatch_permutation(m, 3 + epoch + 1)  # TrainConfig's minibatch_seed 3, as train() shuffles
        for k in range(0, m, mb):
            batch = rows[perm[k:k + mb]]
            if arch == "mlp":
                dZ1[:, :batch.shape[0]] = W1 @ batch.T  # forward; the floor's backward reuses it as dZ1
                np.matmul(dZ1[:, :batch.shape[0]], batch, out=grad[:W1.size].reshape(W1.shape))
            else:
                extra += cnn_step_flops(batch.shape[0], batch.shape[1:]) / rate
            adam.step(grad)
    FLOOR_PARTS["adam_ms"] = 1000 * adam.seconds / max(1, epochs - 1)
    return 1000 * (time.perf_counter() - start - adam.seconds + extra) / max(1, epochs - 1), []


def run_one(name: str, epochs: int, data_dir: str | None, arch: str) -> None:
    """Child process: time one contender and print its result as one JSON line.

    The PyTorch contender never loads TensorFlow and the others never load PyTorch:
    the two frameworks' native runtimes in one process can crash it (SIGSEGV).
    """
    if name == TORCH:
        if importlib.util.find_spec("torch") is None:
            print(json.dumps({"ms": None}))
            return
        X, Y = load(data_dir, arch)
        timer, other = time_torch, "tensorflow"
    elif name == FLOOR:  # NumPy alone
        X, Y = load(data_dir, arch)
        timer, other = time_floor, "tensorflow"
        assert "torch" not in sys.modules, f"{name}: loading the data loaded torch"
    else:
        os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")  # tfsigns' choice and TensorFlow's x86 default
        X, Y = load(data_dir, arch)
        timer = {"tfsigns": time_tfsigns, "keras fit": time_keras, CONV1: time_first_conv,
                 "course feed_dict loop": lambda X, Y, epochs, arch: course_loop(X, Y, epochs)}[name]
        other = "torch"
    assert other not in sys.modules, f"{name}: loading the data loaded {other}"
    ms, costs = timer(X, Y, epochs + 1, arch)
    assert other not in sys.modules, f"{name}: timing it loaded {other}"
    print(json.dumps({"ms": ms, "final_cost": costs[-1] if costs else None, **FLOOR_PARTS}))


def run_child(name: str, epochs: int, data_dir: str | None, arch: str) -> float | str:
    """Run one contender in a fresh process: its ms/epoch, or why there is none.

    The floor and PyTorch run twice, their native thread pool (OpenBLAS's, OpenMP's) at one
    thread and at every core, and keep the faster: on cores that other work shares, a pool
    of two spinning threads can stall 10-30x (measured on the 2-core machine), which says
    nothing about either of them. A child that crashes or exits non-zero gives "failed
    (signal N)" or "failed (exit N)", with the end of its stderr passed on to ours, so that
    the other contenders still run.
    """
    command = [sys.executable, __file__, "--only", name, "--epochs", str(epochs), "--arch", arch]
    if data_dir:
        command += ["--data-dir", data_dir]
    tries = [1, os.cpu_count() or 1] if name in THREAD_POOLS else [None]
    best: tuple[float, int | None, dict] | None = None
    for threads in dict.fromkeys(tries):
        env = os.environ if threads is None else {**os.environ, THREAD_POOLS[name]: str(threads)}
        child = subprocess.run(command, capture_output=True, text=True, env=env)
        if child.returncode != 0:
            how = f"signal {-child.returncode}" if child.returncode < 0 else f"exit {child.returncode}"
            print(f"{name}: failed ({how})", *child.stderr.splitlines()[-10:], sep="\n  ", file=sys.stderr)
            return f"failed ({how})"
        result = json.loads(child.stdout.strip().splitlines()[-1])
        if result["ms"] is None:
            return "not installed"
        if best is None or result["ms"] < best[0]:
            best = result["ms"], threads, result
    ms, threads, result = best
    if threads is not None:
        THREADS_USED.setdefault(name, []).append(threads)
    if "adam_ms" in result:
        ADAM_SHARES.append(result["adam_ms"] / ms)
    return ms


def summarize(rounds: list[dict[str, float | str]], reference: str = "tfsigns"
              ) -> dict[str, tuple[float, float, float, float] | str]:
    """Per contender, from rounds of {name: ms/epoch or why none}: (median ms/epoch, and the median,
    lowest and highest of its per-round ratio to `reference`), or the first reason it has no figure.
    A ratio pairs two figures taken minutes apart at most, so drift in the machine's speed
    between rounds cancels out of it."""
    summary = {}
    for name in rounds[0]:
        failed = [r[name] for r in rounds if isinstance(r[name], str) or isinstance(r[reference], str)]
        if failed:
            summary[name] = next((f for f in failed if isinstance(f, str)), f"{reference} failed")
            continue
        ratios = [r[name] / r[reference] for r in rounds]
        summary[name] = (statistics.median(r[name] for r in rounds), statistics.median(ratios),
                         min(ratios), max(ratios))
    return summary


def machine() -> str:
    """The CPU's model name and core count, for the table's heading."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next(line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{model}, {os.cpu_count()} cores"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30, help="timed epochs (after one warm-up epoch)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="times each contender runs, in turn with the others (default: 3)")
    parser.add_argument("--data-dir")
    parser.add_argument("--arch", choices=tuple(CONTENDERS), default="mlp",
                        help="the course network (mlp) or the course CNN (cnn)")
    parser.add_argument("--only", choices=set(CONTENDERS["mlp"] + CONTENDERS["cnn"]), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.only:
        return run_one(args.only, args.epochs, args.data_dir, args.arch)
    if args.rounds < 1 or args.epochs < 1:
        parser.error("--rounds and --epochs must be at least 1")
    rounds = [{name: run_child(name, args.epochs, args.data_dir, args.arch) for name in CONTENDERS[args.arch]}
              for _ in range(args.rounds)]
    print(f"{'':24}{'ms/epoch':>10}{'x tfsigns':>11}{'range':>13}{'x floor':>9}{'range':>13}   "
          f"({args.rounds} rounds of {args.epochs} timed epochs, a fresh process each; medians; "
          f"{machine()})")
    to_floor = summarize(rounds, FLOOR)
    for name, result in summarize(rounds).items():
        if isinstance(result, str):
            shown = f"{'n/a':>10}   {result}"
        else:
            ms, ratio, low, high = result
            shown = f"{ms:10.1f}{ratio:11.2f}{f'{low:.2f}-{high:.2f}':>13}"
            if not isinstance(to_floor[name], str):
                _, ratio, low, high = to_floor[name]
                shown += f"{ratio:9.2f}{f'{low:.2f}-{high:.2f}':>13}"
        print(f"{name:24}{shown}")
    if CONV1 in rounds[0] and not isinstance(keras := summarize(rounds, CONV1)["keras fit"], str):
        _, ratio, low, high = keras
        print(f"keras fit x {CONV1}: {ratio:.2f} ({low:.2f}-{high:.2f}), the most a loop on these "
              f"convolution kernels could be ahead of Keras")
    if ADAM_SHARES:
        print(f"Adam's update of all parameters in NumPy, not in the floor: "
              f"{statistics.median(ADAM_SHARES):.0%} of it again")
    for name, used in THREADS_USED.items():
        print(f"{name}: the faster of 1 and {os.cpu_count()} threads; threads per round: {used}")


if __name__ == "__main__":
    main()
