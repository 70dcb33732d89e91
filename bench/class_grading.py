"""Grading a class: the wall time and peak memory of N submissions of a realistic mix.

    python -m bench.class_grading [--submissions 200] [--blank-share 0.1] [--slip-share 0.25]
                                  [--looping-share 0.05] [--workers 2] [--timeout 30] [--no-sandbox]

Writes N notebooks of the TensorFlow assignment into a temporary folder: a share blank (the Exercises
notebook as handed out), a share with one of four learner slips (weights initialised to zeros, the cost
summed, a softmax at the end of the forward pass, the last minibatch dropped), a share whose
random_mini_batches never returns (a helper of model(), which must not cost its limit twice), and the
rest filled with tests/test_grader.py's independent solutions (a model() that calls the helpers by the
exercises' names, as a learner's does). It grades them as an instructor would, `python -m
tfsigns.grader ... --out DIR`, in this process, and prints the wall time, the time per submission, the
grader's peak memory and the largest submission process's.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path

from tests.test_classroom import IMPORTS, NOTEBOOKS, learner_answers, notebook
from tfsigns.grading.classroom import main as grade_class

SLIPS = (
    "def initialize_parameters(layer_dims):\n    parameters = {}\n    for l in range(1, len(layer_dims)):\n"
    "        parameters[f'W{l}'] = v1.get_variable(f'W{l}', [layer_dims[l], layer_dims[l - 1]], "
    "initializer=v1.zeros_initializer())\n        parameters[f'b{l}'] = v1.get_variable(f'b{l}', "
    "[layer_dims[l], 1], initializer=v1.zeros_initializer())\n    return parameters\n",
    "def compute_cost(ZL, Y):\n    return tf.reduce_sum(tf.nn.softmax_cross_entropy_with_logits("
    "logits=tf.transpose(ZL), labels=tf.transpose(Y)))\n",
    "_forward = forward_propagation\ndef forward_propagation(X, parameters):\n"
    "    return tf.nn.softmax(_forward(X, parameters), axis=0)\n",
    "_batches = random_mini_batches\ndef random_mini_batches(X, Y, mini_batch_size=64, seed=0):\n"
    "    return [batch for batch in _batches(X, Y, mini_batch_size, seed)\n"
    "            if batch[0].shape[1] == mini_batch_size]\n",
)
LOOPING = "def random_mini_batches(X, Y, mini_batch_size=64, seed=0):\n    while True:\n        pass\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=200)
    parser.add_argument("--blank-share", type=float, default=0.1)
    parser.add_argument("--slip-share", type=float, default=0.25)
    parser.add_argument("--looping-share", type=float, default=0.05)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--no-sandbox", action="store_true")
    args = parser.parse_args()
    n = args.submissions
    shares = (args.blank_share, args.slip_share, args.looping_share)
    blanks, slips, loops = (round(n * share) for share in shares)
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        paths = [shutil.copy(NOTEBOOKS / "Exercises.ipynb", work / f"blank-{k}.ipynb") for k in range(blanks)]
        paths += [notebook(work / f"slip-{k}.ipynb", IMPORTS, learner_answers(), SLIPS[k % len(SLIPS)])
                  for k in range(slips)]
        paths += [notebook(work / f"looping-{k}.ipynb", IMPORTS, learner_answers(), LOOPING)
                  for k in range(loops)]
        paths += [notebook(work / f"filled-{k}.ipynb", IMPORTS, learner_answers())
                  for k in range(n - len(paths))]
        start = time.perf_counter()
        code = grade_class([*map(str, paths), "--out", str(work / "grades"), "--workers", str(args.workers),
                            "--timeout", f"{args.timeout:g}", *(["--no-sandbox"] if args.no_sandbox else [])])
        seconds = time.perf_counter() - start
    grader, child = (resource.getrusage(who).ru_maxrss >> 10
                     for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    print(f"{n} submissions ({blanks} blank, {slips} with a slip, {loops} looping in a helper of model) "
          f"graded (exit {code}) in {seconds:.0f} s = {seconds / 60:.1f} min with {args.workers} workers and "
          f"--timeout {args.timeout:g}: {seconds / n:.2f} s each; peak memory {grader} MB in the grader, "
          f"{child} MB in the largest submission's process")


if __name__ == "__main__":
    main()
