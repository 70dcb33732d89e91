"""Grading a class: the time for N submissions, and what it makes of 200.

    python bench/class_grading.py [--submissions 20] [--blank-share 0.25] [--workers 2] [--no-sandbox]

Writes N notebooks of the TensorFlow assignment into a temporary folder, a share of them the
blank Exercises notebook and the rest filled with tests/test_grader.py's independent solutions
(each defines every exercise, and trains model()), then grades them as an instructor would,
`python -m tfsigns.grader ... --out DIR`, in one process, and prints the wall time, the time per
submission, and 200 submissions at that rate (the work grows with the number of submissions, a
fixed start-up aside: the grader's own TensorFlow import is counted once, in the N's time).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from tests.test_classroom import IMPORTS, NOTEBOOKS, correct_answers, notebook
from tfsigns.grading.classroom import main as grade_class


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=20)
    parser.add_argument("--blank-share", type=float, default=0.25)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-sandbox", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        work, blanks = Path(folder), round(args.submissions * args.blank_share)
        paths = [shutil.copy(NOTEBOOKS / "Exercises.ipynb", work / f"blank-{k}.ipynb") for k in range(blanks)]
        paths += [notebook(work / f"filled-{k}.ipynb", IMPORTS, correct_answers())
                  for k in range(args.submissions - blanks)]
        start = time.perf_counter()
        grade_class([*map(str, paths), "--out", str(work / "grades"), "--workers", str(args.workers),
                     *(["--no-sandbox"] if args.no_sandbox else [])])
        seconds = time.perf_counter() - start
    per = seconds / args.submissions
    print(f"{args.submissions} submissions ({blanks} blank) in {seconds:.1f} s with {args.workers} workers: "
          f"{per:.2f} s each; 200 at that rate: {200 * per / 60:.1f} min")


if __name__ == "__main__":
    main()
