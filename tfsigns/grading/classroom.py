"""Grading a class: `python -m tfsigns.grader SUBMISSION.ipynb... --out DIR` (and `--rubric`).

Each submitted notebook is graded by tfsigns.grading.submission, its cells run in a sandboxed process
of its own (tfsigns.grading.sandbox, tfsigns.grading.child) and its exercises checked here, on cases
drawn from --seed (by default one drawn for the class), several submissions at once (--workers). As
each finishes, its reports are written (tfsigns.grading.reports) and a line of progress printed:

  DIR/submissions/<path>/results.json   what its student sees, in Gradescope's format
  DIR/submissions/<path>/grading.json   the instructor's record of it, which --resume reads
  DIR/grades.csv, DIR/problems.txt      the class's scores and the instructor's notes, one row a
  DIR/class.png, DIR/class.json         submission; the share passing each exercise; the seed

Ctrl-C keeps every finished submission and rebuilds the summary from them; --resume goes on. A
submission that cannot be graded (missing, not a notebook, another assignment than the class's) is one
line on stderr and a row with its reason; the others are graded.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import secrets
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tfsigns.grading.reports import (
    Graded,
    common_folder,
    count,
    file_sha256,
    finished,
    printable,
    read_points,
    shared_folder,
    submission_names,
    write_submission,
)
from tfsigns.grading.sandbox import (
    STOPPING,
    child_problem,
    close_zygotes,
    sandbox_works,
    stop_all,
)
from tfsigns.grading.submission import class_assignments, grade_submission
from tfsigns.grading.summary import write_summary
from tfsigns.utils.cli import HelpFormatter, Parser, line_buffered_output
from tfsigns.utils.files import OutputError, check_writable, prepare_out_dir, write_json

PROG = "tfsigns.grader"


def build_parser() -> Parser:
    parser = Parser(prog=PROG, formatter_class=HelpFormatter,
                    description="Grade a class's exercise notebooks, each in a sandboxed process of its own.")
    parser.add_argument("submissions", nargs="*", help="the submitted notebooks (.ipynb)")
    parser.add_argument("--out", help="folder for grades.csv, problems.txt, class.png, and a results.json "
                                      "per submission (what its student sees), each written as it is graded")
    parser.add_argument("--resume", action="store_true",
                        help="go on with a class graded in --out before: grade only the submissions not "
                             "there")
    parser.add_argument("--rubric", action="store_true",
                        help="print the assignments, their exercises and points (with --points), and stop")
    parser.add_argument("--assignment", help="grade as this assignment (default: what each notebook says)")
    parser.add_argument("--points", help="JSON object {exercise: points} over the assignment's rubric")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds for each cell and exercise")
    parser.add_argument("--memory", type=int, default=4096, help="memory limit of a submission, in MB")
    parser.add_argument("--disk", type=int, default=256,
                        help="MB a submission may write: the size of its sandbox's /tmp, held in memory")
    parser.add_argument("--total", type=float, default=900.0,
                        help="seconds for a whole submission, its cells and exercises together, however its "
                             "code handles the per-cell limit")
    parser.add_argument("--seed", type=int,
                        help="draws the grading's cases (default: drawn at random for the class, kept in "
                             "--out's class.json for --resume): never the notebooks' own cases")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="submissions at once")
    parser.add_argument("--no-sandbox", action="store_true",
                        help="grade without bubblewrap (a process and its limits only): trusted submissions")
    return parser


def rubric_lines(points: dict[str, float]) -> list[str]:
    """--rubric: each assignment's exercises and their points in this class, the optional ones marked."""
    from tfsigns.grading.grader import ASSIGNMENTS
    lines = []
    for name, assignment in ASSIGNMENTS.items():
        total = sum(points[exercise] for exercise in assignment.exercises)
        lines.append(f"{name} ({total:g} points)")
        lines += [f"  {exercise:<26}{points[exercise]:>4g}" + (
            f"   optional: {'worth' if points[exercise] else 'no points unless --points gives them; worth'} "
            f"{details.points:g} in the course" if details.optional else "")
            for exercise, details in assignment.exercises.items()]
    return lines


def kept_class(args: argparse.Namespace) -> dict:
    """What --out's class.json keeps of a class graded there before (its seed, assignments and the folder its
    submissions' names start from), where --resume goes on with it; else {}."""
    saved = Path(args.out) / "class.json"
    try:
        kept = json.loads(saved.read_text()) if args.resume and saved.is_file() else {}
    except (OSError, ValueError):
        kept = {}
    return kept if isinstance(kept, dict) else {}


def class_seed(args: argparse.Namespace) -> str | None:
    """Set args.seed: --seed, else the one --out's class.json keeps (--resume), else one drawn at random;
    or say why --seed does not go with the class in --out."""
    kept = kept_class(args).get("seed")
    kept = kept if type(kept) is int and kept > 0 else None
    if kept is not None and args.seed not in (None, kept):
        return (f"--seed {args.seed}: the class in --out {args.out} was graded with --seed {kept}: "
                "resume with that")
    args.seed = args.seed or kept or secrets.randbelow((1 << 31) - 1) + 1
    return None


def check_args(args: argparse.Namespace, assignments: Sequence[str]) -> str | None:
    """What is wrong with the command's values, in one line, or None."""
    folders = [path for path in args.submissions if Path(path).is_dir()]
    if args.assignment is not None and args.assignment not in assignments:
        return f"--assignment {args.assignment!r}: the assignments are {', '.join(assignments)}"
    if not args.rubric and (not args.submissions or args.out is None):
        return "give the submissions and --out (or --rubric to see the points)"
    if folders:
        return f"{folders[0]} is a folder: give the notebooks in it ({folders[0]}/*.ipynb)"
    if not (args.timeout > 0 and args.timeout < 1e6):
        return f"--timeout must be a positive number of seconds, got {args.timeout:g}"
    if not 256 <= args.memory <= 1 << 22:
        return f"--memory must be at least 256 MB, got {args.memory}"
    if not 16 <= args.disk <= 1 << 20:
        return f"--disk must be at least 16 MB, got {args.disk}"
    if args.seed is not None and args.seed < 1:
        return f"--seed must be a whole number from 1 (0 draws the notebooks' own cases), got {args.seed}"
    if args.workers < 1:
        return f"--workers must be at least 1, got {args.workers}"
    if not (args.total > 0 and args.total < 1e6):
        return f"--total must be a positive number of seconds, got {args.total:g}"
    if not args.rubric and not args.no_sandbox and not sandbox_works():
        return ("no sandbox: bubblewrap (bwrap) is not installed or cannot start here, or the sandbox's "
                "seccomp filter has no numbers for this machine's architecture (it has x86_64's, aarch64's "
                "and riscv64's); install bubblewrap (apt-get install bubblewrap) or pass --no-sandbox for "
                "trusted submissions")
    return None


def main(argv: list[str] | None = None) -> int:
    """Entry point: exit 0 when the class was graded (a submission that could not be is in the report),
    2 on bad input, 130 when interrupted (what was graded is kept: --resume goes on)."""
    line_buffered_output()
    args = build_parser().parse_args(argv)
    from tfsigns.grading.grader import ASSIGNMENTS
    problem = check_args(args, list(ASSIGNMENTS))
    rubric = {name: 0.0 if exercise.optional else exercise.points
              for a in ASSIGNMENTS.values() for name, exercise in a.exercises.items()}
    try:
        points = read_points(args.points, rubric) if problem is None else rubric
    except ValueError as err:
        problem = str(err)
    if problem is None and args.rubric:
        print("\n".join(rubric_lines(points)))
        return 0
    paths = [Path(p) for p in args.submissions]
    root = kept_class(args).get("root") if problem is None else None
    names = submission_names(paths, Path(root) if isinstance(root, str) else None) if problem is None else []
    done = {}
    if problem is None:
        try:
            check_writable(args.out)
            done = finished(Path(args.out)) if Path(args.out).is_dir() else {}
        except OutputError as err:
            problem = str(err)
    if problem is None:
        problem = shared_folder(Path(args.out), list(dict.fromkeys([*names, *done])))
        problem = problem and f"{problem}: rename one of them"
    if problem is None and done and not args.resume:
        problem = (f"--out {args.out} holds a class graded before ({count(len(done), 'submission')}): "
                   "--resume goes on with it, or choose another folder")
    if problem is None:
        problem = class_seed(args)
    try:
        if problem is None:  # the class's children must be able to start before any is graded
            problem = child_problem(args)
    except KeyboardInterrupt:
        stop_all()
        print(f"{PROG}: interrupted before any submission was graded", file=sys.stderr)
        return 130
    if problem is None:
        try:
            out = prepare_out_dir(args.out)
        except OutputError as err:
            problem = str(err)
    if problem is not None:
        print(f"{PROG}: error: {printable(problem)}", file=sys.stderr)
        return 2
    try:
        root = Path(root) if isinstance(root, str) and not done.keys() - set(names) else common_folder(paths)
        return grade_class(args, out, list(zip(paths, names, strict=True)), done, points, root)
    finally:
        close_zygotes()


def grade_class(args: argparse.Namespace, out: Path, submissions: list[tuple[Path, str]],
                done: dict[str, Graded], points: dict[str, float], root: Path) -> int:
    """Grade the submissions not `done`, or changed since, each one's reports written as it finishes, a line
    of progress each; then the class's summary from every record in `out` (those not given here too: regrading
    a few keeps the others' rows). Ctrl-C keeps what is finished."""
    from tfsigns.grading.grader import ASSIGNMENTS
    isolation = "process limits only (--no-sandbox)" if args.no_sandbox else "a bubblewrap sandbox"
    exercises_of = {name: list(a.exercises) for name, a in ASSIGNMENTS.items()}
    assignments = class_assignments([path for path, _ in submissions], args.assignment, list(ASSIGNMENTS))
    changed = [name for path, name in submissions if name in done and done[name].sha256 != file_sha256(path)]
    todo = [(path, name) for path, name in submissions if name not in done or name in changed]
    write_json(out / "class.json", {"seed": args.seed, "assignments": assignments, "root": str(root)})
    kept = len(set(done) - {name for _, name in todo})
    print(f"grading {count(len(todo), 'submission')} of {', '.join(assignments)} with {isolation}, cases "
          f"drawn from --seed {args.seed}"
          + (f" ({kept} graded before kept, in {out})" if kept else "")
          + (f"; {count(len(changed), 'submission')} changed since graded again" if changed else ""))

    def graded(path: Path, name: str) -> Graded:
        try:
            result = grade_submission(path, args, list(ASSIGNMENTS), exercises_of, assignments)
        except Exception as err:  # noqa: BLE001  (a grader's failure on one submission is that row's problem)
            result = Graded(path.name, problem=f"the grader failed on it ({type(err).__name__}: {err})"[:300],
                            possible=[n for a in assignments for n in exercises_of[a]])
        result.submission = name
        return result
    pool = ThreadPoolExecutor(args.workers)
    futures = [pool.submit(graded, path, name) for path, name in todo]
    interrupted = False
    try:
        for finished_now, future in enumerate(concurrent.futures.as_completed(futures), 1):
            result = future.result()
            if STOPPING.is_set():
                break
            write_submission(out, result, points, isolation)
            print(progress(result, points, finished_now, len(todo)),
                  file=sys.stderr if result.problem else sys.stdout)
    except KeyboardInterrupt:
        interrupted = True
        stop_all()
    pool.shutdown(wait=True, cancel_futures=True)
    records = finished(out)  # the summary, from what is on disk: this run's and any run's before
    given = [name for _, name in submissions]
    write_summary(out, [records[name] for name in [*given, *sorted(set(records) - set(given))]
                        if name in records], points)
    if interrupted:
        print(f"{PROG}: interrupted: {sum(name in records for name in given)} of "
              f"{count(len(given), 'submission')} graded and kept in {out}/; the same command with --resume "
              "grades the rest", file=sys.stderr)
        return 130
    print(f"{count(len(todo), 'submission')} graded, {count(len(records), 'submission')} in the class; "
          f"results in {out}/ (grades.csv, problems.txt, summary.txt, class.png, mistakes.png, a "
          "results.json per submission under submissions/)")
    return 0


def progress(graded: Graded, points: dict[str, float], done: int, total: int) -> str:
    """One submission's line as it finishes: its score, or why it was not graded."""
    if graded.problem:
        return printable(f"{PROG}: [{done}/{total}] {graded.submission}: not graded: {graded.problem}")
    score = sum(points[name] * passed for (_, name), (passed, _) in graded.exercises.items())
    passed = sum(ok for ok, _ in graded.exercises.values())
    notes = f"; {count(len(graded.notes), 'note')}" if graded.notes else ""
    possible = sum(points[name] for name in graded.possible)
    return printable(f"[{done}/{total}] {graded.submission}: {score:g} of {possible:g} points, {passed} of "
                     f"{count(len(graded.exercises), 'exercise')} pass ({graded.seconds:.1f} s{notes})")
